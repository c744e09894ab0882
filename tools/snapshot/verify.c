/* verify.c — info and verify. verify trusts nothing it reads: it opens the
 * file as the daemon does (elig_snap_open), then walks every table with
 * plain LMDB cursors. The cross checks are merges of sorted arrays, so a
 * national snapshot costs a few sequential passes and ~24 bytes per
 * household and 8 per member. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "content.h"
#include "elig.h"
#include "index.h"
#include "radix.h"
#include "record.h"
#include "verify.h"

int snap_info(const char *path, FILE *out, char *err, size_t errlen) {
    elig_snap *s;
    if (elig_snap_open(path, &s, err, errlen) != 0)
        return -1;
    const elig_meta *m = elig_snap_meta(s);
    fprintf(out,
            "%s: %u\n%s: %s\n%s: %s\n%s: %llu\n%s: %llu\n%s: %llu\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n",
            ELIG_META_SCHEMA, m->schema_version, ELIG_META_ID, m->id, ELIG_META_CREATED, m->created,
            ELIG_META_HOUSEHOLDS, (unsigned long long)m->households, ELIG_META_MEMBERS,
            (unsigned long long)m->members, ELIG_META_ENROLLMENTS, (unsigned long long)m->enrollments,
            ELIG_META_SHA_HOUSEHOLDS, m->sha256_households, ELIG_META_SHA_MEMBERS, m->sha256_members,
            ELIG_META_SHA_ENROLLMENTS, m->sha256_enrollments, ELIG_META_CONTENT, m->content_sha256);
    if (m->has_programs)
        fprintf(out, "%s: %s\n", ELIG_META_PROGRAMS, m->programs);
    if (m->extract_of[0])
        fprintf(out, "%s: %s\n%s: %s\n", ELIG_META_EXTRACT_OF, m->extract_of, ELIG_META_EXTRACT_REGIONS,
                m->extract_regions);
    elig_snap_close(s);
    return 0;
}

/* ---- verify -------------------------------------------------------------- */

#define ID_MIN UINT64_C(1000000000000000) /* 16 digits, first 1-9 */
#define ID_END UINT64_C(10000000000000000)
#define MONTH_MIN 12u                     /* 0001-01 */
#define MONTH_MAX (9999u * 12 + 11)       /* 9999-12 */

typedef struct vq vq;

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, hh, nik, kks, idx;
    unsigned psize;
    const unsigned char *map; /* our own map of the file, for the index */
    uint64_t maplen;
    elig_index ix;
    /* index checks queued, their buckets prefetched (index_household / _member) */
#define VBATCH 32
    struct vq {
        uint64_t id, off, kks;
        size_t len;
        bool has_kks;
    } q[VBATCH];
    int nq;
    const char *path;
    char *err;
    size_t errlen;
    /* gathered while walking, checked by merging */
    uint64_t *hh_kk, *hh_members; /* by kk */
    size_t n_hh;
    uint64_t *mem_kk; /* kk of each member, sorted later */
    size_t n_mem;
    uint64_t (*cards)[2]; /* (kks, kk) of each household with a card */
    size_t n_cards, cards_len; /* cards_len: entries of cards[] */
    uint64_t n_enr;
    elig_enrollment *enr; /* one household's enrollments, for the overlap check */
    size_t enr_cap;
    elig_meta meta_v;
} vctx;

static int bad(vctx *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->err, v->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool valid_month(uint32_t m) { return m >= MONTH_MIN && m <= MONTH_MAX; }

/* One enrollment of household kk on its own. */
static int check_enrollment(vctx *v, uint64_t kk, const elig_enrollment *e) {
    char id[17];
    elig_format_id16(kk, id);
    if (!elig_valid_program(e->program, e->program_len))
        return bad(v, "household %s: enrollment with a malformed programme name", id);
    if (!valid_month(e->start) || (e->end != ELIG_MONTH_OPEN && (!valid_month(e->end) || e->end < e->start)))
        return bad(v, "household %s: %.*s enrollment with a bad month range", id, e->program_len, e->program);
    if (e->status != ELIG_ENR_ACTIVE && e->status != ELIG_ENR_SUSPENDED)
        return bad(v, "household %s: %.*s enrollment with unknown status %d", id, e->program_len, e->program,
                   (int)e->status);
    return 0;
}

static int cmp_program_start(const void *pa, const void *pb) {
    const elig_enrollment *a = pa, *b = pb;
    size_t n = a->program_len < b->program_len ? a->program_len : b->program_len;
    int c = memcmp(a->program, b->program, n);
    if (c == 0)
        c = (int)a->program_len - (int)b->program_len;
    if (c == 0)
        c = (a->start > b->start) - (a->start < b->start);
    return c;
}

/* No two enrollments of one programme may share a month. Enrollments are
 * stored in input order, so sort a copy by (programme, start): then any
 * overlap shows between neighbours. */
static int check_overlaps(vctx *v, uint64_t kk, elig_enrollment *e, size_t n) {
    if (n < 2) /* nothing to compare; and e is NULL until a household has some (qsort(NULL, 0) is UB) */
        return 0;
    qsort(e, n, sizeof *e, cmp_program_start);
    for (size_t i = 1; i < n; i++) {
        if (e[i - 1].program_len != e[i].program_len ||
            memcmp(e[i - 1].program, e[i].program, e[i].program_len) != 0 || e[i - 1].end < e[i].start)
            continue;
        char id[17];
        elig_format_id16(kk, id);
        return bad(v, "household %s: overlapping %.*s enrollments", id, e[i].program_len, e[i].program);
    }
    return 0;
}

/* The index entry of (kind, id) must be there and name exactly the value
 * LMDB holds at file offset off (len bytes). */
static int check_entry(vctx *v, elig_kind kind, uint64_t id, uint64_t off, size_t len) {
    uint64_t t;
    char s[17];
    elig_format_id16(id, s);
    if (!elig_idx_find(&v->ix, elig_idx_key(kind, id), &t))
        return bad(v, "index: %s %s is missing", elig_kind_name(kind), s);
    if ((t & ~ELIG_IDX_DECEASED) != elig_idx_target(off, len, false) || (t & ELIG_IDX_DECEASED))
        return bad(v, "index: %s %s points at the wrong record", elig_kind_name(kind), s);
    return 0;
}

static int check_household(vctx *v, uint64_t kk, const unsigned char *p, size_t len) {
    char id[17];
    elig_format_id16(kk, id);
    if (kk < ID_MIN || kk >= ID_END)
        return bad(v, "household key %llu is not a valid kk", (unsigned long long)kk);
    if (elig_rec_hh_check(p, len) != 0)
        return bad(v, "household %s: malformed record", id);
    elig_rec_hh h;
    elig_rec_hh_get(p, &h);
    if (h.kk != kk)
        return bad(v, "household %s: record holds another kk", id);
    if (h.region < UINT64_C(1100000000) || h.region > UINT64_C(9999999999))
        return bad(v, "household %s: region %llu is not a valid kode wilayah", id, (unsigned long long)h.region);
    if (h.flags & ~ELIG_REC_HAS_KKS)
        return bad(v, "household %s: unknown flags 0x%x", id, h.flags);
    if ((h.flags & ELIG_REC_HAS_KKS) ? h.kks >= ID_END : h.kks != 0)
        return bad(v, "household %s: malformed kks", id);
    elig_household hh = {.kk = kk, .n_enrollments = h.n_enrollments};
    elig_rec_hh_set_enrollments(&hh, p + ELIG_REC_HH_HEAD, len - ELIG_REC_HH_HEAD);
    if (h.n_enrollments > v->enr_cap) {
        elig_enrollment *grown = realloc(v->enr, h.n_enrollments * sizeof *grown);
        if (!grown)
            return bad(v, "out of memory");
        v->enr = grown;
        v->enr_cap = h.n_enrollments;
    }
    size_t pos = 0, n = 0;
    while (elig_household_next(&hh, &pos, &v->enr[n]))
        if (check_enrollment(v, kk, &v->enr[n++]) != 0)
            return -1;
    if (check_overlaps(v, kk, v->enr, n) != 0)
        return -1;
    v->n_enr += h.n_enrollments;
    v->hh_kk[v->n_hh] = kk;
    v->hh_members[v->n_hh++] = h.members;
    if (h.flags & ELIG_REC_HAS_KKS) {
        v->cards[v->n_cards][0] = h.kks;
        v->cards[v->n_cards++][1] = kk;
    }
    return 0;
}

/* Walks table dbi, which must have `expect` entries, calling each(). */
static int walk(vctx *v, MDB_dbi dbi, const char *name, size_t expect,
                int (*each)(vctx *, const MDB_val *, const MDB_val *)) {
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(v->txn, dbi, &cur);
    if (rc != 0)
        return bad(v, "table %s: %s", name, mdb_strerror(rc));
    size_t seen = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (++seen > expect) {
            mdb_cursor_close(cur);
            return bad(v, "table %s has more entries than its statistics say", name);
        }
        if (k.mv_size != 8) {
            mdb_cursor_close(cur);
            return bad(v, "table %s: key of %zu bytes, not 8", name, k.mv_size);
        }
        if (each(v, &k, &d) != 0) {
            mdb_cursor_close(cur);
            return -1;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return bad(v, "table %s: %s", name, mdb_strerror(rc));
    return 0;
}

static int each_household(vctx *v, const MDB_val *k, const MDB_val *d) {
    return check_household(v, elig_rd64(k->mv_data), d->mv_data, d->mv_size);
}

static int each_member(vctx *v, const MDB_val *k, const MDB_val *d) {
    char id[17];
    elig_format_id16(elig_rd64(k->mv_data), id);
    if (elig_rd64(k->mv_data) >= ID_END || !elig_valid_nik(id, 16))
        return bad(v, "member key %s is not a valid NIK", id);
    if (d->mv_size != ELIG_REC_MEMBER)
        return bad(v, "member %s: record of %zu bytes, not %d", id, d->mv_size, ELIG_REC_MEMBER);
    const unsigned char *p = d->mv_data;
    if (p[8] != ELIG_MEMBER_ALIVE && p[8] != ELIG_MEMBER_DECEASED)
        return bad(v, "member %s: unknown status %d", id, p[8]);
    v->mem_kk[v->n_mem++] = elig_rd64(p);
    return 0;
}

/* ---- the id index, once the tables are known to be sound ----------------- */

/* The index is checked in batches of VBATCH entries whose buckets are
 * prefetched as they are queued: every lookup is a cache miss on a table
 * of gigabytes, and queued they overlap (a national snapshot has 156M). */
static void prefetch(const vctx *v, elig_kind kind, uint64_t id) {
    __builtin_prefetch(elig_idx_bucket(&v->ix, elig_idx_home(elig_idx_key(kind, id), v->ix.seed, v->ix.nbuckets)));
}

static int hh_flush(vctx *v) {
    for (int i = 0; i < v->nq; i++) {
        const vq *q = &v->q[i];
        if (check_entry(v, ELIG_KIND_KK, q->id, q->off, q->len) != 0 ||
            (q->has_kks && check_entry(v, ELIG_KIND_KKS, q->kks, q->off, q->len) != 0))
            return -1;
    }
    v->nq = 0;
    return 0;
}

static int index_household(vctx *v, const MDB_val *k, const MDB_val *d) {
    elig_rec_hh h;
    elig_rec_hh_get(d->mv_data, &h); /* checked well-formed by the first walk */
    vq *q = &v->q[v->nq++];
    *q = (vq){.id = elig_rd64(k->mv_data), .off = elig_idx_value_offset(d->mv_data, v->psize), .len = d->mv_size,
              .kks = h.kks, .has_kks = (h.flags & ELIG_REC_HAS_KKS) != 0};
    prefetch(v, ELIG_KIND_KK, q->id);
    if (q->has_kks)
        prefetch(v, ELIG_KIND_KKS, q->kks);
    return v->nq == VBATCH ? hh_flush(v) : 0;
}

/* A member's entry: its family's target (checked against the hh table by
 * index_household) plus its own deceased bit. */
static int member_flush(vctx *v) {
    for (int i = 0; i < v->nq; i++) {
        const vq *q = &v->q[i];
        uint64_t t, fam;
        char id[17];
        if (!elig_idx_find(&v->ix, elig_idx_key(ELIG_KIND_NIK, q->id), &t)) {
            elig_format_id16(q->id, id);
            return bad(v, "index: nik %s is missing", id);
        }
        if (!elig_idx_find(&v->ix, elig_idx_key(ELIG_KIND_KK, q->kks), &fam) || (t & ~ELIG_IDX_DECEASED) != fam ||
            ((t & ELIG_IDX_DECEASED) != 0) != q->has_kks) {
            elig_format_id16(q->id, id);
            return bad(v, "index: nik %s points at the wrong record or status", id);
        }
    }
    v->nq = 0;
    return 0;
}

static int index_member(vctx *v, const MDB_val *k, const MDB_val *d) {
    const unsigned char *p = d->mv_data;
    vq *q = &v->q[v->nq++]; /* kks holds the member's kk, has_kks its deceased flag */
    *q = (vq){.id = elig_rd64(k->mv_data), .kks = elig_rd64(p), .has_kks = p[8] == ELIG_MEMBER_DECEASED};
    prefetch(v, ELIG_KIND_NIK, q->id);
    prefetch(v, ELIG_KIND_KK, q->kks);
    return v->nq == VBATCH ? member_flush(v) : 0;
}

/* Every occupied slot is one of the ids checked above: the count of
 * occupied slots must be the tables' total. */
static int check_index_count(vctx *v) {
    uint64_t used = 0;
    for (uint64_t b = 0; b < v->ix.nbuckets; b++) {
        const unsigned char *p = elig_idx_bucket(&v->ix, b);
        for (int s = 0; s < ELIG_IDX_SLOTS; s++)
            used += (elig_idx_rd(p + 16 * s) & ~ELIG_IDX_FLAG) != 0;
    }
    if (used != v->ix.entries)
        return bad(v, "index: %llu slots in use, the header says %llu", (unsigned long long)used,
                   (unsigned long long)v->ix.entries);
    return 0;
}

/* Entries must equal the households' cards, in kks order, one for one. */
static int each_card(vctx *v, const MDB_val *k, const MDB_val *d) {
    uint64_t kks = elig_rd64(k->mv_data);
    char id[17];
    elig_format_id16(kks, id);
    if (d->mv_size != 8)
        return bad(v, "kks %s: record of %zu bytes, not 8", id, d->mv_size);
    uint64_t kk = elig_rd64(d->mv_data);
    size_t i = v->n_cards++; /* reused as the position in cards[] */
    if (i >= v->cards_len || v->cards[i][0] != kks || v->cards[i][1] != kk) {
        char hk[17];
        elig_format_id16(kk, hk);
        return bad(v, "kks %s -> household %s does not match that household's card", id, hk);
    }
    return 0;
}

/* Member counts: the sorted member kks merged with the households. A
 * member whose household is missing is reported before the count it
 * throws off: it is the cause. */
static int check_member_counts(vctx *v) {
    if (radix_sort(v->mem_kk, v->n_mem, 8, 0) != 0)
        return bad(v, "out of memory");
    size_t j = 0, wrong = SIZE_MAX;
    uint64_t wrong_count = 0;
    for (size_t i = 0; i <= v->n_hh; i++) {
        uint64_t kk = i < v->n_hh ? v->hh_kk[i] : UINT64_MAX;
        if (j < v->n_mem && v->mem_kk[j] < kk) {
            char id[17];
            elig_format_id16(v->mem_kk[j], id);
            return bad(v, "a member points at household %s, which does not exist", id);
        }
        if (i == v->n_hh)
            break;
        uint64_t count = 0;
        while (j < v->n_mem && v->mem_kk[j] == kk)
            j++, count++;
        if (count != v->hh_members[i] && wrong == SIZE_MAX) {
            wrong = i;
            wrong_count = count;
        }
    }
    if (wrong != SIZE_MAX) {
        char id[17];
        elig_format_id16(v->hh_kk[wrong], id);
        return bad(v, "household %s: record says %llu members, the nik table has %llu", id,
                   (unsigned long long)v->hh_members[wrong], (unsigned long long)wrong_count);
    }
    return 0;
}

static int check_cards(vctx *v, size_t n_kks) {
    /* cards[] is in kk order; sort it by kks (radix on 16-byte rows) */
    if (radix_sort(v->cards, v->n_cards, 16, 0) != 0)
        return bad(v, "out of memory");
    size_t want = v->cards_len = v->n_cards;
    v->n_cards = 0;
    if (walk(v, v->kks, ELIG_DB_KKS, n_kks, each_card) != 0)
        return -1;
    if (v->n_cards != want)
        return bad(v, "%zu households hold a kks card but the kks table has %zu entries", want, v->n_cards);
    return 0;
}

/* Every metadata key is present and well-formed. */
static int check_meta(vctx *v) {
    static const char *keys[] = {ELIG_META_SCHEMA,         ELIG_META_ID,          ELIG_META_CREATED,
                                 ELIG_META_HOUSEHOLDS,     ELIG_META_MEMBERS,     ELIG_META_ENROLLMENTS,
                                 ELIG_META_SHA_HOUSEHOLDS, ELIG_META_SHA_MEMBERS, ELIG_META_SHA_ENROLLMENTS,
                                 ELIG_META_CONTENT};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        MDB_val k = {strlen(keys[i]), (void *)keys[i]}, d;
        if (mdb_get(v->txn, v->meta, &k, &d) != 0)
            return bad(v, "metadata key %s is missing", keys[i]);
        const char *s = d.mv_data;
        bool ok = d.mv_size > 0;
        if (strncmp(keys[i], "sha256_", 7) == 0 || strcmp(keys[i], ELIG_META_CONTENT) == 0) {
            ok = d.mv_size == 64;
            for (size_t j = 0; ok && j < 64; j++)
                ok = (s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f');
        }
        if (!ok)
            return bad(v, "metadata key %s is malformed", keys[i]);
    }
    const elig_meta *m = &v->meta_v;
    if (!snap_valid_id(m->id))
        return bad(v, "snapshot id '%s' is malformed", m->id);
    struct tm tm;
    const char *end = strptime(m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return bad(v, "creation time '%s' is not RFC 3339 UTC", m->created);
    return 0;
}

/* The index, read from a map of our own (see lib/snap.c). */
static int open_index(vctx *v) {
    MDB_envinfo info;
    MDB_stat ms;
    int fd;
    if (mdb_env_info(v->env, &info) != 0 || mdb_env_stat(v->env, &ms) != 0 || mdb_env_get_fd(v->env, &fd) != 0)
        return bad(v, "cannot read the LMDB header");
    v->psize = ms.ms_psize;
    v->maplen = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    void *p = mmap(NULL, v->maplen, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return bad(v, "cannot map: %s", strerror(errno));
    v->map = p;
    char why[128];
    if (elig_index_load_(&v->ix, v->txn, v->idx, v->map, v->maplen, why, sizeof why) != 0)
        return bad(v, "%s", why);
    return 0;
}

static int open_tables(vctx *v) {
    int rc = mdb_env_create(&v->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(v->env, ELIG_DB_MAX);
    if (rc == 0)
        rc = mdb_env_open(v->env, v->path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444);
    if (rc == 0)
        rc = mdb_txn_begin(v->env, NULL, MDB_RDONLY, &v->txn);
    if (rc != 0)
        return bad(v, "cannot open: %s", mdb_strerror(rc));
    if ((rc = mdb_dbi_open(v->txn, ELIG_DB_META, 0, &v->meta)) != 0 ||
        (rc = mdb_dbi_open(v->txn, ELIG_DB_HH, MDB_INTEGERKEY, &v->hh)) != 0 ||
        (rc = mdb_dbi_open(v->txn, ELIG_DB_NIK, MDB_INTEGERKEY, &v->nik)) != 0 ||
        (rc = mdb_dbi_open(v->txn, ELIG_DB_KKS, MDB_INTEGERKEY, &v->kks)) != 0 ||
        (rc = mdb_dbi_open(v->txn, ELIG_DB_IDX, MDB_INTEGERKEY, &v->idx)) != 0)
        return bad(v, "missing or mistyped table: %s", mdb_strerror(rc));
    return open_index(v);
}

/* content_sha256 recomputed from the tables equals the metadata's. */
static int check_content(vctx *v) {
    unsigned char d[32];
    char why[200] = "", hex[65], programs[ELIG_PROGRAMS_TEXT_MAX];
    if (elig_content_sha256_(v->txn, v->hh, v->nik, d, programs, why, sizeof why) != 0)
        return bad(v, "content hash: %s", why);
    elig_hex32_(d, hex);
    if (strcmp(hex, v->meta_v.content_sha256) != 0)
        return bad(v, "content hash mismatch: the metadata says %s, the tables give %s", v->meta_v.content_sha256,
                   hex);
    if (!v->meta_v.has_programs || strcmp(programs, v->meta_v.programs) != 0)
        return bad(v, "metadata key '%s' is \"%s\", the enrollments hold \"%s\"", ELIG_META_PROGRAMS,
                   v->meta_v.has_programs ? v->meta_v.programs : "(missing)", programs);
    return 0;
}

static int verify_tables(vctx *v, char *ok, size_t oklen) {
    MDB_stat hh, nik, kks;
    if (open_tables(v) != 0 || check_meta(v) != 0)
        return -1;
    if (mdb_stat(v->txn, v->hh, &hh) || mdb_stat(v->txn, v->nik, &nik) || mdb_stat(v->txn, v->kks, &kks))
        return bad(v, "cannot read table statistics");
    /* The counts come from the file: each entry takes more than 16 bytes of
     * it, so a count above maplen / 16 is a lie, and refusing it keeps
     * (n + 1) * 16 far from wrapping. */
    if (hh.ms_entries > v->maplen / 16 || nik.ms_entries > v->maplen / 16 || kks.ms_entries > v->maplen / 16)
        return bad(v, "table statistics claim more entries than a file of %llu bytes can hold",
                   (unsigned long long)v->maplen);
    v->hh_kk = malloc((hh.ms_entries + 1) * 8);
    v->hh_members = malloc((hh.ms_entries + 1) * 8);
    v->cards = malloc((hh.ms_entries + 1) * 16);
    v->mem_kk = malloc((nik.ms_entries + 1) * 8);
    if (!v->hh_kk || !v->hh_members || !v->cards || !v->mem_kk)
        return bad(v, "out of memory");
    if (walk(v, v->hh, ELIG_DB_HH, hh.ms_entries, each_household) != 0 ||
        walk(v, v->nik, ELIG_DB_NIK, nik.ms_entries, each_member) != 0 || check_member_counts(v) != 0 ||
        check_cards(v, kks.ms_entries) != 0 || walk(v, v->hh, ELIG_DB_HH, hh.ms_entries, index_household) != 0 ||
        hh_flush(v) != 0 || walk(v, v->nik, ELIG_DB_NIK, nik.ms_entries, index_member) != 0 || member_flush(v) != 0 ||
        check_index_count(v) != 0 ||
        check_content(v) != 0)
        return -1;
    const elig_meta *m = &v->meta_v;
    if (v->n_hh != m->households || v->n_mem != m->members || v->n_enr != m->enrollments)
        return bad(v, "metadata counts (%llu households, %llu members, %llu enrollments) do not match the "
                      "tables (%zu, %zu, %llu)",
                   (unsigned long long)m->households, (unsigned long long)m->members,
                   (unsigned long long)m->enrollments, v->n_hh, v->n_mem, (unsigned long long)v->n_enr);
    snprintf(ok, oklen, "OK: snapshot %s, %zu households, %zu members, %llu enrollments, %zu kks cards", m->id,
             v->n_hh, v->n_mem, (unsigned long long)v->n_enr, v->n_cards);
    return 0;
}

int snap_verify(const char *path, char *ok, size_t oklen, char *err, size_t errlen) {
    /* every byte against the trailer first, before LMDB reads a page: a
     * damaged file is found here and never walked */
    if (elig_snap_check_file(path, err, errlen) != 0)
        return -1;
    elig_snap *s;
    if (elig_snap_open(path, &s, err, errlen) != 0)
        return -1;
    vctx v = {.path = path, .err = err, .errlen = errlen, .meta_v = *elig_snap_meta(s)};
    elig_snap_close(s);
    int rc = verify_tables(&v, ok, oklen);
    if (v.txn)
        mdb_txn_abort(v.txn);
    mdb_env_close(v.env);
    if (v.map)
        munmap((void *)v.map, v.maplen);
    free(v.ix.chunk);
    free(v.hh_kk);
    free(v.hh_members);
    free(v.cards);
    free(v.enr);
    free(v.mem_kk);
    return rc;
}
