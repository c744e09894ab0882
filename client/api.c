/* api.c — the public calls of libeligclient, built on conn.c's queue:
 * validate, encode into the send log, collect and decode the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "offline.h"

static int bad_query(eligc_conn *c, const eligc_query *q, size_t item, bool batch) {
    const char *why;
    if (eligc_query_valid(q, &why) == 0)
        return 0;
    if (batch)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: item %zu: bad %s", item, why);
    return eligc__seterr(c, ELIGC_EBADARG, "bad argument: bad %s", why);
}

/* A result that would not decode: the stream is still in step (the
 * message was framed), so only this request fails. */
static int decode_failed(eligc_conn *c, int rc, const char *why) {
    if (rc == ELIGC_ENOMEM)
        return eligc__seterr(c, rc, "out of memory");
    return eligc__seterr(c, ELIGC_EPROTO, "protocol error: %s", why);
}

static int idle_or_busy(eligc_conn *c) {
    if (eligc_pending(c) == 0)
        return 0;
    return eligc__seterr(c, ELIGC_EBADARG,
                         "bad argument: %zu pipelined requests wait to be received",
                         eligc_pending(c));
}

/* ---- pipelined --------------------------------------------------------- */

int eligc_send_check(eligc_conn *c, const eligc_query *q) {
    int rc = bad_query(c, q, 0, false);
    if (rc)
        return rc;
    eligc__sending s;
    if ((rc = eligc__send_begin(c, &s)))
        return rc;
    rc = eligc__enc_check(s.buf, s.msgid, q);
    return eligc__send_end(c, &s, rc, ELIG_METHOD_CHECK, 0);
}

int eligc_recv_check(eligc_conn *c, eligc_answer *a) {
    mpr_cur r;
    int rc = eligc__recv(c, ELIG_METHOD_CHECK, 0, &r);
    if (rc)
        return rc;
    const char *why;
    rc = eligc__dec_answer(&r, a, &why);
    return rc ? decode_failed(c, rc, why) : 0;
}

/* Queues a check_batch of q[0..n); item numbers in messages start at
 * first (the index in the caller's whole list). */
static int send_batch(eligc_conn *c, const eligc_query *q, size_t n, size_t first) {
    if (n > eligc__batch_max(c))
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: %zu queries, batch_max is %zu", n,
                             eligc__batch_max(c));
    for (size_t i = 0; i < n; i++) {
        int rc = bad_query(c, &q[i], first + i, true);
        if (rc)
            return rc;
    }
    eligc__sending s;
    int rc = eligc__send_begin(c, &s);
    if (rc)
        return rc;
    rc = eligc__enc_check_batch(s.buf, s.msgid, q, n);
    return eligc__send_end(c, &s, rc, ELIG_METHOD_CHECK_BATCH, (uint32_t)n);
}

int eligc_send_check_batch(eligc_conn *c, const eligc_query *q, size_t n) {
    if (!q && n > 0)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: queries is NULL");
    return send_batch(c, q, n, 0);
}

int eligc_recv_check_batch(eligc_conn *c, eligc_answer *out, size_t n) {
    if (n > UINT32_MAX)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: too many answers");
    mpr_cur r;
    int rc = eligc__recv(c, ELIG_METHOD_CHECK_BATCH, (uint32_t)n, &r);
    if (rc)
        return rc;
    const char *why;
    rc = eligc__dec_answers(&r, out, n, &why);
    return rc ? decode_failed(c, rc, why) : 0;
}

int eligc_flush(eligc_conn *c) { return eligc__flush(c); }

/* ---- one request, one answer ------------------------------------------- */

int eligc_ping(eligc_conn *c) {
    eligc__sending s;
    int rc = idle_or_busy(c);
    if (rc || (rc = eligc__send_begin(c, &s)))
        return rc;
    rc = eligc__enc_noargs(s.buf, s.msgid, ELIG_METHOD_PING);
    if ((rc = eligc__send_end(c, &s, rc, ELIG_METHOD_PING, 0)))
        return rc;
    mpr_cur r;
    if ((rc = eligc__recv(c, ELIG_METHOD_PING, 0, &r)))
        return rc;
    const char *why;
    rc = eligc__dec_pong(&r, &why);
    return rc ? decode_failed(c, rc, why) : 0;
}

static int check_online(eligc_conn *c, const eligc_query *q, eligc_answer *a) {
    int rc = eligc_send_check(c, q);
    return rc ? rc : eligc_recv_check(c, a);
}

int eligc_check(eligc_conn *c, const eligc_query *q, eligc_answer *a) {
    int rc = idle_or_busy(c);
    if (rc)
        return rc;
    eligc__offline *off = eligc__offline_of(c);
    if (!off)
        return check_online(c, q, a);
    if ((rc = bad_query(c, q, 0, false)))
        return rc;
    if (eligc__offline_skip_network(off)) /* the servers failed a moment ago */
        return eligc__offline_check(c, off, q, a, 0);
    rc = check_online(c, q, a);
    /* A timeout moves the handle to the next server: give each its turn
     * before the extract answers ("no server answers"). */
    for (size_t i = 1; rc == ELIGC_ETIMEOUT && i < eligc__offline_servers(off); i++)
        rc = check_online(c, q, a);
    if (rc == 0)
        eligc__offline_online(off);
    return eligc__offline_covers(rc) ? eligc__offline_check(c, off, q, a, rc) : rc;
}

int eligc_offline_info(eligc_conn *c, eligc_extract_info *out) {
    eligc__offline *off = eligc__offline_of(c);
    if (!off)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: the handle has no offline_extract");
    return eligc__offline_info(c, off, out);
}

int eligc_check_batch(eligc_conn *c, const eligc_query *q, size_t n, eligc_answer *out) {
    int rc = idle_or_busy(c);
    if (rc)
        return rc;
    if (!q && n > 0)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: queries is NULL");
    for (size_t i = 0; i < n; i++) /* all or nothing: check before sending */
        if ((rc = bad_query(c, &q[i], i, true)))
            return rc;
    /* Chunks of batch_max, up to 64 in flight, answers collected in order.
     * Every chunk sent is collected even after an error, so the handle is
     * left with nothing pending; the first error is the one reported. */
    size_t chunk = eligc__batch_max(c), sent = 0, got = 0;
    int err = 0, code = 0;
    char msg[512] = "";
    bool sending = true;
    while (got < n) {
        while (sending && sent < n && eligc_pending(c) < 64) {
            size_t k = n - sent < chunk ? n - sent : chunk;
            if ((rc = send_batch(c, q + sent, k, sent))) {
                if (rc == ELIGC_EFULL) { /* max_pending below 64: collect first */
                    rc = 0;
                    break;
                }
                sending = false;
                break;
            }
            sent += k;
        }
        if (rc && !err) {
            err = rc;
            snprintf(msg, sizeof msg, "%s", eligc_errmsg(c));
        }
        if (got == sent)
            break;
        size_t k = sent - got < chunk ? sent - got : chunk;
        rc = eligc_recv_check_batch(c, out + got, k);
        if (rc && !err) {
            err = rc;
            code = eligc_server_code(c);
            snprintf(msg, sizeof msg, "%s", eligc_errmsg(c));
        }
        rc = 0;
        got += k;
    }
    if (err) {
        eligc__seterr(c, err, "%s", msg);
        eligc__set_server_code(c, code);
    }
    return err;
}

int eligc_household_get(eligc_conn *c, elig_kind kind, const char *id, eligc_household *h) {
    memset(h, 0, sizeof *h);
    const char *why;
    int rc = idle_or_busy(c);
    if (rc)
        return rc;
    if (eligc__id_valid(kind, id, &why))
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: bad %s", why);
    eligc__sending s;
    if ((rc = eligc__send_begin(c, &s)))
        return rc;
    rc = eligc__enc_household(s.buf, s.msgid, kind, id);
    if ((rc = eligc__send_end(c, &s, rc, ELIG_METHOD_HOUSEHOLD, 0)))
        return rc;
    mpr_cur r;
    if ((rc = eligc__recv(c, ELIG_METHOD_HOUSEHOLD, 0, &r)))
        return rc;
    rc = eligc__dec_household(&r, h, &why);
    return rc ? decode_failed(c, rc, why) : 0;
}

void eligc_household_free(eligc_household *h) {
    if (!h)
        return;
    free(h->enrollments);
    memset(h, 0, sizeof *h);
}

int eligc_info_get(eligc_conn *c, eligc_info *info) {
    eligc__sending s;
    int rc = idle_or_busy(c);
    if (rc || (rc = eligc__send_begin(c, &s)))
        return rc;
    rc = eligc__enc_noargs(s.buf, s.msgid, ELIG_METHOD_INFO);
    if ((rc = eligc__send_end(c, &s, rc, ELIG_METHOD_INFO, 0)))
        return rc;
    mpr_cur r;
    if ((rc = eligc__recv(c, ELIG_METHOD_INFO, 0, &r)))
        return rc;
    const char *why;
    rc = eligc__dec_info(&r, info, &why);
    return rc ? decode_failed(c, rc, why) : 0;
}

int eligc_reload(eligc_conn *c, eligc_reload_result *out) {
    eligc__sending s;
    int rc = idle_or_busy(c);
    if (rc || (rc = eligc__send_begin(c, &s)))
        return rc;
    rc = eligc__enc_noargs(s.buf, s.msgid, ELIG_METHOD_RELOAD);
    if ((rc = eligc__send_end(c, &s, rc, ELIG_METHOD_RELOAD, 0)))
        return rc;
    mpr_cur r;
    if ((rc = eligc__recv(c, ELIG_METHOD_RELOAD, 0, &r)))
        return rc;
    const char *why;
    rc = eligc__dec_reload(&r, out, &why);
    return rc ? decode_failed(c, rc, why) : 0;
}
