/* alloc.c — see alloc.h. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "elig.h"

static struct {
    elig_malloc_fn malloc;
    elig_calloc_fn calloc;
    elig_realloc_fn realloc;
    elig_free_fn free;
} fns = {malloc, calloc, realloc, free};

int elig_replace_allocator(elig_malloc_fn m, elig_calloc_fn c, elig_realloc_fn r, elig_free_fn f) {
    if (!m || !c || !r || !f)
        return ELIG_EINVAL;
    fns.malloc = m;
    fns.calloc = c;
    fns.realloc = r;
    fns.free = f;
    return 0;
}

void *elig_malloc(size_t size) { return fns.malloc(size); }

void *elig_calloc(size_t count, size_t size) { return fns.calloc(count, size); }

void *elig_realloc(void *ptr, size_t size) { return fns.realloc(ptr, size); }

void elig_free(void *ptr) {
    if (ptr)
        fns.free(ptr);
}

char *elig_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = elig_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
