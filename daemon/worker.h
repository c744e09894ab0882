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
#include "stats.h"

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
    uv_tcp_t tls_listen;   /* --tls-listen */
    bool has_tcp, has_unix, has_tls;
    /* A connection there is no memory for is accepted into one of these
     * (0 TCP, 1 Unix, 2 TLS) and closed at once (conn.c refuse()). */
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } refuse[3];
    bool refusing[3]; /* that handle is closing */
    bool stalled[3];  /* a connection waits for it */

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
    char *tls_plain; /* WORKER_READ_CHUNK bytes of decrypted requests (with TLS) */
    buf tls_out;     /* the encrypted responses of one flush */

    /* The channels this worker authorizes with (qctx.auth points here),
     * and their generation; swapped on this thread only. */
    auth_table *auth;
    uint64_t auth_gen;

    uint64_t answered; /* requests answered, this thread's own tally (conn.c) */
    /* Counters: written by this thread only, summed by readers (stats.h). */
    stats st;
    uint64_t read_errors_logged; /* st.read_errors at the last error log */

    /* Reloads asked for by this worker's connections (the `reload`
     * method), done by the main thread: their results, for on_wake. */
    uv_mutex_t reload_mu;
    reload_ticket *reloads_done;

    atomic_bool drain_requested, force_requested;
    atomic_bool done; /* its loop has returned */
    bool draining;
};

/* Sets the worker up on the calling thread (listeners from the given fds,
 * which it takes over; -1 for none). 0 or a negative code (elig.h). */
int worker_init(worker *w, server *srv, int index, int tcp_fd, int unix_fd, int tls_fd);
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
/* Counts a connection the server closed (this worker's thread only). */
static inline void worker_count_close(worker *w, conn_close_cause why) { stats_add(&w->st.closes[why], 1); }
/* From the main thread: the reload of ticket t (which the worker takes
 * over) is done; the worker answers it if the connection is still there
 * and goes on with that connection's later requests. */
void worker_reload_done(worker *w, reload_ticket *t);
/* Called by conn.c when the last connection of a draining worker closes. */
void worker_maybe_finish(worker *w);

#endif
