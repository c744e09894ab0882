/* options.c — see options.h. The table below is the one list of eligd's
 * options: add a row, and the command line, the config file and --help
 * all know it. */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elig_wire.h"
#include "log.h"
#include "version.h"

typedef enum {
    K_STR,     /* const char * */
    K_U32,     /* uint32_t in [min, max] */
    K_INT,     /* int in [min, max] */
    K_SIZE,    /* size_t in [min, max] */
    K_SECONDS, /* uint64_t milliseconds, from seconds (fractions allowed) */
    K_FLAG,    /* bool; no argument on the command line */
    K_MODE,    /* unsigned, octal permission bits */
    K_LISTEN,  /* HOST:PORT into listen_host and listen_port */
    K_ADDR,    /* HOST:PORT into a server_addr */
    K_METRICS, /* HOST:PORT or PORT into metrics_host and metrics_port */
    K_LOGLEVEL,
    K_CHOICE,  /* int: the index of the value among arg's `a|b|...` words */
    K_LOGFORMAT,
    K_LOAD,    /* bool: "copy" true, "map" false */
    K_CLI,     /* command line only: handled in options_parse */
} kind;

typedef struct {
    const char *name;
    kind k;
    size_t off; /* into server_config */
    unsigned long long min, max;
    const char *arg; /* metavar for --help */
    const char *help;
} option;

#define OFF(f) offsetof(server_config, f)

/* In --help order. */
static const option table[] = {
    {"snapshot", K_STR, OFF(snapshot_path), 0, 0, "PATH", "snapshot file to serve (required; may be a symlink)"},
    {"listen", K_LISTEN, 0, 0, 0, "HOST:PORT", "TCP address (default 127.0.0.1:7420; port 0 = any free port)"},
    {"unix", K_STR, OFF(unix_path), 0, 0, "PATH", "also listen on a Unix stream socket at PATH"},
    {"unix-mode", K_MODE, OFF(unix_mode), 0, 0777, "MODE", "permissions of the Unix socket, octal (default 0660)"},
    {"threads", K_INT, OFF(threads), 1, 256, "N", "worker threads, one event loop each (default: number of cores)"},
    {"max-connections", K_U32, OFF(max_connections), 1, 1000000, "N",
     "open connections at most; more are refused (default 10000)"},
    {"max-message", K_U32, OFF(max_message), 64, 1u << 30, "BYTES",
     "largest request accepted; larger closes the connection (default 1048576)"},
    {"max-batch", K_U32, OFF(max_batch), 1, 1000000, "N", "check_batch items at most; more is too_large (default 10000)"},
    /* At most 1 GiB: a queue (this plus one response) must stay far inside
     * what a uv_buf_t length holds (unsigned int). */
    {"max-output", K_SIZE, OFF(max_output), 1024, 1ull << 30, "BYTES",
     "unsent answers per connection before its reading is paused (default 4194304, at most 1073741824)"},
    {"max-buffer-memory", K_SIZE, OFF(max_buffer_memory), 1u << 20, 1ull << 40, "BYTES",
     "all connections' input and output buffers together; past it the connections holding the most are "
     "closed (default 1073741824)"},
    {"request-timeout", K_SECONDS, OFF(request_timeout_ms), 0, 0, "SECS",
     "close a connection whose request has not arrived in full this long after its first byte (default 5)"},
    {"output-timeout", K_SECONDS, OFF(output_timeout_ms), 0, 0, "SECS",
     "close a connection whose answers have not moved for this long (default 30)"},
    {"idle-timeout", K_SECONDS, OFF(idle_timeout_ms), 0, 0, "SECS", "close a connection idle this long (default 300)"},
    {"drain-timeout", K_SECONDS, OFF(drain_timeout_ms), 0, 0, "SECS",
     "on SIGTERM, close what is still open after this (default 10)"},
    {"warm", K_FLAG, OFF(warm), 0, 0, NULL, "read the whole snapshot into memory before serving"},
    {"snapshot-load", K_LOAD, OFF(snapshot_copy), 0, 0, "copy|map",
     "copy: serve a sealed private copy of the file (memory as large as the snapshot; the file can be "
     "overwritten or truncated in place without harm); map: map the file itself (no copy; never overwrite "
     "it in place) (default copy)"},
    {"verify", K_FLAG, OFF(verify), 0, 0, NULL,
     "before serving a snapshot, at start-up and on each reload, check the file's checksum and recompute "
     "its content hash; a damaged file is refused (the previous one keeps serving)"},
    {"ready-file", K_STR, OFF(ready_file), 0, 0, "PATH", "once serving, write the TCP port to PATH"},
    {"auth-file", K_STR, OFF(auth_file), 0, 0, "PATH",
     "channels file (SPEC 6): who may call what; TCP and TLS connections must `auth` (or show a client "
     "certificate a channel names); reloaded on SIGHUP"},
    {"unix-auth", K_FLAG, OFF(unix_auth), 0, 0, NULL,
     "connections on the Unix socket must authenticate too (default: its file mode guards it)"},
    {"insecure-open", K_FLAG, OFF(insecure_open), 0, 0, NULL,
     "without --auth-file, listen beyond loopback anyway (refused otherwise: protected mode)"},
    {"tls-listen", K_ADDR, OFF(tls_listen), 0, 0, "HOST:PORT",
     "also serve the protocol inside TLS 1.2/1.3 here (needs --tls-cert and --tls-key)"},
    {"tls-cert", K_STR, OFF(tls_cert), 0, 0, "PEM", "server certificate chain for --tls-listen; reloaded on SIGHUP"},
    {"tls-key", K_STR, OFF(tls_key), 0, 0, "PEM", "its private key; reloaded on SIGHUP"},
    {"tls-ca", K_STR, OFF(tls_ca), 0, 0, "PEM",
     "require a client certificate signed by this CA on --tls-listen (a channel's cert_sha256 names one)"},
    {"metrics-listen", K_METRICS, 0, 0, 0, "HOST:PORT",
     "serve GET /metrics (Prometheus) and GET /health over HTTP here; a port alone means 127.0.0.1:PORT "
     "(default: off)"},
    {"log-level", K_LOGLEVEL, 0, 0, 0, "LEVEL", "debug, info, warn or error (default info)"},
    {"audit-dir", K_STR, OFF(audit_dir), 0, 0, "DIR",
     "keep the audit trail (a record of every answered check item, household, auth and reload) in "
     "segment files under DIR, created 0700 if missing; SIGUSR1 starts a new segment (docs/AUDIT.md)"},
    {"audit-full", K_CHOICE, OFF(audit_full), 0, 0, "closed|drop",
     "when records cannot be queued (the disk is full or too slow): closed answers unavailable, drop "
     "answers and counts the records lost (default closed)"},
    {"audit-sync-ms", K_U32, OFF(audit_sync_ms), 1, 3600000, "MS",
     "fdatasync the audit segment at most this many milliseconds apart (default 1000)"},
    {"audit-segment-mb", K_U32, OFF(audit_segment_mb), 1, 1048576, "MB",
     "start a new audit segment once the current one reaches this size (default 64)"},
    {"audit-compress", K_CHOICE, OFF(audit_compress), 0, 0, "zstd|none",
     "compress the audit blocks with zstd (about 3x smaller, more writer CPU) or not (default zstd; "
     "docs/BENCHMARKS.md has both)"},
    {"audit-buffer", K_SIZE, OFF(audit_buffer), 65536, 1ull << 36, "BYTES",
     "audit records each worker may queue ahead of the writer, in bytes; must hold one whole batch "
     "(default 16777216)"},
    {"log-format", K_LOGFORMAT, 0, 0, 0, "FORMAT",
     "text (one `TIME LEVEL message` line per event) or json (one object per line) (default text)"},
    {"config", K_CLI, 0, 0, 0, "PATH",
     "read options from PATH first, one `name = value` per line (flags: `name = true`); the command line "
     "overrides it"},
    {"check-config", K_CLI, 0, 0, 0, NULL, "check the options, the config file and the snapshot, then exit"},
    {"help", K_CLI, 0, 0, 0, NULL, "show this help and exit"},
    {"version", K_CLI, 0, 0, 0, NULL, "show the version and exit"},
};
#define N_OPTIONS (sizeof table / sizeof table[0])

static void *field(server_config *cfg, const option *o) { return (char *)cfg + o->off; }

/* Strings the options hold (paths, hosts) are allocated by set(), except
 * the default host, which is this array: a value replaced (the file's
 * --snapshot by the command line's, a key given twice) is freed then, and
 * the rest by options_free_strings. */
static const char default_host[] = ELIG_WIRE_DEFAULT_HOST;

static void drop_string(const char *s) {
    if (s != default_host)
        free((void *)s);
}

/* Each parser writes why a value is refused into err[ERR_MAX] and returns
 * false; the caller says where (the flag, or the file and line). */
#define ERR_MAX 160

static bool parse_number(const option *o, const char *s, unsigned long long *v, char *err) {
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || *v < o->min || *v > o->max) {
        snprintf(err, ERR_MAX, "'%s' is not a number from %llu to %llu", s, o->min, o->max);
        return false;
    }
    return true;
}

/* HOST:PORT, or [IPV6]:PORT, into *host and *port; with `port_alone`, a
 * bare PORT means 127.0.0.1:PORT. */
static bool parse_hostport(const option *o, const char *s, bool port_alone, const char **host_out, int *port_out,
                           char *err) {
    const char *colon = strrchr(s, ':');
    if (!colon && port_alone && s[0]) {
        option port = {o->name, K_INT, 0, 0, 65535, NULL, NULL};
        unsigned long long p;
        if (!parse_number(&port, s, &p, err))
            return false;
        drop_string(*host_out);
        *host_out = default_host;
        *port_out = (int)p;
        return true;
    }
    size_t n = colon ? (size_t)(colon - s) : 0;
    const char *start = s;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        start = s + 1, n -= 2;
    if (!colon || n == 0 || n >= 256) {
        snprintf(err, ERR_MAX, "'%s' is not HOST:PORT", s);
        return false;
    }
    option port = {o->name, K_INT, 0, 0, 65535, NULL, NULL};
    unsigned long long p;
    if (!parse_number(&port, colon + 1, &p, err))
        return false;
    char *host = strndup(start, n);
    if (!host) {
        snprintf(err, ERR_MAX, "out of memory");
        return false;
    }
    drop_string(*host_out);
    *host_out = host;
    *port_out = (int)p;
    return true;
}

static bool parse_bool(const char *s, bool *v) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *v = true, true;
        if (strcmp(s, no[i]) == 0)
            return *v = false, true;
    }
    return false;
}

/* Sets one option from its text (copied where it is kept). */
static bool set(const option *o, const char *value, server_config *cfg, char *err) {
    char *end;
    unsigned long long n;
    switch (o->k) {
    case K_STR:
    {
        char *v = strdup(value);
        if (!v)
            return snprintf(err, ERR_MAX, "out of memory"), false;
        drop_string(*(const char **)field(cfg, o));
        *(const char **)field(cfg, o) = v;
        return true;
    }
    case K_U32:
        if (!parse_number(o, value, &n, err))
            return false;
        *(uint32_t *)field(cfg, o) = (uint32_t)n;
        return true;
    case K_INT:
        if (!parse_number(o, value, &n, err))
            return false;
        *(int *)field(cfg, o) = (int)n;
        return true;
    case K_SIZE:
        if (!parse_number(o, value, &n, err))
            return false;
        *(size_t *)field(cfg, o) = (size_t)n;
        return true;
    case K_SECONDS: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v) || v <= 0 || v > 1e9)
            return snprintf(err, ERR_MAX, "'%s' is not a positive number of seconds", value), false;
        uint64_t ms = (uint64_t)(v * 1000.0 + 0.5);
        *(uint64_t *)field(cfg, o) = ms ? ms : 1;
        return true;
    }
    case K_FLAG:
        if (!parse_bool(value, (bool *)field(cfg, o)))
            return snprintf(err, ERR_MAX, "'%s' is not true or false", value), false;
        return true;
    case K_MODE: {
        errno = 0;
        unsigned long v = strtoul(value, &end, 8);
        if (errno || end == value || *end || value[0] == '-' || v > 0777)
            return snprintf(err, ERR_MAX, "'%s' is not an octal mode from 0 to 0777", value), false;
        *(unsigned *)field(cfg, o) = (unsigned)v;
        return true;
    }
    case K_LISTEN:
        return parse_hostport(o, value, false, &cfg->listen_host, &cfg->listen_port, err);
    case K_METRICS:
        return parse_hostport(o, value, true, &cfg->metrics_host, &cfg->metrics_port, err);
    case K_ADDR: {
        server_addr *a = (server_addr *)field(cfg, o);
        return parse_hostport(o, value, false, &a->host, &a->port, err);
    }
    case K_LOGLEVEL: {
        int level = log_level_parse(value);
        if (level < 0)
            return snprintf(err, ERR_MAX, "'%s' is not debug, info, warn or error", value), false;
        log_set_level((log_level)level);
        return true;
    }
    case K_CHOICE: {
        /* o->arg is `a|b|...`: the value must be one of the words. */
        int i = 0;
        for (const char *w = o->arg; *w; i++) {
            size_t wl = strcspn(w, "|");
            if (strlen(value) == wl && strncmp(value, w, wl) == 0) {
                *(int *)field(cfg, o) = i;
                return true;
            }
            w += wl + (w[wl] == '|');
        }
        char words[64];
        snprintf(words, sizeof words, "%s", o->arg);
        for (char *c = words; *c; c++)
            if (*c == '|')
                *c = ',';
        return snprintf(err, ERR_MAX, "'%s' is not one of %s", value, words), false;
    }
    case K_LOGFORMAT: {
        int f = log_format_parse(value);
        if (f < 0)
            return snprintf(err, ERR_MAX, "'%s' is not text or json", value), false;
        log_set_format((log_format)f);
        return true;
    }
    case K_LOAD:
        if (strcmp(value, "copy") != 0 && strcmp(value, "map") != 0)
            return snprintf(err, ERR_MAX, "'%s' is not copy or map", value), false;
        *(bool *)field(cfg, o) = strcmp(value, "copy") == 0;
        return true;
    case K_CLI:
        break;
    }
    return snprintf(err, ERR_MAX, "only allowed on the command line"), false;
}

static _Noreturn void usage_error(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "eligd: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry 'eligd --help'.\n");
    exit(2);
}

static const option *find(const char *name) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

typedef struct {
    server_config *cfg;
    char name[64];
    char err[ERR_MAX];
} file_ctx;

/* The string an option holds in cfg (K_STR, the hosts), else NULL. */
static const void *string_of(const server_config *cfg, const option *o) {
    if (o->k == K_STR)
        return *(const char *const *)((const char *)cfg + o->off);
    if (o->k == K_ADDR)
        return ((const server_addr *)((const char *)cfg + o->off))->host;
    return o->k == K_LISTEN ? cfg->listen_host : o->k == K_METRICS ? cfg->metrics_host : NULL;
}

/* inih calls this per `name = value`; on 0 it stops and returns the line. */
static int on_ini(void *user, const char *section, const char *name, const char *value) {
    file_ctx *f = user;
    snprintf(f->name, sizeof f->name, "%s", name);
    const option *o = find(name);
    if (section[0])
        snprintf(f->err, sizeof f->err, "sections are not used; write `name = value` lines");
    else if (!o)
        snprintf(f->err, sizeof f->err, "unknown option");
    else
        return set(o, value, f->cfg, f->err) ? 1 : 0; /* a value replaced is freed by set() */
    return 0;
}

void options_free_strings(server_config *cfg) {
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const void *s = string_of(cfg, &table[i]);
        drop_string(s);
        if (table[i].k == K_STR)
            *(const char **)field(cfg, &table[i]) = NULL;
        else if (table[i].k == K_LISTEN)
            cfg->listen_host = NULL;
        else if (table[i].k == K_ADDR)
            ((server_addr *)field(cfg, &table[i]))->host = NULL;
        else if (table[i].k == K_METRICS)
            cfg->metrics_host = NULL;
    }
}

int options_read_config(const char *path, server_config *cfg, char *msg, size_t msglen) {
    file_ctx f = {.cfg = cfg};
    int line = ini_parse(path, on_ini, &f);
    if (line == 0)
        return 0;
    if (line == -1)
        snprintf(msg, msglen, "--config %s: %s", path, strerror(errno));
    else if (line == -2)
        snprintf(msg, msglen, "--config %s: out of memory", path);
    else if (f.err[0])
        snprintf(msg, msglen, "%s:%d: %s: %s", path, line, f.name, f.err);
    else
        snprintf(msg, msglen, "%s:%d: not a `name = value` line", path, line);
    return -1;
}

static void read_config(const char *path, server_config *cfg) {
    char msg[ERR_MAX + 4200];
    if (options_read_config(path, cfg, msg, sizeof msg) != 0) {
        if (strncmp(msg, "--config ", 9) == 0)
            usage_error("%s%s", msg, "");
        fprintf(stderr, "eligd: %s\n", msg);
        exit(2);
    }
}

void options_usage(FILE *out) {
    fputs("usage: eligd --snapshot PATH [options]\n"
          "\n"
          "Answers eligibility queries (msgpack-RPC) from an LMDB snapshot built by\n"
          "elig-snapshot. SIGHUP reloads the snapshot at PATH (and the auth file and TLS\n"
          "certificate, when given); SIGTERM or SIGINT drain (answer what was received,\n"
          "then exit 0); SIGUSR1 starts a new audit segment. Without --auth-file only\n"
          "loopback addresses are listened on (protected mode; see docs/SECURITY.md).\n"
          "\n",
          out);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &table[i];
        char head[64];
        snprintf(head, sizeof head, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        /* The help wrapped at 78 columns, indented under a 27-column head. */
        const char *h = o->help;
        int col = fprintf(out, "%s", head);
        if (col > 26) {
            fputc('\n', out);
            col = 0;
        }
        fprintf(out, "%*s", 27 - col, "");
        col = 27;
        while (*h) {
            size_t w = strcspn(h, " ");
            if (col > 27 && col + 1 + (int)w > 78) {
                fprintf(out, "\n%27s", "");
                col = 27;
            } else if (col > 27) {
                fputc(' ', out);
                col++;
            }
            fwrite(h, 1, w, out);
            col += (int)w;
            h += w;
            while (*h == ' ')
                h++;
        }
        fputc('\n', out);
    }
    fputs("\nExit status: 0 after a drain, 1 if it cannot start, 2 on bad usage.\n", out);
}

/* True when every address host resolves to is loopback (127.0.0.0/8,
 * ::1). An address that does not resolve is left to the listener to
 * report. */
static bool loopback_only(const char *host) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return true;
    bool all = true;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            uint32_t ip = ntohl(((struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr);
            all = all && (ip >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            all = all && IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr);
        } else {
            all = false;
        }
    }
    freeaddrinfo(res);
    return all;
}

/* The TLS options go together, and protected mode (SPEC 6): without an
 * auth file, no listener (plain, TLS or metrics) beyond loopback unless
 * --insecure-open. */
static void check_access(const server_config *cfg) {
    if (cfg->tls_listen.host && (!cfg->tls_cert || !cfg->tls_key))
        usage_error("%s%s", "--tls-listen needs --tls-cert and --tls-key", "");
    if (!cfg->tls_listen.host && (cfg->tls_cert || cfg->tls_key || cfg->tls_ca))
        usage_error("%s%s", "--tls-cert, --tls-key and --tls-ca go with --tls-listen", "");
    if (cfg->auth_file || cfg->insecure_open)
        return;
    if (cfg->listen_host && !loopback_only(cfg->listen_host))
        usage_error("refusing --listen %s without --auth-file: anyone on the network could ask about "
                    "anyone (protected mode; give --auth-file, or --insecure-open%s)",
                    cfg->listen_host, " if you really mean it");
    if (cfg->tls_listen.host && !loopback_only(cfg->tls_listen.host))
        usage_error("refusing --tls-listen %s without --auth-file: anyone on the network could ask about "
                    "anyone (protected mode; give --auth-file, or --insecure-open%s)",
                    cfg->tls_listen.host, " if you really mean it");
    /* The metrics listener serves counters with no authentication. */
    if (cfg->metrics_host && !loopback_only(cfg->metrics_host))
        usage_error("--metrics-listen %s: not a loopback address; protected mode serves metrics on loopback "
                    "only (e.g. 127.0.0.1:%s; or give --auth-file, or --insecure-open)",
                    cfg->metrics_host, "9420");
}

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

options_action options_parse(int argc, char **argv, server_config *cfg) {
    *cfg = (server_config){
        .listen_host = default_host,
        .listen_port = ELIG_WIRE_DEFAULT_PORT,
        .unix_mode = 0660,
        .threads = default_threads(),
        .max_connections = 10000,
        .max_message = ELIG_WIRE_MAX_MESSAGE,
        .max_batch = ELIG_WIRE_MAX_BATCH,
        .max_output = 4u << 20,
        .max_buffer_memory = (size_t)1 << 30,
        .request_timeout_ms = 5000,
        .output_timeout_ms = 30000,
        .idle_timeout_ms = 300000,
        .drain_timeout_ms = 10000,
        .snapshot_copy = true,
        .audit_sync_ms = 1000,
        .audit_segment_mb = 64,
        .audit_buffer = 16u << 20,
    };
    struct option longopts[N_OPTIONS + 1];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        bool takes = table[i].arg != NULL;
        longopts[i] = (struct option){table[i].name, takes ? required_argument : no_argument, NULL, (int)(256 + i)};
    }
    longopts[N_OPTIONS] = (struct option){NULL, 0, NULL, 0};

    /* The config file first, wherever --config stands, so that the command
     * line overrides it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            read_config(argv[i + 1], cfg);
        else if (strncmp(argv[i], "--config=", 9) == 0)
            read_config(argv[i] + 9, cfg);
    }
    options_action action = OPTIONS_RUN;
    char err[ERR_MAX];
    int opt;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt < 256 || opt >= 256 + (int)N_OPTIONS) {
            fprintf(stderr, "Try 'eligd --help'.\n");
            exit(2);
        }
        const option *o = &table[opt - 256];
        if (o->k != K_CLI) {
            if (!set(o, o->k == K_FLAG ? "true" : optarg, cfg, err))
                usage_error("--%s: %s", o->name, err);
        } else if (strcmp(o->name, "help") == 0) {
            options_usage(stdout);
            return OPTIONS_EXIT_OK;
        } else if (strcmp(o->name, "version") == 0) {
            printf("eligd %s\n", ELIGD_VERSION);
            return OPTIONS_EXIT_OK;
        } else if (strcmp(o->name, "check-config") == 0) {
            action = OPTIONS_CHECK_CONFIG;
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'%s", argv[optind], "");
    if (!cfg->snapshot_path)
        usage_error("%s%s", "--snapshot PATH is required", "");
    check_access(cfg);
    return action;
}

/* The man page's OPTIONS section, in scdoc: the same rows as --help. */
void options_man(FILE *out) {
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &table[i];
        fprintf(out, "*--%s*%s%s%s\n", o->name, o->arg ? " _" : "", o->arg ? o->arg : "", o->arg ? "_" : "");
        fputc('\t', out);
        /* scdoc markup characters in the help text are escaped. */
        for (const char *h = o->help; *h; h++) {
            if (*h == '*' || *h == '_' || *h == '\\')
                fputc('\\', out);
            fputc(*h == '`' ? '"' : *h, out);
        }
        fputs("\n\n", out);
    }
}
