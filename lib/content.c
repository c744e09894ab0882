/* content.c — content_sha256 (content.h). Rows are serialised in a fixed
 * binary form, little-endian, so that another implementation (the tests'
 * Python, an auditor's) can reproduce the digest from the CSV files:
 *
 *   "eligd-content-v1\n"
 *   per household, in kk order:
 *     'H' u64 kk, u64 region, u8 status, u8 has_kks, u64 kks (0 if none)
 *     then per enrollment, by programme (bytewise) then start month:
 *     'E' u8 program_len, program, u32 start, u32 end, u32 amount, u8 status
 *   per member, in nik order:
 *     'M' u64 nik, u64 kk, u8 status
 *
 * Months are year * 12 + month - 1, an open end 0xFFFFFFFF; statuses are
 * the numbers of elig_wire.h (household active 0, suspended 1, graduated 2,
 * terminated 3; member alive 0, deceased 1; enrollment active 0, suspended
 * 1). Input order, ids, times and the file's layout do not enter it. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "record.h"
#include "trailer.h"

static int say(char *why, size_t whylen, int code, const char *msg) {
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return code;
}

void elig_hex32_(const unsigned char in[32], char out[65]) {
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[64] = '\0';
}

static int cmp_enr(const void *pa, const void *pb) {
    const elig_enrollment *a = pa, *b = pb;
    size_t n = a->program_len < b->program_len ? a->program_len : b->program_len;
    int c = memcmp(a->program, b->program, n);
    if (c == 0)
        c = (int)a->program_len - (int)b->program_len;
    if (c == 0)
        c = (a->start > b->start) - (a->start < b->start);
    return c;
}

typedef struct {
    EVP_MD_CTX *ctx;
    unsigned char buf[1 << 16];
    size_t n;
    int ok;
} hasher;

static void put(hasher *h, const void *p, size_t n) {
    if (h->n + n > sizeof h->buf) {
        h->ok = h->ok && EVP_DigestUpdate(h->ctx, h->buf, h->n);
        h->n = 0;
    }
    memcpy(h->buf + h->n, p, n);
    h->n += n;
}

static void put8(hasher *h, uint8_t v) { put(h, &v, 1); }
static void put32(hasher *h, uint32_t v) {
    unsigned char b[4];
    elig_le32(b, v);
    put(h, b, 4);
}
static void put64(hasher *h, uint64_t v) {
    unsigned char b[8];
    elig_le64(b, v);
    put(h, b, 8);
}

/* One household row and its enrollments, sorted. */
static int household(hasher *h, const MDB_val *v, elig_enrollment **enr, size_t *cap) {
    const unsigned char *p = v->mv_data;
    if (elig_rec_hh_check(p, v->mv_size) != 0)
        return ELIG_ECORRUPT;
    elig_rec_hh r;
    elig_rec_hh_get(p, &r);
    bool has = (r.flags & ELIG_REC_HAS_KKS) != 0;
    put8(h, 'H');
    put64(h, r.kk);
    put64(h, r.region);
    put8(h, r.status);
    put8(h, has);
    put64(h, has ? r.kks : 0);
    if (r.n_enrollments > *cap) {
        elig_enrollment *e = realloc(*enr, r.n_enrollments * sizeof *e);
        if (!e)
            return ELIG_ENOMEM;
        *enr = e;
        *cap = r.n_enrollments;
    }
    size_t off = ELIG_REC_HH_HEAD;
    for (uint32_t i = 0; i < r.n_enrollments; i++)
        off += elig_rec_enr_get(p + off, &(*enr)[i]);
    if (r.n_enrollments > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(*enr, r.n_enrollments, sizeof **enr, cmp_enr);
    for (uint32_t i = 0; i < r.n_enrollments; i++) {
        const elig_enrollment *e = &(*enr)[i];
        put8(h, 'E');
        put8(h, e->program_len);
        put(h, e->program, e->program_len);
        put32(h, e->start);
        put32(h, e->end);
        put32(h, e->amount);
        put8(h, (uint8_t)e->status);
    }
    return 0;
}

static int walk(hasher *h, MDB_txn *txn, MDB_dbi dbi, bool members, char *why, size_t whylen) {
    MDB_cursor *cur;
    MDB_val k, v;
    elig_enrollment *enr = NULL;
    size_t cap = 0;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return say(why, whylen, ELIG_EIO, "cannot walk a table");
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = ELIG_ECORRUPT;
            break;
        }
        if (members) {
            if (v.mv_size != ELIG_REC_MEMBER) {
                rc = ELIG_ECORRUPT;
                break;
            }
            put8(h, 'M');
            put64(h, elig_rd64(k.mv_data));
            put64(h, elig_rd64(v.mv_data));
            put8(h, ((const unsigned char *)v.mv_data)[8]);
        } else if ((rc = household(h, &v, &enr, &cap)) != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    free(enr);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == ELIG_ENOMEM)
        return say(why, whylen, rc, "out of memory");
    return say(why, whylen, rc == ELIG_ECORRUPT ? rc : ELIG_EIO,
               members ? "a member record is malformed" : "a household record is malformed");
}

int elig_content_sha256_(MDB_txn *txn, MDB_dbi hh, MDB_dbi nik, unsigned char out[32], char *why, size_t whylen) {
    hasher *h = malloc(sizeof *h);
    if (!h)
        return say(why, whylen, ELIG_ENOMEM, "out of memory");
    h->ctx = EVP_MD_CTX_new();
    h->n = 0;
    h->ok = h->ctx && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
    put(h, ELIG_CONTENT_DOMAIN, strlen(ELIG_CONTENT_DOMAIN));
    int rc = walk(h, txn, hh, false, why, whylen);
    if (rc == 0)
        rc = walk(h, txn, nik, true, why, whylen);
    unsigned int len;
    h->ok = h->ok && EVP_DigestUpdate(h->ctx, h->buf, h->n) && EVP_DigestFinal_ex(h->ctx, out, &len);
    if (rc == 0 && !h->ok)
        rc = say(why, whylen, ELIG_ENOMEM, "SHA-256 failed");
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return rc;
}
