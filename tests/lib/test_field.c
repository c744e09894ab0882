/* test_field.c — the field syntax of SPEC sections 1 and 2 (include/elig.h).
 *
 * Every expected value below is written by hand from the SPEC; none is
 * produced by the code under test. Each input is copied into a heap buffer
 * of exactly its length with no NUL after it, as fields arrive from a CSV
 * map or a msgpack buffer, so a validator that reads one byte too far shows
 * up under valgrind or ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "elig.h"

/* ---- helpers ------------------------------------------------------------ */

/* A copy of n bytes of s with nothing after it (not NUL-terminated). */
static char *exact(const char *s, size_t n) {
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, s, n);
    return b;
}

/* Printable form of an input for failure messages (binary bytes as \xHH). */
static const char *show(const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
    }
    buf[o] = '\0';
    return buf;
}

typedef bool (*validator)(const char *, size_t);

static bool run_validator(validator fn, const char *s, size_t n) {
    char *b = exact(s, n);
    bool got = fn(b, n);
    free(b);
    return got;
}

/* Asserts fn(s[0..n)) == want, naming the input on failure. */
#define EXPECT_N(fn, s, n, want)                                                                   \
    do {                                                                                           \
        bool got_ = run_validator(fn, (s), (n));                                                   \
        if (got_ != (want)) {                                                                      \
            char b_[256];                                                                          \
            print_error("%s(\"%s\", %zu) = %s, want %s\n", #fn, show((s), (n), b_, sizeof b_),     \
                        (size_t)(n), got_ ? "true" : "false", (want) ? "true" : "false");          \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
#define EXPECT(fn, s, want) EXPECT_N(fn, s, strlen(s), want)
#define YES(fn, s) EXPECT(fn, s, true)
#define NO(fn, s) EXPECT(fn, s, false)

/* ---- ids: elig_parse_id16 / elig_format_id16 ----------------------------- */

static int parse_id(const char *s, size_t n, uint64_t *out) {
    char *b = exact(s, n);
    int rc = elig_parse_id16(b, n, out);
    free(b);
    return rc;
}

#define ID_OK(s, want)                                                                             \
    do {                                                                                           \
        uint64_t v_ = 0;                                                                           \
        if (parse_id((s), strlen(s), &v_) != 0) {                                                  \
            print_error("elig_parse_id16(\"%s\") rejected, want %llu\n", (s),                     \
                        (unsigned long long)(want));                                               \
            fail();                                                                                \
        }                                                                                          \
        assert_int_equal(v_, (uint64_t)(want));                                                    \
    } while (0)
#define ID_BAD(s)                                                                                  \
    do {                                                                                           \
        uint64_t v_ = 0;                                                                           \
        int rc_ = parse_id((s), strlen(s), &v_);                                                   \
        if (rc_ != ELIG_EINVAL) {                                                                  \
            char b_[64];                                                                           \
            print_error("elig_parse_id16(\"%s\") = %d, want ELIG_EINVAL\n",                        \
                        show((s), strlen(s), b_, sizeof b_), rc_);                                 \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void test_id16_parse(void **state) {
    (void)state;
    ID_OK("1234567890123456", 1234567890123456ULL);
    ID_OK("0000000000000000", 0);
    ID_OK("0000000000000042", 42);
    ID_OK("9999999999999999", 9999999999999999ULL);
    ID_OK("3201011508900001", 3201011508900001ULL);
    ID_BAD("123456789012345");   /* 15 */
    ID_BAD("12345678901234567"); /* 17 */
    ID_BAD("");
    ID_BAD("123456789012345a");
    ID_BAD("a234567890123456");
    ID_BAD("12345678 0123456");
    ID_BAD("-234567890123456");
    ID_BAD("+234567890123456");
    ID_BAD("123456789012345/"); /* '0' - 1 */
    ID_BAD("123456789012345:"); /* '9' + 1 */
    ID_BAD("123456789012345\xB0");
    ID_BAD("\xEF\xBC\x91" "2345678901234"); /* fullwidth 1: 16 bytes, not digits */
}

static void test_id16_reads_only_n(void **state) {
    (void)state;
    uint64_t v = 0;
    /* The first 16 bytes of a longer buffer are the id. */
    assert_int_equal(parse_id("12345678901234567890", 16, &v), 0);
    assert_int_equal(v, 1234567890123456ULL);
    /* 15 bytes of a 16-digit string are too few. */
    assert_int_equal(parse_id("1234567890123456", 15, &v), ELIG_EINVAL);
}

static void test_id16_format(void **state) {
    (void)state;
    char out[17];
    memset(out, 'x', sizeof out);
    elig_format_id16(42, out);
    assert_string_equal(out, "0000000000000042"); /* leading zeros kept */
    assert_int_equal(out[16], '\0');
    elig_format_id16(0, out);
    assert_string_equal(out, "0000000000000000");
    elig_format_id16(1, out);
    assert_string_equal(out, "0000000000000001");
    elig_format_id16(9999999999999999ULL, out);
    assert_string_equal(out, "9999999999999999");
    elig_format_id16(1000000000000000ULL, out);
    assert_string_equal(out, "1000000000000000");
    elig_format_id16(3201011508900001ULL, out);
    assert_string_equal(out, "3201011508900001");
}

static void test_id16_round_trip(void **state) {
    (void)state;
    static const char *const ids[] = {"0000000000000000", "0000000000000001", "0012345678901234",
                                      "0999999999999999", "1000000000000000", "9999999999999999",
                                      "3201011508900001"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint64_t v;
        char out[17];
        assert_int_equal(parse_id(ids[i], 16, &v), 0);
        elig_format_id16(v, out);
        assert_string_equal(out, ids[i]);
    }
}

/* ---- kk: 16 digits, first 1-9 ------------------------------------------- */

static void test_kk(void **state) {
    (void)state;
    YES(elig_valid_kk, "1000000000000000");
    YES(elig_valid_kk, "3201000000000001");
    YES(elig_valid_kk, "9999999999999999");
    NO(elig_valid_kk, "0999999999999999"); /* first digit 0 */
    NO(elig_valid_kk, "0000000000000000");
    /* every first digit 1-9 is allowed */
    char kk[] = "X201000000000001";
    for (char d = '1'; d <= '9'; d++) {
        kk[0] = d;
        YES(elig_valid_kk, kk);
    }
    NO(elig_valid_kk, "320100000000001");   /* 15 */
    NO(elig_valid_kk, "32010000000000011"); /* 17 */
    NO(elig_valid_kk, "");
    NO(elig_valid_kk, "320100000000000a");
    NO(elig_valid_kk, " 201000000000001");
    NO(elig_valid_kk, "3201000000000001 ");
    NO(elig_valid_kk, "-201000000000001");
    EXPECT_N(elig_valid_kk, "32010000000000019", 16, true); /* only n bytes count */
}

/* ---- region: 10 digits, province 11-99 ----------------------------------- */

static void test_region(void **state) {
    (void)state;
    YES(elig_valid_region, "1101010001"); /* province 11 */
    YES(elig_valid_region, "3201010001");
    YES(elig_valid_region, "9999999999"); /* province 99 */
    YES(elig_valid_region, "1100000000"); /* the SPEC bounds only the province */
    NO(elig_valid_region, "1001010001");  /* province 10 */
    NO(elig_valid_region, "0901010001");  /* province 09 */
    NO(elig_valid_region, "0001010001");  /* province 00 */
    NO(elig_valid_region, "320101000");   /* 9 */
    NO(elig_valid_region, "32010100011"); /* 11 */
    NO(elig_valid_region, "");
    NO(elig_valid_region, "32.1010001");
    NO(elig_valid_region, "320101000a");
    NO(elig_valid_region, "3201-10001");
    EXPECT_N(elig_valid_region, "32010100019", 10, true);
}

/* ---- NIK: structural check of SPEC 1 ------------------------------------- */
/* Layout: PP RR DD dd mm yy SSSS — province, regency, district, day (+40 for
 * women), month, year, serial. Base "3201011508900001" is valid. */

static void test_nik_valid_base(void **state) {
    (void)state;
    YES(elig_valid_nik, "3201011508900001");
    YES(elig_valid_nik, "3201015508900001"); /* a woman born on the 15th */
    YES(elig_valid_nik, "3201011508000001"); /* year digits are free */
}

static void test_nik_province(void **state) {
    (void)state;
    NO(elig_valid_nik, "1001011508900001");  /* 10 */
    YES(elig_valid_nik, "1101011508900001"); /* 11 */
    YES(elig_valid_nik, "9901011508900001"); /* 99 */
    NO(elig_valid_nik, "0001011508900001");  /* 00 */
    NO(elig_valid_nik, "0101011508900001");  /* 01 */
}

static void test_nik_day(void **state) {
    (void)state;
    NO(elig_valid_nik, "3201010008900001");  /* 00 */
    YES(elig_valid_nik, "3201010108900001"); /* 01 */
    YES(elig_valid_nik, "3201013108900001"); /* 31 */
    NO(elig_valid_nik, "3201013208900001");  /* 32 */
    NO(elig_valid_nik, "3201013908900001");  /* 39 */
    NO(elig_valid_nik, "3201014008900001");  /* 40 */
    YES(elig_valid_nik, "3201014108900001"); /* 41 */
    YES(elig_valid_nik, "3201017108900001"); /* 71 */
    NO(elig_valid_nik, "3201017208900001");  /* 72 */
    NO(elig_valid_nik, "3201019908900001");  /* 99 */
    /* structural only: day 31 or 71 in February is not checked */
    YES(elig_valid_nik, "3201013102900001");
    YES(elig_valid_nik, "3201017102900001");
}

static void test_nik_month(void **state) {
    (void)state;
    NO(elig_valid_nik, "3201011500900001");  /* 00 */
    YES(elig_valid_nik, "3201011501900001"); /* 01 */
    YES(elig_valid_nik, "3201011512900001"); /* 12 */
    NO(elig_valid_nik, "3201011513900001");  /* 13 */
    NO(elig_valid_nik, "3201011520900001");  /* 20 */
}

static void test_nik_serial(void **state) {
    (void)state;
    NO(elig_valid_nik, "3201011508900000");  /* 0000 */
    YES(elig_valid_nik, "3201011508900001"); /* 0001 */
    YES(elig_valid_nik, "3201011508901000"); /* 1000 */
    YES(elig_valid_nik, "3201011508900010");
    YES(elig_valid_nik, "3201011508909999");
}

static void test_nik_shape(void **state) {
    (void)state;
    NO(elig_valid_nik, "320101150890001");   /* 15 */
    NO(elig_valid_nik, "32010115089000011"); /* 17 */
    NO(elig_valid_nik, "");
    NO(elig_valid_nik, "32010115089000a1");
    NO(elig_valid_nik, "3201011508 00001");
    NO(elig_valid_nik, "320101-508900001");
    NO(elig_valid_nik, "320101150890000\xB1");
    EXPECT_N(elig_valid_nik, "32010115089000017", 16, true);
}

/* ---- dates: YYYY-MM-DD, a real Gregorian date ---------------------------- */

static void test_date_leap(void **state) {
    (void)state;
    YES(elig_valid_date, "2000-02-29"); /* divisible by 400 */
    NO(elig_valid_date, "1900-02-29");  /* by 100, not 400 */
    YES(elig_valid_date, "2024-02-29"); /* by 4 */
    NO(elig_valid_date, "2023-02-29");
    YES(elig_valid_date, "2023-02-28");
    NO(elig_valid_date, "2024-02-30");
    YES(elig_valid_date, "1600-02-29");
    NO(elig_valid_date, "2100-02-29");
    YES(elig_valid_date, "0004-02-29");
}

static void test_date_month_lengths(void **state) {
    (void)state;
    static const char *const thirty_one[] = {"2024-01-31", "2024-03-31", "2024-05-31", "2024-07-31",
                                             "2024-08-31", "2024-10-31", "2024-12-31"};
    static const char *const thirty[] = {"2024-04-30", "2024-06-30", "2024-09-30", "2024-11-30"};
    static const char *const no_31st[] = {"2024-04-31", "2024-06-31", "2024-09-31", "2024-11-31"};
    for (size_t i = 0; i < sizeof thirty_one / sizeof thirty_one[0]; i++)
        YES(elig_valid_date, thirty_one[i]);
    for (size_t i = 0; i < sizeof thirty / sizeof thirty[0]; i++)
        YES(elig_valid_date, thirty[i]);
    for (size_t i = 0; i < sizeof no_31st / sizeof no_31st[0]; i++)
        NO(elig_valid_date, no_31st[i]);
    NO(elig_valid_date, "2024-01-32");
    NO(elig_valid_date, "2024-01-00");
    YES(elig_valid_date, "2024-01-01");
}

static void test_date_fields(void **state) {
    (void)state;
    NO(elig_valid_date, "0000-01-01"); /* there is no year 0 */
    YES(elig_valid_date, "0001-01-01");
    YES(elig_valid_date, "9999-12-31");
    NO(elig_valid_date, "2024-13-01");
    NO(elig_valid_date, "2024-00-10");
    YES(elig_valid_date, "2024-12-10");
}

static void test_date_format(void **state) {
    (void)state;
    NO(elig_valid_date, "");
    NO(elig_valid_date, "2024-1-01");
    NO(elig_valid_date, "2024-01-1");
    NO(elig_valid_date, "20240101");
    NO(elig_valid_date, "2024/01/01");
    NO(elig_valid_date, "2024-01/01");
    NO(elig_valid_date, "01-01-2024");
    NO(elig_valid_date, "2024-01-0a");
    NO(elig_valid_date, "2024-01-01 ");
    NO(elig_valid_date, " 2024-01-01");
    NO(elig_valid_date, "2024-01-01T00:00:00Z");
    NO(elig_valid_date, "+024-01-01");
    NO(elig_valid_date, "2024-+1-01");
    NO(elig_valid_date, "2024-01--1");
    NO(elig_valid_date, "24-01-01");
    EXPECT_N(elig_valid_date, "2024-01-012", 10, true);
}

/* ---- periods: YYYY-MM, year 0001-9999, month 01-12 ------------------------ */

/* The month number elig.h defines: year * 12 + (month - 1). */
#define MON(y, m) ((elig_month)(y) * 12u + (elig_month)(m) - 1u)

static int parse_period(const char *s, size_t n, elig_month *out) {
    char *b = exact(s, n);
    int rc = elig_parse_period(b, n, out);
    free(b);
    return rc;
}

#define PERIOD_OK(s, want)                                                                         \
    do {                                                                                           \
        elig_month m_ = 0;                                                                         \
        if (parse_period((s), strlen(s), &m_) != 0) {                                              \
            print_error("elig_parse_period(\"%s\") rejected\n", (s));                              \
            fail();                                                                                \
        }                                                                                          \
        assert_int_equal(m_, (want));                                                              \
    } while (0)
#define PERIOD_BAD(s)                                                                              \
    do {                                                                                           \
        elig_month m_ = 0;                                                                         \
        int rc_ = parse_period((s), strlen(s), &m_);                                               \
        if (rc_ != ELIG_EINVAL) {                                                                  \
            print_error("elig_parse_period(\"%s\") = %d, want ELIG_EINVAL\n", (s), rc_);           \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void test_period_parse(void **state) {
    (void)state;
    PERIOD_OK("0001-01", 12u);
    PERIOD_OK("9999-12", 119999u);
    PERIOD_OK("2024-01", 24288u);
    PERIOD_OK("2023-12", 24287u);
    PERIOD_OK("2024-12", 24299u);
    PERIOD_BAD("0000-01");
    PERIOD_BAD("0000-12");
    PERIOD_BAD("2024-00");
    PERIOD_BAD("2024-13");
    PERIOD_BAD("2024-99");
    PERIOD_BAD("2024-1");
    PERIOD_BAD("202401");
    PERIOD_BAD("2024-001");
    PERIOD_BAD("02024-01");
    PERIOD_BAD("2024/01");
    PERIOD_BAD("2024_01");
    PERIOD_BAD("2024-1a");
    PERIOD_BAD("+024-01");
    PERIOD_BAD("2024-+1");
    PERIOD_BAD("2024--1");
    PERIOD_BAD(" 2024-01");
    PERIOD_BAD("2024-01 ");
    PERIOD_BAD("2024-01-01");
    PERIOD_BAD("");
    elig_month m = 0;
    assert_int_equal(parse_period("2024-012", 7, &m), 0); /* only n bytes count */
    assert_int_equal(m, 24288u);
}

static void test_period_format(void **state) {
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    elig_format_period(12u, out);
    assert_string_equal(out, "0001-01");
    assert_int_equal(out[7], '\0');
    elig_format_period(119999u, out);
    assert_string_equal(out, "9999-12");
    elig_format_period(24288u, out);
    assert_string_equal(out, "2024-01");
    elig_format_period(24287u, out);
    assert_string_equal(out, "2023-12");
    elig_format_period(MON(10, 10), out);
    assert_string_equal(out, "0010-10");
}

static void test_period_round_trip(void **state) {
    (void)state;
    static const char *const periods[] = {"0001-01", "0001-12", "0002-01", "0999-12", "1000-01",
                                          "1999-12", "2000-01", "2023-12", "2024-01", "2024-02",
                                          "2024-09", "2024-10", "2024-11", "2024-12", "9999-01",
                                          "9999-12"};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        elig_month m;
        char out[8];
        assert_int_equal(parse_period(periods[i], 7, &m), 0);
        elig_format_period(m, out);
        assert_string_equal(out, periods[i]);
        /* the list is in calendar order, one step at a time or more */
        if (i > 0) {
            elig_month prev;
            assert_int_equal(parse_period(periods[i - 1], 7, &prev), 0);
            assert_true(prev < m);
        }
    }
}

static void test_period_ordering(void **state) {
    (void)state;
    elig_month a, b;
    /* consecutive months across a year boundary differ by exactly one */
    assert_int_equal(parse_period("2023-12", 7, &a), 0);
    assert_int_equal(parse_period("2024-01", 7, &b), 0);
    assert_int_equal(b - a, 1);
    assert_int_equal(parse_period("0001-12", 7, &a), 0);
    assert_int_equal(parse_period("0002-01", 7, &b), 0);
    assert_int_equal(b - a, 1);
    assert_int_equal(parse_period("9999-11", 7, &a), 0);
    assert_int_equal(parse_period("9999-12", 7, &b), 0);
    assert_int_equal(b - a, 1);
    /* December of one year is before January of the next, not after */
    assert_int_equal(parse_period("2023-12", 7, &a), 0);
    assert_int_equal(parse_period("2024-02", 7, &b), 0);
    assert_true(a < b);
    assert_int_equal(b - a, 2);
    /* a whole year is twelve months */
    assert_int_equal(parse_period("2023-05", 7, &a), 0);
    assert_int_equal(parse_period("2024-05", 7, &b), 0);
    assert_int_equal(b - a, 12);
    /* the open end is past every real month */
    assert_true(b < ELIG_MONTH_OPEN);
    assert_int_equal(parse_period("9999-12", 7, &b), 0);
    assert_true(b < ELIG_MONTH_OPEN);
}

/* ---- amounts: decimal digits only, 0..4294967295 -------------------------- */

static bool parse_amount(const char *s, size_t n, uint32_t *out) {
    char *b = exact(s, n);
    bool ok = elig_parse_amount(b, n, out);
    free(b);
    return ok;
}

#define AMOUNT_OK(s, want)                                                                         \
    do {                                                                                           \
        uint32_t v_ = 0xDEADBEEF;                                                                  \
        if (!parse_amount((s), strlen(s), &v_)) {                                                  \
            print_error("elig_parse_amount(\"%s\") rejected, want %lu\n", (s),                    \
                        (unsigned long)(want));                                                    \
            fail();                                                                                \
        }                                                                                          \
        assert_int_equal(v_, (uint32_t)(want));                                                    \
    } while (0)
#define AMOUNT_BAD(s)                                                                              \
    do {                                                                                           \
        uint32_t v_ = 0;                                                                           \
        if (parse_amount((s), strlen(s), &v_)) {                                                   \
            print_error("elig_parse_amount(\"%s\") accepted as %lu\n", (s), (unsigned long)v_);    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void test_amount(void **state) {
    (void)state;
    AMOUNT_OK("0", 0);
    AMOUNT_OK("1", 1);
    AMOUNT_OK("750000", 750000);
    AMOUNT_OK("4294967295", 4294967295UL);
    AMOUNT_OK("007", 7);
    AMOUNT_OK("0000000000", 0);
    AMOUNT_OK("00000000000000000000000000000000004294967295", 4294967295UL);
    AMOUNT_OK("00000000000000000000000000000000000000000001", 1);
    AMOUNT_BAD("");
    AMOUNT_BAD("4294967296");
    AMOUNT_BAD("4294967300");
    AMOUNT_BAD("9999999999");
    AMOUNT_BAD("42949672950");
    AMOUNT_BAD("00000000000000000000000000000000004294967296");
    AMOUNT_BAD("18446744073709551616");  /* 2^64: must not wrap */
    AMOUNT_BAD("184467440737095516170"); /* > 2^64 */
    AMOUNT_BAD("-1");
    AMOUNT_BAD("+1");
    AMOUNT_BAD("-0");
    AMOUNT_BAD(" 1");
    AMOUNT_BAD("1 ");
    AMOUNT_BAD("1 000");
    AMOUNT_BAD("1,000");
    AMOUNT_BAD("1.5");
    AMOUNT_BAD("1e3");
    AMOUNT_BAD("0x10");
    uint32_t v = 0;
    assert_true(parse_amount("123456", 3, &v)); /* only n bytes count */
    assert_int_equal(v, 123);
}

/* ---- programme names: 1-16 chars of A-Z 0-9 _ ----------------------------- */

static void test_program(void **state) {
    (void)state;
    YES(elig_valid_program, "PKH");
    YES(elig_valid_program, "BPNT");
    YES(elig_valid_program, "PBI");
    YES(elig_valid_program, "PBI_JK");
    YES(elig_valid_program, "A");
    YES(elig_valid_program, "_");
    YES(elig_valid_program, "0");
    YES(elig_valid_program, "123");
    YES(elig_valid_program, "AZ09_");
    YES(elig_valid_program, "ABCDEFGHIJKLMNOP");  /* 16 */
    NO(elig_valid_program, "ABCDEFGHIJKLMNOPQ");  /* 17 */
    NO(elig_valid_program, "");
    NO(elig_valid_program, "pkh");
    NO(elig_valid_program, "Pkh");
    NO(elig_valid_program, "PKh");
    NO(elig_valid_program, "PBI-JK");
    NO(elig_valid_program, "PK H");
    NO(elig_valid_program, " PKH");
    NO(elig_valid_program, "PKH ");
    NO(elig_valid_program, "PKH.");
    NO(elig_valid_program, "@"); /* 'A' - 1 */
    NO(elig_valid_program, "["); /* 'Z' + 1 */
    NO(elig_valid_program, "/"); /* '0' - 1 */
    NO(elig_valid_program, ":"); /* '9' + 1 */
    NO(elig_valid_program, "^"); /* '_' - 1 */
    NO(elig_valid_program, "`"); /* '_' + 1 */
    NO(elig_valid_program, "\xC3\x89"); /* É */
    EXPECT_N(elig_valid_program, "PKH\0", 4, false);
    EXPECT_N(elig_valid_program, "PKHX", 3, true);
    EXPECT_N(elig_valid_program, "ABCDEFGHIJKLMNOPQ", 16, true);
}

/* ---- UTF-8 --------------------------------------------------------------- */

static void test_utf8_valid(void **state) {
    (void)state;
    YES(elig_valid_utf8, "");
    YES(elig_valid_utf8, "Siti Nurhaliza");
    YES(elig_valid_utf8, "\x7F");
    YES(elig_valid_utf8, "\xC2\x80");             /* U+0080, first 2-byte */
    YES(elig_valid_utf8, "Jos\xC3\xA9");          /* é */
    YES(elig_valid_utf8, "\xDF\xBF");             /* U+07FF, last 2-byte */
    YES(elig_valid_utf8, "\xE0\xA0\x80");         /* U+0800, first 3-byte */
    YES(elig_valid_utf8, "\xE2\x82\xAC");         /* € */
    YES(elig_valid_utf8, "\xED\x9F\xBF");         /* U+D7FF, just below surrogates */
    YES(elig_valid_utf8, "\xEE\x80\x80");         /* U+E000, just above */
    YES(elig_valid_utf8, "\xEF\xBF\xBF");         /* U+FFFF */
    YES(elig_valid_utf8, "\xF0\x90\x80\x80");     /* U+10000, first 4-byte */
    YES(elig_valid_utf8, "\xF0\x9D\x84\x9E");     /* 𝄞 */
    YES(elig_valid_utf8, "\xF4\x8F\xBF\xBF");     /* U+10FFFF, the last */
    YES(elig_valid_utf8, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z");
    EXPECT_N(elig_valid_utf8, "a\0b", 3, true); /* U+0000 is a code point */
}

static void test_utf8_invalid(void **state) {
    (void)state;
    NO(elig_valid_utf8, "\xC0\x80");             /* overlong NUL */
    NO(elig_valid_utf8, "\xC1\xBF");             /* overlong U+007F */
    NO(elig_valid_utf8, "\xE0\x80\x80");         /* overlong */
    NO(elig_valid_utf8, "\xE0\x9F\xBF");         /* overlong U+07FF */
    NO(elig_valid_utf8, "\xF0\x80\x80\x80");     /* overlong */
    NO(elig_valid_utf8, "\xF0\x8F\xBF\xBF");     /* overlong U+FFFF */
    NO(elig_valid_utf8, "\xED\xA0\x80");         /* U+D800 surrogate */
    NO(elig_valid_utf8, "\xED\xBF\xBF");         /* U+DFFF surrogate */
    NO(elig_valid_utf8, "\xED\xA0\xBD\xED\xB8\x80"); /* CESU-8 pair */
    NO(elig_valid_utf8, "\xF4\x90\x80\x80");     /* U+110000 */
    NO(elig_valid_utf8, "\xF5\x80\x80\x80");
    NO(elig_valid_utf8, "\xF7\xBF\xBF\xBF");
    NO(elig_valid_utf8, "\xF8\x88\x80\x80\x80"); /* 5-byte form */
    NO(elig_valid_utf8, "\xFC\x84\x80\x80\x80\x80");
    NO(elig_valid_utf8, "\xFE");
    NO(elig_valid_utf8, "\xFF");
    NO(elig_valid_utf8, "\x80");                 /* stray continuation */
    NO(elig_valid_utf8, "\xBF");
    NO(elig_valid_utf8, "ab\x80" "cd");
    NO(elig_valid_utf8, "\xC3\xA9\xA9");         /* one continuation too many */
}

static void test_utf8_truncated(void **state) {
    (void)state;
    NO(elig_valid_utf8, "\xC3");
    NO(elig_valid_utf8, "abc\xC3");
    NO(elig_valid_utf8, "\xE2\x82");
    NO(elig_valid_utf8, "\xE2");
    NO(elig_valid_utf8, "\xF0\x9D\x84");
    NO(elig_valid_utf8, "\xF0\x9D");
    NO(elig_valid_utf8, "\xF0");
    NO(elig_valid_utf8, "\xC3" "A");       /* lead byte then ASCII */
    NO(elig_valid_utf8, "\xE2\x82" "A");
    NO(elig_valid_utf8, "\xF0\x9D\x84" "A");
    NO(elig_valid_utf8, "\xE2\xC3\xA9");   /* lead byte then a new lead */
    /* a valid sequence cut by the length, not by a NUL */
    EXPECT_N(elig_valid_utf8, "\xE2\x82\xAC", 2, false);
    EXPECT_N(elig_valid_utf8, "\xF0\x9D\x84\x9E", 3, false);
    EXPECT_N(elig_valid_utf8, "\xC3\xA9", 1, false);
}

/* ---- elig_query_parse ---------------------------------------------------- */

static elig_query_error query(elig_query *q, const char *kind, const char *id, const char *program,
                              const char *period) {
    size_t kn = strlen(kind), in = strlen(id), pn = strlen(program), mn = strlen(period);
    char *k = exact(kind, kn), *i = exact(id, in), *p = exact(program, pn), *m = exact(period, mn);
    elig_query_error e = elig_query_parse(q, k, kn, i, in, p, pn, m, mn);
    free(k);
    free(i);
    free(p);
    free(m);
    return e;
}

static void test_query_ok(void **state) {
    (void)state;
    elig_query q;
    memset(&q, 0xAA, sizeof q);
    assert_int_equal(query(&q, "nik", "3201011508900001", "PKH", "2024-01"), ELIG_QUERY_OK);
    assert_int_equal(q.kind, ELIG_KIND_NIK);
    assert_int_equal(q.id, 3201011508900001ULL);
    assert_int_equal(q.program_len, 3);
    assert_memory_equal(q.program, "PKH", 3);
    assert_int_equal(q.period, 24288u);

    assert_int_equal(query(&q, "kk", "3201000000000001", "ABCDEFGHIJKLMNOP", "9999-12"),
                     ELIG_QUERY_OK);
    assert_int_equal(q.kind, ELIG_KIND_KK);
    assert_int_equal(q.id, 3201000000000001ULL);
    assert_int_equal(q.program_len, 16);
    assert_memory_equal(q.program, "ABCDEFGHIJKLMNOP", 16);
    assert_int_equal(q.period, 119999u);

    assert_int_equal(query(&q, "kks", "5000000000000001", "BPNT", "0001-01"), ELIG_QUERY_OK);
    assert_int_equal(q.kind, ELIG_KIND_KKS);
    assert_int_equal(q.id, 5000000000000001ULL);
    assert_int_equal(q.program_len, 4);
    assert_memory_equal(q.program, "BPNT", 4);
    assert_int_equal(q.period, 12u);
}

/* SPEC 2: the id is 16 ASCII digits and nothing more; an id that names
 * nothing (a kk with a leading 0, an impossible NIK) is not_found, not a
 * bad request. */
static void test_query_id_no_other_check(void **state) {
    (void)state;
    elig_query q;
    assert_int_equal(query(&q, "kk", "0000000000000000", "PKH", "2024-01"), ELIG_QUERY_OK);
    assert_int_equal(q.id, 0);
    assert_int_equal(query(&q, "kk", "0123456789012345", "PKH", "2024-01"), ELIG_QUERY_OK);
    assert_int_equal(q.id, 123456789012345ULL);
    assert_int_equal(query(&q, "nik", "0000000000000000", "PKH", "2024-01"), ELIG_QUERY_OK);
    assert_int_equal(query(&q, "nik", "9999999999999999", "PKH", "2024-01"), ELIG_QUERY_OK);
    assert_int_equal(query(&q, "kks", "0000000000000001", "PKH", "2024-01"), ELIG_QUERY_OK);
}

static void test_query_bad_kind(void **state) {
    (void)state;
    static const char *const kinds[] = {"", "NIK", "Nik", "KK", "Kks", "kk ", " kk", "nikk",
                                        "ni", "k", "kkss", "id", "nik\xC2\xA0"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        elig_query q;
        elig_query_error e = query(&q, kinds[i], "3201011508900001", "PKH", "2024-01");
        if (e != ELIG_QUERY_BAD_KIND) {
            print_error("kind \"%s\": got %d, want ELIG_QUERY_BAD_KIND\n", kinds[i], (int)e);
            fail();
        }
    }
}

static void test_query_bad_id(void **state) {
    (void)state;
    static const char *const ids[] = {"", "320101150890000", "32010115089000011", "320101150890000a",
                                      " 201011508900001", "3201011508900001 ", "-201011508900001"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        elig_query q;
        elig_query_error e = query(&q, "kk", ids[i], "PKH", "2024-01");
        if (e != ELIG_QUERY_BAD_ID) {
            print_error("id \"%s\": got %d, want ELIG_QUERY_BAD_ID\n", ids[i], (int)e);
            fail();
        }
    }
}

static void test_query_bad_program(void **state) {
    (void)state;
    static const char *const programs[] = {"", "pkh", "PBI-JK", "ABCDEFGHIJKLMNOPQ", "PKH ",
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"};
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        elig_query q;
        elig_query_error e = query(&q, "nik", "3201011508900001", programs[i], "2024-01");
        if (e != ELIG_QUERY_BAD_PROGRAM) {
            print_error("program \"%s\": got %d, want ELIG_QUERY_BAD_PROGRAM\n", programs[i], (int)e);
            fail();
        }
    }
}

static void test_query_bad_period(void **state) {
    (void)state;
    static const char *const periods[] = {"", "0000-01", "2024-00", "2024-13", "2024-1",
                                          "202401", "2024-01-01", "2024/01"};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        elig_query q;
        elig_query_error e = query(&q, "kks", "5000000000000001", "PKH", periods[i]);
        if (e != ELIG_QUERY_BAD_PERIOD) {
            print_error("period \"%s\": got %d, want ELIG_QUERY_BAD_PERIOD\n", periods[i], (int)e);
            fail();
        }
    }
}

static void test_query_error_field(void **state) {
    (void)state;
    assert_string_equal(elig_query_error_field(ELIG_QUERY_BAD_KIND), "kind");
    assert_string_equal(elig_query_error_field(ELIG_QUERY_BAD_ID), "id");
    assert_string_equal(elig_query_error_field(ELIG_QUERY_BAD_PROGRAM), "program");
    assert_string_equal(elig_query_error_field(ELIG_QUERY_BAD_PERIOD), "period");
    assert_non_null(elig_query_error_field((elig_query_error)99));
}

/* ---- error names --------------------------------------------------------- */

static void test_strerror(void **state) {
    (void)state;
    static const int codes[] = {ELIG_EINVAL, ELIG_ENOMEM,   ELIG_EIO,   ELIG_ESCHEMA,
                                ELIG_ECORRUPT, ELIG_ENOENT, ELIG_ECHECKSUM, ELIG_ELMDB,
                                ELIG_ETLS,   ELIG_ECONFIG,  ELIG_ESIGNATURE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_true(codes[i] < 0);
        const char *m = elig_strerror(codes[i]);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(m, elig_strerror(codes[j])); /* each code its own words */
    }
    /* A negated errno reads as the system's words; codes of the list lie
     * outside the errno range, so they can never be mistaken for one. */
    assert_string_equal(elig_strerror(-ENOSPC), strerror(ENOSPC));
    assert_true(ELIG_ESCHEMA < -4095 && ELIG_ESIGNATURE < -4095);
    assert_string_equal(elig_strerror(-12345), "unknown error");
    assert_string_equal(elig_strerror(0), "success");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id16_parse),
        cmocka_unit_test(test_id16_reads_only_n),
        cmocka_unit_test(test_id16_format),
        cmocka_unit_test(test_id16_round_trip),
        cmocka_unit_test(test_kk),
        cmocka_unit_test(test_region),
        cmocka_unit_test(test_nik_valid_base),
        cmocka_unit_test(test_nik_province),
        cmocka_unit_test(test_nik_day),
        cmocka_unit_test(test_nik_month),
        cmocka_unit_test(test_nik_serial),
        cmocka_unit_test(test_nik_shape),
        cmocka_unit_test(test_date_leap),
        cmocka_unit_test(test_date_month_lengths),
        cmocka_unit_test(test_date_fields),
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_period_parse),
        cmocka_unit_test(test_period_format),
        cmocka_unit_test(test_period_round_trip),
        cmocka_unit_test(test_period_ordering),
        cmocka_unit_test(test_amount),
        cmocka_unit_test(test_program),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_truncated),
        cmocka_unit_test(test_query_ok),
        cmocka_unit_test(test_query_id_no_other_check),
        cmocka_unit_test(test_query_bad_kind),
        cmocka_unit_test(test_query_bad_id),
        cmocka_unit_test(test_query_bad_program),
        cmocka_unit_test(test_query_bad_period),
        cmocka_unit_test(test_query_error_field),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("lib_field", tests, NULL, NULL);
}
