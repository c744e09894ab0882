/* mp.h — the benchmark's own msgpack: a writer for requests and a bounded
 * reader for responses.
 *
 * The writer is eligd's own (daemon/mpw.h): it encodes straight into a
 * caller's buffer, no allocation, no bounds. The reader is a
 * pure function over bytes in the manner of picohttpparser: it frames one
 * object without recursion, trusts no declared size (every element costs at
 * least one byte, so a count over the limit is refused before anything is
 * read), never allocates and never reads past the length it is given.
 * msgpack-c's unpacker is not used: it allocates whatever a header claims. */
#ifndef ELIG_BENCH_MP_H
#define ELIG_BENCH_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- writer: shared with eligd ---------------------------------------- */

#include "mpw.h"

/* ---- reader ------------------------------------------------------------ */

enum {
    MPR_NEED_MORE = 0,
    MPR_MALFORMED = -1, /* not msgpack (0xc1) */
    MPR_TOO_LARGE = -2, /* over the caller's size limit */
};

/* Size of the whole msgpack object at p[0..n) (> 0), or MPR_NEED_MORE,
 * MPR_MALFORMED, MPR_TOO_LARGE. An object that would be larger than limit
 * is MPR_TOO_LARGE as soon as a header proves it. */
long mpr_frame(const uint8_t *p, size_t n, size_t limit);

/* A cursor over one framed object. Reads return false, leaving the cursor
 * unspecified, when the next object is not of the asked type or does not
 * fit. */
typedef struct {
    const uint8_t *p, *end;
} mpr_cur;

bool mpr_array(mpr_cur *c, uint32_t *n);
bool mpr_map(mpr_cur *c, uint32_t *n);
bool mpr_uint(mpr_cur *c, uint64_t *v);
/* Any integer, signed or not. */
bool mpr_int(mpr_cur *c, int64_t *v);
/* str or bin. */
bool mpr_str(mpr_cur *c, const char **s, uint32_t *n);
bool mpr_nil(mpr_cur *c); /* true (and consumed) if the next object is nil */
bool mpr_skip(mpr_cur *c);

/* A msgpack-RPC response [1, msgid, error, result]. */
typedef struct {
    uint32_t msgid;
    int errcode;    /* 0: error was nil; else the error's code (-1 if not [int, ...]) */
    mpr_cur result; /* positioned at the result */
} mpr_response;

/* Parses the envelope of a framed message p[0..size). false if it is not a
 * msgpack-RPC response. */
bool mpr_response_parse(const uint8_t *p, size_t size, mpr_response *r);

#endif
