/* elig-audit — reads eligd's audit trail (SPEC 7, docs/AUDIT.md):
 *
 *   trail DIR --snapshot PATH KIND ID [--since T] [--until T] [--json]
 *   stats DIR [--since T] [--until T] [--json]
 *   verify DIR
 *
 * Exit status: 0 success, 1 a failure (verify: any break; trail and stats:
 * a segment that could not be read), 2 bad usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elig.h"
#include "report.h"
#include "segdir.h"
#include "verify.h"

static void usage(FILE *o) {
    fputs("usage: elig-audit trail DIR --snapshot PATH KIND ID [--since T] [--until T] [--json]\n"
          "       elig-audit stats DIR [--since T] [--until T] [--json]\n"
          "       elig-audit verify DIR [--quiet]\n"
          "\n"
          "Reads the audit trail eligd writes with --audit-dir DIR.\n"
          "\n"
          "  trail    every record about a person: by their NIK, and by their family's KK\n"
          "           and KKS card as resolved in the snapshot given (a check by card shows\n"
          "           up for every member). KIND is nik, kk or kks; for kk and kks, every\n"
          "           answer that resolved to that family too. Answers an offline\n"
          "           terminal gave from its extract (uploaded later with the journal\n"
          "           method) show as offline_check, OFFLINE, at the time it answered.\n"
          "  stats    records by channel, method and result (reason or error code)\n"
          "  verify   the hash chain of every segment and between them; exit 1 on any\n"
          "           break, naming the file and the record or byte\n"
          "\n"
          "  --since T     records at or after T: RFC 3339 (2026-12-01T10:00:00Z, offsets\n"
          "                allowed) or a date (2026-12-01, UTC)\n"
          "  --until T     records at or before T; a date means the end of that day\n"
          "  --json        one JSON document on stdout\n"
          "  --threads N   threads scanning (default: one per core)\n"
          "  --quiet       verify: print only breaks, notes and the summary\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 ok, 1 failure (verify: a break), 2 bad usage.\n",
          o);
}

static _Noreturn void bad(const char *fmt, const char *a) {
    fprintf(stderr, "elig-audit: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\nTry 'elig-audit --help'.\n");
    exit(2);
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"since", required_argument, NULL, 'a'},
        {"until", required_argument, NULL, 'b'},    {"json", no_argument, NULL, 'j'},
        {"threads", required_argument, NULL, 't'},  {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    report_opts o = {.since_us = 0, .until_us = UINT64_MAX};
    const char *snapshot = NULL, *since = NULL, *until = NULL;
    bool quiet = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            snapshot = optarg;
            break;
        case 'a':
            since = optarg;
            break;
        case 'b':
            until = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 64)
                bad("--threads: '%s' is not a number from 1 to 64", optarg);
            o.threads = (int)n;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("elig-audit %s\n", ELIG_VERSION_STRING);
            return 0;
        default:
            fprintf(stderr, "Try 'elig-audit --help'.\n");
            return 2;
        }
    }
    if (since && !report_parse_time(since, false, &o.since_us))
        bad("--since: '%s' is not an RFC 3339 time or a YYYY-MM-DD date", since);
    if (until && !report_parse_time(until, true, &o.until_us))
        bad("--until: '%s' is not an RFC 3339 time or a YYYY-MM-DD date", until);
    int nargs = argc - optind;
    if (nargs < 2)
        bad("%s", nargs == 0 ? "a command is required: trail, stats or verify" : "DIR is required");
    const char *cmd = argv[optind], *dir = argv[optind + 1];
    bool is_trail = strcmp(cmd, "trail") == 0, is_stats = strcmp(cmd, "stats") == 0,
         is_verify = strcmp(cmd, "verify") == 0;
    if (!is_trail && !is_stats && !is_verify)
        bad("unknown command '%s': trail, stats or verify", cmd);
    if (!is_trail && nargs != 2)
        bad("unexpected argument '%s'", argv[optind + 2]);
    if (is_verify && (since || until || o.json))
        bad("%s", "verify takes no --since, --until or --json");
    int kind = 0;
    uint64_t id = 0;
    if (is_trail) {
        if (!snapshot)
            bad("%s", "trail needs --snapshot PATH (to resolve the family)");
        if (nargs != 4)
            bad("%s", nargs < 4 ? "trail needs KIND and ID" : "trail takes DIR, KIND and ID");
        const char *k = argv[optind + 2], *i = argv[optind + 3];
        if ((kind = elig_kind_lookup(k, strlen(k))) < 0)
            bad("KIND '%s' must be nik, kk or kks", k);
        if (elig_parse_id16(i, strlen(i), &id) != 0)
            bad("ID '%s' must be exactly 16 digits", i);
    } else if (snapshot) {
        bad("%s", "--snapshot is for trail");
    }
    if (o.since_us >= o.until_us)
        bad("%s", "--since must come before --until");
    segfile *f;
    int n;
    if (segdir_list(dir, &f, &n) != 0)
        return 1;
    int rc;
    if (is_verify)
        rc = audit_verify(dir, f, n, o.threads, quiet);
    else if (is_trail)
        rc = report_trail(f, n, snapshot, kind, id, argv[optind + 3], &o);
    else
        rc = report_stats(f, n, &o);
    segdir_free(f, n);
    return rc;
}
