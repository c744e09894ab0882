/* snapmeta.h — what the daemon reports about a snapshot beyond elig_meta's
 * schema-1 fields: its content hash and its programme names (SPEC 8, 9).
 *
 * The one place where the daemon (info, reload, /metrics) learns them, so
 * that the snapshot side's additions are wired here and nowhere else:
 *
 *   content_sha256  elig_meta.content_sha256 (schema 2, issue: snapshot
 *                   publishing). Until elig.h has it: NULL, which info and
 *                   reload send as nil and /metrics as an empty label.
 *   programs        elig_snap_programs() (same issue). Until it exists:
 *                   -1, "not known", which info sends as nil (never as an
 *                   empty list: that would claim the snapshot has none).
 *
 * Header-only: both halves of the daemon (eligd_io, eligd_path) use it. */
#ifndef ELIGD_SNAPMETA_H
#define ELIGD_SNAPMETA_H

#include <stddef.h>

#include "elig.h"

/* The snapshot's content hash as 64 hex digits, or NULL if not known.
 * Valid while the snapshot is open. WIRE: return m->content_sha256. */
static inline const char *snapmeta_content_sha256(const elig_meta *m) {
    (void)m;
    return NULL;
}

/* The programme names the snapshot holds: (*names)[0..n), NUL-terminated,
 * valid while the snapshot is open. Returns n, or -1 if this build cannot
 * tell. WIRE: call elig_snap_programs(). */
static inline int snapmeta_programs(const elig_snap *s, const char *const **names) {
    (void)s;
    *names = NULL;
    return -1;
}

#endif
