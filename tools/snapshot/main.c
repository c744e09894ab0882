/* main.c — elig-snapshot's command line: parses arguments and calls
 * snap_build, snap_info or snap_verify. Exit 0 success, 1 failure, 2 bad
 * usage (SPEC 5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "compare.h"
#include "elig.h"
#include "extract.h"
#include "verify.h"

#define PROG "elig-snapshot"

static void usage(FILE *f) {
    fprintf(f,
            "usage: " PROG " build --households F --members F --enrollments F --out PATH\n"
            "                     [--rejects F] [--max-reject-ratio R] [--id ID] [--mode MODE]\n"
            "                     [--previous PATH] [--guard-period YYYY-MM] [--max-change R]\n"
            "       " PROG " info PATH\n"
            "       " PROG " verify PATH [--pubkey PUBLIC.pem]\n"
            "       " PROG " diff OLD NEW [--period YYYY-MM] [--json]\n"
            "       " PROG " extract SNAPSHOT --region PREFIX [--region PREFIX ...] --out PATH [--id ID]\n"
            "       " PROG " sign PATH --key PRIVATE.pem\n"
            "\n"
            "build    reads the three registry CSV files (SPEC section 1) and publishes\n"
            "         an LMDB snapshot at PATH atomically (temp file, sync, rename).\n"
            "  --households F        households.csv (required)\n"
            "  --members F           members.csv (required)\n"
            "  --enrollments F       enrollments.csv (required)\n"
            "  --out PATH            snapshot file to publish (required)\n"
            "  --rejects F           rejects CSV (default: PATH.rejects.csv); written\n"
            "                        whether or not the build succeeds\n"
            "  --max-reject-ratio R  fail, publishing nothing, when rejected rows /\n"
            "                        rows read (all three files) > R; 0..1 (default 0.01)\n"
            "  --id ID               snapshot id, 1-64 chars of A-Za-z0-9._:-\n"
            "                        (default: creation time and input hashes,\n"
            "                        e.g. 20261127T234000Z-1a2b3c4d)\n"
            "  --mode MODE           permissions of the snapshot and rejects files,\n"
            "                        octal, whatever the umask (default 0640); outputs\n"
            "                        are never written through a symbolic link\n"
            "  --previous PATH       snapshot the guard compares with (default: the file\n"
            "                        already at --out; none: the guard is skipped)\n"
            "  --guard-period M      month YYYY-MM whose eligible families the guard\n"
            "                        counts (default: the current month, UTC)\n"
            "  --max-change R        fail, publishing nothing, when households, members,\n"
            "                        enrollments or the families eligible for any\n"
            "                        programme change by more than R (a fraction, >= 0;\n"
            "                        default 0.05) from the previous snapshot\n"
            "info     prints the snapshot's metadata, one `key: value` per line\n"
            "verify   checks the file's checksum, then re-checks every record, the index\n"
            "         and the content hash; exit 1 with the first problem found\n"
            "  --pubkey PUBLIC.pem   also require an Ed25519 signature by this key\n"
            "diff     what changed from OLD to NEW: rows added, removed and changed per\n"
            "         table; per programme and per province (first two region digits),\n"
            "         families eligible in OLD and NEW, gained, lost, and the change of\n"
            "         the month's total amount\n"
            "  --period M            the month, YYYY-MM (default: the current month, UTC)\n"
            "  --json                one JSON object instead of the tables\n"
            "extract  a snapshot of the same schema holding only the families whose\n"
            "         region starts with one of the prefixes, their members and cards\n"
            "  --region PREFIX       kode wilayah prefix, 1-10 digits (32, 3273, ...);\n"
            "                        repeat for several (at most 32)\n"
            "  --out PATH            the extract, published atomically, mode 0640\n"
            "  --id ID               its id (default: x + time + 8 hex digits)\n"
            "sign     signs the snapshot with an Ed25519 key (a block after its checksum\n"
            "         trailer; the file is replaced atomically)\n"
            "  --key PRIVATE.pem     as `openssl genpkey -algorithm ed25519` writes it\n"
            "\n"
            "  --help                this text\n"
            "  --version             version\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see " PROG " --help)\n");
    return 2;
}

/* The value of --name, as "--name V" or "--name=V"; advances *i. NULL if
 * argv[*i] is not --name. *missing set if the value is absent. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, int *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int parse_ratio(const char *s, double *out) {
    char *end;
    double r = strtod(s, &end);
    if (end == s || *end || !(r >= 0.0 && r <= 1.0))
        return -1;
    *out = r;
    return 0;
}

/* YYYY-MM into *m; -1 if malformed. */
static int parse_month(const char *s, unsigned *m) {
    elig_month v;
    if (elig_parse_period(s, strlen(s), &v) != 0)
        return -1;
    *m = v;
    return 0;
}

static unsigned current_month(void) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return (unsigned)(tm.tm_year + 1900) * 12 + (unsigned)tm.tm_mon;
}

static void print_counts(const snap_build_result *res) {
    for (int f = 0; f < SNAP_NFILES; f++)
        printf("%s: read %llu, accepted %llu, rejected %llu\n", res->name[f], (unsigned long long)res->read[f],
               (unsigned long long)res->accepted[f], (unsigned long long)res->rejected[f]);
}

static int cmd_build(int argc, char **argv) {
    static const char *names[] = {"--households", "--members", "--enrollments"};
    snap_build_opts o = {.max_reject_ratio = 0.01, .progress = isatty(STDERR_FILENO), .max_change = 0.05};
    for (int i = 2; i < argc; i++) {
        int missing = 0, known = 0;
        const char *v;
        for (int f = 0; f < SNAP_NFILES && !known; f++)
            if ((v = flag_value(argc, argv, &i, names[f], &missing)))
                o.input[f] = v, known = 1;
        if (known)
            continue;
        if ((v = flag_value(argc, argv, &i, "--out", &missing))) {
            o.out = v;
        } else if ((v = flag_value(argc, argv, &i, "--rejects", &missing))) {
            o.rejects = v;
        } else if ((v = flag_value(argc, argv, &i, "--id", &missing))) {
            if (!snap_valid_id(v))
                return usage_error("--id '%s': want 1-64 chars of A-Za-z0-9._:-", v);
            o.id = v;
        } else if ((v = flag_value(argc, argv, &i, "--mode", &missing))) {
            char *end;
            unsigned long mode = strtoul(v, &end, 8);
            if (!*v || *end || mode > 0777 || (mode & 0600) != 0600)
                return usage_error("--mode '%s': want octal permissions from 0600 to 0777, e.g. 0640", v);
            o.mode = (unsigned)mode;
        } else if ((v = flag_value(argc, argv, &i, "--previous", &missing))) {
            o.previous = v;
        } else if ((v = flag_value(argc, argv, &i, "--guard-period", &missing))) {
            if (parse_month(v, &o.guard_month) != 0)
                return usage_error("--guard-period '%s': want a month YYYY-MM", v);
        } else if ((v = flag_value(argc, argv, &i, "--max-change", &missing))) {
            char *end;
            double r = strtod(v, &end);
            if (end == v || *end || !(r >= 0.0 && r < 1e300))
                return usage_error("--max-change '%s': want a fraction >= 0, e.g. 0.05", v);
            o.max_change = r;
        } else if ((v = flag_value(argc, argv, &i, "--max-reject-ratio", &missing))) {
            if (parse_ratio(v, &o.max_reject_ratio) != 0)
                return usage_error("--max-reject-ratio '%s': want a number from 0 to 1", v);
        } else if (missing) {
            return usage_error("%s needs a value", argv[i]);
        } else {
            return usage_error("build: unknown argument '%s'", argv[i]);
        }
    }
    for (int f = 0; f < SNAP_NFILES; f++)
        if (!o.input[f])
            return usage_error("build: %s is required", names[f]);
    if (!o.out)
        return usage_error("build: %s is required", "--out");

    snap_build_result res;
    char err[8192];
    char *report = NULL;
    size_t report_len = 0;
    o.report = open_memstream(&report, &report_len); /* printed after the counts */
    int rc = snap_build(&o, &res, err, sizeof err);
    if (o.report)
        fclose(o.report);
    if (res.counted)
        print_counts(&res);
    if (report)
        fputs(report, stdout);
    free(report);
    if (rc != SNAP_BUILD_OK) {
        fflush(stdout);
        if (rc == SNAP_BUILD_TOO_MANY)
            fprintf(stderr, PROG ": build: %s (rejects in %s)\n", err, res.rejects);
        else if (rc == SNAP_BUILD_GUARD)
            fprintf(stderr, PROG ": build: %s; the table above says what moved (--max-change to allow it)\n", err);
        else
            fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    printf("snapshot %s published at %s\nrejects written to %s\n", res.id, o.out, res.rejects);
    return 0;
}

static int cmd_path(int argc, char **argv, bool verify) {
    const char *path = NULL, *pubkey = NULL;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if (verify && (v = flag_value(argc, argv, &i, "--pubkey", &missing)))
            pubkey = v;
        else if (missing)
            return usage_error("%s needs a value", argv[i]);
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return usage_error("unknown argument '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return usage_error("%s takes exactly one PATH", argv[1]);
    }
    if (!path)
        return usage_error("%s takes exactly one PATH", argv[1]);
    char err[8192], ok[512];
    if (verify) {
        if (snap_verify(path, ok, sizeof ok, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": verify %s: %s\n", path, err);
            return 1;
        }
        if (pubkey && snap_check_signature(path, pubkey, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": verify %s: signature: %s\n", path, err);
            return 1;
        }
        printf("%s%s\n", ok, pubkey ? ", signed by the given key" : "");
        return 0;
    }
    if (snap_info(path, stdout, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": info %s: %s\n", path, err);
        return 1;
    }
    return 0;
}

static int cmd_diff(int argc, char **argv) {
    const char *paths[2] = {NULL, NULL};
    unsigned month = 0;
    bool json = false;
    int np = 0;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = flag_value(argc, argv, &i, "--period", &missing))) {
            if (parse_month(v, &month) != 0)
                return usage_error("--period '%s': want a month YYYY-MM", v);
        } else if (missing) {
            return usage_error("%s needs a value", argv[i]);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage_error("diff: unknown argument '%s'", argv[i]);
        } else if (np < 2) {
            paths[np++] = argv[i];
        } else {
            return usage_error("diff takes OLD and NEW, not '%s'", argv[i]);
        }
    }
    if (np != 2)
        return usage_error("%s", "diff needs OLD and NEW");
    cmp_diff *d = malloc(sizeof *d);
    char err[8192];
    if (!d) {
        fprintf(stderr, PROG ": diff: out of memory\n");
        return 1;
    }
    if (cmp_diff_run(paths[0], paths[1], month ? month : current_month(), d, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": diff %s %s: %s\n", paths[0], paths[1], err);
        free(d);
        return 1;
    }
    cmp_diff_print(d, json, stdout);
    free(d);
    return 0;
}

static int cmd_extract(int argc, char **argv) {
    snap_extract_opts o = {.source = NULL};
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = flag_value(argc, argv, &i, "--region", &missing))) {
            size_t n = strlen(v);
            if (n < 1 || n > 10 || strspn(v, "0123456789") != n)
                return usage_error("--region '%s': want a kode wilayah prefix, 1-10 digits", v);
            if (o.nregions == SNAP_EXTRACT_MAX_REGIONS)
                return usage_error("%s", "too many --region prefixes (at most 32)");
            o.regions[o.nregions++] = v;
        } else if ((v = flag_value(argc, argv, &i, "--out", &missing))) {
            o.out = v;
        } else if ((v = flag_value(argc, argv, &i, "--id", &missing))) {
            if (!snap_valid_id(v))
                return usage_error("--id '%s': want 1-64 chars of A-Za-z0-9._:-", v);
            o.id = v;
        } else if (missing) {
            return usage_error("%s needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage_error("extract: unknown argument '%s'", argv[i]);
        } else if (!o.source) {
            o.source = argv[i];
        } else {
            return usage_error("extract takes one SNAPSHOT, not also '%s'", argv[i]);
        }
    }
    if (!o.source || !o.out || o.nregions == 0)
        return usage_error("%s", "extract needs SNAPSHOT, --region PREFIX and --out PATH");
    snap_extract_result res;
    char err[8192];
    if (snap_extract(&o, &res, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": extract %s: %s\n", o.source, err);
        return 1;
    }
    printf("extract %s published at %s: %llu households, %llu members, %llu enrollments, %llu kks cards\n",
           res.id, o.out, (unsigned long long)res.households, (unsigned long long)res.members,
           (unsigned long long)res.enrollments, (unsigned long long)res.cards);
    return 0;
}

static int cmd_sign(int argc, char **argv) {
    const char *path = NULL, *key = NULL;
    for (int i = 2; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = flag_value(argc, argv, &i, "--key", &missing)))
            key = v;
        else if (missing)
            return usage_error("%s needs a value", argv[i]);
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return usage_error("sign: unknown argument '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return usage_error("sign takes one PATH, not also '%s'", argv[i]);
    }
    if (!path || !key)
        return usage_error("%s", "sign needs PATH and --key PRIVATE.pem");
    char err[8192];
    if (snap_sign(path, key, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": sign %s: %s\n", path, err);
        return 1;
    }
    printf("signed %s\n", path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage_error("%s", "missing command");
    const char *cmd = argv[1];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf(PROG " %s\n", ELIG_VERSION_STRING);
            return 0;
        }
    }
    if (strcmp(cmd, "build") == 0)
        return cmd_build(argc, argv);
    if (strcmp(cmd, "info") == 0)
        return cmd_path(argc, argv, false);
    if (strcmp(cmd, "verify") == 0)
        return cmd_path(argc, argv, true);
    if (strcmp(cmd, "diff") == 0)
        return cmd_diff(argc, argv);
    if (strcmp(cmd, "extract") == 0)
        return cmd_extract(argc, argv);
    if (strcmp(cmd, "sign") == 0)
        return cmd_sign(argc, argv);
    return usage_error("unknown command '%s'", cmd);
}
