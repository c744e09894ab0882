/* test_csv.c — the RFC 4180 reader (tools/snapshot/csv.c), byte by byte:
 * every edge case of SPEC 1 and issue 2 item 7 that belongs to the CSV
 * layer (quoting, line breaks, BOM, empty lines, malformed records and
 * where they end, line numbers, raw bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"

/* Reads all of s; returns the number of records, up to max, into recs /
 * copies of the values (fields joined with '|') and raws. */
typedef struct {
    char values[256];
    char raw[256];
    uint64_t line;
    size_t nfields;
    csv_error err;
} rec_copy;

static size_t read_all(const char *s, size_t len, rec_copy *out, size_t max) {
    csv_reader r;
    csv_record rec;
    csv_init(&r, s, len);
    size_t n = 0;
    int rc;
    while ((rc = csv_next(&r, &rec)) == 1) {
        assert_true(n < max);
        rec_copy *c = &out[n++];
        memset(c, 0, sizeof *c);
        size_t at = 0;
        for (size_t i = 0; i < rec.nfields && rec.err == CSV_OK; i++) {
            if (i)
                c->values[at++] = '|';
            memcpy(c->values + at, rec.field[i].p, rec.field[i].n);
            at += rec.field[i].n;
        }
        memcpy(c->raw, rec.raw, rec.raw_len);
        assert_ptr_equal(rec.raw, s + rec.offset);
        c->line = rec.line;
        c->nfields = rec.nfields;
        c->err = rec.err;
    }
    assert_int_equal(rc, 0);
    csv_free(&r);
    return n;
}
#define READ(lit, out) read_all(lit, sizeof(lit) - 1, out, sizeof(out) / sizeof(out[0]))

static void lf_and_crlf(void **state) {
    (void)state;
    rec_copy r[4];
    assert_int_equal(READ("a,b\r\nc,d\ne,f", r), 3);
    assert_string_equal(r[0].values, "a|b");
    assert_string_equal(r[0].raw, "a,b"); /* no terminator in raw */
    assert_string_equal(r[1].values, "c|d");
    assert_string_equal(r[2].values, "e|f"); /* last line without terminator */
    assert_int_equal(r[2].line, 3);
}

static void bom_skipped(void **state) {
    (void)state;
    rec_copy r[2];
    assert_int_equal(READ("\xEF\xBB\xBFkk,x\n1,2\n", r), 2);
    assert_string_equal(r[0].values, "kk|x");
    assert_int_equal(r[0].line, 1);
    assert_int_equal(r[1].line, 2);
}

static void bom_only_at_start(void **state) {
    (void)state;
    rec_copy r[2];
    assert_int_equal(READ("a\n\xEF\xBB\xBF" "b\n", r), 2);
    assert_string_equal(r[1].values, "\xEF\xBB\xBF" "b");
}

static void empty_lines_skipped_but_counted(void **state) {
    (void)state;
    rec_copy r[3];
    assert_int_equal(READ("h\n\n\r\nx\n\n\ny\n\n", r), 3);
    assert_int_equal(r[0].line, 1);
    assert_string_equal(r[1].values, "x");
    assert_int_equal(r[1].line, 4);
    assert_string_equal(r[2].values, "y");
    assert_int_equal(r[2].line, 7);
}

static void whitespace_line_is_a_record(void **state) {
    (void)state;
    rec_copy r[2];
    assert_int_equal(READ(" \nx\n", r), 2);
    assert_string_equal(r[0].values, " ");
    assert_int_equal(r[0].nfields, 1);
}

static void quoted_comma_quote_newline(void **state) {
    (void)state;
    rec_copy r[3];
    assert_int_equal(READ("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n\"x\r\ny\",\"\"\nlast,1\n", r), 3);
    assert_string_equal(r[0].values, "a,b|say \"hi\"|two\nlines");
    assert_string_equal(r[0].raw, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"");
    assert_int_equal(r[0].nfields, 3);
    assert_int_equal(r[0].line, 1);
    assert_string_equal(r[1].values, "x\r\ny|"); /* CRLF inside quotes is data; "" is empty */
    assert_int_equal(r[1].line, 3);
    assert_int_equal(r[2].line, 5);
}

static void no_trimming(void **state) {
    (void)state;
    rec_copy r[1];
    assert_int_equal(READ(" a , b ,\t\n", r), 1);
    assert_string_equal(r[0].values, " a | b |\t");
}

static void empty_fields(void **state) {
    (void)state;
    rec_copy r[3];
    assert_int_equal(READ(",\na,\n,,", r), 3);
    assert_int_equal(r[0].nfields, 2);
    assert_string_equal(r[0].values, "|");
    assert_int_equal(r[1].nfields, 2);
    assert_int_equal(r[2].nfields, 3); /* trailing comma at end of input */
}

static void lone_cr_is_data(void **state) {
    (void)state;
    rec_copy r[2];
    assert_int_equal(READ("a\rb,c\nd\n", r), 2);
    assert_string_equal(r[0].values, "a\rb|c");
    assert_int_equal(r[1].line, 2);
}

static void text_after_closing_quote(void **state) {
    (void)state;
    rec_copy r[3];
    assert_int_equal(READ("h\n\"ab\"c,\"d\"\r\nok,1\n", r), 3);
    assert_int_equal(r[1].err, CSV_TEXT_AFTER_QUOTE);
    assert_string_equal(r[1].raw, "\"ab\"c,\"d\""); /* to the next line end, CR dropped */
    assert_int_equal(r[1].line, 2);
    assert_int_equal(r[2].err, CSV_OK);
    assert_string_equal(r[2].values, "ok|1");
    assert_int_equal(r[2].line, 3);
}

static void quote_in_unquoted_field_ends_at_next_line(void **state) {
    (void)state;
    rec_copy r[3];
    /* After the error, quotes no longer count: the record ends at the first
     * line terminator even though a quote opens before it. */
    assert_int_equal(READ("ab\"c,\"d\ne\"\nnext\n", r), 3);
    assert_int_equal(r[0].err, CSV_QUOTE_IN_UNQUOTED);
    assert_string_equal(r[0].raw, "ab\"c,\"d");
    assert_string_equal(r[1].raw, "e\"");
    assert_int_equal(r[1].err, CSV_QUOTE_IN_UNQUOTED);
    assert_int_equal(r[1].line, 2);
    assert_string_equal(r[2].values, "next");
    assert_int_equal(r[2].line, 3);
}

static void error_after_quoted_newline_counts_lines(void **state) {
    (void)state;
    rec_copy r[2];
    assert_int_equal(READ("\"a\nb\"x,y\nz\n", r), 2);
    assert_int_equal(r[0].err, CSV_TEXT_AFTER_QUOTE);
    assert_string_equal(r[0].raw, "\"a\nb\"x,y");
    assert_int_equal(r[1].line, 3);
}

static void unterminated_quote_runs_to_eof(void **state) {
    (void)state;
    rec_copy r[2];
    assert_int_equal(READ("a,b\nc,\"open\nmore,1\r\n", r), 2);
    assert_int_equal(r[1].err, CSV_UNTERMINATED_QUOTE);
    assert_int_equal(r[1].line, 2);
    assert_string_equal(r[1].raw, "c,\"open\nmore,1"); /* final terminator dropped */
}

static void crlf_inside_error_record(void **state) {
    (void)state;
    rec_copy r[1];
    assert_int_equal(READ("\"a\"\"b\"\"c\"\rx\n", r), 1); /* CR alone after the quote */
    assert_int_equal(r[0].err, CSV_TEXT_AFTER_QUOTE);
    assert_string_equal(r[0].raw, "\"a\"\"b\"\"c\"\rx");
}

/* A CRLF file that lost its final LF: the last CR still ends the line. */
static void cr_at_end_of_input_ends_the_line(void **state) {
    (void)state;
    rec_copy r[3];
    assert_int_equal(READ("a,b\r\nc,d\r", r), 2);
    assert_string_equal(r[1].values, "c|d");
    assert_string_equal(r[1].raw, "c,d");
    assert_int_equal(READ("\"a\",\"b\"\r", r), 1);
    assert_int_equal(r[0].err, CSV_OK);
    assert_string_equal(r[0].values, "a|b");
    assert_int_equal(READ("a\n\r", r), 1); /* a final CR alone is an empty line */
}

static void max_fields_counts_the_rest(void **state) {
    (void)state;
    const char s[] = "a,b,c,d\n";
    csv_reader r;
    csv_record rec;
    csv_init(&r, s, sizeof s - 1);
    csv_set_max_fields(&r, 2);
    assert_int_equal(csv_next(&r, &rec), 1);
    assert_int_equal(rec.nfields, 4);
    assert_int_equal(rec.field[1].n, 1);
    assert_memory_equal(rec.field[1].p, "b", 1);
    csv_free(&r);
}

static void seek_rereads_a_record(void **state) {
    (void)state;
    const char s[] = "h\nx,\"1\n2\"\ny,3\n";
    csv_reader r;
    csv_record rec;
    csv_init(&r, s, sizeof s - 1);
    assert_int_equal(csv_next(&r, &rec), 1);
    assert_int_equal(csv_next(&r, &rec), 1);
    size_t off = rec.offset;
    assert_int_equal(csv_next(&r, &rec), 1);
    assert_int_equal(rec.line, 4);
    csv_seek(&r, off, 2);
    assert_int_equal(csv_next(&r, &rec), 1);
    assert_int_equal(rec.raw_len, 7);
    assert_memory_equal(rec.raw, "x,\"1\n2\"", 7);
    csv_free(&r);
}

static void many_escaped_fields(void **state) {
    (void)state;
    /* several escaped fields in one record: each value is its own copy */
    rec_copy r[1];
    assert_int_equal(READ("\"a\"\"\",x,\"\"\"b\",\"c\"\"\"\"d\"\n", r), 1);
    assert_string_equal(r[0].values, "a\"|x|\"b|c\"\"d");
}

static void empty_input(void **state) {
    (void)state;
    rec_copy r[1];
    assert_int_equal(read_all("", 0, r, 1), 0);
    assert_int_equal(READ("\n\r\n", r), 0);
    assert_int_equal(READ("\xEF\xBB\xBF", r), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lf_and_crlf),
        cmocka_unit_test(bom_skipped),
        cmocka_unit_test(bom_only_at_start),
        cmocka_unit_test(empty_lines_skipped_but_counted),
        cmocka_unit_test(whitespace_line_is_a_record),
        cmocka_unit_test(quoted_comma_quote_newline),
        cmocka_unit_test(no_trimming),
        cmocka_unit_test(empty_fields),
        cmocka_unit_test(lone_cr_is_data),
        cmocka_unit_test(text_after_closing_quote),
        cmocka_unit_test(quote_in_unquoted_field_ends_at_next_line),
        cmocka_unit_test(error_after_quoted_newline_counts_lines),
        cmocka_unit_test(unterminated_quote_runs_to_eof),
        cmocka_unit_test(crlf_inside_error_record),
        cmocka_unit_test(cr_at_end_of_input_ends_the_line),
        cmocka_unit_test(max_fields_counts_the_rest),
        cmocka_unit_test(seek_rereads_a_record),
        cmocka_unit_test(many_escaped_fields),
        cmocka_unit_test(empty_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
