/* csv.c — RFC 4180 record reader; see csv.h for the grammar.
 *
 * The hot path is the unquoted field: a table lookup per byte until one of
 * , \n \r " is found. Quoted fields jump from quote to quote with memchr.
 * Field values point into the input; only a field holding "" is copied
 * (unquoted into scratch) once the record is complete, so the scratch
 * buffer can grow without invalidating values already handed out. */
#include "csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bytes that end an unquoted run. */
static const unsigned char stop_byte[256] = {[','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1};

static uint64_t count_newlines(const char *p, size_t n) {
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

void csv_init(csv_reader *r, const char *buf, size_t len) {
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = len;
    r->line = 1;
    r->max_fields = SIZE_MAX;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        r->pos = 3;
}

void csv_free(csv_reader *r) {
    free(r->fields);
    free(r->escaped);
    free(r->scratch);
    r->fields = NULL;
    r->escaped = NULL;
    r->scratch = NULL;
    r->fields_cap = r->scratch_cap = 0;
}

void csv_set_max_fields(csv_reader *r, size_t n) { r->max_fields = n ? n : 1; }

void csv_seek(csv_reader *r, size_t off, uint64_t line) {
    r->pos = off < r->len ? off : r->len;
    r->line = line;
}

/* Room for field index i; false if out of memory. */
static bool reserve_field(csv_reader *r, size_t i) {
    if (i < r->fields_cap)
        return true;
    size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
    if (cap > r->max_fields)
        cap = r->max_fields;
    csv_field *f = realloc(r->fields, cap * sizeof *f);
    if (!f)
        return false;
    r->fields = f;
    unsigned char *e = realloc(r->escaped, cap);
    if (!e)
        return false;
    r->escaped = e;
    r->fields_cap = cap;
    return true;
}

/* Records a field value; false if out of memory. */
static bool add_field(csv_reader *r, csv_record *rec, const char *p, size_t n, bool escaped) {
    size_t i = rec->nfields++;
    if (i >= r->max_fields)
        return true;
    if (!reserve_field(r, i))
        return false;
    r->fields[i].p = p;
    r->fields[i].n = n;
    r->escaped[i] = escaped;
    return true;
}

/* Replaces each kept field holding "" by its unquoted copy in scratch. */
static bool unescape_fields(csv_reader *r, csv_record *rec) {
    size_t kept = rec->nfields < r->max_fields ? rec->nfields : r->max_fields;
    size_t need = 0;
    for (size_t i = 0; i < kept; i++)
        if (r->escaped[i])
            need += r->fields[i].n;
    if (need == 0)
        return true;
    if (need > r->scratch_cap) {
        char *s = realloc(r->scratch, need);
        if (!s)
            return false;
        r->scratch = s;
        r->scratch_cap = need;
    }
    char *out = r->scratch;
    for (size_t i = 0; i < kept; i++) {
        if (!r->escaped[i])
            continue;
        const char *p = r->fields[i].p, *end = p + r->fields[i].n;
        char *start = out;
        while (p < end) {
            *out++ = *p;
            p += (*p == '"') ? 2 : 1; /* inside a quoted field '"' comes doubled */
        }
        r->fields[i].p = start;
        r->fields[i].n = (size_t)(out - start);
    }
    return true;
}

/* A line terminator starts at i: LF, CRLF, or a CR that is the last byte
 * of the input (a CRLF file whose final LF was lost). A CR anywhere else is
 * data. Returns its length, or 0. */
static size_t terminator_at(const char *b, size_t len, size_t i) {
    if (i >= len)
        return 0;
    if (b[i] == '\n')
        return 1;
    if (b[i] == '\r')
        return i + 1 == len ? 1 : b[i + 1] == '\n' ? 2 : 0;
    return 0;
}

/* Ends the record at pos (the terminator, or the end of input) and steps
 * past the terminator. */
static void end_record(csv_reader *r, csv_record *rec, size_t start) {
    size_t end = r->pos;
    if (end < r->len) {
        r->pos += terminator_at(r->buf, r->len, end);
        r->line++;
    }
    rec->raw_len = end - start;
}

/* Broken quoting seen at errpos: the record runs to the next line
 * terminator (or the end of input). */
static void end_malformed(csv_reader *r, csv_record *rec, size_t start, size_t errpos, csv_error err) {
    rec->err = err;
    const char *nl = memchr(r->buf + errpos, '\n', r->len - errpos);
    if (!nl) {
        r->pos = r->len;
        rec->raw_len = r->len - start;
        return;
    }
    size_t end = (size_t)(nl - r->buf);
    r->pos = end + 1;
    r->line++;
    if (end > errpos && r->buf[end - 1] == '\r')
        end--;
    rec->raw_len = end - start;
}

/* A quote still open at the end of input: the record is the rest of the
 * input, less a final line terminator. */
static void end_unterminated(csv_reader *r, csv_record *rec, size_t start) {
    size_t end = r->len;
    if (end > start && r->buf[end - 1] == '\n') {
        end--;
        if (end > start && r->buf[end - 1] == '\r')
            end--;
    }
    r->line += count_newlines(r->buf + r->pos, r->len - r->pos);
    r->pos = r->len;
    rec->err = CSV_UNTERMINATED_QUOTE;
    rec->raw_len = end - start;
}

/* Skips empty lines; false at the end of input. */
static bool skip_empty_lines(csv_reader *r) {
    const char *b = r->buf;
    while (r->pos < r->len) {
        size_t t = terminator_at(b, r->len, r->pos);
        if (!t)
            return true;
        r->pos += t;
        r->line++;
    }
    return false;
}

/* What follows a field: */
enum { NEXT_FIELD, END_RECORD, BAD };

/* Parses a quoted field at pos (on its opening quote). */
static int quoted_field(csv_reader *r, csv_record *rec, size_t start, bool *oom) {
    const char *b = r->buf;
    size_t vstart = ++r->pos;
    bool escaped = false;
    for (;;) {
        const char *q = memchr(b + r->pos, '"', r->len - r->pos);
        if (!q) {
            end_unterminated(r, rec, start);
            return BAD;
        }
        size_t qi = (size_t)(q - b);
        r->line += count_newlines(b + r->pos, qi - r->pos);
        r->pos = qi + 1;
        if (r->pos < r->len && b[r->pos] == '"') {
            escaped = true;
            r->pos++;
            continue;
        }
        break;
    }
    if (!add_field(r, rec, b + vstart, r->pos - 1 - vstart, escaped))
        *oom = true;
    if (r->pos >= r->len)
        return END_RECORD;
    char c = b[r->pos];
    if (c == ',') {
        r->pos++;
        return NEXT_FIELD;
    }
    if (terminator_at(b, r->len, r->pos))
        return END_RECORD;
    end_malformed(r, rec, start, r->pos, CSV_TEXT_AFTER_QUOTE);
    return BAD;
}

/* Parses an unquoted field at pos. */
static int unquoted_field(csv_reader *r, csv_record *rec, size_t start, bool *oom) {
    const unsigned char *b = (const unsigned char *)r->buf;
    size_t vstart = r->pos, i = r->pos, len = r->len;
    for (;;) {
        while (i < len && !stop_byte[b[i]])
            i++;
        if (i < len && b[i] == '\r' && !terminator_at(r->buf, len, i)) {
            i++; /* a lone CR is data */
            continue;
        }
        break;
    }
    r->pos = i;
    if (i < len && b[i] == '"') {
        end_malformed(r, rec, start, i, CSV_QUOTE_IN_UNQUOTED);
        return BAD;
    }
    if (!add_field(r, rec, r->buf + vstart, i - vstart, false))
        *oom = true;
    if (i < len && b[i] == ',') {
        r->pos++;
        return NEXT_FIELD;
    }
    return END_RECORD;
}

int csv_next(csv_reader *r, csv_record *rec) {
    if (!skip_empty_lines(r))
        return 0;
    size_t start = r->pos;
    rec->raw = r->buf + start;
    rec->offset = start;
    rec->line = r->line;
    rec->nfields = 0;
    rec->err = CSV_OK;
    bool oom = false;
    int next;
    do {
        if (r->pos < r->len && r->buf[r->pos] == '"')
            next = quoted_field(r, rec, start, &oom);
        else
            next = unquoted_field(r, rec, start, &oom);
    } while (next == NEXT_FIELD);
    if (next == END_RECORD)
        end_record(r, rec, start);
    if (oom || !unescape_fields(r, rec))
        return -1;
    rec->field = r->fields;
    return 1;
}
