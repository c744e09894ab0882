/* mp.c — see mp.h. */
#include "mp.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* One header: its size, payload bytes after it, and child objects. */
typedef struct {
    uint32_t head;
    uint64_t payload;
    uint64_t children;
} head;

/* 1 ok, 0 need more, -1 never valid. */
static int head_of(const uint8_t *p, size_t n, head *h) {
    if (n < 1)
        return 0;
    uint8_t b = p[0];
    h->head = 1, h->payload = 0, h->children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if (b >= 0xa0 && b <= 0xbf) {
        h->payload = b & 0x1fu;
        return 1;
    }
    if (b >= 0x90 && b <= 0x9f) {
        h->children = b & 0x0fu;
        return 1;
    }
    if (b >= 0x80 && b <= 0x8f) {
        h->children = 2u * (b & 0x0fu);
        return 1;
    }
    static const uint8_t fixed[256] = {
        [0xca] = 4, [0xcb] = 8, [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2,
        [0xd2] = 4, [0xd3] = 8, [0xd4] = 2, [0xd5] = 3, [0xd6] = 5, [0xd7] = 9, [0xd8] = 17,
    };
    if (fixed[b]) {
        h->payload = fixed[b];
        return 1;
    }
    uint32_t lenlen, ext = 0;
    switch (b) {
    case 0xc4: case 0xd9: lenlen = 1; break;
    case 0xc5: case 0xda: case 0xdc: case 0xde: lenlen = 2; break;
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: lenlen = 4; break;
    case 0xc7: lenlen = 1, ext = 1; break;
    case 0xc8: lenlen = 2, ext = 1; break;
    case 0xc9: lenlen = 4, ext = 1; break;
    default: return -1;
    }
    if (n < 1 + lenlen)
        return 0;
    uint64_t len = lenlen == 1 ? p[1] : lenlen == 2 ? be16(p + 1) : be32(p + 1);
    h->head = 1 + lenlen;
    if (b == 0xdc || b == 0xdd)
        h->children = len;
    else if (b == 0xde || b == 0xdf)
        h->children = 2 * len;
    else
        h->payload = len + ext;
    return 1;
}

/* Iterative: `pending` counts objects still to be read, so nesting costs
 * no stack and needs no depth limit. */
long mpr_frame(const uint8_t *p, size_t n, size_t limit) {
    uint64_t pending = 1, off = 0;
    while (pending) {
        if (off >= limit)
            return MPR_TOO_LARGE;
        if (off >= n)
            return MPR_NEED_MORE;
        head h;
        int rc = head_of(p + off, n - off, &h);
        if (rc < 0)
            return MPR_MALFORMED;
        if (rc == 0)
            return MPR_NEED_MORE;
        if (h.payload > limit || h.children > limit)
            return MPR_TOO_LARGE;
        pending = pending - 1 + h.children;
        off += h.head + h.payload;
        if (pending > limit)
            return MPR_TOO_LARGE;
    }
    if (off > limit)
        return MPR_TOO_LARGE;
    if (off > n)
        return MPR_NEED_MORE;
    return (long)off;
}

static bool get_head(const mpr_cur *c, head *h) {
    return c->p < c->end && head_of(c->p, (size_t)(c->end - c->p), h) == 1;
}

bool mpr_array(mpr_cur *c, uint32_t *n) {
    head h;
    if (!get_head(c, &h))
        return false;
    uint8_t b = c->p[0];
    if (!((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd))
        return false;
    *n = (uint32_t)h.children;
    c->p += h.head;
    return true;
}

bool mpr_map(mpr_cur *c, uint32_t *n) {
    head h;
    if (!get_head(c, &h))
        return false;
    uint8_t b = c->p[0];
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
        return false;
    *n = (uint32_t)(h.children / 2);
    c->p += h.head;
    return true;
}

bool mpr_int(mpr_cur *c, int64_t *v) {
    if (c->p >= c->end)
        return false;
    uint8_t b = c->p[0];
    if (b <= 0x7f || b >= 0xe0) {
        *v = b <= 0x7f ? (int64_t)b : (int64_t)(int8_t)b; /* positive or negative fixint */
        c->p++;
        return true;
    }
    static const uint8_t size[256] = {[0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8,
                                      [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8};
    uint32_t k = size[b];
    if (!k || (size_t)(c->end - c->p) < 1 + k)
        return false;
    const uint8_t *q = c->p + 1;
    uint64_t u = k == 1 ? q[0] : k == 2 ? be16(q) : k == 4 ? be32(q) : be64(q);
    if (b >= 0xd0)
        *v = k == 1 ? (int8_t)u : k == 2 ? (int16_t)u : k == 4 ? (int32_t)u : (int64_t)u;
    else
        *v = (int64_t)u;
    c->p += 1 + k;
    return true;
}

bool mpr_uint(mpr_cur *c, uint64_t *v) {
    int64_t s;
    if (c->p < c->end && c->p[0] == 0xcf && (size_t)(c->end - c->p) >= 9) {
        *v = be64(c->p + 1);
        c->p += 9;
        return true;
    }
    if (!mpr_int(c, &s) || s < 0)
        return false;
    *v = (uint64_t)s;
    return true;
}

bool mpr_str(mpr_cur *c, const char **s, uint32_t *n) {
    head h;
    if (!get_head(c, &h))
        return false;
    uint8_t b = c->p[0];
    bool str = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb) || (b >= 0xc4 && b <= 0xc6);
    if (!str || h.head + h.payload > (size_t)(c->end - c->p))
        return false;
    *s = (const char *)c->p + h.head;
    *n = (uint32_t)h.payload;
    c->p += h.head + h.payload;
    return true;
}

bool mpr_nil(mpr_cur *c) {
    if (c->p < c->end && c->p[0] == 0xc0) {
        c->p++;
        return true;
    }
    return false;
}

bool mpr_skip(mpr_cur *c) {
    size_t avail = (size_t)(c->end - c->p);
    long k = mpr_frame(c->p, avail, avail);
    if (k <= 0)
        return false;
    c->p += k;
    return true;
}

bool mpr_response_parse(const uint8_t *p, size_t size, mpr_response *r) {
    mpr_cur c = {p, p + size};
    uint32_t n;
    uint64_t type, msgid;
    if (!mpr_array(&c, &n) || n != 4 || !mpr_uint(&c, &type) || type != 1 || !mpr_uint(&c, &msgid) ||
        msgid > UINT32_MAX)
        return false;
    r->msgid = (uint32_t)msgid;
    if (mpr_nil(&c)) {
        r->errcode = 0;
    } else {
        mpr_cur e = c;
        uint32_t en;
        int64_t code;
        r->errcode = -1;
        if (mpr_array(&e, &en) && en >= 1 && mpr_int(&e, &code) && code > 0 && code < 1000)
            r->errcode = (int)code;
        if (!mpr_skip(&c))
            return false;
    }
    r->result = c;
    return c.p < c.end;
}
