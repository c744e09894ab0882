/* buf.h — a growable byte buffer.
 *
 * Used for a connection's partial input, its unsent output, and each
 * worker's shared scratch space. Growth is explicit and fallible: callers
 * decide the limit (a buffer a client can grow always has one, see conn.c).
 * Memory comes from the allocator seam (alloc.h). */
#ifndef ELIGD_BUF_H
#define ELIGD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "alloc.h"

typedef struct {
    char *data;
    size_t len, cap;
    bool failed; /* an append did not fit in memory; the contents are short */
} buf;

/* Makes room for at least `more` bytes past len. 0, or -1 if out of memory. */
static inline int buf_reserve(buf *b, size_t more) {
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    char *p = elig_realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int buf_append(buf *b, const void *p, size_t n) {
    if (buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Drops the first n bytes. */
static inline void buf_consume(buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static inline void buf_free(buf *b) {
    elig_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

/* msgpack_packer write callback appending to a buf. */
static inline int buf_msgpack_write(void *data, const char *p, size_t n) {
    return buf_append(data, p, n);
}

#endif
