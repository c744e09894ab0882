/* proto.h — a bounded msgpack-RPC request decoder.
 *
 * A pure function over bytes, in the manner of picohttpparser: it never
 * allocates, never reads past the given length, and trusts no declared
 * size. msgpack-c's unpacker is not used for input because it allocates
 * whatever an array32/str32 header claims before the elements arrive
 * (upstream issue 1013) and reports deep nesting as a memory error.
 *
 * proto_next() frames one message and checks its envelope. Params are then
 * read with the mp_* cursor functions, which only ever see a message that
 * was framed whole, and still check every bound. */
#ifndef ELIGD_PROTO_H
#define ELIGD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest container nesting accepted. check_batch needs 4 (message, params,
 * batch, item). A little deeper is a malformed request that deserves a
 * bad_request answer, as SPEC 3 asks for params of the wrong shape; much
 * deeper is an attack, and closes the connection. The decoder recurses once
 * per level, so this also bounds its stack. */
#define PROTO_MAX_DEPTH 32

typedef enum {
    PROTO_NEED_MORE = 0, /* the message is not complete yet */
    PROTO_MALFORMED = -1, /* not msgpack, or deeper than PROTO_MAX_DEPTH */
    PROTO_TOO_LARGE = -2, /* over the message size limit */
    PROTO_NOT_RPC = -3,   /* msgpack, but not a request or notification */
} proto_status;

/* A cursor over msgpack bytes. */
typedef struct {
    const uint8_t *p, *end;
} mp_cur;

typedef struct {
    int type;        /* ELIG_MSG_REQUEST or ELIG_MSG_NOTIFY */
    uint32_t msgid;  /* requests only */
    const char *method;
    uint32_t method_len;
    mp_cur params;   /* positioned at the first parameter */
    uint32_t nparams;
} proto_msg;

/* Frames and checks the message at the start of p[0..n). Returns its size
 * (> 0) with *m filled, pointing into p, or a proto_status <= 0. limit is the
 * maximum message size: a message that cannot fit is PROTO_TOO_LARGE as soon
 * as a header proves it, without waiting for its bytes. */
long proto_next(const uint8_t *p, size_t n, size_t limit, proto_msg *m);

/* Human words for a status < 0. */
const char *proto_status_str(long status);

/* Cursor reads: each returns false, leaving the cursor unspecified, if the
 * next object is not of the asked type. A str accepts msgpack str and bin. */
bool mp_read_array(mp_cur *c, uint32_t *n);
bool mp_read_str(mp_cur *c, const char **s, uint32_t *n);
bool mp_read_uint(mp_cur *c, uint64_t *v);
/* Skips one whole object. */
bool mp_skip(mp_cur *c);
/* msgpack type family of the next object, for error messages. */
const char *mp_type_name(const mp_cur *c);

#endif
