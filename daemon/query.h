/* query.h — one msgpack-RPC request through the request path:
 * decode -> authorize -> answer -> record -> encode (call.h describes the
 * steps). No sockets here: input is a framed request, output is appended to
 * a buffer, which is what lets tests, fuzz targets and bench/ run the whole
 * answer path in-process.
 *
 * One method is not answered in place: `reload` (SPEC 9) takes as long as
 * opening (and, with --verify, hashing) a snapshot, which must not stall a
 * worker's loop. query_handle returns QUERY_DEFERRED for it; the
 * connection stops reading, the server reloads on its main thread, and the
 * answer is written with query_reply_reload, after which the connection's
 * later requests are answered, in order. */
#ifndef ELIGD_QUERY_H
#define ELIGD_QUERY_H

#include "answer.h"
#include "auth.h"
#include "audit.h"
#include "buf.h"
#include "call.h"
#include "session.h"
#include "stats.h"

typedef struct {
    answer_ctx answer;
    call_scratch scratch;
    const auth_table *auth; /* the worker's channels; NULL without --auth-file */
    audit_ring *audit; /* the worker's ring; NULL without --audit-dir */
    stats *stats; /* the worker's counters; NULL counts nothing */
} query_ctx;

#define QUERY_DEFERRED 1

/* Sets up the batch scratch arrays for max_batch items. 0 or ELIG_ENOMEM. */
int query_ctx_init(query_ctx *q, uint32_t max_batch);
void query_ctx_destroy(query_ctx *q);

/* Answers the request m from session s into out (nothing for a
* notification). Returns 0; QUERY_DEFERRED for a `reload` the session may
 * ask for (nothing written: the caller has the reload done and answers it
 * with query_reply_reload, request msgid m->msgid); or -1 if out could not
 * grow (the connection should then be closed). `auth` may change s (and
 * set s->close_after). */
int query_handle(query_ctx *q, session *s, const mpr_request *m, buf *out);

/* Writes the response to the reload request msgid: {snapshot,
 * content_sha256}, or error 5 unavailable with the reason. 0 or -1 as
 * query_handle. */
int query_reply_reload(query_ctx *q, uint32_t msgid, const call_reload *r, buf *out);

#endif
