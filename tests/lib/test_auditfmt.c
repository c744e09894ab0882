/* test_auditfmt.c — the audit trail's bytes (lib/auditfmt.h, docs/AUDIT.md).
 *
 * The expected bytes are written by hand from the layout in docs/AUDIT.md
 * (offsets, little-endian integers), and the SHA-256 value is the FIPS
 * 180-2 test vector; none is produced by the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "auditfmt.h"

static audit_rec sample(void) {
    return (audit_rec){
        .time_us = 0x0102030405060708ull,
        .conn_id = 42,
        .id = 3201011501900001ull,
        .kk = 3201010000000001ull,
        .period = 2024 * 12 + 5, /* 2024-06 */
        .amount = 750000,
        .item = 7,
        .method = AUDIT_METHOD_CHECK_BATCH,
        .kind = 1, /* nik */
        .outcome = AUDIT_OUT_REASON,
        .code = 0, /* eligible */
        .program = "PKH", .program_len = 3,
        .channel = "bank-bri", .channel_len = 8,
        .peer = "10.0.0.1:5000", .peer_len = 13,
        .snapshot = "snap-A", .snapshot_len = 6,
    };
}

static void record_layout(void **state) {
    (void)state;
    audit_rec r = sample();
    uint8_t b[AUDIT_REC_MAX];
    size_t n = audit_rec_encode(&r, b);
    size_t want = 56 + 3 + 8 + 13 + 6;
    assert_int_equal(n, want);
    assert_int_equal(audit_rec_size(&r), want);
    assert_int_equal(b[0], want & 0xff);
    assert_int_equal(b[1], want >> 8);
    assert_int_equal(b[2], 2); /* check_batch */
    assert_int_equal(b[3], 1); /* nik */
    assert_int_equal(b[4], 0);
    assert_int_equal(b[5], 0);
    assert_int_equal(b[6], 0);
    assert_int_equal(b[7], 3);
    static const uint8_t t[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(b + 8, t, 8);
    assert_int_equal(b[16], 42);
    /* 750000 = 0x000B71B0 */
    assert_int_equal(b[44], 0xB0);
    assert_int_equal(b[45], 0x71);
    assert_int_equal(b[46], 0x0B);
    assert_int_equal(b[47], 0x00);
    assert_int_equal(b[48], 7);
    assert_int_equal(b[52], 8);
    assert_int_equal(b[53], 13);
    assert_int_equal(b[54], 6);
    assert_int_equal(b[55], 0);
    assert_memory_equal(b + 56, "PKHbank-bri10.0.0.1:5000snap-A", 30);

    audit_rec d;
    assert_int_equal(audit_rec_decode(b, n, NULL, &d), (long)n);
    assert_true(d.time_us == r.time_us && d.id == r.id && d.kk == r.kk && d.amount == 750000);
    assert_int_equal(d.period, 2024 * 12 + 5);
    assert_int_equal(d.item, 7);
    assert_int_equal(d.channel_len, 8);
    assert_memory_equal(d.channel, "bank-bri", 8);
    assert_string_equal(audit_result_name(&d), "eligible");
    assert_string_equal(audit_method_name(d.method), "check_batch");
    assert_string_equal(audit_kind_name(d.kind), "nik");
}

static void record_caps_and_rejects(void **state) {
    (void)state;
    char longname[200];
    memset(longname, 'c', sizeof longname);
    audit_rec r = sample();
    r.channel = longname;
    r.channel_len = 200;
    uint8_t b[AUDIT_REC_MAX];
    size_t n = audit_rec_encode(&r, b);
    assert_int_equal(n, 56 + 3 + 64 + 13 + 6); /* the channel cut at 64 */
    audit_rec d;
    assert_int_equal(audit_rec_decode(b, n, NULL, &d), (long)n);
    assert_int_equal(d.channel_len, 64);

    assert_int_equal(audit_rec_decode(b, n - 1, NULL, &d), -1); /* cut short */
    assert_int_equal(audit_rec_decode(b, 40, NULL, &d), -1);
    uint8_t e[AUDIT_REC_MAX];
    memcpy(e, b, n);
    e[0]++; /* length that does not add up */
    assert_int_equal(audit_rec_decode(e, n, NULL, &d), -1);
    memcpy(e, b, n);
    e[6] = 1;
    assert_int_equal(audit_rec_decode(e, n, NULL, &d), -1);
    memcpy(e, b, n);
    e[2] = 0;
    assert_int_equal(audit_rec_decode(e, n, NULL, &d), -1);
    e[2] = 7; /* past the last method (6, offline_check) */
    assert_int_equal(audit_rec_decode(e, n, NULL, &d), -1);
    memcpy(e, b, n);
    e[3] = 4;
    assert_int_equal(audit_rec_decode(e, n, NULL, &d), -1);

    /* Results of each outcome. */
    d.outcome = AUDIT_OUT_ERROR, d.code = 5;
    assert_string_equal(audit_result_name(&d), "unavailable");
    d.outcome = AUDIT_OUT_FOUND;
    assert_string_equal(audit_result_name(&d), "found");
    d.outcome = AUDIT_OUT_NIL;
    assert_string_equal(audit_result_name(&d), "nil");
    d.outcome = AUDIT_OUT_OK;
    assert_string_equal(audit_result_name(&d), "ok");
    assert_int_equal(audit_method_lookup("household", 9), AUDIT_METHOD_HOUSEHOLD);
    assert_int_equal(audit_method_lookup("info", 4), AUDIT_METHOD_NONE);
}

static void header_and_blocks(void **state) {
    (void)state;
    audit_header h = {.version = 1, .flags = AUDIT_FLAG_PREV_UNCLOSED, .seq = 9, .created_us = 5,
                      .prev_records = 77, .prev_bytes = 1234};
    memset(h.prev_chain, 0xAB, sizeof h.prev_chain);
    uint8_t b[AUDIT_HEADER_LEN];
    audit_header_encode(&h, b);
    assert_memory_equal(b, "ELIGAUD1", 8);
    assert_int_equal(b[8], 1);
    assert_int_equal(b[12], 1);
    assert_int_equal(b[16], 9);
    assert_int_equal(b[32], 77);
    assert_int_equal(b[40], 1234 & 0xff);
    assert_int_equal(b[41], 1234 >> 8);
    assert_int_equal(b[48], 0xAB);
    assert_int_equal(b[79], 0xAB);
    assert_int_equal(b[80], 0);
    audit_header d;
    const char *why;
    assert_int_equal(audit_header_decode(b, &d, &why), 0);
    assert_true(d.seq == 9 && d.prev_records == 77 && d.prev_bytes == 1234 && d.flags == 1);
    b[100] = 1;
    assert_int_equal(audit_header_decode(b, &d, &why), -1);
    b[100] = 0;
    b[0] = 'X';
    assert_int_equal(audit_header_decode(b, &d, &why), -1);

    audit_block k = {.raw_len = 300, .stored_len = 300, .count = 3, .first_record = 10, .min_time_us = 1,
                     .max_time_us = 2, .codec = AUDIT_CODEC_RAW};
    uint8_t kb[AUDIT_BLOCK_HEAD_LEN];
    audit_block_encode(&k, kb);
    assert_memory_equal(kb, "BLK1", 4);
    assert_int_equal(kb[4], 300 & 0xff);
    assert_int_equal(kb[12], 3);
    assert_int_equal(kb[16], 10);
    audit_block kd;
    assert_int_equal(audit_block_decode(kb, &kd, &why), 0);
    assert_true(!kd.end && kd.count == 3 && kd.first_record == 10);
    kb[8] = 0x2d; /* stored 301 != raw 300 with codec raw */
    assert_int_equal(audit_block_decode(kb, &kd, &why), -1);
    audit_block_encode(&k, kb);
    kb[12] = 0; /* no records */
    assert_int_equal(audit_block_decode(kb, &kd, &why), -1);

    audit_block e = {.end = true, .records = 99, .bytes = 4096, .closed_us = 3};
    audit_block_encode(&e, kb);
    assert_memory_equal(kb, "END1", 4);
    assert_int_equal(kb[8], 99);
    assert_int_equal(audit_block_decode(kb, &kd, &why), 0);
    assert_true(kd.end && kd.records == 99 && kd.bytes == 4096);
}

static void chain_is_sha256(void **state) {
    (void)state;
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t out[32];
    assert_int_equal(audit_chain(NULL, "ab", 2, "c", 1, out), 0);
    assert_memory_equal(out, abc, 32);
    assert_int_equal(audit_chain(NULL, "abc", 3, NULL, 0, out), 0);
    assert_memory_equal(out, abc, 32);
    char hex[65];
    audit_hex(abc, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* prev is hashed first: SHA256(prev || a) differs from SHA256(a). */
    uint8_t with[32];
    assert_int_equal(audit_chain(abc, "abc", 3, NULL, 0, with), 0);
    assert_memory_not_equal(with, abc, 32);
}

static void payloads(void **state) {
    (void)state;
    audit_rec r = sample();
    uint8_t raw[2 * AUDIT_REC_MAX + 8];
    size_t n = audit_rec_encode(&r, raw);
    r.item = 8;
    n += audit_rec_encode(&r, raw + n);
    audit_block b = {.raw_len = (uint32_t)n, .stored_len = (uint32_t)n, .count = 2};
    assert_int_equal(audit_payload_check(&b, raw), -1);
    b.count = 3;
    assert_int_equal(audit_payload_check(&b, raw), 2);
    b.count = 1;
    assert_int_equal(audit_payload_check(&b, raw), 1); /* bytes left over */
    b.count = 2;
    raw[n / 2 + 6] = 9; /* the second record's reserved byte */
    assert_int_equal(audit_payload_check(&b, raw), 1);
    raw[n / 2 + 6] = 0;

    uint8_t z[1024], back[sizeof raw];
    size_t zn = ZSTD_compress(z, sizeof z, raw, n, 1);
    assert_false(ZSTD_isError(zn));
    audit_block zb = {.raw_len = (uint32_t)n, .stored_len = (uint32_t)zn, .count = 2, .codec = AUDIT_CODEC_ZSTD};
    const char *why;
    assert_int_equal(audit_payload_decode(&zb, z, back, &why), 0);
    assert_memory_equal(back, raw, n);
    zb.raw_len = (uint32_t)n - 1;
    assert_int_equal(audit_payload_decode(&zb, z, back, &why), -1);
}

/* A record repeating the strings of the one before it in its block leaves
 * them out (length byte 0xFF); decoding takes them from that record. */
static void same_as_before(void **state) {
    (void)state;
    audit_rec a = sample(), b = sample();
    b.item = 8;
    b.program = "BPNT", b.program_len = 4; /* differs: kept */
    uint8_t buf[2 * AUDIT_REC_MAX];
    size_t n1 = audit_rec_encode_after(&a, NULL, buf);
    assert_int_equal(n1, 56 + 3 + 8 + 13 + 6);
    audit_rec da, db;
    assert_int_equal(audit_rec_decode(buf, n1, NULL, &da), (long)n1);
    size_t n2 = audit_rec_encode_after(&b, &da, buf + n1);
    assert_int_equal(n2, 56 + 4); /* only the programme's 4 bytes */
    uint8_t *r2 = buf + n1;
    assert_int_equal(r2[0], 60);
    assert_int_equal(r2[7], 4);
    assert_int_equal(r2[52], 0xFF);
    assert_int_equal(r2[53], 0xFF);
    assert_int_equal(r2[54], 0xFF);
    assert_int_equal(r2[55], 0);
    assert_memory_equal(r2 + 56, "BPNT", 4);
    assert_int_equal(audit_rec_decode(r2, n2, &da, &db), (long)n2);
    assert_int_equal(db.channel_len, 8);
    assert_memory_equal(db.channel, "bank-bri", 8);
    assert_memory_equal(db.peer, "10.0.0.1:5000", 13);
    assert_memory_equal(db.program, "BPNT", 4);
    assert_int_equal(audit_rec_decode(r2, n2, NULL, &db), -1); /* "as before" with nothing before */
    audit_block blk = {.raw_len = (uint32_t)(n1 + n2), .stored_len = (uint32_t)(n1 + n2), .count = 2};
    assert_int_equal(audit_payload_check(&blk, buf), -1);

    /* The writer's path: full records in, the same bytes out. */
    uint8_t f1[AUDIT_REC_MAX], f2[AUDIT_REC_MAX], out[2 * AUDIT_REC_MAX];
    size_t l1 = audit_rec_encode(&a, f1), l2 = audit_rec_encode(&b, f2);
    audit_strs st;
    size_t m1 = audit_rec_compact(f1, l1, NULL, out, &st);
    size_t m2 = audit_rec_compact(f2, l2, &st, out + m1, &st);
    assert_int_equal(m1, n1);
    assert_int_equal(m2, n2);
    assert_memory_equal(out, buf, n1 + n2);
    assert_int_equal(st.n[1], 8);
    assert_memory_equal(st.s[1], "bank-bri", 8);
    assert_ptr_equal(st.s[1], out + 56 + 3); /* the first record's copy */
}

static void names_and_times(void **state) {
    (void)state;
    char name[AUDIT_SEG_NAME_MAX], t[32];
    audit_seg_name(7, 1796305824328514ull, name);
    assert_string_equal(name, "audit-0000000007-20261203T135024Z.seg");
    assert_int_equal(audit_seg_name_seq(name), 7);
    assert_int_equal(audit_seg_name_seq("audit-0000000007-20261203T135024Z.seg.1"), 0);
    assert_int_equal(audit_seg_name_seq("audit-000000000x-20261203T135024Z.seg"), 0);
    assert_int_equal(audit_seg_name_seq(".eligd-audit.lock"), 0);
    audit_format_time(1796305824328514ull, t);
    assert_string_equal(t, "2026-12-03T13:50:24.328514Z");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_layout),     cmocka_unit_test(record_caps_and_rejects),
        cmocka_unit_test(header_and_blocks), cmocka_unit_test(chain_is_sha256),
        cmocka_unit_test(payloads),          cmocka_unit_test(same_as_before),
        cmocka_unit_test(names_and_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
