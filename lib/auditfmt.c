/* auditfmt.c — see auditfmt.h. */
#include "auditfmt.h"

#include "alloc.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "elig_wire.h"

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint8_t cap(uint8_t n, uint8_t max) { return n < max ? n : max; }

/* Record layout (AUDIT_REC_FIXED bytes, then the strings in this order):
 *  0 u16 len   2 u8 method   3 u8 kind   4 u8 outcome   5 u8 code
 *  6 u8 0      7 u8 program_len
 *  8 u64 time_us  16 u64 conn_id  24 u64 id  32 u64 kk
 * 40 u32 period  44 u32 amount  48 u32 item
 * 52 u8 channel_len  53 u8 peer_len  54 u8 snapshot_len  55 u8 detail_len
 * A string length of AUDIT_SAME means "the same as the record before in
 * this block", and the string's bytes are left out. */
size_t audit_rec_size(const audit_rec *r) {
    return AUDIT_REC_FIXED + cap(r->program_len, AUDIT_PROGRAM_MAX) + cap(r->channel_len, AUDIT_CHANNEL_MAX) +
           cap(r->peer_len, AUDIT_PEER_MAX) + cap(r->snapshot_len, AUDIT_SNAPSHOT_MAX) +
           cap(r->detail_len, AUDIT_DETAIL_MAX);
}

static uint8_t *put_str(uint8_t *p, const char *s, uint8_t n) {
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* The length byte for a string: AUDIT_SAME when prev has the same one. */
static uint8_t len_or_same(const char *s, uint8_t n, const char *ps, uint8_t pn, bool have_prev) {
    return have_prev && n && n == pn && memcmp(s, ps, n) == 0 ? AUDIT_SAME : n;
}

size_t audit_rec_encode_after(const audit_rec *r, const audit_rec *prev, uint8_t *out) {
    uint8_t pl = cap(r->program_len, AUDIT_PROGRAM_MAX), cl = cap(r->channel_len, AUDIT_CHANNEL_MAX),
            el = cap(r->peer_len, AUDIT_PEER_MAX), sl = cap(r->snapshot_len, AUDIT_SNAPSHOT_MAX),
            dl = cap(r->detail_len, AUDIT_DETAIL_MAX);
    bool hp = prev != NULL;
    uint8_t pk = hp ? len_or_same(r->program, pl, prev->program, prev->program_len, hp) : pl,
            ck = hp ? len_or_same(r->channel, cl, prev->channel, prev->channel_len, hp) : cl,
            ek = hp ? len_or_same(r->peer, el, prev->peer, prev->peer_len, hp) : el,
            sk = hp ? len_or_same(r->snapshot, sl, prev->snapshot, prev->snapshot_len, hp) : sl;
#define BYTES_(k, n) ((k) == AUDIT_SAME ? 0 : (n))
    size_t len = AUDIT_REC_FIXED + BYTES_(pk, pl) + BYTES_(ck, cl) + BYTES_(ek, el) + BYTES_(sk, sl) + dl;
    put16(out, (uint16_t)len);
    out[2] = r->method;
    out[3] = r->kind;
    out[4] = r->outcome;
    out[5] = r->code;
    out[6] = 0;
    out[7] = pk;
    put64(out + 8, r->time_us);
    put64(out + 16, r->conn_id);
    put64(out + 24, r->id);
    put64(out + 32, r->kk);
    put32(out + 40, r->period);
    put32(out + 44, r->amount);
    put32(out + 48, r->item);
    out[52] = ck;
    out[53] = ek;
    out[54] = sk;
    out[55] = dl;
    uint8_t *p = out + AUDIT_REC_FIXED;
    p = put_str(p, r->program, BYTES_(pk, pl));
    p = put_str(p, r->channel, BYTES_(ck, cl));
    p = put_str(p, r->peer, BYTES_(ek, el));
    p = put_str(p, r->snapshot, BYTES_(sk, sl));
    put_str(p, r->detail, dl);
#undef BYTES_
    return len;
}

size_t audit_rec_encode(const audit_rec *r, uint8_t *out) { return audit_rec_encode_after(r, NULL, out); }

size_t audit_rec_compact(const uint8_t *full, size_t len, const audit_strs *prev, uint8_t *out, audit_strs *now) {
    static const int at[4] = {7, 52, 53, 54}; /* where each string's length byte is */
    memcpy(out, full, AUDIT_REC_FIXED);
    const uint8_t *src = full + AUDIT_REC_FIXED;
    uint8_t *dst = out + AUDIT_REC_FIXED;
    for (int i = 0; i < 4; i++) {
        uint8_t n = full[at[i]];
        if (prev && n && prev->n[i] == n && memcmp(prev->s[i], src, n) == 0) {
            out[at[i]] = AUDIT_SAME;
            now->s[i] = prev->s[i];
        } else {
            memcpy(dst, src, n);
            now->s[i] = dst;
            dst += n;
        }
        now->n[i] = n;
        src += n;
    }
    size_t rest = len - (size_t)(src - full); /* detail */
    memcpy(dst, src, rest);
    dst += rest;
    size_t m = (size_t)(dst - out);
    put16(out, (uint16_t)m);
    return m;
}

/* One string of a record being decoded: its bytes at *s, or prev's. */
static bool take_str(uint8_t k, uint8_t max, const char **s, const char *pstr, uint8_t plen, bool have_prev,
                     const char **out, uint8_t *outlen, size_t *bytes) {
    if (k == AUDIT_SAME) {
        if (!have_prev || !plen)
            return false;
        *out = pstr;
        *outlen = plen;
        return true;
    }
    if (k > max)
        return false;
    *out = *s;
    *outlen = k;
    *s += k;
    *bytes += k;
    return true;
}

long audit_rec_decode(const uint8_t *p, size_t n, const audit_rec *prev, audit_rec *r) {
    if (n < AUDIT_REC_FIXED)
        return -1;
    size_t len = get16(p), bytes = AUDIT_REC_FIXED;
    if (len > n || p[6] != 0 || p[2] == AUDIT_METHOD_NONE || p[2] > AUDIT_METHOD_LAST || p[3] > 3 ||
        p[4] > AUDIT_OUT_OK || p[55] > AUDIT_DETAIL_MAX)
        return -1;
    bool hp = prev != NULL;
    const char *s = (const char *)p + AUDIT_REC_FIXED;
    audit_rec q = {0};
    if (!take_str(p[7], AUDIT_PROGRAM_MAX, &s, hp ? prev->program : NULL, hp ? prev->program_len : 0, hp,
                  &q.program, &q.program_len, &bytes) ||
        !take_str(p[52], AUDIT_CHANNEL_MAX, &s, hp ? prev->channel : NULL, hp ? prev->channel_len : 0, hp,
                  &q.channel, &q.channel_len, &bytes) ||
        !take_str(p[53], AUDIT_PEER_MAX, &s, hp ? prev->peer : NULL, hp ? prev->peer_len : 0, hp, &q.peer,
                  &q.peer_len, &bytes) ||
        !take_str(p[54], AUDIT_SNAPSHOT_MAX, &s, hp ? prev->snapshot : NULL, hp ? prev->snapshot_len : 0, hp,
                  &q.snapshot, &q.snapshot_len, &bytes))
        return -1;
    q.detail = s;
    q.detail_len = p[55];
    bytes += p[55];
    if (bytes != len)
        return -1;
    q.method = p[2];
    q.kind = p[3];
    q.outcome = p[4];
    q.code = p[5];
    q.time_us = get64(p + 8);
    q.conn_id = get64(p + 16);
    q.id = get64(p + 24);
    q.kk = get64(p + 32);
    q.period = get32(p + 40);
    q.amount = get32(p + 44);
    q.item = get32(p + 48);
    *r = q;
    return (long)len;
}

const char *audit_method_name(int method) {
    switch (method) {
#define AUDIT_X_(e, n, s)                                                      \
    case n:                                                                    \
        return s;
        AUDIT_METHOD_MAP(AUDIT_X_)
#undef AUDIT_X_
    default:
        return "?";
    }
}

int audit_method_lookup(const char *s, size_t n) {
#define AUDIT_X_(e, num, name)                                                 \
    if (n == sizeof(name) - 1 && memcmp(s, name, n) == 0)                      \
        return num;
    AUDIT_METHOD_MAP(AUDIT_X_)
#undef AUDIT_X_
    return AUDIT_METHOD_NONE;
}

const char *audit_kind_name(int kind) {
    const char *s = kind >= 1 && kind <= ELIG_KIND_COUNT ? elig_kind_name((elig_kind)(kind - 1)) : NULL;
    return s ? s : "-";
}

const char *audit_result_name(const audit_rec *r) {
    const char *s = NULL;
    switch (r->outcome) {
    case AUDIT_OUT_REASON:
        s = elig_reason_code((elig_reason)r->code);
        break;
    case AUDIT_OUT_ERROR:
        s = elig_errcode_name(r->code);
        break;
    case AUDIT_OUT_FOUND:
        return "found";
    case AUDIT_OUT_NIL:
        return "nil";
    case AUDIT_OUT_OK:
        return "ok";
    }
    return s ? s : "?";
}

/* ---- segment header ---------------------------------------------------- */

/*  0 magic[8]  8 u32 version  12 u32 flags  16 u64 seq  24 u64 created_us
 * 32 u64 prev_records  40 u64 prev_bytes  48 prev_chain[32]  80 zero[48] */
void audit_header_encode(const audit_header *h, uint8_t out[AUDIT_HEADER_LEN]) {
    memset(out, 0, AUDIT_HEADER_LEN);
    memcpy(out, AUDIT_MAGIC, 8);
    put32(out + 8, h->version);
    put32(out + 12, h->flags);
    put64(out + 16, h->seq);
    put64(out + 24, h->created_us);
    put64(out + 32, h->prev_records);
    put64(out + 40, h->prev_bytes);
    memcpy(out + 48, h->prev_chain, AUDIT_HASH_LEN);
}

int audit_header_decode(const uint8_t p[AUDIT_HEADER_LEN], audit_header *h, const char **why) {
    if (memcmp(p, AUDIT_MAGIC, 8) != 0)
        return *why = "not an eligd audit segment (bad magic)", -1;
    h->version = get32(p + 8);
    if (h->version != AUDIT_FORMAT_VERSION)
        return *why = "unknown audit format version", -1;
    h->flags = get32(p + 12);
    h->seq = get64(p + 16);
    h->created_us = get64(p + 24);
    h->prev_records = get64(p + 32);
    h->prev_bytes = get64(p + 40);
    memcpy(h->prev_chain, p + 48, AUDIT_HASH_LEN);
    for (int i = 80; i < AUDIT_HEADER_LEN; i++)
        if (p[i])
            return *why = "header reserved bytes are not zero", -1;
    if (h->seq == 0 || (h->flags & ~(AUDIT_FLAG_PREV_UNCLOSED | AUDIT_FLAG_CHAIN_RESTART)))
        return *why = "header fields out of range", -1;
    return 0;
}

/* ---- blocks ------------------------------------------------------------ */

/* Data block:  0 "BLK1"  4 u32 raw_len  8 u32 stored_len  12 u32 count
 *             16 u64 first_record  24 u64 min_time_us  32 u64 max_time_us
 *             40 u8 codec  41 zero[7]
 * End block:   0 "END1"  4 u32 0  8 u64 records  16 u64 bytes
 *             24 u64 closed_us  32 zero[16] */
void audit_block_encode(const audit_block *b, uint8_t out[AUDIT_BLOCK_HEAD_LEN]) {
    memset(out, 0, AUDIT_BLOCK_HEAD_LEN);
    if (b->end) {
        memcpy(out, AUDIT_END_MAGIC, 4);
        put64(out + 8, b->records);
        put64(out + 16, b->bytes);
        put64(out + 24, b->closed_us);
        return;
    }
    memcpy(out, AUDIT_BLOCK_MAGIC, 4);
    put32(out + 4, b->raw_len);
    put32(out + 8, b->stored_len);
    put32(out + 12, b->count);
    put64(out + 16, b->first_record);
    put64(out + 24, b->min_time_us);
    put64(out + 32, b->max_time_us);
    out[40] = b->codec;
}

static bool zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int audit_block_decode(const uint8_t p[AUDIT_BLOCK_HEAD_LEN], audit_block *b, const char **why) {
    memset(b, 0, sizeof *b);
    if (memcmp(p, AUDIT_END_MAGIC, 4) == 0) {
        b->end = true;
        b->records = get64(p + 8);
        b->bytes = get64(p + 16);
        b->closed_us = get64(p + 24);
        if (get32(p + 4) != 0 || !zero(p + 32, 16))
            return *why = "end block reserved bytes are not zero", -1;
        return 0;
    }
    if (memcmp(p, AUDIT_BLOCK_MAGIC, 4) != 0)
        return *why = "not a block (bad magic)", -1;
    b->raw_len = get32(p + 4);
    b->stored_len = get32(p + 8);
    b->count = get32(p + 12);
    b->first_record = get64(p + 16);
    b->min_time_us = get64(p + 24);
    b->max_time_us = get64(p + 32);
    b->codec = p[40];
    if (!zero(p + 41, 7) || b->codec > AUDIT_CODEC_ZSTD || b->raw_len > AUDIT_BLOCK_RAW_LIMIT ||
        b->stored_len > AUDIT_BLOCK_RAW_LIMIT || b->count == 0 ||
        (uint64_t)b->count * AUDIT_REC_FIXED > b->raw_len || b->min_time_us > b->max_time_us ||
        (b->codec == AUDIT_CODEC_RAW && b->stored_len != b->raw_len))
        return *why = "block head fields out of range", -1;
    return 0;
}

/* ---- per-thread contexts ----------------------------------------------- */

/* A SHA-256 context and a zstd decompression context per thread, reused
 * (making one per block would cost an allocation and a setup each time),
 * and freed when the thread ends. */
typedef struct {
    EVP_MD_CTX *md;
    ZSTD_DCtx *dz;
} tls_ctx;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p) {
    tls_ctx *t = p;
    EVP_MD_CTX_free(t->md);
    ZSTD_freeDCtx(t->dz);
    elig_free(t);
}

static void tls_make_key(void) { pthread_key_create(&tls_key, tls_free); }

static tls_ctx *tls(void) {
    pthread_once(&tls_once, tls_make_key);
    tls_ctx *t = pthread_getspecific(tls_key);
    if (!t && (t = elig_calloc(1, sizeof *t)) && pthread_setspecific(tls_key, t) != 0) {
        elig_free(t);
        t = NULL;
    }
    return t;
}

/* ---- the chain --------------------------------------------------------- */

int audit_chain(const uint8_t *prev, const void *a, size_t an, const void *b, size_t bn,
                uint8_t out[AUDIT_HASH_LEN]) {
    tls_ctx *t = tls();
    if (!t || (!t->md && !(t->md = EVP_MD_CTX_new())))
        return -1;
    EVP_MD_CTX *ctx = t->md;
    unsigned int n;
    bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && (!prev || EVP_DigestUpdate(ctx, prev, AUDIT_HASH_LEN)) &&
              (!an || EVP_DigestUpdate(ctx, a, an)) && (!bn || EVP_DigestUpdate(ctx, b, bn)) &&
              EVP_DigestFinal_ex(ctx, out, &n);
    return ok && n == AUDIT_HASH_LEN ? 0 : -1;
}

void audit_hex(const uint8_t h[AUDIT_HASH_LEN], char out[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < AUDIT_HASH_LEN; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[64] = '\0';
}

/* ---- payloads ---------------------------------------------------------- */

int audit_payload_decode(const audit_block *b, const uint8_t *stored, uint8_t *raw, const char **why) {
    if (b->codec == AUDIT_CODEC_RAW) {
        memcpy(raw, stored, b->raw_len);
        return 0;
    }
    unsigned long long want = ZSTD_getFrameContentSize(stored, b->stored_len);
    if (want != b->raw_len)
        return *why = "compressed payload damaged (frame size does not match the block head)", -1;
    tls_ctx *t = tls();
    if (!t || (!t->dz && !(t->dz = ZSTD_createDCtx())))
        return *why = "out of memory", -1;
    size_t n = ZSTD_decompressDCtx(t->dz, raw, b->raw_len, stored, b->stored_len);
    if (ZSTD_isError(n) || n != b->raw_len)
        return *why = "compressed payload damaged (does not decompress)", -1;
    return 0;
}

long audit_payload_check(const audit_block *b, const uint8_t *raw) {
    size_t off = 0;
    audit_rec r, prev;
    for (uint32_t i = 0; i < b->count; i++) {
        long n = audit_rec_decode(raw + off, b->raw_len - off, i ? &prev : NULL, &r);
        prev = r;
        if (n < 0)
            return i;
        off += (size_t)n;
    }
    return off == b->raw_len ? -1 : (long)b->count;
}

/* ---- names and times --------------------------------------------------- */

void audit_format_time(uint64_t us, char out[32]) {
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[128]; /* room for any int the compiler imagines in tm */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(us % 1000000));
    snprintf(out, 32, "%.31s", tmp);
}

void audit_seg_name(uint64_t seq, uint64_t created_us, char out[AUDIT_SEG_NAME_MAX]) {
    time_t s = (time_t)(created_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[160];
    snprintf(tmp, sizeof tmp, AUDIT_SEG_PREFIX "%010llu-%04d%02d%02dT%02d%02d%02dZ" AUDIT_SEG_SUFFIX,
             (unsigned long long)seq, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    snprintf(out, AUDIT_SEG_NAME_MAX, "%.*s", AUDIT_SEG_NAME_MAX - 1, tmp);
}

uint64_t audit_seg_name_seq(const char *name) {
    size_t pl = strlen(AUDIT_SEG_PREFIX), n = strlen(name), sl = strlen(AUDIT_SEG_SUFFIX);
    /* prefix, 10 digits, '-', 16 chars of time, suffix */
    if (n != pl + 10 + 1 + 16 + sl || strncmp(name, AUDIT_SEG_PREFIX, pl) != 0 ||
        strcmp(name + n - sl, AUDIT_SEG_SUFFIX) != 0 || name[pl + 10] != '-')
        return 0;
    uint64_t seq = 0;
    for (size_t i = pl; i < pl + 10; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        seq = seq * 10 + (uint64_t)(name[i] - '0');
    }
    return seq;
}
