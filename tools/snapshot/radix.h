/* radix.h — LSD radix sort of fixed-size records on a uint64 key.
 *
 * The builder sorts tens of millions of packed rows by 54-bit ids: a
 * byte-wise LSD radix sort is linear, stable (so a second sort on a more
 * significant key keeps the order of the first) and skips the byte
 * positions where every key agrees. */
#ifndef ELIG_SNAPSHOT_RADIX_H
#define ELIG_SNAPSHOT_RADIX_H

#include <stddef.h>

/* Sorts n records of size bytes at base, ascending and stable, by the
 * native uint64 at byte offset key_off of each record (any alignment).
 * Uses a temporary copy of the array (n * size bytes) for the duration.
 * Returns 0, or -1 if that memory could not be had (base is then
 * unchanged). An already sorted array costs one read. */
int radix_sort(void *base, size_t n, size_t size, size_t key_off);
/* The same with the caller's scratch space tmp of n * size bytes, so a
 * series of sorts zero-fills (page-faults) its buffer once. Cannot fail. */
void radix_sort_with(void *base, void *tmp, size_t n, size_t size, size_t key_off);

#endif /* ELIG_SNAPSHOT_RADIX_H */
