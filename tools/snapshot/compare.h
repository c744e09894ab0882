/* compare.h — two snapshots side by side: the publishing guard of
 * `elig-snapshot build` and `elig-snapshot diff` (SPEC 8).
 *
 * Both walk the snapshots' key-ordered tables with LMDB cursors: the guard
 * counts one snapshot at a time, the diff merges the two (a merge of two
 * sorted streams, never a lookup per row). */
#ifndef ELIG_SNAPSHOT_COMPARE_H
#define ELIG_SNAPSHOT_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "elig.h"

#define CMP_MAX_PROGRAMS 256
#define CMP_PROVINCES 100 /* province codes 11-99 index themselves */

/* What one snapshot holds, for the guard. */
typedef struct {
    char id[65];
    uint64_t households, members, enrollments;
    uint32_t nprog;
    char prog[CMP_MAX_PROGRAMS][17];      /* NUL-terminated, in first-seen order */
    uint64_t eligible[CMP_MAX_PROGRAMS];  /* families eligible in the month */
} cmp_stats;

/* Counts of the snapshot at path for month m. 0, or -1 with err. */
int cmp_stats_of(const char *path, elig_month m, cmp_stats *st, char *err, size_t errlen);

/* The guard: every count of next against prev, |next - prev| / prev (a
 * count that was 0 changes by 1.0 if it is not 0 now). Prints the table of
 * what moved to out; returns true if every change is <= max_change. */
bool cmp_guard(const cmp_stats *prev, const cmp_stats *next, double max_change, elig_month m, FILE *out);

/* One row of the diff's eligibility tables. */
typedef struct {
    uint64_t eligible_old, eligible_new, gained, lost;
    uint64_t amount_old, amount_new; /* the month's total, Rupiah */
} cmp_elig;

typedef struct {
    uint64_t added, removed, changed, rows_old, rows_new;
} cmp_table;

typedef struct {
    char old_id[65], new_id[65], old_content[65], new_content[65];
    elig_month period;
    cmp_table households, members, enrollments;
    uint32_t nprog;
    char prog[CMP_MAX_PROGRAMS][17];
    cmp_elig by_prog[CMP_MAX_PROGRAMS];
    cmp_elig by_prov[CMP_PROVINCES][CMP_MAX_PROGRAMS];
} cmp_diff;

/* Merges snapshots old_path and new_path for period m into *d (large:
 * allocate it). 0, or -1 with err. */
int cmp_diff_run(const char *old_path, const char *new_path, elig_month m, cmp_diff *d, char *err, size_t errlen);

/* The diff as people read it (Rupiah as `Rp 1.234.567.000`) or as JSON. */
void cmp_diff_print(const cmp_diff *d, bool json, FILE *out);

/* n Rupiah as `Rp 1.234.567.000` (with `-` or `+` first when sign is set
 * and n is not 0) into out[cap]. */
void cmp_rupiah(int64_t n, bool sign, char *out, size_t cap);

#endif /* ELIG_SNAPSHOT_COMPARE_H */
