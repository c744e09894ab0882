/* conn.c — one client handle: servers, socket, send log and answer queue.
 *
 * The send log is the heart of failover. Every request is encoded once into
 * `log` and stays there until its answer has been framed; `wpos` says how
 * much of the log the current connection has been given. When a connection
 * breaks, the next one starts writing at `log_head`, the first request with
 * no answer, so exactly the unanswered requests are sent again. Answers
 * already framed in the input buffer are kept: they were answered.
 *
 * Positions in the log are stream positions (uint64, never reused), so
 * queue entries need no fix-up when the log is compacted.
 *
 * Everything blocks with poll() and a deadline; the socket itself is
 * non-blocking so that no write can stall past it.
 *
 * Retry policy (one place: RETRY_ROUNDS and the backoff below). A request
 * is sent again on the next connection, to the next server, when its
 * connection broke before its answer, when the server answered it
 * `unavailable` (error 5: that replica cannot answer now, another may), or
 * when what came back was not a valid answer (a protocol error). After a
 * first round through the server list (plus one more try, so that a
 * connection closed while idle is simply reopened) each further round
 * waits first: 100 ms, doubling, at most 2 s, RETRY_ROUNDS rounds (3.1 s in
 * all). Then the requests fail: ECONNLOST, or the `unavailable` answer
 * itself (ESERVER, code 5), or EPROTO. Behind a load balancer (one address,
 * many replicas) each new connection may reach another replica: that is
 * what the rounds are for. A server that refuses every connection from the
 * start fails at once (ECONNECT): nothing was reached to retry against.
 * `reload` is never sent again: its `unavailable` is the reload's failure.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)

#define FLUSH_AT (64 * 1024)        /* write once this much is queued */
#define READ_CHUNK (64 * 1024)      /* room made before each read */
#define IN_LIMIT (64 * 1024 * 1024) /* framed answers held, beyond max_message */
#define RETRY_ROUNDS 5              /* rounds with backoff after the first */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

/* One queued request. */
typedef struct {
    uint64_t log_end; /* stream position just past its bytes in the log */
    uint32_t msgid;
    uint32_t n_items; /* check_batch: number of queries */
    uint32_t msg_len; /* answered: length of its response in the input */
    uint16_t resent;  /* times sent again after `unavailable` or a protocol error */
    uint8_t method;   /* elig_method */
    int8_t err;       /* failed: the ELIGC_E* code; else 0 */
} req;

struct eligc_conn {
    /* options */
    char **servers;
    size_t n_servers;
    int connect_timeout_ms, request_timeout_ms;
    size_t max_pending, max_message, batch_max;

    /* connection */
    int fd;          /* -1 when not connected */
    size_t cur;      /* server connected now, or to try next */
    unsigned tries;  /* connection failures since the last answer */
    bool lost;       /* one of them was a broken connection: */
    char lost_msg[200]; /* how it broke */

    /* queue: ring of q_len entries from q_head; the first q_done are
     * answered or failed, the rest live */
    req *q;
    size_t q_cap, q_head, q_len, q_done;
    uint32_t next_msgid;

    /* send log */
    eligc__buf log;
    uint64_t log_base; /* stream position of log.p[0] */
    uint64_t log_head; /* first byte of the first live request */
    uint64_t wpos;     /* written to the current connection up to here */

    /* input: in.p[in_off, in_framed) holds the answers of the answered
     * requests, in order; [in_framed, in.len) a response in transit */
    eligc__buf in;
    size_t in_off, in_framed;
    mpr_scan scan;

    /* errors */
    int server_code;
    char errmsg[512];
    char fail_msg[512]; /* why the failed requests failed */
};

static req *q_at(const eligc_conn *c, size_t i) {
    return &c->q[(c->q_head + i) & (c->q_cap - 1)];
}

static uint64_t log_end(const eligc_conn *c) { return c->log_base + c->log.len; }

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int eligc__seterr(eligc_conn *c, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    if (code != ELIGC_ESERVER)
        c->server_code = 0;
    return code;
}

void eligc__set_server_code(eligc_conn *c, int code) { c->server_code = code; }

size_t eligc__batch_max(const eligc_conn *c) { return c->batch_max; }

/* ---- options ----------------------------------------------------------- */

void eligc_options_init(eligc_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->size = sizeof *opt;
    opt->connect_timeout_ms = 2000;
    opt->request_timeout_ms = 5000;
    opt->max_pending = 65536;
    opt->max_message = 16 * 1024 * 1024;
    opt->batch_max = ELIG_WIRE_MAX_BATCH;
}

/* "unix:PATH" with a path that fits a sockaddr_un, or "HOST:PORT" with a
 * port 1-65535 ("[v6]:PORT" allowed). Returns NULL or what is wrong. */
static const char *server_syntax(const char *s) {
    if (strncmp(s, "unix:", 5) == 0) {
        size_t n = strlen(s + 5);
        return n == 0 ? "empty unix socket path"
               : n >= sizeof(((struct sockaddr_un *)0)->sun_path) ? "unix socket path too long"
                                                                  : NULL;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return "expected HOST:PORT or unix:PATH";
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || errno || port < 1 || port > 65535)
        return "port is not 1-65535";
    if (s[0] == '[' && colon[-1] != ']')
        return "unclosed [ in IPv6 address";
    return NULL;
}

static int copy_servers(eligc_conn *c, const eligc_options *opt) {
    static const char *const dflt[] = {ELIG_WIRE_DEFAULT_HOST ":" STR(ELIG_WIRE_DEFAULT_PORT)};
    const char *const *list = opt->n_servers ? opt->servers : dflt;
    size_t n = opt->n_servers ? opt->n_servers : 1;
    if (!list)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: servers is NULL");
    c->servers = calloc(n, sizeof *c->servers);
    if (!c->servers)
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *why = list[i] ? server_syntax(list[i]) : "NULL server";
        if (why)
            return eligc__seterr(c, ELIGC_EBADARG, "bad argument: server '%s': %s",
                                 list[i] ? list[i] : "", why);
        if (!(c->servers[i] = strdup(list[i])))
            return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
        c->n_servers = i + 1;
    }
    return 0;
}

static int apply_options(eligc_conn *c, const eligc_options *opt) {
    eligc_options o;
    eligc_options_init(&o);
    if (opt) { /* fields past the caller's size keep their defaults */
        size_t n = opt->size < sizeof o ? opt->size : sizeof o;
        if (n < offsetof(eligc_options, servers))
            return eligc__seterr(c, ELIGC_EBADARG,
                                 "bad argument: options not set up by eligc_options_init");
        memcpy(&o, opt, n);
    }
    if (o.connect_timeout_ms <= 0 || o.request_timeout_ms <= 0 || o.max_pending == 0 ||
        o.max_message < 64 || o.batch_max == 0 || o.batch_max > UINT32_MAX ||
        o.max_pending > ((size_t)1 << 30) || o.max_message > UINT32_MAX)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: a timeout or limit is out of range");
    c->connect_timeout_ms = o.connect_timeout_ms;
    c->request_timeout_ms = o.request_timeout_ms;
    c->max_pending = o.max_pending;
    c->max_message = o.max_message;
    c->batch_max = o.batch_max;
    return copy_servers(c, &o);
}

/* ---- connecting -------------------------------------------------------- */

static void close_fd(eligc_conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Waits for a non-blocking connect on fd: 0 or an errno value. */
static int connect_wait(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        int n = poll(&p, 1, left > 0 ? left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return ETIMEDOUT;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            return errno;
        return err;
    }
}

/* A connected non-blocking socket to addr, or -1 with *err an errno. */
static int connect_addr(const struct sockaddr *addr, socklen_t len, int timeout_ms, int *err) {
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, addr, len) != 0) {
        *err = errno == EINPROGRESS ? connect_wait(fd, timeout_ms) : errno;
        if (*err) {
            close(fd);
            return -1;
        }
    }
    if (addr->sa_family != AF_UNIX) { /* answers are small: no Nagle delay */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int connect_unix(const char *path, int timeout_ms, int *err) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path)); /* length checked at open */
    return connect_addr((struct sockaddr *)&sun, sizeof sun, timeout_ms, err);
}

/* Tries every address HOST resolves to. -1 with *why set on failure. */
static int connect_tcp(const char *server, int timeout_ms, char *why, size_t whylen) {
    char host[256];
    const char *colon = strrchr(server, ':');
    size_t hn = (size_t)(colon - server);
    if (server[0] == '[') { /* [v6]:port */
        server++;
        hn -= 2;
    }
    if (hn >= sizeof host) {
        snprintf(why, whylen, "host name too long");
        return -1;
    }
    memcpy(host, server, hn);
    host[hn] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        snprintf(why, whylen, "%s", gai_strerror(gai));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
        fd = connect_addr(a->ai_addr, a->ai_addrlen, timeout_ms, &err);
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, whylen, "%s", strerror(err));
    return fd;
}

/* One attempt at servers[cur]. 0, or -1 with the reason in why. */
static int connect_one(eligc_conn *c, char *why, size_t whylen) {
    const char *s = c->servers[c->cur];
    int fd, err = 0;
    if (strncmp(s, "unix:", 5) == 0) {
        fd = connect_unix(s + 5, c->connect_timeout_ms, &err);
        if (fd < 0)
            snprintf(why, whylen, "%s", strerror(err));
    } else {
        fd = connect_tcp(s, c->connect_timeout_ms, why, whylen);
    }
    if (fd < 0)
        return -1;
    c->fd = fd;
    c->wpos = c->log_head; /* the new server gets every live request */
    return 0;
}

static void next_server(eligc_conn *c) { c->cur = (c->cur + 1) % c->n_servers; }

/* ---- failing requests -------------------------------------------------- */

/* Drops a response in transit (its connection is gone). */
static void drop_partial(eligc_conn *c) {
    c->in.len = c->in_framed;
    mpr_scan_reset(&c->scan);
}

static size_t live_count(const eligc_conn *c) { return c->q_len - c->q_done; }

/* Fails every live request with err, closes the connection and records
 * why (the message each failed request reports when collected). */
static int fail_live(eligc_conn *c, int err, const char *why) {
    for (size_t i = c->q_done; i < c->q_len; i++)
        q_at(c, i)->err = (int8_t)err;
    c->q_done = c->q_len;
    c->log_head = c->wpos = log_end(c);
    close_fd(c);
    drop_partial(c);
    c->tries = 0;
    c->lost = false;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s", why);
    return eligc__seterr(c, err, "%s", why);
}

/* Attempts after something was reached and failed: a round through the
 * list, one try more, then RETRY_ROUNDS rounds with backoff. */
static unsigned retry_max(const eligc_conn *c) {
    size_t n = c->n_servers * (RETRY_ROUNDS + 1) + 1;
    return n < 60000 ? (unsigned)n : 60000;
}

/* Connection attempts since the last answer before the live requests
 * fail: one round through the list when nothing was reached, retry_max
 * after a broken connection (or an `unavailable` or garbled answer). */
static unsigned retry_limit(const eligc_conn *c) {
    return c->lost ? retry_max(c) : (unsigned)c->n_servers;
}

/* Before attempt number c->tries: the first attempt of each round after
 * the first (and its extra try) waits BACKOFF_FIRST_MS << (round - 1), at
 * most BACKOFF_MAX_MS. */
static void backoff(const eligc_conn *c) {
    if (c->tries <= c->n_servers || (c->tries - 1) % c->n_servers != 0)
        return;
    size_t round = (c->tries - 1) / c->n_servers;
    long ms = round > 6 ? BACKOFF_MAX_MS : (long)BACKOFF_FIRST_MS << (round - 1);
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Connects to the next server that accepts, counting failures since the
 * last answer; when the retry limit is reached, fails the live requests. */
static int reconnect(eligc_conn *c) {
    char why[256], last[300] = "", msg[512];
    while (c->tries < retry_limit(c)) {
        if (c->lost)
            backoff(c);
        if (connect_one(c, why, sizeof why) == 0)
            return 0;
        snprintf(last, sizeof last, "cannot connect to %s: %s", c->servers[c->cur], why);
        c->tries++;
        next_server(c);
    }
    if (c->lost) {
        snprintf(msg, sizeof msg, "%s; no other server took over (%s)", c->lost_msg, last);
        return fail_live(c, ELIGC_ECONNLOST, msg);
    }
    return fail_live(c, ELIGC_ECONNECT, last);
}

/* The connection broke: drop it and move on to the next server. */
static void broken(eligc_conn *c, const char *why) {
    snprintf(c->lost_msg, sizeof c->lost_msg, "connection lost: %s: %s", c->servers[c->cur], why);
    bool reload = c->q_done < c->q_len && q_at(c, c->q_done)->method == ELIG_METHOD_RELOAD;
    close_fd(c);
    drop_partial(c);
    c->tries++;
    c->lost = true;
    next_server(c);
    if (reload) { /* never sent again: to another server it would reload that one */
        char msg[300];
        snprintf(msg, sizeof msg, "%s; a reload is not sent again: ask the server whether it reloaded",
                 c->lost_msg);
        fail_live(c, ELIGC_ECONNLOST, msg);
    }
}

/* Whether the oldest live request may be sent again after an
 * `unavailable` or garbled answer: not a reload, and within retry_max for
 * the request and for the handle (whose next reconnect would otherwise
 * fail it as a lost connection, hiding why). Counts it. */
static bool may_resend(eligc_conn *c) {
    if (c->q_done == c->q_len)
        return false;
    req *r = q_at(c, c->q_done);
    if (r->method == ELIG_METHOD_RELOAD || r->resent + 1u >= retry_max(c) ||
        c->tries + 1u >= retry_max(c))
        return false;
    r->resent++;
    return true;
}

/* What came back is not a valid answer: the connection is dropped and the
 * live requests go to the next server (their first one charged), until
 * the retry limit; then they fail with EPROTO. */
static int protocol_error(eligc_conn *c, const char *why) {
    char msg[512];
    if (may_resend(c)) {
        char brief[160]; /* fits broken()'s message with the server's name */
        snprintf(brief, sizeof brief, "protocol error: %s", why);
        broken(c, brief);
        return 0;
    }
    snprintf(msg, sizeof msg, "protocol error: %s: %s", c->servers[c->cur], why);
    int rc = fail_live(c, ELIGC_EPROTO, msg);
    next_server(c);
    return rc;
}

/* Whether the response at p answers error 5 `unavailable`; its message
 * into msg[cap]. */
static bool is_unavailable(const mpr_cur *err, char *msg, size_t cap) {
    int64_t code;
    return eligc__dec_error(err, &code, msg, cap) == 1 && code == ELIG_ERRCODE_UNAVAILABLE;
}

/* ---- moving bytes ------------------------------------------------------ */

/* Frames the responses read so far, each matched to the next live
 * request. 0, or a protocol error (live requests failed). */
static int frame_answers(eligc_conn *c) {
    while (c->in.len > c->in_framed) {
        if (c->q_done == c->q_len)
            return protocol_error(c, "data that answers no request");
        const uint8_t *p = (const uint8_t *)c->in.p + c->in_framed;
        long n = mpr_scan_next(&c->scan, p, c->in.len - c->in_framed, c->max_message);
        if (n == MPR_NEED_MORE)
            return 0;
        if (n < 0)
            return protocol_error(c, "not msgpack, or a message over the size limit");
        uint32_t msgid;
        mpr_cur err, res;
        req *r = q_at(c, c->q_done);
        if (!mpr_rpc_response(p, (size_t)n, &msgid, &err, &res))
            return protocol_error(c, "a message that is not a msgpack-RPC response");
        if (msgid != r->msgid)
            return protocol_error(c, "response out of order");
        char emsg[120];
        if (is_unavailable(&err, emsg, sizeof emsg) && may_resend(c)) {
            char why[160];
            snprintf(why, sizeof why, "answered unavailable (%s)", emsg);
            broken(c, why); /* this request and the rest go to the next server */
            return 0;
        }
        r->msg_len = (uint32_t)n;
        c->log_head = r->log_end;
        c->q_done++;
        c->in_framed += (size_t)n;
        mpr_scan_reset(&c->scan);
        c->tries = 0;
        c->lost = false;
    }
    return 0;
}

/* Moves collected answers out of the input buffer's way. */
static void compact_in(eligc_conn *c) {
    if (c->in_off == 0)
        return;
    memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_framed -= c->in_off;
    c->in_off = 0;
}

/* Room to read: false when the framed answers waiting to be collected
 * already fill the input limit (the caller must collect some). */
static bool can_read(const eligc_conn *c) {
    return c->in.len - c->in_off < IN_LIMIT + c->max_message;
}

/* Reads what the socket has. 1 progress or nothing yet, 0 closed (broken()
 * called), or a protocol error. */
static int do_read(eligc_conn *c) {
    if (c->in_off > 0 && (c->in_off == c->in.len || c->in_off > c->in.cap / 2))
        compact_in(c);
    if (eligc__buf_reserve(&c->in, READ_CHUNK) != 0)
        return fail_live(c, ELIGC_ENOMEM, "out of memory for answers");
    ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 1;
    if (n <= 0) {
        broken(c, n == 0 ? "closed by the server" : strerror(errno));
        return 0;
    }
    c->in.len += (size_t)n;
    int rc = frame_answers(c);
    return rc ? rc : 1;
}

/* Writes what the socket takes. 1 wrote or would block, 0 broken. */
static int do_write(eligc_conn *c) {
    size_t off = (size_t)(c->wpos - c->log_base);
    ssize_t n = send(c->fd, c->log.p + off, c->log.len - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 1;
    if (n < 0) {
        broken(c, strerror(errno));
        return 0;
    }
    c->wpos += (uint64_t)n;
    return 1;
}

/* Drops log bytes of requests that have been answered or failed. */
static void compact_log(eligc_conn *c) {
    size_t dead = (size_t)(c->log_head - c->log_base);
    if (dead == c->log.len) {
        c->log.len = 0;
        c->log_base = c->log_head;
    } else if (dead > FLUSH_AT && dead > c->log.len / 2) {
        memmove(c->log.p, c->log.p + dead, c->log.len - dead);
        c->log.len -= dead;
        c->log_base = c->log_head;
    }
}

enum goal {
    GOAL_HEAD,    /* the oldest request is answered or failed */
    GOAL_FLUSHED, /* every live request is written */
    GOAL_LOW,     /* less than FLUSH_AT is waiting to be written */
};

static bool goal_met(const eligc_conn *c, enum goal g) {
    if (g == GOAL_HEAD)
        return c->q_done > 0;
    if (live_count(c) == 0)
        return true;
    uint64_t unwritten = c->fd < 0 ? log_end(c) - c->log_head : log_end(c) - c->wpos;
    return g == GOAL_FLUSHED ? unwritten == 0 : unwritten < FLUSH_AT;
}

/* Connects, writes and reads until goal g is met. Waits at most the
 * request timeout without progress (an answer, or bytes written); on
 * timeout the live requests fail and the next attempt starts at the next
 * server. 0 or the error that failed the live requests. */
static int pump(eligc_conn *c, enum goal g) {
    int64_t deadline = now_ms() + c->request_timeout_ms;
    for (;;) {
        if (goal_met(c, g))
            return 0;
        if (c->fd < 0) {
            int rc = reconnect(c);
            if (rc)
                return rc;
            deadline = now_ms() + c->request_timeout_ms;
            continue;
        }
        struct pollfd p = {.fd = c->fd};
        if (c->wpos < log_end(c))
            p.events |= POLLOUT;
        if (can_read(c))
            p.events |= POLLIN;
        int left = (int)(deadline - now_ms());
        int n = left > 0 ? poll(&p, 1, left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "timeout: no answer from %s within %d ms%s",
                     c->servers[c->cur], c->request_timeout_ms,
                     can_read(c) ? "" : " (too many answers left uncollected)");
            int rc = fail_live(c, ELIGC_ETIMEOUT, msg);
            next_server(c);
            return rc;
        }
        size_t done = c->q_done;
        uint64_t wpos = c->wpos;
        int rc = 1;
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
            rc = do_read(c);
        if (rc == 1 && c->fd >= 0 && (p.revents & POLLOUT))
            rc = do_write(c);
        if (rc < 0)
            return rc;
        if (c->q_done != done || c->wpos != wpos)
            deadline = now_ms() + c->request_timeout_ms;
        compact_log(c);
    }
}

/* ---- the internal interface -------------------------------------------- */

int eligc__send_begin(eligc_conn *c, eligc__sending *s) {
    if (c->q_len >= c->max_pending)
        return eligc__seterr(c, ELIGC_EFULL,
                             "pipeline full: %zu requests queued; receive answers first",
                             c->q_len);
    if (c->q_len == c->q_cap) { /* grow the ring, keeping order */
        size_t cap = c->q_cap ? c->q_cap * 2 : 64;
        req *q = malloc(cap * sizeof *q);
        if (!q)
            return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
        for (size_t i = 0; i < c->q_len; i++)
            q[i] = *q_at(c, i);
        free(c->q);
        c->q = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    s->buf = &c->log;
    s->mark = c->log.len;
    s->msgid = c->next_msgid;
    return 0;
}

int eligc__send_end(eligc_conn *c, eligc__sending *s, int enc_rc, elig_method m,
                    uint32_t n_items) {
    if (enc_rc != 0) {
        c->log.len = s->mark;
        return eligc__seterr(c, enc_rc, "%s", eligc_strerror(enc_rc));
    }
    c->next_msgid++;
    req *r = q_at(c, c->q_len);
    *r = (req){.log_end = log_end(c), .msgid = s->msgid, .n_items = n_items, .method = (uint8_t)m};
    c->q_len++;
    if (c->fd >= 0 && log_end(c) - c->wpos >= FLUSH_AT)
        pump(c, GOAL_LOW); /* errors reach the caller through the receives */
    return 0;
}

int eligc__flush(eligc_conn *c) { return pump(c, GOAL_FLUSHED); }

/* Takes the oldest request off the queue. */
static void q_pop(eligc_conn *c) {
    c->q_head = (c->q_head + 1) & (c->q_cap - 1);
    c->q_len--;
    c->q_done--;
}

/* The answer at in_off: server error or result. */
static int take_answer(eligc_conn *c, const req *r, mpr_cur *result) {
    const uint8_t *p = (const uint8_t *)c->in.p + c->in_off;
    uint32_t msgid;
    mpr_cur err;
    c->in_off += r->msg_len;
    mpr_rpc_response(p, r->msg_len, &msgid, &err, result); /* checked when framed */
    int64_t code;
    char msg[400];
    if (eligc__dec_error(&err, &code, msg, sizeof msg) == 0)
        return 0;
    eligc__seterr(c, ELIGC_ESERVER, "server error code %lld: %s", (long long)code, msg);
    c->server_code = (int)code;
    return ELIGC_ESERVER;
}

int eligc__recv(eligc_conn *c, elig_method m, uint32_t n_items, mpr_cur *result) {
    if (c->q_len == 0)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: no request is waiting for an answer");
    req *r = q_at(c, 0);
    if (r->method != m || r->n_items != n_items)
        return eligc__seterr(c, ELIGC_EBADARG,
                             "bad argument: the next answer is for a %s request of %u items",
                             elig_method_name((elig_method)r->method), r->n_items);
    if (c->q_done == 0)
        pump(c, GOAL_HEAD); /* the head is answered or failed after this */
    req head = *r;
    q_pop(c);
    if (head.err)
        return eligc__seterr(c, head.err, "%s", c->fail_msg);
    return take_answer(c, &head, result);
}

/* ---- public: handle life ---------------------------------------------- */

int eligc_open(const eligc_options *opt, eligc_conn **out) {
    eligc_conn *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return ELIGC_ENOMEM;
    c->fd = -1;
    c->next_msgid = 1;
    int rc = apply_options(c, opt);
    if (rc)
        return rc;
    char why[256];
    for (size_t i = 0; i < c->n_servers; i++) {
        if (connect_one(c, why, sizeof why) == 0)
            return 0;
        eligc__seterr(c, ELIGC_ECONNECT, "cannot connect to %s: %s", c->servers[c->cur], why);
        next_server(c);
    }
    return ELIGC_ECONNECT;
}

void eligc_close(eligc_conn *c) {
    if (!c)
        return;
    close_fd(c);
    for (size_t i = 0; i < c->n_servers; i++)
        free(c->servers[i]);
    free(c->servers);
    free(c->q);
    eligc__buf_free(&c->log);
    eligc__buf_free(&c->in);
    free(c);
}

const char *eligc_errmsg(const eligc_conn *c) { return c ? c->errmsg : "no handle"; }

int eligc_server_code(const eligc_conn *c) { return c ? c->server_code : 0; }

const char *eligc_server(const eligc_conn *c) {
    return c && c->fd >= 0 ? c->servers[c->cur] : NULL;
}

size_t eligc_pending(const eligc_conn *c) { return c ? c->q_len : 0; }
