/* elig-bench — a load generator for eligd, in the manner of redis-benchmark.
 *
 * Each thread runs one plain epoll loop over its share of the connections
 * (nothing shared on the request path but the read-only key lists). A
 * connection owns an output buffer sized for a full pipeline, an input
 * buffer, and a ring of send times; requests are encoded straight into the
 * output buffer and responses framed in place, so nothing is allocated per
 * request (the input buffer grows only if a response is larger than any
 * before it).
 *
 * Closed loop (default): every connection keeps -P requests outstanding;
 * latency runs from the write to the response.
 * Open loop (--rate R): thread t owes its k-th request at start + k / (R /
 * threads), to its connections in turn; a request waits if its connection
 * already has -P outstanding, and its latency runs from when it was owed,
 * not when it was sent (coordinated omission corrected, as in wrk2).
 *
 * --redis speaks RESP instead: `GET kind:id` for check (the peers script
 * loads one precomputed answer per id), MGET for check_batch, PING.
 *
 * --tls speaks TLS (OpenSSL on the same non-blocking sockets: each write
 * of queued requests is one SSL_write, each readable event is drained with
 * SSL_read); --channel NAME --token-file PATH sends `auth` on every
 * connection before it is measured (SPEC 6). --method connect measures
 * connection set-up instead: each thread connects, handshakes, (auths),
 * pings and closes in a loop, with --resume reusing the TLS session. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "elig_wire.h"
#include "hist.h"
#include "keys.h"
#include "mp.h"
#include "resp.h"

#define BENCH_VERSION "0.1.0"

typedef enum { M_CHECK, M_CHECK_BATCH, M_HOUSEHOLD, M_PING, M_CONNECT } bench_method;
static const char *const method_names[] = {"check", "check_batch", "household", "ping", "connect"};

/* Counters beyond the server's own error codes (1-6). */
enum {
    ERR_OTHER = 0,     /* an error object that is not [code, ...] with a known code */
    ERR_PROTOCOL = 7,  /* a response we could not frame, or out of order */
    ERR_CLOSED = 8,    /* the server closed a connection or it failed */
    ERR_TIMEOUT = 9,   /* no response for --timeout while requests were outstanding */
    ERR_REDIS = 10,    /* a RESP error reply */
    ERR_SLOTS = 11,
};
static const char *const err_names[ERR_SLOTS] = {
    "other", "bad_request", "unknown_method", "too_large", "unauthorized", "unavailable",
    "rate_limited", "protocol", "closed", "timeout", "redis_error",
};

typedef struct {
    const char *host;
    int port;
    const char *unix_path;
    uint32_t conns, pipeline, threads, batch;
    uint64_t requests;   /* -n: measured responses; 0 = by duration */
    double duration, warmup, rate, timeout;
    bench_method method;
    const char *keys_path, *kinds, *program, *period, *label;
    double miss_ratio;
    bool zipf, json, redis, verify;
    uint64_t seed;
    bool tls, resume;
    const char *tls_ca, *channel, *token_file;
} config;

static config cfg = {
    .host = "127.0.0.1",
    .port = -1,
    .conns = 50,
    .pipeline = 1,
    .threads = 1,
    .batch = 100,
    .duration = 0,
    .warmup = 1,
    .timeout = 10,
    .method = M_CHECK,
    .program = "BPNT",
    .period = "2024-06",
    .seed = 1,
};
static key_source keys;
static size_t req_max;  /* bytes one request can take */
static size_t resp_limit = 64u << 20; /* a response larger than this is a protocol error */

/* Phase boundaries on CLOCK_MONOTONIC, set once every connection is up. */
static uint64_t t_start, t_warm_end, t_end;
static atomic_bool stop_all;

typedef struct bthread bthread;

typedef struct {
    int fd;
    SSL *ssl; /* --tls */
    bool dead, want_out, dirty;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint8_t *in;
    size_t in_len, in_cap;
    uint64_t *ring; /* send (or owed) time of each outstanding request, oldest first */
    uint32_t ring_head, inflight;
    uint32_t next_msgid, expect_msgid;
    uint64_t owed, sent; /* open loop: requests assigned to this connection, and sent */
    uint32_t index;      /* within its thread */
} bconn;

struct bthread {
    uint32_t index;
    pthread_t tid;
    int ep;
    bconn *conns;
    uint32_t nconns, live;
    rng r;
    hist h;
    /* open loop */
    double dt_ns;
    uint64_t owed_total;
    bconn **dirty;
    uint32_t ndirty;
    /* results */
    uint64_t quota; /* -n: this thread's share of the measured responses */
    uint64_t measured, answers, all_responses;
    uint64_t resumed; /* --method connect --tls: handshakes that resumed a session */
    uint64_t last_ns; /* time of the last measured response */
    uint64_t errors[ERR_SLOTS];
    uint64_t reasons[ELIG_REASON_COUNT + 1]; /* --verify; last slot: unknown */
    uint64_t misses_sent;
    uint64_t last_progress;
    char fail[256];
};

static pthread_barrier_t barrier;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "elig-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'elig-bench --help'.\n");
    va_end(ap);
    exit(2);
}

static _Noreturn void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "elig-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- requests ---------------------------------------------------------- */

static uint8_t *put_query(uint8_t *p, elig_kind kind, const char *id) {
    const char *k = elig_kind_name(kind);
    p = mpw_array(p, 4);
    p = mpw_str(p, k, (uint32_t)strlen(k));
    p = mpw_str(p, id, ELIG_WIRE_ID_LEN);
    p = mpw_str(p, cfg.program, (uint32_t)strlen(cfg.program));
    return mpw_str(p, cfg.period, (uint32_t)strlen(cfg.period));
}

static uint8_t *put_resp_key(uint8_t *p, elig_kind kind, const char *id) {
    const char *k = elig_kind_name(kind);
    size_t kl = strlen(k);
    p += sprintf((char *)p, "$%zu\r\n", kl + 1 + ELIG_WIRE_ID_LEN);
    memcpy(p, k, kl);
    p += kl;
    *p++ = ':';
    memcpy(p, id, ELIG_WIRE_ID_LEN);
    p += ELIG_WIRE_ID_LEN;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* Encodes one request at p (req_max bytes free); returns its end. */
static uint8_t *encode(bthread *t, bconn *c, uint8_t *p) {
    elig_kind kind;
    char id[ELIG_WIRE_ID_LEN];
    if (cfg.redis) {
        switch (cfg.method) {
        case M_PING:
            memcpy(p, "*1\r\n$4\r\nPING\r\n", 14);
            return p + 14;
        case M_CHECK_BATCH:
            p += sprintf((char *)p, "*%u\r\n$4\r\nMGET\r\n", cfg.batch + 1);
            for (uint32_t i = 0; i < cfg.batch; i++) {
                t->misses_sent += keys_pick(&keys, &t->r, &kind, id);
                p = put_resp_key(p, kind, id);
            }
            return p;
        default:
            t->misses_sent += keys_pick(&keys, &t->r, &kind, id);
            memcpy(p, "*2\r\n$3\r\nGET\r\n", 13);
            return put_resp_key(p + 13, kind, id);
        }
    }
    p = mpw_array(p, 4);
    *p++ = ELIG_MSG_REQUEST;
    p = mpw_uint(p, c->next_msgid++);
    const char *m = method_names[cfg.method];
    p = mpw_str(p, m, (uint32_t)strlen(m));
    switch (cfg.method) {
    case M_PING:
    case M_CONNECT: /* not encoded here: connect_loop writes its own ping */
        return mpw_array(p, 0);
    case M_CHECK:
        t->misses_sent += keys_pick(&keys, &t->r, &kind, id);
        return put_query(p, kind, id); /* params are the query itself */
    case M_CHECK_BATCH:
        p = mpw_array(p, 1);
        p = mpw_array(p, cfg.batch);
        for (uint32_t i = 0; i < cfg.batch; i++) {
            t->misses_sent += keys_pick(&keys, &t->r, &kind, id);
            p = put_query(p, kind, id);
        }
        return p;
    case M_HOUSEHOLD: {
        t->misses_sent += keys_pick(&keys, &t->r, &kind, id);
        const char *k = elig_kind_name(kind);
        p = mpw_array(p, 2);
        p = mpw_str(p, k, (uint32_t)strlen(k));
        return mpw_str(p, id, ELIG_WIRE_ID_LEN);
    }
    }
    return p;
}

/* ---- connections ------------------------------------------------------- */

static void conn_fail(bthread *t, bconn *c, int why) {
    if (c->dead)
        return;
    c->dead = true;
    t->live--;
    t->errors[why]++;
    epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    SSL_free(c->ssl);
    c->ssl = NULL;
}

static void set_out_interest(bthread *t, bconn *c, bool on) {
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

/* send(2) or SSL_write: > 0 bytes, or -1 with errno (EAGAIN: later). */
static ssize_t bsend(bconn *c, const void *p, size_t n) {
    if (!c->ssl)
        return send(c->fd, p, n, MSG_NOSIGNAL);
    int r = SSL_write(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPROTO;
    return -1;
}

/* recv(2) or SSL_read: > 0 bytes, 0 closed, or -1 with errno. */
static ssize_t brecv(bconn *c, void *p, size_t n) {
    if (!c->ssl)
        return recv(c->fd, p, n, 0);
    int r = SSL_read(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPROTO;
    return -1;
}

/* Writes what is buffered; leaves the rest for EPOLLOUT. */
static void flush_out(bthread *t, bconn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = bsend(c, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out_interest(t, c, true);
                return;
            }
            if (errno == EINTR)
                continue;
            conn_fail(t, c, ERR_CLOSED);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    set_out_interest(t, c, false);
}

/* Appends one request stamped with time `when` (send or owed time). */
static void queue_request(bthread *t, bconn *c, uint64_t when) {
    if (c->out_cap - c->out_len < req_max) {
        /* Only reachable while a previous write is still partly unsent. */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    uint8_t *end = encode(t, c, c->out + c->out_len);
    c->out_len = (size_t)(end - c->out);
    c->ring[(c->ring_head + c->inflight) % cfg.pipeline] = when;
    c->inflight++;
}

/* Closed loop: top the connection up to -P outstanding, one write. */
static void fill_closed(bthread *t, bconn *c, uint64_t now) {
    if (c->dead || atomic_load_explicit(&stop_all, memory_order_relaxed))
        return;
    bool any = false;
    while (c->inflight < cfg.pipeline) {
        queue_request(t, c, now);
        any = true;
    }
    if (any && !c->want_out)
        flush_out(t, c);
}

/* Open loop: send what this connection owes, as far as -P allows. The k-th
 * request of connection i of n was owed at t_start + (i + k n) dt. */
static void fill_open(bthread *t, bconn *c) {
    if (c->dead)
        return;
    bool any = false;
    while (c->sent < c->owed && c->inflight < cfg.pipeline) {
        uint64_t owed_at = t_start + (uint64_t)(((double)c->index + (double)c->sent * t->nconns) * t->dt_ns);
        queue_request(t, c, owed_at);
        c->sent++;
        any = true;
    }
    if (any && !c->want_out)
        flush_out(t, c);
}

static bool measuring(uint64_t now) { return now >= t_warm_end && now < t_end; }

/* Tallies the reason of one answer map (--verify). */
static void tally_answer(bthread *t, mpr_cur *c) {
    uint32_t n;
    const char *k, *v;
    uint32_t kl, vl;
    if (!mpr_map(c, &n)) {
        t->reasons[ELIG_REASON_COUNT]++;
        mpr_skip(c);
        return;
    }
    int reason = ELIG_REASON_COUNT;
    for (uint32_t i = 0; i < n; i++) {
        if (!mpr_str(c, &k, &kl))
            break;
        if (kl == 6 && memcmp(k, "reason", 6) == 0 && mpr_str(c, &v, &vl)) {
            int r = elig_reason_lookup(v, vl);
            reason = r < 0 ? ELIG_REASON_COUNT : r;
        } else if (!mpr_skip(c)) {
            break;
        }
    }
    t->reasons[reason]++;
}

/* One framed eligd response: order, errors, latency. */
static void on_response(bthread *t, bconn *c, const uint8_t *p, size_t n, bool counted, bool *bad) {
    mpr_response r;
    if (!mpr_response_parse(p, n, &r) || r.msgid != c->expect_msgid) {
        *bad = true;
        return;
    }
    c->expect_msgid++;
    if (r.errcode)
        t->errors[r.errcode > 0 && r.errcode <= 6 ? r.errcode : ERR_OTHER]++;
    if (cfg.verify && !r.errcode && counted) {
        if (cfg.method == M_CHECK) {
            tally_answer(t, &r.result);
        } else if (cfg.method == M_CHECK_BATCH) {
            uint32_t items;
            if (mpr_array(&r.result, &items))
                for (uint32_t i = 0; i < items; i++)
                    tally_answer(t, &r.result);
        }
    }
}

static void on_resp_reply(bthread *t, const resp_reply *rr, bool counted) {
    if (rr->type == RESP_ERROR)
        t->errors[ERR_REDIS]++;
    if (cfg.verify && counted) {
        if (rr->type == RESP_NIL)
            t->reasons[ELIG_REASON_NOT_FOUND]++;
        else if (rr->type == RESP_BULK)
            t->reasons[ELIG_REASON_COUNT]++; /* a stored answer: counted as "found" */
        else if (rr->type == RESP_ARRAY) {
            t->reasons[ELIG_REASON_NOT_FOUND] += rr->nils;
            t->reasons[ELIG_REASON_COUNT] += rr->items - rr->nils;
        }
    }
}

/* Frames every complete response in c->in and retires the matching
 * requests. */
static void consume_input(bthread *t, bconn *c, uint64_t now) {
    size_t off = 0;
    while (off < c->in_len) {
        long k;
        bool bad = false;
        const uint8_t *p = c->in + off;
        size_t avail = c->in_len - off;
        bool counted = measuring(now) && t->measured < t->quota;
        if (cfg.redis) {
            resp_reply rr;
            k = resp_frame(p, avail, resp_limit, &rr);
            if (k > 0)
                on_resp_reply(t, &rr, counted);
        } else {
            k = mpr_frame(p, avail, resp_limit);
            if (k > 0)
                on_response(t, c, p, (size_t)k, counted, &bad);
        }
        if (k == 0)
            break;
        if (k < 0 || bad || c->inflight == 0) {
            conn_fail(t, c, ERR_PROTOCOL);
            return;
        }
        uint64_t sent = c->ring[c->ring_head];
        c->ring_head = (c->ring_head + 1) % cfg.pipeline;
        c->inflight--;
        t->all_responses++;
        t->last_progress = now;
        if (counted) {
            hist_record(&t->h, now > sent ? now - sent : 0);
            t->measured++;
            t->answers += cfg.method == M_CHECK_BATCH ? cfg.batch : 1;
            t->last_ns = now;
        }
        off += (size_t)k;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void on_readable(bthread *t, bconn *c, uint64_t now) {
    /* Plain: one recv per event (epoll is level-triggered). TLS: on while
     * OpenSSL holds bytes it has read (they would raise no event); what is
     * still in the kernel raises the next one. */
    for (bool more = true; more;) {
        if (c->in_cap - c->in_len < 4096) {
            /* A response larger than any so far: the one growth path. */
            size_t cap = c->in_cap * 2;
            uint8_t *p = realloc(c->in, cap);
            if (!p)
                fatal("out of memory growing an input buffer to %zu bytes", cap);
            c->in = p;
            c->in_cap = cap;
        }
        ssize_t n = brecv(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            conn_fail(t, c, ERR_CLOSED);
            return;
        }
        c->in_len += (size_t)n;
        consume_input(t, c, now);
        if (c->dead)
            return;
        more = c->ssl && SSL_has_pending(c->ssl);
    }
    if (cfg.rate > 0)
        fill_open(t, c);
    else
        fill_closed(t, c, now);
}

/* ---- TLS and auth (SPEC 6) --------------------------------------------- */

static SSL_CTX *tls_ctx;
static char token[1100];

static void tls_init(void) {
    if (!(tls_ctx = SSL_CTX_new(TLS_client_method())))
        fatal("cannot create a TLS context");
    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    if (cfg.tls_ca) {
        if (SSL_CTX_load_verify_locations(tls_ctx, cfg.tls_ca, NULL) != 1)
            fatal("--tls-ca %s: cannot load it", cfg.tls_ca);
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    }
}

static void load_token(void) {
    FILE *f = fopen(cfg.token_file, "r");
    if (!f)
        fatal("--token-file %s: %s", cfg.token_file, strerror(errno));
    if (!fgets(token, sizeof token, f))
        token[0] = '\0';
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    if (!token[0])
        fatal("--token-file %s: the first line is empty", cfg.token_file);
}

/* On a blocking socket: TLS (resuming *sess when given) and auth. 0, or
 * -1 with why. On success with sess, *sess may be updated for the next. */
static int secure(int fd, SSL **out, SSL_SESSION **sess, char *why, size_t n) {
    SSL *ssl = NULL;
    if (cfg.tls) {
        if (!(ssl = SSL_new(tls_ctx)) || SSL_set_fd(ssl, fd) != 1) {
            snprintf(why, n, "out of memory for TLS");
            goto fail;
        }
        SSL_set_tlsext_host_name(ssl, cfg.host);
        if (sess && *sess)
            SSL_set_session(ssl, *sess);
        if (SSL_connect(ssl) != 1) {
            unsigned long e = ERR_get_error();
            snprintf(why, n, "TLS handshake: %s", e ? ERR_reason_error_string(e) : "failed");
            goto fail;
        }
    }
    if (cfg.channel) {
        uint8_t req[1300], *p = req, in[2048];
        p = mpw_array(p, 4);
        *p++ = ELIG_MSG_REQUEST;
        p = mpw_uint(p, UINT32_MAX);
        p = mpw_str(p, "auth", 4);
        p = mpw_array(p, 2);
        p = mpw_str(p, cfg.channel, (uint32_t)strlen(cfg.channel));
        p = mpw_str(p, token, (uint32_t)strlen(token));
        bconn tmp = {.fd = fd, .ssl = ssl};
        size_t len = (size_t)(p - req), got = 0;
        for (size_t off = 0; off < len;) {
            ssize_t k = bsend(&tmp, req + off, len - off);
            if (k <= 0) {
                snprintf(why, n, "auth: write failed");
                goto fail;
            }
            off += (size_t)k;
        }
        long size = 0;
        while ((size = mpr_frame(in, got, sizeof in)) == 0) {
            ssize_t k = brecv(&tmp, in + got, sizeof in - got);
            if (k <= 0) {
                snprintf(why, n, "auth: no answer");
                goto fail;
            }
            got += (size_t)k;
        }
        mpr_response r;
        if (size < 0 || !mpr_response_parse(in, (size_t)size, &r) || r.errcode) {
            snprintf(why, n, "auth as channel %s refused", cfg.channel);
            goto fail;
        }
    }
    if (sess && ssl) {
        SSL_SESSION *s = SSL_get1_session(ssl);
        if (s) {
            SSL_SESSION_free(*sess);
            *sess = s;
        }
    }
    *out = ssl;
    return 0;
fail:
    SSL_free(ssl);
    ERR_clear_error();
    return -1;
}

/* A blocking connect, then non-blocking for the loop. The fd, or -errno. */
static int connect_one(void) {
    int fd, err;
    if (cfg.unix_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", cfg.unix_path);
        if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto fail;
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
        char port[16];
        snprintf(port, sizeof port, "%d", cfg.port);
        int rc = getaddrinfo(cfg.host, port, &hints, &res);
        if (rc != 0)
            fatal("cannot resolve %s: %s", cfg.host, gai_strerror(rc));
        if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
            freeaddrinfo(res);
            return -errno;
        }
        rc = connect(fd, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        if (rc != 0)
            goto fail;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
fail:
    err = errno;
    close(fd);
    return -err;
}

/* Per-connection buffers, sized once for a full pipeline. */
static void conn_init(bthread *t, bconn *c, uint32_t index) {
    memset(c, 0, sizeof *c);
    c->index = index;
    c->out_cap = (size_t)cfg.pipeline * req_max + req_max;
    size_t per_resp = cfg.method == M_CHECK_BATCH ? (size_t)cfg.batch * 160 : 512;
    c->in_cap = (size_t)cfg.pipeline * per_resp;
    if (c->in_cap < 8192)
        c->in_cap = 8192;
    c->out = malloc(c->out_cap);
    c->in = malloc(c->in_cap);
    c->ring = malloc(cfg.pipeline * sizeof *c->ring);
    if (!c->out || !c->in || !c->ring)
        fatal("out of memory for %u connections", cfg.conns);
    int fd = connect_one();
    if (fd < 0) {
        const char *where = cfg.unix_path ? cfg.unix_path : cfg.host;
        snprintf(t->fail, sizeof t->fail, "cannot connect to %s%s%.0d: %s", where, cfg.unix_path ? "" : ":",
                 cfg.unix_path ? 0 : cfg.port, strerror(-fd));
        c->dead = true;
        c->fd = -1;
        return;
    }
    if (cfg.tls || cfg.channel) {
        char why[200];
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        if (secure(fd, &c->ssl, NULL, why, sizeof why) != 0) {
            snprintf(t->fail, sizeof t->fail, "%s", why);
            close(fd);
            c->dead = true;
            c->fd = -1;
            return;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- the loop ---------------------------------------------------------- */

static bool thread_done(bthread *t, uint64_t now) {
    if (atomic_load_explicit(&stop_all, memory_order_relaxed))
        return true;
    if (cfg.requests) {
        if (t->measured >= t->quota)
            return true;
    } else if (now >= t_end) {
        return true;
    }
    return false;
}

/* Open loop: hands every request now owed to its connection. */
static void assign_owed(bthread *t, uint64_t now) {
    for (;;) {
        uint64_t due = t_start + (uint64_t)((double)t->owed_total * t->dt_ns);
        if (due > now)
            return;
        bconn *c = &t->conns[t->owed_total % t->nconns];
        c->owed++;
        t->owed_total++;
        if (!c->dirty && !c->dead) {
            c->dirty = true;
            t->dirty[t->ndirty++] = c;
        }
    }
}

static uint64_t outstanding(const bthread *t) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < t->nconns; i++)
        n += t->conns[i].dead ? 0 : t->conns[i].inflight;
    return n;
}

/* --method connect: connect, TLS, auth, one ping, close; in a loop. */
static void connect_loop(bthread *t) {
    SSL_SESSION *sess = NULL;
    uint64_t now = now_ns();
    t->last_progress = now;
    while (!thread_done(t, now)) {
        uint64_t t0 = now;
        char why[200];
        int fd = connect_one();
        SSL *ssl = NULL;
        if (fd < 0) {
            snprintf(t->fail, sizeof t->fail, "cannot connect: %s", strerror(-fd));
            t->errors[ERR_CLOSED]++;
            break;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        if (secure(fd, &ssl, cfg.resume ? &sess : NULL, why, sizeof why) != 0) {
            snprintf(t->fail, sizeof t->fail, "%s", why);
            t->errors[ERR_CLOSED]++;
            close(fd);
            break;
        }
        bconn tmp = {.fd = fd, .ssl = ssl};
        uint8_t ping[16], in[256], *p = ping;
        p = mpw_array(p, 4);
        *p++ = ELIG_MSG_REQUEST;
        p = mpw_uint(p, 1);
        p = mpw_str(p, "ping", 4);
        p = mpw_array(p, 0);
        size_t got = 0;
        long size = 0;
        bool ok = bsend(&tmp, ping, (size_t)(p - ping)) == p - ping;
        while (ok && (size = mpr_frame(in, got, sizeof in)) == 0) {
            ssize_t k = brecv(&tmp, in + got, sizeof in - got);
            ok = k > 0;
            got += ok ? (size_t)k : 0;
        }
        mpr_response r;
        ok = ok && size > 0 && mpr_response_parse(in, (size_t)size, &r) && r.errcode == 0;
        if (ssl) {
            t->resumed += SSL_session_reused(ssl);
            if (cfg.resume) { /* after an answer: TLS 1.3 tickets have come */
                SSL_SESSION *s = SSL_get1_session(ssl);
                if (s) {
                    SSL_SESSION_free(sess);
                    sess = s;
                }
            }
            SSL_shutdown(ssl); /* without it OpenSSL marks the session not resumable */
            SSL_free(ssl);
        }
        close(fd);
        now = now_ns();
        if (!ok) {
            t->errors[ERR_PROTOCOL]++;
            snprintf(t->fail, sizeof t->fail, "no pong after connecting");
            break;
        }
        t->all_responses++;
        t->last_progress = now;
        if (measuring(now) && t->measured < t->quota) {
            hist_record(&t->h, now - t0);
            t->measured++;
            t->answers++;
            t->last_ns = now;
        }
    }
    SSL_SESSION_free(sess);
}

static void *thread_main(void *arg) {
    bthread *t = arg;
    if (cfg.method == M_CONNECT) {
        pthread_barrier_wait(&barrier); /* nothing to connect beforehand */
        pthread_barrier_wait(&barrier); /* t_start set */
        connect_loop(t);
        return NULL;
    }
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    for (uint32_t i = 0; i < t->nconns; i++) {
        conn_init(t, &t->conns[i], i);
        t->live += !t->conns[i].dead;
    }
    pthread_barrier_wait(&barrier); /* connected */
    pthread_barrier_wait(&barrier); /* t_start set */
    uint64_t now = now_ns();
    t->last_progress = now;
    if (cfg.rate > 0) {
        t->dt_ns = 1e9 * cfg.threads / cfg.rate;
        t->dirty = calloc(t->nconns, sizeof *t->dirty);
        if (!t->dirty)
            fatal("out of memory");
    } else {
        for (uint32_t i = 0; i < t->nconns; i++)
            fill_closed(t, &t->conns[i], now);
    }
    struct epoll_event evs[256];
    while (!thread_done(t, now) && t->live) {
        struct timespec ts;
        uint64_t wake = now + 100000000u; /* at least every 100 ms: watchdog, stop */
        if (!cfg.requests && t_end < wake)
            wake = t_end;
        if (cfg.rate > 0) {
            uint64_t due = t_start + (uint64_t)((double)t->owed_total * t->dt_ns);
            if (due < wake)
                wake = due;
        }
        uint64_t wait = wake > now ? wake - now : 0;
        ts.tv_sec = (time_t)(wait / 1000000000u);
        ts.tv_nsec = (long)(wait % 1000000000u);
        int n = epoll_pwait2(t->ep, evs, 256, &ts, NULL);
        if (n < 0 && errno != EINTR)
            fatal("epoll_pwait2: %s", strerror(errno));
        now = now_ns();
        for (int i = 0; i < n; i++) {
            bconn *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (evs[i].events & EPOLLOUT)
                flush_out(t, c);
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(t, c, now);
        }
        if (cfg.rate > 0) {
            assign_owed(t, now);
            for (uint32_t i = 0; i < t->ndirty; i++) {
                t->dirty[i]->dirty = false;
                fill_open(t, t->dirty[i]);
            }
            t->ndirty = 0;
        }
        if (now - t->last_progress > (uint64_t)(cfg.timeout * 1e9) && outstanding(t) > 0) {
            t->errors[ERR_TIMEOUT]++;
            snprintf(t->fail, sizeof t->fail, "no response for %.0f s with requests outstanding",
                     cfg.timeout);
            break;
        }
    }
    if (!t->live && !t->fail[0])
        snprintf(t->fail, sizeof t->fail, "every connection was closed");
    for (uint32_t i = 0; i < t->nconns; i++) {
        bconn *c = &t->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        SSL_free(c->ssl);
        free(c->in);
        free(c->out);
        free(c->ring);
    }
    free(t->dirty);
    close(t->ep);
    return NULL;
}

/* ---- report ------------------------------------------------------------ */

typedef struct {
    hist h;
    uint64_t measured, answers, all_responses, misses_sent, resumed;
    uint64_t errors[ERR_SLOTS];
    uint64_t reasons[ELIG_REASON_COUNT + 1];
    double seconds;
} totals;

static void sum_up(bthread *ts, totals *tot) {
    memset(tot, 0, sizeof *tot);
    hist_reset(&tot->h);
    uint64_t last = t_warm_end;
    for (uint32_t i = 0; i < cfg.threads; i++) {
        bthread *t = &ts[i];
        hist_merge(&tot->h, &t->h);
        tot->measured += t->measured;
        tot->resumed += t->resumed;
        tot->answers += t->answers;
        tot->all_responses += t->all_responses;
        tot->misses_sent += t->misses_sent;
        for (int e = 0; e < ERR_SLOTS; e++)
            tot->errors[e] += t->errors[e];
        for (int r = 0; r <= ELIG_REASON_COUNT; r++)
            tot->reasons[r] += t->reasons[r];
        if (t->last_ns > last)
            last = t->last_ns;
    }
    tot->seconds = cfg.requests ? (double)(last - t_warm_end) / 1e9 : cfg.duration;
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static const char *server_label(void) {
    return cfg.label ? cfg.label : cfg.redis ? "redis" : "eligd";
}

static void print_json(const totals *tot) {
    double secs = tot->seconds > 0 ? tot->seconds : 1e-9;
    printf("{\"server\":\"%s\",\"method\":\"%s\",\"connections\":%u,\"pipeline\":%u,\"threads\":%u,"
           "\"batch\":%u,\"rate\":%.0f,\"miss_ratio\":%.3f,\"skew\":\"%s\",\"kinds\":\"%s\","
           "\"seconds\":%.3f,\"requests\":%llu,\"requests_per_s\":%.1f,\"answers_per_s\":%.1f,",
           server_label(), method_names[cfg.method], cfg.conns, cfg.pipeline, cfg.threads,
           cfg.method == M_CHECK_BATCH ? cfg.batch : 1, cfg.rate, cfg.miss_ratio, cfg.zipf ? "zipf" : "uniform",
           cfg.kinds, tot->seconds, (unsigned long long)tot->measured, (double)tot->measured / secs,
           (double)tot->answers / secs);
    printf("\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f},",
           us(hist_percentile(&tot->h, 50)), us(hist_percentile(&tot->h, 90)), us(hist_percentile(&tot->h, 99)),
           us(hist_percentile(&tot->h, 99.9)), us(tot->h.max), hist_mean(&tot->h) / 1000.0);
    printf("\"tls\":%s,\"channel\":%s%s%s,\"resumed\":%llu,", cfg.tls ? "true" : "false",
           cfg.channel ? "\"" : "", cfg.channel ? cfg.channel : "null", cfg.channel ? "\"" : "",
           (unsigned long long)tot->resumed);
    printf("\"errors\":{");
    for (int e = 0; e < ERR_SLOTS; e++)
        printf("%s\"%s\":%llu", e ? "," : "", err_names[e], (unsigned long long)tot->errors[e]);
    printf("}");
    if (cfg.verify) {
        printf(",\"reasons\":{");
        for (int r = 0; r < ELIG_REASON_COUNT; r++)
            printf("%s\"%s\":%llu", r ? "," : "", elig_reason_code((elig_reason)r),
                   (unsigned long long)tot->reasons[r]);
        printf(",\"%s\":%llu}", cfg.redis ? "found" : "unknown",
               (unsigned long long)tot->reasons[ELIG_REASON_COUNT]);
    }
    printf("}\n");
}

static void print_human(const totals *tot) {
    double secs = tot->seconds > 0 ? tot->seconds : 1e-9;
    char target[300];
    if (cfg.unix_path)
        snprintf(target, sizeof target, "unix:%s", cfg.unix_path);
    else
        snprintf(target, sizeof target, "%s:%d", cfg.host, cfg.port);
    printf("====== %s %s%s ======\n", server_label(), method_names[cfg.method], cfg.redis ? " (RESP)" : "");
    printf("  target %s, %u connections, pipeline %u, %u thread%s, %s loop\n", target, cfg.conns,
           cfg.pipeline, cfg.threads, cfg.threads == 1 ? "" : "s", cfg.rate > 0 ? "open" : "closed");
    if (cfg.rate > 0)
        printf("  offered rate %.0f requests/s\n", cfg.rate);
    printf("  keys: kinds %s, miss ratio %.2f, %s\n", cfg.kinds, cfg.miss_ratio, cfg.zipf ? "zipf" : "uniform");
    if (cfg.tls || cfg.channel)
        printf("  %s%s%s%s\n", cfg.tls ? "TLS" : "plain", cfg.channel ? ", auth as channel " : "",
               cfg.channel ? cfg.channel : "", cfg.method == M_CONNECT && cfg.tls ? (cfg.resume ? ", sessions resumed" : ", full handshakes") : "");
    if (cfg.method == M_CONNECT && cfg.tls)
        printf("  handshakes that resumed a session: %llu\n", (unsigned long long)tot->resumed);
    printf("  %llu requests in %.2f s after %.1f s warm-up\n", (unsigned long long)tot->measured, tot->seconds,
           cfg.warmup);
    printf("  throughput: %.1f requests/s", (double)tot->measured / secs);
    if (cfg.method == M_CHECK_BATCH)
        printf(", %.1f answers/s", (double)tot->answers / secs);
    printf("\n  latency (us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
           us(hist_percentile(&tot->h, 50)), us(hist_percentile(&tot->h, 90)), us(hist_percentile(&tot->h, 99)),
           us(hist_percentile(&tot->h, 99.9)), us(tot->h.max), hist_mean(&tot->h) / 1000.0);
    printf("  errors:");
    bool any = false;
    for (int e = 0; e < ERR_SLOTS; e++)
        if (tot->errors[e]) {
            printf(" %s %llu", err_names[e], (unsigned long long)tot->errors[e]);
            any = true;
        }
    printf("%s\n", any ? "" : " none");
    if (cfg.verify) {
        printf("  answers:");
        for (int r = 0; r < ELIG_REASON_COUNT; r++)
            if (tot->reasons[r])
                printf(" %s %llu", elig_reason_code((elig_reason)r), (unsigned long long)tot->reasons[r]);
        if (tot->reasons[ELIG_REASON_COUNT])
            printf(" %s %llu", cfg.redis ? "found" : "unknown", (unsigned long long)tot->reasons[ELIG_REASON_COUNT]);
        printf("\n");
    }
}

/* ---- command line ------------------------------------------------------ */

static const char usage[] =
    "usage: elig-bench [options]\n"
    "\n"
    "Drives eligd (msgpack-RPC) or, with --redis, a Redis server with the same\n"
    "load shape, and prints throughput and latency percentiles.\n"
    "\n"
    "  -h HOST              server host (default 127.0.0.1)\n"
    "  -p PORT              server port (default 7420; 6379 with --redis)\n"
    "  --unix PATH          connect to a Unix socket instead\n"
    "  -c N                 connections (default 50)\n"
    "  -P N                 pipeline: requests outstanding per connection (default 1)\n"
    "  -n N                 stop after N measured responses\n"
    "  -d SECONDS           measure for this long (default 10 unless -n is given)\n"
    "  --threads N          client threads, one epoll loop each (default 1)\n"
    "  --warmup SECONDS     run this long before measuring (default 1)\n"
    "  --method M           check, check_batch, household, ping (default check), or\n"
    "                       connect: connect, (TLS, auth,) one ping, close, in a loop;\n"
    "                       throughput is then connections/s\n"
    "  --batch K            items per check_batch (default 100)\n"
    "  --keys FILE          keys to ask about: lines kind,id (kind,id,miss for known\n"
    "                       misses), e.g. from elig-keys; required but for ping\n"
    "  --kinds SPEC         kind mix: nik,kk,kks (equal) or nik=2,kks=1\n"
    "                       (default: every kind the keys file holds, equally)\n"
    "  --miss-ratio R       share of ids that name nothing, 0-1 (default 0)\n"
    "  --skew S             uniform or zipf (theta 0.99) over the keys (default uniform)\n"
    "  --program P          programme asked about (default BPNT)\n"
    "  --period YYYY-MM     month asked about (default 2024-06)\n"
    "  --rate R             open loop: R requests/s in all, latency from the time each\n"
    "                       was due (coordinated omission corrected); default closed loop\n"
    "  --timeout SECONDS    give up when nothing is answered this long (default 10)\n"
    "  --redis              speak RESP: GET kind:id (check), MGET (check_batch), PING\n"
    "  --verify             tally the answers' reasons (costs client CPU)\n"
    "  --seed S             key choice seed (default 1)\n"
    "  --label NAME         server name in the report (default eligd or redis)\n"
    "  --json               one line of JSON on stdout instead of the text report\n"
    "  --tls                speak TLS 1.2+ (the server's certificate is not checked\n"
    "                       unless --tls-ca is given)\n"
    "  --tls-ca PEM         verify the server's certificate against these CAs\n"
    "  --resume             --method connect: resume the previous TLS session\n"
    "  --channel NAME       send auth [NAME, token] first on every connection (SPEC 6)\n"
    "  --token-file PATH    the token: the first line of PATH\n"
    "  --help               this text\n"
    "  --version            version\n"
    "\n"
    "Exit status: 0 when the run completed (errors are reported, not fatal),\n"
    "1 if it could not run (no connection, every connection lost), 2 on bad usage.\n";

enum {
    O_UNIX = 256, O_THREADS, O_WARMUP, O_METHOD, O_BATCH, O_KEYS, O_KINDS, O_MISS, O_SKEW, O_PROGRAM,
    O_PERIOD, O_RATE, O_TIMEOUT, O_REDIS, O_VERIFY, O_SEED, O_LABEL, O_JSON, O_HELP, O_VERSION,
    O_TLS, O_TLS_CA, O_RESUME, O_CHANNEL, O_TOKEN_FILE,
};

static const struct option long_opts[] = {
    {"unix", required_argument, NULL, O_UNIX},       {"threads", required_argument, NULL, O_THREADS},
    {"warmup", required_argument, NULL, O_WARMUP},   {"method", required_argument, NULL, O_METHOD},
    {"batch", required_argument, NULL, O_BATCH},     {"keys", required_argument, NULL, O_KEYS},
    {"kinds", required_argument, NULL, O_KINDS},     {"miss-ratio", required_argument, NULL, O_MISS},
    {"skew", required_argument, NULL, O_SKEW},       {"program", required_argument, NULL, O_PROGRAM},
    {"period", required_argument, NULL, O_PERIOD},   {"rate", required_argument, NULL, O_RATE},
    {"timeout", required_argument, NULL, O_TIMEOUT}, {"redis", no_argument, NULL, O_REDIS},
    {"verify", no_argument, NULL, O_VERIFY},         {"seed", required_argument, NULL, O_SEED},
    {"label", required_argument, NULL, O_LABEL},     {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, O_HELP},             {"version", no_argument, NULL, O_VERSION},
    {"tls", no_argument, NULL, O_TLS},               {"tls-ca", required_argument, NULL, O_TLS_CA},
    {"resume", no_argument, NULL, O_RESUME},         {"channel", required_argument, NULL, O_CHANNEL},
    {"token-file", required_argument, NULL, O_TOKEN_FILE},
    {NULL, 0, NULL, 0},
};

static uint64_t parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        usage_error("%s: '%s' is not a whole number from %llu to %llu", flag, s, (unsigned long long)min,
                    (unsigned long long)max);
    return v;
}

static double parse_num(const char *flag, const char *s, double min, double max) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min && v <= max))
        usage_error("%s: '%s' is not a number from %g to %g", flag, s, min, max);
    return v;
}

static void parse_args(int argc, char **argv) {
    int opt;
    while ((opt = getopt_long(argc, argv, "h:p:c:P:n:d:", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cfg.host = optarg; break;
        case 'p': cfg.port = (int)parse_u64("-p", optarg, 1, 65535); break;
        case 'c': cfg.conns = (uint32_t)parse_u64("-c", optarg, 1, 100000); break;
        case 'P': cfg.pipeline = (uint32_t)parse_u64("-P", optarg, 1, 100000); break;
        case 'n': cfg.requests = parse_u64("-n", optarg, 1, UINT64_MAX / 2); break;
        case 'd': cfg.duration = parse_num("-d", optarg, 0.001, 86400); break;
        case O_UNIX: cfg.unix_path = optarg; break;
        case O_THREADS: cfg.threads = (uint32_t)parse_u64("--threads", optarg, 1, 256); break;
        case O_WARMUP: cfg.warmup = parse_num("--warmup", optarg, 0, 3600); break;
        case O_METHOD: {
            int m = -1;
            for (int i = 0; i < 5; i++)
                if (strcmp(optarg, method_names[i]) == 0)
                    m = i;
            if (m < 0)
                usage_error("--method: '%s' is not check, check_batch, household or ping", optarg);
            cfg.method = (bench_method)m;
            break;
        }
        case O_BATCH: cfg.batch = (uint32_t)parse_u64("--batch", optarg, 1, 100000); break;
        case O_KEYS: cfg.keys_path = optarg; break;
        case O_KINDS: cfg.kinds = optarg; break;
        case O_MISS: cfg.miss_ratio = parse_num("--miss-ratio", optarg, 0, 1); break;
        case O_SKEW:
            if (strcmp(optarg, "uniform") && strcmp(optarg, "zipf"))
                usage_error("--skew: '%s' is not uniform or zipf", optarg);
            cfg.zipf = strcmp(optarg, "zipf") == 0;
            break;
        case O_PROGRAM:
            if (strlen(optarg) < 1 || strlen(optarg) > ELIG_WIRE_PROGRAM_MAX)
                usage_error("--program: '%s' is not 1-16 characters", optarg);
            cfg.program = optarg;
            break;
        case O_PERIOD:
            if (strlen(optarg) != 7)
                usage_error("--period: '%s' is not YYYY-MM", optarg);
            cfg.period = optarg;
            break;
        case O_RATE: cfg.rate = parse_num("--rate", optarg, 0.001, 1e9); break;
        case O_TIMEOUT: cfg.timeout = parse_num("--timeout", optarg, 0.1, 3600); break;
        case O_REDIS: cfg.redis = true; break;
        case O_VERIFY: cfg.verify = true; break;
        case O_SEED: cfg.seed = parse_u64("--seed", optarg, 0, UINT64_MAX); break;
        case O_LABEL: cfg.label = optarg; break;
        case O_JSON: cfg.json = true; break;
        case O_TLS: cfg.tls = true; break;
        case O_TLS_CA: cfg.tls_ca = optarg; cfg.tls = true; break;
        case O_RESUME: cfg.resume = true; break;
        case O_CHANNEL: cfg.channel = optarg; break;
        case O_TOKEN_FILE: cfg.token_file = optarg; break;
        case O_HELP: fputs(usage, stdout); exit(0);
        case O_VERSION: printf("elig-bench %s\n", BENCH_VERSION); exit(0);
        default: fprintf(stderr, "Try 'elig-bench --help'.\n"); exit(2);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (cfg.port < 0)
        cfg.port = cfg.redis ? 6379 : ELIG_WIRE_DEFAULT_PORT;
    if (!cfg.requests && cfg.duration == 0)
        cfg.duration = 10;
    if (cfg.requests && cfg.duration > 0)
        usage_error("-n and -d exclude each other");
    if (cfg.requests && cfg.rate > 0)
        usage_error("-n and --rate exclude each other: an open-loop run is timed (-d)");
    if (cfg.threads > cfg.conns)
        usage_error("--threads %u is more than the %u connections", cfg.threads, cfg.conns);
    if (cfg.redis && cfg.method == M_HOUSEHOLD)
        usage_error("--redis: household has no Redis counterpart");
    if (cfg.method != M_PING && cfg.method != M_CONNECT && !cfg.keys_path)
        usage_error("--keys FILE is required for %s", method_names[cfg.method]);
    if (cfg.redis && (cfg.tls || cfg.channel || cfg.method == M_CONNECT))
        usage_error("--redis goes without --tls, --channel and --method connect");
    if (!cfg.channel != !cfg.token_file)
        usage_error("--channel and --token-file go together");
    if (cfg.unix_path && cfg.tls)
        usage_error("--tls is for TCP, not --unix");
    if (cfg.resume && (!cfg.tls || cfg.method != M_CONNECT))
        usage_error("--resume goes with --tls --method connect");
    if (cfg.method == M_CONNECT && cfg.rate > 0)
        usage_error("--method connect is a closed loop (no --rate)");
    if (cfg.tls)
        tls_init();
    if (cfg.token_file)
        load_token();
}

/* Upper bound of one request's bytes, for the buffers. */
static size_t request_bound(void) {
    size_t item = 64 + strlen(cfg.program) + strlen(cfg.period);
    if (cfg.method == M_CHECK_BATCH)
        return 64 + (size_t)cfg.batch * item;
    return 64 + item;
}

static void load_keys(void) {
    char err[512];
    static char default_kinds[32];
    if (!cfg.keys_path) {
        cfg.kinds = "";
        return;
    }
    if (keys_load(&keys, cfg.keys_path, err, sizeof err) != 0)
        fatal("%s", err);
    if (!cfg.kinds) {
        for (int k = 0; k < ELIG_KIND_COUNT; k++)
            if (keys.hit[k].n) {
                if (default_kinds[0])
                    strcat(default_kinds, ",");
                strcat(default_kinds, elig_kind_name((elig_kind)k));
            }
        if (!default_kinds[0])
            fatal("%s: no keys", cfg.keys_path);
        cfg.kinds = default_kinds;
    }
    if (keys_set_mix(&keys, cfg.kinds, err, sizeof err) != 0)
        usage_error("%s", err);
    keys.miss_ratio = cfg.miss_ratio;
    keys_set_skew(&keys, cfg.zipf);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    load_keys();
    signal(SIGPIPE, SIG_IGN);
    req_max = request_bound();

    bthread *ts = calloc(cfg.threads, sizeof *ts);
    bconn *conns = calloc(cfg.conns, sizeof *conns);
    if (!ts || !conns)
        fatal("out of memory");
    pthread_barrier_init(&barrier, NULL, cfg.threads + 1);
    uint32_t next = 0;
    for (uint32_t i = 0; i < cfg.threads; i++) {
        bthread *t = &ts[i];
        t->index = i;
        t->quota = cfg.requests ? cfg.requests / cfg.threads + (i < cfg.requests % cfg.threads) : UINT64_MAX;
        t->nconns = cfg.conns / cfg.threads + (i < cfg.conns % cfg.threads);
        t->conns = conns + next;
        next += t->nconns;
        rng_seed(&t->r, cfg.seed * 1000003u + i);
        hist_reset(&t->h);
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0)
            fatal("cannot start thread %u", i);
    }
    pthread_barrier_wait(&barrier);
    for (uint32_t i = 0; i < cfg.threads; i++)
        if (ts[i].fail[0]) {
            fprintf(stderr, "elig-bench: %s\n", ts[i].fail);
            exit(1);
        }
    t_start = now_ns();
    t_warm_end = t_start + (uint64_t)(cfg.warmup * 1e9);
    t_end = cfg.requests ? UINT64_MAX : t_warm_end + (uint64_t)(cfg.duration * 1e9);
    pthread_barrier_wait(&barrier);
    for (uint32_t i = 0; i < cfg.threads; i++)
        pthread_join(ts[i].tid, NULL);

    totals tot;
    sum_up(ts, &tot);
    int status = 0;
    for (uint32_t i = 0; i < cfg.threads; i++)
        if (ts[i].fail[0]) {
            fprintf(stderr, "elig-bench: thread %u: %s\n", i, ts[i].fail);
            status = 1;
        }
    if (cfg.json)
        print_json(&tot);
    else
        print_human(&tot);
    free(ts);
    free(conns);
    keys_free(&keys);
    return status;
}
