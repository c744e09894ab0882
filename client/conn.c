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
#include "offline.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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

    /* TLS and credentials (SPEC 6) */
    SSL_CTX *tls_ctx; /* NULL: plain TCP */
    BIO_METHOD *bio_meth; /* sockets for OpenSSL that never raise SIGPIPE */
    SSL *ssl;         /* on the connection now, when TLS */
    char *channel;    /* NULL: no auth */
    char *token;      /* wiped and freed on close */
    bool auth_refused; /* the last connection attempt failed at auth or TLS */

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

    eligc__offline *offline; /* answers from an extract (SPEC 10), or NULL */
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

int eligc__request_timeout_ms(const eligc_conn *c) { return c->request_timeout_ms; }

/* ---- options ----------------------------------------------------------- */

void eligc_options_env(eligc_options *opt) {
    const char *ch = getenv("ELIG_CHANNEL"), *tf = getenv("ELIG_TOKEN_FILE");
    if (ch && *ch)
        opt->channel = ch;
    if (tf && *tf)
        opt->token_file = tf;
}

void eligc_options_init(eligc_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->size = sizeof *opt;
    opt->connect_timeout_ms = 2000;
    opt->request_timeout_ms = 5000;
    opt->max_pending = 65536;
    opt->max_message = 16 * 1024 * 1024;
    opt->batch_max = ELIG_WIRE_MAX_BATCH;
    opt->offline_retry_ms = 30000;
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

static int tls_setup(eligc_conn *c, const eligc_options *o);
static int load_credentials(eligc_conn *c, const eligc_options *o);

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
    int rc = copy_servers(c, &o);
    if (rc == 0 && o.tls)
        rc = tls_setup(c, &o);
    if (rc == 0)
        rc = load_credentials(c, &o);
    if (rc == 0)
        rc = eligc__offline_new(c, &o, &c->offline);
    return rc;
}

/* ---- connecting -------------------------------------------------------- */

static void close_fd(eligc_conn *c) {
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
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

/* ---- TLS and credentials (SPEC 6) -------------------------------------- */

/* The first error OpenSSL queued, as text (and the queue cleared). */
static void ssl_reason(char *out, size_t n) {
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(out, n, "%s", r ? r : "TLS error");
    ERR_clear_error();
}

/* OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE on
 * a connection the server has dropped; the library promises never to.
 * This BIO does the same with send(MSG_NOSIGNAL) and recv. The fd is the
 * BIO's data; the method belongs to the handle (no global state). */
static int nosig_write(BIO *b, const char *p, int n) {
    ssize_t r = send((int)(intptr_t)BIO_get_data(b), p, (size_t)n, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)r;
}

static int nosig_read(BIO *b, char *p, int n) {
    ssize_t r = recv((int)(intptr_t)BIO_get_data(b), p, (size_t)n, 0);
    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)r;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

/* The client context: TLS 1.2+, the server verified against tls_ca (or
 * the system's CAs), our certificate if given. */
static int tls_setup(eligc_conn *c, const eligc_options *o) {
    char why[160];
    const char *bad = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory for TLS");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    if (o->tls_ca ? SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1
                  : SSL_CTX_set_default_verify_paths(ctx) != 1)
        bad = o->tls_ca ? o->tls_ca : "the system's CA certificates";
    else if (o->tls_cert && SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1)
        bad = o->tls_cert;
    else if (o->tls_cert && SSL_CTX_use_PrivateKey_file(ctx, o->tls_key ? o->tls_key : o->tls_cert,
                                                        SSL_FILETYPE_PEM) != 1)
        bad = o->tls_key ? o->tls_key : o->tls_cert;
    else if (o->tls_cert && SSL_CTX_check_private_key(ctx) != 1)
        bad = "tls_key does not match tls_cert:";
    if (bad) {
        ssl_reason(why, sizeof why);
        SSL_CTX_free(ctx);
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: TLS: %s: %s", bad, why);
    }
    c->tls_ctx = ctx;
    if (!(c->bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "eligc socket")) ||
        !BIO_meth_set_write(c->bio_meth, nosig_write) || !BIO_meth_set_read(c->bio_meth, nosig_read) ||
        !BIO_meth_set_ctrl(c->bio_meth, nosig_ctrl) || !BIO_meth_set_create(c->bio_meth, nosig_create))
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory for TLS");
    return 0;
}

/* The token from o->token or the first line of o->token_file. */
static int load_credentials(eligc_conn *c, const eligc_options *o) {
    if (!o->channel)
        return 0;
    if (!*o->channel || strlen(o->channel) > 64)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: channel name must be 1-64 characters");
    if (!(c->channel = strdup(o->channel)))
        return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
    if (o->token) {
        if (!(c->token = strdup(o->token)))
            return eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
        return 0;
    }
    if (!o->token_file)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: channel %s has no token or token_file",
                             o->channel);
    FILE *f = fopen(o->token_file, "r");
    if (!f)
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: token file %s: %s", o->token_file,
                             strerror(errno));
    char line[1100];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    line[n] = '\0';
    if (n == 0 || n > 1024) {
        OPENSSL_cleanse(line, sizeof line);
        return eligc__seterr(c, ELIGC_EBADARG, "bad argument: token file %s: %s", o->token_file,
                             n ? "first line longer than 1024 bytes" : "empty first line");
    }
    c->token = strdup(line);
    OPENSSL_cleanse(line, sizeof line);
    return c->token ? 0 : eligc__seterr(c, ELIGC_ENOMEM, "out of memory");
}

/* Waits until fd is ready for ev or the deadline: 1, 0 on timeout, -1. */
static int wait_fd(int fd, short ev, int64_t deadline) {
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return 0;
        int n = poll(&p, 1, left);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : n > 0;
    }
}

/* TLS on the connected fd, verifying the server's certificate and that it
 * names HOST. 0 or -1 with why set. */
static int tls_handshake(eligc_conn *c, const char *server, char *why, size_t whylen, int64_t deadline) {
    char host[256];
    const char *colon = strrchr(server, ':');
    size_t hn = (size_t)(colon - server);
    if (server[0] == '[')
        server++, hn -= 2;
    if (hn >= sizeof host)
        hn = sizeof host - 1;
    memcpy(host, server, hn);
    host[hn] = '\0';
    BIO *bio = NULL;
    if (!(c->ssl = SSL_new(c->tls_ctx)) || !(bio = BIO_new(c->bio_meth))) {
        snprintf(why, whylen, "out of memory for TLS");
        return -1;
    }
    BIO_set_data(bio, (void *)(intptr_t)c->fd);
    SSL_set_bio(c->ssl, bio, bio); /* the SSL owns it */
    /* A host given as an IP address is checked against the certificate's
     * IP addresses, a name against its DNS names (and sent as SNI). */
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) != 1) {
        ERR_clear_error();
        SSL_set_tlsext_host_name(c->ssl, host);
        SSL_set1_host(c->ssl, host);
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w == 1)
                continue;
            snprintf(why, whylen, "TLS handshake: %s", w == 0 ? "timed out" : strerror(errno));
            return -1;
        }
        long v = SSL_get_verify_result(c->ssl);
        char reason[160];
        ssl_reason(reason, sizeof reason);
        if (v != X509_V_OK)
            snprintf(why, whylen, "TLS: server certificate not accepted: %s", X509_verify_cert_error_string(v));
        else
            snprintf(why, whylen, "TLS handshake failed: %s", e == SSL_ERROR_SYSCALL ? "connection closed" : reason);
        c->auth_refused = true;
        return -1;
    }
}

/* recv through TLS when on: > 0 bytes, 0 closed, -1 nothing now, -2
 * failed (errno, or why in c->lost_msg). */
static ssize_t io_recv(eligc_conn *c, void *p, size_t n) {
    if (!c->ssl) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return -1;
        return r < 0 ? -2 : r;
    }
    ERR_clear_error();
    int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        return errno ? -2 : 0;
    default:
        errno = EPROTO;
        return -2;
    }
}

static ssize_t io_send(eligc_conn *c, const void *p, size_t n) {
    if (!c->ssl) {
        ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return -1;
        return r < 0 ? -2 : r;
    }
    if (n == 0)
        return 0;
    ERR_clear_error();
    int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -1;
    if (e != SSL_ERROR_SYSCALL || !errno)
        errno = EPROTO;
    return -2;
}

/* auth [channel, token] on the new connection, before anything else is
 * written to it. 0, or -1 with why set. */
static int authenticate(eligc_conn *c, char *why, size_t whylen, int64_t deadline) {
    eligc__buf out = {0}, in = {0};
    int rc = -1;
    if (eligc__enc_auth(&out, UINT32_MAX, c->channel, c->token) != 0) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    for (size_t off = 0; off < out.len;) {
        ssize_t n = io_send(c, out.p + off, out.len - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n == -1 && wait_fd(c->fd, POLLOUT, deadline) == 1) {
            continue;
        } else {
            snprintf(why, whylen, "auth: %s", n == -1 ? "timed out" : strerror(errno));
            goto done;
        }
    }
    mpr_scan scan;
    mpr_scan_reset(&scan);
    long size = MPR_NEED_MORE;
    while (size == MPR_NEED_MORE) {
        if (eligc__buf_reserve(&in, 4096) != 0) {
            snprintf(why, whylen, "out of memory");
            goto done;
        }
        ssize_t n = io_recv(c, in.p + in.len, in.cap - in.len);
        if (n == -1 && (c->ssl && SSL_pending(c->ssl) ? 1 : wait_fd(c->fd, POLLIN, deadline)) == 1)
            continue;
        if (n <= 0) {
            snprintf(why, whylen, "auth: %s", n == 0 ? "closed by the server" : n == -1 ? "no answer in time" : strerror(errno));
            goto done;
        }
        in.len += (size_t)n;
        size = mpr_scan_next(&scan, (const uint8_t *)in.p, in.len, 64 * 1024);
    }
    uint32_t msgid;
    mpr_cur err, res;
    int64_t code;
    char msg[100];
    bool yes = false;
    if (size < 0 || !mpr_rpc_response((const uint8_t *)in.p, (size_t)size, &msgid, &err, &res) ||
        msgid != UINT32_MAX) {
        snprintf(why, whylen, "auth: not a msgpack-RPC response");
    } else if (eligc__dec_error(&err, &code, msg, sizeof msg) != 0) {
        snprintf(why, whylen, "auth as channel %s refused: server error code %lld: %s", c->channel,
                 (long long)code, msg);
        c->auth_refused = true;
    } else if (!mpr_bool(&res, &yes) || !yes) {
        snprintf(why, whylen, "auth: the answer is not true");
    } else {
        rc = 0;
    }
done:
    OPENSSL_cleanse(out.p, out.cap);
    eligc__buf_free(&out);
    eligc__buf_free(&in);
    return rc;
}

/* One attempt at servers[cur]: connect, TLS, auth. 0, or -1 with the
 * reason in why. */
static int connect_one(eligc_conn *c, char *why, size_t whylen) {
    const char *s = c->servers[c->cur];
    int fd, err = 0;
    bool is_unix = strncmp(s, "unix:", 5) == 0;
    int64_t deadline = now_ms() + c->connect_timeout_ms;
    c->auth_refused = false;
    if (is_unix) {
        fd = connect_unix(s + 5, c->connect_timeout_ms, &err);
        if (fd < 0)
            snprintf(why, whylen, "%s", strerror(err));
    } else {
        fd = connect_tcp(s, c->connect_timeout_ms, why, whylen);
    }
    if (fd < 0)
        return -1;
    c->fd = fd;
    if ((c->tls_ctx && !is_unix && tls_handshake(c, s, why, whylen, deadline) != 0) ||
        (c->channel && authenticate(c, why, whylen, deadline) != 0)) {
        close_fd(c);
        return -1;
    }
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
 * last answer; when the retry limit is reached, fails the live requests.
 * A server that refused the credentials or the TLS handshake ends the
 * retrying at the end of the first round: that is no passing trouble, and
 * every refused auth counts against the channel at the server. */
static int reconnect(eligc_conn *c) {
    char why[256], last[300] = "", msg[512];
    bool refused = false;
    while (c->tries < (refused ? c->n_servers + (c->lost ? 1u : 0u) : retry_limit(c))) {
        if (c->lost)
            backoff(c);
        if (connect_one(c, why, sizeof why) == 0)
            return 0;
        refused = refused || c->auth_refused;
        snprintf(last, sizeof last, "cannot connect to %s: %s", c->servers[c->cur], why);
        c->tries++;
        next_server(c);
    }
    if (c->lost) {
        snprintf(msg, sizeof msg, "%s; no other server took over (%s)", c->lost_msg, last);
        return fail_live(c, c->auth_refused ? ELIGC_EAUTH : ELIGC_ECONNLOST, msg);
    }
    return fail_live(c, c->auth_refused ? ELIGC_EAUTH : ELIGC_ECONNECT, last);
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
    ssize_t n = io_recv(c, c->in.p + c->in.len, c->in.cap - c->in.len);
    if (n == -1)
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
    ssize_t n = io_send(c, c->log.p + off, c->log.len - off);
    if (n == -1)
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
        int n;
        if (c->ssl && SSL_pending(c->ssl) > 0 && (p.events & POLLIN)) {
            n = 1; /* decrypted bytes wait inside TLS: the socket would not say so */
            p.revents = POLLIN;
        } else {
            n = left > 0 ? poll(&p, 1, left) : 0;
        }
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
    bool refused = false;
    for (size_t i = 0; i < c->n_servers; i++) {
        if (connect_one(c, why, sizeof why) == 0)
            return 0;
        refused = refused || c->auth_refused;
        eligc__seterr(c, ELIGC_ECONNECT, "cannot connect to %s: %s", c->servers[c->cur], why);
        next_server(c);
    }
    if (refused) { /* the message is the last server's */
        char last[sizeof c->errmsg];
        memcpy(last, c->errmsg, sizeof last);
        return eligc__seterr(c, ELIGC_EAUTH, "%s", last);
    }
    return ELIGC_ECONNECT;
}

void eligc_close(eligc_conn *c) {
    if (!c)
        return;
    close_fd(c);
    SSL_CTX_free(c->tls_ctx);
    BIO_meth_free(c->bio_meth);
    free(c->channel);
    if (c->token) {
        OPENSSL_cleanse(c->token, strlen(c->token));
        free(c->token);
    }
    for (size_t i = 0; i < c->n_servers; i++)
        free(c->servers[i]);
    free(c->servers);
    eligc__offline_free(c->offline);
    free(c->q);
    eligc__buf_free(&c->log);
    eligc__buf_free(&c->in);
    free(c);
}

const char *eligc_errmsg(const eligc_conn *c) { return c ? c->errmsg : "no handle"; }

eligc__offline *eligc__offline_of(const eligc_conn *c) { return c->offline; }

int eligc_server_code(const eligc_conn *c) { return c ? c->server_code : 0; }

const char *eligc_server(const eligc_conn *c) {
    return c && c->fd >= 0 ? c->servers[c->cur] : NULL;
}

size_t eligc_pending(const eligc_conn *c) { return c ? c->q_len : 0; }
