/* resp.h — just enough RESP (the Redis protocol) for elig-bench --redis:
 * framing one reply, bounded like mp.h (pure, no allocation, declared
 * lengths checked against a limit before they are trusted). */
#ifndef ELIG_BENCH_RESP_H
#define ELIG_BENCH_RESP_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RESP_STATUS, /* +OK */
    RESP_ERROR,  /* -ERR ... */
    RESP_INT,    /* :1 */
    RESP_BULK,   /* $3\r\nabc */
    RESP_NIL,    /* $-1 (GET of a missing key) */
    RESP_ARRAY,  /* *N of the above, one level (MGET) */
} resp_type;

typedef struct {
    resp_type type;
    uint32_t items; /* RESP_ARRAY: elements */
    uint32_t nils;  /* RESP_ARRAY: elements that were nil */
} resp_reply;

/* Size of the reply at p[0..n) (> 0) with *r filled, 0 if incomplete, -1 if
 * malformed (or nested arrays), -2 if over limit bytes. */
long resp_frame(const uint8_t *p, size_t n, size_t limit, resp_reply *r);

#endif
