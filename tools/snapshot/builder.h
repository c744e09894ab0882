/* builder.h — the builder's working state, shared by its stages:
 *
 *   ingest.c   CSV -> packed rows, field rules (one file at a time)
 *   resolve.c  duplicates, unknown families, overlapping enrollments
 *   rejects.c  the rejects file
 *   write.c    the LMDB file
 *   build.c    the order of the stages, hashing, atomic publish
 *
 * Rows are packed small because a national build holds ~170M of them:
 * bytes per row are stated in docs/SNAPSHOT.md. A row keeps its byte
 * offset in its input file instead of its text; the few rejected rows are
 * re-read from the mapped input when the rejects file is written. */
#ifndef ELIG_SNAPSHOT_BUILDER_H
#define ELIG_SNAPSHOT_BUILDER_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bigmem.h"
#include "build.h"
#include "reject.h"

/* A household that passed the field rules. 40 bytes. */
typedef struct {
    uint64_t kk; /* sort key: first field */
    uint64_t kks;
    uint64_t region;
    uint64_t off;     /* byte offset of the record in households.csv */
    uint32_t members; /* accepted member rows */
    uint8_t status;   /* elig_hh_status */
    uint8_t has_kks;
    uint8_t reject; /* snap_reason; 0 = accepted so far */
    uint8_t pad_;
} hh_row;

/* A member that passed the field rules. 24 bytes. */
typedef struct {
    uint64_t nik; /* sort key */
    uint64_t kk;
    uint64_t off : 56; /* byte offset in members.csv */
    uint64_t status : 1;
    uint64_t reject : 7;
} mem_row;

/* An enrollment that passed the field rules. 32 bytes. key2 holds the
 * programme (its id while reading, its rank in name order once all are
 * known) above the start month, so one integer orders (program, start). */
typedef struct {
    uint64_t kk;   /* sort key */
    uint64_t key2; /* program << ENR_PROG_SHIFT | start month */
    uint32_t end;  /* ELIG_MONTH_OPEN when open-ended */
    uint32_t amount;
    uint64_t off : 56; /* byte offset in enrollments.csv */
    uint64_t status : 1;
    uint64_t reject : 7;
} enr_row;

/* Months of years 1-9999 are < 2^17. */
#define ENR_PROG_SHIFT 17
#define ENR_START_MASK ((UINT64_C(1) << ENR_PROG_SHIFT) - 1)

/* A rejected row: which file, where, why. 16 bytes. */
typedef struct {
    uint64_t key; /* file << 56 | byte offset: sorts by file then line */
    uint64_t reason;
} rej_row;

/* A (kks, household index) pair, for the kks rules and table. */
typedef struct {
    uint64_t kks;
    uint64_t idx;
} kks_row;

/* Distinct programme names, interned: enrollments carry a small number. */
typedef struct {
    char (*name)[16]; /* zero padded, by id; then by rank after finish */
    uint8_t *len;
    uint32_t n, cap;
    uint32_t *slot; /* open addressing: id + 1, 0 = empty */
    uint32_t nslot;
    uint32_t *rank; /* id -> rank in name order, after prog_finish */
} prog_tab;

typedef struct {
    const char *path;
    const char *name; /* base name */
    int fd;
    const char *buf; /* mapped input, or "" when empty */
    size_t len;
    dev_t dev; /* identity of the file, to refuse writing over it */
    ino_t ino;
    bool mapped;
    uint64_t read, rejected, accepted;
    unsigned char sha256[32];
    size_t hashed;  /* bytes hashed so far (atomic: the hash thread writes) */
    size_t dropped; /* pages before this offset were given back */
    size_t parsed;  /* parser position (atomic: the hash thread reads) */
} snap_input;

#define VEC_OF(T)                                                              \
    struct {                                                                   \
        T *v;                                                                  \
        size_t n, cap;                                                         \
    }

typedef struct {
    snap_input in[SNAP_NFILES];
    VEC_OF(hh_row) hh;
    VEC_OF(mem_row) mem;
    VEC_OF(enr_row) enr;
    VEC_OF(rej_row) rej[SNAP_NFILES]; /* per file: files are parsed in parallel */
    VEC_OF(kks_row) kks;
    prog_tab prog;
    int parse_done; /* atomic: the parser stopped (done or failed) */
    void *scratch; /* sort buffer during resolve */
    size_t scratch_len;
    /* progress */
    bool progress;
    uint64_t total_bytes, rows; /* rows: atomic, both parser threads add */
    double t_start, t_last;
} snap_builder;

/* Makes room for n elements in a VEC_OF (memory from bigmem.h); 0 or -1. */
int vec_reserve_(void **v, size_t *cap, size_t n, size_t size);
#define VEC_FREE(vec) big_free((vec).v, (vec).cap * sizeof *(vec).v)
/* Frees early and leaves the vector empty (VEC_FREE again is harmless). */
#define VEC_RELEASE(vec) (VEC_FREE(vec), (vec).v = NULL, (vec).n = (vec).cap = 0)
#define VEC_PUSH_SLOT(vec) \
    ((vec).n < (vec).cap || vec_reserve_((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof *(vec).v) == 0 \
         ? &(vec).v[(vec).n++]                                                                               \
         : NULL)

/* Notes a rejected row; 0 or -1 (out of memory). */
int snap_reject(snap_builder *b, int file, uint64_t off, snap_reason why);

/* Seconds on a monotonic clock. */
double snap_now(void);
/* With ELIG_SNAPSHOT_TIMING set in the environment, prints on stderr how
 * long the stage `name` took since *t, then sets *t to now: the stage
 * figures in docs/SNAPSHOT.md come from it. */
void snap_stage(const char *name, double *t);
/* Prints the progress line if due (b->progress only); main thread only. */
void snap_progress(snap_builder *b, bool final);

/* Gives back the mapped pages of input `file` that both the parser (at
 * offset `parsed`) and the hash thread are done with, so resident input
 * stays a window instead of the whole file. */
void snap_drop_behind(snap_builder *b, int file, size_t parsed);

/* ingest.c: reads one input file's header and rows. 0, or -1 with err.
 * Touches only that file's state, so files may be read in parallel; prints
 * progress only if print_progress. */
int snap_ingest(snap_builder *b, int file, bool print_progress, char *err, size_t errlen);

/* Frees the programme table. */
void prog_free(prog_tab *t);

/* resolve.c: the cross-row rules, in SPEC order. Sorts hh by kk, mem by
 * nik, enr by (kk, input order) after the overlap rule, and fills kks (by
 * kks). 0 or -1. */
int snap_resolve(snap_builder *b, char *err, size_t errlen);

/* rejects.c: sorts each file's rejects and writes the rejects file (a
 * regular file gets exactly `mode`; a symlink is refused, not followed). 0
 * or -1 with err. */
int snap_write_rejects(snap_builder *b, const char *path, unsigned mode, char *err, size_t errlen);

/* write.c: the metadata strings, in the order they are stored. */
typedef struct {
    char id[65];
    char created[32];
    char sha[SNAP_NFILES][65];
    uint64_t households, members, enrollments;
} snap_meta_out;

/* Writes the snapshot to path (a new file, created with exactly `mode`;
 * never through a symlink or over an existing file), seals it and syncs it.
 * 0 or -1 with err. */
int snap_write_lmdb(snap_builder *b, const char *path, unsigned mode, const snap_meta_out *m, char *err,
                    size_t errlen);

/* LMDB's code rc as words, naming the likely cause of a short write (a
 * full disk, a file size limit) on path. */
const char *snap_lmdb_why(const char *path, int rc);

/* index.c: what the id index came out as, for the timing line. */
typedef struct {
    uint64_t nbuckets, entries;
    uint32_t max_probe;
} snap_index_stats;

/* Builds the id index (lib/index.h) of the hh, nik and kks tables already
 * committed in env (nik entries from b's accepted members) and stores it
 * in "idx". 0, or -1 with err. st may be NULL. */
int snap_write_index(const snap_builder *b, MDB_env *env, const char *path, snap_index_stats *st, char *err,
                     size_t errlen);

#endif /* ELIG_SNAPSHOT_BUILDER_H */
