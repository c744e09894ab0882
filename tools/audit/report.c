/* report.c — see report.h. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditfmt.h"
#include "elig.h"

/* ---- times ------------------------------------------------------------- */

static bool digits(const char *s, int n, int *v) {
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

bool report_parse_time(const char *s, bool until, uint64_t *us) {
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d};
    time_t day = timegm(&tm);
    struct tm back;
    gmtime_r(&day, &back);
    if (back.tm_mday != d) /* 2026-02-30 */
        return false;
    if (n == 10) {
        *us = (uint64_t)(day + (until ? 86400 : 0)) * 1000000u;
        return true;
    }
    const char *p = s + 10;
    if ((*p != 'T' && *p != 't') || !digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi) ||
        p[6] != ':' || !digits(p + 7, 2, &se) || h > 23 || mi > 59 || se > 60)
        return false;
    p += 9;
    uint64_t frac = 0;
    if (*p == '.') {
        int k = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, k++)
            if (k < 6)
                frac = frac * 10 + (uint64_t)(*p - '0');
        if (k == 0)
            return false;
        for (; k < 6; k++)
            frac *= 10;
    }
    long off = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        off = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
    } else {
        return false;
    }
    long long t = (long long)day + h * 3600LL + mi * 60LL + se - off;
    if (t < 0)
        return false;
    *us = (uint64_t)t * 1000000u + frac + (until ? 1 : 0);
    return true;
}

/* ---- output helpers ---------------------------------------------------- */

static void json_str(FILE *o, const char *s, size_t n) {
    fputc('"', o);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(o, "\\u%04x", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

static void json_cstr(FILE *o, const char *s) { json_str(o, s, strlen(s)); }

static void id16(uint64_t id, char out[17]) { elig_format_id16(id, out); }

static void period_text(uint32_t p, char out[8]) {
    if (p)
        elig_format_period(p, out);
    else
        strcpy(out, "-");
}

/* ---- trail ------------------------------------------------------------- */

typedef struct {
    audit_rec r;
    char s[AUDIT_REC_MAX];
} owned;

typedef struct {
    owned *v;
    size_t n, cap;
    bool oom;
} matches;

typedef struct {
    uint64_t nik, kk, kks; /* 0: none */
    bool family;           /* a kk/kks trail: also every answer that resolved to kk */
    matches *per;          /* one per scan thread */
} trail_ctx;

/* Points o's strings at its own copies in o->s (program, channel, peer,
 * snapshot, detail, back to back). Needed again whenever o has moved: a
 * realloc of the vector or the sort moves the bytes, not the pointers. */
static void repoint(owned *o) {
    char *p = o->s;
#define AT_(f)                                                                 \
    o->r.f = p;                                                                \
    p += o->r.f##_len;
    AT_(program)
    AT_(channel)
    AT_(peer)
    AT_(snapshot)
    AT_(detail)
#undef AT_
}

static void keep(matches *m, const audit_rec *r) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        owned *v = realloc(m->v, cap * sizeof *v);
        if (!v) {
            m->oom = true;
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    owned *o = &m->v[m->n++];
    o->r = *r;
    char *p = o->s;
#define COPY_(f)                                                               \
    memcpy(p, r->f, r->f##_len);                                               \
    p += r->f##_len;
    COPY_(program)
    COPY_(channel)
    COPY_(peer)
    COPY_(snapshot)
    COPY_(detail)
#undef COPY_
    repoint(o);
}

static void trail_fn(void *ud, int slot, const audit_rec *r) {
    trail_ctx *t = ud;
    bool hit = (r->kind == ELIG_KIND_NIK + 1 && t->nik && r->id == t->nik) ||
               (r->kind == ELIG_KIND_KK + 1 && t->kk && r->id == t->kk) ||
               (r->kind == ELIG_KIND_KKS + 1 && t->kks && r->id == t->kks) ||
               (t->family && t->kk && r->kk == t->kk && r->kind != 0);
    if (hit)
        keep(&t->per[slot], r);
}

static int by_time(const void *a, const void *b) {
    const audit_rec *x = &((const owned *)a)->r, *y = &((const owned *)b)->r;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    if (x->conn_id != y->conn_id)
        return x->conn_id < y->conn_id ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static void print_rec_text(FILE *o, const audit_rec *r) {
    char t[32], id[17] = "-", per[8], kk[17] = "-";
    audit_format_time(r->time_us, t);
    if (r->kind)
        id16(r->id, id);
    if (r->kk)
        id16(r->kk, kk);
    period_text(r->period, per);
    fprintf(o, "%s  %-.*s  %-.*s  conn %llu  %s", t, r->channel_len, r->channel, r->peer_len, r->peer,
            (unsigned long long)r->conn_id, audit_method_name(r->method));
    if (r->method == AUDIT_METHOD_CHECK_BATCH)
        fprintf(o, "[%u]", r->item);
    if (r->kind)
        fprintf(o, "  %s %s", audit_kind_name(r->kind), id);
    if (r->program_len)
        fprintf(o, "  %.*s %s", r->program_len, r->program, per);
    fprintf(o, "  -> %s", audit_result_name(r));
    if (r->outcome == AUDIT_OUT_REASON)
        fprintf(o, " Rp %u", r->amount);
    if (r->kk)
        fprintf(o, " (family %s)", kk);
    /* An offline terminal's answer (SPEC 10): the extract answered. */
    fprintf(o, "  %s %.*s", r->method == AUDIT_METHOD_OFFLINE_CHECK ? "OFFLINE, extract" : "snapshot", r->snapshot_len,
            r->snapshot);
    if (r->detail_len)
        fprintf(o, "  [%.*s]", r->detail_len, r->detail);
    fputc('\n', o);
}

static void print_rec_json(FILE *o, const audit_rec *r) {
    char t[32], id[17], per[8], kk[17];
    audit_format_time(r->time_us, t);
    fprintf(o, "{\"time\":\"%s\",\"channel\":", t);
    json_str(o, r->channel, r->channel_len);
    fprintf(o, ",\"peer\":");
    json_str(o, r->peer, r->peer_len);
    fprintf(o, ",\"conn\":%llu,\"method\":\"%s\",\"item\":%u,\"kind\":", (unsigned long long)r->conn_id,
            audit_method_name(r->method), r->item);
    if (r->kind) {
        id16(r->id, id);
        fprintf(o, "\"%s\",\"id\":\"%s\"", audit_kind_name(r->kind), id);
    } else {
        fprintf(o, "null,\"id\":null");
    }
    fprintf(o, ",\"program\":");
    if (r->program_len)
        json_str(o, r->program, r->program_len);
    else
        fprintf(o, "null");
    if (r->period) {
        period_text(r->period, per);
        fprintf(o, ",\"period\":\"%s\"", per);
    } else {
        fprintf(o, ",\"period\":null");
    }
    fprintf(o, ",\"result\":\"%s\",\"error\":%s,\"amount\":%u,\"kk\":", audit_result_name(r),
            r->outcome == AUDIT_OUT_ERROR ? "true" : "false", r->amount);
    if (r->kk) {
        id16(r->kk, kk);
        fprintf(o, "\"%s\"", kk);
    } else {
        fprintf(o, "null");
    }
    fprintf(o, ",\"snapshot\":");
    json_str(o, r->snapshot, r->snapshot_len);
    fprintf(o, ",\"offline\":%s", r->method == AUDIT_METHOD_OFFLINE_CHECK ? "true" : "false");
    fprintf(o, ",\"detail\":");
    if (r->detail_len)
        json_str(o, r->detail, r->detail_len);
    else
        fprintf(o, "null");
    fputc('}', o);
}

/* Resolves (kind, id) to its family in the snapshot. 1 found, 0 not, -1
 * the snapshot could not be read (message printed). */
static int resolve(const char *path, int kind, uint64_t id, elig_household *h, char *snap_id, size_t snap_len) {
    char err[300];
    elig_snap *snap;
    elig_reader *rd;
    if (elig_snap_open(path, &snap, err, sizeof err) != 0) {
        fprintf(stderr, "elig-audit: %s\n", err);
        return -1;
    }
    snprintf(snap_id, snap_len, "%s", elig_snap_meta(snap)->id);
    int rc = elig_reader_open(snap, &rd);
    if (rc == 0) {
        rc = elig_household_get(rd, (elig_kind)kind, id, h);
        elig_reader_close(rd);
    }
    elig_snap_close(snap);
    if (rc < 0)
        fprintf(stderr, "elig-audit: %s: cannot read the snapshot: %s\n", path, elig_strerror(rc));
    return rc < 0 ? -1 : rc;
}

int report_trail(const segfile *f, int n, const char *snap_path, int kind, uint64_t id, const char *id_text,
                 const report_opts *o) {
    elig_household h;
    char snap_id[ELIG_WIRE_SNAPSHOT_ID_MAX + 1];
    int found = resolve(snap_path, kind, id, &h, snap_id, sizeof snap_id);
    if (found < 0)
        return 1;
    trail_ctx t = {.family = kind != ELIG_KIND_NIK};
    if (kind == ELIG_KIND_NIK)
        t.nik = id;
    else if (kind == ELIG_KIND_KK)
        t.kk = id;
    else
        t.kks = id;
    if (found) {
        t.kk = h.kk;
        t.kks = h.has_kks ? h.kks : 0;
    }
    int nt = segdir_threads(o->threads);
    t.per = calloc((size_t)nt, sizeof *t.per);
    if (!t.per)
        return fprintf(stderr, "elig-audit: out of memory\n"), 1;
    segdir_scan sc = {.since_us = o->since_us, .until_us = o->until_us, .threads = nt, .fn = trail_fn, .ud = &t};
    if (segdir_run(&sc, f, n) != 0)
        return 1;
    matches all = {0};
    bool oom = false;
    for (int i = 0; i < nt; i++) {
        oom |= t.per[i].oom;
        for (size_t k = 0; k < t.per[i].n; k++) {
            repoint(&t.per[i].v[k]); /* the vector may have moved since */
            keep(&all, &t.per[i].v[k].r);
        }
        free(t.per[i].v);
    }
    free(t.per);
    if (oom || all.oom)
        return fprintf(stderr, "elig-audit: out of memory collecting the trail\n"), 1;
    if (all.n)
        qsort(all.v, all.n, sizeof *all.v, by_time);
    for (size_t i = 0; i < all.n; i++)
        repoint(&all.v[i]);
    char kk[17], kks[17];
    if (found) {
        id16(h.kk, kk);
        if (h.has_kks)
            id16(h.kks, kks);
    }
    const char *kname = elig_kind_name((elig_kind)kind);
    if (o->json) {
        printf("{\"kind\":\"%s\",\"id\":\"%s\",\"snapshot\":", kname, id_text);
        json_cstr(stdout, snap_id);
        if (found)
            printf(",\"family\":{\"kk\":\"%s\",\"kks\":%s%s%s}", kk, h.has_kks ? "\"" : "", h.has_kks ? kks : "null",
                   h.has_kks ? "\"" : "");
        else
            printf(",\"family\":null");
        printf(",\"count\":%zu,\"records\":[", all.n);
        for (size_t i = 0; i < all.n; i++) {
            if (i)
                putchar(',');
            print_rec_json(stdout, &all.v[i].r);
        }
        printf("]}\n");
    } else {
        if (found)
            printf("trail of %s %s: family kk %s, kks %s (as in snapshot %s)\n", kname, id_text, kk,
                   h.has_kks ? kks : "none", snap_id);
        else
            printf("trail of %s %s: not in snapshot %s, so only records by this %s are shown\n", kname, id_text,
                   snap_id, kname);
        for (size_t i = 0; i < all.n; i++)
            print_rec_text(stdout, &all.v[i].r);
        printf("%zu record%s\n", all.n, all.n == 1 ? "" : "s");
    }
    fprintf(stderr, "elig-audit: scanned %llu records in %llu blocks of %d segments (%llu blocks outside the "
                    "time range skipped)\n",
            (unsigned long long)sc.records, (unsigned long long)sc.blocks, n,
            (unsigned long long)sc.blocks_skipped);
    free(all.v);
    return sc.problems ? 1 : 0;
}

/* ---- stats ------------------------------------------------------------- */

typedef struct {
    char channel[AUDIT_CHANNEL_MAX];
    uint8_t channel_len;
    uint8_t method;
    const char *result; /* a static name: compared by pointer */
    uint64_t count;
    bool used;
} cell;

typedef struct {
    cell *v;
    size_t cap, n;
    bool oom;
    uint64_t records, tmin, tmax;
    /* The cell of the record before: the records of a block mostly share
     * channel and method, so most records need no hashing at all. */
    cell *last;
} table;

static uint64_t cell_hash(const char *ch, uint8_t len, uint8_t method, const char *result) {
    uint64_t h = 1469598103934665603ull;
    for (uint8_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)ch[i]) * 1099511628211ull;
    h = (h ^ method) * 1099511628211ull;
    return (h ^ (uint64_t)(uintptr_t)result) * 1099511628211ull;
}

static bool table_add(table *t, const char *ch, uint8_t len, uint8_t method, const char *result, uint64_t by);

static bool table_grow(table *t) {
    table g = {.cap = t->cap ? t->cap * 2 : 256};
    if (!(g.v = calloc(g.cap, sizeof *g.v)))
        return false;
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].used)
            table_add(&g, t->v[i].channel, t->v[i].channel_len, t->v[i].method, t->v[i].result, t->v[i].count);
    free(t->v);
    t->v = g.v;
    t->cap = g.cap;
    t->n = g.n;
    t->last = NULL;
    return true;
}

static bool table_add(table *t, const char *ch, uint8_t len, uint8_t method, const char *result, uint64_t by) {
    if ((t->n + 1) * 2 > t->cap && !table_grow(t))
        return t->oom = true, false;
    size_t i = cell_hash(ch, len, method, result) & (t->cap - 1);
    for (;; i = (i + 1) & (t->cap - 1)) {
        cell *c = &t->v[i];
        if (!c->used) {
            c->used = true;
            memcpy(c->channel, ch, len);
            c->channel_len = len;
            c->method = method;
            c->result = result;
            c->count = by;
            t->n++;
            return true;
        }
        if (c->method == method && c->result == result && c->channel_len == len && memcmp(c->channel, ch, len) == 0) {
            c->count += by;
            return true;
        }
    }
}

static void stats_fn(void *ud, int slot, const audit_rec *r) {
    table *t = &((table *)ud)[slot];
    const char *result = audit_result_name(r);
    cell *l = t->last;
    if (l && l->method == r->method && l->result == result && l->channel_len == r->channel_len &&
        memcmp(l->channel, r->channel, r->channel_len) == 0) {
        l->count++;
    } else if (table_add(t, r->channel, r->channel_len, r->method, result, 1)) {
        /* Find the cell again for next time (table_add may have grown the table). */
        size_t i = cell_hash(r->channel, r->channel_len, r->method, result) & (t->cap - 1);
        while (!(t->v[i].method == r->method && t->v[i].result == result && t->v[i].channel_len == r->channel_len &&
                 memcmp(t->v[i].channel, r->channel, r->channel_len) == 0))
            i = (i + 1) & (t->cap - 1);
        t->last = &t->v[i];
    }
    t->records++;
    if (r->time_us < t->tmin)
        t->tmin = r->time_us;
    if (r->time_us > t->tmax)
        t->tmax = r->time_us;
}

/* One group-by over the cells: key(c) -> total. Small: a linear list. */
typedef struct {
    char key[AUDIT_CHANNEL_MAX + 1];
    uint64_t count;
} group;

static int by_count(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static size_t group_by(const table *t, int what, group *g, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        const cell *c = &t->v[i];
        if (!c->used)
            continue;
        char key[AUDIT_CHANNEL_MAX + 1];
        if (what == 0)
            snprintf(key, sizeof key, "%.*s", c->channel_len, c->channel);
        else
            snprintf(key, sizeof key, "%s", what == 1 ? audit_method_name(c->method) : c->result);
        size_t k = 0;
        while (k < n && strcmp(g[k].key, key) != 0)
            k++;
        if (k == n) {
            if (n == max)
                continue;
            snprintf(g[n].key, sizeof g[n].key, "%s", key);
            g[n++].count = 0;
        }
        g[k].count += c->count;
    }
    if (n)
        qsort(g, n, sizeof *g, by_count);
    return n;
}

static int by_cell(const void *a, const void *b) {
    const cell *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = memcmp(x->channel, y->channel, x->channel_len < y->channel_len ? x->channel_len : y->channel_len);
    if (c || x->channel_len != y->channel_len)
        return c ? c : x->channel_len - y->channel_len;
    if (x->method != y->method)
        return x->method - y->method;
    return strcmp(x->result, y->result);
}

int report_stats(const segfile *f, int n, const report_opts *o) {
    int nt = segdir_threads(o->threads);
    table *per = calloc((size_t)nt, sizeof *per);
    if (!per)
        return fprintf(stderr, "elig-audit: out of memory\n"), 1;
    for (int i = 0; i < nt; i++)
        per[i].tmin = UINT64_MAX;
    segdir_scan sc = {.since_us = o->since_us, .until_us = o->until_us, .threads = nt, .fn = stats_fn, .ud = per};
    if (segdir_run(&sc, f, n) != 0)
        return 1;
    table all = {.tmin = UINT64_MAX};
    bool oom = false;
    for (int i = 0; i < nt; i++) {
        oom |= per[i].oom;
        all.records += per[i].records;
        if (per[i].tmin < all.tmin)
            all.tmin = per[i].tmin;
        if (per[i].tmax > all.tmax)
            all.tmax = per[i].tmax;
        for (size_t k = 0; k < per[i].cap; k++)
            if (per[i].v[k].used)
                table_add(&all, per[i].v[k].channel, per[i].v[k].channel_len, per[i].v[k].method,
                          per[i].v[k].result, per[i].v[k].count);
        free(per[i].v);
    }
    free(per);
    if (oom || all.oom)
        return fprintf(stderr, "elig-audit: out of memory counting\n"), 1;
    size_t maxg = all.n ? all.n : 1;
    group *g = calloc(maxg, sizeof *g);
    cell *cells = calloc(maxg, sizeof *cells);
    if (!g || !cells)
        return fprintf(stderr, "elig-audit: out of memory\n"), 1;
    size_t nc = 0;
    for (size_t i = 0; i < all.cap; i++)
        if (all.v[i].used)
            cells[nc++] = all.v[i];
    if (nc)
        qsort(cells, nc, sizeof *cells, by_cell);
    static const char *const names[] = {"channel", "method", "result"};
    char t1[32] = "", t2[32] = "";
    if (all.records) {
        audit_format_time(all.tmin, t1);
        audit_format_time(all.tmax, t2);
    }
    if (o->json) {
        printf("{\"records\":%llu,\"first\":", (unsigned long long)all.records);
        printf(all.records ? "\"%s\",\"last\":\"%s\"" : "null,\"last\":null", t1, t2);
        for (int w = 0; w < 3; w++) {
            size_t k = group_by(&all, w, g, maxg);
            printf(",\"by_%s\":{", names[w]);
            for (size_t i = 0; i < k; i++) {
                if (i)
                    putchar(',');
                json_cstr(stdout, g[i].key);
                printf(":%llu", (unsigned long long)g[i].count);
            }
            putchar('}');
        }
        printf(",\"by_channel_method_result\":[");
        for (size_t i = 0; i < nc; i++) {
            printf("%s{\"channel\":", i ? "," : "");
            json_str(stdout, cells[i].channel, cells[i].channel_len);
            printf(",\"method\":\"%s\",\"result\":\"%s\",\"count\":%llu}", audit_method_name(cells[i].method),
                   cells[i].result, (unsigned long long)cells[i].count);
        }
        printf("]}\n");
    } else {
        printf("records: %llu", (unsigned long long)all.records);
        if (all.records)
            printf(" (from %s to %s)", t1, t2);
        putchar('\n');
        for (int w = 0; w < 3; w++) {
            size_t k = group_by(&all, w, g, maxg);
            printf("\nby %s:\n", names[w]);
            for (size_t i = 0; i < k; i++)
                printf("  %12llu  %s\n", (unsigned long long)g[i].count, g[i].key);
        }
        printf("\nby channel, method and result:\n");
        for (size_t i = 0; i < nc; i++)
            printf("  %12llu  %.*s  %s  %s\n", (unsigned long long)cells[i].count, cells[i].channel_len,
                   cells[i].channel, audit_method_name(cells[i].method), cells[i].result);
    }
    fprintf(stderr, "elig-audit: scanned %llu records in %llu blocks of %d segments (%llu blocks outside the "
                    "time range skipped)\n",
            (unsigned long long)sc.records, (unsigned long long)sc.blocks, n,
            (unsigned long long)sc.blocks_skipped);
    free(g);
    free(cells);
    free(all.v);
    return sc.problems ? 1 : 0;
}
