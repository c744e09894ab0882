/* snapmeta.h — what the daemon reports about a snapshot beyond its ids
 * and counts: its content hash and its programme names (SPEC 8, 9), the one
 * place where the daemon (info, reload, /metrics) learns them:
 *
 *   content_sha256  elig_meta.content_sha256; NULL if empty, which info and
 *                   reload send as nil and /metrics as an empty label.
 *   programs        elig_snap_programs(); -1, "not known", for a file that
 *                   does not record them, which info sends as nil (never as
 *                   an empty list: that would claim the snapshot has none).
 *
 * Header-only: both halves of the daemon (eligd_io, eligd_path) use it. */
#ifndef ELIGD_SNAPMETA_H
#define ELIGD_SNAPMETA_H

#include <stddef.h>

#include "elig.h"

/* The snapshot's content hash as 64 hex digits, or NULL if not known.
 * Valid while the snapshot is open. */
static inline const char *snapmeta_content_sha256(const elig_meta *m) {
    return m->content_sha256[0] ? m->content_sha256 : NULL;
}

/* The programme names the snapshot holds: (*names)[0..n), NUL-terminated,
 * valid while the snapshot is open. Returns n, or -1 if the file does not
 * say. */
static inline int snapmeta_programs(const elig_snap *s, const char *const **names) {
    return elig_snap_programs(s, names);
}

#endif
