/* wire.h — libeligclient's codec (internal): requests out, answers in.
 *
 * Pure functions over byte buffers, no sockets, so every byte of the codec
 * can be tested without a server. Requests are packed with msgpack-c's
 * packer into an eligc__buf. Answers are read with a small bounded reader
 * of our own instead of msgpack-c's unpacker, which allocates whatever an
 * array or map header declares before the elements arrive (msgpack-c issue
 * 1013): here a message is first framed by eligc__scan_next, which refuses
 * any declared size that could not fit in the size limit, and is then read
 * in place, allocating nothing (except a household's enrollment list,
 * whose length is bounded by the bytes present).
 */
#ifndef ELIGC_WIRE_H
#define ELIGC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eligclient.h"

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} eligc__buf;

/* Makes room for n more bytes: 0 or ELIGC_ENOMEM. */
int eligc__buf_reserve(eligc__buf *b, size_t n);
/* Frees the bytes; b is left empty and reusable. */
void eligc__buf_free(eligc__buf *b);

/* ---- requests: each appends one complete request to b ------------------ */
/* 0 or ELIGC_ENOMEM (b then holds a partial request: the caller truncates
 * b->len back to what it was). Queries must already be valid. */

/* A method whose params are [] (ping, info). */
int eligc__enc_noargs(eligc__buf *b, uint32_t msgid, elig_method m);
int eligc__enc_check(eligc__buf *b, uint32_t msgid, const eligc_query *q);
int eligc__enc_check_batch(eligc__buf *b, uint32_t msgid, const eligc_query *q, size_t n);
int eligc__enc_household(eligc__buf *b, uint32_t msgid, elig_kind kind, const char *id);

/* ---- framing ----------------------------------------------------------- */

/* Resumable state of the search for the end of one msgpack object. */
typedef struct {
    size_t pos;       /* bytes of the object accepted so far */
    uint64_t pending; /* objects still to read (0 before the first call) */
} eligc__scan;

/* Looks for the end of the msgpack object that starts at buf[0], given the
 * len bytes received so far; st carries the work done on earlier calls
 * (zero it for a new object, and keep buf's start fixed while it runs).
 * Returns the object's length when it is complete, 0 when more bytes are
 * needed, or ELIGC_EPROTO when the bytes are not msgpack or the object
 * cannot fit in limit bytes (every declared element needs at least one
 * byte, so a header declaring more than the limit allows fails at once). */
ssize_t eligc__scan_next(eligc__scan *st, const uint8_t *buf, size_t len, size_t limit);

/* ---- reading a framed message ------------------------------------------ */

/* A cursor over one complete message. Every read checks its bounds and
 * returns 0 on success or ELIGC_EPROTO, leaving the cursor unmoved. */
typedef struct {
    const uint8_t *p, *end;
} eligc__rd;

int eligc__rd_array(eligc__rd *r, uint32_t *n);
int eligc__rd_map(eligc__rd *r, uint32_t *n);
/* A str, or a bin (some msgpack-RPC peers send text as bin). */
int eligc__rd_str(eligc__rd *r, const char **s, uint32_t *n);
/* A non-negative integer in any width, signed or unsigned encoding. */
int eligc__rd_uint(eligc__rd *r, uint64_t *v);
/* Any integer that fits an int64. */
int eligc__rd_int(eligc__rd *r, int64_t *v);
int eligc__rd_bool(eligc__rd *r, bool *v);
/* Consumes a nil and returns true, or returns false and consumes nothing. */
bool eligc__rd_nil(eligc__rd *r);
/* Skips one object of any type, however nested. */
int eligc__rd_skip(eligc__rd *r);

/* Splits a response [1, msgid, error, result]: *err and *result cover the
 * error and result objects. ELIGC_EPROTO if msg is not a response. */
int eligc__resp_split(const uint8_t *msg, size_t n, uint32_t *msgid, eligc__rd *err,
                      eligc__rd *result);

/* Reads an error object. Returns 0 if it is nil (success), else 1 with
 * *code and the message copied (truncated, NUL-terminated) into msg[cap].
 * An error object not of the form [code, message] still counts as an
 * error: code 0 and a message saying so. */
int eligc__dec_error(eligc__rd *err, int64_t *code, char *msg, size_t cap);

/* Result decoders: 0, or ELIGC_EPROTO with *why set to a constant string
 * saying what was wrong. */
int eligc__dec_pong(eligc__rd *r, const char **why);
int eligc__dec_answer(eligc__rd *r, eligc_answer *a, const char **why);
/* An array of exactly n answer maps. */
int eligc__dec_answers(eligc__rd *r, eligc_answer *out, size_t n, const char **why);
/* Allocates h->enrollments; on failure h holds nothing to free. May also
 * return ELIGC_ENOMEM. */
int eligc__dec_household(eligc__rd *r, eligc_household *h, const char **why);
int eligc__dec_info(eligc__rd *r, eligc_info *info, const char **why);

#endif /* ELIGC_WIRE_H */
