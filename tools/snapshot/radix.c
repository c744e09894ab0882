/* radix.c — LSD radix sort, 11 bits per pass; see radix.h.
 *
 * 11-bit digits sort a 54-bit id (kk, nik, kks) in 5 passes instead of the
 * 7 that bytes would take; 2048 buckets still keep the counts in L1/L2,
 * and the huge pages of bigmem.h keep 2048 write streams from thrashing
 * the TLB. */
#include "radix.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bigmem.h"

#define DIGIT_BITS 11
#define BUCKETS (1u << DIGIT_BITS)
#define DIGITS 6 /* 6 * 11 >= 64 */

static inline uint64_t key_at(const unsigned char *p, size_t key_off) {
    uint64_t k;
    memcpy(&k, p + key_off, 8);
    return k;
}

static inline size_t digit(uint64_t k, int d) { return (size_t)(k >> (DIGIT_BITS * d)) & (BUCKETS - 1); }

/* One read: the histogram of every digit, and whether the keys are already
 * in order. */
__attribute__((always_inline)) static inline bool histogram(const unsigned char *a, size_t n, size_t size,
                                                            size_t key_off, size_t (*hist)[BUCKETS]) {
    bool sorted = true;
    uint64_t prev = 0;
    memset(hist, 0, DIGITS * sizeof hist[0]);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key_at(a + i * size, key_off);
        sorted &= k >= prev;
        prev = k;
        for (int d = 0; d < DIGITS; d++)
            hist[d][digit(k, d)]++;
    }
    return sorted;
}

/* The sort body; inlined per record size so the copies are fixed-size. */
__attribute__((always_inline)) static inline void sort_body(unsigned char *base, unsigned char *tmp, size_t n,
                                                            size_t size, size_t key_off, size_t (*hist)[BUCKETS]) {
    unsigned char *src = base, *dst = tmp;
    uint64_t first = key_at(base, key_off);
    for (int d = 0; d < DIGITS; d++) {
        size_t *h = hist[d];
        if (h[digit(first, d)] == n)
            continue; /* every key has the same digit here */
        size_t sum = 0;
        for (size_t b = 0; b < BUCKETS; b++) { /* counts -> start positions */
            size_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            const unsigned char *rec = src + i * size;
            memcpy(dst + h[digit(key_at(rec, key_off), d)]++ * size, rec, size);
        }
        unsigned char *t = src;
        src = dst;
        dst = t;
    }
    if (src != base)
        memcpy(base, src, n * size);
}

void radix_sort_with(void *base, void *tmp, size_t n, size_t size, size_t key_off) {
    static __thread size_t hist[DIGITS][BUCKETS]; /* 96 KiB: not on the stack */
    if (n < 2 || histogram(base, n, size, key_off, hist))
        return;
    switch (size) { /* the sizes the builder uses, copied with fixed moves */
    case 8:
        sort_body(base, tmp, n, 8, key_off, hist);
        break;
    case 16:
        sort_body(base, tmp, n, 16, key_off, hist);
        break;
    case 24:
        sort_body(base, tmp, n, 24, key_off, hist);
        break;
    case 32:
        sort_body(base, tmp, n, 32, key_off, hist);
        break;
    case 40:
        sort_body(base, tmp, n, 40, key_off, hist);
        break;
    default:
        sort_body(base, tmp, n, size, key_off, hist);
    }
}

int radix_sort(void *base, size_t n, size_t size, size_t key_off) {
    if (n < 2)
        return 0;
    void *tmp = big_alloc(n * size);
    if (!tmp)
        return -1;
    radix_sort_with(base, tmp, n, size, key_off);
    big_free(tmp, n * size);
    return 0;
}
