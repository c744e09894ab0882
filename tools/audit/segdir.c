/* segdir.c — see segdir.h. */
#include "segdir.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int by_name(const void *a, const void *b) {
    return strcmp(((const segfile *)a)->name, ((const segfile *)b)->name);
}

int segdir_list(const char *dir, segfile **out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "elig-audit: cannot read %s: %m\n", dir);
        return -1;
    }
    segfile *f = NULL;
    int cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t seq = audit_seg_name_seq(e->d_name);
        if (!seq)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            segfile *g = realloc(f, (size_t)cap * sizeof *f);
            if (!g)
                goto oom;
            f = g;
        }
        size_t pl = strlen(dir) + strlen(e->d_name) + 2;
        f[cnt].name = strdup(e->d_name);
        f[cnt].path = malloc(pl);
        f[cnt].seq = seq;
        if (!f[cnt].name || !f[cnt].path)
            goto oom;
        snprintf(f[cnt].path, pl, "%s/%s", dir, e->d_name);
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(f, (size_t)cnt, sizeof *f, by_name);
    *out = f;
    *n = cnt;
    return 0;
oom:
    closedir(d);
    segdir_free(f, cnt);
    fprintf(stderr, "elig-audit: out of memory listing %s\n", dir);
    return -1;
}

void segdir_free(segfile *f, int n) {
    for (int i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].path);
    }
    free(f);
}

int segdir_threads(int threads) {
    if (threads > 0)
        return threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* One block to read. */
typedef struct {
    const audit_seg *seg;
    audit_block b;
    size_t off;
} work;

typedef struct {
    segdir_scan *sc;
    work *w;
    size_t nw;
    atomic_size_t next;
    atomic_uint_fast64_t records;
    atomic_int problems;
} shared;

typedef struct {
    shared *sh;
    int slot;
} thread_arg;

static void *scan_thread(void *p) {
    thread_arg *ta = p;
    shared *sh = ta->sh;
    segdir_scan *sc = sh->sc;
    uint8_t *raw = NULL;
    size_t cap = 0;
    uint64_t records = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= sh->nw)
            break;
        const work *w = &sh->w[i];
        if (w->b.raw_len > cap) {
            free(raw);
            cap = w->b.raw_len;
            if (!(raw = malloc(cap))) {
                fprintf(stderr, "elig-audit: out of memory\n");
                atomic_fetch_add(&sh->problems, 1);
                cap = 0;
                continue;
            }
        }
        const char *why;
        const uint8_t *stored = w->seg->data + w->off + AUDIT_BLOCK_HEAD_LEN;
        if (audit_payload_decode(&w->b, stored, raw, &why) != 0) {
            fprintf(stderr, "elig-audit: %s: records %llu-%llu skipped: %s\n", w->seg->path,
                    (unsigned long long)w->b.first_record,
                    (unsigned long long)(w->b.first_record + w->b.count - 1), why);
            atomic_fetch_add(&sh->problems, 1);
            continue;
        }
        size_t off = 0;
        audit_rec r, prev;
        for (uint32_t k = 0; k < w->b.count; k++) {
            long n = audit_rec_decode(raw + off, w->b.raw_len - off, k ? &prev : NULL, &r);
            prev = r;
            if (n < 0) {
                fprintf(stderr, "elig-audit: %s: record %llu is not well-formed; the rest of its block is skipped\n",
                        w->seg->path, (unsigned long long)(w->b.first_record + k));
                atomic_fetch_add(&sh->problems, 1);
                break;
            }
            off += (size_t)n;
            records++;
            if (r.time_us >= sc->since_us && r.time_us < sc->until_us)
                sc->fn(sc->ud, ta->slot, &r);
        }
    }
    free(raw);
    atomic_fetch_add(&sh->records, records);
    return NULL;
}

int segdir_run(segdir_scan *sc, const segfile *f, int n) {
    audit_seg *segs = calloc((size_t)(n ? n : 1), sizeof *segs);
    size_t nw = 0, cw = 0;
    work *w = NULL;
    int problems = 0, rc = -1;
    if (!segs)
        goto out;
    for (int i = 0; i < n; i++) {
        audit_seg *s = &segs[i];
        if (audit_seg_open(s, f[i].path) != 0) {
            fprintf(stderr, "elig-audit: %s: skipped: %s\n", f[i].path, s->err);
            problems++;
            continue;
        }
        audit_block b;
        int got;
        while ((got = audit_seg_next(s, &b)) == 1) {
            if (b.max_time_us < sc->since_us || b.min_time_us >= sc->until_us) {
                sc->blocks_skipped++;
                continue;
            }
            if (nw == cw) {
                cw = cw ? cw * 2 : 1024;
                work *g = realloc(w, cw * sizeof *w);
                if (!g)
                    goto out;
                w = g;
            }
            w[nw++] = (work){.seg = s, .b = b, .off = s->block_off};
        }
        if (got < 0 && !(s->cut && i == n - 1)) {
            /* The last segment may be being written: its tail is not an error. */
            fprintf(stderr, "elig-audit: %s: read up to record %llu: %s\n", f[i].path,
                    (unsigned long long)s->records, s->err);
            problems++;
        }
    }
    shared sh = {.sc = sc, .w = w, .nw = nw};
    atomic_init(&sh.next, 0);
    atomic_init(&sh.records, 0);
    atomic_init(&sh.problems, 0);
    int nt = segdir_threads(sc->threads);
    pthread_t th[64];
    thread_arg ta[64];
    bool started[64] = {false};
    for (int t = 0; t < nt; t++) {
        ta[t] = (thread_arg){.sh = &sh, .slot = t};
        started[t] = t > 0 && pthread_create(&th[t], NULL, scan_thread, &ta[t]) == 0;
    }
    scan_thread(&ta[0]); /* the calling thread is slot 0; it takes over any that did not start */
    for (int t = 1; t < nt; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    sc->records = atomic_load(&sh.records);
    sc->blocks = nw;
    sc->problems = problems + atomic_load(&sh.problems);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "elig-audit: out of memory\n");
    for (int i = 0; segs && i < n; i++)
        audit_seg_close(&segs[i]);
    free(segs);
    free(w);
    return rc;
}
