/* bigmem.c — see bigmem.h. */
#include "bigmem.h"

#include <sys/mman.h>

void *big_alloc(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, n, MADV_HUGEPAGE);
    return p;
}

void *big_realloc(void *p, size_t old, size_t n) {
    if (!p || old == 0)
        return big_alloc(n);
    void *q = mremap(p, old, n, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return NULL;
    madvise(q, n, MADV_HUGEPAGE);
    return q;
}

void big_free(void *p, size_t n) {
    if (p && n)
        munmap(p, n);
}
