/* wire.c — libeligclient's codec: msgpack-RPC requests out, answers in.
 * See wire.h for why answers are read by hand rather than with
 * msgpack-c's unpacker. */
#include "wire.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

/* ---- buffer ------------------------------------------------------------ */

int eligc__buf_reserve(eligc__buf *b, size_t n) {
    if (b->cap - b->len >= n)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return ELIGC_ENOMEM;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return ELIGC_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void eligc__buf_free(eligc__buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* msgpack_packer's write callback: appends to an eligc__buf. */
static int buf_write(void *data, const char *s, size_t n) {
    eligc__buf *b = data;
    if (eligc__buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    if (msgpack_pack_str(pk, n) != 0)
        return -1;
    return msgpack_pack_str_body(pk, s, n);
}

/* [0, msgid, method, params...] up to the params array header. */
static int pack_head(msgpack_packer *pk, uint32_t msgid, elig_method m, size_t nparams) {
    if (msgpack_pack_array(pk, 4) || msgpack_pack_uint8(pk, ELIG_MSG_REQUEST) ||
        msgpack_pack_uint32(pk, msgid) || pack_cstr(pk, elig_method_name(m)))
        return -1;
    return msgpack_pack_array(pk, nparams);
}

static int pack_query(msgpack_packer *pk, const eligc_query *q) {
    if (msgpack_pack_array(pk, 4) || pack_cstr(pk, elig_kind_name(q->kind)) ||
        pack_cstr(pk, q->id) || pack_cstr(pk, q->program))
        return -1;
    return pack_cstr(pk, q->period);
}

int eligc__enc_noargs(eligc__buf *b, uint32_t msgid, elig_method m) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    return pack_head(&pk, msgid, m, 0) ? ELIGC_ENOMEM : 0;
}

int eligc__enc_check(eligc__buf *b, uint32_t msgid, const eligc_query *q) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    /* The query itself is the params array [kind, id, program, period]. */
    if (msgpack_pack_array(&pk, 4) || msgpack_pack_uint8(&pk, ELIG_MSG_REQUEST) ||
        msgpack_pack_uint32(&pk, msgid) || pack_cstr(&pk, elig_method_name(ELIG_METHOD_CHECK)))
        return ELIGC_ENOMEM;
    return pack_query(&pk, q) ? ELIGC_ENOMEM : 0;
}

int eligc__enc_check_batch(eligc__buf *b, uint32_t msgid, const eligc_query *q, size_t n) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    if (pack_head(&pk, msgid, ELIG_METHOD_CHECK_BATCH, 1) || msgpack_pack_array(&pk, n))
        return ELIGC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (pack_query(&pk, &q[i]))
            return ELIGC_ENOMEM;
    return 0;
}

int eligc__enc_household(eligc__buf *b, uint32_t msgid, elig_kind kind, const char *id) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    if (pack_head(&pk, msgid, ELIG_METHOD_HOUSEHOLD, 2) || pack_cstr(&pk, elig_kind_name(kind)))
        return ELIGC_ENOMEM;
    return pack_cstr(&pk, id) ? ELIGC_ENOMEM : 0;
}

/* ---- framing ----------------------------------------------------------- */

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* The header of the object at p, given avail bytes: its length *hl, the
 * payload bytes that follow it (*body: str, bin, ext) and the child objects
 * that follow (*items: array elements, map keys and values).
 * 1 when known, 0 when the header itself is incomplete, -1 for 0xc1 (the
 * one byte msgpack never uses). */
static int obj_head(const uint8_t *p, size_t avail, size_t *hl, uint64_t *body,
                    uint64_t *items) {
    /* Header length for the types after 0xc0, in byte order (0 = invalid). */
    static const uint8_t head_len[32] = {
        1, 0, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9, /* c0-cf */
        2, 3, 5, 9, 2, 2, 2, 2, 2, 2, 3, 5, 3, 5, 3, 5, /* d0-df */
    };
    if (avail < 1)
        return 0;
    uint8_t t = p[0];
    *body = 0;
    *items = 0;
    *hl = 1;
    if (t <= 0x7f || t >= 0xe0)
        return 1;
    if (t <= 0x8f) {
        *items = 2u * (t & 0x0f);
        return 1;
    }
    if (t <= 0x9f) {
        *items = t & 0x0f;
        return 1;
    }
    if (t <= 0xbf) {
        *body = t & 0x1f;
        return 1;
    }
    *hl = head_len[t - 0xc0];
    if (*hl == 0)
        return -1;
    if (avail < *hl)
        return 0;
    switch (t) {
    case 0xc4: case 0xd9: *body = p[1]; break;
    case 0xc5: case 0xda: *body = be16(p + 1); break;
    case 0xc6: case 0xdb: *body = be32(p + 1); break;
    case 0xc7: *body = p[1]; break;            /* ext8: size, type */
    case 0xc8: *body = be16(p + 1); break;
    case 0xc9: *body = be32(p + 1); break;
    case 0xd4: *body = 1; break;               /* fixext: type + data */
    case 0xd5: *body = 2; break;
    case 0xd6: *body = 4; break;
    case 0xd7: *body = 8; break;
    case 0xd8: *body = 16; break;
    case 0xdc: *items = be16(p + 1); break;
    case 0xdd: *items = be32(p + 1); break;
    case 0xde: *items = 2u * be16(p + 1); break;
    case 0xdf: *items = 2u * (uint64_t)be32(p + 1); break;
    default: break;                            /* scalars: header only */
    }
    return 1;
}

ssize_t eligc__scan_next(eligc__scan *st, const uint8_t *buf, size_t len, size_t limit) {
    if (st->pos == 0 && st->pending == 0)
        st->pending = 1;
    while (st->pending > 0) {
        size_t hl;
        uint64_t body, items;
        int h = obj_head(buf + st->pos, len - st->pos, &hl, &body, &items);
        if (h < 0)
            return ELIGC_EPROTO;
        if (h == 0)
            break;
        if (hl + body > limit - st->pos)
            return ELIGC_EPROTO; /* declared payload longer than the limit */
        if (hl + body > len - st->pos)
            break;
        st->pos += hl + body;
        st->pending += items - 1;
        /* Each object still owed needs a byte at least. */
        if (st->pending > limit - st->pos)
            return ELIGC_EPROTO;
    }
    if (st->pending == 0)
        return (ssize_t)st->pos;
    return len >= limit ? ELIGC_EPROTO : 0;
}

/* ---- reader ------------------------------------------------------------ */

static size_t rd_left(const eligc__rd *r) { return (size_t)(r->end - r->p); }

/* Reads a container header: fix range [lo, lo+15] or the 16/32-bit forms
 * t16/t32. Each declared element must have a byte left. */
static int rd_container(eligc__rd *r, uint8_t lo, uint8_t t16, uint8_t t32, uint32_t *n,
                        unsigned per_item) {
    if (rd_left(r) < 1)
        return ELIGC_EPROTO;
    uint8_t t = r->p[0];
    size_t hl;
    uint32_t v;
    if (t >= lo && t <= lo + 15) {
        hl = 1;
        v = t & 0x0f;
    } else if (t == t16 && rd_left(r) >= 3) {
        hl = 3;
        v = be16(r->p + 1);
    } else if (t == t32 && rd_left(r) >= 5) {
        hl = 5;
        v = be32(r->p + 1);
    } else {
        return ELIGC_EPROTO;
    }
    if ((uint64_t)v * per_item > rd_left(r) - hl)
        return ELIGC_EPROTO;
    r->p += hl;
    *n = v;
    return 0;
}

int eligc__rd_array(eligc__rd *r, uint32_t *n) { return rd_container(r, 0x90, 0xdc, 0xdd, n, 1); }

int eligc__rd_map(eligc__rd *r, uint32_t *n) { return rd_container(r, 0x80, 0xde, 0xdf, n, 2); }

int eligc__rd_str(eligc__rd *r, const char **s, uint32_t *n) {
    if (rd_left(r) < 1)
        return ELIGC_EPROTO;
    uint8_t t = r->p[0];
    size_t hl;
    uint32_t v;
    if (t >= 0xa0 && t <= 0xbf) {
        hl = 1;
        v = t & 0x1f;
    } else if ((t == 0xd9 || t == 0xc4) && rd_left(r) >= 2) {
        hl = 2;
        v = r->p[1];
    } else if ((t == 0xda || t == 0xc5) && rd_left(r) >= 3) {
        hl = 3;
        v = be16(r->p + 1);
    } else if ((t == 0xdb || t == 0xc6) && rd_left(r) >= 5) {
        hl = 5;
        v = be32(r->p + 1);
    } else {
        return ELIGC_EPROTO;
    }
    if (v > rd_left(r) - hl)
        return ELIGC_EPROTO;
    *s = (const char *)r->p + hl;
    *n = v;
    r->p += hl + v;
    return 0;
}

int eligc__rd_int(eligc__rd *r, int64_t *v) {
    if (rd_left(r) < 1)
        return ELIGC_EPROTO;
    const uint8_t *p = r->p;
    uint8_t t = p[0];
    size_t hl = 1;
    if (t <= 0x7f) {
        *v = t;
    } else if (t >= 0xe0) {
        *v = (int8_t)t;
    } else {
        static const uint8_t width[] = {1, 2, 4, 8}; /* cc-cf and d0-d3 */
        if (!((t >= 0xcc && t <= 0xcf) || (t >= 0xd0 && t <= 0xd3)))
            return ELIGC_EPROTO;
        size_t w = width[t >= 0xd0 ? t - 0xd0 : t - 0xcc];
        if (rd_left(r) < 1 + w)
            return ELIGC_EPROTO;
        uint64_t u = w == 1 ? p[1] : w == 2 ? be16(p + 1) : w == 4 ? be32(p + 1) : be64(p + 1);
        if (t >= 0xd0) { /* signed: sign-extend from w bytes */
            unsigned shift = (unsigned)(64 - 8 * w);
            *v = (int64_t)(u << shift) >> shift;
        } else {
            if (u > INT64_MAX)
                return ELIGC_EPROTO;
            *v = (int64_t)u;
        }
        hl += w;
    }
    r->p += hl;
    return 0;
}

int eligc__rd_uint(eligc__rd *r, uint64_t *v) {
    /* uint64 above INT64_MAX is the one value rd_int refuses. */
    if (rd_left(r) >= 9 && r->p[0] == 0xcf) {
        *v = be64(r->p + 1);
        r->p += 9;
        return 0;
    }
    eligc__rd save = *r;
    int64_t s;
    if (eligc__rd_int(r, &s) != 0)
        return ELIGC_EPROTO;
    if (s < 0) {
        *r = save;
        return ELIGC_EPROTO;
    }
    *v = (uint64_t)s;
    return 0;
}

int eligc__rd_bool(eligc__rd *r, bool *v) {
    if (rd_left(r) < 1 || (r->p[0] != 0xc2 && r->p[0] != 0xc3))
        return ELIGC_EPROTO;
    *v = r->p[0] == 0xc3;
    r->p++;
    return 0;
}

bool eligc__rd_nil(eligc__rd *r) {
    if (rd_left(r) < 1 || r->p[0] != 0xc0)
        return false;
    r->p++;
    return true;
}

int eligc__rd_skip(eligc__rd *r) {
    eligc__scan st = {0, 0};
    ssize_t n = eligc__scan_next(&st, r->p, rd_left(r), rd_left(r));
    if (n <= 0)
        return ELIGC_EPROTO;
    r->p += n;
    return 0;
}

/* A number that may come as an integer or a float (uptime, say). */
static int rd_count(eligc__rd *r, uint64_t *v) {
    if (eligc__rd_uint(r, v) == 0)
        return 0;
    if (rd_left(r) >= 9 && r->p[0] == 0xcb) {
        uint64_t bits = be64(r->p + 1);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!(d >= 0 && d < 18446744073709551616.0))
            return ELIGC_EPROTO;
        *v = (uint64_t)d;
        r->p += 9;
        return 0;
    }
    if (rd_left(r) >= 5 && r->p[0] == 0xca) {
        uint32_t bits = be32(r->p + 1);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!(f >= 0 && f < 18446744073709551616.0f))
            return ELIGC_EPROTO;
        *v = (uint64_t)f;
        r->p += 5;
        return 0;
    }
    return ELIGC_EPROTO;
}

/* ---- responses --------------------------------------------------------- */

int eligc__resp_split(const uint8_t *msg, size_t n, uint32_t *msgid, eligc__rd *err,
                      eligc__rd *result) {
    eligc__rd r = {msg, msg + n};
    uint32_t len;
    uint64_t type, id;
    if (eligc__rd_array(&r, &len) || len != 4 || eligc__rd_uint(&r, &type) ||
        type != ELIG_MSG_RESPONSE || eligc__rd_uint(&r, &id) || id > UINT32_MAX)
        return ELIGC_EPROTO;
    err->p = r.p;
    if (eligc__rd_skip(&r))
        return ELIGC_EPROTO;
    err->end = result->p = r.p;
    if (eligc__rd_skip(&r))
        return ELIGC_EPROTO;
    result->end = r.p;
    *msgid = (uint32_t)id;
    return r.p == r.end ? 0 : ELIGC_EPROTO;
}

/* Copies a wire string into dst[cap], truncating, always terminated. */
static void copy_trunc(char *dst, size_t cap, const char *s, uint32_t n) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, s, k);
    dst[k] = '\0';
}

int eligc__dec_error(eligc__rd *err, int64_t *code, char *msg, size_t cap) {
    if (eligc__rd_nil(err))
        return 0;
    uint32_t n, len;
    const char *s;
    eligc__rd r = *err;
    if (eligc__rd_array(&r, &n) || n < 2 || eligc__rd_int(&r, code) ||
        eligc__rd_str(&r, &s, &len)) {
        *code = 0;
        copy_trunc(msg, cap, "malformed error object", 22);
        return 1;
    }
    copy_trunc(msg, cap, s, len);
    return 1;
}

int eligc__dec_pong(eligc__rd *r, const char **why) {
    const char *s;
    uint32_t n;
    if (eligc__rd_str(r, &s, &n) || n != 4 || memcmp(s, "pong", 4) != 0) {
        *why = "ping result is not \"pong\"";
        return ELIGC_EPROTO;
    }
    return 0;
}

static bool all_digits(const char *s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if ((unsigned char)(s[i] - '0') > 9)
            return false;
    return true;
}

/* A digit string of exactly n digits into dst (n + 1 bytes), or nil -> "".
 * nil is accepted only when nil_ok. */
static int rd_digits(eligc__rd *r, char *dst, uint32_t n, bool nil_ok) {
    if (eligc__rd_nil(r)) {
        dst[0] = '\0';
        return nil_ok ? 0 : ELIGC_EPROTO;
    }
    const char *s;
    uint32_t len;
    if (eligc__rd_str(r, &s, &len) || len != n || !all_digits(s, len))
        return ELIGC_EPROTO;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static bool key_is(const char *k, uint32_t n, const char *name) {
    return n == strlen(name) && memcmp(k, name, n) == 0;
}

/* Keys of the answer map, in the bit order of the `seen` mask. */
static const char *const answer_keys[] = {
    ELIG_KEY_ELIGIBLE, ELIG_KEY_REASON,   ELIG_KEY_KK,
    ELIG_KEY_REGION,   ELIG_KEY_AMOUNT,   ELIG_KEY_SNAPSHOT,
};
#define N_ANSWER_KEYS (sizeof answer_keys / sizeof answer_keys[0])

static int key_index(const char *const *keys, size_t nkeys, const char *k, uint32_t n) {
    for (size_t i = 0; i < nkeys; i++)
        if (key_is(k, n, keys[i]))
            return (int)i;
    return -1;
}

/* One value of the answer map into a. */
static int answer_field(eligc__rd *r, int key, eligc_answer *a, const char **why) {
    const char *s;
    uint32_t n;
    uint64_t u;
    int reason;
    switch (key) {
    case 0:
        *why = "answer: eligible is not a bool";
        return eligc__rd_bool(r, &a->eligible);
    case 1:
        *why = "answer: unknown reason";
        if (eligc__rd_str(r, &s, &n) || (reason = elig_reason_lookup(s, n)) < 0)
            return ELIGC_EPROTO;
        a->reason = (elig_reason)reason;
        return 0;
    case 2:
        *why = "answer: kk is neither 16 digits nor nil";
        return rd_digits(r, a->kk, 16, true);
    case 3:
        *why = "answer: region is neither 10 digits nor nil";
        return rd_digits(r, a->region, 10, true);
    case 4:
        *why = "answer: amount is not a uint32";
        if (eligc__rd_uint(r, &u) || u > UINT32_MAX)
            return ELIGC_EPROTO;
        a->amount = (uint32_t)u;
        return 0;
    default:
        *why = "answer: snapshot is not a string of at most 64 bytes";
        if (eligc__rd_str(r, &s, &n) || n > ELIGC_SNAPSHOT_MAX)
            return ELIGC_EPROTO;
        memcpy(a->snapshot, s, n);
        a->snapshot[n] = '\0';
        return 0;
    }
}

int eligc__dec_answer(eligc__rd *r, eligc_answer *a, const char **why) {
    uint32_t n;
    memset(a, 0, sizeof *a);
    if (eligc__rd_map(r, &n)) {
        *why = "answer is not a map";
        return ELIGC_EPROTO;
    }
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (eligc__rd_str(r, &k, &kn)) {
            *why = "answer: a key is not a string";
            return ELIGC_EPROTO;
        }
        int key = key_index(answer_keys, N_ANSWER_KEYS, k, kn);
        if (key < 0) { /* a key from a later protocol version */
            if (eligc__rd_skip(r)) {
                *why = "answer: bad value";
                return ELIGC_EPROTO;
            }
            continue;
        }
        if (answer_field(r, key, a, why))
            return ELIGC_EPROTO;
        seen |= 1u << key;
    }
    if (seen != (1u << N_ANSWER_KEYS) - 1) {
        *why = "answer map lacks a key";
        return ELIGC_EPROTO;
    }
    if (a->eligible != (a->reason == ELIG_REASON_ELIGIBLE)) {
        *why = "answer: eligible disagrees with reason";
        return ELIGC_EPROTO;
    }
    return 0;
}

int eligc__dec_answers(eligc__rd *r, eligc_answer *out, size_t n, const char **why) {
    uint32_t len;
    if (eligc__rd_array(r, &len) || len != n) {
        *why = "check_batch result is not an array of one answer per query";
        return ELIGC_EPROTO;
    }
    for (size_t i = 0; i < n; i++)
        if (eligc__dec_answer(r, &out[i], why))
            return ELIGC_EPROTO;
    return 0;
}

/* "YYYY-MM" into dst[8], or nil -> "" when nil_ok. */
static int rd_period(eligc__rd *r, char dst[8], bool nil_ok) {
    if (eligc__rd_nil(r)) {
        dst[0] = '\0';
        return nil_ok ? 0 : ELIGC_EPROTO;
    }
    const char *s;
    uint32_t n;
    if (eligc__rd_str(r, &s, &n) || n != 7 || s[4] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2))
        return ELIGC_EPROTO;
    memcpy(dst, s, 7);
    dst[7] = '\0';
    return 0;
}

static const char *const enr_keys[] = {
    ELIG_KEY_PROGRAM, ELIG_KEY_START, ELIG_KEY_END, ELIG_KEY_AMOUNT, ELIG_KEY_STATUS,
};
#define N_ENR_KEYS (sizeof enr_keys / sizeof enr_keys[0])

static int enr_field(eligc__rd *r, int key, eligc_enrollment *e) {
    const char *s;
    uint32_t n;
    uint64_t u;
    switch (key) {
    case 0:
        if (eligc__rd_str(r, &s, &n) || n < 1 || n > ELIG_WIRE_PROGRAM_MAX)
            return ELIGC_EPROTO;
        memcpy(e->program, s, n);
        e->program[n] = '\0';
        return 0;
    case 1:
        return rd_period(r, e->start, false);
    case 2:
        return rd_period(r, e->end, true);
    case 3:
        if (eligc__rd_uint(r, &u) || u > UINT32_MAX)
            return ELIGC_EPROTO;
        e->amount = (uint32_t)u;
        return 0;
    default:
        if (eligc__rd_str(r, &s, &n))
            return ELIGC_EPROTO;
        if (key_is(s, n, "active"))
            e->status = ELIG_ENR_ACTIVE;
        else if (key_is(s, n, "suspended"))
            e->status = ELIG_ENR_SUSPENDED;
        else
            return ELIGC_EPROTO;
        return 0;
    }
}

static int dec_enrollment(eligc__rd *r, eligc_enrollment *e) {
    uint32_t n;
    if (eligc__rd_map(r, &n))
        return ELIGC_EPROTO;
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (eligc__rd_str(r, &k, &kn))
            return ELIGC_EPROTO;
        int key = key_index(enr_keys, N_ENR_KEYS, k, kn);
        if (key < 0 ? eligc__rd_skip(r) : enr_field(r, key, e))
            return ELIGC_EPROTO;
        if (key >= 0)
            seen |= 1u << key;
    }
    return seen == (1u << N_ENR_KEYS) - 1 ? 0 : ELIGC_EPROTO;
}

/* The smallest encoding of one enrollment map is well over this many bytes
 * (five keys and their values), so the list can never cost more memory than
 * a small multiple of the message's own size. */
#define MIN_ENROLLMENT_BYTES 32

static int dec_enrollments(eligc__rd *r, eligc_household *h, const char **why) {
    uint32_t n;
    *why = "household: enrollments is not a list of enrollment maps";
    if (eligc__rd_array(r, &n) || (uint64_t)n * MIN_ENROLLMENT_BYTES > rd_left(r))
        return ELIGC_EPROTO;
    free(h->enrollments);
    h->enrollments = NULL;
    h->n_enrollments = 0;
    if (n == 0)
        return 0;
    h->enrollments = calloc(n, sizeof *h->enrollments);
    if (!h->enrollments)
        return ELIGC_ENOMEM;
    h->n_enrollments = n;
    for (uint32_t i = 0; i < n; i++)
        if (dec_enrollment(r, &h->enrollments[i]))
            return ELIGC_EPROTO;
    return 0;
}

static const char *const hh_keys[] = {
    ELIG_KEY_KK,  ELIG_KEY_REGION,  ELIG_KEY_STATUS,
    ELIG_KEY_KKS, ELIG_KEY_MEMBERS, ELIG_KEY_ENROLLMENTS,
};
#define N_HH_KEYS (sizeof hh_keys / sizeof hh_keys[0])

static int hh_field(eligc__rd *r, int key, eligc_household *h, const char **why) {
    const char *s;
    uint32_t n;
    uint64_t u;
    int st;
    switch (key) {
    case 0:
        *why = "household: kk is not 16 digits";
        return rd_digits(r, h->kk, 16, false);
    case 1:
        *why = "household: region is not 10 digits";
        return rd_digits(r, h->region, 10, false);
    case 2:
        *why = "household: unknown status";
        if (eligc__rd_str(r, &s, &n) || (st = elig_hh_status_lookup(s, n)) < 0)
            return ELIGC_EPROTO;
        h->status = (elig_hh_status)st;
        return 0;
    case 3:
        *why = "household: kks is neither 16 digits nor nil";
        return rd_digits(r, h->kks, 16, true);
    case 4:
        *why = "household: members is not a uint32";
        if (eligc__rd_uint(r, &u) || u > UINT32_MAX)
            return ELIGC_EPROTO;
        h->members = (uint32_t)u;
        return 0;
    default:
        return dec_enrollments(r, h, why);
    }
}

int eligc__dec_household(eligc__rd *r, eligc_household *h, const char **why) {
    memset(h, 0, sizeof *h);
    if (eligc__rd_nil(r))
        return 0; /* a well-formed id that names nothing */
    uint32_t n;
    int rc = ELIGC_EPROTO;
    *why = "household result is neither a map nor nil";
    if (eligc__rd_map(r, &n))
        goto fail;
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        *why = "household: a key is not a string";
        if (eligc__rd_str(r, &k, &kn))
            goto fail;
        int key = key_index(hh_keys, N_HH_KEYS, k, kn);
        *why = "household: bad value";
        if (key < 0 ? (rc = eligc__rd_skip(r)) : (rc = hh_field(r, key, h, why)))
            goto fail;
        if (key >= 0)
            seen |= 1u << key;
    }
    rc = ELIGC_EPROTO;
    *why = "household map lacks a key";
    if (seen != (1u << N_HH_KEYS) - 1)
        goto fail;
    h->found = true;
    return 0;
fail:
    eligc_household_free(h);
    return rc;
}

static const char *const info_keys[] = {
    ELIG_KEY_VERSION,     ELIG_KEY_SNAPSHOT,    ELIG_KEY_CREATED,
    ELIG_KEY_HOUSEHOLDS,  ELIG_KEY_MEMBERS,     ELIG_KEY_ENROLLMENTS,
    ELIG_KEY_UPTIME,      ELIG_KEY_CONNECTIONS, ELIG_KEY_REQUESTS,
    ELIG_KEY_RELOAD_ERROR,
};
#define N_INFO_KEYS (sizeof info_keys / sizeof info_keys[0])

static int info_field(eligc__rd *r, int key, eligc_info *info) {
    const char *s;
    uint32_t n;
    uint64_t *counts[] = {&info->households, &info->members,     &info->enrollments,
                          &info->uptime_s,   &info->connections, &info->requests};
    switch (key) {
    case 0:
    case 2:
        if (eligc__rd_str(r, &s, &n))
            return ELIGC_EPROTO;
        if (key == 0)
            copy_trunc(info->version, sizeof info->version, s, n);
        else
            copy_trunc(info->created, sizeof info->created, s, n);
        return 0;
    case 1:
        if (eligc__rd_str(r, &s, &n) || n > ELIGC_SNAPSHOT_MAX)
            return ELIGC_EPROTO;
        copy_trunc(info->snapshot, sizeof info->snapshot, s, n);
        return 0;
    case 9:
        if (eligc__rd_nil(r))
            return 0;
        if (eligc__rd_str(r, &s, &n))
            return ELIGC_EPROTO;
        info->reload_failed = true;
        copy_trunc(info->reload_error, sizeof info->reload_error, s, n);
        return 0;
    default:
        return rd_count(r, counts[key - 3]);
    }
}

int eligc__dec_info(eligc__rd *r, eligc_info *info, const char **why) {
    uint32_t n;
    memset(info, 0, sizeof *info);
    *why = "info result is not a map";
    if (eligc__rd_map(r, &n))
        return ELIGC_EPROTO;
    unsigned seen = 0;
    *why = "info: a key or value has the wrong type";
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (eligc__rd_str(r, &k, &kn))
            return ELIGC_EPROTO;
        int key = key_index(info_keys, N_INFO_KEYS, k, kn);
        if (key < 0 ? eligc__rd_skip(r) : info_field(r, key, info))
            return ELIGC_EPROTO;
        if (key >= 0)
            seen |= 1u << key;
    }
    *why = "info map lacks a key";
    return seen == (1u << N_INFO_KEYS) - 1 ? 0 : ELIGC_EPROTO;
}
