/* test_alloc.c — the allocator seam (lib/alloc.h), and the snapshot open
 * and reader open failing cleanly at each of their allocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "elig.h"
#include "failalloc.h"
#include "mini_snap.h"

static void replace_refuses_null(void **state) {
    (void)state;
    assert_int_equal(elig_replace_allocator(NULL, fa_calloc, fa_realloc, fa_free), ELIG_EINVAL);
    assert_int_equal(elig_replace_allocator(fa_malloc, fa_calloc, fa_realloc, NULL), ELIG_EINVAL);
    /* Still the counting allocator installed in main. */
    long before = fa_live;
    void *p = elig_malloc(10);
    assert_non_null(p);
    assert_int_equal(fa_live, before + 1);
    elig_free(p);
    elig_free(NULL);
    assert_int_equal(fa_live, before);
    char *s = elig_strdup("abc");
    assert_string_equal(s, "abc");
    elig_free(s);
    assert_int_equal(fa_live, before);
}

static void seam_failures_are_failures(void **state) {
    (void)state;
    fa_arm(1);
    assert_null(elig_malloc(8));
    fa_arm(1);
    assert_null(elig_calloc(1, 8));
    char *p = elig_malloc(4);
    fa_arm(1);
    assert_null(elig_realloc(p, 64)); /* p untouched, still ours */
    fa_disarm();
    elig_free(p);
    assert_int_equal(fa_live, 0);
}

/* elig_snap_open and elig_reader_open, failed at every allocation of
 * theirs in turn: each failure is ELIG_ENOMEM (with a message from the
 * open), leaves nothing allocated, and the first run that reaches its end
 * unfailed works. */
static void eligible_from(elig_reader *r) {
    elig_query q;
    elig_answer a;
    assert_int_equal(elig_query_parse(&q, "kk", 2, MINI_KK_ACTIVE, 16, "PKH", 3, "2024-03", 7), ELIG_QUERY_OK);
    assert_int_equal(elig_check(r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_ELIGIBLE);
    assert_int_equal(a.amount, 750000); /* the mini snapshot's first PKH enrollment */
}

static void snap_open_fails_cleanly(void **state) {
    (void)state;
    const char *path = mini_snap_path();
    assert_non_null(path);
    long n, failed = 0;
    for (n = 1; n < 100; n++) {
        char err[256] = "";
        elig_snap *s = NULL;
        fa_arm(n);
        int rc = elig_snap_open(path, &s, err, sizeof err);
        bool injected = fa_injected();
        fa_disarm();
        if (rc != 0) {
            assert_true(injected);
            assert_int_equal(rc, ELIG_ENOMEM);
            assert_non_null(strstr(err, "out of memory"));
            assert_int_equal(fa_live, 0);
            failed++;
            continue;
        }
        assert_false(injected);
        elig_reader *r;
        assert_int_equal(elig_reader_open(s, &r), 0);
        eligible_from(r);
        elig_reader_close(r);
        elig_snap_close(s);
        assert_int_equal(fa_live, 0);
        break;
    }
    assert_true(failed >= 1 && n < 100);
}

static void reader_open_fails_cleanly(void **state) {
    (void)state;
    char err[256];
    elig_snap *s;
    assert_int_equal(elig_snap_open(mini_snap_path(), &s, err, sizeof err), 0);
    long base = fa_live, n, failed = 0;
    for (n = 1; n < 100; n++) {
        elig_reader *r = NULL;
        fa_arm(n);
        int rc = elig_reader_open(s, &r);
        bool injected = fa_injected();
        fa_disarm();
        if (rc != 0) {
            assert_true(injected);
            assert_int_equal(rc, ELIG_ENOMEM);
            assert_int_equal(fa_live, base);
            failed++;
            continue;
        }
        eligible_from(r);
        elig_reader_close(r);
        assert_int_equal(fa_live, base);
        break;
    }
    assert_true(failed >= 1 && n < 100);
    elig_snap_close(s);
    assert_int_equal(fa_live, 0);
}

int main(void) {
    fa_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replace_refuses_null),
        cmocka_unit_test(seam_failures_are_failures),
        cmocka_unit_test(snap_open_fails_cleanly),
        cmocka_unit_test(reader_open_fails_cleanly),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mini_snap_cleanup();
    return rc;
}
