/* call.h — one request on its way through the daemon, and its answer.
 *
 * The request path is five steps, each one call over this struct
 * (query.c runs them in order):
 *
 *   decode     call_decode     (decode.c)  params -> typed fields, or an error
 *   authorize  auth_authorize  (auth.c)    the session's grant, or an error
 *   answer     call_answer     (answer.c)  the rule on the snapshot -> results
 *   record     audit_record    (audit.c)   the audit trail, when one is kept
 *   encode     call_encode     (encode.c)  results or the error -> response bytes
 *
 * A step that fails sets `err` and `errmsg`; later steps see it: answer
 * does nothing, encode writes the error response. Nothing here is
 * allocated: a batch's queries and answers live in the worker's scratch
 * arrays (call_scratch), which hold --max-batch of each. */
#ifndef ELIGD_CALL_H
#define ELIGD_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "elig.h"
#include "mpr.h"

#define CALL_ERRMSG_MAX 160

/* What the `info` method reports that only the server knows. */
typedef struct {
    uint64_t uptime_s;
    uint64_t connections;
    uint64_t requests;
    const char *reload_error; /* NULL when the last reload succeeded */
    const char *audit_error;  /* NULL unless the audit trail cannot be written now */
    bool audit_on;            /* --audit-dir given: audit_* below mean something */
    uint64_t audit_backlog, audit_lost, audit_refused, audit_written;
    const char *health;       /* "ok", "degraded", "draining" or "starting" */
    uint64_t generation;      /* of the snapshot now published (1 at start, +1 per reload) */
    uint64_t read_errors;     /* snapshot reads that failed while answering */
} call_server_info;

/* The outcome of the `reload` method, which the server carries out away
 * from the request path (server_reload) and answers later. */
typedef struct {
    int rc;                                       /* 0, or a negative code (elig.h) */
    char snapshot[ELIG_WIRE_SNAPSHOT_ID_MAX + 1]; /* the id serving afterwards */
    char content_sha256[65];                      /* "" when the snapshot has none */
    char error[256];                              /* why it failed; "" on success */
} call_reload;

/* One answer an offline terminal gave from its extract, as its `journal`
 * upload reports it (SPEC 10; docs/PROTOCOL.md). */
typedef struct {
    uint64_t seq;      /* the terminal's number for it: 1, 2, ... */
    uint64_t time_us;  /* when it was given (the terminal's clock) */
    uint64_t id, kk;   /* kk 0: not_found */
    elig_month period;
    uint32_t amount;
    elig_kind kind;
    elig_reason reason;
    uint8_t program_len, extract_len;
    char program[ELIG_WIRE_PROGRAM_MAX];
    const char *extract; /* the extract's id, into the request */
} call_offline;

/* Per-worker arrays for a batch, each of max_batch entries. */
typedef struct {
    elig_query *queries;
    elig_answer *answers;
    call_offline *offline; /* a journal upload's answers */
    uint32_t max_batch;
} call_scratch;

typedef struct {
    /* The envelope. */
    const mpr_request *msg;
    elig_method method; /* ELIG_METHOD_UNKNOWN for a name not in the table */

    /* decode: check and check_batch (check is a batch of one). */
    elig_query *queries;
    elig_answer *answers;
    uint32_t n;
    elig_query one_query; /* check's own, so it needs no scratch */
    elig_answer one_answer;
    /* decode: household. */
    elig_kind kind;
    uint64_t id;
    /* decode: journal [terminal, [answer, ...]]; record fills the counts. */
    const char *terminal; /* into the request */
    uint8_t terminal_len;
    call_offline *offline;
    uint32_t n_offline;
    uint64_t j_accepted, j_duplicates, j_durable;

    /* answer: household and info. */
    int hh_found;
    elig_household hh;
    call_server_info info;
    /* authorize: `auth` succeeded (its result is true). */
    bool auth_ok;
    /* reload: its outcome (query_reply_reload). */
    const call_reload *reload;

    /* The snapshot that answered: id and metadata. */
    const elig_meta *meta;
    const elig_snap *snap;

    /* Set by the first step that fails; 0 while all is well. */
    elig_errcode err;
    char errmsg[CALL_ERRMSG_MAX];
} call;

/* Sets c->err and a printf-style message, if no error was set before. */
void call_fail(call *c, elig_errcode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
