/* auditseg.c — reading one audit segment file (auditfmt.h). The file is
 * mapped, so a reader that skips blocks by their times never reads them. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "auditfmt.h"

static int fail(audit_seg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(audit_seg *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return -1;
}

int audit_seg_open(audit_seg *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(s, "cannot open: %s", strerror(e));
    }
    s->len = (size_t)st.st_size;
    if (s->len < AUDIT_HEADER_LEN) {
        close(fd);
        return fail(s, "truncated: %zu bytes, shorter than a segment header (%d)", s->len, AUDIT_HEADER_LEN);
    }
    void *m = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return fail(s, "cannot map: %s", strerror(errno));
    s->data = m;
    madvise(m, s->len, MADV_SEQUENTIAL);
    const char *why;
    if (audit_header_decode(s->data, &s->hdr, &why) != 0)
        return fail(s, "header: %s", why);
    if (audit_chain(NULL, s->data, AUDIT_HEADER_LEN, NULL, 0, s->chain) != 0)
        return fail(s, "SHA-256 failed");
    s->chain_known = true;
    s->off = AUDIT_HEADER_LEN;
    return 0;
}

void audit_seg_close(audit_seg *s) {
    if (s->data)
        munmap((void *)s->data, s->len);
    elig_free(s->raw);
    s->data = NULL;
    s->raw = NULL;
}

/* The end block: its counts and, when every block was checked, its chain. */
static int check_end(audit_seg *s, const audit_block *b, const uint8_t *head) {
    size_t end = s->off + AUDIT_BLOCK_HEAD_LEN + AUDIT_HASH_LEN;
    if (end > s->len)
        return s->cut = true, fail(s, "truncated: the end block at byte %zu is cut short (file ends at %zu)", s->off, s->len);
    if (b->records != s->records)
        return fail(s, "end block says %llu records, the segment holds %llu: records removed or added",
                    (unsigned long long)b->records, (unsigned long long)s->records);
    if (b->bytes != s->off)
        return fail(s, "end block says it starts at byte %llu, it is at byte %zu: bytes removed or added",
                    (unsigned long long)b->bytes, s->off);
    if (s->chain_known) {
        uint8_t c[AUDIT_HASH_LEN];
        if (audit_chain(s->chain, head, AUDIT_BLOCK_HEAD_LEN, NULL, 0, c) != 0)
            return fail(s, "SHA-256 failed");
        if (memcmp(c, head + AUDIT_BLOCK_HEAD_LEN, AUDIT_HASH_LEN) != 0)
            return fail(s, "end block (byte %zu): chain value does not match: altered", s->off);
        memcpy(s->chain, c, AUDIT_HASH_LEN);
    }
    s->block_off = s->off;
    s->off = end;
    s->ended = true;
    if (s->off != s->len)
        return fail(s, "%zu bytes after the end block (byte %zu): appended after the segment was closed",
                    s->len - s->off, s->off);
    return 0;
}

int audit_seg_next(audit_seg *s, audit_block *b) {
    if (s->ended || s->off == s->len)
        return 0;
    if (s->len - s->off < AUDIT_BLOCK_HEAD_LEN)
        return s->cut = true, fail(s, "truncated: %zu stray bytes after record %llu (byte %zu), not a whole block",
                    s->len - s->off, (unsigned long long)s->records, s->off);
    const uint8_t *head = s->data + s->off;
    const char *why;
    if (audit_block_decode(head, b, &why) != 0)
        return fail(s, "block after record %llu (byte %zu): %s", (unsigned long long)s->records, s->off, why);
    if (b->end)
        return check_end(s, b, head) == 0 ? 0 : -1;
    if (b->first_record != s->records) {
        if (b->first_record > s->records)
            return fail(s, "records %llu-%llu missing (the block at byte %zu starts at record %llu)",
                        (unsigned long long)s->records, (unsigned long long)b->first_record - 1, s->off,
                        (unsigned long long)b->first_record);
        return fail(s, "block at byte %zu holds records %llu-%llu again or out of order (expected record %llu)",
                    s->off, (unsigned long long)b->first_record,
                    (unsigned long long)(b->first_record + b->count - 1), (unsigned long long)s->records);
    }
    size_t need = (size_t)AUDIT_BLOCK_HEAD_LEN + b->stored_len + AUDIT_HASH_LEN;
    if (need > s->len - s->off)
        return s->cut = true, fail(s, "truncated: the block of records %llu-%llu at byte %zu is cut short (file ends at %zu)",
                    (unsigned long long)b->first_record, (unsigned long long)(b->first_record + b->count - 1),
                    s->off, s->len);
    s->block_off = s->off;
    s->off += need;
    s->records += b->count;
    s->before_known = s->chain_known;
    s->chain_known = false; /* until audit_seg_payload checks this block */
    return 1;
}

int audit_seg_payload(audit_seg *s, const audit_block *b, const uint8_t **raw, bool check) {
    unsigned long long first = b->first_record, last = b->first_record + b->count - 1;
    if (b->raw_len > s->raw_cap) {
        size_t cap = b->raw_len < 65536 ? 65536 : b->raw_len;
        uint8_t *p = elig_realloc(s->raw, cap);
        if (!p)
            return fail(s, "out of memory");
        s->raw = p;
        s->raw_cap = cap;
    }
    const uint8_t *head = s->data + s->block_off;
    const char *why;
    if (audit_payload_decode(b, head + AUDIT_BLOCK_HEAD_LEN, s->raw, &why) != 0)
        return fail(s, "records %llu-%llu (block at byte %zu): %s: altered", first, last, s->block_off, why);
    *raw = s->raw;
    if (!check)
        return 0;
    long bad = audit_payload_check(b, s->raw);
    if (bad >= 0)
        return fail(s, "record %llu (block at byte %zu): not a well-formed record: altered",
                    (unsigned long long)b->first_record + (unsigned long long)bad, s->block_off);
    if (!s->before_known)
        return 0; /* an earlier block was skipped: nothing to chain from */
    uint8_t c[AUDIT_HASH_LEN];
    if (audit_chain(s->chain, head, AUDIT_BLOCK_HEAD_LEN, s->raw, b->raw_len, c) != 0)
        return fail(s, "SHA-256 failed");
    if (memcmp(c, head + AUDIT_BLOCK_HEAD_LEN + b->stored_len, AUDIT_HASH_LEN) != 0)
        return fail(s, "records %llu-%llu (block at byte %zu): content does not match the chain: altered",
                    first, last, s->block_off);
    memcpy(s->chain, c, AUDIT_HASH_LEN);
    s->chain_known = true;
    return 0;
}
