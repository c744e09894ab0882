/* mp.h — the benchmark's own msgpack: a writer for requests and a bounded
 * reader for responses.
 *
 * The writer encodes straight into a caller's buffer (no allocation, no
 * bounds: the caller reserves MP_REQ_MAX-style room first). The reader is a
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

/* ---- writer ------------------------------------------------------------ */

static inline uint8_t *mpw_be16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}
static inline uint8_t *mpw_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* Array header: fixarray, array16 or array32. At most 5 bytes. */
static inline uint8_t *mpw_array(uint8_t *p, uint32_t n) {
    if (n < 16) {
        *p = (uint8_t)(0x90 | n);
        return p + 1;
    }
    if (n <= 0xffff) {
        *p = 0xdc;
        return mpw_be16(p + 1, n);
    }
    *p = 0xdd;
    return mpw_be32(p + 1, n);
}

/* Unsigned integer in its shortest form. At most 5 bytes (32-bit values). */
static inline uint8_t *mpw_uint(uint8_t *p, uint32_t v) {
    if (v < 128) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v <= 0xff) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        return p + 2;
    }
    if (v <= 0xffff) {
        *p = 0xcd;
        return mpw_be16(p + 1, v);
    }
    *p = 0xce;
    return mpw_be32(p + 1, v);
}

/* str of n bytes (n < 65536 here): header then the bytes. */
static inline uint8_t *mpw_str(uint8_t *p, const char *s, uint32_t n) {
    if (n < 32) {
        *p++ = (uint8_t)(0xa0 | n);
    } else if (n <= 0xff) {
        *p++ = 0xd9;
        *p++ = (uint8_t)n;
    } else {
        *p = 0xda;
        p = mpw_be16(p + 1, n);
    }
    memcpy(p, s, n);
    return p + n;
}

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
