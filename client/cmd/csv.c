/* csv.c — RFC 4180 records for `elig batch`.
 *
 * Quoted fields with embedded commas, quotes ("") and line breaks; CRLF or
 * LF; a UTF-8 BOM at the start and empty lines skipped, as for the snapshot
 * CSVs (SPEC 1). A record with broken quoting is returned flagged, so the
 * caller can report its line and go on. Records are parsed from a buffer
 * refilled with read(); a record cut by the end of the buffer is parsed
 * again once more bytes are in, which only happens at buffer boundaries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

#define READ_SIZE (256 * 1024)

struct csv_reader {
    int fd;
    char *buf;
    size_t pos, len, cap; /* unparsed bytes are buf[pos, len) */
    uint64_t base;        /* input offset of buf[0] */
    bool eof, began;
    unsigned long line; /* physical line of buf[pos] */

    /* the current record's fields, NUL-terminated, back to back */
    char *fb;
    size_t fblen, fbcap;
    size_t *off, *flen;
    size_t *roff, *rlen; /* raw spans, relative to the record's first byte */
    char **ptr;
    size_t nf, nfcap;
};

csv_reader *csv_open(int fd) {
    csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = fd;
    r->line = 1;
    return r;
}

void csv_close(csv_reader *r) {
    if (!r)
        return;
    free(r->buf);
    free(r->fb);
    free(r->off);
    free(r->flen);
    free(r->roff);
    free(r->rlen);
    free(r->ptr);
    free(r);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    return q;
}

/* Reads more input after the unparsed bytes. 0, or -1 on a read error. */
static int refill(csv_reader *r) {
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->base += r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < READ_SIZE) {
        r->cap = r->cap ? r->cap * 2 : 2 * READ_SIZE;
        r->buf = xrealloc(r->buf, r->cap);
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            r->eof = true;
        r->len += (size_t)n;
        return 0;
    }
}

static void fb_put(csv_reader *r, char c) {
    if (r->fblen == r->fbcap) {
        r->fbcap = r->fbcap ? r->fbcap * 2 : 256;
        r->fb = xrealloc(r->fb, r->fbcap);
    }
    r->fb[r->fblen++] = c;
}

static void field_begin(csv_reader *r, size_t at) {
    if (r->nf == r->nfcap) {
        r->nfcap = r->nfcap ? r->nfcap * 2 : 16;
        r->off = xrealloc(r->off, r->nfcap * sizeof *r->off);
        r->flen = xrealloc(r->flen, r->nfcap * sizeof *r->flen);
        r->roff = xrealloc(r->roff, r->nfcap * sizeof *r->roff);
        r->rlen = xrealloc(r->rlen, r->nfcap * sizeof *r->rlen);
        r->ptr = xrealloc(r->ptr, r->nfcap * sizeof *r->ptr);
    }
    r->roff[r->nf] = at - r->pos;
    r->off[r->nf++] = r->fblen;
}

/* Ends the current field; its raw bytes end before buf[at]. */
static void field_end(csv_reader *r, size_t at) {
    size_t i = r->nf - 1;
    r->flen[i] = r->fblen - r->off[i];
    r->rlen[i] = at - r->pos - r->roff[i];
    fb_put(r, '\0');
}

/* Length of the line terminator at p[i] (1 for LF, 2 for CRLF), 0 if none,
 * -1 if a CR is the last byte buffered and more may follow. */
static int eol_at(const csv_reader *r, size_t i) {
    if (r->buf[i] == '\n')
        return 1;
    if (r->buf[i] != '\r')
        return 0;
    if (i + 1 < r->len)
        return r->buf[i + 1] == '\n' ? 2 : 0;
    return r->eof ? 0 : -1;
}

/* Parses one record at pos. 1 complete (pos and line moved past it; *end
 * is where its bytes end, before the line terminator, and *eol whether
 * there was one), 0 when the buffer ends first and more input may come. */
static int parse_record(csv_reader *r, const char **bad, size_t *end, bool *eol_seen) {
    size_t i = r->pos;
    unsigned long lines = 0;
    r->fblen = r->nf = 0;
    *bad = NULL;
    *eol_seen = false;
    for (;;) { /* one field per turn */
        field_begin(r, i);
        bool quoted = i < r->len && r->buf[i] == '"';
        if (quoted) {
            i++;
            for (;;) {
                if (i >= r->len) {
                    if (!r->eof)
                        return 0;
                    *bad = "unterminated quoted field";
                    goto done;
                }
                char c = r->buf[i];
                if (c == '"') {
                    if (i + 1 >= r->len && !r->eof)
                        return 0;
                    if (i + 1 < r->len && r->buf[i + 1] == '"') {
                        fb_put(r, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (c == '\n')
                    lines++;
                fb_put(r, c);
                i++;
            }
        }
        /* Unquoted text, or what follows a closing quote. */
        for (;;) {
            if (i >= r->len) {
                if (!r->eof)
                    return 0;
                goto done;
            }
            char c = r->buf[i];
            if (c == ',')
                break;
            int eol = eol_at(r, i);
            if (eol < 0)
                return 0;
            if (eol > 0) {
                field_end(r, i);
                *end = i;
                *eol_seen = true;
                i += (size_t)eol;
                lines++;
                goto done;
            }
            if (quoted && !*bad)
                *bad = "text after a closing quote";
            else if (c == '"' && !*bad)
                *bad = "quote inside an unquoted field";
            fb_put(r, c);
            i++;
        }
        field_end(r, i);
        i++; /* the comma */
    }
done:
    if (!*eol_seen) { /* the input ended inside this record */
        field_end(r, i);
        *end = i;
    }
    r->pos = i;
    r->line += lines;
    return 1;
}

/* Skips a BOM at the very start and empty lines. 1 at a record, 0 at end
 * of input, -1 on read error. */
static int skip_blank(csv_reader *r) {
    for (;;) {
        if (r->len - r->pos < 3 && !r->eof && refill(r) != 0)
            return -1;
        if (!r->began) {
            if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
                r->pos += 3;
            if (r->len - r->pos >= 3 || r->eof)
                r->began = true;
            continue;
        }
        if (r->pos == r->len)
            return r->eof ? 0 : 1;
        int eol = eol_at(r, r->pos);
        if (eol < 0 && refill(r) != 0)
            return -1;
        if (eol < 0)
            continue;
        if (eol == 0)
            return 1;
        r->pos += (size_t)eol;
        r->line++;
    }
}

int csv_next(csv_reader *r, csv_record *rec) {
    for (;;) {
        int s = skip_blank(r);
        if (s <= 0)
            return s;
        if (r->pos == r->len) { /* need bytes to start a record */
            if (refill(r) != 0)
                return -1;
            continue;
        }
        const char *bad;
        unsigned long line = r->line;
        size_t start = r->pos, end;
        bool eol;
        if (parse_record(r, &bad, &end, &eol) == 0) {
            if (refill(r) != 0)
                return -1;
            continue;
        }
        for (size_t i = 0; i < r->nf; i++)
            r->ptr[i] = r->fb + r->off[i];
        rec->line = line;
        rec->n = r->nf;
        rec->field = r->ptr;
        rec->len = r->flen;
        rec->bad = bad;
        rec->raw = r->buf + start;
        rec->raw_len = end - start;
        rec->raw_off = r->roff;
        rec->raw_flen = r->rlen;
        rec->terminated = eol;
        rec->end = r->base + r->pos;
        return 1;
    }
}
