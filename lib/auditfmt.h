/* auditfmt.h — the bytes of eligd's audit trail (SPEC 7): records, blocks,
 * segments and their SHA-256 chain. docs/AUDIT.md describes the same bytes
 * for people; this header is the one definition in code.
 *
 * Functions over buffers (auditfmt.c), and a reader of one segment file
 * (auditseg.c); no threads, no globals. eligd's writer (daemon/audit.c)
 * encodes with it and reads back the last segment at start-up, and
 * elig-audit (tools/audit/) reads with it, so the two cannot drift apart.
 *
 * A segment file is
 *
 *   header (AUDIT_HEADER_LEN)                        chain c0 = SHA256(header)
 *   block*: head (AUDIT_BLOCK_HEAD_LEN), payload, c   c = SHA256(c' || head || raw payload)
 *   end:    head (AUDIT_BLOCK_HEAD_LEN), c            c = SHA256(c' || end head)
 *
 * where a block's payload is its records back to back, raw or one zstd
 * frame, and c' is the chain value before it. The header carries the
 * previous segment's last chain value, so the segments of a directory form
 * one chain. Integers are little-endian. */
#ifndef ELIG_AUDITFMT_H
#define ELIG_AUDITFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_MAGIC "ELIGAUD1" /* 8 bytes, no NUL */
#define AUDIT_FORMAT_VERSION 1
#define AUDIT_HEADER_LEN 128
#define AUDIT_BLOCK_HEAD_LEN 48
#define AUDIT_HASH_LEN 32
#define AUDIT_BLOCK_MAGIC "BLK1"
#define AUDIT_END_MAGIC "END1"

/* A reader refuses a block claiming more than this (garbage, not a block). */
#define AUDIT_BLOCK_RAW_LIMIT (16u << 20)

/* Segment file names: audit-SEQ-YYYYMMDDTHHMMSSZ.seg, SEQ 10 digits, the
 * time the segment was begun (UTC). Sorting the names sorts the segments. */
#define AUDIT_SEG_PREFIX "audit-"
#define AUDIT_SEG_SUFFIX ".seg"
#define AUDIT_SEG_NAME_MAX 48
/* In the directory beside the segments: eligd holds an exclusive flock on
 * it while it writes there (one writer per directory; elig-audit verify
 * tells an open segment being written from one left unclosed by it). */
#define AUDIT_LOCK_NAME ".eligd-audit.lock"

/* Header flags. */
#define AUDIT_FLAG_PREV_UNCLOSED 1u /* the previous segment was not closed (eligd stopped
                                       without closing it); prev_* say how it was found */
#define AUDIT_FLAG_CHAIN_RESTART 2u /* no previous segment could be read: prev_chain is zero */

/* Block payload codecs. */
#define AUDIT_CODEC_RAW 0
#define AUDIT_CODEC_ZSTD 1

/* Methods as recorded: stable numbers of the file format, not the order of
 * elig_wire.h's method list. X(enum suffix, number, wire name). */
#define AUDIT_METHOD_MAP(X)                                                    \
    X(CHECK, 1, "check")                                                       \
    X(CHECK_BATCH, 2, "check_batch")                                           \
    X(HOUSEHOLD, 3, "household")                                               \
    X(AUTH, 4, "auth")                                                         \
    X(RELOAD, 5, "reload")                                                     \
    X(OFFLINE_CHECK, 6, "offline_check")

typedef enum {
    AUDIT_METHOD_NONE = 0,
#define AUDIT_X_(e, n, s) AUDIT_METHOD_##e = n,
    AUDIT_METHOD_MAP(AUDIT_X_)
#undef AUDIT_X_
    AUDIT_METHOD_LAST = AUDIT_METHOD_OFFLINE_CHECK
} audit_method;
/* offline_check: an answer an offline terminal gave from its extract
 * (SPEC 10), uploaded later with the `journal` method. time_us is when the
 * terminal answered; channel, peer and conn_id are the uploading
 * session's; snapshot is the extract's id; detail is "terminal=T seq=N",
 * the terminal's id and its number for the answer. */

/* What a record says was answered. */
typedef enum {
    AUDIT_OUT_REASON = 0, /* a check answer: code is the elig_reason */
    AUDIT_OUT_ERROR = 1,  /* an error response: code is the wire error code (1-6) */
    AUDIT_OUT_FOUND = 2,  /* household: a household was returned */
    AUDIT_OUT_NIL = 3,    /* household: nil (nothing found) */
    AUDIT_OUT_OK = 4,     /* auth answered true; reload done */
} audit_outcome;

/* Caps on the strings of a record: longer ones are cut. */
#define AUDIT_PROGRAM_MAX 16
#define AUDIT_CHANNEL_MAX 64
#define AUDIT_PEER_MAX 64
#define AUDIT_SNAPSHOT_MAX 64
#define AUDIT_DETAIL_MAX 128
#define AUDIT_REC_FIXED 56
#define AUDIT_REC_MAX                                                          \
    (AUDIT_REC_FIXED + AUDIT_PROGRAM_MAX + AUDIT_CHANNEL_MAX + AUDIT_PEER_MAX + \
     AUDIT_SNAPSHOT_MAX + AUDIT_DETAIL_MAX)

/* One record. Strings are not NUL-terminated; decoded ones point into the
 * payload they came from. */
typedef struct {
    uint64_t time_us;  /* microseconds since 1970-01-01T00:00:00Z */
    uint64_t conn_id;  /* 0: no connection (a reload by signal) */
    uint64_t id;       /* the id asked about, 16 digits as a number (kind 0: none) */
    uint64_t kk;       /* the family the answer resolved to; 0 when none */
    uint32_t period;   /* elig_month of the query; 0 when none */
    uint32_t amount;   /* Rupiah answered */
    uint32_t item;     /* index of the item in its check_batch; 0 otherwise */
    uint8_t method;    /* audit_method */
    uint8_t kind;      /* 0 none, else elig_kind + 1 (1 nik, 2 kk, 3 kks) */
    uint8_t outcome;   /* audit_outcome */
    uint8_t code;      /* reason or error code, see audit_outcome */
    const char *program, *channel, *peer, *snapshot, *detail;
    uint8_t program_len, channel_len, peer_len, snapshot_len, detail_len;
} audit_rec;

/* A string length byte meaning "the same string as the record before it
 * in this block" (program, channel, peer, snapshot): the bytes are left
 * out. A batch's records, or a pipelining connection's, repeat them. */
#define AUDIT_SAME 0xFF

/* Encoded size of r (strings cut to their caps), with every string in full:
 * the most audit_rec_encode_after writes. */
size_t audit_rec_size(const audit_rec *r);
/* Writes r at out with every string in full (as the rings hold records)
 * and returns its size. */
size_t audit_rec_encode(const audit_rec *r, uint8_t *out);
/* The same, leaving out (AUDIT_SAME) each string equal to prev's; prev is
 * the record before it in the same block, or NULL for a block's first. */
size_t audit_rec_encode_after(const audit_rec *r, const audit_rec *prev, uint8_t *out);
/* The strings of the last record written into a block, for
 * audit_rec_compact: each points into the block. */
typedef struct {
    const uint8_t *s[4]; /* program, channel, peer, snapshot */
    uint8_t n[4];
} audit_strs;

/* Copies the record full[0..len) (every string in full, as audit_rec_encode
 * writes it) to out, leaving out each string equal to prev's (prev NULL for
 * a block's first record), and sets *now to its strings in out or prev.
 * Returns the bytes written (at most len). The writer's fast path: no
 * decoding into an audit_rec. The record must be well-formed. */
size_t audit_rec_compact(const uint8_t *full, size_t len, const audit_strs *prev, uint8_t *out, audit_strs *now);

/* Decodes the record at p[0..n): fills r (pointing into p, or into prev's
 * strings for those left out) and returns its size, or -1 if the bytes are
 * not a whole, well-formed record. prev: the record decoded just before in
 * the same block, or NULL for a block's first. */
long audit_rec_decode(const uint8_t *p, size_t n, const audit_rec *prev, audit_rec *r);

/* Names for people and for `stats`: "check", "nik", and the result:
 * the reason code, the error name, "found", "nil" or "ok". Never NULL. */
const char *audit_method_name(int method);
int audit_method_lookup(const char *s, size_t n); /* AUDIT_METHOD_NONE if unknown */
const char *audit_kind_name(int kind);            /* "-" for none */
const char *audit_result_name(const audit_rec *r);

/* ---- segment header ---------------------------------------------------- */

typedef struct {
    uint32_t version;
    uint32_t flags;
    uint64_t seq;          /* 1 for the first segment of a trail, +1 each */
    uint64_t created_us;
    uint64_t prev_records; /* records in the previous segment */
    uint64_t prev_bytes;   /* its length in bytes, as eligd left it */
    uint8_t prev_chain[AUDIT_HASH_LEN];
} audit_header;

void audit_header_encode(const audit_header *h, uint8_t out[AUDIT_HEADER_LEN]);
/* 0, or -1 with why (a static string) if it is not a header we read. */
int audit_header_decode(const uint8_t p[AUDIT_HEADER_LEN], audit_header *h, const char **why);

/* ---- blocks ------------------------------------------------------------ */

typedef struct {
    bool end;              /* the segment's end block */
    uint32_t raw_len;      /* payload bytes uncompressed */
    uint32_t stored_len;   /* payload bytes in the file */
    uint32_t count;        /* records in the block */
    uint64_t first_record; /* index in the segment of its first record */
    uint64_t min_time_us, max_time_us;
    uint8_t codec;
    /* End block only. */
    uint64_t records;      /* records in the segment */
    uint64_t bytes;        /* offset of the end block: every byte before it */
    uint64_t closed_us;
} audit_block;

void audit_block_encode(const audit_block *b, uint8_t out[AUDIT_BLOCK_HEAD_LEN]);
/* 0, or -1 with why if the bytes are not a block head. */
int audit_block_decode(const uint8_t p[AUDIT_BLOCK_HEAD_LEN], audit_block *b, const char **why);

/* ---- the chain --------------------------------------------------------- */

/* out = SHA256(prev || a[0..an) || b[0..bn)); prev may be NULL (the
 * header's value). 0, or -1 if libcrypto failed. */
int audit_chain(const uint8_t *prev, const void *a, size_t an, const void *b, size_t bn,
                uint8_t out[AUDIT_HASH_LEN]);

/* Lower-case hex of a chain value; out holds 65 bytes. */
void audit_hex(const uint8_t h[AUDIT_HASH_LEN], char out[65]);

/* ---- payloads ---------------------------------------------------------- */

/* Turns a block's stored payload into its raw records (raw holds
 * b->raw_len bytes). 0, or -1 with why if it does not decompress to
 * exactly raw_len bytes. */
int audit_payload_decode(const audit_block *b, const uint8_t *stored, uint8_t *raw, const char **why);

/* Walks a raw payload: checks that it is exactly b->count well-formed
 * records. Returns -1 if so, else the index (in the block) of the first
 * record that is not. */
long audit_payload_check(const audit_block *b, const uint8_t *raw);

/* Segment file name for seq begun at created_us; out holds
 * AUDIT_SEG_NAME_MAX bytes. */
void audit_seg_name(uint64_t seq, uint64_t created_us, char out[AUDIT_SEG_NAME_MAX]);
/* The sequence number in a segment file name, or 0 if it is not one. */
uint64_t audit_seg_name_seq(const char *name);

/* RFC 3339 UTC with microseconds: 2026-12-01T10:15:00.123456Z; out holds
 * 32 bytes. */
void audit_format_time(uint64_t us, char out[32]);

/* ---- reading a segment file (auditseg.c) ------------------------------- */

/* A segment file mapped read-only, walked block by block. Everything it
 * points to lives until audit_seg_close. */
typedef struct {
    const char *path;
    const uint8_t *data;
    size_t len;          /* file length when opened */
    audit_header hdr;
    size_t off;          /* offset of the next block */
    size_t block_off;    /* offset of the block last returned */
    uint8_t chain[AUDIT_HASH_LEN]; /* chain value after the last block checked */
    bool chain_known;    /* every block so far was checked: `chain` is right */
    bool before_known;   /* chain_known as it was before the current block */
    uint64_t records;    /* records in the blocks walked so far */
    bool ended;          /* the end block was read */
    bool cut;            /* the last failure was the file ending inside a block */
    uint8_t *raw;        /* decoded payload of the current block */
    size_t raw_cap;
    char err[256];       /* why the last call failed, naming the place */
} audit_seg;

/* Maps the file at path and reads its header. 0, or -1 with s->err. */
int audit_seg_open(audit_seg *s, const char *path);
void audit_seg_close(audit_seg *s);

/* The next block head: 1 with *b filled, 0 at the end of the file or after
 * the end block (s->ended says which), -1 with s->err on a break: a block
 * head that is not one, a block cut short, records missing or repeated
 * (first_record out of sequence), bytes after the end block, or an end
 * block whose counts or chain value disagree. */
int audit_seg_next(audit_seg *s, audit_block *b);
/* The records of block b (the last audit_seg_next returned): *raw points
 * to b->raw_len bytes. With `check`, also checks every record's structure
 * and the chain value stored after the block. 0, or -1 with s->err. */
int audit_seg_payload(audit_seg *s, const audit_block *b, const uint8_t **raw, bool check);

#endif
