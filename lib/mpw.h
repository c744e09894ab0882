/* mpw.h — a msgpack writer over a raw pointer, for the hot paths that
 * encode fixed-shape messages: eligd's answer map and elig-bench's
 * requests. No allocation and no bounds: the caller reserves room first
 * (each function says its maximum). Shortest encodings, as msgpack-c's
 * packer writes them. */
#ifndef ELIG_MPW_H
#define ELIG_MPW_H

#include <stdint.h>
#include <string.h>

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

#endif
