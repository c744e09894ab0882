/* out.h — a CSV output file written through one large buffer.
 *
 * Rows are formatted straight into the buffer (gen_out_reserve hands out
 * room, gen_out_commit takes it back) and reach the kernel in big write()s.
 * A write error is kept in the gen_out and stops further output; the caller
 * checks gen_out_failed once per family, reports it and exits. */
#ifndef GEN_OUT_H
#define GEN_OUT_H

#include <stddef.h>
#include <stdint.h>

#define GEN_OUT_BUFSIZE (4u << 20)
#define GEN_ROW_MAX 4096 /* no row the generator writes is longer */

typedef struct {
    int fd;
    char *buf;
    size_t len;
    uint64_t rows;  /* data rows, header excluded */
    int err;        /* errno of the first failure, 0 if none */
    char path[4096];
} gen_out;

/* Creates (truncates) dir/name and writes the header line. 0, or -1 with
 * o->err set. */
int gen_out_open(gen_out *o, const char *dir, const char *name, const char *header);

/* Room for up to GEN_ROW_MAX bytes; never NULL (after a failure the bytes
 * are discarded). */
char *gen_out_reserve(gen_out *o);

/* Ends a row that was formatted up to `end` (exclusive, '\n' included). */
static inline void gen_out_commit(gen_out *o, char *end) {
    o->len = (size_t)(end - o->buf);
    o->rows++;
}

/* Appends a ready-made row (with its '\n'). */
void gen_out_row(gen_out *o, const char *row, size_t n);

static inline int gen_out_failed(const gen_out *o) { return o->err != 0; }

/* Flushes and closes. 0, or -1 with o->err set. Frees the buffer either way. */
int gen_out_close(gen_out *o);

#endif /* GEN_OUT_H */
