/* sign.h — Ed25519 signatures of snapshots (trailer.h lays out the block;
 * docs/SNAPSHOT.md "Signatures"). The library checks them; the signing
 * itself is elig-snapshot's (tools/snapshot/sign.c). */
#ifndef ELIG_SIGN_H
#define ELIG_SIGN_H

#include <stddef.h>

#include "trailer.h"

/* The signed message: ELIG_SIG_DOMAIN, the 128 trailer bytes (the file's
 * length and SHA-256, which cover every byte of the metadata), then
 * "content_sha256=" hex "\n" "snapshot_id=" id "\n". Writes at most cap
 * bytes into msg; returns the message's length. */
size_t elig_sig_message_(const unsigned char trailer[ELIG_TRAILER_SIZE], const char *content_hex, const char *id,
                         unsigned char *msg, size_t cap);

/* The raw 32-byte Ed25519 public key of a PEM text ("-----BEGIN PUBLIC
 * KEY-----", as `openssl pkey -pubout` writes it). 0, or ELIG_ESIGNATURE
 * with a reason in why. */
int elig_pubkey_from_pem_(const char *pem, size_t len, unsigned char raw[32], char *why, size_t whylen);

/* Checks t's signature block: present, made by the key pub, valid over
 * the message of t, content_hex and id. 0, or ELIG_ESIGNATURE with a reason
 * (unsigned, signed by another key, or not valid) in why. */
int elig_sig_check_(const elig_trailer *t, const char *content_hex, const char *id, const unsigned char pub[32],
                    char *why, size_t whylen);

#endif
