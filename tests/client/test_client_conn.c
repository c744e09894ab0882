/* test_client_conn.c — libeligclient against scripted fake servers:
 * pipelining, failover with exactly-once answers, timeouts, garbage and
 * hostile answers, server errors, argument checks, Unix sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eligclient.h"
#include "fake_server.h"

#define BASE_ID 3171000000000000ull

static char ids[20000][17];

/* The i-th test id: 3171000000000000 + i. */
static const char *id_of(size_t i) {
    if (!ids[i][0])
        snprintf(ids[i], 17, "%llu", (unsigned long long)(BASE_ID + i));
    return ids[i];
}

static eligc_query query(size_t i) {
    return (eligc_query){ELIG_KIND_NIK, id_of(i), "PKH", "2026-11"};
}

/* The fake's answer for query i, as the fake derives it. */
static void assert_answer(const eligc_answer *a, size_t i, const char *server) {
    assert_true(a->eligible);
    assert_int_equal(a->reason, ELIG_REASON_ELIGIBLE);
    assert_string_equal(a->kk, id_of(i));
    assert_int_equal(a->amount, (uint32_t)((BASE_ID + i) % 1000000));
    if (server)
        assert_string_equal(a->snapshot, server);
}

static eligc_conn *open_list(const char *const *servers, size_t n, int timeout_ms) {
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = n;
    opt.connect_timeout_ms = 1000;
    opt.request_timeout_ms = timeout_ms;
    eligc_conn *c;
    int rc = eligc_open(&opt, &c);
    assert_int_equal(rc, 0);
    return c;
}

static fake_server *start(const char *name, fake_mode mode) {
    fake_config cfg = {.name = name, .mode = mode};
    fake_server *f = fake_start(&cfg);
    assert_non_null(f);
    return f;
}

/* ---- pipelining -------------------------------------------------------- */

static void test_pipelined_in_order(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_ANSWER);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    for (size_t i = 0; i < 5000; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    assert_int_equal(eligc_pending(c), 5000);
    for (size_t i = 0; i < 5000; i++) {
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), 0);
        assert_answer(&a, i, "A");
    }
    assert_int_equal(eligc_pending(c), 0);
    assert_int_equal(fake_answered(f), 5000);
    eligc_close(c);
    fake_stop(f);
}

static void test_sync_calls(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_ANSWER);
    const char *s[] = {fake_addr(f)};
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = s;
    opt.n_servers = 1;
    opt.batch_max = 10000;
    eligc_conn *c;
    assert_int_equal(eligc_open(&opt, &c), 0);
    assert_string_equal(eligc_server(c), fake_addr(f));
    assert_int_equal(eligc_ping(c), 0);
    eligc_answer a;
    eligc_query q = query(7);
    assert_int_equal(eligc_check(c, &q, &a), 0);
    assert_answer(&a, 7, "A");
    /* 25,000 queries: three check_batch requests, answers in order. */
    static eligc_query qs[20000 + 5000];
    static eligc_answer out[25000];
    for (size_t i = 0; i < 25000; i++)
        qs[i] = query(i % 20000);
    assert_int_equal(eligc_check_batch(c, qs, 25000, out), 0);
    for (size_t i = 0; i < 25000; i++)
        assert_answer(&out[i], i % 20000, "A");
    assert_int_equal(fake_answered(f), 2 + 3);
    assert_int_equal(eligc_check_batch(c, qs, 0, out), 0); /* nothing to do */
    /* The fake answers household with nil: no such family. */
    eligc_household h;
    assert_int_equal(eligc_household_get(c, ELIG_KIND_KK, id_of(1), &h), 0);
    assert_false(h.found);
    /* ... and info with nil, which is not an info map: a protocol error
     * for that request only; the connection goes on. */
    eligc_info info;
    assert_int_equal(eligc_info_get(c, &info), ELIGC_EPROTO);
    assert_non_null(strstr(eligc_errmsg(c), "info"));
    assert_int_equal(eligc_ping(c), 0);
    assert_int_equal(fake_accepted(f), 1);
    eligc_close(c);
    fake_stop(f);
}

static void test_pipelined_batches(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_ANSWER);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    eligc_query qs[100];
    for (size_t r = 0; r < 20; r++) {
        for (size_t i = 0; i < 100; i++)
            qs[i] = query(r * 100 + i);
        assert_int_equal(eligc_send_check_batch(c, qs, 100), 0);
    }
    eligc_answer out[100];
    for (size_t r = 0; r < 20; r++) {
        assert_int_equal(eligc_recv_check_batch(c, out, 100), 0);
        for (size_t i = 0; i < 100; i++)
            assert_answer(&out[i], r * 100 + i, "A");
    }
    eligc_close(c);
    fake_stop(f);
}

/* ---- failover ---------------------------------------------------------- */

/* A answers `die` requests, writes half of the next answer and dies; B
 * takes over. Every request is answered exactly once, in order: a prefix
 * by A, the rest by B, and B is sent exactly the requests whose answers
 * the client did not get from A. (A may have written answers that never
 * arrived: closing a socket with unread requests in it resets the
 * connection and discards them, as a crash would.) */
static void failover_run(size_t total, size_t die, size_t depth) {
    fake_config ca = {.name = "A", .mode = FAKE_ANSWER, .die_after = (unsigned)die,
                      .half_answer = true};
    fake_server *fa = fake_start(&ca);
    fake_server *fb = start("B", FAKE_ANSWER);
    const char *s[] = {fake_addr(fa), fake_addr(fb)};
    eligc_conn *c = open_list(s, 2, 5000);
    size_t sent = 0, got = 0, from_a = 0;
    while (got < total) {
        if (sent < total && eligc_pending(c) < depth) {
            eligc_query q = query(sent++);
            assert_int_equal(eligc_send_check(c, &q), 0);
            continue;
        }
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), 0);
        assert_answer(&a, got, from_a == got ? NULL : "B");
        if (strcmp(a.snapshot, "A") == 0)
            from_a++;
        got++;
    }
    assert_true(from_a <= die);
    assert_true(from_a > 0);
    assert_int_equal(fake_answered(fb), total - from_a);
    assert_int_equal(fake_received(fb), total - from_a);
    assert_string_equal(eligc_server(c), fake_addr(fb));
    eligc_close(c);
    fake_stop(fa);
    fake_stop(fb);
}

static void test_failover_send_all_first(void **state) {
    (void)state;
    failover_run(5000, 1000, 5000);
}

static void test_failover_rolling_depth(void **state) {
    (void)state;
    failover_run(5000, 2345, 100);
}

static void test_failover_none_left(void **state) {
    (void)state;
    fake_config ca = {.name = "A", .mode = FAKE_ANSWER, .die_after = 10};
    fake_server *fa = fake_start(&ca);
    char refused[64];
    fake_refused_addr(refused);
    const char *s[] = {fake_addr(fa), refused};
    eligc_conn *c = open_list(s, 2, 5000);
    for (size_t i = 0; i < 100; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    for (size_t i = 0; i < 100; i++) {
        eligc_answer a;
        int rc = eligc_recv_check(c, &a);
        if (i < 10) {
            assert_int_equal(rc, 0);
            assert_answer(&a, i, "A");
        } else {
            assert_int_equal(rc, ELIGC_ECONNLOST); /* each reported, once */
            assert_non_null(strstr(eligc_errmsg(c), "connection lost"));
        }
    }
    assert_int_equal(eligc_pending(c), 0);
    eligc_answer a;
    eligc_query q = query(0);
    assert_int_equal(eligc_check(c, &q, &a), ELIGC_ECONNECT);
    assert_non_null(strstr(eligc_errmsg(c), "cannot connect"));
    eligc_close(c);
    fake_stop(fa);
}

static void test_server_closes_idle_connections(void **state) {
    (void)state;
    /* One server that hangs up after every answer: each next request
     * reconnects to it; nothing fails. */
    fake_config cfg = {.name = "A", .mode = FAKE_ANSWER, .close_every = 1};
    fake_server *f = fake_start(&cfg);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    for (size_t i = 0; i < 5; i++) {
        eligc_answer a;
        eligc_query q = query(i);
        assert_int_equal(eligc_check(c, &q, &a), 0);
        assert_answer(&a, i, "A");
    }
    assert_int_equal(fake_accepted(f), 5);
    eligc_close(c);
    fake_stop(f);
}

static void test_pipelined_across_hangups(void **state) {
    (void)state;
    /* The server hangs up after every 100 answers, with more requests read
     * and unanswered: each is re-sent, and answered exactly once. */
    fake_config cfg = {.name = "A", .mode = FAKE_ANSWER, .close_every = 100};
    fake_server *f = fake_start(&cfg);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    for (size_t i = 0; i < 1000; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    for (size_t i = 0; i < 1000; i++) {
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), 0);
        assert_answer(&a, i, "A");
    }
    assert_int_equal(fake_answered(f), 1000);
    assert_int_equal(fake_accepted(f), 10);
    eligc_close(c);
    fake_stop(f);
}

/* ---- timeouts ---------------------------------------------------------- */

static void test_timeout_then_fallback(void **state) {
    (void)state;
    fake_server *fa = start("A", FAKE_SILENT);
    fake_server *fb = start("B", FAKE_ANSWER);
    const char *s[] = {fake_addr(fa), fake_addr(fb)};
    eligc_conn *c = open_list(s, 2, 200);
    eligc_answer a;
    eligc_query q = query(3);
    assert_int_equal(eligc_check(c, &q, &a), ELIGC_ETIMEOUT);
    assert_non_null(strstr(eligc_errmsg(c), "timeout"));
    /* The retry goes to the next server. */
    assert_int_equal(eligc_check(c, &q, &a), 0);
    assert_answer(&a, 3, "B");
    eligc_close(c);
    fake_stop(fa);
    fake_stop(fb);
}

static void test_timeout_fails_each_pending(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_SILENT);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 150);
    for (size_t i = 0; i < 10; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    assert_int_equal(eligc_flush(c), 0); /* written, though never answered */
    for (size_t i = 0; i < 10; i++) {
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), ELIGC_ETIMEOUT);
    }
    assert_int_equal(eligc_pending(c), 0);
    eligc_close(c);
    fake_stop(f);
}

/* ---- misbehaving servers ------------------------------------------------ */

/* Retry policy (client/conn.c), worked out from its contract: with one
 * server, the first connection, one try more at once, then 5 rounds
 * waiting 100, 200, 400, 800 and 1600 ms. */
#define RETRY_CONNECTIONS 7
#define RETRY_WAIT_MS (100 + 200 + 400 + 800 + 1600)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A server that only ever garbles: every request is sent again on a new
 * connection with backoff, then each fails with EPROTO, once. */
static void expect_proto(fake_mode mode) {
    fake_server *f = start("A", mode);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    for (size_t i = 0; i < 3; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    double t0 = now_ms();
    for (size_t i = 0; i < 3; i++) {
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), ELIGC_EPROTO);
        assert_non_null(strstr(eligc_errmsg(c), "protocol error"));
    }
    assert_true(now_ms() - t0 >= RETRY_WAIT_MS - 50);
    assert_int_equal(fake_accepted(f), RETRY_CONNECTIONS);
    assert_int_equal(eligc_pending(c), 0);
    eligc_close(c);
    fake_stop(f);
}

/* A garbled answer, then a server that answers: nothing fails. */
static void test_protocol_error_goes_to_next_server(void **state) {
    (void)state;
    fake_server *fa = start("A", FAKE_GARBAGE);
    fake_server *fb = start("B", FAKE_ANSWER);
    const char *s[] = {fake_addr(fa), fake_addr(fb)};
    eligc_conn *c = open_list(s, 2, 5000);
    for (size_t i = 0; i < 200; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    for (size_t i = 0; i < 200; i++) {
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), 0);
        assert_answer(&a, i, "B");
    }
    assert_int_equal(fake_answered(fb), 200);
    assert_int_equal(fake_accepted(fa), 1);
    eligc_close(c);
    fake_stop(fa);
    fake_stop(fb);
}

/* A replica that answers `unavailable` (error 5): the request and those
 * after it go to the next server, and every one is answered once. */
static void test_unavailable_goes_to_next_server(void **state) {
    (void)state;
    fake_server *fa = start("A", FAKE_UNAVAILABLE);
    fake_server *fb = start("B", FAKE_ANSWER);
    const char *s[] = {fake_addr(fa), fake_addr(fb)};
    eligc_conn *c = open_list(s, 2, 5000);
    static eligc_query qs[300];
    static eligc_answer out[300];
    for (size_t i = 0; i < 300; i++)
        qs[i] = query(i);
    assert_int_equal(eligc_send_check_batch(c, qs, 100), 0);
    for (size_t i = 100; i < 300; i++)
        assert_int_equal(eligc_send_check(c, &qs[i]), 0);
    assert_int_equal(eligc_recv_check_batch(c, out, 100), 0);
    for (size_t i = 0; i < 100; i++)
        assert_answer(&out[i], i, "B");
    for (size_t i = 100; i < 300; i++) {
        assert_int_equal(eligc_recv_check(c, &out[0]), 0);
        assert_answer(&out[0], i, "B");
    }
    assert_int_equal(fake_answered(fb), 201);
    assert_true(fake_answered(fa) >= 1);
    eligc_close(c);
    fake_stop(fa);
    fake_stop(fb);
}

/* Only `unavailable` anywhere: after the rounds with backoff, the answer
 * itself is reported (ESERVER, code 5, the server's message), once per
 * request; and the handle goes on. */
static void test_unavailable_everywhere(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_UNAVAILABLE);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    eligc_answer a;
    eligc_query q = query(1);
    double t0 = now_ms();
    assert_int_equal(eligc_check(c, &q, &a), ELIGC_ESERVER);
    double took = now_ms() - t0;
    assert_int_equal(eligc_server_code(c), ELIG_ERRCODE_UNAVAILABLE);
    assert_string_equal(eligc_errmsg(c), "server error code 5: snapshot read failed");
    assert_int_equal(fake_accepted(f), RETRY_CONNECTIONS);
    assert_int_equal(fake_received(f), RETRY_CONNECTIONS);
    assert_true(took >= RETRY_WAIT_MS - 50);
    assert_true(took < RETRY_WAIT_MS + 3000);
    eligc_close(c);
    fake_stop(f);
}

/* A reload whose connection broke is not sent again (to the next server it
 * would reload another one): ECONNLOST at once, saying so. */
static void test_reload_lost_not_resent(void **state) {
    (void)state;
    fake_config ca = {.name = "A", .mode = FAKE_ANSWER, .die_after = 1, .half_answer = true};
    fake_server *fa = fake_start(&ca);
    fake_server *fb = start("B", FAKE_ANSWER);
    const char *s[] = {fake_addr(fa), fake_addr(fb)};
    eligc_conn *c = open_list(s, 2, 5000);
    assert_int_equal(eligc_ping(c), 0);
    eligc_reload_result r;
    assert_int_equal(eligc_reload(c, &r), ELIGC_ECONNLOST);
    assert_non_null(strstr(eligc_errmsg(c), "a reload is not sent again"));
    assert_int_equal(fake_received(fb), 0);
    assert_int_equal(eligc_ping(c), 0); /* the handle goes on, at B */
    assert_int_equal(fake_received(fb), 1);
    eligc_close(c);
    fake_stop(fa);
    fake_stop(fb);
}

/* A reload answered `unavailable` failed: it is reported at once, never
 * sent again (not even to another server). */
static void test_reload_unavailable_not_resent(void **state) {
    (void)state;
    fake_server *fa = start("A", FAKE_UNAVAILABLE);
    fake_server *fb = start("B", FAKE_ANSWER);
    const char *s[] = {fake_addr(fa), fake_addr(fb)};
    eligc_conn *c = open_list(s, 2, 5000);
    eligc_reload_result r;
    assert_int_equal(eligc_reload(c, &r), ELIGC_ESERVER);
    assert_int_equal(eligc_server_code(c), ELIG_ERRCODE_UNAVAILABLE);
    assert_int_equal(fake_received(fa), 1);
    assert_int_equal(fake_received(fb), 0);
    eligc_close(c);
    fake_stop(fa);
    fake_stop(fb);
}

static void test_garbage(void **state) {
    (void)state;
    expect_proto(FAKE_GARBAGE);
}

static void test_huge_declared_size(void **state) {
    (void)state;
    expect_proto(FAKE_HUGE); /* at once: nothing allocated, nothing awaited */
}

static void test_wrong_msgid(void **state) {
    (void)state;
    expect_proto(FAKE_WRONG_ID);
}

static void test_unsolicited_notification(void **state) {
    (void)state;
    expect_proto(FAKE_NOTIFY);
}

static void test_trickled_bytes(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_TRICKLE);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    for (size_t i = 0; i < 50; i++) {
        eligc_query q = query(i);
        assert_int_equal(eligc_send_check(c, &q), 0);
    }
    for (size_t i = 0; i < 50; i++) {
        eligc_answer a;
        assert_int_equal(eligc_recv_check(c, &a), 0);
        assert_answer(&a, i, "A");
    }
    eligc_close(c);
    fake_stop(f);
}

static void test_server_error_answers(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_ERROR);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    eligc_answer a;
    eligc_query q = query(0);
    assert_int_equal(eligc_check(c, &q, &a), ELIGC_ESERVER);
    assert_int_equal(eligc_server_code(c), ELIG_ERRCODE_BAD_REQUEST);
    assert_string_equal(eligc_errmsg(c), "server error code 1: item 0: bad id");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(eligc_send_check(c, &q), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(eligc_recv_check(c, &a), ELIGC_ESERVER);
    assert_int_equal(eligc_ping(c), ELIGC_ESERVER);
    assert_int_equal(fake_accepted(f), 1); /* the connection stayed open */
    eligc_close(c);
    fake_stop(f);
}

/* ---- arguments and state ------------------------------------------------ */

static void test_bad_arguments(void **state) {
    (void)state;
    fake_server *f = start("A", FAKE_ANSWER);
    const char *s[] = {fake_addr(f)};
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = s;
    opt.n_servers = 1;
    opt.max_pending = 4;
    opt.batch_max = 3;
    eligc_conn *c;
    assert_int_equal(eligc_open(&opt, &c), 0);
    eligc_answer a;
    eligc_query bad = {ELIG_KIND_NIK, "12345", "PKH", "2026-11"};
    assert_int_equal(eligc_send_check(c, &bad), ELIGC_EBADARG);
    assert_string_equal(eligc_errmsg(c), "bad argument: bad id");
    assert_int_equal(eligc_check(c, &bad, &a), ELIGC_EBADARG);
    eligc_query qs[4] = {query(0), query(1), query(2), query(3)};
    qs[1].period = "2026-13";
    assert_int_equal(eligc_check_batch(c, qs, 3, (eligc_answer[3]){0}), ELIGC_EBADARG);
    assert_string_equal(eligc_errmsg(c), "bad argument: item 1: bad period");
    qs[1].period = "2026-12";
    assert_int_equal(eligc_send_check_batch(c, qs, 4), ELIGC_EBADARG); /* over batch_max */
    assert_int_equal(eligc_recv_check(c, &a), ELIGC_EBADARG);          /* nothing queued */
    assert_int_equal(fake_received(f), 0);
    /* The queue's head decides what may be received. */
    assert_int_equal(eligc_send_check_batch(c, qs, 3), 0);
    assert_int_equal(eligc_recv_check(c, &a), ELIGC_EBADARG);
    assert_int_equal(eligc_recv_check_batch(c, (eligc_answer[2]){0}, 2), ELIGC_EBADARG);
    assert_int_equal(eligc_ping(c), ELIGC_EBADARG); /* pipelined answers wait */
    eligc_answer three[3];
    assert_int_equal(eligc_recv_check_batch(c, three, 3), 0);
    assert_answer(&three[2], 2, "A");
    /* max_pending */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(eligc_send_check(c, &qs[i]), 0);
    assert_int_equal(eligc_send_check(c, &qs[0]), ELIGC_EFULL);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(eligc_recv_check(c, &a), 0);
        assert_answer(&a, i, "A");
    }
    /* A synchronous batch of 7 chunks with only 4 allowed in flight. */
    eligc_query many[20];
    eligc_answer many_out[20];
    for (size_t i = 0; i < 20; i++)
        many[i] = query(100 + i);
    assert_int_equal(eligc_check_batch(c, many, 20, many_out), 0);
    for (size_t i = 0; i < 20; i++)
        assert_answer(&many_out[i], 100 + i, "A");
    assert_int_equal(eligc_pending(c), 0);
    eligc_close(c);

    /* Options: a malformed server, or a struct not set up by init. */
    const char *badservers[] = {"localhost", "h:0", "h:65536", "unix:", "[::1:7420"};
    for (size_t i = 0; i < 5; i++) {
        eligc_options o;
        eligc_options_init(&o);
        o.servers = &badservers[i];
        o.n_servers = 1;
        assert_int_equal(eligc_open(&o, &c), ELIGC_EBADARG);
        assert_non_null(c);
        assert_non_null(strstr(eligc_errmsg(c), badservers[i]));
        eligc_close(c);
    }
    eligc_options zero = {0};
    assert_int_equal(eligc_open(&zero, &c), ELIGC_EBADARG);
    eligc_close(c);
    fake_stop(f);
}

static void test_connect_refused(void **state) {
    (void)state;
    char refused[64];
    fake_refused_addr(refused);
    eligc_options opt;
    eligc_options_init(&opt);
    const char *one[] = {refused};
    opt.servers = one;
    opt.n_servers = 1;
    eligc_conn *c;
    assert_int_equal(eligc_open(&opt, &c), ELIGC_ECONNECT);
    assert_non_null(c);
    assert_non_null(strstr(eligc_errmsg(c), "cannot connect"));
    assert_int_equal(eligc_ping(c), ELIGC_ECONNECT);
    assert_null(eligc_server(c));
    eligc_close(c);
    /* The first server refuses: the second is used. */
    fake_server *f = start("B", FAKE_ANSWER);
    const char *two[] = {refused, fake_addr(f)};
    c = open_list(two, 2, 5000);
    assert_string_equal(eligc_server(c), fake_addr(f));
    assert_int_equal(eligc_ping(c), 0);
    eligc_close(c);
    fake_stop(f);
}

static void test_unix_socket(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/eligc-test-%d.sock", (int)getpid());
    fake_config cfg = {.name = "U", .mode = FAKE_ANSWER, .unix_path = path};
    fake_server *f = fake_start(&cfg);
    assert_non_null(f);
    const char *s[] = {fake_addr(f)};
    eligc_conn *c = open_list(s, 1, 5000);
    eligc_answer a;
    eligc_query q = query(5);
    assert_int_equal(eligc_check(c, &q, &a), 0);
    assert_answer(&a, 5, "U");
    eligc_close(c);
    fake_stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_sync_calls),
        cmocka_unit_test(test_pipelined_batches),
        cmocka_unit_test(test_failover_send_all_first),
        cmocka_unit_test(test_failover_rolling_depth),
        cmocka_unit_test(test_failover_none_left),
        cmocka_unit_test(test_server_closes_idle_connections),
        cmocka_unit_test(test_protocol_error_goes_to_next_server),
        cmocka_unit_test(test_unavailable_goes_to_next_server),
        cmocka_unit_test(test_unavailable_everywhere),
        cmocka_unit_test(test_reload_unavailable_not_resent),
        cmocka_unit_test(test_reload_lost_not_resent),
        cmocka_unit_test(test_pipelined_across_hangups),
        cmocka_unit_test(test_timeout_then_fallback),
        cmocka_unit_test(test_timeout_fails_each_pending),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_huge_declared_size),
        cmocka_unit_test(test_wrong_msgid),
        cmocka_unit_test(test_unsolicited_notification),
        cmocka_unit_test(test_trickled_bytes),
        cmocka_unit_test(test_server_error_answers),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_unix_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
