/* internal.h — what snap.c shares with rule.c and nobody else. */
#ifndef ELIG_INTERNAL_H
#define ELIG_INTERNAL_H

#include "elig.h"

/* Resolves (kind, id) through the id index to its family's household:
 * 1 and h (and, for a NIK, the member's status) if found, 0 if the id names
 * nothing, ELIG_ECORRUPT if the index or the record is damaged. */
int elig_find_(elig_reader *r, elig_kind kind, uint64_t id, elig_household *h, int *member_status);

#endif
