/* file.c — the file checksum trailer (trailer.h): writing its bytes,
 * finding and checking it, hashing the file. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elig.h"
#include "trailer.h"

static int say(char *why, size_t whylen, int code, const char *msg) {
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return code;
}

static void sha256(const void *p, size_t n, unsigned char out[32]) {
    unsigned int len;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void elig_trailer_make(unsigned char t[ELIG_TRAILER_SIZE], uint64_t covered, const unsigned char sha[32]) {
    memset(t, 0, ELIG_TRAILER_SIZE);
    memcpy(t, ELIG_TRAILER_MAGIC, 8);
    elig_le32(t + 8, ELIG_TRAILER_VERSION);
    elig_le32(t + 12, ELIG_TRAILER_SIZE);
    elig_le64(t + 16, covered);
    memcpy(t + 24, sha, 32);
    sha256(t, 96, t + 96);
}

/* The trailer at off: right magic, version, size, self-hash, and covering
 * exactly the bytes before it. */
static int trailer_at(const unsigned char *t, uint64_t off, char *why, size_t whylen) {
    unsigned char h[32];
    if (memcmp(t, ELIG_TRAILER_MAGIC, 8) != 0)
        return say(why, whylen, ELIG_ECORRUPT, "no checksum trailer at the end of the file (truncated, extended, "
                                               "or not written by this version's elig-snapshot)");
    sha256(t, 96, h);
    if (memcmp(h, t + 96, 32) != 0 || elig_get_le32(t + 8) != ELIG_TRAILER_VERSION ||
        elig_get_le32(t + 12) != ELIG_TRAILER_SIZE)
        return say(why, whylen, ELIG_ECORRUPT, "the checksum trailer is damaged");
    if (elig_get_le64(t + 16) != off)
        return say(why, whylen, ELIG_ECORRUPT, "the file's length does not match its trailer (truncated or "
                                               "extended)");
    return 0;
}

static int pread_all(int fd, unsigned char *p, size_t n, uint64_t off) {
    while (n) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : ELIG_EIO;
        p += got, n -= (size_t)got, off += (uint64_t)got;
    }
    return 0;
}

int elig_trailer_read(int fd, elig_trailer *t, char *why, size_t whylen) {
    struct stat st;
    memset(t, 0, sizeof *t);
    if (fstat(fd, &st) != 0)
        return say(why, whylen, -errno, strerror(errno));
    t->file_size = (uint64_t)st.st_size;
    unsigned char tail[ELIG_TRAILER_SIZE + ELIG_SIG_SIZE];
    if (t->file_size < ELIG_TRAILER_SIZE)
        return say(why, whylen, ELIG_ECORRUPT, "too short to hold a checksum trailer (truncated?)");
    size_t n = t->file_size >= sizeof tail ? sizeof tail : ELIG_TRAILER_SIZE;
    int rc = pread_all(fd, tail, n, t->file_size - n);
    if (rc != 0)
        return say(why, whylen, rc, "cannot read the end of the file");
    const unsigned char *last = tail + n - ELIG_SIG_SIZE;
    uint64_t off = t->file_size - ELIG_TRAILER_SIZE;
    const unsigned char *tr = tail + n - ELIG_TRAILER_SIZE;
    if (n == sizeof tail && memcmp(last, ELIG_SIG_MAGIC, 8) == 0) {
        t->has_sig = 1;
        memcpy(t->sig, last, ELIG_SIG_SIZE);
        off -= ELIG_SIG_SIZE;
        tr = tail;
    }
    if ((rc = trailer_at(tr, off, why, whylen)) != 0)
        return rc;
    memcpy(t->raw, tr, ELIG_TRAILER_SIZE);
    t->covered = off;
    memcpy(t->sha, tr + 24, 32);
    return 0;
}

int elig_sha256_fd(int fd, uint64_t len, unsigned char out[32]) {
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = buf && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : ELIG_ENOMEM;
    posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_SEQUENTIAL);
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
        if ((rc = pread_all(fd, buf, n, off)) == 0 && !EVP_DigestUpdate(ctx, buf, n))
            rc = ELIG_ENOMEM;
        off += n;
    }
    unsigned int olen;
    if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, &olen))
        rc = ELIG_ENOMEM;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

int elig_snap_check_file(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    elig_trailer t;
    char why[256];
    unsigned char sha[32];
    int rc = elig_trailer_read(fd, &t, why, sizeof why);
    if (rc == 0 && (rc = elig_sha256_fd(fd, t.covered, sha)) != 0)
        snprintf(why, sizeof why, "cannot read: %s", elig_strerror(rc));
    if (rc == 0 && memcmp(sha, t.sha, 32) != 0) {
        rc = ELIG_ECHECKSUM;
        snprintf(why, sizeof why, "checksum mismatch: the file is damaged (SHA-256 of its %llu bytes differs "
                                  "from its trailer's)",
                 (unsigned long long)t.covered);
    }
    close(fd);
    if (rc != 0 && err && errlen)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}
