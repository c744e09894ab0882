/* conn.c — see conn.h.
 *
 * The request path, for a client that keeps up, allocates nothing: libuv
 * reads into the worker's shared buffer, every complete request in it is
 * answered into the worker's shared response buffer, and all of those
 * answers go out in one uv_try_write. Only what is left over — the tail of
 * a request split across reads, or answers the socket would not take — is
 * copied into the connection's own buffers, and those are freed again once
 * empty. */
#include "conn.h"

#include <stdlib.h>
#include <sys/ioctl.h>

#include "log.h"
#include "proto.h"
#include "query.h"
#include "worker.h"

/* A partial request idle this long during a drain is given up on. */
#define DRAIN_PARTIAL_GRACE_MS 100

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void serve(conn *c, const char *data, size_t len);

static size_t pending_output(const conn *c) {
    return c->queue.len + c->inflight.len + c->w->out.len;
}

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
    buf_free(&c->in);
    buf_free(&c->queue);
    buf_free(&c->inflight);
    free(c);
    worker_maybe_finish(w);
}

void conn_close(conn *c) {
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    uv_close(&c->h.handle, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)suggested;
    conn *c = h->data;
    if (c->in.len == 0) {
        *b = uv_buf_init(c->w->rbuf, WORKER_READ_CHUNK);
        return;
    }
    /* A request is already partly here: read the rest straight after it. */
    if (buf_reserve(&c->in, WORKER_READ_CHUNK) != 0) {
        *b = uv_buf_init(NULL, 0); /* libuv then reports UV_ENOBUFS */
        return;
    }
    *b = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
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

/* Answers every complete request in data[0..len) until the unsent output
 * passes the limit. Returns the bytes consumed. A stream that cannot be
 * resynchronised moves c to CONN_FLUSHING: the answers so far still go out,
 * then the connection closes. */
static size_t answer(conn *c, const char *data, size_t len) {
    worker *w = c->w;
    size_t max_message = w->srv->cfg.max_message;
    size_t off = 0;
    proto_msg m;

    worker_sync_snapshot(w);
    while (off < len) {
        if (pending_output(c) >= w->srv->cfg.max_output) {
            c->state = CONN_PAUSED;
            c->paused_since_ms = server_now_ms();
            break;
        }
        long r = proto_next((const uint8_t *)data + off, len - off, max_message, &m);
        if (r == PROTO_NEED_MORE && len - off > max_message)
            r = PROTO_TOO_LARGE;
        if (r == PROTO_NEED_MORE)
            break;
        if (r < 0) {
            log_debug("worker %d: closing a connection: %s", w->index, proto_status_str(r));
            c->state = CONN_FLUSHING;
            off = len;
            break;
        }
        w->requests_local += m.type == ELIG_MSG_REQUEST;
        if (query_handle(&w->qctx, &m, &w->out) != 0) {
            log_warn("worker %d: out of memory answering; closing a connection", w->index);
            w->out.len = 0;
            w->out.failed = false;
            conn_close(c);
            return len;
        }
        off += (size_t)r;
    }
    worker_publish_requests(w);
    return off;
}

static void on_write(uv_write_t *req, int status);

static void start_write(conn *c) {
    if (c->inflight.len || !c->queue.len)
        return;
    buf t = c->inflight;
    c->inflight = c->queue;
    c->queue = t;
    uv_buf_t b = uv_buf_init(c->inflight.data, (unsigned)c->inflight.len);
    if (uv_write(&c->wreq, &c->h.stream, &b, 1, on_write) != 0)
        conn_close(c);
}

/* Sends the worker's response buffer for c: straight to the socket when
 * nothing is queued before it, else behind the queue (answers stay in
 * request order). */
static void flush(conn *c) {
    buf *out = &c->w->out;
    if (out->len == 0 || c->state == CONN_CLOSING) {
        out->len = 0;
        return;
    }
    size_t sent = 0;
    if (!c->inflight.len && !c->queue.len) {
        uv_buf_t b = uv_buf_init(out->data, (unsigned)out->len);
        int n = uv_try_write(&c->h.stream, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            out->len = 0;
            conn_close(c);
            return;
        }
        sent = n > 0 ? (size_t)n : 0;
    }
    if (sent < out->len && buf_append(&c->queue, out->data + sent, out->len - sent) != 0) {
        out->len = 0;
        conn_close(c);
        return;
    }
    out->len = 0;
    start_write(c);
}

static void on_write(uv_write_t *req, int status) {
    conn *c = req->handle->data;
    if (c->state == CONN_CLOSING)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->last_active_ms = server_now_ms();
    c->inflight.len = 0;
    if (!c->queue.len)
        buf_free(&c->inflight); /* caught up: give the memory back */
    start_write(c);
    serve(c, NULL, 0);
}

/* Answers data (bytes just read into the shared buffer) or, with data NULL,
 * what c->in holds; writes; then settles the state: resume a paused
 * connection whose output drained, close a flushing one that is done. */
static void serve(conn *c, const char *data, size_t len) {
    for (;;) {
        if (c->state == CONN_PAUSED && pending_output(c) < c->w->srv->cfg.max_output)
            c->state = CONN_READING;
        if (c->state != CONN_READING)
            break;
        if (data) {
            size_t off = answer(c, data, len);
            if (off < len && c->state != CONN_CLOSING && c->state != CONN_FLUSHING &&
                buf_append(&c->in, data + off, len - off) != 0)
                conn_close(c);
            data = NULL;
        } else if (c->in.len) {
            size_t off = answer(c, c->in.data, c->in.len);
            buf_consume(&c->in, off);
        }
        flush(c);
        if (c->state != CONN_PAUSED)
            break;
    }
    if (c->state == CONN_CLOSING)
        return;
    if (c->state == CONN_FLUSHING)
        buf_free(&c->in);
    else if (c->in.len == 0)
        buf_free(&c->in);
    set_reading(c, c->state == CONN_READING);
    if (c->state == CONN_FLUSHING && !c->inflight.len && !c->queue.len)
        conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    conn *c = s->data;
    if (nread == 0 || c->state == CONN_CLOSING)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        /* The client is done sending: answer what it sent, then close. */
        c->state = CONN_FLUSHING;
        serve(c, NULL, 0);
        return;
    }
    c->last_active_ms = server_now_ms();
    if (b->base == c->w->rbuf) {
        serve(c, b->base, (size_t)nread);
    } else {
        c->in.len += (size_t)nread;
        serve(c, NULL, 0);
    }
}

static void refuse(conn *c) {
    log_debug("worker %d: refusing a connection: at --max-connections %u", c->w->index,
              c->w->srv->cfg.max_connections);
    conn_close(c);
}

void conn_accept(worker *w, uv_stream_t *listener) {
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("worker %d: out of memory accepting a connection", w->index);
        return;
    }
    c->w = w;
    c->state = CONN_READING;
    bool is_unix = listener == (uv_stream_t *)&w->unix_listen;
    int rc = is_unix ? uv_pipe_init(&w->loop, &c->h.pipe, 0) : uv_tcp_init(&w->loop, &c->h.tcp);
    if (rc != 0) {
        free(c);
        return;
    }
    c->h.handle.data = c;
    if (uv_accept(listener, &c->h.stream) != 0) {
        conn_close(c);
        return;
    }
    unsigned open = atomic_fetch_add(&w->srv->connections, 1);
    if (open >= w->srv->cfg.max_connections) {
        atomic_fetch_sub(&w->srv->connections, 1);
        refuse(c);
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
    if (w->draining) { /* accepted in the instant before the listener closed */
        c->state = CONN_FLUSHING;
        conn_close(c);
        return;
    }
    set_reading(c, true);
}

void conn_sweep(conn *c, uint64_t now) {
    const server_config *cfg = &c->w->srv->cfg;
    bool writing = c->inflight.len || c->queue.len;
    if (c->state == CONN_READING && !writing && now - c->last_active_ms >= cfg->idle_timeout_ms) {
        log_debug("worker %d: closing a connection idle for %llu ms", c->w->index,
                  (unsigned long long)(now - c->last_active_ms));
        conn_close(c);
    } else if (writing && now - c->last_active_ms >= cfg->output_timeout_ms) {
        log_warn("worker %d: closing a connection that has not read its answers for %llu ms",
                 c->w->index, (unsigned long long)(now - c->last_active_ms));
        conn_close(c);
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
    if (c->state == CONN_CLOSING || c->state == CONN_PAUSED)
        return;
    if (c->inflight.len || c->queue.len)
        return; /* answers still going out */
    if (c->in.len && now - c->last_active_ms < DRAIN_PARTIAL_GRACE_MS)
        return; /* the rest of a request may be on its way */
    if (c->state == CONN_READING && unread_bytes(c) > 0)
        return; /* received but not yet read: libuv will read and answer it */
    conn_close(c);
}
