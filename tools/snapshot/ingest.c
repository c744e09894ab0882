/* ingest.c — one input file: header by name, then each row through the
 * field rules of SPEC 1, column by column in the order of the tables.
 * A row that passes becomes a packed row; one that fails is noted as
 * rejected with the first reason that applies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "builder.h"
#include "csv.h"
#include "elig.h"

#define MAX_COLS 6 /* columns a file names at most */

typedef struct {
    const char *name;
    bool required;
} col_spec;

/* Columns of each file in rule order (SPEC 1 tables). */
static const col_spec file_cols[SNAP_NFILES][MAX_COLS] = {
    [SNAP_HOUSEHOLDS] = {{"kk", true}, {"region", true}, {"status", true}, {"kks", false}, {"head_name", false}},
    [SNAP_MEMBERS] = {{"nik", true}, {"kk", true}, {"status", false}, {"birth_date", false}},
    [SNAP_ENROLLMENTS] = {{"kk", true}, {"program", true}, {"start", true}, {"end", false}, {"amount", true},
                          {"status", true}},
};

static size_t ncols(int file) {
    size_t n = 0;
    while (n < MAX_COLS && file_cols[file][n].name)
        n++;
    return n;
}

int vec_reserve_(void **v, size_t *cap, size_t n, size_t size) {
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 65536;
    while (c < n)
        c *= 2;
    void *p = big_realloc(*v, *cap * size, c * size);
    if (!p)
        return -1;
    *v = p;
    *cap = c;
    return 0;
}

int snap_reject(snap_builder *b, int file, uint64_t off, snap_reason why) {
    rej_row *r = VEC_PUSH_SLOT(b->rej[file]);
    if (!r)
        return -1;
    r->key = (uint64_t)file << 56 | off;
    r->reason = why;
    b->in[file].rejected++;
    return 0;
}

/* ---- programme names ---------------------------------------------------- */

static uint32_t prog_hash(const char name[16]) {
    uint64_t a, c;
    memcpy(&a, name, 8);
    memcpy(&c, name + 8, 8);
    uint64_t h = (a ^ (c * 0x9E3779B97F4A7C15u)) * 0xFF51AFD7ED558CCDu;
    return (uint32_t)(h >> 32);
}

static int prog_grow(prog_tab *t) {
    uint32_t nslot = t->nslot ? t->nslot * 2 : 64;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return -1;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = prog_hash(t->name[id]) & (nslot - 1);
        while (slot[i])
            i = (i + 1) & (nslot - 1);
        slot[i] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    return 0;
}

/* The id of a valid programme name, interning it; -1 if out of memory. */
static int64_t prog_intern(prog_tab *t, const char *s, size_t n) {
    char key[16] = {0};
    memcpy(key, s, n);
    if (t->n * 2 >= t->nslot && prog_grow(t) != 0)
        return -1;
    uint32_t i = prog_hash(key) & (t->nslot - 1);
    for (; t->slot[i]; i = (i + 1) & (t->nslot - 1))
        if (memcmp(t->name[t->slot[i] - 1], key, 16) == 0)
            return t->slot[i] - 1;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        void *nm = realloc(t->name, (size_t)cap * 16), *ln = realloc(t->len, cap);
        if (nm)
            t->name = nm;
        if (ln)
            t->len = ln;
        if (!nm || !ln)
            return -1;
        t->cap = cap;
    }
    memcpy(t->name[t->n], key, 16);
    t->len[t->n] = (uint8_t)n;
    t->slot[i] = t->n + 1;
    return t->n++;
}

void prog_free(prog_tab *t) {
    free(t->name);
    free(t->len);
    free(t->slot);
    free(t->rank);
    memset(t, 0, sizeof *t);
}

/* ---- field rules -------------------------------------------------------- */

#define IS(f, lit) ((f)->n == sizeof(lit) - 1 && memcmp((f)->p, lit, sizeof(lit) - 1) == 0)

/* 10 digits -> number (already validated). */
static uint64_t digits10(const char *s) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

static snap_reason household_rules(const csv_field *f, hh_row *h) {
    const csv_field *kk = &f[0], *region = &f[1], *status = &f[2], *kks = &f[3], *name = &f[4];
    if (!elig_valid_kk(kk->p, kk->n))
        return SNAP_BAD_KK;
    elig_parse_id16(kk->p, kk->n, &h->kk);
    if (!elig_valid_region(region->p, region->n))
        return SNAP_BAD_REGION;
    h->region = digits10(region->p);
    int st = elig_hh_status_lookup(status->p, status->n);
    if (st < 0)
        return SNAP_BAD_STATUS;
    h->status = (uint8_t)st;
    h->has_kks = kks->n != 0;
    h->kks = 0;
    if (h->has_kks && elig_parse_id16(kks->p, kks->n, &h->kks) != 0)
        return SNAP_BAD_KKS;
    if (name->n > 100 || !elig_valid_utf8(name->p, name->n))
        return SNAP_BAD_NAME;
    h->members = 0;
    h->reject = 0;
    h->pad_ = 0;
    return SNAP_OK;
}

static snap_reason member_rules(const csv_field *f, mem_row *m) {
    const csv_field *nik = &f[0], *kk = &f[1], *status = &f[2], *birth = &f[3];
    if (!elig_valid_nik(nik->p, nik->n))
        return SNAP_BAD_NIK;
    uint64_t v;
    elig_parse_id16(nik->p, nik->n, &v);
    m->nik = v;
    if (!elig_valid_kk(kk->p, kk->n))
        return SNAP_BAD_KK;
    elig_parse_id16(kk->p, kk->n, &v);
    m->kk = v;
    if (status->n == 0 || IS(status, "alive"))
        m->status = ELIG_MEMBER_ALIVE;
    else if (IS(status, "deceased"))
        m->status = ELIG_MEMBER_DECEASED;
    else
        return SNAP_BAD_STATUS;
    if (birth->n != 0 && !elig_valid_date(birth->p, birth->n))
        return SNAP_BAD_BIRTH_DATE;
    m->reject = 0;
    return SNAP_OK;
}

static snap_reason enrollment_rules(prog_tab *progs, const csv_field *f, enr_row *e, bool *oom) {
    const csv_field *kk = &f[0], *program = &f[1], *start = &f[2], *end = &f[3], *amount = &f[4],
                    *status = &f[5];
    if (!elig_valid_kk(kk->p, kk->n))
        return SNAP_BAD_KK;
    elig_parse_id16(kk->p, kk->n, &e->kk);
    if (!elig_valid_program(program->p, program->n))
        return SNAP_BAD_PROGRAM;
    elig_month s, t = ELIG_MONTH_OPEN;
    if (elig_parse_period(start->p, start->n, &s) != 0)
        return SNAP_BAD_PERIOD;
    if (end->n != 0 && (elig_parse_period(end->p, end->n, &t) != 0 || t < s))
        return SNAP_BAD_PERIOD;
    uint32_t amt;
    if (!elig_parse_amount(amount->p, amount->n, &amt))
        return SNAP_BAD_AMOUNT;
    if (IS(status, "active"))
        e->status = ELIG_ENR_ACTIVE;
    else if (IS(status, "suspended"))
        e->status = ELIG_ENR_SUSPENDED;
    else
        return SNAP_BAD_STATUS;
    int64_t id = prog_intern(progs, program->p, program->n);
    if (id < 0) {
        *oom = true;
        return SNAP_OK;
    }
    e->key2 = (uint64_t)id << ENR_PROG_SHIFT | s;
    e->end = t;
    e->amount = amt;
    e->reject = 0;
    return SNAP_OK;
}

/* ---- header ------------------------------------------------------------- */

/* Finds the columns of `file` in the header: pos[c] = index in the row, or
 * -1 for an absent optional column. */
static int read_header(snap_input *in, int file, csv_reader *r, int *pos, size_t *width, char *err,
                       size_t errlen) {
    csv_record rec;
    int rc = csv_next(r, &rec);
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory reading the header", in->path);
        return -1;
    }
    if (rc == 0) {
        snprintf(err, errlen, "%s: empty file: no header row (missing required column %s)", in->path,
                 file_cols[file][0].name);
        return -1;
    }
    if (rec.err != CSV_OK) {
        snprintf(err, errlen, "%s:%llu: malformed header row (broken quoting)", in->path,
                 (unsigned long long)rec.line);
        return -1;
    }
    /* A CR inside the header row is no column name: it is the sign of a file
     * with CR-only (old Mac) line ends, which SPEC 1 does not allow and which
     * would otherwise read as a header and nothing else. */
    for (size_t i = 0; i < rec.nfields; i++) {
        if (memchr(rec.field[i].p, '\r', rec.field[i].n)) {
            snprintf(err, errlen,
                     "%s:%llu: the header row holds a bare CR (carriage return without a line feed): the file "
                     "seems to use CR-only line endings; convert them to LF or CRLF",
                     in->path, (unsigned long long)rec.line);
            return -1;
        }
    }
    size_t nc = ncols(file);
    for (size_t c = 0; c < nc; c++)
        pos[c] = -1;
    for (size_t i = 0; i < rec.nfields; i++) {
        for (size_t c = 0; c < nc; c++) {
            const char *name = file_cols[file][c].name;
            if (rec.field[i].n != strlen(name) || memcmp(rec.field[i].p, name, rec.field[i].n) != 0)
                continue;
            if (pos[c] >= 0) {
                snprintf(err, errlen, "%s:%llu: duplicate column %s", in->path, (unsigned long long)rec.line,
                         name);
                return -1;
            }
            pos[c] = (int)i;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        if (file_cols[file][c].required && pos[c] < 0) {
            snprintf(err, errlen, "%s: missing required column %s", in->path, file_cols[file][c].name);
            return -1;
        }
    }
    *width = rec.nfields;
    return 0;
}

/* ---- rows --------------------------------------------------------------- */

/* The row's fields in rule order (absent optional columns read as ""). */
static void pick(const csv_record *rec, const int *pos, size_t nc, csv_field *out) {
    for (size_t c = 0; c < nc; c++) {
        if (pos[c] >= 0) {
            out[c] = rec->field[pos[c]];
        } else {
            out[c].p = "";
            out[c].n = 0;
        }
    }
}

/* Accepts or rejects one well-formed row. 0, or -1 if out of memory. */
static int take_row(snap_builder *b, int file, const csv_field *f, uint64_t off) {
    snap_reason why;
    bool oom = false;
    switch (file) {
    case SNAP_HOUSEHOLDS: {
        hh_row *h = VEC_PUSH_SLOT(b->hh);
        if (!h)
            return -1;
        h->off = off;
        if ((why = household_rules(f, h)) != SNAP_OK)
            b->hh.n--;
        break;
    }
    case SNAP_MEMBERS: {
        mem_row *m = VEC_PUSH_SLOT(b->mem);
        if (!m)
            return -1;
        m->off = off;
        if ((why = member_rules(f, m)) != SNAP_OK)
            b->mem.n--;
        break;
    }
    default: {
        enr_row *e = VEC_PUSH_SLOT(b->enr);
        if (!e)
            return -1;
        e->off = off;
        if ((why = enrollment_rules(&b->prog, f, e, &oom)) != SNAP_OK)
            b->enr.n--;
        if (oom)
            return -1;
        break;
    }
    }
    return why == SNAP_OK ? 0 : snap_reject(b, file, off, why);
}

int snap_ingest(snap_builder *b, int file, bool print_progress, char *err, size_t errlen) {
    snap_input *in = &b->in[file];
    csv_reader r;
    csv_init(&r, in->buf, in->len);
    int pos[MAX_COLS];
    size_t width, nc = ncols(file);
    if (read_header(in, file, &r, pos, &width, err, errlen) != 0) {
        csv_free(&r);
        return -1;
    }
    csv_set_max_fields(&r, width);
    csv_record rec;
    csv_field f[MAX_COLS];
    int rc;
    while ((rc = csv_next(&r, &rec)) == 1) {
        in->read++;
        if ((in->read & 0xFFFF) == 0) {
            __atomic_fetch_add(&b->rows, 0x10000, __ATOMIC_RELAXED);
            snap_drop_behind(b, file, rec.offset);
            if (print_progress)
                snap_progress(b, false);
        }
        if (rec.err != CSV_OK || rec.nfields != width) {
            rc = snap_reject(b, file, rec.offset, SNAP_MALFORMED_ROW);
        } else {
            pick(&rec, pos, nc, f);
            rc = take_row(b, file, f, rec.offset);
        }
        if (rc != 0)
            break;
    }
    csv_free(&r);
    __atomic_fetch_add(&b->rows, in->read & 0xFFFF, __ATOMIC_RELAXED);
    if (rc != 0) {
        snprintf(err, errlen, "%s: out of memory", in->path);
        return -1;
    }
    return 0;
}
