/* hist.c — see hist.h. */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_reset(hist *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

/* Below HIST_SUB a value is its own bucket. Above, with m the index of the
 * top bit, the value shifted right by m - (HIST_SUB_BITS - 1) lies in
 * [HIST_HALF, HIST_SUB): that is the sub-bucket, and the shift says which
 * power of two. */
uint32_t hist_index(uint64_t v) {
    if (v < HIST_SUB)
        return (uint32_t)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = m - (HIST_SUB_BITS - 1);
    return shift * HIST_HALF + (uint32_t)(v >> shift);
}

uint64_t hist_bucket_low(uint32_t i) {
    if (i < HIST_SUB)
        return i;
    unsigned shift = i / HIST_HALF - 1;
    uint64_t s = i % HIST_HALF + HIST_HALF;
    return s << shift;
}

uint64_t hist_bucket_high(uint32_t i) {
    if (i < HIST_SUB)
        return i;
    unsigned shift = i / HIST_HALF - 1;
    return hist_bucket_low(i) + ((uint64_t)1 << shift) - 1;
}

void hist_record(hist *h, uint64_t v) {
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

void hist_merge(hist *dst, const hist *src) {
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->min < dst->min)
        dst->min = src->min;
}

uint64_t hist_percentile(const hist *h, double p) {
    if (h->total == 0)
        return 0;
    if (p > 100.0)
        p = 100.0;
    /* ceil, with a little slack so 99 % of 100 is 99, not 100 */
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total - 1e-9);
    if (rank < 1)
        rank = 1;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double hist_mean(const hist *h) { return h->total ? h->sum / (double)h->total : 0.0; }
