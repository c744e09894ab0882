/* conn.c — see conn.h.
 *
 * The request path, for a client that keeps up, allocates nothing: libuv
 * reads into the worker's shared buffer, every complete request in it is
 * answered into the worker's shared response buffer, and all of those
 * answers go out in one uv_try_write. Only what is left over — the tail of
 * a request split across reads (conn_rx), or answers the socket would not
 * take (queue) — is copied into the connection's own buffers, which are
 * freed again once empty and counted against --max-buffer-memory while
 * they exist. */
#include "conn.h"

#include <stdlib.h>
#include <sys/ioctl.h>

#include "log.h"
#include "query.h"
#include "worker.h"

/* A partial request idle this long during a drain is given up on. */
#define DRAIN_PARTIAL_GRACE_MS 100

typedef enum {
    EV_READ,     /* bytes arrived: in the worker's buffer, or appended to rx->in */
    EV_EOF,      /* the client will send nothing more */
    EV_WRITTEN,  /* a write finished: output may have drained */
    EV_RELOADED, /* the reload it waits for is answered (in the worker's out) */
    EV_CLOSE,    /* close now (error, timeout, memory cap, drain) */
} conn_event;

static void serve(conn *c, conn_event ev, const char *data, size_t len, conn_close_cause why);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

const char *conn_close_cause_name(conn_close_cause c) {
    static const char *const names[] = {
#define CONN_X_(e, s) s,
        CONN_CLOSE_CAUSE_MAP(CONN_X_)
#undef CONN_X_
    };
    return (unsigned)c < CONN_CLOSE_COUNT ? names[c] : "?";
}

/* ---- buffer memory, counted against --max-buffer-memory ----------------- */

/* A closing connection's in-flight write is libuv's until the close
 * callback, a moment later; it no longer counts. */
static size_t conn_capacity(const conn *c) {
    return (c->rx ? sizeof *c->rx + c->rx->in.cap : 0) + c->queue.cap +
           (c->state == CONN_CLOSING ? 0 : c->inflight.cap);
}

/* Brings c's share of the server's buffer total up to date. */
static void account(conn *c) {
    size_t now = conn_capacity(c);
    server *srv = c->w->srv;
    if (now > c->held)
        atomic_fetch_add_explicit(&srv->buffer_bytes, now - c->held, memory_order_relaxed);
    else if (now < c->held)
        atomic_fetch_sub_explicit(&srv->buffer_bytes, c->held - now, memory_order_relaxed);
    c->held = now;
}

/* Before c grows a buffer by `more` bytes: while the server total would pass
 * the cap, close whichever connection of this worker holds the most (c
 * itself included). false if that was c: its growth is refused, and c is
 * closed too unless `defer_self` (libuv's alloc callback must not close
 * its own stream: libuv would then call a read callback that uv_close
 * has cleared; on_read closes it on the UV_ENOBUFS that follows). */
static bool make_room(conn *c, size_t more, bool defer_self) {
    server *srv = c->w->srv;
    while (atomic_load_explicit(&srv->buffer_bytes, memory_order_relaxed) + more > srv->cfg.max_buffer_memory) {
        conn *big = c;
        for (conn *o = c->w->conns; o; o = o->next)
            if (o->state != CONN_CLOSING && o->held > big->held)
                big = o;
        log_conn(LOG_WARN, &big->sess, "closing a connection holding %zu bytes of buffers: over "
                 "--max-buffer-memory %zu", big->held, srv->cfg.max_buffer_memory);
        if (big == c && defer_self) {
            c->over_cap = true; /* on_read closes it, counted as memory */
            return false;
        }
        serve(big, EV_CLOSE, NULL, 0, CONN_CLOSE_MEMORY);
        if (big == c)
            return false;
    }
    return true;
}

static int grow_(conn *c, buf *b, size_t more, bool defer_self) {
    if (b->cap - b->len >= more)
        return 0;
    if (!make_room(c, b->len + more > b->cap ? b->len + more - b->cap : 0, defer_self))
        return -1;
    int rc = buf_reserve(b, more);
    account(c);
    return rc;
}

static int grow(conn *c, buf *b, size_t more) { return grow_(c, b, more, false); }

static void rx_free(conn *c) {
    if (!c->rx)
        return;
    buf_free(&c->rx->in);
    elig_free(c->rx);
    c->rx = NULL;
    account(c);
}

/* Keeps the partial request data[0..len) and the decoder's progress. */
static int rx_keep(conn *c, const char *data, size_t len, const mpr_scan *scan) {
    if (!c->rx) {
        if (!make_room(c, sizeof *c->rx, false) || !(c->rx = elig_calloc(1, sizeof *c->rx)))
            return -1;
        account(c);
    }
    c->rx->scan = *scan;
    c->rx->since_ms = server_now_ms();
    if (grow(c, &c->rx->in, len) != 0)
        return -1;
    memcpy(c->rx->in.data + c->rx->in.len, data, len);
    c->rx->in.len += len;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

static size_t pending_output(const conn *c) { return c->queue.len + c->inflight.len + c->w->out.len; }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)suggested;
    conn *c = h->data;
    if (c->tls || !c->rx || c->rx->in.len == 0) { /* TLS: ciphertext, always here */
        *b = uv_buf_init(c->w->rbuf, WORKER_READ_CHUNK);
        return;
    }
    /* A request is already partly here: read the rest straight after it. */
    if (grow_(c, &c->rx->in, WORKER_READ_CHUNK, true) != 0) {
        *b = uv_buf_init(NULL, 0); /* libuv then reports UV_ENOBUFS to on_read */
        return;
    }
    *b = uv_buf_init(c->rx->in.data + c->rx->in.len, (unsigned)(c->rx->in.cap - c->rx->in.len));
}

static void set_reading(conn *c, bool on) {
    if (on == c->reading)
        return;
    if (on)
        uv_read_start(&c->h.stream, on_alloc, on_read);
    else
        uv_read_stop(&c->h.stream);
    c->reading = on;
}

static void tls_input(conn *c, const char *data, size_t len);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    conn *c = s->data;
    if (nread == 0 || c->state == CONN_CLOSING)
        return;
    if (c->tls && nread > 0) {
        tls_input(c, b->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        serve(c, EV_EOF, NULL, 0, 0);
    } else if (nread == UV_ENOBUFS) { /* on_alloc: over --max-buffer-memory, or out of memory */
        serve(c, EV_CLOSE, NULL, 0, c->over_cap ? CONN_CLOSE_MEMORY : CONN_CLOSE_ERROR);
    } else if (nread < 0) {
        log_conn(LOG_DEBUG, &c->sess, "read failed: %s", uv_strerror((int)nread));
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
    } else if (b->base == c->w->rbuf) {
        serve(c, EV_READ, b->base, (size_t)nread, 0);
    } else {
        c->rx->in.len += (size_t)nread;
        serve(c, EV_READ, NULL, 0, 0);
    }
}

/* ---- answering ---------------------------------------------------------- */

typedef enum {
    ANSWERED,    /* every complete request answered; a partial one may remain */
    OUTPUT_FULL, /* stopped: unsent answers reached --max-output */
    DEFERRED,    /* stopped at a `reload`, to be answered when the server has done it */
    BAD_STREAM,  /* cannot be resynchronised: answer what came before, then close */
    NO_MEMORY,   /* the answer could not be buffered */
} answer_outcome;

/* Answers the complete requests at data[*off..len), resuming the framing
 * of the first one from *scan. On return *off is past the last request
 * answered and *scan holds the progress through the one after it. */
static answer_outcome answer(conn *c, const char *data, size_t len, size_t *off, mpr_scan *scan) {
    worker *w = c->w;
    size_t max_message = w->srv->cfg.max_message;
    worker_sync_snapshot(w);
    while (*off < len) {
        if (pending_output(c) >= w->srv->cfg.max_output)
            return OUTPUT_FULL;
        const uint8_t *p = (const uint8_t *)data + *off;
        long size = mpr_scan_next(scan, p, len - *off, max_message);
        if (size == MPR_NEED_MORE)
            break;
        mpr_request m;
        if (size < 0 || !mpr_rpc_request(p, (size_t)size, &m)) {
            log_conn(LOG_DEBUG, &c->sess, "closing: %s",
                     size < 0 ? mpr_status_str(size) : "not a msgpack-RPC request or notification");
            worker_count_close(w, CONN_CLOSE_PROTOCOL);
            return BAD_STREAM;
        }
        w->answered += m.type == ELIG_MSG_REQUEST;
        int rc = query_handle(&w->qctx, &c->sess, &m, &w->out);
        if (rc < 0) {
            log_conn(LOG_WARN, &c->sess, "out of memory answering");
            w->out.len = 0;
            w->out.failed = false;
            return NO_MEMORY;
        }
        *off += (size_t)size;
        mpr_scan_reset(scan);
        c->last_active_ms = server_now_ms();
        if (c->sess.close_after) { /* answered; no more from this client */
            worker_count_close(w, CONN_CLOSE_AUTH);
            return BAD_STREAM;
        }
        if (rc == QUERY_DEFERRED) {
            w->answered--; /* answered later, not timed with this read */
            c->reload_msgid = m.msgid;
            return DEFERRED;
        }
    }
    return ANSWERED;
}

/* Answers what is buffered: the bytes just read into the worker's buffer
 * (data), or what rx holds (data NULL). Keeps a partial tail in rx. */
static answer_outcome answer_input(conn *c, const char *data, size_t len) {
    size_t off = 0;
    answer_outcome out;
    if (data) {
        mpr_scan scan;
        mpr_scan_reset(&scan);
        out = answer(c, data, len, &off, &scan);
        if (out == ANSWERED && off < len && rx_keep(c, data + off, len - off, &scan) != 0)
            out = NO_MEMORY;
        else if ((out == OUTPUT_FULL || out == DEFERRED) && off < len &&
                 rx_keep(c, data + off, len - off, &scan) != 0)
            out = NO_MEMORY;
        return out;
    }
    if (!c->rx)
        return ANSWERED;
    out = answer(c, c->rx->in.data, c->rx->in.len, &off, &c->rx->scan);
    if (off) {
        buf_consume(&c->rx->in, off);
        c->rx->since_ms = server_now_ms(); /* a new request's deadline starts */
    }
    if (c->rx->in.len == 0)
        rx_free(c);
    return out;
}

/* ---- writing ------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status);

/* Hands the queue to libuv unless a write is already in flight. */
static int start_write(conn *c) {
    if (c->inflight.len || !c->queue.len)
        return 0;
    buf t = c->inflight;
    c->inflight = c->queue;
    c->queue = t;
    uv_buf_t b = uv_buf_init(c->inflight.data, (unsigned)c->inflight.len);
    return uv_write(&c->wreq, &c->h.stream, &b, 1, on_write);
}

/* Sends the worker's response buffer for c: straight to the socket when
 * nothing is queued before it, else behind the queue (answers stay in
 * request order). 0, or -1 if the connection must close. */
static int flush(conn *c) {
    buf *out = &c->w->out;
    size_t sent = 0;
    int rc = 0;
    if (c->tls) { /* every answer of this pass in one encrypt */
        buf *cipher = &c->w->tls_out;
        cipher->len = 0;
        rc = tls_conn_write(c->tls, out->data, out->len, cipher);
        out->len = 0;
        if (rc != 0) {
            log_conn(LOG_DEBUG, &c->sess, "TLS write failed: %s", tls_conn_error(c->tls));
            return -1;
        }
        out = cipher;
    }
    if (out->len && !c->inflight.len && !c->queue.len) {
        uv_buf_t b = uv_buf_init(out->data, (unsigned)out->len);
        int n = uv_try_write(&c->h.stream, &b, 1);
        if (n < 0 && n != UV_EAGAIN)
            rc = -1;
        sent = n > 0 ? (size_t)n : 0;
    }
    if (rc == 0 && sent < out->len) {
        if (grow(c, &c->queue, out->len - sent) != 0)
            rc = -1;
        else
            buf_append(&c->queue, out->data + sent, out->len - sent);
    }
    out->len = 0;
    if (rc == 0 && start_write(c) != 0)
        rc = -1;
    return rc;
}

static void on_write(uv_write_t *req, int status) {
    conn *c = req->handle->data;
    if (c->state == CONN_CLOSING)
        return;
    if (status < 0) {
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
        return;
    }
    c->last_active_ms = server_now_ms();
    c->inflight.len = 0;
    if (!c->queue.len) {
        buf_free(&c->inflight); /* caught up: give the memory back */
        account(c);
    }
    serve(c, EV_WRITTEN, NULL, 0, 0);
}

/* ---- the state machine -------------------------------------------------- */

static void on_close(uv_handle_t *h) {
    conn *c = h->data;
    worker *w = c->w;
    if (c->counted) {
        if (c->prev)
            c->prev->next = c->next;
        else
            w->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        w->nconns--;
        atomic_fetch_sub(&w->srv->connections, 1);
    }
    buf_free(&c->inflight);
    account(c);
    tls_conn_free(c->tls);
    elig_free(c);
    worker_maybe_finish(w);
}

/* The only place c->state is written after accept. */
static void set_state(conn *c, conn_state s) {
    if (c->state == CONN_CLOSING || c->state == s)
        return;
    c->state = s;
    if (s == CONN_FLUSHING) {
        rx_free(c); /* no more requests will be read */
    } else if (s == CONN_CLOSING) {
        set_reading(c, false);
        rx_free(c);
        buf_free(&c->queue); /* inflight stays libuv's until the close callback */
        account(c);
        uv_close(&c->h.handle, on_close);
    }
}

/* Every event of a connection comes here; the state changes only here.
 * Answers what it can, writes, then settles: pause while output is over
 * the limit, resume once it drains, wait while a reload it asked for is
 * being done, close a flushing connection once all is written. The
 * requests answered are timed from here to their hand-over to the socket
 * (stats.h). */
static void serve(conn *c, conn_event ev, const char *data, size_t len, conn_close_cause why) {
    if (c->state == CONN_CLOSING)
        return;
    if (ev == EV_CLOSE) {
        worker_count_close(c->w, why);
        set_state(c, CONN_CLOSING);
        return;
    }
    worker *w = c->w;
    uint64_t t0 = uv_hrtime(), answered = w->answered;
    if (ev == EV_EOF)
        set_state(c, CONN_FLUSHING); /* whole requests were answered as they came */
    if (ev == EV_RELOADED)
        set_state(c, CONN_READING); /* its answer is in the worker's out, first in line */
    for (;;) {
        if (c->state == CONN_PAUSED && pending_output(c) < c->w->srv->cfg.max_output)
            set_state(c, CONN_READING);
        answer_outcome out = ANSWERED;
        if (c->state == CONN_READING)
            out = answer_input(c, data, len);
        data = NULL;
        /* On NO_MEMORY, send the answers to the whole requests before it
         * anyway: left in the worker's buffer they would go out on the
         * next connection served. */
        if (flush(c) != 0 || out == NO_MEMORY) {
            serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
            return;
        }
        if (c->state == CONN_CLOSING) /* the memory cap chose this connection */
            return;
        if (out == BAD_STREAM) {
            set_state(c, CONN_FLUSHING);
        } else if (out == OUTPUT_FULL) {
            set_state(c, CONN_PAUSED);
        } else if (out == DEFERRED) {
            if (server_reload_request(w->srv, w->index, &c->sess, c->reload_msgid) == 0) {
                set_state(c, CONN_WAITING);
            } else {
                call_reload r = {.rc = ELIG_ENOMEM, .error = "out of memory"};
                if (query_reply_reload(&w->qctx, c->reload_msgid, &r, &w->out) != 0) {
                    serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
                    return;
                }
                continue; /* answered at once: go on with what follows it */
            }
        }
        /* Paused, but the socket took everything at once: go on answering. */
        if (!(c->state == CONN_PAUSED && pending_output(c) < c->w->srv->cfg.max_output))
            break;
    }
    if (w->answered != answered)
        stats_latency(&w->st, w->answered - answered, uv_hrtime() - t0);
    set_reading(c, c->state == CONN_READING);
    if (c->state == CONN_FLUSHING && !c->inflight.len && !c->queue.len)
        set_state(c, CONN_CLOSING);
}

void conn_force_close(conn *c, conn_close_cause why) { serve(c, EV_CLOSE, NULL, 0, why); }

void conn_reload_done(conn *c, uint32_t msgid, const call_reload *r) {
    if (c->state != CONN_WAITING || c->reload_msgid != msgid)
        return;
    if (query_reply_reload(&c->w->qctx, msgid, r, &c->w->out) != 0) {
        c->w->out.len = 0;
        c->w->out.failed = false;
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
        return;
    }
    serve(c, EV_RELOADED, NULL, 0, 0);
}

/* ---- TLS transport ------------------------------------------------------ */

/* A TLS error: the alert OpenSSL has for the peer goes out if the socket
 * takes it at once, then the connection closes, counted. */
static void tls_fail(conn *c) {
    if (c->state == CONN_CLOSING)
        return;
    log_conn(LOG_DEBUG, &c->sess, "closing: TLS: %s", tls_conn_error(c->tls));
    buf *alert = &c->w->tls_out;
    alert->len = 0;
    if (!c->inflight.len && !c->queue.len && tls_conn_write(c->tls, NULL, 0, alert) == 0 && alert->len) {
        uv_buf_t b = uv_buf_init(alert->data, (unsigned)alert->len);
        uv_try_write(&c->h.stream, &b, 1);
    }
    alert->len = 0;
    serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_TLS);
}

/* Once the handshake is done: a verified client certificate a channel
 * names makes the session that channel (SPEC 6). */
static void tls_on_established(conn *c) {
    bool fresh;
    uint8_t fp[32];
    if (!tls_conn_established(c->tls, &fresh) || !fresh)
        return;
    if (tls_conn_peer_sha256(c->tls, fp))
        auth_session_cert(&c->sess, c->w->qctx.auth, fp);
    log_conn(LOG_DEBUG, &c->sess, "TLS established%s%s",
             c->sess.access == SESSION_GRANTED ? ", client certificate of channel " : "",
             c->sess.access == SESSION_GRANTED ? c->sess.channel : "");
}

#define TLS_NOMEM (-3) /* tls_read_rx: no room for the plaintext */

/* Decrypts into the partial request's buffer (made if need be): for a
 * connection that has one, or that may not answer now (paused). */
static long tls_read_rx(conn *c) {
    if (!c->rx) {
        mpr_scan s;
        mpr_scan_reset(&s);
        if (rx_keep(c, "", 0, &s) != 0)
            return TLS_NOMEM;
    }
    if (grow(c, &c->rx->in, 16 * 1024 + 256) != 0)
        return TLS_NOMEM;
    long n = tls_conn_read(c->tls, c->rx->in.data + c->rx->in.len, c->rx->in.cap - c->rx->in.len);
    if (n > 0)
        c->rx->in.len += (size_t)n;
    return n;
}

/* Ciphertext read into the worker's buffer: decrypts all of it (every
 * record the read brought) and serves the plaintext at once, so that the
 * answers of one read are encrypted and written together, as in clear.
 * Only a read of more than WORKER_READ_CHUNK of plaintext is served in
 * more than one pass. */
static void tls_input(conn *c, const char *data, size_t len) {
    if (tls_conn_feed(c->tls, data, len) != 0) {
        tls_fail(c);
        return;
    }
    while (c->state == CONN_READING || c->state == CONN_PAUSED || c->state == CONN_WAITING) {
        /* After a partial request, or while not answering (paused, or a
         * reload under way): into rx, behind it. */
        bool to_rx = c->rx || c->state != CONN_READING;
        char *plain = c->w->tls_plain;
        size_t got = 0;
        long n;
        do {
            n = to_rx ? tls_read_rx(c) : tls_conn_read(c->tls, plain + got, WORKER_READ_CHUNK - got);
            got += n > 0 ? (size_t)n : 0;
        } while (n > 0 && (to_rx || got < WORKER_READ_CHUNK));
        if (n == TLS_NOMEM) { /* the memory cap may have closed it already */
            serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
            return;
        }
        if (n == TLS_FAIL) {
            tls_fail(c);
            return;
        }
        tls_on_established(c);
        /* Serve what came (or, with nothing, flush what the handshake has
         * to send); paused or waiting, rx keeps it for later. */
        if (c->state == CONN_READING)
            serve(c, EV_READ, to_rx || !got ? NULL : plain, to_rx ? 0 : got, 0);
        if (n == TLS_EOF) {
            serve(c, EV_EOF, NULL, 0, 0);
            return;
        }
        if (n == 0)
            return; /* everything this read brought is served */
    }
}

/* ---- accept, sweep, drain ----------------------------------------------- */

static void describe_peer(conn *c, bool is_unix) {
    if (is_unix) {
        c->sess.transport = SESSION_UNIX;
        c->sess.channel = "unix";
        snprintf(c->sess.peer, sizeof c->sess.peer, "unix");
        return;
    }
    c->sess.transport = SESSION_TCP;
    c->sess.channel = "-";
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            snprintf(c->sess.peer, sizeof c->sess.peer, "[%s]:%d", host, port);
            return;
        }
        uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    snprintf(c->sess.peer, sizeof c->sess.peer, "%s:%d", host, port);
}

/* The listener behind refuse slot k (0 TCP, 1 Unix, 2 TLS), and back. */
static uv_stream_t *slot_listener(worker *w, int k) {
    return k == 1 ? (uv_stream_t *)&w->unix_listen : k == 2 ? (uv_stream_t *)&w->tls_listen
                                                            : (uv_stream_t *)&w->tcp_listen;
}
static int listener_slot(worker *w, uv_stream_t *listener) {
    return listener == (uv_stream_t *)&w->unix_listen ? 1 : listener == (uv_stream_t *)&w->tls_listen ? 2 : 0;
}

static void on_refused(uv_handle_t *h) {
    worker *w = h->data;
    int k = (int)((const char *)h - (const char *)&w->refuse[0]) / (int)sizeof w->refuse[0];
    w->refusing[k] = false;
    if (w->stalled[k]) {
        w->stalled[k] = false;
        if (!w->draining) /* else the listener is closed, and its pending connection with it */
            conn_accept(w, slot_listener(w, k));
    }
}

/* No memory for a connection: accept it into the worker's spare handle and
 * close it at once, counted. Not accepting it is no option: libuv stops
 * polling a listener until its pending connection is uv_accept()ed, so
 * the worker would never accept again. If the spare is still closing, the
 * connection waits for its close callback. */
static void refuse(worker *w, uv_stream_t *listener) {
    int k = listener_slot(w, listener);
    if (w->refusing[k]) {
        w->stalled[k] = true;
        return;
    }
    uv_handle_t *h = (uv_handle_t *)&w->refuse[k];
    if ((k == 1 ? uv_pipe_init(&w->loop, &w->refuse[k].pipe, 0) : uv_tcp_init(&w->loop, &w->refuse[k].tcp)) != 0)
        return;
    h->data = w;
    w->refusing[k] = true;
    uv_accept(listener, (uv_stream_t *)h);
    worker_count_close(w, CONN_CLOSE_ERROR);
    uv_close(h, on_refused);
}

void conn_accept(worker *w, uv_stream_t *listener) {
    conn *c = elig_calloc(1, sizeof *c);
    if (!c) {
        log_error("worker %d: out of memory accepting a connection: closing it", w->index);
        refuse(w, listener);
        return;
    }
    c->w = w;
    c->state = CONN_READING;
    bool is_unix = listener == (uv_stream_t *)&w->unix_listen;
    bool is_tls = listener == (uv_stream_t *)&w->tls_listen;
    int rc = is_unix ? uv_pipe_init(&w->loop, &c->h.pipe, 0) : uv_tcp_init(&w->loop, &c->h.tcp);
    if (rc != 0) {
        elig_free(c);
        refuse(w, listener);
        return;
    }
    c->h.handle.data = c;
    c->sess.conn_id = atomic_fetch_add_explicit(&w->srv->next_conn_id, 1, memory_order_relaxed);
    if ((rc = uv_accept(listener, &c->h.stream)) != 0) {
        log_warn("worker %d: accept failed: %s", w->index, uv_strerror(rc));
        set_state(c, CONN_CLOSING);
        return;
    }
    describe_peer(c, is_unix);
    if (is_tls) {
        c->sess.transport = SESSION_TLS;
        if (!(c->tls = tls_conn_new(w->srv->tls))) {
            log_conn(LOG_WARN, &c->sess, "out of memory for TLS");
            serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_ERROR);
            return;
        }
    }
    auth_session_start(&c->sess, w->qctx.auth, w->srv->cfg.unix_auth);
    stats_add(&w->st.accepted, 1);
    unsigned open = atomic_fetch_add(&w->srv->connections, 1);
    if (open >= w->srv->cfg.max_connections) {
        atomic_fetch_sub(&w->srv->connections, 1);
        log_conn(LOG_DEBUG, &c->sess, "refused: at --max-connections %u", w->srv->cfg.max_connections);
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_MAX_CONNECTIONS);
        return;
    }
    c->counted = true;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    if (!is_unix)
        uv_tcp_nodelay(&c->h.tcp, 1);
    c->last_active_ms = server_now_ms();
    log_conn(LOG_DEBUG, &c->sess, "accepted");
    if (w->draining) { /* accepted in the instant before the listener closed */
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_DRAIN);
        return;
    }
    set_reading(c, true);
}

void conn_sweep(conn *c, uint64_t now) {
    const server_config *cfg = &c->w->srv->cfg;
    bool writing = c->inflight.len || c->queue.len;
    /* A paused connection holds whole requests it has not answered yet; the
     * output timeout governs it, not the request deadline. */
    if (c->state == CONN_READING && c->rx && now - c->rx->since_ms >= cfg->request_timeout_ms) {
        log_conn(LOG_INFO, &c->sess, "closing: a request has been arriving for %llu ms (--request-timeout)",
                 (unsigned long long)(now - c->rx->since_ms));
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_REQUEST_TIMEOUT);
    } else if (c->tls && tls_conn_handshaking(c->tls) && now - c->last_active_ms >= cfg->request_timeout_ms) {
        /* A TLS handshake is held to the deadline of a request. */
        log_conn(LOG_INFO, &c->sess, "closing: TLS handshake not done after %llu ms (--request-timeout)",
                 (unsigned long long)(now - c->last_active_ms));
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_TLS);
    } else if (c->state == CONN_READING && !writing && now - c->last_active_ms >= cfg->idle_timeout_ms) {
        /* Idle: no request answered and no answer written for that long
         * (bytes of a partial request do not count as activity). */
        log_conn(LOG_DEBUG, &c->sess, "closing: idle for %llu ms", (unsigned long long)(now - c->last_active_ms));
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_IDLE);
    } else if (writing && now - c->last_active_ms >= cfg->output_timeout_ms) {
        log_conn(LOG_WARN, &c->sess, "closing: has not read its answers for %llu ms",
                 (unsigned long long)(now - c->last_active_ms));
        serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_OUTPUT_TIMEOUT);
    }
}

/* Bytes the kernel holds for us that libuv has not read yet. */
static int unread_bytes(conn *c) {
    uv_os_fd_t fd;
    int n = 0;
    if (uv_fileno(&c->h.handle, &fd) != 0 || ioctl(fd, FIONREAD, &n) != 0)
        return 0;
    return n;
}

void conn_drain_check(conn *c, uint64_t now) {
    if (c->state == CONN_CLOSING || c->state == CONN_PAUSED || c->state == CONN_WAITING)
        return; /* output to drain first, or a reload still to answer */
    if (c->inflight.len || c->queue.len)
        return; /* answers still going out */
    if (c->rx && now - c->rx->since_ms < DRAIN_PARTIAL_GRACE_MS)
        return; /* the rest of a request may be on its way */
    if (c->state == CONN_READING && unread_bytes(c) > 0)
        return; /* received but not yet read: libuv will read and answer it */
    serve(c, EV_CLOSE, NULL, 0, CONN_CLOSE_DRAIN);
}
