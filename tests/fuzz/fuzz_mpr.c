/* fuzz_mpr — lib/mpr.c, the one msgpack reader (request and response side).
 *
 * Input: 4 bytes of seed, then the bytes of the stream. Properties:
 *  - framing resumed at random cut points (the bytes arriving in pieces,
 *    as a socket delivers them) ends exactly as framing them in one go:
 *    the same size, or the same error, or still incomplete;
 *  - a resumed scan never claims bytes it has not been given;
 *  - on a framed object, every cursor read (walked recursively by type)
 *    and the envelope parsers stay inside the object's bytes (the input
 *    lives in a block of exactly its size, so ASan sees a byte past it),
 *    and a cursor read that fails leaves the cursor where it was. */
#include <string.h>

#include "fuzz.h"
#include "mpr.h"

static uint32_t next_rand(uint32_t *s) {
    *s ^= *s << 13, *s ^= *s >> 17, *s ^= *s << 5;
    return *s;
}

/* Reads one object at c with the typed readers; false if none fits. */
static bool walk(mpr_cur *c, int depth) {
    if (depth > MPR_MAX_DEPTH + 2)
        return mpr_skip(c);
    mpr_cur before = *c;
    uint32_t n;
    const char *s;
    uint64_t u;
    int64_t i;
    bool b;
    double d;
    const char *type = mpr_type_name(c);
    (void)type;
    if (mpr_array(c, &n) || mpr_map(c, &n)) {
        bool is_map = (before.p[0] & 0xf0) == 0x80 || before.p[0] == 0xde || before.p[0] == 0xdf;
        uint64_t k = is_map ? 2ull * n : n;
        FUZZ_ASSERT(k <= mpr_left(c)); /* each element has at least a byte */
        for (uint64_t j = 0; j < k; j++)
            if (!walk(c, depth + 1))
                return false;
        return true;
    }
    FUZZ_ASSERT(c->p == before.p); /* a failed read moves nothing */
    if (mpr_str(c, &s, &n)) {
        FUZZ_ASSERT(s >= (const char *)before.p && s + n <= (const char *)before.end);
        if (n) { /* touch both ends */
            volatile char t = s[0];
            t = s[n - 1];
            (void)t;
        }
        return true;
    }
    FUZZ_ASSERT(c->p == before.p);
    mpr_cur save = *c;
    if (mpr_uint(c, &u)) {
        *c = save;
        if (mpr_int(c, &i))
            FUZZ_ASSERT(i >= 0 && (uint64_t)i == u);
        *c = save;
        mpr_uint(c, &u);
        return true;
    }
    FUZZ_ASSERT(c->p == before.p);
    if (mpr_int(c, &i)) {
        FUZZ_ASSERT(i < 0);
        return true;
    }
    FUZZ_ASSERT(c->p == before.p);
    if (mpr_bool(c, &b) || mpr_double(c, &d) || mpr_nil(c))
        return true;
    FUZZ_ASSERT(c->p == before.p);
    return mpr_skip(c); /* ext, or nothing valid */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4)
        return 0;
    uint32_t seed = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    seed |= 1;
    size_t n = size - 4;
    uint8_t *p = fuzz_exact_copy(data + 4, n);
    static const size_t limits[] = {1u << 20, 64, 7, 0};
    size_t limit = limits[seed >> 30];
    if (limit == 0)
        limit = n;

    long whole = mpr_frame(p, n, limit);

    /* The same bytes arriving in pieces. */
    mpr_scan s;
    mpr_scan_reset(&s);
    size_t have = 0;
    long part;
    do { /* at least once: an empty input is framed too */
        if (have < n) {
            size_t step = 1 + next_rand(&seed) % (n - have < 16 ? n - have : 16);
            if (next_rand(&seed) % 8 == 0)
                step = n - have; /* now and then the rest at once */
            have += step;
        }
        part = mpr_scan_next(&s, p, have, limit);
        FUZZ_ASSERT(part <= (long)have);
        FUZZ_ASSERT(s.pos <= have);
    } while (part == MPR_NEED_MORE && have < n);
    if (whole > 0 || part > 0)
        FUZZ_ASSERT(whole == part);
    else if (whole == MPR_NEED_MORE)
        FUZZ_ASSERT(part == MPR_NEED_MORE);
    else
        FUZZ_ASSERT(part == whole); /* the same error, found no later than the end */

    if (whole > 0) {
        mpr_cur c = {p, p + whole};
        FUZZ_ASSERT(walk(&c, 0) ? c.p <= c.end : 1);
        mpr_request m;
        if (mpr_rpc_request(p, (size_t)whole, &m)) {
            FUZZ_ASSERT(m.method >= (const char *)p && m.method + m.method_len <= (const char *)p + whole);
            FUZZ_ASSERT(m.params.p >= p && m.params.end == p + whole);
            for (uint32_t k = 0; k < m.nparams && walk(&m.params, 1); k++)
                ;
        }
        uint32_t msgid;
        mpr_cur err, res;
        if (mpr_rpc_response(p, (size_t)whole, &msgid, &err, &res)) {
            FUZZ_ASSERT(err.p >= p && err.end <= res.p && res.end == p + whole);
            const char *msg;
            uint32_t len;
            int code = mpr_rpc_error(err, &msg, &len);
            if (msg)
                FUZZ_ASSERT(code != 0 && msg >= (const char *)err.p && msg + len <= (const char *)err.end);
            walk(&res, 1);
        }
    }
    mpr_request m;
    long r = mpr_rpc_next(p, n, limit, &m);
    FUZZ_ASSERT(r <= 0 || r == whole);
    free(p);
    return 0;
}
