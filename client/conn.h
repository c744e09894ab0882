/* conn.h — libeligclient's connection and request queue (internal).
 *
 * conn.c owns the socket, the list of servers and the queue of requests
 * sent but not yet collected; api.c builds the public calls on the four
 * functions below. A request goes through three states:
 *
 *   live      encoded in the send log, maybe written, no answer yet;
 *   answered  its response is framed and waiting in the input buffer;
 *   failed    it will never be answered (timeout, no server, garbage).
 *
 * Requests leave the queue in the order they entered it, whatever their
 * state, through eligc__recv. Only live requests are re-sent on failover,
 * so none is answered twice.
 */
#ifndef ELIGC_CONN_H
#define ELIGC_CONN_H

#include "wire.h"

/* A request being encoded: eligc__send_begin hands out the buffer to
 * encode into and the msgid to use. */
typedef struct {
    eligc__buf *buf;
    size_t mark; /* buf->len before encoding, to roll back */
    uint32_t msgid;
} eligc__sending;

/* Starts a request: ELIGC_EFULL when max_pending are queued, ELIGC_ENOMEM,
 * or 0. */
int eligc__send_begin(eligc_conn *c, eligc__sending *s);

/* Finishes the request begun with s: enc_rc is the encoder's result (on
 * error the bytes are rolled back and it is returned). Queues the request
 * as method m of n_items queries, then writes the send buffer if it has
 * grown past its threshold. 0 or ELIGC_ENOMEM. */
int eligc__send_end(eligc_conn *c, eligc__sending *s, int enc_rc, elig_method m,
                    uint32_t n_items);

/* Collects the oldest request, which must be method m of n_items queries
 * (else ELIGC_EBADARG, nothing consumed). Waits for its answer. Returns 0
 * with *result covering the result object (valid until the next call on
 * c), ELIGC_ESERVER for an error answer, or the error that failed it. The
 * request is dequeued in every case but ELIGC_EBADARG. */
int eligc__recv(eligc_conn *c, elig_method m, uint32_t n_items, mpr_cur *result);

/* Writes every live request: 0 or the error that failed them. */
int eligc__flush(eligc_conn *c);

/* Records the handle's last error (printf-style) and returns code. */
int eligc__seterr(eligc_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the code eligc_server_code reports (after eligc__seterr). */
void eligc__set_server_code(eligc_conn *c, int code);

/* The batch size limit of c's options. */
size_t eligc__batch_max(const eligc_conn *c);
/* The request timeout of c's options, in milliseconds. */
int eligc__request_timeout_ms(const eligc_conn *c);

/* The handle's offline answering (offline.h), or NULL without an extract. */
struct eligc__offline *eligc__offline_of(const eligc_conn *c);

/* Kind and id syntax (query.c): 0 or ELIGC_EBADARG with *why the field. */
int eligc__id_valid(elig_kind kind, const char *id, const char **why);

#endif /* ELIGC_CONN_H */
