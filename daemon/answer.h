/* answer.h — step 3 of the request path: the rule of SPEC 2 on the
 * snapshot, for a call that decoded and was authorized. */
#ifndef ELIGD_ANSWER_H
#define ELIGD_ANSWER_H

#include "call.h"
#include "session.h"
#include "stats.h"

typedef struct {
    elig_reader *reader; /* the snapshot that answers */
    uint64_t generation; /* its generation (snapshot.h), for read-error counts */
    stats *stats;        /* where a failed read is counted; may be NULL */
    /* Fills the server figures when `info` is asked; reload_error must stay
     * valid until the call is encoded. */
    void (*server_info)(void *ud, call_server_info *out);
    void *server_info_ud;
} answer_ctx;

/* Fills c's results (answers, household, info). A snapshot that cannot be
 * read sets unavailable (for a batch, naming the item): a batch is answered
 * whole or not at all; the failure is counted in ctx->stats (read errors,
 * which make the health `degraded` and are logged, rate-limited, by the
 * worker's sweep). Does nothing when c->err is set. */
void call_answer(call *c, const answer_ctx *ctx, const session *s);

#endif
