/* journal.c — see journal.h. */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "auditfmt.h"
#include "elig.h"
#include "log.h"

#define NAME_MAX_ 64      /* channel names (AUDIT_CHANNEL_MAX) and terminal ids (ELIG_WIRE_TERMINAL_MAX) */
#define MARKS_LINE_MAX 200

typedef struct {
    bool used;
    uint8_t channel_len, terminal_len;
    char channel[NAME_MAX_], terminal[NAME_MAX_];
    uint64_t accepted, durable;
    int ring;          /* of the pending uploads, when npend > 0 */
    uint8_t npend;
    uint64_t pend_pos[JOURNAL_PENDING_MAX], pend_seq[JOURNAL_PENDING_MAX];
} mark;

struct journal {
    uv_mutex_t mu;
    mark *v;           /* open addressing, linear probing; cap a power of two */
    size_t cap, n;
    /* The last marks file saved (writer thread only): a segment close
     * whose marks are the same saves again only every
     * JOURNAL_RESAVE_SEGMENTS segments (each save is three syncs). */
    bool saved;
    uint64_t saved_through, saved_sum;
};

/* ---- the table --------------------------------------------------------- */

static uint64_t hash(const char *c, size_t cn, const char *t, size_t tn) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < cn; i++)
        h = (h ^ (uint8_t)c[i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* no channel/terminal split is ambiguous */
    for (size_t i = 0; i < tn; i++)
        h = (h ^ (uint8_t)t[i]) * 1099511628211ull;
    return h;
}

static mark *slot(mark *v, size_t cap, const char *c, size_t cn, const char *t, size_t tn) {
    size_t i = (size_t)hash(c, cn, t, tn) & (cap - 1);
    while (v[i].used && !(v[i].channel_len == cn && v[i].terminal_len == tn && memcmp(v[i].channel, c, cn) == 0 &&
                          memcmp(v[i].terminal, t, tn) == 0))
        i = (i + 1) & (cap - 1);
    return &v[i];
}

static int grow(journal *j) {
    size_t cap = j->cap ? j->cap * 2 : 64;
    mark *v = elig_calloc(cap, sizeof *v);
    if (!v)
        return ELIG_ENOMEM;
    for (size_t i = 0; i < j->cap; i++)
        if (j->v[i].used)
            *slot(v, cap, j->v[i].channel, j->v[i].channel_len, j->v[i].terminal, j->v[i].terminal_len) = j->v[i];
    elig_free(j->v);
    j->v = v;
    j->cap = cap;
    return 0;
}

/* The entry of (c, t), made if missing; NULL when the table is full or
 * memory ran out. */
static mark *find_or_add(journal *j, const char *c, size_t cn, const char *t, size_t tn) {
    if (cn == 0 || cn > NAME_MAX_ || tn == 0 || tn > NAME_MAX_)
        return NULL;
    if (j->cap) {
        mark *m = slot(j->v, j->cap, c, cn, t, tn);
        if (m->used)
            return m;
    }
    if (j->n >= JOURNAL_TERMINALS_MAX || ((j->n + 1) * 10 > j->cap * 7 && grow(j) != 0))
        return NULL;
    mark *m = slot(j->v, j->cap, c, cn, t, tn);
    m->used = true;
    m->channel_len = (uint8_t)cn;
    m->terminal_len = (uint8_t)tn;
    memcpy(m->channel, c, cn);
    memcpy(m->terminal, t, tn);
    j->n++;
    return m;
}

/* Moves m's durable mark over its pending uploads that durable() covers:
 * they are in ring order, so the covered ones are a prefix. */
static void promote(mark *m, journal_durable_fn durable, void *ud) {
    if (!m->npend)
        return;
    uint64_t upto = durable(ud, m->ring);
    uint8_t k = 0;
    while (k < m->npend && m->pend_pos[k] <= upto) {
        if (m->pend_seq[k] > m->durable)
            m->durable = m->pend_seq[k];
        k++;
    }
    if (k) {
        memmove(m->pend_pos, m->pend_pos + k, (m->npend - k) * sizeof m->pend_pos[0]);
        memmove(m->pend_seq, m->pend_seq + k, (m->npend - k) * sizeof m->pend_seq[0]);
        m->npend -= k;
    }
}

/* Raises (c, t)'s marks to seq: a record found in the trail. */
static void saw(journal *j, const char *c, size_t cn, const char *t, size_t tn, uint64_t seq) {
    mark *m = find_or_add(j, c, cn, t, tn);
    if (m && seq > m->durable)
        m->durable = m->accepted = seq;
}

/* ---- detail strings ---------------------------------------------------- */

size_t journal_detail(char *out, size_t cap, const char *terminal, size_t terminal_len, uint64_t seq) {
    int n = snprintf(out, cap, "terminal=%.*s seq=%llu", (int)terminal_len, terminal, (unsigned long long)seq);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

bool journal_detail_parse(const char *d, size_t n, const char **terminal, size_t *terminal_len, uint64_t *seq) {
    if (n < 9 || memcmp(d, "terminal=", 9) != 0)
        return false;
    const char *t = d + 9, *end = d + n, *sp = memchr(t, ' ', (size_t)(end - t));
    if (!sp || sp == t || end - sp < 6 || memcmp(sp, " seq=", 5) != 0)
        return false;
    uint64_t v = 0;
    for (const char *p = sp + 5; p < end; p++) {
        if (*p < '0' || *p > '9' || v > UINT64_MAX / 10 - 1)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *terminal = t;
    *terminal_len = (size_t)(sp - t);
    *seq = v;
    return v > 0;
}

/* ---- start-up ---------------------------------------------------------- */

/* Reads .journal-marks into j; returns the segment it runs through, or 0
 * if there is none (or it is damaged: then every segment is scanned). */
static uint64_t read_marks(journal *j, const char *dir, int dirfd) {
    int fd = openat(dirfd, JOURNAL_MARKS_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            log_warn("audit: %s/%s: %s; scanning every segment for offline records", dir, JOURNAL_MARKS_NAME,
                     strerror(errno));
        return 0;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return 0;
    }
    char line[MARKS_LINE_MAX];
    unsigned long long through = 0;
    unsigned lineno = 2;
    bool ok = fgets(line, sizeof line, f) && strcmp(line, "eligd-journal-marks 1\n") == 0 &&
              fgets(line, sizeof line, f) && sscanf(line, "through %llu", &through) == 1 && through > 0;
    while (ok && fgets(line, sizeof line, f)) {
        char ch[NAME_MAX_ + 1], term[NAME_MAX_ + 1];
        unsigned long long seq;
        char tail;
        lineno++;
        if (sscanf(line, "%64s %64s %llu%c", ch, term, &seq, &tail) != 4 || tail != '\n') {
            ok = false;
            break;
        }
        saw(j, ch, strlen(ch), term, strlen(term), seq);
    }
    fclose(f);
    if (!ok) {
        log_warn("audit: %s/%s is damaged near line %u; scanning every segment for offline records", dir,
                 JOURNAL_MARKS_NAME, lineno);
        for (size_t i = 0; i < j->cap; i++)
            memset(&j->v[i], 0, sizeof j->v[i]);
        j->n = 0;
        return 0;
    }
    return through;
}

static int by_seq(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The offline records of one segment into j. Damage ends the walk there
 * (an unclosed segment's cut tail, typically): what was read counts. */
static void scan_segment(journal *j, const char *path, uint64_t *records) {
    audit_seg s;
    audit_block b;
    const uint8_t *raw;
    int rc = audit_seg_open(&s, path);
    while (rc == 0 && (rc = audit_seg_next(&s, &b)) == 1 && (rc = audit_seg_payload(&s, &b, &raw, false)) == 0) {
        audit_rec prev, r;
        size_t off = 0;
        for (uint32_t i = 0; i < b.count; i++) {
            long n = audit_rec_decode(raw + off, b.raw_len - off, i ? &prev : NULL, &r);
            if (n < 0)
                break;
            off += (size_t)n;
            prev = r;
            const char *t;
            size_t tn;
            uint64_t seq;
            if (r.method == AUDIT_METHOD_OFFLINE_CHECK && journal_detail_parse(r.detail, r.detail_len, &t, &tn, &seq)) {
                saw(j, r.channel, r.channel_len, t, tn, seq);
                (*records)++;
            }
        }
    }
    if (rc < 0 && !s.cut)
        log_warn("audit: reading %s for offline records: %s", path, s.err);
    audit_seg_close(&s);
}

int journal_open(const char *dir, int dirfd, journal **out) {
    *out = NULL;
    journal *j = elig_calloc(1, sizeof *j);
    if (!j)
        return ELIG_ENOMEM;
    uv_mutex_init(&j->mu);
    uint64_t through = read_marks(j, dir, dirfd);
    /* A dup shares the directory's offset with dirfd (and with whoever
     * walked it before: recover() did): start from the top. */
    DIR *d = fdopendir(dup(dirfd));
    if (d)
        rewinddir(d);
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        uint64_t s = audit_seg_name_seq(e->d_name);
        if (s <= through)
            continue;
        if (n == cap) {
            uint64_t *g = elig_realloc(seqs, (cap = cap ? cap * 2 : 16) * sizeof *g);
            if (!g)
                break;
            seqs = g;
        }
        seqs[n++] = s;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(seqs, n, sizeof *seqs, by_seq); /* (never qsort NULL, even of nothing: UBSan) */
    uint64_t records = 0;
    for (size_t i = 0; i < n; i++) {
        /* The name holds its creation time, which this walk does not know:
         * find the file by its sequence number. */
        char path[4096] = "";
        DIR *d2 = fdopendir(dup(dirfd));
        if (d2)
            rewinddir(d2);
        while (d2 && (e = readdir(d2)))
            if (audit_seg_name_seq(e->d_name) == seqs[i])
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (d2)
            closedir(d2);
        if (path[0])
            scan_segment(j, path, &records);
    }
    elig_free(seqs);
    if (n)
        log_info("audit: offline records: %llu found in %zu segment%s after %s (%zu terminals known)",
                 (unsigned long long)records, n, n == 1 ? "" : "s",
                 through ? "the marks file's" : "none (no marks file)", j->n);
    *out = j;
    return 0;
}

void journal_close(journal *j) {
    if (!j)
        return;
    uv_mutex_destroy(&j->mu);
    elig_free(j->v);
    elig_free(j);
}

/* ---- uploads ----------------------------------------------------------- */

int journal_begin(journal *j, const char *channel, size_t channel_len, const char *terminal, size_t terminal_len,
                  int ring, journal_durable_fn durable, void *ud, journal_claim *cl, const char **why) {
    uv_mutex_lock(&j->mu);
    mark *m = find_or_add(j, channel, channel_len, terminal, terminal_len);
    if (!m) {
        uv_mutex_unlock(&j->mu);
        *why = "the server keeps marks for too many terminals";
        return -1;
    }
    promote(m, durable, ud);
    if (m->npend && (m->ring != ring || m->npend == JOURNAL_PENDING_MAX)) {
        uv_mutex_unlock(&j->mu);
        *why = "an earlier upload of this terminal is still being written; retry";
        return -1;
    }
    cl->mark = m;
    cl->accepted = m->accepted;
    return 0;
}

void journal_end(journal *j, journal_claim *cl, bool queued, int ring, uint64_t pos, uint64_t last,
                 uint64_t *durable) {
    mark *m = cl->mark;
    if (queued && last > m->accepted) {
        m->accepted = last;
        m->ring = ring;
        m->pend_pos[m->npend] = pos;
        m->pend_seq[m->npend] = last;
        m->npend++;
    }
    *durable = m->durable;
    uv_mutex_unlock(&j->mu);
}

/* ---- the marks file ---------------------------------------------------- */

int journal_checkpoint(journal *j, int dirfd, uint64_t through, journal_durable_fn durable, void *ud) {
    if (!j)
        return 0;
    uv_mutex_lock(&j->mu);
    size_t cap = 64 + j->n * (2 * NAME_MAX_ + 24), len = 0;
    char *text = elig_malloc(cap);
    if (text) {
        len += (size_t)snprintf(text, cap, "eligd-journal-marks 1\nthrough %llu\n", (unsigned long long)through);
        for (size_t i = 0; i < j->cap; i++) {
            mark *m = &j->v[i];
            if (!m->used)
                continue;
            promote(m, durable, ud);
            if (m->durable)
                len += (size_t)snprintf(text + len, cap - len, "%.*s %.*s %llu\n", m->channel_len, m->channel,
                                        m->terminal_len, m->terminal, (unsigned long long)m->durable);
        }
    }
    uv_mutex_unlock(&j->mu);
    if (!text) {
        log_error("audit: out of memory saving %s", JOURNAL_MARKS_NAME);
        return -1;
    }
    /* The marks (every line after "through"), as a sum. */
    const char *marks = strchr(strchr(text, '\n') + 1, '\n') + 1;
    uint64_t sum = 1469598103934665603ull;
    for (const char *p = marks; p < text + len; p++)
        sum = (sum ^ (uint8_t)*p) * 1099511628211ull;
    if (j->saved && sum == j->saved_sum && through < j->saved_through + JOURNAL_RESAVE_SEGMENTS) {
        elig_free(text); /* start-up reads a few more segments, finding the same */
        return 0;
    }
    static const char tmp[] = JOURNAL_MARKS_NAME ".tmp";
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t off = 0;
    while (fd >= 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int e = errno;
    bool ok = fd >= 0 && off == len && fdatasync(fd) == 0;
    if (!ok)
        e = errno ? errno : e;
    if (fd >= 0)
        close(fd);
    elig_free(text);
    if (!ok || renameat(dirfd, tmp, dirfd, JOURNAL_MARKS_NAME) != 0) {
        log_error("audit: cannot save %s: %s (start-up will read more segments)", JOURNAL_MARKS_NAME,
                  strerror(ok ? errno : e));
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    fsync(dirfd);
    j->saved = true;
    j->saved_through = through;
    j->saved_sum = sum;
    return 0;
}

