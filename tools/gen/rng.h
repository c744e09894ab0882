/* rng.h — the generator's own PRNG: splitmix64, one stream per family.
 *
 * Every family draws from a stream seeded by (seed, family index, stream
 * kind) alone, so family i's rows do not depend on N, on --bad-ratio or on
 * any other family: the same arguments give the same bytes on every
 * machine, and the good rows of a --bad-ratio run are exactly the rows of
 * the clean run. No rand(), no global state. */
#ifndef GEN_RNG_H
#define GEN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s;
} gen_rng;

/* Stream kinds: the family's own data, and the bad rows injected for it. */
enum { GEN_STREAM_FAMILY = 1, GEN_STREAM_BAD = 2, GEN_STREAM_LAYOUT = 3 };

static inline uint64_t gen_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline gen_rng gen_rng_for(uint64_t seed, uint64_t index, uint64_t stream) {
    gen_rng r = {gen_mix64(gen_mix64(seed ^ 0x5851F42D4C957F2DULL) ^
                           (index * 0x9E3779B97F4A7C15ULL + stream))};
    return r;
}

static inline uint64_t gen_next(gen_rng *r) {
    r->s += 0x9E3779B97F4A7C15ULL;
    return gen_mix64(r->s);
}

/* Uniform in [0, n), n < 2^32 (multiply-shift: no modulo bias worth naming). */
static inline uint32_t gen_below(gen_rng *r, uint32_t n) {
    return (uint32_t)(((gen_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* True with probability per_million / 1e6. */
static inline int gen_chance(gen_rng *r, uint32_t per_million) {
    return gen_below(r, 1000000) < per_million;
}

#endif /* GEN_RNG_H */
