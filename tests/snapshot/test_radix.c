/* test_radix.c — the LSD radix sort the builder's rules stand on: ascending,
 * stable (the enrollments are sorted by (program, start) then by kk, and
 * rely on the second sort keeping the first order), any key offset and
 * record size, already-sorted input left alone. Checked against qsort on
 * (key, original position). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "radix.h"

typedef struct {
    uint64_t pad;
    uint64_t key; /* at offset 8 */
    uint64_t pos; /* original position, to check stability */
} rec24;

static uint64_t rng_state = 88172645463325252u;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int by_key_then_pos(const void *a, const void *b) {
    const rec24 *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts n records whose keys come from gen(), compares with qsort. */
static void check(size_t n, uint64_t (*gen)(size_t i)) {
    rec24 *a = malloc(n * sizeof *a), *want = malloc(n * sizeof *want);
    for (size_t i = 0; i < n; i++) {
        a[i].pad = 0xABCDEF;
        a[i].key = gen(i);
        a[i].pos = i;
    }
    memcpy(want, a, n * sizeof *a);
    qsort(want, n, sizeof *want, by_key_then_pos);
    assert_int_equal(radix_sort(a, n, sizeof *a, offsetof(rec24, key)), 0);
    assert_memory_equal(a, want, n * sizeof *a);
    free(a);
    free(want);
}

static uint64_t ids54(size_t i) { (void)i; return UINT64_C(1000000000000000) + next_rand() % UINT64_C(9000000000000000); }
static uint64_t few(size_t i) { (void)i; return next_rand() % 5; }          /* many ties */
static uint64_t wide(size_t i) { (void)i; return next_rand(); }             /* all 64 bits */
static uint64_t sorted(size_t i) { return i / 3; }
static uint64_t reversed(size_t i) { return UINT64_MAX - i; }
static uint64_t same(size_t i) { (void)i; return 42; }
static uint64_t top_only(size_t i) { return (uint64_t)(i % 7) << 60; }    /* only the top digit varies */

static void sorts_like_qsort_and_is_stable(void **state) {
    (void)state;
    check(100000, ids54);
    check(100000, few);
    check(100000, wide);
    check(100000, sorted);
    check(100000, reversed);
    check(1000, same);
    check(10000, top_only);
    check(1, wide);
    check(0, wide);
}

/* The builder's two-key sort: by a low key, then stably by a high one. */
static void second_sort_keeps_first_order(void **state) {
    (void)state;
    enum { N = 50000 };
    struct { uint64_t hi, lo; } *a = malloc(N * sizeof *a);
    for (size_t i = 0; i < N; i++) {
        a[i].hi = next_rand() % 1000;
        a[i].lo = next_rand() % 100000;
    }
    assert_int_equal(radix_sort(a, N, sizeof *a, 8), 0);
    assert_int_equal(radix_sort(a, N, sizeof *a, 0), 0);
    for (size_t i = 1; i < N; i++)
        assert_true(a[i - 1].hi < a[i].hi || (a[i - 1].hi == a[i].hi && a[i - 1].lo <= a[i].lo));
    free(a);
}

static void odd_record_size(void **state) {
    (void)state;
    enum { N = 3000, SIZE = 13 }; /* key at offset 5: unaligned */
    unsigned char *a = malloc(N * SIZE);
    for (size_t i = 0; i < N; i++) {
        uint64_t k = next_rand() % 100;
        memcpy(a + i * SIZE + 5, &k, 8);
        a[i * SIZE] = (unsigned char)(i & 0xFF);
    }
    assert_int_equal(radix_sort(a, N, SIZE, 5), 0);
    for (size_t i = 1; i < N; i++) {
        uint64_t x, y;
        memcpy(&x, a + (i - 1) * SIZE + 5, 8);
        memcpy(&y, a + i * SIZE + 5, 8);
        assert_true(x <= y);
    }
    free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorts_like_qsort_and_is_stable),
        cmocka_unit_test(second_sort_keeps_first_order),
        cmocka_unit_test(odd_record_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
