/* snapshot.c — see snapshot.h. */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

static snap_ref *ref_new(elig_snap *s) {
    snap_ref *r = elig_malloc(sizeof *r);
    if (!r)
        return NULL;
    r->snap = s;
    atomic_init(&r->refs, 1);
    return r;
}

void snap_ref_release(snap_ref *r) {
    if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
        log_debug("closing snapshot %s", elig_snap_meta(r->snap)->id);
        elig_snap_close(r->snap);
        elig_free(r);
    }
}

/* Opens and checks the file; elig_snap_open reads the schema version and
 * metadata and compares row counts, so a half-copied file is refused. */
static int open_ref(const char *path, bool warm, snap_ref **out, char *err, size_t errlen) {
    elig_snap *s;
    int rc = elig_snap_open(path, &s, err, errlen);
    if (rc != 0)
        return rc;
    if (warm)
        elig_snap_warm(s);
    if (!(*out = ref_new(s))) {
        elig_snap_close(s);
        snprintf(err, errlen, "%s: out of memory", path);
        return ELIG_ENOMEM;
    }
    return 0;
}

int snap_holder_init(snap_holder *h, const char *path, bool warm, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    h->path = path;
    h->warm = warm;
    atomic_init(&h->generation, 1);
    int rc = open_ref(path, warm, &h->cur, err, errlen);
    if (rc != 0)
        return rc;
    uv_mutex_init(&h->mu);
    return 0;
}

void snap_holder_destroy(snap_holder *h) {
    snap_ref_release(h->cur);
    h->cur = NULL;
    uv_mutex_destroy(&h->mu);
}

int snap_holder_reload(snap_holder *h) {
    char err[256];
    snap_ref *fresh;
    int rc = open_ref(h->path, h->warm, &fresh, err, sizeof err);
    uv_mutex_lock(&h->mu);
    snap_ref *old = NULL;
    if (rc == 0) {
        old = h->cur;
        h->cur = fresh;
        h->reload_error[0] = '\0';
        atomic_fetch_add_explicit(&h->generation, 1, memory_order_acq_rel);
    } else {
        snprintf(h->reload_error, sizeof h->reload_error, "%s", err);
    }
    uv_mutex_unlock(&h->mu);
    if (rc == 0) {
        const elig_meta *m = elig_snap_meta(fresh->snap);
        log_info("reloaded snapshot %s (%llu households, %llu members, %llu enrollments)", m->id,
                 (unsigned long long)m->households, (unsigned long long)m->members,
                 (unsigned long long)m->enrollments);
        snap_ref_release(old);
    } else {
        log_error("reload failed, still serving the previous snapshot: %s", err);
    }
    return rc;
}

snap_ref *snap_holder_acquire(snap_holder *h, uint64_t *gen) {
    uv_mutex_lock(&h->mu);
    snap_ref *r = h->cur;
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    *gen = atomic_load_explicit(&h->generation, memory_order_relaxed);
    uv_mutex_unlock(&h->mu);
    return r;
}

void snap_holder_reload_error(snap_holder *h, char *out, size_t n) {
    uv_mutex_lock(&h->mu);
    snprintf(out, n, "%s", h->reload_error);
    uv_mutex_unlock(&h->mu);
}
