/* bigmem.c — see bigmem.h. */
#include "bigmem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
/* Under a sanitizer, the C allocator it watches: ThreadSanitizer cannot see
 * that a region one thread unmapped and another got back from mmap is not
 * shared, and AddressSanitizer checks malloc'd bounds. */
void *big_alloc(size_t n) { return calloc(1, n); }

void *big_realloc(void *p, size_t old, size_t n) {
    unsigned char *q = realloc(p, n);
    if (q && n > old)
        memset(q + old, 0, n - old);
    return q;
}

void big_free(void *p, size_t n) {
    (void)n;
    free(p);
}
#else
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
#endif
