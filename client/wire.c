/* wire.c — libeligclient's codec: msgpack-RPC requests out, answers in.
 * Answers are read with the project's one bounded reader (lib/mpr.h),
 * compiled into this library with hidden visibility. */
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

int eligc__enc_auth(eligc__buf *b, uint32_t msgid, const char *channel, const char *token) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    return pack_head(&pk, msgid, ELIG_METHOD_AUTH, 2) || pack_cstr(&pk, channel) || pack_cstr(&pk, token)
               ? ELIGC_ENOMEM
               : 0;
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

/* A number that may come as an integer or a float (uptime, say). */
static bool rd_count(mpr_cur *r, uint64_t *v) {
    double d;
    if (mpr_uint(r, v))
        return true;
    mpr_cur save = *r;
    if (!mpr_double(r, &d) || !(d >= 0 && d < 18446744073709551616.0)) {
        *r = save;
        return false;
    }
    *v = (uint64_t)d;
    return true;
}

/* ---- responses --------------------------------------------------------- */

/* Copies a wire string into dst[cap], truncating, always terminated. */
static void copy_trunc(char *dst, size_t cap, const char *s, uint32_t n) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, s, k);
    dst[k] = '\0';
}

int eligc__dec_error(const mpr_cur *err, int64_t *code, char *msg, size_t cap) {
    const char *s;
    uint32_t len;
    int c = mpr_rpc_error(*err, &s, &len);
    if (c == 0)
        return 0;
    if (c < 0 || !s) {
        *code = 0;
        copy_trunc(msg, cap, "malformed error object", 22);
        return 1;
    }
    *code = c;
    copy_trunc(msg, cap, s, len);
    return 1;
}

int eligc__dec_pong(mpr_cur *r, const char **why) {
    const char *s;
    uint32_t n;
    if (!mpr_str(r, &s, &n) || n != 4 || memcmp(s, "pong", 4) != 0) {
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
static int rd_digits(mpr_cur *r, char *dst, uint32_t n, bool nil_ok) {
    if (mpr_nil(r)) {
        dst[0] = '\0';
        return nil_ok ? 0 : ELIGC_EPROTO;
    }
    const char *s;
    uint32_t len;
    if (!mpr_str(r, &s, &len) || len != n || !all_digits(s, len))
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
static int answer_field(mpr_cur *r, int key, eligc_answer *a, const char **why) {
    const char *s;
    uint32_t n;
    uint64_t u;
    int reason;
    switch (key) {
    case 0:
        *why = "answer: eligible is not a bool";
        return !mpr_bool(r, &a->eligible);
    case 1:
        *why = "answer: unknown reason";
        if (!mpr_str(r, &s, &n) || (reason = elig_reason_lookup(s, n)) < 0)
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
        if (!mpr_uint(r, &u) || u > UINT32_MAX)
            return ELIGC_EPROTO;
        a->amount = (uint32_t)u;
        return 0;
    default:
        *why = "answer: snapshot is not a string of at most 64 bytes";
        if (!mpr_str(r, &s, &n) || n > ELIGC_SNAPSHOT_MAX)
            return ELIGC_EPROTO;
        memcpy(a->snapshot, s, n);
        a->snapshot[n] = '\0';
        return 0;
    }
}

int eligc__dec_answer(mpr_cur *r, eligc_answer *a, const char **why) {
    uint32_t n;
    memset(a, 0, sizeof *a);
    if (!mpr_map(r, &n)) {
        *why = "answer is not a map";
        return ELIGC_EPROTO;
    }
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (!mpr_str(r, &k, &kn)) {
            *why = "answer: a key is not a string";
            return ELIGC_EPROTO;
        }
        int key = key_index(answer_keys, N_ANSWER_KEYS, k, kn);
        if (key < 0) { /* a key from a later protocol version */
            if (!mpr_skip(r)) {
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

int eligc__dec_answers(mpr_cur *r, eligc_answer *out, size_t n, const char **why) {
    uint32_t len;
    if (!mpr_array(r, &len) || len != n) {
        *why = "check_batch result is not an array of one answer per query";
        return ELIGC_EPROTO;
    }
    for (size_t i = 0; i < n; i++)
        if (eligc__dec_answer(r, &out[i], why))
            return ELIGC_EPROTO;
    return 0;
}

/* "YYYY-MM" into dst[8], or nil -> "" when nil_ok. */
static int rd_period(mpr_cur *r, char dst[8], bool nil_ok) {
    if (mpr_nil(r)) {
        dst[0] = '\0';
        return nil_ok ? 0 : ELIGC_EPROTO;
    }
    const char *s;
    uint32_t n;
    if (!mpr_str(r, &s, &n) || n != 7 || s[4] != '-' || !all_digits(s, 4) ||
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

static int enr_field(mpr_cur *r, int key, eligc_enrollment *e) {
    const char *s;
    uint32_t n;
    uint64_t u;
    switch (key) {
    case 0:
        if (!mpr_str(r, &s, &n) || n < 1 || n > ELIG_WIRE_PROGRAM_MAX)
            return ELIGC_EPROTO;
        memcpy(e->program, s, n);
        e->program[n] = '\0';
        return 0;
    case 1:
        return rd_period(r, e->start, false);
    case 2:
        return rd_period(r, e->end, true);
    case 3:
        if (!mpr_uint(r, &u) || u > UINT32_MAX)
            return ELIGC_EPROTO;
        e->amount = (uint32_t)u;
        return 0;
    default:
        if (!mpr_str(r, &s, &n))
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

static int dec_enrollment(mpr_cur *r, eligc_enrollment *e) {
    uint32_t n;
    if (!mpr_map(r, &n))
        return ELIGC_EPROTO;
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (!mpr_str(r, &k, &kn))
            return ELIGC_EPROTO;
        int key = key_index(enr_keys, N_ENR_KEYS, k, kn);
        if (key < 0 ? !mpr_skip(r) : enr_field(r, key, e))
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

static int dec_enrollments(mpr_cur *r, eligc_household *h, const char **why) {
    uint32_t n;
    *why = "household: enrollments is not a list of enrollment maps";
    if (!mpr_array(r, &n) || (uint64_t)n * MIN_ENROLLMENT_BYTES > mpr_left(r))
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

static int hh_field(mpr_cur *r, int key, eligc_household *h, const char **why) {
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
        if (!mpr_str(r, &s, &n) || (st = elig_hh_status_lookup(s, n)) < 0)
            return ELIGC_EPROTO;
        h->status = (elig_hh_status)st;
        return 0;
    case 3:
        *why = "household: kks is neither 16 digits nor nil";
        return rd_digits(r, h->kks, 16, true);
    case 4:
        *why = "household: members is not a uint32";
        if (!mpr_uint(r, &u) || u > UINT32_MAX)
            return ELIGC_EPROTO;
        h->members = (uint32_t)u;
        return 0;
    default:
        return dec_enrollments(r, h, why);
    }
}

int eligc__dec_household(mpr_cur *r, eligc_household *h, const char **why) {
    memset(h, 0, sizeof *h);
    if (mpr_nil(r))
        return 0; /* a well-formed id that names nothing */
    uint32_t n;
    int rc = ELIGC_EPROTO;
    *why = "household result is neither a map nor nil";
    if (!mpr_map(r, &n))
        goto fail;
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        *why = "household: a key is not a string";
        if (!mpr_str(r, &k, &kn))
            goto fail;
        int key = key_index(hh_keys, N_HH_KEYS, k, kn);
        *why = "household: bad value";
        if (key < 0 ? (rc = mpr_skip(r) ? 0 : ELIGC_EPROTO) : (rc = hh_field(r, key, h, why)))
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

/* Keys every server sends, then the SPEC 9 keys a server may lack. */
static const char *const info_keys[] = {
    ELIG_KEY_VERSION,     ELIG_KEY_SNAPSHOT,       ELIG_KEY_CREATED,    ELIG_KEY_HOUSEHOLDS,
    ELIG_KEY_MEMBERS,     ELIG_KEY_ENROLLMENTS,    ELIG_KEY_UPTIME,     ELIG_KEY_CONNECTIONS,
    ELIG_KEY_REQUESTS,    ELIG_KEY_RELOAD_ERROR,   ELIG_KEY_HEALTH,     ELIG_KEY_CONTENT_SHA256,
    ELIG_KEY_GENERATION,  ELIG_KEY_READ_ERRORS,    ELIG_KEY_PROGRAMS,
};
#define N_INFO_KEYS (sizeof info_keys / sizeof info_keys[0])
#define N_INFO_REQUIRED 10

/* A str, or nil as "", copied; false for anything else. */
static bool rd_opt_str(mpr_cur *r, char *dst, size_t cap) {
    const char *s;
    uint32_t n;
    if (mpr_nil(r)) {
        dst[0] = '\0';
        return true;
    }
    if (!mpr_str(r, &s, &n))
        return false;
    copy_trunc(dst, cap, s, n);
    return true;
}

/* programs: an array of names, or nil (the server cannot tell). */
static int rd_programs(mpr_cur *r, eligc_info *info) {
    uint32_t n;
    if (mpr_nil(r))
        return 0;
    if (!mpr_array(r, &n))
        return ELIGC_EPROTO;
    info->has_programs = true;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t len;
        if (!mpr_str(r, &s, &len) || len == 0 || len > ELIG_WIRE_PROGRAM_MAX)
            return ELIGC_EPROTO;
        if (info->n_programs == ELIGC_INFO_PROGRAMS_MAX) {
            info->programs_truncated = true;
            continue;
        }
        copy_trunc(info->programs[info->n_programs++], ELIG_WIRE_PROGRAM_MAX + 1, s, len);
    }
    return 0;
}

static int info_field(mpr_cur *r, int key, eligc_info *info) {
    const char *s;
    uint32_t n;
    uint64_t *counts[] = {&info->households, &info->members,     &info->enrollments,
                          &info->uptime_s,   &info->connections, &info->requests};
    switch (key) {
    case 0:
    case 2:
        if (!mpr_str(r, &s, &n))
            return ELIGC_EPROTO;
        if (key == 0)
            copy_trunc(info->version, sizeof info->version, s, n);
        else
            copy_trunc(info->created, sizeof info->created, s, n);
        return 0;
    case 1:
        if (!mpr_str(r, &s, &n) || n > ELIGC_SNAPSHOT_MAX)
            return ELIGC_EPROTO;
        copy_trunc(info->snapshot, sizeof info->snapshot, s, n);
        return 0;
    case 9:
        if (mpr_nil(r))
            return 0;
        if (!mpr_str(r, &s, &n))
            return ELIGC_EPROTO;
        info->reload_failed = true;
        copy_trunc(info->reload_error, sizeof info->reload_error, s, n);
        return 0;
    case 10:
        return rd_opt_str(r, info->health, sizeof info->health) ? 0 : ELIGC_EPROTO;
    case 11:
        return rd_opt_str(r, info->content_sha256, sizeof info->content_sha256) ? 0 : ELIGC_EPROTO;
    case 12:
        return (info->has_generation = rd_count(r, &info->generation)) ? 0 : ELIGC_EPROTO;
    case 13:
        return (info->has_read_errors = rd_count(r, &info->read_errors)) ? 0 : ELIGC_EPROTO;
    case 14:
        return rd_programs(r, info);
    default:
        return rd_count(r, counts[key - 3]) ? 0 : ELIGC_EPROTO;
    }
}

int eligc__dec_info(mpr_cur *r, eligc_info *info, const char **why) {
    uint32_t n;
    memset(info, 0, sizeof *info);
    *why = "info result is not a map";
    if (!mpr_map(r, &n))
        return ELIGC_EPROTO;
    unsigned seen = 0;
    *why = "info: a key or value has the wrong type";
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (!mpr_str(r, &k, &kn))
            return ELIGC_EPROTO;
        int key = key_index(info_keys, N_INFO_KEYS, k, kn);
        if (key < 0 ? !mpr_skip(r) : info_field(r, key, info))
            return ELIGC_EPROTO;
        if (key >= 0)
            seen |= 1u << key;
    }
    *why = "info map lacks a key";
    unsigned required = (1u << N_INFO_REQUIRED) - 1;
    return (seen & required) == required ? 0 : ELIGC_EPROTO;
}

int eligc__dec_reload(mpr_cur *r, eligc_reload_result *out, const char **why) {
    uint32_t n;
    bool has_snapshot = false;
    memset(out, 0, sizeof *out);
    *why = "reload result is not a map";
    if (!mpr_map(r, &n))
        return ELIGC_EPROTO;
    *why = "reload: a key or value has the wrong type";
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *s;
        uint32_t kn, sn;
        if (!mpr_str(r, &k, &kn))
            return ELIGC_EPROTO;
        if (kn == sizeof ELIG_KEY_SNAPSHOT - 1 && memcmp(k, ELIG_KEY_SNAPSHOT, kn) == 0) {
            if (!mpr_str(r, &s, &sn) || sn > ELIGC_SNAPSHOT_MAX)
                return ELIGC_EPROTO;
            copy_trunc(out->snapshot, sizeof out->snapshot, s, sn);
            has_snapshot = true;
        } else if (kn == sizeof ELIG_KEY_CONTENT_SHA256 - 1 && memcmp(k, ELIG_KEY_CONTENT_SHA256, kn) == 0) {
            if (!rd_opt_str(r, out->content_sha256, sizeof out->content_sha256))
                return ELIGC_EPROTO;
        } else if (!mpr_skip(r)) {
            return ELIGC_EPROTO;
        }
    }
    *why = "reload result lacks the snapshot";
    return has_snapshot ? 0 : ELIGC_EPROTO;
}
