/* cmd.h — the pieces of the `elig` command (internal).
 *
 * main.c parses the command line and runs check / household / info / ping;
 * batch.c runs `elig batch`; csv.c reads CSV records; format.c turns
 * answers into text (human lines, JSON, CSV cells); programs.c warns about
 * programmes the snapshot does not hold. */
#ifndef ELIG_CMD_H
#define ELIG_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eligclient.h"

/* Exit statuses (SPEC 5, issue 4). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NOT_ELIGIBLE = 3 };

/* ---- csv.c: RFC 4180 records from a file descriptor -------------------- */

typedef struct {
    unsigned long line; /* physical line the record starts on, from 1 */
    size_t n;           /* fields */
    char **field;       /* NUL-terminated field values */
    size_t *len;        /* their lengths (a field may hold a NUL byte) */
    const char *bad;    /* NULL, or why the record is malformed */
    /* The record's bytes as read (no line terminator), and each field's
     * raw span within them (quotes included): what pass-through copies. */
    const char *raw;
    size_t raw_len;
    const size_t *raw_off, *raw_flen;
    bool terminated;    /* ended by a line terminator (not by end of input) */
    uint64_t end;       /* input offset just past the record and its terminator */
} csv_record;

typedef struct csv_reader csv_reader;

/* Reads from fd (not closed by the reader). NULL when out of memory. */
csv_reader *csv_open(int fd);
void csv_close(csv_reader *r);
/* The next record (a UTF-8 BOM at the start and empty lines are skipped).
 * 1 with *rec filled (valid until the next call), 0 at end of input, or
 * -1 on a read error (errno set). A record with broken quoting is still
 * returned, with rec->bad set, and reading goes on after it. */
int csv_next(csv_reader *r, csv_record *rec);

/* ---- format.c ---------------------------------------------------------- */

/* An output buffer flushed to a FILE; out of memory aborts the command. */
typedef struct {
    char *p;
    size_t len, cap;
    FILE *f;
} outbuf;

void out_init(outbuf *o, FILE *f);
void out_bytes(outbuf *o, const char *s, size_t n);
void out_str(outbuf *o, const char *s);
void out_u64(outbuf *o, uint64_t v);
/* Writes out what is buffered. 0, or -1 if the FILE reported an error. */
int out_flush(outbuf *o);
void out_free(outbuf *o);

/* Rupiah as people write it: "Rp 110.000" (dot thousands separator). */
void out_rupiah(outbuf *o, uint64_t amount);
/* A JSON string literal, escaped; NULL is written as null. */
void out_json_str(outbuf *o, const char *s);
/* n bytes as a JSON string literal: escaped, and a byte that is not part
 * of valid UTF-8 written as U+FFFD. */
void out_json_strn(outbuf *o, const char *s, size_t n);
/* One error on stderr: "elig: CMD: FILE:LINE: text" (FILE and LINE when
 * given: file NULL, line 0 for none), or with json a JSON object
 * {"error": text, "command": CMD, "file": FILE, "line": LINE}. */
void cmd_error(bool json, const char *cmd, const char *file, unsigned long line,
               const char *text);
/* A CSV cell: quoted when it holds a comma, quote, CR or LF. */
void out_csv_cell(outbuf *o, const char *s, size_t n);

/* One answer as the human line of `elig check`, newline included. */
void out_answer_human(outbuf *o, const eligc_answer *a);
/* One answer as a JSON object (no newline). */
void out_answer_json(outbuf *o, const eligc_answer *a);
void out_household_human(outbuf *o, const eligc_household *h);
void out_household_json(outbuf *o, const eligc_household *h);
void out_info_human(outbuf *o, const eligc_info *i);
void out_info_json(outbuf *o, const eligc_info *i);

/* ---- programs.c: programmes the snapshot does not hold ------------------ */

#define PROG_MISSING_MAX 16 /* unknown programmes named in a batch's summary */

/* The programmes a snapshot holds, from `info`, and (for a batch) the
 * programmes asked about that it does not hold, with their row counts. */
typedef struct {
    bool known; /* info named the snapshot's programmes: the rest is valid */
    char snapshot[ELIGC_SNAPSHOT_MAX + 1];
    size_t n;
    char names[ELIGC_INFO_PROGRAMS_MAX][ELIG_WIRE_PROGRAM_MAX + 1];
    struct {
        char name[ELIG_WIRE_PROGRAM_MAX + 1];
        unsigned long rows;
    } missing[PROG_MISSING_MAX];
    size_t n_missing;
    int last_missing;        /* index of the last one found, or -1 */
    unsigned long more_rows; /* rows of unknown programmes past PROG_MISSING_MAX */
} prog_list;

/* Asks `info` (one request; nothing may be pipelined). 0 with p->known,
 * or -1 when the server cannot tell (an error, e.g. info not granted to
 * the channel; no `programs` key; more names than eligc_info keeps). */
int prog_list_fetch(eligc_conn *c, prog_list *p);
/* The snapshot holds program, or p does not know. */
bool prog_list_holds(const prog_list *p, const char *program);
/* `elig check`: when a is not_enrolled, asks `info` and, if that snapshot
 * holds no programme q->program, prints a warning on stderr (a JSON object
 * with json). Says nothing when info cannot tell. */
void prog_check_warn(eligc_conn *c, bool json, const eligc_query *q, const eligc_answer *a);
/* `elig batch`: counts one row asking about program. */
void prog_note(prog_list *p, const char *program);
/* `elig batch`: the programmes noted that the snapshot does not hold: with
 * json the `,"unknown_programs":{NAME: rows, ...}` member of the summary
 * object (null when unknown); else a warning line, or nothing. */
void prog_batch_summary(const prog_list *p, bool json, outbuf *o);

/* ---- batch.c ----------------------------------------------------------- */

typedef struct {
    const char *input;  /* path, or NULL / "-" for stdin */
    size_t depth;       /* requests in flight */
    size_t group;       /* queries per request (1: check, >1: check_batch) */
    bool quiet;         /* no summary line */
    bool keep;          /* pass the input's other columns through */
    bool jsonl;         /* JSON lines out, not CSV */
    bool json_errors;   /* messages on stderr as JSON */
    const char *output; /* --output FILE, or NULL for stdout */
    const char *resume; /* --resume FILE: continue the run whose output it is */
    unsigned retries;   /* rounds of failures in a row before giving up */
    double retry_max_wait; /* longest pause between rounds, seconds */
    const char *snapshot_id; /* every answer must come from it, or NULL */
    double snapshot_wait;    /* how long to ask again for it, seconds */
} batch_opts;

/* Runs `elig batch` on an open handle: CSV of queries in, answers out (to
 * stdout, --output or --resume's file) in the same order. Returns an exit
 * status. */
int batch_run(eligc_conn *c, const batch_opts *bo);

#endif /* ELIG_CMD_H */
