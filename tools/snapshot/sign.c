/* sign.c — `elig-snapshot sign` and the --pubkey check of verify: the
 * Ed25519 signature block after the checksum trailer (lib/trailer.h,
 * lib/sign.h; docs/SNAPSHOT.md "Signatures"). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elig.h"
#include "extract.h"
#include "sign.h"
#include "trailer.h"

static int say(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The whole (small) file at path, malloc'd; NULL with err. */
static char *read_small(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        say(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(65536);
    *len = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (!buf || *len == 0) {
        free(buf);
        say(err, errlen, "%s: empty or unreadable", path);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

/* Copies [0, n) of in to out. */
static int copy_bytes(int in, int out, uint64_t n) {
    char buf[1 << 16];
    for (uint64_t off = 0; off < n;) {
        size_t want = n - off < sizeof buf ? (size_t)(n - off) : sizeof buf;
        ssize_t got = pread(in, buf, want, (off_t)off);
        if (got <= 0 || write(out, buf, (size_t)got) != got)
            return -1;
        off += (uint64_t)got;
    }
    return 0;
}

int snap_sign(const char *path, const char *key_path, char *err, size_t errlen) {
    size_t klen;
    char *pem = read_small(key_path, &klen, err, errlen);
    if (!pem)
        return -1;
    BIO *bio = BIO_new_mem_buf(pem, (int)klen);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    free(pem);
    unsigned char pub[32];
    size_t publen = sizeof pub;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 || !EVP_PKEY_get_raw_public_key(key, pub, &publen)) {
        EVP_PKEY_free(key);
        return say(err, errlen, "%s: not an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)",
                   key_path);
    }
    /* sign only a sound file: every byte against its trailer */
    int rc = elig_snap_check_file(path, err, errlen) == 0 ? 0 : -1;
    elig_snap *s = NULL;
    if (rc == 0 && elig_snap_open(path, &s, err, errlen) != 0)
        rc = -1;
    int fd = rc == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    elig_trailer t;
    char why[256];
    if (rc == 0 && (fd < 0 || elig_trailer_read(fd, &t, why, sizeof why) != 0))
        rc = say(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : why);
    unsigned char block[ELIG_SIG_SIZE] = {0}, msg[512];
    size_t len = 0, siglen = 64;
    if (rc == 0) {
        len = elig_sig_message_(t.raw, elig_snap_meta(s)->content_sha256, elig_snap_meta(s)->id, msg, sizeof msg);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!len || !ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
            EVP_DigestSign(ctx, block + 48, &siglen, msg, len) != 1 || siglen != 64)
            rc = say(err, errlen, "%s: signing failed", path);
        EVP_MD_CTX_free(ctx);
    }
    elig_snap_close(s);
    EVP_PKEY_free(key);
    memcpy(block, ELIG_SIG_MAGIC, 8);
    elig_le32(block + 8, ELIG_SIG_VERSION);
    elig_le32(block + 12, ELIG_SIG_SIZE);
    memcpy(block + 16, pub, 32);
    /* a copy with the block, renamed over the file: never half-signed */
    char tmp[4200];
    int out = -1;
    struct stat st;
    if (rc == 0 && (size_t)snprintf(tmp, sizeof tmp, "%s.sign.%ld", path, (long)getpid()) >= sizeof tmp)
        rc = say(err, errlen, "%s: path too long", path);
    if (rc == 0 && fstat(fd, &st) == 0) {
        unlink(tmp);
        out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0777);
        if (out < 0 || fchmod(out, st.st_mode & 0777) != 0 || copy_bytes(fd, out, t.covered + ELIG_TRAILER_SIZE) != 0 ||
            write(out, block, sizeof block) != (ssize_t)sizeof block || fsync(out) != 0 || rename(tmp, path) != 0)
            rc = say(err, errlen, "%s: cannot write the signed copy: %s", tmp, strerror(errno));
    }
    if (out >= 0)
        close(out);
    if (rc != 0 && out >= 0)
        unlink(tmp);
    if (fd >= 0)
        close(fd);
    return rc;
}

int snap_check_signature(const char *path, const char *pub_path, char *err, size_t errlen) {
    size_t len;
    char *pem = read_small(pub_path, &len, err, errlen);
    if (!pem)
        return -1;
    elig_snap *s;
    int rc = elig_snap_open_signed(path, 0, pem, len, &s, err, errlen);
    free(pem);
    if (rc != 0)
        return -1;
    elig_snap_close(s);
    return 0;
}
