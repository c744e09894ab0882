/* server.h — the daemon as a whole: configuration, listening sockets, the
 * worker threads, signals (reload, drain) and the figures `info` reports.
 * main.c fills a server_config and calls server_run. */
#ifndef ELIGD_SERVER_H
#define ELIGD_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "audit.h"
#include "call.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"

/* HOST:PORT of a listener. */
typedef struct {
    const char *host; /* NULL: none */
    int port;
} server_addr;

typedef struct {
    const char *snapshot_path;
    const char *listen_host; /* NULL: no TCP listener */
    int listen_port;         /* 0: an ephemeral port */
    const char *unix_path;   /* NULL: no Unix socket */
    unsigned unix_mode;      /* its permission bits */
    int threads;
    uint32_t max_connections;
    uint32_t max_message;
    uint32_t max_batch;
    size_t max_output;       /* unsent bytes per connection before pausing it */
    size_t max_buffer_memory; /* all connections' buffers together */
    uint64_t request_timeout_ms; /* a request must arrive in full within this */
    uint64_t output_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t drain_timeout_ms;
    bool warm;
    bool verify;        /* --verify */
    bool snapshot_copy; /* --snapshot-load copy (the default) or map */
    const char *ready_file;
    /* Access control and TLS (SPEC 6; auth.h, tls.h). */
    const char *auth_file;   /* NULL: no channels, protected mode */
    bool unix_auth;          /* the Unix socket needs `auth` too */
    bool insecure_open;      /* no auth file, yet listen beyond loopback */
    server_addr tls_listen;
    const char *tls_cert, *tls_key, *tls_ca;
    /* The audit trail (SPEC 7, audit.h); no trail when audit_dir is NULL. */
    const char *audit_dir;
    int audit_full;          /* audit_full_mode */
    uint32_t audit_sync_ms;
    uint32_t audit_segment_mb;
    size_t audit_buffer;     /* bytes of each worker's record ring */
    int audit_compress;      /* 0 zstd, 1 none */
    const char *metrics_host; /* --metrics-listen; NULL: no metrics listener */
    int metrics_port;
} server_config;

/* The daemon's health as /metrics, /health and `info` report it, in the
 * order they take precedence. */
#define SERVER_HEALTH_MAP(X)                                                   \
    X(DRAINING, "draining") /* SIGTERM/SIGINT: finishing what was received */  \
    X(STARTING, "starting") /* not every worker listens yet */                 \
    X(DEGRADED, "degraded") /* snapshot reads failed since it was loaded */    \
    X(OK, "ok")

typedef enum {
#define SERVER_X_(e, s) SERVER_HEALTH_##e,
    SERVER_HEALTH_MAP(SERVER_X_)
#undef SERVER_X_
} server_health_state;

/* Where the server is in its life; health is derived from it. */
typedef enum { SERVER_STARTING, SERVER_SERVING, SERVER_DRAINING } server_phase;

/* One `reload` request on its way from a worker to the main thread and
 * back with its result (call_reload). */
typedef struct reload_ticket {
    struct reload_ticket *next;
    int worker;
    uint64_t conn_id;
    char peer[64];       /* who asked, for the audit record (session.peer) */
    const char *channel; /* session.channel: static or channel-table storage */
    uint32_t msgid;
    call_reload result;
} reload_ticket;

typedef struct metrics metrics;

typedef struct worker worker;
typedef struct tls_server tls_server;

typedef struct server {
    server_config cfg;
    snap_holder snaps;
    auth_holder auth;  /* valid when cfg.auth_file */
    tls_server *tls;   /* NULL without --tls-listen */
    int tls_port;      /* bound (for --tls-listen HOST:0) */
    worker *workers;
    int nworkers;
    atomic_uint connections; /* open now, all workers */
    atomic_size_t buffer_bytes; /* connection buffers held, all workers */
    atomic_uint_fast64_t next_conn_id;
    uint64_t start_ms;
    uv_loop_t loop; /* the main thread's: signals and shutdown only */
    uv_signal_t sighup, sigterm, sigint, sigusr1;
    audit *audit; /* NULL without --audit-dir */
    uv_async_t worker_done;
    uv_timer_t drain_timer;
    int workers_done;
    uv_mutex_t reload_mu; /* one reload at a time, whoever asks */
    uint64_t unix_ino, unix_dev; /* the socket file we bound, to unlink only ours */
    uv_mutex_t tls_err_mu;        /* guards tls_reload_error */
    char tls_reload_error[200];   /* "" unless the last TLS reload failed */
    bool draining;
    atomic_int phase;         /* server_phase */
    atomic_bool snaps_ready;  /* snaps may be read (set once it is open) */
    /* Reloads by result, and when the snapshot now serving was loaded
     * (ms since the epoch). Written under reload_mu. */
    atomic_uint_fast64_t reloads_ok, reloads_failed;
    atomic_uint_fast64_t loaded_at_ms;
    /* `reload` requests from the workers, for the main thread. */
    uv_mutex_t reload_q_mu;
    reload_ticket *reload_q;
    uv_async_t reload_async;
    metrics *metrics; /* NULL without --metrics-listen */
} server;

/* Runs the daemon until it has drained. Returns the process exit status:
 * 0 after a drain, 1 when it could not start (logged). */
int server_run(const server_config *cfg);

/* Reloads what SIGHUP reloads (the snapshot at its path, the auth file,
 * the TLS certificate and key; each keeps its old version on failure,
 * with the reason in `info`) and wakes the workers to pick it up. The one reload entry: SIGHUP and the `reload` method. Safe
 * from any thread; reloads run one at a time; tells systemd RELOADING=1
 * and READY=1 around it. Returns 0 or a negative code; if out is not NULL
 * it gets the snapshot serving afterwards and, on failure, the reason
 * (the snapshot's, else the auth file's or TLS's).
 * Logs either way and counts the result. */
int server_reload(server *srv, call_reload *out);
/* The same, on behalf of `who` (the session of a `reload` request; NULL
 * for a signal), whom its audit record names (audit.h). When that record
 * cannot be queued and --audit-full is closed, nothing is reloaded and
 * -EAGAIN is returned (out says why: answer `unavailable`). */
int server_reload_as(server *srv, const session *who, call_reload *out);

/* From worker number worker_index: the connection of session s asks, with
 * request msgid, for a reload. The main thread does it (recorded in the
 * audit trail in s's name) and hands the result back with
 * worker_reload_done. 0, or ELIG_ENOMEM (nothing queued). */
int server_reload_request(server *srv, int worker_index, const session *s, uint32_t msgid);

/* Adds up the workers' counters (zeros while starting). Any thread. */
void server_stats(server *srv, stats_totals *out);

/* The health now, given counters from server_stats; why (if not NULL)
 * gets a sentence saying why when it is not ok. Any thread. */
server_health_state server_health(server *srv, const stats_totals *t, char *why, size_t whylen);
const char *server_health_name(server_health_state h);


/* --check-config: opens what the configuration names (the snapshot, and
 * every file a later option adds) without serving. 0 when all is well, 1
 * with a one-line reason logged. */
int server_check_config(const server_config *cfg);

/* Copies why the last reload of the auth file or the TLS files failed
 * ("" if it did not) into out[n], for `info`'s reload_error. */
void server_access_reload_error(server *srv, char *out, size_t n);

/* Milliseconds on a monotonic clock. */
uint64_t server_now_ms(void);

#endif
