/* alloc.h — the one allocator seam (libuv's uv_replace_allocator, Redis's
 * zmalloc).
 *
 * Every allocation of eligd's request path and connection buffers
 * (daemon/buf.h, conn.c, query.c, worker.c, snapshot.c) and of the
 * snapshot reader (lib/snap.c) goes through elig_malloc and friends, so
 * that a test can fail the Nth allocation and count what is never freed
 * (tests/daemon/test_oom.c, tests/lib/test_alloc.c; libuv's
 * test/test-loop-oom.c is the model). The defaults are the C library's.
 *
 * Threads: elig_replace_allocator must be called before any other thread
 * allocates through the seam and before anything allocated with the old
 * functions is freed with the new ones (in practice: first thing in main,
 * or in a test with nothing outstanding). The functions given must be
 * thread-safe if the program has threads. LMDB, libuv and msgpack-c keep
 * their own allocators. */
#ifndef ELIG_ALLOC_H
#define ELIG_ALLOC_H

#include <stddef.h>

typedef void *(*elig_malloc_fn)(size_t size);
typedef void *(*elig_calloc_fn)(size_t count, size_t size);
typedef void *(*elig_realloc_fn)(void *ptr, size_t size);
typedef void (*elig_free_fn)(void *ptr);

/* Replaces the four functions, all at once. 0, or ELIG_EINVAL (nothing
 * changed) if any is NULL. */
int elig_replace_allocator(elig_malloc_fn m, elig_calloc_fn c, elig_realloc_fn r, elig_free_fn f);

/* As malloc, calloc, realloc and free; NULL on failure (realloc then
 * leaves ptr untouched). elig_free(NULL) does nothing. */
void *elig_malloc(size_t size);
void *elig_calloc(size_t count, size_t size);
void *elig_realloc(void *ptr, size_t size);
void elig_free(void *ptr);
/* strdup through the seam. */
char *elig_strdup(const char *s);

#endif
