/* private.c — ELIG_SNAP_PRIVATE: the snapshot served from a sealed copy in
 * memory, so that nothing done to the file afterwards (cp over it,
 * truncate, rewrite in place) reaches what is served.
 *
 * The copy is a memfd: anonymous shared memory with a file descriptor, so
 * LMDB can open it through /proc/self/fd like a file. It is filled through
 * a writable map (read() straight into it, no bounce buffer), the SHA-256
 * of the bytes computed on the copy as they land when the caller asks for
 * it (so there is no window between the check and the use), then sealed:
 * no write, shrink or grow, and no more seals, ever, by anyone holding it.
 * MADV_HUGEPAGE asks for 2 MiB pages where the kernel allows them for
 * shared memory (/sys/kernel/mm/transparent_hugepage/shmem_enabled). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elig.h"
#include "private.h"

static int fail(char *err, size_t errlen, int code, const char *path, const char *what, int e) {
    if (err && errlen)
        snprintf(err, errlen, "%s: private copy: %s%s%s", path, what, e ? ": " : "", e ? strerror(e) : "");
    return code;
}

/* Copies len bytes of fd into the map at p, hashing them into ctx if not
 * NULL. 0 or a negative code. */
static int fill(int fd, unsigned char *p, uint64_t len, EVP_MD_CTX *ctx) {
    enum { CHUNK = 4 << 20 };
    for (uint64_t off = 0; off < len;) {
        size_t want = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
        ssize_t got = pread(fd, p + off, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : ELIG_EIO; /* shorter than when we looked: changed under us */
        if (ctx && !EVP_DigestUpdate(ctx, p + off, (size_t)got))
            return ELIG_ENOMEM;
        off += (uint64_t)got;
    }
    return 0;
}

int elig_private_copy_(int *fd, const elig_trailer *t, bool verify, const char *path, char *err, size_t errlen) {
    uint64_t len = t->file_size;
    int mfd = memfd_create("elig-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        return fail(err, errlen, -errno, path, "memfd_create", errno);
    if (ftruncate(mfd, (off_t)len) != 0) {
        int e = errno;
        close(mfd);
        return fail(err, errlen, -e, path, "cannot size the copy", e);
    }
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(mfd);
        return fail(err, errlen, -e, path, "cannot map the copy", e);
    }
    madvise(p, len, MADV_HUGEPAGE);
    EVP_MD_CTX *ctx = NULL;
    int rc = 0;
    if (verify) {
        ctx = EVP_MD_CTX_new();
        rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : ELIG_ENOMEM;
    }
    /* the covered bytes are hashed, the trailer and signature only copied */
    if (rc == 0)
        rc = fill(*fd, p, t->covered, ctx);
    if (rc == 0 && len > t->covered) {
        ssize_t got = pread(*fd, p + t->covered, (size_t)(len - t->covered), (off_t)t->covered);
        rc = got == (ssize_t)(len - t->covered) ? 0 : ELIG_EIO;
    }
    /* the copy's trailer must be the one read before: a file rewritten in
     * place while it was copied is refused, not served torn */
    if (rc == 0 && memcmp(p + t->covered, t->raw, ELIG_TRAILER_SIZE) != 0)
        rc = ELIG_EIO;
    unsigned char sha[32];
    unsigned int n;
    if (rc == 0 && ctx && !EVP_DigestFinal_ex(ctx, sha, &n))
        rc = ELIG_ENOMEM;
    EVP_MD_CTX_free(ctx);
    munmap(p, len); /* F_SEAL_WRITE needs no writable map left */
    if (rc != 0) {
        close(mfd);
        return fail(err, errlen, rc, path, rc == ELIG_EIO ? "the file changed while it was copied" : "cannot copy",
                    rc < 0 && rc > -4096 ? -rc : 0);
    }
    if (verify && memcmp(sha, t->sha, 32) != 0) {
        close(mfd);
        if (err && errlen)
            snprintf(err, errlen,
                     "%s: checksum mismatch: the file is damaged (SHA-256 of its %llu bytes differs from its "
                     "trailer's)",
                     path, (unsigned long long)t->covered);
        return ELIG_ECHECKSUM;
    }
    if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(mfd);
        return fail(err, errlen, -e, path, "cannot seal the copy", e);
    }
    close(*fd);
    *fd = mfd;
    return 0;
}
