/* test_gen.c — elig-gen, driven as a program (black box).
 *
 * Environment: ELIG_GEN is the elig-gen binary, ELIG_GEN_TMP a scratch
 * directory (both set by tests/gen/CMakeLists.txt). Every check of the
 * generated data uses libelig's own field validators (the builder's), or
 * facts written by hand from SPEC section 1 and the brief: never a value
 * computed by the generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "elig.h"

static const char *gen_bin;
static const char *tmp_dir;

/* ---- running elig-gen ---------------------------------------------------- */

/* Runs elig-gen with the NULL-terminated arguments, stdout and stderr to
 * files under tmp_dir; returns its exit status (or -1). */
static int run_gen(const char *first, ...) {
    const char *argv[32] = {gen_bin};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char out[4096], err[4096];
    snprintf(out, sizeof out, "%s/stdout.txt", tmp_dir);
    snprintf(err, sizeof err, "%s/stderr.txt", tmp_dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
            _exit(127);
        execv(gen_bin, (char *const *)argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *path_in(const char *dir, const char *name) {
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s/%s", tmp_dir, dir, name);
    return b;
}

static char *dir_path(const char *dir) {
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmp_dir, dir);
    return b;
}

/* Whole file in memory (NUL-terminated); *n its length. */
static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = '\0';
    fclose(f);
    *n = (size_t)len;
    return b;
}

static bool same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    bool same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* ---- a minimal RFC 4180 reader (quoted fields may hold , " and LF) ----- */

#define MAX_FIELDS 16

typedef struct {
    const char *p, *end;
    char *scratch; /* unquoted copies of quoted fields */
    const char *f[MAX_FIELDS];
    size_t n[MAX_FIELDS];
    int count;
} csv;

static void csv_init(csv *c, const char *buf, size_t len) {
    c->p = buf;
    c->end = buf + len;
    c->scratch = malloc(len + 1);
    assert_non_null(c->scratch);
}

/* Next record into c->f/c->n; false at end of input. */
static bool csv_next(csv *c) {
    if (c->p >= c->end)
        return false;
    char *s = c->scratch;
    c->count = 0;
    for (;;) {
        assert_true(c->count < MAX_FIELDS);
        if (*c->p == '"') {
            c->p++;
            c->f[c->count] = s;
            char *start = s;
            for (;;) {
                assert_true(c->p < c->end); /* unterminated quote */
                if (*c->p == '"' && c->p + 1 < c->end && c->p[1] == '"') {
                    *s++ = '"';
                    c->p += 2;
                } else if (*c->p == '"') {
                    c->p++;
                    break;
                } else {
                    *s++ = *c->p++;
                }
            }
            c->n[c->count++] = (size_t)(s - start);
        } else {
            const char *start = c->p;
            while (c->p < c->end && *c->p != ',' && *c->p != '\n')
                c->p++;
            c->f[c->count] = start;
            c->n[c->count++] = (size_t)(c->p - start);
        }
        if (c->p >= c->end || *c->p == '\n') {
            c->p++;
            return true;
        }
        assert_int_equal(*c->p, ',');
        c->p++;
    }
}

static bool field_is(const csv *c, int i, const char *s) {
    return c->n[i] == strlen(s) && memcmp(c->f[i], s, c->n[i]) == 0;
}

static void expect_header(csv *c, const char *const *names, int count) {
    assert_true(csv_next(c));
    assert_int_equal(c->count, count);
    for (int i = 0; i < count; i++)
        assert_true(field_is(c, i, names[i]));
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t count_duplicates(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    size_t d = 0;
    for (size_t i = 1; i < n; i++)
        d += v[i] == v[i - 1];
    return d;
}

static unsigned digits(const char *s, int n) {
    unsigned v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

/* ---- usage and errors -------------------------------------------------- */

static void test_help_lists_every_flag(void **state) {
    (void)state;
    assert_int_equal(run_gen("--help", NULL), 0);
    size_t n;
    char *out = slurp(dir_path("stdout.txt"), &n);
    const char *flags[] = {"--households", "--out",  "--seed", "--bad-ratio",
                           "--start",      "--quiet", "--help"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        assert_non_null(strstr(out, flags[i]));
    assert_non_null(strstr(out, "default 1)"));
    assert_non_null(strstr(out, "default 2019-01"));
    free(out);
}

/* stderr of the last run is exactly one line naming the program. */
static void expect_one_line_error(void) {
    size_t n;
    char *err = slurp(dir_path("stderr.txt"), &n);
    assert_true(n > 0);
    assert_int_equal(strncmp(err, "elig-gen: ", 10), 0);
    assert_ptr_equal(strchr(err, '\n'), err + n - 1);
    free(err);
}

static void test_usage_errors_exit_2(void **state) {
    (void)state;
    const char *o = dir_path("usage");
    assert_int_equal(run_gen("--out", o, NULL), 2); /* --households missing */
    expect_one_line_error();
    assert_int_equal(run_gen("--households", "10", NULL), 2); /* --out missing */
    expect_one_line_error();
    assert_int_equal(run_gen("--households", "ten", "--out", o, NULL), 2);
    expect_one_line_error();
    assert_int_equal(run_gen("--households", "-1", "--out", o, NULL), 2);
    assert_int_equal(run_gen("--households", "10", "--out", o, "--bad-ratio", "1.5", NULL), 2);
    assert_int_equal(run_gen("--households", "10", "--out", o, "--bad-ratio", "-0.1", NULL), 2);
    assert_int_equal(run_gen("--households", "10", "--out", o, "--start", "2019-13", NULL), 2);
    assert_int_equal(run_gen("--households", "10", "--out", o, "--start", "2019-1", NULL), 2);
    assert_int_equal(run_gen("--households", "10", "--out", o, "--seed", "x", NULL), 2);
    assert_int_equal(run_gen("--households", "10", "--out", o, "--frobnicate", NULL), 2);
    expect_one_line_error();
    assert_int_equal(run_gen("--households", "10", "--out", NULL), 2); /* value missing */
    /* more families than 4-digit serials can number */
    assert_int_equal(run_gen("--households", "999999999999", "--out", o, NULL), 2);
    expect_one_line_error();
}

static void test_unwritable_output_exits_1(void **state) {
    (void)state;
    /* --out names a path under a regular file: not a usage error */
    FILE *f = fopen(dir_path("plainfile"), "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(run_gen("--households", "10", "--out", path_in("plainfile", "sub"), NULL), 1);
    expect_one_line_error();
    assert_int_equal(run_gen("--households", "10", "--out", dir_path("plainfile"), NULL), 1);
    expect_one_line_error();
}

/* ---- determinism ------------------------------------------------------- */

static const char *const files[] = {"households.csv", "members.csv", "enrollments.csv"};

static void test_same_seed_same_bytes(void **state) {
    (void)state;
    assert_int_equal(run_gen("--households", "3000", "--seed", "42", "--out", dir_path("d1"),
                             "--quiet", NULL), 0);
    assert_int_equal(run_gen("--households", "3000", "--seed", "42", "--out", dir_path("d2"),
                             "--quiet", NULL), 0);
    assert_int_equal(run_gen("--households", "3000", "--seed", "43", "--out", dir_path("d3"),
                             "--quiet", NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(same_file(path_in("d1", files[i]), path_in("d2", files[i])));
        assert_false(same_file(path_in("d1", files[i]), path_in("d3", files[i])));
    }
    /* the bad rows are drawn deterministically too */
    assert_int_equal(run_gen("--households", "3000", "--seed", "42", "--bad-ratio", "0.05",
                             "--out", dir_path("b1"), "--quiet", NULL), 0);
    assert_int_equal(run_gen("--households", "3000", "--seed", "42", "--bad-ratio", "0.05",
                             "--out", dir_path("b2"), "--quiet", NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_true(same_file(path_in("b1", files[i]), path_in("b2", files[i])));
    assert_true(same_file(path_in("b1", "expected_rejects.csv"),
                          path_in("b2", "expected_rejects.csv")));
}

/* Lines of a, in order, are a subsequence of the lines of b. */
static bool is_line_subsequence(const char *a, const char *b) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    const char *p = x, *q = y;
    while (*p) {
        const char *pe = strchr(p, '\n');
        size_t len = (size_t)(pe - p) + 1;
        while (*q && !(strncmp(q, p, len) == 0))
            q = strchr(q, '\n') + 1;
        if (!*q)
            break;
        q += len;
        p += len;
    }
    bool ok = *p == '\0';
    free(x);
    free(y);
    return ok;
}

/* Bad rows are added next to the clean rows, which stay as they were: the
 * same seed with and without --bad-ratio describes the same registry. */
static void test_bad_rows_leave_clean_rows_intact(void **state) {
    (void)state;
    assert_int_equal(run_gen("--households", "2000", "--seed", "9", "--out", dir_path("c0"),
                             "--quiet", NULL), 0);
    assert_int_equal(run_gen("--households", "2000", "--seed", "9", "--bad-ratio", "0.05",
                             "--out", dir_path("c5"), "--quiet", NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(is_line_subsequence(path_in("c0", files[i]), path_in("c5", files[i])));
        assert_false(same_file(path_in("c0", files[i]), path_in("c5", files[i])));
    }
    /* clean output promises no rejects */
    size_t n;
    char *exp = slurp(path_in("c0", "expected_rejects.csv"), &n);
    assert_string_equal(exp, "file,reason,count\n");
    free(exp);
}

/* ---- shape of the clean data ------------------------------------------- */

#define N_FAMILIES 20000

typedef struct {
    uint64_t kk;
    char region[10];
    unsigned members;
    bool pkh, bpnt, pbi;
} family;

static family *families;
static size_t n_families;

static int cmp_family(const void *a, const void *b) {
    return cmp_u64(&((const family *)a)->kk, &((const family *)b)->kk);
}

static family *find_family(const char *kk, size_t n) {
    uint64_t id;
    if (elig_parse_id16(kk, n, &id) != 0)
        return NULL;
    family key = {.kk = id};
    return bsearch(&key, families, n_families, sizeof *families, cmp_family);
}

/* The 38 province codes (Kemendagri), typed from the official list. */
static bool real_province(unsigned p) {
    static const unsigned codes[] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33,
                                     34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65, 71, 72,
                                     73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i] == p)
            return true;
    return false;
}

static int setup_shape(void **state) {
    (void)state;
    return run_gen("--households", "20000", "--seed", "2024", "--out", dir_path("shape"),
                   "--quiet", NULL);
}

static void test_households(void **state) {
    (void)state;
    size_t len;
    char *buf = slurp(path_in("shape", "households.csv"), &len);
    csv c;
    csv_init(&c, buf, len);
    static const char *const cols[] = {"kk", "region", "status", "kks", "head_name"};
    expect_header(&c, cols, 5);
    families = calloc(N_FAMILIES + 1, sizeof *families);
    uint64_t *kks = calloc(N_FAMILIES, sizeof *kks);
    size_t n_kks = 0, statuses[4] = {0}, comma = 0, quote = 0, multibyte = 0, empty = 0;
    n_families = 0;
    while (csv_next(&c)) {
        assert_int_equal(c.count, 5);
        assert_true(n_families < N_FAMILIES);
        family *f = &families[n_families++];
        assert_true(elig_valid_kk(c.f[0], c.n[0]));
        assert_int_equal(elig_parse_id16(c.f[0], c.n[0], &f->kk), 0);
        assert_true(elig_valid_region(c.f[1], c.n[1]));
        memcpy(f->region, c.f[1], 10);
        assert_true(real_province(digits(c.f[1], 2)));
        assert_true(digits(c.f[1] + 2, 2) > 0 && digits(c.f[1] + 4, 2) > 0);
        assert_true(digits(c.f[1] + 6, 4) >= 1001); /* kelurahan 1xxx, desa 2xxx */
        assert_memory_equal(c.f[0], c.f[1], 6);    /* KK issued in the family's district */
        int st = elig_hh_status_lookup(c.f[2], c.n[2]);
        assert_true(st >= 0);
        statuses[st]++;
        if (c.n[3]) {
            assert_int_equal(elig_parse_id16(c.f[3], c.n[3], &kks[n_kks]), 0);
            n_kks++;
        }
        assert_true(c.n[4] <= 100);
        assert_true(elig_valid_utf8(c.f[4], c.n[4]));
        comma += memchr(c.f[4], ',', c.n[4]) != NULL;
        quote += memchr(c.f[4], '"', c.n[4]) != NULL;
        empty += c.n[4] == 0;
        for (size_t i = 0; i < c.n[4]; i++)
            if ((unsigned char)c.f[4][i] >= 0x80) {
                multibyte++;
                break;
            }
    }
    assert_int_equal(n_families, N_FAMILIES);
    qsort(families, n_families, sizeof *families, cmp_family);
    for (size_t i = 1; i < n_families; i++)
        assert_true(families[i].kk != families[i - 1].kk); /* kk unique */
    assert_int_equal(count_duplicates(kks, n_kks), 0);     /* kks unique */
    assert_true(n_kks > N_FAMILIES * 8 / 10 && n_kks < N_FAMILIES * 96 / 100); /* most */
    assert_true(statuses[ELIG_HH_ACTIVE] > N_FAMILIES * 8 / 10);
    assert_true(statuses[ELIG_HH_SUSPENDED] > 0 && statuses[ELIG_HH_GRADUATED] > 0 &&
                statuses[ELIG_HH_TERMINATED] > 0);
    assert_true(comma > 0 && quote > 0 && multibyte > 0 && empty > 0);
    free(kks);
    free(c.scratch);
    free(buf);
}

/* NIK digits 7-12 against a YYYY-MM-DD birth date (+40 on the day for women). */
static bool nik_matches_date(const char *nik, const char *date) {
    unsigned day = digits(nik + 6, 2), d = digits(date + 8, 2);
    return (day == d || day == d + 40) && digits(nik + 8, 2) == digits(date + 5, 2) &&
           digits(nik + 10, 2) == digits(date + 2, 2);
}

static void test_members(void **state) {
    (void)state;
    assert_int_equal(n_families, N_FAMILIES); /* test_households ran */
    size_t len;
    char *buf = slurp(path_in("shape", "members.csv"), &len);
    csv c;
    csv_init(&c, buf, len);
    static const char *const cols[] = {"nik", "kk", "status", "birth_date"};
    expect_header(&c, cols, 4);
    size_t cap = N_FAMILIES * 8, n = 0, deceased = 0, no_date = 0, women = 0;
    uint64_t *niks = malloc(cap * sizeof *niks);
    while (csv_next(&c)) {
        assert_int_equal(c.count, 4);
        assert_true(n < cap);
        assert_true(elig_valid_nik(c.f[0], c.n[0]));
        assert_int_equal(elig_parse_id16(c.f[0], c.n[0], &niks[n]), 0);
        n++;
        family *f = find_family(c.f[1], c.n[1]);
        assert_non_null(f);
        f->members++;
        assert_memory_equal(c.f[0], f->region, 6);
        women += digits(c.f[0] + 6, 2) > 40;
        if (field_is(&c, 2, "deceased"))
            deceased++;
        else
            assert_true(field_is(&c, 2, "alive"));
        if (c.n[3] == 0) {
            no_date++;
            continue;
        }
        assert_true(elig_valid_date(c.f[3], c.n[3]));
        assert_true(nik_matches_date(c.f[0], c.f[3]));
    }
    assert_int_equal(count_duplicates(niks, n), 0);
    size_t by_size[9] = {0};
    for (size_t i = 0; i < n_families; i++) {
        assert_true(families[i].members >= 1 && families[i].members <= 8);
        by_size[families[i].members]++;
    }
    double mean = (double)n / (double)n_families;
    assert_true(mean > 3.1 && mean < 3.6);
    assert_true(by_size[1] > 0 && by_size[8] > 0);
    assert_true(deceased > 0 && deceased < n / 10);
    assert_true(no_date > 0 && no_date < n / 10);
    assert_true(women > n * 4 / 10 && women < n * 6 / 10);
    free(niks);
    free(c.scratch);
    free(buf);
}

typedef struct {
    uint64_t kk;
    char program[17];
    elig_month start, end;
} enr;

static int cmp_enr(const void *a, const void *b) {
    const enr *x = a, *y = b;
    if (x->kk != y->kk)
        return x->kk < y->kk ? -1 : 1;
    int c = strcmp(x->program, y->program);
    if (c)
        return c;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* BPNT per month: Rp 110,000 to 2020-02, 150,000 from 2020-03, 200,000
 * from 2020-05 (the brief's schedule). */
static uint32_t bpnt_amount(elig_month m) {
    if (m < 2020 * 12 + 2)
        return 110000;
    return m < 2020 * 12 + 4 ? 150000 : 200000;
}

static void test_enrollments(void **state) {
    (void)state;
    assert_int_equal(n_families, N_FAMILIES);
    size_t len;
    char *buf = slurp(path_in("shape", "enrollments.csv"), &len);
    csv c;
    csv_init(&c, buf, len);
    static const char *const cols[] = {"kk", "program", "start", "end", "amount", "status"};
    expect_header(&c, cols, 6);
    size_t cap = N_FAMILIES * 24, n = 0, suspended = 0, closed = 0;
    enr *rows = malloc(cap * sizeof *rows);
    while (csv_next(&c)) {
        assert_int_equal(c.count, 6);
        assert_true(n < cap);
        enr *e = &rows[n++];
        family *f = find_family(c.f[0], c.n[0]);
        assert_non_null(f);
        assert_int_equal(elig_parse_id16(c.f[0], c.n[0], &e->kk), 0);
        assert_true(elig_valid_program(c.f[1], c.n[1]));
        assert_true(field_is(&c, 1, "PKH") || field_is(&c, 1, "BPNT") || field_is(&c, 1, "PBI"));
        memcpy(e->program, c.f[1], c.n[1]);
        e->program[c.n[1]] = '\0';
        f->pkh |= field_is(&c, 1, "PKH");
        f->bpnt |= field_is(&c, 1, "BPNT");
        f->pbi |= field_is(&c, 1, "PBI");
        assert_int_equal(elig_parse_period(c.f[2], c.n[2], &e->start), 0);
        e->end = ELIG_MONTH_OPEN;
        if (c.n[3]) {
            assert_int_equal(elig_parse_period(c.f[3], c.n[3], &e->end), 0);
            assert_true(e->end >= e->start);
            closed += e->end > 2020 * 12 + 4; /* not just a change of amount */
        }
        uint32_t amount;
        assert_true(elig_parse_amount(c.f[4], c.n[4], &amount));
        if (field_is(&c, 1, "BPNT")) { /* one amount for every month covered */
            elig_month last = e->end == ELIG_MONTH_OPEN ? 2100 * 12 : e->end;
            assert_int_equal(amount, bpnt_amount(e->start));
            assert_int_equal(amount, bpnt_amount(last));
        }
        if (field_is(&c, 5, "suspended"))
            suspended++;
        else
            assert_true(field_is(&c, 5, "active"));
    }
    /* no two rows of one family and programme share a month */
    qsort(rows, n, sizeof *rows, cmp_enr);
    for (size_t i = 1; i < n; i++)
        if (rows[i].kk == rows[i - 1].kk && !strcmp(rows[i].program, rows[i - 1].program))
            assert_true(rows[i - 1].end != ELIG_MONTH_OPEN && rows[i - 1].end < rows[i].start);
    size_t pkh = 0, bpnt = 0, pbi = 0;
    for (size_t i = 0; i < n_families; i++) {
        pkh += families[i].pkh;
        bpnt += families[i].bpnt;
        pbi += families[i].pbi;
    }
    /* the real caseload: about 10 of 27 families in PKH, 15.6 of 27 in BPNT */
    double p = (double)pkh / N_FAMILIES, b = (double)bpnt / N_FAMILIES;
    assert_true(p > 10.0 / 27 - 0.02 && p < 10.0 / 27 + 0.02);
    assert_true(b > 15.6 / 27 - 0.02 && b < 15.6 / 27 + 0.02);
    assert_true(pbi > N_FAMILIES / 20);
    assert_true(suspended > 0 && closed > 0);
    free(rows);
    free(c.scratch);
    free(buf);
}

/* --start moves the whole history: nothing starts before it, and from
 * 2021 BPNT pays its 2020-05 rate throughout. */
static void test_start_month(void **state) {
    (void)state;
    assert_int_equal(run_gen("--households", "2000", "--seed", "5", "--start", "2021-07",
                             "--out", dir_path("late"), "--quiet", NULL), 0);
    size_t len;
    char *buf = slurp(path_in("late", "enrollments.csv"), &len);
    csv c;
    csv_init(&c, buf, len);
    assert_true(csv_next(&c)); /* header */
    size_t rows = 0, at_start = 0;
    while (csv_next(&c)) {
        elig_month start;
        assert_int_equal(elig_parse_period(c.f[2], c.n[2], &start), 0);
        assert_true(start >= 2021 * 12 + 6);
        at_start += start == 2021 * 12 + 6;
        if (field_is(&c, 1, "BPNT"))
            assert_true(field_is(&c, 4, "200000"));
        rows++;
    }
    assert_true(rows > 1000 && at_start > rows / 3);
    free(c.scratch);
    free(buf);
}

/* ---- bad rows ------------------------------------------------------------ */

/* The injected rows cover every reject reason of SPEC 1 in the files where
 * it can occur (the builder test checks that they are rejected as such). */
static void test_bad_ratio_covers_every_reason(void **state) {
    (void)state;
    assert_int_equal(run_gen("--households", "5000", "--seed", "3", "--bad-ratio", "0.02",
                             "--out", dir_path("bad"), "--quiet", NULL), 0);
    size_t len;
    char *exp = slurp(path_in("bad", "expected_rejects.csv"), &len);
    static const char *const want[] = {
        "households.csv,malformed_row,", "households.csv,bad_kk,",
        "households.csv,bad_region,",    "households.csv,bad_status,",
        "households.csv,bad_kks,",       "households.csv,bad_name,",
        "households.csv,duplicate_kk,",  "households.csv,duplicate_kks,",
        "members.csv,malformed_row,",    "members.csv,bad_nik,",
        "members.csv,bad_kk,",           "members.csv,bad_status,",
        "members.csv,bad_birth_date,",   "members.csv,duplicate_nik,",
        "members.csv,unknown_kk,",       "enrollments.csv,malformed_row,",
        "enrollments.csv,bad_kk,",       "enrollments.csv,bad_program,",
        "enrollments.csv,bad_period,",   "enrollments.csv,bad_amount,",
        "enrollments.csv,bad_status,",   "enrollments.csv,unknown_kk,",
        "enrollments.csv,overlapping_enrollment,"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_non_null(strstr(exp, want[i]));
    free(exp);
}

int main(void) {
    gen_bin = getenv("ELIG_GEN");
    tmp_dir = getenv("ELIG_GEN_TMP");
    if (!gen_bin || !tmp_dir) {
        fprintf(stderr, "test_gen: set ELIG_GEN and ELIG_GEN_TMP\n");
        return 1;
    }
    mkdir(tmp_dir, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_flag),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_unwritable_output_exits_1),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_bad_rows_leave_clean_rows_intact),
        cmocka_unit_test_setup(test_households, setup_shape),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_enrollments),
        cmocka_unit_test(test_start_month),
        cmocka_unit_test(test_bad_ratio_covers_every_reason),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(families);
    return failed;
}
