/* hist.h — a latency histogram with log-linear buckets, in the manner of
 * HdrHistogram: every power of two is cut into HIST_HALF linear
 * sub-buckets, so a recorded value is known to within 1/HIST_HALF (1.6 %)
 * whatever its magnitude, and recording is a count-leading-zeros and an
 * increment. The maximum is kept exactly.
 *
 * Values are unsigned 64-bit (the benchmark records nanoseconds). A
 * histogram is a plain struct with no allocation: one per thread, merged at
 * the end with hist_merge. */
#ifndef ELIG_BENCH_HIST_H
#define ELIG_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS) /* values below this are exact */
#define HIST_HALF (HIST_SUB / 2)
/* Enough buckets for any uint64_t: shifts 1..57, HIST_HALF each, above
 * the HIST_SUB exact ones. */
#define HIST_BUCKETS (HIST_SUB + 57 * HIST_HALF)

typedef struct {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t min;
    double sum; /* for the mean */
} hist;

/* Empties h. */
void hist_reset(hist *h);
/* Records one value. */
void hist_record(hist *h, uint64_t v);
/* Adds every count of src into dst. */
void hist_merge(hist *dst, const hist *src);
/* The value at percentile p (0 < p <= 100): the upper bound of the bucket
 * holding the ceil(p/100 * total)-th smallest value, never above the exact
 * maximum. 0 when the histogram is empty. */
uint64_t hist_percentile(const hist *h, double p);
double hist_mean(const hist *h);

/* Bucket arithmetic, exposed for the tests. */
uint32_t hist_index(uint64_t v);
/* Smallest and largest value that land in bucket i. */
uint64_t hist_bucket_low(uint32_t i);
uint64_t hist_bucket_high(uint32_t i);

#endif
