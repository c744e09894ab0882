/* test_stats.c — daemon/stats.h: the latency buckets are where the
 * Prometheus `le` bounds say (values written out here, 1-2.5-5 per decade
 * from 10 us to 10 s), a duration lands in the first bucket whose bound is
 * >= it, and workers' counters add up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stats.h"

static const uint64_t want_bounds_us[] = {10,     25,     50,      100,     250,     500,    1000,
                                          2500,   5000,   10000,   25000,   50000,   100000, 250000,
                                          500000, 1000000, 2500000, 5000000, 10000000};
#define N_BOUNDS (sizeof want_bounds_us / sizeof want_bounds_us[0])

static void bounds(void **state) {
    (void)state;
    assert_int_equal(STATS_LATENCY_BOUNDS, N_BOUNDS);
    assert_int_equal(STATS_LATENCY_BUCKETS, N_BOUNDS + 1);
    for (size_t i = 0; i < N_BOUNDS; i++)
        assert_int_equal(stats_latency_bound_ns((int)i), want_bounds_us[i] * 1000);
    assert_true(stats_latency_bound_ns(STATS_LATENCY_BOUNDS) == UINT64_MAX); /* +Inf */
}

static void bucket_of(void **state) {
    (void)state;
    assert_int_equal(stats_latency_bucket(0), 0);
    assert_int_equal(stats_latency_bucket(10000), 0);  /* le is inclusive */
    assert_int_equal(stats_latency_bucket(10001), 1);
    assert_int_equal(stats_latency_bucket(999999), 6); /* just under 1 ms: le=0.001 */
    assert_int_equal(stats_latency_bucket(1000000), 6);
    assert_int_equal(stats_latency_bucket(1000001), 7);
    assert_int_equal(stats_latency_bucket(10000000000ull), (int)N_BOUNDS - 1);
    assert_int_equal(stats_latency_bucket(10000000001ull), (int)N_BOUNDS); /* +Inf */
    assert_int_equal(stats_latency_bucket(UINT64_MAX), (int)N_BOUNDS);
}

static void add_up(void **state) {
    (void)state;
    static stats a, b;
    stats_init(&a);
    stats_init(&b);
    stats_add(&a.requests[ELIG_METHOD_CHECK], 3);
    stats_add(&b.requests[ELIG_METHOD_CHECK], 4);
    stats_add(&b.requests[STATS_METHOD_UNKNOWN], 1);
    stats_add(&a.answers[ELIG_REASON_NOT_FOUND], 2);
    stats_add(&a.errors[ELIG_ERRCODE_TOO_LARGE], 1);
    stats_add(&b.closes[CONN_CLOSE_IDLE], 5);
    stats_latency(&a, 10, 30000);  /* 10 requests of 30 us: bucket le=5e-05 */
    stats_latency(&b, 1, 2000000); /* one of 2 ms: le=0.0025 */
    stats_read_error(&a, 3, ELIG_ECORRUPT);
    stats_read_error(&b, 2, ELIG_EIO);
    stats_totals t = {0};
    stats_accumulate(&a, &t);
    stats_accumulate(&b, &t);
    assert_int_equal(t.requests[ELIG_METHOD_CHECK], 7);
    assert_int_equal(t.requests[STATS_METHOD_UNKNOWN], 1);
    assert_int_equal(t.answers[ELIG_REASON_NOT_FOUND], 2);
    assert_int_equal(t.errors[ELIG_ERRCODE_TOO_LARGE], 1);
    assert_int_equal(t.closes[CONN_CLOSE_IDLE], 5);
    assert_int_equal(t.latency[2], 10);
    assert_int_equal(t.latency[7], 1);
    assert_int_equal(t.latency_sum_ns, 10 * 30000 + 2000000);
    assert_int_equal(t.read_errors, 2);
    assert_int_equal(t.read_error_gen, 3); /* the newest of the workers' */
    assert_true((_Alignof(stats)) >= 64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bounds),
        cmocka_unit_test(bucket_of),
        cmocka_unit_test(add_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
