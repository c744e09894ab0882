/* family.h — one synthetic DTKS family: household, members, enrollments.
 *
 * gen_family_make fills a gen_family from (seed, index) alone; the writer
 * turns it into CSV rows. Everything lives in the struct (no allocation),
 * so a family costs O(1) memory and the generator streams. */
#ifndef GEN_FAMILY_H
#define GEN_FAMILY_H

#include <stdbool.h>
#include <stdint.h>

#include "geo.h"

#define GEN_MAX_MEMBERS 8
#define GEN_MAX_ENROLLMENTS 24
#define GEN_NAME_MAX 128

/* Programmes the clean data uses, in row order. */
enum { GEN_PKH, GEN_BPNT, GEN_PBI, GEN_PROGRAMS };

/* Household statuses, as elig_hh_status. */
enum { GEN_HH_ACTIVE, GEN_HH_SUSPENDED, GEN_HH_GRADUATED, GEN_HH_TERMINATED };

typedef struct {
    uint16_t year;
    uint8_t month, day;
    bool female, deceased, date_empty;
    char nik[16];
} gen_member;

typedef struct {
    uint8_t program;  /* GEN_PKH.. */
    bool suspended;
    uint32_t start;   /* months: year * 12 + month - 1 */
    uint32_t end;     /* GEN_OPEN when open-ended */
    uint32_t amount;  /* Rupiah per month */
} gen_enrollment;

#define GEN_OPEN UINT32_MAX

typedef struct {
    uint32_t start;   /* first month of the history (--start) */
    uint32_t horizon; /* months of history generated from start */
} gen_calendar;

typedef struct {
    uint64_t index;
    char kk[16];
    char region[10];
    bool has_kks;
    char kks[16];
    uint8_t status;
    char name[GEN_NAME_MAX];
    uint32_t name_len;
    uint32_t n_members;
    gen_member members[GEN_MAX_MEMBERS];
    uint32_t n_enrollments;
    gen_enrollment enrollments[GEN_MAX_ENROLLMENTS];
} gen_family;

/* Builds family `index`. The caller guarantees index < gen_geo_capacity. */
void gen_family_make(gen_family *f, const gen_geo *geo, const gen_calendar *cal, uint64_t seed,
                     uint64_t index);

/* Programme name as written in enrollments.csv. */
const char *gen_program_name(unsigned program);

#endif /* GEN_FAMILY_H */
