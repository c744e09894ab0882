/* write.c — the snapshot file (layout: lib/record.h, docs/SNAPSHOT.md).
 *
 * Every table is written in key order with MDB_APPEND, so LMDB fills each
 * leaf page and never splits one: writing costs about one memcpy per
 * record. The environment is MDB_NOSYNC (one explicit sync at the end is
 * enough: until the rename, nobody looks at this file) and MDB_NOLOCK (one
 * writer, no readers). No MDB_WRITEMAP: with it the file would grow to the
 * whole map size. Transactions are committed every COMMIT_EVERY puts so
 * that dirty pages never pile up in memory. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "builder.h"
#include "content.h"
#include "elig.h"
#include "record.h"
#include "seal.h"

#define COMMIT_EVERY 262144

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    size_t puts;
    const char *path;
    char *err;
    size_t errlen;
} writer;

/* LMDB reports a short write (a full disk, a file size limit) as EIO:
 * name the likely cause so the operator knows what to fix. */
const char *snap_lmdb_why(const char *path, int rc) {
    if (rc == MDB_MAP_FULL)
        return "snapshot larger than its map size (internal estimate too small)";
    if (rc == EIO || rc == ENOSPC || rc == EFBIG) {
        struct statvfs fs;
        if (statvfs(path, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < (1u << 20))
            return "No space left on device (disk full)";
        struct rlimit lim;
        struct stat st;
        if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && stat(path, &st) == 0 &&
            (uint64_t)st.st_size + (1u << 20) >= (uint64_t)lim.rlim_cur)
            return "File too large (file size limit reached)";
    }
    return mdb_strerror(rc);
}

static int fail(writer *w, const char *what, int rc) {
    snprintf(w->err, w->errlen, "%s: %s: %s", w->path, what, snap_lmdb_why(w->path, rc));
    return -1;
}

/* Opens table name for appending in a fresh transaction. */
static int begin(writer *w, const char *name, unsigned flags) {
    int rc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
    if (rc != 0)
        return fail(w, "begin transaction", rc);
    if ((rc = mdb_dbi_open(w->txn, name, flags | MDB_CREATE, &w->dbi)) != 0 ||
        (rc = mdb_cursor_open(w->txn, w->dbi, &w->cur)) != 0) {
        mdb_txn_abort(w->txn);
        w->txn = NULL;
        return fail(w, name, rc);
    }
    return 0;
}

static int commit(writer *w) {
    mdb_cursor_close(w->cur);
    int rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    return rc == 0 ? 0 : fail(w, "write", rc);
}

/* Appends one record, committing every COMMIT_EVERY puts. */
static int put(writer *w, const char *name, unsigned flags, MDB_val *k, MDB_val *v) {
    int rc = mdb_cursor_put(w->cur, k, v, MDB_APPEND);
    if (rc != 0) {
        mdb_txn_abort(w->txn);
        w->txn = NULL;
        return fail(w, "write", rc);
    }
    if (++w->puts % COMMIT_EVERY == 0 && (commit(w) != 0 || begin(w, name, flags) != 0))
        return -1;
    return 0;
}

/* The household value: head, then its standing enrollments (already in
 * input order, see resolve.c) from *ei on. */
static size_t household_value(const snap_builder *b, const hh_row *h, size_t *ei, unsigned char *buf) {
    const enr_row *e = b->enr.v;
    size_t n = b->enr.n, i = *ei, off = ELIG_REC_HH_HEAD;
    while (i < n && e[i].kk < h->kk)
        i++;
    uint32_t count = 0;
    for (; i < n && e[i].kk == h->kk; i++) {
        if (e[i].reject)
            continue;
        uint32_t rank = (uint32_t)(e[i].key2 >> ENR_PROG_SHIFT);
        elig_enrollment en = {
            .program = b->prog.name[rank],
            .program_len = b->prog.len[rank],
            .start = (elig_month)(e[i].key2 & ENR_START_MASK),
            .end = e[i].end,
            .amount = e[i].amount,
            .status = (elig_enr_status)e[i].status,
        };
        off += elig_rec_enr_put(buf + off, &en);
        count++;
    }
    *ei = i;
    elig_rec_hh rec = {
        .kk = h->kk,
        .region = h->region,
        .kks = h->has_kks ? h->kks : 0,
        .members = h->members,
        .n_enrollments = count,
        .status = h->status,
        .flags = h->has_kks ? ELIG_REC_HAS_KKS : 0,
    };
    elig_rec_hh_put(buf, &rec);
    return off;
}

/* Largest enrollment run of one kk: sizes the value buffer. */
static size_t max_value(const snap_builder *b) {
    size_t best = 0;
    for (size_t i = 0; i < b->enr.n;) {
        size_t j = i;
        while (j < b->enr.n && b->enr.v[j].kk == b->enr.v[i].kk)
            j++;
        if (j - i > best)
            best = j - i;
        i = j;
    }
    return ELIG_REC_HH_HEAD + best * (ELIG_REC_ENR_HEAD + ELIG_WIRE_PROGRAM_MAX);
}

static int write_households(writer *w, const snap_builder *b) {
    unsigned char *buf = malloc(max_value(b));
    if (!buf) {
        snprintf(w->err, w->errlen, "out of memory");
        return -1;
    }
    int rc = begin(w, ELIG_DB_HH, MDB_INTEGERKEY);
    size_t ei = 0;
    for (size_t i = 0; rc == 0 && i < b->hh.n; i++) {
        const hh_row *h = &b->hh.v[i];
        if (h->reject)
            continue;
        uint64_t key = h->kk;
        MDB_val k = {sizeof key, &key}, v = {household_value(b, h, &ei, buf), buf};
        rc = put(w, ELIG_DB_HH, MDB_INTEGERKEY, &k, &v);
    }
    free(buf);
    return rc == 0 ? commit(w) : -1;
}

static int write_members(writer *w, const snap_builder *b) {
    int rc = begin(w, ELIG_DB_NIK, MDB_INTEGERKEY);
    for (size_t i = 0; rc == 0 && i < b->mem.n; i++) {
        const mem_row *m = &b->mem.v[i];
        if (m->reject)
            continue;
        uint64_t key = m->nik;
        unsigned char val[ELIG_REC_MEMBER];
        elig_rec_member_put(val, m->kk, (uint8_t)m->status);
        MDB_val k = {sizeof key, &key}, v = {sizeof val, val};
        rc = put(w, ELIG_DB_NIK, MDB_INTEGERKEY, &k, &v);
    }
    return rc == 0 ? commit(w) : -1;
}

static int write_cards(writer *w, const snap_builder *b) {
    int rc = begin(w, ELIG_DB_KKS, MDB_INTEGERKEY);
    for (size_t i = 0; rc == 0 && i < b->kks.n; i++) {
        const hh_row *h = &b->hh.v[b->kks.v[i].idx];
        if (h->reject)
            continue;
        uint64_t key = h->kks, kk = h->kk;
        MDB_val k = {sizeof key, &key}, v = {sizeof kk, &kk};
        rc = put(w, ELIG_DB_KKS, MDB_INTEGERKEY, &k, &v);
    }
    return rc == 0 ? commit(w) : -1;
}

static int put_meta(writer *w, const char *key, const char *val) {
    MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
    int rc = mdb_put(w->txn, w->dbi, &k, &v, 0);
    return rc == 0 ? 0 : fail(w, "write metadata", rc);
}

static int write_meta(writer *w, const snap_meta_out *m, const char *content) {
    char hh[24], mem[24], enr[24], schema[12];
    snprintf(schema, sizeof schema, "%d", ELIG_SCHEMA_VERSION);
    snprintf(hh, sizeof hh, "%llu", (unsigned long long)m->households);
    snprintf(mem, sizeof mem, "%llu", (unsigned long long)m->members);
    snprintf(enr, sizeof enr, "%llu", (unsigned long long)m->enrollments);
    if (begin(w, ELIG_DB_META, 0) != 0)
        return -1;
    mdb_cursor_close(w->cur);
    w->cur = NULL;
    int rc = put_meta(w, ELIG_META_SCHEMA, schema) || put_meta(w, ELIG_META_ID, m->id) ||
             put_meta(w, ELIG_META_CREATED, m->created) || put_meta(w, ELIG_META_HOUSEHOLDS, hh) ||
             put_meta(w, ELIG_META_MEMBERS, mem) || put_meta(w, ELIG_META_ENROLLMENTS, enr) ||
             put_meta(w, ELIG_META_SHA_HOUSEHOLDS, m->sha[SNAP_HOUSEHOLDS]) ||
             put_meta(w, ELIG_META_SHA_MEMBERS, m->sha[SNAP_MEMBERS]) ||
             put_meta(w, ELIG_META_SHA_ENROLLMENTS, m->sha[SNAP_ENROLLMENTS]) ||
             put_meta(w, ELIG_META_CONTENT, content);
    if (rc != 0) {
        mdb_txn_abort(w->txn);
        w->txn = NULL;
        return -1;
    }
    rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    return rc == 0 ? 0 : fail(w, "write metadata", rc);
}

/* content_sha256 of the committed tables (lib/content.c), as hex. */
static int content_hash(writer *w, char out[65]) {
    MDB_txn *txn;
    MDB_dbi hh, nik;
    unsigned char d[32];
    char why[200] = "";
    int rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return fail(w, "content hash", rc);
    rc = mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &hh) || mdb_dbi_open(txn, ELIG_DB_NIK, MDB_INTEGERKEY, &nik)
             ? ELIG_EIO
             : elig_content_sha256_(txn, hh, nik, d, why, sizeof why);
    mdb_txn_abort(txn);
    if (rc != 0) {
        snprintf(w->err, w->errlen, "%s: content hash: %s", w->path, why[0] ? why : "cannot read the tables");
        return -1;
    }
    elig_hex32_(d, out);
    return 0;
}

/* Map size: the records are never larger than the CSV text that holds
 * them (an id is 8 bytes instead of 16 digits), so twice the input plus
 * room for B-tree overhead is generous. It is address space, not disk:
 * the file only grows to what is written. */
static size_t map_size(const snap_builder *b) {
    uint64_t total = 0;
    for (int f = 0; f < SNAP_NFILES; f++)
        total += b->in[f].len;
    uint64_t size = 2 * total + (64u << 20);
    return (size_t)((size + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1));
}

/* Creates the new file ourselves, never through a symlink and never over
 * an existing file (O_EXCL | O_NOFOLLOW), with exactly `mode` whatever the
 * umask (fchmod): the snapshot holds every NIK with its family. LMDB then
 * opens that very file through /proc/self/fd. */
static int create_file(const char *path, unsigned mode, char *err, size_t errlen) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0 || fchmod(fd, (mode_t)mode) != 0) {
        snprintf(err, errlen, "%s: cannot create snapshot: %s", path,
                 errno == EEXIST || errno == ELOOP ? "a file or symbolic link is in the way" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int snap_write_lmdb(snap_builder *b, const char *path, unsigned mode, const snap_meta_out *m, char *err,
                    size_t errlen) {
    writer w = {.path = path, .err = err, .errlen = errlen};
    int fd = create_file(path, mode, err, errlen);
    if (fd < 0)
        return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int rc = mdb_env_create(&w.env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(w.env, ELIG_DB_MAX);
    if (rc == 0)
        rc = mdb_env_set_mapsize(w.env, map_size(b));
    if (rc == 0)
        rc = mdb_env_open(w.env, access(proc, W_OK) == 0 ? proc : path,
                          MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC | MDB_NOTLS, (mode_t)mode);
    if (rc != 0) {
        fail(&w, "cannot create snapshot", rc);
        mdb_env_close(w.env);
        close(fd);
        return -1;
    }
    rc = write_households(&w, b) || write_members(&w, b) || write_cards(&w, b);
    /* From here on only the members are needed (by the index): give the
     * other rows back, gigabytes in a national build. */
    VEC_RELEASE(b->hh);
    VEC_RELEASE(b->enr);
    VEC_RELEASE(b->kks);
    if (rc == 0) {
        double t = snap_now();
        snap_index_stats st;
        rc = snap_write_index(b, w.env, path, &st, err, errlen);
        if (getenv("ELIG_SNAPSHOT_TIMING"))
            fprintf(stderr, "elig-snapshot: (index: %llu ids in %llu buckets, longest probe %u, %.2f s)\n",
                    (unsigned long long)st.entries, (unsigned long long)st.nbuckets, st.max_probe,
                    snap_now() - t);
    }
    char content[65];
    rc = rc || content_hash(&w, content) || write_meta(&w, m, content);
    if (getenv("ELIG_SNAPSHOT_TIMING"))
        fprintf(stderr, "elig-snapshot: (tables written, sealing and syncing)\n");
    /* MDB_NOSYNC: nothing is synced yet; the seal reads the file back,
     * appends the trailer and syncs everything once */
    mdb_env_close(w.env);
    close(fd);
    if (rc == 0 && snap_seal(path, err, errlen) != 0)
        rc = -1;
    return rc ? -1 : 0;
}
