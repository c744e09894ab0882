/* bad.h — writing a family's rows, with bad rows injected (--bad-ratio).
 *
 * Each row the clean data has is followed, with probability R, by a bad
 * row (or a pair) that breaks one rule of SPEC 1; the clean rows stay as
 * they are, except for two deliberate kinds of damage: a household row
 * repeated (both copies are duplicate_kk and the family's other rows then
 * cascade to unknown_kk) and a member row repeated (both duplicate_nik).
 *
 * The generator knows, for every row it writes, the one reason SPEC 1's
 * order gives it, and counts them into gen_bad.expected: an oracle for the
 * builder's rejects file. Bad rows use "ghost" ids that no clean row can
 * hold (province 99, which no real region has), so they never collide with
 * clean rows by accident. */
#ifndef GEN_BAD_H
#define GEN_BAD_H

#include <stdint.h>

#include "elig.h"
#include "rejectmap.h"
#include "family.h"
#include "out.h"

/* SPEC 1's reject reasons, in its order. */
#define GEN_REASON_MAP(X) ELIG_REJECT_MAP(X) /* lib/rejectmap.h */

enum {
#define GEN_X_(e, s) GEN_R_##e,
    GEN_REASON_MAP(GEN_X_)
#undef GEN_X_
    GEN_REASONS
};

enum { GEN_FILE_HOUSEHOLDS, GEN_FILE_MEMBERS, GEN_FILE_ENROLLMENTS, GEN_FILES };

typedef struct {
    uint64_t threshold; /* a row gets a bad companion when a draw is below; 0 = clean */
    uint64_t expected[GEN_FILES][GEN_REASONS]; /* rows the builder must reject */
} gen_bad;

/* The probability R (0..1) as a draw threshold. */
uint64_t gen_bad_threshold(double ratio);

/* Reason code as in the rejects file, e.g. "bad_nik". */
const char *gen_reason_code(unsigned reason);

/* File name of a GEN_FILE_*, e.g. "members.csv". */
const char *gen_file_name(unsigned file);

/* Writes family f's rows to out[GEN_FILE_*], injecting bad rows drawn from
 * (seed, f->index) when bad->threshold is not 0, and adds to bad->expected. */
void gen_emit_family(gen_out out[GEN_FILES], const gen_family *f, gen_bad *bad, uint64_t seed);

#endif /* GEN_BAD_H */
