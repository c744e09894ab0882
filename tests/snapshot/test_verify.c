/* test_verify.c — `elig-snapshot verify` finds damage. Each case copies a
 * good snapshot, changes one thing through LMDB (so the file stays a valid
 * LMDB file and only our invariants break) and expects verify to fail
 * naming the problem. `info` prints the metadata. */
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "elig.h"
#include "helpers.h"
#include "index.h"
#include "record.h"
#include "seal.h"
#include "verify.h"

#define KE "3201010101010105"
#define KF "3201010101010106"
#define KQ "3201010101010199"

static const char *good_hh = HH_HEADER KE ",3201010001,active,6000000000000001,Budi\n" KF ",3201010001,suspended,,\n";
static const char *good_mem = MEM_HEADER "3201011501900001," KE ",,\n3201015501900002," KE ",deceased,\n"
                                         "3201011501900003," KF ",,\n";
static const char *good_enr = ENR_HEADER KE ",PKH,2020-01,2020-06,1,active\n" KE ",PKH,2020-07,,2,active\n" KF
                                         ",BPNT,2020-01,,3,suspended\n";

static int setup(void **state) {
    if (tcase_setup(state) != 0)
        return -1;
    tcase *t = *state;
    return build3(t, good_hh, good_mem, good_enr, 0.0, "good") == SNAP_BUILD_OK ? 0 : -1;
}

static uint64_t id16(const char *s) {
    uint64_t v;
    elig_parse_id16(s, 16, &v);
    return v;
}

/* A copy of the good snapshot to damage. */
static const char *copy_snapshot(tcase *t) {
    size_t len;
    char *data = slurp(t->out, &len);
    assert_non_null(data);
    const char *p = write_file(t, "damaged.mdb", data, (long)len);
    free(data);
    return p;
}

typedef void (*damage_fn)(MDB_txn *txn, MDB_dbi dbi);

/* Opens table name of the file at path read-write and applies fn; the
 * checksum trailer is taken off first (LMDB would write its next page over
 * it) and put back after, so that verify gets past the checksum to the
 * damage. */
static void damage(const char *path, const char *name, unsigned flags, damage_fn fn) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char err[512];
    if (snap_unseal(path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, ELIG_DB_MAX), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, flags, &dbi), 0);
    fn(txn, dbi);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    if (snap_seal(path, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void put_str(MDB_txn *txn, MDB_dbi dbi, const char *k, const char *v) {
    MDB_val key = {strlen(k), (void *)k}, val = {strlen(v), (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

static void put_u64(MDB_txn *txn, MDB_dbi dbi, uint64_t k, const void *v, size_t n) {
    MDB_val key = {8, &k}, val = {n, (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

/* The value at integer key k, copied into buf; returns its size. */
static size_t get_u64(MDB_txn *txn, MDB_dbi dbi, uint64_t k, unsigned char *buf, size_t cap) {
    MDB_val key = {8, &k}, val;
    assert_int_equal(mdb_get(txn, dbi, &key, &val), 0);
    assert_true(val.mv_size <= cap);
    memcpy(buf, val.mv_data, val.mv_size);
    return val.mv_size;
}

static void enrollments_count(MDB_txn *txn, MDB_dbi dbi) { put_str(txn, dbi, ELIG_META_ENROLLMENTS, "4"); }
static void households_count(MDB_txn *txn, MDB_dbi dbi) { put_str(txn, dbi, ELIG_META_HOUSEHOLDS, "3"); }
static void schema(MDB_txn *txn, MDB_dbi dbi) { put_str(txn, dbi, ELIG_META_SCHEMA, "3"); }
static void bad_sha(MDB_txn *txn, MDB_dbi dbi) { put_str(txn, dbi, ELIG_META_SHA_MEMBERS, "abc"); }
static void bad_created(MDB_txn *txn, MDB_dbi dbi) { put_str(txn, dbi, ELIG_META_CREATED, "yesterday"); }
static void other_content(MDB_txn *txn, MDB_dbi dbi) {
    put_str(txn, dbi, ELIG_META_CONTENT, "00000000000000000000000000000000000000000000000000000000000000ff");
}
static void no_id(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val k = {strlen(ELIG_META_ID), ELIG_META_ID};
    assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
}

static void member_to_missing_family(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[ELIG_REC_MEMBER];
    elig_rec_member_put(v, id16(KQ), ELIG_MEMBER_ALIVE);
    put_u64(txn, dbi, id16("3201011501900003"), v, sizeof v);
}

static void member_bad_status(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[ELIG_REC_MEMBER];
    elig_rec_member_put(v, id16(KF), 7);
    put_u64(txn, dbi, id16("3201011501900003"), v, sizeof v);
}

static void member_bad_nik(MDB_txn *txn, MDB_dbi dbi) {
    uint64_t k = id16("3201011501900003");
    MDB_val key = {8, &k};
    assert_int_equal(mdb_del(txn, dbi, &key, NULL), 0);
    unsigned char v[ELIG_REC_MEMBER];
    elig_rec_member_put(v, id16(KF), ELIG_MEMBER_ALIVE);
    put_u64(txn, dbi, id16("3201010001900003"), v, sizeof v); /* day 00 */
}

static void member_count_off(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[512];
    size_t n = get_u64(txn, dbi, id16(KE), v, sizeof v);
    elig_rec_hh h;
    elig_rec_hh_get(v, &h);
    h.members++;
    elig_rec_hh_put(v, &h);
    put_u64(txn, dbi, id16(KE), v, n);
}

static void truncated_household(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[512];
    size_t n = get_u64(txn, dbi, id16(KE), v, sizeof v);
    put_u64(txn, dbi, id16(KE), v, n - 1);
}

static void bad_household_status(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[512];
    size_t n = get_u64(txn, dbi, id16(KF), v, sizeof v);
    v[32] = ELIG_HH_STATUS_COUNT; /* the status byte (record.h) */
    put_u64(txn, dbi, id16(KF), v, n);
}

/* KE's two PKH enrollments (2020-01..06, 2020-07..) made to overlap. */
static void overlapping(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[512];
    size_t n = get_u64(txn, dbi, id16(KE), v, sizeof v);
    elig_month m;
    elig_parse_period("2020-07", 7, &m);
    elig_wr32(v + ELIG_REC_HH_HEAD + 4, m); /* first one's end */
    put_u64(txn, dbi, id16(KE), v, n);
}

static void bad_program(MDB_txn *txn, MDB_dbi dbi) {
    unsigned char v[512];
    size_t n = get_u64(txn, dbi, id16(KF), v, sizeof v);
    v[ELIG_REC_HH_HEAD + ELIG_REC_ENR_HEAD] = 'b'; /* "bPNT" */
    put_u64(txn, dbi, id16(KF), v, n);
}

static void card_dropped(MDB_txn *txn, MDB_dbi dbi) {
    uint64_t k = id16("6000000000000001");
    MDB_val key = {8, &k};
    assert_int_equal(mdb_del(txn, dbi, &key, NULL), 0);
}

static void card_to_other_family(MDB_txn *txn, MDB_dbi dbi) {
    uint64_t kk = id16(KF);
    put_u64(txn, dbi, id16("6000000000000001"), &kk, 8);
}

static void extra_card(MDB_txn *txn, MDB_dbi dbi) {
    uint64_t kk = id16(KF);
    put_u64(txn, dbi, id16("6000000000000002"), &kk, 8);
}

/* ---- the id index, damaged in the file's bytes ---------------------------- */

/* The file offset of the slot holding (kind, id), found by scanning the
 * index's one chunk as lib/index.h lays it out. */
static long slot_offset(const char *path, const unsigned char *data, elig_kind kind, const char *id) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, ELIG_DB_MAX), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, ELIG_DB_IDX, MDB_INTEGERKEY, &dbi), 0);
    uint64_t k0 = 0, chunk;
    MDB_val k = {8, &k0}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    elig_idx_head h;
    elig_idx_head_get(v.mv_data, &h);
    assert_int_equal(h.nchunks, 1);
    memcpy(&chunk, (const unsigned char *)v.mv_data + ELIG_IDX_HEAD, 8);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    uint64_t want = elig_idx_key(kind, id16(id));
    for (uint64_t s = 0; s < h.nbuckets * ELIG_IDX_SLOTS; s++) {
        long off = (long)(chunk + h.pad + 16 * s);
        if ((elig_rd64(data + off) & ~ELIG_IDX_FLAG) == want)
            return off;
    }
    fail_msg("no slot for %s", id);
    return -1;
}

typedef enum { SLOT_TARGET_OFF, SLOT_KEY_GONE, SLOT_DECEASED, SLOT_EXTRA } slot_damage;

/* A copy of the good snapshot with one index slot changed. */
static const char *damage_slot(tcase *t, elig_kind kind, const char *id, slot_damage how) {
    size_t len;
    unsigned char *data = (unsigned char *)slurp(t->out, &len);
    assert_non_null(data);
    long off = slot_offset(t->out, data, kind, id);
    uint64_t key = elig_rd64(data + off), target = elig_rd64(data + off + 8);
    switch (how) {
    case SLOT_TARGET_OFF:
        elig_wr64(data + off + 8, target + 1);
        break;
    case SLOT_KEY_GONE:
        elig_wr64(data + off, key & ELIG_IDX_FLAG);
        break;
    case SLOT_DECEASED:
        elig_wr64(data + off + 8, target ^ ELIG_IDX_DECEASED);
        break;
    case SLOT_EXTRA: /* an empty slot of the same chunk gets a key */
        for (long s = off - 16 * 64; s < off + 16 * 64; s += 16)
            if (s > 0 && (size_t)s + 16 <= len && elig_rd64(data + s) == 0 && elig_rd64(data + s + 8) == 0 &&
                (s - off) % 64 != 0) {
                elig_wr64(data + s, elig_idx_key(ELIG_KIND_NIK, id16("3201011501909999")));
                break;
            }
        break;
    }
    const char *p = write_file(t, "damaged.mdb", (const char *)data, (long)len);
    free(data);
    char err[512];
    if (snap_unseal(p, err, sizeof err) != 0 || snap_seal(p, err, sizeof err) != 0) /* past the checksum */
        fail_msg("%s", err);
    return p;
}

/* One byte changed anywhere: the checksum finds it before anything else. */
static void flipped_byte_fails_checksum(void **state) {
    tcase *t = *state;
    size_t len;
    char *data = slurp(t->out, &len);
    data[len / 2] ^= 1;
    const char *p = write_file(t, "flipped.mdb", data, (long)len);
    free(data);
    char ok[512], err[1024];
    assert_int_equal(snap_verify(p, ok, sizeof ok, err, sizeof err), -1);
    assert_non_null(strstr(err, "checksum mismatch"));
}

static void index_damage_is_found(void **state) {
    tcase *t = *state;
    static const struct {
        elig_kind kind;
        const char *id;
        slot_damage how;
        const char *want;
    } cases[] = {
        {ELIG_KIND_KK, KE, SLOT_TARGET_OFF, "index: kk " KE " points at the wrong record"},
        {ELIG_KIND_KKS, "6000000000000001", SLOT_TARGET_OFF, "index: kks 6000000000000001 points at the wrong record"},
        {ELIG_KIND_KK, KF, SLOT_KEY_GONE, "index: kk " KF " is missing"},
        {ELIG_KIND_NIK, "3201011501900003", SLOT_KEY_GONE, "index: nik 3201011501900003 is missing"},
        {ELIG_KIND_NIK, "3201015501900002", SLOT_DECEASED, "index: nik 3201015501900002 points at the wrong"},
        {ELIG_KIND_NIK, "3201011501900001", SLOT_EXTRA, "slots in use, the header says"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = damage_slot(t, cases[i].kind, cases[i].id, cases[i].how);
        char ok[512], err[1024] = "";
        if (snap_verify(path, ok, sizeof ok, err, sizeof err) == 0)
            fail_msg("case %zu (%s): verify passed", i, cases[i].want);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
    }
}

/* ---- hardening (issue 13 item 7, issue 8) ---------------------------------- */

/* Issue 13 item 7: verify called qsort(NULL, 0, ...) for a household with
 * no enrollments seen before any with some: the UBSan build aborted on a
 * valid snapshot (this test fails under the sanitizer pass without the
 * fix). */
static void verify_first_household_without_enrollments(void **state) {
    tcase *t = *state;
    const char *hh = HH_HEADER "3201010101010001,3201010001,active,,\n" KE ",3201010001,active,,\n";
    const char *enr = ENR_HEADER KE ",PKH,2020-01,,1,active\n";
    assert_int_equal(build3(t, hh, NULL, enr, 0.0, "noenr"), SNAP_BUILD_OK);
    char ok[512], err[1024];
    if (snap_verify(t->out, ok, sizeof ok, err, sizeof err) != 0)
        fail_msg("%s", err);
}

/* The "hh" table's entry count as LMDB keeps it, in the main database's
 * leaf: a node {u16 data size 48, u16 0, u16 F_SUBDATA, u16 key size 2},
 * the key "hh", then the MDB_db record with md_entries at offset 32;
 * replaced in the file's bytes (in every copy of the leaf the file holds). */
static void set_hh_entries(const char *path, uint64_t now, uint64_t want) {
    static const unsigned char node[8] = {48, 0, 0, 0, 2, 0, 2, 0};
    size_t len;
    unsigned char *d = (unsigned char *)slurp(path, &len);
    size_t hits = 0;
    for (size_t i = 8; i + 2 + 48 <= len; i++) {
        if (d[i] == 'h' && d[i + 1] == 'h' && memcmp(d + i - 8, node, 8) == 0 && elig_rd64(d + i + 2 + 32) == now) {
            elig_wr64(d + i + 2 + 32, want);
            hits++;
        }
    }
    assert_true(hits >= 1);
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
    free(d);
}

static void huge_households(MDB_txn *txn, MDB_dbi dbi) {
    put_str(txn, dbi, ELIG_META_HOUSEHOLDS, "2305843009213693952"); /* 2^61 */
}

/* Issue 8: a crafted entry count made verify's (n + 1) * 8 wrap and then
 * overflow a heap buffer. With the checksum resealed (an attacker can), it
 * is refused with a message and no out-of-bounds write (ASan pass). */
static void verify_huge_entry_count_does_not_overflow(void **state) {
    tcase *t = *state;
    for (int with_meta = 0; with_meta < 2; with_meta++) {
        const char *path = copy_snapshot(t);
        if (with_meta)
            damage(path, ELIG_DB_META, 0, huge_households); /* the metadata agrees with the lie */
        char err[1024] = "", ok[512];
        assert_int_equal(snap_unseal(path, err, sizeof err), 0);
        set_hh_entries(path, 2, UINT64_C(1) << 61);
        assert_int_equal(snap_seal(path, err, sizeof err), 0);
        assert_int_equal(snap_verify(path, ok, sizeof ok, err, sizeof err), -1);
        assert_true(strstr(err, "do not match") || strstr(err, "index") || strstr(err, "statistics"));
    }
}

/* Issue 8: single bits flipped in a small snapshot crashed eligd, changed
 * answers or passed verify. Every copy with one flipped bit (anywhere:
 * LMDB pages, index, metadata, trailer) must fail verify, and fail the
 * verifying open that eligd --verify uses, without a crash. */
static void verify_catches_every_flipped_bit(void **state) {
    tcase *t = *state;
    size_t len;
    char *good = slurp(t->out, &len);
    char *copy = malloc(len);
    char path[400];
    snprintf(path, sizeof path, "%s/flip.mdb", t->dir);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 3000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t bit = (size_t)(x % ((uint64_t)len * 8));
        if (i < 16) /* the trailer's bytes, for sure */
            bit = (len - 128 + (size_t)i * 8) * 8 + (size_t)i % 8;
        memcpy(copy, good, len);
        copy[bit / 8] ^= (char)(1 << (bit % 8));
        FILE *f = fopen(path, "wb");
        assert_int_equal(fwrite(copy, 1, len, f), len);
        fclose(f);
        char ok[512], err[1024] = "";
        if (snap_verify(path, ok, sizeof ok, err, sizeof err) != -1)
            fail_msg("bit %zu flipped: verify passed", bit);
        elig_snap *s;
        int rc = elig_snap_open_ex(path, ELIG_SNAP_VERIFY, &s, err, sizeof err);
        if (rc != ELIG_ECHECKSUM && rc != ELIG_ECORRUPT)
            fail_msg("bit %zu flipped: verifying open gave %d (%s)", bit, rc, err);
    }
    free(copy);
    free(good);
}

static void good_snapshot_verifies(void **state) {
    tcase *t = *state;
    char ok[512], err[1024];
    assert_int_equal(snap_verify(t->out, ok, sizeof ok, err, sizeof err), 0);
    assert_string_equal(ok, "OK: snapshot good, 2 households, 3 members, 3 enrollments, 1 kks cards");
}

static void damage_is_found(void **state) {
    tcase *t = *state;
    static const struct {
        const char *table;
        unsigned flags;
        damage_fn fn;
        const char *want;
    } cases[] = {
        {ELIG_DB_META, 0, enrollments_count, "metadata counts"},
        {ELIG_DB_META, 0, households_count, "do not match"},
        {ELIG_DB_META, 0, schema, "unknown snapshot schema version 3"},
        {ELIG_DB_META, 0, bad_sha, "metadata key sha256_members is malformed"},
        {ELIG_DB_META, 0, bad_created, "creation time 'yesterday'"},
        {ELIG_DB_META, 0, no_id, "snapshot id"},
        {ELIG_DB_META, 0, other_content, "content hash mismatch: the metadata says 0000"},
        {ELIG_DB_NIK, MDB_INTEGERKEY, member_to_missing_family, "points at household " KQ ", which does not exist"},
        {ELIG_DB_NIK, MDB_INTEGERKEY, member_bad_status, "member 3201011501900003: unknown status 7"},
        {ELIG_DB_NIK, MDB_INTEGERKEY, member_bad_nik, "member key 3201010001900003 is not a valid NIK"},
        {ELIG_DB_HH, MDB_INTEGERKEY, member_count_off, "household " KE ": record says 3 members, the nik table has 2"},
        {ELIG_DB_HH, MDB_INTEGERKEY, truncated_household, "household " KE ": malformed record"},
        {ELIG_DB_HH, MDB_INTEGERKEY, bad_household_status, "household " KF ": malformed record"},
        {ELIG_DB_HH, MDB_INTEGERKEY, overlapping, "household " KE ": overlapping PKH enrollments"},
        {ELIG_DB_HH, MDB_INTEGERKEY, bad_program, "household " KF ": enrollment with a malformed programme name"},
        /* a card more or fewer: the index no longer holds the table's ids */
        {ELIG_DB_KKS, MDB_INTEGERKEY, card_dropped, "the id index does not hold the ids of the tables"},
        {ELIG_DB_KKS, MDB_INTEGERKEY, card_to_other_family, "does not match that household's card"},
        {ELIG_DB_KKS, MDB_INTEGERKEY, extra_card, "the id index does not hold the ids of the tables"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = copy_snapshot(t);
        damage(path, cases[i].table, cases[i].flags, cases[i].fn);
        char ok[512], err[1024] = "";
        if (snap_verify(path, ok, sizeof ok, err, sizeof err) == 0)
            fail_msg("case %zu (%s): verify passed", i, cases[i].want);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
    }
}

static void not_a_snapshot(void **state) {
    tcase *t = *state;
    char ok[512], err[1024];
    const char *p = write_file(t, "junk.mdb", "not lmdb at all", -1);
    assert_int_equal(snap_verify(p, ok, sizeof ok, err, sizeof err), -1);
    assert_non_null(strstr(err, p));
    assert_int_equal(snap_verify("/nonexistent.mdb", ok, sizeof ok, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.mdb"));
}

static void info_prints_metadata(void **state) {
    tcase *t = *state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    char err[512];
    assert_int_equal(snap_info(t->out, f, err, sizeof err), 0);
    fclose(f);
    assert_memory_equal(buf,
                        "schema_version: 2\nsnapshot_id: good\ncreated: 2026-11-27T23:40:00Z\nhouseholds: 2\n"
                        "members: 3\nenrollments: 3\nsha256_households: ",
                        strlen("schema_version: 2\nsnapshot_id: good\ncreated: 2026-11-27T23:40:00Z\n"
                               "households: 2\nmembers: 3\nenrollments: 3\nsha256_households: "));
    assert_non_null(strstr(buf, "\nsha256_members: "));
    assert_non_null(strstr(buf, "\nsha256_enrollments: "));
    const char *c = strstr(buf, "\ncontent_sha256: ");
    assert_non_null(c);
    assert_int_equal(strspn(c + 17, "0123456789abcdef"), 64);
    free(buf);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, tcase_teardown)
    const struct CMUnitTest tests[] = {
        T(good_snapshot_verifies),
        T(damage_is_found),
        T(index_damage_is_found),
        T(flipped_byte_fails_checksum),
        T(verify_first_household_without_enrollments),
        T(verify_huge_entry_count_does_not_overflow),
        T(verify_catches_every_flipped_bit),
        T(not_a_snapshot),
        T(info_prints_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
