/* decode.c — see decode.h. */
#include "decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void call_fail(call *c, elig_errcode code, const char *fmt, ...) {
    if (c->err)
        return;
    c->err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

/* Reads the four strings of one query at cur (n of them) and parses them.
 * On a bad query writes why into why[whylen] and returns false. */
static bool read_query(mpr_cur *cur, uint32_t n, elig_query *q, char *why, size_t whylen) {
    static const char *const names[4] = {"kind", "id", "program", "period"};
    static const char *const rule[] = {"", "kind must be nik, kk or kks", "id must be exactly 16 digits",
                                       "program must be 1-16 characters of A-Z 0-9 _",
                                       "period must be YYYY-MM"};
    const char *s[4];
    uint32_t len[4];
    if (n != 4) {
        snprintf(why, whylen, "expected 4 params [kind, id, program, period], got %u", n);
        return false;
    }
    for (int i = 0; i < 4; i++) {
        if (!mpr_str(cur, &s[i], &len[i])) {
            snprintf(why, whylen, "%s must be a string, got %s", names[i], mpr_type_name(cur));
            return false;
        }
    }
    elig_query_error e = elig_query_parse(q, s[0], len[0], s[1], len[1], s[2], len[2], s[3], len[3]);
    if (e != ELIG_QUERY_OK) {
        snprintf(why, whylen, "%s", rule[e]);
        return false;
    }
    return true;
}

static void decode_check(call *c) {
    mpr_cur cur = c->msg->params;
    char why[128];
    c->queries = &c->one_query;
    c->answers = &c->one_answer;
    if (!read_query(&cur, c->msg->nparams, c->queries, why, sizeof why))
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "%s", why);
    else
        c->n = 1;
}

/* The count is checked before any item (SPEC 3), and every item before any
 * is answered, so a batch is answered whole or refused whole. */
static void decode_check_batch(call *c, const call_scratch *scratch) {
    mpr_cur cur = c->msg->params;
    uint32_t n, k;
    char why[128];
    if (c->msg->nparams != 1 || !mpr_array(&cur, &n)) {
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "params must be [[query, ...]]");
        return;
    }
    if (n > scratch->max_batch) {
        call_fail(c, ELIG_ERRCODE_TOO_LARGE, "batch of %u items is over the limit of %u", n,
                  scratch->max_batch);
        return;
    }
    c->queries = scratch->queries;
    c->answers = scratch->answers;
    for (uint32_t i = 0; i < n; i++) {
        if (!mpr_array(&cur, &k)) {
            call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "item %u: must be an array [kind, id, program, period]", i);
            return;
        }
        if (!read_query(&cur, k, &c->queries[i], why, sizeof why)) {
            call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "item %u: %s", i, why);
            return;
        }
    }
    c->n = n;
}

static void decode_household(call *c) {
    mpr_cur cur = c->msg->params;
    const char *kind, *id;
    uint32_t kind_n, id_n;
    if (c->msg->nparams != 2 || !mpr_str(&cur, &kind, &kind_n) || !mpr_str(&cur, &id, &id_n)) {
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "params must be [kind, id]");
        return;
    }
    int k = elig_kind_lookup(kind, kind_n);
    if (k < 0) {
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "kind must be nik, kk or kks");
        return;
    }
    c->kind = (elig_kind)k;
    if (elig_parse_id16(id, id_n, &c->id) != 0)
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "id must be exactly 16 digits");
}

/* A terminal id: 1-64 of A-Za-z0-9 . _ - (it goes into audit records and
 * the marks file, space-separated). */
static bool valid_terminal(const char *s, uint32_t n) {
    if (n < 1 || n > ELIG_WIRE_TERMINAL_MAX)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* One uploaded answer [seq, time_us, kind, id, program, period, reason,
 * kk|nil, amount, extract]; false with why. */
static bool read_offline(mpr_cur *cur, call_offline *o, char *why, size_t whylen) {
    uint32_t k, len[6];
    const char *s[6];
    uint64_t amount;
    if (!mpr_array(cur, &k) || k != 10) {
        snprintf(why, whylen, "must be [seq, time_us, kind, id, program, period, reason, kk, amount, extract]");
        return false;
    }
    if (!mpr_uint(cur, &o->seq) || o->seq == 0) {
        snprintf(why, whylen, "seq must be a positive integer");
        return false;
    }
    if (!mpr_uint(cur, &o->time_us)) {
        snprintf(why, whylen, "time_us must be an integer (microseconds since 1970, UTC)");
        return false;
    }
    for (int i = 0; i < 5; i++)
        if (!mpr_str(cur, &s[i], &len[i])) {
            snprintf(why, whylen, "%s must be a string", (const char *[]){"kind", "id", "program", "period", "reason"}[i]);
            return false;
        }
    elig_query q;
    elig_query_error e = elig_query_parse(&q, s[0], len[0], s[1], len[1], s[2], len[2], s[3], len[3]);
    int reason = elig_reason_lookup(s[4], len[4]);
    if (e != ELIG_QUERY_OK || reason < 0) {
        snprintf(why, whylen, "bad %s", e != ELIG_QUERY_OK ? elig_query_error_field(e) : "reason");
        return false;
    }
    o->kind = q.kind;
    o->id = q.id;
    o->period = q.period;
    memcpy(o->program, q.program, q.program_len);
    o->program_len = q.program_len;
    o->reason = (elig_reason)reason;
    o->kk = 0;
    if (!mpr_nil(cur) && (!mpr_str(cur, &s[5], &len[5]) || elig_parse_id16(s[5], len[5], &o->kk) != 0)) {
        snprintf(why, whylen, "kk must be 16 digits or nil");
        return false;
    }
    if ((o->kk == 0) != (o->reason == ELIG_REASON_NOT_FOUND)) {
        snprintf(why, whylen, "kk must be nil exactly when the reason is not_found");
        return false;
    }
    if (!mpr_uint(cur, &amount) || amount > UINT32_MAX || (amount && o->reason != ELIG_REASON_ELIGIBLE)) {
        snprintf(why, whylen, "amount must be 0-4294967295, and 0 unless eligible");
        return false;
    }
    o->amount = (uint32_t)amount;
    if (!mpr_str(cur, &o->extract, &len[5]) || !elig_valid_snapshot_id(o->extract, len[5])) {
        snprintf(why, whylen, "extract must be a snapshot id");
        return false;
    }
    o->extract_len = (uint8_t)len[5];
    return true;
}

/* journal [terminal, [answer, ...]]: an offline terminal's answers, in
 * increasing seq, at most --max-batch of them (SPEC 10). */
static void decode_journal(call *c, const call_scratch *scratch) {
    mpr_cur cur = c->msg->params;
    const char *t;
    uint32_t tn, n;
    char why[128];
    if (c->msg->nparams != 2 || !mpr_str(&cur, &t, &tn) || !mpr_array(&cur, &n)) {
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "params must be [terminal, [answer, ...]]");
        return;
    }
    if (!valid_terminal(t, tn)) {
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "terminal must be 1-64 characters of A-Za-z0-9._-");
        return;
    }
    if (n > scratch->max_batch) {
        call_fail(c, ELIG_ERRCODE_TOO_LARGE, "journal of %u answers is over the limit of %u", n, scratch->max_batch);
        return;
    }
    c->terminal = t;
    c->terminal_len = (uint8_t)tn;
    c->offline = scratch->offline;
    for (uint32_t i = 0; i < n; i++) {
        if (!read_offline(&cur, &c->offline[i], why, sizeof why)) {
            call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "item %u: %s", i, why);
            return;
        }
        if (i && c->offline[i].seq <= c->offline[i - 1].seq) {
            call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "item %u: seq must increase", i);
            return;
        }
    }
    c->n_offline = n;
}

static void decode_no_params(call *c) {
    if (c->msg->nparams != 0)
        call_fail(c, ELIG_ERRCODE_BAD_REQUEST, "%.*s takes no params", (int)c->msg->method_len,
                  c->msg->method);
}

/* The name is echoed only as printable ASCII: the message is a msgpack str,
 * which must stay valid UTF-8 whatever bytes the client sent. */
static void unknown_method(call *c) {
    char name[65];
    uint32_t n = c->msg->method_len < 64 ? c->msg->method_len : 64;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->msg->method[i];
        name[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    name[n] = '\0';
    call_fail(c, ELIG_ERRCODE_UNKNOWN_METHOD, "unknown method '%s'", name);
}

void call_decode(call *c, const mpr_request *m, const call_scratch *scratch) {
    c->msg = m;
    c->method = elig_method_lookup(m->method, m->method_len);
    c->n = 0;
    c->n_offline = 0;
    c->err = 0;
    c->errmsg[0] = '\0';
    switch (c->method) {
    case ELIG_METHOD_CHECK:
        decode_check(c);
        break;
    case ELIG_METHOD_CHECK_BATCH:
        decode_check_batch(c, scratch);
        break;
    case ELIG_METHOD_HOUSEHOLD:
        decode_household(c);
        break;
    case ELIG_METHOD_AUTH: /* [channel, token]: read by authorize (auth.c) */
        break;
    case ELIG_METHOD_JOURNAL:
        decode_journal(c, scratch);
        break;
    case ELIG_METHOD_PING:
    case ELIG_METHOD_INFO:
    case ELIG_METHOD_RELOAD:
        decode_no_params(c);
        break;
    default:
        unknown_method(c);
        break;
    }
}
