/* mpr.c — see mpr.h. */
#include "mpr.h"

#include <string.h>

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* What one msgpack header says: its own size, the payload bytes after it,
 * and how many child objects follow (array elements, map keys + values). */
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
    /* Fixed-size scalars: uint/int 8..64, float32/64, fixext 1..16 (type
     * byte included). */
    static const uint8_t fixed[256] = {
        [0xca] = 4, [0xcb] = 8, [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2,
        [0xd2] = 4, [0xd3] = 8, [0xd4] = 2, [0xd5] = 3, [0xd6] = 5, [0xd7] = 9, [0xd8] = 17,
    };
    if (fixed[b]) {
        h->payload = fixed[b];
        return 1;
    }
    /* A big-endian length of 1, 2 or 4 bytes, then a payload or children.
     * ext types carry one more byte, their type. */
    uint32_t lenlen, ext = 0;
    switch (b) {
    case 0xc4: case 0xd9: lenlen = 1; break; /* bin8, str8 */
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

/* Invariants between calls: pos <= limit, and owed objects each still
 * need a byte, so owed <= limit - pos. */
long mpr_scan_next(mpr_scan *s, const uint8_t *p, size_t n, size_t limit) {
    if (!s->started) {
        if (limit == 0)
            return MPR_TOO_LARGE;
        s->started = 1;
        s->owed = 1;
    }
    while (s->owed > 0) {
        mp_head h;
        int rc = head_of(p + s->pos, n - s->pos, &h);
        if (rc < 0)
            return MPR_MALFORMED;
        if (rc == 0)
            return MPR_NEED_MORE;
        /* Room for this object once every sibling still owed has its byte
         * (>= 1 by the invariant). */
        uint64_t room = limit - s->pos - (s->owed - 1);
        if (h.payload > room || h.head + h.payload > room)
            return MPR_TOO_LARGE;
        if (h.children) {
            if (s->depth + 1 > MPR_MAX_DEPTH)
                return MPR_MALFORMED;
            if (h.children > room - h.head - h.payload) /* each child needs a byte */
                return MPR_TOO_LARGE;
        }
        if (h.head + h.payload > n - s->pos)
            return MPR_NEED_MORE; /* the payload is still coming */
        s->pos += h.head + h.payload;
        s->owed--;
        if (s->depth)
            s->left[s->depth - 1]--;
        if (h.children) {
            s->left[s->depth++] = h.children;
            s->owed += h.children;
        }
        while (s->depth && s->left[s->depth - 1] == 0)
            s->depth--;
    }
    return (long)s->pos;
}

long mpr_frame(const uint8_t *p, size_t n, size_t limit) {
    mpr_scan s;
    mpr_scan_reset(&s);
    return mpr_scan_next(&s, p, n, limit);
}

const char *mpr_status_str(long status) {
    switch (status) {
    case MPR_MALFORMED:
        return "not msgpack, or nested too deep";
    case MPR_TOO_LARGE:
        return "message over the size limit";
    case MPR_NOT_RPC:
        return "not a msgpack-RPC request or notification";
    default:
        return "incomplete message";
    }
}

/* ---- cursor reads ------------------------------------------------------ */

static bool get_head(const mpr_cur *c, mp_head *h) {
    return c->p < c->end && head_of(c->p, mpr_left(c), h) == 1;
}

/* A container whose first byte is in one of the given families. */
static bool read_container(mpr_cur *c, uint32_t *n, uint8_t fix, uint8_t b16, uint8_t b32, uint64_t per) {
    mp_head h;
    if (!get_head(c, &h))
        return false;
    uint8_t b = c->p[0];
    if (!((b & 0xf0) == fix || b == b16 || b == b32))
        return false;
    if (h.children > mpr_left(c) - h.head) /* each element needs a byte */
        return false;
    *n = (uint32_t)(h.children / per);
    c->p += h.head;
    return true;
}

bool mpr_array(mpr_cur *c, uint32_t *n) { return read_container(c, n, 0x90, 0xdc, 0xdd, 1); }

bool mpr_map(mpr_cur *c, uint32_t *n) { return read_container(c, n, 0x80, 0xde, 0xdf, 2); }

bool mpr_str(mpr_cur *c, const char **s, uint32_t *n) {
    mp_head h;
    if (!get_head(c, &h))
        return false;
    uint8_t b = c->p[0];
    bool str = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb) || (b >= 0xc4 && b <= 0xc6);
    if (!str || h.payload > mpr_left(c) - h.head)
        return false;
    *s = (const char *)c->p + h.head;
    *n = (uint32_t)h.payload;
    c->p += h.head + h.payload;
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
    if (!k || mpr_left(c) < 1 + k)
        return false;
    const uint8_t *q = c->p + 1;
    uint64_t u = k == 1 ? q[0] : k == 2 ? be16(q) : k == 4 ? be32(q) : be64(q);
    if (b >= 0xd0)
        *v = k == 1 ? (int8_t)u : k == 2 ? (int16_t)u : k == 4 ? (int32_t)u : (int64_t)u;
    else if (u > INT64_MAX)
        return false;
    else
        *v = (int64_t)u;
    c->p += 1 + k;
    return true;
}

bool mpr_uint(mpr_cur *c, uint64_t *v) {
    /* uint64 above INT64_MAX is the one value mpr_int refuses. */
    if (mpr_left(c) >= 9 && c->p[0] == 0xcf) {
        *v = be64(c->p + 1);
        c->p += 9;
        return true;
    }
    mpr_cur save = *c;
    int64_t s;
    if (!mpr_int(c, &s))
        return false;
    if (s < 0) {
        *c = save;
        return false;
    }
    *v = (uint64_t)s;
    return true;
}

bool mpr_bool(mpr_cur *c, bool *v) {
    if (c->p >= c->end || (c->p[0] != 0xc2 && c->p[0] != 0xc3))
        return false;
    *v = c->p[0] == 0xc3;
    c->p++;
    return true;
}

bool mpr_double(mpr_cur *c, double *v) {
    if (mpr_left(c) >= 9 && c->p[0] == 0xcb) {
        uint64_t bits = be64(c->p + 1);
        memcpy(v, &bits, sizeof *v);
        c->p += 9;
        return true;
    }
    if (mpr_left(c) >= 5 && c->p[0] == 0xca) {
        uint32_t bits = be32(c->p + 1);
        float f;
        memcpy(&f, &bits, sizeof f);
        *v = f;
        c->p += 5;
        return true;
    }
    return false;
}

bool mpr_nil(mpr_cur *c) {
    if (c->p < c->end && c->p[0] == 0xc0) {
        c->p++;
        return true;
    }
    return false;
}

bool mpr_skip(mpr_cur *c) {
    long k = mpr_frame(c->p, mpr_left(c), mpr_left(c));
    if (k <= 0)
        return false;
    c->p += k;
    return true;
}

const char *mpr_type_name(const mpr_cur *c) {
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

/* ---- msgpack-RPC envelopes --------------------------------------------- */

bool mpr_rpc_request(const uint8_t *p, size_t n, mpr_request *m) {
    mpr_cur c = {p, p + n};
    uint32_t len;
    uint64_t type, msgid = 0;
    if (!mpr_array(&c, &len) || !mpr_uint(&c, &type))
        return false;
    if (type == MPR_RPC_REQUEST && len == 4) {
        if (!mpr_uint(&c, &msgid) || msgid > UINT32_MAX)
            return false;
    } else if (!(type == MPR_RPC_NOTIFY && len == 3)) {
        return false;
    }
    m->type = (int)type;
    m->msgid = (uint32_t)msgid;
    if (!mpr_str(&c, &m->method, &m->method_len) || !mpr_array(&c, &m->nparams))
        return false;
    m->params = c;
    return true;
}

long mpr_rpc_next(const uint8_t *p, size_t n, size_t limit, mpr_request *m) {
    long size = mpr_frame(p, n, limit);
    if (size <= 0)
        return size;
    return mpr_rpc_request(p, (size_t)size, m) ? size : MPR_NOT_RPC;
}

bool mpr_rpc_response(const uint8_t *p, size_t n, uint32_t *msgid, mpr_cur *err, mpr_cur *result) {
    mpr_cur c = {p, p + n};
    uint32_t len;
    uint64_t type, id;
    if (!mpr_array(&c, &len) || len != 4 || !mpr_uint(&c, &type) || type != MPR_RPC_RESPONSE ||
        !mpr_uint(&c, &id) || id > UINT32_MAX)
        return false;
    err->p = c.p;
    if (!mpr_skip(&c))
        return false;
    err->end = result->p = c.p;
    if (!mpr_skip(&c))
        return false;
    result->end = c.p;
    *msgid = (uint32_t)id;
    return c.p == c.end;
}

int mpr_rpc_error(mpr_cur err, const char **msg, uint32_t *msg_len) {
    if (msg) {
        *msg = NULL;
        *msg_len = 0;
    }
    if (mpr_nil(&err))
        return 0;
    uint32_t n;
    int64_t code;
    if (!mpr_array(&err, &n) || n < 1 || !mpr_int(&err, &code) || code < 1 || code > INT32_MAX)
        return -1;
    if (msg && n >= 2 && !mpr_str(&err, msg, msg_len)) {
        *msg = NULL;
        *msg_len = 0;
    }
    return (int)code;
}
