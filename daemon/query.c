/* query.c — see query.h. Responses are packed with msgpack-c's packer
 * straight into the caller's buffer: nothing is allocated per request. */
#include "query.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>

#include "mpw.h"
#include "version.h"

/* A packer over a buf, and the request being answered. */
typedef struct {
    const query_ctx *ctx;
    const proto_msg *m;
    msgpack_packer pk;
} reply;

static void pack_cstr(msgpack_packer *pk, const char *s, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}
#define PACK_LIT(pk, lit) pack_cstr(pk, lit, sizeof(lit) - 1)

static void pack_head(reply *r) {
    msgpack_pack_array(&r->pk, 4);
    msgpack_pack_uint8(&r->pk, ELIG_MSG_RESPONSE);
    msgpack_pack_uint32(&r->pk, r->m->msgid);
}

static void reply_error(reply *r, elig_errcode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_error(reply *r, elig_errcode code, const char *fmt, ...) {
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    pack_head(r);
    msgpack_pack_array(&r->pk, 2);
    msgpack_pack_int(&r->pk, code);
    pack_cstr(&r->pk, msg, (size_t)n);
    msgpack_pack_nil(&r->pk);
}

/* Starts a success response; the caller packs the result. */
static void reply_ok(reply *r) {
    pack_head(r);
    msgpack_pack_nil(&r->pk);
}

static void pack_id16(msgpack_packer *pk, uint64_t id) {
    char s[17];
    elig_format_id16(id, s);
    pack_cstr(pk, s, 16);
}

/* The answer map is the hot path's whole output, so it is written straight
 * into the buffer: msgpack-c's packer would make ~25 callback calls for it.
 * The bytes are what the packer would write (smallest encodings), which the
 * tests check against an independent msgpack implementation. */
#define PUT_LIT(p, lit) mpw_str(p, lit, sizeof(lit) - 1)

/* Keys (6 * <= 9), eligible (1), reason (<= 21), kk (17), region (11),
 * amount (<= 5), snapshot (<= 2 + 64), map header (1). */
#define ANSWER_MAX 200

static void pack_answer(reply *r, const elig_answer *a) {
    buf *out = r->pk.data;
    if (buf_reserve(out, ANSWER_MAX) != 0)
        return; /* out->failed is set: the caller closes the connection */
    uint8_t *p = (uint8_t *)out->data + out->len;
    *p++ = 0x86; /* map of 6 */
    p = PUT_LIT(p, ELIG_KEY_ELIGIBLE);
    *p++ = a->reason == ELIG_REASON_ELIGIBLE ? 0xc3 : 0xc2;
    p = PUT_LIT(p, ELIG_KEY_REASON);
    const char *code = elig_reason_code(a->reason);
    p = mpw_str(p, code, (uint32_t)strlen(code));
    p = PUT_LIT(p, ELIG_KEY_KK);
    if (a->found) {
        *p++ = 0xa0 | 16;
        elig_format_id16(a->kk, (char *)p); /* writes a NUL past the 16 digits... */
        p += 16;                            /* ...which the next byte overwrites */
    } else {
        *p++ = 0xc0;
    }
    p = PUT_LIT(p, ELIG_KEY_REGION);
    if (a->found) {
        *p++ = 0xa0 | 10;
        elig_format_region(a->region, (char *)p);
        p += 10;
    } else {
        *p++ = 0xc0;
    }
    p = PUT_LIT(p, ELIG_KEY_AMOUNT);
    p = mpw_uint(p, a->amount);
    p = PUT_LIT(p, ELIG_KEY_SNAPSHOT);
    p = mpw_str(p, r->ctx->snapshot_id, r->ctx->snapshot_id_len);
    out->len = (size_t)(p - (uint8_t *)out->data);
}

/* Reads the four strings of a query item from c and parses them. On a bad
 * item, writes why into why[whylen] and returns false. */
static bool read_query(mp_cur *c, uint32_t n, elig_query *q, char *why, size_t whylen) {
    const char *s[4];
    uint32_t len[4];
    if (n != 4) {
        snprintf(why, whylen, "expected 4 params [kind, id, program, period], got %u", n);
        return false;
    }
    static const char *const names[4] = {"kind", "id", "program", "period"};
    for (int i = 0; i < 4; i++) {
        if (!mp_read_str(c, &s[i], &len[i])) {
            snprintf(why, whylen, "%s must be a string, got %s", names[i], mp_type_name(c));
            return false;
        }
    }
    elig_query_error e = elig_query_parse(q, s[0], len[0], s[1], len[1], s[2], len[2], s[3], len[3]);
    if (e != ELIG_QUERY_OK) {
        static const char *const rule[] = {
            "", "kind must be nik, kk or kks", "id must be exactly 16 digits",
            "program must be 1-16 characters of A-Z 0-9 _", "period must be YYYY-MM"};
        snprintf(why, whylen, "%s", rule[e]);
        return false;
    }
    return true;
}

/* Runs the rule; a snapshot read failure becomes an `unavailable` error. */
static bool run_check(reply *r, const elig_query *q, elig_answer *a) {
    int rc = elig_check(r->ctx->reader, q, a);
    if (rc != 0) {
        reply_error(r, ELIG_ERRCODE_UNAVAILABLE, "snapshot read failed: %s", elig_strerror(rc));
        return false;
    }
    return true;
}

static void do_check(reply *r) {
    elig_query q;
    elig_answer a;
    char why[128];
    mp_cur c = r->m->params;
    if (!read_query(&c, r->m->nparams, &q, why, sizeof why)) {
        reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "%s", why);
        return;
    }
    if (!run_check(r, &q, &a))
        return;
    reply_ok(r);
    pack_answer(r, &a);
}

/* check_batch validates every item before answering any, so that a bad item
 * makes the whole call an error, as SPEC 3 asks. Items are parsed twice
 * rather than stored: parsing is cheaper than a 10,000-entry scratch array. */
static void do_check_batch(reply *r) {
    mp_cur c = r->m->params;
    uint32_t n, k;
    elig_query q;
    char why[128];
    if (r->m->nparams != 1 || !mp_read_array(&c, &n)) {
        reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "params must be [[query, ...]]");
        return;
    }
    if (n > r->ctx->max_batch) {
        reply_error(r, ELIG_ERRCODE_TOO_LARGE, "batch of %u items is over the limit of %u", n,
                    r->ctx->max_batch);
        return;
    }
    mp_cur items = c;
    for (uint32_t i = 0; i < n; i++) {
        if (!mp_read_array(&c, &k)) {
            reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "item %u: must be an array [kind, id, program, period]", i);
            return;
        }
        if (!read_query(&c, k, &q, why, sizeof why)) {
            reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "item %u: %s", i, why);
            return;
        }
    }
    /* Answers are packed after the head, so a read failure midway has to be
     * found first: a batch either answers whole or fails whole. */
    size_t mark = ((buf *)r->pk.data)->len;
    reply_ok(r);
    msgpack_pack_array(&r->pk, n);
    c = items;
    for (uint32_t i = 0; i < n; i++) {
        elig_answer a;
        mp_read_array(&c, &k);
        read_query(&c, k, &q, why, sizeof why);
        int rc = elig_check(r->ctx->reader, &q, &a);
        if (rc != 0) {
            ((buf *)r->pk.data)->len = mark;
            reply_error(r, ELIG_ERRCODE_UNAVAILABLE, "item %u: snapshot read failed: %s", i, elig_strerror(rc));
            return;
        }
        pack_answer(r, &a);
    }
}

static void pack_period(msgpack_packer *pk, elig_month m) {
    char s[8];
    elig_format_period(m, s);
    pack_cstr(pk, s, 7);
}

static void pack_enrollment(msgpack_packer *pk, const elig_enrollment *e) {
    msgpack_pack_map(pk, 5);
    PACK_LIT(pk, ELIG_KEY_PROGRAM);
    pack_cstr(pk, e->program, e->program_len);
    PACK_LIT(pk, ELIG_KEY_START);
    pack_period(pk, e->start);
    PACK_LIT(pk, ELIG_KEY_END);
    if (e->end == ELIG_MONTH_OPEN)
        msgpack_pack_nil(pk);
    else
        pack_period(pk, e->end);
    PACK_LIT(pk, ELIG_KEY_AMOUNT);
    msgpack_pack_uint32(pk, e->amount);
    PACK_LIT(pk, ELIG_KEY_STATUS);
    const char *st = elig_enr_status_name(e->status);
    pack_cstr(pk, st, strlen(st));
}

static void pack_household(msgpack_packer *pk, const elig_household *h) {
    char region[11];
    msgpack_pack_map(pk, 6);
    PACK_LIT(pk, ELIG_KEY_KK);
    pack_id16(pk, h->kk);
    PACK_LIT(pk, ELIG_KEY_REGION);
    elig_format_region(h->region, region);
    pack_cstr(pk, region, 10);
    PACK_LIT(pk, ELIG_KEY_STATUS);
    const char *st = elig_hh_status_name(h->status);
    pack_cstr(pk, st, strlen(st));
    PACK_LIT(pk, ELIG_KEY_KKS);
    if (h->has_kks)
        pack_id16(pk, h->kks);
    else
        msgpack_pack_nil(pk);
    PACK_LIT(pk, ELIG_KEY_MEMBERS);
    msgpack_pack_uint32(pk, h->members);
    PACK_LIT(pk, ELIG_KEY_ENROLLMENTS);
    msgpack_pack_array(pk, h->n_enrollments);
    elig_enrollment e;
    size_t pos = 0;
    while (elig_household_next(h, &pos, &e))
        pack_enrollment(pk, &e);
}

static void do_household(reply *r) {
    mp_cur c = r->m->params;
    const char *kind, *id;
    uint32_t kind_n, id_n;
    uint64_t idv;
    if (r->m->nparams != 2 || !mp_read_str(&c, &kind, &kind_n) || !mp_read_str(&c, &id, &id_n)) {
        reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "params must be [kind, id]");
        return;
    }
    int k = elig_kind_lookup(kind, kind_n);
    if (k < 0) {
        reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "kind must be nik, kk or kks");
        return;
    }
    if (elig_parse_id16(id, id_n, &idv) != 0) {
        reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "id must be exactly 16 digits");
        return;
    }
    elig_household h;
    int rc = elig_household_get(r->ctx->reader, (elig_kind)k, idv, &h);
    if (rc < 0) {
        reply_error(r, ELIG_ERRCODE_UNAVAILABLE, "snapshot read failed: %s", elig_strerror(rc));
        return;
    }
    reply_ok(r);
    if (rc == 0)
        msgpack_pack_nil(&r->pk);
    else
        pack_household(&r->pk, &h);
}

static bool no_params(reply *r) {
    if (r->m->nparams == 0)
        return true;
    reply_error(r, ELIG_ERRCODE_BAD_REQUEST, "%.*s takes no params", (int)r->m->method_len, r->m->method);
    return false;
}

static void do_ping(reply *r) {
    if (!no_params(r))
        return;
    reply_ok(r);
    PACK_LIT(&r->pk, "pong");
}

static void pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v) {
    pack_cstr(pk, key, strlen(key));
    msgpack_pack_uint64(pk, v);
}

static void pack_kv_str(msgpack_packer *pk, const char *key, const char *v) {
    pack_cstr(pk, key, strlen(key));
    if (v)
        pack_cstr(pk, v, strlen(v));
    else
        msgpack_pack_nil(pk);
}

static void do_info(reply *r) {
    if (!no_params(r))
        return;
    query_server_info si = {0};
    if (r->ctx->server_info)
        r->ctx->server_info(r->ctx->server_info_ud, &si);
    const elig_meta *meta = elig_snap_meta(elig_reader_snap(r->ctx->reader));
    msgpack_packer *pk = &r->pk;
    reply_ok(r);
    msgpack_pack_map(pk, 10);
    pack_kv_str(pk, ELIG_KEY_VERSION, ELIGD_VERSION);
    pack_kv_str(pk, ELIG_KEY_SNAPSHOT, meta->id);
    pack_kv_str(pk, ELIG_KEY_CREATED, meta->created);
    pack_kv_u64(pk, ELIG_KEY_HOUSEHOLDS, meta->households);
    pack_kv_u64(pk, ELIG_KEY_MEMBERS, meta->members);
    pack_kv_u64(pk, ELIG_KEY_ENROLLMENTS, meta->enrollments);
    pack_kv_u64(pk, ELIG_KEY_UPTIME, si.uptime_s);
    pack_kv_u64(pk, ELIG_KEY_CONNECTIONS, si.connections);
    pack_kv_u64(pk, ELIG_KEY_REQUESTS, si.requests);
    pack_kv_str(pk, ELIG_KEY_RELOAD_ERROR, si.reload_error);
}

/* The name is echoed only as printable ASCII: the message is a msgpack str,
 * which must stay valid UTF-8 whatever bytes the client sent. */
static void unknown_method(reply *r) {
    char name[65];
    uint32_t n = r->m->method_len < 64 ? r->m->method_len : 64;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)r->m->method[i];
        name[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    name[n] = '\0';
    reply_error(r, ELIG_ERRCODE_UNKNOWN_METHOD, "unknown method '%s'", name);
}

typedef void (*method_fn)(reply *r);

/* Dispatch table, in the order of ELIG_METHOD_MAP. */
static const method_fn methods[ELIG_METHOD_COUNT] = {
    [ELIG_METHOD_PING] = do_ping,
    [ELIG_METHOD_CHECK] = do_check,
    [ELIG_METHOD_CHECK_BATCH] = do_check_batch,
    [ELIG_METHOD_HOUSEHOLD] = do_household,
    [ELIG_METHOD_INFO] = do_info,
};

int query_handle(const query_ctx *ctx, const proto_msg *m, buf *out) {
    if (m->type != ELIG_MSG_REQUEST)
        return 0; /* notifications are never answered */
    reply r = {.ctx = ctx, .m = m};
    msgpack_packer_init(&r.pk, out, buf_msgpack_write);
    elig_method meth = elig_method_lookup(m->method, m->method_len);
    if (meth == ELIG_METHOD_UNKNOWN)
        unknown_method(&r);
    else
        methods[meth](&r);
    return out->failed ? -1 : 0;
}
