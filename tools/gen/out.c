/* out.c — buffered CSV output with write() and full error reporting. */
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void flush(gen_out *o) {
    size_t off = 0;
    while (off < o->len && !o->err) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            o->err = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    o->len = 0;
}

int gen_out_open(gen_out *o, const char *dir, const char *name, const char *header) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if ((size_t)snprintf(o->path, sizeof o->path, "%s/%s", dir, name) >= sizeof o->path) {
        o->err = ENAMETOOLONG;
        return -1;
    }
    o->buf = malloc(GEN_OUT_BUFSIZE);
    if (!o->buf) {
        o->err = ENOMEM;
        return -1;
    }
    o->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        o->err = errno;
        return -1;
    }
    size_t n = strlen(header);
    memcpy(o->buf, header, n);
    o->len = n;
    return 0;
}

char *gen_out_reserve(gen_out *o) {
    if (GEN_OUT_BUFSIZE - o->len < GEN_ROW_MAX)
        flush(o);
    return o->buf + o->len;
}

void gen_out_row(gen_out *o, const char *row, size_t n) {
    char *p = gen_out_reserve(o);
    memcpy(p, row, n);
    gen_out_commit(o, p + n);
}

int gen_out_close(gen_out *o) {
    if (o->fd >= 0) {
        flush(o);
        if (close(o->fd) != 0 && !o->err)
            o->err = errno;
        o->fd = -1;
    }
    free(o->buf);
    o->buf = NULL;
    return o->err ? -1 : 0;
}
