/* offline.c — see offline.h. */
#include "offline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "elig.h"
#include "journal.h"

#define PUBKEY_MAX 4096 /* a PEM Ed25519 public key is 113 bytes */

struct eligc__offline {
    char *extract_path, *pubkey_path, *journal_path;
    char *pem; /* the public key's PEM text */
    size_t pem_len;
    int retry_ms;
    size_t n_servers;
    int64_t failed_ms; /* when the servers last failed; 0: not since they last answered */
    elig_snap *snap;   /* NULL until the first offline answer */
    elig_reader *reader;
    jrn *journal;      /* NULL until the first offline answer (or none configured) */
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The whole public key file, at most PUBKEY_MAX bytes. */
static int read_pem(eligc_conn *c, eligc__offline *o) {
    FILE *f = fopen(o->pubkey_path, "rb");
    if (!f)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: offline_pubkey %s: %s", o->pubkey_path,
                             strerror(errno));
    o->pem = malloc(PUBKEY_MAX + 1);
    size_t n = o->pem ? fread(o->pem, 1, PUBKEY_MAX + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!o->pem)
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
    if (err || n == 0 || n > PUBKEY_MAX)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: offline_pubkey %s: %s", o->pubkey_path,
                             err ? "cannot read it" : n == 0 ? "empty file" : "larger than a PEM public key");
    o->pem_len = n;
    return 0;
}

int eligc__offline_new(eligc_conn *c, const eligc_options *opt, eligc__offline **out) {
    *out = NULL;
    if (!opt->offline_extract) {
        if (opt->offline_pubkey || opt->offline_journal)
            return eligc__seterr(c, ELIGC_EBADARG,
                                 "bad argument: offline_pubkey and offline_journal need offline_extract");
        return 0;
    }
    if (!opt->offline_pubkey)
        return eligc__seterr(c, ELIGC_EBADARG,
                             "bad argument: offline_extract %s needs offline_pubkey, the key it must be signed by",
                             opt->offline_extract);
    if (opt->offline_retry_ms < 0)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: offline_retry_ms is negative");
    eligc__offline *o = calloc(1, sizeof *o);
    if (!o || !(o->extract_path = strdup(opt->offline_extract)) || !(o->pubkey_path = strdup(opt->offline_pubkey)) ||
        (opt->offline_journal && !(o->journal_path = strdup(opt->offline_journal)))) {
        eligc__offline_free(o);
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
    }
    o->retry_ms = opt->offline_retry_ms;
    o->n_servers = opt->n_servers ? opt->n_servers : 1;
    int rc = read_pem(c, o);
    if (rc) {
        eligc__offline_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

void eligc__offline_free(eligc__offline *o) {
    if (!o)
        return;
    elig_reader_close(o->reader);
    if (o->snap)
        elig_snap_close(o->snap);
    jrn_close(o->journal);
    free(o->extract_path);
    free(o->pubkey_path);
    free(o->journal_path);
    free(o->pem);
    free(o);
}

bool eligc__offline_covers(int rc) {
    return rc == ELIGC_ECONNECT || rc == ELIGC_ECONNLOST || rc == ELIGC_ETIMEOUT;
}

bool eligc__offline_skip_network(const eligc__offline *o) {
    return o->failed_ms && o->retry_ms > 0 && now_ms() - o->failed_ms < o->retry_ms;
}

void eligc__offline_online(eligc__offline *o) { o->failed_ms = 0; }

size_t eligc__offline_servers(const eligc__offline *o) { return o->n_servers; }

/* Fails with ELIGC_EOFFLINE: the servers' message (if any) then why the
 * extract did not answer. */
static int refuse(eligc_conn *c, int net_rc, const char *why) {
    char net[512];
    snprintf(net, sizeof net, "%s", net_rc ? eligc_errmsg(c) : "");
    return eligc__seterr(c, ELIGC_EOFFLINE, "%s%soffline: %s", net, net[0] ? "; " : "", why);
}

/* Opens the extract, once: the signature is checked over a private
 * copy, so what answers is exactly what was verified. */
static int open_extract(eligc_conn *c, eligc__offline *o, int net_rc) {
    if (o->reader)
        return 0;
    char err[512], why[700];
    int rc = elig_snap_open_signed(o->extract_path, ELIG_SNAP_PRIVATE, o->pem, o->pem_len, &o->snap, err,
                                   sizeof err);
    if (rc == 0 && (rc = elig_reader_open(o->snap, &o->reader)) != 0)
        snprintf(err, sizeof err, "%s: %s", o->extract_path, elig_strerror(rc));
    if (rc != 0) {
        if (o->snap)
            elig_snap_close(o->snap);
        o->snap = NULL;
        snprintf(why, sizeof why, "extract refused: %s", err);
        return refuse(c, net_rc, why);
    }
    return 0;
}

int eligc__offline_check(eligc_conn *c, eligc__offline *o, const eligc_query *q, eligc_answer *a, int net_rc) {
    if (net_rc)
        o->failed_ms = now_ms();
    int rc = open_extract(c, o, net_rc);
    if (rc)
        return rc;
    const char *kind = elig_kind_name(q->kind);
    elig_query eq;
    if (elig_query_parse(&eq, kind, strlen(kind), q->id, strlen(q->id), q->program, strlen(q->program), q->period,
                         strlen(q->period)) != ELIG_QUERY_OK)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: bad query"); /* checked before: cannot happen */
    elig_answer ea;
    char why[700];
    if ((rc = elig_check(o->reader, &eq, &ea)) != 0) {
        snprintf(why, sizeof why, "extract %s: cannot read it: %s", o->extract_path, elig_strerror(rc));
        return refuse(c, net_rc, why);
    }
    const elig_meta *m = elig_snap_meta(o->snap);
    memset(a, 0, sizeof *a);
    a->eligible = ea.reason == ELIG_REASON_ELIGIBLE;
    a->reason = ea.reason;
    a->amount = ea.amount;
    if (ea.found) {
        elig_format_id16(ea.kk, a->kk);
        elig_format_region(ea.region, a->region);
    }
    snprintf(a->snapshot, sizeof a->snapshot, "%s", m->id);
    snprintf(a->extract, sizeof a->extract, "%s", m->id);
    a->offline = true;
    if (!o->journal_path)
        return 0;
    /* No answer without its record: the journal first. */
    char err[600];
    if (!o->journal && jrn_open(o->journal_path, &o->journal, err, sizeof err) != 0) {
        snprintf(why, sizeof why, "journal refused: %s", err);
        return refuse(c, net_rc, why);
    }
    jrn_answer j = {
        .time_us = now_us(),
        .kind = eq.kind,
        .id = eq.id,
        .period = eq.period,
        .reason = ea.reason,
        .found = ea.found,
        .kk = ea.found ? ea.kk : 0,
        .region = ea.found ? ea.region : 0,
        .amount = ea.amount,
    };
    memcpy(j.program, eq.program, eq.program_len);
    snprintf(j.extract, sizeof j.extract, "%s", m->id);
    if (jrn_append_answer(o->journal, &j, err, sizeof err) != 0) {
        snprintf(why, sizeof why, "journal: %s", err);
        return refuse(c, net_rc, why);
    }
    return 0;
}

int eligc__offline_info(eligc_conn *c, eligc__offline *o, eligc_extract_info *out) {
    int rc = open_extract(c, o, 0);
    if (rc)
        return rc;
    const elig_meta *m = elig_snap_meta(o->snap);
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", m->id);
    snprintf(out->extract_of, sizeof out->extract_of, "%s", m->extract_of);
    snprintf(out->regions, sizeof out->regions, "%s", m->extract_regions);
    snprintf(out->created, sizeof out->created, "%s", m->created);
    snprintf(out->content_sha256, sizeof out->content_sha256, "%s", m->content_sha256);
    out->households = m->households;
    out->members = m->members;
    out->enrollments = m->enrollments;
    return 0;
}
