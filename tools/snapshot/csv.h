/* csv.h — an RFC 4180 record reader over bytes in memory.
 *
 * Pure: the caller hands in the whole input (an mmapped file, a test
 * string); the reader does no I/O, keeps pointers into that input and
 * allocates only a scratch buffer for the rare field with doubled quotes.
 *
 * Grammar (SPEC 1): fields separated by ',', records ended by "\n" or
 * "\r\n" (a lone '\r' is data), a field starting with '"' is quoted and may
 * hold ',', "\r", "\n" and '""' (one quote). A UTF-8 byte-order mark at the
 * start is skipped. Empty lines are skipped but counted. Values are returned
 * exactly as written: nothing is trimmed.
 *
 * Broken quoting (text after a closing quote, a quote inside an unquoted
 * field, a quote still open at the end of input) makes the record
 * malformed: it then ends at the first line terminator at or after the
 * point where the error was seen (at the end of input for an open quote),
 * and reading goes on with the next line.
 */
#ifndef ELIG_SNAPSHOT_CSV_H
#define ELIG_SNAPSHOT_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CSV_OK = 0,
    CSV_TEXT_AFTER_QUOTE,   /* "ab"c */
    CSV_QUOTE_IN_UNQUOTED,  /* ab"c */
    CSV_UNTERMINATED_QUOTE, /* "ab... to the end of input */
} csv_error;

/* One field's value. p points into the input, or into the reader's scratch
 * buffer when the field held doubled quotes; valid until the next
 * csv_next() call on the same reader. */
typedef struct {
    const char *p;
    size_t n;
} csv_field;

typedef struct {
    const char *raw;  /* the record's bytes as read, in the input */
    size_t raw_len;   /* without the final line terminator */
    size_t offset;    /* raw - start of input */
    uint64_t line;    /* physical line where the record starts, from 1 */
    size_t nfields;   /* fields in the record, even past max_fields */
    csv_field *field; /* the first min(nfields, max_fields) values */
    csv_error err;    /* CSV_OK, or why the record is malformed (then
                         field/nfields describe only what came before) */
} csv_record;

typedef struct {
    const char *buf;
    size_t len, pos;
    uint64_t line;     /* physical line at pos */
    size_t max_fields; /* fields kept per record; the rest are only counted */
    csv_field *fields; /* owned */
    size_t fields_cap;
    unsigned char *escaped; /* per kept field: value needs unquoting */
    char *scratch;          /* owned; unquoted values of escaped fields */
    size_t scratch_cap;
} csv_reader;

/* Starts reading buf[0..len) (not copied: it must outlive the reader);
 * skips a leading UTF-8 BOM. max_fields starts unlimited. */
void csv_init(csv_reader *r, const char *buf, size_t len);
/* Frees what the reader allocated (not the input). */
void csv_free(csv_reader *r);
/* Keeps at most n field values per record (more are counted only): once
 * the header is known, a longer row costs no memory. n >= 1. */
void csv_set_max_fields(csv_reader *r, size_t n);
/* Resumes reading at byte offset off, which must be the start of a record
 * that an earlier pass returned, with line its line number. */
void csv_seek(csv_reader *r, size_t off, uint64_t line);
/* Reads the next record into rec. Returns 1 for a record (well-formed or
 * not: see rec->err), 0 at the end of input, -1 if out of memory. */
int csv_next(csv_reader *r, csv_record *rec);

#endif /* ELIG_SNAPSHOT_CSV_H */
