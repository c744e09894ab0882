/* snapshot.h — the daemon's current snapshot and its hot swap.
 *
 * The holder owns a reference-counted pointer to the snapshot now serving.
 * A reload (SIGHUP, on the main thread) opens and checks the file at the
 * configured path — typically a symlink a deploy has just flipped — and
 * only then publishes it by bumping the generation. Each worker notices the
 * new generation before its next batch of requests, opens a reader on the
 * new snapshot and drops its reference to the old; the old environment is
 * closed by whichever thread drops the last reference. A request is always
 * answered whole by one worker on one snapshot, so in-flight queries finish
 * on the snapshot they started on. */
#ifndef ELIGD_SNAPSHOT_H
#define ELIGD_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "elig.h"

/* How every snapshot is opened, at start-up and on each reload. */
typedef struct {
    bool warm;   /* --warm: fault every page in before serving */
    bool verify; /* --verify: the file's checksum before LMDB reads a page,
                  * then the content hash recomputed from the tables */
    bool copy;   /* --snapshot-load copy: serve a sealed private copy, so that
                  * the file overwritten or truncated in place changes nothing */
} snap_open_opts;

typedef struct snap_ref {
    elig_snap *snap;
    atomic_uint refs;
} snap_ref;

typedef struct {
    uv_mutex_t mu; /* guards cur and reload_error */
    snap_ref *cur;
    atomic_uint_fast64_t generation;
    char reload_error[256]; /* "" when the last reload succeeded */
    const char *path;
    snap_open_opts opts;
} snap_holder;

/* Opens the snapshot at path. 0, or a negative ELIG_E* with err filled. */
int snap_holder_init(snap_holder *h, const char *path, const snap_open_opts *opts, char *err, size_t errlen);
/* Drops the holder's reference; workers must have released theirs. */
void snap_holder_destroy(snap_holder *h);

/* Re-opens the snapshot at the path. On success the new one is published
 * and 0 returned; on failure the old one keeps serving, the reason is kept
 * for `info` and a negative code returned. Logs either way. */
int snap_holder_reload(snap_holder *h);

/* Takes a reference to the current snapshot; *gen gets its generation. */
snap_ref *snap_holder_acquire(snap_holder *h, uint64_t *gen);
static inline uint64_t snap_holder_generation(snap_holder *h) {
    return atomic_load_explicit(&h->generation, memory_order_acquire);
}
/* Copies the last reload error ("" if none) into out[n]. */
void snap_holder_reload_error(snap_holder *h, char *out, size_t n);

/* Drops a reference; the last one closes the snapshot. */
void snap_ref_release(snap_ref *r);

#endif
