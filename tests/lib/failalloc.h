/* failalloc.h — an allocator for the seam (lib/alloc.h) that fails the Nth
 * allocation and counts the blocks not yet freed, for the tests that walk
 * every allocation of a code path (libuv's test/test-loop-oom.c is the
 * model). Single-threaded use only. Header-only: include it once per test
 * program. */
#ifndef ELIG_TEST_FAILALLOC_H
#define ELIG_TEST_FAILALLOC_H

#include <stdbool.h>
#include <stdlib.h>

#include "alloc.h"

static long fa_live;    /* blocks handed out through the seam, not yet freed */
static long fa_calls;   /* allocations asked for since fa_arm */
static long fa_fail_at; /* fail this one (1-based); 0: none */

static bool fa_fail_now(void) { return ++fa_calls == fa_fail_at; }

static void *fa_malloc(size_t n) {
    if (fa_fail_now())
        return NULL;
    void *p = malloc(n);
    fa_live += p != NULL;
    return p;
}

static void *fa_calloc(size_t k, size_t n) {
    if (fa_fail_now())
        return NULL;
    void *p = calloc(k, n);
    fa_live += p != NULL;
    return p;
}

static void *fa_realloc(void *old, size_t n) {
    if (fa_fail_now())
        return NULL;
    void *p = realloc(old, n);
    fa_live += p != NULL && old == NULL;
    return p;
}

static void fa_free(void *p) {
    fa_live -= p != NULL;
    free(p);
}

/* Installs the counting allocator (call before anything is allocated
 * through the seam). */
static void fa_install(void) { elig_replace_allocator(fa_malloc, fa_calloc, fa_realloc, fa_free); }

/* From now on, fail allocation number n (1-based); 0 fails none. */
static void fa_arm(long n) {
    fa_calls = 0;
    fa_fail_at = n;
}

/* True if the armed failure happened. */
static bool fa_injected(void) { return fa_fail_at && fa_calls >= fa_fail_at; }

static void fa_disarm(void) { fa_fail_at = 0; }

#endif
