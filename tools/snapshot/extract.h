/* extract.h — `elig-snapshot extract` and `elig-snapshot sign` (SPEC 10). */
#ifndef ELIG_SNAPSHOT_EXTRACT_H
#define ELIG_SNAPSHOT_EXTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SNAP_EXTRACT_MAX_REGIONS 32

typedef struct {
    const char *source;                             /* snapshot to extract from */
    const char *regions[SNAP_EXTRACT_MAX_REGIONS];  /* kode wilayah prefixes, 1-10 digits */
    int nregions;
    const char *out;
    const char *id;  /* NULL: "x" + time + 8 hex digits of the source content and prefixes */
    unsigned mode;   /* 0 = 0640 */
    time_t created;  /* 0 = now */
} snap_extract_opts;

typedef struct {
    char id[65];
    uint64_t households, members, enrollments, cards;
} snap_extract_result;

/* Writes the extract of o->source for o->regions at o->out, atomically
 * (temp file, seal, sync, rename). 0, or -1 with err. */
int snap_extract(const snap_extract_opts *o, snap_extract_result *res, char *err, size_t errlen);

/* Signs the snapshot at path with the Ed25519 private key in the PEM file
 * key_path: checks the file against its trailer, then writes a copy with
 * the signature block after the trailer (replacing any earlier one) and
 * renames it over path. 0, or -1 with err. */
int snap_sign(const char *path, const char *key_path, char *err, size_t errlen);

/* Checks that the snapshot at path is signed by the Ed25519 public key in
 * the PEM file pub_path (and that every byte matches its trailer). 0, or
 * -1 with err. */
int snap_check_signature(const char *path, const char *pub_path, char *err, size_t errlen);

#endif
