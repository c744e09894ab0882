/* reject.h — reject reason codes of SPEC section 1, in precedence order
 * (a row takes the first that applies). One table feeds the enum and the
 * names written to the rejects file. */
#ifndef ELIG_SNAPSHOT_REJECT_H
#define ELIG_SNAPSHOT_REJECT_H

#include "elig.h"
#include "rejectmap.h"

#define SNAP_REASON_MAP(X) ELIG_REJECT_MAP(X) /* lib/rejectmap.h */

/* 0 means "not rejected"; codes fit in 5 bits of a packed row. */
typedef enum {
    SNAP_OK = 0,
#define SNAP_X_(e, s) SNAP_##e,
    SNAP_REASON_MAP(SNAP_X_)
#undef SNAP_X_
    SNAP_REASON_COUNT
} snap_reason;

/* The code written in the rejects file, e.g. "unknown_kk". */
static inline const char *snap_reason_name(snap_reason r) {
    switch (r) {
#define SNAP_X_(e, s)                                                          \
    case SNAP_##e:                                                             \
        return s;
        SNAP_REASON_MAP(SNAP_X_)
#undef SNAP_X_
    default:
        return "?";
    }
}

#endif /* ELIG_SNAPSHOT_REJECT_H */
