/* test_oom.c — eligd failing the Nth allocation, for every N, on the
 * request path and on a connection's paths (libuv's test-loop-oom.c is the
 * model; the seam is lib/alloc.h).
 *
 * Each scenario runs once with no failure, which gives the reference
 * bytes, then once per allocation it makes with that allocation failed:
 * every run must fail cleanly (query_handle returns -1 with nothing but
 * whole answers before; a connection gets a prefix of the reference
 * answers and is closed, counted), never crash, and leave no block of the
 * seam unfreed (and ASan/LSan see the rest in the sanitizer pass). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "failalloc.h"
#include "mini_snap.h"
#include "mpw.h"
#include "query.h"
#include "server.h"
#include "worker.h"

#define MAX_RUNS 2000 /* far more allocations than any scenario makes */

/* ---- requests ------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t len;
} bytes;

static uint8_t *put_query(uint8_t *p, const char *kind, const char *id, const char *prog, const char *period) {
    p = mpw_array(p, 4);
    p = mpw_str(p, kind, (uint32_t)strlen(kind));
    p = mpw_str(p, id, (uint32_t)strlen(id));
    p = mpw_str(p, prog, (uint32_t)strlen(prog));
    return mpw_str(p, period, (uint32_t)strlen(period));
}

/* One request [0, msgid, method, params] into a static buffer. kind:
 * 0 ping, 1 check, 2 check_batch of n items, 3 household, 4 info, 5 an
 * unknown method, 6 a bad check (kind "NIK"). */
static bytes build(int kind, uint32_t msgid, uint32_t n) {
    static uint8_t b[1 << 20];
    static const char *const names[] = {"ping", "check", "check_batch", "household", "info", "nope", "check"};
    uint8_t *p = mpw_array(b, 4);
    *p++ = 0;
    p = mpw_uint(p, msgid);
    p = mpw_str(p, names[kind], (uint32_t)strlen(names[kind]));
    switch (kind) {
    case 1: {
        p = mpw_array(p, 4);
        p = mpw_str(p, "nik", 3);
        p = mpw_str(p, MINI_NIK_ALIVE, 16);
        p = mpw_str(p, "PKH", 3);
        p = mpw_str(p, "2024-03", 7);
        break;
    }
    case 2:
        p = mpw_array(p, 1);
        p = mpw_array(p, n);
        for (uint32_t i = 0; i < n; i++)
            p = put_query(p, i % 3 == 0 ? "kk" : i % 3 == 1 ? "nik" : "kks",
                          i % 3 == 0 ? MINI_KK_ACTIVE : i % 3 == 1 ? MINI_NIK_ALIVE : MINI_KKS_ACTIVE,
                          i % 2 ? "PKH" : "BPNT", "2024-03");
        break;
    case 3:
        p = mpw_array(p, 2);
        p = mpw_str(p, "kk", 2);
        p = mpw_str(p, MINI_KK_ACTIVE, 16);
        break;
    case 6:
        p = mpw_array(p, 4);
        p = mpw_str(p, "NIK", 3);
        p = mpw_str(p, MINI_NIK_ALIVE, 16);
        p = mpw_str(p, "PKH", 3);
        p = mpw_str(p, "2024-03", 7);
        break;
    default:
        p = mpw_array(p, 0);
        break;
    }
    return (bytes){b, (size_t)(p - b)};
}

static void fixed_info(void *ud, call_server_info *out) {
    (void)ud;
    *out = (call_server_info){.uptime_s = 7, .connections = 1, .requests = 42, .reload_error = NULL};
}

/* ---- the request path ---------------------------------------------------- */

static elig_snap *snap;
static elig_reader *reader;

static int open_snapshot(void **state) {
    (void)state;
    char err[256];
    const char *path = mini_snap_path();
    if (!path || elig_snap_open(path, &snap, err, sizeof err) != 0 || elig_reader_open(snap, &reader) != 0)
        return -1;
    return 0;
}

static int close_snapshot(void **state) {
    (void)state;
    elig_reader_close(reader);
    elig_snap_close(snap);
    return 0;
}

/* query_handle on one request, with every allocation failed in turn, each
 * time into an empty buffer that must grow. */
static void request_path_kind(int kind, uint32_t n) {
    query_ctx q = {.answer = {.reader = reader, .server_info = fixed_info}};
    assert_int_equal(query_ctx_init(&q, 10000), 0);
    session sess = {.conn_id = 1, .transport = SESSION_TCP, .peer = "test", .channel = "-"};
    bytes req = build(kind, 77, n);
    mpr_request m;
    assert_int_equal(mpr_rpc_next(req.p, req.len, 1 << 20, &m), (long)req.len);

    buf ref = {0};
    assert_int_equal(query_handle(&q, &sess, &m, &ref), 0);
    long base = fa_live;
    uint32_t msgid;
    mpr_cur err, res;
    assert_true(mpr_rpc_response((const uint8_t *)ref.data, ref.len, &msgid, &err, &res));
    assert_int_equal(msgid, 77);

    long runs, failures = 0;
    for (runs = 1; runs < MAX_RUNS; runs++) {
        buf out = {0};
        fa_arm(runs);
        int rc = query_handle(&q, &sess, &m, &out);
        bool injected = fa_injected();
        fa_disarm();
        if (rc != 0) {
            assert_true(injected);
            assert_true(out.failed);
            failures++;
        } else {
            assert_false(out.failed);
            assert_int_equal(out.len, ref.len);
            assert_memory_equal(out.data, ref.data, ref.len);
        }
        buf_free(&out);
        assert_int_equal(fa_live, base);
        if (!injected)
            break;
    }
    assert_true(runs < MAX_RUNS);
    assert_true(failures >= 1); /* the buffer had to grow at least once */
    buf_free(&ref);
    query_ctx_destroy(&q);
}

static void oom_ping(void **s) { (void)s, request_path_kind(0, 0); }
static void oom_check(void **s) { (void)s, request_path_kind(1, 0); }
static void oom_check_batch(void **s) { (void)s, request_path_kind(2, 2000); }
static void oom_household(void **s) { (void)s, request_path_kind(3, 0); }
static void oom_info(void **s) { (void)s, request_path_kind(4, 0); }
static void oom_unknown_method(void **s) { (void)s, request_path_kind(5, 0); }
static void oom_bad_request(void **s) { (void)s, request_path_kind(6, 0); }

static void oom_query_ctx_init(void **state) {
    (void)state;
    long runs, base = fa_live;
    for (runs = 1; runs < 10; runs++) {
        query_ctx q = {0};
        fa_arm(runs);
        int rc = query_ctx_init(&q, 10000);
        bool injected = fa_injected();
        fa_disarm();
        if (rc == 0) {
            assert_false(injected);
            query_ctx_destroy(&q);
            assert_int_equal(fa_live, base);
            break;
        }
        assert_int_equal(rc, ELIG_ENOMEM);
        assert_int_equal(fa_live, base);
    }
    assert_true(runs > 1 && runs < 10);
}

/* ---- a connection, in-process -------------------------------------------- */

/* One worker on this thread, its loop turned by pump(); a real TCP
 * listener on 127.0.0.1 and real client sockets. */
static server srv;
static worker w;
static int port;

static int start_worker(void **state) {
    (void)state;
    char err[256];
    memset(&srv, 0, sizeof srv);
    srv.cfg = (server_config){.max_connections = 100, .max_message = 1 << 20, .max_batch = 10000,
                              .max_output = 64 << 10, .max_buffer_memory = (size_t)1 << 30,
                              .request_timeout_ms = 60000, .output_timeout_ms = 60000,
                              .idle_timeout_ms = 60000, .drain_timeout_ms = 1000};
    atomic_init(&srv.connections, 0);
    atomic_init(&srv.buffer_bytes, 0);
    atomic_init(&srv.next_conn_id, 1);
    snap_open_opts so = {0};
    if (snap_holder_init(&srv.snaps, mini_snap_path(), &so, err, sizeof err) != 0)
        return -1;
    srv.nworkers = 1;
    srv.workers = &w;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    port = ntohs(sa.sin_port);
    return worker_init(&w, &srv, 0, fd, -1, -1) == 0 ? 0 : -1;
}

static void pump_ms(int ms) {
    struct timespec ts = {0, 1000000};
    for (int i = 0; i < ms; i++) {
        uv_run(&w.loop, UV_RUN_NOWAIT);
        nanosleep(&ts, NULL);
    }
    uv_run(&w.loop, UV_RUN_NOWAIT);
}

static int stop_worker(void **state) {
    (void)state;
    worker_request_drain(&w);
    for (int i = 0; i < 5000 && uv_run(&w.loop, UV_RUN_NOWAIT); i++)
        pump_ms(1);
    worker_destroy(&w);
    snap_holder_destroy(&srv.snaps);
    return 0;
}

static uint64_t closes_total(void) {
    uint64_t n = 0;
    for (int i = 0; i < CONN_CLOSE_COUNT; i++)
        n += atomic_load(&w.st.closes[i]); /* stats.h */
    return n;
}

typedef struct {
    char *data;
    size_t len, cap;
    bool eof;
} inbox;

static void take(inbox *in, int fd) {
    for (;;) {
        if (in->cap - in->len < 65536) {
            in->cap = in->cap ? in->cap * 2 : 1 << 20;
            in->data = realloc(in->data, in->cap);
            assert_non_null(in->data);
        }
        ssize_t n = recv(fd, in->data + in->len, in->cap - in->len, MSG_DONTWAIT);
        if (n > 0) {
            in->len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            in->eof = true;
        return;
    }
}

/* A client session exercising accept, a whole request, a request split
 * across reads (the partial-request buffer), and pipelined batches it
 * does not read at first (the output queue and the pause). Returns what
 * the client received; *eof if the server closed the connection. */
static inbox session_run(void) {
    inbox in = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096, one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    pump_ms(3);
    for (conn *c = w.conns; c; c = c->next) { /* make the server's socket slow to take answers */
        uv_os_fd_t sfd;
        if (uv_fileno(&c->h.handle, &sfd) == 0)
            setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    }
    /* All that the client will send, in order. */
    static uint8_t out[4 << 20];
    size_t total = 0, cut;
    bytes b = build(0, 1, 0);
    memcpy(out + total, b.p, b.len), total += b.len;
    b = build(1, 2, 0);
    memcpy(out + total, b.p, b.len), total += b.len;
    cut = total - b.len / 2; /* the first write stops in the middle of the check */
    for (uint32_t i = 0; i < 4; i++) {
        b = build(2, 10 + i, 2000);
        memcpy(out + total, b.p, b.len), total += b.len;
    }
    b = build(3, 20, 0);
    memcpy(out + total, b.p, b.len), total += b.len;

    size_t sent = 0;
    ssize_t n = send(fd, out, cut, MSG_DONTWAIT);
    sent = n > 0 ? (size_t)n : 0;
    pump_ms(3);
    /* The rest, not reading for a while: the answers queue up. */
    for (int i = 0; i < 30 && sent < total && !in.eof; i++) {
        n = send(fd, out + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            break;
        pump_ms(1);
    }
    /* Then read everything, sending what is left as the server resumes. */
    for (int i = 0; i < 3000 && !in.eof; i++) {
        if (sent < total) {
            n = send(fd, out + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        take(&in, fd);
        pump_ms(1);
        if (sent == total && i > 50 && in.len > 0) {
            /* Done when the last answer (household, msgid 20) is in. */
            const uint8_t *p = (const uint8_t *)in.data;
            size_t off = 0;
            uint32_t last = 0;
            long k;
            while ((k = mpr_frame(p + off, in.len - off, 1 << 24)) > 0) {
                mpr_cur e, r;
                if (mpr_rpc_response(p + off, (size_t)k, &last, &e, &r) && last == 20)
                    break;
                off += (size_t)k;
            }
            if (last == 20 && k > 0)
                break;
        }
    }
    close(fd);
    for (int i = 0; i < 2000 && w.nconns; i++)
        pump_ms(1);
    assert_int_equal(w.nconns, 0);
    return in;
}

static void oom_connection_paths(void **state) {
    (void)state;
    inbox ref = session_run(); /* also grows the worker's own buffers to size */
    assert_false(ref.eof && ref.len == 0);
    long base = fa_live;
    /* The reference got all 7 answers. */
    {
        size_t off = 0;
        int count = 0;
        long k;
        while ((k = mpr_frame((const uint8_t *)ref.data + off, ref.len - off, 1 << 24)) > 0)
            off += (size_t)k, count++;
        assert_int_equal(count, 7);
        assert_int_equal(off, ref.len);
    }
    long runs, failures = 0;
    for (runs = 1; runs < MAX_RUNS; runs++) {
        uint64_t closes0 = closes_total();
        fa_arm(runs);
        inbox got = session_run();
        bool injected = fa_injected();
        fa_disarm();
        /* Answers stay whole and in order: what arrived is a prefix of the
         * reference. */
        assert_true(got.len <= ref.len);
        assert_memory_equal(got.data ? got.data : "", ref.data, got.len);
        if (got.len < ref.len) {
            assert_true(injected);
            assert_true(closes_total() > closes0); /* closed by the server, counted */
            failures++;
        }
        free(got.data);
        assert_int_equal(fa_live, base);
        assert_int_equal(atomic_load(&srv.buffer_bytes), 0);
        if (!injected)
            break;
    }
    print_message("  %ld allocations failed in turn, %ld of them closed the connection\n", runs - 1, failures);
    assert_true(runs < MAX_RUNS);
    assert_true(failures >= 3); /* accept, the partial request, the queue at least */
    free(ref.data);
}

int main(void) {
    fa_install();
    const struct CMUnitTest path_tests[] = {
        cmocka_unit_test(oom_ping),           cmocka_unit_test(oom_check),
        cmocka_unit_test(oom_check_batch),    cmocka_unit_test(oom_household),
        cmocka_unit_test(oom_info),           cmocka_unit_test(oom_unknown_method),
        cmocka_unit_test(oom_bad_request),    cmocka_unit_test(oom_query_ctx_init),
    };
    const struct CMUnitTest conn_tests[] = {
        cmocka_unit_test(oom_connection_paths),
    };
    int rc = cmocka_run_group_tests_name("request path", path_tests, open_snapshot, close_snapshot);
    rc |= cmocka_run_group_tests_name("connection", conn_tests, start_worker, stop_worker);
    mini_snap_cleanup();
    return rc;
}
