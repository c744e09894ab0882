/* worker.c — see worker.h. */
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "conn.h"
#include "log.h"

#define SWEEP_INTERVAL_MS 1000
#define DRAIN_POLL_MS 10

static void server_info_cb(void *ud, call_server_info *out);

static void use_snapshot(worker *w, snap_ref *ref, elig_reader *reader, uint64_t gen) {
    if (w->reader)
        elig_reader_close(w->reader);
    snap_ref_release(w->snap);
    w->snap = ref;
    w->reader = reader;
    w->snap_gen = gen;
    w->qctx.answer.reader = reader;
    w->qctx.answer.generation = gen;
}

void worker_sync_snapshot(worker *w) {
    if (snap_holder_generation(&w->srv->snaps) == w->snap_gen)
        return;
    uint64_t gen;
    snap_ref *ref = snap_holder_acquire(&w->srv->snaps, &gen);
    elig_reader *reader;
    int rc = elig_reader_open(ref->snap, &reader);
    if (rc != 0) {
        /* Keep answering from the old one; try again on the next batch. */
        log_error("worker %d: cannot read the new snapshot: %s", w->index, elig_strerror(rc));
        snap_ref_release(ref);
        return;
    }
    use_snapshot(w, ref, reader, gen);
}

static void on_connection(uv_stream_t *listener, int status) {
    worker *w = listener->data;
    if (status < 0) {
        log_warn("worker %d: accept failed: %s", w->index, uv_strerror(status));
        return;
    }
    conn_accept(w, listener);
}

/* Snapshot read errors are logged here, once a sweep at most, rather than
 * where they happen: a damaged page hit by every request must not turn
 * into a log line per request. */
static void log_read_errors(worker *w) {
    uint64_t n = atomic_load_explicit(&w->st.read_errors, memory_order_relaxed);
    if (n == w->read_errors_logged)
        return;
    int code = -(int)atomic_load_explicit(&w->st.read_error_code, memory_order_relaxed);
    log_error("worker %d: %llu snapshot read errors in the last second (%s), answered unavailable; "
              "health is degraded until a reload",
              w->index, (unsigned long long)(n - w->read_errors_logged), elig_strerror(code));
    w->read_errors_logged = n;
}

static void on_sweep(uv_timer_t *t) {
    worker *w = t->data;
    uint64_t now = server_now_ms();
    log_read_errors(w);
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        conn_sweep(c, now);
    }
}

static void on_drain_poll(uv_timer_t *t) {
    worker *w = t->data;
    uint64_t now = server_now_ms();
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        conn_drain_check(c, now);
    }
}

/* Closes the worker's own handles so that its loop runs out of work and
 * uv_run returns; called once its last connection is gone. */
static void finish(worker *w) {
    uv_close((uv_handle_t *)&w->sweep, NULL);
    uv_close((uv_handle_t *)&w->drain_poll, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

void worker_maybe_finish(worker *w) {
    if (w->draining && w->nconns == 0 && !uv_is_closing((uv_handle_t *)&w->wake))
        finish(w);
}

static void start_drain(worker *w) {
    w->draining = true;
    if (w->has_tcp)
        uv_close((uv_handle_t *)&w->tcp_listen, NULL);
    if (w->has_unix)
        uv_close((uv_handle_t *)&w->unix_listen, NULL);
    if (w->has_tls)
        uv_close((uv_handle_t *)&w->tls_listen, NULL);
    w->has_tcp = w->has_unix = w->has_tls = false;
    uv_timer_start(&w->drain_poll, on_drain_poll, 0, DRAIN_POLL_MS);
}

/* A reloaded auth file: every session re-bound to the new table before the
 * old one is let go (sessions point into it). */
static void sync_auth(worker *w) {
    if (!w->auth || auth_holder_generation(&w->srv->auth) == w->auth_gen)
        return;
    auth_table *old = w->auth;
    w->auth = auth_holder_acquire(&w->srv->auth, &w->auth_gen);
    w->qctx.auth = w->auth;
    for (conn *c = w->conns; c; c = c->next)
        auth_session_rebind(&c->sess, w->auth);
    auth_table_release(old);
}

void worker_reload_done(worker *w, reload_ticket *t) {
    uv_mutex_lock(&w->reload_mu);
    t->next = w->reloads_done;
    w->reloads_done = t;
    uv_mutex_unlock(&w->reload_mu);
    uv_async_send(&w->wake);
}

/* Answers the reloads done for this worker's connections. */
static void answer_reloads(worker *w) {
    uv_mutex_lock(&w->reload_mu);
    reload_ticket *d = w->reloads_done;
    w->reloads_done = NULL;
    uv_mutex_unlock(&w->reload_mu);
    while (d) {
        reload_ticket *next = d->next;
        for (conn *c = w->conns; c; c = c->next)
            if (c->sess.conn_id == d->conn_id) {
                conn_reload_done(c, d->msgid, &d->result);
                break;
            }
        elig_free(d);
        d = next;
    }
}

static void on_wake(uv_async_t *a) {
    worker *w = a->data;
    worker_sync_snapshot(w);
    sync_auth(w);
    answer_reloads(w);
    if (atomic_load(&w->drain_requested) && !w->draining)
        start_drain(w);
    if (atomic_load(&w->force_requested)) {
        for (conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            conn_force_close(c, CONN_CLOSE_DRAIN);
        }
    }
    worker_maybe_finish(w);
}

static int open_listeners(worker *w, int tcp_fd, int unix_fd, int tls_fd) {
    int rc;
    if (tls_fd >= 0) {
        if ((rc = uv_tcp_init(&w->loop, &w->tls_listen)) != 0)
            return rc;
        w->has_tls = true;
        w->tls_listen.data = w;
        if ((rc = uv_tcp_open(&w->tls_listen, tls_fd)) != 0 ||
            (rc = uv_listen((uv_stream_t *)&w->tls_listen, 1024, on_connection)) != 0)
            return rc;
    }
    if (tcp_fd >= 0) {
        if ((rc = uv_tcp_init(&w->loop, &w->tcp_listen)) != 0)
            return rc;
        w->has_tcp = true;
        w->tcp_listen.data = w;
        if ((rc = uv_tcp_open(&w->tcp_listen, tcp_fd)) != 0 ||
            (rc = uv_listen((uv_stream_t *)&w->tcp_listen, 1024, on_connection)) != 0)
            return rc;
    }
    if (unix_fd >= 0) {
        if ((rc = uv_pipe_init(&w->loop, &w->unix_listen, 0)) != 0)
            return rc;
        w->has_unix = true;
        w->unix_listen.data = w;
        if ((rc = uv_pipe_open(&w->unix_listen, unix_fd)) != 0 ||
            (rc = uv_listen((uv_stream_t *)&w->unix_listen, 1024, on_connection)) != 0)
            return rc;
    }
    return 0;
}

int worker_init(worker *w, server *srv, int index, int tcp_fd, int unix_fd, int tls_fd) {
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->index = index;
    stats_init(&w->st);
    uv_mutex_init(&w->reload_mu);
    atomic_init(&w->drain_requested, false);
    atomic_init(&w->force_requested, false);
    atomic_init(&w->done, false);
    w->qctx.answer.server_info = server_info_cb;
    w->qctx.answer.server_info_ud = w;
    w->qctx.audit = audit_worker_ring(srv->audit, index);
    w->qctx.answer.stats = &w->st;
    w->qctx.stats = &w->st;
    int rc;
    if (!(w->rbuf = elig_malloc(WORKER_READ_CHUNK)) || query_ctx_init(&w->qctx, srv->cfg.max_batch) != 0)
        return ELIG_ENOMEM;
    if (srv->tls && !(w->tls_plain = elig_malloc(WORKER_READ_CHUNK)))
        return ELIG_ENOMEM;
    if (srv->cfg.auth_file) {
        w->auth = auth_holder_acquire(&srv->auth, &w->auth_gen);
        w->qctx.auth = w->auth;
    }

    uint64_t gen;
    snap_ref *ref = snap_holder_acquire(&srv->snaps, &gen);
    elig_reader *reader;
    if ((rc = elig_reader_open(ref->snap, &reader)) != 0) {
        snap_ref_release(ref);
        return rc;
    }
    use_snapshot(w, ref, reader, gen);

    if ((rc = uv_loop_init(&w->loop)) != 0)
        return rc;
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_timer_init(&w->loop, &w->drain_poll);
    w->drain_poll.data = w;
    uv_timer_start(&w->sweep, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    return open_listeners(w, tcp_fd, unix_fd, tls_fd);
}

static void run(void *arg) {
    worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_store(&w->done, true);
    uv_async_send(&w->srv->worker_done);
}

int worker_start(worker *w) { return uv_thread_create(&w->thread, run, w); }

void worker_wake(worker *w) { uv_async_send(&w->wake); }

void worker_request_drain(worker *w) {
    atomic_store(&w->drain_requested, true);
    uv_async_send(&w->wake);
}

void worker_request_force(worker *w) {
    atomic_store(&w->force_requested, true);
    uv_async_send(&w->wake);
}

void worker_destroy(worker *w) {
    uv_loop_close(&w->loop);
    if (w->reader)
        elig_reader_close(w->reader);
    snap_ref_release(w->snap);
    w->reader = NULL;
    w->snap = NULL;
    buf_free(&w->out);
    query_ctx_destroy(&w->qctx);
    elig_free(w->rbuf);
    elig_free(w->tls_plain);
    buf_free(&w->tls_out);
    auth_table_release(w->auth);
    w->auth = NULL;
    for (reload_ticket *d = w->reloads_done, *next; d; d = next) {
        next = d->next;
        elig_free(d);
    }
    w->reloads_done = NULL;
    uv_mutex_destroy(&w->reload_mu);
}

static void server_info_cb(void *ud, call_server_info *out) {
    worker *w = ud;
    server *srv = w->srv;
    stats_totals t;
    server_stats(srv, &t);
    out->requests = 0;
    for (int i = 0; i < STATS_METHOD_SLOTS; i++)
        out->requests += t.requests[i]; /* this info request included */
    out->connections = atomic_load(&srv->connections);
    out->uptime_s = (server_now_ms() - srv->start_ms) / 1000;
    snap_holder_reload_error(&srv->snaps, w->reload_error, sizeof w->reload_error);
    if (srv->cfg.auth_file || srv->tls) { /* failed auth file or TLS reloads are reported the same way */
        size_t n = strlen(w->reload_error);
        if (n)
            n += (size_t)snprintf(w->reload_error + n, sizeof w->reload_error - n, "; ");
        if (n < sizeof w->reload_error) {
            server_access_reload_error(srv, w->reload_error + n, sizeof w->reload_error - n);
            if (!w->reload_error[n] && n)
                w->reload_error[n - 2] = '\0';
        }
    }
    out->reload_error = w->reload_error[0] ? w->reload_error : NULL;
    out->audit_error = audit_error(srv->audit, w->audit_error, sizeof w->audit_error);
    if (srv->audit) {
        audit_stats st;
        audit_get_stats(srv->audit, &st);
        out->audit_on = true;
        out->audit_backlog = st.backlog;
        out->audit_lost = st.lost;
        out->audit_refused = st.refused;
        out->audit_written = st.written;
    }
    out->health = server_health_name(server_health(srv, &t, NULL, 0));
    out->generation = snap_holder_generation(&srv->snaps);
    out->read_errors = t.read_errors;
}
