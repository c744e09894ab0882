/* radix.c — LSD radix sort, 8 bits per pass; see radix.h. */
#include "radix.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t key_at(const unsigned char *p, size_t key_off) {
    uint64_t k;
    memcpy(&k, p + key_off, 8);
    return k;
}

/* One read: the 8 byte histograms, and whether the keys are already in
 * order. */
static inline bool histogram(const unsigned char *a, size_t n, size_t size, size_t key_off,
                             size_t (*hist)[256]) {
    bool sorted = true;
    uint64_t prev = 0;
    memset(hist, 0, 8 * sizeof hist[0]);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key_at(a + i * size, key_off);
        sorted &= k >= prev;
        prev = k;
        for (int d = 0; d < 8; d++)
            hist[d][(k >> (8 * d)) & 0xFF]++;
    }
    return sorted;
}

/* The sort body; inlined per record size so the copies are fixed-size. */
__attribute__((always_inline)) static inline int sort_body(unsigned char *base, size_t n, size_t size, size_t key_off) {
    size_t hist[8][256];
    if (n < 2 || histogram(base, n, size, key_off, hist))
        return 0;
    unsigned char *tmp = malloc(n * size);
    if (!tmp)
        return -1;
    unsigned char *src = base, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        size_t *h = hist[d];
        size_t first = (size_t)((key_at(base, key_off) >> (8 * d)) & 0xFF);
        if (h[first] == n)
            continue; /* every key has the same byte here */
        size_t pos[256], sum = 0;
        for (int b = 0; b < 256; b++) {
            pos[b] = sum;
            sum += h[b];
        }
        for (size_t i = 0; i < n; i++) {
            const unsigned char *rec = src + i * size;
            size_t b = (size_t)((key_at(rec, key_off) >> (8 * d)) & 0xFF);
            memcpy(dst + pos[b]++ * size, rec, size);
        }
        unsigned char *t = src;
        src = dst;
        dst = t;
    }
    if (src != base)
        memcpy(base, src, n * size);
    free(tmp);
    return 0;
}

int radix_sort(void *base, size_t n, size_t size, size_t key_off) {
    switch (size) { /* the sizes the builder uses, copied with fixed moves */
    case 8:
        return sort_body(base, n, 8, key_off);
    case 16:
        return sort_body(base, n, 16, key_off);
    case 24:
        return sort_body(base, n, 24, key_off);
    case 32:
        return sort_body(base, n, 32, key_off);
    case 40:
        return sort_body(base, n, 40, key_off);
    default:
        return sort_body(base, n, size, key_off);
    }
}
