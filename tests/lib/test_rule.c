/* test_rule.c — the snapshot reader and the eligibility rule (SPEC 2).
 *
 * The snapshots are written here by hand, with the LMDB API and the encoders
 * of lib/record.h, exactly as that header lays them out: one file
 * (MDB_NOSUBDIR|MDB_NOLOCK), databases "meta", "hh", "nik", "kks", and the
 * id index "idx" laid out as lib/index.h documents it, filled here by a
 * plain insertion loop of this file's own. No builder is involved, so a
 * failure points at the reader or the rule.
 *
 * Every expected answer is written by hand from SPEC 2 next to the query. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <openssl/evp.h>

#include "elig.h"
#include "index.h"
#include "record.h"

/* The month number elig.h defines: year * 12 + (month - 1). */
#define MON(y, m) ((elig_month)(y) * 12u + (elig_month)(m) - 1u)
#define OPEN ELIG_MONTH_OPEN

/* ---- the fixture --------------------------------------------------------- */

/* Households. */
#define KK_A 3201000000000001ULL /* active, KKS, four enrollments */
#define KK_S 3201000000000002ULL /* suspended, enrolled */
#define KK_G 3201000000000003ULL /* graduated, KKS, enrolled */
#define KK_T 3201000000000004ULL /* terminated, no KKS, no enrollments */
#define KK_E 3201000000000005ULL /* active, no enrollments */
#define KK_X 3201000000000006ULL /* active, KKS, runs of enrollments with gaps */
#define KKS_A 5000000000000001ULL
#define KKS_G 5000000000000003ULL
#define KKS_X 5000000000000006ULL
#define REG_A 3201010001ULL
#define REG_S 3201010002ULL
#define REG_G 3273010003ULL
#define REG_T 9971010004ULL
#define REG_E 1101010005ULL
#define REG_X 3201010006ULL

/* Members. */
#define NIK_A1 3201011508900001ULL /* alive, family A */
#define NIK_A2 3201015508900002ULL /* deceased, family A */
#define NIK_S1 3201011508900003ULL /* alive, family S */
#define NIK_S2 3201011508900004ULL /* deceased, family S */
#define NIK_G1 3201011508900005ULL /* alive, family G */
#define NIK_T1 3201011508900006ULL /* deceased, family T */
#define NIK_T2 3201011508900007ULL /* alive, family T */
#define NIK_E1 3201011508900008ULL /* alive, family E */
#define NIK_X1 3201011508900009ULL /* alive, family X */

/* Ids that name nothing. */
#define KK_NONE 3201000000000999ULL
#define NIK_NONE 3201011508909999ULL
#define KKS_NONE 5000000000000999ULL

typedef struct {
    const char *program;
    elig_month start, end;
    uint32_t amount;
    elig_enr_status status;
} enr_def;

typedef struct {
    uint64_t kk, region;
    elig_hh_status status;
    bool has_kks;
    uint64_t kks;
    uint32_t members;
    const enr_def *enr; /* ordered by (program, start) as record.h requires */
    size_t n_enr;
} hh_def;

typedef struct {
    uint64_t nik, kk;
    uint8_t status;
} member_def;

/* Where a hand-written index entry points (damaged snapshots). */
typedef enum {
    TO_KK,           /* the household value of to_kk (the key itself: 0) */
    TO_BEYOND_FILE,  /* an offset past the end of the file */
    TO_ZERO_LEN,     /* KK_GOOD's value, with length 0 */
    TO_STRADDLE_END, /* a value that starts in the file and ends past it */
} idx_how;

/* A record written as raw bytes (for damaged snapshots), and its index
 * entry. */
typedef struct {
    uint64_t key;
    const unsigned char *bytes;
    size_t len;
    idx_how how;
    uint64_t to_kk;
} raw_rec;

/* Damage to the index header, for the open tests. */
typedef enum { IDX_OK, IDX_BAD_MAGIC, IDX_CHUNK_BEYOND, IDX_KIND_COUNT_OFF, IDX_NO_PROBE } idx_damage;

static const enr_def ENR_A[] = {
    {"BPNT", MON(2024, 3), MON(2024, 3), 200000, ELIG_ENR_SUSPENDED},
    {"PBI", MON(2023, 1), MON(2023, 12), 42000, ELIG_ENR_ACTIVE},
    {"PKH", MON(2024, 1), MON(2024, 6), 750000, ELIG_ENR_ACTIVE},
    {"PKH", MON(2024, 7), OPEN, 900000, ELIG_ENR_ACTIVE},
};
static const enr_def ENR_S[] = {{"PKH", MON(2020, 1), OPEN, 500000, ELIG_ENR_ACTIVE}};
static const enr_def ENR_G[] = {{"PKH", MON(2020, 1), OPEN, 500000, ELIG_ENR_ACTIVE}};
static const enr_def ENR_X[] = {
    {"MAX", MON(1, 1), OPEN, 4294967295UL, ELIG_ENR_ACTIVE},
    {"PKH", MON(2024, 1), MON(2024, 12), 600000, ELIG_ENR_SUSPENDED},
    {"PKH", MON(2025, 1), MON(2025, 12), 1, ELIG_ENR_ACTIVE},
    {"PKH", MON(2026, 3), MON(2026, 3), 0, ELIG_ENR_ACTIVE},
    {"PKH_2", MON(2024, 1), OPEN, 7, ELIG_ENR_ACTIVE},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const hh_def MAIN_HH[] = {
    {KK_A, REG_A, ELIG_HH_ACTIVE, true, KKS_A, 2, ENR_A, N(ENR_A)},
    {KK_S, REG_S, ELIG_HH_SUSPENDED, false, 0, 2, ENR_S, N(ENR_S)},
    {KK_G, REG_G, ELIG_HH_GRADUATED, true, KKS_G, 1, ENR_G, N(ENR_G)},
    {KK_T, REG_T, ELIG_HH_TERMINATED, false, 0, 2, NULL, 0},
    {KK_E, REG_E, ELIG_HH_ACTIVE, false, 0, 1, NULL, 0},
    {KK_X, REG_X, ELIG_HH_ACTIVE, true, KKS_X, 1, ENR_X, N(ENR_X)},
};

static const member_def MAIN_MEMBERS[] = {
    {NIK_A1, KK_A, ELIG_MEMBER_ALIVE},    {NIK_A2, KK_A, ELIG_MEMBER_DECEASED},
    {NIK_S1, KK_S, ELIG_MEMBER_ALIVE},    {NIK_S2, KK_S, ELIG_MEMBER_DECEASED},
    {NIK_G1, KK_G, ELIG_MEMBER_ALIVE},    {NIK_T1, KK_T, ELIG_MEMBER_DECEASED},
    {NIK_T2, KK_T, ELIG_MEMBER_ALIVE},    {NIK_E1, KK_E, ELIG_MEMBER_ALIVE},
    {NIK_X1, KK_X, ELIG_MEMBER_ALIVE},
};

/* What to write, and which parts of it to get wrong. */
typedef struct {
    const hh_def *hh;
    size_t n_hh;
    const member_def *members;
    size_t n_members;
    const raw_rec *raw_hh, *raw_nik, *raw_kks;
    size_t n_raw_hh, n_raw_nik, n_raw_kks;
    const char *schema; /* NULL: "2" */
    bool no_schema;     /* leave the schema_version key out */
    bool no_id;         /* leave the snapshot_id key out */
    bool no_nik_db;     /* leave the "nik" database out */
    long long hh_delta, member_delta; /* added to the true counts in "meta" */
    idx_damage idx;
    bool no_idx; /* leave the "idx" database out */
    const char *id;        /* NULL: "test-snap-0001" */
    bool no_content;       /* leave content_sha256 out */
    bool no_trailer;       /* leave the checksum trailer off */
    uint64_t idx_buckets;  /* 0: as the builder sizes it; else a multiple of 64 */
    uint32_t idx_shift;    /* 0: ELIG_IDX_CHUNK_SHIFT; 6 = chunks of 64 buckets */
} snap_spec;

#define SHA_H "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_M "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA_E "3333333333333333333333333333333333333333333333333333333333333333"
/* The reader does not recompute it at open; test_content_hash does. */
#define CONTENT_FAKE "4444444444444444444444444444444444444444444444444444444444444444"

static void sha256_of(const void *p, size_t n, unsigned char out[32]) {
    unsigned int len;
    assert_true(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL));
}

static void le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The checksum trailer of docs/SNAPSHOT.md, written by hand: magic,
 * version 1, size 128, bytes covered, their SHA-256, 40 zero bytes, the
 * SHA-256 of the 96 bytes before. */
static void append_trailer(const char *path) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    unsigned char *data = malloc((size_t)n), t[128] = {0};
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    memcpy(t, "ELIGSUM1", 8);
    le(t + 8, 1, 4);
    le(t + 12, 128, 4);
    le(t + 16, (uint64_t)n, 8);
    sha256_of(data, (size_t)n, t + 24);
    sha256_of(t, 96, t + 96);
    assert_int_equal(fwrite(t, 1, 128, f), 128);
    assert_int_equal(fclose(f), 0);
    free(data);
}

static void put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn) {
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

static void put_meta(MDB_txn *txn, MDB_dbi dbi, const char *k, const char *v) {
    put(txn, dbi, k, strlen(k), v, strlen(v));
}

static void put_meta_count(MDB_txn *txn, MDB_dbi dbi, const char *k, long long n) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", n);
    put_meta(txn, dbi, k, buf);
}

static void put_hh(MDB_txn *txn, MDB_dbi dbi, const hh_def *d) {
    unsigned char buf[ELIG_REC_HH_HEAD + 16 * (ELIG_REC_ENR_HEAD + ELIG_WIRE_PROGRAM_MAX)];
    assert_true(d->n_enr <= 16);
    elig_rec_hh head = {d->kk, d->region, d->has_kks ? d->kks : 0, d->members, (uint32_t)d->n_enr,
                        (uint8_t)d->status, d->has_kks ? ELIG_REC_HAS_KKS : 0};
    size_t off = elig_rec_hh_put(buf, &head);
    for (size_t i = 0; i < d->n_enr; i++) {
        elig_enrollment e = {d->enr[i].program, (uint8_t)strlen(d->enr[i].program), d->enr[i].start,
                             d->enr[i].end, d->enr[i].amount, d->enr[i].status};
        off += elig_rec_enr_put(buf + off, &e);
    }
    put(txn, dbi, &d->kk, sizeof d->kk, buf, off);
}

static void put_raws(MDB_txn *txn, MDB_dbi dbi, const raw_rec *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        put(txn, dbi, &r[i].key, sizeof r[i].key, r[i].bytes, r[i].len);
}

/* ---- the index, by hand ---------------------------------------------------
 *
 * What lib/index.h documents: home bucket from the mixed key, 4 slots per
 * bucket, linear probing by bucket, the flag on every full bucket passed. */

#define KK_GOOD 3300000000000001ULL /* the damaged fixture's one good family */

typedef struct {
    uint64_t kk, off, len;
} hh_loc;

typedef struct {
    unsigned char *b; /* nb * 64 bytes */
    uint64_t nb, used, per_kind[ELIG_KIND_COUNT];
    uint32_t max_probe;
} hand_index;

static void hand_insert(hand_index *x, elig_kind kind, uint64_t id, uint64_t target) {
    uint64_t key = elig_idx_key(kind, id);
    uint64_t b = elig_idx_home(key, ELIG_IDX_SEED, x->nb);
    for (uint32_t probe = 1; probe <= x->nb; probe++) {
        unsigned char *p = x->b + b * 64;
        for (int s = 0; s < 4; s++) {
            uint64_t k;
            memcpy(&k, p + 16 * s, 8);
            if ((k & ~ELIG_IDX_FLAG) == 0) {
                k |= key;
                memcpy(p + 16 * s, &k, 8);
                memcpy(p + 16 * s + 8, &target, 8);
                x->used++;
                x->per_kind[kind]++;
                if (probe > x->max_probe)
                    x->max_probe = probe;
                return;
            }
        }
        p[7] |= 0x80; /* bit 63 of slot 0's key: the overflow flag */
        b = (b + 1) % x->nb;
    }
    fail_msg("hand index full");
}

static const hh_loc *loc_of(const hh_loc *locs, size_t n, uint64_t kk) {
    for (size_t i = 0; i < n; i++)
        if (locs[i].kk == kk)
            return &locs[i];
    return NULL;
}

/* The target of a raw record's index entry. */
static uint64_t raw_target(const raw_rec *r, const hh_loc *locs, size_t n, uint64_t file_end) {
    const hh_loc *l = loc_of(locs, n, r->how == TO_KK ? (r->to_kk ? r->to_kk : r->key) : KK_GOOD);
    switch (r->how) {
    case TO_KK:
        assert_non_null(l);
        return elig_idx_target(l->off, l->len, false);
    case TO_BEYOND_FILE:
        return elig_idx_target(file_end + 4096, 40, false);
    case TO_ZERO_LEN:
        assert_non_null(l);
        return elig_idx_target(l->off, 0, false);
    default: /* TO_STRADDLE_END */
        return elig_idx_target(file_end - 10, 40, false);
    }
}

static void write_index(MDB_env *env, const snap_spec *sp) {
    MDB_txn *txn;
    MDB_dbi hh, idx;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_stat ms;
    MDB_envinfo info;
    hh_loc locs[64];
    size_t n_loc = 0;
    assert_int_equal(mdb_env_stat(env, &ms), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &hh), 0);
    assert_int_equal(mdb_cursor_open(txn, hh, &cur), 0);
    while (mdb_cursor_get(cur, &k, &v, n_loc ? MDB_NEXT : MDB_FIRST) == 0) {
        assert_true(n_loc < 64);
        locs[n_loc++] = (hh_loc){elig_rd64(k.mv_data), elig_idx_value_offset(v.mv_data, ms.ms_psize), v.mv_size};
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    assert_int_equal(mdb_env_info(env, &info), 0);
    uint64_t file_end = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;

    size_t n = sp->n_hh + sp->n_raw_hh + sp->n_members + sp->n_raw_nik + sp->n_raw_kks;
    for (size_t i = 0; i < sp->n_hh; i++)
        n += sp->hh[i].has_kks;
    hand_index x = {.nb = sp->idx_buckets ? sp->idx_buckets : elig_idx_buckets_for(n),
                    .max_probe = 1}; /* at least 1 (index.h) */
    uint32_t shift = sp->idx_shift ? sp->idx_shift : ELIG_IDX_CHUNK_SHIFT;
    uint64_t per = UINT64_C(1) << shift;
    uint32_t nchunks = (uint32_t)((x.nb + per - 1) / per);
    assert_true(nchunks <= 8);
    x.b = calloc(x.nb, 64);
    assert_non_null(x.b);
    for (size_t i = 0; i < sp->n_hh; i++) {
        const hh_loc *l = loc_of(locs, n_loc, sp->hh[i].kk);
        uint64_t t = elig_idx_target(l->off, l->len, false);
        hand_insert(&x, ELIG_KIND_KK, sp->hh[i].kk, t);
        if (sp->hh[i].has_kks)
            hand_insert(&x, ELIG_KIND_KKS, sp->hh[i].kks, t);
    }
    for (size_t i = 0; i < sp->n_raw_hh; i++)
        hand_insert(&x, ELIG_KIND_KK, sp->raw_hh[i].key, raw_target(&sp->raw_hh[i], locs, n_loc, file_end));
    for (size_t i = 0; i < sp->n_members; i++) {
        const hh_loc *l = loc_of(locs, n_loc, sp->members[i].kk);
        assert_non_null(l);
        hand_insert(&x, ELIG_KIND_NIK, sp->members[i].nik,
                    elig_idx_target(l->off, l->len, sp->members[i].status == ELIG_MEMBER_DECEASED));
    }
    for (size_t i = 0; i < sp->n_raw_nik; i++)
        hand_insert(&x, ELIG_KIND_NIK, sp->raw_nik[i].key, raw_target(&sp->raw_nik[i], locs, n_loc, file_end));
    for (size_t i = 0; i < sp->n_raw_kks; i++)
        hand_insert(&x, ELIG_KIND_KKS, sp->raw_kks[i].key, raw_target(&sp->raw_kks[i], locs, n_loc, file_end));

    /* the chunks (keys 1..), each on overflow pages of its own, then the
     * header (key 0) with their file offsets */
    uint64_t chunk_off[8];
    for (uint32_t c = 0; c < nchunks; c++) {
        uint64_t key_c = c + 1, nb = c + 1 < nchunks ? per : x.nb - c * per;
        MDB_val key = {8, &key_c}, val = {ELIG_IDX_PAD + nb * 64, NULL};
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, ELIG_DB_IDX, MDB_INTEGERKEY | MDB_CREATE, &idx), 0);
        assert_int_equal(mdb_put(txn, idx, &key, &val, MDB_RESERVE), 0);
        memset(val.mv_data, 0, ELIG_IDX_PAD);
        memcpy((unsigned char *)val.mv_data + ELIG_IDX_PAD, x.b + c * per * 64, nb * 64);
        assert_int_equal(mdb_txn_commit(txn), 0);
    }
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, ELIG_DB_IDX, MDB_INTEGERKEY, &idx), 0);
    for (uint32_t c = 0; c < nchunks; c++) {
        uint64_t key_c = c + 1;
        MDB_val key = {8, &key_c}, val;
        assert_int_equal(mdb_get(txn, idx, &key, &val), 0);
        chunk_off[c] = elig_idx_value_offset(val.mv_data, ms.ms_psize);
    }
    elig_idx_head h = {.magic = ELIG_IDX_MAGIC, .version = ELIG_IDX_VERSION, .nbuckets = x.nb, .entries = x.used,
                       .chunk_shift = shift, .nchunks = nchunks, .max_probe = x.max_probe,
                       .pad = ELIG_IDX_PAD, .seed = ELIG_IDX_SEED};
    memcpy(h.per_kind, x.per_kind, sizeof h.per_kind);
    if (sp->idx == IDX_BAD_MAGIC)
        h.magic ^= 1;
    if (sp->idx == IDX_CHUNK_BEYOND)
        chunk_off[nchunks - 1] = file_end + (1u << 20);
    if (sp->idx == IDX_KIND_COUNT_OFF) {
        h.per_kind[ELIG_KIND_NIK]--;
        h.per_kind[ELIG_KIND_KK]++;
    }
    if (sp->idx == IDX_NO_PROBE)
        h.max_probe = 0;
    unsigned char head[ELIG_IDX_HEAD + 8 * 8];
    elig_idx_head_put(head, &h);
    memcpy(head + ELIG_IDX_HEAD, chunk_off, 8 * nchunks);
    uint64_t zero = 0;
    MDB_val key = {8, &zero}, val = {ELIG_IDX_HEAD + 8 * (size_t)nchunks, head};
    assert_int_equal(mdb_put(txn, idx, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    free(x.b);
}

static void write_snapshot(const char *path, const snap_spec *sp) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, hh, nik = 0, kks;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, ELIG_DB_MAX), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1 << 20), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, ELIG_DB_META, MDB_CREATE, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, ELIG_DB_HH, MDB_CREATE | MDB_INTEGERKEY, &hh), 0);
    if (!sp->no_nik_db)
        assert_int_equal(mdb_dbi_open(txn, ELIG_DB_NIK, MDB_CREATE | MDB_INTEGERKEY, &nik), 0);
    assert_int_equal(mdb_dbi_open(txn, ELIG_DB_KKS, MDB_CREATE | MDB_INTEGERKEY, &kks), 0);

    long long n_enr = 0;
    for (size_t i = 0; i < sp->n_hh; i++) {
        put_hh(txn, hh, &sp->hh[i]);
        if (sp->hh[i].has_kks)
            put(txn, kks, &sp->hh[i].kks, 8, &sp->hh[i].kk, 8);
        n_enr += (long long)sp->hh[i].n_enr;
    }
    put_raws(txn, hh, sp->raw_hh, sp->n_raw_hh);
    put_raws(txn, kks, sp->raw_kks, sp->n_raw_kks);
    if (!sp->no_nik_db) {
        for (size_t i = 0; i < sp->n_members; i++) {
            unsigned char v[ELIG_REC_MEMBER];
            elig_rec_member_put(v, sp->members[i].kk, sp->members[i].status);
            put(txn, nik, &sp->members[i].nik, 8, v, sizeof v);
        }
        put_raws(txn, nik, sp->raw_nik, sp->n_raw_nik);
    }

    if (!sp->no_schema)
        put_meta(txn, meta, ELIG_META_SCHEMA, sp->schema ? sp->schema : "2");
    if (!sp->no_id)
        put_meta(txn, meta, ELIG_META_ID, sp->id ? sp->id : "test-snap-0001");
    put_meta(txn, meta, ELIG_META_CREATED, "2026-11-27T23:40:00Z");
    put_meta_count(txn, meta, ELIG_META_HOUSEHOLDS,
                   (long long)(sp->n_hh + sp->n_raw_hh) + sp->hh_delta);
    put_meta_count(txn, meta, ELIG_META_MEMBERS,
                   (long long)(sp->n_members + sp->n_raw_nik) + sp->member_delta);
    put_meta_count(txn, meta, ELIG_META_ENROLLMENTS, n_enr);
    put_meta(txn, meta, ELIG_META_SHA_HOUSEHOLDS, SHA_H);
    put_meta(txn, meta, ELIG_META_SHA_MEMBERS, SHA_M);
    put_meta(txn, meta, ELIG_META_SHA_ENROLLMENTS, SHA_E);
    if (!sp->no_content)
        put_meta(txn, meta, ELIG_META_CONTENT, CONTENT_FAKE);
    assert_int_equal(mdb_txn_commit(txn), 0);
    if (!sp->no_idx && !sp->no_nik_db)
        write_index(env, sp);
    mdb_env_close(env);
    if (!sp->no_trailer)
        append_trailer(path);
}

/* ---- damaged records ----------------------------------------------------- */

#define KK_GOOD 3300000000000001ULL
#define KK_D_SHORT_ENR 3300000000000011ULL  /* enrollment cut inside its fixed part */
#define KK_D_SHORT_PROG 3300000000000012ULL /* program bytes cut */
#define KK_D_MISSING 3300000000000013ULL    /* says 2 enrollments, holds 1 */
#define KK_D_TRAILING 3300000000000014ULL   /* says 0 enrollments, holds bytes */
#define KK_D_STATUS 3300000000000015ULL     /* household status 7 */
#define KK_D_HEAD 3300000000000016ULL       /* shorter than the head */
#define KK_D_PLEN0 3300000000000017ULL      /* program length 0 */
#define KK_D_PLEN17 3300000000000018ULL     /* program length 17 */
#define KK_D_EMPTY 3300000000000019ULL      /* zero-length value */
#define NIK_GOOD 3301011508900001ULL
#define NIK_TO_DAMAGED 3301011508900002ULL  /* family is KK_D_SHORT_ENR */
#define NIK_ORPHAN 3301011508900003ULL      /* index entry past the end of the file */
#define NIK_SHORT 3301011508900004ULL       /* index entry of length 0 */
#define KKS_SHORT 5300000000000001ULL       /* index entry names a family without this card */
#define KKS_ORPHAN 5300000000000002ULL      /* index entry runs past the end of the file */
#define KKS_TO_DAMAGED 5300000000000003ULL  /* names KK_D_MISSING */
#define KK_D_WRONG 3300000000000020ULL      /* good record; its index entry names KK_GOOD's */
#define KK_ABSENT 3300000000000099ULL

static const enr_def ENR_GOOD[] = {{"PKH", MON(2024, 1), OPEN, 300000, ELIG_ENR_ACTIVE}};
static const hh_def DAMAGED_HH[] = {
    {KK_GOOD, REG_A, ELIG_HH_ACTIVE, false, 0, 1, ENR_GOOD, N(ENR_GOOD)},
};
static const member_def DAMAGED_MEMBERS[] = {
    {NIK_GOOD, KK_GOOD, ELIG_MEMBER_ALIVE},
    {NIK_TO_DAMAGED, KK_D_SHORT_ENR, ELIG_MEMBER_ALIVE},
};

/* Raw household values, built once in the group setup. */
static unsigned char d_short_enr[ELIG_REC_HH_HEAD + 10];
static unsigned char d_short_prog[ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD + 1];
static unsigned char d_missing[ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD + 3];
static unsigned char d_trailing[ELIG_REC_HH_HEAD + 5];
static unsigned char d_status[ELIG_REC_HH_HEAD];
static unsigned char d_head[ELIG_REC_HH_HEAD - 1];
static unsigned char d_plen0[ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD];
static unsigned char d_plen17[ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD + 17];
static unsigned char d_wrong[ELIG_REC_HH_HEAD];
static unsigned char d_nik_short[8];
static unsigned char d_nik_orphan[ELIG_REC_MEMBER];
static unsigned char d_kks_short[4];
static uint64_t d_kks_orphan = KK_ABSENT;
static uint64_t d_kks_to_damaged = KK_D_MISSING;

/* Head of household kk with n enrollments, status active unless told. */
static void raw_head_of(unsigned char *p, uint64_t kk, uint32_t n_enr, uint8_t status) {
    elig_rec_hh h = {kk, REG_A, 0, 1, n_enr, status, 0};
    elig_rec_hh_put(p, &h);
}
#define raw_head(p, n_enr, status) raw_head_of(p, 0, n_enr, status)

/* One enrollment's fixed part: PKH 2024-01.. open, 1000, active, plen. */
static void raw_enr(unsigned char *p, uint8_t plen) {
    elig_wr32(p, MON(2024, 1));
    elig_wr32(p + 4, OPEN);
    elig_wr32(p + 8, 1000);
    p[12] = ELIG_ENR_ACTIVE;
    p[13] = plen;
}

static void build_damaged_values(void) {
    unsigned char enr[ELIG_REC_ENR_HEAD];
    raw_head(d_short_enr, 1, ELIG_HH_ACTIVE);
    raw_enr(enr, 3);
    memcpy(d_short_enr + ELIG_REC_HH_HEAD, enr, 10); /* only 10 of its 14+3 bytes kept */

    raw_head(d_short_prog, 1, ELIG_HH_ACTIVE);
    raw_enr(d_short_prog + ELIG_REC_HH_HEAD, 3);
    memcpy(d_short_prog + ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD, "P", 1); /* 1 of 3 */

    raw_head(d_missing, 2, ELIG_HH_ACTIVE);
    raw_enr(d_missing + ELIG_REC_HH_HEAD, 3);
    memcpy(d_missing + ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD, "PKH", 3);

    raw_head(d_trailing, 0, ELIG_HH_ACTIVE);
    memcpy(d_trailing + ELIG_REC_HH_HEAD, "extra", 5);

    raw_head(d_status, 0, 7);

    unsigned char full[ELIG_REC_HH_HEAD];
    raw_head(full, 0, ELIG_HH_ACTIVE);
    memcpy(d_head, full, sizeof d_head);

    raw_head(d_plen0, 1, ELIG_HH_ACTIVE);
    raw_enr(d_plen0 + ELIG_REC_HH_HEAD, 0);

    raw_head(d_plen17, 1, ELIG_HH_ACTIVE);
    raw_enr(d_plen17 + ELIG_REC_HH_HEAD, 17);
    memcpy(d_plen17 + ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD, "ABCDEFGHIJKLMNOPQ", 17);

    raw_head_of(d_wrong, KK_D_WRONG, 0, ELIG_HH_ACTIVE);

    elig_wr64(d_nik_short, KK_GOOD);
    elig_rec_member_put(d_nik_orphan, KK_ABSENT, ELIG_MEMBER_ALIVE);
    memset(d_kks_short, 0, sizeof d_kks_short);
}

/* Their index entries name their own values (how TO_KK, to_kk 0), except
 * KK_D_WRONG's. */
static const raw_rec DAMAGED_RAW_HH[] = {
    {KK_D_SHORT_ENR, d_short_enr, sizeof d_short_enr, TO_KK, 0},
    {KK_D_SHORT_PROG, d_short_prog, sizeof d_short_prog, TO_KK, 0},
    {KK_D_MISSING, d_missing, sizeof d_missing, TO_KK, 0},
    {KK_D_TRAILING, d_trailing, sizeof d_trailing, TO_KK, 0},
    {KK_D_STATUS, d_status, sizeof d_status, TO_KK, 0},
    {KK_D_HEAD, d_head, sizeof d_head, TO_KK, 0},
    {KK_D_PLEN0, d_plen0, sizeof d_plen0, TO_KK, 0},
    {KK_D_PLEN17, d_plen17, sizeof d_plen17, TO_KK, 0},
    {KK_D_EMPTY, d_head, 0, TO_KK, 0},
    {KK_D_WRONG, d_wrong, sizeof d_wrong, TO_KK, KK_GOOD},
};
static const raw_rec DAMAGED_RAW_NIK[] = {
    {NIK_SHORT, d_nik_short, sizeof d_nik_short, TO_ZERO_LEN, 0},
    {NIK_ORPHAN, d_nik_orphan, sizeof d_nik_orphan, TO_BEYOND_FILE, 0},
};
static const raw_rec DAMAGED_RAW_KKS[] = {
    {KKS_SHORT, d_kks_short, sizeof d_kks_short, TO_KK, KK_GOOD},
    {KKS_ORPHAN, (const unsigned char *)&d_kks_orphan, 8, TO_STRADDLE_END, 0},
    {KKS_TO_DAMAGED, (const unsigned char *)&d_kks_to_damaged, 8, TO_KK, KK_D_MISSING},
};

/* ---- group state --------------------------------------------------------- */

typedef struct {
    char dir[64];
    char main_path[128], damaged_path[128];
    elig_snap *snap, *dsnap;
    elig_reader *r, *dr;
} fixture;

static void path_in(const fixture *f, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static int group_setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/elig-test-rule-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    path_in(f, "main.mdb", f->main_path, sizeof f->main_path);
    path_in(f, "damaged.mdb", f->damaged_path, sizeof f->damaged_path);

    /* four chunks of 64 buckets, so lookups cross chunks and wrap around */
    snap_spec main_spec = {.hh = MAIN_HH, .n_hh = N(MAIN_HH), .members = MAIN_MEMBERS,
                           .n_members = N(MAIN_MEMBERS), .idx_buckets = 256, .idx_shift = 6};
    write_snapshot(f->main_path, &main_spec);

    build_damaged_values();
    snap_spec dspec = {.hh = DAMAGED_HH, .n_hh = N(DAMAGED_HH), .members = DAMAGED_MEMBERS,
                       .n_members = N(DAMAGED_MEMBERS), .raw_hh = DAMAGED_RAW_HH,
                       .n_raw_hh = N(DAMAGED_RAW_HH), .raw_nik = DAMAGED_RAW_NIK,
                       .n_raw_nik = N(DAMAGED_RAW_NIK), .raw_kks = DAMAGED_RAW_KKS,
                       .n_raw_kks = N(DAMAGED_RAW_KKS)};
    write_snapshot(f->damaged_path, &dspec);

    char err[256] = "";
    if (elig_snap_open(f->main_path, &f->snap, err, sizeof err) != 0 ||
        elig_reader_open(f->snap, &f->r) != 0) {
        fprintf(stderr, "main fixture: %s\n", err);
        return -1;
    }
    if (elig_snap_open(f->damaged_path, &f->dsnap, err, sizeof err) != 0 ||
        elig_reader_open(f->dsnap, &f->dr) != 0) {
        fprintf(stderr, "damaged fixture: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    fixture *f = *state;
    if (!f)
        return 0;
    elig_reader_close(f->r);
    elig_reader_close(f->dr);
    elig_snap_close(f->snap);
    elig_snap_close(f->dsnap);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- answer helpers ------------------------------------------------------ */

static elig_query make_query(elig_kind kind, uint64_t id, const char *program, elig_month period) {
    elig_query q;
    memset(&q, 0, sizeof q);
    q.kind = kind;
    q.id = id;
    q.program_len = (uint8_t)strlen(program);
    memcpy(q.program, program, q.program_len);
    q.period = period;
    return q;
}

static const char *reason_name(int r) {
    const char *s = elig_reason_code((elig_reason)r);
    return s ? s : "(out of range)";
}

/* Asserts the answer to (kind, id, program, period). For not_found, found
 * must be false; otherwise found, kk and region must be the family's. The
 * amount must be `amount` when eligible and 0 otherwise (SPEC 3). */
static void expect_answer(const char *file, int line, elig_reader *r, elig_kind kind, uint64_t id,
                          const char *program, elig_month period, elig_reason reason, uint64_t kk,
                          uint64_t region, uint32_t amount) {
    elig_query q = make_query(kind, id, program, period);
    elig_answer a;
    memset(&a, 0x5A, sizeof a); /* garbage in every field the rule must set */
    int rc = elig_check(r, &q, &a);
    char p[8];
    elig_format_period(period, p);
    if (rc != 0) {
        print_error("%s %016llu %s %s: elig_check = %d (%s), want 0\n", elig_kind_name(kind),
                    (unsigned long long)id, program, p, rc, elig_strerror(rc));
        _fail(file, line);
    }
    bool want_found = reason != ELIG_REASON_NOT_FOUND;
    uint32_t want_amount = reason == ELIG_REASON_ELIGIBLE ? amount : 0;
    if (a.reason != reason || a.found != want_found || (want_found && (a.kk != kk || a.region != region)) ||
        a.amount != want_amount) {
        print_error("%s %016llu %s %s: got reason=%s found=%d kk=%llu region=%llu amount=%lu; "
                    "want reason=%s found=%d kk=%llu region=%llu amount=%lu\n",
                    elig_kind_name(kind), (unsigned long long)id, program, p, reason_name((int)a.reason),
                    (int)a.found, (unsigned long long)a.kk, (unsigned long long)a.region,
                    (unsigned long)a.amount, reason_name((int)reason), (int)want_found,
                    (unsigned long long)kk, (unsigned long long)region, (unsigned long)want_amount);
        _fail(file, line);
    }
}

#define ANSWER(r, kind, id, prog, period, reason, kk, region, amount)                              \
    expect_answer(__FILE__, __LINE__, r, ELIG_KIND_##kind, id, prog, period, ELIG_REASON_##reason,  \
                  kk, region, amount)
#define NOT_FOUND(r, kind, id, prog, period)                                                       \
    ANSWER(r, kind, id, prog, period, NOT_FOUND, 0, 0, 0)

static int raw_check(elig_reader *r, elig_kind kind, uint64_t id, const char *program, elig_month period) {
    elig_query q = make_query(kind, id, program, period);
    elig_answer a;
    return elig_check(r, &q, &a);
}

/* ---- metadata ------------------------------------------------------------ */

static void test_meta(void **state) {
    fixture *f = *state;
    const elig_meta *m = elig_snap_meta(f->snap);
    assert_int_equal(m->schema_version, 2);
    assert_string_equal(m->id, "test-snap-0001");
    assert_string_equal(m->created, "2026-11-27T23:40:00Z");
    assert_int_equal(m->households, 6);
    assert_int_equal(m->members, 9);
    assert_int_equal(m->enrollments, 11);
    assert_string_equal(m->sha256_households, SHA_H);
    assert_string_equal(m->sha256_members, SHA_M);
    assert_string_equal(m->sha256_enrollments, SHA_E);
    assert_ptr_equal(elig_reader_snap(f->r), f->snap);
}

/* ---- step 1: resolution and not_found ------------------------------------ */

static void test_not_found(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    NOT_FOUND(r, KK, KK_NONE, "PKH", MON(2024, 1));
    NOT_FOUND(r, NIK, NIK_NONE, "PKH", MON(2024, 1));
    NOT_FOUND(r, KKS, KKS_NONE, "PKH", MON(2024, 1));
    NOT_FOUND(r, KK, 0, "PKH", MON(2024, 1));
    NOT_FOUND(r, NIK, 0, "PKH", MON(2024, 1));
    NOT_FOUND(r, KKS, 0, "PKH", MON(2024, 1));
    NOT_FOUND(r, KK, 9999999999999999ULL, "PKH", MON(2024, 1));
    /* unknown program and period do not matter when the id names nothing */
    NOT_FOUND(r, KK, KK_NONE, "NOPE", MON(1, 1));
}

/* An id of one kind is not looked up as another. */
static void test_kinds_do_not_mix(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    NOT_FOUND(r, KK, NIK_A1, "PKH", MON(2024, 1));
    NOT_FOUND(r, KK, KKS_A, "PKH", MON(2024, 1));
    NOT_FOUND(r, KKS, KK_A, "PKH", MON(2024, 1));
    NOT_FOUND(r, KKS, NIK_A1, "PKH", MON(2024, 1));
    NOT_FOUND(r, NIK, KK_A, "PKH", MON(2024, 1));
    NOT_FOUND(r, NIK, KKS_A, "PKH", MON(2024, 1));
}

static void test_resolution(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    /* kk, kks and an alive member's nik name the same family and answer alike */
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 3), ELIGIBLE, KK_A, REG_A, 750000);
    ANSWER(r, KKS, KKS_A, "PKH", MON(2024, 3), ELIGIBLE, KK_A, REG_A, 750000);
    ANSWER(r, NIK, NIK_A1, "PKH", MON(2024, 3), ELIGIBLE, KK_A, REG_A, 750000);
    ANSWER(r, KK, KK_X, "PKH", MON(2025, 6), ELIGIBLE, KK_X, REG_X, 1);
    ANSWER(r, KKS, KKS_X, "PKH", MON(2025, 6), ELIGIBLE, KK_X, REG_X, 1);
    ANSWER(r, NIK, NIK_X1, "PKH", MON(2025, 6), ELIGIBLE, KK_X, REG_X, 1);
    /* the family found is reported even when the answer is no */
    ANSWER(r, KKS, KKS_G, "PKH", MON(2024, 1), HOUSEHOLD_GRADUATED, KK_G, REG_G, 0);
    ANSWER(r, NIK, NIK_E1, "PKH", MON(2024, 1), NOT_ENROLLED, KK_E, REG_E, 0);
}

/* ---- step 2: member_deceased --------------------------------------------- */

static void test_deceased_by_nik_only(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, NIK, NIK_A2, "PKH", MON(2024, 1), MEMBER_DECEASED, KK_A, REG_A, 0);
    /* the same family by kk or kks is not member_deceased */
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 1), ELIGIBLE, KK_A, REG_A, 750000);
    ANSWER(r, KKS, KKS_A, "PKH", MON(2024, 1), ELIGIBLE, KK_A, REG_A, 750000);
    /* nor is another, living member of it */
    ANSWER(r, NIK, NIK_A1, "PKH", MON(2024, 1), ELIGIBLE, KK_A, REG_A, 750000);
}

/* Step 2 comes before steps 3-6. */
static void test_deceased_precedence(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    /* before the household's status (3) */
    ANSWER(r, NIK, NIK_S2, "PKH", MON(2024, 1), MEMBER_DECEASED, KK_S, REG_S, 0);
    ANSWER(r, NIK, NIK_S1, "PKH", MON(2024, 1), HOUSEHOLD_SUSPENDED, KK_S, REG_S, 0);
    ANSWER(r, NIK, NIK_T1, "PKH", MON(2024, 1), MEMBER_DECEASED, KK_T, REG_T, 0);
    ANSWER(r, NIK, NIK_T2, "PKH", MON(2024, 1), HOUSEHOLD_TERMINATED, KK_T, REG_T, 0);
    /* before not_enrolled (4), outside_period (5), enrollment_suspended (6) */
    ANSWER(r, NIK, NIK_A2, "NOPE", MON(2024, 1), MEMBER_DECEASED, KK_A, REG_A, 0);
    ANSWER(r, NIK, NIK_A2, "PKH", MON(2023, 12), MEMBER_DECEASED, KK_A, REG_A, 0);
    ANSWER(r, NIK, NIK_A2, "BPNT", MON(2024, 3), MEMBER_DECEASED, KK_A, REG_A, 0);
}

/* ---- step 3: household status -------------------------------------------- */

static void test_household_status(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, KK, KK_S, "PKH", MON(2024, 1), HOUSEHOLD_SUSPENDED, KK_S, REG_S, 0);
    ANSWER(r, KK, KK_G, "PKH", MON(2024, 1), HOUSEHOLD_GRADUATED, KK_G, REG_G, 0);
    ANSWER(r, KKS, KKS_G, "PKH", MON(2024, 1), HOUSEHOLD_GRADUATED, KK_G, REG_G, 0);
    ANSWER(r, NIK, NIK_G1, "PKH", MON(2024, 1), HOUSEHOLD_GRADUATED, KK_G, REG_G, 0);
    ANSWER(r, KK, KK_T, "PKH", MON(2024, 1), HOUSEHOLD_TERMINATED, KK_T, REG_T, 0);
}

/* Step 3 comes before steps 4-6. */
static void test_household_status_precedence(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    /* T has no enrollment at all: still terminated, not not_enrolled */
    ANSWER(r, KK, KK_T, "BPNT", MON(2024, 1), HOUSEHOLD_TERMINATED, KK_T, REG_T, 0);
    ANSWER(r, KK, KK_S, "NOPE", MON(2024, 1), HOUSEHOLD_SUSPENDED, KK_S, REG_S, 0);
    /* S's PKH starts 2020-01: before it, still household_suspended */
    ANSWER(r, KK, KK_S, "PKH", MON(2019, 12), HOUSEHOLD_SUSPENDED, KK_S, REG_S, 0);
    ANSWER(r, KK, KK_G, "PKH", MON(2019, 12), HOUSEHOLD_GRADUATED, KK_G, REG_G, 0);
}

/* ---- step 4: not_enrolled ------------------------------------------------ */

static void test_not_enrolled(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, KK, KK_E, "PKH", MON(2024, 1), NOT_ENROLLED, KK_E, REG_E, 0);
    ANSWER(r, NIK, NIK_E1, "PKH", MON(2024, 1), NOT_ENROLLED, KK_E, REG_E, 0);
    ANSWER(r, KK, KK_A, "NOPE", MON(2024, 1), NOT_ENROLLED, KK_A, REG_A, 0);
    /* programme names match whole, not by prefix */
    ANSWER(r, KK, KK_A, "PK", MON(2024, 1), NOT_ENROLLED, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "PKHX", MON(2024, 1), NOT_ENROLLED, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "BPNT2", MON(2024, 3), NOT_ENROLLED, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "PB", MON(2023, 1), NOT_ENROLLED, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_X, "PKH_", MON(2024, 1), NOT_ENROLLED, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "MA", MON(2024, 1), NOT_ENROLLED, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "MAXX", MON(2024, 1), NOT_ENROLLED, KK_X, REG_X, 0);
}

/* ---- step 5: outside_period ---------------------------------------------- */

static void test_outside_period(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, KK, KK_A, "PKH", MON(2023, 12), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "PKH", MON(1, 1), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "PBI", MON(2022, 12), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "PBI", MON(2024, 1), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    ANSWER(r, KKS, KKS_A, "PBI", MON(9999, 12), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    /* a suspended enrollment that does not cover the month: outside_period (5 before 6) */
    ANSWER(r, KK, KK_A, "BPNT", MON(2024, 2), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_A, "BPNT", MON(2024, 4), OUTSIDE_PERIOD, KK_A, REG_A, 0);
    /* X's PKH: suspended 2024, active 2025, gap 2026-01..02, active 2026-03 */
    ANSWER(r, KK, KK_X, "PKH", MON(2023, 12), OUTSIDE_PERIOD, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "PKH", MON(2026, 1), OUTSIDE_PERIOD, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "PKH", MON(2026, 2), OUTSIDE_PERIOD, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "PKH", MON(2026, 4), OUTSIDE_PERIOD, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "PKH", MON(9999, 12), OUTSIDE_PERIOD, KK_X, REG_X, 0);
}

/* ---- step 6: enrollment_suspended ---------------------------------------- */

static void test_enrollment_suspended(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, KK, KK_A, "BPNT", MON(2024, 3), ENROLLMENT_SUSPENDED, KK_A, REG_A, 0);
    ANSWER(r, KKS, KKS_A, "BPNT", MON(2024, 3), ENROLLMENT_SUSPENDED, KK_A, REG_A, 0);
    ANSWER(r, NIK, NIK_A1, "BPNT", MON(2024, 3), ENROLLMENT_SUSPENDED, KK_A, REG_A, 0);
    ANSWER(r, KK, KK_X, "PKH", MON(2024, 1), ENROLLMENT_SUSPENDED, KK_X, REG_X, 0);
    ANSWER(r, KK, KK_X, "PKH", MON(2024, 12), ENROLLMENT_SUSPENDED, KK_X, REG_X, 0);
    /* the next enrollment of the programme is active */
    ANSWER(r, KK, KK_X, "PKH", MON(2025, 1), ELIGIBLE, KK_X, REG_X, 1);
}

/* ---- step 7: eligible ---------------------------------------------------- */

/* Two consecutive enrollments of one programme with different amounts: the
 * covering one decides, and start and end months are both covered. */
static void test_consecutive_enrollments(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 1), ELIGIBLE, KK_A, REG_A, 750000); /* first start */
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 4), ELIGIBLE, KK_A, REG_A, 750000);
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 6), ELIGIBLE, KK_A, REG_A, 750000); /* first end */
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 7), ELIGIBLE, KK_A, REG_A, 900000); /* second start */
    ANSWER(r, KK, KK_A, "PKH", MON(2024, 8), ELIGIBLE, KK_A, REG_A, 900000);
    ANSWER(r, KK, KK_A, "PKH", MON(2025, 1), ELIGIBLE, KK_A, REG_A, 900000);
    ANSWER(r, KK, KK_A, "PBI", MON(2023, 1), ELIGIBLE, KK_A, REG_A, 42000);
    ANSWER(r, KK, KK_A, "PBI", MON(2023, 12), ELIGIBLE, KK_A, REG_A, 42000);
    ANSWER(r, KK, KK_X, "PKH", MON(2025, 12), ELIGIBLE, KK_X, REG_X, 1);
}

static void test_open_ended(void **state) {
    fixture *f = *state;
    elig_reader *r = f->r;
    ANSWER(r, KK, KK_A, "PKH", MON(2099, 12), ELIGIBLE, KK_A, REG_A, 900000);
    ANSWER(r, KK, KK_A, "PKH", MON(9999, 12), ELIGIBLE, KK_A, REG_A, 900000);
    ANSWER(r, KK, KK_X, "MAX", MON(1, 1), ELIGIBLE, KK_X, REG_X, 4294967295UL);
    ANSWER(r, KK, KK_X, "MAX", MON(9999, 12), ELIGIBLE, KK_X, REG_X, 4294967295UL);
    ANSWER(r, KK, KK_X, "PKH_2", MON(2024, 1), ELIGIBLE, KK_X, REG_X, 7);
    ANSWER(r, KK, KK_X, "PKH_2", MON(2023, 12), OUTSIDE_PERIOD, KK_X, REG_X, 0);
}

/* A one-month enrollment of amount 0 is still eligible (amount 0 is allowed). */
static void test_eligible_zero_amount(void **state) {
    fixture *f = *state;
    ANSWER(f->r, KK, KK_X, "PKH", MON(2026, 3), ELIGIBLE, KK_X, REG_X, 0);
    elig_query q = make_query(ELIG_KIND_KK, KK_X, "PKH", MON(2026, 3));
    elig_answer a;
    assert_int_equal(elig_check(f->r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_ELIGIBLE);
}

/* The query path from strings: elig_query_parse then elig_check. */
static void test_parse_then_check(void **state) {
    fixture *f = *state;
    elig_query q;
    elig_answer a;
    assert_int_equal(elig_query_parse(&q, "kks", 3, "5000000000000001", 16, "PKH", 3, "2024-07", 7),
                     ELIG_QUERY_OK);
    assert_int_equal(elig_check(f->r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_ELIGIBLE);
    assert_true(a.found);
    assert_int_equal(a.kk, KK_A);
    assert_int_equal(a.amount, 900000);
    char kk[17], region[11];
    elig_format_id16(a.kk, kk);
    elig_format_region(a.region, region);
    assert_string_equal(kk, "3201000000000001");
    assert_string_equal(region, "3201010001");
    /* a kk with a leading zero is well-formed and names nothing */
    assert_int_equal(elig_query_parse(&q, "kk", 2, "0201000000000001", 16, "PKH", 3, "2024-07", 7),
                     ELIG_QUERY_OK);
    assert_int_equal(elig_check(f->r, &q, &a), 0);
    assert_int_equal(a.reason, ELIG_REASON_NOT_FOUND);
    assert_false(a.found);
    assert_int_equal(a.amount, 0);
}

static void test_region_format(void **state) {
    (void)state;
    char out[11];
    elig_format_region(1101010005ULL, out);
    assert_string_equal(out, "1101010005");
    elig_format_region(9999999999ULL, out);
    assert_string_equal(out, "9999999999");
}

/* ---- elig_household_get / elig_household_next ---------------------------- */

static void expect_enr(const elig_household *h, size_t *pos, const char *program, elig_month start,
                       elig_month end, uint32_t amount, elig_enr_status status) {
    elig_enrollment e;
    memset(&e, 0, sizeof e);
    assert_true(elig_household_next(h, pos, &e));
    assert_int_equal(e.program_len, strlen(program));
    assert_memory_equal(e.program, program, e.program_len);
    assert_int_equal(e.start, start);
    assert_int_equal(e.end, end);
    assert_int_equal(e.amount, amount);
    assert_int_equal(e.status, status);
}

static void expect_end(const elig_household *h, size_t *pos) {
    elig_enrollment e;
    assert_false(elig_household_next(h, pos, &e));
    assert_false(elig_household_next(h, pos, &e)); /* stays at the end */
}

static void test_household_get_a(void **state) {
    fixture *f = *state;
    const uint64_t ids[] = {KK_A, KKS_A, NIK_A1, NIK_A2};
    const elig_kind kinds[] = {ELIG_KIND_KK, ELIG_KIND_KKS, ELIG_KIND_NIK, ELIG_KIND_NIK};
    for (size_t i = 0; i < N(ids); i++) {
        elig_household h;
        memset(&h, 0x5A, sizeof h);
        /* a deceased member's nik still names the family */
        assert_int_equal(elig_household_get(f->r, kinds[i], ids[i], &h), 1);
        assert_int_equal(h.kk, KK_A);
        assert_int_equal(h.region, REG_A);
        assert_int_equal(h.status, ELIG_HH_ACTIVE);
        assert_true(h.has_kks);
        assert_int_equal(h.kks, KKS_A);
        assert_int_equal(h.members, 2);
        assert_int_equal(h.n_enrollments, 4);
        size_t pos = 0;
        expect_enr(&h, &pos, "BPNT", MON(2024, 3), MON(2024, 3), 200000, ELIG_ENR_SUSPENDED);
        expect_enr(&h, &pos, "PBI", MON(2023, 1), MON(2023, 12), 42000, ELIG_ENR_ACTIVE);
        expect_enr(&h, &pos, "PKH", MON(2024, 1), MON(2024, 6), 750000, ELIG_ENR_ACTIVE);
        expect_enr(&h, &pos, "PKH", MON(2024, 7), OPEN, 900000, ELIG_ENR_ACTIVE);
        expect_end(&h, &pos);
    }
}

static void test_household_get_x(void **state) {
    fixture *f = *state;
    elig_household h;
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KKS, KKS_X, &h), 1);
    assert_int_equal(h.kk, KK_X);
    assert_int_equal(h.region, REG_X);
    assert_int_equal(h.members, 1);
    assert_int_equal(h.n_enrollments, 5);
    size_t pos = 0;
    expect_enr(&h, &pos, "MAX", MON(1, 1), OPEN, 4294967295UL, ELIG_ENR_ACTIVE);
    expect_enr(&h, &pos, "PKH", MON(2024, 1), MON(2024, 12), 600000, ELIG_ENR_SUSPENDED);
    expect_enr(&h, &pos, "PKH", MON(2025, 1), MON(2025, 12), 1, ELIG_ENR_ACTIVE);
    expect_enr(&h, &pos, "PKH", MON(2026, 3), MON(2026, 3), 0, ELIG_ENR_ACTIVE);
    expect_enr(&h, &pos, "PKH_2", MON(2024, 1), OPEN, 7, ELIG_ENR_ACTIVE);
    expect_end(&h, &pos);
}

static void test_household_get_statuses(void **state) {
    fixture *f = *state;
    elig_household h;
    size_t pos;

    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KK, KK_T, &h), 1);
    assert_int_equal(h.kk, KK_T);
    assert_int_equal(h.region, REG_T);
    assert_int_equal(h.status, ELIG_HH_TERMINATED);
    assert_false(h.has_kks); /* nil kks in the household result */
    assert_int_equal(h.members, 2); /* deceased included */
    assert_int_equal(h.n_enrollments, 0);
    pos = 0;
    expect_end(&h, &pos);

    assert_int_equal(elig_household_get(f->r, ELIG_KIND_NIK, NIK_S2, &h), 1);
    assert_int_equal(h.kk, KK_S);
    assert_int_equal(h.status, ELIG_HH_SUSPENDED);
    assert_false(h.has_kks);
    pos = 0;
    expect_enr(&h, &pos, "PKH", MON(2020, 1), OPEN, 500000, ELIG_ENR_ACTIVE);
    expect_end(&h, &pos);

    assert_int_equal(elig_household_get(f->r, ELIG_KIND_NIK, NIK_G1, &h), 1);
    assert_int_equal(h.kk, KK_G);
    assert_int_equal(h.region, REG_G);
    assert_int_equal(h.status, ELIG_HH_GRADUATED);
    assert_true(h.has_kks);
    assert_int_equal(h.kks, KKS_G);

    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KK, KK_E, &h), 1);
    assert_int_equal(h.status, ELIG_HH_ACTIVE);
    assert_int_equal(h.n_enrollments, 0);
    pos = 0;
    expect_end(&h, &pos);
}

static void test_household_get_unknown(void **state) {
    fixture *f = *state;
    elig_household h;
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KK, KK_NONE, &h), 0);
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_NIK, NIK_NONE, &h), 0);
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KKS, KKS_NONE, &h), 0);
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KK, NIK_A1, &h), 0);
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_KKS, KK_A, &h), 0);
    assert_int_equal(elig_household_get(f->r, ELIG_KIND_NIK, KK_A, &h), 0);
}

/* Two readers of one snapshot answer alike; warming changes nothing. */
static void test_second_reader(void **state) {
    fixture *f = *state;
    elig_reader *r2;
    elig_snap_warm(f->snap);
    assert_int_equal(elig_reader_open(f->snap, &r2), 0);
    ANSWER(r2, NIK, NIK_A2, "PKH", MON(2024, 1), MEMBER_DECEASED, KK_A, REG_A, 0);
    ANSWER(r2, KK, KK_A, "PKH", MON(2024, 7), ELIGIBLE, KK_A, REG_A, 900000);
    ANSWER(f->r, KK, KK_A, "PKH", MON(2024, 6), ELIGIBLE, KK_A, REG_A, 750000);
    elig_reader_close(r2);
}

/* ---- damaged records: an error, never a crash or a made-up answer -------- */

static void test_damaged_household_values(void **state) {
    fixture *f = *state;
    static const uint64_t bad[] = {KK_D_SHORT_ENR, KK_D_SHORT_PROG, KK_D_MISSING, KK_D_TRAILING,
                                   KK_D_STATUS,    KK_D_HEAD,       KK_D_PLEN0,   KK_D_PLEN17,
                                   KK_D_EMPTY,     KK_D_WRONG};
    for (size_t i = 0; i < N(bad); i++) {
        int rc = raw_check(f->dr, ELIG_KIND_KK, bad[i], "PKH", MON(2024, 1));
        if (rc != ELIG_ECORRUPT) {
            print_error("kk %llu (damaged #%zu): elig_check = %d, want ELIG_ECORRUPT\n",
                        (unsigned long long)bad[i], i, rc);
            fail();
        }
        elig_household h;
        rc = elig_household_get(f->dr, ELIG_KIND_KK, bad[i], &h);
        if (rc != ELIG_ECORRUPT) {
            print_error("kk %llu (damaged #%zu): elig_household_get = %d, want ELIG_ECORRUPT\n",
                        (unsigned long long)bad[i], i, rc);
            fail();
        }
    }
}

/* The truncated enrollment through every route to it. */
static void test_damaged_truncated_enrollment(void **state) {
    fixture *f = *state;
    elig_household h;
    assert_int_equal(raw_check(f->dr, ELIG_KIND_KK, KK_D_SHORT_ENR, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(raw_check(f->dr, ELIG_KIND_KK, KK_D_SHORT_ENR, "NOPE", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(raw_check(f->dr, ELIG_KIND_NIK, NIK_TO_DAMAGED, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(elig_household_get(f->dr, ELIG_KIND_NIK, NIK_TO_DAMAGED, &h), ELIG_ECORRUPT);
    assert_int_equal(raw_check(f->dr, ELIG_KIND_KKS, KKS_TO_DAMAGED, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(elig_household_get(f->dr, ELIG_KIND_KKS, KKS_TO_DAMAGED, &h), ELIG_ECORRUPT);
}

/* An index entry that points outside the file, at nothing, or at another
 * family: the builder never writes one, so it is damage, not not_found,
 * and never a read outside the file (the sanitizer build would say). */
static void test_damaged_links(void **state) {
    fixture *f = *state;
    elig_household h;
    assert_int_equal(raw_check(f->dr, ELIG_KIND_NIK, NIK_ORPHAN, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(elig_household_get(f->dr, ELIG_KIND_NIK, NIK_ORPHAN, &h), ELIG_ECORRUPT);
    assert_int_equal(raw_check(f->dr, ELIG_KIND_NIK, NIK_SHORT, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(elig_household_get(f->dr, ELIG_KIND_NIK, NIK_SHORT, &h), ELIG_ECORRUPT);
    assert_int_equal(raw_check(f->dr, ELIG_KIND_KKS, KKS_SHORT, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(elig_household_get(f->dr, ELIG_KIND_KKS, KKS_SHORT, &h), ELIG_ECORRUPT);
    assert_int_equal(raw_check(f->dr, ELIG_KIND_KKS, KKS_ORPHAN, "PKH", MON(2024, 1)), ELIG_ECORRUPT);
    assert_int_equal(elig_household_get(f->dr, ELIG_KIND_KKS, KKS_ORPHAN, &h), ELIG_ECORRUPT);
}

/* Damage is local: the rest of the snapshot still answers. */
static void test_damaged_rest_answers(void **state) {
    fixture *f = *state;
    ANSWER(f->dr, KK, KK_GOOD, "PKH", MON(2024, 1), ELIGIBLE, KK_GOOD, REG_A, 300000);
    ANSWER(f->dr, NIK, NIK_GOOD, "PKH", MON(2030, 1), ELIGIBLE, KK_GOOD, REG_A, 300000);
    NOT_FOUND(f->dr, KK, KK_ABSENT, "PKH", MON(2024, 1));
}

/* ---- elig_snap_open failures --------------------------------------------- */

/* Opens path, expecting failure with code want (or any negative if want is
 * 0); the message must name the path on one line. */
static void expect_open_fails(const char *path, int want) {
    elig_snap *s = NULL;
    char err[512] = "";
    int rc = elig_snap_open(path, &s, err, sizeof err);
    if (rc >= 0 || (want != 0 && rc != want)) {
        print_error("elig_snap_open(%s) = %d (%s), want %d\n", path, rc, err, want);
        if (rc == 0)
            elig_snap_close(s);
        fail();
    }
    if (strstr(err, path) == NULL) {
        print_error("message \"%s\" does not name %s\n", err, path);
        fail();
    }
    assert_null(strchr(err, '\n'));
    /* no message buffer at all is allowed too */
    assert_int_equal(elig_snap_open(path, &s, NULL, 0), rc);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void test_open_missing(void **state) {
    fixture *f = *state;
    char p[256];
    path_in(f, "no-such-snapshot.mdb", p, sizeof p);
    expect_open_fails(p, ELIG_ENOENT);
    path_in(f, "no-such-dir/snap.mdb", p, sizeof p);
    expect_open_fails(p, ELIG_ENOENT);
}

static void test_open_garbage(void **state) {
    fixture *f = *state;
    char p[256];
    path_in(f, "garbage.mdb", p, sizeof p);
    unsigned char buf[16384];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    write_bytes(p, buf, sizeof buf);
    expect_open_fails(p, ELIG_ECORRUPT);
    unlink(p);

    path_in(f, "text.mdb", p, sizeof p);
    write_bytes(p, "kk,region,status\n", 17);
    expect_open_fails(p, 0);
    unlink(p);
}

static void test_open_empty_file(void **state) {
    fixture *f = *state;
    char p[256];
    path_in(f, "empty.mdb", p, sizeof p);
    write_bytes(p, "", 0);
    expect_open_fails(p, 0);
    unlink(p);
}

static void test_open_directory(void **state) {
    fixture *f = *state;
    expect_open_fails(f->dir, 0);
}

static void open_spec_fails(const fixture *f, const char *name, const snap_spec *sp, int want) {
    char p[256];
    path_in(f, name, p, sizeof p);
    write_snapshot(p, sp);
    expect_open_fails(p, want);
    unlink(p);
}

#define BASE_SPEC                                                                                  \
    .hh = MAIN_HH, .n_hh = N(MAIN_HH), .members = MAIN_MEMBERS, .n_members = N(MAIN_MEMBERS)

static void test_open_schema(void **state) {
    fixture *f = *state;
    snap_spec s3 = {BASE_SPEC, .schema = "3"};
    open_spec_fails(f, "schema3.mdb", &s3, ELIG_ESCHEMA);
    snap_spec s1 = {BASE_SPEC, .schema = "1"};
    open_spec_fails(f, "schema1.mdb", &s1, ELIG_ESCHEMA);
    snap_spec s0 = {BASE_SPEC, .schema = "0"};
    open_spec_fails(f, "schema0.mdb", &s0, ELIG_ESCHEMA);
    snap_spec s11 = {BASE_SPEC, .schema = "11"};
    open_spec_fails(f, "schema11.mdb", &s11, ELIG_ESCHEMA);
    snap_spec none = {BASE_SPEC, .no_schema = true};
    open_spec_fails(f, "noschema.mdb", &none, 0);
    snap_spec junk = {BASE_SPEC, .schema = "one"};
    open_spec_fails(f, "schemajunk.mdb", &junk, 0);

    /* the message says what is wrong */
    char p[256], err[512] = "";
    elig_snap *s = NULL;
    path_in(f, "schema3b.mdb", p, sizeof p);
    write_snapshot(p, &s3);
    assert_int_equal(elig_snap_open(p, &s, err, sizeof err), ELIG_ESCHEMA);
    assert_non_null(strstr(err, "schema version 3"));
    unlink(p);
    /* schema 1 (no index): the message says what to do */
    snap_spec old = {BASE_SPEC, .schema = "1", .no_idx = true};
    path_in(f, "schema1b.mdb", p, sizeof p);
    write_snapshot(p, &old);
    assert_int_equal(elig_snap_open(p, &s, err, sizeof err), ELIG_ESCHEMA);
    assert_non_null(strstr(err, "schema version 1 is no longer read"));
    assert_non_null(strstr(err, "rebuild"));
    unlink(p);
}

static void test_open_counts(void **state) {
    fixture *f = *state;
    snap_spec more_hh = {BASE_SPEC, .hh_delta = 1};
    open_spec_fails(f, "hh-plus.mdb", &more_hh, ELIG_ECORRUPT);
    snap_spec fewer_hh = {BASE_SPEC, .hh_delta = -1};
    open_spec_fails(f, "hh-minus.mdb", &fewer_hh, ELIG_ECORRUPT);
    snap_spec more_m = {BASE_SPEC, .member_delta = 1};
    open_spec_fails(f, "m-plus.mdb", &more_m, ELIG_ECORRUPT);
    snap_spec fewer_m = {BASE_SPEC, .member_delta = -1};
    open_spec_fails(f, "m-minus.mdb", &fewer_m, ELIG_ECORRUPT);
}

/* Issue 13 item 6: the reader took any 1-64 bytes as the snapshot id, and
 * eligd served "\xff", ESC and newlines in every answer and log line. It
 * now checks exactly what the builder checks. */
static void test_open_snapshot_id_validated_like_the_builder(void **state) {
    fixture *f = *state;
    char max[65], over[66];
    memset(max, 'x', 64), max[64] = '\0';
    memset(over, 'x', 65), over[65] = '\0';
    const char *bad[] = {"bad\xff\x1bid", "two\nlines", "a b", "a/b", over, "caf\xc3\xa9"};
    for (size_t i = 0; i < N(bad); i++) {
        snap_spec sp = {BASE_SPEC, .id = bad[i]};
        char p[256], err[512] = "";
        path_in(f, "bad-id.mdb", p, sizeof p);
        write_snapshot(p, &sp);
        elig_snap *s = NULL;
        int rc = elig_snap_open(p, &s, err, sizeof err);
        if (rc != ELIG_ECORRUPT) {
            print_error("id #%zu: elig_snap_open = %d, want ELIG_ECORRUPT\n", i, rc);
            if (rc == 0)
                elig_snap_close(s);
            fail();
        }
        assert_non_null(strstr(err, "snapshot_id"));
        unlink(p);
    }
    const char *good[] = {max, "A.z_0:9-", "1"};
    for (size_t i = 0; i < N(good); i++) {
        snap_spec sp = {BASE_SPEC, .id = good[i]};
        char p[256], err[512] = "";
        path_in(f, "good-id.mdb", p, sizeof p);
        write_snapshot(p, &sp);
        elig_snap *s = NULL;
        assert_int_equal(elig_snap_open(p, &s, err, sizeof err), 0);
        assert_string_equal(elig_snap_meta(s)->id, good[i]);
        elig_snap_close(s);
        unlink(p);
    }
    assert_true(elig_valid_snapshot_id("x", 1));
    assert_false(elig_valid_snapshot_id("x\0", 2));
    assert_false(elig_valid_snapshot_id("", 0));
}

/* A damaged index header is refused at open, before any lookup. */
static void test_open_bad_index(void **state) {
    fixture *f = *state;
    snap_spec none = {BASE_SPEC, .no_idx = true};
    open_spec_fails(f, "no-idx.mdb", &none, ELIG_ECORRUPT);
    snap_spec magic = {BASE_SPEC, .idx = IDX_BAD_MAGIC};
    open_spec_fails(f, "idx-magic.mdb", &magic, ELIG_ECORRUPT);
    snap_spec beyond = {BASE_SPEC, .idx = IDX_CHUNK_BEYOND};
    open_spec_fails(f, "idx-beyond.mdb", &beyond, ELIG_ECORRUPT);
    snap_spec counts = {BASE_SPEC, .idx = IDX_KIND_COUNT_OFF};
    open_spec_fails(f, "idx-counts.mdb", &counts, ELIG_ECORRUPT);
    snap_spec probe = {BASE_SPEC, .idx = IDX_NO_PROBE};
    open_spec_fails(f, "idx-probe.mdb", &probe, ELIG_ECORRUPT);
}

static void test_open_not_eligd(void **state) {
    fixture *f = *state;
    snap_spec no_nik = {BASE_SPEC, .no_nik_db = true, .member_delta = -(long long)N(MAIN_MEMBERS)};
    open_spec_fails(f, "no-nik-db.mdb", &no_nik, 0);
    snap_spec no_id = {BASE_SPEC, .no_id = true};
    open_spec_fails(f, "no-id.mdb", &no_id, 0);
    snap_spec no_content = {BASE_SPEC, .no_content = true};
    open_spec_fails(f, "no-content.mdb", &no_content, ELIG_ECORRUPT);
}

/* ---- the checksum trailer ------------------------------------------------ */

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(*n + 1);
    assert_int_equal(fread(d, 1, *n, f), *n);
    fclose(f);
    return d;
}

/* A copy of the main fixture's file with changes, opened (plain) and
 * checked (elig_snap_check_file): each must fail with want. */
static void expect_damaged_copy(const fixture *f, const char *name, long cut, long grow, long flip_from_end,
                                int want_open, int want_check) {
    size_t n;
    unsigned char *d = read_all(f->main_path, &n);
    char p[256], err[512] = "";
    path_in(f, name, p, sizeof p);
    size_t len = n - (size_t)cut;
    if (flip_from_end)
        d[n - (size_t)flip_from_end] ^= 0x20;
    FILE *fp = fopen(p, "wb");
    assert_int_equal(fwrite(d, 1, len, fp), len);
    for (long i = 0; i < grow; i++)
        fputc(0, fp);
    fclose(fp);
    elig_snap *s = NULL;
    int rc = elig_snap_open(p, &s, err, sizeof err);
    if (rc != want_open) {
        print_error("%s: elig_snap_open = %d (%s), want %d\n", name, rc, err, want_open);
        fail();
    }
    if (rc == 0)
        elig_snap_close(s);
    rc = elig_snap_check_file(p, err, sizeof err);
    if (rc != want_check) {
        print_error("%s: elig_snap_check_file = %d (%s), want %d\n", name, rc, err, want_check);
        fail();
    }
    assert_non_null(strstr(err, p));
    free(d);
    unlink(p);
}

static void test_trailer(void **state) {
    fixture *f = *state;
    char err[512] = "";
    assert_int_equal(elig_snap_check_file(f->main_path, err, sizeof err), 0);
    elig_snap *s;
    assert_int_equal(elig_snap_open_ex(f->main_path, ELIG_SNAP_VERIFY, &s, err, sizeof err), 0);
    elig_snap_close(s);
    /* truncated by one byte, by the whole trailer, extended by one byte */
    expect_damaged_copy(f, "cut1.mdb", 1, 0, 0, ELIG_ECORRUPT, ELIG_ECORRUPT);
    expect_damaged_copy(f, "cut128.mdb", 128, 0, 0, ELIG_ECORRUPT, ELIG_ECORRUPT);
    expect_damaged_copy(f, "grow1.mdb", 0, 1, 0, ELIG_ECORRUPT, ELIG_ECORRUPT);
    /* a byte of the trailer's reserved part, of its own hash */
    expect_damaged_copy(f, "trailer-reserved.mdb", 0, 0, 40, ELIG_ECORRUPT, ELIG_ECORRUPT);
    expect_damaged_copy(f, "trailer-hash.mdb", 0, 0, 1, ELIG_ECORRUPT, ELIG_ECORRUPT);
    /* a byte of the last LMDB page: the plain open does not read it, the
     * checksum finds it */
    expect_damaged_copy(f, "data.mdb", 0, 0, 128 + 100, 0, ELIG_ECHECKSUM);
    /* ... and the verifying open refuses it before LMDB reads a page */
    size_t n;
    unsigned char *d = read_all(f->main_path, &n);
    d[n - 228] ^= 0x20;
    char p[256];
    path_in(f, "data2.mdb", p, sizeof p);
    write_bytes(p, d, n);
    free(d);
    assert_int_equal(elig_snap_open_ex(p, ELIG_SNAP_VERIFY, &s, err, sizeof err), ELIG_ECHECKSUM);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_int_equal(elig_snap_open_ex(p, 0x80, &s, err, sizeof err), ELIG_EINVAL);
    unlink(p);
    /* a schema 2 file with no trailer at all */
    snap_spec bare = {BASE_SPEC, .no_trailer = true};
    path_in(f, "bare.mdb", p, sizeof p);
    write_snapshot(p, &bare);
    assert_int_equal(elig_snap_open(p, &s, err, sizeof err), ELIG_ECORRUPT);
    assert_non_null(strstr(err, "no checksum trailer"));
    unlink(p);
}

/* The content hash recomputed by the library equals the serialisation of
 * docs/SNAPSHOT.md done here by hand on the fixture's definitions. */
static int cmp_member(const void *a, const void *b) {
    const member_def *x = a, *y = b;
    return (x->nik > y->nik) - (x->nik < y->nik);
}

static void test_content_hash(void **state) {
    fixture *f = *state;
    unsigned char buf[4096];
    size_t n = 0;
    memcpy(buf, "eligd-content-v1\n", 17);
    n = 17;
    for (size_t i = 0; i < N(MAIN_HH); i++) { /* MAIN_HH is in kk order */
        const hh_def *h = &MAIN_HH[i];
        buf[n++] = 'H';
        le(buf + n, h->kk, 8), n += 8;
        le(buf + n, h->region, 8), n += 8;
        buf[n++] = (unsigned char)h->status;
        buf[n++] = h->has_kks;
        le(buf + n, h->has_kks ? h->kks : 0, 8), n += 8;
        for (size_t j = 0; j < h->n_enr; j++) { /* defined in (program, start) order */
            const enr_def *e = &h->enr[j];
            buf[n++] = 'E';
            buf[n++] = (unsigned char)strlen(e->program);
            memcpy(buf + n, e->program, strlen(e->program)), n += strlen(e->program);
            le(buf + n, e->start, 4), n += 4;
            le(buf + n, e->end, 4), n += 4;
            le(buf + n, e->amount, 4), n += 4;
            buf[n++] = (unsigned char)e->status;
        }
    }
    member_def m[N(MAIN_MEMBERS)];
    memcpy(m, MAIN_MEMBERS, sizeof m);
    qsort(m, N(m), sizeof m[0], cmp_member);
    for (size_t i = 0; i < N(m); i++) {
        buf[n++] = 'M';
        le(buf + n, m[i].nik, 8), n += 8;
        le(buf + n, m[i].kk, 8), n += 8;
        buf[n++] = m[i].status;
    }
    unsigned char d[32];
    sha256_of(buf, n, d);
    char want[65], got[65];
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", d[i]);
    assert_int_equal(elig_snap_content_sha256(f->snap, got), 0);
    assert_string_equal(got, want);
    assert_string_equal(elig_snap_meta(f->snap)->content_sha256, CONTENT_FAKE);
    /* a damaged record makes it fail, not hash garbage */
    assert_int_equal(elig_snap_content_sha256(f->dsnap, got), ELIG_ECORRUPT);
}

/* An input with no rows builds an empty snapshot (SPEC 1): it opens and
 * every id is not_found. */
static void test_open_empty_snapshot(void **state) {
    fixture *f = *state;
    char p[256], err[256] = "";
    path_in(f, "empty-snap.mdb", p, sizeof p);
    snap_spec empty = {0};
    write_snapshot(p, &empty);
    elig_snap *s = NULL;
    elig_reader *r = NULL;
    assert_int_equal(elig_snap_open(p, &s, err, sizeof err), 0);
    const elig_meta *m = elig_snap_meta(s);
    assert_int_equal(m->households, 0);
    assert_int_equal(m->members, 0);
    assert_int_equal(m->enrollments, 0);
    assert_int_equal(elig_reader_open(s, &r), 0);
    NOT_FOUND(r, KK, KK_A, "PKH", MON(2024, 1));
    NOT_FOUND(r, NIK, NIK_A1, "PKH", MON(2024, 1));
    NOT_FOUND(r, KKS, KKS_A, "PKH", MON(2024, 1));
    elig_household h;
    assert_int_equal(elig_household_get(r, ELIG_KIND_KK, KK_A, &h), 0);
    elig_reader_close(r);
    elig_snap_close(s);
    unlink(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_kinds_do_not_mix),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_deceased_by_nik_only),
        cmocka_unit_test(test_deceased_precedence),
        cmocka_unit_test(test_household_status),
        cmocka_unit_test(test_household_status_precedence),
        cmocka_unit_test(test_not_enrolled),
        cmocka_unit_test(test_outside_period),
        cmocka_unit_test(test_enrollment_suspended),
        cmocka_unit_test(test_consecutive_enrollments),
        cmocka_unit_test(test_open_ended),
        cmocka_unit_test(test_eligible_zero_amount),
        cmocka_unit_test(test_parse_then_check),
        cmocka_unit_test(test_region_format),
        cmocka_unit_test(test_household_get_a),
        cmocka_unit_test(test_household_get_x),
        cmocka_unit_test(test_household_get_statuses),
        cmocka_unit_test(test_household_get_unknown),
        cmocka_unit_test(test_second_reader),
        cmocka_unit_test(test_damaged_household_values),
        cmocka_unit_test(test_damaged_truncated_enrollment),
        cmocka_unit_test(test_damaged_links),
        cmocka_unit_test(test_damaged_rest_answers),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_open_garbage),
        cmocka_unit_test(test_open_empty_file),
        cmocka_unit_test(test_open_directory),
        cmocka_unit_test(test_open_schema),
        cmocka_unit_test(test_open_counts),
        cmocka_unit_test(test_open_bad_index),
        cmocka_unit_test(test_open_snapshot_id_validated_like_the_builder),
        cmocka_unit_test(test_open_not_eligd),
        cmocka_unit_test(test_open_empty_snapshot),
        cmocka_unit_test(test_trailer),
        cmocka_unit_test(test_content_hash),
    };
    return cmocka_run_group_tests_name("lib_rule", tests, group_setup, group_teardown);
}
