/* rows.c — CSV rows of a gen_family. */
#include "rows.h"

#include <string.h>

static const char *const hh_status[] = {"active", "suspended", "graduated", "terminated"};

char *gen_put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

char *gen_put_str(char *p, const char *s) { return gen_put(p, s, strlen(s)); }

char *gen_put_u32(char *p, uint32_t v) {
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

char *gen_put_fixed(char *p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

char *gen_put_month(char *p, uint32_t month) {
    p = gen_put_fixed(p, month / 12, 4);
    *p++ = '-';
    return gen_put_fixed(p, month % 12 + 1, 2);
}

char *gen_put_field(char *p, const char *s, size_t n) {
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n))
        return gen_put(p, s, n);
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            *p++ = '"';
        *p++ = s[i];
    }
    *p++ = '"';
    return p;
}

char *gen_row_household(char *p, const gen_family *f) {
    p = gen_put(p, f->kk, 16);
    *p++ = ',';
    p = gen_put(p, f->region, 10);
    *p++ = ',';
    p = gen_put_str(p, hh_status[f->status]);
    *p++ = ',';
    if (f->has_kks)
        p = gen_put(p, f->kks, 16);
    *p++ = ',';
    p = gen_put_field(p, f->name, f->name_len);
    *p++ = '\n';
    return p;
}

char *gen_row_member(char *p, const gen_family *f, const gen_member *m) {
    p = gen_put(p, m->nik, 16);
    *p++ = ',';
    p = gen_put(p, f->kk, 16);
    p = gen_put_str(p, m->deceased ? ",deceased," : ",alive,");
    if (!m->date_empty) {
        p = gen_put_fixed(p, m->year, 4);
        *p++ = '-';
        p = gen_put_fixed(p, m->month, 2);
        *p++ = '-';
        p = gen_put_fixed(p, m->day, 2);
    }
    *p++ = '\n';
    return p;
}

char *gen_row_enrollment(char *p, const gen_family *f, const gen_enrollment *e) {
    p = gen_put(p, f->kk, 16);
    *p++ = ',';
    p = gen_put_str(p, gen_program_name(e->program));
    *p++ = ',';
    p = gen_put_month(p, e->start);
    *p++ = ',';
    if (e->end != GEN_OPEN)
        p = gen_put_month(p, e->end);
    *p++ = ',';
    p = gen_put_u32(p, e->amount);
    p = gen_put_str(p, e->suspended ? ",suspended\n" : ",active\n");
    return p;
}
