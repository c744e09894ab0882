/* resp.c — see resp.h. */
#include "resp.h"

#include <stdbool.h>
#include <string.h>

/* Finds the CRLF ending the line at p[0..n): offset of '\r', or -1 if the
 * line is not complete. */
static long line_end(const uint8_t *p, size_t n) {
    const uint8_t *cr = memchr(p, '\r', n);
    if (!cr || (size_t)(cr - p) + 1 >= n)
        return -1;
    return cr[1] == '\n' ? cr - p : -2;
}

/* Decimal integer in p[0..len), optional minus. false if not a number. */
static bool parse_num(const uint8_t *p, long len, long long *out) {
    bool neg = len > 0 && p[0] == '-';
    long i = neg;
    if (i >= len || len - i > 18)
        return false;
    long long v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

/* One non-array element. Same return convention as resp_frame. */
static long element(const uint8_t *p, size_t n, size_t limit, resp_type *t) {
    if (n < 1)
        return 0;
    long e = line_end(p, n < limit ? n : limit);
    if (e == -2)
        return -1;
    if (e < 0)
        return n >= limit ? -2 : 0;
    long long v;
    switch (p[0]) {
    case '+': *t = RESP_STATUS; return e + 2;
    case '-': *t = RESP_ERROR; return e + 2;
    case ':':
        *t = RESP_INT;
        return parse_num(p + 1, e - 1, &v) ? e + 2 : -1;
    case '$':
        if (!parse_num(p + 1, e - 1, &v) || v < -1)
            return -1;
        if (v == -1) {
            *t = RESP_NIL;
            return e + 2;
        }
        *t = RESP_BULK;
        if ((unsigned long long)v + (unsigned long long)e + 4 > limit)
            return -2;
        if ((size_t)(e + 2 + v + 2) > n)
            return 0;
        if (p[e + 2 + v] != '\r' || p[e + 3 + v] != '\n')
            return -1;
        return e + 4 + (long)v;
    default: return -1;
    }
}

long resp_frame(const uint8_t *p, size_t n, size_t limit, resp_reply *r) {
    if (n < 1)
        return 0;
    r->items = r->nils = 0;
    if (p[0] != '*')
        return element(p, n, limit, &r->type);
    long e = line_end(p, n < limit ? n : limit);
    if (e == -2)
        return -1;
    if (e < 0)
        return n >= limit ? -2 : 0;
    long long count;
    if (!parse_num(p + 1, e - 1, &count) || count < -1)
        return -1;
    r->type = RESP_ARRAY;
    size_t off = (size_t)e + 2;
    if (count == -1)
        return (long)off;
    if ((unsigned long long)count > limit)
        return -2;
    for (long long i = 0; i < count; i++) {
        if (off >= limit)
            return -2;
        if (off >= n)
            return 0;
        if (p[off] == '*')
            return -1;
        resp_type t;
        long k = element(p + off, n - off, limit - off, &t);
        if (k <= 0)
            return k;
        r->nils += t == RESP_NIL;
        off += (size_t)k;
    }
    r->items = (uint32_t)count;
    return (long)off;
}
