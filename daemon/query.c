/* query.c — see query.h: the request path, one call per step. */
#include "query.h"

#include "alloc.h"

#include "decode.h"
#include "encode.h"

int query_ctx_init(query_ctx *q, uint32_t max_batch) {
    q->scratch.max_batch = max_batch;
    q->scratch.queries = elig_calloc(max_batch, sizeof *q->scratch.queries);
    q->scratch.answers = elig_calloc(max_batch, sizeof *q->scratch.answers);
    if (!q->scratch.queries || !q->scratch.answers) {
        query_ctx_destroy(q);
        return ELIG_ENOMEM;
    }
    return 0;
}

void query_ctx_destroy(query_ctx *q) {
    elig_free(q->scratch.queries);
    elig_free(q->scratch.answers);
    q->scratch.queries = NULL;
    q->scratch.answers = NULL;
}

int query_handle(query_ctx *q, const session *s, const mpr_request *m, buf *out) {
    if (m->type != ELIG_MSG_REQUEST)
        return 0; /* a notification is never answered, so never executed */
    call c;
    call_decode(&c, m, &q->scratch);
    call_answer(&c, &q->answer, s);
    audit_record(q->audit, &c, s);
    return call_encode(&c, out);
}
