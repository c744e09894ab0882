/* server.c — see server.h.
 *
 * Threading: N workers, each with its own libuv loop and its own TCP
 * listening socket bound to the same address with SO_REUSEPORT, so the
 * kernel spreads new connections across workers with no acceptor thread
 * and no hand-off. (Debian's libuv 1.44 has no UV_TCP_REUSEPORT, so the
 * sockets are made here and given to libuv with uv_tcp_open.) A Unix socket
 * cannot be load-balanced that way; its one listening socket is shared by
 * every worker (each polls a dup of it and accept() picks one).
 *
 * The main thread runs a small loop of its own for signals: SIGHUP reloads
 * the snapshot, SIGTERM/SIGINT start the drain. */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "tls.h"
#include "metrics.h"
#include "snapmeta.h"
#include "version.h"
#include "worker.h"

uint64_t server_now_ms(void) { return uv_hrtime() / 1000000; }

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* systemd's service notification (Type=notify): `state` (READY=1,
 * RELOADING=1, STOPPING=1 or nothing) and a STATUS= line naming the
 * snapshot serving. A no-op when eligd was not started by systemd (no
 * $NOTIFY_SOCKET). */
static void notify(server *srv, const char *state) {
    snap_ref *ref = NULL;
    uint64_t gen = 0;
    if (atomic_load(&srv->snaps_ready))
        ref = snap_holder_acquire(&srv->snaps, &gen);
    const char *phase = atomic_load(&srv->phase) == SERVER_DRAINING ? "draining" : "serving";
    if (ref)
        sd_notifyf(0, "%sSTATUS=%s snapshot %s (generation %llu)", state, phase,
                   elig_snap_meta(ref->snap)->id, (unsigned long long)gen);
    else
        sd_notifyf(0, "%sSTATUS=starting", state);
    snap_ref_release(ref);
}

/* A TCP socket bound to host:port; with `listen_too`, SO_REUSEPORT and
 * listening. Returns the fd or -1 (logged). */
static int tcp_socket(const char *host, int port, bool listen_too) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        log_error("cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (listen_too && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || (listen_too && listen(fd, 1024) != 0)) {
        log_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* 0 only if nobody listens on the Unix socket at path: connect() says
 * ECONNREFUSED (a file left by a dead process) or the file has just gone.
 * Else why it may be a live daemon's, not ours to remove: EADDRINUSE when
 * something accepts (or its backlog is full), or connect's errno (e.g. no
 * permission to connect). Non-blocking, so a live but stuck daemon cannot
 * hold up our start. */
static int unix_socket_probe(const struct sockaddr_un *sa) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno;
    int why = 0;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 || errno == EAGAIN)
        why = EADDRINUSE;
    else if (errno != ECONNREFUSED && errno != ENOENT)
        why = errno;
    close(fd);
    return why;
}

/* The Unix socket at path, with permissions `mode` whatever the umask. A
 * socket file left by a dead daemon is replaced; one that a live daemon
 * still answers on is not stolen (its own exit would then unlink ours);
 * anything else at the path is an error. */
static int unix_socket(const char *path, unsigned mode) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        log_error("unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("cannot listen on %s: exists and is not a socket", path);
            return -1;
        }
        int why = unix_socket_probe(&sa);
        if (why == EADDRINUSE) {
            log_error("cannot listen on %s: another process is listening on it", path);
            return -1;
        }
        if (why) {
            log_error("cannot listen on %s: a socket is there that may be in use (%s); remove it if it is "
                      "stale",
                      path, strerror(why));
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Bind with no permissions at all, then open up to `mode`: no moment in
     * which the umask's wider bits let a stranger connect. */
    mode_t old = umask(0777);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || chmod(path, mode) != 0 || listen(fd, 1024) != 0) {
        log_error("cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Every connection is a file descriptor. Before anything is opened, the
 * soft RLIMIT_NOFILE is raised to what --max-connections needs (up to the
 * hard limit); once the listeners, loops and snapshot are open, the
 * descriptors actually left decide the effective maximum (fit_connections),
 * so that a connection is refused by the count, cleanly and counted, never
 * by a failing accept(). */
#define FD_PER_THREAD 6 /* loop, wakeups, listeners: an estimate for the raise only */
#define FD_SPARE 8      /* a refused connection's moment, a reload's snapshot, the ready file */
static void raise_fd_limit(const server_config *cfg) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t need = (rlim_t)cfg->max_connections + 64 + (rlim_t)cfg->threads * FD_PER_THREAD + FD_SPARE;
    if (rl.rlim_cur >= need)
        return;
    struct rlimit nrl = {rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max, rl.rlim_max};
    setrlimit(RLIMIT_NOFILE, &nrl);
}

/* Descriptors open now, or -1 if that cannot be known. */
static long open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/* Lowers cfg->max_connections to the descriptors left under the soft
 * limit, and says so. 0, or -1 (logged) if none are left. */
static int fit_connections(server_config *cfg) {
    struct rlimit rl;
    long used = open_fds();
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || used < 0)
        return 0;
    long long left = (long long)rl.rlim_cur - used - FD_SPARE;
    if (left >= (long long)cfg->max_connections)
        return 0;
    if (left < 1) {
        log_error("open-file limit is %llu and %ld are open already: no room for connections (raise "
                  "ulimit -n, or fewer --threads)",
                  (unsigned long long)rl.rlim_cur, used);
        return -1;
    }
    log_warn("open-file limit is %llu: serving at most %lld connections instead of --max-connections %u",
             (unsigned long long)rl.rlim_cur, left, cfg->max_connections);
    cfg->max_connections = (uint32_t)left;
    return 0;
}

/* Written only once every worker listens, and renamed into place, so a
 * reader of the file never sees a partial port or a daemon not yet up. */
static int write_ready_file(const char *path, int port) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        log_error("cannot write ready file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void drain_all(server *srv);

/* The TLS certificate, key and CA, re-read; a failure keeps the old ones. */
static int reload_tls(server *srv) {
    char err[200] = "";
    int rc = tls_server_reload(srv->tls, err, sizeof err);
    if (rc == 0)
        log_info("reloaded the TLS certificate %s and key", srv->cfg.tls_cert);
    else
        log_error("TLS reload failed, keeping the previous certificate: %s", err);
    uv_mutex_lock(&srv->tls_err_mu);
    snprintf(srv->tls_reload_error, sizeof srv->tls_reload_error, "%s", err);
    uv_mutex_unlock(&srv->tls_err_mu);
    return rc;
}

int server_reload(server *srv, call_reload *out) { return server_reload_as(srv, NULL, out); }

int server_reload_as(server *srv, const session *who, call_reload *out) {
    uv_mutex_lock(&srv->reload_mu);
    /* The audit record's room first: no reload without its record. */
    if (audit_reload_begin(srv->audit) != 0) {
        log_error("reload refused: the audit trail cannot queue its record");
        if (out) {
            memset(out, 0, sizeof *out);
            out->rc = -EAGAIN;
            snprintf(out->error, sizeof out->error, "audit trail unavailable: the reload's record cannot be queued");
        }
        uv_mutex_unlock(&srv->reload_mu);
        return -EAGAIN;
    }
    notify(srv, "RELOADING=1\n");
    int rc = snap_holder_reload(&srv->snaps);
    int snap_rc = rc;
    if (rc == 0)
        atomic_store(&srv->loaded_at_ms, wall_ms());
    /* The auth file and TLS files reload whatever the snapshot did: each
     * keeps its old version on failure, and the first failure is returned. */
    if (srv->cfg.auth_file) {
        int arc = auth_holder_reload(&srv->auth);
        rc = rc ? rc : arc;
    }
    if (srv->tls) {
        int trc = reload_tls(srv);
        rc = rc ? rc : trc;
    }
    atomic_fetch_add(rc == 0 ? &srv->reloads_ok : &srv->reloads_failed, 1);
    /* Woken whatever happened: a good auth file is picked up even when the
     * snapshot's reload failed (worker_sync_snapshot sees no new one). */
    for (int i = 0; i < srv->nworkers; i++)
        worker_wake(&srv->workers[i]);
    call_reload r;
    memset(&r, 0, sizeof r);
    r.rc = rc;
    uint64_t gen;
    snap_ref *ref = snap_holder_acquire(&srv->snaps, &gen);
    const elig_meta *m = elig_snap_meta(ref->snap);
    snprintf(r.snapshot, sizeof r.snapshot, "%s", m->id);
    const char *sha = snapmeta_content_sha256(m);
    snprintf(r.content_sha256, sizeof r.content_sha256, "%s", sha ? sha : "");
    snap_ref_release(ref);
    if (snap_rc != 0)
        snap_holder_reload_error(&srv->snaps, r.error, sizeof r.error);
    else if (rc != 0)
        server_access_reload_error(srv, r.error, sizeof r.error);
    audit_reload_end(srv->audit, who, rc, r.snapshot, rc == 0 ? NULL : r.error);
    if (out)
        *out = r;
    notify(srv, "READY=1\n");
    uv_mutex_unlock(&srv->reload_mu);
    return rc;
}

void server_access_reload_error(server *srv, char *out, size_t n) {
    out[0] = '\0';
    if (srv->cfg.auth_file)
        auth_holder_reload_error(&srv->auth, out, n);
    if (srv->tls) {
        size_t k = strlen(out);
        uv_mutex_lock(&srv->tls_err_mu);
        if (srv->tls_reload_error[0] && k + 3 < n)
            snprintf(out + k, n - k, "%sTLS: %s", k ? "; " : "", srv->tls_reload_error);
        uv_mutex_unlock(&srv->tls_err_mu);
    }
}

int server_reload_request(server *srv, int worker_index, const session *s, uint32_t msgid) {
    reload_ticket *t = elig_calloc(1, sizeof *t);
    if (!t)
        return ELIG_ENOMEM;
    t->worker = worker_index;
    t->conn_id = s->conn_id;
    snprintf(t->peer, sizeof t->peer, "%s", s->peer);
    t->channel = s->channel;
    t->msgid = msgid;
    uv_mutex_lock(&srv->reload_q_mu);
    t->next = srv->reload_q;
    srv->reload_q = t;
    uv_mutex_unlock(&srv->reload_q_mu);
    uv_async_send(&srv->reload_async);
    return 0;
}

/* Main thread: the `reload` requests queued so far share one reload (each
 * was asked before it began, so each sees the file as it is now), then
 * each goes back to its worker with the result. */
static void on_reload_request(uv_async_t *a) {
    server *srv = a->data;
    uv_mutex_lock(&srv->reload_q_mu);
    reload_ticket *t = srv->reload_q;
    srv->reload_q = NULL;
    uv_mutex_unlock(&srv->reload_q_mu);
    if (!t)
        return;
    log_info("reload method: reloading the snapshot at %s", srv->cfg.snapshot_path);
    /* One reload for all of them; a record for each who asked. */
    call_reload r;
    session who = {.conn_id = t->conn_id, .channel = t->channel};
    snprintf(who.peer, sizeof who.peer, "%s", t->peer);
    if (server_reload_as(srv, &who, &r) != -EAGAIN)
        for (reload_ticket *o = t->next; o; o = o->next) {
            session also = {.conn_id = o->conn_id, .channel = o->channel};
            snprintf(also.peer, sizeof also.peer, "%s", o->peer);
            audit_reload_end(srv->audit, &also, r.rc, r.snapshot, r.rc == 0 ? NULL : r.error);
        }
    while (t) {
        reload_ticket *next = t->next;
        t->result = r;
        worker_reload_done(&srv->workers[t->worker], t);
        t = next;
    }
}

void server_stats(server *srv, stats_totals *out) {
    memset(out, 0, sizeof *out);
    if (atomic_load(&srv->phase) == SERVER_STARTING)
        return; /* the workers are being set up */
    for (int i = 0; i < srv->nworkers; i++)
        stats_accumulate(&srv->workers[i].st, out);
}

const char *server_health_name(server_health_state h) {
    switch (h) {
#define SERVER_X_(e, s)                                                        \
    case SERVER_HEALTH_##e:                                                    \
        return s;
        SERVER_HEALTH_MAP(SERVER_X_)
#undef SERVER_X_
    }
    return "?";
}

server_health_state server_health(server *srv, const stats_totals *t, char *why, size_t whylen) {
    char dummy[1];
    if (!why)
        why = dummy, whylen = sizeof dummy;
    why[0] = '\0';
    int phase = atomic_load(&srv->phase);
    if (phase == SERVER_DRAINING) {
        snprintf(why, whylen, "draining after SIGTERM or SIGINT: answering what was received, then exiting");
        return SERVER_HEALTH_DRAINING;
    }
    if (phase == SERVER_STARTING) {
        snprintf(why, whylen, "starting: opening the snapshot and the listeners");
        return SERVER_HEALTH_STARTING;
    }
    uint64_t gen = snap_holder_generation(&srv->snaps);
    if (t->read_errors && t->read_error_gen == gen) {
        snprintf(why, whylen,
                 "snapshot reads failed while answering (%llu since start, generation %llu): the snapshot "
                 "file may be damaged; reload a good one",
                 (unsigned long long)t->read_errors, (unsigned long long)gen);
        return SERVER_HEALTH_DEGRADED;
    }
    return SERVER_HEALTH_OK;
}

/* Removes the Unix socket file at exit, if it is still the one we bound
 * (a later daemon may have replaced it after we stopped answering). */
static void unlink_own_socket(const server *srv) {
    struct stat st;
    if (srv->cfg.unix_path && lstat(srv->cfg.unix_path, &st) == 0 && st.st_ino == srv->unix_ino &&
        st.st_dev == srv->unix_dev)
        unlink(srv->cfg.unix_path);
}

static void on_signal(uv_signal_t *h, int signum) {
    server *srv = h->data;
    if (signum == SIGHUP) {
        log_info("SIGHUP: reloading the snapshot at %s%s%s", srv->cfg.snapshot_path,
                 srv->cfg.auth_file ? ", the auth file" : "", srv->tls ? ", the TLS certificate" : "");
        server_reload(srv, NULL);
        return;
    }
    if (signum == SIGUSR1) {
        if (srv->audit) {
            log_info("SIGUSR1: starting a new audit segment");
            audit_rotate(srv->audit);
        }
        return;
    }
    if (srv->draining)
        return;
    log_info("%s: draining (at most %llu ms)", signum == SIGTERM ? "SIGTERM" : "SIGINT",
             (unsigned long long)srv->cfg.drain_timeout_ms);
    drain_all(srv);
}

static void on_drain_timeout(uv_timer_t *t) {
    server *srv = t->data;
    log_warn("drain timeout: closing the remaining connections");
    for (int i = 0; i < srv->nworkers; i++)
        worker_request_force(&srv->workers[i]);
}

static void drain_all(server *srv) {
    srv->draining = true;
    atomic_store(&srv->phase, SERVER_DRAINING);
    notify(srv, "STOPPING=1\n");
    for (int i = 0; i < srv->nworkers; i++)
        worker_request_drain(&srv->workers[i]);
    uv_timer_start(&srv->drain_timer, on_drain_timeout, srv->cfg.drain_timeout_ms, 0);
}

/* A worker's loop ended; when all have, let the main loop end too. */
static void on_worker_done(uv_async_t *a) {
    server *srv = a->data;
    /* uv_async coalesces sends: count the workers whose loops are over. */
    srv->workers_done = 0;
    for (int i = 0; i < srv->nworkers; i++)
        srv->workers_done += atomic_load(&srv->workers[i].done);
    if (srv->workers_done < srv->nworkers)
        return;
    uv_close((uv_handle_t *)&srv->sighup, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigusr1, NULL);
    uv_close((uv_handle_t *)&srv->drain_timer, NULL);
    uv_close((uv_handle_t *)&srv->worker_done, NULL);
    uv_close((uv_handle_t *)&srv->reload_async, NULL);
}

static int main_loop_init(server *srv) {
    uv_loop_init(&srv->loop);
    uv_signal_init(&srv->loop, &srv->sighup);
    uv_signal_init(&srv->loop, &srv->sigterm);
    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sigusr1);
    srv->sighup.data = srv->sigterm.data = srv->sigint.data = srv->sigusr1.data = srv;
    uv_signal_start(&srv->sighup, on_signal, SIGHUP);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sigusr1, on_signal, SIGUSR1); /* audit: a new segment */
    uv_timer_init(&srv->loop, &srv->drain_timer);
    srv->drain_timer.data = srv;
    uv_async_init(&srv->loop, &srv->worker_done, on_worker_done);
    srv->worker_done.data = srv;
    uv_async_init(&srv->loop, &srv->reload_async, on_reload_request);
    srv->reload_async.data = srv;
    return 0;
}

/* Opens the sockets and sets up every worker. 0 or -1 (logged). */
static int start_workers(server *srv, int *port) {
    const server_config *cfg = &srv->cfg;
    int unix_fd = -1;
    if (cfg->unix_path) {
        struct stat st;
        if ((unix_fd = unix_socket(cfg->unix_path, cfg->unix_mode)) < 0)
            return -1;
        if (lstat(cfg->unix_path, &st) == 0)
            srv->unix_ino = st.st_ino, srv->unix_dev = st.st_dev;
    }
    *port = cfg->listen_port;
    if (cfg->listen_host && *port != 0) {
        /* SO_REUSEPORT would let a second eligd silently share a port in
         * use; a plain bind first makes "address in use" an error again.
         * Bind only: a probe that listened would queue early clients and
         * reset them when it closes. */
        int probe = tcp_socket(cfg->listen_host, *port, false);
        if (probe < 0)
            return -1;
        close(probe);
    }
    srv->tls_port = cfg->tls_listen.port;
    if (cfg->tls_listen.host && srv->tls_port != 0) {
        int probe = tcp_socket(cfg->tls_listen.host, srv->tls_port, false);
        if (probe < 0)
            return -1;
        close(probe);
    }
    for (int i = 0; i < srv->nworkers; i++) {
        int tcp_fd = -1, tls_fd = -1;
        if (cfg->listen_host) {
            if ((tcp_fd = tcp_socket(cfg->listen_host, *port, true)) < 0)
                return -1;
            *port = bound_port(tcp_fd); /* port 0: the others join the one chosen */
        }
        if (cfg->tls_listen.host) {
            if ((tls_fd = tcp_socket(cfg->tls_listen.host, srv->tls_port, true)) < 0)
                return -1;
            srv->tls_port = bound_port(tls_fd);
        }
        int ufd = unix_fd >= 0 ? dup(unix_fd) : -1;
        int rc = worker_init(&srv->workers[i], srv, i, tcp_fd, ufd, tls_fd);
        if (rc != 0) {
            log_error("cannot start worker %d: %s", i, elig_strerror(rc));
            return -1;
        }
    }
    if (unix_fd >= 0)
        close(unix_fd);
    if (fit_connections(&srv->cfg) != 0) /* every descriptor of our own is open now */
        return -1;
    for (int i = 0; i < srv->nworkers; i++)
        if (worker_start(&srv->workers[i]) != 0) {
            log_error("cannot start worker thread %d", i);
            return -1;
        }
    return 0;
}

static void log_start(const server *srv, int port) {
    const elig_meta *m = elig_snap_meta(srv->snaps.cur->snap);
    char tcp[300] = "", unx[300] = "", tls[300] = "", mode[400];
    if (srv->cfg.listen_host)
        snprintf(tcp, sizeof tcp, " tcp %s:%d", srv->cfg.listen_host, port);
    if (srv->cfg.unix_path)
        snprintf(unx, sizeof unx, " unix %s", srv->cfg.unix_path);
    if (srv->tls)
        snprintf(tls, sizeof tls, " tls %s:%d%s", srv->cfg.tls_listen.host, srv->tls_port,
                 srv->cfg.tls_ca ? " (client certificates required)" : "");
    if (srv->cfg.auth_file)
        snprintf(mode, sizeof mode, "access: channels from %s (%zu)%s", srv->cfg.auth_file, srv->auth.cur->n,
                 srv->cfg.unix_auth ? ", the Unix socket too" : "");
    else if (srv->cfg.insecure_open)
        snprintf(mode, sizeof mode, "access: OPEN to anyone who reaches it (--insecure-open, no --auth-file)");
    else
        snprintf(mode, sizeof mode, "access: protected mode (no --auth-file: loopback and Unix socket only)");
    log_info("eligd %s ready: snapshot %s (%llu households, %llu members, %llu enrollments),%s%s%s, "
             "%d threads; %s",
             ELIGD_VERSION, m->id, (unsigned long long)m->households, (unsigned long long)m->members,
             (unsigned long long)m->enrollments, tcp, tls, unx, srv->nworkers, mode);
}

/* The auth file and the TLS context, before any socket. 0 or 1 (logged). */
static int open_access(server *srv) {
    char err[300];
    const server_config *cfg = &srv->cfg;
    if (cfg->auth_file && auth_holder_init(&srv->auth, cfg->auth_file, err, sizeof err) != 0) {
        log_error("cannot load the auth file: %s", err);
        return 1;
    }
    if (cfg->tls_listen.host && tls_server_new(cfg->tls_cert, cfg->tls_key, cfg->tls_ca, &srv->tls, err, sizeof err) != 0) {
        log_error("cannot set up TLS: %s", err);
        return 1;
    }
    return 0;
}

int server_check_config(const server_config *cfg) {
    char err[256];
    elig_snap *snap;
    if (elig_snap_open(cfg->snapshot_path, &snap, err, sizeof err) != 0) {
        log_error("cannot open snapshot: %s", err);
        return 1;
    }
    char id[ELIG_WIRE_SNAPSHOT_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", elig_snap_meta(snap)->id);
    static server srv; /* what open_access needs of one */
    srv.cfg = *cfg;
    if (open_access(&srv) != 0) {
        elig_snap_close(snap);
        return 1;
    }
    if (cfg->auth_file)
        auth_holder_destroy(&srv.auth);
    tls_server_free(srv.tls);
    elig_snap_close(snap);
    if (cfg->audit_dir) {
        /* Missing is fine (eligd creates it); anything else must be a
         * directory eligd can write in. */
        struct stat st;
        const char *why = NULL;
        if (stat(cfg->audit_dir, &st) != 0)
            why = errno == ENOENT ? NULL : strerror(errno);
        else if (!S_ISDIR(st.st_mode))
            why = "not a directory";
        else if (access(cfg->audit_dir, W_OK | X_OK) != 0)
            why = strerror(errno);
        if (why) {
            log_error("--audit-dir %s: %s", cfg->audit_dir, why);
            return 1;
        }
        if (cfg->audit_buffer < audit_min_buffer(cfg->max_batch)) {
            log_error("--audit-buffer %zu is too small to hold a batch of --max-batch %u records: at least %zu",
                      cfg->audit_buffer, cfg->max_batch, audit_min_buffer(cfg->max_batch));
            return 1;
        }
    }
    log_info("configuration ok: snapshot %s%s%s", id, cfg->audit_dir ? ", audit trail in " : "",
             cfg->audit_dir ? cfg->audit_dir : "");
    return 0;
}

/* A test hook: ELIGD_TEST_START_DELAY_MS holds the start (after the
 * metrics listener is up, before the snapshot is opened) so that a test
 * can see the `starting` health that a slow --warm start shows. */
static void test_start_delay(void) {
    const char *v = getenv("ELIGD_TEST_START_DELAY_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms > 0 && ms <= 60000) {
        log_warn("ELIGD_TEST_START_DELAY_MS: holding the start for %ld ms", ms);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Workers share no cache line with each other (stats.h): aligned. */
static worker *alloc_workers(int n) {
    size_t size = ((size_t)n * sizeof(worker) + 63) / 64 * 64;
    worker *w = aligned_alloc(64, size);
    if (w)
        memset(w, 0, size);
    return w;
}

int server_run(const server_config *cfg) {
    static server srv; /* one per process; static so signal handlers can reach it */
    memset(&srv, 0, sizeof srv);
    srv.cfg = *cfg;
    raise_fd_limit(&srv.cfg);
    uv_mutex_init(&srv.reload_mu);
    uv_mutex_init(&srv.tls_err_mu);
    uv_mutex_init(&srv.reload_q_mu);
    srv.start_ms = server_now_ms();
    atomic_init(&srv.connections, 0);
    atomic_init(&srv.buffer_bytes, 0);
    atomic_init(&srv.next_conn_id, 1);
    atomic_init(&srv.phase, SERVER_STARTING);
    atomic_init(&srv.snaps_ready, false);
    atomic_init(&srv.reloads_ok, 0);
    atomic_init(&srv.reloads_failed, 0);
    atomic_init(&srv.loaded_at_ms, wall_ms());
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an error code, not a death */

    /* Metrics first: /health says `starting` while the snapshot opens. */
    if (cfg->metrics_host && metrics_start(&srv, &srv.metrics) != 0)
        return 1;
    test_start_delay();
    char err[256];
    snap_open_opts so = {.warm = cfg->warm, .verify = cfg->verify, .copy = cfg->snapshot_copy};
    if (snap_holder_init(&srv.snaps, cfg->snapshot_path, &so, err, sizeof err) != 0) {
        log_error("cannot open snapshot: %s", err);
        metrics_stop(srv.metrics);
        return 1;
    }
    atomic_store(&srv.loaded_at_ms, wall_ms());
    atomic_store(&srv.snaps_ready, true);
    if (open_access(&srv) != 0)
        return 1;
    srv.nworkers = cfg->threads;
    if (cfg->audit_dir) {
        audit_config ac = {
            .dir = cfg->audit_dir,
            .full = (audit_full_mode)cfg->audit_full,
            .sync_ms = cfg->audit_sync_ms,
            .segment_mb = cfg->audit_segment_mb,
            .buffer = cfg->audit_buffer,
            .compress = cfg->audit_compress == 0,
            .workers = srv.nworkers,
            .max_batch = cfg->max_batch,
        };
        if (audit_open(&ac, &srv.audit) != 0)
            return 1; /* logged */
    }
    srv.workers = alloc_workers(srv.nworkers);
    main_loop_init(&srv);
    int port;
    if (!srv.workers || start_workers(&srv, &port) != 0) {
        metrics_stop(srv.metrics);
        return 1; /* exiting: the OS reclaims threads and sockets */
    }
    atomic_store(&srv.phase, SERVER_SERVING);
    log_start(&srv, port);
    notify(&srv, "READY=1\n");
    if (cfg->ready_file && write_ready_file(cfg->ready_file, port) != 0) {
        drain_all(&srv);
    }

    uv_run(&srv.loop, UV_RUN_DEFAULT);

    metrics_stop(srv.metrics); /* it reads the workers and the snapshot */
    srv.metrics = NULL;
    for (reload_ticket *t = srv.reload_q, *next; t; t = next) {
        next = t->next;
        elig_free(t);
    }
    for (int i = 0; i < srv.nworkers; i++) {
        uv_thread_join(&srv.workers[i].thread);
        worker_destroy(&srv.workers[i]);
    }
    free(srv.workers);
    /* Every worker has ended: no record can come any more. Write them all. */
    audit_close(srv.audit, srv.cfg.drain_timeout_ms);
    uv_loop_close(&srv.loop);
    snap_holder_destroy(&srv.snaps);
    if (cfg->auth_file)
        auth_holder_destroy(&srv.auth);
    tls_server_free(srv.tls);
    unlink_own_socket(&srv);
    log_info("drained, exiting");
    return 0;
}
