/* eligclient.h — libeligclient: the C client of eligd.
 *
 * What a terminal (e-warong EDC) or a bank's disbursement system links
 * against to ask eligd "is this person / family / card entitled to this
 * programme in this month, and to how much?" over msgpack-RPC (SPEC.md
 * section 3). Wire names and codes come from elig_wire.h, installed beside
 * this header: the reason of an answer is an `elig_reason`, printed with
 * elig_reason_code() (wire code) or elig_reason_words() (for people).
 *
 * Threads: the library has no global state and starts no threads. A handle
 * (eligc_conn) may be used by one thread at a time; different handles are
 * independent and may be used from different threads at once.
 *
 * Blocking: every call that talks to a server blocks the calling thread,
 * bounded by the connect and request timeouts of the options (sockets are
 * driven with poll(); the only wait that is not bounded is the name lookup
 * of a host name, done by getaddrinfo()). SIGPIPE is never raised.
 *
 * Errors: functions return 0 (or a count) on success and a negative
 * ELIGC_E* code on failure; eligc_strerror() names a code and
 * eligc_errmsg() gives the handle's last error as one line, e.g.
 * "timeout: no answer from 127.0.0.1:7420 within 2000 ms" or
 * "server error code 1: item 3: bad id".
 *
 * Ownership: strings passed in are read during the call only; the library
 * copies what it keeps. Results are plain structs filled into caller
 * memory, except eligc_household.enrollments (free with
 * eligc_household_free). Strings returned by eligc_errmsg()/eligc_server()
 * belong to the handle and are valid until the next call on that handle.
 *
 * Resilience: a handle may be given several servers (replicas of the same
 * snapshot, or one load balancer in front of them). On a refused or broken
 * connection, an answer `unavailable` (error 5) or an answer that is not
 * valid, it moves to the next server and re-sends every request that has
 * no answer yet (queries are read-only, so this is safe), for a round
 * through the list and one try more, then 5 rounds more with backoff
 * (100 ms doubling: 3.1 s in all) before the requests fail; credentials or
 * a TLS handshake refused end it after the first round (ELIGC_EAUTH). A
 * `reload` is never re-sent: it fails with ELIGC_ECONNLOST or its error.
 * Every request
 * is answered exactly once or reported failed: never lost, never answered
 * twice. A timeout does not fail over by itself (the server may only be
 * slow): it fails the requests waiting on
 * that connection and closes it, and the next request starts at the next
 * server in the list, so a caller that retries after a timeout reaches the
 * fallback server.
 *
 * Offline (SPEC 10, since 0.3): given a signed regional extract and the
 * public key it must be signed by, eligc_check answers from the extract,
 * through libelig's rule (the daemon's own code), when no server answers:
 * every server refused or dropped the connection, or each timed out. Such
 * an answer has `offline` set and names the extract; it is first appended
 * to a journal file (when one is configured), which eligc_journal_upload
 * later sends to a server for its audit trail. Only eligc_check does this:
 * batches and pipelined calls fail as before.
 */
#ifndef ELIGCLIENT_H
#define ELIGCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elig_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ELIGC_API __attribute__((visibility("default")))
#else
#define ELIGC_API
#endif

#define ELIGC_VERSION_MAJOR 0
#define ELIGC_VERSION_MINOR 3
#define ELIGC_VERSION_PATCH 0
#define ELIGC_VERSION_STRING "0.3.0"

/* The version of the library linked at run time, e.g. "0.1.0". */
ELIGC_API const char *eligc_version(void);

/* ---- errors ---------------------------------------------------------- */

#define ELIGC_ERRNO_MAP(X)                                                     \
    X(EBADARG, -1, "bad argument")                                             \
    X(ENOMEM, -2, "out of memory")                                             \
    X(ECONNECT, -3, "cannot connect")                                          \
    X(ETIMEOUT, -4, "timeout")                                                 \
    X(ECONNLOST, -5, "connection lost")                                        \
    X(ESERVER, -6, "server error")                                             \
    X(EPROTO, -7, "protocol error")                                            \
    X(EFULL, -8, "pipeline full")                                              \
    X(EAUTH, -9, "authentication refused")                                     \
    X(EOFFLINE, -10, "no offline answer")

enum {
#define ELIGC_X_(e, n, s) ELIGC_##e = n,
    ELIGC_ERRNO_MAP(ELIGC_X_)
#undef ELIGC_X_
};
/* ELIGC_EBADARG   a malformed query or option, or a call out of turn
 *                 (e.g. a synchronous call while pipelined answers wait).
 * ELIGC_ECONNECT  no server in the list accepted a connection.
 * ELIGC_ETIMEOUT  no answer within the request timeout (or no connection
 *                 within the connect timeout).
 * ELIGC_ECONNLOST the connection broke and no other server could take over.
 * ELIGC_ESERVER   the server answered this request with an error object:
 *                 eligc_server_code() is its code (an elig_errcode, e.g.
 *                 ELIG_ERRCODE_BAD_REQUEST), eligc_errmsg() its message.
 * ELIGC_EPROTO    the server sent something that is not a valid answer.
 * ELIGC_EFULL     max_pending requests are queued: receive answers first.
 * ELIGC_EAUTH     every server refused the channel's credentials (`auth`
 *                 answered unauthorized), or a TLS handshake failed (the
 *                 server's certificate or name did not verify, or ours
 *                 was refused); eligc_errmsg says which.
 * ELIGC_EOFFLINE  (0.3) no server answered and the extract could not
 *                 answer instead: it was refused (unsigned, altered,
 *                 signed by another key, unreadable) or the journal could
 *                 not be written; eligc_errmsg says both why the servers
 *                 did not answer and why the extract did not. */

/* Name of a code ("timeout", "connection lost", ...); never NULL. */
ELIGC_API const char *eligc_strerror(int err);

/* ---- options and handles ---------------------------------------------- */

/* Limits on strings in answers: a longer value is a protocol error. */
#define ELIGC_SNAPSHOT_MAX 64 /* snapshot id */

typedef struct {
    /* sizeof(eligc_options), set by eligc_options_init: lets a later
     * library version add fields without breaking programs built
     * against this one. */
    size_t size;
    /* Servers in order of preference. Each is "HOST:PORT" (a name, an
     * IPv4 address, or "[IPv6]:PORT") or "unix:PATH" for a Unix stream
     * socket. NULL / 0 means ELIG_WIRE_DEFAULT_HOST:ELIG_WIRE_DEFAULT_PORT.
     * Read by eligc_open only (the handle keeps copies). */
    const char *const *servers;
    size_t n_servers;
    int connect_timeout_ms; /* per connection attempt; default 2000 */
    /* Longest wait for an answer without progress (an answer arriving or
     * request bytes being written); default 5000. */
    int request_timeout_ms;
    /* Most requests queued without an answer collected; eligc_send_* gives
     * ELIGC_EFULL past it. Default 65536. */
    size_t max_pending;
    /* Largest answer accepted, in bytes; a server declaring more is a
     * protocol error (nothing that large is ever allocated). Default
     * 16 MiB: room for ELIG_WIRE_MAX_BATCH answers. */
    size_t max_message;
    /* Items per check_batch request; eligc_check_batch splits longer
     * lists. Must not exceed the server's --max-batch. Default
     * ELIG_WIRE_MAX_BATCH. */
    size_t batch_max;

    /* ---- since 0.2: TLS and channel credentials (SPEC 6) ------------
     * Strings are read by eligc_open only; the handle keeps what it needs
     * (the token in memory it wipes on eligc_close). */
    /* Speak TLS 1.2+ to every HOST:PORT server (never to unix:PATH). The
     * server's certificate is verified against tls_ca (or the system's
     * CAs when NULL) and must name HOST (a DNS name, or an IP address
     * given as one). Default false. */
    bool tls;
    const char *tls_ca;   /* PEM file of CA certificates, or NULL */
    const char *tls_cert; /* PEM client certificate (chain), or NULL */
    const char *tls_key;  /* its PEM private key (with tls_cert) */
    /* A channel: every connection, failovers and reconnects included,
     * first calls auth [channel, token] and goes on only when the server
     * answers true. The token comes from `token` or, when that is NULL,
     * from the file `token_file` (its first line; mode 0600 advised).
     * NULL channel: no auth (a TLS client certificate may still identify
     * the channel to the server). */
    const char *channel;
    const char *token;
    const char *token_file;

    /* ---- since 0.3: offline answers (SPEC 10) -------------------------
     * Paths are copied by eligc_open, which also reads the public key;
     * the extract is opened (and its every byte and signature checked)
     * once, at the first offline answer or eligc_offline_info, and the
     * journal at the first offline answer. */
    /* A signed extract (`elig-snapshot extract`, then `sign`), or NULL:
     * no offline answers. */
    const char *offline_extract;
    /* PEM file of the Ed25519 public key the extract must be signed by
     * (`openssl pkey -pubout`); required with offline_extract. */
    const char *offline_pubkey;
    /* File every offline answer is appended to (created, mode 0600, if
     * missing) before it is returned; NULL keeps no journal, which a
     * terminal should not do: its offline answers would reach no audit
     * trail. */
    const char *offline_journal;
    /* Once offline, the servers are asked again only this long after the
     * last failure (every check before then is answered offline at once,
     * without waiting on the network); default 30000, 0: every check
     * asks the servers first. */
    int offline_retry_ms;
} eligc_options;

/* Fills opt with the defaults above. Call it before setting fields. */
ELIGC_API void eligc_options_init(eligc_options *opt);

/* Takes the credentials from the environment, as `elig` does: channel
 * from ELIG_CHANNEL and token_file from ELIG_TOKEN_FILE, each only when
 * set and not empty (fields already set are overwritten). The pointers
 * point into the environment: call eligc_open before changing it. */
ELIGC_API void eligc_options_env(eligc_options *opt);

/* One client: a connection to one server at a time, the list of servers to
 * fall back on, its queue of pipelined requests and its last error. */
typedef struct eligc_conn eligc_conn;

/* Creates a handle and connects to the first server that accepts. opt may
 * be NULL for the defaults of eligc_options_init.
 *
 * Returns 0, or:
 *   ELIGC_ENOMEM   *out is NULL.
 *   ELIGC_EBADARG  an option is malformed (eligc_errmsg says which);
 *   ELIGC_ECONNECT no server accepted now; later calls try again.
 * As with sqlite3_open, *out is a handle in both of the last cases, so the
 * message can be read: close it with eligc_close in every case. */
ELIGC_API int eligc_open(const eligc_options *opt, eligc_conn **out);

/* Closes the connection and frees the handle; requests still queued are
 * dropped unanswered. c may be NULL. */
ELIGC_API void eligc_close(eligc_conn *c);

/* The handle's last error as one line ("" if none yet). */
ELIGC_API const char *eligc_errmsg(const eligc_conn *c);

/* Code of the last ELIGC_ESERVER error (an elig_errcode), else 0. */
ELIGC_API int eligc_server_code(const eligc_conn *c);

/* The server connected now, as given in the options, or NULL. */
ELIGC_API const char *eligc_server(const eligc_conn *c);

/* ---- queries and answers --------------------------------------------- */

/* A query (SPEC 2). Strings are NUL-terminated and read during the call.
 * The library checks the syntax before anything is sent: a malformed field
 * is ELIGC_EBADARG naming the field. */
typedef struct {
    elig_kind kind;      /* ELIG_KIND_NIK, ELIG_KIND_KK or ELIG_KIND_KKS */
    const char *id;      /* exactly 16 ASCII digits */
    const char *program; /* 1-16 chars of A-Z 0-9 _, e.g. "PKH" */
    const char *period;  /* "YYYY-MM" */
} eligc_query;

/* An answer (SPEC 3 answer map). */
typedef struct {
    bool eligible;
    elig_reason reason;       /* elig_reason_code / elig_reason_words */
    uint32_t amount;          /* Rupiah for the month; 0 unless eligible */
    char kk[17];              /* the family, "" when not_found */
    char region[11];          /* kode wilayah, "" when not_found */
    char snapshot[ELIGC_SNAPSHOT_MAX + 1]; /* id of the snapshot that answered */
    /* Since 0.3 (SPEC 10). */
    bool offline;             /* answered from the offline extract, not by a server */
    char extract[ELIGC_SNAPSHOT_MAX + 1]; /* offline: the extract's id (also in
                                             snapshot); "" otherwise */
} eligc_answer;

/* Checks the query syntax without sending anything: 0 or ELIGC_EBADARG.
 * If why is not NULL it is set to the field at fault ("kind", "id",
 * "program", "period"). */
ELIGC_API int eligc_query_valid(const eligc_query *q, const char **why);

/* ---- one request, one answer ------------------------------------------ */
/* Each of these sends one request and waits for its answer. They fail with
 * ELIGC_EBADARG while pipelined requests are waiting to be received. */

/* "pong" from the server: 0 or an error. */
ELIGC_API int eligc_ping(eligc_conn *c);

/* One query. 0 with *a filled, or an error (*a is then undefined). With
 * an offline extract (options.offline_extract), a query no server
 * answers (ELIGC_ECONNECT, ELIGC_ECONNLOST, or ELIGC_ETIMEOUT from every
 * server in turn) is answered from the extract instead: 0 with a->offline
 * true, after the answer is in the journal; or ELIGC_EOFFLINE. A family
 * outside the extract's regions is not_found, as any id it does not hold.
 * Other errors (a server's error answer, EAUTH, EPROTO) are returned as
 * they are. */
ELIGC_API int eligc_check(eligc_conn *c, const eligc_query *q, eligc_answer *a);

/* n queries, answers into out[0..n) in the same order. Lists longer than
 * the batch_max option are split into several check_batch requests, sent
 * pipelined. Every query is checked first: a malformed one is
 * ELIGC_EBADARG "item N: bad FIELD" and nothing is sent. On any other error
 * out is undefined. n == 0 is valid and sends nothing. */
ELIGC_API int eligc_check_batch(eligc_conn *c, const eligc_query *q, size_t n,
                                eligc_answer *out);

typedef struct {
    char program[ELIG_WIRE_PROGRAM_MAX + 1];
    char start[8];   /* "YYYY-MM" */
    char end[8];     /* "YYYY-MM", or "" when open-ended */
    uint32_t amount; /* Rupiah per month */
    elig_enr_status status;
} eligc_enrollment;

typedef struct {
    bool found;      /* false: the id names nothing (the rest is empty) */
    char kk[17];
    char region[11];
    elig_hh_status status;
    char kks[17];    /* "" when the family has no KKS card */
    uint32_t members; /* member rows loaded, deceased included */
    size_t n_enrollments;
    eligc_enrollment *enrollments; /* owned: eligc_household_free */
} eligc_household;

/* The family of (kind, id) with its enrollments. 0 with h filled (see
 * h->found), or an error (h then holds nothing to free). */
ELIGC_API int eligc_household_get(eligc_conn *c, elig_kind kind, const char *id,
                              eligc_household *h);

/* Frees h->enrollments and empties h. h may be NULL. */
ELIGC_API void eligc_household_free(eligc_household *h);

#define ELIGC_INFO_PROGRAMS_MAX 64 /* programme names kept by eligc_info */

typedef struct {
    char version[32];       /* eligd version (truncated if longer) */
    char snapshot[ELIGC_SNAPSHOT_MAX + 1];
    char created[40];       /* snapshot creation time, RFC 3339 UTC */
    uint64_t households, members, enrollments;
    uint64_t uptime_s, connections, requests;
    bool reload_failed;     /* the last reload (SIGHUP or reload) failed: */
    char reload_error[256]; /* why (truncated if longer), else "" */
    /* SPEC 9 (eligd 0.2 and later). A server that does not send a key
     * leaves its field empty: "" or 0, has_* false. */
    char health[16];          /* "ok", "degraded", "draining", "starting" */
    char content_sha256[65];  /* the snapshot's content hash, or "" */
    bool has_generation;
    uint64_t generation;      /* snapshot generation: 1 at start, +1 per reload */
    bool has_read_errors;
    uint64_t read_errors;     /* snapshot reads that failed while answering */
    bool has_programs;        /* false: the server did not say */
    size_t n_programs;        /* names in programs[], at most ELIGC_INFO_PROGRAMS_MAX */
    bool programs_truncated;  /* the server named more than that */
    char programs[ELIGC_INFO_PROGRAMS_MAX][ELIG_WIRE_PROGRAM_MAX + 1];
} eligc_info;

/* The server's info map. 0 with *info filled, or an error. */
ELIGC_API int eligc_info_get(eligc_conn *c, eligc_info *info);

/* What a successful reload serves now. */
typedef struct {
    char snapshot[ELIGC_SNAPSHOT_MAX + 1]; /* the snapshot id */
    char content_sha256[65];               /* its content hash, or "" */
} eligc_reload_result;

/* Asks the server to reload its snapshot now, and waits until it has
 * (SPEC 9: allowed on the Unix socket, or to a channel granted `reload`).
 * A reload can take seconds: give the handle a request timeout to match.
 * 0 with *out filled; ELIGC_ESERVER when it failed or was refused
 * (eligc_server_code() is ELIG_ERRCODE_UNAVAILABLE with the reason in
 * eligc_errmsg(), the previous snapshot still serving, or
 * ELIG_ERRCODE_UNAUTHORIZED); or another error. */
ELIGC_API int eligc_reload(eligc_conn *c, eligc_reload_result *out);

/* ---- offline terminals (SPEC 10, since 0.3) ---------------------------- */

/* What the extract of a handle says of itself. */
typedef struct {
    char id[ELIGC_SNAPSHOT_MAX + 1];         /* the extract's snapshot id */
    char extract_of[ELIGC_SNAPSHOT_MAX + 1]; /* the snapshot it was cut from */
    char regions[256];       /* its region prefixes, comma-separated */
    char created[40];        /* when it was made, RFC 3339 UTC */
    char content_sha256[65];
    uint64_t households, members, enrollments;
} eligc_extract_info;

/* Opens the handle's extract now, if it is not open yet (checking every
 * byte and the signature: a terminal calls it at start-up to know its
 * extract is good before the network goes), and describes it. 0 with
 * *out filled; ELIGC_EBADARG if the handle has no offline_extract;
 * ELIGC_EOFFLINE if the extract is refused (eligc_errmsg says why, e.g.
 * "offline: extract /data/x.mdb refused: ... signed by another key"). */
ELIGC_API int eligc_offline_info(eligc_conn *c, eligc_extract_info *out);

/* What an upload did. */
typedef struct {
    char terminal[33];     /* the journal's terminal id */
    uint64_t records;      /* answers in the journal */
    uint64_t last;         /* sequence number of the last one (0: none) */
    uint64_t sent;         /* sent this time: those past the acknowledged mark */
    uint64_t accepted;     /* of those, new to the server's audit trail */
    uint64_t duplicates;   /* of those, already in it (an earlier upload) */
    uint64_t acknowledged; /* every answer up to this sequence number is
                              durably in the trail (recorded in the journal) */
} eligc_journal_result;

/* Sends the journal at path to the connected server's `journal` method
 * (docs/PROTOCOL.md; the channel must be granted it), in batches of at
 * most batch_max answers, starting after the last acknowledged one; then
 * waits (at most the request timeout) until the server has written them
 * durably, and appends that acknowledgement to the journal. Sending a
 * journal twice records nothing twice: the server keeps, per channel and
 * terminal, the last sequence number recorded. The journal may be in use
 * by another handle meanwhile (appends are locked).
 * 0 with *out filled: everything is acknowledged. ELIGC_ETIMEOUT: sent,
 * but the server did not confirm all of it in time (out->acknowledged says
 * how far; upload again later). ELIGC_EBADARG: the journal cannot be read
 * (eligc_errmsg names the file and the damage). Any other error of a
 * request (ELIGC_ESERVER with unauthorized or unavailable, say): nothing
 * more is acknowledged; uploading again later is safe. */
ELIGC_API int eligc_journal_upload(eligc_conn *c, const char *path, eligc_journal_result *out);

/* ---- pipelined requests ----------------------------------------------- */
/* Queue many requests, then collect the answers in the order sent. Queued
 * requests are written when the send buffer fills, on eligc_flush, and on
 * any receive. Network errors never come from a send: each request that
 * cannot be answered is reported failed by the receive that collects it
 * (ELIGC_ETIMEOUT, ELIGC_ECONNLOST or ELIGC_ECONNECT), once. After such a
 * failure the following receives report the other requests queued at that
 * moment, one each; requests sent later go to the next working server.
 *
 * A bank's bulk loop:
 *     while (more rows) {
 *         if (eligc_pending(c) == depth) eligc_recv_check(c, &a) ... ;
 *         eligc_send_check(c, &q);
 *     }
 *     while (eligc_pending(c) > 0) eligc_recv_check(c, &a) ... ;
 */

/* Queues one check. 0, ELIGC_EBADARG (malformed query: nothing queued),
 * ELIGC_EFULL or ELIGC_ENOMEM. */
ELIGC_API int eligc_send_check(eligc_conn *c, const eligc_query *q);

/* Collects the answer of the oldest queued request, which must be a check
 * (else ELIGC_EBADARG and nothing is consumed; likewise when nothing is
 * queued). 0 with *a filled, or the error of that one request; either way
 * the request is done with, and the next receive collects the next one. */
ELIGC_API int eligc_recv_check(eligc_conn *c, eligc_answer *a);

/* Queues one check_batch request of n <= batch_max queries (0 allowed).
 * Errors as eligc_send_check; a malformed item is "item N: bad FIELD". */
ELIGC_API int eligc_send_check_batch(eligc_conn *c, const eligc_query *q, size_t n);

/* Collects the answers of the oldest queued request, which must be a
 * check_batch of n queries, into out[0..n). Like eligc_recv_check. */
ELIGC_API int eligc_recv_check_batch(eligc_conn *c, eligc_answer *out, size_t n);

/* Writes every queued request now, waiting at most the request timeout.
 * 0, or the error that failed the queued requests (each is still reported
 * by its receive). */
ELIGC_API int eligc_flush(eligc_conn *c);

/* Requests queued whose answer (or failure) has not been collected. */
ELIGC_API size_t eligc_pending(const eligc_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* ELIGCLIENT_H */
