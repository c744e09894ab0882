/* batch.c — `elig batch`: CSV of queries in, answers out (CSV or JSON
 * lines) in input order, pipelined, for a bank's disbursement run.
 *
 * Rows wait in a ring in input order, numbered by `seq`. Good rows queue
 * to be sent; requests (one check each, or check_batch of --batch-size)
 * are kept --pipeline deep in flight; each answer is stored on its row, and
 * rows leave the ring from the front as soon as they are complete, so the
 * output keeps the input's order row for row.
 *
 * Retries: when requests fail for a reason that may pass (connection lost
 * or refused, timeout, `unavailable`, `rate_limited`), the rows they
 * carried go back to the front of the send queue once the pipeline has
 * drained, after a pause that doubles up to --retry-max-wait; after
 * --retries failures in a row without an answer the run stops. Only
 * unanswered rows are sent again, so each row is answered exactly once.
 * With --snapshot-id, a row answered by another snapshot is sent again
 * likewise, until --snapshot-wait has passed without an answer from the
 * right one; then it is written with an error.
 *
 * A run that stops writes the rows answered before the first unanswered
 * one and nothing after it, so its output is a clean prefix that
 * `--resume OUT` continues: the rows already complete in OUT are matched
 * against the input (their query cells must be the same) and skipped, a
 * torn last line is cut off and redone. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

#define MAX_STDERR_ERRORS 100 /* row errors echoed on stderr, then counted */
#define MAX_SNAPSHOTS 255     /* distinct snapshot ids remembered per run */
#define FLUSH_AT (1 << 20)    /* output bytes buffered before a write */
#define FIRST_BACKOFF 0.1     /* seconds; doubles up to --retry-max-wait */

enum { COL_KIND, COL_ID, COL_PROGRAM, COL_PERIOD, NCOLS };
static const char *const col_names[NCOLS] = {"kind", "id", "program", "period"};
#define OUT_COLS 11 /* the fixed columns of a CSV answer row */
static const char csv_header[] = "kind,id,program,period,eligible,reason,amount,kk,region,snapshot,error";

/* A row's life: BAD (malformed, never sent), WAIT (queued to be sent),
 * SENT (in a request in flight), DONE (answered), FAILED (given up on:
 * only for --snapshot-id). BAD, DONE and FAILED rows can be written. */
enum { ROW_BAD, ROW_WAIT, ROW_SENT, ROW_DONE, ROW_FAILED };

typedef struct {
    unsigned long line;
    uint8_t state;
    uint8_t snap;       /* DONE: index into batch.snaps */
    uint8_t reason;     /* DONE: an elig_reason */
    bool eligible;
    uint32_t amount;
    char *msg;          /* BAD, FAILED: the error (owned) */
    char *echo[NCOLS];  /* BAD: the query fields as read (owned, may be NULL) */
    char *keep;         /* the pass-through cells, rendered for the output (owned) */
    size_t keep_len;
    char kind[4], id[17], program[17], period[8];
    char kk[17], region[11];
} row;

typedef struct {
    size_t n;           /* rows in the request */
    uint64_t *seq;      /* their seqs (batch.group of room) */
} request;

typedef struct {
    eligc_conn *c;
    const batch_opts *bo;
    const char *name;   /* input name for messages */
    outbuf out;
    FILE *outf;
    const char *out_name;

    row *ring;          /* rows read, not yet written out: seqs [head, head + len) */
    size_t cap, len;
    uint64_t head, next_seq;
    uint64_t *sendq;    /* seqs waiting to be sent, a deque of cap */
    size_t sq_head, sq_len;
    request *reqs;      /* requests in flight, a ring of depth */
    size_t rq_head, rq_len;
    uint64_t *retry;    /* seqs to send again after a pause */
    size_t n_retry;
    eligc_query *gq;
    eligc_answer *ans;

    int col[NCOLS];     /* field index of each query column */
    size_t nfields;     /* fields a row must have */
    size_t *keepcol;    /* field indices passed through, in order */
    char **keepname;    /* jsonl: their names, rendered as JSON strings */
    size_t nkeep;
    bool header_done;
    outbuf hdr;         /* the CSV output's header line, without newline */

    char snaps[MAX_SNAPSHOTS][ELIGC_SNAPSHOT_MAX + 1];
    size_t nsnaps;
    unsigned fails;     /* rounds of retryable failures since the last answer */
    bool failed_now;    /* this round has failed already */
    double server_wait; /* the longest wait a rate_limited answer asked for */
    char last_err[600];
    double mismatch_since; /* first answer from another snapshot since the last right one, or 0 */
    unsigned mismatch_round;

    /* --resume */
    int rfd;            /* OUT, being matched; -1 when not resuming */
    csv_reader *rr;     /* its CSV records, or */
    char *lbuf;         /* its lines (jsonl) */
    size_t lpos, llen, lcap;
    uint64_t lbase;
    bool leof;
    uint64_t keep_bytes; /* OUT's length up to the last complete row matched */
    unsigned long out_line; /* OUT's line of the record being matched */

    unsigned long rows, resumed, answered, failed, shown, not_pinned;
    unsigned long reasons[ELIG_REASON_COUNT];
    uint64_t total_amount;
    int stop;           /* why the run stopped early, else 0 */
    char stop_msg[800];
    unsigned long stop_line;

    uint64_t in_size;   /* input bytes, 0 when unknown */
    uint64_t in_done;
    prog_list progs;    /* the snapshot's programmes, from one info at the start */
} batch;

/* ---- messages ----------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One message on stderr: "elig: batch: FILE:LINE: text", or with JSON
 * errors {"error": text, "file": FILE, "line": LINE}. line 0: no place. */
static void say(const batch *b, const char *file, unsigned long line, const char *fmt, ...) {
    char text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cmd_error(b->bo->json_errors, "batch", file, line, text);
}

static void fatal_oom(void) {
    fputs("elig: out of memory\n", stderr);
    exit(EXIT_FAIL);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p)
        fatal_oom();
    return p;
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p)
        fatal_oom();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static row *at_seq(batch *b, uint64_t seq) { return &b->ring[seq % b->cap]; }

/* ---- writing rows ----------------------------------------------------- */

static void cell(outbuf *o, const char *s) { out_csv_cell(o, s, strlen(s)); }

/* The query part of a row's output: what a resumed run compares. */
static void write_prefix(const batch *b, outbuf *o, const row *r) {
    const char *q[NCOLS] = {r->kind, r->id, r->program, r->period};
    for (int i = 0; i < NCOLS; i++)
        if (r->state == ROW_BAD)
            q[i] = r->echo[i] ? r->echo[i] : "";
    if (!b->bo->jsonl) {
        for (int i = 0; i < NCOLS; i++) {
            cell(o, q[i]);
            out_bytes(o, ",", 1);
        }
        return;
    }
    out_str(o, "{\"line\":");
    out_u64(o, r->line);
    for (int i = 0; i < NCOLS; i++) {
        out_str(o, ",\"");
        out_str(o, col_names[i]);
        out_str(o, "\":");
        out_json_strn(o, q[i], strlen(q[i]));
    }
    out_bytes(o, ",", 1);
}

static void count_row(batch *b, const row *r) {
    if (r->state != ROW_DONE) {
        b->failed++;
        return;
    }
    b->answered++;
    b->reasons[r->reason]++;
    if (r->eligible)
        b->total_amount += r->amount;
}

static void flush_out(batch *b) {
    if (out_flush(&b->out) != 0) {
        say(b, b->out_name, 0, "writing the answers: %s", strerror(errno));
        exit(EXIT_FAIL);
    }
}

/* Writes the row at the front of the ring and drops it. */
static void write_front(batch *b) {
    row *r = at_seq(b, b->head);
    outbuf *o = &b->out;
    write_prefix(b, o, r);
    char err[700] = "";
    if (r->state != ROW_DONE)
        snprintf(err, sizeof err, "line %lu: %s", r->line, r->msg);
    if (!b->bo->jsonl) {
        if (r->state == ROW_DONE) {
            out_str(o, r->eligible ? "true," : "false,");
            out_str(o, elig_reason_code((elig_reason)r->reason));
            out_bytes(o, ",", 1);
            out_u64(o, r->amount);
            out_bytes(o, ",", 1);
            out_str(o, r->kk);
            out_bytes(o, ",", 1);
            out_str(o, r->region);
            out_bytes(o, ",", 1);
            cell(o, b->snaps[r->snap]);
            out_bytes(o, ",", 1);
        } else {
            out_str(o, ",,,,,,");
            cell(o, err);
        }
    } else if (r->state == ROW_DONE) {
        out_str(o, "\"eligible\":");
        out_str(o, r->eligible ? "true" : "false");
        out_str(o, ",\"reason\":");
        out_json_str(o, elig_reason_code((elig_reason)r->reason));
        out_str(o, ",\"amount\":");
        out_u64(o, r->amount);
        out_str(o, ",\"kk\":");
        out_json_str(o, r->kk[0] ? r->kk : NULL);
        out_str(o, ",\"region\":");
        out_json_str(o, r->region[0] ? r->region : NULL);
        out_str(o, ",\"snapshot\":");
        out_json_str(o, b->snaps[r->snap]);
        out_str(o, ",\"error\":null");
    } else {
        out_str(o, "\"eligible\":null,\"reason\":null,\"amount\":null,\"kk\":null,"
                   "\"region\":null,\"snapshot\":null,\"error\":");
        out_json_str(o, err);
    }
    if (r->keep)
        out_bytes(o, r->keep, r->keep_len);
    out_str(o, b->bo->jsonl ? "}\n" : "\n");
    if (r->state != ROW_DONE && b->shown++ < MAX_STDERR_ERRORS)
        say(b, b->name, r->line, "%s", r->msg);
    else if (r->state != ROW_DONE && b->shown == MAX_STDERR_ERRORS + 1)
        say(b, NULL, 0, "further row errors only in the error column");
    count_row(b, r);
    free(r->msg);
    for (int i = 0; i < NCOLS; i++)
        free(r->echo[i]);
    free(r->keep);
    memset(r, 0, sizeof *r);
    b->head++;
    b->len--;
    if (o->len >= FLUSH_AT)
        flush_out(b);
}

/* Writes out the complete rows at the front of the ring. */
static void write_ready(batch *b) {
    while (b->len > 0) {
        uint8_t s = at_seq(b, b->head)->state;
        if (s != ROW_BAD && s != ROW_DONE && s != ROW_FAILED)
            return;
        write_front(b);
    }
}

/* ---- sending and collecting --------------------------------------------- */

static void sq_push_back(batch *b, uint64_t seq) {
    b->sendq[(b->sq_head + b->sq_len++) % b->cap] = seq;
}

static void sq_push_front(batch *b, uint64_t seq) {
    b->sq_head = (b->sq_head + b->cap - 1) % b->cap;
    b->sendq[b->sq_head] = seq;
    b->sq_len++;
}

/* Sends the first n rows of the send queue as one request. */
static void send_group(batch *b, size_t n) {
    request *rq = &b->reqs[(b->rq_head + b->rq_len) % b->bo->depth];
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = b->sendq[b->sq_head];
        b->sq_head = (b->sq_head + 1) % b->cap;
        b->sq_len--;
        row *r = at_seq(b, seq);
        r->state = ROW_SENT;
        rq->seq[i] = seq;
        b->gq[i] = (eligc_query){.kind = (elig_kind)elig_kind_lookup(r->kind, strlen(r->kind)),
                                 .id = r->id, .program = r->program, .period = r->period};
    }
    rq->n = n;
    int rc = b->bo->group == 1 ? eligc_send_check(b->c, &b->gq[0])
                               : eligc_send_check_batch(b->c, b->gq, n);
    if (rc) { /* rows were validated and depth < max_pending: out of memory */
        say(b, NULL, 0, "%s", eligc_errmsg(b->c));
        exit(EXIT_FAIL);
    }
    b->rq_len++;
}

/* Errors worth another try: the server or the network may recover. */
static bool retryable(batch *b, int rc) {
    if (rc == ELIGC_ECONNECT || rc == ELIGC_ECONNLOST || rc == ELIGC_ETIMEOUT)
        return true;
    int code = eligc_server_code(b->c);
    return rc == ELIGC_ESERVER && (code == ELIG_ERRCODE_UNAVAILABLE || code == ELIG_ERRCODE_RATE_LIMITED);
}

static uint8_t snap_index(batch *b, const char *id) {
    for (size_t i = 0; i < b->nsnaps; i++)
        if (strcmp(b->snaps[i], id) == 0)
            return (uint8_t)i;
    size_t i = b->nsnaps < MAX_SNAPSHOTS ? b->nsnaps++ : MAX_SNAPSHOTS - 1;
    snprintf(b->snaps[i], sizeof b->snaps[i], "%s", id);
    return (uint8_t)i;
}

/* Stores one answer on its row, or sends the row back to be asked again
 * when --snapshot-id wants another snapshot. */
static void take_answer(batch *b, row *r, uint64_t seq, const eligc_answer *a) {
    const char *pin = b->bo->snapshot_id;
    if (pin && strcmp(a->snapshot, pin) != 0) {
        double t = now_s();
        if (b->mismatch_since == 0)
            b->mismatch_since = t;
        if (t - b->mismatch_since < b->bo->snapshot_wait) {
            r->state = ROW_WAIT;
            b->retry[b->n_retry++] = seq;
            return;
        }
        char msg[200];
        snprintf(msg, sizeof msg, "answered by snapshot %s, not %s (waited %.0f s)", a->snapshot,
                 pin, b->bo->snapshot_wait);
        r->msg = dup_n(msg, strlen(msg));
        r->state = ROW_FAILED;
        b->not_pinned++;
        return;
    }
    if (pin) {
        b->mismatch_since = 0;
        b->mismatch_round = 0;
    }
    r->state = ROW_DONE;
    r->eligible = a->eligible;
    r->reason = (uint8_t)a->reason;
    r->amount = a->amount;
    memcpy(r->kk, a->kk, sizeof r->kk);
    memcpy(r->region, a->region, sizeof r->region);
    r->snap = snap_index(b, a->snapshot);
}

static void stop_run(batch *b, int rc, const char *why) {
    if (b->stop)
        return;
    b->stop = rc;
    size_t n = strlen(why);
    if (n >= sizeof b->stop_msg)
        n = sizeof b->stop_msg - 1;
    memcpy(b->stop_msg, why, n);
    b->stop_msg[n] = '\0';
}

/* Collects the oldest request in flight. */
static void collect(batch *b) {
    request *rq = &b->reqs[b->rq_head];
    b->rq_head = (b->rq_head + 1) % b->bo->depth;
    b->rq_len--;
    int rc = b->bo->group == 1 ? eligc_recv_check(b->c, &b->ans[0])
                               : eligc_recv_check_batch(b->c, b->ans, rq->n);
    if (rc == 0) {
        b->fails = 0;
        b->failed_now = false;
        for (size_t j = 0; j < rq->n; j++)
            take_answer(b, at_seq(b, rq->seq[j]), rq->seq[j], &b->ans[j]);
        return;
    }
    for (size_t j = 0; j < rq->n; j++) {
        at_seq(b, rq->seq[j])->state = ROW_WAIT;
        b->retry[b->n_retry++] = rq->seq[j];
    }
    if (b->stop)
        return;
    if (!retryable(b, rc)) {
        stop_run(b, rc, eligc_errmsg(b->c));
        return;
    }
    if (rc == ELIGC_ESERVER && eligc_server_code(b->c) == ELIG_ERRCODE_RATE_LIMITED) {
        /* "retry after N ms": wait at least that long (PROTOCOL.md 9) */
        const char *m = eligc_errmsg(b->c), *ms = strstr(m, " ms");
        while (ms && ms > m && ms[-1] >= '0' && ms[-1] <= '9')
            ms--;
        double after = ms ? strtod(ms, NULL) / 1000.0 : 0;
        if (after > b->server_wait)
            b->server_wait = after;
    }
    if (!b->failed_now) { /* the first failure of this round says why */
        b->failed_now = true;
        b->fails++;
        snprintf(b->last_err, sizeof b->last_err, "%s", eligc_errmsg(b->c));
    }
    if (b->fails > b->bo->retries) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s (%u retries)", b->last_err, b->bo->retries);
        stop_run(b, rc, msg);
    }
}

static int cmp_seq(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
    return a < c ? -1 : a > c;
}

/* Rows waiting to be asked again: once nothing is in flight, pause, then
 * queue them first, oldest first. */
static void requeue(batch *b) {
    while (b->rq_len)
        collect(b);
    if (b->stop || b->n_retry == 0)
        return;
    double wait;
    if (b->fails > 0) {
        wait = FIRST_BACKOFF * (double)(1u << (b->fails > 20 ? 20 : b->fails - 1));
    } else { /* only --snapshot-id mismatches */
        wait = FIRST_BACKOFF * (double)(1u << (b->mismatch_round > 20 ? 20 : b->mismatch_round));
        b->mismatch_round++;
        double left = b->mismatch_since + b->bo->snapshot_wait - now_s();
        if (wait > left)
            wait = left > 0 ? left : 0;
    }
    if (wait > b->bo->retry_max_wait)
        wait = b->bo->retry_max_wait;
    if (wait < b->server_wait) /* rate_limited said how long */
        wait = b->server_wait;
    b->server_wait = 0;
    write_ready(b);
    flush_out(b);
    if (b->fails > 0)
        say(b, NULL, 0, "%s; retry %u of %u in %.1f s", b->last_err, b->fails, b->bo->retries, wait);
    else if (b->mismatch_round == 1)
        say(b, NULL, 0, "answers from another snapshot than %s; asking again for up to %.0f s",
            b->bo->snapshot_id, b->bo->snapshot_wait);
    b->failed_now = false;
    sleep_s(wait);
    qsort(b->retry, b->n_retry, sizeof *b->retry, cmp_seq);
    for (size_t i = b->n_retry; i-- > 0;)
        sq_push_front(b, b->retry[i]);
    b->n_retry = 0;
}

/* Moves the pipeline along: sends full groups while there is room in
 * flight (a partial group too when `all`), collects when full, writes
 * what is complete. */
static void pump(batch *b, bool all) {
    for (;;) {
        if (b->n_retry && !b->stop)
            requeue(b);
        if (b->stop)
            break;
        while (b->rq_len < b->bo->depth &&
               (b->sq_len >= b->bo->group || (all && b->sq_len > 0)))
            send_group(b, b->sq_len < b->bo->group ? b->sq_len : b->bo->group);
        if (b->rq_len < b->bo->depth && !all)
            break;
        if (b->rq_len == 0 && b->n_retry == 0)
            break;
        if (b->rq_len)
            collect(b);
        write_ready(b);
    }
    write_ready(b);
}

/* ---- rows in ------------------------------------------------------------ */

/* The pass-through cells of a record, rendered for the output. */
static void render_keep(batch *b, const csv_record *rec, row *r) {
    if (b->nkeep == 0)
        return;
    outbuf o;
    out_init(&o, NULL);
    if (b->bo->jsonl)
        out_str(&o, ",\"columns\":{");
    for (size_t i = 0; i < b->nkeep; i++) {
        size_t k = b->keepcol[i];
        if (!b->bo->jsonl) {
            out_bytes(&o, ",", 1);
            if (k < rec->n)
                out_bytes(&o, rec->raw + rec->raw_off[k], rec->raw_flen[k]);
            continue;
        }
        if (i)
            out_bytes(&o, ",", 1);
        out_str(&o, b->keepname[i]);
        out_bytes(&o, ":", 1);
        if (k < rec->n)
            out_json_strn(&o, rec->field[k], rec->len[k]);
        else
            out_str(&o, "null");
    }
    if (b->bo->jsonl)
        out_bytes(&o, "}", 1);
    r->keep = o.p; /* handed over: freed with the row */
    r->keep_len = o.len;
}

/* Fills r from a record: a good row, or a malformed one with its reason. */
static void make_row(batch *b, const csv_record *rec, row *r) {
    char why[96] = "";
    memset(r, 0, sizeof *r);
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
            r->state = ROW_WAIT;
            prog_note(&b->progs, r->program);
        }
    }
    if (why[0]) {
        r->state = ROW_BAD;
        r->msg = dup_n(why, strlen(why));
        for (int i = 0; i < NCOLS; i++) {
            size_t k = b->nfields == NCOLS ? (size_t)i : (size_t)b->col[i];
            if (k < rec->n)
                r->echo[i] = dup_n(rec->field[k], rec->len[k]);
        }
    }
    render_keep(b, rec, r);
}

static void free_row(row *r) {
    free(r->msg);
    for (int i = 0; i < NCOLS; i++)
        free(r->echo[i]);
    free(r->keep);
    memset(r, 0, sizeof *r);
}

/* The output's header line (CSV), without its newline. */
static void header_line(const batch *b, const csv_record *hdr, outbuf *o) {
    out_str(o, csv_header);
    for (size_t i = 0; hdr && i < b->nkeep; i++) {
        out_bytes(o, ",", 1);
        size_t k = b->keepcol[i];
        out_bytes(o, hdr->raw + hdr->raw_off[k], hdr->raw_flen[k]);
    }
}

static bool same_name(const char *a, size_t n, const char *name) {
    return n == strlen(name) && strncasecmp(a, name, n) == 0;
}

/* A first record naming a `kind` column (in any case) is a header: the
 * query columns are then found by name, case-insensitively, in any order;
 * the others are passed through (--keep-columns). 1 header, 0 data, -1 a
 * bad header (reported). */
static int read_header(batch *b, const csv_record *rec) {
    bool named = false;
    for (size_t i = 0; i < rec->n; i++)
        named |= same_name(rec->field[i], rec->len[i], "kind");
    if (!named) {
        for (int i = 0; i < NCOLS; i++)
            b->col[i] = i;
        b->nfields = NCOLS;
        return 0;
    }
    for (int c = 0; c < NCOLS; c++) {
        b->col[c] = -1;
        for (size_t i = 0; i < rec->n; i++) {
            if (!same_name(rec->field[i], rec->len[i], col_names[c]))
                continue;
            if (b->col[c] >= 0) {
                say(b, b->name, rec->line, "header names column '%s' twice (columns %d and %zu)",
                    col_names[c], b->col[c] + 1, i + 1);
                return -1;
            }
            b->col[c] = (int)i;
        }
        if (b->col[c] < 0) {
            say(b, b->name, rec->line, "header has no column '%s' (names are matched in any case)",
                col_names[c]);
            return -1;
        }
    }
    b->nfields = rec->n;
    if (!b->bo->keep)
        return 1;
    b->keepcol = xcalloc(rec->n, sizeof *b->keepcol);
    b->keepname = xcalloc(rec->n, sizeof *b->keepname);
    for (size_t i = 0; i < rec->n; i++) {
        bool used = false;
        for (int c = 0; c < NCOLS; c++)
            used |= b->col[c] == (int)i;
        if (used)
            continue;
        if (b->bo->jsonl) {
            for (size_t j = 0; j < b->nkeep; j++) {
                size_t k = b->keepcol[j];
                if (rec->len[k] == rec->len[i] && memcmp(rec->field[k], rec->field[i], rec->len[i]) == 0) {
                    say(b, b->name, rec->line, "--format jsonl: two columns are named '%s'; "
                        "rename one, or use --no-keep-columns", rec->field[i]);
                    return -1;
                }
            }
            outbuf o;
            out_init(&o, NULL);
            out_json_strn(&o, rec->field[i], rec->len[i]);
            out_bytes(&o, "", 1);
            b->keepname[b->nkeep] = o.p;
        }
        b->keepcol[b->nkeep++] = i;
    }
    return 1;
}

/* ---- --resume ----------------------------------------------------------- */

/* OUT's next record: 1 a complete one (*raw, *n; for CSV *rec too), 0 none
 * (end, or a torn last record). */
static int resume_next(batch *b, const char **raw, size_t *n, csv_record *rec) {
    if (!b->bo->jsonl) {
        int s = csv_next(b->rr, rec);
        if (s < 0) {
            say(b, b->out_name, 0, "reading: %s", strerror(errno));
            exit(EXIT_FAIL);
        }
        if (s == 0 || !rec->terminated || rec->bad)
            return 0;
        b->out_line = rec->line;
        *raw = rec->raw;
        *n = rec->raw_len;
        b->keep_bytes = rec->end;
        return 1;
    }
    for (;;) {
        char *nl = b->llen > b->lpos ? memchr(b->lbuf + b->lpos, '\n', b->llen - b->lpos) : NULL;
        if (nl) {
            *raw = b->lbuf + b->lpos;
            *n = (size_t)(nl - *raw);
            b->lpos += *n + 1;
            b->out_line++;
            if (*n < 2 || (*raw)[0] != '{' || (*raw)[*n - 1] != '}')
                return 0;
            b->keep_bytes = b->lbase + b->lpos;
            return 1;
        }
        if (b->leof)
            return 0;
        if (b->lpos > 0)
            memmove(b->lbuf, b->lbuf + b->lpos, b->llen - b->lpos);
        b->lbase += b->lpos;
        b->llen -= b->lpos;
        b->lpos = 0;
        if (b->lcap - b->llen < 65536) {
            b->lcap = b->lcap ? b->lcap * 2 : 1 << 20;
            b->lbuf = realloc(b->lbuf, b->lcap);
            if (!b->lbuf)
                fatal_oom();
        }
        ssize_t got = read(b->rfd, b->lbuf + b->llen, b->lcap - b->llen);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            say(b, b->out_name, 0, "reading: %s", strerror(errno));
            exit(EXIT_FAIL);
        }
        if (got == 0)
            b->leof = true;
        b->llen += (size_t)got;
    }
}

/* Counts a row already in OUT into the summary. */
static void count_resumed(batch *b, const char *raw, size_t n, const csv_record *rec) {
    b->resumed++;
    if (!b->bo->jsonl) {
        if (rec->n < OUT_COLS || rec->len[OUT_COLS - 1] > 0) {
            b->failed++;
            return;
        }
        int reason = elig_reason_lookup(rec->field[5], rec->len[5]);
        if (reason < 0) {
            b->failed++;
            return;
        }
        b->answered++;
        b->reasons[reason]++;
        if (strcmp(rec->field[4], "true") == 0)
            b->total_amount += strtoull(rec->field[6], NULL, 10);
        return;
    }
    /* Our own JSON: a key with its quotes cannot occur inside a string
     * (a quote there is escaped), so the first match is the key. */
    const char *p = memmem(raw, n, ",\"reason\":\"", 11);
    if (!p) {
        b->failed++;
        return;
    }
    p += 11;
    const char *q = memchr(p, '"', n - (size_t)(p - raw));
    int reason = q ? elig_reason_lookup(p, (size_t)(q - p)) : -1;
    if (reason < 0) {
        b->failed++;
        return;
    }
    b->answered++;
    b->reasons[reason]++;
    const char *a = memmem(raw, n, ",\"amount\":", 10);
    if (reason == ELIG_REASON_ELIGIBLE && a)
        b->total_amount += strtoull(a + 10, NULL, 10);
}

/* Opens OUT for --resume and checks its header against this run's. 0, or
 * -1 (reported). */
static int resume_open(batch *b) {
    b->rfd = open(b->bo->resume, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (b->rfd < 0) {
        say(b, b->bo->resume, 0, "%s", strerror(errno));
        return -1;
    }
    b->out_name = b->bo->resume;
    if (b->bo->jsonl)
        return 0;
    b->rr = csv_open(b->rfd);
    if (!b->rr)
        fatal_oom();
    csv_record rec;
    const char *raw;
    size_t n;
    if (!resume_next(b, &raw, &n, &rec)) { /* empty, or a torn header: start afresh */
        b->keep_bytes = 0;
        return 0;
    }
    if (b->hdr.len != n || memcmp(b->hdr.p, raw, n) != 0) {
        say(b, b->out_name, 1, "its header is not the one this run writes: is it the output "
            "of this input, with the same --keep-columns?");
        return -1;
    }
    b->header_done = true;
    return 0;
}

/* Matches one input row against OUT's next row. 1 matched (skip it), 0 OUT
 * has no more complete rows (resuming ends here), -1 a mismatch (reported). */
static int resume_row(batch *b, const csv_record *in) {
    csv_record rec;
    const char *raw;
    size_t n;
    if (!resume_next(b, &raw, &n, &rec))
        return 0;
    row tmp;
    make_row(b, in, &tmp);
    outbuf want;
    out_init(&want, NULL);
    write_prefix(b, &want, &tmp);
    bool same = want.len <= n && memcmp(want.p, raw, want.len) == 0 &&
                (b->bo->jsonl || rec.n == OUT_COLS + b->nkeep);
    out_free(&want);
    free_row(&tmp);
    if (!same) {
        say(b, b->out_name, b->out_line, "does not match %s line %lu: OUT is not this input's "
            "answers (or they were written with other options)", b->name, in->line);
        return -1;
    }
    count_resumed(b, raw, n, &rec);
    return 1;
}

/* Resuming ends: cuts OUT after its last complete row and writes on from
 * there. */
static void resume_done(batch *b) {
    if (ftruncate(b->rfd, (off_t)b->keep_bytes) != 0 ||
        lseek(b->rfd, 0, SEEK_END) < 0) {
        say(b, b->out_name, 0, "cutting a torn last line: %s", strerror(errno));
        exit(EXIT_FAIL);
    }
    if (b->keep_bytes == 0)
        b->header_done = false;
    b->outf = fdopen(b->rfd, "a");
    if (!b->outf) {
        say(b, b->out_name, 0, "%s", strerror(errno));
        exit(EXIT_FAIL);
    }
    b->out.f = b->outf;
    csv_close(b->rr);
    b->rr = NULL;
    free(b->lbuf);
    b->lbuf = NULL;
    b->rfd = -1;
    if (b->resumed && !b->bo->quiet)
        say(b, NULL, 0, "resuming after %lu rows already in %s", b->resumed, b->out_name);
}

/* ---- the run ------------------------------------------------------------ */

static void fmt_duration(char *s, size_t n, double secs) {
    unsigned long t = (unsigned long)(secs + 0.5);
    if (t >= 3600)
        snprintf(s, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(s, n, "%lu:%02lu", t / 60, t % 60);
}

static void progress(batch *b, double t0, double *last) {
    double t = now_s();
    if (t - *last < 0.25)
        return;
    *last = t;
    double el = t - t0 > 1e-6 ? t - t0 : 1e-6;
    unsigned long done = b->answered + b->failed - b->resumed;
    if (b->in_size > 0) {
        double frac = (double)b->in_done / (double)b->in_size;
        char left[32];
        fmt_duration(left, sizeof left, frac > 0 ? el * (1 - frac) / frac : 0);
        fprintf(stderr, "\r\033[Kelig: batch: %3.0f%%  %lu rows, %.0f rows/s, %s left", frac * 100,
                done, done / el, left);
    } else {
        fprintf(stderr, "\r\033[Kelig: batch: %lu rows, %.0f rows/s", done, done / el);
    }
}

static void batch_init(batch *b, eligc_conn *c, const batch_opts *bo) {
    memset(b, 0, sizeof *b);
    b->c = c;
    b->bo = bo;
    b->rfd = -1;
    b->name = bo->input && strcmp(bo->input, "-") != 0 ? bo->input : "stdin";
    b->cap = bo->depth * bo->group + bo->group + 1024;
    b->ring = xcalloc(b->cap, sizeof *b->ring);
    b->sendq = xcalloc(b->cap, sizeof *b->sendq);
    b->retry = xcalloc(b->cap, sizeof *b->retry);
    b->reqs = xcalloc(bo->depth, sizeof *b->reqs);
    uint64_t *seqs = xcalloc(bo->depth * bo->group, sizeof *seqs);
    for (size_t i = 0; i < bo->depth; i++)
        b->reqs[i].seq = seqs + i * bo->group;
    b->gq = xcalloc(bo->group, sizeof *b->gq);
    b->ans = xcalloc(bo->group, sizeof *b->ans);
    b->out_name = bo->output ? bo->output : "stdout";
    out_init(&b->out, stdout);
}

static void write_header(batch *b) {
    if (b->header_done || b->bo->jsonl)
        return;
    out_bytes(&b->out, b->hdr.p, b->hdr.len);
    out_bytes(&b->out, "\n", 1);
    b->header_done = true;
}

/* Reads every record through the pipeline (until a stop). 0, or -1 when
 * the input could not be read, its header is bad or --resume failed. */
static int feed(batch *b, csv_reader *r, bool tty, double t0) {
    csv_record rec;
    double last = t0;
    bool first = true, resuming = b->bo->resume != NULL;
    int s = 0;
    while (!b->stop && (s = csv_next(r, &rec)) == 1) {
        b->in_done = rec.end;
        if (first) {
            first = false;
            int h = read_header(b, &rec);
            if (h < 0)
                return -1;
            header_line(b, h ? &rec : NULL, &b->hdr);
            if (resuming && resume_open(b) != 0)
                return -1;
            if (!resuming)
                write_header(b);
            if (h > 0)
                continue;
        }
        if (resuming) {
            int m = resume_row(b, &rec);
            if (m < 0)
                return -1;
            if (m > 0)
                continue;
            resuming = false;
            resume_done(b);
            write_header(b);
        }
        while (b->len == b->cap && !b->stop)
            pump(b, true);
        if (b->stop)
            break;
        uint64_t seq = b->next_seq++;
        row *w = at_seq(b, seq);
        make_row(b, &rec, w);
        b->len++;
        b->rows++;
        if (w->state == ROW_WAIT)
            sq_push_back(b, seq);
        pump(b, false);
        if (tty && (b->rows & 0x3ff) == 0)
            progress(b, t0, &last);
    }
    if (!b->stop && s < 0) {
        say(b, b->name, 0, "reading: %s", strerror(errno));
        return -1;
    }
    if (resuming && b->rfd >= 0) { /* the input ended while OUT still matched */
        csv_record extra;
        const char *raw;
        size_t n;
        if (resume_next(b, &raw, &n, &extra)) {
            say(b, b->out_name, b->out_line, "has more rows than %s: OUT is not this input's answers",
                b->name);
            return -1;
        }
        resume_done(b);
        write_header(b); /* OUT was empty */
    }
    return 0;
}

/* The closing lines: counts, reasons, total Rupiah (text or one JSON object). */
static void summary(batch *b, double t) {
    unsigned long rows = b->rows;
    if (b->bo->json_errors) {
        outbuf o;
        out_init(&o, stderr);
        out_str(&o, "{\"summary\":{\"rows\":");
        out_u64(&o, rows + b->resumed);
        out_str(&o, ",\"resumed\":");
        out_u64(&o, b->resumed);
        out_str(&o, ",\"answered\":");
        out_u64(&o, b->answered);
        out_str(&o, ",\"failed\":");
        out_u64(&o, b->failed);
        out_str(&o, ",\"eligible\":");
        out_u64(&o, b->reasons[ELIG_REASON_ELIGIBLE]);
        out_str(&o, ",\"total_amount\":");
        out_u64(&o, b->total_amount);
        out_str(&o, ",\"reasons\":{");
        for (int i = 0; i < ELIG_REASON_COUNT; i++) {
            out_str(&o, i ? ",\"" : "\"");
            out_str(&o, elig_reason_code((elig_reason)i));
            out_str(&o, "\":");
            out_u64(&o, b->reasons[i]);
        }
        out_str(&o, "},\"not_from_snapshot\":");
        out_u64(&o, b->not_pinned);
        char secs[32];
        snprintf(secs, sizeof secs, "%.3f", t);
        out_str(&o, ",\"seconds\":");
        out_str(&o, secs);
        out_str(&o, ",\"stopped\":");
        out_json_str(&o, b->stop ? b->stop_msg : NULL);
        prog_batch_summary(&b->progs, true, &o);
        out_str(&o, "}}\n");
        out_flush(&o);
        out_free(&o);
        return;
    }
    fprintf(stderr, "elig: batch: %lu rows in %.2f s (%.0f rows/s): %lu answered, %lu failed\n",
            rows, t, t > 0 ? rows / t : 0.0, b->answered, b->failed);
    outbuf o;
    out_init(&o, stderr);
    out_str(&o, "elig: batch: ");
    if (b->resumed) {
        out_u64(&o, b->resumed);
        out_str(&o, " rows resumed from ");
        out_str(&o, b->out_name);
        out_str(&o, "; ");
    }
    out_str(&o, "eligible ");
    out_u64(&o, b->reasons[ELIG_REASON_ELIGIBLE]);
    out_str(&o, ", ");
    out_rupiah(&o, b->total_amount);
    out_str(&o, " in total");
    for (int i = 1; i < ELIG_REASON_COUNT; i++) {
        if (!b->reasons[i])
            continue;
        out_str(&o, "; ");
        out_str(&o, elig_reason_code((elig_reason)i));
        out_bytes(&o, " ", 1);
        out_u64(&o, b->reasons[i]);
    }
    if (b->not_pinned) {
        out_str(&o, "; not from snapshot ");
        out_str(&o, b->bo->snapshot_id);
        out_bytes(&o, " ", 1);
        out_u64(&o, b->not_pinned);
    }
    out_str(&o, "\n");
    out_flush(&o);
    out_free(&o);
}

static int open_output(batch *b) {
    if (!b->bo->output || b->bo->resume)
        return 0;
    b->outf = fopen(b->bo->output, "w");
    if (!b->outf) {
        say(b, b->bo->output, 0, "%s", strerror(errno));
        return -1;
    }
    b->out.f = b->outf;
    return 0;
}

/* Frees what batch_init and the run allocated (rows still in the ring too). */
static void batch_free(batch *b) {
    for (uint64_t s = b->head; s < b->head + b->len; s++)
        free_row(at_seq(b, s));
    if (b->outf)
        fclose(b->outf);
    if (b->rfd >= 0)
        close(b->rfd);
    csv_close(b->rr);
    free(b->lbuf);
    out_free(&b->out);
    out_free(&b->hdr);
    for (size_t i = 0; i < b->nkeep; i++)
        free(b->keepname[i]);
    free(b->keepname);
    free(b->keepcol);
    free(b->ring);
    free(b->sendq);
    free(b->retry);
    free(b->reqs[0].seq);
    free(b->reqs);
    free(b->gq);
    free(b->ans);
}

/* The input, checked not to be the answers' file. fd 0 for stdin; -1
 * (reported) when it cannot be opened or is that file. */
static int open_input(batch *b, int *fd) {
    const batch_opts *bo = b->bo;
    *fd = 0;
    if (bo->input && strcmp(bo->input, "-") != 0 && (*fd = open(bo->input, O_RDONLY | O_CLOEXEC)) < 0) {
        say(b, bo->input, 0, "%s", strerror(errno));
        return -1;
    }
    struct stat st, ost;
    if (fstat(*fd, &st) != 0)
        return 0;
    if (S_ISREG(st.st_mode))
        b->in_size = (uint64_t)st.st_size;
    const char *outp = bo->resume ? bo->resume : bo->output;
    if (outp && stat(outp, &ost) == 0 && ost.st_dev == st.st_dev && ost.st_ino == st.st_ino) {
        say(b, outp, 0, "is the input: the answers would overwrite the queries");
        return -2;
    }
    return 0;
}

int batch_run(eligc_conn *c, const batch_opts *bo) {
    batch b;
    batch_init(&b, c, bo);
    int fd;
    int in = open_input(&b, &fd);
    if (in != 0 || open_output(&b) != 0) {
        if (fd > 0)
            close(fd);
        batch_free(&b);
        return in == -2 ? EXIT_USAGE : EXIT_FAIL;
    }
    csv_reader *r = csv_open(fd);
    if (!r)
        fatal_oom();
    bool tty = isatty(2);
    double t0 = now_s();
    prog_list_fetch(c, &b.progs); /* which programmes the snapshot holds, if info says */
    int rc = feed(&b, r, tty, t0);
    if (rc == 0) {
        pump(&b, true);
        while (b.rq_len) /* after a stop: the answers still on their way */
            collect(&b);
        write_ready(&b);
        if (!b.header_done && !bo->jsonl && !bo->resume) { /* an empty input */
            out_str(&b.out, csv_header);
            out_str(&b.out, "\n");
        }
    }
    double t = now_s() - t0;
    if (tty)
        fputs("\r\033[K", stderr);
    if (out_flush(&b.out) != 0) {
        say(&b, b.out_name, 0, "writing the answers: %s", strerror(errno));
        rc = -1;
    }
    if (b.outf) {
        int closed = fclose(b.outf);
        b.outf = NULL;
        if (closed != 0 && rc == 0) {
            say(&b, b.out_name, 0, "writing the answers: %s", strerror(errno));
            rc = -1;
        }
    }
    unsigned long unanswered = b.len;
    if (b.stop) {
        unsigned long line = b.len ? at_seq(&b, b.head)->line : 0;
        say(&b, b.name, line, "stopped at this line (%lu row%s read and not answered): %s%s",
            unanswered, unanswered == 1 ? "" : "s", b.stop_msg,
            bo->resume || bo->output ? "; run again with --resume to continue" : "");
    }
    if (rc == 0 && (!bo->quiet || bo->json_errors))
        summary(&b, t);
    if (rc == 0 && !bo->json_errors) { /* a warning, so even with --quiet */
        outbuf o;
        out_init(&o, stderr);
        prog_batch_summary(&b.progs, false, &o);
        out_flush(&o);
        out_free(&o);
    }
    csv_close(r);
    if (fd > 0)
        close(fd);
    int status = rc == 0 && !b.stop && b.failed == 0 ? EXIT_OK : EXIT_FAIL;
    batch_free(&b);
    return status;
}
