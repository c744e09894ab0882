/* query.h — answering one msgpack-RPC request: dispatch on the method,
 * validate params, run the rule, encode the response.
 *
 * No sockets here: input is a framed proto_msg, output is appended to a
 * buf. That is what lets tests and bench/ run the whole answer path
 * in-process. */
#ifndef ELIGD_QUERY_H
#define ELIGD_QUERY_H

#include <stdint.h>

#include "buf.h"
#include "elig.h"
#include "proto.h"

/* Figures for the `info` method that only the server knows. */
typedef struct {
    uint64_t uptime_s;
    uint64_t connections;
    uint64_t requests;
    const char *reload_error; /* NULL when the last reload succeeded */
} query_server_info;

typedef struct {
    elig_reader *reader;  /* the snapshot that answers */
    const char *snapshot_id;
    uint32_t snapshot_id_len;
    uint32_t max_batch;
    /* Fills the server figures when `info` is asked; reload_error must stay
     * valid until query_handle returns. */
    void (*server_info)(void *ud, query_server_info *out);
    void *server_info_ud;
} query_ctx;

/* Answers the request m into out (nothing for a notification). Returns 0,
 * or -1 if out could not grow (the connection should then be closed). */
int query_handle(const query_ctx *ctx, const proto_msg *m, buf *out);

#endif
