/* report.h — elig-audit trail and stats: what the records say, for a
 * person (SPEC 7: by their NIK, and by their family's KK and KKS card as
 * resolved in a snapshot) or in total (by channel, method and result). */
#ifndef ELIG_AUDIT_REPORT_H
#define ELIG_AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "segdir.h"

typedef struct {
    uint64_t since_us, until_us; /* [since, until) */
    bool json;
    int threads;                 /* 0: one per core */
} report_opts;

/* Parses a --since/--until value: RFC 3339 (2026-12-01T10:00:00Z,
 * fractions and offsets allowed) or a date (2026-12-01, UTC). A date as
 * --until means the end of that day. Writes the bound in microseconds
 * (exclusive for until). false if the text is neither. */
bool report_parse_time(const char *s, bool until, uint64_t *us);

/* elig-audit trail: prints the records about (kind, id); the family is
 * resolved in the snapshot at snap_path. Returns the exit status. */
int report_trail(const segfile *f, int n, const char *snap_path, int kind, uint64_t id, const char *id_text,
                 const report_opts *o);

/* elig-audit stats. Returns the exit status. */
int report_stats(const segfile *f, int n, const report_opts *o);

#endif
