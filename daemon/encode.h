/* encode.h — step 5 of the request path: the call's results, or its error,
 * as one msgpack-RPC response appended to a buffer. */
#ifndef ELIGD_ENCODE_H
#define ELIGD_ENCODE_H

#include "buf.h"
#include "call.h"

/* Appends the response to c (nothing for a notification). Returns 0, or -1
 * if out could not grow (the connection should then be closed). */
int call_encode(const call *c, buf *out);

#endif
