/* elig_wire.h — the eligd wire contract (SPEC.md sections 2 and 3).
 *
 * One list per table: every method name, reason code, error code, query
 * kind and answer key that crosses the wire is defined here exactly once.
 * The daemon, the client library and the tests all include this header, so
 * a renamed code cannot drift between them.
 *
 * Header-only and dependency-free: enums plus static inline name lookups.
 */
#ifndef ELIG_WIRE_H
#define ELIG_WIRE_H

#include <stddef.h>
#include <string.h>

#define ELIG_WIRE_DEFAULT_HOST "127.0.0.1"
#define ELIG_WIRE_DEFAULT_PORT 7420
#define ELIG_WIRE_MAX_BATCH 10000           /* check_batch items, SPEC 3 */
#define ELIG_WIRE_MAX_MESSAGE (1024 * 1024) /* default message limit */
#define ELIG_WIRE_ID_LEN 16                 /* nik, kk, kks: 16 digits */
#define ELIG_WIRE_PROGRAM_MAX 16            /* 1-16 chars of A-Z 0-9 _ */
#define ELIG_WIRE_SNAPSHOT_ID_MAX 64        /* snapshot ids: 1-64 chars of A-Za-z0-9._:- */

/* msgpack-RPC message types. */
enum {
    ELIG_MSG_REQUEST = 0,
    ELIG_MSG_RESPONSE = 1,
    ELIG_MSG_NOTIFY = 2,
};

/* Methods: X(enum suffix, wire name). */
#define ELIG_METHOD_MAP(X)                                                     \
    X(PING, "ping")                                                            \
    X(CHECK, "check")                                                          \
    X(CHECK_BATCH, "check_batch")                                              \
    X(HOUSEHOLD, "household")                                                  \
    X(INFO, "info")                                                            \
    X(RELOAD, "reload")                                                        \
    X(AUTH, "auth")                                                            \
    X(JOURNAL, "journal")

typedef enum {
#define ELIG_X_(e, s) ELIG_METHOD_##e,
    ELIG_METHOD_MAP(ELIG_X_)
#undef ELIG_X_
    ELIG_METHOD_COUNT,
    ELIG_METHOD_UNKNOWN = -1
} elig_method;

/* Query kinds, SPEC 2: the id names a member, a family card or a KKS card. */
#define ELIG_KIND_MAP(X)                                                       \
    X(NIK, "nik")                                                              \
    X(KK, "kk")                                                                \
    X(KKS, "kks")

typedef enum {
#define ELIG_X_(e, s) ELIG_KIND_##e,
    ELIG_KIND_MAP(ELIG_X_)
#undef ELIG_X_
    ELIG_KIND_COUNT
} elig_kind;

/* Answer reasons, SPEC 2, in the order the rule tries them. */
#define ELIG_REASON_MAP(X)                                                     \
    X(ELIGIBLE, "eligible", "eligible")                                        \
    X(NOT_FOUND, "not_found", "not found")                                     \
    X(MEMBER_DECEASED, "member_deceased", "member is deceased")                \
    X(HOUSEHOLD_SUSPENDED, "household_suspended", "household is suspended")    \
    X(HOUSEHOLD_GRADUATED, "household_graduated", "household has graduated")   \
    X(HOUSEHOLD_TERMINATED, "household_terminated", "household is terminated") \
    X(NOT_ENROLLED, "not_enrolled", "not enrolled in the programme")           \
    X(OUTSIDE_PERIOD, "outside_period", "no enrollment covers that month")     \
    X(ENROLLMENT_SUSPENDED, "enrollment_suspended", "enrollment is suspended")

typedef enum {
#define ELIG_X_(e, s, w) ELIG_REASON_##e,
    ELIG_REASON_MAP(ELIG_X_)
#undef ELIG_X_
    ELIG_REASON_COUNT
} elig_reason;

/* Error codes of the response error object [code, message], SPEC 3. */
#define ELIG_ERRCODE_MAP(X)                                                    \
    X(BAD_REQUEST, 1, "bad_request")                                           \
    X(UNKNOWN_METHOD, 2, "unknown_method")                                     \
    X(TOO_LARGE, 3, "too_large")                                               \
    X(UNAUTHORIZED, 4, "unauthorized")                                         \
    X(UNAVAILABLE, 5, "unavailable")                                           \
    X(RATE_LIMITED, 6, "rate_limited")

typedef enum {
#define ELIG_X_(e, n, s) ELIG_ERRCODE_##e = n,
    ELIG_ERRCODE_MAP(ELIG_X_)
#undef ELIG_X_
} elig_errcode;

/* Household and enrollment status words, as in the CSV and the household
 * result. The numeric values are stored in snapshots: append only. */
#define ELIG_HH_STATUS_MAP(X)                                                  \
    X(ACTIVE, "active")                                                        \
    X(SUSPENDED, "suspended")                                                  \
    X(GRADUATED, "graduated")                                                  \
    X(TERMINATED, "terminated")

typedef enum {
#define ELIG_X_(e, s) ELIG_HH_##e,
    ELIG_HH_STATUS_MAP(ELIG_X_)
#undef ELIG_X_
    ELIG_HH_STATUS_COUNT
} elig_hh_status;

typedef enum { ELIG_ENR_ACTIVE = 0, ELIG_ENR_SUSPENDED = 1 } elig_enr_status;
typedef enum { ELIG_MEMBER_ALIVE = 0, ELIG_MEMBER_DECEASED = 1 } elig_member_status;

/* Keys of the answer map, the household map and the info map. */
#define ELIG_KEY_ELIGIBLE "eligible"
#define ELIG_KEY_REASON "reason"
#define ELIG_KEY_KK "kk"
#define ELIG_KEY_REGION "region"
#define ELIG_KEY_AMOUNT "amount"
#define ELIG_KEY_SNAPSHOT "snapshot"
#define ELIG_KEY_STATUS "status"
#define ELIG_KEY_KKS "kks"
#define ELIG_KEY_MEMBERS "members"
#define ELIG_KEY_ENROLLMENTS "enrollments"
#define ELIG_KEY_PROGRAM "program"
#define ELIG_KEY_START "start"
#define ELIG_KEY_END "end"
#define ELIG_KEY_VERSION "version"
#define ELIG_KEY_CREATED "created"
#define ELIG_KEY_HOUSEHOLDS "households"
#define ELIG_KEY_UPTIME "uptime_s"
#define ELIG_KEY_CONNECTIONS "connections"
#define ELIG_KEY_REQUESTS "requests"
#define ELIG_KEY_RELOAD_ERROR "reload_error"
#define ELIG_KEY_AUDIT_ERROR "audit_error" /* info: why the audit trail cannot be written, or nil */
#define ELIG_KEY_AUDIT "audit"             /* info: nil without --audit-dir, else a map of: */
#define ELIG_KEY_AUDIT_WRITTEN "written"   /*   records written to segment files since start */
#define ELIG_KEY_AUDIT_BACKLOG "backlog"   /*   records queued, not yet written */
#define ELIG_KEY_AUDIT_LOST "lost"         /*   --audit-full drop: answered without a record */
#define ELIG_KEY_AUDIT_REFUSED "refused"   /*   requests answered unavailable: no room for their records */
#define ELIG_KEY_HEALTH "health"
#define ELIG_KEY_CONTENT_SHA256 "content_sha256"
#define ELIG_KEY_GENERATION "generation"
#define ELIG_KEY_READ_ERRORS "read_errors"
#define ELIG_KEY_PROGRAMS "programs"
/* The `journal` method's result (an offline terminal's upload, SPEC 10). */
#define ELIG_KEY_ACCEPTED "accepted"     /* answers new to the audit trail */
#define ELIG_KEY_DUPLICATES "duplicates" /* answers it held already */
#define ELIG_KEY_DURABLE "durable"       /* the terminal's last sequence number written and synced */
#define ELIG_WIRE_TERMINAL_MAX 64        /* terminal ids: 1-64 chars of A-Za-z0-9._- */

/* Name lookups. Each returns NULL (or -1) for a value outside the table. */

static inline const char *elig_method_name(elig_method m) {
    switch (m) {
#define ELIG_X_(e, s)                                                          \
    case ELIG_METHOD_##e:                                                      \
        return s;
        ELIG_METHOD_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        return NULL;
    }
}

/* Method by its wire bytes (not NUL-terminated; case-sensitive). */
static inline elig_method elig_method_lookup(const char *s, size_t n) {
#define ELIG_X_(e, name)                                                       \
    if (n == sizeof(name) - 1 && memcmp(s, name, n) == 0)                      \
        return ELIG_METHOD_##e;
    ELIG_METHOD_MAP(ELIG_X_)
#undef ELIG_X_
    return ELIG_METHOD_UNKNOWN;
}

static inline const char *elig_kind_name(elig_kind k) {
    switch (k) {
#define ELIG_X_(e, s)                                                          \
    case ELIG_KIND_##e:                                                        \
        return s;
        ELIG_KIND_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        return NULL;
    }
}

/* Kind by its wire bytes; exactly "nik", "kk" or "kks", else -1. */
static inline int elig_kind_lookup(const char *s, size_t n) {
#define ELIG_X_(e, name)                                                       \
    if (n == sizeof(name) - 1 && memcmp(s, name, n) == 0)                      \
        return ELIG_KIND_##e;
    ELIG_KIND_MAP(ELIG_X_)
#undef ELIG_X_
    return -1;
}

/* Wire code of a reason, e.g. "not_enrolled". */
static inline const char *elig_reason_code(elig_reason r) {
    switch (r) {
#define ELIG_X_(e, s, w)                                                       \
    case ELIG_REASON_##e:                                                      \
        return s;
        ELIG_REASON_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        return NULL;
    }
}

/* A reason in words for people, e.g. "not enrolled in the programme". */
static inline const char *elig_reason_words(elig_reason r) {
    switch (r) {
#define ELIG_X_(e, s, w)                                                       \
    case ELIG_REASON_##e:                                                      \
        return w;
        ELIG_REASON_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        return NULL;
    }
}

/* Reason by its wire code, or -1. */
static inline int elig_reason_lookup(const char *s, size_t n) {
#define ELIG_X_(e, name, w)                                                    \
    if (n == sizeof(name) - 1 && memcmp(s, name, n) == 0)                      \
        return ELIG_REASON_##e;
    ELIG_REASON_MAP(ELIG_X_)
#undef ELIG_X_
    return -1;
}

static inline const char *elig_errcode_name(int code) {
    switch (code) {
#define ELIG_X_(e, n, s)                                                       \
    case n:                                                                    \
        return s;
        ELIG_ERRCODE_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        return NULL;
    }
}

static inline const char *elig_hh_status_name(int s) {
    switch (s) {
#define ELIG_X_(e, name)                                                       \
    case ELIG_HH_##e:                                                          \
        return name;
        ELIG_HH_STATUS_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        return NULL;
    }
}

static inline int elig_hh_status_lookup(const char *s, size_t n) {
#define ELIG_X_(e, name)                                                       \
    if (n == sizeof(name) - 1 && memcmp(s, name, n) == 0)                      \
        return ELIG_HH_##e;
    ELIG_HH_STATUS_MAP(ELIG_X_)
#undef ELIG_X_
    return -1;
}

static inline const char *elig_enr_status_name(int s) {
    return s == ELIG_ENR_ACTIVE ? "active" : s == ELIG_ENR_SUSPENDED ? "suspended" : NULL;
}

#endif /* ELIG_WIRE_H */
