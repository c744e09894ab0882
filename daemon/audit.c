/* audit.c — see audit.h; the bytes are lib/auditfmt.h's.
 *
 * Workers encode their records straight into their own ring (a power of
 * two of bytes; positions are byte counts that only grow, so head - tail is
 * what is in use and no slot is ever ambiguous). The writer thread takes
 * whole records out of every ring into a block, seals the block (zstd when
 * that makes it smaller, then the chain value), appends it to the segment
 * and fdatasyncs at most --audit-sync-ms apart. Everything the writer does
 * to a file is an append of bytes it computed beforehand, so a write that
 * fails half-way (a full disk) is simply resumed where it stopped. */
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zstd.h>

#include "alloc.h"
#include "auditfmt.h"
#include "journal.h"
#include "log.h"

#define BLOCK_TARGET (64 * 1024)          /* seal a block at this many raw bytes */
#define BLOCK_CAP (BLOCK_TARGET + 8 * AUDIT_REC_MAX)
#define BLOCK_AGE_MAX_MS 100              /* ... or when its first record is this old */
#define OUT_MAX (1u << 20)                /* sealed bytes waiting to be written (at most --audit-buffer) */
#define RETRY_MS 1000                     /* after a failed open or write */
#define IDLE_MS 5                         /* the writer's nap when nothing came */
#define ERROR_LOG_EVERY_MS 60000          /* a persisting failure is logged this often */
/* zstd level of the blocks (negative: the fast levels; 0 raw blocks, as
 * --audit-compress none). A build knob for measuring (docs/BENCHMARKS.md). */
#ifndef ELIG_AUDIT_ZSTD_LEVEL
#define ELIG_AUDIT_ZSTD_LEVEL 1
#endif
#define CONTROL_RING (64 * 1024)

struct audit_ring {
    /* Producer's line: the worker (or whoever holds control_mu). */
    alignas(64) atomic_uint_fast64_t head; /* bytes ever published */
    uint64_t tail_seen;                     /* the producer's last view of tail */
    atomic_uint_fast64_t queued, lost, refused;
    /* Consumer's line: the writer. */
    alignas(64) atomic_uint_fast64_t tail; /* bytes ever taken */
    atomic_uint_fast64_t taken;            /* records taken */
    uint64_t sealed;                       /* tail when the last block was sealed */
    /* Every record below this is written and synced (journal.h: an
     * upload's records are acknowledged once it passes them). */
    atomic_uint_fast64_t durable;
    /* Fixed after open. */
    alignas(64) uint8_t *data;
    uint64_t cap, mask;
    audit *a;
    int index;                             /* worker number; cfg.workers for control */
};

typedef struct {
    uint8_t *data;
    size_t len, cap, off; /* off: bytes of data already written */
    uint64_t records;     /* records whose last byte is in data */
    size_t raw;           /* their bytes uncompressed: what out_max bounds */
} outbuf;

struct audit {
    audit_config cfg;
    audit_ring *rings;
    audit_ring control;
    uv_mutex_t control_mu;
    bool reload_reserved; /* under control_mu: a reload's room is held */
    uv_thread_t thread;
    uv_mutex_t wake_mu;
    uv_cond_t wake;
    atomic_bool stop, rotate;
    uint64_t stop_deadline_ms;
    int dirfd;
    int lockfd;               /* AUDIT_LOCK_NAME, flock'ed for eligd's life */
    size_t out_max;           /* records (raw bytes) kept sealed while they cannot be written */

    /* The writer's own (its thread only, and audit_open before it starts). */
    int fd;                   /* the segment being written, -1 if none */
    char seg_name[AUDIT_SEG_NAME_MAX];
    uint64_t seq;             /* of the segment being (or next to be) written */
    uint64_t seg_bytes;       /* sealed into it so far */
    uint64_t seg_records;
    uint64_t seg_limit;
    bool closing;             /* its end block is sealed: close once written */
    bool dir_dirty;           /* a file was created: fsync the directory */
    uint8_t chain[AUDIT_HASH_LEN];
    audit_header next;        /* what the next segment's header says of this one */
    uint8_t *raw;             /* the block being filled */
    audit_strs prev;          /* its last record's strings, pointing into raw */
    size_t raw_len;
    uint32_t raw_count;
    uint64_t raw_min, raw_max, raw_since_ms;
    outbuf out;
    ZSTD_CCtx *zc;
    uint64_t retry_at_ms, last_sync_ms;
    bool dirty;
    uint64_t block_age_ms;

    journal *journal;         /* offline terminals' marks (journal.h) */

    /* Shared with `info` and the metrics. */
    uv_mutex_t err_mu;
    char err[320];            /* "" while all is well */
    uint64_t err_logged_ms;
    atomic_bool failing;
    atomic_uint_fast64_t written, write_errors, segments, bytes;
};

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t mono_ms(void) { return uv_hrtime() / 1000000; }

/* A counter written by one thread only: a relaxed load and store, no
 * locked instruction (as worker.h's close counters). */
static inline void bump(atomic_uint_fast64_t *n, uint64_t by) {
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + by, memory_order_relaxed);
}

/* ---- rings ------------------------------------------------------------- */

static int ring_init(audit_ring *r, audit *a, int index, size_t bytes) {
    uint64_t cap = 4096;
    while (cap < bytes)
        cap <<= 1;
    memset(r, 0, sizeof *r);
    r->index = index;
    if (!(r->data = elig_malloc(cap)))
        return ELIG_ENOMEM;
    r->cap = cap;
    r->mask = cap - 1;
    r->a = a;
    return 0;
}

static inline uint64_t ring_free(audit_ring *r, uint64_t head, uint64_t need) {
    uint64_t free_ = r->cap - (head - r->tail_seen);
    if (free_ < need) {
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        free_ = r->cap - (head - r->tail_seen);
    }
    return free_;
}

static void ring_put(audit_ring *r, uint64_t pos, const uint8_t *src, size_t n) {
    size_t at = (size_t)(pos & r->mask), first = r->cap - at < n ? (size_t)(r->cap - at) : n;
    memcpy(r->data + at, src, first);
    memcpy(r->data, src + first, n - first);
}

static void ring_get(const audit_ring *r, uint64_t pos, uint8_t *dst, size_t n) {
    size_t at = (size_t)(pos & r->mask), first = r->cap - at < n ? (size_t)(r->cap - at) : n;
    memcpy(dst, r->data + at, first);
    memcpy(dst + first, r->data, n - first);
}

/* Encodes rec at pos: in place when it does not wrap, else via a copy. */
static size_t ring_encode(audit_ring *r, uint64_t pos, const audit_rec *rec) {
    size_t at = (size_t)(pos & r->mask);
    if (r->cap - at >= AUDIT_REC_MAX)
        return audit_rec_encode(rec, r->data + at);
    uint8_t tmp[AUDIT_REC_MAX];
    size_t n = audit_rec_encode(rec, tmp);
    ring_put(r, pos, tmp, n);
    return n;
}

static inline void ring_publish(audit_ring *r, uint64_t head, uint64_t records) {
    atomic_store_explicit(&r->head, head, memory_order_release);
    bump(&r->queued, records);
}

/* Takes whole records from r into the writer's block while they fit,
 * leaving out the strings each repeats from the record before it in the
 * block (AUDIT_SAME). Returns the number taken. Writer thread only. */
static uint32_t ring_take(audit *a, audit_ring *r) {
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t n = 0;
    uint8_t tmp[AUDIT_REC_MAX];
    while (tail < head && BLOCK_CAP - a->raw_len >= AUDIT_REC_MAX) {
        uint8_t lenb[2];
        ring_get(r, tail, lenb, 2);
        size_t len = (size_t)lenb[0] | (size_t)lenb[1] << 8;
        ring_get(r, tail, tmp, len);
        bool first = a->raw_len == 0;
        size_t m = audit_rec_compact(tmp, len, first ? NULL : &a->prev, a->raw + a->raw_len, &a->prev);
        uint64_t t = 0;
        for (int i = 7; i >= 0; i--)
            t = t << 8 | tmp[8 + i];
        if (first) {
            a->raw_min = a->raw_max = t;
            a->raw_since_ms = mono_ms();
        }
        if (t < a->raw_min)
            a->raw_min = t;
        if (t > a->raw_max)
            a->raw_max = t;
        a->raw_len += m;
        tail += len;
        n++;
    }
    if (n) {
        a->raw_count += n;
        atomic_store_explicit(&r->tail, tail, memory_order_release);
        bump(&r->taken, n);
    }
    return n;
}

static void wake_writer(audit *a) {
    uv_mutex_lock(&a->wake_mu);
    uv_cond_signal(&a->wake);
    uv_mutex_unlock(&a->wake_mu);
}

/* ---- errors ------------------------------------------------------------ */

static void set_error(audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(audit *a, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    bump(&a->write_errors, 1);
    uint64_t now = mono_ms();
    uv_mutex_lock(&a->err_mu);
    bool fresh = !atomic_load(&a->failing);
    if (fresh) {
        char since[32];
        audit_format_time(now_us(), since);
        since[19] = 'Z', since[20] = '\0'; /* whole seconds */
        snprintf(a->err, sizeof a->err, "%s (since %s)", what, since);
        atomic_store(&a->failing, true);
    }
    bool log_it = fresh || now - a->err_logged_ms >= ERROR_LOG_EVERY_MS;
    if (log_it)
        a->err_logged_ms = now;
    uv_mutex_unlock(&a->err_mu);
    if (log_it)
        log_error("audit: %s; %s", what,
                  a->cfg.full == AUDIT_FULL_DROP ? "records are kept until the buffer is full, then answered "
                                                   "without a record (--audit-full drop)"
                                                 : "records are kept until the buffer is full, then requests "
                                                   "are refused (unavailable)");
}

static void clear_error(audit *a) {
    if (!atomic_load_explicit(&a->failing, memory_order_relaxed))
        return;
    uv_mutex_lock(&a->err_mu);
    log_info("audit: writing again (was: %s)", a->err);
    a->err[0] = '\0';
    atomic_store(&a->failing, false);
    uv_mutex_unlock(&a->err_mu);
}

/* ---- the segment ------------------------------------------------------- */

static int out_reserve(outbuf *o, size_t more) {
    if (o->cap - o->len >= more)
        return 0;
    size_t cap = o->cap ? o->cap : 65536;
    while (cap - o->len < more)
        cap *= 2;
    uint8_t *p = elig_realloc(o->data, cap);
    if (!p)
        return -1;
    o->data = p;
    o->cap = cap;
    return 0;
}

static int out_append(outbuf *o, const void *p, size_t n) {
    if (out_reserve(o, n) != 0)
        return -1;
    memcpy(o->data + o->len, p, n);
    o->len += n;
    return 0;
}

/* Creates the next segment file and seals its header. 0, or -errno. */
static int seg_begin(audit *a) {
    audit_header h = a->next;
    h.version = AUDIT_FORMAT_VERSION;
    h.seq = a->seq;
    h.created_us = now_us();
    audit_seg_name(h.seq, h.created_us, a->seg_name);
    /* 0600 whatever the umask (fchmod below), never through a symlink,
     * never over an existing file. */
    int fd = openat(a->dirfd, a->seg_name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlinkat(a->dirfd, a->seg_name, 0);
        }
        set_error(a, "cannot create %s/%s: %s", a->cfg.dir, a->seg_name, strerror(e));
        return -e;
    }
    uint8_t head[AUDIT_HEADER_LEN];
    audit_header_encode(&h, head);
    if (out_append(&a->out, head, sizeof head) != 0) {
        close(fd);
        return ELIG_ENOMEM;
    }
    audit_chain(NULL, head, sizeof head, NULL, 0, a->chain);
    a->fd = fd;
    a->seg_bytes = AUDIT_HEADER_LEN;
    a->seg_records = 0;
    a->closing = false;
    a->dir_dirty = true;
    bump(&a->segments, 1);
    log_info("audit: writing %s/%s", a->cfg.dir, a->seg_name);
    return 0;
}

/* Seals the block being filled into out: head, payload (zstd when smaller),
 * chain value. */
static void seal_block(audit *a) {
    audit_block b = {
        .raw_len = (uint32_t)a->raw_len,
        .count = a->raw_count,
        .first_record = a->seg_records,
        .min_time_us = a->raw_min,
        .max_time_us = a->raw_max,
        .codec = AUDIT_CODEC_RAW,
    };
    size_t bound = ZSTD_compressBound(a->raw_len);
    if (out_reserve(&a->out, AUDIT_BLOCK_HEAD_LEN + (bound > a->raw_len ? bound : a->raw_len) + AUDIT_HASH_LEN) != 0)
        return; /* out of memory: keep the block, try again later */
    uint8_t *head = a->out.data + a->out.len, *payload = head + AUDIT_BLOCK_HEAD_LEN;
    size_t z = a->zc ? ZSTD_compressCCtx(a->zc, payload, bound, a->raw, a->raw_len, ELIG_AUDIT_ZSTD_LEVEL) : 0;
    if (a->zc && !ZSTD_isError(z) && z < a->raw_len) {
        b.codec = AUDIT_CODEC_ZSTD;
        b.stored_len = (uint32_t)z;
    } else {
        memcpy(payload, a->raw, a->raw_len);
        b.stored_len = (uint32_t)a->raw_len;
    }
    audit_block_encode(&b, head);
    audit_chain(a->chain, head, AUDIT_BLOCK_HEAD_LEN, a->raw, a->raw_len, a->chain);
    memcpy(payload + b.stored_len, a->chain, AUDIT_HASH_LEN);
    size_t n = AUDIT_BLOCK_HEAD_LEN + b.stored_len + AUDIT_HASH_LEN;
    a->out.len += n;
    a->out.records += a->raw_count;
    a->out.raw += a->raw_len;
    a->seg_bytes += n;
    a->seg_records += a->raw_count;
    a->raw_len = 0;
    a->raw_count = 0;
    /* Everything taken so far is in `out` now. */
    for (int i = 0; i <= a->cfg.workers; i++) {
        audit_ring *r = i < a->cfg.workers ? &a->rings[i] : &a->control;
        r->sealed = atomic_load_explicit(&r->tail, memory_order_relaxed);
    }
}

/* Seals the end block; the next segment's header will name this one. */
static void seal_end(audit *a) {
    audit_block b = {.end = true, .records = a->seg_records, .bytes = a->seg_bytes, .closed_us = now_us()};
    uint8_t head[AUDIT_BLOCK_HEAD_LEN + AUDIT_HASH_LEN];
    audit_block_encode(&b, head);
    audit_chain(a->chain, head, AUDIT_BLOCK_HEAD_LEN, NULL, 0, a->chain);
    memcpy(head + AUDIT_BLOCK_HEAD_LEN, a->chain, AUDIT_HASH_LEN);
    if (out_append(&a->out, head, sizeof head) != 0)
        return;
    a->seg_bytes += sizeof head;
    a->closing = true;
    memset(&a->next, 0, sizeof a->next);
    a->next.prev_records = a->seg_records;
    a->next.prev_bytes = a->seg_bytes;
    memcpy(a->next.prev_chain, a->chain, AUDIT_HASH_LEN);
}

/* Writes what out holds. 0 when all is written, -1 (error set) if not. */
static int flush_out(audit *a) {
    outbuf *o = &a->out;
    while (o->off < o->len) {
        ssize_t n = write(a->fd, o->data + o->off, o->len - o->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_error(a, "cannot write %s/%s: %s", a->cfg.dir, a->seg_name, n < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        o->off += (size_t)n;
        bump(&a->bytes, (uint64_t)n);
        a->dirty = true;
    }
    bump(&a->written, o->records);
    o->len = o->off = 0;
    o->records = 0;
    o->raw = 0;
    clear_error(a);
    return 0;
}

static void sync_now(audit *a) {
    if (fdatasync(a->fd) != 0) {
        set_error(a, "cannot sync %s/%s: %s", a->cfg.dir, a->seg_name, strerror(errno));
    } else {
        if (a->dir_dirty && fsync(a->dirfd) == 0)
            a->dir_dirty = false;
        /* What was sealed and is all written is on disk now. */
        for (int i = 0; a->out.len == 0 && i <= a->cfg.workers; i++) {
            audit_ring *r = i < a->cfg.workers ? &a->rings[i] : &a->control;
            atomic_store_explicit(&r->durable, r->sealed, memory_order_release);
        }
    }
    a->dirty = false;
    a->last_sync_ms = mono_ms();
}

/* journal.h's view of a ring: the position its records are durable to. */
static uint64_t ring_durable(void *ud, int ring) {
    audit *a = ud;
    audit_ring *r = ring < a->cfg.workers ? &a->rings[ring] : &a->control;
    return atomic_load_explicit(&r->durable, memory_order_acquire);
}

static void seg_finish(audit *a) {
    sync_now(a);
    close(a->fd);
    a->fd = -1;
    a->closing = false;
    /* Every record taken is in this segment, synced: the offline marks
     * through it can be saved. */
    journal_checkpoint(a->journal, a->dirfd, a->seq, ring_durable, a);
    a->seq++;
}

/* ---- the writer thread ------------------------------------------------- */

static uint32_t take_all(audit *a) {
    uint32_t n = 0;
    for (int i = 0; i < a->cfg.workers; i++)
        n += ring_take(a, &a->rings[i]);
    return n + ring_take(a, &a->control);
}

static bool rings_empty(audit *a) {
    for (int i = 0; i < a->cfg.workers; i++)
        if (atomic_load(&a->rings[i].head) != atomic_load(&a->rings[i].tail))
            return false;
    return atomic_load(&a->control.head) == atomic_load(&a->control.tail);
}

static void nap(audit *a, uint64_t ms) {
    uv_mutex_lock(&a->wake_mu);
    if (!atomic_load(&a->stop) && !atomic_load(&a->rotate))
        uv_cond_timedwait(&a->wake, &a->wake_mu, ms * 1000000);
    uv_mutex_unlock(&a->wake_mu);
}

static uint64_t backlog_records(audit *a);

static void writer_main(void *arg) {
    audit *a = arg;
    pthread_setname_np(pthread_self(), "eligd-audit"); /* for top -H and the benchmark's CPU figure */
    for (;;) {
        uint64_t now = mono_ms();
        bool stopping = atomic_load(&a->stop), progress = false;
        if (stopping && now >= a->stop_deadline_ms) {
            uint64_t lost = backlog_records(a) + a->raw_count + a->out.records;
            if (lost)
                log_error("audit: stopping with %llu records not written: %s", (unsigned long long)lost, a->err);
            break;
        }
        bool idle = stopping && a->raw_count == 0 && a->out.len == 0 && !a->closing && rings_empty(a);
        if (idle && a->fd < 0)
            break; /* all written and closed */
        if (a->fd < 0 && now >= a->retry_at_ms) {
            if (seg_begin(a) != 0)
                a->retry_at_ms = now + RETRY_MS;
            else
                progress = true;
        }
        if (a->fd < 0 && atomic_load(&a->rotate))
            atomic_store(&a->rotate, false); /* a new segment is begun anyway */
        if (!a->closing && take_all(a))
            progress = true;
        bool rotate = atomic_load(&a->rotate) || (a->fd >= 0 && a->seg_bytes >= a->seg_limit) || idle;
        bool sync_due = a->dirty && now - a->last_sync_ms >= a->cfg.sync_ms;
        if (a->fd >= 0 && !a->closing && a->raw_count && a->out.raw < a->out_max &&
            (a->raw_len >= BLOCK_TARGET || now - a->raw_since_ms >= a->block_age_ms || rotate || sync_due ||
             stopping))
            seal_block(a);
        if (a->fd >= 0 && !a->closing && rotate && a->raw_count == 0 && a->out.raw < a->out_max) {
            seal_end(a);
            atomic_store(&a->rotate, false);
        }
        if (a->fd >= 0 && a->out.len && now >= a->retry_at_ms) {
            if (flush_out(a) == 0)
                progress = true;
            else
                a->retry_at_ms = now + RETRY_MS;
        }
        if (a->fd >= 0 && a->closing && a->out.len == 0) {
            seg_finish(a);
            progress = true;
            continue;
        }
        if (a->fd >= 0 && a->dirty && now - a->last_sync_ms >= a->cfg.sync_ms)
            sync_now(a);
        if (!progress)
            nap(a, IDLE_MS);
    }
    if (a->fd >= 0) { /* gave up: leave what was written, unclosed */
        sync_now(a);
        close(a->fd);
        a->fd = -1;
    }
}

/* ---- start-up: continue the chain of what is there --------------------- */

/* Reads the last segment in the directory, so the new one chains from it.
 * Sets a->seq and a->next. */
static void recover(audit *a) {
    DIR *d = fdopendir(dup(a->dirfd));
    uint64_t last = 0;
    char name[256] = "";
    struct dirent *e;
    while (d && (e = readdir(d))) {
        uint64_t s = audit_seg_name_seq(e->d_name);
        if (s > last) {
            last = s;
            snprintf(name, sizeof name, "%s", e->d_name);
        }
    }
    if (d)
        closedir(d);
    memset(&a->next, 0, sizeof a->next);
    a->seq = last + 1;
    if (!last)
        return; /* a new trail */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", a->cfg.dir, name);
    audit_seg s;
    audit_block b;
    const uint8_t *raw;
    int rc = audit_seg_open(&s, path);
    while (rc == 0 && (rc = audit_seg_next(&s, &b)) == 1)
        rc = audit_seg_payload(&s, &b, &raw, true);
    if (s.data && rc == 0 && s.ended) {
        a->next.prev_records = s.records;
        a->next.prev_bytes = s.len;
        memcpy(a->next.prev_chain, s.chain, AUDIT_HASH_LEN);
    } else if (s.data && s.hdr.seq) {
        /* Not closed: eligd stopped without closing it. Chain from its last
         * good block; say how it was found, so that verify can tell a later
         * truncation from this. */
        if (rc != 0 || !s.ended)
            log_warn("audit: %s was not closed (%s); continuing the chain after its record %llu",
                     path, rc != 0 ? s.err : "no end block", (unsigned long long)s.records);
        a->next.flags = AUDIT_FLAG_PREV_UNCLOSED;
        a->next.prev_records = s.chain_known ? s.records : 0;
        a->next.prev_bytes = s.len;
        if (s.chain_known)
            memcpy(a->next.prev_chain, s.chain, AUDIT_HASH_LEN);
        else
            a->next.flags |= AUDIT_FLAG_CHAIN_RESTART;
    } else {
        log_warn("audit: cannot read the last segment %s (%s): starting a new chain", path, s.err);
        a->next.flags = AUDIT_FLAG_CHAIN_RESTART;
    }
    audit_seg_close(&s);
}

/* ---- the public side --------------------------------------------------- */

size_t audit_min_buffer(uint32_t max_batch) { return (size_t)max_batch * AUDIT_REC_MAX + CONTROL_RING; }

int audit_open(const audit_config *cfg, audit **out) {
    *out = NULL;
    if (cfg->buffer < audit_min_buffer(cfg->max_batch)) {
        log_error("--audit-buffer %zu is too small to hold a batch of --max-batch %u records: at least %zu",
                  cfg->buffer, cfg->max_batch, audit_min_buffer(cfg->max_batch));
        return ELIG_ECONFIG;
    }
    if (mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create --audit-dir %s: %s", cfg->dir, strerror(errno));
        return -errno;
    }
    int dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        int e = errno;
        log_error("cannot open --audit-dir %s: %s", cfg->dir, strerror(e));
        return -e;
    }
    /* One writer per directory: two would interleave two chains. The lock
     * also tells elig-audit verify that the last segment is being written. */
    int lockfd = openat(dirfd, AUDIT_LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        log_error("--audit-dir %s: %s", cfg->dir,
                  e == EWOULDBLOCK ? "another eligd is writing its audit trail there" : strerror(e));
        if (lockfd >= 0)
            close(lockfd);
        close(dirfd);
        return e == EWOULDBLOCK ? ELIG_ECONFIG : -e;
    }
    audit *a = elig_calloc(1, sizeof *a);
    if (!a || !(a->rings = elig_calloc((size_t)cfg->workers, sizeof *a->rings)) ||
        !(a->raw = elig_malloc(BLOCK_CAP))) {
        close(lockfd);
        close(dirfd);
        if (a)
            elig_free(a->rings);
        elig_free(a);
        return ELIG_ENOMEM;
    }
    a->cfg = *cfg;
    a->dirfd = dirfd;
    a->lockfd = lockfd;
    a->out_max = cfg->buffer < OUT_MAX ? cfg->buffer : OUT_MAX;
    a->fd = -1;
    a->seg_limit = (uint64_t)cfg->segment_mb << 20;
    a->block_age_ms = cfg->sync_ms / 2 < BLOCK_AGE_MAX_MS ? cfg->sync_ms / 2 : BLOCK_AGE_MAX_MS;
    a->zc = cfg->compress && ELIG_AUDIT_ZSTD_LEVEL != 0 ? ZSTD_createCCtx() : NULL; /* negative: zstd's fast levels */
    int rc = ring_init(&a->control, a, cfg->workers, CONTROL_RING);
    for (int i = 0; rc == 0 && i < cfg->workers; i++)
        rc = ring_init(&a->rings[i], a, i, cfg->buffer);
    uv_mutex_init(&a->control_mu);
    uv_mutex_init(&a->wake_mu);
    uv_mutex_init(&a->err_mu);
    uv_cond_init(&a->wake);
    if (rc != 0) {
        log_error("cannot allocate the audit buffers (%d x %zu bytes)", cfg->workers, cfg->buffer);
        audit_close(a, 0);
        return rc;
    }
    recover(a);
    if ((rc = journal_open(cfg->dir, dirfd, &a->journal)) != 0) {
        audit_close(a, 0);
        return rc;
    }
    if (a->seq > 1) /* what start-up just read need not be read again */
        journal_checkpoint(a->journal, a->dirfd, a->seq - 1, ring_durable, a);
    /* The first segment now, so that a directory eligd cannot write stops
     * it here with a clear message; only a full disk is left to the writer
     * to retry. */
    rc = seg_begin(a);
    if (rc == 0 && flush_out(a) == 0)
        sync_now(a);
    else if (rc != 0 && rc != -ENOSPC && rc != -EDQUOT) {
        audit_close(a, 0);
        return rc;
    }
    if (uv_thread_create(&a->thread, writer_main, a) != 0) {
        log_error("cannot start the audit writer thread");
        a->thread = 0;
        audit_close(a, 0);
        return ELIG_ENOMEM;
    }
    *out = a;
    return 0;
}

void audit_close(audit *a, uint64_t patience_ms) {
    if (!a)
        return;
    if (a->thread) {
        a->stop_deadline_ms = mono_ms() + patience_ms;
        atomic_store(&a->stop, true);
        wake_writer(a);
        uv_thread_join(&a->thread);
    } else if (a->fd >= 0) {
        close(a->fd);
    }
    for (int i = 0; a->rings && i < a->cfg.workers; i++)
        elig_free(a->rings[i].data);
    elig_free(a->rings);
    elig_free(a->control.data);
    elig_free(a->raw);
    elig_free(a->out.data);
    ZSTD_freeCCtx(a->zc);
    journal_close(a->journal);
    close(a->lockfd); /* releases the flock */
    close(a->dirfd);
    uv_mutex_destroy(&a->control_mu);
    uv_mutex_destroy(&a->wake_mu);
    uv_mutex_destroy(&a->err_mu);
    uv_cond_destroy(&a->wake);
    elig_free(a);
}

audit_ring *audit_worker_ring(audit *a, int i) { return a ? &a->rings[i] : NULL; }

void audit_rotate(audit *a) {
    if (!a)
        return;
    atomic_store(&a->rotate, true);
    wake_writer(a);
}

/* ---- recording --------------------------------------------------------- */

/* Which calls make records, and whether an error answer does (docs/AUDIT.md):
 * answers always; refusals (unauthorized, rate_limited, unavailable) when
 * the session has a name to record; malformed requests never. */
static bool recorded(const call *c, int method, const session *s) {
    if (method == AUDIT_METHOD_NONE || method == AUDIT_METHOD_RELOAD || c->method == ELIG_METHOD_UNKNOWN)
        return false; /* reload is recorded around the reload itself */
    switch ((int)c->err) {
    case 0:
        return true;
    case ELIG_ERRCODE_UNAUTHORIZED:
    case ELIG_ERRCODE_RATE_LIMITED:
    case ELIG_ERRCODE_UNAVAILABLE:
        return method == AUDIT_METHOD_AUTH || (s->channel && strcmp(s->channel, "-") != 0);
    default:
        return false;
    }
}

static uint8_t slen(const char *s, size_t max) {
    size_t n = s ? strnlen(s, max) : 0;
    return (uint8_t)n;
}

/* auth's channel name (params[0]) as printable ASCII: what was claimed,
 * never the token (params[1], not read). */
static uint8_t auth_claim(const call *c, char *out) {
    mpr_cur cur = c->msg->params;
    const char *s;
    uint32_t n;
    if (c->msg->nparams < 1 || !mpr_str(&cur, &s, &n))
        return 0;
    if (n > AUDIT_CHANNEL_MAX)
        n = AUDIT_CHANNEL_MAX;
    for (uint32_t i = 0; i < n; i++)
        out[i] = s[i] >= 0x21 && s[i] < 0x7f ? s[i] : '?';
    return (uint8_t)n;
}

/* journal (SPEC 10): an offline terminal's answers, each one record of
 * method offline_check with the original time, the extract as snapshot
 * and "terminal=T seq=N" as detail, in the uploading session's name; only
 * those past what the trail holds of that terminal already (journal.h).
 * Never dropped: with no room the upload is refused (unavailable) whatever
 * --audit-full says, and the terminal sends it again later. */
static void record_journal(audit_ring *r, call *c, const session *s) {
    audit *a = r->a;
    const char *channel = s->channel ? s->channel : "-", *why;
    journal_claim cl;
    if (journal_begin(a->journal, channel, slen(channel, AUDIT_CHANNEL_MAX), c->terminal, c->terminal_len, r->index,
                      ring_durable, a, &cl, &why) != 0) {
        bump(&r->refused, 1);
        call_fail(c, ELIG_ERRCODE_UNAVAILABLE, "journal: %s", why);
        return;
    }
    uint32_t first = 0;
    while (first < c->n_offline && c->offline[first].seq <= cl.accepted)
        first++;
    uint32_t fresh = c->n_offline - first;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    bool queued = false;
    if (fresh && ring_free(r, head, (uint64_t)fresh * AUDIT_REC_MAX) < (uint64_t)fresh * AUDIT_REC_MAX) {
        bump(&r->refused, 1);
        call_fail(c, ELIG_ERRCODE_UNAVAILABLE, "audit trail unavailable: the upload's records cannot be queued now; "
                                               "retry");
    } else if (fresh) {
        char detail[AUDIT_DETAIL_MAX];
        audit_rec rec = {
            .conn_id = s->conn_id,
            .method = AUDIT_METHOD_OFFLINE_CHECK,
            .outcome = AUDIT_OUT_REASON,
            .channel = channel,
            .channel_len = slen(channel, AUDIT_CHANNEL_MAX),
            .peer = s->peer,
            .peer_len = slen(s->peer, AUDIT_PEER_MAX),
            .detail = detail,
        };
        for (uint32_t i = first; i < c->n_offline; i++) {
            const call_offline *o = &c->offline[i];
            rec.time_us = o->time_us;
            rec.kind = (uint8_t)(o->kind + 1);
            rec.id = o->id;
            rec.kk = o->kk;
            rec.period = o->period;
            rec.amount = o->amount;
            rec.code = (uint8_t)o->reason;
            rec.program = o->program;
            rec.program_len = o->program_len;
            rec.snapshot = o->extract;
            rec.snapshot_len = o->extract_len;
            rec.detail_len = (uint8_t)journal_detail(detail, sizeof detail, c->terminal, c->terminal_len, o->seq);
            head += ring_encode(r, head, &rec);
        }
        ring_publish(r, head, fresh);
        wake_writer(a);
        queued = true;
    }
    journal_end(a->journal, &cl, queued, r->index, head, c->n_offline ? c->offline[c->n_offline - 1].seq : 0,
                &c->j_durable);
    c->j_accepted = queued ? fresh : 0;
    c->j_duplicates = first;
}

void audit_record(audit_ring *r, call *c, const session *s) {
    if (c->method == ELIG_METHOD_JOURNAL && c->msg->type == ELIG_MSG_REQUEST && !c->err) {
        if (r)
            record_journal(r, c, s);
        else
            call_fail(c, ELIG_ERRCODE_UNAVAILABLE,
                      "journal: this server keeps no audit trail (--audit-dir), so offline answers cannot be "
                      "recorded here");
        return;
    }
    if (!r || c->msg->type != ELIG_MSG_REQUEST)
        return;
    int method = audit_method_lookup(c->msg->method, c->msg->method_len);
    if (!recorded(c, method, s) || (method == AUDIT_METHOD_CHECK_BATCH && !c->err && c->n == 0))
        return; /* an empty batch answers nothing about anyone */
    char claim[AUDIT_CHANNEL_MAX];
    const char *channel = s->channel ? s->channel : "-";
    audit_rec rec = {
        .time_us = now_us(),
        .conn_id = s->conn_id,
        .method = (uint8_t)method,
        .channel = channel,
        .channel_len = slen(channel, AUDIT_CHANNEL_MAX),
        .peer = s->peer,
        .peer_len = slen(s->peer, AUDIT_PEER_MAX),
        .snapshot = c->meta ? c->meta->id : NULL,
        .snapshot_len = c->meta ? slen(c->meta->id, AUDIT_SNAPSHOT_MAX) : 0,
    };
    if (method == AUDIT_METHOD_AUTH) {
        rec.detail = claim;
        rec.detail_len = auth_claim(c, claim);
    }
    bool items = (method == AUDIT_METHOD_CHECK || method == AUDIT_METHOD_CHECK_BATCH) && c->n > 0;
    uint32_t n = items ? c->n : 1;
    rec.program_len = AUDIT_PROGRAM_MAX; /* the bound: every item fits in it */
    uint64_t need = (uint64_t)n * audit_rec_size(&rec);
    rec.program_len = 0;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (ring_free(r, head, need) < need) {
        if (r->a->cfg.full == AUDIT_FULL_DROP) {
            bump(&r->lost, n);
            return;
        }
        bump(&r->refused, 1);
        c->err = ELIG_ERRCODE_UNAVAILABLE;
        snprintf(c->errmsg, sizeof c->errmsg, "audit trail unavailable: its records cannot be queued, so the "
                                              "request is not answered");
        return;
    }
    if (c->err) {
        rec.outcome = AUDIT_OUT_ERROR;
        rec.code = (uint8_t)c->err;
    } else if (method == AUDIT_METHOD_AUTH) {
        rec.outcome = AUDIT_OUT_OK;
    } else if (method == AUDIT_METHOD_HOUSEHOLD) {
        rec.outcome = c->hh_found ? AUDIT_OUT_FOUND : AUDIT_OUT_NIL;
        rec.kk = c->hh_found ? c->hh.kk : 0;
    }
    if (method == AUDIT_METHOD_HOUSEHOLD) {
        rec.kind = (uint8_t)(c->kind + 1);
        rec.id = c->id;
    }
    if (!items) {
        head += ring_encode(r, head, &rec);
        ring_publish(r, head, 1);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const elig_query *q = &c->queries[i];
        rec.item = i;
        rec.kind = (uint8_t)(q->kind + 1);
        rec.id = q->id;
        rec.program = q->program;
        rec.program_len = q->program_len;
        rec.period = q->period;
        if (!c->err) {
            const elig_answer *ans = &c->answers[i];
            rec.outcome = AUDIT_OUT_REASON;
            rec.code = (uint8_t)ans->reason;
            rec.kk = ans->found ? ans->kk : 0;
            rec.amount = ans->amount;
        }
        head += ring_encode(r, head, &rec);
    }
    ring_publish(r, head, n);
    if (head - r->tail_seen > r->cap / 2) {
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head - r->tail_seen > r->cap / 2)
            wake_writer(r->a); /* rare: the writer is behind */
    }
}

int audit_reload_begin(audit *a) {
    if (!a)
        return 0;
    uv_mutex_lock(&a->control_mu);
    audit_ring *r = &a->control;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    a->reload_reserved = ring_free(r, head, AUDIT_REC_MAX) >= AUDIT_REC_MAX;
    bool ok = a->reload_reserved || a->cfg.full == AUDIT_FULL_DROP;
    if (!ok)
        bump(&r->refused, 1);
    uv_mutex_unlock(&a->control_mu);
    return ok ? 0 : -EAGAIN;
}

void audit_reload_end(audit *a, const session *who, int rc, const char *snapshot_id, const char *error) {
    if (!a)
        return;
    const char *channel = who && who->channel ? who->channel : "-";
    const char *peer = who ? who->peer : "signal";
    audit_rec rec = {
        .time_us = now_us(),
        .conn_id = who ? who->conn_id : 0,
        .method = AUDIT_METHOD_RELOAD,
        .outcome = rc == 0 ? AUDIT_OUT_OK : AUDIT_OUT_ERROR,
        .code = rc == 0 ? 0 : ELIG_ERRCODE_UNAVAILABLE,
        .channel = channel,
        .channel_len = slen(channel, AUDIT_CHANNEL_MAX),
        .peer = peer,
        .peer_len = slen(peer, AUDIT_PEER_MAX),
        .snapshot = snapshot_id,
        .snapshot_len = slen(snapshot_id, AUDIT_SNAPSHOT_MAX),
        .detail = error,
        .detail_len = slen(error, AUDIT_DETAIL_MAX),
    };
    uv_mutex_lock(&a->control_mu);
    audit_ring *r = &a->control;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (a->reload_reserved || ring_free(r, head, AUDIT_REC_MAX) >= AUDIT_REC_MAX) {
        head += ring_encode(r, head, &rec);
        ring_publish(r, head, 1);
    } else {
        bump(&r->lost, 1);
    }
    a->reload_reserved = false;
    uv_mutex_unlock(&a->control_mu);
    wake_writer(a);
}

/* ---- figures ----------------------------------------------------------- */

static uint64_t backlog_records(audit *a) {
    uint64_t q = 0, t = 0;
    for (int i = 0; i <= a->cfg.workers; i++) {
        audit_ring *r = i < a->cfg.workers ? &a->rings[i] : &a->control;
        t += atomic_load_explicit(&r->taken, memory_order_relaxed);
        q += atomic_load_explicit(&r->queued, memory_order_relaxed);
    }
    return q > t ? q - t : 0;
}

void audit_get_stats(audit *a, audit_stats *out) {
    memset(out, 0, sizeof *out);
    if (!a)
        return;
    for (int i = 0; i <= a->cfg.workers; i++) {
        audit_ring *r = i < a->cfg.workers ? &a->rings[i] : &a->control;
        out->queued += atomic_load_explicit(&r->queued, memory_order_relaxed);
        out->lost += atomic_load_explicit(&r->lost, memory_order_relaxed);
        out->refused += atomic_load_explicit(&r->refused, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        out->backlog_bytes += h > t ? h - t : 0;
    }
    out->written = atomic_load_explicit(&a->written, memory_order_relaxed);
    out->backlog = out->queued > out->written ? out->queued - out->written : 0;
    out->write_errors = atomic_load_explicit(&a->write_errors, memory_order_relaxed);
    out->segments = atomic_load_explicit(&a->segments, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&a->bytes, memory_order_relaxed);
    out->failing = atomic_load(&a->failing);
}

const char *audit_error(audit *a, char *buf, size_t n) {
    if (!a || !atomic_load(&a->failing))
        return NULL;
    uv_mutex_lock(&a->err_mu);
    snprintf(buf, n, "%s", a->err);
    uv_mutex_unlock(&a->err_mu);
    return buf[0] ? buf : NULL;
}
