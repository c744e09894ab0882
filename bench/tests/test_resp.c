/* test_resp.c — RESP reply framing for elig-bench --redis, on replies
 * written out by hand from the Redis protocol specification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

static long frame(const char *s, size_t limit, resp_reply *r) {
    return resp_frame((const uint8_t *)s, strlen(s), limit, r);
}

static void simple_types(void **state) {
    (void)state;
    resp_reply r;
    assert_int_equal(frame("+PONG\r\n", 1024, &r), 7);
    assert_int_equal(r.type, RESP_STATUS);
    assert_int_equal(frame("-ERR wrong\r\n", 1024, &r), 12);
    assert_int_equal(r.type, RESP_ERROR);
    assert_int_equal(frame(":42\r\n", 1024, &r), 5);
    assert_int_equal(r.type, RESP_INT);
    assert_int_equal(frame("$-1\r\n", 1024, &r), 5);
    assert_int_equal(r.type, RESP_NIL);
}

static void bulk_binary_and_prefixes(void **state) {
    (void)state;
    /* a bulk string holding CR LF and NUL bytes */
    const uint8_t msg[] = {'$', '5', '\r', '\n', 'a', '\r', '\n', 0, 'b', '\r', '\n'};
    resp_reply r;
    assert_int_equal(resp_frame(msg, sizeof msg, 1024, &r), (long)sizeof msg);
    assert_int_equal(r.type, RESP_BULK);
    for (size_t n = 0; n < sizeof msg; n++)
        assert_int_equal(resp_frame(msg, n, 1024, &r), 0);
}

static void mget_array(void **state) {
    (void)state;
    resp_reply r;
    const char *a = "*3\r\n$2\r\nab\r\n$-1\r\n$1\r\nc\r\n";
    assert_int_equal(frame(a, 1024, &r), (long)strlen(a));
    assert_int_equal(r.type, RESP_ARRAY);
    assert_int_equal(r.items, 3);
    assert_int_equal(r.nils, 1);
    for (size_t n = 0; n < strlen(a); n++)
        assert_int_equal(resp_frame((const uint8_t *)a, n, 1024, &r), 0);
}

static void hostile(void **state) {
    (void)state;
    resp_reply r;
    assert_int_equal(frame("$999999999\r\n", 1 << 20, &r), -2); /* over the limit at once */
    assert_int_equal(frame("*999999999\r\n", 1 << 20, &r), -2);
    assert_int_equal(frame("$abc\r\n", 1024, &r), -1);
    assert_int_equal(frame("$3\r\nabcXY", 1024, &r), -1); /* no CRLF after the bytes */
    assert_int_equal(frame("?\r\n", 1024, &r), -1);
    assert_int_equal(frame("+OK\rX", 1024, &r), -1);
    assert_int_equal(frame("*1\r\n*1\r\n:1\r\n", 1024, &r), -1); /* nested arrays are not expected */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_types),
        cmocka_unit_test(bulk_binary_and_prefixes),
        cmocka_unit_test(mget_array),
        cmocka_unit_test(hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
