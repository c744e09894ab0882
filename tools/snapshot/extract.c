/* extract.c — `elig-snapshot extract` (SPEC 10): a snapshot of the same
 * schema holding only the families whose region starts with one of the
 * given prefixes, with their members and cards; its own id, index, content
 * hash and trailer; metadata naming the source and the prefixes.
 *
 * The source's tables are walked in key order and the chosen records
 * copied byte for byte, appended in the same order (MDB_APPEND): the
 * household values are the source's, so the extract answers exactly as the
 * source does for its families. Members are kept by a binary search of
 * their kk among the chosen families (sorted by the walk). Published like
 * a build: temp file created O_EXCL|O_NOFOLLOW with the mode, sealed,
 * synced, renamed. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "content.h"
#include "extract.h"
#include "record.h"
#include "seal.h"

#define COMMIT_EVERY 262144

static int say(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    size_t puts;
    const char *name;
} out_table;

static int out_begin(out_table *o, const char *name) {
    o->name = name;
    int rc = mdb_txn_begin(o->env, NULL, 0, &o->txn);
    if (rc == 0)
        rc = mdb_dbi_open(o->txn, name, (strcmp(name, ELIG_DB_META) ? MDB_INTEGERKEY : 0) | MDB_CREATE, &o->dbi);
    return rc;
}

static int out_put(out_table *o, MDB_val *k, MDB_val *v, unsigned flags) {
    int rc = mdb_put(o->txn, o->dbi, k, v, flags);
    if (rc == 0 && ++o->puts % COMMIT_EVERY == 0) {
        rc = mdb_txn_commit(o->txn);
        o->txn = NULL;
        if (rc == 0)
            rc = out_begin(o, o->name);
    }
    return rc;
}

static int out_commit(out_table *o) {
    int rc = mdb_txn_commit(o->txn);
    o->txn = NULL;
    return rc;
}

/* Does the 10-digit region start with one of the prefixes? */
static bool chosen(uint64_t region, const snap_extract_opts *x) {
    char r[11];
    elig_format_region(region, r);
    for (int i = 0; i < x->nregions; i++)
        if (strncmp(r, x->regions[i], strlen(x->regions[i])) == 0)
            return true;
    return false;
}

static bool has_kk(const uint64_t *kk, size_t n, uint64_t want) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kk[mid] < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && kk[lo] == want;
}

typedef struct {
    uint64_t *kk;
    size_t n_hh, cap_hh;
    snap_builder b; /* only b.mem: the members, for snap_write_index */
    uint64_t n_enr, n_kks;
} picked;

/* Copies the chosen households, then their members and cards. */
static int copy_tables(MDB_txn *src, MDB_dbi shh, MDB_dbi snik, MDB_dbi skks, MDB_env *env,
                       const snap_extract_opts *x, picked *p, char *err, size_t errlen) {
    MDB_cursor *cur;
    MDB_val k, v;
    out_table o = {.env = env};
    int rc = out_begin(&o, ELIG_DB_HH);
    if (rc == 0)
        rc = mdb_cursor_open(src, shh, &cur);
    for (int g = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : rc; rc == 0 && g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (elig_rec_hh_check(v.mv_data, v.mv_size) != 0)
            return say(err, errlen, "%s: a household record is malformed (run elig-snapshot verify)", x->source);
        elig_rec_hh h;
        elig_rec_hh_get(v.mv_data, &h);
        if (!chosen(h.region, x))
            continue;
        if (p->n_hh == p->cap_hh) {
            size_t cap = p->cap_hh ? 2 * p->cap_hh : 4096;
            uint64_t *kk = realloc(p->kk, cap * sizeof *kk);
            if (!kk)
                return say(err, errlen, "out of memory");
            p->kk = kk, p->cap_hh = cap;
        }
        p->kk[p->n_hh++] = h.kk;
        p->n_enr += h.n_enrollments;
        rc = out_put(&o, &k, &v, MDB_APPEND);
    }
    if (rc == 0)
        mdb_cursor_close(cur), rc = out_commit(&o);
    if (rc == 0)
        rc = out_begin(&o, ELIG_DB_NIK);
    if (rc == 0)
        rc = mdb_cursor_open(src, snik, &cur);
    for (int g = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : rc; rc == 0 && g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size != ELIG_REC_MEMBER || k.mv_size != 8)
            return say(err, errlen, "%s: a member record is malformed (run elig-snapshot verify)", x->source);
        uint64_t kk = elig_rd64(v.mv_data);
        if (!has_kk(p->kk, p->n_hh, kk))
            continue;
        mem_row *m = VEC_PUSH_SLOT(p->b.mem);
        if (!m)
            return say(err, errlen, "out of memory");
        *m = (mem_row){.nik = elig_rd64(k.mv_data), .kk = kk, .status = ((const unsigned char *)v.mv_data)[8] & 1};
        rc = out_put(&o, &k, &v, MDB_APPEND);
    }
    if (rc == 0)
        mdb_cursor_close(cur), rc = out_commit(&o);
    if (rc == 0)
        rc = out_begin(&o, ELIG_DB_KKS);
    if (rc == 0)
        rc = mdb_cursor_open(src, skks, &cur);
    for (int g = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : rc; rc == 0 && g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size != 8 || !has_kk(p->kk, p->n_hh, elig_rd64(v.mv_data)))
            continue;
        p->n_kks++;
        rc = out_put(&o, &k, &v, MDB_APPEND);
    }
    if (rc == 0)
        mdb_cursor_close(cur), rc = out_commit(&o);
    if (rc != 0) {
        if (o.txn)
            mdb_txn_abort(o.txn);
        return say(err, errlen, "%s: cannot write: %s", x->out, snap_lmdb_why(x->out, rc));
    }
    return 0;
}

static int put_meta(out_table *o, const char *key, const char *val) {
    MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
    return mdb_put(o->txn, o->dbi, &k, &v, 0);
}

/* Metadata: the extract's own id, time, counts and content hash; the
 * source's input digests (the extract came from those files); the source's
 * id and content hash and the prefixes. */
static int write_meta(MDB_env *env, const elig_meta *src, const snap_extract_opts *x, const picked *p,
                      const char *id, const char *created, char *err, size_t errlen) {
    MDB_txn *txn;
    MDB_dbi hh, nik;
    unsigned char d[32];
    char content[65], why[200] = "", schema[12], n1[24], n2[24], n3[24], regions[256];
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &hh) || mdb_dbi_open(txn, ELIG_DB_NIK, MDB_INTEGERKEY, &nik)
                 ? ELIG_EIO
                 : elig_content_sha256_(txn, hh, nik, d, why, sizeof why);
        mdb_txn_abort(txn);
    }
    if (rc != 0)
        return say(err, errlen, "%s: content hash: %s", x->out, why);
    elig_hex32_(d, content);
    size_t at = 0;
    regions[0] = '\0';
    for (int i = 0; i < x->nregions; i++)
        at += (size_t)snprintf(regions + at, sizeof regions - at, "%s%s", i ? "," : "", x->regions[i]);
    snprintf(schema, sizeof schema, "%d", ELIG_SCHEMA_VERSION);
    snprintf(n1, sizeof n1, "%zu", p->n_hh);
    snprintf(n2, sizeof n2, "%zu", p->b.mem.n);
    snprintf(n3, sizeof n3, "%llu", (unsigned long long)p->n_enr);
    out_table o = {.env = env};
    rc = out_begin(&o, ELIG_DB_META);
    if (rc == 0)
        rc = put_meta(&o, ELIG_META_SCHEMA, schema) || put_meta(&o, ELIG_META_ID, id) ||
             put_meta(&o, ELIG_META_CREATED, created) || put_meta(&o, ELIG_META_HOUSEHOLDS, n1) ||
             put_meta(&o, ELIG_META_MEMBERS, n2) || put_meta(&o, ELIG_META_ENROLLMENTS, n3) ||
             put_meta(&o, ELIG_META_SHA_HOUSEHOLDS, src->sha256_households) ||
             put_meta(&o, ELIG_META_SHA_MEMBERS, src->sha256_members) ||
             put_meta(&o, ELIG_META_SHA_ENROLLMENTS, src->sha256_enrollments) ||
             put_meta(&o, ELIG_META_CONTENT, content) || put_meta(&o, ELIG_META_EXTRACT_OF, src->id) ||
             put_meta(&o, ELIG_META_EXTRACT_SOURCE, src->content_sha256) ||
             put_meta(&o, ELIG_META_EXTRACT_REGIONS, regions);
    if (rc == 0)
        rc = out_commit(&o);
    else if (o.txn)
        mdb_txn_abort(o.txn);
    return rc == 0 ? 0 : say(err, errlen, "%s: cannot write the metadata", x->out);
}

/* Default id: "x" + the source's creation-free id digest: time + 8 hex
 * digits of SHA-256 over the source content hash and the prefixes. */
static void default_id(const elig_meta *src, const snap_extract_opts *x, const struct tm *tm, char *id, size_t cap) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int n = 0;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, src->content_sha256, strlen(src->content_sha256));
    for (int i = 0; i < x->nregions; i++)
        EVP_DigestUpdate(c, x->regions[i], strlen(x->regions[i]) + 1);
    EVP_DigestFinal_ex(c, d, &n);
    EVP_MD_CTX_free(c);
    size_t len = strftime(id, cap, "x%Y%m%dT%H%M%SZ-", tm);
    snprintf(id + len, cap - len, "%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
}

int snap_extract(const snap_extract_opts *x, snap_extract_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    elig_snap *s;
    if (elig_snap_open(x->source, &s, err, errlen) != 0)
        return -1;
    elig_meta src = *elig_snap_meta(s);
    elig_snap_close(s);
    time_t now = x->created ? x->created : time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char created[32];
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (x->id)
        snprintf(res->id, sizeof res->id, "%s", x->id);
    else
        default_id(&src, x, &tm, res->id, sizeof res->id);

    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", x->out, (long)getpid()) >= sizeof tmp)
        return say(err, errlen, "%s: path too long", x->out);
    unlink(tmp);
    unsigned mode = x->mode ? x->mode : SNAP_DEFAULT_MODE;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0 || fchmod(fd, (mode_t)mode) != 0) {
        if (fd >= 0)
            close(fd), unlink(tmp);
        return say(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
    }
    MDB_env *in = NULL, *out = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi shh, snik, skks;
    struct stat st;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int rc = stat(x->source, &st) == 0 ? 0 : errno;
    if (rc == 0)
        rc = mdb_env_create(&in) || mdb_env_set_maxdbs(in, ELIG_DB_MAX) ||
             mdb_env_open(in, x->source, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444) ||
             mdb_txn_begin(in, NULL, MDB_RDONLY, &txn) || mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &shh) ||
             mdb_dbi_open(txn, ELIG_DB_NIK, MDB_INTEGERKEY, &snik) ||
             mdb_dbi_open(txn, ELIG_DB_KKS, MDB_INTEGERKEY, &skks);
    if (rc == 0)
        rc = mdb_env_create(&out) || mdb_env_set_maxdbs(out, ELIG_DB_MAX) ||
             mdb_env_set_mapsize(out, (size_t)st.st_size * 2 + (64u << 20)) ||
             mdb_env_open(out, access(proc, W_OK) == 0 ? proc : tmp, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC,
                          (mode_t)mode);
    picked p;
    memset(&p, 0, sizeof p);
    if (rc != 0)
        rc = say(err, errlen, "%s: cannot open the source or the extract", x->source);
    if (rc == 0)
        rc = copy_tables(txn, shh, snik, skks, out, x, &p, err, errlen);
    if (rc == 0)
        rc = snap_write_index(&p.b, out, tmp, NULL, err, errlen);
    if (rc == 0)
        rc = write_meta(out, &src, x, &p, res->id, created, err, errlen);
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(in);
    mdb_env_close(out);
    close(fd);
    if (rc == 0)
        rc = snap_seal(tmp, err, errlen);
    if (rc == 0 && rename(tmp, x->out) != 0)
        rc = say(err, errlen, "%s: cannot rename into place: %s", x->out, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    if (rc == 0) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", x->out);
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            fsync(dfd), close(dfd);
    }
    res->households = p.n_hh;
    res->members = p.b.mem.n;
    res->enrollments = p.n_enr;
    res->cards = p.n_kks;
    free(p.kk);
    VEC_FREE(p.b.mem);
    return rc ? -1 : 0;
}
