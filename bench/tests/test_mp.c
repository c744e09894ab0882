/* test_mp.c — the benchmark's msgpack writer and bounded reader: framing
 * byte by byte, hostile headers, and response envelopes. Expected bytes are
 * written out by hand from the msgpack specification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mp.h"

static void writer_forms(void **state) {
    (void)state;
    uint8_t b[64], *p;
    p = mpw_uint(b, 5);
    assert_int_equal(p - b, 1);
    assert_int_equal(b[0], 0x05);
    p = mpw_uint(b, 200);
    assert_int_equal(p - b, 2);
    assert_memory_equal(b, "\xcc\xc8", 2);
    p = mpw_uint(b, 70000);
    assert_int_equal(p - b, 5);
    assert_memory_equal(b, "\xce\x00\x01\x11\x70", 5);
    p = mpw_array(b, 100);
    assert_memory_equal(b, "\xdc\x00\x64", 3);
    assert_int_equal(p - b, 3);
    p = mpw_str(b, "check", 5);
    assert_memory_equal(b, "\xa5" "check", 6);
    char s40[40];
    memset(s40, 'x', sizeof s40);
    p = mpw_str(b, s40, 40);
    assert_int_equal(b[0], 0xd9);
    assert_int_equal(b[1], 40);
    assert_int_equal(p - b, 42);
}

/* [1, 7, nil, "pong"] */
static const uint8_t pong[] = {0x94, 0x01, 0x07, 0xc0, 0xa4, 'p', 'o', 'n', 'g'};

static void frame_whole_and_prefixes(void **state) {
    (void)state;
    assert_int_equal(mpr_frame(pong, sizeof pong, 1024), (long)sizeof pong);
    for (size_t n = 0; n < sizeof pong; n++)
        assert_int_equal(mpr_frame(pong, n, 1024), MPR_NEED_MORE);
    uint8_t two[2 * sizeof pong];
    memcpy(two, pong, sizeof pong);
    memcpy(two + sizeof pong, pong, sizeof pong);
    assert_int_equal(mpr_frame(two, sizeof two, 1024), (long)sizeof pong);
}

static void frame_hostile(void **state) {
    (void)state;
    /* array32 claiming 4 billion elements: too large at once */
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(mpr_frame(huge_array, sizeof huge_array, 1 << 20), MPR_TOO_LARGE);
    /* str32 of 4 GiB */
    const uint8_t huge_str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(mpr_frame(huge_str, sizeof huge_str, 1 << 20), MPR_TOO_LARGE);
    /* 0xc1 is never valid */
    const uint8_t never[] = {0x91, 0xc1};
    assert_int_equal(mpr_frame(never, sizeof never, 1024), MPR_MALFORMED);
    /* deep nesting costs no stack: 10000 nested one-element arrays, then 1 */
    static uint8_t deep[10001];
    memset(deep, 0x91, 10000);
    deep[10000] = 0x01;
    assert_int_equal(mpr_frame(deep, sizeof deep, 1 << 20), (long)sizeof deep);
    assert_int_equal(mpr_frame(deep, sizeof deep, 5000), MPR_TOO_LARGE);
}

static void response_ok(void **state) {
    (void)state;
    mpr_response r;
    assert_true(mpr_response_parse(pong, sizeof pong, &r));
    assert_int_equal(r.msgid, 7);
    assert_int_equal(r.errcode, 0);
    const char *s;
    uint32_t n;
    assert_true(mpr_str(&r.result, &s, &n));
    assert_int_equal(n, 4);
    assert_memory_equal(s, "pong", 4);
}

static void response_error(void **state) {
    (void)state;
    /* [1, 300, [3, "too big"], nil] */
    const uint8_t m[] = {0x94, 0x01, 0xcd, 0x01, 0x2c, 0x92, 0x03, 0xa7, 't', 'o', 'o', ' ', 'b', 'i', 'g', 0xc0};
    mpr_response r;
    assert_int_equal(mpr_frame(m, sizeof m, 1024), (long)sizeof m);
    assert_true(mpr_response_parse(m, sizeof m, &r));
    assert_int_equal(r.msgid, 300);
    assert_int_equal(r.errcode, 3);
    assert_true(mpr_nil(&r.result));
}

static void not_a_response(void **state) {
    (void)state;
    mpr_response r;
    /* a request [0, 1, "ping", []] */
    const uint8_t req[] = {0x94, 0x00, 0x01, 0xa4, 'p', 'i', 'n', 'g', 0x90};
    assert_false(mpr_response_parse(req, sizeof req, &r));
    /* three elements */
    const uint8_t short3[] = {0x93, 0x01, 0x01, 0xc0};
    assert_false(mpr_response_parse(short3, sizeof short3, &r));
    /* negative msgid */
    const uint8_t neg[] = {0x94, 0x01, 0xff, 0xc0, 0xc0};
    assert_false(mpr_response_parse(neg, sizeof neg, &r));
}

static void map_walk(void **state) {
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
    /* reading past the end fails instead of overrunning */
    assert_false(mpr_uint(&c, &v));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_forms),   cmocka_unit_test(frame_whole_and_prefixes),
        cmocka_unit_test(frame_hostile),  cmocka_unit_test(response_ok),
        cmocka_unit_test(response_error), cmocka_unit_test(not_a_response),
        cmocka_unit_test(map_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
