/* journal.h — the offline terminal's journal file (internal; SPEC 10,
 * docs/CLIENT.md "Offline terminals").
 *
 * Every answer given from an extract while no server answers is appended
 * here before it is returned, and `elig journal upload` (or
 * eligc_journal_upload) later sends them to a server's `journal` method,
 * which writes them into the audit trail. The file says what the server
 * acknowledged, so an upload sends only what is past that.
 *
 * The bytes (integers little-endian):
 *
 *   header, JRN_HEADER_LEN bytes:
 *     0 "ELIGJNL1"  8 u32 version (1)  12 u32 header length (64)
 *    16 u64 created (microseconds since 1970, UTC)
 *    24 terminal id: 32 lower-case hex digits (128 random bits, made when
 *       the file is created; with the channel it names this journal to
 *       the server)
 *    56 u32 0   60 u32 CRC-32C of bytes 0..59
 *   records, back to back:
 *     u32 body length (1..JRN_BODY_MAX)  u32 CRC-32C of the body  body
 *   a body is a type byte and its fields:
 *     JRN_ANSWER (1): u64 seq  u64 time_us  u8 kind  u64 id  u32 period
 *       (elig_month)  u8 reason  u8 found  u64 kk  u64 region  u32 amount
 *       u8 program_len  program  u8 extract_len  extract id
 *     JRN_ACK (2): u64 seq (the server recorded every answer up to it,
 *       durably)  u64 time_us
 *
 * Crash safety. The file is opened O_APPEND; each record is one write(2)
 * of the whole record, then fdatasync(2) before the answer it records is
 * returned (so an answer the customer saw is on disk). A crash can leave
 * only a prefix of the last record, or zeros where it was: a reader takes
 * the records up to the first that is cut short, has a length out of
 * range or a wrong CRC, and treats the rest as that torn record, dropped.
 * A "tail" longer than one record cannot come from a torn write and is
 * reported as damage instead. A writer truncates a torn tail before
 * appending.
 *
 * Several processes may share a journal: each append holds an flock(2)
 * on it and first reads whatever another appended since (so sequence
 * numbers stay one series).
 *
 * Threads: a jrn belongs to one thread at a time (its handle's). */
#ifndef ELIGC_JOURNAL_H
#define ELIGC_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elig.h"

#define JRN_MAGIC "ELIGJNL1"
#define JRN_VERSION 1
#define JRN_HEADER_LEN 64
#define JRN_TERMINAL_LEN 32 /* hex digits of the terminal id */
#define JRN_BODY_MAX 256    /* a longer body is damage */
#define JRN_REC_HEAD 8      /* length and CRC */

enum { JRN_ANSWER = 1, JRN_ACK = 2 };

/* One offline answer as journalled. */
typedef struct {
    uint64_t seq;     /* 1, 2, ... in the order written */
    uint64_t time_us; /* when it was answered (the terminal's clock, UTC) */
    elig_kind kind;
    uint64_t id;
    elig_month period;
    char program[ELIG_WIRE_PROGRAM_MAX + 1];
    elig_reason reason;
    bool found;
    uint64_t kk, region;
    uint32_t amount;
    char extract[ELIG_WIRE_SNAPSHOT_ID_MAX + 1]; /* the extract that answered */
} jrn_answer;

/* CRC-32C (Castagnoli) of p[0..n), continuing from crc (0 to start). */
uint32_t jrn_crc32c(uint32_t crc, const void *p, size_t n);

/* Encodes a record (head and body) into out, which holds
 * JRN_REC_HEAD + JRN_BODY_MAX bytes; returns its length. */
size_t jrn_encode_answer(const jrn_answer *a, uint8_t *out);
size_t jrn_encode_ack(uint64_t seq, uint64_t time_us, uint8_t *out);

/* What a scan of the records found. */
typedef struct {
    uint64_t records;   /* answer records */
    uint64_t last_seq;  /* of the last answer record (0: none) */
    uint64_t acked;     /* the highest JRN_ACK seq (0: none) */
    uint64_t end;       /* offset just past the last whole record */
    uint64_t torn;      /* bytes of a torn last record after end (dropped) */
} jrn_scan_result;

/* Walks the records of data[from..len) (from: JRN_HEADER_LEN, or where an
 * earlier scan ended), adding to *r (zero it first for a whole file). fn,
 * if not NULL, is called with each answer record in order. 0, or -1 with a
 * one-line reason in why (damage: a bad record followed by more than one
 * record's worth of bytes, or a record that decodes to nonsense). */
int jrn_scan(const uint8_t *data, size_t len, size_t from, jrn_scan_result *r,
             void (*fn)(void *ud, const jrn_answer *a), void *ud, char *why, size_t whylen);

/* Checks a header: 0 with the terminal id copied into terminal (33
 * bytes), or -1 with why. */
int jrn_header_check(const uint8_t *p, size_t len, char terminal[JRN_TERMINAL_LEN + 1], char *why, size_t whylen);

/* An open journal, appended to by one handle. */
typedef struct jrn jrn;

/* Opens (creating it, mode 0600, with a fresh terminal id) the journal at
 * path, reads it, and truncates a torn last record. 0, or -1 with a
 * one-line reason naming path in why. */
int jrn_open(const char *path, jrn **out, char *why, size_t whylen);
void jrn_close(jrn *j);
/* Appends a (its seq is assigned: one past the last in the file, whoever
 * wrote it) and syncs it. 0, or -1 with why (nothing is then recorded:
 * the answer must not be given). */
int jrn_append_answer(jrn *j, jrn_answer *a, char *why, size_t whylen);
/* Appends an acknowledgement of every answer up to seq, and syncs. */
int jrn_append_ack(jrn *j, uint64_t seq, char *why, size_t whylen);
/* The terminal id (32 hex digits). */
const char *jrn_terminal(const jrn *j);

/* Reads the whole journal at path (shared lock) and calls fn with every
 * answer record past `after`; *r gets the scan's totals and *terminal the
 * id. 0 or -1 with why. */
int jrn_read(const char *path, uint64_t after, void (*fn)(void *ud, const jrn_answer *a), void *ud,
             jrn_scan_result *r, char terminal[JRN_TERMINAL_LEN + 1], char *why, size_t whylen);

#endif /* ELIGC_JOURNAL_H */
