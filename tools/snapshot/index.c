/* index.c — the id index of schema 2 (layout: lib/index.h): built in
 * memory from the tables already committed, then stored as a few large
 * LMDB values.
 *
 * The targets are file offsets, so they are taken after the "hh" table is
 * committed and never touched again: a read transaction walks it and each
 * value's page says where it is in the file (elig_idx_value_offset; the
 * first value is read back from the file to make sure). Cards come from the same walk (each household value holds its
 * card); members look their family up in the table being built. Lookups
 * into a table of gigabytes are cache misses, so members go in batches:
 * every home bucket of a batch is prefetched before any is read. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder.h"
#include "index.h"
#include "record.h"

typedef struct {
    unsigned char *mem; /* nbuckets * 64 bytes */
    elig_index ix;      /* views mem, so elig_idx_find works on it */
    const unsigned char **chunk;
} table;

static int table_init(table *t, uint64_t entries) {
    memset(t, 0, sizeof *t);
    uint64_t nb = elig_idx_buckets_for(entries);
    uint64_t per = UINT64_C(1) << ELIG_IDX_CHUNK_SHIFT;
    uint64_t nchunks = (nb + per - 1) / per;
    t->ix.nbuckets = nb;
    if (nchunks > ELIG_IDX_MAX_CHUNKS)
        return -1;
    t->mem = big_alloc(nb * ELIG_IDX_BUCKET);
    t->chunk = malloc(nchunks * sizeof *t->chunk);
    if (!t->mem || !t->chunk)
        return -1;
    for (uint64_t c = 0; c < nchunks; c++)
        t->chunk[c] = t->mem + c * per * ELIG_IDX_BUCKET;
    t->ix = (elig_index){.nbuckets = nb, .seed = ELIG_IDX_SEED, .chunk_shift = ELIG_IDX_CHUNK_SHIFT,
                         .nchunks = (uint32_t)nchunks, .max_probe = 1, .chunk = t->chunk};
    return 0;
}

static void table_free(table *t) {
    big_free(t->mem, t->ix.nbuckets * ELIG_IDX_BUCKET);
    free(t->chunk);
}

static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

/* Linear probing by buckets; a full bucket passed over gets the flag. */
static void insert(table *t, elig_kind kind, uint64_t key, uint64_t target) {
    uint64_t b = elig_idx_home(key, t->ix.seed, t->ix.nbuckets);
    for (uint32_t probe = 1;; probe++) {
        unsigned char *p = t->mem + b * ELIG_IDX_BUCKET;
        for (int s = 0; s < ELIG_IDX_SLOTS; s++) {
            uint64_t k = elig_idx_rd(p + 16 * s);
            if ((k & ~ELIG_IDX_FLAG) == 0) {
                put64(p + 16 * s, key | k);
                put64(p + 16 * s + 8, target);
                if (probe > t->ix.max_probe)
                    t->ix.max_probe = probe;
                t->ix.entries++;
                t->ix.per_kind[kind]++;
                return;
            }
        }
        put64(p, elig_idx_rd(p) | ELIG_IDX_FLAG);
        b = b + 1 == t->ix.nbuckets ? 0 : b + 1;
    }
}

/* Households and cards, from a walk of the committed "hh" table. */
/* The first value's bytes, read from the file at the offset computed for
 * it, must be the bytes LMDB gave: the offsets are right. */
static int offset_checks(MDB_env *env, uint64_t off, const MDB_val *v) {
    unsigned char buf[ELIG_REC_HH_HEAD];
    int fd;
    if (v->mv_size < sizeof buf || mdb_env_get_fd(env, &fd) != 0)
        return -1;
    if (pread(fd, buf, sizeof buf, (off_t)off) != (ssize_t)sizeof buf)
        return -1;
    return memcmp(buf, v->mv_data, sizeof buf) == 0 ? 0 : -1;
}

#define BATCH 32

/* Inserts a batch of entries, their home buckets prefetched first: the
 * misses of a batch overlap instead of queueing one behind the other. */
typedef struct {
    uint64_t key[BATCH], target[BATCH];
    elig_kind kind[BATCH];
    int n;
} batch;

static void flush(table *t, batch *q) {
    for (int i = 0; i < q->n; i++)
        __builtin_prefetch(elig_idx_bucket(&t->ix, elig_idx_home(q->key[i], t->ix.seed, t->ix.nbuckets)));
    for (int i = 0; i < q->n; i++)
        insert(t, q->kind[i], q->key[i], q->target[i]);
    q->n = 0;
}

static void queue(table *t, batch *q, elig_kind kind, uint64_t id, uint64_t target) {
    q->kind[q->n] = kind;
    q->key[q->n] = elig_idx_key(kind, id);
    q->target[q->n++] = target;
    if (q->n == BATCH)
        flush(t, q);
}

static int add_households(table *t, MDB_env *env, MDB_dbi hh, const char *path, char *err, size_t errlen) {
    MDB_stat ms;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_env_stat(env, &ms);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0 && (rc = mdb_cursor_open(txn, hh, &cur)) != 0)
        mdb_txn_abort(txn);
    if (rc != 0) {
        snprintf(err, errlen, "%s: index: %s", path, mdb_strerror(rc));
        return -1;
    }
    bool first = true;
    batch q = {.n = 0};
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t off = elig_idx_value_offset(v.mv_data, ms.ms_psize);
        if (first && offset_checks(env, off, &v) != 0) {
            snprintf(err, errlen, "%s: index: cannot tell where LMDB put the records (internal error)", path);
            rc = -1;
            break;
        }
        first = false;
        if (off > ELIG_IDX_OFF_MAX || v.mv_size > ELIG_IDX_LEN_MAX) {
            snprintf(err, errlen, "%s: index: a household value lies beyond what the index can address", path);
            rc = -1;
            break;
        }
        elig_rec_hh h;
        elig_rec_hh_get(v.mv_data, &h);
        uint64_t target = elig_idx_target(off, v.mv_size, false);
        queue(t, &q, ELIG_KIND_KK, h.kk, target);
        if (h.flags & ELIG_REC_HAS_KKS)
            queue(t, &q, ELIG_KIND_KKS, h.kks, target);
    }
    flush(t, &q);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == -1)
        return -1;
    if (rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "%s: index: %s", path, mdb_strerror(rc));
        return -1;
    }
    return 0;
}


/* Members: each takes its family's target, plus the deceased bit. Returns
 * how many accepted members had no family in the table (0, or a bug). */
static size_t add_members(table *t, const snap_builder *b) {
    size_t orphans = 0;
    const mem_row *m = b->mem.v;
    size_t n = b->mem.n;
    for (size_t i = 0; i < n; i += BATCH) {
        size_t end = i + BATCH < n ? i + BATCH : n;
        uint64_t home[BATCH];
        for (size_t j = i; j < end; j++) {
            home[j - i] = elig_idx_home(elig_idx_key(ELIG_KIND_KK, m[j].kk), t->ix.seed, t->ix.nbuckets);
            __builtin_prefetch(elig_idx_bucket(&t->ix, home[j - i]));
        }
        uint64_t target[BATCH];
        for (size_t j = i; j < end; j++) {
            target[j - i] = 0;
            if (!m[j].reject && !elig_idx_find(&t->ix, elig_idx_key(ELIG_KIND_KK, m[j].kk), &target[j - i]))
                orphans++;
            home[j - i] = elig_idx_home(elig_idx_key(ELIG_KIND_NIK, m[j].nik), t->ix.seed, t->ix.nbuckets);
            __builtin_prefetch(elig_idx_bucket(&t->ix, home[j - i]));
        }
        for (size_t j = i; j < end; j++)
            if (!m[j].reject)
                insert(t, ELIG_KIND_NIK, elig_idx_key(ELIG_KIND_NIK, m[j].nik),
                       target[j - i] | (m[j].status ? ELIG_IDX_DECEASED : 0));
    }
    return orphans;
}

static int store_fail(MDB_txn *txn, const char *path, int rc, char *err, size_t errlen) {
    if (txn)
        mdb_txn_abort(txn);
    snprintf(err, errlen, "%s: write index: %s", path, snap_lmdb_why(path, rc));
    return -1;
}

/* Chunks, one transaction each so that LMDB never holds more than one
 * chunk's dirty pages; then the header with the chunks' file offsets. */
static int store(table *t, MDB_env *env, const char *path, char *err, size_t errlen) {
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint64_t per = UINT64_C(1) << t->ix.chunk_shift;
    for (uint32_t c = 0; c < t->ix.nchunks; c++) {
        int rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc == 0)
            rc = mdb_dbi_open(txn, ELIG_DB_IDX, MDB_INTEGERKEY | MDB_CREATE, &dbi);
        uint64_t nb = c + 1 < t->ix.nchunks ? per : t->ix.nbuckets - (uint64_t)c * per;
        uint64_t key = (uint64_t)c + 1;
        MDB_val k = {8, &key}, v = {ELIG_IDX_PAD + nb * ELIG_IDX_BUCKET, NULL};
        if (rc == 0 && (rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE | MDB_APPEND)) == 0) {
            memset(v.mv_data, 0, ELIG_IDX_PAD);
            memcpy((unsigned char *)v.mv_data + ELIG_IDX_PAD, t->chunk[c], nb * ELIG_IDX_BUCKET);
        }
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        txn = NULL;
        if (rc != 0)
            return store_fail(NULL, path, rc, err, errlen);
    }
    size_t hlen = ELIG_IDX_HEAD + 8 * (size_t)t->ix.nchunks;
    unsigned char *head = malloc(hlen);
    MDB_stat ms;
    int rc = head ? mdb_env_stat(env, &ms) : ENOMEM;
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, ELIG_DB_IDX, MDB_INTEGERKEY, &dbi);
    for (uint32_t c = 0; rc == 0 && c < t->ix.nchunks; c++) {
        uint64_t key = (uint64_t)c + 1, off;
        MDB_val k = {8, &key}, v;
        if ((rc = mdb_get(txn, dbi, &k, &v)) == 0) {
            off = elig_idx_value_offset(v.mv_data, ms.ms_psize);
            memcpy(head + ELIG_IDX_HEAD + 8 * c, &off, 8);
        }
    }
    if (rc == 0) {
        elig_idx_head h = {.magic = ELIG_IDX_MAGIC, .version = ELIG_IDX_VERSION, .nbuckets = t->ix.nbuckets,
                           .entries = t->ix.entries, .chunk_shift = t->ix.chunk_shift, .nchunks = t->ix.nchunks,
                           .max_probe = t->ix.max_probe, .pad = ELIG_IDX_PAD, .seed = t->ix.seed};
        memcpy(h.per_kind, t->ix.per_kind, sizeof h.per_kind);
        elig_idx_head_put(head, &h);
        uint64_t k0 = 0;
        MDB_val k = {8, &k0}, v = {hlen, head};
        rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    free(head);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    return rc == 0 ? 0 : store_fail(txn, path, rc, err, errlen);
}

int snap_write_index(const snap_builder *b, MDB_env *env, const char *path, snap_index_stats *st, char *err,
                     size_t errlen) {
    MDB_txn *txn;
    MDB_dbi hh, nik, kks;
    MDB_stat sh, sn, sk;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &hh) || mdb_dbi_open(txn, ELIG_DB_NIK, MDB_INTEGERKEY, &nik) ||
             mdb_dbi_open(txn, ELIG_DB_KKS, MDB_INTEGERKEY, &kks) || mdb_stat(txn, hh, &sh) ||
             mdb_stat(txn, nik, &sn) || mdb_stat(txn, kks, &sk);
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: index: cannot read the tables back", path);
        return -1;
    }
    table t;
    if (table_init(&t, (uint64_t)sh.ms_entries + sn.ms_entries + sk.ms_entries) != 0) {
        table_free(&t);
        snprintf(err, errlen, "%s: index: out of memory", path);
        return -1;
    }
    rc = add_households(&t, env, hh, path, err, errlen);
    if (rc == 0) {
        size_t orphans = add_members(&t, b);
        if (orphans || t.ix.per_kind[ELIG_KIND_KK] != sh.ms_entries || t.ix.per_kind[ELIG_KIND_NIK] != sn.ms_entries ||
            t.ix.per_kind[ELIG_KIND_KKS] != sk.ms_entries) {
            snprintf(err, errlen, "%s: index: holds other ids than the tables (internal error)", path);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = store(&t, env, path, err, errlen);
    if (st) {
        st->nbuckets = t.ix.nbuckets;
        st->entries = t.ix.entries;
        st->max_probe = t.ix.max_probe;
    }
    table_free(&t);
    return rc;
}
