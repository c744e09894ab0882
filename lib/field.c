/* field.c — the field syntax of SPEC sections 1 and 2.
 *
 * Every check takes (pointer, length) and reads nothing past it: fields come
 * straight out of a CSV map or a msgpack buffer, never NUL-terminated. The
 * builder and the query path call the same functions, so a value the builder
 * loads is exactly a value a query can name. */
#include "elig.h"

static bool all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(s[i] - '0') > 9)
            return false;
    return true;
}

/* Value of n digits (n small enough not to overflow the caller's type). */
static uint64_t digits_value(const char *s, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

int elig_parse_id16(const char *s, size_t n, uint64_t *out) {
    if (n != ELIG_WIRE_ID_LEN || !all_digits(s, n))
        return ELIG_EINVAL;
    *out = digits_value(s, n);
    return 0;
}

void elig_format_id16(uint64_t id, char out[17]) {
    for (int i = 15; i >= 0; i--) {
        out[i] = (char)('0' + id % 10);
        id /= 10;
    }
    out[16] = '\0';
}

void elig_format_region(uint64_t region, char out[11]) {
    for (int i = 9; i >= 0; i--) {
        out[i] = (char)('0' + region % 10);
        region /= 10;
    }
    out[10] = '\0';
}

int elig_parse_period(const char *s, size_t n, elig_month *out) {
    if (n != 7 || s[4] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2))
        return ELIG_EINVAL;
    uint32_t year = (uint32_t)digits_value(s, 4);
    uint32_t month = (uint32_t)digits_value(s + 5, 2);
    if (year < 1 || month < 1 || month > 12)
        return ELIG_EINVAL;
    *out = year * 12 + (month - 1);
    return 0;
}

void elig_format_period(elig_month m, char out[8]) {
    uint32_t year = m / 12, month = m % 12 + 1;
    out[0] = (char)('0' + year / 1000 % 10);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    out[4] = '-';
    out[5] = (char)('0' + month / 10);
    out[6] = (char)('0' + month % 10);
    out[7] = '\0';
}

bool elig_valid_program(const char *s, size_t n) {
    if (n < 1 || n > ELIG_WIRE_PROGRAM_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

bool elig_valid_kk(const char *s, size_t n) {
    return n == 16 && all_digits(s, n) && s[0] != '0';
}

/* Province codes run 11-99: the first two digits of a region and a NIK. */
static bool valid_province(const char *s) {
    return digits_value(s, 2) >= 11;
}

bool elig_valid_region(const char *s, size_t n) {
    return n == 10 && all_digits(s, n) && valid_province(s);
}

bool elig_valid_nik(const char *s, size_t n) {
    if (n != 16 || !all_digits(s, n) || !valid_province(s))
        return false;
    unsigned day = (unsigned)digits_value(s + 6, 2);
    unsigned month = (unsigned)digits_value(s + 8, 2);
    bool day_ok = (day >= 1 && day <= 31) || (day >= 41 && day <= 71);
    return day_ok && month >= 1 && month <= 12 && digits_value(s + 12, 4) != 0;
}

static unsigned days_in_month(unsigned year, unsigned month) {
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool elig_valid_date(const char *s, size_t n) {
    if (n != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2) ||
        !all_digits(s + 8, 2))
        return false;
    unsigned year = (unsigned)digits_value(s, 4);
    unsigned month = (unsigned)digits_value(s + 5, 2);
    unsigned day = (unsigned)digits_value(s + 8, 2);
    if (year < 1 || month < 1 || month > 12)
        return false;
    return day >= 1 && day <= days_in_month(year, month);
}

bool elig_parse_amount(const char *s, size_t n, uint32_t *out) {
    if (n == 0 || !all_digits(s, n))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX) /* leading zeros never trip this; big values do */
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool elig_valid_utf8(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}
