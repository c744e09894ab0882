/* audit.h — the audit trail (SPEC 7): one record per answered `check`
 * (each `check_batch` item), `household`, `auth` and `reload`, written to
 * chained segment files under --audit-dir. The bytes are lib/auditfmt.h's;
 * docs/AUDIT.md says what is recorded and what is guaranteed.
 *
 * Who owns what:
 *   audit       the server's: server_run opens it before the workers start
 *               and closes it after every worker has ended. It owns one
 *               writer thread, the rings, the current segment file.
 *   audit_ring  one per worker, inside `audit`: a lock-free single-producer
 *               single-consumer byte ring of --audit-buffer bytes. Only
 *               that worker's thread writes records into it (audit_record);
 *               only the writer thread takes them out.
 *   control     one more ring, under a mutex, for records made off the
 *               workers (a reload by SIGHUP, or by any thread).
 *
 * No answer without a record: audit_record queues all of a call's records
 * at once, or none. When they do not fit, the call is answered with error
 * 5 `unavailable` and counted (`refused`), or with --audit-full drop it is
 * answered and its records counted as `lost`. A record is "recorded" once
 * queued: the writer writes it to the segment within a block interval and
 * fdatasyncs at most --audit-sync-ms later. While the disk is full or the
 * directory unwritable the writer keeps the records, retries once a second
 * and says why (audit_error, the log, rate-limited); the rings fill and the
 * rule above applies; it recovers by itself when writing works again.
 *
 * Hot path: audit_record allocates nothing and takes no lock; one
 * clock_gettime per call and a copy of each record into the ring. */
#ifndef ELIGD_AUDIT_H
#define ELIGD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "session.h"

/* --audit-full: what to do when records cannot be queued. */
typedef enum {
    AUDIT_FULL_CLOSED = 0, /* refuse the request: error 5 unavailable (default) */
    AUDIT_FULL_DROP = 1,   /* answer it and count the records lost */
} audit_full_mode;

typedef struct {
    const char *dir;       /* --audit-dir; created (0700) if missing */
    audit_full_mode full;  /* --audit-full */
    uint32_t sync_ms;      /* --audit-sync-ms: fdatasync at most this far apart */
    uint32_t segment_mb;   /* --audit-segment-mb: a new segment past this size */
    size_t buffer;         /* --audit-buffer: bytes of each worker's ring */
    bool compress;         /* --audit-compress zstd: zstd blocks (when smaller) */
    int workers;           /* rings to make, one per worker */
    uint32_t max_batch;    /* --max-batch: a ring must hold one whole batch */
} audit_config;

typedef struct audit audit;
typedef struct audit_ring audit_ring;

/* Counters, for `info` and the metrics. Each is a sum over the rings and
 * the writer, read without stopping anyone: the figures are each exact,
 * not a snapshot of one instant. */
typedef struct {
    uint64_t queued;          /* records queued since start */
    uint64_t written;         /* records written to segment files */
    uint64_t backlog;         /* queued, not yet written (queued - written) */
    uint64_t backlog_bytes;   /* bytes of the rings in use now */
    uint64_t lost;            /* --audit-full drop: answered without a record */
    uint64_t refused;         /* requests answered `unavailable` for want of room */
    uint64_t write_errors;    /* failed writes, opens and syncs of segment files */
    uint64_t segments;        /* segment files begun since start */
    uint64_t bytes;           /* bytes written to segment files since start */
    bool failing;             /* the writer cannot write now (audit_error says why) */
} audit_stats;

/* The smallest --audit-buffer that holds one batch of max_batch records
 * (whatever their strings). */
size_t audit_min_buffer(uint32_t max_batch);

/* Opens the trail: checks the directory, reads back the last segment there
 * to continue its chain, begins a new segment and starts the writer.
 * 0, or a negative code with the reason logged (the directory cannot be
 * made or written, the buffer is too small). A full disk is not an error
 * here: eligd starts and the writer retries, as it would later. */
int audit_open(const audit_config *cfg, audit **out);

/* Writes every queued record, closes the segment (its end block), syncs
 * and stops the writer. Call after every worker has ended. If the disk
 * stays unwritable, gives up after `patience_ms` and logs how many records
 * were lost. NULL is a no-op. */
void audit_close(audit *a, uint64_t patience_ms);

/* Worker i's ring (0 <= i < cfg.workers). NULL if a is NULL. */
audit_ring *audit_worker_ring(audit *a, int i);

/* The record step of the request path (query.c: between answer and encode).
 * Queues c's records (see docs/AUDIT.md for which calls make records) from
 * session s. When they cannot be queued: with --audit-full closed, sets
 * c's error to unavailable (overriding any other); with drop, counts them
 * lost. Worker thread of r only. r NULL (no --audit-dir): nothing. */
void audit_record(audit_ring *r, call *c, const session *s);

/* A reload is recorded around it (server_reload_as), from any thread:
 * begin reserves room before the reload is done; end writes the record
 * with its outcome. begin returns 0, or -EAGAIN when the record cannot be
 * queued and --audit-full is closed: then do not reload, answer
 * unavailable. With drop, or a NULL a, begin returns 0 (a lost record is
 * counted at end). Each successful begin must be followed by one end, and
 * reloads run one at a time (server.c's reload_mu). */
int audit_reload_begin(audit *a);
/* who: the session that asked (NULL: a signal). rc 0 or the negative code
 * of the failure; snapshot_id the snapshot serving after it; error the
 * reason of a failure (NULL on success). */
void audit_reload_end(audit *a, const session *who, int rc, const char *snapshot_id, const char *error);

/* Starts a new segment (SIGUSR1): the writer closes the current one once
 * what is queued before it is written. Any thread; NULL is a no-op. */
void audit_rotate(audit *a);

/* The counters above. a NULL: all zero. */
void audit_get_stats(audit *a, audit_stats *out);

/* Why the writer cannot write now, e.g. "cannot write
 * /var/lib/eligd/audit/audit-0000000004-...seg: No space left on device
 * (since 2026-12-01T10:15:00Z)", copied into buf[n]; NULL when all is
 * well (or a is NULL). Any thread. */
const char *audit_error(audit *a, char *buf, size_t n);

#endif
