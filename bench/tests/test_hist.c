/* test_hist.c — the latency histogram: bucket arithmetic and percentiles
 * against values computed by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hist.h"

/* Every value lands in a bucket whose bounds hold it, buckets are
 * contiguous, and a bucket is never wider than 1/64 of its low bound. */
static void buckets_cover_values(void **state) {
    (void)state;
    uint64_t probes[] = {0, 1, 127, 128, 129, 191, 192, 255, 256, 1000, 65535, 65536, 1000000007ull,
                         (1ull << 40) + 12345, UINT64_MAX};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        uint64_t v = probes[i];
        uint32_t b = hist_index(v);
        assert_true(b < HIST_BUCKETS);
        assert_true(hist_bucket_low(b) <= v);
        assert_true(v <= hist_bucket_high(b));
        if (v >= HIST_SUB)
            assert_true(hist_bucket_high(b) - hist_bucket_low(b) <= hist_bucket_low(b) / 64);
    }
    for (uint32_t b = 1; b < HIST_BUCKETS; b++)
        assert_int_equal(hist_bucket_low(b), hist_bucket_high(b - 1) + 1);
}

static void small_values_are_exact(void **state) {
    (void)state;
    hist h;
    hist_reset(&h);
    for (uint64_t v = 1; v <= 100; v++)
        hist_record(&h, v);
    assert_int_equal(h.total, 100);
    assert_int_equal(hist_percentile(&h, 50), 50);
    assert_int_equal(hist_percentile(&h, 90), 90);
    assert_int_equal(hist_percentile(&h, 99), 99);
    assert_int_equal(hist_percentile(&h, 100), 100);
    assert_int_equal(h.max, 100);
    assert_int_equal(h.min, 1);
    assert_true(hist_mean(&h) > 50.49 && hist_mean(&h) < 50.51);
}

/* 990 fast values and 10 slow ones: p99 is still fast, p99.9 is slow and
 * within the bucket precision of the slow value, never above the max. */
static void tail_percentiles(void **state) {
    (void)state;
    hist h;
    hist_reset(&h);
    for (int i = 0; i < 990; i++)
        hist_record(&h, 50000);
    for (int i = 0; i < 10; i++)
        hist_record(&h, 7000000);
    uint64_t p99 = hist_percentile(&h, 99);
    assert_true(p99 >= 50000 && p99 <= 50000 + 50000 / 64);
    uint64_t p999 = hist_percentile(&h, 99.9);
    assert_true(p999 >= 7000000 - 7000000 / 64 && p999 <= 7000000);
    assert_int_equal(hist_percentile(&h, 100), 7000000);
}

static void merge_adds(void **state) {
    (void)state;
    hist a, b;
    hist_reset(&a);
    hist_reset(&b);
    hist_record(&a, 10);
    hist_record(&b, 20);
    hist_record(&b, 30);
    hist_merge(&a, &b);
    assert_int_equal(a.total, 3);
    assert_int_equal(a.max, 30);
    assert_int_equal(a.min, 10);
    assert_int_equal(hist_percentile(&a, 50), 20);
}

static void empty_is_zero(void **state) {
    (void)state;
    hist h;
    hist_reset(&h);
    assert_int_equal(hist_percentile(&h, 99), 0);
    assert_true(hist_mean(&h) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_cover_values), cmocka_unit_test(small_values_are_exact),
        cmocka_unit_test(tail_percentiles),     cmocka_unit_test(merge_adds),
        cmocka_unit_test(empty_is_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
