/* proto.c — see proto.h. */
#include "proto.h"

#include "elig_wire.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* What one msgpack header says: its own size, the payload bytes that follow
 * it, and how many child objects (array elements, map keys + values). */
typedef struct {
    uint32_t head;
    uint64_t payload;
    uint64_t children;
} mp_head;

/* Decodes the header at p[0..n). 1 ok, 0 need more, -1 never valid (0xc1). */
static int head_of(const uint8_t *p, size_t n, mp_head *h) {
    if (n < 1)
        return 0;
    uint8_t b = p[0];
    h->head = 1, h->payload = 0, h->children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1; /* fixint, nil, bool */
    if (b >= 0xa0 && b <= 0xbf) {
        h->payload = b & 0x1f;
        return 1;
    }
    if (b >= 0x90 && b <= 0x9f) {
        h->children = b & 0x0f;
        return 1;
    }
    if (b >= 0x80 && b <= 0x8f) {
        h->children = 2u * (b & 0x0f);
        return 1;
    }
    /* Fixed-size scalars: uint/int 8..64, float32/64, fixext 1..16. */
    static const uint8_t fixed[256] = {
        [0xca] = 4, [0xcb] = 8, [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2,
        [0xd2] = 4, [0xd3] = 8, [0xd4] = 2, [0xd5] = 3, [0xd6] = 5, [0xd7] = 9, [0xd8] = 17,
    };
    if (fixed[b]) {
        h->payload = fixed[b];
        return 1;
    }
    /* Variable: a big-endian length of 1, 2 or 4 bytes, then a payload or
     * children. ext types carry one more byte (their type). */
    uint32_t lenlen, ext = 0;
    switch (b) {
    case 0xc4: case 0xd9: lenlen = 1; break;        /* bin8, str8 */
    case 0xc5: case 0xda: case 0xdc: case 0xde: lenlen = 2; break;
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: lenlen = 4; break;
    case 0xc7: lenlen = 1, ext = 1; break;
    case 0xc8: lenlen = 2, ext = 1; break;
    case 0xc9: lenlen = 4, ext = 1; break;
    default: return -1; /* 0xc1 is never used */
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

/* Size of the whole object at p[0..n), or a proto_status <= 0. Every child
 * is at least one byte, so a header claiming more children or payload than
 * the limit allows is refused before anything else is read. */
static long skip_obj(const uint8_t *p, size_t n, size_t limit, int depth) {
    mp_head h;
    int rc = head_of(p, n, &h);
    if (rc <= 0)
        return rc == 0 ? PROTO_NEED_MORE : PROTO_MALFORMED;
    if (h.payload > limit || h.children > limit)
        return PROTO_TOO_LARGE;
    uint64_t off = h.head + h.payload;
    if (h.children && depth > PROTO_MAX_DEPTH)
        return PROTO_MALFORMED;
    for (uint64_t i = 0; i < h.children; i++) {
        if (off > limit)
            return PROTO_TOO_LARGE;
        if (off >= n)
            return PROTO_NEED_MORE;
        long k = skip_obj(p + off, n - off, limit - off, depth + 1);
        if (k <= 0)
            return k;
        off += (uint64_t)k;
    }
    if (off > limit)
        return PROTO_TOO_LARGE;
    if (off > n)
        return PROTO_NEED_MORE;
    return (long)off;
}

bool mp_skip(mp_cur *c) {
    long k = skip_obj(c->p, (size_t)(c->end - c->p), (size_t)(c->end - c->p), 1);
    if (k <= 0)
        return false;
    c->p += k;
    return true;
}

bool mp_read_array(mp_cur *c, uint32_t *n) {
    mp_head h;
    size_t avail = (size_t)(c->end - c->p);
    if (head_of(c->p, avail, &h) != 1)
        return false;
    uint8_t b = c->p[0];
    if (!((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd))
        return false;
    *n = (uint32_t)h.children;
    c->p += h.head;
    return true;
}

bool mp_read_str(mp_cur *c, const char **s, uint32_t *n) {
    mp_head h;
    size_t avail = (size_t)(c->end - c->p);
    if (head_of(c->p, avail, &h) != 1)
        return false;
    uint8_t b = c->p[0];
    bool str = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb) || (b >= 0xc4 && b <= 0xc6);
    if (!str || h.head + h.payload > avail)
        return false;
    *s = (const char *)c->p + h.head;
    *n = (uint32_t)h.payload;
    c->p += h.head + h.payload;
    return true;
}

/* Any integer encoding of a value >= 0. */
bool mp_read_uint(mp_cur *c, uint64_t *v) {
    size_t avail = (size_t)(c->end - c->p);
    if (avail < 1)
        return false;
    uint8_t b = c->p[0];
    if (b <= 0x7f) {
        *v = b;
        c->p += 1;
        return true;
    }
    static const uint8_t size[256] = {[0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8,
                                      [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8};
    uint32_t k = size[b];
    if (!k || avail < 1 + k)
        return false;
    const uint8_t *q = c->p + 1;
    uint64_t u = k == 1 ? q[0] : k == 2 ? be16(q) : k == 4 ? be32(q) : be64(q);
    if (b >= 0xd0) { /* signed: sign-extend, refuse negatives */
        int64_t s = k == 1 ? (int8_t)u : k == 2 ? (int16_t)u : k == 4 ? (int32_t)u : (int64_t)u;
        if (s < 0)
            return false;
        u = (uint64_t)s;
    }
    *v = u;
    c->p += 1 + k;
    return true;
}

const char *mp_type_name(const mp_cur *c) {
    if (c->p >= c->end)
        return "nothing";
    uint8_t b = c->p[0];
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
        return "integer";
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
        return "str";
    if (b >= 0xc4 && b <= 0xc6)
        return "bin";
    if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
        return "array";
    if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
        return "map";
    if (b == 0xc0)
        return "nil";
    if (b == 0xc2 || b == 0xc3)
        return "bool";
    if (b == 0xca || b == 0xcb)
        return "float";
    return "ext";
}

/* The envelope of SPEC 3: [0, msgid, method, params] or [2, method, params]. */
static long check_envelope(const uint8_t *p, size_t size, proto_msg *m) {
    mp_cur c = {p, p + size};
    uint32_t n;
    uint64_t type, msgid;
    if (!mp_read_array(&c, &n) || !mp_read_uint(&c, &type))
        return PROTO_NOT_RPC;
    if (type == ELIG_MSG_REQUEST && n == 4) {
        if (!mp_read_uint(&c, &msgid) || msgid > UINT32_MAX)
            return PROTO_NOT_RPC;
        m->msgid = (uint32_t)msgid;
    } else if (type == ELIG_MSG_NOTIFY && n == 3) {
        m->msgid = 0;
    } else {
        return PROTO_NOT_RPC;
    }
    m->type = (int)type;
    if (!mp_read_str(&c, &m->method, &m->method_len) || !mp_read_array(&c, &m->nparams))
        return PROTO_NOT_RPC;
    m->params = c;
    return (long)size;
}

long proto_next(const uint8_t *p, size_t n, size_t limit, proto_msg *m) {
    long size = skip_obj(p, n, limit, 1);
    if (size <= 0)
        return size;
    return check_envelope(p, (size_t)size, m);
}

const char *proto_status_str(long status) {
    switch (status) {
    case PROTO_MALFORMED:
        return "not msgpack, or nested too deep";
    case PROTO_TOO_LARGE:
        return "message over the size limit";
    case PROTO_NOT_RPC:
        return "not a msgpack-RPC request or notification";
    default:
        return "incomplete message";
    }
}
