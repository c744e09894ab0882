/* conn.h — one client connection: read requests, answer them in order,
 * write, and enforce the per-connection limits.
 *
 * Lifetime: a conn is allocated on accept and freed only in its close
 * callback, after libuv has cancelled its pending write. Its buffers are
 * empty (unallocated) whenever the client is idle and keeping up, so an idle
 * connection costs its handle and this struct. */
#ifndef ELIGD_CONN_H
#define ELIGD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

typedef struct worker worker;

typedef enum {
    CONN_READING,  /* reading requests and answering them */
    CONN_PAUSED,   /* unsent answers over --max-output: not reading until they drain */
    CONN_FLUSHING, /* no more requests (EOF, protocol error, drain): close once written */
    CONN_CLOSING,  /* uv_close called; freed in the close callback */
} conn_state;

typedef struct conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    worker *w;
    struct conn *prev, *next;
    conn_state state;
    bool reading;  /* uv_read_start in effect */
    bool counted;  /* holds a place in the server's connection count */
    buf in;        /* bytes of requests not yet answered (a partial message) */
    buf queue;     /* answers not yet handed to libuv */
    buf inflight;  /* answers libuv is writing */
    uv_write_t wreq;
    uint64_t last_active_ms;
    uint64_t paused_since_ms;
} conn;

/* Accepts one connection from listener onto w's loop, or refuses it if the
 * server is at --max-connections. */
void conn_accept(worker *w, uv_stream_t *listener);
/* Periodic check: closes idle connections and those stuck over the output
 * limit for too long. */
void conn_sweep(conn *c, uint64_t now);
/* While draining: closes c once everything it sent has been answered and
 * written. */
void conn_drain_check(conn *c, uint64_t now);
/* Closes at once (drain timeout). */
void conn_close(conn *c);

#endif
