/* trailer.h — the bytes after LMDB's last page: the file checksum trailer
 * and the optional signature block (docs/SNAPSHOT.md, "File checksum").
 * Shared by the builder (which writes the trailer), `elig-snapshot sign`
 * (which appends the signature block) and the reader (lib/file.c).
 *
 *   [ LMDB pages: covered bytes ][ trailer, 128 B ][ signature, 128 B ]?
 *
 * Trailer, integers little-endian:
 *   off 0   8 B  magic "ELIGSUM1"
 *   off 8   u32  format version (1)
 *   off 12  u32  trailer size (128)
 *   off 16  u64  covered: bytes before the trailer (LMDB's pages)
 *   off 24  32 B SHA-256 of bytes [0, covered)
 *   off 56  40 B zero (reserved)
 *   off 96  32 B SHA-256 of trailer bytes [0, 96): a damaged trailer is
 *                told from a damaged file
 *
 * Signature block (elig-snapshot sign), right after the trailer:
 *   off 0   8 B  magic "ELIGSIG1"
 *   off 8   u32  format version (1)
 *   off 12  u32  block size (128)
 *   off 16  32 B the signer's Ed25519 public key (raw)
 *   off 48  64 B Ed25519 signature of the message below
 *   off 112 16 B zero (reserved)
 *
 * The signed message is "eligd-snapshot-signature-v1\n", the 128 trailer
 * bytes (the file's length and SHA-256, which cover every byte of the
 * metadata and the tables), then "content_sha256=" hex "\n" and
 * "snapshot_id=" id "\n" (lib/sign.c). */
#ifndef ELIG_TRAILER_H
#define ELIG_TRAILER_H

#include <stdint.h>

#define ELIG_TRAILER_SIZE 128
#define ELIG_TRAILER_MAGIC "ELIGSUM1"
#define ELIG_TRAILER_VERSION 1
#define ELIG_SIG_SIZE 128
#define ELIG_SIG_MAGIC "ELIGSIG1"
#define ELIG_SIG_VERSION 1
#define ELIG_SIG_DOMAIN "eligd-snapshot-signature-v1\n"

static inline void elig_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void elig_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t elig_get_le32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static inline uint64_t elig_get_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Fills t with the trailer for `covered` bytes whose SHA-256 is sha. */
void elig_trailer_make(unsigned char t[ELIG_TRAILER_SIZE], uint64_t covered, const unsigned char sha[32]);

/* Where the trailer of an open file lies and what it says. */
typedef struct {
    uint64_t file_size;
    uint64_t covered;      /* = offset of the trailer */
    unsigned char sha[32]; /* of [0, covered) */
    unsigned char raw[ELIG_TRAILER_SIZE];
    int has_sig;           /* a signature block follows the trailer */
    unsigned char sig[ELIG_SIG_SIZE];
} elig_trailer;

/* Reads fd's trailer (and signature block, if any) from the end of the
 * file with pread: magic, version, size and self-hash right, covered equal
 * to where the trailer starts. 0, ELIG_ECORRUPT (no trailer, a damaged
 * one, or a length that does not match: truncated or extended) or a
 * negated errno, with a reason in why[whylen]. */
int elig_trailer_read(int fd, elig_trailer *t, char *why, size_t whylen);

/* SHA-256 of fd's bytes [0, len), read sequentially. 0 or a negative
 * code. */
int elig_sha256_fd(int fd, uint64_t len, unsigned char out[32]);

#endif /* ELIG_TRAILER_H */
