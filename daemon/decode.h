/* decode.h — step 1 of the request path: a framed msgpack-RPC request to
 * typed fields (call.h).
 *
 * Every param is checked against SPEC 2 and 3 here, once: a bad one sets
 * bad_request (a batch item's message names it as `item N`), a batch over
 * the limit too_large, an unknown method unknown_method. Later steps only
 * ever see well-formed queries. */
#ifndef ELIGD_DECODE_H
#define ELIGD_DECODE_H

#include "call.h"

/* Fills c from m. c->queries points into scratch for check_batch. Errors
 * are left in c->err; nothing is allocated. */
void call_decode(call *c, const mpr_request *m, const call_scratch *scratch);

#endif
