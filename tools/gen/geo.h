/* geo.h — kode wilayah for the generator: real provinces, synthetic
 * regencies, districts and villages, and the map from a family's index to
 * its district and its serial number within that district.
 *
 * The serial is what makes ids unique without any global set: family i goes
 * to district d with a per-district serial k (0 <= k < GEN_MAX_SERIAL), and
 * no two families share (d, k). The KK number and every member's NIK carry
 * k + 1 as their 4-digit serial, so they cannot collide. */
#ifndef GEN_GEO_H
#define GEN_GEO_H

#include <stdint.h>

#define GEN_MAX_SERIAL 9999 /* 4-digit serial 0001-9999 */

typedef struct {
    uint32_t region6;  /* province(2) regency(2) district(2) as a number */
    uint8_t villages;  /* villages in the district, 5-20 */
    uint8_t is_kota;   /* regency code 71+: a city, villages are kelurahan */
    uint8_t weight;    /* families per cycle: denser provinces get more */
} gen_district;

typedef struct {
    gen_district *districts;
    uint32_t n_districts;
    uint32_t *slot_district; /* cycle position -> district */
    uint16_t *slot_rank;     /* cycle position -> rank among its district's */
    uint32_t cycle;          /* sum of weights: families per cycle */
    uint32_t max_weight;
} gen_geo;

/* Builds the district list and a cycle shuffled by seed. 0, or -1 when out
 * of memory. Free with gen_geo_free. */
int gen_geo_init(gen_geo *g, uint64_t seed);
void gen_geo_free(gen_geo *g);

/* Most families the map can place with distinct serials. */
uint64_t gen_geo_capacity(const gen_geo *g);

/* Family index -> district and serial (k < GEN_MAX_SERIAL when
 * index < gen_geo_capacity). */
static inline const gen_district *gen_geo_place(const gen_geo *g, uint64_t index,
                                                uint32_t *serial) {
    uint64_t c = index / g->cycle;
    uint32_t p = (uint32_t)(index % g->cycle);
    const gen_district *d = &g->districts[g->slot_district[p]];
    *serial = (uint32_t)(c * d->weight + g->slot_rank[p]);
    return d;
}

/* Number of provinces and the i-th one's two-digit code (for tests and docs). */
unsigned gen_geo_province_count(void);
unsigned gen_geo_province_code(unsigned i);

#endif /* GEN_GEO_H */
