/* record.h — the snapshot's on-disk layout (schema 2), shared by the
 * builder (tools/snapshot) and the reader (lib/snap.c). docs/SNAPSHOT.md
 * explains the choices; this file is the single definition of the bytes.
 *
 * One LMDB file (MDB_NOSUBDIR), five named databases:
 *
 *   "meta"  str key  -> str value   schema_version, snapshot_id, created,
 *                                    households, members, enrollments,
 *                                    sha256_households, ... (ELIG_META_*)
 *   "hh"    u64 kk   -> household record with its enrollments packed inline
 *   "nik"   u64 nik  -> member record {u64 kk, u8 status}
 *   "kks"   u64 kks  -> u64 kk
 *   "idx"   the id index of lib/index.h: any id -> file offset of its
 *           family's "hh" value. Queries use it; the three tables above
 *           are kept for ordered walks (verify, diff, extract).
 *
 * Integer keys are native-endian uint64 under MDB_INTEGERKEY, so a 16-digit
 * id is one 8-byte key compare. Values are packed with no padding and read
 * with memcpy: LMDB gives no alignment guarantee for values.
 *
 * Household value:
 *   off 0  u64 kk            the key again: a lookup through the index
 *                            reaches the value without its key
 *   off 8  u64 region        10-digit kode wilayah as a number
 *   off 16 u64 kks           meaningful when flags & ELIG_REC_HAS_KKS
 *   off 24 u32 members       member rows loaded (deceased included)
 *   off 28 u32 n_enrollments
 *   off 32 u8  status        elig_hh_status
 *   off 33 u8  flags
 *   off 34 enrollments, n_enrollments times, in the input file's order:
 *          u32 start, u32 end (ELIG_MONTH_OPEN = open), u32 amount,
 *          u8 status, u8 program_len, program bytes
 */
#ifndef ELIG_RECORD_H
#define ELIG_RECORD_H

#include <stdint.h>
#include <string.h>

#include "elig.h"

#define ELIG_DB_META "meta"
#define ELIG_DB_HH "hh"
#define ELIG_DB_NIK "nik"
#define ELIG_DB_KKS "kks"
#define ELIG_DB_MAX 8

#define ELIG_META_SCHEMA "schema_version"
#define ELIG_META_ID "snapshot_id"
#define ELIG_META_CREATED "created"
#define ELIG_META_HOUSEHOLDS "households"
#define ELIG_META_MEMBERS "members"
#define ELIG_META_ENROLLMENTS "enrollments"
#define ELIG_META_SHA_HOUSEHOLDS "sha256_households"
#define ELIG_META_SHA_MEMBERS "sha256_members"
#define ELIG_META_SHA_ENROLLMENTS "sha256_enrollments"
#define ELIG_META_CONTENT "content_sha256"
#define ELIG_META_PROGRAMS "programs" /* distinct programme names, sorted, comma-separated */
#define ELIG_PROGRAMS_TEXT_MAX (ELIG_PROGRAMS_MAX * (ELIG_WIRE_PROGRAM_MAX + 1))
#define ELIG_META_EXTRACT_OF "extract_of"           /* extracts only: source snapshot id */
#define ELIG_META_EXTRACT_SOURCE "extract_source_content_sha256"
#define ELIG_META_EXTRACT_REGIONS "extract_regions" /* extracts only: prefixes, comma-separated */

#define ELIG_REC_HAS_KKS 0x01

#define ELIG_REC_HH_HEAD 34
#define ELIG_REC_ENR_HEAD 14 /* fixed part of one enrollment */
#define ELIG_REC_MEMBER 9

typedef struct {
    uint64_t kk;
    uint64_t region;
    uint64_t kks;
    uint32_t members;
    uint32_t n_enrollments;
    uint8_t status;
    uint8_t flags;
} elig_rec_hh;

static inline uint32_t elig_rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t elig_rd64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void elig_wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void elig_wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

/* Writes the household head; returns ELIG_REC_HH_HEAD. */
static inline size_t elig_rec_hh_put(unsigned char *p, const elig_rec_hh *h) {
    elig_wr64(p, h->kk);
    elig_wr64(p + 8, h->region);
    elig_wr64(p + 16, h->kks);
    elig_wr32(p + 24, h->members);
    elig_wr32(p + 28, h->n_enrollments);
    p[32] = h->status;
    p[33] = h->flags;
    return ELIG_REC_HH_HEAD;
}

static inline void elig_rec_hh_get(const unsigned char *p, elig_rec_hh *h) {
    h->kk = elig_rd64(p);
    h->region = elig_rd64(p + 8);
    h->kks = elig_rd64(p + 16);
    h->members = elig_rd32(p + 24);
    h->n_enrollments = elig_rd32(p + 28);
    h->status = p[32];
    h->flags = p[33];
}

/* Writes one enrollment; returns its size, ELIG_REC_ENR_HEAD + program_len. */
static inline size_t elig_rec_enr_put(unsigned char *p, const elig_enrollment *e) {
    elig_wr32(p, e->start);
    elig_wr32(p + 4, e->end);
    elig_wr32(p + 8, e->amount);
    p[12] = (unsigned char)e->status;
    p[13] = e->program_len;
    memcpy(p + 14, e->program, e->program_len);
    return ELIG_REC_ENR_HEAD + (size_t)e->program_len;
}

/* Reads one enrollment (program points into p); returns its size. */
static inline size_t elig_rec_enr_get(const unsigned char *p, elig_enrollment *e) {
    e->start = elig_rd32(p);
    e->end = elig_rd32(p + 4);
    e->amount = elig_rd32(p + 8);
    e->status = (elig_enr_status)p[12];
    e->program_len = p[13];
    e->program = (const char *)p + 14;
    return ELIG_REC_ENR_HEAD + (size_t)e->program_len;
}

/* Points h's enrollments (elig_household.opaque_, read by
 * elig_household_next) at the packed enrollments p[0..len) of a household
 * value. */
static inline void elig_rec_hh_set_enrollments(elig_household *h, const unsigned char *p, size_t len) {
    h->opaque_[0] = p;
    h->opaque_[1] = (const void *)(uintptr_t)len;
}

static inline void elig_rec_member_put(unsigned char *p, uint64_t kk, uint8_t status) {
    elig_wr64(p, kk);
    p[8] = status;
}

/* Checks that a household value of len bytes is well-formed: the head, every
 * enrollment inside the value, programme lengths 1-16. Returns 0 or
 * ELIG_ECORRUPT. The reader calls it once per lookup; verify on every row. */
static inline int elig_rec_hh_check(const unsigned char *p, size_t len) {
    if (len < ELIG_REC_HH_HEAD)
        return ELIG_ECORRUPT;
    elig_rec_hh h;
    elig_rec_hh_get(p, &h);
    if (h.status >= ELIG_HH_STATUS_COUNT || (h.flags & ~ELIG_REC_HAS_KKS))
        return ELIG_ECORRUPT;
    size_t off = ELIG_REC_HH_HEAD;
    for (uint32_t i = 0; i < h.n_enrollments; i++) {
        if (len - off < ELIG_REC_ENR_HEAD)
            return ELIG_ECORRUPT;
        if (p[off + 12] > ELIG_ENR_SUSPENDED)
            return ELIG_ECORRUPT;
        uint8_t plen = p[off + 13];
        if (plen == 0 || plen > ELIG_WIRE_PROGRAM_MAX || len - off - ELIG_REC_ENR_HEAD < plen)
            return ELIG_ECORRUPT;
        off += ELIG_REC_ENR_HEAD + plen;
    }
    return off == len ? 0 : ELIG_ECORRUPT;
}

#endif /* ELIG_RECORD_H */
