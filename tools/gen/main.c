/* main.c — elig-gen: synthetic DTKS-like registry export for eligd.
 *
 * Parses the command line, then streams families 0..N-1 through
 * gen_family_make and gen_emit_family into the three CSV files. Memory does
 * not grow with N: a family is made, written and forgotten. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bad.h"
#include "family.h"
#include "geo.h"
#include "out.h"
#include "rows.h"

#define PROG "elig-gen"
#define HORIZON_MONTHS 84 /* seven years of programme history from --start */

typedef struct {
    uint64_t households;
    bool have_households;
    uint64_t seed;
    const char *out;
    double bad_ratio;
    uint32_t start; /* months */
    bool quiet;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: " PROG " --households N --out DIR [options]\n"
            "Writes DIR/households.csv, DIR/members.csv and DIR/enrollments.csv: a synthetic\n"
            "DTKS-like registry export (SPEC section 1), the same bytes for the same arguments.\n"
            "Also writes DIR/expected_rejects.csv (file,reason,count): the rows a builder\n"
            "following SPEC section 1 must reject.\n"
            "\n"
            "  --households N   families to generate (required)\n"
            "  --out DIR        output directory, created if missing (required)\n"
            "  --seed S         seed, an unsigned 64-bit number (default 1)\n"
            "  --bad-ratio R    about R of the rows are followed by a row that breaks a rule\n"
            "                   of SPEC section 1, every reject reason in turn; 0-1 (default 0)\n"
            "  --start YYYY-MM  first month of the programme history, which runs %d months\n"
            "                   (default 2019-01)\n"
            "  --quiet          no summary on stderr\n"
            "  --help           this text\n",
            HORIZON_MONTHS);
}

static int usage_error(const char *what, const char *value) {
    if (value)
        fprintf(stderr, PROG ": %s: '%s' (see --help)\n", what, value);
    else
        fprintf(stderr, PROG ": %s (see --help)\n", what);
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_ratio(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || *end || !(v >= 0 && v <= 1))
        return false;
    *out = v;
    return true;
}

static bool parse_month(const char *s, uint32_t *out) {
    unsigned y, m;
    char tail;
    if (strlen(s) != 7 || sscanf(s, "%4u-%2u%c", &y, &m, &tail) != 2 || s[4] != '-')
        return false;
    if (y < 1950 || y > 2200 || m < 1 || m > 12)
        return false;
    *out = y * 12 + m - 1;
    return true;
}

/* Takes the value of --name VALUE or --name=VALUE; NULL if this is another flag. */
static const char *flag_value(const char *name, int argc, char **argv, int *i, bool *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* 0 ok, 1 --help given, 2 usage error (already reported). */
static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.seed = 1, .start = 2019 * 12};
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
        if (!strcmp(argv[i], "--quiet")) {
            o->quiet = true;
        } else if ((v = flag_value("--households", argc, argv, &i, &missing))) {
            if (!parse_u64(v, &o->households))
                return usage_error("--households: expected a whole number", v);
            o->have_households = true;
        } else if ((v = flag_value("--seed", argc, argv, &i, &missing))) {
            if (!parse_u64(v, &o->seed))
                return usage_error("--seed: expected an unsigned 64-bit number", v);
        } else if ((v = flag_value("--out", argc, argv, &i, &missing))) {
            if (!*v)
                return usage_error("--out: empty directory name", NULL);
            o->out = v;
        } else if ((v = flag_value("--bad-ratio", argc, argv, &i, &missing))) {
            if (!parse_ratio(v, &o->bad_ratio))
                return usage_error("--bad-ratio: expected a number from 0 to 1", v);
        } else if ((v = flag_value("--start", argc, argv, &i, &missing))) {
            if (!parse_month(v, &o->start))
                return usage_error("--start: expected YYYY-MM, year 1950-2200", v);
        } else if (missing) {
            return usage_error("missing value after", argv[i]);
        } else {
            return usage_error("unknown argument", argv[i]);
        }
    }
    if (!o->have_households)
        return usage_error("--households N is required", NULL);
    if (!o->out)
        return usage_error("--out DIR is required", NULL);
    return 0;
}

/* mkdir -p: 0, or -1 with errno set. */
static int make_dirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static const char *const headers[GEN_FILES] = {GEN_HOUSEHOLDS_HEADER, GEN_MEMBERS_HEADER,
                                               GEN_ENROLLMENTS_HEADER};

static int fail_out(const gen_out *o) {
    fprintf(stderr, PROG ": %s: write failed: %s\n", o->path, strerror(o->err));
    return 1;
}

/* The oracle: per file and reason, the rows a SPEC-exact builder rejects. */
static int write_expected(const char *dir, const gen_bad *bad) {
    gen_out o;
    if (gen_out_open(&o, dir, "expected_rejects.csv", "file,reason,count\n") != 0) {
        gen_out_close(&o);
        return fail_out(&o);
    }
    for (unsigned f = 0; f < GEN_FILES; f++) {
        for (unsigned r = 0; r < GEN_REASONS; r++) {
            if (!bad->expected[f][r])
                continue;
            char line[128];
            int n = snprintf(line, sizeof line, "%s,%s,%llu\n", gen_file_name(f),
                             gen_reason_code(r), (unsigned long long)bad->expected[f][r]);
            gen_out_row(&o, line, (size_t)n);
        }
    }
    return gen_out_close(&o) == 0 ? 0 : fail_out(&o);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void summary(const options *o, gen_out out[GEN_FILES], const gen_bad *bad, double secs) {
    uint64_t rows = 0, rejects = 0;
    for (unsigned f = 0; f < GEN_FILES; f++) {
        rows += out[f].rows;
        for (unsigned r = 0; r < GEN_REASONS; r++)
            rejects += bad->expected[f][r];
    }
    fprintf(stderr,
            PROG ": %s: households.csv %llu rows, members.csv %llu rows, enrollments.csv %llu "
                 "rows; %llu rows to be rejected; %.1f s, %.0f rows/s\n",
            o->out, (unsigned long long)out[0].rows, (unsigned long long)out[1].rows,
            (unsigned long long)out[2].rows, (unsigned long long)rejects, secs,
            secs > 0 ? (double)rows / secs : 0.0);
}

static int generate(const options *o, const gen_geo *geo) {
    gen_out out[GEN_FILES];
    gen_bad bad = {.threshold = gen_bad_threshold(o->bad_ratio)};
    gen_calendar cal = {.start = o->start, .horizon = HORIZON_MONTHS};
    double t0 = now_seconds();
    int rc = 0;
    unsigned opened = 0;
    for (; opened < GEN_FILES; opened++) {
        if (gen_out_open(&out[opened], o->out, gen_file_name(opened), headers[opened]) != 0) {
            rc = fail_out(&out[opened]);
            gen_out_close(&out[opened]);
            break;
        }
    }
    gen_family fam;
    for (uint64_t i = 0; rc == 0 && i < o->households; i++) {
        gen_family_make(&fam, geo, &cal, o->seed, i);
        gen_emit_family(out, &fam, &bad, o->seed);
        for (unsigned f = 0; f < GEN_FILES && rc == 0; f++)
            if (gen_out_failed(&out[f]))
                rc = fail_out(&out[f]);
    }
    for (unsigned f = 0; f < opened; f++)
        if (gen_out_close(&out[f]) != 0 && rc == 0)
            rc = fail_out(&out[f]);
    if (rc == 0)
        rc = write_expected(o->out, &bad);
    if (rc == 0 && !o->quiet)
        summary(o, out, &bad, now_seconds() - t0);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    gen_geo geo;
    if (gen_geo_init(&geo, o.seed) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (o.households > gen_geo_capacity(&geo)) {
        fprintf(stderr, PROG ": --households %llu: at most %llu (4-digit KK and NIK serials per district)\n",
                (unsigned long long)o.households, (unsigned long long)gen_geo_capacity(&geo));
        gen_geo_free(&geo);
        return 2;
    }
    if (make_dirs(o.out) != 0) {
        fprintf(stderr, PROG ": %s: cannot create directory: %s\n", o.out, strerror(errno));
        gen_geo_free(&geo);
        return 1;
    }
    rc = generate(&o, &geo);
    gen_geo_free(&geo);
    return rc;
}
