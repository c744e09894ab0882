/* content.h — content_sha256: a digest of a snapshot's rows, not of its
 * bytes (docs/SNAPSHOT.md gives the exact serialisation). The builder and
 * elig_snap_content_sha256 both call this, on a transaction of their own. */
#ifndef ELIG_CONTENT_H
#define ELIG_CONTENT_H

#include <lmdb.h>
#include <stddef.h>

#define ELIG_CONTENT_DOMAIN "eligd-content-v1\n"

/* Walks "hh" (households, each followed by its enrollments sorted by
 * programme then start) and "nik" (members) in key order and hashes their
 * canonical rows. 0, or ELIG_ECORRUPT / ELIG_EIO / ELIG_ENOMEM with a
 * reason in why[whylen]. */
int elig_content_sha256_(MDB_txn *txn, MDB_dbi hh, MDB_dbi nik, unsigned char out[32], char *why, size_t whylen);

/* 32 bytes as 64 lower-case hex digits and a NUL. */
void elig_hex32_(const unsigned char in[32], char out[65]);

#endif
