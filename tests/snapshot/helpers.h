/* helpers.h — shared by the builder's unit tests: a scratch directory per
 * test, files written into it, one build of three CSV strings, and reading
 * a file back. */
#ifndef ELIG_TEST_SNAPSHOT_HELPERS_H
#define ELIG_TEST_SNAPSHOT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "build.h"

typedef struct {
    char dir[256];
    char path[SNAP_NFILES][300];
    char out[300];
    char rejects[300];
    snap_build_result res;
    char err[4096];
} tcase;

/* cmocka setup/teardown: *state becomes a tcase with a fresh directory. */
int tcase_setup(void **state);
int tcase_teardown(void **state);

/* dir/name with content (len bytes; -1 = strlen). Returns the path in a
 * static buffer rotation of 4. */
const char *write_file(const tcase *t, const char *name, const char *content, long len);

/* Writes the three inputs (NULL = header only) and builds with the given
 * ratio and id (NULL = default) into t->out; returns snap_build's code. */
int build3(tcase *t, const char *hh, const char *mem, const char *enr, double ratio, const char *id);

/* The whole file as a NUL-terminated malloc'd string (NULL if absent);
 * *len gets its size if len is not NULL. */
char *slurp(const char *path, size_t *len);

/* The rejects file of the last build, minus its header line (which must be
 * exactly "file,line,reason,raw"): checks it equals want. */
void assert_rejects(const tcase *t, const char *want);

/* Header lines of the three files, as SPEC 1 lists the columns. */
#define HH_HEADER "kk,region,status,kks,head_name\n"
#define MEM_HEADER "nik,kk,status,birth_date\n"
#define ENR_HEADER "kk,program,start,end,amount,status\n"

#endif
