/* stats.c — see stats.h. */
#include "stats.h"

#include <string.h>

static void zero(stats_counter *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        atomic_init(&c[i], 0);
}

void stats_init(stats *s) {
    memset(s, 0, sizeof *s);
    zero(s->requests, STATS_METHOD_SLOTS);
    zero(s->answers, ELIG_REASON_COUNT);
    zero(s->errors, STATS_ERRCODE_SLOTS);
    zero(s->latency, STATS_LATENCY_BUCKETS);
    zero(s->closes, CONN_CLOSE_COUNT);
    atomic_init(&s->latency_sum_ns, 0);
    atomic_init(&s->accepted, 0);
    atomic_init(&s->read_errors, 0);
    atomic_init(&s->read_error_gen, 0);
    atomic_init(&s->read_error_code, 0);
}

uint64_t stats_latency_bound_ns(int i) {
    static const uint64_t bounds[] = {
#define STATS_X_(b) b##ull,
        STATS_LATENCY_BOUNDS_NS(STATS_X_)
#undef STATS_X_
    };
    return i >= 0 && i < STATS_LATENCY_BOUNDS ? bounds[i] : UINT64_MAX;
}

static void add(uint64_t *to, const stats_counter *from, size_t n) {
    for (size_t i = 0; i < n; i++)
        to[i] += atomic_load_explicit(&from[i], memory_order_relaxed);
}

void stats_accumulate(const stats *s, stats_totals *out) {
    add(out->requests, s->requests, STATS_METHOD_SLOTS);
    add(out->answers, s->answers, ELIG_REASON_COUNT);
    add(out->errors, s->errors, STATS_ERRCODE_SLOTS);
    add(out->latency, s->latency, STATS_LATENCY_BUCKETS);
    add(out->closes, s->closes, CONN_CLOSE_COUNT);
    out->latency_sum_ns += atomic_load_explicit(&s->latency_sum_ns, memory_order_relaxed);
    out->accepted += atomic_load_explicit(&s->accepted, memory_order_relaxed);
    out->read_errors += atomic_load_explicit(&s->read_errors, memory_order_relaxed);
    uint64_t gen = atomic_load_explicit(&s->read_error_gen, memory_order_relaxed);
    if (gen > out->read_error_gen)
        out->read_error_gen = gen;
}
