/* elig.h — libelig: the snapshot reader and the eligibility rule.
 *
 * The part of eligd that a terminal could embed: it opens a snapshot
 * (an LMDB file, memory-mapped read-only), resolves an id to its family and
 * applies the rule of SPEC.md section 2. It does no network or file I/O of
 * its own beyond mapping the snapshot, logs nothing and keeps no global
 * state. It also holds the field syntax of SPEC section 1 (ids, periods,
 * programme names), which the snapshot builder and the query path share.
 *
 * Errors: functions return 0 (or a count) on success and a negative code
 * on failure (see "errors" below); elig_strerror() names it.
 *
 * Threads: an elig_snap may be shared by any number of threads. An
 * elig_reader belongs to one thread at a time.
 *
 * Lifetimes: pointers into the snapshot returned through an elig_reader
 * (programme names in elig_enrollment, say) stay valid until that reader
 * is closed or refreshed; the reader pins its snapshot, and a snapshot must
 * outlive all its readers.
 *
 * Installed as libelig (pkg-config `elig`, CMake `find_package(elig)`,
 * SONAME libelig.so.0; docs/CLIENT.md "Offline terminals"). Only the
 * functions marked ELIG_API below are exported; everything else the
 * library holds (the index, the record layout, the signature check) is
 * hidden. Strings passed in are read during the call only. While the
 * version is 0.x a minor release may change the ABI (the CMake package
 * matches the same 0.minor only).
 */
#ifndef ELIG_H
#define ELIG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elig_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported functions (the library is built with hidden
 * visibility, so everything not marked stays inside it). */
#if defined(__GNUC__)
#define ELIG_API __attribute__((visibility("default")))
#else
#define ELIG_API
#endif

#define ELIG_VERSION_MAJOR 0
#define ELIG_VERSION_MINOR 1
#define ELIG_VERSION_PATCH 0
#define ELIG_VERSION_STRING "0.1.0"

/* Distinct programme names a snapshot may hold (elig_meta.programs). */
#define ELIG_PROGRAMS_MAX 256

/* Snapshot schema this library reads and writes (2: the id index of
 * docs/SNAPSHOT.md; schema 1 files are refused with ELIG_ESCHEMA). */
#define ELIG_SCHEMA_VERSION 2

/* ---- errors ----------------------------------------------------------
 *
 * One convention for libelig and eligd (libuv's): 0 or a negative code. A
 * code is either a negated errno, when a system call failed (the same value
 * as libuv's UV_E* on Linux, so a libuv result passes through unchanged),
 * or one of the ELIG_E* codes of the list below, all under -5000, where no
 * errno and no libuv code lies. LMDB's and OpenSSL's codes are converted to
 * these where they are called. elig_strerror() names both kinds. */

#define ELIG_EINVAL (-EINVAL) /* invalid argument */
#define ELIG_ENOMEM (-ENOMEM) /* out of memory */
#define ELIG_EIO (-EIO)       /* a read of the snapshot or a file failed */
#define ELIG_ENOENT (-ENOENT) /* no such file */

#define ELIG_ERRNO_MAP(X)                                                      \
    X(ESCHEMA, -5001, "unknown snapshot schema version")                       \
    X(ECORRUPT, -5002, "snapshot is damaged")                                  \
    X(ECHECKSUM, -5003, "snapshot checksum mismatch")                          \
    X(ELMDB, -5004, "LMDB error")                                              \
    X(ETLS, -5005, "TLS error")                                                \
    X(ECONFIG, -5006, "bad configuration")                                     \
    X(ESIGNATURE, -5007, "bad or missing signature")

enum {
#define ELIG_X_(e, n, s) ELIG_##e = n,
    ELIG_ERRNO_MAP(ELIG_X_)
#undef ELIG_X_
};

/* Words for a code of either kind (strerror for an errno); never NULL. */
ELIG_API const char *elig_strerror(int err);

/* The version of the library linked at run time, e.g. "0.1.0" (compare
 * ELIG_VERSION_STRING, the header's). */
ELIG_API const char *elig_version(void);

/* ---- field syntax (SPEC 1 and 2) --------------------------------------- */

/* A month as a number: year * 12 + (month - 1). Comparable, and small enough
 * for a uint32. */
typedef uint32_t elig_month;
#define ELIG_MONTH_OPEN UINT32_MAX /* an open-ended enrollment's end */

/* Exactly 16 ASCII digits -> *out. 0 or ELIG_EINVAL. Every 16-digit string
 * fits in 54 bits, so the number is the id without loss. */
ELIG_API int elig_parse_id16(const char *s, size_t n, uint64_t *out);
/* The id back as 16 digits and a NUL; out must hold 17 bytes. */
ELIG_API void elig_format_id16(uint64_t id, char out[17]);

/* `YYYY-MM`, year 0001-9999, month 01-12. 0 or ELIG_EINVAL. */
ELIG_API int elig_parse_period(const char *s, size_t n, elig_month *out);
/* The month as `YYYY-MM` and a NUL; out must hold 8 bytes. */
ELIG_API void elig_format_period(elig_month m, char out[8]);

/* 1-16 chars of A-Z 0-9 _. */
ELIG_API bool elig_valid_program(const char *s, size_t n);
/* kk: 16 digits, first 1-9. */
ELIG_API bool elig_valid_kk(const char *s, size_t n);
/* kode wilayah: 10 digits, province (first two) 11-99. */
ELIG_API bool elig_valid_region(const char *s, size_t n);
/* Structural NIK check of SPEC 1. */
ELIG_API bool elig_valid_nik(const char *s, size_t n);
/* `YYYY-MM-DD`, a real calendar date (Gregorian leap years). */
ELIG_API bool elig_valid_date(const char *s, size_t n);
/* Decimal digits only, value 0..4294967295. */
ELIG_API bool elig_parse_amount(const char *s, size_t n, uint32_t *out);
/* Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
ELIG_API bool elig_valid_utf8(const char *s, size_t n);

/* ---- snapshot -------------------------------------------------------- */

/* Metadata of a snapshot, as written by the builder. Strings are
 * NUL-terminated copies owned by the elig_snap. */
typedef struct {
    uint32_t schema_version;
    char id[ELIG_WIRE_SNAPSHOT_ID_MAX + 1]; /* the value every answer's `snapshot` carries */
    char created[32]; /* RFC 3339, UTC, e.g. 2026-11-27T23:40:00Z */
    uint64_t households, members, enrollments;
    char sha256_households[65], sha256_members[65], sha256_enrollments[65];
    char content_sha256[65]; /* digest of the rows (docs/SNAPSHOT.md), lower-case hex */
    char extract_of[ELIG_WIRE_SNAPSHOT_ID_MAX + 1]; /* an extract's source snapshot id; "" if not an extract */
    char extract_regions[256];  /* an extract's region prefixes, comma-separated; "" if not an extract */
    /* The distinct programme names of its enrollments, sorted bytewise,
     * comma-separated ("" if none); has_programs false if the file does not
     * say (see elig_snap_programs). */
    char programs[ELIG_PROGRAMS_MAX * (ELIG_WIRE_PROGRAM_MAX + 1)];
    bool has_programs;
} elig_meta;

typedef struct elig_snap elig_snap;

/* A snapshot id as SPEC 4 and `elig-snapshot build --id` allow it: 1-64
 * chars of A-Za-z0-9._:- (so it is safe in every answer, log line and
 * file name). The builder and the reader both check it. */
ELIG_API bool elig_valid_snapshot_id(const char *s, size_t n);

/* Opens the snapshot file at path read-only and checks its checksum
 * trailer's presence and the file's length (a truncated or extended file is
 * ELIG_ECORRUPT), its schema version (ELIG_ESCHEMA) and metadata. Cost does
 * not grow with snapshot size: nothing is read but the file's last bytes,
 * the metadata and the index header. On failure returns a negative code
 * and, if err is not NULL, writes a one-line reason (naming the path) into
 * err[errlen]. The same as elig_snap_open_ex(path, 0, ...). */
ELIG_API int elig_snap_open(const char *path, elig_snap **out, char *err, size_t errlen);

/* Flags of elig_snap_open_ex.
 *
 * ELIG_SNAP_VERIFY   check the SHA-256 of the whole file against its
 *                    trailer before LMDB reads any page: ELIG_ECHECKSUM on a
 *                    mismatch. Reads the whole file once.
 * ELIG_SNAP_PRIVATE  serve a private copy: the file is copied into sealed
 *                    anonymous memory (a memfd: no write, shrink or grow,
 *                    ever) and everything reads the copy, so overwriting,
 *                    truncating or rewriting the file afterwards changes
 *                    nothing that is served and cannot crash the process.
 *                    Costs the file's size in memory (counted as the
 *                    process's shared memory, not evictable page cache) and
 *                    the copy at open. With ELIG_SNAP_VERIFY the checksum is
 *                    computed on the copy as it is made: no window between
 *                    check and use. The copy asks for transparent huge
 *                    pages (used if /sys/kernel/mm/transparent_hugepage/
 *                    shmem_enabled allows them).
 * Without flags the file is mapped as it is (tools, terminals): it must not
 * be modified in place while open. */
#define ELIG_SNAP_VERIFY 0x1u
#define ELIG_SNAP_PRIVATE 0x2u

/* elig_snap_open with flags (ELIG_SNAP_*); an unknown flag is ELIG_EINVAL. */
ELIG_API int elig_snap_open_ex(const char *path, unsigned flags, elig_snap **out, char *err, size_t errlen);

/* Opens a signed snapshot (an offline extract, SPEC 10): everything
 * elig_snap_open_ex(path, flags | ELIG_SNAP_VERIFY) does (every byte is
 * checked: the signature covers the checksum), then requires a signature
 * block made by the Ed25519 public key pubkey_pem (PEM text of pem_len
 * bytes, as `openssl pkey -pubout` writes it) and valid for this file:
 * ELIG_ESIGNATURE if it is unsigned, signed by another key, or altered
 * since it was signed. */
ELIG_API int elig_snap_open_signed(const char *path, unsigned flags, const char *pubkey_pem, size_t pem_len, elig_snap **out,
                          char *err, size_t errlen);

/* Checks the file at path against its checksum trailer: SHA-256 of every
 * byte it covers (reads the whole file; needs no elig_snap). 0,
 * ELIG_ECHECKSUM (damaged), ELIG_ECORRUPT (no trailer, a damaged one, or a
 * length that does not match) or a negated errno, with a one-line reason
 * naming path in err. */
ELIG_API int elig_snap_check_file(const char *path, char *err, size_t errlen);

/* Recomputes the content hash of snap from its tables (a walk of every
 * household and member: seconds per ten million rows) into out as 64 hex
 * digits and a NUL. Compare with elig_snap_meta(snap)->content_sha256 to
 * find tables that no longer match their metadata. 0 or a negative code
 * (ELIG_ECORRUPT for a malformed record). Any thread; no reader needed. */
ELIG_API int elig_snap_content_sha256(const elig_snap *snap, char out[65]);
/* The programme names the snapshot holds, sorted: (*names)[0..n), each
 * NUL-terminated, valid while snap is open. Returns n (0 if it holds no
 * enrollment), or -1 if the file does not record them. */
ELIG_API int elig_snap_programs(const elig_snap *snap, const char *const **names);
/* Closes the snapshot. All its readers must be closed first. */
ELIG_API void elig_snap_close(elig_snap *snap);
/* Metadata; valid while snap is open. */
ELIG_API const elig_meta *elig_snap_meta(const elig_snap *snap);
/* Touches every page of the map so the first queries do not fault. */
ELIG_API void elig_snap_warm(const elig_snap *snap);

/* A reader: one long-lived read transaction on a snapshot. The snapshot is
 * immutable, so the transaction never goes stale and is kept open for the
 * reader's life rather than begun per query. */
typedef struct elig_reader elig_reader;

/* Opens a reader on snap into *out: 0, ELIG_ENOMEM, or ELIG_EIO if LMDB
 * would not begin the read transaction (*out is then untouched). The reader
 * belongs to one thread at a time and must be closed before snap. */
ELIG_API int elig_reader_open(elig_snap *snap, elig_reader **out);
/* Ends the reader's transaction and frees it; pointers it handed out
 * (elig_enrollment.program) become invalid. r may be NULL. */
ELIG_API void elig_reader_close(elig_reader *r);
/* The snapshot r reads (borrowed: valid while r is open). */
ELIG_API elig_snap *elig_reader_snap(const elig_reader *r);

/* ---- queries --------------------------------------------------------- */

typedef struct {
    elig_kind kind;
    uint64_t id;
    char program[ELIG_WIRE_PROGRAM_MAX];
    uint8_t program_len;
    elig_month period;
} elig_query;

/* Which field of a query failed to parse, for the bad_request message. */
typedef enum {
    ELIG_QUERY_OK = 0,
    ELIG_QUERY_BAD_KIND,
    ELIG_QUERY_BAD_ID,
    ELIG_QUERY_BAD_PROGRAM,
    ELIG_QUERY_BAD_PERIOD,
} elig_query_error;

/* Parses the four strings of a query (not NUL-terminated). */
ELIG_API elig_query_error elig_query_parse(elig_query *q, const char *kind, size_t kind_n,
                                  const char *id, size_t id_n, const char *program,
                                  size_t program_n, const char *period, size_t period_n);
/* Field name of a parse error ("kind", "id", ...). */
ELIG_API const char *elig_query_error_field(elig_query_error e);

typedef struct {
    elig_reason reason;
    bool found;      /* the family resolved: kk and region are meaningful */
    uint64_t kk;
    uint64_t region; /* 10-digit kode wilayah as a number */
    uint32_t amount; /* Rupiah for the month; 0 unless eligible */
} elig_answer;

/* Applies the rule of SPEC 2. Returns 0, or a negative code if the snapshot
 * could not be read (the answer is then undefined). */
ELIG_API int elig_check(elig_reader *r, const elig_query *q, elig_answer *a);

/* Region as 10 digits and a NUL; out must hold 11 bytes. */
ELIG_API void elig_format_region(uint64_t region, char out[11]);

typedef struct {
    const char *program; /* into the map, not NUL-terminated */
    uint8_t program_len;
    elig_month start;
    elig_month end; /* ELIG_MONTH_OPEN when open-ended */
    uint32_t amount;
    elig_enr_status status;
} elig_enrollment;

typedef struct {
    uint64_t kk;
    uint64_t region;
    elig_hh_status status;
    bool has_kks;
    uint64_t kks;
    uint32_t members; /* member rows loaded, deceased included */
    uint32_t n_enrollments;
    /* libelig's own: where the enrollments lie in the map. Read them with
     * elig_household_next; valid while the reader that filled h is open. */
    const void *opaque_[2];
} elig_household;

/* Starts loading the index slot of (kind, id) into the CPU cache and
 * returns at once; it reads nothing and cannot fail. A server answering a
 * batch calls it a few items ahead of elig_check, so that the slot's cache
 * miss overlaps the work on the items before it. */
ELIG_API void elig_prefetch(const elig_reader *r, elig_kind kind, uint64_t id);
/* The second stage: reads the id's index slot (prefetched a little
 * earlier by elig_prefetch) and prefetches the household record it points
 * to, so that a batch overlaps both misses of every lookup. Never faults:
 * an id not present, or a target outside the file, prefetches nothing. */
ELIG_API void elig_prefetch_record(const elig_reader *r, elig_kind kind, uint64_t id);

/* Resolves (kind, id) to its family. Returns 1 and fills h if found, 0 if
 * the id names nothing, or a negative code (ELIG_ECORRUPT for a damaged
 * index or record: never a crash, never a read outside the file). */
ELIG_API int elig_household_get(elig_reader *r, elig_kind kind, uint64_t id, elig_household *h);

/* Iterates h's enrollments, in the order of the input file: set
 * *pos = 0, then each call fills e and returns true until the last. */
ELIG_API bool elig_household_next(const elig_household *h, size_t *pos, elig_enrollment *e);

#ifdef __cplusplus
}
#endif

#endif /* ELIG_H */
