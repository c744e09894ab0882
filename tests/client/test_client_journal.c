/* test_client_journal.c — the offline terminal's journal file
 * (client/journal.h): what is appended reads back field by field; a crash
 * mid-write (the file cut anywhere inside its last record, or zeros where
 * the record should be) loses that record only, never a torn one read as
 * whole, and the next append lands on the record boundary; damage before
 * the tail is reported, not read around; acknowledgements; CRC-32C.
 *
 * Record lengths are computed here from the format written in journal.h,
 * not taken from the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"

static char dir[] = "/tmp/eligc-journal-XXXXXX";

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* The i-th test answer (1-based), every field different per i. */
static jrn_answer answer(int i) {
    jrn_answer a = {
        .time_us = 1764000000000000ull + (uint64_t)i * 1000003u,
        .kind = (elig_kind)(i % 3),
        .id = 3273010101900000ull + (uint64_t)i,
        .period = (elig_month)(2026 * 12 + i % 12),
        .reason = (elig_reason)(i % 9),
        .found = i % 4 != 0,
        .amount = i % 9 == 0 ? 200000u + (uint32_t)i : 0,
    };
    if (a.found) {
        a.kk = 3273010101010000ull + (uint64_t)i;
        a.region = 3273010001ull + (uint64_t)i;
    }
    snprintf(a.program, sizeof a.program, "%s", i % 2 ? "PKH" : "BPNT");
    snprintf(a.extract, sizeof a.extract, "jabar-%d", i);
    return a;
}

/* journal.h: head 8 + type 1, seq 8, time 8, kind 1, id 8, period 4,
 * reason 1, found 1, kk 8, region 8, amount 4, program 1+n, extract 1+n. */
static size_t answer_len(const jrn_answer *a) {
    return 8 + 1 + 8 + 8 + 1 + 8 + 4 + 1 + 1 + 8 + 8 + 4 + 1 + strlen(a->program) + 1 + strlen(a->extract);
}

static long file_size(const char *p) {
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return (long)st.st_size;
}

/* Writes n answers (1..n) to a fresh journal at p. */
static void write_journal(const char *p, int n) {
    unlink(p);
    jrn *j;
    char why[300];
    assert_int_equal(jrn_open(p, &j, why, sizeof why), 0);
    for (int i = 1; i <= n; i++) {
        jrn_answer a = answer(i);
        assert_int_equal(jrn_append_answer(j, &a, why, sizeof why), 0);
        assert_int_equal(a.seq, (uint64_t)i);
    }
    jrn_close(j);
}

typedef struct {
    jrn_answer v[16];
    int n;
} got;

static void collect(void *ud, const jrn_answer *a) {
    got *g = ud;
    if (g->n < 16)
        g->v[g->n] = *a;
    g->n++;
}

static void assert_same(const jrn_answer *a, const jrn_answer *b) {
    assert_int_equal(a->time_us, b->time_us);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->period, b->period);
    assert_int_equal(a->reason, b->reason);
    assert_int_equal(a->found, b->found);
    assert_int_equal(a->kk, b->kk);
    assert_int_equal(a->region, b->region);
    assert_int_equal(a->amount, b->amount);
    assert_string_equal(a->program, b->program);
    assert_string_equal(a->extract, b->extract);
}

static void crc32c_check_value(void **state) {
    (void)state;
    assert_int_equal(jrn_crc32c(0, "123456789", 9), 0xE3069283u); /* the standard check value */
    assert_int_equal(jrn_crc32c(jrn_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void answers_read_back(void **state) {
    (void)state;
    char p[256], why[300], term[JRN_TERMINAL_LEN + 1];
    path_of(p, sizeof p, "roundtrip");
    write_journal(p, 5);
    long want = JRN_HEADER_LEN;
    for (int i = 1; i <= 5; i++) {
        jrn_answer a = answer(i);
        want += (long)answer_len(&a);
    }
    assert_int_equal(file_size(p), want);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    got g = {0};
    jrn_scan_result r;
    assert_int_equal(jrn_read(p, 0, collect, &g, &r, term, why, sizeof why), 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(r.records, 5);
    assert_int_equal(r.last_seq, 5);
    assert_int_equal(r.torn, 0);
    assert_int_equal(strlen(term), JRN_TERMINAL_LEN);
    assert_int_equal(strspn(term, "0123456789abcdef"), JRN_TERMINAL_LEN);
    for (int i = 0; i < 5; i++) {
        jrn_answer a = answer(i + 1);
        assert_int_equal(g.v[i].seq, (uint64_t)i + 1);
        assert_same(&g.v[i], &a);
    }
    /* past an acknowledgement only the later ones */
    jrn *j;
    assert_int_equal(jrn_open(p, &j, why, sizeof why), 0);
    assert_string_equal(jrn_terminal(j), term); /* the same terminal id */
    assert_int_equal(jrn_append_ack(j, 3, why, sizeof why), 0);
    jrn_close(j);
    memset(&g, 0, sizeof g);
    assert_int_equal(jrn_read(p, 3, collect, &g, &r, term, why, sizeof why), 0);
    assert_int_equal(r.acked, 3);
    assert_int_equal(r.records, 5);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.v[0].seq, 4);
    assert_int_equal(g.v[1].seq, 5);
}

/* A crash mid-write, at every byte of the last record. */
static void torn_last_record_at_every_byte(void **state) {
    (void)state;
    char p[256], why[300], term[JRN_TERMINAL_LEN + 1];
    path_of(p, sizeof p, "torn");
    write_journal(p, 3);
    jrn_answer third = answer(3);
    long whole = file_size(p), len3 = (long)answer_len(&third), start3 = whole - len3;
    for (long cut = start3 + 1; cut < whole; cut++) {
        write_journal(p, 3);
        assert_int_equal(truncate(p, cut), 0);
        got g = {0};
        jrn_scan_result r;
        assert_int_equal(jrn_read(p, 0, collect, &g, &r, term, why, sizeof why), 0);
        assert_int_equal(g.n, 2); /* the torn third is dropped, never half-read */
        assert_int_equal(r.last_seq, 2);
        assert_int_equal((long)r.end, start3);
        assert_int_equal((long)r.torn, cut - start3);
        /* the terminal restarts: the next answer takes the third's place */
        jrn *j;
        assert_int_equal(jrn_open(p, &j, why, sizeof why), 0);
        jrn_answer a = answer(7);
        assert_int_equal(jrn_append_answer(j, &a, why, sizeof why), 0);
        assert_int_equal(a.seq, 3);
        jrn_close(j);
        assert_int_equal(file_size(p), start3 + (long)answer_len(&a));
        memset(&g, 0, sizeof g);
        assert_int_equal(jrn_read(p, 0, collect, &g, &r, term, why, sizeof why), 0);
        assert_int_equal(g.n, 3);
        assert_int_equal(r.torn, 0);
        assert_same(&g.v[2], &a);
    }
}

/* A crash can also leave zeros where the record was (the length grew, the
 * data never reached the disk). */
static void zeros_in_place_of_the_last_record(void **state) {
    (void)state;
    char p[256], why[300], term[JRN_TERMINAL_LEN + 1];
    path_of(p, sizeof p, "zeros");
    write_journal(p, 2);
    long whole = file_size(p);
    jrn_answer a = answer(3);
    FILE *f = fopen(p, "ab");
    assert_non_null(f);
    for (size_t i = 0; i < answer_len(&a); i++)
        fputc(0, f);
    fclose(f);
    got g = {0};
    jrn_scan_result r;
    assert_int_equal(jrn_read(p, 0, collect, &g, &r, term, why, sizeof why), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal((long)r.end, whole);
    assert_int_equal((long)r.torn, (long)answer_len(&a));
}

/* Damage that a torn write cannot explain is an error naming the file. */
static void damage_before_the_tail_is_an_error(void **state) {
    (void)state;
    char p[256], why[300], term[JRN_TERMINAL_LEN + 1];
    path_of(p, sizeof p, "damaged");
    write_journal(p, 4);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, JRN_HEADER_LEN + 20, SEEK_SET), 0); /* inside the first record's body */
    int ch = fgetc(f);
    assert_int_equal(fseek(f, JRN_HEADER_LEN + 20, SEEK_SET), 0);
    fputc(ch ^ 0x40, f);
    fclose(f);
    jrn_scan_result r;
    why[0] = '\0';
    assert_int_equal(jrn_read(p, 0, NULL, NULL, &r, term, why, sizeof why), -1);
    assert_non_null(strstr(why, p));
    jrn *j = NULL;
    assert_int_equal(jrn_open(p, &j, why, sizeof why), -1); /* and nothing is appended to it */
    assert_null(j);
    /* a header that is not a journal's */
    path_of(p, sizeof p, "notajournal");
    f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < 100; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(jrn_read(p, 0, NULL, NULL, &r, term, why, sizeof why), -1);
    assert_non_null(strstr(why, p));
}

static int setup(void **state) {
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    const char *names[] = {"roundtrip", "torn", "zeros", "damaged", "notajournal"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_of(p, sizeof p, names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_check_value),
        cmocka_unit_test(answers_read_back),
        cmocka_unit_test(torn_last_record_at_every_byte),
        cmocka_unit_test(zeros_in_place_of_the_last_record),
        cmocka_unit_test(damage_before_the_tail_is_an_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
