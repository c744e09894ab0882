/* upload.c — eligc_journal_upload: an offline terminal's journal to a
 * server's `journal` method (docs/PROTOCOL.md), which writes the answers
 * into its audit trail once each.
 *
 * Exactly once, from both ends: the journal records the sequence number up
 * to which the server has acknowledged (written and synced) the answers,
 * and only what is past it is sent; the server keeps, per channel and
 * terminal, the last sequence number it recorded and skips anything at or
 * below it, so an upload cut short and sent again (the acknowledgement
 * lost on the way) adds nothing twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "conn.h"
#include "journal.h"

/* Answers per request: well under the server's 1 MiB message limit (an
 * answer is at most ~130 bytes on the wire). */
#define UPLOAD_BATCH 1000
#define POLL_MS 50 /* between asks for the durable mark */

typedef struct {
    jrn_answer *v;
    size_t n, cap;
    bool oom;
} answers;

static void collect(void *ud, const jrn_answer *a) {
    answers *l = ud;
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        jrn_answer *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *a;
}

static int buf_write(void *data, const char *s, size_t n) {
    eligc__buf *b = data;
    if (eligc__buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n) {
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

/* [0, msgid, "journal", [terminal, [[seq, time_us, kind, id, program,
 * period, reason, kk|nil, amount, extract], ...]]] */
static int enc_journal(eligc__buf *b, uint32_t msgid, const char *terminal, const jrn_answer *a, size_t n) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_write);
    const char *m = elig_method_name(ELIG_METHOD_JOURNAL);
    if (msgpack_pack_array(&pk, 4) || msgpack_pack_uint8(&pk, ELIG_MSG_REQUEST) || msgpack_pack_uint32(&pk, msgid) ||
        pack_str(&pk, m, strlen(m)) || msgpack_pack_array(&pk, 2) || pack_str(&pk, terminal, strlen(terminal)) ||
        msgpack_pack_array(&pk, n))
        return ELIGC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char id[17], kk[17], period[8];
        const char *kind = elig_kind_name(a[i].kind), *reason = elig_reason_code(a[i].reason);
        elig_format_id16(a[i].id, id);
        elig_format_period(a[i].period, period);
        if (msgpack_pack_array(&pk, 10) || msgpack_pack_uint64(&pk, a[i].seq) ||
            msgpack_pack_uint64(&pk, a[i].time_us) || pack_str(&pk, kind, strlen(kind)) || pack_str(&pk, id, 16) ||
            pack_str(&pk, a[i].program, strlen(a[i].program)) || pack_str(&pk, period, 7) ||
            pack_str(&pk, reason, strlen(reason)))
            return ELIGC_ENOMEM;
        if (a[i].found) {
            elig_format_id16(a[i].kk, kk);
            if (pack_str(&pk, kk, 16))
                return ELIGC_ENOMEM;
        } else if (msgpack_pack_nil(&pk)) {
            return ELIGC_ENOMEM;
        }
        if (msgpack_pack_uint32(&pk, a[i].amount) || pack_str(&pk, a[i].extract, strlen(a[i].extract)))
            return ELIGC_ENOMEM;
    }
    return 0;
}

/* {accepted, duplicates, durable}; other keys are skipped. */
static int dec_result(mpr_cur *r, uint64_t v[3], const char **why) {
    static const char *const keys[3] = {ELIG_KEY_ACCEPTED, ELIG_KEY_DUPLICATES, ELIG_KEY_DURABLE};
    uint32_t n;
    unsigned seen = 0;
    if (!mpr_map(r, &n)) {
        *why = "journal result is not a map";
        return ELIGC_EPROTO;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        int key = -1;
        if (!mpr_str(r, &k, &kn)) {
            *why = "journal result: a key is not a string";
            return ELIGC_EPROTO;
        }
        for (int j = 0; j < 3; j++)
            if (kn == strlen(keys[j]) && memcmp(k, keys[j], kn) == 0)
                key = j;
        if (key < 0 ? !mpr_skip(r) : !mpr_uint(r, &v[key])) {
            *why = "journal result: a value is not a count";
            return ELIGC_EPROTO;
        }
        if (key >= 0)
            seen |= 1u << key;
    }
    if (seen != 7) {
        *why = "journal result lacks a key";
        return ELIGC_EPROTO;
    }
    return 0;
}

/* One `journal` request of a[0..n) (n may be 0: only asks for the durable
 * mark). 0 with v = {accepted, duplicates, durable}, or the error. */
static int send_one(eligc_conn *c, const char *terminal, const jrn_answer *a, size_t n, uint64_t v[3]) {
    eligc__sending s;
    int rc = eligc__send_begin(c, &s);
    if (rc)
        return rc;
    rc = enc_journal(s.buf, s.msgid, terminal, a, n);
    if ((rc = eligc__send_end(c, &s, rc, ELIG_METHOD_JOURNAL, 0)))
        return rc;
    mpr_cur r;
    if ((rc = eligc__recv(c, ELIG_METHOD_JOURNAL, 0, &r)))
        return rc;
    const char *why;
    if ((rc = dec_result(&r, v, &why)))
        return eligc__seterr(c, rc, "protocol error: %s", why);
    return 0;
}

static void nap_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int eligc_journal_upload(eligc_conn *c, const char *path, eligc_journal_result *out) {
    memset(out, 0, sizeof *out);
    if (!path)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: journal path is NULL");
    if (eligc_pending(c))
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: %zu pipelined requests wait to be received",
                             eligc_pending(c));
    char why[600];
    jrn_scan_result sr;
    answers todo = {0};
    /* First the acknowledged mark, then the answers past it (appended
     * meanwhile or not: whatever the second read sees is sent). */
    if (jrn_read(path, 0, NULL, NULL, &sr, out->terminal, why, sizeof why) != 0 ||
        jrn_read(path, sr.acked, collect, &todo, &sr, out->terminal, why, sizeof why) != 0) {
        free(todo.v);
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: %s", why);
    }
    if (todo.oom) {
        free(todo.v);
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory reading the journal");
    }
    out->records = sr.records;
    out->last = sr.last_seq;
    out->acknowledged = sr.acked;
    uint64_t v[3] = {0, 0, 0}, durable = 0, want = todo.n ? todo.v[todo.n - 1].seq : 0;
    int rc = 0;
    size_t batch = eligc__batch_max(c) < UPLOAD_BATCH ? eligc__batch_max(c) : UPLOAD_BATCH;
    for (size_t i = 0; rc == 0 && i < todo.n; i += batch) {
        size_t k = todo.n - i < batch ? todo.n - i : batch;
        if ((rc = send_one(c, out->terminal, todo.v + i, k, v)) == 0) {
            out->sent += k;
            out->accepted += v[0];
            out->duplicates += v[1];
            durable = v[2];
        }
    }
    free(todo.v);
    if (rc)
        return rc;
    /* The server writes its audit trail in the background and syncs it
     * every --audit-sync-ms: ask until what was sent is durable. */
    int64_t deadline = mono_ms() + eligc__request_timeout_ms(c);
    while (durable < want && mono_ms() < deadline) {
        nap_ms(POLL_MS);
        if ((rc = send_one(c, out->terminal, NULL, 0, v)))
            return rc;
        durable = v[2];
    }
    if (durable > out->last)
        durable = out->last; /* never acknowledge what this journal does not hold */
    if (durable > out->acknowledged) {
        jrn *j;
        if (jrn_open(path, &j, why, sizeof why) != 0 || jrn_append_ack(j, durable, why, sizeof why) != 0) {
            if (j)
                jrn_close(j);
            return eligc__seterr(c, ELIGC_EBADARG, "bad argument: recording the acknowledgement: %s", why);
        }
        jrn_close(j);
        out->acknowledged = durable;
    }
    if (out->acknowledged < want)
        return eligc__seterr(c, ELIGC_ETIMEOUT,
                             "timeout: the server recorded the journal's answers up to %llu of %llu only, within "
                             "%d ms; upload again later",
                             (unsigned long long)out->acknowledged, (unsigned long long)want,
                             eligc__request_timeout_ms(c));
    return 0;
}
