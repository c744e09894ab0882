/* fake_server.c — see fake_server.h. One thread, one connection at a time,
 * msgpack-c's unpacker for the requests (it is the test's independent
 * msgpack implementation), blocking writes (the client reads while it
 * writes, so they cannot deadlock). */
#include "fake_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <msgpack.h>

struct fake_server {
    fake_config cfg;
    char addr[128];
    int lfd;
    pthread_t thread;
    atomic_bool stop;
    atomic_uint answered, received, accepted;
};

static void pk_str(msgpack_packer *pk, const char *s, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_cstr(msgpack_packer *pk, const char *s) { pk_str(pk, s, strlen(s)); }

/* The answer map for a query object [kind, id, program, period]. */
static void pk_answer(fake_server *f, msgpack_packer *pk, const msgpack_object *q) {
    const msgpack_object *id = &q->via.array.ptr[1];
    char kk[17] = "0000000000000000";
    if (id->type == MSGPACK_OBJECT_STR && id->via.str.size == 16)
        memcpy(kk, id->via.str.ptr, 16);
    msgpack_pack_map(pk, 6);
    pk_cstr(pk, "eligible");
    msgpack_pack_true(pk);
    pk_cstr(pk, "reason");
    pk_cstr(pk, "eligible");
    pk_cstr(pk, "kk");
    pk_cstr(pk, kk);
    pk_cstr(pk, "region");
    pk_cstr(pk, "3171010001");
    pk_cstr(pk, "amount");
    msgpack_pack_uint32(pk, (uint32_t)strtoul(kk + 10, NULL, 10));
    pk_cstr(pk, "snapshot");
    pk_cstr(pk, f->cfg.name);
}

static void pk_result(fake_server *f, msgpack_packer *pk, const char *method, size_t mlen,
                      const msgpack_object *params) {
    if (mlen == 4 && memcmp(method, "ping", 4) == 0) {
        pk_cstr(pk, "pong");
    } else if (mlen == 5 && memcmp(method, "check", 5) == 0) {
        pk_answer(f, pk, params);
    } else if (mlen == 11 && memcmp(method, "check_batch", 11) == 0) {
        const msgpack_object *items = &params->via.array.ptr[0];
        msgpack_pack_array(pk, items->via.array.size);
        for (uint32_t i = 0; i < items->via.array.size; i++)
            pk_answer(f, pk, &items->via.array.ptr[i]);
    } else {
        msgpack_pack_nil(pk);
    }
}

/* Writes all of n bytes (one at a time when trickling). 0 or -1. */
static int write_all(fake_server *f, int fd, const char *p, size_t n) {
    while (n > 0) {
        size_t chunk = f->cfg.mode == FAKE_TRICKLE ? 1 : n;
        ssize_t w = send(fd, p, chunk, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Builds the response to one request object into sb. */
static void respond(fake_server *f, msgpack_sbuffer *sb, const msgpack_object *req) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    uint32_t msgid = (uint32_t)req->via.array.ptr[1].via.u64;
    const msgpack_object *m = &req->via.array.ptr[2];
    const char *method = m->via.str.ptr; /* str or bin: same layout */
    size_t mlen = m->via.str.size;
    if (f->cfg.mode == FAKE_NOTIFY) {
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int(&pk, 2);
        pk_cstr(&pk, "hello");
        msgpack_pack_array(&pk, 0);
    }
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint32(&pk, f->cfg.mode == FAKE_WRONG_ID ? msgid + 1 : msgid);
    if (f->cfg.mode == FAKE_ERROR || f->cfg.mode == FAKE_UNAVAILABLE) {
        bool unavailable = f->cfg.mode == FAKE_UNAVAILABLE;
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, unavailable ? 5 : 1);
        pk_cstr(&pk, unavailable ? "snapshot read failed" : "item 0: bad id");
        msgpack_pack_nil(&pk);
        return;
    }
    msgpack_pack_nil(&pk);
    pk_result(f, &pk, method, mlen, &req->via.array.ptr[3]);
}

/* Answers one request on fd. 1 go on, 0 close this connection, -1 die. */
static int handle(fake_server *f, int fd, const msgpack_object *req, unsigned *on_conn) {
    atomic_fetch_add(&f->received, 1);
    if (f->cfg.mode == FAKE_SILENT)
        return 1;
    if (f->cfg.mode == FAKE_GARBAGE)
        return write_all(f, fd, "\xc1\xc1\xc1\xc1", 4) == 0;
    if (f->cfg.mode == FAKE_HUGE)
        return write_all(f, fd, "\xdd\xff\xff\xff\xff", 5) == 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    respond(f, &sb, req);
    bool die = f->cfg.die_after && atomic_load(&f->answered) >= f->cfg.die_after;
    if (die) {
        if (f->cfg.half_answer)
            write_all(f, fd, sb.data, sb.size / 2);
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    /* Counted before the write: once the client has the answer, the
     * count includes it. */
    atomic_fetch_add(&f->answered, 1);
    int ok = write_all(f, fd, sb.data, sb.size) == 0;
    msgpack_sbuffer_destroy(&sb);
    (*on_conn)++;
    if (f->cfg.close_every && *on_conn % f->cfg.close_every == 0)
        return 0;
    return ok;
}

/* Serves one connection until it closes. Returns -1 if the server dies. */
static int serve(fake_server *f, int fd) {
    msgpack_unpacker up;
    msgpack_unpacker_init(&up, 65536);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    unsigned on_conn = 0;
    int rc = 0;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        msgpack_unpacker_reserve_buffer(&up, 65536);
        ssize_t n = recv(fd, msgpack_unpacker_buffer(&up), msgpack_unpacker_buffer_capacity(&up), 0);
        if (n <= 0)
            break;
        msgpack_unpacker_buffer_consumed(&up, (size_t)n);
        int h = 1;
        while (h == 1 && msgpack_unpacker_next(&up, &u) == MSGPACK_UNPACK_SUCCESS)
            h = handle(f, fd, &u.data, &on_conn);
        if (h <= 0) {
            rc = h;
            break;
        }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&up);
    close(fd);
    return rc;
}

static void *run(void *arg) {
    fake_server *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&f->accepted, 1);
        if (serve(f, fd) < 0) { /* dies: later connects are refused */
            close(f->lfd);
            f->lfd = -1;
            break;
        }
    }
    return NULL;
}

static int listen_tcp(fake_server *f) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%u", ntohs(sin.sin_port));
    return fd;
}

static int listen_unix(fake_server *f, const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 || listen(fd, 16) != 0)
        return -1;
    snprintf(f->addr, sizeof f->addr, "unix:%s", path);
    return fd;
}

fake_server *fake_start(const fake_config *cfg) {
    fake_server *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->cfg = *cfg;
    f->lfd = cfg->unix_path ? listen_unix(f, cfg->unix_path) : listen_tcp(f);
    if (f->lfd < 0 || pthread_create(&f->thread, NULL, run, f) != 0) {
        free(f);
        return NULL;
    }
    return f;
}

const char *fake_addr(const fake_server *f) { return f->addr; }
unsigned fake_answered(fake_server *f) { return atomic_load(&f->answered); }
unsigned fake_received(fake_server *f) { return atomic_load(&f->received); }
unsigned fake_accepted(fake_server *f) { return atomic_load(&f->accepted); }

void fake_stop(fake_server *f) {
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    if (f->lfd >= 0)
        close(f->lfd);
    if (f->cfg.unix_path)
        unlink(f->cfg.unix_path);
    free(f);
}

void fake_refused_addr(char buf[64]) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd); /* bound, never listened, closed: connects are refused */
    snprintf(buf, 64, "127.0.0.1:%u", ntohs(sin.sin_port));
}
