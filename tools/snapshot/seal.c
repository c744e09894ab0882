/* seal.c — the file checksum trailer (lib/trailer.h) on a snapshot file:
 * written by the builder once LMDB has closed the file, before the fsync
 * and the rename; taken off again by the tests that damage a snapshot
 * through LMDB (which would write its next page over it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elig.h"
#include "seal.h"
#include "trailer.h"

int snap_seal(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open to seal: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unsigned char sha[32], t[ELIG_TRAILER_SIZE];
    int rc = elig_sha256_fd(fd, (uint64_t)st.st_size, sha);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot read back to seal: %s", path, elig_strerror(rc));
        close(fd);
        return -1;
    }
    elig_trailer_make(t, (uint64_t)st.st_size, sha);
    if (pwrite(fd, t, sizeof t, st.st_size) != (ssize_t)sizeof t || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: cannot write the checksum trailer: %s", path,
                 errno == EFBIG ? "File too large (file size limit reached)" : strerror(errno));
        close(fd);
        return -1;
    }
    return close(fd) == 0 ? 0 : (snprintf(err, errlen, "%s: close: %s", path, strerror(errno)), -1);
}

int snap_unseal(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    elig_trailer t;
    char why[256];
    int rc = elig_trailer_read(fd, &t, why, sizeof why);
    if (rc == 0 && ftruncate(fd, (off_t)t.covered) != 0)
        snprintf(why, sizeof why, "%s", strerror(errno)), rc = -1;
    close(fd);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc ? -1 : 0;
}
