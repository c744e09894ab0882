/* Unit tests of the bounded msgpack-RPC decoder (daemon/proto.c). Inputs
 * are msgpack bytes written out by hand from the msgpack spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proto.h"

#define LIMIT 1024

static long next(const char *bytes, size_t n, proto_msg *m) {
    return proto_next((const uint8_t *)bytes, n, LIMIT, m);
}

/* [0, 7, "ping", []] */
static const char ping[] = "\x94\x00\x07\xa4ping\x90";

static void test_request_framed(void **state) {
    (void)state;
    proto_msg m;
    assert_int_equal(next(ping, sizeof ping - 1, &m), 9);
    assert_int_equal(m.type, 0);
    assert_int_equal(m.msgid, 7);
    assert_int_equal(m.method_len, 4);
    assert_memory_equal(m.method, "ping", 4);
    assert_int_equal(m.nparams, 0);
}

static void test_every_prefix_needs_more(void **state) {
    (void)state;
    proto_msg m;
    for (size_t n = 0; n < sizeof ping - 1; n++)
        assert_int_equal(next(ping, n, &m), PROTO_NEED_MORE);
}

static void test_two_messages_back_to_back(void **state) {
    (void)state;
    char two[32];
    memcpy(two, ping, 9);
    memcpy(two + 9, ping, 9);
    two[11] = 9; /* second msgid */
    proto_msg m;
    assert_int_equal(next(two, 18, &m), 9);
    assert_int_equal(m.msgid, 7);
    assert_int_equal(next(two + 9, 9, &m), 9);
    assert_int_equal(m.msgid, 9);
}

static void test_notification(void **state) {
    (void)state;
    /* [2, "ping", []] */
    proto_msg m;
    assert_int_equal(next("\x93\x02\xa4ping\x90", 8, &m), 8);
    assert_int_equal(m.type, 2);
}

static void test_method_as_bin(void **state) {
    (void)state;
    /* [0, 1, bin8 "ping", []] */
    proto_msg m;
    assert_int_equal(next("\x94\x00\x01\xc4\x04ping\x90", 10, &m), 10);
    assert_memory_equal(m.method, "ping", 4);
}

static void test_msgid_encodings(void **state) {
    (void)state;
    proto_msg m;
    /* uint32 0xffffffff is the largest msgid */
    assert_int_equal(next("\x94\x00\xce\xff\xff\xff\xff\xa1x\x90", 10, &m), 10);
    assert_int_equal(m.msgid, UINT32_MAX);
    /* uint64 2^32 is not a uint32 */
    assert_int_equal(next("\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa1x\x90", 14, &m), PROTO_NOT_RPC);
    /* negative fixint -1 */
    assert_int_equal(next("\x94\x00\xff\xa1x\x90", 6, &m), PROTO_NOT_RPC);
    /* int8 holding 5 is accepted */
    assert_int_equal(next("\x94\x00\xd0\x05\xa1x\x90", 7, &m), 7);
    assert_int_equal(m.msgid, 5);
    /* a string msgid */
    assert_int_equal(next("\x94\x00\xa1" "1\xa1x\x90", 7, &m), PROTO_NOT_RPC);
}

static void test_not_rpc_shapes(void **state) {
    (void)state;
    proto_msg m;
    assert_int_equal(next("\x01", 1, &m), PROTO_NOT_RPC);                       /* an int */
    assert_int_equal(next("\x93\x00\x01\xa1x", 5, &m), PROTO_NOT_RPC);          /* request of 3 */
    assert_int_equal(next("\x94\x01\x01\xc0\xc0", 5, &m), PROTO_NOT_RPC);       /* a response */
    assert_int_equal(next("\x94\x00\x01\x01\x90", 5, &m), PROTO_NOT_RPC);       /* method int */
    assert_int_equal(next("\x94\x00\x01\xa1x\x80", 6, &m), PROTO_NOT_RPC);      /* params map */
    assert_int_equal(next("\x94\x00\x01\xa1x\xa0", 6, &m), PROTO_NOT_RPC);      /* params str */
    assert_int_equal(next("\x84\x00\x01\x02\x03\x04\x05\x06\x07", 9, &m), PROTO_NOT_RPC); /* map */
}

static void test_never_used_byte_is_malformed(void **state) {
    (void)state;
    proto_msg m;
    assert_int_equal(next("\xc1", 1, &m), PROTO_MALFORMED);
    assert_int_equal(next("\x94\x00\x01\xc1", 4, &m), PROTO_MALFORMED);
}

static void test_huge_declared_sizes_refused_at_header(void **state) {
    (void)state;
    proto_msg m;
    /* array32 of 4 billion elements: refused from its 5 header bytes */
    assert_int_equal(next("\xdd\xff\xff\xff\xff", 5, &m), PROTO_TOO_LARGE);
    /* str32 of 4 GiB inside a request */
    assert_int_equal(next("\x94\x00\x01\xdb\xff\xff\xff\xff", 8, &m), PROTO_TOO_LARGE);
    /* bin32 of 4 GiB */
    assert_int_equal(next("\xc6\xff\xff\xff\xff", 5, &m), PROTO_TOO_LARGE);
    /* map32 of 2^31 pairs */
    assert_int_equal(next("\xdf\x80\x00\x00\x00", 5, &m), PROTO_TOO_LARGE);
    /* a str just over the limit, header only */
    assert_int_equal(next("\xda\x04\x01", 3, &m), PROTO_TOO_LARGE); /* 1025 > 1024 */
}

static void test_many_children_over_limit(void **state) {
    (void)state;
    /* array16 of 1000 str8 of 2 bytes each: 3 + 1000*4 bytes > LIMIT. The
     * decoder must say too large once the bytes seen pass the limit. */
    static char big[3 + 4000];
    big[0] = (char)0xdc, big[1] = 0x03, big[2] = (char)0xe8;
    for (int i = 0; i < 1000; i++)
        memcpy(big + 3 + 4 * i, "\xd9\x02" "ab", 4);
    proto_msg m;
    assert_int_equal(next(big, sizeof big, &m), PROTO_TOO_LARGE);
    assert_int_equal(next(big, 500, &m), PROTO_NEED_MORE);
}

static void test_depth_limit(void **state) {
    (void)state;
    char deep[64];
    proto_msg m;
    /* PROTO_MAX_DEPTH nested fixarrays of one element, then nil: allowed as
     * msgpack but not an RPC envelope. One level more is malformed. */
    memset(deep, '\x91', PROTO_MAX_DEPTH);
    deep[PROTO_MAX_DEPTH] = '\xc0';
    assert_int_equal(next(deep, PROTO_MAX_DEPTH + 1, &m), PROTO_NOT_RPC);
    memset(deep, '\x91', PROTO_MAX_DEPTH + 1);
    deep[PROTO_MAX_DEPTH + 1] = '\xc0';
    assert_int_equal(next(deep, PROTO_MAX_DEPTH + 2, &m), PROTO_MALFORMED);
}

static void test_cursor_reads(void **state) {
    (void)state;
    /* [0, 3, "check", ["nik", bin "1234"]] */
    const char req[] = "\x94\x00\x03\xa5" "check" "\x92\xa3nik\xc4\x04" "1234";
    proto_msg m;
    assert_int_equal(next(req, sizeof req - 1, &m), (long)(sizeof req - 1));
    assert_int_equal(m.nparams, 2);
    const char *s;
    uint32_t n;
    assert_true(mp_read_str(&m.params, &s, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(s, "nik", 3);
    assert_true(mp_read_str(&m.params, &s, &n));
    assert_memory_equal(s, "1234", 4);
    assert_string_equal(mp_type_name(&m.params), "nothing");
    assert_false(mp_read_str(&m.params, &s, &n));
}

static void test_cursor_type_mismatch(void **state) {
    (void)state;
    mp_cur c = {(const uint8_t *)"\x05", (const uint8_t *)"\x05" + 1};
    const char *s;
    uint32_t n;
    assert_false(mp_read_str(&c, &s, &n));
    assert_false(mp_read_array(&c, &n));
    assert_string_equal(mp_type_name(&c), "integer");
    uint64_t v;
    assert_true(mp_read_uint(&c, &v));
    assert_int_equal(v, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_framed),
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_two_messages_back_to_back),
        cmocka_unit_test(test_notification),
        cmocka_unit_test(test_method_as_bin),
        cmocka_unit_test(test_msgid_encodings),
        cmocka_unit_test(test_not_rpc_shapes),
        cmocka_unit_test(test_never_used_byte_is_malformed),
        cmocka_unit_test(test_huge_declared_sizes_refused_at_header),
        cmocka_unit_test(test_many_children_over_limit),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_cursor_reads),
        cmocka_unit_test(test_cursor_type_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
