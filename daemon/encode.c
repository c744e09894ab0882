/* encode.c — see encode.h.
 *
 * The answer map, the hot path's whole output, is written straight into
 * the buffer with mpw.h: msgpack-c's packer would make ~25 callback calls
 * for it. The bytes are what the packer would write (smallest encodings),
 * which the tests check against an independent msgpack implementation.
 * The rarer shapes (errors, household, info) use msgpack-c's packer. */
#include "encode.h"

#include <msgpack.h>

#include "mpw.h"
#include "snapmeta.h"
#include "version.h"

static void pack_str(msgpack_packer *pk, const char *s, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}
static void pack_cstr(msgpack_packer *pk, const char *s) {
    if (s)
        pack_str(pk, s, strlen(s));
    else
        msgpack_pack_nil(pk);
}

static void pack_head(msgpack_packer *pk, const call *c) {
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, ELIG_MSG_RESPONSE);
    msgpack_pack_uint32(pk, c->msg->msgid);
}

static void pack_error(msgpack_packer *pk, const call *c) {
    pack_head(pk, c);
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, c->err);
    pack_cstr(pk, c->errmsg);
    msgpack_pack_nil(pk);
}

#define PUT_LIT(p, lit) mpw_str(p, lit, sizeof(lit) - 1)

/* Keys (6 * <= 9), eligible (1), reason (<= 21), kk (17), region (11),
 * amount (<= 5), snapshot (<= 2 + 64), map header (1). */
#define ANSWER_MAX 200

static void put_answer(buf *out, const elig_answer *a, const char *snap, uint32_t snap_len) {
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
    p = mpw_str(p, snap, snap_len);
    out->len = (size_t)(p - (uint8_t *)out->data);
}

/* check: one answer map; check_batch: an array of them. Room for the whole
 * result is reserved once. */
static int put_answers(msgpack_packer *pk, buf *out, const call *c) {
    pack_head(pk, c);
    msgpack_pack_nil(pk);
    if (c->method == ELIG_METHOD_CHECK_BATCH)
        msgpack_pack_array(pk, c->n);
    if (out->failed || buf_reserve(out, (size_t)c->n * ANSWER_MAX) != 0)
        return -1;
    uint32_t snap_len = (uint32_t)strlen(c->meta->id);
    for (uint32_t i = 0; i < c->n; i++)
        put_answer(out, &c->answers[i], c->meta->id, snap_len);
    return 0;
}

static void pack_id16(msgpack_packer *pk, uint64_t id) {
    char s[17];
    elig_format_id16(id, s);
    pack_str(pk, s, 16);
}

static void pack_period(msgpack_packer *pk, elig_month m) {
    char s[8];
    elig_format_period(m, s);
    pack_str(pk, s, 7);
}

static void pack_enrollment(msgpack_packer *pk, const elig_enrollment *e) {
    msgpack_pack_map(pk, 5);
    pack_cstr(pk, ELIG_KEY_PROGRAM);
    pack_str(pk, e->program, e->program_len);
    pack_cstr(pk, ELIG_KEY_START);
    pack_period(pk, e->start);
    pack_cstr(pk, ELIG_KEY_END);
    if (e->end == ELIG_MONTH_OPEN)
        msgpack_pack_nil(pk);
    else
        pack_period(pk, e->end);
    pack_cstr(pk, ELIG_KEY_AMOUNT);
    msgpack_pack_uint32(pk, e->amount);
    pack_cstr(pk, ELIG_KEY_STATUS);
    pack_cstr(pk, elig_enr_status_name(e->status));
}

static void pack_household(msgpack_packer *pk, const elig_household *h) {
    char region[11];
    msgpack_pack_map(pk, 6);
    pack_cstr(pk, ELIG_KEY_KK);
    pack_id16(pk, h->kk);
    pack_cstr(pk, ELIG_KEY_REGION);
    elig_format_region(h->region, region);
    pack_str(pk, region, 10);
    pack_cstr(pk, ELIG_KEY_STATUS);
    pack_cstr(pk, elig_hh_status_name(h->status));
    pack_cstr(pk, ELIG_KEY_KKS);
    if (h->has_kks)
        pack_id16(pk, h->kks);
    else
        msgpack_pack_nil(pk);
    pack_cstr(pk, ELIG_KEY_MEMBERS);
    msgpack_pack_uint32(pk, h->members);
    pack_cstr(pk, ELIG_KEY_ENROLLMENTS);
    msgpack_pack_array(pk, h->n_enrollments);
    elig_enrollment e;
    size_t pos = 0;
    while (elig_household_next(h, &pos, &e))
        pack_enrollment(pk, &e);
}

static void pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v) {
    pack_cstr(pk, key);
    msgpack_pack_uint64(pk, v);
}

static void pack_kv_str(msgpack_packer *pk, const char *key, const char *v) {
    pack_cstr(pk, key);
    pack_cstr(pk, v);
}

/* The snapshot's programme names, or nil when this build cannot tell
 * (snapmeta.h). */
static void pack_programs(msgpack_packer *pk, const elig_snap *snap) {
    const char *const *names;
    int n = snapmeta_programs(snap, &names);
    pack_cstr(pk, ELIG_KEY_PROGRAMS);
    if (n < 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++)
        pack_cstr(pk, names[i]);
}

static void pack_info(msgpack_packer *pk, const call *c) {
    const elig_meta *meta = c->meta;
    msgpack_pack_map(pk, 17);
    pack_kv_str(pk, ELIG_KEY_VERSION, ELIGD_VERSION);
    pack_kv_str(pk, ELIG_KEY_SNAPSHOT, meta->id);
    pack_kv_str(pk, ELIG_KEY_CREATED, meta->created);
    pack_kv_u64(pk, ELIG_KEY_HOUSEHOLDS, meta->households);
    pack_kv_u64(pk, ELIG_KEY_MEMBERS, meta->members);
    pack_kv_u64(pk, ELIG_KEY_ENROLLMENTS, meta->enrollments);
    pack_kv_u64(pk, ELIG_KEY_UPTIME, c->info.uptime_s);
    pack_kv_u64(pk, ELIG_KEY_CONNECTIONS, c->info.connections);
    pack_kv_u64(pk, ELIG_KEY_REQUESTS, c->info.requests);
    pack_kv_str(pk, ELIG_KEY_RELOAD_ERROR, c->info.reload_error);
    pack_kv_str(pk, ELIG_KEY_HEALTH, c->info.health);
    pack_kv_str(pk, ELIG_KEY_CONTENT_SHA256, snapmeta_content_sha256(meta));
    pack_kv_u64(pk, ELIG_KEY_GENERATION, c->info.generation);
    pack_kv_u64(pk, ELIG_KEY_READ_ERRORS, c->info.read_errors);
    pack_programs(pk, c->snap);
    pack_kv_str(pk, ELIG_KEY_AUDIT_ERROR, c->info.audit_error);
    pack_cstr(pk, ELIG_KEY_AUDIT);
    if (!c->info.audit_on) {
        msgpack_pack_nil(pk);
    } else {
        msgpack_pack_map(pk, 4);
        pack_kv_u64(pk, ELIG_KEY_AUDIT_WRITTEN, c->info.audit_written);
        pack_kv_u64(pk, ELIG_KEY_AUDIT_BACKLOG, c->info.audit_backlog);
        pack_kv_u64(pk, ELIG_KEY_AUDIT_LOST, c->info.audit_lost);
        pack_kv_u64(pk, ELIG_KEY_AUDIT_REFUSED, c->info.audit_refused);
    }
}

/* reload: {snapshot, content_sha256} of the snapshot serving now. */
static void pack_reload(msgpack_packer *pk, const call_reload *r) {
    msgpack_pack_map(pk, 2);
    pack_kv_str(pk, ELIG_KEY_SNAPSHOT, r->snapshot);
    pack_kv_str(pk, ELIG_KEY_CONTENT_SHA256, r->content_sha256[0] ? r->content_sha256 : NULL);
}

int call_encode(const call *c, buf *out) {
    if (c->msg->type != ELIG_MSG_REQUEST)
        return 0; /* notifications are never answered */
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    if (c->err) {
        pack_error(&pk, c);
        return out->failed ? -1 : 0;
    }
    switch (c->method) {
    case ELIG_METHOD_CHECK:
    case ELIG_METHOD_CHECK_BATCH:
        return put_answers(&pk, out, c);
    case ELIG_METHOD_HOUSEHOLD:
        pack_head(&pk, c);
        msgpack_pack_nil(&pk);
        if (c->hh_found)
            pack_household(&pk, &c->hh);
        else
            msgpack_pack_nil(&pk);
        break;
    case ELIG_METHOD_INFO:
        pack_head(&pk, c);
        msgpack_pack_nil(&pk);
        pack_info(&pk, c);
        break;
    case ELIG_METHOD_AUTH:
        pack_head(&pk, c);
        msgpack_pack_nil(&pk);
        msgpack_pack_true(&pk);
        break;
    case ELIG_METHOD_RELOAD:
        pack_head(&pk, c);
        msgpack_pack_nil(&pk);
        pack_reload(&pk, c->reload);
        break;
    case ELIG_METHOD_JOURNAL: /* {accepted, duplicates, durable} */
        pack_head(&pk, c);
        msgpack_pack_nil(&pk);
        msgpack_pack_map(&pk, 3);
        pack_kv_u64(&pk, ELIG_KEY_ACCEPTED, c->j_accepted);
        pack_kv_u64(&pk, ELIG_KEY_DUPLICATES, c->j_duplicates);
        pack_kv_u64(&pk, ELIG_KEY_DURABLE, c->j_durable);
        break;
    default: /* ping */
        pack_head(&pk, c);
        msgpack_pack_nil(&pk);
        pack_str(&pk, "pong", 4);
        break;
    }
    return out->failed ? -1 : 0;
}
