/* rejects.c — the rejects file of SPEC 1: a header `file,line,reason,raw`,
 * then one row per rejected input row ordered by file (households,
 * members, enrollments) and line. Rows were noted as (file, byte offset,
 * reason); here they are sorted, their line numbers counted from the
 * offsets, and their raw bytes re-read from the mapped input. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "builder.h"
#include "csv.h"
#include "radix.h"

/* Writes one CSV field, quoted only when it must be. */
static void put_field(FILE *f, const char *p, size_t n) {
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    if (!quote) {
        fwrite(p, 1, n, f);
        return;
    }
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        const char *q = memchr(p + i, '"', n - i);
        size_t run = q ? (size_t)(q - p) - i + 1 : n - i;
        fwrite(p + i, 1, run, f);
        if (q)
            putc('"', f); /* the quote just written, doubled */
        i += run - 1;
    }
    putc('"', f);
}

/* '\n' bytes in p[0..n). With SSE2 (x86-64): 16 bytes a step, byte-lane
 * counters summed every 255 steps before they can wrap. */
static uint64_t newlines(const char *p, size_t n) {
    uint64_t c = 0;
    size_t i = 0;
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (i + 16 <= n) {
        __m128i acc = zero;
        for (int k = 0; k < 255 && i + 16 <= n; k++, i += 16)
            acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl));
        __m128i sum = _mm_sad_epu8(acc, zero);
        c += (uint64_t)_mm_cvtsi128_si64(sum) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum));
    }
#endif
    for (; i < n; i++)
        c += p[i] == '\n';
    return c;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels say EINVAL and fault as usual */
#endif
#define WINDOW (64u << 20)

/* The rows of one file, rej[0..n) sorted by offset. */
static void write_file_rows(FILE *f, const snap_input *in, const rej_row *rej, size_t n) {
    csv_reader r;
    csv_init(&r, in->buf, in->len);
    csv_set_max_fields(&r, 1);
    uint64_t line = 1;
    size_t at = 0, dropped = 0, populated = 0, page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n; i++) {
        size_t off = (size_t)(rej[i].key & ((UINT64_C(1) << 56) - 1));
        while (in->mapped && populated < off + (1u << 20) && populated < in->len) {
            /* fault the pages in by the 64 MiB (the parse gave them back):
             * far cheaper than one fault per 64 KiB */
            size_t len = in->len - populated < WINDOW ? in->len - populated : WINDOW;
            madvise((void *)(in->buf + populated), len, MADV_POPULATE_READ);
            populated += len;
        }
        line += newlines(in->buf + at, off - at);
        at = off;
        size_t page_end = off & ~(page - 1);
        if (in->mapped && page_end >= dropped + WINDOW) { /* keep a window resident */
            madvise((void *)(in->buf + dropped), page_end - dropped, MADV_DONTNEED);
            dropped = page_end;
        }
        csv_record rec;
        csv_seek(&r, off, line);
        if (csv_next(&r, &rec) != 1) /* cannot happen: the row was read before */
            rec.raw_len = 0;
        put_field(f, in->name, strlen(in->name));
        fprintf(f, ",%llu,%s,", (unsigned long long)line, snap_reason_name((snap_reason)rej[i].reason));
        put_field(f, rec.raw, rec.raw_len);
        putc('\n', f);
    }
    csv_free(&r);
    if (in->mapped) /* re-read for the line numbers: give the pages back */
        madvise((void *)in->buf, in->len, MADV_DONTNEED);
}

int snap_write_rejects(snap_builder *b, const char *path, unsigned mode, char *err, size_t errlen) {
    for (int file = 0; file < SNAP_NFILES; file++) {
        if (radix_sort(b->rej[file].v, b->rej[file].n, sizeof *b->rej[file].v, 0) != 0) {
            snprintf(err, errlen, "out of memory sorting rejects");
            return -1;
        }
    }
    /* raw rows with names and NIKs: exactly `mode` whatever the umask, and
     * never written through a symlink (O_NOFOLLOW); /dev/null and other
     * non-regular files are written but not chmod'ed */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    struct stat st;
    FILE *f = NULL;
    if (fd >= 0 && fstat(fd, &st) == 0 && (!S_ISREG(st.st_mode) || fchmod(fd, (mode_t)mode) == 0))
        f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create rejects file: %s", path,
                 errno == ELOOP ? "it is a symbolic link (not followed)" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fputs("file,line,reason,raw\n", f);
    for (int file = 0; file < SNAP_NFILES; file++)
        write_file_rows(f, &b->in[file], b->rej[file].v, b->rej[file].n);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: cannot write rejects file: %s", path, strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}
