/* snap.c — opening a snapshot and reading its records.
 *
 * A snapshot is one immutable LMDB file. It is mapped read-only with no lock
 * file (MDB_NOLOCK: nobody ever writes it, so readers need no slots) and no
 * read-ahead (MDB_NORDAHEAD: lookups are random; read-ahead would only evict
 * hot pages). Opening reads the metadata and the index header and nothing
 * else, so start-up time does not grow with the snapshot.
 *
 * Queries do not search LMDB's B-trees: the id index (index.h) gives the
 * file offset of the family's household value, read through LMDB's map.
 * The pointers into the map stay valid as long as the environment is open:
 * it is read-only and never remapped, and the file is immutable. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "content.h"
#include "index.h"
#include "internal.h"
#include "private.h"
#include "record.h"
#include "sign.h"
#include "trailer.h"

struct elig_snap {
    int fd;                   /* the file (or its private copy), held open */
    bool private_copy;        /* fd is a sealed memfd (ELIG_SNAP_PRIVATE) */
    elig_trailer trailer;
    MDB_env *env;
    MDB_dbi meta_db, hh_db, nik_db, kks_db, idx_db;
    elig_meta meta;
    const unsigned char *map; /* our own map of the file: the query path */
    uint64_t maplen;          /* its length: the bytes LMDB uses, all inside the file */
    elig_index ix;
    /* elig_snap_programs: the names, split out of meta.programs. */
    char prog_buf[ELIG_PROGRAMS_TEXT_MAX];
    const char *prog[ELIG_PROGRAMS_MAX];
    int nprog; /* -1: the file does not say */
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

bool elig_valid_snapshot_id(const char *s, size_t n) {
    if (n < 1 || n > ELIG_WIRE_SNAPSHOT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* "programs": valid names, comma-separated, strictly increasing, at most
 * ELIG_PROGRAMS_MAX; "" for none. */
static bool valid_programs(const char *s) {
    const char *prev = NULL;
    size_t prev_n = 0;
    int n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (!elig_valid_program(s, len) || ++n > ELIG_PROGRAMS_MAX)
            return false;
        if (prev) {
            int c = memcmp(prev, s, prev_n < len ? prev_n : len);
            if (c > 0 || (c == 0 && prev_n >= len))
                return false;
        }
        prev = s, prev_n = len;
        s += len;
        if (*s == ',' && !*++s)
            return false; /* a trailing comma */
    }
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
    if (KEY_IS(ELIG_META_ID)) /* served in every answer and logged: as strict as the builder */
        return elig_valid_snapshot_id(v->mv_data, v->mv_size) && copy_str(m->id, sizeof m->id, v);
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
    if (KEY_IS(ELIG_META_EXTRACT_OF))
        return elig_valid_snapshot_id(v->mv_data, v->mv_size) && copy_str(m->extract_of, sizeof m->extract_of, v);
    if (KEY_IS(ELIG_META_EXTRACT_REGIONS)) {
        for (size_t i = 0; i < v->mv_size; i++)
            if (!(((const char *)v->mv_data)[i] >= '0' && ((const char *)v->mv_data)[i] <= '9') &&
                ((const char *)v->mv_data)[i] != ',')
                return false;
        return copy_str(m->extract_regions, sizeof m->extract_regions, v);
    }
    if (KEY_IS(ELIG_META_PROGRAMS)) {
        if (v->mv_size >= sizeof m->programs)
            return false;
        memcpy(m->programs, v->mv_data, v->mv_size);
        m->programs[v->mv_size] = '\0';
        m->has_programs = true;
        return valid_programs(m->programs);
    }
    if (KEY_IS(ELIG_META_CONTENT))
        return v->mv_size == 64 && copy_str(m->content_sha256, sizeof m->content_sha256, v);
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
    if (s->meta.schema_version == 1)
        return fail(err, errlen, ELIG_ESCHEMA,
                    "%s: snapshot schema version 1 is no longer read (this build reads %d): rebuild it from "
                    "the same CSV files with this version's elig-snapshot build",
                    path, ELIG_SCHEMA_VERSION);
    if (s->meta.schema_version != ELIG_SCHEMA_VERSION)
        return fail(err, errlen, ELIG_ESCHEMA, "%s: unknown snapshot schema version %u (this build reads %d)",
                    path, s->meta.schema_version, ELIG_SCHEMA_VERSION);
    if (s->meta.id[0] == '\0' || s->meta.created[0] == '\0' || s->meta.content_sha256[0] == '\0')
        return fail(err, errlen, ELIG_ECORRUPT,
                    "%s: metadata lacks the snapshot id, creation time or content hash", path);
    return 0;
}

static void split_programs(elig_snap *s);

static int read_meta_split(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    int rc = read_meta(s, txn, path, err, errlen);
    if (rc == 0)
        split_programs(s);
    return rc;
}

/* The row counts in the metadata must match the tables: a cheap check (one
 * B-tree header read each) that catches a truncated or mixed-up file. */
static int check_counts(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    MDB_stat hh, nik, kks;
    if (mdb_stat(txn, s->hh_db, &hh) != 0 || mdb_stat(txn, s->nik_db, &nik) != 0 ||
        mdb_stat(txn, s->kks_db, &kks) != 0)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read table statistics", path);
    if (hh.ms_entries != s->meta.households || nik.ms_entries != s->meta.members)
        return fail(err, errlen, ELIG_ECORRUPT,
                    "%s: metadata counts (%llu households, %llu members) do not match the tables "
                    "(%zu, %zu)",
                    path, (unsigned long long)s->meta.households, (unsigned long long)s->meta.members,
                    hh.ms_entries, nik.ms_entries);
    const uint64_t *k = s->ix.per_kind;
    if (k[ELIG_KIND_KK] != hh.ms_entries || k[ELIG_KIND_NIK] != nik.ms_entries ||
        k[ELIG_KIND_KKS] != kks.ms_entries)
        return fail(err, errlen, ELIG_ECORRUPT, "%s: the id index does not hold the ids of the tables", path);
    return 0;
}

/* The id index, in a map of our own: LMDB does not say where its map is,
 * and the query path does not go through LMDB. Every chunk must lie inside
 * the pages LMDB uses (check_size has made sure the file holds them). */
static int load_index(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    MDB_envinfo info;
    MDB_stat ms;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read the LMDB header", path);
    s->maplen = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    void *p = mmap(NULL, s->maplen, PROT_READ, MAP_SHARED, s->fd, 0);
    if (p == MAP_FAILED)
        return fail(err, errlen, -errno, "%s: cannot map: %s", path, strerror(errno));
    s->map = p;
    if (s->private_copy) /* shared memory: huge pages only if asked for */
        madvise(p, s->maplen, MADV_HUGEPAGE);
    char why[128];
    int rc = elig_index_load_(&s->ix, txn, s->idx_db, s->map, s->maplen, why, sizeof why);
    return rc == 0 ? 0 : fail(err, errlen, rc, "%s: %s", path, why);
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

/* Schema 2's index table, opened once the schema version is known to be 2
 * (a schema 1 file has none and gets the schema message instead). */
static int open_index_dbi(elig_snap *s, MDB_txn *txn, const char *path, char *err, size_t errlen) {
    int rc = mdb_dbi_open(txn, ELIG_DB_IDX, MDB_INTEGERKEY, &s->idx_db);
    if (rc != 0)
        return fail(err, errlen, ELIG_ECORRUPT, "%s: the id index is missing (%s)", path, mdb_strerror(rc));
    return 0;
}

/* LMDB reads its meta pages with pread but everything else through the map:
 * a page past the end of a truncated file would be a SIGBUS at the first
 * lookup. The meta page says how many pages there are; the bytes before
 * the trailer must hold them all. */
static int check_size(MDB_env *env, uint64_t have, const char *path, char *err, size_t errlen) {
    MDB_envinfo info;
    MDB_stat ms;
    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &ms) != 0)
        return fail(err, errlen, ELIG_EIO, "%s: cannot read the LMDB header", path);
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    if (have < need)
        return fail(err, errlen, ELIG_ECORRUPT, "%s: truncated: %llu bytes, the snapshot needs %llu", path,
                    (unsigned long long)have, (unsigned long long)need);
    return 0;
}

/* A full check of the file before LMDB reads any page of it: SHA-256 of
 * every byte the trailer covers. */
static int check_sum(int fd, const elig_trailer *t, const char *path, char *err, size_t errlen) {
    unsigned char sha[32];
    int rc = elig_sha256_fd(fd, t->covered, sha);
    if (rc != 0)
        return fail(err, errlen, rc, "%s: cannot read: %s", path, elig_strerror(rc));
    if (memcmp(sha, t->sha, 32) != 0)
        return fail(err, errlen, ELIG_ECHECKSUM,
                    "%s: checksum mismatch: the file is damaged (SHA-256 of its %llu bytes differs from its "
                    "trailer's)",
                    path, (unsigned long long)t->covered);
    return 0;
}

/* LMDB trusts its two meta pages: a damaged page size (0, say) is a
 * division by zero inside mdb_env_open (SIGFPE), and a damaged last page
 * number a map past the file. So both are read with pread and checked the
 * way LMDB will use them, before LMDB sees the file: page header flag
 * P_META, magic 0xBEEFC0DE, version 1, page size a power of two 512-65536
 * and the same in both, last page inside the file. (Layout of LMDB 0.9's
 * MDB_page and MDB_meta: header 16 bytes; then magic, version, address,
 * mapsize, two MDB_db of 48 bytes whose first field holds the page size in
 * the first, last_pg.) */
#define LMDB_P_META 0x08
#define LMDB_MAGIC 0xBEEFC0DEu
static int check_lmdb_meta(int fd, uint64_t size, const char *path, char *err, size_t errlen) {
    unsigned char pg[160];
    uint32_t psize0 = 0;
    for (int i = 0; i < 2; i++) {
        off_t off = i == 0 ? 0 : (off_t)psize0;
        if (pread(fd, pg, sizeof pg, off) != (ssize_t)sizeof pg)
            return fail(err, errlen, ELIG_ECORRUPT, "%s: too short for an LMDB file", path);
        uint16_t flags;
        uint32_t magic, version, psize;
        uint64_t last;
        memcpy(&flags, pg + 10, 2);
        memcpy(&magic, pg + 16, 4);
        memcpy(&version, pg + 20, 4);
        memcpy(&psize, pg + 40, 4);
        memcpy(&last, pg + 136, 8);
        if (!(flags & LMDB_P_META) || magic != LMDB_MAGIC || version != 1)
            return fail(err, errlen, ELIG_ECORRUPT, "%s: LMDB meta page %d is damaged (flags, magic or version)",
                        path, i);
        if (psize < 512 || psize > 65536 || (psize & (psize - 1)) || (i == 1 && psize != psize0))
            return fail(err, errlen, ELIG_ECORRUPT, "%s: LMDB meta page %d is damaged (page size %u)", path, i,
                        psize);
        if (last >= size / psize)
            return fail(err, errlen, ELIG_ECORRUPT,
                        "%s: LMDB meta page %d is damaged or the file truncated (last page %llu, file of %llu pages)",
                        path, i, (unsigned long long)last, (unsigned long long)(size / psize));
        psize0 = psize;
    }
    return 0;
}

/* LMDB opens the file we hold open, through /proc, so that it reads the
 * very file we checked even if the path is renamed over meanwhile. */
static int open_lmdb(elig_snap *s, const char *path) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, ELIG_DB_MAX);
    if (rc == 0)
        rc = mdb_env_open(s->env, access(proc, R_OK) == 0 ? proc : path,
                          MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NORDAHEAD | MDB_NOTLS, 0444);
    return rc;
}

int elig_snap_open(const char *path, elig_snap **out, char *err, size_t errlen) {
    return elig_snap_open_ex(path, 0, out, err, errlen);
}

static int open_impl(const char *path, unsigned flags, const unsigned char *pub, elig_snap **out, char *err,
                     size_t errlen);

int elig_snap_open_ex(const char *path, unsigned flags, elig_snap **out, char *err, size_t errlen) {
    return open_impl(path, flags, NULL, out, err, errlen);
}

int elig_snap_open_signed(const char *path, unsigned flags, const char *pubkey_pem, size_t pem_len, elig_snap **out,
                          char *err, size_t errlen) {
    unsigned char pub[32];
    char why[128];
    if (!pubkey_pem || elig_pubkey_from_pem_(pubkey_pem, pem_len, pub, why, sizeof why) != 0)
        return fail(err, errlen, ELIG_ESIGNATURE, "%s: public key: %s", path, pubkey_pem ? why : "none given");
    /* the signature is over the trailer: it means something only if every
     * byte matches the trailer, so the file is always checked in full */
    return open_impl(path, flags | ELIG_SNAP_VERIFY, pub, out, err, errlen);
}

static int open_impl(const char *path, unsigned flags, const unsigned char *pub, elig_snap **out, char *err,
                     size_t errlen) {
    if (flags & ~(unsigned)(ELIG_SNAP_VERIFY | ELIG_SNAP_PRIVATE))
        return fail(err, errlen, ELIG_EINVAL, "%s: unknown open flags 0x%x", path, flags);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, errno == ENOENT ? ELIG_ENOENT : -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        int rc = !S_ISREG(st.st_mode) ? fail(err, errlen, ELIG_EINVAL, "%s: not a regular file", path)
                                      : fail(err, errlen, ELIG_ECORRUPT, "%s: empty file, not a snapshot", path);
        close(fd);
        return rc;
    }
    elig_snap *s = elig_calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return fail(err, errlen, ELIG_ENOMEM, "%s: out of memory", path);
    }
    s->fd = fd;
    /* The trailer is always looked at (cheap: the file's last bytes), so a
     * truncated or extended file is refused. Without it the file is still
     * opened far enough to read its schema version: a schema 1 file gets
     * the message that says what to do. */
    char why[256];
    int trc = elig_trailer_read(fd, &s->trailer, why, sizeof why), rc = 0;
    if (trc == 0 && (flags & ELIG_SNAP_PRIVATE)) {
        rc = elig_private_copy_(&s->fd, &s->trailer, (flags & ELIG_SNAP_VERIFY) != 0, path, err, errlen);
        s->private_copy = rc == 0;
    }
    else if (trc == 0 && (flags & ELIG_SNAP_VERIFY))
        rc = check_sum(fd, &s->trailer, path, err, errlen);
    if (rc == 0 && (rc = check_lmdb_meta(s->fd, trc ? (uint64_t)st.st_size : s->trailer.covered, path, err,
                                         errlen)) != 0 && trc)
        rc = fail(err, errlen, trc, "%s: %s", path, why); /* no trailer either: not one of ours */
    if (rc != 0)
        goto bad;
    if ((rc = open_lmdb(s, path)) != 0) {
        rc = trc ? fail(err, errlen, trc, "%s: %s", path, why)
                 : fail(err, errlen, ELIG_ECORRUPT, "%s: cannot open as LMDB: %s", path, mdb_strerror(rc));
        goto bad;
    }
    if ((rc = check_size(s->env, trc ? (uint64_t)st.st_size : s->trailer.covered, path, err, errlen)) != 0)
        goto bad;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
        rc = fail(err, errlen, ELIG_EIO, "%s: %s", path, mdb_strerror(rc));
        goto bad;
    }
    if ((rc = open_dbis(s, txn, path, err, errlen)) != 0 || (rc = read_meta_split(s, txn, path, err, errlen)) != 0 ||
        (trc != 0 && (rc = fail(err, errlen, trc, "%s: %s", path, why)) != 0) ||
        (pub && elig_sig_check_(&s->trailer, s->meta.content_sha256, s->meta.id, pub, why, sizeof why) != 0 &&
         (rc = fail(err, errlen, ELIG_ESIGNATURE, "%s: %s", path, why)) != 0) ||
        (rc = open_index_dbi(s, txn, path, err, errlen)) != 0 || (rc = load_index(s, txn, path, err, errlen)) != 0 ||
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
    elig_snap_close(s);
    return rc;
}

void elig_snap_close(elig_snap *snap) {
    if (!snap)
        return;
    mdb_env_close(snap->env); /* safe on a NULL env: mdb_env_close checks */
    if (snap->fd >= 0)
        close(snap->fd);
    if (snap->map)
        munmap((void *)snap->map, snap->maplen);
    elig_free(snap->ix.chunk);
    elig_free(snap);
}

const elig_meta *elig_snap_meta(const elig_snap *snap) { return &snap->meta; }

/* Splits meta.programs (checked by elig_valid_programs_) into names. */
static void split_programs(elig_snap *s) {
    s->nprog = -1;
    if (!s->meta.has_programs)
        return;
    memcpy(s->prog_buf, s->meta.programs, sizeof s->prog_buf);
    s->nprog = 0;
    for (char *p = s->prog_buf; *p && s->nprog < ELIG_PROGRAMS_MAX;) {
        s->prog[s->nprog++] = p;
        p += strcspn(p, ",");
        if (*p)
            *p++ = '\0';
    }
}

int elig_snap_programs(const elig_snap *snap, const char *const **names) {
    *names = snap->prog;
    return snap->nprog;
}

/* Warms the map the queries read (ours; LMDB's is only for metadata and
 * ordered walks). */
void elig_snap_warm(const elig_snap *snap) {
    const volatile unsigned char *p = snap->map;
    madvise((void *)snap->map, snap->maplen, MADV_WILLNEED);
    unsigned sum = 0;
    for (size_t off = 0; off < snap->maplen; off += 4096)
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

/* Ids are 16 digits, below 2^54: anything larger names nothing (and must
 * not reach the index, whose keys keep the kind above bit 54). */
#define ID_LIMIT (UINT64_C(1) << ELIG_IDX_KIND_SHIFT)

void elig_prefetch(const elig_reader *r, elig_kind kind, uint64_t id) {
    const elig_index *ix = &r->snap->ix;
    if ((unsigned)kind >= ELIG_KIND_COUNT || id >= ID_LIMIT)
        return;
    __builtin_prefetch(elig_idx_bucket(ix, elig_idx_home(elig_idx_key(kind, id), ix->seed, ix->nbuckets)));
}

void elig_prefetch_record(const elig_reader *r, elig_kind kind, uint64_t id) {
    const elig_snap *s = r->snap;
    uint64_t t;
    if ((unsigned)kind >= ELIG_KIND_COUNT || id >= ID_LIMIT || !elig_idx_find(&s->ix, elig_idx_key(kind, id), &t))
        return;
    uint64_t off = t & ELIG_IDX_OFF_MAX, len = (t >> ELIG_IDX_OFF_BITS) & ELIG_IDX_LEN_MAX;
    if (off < s->maplen && len <= s->maplen - off) {
        __builtin_prefetch(s->map + off);
        if (len > 64 - ((uintptr_t)(s->map + off) & 63))
            __builtin_prefetch(s->map + off + 64);
    }
}

/* The index gives a file offset and a length; the value there must lie
 * inside the map, be a well-formed household record, and belong to the id
 * asked for (its kk, or its card). Anything else is damage. */
int elig_find_(elig_reader *r, elig_kind kind, uint64_t id, elig_household *h, int *member_status) {
    const elig_snap *s = r->snap;
    uint64_t t;
    if ((unsigned)kind >= ELIG_KIND_COUNT)
        return ELIG_EINVAL;
    if (id >= ID_LIMIT || !elig_idx_find(&s->ix, elig_idx_key(kind, id), &t))
        return 0;
    uint64_t off = t & ELIG_IDX_OFF_MAX, len = (t >> ELIG_IDX_OFF_BITS) & ELIG_IDX_LEN_MAX;
    if (off > s->maplen || len > s->maplen - off)
        return ELIG_ECORRUPT;
    const unsigned char *p = s->map + off;
    if (elig_rec_hh_check(p, len) != 0)
        return ELIG_ECORRUPT;
    elig_rec_hh rec;
    elig_rec_hh_get(p, &rec);
    bool has_kks = (rec.flags & ELIG_REC_HAS_KKS) != 0;
    if ((kind == ELIG_KIND_KK && rec.kk != id) || (kind == ELIG_KIND_KKS && (!has_kks || rec.kks != id)))
        return ELIG_ECORRUPT;
    *member_status = kind == ELIG_KIND_NIK && (t & ELIG_IDX_DECEASED) ? ELIG_MEMBER_DECEASED : ELIG_MEMBER_ALIVE;
    h->kk = rec.kk;
    h->region = rec.region;
    h->status = (elig_hh_status)rec.status;
    h->has_kks = has_kks;
    h->kks = rec.kks;
    h->members = rec.members;
    h->n_enrollments = rec.n_enrollments;
    elig_rec_hh_set_enrollments(h, p + ELIG_REC_HH_HEAD, len - ELIG_REC_HH_HEAD);
    return 1;
}

int elig_household_get(elig_reader *r, elig_kind kind, uint64_t id, elig_household *h) {
    int member_status;
    return elig_find_(r, kind, id, h, &member_status);
}

bool elig_household_next(const elig_household *h, size_t *pos, elig_enrollment *e) {
    const unsigned char *enr = h->opaque_[0];
    if (*pos >= (size_t)(uintptr_t)h->opaque_[1])
        return false;
    *pos += elig_rec_enr_get(enr + *pos, e);
    return true;
}

int elig_snap_content_sha256(const elig_snap *snap, char out[65]) {
    MDB_txn *txn;
    unsigned char d[32];
    if (mdb_txn_begin(snap->env, NULL, MDB_RDONLY, &txn) != 0)
        return ELIG_EIO;
    int rc = elig_content_sha256_(txn, snap->hh_db, snap->nik_db, d, NULL, NULL, 0);
    mdb_txn_abort(txn);
    if (rc == 0)
        elig_hex32_(d, out);
    return rc;
}
