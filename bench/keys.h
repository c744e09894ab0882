/* keys.h — the ids elig-bench asks about, and how it picks one.
 *
 * A keys file has one `kind,id` line per key (kind nik, kk or kks; id 16
 * digits); a third field `miss` marks an id known to name nothing, which
 * `--miss-ratio` draws from (elig-keys writes both kinds of line). Lines
 * starting with '#' and a `kind,id` header are skipped.
 *
 * Picking is per thread (the caller owns the rng): a kind by weight, then a
 * hit or a miss by the miss ratio, then a key uniformly or by a Zipf law
 * (theta 0.99, YCSB's generator) over that kind's keys in file order. The
 * file is a random sample, so the hottest keys are spread over the tables. */
#ifndef ELIG_BENCH_KEYS_H
#define ELIG_BENCH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elig_wire.h"

/* xoshiro256**: small, fast, good enough for load shapes. */
typedef struct {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, 1). */
double rng_unit(rng *r);

/* YCSB's Zipfian generator over [0, n). */
typedef struct {
    uint64_t n;
    double theta, zetan, alpha, eta, half_pow_theta;
} zipf;

void zipf_init(zipf *z, uint64_t n, double theta);
uint64_t zipf_next(const zipf *z, double u);

typedef char key_id[ELIG_WIRE_ID_LEN]; /* 16 digits, no NUL */

typedef struct {
    key_id *ids;
    uint32_t n, cap;
} key_list;

typedef struct {
    key_list hit[ELIG_KIND_COUNT], miss[ELIG_KIND_COUNT];
    double cum[ELIG_KIND_COUNT]; /* cumulative kind weights, normalised to 1 */
    double miss_ratio;
    bool use_zipf;
    zipf z[ELIG_KIND_COUNT];
} key_source;

/* Reads a keys file. 0, or -1 with a one-line reason (file:line) in err. */
int keys_load(key_source *ks, const char *path, char *err, size_t errlen);
/* Sets the kind mix from "nik,kk,kks" (equal weights) or "nik=3,kk=1".
 * Every named kind needs hit keys. 0, or -1 with the reason in err. */
int keys_set_mix(key_source *ks, const char *spec, char *err, size_t errlen);
/* Prepares the Zipf generators (call after keys_load) or uniform choice. */
void keys_set_skew(key_source *ks, bool use_zipf);
void keys_free(key_source *ks);

/* Picks one key: *kind, and 16 digits into id. Returns true if it is a
 * miss. A miss is drawn from the file's miss keys of that kind or, if it
 * has none, made up as "0" and 15 random digits: no nik (province >= 11)
 * or kk (first digit 1-9) can start with 0. */
bool keys_pick(const key_source *ks, rng *r, elig_kind *kind, char id[ELIG_WIRE_ID_LEN]);

#endif
