/* names.c — small name lists; combinations give variety enough. */
#include "names.h"

#include <string.h>

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const char *const male[] = {
    "Ahmad",   "Muhammad", "Budi",    "Agus",    "Joko",     "Slamet",  "Bambang", "Hendra",
    "Rudi",    "Dedi",     "Asep",    "Ujang",   "Iwan",     "Yusuf",   "Rahmat",  "Hasan",
    "Abdul",   "Sutrisno", "Suparman", "Andi",   "Yohanes",  "Petrus",  "Fransiskus", "Teuku",
    "Ma'ruf",  "Ma\xE2\x80\x99" "ruf", "Syahrul", "Darmawan", "Supriyadi", "Wahyu", "Eko", "Tono",
};
static const char *const female[] = {
    "Siti",    "Sri",      "Dewi",    "Nur",     "Rina",     "Yuni",    "Lestari", "Wati",
    "Aminah",  "Fatimah",  "Maria",   "Yuliana", "Kartini",  "Suryani", "Rohani",  "Wulan",
    "Endang",  "Tuti",     "Nur'aini", "Sa'adah", "Ratna",   "Sumiati", "Ernawati", "Juariah",
};
static const char *const second[] = {
    "Hidayat",  "Saputra",  "Kurniawan", "Setiawan", "Nasution", "Harahap",  "Siregar",
    "Lubis",    "Pratama",  "Wijaya",    "Santoso",  "Gultom",   "Sinaga",   "Manurung",
    "Rahman",   "Hakim",    "Susanto",   "Purba",    "Sembiring", "Ginting", "Tarigan",
    "Simanjuntak", "Lumban Tobing", "Daeng Matutu", "Wibowo", "Nugroho", "Prasetyo",
};
static const char *const second_f[] = {
    "Rahayu", "Wulandari", "Handayani", "Purwanti", "Anggraini", "Sari", "Lestari", "Susanti",
};
static const char *const bali_m[] = {"I Wayan", "I Made", "I Komang", "I Ketut", "I Gusti Ngurah"};
static const char *const bali_f[] = {"Ni Wayan", "Ni Made", "Ni Luh", "Ni Ketut", "Ni Nyoman"};
static const char *const nick[] = {"Ucok", "Butet", "Acong", "Neng", "Mbah", "Daeng"};
static const char *const title[] = {"S.Pd.", "S.E.", "A.Md.", "S.Ag.", "S.Sos."};

static uint32_t put(char *out, uint32_t n, uint32_t cap, const char *s) {
    size_t len = strlen(s);
    if (n + len > cap)
        return n;
    memcpy(out + n, s, len);
    return n + (uint32_t)len;
}

static const char *pick(gen_rng *r, const char *const *list, uint32_t count) {
    return list[gen_below(r, count)];
}

/* The given name, Balinese-style with a birth-order prefix now and then. */
static uint32_t given(gen_rng *r, bool female_, char *out, uint32_t cap) {
    uint32_t n = 0;
    if (gen_chance(r, 30000)) {
        n = put(out, n, cap, female_ ? pick(r, bali_f, COUNT(bali_f)) : pick(r, bali_m, COUNT(bali_m)));
        n = put(out, n, cap, " ");
    } else if (gen_chance(r, 50000)) {
        n = put(out, n, cap, female_ ? "Hj. " : "H.");
        if (!female_)
            n = put(out, n, cap, " ");
    }
    return put(out, n, cap, female_ ? pick(r, female, COUNT(female)) : pick(r, male, COUNT(male)));
}

uint32_t gen_name(gen_rng *r, bool female_, char *out, uint32_t cap) {
    if (cap > 100)
        cap = 100; /* SPEC 1: head_name is at most 100 bytes */
    if (gen_chance(r, 5000))
        return 0; /* not recorded */
    uint32_t n = given(r, female_, out, cap);
    if (gen_chance(r, 20000)) { /* a nickname in quotes */
        n = put(out, n, cap, " \"");
        n = put(out, n, cap, pick(r, nick, COUNT(nick)));
        n = put(out, n, cap, "\"");
    }
    uint32_t parts = gen_chance(r, 300000) ? 2 : gen_chance(r, 600000) ? 1 : 0;
    for (uint32_t i = 0; i < parts; i++) {
        n = put(out, n, cap, " ");
        if (female_ && gen_below(r, 2))
            n = put(out, n, cap, pick(r, second_f, COUNT(second_f)));
        else
            n = put(out, n, cap, pick(r, second, COUNT(second)));
    }
    if (!female_ && gen_chance(r, 20000))
        n = put(out, n, cap, " bin Abdullah");
    if (gen_chance(r, 15000)) { /* an academic title after a comma */
        n = put(out, n, cap, ", ");
        n = put(out, n, cap, pick(r, title, COUNT(title)));
    }
    if (gen_chance(r, 50)) /* a data-entry slip: the RT/RW typed into the name */
        n = put(out, n, cap, "\nRT 003/RW 002");
    return n;
}
