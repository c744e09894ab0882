/* fuzz_csv — the builder's CSV reader (tools/snapshot/csv.h) and, on the
 * same bytes, one input file through the field rules (ingest.c, as
 * `elig-snapshot build` reads it).
 *
 * Input: one byte choosing the file (households, members, enrollments)
 * and the kept-field limit, then the file's bytes. Properties: every
 * record lies inside the input and starts after the one before, its line
 * number never goes back, a field's value is in the input or the reader's
 * scratch; ingest either fails with a message or accounts for every row
 * read as accepted or rejected (SPEC 1: nothing dropped silently). */
#include <string.h>

#include "builder.h"
#include "csv.h"
#include "fuzz.h"

static void read_all(const char *in, size_t n, size_t max_fields) {
    csv_reader r;
    csv_init(&r, in, n);
    if (max_fields)
        csv_set_max_fields(&r, max_fields);
    csv_record rec;
    size_t last_end = 0;
    uint64_t last_line = 0;
    int rc;
    for (size_t k = 0; (rc = csv_next(&r, &rec)) == 1; k++) {
        FUZZ_ASSERT(k <= n); /* every record consumes at least a byte */
        FUZZ_ASSERT(rec.raw == in + rec.offset);
        FUZZ_ASSERT(rec.offset >= last_end && rec.offset + rec.raw_len <= n);
        FUZZ_ASSERT(rec.line >= last_line && rec.line >= 1);
        last_end = rec.offset + rec.raw_len;
        last_line = rec.line;
        size_t kept = max_fields && rec.nfields > max_fields ? max_fields : rec.nfields;
        for (size_t i = 0; i < kept; i++) {
            const char *v = rec.field[i].p;
            size_t len = rec.field[i].n;
            bool in_input = v >= in && v + len <= in + n;
            bool in_scratch = r.scratch && v >= r.scratch && v + len <= r.scratch + r.scratch_cap;
            FUZZ_ASSERT(in_input || in_scratch || len == 0);
        }
    }
    FUZZ_ASSERT(rc == 0);
    csv_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int file = data[0] % SNAP_NFILES;
    size_t max_fields = (data[0] >> 2) % 8; /* 0: unlimited */
    size_t n = size - 1;
    char *in = (char *)fuzz_exact_copy(data + 1, n);
    read_all(in, n, max_fields);

    static const char *const names[] = {"households.csv", "members.csv", "enrollments.csv"};
    snap_builder b;
    memset(&b, 0, sizeof b);
    b.in[file].path = b.in[file].name = names[file];
    b.in[file].buf = n ? in : "";
    b.in[file].len = n;
    b.in[file].fd = -1;
    char err[512] = "";
    if (snap_ingest(&b, file, false, err, sizeof err) == 0) {
        size_t accepted = file == SNAP_HOUSEHOLDS ? b.hh.n : file == SNAP_MEMBERS ? b.mem.n : b.enr.n;
        FUZZ_ASSERT(b.in[file].read == accepted + b.rej[file].n);
    } else {
        FUZZ_ASSERT(err[0] && strstr(err, names[file])); /* says what and where */
    }
    VEC_FREE(b.hh);
    VEC_FREE(b.mem);
    VEC_FREE(b.enr);
    VEC_FREE(b.rej[file]);
    prog_free(&b.prog);
    free(in);
    return 0;
}
