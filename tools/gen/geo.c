/* geo.c — the province table and the family -> district map. */
#include "geo.h"

#include <stdlib.h>

#include "rng.h"

/* The 38 provinces of Indonesia (Kemendagri codes, after the 2022 Papua
 * split) with approximate counts of kabupaten, kota and kecamatan/distrik.
 * Regency codes run 01.. for kabupaten and 71.. for kota, as real codes do.
 * The weight is relative families per district: Java's districts are far
 * more populous than Papua's. */
typedef struct {
    uint8_t code, kab, kota, weight;
    uint16_t districts;
} province;

static const province provinces[] = {
    {11, 18, 5, 2, 290},  /* Aceh */
    {12, 25, 8, 2, 455},  /* Sumatera Utara */
    {13, 12, 7, 2, 179},  /* Sumatera Barat */
    {14, 10, 2, 2, 172},  /* Riau */
    {15, 9, 2, 2, 144},   /* Jambi */
    {16, 13, 4, 2, 241},  /* Sumatera Selatan */
    {17, 9, 1, 2, 129},   /* Bengkulu */
    {18, 13, 2, 2, 229},  /* Lampung */
    {19, 6, 1, 1, 47},    /* Kepulauan Bangka Belitung */
    {21, 5, 2, 1, 77},    /* Kepulauan Riau */
    {31, 1, 5, 3, 44},    /* DKI Jakarta */
    {32, 18, 9, 3, 627},  /* Jawa Barat */
    {33, 29, 6, 3, 576},  /* Jawa Tengah */
    {34, 4, 1, 3, 78},    /* DI Yogyakarta */
    {35, 29, 9, 3, 666},  /* Jawa Timur */
    {36, 4, 4, 3, 155},   /* Banten */
    {51, 8, 1, 2, 57},    /* Bali */
    {52, 8, 2, 2, 117},   /* Nusa Tenggara Barat */
    {53, 21, 1, 2, 315},  /* Nusa Tenggara Timur */
    {61, 12, 2, 2, 174},  /* Kalimantan Barat */
    {62, 13, 1, 1, 136},  /* Kalimantan Tengah */
    {63, 11, 2, 2, 156},  /* Kalimantan Selatan */
    {64, 7, 3, 2, 105},   /* Kalimantan Timur */
    {65, 4, 1, 1, 55},    /* Kalimantan Utara */
    {71, 11, 4, 2, 171},  /* Sulawesi Utara */
    {72, 12, 1, 2, 175},  /* Sulawesi Tengah */
    {73, 21, 3, 2, 313},  /* Sulawesi Selatan */
    {74, 15, 2, 2, 222},  /* Sulawesi Tenggara */
    {75, 5, 1, 1, 77},    /* Gorontalo */
    {76, 6, 0, 1, 69},    /* Sulawesi Barat */
    {81, 9, 2, 1, 118},   /* Maluku */
    {82, 8, 2, 1, 116},   /* Maluku Utara */
    {91, 8, 1, 1, 105},   /* Papua */
    {92, 7, 0, 1, 86},    /* Papua Barat */
    {93, 4, 0, 1, 82},    /* Papua Selatan */
    {94, 8, 0, 1, 131},   /* Papua Tengah */
    {95, 8, 0, 1, 252},   /* Papua Pegunungan */
    {96, 5, 1, 1, 132},   /* Papua Barat Daya */
};
#define N_PROVINCES (sizeof provinces / sizeof provinces[0])

unsigned gen_geo_province_count(void) { return (unsigned)N_PROVINCES; }

unsigned gen_geo_province_code(unsigned i) {
    return i < N_PROVINCES ? provinces[i].code : 0;
}

static uint32_t total_districts(void) {
    uint32_t n = 0;
    for (size_t i = 0; i < N_PROVINCES; i++)
        n += provinces[i].districts;
    return n;
}

/* Spreads a province's districts evenly over its regencies: kabupaten
 * 01.., then kota 71... */
static uint32_t add_province(gen_district *out, const province *p) {
    unsigned regencies = (unsigned)p->kab + p->kota;
    uint32_t n = 0;
    for (unsigned r = 0; r < regencies; r++) {
        unsigned is_kota = r >= p->kab;
        unsigned code = is_kota ? 71 + (r - p->kab) : 1 + r;
        unsigned count = p->districts / regencies + (r < p->districts % regencies);
        for (unsigned d = 1; d <= count; d++) {
            gen_district *g = &out[n++];
            g->region6 = (uint32_t)p->code * 10000 + code * 100 + d;
            g->villages = (uint8_t)(5 + gen_mix64(g->region6) % 16);
            g->is_kota = (uint8_t)is_kota;
            g->weight = p->weight;
        }
    }
    return n;
}

/* Lays the districts out in a cycle (each d appears weight times), shuffled
 * so consecutive families land far apart, and ranks each position among its
 * district's positions: that rank is the low part of the family's serial. */
static int build_cycle(gen_geo *g, uint64_t seed) {
    g->cycle = 0;
    g->max_weight = 0;
    for (uint32_t d = 0; d < g->n_districts; d++) {
        g->cycle += g->districts[d].weight;
        if (g->districts[d].weight > g->max_weight)
            g->max_weight = g->districts[d].weight;
    }
    g->slot_district = malloc(sizeof *g->slot_district * g->cycle);
    g->slot_rank = malloc(sizeof *g->slot_rank * g->cycle);
    uint16_t *seen = calloc(g->n_districts, sizeof *seen);
    if (!g->slot_district || !g->slot_rank || !seen) {
        free(seen);
        return -1;
    }
    uint32_t p = 0;
    for (uint32_t d = 0; d < g->n_districts; d++)
        for (unsigned w = 0; w < g->districts[d].weight; w++)
            g->slot_district[p++] = d;
    gen_rng r = gen_rng_for(seed, 0, GEN_STREAM_LAYOUT);
    for (uint32_t i = g->cycle - 1; i > 0; i--) {
        uint32_t j = gen_below(&r, i + 1);
        uint32_t t = g->slot_district[i];
        g->slot_district[i] = g->slot_district[j];
        g->slot_district[j] = t;
    }
    for (uint32_t i = 0; i < g->cycle; i++)
        g->slot_rank[i] = seen[g->slot_district[i]]++;
    free(seen);
    return 0;
}

int gen_geo_init(gen_geo *g, uint64_t seed) {
    g->n_districts = total_districts();
    g->districts = malloc(sizeof *g->districts * g->n_districts);
    g->slot_district = NULL;
    g->slot_rank = NULL;
    if (!g->districts)
        return -1;
    uint32_t n = 0;
    for (size_t i = 0; i < N_PROVINCES; i++)
        n += add_province(g->districts + n, &provinces[i]);
    if (build_cycle(g, seed) != 0) {
        gen_geo_free(g);
        return -1;
    }
    return 0;
}

void gen_geo_free(gen_geo *g) {
    free(g->districts);
    free(g->slot_district);
    free(g->slot_rank);
    g->districts = NULL;
    g->slot_district = NULL;
    g->slot_rank = NULL;
}

uint64_t gen_geo_capacity(const gen_geo *g) {
    /* serial = c * weight + rank < GEN_MAX_SERIAL for every district while
     * c < GEN_MAX_SERIAL / max_weight full cycles. */
    return (uint64_t)(GEN_MAX_SERIAL / g->max_weight) * g->cycle;
}
