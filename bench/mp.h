/* mp.h — the benchmark's msgpack: the project's writer (lib/mpw.h) for
 * requests, its bounded reader (lib/mpr.h) for responses, and one helper
 * that splits a response the way the load generators want it. */
#ifndef ELIG_BENCH_MP_H
#define ELIG_BENCH_MP_H

#include "mpr.h"
#include "mpw.h"

/* A msgpack-RPC response [1, msgid, error, result]. */
typedef struct {
    uint32_t msgid;
    int errcode;    /* 0: error was nil; else the error's code (-1 if not [int, ...]) */
    mpr_cur result; /* positioned at the result */
} mpr_response;

/* Parses the framed message p[0..size). false if it is not exactly one
 * msgpack-RPC response. */
static inline bool mpr_response_parse(const uint8_t *p, size_t size, mpr_response *r) {
    mpr_cur err;
    if (!mpr_rpc_response(p, size, &r->msgid, &err, &r->result))
        return false;
    r->errcode = mpr_rpc_error(err, NULL, NULL);
    return true;
}

#endif
