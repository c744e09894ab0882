/* resolve.c — the rules that look across rows (SPEC 1), in precedence
 * order, each linear after a radix sort:
 *
 *   duplicate_kk, duplicate_kks  households sorted by kk / kks pairs by kks
 *   duplicate_nik                members sorted by nik
 *   unknown_kk                   members: hash of accepted kk;
 *                                enrollments: merge with households by kk
 *   overlapping_enrollment       enrollments sorted by (kk, program, start)
 *
 * A row rejected by an earlier rule keeps that reason; every row involved
 * in a duplicate or an overlap is rejected, not just the later ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "elig.h"
#include "radix.h"

static int oom(char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "out of memory (%s)", what);
    return -1;
}

/* Sorts with the builder's one scratch buffer, grown as needed: the sort
 * buffer is zero-filled by the kernel once, not once per sort. */
static int radix_sort_(snap_builder *b, void *base, size_t n, size_t size, size_t key_off) {
    size_t need = n * size;
    if (need > b->scratch_len) {
        big_free(b->scratch, b->scratch_len);
        b->scratch_len = 0;
        if (!(b->scratch = big_alloc(need)))
            return -1;
        b->scratch_len = need;
    }
    radix_sort_with(base, b->scratch, n, size, key_off);
    return 0;
}

/* ---- households ---------------------------------------------------------- */

static int households(snap_builder *b, char *err, size_t errlen) {
    hh_row *h = b->hh.v;
    size_t n = b->hh.n;
    if (radix_sort_(b, h, n, sizeof *h, 0) != 0)
        return oom(err, errlen, "sorting households");
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && h[j].kk == h[i].kk)
            j++;
        if (j - i > 1)
            for (size_t k = i; k < j; k++) {
                h[k].reject = SNAP_DUPLICATE_KK;
                if (snap_reject(b, SNAP_HOUSEHOLDS, h[k].off, SNAP_DUPLICATE_KK) != 0)
                    return oom(err, errlen, "rejects");
            }
        i = j;
    }
    /* kks duplicates among every row that passed the field rules, the
     * duplicate_kk ones included: the keys are judged separately. */
    for (size_t i = 0; i < n; i++) {
        if (!h[i].has_kks)
            continue;
        kks_row *p = VEC_PUSH_SLOT(b->kks);
        if (!p)
            return oom(err, errlen, "kks index");
        p->kks = h[i].kks;
        p->idx = i;
    }
    kks_row *p = b->kks.v;
    size_t m = b->kks.n;
    if (radix_sort_(b, p, m, sizeof *p, 0) != 0)
        return oom(err, errlen, "sorting kks");
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && p[j].kks == p[i].kks)
            j++;
        if (j - i > 1)
            for (size_t k = i; k < j; k++) {
                hh_row *row = &h[p[k].idx];
                if (row->reject)
                    continue; /* duplicate_kk comes first */
                row->reject = SNAP_DUPLICATE_KKS;
                if (snap_reject(b, SNAP_HOUSEHOLDS, row->off, SNAP_DUPLICATE_KKS) != 0)
                    return oom(err, errlen, "rejects");
            }
        i = j;
    }
    return 0;
}

/* ---- members ------------------------------------------------------------- */

/* Accepted households by kk: open addressing, at most half full. */
typedef struct {
    uint64_t *key; /* kk + 1 would waste nothing: a valid kk is never 0 */
    uint32_t *idx;
    size_t mask;
} kk_index;

static inline size_t kk_slot(uint64_t kk, size_t mask) {
    return (size_t)((kk * 0x9E3779B97F4A7C15u) >> 20) & mask;
}

static int kk_index_build(kk_index *x, const hh_row *h, size_t n) {
    size_t cap = 1024;
    while (cap < 2 * n)
        cap *= 2;
    x->mask = cap - 1;
    x->key = big_alloc(cap * sizeof *x->key);
    x->idx = big_alloc(cap * sizeof *x->idx);
    if (!x->key || !x->idx)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (h[i].reject)
            continue;
        size_t s = kk_slot(h[i].kk, x->mask);
        while (x->key[s])
            s = (s + 1) & x->mask;
        x->key[s] = h[i].kk;
        x->idx[s] = (uint32_t)i;
    }
    return 0;
}

/* Index of the accepted household kk, or -1. */
static inline int64_t kk_index_find(const kk_index *x, uint64_t kk) {
    for (size_t s = kk_slot(kk, x->mask); x->key[s]; s = (s + 1) & x->mask)
        if (x->key[s] == kk)
            return x->idx[s];
    return -1;
}

static void kk_index_free(kk_index *x) {
    big_free(x->key, (x->mask + 1) * sizeof *x->key);
    big_free(x->idx, (x->mask + 1) * sizeof *x->idx);
}

/* Looks up each member's family, PREFETCH rows ahead so the random reads
 * overlap: unknown_kk, or one more member for the household. */
#define PREFETCH 16
static void member_families(snap_builder *b, const kk_index *x) {
    mem_row *m = b->mem.v;
    size_t n = b->mem.n;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH < n) {
            size_t s = kk_slot(m[i + PREFETCH].kk, x->mask);
            __builtin_prefetch(&x->key[s]);
            __builtin_prefetch(&x->idx[s]);
        }
        if (m[i].reject)
            continue;
        int64_t hi = kk_index_find(x, m[i].kk);
        if (hi < 0)
            m[i].reject = SNAP_UNKNOWN_KK;
        else
            b->hh.v[hi].members++;
    }
}

static int members(snap_builder *b, char *err, size_t errlen) {
    mem_row *m = b->mem.v;
    size_t n = b->mem.n;
    if (radix_sort_(b, m, n, sizeof *m, 0) != 0)
        return oom(err, errlen, "sorting members");
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && m[j].nik == m[i].nik)
            j++;
        if (j - i > 1)
            for (size_t k = i; k < j; k++)
                m[k].reject = SNAP_DUPLICATE_NIK;
        i = j;
    }
    kk_index x = {0};
    if (kk_index_build(&x, b->hh.v, b->hh.n) != 0) {
        kk_index_free(&x);
        return oom(err, errlen, "household index");
    }
    member_families(b, &x);
    kk_index_free(&x);
    for (size_t i = 0; i < n; i++)
        if (m[i].reject && snap_reject(b, SNAP_MEMBERS, m[i].off, (snap_reason)m[i].reject) != 0)
            return oom(err, errlen, "rejects");
    return 0;
}

/* ---- enrollments --------------------------------------------------------- */

typedef struct {
    char name[16];
    uint32_t id;
} prog_sort;

static int cmp_prog(const void *a, const void *b) {
    return memcmp(((const prog_sort *)a)->name, ((const prog_sort *)b)->name, 16);
}

/* Ranks the programme names in byte order (zero padding sorts "PKH"
 * before "PKH2") and renumbers the enrollments by rank, so sorting on
 * key2 orders them by (program, start). Names end up stored by rank. */
static int prog_finish(snap_builder *b) {
    prog_tab *t = &b->prog;
    size_t n = t->n;
    prog_sort *order = malloc((n + 1) * sizeof *order);
    uint8_t *len = malloc(n + 1);
    t->rank = malloc((n + 1) * sizeof *t->rank);
    if (!order || !len || !t->rank) {
        free(order);
        free(len);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        memcpy(order[i].name, t->name[i], 16);
        order[i].id = i;
    }
    qsort(order, n, sizeof *order, cmp_prog);
    for (uint32_t r = 0; r < n; r++) {
        t->rank[order[r].id] = r;
        memcpy(t->name[r], order[r].name, 16);
        len[r] = t->len[order[r].id];
    }
    free(order);
    free(t->len);
    t->len = len;
    for (size_t i = 0; i < b->enr.n; i++) {
        enr_row *e = &b->enr.v[i];
        uint64_t id = e->key2 >> ENR_PROG_SHIFT;
        e->key2 = (uint64_t)t->rank[id] << ENR_PROG_SHIFT | (e->key2 & ENR_START_MASK);
    }
    return 0;
}

/* unknown_kk by merging the two kk-sorted arrays. Of a run of households
 * sharing a kk all are rejected, so looking at the first one is enough. */
static void enrollment_families(snap_builder *b) {
    const hh_row *h = b->hh.v;
    size_t nh = b->hh.n, j = 0;
    for (size_t i = 0; i < b->enr.n; i++) {
        enr_row *e = &b->enr.v[i];
        while (j < nh && h[j].kk < e->kk)
            j++;
        if (!(j < nh && h[j].kk == e->kk && h[j].reject == 0))
            e->reject = SNAP_UNKNOWN_KK;
    }
}

/* Overlaps within one (kk, program) group e[0..n), sorted by start, all
 * standing. Row i overlaps an earlier row iff its start is <= the largest
 * end before it, and a later row iff the next row starts <= its end; so
 * two linear tests find every row involved. */
static void overlaps_in_group(enr_row *e, size_t n) {
    uint32_t max_end = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t start = (uint32_t)(e[i].key2 & ENR_START_MASK);
        bool before = i > 0 && start <= max_end;
        bool after = i + 1 < n && (uint32_t)(e[i + 1].key2 & ENR_START_MASK) <= e[i].end;
        if (i == 0 || e[i].end > max_end)
            max_end = e[i].end;
        if (before || after)
            e[i].reject = SNAP_OVERLAPPING_ENROLLMENT;
    }
}

static void overlaps(snap_builder *b) {
    enr_row *e = b->enr.v;
    size_t n = b->enr.n;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        uint64_t prog = e[i].key2 >> ENR_PROG_SHIFT;
        while (j < n && e[j].kk == e[i].kk && e[j].key2 >> ENR_PROG_SHIFT == prog)
            j++;
        /* a family's rows are all unknown or all standing */
        if (!e[i].reject && j - i > 1)
            overlaps_in_group(e + i, j - i);
        i = j;
    }
}

/* The `household` result lists a family's enrollments in the order of the
 * input file: SPEC 3 names no order, and the registry's own is the one an
 * operator (or another implementation reading the file front to back) would
 * expect. Two stable sorts, by file offset then by kk. The offset shares its
 * word with `status` and `reject`, above it: status is parked in key2's top
 * bit meanwhile so it cannot order the rows; rejected rows may end up
 * anywhere in their family's run, as they are not written. */
#define ENR_WORD3 (offsetof(enr_row, amount) + sizeof(uint32_t)) /* off, status, reject */
#define ENR_PARKED_STATUS (UINT64_C(1) << 63)
_Static_assert(sizeof(enr_row) == ENR_WORD3 + 8, "enr_row: off/status/reject are its last word");

static int input_order(snap_builder *b) {
    enr_row *e = b->enr.v;
    size_t n = b->enr.n;
    for (size_t i = 0; i < n; i++) {
        e[i].key2 |= e[i].status ? ENR_PARKED_STATUS : 0;
        e[i].status = 0;
    }
    if (radix_sort_(b, e, n, sizeof *e, ENR_WORD3) != 0 || radix_sort_(b, e, n, sizeof *e, 0) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        e[i].status = (e[i].key2 & ENR_PARKED_STATUS) != 0;
        e[i].key2 &= ~ENR_PARKED_STATUS;
    }
    return 0;
}

static int enrollments(snap_builder *b, char *err, size_t errlen) {
    if (prog_finish(b) != 0)
        return oom(err, errlen, "programme names");
    enr_row *e = b->enr.v;
    size_t n = b->enr.n;
    if (radix_sort_(b, e, n, sizeof *e, offsetof(enr_row, key2)) != 0 || radix_sort_(b, e, n, sizeof *e, 0) != 0)
        return oom(err, errlen, "sorting enrollments");
    enrollment_families(b);
    overlaps(b);
    for (size_t i = 0; i < n; i++)
        if (e[i].reject && snap_reject(b, SNAP_ENROLLMENTS, e[i].off, (snap_reason)e[i].reject) != 0)
            return oom(err, errlen, "rejects");
    if (input_order(b) != 0)
        return oom(err, errlen, "sorting enrollments");
    return 0;
}

int snap_resolve(snap_builder *b, char *err, size_t errlen) {
    double t = snap_now();
    if (households(b, err, errlen) != 0)
        return -1;
    snap_stage(" households", &t);
    if (members(b, err, errlen) != 0)
        return -1;
    snap_stage(" members", &t);
    if (enrollments(b, err, errlen) != 0)
        return -1;
    snap_stage(" enrollments", &t);
    big_free(b->scratch, b->scratch_len); /* the sorts are done */
    b->scratch = NULL;
    b->scratch_len = 0;
    return 0;
}
