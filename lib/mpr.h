/* mpr.h — the project's one msgpack reader, and the msgpack-RPC envelopes.
 *
 * eligd reads requests with it, libeligclient and elig-bench read responses
 * with it, the fuzz targets exercise it: one implementation, one set of
 * tests. It is pure in the manner of picohttpparser: bytes in; "complete at
 * n", "need more" or "malformed" out; pointers into the input; no
 * allocation, no I/O, no global state.
 *
 * Two layers:
 *
 *  - mpr_scan_next() frames one msgpack object arriving in pieces. It
 *    trusts no declared size: every element costs at least one byte, so a
 *    header declaring more elements or payload than the limit leaves room
 *    for is refused at once, before any of it arrives. It resumes where it
 *    stopped, so bytes dribbled one at a time cost O(n) in all, not O(n^2).
 *    Nesting is limited to MPR_MAX_DEPTH, which also bounds its state.
 *
 *  - The mpr_cur readers walk an object that was framed whole. Each checks
 *    the type and every bound, and on failure returns false and leaves the
 *    cursor where it was.
 *
 * msgpack-c's unpacker is not used for input anywhere: it allocates
 * whatever an array32/str32 header claims before the elements arrive
 * (msgpack-c issue 1013) and reports deep nesting as a memory error.
 *
 * The client library compiles this file in with hidden visibility, so the
 * installed library still stands alone. */
#ifndef ELIG_MPR_H
#define ELIG_MPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest container nesting mpr_scan_next accepts; the outermost object
 * is level 1. A non-empty container at a deeper level is MPR_MALFORMED. */
#define MPR_MAX_DEPTH 32

typedef enum {
    MPR_NEED_MORE = 0,
    MPR_MALFORMED = -1, /* not msgpack (0xc1), or nested deeper than MPR_MAX_DEPTH */
    MPR_TOO_LARGE = -2, /* the object cannot fit in the caller's limit */
    MPR_NOT_RPC = -3,   /* msgpack, but not a msgpack-RPC request (mpr_rpc_next) */
} mpr_status;

/* Framing state of one object. Zero it (or mpr_scan_reset) before the
 * object's first byte; keep it, and the object's first byte at the same
 * place in the buffer, across calls. */
typedef struct {
    uint64_t pos;  /* bytes of the object accepted so far */
    uint64_t owed; /* objects still to read, all levels */
    uint32_t depth; /* containers open */
    uint32_t started;
    uint64_t left[MPR_MAX_DEPTH]; /* objects still to read in each open container */
} mpr_scan;

static inline void mpr_scan_reset(mpr_scan *s) {
    s->pos = 0;
    s->owed = 0;
    s->depth = 0;
    s->started = 0;
}

/* Frames the object starting at p[0], of which n bytes have arrived (n only
 * ever grows between calls for one object). Returns its size (> 0) once
 * complete, MPR_NEED_MORE, or a negative mpr_status. limit is the largest
 * size allowed: an object that cannot fit fails as soon as a header proves
 * it. Each call reads only bytes it has not accepted before (a header cut
 * in two is read again, at most 9 bytes). */
long mpr_scan_next(mpr_scan *s, const uint8_t *p, size_t n, size_t limit);

/* One-shot framing from scratch: mpr_scan_next with a fresh state. */
long mpr_frame(const uint8_t *p, size_t n, size_t limit);

/* Human words for a status < 0. */
const char *mpr_status_str(long status);

/* ---- reading a framed object ------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} mpr_cur;

/* Container headers; *n elements (map: *n pairs), each of which is
 * checked to have at least a byte left. */
bool mpr_array(mpr_cur *c, uint32_t *n);
bool mpr_map(mpr_cur *c, uint32_t *n);
/* A str, or a bin (older msgpack-RPC peers send text as bin). *s points
 * into the input and is not NUL-terminated. */
bool mpr_str(mpr_cur *c, const char **s, uint32_t *n);
/* A value >= 0 in any integer encoding, signed or unsigned. */
bool mpr_uint(mpr_cur *c, uint64_t *v);
/* Any integer that fits an int64. */
bool mpr_int(mpr_cur *c, int64_t *v);
bool mpr_bool(mpr_cur *c, bool *v);
/* float32 or float64. */
bool mpr_double(mpr_cur *c, double *v);
/* True (and consumed) if the next object is nil. */
bool mpr_nil(mpr_cur *c);
/* Skips one whole object (nested at most MPR_MAX_DEPTH). */
bool mpr_skip(mpr_cur *c);
/* Type family of the next object ("str", "array", ...), for messages. */
const char *mpr_type_name(const mpr_cur *c);

static inline size_t mpr_left(const mpr_cur *c) { return (size_t)(c->end - c->p); }

/* ---- msgpack-RPC envelopes (SPEC 3) ------------------------------------ */

enum { MPR_RPC_REQUEST = 0, MPR_RPC_RESPONSE = 1, MPR_RPC_NOTIFY = 2 };

/* A request [0, msgid, method, params] or a notification
 * [2, method, params]; pointers into the message. */
typedef struct {
    int type;       /* MPR_RPC_REQUEST or MPR_RPC_NOTIFY */
    uint32_t msgid; /* requests only; 0 for a notification */
    const char *method;
    uint32_t method_len;
    mpr_cur params; /* positioned at the first parameter */
    uint32_t nparams;
} mpr_request;

/* Parses the envelope of the framed message p[0..n). false if it is not a
 * well-formed request or notification (wrong type, msgid not a uint32,
 * method not a str, params not an array). */
bool mpr_rpc_request(const uint8_t *p, size_t n, mpr_request *m);

/* Frames the message at p[0..n) from scratch and parses it as a request:
 * its size with *m filled, MPR_NEED_MORE, or a negative mpr_status
 * (MPR_NOT_RPC when it is msgpack but not a request or notification). For
 * whole buffers (tests, tools); a server reading a stream resumes with
 * mpr_scan_next instead. */
long mpr_rpc_next(const uint8_t *p, size_t n, size_t limit, mpr_request *m);

/* A response [1, msgid, error, result]: err and result each cover exactly
 * their object. false if p[0..n) is not exactly one response. */
bool mpr_rpc_response(const uint8_t *p, size_t n, uint32_t *msgid, mpr_cur *err, mpr_cur *result);

/* The code of an error object [code, message, ...]: 0 when the error is
 * nil, the code when it is an integer in 1..INT32_MAX, else -1 (an error
 * of a shape this reader does not know). The message, when asked for and
 * present as a str, is pointed to by *msg and *msg_len (else NULL, 0). */
int mpr_rpc_error(mpr_cur err, const char **msg, uint32_t *msg_len);

#endif
