/* seal.h — the checksum trailer of a snapshot file (lib/trailer.h). */
#ifndef ELIG_SNAPSHOT_SEAL_H
#define ELIG_SNAPSHOT_SEAL_H

#include <stddef.h>

/* Appends the trailer that covers the whole file at path as it is now
 * (LMDB closed), then fsyncs it. 0, or -1 with err. */
int snap_seal(const char *path, char *err, size_t errlen);

/* Removes the trailer (and signature block) of the file at path, leaving
 * LMDB's pages: for tests that change a snapshot through LMDB and seal it
 * again. 0, or -1 with err. */
int snap_unseal(const char *path, char *err, size_t errlen);

#endif
