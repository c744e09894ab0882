/* query.h — one msgpack-RPC request through the request path:
 * decode -> authorize -> answer -> record -> encode (call.h describes the
 * steps). No sockets here: input is a framed request, output is appended to
 * a buffer, which is what lets tests, fuzz targets and bench/ run the whole
 * answer path in-process. */
#ifndef ELIGD_QUERY_H
#define ELIGD_QUERY_H

#include "answer.h"
#include "audit.h"
#include "buf.h"
#include "call.h"
#include "session.h"

typedef struct {
    answer_ctx answer;
    call_scratch scratch;
    audit_ring *audit; /* the worker's ring; NULL without --audit-dir */
} query_ctx;

/* Sets up the batch scratch arrays for max_batch items. 0 or ELIG_ENOMEM. */
int query_ctx_init(query_ctx *q, uint32_t max_batch);
void query_ctx_destroy(query_ctx *q);

/* Answers the request m from session s into out (nothing for a
 * notification). Returns 0, or -1 if out could not grow (the connection
 * should then be closed). */
int query_handle(query_ctx *q, const session *s, const mpr_request *m, buf *out);

#endif
