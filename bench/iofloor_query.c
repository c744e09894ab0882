/* iofloor_query.c — query_handle (daemon/query.h) without the query: the
 * I/O floor.
 *
 * Linked into eligd's own main, server, worker and connection code in
 * place of daemon/query.c, so eligd-iofloor reads, frames, writes and
 * threads exactly as eligd does. `check` is answered with a constant answer
 * map of the same shape and size as a real eligible answer (the same keys,
 * a 16-digit kk, a 10-digit region, the serving snapshot's id), encoded
 * once per thread and copied; params are not parsed and no snapshot page
 * is touched. `check_batch` answers each
 * item with the same map; `ping` answers "pong"; anything else is
 * unknown_method. The difference between eligd and this server at the same
 * load is what parsing, the lookups and the rule cost. */
#include <msgpack.h>
#include <stdatomic.h>
#include <string.h>

#include "query.h"

static void pack_str(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_head(msgpack_packer *pk, uint32_t msgid) {
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, ELIG_MSG_RESPONSE);
    msgpack_pack_uint32(pk, msgid);
}

/* The same map encode.c writes for an eligible answer. */
static void pack_answer(msgpack_packer *pk, const char *snapshot_id) {
    msgpack_pack_map(pk, 6);
    pack_str(pk, ELIG_KEY_ELIGIBLE);
    msgpack_pack_true(pk);
    pack_str(pk, ELIG_KEY_REASON);
    pack_str(pk, "eligible");
    pack_str(pk, ELIG_KEY_KK);
    pack_str(pk, "3171010101010001");
    pack_str(pk, ELIG_KEY_REGION);
    pack_str(pk, "3171010001");
    pack_str(pk, ELIG_KEY_AMOUNT);
    msgpack_pack_uint32(pk, 200000);
    pack_str(pk, ELIG_KEY_SNAPSHOT);
    pack_str(pk, snapshot_id);
}

/* The answer's bytes, encoded once per worker thread (per snapshot id).
 * Each thread's cache is also listed here, so query_ctx_destroy (on the
 * main thread, after the workers ended) can free them all. */
typedef struct {
    const char *for_id;
    buf bytes;
} answer_cache;
static _Thread_local answer_cache *cached;
static answer_cache *all_caches[256];
static atomic_int n_caches;

static int append_answer(const query_ctx *q, buf *out) {
    const char *id = elig_snap_meta(elig_reader_snap(q->answer.reader))->id;
    if (!cached) {
        int i = atomic_fetch_add(&n_caches, 1);
        if (i >= 256 || !(cached = calloc(1, sizeof *cached)))
            return -1;
        all_caches[i] = cached;
    }
    if (cached->for_id != id) {
        msgpack_packer pk;
        cached->bytes.len = 0;
        msgpack_packer_init(&pk, &cached->bytes, buf_msgpack_write);
        pack_answer(&pk, id);
        if (cached->bytes.failed)
            return -1;
        cached->for_id = id;
    }
    return buf_append(out, cached->bytes.data, cached->bytes.len);
}

int query_ctx_init(query_ctx *q, uint32_t max_batch) {
    q->scratch.max_batch = max_batch;
    return 0;
}

void query_ctx_destroy(query_ctx *q) {
    (void)q;
    int n = atomic_exchange(&n_caches, 0);
    for (int i = 0; i < n && i < 256; i++) {
        buf_free(&all_caches[i]->bytes);
        free(all_caches[i]);
    }
}

/* Never called: this query_handle defers nothing. */
int query_reply_reload(query_ctx *q, uint32_t msgid, const call_reload *r, buf *out) {
    (void)q, (void)msgid, (void)r, (void)out;
    return -1;
}

int query_handle(query_ctx *ctx, session *s, const mpr_request *m, buf *out) {
    (void)s;
    if (m->type != ELIG_MSG_REQUEST)
        return 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    pack_head(&pk, m->msgid);
    switch (elig_method_lookup(m->method, m->method_len)) {
    case ELIG_METHOD_CHECK:
        msgpack_pack_nil(&pk);
        append_answer(ctx, out);
        break;
    case ELIG_METHOD_CHECK_BATCH: {
        mpr_cur c = m->params;
        uint32_t n = 0;
        if (m->nparams == 1)
            mpr_array(&c, &n);
        msgpack_pack_nil(&pk);
        msgpack_pack_array(&pk, n);
        for (uint32_t i = 0; i < n; i++)
            append_answer(ctx, out);
        break;
    }
    case ELIG_METHOD_PING:
        msgpack_pack_nil(&pk);
        pack_str(&pk, "pong");
        break;
    default:
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, ELIG_ERRCODE_UNKNOWN_METHOD);
        pack_str(&pk, "not served by the I/O floor");
        msgpack_pack_nil(&pk);
        break;
    }
    return out->failed ? -1 : 0;
}
