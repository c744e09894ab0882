/* main.c — the `elig` command: parses the command line, opens a client
 * handle and runs one command (check, batch, household, info, ping,
 * reload, journal upload).
 * Exit status: 0 answered, 1 failure, 2 bad usage, 3 not eligible (check
 * with --exit-status). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define DEFAULT_TIMEOUT_S 5.0
#define RELOAD_TIMEOUT_S 300.0 /* reload's default: opening (and verifying) a big snapshot */
#define DEFAULT_PIPELINE 64
#define DEFAULT_BATCH_SIZE 256
#define MAX_IN_FLIGHT 4000000 /* rows held for a batch's pipeline */
#define DEFAULT_RETRIES 8
#define DEFAULT_RETRY_MAX_WAIT_S 10.0
#define DEFAULT_SNAPSHOT_WAIT_S 60.0

/* --json or --format jsonl anywhere on the command line: every error line
 * is then a JSON object (found before parsing, so usage errors are too). */
static bool json_errors;

typedef struct {
    const char **servers;
    size_t n_servers;
    char **owned; /* "unix:PATH" strings made for --unix */
    size_t n_owned;
    double timeout_s;
    bool timeout_set;
    bool json, exit_status, quiet;
    size_t pipeline, batch_size;
    /* TLS and credentials (SPEC 6); the token itself only ever in a file */
    bool tls;
    const char *tls_ca, *tls_cert, *tls_key, *channel, *token_file;
    /* offline answers (SPEC 10), check only */
    const char *offline_extract, *offline_pubkey, *offline_journal;
    batch_opts batch; /* the batch-only options */
} cli;

static void usage(FILE *f) {
    fprintf(f,
        "Usage: elig [OPTIONS] COMMAND [ARGS]\n"
        "Asks eligd whether a person, family or KKS card is entitled to a\n"
        "programme in a month, and to how much.\n"
        "\n"
        "Commands:\n"
        "  check KIND ID PROGRAM PERIOD\n"
        "                     one query: KIND is nik, kk or kks; ID 16 digits;\n"
        "                     PROGRAM e.g. PKH; PERIOD YYYY-MM; a not_enrolled\n"
        "                     about a programme the snapshot does not hold is\n"
        "                     followed by a warning on stderr\n"
        "  batch [FILE]       CSV queries kind,id,program,period (header optional)\n"
        "                     from FILE or stdin (-); CSV answers in the same order\n"
        "                     on stdout, pipelined; a bad row is reported with its\n"
        "                     line number and the rest go on; a warning names the\n"
        "                     programmes asked about that the snapshot does not hold\n"
        "  household KIND ID  the family of an id, with its enrollments\n"
        "  info               the server's version, snapshot and counters\n"
        "  ping               is the server answering?\n"
        "  reload             make the server reload its snapshot now and wait for\n"
        "                     it: exit 0 with the snapshot serving, 1 with the reason\n"
        "                     it failed (the old one keeps serving); allowed on the\n"
        "                     Unix socket (--unix) or to a channel granted reload\n"
        "  journal upload FILE\n"
        "                     send an offline journal (--offline-journal) to the\n"
        "                     server's audit trail: the answers not yet acknowledged,\n"
        "                     once each; the acknowledgement is recorded in FILE\n"
        "                     (a channel needs the journal method granted)\n"
        "\n"
        "Options:\n"
        "  --server HOST:PORT   server to ask; repeat it or give a comma list for\n"
        "                       fallback servers, tried in order\n"
        "                       (default " ELIG_WIRE_DEFAULT_HOST ":" STR(ELIG_WIRE_DEFAULT_PORT) ")\n"
        "  --unix PATH          a server's Unix socket (a server in the same list)\n"
        "  --timeout SECONDS    connect timeout and longest wait for an answer\n"
        "                       (default %g), for reload (default %g)\n"
        "  --json               JSON output (check, household, info, ping, reload);\n"
        "                       errors on stderr as JSON objects (batch too)\n"
        "  --exit-status        check: exit 0 when eligible, 3 when not\n"
        "  --pipeline N         batch: requests in flight (default %d)\n"
        "  --batch-size N       batch: queries per request, 1 for one check each\n"
        "                       (default %d, at most 10000)\n"
        "  --quiet              batch: no summary lines on stderr (warnings still)\n"
        "  --format csv|jsonl   batch: answers as CSV (default) or JSON lines\n"
        "  --keep-columns       batch: pass the input's other columns through, in\n"
        "                       order, byte for byte (the default)\n"
        "  --no-keep-columns    batch: drop them\n"
        "  --output FILE        batch: write the answers to FILE, not stdout\n"
        "  --resume FILE        batch: continue the run whose answers are in FILE:\n"
        "                       its complete rows are kept, the rest are asked\n"
        "  --retries N          batch: rounds of failed requests in a row (connection\n"
        "                       lost or refused, timeout, unavailable, rate limited)\n"
        "                       before giving up (default %d); only unanswered rows\n"
        "                       are sent again\n"
        "  --retry-max-wait SECONDS\n"
        "                       batch: longest pause between rounds (default %g;\n"
        "                       the first is 0.1, doubling)\n"
        "  --snapshot-id ID     batch: every answer must come from snapshot ID; rows\n"
        "                       answered by another are asked again, then failed\n"
        "  --snapshot-wait SECONDS\n"
        "                       batch: how long to ask again (default %g)\n"
        "  --tls                speak TLS to HOST:PORT servers; their certificate and\n"
        "                       name are verified (against --tls-ca, else the system's CAs)\n"
        "  --tls-ca PEM         CA certificates that sign the servers' certificates\n"
        "  --tls-cert PEM       a client certificate to show (with --tls-key)\n"
        "  --tls-key PEM        its private key\n"
        "  --channel NAME       authenticate as this channel on every connection\n"
        "                       (default: $ELIG_CHANNEL)\n"
        "  --token-file PATH    the channel's token: the first line of PATH, a file\n"
        "                       of mode 0600 (default: $ELIG_TOKEN_FILE); a token is\n"
        "                       never taken from the command line\n"
        "  --offline-extract PATH\n"
        "                       check: when no server answers, answer from this signed\n"
        "                       extract (elig-snapshot extract, sign) by the same rule;\n"
        "                       the answer says OFFLINE (--json: \"offline\": true and\n"
        "                       \"extract\", its id)\n"
        "  --offline-pubkey PUBLIC.pem\n"
        "                       the Ed25519 key the extract must be signed by; an\n"
        "                       unsigned, altered or otherwise signed extract is refused\n"
        "  --offline-journal FILE\n"
        "                       append every offline answer to FILE first (for\n"
        "                       `elig journal upload`)\n"
        "  --help               this text\n"
        "  --version            the version\n"
        "\n"
        "Exit status: 0 answered, 1 failure (batch: any row not answered, or not\n"
        "from --snapshot-id; reload: it failed), 2 bad usage, 3 not eligible (check\n"
        "with --exit-status).\n",
        DEFAULT_TIMEOUT_S, RELOAD_TIMEOUT_S, DEFAULT_PIPELINE, DEFAULT_BATCH_SIZE, DEFAULT_RETRIES,
        DEFAULT_RETRY_MAX_WAIT_S, DEFAULT_SNAPSHOT_WAIT_S);
}

static int usage_error(const char *fmt, const char *arg) {
    char text[600];
    size_t n = (size_t)snprintf(text, sizeof text, fmt, arg);
    if (n < sizeof text)
        snprintf(text + n, sizeof text - n, " (try elig --help)");
    cmd_error(json_errors, NULL, NULL, 0, text);
    return EXIT_USAGE;
}

/* A number of seconds up to 86400 (0 allowed when zero_ok), or -1. */
static double parse_seconds(const char *arg, bool zero_ok) {
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v <= 86400) || !(zero_ok ? v >= 0 : v > 0))
        return -1;
    return v;
}

static void add_server(cli *o, const char *s) {
    const char **p = realloc(o->servers, (o->n_servers + 1) * sizeof *p);
    if (!p) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    o->servers = p;
    o->servers[o->n_servers++] = s;
}

/* --server a,b,c: each piece is a server. The pieces are cut in place. */
static int add_server_list(cli *o, char *list) {
    for (char *save, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
        add_server(o, s);
    return 0;
}

static int add_unix(cli *o, const char *path) {
    size_t n = strlen(path) + 6;
    char *s = malloc(n);
    if (!s) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    snprintf(s, n, "unix:%s", path);
    char **p = realloc(o->owned, (o->n_owned + 1) * sizeof *p);
    if (!p) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    o->owned = p;
    o->owned[o->n_owned++] = s;
    add_server(o, s);
    return 0;
}

static void cli_free(cli *o) {
    for (size_t i = 0; i < o->n_owned; i++)
        free(o->owned[i]);
    free(o->owned);
    free(o->servers);
}

static int parse_count(const char *arg, size_t max, size_t *out) {
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end || v < 1 || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

enum { OPT_SERVER = 256, OPT_UNIX, OPT_TIMEOUT, OPT_JSON, OPT_EXIT_STATUS, OPT_PIPELINE,
       OPT_BATCH_SIZE, OPT_QUIET, OPT_HELP, OPT_VERSION, OPT_FORMAT, OPT_KEEP, OPT_NO_KEEP,
       OPT_OUTPUT, OPT_RESUME, OPT_RETRIES, OPT_RETRY_MAX_WAIT, OPT_SNAPSHOT_ID,
       OPT_SNAPSHOT_WAIT, OPT_TLS, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_CHANNEL,
       OPT_TOKEN_FILE, OPT_OFFLINE_EXTRACT, OPT_OFFLINE_PUBKEY, OPT_OFFLINE_JOURNAL };

/* The batch-only options. 0, or -2 after a usage error. */
static int parse_batch_option(int opt, const char *arg, cli *o) {
    batch_opts *b = &o->batch;
    size_t n;
    switch (opt) {
    case OPT_FORMAT:
        if (strcmp(arg, "csv") != 0 && strcmp(arg, "jsonl") != 0)
            return usage_error("--format: '%s' is not csv or jsonl", arg), -2;
        b->jsonl = strcmp(arg, "jsonl") == 0;
        return 0;
    case OPT_KEEP: b->keep = true; return 0;
    case OPT_NO_KEEP: b->keep = false; return 0;
    case OPT_OUTPUT: b->output = arg; return 0;
    case OPT_RESUME: b->resume = arg; return 0;
    case OPT_RETRIES:
        if (strcmp(arg, "0") == 0)
            n = 0;
        else if (parse_count(arg, 1000, &n))
            return usage_error("--retries: '%s' is not a count in 0-1000", arg), -2;
        b->retries = (unsigned)n;
        return 0;
    case OPT_RETRY_MAX_WAIT:
        if ((b->retry_max_wait = parse_seconds(arg, true)) < 0)
            return usage_error("--retry-max-wait: '%s' is not a number of seconds in [0, 86400]",
                               arg), -2;
        return 0;
    case OPT_SNAPSHOT_ID:
        if (!*arg || strlen(arg) > ELIGC_SNAPSHOT_MAX)
            return usage_error("--snapshot-id: '%s' is not a snapshot id (1-64 characters)", arg), -2;
        b->snapshot_id = arg;
        return 0;
    case OPT_SNAPSHOT_WAIT:
        if ((b->snapshot_wait = parse_seconds(arg, true)) < 0)
            return usage_error("--snapshot-wait: '%s' is not a number of seconds in [0, 86400]",
                               arg), -2;
        return 0;
    }
    return usage_error("%s", "internal: unknown batch option"), -2;
}

/* Parses the options; returns the index of the command word, or -1 after
 * printing help/version (exit 0), or -2 on bad usage (message printed). */
static int parse_options(int argc, char **argv, cli *o) {
    static const struct option longopts[] = {
        {"server", required_argument, 0, OPT_SERVER},
        {"unix", required_argument, 0, OPT_UNIX},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"json", no_argument, 0, OPT_JSON},
        {"exit-status", no_argument, 0, OPT_EXIT_STATUS},
        {"pipeline", required_argument, 0, OPT_PIPELINE},
        {"batch-size", required_argument, 0, OPT_BATCH_SIZE},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"tls", no_argument, 0, OPT_TLS},
        {"tls-ca", required_argument, 0, OPT_TLS_CA},
        {"tls-cert", required_argument, 0, OPT_TLS_CERT},
        {"tls-key", required_argument, 0, OPT_TLS_KEY},
        {"channel", required_argument, 0, OPT_CHANNEL},
        {"token-file", required_argument, 0, OPT_TOKEN_FILE},
        {"offline-extract", required_argument, 0, OPT_OFFLINE_EXTRACT},
        {"offline-pubkey", required_argument, 0, OPT_OFFLINE_PUBKEY},
        {"offline-journal", required_argument, 0, OPT_OFFLINE_JOURNAL},
        {"format", required_argument, 0, OPT_FORMAT},
        {"keep-columns", no_argument, 0, OPT_KEEP},
        {"no-keep-columns", no_argument, 0, OPT_NO_KEEP},
        {"output", required_argument, 0, OPT_OUTPUT},
        {"resume", required_argument, 0, OPT_RESUME},
        {"retries", required_argument, 0, OPT_RETRIES},
        {"retry-max-wait", required_argument, 0, OPT_RETRY_MAX_WAIT},
        {"snapshot-id", required_argument, 0, OPT_SNAPSHOT_ID},
        {"snapshot-wait", required_argument, 0, OPT_SNAPSHOT_WAIT},
        {"help", no_argument, 0, OPT_HELP},
        {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    char *end;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_SERVER:
            add_server_list(o, optarg);
            break;
        case OPT_UNIX:
            add_unix(o, optarg);
            break;
        case OPT_FORMAT: case OPT_KEEP: case OPT_NO_KEEP: case OPT_OUTPUT: case OPT_RESUME:
        case OPT_RETRIES: case OPT_RETRY_MAX_WAIT: case OPT_SNAPSHOT_ID: case OPT_SNAPSHOT_WAIT:
            if (parse_batch_option(opt, optarg, o))
                return -2;
            break;
        case OPT_TIMEOUT:
            o->timeout_s = strtod(optarg, &end);
            o->timeout_set = true;
            if (end == optarg || *end || !(o->timeout_s > 0 && o->timeout_s <= 86400))
                return usage_error("--timeout: '%s' is not a number of seconds in (0, 86400]",
                                   optarg), -2;
            break;
        case OPT_JSON: o->json = true; break;
        case OPT_EXIT_STATUS: o->exit_status = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_TLS: o->tls = true; break;
        case OPT_TLS_CA: o->tls_ca = optarg; o->tls = true; break;
        case OPT_TLS_CERT: o->tls_cert = optarg; o->tls = true; break;
        case OPT_TLS_KEY: o->tls_key = optarg; o->tls = true; break;
        case OPT_CHANNEL: o->channel = optarg; break;
        case OPT_TOKEN_FILE: o->token_file = optarg; break;
        case OPT_OFFLINE_EXTRACT: o->offline_extract = optarg; break;
        case OPT_OFFLINE_PUBKEY: o->offline_pubkey = optarg; break;
        case OPT_OFFLINE_JOURNAL: o->offline_journal = optarg; break;
        case OPT_PIPELINE:
            if (parse_count(optarg, 1 << 20, &o->pipeline))
                return usage_error("--pipeline: '%s' is not a count in 1-1048576", optarg), -2;
            break;
        case OPT_BATCH_SIZE:
            if (parse_count(optarg, ELIG_WIRE_MAX_BATCH, &o->batch_size))
                return usage_error("--batch-size: '%s' is not a count in 1-10000", optarg), -2;
            break;
        case OPT_HELP:
            usage(stdout);
            return -1;
        case OPT_VERSION:
            printf("elig %s (libeligclient %s)\n", ELIGC_VERSION_STRING, eligc_version());
            return -1;
        default:
            return usage_error("unknown option or missing value: %s", argv[optind - 1]), -2;
        }
    }
    if (o->batch.output && o->batch.resume)
        return usage_error("%s", "--output and --resume both name the answers' file: give one"), -2;
    if ((o->offline_pubkey || o->offline_journal) && !o->offline_extract)
        return usage_error("%s", "--offline-pubkey and --offline-journal go with --offline-extract"), -2;
    if (o->offline_extract && !o->offline_pubkey)
        return usage_error("%s", "--offline-extract needs --offline-pubkey PUBLIC.pem, the key it must be "
                                 "signed by"), -2;
    if (o->pipeline * o->batch_size > MAX_IN_FLIGHT)
        return usage_error("%s", "--pipeline times --batch-size is over 4000000 rows in flight"), -2;
    if (optind >= argc)
        return usage_error("%s", "no command given"), -2;
    return optind;
}

static int open_conn(const cli *o, eligc_conn **c, bool batch) {
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = o->servers;
    opt.n_servers = o->n_servers;
    int ms = (int)(o->timeout_s * 1000 + 0.999);
    opt.connect_timeout_ms = opt.request_timeout_ms = ms > 0 ? ms : 1;
    opt.max_pending = o->pipeline + 1;
    opt.batch_max = o->batch_size;
    eligc_options_env(&opt); /* ELIG_CHANNEL, ELIG_TOKEN_FILE; the options below win */
    opt.tls = o->tls;
    opt.tls_ca = o->tls_ca;
    opt.tls_cert = o->tls_cert;
    opt.tls_key = o->tls_key;
    if (o->channel)
        opt.channel = o->channel;
    if (o->token_file)
        opt.token_file = o->token_file;
    opt.offline_extract = o->offline_extract;
    opt.offline_pubkey = o->offline_pubkey;
    opt.offline_journal = o->offline_journal;
    opt.offline_retry_ms = 0; /* one command, one check: always ask the servers first */
    int rc = eligc_open(&opt, c);
    /* A batch retries the connection; a check with an extract answers
     * without one. */
    if (rc == 0 || (rc == ELIGC_ECONNECT && (batch || o->offline_extract)))
        return EXIT_OK;
    cmd_error(json_errors, NULL, NULL, 0, *c ? eligc_errmsg(*c) : eligc_strerror(rc));
    return rc == ELIGC_EBADARG ? EXIT_USAGE : EXIT_FAIL;
}

/* KIND from the command line, or a usage error. */
static int parse_kind(const char *cmd, const char *s, elig_kind *k) {
    int v = elig_kind_lookup(s, strlen(s));
    if (v < 0) {
        fprintf(stderr, "elig: %s: bad kind '%s': expected nik, kk or kks\n", cmd, s);
        return EXIT_USAGE;
    }
    *k = (elig_kind)v;
    return EXIT_OK;
}

static int finish(outbuf *o, int status) {
    if (out_flush(o) != 0) {
        perror("elig: writing output");
        status = EXIT_FAIL;
    }
    out_free(o);
    return status;
}

static int call_failed(const char *cmd, eligc_conn *c) {
    cmd_error(json_errors, cmd, NULL, 0, eligc_errmsg(c));
    return EXIT_FAIL;
}

static int cmd_check(const cli *o, eligc_conn *c, const eligc_query *q) {
    eligc_answer a;
    outbuf out;
    int rc = eligc_check(c, q, &a);
    if (rc)
        return call_failed("check", c);
    out_init(&out, stdout);
    if (o->json) {
        out_answer_json(&out, &a);
        out_str(&out, "\n");
    } else {
        out_answer_human(&out, &a);
    }
    int status = finish(&out, o->exit_status && !a.eligible ? EXIT_NOT_ELIGIBLE : EXIT_OK);
    prog_check_warn(c, o->json, q, &a); /* not_enrolled: is the programme known at all? */
    return status;
}

/* The query of `check`, checked before any connection is made. */
static int check_args(char **args, eligc_query *q) {
    elig_kind k;
    if (parse_kind("check", args[0], &k))
        return EXIT_USAGE;
    *q = (eligc_query){.kind = k, .id = args[1], .program = args[2], .period = args[3]};
    const char *why;
    if (eligc_query_valid(q, &why) == 0)
        return EXIT_OK;
    const char *val = strcmp(why, "id") == 0 ? args[1] : strcmp(why, "program") == 0 ? args[2] : args[3];
    const char *want = strcmp(why, "id") == 0        ? "16 digits"
                       : strcmp(why, "program") == 0 ? "1-16 chars of A-Z 0-9 _"
                                                     : "YYYY-MM";
    fprintf(stderr, "elig: check: bad %s '%s': expected %s\n", why, val, want);
    return EXIT_USAGE;
}

static int cmd_household(const cli *o, eligc_conn *c, elig_kind k, const char *id) {
    eligc_household h;
    if (eligc_household_get(c, k, id, &h))
        return call_failed("household", c);
    outbuf out;
    out_init(&out, stdout);
    if (o->json) {
        out_household_json(&out, &h);
        out_str(&out, "\n");
    } else {
        out_household_human(&out, &h);
    }
    eligc_household_free(&h);
    return finish(&out, EXIT_OK);
}

static int cmd_info(const cli *o, eligc_conn *c) {
    eligc_info info;
    if (eligc_info_get(c, &info))
        return call_failed("info", c);
    outbuf out;
    out_init(&out, stdout);
    if (o->json) {
        out_info_json(&out, &info);
        out_str(&out, "\n");
    } else {
        out_info_human(&out, &info);
    }
    return finish(&out, EXIT_OK);
}

static int cmd_reload(const cli *o, eligc_conn *c) {
    eligc_reload_result r;
    if (eligc_reload(c, &r))
        return call_failed("reload", c);
    outbuf out;
    out_init(&out, stdout);
    if (o->json) {
        out_str(&out, "{\"snapshot\":");
        out_json_str(&out, r.snapshot);
        out_str(&out, ",\"content_sha256\":");
        out_json_str(&out, r.content_sha256[0] ? r.content_sha256 : NULL);
        out_str(&out, "}\n");
    } else {
        out_str(&out, "reloaded: snapshot ");
        out_str(&out, r.snapshot);
        if (r.content_sha256[0]) {
            out_str(&out, " content_sha256 ");
            out_str(&out, r.content_sha256);
        }
        out_str(&out, "\n");
    }
    return finish(&out, EXIT_OK);
}

/* elig journal upload FILE: the offline answers to the server's trail. */
static int cmd_journal(const cli *o, eligc_conn *c, const char *path) {
    eligc_journal_result r;
    int rc = eligc_journal_upload(c, path, &r);
    if (rc && rc != ELIGC_ETIMEOUT)
        return call_failed("journal upload", c);
    outbuf out;
    out_init(&out, stdout);
    if (o->json) {
        out_str(&out, "{\"journal\":");
        out_json_strn(&out, path, strlen(path));
        out_str(&out, ",\"terminal\":");
        out_json_str(&out, r.terminal);
        const char *k[] = {"records", "last", "sent", "accepted", "duplicates", "acknowledged"};
        const uint64_t v[] = {r.records, r.last, r.sent, r.accepted, r.duplicates, r.acknowledged};
        for (size_t i = 0; i < 6; i++) {
            out_str(&out, ",\"");
            out_str(&out, k[i]);
            out_str(&out, "\":");
            out_u64(&out, v[i]);
        }
        out_str(&out, "}\n");
    } else {
        out_str(&out, "terminal ");
        out_str(&out, r.terminal);
        out_str(&out, ": ");
        out_u64(&out, r.records);
        out_str(&out, r.records == 1 ? " offline answer, " : " offline answers, ");
        out_u64(&out, r.sent);
        out_str(&out, " sent (");
        out_u64(&out, r.accepted);
        out_str(&out, " recorded, ");
        out_u64(&out, r.duplicates);
        out_str(&out, " already in the trail); acknowledged up to ");
        out_u64(&out, r.acknowledged);
        out_str(&out, " of ");
        out_u64(&out, r.last);
        out_str(&out, "\n");
    }
    int status = finish(&out, EXIT_OK);
    if (rc) /* ETIMEOUT: sent, not all confirmed durable yet */
        return call_failed("journal upload", c);
    return status;
}

static int cmd_ping(const cli *o, eligc_conn *c) {
    if (eligc_ping(c))
        return call_failed("ping", c);
    puts(o->json ? "\"pong\"" : "pong");
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* Checks a command's arguments before connecting: a usage error costs no
 * round trip. Returns EXIT_OK or EXIT_USAGE. */
static int check_usage(const char *cmd, int nargs, char **args, eligc_query *q, elig_kind *k) {
    static const struct { const char *name; int min, max; const char *form; } cmds[] = {
        {"check", 4, 4, "check KIND ID PROGRAM PERIOD"},
        {"batch", 0, 1, "batch [FILE]"},
        {"household", 2, 2, "household KIND ID"},
        {"info", 0, 0, "info"},
        {"ping", 0, 0, "ping"},
        {"reload", 0, 0, "reload"},
        {"journal", 2, 2, "journal upload FILE"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i].name) != 0)
            continue;
        if (nargs < cmds[i].min || nargs > cmds[i].max)
            return usage_error("usage: elig %s", cmds[i].form);
        if (i == 0)
            return check_args(args, q);
        if (i == 6 && strcmp(args[0], "upload") != 0)
            return usage_error("journal: unknown subcommand '%s' (journal upload FILE)", args[0]);
        if (i == 2) {
            if (parse_kind(cmd, args[0], k))
                return EXIT_USAGE;
            if (strlen(args[1]) != ELIG_WIRE_ID_LEN || strspn(args[1], "0123456789") != ELIG_WIRE_ID_LEN) {
                fprintf(stderr, "elig: household: bad id '%s': expected 16 digits\n", args[1]);
                return EXIT_USAGE;
            }
        }
        return EXIT_OK;
    }
    return usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv) {
    cli o = {.timeout_s = DEFAULT_TIMEOUT_S, .pipeline = DEFAULT_PIPELINE,
             .batch_size = DEFAULT_BATCH_SIZE,
             .batch = {.keep = true, .retries = DEFAULT_RETRIES,
                       .retry_max_wait = DEFAULT_RETRY_MAX_WAIT_S,
                       .snapshot_wait = DEFAULT_SNAPSHOT_WAIT_S}};
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        json_errors |= strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--format=jsonl") == 0 ||
                       (strcmp(argv[i], "--format") == 0 && i + 1 < argc &&
                        strcmp(argv[i + 1], "jsonl") == 0);
    int at = parse_options(argc, argv, &o);
    if (at < 0) {
        cli_free(&o);
        return at == -1 ? EXIT_OK : EXIT_USAGE;
    }
    const char *cmd = argv[at];
    char **args = argv + at + 1;
    int nargs = argc - at - 1;
    eligc_query q;
    elig_kind k = ELIG_KIND_NIK;
    int status = check_usage(cmd, nargs, args, &q, &k);
    if (status == EXIT_OK && o.offline_extract && strcmp(cmd, "check") != 0)
        status = usage_error("--offline-extract is for check, not %s", cmd);
    eligc_conn *c = NULL;
    if (strcmp(cmd, "reload") == 0 && !o.timeout_set)
        o.timeout_s = RELOAD_TIMEOUT_S;
    if (status == EXIT_OK)
        status = open_conn(&o, &c, strcmp(cmd, "batch") == 0);
    if (status == EXIT_OK) {
        if (strcmp(cmd, "check") == 0) {
            status = cmd_check(&o, c, &q);
        } else if (strcmp(cmd, "batch") == 0) {
            batch_opts bo = o.batch;
            bo.input = nargs ? args[0] : NULL;
            bo.depth = o.pipeline;
            bo.group = o.batch_size;
            bo.quiet = o.quiet;
            bo.json_errors = json_errors;
            status = batch_run(c, &bo);
        } else if (strcmp(cmd, "household") == 0) {
            status = cmd_household(&o, c, k, args[1]);
        } else if (strcmp(cmd, "info") == 0) {
            status = cmd_info(&o, c);
        } else if (strcmp(cmd, "reload") == 0) {
            status = cmd_reload(&o, c);
        } else if (strcmp(cmd, "journal") == 0) {
            status = cmd_journal(&o, c, args[1]);
        } else {
            status = cmd_ping(&o, c);
        }
    }
    eligc_close(c);
    cli_free(&o);
    return status;
}
