/* query.c — see query.h: the request path, one call per step. */
#include "query.h"

#include "alloc.h"

#include "decode.h"
#include "encode.h"

int query_ctx_init(query_ctx *q, uint32_t max_batch) {
    q->scratch.max_batch = max_batch;
    q->scratch.queries = elig_calloc(max_batch, sizeof *q->scratch.queries);
    q->scratch.answers = elig_calloc(max_batch, sizeof *q->scratch.answers);
    q->scratch.offline = elig_calloc(max_batch, sizeof *q->scratch.offline);
    if (!q->scratch.queries || !q->scratch.answers || !q->scratch.offline) {
        query_ctx_destroy(q);
        return ELIG_ENOMEM;
    }
    return 0;
}

void query_ctx_destroy(query_ctx *q) {
    elig_free(q->scratch.queries);
    elig_free(q->scratch.answers);
    elig_free(q->scratch.offline);
    q->scratch.queries = NULL;
    q->scratch.answers = NULL;
    q->scratch.offline = NULL;
}

/* The response's counters: its error code, or one answer per check item. */
static void count_outcome(stats *st, const call *c) {
    if (!st)
        return;
    if (c->err) {
        stats_add(&st->errors[(unsigned)c->err < STATS_ERRCODE_SLOTS ? c->err : 0], 1);
        return;
    }
    for (uint32_t i = 0; i < c->n; i++)
        stats_add(&st->answers[c->answers[i].reason], 1);
}

int query_handle(query_ctx *q, session *s, const mpr_request *m, buf *out) {
    if (m->type != ELIG_MSG_REQUEST)
        return 0; /* a notification is never answered, so never executed */
    call c;
    call_decode(&c, m, &q->scratch);
    if (q->stats) /* counted before answering, so `info` includes itself */
        stats_add(&q->stats->requests[c.method == ELIG_METHOD_UNKNOWN ? STATS_METHOD_UNKNOWN : c.method], 1);
    auth_authorize(&c, s, q->auth); /* `reload` too: the Unix socket, or a channel granted it */
    if (c.method == ELIG_METHOD_RELOAD && !c.err)
        return QUERY_DEFERRED;
    call_answer(&c, &q->answer, s);
    auth_hide_regions(&c, s);
    audit_record(q->audit, &c, s);
    count_outcome(q->stats, &c);
    return call_encode(&c, out);
}

int query_reply_reload(query_ctx *q, uint32_t msgid, const call_reload *r, buf *out) {
    mpr_request m = {.type = ELIG_MSG_REQUEST, .msgid = msgid};
    call c = {.msg = &m, .method = ELIG_METHOD_RELOAD, .reload = r};
    if (r->rc != 0)
        call_fail(&c, ELIG_ERRCODE_UNAVAILABLE, "reload failed: %s", r->error);
    count_outcome(q->stats, &c);
    return call_encode(&c, out);
}
