/* internal.h — what snap.c shares with rule.c and nobody else. */
#ifndef ELIG_INTERNAL_H
#define ELIG_INTERNAL_H

#include "elig.h"

/* Resolves (kind, id) to its family's kk and, for a NIK, the member's
 * status. 1 found, 0 not found, negative on a read failure. */
int elig_resolve_(elig_reader *r, elig_kind kind, uint64_t id, uint64_t *kk, int *member_status);

/* Loads the household record of kk into h. 1, 0 or negative as above. */
int elig_household_load_(elig_reader *r, uint64_t kk, elig_household *h);

#endif
