/* private.h — the sealed in-memory copy behind ELIG_SNAP_PRIVATE. */
#ifndef ELIG_PRIVATE_H
#define ELIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "trailer.h"

/* Copies the file open at *fd (whose trailer t was read) into a sealed
 * memfd, hashing what it copies and comparing with the trailer if verify;
 * on success closes *fd and replaces it with the memfd. 0, or a negative
 * code (ELIG_ECHECKSUM for a mismatch) with a one-line reason naming path
 * in err. */
int elig_private_copy_(int *fd, const elig_trailer *t, bool verify, const char *path, char *err, size_t errlen);

#endif
