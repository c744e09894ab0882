/* snap.c — opening a snapshot and reading its records.
 *
 * A snapshot is one immutable LMDB file. It is mapped read-only with no lock
 * file (MDB_NOLOCK: nobody ever writes it, so readers need no slots) and no
 * read-ahead (MDB_NORDAHEAD: lookups are random; read-ahead would only evict
 * hot pages). Opening reads the metadata and nothing else, so start-up time
 * does not grow with the snapshot. */
#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "alloc.h"
#include "internal.h"
#include "record.h"

struct elig_snap {
    MDB_env *env;
    MDB_dbi meta_db, hh_db, nik_db, kks_db;
    elig_meta meta;
};

struct elig_reader {
    elig_snap *snap;
    MDB_txn *txn;
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool copy_str(char *dst, size_t cap, const MDB_val *v) {
    if (v->mv_size == 0 || v->mv_size >= cap)
        return false;
    memcpy(dst, v->mv_data, v->mv_size);
    dst[v->mv_size] = '\0';
    return true;
}

static bool parse_u64(const MDB_val *v, uint64_t *out) {
    const char *s = v->mv_data;
    if (v->mv_size == 0 || v->mv_size > 19)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < v->mv_size; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(s[i] - '0');
    }
    *out = n;
    return true;
}

/* One metadata key into its field; false if the value is malformed. Unknown
 * keys are ignored so a later schema may add some. */
static bool meta_field(elig_meta *m, const MDB_val *k, const MDB_val *v) {
    uint64_t n;
#define KEY_IS(name) (k->mv_size == sizeof(name) - 1 && memcmp(k->mv_data, name, k->mv_size) == 0)
    if (KEY_IS(ELIG_META_SCHEMA)) {
        if (!parse_u64(v, &n) || n > UINT32_MAX)
            return false;
        m->schema_version = (uint32_t)n;
        return true;
    }
    if (KEY_IS(ELIG_META_ID))
        return copy_str(m->id, sizeof m->id, v);
    if (KEY_IS(ELIG_META_CREATED))
        return copy_str(m->created, sizeof m->created, v);
    if (KEY_IS(ELIG_META_HOUSEHOLDS))
        return parse_u64(v, &m->households);
    if (KEY_IS(ELIG_META_MEMBERS))
        return parse_u64(v, &m->members);
    if (KEY_IS(ELIG_META_ENROLLMENTS))
        return parse_u64(v, &m->enrollments);
    if (KEY_IS(ELIG_META_SHA_HOUSEHOLDS))
        return copy_str(m->sha256_households, sizeof m->sha256_households, v);
    if (KEY_IS(ELIG_META_SHA_MEMBERS))
        return copy_str(m->sha256_members, sizeof m->sha256_members, v);
    if (KEY_IS(ELIG_META_SHA_ENROLLMENTS))
        return copy_str(m->sha256_enrollments, sizeof m->sha256_enrollments, v);
#undef KEY_IS
    return true;
}

static int read_meta(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, s->meta_db, &cur) != 0)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read metadata", path);
    s->meta.schema_version = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!meta_field(&s->meta, &k, &v)) {
            mdb_cursor_close(cur);
            return fail(err, errlen, ELIG_ECORRUPT, "%s: metadata key '%.*s' is malformed", path,
                        (int)k.mv_size, (const char *)k.mv_data);
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read metadata: %s", path, mdb_strerror(rc));
    if (s->meta.schema_version != ELIG_SCHEMA_VERSION)
        return fail(err, errlen, ELIG_ESCHEMA, "%s: unknown snapshot schema version %u (this build reads %d)",
                    path, s->meta.schema_version, ELIG_SCHEMA_VERSION);
    if (s->meta.id[0] == '\0' || s->meta.created[0] == '\0')
        return fail(err, errlen, ELIG_ECORRUPT, "%s: metadata lacks the snapshot id or creation time", path);
    return 0;
}

/* The row counts in the metadata must match the tables: a cheap check (one
 * B-tree header read each) that catches a truncated or mixed-up file. */
static int check_counts(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    MDB_stat hh, nik;
    if (mdb_stat(txn, s->hh_db, &hh) != 0 || mdb_stat(txn, s->nik_db, &nik) != 0)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read table statistics", path);
    if (hh.ms_entries != s->meta.households || nik.ms_entries != s->meta.members)
        return fail(err, errlen, ELIG_ECORRUPT,
                    "%s: metadata counts (%llu households, %llu members) do not match the tables "
                    "(%zu, %zu)",
                    path, (unsigned long long)s->meta.households, (unsigned long long)s->meta.members,
                    hh.ms_entries, nik.ms_entries);
    return 0;
}

static int open_dbis(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    int rc;
    if ((rc = mdb_dbi_open(txn, ELIG_DB_META, 0, &s->meta_db)) != 0 ||
        (rc = mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &s->hh_db)) != 0 ||
        (rc = mdb_dbi_open(txn, ELIG_DB_NIK, MDB_INTEGERKEY, &s->nik_db)) != 0 ||
        (rc = mdb_dbi_open(txn, ELIG_DB_KKS, MDB_INTEGERKEY, &s->kks_db)) != 0)
        return fail(err, errlen, ELIG_ECORRUPT, "%s: not an eligd snapshot (%s)", path, mdb_strerror(rc));
    return 0;
}

/* LMDB reads its meta pages with pread but everything else through the map:
 * a page past the end of a truncated file would be a SIGBUS at the first
 * lookup. The meta page says how many pages there are; the file must hold
 * them all. */
static int check_size(MDB_env *env, const struct stat *st, const char *path, char *err, size_t errlen) {
    MDB_envinfo info;
    MDB_stat ms;
    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &ms) != 0)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read the LMDB header", path);
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    if ((uint64_t)st->st_size < need)
        return fail(err, errlen, ELIG_ECORRUPT, "%s: truncated: %llu bytes, the snapshot needs %llu", path,
                    (unsigned long long)st->st_size, (unsigned long long)need);
    return 0;
}

int elig_snap_open(const char *path, elig_snap **out, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, errlen, errno == ENOENT ? ELIG_ENOENT : ELIG_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, errlen, ELIG_EINVAL, "%s: not a regular file", path);
    if (st.st_size == 0)
        return fail(err, errlen, ELIG_ECORRUPT, "%s: empty file, not a snapshot", path);

    elig_snap *s = elig_calloc(1, sizeof *s);
    if (!s)
        return fail(err, errlen, ELIG_ENOMEM, "%s: out of memory", path);
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, ELIG_DB_MAX);
    if (rc == 0)
        rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NORDAHEAD | MDB_NOTLS,
                          0444);
    if (rc != 0) {
        rc = fail(err, errlen, ELIG_ECORRUPT, "%s: cannot open as LMDB: %s", path, mdb_strerror(rc));
        goto bad;
    }
    if ((rc = check_size(s->env, &st, path, err, errlen)) != 0)
        goto bad;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
        rc = fail(err, errlen, ELIG_EIO, "%s: %s", path, mdb_strerror(rc));
        goto bad;
    }
    if ((rc = open_dbis(s, txn, path, err, errlen)) != 0 || (rc = read_meta(s, txn, path, err, errlen)) != 0 ||
        (rc = check_counts(s, txn, path, err, errlen)) != 0) {
        mdb_txn_abort(txn);
        goto bad;
    }
    /* Committing a read transaction keeps the dbi handles for later ones. */
    if ((rc = mdb_txn_commit(txn)) != 0) {
        rc = fail(err, errlen, ELIG_EIO, "%s: %s", path, mdb_strerror(rc));
        goto bad;
    }
    *out = s;
    return 0;
bad:
    mdb_env_close(s->env); /* safe on a NULL env: mdb_env_close checks */
    elig_free(s);
    return rc;
}

void elig_snap_close(elig_snap *snap) {
    if (!snap)
        return;
    mdb_env_close(snap->env);
    elig_free(snap);
}

const elig_meta *elig_snap_meta(const elig_snap *snap) { return &snap->meta; }

void elig_snap_warm(const elig_snap *snap) {
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(snap->env, &info) != 0 || mdb_env_stat(snap->env, &st) != 0 || !info.me_mapaddr)
        return;
    size_t len = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    const volatile unsigned char *p = info.me_mapaddr;
    madvise(info.me_mapaddr, len, MADV_WILLNEED);
    unsigned sum = 0;
    for (size_t off = 0; off < len; off += st.ms_psize)
        sum += p[off];
    (void)sum;
}

int elig_reader_open(elig_snap *snap, elig_reader **out) {
    elig_reader *r = elig_malloc(sizeof *r);
    if (!r)
        return ELIG_ENOMEM;
    r->snap = snap;
    if (mdb_txn_begin(snap->env, NULL, MDB_RDONLY, &r->txn) != 0) {
        elig_free(r);
        return ELIG_EIO;
    }
    *out = r;
    return 0;
}

void elig_reader_close(elig_reader *r) {
    if (!r)
        return;
    mdb_txn_abort(r->txn);
    elig_free(r);
}

elig_snap *elig_reader_snap(const elig_reader *r) { return r->snap; }

/* One integer-key lookup: 1 found, 0 absent, ELIG_EIO. */
static int get_u64(const elig_reader *r, MDB_dbi dbi, uint64_t key, MDB_val *val) {
    MDB_val k = {sizeof key, &key};
    int rc = mdb_get(r->txn, dbi, &k, val);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : ELIG_EIO;
}

int elig_resolve_(elig_reader *r, elig_kind kind, uint64_t id, uint64_t *kk, int *member_status) {
    MDB_val v;
    int rc;
    *member_status = ELIG_MEMBER_ALIVE;
    switch (kind) {
    case ELIG_KIND_KK:
        *kk = id;
        return 1;
    case ELIG_KIND_NIK:
        if ((rc = get_u64(r, r->snap->nik_db, id, &v)) != 1)
            return rc;
        if (v.mv_size != ELIG_REC_MEMBER)
            return ELIG_ECORRUPT;
        *kk = elig_rd64(v.mv_data);
        *member_status = ((const unsigned char *)v.mv_data)[8];
        return 1;
    case ELIG_KIND_KKS:
        if ((rc = get_u64(r, r->snap->kks_db, id, &v)) != 1)
            return rc;
        if (v.mv_size != 8)
            return ELIG_ECORRUPT;
        *kk = elig_rd64(v.mv_data);
        return 1;
    default:
        return ELIG_EINVAL;
    }
}

int elig_household_load_(elig_reader *r, uint64_t kk, elig_household *h) {
    MDB_val v;
    int rc = get_u64(r, r->snap->hh_db, kk, &v);
    if (rc != 1)
        return rc;
    const unsigned char *p = v.mv_data;
    if (elig_rec_hh_check(p, v.mv_size) != 0)
        return ELIG_ECORRUPT;
    elig_rec_hh rec;
    elig_rec_hh_get(p, &rec);
    h->kk = kk;
    h->region = rec.region;
    h->status = (elig_hh_status)rec.status;
    h->has_kks = (rec.flags & ELIG_REC_HAS_KKS) != 0;
    h->kks = rec.kks;
    h->members = rec.members;
    h->n_enrollments = rec.n_enrollments;
    h->enr_ = p + ELIG_REC_HH_HEAD;
    h->enr_len_ = v.mv_size - ELIG_REC_HH_HEAD;
    return 1;
}

int elig_household_get(elig_reader *r, elig_kind kind, uint64_t id, elig_household *h) {
    uint64_t kk;
    int member_status;
    int rc = elig_resolve_(r, kind, id, &kk, &member_status);
    if (rc != 1)
        return rc;
    rc = elig_household_load_(r, kk, h);
    /* A member or card whose family is missing means a damaged snapshot:
     * the builder never writes one. */
    return rc == 0 && kind != ELIG_KIND_KK ? ELIG_ECORRUPT : rc;
}

bool elig_household_next(const elig_household *h, size_t *pos, elig_enrollment *e) {
    if (*pos >= h->enr_len_)
        return false;
    *pos += elig_rec_enr_get(h->enr_ + *pos, e);
    return true;
}
