/* journal.c — see journal.h. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct jrn {
    int fd;
    char *path;
    char terminal[JRN_TERMINAL_LEN + 1];
    uint64_t end;      /* the file's length as we last knew it, all whole records */
    jrn_scan_result s; /* totals of the file up to end */
};

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- bytes ------------------------------------------------------------- */

uint32_t jrn_crc32c(uint32_t crc, const void *p, size_t n) {
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Head (length, CRC) in front of a body of n bytes at out + JRN_REC_HEAD. */
static size_t seal(uint8_t *out, size_t n) {
    put32(out, (uint32_t)n);
    put32(out + 4, jrn_crc32c(0, out + JRN_REC_HEAD, n));
    return JRN_REC_HEAD + n;
}

size_t jrn_encode_answer(const jrn_answer *a, uint8_t *out) {
    uint8_t *p = out + JRN_REC_HEAD;
    size_t pl = strnlen(a->program, ELIG_WIRE_PROGRAM_MAX), xl = strnlen(a->extract, ELIG_WIRE_SNAPSHOT_ID_MAX);
    *p++ = JRN_ANSWER;
    put64(p, a->seq), p += 8;
    put64(p, a->time_us), p += 8;
    *p++ = (uint8_t)a->kind;
    put64(p, a->id), p += 8;
    put32(p, a->period), p += 4;
    *p++ = (uint8_t)a->reason;
    *p++ = a->found ? 1 : 0;
    put64(p, a->kk), p += 8;
    put64(p, a->region), p += 8;
    put32(p, a->amount), p += 4;
    *p++ = (uint8_t)pl;
    memcpy(p, a->program, pl), p += pl;
    *p++ = (uint8_t)xl;
    memcpy(p, a->extract, xl), p += xl;
    return seal(out, (size_t)(p - (out + JRN_REC_HEAD)));
}

size_t jrn_encode_ack(uint64_t seq, uint64_t time_us, uint8_t *out) {
    uint8_t *p = out + JRN_REC_HEAD;
    p[0] = JRN_ACK;
    put64(p + 1, seq);
    put64(p + 9, time_us);
    return seal(out, 17);
}

/* Decodes an answer body; false if it is not a well-formed one. */
static bool decode_answer(const uint8_t *b, size_t n, jrn_answer *a) {
    if (n < 54)
        return false;
    const uint8_t *p = b + 1, *end = b + n;
    memset(a, 0, sizeof *a);
    a->seq = get64(p), p += 8;
    a->time_us = get64(p), p += 8;
    uint8_t kind = *p++;
    a->id = get64(p), p += 8;
    a->period = get32(p), p += 4;
    uint8_t reason = *p++, found = *p++;
    a->kk = get64(p), p += 8;
    a->region = get64(p), p += 8;
    a->amount = get32(p), p += 4;
    size_t pl = *p++;
    if (kind >= ELIG_KIND_COUNT || reason >= ELIG_REASON_COUNT || found > 1 || a->seq == 0 || pl == 0 ||
        pl > ELIG_WIRE_PROGRAM_MAX || (size_t)(end - p) < pl + 1)
        return false;
    memcpy(a->program, p, pl), p += pl;
    size_t xl = *p++;
    if (xl == 0 || xl > ELIG_WIRE_SNAPSHOT_ID_MAX || (size_t)(end - p) != xl)
        return false;
    memcpy(a->extract, p, xl);
    a->kind = (elig_kind)kind;
    a->reason = (elig_reason)reason;
    a->found = found;
    return elig_valid_program(a->program, pl) && elig_valid_snapshot_id(a->extract, xl);
}

int jrn_scan(const uint8_t *data, size_t len, size_t from, jrn_scan_result *r,
             void (*fn)(void *ud, const jrn_answer *a), void *ud, char *why, size_t whylen) {
    size_t off = from;
    while (off < len) {
        size_t left = len - off;
        uint32_t n = left >= JRN_REC_HEAD ? get32(data + off) : 0;
        bool whole = left >= JRN_REC_HEAD && n >= 1 && n <= JRN_BODY_MAX && n <= left - JRN_REC_HEAD &&
                     get32(data + off + 4) == jrn_crc32c(0, data + off + JRN_REC_HEAD, n);
        if (!whole) {
            /* A torn write leaves at most one record's bytes. */
            if (left > JRN_REC_HEAD + JRN_BODY_MAX)
                return fail(why, whylen, "damaged record at offset %zu (%zu bytes follow it): not a torn last write",
                            off, left);
            r->torn = left;
            r->end = off;
            return 0;
        }
        const uint8_t *b = data + off + JRN_REC_HEAD;
        if (b[0] == JRN_ANSWER) {
            jrn_answer a;
            if (!decode_answer(b, n, &a))
                return fail(why, whylen, "malformed answer record at offset %zu", off);
            if (a.seq <= r->last_seq)
                return fail(why, whylen, "answer record at offset %zu: sequence %llu after %llu", off,
                            (unsigned long long)a.seq, (unsigned long long)r->last_seq);
            r->records++;
            r->last_seq = a.seq;
            if (fn)
                fn(ud, &a);
        } else if (b[0] == JRN_ACK && n == 17) {
            uint64_t seq = get64(b + 1);
            if (seq > r->acked)
                r->acked = seq;
        } else {
            return fail(why, whylen, "record of unknown type %u at offset %zu", b[0], off);
        }
        off += JRN_REC_HEAD + n;
    }
    r->torn = 0;
    r->end = off;
    return 0;
}

int jrn_header_check(const uint8_t *p, size_t len, char terminal[JRN_TERMINAL_LEN + 1], char *why, size_t whylen) {
    if (len < JRN_HEADER_LEN || memcmp(p, JRN_MAGIC, 8) != 0)
        return fail(why, whylen, "not a journal (no ELIGJNL1 header)");
    if (get32(p + 60) != jrn_crc32c(0, p, 60))
        return fail(why, whylen, "the journal header is damaged");
    if (get32(p + 8) != JRN_VERSION || get32(p + 12) != JRN_HEADER_LEN)
        return fail(why, whylen, "journal version %u is not one this library reads (%d)", get32(p + 8), JRN_VERSION);
    for (int i = 0; i < JRN_TERMINAL_LEN; i++)
        if (!((p[24 + i] >= '0' && p[24 + i] <= '9') || (p[24 + i] >= 'a' && p[24 + i] <= 'f')))
            return fail(why, whylen, "the journal header's terminal id is malformed");
    memcpy(terminal, p + 24, JRN_TERMINAL_LEN);
    terminal[JRN_TERMINAL_LEN] = '\0';
    return 0;
}

/* ---- files ------------------------------------------------------------- */

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The bytes of fd from off to its end (st_size), into a fresh buffer. */
static uint8_t *read_from(int fd, uint64_t off, uint64_t size, char *why, size_t whylen, const char *path) {
    size_t n = (size_t)(size - off);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fail(why, whylen, "%s: out of memory reading the journal", path);
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fail(why, whylen, "%s: cannot read: %s", path, r < 0 ? strerror(errno) : "file shrank");
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

/* A new file's header, with a fresh terminal id. */
static int write_header(int fd, const char *path, char *why, size_t whylen) {
    uint8_t h[JRN_HEADER_LEN] = {0}, rnd[16];
    static const char hex[] = "0123456789abcdef";
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return fail(why, whylen, "%s: no random bytes for the terminal id: %s", path, strerror(errno));
    memcpy(h, JRN_MAGIC, 8);
    put32(h + 8, JRN_VERSION);
    put32(h + 12, JRN_HEADER_LEN);
    put64(h + 16, now_us());
    for (int i = 0; i < 16; i++) {
        h[24 + 2 * i] = (uint8_t)hex[rnd[i] >> 4];
        h[25 + 2 * i] = (uint8_t)hex[rnd[i] & 15];
    }
    put32(h + 60, jrn_crc32c(0, h, 60));
    if (ftruncate(fd, 0) != 0 || write_all(fd, h, sizeof h) != 0 || fsync(fd) != 0)
        return fail(why, whylen, "%s: cannot write the journal header: %s", path, strerror(errno));
    /* The new name must survive a crash too. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Brings j up to date with the file (lock held): reads what was appended
 * since j->end (all of it when the file is new to j), and cuts a torn last
 * record so the next append lands on a record boundary. */
static int catch_up(jrn *j, char *why, size_t whylen) {
    struct stat st;
    if (fstat(j->fd, &st) != 0)
        return fail(why, whylen, "%s: %s", j->path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (size < JRN_HEADER_LEN) { /* new, or a header cut short by a crash: nothing was recorded yet */
        if (write_header(j->fd, j->path, why, whylen) != 0)
            return -1;
        size = JRN_HEADER_LEN;
        j->end = 0;
    }
    if (j->end == 0 || size < j->end) { /* first look, or not the file we knew: read it all */
        uint8_t h[JRN_HEADER_LEN];
        if (pread(j->fd, h, sizeof h, 0) != (ssize_t)sizeof h)
            return fail(why, whylen, "%s: cannot read the header: %s", j->path, strerror(errno));
        char w[200];
        if (jrn_header_check(h, sizeof h, j->terminal, w, sizeof w) != 0)
            return fail(why, whylen, "%s: %s", j->path, w);
        memset(&j->s, 0, sizeof j->s);
        j->end = JRN_HEADER_LEN;
    }
    if (size == j->end)
        return 0;
    uint8_t *buf = read_from(j->fd, j->end, size, why, whylen, j->path);
    if (!buf)
        return -1;
    jrn_scan_result s = j->s;
    char w[200];
    int rc = jrn_scan(buf, (size_t)(size - j->end), 0, &s, NULL, NULL, w, sizeof w);
    free(buf);
    if (rc != 0)
        return fail(why, whylen, "%s: %s", j->path, w);
    uint64_t end = j->end + s.end;
    if (s.torn && (ftruncate(j->fd, (off_t)end) != 0 || fsync(j->fd) != 0))
        return fail(why, whylen, "%s: cannot cut its torn last record: %s", j->path, strerror(errno));
    s.end = end;
    s.torn = 0;
    j->s = s;
    j->end = end;
    return 0;
}

static int lock(jrn *j, int how, char *why, size_t whylen) {
    while (flock(j->fd, how) != 0)
        if (errno != EINTR)
            return fail(why, whylen, "%s: cannot lock: %s", j->path, strerror(errno));
    return 0;
}

int jrn_open(const char *path, jrn **out, char *why, size_t whylen) {
    *out = NULL;
    jrn *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return fail(why, whylen, "%s: out of memory", path);
    }
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        fail(why, whylen, "%s: cannot open the journal: %s", path, strerror(errno));
        jrn_close(j);
        return -1;
    }
    int rc = lock(j, LOCK_EX, why, whylen);
    if (rc == 0) {
        rc = catch_up(j, why, whylen);
        flock(j->fd, LOCK_UN);
    }
    if (rc != 0) {
        jrn_close(j);
        return -1;
    }
    *out = j;
    return 0;
}

void jrn_close(jrn *j) {
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

const char *jrn_terminal(const jrn *j) { return j->terminal; }

/* Appends the record made by enc once the journal is caught up: rec[0..n)
 * must be encoded after catch_up (an answer's seq depends on it), so the
 * caller passes an encoder. */
static int append(jrn *j, size_t (*enc)(jrn *j, void *arg, uint8_t *out), void *arg, char *why, size_t whylen) {
    if (lock(j, LOCK_EX, why, whylen) != 0)
        return -1;
    int rc = catch_up(j, why, whylen);
    if (rc == 0) {
        uint8_t rec[JRN_REC_HEAD + JRN_BODY_MAX];
        size_t n = enc(j, arg, rec);
        if (write_all(j->fd, rec, n) != 0 || fdatasync(j->fd) != 0) {
            rc = fail(why, whylen, "%s: cannot append: %s", j->path, strerror(errno));
            /* Whatever reached the file is a torn record: the next append
             * (or reader) drops it. */
            j->end = 0;
        } else {
            j->end += n;
            j->s.end = j->end;
        }
    }
    flock(j->fd, LOCK_UN);
    return rc;
}

static size_t enc_answer(jrn *j, void *arg, uint8_t *out) {
    jrn_answer *a = arg;
    a->seq = j->s.last_seq + 1;
    j->s.last_seq = a->seq;
    j->s.records++;
    return jrn_encode_answer(a, out);
}

int jrn_append_answer(jrn *j, jrn_answer *a, char *why, size_t whylen) {
    return append(j, enc_answer, a, why, whylen);
}

static size_t enc_ack(jrn *j, void *arg, uint8_t *out) {
    uint64_t seq = *(const uint64_t *)arg;
    if (seq > j->s.acked)
        j->s.acked = seq;
    return jrn_encode_ack(seq, now_us(), out);
}

int jrn_append_ack(jrn *j, uint64_t seq, char *why, size_t whylen) { return append(j, enc_ack, &seq, why, whylen); }

/* jrn_read's filter: only the answers past `after` reach the caller. */
typedef struct {
    uint64_t after;
    void (*fn)(void *ud, const jrn_answer *a);
    void *ud;
} past;

static void past_fn(void *ud, const jrn_answer *a) {
    past *p = ud;
    if (a->seq > p->after)
        p->fn(p->ud, a);
}

int jrn_read(const char *path, uint64_t after, void (*fn)(void *ud, const jrn_answer *a), void *ud,
             jrn_scan_result *r, char terminal[JRN_TERMINAL_LEN + 1], char *why, size_t whylen) {
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail(why, whylen, "%s: cannot open the journal: %s", path, strerror(errno));
    int rc = -1;
    uint8_t *buf = NULL;
    struct stat st;
    char w[200];
    past p = {after, fn, ud};
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
        ;
    if (fstat(fd, &st) != 0)
        fail(why, whylen, "%s: %s", path, strerror(errno));
    else if (!(buf = read_from(fd, 0, (uint64_t)st.st_size, why, whylen, path)))
        ;
    else if (jrn_header_check(buf, (size_t)st.st_size, terminal, w, sizeof w) != 0)
        fail(why, whylen, "%s: %s", path, w);
    else if (jrn_scan(buf, (size_t)st.st_size, JRN_HEADER_LEN, r, fn ? past_fn : NULL, &p, w, sizeof w) != 0)
        fail(why, whylen, "%s: %s", path, w);
    else
        rc = 0;
    flock(fd, LOCK_UN);
    close(fd);
    free(buf);
    return rc;
}
