/* fuzz_request — eligd's whole request path in-process, as a worker runs
 * it: the stream framed message by message (mpr_scan_next, resumed at
 * random read boundaries) and each request answered by query_handle
 * (decode -> authorize -> answer -> record -> encode) on the mini
 * snapshot. Properties: a stream the daemon would keep is answered with
 * exactly one well-formed response per request, carrying its msgid; a
 * notification gets none; a bad stream stops the framing (the daemon
 * closes); nothing reads outside the input. */
#include <string.h>

#include "fuzz.h"
#include "mini_snap.h"
#include "mpr.h"
#include "query.h"

static elig_snap *snap;
static elig_reader *reader;
static query_ctx q;

static void info_cb(void *ud, call_server_info *out) {
    (void)ud;
    *out = (call_server_info){.uptime_s = 1, .connections = 1, .requests = 1, .reload_error = "x"};
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[256];
    const char *path = mini_snap_path();
    if (!path || elig_snap_open(path, &snap, err, sizeof err) != 0 || elig_reader_open(snap, &reader) != 0 ||
        query_ctx_init(&q, 64) != 0) {
        fprintf(stderr, "fuzz_request: cannot set up the mini snapshot\n");
        exit(1);
    }
    q.answer.reader = reader;
    q.answer.server_info = info_cb;
    atexit(mini_snap_cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *p = fuzz_exact_copy(data, size);
    session sess = {.conn_id = 1, .transport = SESSION_TCP, .peer = "fuzz", .channel = "-"};
    static buf out;
    size_t off = 0, have = 0;
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size && i < 8; i++)
        seed = (seed ^ p[i]) * 16777619u;
    mpr_scan s;
    mpr_scan_reset(&s);
    while (off < size) {
        /* A read of up to 64 bytes more (or the rest), as a socket would give. */
        seed = seed * 1103515245u + 12345u;
        have += 1 + (seed >> 16) % 64;
        if (have > size)
            have = size;
        long k = mpr_scan_next(&s, p + off, have - off, 4096);
        if (k == MPR_NEED_MORE) {
            if (have == size)
                break; /* a partial request at the end: the daemon waits */
            continue;
        }
        if (k < 0)
            break; /* the daemon closes the connection */
        mpr_request m;
        if (!mpr_rpc_request(p + off, (size_t)k, &m))
            break;
        out.len = 0;
        FUZZ_ASSERT(query_handle(&q, &sess, &m, &out) == 0);
        if (m.type == MPR_RPC_NOTIFY) {
            FUZZ_ASSERT(out.len == 0);
        } else {
            uint32_t msgid;
            mpr_cur err, res;
            FUZZ_ASSERT(mpr_rpc_response((const uint8_t *)out.data, out.len, &msgid, &err, &res));
            FUZZ_ASSERT(msgid == m.msgid);
            const char *msg;
            uint32_t len;
            int code = mpr_rpc_error(err, &msg, &len);
            FUZZ_ASSERT(code >= 0);
            if (code > 0)
                FUZZ_ASSERT(msg && len > 0 && mpr_nil(&res));
        }
        off += (size_t)k;
        if (have < off)
            have = off;
        mpr_scan_reset(&s);
    }
    free(p);
    return 0;
}
