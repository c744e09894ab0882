/* test_build.c — `elig-snapshot build` against SPEC 1, reject by reject.
 *
 * Every field rule has rows on both sides of its boundary; every test
 * compares the whole rejects file (so a row rejected for the wrong reason,
 * at the wrong line or with the wrong raw bytes fails) and reads what was
 * accepted back through libelig, the daemon's reader. */
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
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "extract.h"

#include "elig.h"
#include "helpers.h"

#define K1 "3201010101010001"
#define REGION "3201010001"
#define ONE_HH HH_HEADER K1 "," REGION ",active,,\n"

/* ---- reading the snapshot back ----------------------------------------- */

typedef struct {
    elig_snap *snap;
    elig_reader *r;
} opened;

static opened open_snap(const char *path) {
    opened o;
    char err[512];
    int rc = elig_snap_open(path, &o.snap, err, sizeof err);
    if (rc != 0)
        fail_msg("elig_snap_open: %s", err);
    assert_int_equal(elig_reader_open(o.snap, &o.r), 0);
    return o;
}

static void close_snap(opened *o) {
    elig_reader_close(o->r);
    elig_snap_close(o->snap);
}

static uint64_t id16(const char *s) {
    uint64_t v;
    assert_int_equal(elig_parse_id16(s, strlen(s), &v), 0);
    return v;
}

/* 1 and *h if (kind, id) resolves, else 0. */
static int lookup(opened *o, elig_kind kind, const char *id, elig_household *h) {
    int rc = elig_household_get(o->r, kind, id16(id), h);
    assert_true(rc == 0 || rc == 1);
    return rc;
}

static void assert_counts(const tcase *t, int file, uint64_t read, uint64_t rejected) {
    assert_true(t->res.counted);
    assert_int_equal(t->res.read[file], read);
    assert_int_equal(t->res.rejected[file], rejected);
    assert_int_equal(t->res.accepted[file], read - rejected);
}

/* ---- field rules --------------------------------------------------------- */

static void household_field_rules(void **state) {
    tcase *t = *state;
    char name100[101], name101[102];
    memset(name100, 0, sizeof name100);
    for (int i = 0; i < 50; i++)
        memcpy(name100 + 2 * i, "\xC3\xA9", 2); /* 50 x e-acute: 100 bytes */
    memset(name101, 'a', 101);
    name101[101] = '\0';
    char hh[4096];
    snprintf(hh, sizeof hh,
             HH_HEADER
             "3201010101010001,3201010001,active,6013010000000001,Budi\n"     /* 2 ok */
             "0201010101010002,3201010001,active,,x\n"                        /* 3 first digit 0 */
             "320101010101000,3201010001,active,,x\n"                         /* 4 15 digits */
             "32010101010100a3,3201010001,active,,x\n"                        /* 5 letter */
             "3201010101010004,1001010001,active,,x\n"                        /* 6 province 10 */
             "3201010101010005,320101000,active,,x\n"                         /* 7 9 digits */
             "3201010101010006,3201010001,Active,,x\n"                        /* 8 case */
             "3201010101010007,3201010001,,,x\n"                              /* 9 empty */
             "3201010101010008,3201010001,active,601301000000000,x\n"         /* 10 kks 15 */
             "3201010101010009,3201010001,active,60130100000000x1,x\n"        /* 11 kks letter */
             "3201010101010010,3201010001,active,,%s\n"                       /* 12 101 bytes */
             "3201010101010011,3201010001,active,,a\xff" "b\n"                /* 13 not UTF-8 */
             "3201010101010012,3201010001,graduated,0000000000000000,%s\n"    /* 14 ok: 100 bytes */
             "3201010101010013,9999999999,terminated,,\n"                     /* 15 ok */
             "3201010101010014,1100000000,suspended,,\n"                      /* 16 ok: province 11 */
             "3201010101010015, 3201010001,active,,x\n"                       /* 17 no trimming */
             "3201010101010016,3201010001,active,,x,extra\n"                  /* 18 long row */
             "3201010101010017,3201010001,active\n"                           /* 19 short row */
             "0201010101010018,10,Active,bad,\xff\n"                          /* 20 -> bad_kk */
             "3201010101010019,10,Active,bad,\xff\n"                          /* 21 -> bad_region */
             "3201010101010020,3201010001,bogus,bad,\xff\n"                   /* 22 -> bad_status */
             "3201010101010021,3201010001,active,bad,\xff\n"                  /* 23 -> bad_kks */
             "3201010101010022,3201010001,active,,\xed\xa0\x80\n",            /* 24 surrogate */
             name101, name100);
    assert_int_equal(build3(t, hh, NULL, NULL, 1.0, "t1"), SNAP_BUILD_OK);
    char want[4096];
    snprintf(want, sizeof want,
             "households.csv,3,bad_kk,\"0201010101010002,3201010001,active,,x\"\n"
             "households.csv,4,bad_kk,\"320101010101000,3201010001,active,,x\"\n"
             "households.csv,5,bad_kk,\"32010101010100a3,3201010001,active,,x\"\n"
             "households.csv,6,bad_region,\"3201010101010004,1001010001,active,,x\"\n"
             "households.csv,7,bad_region,\"3201010101010005,320101000,active,,x\"\n"
             "households.csv,8,bad_status,\"3201010101010006,3201010001,Active,,x\"\n"
             "households.csv,9,bad_status,\"3201010101010007,3201010001,,,x\"\n"
             "households.csv,10,bad_kks,\"3201010101010008,3201010001,active,601301000000000,x\"\n"
             "households.csv,11,bad_kks,\"3201010101010009,3201010001,active,60130100000000x1,x\"\n"
             "households.csv,12,bad_name,\"3201010101010010,3201010001,active,,%s\"\n"
             "households.csv,13,bad_name,\"3201010101010011,3201010001,active,,a\xff" "b\"\n"
             "households.csv,17,bad_region,\"3201010101010015, 3201010001,active,,x\"\n"
             "households.csv,18,malformed_row,\"3201010101010016,3201010001,active,,x,extra\"\n"
             "households.csv,19,malformed_row,\"3201010101010017,3201010001,active\"\n"
             "households.csv,20,bad_kk,\"0201010101010018,10,Active,bad,\xff\"\n"
             "households.csv,21,bad_region,\"3201010101010019,10,Active,bad,\xff\"\n"
             "households.csv,22,bad_status,\"3201010101010020,3201010001,bogus,bad,\xff\"\n"
             "households.csv,23,bad_kks,\"3201010101010021,3201010001,active,bad,\xff\"\n"
             "households.csv,24,bad_name,\"3201010101010022,3201010001,active,,\xed\xa0\x80\"\n",
             name101);
    assert_rejects(t, want);
    assert_counts(t, SNAP_HOUSEHOLDS, 23, 19);

    opened o = open_snap(t->out);
    elig_household h;
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010001", &h), 1);
    assert_int_equal(h.region, 3201010001u);
    assert_int_equal(h.status, ELIG_HH_ACTIVE);
    assert_true(h.has_kks);
    assert_int_equal(h.kks, id16("6013010000000001"));
    assert_int_equal(lookup(&o, ELIG_KIND_KKS, "6013010000000001", &h), 1);
    assert_int_equal(h.kk, id16("3201010101010001"));
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010012", &h), 1);
    assert_int_equal(h.status, ELIG_HH_GRADUATED);
    assert_int_equal(lookup(&o, ELIG_KIND_KKS, "0000000000000000", &h), 1);
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010013", &h), 1);
    assert_int_equal(h.status, ELIG_HH_TERMINATED);
    assert_false(h.has_kks);
    assert_int_equal(h.region, 9999999999u);
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010014", &h), 1);
    assert_int_equal(h.status, ELIG_HH_SUSPENDED);
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010004", &h), 0);
    assert_int_equal(elig_snap_meta(o.snap)->households, 4);
    close_snap(&o);
}

static void member_field_rules(void **state) {
    tcase *t = *state;
    const char *mem = MEM_HEADER
        "3201011501900001," K1 ",,\n"                  /* 2 ok: empty status = alive */
        "1001011501900002," K1 ",,\n"                  /* 3 province 10 */
        "3201010001900003," K1 ",,\n"                  /* 4 day 00 */
        "3201013201900004," K1 ",,\n"                  /* 5 day 32 */
        "3201014001900005," K1 ",,\n"                  /* 6 day 40 */
        "3201017101900006," K1 ",alive,\n"             /* 7 ok: day 71 */
        "3201017201900007," K1 ",,\n"                  /* 8 day 72 */
        "3201011500900008," K1 ",,\n"                  /* 9 month 00 */
        "3201011513900009," K1 ",,\n"                  /* 10 month 13 */
        "3201011501900000," K1 ",,\n"                  /* 11 serial 0000 */
        "320101150190001," K1 ",,\n"                   /* 12 15 digits */
        "3201014101900011," K1 ",deceased,2024-02-29\n" /* 13 ok: day 41, leap day */
        "3201011501900012,0201010101010001,alive,\n"   /* 14 bad kk */
        "3201011501900013," K1 ",Alive,\n"             /* 15 */
        "3201011501900014," K1 ",dead,\n"              /* 16 */
        "3201011501900015," K1 ",alive,2023-02-29\n"   /* 17 not a leap year */
        "3201011501900016," K1 ",alive,1990-1-05\n"    /* 18 */
        "3201011501900017," K1 ",alive,0000-01-01\n"   /* 19 year 0 */
        "3201011501900018," K1 ",alive,1900-02-29\n"   /* 20 1900 not leap */
        "3201011501900019," K1 ",alive,2000-02-29\n"   /* 21 ok: 2000 leap */
        "3201011501900020," K1 ",alive,1990-04-31\n"   /* 22 */
        "1001011501900021,0201010101010001,dead,bad\n" /* 23 -> bad_nik */
        "3201011501900022,0201010101010001,dead,bad\n" /* 24 -> bad_kk */
        "3201011501900023," K1 ",dead,bad\n"           /* 25 -> bad_status */
        "3201011501900024,320101010101000a,,\n";       /* 26 kk with a letter */
    assert_int_equal(build3(t, ONE_HH, mem, NULL, 1.0, "t"), SNAP_BUILD_OK);
    assert_rejects(t, "members.csv,3,bad_nik,\"1001011501900002," K1 ",,\"\n"
                      "members.csv,4,bad_nik,\"3201010001900003," K1 ",,\"\n"
                      "members.csv,5,bad_nik,\"3201013201900004," K1 ",,\"\n"
                      "members.csv,6,bad_nik,\"3201014001900005," K1 ",,\"\n"
                      "members.csv,8,bad_nik,\"3201017201900007," K1 ",,\"\n"
                      "members.csv,9,bad_nik,\"3201011500900008," K1 ",,\"\n"
                      "members.csv,10,bad_nik,\"3201011513900009," K1 ",,\"\n"
                      "members.csv,11,bad_nik,\"3201011501900000," K1 ",,\"\n"
                      "members.csv,12,bad_nik,\"320101150190001," K1 ",,\"\n"
                      "members.csv,14,bad_kk,\"3201011501900012,0201010101010001,alive,\"\n"
                      "members.csv,15,bad_status,\"3201011501900013," K1 ",Alive,\"\n"
                      "members.csv,16,bad_status,\"3201011501900014," K1 ",dead,\"\n"
                      "members.csv,17,bad_birth_date,\"3201011501900015," K1 ",alive,2023-02-29\"\n"
                      "members.csv,18,bad_birth_date,\"3201011501900016," K1 ",alive,1990-1-05\"\n"
                      "members.csv,19,bad_birth_date,\"3201011501900017," K1 ",alive,0000-01-01\"\n"
                      "members.csv,20,bad_birth_date,\"3201011501900018," K1 ",alive,1900-02-29\"\n"
                      "members.csv,22,bad_birth_date,\"3201011501900020," K1 ",alive,1990-04-31\"\n"
                      "members.csv,23,bad_nik,\"1001011501900021,0201010101010001,dead,bad\"\n"
                      "members.csv,24,bad_kk,\"3201011501900022,0201010101010001,dead,bad\"\n"
                      "members.csv,25,bad_status,\"3201011501900023," K1 ",dead,bad\"\n"
                      "members.csv,26,bad_kk,\"3201011501900024,320101010101000a,,\"\n");
    assert_counts(t, SNAP_MEMBERS, 25, 21);
    opened o = open_snap(t->out);
    elig_household h;
    assert_int_equal(lookup(&o, ELIG_KIND_KK, K1, &h), 1);
    assert_int_equal(h.members, 4); /* deceased included */
    assert_int_equal(lookup(&o, ELIG_KIND_NIK, "3201014101900011", &h), 1);
    assert_int_equal(lookup(&o, ELIG_KIND_NIK, "3201017101900006", &h), 1);
    assert_int_equal(lookup(&o, ELIG_KIND_NIK, "3201011501900013", &h), 0);
    /* the deceased member answers member_deceased, the alive one does not */
    elig_query q;
    elig_answer a;
    assert_int_equal(elig_query_parse(&q, "nik", 3, "3201014101900011", 16, "PKH", 3, "2020-01", 7), ELIG_QUERY_OK);
    assert_int_equal(elig_check(o.r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_MEMBER_DECEASED);
    assert_int_equal(elig_query_parse(&q, "nik", 3, "3201011501900001", 16, "PKH", 3, "2020-01", 7), ELIG_QUERY_OK);
    assert_int_equal(elig_check(o.r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_NOT_ENROLLED);
    close_snap(&o);
}

static void enrollment_field_rules(void **state) {
    tcase *t = *state;
    const char *enr = ENR_HEADER
        K1 ",PKH,2020-01,2020-12,300000,active\n"         /* 2 ok */
        "0201010101010001,PKH,2021-01,,1,active\n"          /* 3 bad kk */
        K1 ",pkh,2020-01,,1,active\n"                      /* 4 lower case */
        K1 ",,2020-01,,1,active\n"                         /* 5 empty */
        K1 ",ABCDEFGHIJKLMNOPQ,2020-01,,1,active\n"        /* 6 17 chars */
        K1 ",ABCDEFGHIJKLMNOP,2020-01,,1,active\n"         /* 7 ok: 16 chars */
        K1 ",P-1,2020-01,,1,active\n"                      /* 8 */
        K1 ",A_1,2020-01,,4294967295,suspended\n"          /* 9 ok: max amount */
        K1 ",B,2020-13,,1,active\n"                        /* 10 month 13 */
        K1 ",B,0000-01,,1,active\n"                        /* 11 year 0 */
        K1 ",B,2020-1,,1,active\n"                         /* 12 */
        K1 ",B,2020-05,2020-04,1,active\n"                 /* 13 end < start */
        K1 ",B,2020-05,2020-05,0,active\n"                 /* 14 ok: end = start, 0 */
        K1 ",C,2020-05,2020/06,1,active\n"                 /* 15 */
        K1 ",C,2020-05,,4294967296,active\n"               /* 16 over u32 */
        K1 ",C,2020-05,,-1,active\n"                       /* 17 */
        K1 ",C,2020-05,,+1,active\n"                       /* 18 */
        K1 ",C,2020-05,,,active\n"                         /* 19 empty */
        K1 ",C,2020-05,,1.0,active\n"                      /* 20 */
        K1 ",C,2020-05,,1,Active\n"                        /* 21 */
        K1 ",C,2020-05,,1,\n"                              /* 22 empty status */
        K1 ",C,2020-05,,0001,active\n"                     /* 23 ok: leading zeros */
        K1 ",D,9999-12,,1,active\n"                        /* 24 ok */
        K1 ",bad,2020-13,,x,x\n"                           /* 25 -> bad_program */
        K1 ",E,2020-13,2020-99,x,x\n"                      /* 26 -> bad_period */
        K1 ",E,2020-01,,x,x\n"                             /* 27 -> bad_amount */
        K1 ",E,2020-01,, 1,active\n";                      /* 28 no trimming */
    assert_int_equal(build3(t, ONE_HH, NULL, enr, 1.0, "t"), SNAP_BUILD_OK);
    assert_rejects(t, "enrollments.csv,3,bad_kk,\"0201010101010001,PKH,2021-01,,1,active\"\n"
                      "enrollments.csv,4,bad_program,\"" K1 ",pkh,2020-01,,1,active\"\n"
                      "enrollments.csv,5,bad_program,\"" K1 ",,2020-01,,1,active\"\n"
                      "enrollments.csv,6,bad_program,\"" K1 ",ABCDEFGHIJKLMNOPQ,2020-01,,1,active\"\n"
                      "enrollments.csv,8,bad_program,\"" K1 ",P-1,2020-01,,1,active\"\n"
                      "enrollments.csv,10,bad_period,\"" K1 ",B,2020-13,,1,active\"\n"
                      "enrollments.csv,11,bad_period,\"" K1 ",B,0000-01,,1,active\"\n"
                      "enrollments.csv,12,bad_period,\"" K1 ",B,2020-1,,1,active\"\n"
                      "enrollments.csv,13,bad_period,\"" K1 ",B,2020-05,2020-04,1,active\"\n"
                      "enrollments.csv,15,bad_period,\"" K1 ",C,2020-05,2020/06,1,active\"\n"
                      "enrollments.csv,16,bad_amount,\"" K1 ",C,2020-05,,4294967296,active\"\n"
                      "enrollments.csv,17,bad_amount,\"" K1 ",C,2020-05,,-1,active\"\n"
                      "enrollments.csv,18,bad_amount,\"" K1 ",C,2020-05,,+1,active\"\n"
                      "enrollments.csv,19,bad_amount,\"" K1 ",C,2020-05,,,active\"\n"
                      "enrollments.csv,20,bad_amount,\"" K1 ",C,2020-05,,1.0,active\"\n"
                      "enrollments.csv,21,bad_status,\"" K1 ",C,2020-05,,1,Active\"\n"
                      "enrollments.csv,22,bad_status,\"" K1 ",C,2020-05,,1,\"\n"
                      "enrollments.csv,25,bad_program,\"" K1 ",bad,2020-13,,x,x\"\n"
                      "enrollments.csv,26,bad_period,\"" K1 ",E,2020-13,2020-99,x,x\"\n"
                      "enrollments.csv,27,bad_amount,\"" K1 ",E,2020-01,,x,x\"\n"
                      "enrollments.csv,28,bad_amount,\"" K1 ",E,2020-01,, 1,active\"\n");
    assert_counts(t, SNAP_ENROLLMENTS, 27, 21);

    opened o = open_snap(t->out);
    elig_household h;
    assert_int_equal(lookup(&o, ELIG_KIND_KK, K1, &h), 1);
    assert_int_equal(h.n_enrollments, 6);
    /* stored in input order: lines 2, 7, 9, 14, 23, 24 */
    static const struct {
        const char *program, *start, *end;
        uint32_t amount;
        elig_enr_status status;
    } want[] = {
        {"PKH", "2020-01", "2020-12", 300000, ELIG_ENR_ACTIVE},
        {"ABCDEFGHIJKLMNOP", "2020-01", NULL, 1, ELIG_ENR_ACTIVE},
        {"A_1", "2020-01", NULL, 4294967295u, ELIG_ENR_SUSPENDED},
        {"B", "2020-05", "2020-05", 0, ELIG_ENR_ACTIVE},
        {"C", "2020-05", NULL, 1, ELIG_ENR_ACTIVE},
        {"D", "9999-12", NULL, 1, ELIG_ENR_ACTIVE},
    };
    size_t pos = 0;
    elig_enrollment e;
    for (size_t i = 0; i < 6; i++) {
        assert_true(elig_household_next(&h, &pos, &e));
        assert_int_equal(e.program_len, strlen(want[i].program));
        assert_memory_equal(e.program, want[i].program, e.program_len);
        elig_month m;
        elig_parse_period(want[i].start, 7, &m);
        assert_int_equal(e.start, m);
        if (want[i].end)
            elig_parse_period(want[i].end, 7, &m);
        assert_int_equal(e.end, want[i].end ? m : ELIG_MONTH_OPEN);
        assert_int_equal(e.amount, want[i].amount);
        assert_int_equal(e.status, want[i].status);
    }
    assert_false(elig_household_next(&h, &pos, &e));
    close_snap(&o);
}

/* ---- duplicates, unknown families --------------------------------------- */

#define KA "3201010101010101"
#define KB "3201010101010102"
#define KC "3201010101010103"
#define KD "3201010101010104"
#define KE "3201010101010105"
#define KF "3201010101010106"
#define KG "3201010101010107"
#define KH "3201010101010108"
#define KI "3201010101010109"
#define KQ "3201010101010199" /* no such family */
#define R ",3201010001,active,"

static void duplicates_and_unknown_families(void **state) {
    tcase *t = *state;
    const char *hh = HH_HEADER
        KA R "6000000000000001,\n"             /* 2 dup kk */
        KA R "6000000000000002,\n"             /* 3 dup kk */
        KB R "6000000000000001,\n"             /* 4 dup kks: shares with a dup-kk row */
        KC R "6000000000000003,\n"             /* 5 dup kks */
        KD R "6000000000000003,\n"             /* 6 dup kks */
        KE R ",\n"                             /* 7 ok */
        KF R ",\n"                             /* 8 ok */
        KF ",10,active,,\n"                    /* 9 bad_region: makes no duplicate */
        KG R "6000000000000004,\n"             /* 10 ok */
        KH ",1,active,6000000000000004,\n"     /* 11 bad_region: makes no duplicate */
        KI R "6000000000000005,\n"             /* 12 dup kk, not dup kks */
        KI R "6000000000000005,\n";            /* 13 dup kk */
    const char *mem = MEM_HEADER
        "3201011501900001," KE ",,\n"          /* 2 dup nik (with 8) */
        "3201011501900002," KE ",,\n"          /* 3 dup nik */
        "3201011501900002," KF ",,\n"          /* 4 dup nik */
        "3201011501900003," KA ",,\n"          /* 5 family rejected (dup kk) */
        "3201011501900004," KB ",,\n"          /* 6 family rejected (dup kks) */
        "3201011501900005," KQ ",,\n"          /* 7 family absent */
        "3201011501900001," KA ",,\n"          /* 8 dup nik before unknown kk */
        "3201011501900006,0201010101010106,,\n" /* 9 bad kk */
        "3201011501900006," KF ",,\n"          /* 10 ok: 9 makes no duplicate */
        "3201011501900007," KE ",deceased,\n"  /* 11 ok */
        "3201011501900008," KH ",,\n"          /* 12 family rejected (bad_region) */
        "3201011501900009," KF ",,\n";         /* 13 ok */
    const char *enr = ENR_HEADER
        KA ",PKH,2020-01,,1,active\n"          /* 2 family rejected */
        KQ ",PKH,2020-01,,1,active\n"          /* 3 family absent */
        KE ",PKH,2020-01,,1,active\n"          /* 4 ok */
        KC ",PKH,2020-01,,1,active\n"          /* 5 family rejected */
        KQ ",PKH,2020-01,,1,active\n";         /* 6 unknown, not overlapping */
    assert_int_equal(build3(t, hh, mem, enr, 1.0, "t"), SNAP_BUILD_OK);
    assert_rejects(t, "households.csv,2,duplicate_kk,\"" KA R "6000000000000001,\"\n"
                      "households.csv,3,duplicate_kk,\"" KA R "6000000000000002,\"\n"
                      "households.csv,4,duplicate_kks,\"" KB R "6000000000000001,\"\n"
                      "households.csv,5,duplicate_kks,\"" KC R "6000000000000003,\"\n"
                      "households.csv,6,duplicate_kks,\"" KD R "6000000000000003,\"\n"
                      "households.csv,9,bad_region,\"" KF ",10,active,,\"\n"
                      "households.csv,11,bad_region,\"" KH ",1,active,6000000000000004,\"\n"
                      "households.csv,12,duplicate_kk,\"" KI R "6000000000000005,\"\n"
                      "households.csv,13,duplicate_kk,\"" KI R "6000000000000005,\"\n"
                      "members.csv,2,duplicate_nik,\"3201011501900001," KE ",,\"\n"
                      "members.csv,3,duplicate_nik,\"3201011501900002," KE ",,\"\n"
                      "members.csv,4,duplicate_nik,\"3201011501900002," KF ",,\"\n"
                      "members.csv,5,unknown_kk,\"3201011501900003," KA ",,\"\n"
                      "members.csv,6,unknown_kk,\"3201011501900004," KB ",,\"\n"
                      "members.csv,7,unknown_kk,\"3201011501900005," KQ ",,\"\n"
                      "members.csv,8,duplicate_nik,\"3201011501900001," KA ",,\"\n"
                      "members.csv,9,bad_kk,\"3201011501900006,0201010101010106,,\"\n"
                      "members.csv,12,unknown_kk,\"3201011501900008," KH ",,\"\n"
                      "enrollments.csv,2,unknown_kk,\"" KA ",PKH,2020-01,,1,active\"\n"
                      "enrollments.csv,3,unknown_kk,\"" KQ ",PKH,2020-01,,1,active\"\n"
                      "enrollments.csv,5,unknown_kk,\"" KC ",PKH,2020-01,,1,active\"\n"
                      "enrollments.csv,6,unknown_kk,\"" KQ ",PKH,2020-01,,1,active\"\n");
    assert_counts(t, SNAP_HOUSEHOLDS, 12, 9);
    assert_counts(t, SNAP_MEMBERS, 12, 9);
    assert_counts(t, SNAP_ENROLLMENTS, 5, 4);
    opened o = open_snap(t->out);
    elig_household h;
    assert_int_equal(lookup(&o, ELIG_KIND_KK, KE, &h), 1);
    assert_int_equal(h.members, 1);
    assert_int_equal(h.n_enrollments, 1);
    assert_int_equal(lookup(&o, ELIG_KIND_KK, KF, &h), 1);
    assert_int_equal(h.members, 2);
    assert_int_equal(lookup(&o, ELIG_KIND_KKS, "6000000000000004", &h), 1);
    assert_int_equal(h.kk, id16(KG));
    assert_int_equal(lookup(&o, ELIG_KIND_KKS, "6000000000000001", &h), 0);
    assert_int_equal(lookup(&o, ELIG_KIND_KKS, "6000000000000005", &h), 0);
    assert_int_equal(lookup(&o, ELIG_KIND_NIK, "3201011501900001", &h), 0);
    assert_int_equal(lookup(&o, ELIG_KIND_NIK, "3201011501900006", &h), 1);
    assert_int_equal(h.kk, id16(KF));
    close_snap(&o);
}

/* ---- overlapping enrollments -------------------------------------------- */

static void overlapping_enrollments(void **state) {
    tcase *t = *state;
    const char *hh = HH_HEADER KE R ",\n" KG R ",\n";
    const char *enr = ENR_HEADER
        KE ",PKH,2020-01,2020-06,1,active\n"   /* 2 ok: adjacent, not overlapping */
        KE ",PKH,2020-07,2020-12,2,active\n"   /* 3 ok */
        KE ",BPNT,2020-01,2020-03,1,active\n"  /* 4 overlaps 5 */
        KE ",BPNT,2020-03,2020-05,1,active\n"  /* 5 */
        KE ",BPNT,2020-06,2020-08,3,active\n"  /* 6 ok: after the pair */
        KE ",PBI,2020-01,2020-12,1,active\n"   /* 7 holds 8 and 9 */
        KE ",PBI,2020-03,2020-04,1,active\n"   /* 8 */
        KE ",PBI,2020-06,2020-07,1,active\n"   /* 9 overlaps only 7 */
        KE ",X,2020-01,,1,active\n"            /* 10 open-ended */
        KE ",X,2030-01,2030-02,1,active\n"     /* 11 */
        KE ",Y,2020-01,2020-01,1,active\n"     /* 12 same month */
        KE ",Y,2020-01,2020-01,2,suspended\n"  /* 13 */
        KE ",Z,2020-01,2020-05,4,active\n"     /* 14 ok: 15 fails a field rule */
        KE ",Z,2020-03,,bad,active\n"          /* 15 bad_amount */
        KQ ",W,2020-01,,1,active\n"            /* 16 unknown first */
        KQ ",W,2020-01,,1,active\n"            /* 17 */
        KG ",PKH,2020-01,2020-12,9,active\n"   /* 18 ok: another family */
        KE ",V,2021-05,2021-06,1,active\n"     /* 19 later in the file, earlier start */
        KE ",V,2021-01,2021-05,1,active\n"     /* 20 */
        KE ",V,2021-07,,5,active\n"            /* 21 ok */
        KE ",U,2020-01,2020-02,6,active\n"     /* 22 ok */
        KE ",U,2020-04,2020-05,1,active\n"     /* 23 overlaps 24 */
        KE ",U,2020-05,2020-09,1,active\n"     /* 24 */
        KE ",U,2020-03,2020-03,7,suspended\n"; /* 25 ok: between */
    assert_int_equal(build3(t, hh, NULL, enr, 1.0, "t"), SNAP_BUILD_OK);
    assert_rejects(t, "enrollments.csv,4,overlapping_enrollment,\"" KE ",BPNT,2020-01,2020-03,1,active\"\n"
                      "enrollments.csv,5,overlapping_enrollment,\"" KE ",BPNT,2020-03,2020-05,1,active\"\n"
                      "enrollments.csv,7,overlapping_enrollment,\"" KE ",PBI,2020-01,2020-12,1,active\"\n"
                      "enrollments.csv,8,overlapping_enrollment,\"" KE ",PBI,2020-03,2020-04,1,active\"\n"
                      "enrollments.csv,9,overlapping_enrollment,\"" KE ",PBI,2020-06,2020-07,1,active\"\n"
                      "enrollments.csv,10,overlapping_enrollment,\"" KE ",X,2020-01,,1,active\"\n"
                      "enrollments.csv,11,overlapping_enrollment,\"" KE ",X,2030-01,2030-02,1,active\"\n"
                      "enrollments.csv,12,overlapping_enrollment,\"" KE ",Y,2020-01,2020-01,1,active\"\n"
                      "enrollments.csv,13,overlapping_enrollment,\"" KE ",Y,2020-01,2020-01,2,suspended\"\n"
                      "enrollments.csv,15,bad_amount,\"" KE ",Z,2020-03,,bad,active\"\n"
                      "enrollments.csv,16,unknown_kk,\"" KQ ",W,2020-01,,1,active\"\n"
                      "enrollments.csv,17,unknown_kk,\"" KQ ",W,2020-01,,1,active\"\n"
                      "enrollments.csv,19,overlapping_enrollment,\"" KE ",V,2021-05,2021-06,1,active\"\n"
                      "enrollments.csv,20,overlapping_enrollment,\"" KE ",V,2021-01,2021-05,1,active\"\n"
                      "enrollments.csv,23,overlapping_enrollment,\"" KE ",U,2020-04,2020-05,1,active\"\n"
                      "enrollments.csv,24,overlapping_enrollment,\"" KE ",U,2020-05,2020-09,1,active\"\n");
    assert_counts(t, SNAP_ENROLLMENTS, 24, 16);
    opened o = open_snap(t->out);
    elig_household h;
    assert_int_equal(lookup(&o, ELIG_KIND_KK, KE, &h), 1);
    assert_int_equal(h.n_enrollments, 7);
    /* the standing rows in input order: lines 2, 3, 6, 14, 21, 22, 25 */
    static const char *order[] = {"PKH", "PKH", "BPNT", "Z", "V", "U", "U"};
    static const uint32_t amounts[] = {1, 2, 3, 4, 5, 6, 7};
    size_t pos = 0;
    elig_enrollment e;
    for (int i = 0; i < 7; i++) {
        assert_true(elig_household_next(&h, &pos, &e));
        assert_int_equal(e.program_len, strlen(order[i]));
        assert_memory_equal(e.program, order[i], e.program_len);
        assert_int_equal(e.amount, amounts[i]);
    }
    elig_query q;
    elig_answer a;
    assert_int_equal(elig_query_parse(&q, "kk", 2, KE, 16, "PKH", 3, "2020-08", 7), ELIG_QUERY_OK);
    assert_int_equal(elig_check(o.r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_ELIGIBLE);
    assert_int_equal(a.amount, 2);
    assert_int_equal(elig_query_parse(&q, "kk", 2, KE, 16, "BPNT", 4, "2020-02", 7), ELIG_QUERY_OK);
    assert_int_equal(elig_check(o.r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_OUTSIDE_PERIOD);
    assert_int_equal(elig_query_parse(&q, "kk", 2, KE, 16, "PBI", 3, "2020-02", 7), ELIG_QUERY_OK);
    assert_int_equal(elig_check(o.r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_NOT_ENROLLED);
    close_snap(&o);
}

/* malformed_row comes before every field rule; a field rule before the
 * duplicate it would otherwise make. */
static void reason_precedence(void **state) {
    tcase *t = *state;
    const char *hh = HH_HEADER
        "0201010101010001,1,x,x,\xff,extra\n"  /* 2 long row of bad fields */
        KE R ",\n"                              /* 3 ok */
        KE ",3201010001,ACTIVE,,\n"             /* 4 bad_status, not dup */
        "\"" KF "\"x,3201010001,active,,\n";    /* 5 broken quoting */
    const char *mem = MEM_HEADER
        "1001011501900001," KQ ",x,x,x\n"       /* 2 long */
        "1001011501900001," KQ ",x,x\n"         /* 3 bad_nik before bad status/date */
        "3201011501900002," KQ ",x,1990-02-30\n"  /* 4 bad_status before bad date */
        "3201011501900003," KQ ",deceased,1990-02-30\n"; /* 5 bad date, unknown kk later */
    const char *enr = ENR_HEADER
        KQ ",pkh,2020-13,,x,x\n";               /* 2 bad_program, unknown kk later */
    assert_int_equal(build3(t, hh, mem, enr, 1.0, "t"), SNAP_BUILD_OK);
    assert_rejects(t, "households.csv,2,malformed_row,\"0201010101010001,1,x,x,\xff,extra\"\n"
                      "households.csv,4,bad_status,\"" KE ",3201010001,ACTIVE,,\"\n"
                      "households.csv,5,malformed_row,\"\"\"" KF "\"\"x,3201010001,active,,\"\n"
                      "members.csv,2,malformed_row,\"1001011501900001," KQ ",x,x,x\"\n"
                      "members.csv,3,bad_nik,\"1001011501900001," KQ ",x,x\"\n"
                      "members.csv,4,bad_status,\"3201011501900002," KQ ",x,1990-02-30\"\n"
                      "members.csv,5,bad_birth_date,\"3201011501900003," KQ ",deceased,1990-02-30\"\n"
                      "enrollments.csv,2,bad_program,\"" KQ ",pkh,2020-13,,x,x\"\n");
}

/* ---- CSV shapes ------------------------------------------------------------ */

static void csv_shapes(void **state) {
    tcase *t = *state;
    const char *hh = "\xEF\xBB\xBFnote,status,kk,extra,region\r\n"  /* no kks, no head_name */
                     "\"has, comma\",active,3201010101010001,\"multi\r\n"
                     "line \"\"q\"\"\",3201010001\r\n"                 /* 2-3 ok */
                     "\r\n"                                          /* 4 empty */
                     "x,active,3201010101010002,y,3201010001,z\r\n"  /* 5 long */
                     "x,active,3201010101010003\r\n"                 /* 6 short */
                     "\"bad\"x,active,3201010101010004,y,3201010001\r\n" /* 7 */
                     "x\"y,active,3201010101010005,e,3201010001\r\n" /* 8 */
                     ",active,3201010101010006,,3201010001\r\n"      /* 9 ok */
                     "\"\",active,\"3201010101010007\",,\"3201010001\"\r\n" /* 10 ok: quoted */
                     "x,active,3201010101010008,\"open,3201010001\r\n" /* 11 unterminated */
                     "more\r\n";
    const char *mem = "kk,nik\n" /* reordered, optional columns absent */
                      "3201010101010001,3201011501900001\n"
                      "3201010101010006,3201011501900002";  /* no final newline */
    const char *enr = "\xEF\xBB\xBF" "status,amount,end,start,program,kk,comment\r\n"
                      "active,5,,2020-01,PKH,3201010101010007,\"a,\"\"b\"\"\"\r\n";
    assert_int_equal(build3(t, hh, mem, enr, 1.0, "t"), SNAP_BUILD_OK);
    assert_rejects(t, "households.csv,5,malformed_row,\"x,active,3201010101010002,y,3201010001,z\"\n"
                      "households.csv,6,malformed_row,\"x,active,3201010101010003\"\n"
                      "households.csv,7,malformed_row,\"\"\"bad\"\"x,active,3201010101010004,y,3201010001\"\n"
                      "households.csv,8,malformed_row,\"x\"\"y,active,3201010101010005,e,3201010001\"\n"
                      "households.csv,11,malformed_row,\"x,active,3201010101010008,\"\"open,3201010001\r\n"
                      "more\"\n");
    assert_counts(t, SNAP_HOUSEHOLDS, 8, 5);
    assert_counts(t, SNAP_MEMBERS, 2, 0);
    assert_counts(t, SNAP_ENROLLMENTS, 1, 0);
    opened o = open_snap(t->out);
    elig_household h;
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010001", &h), 1);
    assert_int_equal(h.members, 1);
    assert_false(h.has_kks);
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010006", &h), 1);
    assert_int_equal(h.members, 1);
    assert_int_equal(lookup(&o, ELIG_KIND_KK, "3201010101010007", &h), 1);
    assert_int_equal(h.n_enrollments, 1);
    assert_int_equal(lookup(&o, ELIG_KIND_NIK, "3201011501900002", &h), 1);
    close_snap(&o);
}

/* A required column that is absent fails the build, naming file and
 * column; so does a column named twice. Nothing is published. */
static void missing_or_duplicate_columns(void **state) {
    tcase *t = *state;
    static const struct {
        const char *hh, *mem, *enr, *want;
    } cases[] = {
        {"kk,status,kks\n", NULL, NULL, "households.csv: missing required column region"},
        {"region,status\n", NULL, NULL, "households.csv: missing required column kk"},
        {"kk,region\n", NULL, NULL, "households.csv: missing required column status"},
        {NULL, "kk,status\n", NULL, "members.csv: missing required column nik"},
        {NULL, "nik\n", NULL, "members.csv: missing required column kk"},
        {NULL, NULL, "kk,program,start,end,status\n", "enrollments.csv: missing required column amount"},
        {NULL, NULL, "kk,program,end,amount,status\n", "enrollments.csv: missing required column start"},
        {NULL, NULL, "KK,program,start,amount,status\n", "enrollments.csv: missing required column kk"},
        {"kk,region,status,kk\n", NULL, NULL, "households.csv:1: duplicate column kk"},
        {NULL, "nik,kk,status,status\n", NULL, "members.csv:1: duplicate column status"},
        {"", NULL, NULL, "households.csv: empty file: no header row"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(t->out);
        unlink(t->rejects);
        assert_int_equal(build3(t, cases[i].hh, cases[i].mem, cases[i].enr, 1.0, "t"), SNAP_BUILD_ERROR);
        if (!strstr(t->err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, t->err, cases[i].want);
        assert_non_null(strstr(t->err, t->dir)); /* the path as given */
        assert_int_not_equal(access(t->out, F_OK), 0);
    }
}

static void missing_file(void **state) {
    tcase *t = *state;
    snap_build_opts o = {
        .input = {t->path[0], "/nonexistent/members.csv", t->path[2]},
        .out = t->out,
        .max_reject_ratio = 0.01,
    };
    write_file(t, "households.csv", HH_HEADER, -1);
    write_file(t, "enrollments.csv", ENR_HEADER, -1);
    assert_int_equal(snap_build(&o, &t->res, t->err, sizeof t->err), SNAP_BUILD_ERROR);
    assert_string_equal(t->err, "/nonexistent/members.csv: cannot open: No such file or directory");
}

/* ---- reject ratio --------------------------------------------------------- */

/* 10 households, one rejected: a ratio of exactly 0.1. */
static const char *ten_households(char *buf, size_t len) {
    size_t at = (size_t)snprintf(buf, len, HH_HEADER);
    for (int i = 0; i < 9; i++)
        at += (size_t)snprintf(buf + at, len - at, "32010101010100%02d,3201010001,active,,\n", i + 10);
    snprintf(buf + at, len - at, "0201010101010001,3201010001,active,,\n");
    return buf;
}

static void ratio_exactly_at_limit_succeeds(void **state) {
    tcase *t = *state;
    char hh[1024];
    assert_int_equal(build3(t, ten_households(hh, sizeof hh), NULL, NULL, 0.1, "t"), SNAP_BUILD_OK);
    assert_int_equal(access(t->out, F_OK), 0);
    assert_rejects(t, "households.csv,11,bad_kk,\"0201010101010001,3201010001,active,,\"\n");
}

static void ratio_over_limit_publishes_nothing(void **state) {
    tcase *t = *state;
    char hh[1024];
    /* an earlier good snapshot at out */
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", NULL, NULL, 0.01, "old"), SNAP_BUILD_OK);
    size_t old_len;
    char *old = slurp(t->out, &old_len);
    assert_non_null(old);
    unlink(t->rejects);

    assert_int_equal(build3(t, ten_households(hh, sizeof hh), NULL, NULL, 0.0999, "new"), SNAP_BUILD_TOO_MANY);
    assert_non_null(strstr(t->err, "1 of 10 rows rejected"));
    /* the rejects file is written all the same */
    assert_rejects(t, "households.csv,11,bad_kk,\"0201010101010001,3201010001,active,,\"\n");
    assert_counts(t, SNAP_HOUSEHOLDS, 10, 1);
    /* the old snapshot is untouched, byte for byte */
    size_t now_len;
    char *now = slurp(t->out, &now_len);
    assert_int_equal(now_len, old_len);
    assert_memory_equal(now, old, old_len);
    free(old);
    free(now);
    opened o = open_snap(t->out);
    assert_string_equal(elig_snap_meta(o.snap)->id, "old");
    close_snap(&o);
}

/* The ratio is over all three files together. */
static void ratio_counts_all_files(void **state) {
    tcase *t = *state;
    const char *hh = HH_HEADER KE R ",\n" KF R ",\n";
    const char *mem = MEM_HEADER "3201011501900001," KE ",,\n3201011501900002," KQ ",,\n";
    assert_int_equal(build3(t, hh, mem, NULL, 0.25, "t"), SNAP_BUILD_OK);
    unlink(t->out);
    assert_int_equal(build3(t, hh, mem, NULL, 0.2499, "t"), SNAP_BUILD_TOO_MANY);
    assert_int_not_equal(access(t->out, F_OK), 0);
}

static void no_rows_builds_empty_snapshot(void **state) {
    tcase *t = *state;
    assert_int_equal(build3(t, NULL, NULL, NULL, 0.0, "empty"), SNAP_BUILD_OK);
    assert_rejects(t, "");
    for (int f = 0; f < SNAP_NFILES; f++)
        assert_counts(t, f, 0, 0);
    opened o = open_snap(t->out);
    const elig_meta *m = elig_snap_meta(o.snap);
    assert_int_equal(m->households + m->members + m->enrollments, 0);
    close_snap(&o);
}

/* ---- metadata ---------------------------------------------------------------- */

static void sha256_hex(const char *path, char out[65]) {
    size_t len;
    char *data = slurp(path, &len);
    unsigned char d[32];
    unsigned int n;
    assert_true(EVP_Digest(data, len, d, &n, EVP_sha256(), NULL));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    free(data);
}

static void metadata(void **state) {
    tcase *t = *state;
    const char *mem = MEM_HEADER "3201011501900001," KE ",,\n";
    const char *enr = ENR_HEADER KE ",PKH,2020-01,,1,active\n" KE ",BPNT,2020-01,,1,active\n";
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", mem, enr, 0.0, "t-1.2:3_x"), SNAP_BUILD_OK);
    opened o = open_snap(t->out);
    const elig_meta *m = elig_snap_meta(o.snap);
    assert_int_equal(m->schema_version, 2);
    assert_string_equal(m->id, "t-1.2:3_x");
    assert_string_equal(m->created, "2026-11-27T23:40:00Z");
    assert_int_equal(m->households, 1);
    assert_int_equal(m->members, 1);
    assert_int_equal(m->enrollments, 2);
    char want[65];
    sha256_hex(t->path[0], want);
    assert_string_equal(m->sha256_households, want);
    sha256_hex(t->path[1], want);
    assert_string_equal(m->sha256_members, want);
    sha256_hex(t->path[2], want);
    assert_string_equal(m->sha256_enrollments, want);
    close_snap(&o);

    /* default id: creation time, then 8 hex digits from the input hashes */
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", mem, enr, 0.0, NULL), SNAP_BUILD_OK);
    assert_int_equal(strlen(t->res.id), 25);
    assert_memory_equal(t->res.id, "20261127T234000Z-", 17);
    for (int i = 17; i < 25; i++)
        assert_non_null(strchr("0123456789abcdef", t->res.id[i]));
    char first[65];
    strcpy(first, t->res.id);
    /* other input bytes, another id */
    assert_int_equal(build3(t, HH_HEADER KF R ",\n", NULL, NULL, 0.0, NULL), SNAP_BUILD_OK);
    assert_string_not_equal(t->res.id, first);
}

static void id_syntax(void **state) {
    (void)state;
    assert_true(snap_valid_id("a"));
    assert_true(snap_valid_id("20261127T234000Z-1a2b3c4d"));
    assert_true(snap_valid_id("A.z_0:9-"));
    char max[66];
    memset(max, 'x', 65);
    max[65] = '\0';
    assert_false(snap_valid_id(max));
    max[64] = '\0';
    assert_true(snap_valid_id(max));
    assert_false(snap_valid_id(""));
    assert_false(snap_valid_id("a b"));
    assert_false(snap_valid_id("a/b"));
    assert_false(snap_valid_id("caf\xc3\xa9"));
}

/* A build that fails after writing part of the snapshot leaves no
 * temporary file behind and nothing at out. */
static void failed_publish_leaves_no_temp_file(void **state) {
    tcase *t = *state;
    /* out is a non-empty directory: the rename over it fails */
    assert_int_equal(mkdir(t->out, 0755), 0);
    write_file(t, "snap.mdb/keep", "x", -1);
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", NULL, NULL, 0.0, "t"), SNAP_BUILD_ERROR);
    assert_non_null(strstr(t->err, "cannot rename into place"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.tmp\\.'", t->dir);
    assert_int_not_equal(system(cmd), 0);
}

static void default_rejects_path(void **state) {
    tcase *t = *state;
    write_file(t, "households.csv", HH_HEADER "x\n", -1);
    write_file(t, "members.csv", MEM_HEADER, -1);
    write_file(t, "enrollments.csv", ENR_HEADER, -1);
    snap_build_opts o = {.input = {t->path[0], t->path[1], t->path[2]}, .out = t->out, .max_reject_ratio = 1};
    assert_int_equal(snap_build(&o, &t->res, t->err, sizeof t->err), SNAP_BUILD_OK);
    char path[400];
    snprintf(path, sizeof path, "%s.rejects.csv", t->out);
    char *got = slurp(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, "file,line,reason,raw\nhouseholds.csv,2,malformed_row,x\n");
    free(got);
}

/* --out or --rejects naming an input would destroy it: refused. */
static void output_over_input_refused(void **state) {
    tcase *t = *state;
    write_file(t, "households.csv", HH_HEADER, -1);
    write_file(t, "members.csv", MEM_HEADER, -1);
    write_file(t, "enrollments.csv", ENR_HEADER, -1);
    snap_build_opts o = {.input = {t->path[0], t->path[1], t->path[2]}, .out = t->path[1], .rejects = t->rejects};
    assert_int_equal(snap_build(&o, &t->res, t->err, sizeof t->err), SNAP_BUILD_ERROR);
    assert_non_null(strstr(t->err, "refusing to overwrite it"));
    o.out = t->out;
    o.rejects = t->path[2];
    assert_int_equal(snap_build(&o, &t->res, t->err, sizeof t->err), SNAP_BUILD_ERROR);
    assert_non_null(strstr(t->err, "refusing to overwrite it"));
    char *enr = slurp(t->path[2], NULL);
    assert_string_equal(enr, ENR_HEADER);
    free(enr);
}

/* ---- hardening (issue 13) ----------------------------------------------------- */

static unsigned mode_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)st.st_mode & 07777;
}

/* Issue 13 item 5: the snapshot (every NIK and its family) came out 0644,
 * the rejects file 0644, or 0666 under umask 000. */
static void snapshot_and_rejects_created_0640_whatever_the_umask(void **state) {
    tcase *t = *state;
    static const mode_t masks[] = {0, 022, 077};
    for (size_t i = 0; i < 3; i++) {
        mode_t old = umask(masks[i]);
        unlink(t->out);
        unlink(t->rejects);
        int rc = build3(t, HH_HEADER KE R ",\n", NULL, NULL, 0.0, "m");
        umask(old);
        assert_int_equal(rc, SNAP_BUILD_OK);
        if (mode_of(t->out) != 0640 || mode_of(t->rejects) != 0640)
            fail_msg("umask %03o: snapshot %04o, rejects %04o, want 0640", (unsigned)masks[i], mode_of(t->out),
                     mode_of(t->rejects));
    }
    /* an existing rejects file of another mode is brought to it too, and
     * --mode chooses */
    assert_int_equal(chmod(t->rejects, 0666), 0);
    write_file(t, "households.csv", HH_HEADER KE R ",\n", -1);
    write_file(t, "members.csv", MEM_HEADER, -1);
    write_file(t, "enrollments.csv", ENR_HEADER, -1);
    snap_build_opts o = {.input = {t->path[0], t->path[1], t->path[2]}, .out = t->out, .rejects = t->rejects,
                         .mode = 0600};
    assert_int_equal(snap_build(&o, &t->res, t->err, sizeof t->err), SNAP_BUILD_OK);
    assert_int_equal(mode_of(t->out), 0600);
    assert_int_equal(mode_of(t->rejects), 0600);
}

/* Issue 13 item 5: an output path that is a symbolic link was written
 * through: --rejects pointing at another file overwrote it. Now refused;
 * a link at the temp name or at --out is replaced, never followed. */
static void outputs_never_follow_a_symlink(void **state) {
    tcase *t = *state;
    const char *victim = write_file(t, "victim.txt", "precious\n", -1);
    char victim_path[300];
    snprintf(victim_path, sizeof victim_path, "%s", victim);
    assert_int_equal(symlink(victim_path, t->rejects), 0);
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", NULL, NULL, 0.0, "s"), SNAP_BUILD_ERROR);
    assert_non_null(strstr(t->err, "symbolic link"));
    assert_int_not_equal(access(t->out, F_OK), 0); /* nothing published */
    unlink(t->rejects);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", t->out, (long)getpid()); /* the build runs in this process */
    assert_int_equal(symlink(victim_path, tmp), 0);
    assert_int_equal(symlink(victim_path, t->out), 0);
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", NULL, NULL, 0.0, "s"), SNAP_BUILD_OK);
    char *v = slurp(victim_path, NULL);
    assert_string_equal(v, "precious\n");
    free(v);
    struct stat st;
    assert_int_equal(lstat(t->out, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_not_equal(access(tmp, F_OK), 0);
}

/* Issue 13 item 9: members.csv with CR-only line ends read as a header and
 * nothing else ("read 0, accepted 0"): the data silently gone. */
static void cr_only_line_endings_fail_the_build(void **state) {
    tcase *t = *state;
    const char *mem = "nik,kk,status,birth_date\r3201011501900001," KE ",,\r3201011501900002," KE ",,\r";
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", mem, NULL, 1.0, "cr"), SNAP_BUILD_ERROR);
    assert_non_null(strstr(t->err, "members.csv:1: the header row holds a bare CR"));
    assert_non_null(strstr(t->err, "CR-only line endings"));
    assert_int_not_equal(access(t->out, F_OK), 0);
    /* CRLF and a header-only file ending in one CR still build */
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", "nik,kk,status,birth_date\r\n3201011501900001," KE ",,\r\n", NULL,
                            0.0, "crlf"),
                     SNAP_BUILD_OK);
    assert_int_equal(build3(t, HH_HEADER KE R ",\n", "nik,kk,status,birth_date\r", NULL, 0.0, "cr-end"), SNAP_BUILD_OK);
}

/* ---- content hash ------------------------------------------------------------ */

static void content_of(tcase *t, char out[65]) {
    opened o = open_snap(t->out);
    snprintf(out, 65, "%s", elig_snap_meta(o.snap)->content_sha256);
    char again[65];
    assert_int_equal(elig_snap_content_sha256(o.snap, again), 0);
    assert_string_equal(again, out);
    close_snap(&o);
}

/* Two builds of the same rows share it whatever their id, time and input
 * order; one changed amount, status or member changes it. */
static void content_hash_is_the_rows(void **state) {
    tcase *t = *state;
    const char *hh = HH_HEADER KE R "6000000000000001,\n" KF R ",\n";
    const char *hh_swapped = HH_HEADER KF R ",x\n" KE R "6000000000000001,y\n"; /* names are not stored */
    const char *mem = MEM_HEADER "3201011501900001," KE ",,\n3201011501900002," KF ",deceased,\n";
    const char *enr = ENR_HEADER KE ",PKH,2020-01,2020-06,1,active\n" KE ",BPNT,2020-01,,2,active\n"
                                 KE ",PKH,2020-07,,3,active\n";
    const char *enr_swapped = ENR_HEADER KE ",PKH,2020-07,,3,active\n" KE ",BPNT,2020-01,,2,active\n"
                                         KE ",PKH,2020-01,2020-06,1,active\n";
    const char *enr_amount = ENR_HEADER KE ",PKH,2020-01,2020-06,1,active\n" KE ",BPNT,2020-01,,2,active\n"
                                        KE ",PKH,2020-07,,4,active\n";
    char a[65], b[65], c[65], d[65];
    assert_int_equal(build3(t, hh, mem, enr, 0.0, "one"), SNAP_BUILD_OK);
    content_of(t, a);
    assert_int_equal(build3(t, hh_swapped, mem, enr_swapped, 0.0, "two"), SNAP_BUILD_OK);
    content_of(t, b);
    assert_string_equal(a, b);
    assert_int_equal(build3(t, hh, mem, enr_amount, 0.0, "one"), SNAP_BUILD_OK);
    content_of(t, c);
    assert_string_not_equal(a, c);
    const char *mem_alive = MEM_HEADER "3201011501900001," KE ",,\n3201011501900002," KF ",,\n";
    assert_int_equal(build3(t, hh, mem_alive, enr, 0.0, "one"), SNAP_BUILD_OK);
    content_of(t, d);
    assert_string_not_equal(a, d);
    assert_string_not_equal(c, d);
}

/* ---- open modes ---------------------------------------------------------------- */

static void write_over(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "r+b"); /* the same file, rewritten in place */
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A snapshot opened ELIG_SNAP_PRIVATE answers from what it loaded after
 * the file is overwritten in place with another snapshot (cp new live)
 * and after it is truncated to nothing: no crash, same answers. */
static void private_copy_survives_overwrite_and_truncate(void **state) {
    tcase *t = *state;
    const char *enr = ENR_HEADER KE ",PKH,2020-01,,300000,active\n";
    assert_int_equal(build3(t, HH_HEADER KE R "6000000000000001,\n", MEM_HEADER "3201011501900001," KE ",,\n", enr,
                            0.0, "live"),
                     SNAP_BUILD_OK);
    char live[400];
    snprintf(live, sizeof live, "%s/live.mdb", t->dir);
    assert_int_equal(rename(t->out, live), 0);
    /* the other snapshot: another family, more rows, a bigger file */
    size_t cap = 64 * 1000 + 64;
    char *hh = malloc(cap);
    size_t n = (size_t)snprintf(hh, cap, HH_HEADER);
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(hh + n, cap - n, "320101010102%04d,3301010001,suspended,,\n", i);
    assert_int_equal(build3(t, hh, NULL, NULL, 0.0, "other"), SNAP_BUILD_OK);
    free(hh);
    size_t other_len, live_len;
    char *other = slurp(t->out, &other_len), *orig = slurp(live, &live_len);
    assert_true(other_len > live_len);

    for (int mode = 0; mode < 2; mode++) {
        elig_snap *s;
        elig_reader *r;
        char err[512];
        unsigned flags = ELIG_SNAP_PRIVATE | (mode ? ELIG_SNAP_VERIFY : 0);
        write_over(live, orig, live_len);
        assert_int_equal(truncate(live, (off_t)live_len), 0);
        assert_int_equal(elig_snap_open_ex(live, flags, &s, err, sizeof err), 0);
        assert_int_equal(elig_reader_open(s, &r), 0);
        elig_query q;
        elig_answer a;
        assert_int_equal(elig_query_parse(&q, "nik", 3, "3201011501900001", 16, "PKH", 3, "2024-06", 7), ELIG_QUERY_OK);
        for (int step = 0; step < 3; step++) {
            if (step == 1)
                write_over(live, other, other_len); /* cp other.mdb live.mdb */
            if (step == 2)
                assert_int_equal(truncate(live, 0), 0); /* truncate -s 0 live.mdb */
            assert_int_equal(elig_check(r, &q, &a), 0);
            assert_int_equal(a.reason, ELIG_REASON_ELIGIBLE);
            assert_int_equal(a.amount, 300000);
            assert_int_equal(a.kk, id16(KE));
            assert_string_equal(elig_snap_meta(s)->id, "live");
            elig_snap_warm(s); /* reads every page of the copy */
        }
        elig_reader_close(r);
        elig_snap_close(s);
    }
    /* a damaged file is refused by PRIVATE|VERIFY, its copy checked */
    orig[live_len / 2] ^= 1;
    write_over(live, orig, live_len);
    elig_snap *s;
    char err[512];
    assert_int_equal(elig_snap_open_ex(live, ELIG_SNAP_PRIVATE | ELIG_SNAP_VERIFY, &s, err, sizeof err),
                     ELIG_ECHECKSUM);
    assert_non_null(strstr(err, "checksum mismatch"));
    free(other);
    free(orig);
}

/* ---- extracts and signatures (SPEC 10) ------------------------------------------ */

/* An Ed25519 key pair: the private key's PEM into a file, the public key's
 * PEM into pub (NUL-terminated). */
static void make_key(const char *priv_path, char *pub, size_t cap) {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    FILE *f = fopen(priv_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    int n = BIO_read(b, pub, (int)cap - 1);
    assert_true(n > 0);
    pub[n] = '\0';
    BIO_free(b);
    EVP_PKEY_free(k);
}

/* The extract answers every query of its families exactly as the source
 * does, and knows nobody else; the library opens it only with the right
 * signature. */
static void extract_answers_as_the_source_and_needs_its_signature(void **state) {
    tcase *t = *state;
    enum { NF = 300 };
    char *hh = malloc(NF * 80 + 64), *enr = malloc(NF * 160 + 64), *mem = malloc(NF * 60 + 64);
    size_t hn = (size_t)sprintf(hh, HH_HEADER), en = (size_t)sprintf(enr, ENR_HEADER),
           mn = (size_t)sprintf(mem, MEM_HEADER);
    for (int i = 0; i < NF; i++) {
        uint64_t kk = UINT64_C(3201010000000001) + (uint64_t)i * 3;
        char card[17] = "";
        if (i % 2 == 0)
            snprintf(card, sizeof card, "61000000%08d", 10000000 + i);
        hn += (size_t)sprintf(hh + hn, "%llu,%s,%s,%s,\n", (unsigned long long)kk,
                              i % 3 == 0 ? "3273010001" : i % 3 == 1 ? "3201010001" : "3301010001",
                              i % 7 ? "active" : "suspended", card);
        en += (size_t)sprintf(enr + en, "%llu,PKH,2024-01,,%d,%s\n", (unsigned long long)kk, 1000 + i,
                              i % 5 ? "active" : "suspended");
        mn += (size_t)sprintf(mem + mn, "3201011501%02d%04d,%llu,%s,\n", i / 9000, i % 9000 + 1000,
                              (unsigned long long)kk, i % 11 ? "" : "deceased");
    }
    assert_int_equal(build3(t, hh, mem, enr, 0.0, "src"), SNAP_BUILD_OK);
    free(hh), free(enr), free(mem);
    char ext[400], key[400], key2[400], pub[1024], pub2[1024], err[1024];
    snprintf(ext, sizeof ext, "%s/ext.mdb", t->dir);
    snprintf(key, sizeof key, "%s/k.pem", t->dir);
    snprintf(key2, sizeof key2, "%s/k2.pem", t->dir);
    snap_extract_opts xo = {.source = t->out, .regions = {"3273", "33"}, .nregions = 2, .out = ext, .id = "x1"};
    snap_extract_result xr;
    assert_int_equal(snap_extract(&xo, &xr, err, sizeof err), 0);
    assert_int_equal(xr.households, 200); /* i % 3 == 0 or 2 */

    opened src = open_snap(t->out), x = open_snap(ext);
    assert_string_equal(elig_snap_meta(x.snap)->extract_of, "src");
    assert_string_equal(elig_snap_meta(x.snap)->extract_regions, "3273,33");
    static const char *kinds[] = {"kk", "nik", "kks"};
    for (int i = 0; i < NF; i++) {
        char id[3][17];
        snprintf(id[0], 17, "%llu", (unsigned long long)(UINT64_C(3201010000000001) + (uint64_t)i * 3));
        snprintf(id[1], 17, "3201011501%02d%04d", i / 9000, i % 9000 + 1000);
        snprintf(id[2], 17, "61000000%08d", 10000000 + i);
        for (int k = 0; k < 3; k++) {
            elig_query q;
            elig_answer a, b;
            assert_int_equal(elig_query_parse(&q, kinds[k], strlen(kinds[k]), id[k], 16, "PKH", 3, "2024-06", 7),
                             ELIG_QUERY_OK);
            assert_int_equal(elig_check(src.r, &q, &a), 0);
            assert_int_equal(elig_check(x.r, &q, &b), 0);
            if (i % 3 == 1) { /* outside the extract's regions */
                assert_int_equal(b.reason, ELIG_REASON_NOT_FOUND);
                continue;
            }
            assert_int_equal(b.reason, a.reason);
            assert_int_equal(b.found, a.found);
            assert_int_equal(b.kk, a.kk);
            assert_int_equal(b.region, a.region);
            assert_int_equal(b.amount, a.amount);
        }
    }
    close_snap(&src);
    close_snap(&x);

    make_key(key, pub, sizeof pub);
    make_key(key2, pub2, sizeof pub2);
    elig_snap *s;
    assert_int_equal(elig_snap_open_signed(ext, 0, pub, strlen(pub), &s, err, sizeof err), ELIG_ESIGNATURE);
    assert_non_null(strstr(err, "unsigned"));
    assert_int_equal(snap_sign(ext, key, err, sizeof err), 0);
    assert_int_equal(elig_snap_open_signed(ext, 0, pub, strlen(pub), &s, err, sizeof err), 0);
    elig_snap_close(s);
    assert_int_equal(elig_snap_open_signed(ext, ELIG_SNAP_PRIVATE, pub, strlen(pub), &s, err, sizeof err), 0);
    elig_snap_close(s);
    assert_int_equal(elig_snap_open_signed(ext, 0, pub2, strlen(pub2), &s, err, sizeof err), ELIG_ESIGNATURE);
    assert_non_null(strstr(err, "another key"));
    assert_int_equal(elig_snap_open_signed(ext, 0, "junk", 4, &s, err, sizeof err), ELIG_ESIGNATURE);
    assert_int_equal(elig_snap_open(ext, &s, err, sizeof err), 0); /* plain open ignores the signature */
    elig_snap_close(s);
    size_t len;
    char *data = slurp(ext, &len);
    for (size_t at = 0; at < len; at += len / 7 + 1) {
        data[at] ^= 4;
        const char *p = write_file(t, "flipped.mdb", data, (long)len);
        int rc = elig_snap_open_signed(p, 0, pub, strlen(pub), &s, err, sizeof err);
        if (rc >= 0)
            fail_msg("byte %zu of %zu flipped: opened", at, len);
        data[at] ^= 4;
    }
    free(data);
}

/* ---- the id index ------------------------------------------------------------ */

/* Enough families that the index's buckets overflow into their neighbours:
 * every id resolves to its own family through the index, by every kind,
 * and ids of another kind or of nobody resolve to nothing. */
static void every_id_resolves_through_the_index(void **state) {
    tcase *t = *state;
    enum { NF = 4000 };
    size_t cap = (size_t)NF * 200;
    char *hh = malloc(cap), *mem = malloc(cap);
    size_t hn = (size_t)snprintf(hh, cap, HH_HEADER), mn = (size_t)snprintf(mem, cap, MEM_HEADER);
    for (int i = 0; i < NF; i++) {
        uint64_t kk = UINT64_C(3201010000000000) + (uint64_t)i * 7919 + 1;
        if (i % 3)
            hn += (size_t)snprintf(hh + hn, cap - hn, "%llu,3201010001,active,%llu,\n", (unsigned long long)kk,
                                   (unsigned long long)(UINT64_C(6000000000000000) + (uint64_t)i * 13));
        else
            hn += (size_t)snprintf(hh + hn, cap - hn, "%llu,3201010001,active,,\n", (unsigned long long)kk);
        for (int j = 0; j < 3; j++) {
            int n = i * 3 + j;
            mn += (size_t)snprintf(mem + mn, cap - mn, "3201011501%02d%04d,%llu,%s,\n", n / 9000, n % 9000 + 1000,
                                   (unsigned long long)kk, j == 2 ? "deceased" : "alive");
        }
    }
    assert_int_equal(build3(t, hh, mem, NULL, 0.0, "many"), SNAP_BUILD_OK);
    free(hh);
    free(mem);
    opened o = open_snap(t->out);
    elig_household h;
    for (int i = 0; i < NF; i++) {
        uint64_t kk = UINT64_C(3201010000000000) + (uint64_t)i * 7919 + 1;
        assert_int_equal(elig_household_get(o.r, ELIG_KIND_KK, kk, &h), 1);
        assert_int_equal(h.kk, kk);
        assert_int_equal(h.members, 3);
        assert_int_equal(elig_household_get(o.r, ELIG_KIND_NIK, kk, &h), 0);
        assert_int_equal(elig_household_get(o.r, ELIG_KIND_KK, kk + 1, &h), 0);
        uint64_t kks = UINT64_C(6000000000000000) + (uint64_t)i * 13;
        assert_int_equal(elig_household_get(o.r, ELIG_KIND_KKS, kks, &h), i % 3 ? 1 : 0);
        if (i % 3)
            assert_int_equal(h.kk, kk);
        for (int j = 0; j < 3; j++) {
            int n = i * 3 + j;
            char nik[17];
            snprintf(nik, sizeof nik, "3201011501%02d%04d", n / 9000, n % 9000 + 1000);
            elig_query q;
            elig_answer a;
            assert_int_equal(elig_query_parse(&q, "nik", 3, nik, 16, "PKH", 3, "2024-01", 7), ELIG_QUERY_OK);
            assert_int_equal(elig_check(o.r, &q, &a), 0);
            assert_true(a.found);
            assert_int_equal(a.kk, kk);
            assert_int_equal(a.reason, j == 2 ? ELIG_REASON_MEMBER_DECEASED : ELIG_REASON_NOT_ENROLLED);
            assert_int_equal(elig_household_get(o.r, ELIG_KIND_KK, id16(nik), &h), 0);
        }
    }
    /* ids beyond 16 digits name nothing (and do not alias another kind) */
    assert_int_equal(elig_household_get(o.r, ELIG_KIND_KK, UINT64_C(3201010000000001) | UINT64_C(1) << 54, &h), 0);
    close_snap(&o);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, tcase_setup, tcase_teardown)
    const struct CMUnitTest tests[] = {
        T(household_field_rules),
        T(member_field_rules),
        T(enrollment_field_rules),
        T(duplicates_and_unknown_families),
        T(overlapping_enrollments),
        T(reason_precedence),
        T(csv_shapes),
        T(missing_or_duplicate_columns),
        T(missing_file),
        T(ratio_exactly_at_limit_succeeds),
        T(ratio_over_limit_publishes_nothing),
        T(ratio_counts_all_files),
        T(no_rows_builds_empty_snapshot),
        T(metadata),
        cmocka_unit_test(id_syntax),
        T(failed_publish_leaves_no_temp_file),
        T(default_rejects_path),
        T(output_over_input_refused),
        T(every_id_resolves_through_the_index),
        T(content_hash_is_the_rows),
        T(snapshot_and_rejects_created_0640_whatever_the_umask),
        T(outputs_never_follow_a_symlink),
        T(cr_only_line_endings_fail_the_build),
        T(private_copy_survives_overwrite_and_truncate),
        T(extract_answers_as_the_source_and_needs_its_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
