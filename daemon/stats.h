/* stats.h — the daemon's counters: one struct per worker, summed on read.
 *
 * Who owns what: each worker owns one `stats` (inside its struct) and is
 * the only thread that ever writes it. A write is a relaxed load and a
 * relaxed store of the same counter (no locked instruction, no shared
 * cache line: the struct is 64-byte aligned and no other thread writes
 * anywhere near it). Readers on other threads (the `info` method, the
 * /metrics scrape) load each counter relaxed and add the workers up
 * (stats_accumulate); a sum may be a few requests behind, never torn.
 *
 * What is counted, and where:
 *   requests    by method, as decoded (query.c), the call itself included
 *   answers     by reason, one per check item answered (query.c)
 *   errors      by error code of the response (query.c)
 *   latency     per request: from the start of the processing of the read
 *               that completed it to its response being handed to the
 *               socket (uv_try_write, or queued behind a write in flight)
 *               in conn.c. Two clock reads per read, not per request; every
 *               request of that read gets the same duration. (Not timed: a
 *               `reload`, answered later, and the requests of a read whose
 *               connection is closed while answering it.)
 *   accepted    connections accepted (conn.c)
 *   closes      connections the server closed or refused, by cause
 *               (CONN_CLOSE_CAUSE_MAP, conn.c)
 *   read_errors snapshot reads that failed while answering (answer.c),
 *               with the snapshot generation of the last one, which makes
 *               the health `degraded` until a reload replaces it.
 *
 * Nothing here allocates, locks or logs. */
#ifndef ELIGD_STATS_H
#define ELIGD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "conn.h"
#include "elig_wire.h"

/* Upper bounds (le) of the latency histogram's buckets, in nanoseconds:
 * log-linear, 1 - 2.5 - 5 per decade from 10 us to 10 s, then +Inf. */
#define STATS_LATENCY_BOUNDS_NS(X)                                             \
    X(10000) X(25000) X(50000) X(100000) X(250000) X(500000)                   \
    X(1000000) X(2500000) X(5000000) X(10000000) X(25000000) X(50000000)       \
    X(100000000) X(250000000) X(500000000) X(1000000000) X(2500000000)         \
    X(5000000000) X(10000000000)

enum {
#define STATS_X_(ns) +1
    STATS_LATENCY_BOUNDS = 0 STATS_LATENCY_BOUNDS_NS(STATS_X_),
#undef STATS_X_
    STATS_LATENCY_BUCKETS = STATS_LATENCY_BOUNDS + 1, /* the last is +Inf */
    STATS_METHOD_UNKNOWN = ELIG_METHOD_COUNT,         /* requests[] slot of a name not in the table */
    STATS_METHOD_SLOTS = ELIG_METHOD_COUNT + 1,
    STATS_ERRCODE_SLOTS = 8, /* errors[] by code; 1-6 used, 0 and 7 stay 0 */
};

typedef atomic_uint_fast64_t stats_counter;

typedef struct stats {
    _Alignas(64) stats_counter requests[STATS_METHOD_SLOTS];
    stats_counter answers[ELIG_REASON_COUNT];
    stats_counter errors[STATS_ERRCODE_SLOTS];
    stats_counter latency[STATS_LATENCY_BUCKETS]; /* per bucket, not cumulative */
    stats_counter latency_sum_ns;
    stats_counter accepted;
    stats_counter closes[CONN_CLOSE_COUNT];
    stats_counter read_errors;
    stats_counter read_error_gen; /* snapshot generation of the last read error; 0: none */
    stats_counter read_error_code; /* its code (elig.h), negated to fit */
} stats;

/* The workers' counters added up, as plain numbers. */
typedef struct {
    uint64_t requests[STATS_METHOD_SLOTS];
    uint64_t answers[ELIG_REASON_COUNT];
    uint64_t errors[STATS_ERRCODE_SLOTS];
    uint64_t latency[STATS_LATENCY_BUCKETS];
    uint64_t latency_sum_ns;
    uint64_t accepted;
    uint64_t closes[CONN_CLOSE_COUNT];
    uint64_t read_errors;
    uint64_t read_error_gen; /* the highest of the workers' */
} stats_totals;

/* Zeroes s (before its worker thread starts). */
void stats_init(stats *s);

/* Adds n to a counter: owner thread only. */
static inline void stats_add(stats_counter *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Index of the latency bucket for a duration. */
static inline int stats_latency_bucket(uint64_t ns) {
    static const uint64_t bounds[] = {
#define STATS_X_(b) b##ull,
        STATS_LATENCY_BOUNDS_NS(STATS_X_)
#undef STATS_X_
    };
    int i = 0;
    while (i < STATS_LATENCY_BOUNDS && ns > bounds[i])
        i++;
    return i;
}

/* Upper bound of bucket i in nanoseconds (i < STATS_LATENCY_BOUNDS). */
uint64_t stats_latency_bound_ns(int i);

/* Counts n requests answered in `ns` each (one read's worth): owner only. */
static inline void stats_latency(stats *s, uint64_t n, uint64_t ns) {
    stats_add(&s->latency[stats_latency_bucket(ns)], n);
    stats_add(&s->latency_sum_ns, n * ns);
}

/* A snapshot read failed with `code` while answering from generation
 * `gen`: counted, and remembered for the health and the error log. */
static inline void stats_read_error(stats *s, uint64_t gen, int code) {
    stats_add(&s->read_errors, 1);
    atomic_store_explicit(&s->read_error_gen, gen, memory_order_relaxed);
    atomic_store_explicit(&s->read_error_code, (uint64_t)-(int64_t)code, memory_order_relaxed);
}

/* Adds one worker's counters into out (zeroed by the caller); s may be
 * written by its owner meanwhile. */
void stats_accumulate(const stats *s, stats_totals *out);

#endif
