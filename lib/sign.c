/* sign.c — checking a snapshot's Ed25519 signature (sign.h), with
 * OpenSSL's EVP interface; its errors become ELIG_ESIGNATURE here. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "elig.h"
#include "sign.h"

static int say(char *why, size_t whylen, const char *msg) {
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return ELIG_ESIGNATURE;
}

size_t elig_sig_message_(const unsigned char trailer[ELIG_TRAILER_SIZE], const char *content_hex, const char *id,
                         unsigned char *msg, size_t cap) {
    size_t n = strlen(ELIG_SIG_DOMAIN);
    if (cap < n + ELIG_TRAILER_SIZE)
        return 0;
    memcpy(msg, ELIG_SIG_DOMAIN, n);
    memcpy(msg + n, trailer, ELIG_TRAILER_SIZE);
    n += ELIG_TRAILER_SIZE;
    int k = snprintf((char *)msg + n, cap - n, "content_sha256=%s\nsnapshot_id=%s\n", content_hex, id);
    return k < 0 || (size_t)k >= cap - n ? 0 : n + (size_t)k;
}

int elig_pubkey_from_pem_(const char *pem, size_t len, unsigned char raw[32], char *why, size_t whylen) {
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    size_t n = 32;
    int rc = 0;
    if (!key)
        rc = say(why, whylen, "not a PEM public key");
    else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
        rc = say(why, whylen, "the public key is not an Ed25519 key");
    else if (!EVP_PKEY_get_raw_public_key(key, raw, &n) || n != 32)
        rc = say(why, whylen, "cannot read the public key");
    EVP_PKEY_free(key);
    return rc;
}

int elig_sig_check_(const elig_trailer *t, const char *content_hex, const char *id, const unsigned char pub[32],
                    char *why, size_t whylen) {
    if (!t->has_sig)
        return say(why, whylen, "unsigned: no signature block after the checksum trailer");
    const unsigned char *b = t->sig;
    static const unsigned char zero[16];
    if (elig_get_le32(b + 8) != ELIG_SIG_VERSION || elig_get_le32(b + 12) != ELIG_SIG_SIZE ||
        memcmp(b + 112, zero, sizeof zero) != 0)
        return say(why, whylen, "the signature block is damaged or of an unknown version");
    if (memcmp(b + 16, pub, 32) != 0)
        return say(why, whylen, "signed by another key than the one given");
    unsigned char msg[512];
    size_t len = elig_sig_message_(t->raw, content_hex, id, msg, sizeof msg);
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = len && key && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, b + 48, 64, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok ? 0 : say(why, whylen, "the signature does not match the snapshot (altered after signing)");
}
