/* test_elig_format.c — the elig command's text: Rupiah, JSON strings, CSV
 * cells, and the human line of an answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmd.h"

/* The buffer's contents as a C string (the buffer is then reset). */
static const char *text(outbuf *o) {
    static char s[1024];
    memcpy(s, o->p, o->len);
    s[o->len] = '\0';
    o->len = 0;
    return s;
}

static void test_rupiah(void **state) {
    (void)state;
    outbuf o;
    out_init(&o, NULL);
    const struct { uint64_t v; const char *s; } cases[] = {
        {0, "Rp 0"}, {7, "Rp 7"}, {999, "Rp 999"}, {1000, "Rp 1.000"},
        {110000, "Rp 110.000"}, {1234567, "Rp 1.234.567"}, {100000000, "Rp 100.000.000"},
        {4294967295u, "Rp 4.294.967.295"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        out_rupiah(&o, cases[i].v);
        assert_string_equal(text(&o), cases[i].s);
    }
    out_free(&o);
}

static void test_json_and_csv(void **state) {
    (void)state;
    outbuf o;
    out_init(&o, NULL);
    out_json_str(&o, "a\"b\\c\n\x01");
    assert_string_equal(text(&o), "\"a\\\"b\\\\c\\u000a\\u0001\"");
    out_json_str(&o, NULL);
    assert_string_equal(text(&o), "null");
    out_csv_cell(&o, "plain", 5);
    assert_string_equal(text(&o), "plain");
    out_csv_cell(&o, "a,\"b\"", 5);
    assert_string_equal(text(&o), "\"a,\"\"b\"\"\"");
    out_csv_cell(&o, "x\r\ny", 4);
    assert_string_equal(text(&o), "\"x\r\ny\"");
    out_u64(&o, 18446744073709551615ull);
    assert_string_equal(text(&o), "18446744073709551615");
    out_free(&o);
}

static void test_answer_lines(void **state) {
    (void)state;
    outbuf o;
    out_init(&o, NULL);
    eligc_answer a = {.eligible = false, .reason = ELIG_REASON_HOUSEHOLD_SUSPENDED,
                      .kk = "3171010101010001", .region = "3171010001", .snapshot = "s1"};
    out_answer_human(&o, &a);
    assert_string_equal(text(&o), "not eligible: household is suspended (Rp 0); "
                                  "family 3171010101010001, region 3171010001; snapshot s1\n");
    eligc_answer nf = {.reason = ELIG_REASON_NOT_FOUND, .snapshot = "s1"};
    out_answer_human(&o, &nf);
    assert_string_equal(text(&o), "not eligible: not found (Rp 0); snapshot s1\n");
    out_answer_json(&o, &nf);
    assert_string_equal(text(&o), "{\"eligible\":false,\"reason\":\"not_found\",\"amount\":0,"
                                  "\"kk\":null,\"region\":null,\"snapshot\":\"s1\"}");
    out_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rupiah),
        cmocka_unit_test(test_json_and_csv),
        cmocka_unit_test(test_answer_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
