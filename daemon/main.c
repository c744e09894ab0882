/* main.c — eligd's command line: parse flags into a server_config, run. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elig_wire.h"
#include "log.h"
#include "server.h"
#include "version.h"

static const char usage[] =
    "usage: eligd --snapshot PATH [options]\n"
    "\n"
    "Answers eligibility queries (msgpack-RPC) from an LMDB snapshot built by\n"
    "elig-snapshot. SIGHUP reloads the snapshot at PATH; SIGTERM or SIGINT drain\n"
    "(answer what was received, then exit 0).\n"
    "\n"
    "  --snapshot PATH          snapshot file to serve (required; may be a symlink)\n"
    "  --listen HOST:PORT       TCP address (default 127.0.0.1:7420; port 0 = any free port)\n"
    "  --unix PATH              also listen on a Unix stream socket at PATH\n"
    "  --unix-mode MODE         permissions of the Unix socket, octal (default 0660)\n"
    "  --threads N              worker threads, one event loop each (default: number of cores)\n"
    "  --max-connections N      open connections at most; more are refused (default 10000)\n"
    "  --max-message BYTES      largest request accepted; larger closes the connection\n"
    "                           (default 1048576)\n"
    "  --max-batch N            check_batch items at most; more is too_large (default 10000)\n"
    "  --max-output BYTES       unsent answers per connection before its reading is paused\n"
    "                           (default 4194304, at most 1073741824)\n"
    "  --output-timeout SECS    close a connection whose answers have not moved for this\n"
    "                           long (default 30)\n"
    "  --request-timeout SECS   close a connection whose request has not arrived in full\n"
    "                           this long after its first byte (default 5)\n"
    "  --max-buffer-memory BYTES\n"
    "                           all connections' input and output buffers together; past\n"
    "                           it the connections holding the most are closed\n"
    "                           (default 1073741824)\n"
    "  --idle-timeout SECS      close a connection idle this long (default 300)\n"
    "  --drain-timeout SECS     on SIGTERM, close what is still open after this (default 10)\n"
    "  --warm                   read the whole snapshot into memory before serving\n"
    "  --ready-file PATH        once serving, write the TCP port to PATH\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --help                   show this help and exit\n"
    "  --version                show the version and exit\n"
    "\n"
    "Exit status: 0 after a drain, 1 if it cannot start, 2 on bad usage.\n";

enum {
    OPT_SNAPSHOT = 256,
    OPT_LISTEN,
    OPT_UNIX,
    OPT_THREADS,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_MESSAGE,
    OPT_MAX_BATCH,
    OPT_MAX_OUTPUT,
    OPT_OUTPUT_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_MAX_BUFFER_MEMORY,
    OPT_UNIX_MODE,
    OPT_IDLE_TIMEOUT,
    OPT_DRAIN_TIMEOUT,
    OPT_WARM,
    OPT_READY_FILE,
    OPT_LOG_LEVEL,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option options[] = {
    {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"unix", required_argument, NULL, OPT_UNIX},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"max-batch", required_argument, NULL, OPT_MAX_BATCH},
    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
    {"output-timeout", required_argument, NULL, OPT_OUTPUT_TIMEOUT},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"max-buffer-memory", required_argument, NULL, OPT_MAX_BUFFER_MEMORY},
    {"unix-mode", required_argument, NULL, OPT_UNIX_MODE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"warm", no_argument, NULL, OPT_WARM},
    {"ready-file", required_argument, NULL, OPT_READY_FILE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static _Noreturn void bad_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "eligd: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'eligd --help'.\n");
    exit(2);
}

/* A whole number in [min, max], or bad usage naming the flag. */
static uint64_t parse_count(const char *flag, const char *s, uint64_t min, uint64_t max) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: '%%s' is not a number from %llu to %llu", flag,
                 (unsigned long long)min, (unsigned long long)max);
        bad_usage(msg, s);
    }
    return v;
}

/* Seconds (fractions allowed, > 0) as milliseconds. */
static uint64_t parse_seconds(const char *flag, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e9) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: '%%s' is not a positive number of seconds", flag);
        bad_usage(msg, s);
    }
    uint64_t ms = (uint64_t)(v * 1000.0 + 0.5);
    return ms ? ms : 1;
}

/* Permission bits in octal, 0 to 0777. */
static unsigned parse_mode(const char *flag, const char *s) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (errno || end == s || *end || s[0] == '-' || v > 0777) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: '%%s' is not an octal mode from 0 to 0777", flag);
        bad_usage(msg, s);
    }
    return (unsigned)v;
}

/* HOST:PORT, or [IPV6]:PORT. Writes into host (static storage). */
static void parse_listen(const char *s, const char **host, int *port) {
    static char h[256];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        bad_usage("--listen: '%s' is not HOST:PORT", s);
    size_t n = (size_t)(colon - s);
    const char *start = s;
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']')
        start = s + 1, n -= 2;
    if (n == 0 || n >= sizeof h)
        bad_usage("--listen: '%s' is not HOST:PORT", s);
    memcpy(h, start, n);
    h[n] = '\0';
    *host = h;
    *port = (int)parse_count("--listen port", colon + 1, 0, 65535);
}

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int main(int argc, char **argv) {
    server_config cfg = {
        .listen_host = ELIG_WIRE_DEFAULT_HOST,
        .listen_port = ELIG_WIRE_DEFAULT_PORT,
        .threads = default_threads(),
        .max_connections = 10000,
        .max_message = ELIG_WIRE_MAX_MESSAGE,
        .max_batch = ELIG_WIRE_MAX_BATCH,
        .max_output = 4u << 20,
        .output_timeout_ms = 30000,
        .request_timeout_ms = 5000,
        .max_buffer_memory = (size_t)1 << 30,
        .unix_mode = 0660,
        .idle_timeout_ms = 300000,
        .drain_timeout_ms = 10000,
    };
    int opt, level;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_SNAPSHOT: cfg.snapshot_path = optarg; break;
        case OPT_LISTEN: parse_listen(optarg, &cfg.listen_host, &cfg.listen_port); break;
        case OPT_UNIX: cfg.unix_path = optarg; break;
        case OPT_THREADS: cfg.threads = (int)parse_count("--threads", optarg, 1, 256); break;
        case OPT_MAX_CONNECTIONS:
            cfg.max_connections = (uint32_t)parse_count("--max-connections", optarg, 1, 1000000);
            break;
        case OPT_MAX_MESSAGE:
            cfg.max_message = (uint32_t)parse_count("--max-message", optarg, 64, 1u << 30);
            break;
        case OPT_MAX_BATCH:
            cfg.max_batch = (uint32_t)parse_count("--max-batch", optarg, 1, 1000000);
            break;
        case OPT_MAX_OUTPUT:
            /* At most 1 GiB: the queue (this plus one response) must stay
             * far inside what a uv_buf_t length holds (unsigned int). */
            cfg.max_output = (size_t)parse_count("--max-output", optarg, 1024, 1ull << 30);
            break;
        case OPT_MAX_BUFFER_MEMORY:
            cfg.max_buffer_memory = (size_t)parse_count("--max-buffer-memory", optarg, 1u << 20, 1ull << 40);
            break;
        case OPT_REQUEST_TIMEOUT: cfg.request_timeout_ms = parse_seconds("--request-timeout", optarg); break;
        case OPT_UNIX_MODE: cfg.unix_mode = parse_mode("--unix-mode", optarg); break;
        case OPT_OUTPUT_TIMEOUT: cfg.output_timeout_ms = parse_seconds("--output-timeout", optarg); break;
        case OPT_IDLE_TIMEOUT: cfg.idle_timeout_ms = parse_seconds("--idle-timeout", optarg); break;
        case OPT_DRAIN_TIMEOUT: cfg.drain_timeout_ms = parse_seconds("--drain-timeout", optarg); break;
        case OPT_WARM: cfg.warm = true; break;
        case OPT_READY_FILE: cfg.ready_file = optarg; break;
        case OPT_LOG_LEVEL:
            if ((level = log_level_parse(optarg)) < 0)
                bad_usage("--log-level: '%s' is not debug, info, warn or error", optarg);
            log_set_level((log_level)level);
            break;
        case OPT_HELP: fputs(usage, stdout); return 0;
        case OPT_VERSION: printf("eligd %s\n", ELIGD_VERSION); return 0;
        default: fprintf(stderr, "Try 'eligd --help'.\n"); return 2;
        }
    }
    if (optind < argc)
        bad_usage("unexpected argument '%s'", argv[optind]);
    if (!cfg.snapshot_path)
        bad_usage("%s", "--snapshot PATH is required");
    return server_run(&cfg);
}
