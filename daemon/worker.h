/* worker.h — one thread, one libuv loop, its own listening sockets and the
 * connections they accepted.
 *
 * Workers share nothing on the request path: each has its own read and
 * response scratch buffers and its own reader (read transaction) on the
 * snapshot. They meet only at the connection count, the snapshot holder
 * and the `info` figures. */
#ifndef ELIGD_WORKER_H
#define ELIGD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "query.h"
#include "server.h"

/* Bytes read from a socket at a time into the worker's shared buffer. */
#define WORKER_READ_CHUNK (64 * 1024)

typedef struct conn conn;

struct worker {
    server *srv;
    int index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;       /* another thread asks: refresh, drain or stop */
    uv_timer_t sweep;      /* once a second: idle and stuck connections */
    uv_timer_t drain_poll; /* while draining: close connections once answered */
    uv_tcp_t tcp_listen;
    uv_pipe_t unix_listen;
    bool has_tcp, has_unix;
    /* A connection there is no memory for is accepted into one of these
     * (0 TCP, 1 Unix) and closed at once (conn.c refuse()). */
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } refuse[2];
    bool refusing[2]; /* that handle is closing */
    bool stalled[2];  /* a connection waits for it */

    conn *conns; /* every open connection, for sweeps and drain */
    uint32_t nconns;

    /* The snapshot this worker answers from, and its generation. */
    snap_ref *snap;
    elig_reader *reader;
    uint64_t snap_gen;
    query_ctx qctx;
    char reload_error[256];
    char audit_error[320];

    char *rbuf;  /* WORKER_READ_CHUNK bytes, lent to one read at a time */
    buf out;     /* responses of one read, before they go to the socket */

    uint64_t requests_local;     /* written by this thread only */
    atomic_uint_fast64_t requests; /* published copy, read by `info` */
    /* Connections the server closed, by cause: written by this thread only
     * (a relaxed load and store, no locked instruction), summed by readers. */
    atomic_uint_fast64_t closes[CONN_CLOSE_COUNT];

    atomic_bool drain_requested, force_requested;
    atomic_bool done; /* its loop has returned */
    bool draining;
};

/* Sets the worker up on the calling thread (listeners from the given fds,
 * which it takes over; -1 for none). 0 or a negative code (elig.h). */
int worker_init(worker *w, server *srv, int index, int tcp_fd, int unix_fd);
/* Starts the worker's thread. */
int worker_start(worker *w);
/* Asks the worker (from any thread) to pick up a new snapshot, or drain. */
void worker_wake(worker *w);
void worker_request_drain(worker *w);
void worker_request_force(worker *w);
/* Releases what worker_init took, after the thread has ended. */
void worker_destroy(worker *w);

/* Makes sure the worker answers from the newest snapshot: one atomic load
 * when nothing changed. */
void worker_sync_snapshot(worker *w);
/* Makes requests_local visible to `info` on other threads. */
void worker_publish_requests(worker *w);
/* Counts a connection the server closed (this worker's thread only). */
static inline void worker_count_close(worker *w, conn_close_cause why) {
    atomic_uint_fast64_t *n = &w->closes[why];
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1, memory_order_relaxed);
}
/* Called by conn.c when the last connection of a draining worker closes. */
void worker_maybe_finish(worker *w);

#endif
