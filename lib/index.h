/* index.h — the snapshot's id index (schema 2): one static hash table that
 * takes any id (nik, kk or kks) straight to its family's household value,
 * shared by the builder (tools/snapshot/index.c writes it), the reader
 * (lib/snap.c) and verify. docs/SNAPSHOT.md explains the choice and gives
 * the measurements; this file is the single definition of the bytes.
 *
 * Stored in the LMDB database "idx" (integer keys):
 *
 *   key 0            the header below (ELIG_IDX_HEAD bytes), then the file
 *                    offset of each chunk (nchunks x u64)
 *   key 1..nchunks   the buckets, in chunks of at most 2^chunk_shift
 *                    buckets; each chunk is one LMDB value, so it lies on
 *                    consecutive overflow pages: `pad` bytes, then the
 *                    buckets. LMDB puts an overflow value 16 bytes into its
 *                    first page, so pad = 48 puts every bucket on a 64-byte
 *                    cache line of the file (and so of the map).
 *
 * The reader finds the chunks by the offsets in the header, in its own map
 * of the file (LMDB does not tell where its map is), and checks that each
 * lies inside the file; LMDB is not on the query path at all.
 *
 * Header (native-endian like every number in the snapshot; eligd runs on
 * little-endian machines):
 *   off 0  u32 magic ELIG_IDX_MAGIC     off 4  u32 version (1)
 *   off 8  u64 nbuckets                 off 16 u64 entries (occupied slots)
 *   off 24 u32 chunk_shift              off 28 u32 nchunks
 *   off 32 u32 max_probe (buckets)      off 36 u32 pad
 *   off 40 u64 seed                     off 48 u64 entries per kind,
 *                                              nik, kk, kks (3 x u64)
 *
 * A bucket is one 64-byte line of 4 slots of 16 bytes {u64 key, u64 target}:
 *   key     0 = empty; else id | (kind + 1) << 54 (a 16-digit id is below
 *           2^54). Bit 63 of slot 0's key is the bucket's overflow flag: a
 *           key whose home is this bucket or an earlier one was placed
 *           further on because this bucket was full.
 *   target  bits 0-39 byte offset in the file of the family's household
 *           value; bits 40-62 its length; bit 63 the member is deceased
 *           (nik entries only).
 *
 * Lookup: h = mix(key ^ seed); home bucket (h * nbuckets) >> 64; scan its 4
 * slots: the key is there, or an empty slot ends the search; a full bucket
 * without the overflow flag ends it too; otherwise go on to the next bucket
 * (wrapping), at most max_probe buckets in all. Filled at load <= 0.8, a hit
 * reads one line in ~9 of 10 lookups and a miss about as often. */
#ifndef ELIG_INDEX_H
#define ELIG_INDEX_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "elig.h"

#define ELIG_DB_IDX "idx"

#define ELIG_IDX_MAGIC 0x58444945u /* "EIDX" */
#define ELIG_IDX_VERSION 1u
#define ELIG_IDX_HEAD 72
#define ELIG_IDX_SLOTS 4                /* slots per bucket */
#define ELIG_IDX_BUCKET 64              /* bytes per bucket */
#define ELIG_IDX_PAD 48                 /* bytes before the buckets of a chunk */
#define ELIG_IDX_CHUNK_SHIFT 22         /* 2^22 buckets = 256 MiB per value */
#define ELIG_IDX_MAX_CHUNKS 4096
#define ELIG_IDX_SEED UINT64_C(0x9e3779b97f4a7c15)
#define ELIG_IDX_LOAD 0.8 /* the builder's fill: entries / (4 * nbuckets) */

#define ELIG_IDX_FLAG (UINT64_C(1) << 63)
#define ELIG_IDX_KIND_SHIFT 54
#define ELIG_IDX_OFF_BITS 40
#define ELIG_IDX_LEN_BITS 23
#define ELIG_IDX_OFF_MAX ((UINT64_C(1) << ELIG_IDX_OFF_BITS) - 1)
#define ELIG_IDX_LEN_MAX ((UINT64_C(1) << ELIG_IDX_LEN_BITS) - 1)
#define ELIG_IDX_DECEASED (UINT64_C(1) << 63)

/* The index of an open snapshot: where its buckets are in memory. */
typedef struct {
    uint64_t nbuckets, entries, seed;
    uint64_t per_kind[ELIG_KIND_COUNT];
    uint32_t chunk_shift, nchunks, max_probe;
    const unsigned char **chunk; /* nchunks pointers to the first bucket */
} elig_index;

/* splitmix64's finaliser: every input bit moves every output bit, and it is
 * a bijection, so distinct ids never share a hash. */
static inline uint64_t elig_idx_mix(uint64_t x) {
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* The key stored for (kind, id): never 0, never has the flag bit. */
static inline uint64_t elig_idx_key(elig_kind kind, uint64_t id) {
    return id | ((uint64_t)kind + 1) << ELIG_IDX_KIND_SHIFT;
}

/* Home bucket of a key: multiply-shift onto [0, nbuckets), so the table
 * can be any size, not a power of two. */
static inline uint64_t elig_idx_home(uint64_t key, uint64_t seed, uint64_t nbuckets) {
    return (uint64_t)(((unsigned __int128)elig_idx_mix(key ^ seed) * nbuckets) >> 64);
}

static inline uint64_t elig_idx_target(uint64_t off, uint64_t len, bool deceased) {
    return off | len << ELIG_IDX_OFF_BITS | (deceased ? ELIG_IDX_DECEASED : 0);
}

static inline const unsigned char *elig_idx_bucket(const elig_index *ix, uint64_t b) {
    return ix->chunk[b >> ix->chunk_shift] +
           (size_t)(b & ((UINT64_C(1) << ix->chunk_shift) - 1)) * ELIG_IDX_BUCKET;
}

static inline uint64_t elig_idx_rd(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Looks key up: 1 and *target if present, 0 if not. Reads at most
 * max_probe buckets, all inside the chunks checked at load, so a damaged
 * table can give a wrong target (which the caller checks) but never an
 * out-of-bounds read or an endless loop. */
static inline int elig_idx_find(const elig_index *ix, uint64_t key, uint64_t *target) {
    uint64_t b = elig_idx_home(key, ix->seed, ix->nbuckets);
    for (uint32_t probe = 0; probe < ix->max_probe; probe++) {
        const unsigned char *p = elig_idx_bucket(ix, b);
        for (int s = 0; s < ELIG_IDX_SLOTS; s++) {
            uint64_t k = elig_idx_rd(p + 16 * s) & ~ELIG_IDX_FLAG;
            if (k == key) {
                *target = elig_idx_rd(p + 16 * s + 8);
                return 1;
            }
            if (k == 0)
                return 0;
        }
        if (!(elig_idx_rd(p) & ELIG_IDX_FLAG))
            return 0;
        b = b + 1 == ix->nbuckets ? 0 : b + 1;
    }
    return 0;
}

/* Header bytes. */
typedef struct {
    uint32_t magic, version;
    uint64_t nbuckets, entries;
    uint32_t chunk_shift, nchunks, max_probe, pad;
    uint64_t seed;
    uint64_t per_kind[ELIG_KIND_COUNT];
} elig_idx_head;

static inline void elig_idx_head_put(unsigned char *p, const elig_idx_head *h) {
    memcpy(p, &h->magic, 4);
    memcpy(p + 4, &h->version, 4);
    memcpy(p + 8, &h->nbuckets, 8);
    memcpy(p + 16, &h->entries, 8);
    memcpy(p + 24, &h->chunk_shift, 4);
    memcpy(p + 28, &h->nchunks, 4);
    memcpy(p + 32, &h->max_probe, 4);
    memcpy(p + 36, &h->pad, 4);
    memcpy(p + 40, &h->seed, 8);
    memcpy(p + 48, h->per_kind, 24);
}

static inline void elig_idx_head_get(const unsigned char *p, elig_idx_head *h) {
    memcpy(&h->magic, p, 4);
    memcpy(&h->version, p + 4, 4);
    memcpy(&h->nbuckets, p + 8, 8);
    memcpy(&h->entries, p + 16, 8);
    memcpy(&h->chunk_shift, p + 24, 4);
    memcpy(&h->nchunks, p + 28, 4);
    memcpy(&h->max_probe, p + 32, 4);
    memcpy(&h->pad, p + 36, 4);
    memcpy(&h->seed, p + 40, 8);
    memcpy(h->per_kind, p + 48, 24);
}

/* Buckets for n entries at the builder's load; at least 64 (4 KiB), so
 * that a chunk is always too large for a leaf page and LMDB puts it on
 * overflow pages of its own, where no later write moves it (a small value
 * would live in the leaf, and the write that adds the header would copy
 * the leaf elsewhere). */
#define ELIG_IDX_MIN_BUCKETS 64
static inline uint64_t elig_idx_buckets_for(uint64_t n) {
    uint64_t b = (uint64_t)((double)n / (ELIG_IDX_SLOTS * ELIG_IDX_LOAD)) + 1;
    return b < ELIG_IDX_MIN_BUCKETS ? ELIG_IDX_MIN_BUCKETS : b;
}

/* Reads and checks the header of an open snapshot's "idx" database and
 * points ix at its chunks in map (the file mapped from offset 0; maplen:
 * the bytes LMDB uses, all inside the file): every chunk inside them, past
 * LMDB's two meta pages, of the size the header says. On success ix->chunk
 * is a malloc'd array the caller frees. 0, or ELIG_ECORRUPT / ELIG_ENOMEM
 * with a reason in why[whylen]. */
int elig_index_load_(elig_index *ix, MDB_txn *txn, MDB_dbi dbi, const unsigned char *map, uint64_t maplen,
                     char *why, size_t whylen);

/* The offset in the file of a value LMDB returned (its pointer into LMDB's
 * own map): LMDB pages begin with their page number and its map is
 * page-aligned, so the page holding p says where it is. Only for a file
 * LMDB has just written and trusts (the builder): a damaged page would
 * give a wrong number. */
static inline uint64_t elig_idx_value_offset(const void *p, unsigned psize) {
    uintptr_t a = (uintptr_t)p, page = a & ~(uintptr_t)(psize - 1);
    uint64_t pgno;
    memcpy(&pgno, (const void *)page, 8);
    return pgno * psize + (a - page);
}

#endif /* ELIG_INDEX_H */
