/* family.c — draws one family: who lives in it, their NIKs, the KK and KKS
 * numbers, and the programme history with its amounts month by month.
 *
 * Proportions (per million draws) are named constants so docs and tests can
 * point at them. */
#include "family.h"

#include <string.h>

#include "names.h"
#include "rng.h"

/* Family size 1-8, cumulative per mille; mean 3.34 (BPS: ~3.3 per KK). */
static const uint16_t size_cdf[GEN_MAX_MEMBERS] = {120, 330, 580, 790, 900, 955, 985, 1000};

#define P_PKH 370370          /* 10 of 27 families */
#define P_BPNT_IF_PKH 850000  /* most PKH families also get BPNT ... */
#define P_BPNT_NO_PKH 417647  /* ... so that BPNT is 15.6 of 27 overall */
#define P_PBI 250000
#define P_KKS 880000
#define P_HH_SUSPENDED 50000
#define P_HH_GRADUATED 40000
#define P_HH_TERMINATED 30000
#define P_DATE_EMPTY 30000
#define P_DEFAULT_DATE 30000  /* adults registered as 01-07 or 31-12 */
#define P_LEGACY_START 650000 /* enrolled since the first month */
#define P_SPELL_CLOSED 60000
#define P_REENROLL 400000
#define P_SUSPENDED 30000
#define P_SUSPENDED_IN_SUSPENDED_HH 400000

/* KKS cards: a bank's 6-digit prefix, a 9-digit number, a Luhn digit. */
static const char kks_prefix[4][7] = {"504948", "519204", "603298", "621987"};

const char *gen_program_name(unsigned program) {
    static const char *const names[GEN_PROGRAMS] = {"PKH", "BPNT", "PBI"};
    return program < GEN_PROGRAMS ? names[program] : "";
}

static void put_digits(char *p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static unsigned days_in_month(unsigned year, unsigned month) {
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

static uint32_t month_of(unsigned year, unsigned month) { return year * 12 + month - 1; }

/* ---- members ----------------------------------------------------------- */

static void birth_date(gen_rng *r, gen_member *m, unsigned now_year, unsigned age) {
    m->year = (uint16_t)(now_year - age);
    if (age >= 20 && gen_chance(r, P_DEFAULT_DATE)) {
        bool mid = gen_below(r, 2);
        m->month = mid ? 7 : 12;
        m->day = mid ? 1 : 31;
        return;
    }
    m->month = (uint8_t)(1 + gen_below(r, 12));
    m->day = (uint8_t)(1 + gen_below(r, days_in_month(m->year, m->month)));
}

static void add_member(gen_family *f, gen_rng *r, unsigned now_year, unsigned age, bool female) {
    gen_member *m = &f->members[f->n_members++];
    m->female = female;
    birth_date(r, m, now_year, age);
    m->deceased = gen_chance(r, age >= 70 ? 120000 : age >= 50 ? 30000 : 5000);
    m->date_empty = gen_chance(r, P_DATE_EMPTY);
}

/* The NIK's date part (DDMMYY, +40 on the day for women) must differ between
 * members of one family, who share the district and the serial: twins and
 * two "01-07" adults of the same sex are moved to another day. */
static bool same_nik_date(const gen_member *a, const gen_member *b) {
    return a->female == b->female && a->day == b->day && a->month == b->month &&
           a->year % 100 == b->year % 100;
}

static void make_dates_distinct(gen_family *f) {
    for (uint32_t i = 1; i < f->n_members; i++) {
        gen_member *m = &f->members[i];
        for (uint32_t j = 0; j < i; j++) {
            if (same_nik_date(m, &f->members[j])) {
                m->day = (uint8_t)(m->day % days_in_month(m->year, m->month) + 1);
                j = (uint32_t)-1; /* recheck against all earlier members */
            }
        }
    }
}

static unsigned family_size(gen_rng *r) {
    unsigned u = gen_below(r, 1000);
    unsigned n = 0;
    while (u >= size_cdf[n])
        n++;
    return n + 1;
}

/* Head, spouse, maybe an elderly parent, then children young enough to be
 * the youngest parent's. */
static void make_members(gen_family *f, gen_rng *r, unsigned now_year, bool *head_female) {
    unsigned size = family_size(r);
    bool fem = gen_chance(r, size == 1 ? 400000 : 150000);
    unsigned head_age = size == 1 ? 35 + gen_below(r, 26) + gen_below(r, 26)
                                  : 20 + gen_below(r, 30) + gen_below(r, 30);
    f->n_members = 0;
    add_member(f, r, now_year, head_age, fem);
    unsigned youngest_parent = head_age;
    if (size >= 2 && gen_chance(r, 850000)) {
        unsigned age = fem ? head_age - 3 + gen_below(r, 10) : head_age - 8 + gen_below(r, 12);
        if (age < 18)
            age = 18;
        add_member(f, r, now_year, age, !fem);
        if (age < youngest_parent)
            youngest_parent = age;
    }
    if (size - f->n_members >= 2 && gen_chance(r, 120000)) {
        unsigned age = head_age + 20 + gen_below(r, 15);
        add_member(f, r, now_year, age > 95 ? 95 : age, gen_chance(r, 650000));
    }
    /* children born when the younger parent was 18-42 (adult children stay
     * on their parents' KK until they marry) */
    unsigned oldest = youngest_parent - 18;
    unsigned youngest = youngest_parent > 42 ? youngest_parent - 42 : 0;
    while (f->n_members < size)
        add_member(f, r, now_year, youngest + gen_below(r, oldest - youngest + 1), gen_below(r, 2));
    make_dates_distinct(f);
    *head_female = fem;
}

static void make_niks(gen_family *f, uint32_t serial) {
    for (uint32_t i = 0; i < f->n_members; i++) {
        gen_member *m = &f->members[i];
        memcpy(m->nik, f->region, 6);
        put_digits(m->nik + 6, m->day + (m->female ? 40u : 0u), 2);
        put_digits(m->nik + 8, m->month, 2);
        put_digits(m->nik + 10, m->year % 100, 2);
        put_digits(m->nik + 12, serial + 1, 4);
    }
}

/* ---- household ids ------------------------------------------------------ */

static void make_region(gen_family *f, gen_rng *r, const gen_district *d) {
    unsigned v = gen_below(r, d->villages);
    /* kelurahan (urban) codes start at 1001, desa (rural) at 2001 */
    unsigned village = d->is_kota || v < d->villages / 8 ? 1001 + v : 2001 + v;
    put_digits(f->region, d->region6, 6);
    put_digits(f->region + 6, village, 4);
}

/* KK: district, date of issue DDMMYY, serial — unique by the serial. */
static void make_kk(gen_family *f, gen_rng *r, unsigned now_year, uint32_t serial) {
    unsigned year = now_year - 1 - gen_below(r, 19);
    unsigned month = 1 + gen_below(r, 12);
    unsigned day = 1 + gen_below(r, days_in_month(year, month));
    memcpy(f->kk, f->region, 6);
    put_digits(f->kk + 6, day, 2);
    put_digits(f->kk + 8, month, 2);
    put_digits(f->kk + 10, year % 100, 2);
    put_digits(f->kk + 12, serial + 1, 4);
}

static unsigned luhn_digit(const char *s, unsigned n) {
    unsigned sum = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[n - 1 - i] - '0');
        if (i % 2 == 0)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

/* KKS: the 9-digit body is a bijection of the family index (multiplier
 * coprime to 10), so cards are unique whatever the bank prefix. */
static void make_kks(gen_family *f, gen_rng *r) {
    f->has_kks = gen_chance(r, P_KKS);
    if (!f->has_kks)
        return;
    uint64_t body = (f->index * 387420489ULL + 123456789ULL) % 1000000000ULL;
    memcpy(f->kks, kks_prefix[gen_below(r, 4)], 6);
    put_digits(f->kks + 6, body, 9);
    f->kks[15] = (char)('0' + luhn_digit(f->kks, 15));
}

static uint8_t household_status(gen_rng *r) {
    uint32_t u = gen_below(r, 1000000);
    if (u < P_HH_SUSPENDED)
        return GEN_HH_SUSPENDED;
    if (u < P_HH_SUSPENDED + P_HH_GRADUATED)
        return GEN_HH_GRADUATED;
    if (u < P_HH_SUSPENDED + P_HH_GRADUATED + P_HH_TERMINATED)
        return GEN_HH_TERMINATED;
    return GEN_HH_ACTIVE;
}

/* ---- programme amounts ------------------------------------------------- */

#define M2020_01 (2020 * 12 + 0)
#define M2020_03 (2020 * 12 + 2)
#define M2020_05 (2020 * 12 + 4)

static unsigned age_at(const gen_member *m, uint32_t month) {
    uint32_t born = month_of(m->year, m->month);
    return month > born ? (month - born) / 12 : 0;
}

/* PKH per month: up to four components from the family's children and
 * elderly; the 2020 index raised the under-six component and dropped the
 * fixed part. */
static uint32_t pkh_amount(const gen_family *f, uint32_t month) {
    bool y2020 = month >= M2020_01;
    uint32_t sum = y2020 ? 0 : 46000, components = 0;
    for (uint32_t i = 0; i < f->n_members && components < 4; i++) {
        const gen_member *m = &f->members[i];
        if (m->deceased)
            continue;
        unsigned age = age_at(m, month);
        uint32_t v = age < 6 ? (y2020 ? 250000 : 200000)
                     : age <= 12 ? 75000
                     : age <= 15 ? 125000
                     : age <= 18 ? 166000
                     : age >= 70 ? 200000
                                 : 0;
        if (v) {
            sum += v;
            components++;
        }
    }
    return components == 0 && y2020 ? 200000 : sum; /* severe disability */
}

static uint32_t alive_members(const gen_family *f) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->n_members; i++)
        n += !f->members[i].deceased;
    return n;
}

static uint32_t amount(const gen_family *f, unsigned program, uint32_t month) {
    switch (program) {
    case GEN_PKH:
        return pkh_amount(f, month);
    case GEN_BPNT:
        return month < M2020_03 ? 110000 : month < M2020_05 ? 150000 : 200000;
    default: /* PBI-JK premium per insured person */
        return (month < M2020_01 ? 23000 : 42000) * (alive_members(f) ? alive_members(f) : 1);
    }
}

/* Months at which a programme's amount may change. */
static const uint32_t changes[GEN_PROGRAMS][3] = {
    {M2020_01, 0, 0}, {M2020_03, M2020_05, 0}, {M2020_01, 0, 0}};

static void add_row(gen_family *f, unsigned program, uint32_t start, uint32_t end) {
    gen_enrollment *e = &f->enrollments[f->n_enrollments++];
    e->program = (uint8_t)program;
    e->suspended = false;
    e->start = start;
    e->end = end;
    e->amount = amount(f, program, start);
}

/* One spell [start, end] as consecutive rows, cut where the amount changes. */
static void add_spell(gen_family *f, gen_rng *r, unsigned program, uint32_t start, uint32_t end) {
    uint32_t cur = start;
    for (int i = 0; i < 3 && changes[program][i]; i++) {
        uint32_t b = changes[program][i];
        if (b > cur && (end == GEN_OPEN || b <= end) &&
            amount(f, program, b) != amount(f, program, cur)) {
            add_row(f, program, cur, b - 1);
            cur = b;
        }
    }
    add_row(f, program, cur, end);
    uint32_t p = f->status == GEN_HH_SUSPENDED ? P_SUSPENDED_IN_SUSPENDED_HH : P_SUSPENDED;
    f->enrollments[f->n_enrollments - 1].suspended = gen_chance(r, p);
}

/* A programme's history: since the first month or a later one; closed for
 * families that left (and for a few others, some of whom came back). */
static void add_program(gen_family *f, gen_rng *r, const gen_calendar *cal, unsigned program) {
    uint32_t last = cal->start + cal->horizon - 1;
    uint32_t start = gen_chance(r, P_LEGACY_START) ? cal->start
                                                   : cal->start + gen_below(r, cal->horizon - 6);
    bool left = f->status == GEN_HH_GRADUATED || f->status == GEN_HH_TERMINATED;
    if (!left && !gen_chance(r, P_SPELL_CLOSED)) {
        add_spell(f, r, program, start, GEN_OPEN);
        return;
    }
    uint32_t end = start + gen_below(r, last - start + 1);
    add_spell(f, r, program, start, end);
    uint32_t again = end + 2 + gen_below(r, 10);
    if (!left && again <= last && gen_chance(r, P_REENROLL))
        add_spell(f, r, program, again, GEN_OPEN);
}

static void make_enrollments(gen_family *f, gen_rng *r, const gen_calendar *cal) {
    f->n_enrollments = 0;
    bool pkh = gen_chance(r, P_PKH);
    bool bpnt = gen_chance(r, pkh ? P_BPNT_IF_PKH : P_BPNT_NO_PKH);
    bool pbi = gen_chance(r, P_PBI);
    if (pkh)
        add_program(f, r, cal, GEN_PKH);
    if (bpnt)
        add_program(f, r, cal, GEN_BPNT);
    if (pbi)
        add_program(f, r, cal, GEN_PBI);
}

void gen_family_make(gen_family *f, const gen_geo *geo, const gen_calendar *cal, uint64_t seed,
                     uint64_t index) {
    gen_rng r = gen_rng_for(seed, index, GEN_STREAM_FAMILY);
    unsigned now_year = (cal->start + cal->horizon - 1) / 12;
    uint32_t serial;
    const gen_district *d = gen_geo_place(geo, index, &serial);
    f->index = index;
    make_region(f, &r, d);
    make_kk(f, &r, now_year, serial);
    make_kks(f, &r);
    f->status = household_status(&r);
    bool head_female;
    make_members(f, &r, now_year, &head_female);
    make_niks(f, serial);
    f->name_len = gen_name(&r, head_female, f->name, sizeof f->name);
    make_enrollments(f, &r, cal);
}
