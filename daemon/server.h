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

#include "audit.h"
#include "session.h"
#include "snapshot.h"

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
    const char *ready_file;
    /* The audit trail (SPEC 7, audit.h); no trail when audit_dir is NULL. */
    const char *audit_dir;
    int audit_full;          /* audit_full_mode */
    uint32_t audit_sync_ms;
    uint32_t audit_segment_mb;
    size_t audit_buffer;     /* bytes of each worker's record ring */
    int audit_compress;      /* 0 zstd, 1 none */
} server_config;

typedef struct worker worker;

typedef struct server {
    server_config cfg;
    snap_holder snaps;
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
    bool draining;
} server;

/* Runs the daemon until it has drained. Returns the process exit status:
 * 0 after a drain, 1 when it could not start (logged). */
int server_run(const server_config *cfg);

/* Reloads what SIGHUP reloads (the snapshot at its path; a failure keeps
 * the old one serving, with the reason in `info`) and wakes the workers to
 * pick it up. Safe from any thread; reloads run one at a time. 0 or a
 * negative code; logs either way. */
int server_reload(server *srv);
/* The same, on behalf of `who` (the session of a `reload` request; NULL
 * for a signal), which the audit record names. The reload is recorded
 * (audit.h): when its record cannot be queued and --audit-full is closed,
 * nothing is reloaded and -EAGAIN is returned (answer `unavailable`). */
int server_reload_as(server *srv, const session *who);

/* --check-config: opens what the configuration names (the snapshot, and
 * every file a later option adds) without serving. 0 when all is well, 1
 * with a one-line reason logged. */
int server_check_config(const server_config *cfg);

/* Milliseconds on a monotonic clock. */
uint64_t server_now_ms(void);

#endif
