/* bad.c — bad rows for every reject reason of SPEC 1, and the count of
 * what the builder must reject. Each bad row breaks exactly one rule and
 * passes every rule SPEC 1 checks before it, so its reason is certain. */
#include "bad.h"

#include <stdbool.h>
#include <string.h>

#include "rng.h"
#include "rows.h"

#define COUNT(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

static const char *const reason_codes[GEN_REASONS] = {
#define GEN_X_(e, s) s,
    GEN_REASON_MAP(GEN_X_)
#undef GEN_X_
};

const char *gen_reason_code(unsigned reason) {
    return reason < GEN_REASONS ? reason_codes[reason] : "";
}

const char *gen_file_name(unsigned file) {
    static const char *const names[GEN_FILES] = {"households.csv", "members.csv",
                                                 "enrollments.csv"};
    return file < GEN_FILES ? names[file] : "";
}

uint64_t gen_bad_threshold(double ratio) {
    if (!(ratio > 0))
        return 0;
    if (ratio >= 1)
        return UINT64_MAX;
    return (uint64_t)(ratio * 18446744073709551616.0);
}

/* ---- ghost ids: 64 per family, never held by a clean row --------------- */

typedef struct {
    uint64_t next;
} ghost;

static char *ghost_kk(char *p, ghost *g) {
    p = gen_put(p, "9900", 4);
    return gen_put_fixed(p, g->next++, 12);
}

static char *ghost_kks(char *p, ghost *g) {
    p = gen_put(p, "9901", 4);
    return gen_put_fixed(p, g->next++, 12);
}

/* A valid NIK in province 99: the ghost number spread over serial, date
 * and the regency/district digits, so distinct numbers give distinct NIKs. */
static char *ghost_nik(char *p, ghost *g) {
    uint64_t v = g->next++;
    uint32_t serial = (uint32_t)(v % 9999) + 1;
    v /= 9999;
    uint32_t day = (uint32_t)(v % 28) + 1;
    v /= 28;
    uint32_t month = (uint32_t)(v % 12) + 1;
    v /= 12;
    uint32_t yy = (uint32_t)(v % 100);
    v /= 100;
    p = gen_put(p, "99", 2);
    p = gen_put_fixed(p, v, 4);
    p = gen_put_fixed(p, day, 2);
    p = gen_put_fixed(p, month, 2);
    p = gen_put_fixed(p, yy, 2);
    return gen_put_fixed(p, serial, 4);
}

/* ---- broken field values ------------------------------------------------ */

static const char *pick(gen_rng *r, const char *const *list, unsigned n) {
    return list[gen_below(r, n)];
}

/* An id-like value that is not 16 digits with a first digit 1-9. */
static char *bad_id(char *p, gen_rng *r, bool first_digit_rule) {
    static const char *const ids[] = {
        "320101150300123",   /* 15 digits */
        "32010115030012345", /* 17 digits */
        "3201O11503001234",  /* letter O for zero */
        "",                  /* required but empty */
        " 3201011503001234", /* not trimmed */
        "3201-0115-0300-12", /* separators */
    };
    if (first_digit_rule && gen_below(r, 4) == 0)
        return gen_put_str(p, "0201011503001234"); /* first digit 0 */
    return gen_put_str(p, pick(r, ids, COUNT(ids)));
}

static char *bad_nik(char *p, gen_rng *r, ghost *g) {
    char nik[16];
    ghost_nik(nik, g);
    switch (gen_below(r, 11)) {
    case 0: memcpy(nik, "10", 2); break;      /* province below 11 */
    case 1: memcpy(nik, "05", 2); break;
    case 2: memcpy(nik + 6, "00", 2); break;  /* day 0 */
    case 3: memcpy(nik + 6, "32", 2); break;  /* day 32 */
    case 4: memcpy(nik + 6, "40", 2); break;  /* 40: neither a man's nor a woman's day */
    case 5: memcpy(nik + 6, "72", 2); break;  /* woman's day 32 */
    case 6: memcpy(nik + 8, "00", 2); break;  /* month 0 */
    case 7: memcpy(nik + 8, "13", 2); break;  /* month 13 */
    case 8: memcpy(nik + 12, "0000", 4); break; /* serial 0000 */
    case 9: return gen_put(p, nik, 15);       /* 15 digits */
    default: nik[3] = 'X'; break;
    }
    return gen_put(p, nik, 16);
}

/* ---- households: kk,region,status,kks,head_name ------------------------ */

static void put_row(gen_out *o, const char *row, char *end) { gen_out_row(o, row, (size_t)(end - row)); }

static char *hh_tail(char *p, const char *region, const char *status) {
    *p++ = ',';
    p = gen_put(p, region, 10);
    *p++ = ',';
    p = gen_put_str(p, status);
    *p++ = ',';
    return p; /* kks and name follow */
}

static char *long_name(char *p, gen_rng *r) {
    static const char part[] = "Muhammad Abdurrahman Wahid Hasyim ";
    uint32_t want = 101 + gen_below(r, 20);
    for (uint32_t i = 0; i < want; i++)
        *p++ = part[i % (sizeof part - 1)];
    return p;
}

static char *bad_utf8_name(char *p, gen_rng *r) {
    static const char *const names[] = {
        "Jos\xE9 Santoso",        /* Latin-1, not UTF-8 */
        "Siti \xC0\xAF Aminah",   /* overlong encoding */
        "Budi \xED\xA0\x80",      /* a UTF-16 surrogate */
        "Dewi \xE2\x80",          /* truncated sequence */
        "Agus \xF4\x90\x80\x80",  /* past U+10FFFF */
    };
    return gen_put_str(p, pick(r, names, COUNT(names)));
}

static unsigned bad_household(gen_out *o, unsigned reason, gen_rng *r, const gen_family *f,
                              ghost *g) {
    static const char *const statuses[] = {"Active", "aktif", "ACTIVE", "active ", "", "nonaktif"};
    static const char *const kkses[] = {"504948123456789", "50494812345678901", "5049-4812-3456-78",
                                        "KKS5049481234567", " 504948123456789"};
    char row[GEN_ROW_MAX], *p = row;
    switch (reason) {
    case GEN_R_MALFORMED_ROW: {
        p = ghost_kk(p, g);
        p = hh_tail(p, f->region, "active");
        unsigned v = gen_below(r, 3);
        p -= v == 0 ? 1 : 0;                          /* 3 fields */
        p = gen_put_str(p, v == 1 ? ",Budi,extra" : ""); /* 6 fields; else 4 */
        break;
    }
    case GEN_R_BAD_KK:
        p = bad_id(p, r, true);
        p = gen_put_str(hh_tail(p, f->region, "active"), ",Budi");
        break;
    case GEN_R_BAD_REGION: {
        static const char *const regions[] = {"320101200", "32010120011", "0901012001",
                                              "1001012001", "32O1012001", ""};
        p = ghost_kk(p, g);
        p = gen_put_str(gen_put_str(p, ","), pick(r, regions, COUNT(regions)));
        p = gen_put_str(p, ",active,,Budi");
        break;
    }
    case GEN_R_BAD_STATUS:
        p = ghost_kk(p, g);
        p = gen_put_str(hh_tail(p, f->region, pick(r, statuses, COUNT(statuses))), ",Budi");
        break;
    case GEN_R_BAD_KKS:
        p = hh_tail(ghost_kk(p, g), f->region, "active");
        p = gen_put_str(gen_put_str(p, pick(r, kkses, COUNT(kkses))), ",Budi");
        break;
    case GEN_R_BAD_NAME:
        p = hh_tail(ghost_kk(p, g), f->region, "active");
        *p++ = ',';
        p = gen_below(r, 2) ? long_name(p, r) : bad_utf8_name(p, r);
        break;
    case GEN_R_DUPLICATE_KK: { /* two versions of one (ghost) family */
        char kk[16];
        ghost_kk(kk, g);
        p = gen_put_str(hh_tail(gen_put(p, kk, 16), f->region, "active"), ",Budi\n");
        p = gen_put_str(hh_tail(gen_put(p, kk, 16), f->region, "suspended"), ",Budi Santoso");
        *p++ = '\n';
        gen_out_row(o, row, (size_t)(p - row)); /* two rows in one write */
        o->rows++;
        return 2;
    }
    default: { /* GEN_R_DUPLICATE_KKS: one card on two families */
        char kks[16];
        ghost_kks(kks, g);
        p = gen_put(hh_tail(ghost_kk(p, g), f->region, "active"), kks, 16);
        p = gen_put_str(p, ",Siti\n");
        p = gen_put(hh_tail(ghost_kk(p, g), f->region, "active"), kks, 16);
        p = gen_put_str(p, ",Agus\n");
        gen_out_row(o, row, (size_t)(p - row));
        o->rows++;
        return 2;
    }
    }
    *p++ = '\n';
    put_row(o, row, p);
    return 1;
}

/* ---- members: nik,kk,status,birth_date ---------------------------------- */

static void bad_member(gen_out *o, unsigned reason, gen_rng *r, const gen_family *f, ghost *g) {
    static const char *const statuses[] = {"Deceased", "meninggal", "dead", "hidup", "ALIVE", " alive"};
    static const char *const dates[] = {"1985-02-30", "1985-13-01", "1985-00-10", "1985-1-5",
                                        "05-03-1985", "1985/03/05", "2023-02-29", "1900-02-29",
                                        "1985-04-31", "19850305",   "1985-03-00"};
    char row[GEN_ROW_MAX], *p = row;
    switch (reason) {
    case GEN_R_MALFORMED_ROW:
        p = gen_put(gen_put_str(ghost_nik(p, g), ","), f->kk, 16);
        p = gen_put_str(p, gen_below(r, 2) ? ",alive" : ",alive,1990-01-01,Budi");
        break;
    case GEN_R_BAD_NIK:
        p = gen_put(gen_put_str(bad_nik(p, r, g), ","), f->kk, 16);
        p = gen_put_str(p, ",alive,1990-01-01");
        break;
    case GEN_R_BAD_KK:
        p = bad_id(gen_put_str(ghost_nik(p, g), ","), r, true);
        p = gen_put_str(p, ",alive,");
        break;
    case GEN_R_BAD_STATUS:
        p = gen_put(gen_put_str(ghost_nik(p, g), ","), f->kk, 16);
        p = gen_put_str(gen_put_str(p, ","), pick(r, statuses, COUNT(statuses)));
        p = gen_put_str(p, ",");
        break;
    case GEN_R_BAD_BIRTH_DATE:
        p = gen_put(gen_put_str(ghost_nik(p, g), ","), f->kk, 16);
        p = gen_put_str(gen_put_str(p, ",alive,"), pick(r, dates, COUNT(dates)));
        break;
    default: /* GEN_R_UNKNOWN_KK: a family that was never registered */
        p = ghost_kk(gen_put_str(ghost_nik(p, g), ","), g);
        p = gen_put_str(p, ",alive,1990-01-01");
        break;
    }
    *p++ = '\n';
    put_row(o, row, p);
}

/* ---- enrollments: kk,program,start,end,amount,status -------------------- */

static unsigned bad_enrollment(gen_out *o, unsigned reason, gen_rng *r, const gen_family *f,
                               ghost *g) {
    static const char *const programs[] = {"pkh", "Bpnt", "BANSOS-TUNAI", "PROGRAM_KELUARGA_H",
                                           "",    "BST 2020", "PKH!"};
    static const char *const periods[][2] = {
        {"2020-13", ""},        {"2020-00", ""},        {"2020-1", ""},
        {"20-01", ""},          {"0000-05", ""},        {"", "2021-01"},
        {"2021-06", "2021-05"}, {"2021-01", "2021-13"}, {"2021-01", "2021/12"},
        {"2021-01-01", ""}};
    static const char *const amounts[] = {"-150000", "150.000", "Rp150000", "4294967296", "",
                                          "1e5",     " 200000", "\"200,000\"", "99999999999"};
    static const char *const statuses[] = {"aktif", "Active", "", "closed", "ACTIVE", "suspend"};
    static const char *const overlaps[][4] = {
        {"2020-04", "2020-12", "2020-12", "2021-06"}, /* one month in common */
        {"2020-04", "", "2021-01", "2021-03"},        /* inside an open one */
        {"2020-06", "2020-06", "2020-06", "2020-06"}, /* the same month twice */
        {"2020-01", "2020-12", "2019-06", "2020-01"}, /* the later row starts earlier */
    };
    char row[GEN_ROW_MAX], *p = row;
    switch (reason) {
    case GEN_R_MALFORMED_ROW:
        p = gen_put(p, f->kk, 16);
        p = gen_put_str(p, gen_below(r, 2) ? ",BPNT,2021-01,200000,active"
                                           : ",BPNT,2021-01,,200000,active,x");
        break;
    case GEN_R_BAD_KK:
        p = gen_put_str(bad_id(p, r, true), ",BPNT,2021-01,,200000,active");
        break;
    case GEN_R_BAD_PROGRAM:
        p = gen_put_str(gen_put_str(gen_put(p, f->kk, 16), ","), pick(r, programs, COUNT(programs)));
        p = gen_put_str(p, ",2021-01,,200000,active");
        break;
    case GEN_R_BAD_PERIOD: {
        const char *const *pe = periods[gen_below(r, COUNT(periods))];
        p = gen_put_str(gen_put(p, f->kk, 16), ",BPNT,");
        p = gen_put_str(gen_put_str(gen_put_str(p, pe[0]), ","), pe[1]);
        p = gen_put_str(p, ",200000,active");
        break;
    }
    case GEN_R_BAD_AMOUNT:
        p = gen_put_str(gen_put(p, f->kk, 16), ",BPNT,2021-01,,");
        p = gen_put_str(gen_put_str(p, pick(r, amounts, COUNT(amounts))), ",active");
        break;
    case GEN_R_BAD_STATUS:
        p = gen_put_str(gen_put(p, f->kk, 16), ",BPNT,2021-01,,200000,");
        p = gen_put_str(p, pick(r, statuses, COUNT(statuses)));
        break;
    case GEN_R_UNKNOWN_KK:
        p = gen_put_str(ghost_kk(p, g), ",PKH,2021-01,,250000,active");
        break;
    default: { /* GEN_R_OVERLAPPING_ENROLLMENT: BST rows that overlap */
        const char *const *ov = overlaps[gen_below(r, COUNT(overlaps))];
        for (int i = 0; i < 2; i++) {
            p = gen_put_str(gen_put(p, f->kk, 16), ",BST,");
            p = gen_put_str(gen_put_str(gen_put_str(p, ov[2 * i]), ","), ov[2 * i + 1]);
            p = gen_put_str(p, i ? ",300000,active\n" : ",600000,active\n");
        }
        gen_out_row(o, row, (size_t)(p - row));
        o->rows++;
        return 2;
    }
    }
    *p++ = '\n';
    put_row(o, row, p);
    return 1;
}

/* ---- a family with its bad rows ----------------------------------------- */

static const uint8_t hh_reasons[] = {GEN_R_MALFORMED_ROW, GEN_R_BAD_KK,  GEN_R_BAD_REGION,
                                     GEN_R_BAD_STATUS,    GEN_R_BAD_KKS, GEN_R_BAD_NAME,
                                     GEN_R_DUPLICATE_KK,  GEN_R_DUPLICATE_KKS};
static const uint8_t member_reasons[] = {GEN_R_MALFORMED_ROW, GEN_R_BAD_NIK,
                                         GEN_R_BAD_KK,        GEN_R_BAD_STATUS,
                                         GEN_R_BAD_BIRTH_DATE, GEN_R_DUPLICATE_NIK,
                                         GEN_R_UNKNOWN_KK};
static const uint8_t enr_reasons[] = {GEN_R_MALFORMED_ROW, GEN_R_BAD_KK,    GEN_R_BAD_PROGRAM,
                                      GEN_R_BAD_PERIOD,    GEN_R_BAD_AMOUNT, GEN_R_BAD_STATUS,
                                      GEN_R_UNKNOWN_KK,    GEN_R_OVERLAPPING_ENROLLMENT};

static void emit_clean(gen_out out[GEN_FILES], const gen_family *f) {
    gen_out *o = &out[GEN_FILE_HOUSEHOLDS];
    gen_out_commit(o, gen_row_household(gen_out_reserve(o), f));
    o = &out[GEN_FILE_MEMBERS];
    for (uint32_t i = 0; i < f->n_members; i++)
        gen_out_commit(o, gen_row_member(gen_out_reserve(o), f, &f->members[i]));
    o = &out[GEN_FILE_ENROLLMENTS];
    for (uint32_t i = 0; i < f->n_enrollments; i++)
        gen_out_commit(o, gen_row_enrollment(gen_out_reserve(o), f, &f->enrollments[i]));
}

static bool hit(gen_rng *r, const gen_bad *bad) { return gen_next(r) < bad->threshold; }

/* The household row, maybe repeated (the whole family is then rejected),
 * maybe followed by a ghost household that breaks a rule. Returns whether
 * the family's own household row is rejected. */
static bool emit_household(gen_out *o, const gen_family *f, gen_bad *bad, gen_rng *r, ghost *g) {
    uint64_t *exp = bad->expected[GEN_FILE_HOUSEHOLDS];
    gen_out_commit(o, gen_row_household(gen_out_reserve(o), f));
    if (!hit(r, bad))
        return false;
    unsigned reason = hh_reasons[gen_below(r, COUNT(hh_reasons))];
    if (reason == GEN_R_DUPLICATE_KK && gen_below(r, 2)) {
        gen_out_commit(o, gen_row_household(gen_out_reserve(o), f)); /* registered twice */
        exp[GEN_R_DUPLICATE_KK] += 2;
        return true;
    }
    exp[reason] += bad_household(o, reason, r, f, g);
    return false;
}

static void emit_members(gen_out *o, const gen_family *f, gen_bad *bad, gen_rng *r, ghost *g,
                         bool orphaned) {
    uint64_t *exp = bad->expected[GEN_FILE_MEMBERS];
    for (uint32_t i = 0; i < f->n_members; i++) {
        const gen_member *m = &f->members[i];
        gen_out_commit(o, gen_row_member(gen_out_reserve(o), f, m));
        unsigned reason = hit(r, bad) ? member_reasons[gen_below(r, COUNT(member_reasons))]
                                      : GEN_REASONS;
        if (reason == GEN_R_DUPLICATE_NIK) { /* duplicates are judged before unknown_kk */
            gen_out_commit(o, gen_row_member(gen_out_reserve(o), f, m));
            exp[GEN_R_DUPLICATE_NIK] += 2;
            continue;
        }
        if (orphaned)
            exp[GEN_R_UNKNOWN_KK]++;
        if (reason < GEN_REASONS) {
            bad_member(o, reason, r, f, g);
            exp[reason]++;
        }
    }
}

static void emit_enrollments(gen_out *o, const gen_family *f, gen_bad *bad, gen_rng *r, ghost *g,
                             bool orphaned) {
    uint64_t *exp = bad->expected[GEN_FILE_ENROLLMENTS];
    for (uint32_t i = 0; i < f->n_enrollments; i++) {
        gen_out_commit(o, gen_row_enrollment(gen_out_reserve(o), f, &f->enrollments[i]));
        if (orphaned)
            exp[GEN_R_UNKNOWN_KK]++;
        if (!hit(r, bad))
            continue;
        unsigned reason = enr_reasons[gen_below(r, COUNT(enr_reasons))];
        unsigned n = bad_enrollment(o, reason, r, f, g);
        /* unknown_kk comes before overlapping_enrollment in SPEC 1's order */
        if (reason == GEN_R_OVERLAPPING_ENROLLMENT && orphaned)
            reason = GEN_R_UNKNOWN_KK;
        exp[reason] += n;
    }
}

void gen_emit_family(gen_out out[GEN_FILES], const gen_family *f, gen_bad *bad, uint64_t seed) {
    if (!bad->threshold) {
        emit_clean(out, f);
        return;
    }
    gen_rng r = gen_rng_for(seed, f->index, GEN_STREAM_BAD);
    ghost g = {f->index * 64};
    bool orphaned = emit_household(&out[GEN_FILE_HOUSEHOLDS], f, bad, &r, &g);
    emit_members(&out[GEN_FILE_MEMBERS], f, bad, &r, &g, orphaned);
    emit_enrollments(&out[GEN_FILE_ENROLLMENTS], f, bad, &r, &g, orphaned);
}
