/* test_mpr.c — the one msgpack reader (lib/mpr.c) and writer (lib/mpw.h):
 * framing whole and byte by byte, resumption, hostile headers, depth, the
 * cursor reads, and the msgpack-RPC envelopes on both sides. Inputs are
 * msgpack bytes written out by hand from the msgpack specification; the
 * daemon, client and bench read with exactly this code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mpr.h"
#include "mpw.h"

#define LIMIT 1024

static long next(const char *bytes, size_t n, mpr_request *m) {
    return mpr_rpc_next((const uint8_t *)bytes, n, LIMIT, m);
}

/* [0, 7, "ping", []] */
static const char ping[] = "\x94\x00\x07\xa4ping\x90";

/* ---- framing ------------------------------------------------------------ */

static void test_request_framed(void **state) {
    (void)state;
    mpr_request m;
    assert_int_equal(next(ping, sizeof ping - 1, &m), 9);
    assert_int_equal(m.type, MPR_RPC_REQUEST);
    assert_int_equal(m.msgid, 7);
    assert_int_equal(m.method_len, 4);
    assert_memory_equal(m.method, "ping", 4);
    assert_int_equal(m.nparams, 0);
}

static void test_every_prefix_needs_more(void **state) {
    (void)state;
    mpr_request m;
    for (size_t n = 0; n < sizeof ping - 1; n++)
        assert_int_equal(next(ping, n, &m), MPR_NEED_MORE);
}

static void test_two_messages_back_to_back(void **state) {
    (void)state;
    char two[32];
    memcpy(two, ping, 9);
    memcpy(two + 9, ping, 9);
    two[11] = 9; /* second msgid */
    mpr_request m;
    assert_int_equal(next(two, 18, &m), 9);
    assert_int_equal(m.msgid, 7);
    assert_int_equal(next(two + 9, 9, &m), 9);
    assert_int_equal(m.msgid, 9);
}

/* A message fed one byte at a time to one scan state is framed exactly when
 * its last byte arrives, and the state never reads a byte twice beyond a
 * cut header: the work is linear in the message, whatever the pieces. */
static void test_resumes_byte_by_byte(void **state) {
    (void)state;
    /* [0, 1, "check_batch", [[ ["kk", "1234567890123456", "PKH", "2024-01"] x 50 ]]] */
    uint8_t msg[4096], *p = msg;
    p = mpw_array(p, 4);
    *p++ = 0;
    p = mpw_uint(p, 1);
    p = mpw_str(p, "check_batch", 11);
    p = mpw_array(p, 1);
    p = mpw_array(p, 50);
    for (int i = 0; i < 50; i++) {
        p = mpw_array(p, 4);
        p = mpw_str(p, "kk", 2);
        p = mpw_str(p, "1234567890123456", 16);
        p = mpw_str(p, "PKH", 3);
        p = mpw_str(p, "2024-01", 7);
    }
    size_t len = (size_t)(p - msg);
    mpr_scan s;
    mpr_scan_reset(&s);
    for (size_t n = 1; n < len; n++) {
        assert_int_equal(mpr_scan_next(&s, msg, n, 1 << 20), MPR_NEED_MORE);
        assert_true(s.pos <= n);
        /* Everything but at most one partial object (a header and its
         * payload) has been accepted: no re-reading from the start. */
        assert_true(n - s.pos <= 17);
    }
    assert_int_equal(mpr_scan_next(&s, msg, len, 1 << 20), (long)len);
    /* The same from scratch, in uneven pieces, gives the same size. */
    mpr_scan_reset(&s);
    size_t n = 0;
    long r = MPR_NEED_MORE;
    for (size_t step = 1; r == MPR_NEED_MORE; step = step * 3 % 17 + 1) {
        n = n + step < len ? n + step : len;
        r = mpr_scan_next(&s, msg, n, 1 << 20);
    }
    assert_int_equal(r, (long)len);
    assert_int_equal(n, len);
}

static void test_notification(void **state) {
    (void)state;
    /* [2, "ping", []] */
    mpr_request m;
    assert_int_equal(next("\x93\x02\xa4ping\x90", 8, &m), 8);
    assert_int_equal(m.type, MPR_RPC_NOTIFY);
    assert_int_equal(m.msgid, 0);
}

static void test_method_as_bin(void **state) {
    (void)state;
    /* [0, 1, bin8 "ping", []] */
    mpr_request m;
    assert_int_equal(next("\x94\x00\x01\xc4\x04ping\x90", 10, &m), 10);
    assert_memory_equal(m.method, "ping", 4);
}

static void test_msgid_encodings(void **state) {
    (void)state;
    mpr_request m;
    /* uint32 0xffffffff is the largest msgid */
    assert_int_equal(next("\x94\x00\xce\xff\xff\xff\xff\xa1x\x90", 10, &m), 10);
    assert_int_equal(m.msgid, UINT32_MAX);
    /* uint64 2^32 is not a uint32 */
    assert_int_equal(next("\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa1x\x90", 14, &m), MPR_NOT_RPC);
    /* negative fixint -1 */
    assert_int_equal(next("\x94\x00\xff\xa1x\x90", 6, &m), MPR_NOT_RPC);
    /* int8 holding 5 is accepted */
    assert_int_equal(next("\x94\x00\xd0\x05\xa1x\x90", 7, &m), 7);
    assert_int_equal(m.msgid, 5);
    /* a string msgid */
    assert_int_equal(next("\x94\x00\xa1" "1\xa1x\x90", 7, &m), MPR_NOT_RPC);
}

static void test_not_rpc_shapes(void **state) {
    (void)state;
    mpr_request m;
    assert_int_equal(next("\x01", 1, &m), MPR_NOT_RPC);                       /* an int */
    assert_int_equal(next("\x93\x00\x01\xa1x", 5, &m), MPR_NOT_RPC);          /* request of 3 */
    assert_int_equal(next("\x94\x01\x01\xc0\xc0", 5, &m), MPR_NOT_RPC);       /* a response */
    assert_int_equal(next("\x94\x00\x01\x01\x90", 5, &m), MPR_NOT_RPC);       /* method int */
    assert_int_equal(next("\x94\x00\x01\xa1x\x80", 6, &m), MPR_NOT_RPC);      /* params map */
    assert_int_equal(next("\x94\x00\x01\xa1x\xa0", 6, &m), MPR_NOT_RPC);      /* params str */
    assert_int_equal(next("\x84\x00\x01\x02\x03\x04\x05\x06\x07", 9, &m), MPR_NOT_RPC); /* map */
}

static void test_never_used_byte_is_malformed(void **state) {
    (void)state;
    mpr_request m;
    assert_int_equal(next("\xc1", 1, &m), MPR_MALFORMED);
    assert_int_equal(next("\x94\x00\x01\xc1", 4, &m), MPR_MALFORMED);
}

static void test_huge_declared_sizes_refused_at_header(void **state) {
    (void)state;
    mpr_request m;
    /* array32 of 4 billion elements: refused from its 5 header bytes */
    assert_int_equal(next("\xdd\xff\xff\xff\xff", 5, &m), MPR_TOO_LARGE);
    /* str32 of 4 GiB inside a request */
    assert_int_equal(next("\x94\x00\x01\xdb\xff\xff\xff\xff", 8, &m), MPR_TOO_LARGE);
    /* bin32 of 4 GiB */
    assert_int_equal(next("\xc6\xff\xff\xff\xff", 5, &m), MPR_TOO_LARGE);
    /* map32 of 2^31 pairs */
    assert_int_equal(next("\xdf\x80\x00\x00\x00", 5, &m), MPR_TOO_LARGE);
    /* a str just over the limit, header only */
    assert_int_equal(next("\xda\x04\x01", 3, &m), MPR_TOO_LARGE); /* 1025 > 1024 */
    /* ext32 of 4 GiB */
    assert_int_equal(next("\xc9\xff\xff\xff\xff\x01", 6, &m), MPR_TOO_LARGE);
}

/* Siblings still owed count against the limit: an array of 4 whose first
 * element is a str filling the limit cannot fit the other three. */
static void test_siblings_count_against_the_limit(void **state) {
    (void)state;
    uint8_t m[8] = {0x94, 0xda, 0x03, 0xfb}; /* array of 4, str16 of 1019 bytes */
    mpr_scan s;
    mpr_scan_reset(&s);
    /* 1 + 3 + 1019 = 1023 bytes, and 3 more elements need 3 more bytes. */
    assert_int_equal(mpr_scan_next(&s, m, 4, LIMIT), MPR_TOO_LARGE);
    uint8_t ok[8] = {0x94, 0xda, 0x03, 0xf8}; /* str of 1016: 1 + 3 + 1016 + 3 = 1023 fits */
    mpr_scan_reset(&s);
    assert_int_equal(mpr_scan_next(&s, ok, 4, LIMIT), MPR_NEED_MORE);
}

static void test_many_children_over_limit(void **state) {
    (void)state;
    /* array16 of 1000 str8 of 2 bytes each: 3 + 1000*4 bytes > LIMIT. */
    static char big[3 + 4000];
    big[0] = (char)0xdc, big[1] = 0x03, big[2] = (char)0xe8;
    for (int i = 0; i < 1000; i++)
        memcpy(big + 3 + 4 * i, "\xd9\x02" "ab", 4);
    mpr_request m;
    assert_int_equal(next(big, sizeof big, &m), MPR_TOO_LARGE);
    /* It is refused as soon as a header proves it: after k strings, 3 + 4k
     * bytes are read and 999 - k more elements owe a byte each, so the next
     * string's 4 bytes fit only while 3 + 4k + 4 + 999 - k <= 1024, k <= 6.
     * The 8th string's header (bytes 31-32) is the proof. */
    assert_int_equal(next(big, 32, &m), MPR_NEED_MORE);
    assert_int_equal(next(big, 33, &m), MPR_TOO_LARGE);
}

static void test_depth_limit(void **state) {
    (void)state;
    char deep[64];
    mpr_request m;
    /* MPR_MAX_DEPTH nested fixarrays of one element, then nil: allowed as
     * msgpack but not an RPC envelope. One level more is malformed. */
    memset(deep, '\x91', MPR_MAX_DEPTH);
    deep[MPR_MAX_DEPTH] = '\xc0';
    assert_int_equal(next(deep, MPR_MAX_DEPTH + 1, &m), MPR_NOT_RPC);
    memset(deep, '\x91', MPR_MAX_DEPTH + 1);
    deep[MPR_MAX_DEPTH + 1] = '\xc0';
    assert_int_equal(next(deep, MPR_MAX_DEPTH + 2, &m), MPR_MALFORMED);
    /* Deep nesting that closes and reopens: [[..32..], [..31..]] is fine,
     * each branch is within the limit. */
    char two[80];
    size_t k = 0;
    two[k++] = '\x92';
    memset(two + k, '\x91', MPR_MAX_DEPTH - 1), k += MPR_MAX_DEPTH - 1;
    two[k++] = '\xc0';
    memset(two + k, '\x91', MPR_MAX_DEPTH - 1), k += MPR_MAX_DEPTH - 1;
    two[k++] = '\xc0';
    assert_int_equal(mpr_frame((const uint8_t *)two, k, LIMIT), (long)k);
    /* An empty container deeper than the limit opens no level. */
    memset(deep, '\x91', MPR_MAX_DEPTH);
    deep[MPR_MAX_DEPTH] = '\x90';
    assert_int_equal(mpr_frame((const uint8_t *)deep, MPR_MAX_DEPTH + 1, LIMIT), MPR_MAX_DEPTH + 1);
}

static void test_frame_limit_zero_and_exact(void **state) {
    (void)state;
    const uint8_t s3[] = {0xa3, 'a', 'b', 'c'};
    assert_int_equal(mpr_frame(s3, 4, 4), 4);
    assert_int_equal(mpr_frame(s3, 4, 3), MPR_TOO_LARGE);
    assert_int_equal(mpr_frame(s3, 4, 0), MPR_TOO_LARGE);
    assert_int_equal(mpr_frame(s3, 2, 100), MPR_NEED_MORE);
    /* fixext 4 and ext8 are framed whole */
    const uint8_t ext[] = {0x92, 0xd6, 0x01, 1, 2, 3, 4, 0xc7, 0x02, 0x05, 9, 9};
    assert_int_equal(mpr_frame(ext, sizeof ext, 100), (long)sizeof ext);
}

/* ---- cursor reads ------------------------------------------------------- */

static void test_cursor_reads(void **state) {
    (void)state;
    /* [0, 3, "check", ["nik", bin "1234"]] */
    const char req[] = "\x94\x00\x03\xa5" "check" "\x92\xa3nik\xc4\x04" "1234";
    mpr_request m;
    assert_int_equal(next(req, sizeof req - 1, &m), (long)(sizeof req - 1));
    assert_int_equal(m.nparams, 2);
    const char *s;
    uint32_t n;
    assert_true(mpr_str(&m.params, &s, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(s, "nik", 3);
    assert_true(mpr_str(&m.params, &s, &n));
    assert_memory_equal(s, "1234", 4);
    assert_string_equal(mpr_type_name(&m.params), "nothing");
    assert_false(mpr_str(&m.params, &s, &n));
}

static void test_cursor_type_mismatch_leaves_cursor(void **state) {
    (void)state;
    const uint8_t five[] = {0x05};
    mpr_cur c = {five, five + 1};
    const char *s;
    uint32_t n;
    bool b;
    double d;
    assert_false(mpr_str(&c, &s, &n));
    assert_false(mpr_array(&c, &n));
    assert_false(mpr_map(&c, &n));
    assert_false(mpr_bool(&c, &b));
    assert_false(mpr_double(&c, &d));
    assert_false(mpr_nil(&c));
    assert_ptr_equal(c.p, five);
    assert_string_equal(mpr_type_name(&c), "integer");
    uint64_t v;
    assert_true(mpr_uint(&c, &v));
    assert_int_equal(v, 5);
}

static void test_integers(void **state) {
    (void)state;
    /* -5 (fixint), int16 256, uint64 2^64-1, int64 min, uint8 200 */
    const uint8_t b[] = {0xfb, 0xd1, 0x01, 0x00, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0xd3, 0x80, 0,    0,    0,    0,    0,    0,    0,    0xcc, 200};
    mpr_cur c = {b, b + sizeof b};
    uint64_t u;
    int64_t v;
    assert_false(mpr_uint(&c, &u)); /* -5 is not a uint, and the cursor stays */
    assert_true(mpr_int(&c, &v));
    assert_int_equal(v, -5);
    assert_true(mpr_uint(&c, &u));
    assert_int_equal(u, 256);
    assert_false(mpr_int(&c, &v)); /* 2^64-1 does not fit an int64 */
    assert_true(mpr_uint(&c, &u));
    assert_true(u == UINT64_MAX);
    assert_true(mpr_int(&c, &v));
    assert_true(v == INT64_MIN);
    assert_true(mpr_uint(&c, &u));
    assert_int_equal(u, 200);
    assert_false(mpr_uint(&c, &u)); /* past the end */
    /* Truncated: nothing consumed. */
    const uint8_t t[] = {0xce, 0x00, 0x01};
    mpr_cur ct = {t, t + sizeof t};
    assert_false(mpr_uint(&ct, &u));
    assert_ptr_equal(ct.p, t);
}

static void test_floats_bools_nil(void **state) {
    (void)state;
    /* float64 1.5, float32 0.25, true, false, nil */
    const uint8_t b[] = {0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xca, 0x3e, 0x80, 0, 0, 0xc3, 0xc2, 0xc0};
    mpr_cur c = {b, b + sizeof b};
    double d;
    bool t;
    assert_true(mpr_double(&c, &d));
    assert_true(d == 1.5);
    assert_true(mpr_double(&c, &d));
    assert_true(d == 0.25);
    assert_true(mpr_bool(&c, &t));
    assert_true(t);
    assert_true(mpr_bool(&c, &t));
    assert_false(t);
    assert_true(mpr_nil(&c));
    assert_ptr_equal(c.p, c.end);
}

/* A container header whose count the remaining bytes cannot hold is refused
 * by the cursor too, not only by framing. */
static void test_cursor_counts_checked(void **state) {
    (void)state;
    const uint8_t arr[] = {0xdc, 0x00, 0x05, 0x01, 0x02}; /* array16 of 5, two bytes left */
    mpr_cur c = {arr, arr + sizeof arr};
    uint32_t n;
    assert_false(mpr_array(&c, &n));
    const uint8_t map[] = {0x82, 0x01, 0x02, 0x03}; /* map of 2 pairs, 3 bytes left */
    mpr_cur m = {map, map + sizeof map};
    assert_false(mpr_map(&m, &n));
    const uint8_t str[] = {0xa5, 'a', 'b'}; /* str of 5, 2 bytes left */
    mpr_cur s = {str, str + sizeof str};
    const char *p;
    assert_false(mpr_str(&s, &p, &n));
}

static void test_map_walk_and_skip(void **state) {
    (void)state;
    /* {"reason": "eligible", "amount": 150000} */
    uint8_t b[64], *p = b;
    *p++ = 0x82;
    p = mpw_str(p, "reason", 6);
    p = mpw_str(p, "eligible", 8);
    p = mpw_str(p, "amount", 6);
    p = mpw_uint(p, 150000);
    mpr_cur c = {b, p};
    uint32_t n;
    const char *s;
    uint32_t len;
    uint64_t v;
    assert_true(mpr_map(&c, &n));
    assert_int_equal(n, 2);
    assert_true(mpr_str(&c, &s, &len));
    assert_true(mpr_skip(&c));
    assert_true(mpr_str(&c, &s, &len));
    assert_memory_equal(s, "amount", 6);
    assert_true(mpr_uint(&c, &v));
    assert_int_equal(v, 150000);
    assert_true(c.p == c.end);
    assert_false(mpr_skip(&c));
}

/* ---- responses ---------------------------------------------------------- */

/* [1, 7, nil, "pong"] */
static const uint8_t pong[] = {0x94, 0x01, 0x07, 0xc0, 0xa4, 'p', 'o', 'n', 'g'};

static void test_response_ok(void **state) {
    (void)state;
    uint32_t msgid;
    mpr_cur err, res;
    assert_true(mpr_rpc_response(pong, sizeof pong, &msgid, &err, &res));
    assert_int_equal(msgid, 7);
    assert_int_equal(mpr_rpc_error(err, NULL, NULL), 0);
    const char *s;
    uint32_t n;
    assert_true(mpr_str(&res, &s, &n));
    assert_int_equal(n, 4);
    assert_memory_equal(s, "pong", 4);
    assert_ptr_equal(res.p, res.end);
}

static void test_response_error(void **state) {
    (void)state;
    /* [1, 300, [3, "too big"], nil] */
    const uint8_t m[] = {0x94, 0x01, 0xcd, 0x01, 0x2c, 0x92, 0x03, 0xa7, 't', 'o', 'o', ' ', 'b', 'i', 'g', 0xc0};
    uint32_t msgid;
    mpr_cur err, res;
    assert_int_equal(mpr_frame(m, sizeof m, 1024), (long)sizeof m);
    assert_true(mpr_rpc_response(m, sizeof m, &msgid, &err, &res));
    assert_int_equal(msgid, 300);
    const char *msg;
    uint32_t len;
    assert_int_equal(mpr_rpc_error(err, &msg, &len), 3);
    assert_int_equal(len, 7);
    assert_memory_equal(msg, "too big", 7);
    assert_true(mpr_nil(&res));
    /* An error that is not [int, ...] is still an error, of unknown code. */
    const uint8_t odd[] = {0xa3, 'b', 'a', 'd'};
    mpr_cur e = {odd, odd + sizeof odd};
    assert_int_equal(mpr_rpc_error(e, &msg, &len), -1);
}

static void test_not_a_response(void **state) {
    (void)state;
    uint32_t msgid;
    mpr_cur err, res;
    const uint8_t req[] = {0x94, 0x00, 0x01, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    assert_false(mpr_rpc_response(req, sizeof req, &msgid, &err, &res));
    const uint8_t short3[] = {0x93, 0x01, 0x01, 0xc0};
    assert_false(mpr_rpc_response(short3, sizeof short3, &msgid, &err, &res));
    const uint8_t neg[] = {0x94, 0x01, 0xff, 0xc0, 0xc0};
    assert_false(mpr_rpc_response(neg, sizeof neg, &msgid, &err, &res));
    /* trailing bytes after the response */
    const uint8_t extra[] = {0x94, 0x01, 0x01, 0xc0, 0xc0, 0x00};
    assert_false(mpr_rpc_response(extra, sizeof extra, &msgid, &err, &res));
}

/* ---- writer ------------------------------------------------------------- */

static void test_writer_forms(void **state) {
    (void)state;
    uint8_t b[300], *p;
    p = mpw_uint(b, 5);
    assert_int_equal(p - b, 1);
    assert_int_equal(b[0], 0x05);
    p = mpw_uint(b, 200);
    assert_memory_equal(b, "\xcc\xc8", 2);
    assert_int_equal(p - b, 2);
    p = mpw_uint(b, 70000);
    assert_int_equal(p - b, 5);
    assert_memory_equal(b, "\xce\x00\x01\x11\x70", 5);
    p = mpw_array(b, 100);
    assert_memory_equal(b, "\xdc\x00\x64", 3);
    assert_int_equal(p - b, 3);
    p = mpw_array(b, 70000);
    assert_memory_equal(b, "\xdd\x00\x01\x11\x70", 5);
    p = mpw_str(b, "check", 5);
    assert_memory_equal(b, "\xa5" "check", 6);
    char s[256];
    memset(s, 'x', sizeof s);
    p = mpw_str(b, s, 40);
    assert_int_equal(b[0], 0xd9);
    assert_int_equal(b[1], 40);
    assert_int_equal(p - b, 42);
    p = mpw_str(b, s, 256);
    assert_memory_equal(b, "\xda\x01\x00", 3);
    assert_int_equal(p - b, 259);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_framed),
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_two_messages_back_to_back),
        cmocka_unit_test(test_resumes_byte_by_byte),
        cmocka_unit_test(test_notification),
        cmocka_unit_test(test_method_as_bin),
        cmocka_unit_test(test_msgid_encodings),
        cmocka_unit_test(test_not_rpc_shapes),
        cmocka_unit_test(test_never_used_byte_is_malformed),
        cmocka_unit_test(test_huge_declared_sizes_refused_at_header),
        cmocka_unit_test(test_siblings_count_against_the_limit),
        cmocka_unit_test(test_many_children_over_limit),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_frame_limit_zero_and_exact),
        cmocka_unit_test(test_cursor_reads),
        cmocka_unit_test(test_cursor_type_mismatch_leaves_cursor),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats_bools_nil),
        cmocka_unit_test(test_cursor_counts_checked),
        cmocka_unit_test(test_map_walk_and_skip),
        cmocka_unit_test(test_response_ok),
        cmocka_unit_test(test_response_error),
        cmocka_unit_test(test_not_a_response),
        cmocka_unit_test(test_writer_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
