/* test_client_wire.c — libeligclient's codec, byte by byte, without a
 * server: request encoding against hand-written msgpack, framing of
 * responses fed in pieces, hostile size headers, answer/household/info
 * decoding (inputs packed with msgpack-c, independent of our reader), and
 * the query syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "wire.h"

/* ---- helpers ----------------------------------------------------------- */

static void pk_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_bin(msgpack_packer *pk, const char *s) {
    msgpack_pack_bin(pk, strlen(s));
    msgpack_pack_bin_body(pk, s, strlen(s));
}

/* An answer map; skip names a key to leave out, extra adds an unknown key. */
static void pk_answer(msgpack_packer *pk, bool eligible, const char *reason, const char *kk,
                      const char *region, uint64_t amount, const char *snap, const char *skip,
                      bool extra) {
    const char *keys[] = {"eligible", "reason", "kk", "region", "amount", "snapshot"};
    size_t n = 6 - (skip != NULL) + extra;
    msgpack_pack_map(pk, n);
    for (int i = 0; i < 6; i++) {
        if (skip && strcmp(skip, keys[i]) == 0)
            continue;
        pk_str(pk, keys[i]);
        switch (i) {
        case 0: eligible ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case 1: pk_str(pk, reason); break;
        case 2: kk ? pk_str(pk, kk) : msgpack_pack_nil(pk); break;
        case 3: region ? pk_str(pk, region) : msgpack_pack_nil(pk); break;
        case 4: msgpack_pack_uint64(pk, amount); break;
        default: pk_str(pk, snap); break;
        }
        if (extra && i == 2) { /* an unknown key in the middle, nested value */
            pk_str(pk, "future");
            msgpack_pack_array(pk, 2);
            msgpack_pack_map(pk, 1);
            pk_str(pk, "x");
            msgpack_pack_int(pk, -5);
            msgpack_pack_double(pk, 1.5);
        }
    }
}

static mpr_cur rd_of(const msgpack_sbuffer *sb) {
    return (mpr_cur){(const uint8_t *)sb->data, (const uint8_t *)sb->data + sb->size};
}

/* ---- requests ---------------------------------------------------------- */

static void test_encode_check(void **state) {
    (void)state;
    eligc__buf b = {0};
    eligc_query q = {ELIG_KIND_NIK, "3171014101900001", "PKH", "2026-11"};
    assert_int_equal(eligc__enc_check(&b, 7, &q), 0);
    static const uint8_t want[] = {
        0x94, 0x00, 0x07,                          /* [0, 7, */
        0xa5, 'c', 'h', 'e', 'c', 'k',             /* "check", */
        0x94, 0xa3, 'n', 'i', 'k',                 /* ["nik", */
        0xb0, '3', '1', '7', '1', '0', '1', '4', '1', '0', '1', '9', '0', '0', '0', '0', '1',
        0xa3, 'P', 'K', 'H',                       /* "PKH", */
        0xa7, '2', '0', '2', '6', '-', '1', '1',   /* "2026-11"]] */
    };
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    eligc__buf_free(&b);
}

static void test_encode_msgid_width(void **state) {
    (void)state;
    eligc__buf b = {0};
    assert_int_equal(eligc__enc_noargs(&b, 0xfffffffeu, ELIG_METHOD_PING), 0);
    static const uint8_t want[] = {0x94, 0x00, 0xce, 0xff, 0xff, 0xff, 0xfe,
                                   0xa4, 'p',  'i',  'n',  'g',  0x90};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    eligc__buf_free(&b);
}

static void test_encode_batch_and_household(void **state) {
    (void)state;
    eligc__buf b = {0};
    eligc_query q[2] = {{ELIG_KIND_KK, "3171010101010001", "PKH", "2026-01"},
                        {ELIG_KIND_KKS, "6013010000000001", "BPNT", "2026-02"}};
    assert_int_equal(eligc__enc_check_batch(&b, 1, q, 2), 0);
    /* Decode it back with msgpack-c's unpacker and look at the shape. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, b.p, b.len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, b.len);
    msgpack_object o = u.data;
    assert_int_equal(o.via.array.size, 4);
    assert_memory_equal(o.via.array.ptr[2].via.str.ptr, "check_batch", 11);
    msgpack_object params = o.via.array.ptr[3];
    assert_int_equal(params.via.array.size, 1);
    msgpack_object items = params.via.array.ptr[0];
    assert_int_equal(items.via.array.size, 2);
    msgpack_object kks = items.via.array.ptr[1].via.array.ptr[0];
    assert_int_equal(kks.via.str.size, 3);
    assert_memory_equal(kks.via.str.ptr, "kks", 3);
    b.len = 0;
    assert_int_equal(eligc__enc_household(&b, 2, ELIG_KIND_KK, "3171010101010001"), 0);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&u, b.p, b.len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_memory_equal(u.data.via.array.ptr[2].via.str.ptr, "household", 9);
    assert_int_equal(u.data.via.array.ptr[3].via.array.size, 2);
    msgpack_unpacked_destroy(&u);
    eligc__buf_free(&b);
}

/* ---- framing ----------------------------------------------------------- */

static void test_scan_piecewise(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint32(&pk, 100000);
    msgpack_pack_nil(&pk);
    pk_answer(&pk, true, "eligible", "3171010101010001", "3171010001", 110000, "s1", NULL, true);
    size_t first = sb.size;
    msgpack_pack_array(&pk, 0); /* a second object right behind */
    /* Fed one byte at a time, it completes exactly at its last byte. */
    mpr_scan st;
    mpr_scan_reset(&st);
    for (size_t len = 0; len < first; len++)
        assert_int_equal(mpr_scan_next(&st, (uint8_t *)sb.data, len, 1 << 20), 0);
    assert_int_equal(mpr_scan_next(&st, (uint8_t *)sb.data, first, 1 << 20), (long)first);
    /* All at once, with the next object behind it: same length. */
    mpr_scan st2;
    mpr_scan_reset(&st2);
    assert_int_equal(mpr_scan_next(&st2, (uint8_t *)sb.data, sb.size, 1 << 20), (long)first);
    msgpack_sbuffer_destroy(&sb);
}

static void test_scan_hostile_sizes(void **state) {
    (void)state;
    /* Declared sizes far beyond the limit fail at once, from 5 bytes, and
     * nothing is allocated for them. */
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0xdb, 0x7f, 0xff, 0xff, 0xff};
    static const uint8_t bin32[] = {0xc6, 0x10, 0x00, 0x00, 0x00};
    static const uint8_t ext32[] = {0xc9, 0x10, 0x00, 0x00, 0x00, 0x01};
    const uint8_t *cases[] = {arr32, map32, str32, bin32, ext32};
    size_t lens[] = {5, 5, 5, 5, 6};
    for (size_t i = 0; i < 5; i++) {
        mpr_scan st;
    mpr_scan_reset(&st);
        assert_int_equal(mpr_scan_next(&st, cases[i], lens[i], 1 << 20), MPR_TOO_LARGE);
    }
    /* A nested array each declaring 15 elements: the owed count grows past
     * the limit and fails before the bytes could arrive. */
    uint8_t nest[64];
    memset(nest, 0x9f, sizeof nest);
    mpr_scan st;
    mpr_scan_reset(&st);
    assert_int_equal(mpr_scan_next(&st, nest, sizeof nest, 48), MPR_TOO_LARGE);
    /* 0xc1 is never msgpack. */
    static const uint8_t c1[] = {0x92, 0x01, 0xc1};
    mpr_scan st3;
    mpr_scan_reset(&st3);
    assert_int_equal(mpr_scan_next(&st3, c1, 3, 100), MPR_MALFORMED);
    /* Exactly at the limit is fine; one byte over is not. */
    static const uint8_t s3[] = {0xa3, 'a', 'b', 'c'};
    mpr_scan st4;
    mpr_scan_reset(&st4);
    assert_int_equal(mpr_scan_next(&st4, s3, 4, 4), 4);
    mpr_scan st5;
    mpr_scan_reset(&st5);
    assert_int_equal(mpr_scan_next(&st5, s3, 4, 3), MPR_TOO_LARGE);
    /* Incomplete with the buffer already at the limit: cannot complete. */
    static const uint8_t part[] = {0x93, 0x01, 0x02};
    mpr_scan st6;
    mpr_scan_reset(&st6);
    assert_int_equal(mpr_scan_next(&st6, part, 3, 3), MPR_TOO_LARGE);
    mpr_scan st7;
    mpr_scan_reset(&st7);
    assert_int_equal(mpr_scan_next(&st7, part, 3, 100), 0);
}

static void test_scan_all_scalar_forms(void **state) {
    (void)state;
    /* Every fixed-width form, wrapped in one array. */
    static const uint8_t m[] = {
        0xdc, 0x00, 0x0d,                               /* array16 of 13 */
        0xc0, 0xc2, 0xca, 0, 0, 0, 0,                   /* nil false float32 */
        0xcb, 0, 0, 0, 0, 0, 0, 0, 0,                   /* float64 */
        0xcd, 0, 1, 0xd3, 0, 0, 0, 0, 0, 0, 0, 1,       /* uint16 int64 */
        0xd4, 1, 2, 0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* fixext1, fixext16 */
        0xc7, 2, 9, 'a', 'b',                           /* ext8 */
        0xda, 0, 2, 'h', 'i',                           /* str16 */
        0xc4, 1, 'z',                                   /* bin8 */
        0xe0,                                           /* negative fixint */
        0x80,                                           /* empty map */
    };
    mpr_scan st;
    mpr_scan_reset(&st);
    assert_int_equal(mpr_scan_next(&st, m, sizeof m, 1000), (long)sizeof m);
    mpr_scan st2;
    mpr_scan_reset(&st2);
    assert_int_equal(mpr_scan_next(&st2, m, sizeof m - 1, 1000), 0);
}

/* ---- responses --------------------------------------------------------- */

static void test_resp_split_and_error(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint32(&pk, 42);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "item 3: bad id");
    msgpack_pack_nil(&pk);
    uint32_t id;
    mpr_cur err, res;
    assert_true(mpr_rpc_response((uint8_t *)sb.data, sb.size, &id, &err, &res));
    assert_int_equal(id, 42);
    int64_t code;
    char msg[64];
    assert_int_equal(eligc__dec_error(&err, &code, msg, sizeof msg), 1);
    assert_int_equal(code, 1);
    assert_string_equal(msg, "item 3: bad id");
    /* A request [0, ...] is not a response. */
    sb.data[1] = 0x00;
    assert_false(mpr_rpc_response((uint8_t *)sb.data, sb.size, &id, &err, &res));
    /* Nor is a response with bytes behind it inside the frame. */
    sb.data[1] = 0x01;
    msgpack_pack_nil(&pk);
    assert_false(mpr_rpc_response((uint8_t *)sb.data, sb.size, &id, &err, &res));
    msgpack_sbuffer_destroy(&sb);
    /* nil error = success; a malformed error object is still an error. */
    static const uint8_t nil = 0xc0, notarr = 0x05;
    mpr_cur e1 = {&nil, &nil + 1}, e2 = {&notarr, &notarr + 1};
    assert_int_equal(eligc__dec_error(&e1, &code, msg, sizeof msg), 0);
    assert_int_equal(eligc__dec_error(&e2, &code, msg, sizeof msg), 1);
    assert_int_equal(code, 0);
}

static void test_decode_answer(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pk_answer(&pk, true, "eligible", "3171010101010001", "3171010001", 110000, "2026-11-a", NULL,
              true);
    mpr_cur r = rd_of(&sb);
    eligc_answer a;
    const char *why = NULL;
    assert_int_equal(eligc__dec_answer(&r, &a, &why), 0);
    assert_true(a.eligible);
    assert_int_equal(a.reason, ELIG_REASON_ELIGIBLE);
    assert_int_equal(a.amount, 110000);
    assert_string_equal(a.kk, "3171010101010001");
    assert_string_equal(a.region, "3171010001");
    assert_string_equal(a.snapshot, "2026-11-a");
    assert_ptr_equal(r.p, r.end);

    /* not_found: kk and region nil -> "" */
    msgpack_sbuffer_clear(&sb);
    pk_answer(&pk, false, "not_found", NULL, NULL, 0, "s", NULL, false);
    r = rd_of(&sb);
    assert_int_equal(eligc__dec_answer(&r, &a, &why), 0);
    assert_int_equal(a.reason, ELIG_REASON_NOT_FOUND);
    assert_string_equal(a.kk, "");
    assert_string_equal(a.region, "");
    msgpack_sbuffer_destroy(&sb);
}

static void test_decode_answer_bin_strings(void **state) {
    (void)state;
    /* Some msgpack-RPC peers send text as bin: accepted. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pk_bin(&pk, "reason");
    pk_bin(&pk, "not_enrolled");
    pk_bin(&pk, "eligible");
    msgpack_pack_false(&pk);
    pk_bin(&pk, "kk");
    pk_bin(&pk, "3171010101010001");
    pk_bin(&pk, "region");
    pk_bin(&pk, "3171010001");
    pk_bin(&pk, "amount");
    msgpack_pack_uint8(&pk, 0);
    pk_bin(&pk, "snapshot");
    pk_bin(&pk, "s");
    mpr_cur r = rd_of(&sb);
    eligc_answer a;
    const char *why;
    assert_int_equal(eligc__dec_answer(&r, &a, &why), 0);
    assert_int_equal(a.reason, ELIG_REASON_NOT_ENROLLED);
    assert_false(a.eligible);
    msgpack_sbuffer_destroy(&sb);
}

static void test_decode_answer_rejects(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    eligc_answer a;
    const char *why;
    mpr_cur r;
    const char *keys[] = {"eligible", "reason", "kk", "region", "amount", "snapshot"};
    for (int i = 0; i < 6; i++) { /* every key is required */
        msgpack_sbuffer_clear(&sb);
        pk_answer(&pk, true, "eligible", "3171010101010001", "3171010001", 1, "s", keys[i], false);
        r = rd_of(&sb);
        assert_int_equal(eligc__dec_answer(&r, &a, &why), ELIGC_EPROTO);
    }
    struct {
        bool eligible;
        const char *reason, *kk, *region;
        uint64_t amount;
        const char *snap;
    } bad[] = {
        {true, "eligible", "317101010101000", "3171010001", 1, "s"},   /* kk 15 digits */
        {true, "eligible", "3171010101010001", "317101000x", 1, "s"},  /* region */
        {true, "eligible", "3171010101010001", "3171010001", 4294967296ull, "s"},
        {true, "not_found", NULL, NULL, 0, "s"},                     /* eligible vs reason */
        {false, "no_such_reason", NULL, NULL, 0, "s"},
        {true, "eligible", "3171010101010001", "3171010001", 1,
         "0123456789012345678901234567890123456789012345678901234567890123456789"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer_clear(&sb);
        pk_answer(&pk, bad[i].eligible, bad[i].reason, bad[i].kk, bad[i].region, bad[i].amount,
                  bad[i].snap, NULL, false);
        r = rd_of(&sb);
        assert_int_equal(eligc__dec_answer(&r, &a, &why), ELIGC_EPROTO);
    }
    /* The largest amount is fine. */
    msgpack_sbuffer_clear(&sb);
    pk_answer(&pk, true, "eligible", "3171010101010001", "3171010001", 4294967295ull, "s", NULL,
              false);
    r = rd_of(&sb);
    assert_int_equal(eligc__dec_answer(&r, &a, &why), 0);
    assert_int_equal(a.amount, 4294967295u);
    /* A list of answers must have exactly n. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 1);
    pk_answer(&pk, false, "not_found", NULL, NULL, 0, "s", NULL, false);
    eligc_answer two[2];
    r = rd_of(&sb);
    assert_int_equal(eligc__dec_answers(&r, two, 2, &why), ELIGC_EPROTO);
    r = rd_of(&sb);
    assert_int_equal(eligc__dec_answers(&r, two, 1, &why), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void pk_enrollment(msgpack_packer *pk, const char *prog, const char *start,
                          const char *end, uint32_t amount, const char *status) {
    msgpack_pack_map(pk, 5);
    pk_str(pk, "program");
    pk_str(pk, prog);
    pk_str(pk, "start");
    pk_str(pk, start);
    pk_str(pk, "end");
    end ? pk_str(pk, end) : msgpack_pack_nil(pk);
    pk_str(pk, "amount");
    msgpack_pack_uint32(pk, amount);
    pk_str(pk, "status");
    pk_str(pk, status);
}

static void test_decode_household(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pk_str(&pk, "kk");
    pk_str(&pk, "3171010101010001");
    pk_str(&pk, "region");
    pk_str(&pk, "3171010001");
    pk_str(&pk, "status");
    pk_str(&pk, "suspended");
    pk_str(&pk, "kks");
    msgpack_pack_nil(&pk);
    pk_str(&pk, "members");
    msgpack_pack_uint8(&pk, 4);
    pk_str(&pk, "enrollments");
    msgpack_pack_array(&pk, 2);
    pk_enrollment(&pk, "BPNT", "2025-01", NULL, 200000, "active");
    pk_enrollment(&pk, "PKH", "2026-01", "2026-12", 110000, "suspended");
    mpr_cur r = rd_of(&sb);
    eligc_household h;
    const char *why;
    assert_int_equal(eligc__dec_household(&r, &h, &why), 0);
    assert_true(h.found);
    assert_string_equal(h.kk, "3171010101010001");
    assert_int_equal(h.status, ELIG_HH_SUSPENDED);
    assert_string_equal(h.kks, "");
    assert_int_equal(h.members, 4);
    assert_int_equal(h.n_enrollments, 2);
    assert_string_equal(h.enrollments[0].program, "BPNT");
    assert_string_equal(h.enrollments[0].end, "");
    assert_int_equal(h.enrollments[1].amount, 110000);
    assert_string_equal(h.enrollments[1].end, "2026-12");
    assert_int_equal(h.enrollments[1].status, ELIG_ENR_SUSPENDED);
    eligc_household_free(&h);
    assert_null(h.enrollments);

    /* nil: the id names nothing. */
    static const uint8_t nil = 0xc0;
    mpr_cur rn = {&nil, &nil + 1};
    assert_int_equal(eligc__dec_household(&rn, &h, &why), 0);
    assert_false(h.found);

    /* An enrollments header claiming more entries than bytes can hold. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "enrollments");
    msgpack_pack_array(&pk, 1000);
    for (int i = 0; i < 1000; i++)
        msgpack_pack_map(&pk, 0); /* 1 byte each: far less than a real one */
    r = rd_of(&sb);
    assert_int_equal(eligc__dec_household(&r, &h, &why), ELIGC_EPROTO);
    assert_null(h.enrollments);
    msgpack_sbuffer_destroy(&sb);
}

static void test_decode_info(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 10);
    pk_str(&pk, "version");
    pk_str(&pk, "0.1.0");
    pk_str(&pk, "snapshot");
    pk_str(&pk, "s1");
    pk_str(&pk, "created");
    pk_str(&pk, "2026-11-27T23:40:00Z");
    const char *counts[] = {"households", "members", "enrollments", "connections", "requests"};
    for (int i = 0; i < 5; i++) {
        pk_str(&pk, counts[i]);
        msgpack_pack_uint64(&pk, (uint64_t)(i + 1) * 1000000000ull);
    }
    pk_str(&pk, "uptime_s");
    msgpack_pack_double(&pk, 12.75); /* a float uptime is read too */
    pk_str(&pk, "reload_error");
    pk_str(&pk, "snapshot.lmdb: unknown schema version 9");
    mpr_cur r = rd_of(&sb);
    eligc_info info;
    const char *why;
    assert_int_equal(eligc__dec_info(&r, &info, &why), 0);
    assert_string_equal(info.version, "0.1.0");
    assert_string_equal(info.created, "2026-11-27T23:40:00Z");
    assert_int_equal(info.households, 1000000000ull);
    assert_int_equal(info.requests, 5000000000ull);
    assert_int_equal(info.uptime_s, 12);
    assert_true(info.reload_failed);
    assert_string_equal(info.reload_error, "snapshot.lmdb: unknown schema version 9");
    msgpack_sbuffer_destroy(&sb);
}

/* ---- query syntax ------------------------------------------------------ */

static void test_query_valid(void **state) {
    (void)state;
    const char *why;
    eligc_query ok = {ELIG_KIND_NIK, "3171014101900001", "PKH_2", "0001-01"};
    assert_int_equal(eligc_query_valid(&ok, &why), 0);
    assert_null(why);
    struct {
        eligc_query q;
        const char *field;
    } bad[] = {
        {{ELIG_KIND_COUNT, "3171014101900001", "PKH", "2026-11"}, "kind"},
        {{ELIG_KIND_KK, "317101410190000", "PKH", "2026-11"}, "id"},
        {{ELIG_KIND_KK, "31710141019000011", "PKH", "2026-11"}, "id"},
        {{ELIG_KIND_KK, "3171014101900a01", "PKH", "2026-11"}, "id"},
        {{ELIG_KIND_KK, NULL, "PKH", "2026-11"}, "id"},
        {{ELIG_KIND_KK, "3171014101900001", "pkh", "2026-11"}, "program"},
        {{ELIG_KIND_KK, "3171014101900001", "", "2026-11"}, "program"},
        {{ELIG_KIND_KK, "3171014101900001", "ABCDEFGHIJKLMNOPQ", "2026-11"}, "program"},
        {{ELIG_KIND_KK, "3171014101900001", "PKH", "2026-13"}, "period"},
        {{ELIG_KIND_KK, "3171014101900001", "PKH", "2026-00"}, "period"},
        {{ELIG_KIND_KK, "3171014101900001", "PKH", "0000-01"}, "period"},
        {{ELIG_KIND_KK, "3171014101900001", "PKH", "2026-1"}, "period"},
        {{ELIG_KIND_KK, "3171014101900001", "PKH", "2026/11"}, "period"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(eligc_query_valid(&bad[i].q, &why), ELIGC_EBADARG);
        assert_string_equal(why, bad[i].field);
    }
    /* Any 16 digits is a well-formed id, even all zeros (it names nothing). */
    eligc_query zeros = {ELIG_KIND_NIK, "0000000000000000", "ABCDEFGHIJKLMNOP", "9999-12"};
    assert_int_equal(eligc_query_valid(&zeros, &why), 0);
}

static void test_strerror(void **state) {
    (void)state;
    assert_string_equal(eligc_strerror(ELIGC_ETIMEOUT), "timeout");
    assert_string_equal(eligc_strerror(ELIGC_ECONNLOST), "connection lost");
    assert_string_equal(eligc_strerror(ELIGC_EBADARG), "bad argument");
    assert_string_equal(eligc_strerror(-1000), "unknown error");
    assert_string_equal(eligc_version(), ELIGC_VERSION_STRING);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_check),
        cmocka_unit_test(test_encode_msgid_width),
        cmocka_unit_test(test_encode_batch_and_household),
        cmocka_unit_test(test_scan_piecewise),
        cmocka_unit_test(test_scan_hostile_sizes),
        cmocka_unit_test(test_scan_all_scalar_forms),
        cmocka_unit_test(test_resp_split_and_error),
        cmocka_unit_test(test_decode_answer),
        cmocka_unit_test(test_decode_answer_bin_strings),
        cmocka_unit_test(test_decode_answer_rejects),
        cmocka_unit_test(test_decode_household),
        cmocka_unit_test(test_decode_info),
        cmocka_unit_test(test_query_valid),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
