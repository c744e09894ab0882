/* verify.c — elig-audit verify DIR: the chain of every segment, and the
 * links between them (SPEC 7). What a pass proves is in docs/AUDIT.md.
 *
 * Each segment is checked on its own (in parallel): header, every block's
 * records and chain value, the end block. Then, in order, each segment's
 * header is held against the one before it: sequence number, chain value,
 * record count and length. */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "auditfmt.h"

typedef enum {
    SEG_CLOSED, /* ends with its end block, all checked */
    SEG_OPEN,   /* ends after a whole block, no end block (being written, or eligd died) */
    SEG_CUT,    /* ends inside a block */
    SEG_BROKEN, /* anything else that does not check out */
} seg_status;

typedef struct {
    seg_status status;
    char err[300];
    bool hdr_ok;
    audit_header hdr;
    uint64_t records;
    uint8_t chain[AUDIT_HASH_LEN];
    bool chain_known;
    uint64_t len;
    uint64_t min_time, max_time;
} segres;

typedef struct {
    const segfile *f;
    segres *res;
    int n;
    atomic_int next;
} job;

static void check_one(const segfile *f, segres *r) {
    audit_seg s;
    memset(r, 0, sizeof *r);
    r->min_time = UINT64_MAX;
    int rc = audit_seg_open(&s, f->path);
    r->len = s.len;
    if (rc == 0) {
        r->hdr_ok = true;
        r->hdr = s.hdr;
        audit_block b;
        const uint8_t *raw;
        while ((rc = audit_seg_next(&s, &b)) == 1) {
            if ((rc = audit_seg_payload(&s, &b, &raw, true)) != 0)
                break;
            if (b.min_time_us < r->min_time)
                r->min_time = b.min_time_us;
            if (b.max_time_us > r->max_time)
                r->max_time = b.max_time_us;
        }
    }
    r->records = s.records;
    r->chain_known = s.chain_known;
    memcpy(r->chain, s.chain, AUDIT_HASH_LEN);
    if (rc == 0)
        r->status = s.ended ? SEG_CLOSED : SEG_OPEN;
    else
        r->status = s.cut && r->hdr_ok ? SEG_CUT : SEG_BROKEN;
    if (rc != 0)
        snprintf(r->err, sizeof r->err, "%s", s.err);
    audit_seg_close(&s);
}

static void *verify_thread(void *p) {
    job *j = p;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
        check_one(&j->f[i], &j->res[i]);
    return NULL;
}

/* Breaks are collected, then printed under the segment they name, so that
 * a segment found broken by a later one's header is not also called ok. */
typedef struct {
    const char *name;
    char msg[480];
} vbreak;
static vbreak *brks;
static int nbrks, capbrks;

static int broken(const char *name, const char *fmt, const char *a, const char *b) {
    if (nbrks == capbrks) {
        int cap = capbrks ? capbrks * 2 : 16;
        vbreak *v = realloc(brks, (size_t)cap * sizeof *v);
        if (!v) { /* keep the verdict even without the words */
            printf("BROKEN %s\n", name);
            return 1;
        }
        brks = v;
        capbrks = cap;
    }
    brks[nbrks].name = name;
    snprintf(brks[nbrks].msg, sizeof brks[nbrks].msg, fmt, a, b);
    nbrks++;
    return 1;
}

static bool print_breaks(const char *name) {
    bool any = false;
    for (int i = 0; i < nbrks; i++)
        if (brks[i].name == name) {
            printf("BROKEN %s: %s\n", name, brks[i].msg);
            any = true;
        }
    return any;
}

/* Is segment r (after p) consistent with how p was left? Prints and
 * returns 1 if not. */
static int check_link(const segfile *pf, const segres *p, const segfile *f, const segres *r) {
    char buf[400], h1[65], h2[65];
    if (r->hdr.flags & AUDIT_FLAG_CHAIN_RESTART)
        return broken(f->name, "%s%s", "the chain restarts here: eligd could not read the segment before it", "");
    if (p->status == SEG_BROKEN || !p->chain_known) {
        snprintf(buf, sizeof buf, "cannot be linked to %s, which is broken", pf->name);
        return broken(f->name, "%s%s", buf, "");
    }
    bool unclosed = r->hdr.flags & AUDIT_FLAG_PREV_UNCLOSED;
    if (p->status == SEG_CLOSED && unclosed) {
        snprintf(buf, sizeof buf, "says %s was not closed, but it ends with an end block: altered", pf->name);
        return broken(f->name, "%s%s", buf, "");
    }
    if (p->status != SEG_CLOSED && !unclosed) {
        snprintf(buf, sizeof buf, "%s has no end block (%s), but this segment says it was closed: truncated",
                 pf->name, p->status == SEG_CUT ? p->err : "ends after a whole block");
        return broken(pf->name, "%s%s", buf, "");
    }
    if (r->hdr.prev_records != p->records) {
        snprintf(buf, sizeof buf, "holds %llu records; the next segment says it held %llu: records removed or added",
                 (unsigned long long)p->records, (unsigned long long)r->hdr.prev_records);
        return broken(pf->name, "%s%s", buf, "");
    }
    if (r->hdr.prev_bytes != p->len) {
        snprintf(buf, sizeof buf, "is %llu bytes; the next segment says eligd left it at %llu bytes: %s",
                 (unsigned long long)p->len, (unsigned long long)r->hdr.prev_bytes,
                 p->len < r->hdr.prev_bytes ? "truncated" : "bytes added");
        return broken(pf->name, "%s%s", buf, "");
    }
    if (memcmp(r->hdr.prev_chain, p->chain, AUDIT_HASH_LEN) != 0) {
        audit_hex(p->chain, h1);
        audit_hex(r->hdr.prev_chain, h2);
        snprintf(buf, sizeof buf, "does not chain from %s (its last chain value is %s, this header names %s): "
                 "altered or reordered", pf->name, h1, h2);
        return broken(f->name, "%s%s", buf, "");
    }
    return 0;
}

/* Is an eligd writing in dir now? It holds an exclusive flock on the lock
 * file for as long as it runs. */
static bool writer_live(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, AUDIT_LOCK_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool live = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return live;
}

int audit_verify(const char *dir, const segfile *f, int n, int threads, bool quiet) {
    if (n == 0) {
        printf("verify: no segment files (audit-*.seg) in %s\n", dir);
        return 0;
    }
    segres *res = calloc((size_t)n, sizeof *res);
    if (!res) {
        fprintf(stderr, "elig-audit: out of memory\n");
        return 1;
    }
    job j = {.f = f, .res = res, .n = n};
    atomic_init(&j.next, 0);
    int nt = segdir_threads(threads);
    pthread_t th[64];
    bool started[64] = {false};
    for (int t = 1; t < nt && t < n; t++)
        started[t] = pthread_create(&th[t], NULL, verify_thread, &j) == 0;
    verify_thread(&j);
    for (int t = 1; t < nt && t < n; t++)
        if (started[t])
            pthread_join(th[t], NULL);

    int breaks = 0;
    uint64_t records = 0, tmin = UINT64_MAX, tmax = 0;
    char hex[65], buf[400];
    /* What to say of each segment when nothing names it broken; a head note
     * (where the chain starts) is said either way. */
    char(*note)[480] = calloc((size_t)n, sizeof *note), (*head)[480] = calloc((size_t)n, sizeof *head);
    if (!note || !head) {
        fprintf(stderr, "elig-audit: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const segres *r = &res[i];
        records += r->records;
        if (r->records && r->min_time < tmin)
            tmin = r->min_time;
        if (r->records && r->max_time > tmax)
            tmax = r->max_time;
        bool last = i == n - 1;
        if (r->status == SEG_BROKEN) {
            breaks += broken(f[i].name, "%s%s", r->err, "");
            continue;
        }
        if (r->hdr.seq != f[i].seq) {
            snprintf(buf, sizeof buf, "the file name says segment %llu, its header says %llu: renamed or reordered",
                     (unsigned long long)f[i].seq, (unsigned long long)r->hdr.seq);
            breaks += broken(f[i].name, "%s%s", buf, "");
        }
        if (i == 0) {
            if (r->hdr.seq == 1 && r->hdr.flags == 0) {
                if (!quiet)
                    snprintf(head[i], sizeof head[i], "%s: the start of the trail", f[i].name);
            } else if (!(r->hdr.flags & AUDIT_FLAG_CHAIN_RESTART)) {
                audit_hex(r->hdr.prev_chain, hex);
                snprintf(head[i], sizeof head[i],
                         "%s: chains from %s (segments before %llu are not in %s; compare with the value kept "
                         "when they were archived)",
                         f[i].name, hex, (unsigned long long)r->hdr.seq, dir);
            } else {
                breaks += broken(f[i].name, "%s%s", "the chain restarts here: eligd could not read the segment "
                                                    "before it", "");
            }
        } else if (res[i - 1].status != SEG_BROKEN) {
            if (r->hdr.seq != res[i - 1].hdr.seq + 1) {
                if (r->hdr.seq > res[i - 1].hdr.seq + 1)
                    snprintf(buf, sizeof buf, "segments %llu-%llu are missing (between %s and this one): removed",
                             (unsigned long long)res[i - 1].hdr.seq + 1, (unsigned long long)r->hdr.seq - 1,
                             f[i - 1].name);
                else
                    snprintf(buf, sizeof buf, "segment %llu comes after segment %llu: reordered",
                             (unsigned long long)r->hdr.seq, (unsigned long long)res[i - 1].hdr.seq);
                breaks += broken(f[i].name, "%s%s", buf, "");
            } else {
                breaks += check_link(&f[i - 1], &res[i - 1], &f[i], r);
            }
        }
        if (r->status == SEG_CLOSED) {
            if (!quiet)
                snprintf(note[i], sizeof note[i], "%s: ok, %llu records, closed", f[i].name,
                         (unsigned long long)r->records);
        } else if (!last) {
            /* The next segment's link check judges whether it accounts for this. */
            if (!quiet)
                snprintf(note[i], sizeof note[i],
                         "%s: ok, %llu records, not closed (eligd stopped without closing it; the next segment "
                         "recorded how it was left)",
                         f[i].name, (unsigned long long)r->records);
        } else if (writer_live(dir)) {
            snprintf(note[i], sizeof note[i], "%s: %llu records, open: eligd is writing it (%s)", f[i].name,
                     (unsigned long long)r->records,
                     r->status == SEG_CUT ? "its last block is being written" : "no end block yet");
        } else {
            snprintf(buf, sizeof buf, "not closed, and no eligd is writing in %s: truncated, or eligd stopped "
                     "without closing it (its next start records which); after record %llu: %s",
                     dir, (unsigned long long)r->records, r->status == SEG_CUT ? r->err : "no end block");
            breaks += broken(f[i].name, "%s%s", buf, "");
        }
    }
    for (int i = 0; i < n; i++) {
        if (head[i][0])
            printf("%s\n", head[i]);
        if (!print_breaks(f[i].name) && note[i][0])
            printf("%s\n", note[i]);
    }
    free(note);
    free(head);
    free(brks);
    brks = NULL;
    nbrks = capbrks = 0;
    const segres *tail = &res[n - 1];
    if (records) {
        char t1[32], t2[32];
        audit_format_time(tmin, t1);
        audit_format_time(tmax, t2);
        printf("records: %llu in %d segments, from %s to %s\n", (unsigned long long)records, n, t1, t2);
    } else {
        printf("records: 0 in %d segments\n", n);
    }
    if (tail->chain_known) {
        audit_hex(tail->chain, hex);
        printf("chain value at the end: %s (keep it off this server: a later rewrite of the trail cannot "
               "match it)\n",
               hex);
    }
    if (breaks)
        printf("verify: %d break%s in %s\n", breaks, breaks == 1 ? "" : "s", dir);
    else
        printf("verify: ok\n");
    free(res);
    return breaks ? 1 : 0;
}
