/* compare.c — the publishing guard and `elig-snapshot diff` (compare.h).
 *
 * A family is eligible for a programme in a month exactly as SPEC 2 says
 * for a kk query: its household is active and an active enrollment of the
 * programme covers the month (the builder lets at most one cover it); the
 * month's amount is that enrollment's. */
#include <inttypes.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "record.h"

static int say(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- one snapshot's tables, opened for walking ------------------------- */

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi hh, nik;
    elig_meta meta;
} tables;

/* Opens path as the daemon does (trailer, schema, metadata, index), then a
 * plain LMDB view of it for the ordered walks. */
static int tables_open(tables *t, const char *path, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    elig_snap *s;
    if (elig_snap_open(path, &s, err, errlen) != 0)
        return -1;
    t->meta = *elig_snap_meta(s);
    elig_snap_close(s);
    int rc = mdb_env_create(&t->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(t->env, ELIG_DB_MAX);
    if (rc == 0)
        rc = mdb_env_open(t->env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444);
    if (rc == 0)
        rc = mdb_txn_begin(t->env, NULL, MDB_RDONLY, &t->txn);
    if (rc == 0)
        rc = mdb_dbi_open(t->txn, ELIG_DB_HH, MDB_INTEGERKEY, &t->hh);
    if (rc == 0)
        rc = mdb_dbi_open(t->txn, ELIG_DB_NIK, MDB_INTEGERKEY, &t->nik);
    if (rc != 0)
        return say(err, errlen, "%s: %s", path, mdb_strerror(rc));
    return 0;
}

static void tables_close(tables *t) {
    if (t->txn)
        mdb_txn_abort(t->txn);
    mdb_env_close(t->env);
}

/* A cursor over one table: cur_next gives the next (key, value) or false
 * at the end (an LMDB error also ends it, and sets *bad). */
typedef struct {
    MDB_cursor *c;
    MDB_val k, v;
    bool live, first, bad;
} cursor;

static int cursor_open(cursor *c, MDB_txn *txn, MDB_dbi dbi) {
    memset(c, 0, sizeof *c);
    c->first = true;
    return mdb_cursor_open(txn, dbi, &c->c);
}

static bool cursor_next(cursor *c) {
    int rc = mdb_cursor_get(c->c, &c->k, &c->v, c->first ? MDB_FIRST : MDB_NEXT);
    c->first = false;
    c->live = rc == 0 && c->k.mv_size == 8;
    c->bad = c->bad || (rc != 0 && rc != MDB_NOTFOUND) || (rc == 0 && c->k.mv_size != 8);
    return c->live;
}

static uint64_t cursor_key(const cursor *c) { return c->live ? elig_rd64(c->k.mv_data) : UINT64_MAX; }

/* ---- programmes and eligibility ----------------------------------------- */

typedef struct {
    uint32_t *n;
    char (*name)[17];
} prog_list;

/* Index of programme (p, n), added if new; -1 if the list is full. */
static int prog_index(prog_list l, const char *p, uint8_t n) {
    for (uint32_t i = 0; i < *l.n; i++)
        if (strlen(l.name[i]) == n && memcmp(l.name[i], p, n) == 0)
            return (int)i;
    if (*l.n >= CMP_MAX_PROGRAMS)
        return -1;
    memcpy(l.name[*l.n], p, n);
    l.name[*l.n][n] = '\0';
    return (int)(*l.n)++;
}

/* A household's eligibility in month m: amount[i] for each programme i it
 * is eligible for (elig[i] set). Returns the number of programmes listed,
 * or -1 for a malformed record or too many programmes. */
typedef struct {
    int prog[CMP_MAX_PROGRAMS];
    uint32_t amount[CMP_MAX_PROGRAMS];
    int n;
} elig_set;

static int eligibility(const MDB_val *v, elig_month m, prog_list l, elig_set *out, uint32_t *n_enr) {
    const unsigned char *p = v->mv_data;
    out->n = 0;
    if (elig_rec_hh_check(p, v->mv_size) != 0)
        return -1;
    elig_rec_hh h;
    elig_rec_hh_get(p, &h);
    *n_enr = h.n_enrollments;
    size_t off = ELIG_REC_HH_HEAD;
    for (uint32_t i = 0; i < h.n_enrollments; i++) {
        elig_enrollment e;
        off += elig_rec_enr_get(p + off, &e);
        int k = prog_index(l, e.program, e.program_len); /* every programme is listed, eligible or not */
        if (k < 0)
            return -1;
        if (h.status != ELIG_HH_ACTIVE || e.status != ELIG_ENR_ACTIVE || m < e.start || m > e.end)
            continue;
        if (out->n == CMP_MAX_PROGRAMS)
            return -1;
        out->prog[out->n] = k;
        out->amount[out->n++] = e.amount;
    }
    return out->n;
}

/* ---- the guard ------------------------------------------------------------ */

int cmp_stats_of(const char *path, elig_month m, cmp_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    tables t;
    if (tables_open(&t, path, err, errlen) != 0) {
        tables_close(&t);
        return -1;
    }
    snprintf(st->id, sizeof st->id, "%s", t.meta.id);
    st->households = t.meta.households;
    st->members = t.meta.members;
    st->enrollments = t.meta.enrollments;
    prog_list l = {&st->nprog, st->prog};
    cursor c;
    int rc = cursor_open(&c, t.txn, t.hh) == 0 ? 0 : -1;
    while (rc == 0 && cursor_next(&c)) {
        elig_set e;
        uint32_t n_enr;
        if (eligibility(&c.v, m, l, &e, &n_enr) < 0)
            rc = -1;
        for (int i = 0; rc == 0 && i < e.n; i++)
            st->eligible[e.prog[i]]++;
    }
    if (rc != 0 || c.bad)
        rc = say(err, errlen, "%s: a household record is malformed or unreadable (run elig-snapshot verify)", path);
    if (c.c)
        mdb_cursor_close(c.c);
    tables_close(&t);
    return rc;
}

static double change(uint64_t was, uint64_t now) {
    if (was == 0)
        return now == 0 ? 0.0 : 1.0;
    return (double)(was > now ? was - now : now - was) / (double)was;
}

static bool guard_row(FILE *out, const char *what, uint64_t was, uint64_t now, double max) {
    double c = change(was, now);
    bool over = c > max;
    fprintf(out, "  %-28s %14" PRIu64 " %14" PRIu64 " %+14" PRId64 " %9.2f%%%s\n", what, was, now,
            (int64_t)now - (int64_t)was, 100.0 * c, over ? "  over" : "");
    return !over;
}

bool cmp_guard(const cmp_stats *prev, const cmp_stats *next, double max_change, elig_month m, FILE *out) {
    char month[8];
    elig_format_period(m, month);
    fprintf(out, "guard: snapshot %s against the previous %s, month %s, --max-change %g\n", next->id, prev->id,
            month, max_change);
    fprintf(out, "  %-28s %14s %14s %14s %10s\n", "count", "previous", "new", "change", "change %");
    bool ok = guard_row(out, "households", prev->households, next->households, max_change);
    ok &= guard_row(out, "members", prev->members, next->members, max_change);
    ok &= guard_row(out, "enrollments", prev->enrollments, next->enrollments, max_change);
    /* every programme of either snapshot, new ones after the old */
    for (int side = 0; side < 2; side++) {
        const cmp_stats *a = side ? next : prev, *b = side ? prev : next;
        for (uint32_t i = 0; i < a->nprog; i++) {
            uint64_t other = 0;
            bool found = false;
            for (uint32_t j = 0; j < b->nprog; j++)
                if (strcmp(a->prog[i], b->prog[j]) == 0)
                    other = b->eligible[j], found = true;
            if (side && found)
                continue; /* listed with the previous snapshot's */
            char what[48];
            snprintf(what, sizeof what, "eligible for %s", a->prog[i]);
            ok &= side ? guard_row(out, what, 0, a->eligible[i], max_change)
                       : guard_row(out, what, a->eligible[i], other, max_change);
        }
    }
    return ok;
}

/* ---- the diff --------------------------------------------------------------- */

/* A household's comparable parts: the head without the member count (a
 * member change is counted in the member table) and its enrollments by
 * (programme, start). */
typedef struct {
    elig_rec_hh h;
    elig_enrollment *e;
    uint32_t n, cap;
} hh_view;

static int cmp_enr(const void *pa, const void *pb) {
    const elig_enrollment *a = pa, *b = pb;
    size_t n = a->program_len < b->program_len ? a->program_len : b->program_len;
    int c = memcmp(a->program, b->program, n);
    if (c == 0)
        c = (int)a->program_len - (int)b->program_len;
    if (c == 0)
        c = (a->start > b->start) - (a->start < b->start);
    return c;
}

static int view(const MDB_val *v, hh_view *out) {
    const unsigned char *p = v->mv_data;
    if (elig_rec_hh_check(p, v->mv_size) != 0)
        return -1;
    elig_rec_hh_get(p, &out->h);
    if (out->h.n_enrollments > out->cap) {
        elig_enrollment *e = realloc(out->e, out->h.n_enrollments * sizeof *e);
        if (!e)
            return -1;
        out->e = e;
        out->cap = out->h.n_enrollments;
    }
    size_t off = ELIG_REC_HH_HEAD;
    for (uint32_t i = 0; i < out->h.n_enrollments; i++)
        off += elig_rec_enr_get(p + off, &out->e[i]);
    out->n = out->h.n_enrollments;
    if (out->n > 1)
        qsort(out->e, out->n, sizeof out->e[0], cmp_enr);
    return 0;
}

/* Enrollments of one family in old and new, merged by (programme, start). */
static void diff_enrollments(const hh_view *a, const hh_view *b, cmp_table *t) {
    uint32_t i = 0, j = 0;
    while (i < (a ? a->n : 0) || j < (b ? b->n : 0)) {
        int c = !a || i == a->n ? 1 : !b || j == b->n ? -1 : cmp_enr(&a->e[i], &b->e[j]);
        if (c < 0) {
            t->removed++, i++;
        } else if (c > 0) {
            t->added++, j++;
        } else {
            const elig_enrollment *x = &a->e[i++], *y = &b->e[j++];
            t->changed += x->end != y->end || x->amount != y->amount || x->status != y->status;
        }
    }
}

static void elig_of(const hh_view *v, elig_month m, prog_list l, uint32_t *amount, bool *on) {
    for (uint32_t i = 0; v && i < v->n; i++) {
        const elig_enrollment *e = &v->e[i];
        int k = prog_index(l, e->program, e->program_len);
        if (k < 0 || v->h.status != ELIG_HH_ACTIVE || e->status != ELIG_ENR_ACTIVE || m < e->start || m > e->end)
            continue;
        on[k] = true;
        amount[k] = e->amount;
    }
}

static int province(const hh_view *v) {
    uint64_t p = v->h.region / UINT64_C(100000000);
    return p < CMP_PROVINCES ? (int)p : 0;
}

/* One family, in old (a), new (b) or both. */
static void diff_family(cmp_diff *d, const hh_view *a, const hh_view *b, prog_list l) {
    if (!a)
        d->households.added++;
    else if (!b)
        d->households.removed++;
    else if (a->h.region != b->h.region || a->h.status != b->h.status || a->h.flags != b->h.flags ||
             a->h.kks != b->h.kks)
        d->households.changed++;
    diff_enrollments(a, b, &d->enrollments);
    static bool on_a[CMP_MAX_PROGRAMS], on_b[CMP_MAX_PROGRAMS];
    static uint32_t amt_a[CMP_MAX_PROGRAMS], amt_b[CMP_MAX_PROGRAMS];
    memset(on_a, 0, sizeof on_a);
    memset(on_b, 0, sizeof on_b);
    elig_of(a, d->period, l, amt_a, on_a);
    elig_of(b, d->period, l, amt_b, on_b);
    int pa = a ? province(a) : 0, pb = b ? province(b) : 0;
    for (uint32_t k = 0; k < d->nprog; k++) {
        if (!on_a[k] && !on_b[k])
            continue;
        cmp_elig *g = &d->by_prog[k];
        if (on_a[k]) {
            g->eligible_old++, g->amount_old += amt_a[k];
            d->by_prov[pa][k].eligible_old++, d->by_prov[pa][k].amount_old += amt_a[k];
        }
        if (on_b[k]) {
            g->eligible_new++, g->amount_new += amt_b[k];
            d->by_prov[pb][k].eligible_new++, d->by_prov[pb][k].amount_new += amt_b[k];
        }
        if (on_b[k] && !on_a[k])
            g->gained++;
        if (on_a[k] && !on_b[k])
            g->lost++;
        /* per province: a family that moved province is lost by one and
         * gained by the other */
        if (on_b[k] && !(on_a[k] && pa == pb))
            d->by_prov[pb][k].gained++;
        if (on_a[k] && !(on_b[k] && pa == pb))
            d->by_prov[pa][k].lost++;
    }
}

static int diff_households(cmp_diff *d, tables *o, tables *n, char *err, size_t errlen) {
    cursor a, b;
    static hh_view va, vb;
    prog_list l = {&d->nprog, d->prog};
    if (cursor_open(&a, o->txn, o->hh) != 0 || cursor_open(&b, n->txn, n->hh) != 0)
        return say(err, errlen, "cannot walk the household tables");
    cursor_next(&a);
    cursor_next(&b);
    int rc = 0;
    while (rc == 0 && (a.live || b.live)) {
        uint64_t ka = cursor_key(&a), kb = cursor_key(&b);
        bool in_a = ka <= kb, in_b = kb <= ka;
        if ((in_a && view(&a.v, &va) != 0) || (in_b && view(&b.v, &vb) != 0)) {
            rc = say(err, errlen, "a household record is malformed (run elig-snapshot verify)");
            break;
        }
        d->households.rows_old += in_a;
        d->households.rows_new += in_b;
        d->enrollments.rows_old += in_a ? va.n : 0;
        d->enrollments.rows_new += in_b ? vb.n : 0;
        diff_family(d, in_a ? &va : NULL, in_b ? &vb : NULL, l);
        if (d->nprog >= CMP_MAX_PROGRAMS)
            rc = say(err, errlen, "more than %d programmes", CMP_MAX_PROGRAMS);
        if (in_a)
            cursor_next(&a);
        if (in_b)
            cursor_next(&b);
    }
    if (rc == 0 && (a.bad || b.bad))
        rc = say(err, errlen, "cannot read a household table");
    mdb_cursor_close(a.c);
    mdb_cursor_close(b.c);
    free(va.e);
    free(vb.e);
    va.e = vb.e = NULL;
    va.cap = vb.cap = 0;
    return rc;
}

static int diff_members(cmp_diff *d, tables *o, tables *n, char *err, size_t errlen) {
    cursor a, b;
    if (cursor_open(&a, o->txn, o->nik) != 0 || cursor_open(&b, n->txn, n->nik) != 0)
        return say(err, errlen, "cannot walk the member tables");
    cursor_next(&a);
    cursor_next(&b);
    int rc = 0;
    while (a.live || b.live) {
        uint64_t ka = cursor_key(&a), kb = cursor_key(&b);
        if ((ka <= kb && a.v.mv_size != ELIG_REC_MEMBER) || (kb <= ka && b.v.mv_size != ELIG_REC_MEMBER)) {
            rc = say(err, errlen, "a member record is malformed (run elig-snapshot verify)");
            break;
        }
        if (ka < kb) {
            d->members.removed++, d->members.rows_old++;
            cursor_next(&a);
        } else if (kb < ka) {
            d->members.added++, d->members.rows_new++;
            cursor_next(&b);
        } else {
            d->members.rows_old++, d->members.rows_new++;
            d->members.changed += memcmp(a.v.mv_data, b.v.mv_data, ELIG_REC_MEMBER) != 0;
            cursor_next(&a);
            cursor_next(&b);
        }
    }
    if (rc == 0 && (a.bad || b.bad))
        rc = say(err, errlen, "cannot read a member table");
    mdb_cursor_close(a.c);
    mdb_cursor_close(b.c);
    return rc;
}

int cmp_diff_run(const char *old_path, const char *new_path, elig_month m, cmp_diff *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->period = m;
    tables o, n;
    memset(&n, 0, sizeof n);
    int rc = tables_open(&o, old_path, err, errlen);
    if (rc == 0)
        rc = tables_open(&n, new_path, err, errlen);
    if (rc == 0) {
        snprintf(d->old_id, sizeof d->old_id, "%s", o.meta.id);
        snprintf(d->new_id, sizeof d->new_id, "%s", n.meta.id);
        snprintf(d->old_content, sizeof d->old_content, "%s", o.meta.content_sha256);
        snprintf(d->new_content, sizeof d->new_content, "%s", n.meta.content_sha256);
        rc = diff_households(d, &o, &n, err, errlen);
    }
    if (rc == 0)
        rc = diff_members(d, &o, &n, err, errlen);
    tables_close(&o);
    tables_close(&n);
    return rc;
}

/* ---- output ------------------------------------------------------------------ */

void cmp_rupiah(int64_t n, bool sign, char *out, size_t cap) {
    uint64_t v = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    char digits[32], grouped[48];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, v), at = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            grouped[at++] = '.';
        grouped[at++] = digits[i];
    }
    grouped[at] = '\0';
    snprintf(out, cap, "%sRp %s", n < 0 ? "-" : sign && n > 0 ? "+" : "", grouped);
}

static void human_elig(FILE *out, const char *label, const cmp_elig *g) {
    char ao[40], an[40], dc[40];
    cmp_rupiah((int64_t)g->amount_old, false, ao, sizeof ao);
    cmp_rupiah((int64_t)g->amount_new, false, an, sizeof an);
    cmp_rupiah((int64_t)g->amount_new - (int64_t)g->amount_old, true, dc, sizeof dc);
    fprintf(out, "  %-22s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 " %10" PRIu64 "  %s -> %s (%s)\n", label,
            g->eligible_old, g->eligible_new, g->gained, g->lost, ao, an, dc);
}

static void json_elig(FILE *out, const cmp_elig *g) {
    fprintf(out,
            "\"eligible_old\":%" PRIu64 ",\"eligible_new\":%" PRIu64 ",\"gained\":%" PRIu64 ",\"lost\":%" PRIu64
            ",\"amount_old\":%" PRIu64 ",\"amount_new\":%" PRIu64 ",\"amount_change\":%" PRId64 "}",
            g->eligible_old, g->eligible_new, g->gained, g->lost, g->amount_old, g->amount_new,
            (int64_t)g->amount_new - (int64_t)g->amount_old);
}

static bool any(const cmp_elig *g) { return g->eligible_old || g->eligible_new; }

/* Programme indexes in name order, for stable output. */
static void order(const cmp_diff *d, uint32_t *idx) {
    for (uint32_t i = 0; i < d->nprog; i++)
        idx[i] = i;
    for (uint32_t i = 1; i < d->nprog; i++)
        for (uint32_t j = i; j > 0 && strcmp(d->prog[idx[j - 1]], d->prog[idx[j]]) > 0; j--) {
            uint32_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

void cmp_diff_print(const cmp_diff *d, bool json, FILE *out) {
    static const char *names[] = {"households", "members", "enrollments"};
    const cmp_table *tabs[] = {&d->households, &d->members, &d->enrollments};
    uint32_t idx[CMP_MAX_PROGRAMS];
    order(d, idx);
    char month[8];
    elig_format_period(d->period, month);
    if (json) {
        fprintf(out, "{\"old\":{\"snapshot\":\"%s\",\"content_sha256\":\"%s\"},"
                     "\"new\":{\"snapshot\":\"%s\",\"content_sha256\":\"%s\"},\"period\":\"%s\",\"tables\":{",
                d->old_id, d->old_content, d->new_id, d->new_content, month);
        for (int i = 0; i < 3; i++)
            fprintf(out,
                    "%s\"%s\":{\"rows_old\":%" PRIu64 ",\"rows_new\":%" PRIu64 ",\"added\":%" PRIu64
                    ",\"removed\":%" PRIu64 ",\"changed\":%" PRIu64 "}",
                    i ? "," : "", names[i], tabs[i]->rows_old, tabs[i]->rows_new, tabs[i]->added, tabs[i]->removed,
                    tabs[i]->changed);
        fprintf(out, "},\"programs\":[");
        bool first = true;
        for (uint32_t i = 0; i < d->nprog; i++) {
            if (!any(&d->by_prog[idx[i]]))
                continue;
            fprintf(out, "%s{\"program\":\"%s\",", first ? "" : ",", d->prog[idx[i]]);
            json_elig(out, &d->by_prog[idx[i]]);
            first = false;
        }
        fprintf(out, "],\"provinces\":[");
        first = true;
        for (int p = 0; p < CMP_PROVINCES; p++)
            for (uint32_t i = 0; i < d->nprog; i++) {
                if (!any(&d->by_prov[p][idx[i]]))
                    continue;
                fprintf(out, "%s{\"province\":\"%02d\",\"program\":\"%s\",", first ? "" : ",", p, d->prog[idx[i]]);
                json_elig(out, &d->by_prov[p][idx[i]]);
                first = false;
            }
        fprintf(out, "]}\n");
        return;
    }
    fprintf(out, "diff %s (content %.12s) -> %s (content %.12s), period %s\n\n", d->old_id, d->old_content,
            d->new_id, d->new_content, month);
    fprintf(out, "  %-22s %12s %12s %10s %10s %10s\n", "table", "rows old", "rows new", "added", "removed",
            "changed");
    for (int i = 0; i < 3; i++)
        fprintf(out, "  %-22s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", names[i],
                tabs[i]->rows_old, tabs[i]->rows_new, tabs[i]->added, tabs[i]->removed, tabs[i]->changed);
    fprintf(out, "\n  %-22s %12s %12s %10s %10s  %s\n", "programme", "eligible old", "eligible new", "gained",
            "lost", "month's total amount old -> new (change)");
    for (uint32_t i = 0; i < d->nprog; i++)
        if (any(&d->by_prog[idx[i]]))
            human_elig(out, d->prog[idx[i]], &d->by_prog[idx[i]]);
    fprintf(out, "\n  %-22s %12s %12s %10s %10s  %s\n", "province / programme", "eligible old", "eligible new",
            "gained", "lost", "month's total amount old -> new (change)");
    for (int p = 0; p < CMP_PROVINCES; p++)
        for (uint32_t i = 0; i < d->nprog; i++) {
            if (!any(&d->by_prov[p][idx[i]]))
                continue;
            char label[40];
            snprintf(label, sizeof label, "%02d %s", p, d->prog[idx[i]]);
            human_elig(out, label, &d->by_prov[p][idx[i]]);
        }
}
