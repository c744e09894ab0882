/* bigmem.h — memory for the builder's large arrays (rows, sort buffers).
 *
 * Anonymous mappings advised MADV_HUGEPAGE: a national build touches tens
 * of GiB of row arrays, and with 4 KiB pages the page faults alone cost
 * seconds (more inside a VM). Growing remaps instead of copying. */
#ifndef ELIG_SNAPSHOT_BIGMEM_H
#define ELIG_SNAPSHOT_BIGMEM_H

#include <stddef.h>

/* n bytes (n > 0), zero-filled; NULL if none. */
void *big_alloc(size_t n);
/* Grows p (old bytes, or NULL/0) to n bytes keeping its contents; NULL if
 * that failed (p is then unchanged). */
void *big_realloc(void *p, size_t old, size_t n);
/* Frees p of n bytes (NULL is fine). */
void big_free(void *p, size_t n);

#endif /* ELIG_SNAPSHOT_BIGMEM_H */
