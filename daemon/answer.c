/* answer.c — see answer.h. */
#include "answer.h"

#include <string.h>

static void read_failed(const answer_ctx *ctx, int rc) {
    if (ctx->stats)
        stats_read_error(ctx->stats, ctx->generation, rc);
}

/* A batch overlaps the two cache misses of each lookup with the work on
 * the items before it: the id's index slot is prefetched BUCKET_AHEAD
 * items ahead, its household record RECORD_AHEAD items ahead (by then the
 * slot is in cache). A single check has nothing to overlap with here; the
 * connection's loop prefetches the next pipelined request instead
 * (query_prefetch). */
#define BUCKET_AHEAD 8
#define RECORD_AHEAD 4

static void answer_checks(call *c, const answer_ctx *ctx) {
    const elig_query *q = c->queries;
    if (c->n > 1)
        for (uint32_t i = 0; i < c->n && i < BUCKET_AHEAD; i++)
            elig_prefetch(ctx->reader, q[i].kind, q[i].id);
    for (uint32_t i = 0; i < c->n; i++) {
        if (i + BUCKET_AHEAD < c->n)
            elig_prefetch(ctx->reader, q[i + BUCKET_AHEAD].kind, q[i + BUCKET_AHEAD].id);
        if (i + RECORD_AHEAD < c->n)
            elig_prefetch_record(ctx->reader, q[i + RECORD_AHEAD].kind, q[i + RECORD_AHEAD].id);
        int rc = elig_check(ctx->reader, &c->queries[i], &c->answers[i]);
        if (rc != 0) {
            read_failed(ctx, rc);
            if (c->method == ELIG_METHOD_CHECK_BATCH)
                call_fail(c, ELIG_ERRCODE_UNAVAILABLE, "item %u: snapshot read failed: %s", i,
                          elig_strerror(rc));
            else
                call_fail(c, ELIG_ERRCODE_UNAVAILABLE, "snapshot read failed: %s", elig_strerror(rc));
            return;
        }
    }
}

static void answer_household(call *c, const answer_ctx *ctx) {
    int rc = elig_household_get(ctx->reader, c->kind, c->id, &c->hh);
    if (rc < 0) {
        read_failed(ctx, rc);
        call_fail(c, ELIG_ERRCODE_UNAVAILABLE, "snapshot read failed: %s", elig_strerror(rc));
        return;
    }
    c->hh_found = rc;
}

void call_answer(call *c, const answer_ctx *ctx, const session *s) {
    (void)s;
    c->snap = elig_reader_snap(ctx->reader);
    c->meta = elig_snap_meta(c->snap);
    if (c->err)
        return;
    switch (c->method) {
    case ELIG_METHOD_CHECK:
    case ELIG_METHOD_CHECK_BATCH:
        answer_checks(c, ctx);
        break;
    case ELIG_METHOD_HOUSEHOLD:
        answer_household(c, ctx);
        break;
    case ELIG_METHOD_INFO:
        memset(&c->info, 0, sizeof c->info);
        if (ctx->server_info)
            ctx->server_info(ctx->server_info_ud, &c->info);
        break;
    default:
        break;
    }
}
