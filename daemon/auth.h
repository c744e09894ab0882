/* auth.h — who may ask what (SPEC 6): the channels file, the `auth`
 * method, the authorize step of the request path, the region filter and
 * the per-channel rate limits.
 *
 * Objects and lifetimes
 *   auth_table   one parsed channels file, immutable once loaded and
 *                reference-counted. The holder owns the current one; each
 *                worker holds a reference to the one it serves from and
 *                swaps on its own thread when a reload bumps the
 *                generation (worker.c), re-binding every session first.
 *   auth_channel one [channel NAME] section, inside its table. A session's
 *                `grant` points into the table its worker holds, so it is
 *                valid for as long as the worker keeps that table.
 *   auth_stats   a channel's counters and its rate-limit bucket, kept by
 *                name in a process-wide registry that only grows: they
 *                outlive reloads (a reload neither resets a counter nor
 *                refills a bucket) and are read lock-free by a scraper.
 *
 * Threads: parsing and the holder run on whichever thread reloads
 * (server_reload serialises them); authorize, auth and the filter run on
 * the worker threads and touch shared memory only through the atomics of
 * auth_stats.
 *
 * Rate limits: one lock-free bucket per channel shared by every thread,
 * as GCRA (the "virtual scheduling" form of a token bucket): a single
 * 64-bit theoretical arrival time, advanced by a compare-and-swap of
 * n x (1 s / rate) for a request of n items and refused when it would run
 * more than burst x (1 s / rate) ahead of now. Chosen over per-thread
 * shares because a channel's connections land on whichever thread the
 * kernel picks (SO_REUSEPORT): shares would need rebalancing to honour
 * `rate` exactly, while one CAS on a line only that channel's requests
 * touch costs tens of nanoseconds and never slows another channel. */
#ifndef ELIGD_AUTH_H
#define ELIGD_AUTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "call.h"
#include "session.h"

#define AUTH_NAME_MAX 64       /* channel names: 1-64 of A-Za-z0-9 . _ - */
#define AUTH_TOKEN_MAX 1024    /* longest token accepted by `auth` */
#define AUTH_MAX_FAILURES 3    /* failed `auth` calls before the close */

/* A channel's counters and bucket, by name, for the life of the process. */
typedef struct auth_stats {
    char name[AUTH_NAME_MAX + 1];
    atomic_uint_fast64_t auth_failures; /* failed `auth` naming this channel */
    atomic_uint_fast64_t rate_limited;  /* requests refused with rate_limited */
    _Alignas(64) atomic_uint_fast64_t tat_ns; /* GCRA theoretical arrival time */
    struct auth_stats *next;
} auth_stats;

/* Families whose region r has lo <= r < hi (one kode wilayah prefix). */
typedef struct {
    uint64_t lo, hi;
} auth_region_range;

typedef struct {
    char name[ELIG_WIRE_PROGRAM_MAX];
    uint8_t len;
} auth_program;

typedef struct auth_channel {
    char name[AUTH_NAME_MAX + 1];
    auth_stats *stats;        /* bound when the table is installed */
    int line;                 /* of its [channel] header, for messages */
    bool has_token, has_cert;
    uint8_t token_sha256[32]; /* SHA-256 of the token */
    uint8_t cert_sha256[32];  /* SHA-256 of the client certificate (DER) */
    uint64_t methods;         /* bit (1 << elig_method) per granted method */
    bool all_programs, all_regions;
    uint32_t n_programs, n_regions;
    auth_program *programs;
    auth_region_range *regions;
    uint32_t rate, burst;     /* 0: unlimited */
    uint64_t interval_ns;     /* 1 s / rate */
    uint64_t tolerance_ns;    /* burst x interval_ns */
} auth_channel;

typedef struct auth_table {
    atomic_uint refs;
    size_t n;
    auth_channel *ch;
} auth_table;

/* Parses a channels file held in text[0..len) (SPEC 6 format). `name`
 * prefixes messages. Returns 0 with *out (refs 1, stats not yet bound),
 * or a negative code with err = "NAME:LINE: what is wrong". Pure: no
 * I/O, no global state. */
int auth_table_parse(const char *text, size_t len, const char *name, auth_table **out, char *err,
                     size_t errlen);
/* Reads and parses the file at path, and binds each channel to its
 * counters in the registry. 0 or a negative code with err filled. */
int auth_table_load(const char *path, auth_table **out, char *err, size_t errlen);
/* The channel called name[0..n), or NULL. */
const auth_channel *auth_table_find(const auth_table *t, const char *name, size_t n);
/* The channel whose cert_sha256 is fp, or NULL. */
const auth_channel *auth_table_find_cert(const auth_table *t, const uint8_t fp[32]);
void auth_table_acquire(auth_table *t);
/* Drops a reference; the last frees the table. t may be NULL. */
void auth_table_release(auth_table *t);

/* The current table and its generation (like snap_holder). */
typedef struct {
    uv_mutex_t mu; /* guards cur and reload_error */
    auth_table *cur;
    atomic_uint_fast64_t generation;
    char reload_error[300]; /* "" when the last reload succeeded */
    const char *path;
} auth_holder;

/* Loads the file at path. 0, or a negative code with err filled. */
int auth_holder_init(auth_holder *h, const char *path, char *err, size_t errlen);
void auth_holder_destroy(auth_holder *h);
/* Re-reads the file. A bad file keeps the old table, keeps the reason for
 * `info` and returns a negative code; logs either way. */
int auth_holder_reload(auth_holder *h);
/* A reference to the current table; *gen gets its generation. */
auth_table *auth_holder_acquire(auth_holder *h, uint64_t *gen);
static inline uint64_t auth_holder_generation(auth_holder *h) {
    return atomic_load_explicit(&h->generation, memory_order_acquire);
}
/* Copies the last reload error ("" if none) into out[n]. */
void auth_holder_reload_error(auth_holder *h, char *out, size_t n);

/* ---- sessions ------------------------------------------------------- */

/* At accept: what the new connection may do before anything else. With no
 * table everything (SPEC 6, no auth file); on the Unix socket everything
 * unless unix_auth; otherwise nothing until `auth`. */
void auth_session_start(session *s, const auth_table *t, bool unix_auth);
/* A TLS client certificate (SHA-256 of its DER) verified at handshake:
 * the channel naming it, if any, from the first request on. */
void auth_session_cert(session *s, const auth_table *t, const uint8_t fp[32]);
/* After a reload: points an authenticated session at its channel in the
 * new table, or back to unauthenticated when the channel is gone or its
 * credential changed (a revocation reaches open connections). */
void auth_session_rebind(session *s, const auth_table *t);

/* ---- the request path ----------------------------------------------- */

/* Step 2, between decode and answer. Answers `auth` itself (the result is
 * c->auth_ok), refuses what the session's grant does not cover with
 * unauthorized (overriding a decode error, so an unauthenticated client
 * learns nothing), then charges the channel's rate limit. t is the
 * worker's table (NULL without --auth-file). */
void auth_authorize(call *c, session *s, const auth_table *t);

void auth_hide_regions_(call *c, const auth_channel *ch);
/* After the answer step: families outside the channel's regions become
 * exactly `not_found` (a household nil). One branch when all regions are
 * granted. */
static inline void auth_hide_regions(call *c, const session *s) {
    if (s->grant && !s->grant->all_regions && !c->err)
        auth_hide_regions_(c, s->grant);
}

/* ---- counters, for a metrics scraper -------------------------------- */

/* Calls fn once per channel ever loaded (and once for "-": failed `auth`
 * naming no known channel) with its totals since start. Lock-free; safe
 * from any thread at any time. */
void auth_counters_each(void (*fn)(void *ud, const char *channel, uint64_t auth_failures,
                                   uint64_t rate_limited),
                        void *ud);

#endif
