/* verify.h — `elig-snapshot info` and `verify`: reading a snapshot back. */
#ifndef ELIG_SNAPSHOT_VERIFY_H
#define ELIG_SNAPSHOT_VERIFY_H

#include <stddef.h>
#include <stdio.h>

/* Prints the metadata of the snapshot at path as `key: value` lines on
 * out. 0, or -1 with a one-line reason in err. */
int snap_info(const char *path, FILE *out, char *err, size_t errlen);

/* Re-checks the whole snapshot at path: metadata (schema known, every key
 * present and well-formed, counts equal to the tables), every household
 * record well-formed with its enrollments valid, ordered and not
 * overlapping, every member pointing at an existing household, member
 * counts agreeing with the nik table, the kks table and the households'
 * cards agreeing both ways. 0 with a one-line summary in ok[oklen], or -1
 * with the first problem found in err. */
int snap_verify(const char *path, char *ok, size_t oklen, char *err, size_t errlen);

#endif /* ELIG_SNAPSHOT_VERIFY_H */
