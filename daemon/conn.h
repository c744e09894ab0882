/* conn.h — one client connection: read requests, answer them in order,
 * write, and enforce the per-connection limits.
 *
 * State machine (memcached's conn_set_state is the model): every event —
 * bytes read, end of input, a write done, an error, a timeout, the drain —
 * goes into one function, serve() in conn.c, and that function alone
 * changes the state. The states:
 *
 *   READING   reading requests and answering them
 *   PAUSED    unsent answers over --max-output: not reading until they drain
 *   WAITING   a `reload` it asked for is being done on the main thread: not
 *             reading, later requests held (in rx) until it is answered
 *   FLUSHING  no more requests (EOF, protocol error, drain): close once written
 *   CLOSING   uv_close called; freed in the close callback
 *
 *   READING --(unsent output >= --max-output)--> PAUSED --(drained)--> READING
 *   READING --(reload asked)--> WAITING --(reload answered)--> READING
 *   READING|PAUSED --(EOF, bad stream)--> FLUSHING --(all written)--> CLOSING
 *   any --(error, timeout, memory cap, force)--> CLOSING
 *
 * TLS (tls.h) is a transport under the read and write paths: ciphertext
 * read is decrypted (one pass per read) and served like plain bytes; the
 * answers of one pass are encrypted at once in flush().
 *
 * Lifetime: a conn is allocated on accept and freed only in its close
 * callback, after libuv has cancelled its pending write. Its buffers exist
 * only while needed: an idle client that keeps up owns none. */
#ifndef ELIGD_CONN_H
#define ELIGD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "call.h"
#include "mpr.h"
#include "session.h"
#include "tls.h"

typedef struct worker worker;

typedef enum {
    CONN_READING,
    CONN_PAUSED,
    CONN_WAITING,
    CONN_FLUSHING,
    CONN_CLOSING,
} conn_state;

/* Why a connection was closed by the server (not by its client); one
 * counter each (see worker.h). */
#define CONN_CLOSE_CAUSE_MAP(X)                                                \
    X(PROTOCOL, "protocol")          /* not msgpack-RPC, or over the size limit */ \
    X(IDLE, "idle")                  /* --idle-timeout */                      \
    X(REQUEST_TIMEOUT, "request_timeout") /* a request did not arrive in full */ \
    X(OUTPUT_TIMEOUT, "output_timeout") /* answers not read for --output-timeout */ \
    X(MEMORY, "memory")              /* --max-buffer-memory */                 \
    X(MAX_CONNECTIONS, "max_connections") /* refused at accept */              \
    X(DRAIN, "drain")                /* closed by a drain or its timeout */    \
    X(ERROR, "error")                /* a read or write failed, out of memory */ \
    X(AUTH, "auth")                  /* 3 failed `auth` calls (auth.c) */       \
    X(TLS, "tls")                    /* a TLS error: handshake, record, alert */

typedef enum {
#define CONN_X_(e, s) CONN_CLOSE_##e,
    CONN_CLOSE_CAUSE_MAP(CONN_X_)
#undef CONN_X_
    CONN_CLOSE_COUNT
} conn_close_cause;

const char *conn_close_cause_name(conn_close_cause c);

/* A request partly received: its bytes so far, the decoder's progress
 * through them, and when its first byte came (for --request-timeout).
 * Allocated with the first partial request, freed once empty. */
typedef struct {
    buf in;
    mpr_scan scan;
    uint64_t since_ms;
} conn_rx;

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
    bool reading;     /* uv_read_start in effect */
    bool counted;     /* holds a place in the server's connection count */
    bool over_cap;    /* refused a buffer in on_alloc: over --max-buffer-memory */
    conn_rx *rx;      /* NULL unless a request is partly received */
    buf queue;        /* answers not yet handed to libuv */
    buf inflight;     /* answers libuv is writing */
    size_t held;      /* bytes of buffers accounted to --max-buffer-memory */
    uv_write_t wreq;
    uint64_t last_active_ms;
    tls_conn *tls;    /* NULL: plain; else the transport under read and write */
    uint32_t reload_msgid; /* WAITING: the reload request to answer */
    session sess;
} conn;

/* Accepts one connection from listener onto w's loop, or refuses it if the
 * server is at --max-connections. */
void conn_accept(worker *w, uv_stream_t *listener);
/* Periodic check: closes connections idle too long, stuck over the output
 * limit too long, or whose partial request is past --request-timeout. */
void conn_sweep(conn *c, uint64_t now);
/* While draining: closes c once everything it sent has been answered and
 * written. */
void conn_drain_check(conn *c, uint64_t now);
/* Closes at once, counting the cause. */
void conn_force_close(conn *c, conn_close_cause why);
/* The reload c asked for with request msgid is done: answers it with r and
 * goes on with c's later requests. Nothing if c no longer waits for it. */
void conn_reload_done(conn *c, uint32_t msgid, const call_reload *r);

#endif
