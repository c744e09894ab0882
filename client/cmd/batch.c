/* batch.c — `elig batch`: CSV of queries in, CSV of answers out, pipelined.
 *
 * Rows wait in a ring in input order. Good rows are grouped into requests
 * (one check each, or check_batch of --batch-size) kept --pipeline deep in
 * flight; a malformed row takes its place in the ring with its error, so
 * the output keeps the input's order row for row. When a request cannot
 * be answered at all (no server, timeout), reading stops: the rows already
 * read are written out, each with its error, and the exit status is 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

#define MAX_STDERR_ERRORS 100 /* row errors echoed on stderr, then counted */

enum { COL_KIND, COL_ID, COL_PROGRAM, COL_PERIOD, NCOLS };
static const char *const col_names[NCOLS] = {"kind", "id", "program", "period"};

typedef struct {
    unsigned long line;
    char *bad;          /* malformed: "bad id", ... (owned); NULL when good */
    char *echo[NCOLS];  /* malformed: the fields as read (owned, may be NULL) */
    char kind[4], id[17], program[17], period[8];
} row;

typedef struct {
    eligc_conn *c;
    const batch_opts *bo;
    const char *name; /* input name for messages */
    outbuf out;

    row *ring;        /* rows read, not yet written out */
    size_t cap, head, len;
    size_t unsent;    /* good rows at the back not yet in a request */
    size_t *reqs;     /* good rows per request in flight, a ring of depth */
    size_t rq_head, rq_len;
    eligc_query *gq;  /* the group being sent */
    eligc_answer *ans;

    int col[NCOLS];   /* field index of each column */
    size_t nfields;   /* fields a row must have */

    unsigned long rows, answered, failed, shown;
    int stop;         /* error that stopped reading, else 0 */
    char stop_msg[512];
} batch;

static row *ring_at(batch *b, size_t i) { return &b->ring[(b->head + i) % b->cap]; }

static void report(batch *b, unsigned long line, const char *msg) {
    b->failed++;
    if (b->shown++ < MAX_STDERR_ERRORS)
        fprintf(stderr, "elig: batch: %s:%lu: %s\n", b->name, line, msg);
    else if (b->shown == MAX_STDERR_ERRORS + 1)
        fprintf(stderr, "elig: batch: further row errors only in the error column\n");
}

static void cell(outbuf *o, const char *s) { out_csv_cell(o, s, strlen(s)); }

/* One output row: the query as read, then the answer or the error. */
static void write_row(batch *b, const row *r, const eligc_answer *a, const char *err) {
    outbuf *o = &b->out;
    const char *q[NCOLS] = {r->kind, r->id, r->program, r->period};
    for (int i = 0; i < NCOLS; i++) {
        cell(o, r->bad ? (r->echo[i] ? r->echo[i] : "") : q[i]);
        out_bytes(o, ",", 1);
    }
    if (a) {
        out_str(o, a->eligible ? "true," : "false,");
        out_str(o, elig_reason_code(a->reason));
        out_bytes(o, ",", 1);
        out_u64(o, a->amount);
        out_bytes(o, ",", 1);
        out_str(o, a->kk);
        out_bytes(o, ",", 1);
        out_str(o, a->region);
        out_bytes(o, ",", 1);
        cell(o, a->snapshot);
        out_str(o, ",\n");
        b->answered++;
    } else {
        char msg[600];
        snprintf(msg, sizeof msg, "line %lu: %s", r->line, err);
        out_str(o, ",,,,,,");
        cell(o, msg);
        out_str(o, "\n");
        report(b, r->line, err);
    }
    if (o->len >= (1 << 20) && out_flush(o) != 0) {
        fprintf(stderr, "elig: batch: writing the answers: %s\n", strerror(errno));
        exit(EXIT_FAIL);
    }
}

static void pop_row(batch *b) {
    row *r = ring_at(b, 0);
    free(r->bad);
    for (int i = 0; i < NCOLS; i++)
        free(r->echo[i]);
    memset(r, 0, sizeof *r);
    b->head = (b->head + 1) % b->cap;
    b->len--;
}

/* Writes out the malformed rows at the front of the ring. */
static void flush_bad_front(batch *b) {
    while (b->len > 0 && ring_at(b, 0)->bad) {
        write_row(b, ring_at(b, 0), NULL, ring_at(b, 0)->bad);
        pop_row(b);
    }
}

static bool stops_batch(int rc) {
    return rc == ELIGC_ECONNECT || rc == ELIGC_ECONNLOST || rc == ELIGC_ETIMEOUT ||
           rc == ELIGC_EPROTO || rc == ELIGC_ENOMEM;
}

/* Collects the oldest request and writes out its rows. */
static void collect(batch *b) {
    flush_bad_front(b);
    if (b->rq_len == 0)
        return;
    size_t k = b->reqs[b->rq_head];
    b->rq_head = (b->rq_head + 1) % b->bo->depth;
    b->rq_len--;
    int rc = b->bo->group == 1 ? eligc_recv_check(b->c, &b->ans[0])
                               : eligc_recv_check_batch(b->c, b->ans, k);
    const char *err = rc ? eligc_errmsg(b->c) : NULL;
    for (size_t j = 0; j < k; j++) {
        flush_bad_front(b);
        write_row(b, ring_at(b, 0), rc ? NULL : &b->ans[j], err);
        pop_row(b);
    }
    if (rc && stops_batch(rc) && !b->stop) {
        b->stop = rc;
        snprintf(b->stop_msg, sizeof b->stop_msg, "%s", eligc_errmsg(b->c));
    }
    flush_bad_front(b);
}

/* Sends the unsent good rows at the back of the ring as one request. */
static void send_group(batch *b) {
    size_t n = 0;
    for (size_t i = 0; i < b->len && n < b->unsent; i++) {
        row *r = ring_at(b, b->len - 1 - i); /* walk back to collect them */
        if (r->bad)
            continue;
        n++;
        b->gq[b->unsent - n] = (eligc_query){
            .kind = (elig_kind)elig_kind_lookup(r->kind, strlen(r->kind)),
            .id = r->id, .program = r->program, .period = r->period};
    }
    int rc = b->bo->group == 1 ? eligc_send_check(b->c, &b->gq[0])
                               : eligc_send_check_batch(b->c, b->gq, b->unsent);
    if (rc) { /* rows were validated and depth < max_pending: out of memory */
        fprintf(stderr, "elig: batch: %s\n", eligc_errmsg(b->c));
        exit(EXIT_FAIL);
    }
    b->reqs[(b->rq_head + b->rq_len) % b->bo->depth] = b->unsent;
    b->rq_len++;
    b->unsent = 0;
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Fills r from a record: a good row, or a malformed one with its reason. */
static void make_row(batch *b, const csv_record *rec, row *r) {
    char why[96] = "";
    r->line = rec->line;
    if (rec->bad)
        snprintf(why, sizeof why, "malformed row: %s", rec->bad);
    else if (rec->n != b->nfields)
        snprintf(why, sizeof why, "malformed row: %zu fields, expected %zu", rec->n, b->nfields);
    if (!why[0]) {
        const char *f[NCOLS];
        for (int i = 0; i < NCOLS; i++)
            f[i] = rec->field[b->col[i]];
        int kind = elig_kind_lookup(f[COL_KIND], rec->len[b->col[COL_KIND]]);
        eligc_query q = {.kind = kind < 0 ? ELIG_KIND_COUNT : (elig_kind)kind,
                         .id = f[COL_ID], .program = f[COL_PROGRAM], .period = f[COL_PERIOD]};
        const char *field;
        bool nul = false; /* a NUL byte would hide the rest of a field */
        for (int i = 0; i < NCOLS; i++)
            nul |= strlen(f[i]) != rec->len[b->col[i]];
        if (nul)
            snprintf(why, sizeof why, "malformed row: NUL byte in a field");
        else if (eligc_query_valid(&q, &field) != 0)
            snprintf(why, sizeof why, "bad %s", field);
        else {
            strcpy(r->kind, f[COL_KIND]);
            strcpy(r->id, f[COL_ID]);
            strcpy(r->program, f[COL_PROGRAM]);
            strcpy(r->period, f[COL_PERIOD]);
            return;
        }
    }
    r->bad = dup_n(why, strlen(why));
    for (int i = 0; i < NCOLS; i++) {
        size_t k = b->nfields == NCOLS ? (size_t)i : (size_t)b->col[i];
        if (k < rec->n)
            r->echo[i] = dup_n(rec->field[k], rec->len[k]);
    }
}

/* A first record naming a `kind` column is a header: columns are then found
 * by name, in any order, others ignored. 1 header, 0 data, -1 bad header. */
static int read_header(batch *b, const csv_record *rec) {
    bool named = false;
    for (size_t i = 0; i < rec->n; i++)
        named |= strcmp(rec->field[i], "kind") == 0;
    if (!named) {
        for (int i = 0; i < NCOLS; i++)
            b->col[i] = i;
        b->nfields = NCOLS;
        return 0;
    }
    for (int c = 0; c < NCOLS; c++) {
        b->col[c] = -1;
        for (size_t i = 0; i < rec->n; i++)
            if (strcmp(rec->field[i], col_names[c]) == 0)
                b->col[c] = (int)i;
        if (b->col[c] < 0) {
            fprintf(stderr, "elig: batch: %s:%lu: header has no column '%s'\n", b->name,
                    rec->line, col_names[c]);
            return -1;
        }
    }
    b->nfields = rec->n;
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(batch *b, double t0, double *last) {
    double t = now_s();
    if (t - *last < 0.25)
        return;
    *last = t;
    fprintf(stderr, "\relig: batch: %lu rows, %.0f rows/s ", b->rows, b->rows / (t - t0));
}

/* Makes room in the ring for one more row. */
static void make_room(batch *b) {
    while (b->len == b->cap) {
        if (b->unsent)
            send_group(b);
        if (b->rq_len)
            collect(b);
        else
            flush_bad_front(b);
    }
}

static void batch_init(batch *b, eligc_conn *c, const batch_opts *bo) {
    memset(b, 0, sizeof *b);
    b->c = c;
    b->bo = bo;
    b->name = bo->input && strcmp(bo->input, "-") != 0 ? bo->input : "stdin";
    b->cap = bo->depth * bo->group + bo->group + 1024;
    b->ring = calloc(b->cap, sizeof *b->ring);
    b->reqs = calloc(bo->depth, sizeof *b->reqs);
    b->gq = calloc(bo->group, sizeof *b->gq);
    b->ans = calloc(bo->group, sizeof *b->ans);
    if (!b->ring || !b->reqs || !b->gq || !b->ans) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    out_init(&b->out, stdout);
    out_str(&b->out, "kind,id,program,period,eligible,reason,amount,kk,region,snapshot,error\n");
}

/* Reads every record (until a stop) through the pipeline. 0, or -1 when the
 * input could not be read or has a bad header. */
static int feed(batch *b, csv_reader *r, bool tty, double t0) {
    csv_record rec;
    double last = t0;
    bool first = true;
    int s = 0;
    while (!b->stop && (s = csv_next(r, &rec)) == 1) {
        if (first) {
            first = false;
            int h = read_header(b, &rec);
            if (h < 0)
                return -1;
            if (h > 0)
                continue;
        }
        make_room(b);
        row *w = ring_at(b, b->len++);
        make_row(b, &rec, w);
        b->rows++;
        if (!w->bad && ++b->unsent == b->bo->group)
            send_group(b);
        while (b->rq_len >= b->bo->depth)
            collect(b);
        if (tty && (b->rows & 0x3fff) == 0)
            progress(b, t0, &last);
    }
    if (!b->stop && s < 0) {
        fprintf(stderr, "elig: batch: reading %s: %s\n", b->name, strerror(errno));
        return -1;
    }
    return 0;
}

int batch_run(eligc_conn *c, const batch_opts *bo) {
    int fd = 0;
    if (bo->input && strcmp(bo->input, "-") != 0 && (fd = open(bo->input, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "elig: batch: %s: %s\n", bo->input, strerror(errno));
        return EXIT_FAIL;
    }
    csv_reader *r = csv_open(fd);
    batch b;
    batch_init(&b, c, bo);
    if (!r) {
        fputs("elig: out of memory\n", stderr);
        return EXIT_FAIL;
    }
    bool tty = isatty(2);
    double t0 = now_s();
    int rc = feed(&b, r, tty, t0);
    if (b.unsent) /* after a stop too: each row is answered or gets its error */
        send_group(&b);
    while (b.rq_len)
        collect(&b);
    flush_bad_front(&b);
    double t = now_s() - t0;
    if (tty)
        fputs("\r\033[K", stderr);
    if (out_flush(&b.out) != 0) {
        fprintf(stderr, "elig: batch: writing the answers: %s\n", strerror(errno));
        rc = -1;
    }
    if (b.stop)
        fprintf(stderr, "elig: batch: stopped after %lu rows: %s\n", b.rows, b.stop_msg);
    if (!bo->quiet)
        fprintf(stderr, "elig: batch: %lu rows in %.2f s (%.0f rows/s): %lu answered, %lu failed\n",
                b.rows, t, t > 0 ? b.rows / t : 0.0, b.answered, b.failed);
    csv_close(r);
    if (fd > 0)
        close(fd);
    out_free(&b.out);
    free(b.ring);
    free(b.reqs);
    free(b.gq);
    free(b.ans);
    return rc == 0 && !b.stop && b.failed == 0 ? EXIT_OK : EXIT_FAIL;
}
