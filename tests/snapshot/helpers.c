/* helpers.c — see helpers.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

int tcase_setup(void **state) {
    tcase *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(t->dir, sizeof t->dir, "%s/elig-snapshot-test-XXXXXX", base);
    if (!mkdtemp(t->dir))
        return -1;
    static const char *names[] = {"households.csv", "members.csv", "enrollments.csv"};
    for (int f = 0; f < SNAP_NFILES; f++)
        snprintf(t->path[f], sizeof t->path[f], "%s/%s", t->dir, names[f]);
    snprintf(t->out, sizeof t->out, "%s/snap.mdb", t->dir);
    snprintf(t->rejects, sizeof t->rejects, "%s/rejects.csv", t->dir);
    *state = t;
    return 0;
}

int tcase_teardown(void **state) {
    tcase *t = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

const char *write_file(const tcase *t, const char *name, const char *content, long len) {
    static char paths[4][300];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 300, "%s/%s", t->dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    size_t n = len < 0 ? strlen(content) : (size_t)len;
    assert_int_equal(fwrite(content, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return p;
}

int build3(tcase *t, const char *hh, const char *mem, const char *enr, double ratio, const char *id) {
    write_file(t, "households.csv", hh ? hh : HH_HEADER, -1);
    write_file(t, "members.csv", mem ? mem : MEM_HEADER, -1);
    write_file(t, "enrollments.csv", enr ? enr : ENR_HEADER, -1);
    snap_build_opts o = {
        .input = {t->path[0], t->path[1], t->path[2]},
        .out = t->out,
        .rejects = t->rejects,
        .max_reject_ratio = ratio,
        .id = id,
        .created = 1795822800, /* 2026-11-27T23:40:00Z */
        .no_guard = true,      /* tests that rebuild out with other rows; the guard has its own */
    };
    t->err[0] = '\0';
    return snap_build(&o, &t->res, t->err, sizeof t->err);
}

char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void assert_rejects(const tcase *t, const char *want) {
    char *got = slurp(t->rejects, NULL);
    assert_non_null(got);
    const char *header = "file,line,reason,raw\n";
    assert_memory_equal(got, header, strlen(header));
    assert_string_equal(got + strlen(header), want);
    free(got);
}
