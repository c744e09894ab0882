/* segdir.h — the segment files of an audit directory, and a scan of their
 * records on every core.
 *
 * A scan first walks the block heads of every segment (a few bytes per
 * block), skipping blocks whose times lie outside [since, until), then the
 * threads take blocks one at a time, decompress them and hand each record
 * in the range to the caller's function. A block is the unit of work, so
 * one large segment keeps every core busy too. Records come in no
 * particular order. */
#ifndef ELIG_AUDIT_SEGDIR_H
#define ELIG_AUDIT_SEGDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "auditfmt.h"

typedef struct {
    char *name;  /* file name, e.g. audit-0000000001-20261201T000000Z.seg */
    char *path;  /* DIR/name */
    uint64_t seq; /* from the name */
} segfile;

/* The segment files of dir, sorted by name (= by sequence number). 0, or
 * -1 with a message on stderr. *out is freed with segdir_free. */
int segdir_list(const char *dir, segfile **out, int *n);
void segdir_free(segfile *f, int n);

/* Called once per record in range, from any of the scan threads; `slot`
 * (0 <= slot < threads) says which, for per-thread results. */
typedef void (*segdir_fn)(void *ud, int slot, const audit_rec *r);

typedef struct {
    uint64_t since_us, until_us; /* records with since <= time < until */
    int threads;                 /* 0: one per core */
    segdir_fn fn;
    void *ud;
    /* Filled by the scan. */
    uint64_t records;            /* records decoded (in the blocks read) */
    uint64_t blocks, blocks_skipped;
    int problems;                /* segments or blocks that could not be read */
} segdir_scan;

/* The number of threads a scan with threads = 0 uses. */
int segdir_threads(int threads);

/* Scans the segments f[0..n). A segment or block that cannot be read is
 * reported on stderr (naming it) and counted; the scan goes on. 0, or -1 if
 * the scan could not run (out of memory). */
int segdir_run(segdir_scan *sc, const segfile *f, int n);

#endif
