/* keys.c — see keys.h. */
#include "keys.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 spreads one seed over the four words, as xoshiro's authors
 * recommend. */
void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static double zeta(uint64_t n, double theta) {
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

void zipf_init(zipf *z, uint64_t n, double theta) {
    z->n = n;
    z->theta = theta;
    z->zetan = zeta(n, theta);
    z->alpha = 1.0 / (1.0 - theta);
    double zeta2 = zeta(2, theta);
    z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);
    z->half_pow_theta = 1.0 + pow(0.5, theta);
}

uint64_t zipf_next(const zipf *z, double u) {
    double uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < z->half_pow_theta)
        return z->n > 1 ? 1 : 0;
    uint64_t k = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
    return k < z->n ? k : z->n - 1;
}

static int push(key_list *l, const char *id) {
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 1024;
        key_id *p = realloc(l->ids, cap * sizeof *p);
        if (!p)
            return -1;
        l->ids = p;
        l->cap = cap;
    }
    memcpy(l->ids[l->n++], id, ELIG_WIRE_ID_LEN);
    return 0;
}

static bool all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* One line "kind,id" or "kind,id,miss" (no line terminator). 1 added, 0
 * skipped (comment, header, empty), -1 malformed. */
static int parse_line(key_source *ks, char *line, size_t len) {
    if (len == 0 || line[0] == '#' || (len >= 7 && memcmp(line, "kind,id", 7) == 0))
        return 0;
    char *c1 = memchr(line, ',', len);
    if (!c1)
        return -1;
    int kind = elig_kind_lookup(line, (size_t)(c1 - line));
    char *id = c1 + 1;
    size_t rest = len - (size_t)(id - line);
    char *c2 = memchr(id, ',', rest);
    size_t idlen = c2 ? (size_t)(c2 - id) : rest;
    if (kind < 0 || idlen != ELIG_WIRE_ID_LEN || !all_digits(id, idlen))
        return -1;
    bool miss = false;
    if (c2) {
        size_t tail = rest - idlen - 1;
        if (tail == 4 && memcmp(c2 + 1, "miss", 4) == 0)
            miss = true;
        else if (!(tail == 3 && memcmp(c2 + 1, "hit", 3) == 0))
            return -1;
    }
    return push(miss ? &ks->miss[kind] : &ks->hit[kind], id) == 0 ? 1 : -2;
}

int keys_load(key_source *ks, const char *path, char *err, size_t errlen) {
    memset(ks, 0, sizeof *ks);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    unsigned long lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        int r = parse_line(ks, line, len);
        if (r == -1) {
            snprintf(err, errlen, "%s:%lu: expected kind,id or kind,id,miss with kind nik, kk or kks "
                     "and a 16-digit id", path, lineno);
            rc = -1;
            break;
        }
        if (r == -2) {
            snprintf(err, errlen, "%s:%lu: out of memory", path, lineno);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    if (rc != 0)
        keys_free(ks);
    return rc;
}

int keys_set_mix(key_source *ks, const char *spec, char *err, size_t errlen) {
    double w[ELIG_KIND_COUNT] = {0}, total = 0;
    const char *p = spec;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        size_t namelen = eq ? (size_t)(eq - p) : n;
        int kind = elig_kind_lookup(p, namelen);
        double weight = 1.0;
        if (eq) {
            char *end;
            weight = strtod(eq + 1, &end);
            if (end != p + n || !(weight >= 0))
                kind = -1;
        }
        if (kind < 0) {
            snprintf(err, errlen, "--kinds: '%.*s' is not nik, kk or kks with an optional =WEIGHT", (int)n, p);
            return -1;
        }
        if (weight > 0 && ks->hit[kind].n == 0) {
            snprintf(err, errlen, "--kinds: the keys file has no %s keys", elig_kind_name((elig_kind)kind));
            return -1;
        }
        w[kind] += weight;
        total += weight;
        p += n;
        if (*p == ',')
            p++;
    }
    if (total <= 0) {
        snprintf(err, errlen, "--kinds: no kind with a weight above 0");
        return -1;
    }
    double run = 0;
    for (int k = 0; k < ELIG_KIND_COUNT; k++) {
        run += w[k] / total;
        ks->cum[k] = run;
    }
    ks->cum[ELIG_KIND_COUNT - 1] = 1.0;
    return 0;
}

void keys_set_skew(key_source *ks, bool use_zipf) {
    ks->use_zipf = use_zipf;
    if (use_zipf)
        for (int k = 0; k < ELIG_KIND_COUNT; k++)
            if (ks->hit[k].n)
                zipf_init(&ks->z[k], ks->hit[k].n, 0.99);
}

void keys_free(key_source *ks) {
    for (int k = 0; k < ELIG_KIND_COUNT; k++) {
        free(ks->hit[k].ids);
        free(ks->miss[k].ids);
    }
    memset(ks, 0, sizeof *ks);
}

bool keys_pick(const key_source *ks, rng *r, elig_kind *kind, char id[ELIG_WIRE_ID_LEN]) {
    double u = rng_unit(r);
    int k = 0;
    while (k < ELIG_KIND_COUNT - 1 && u >= ks->cum[k])
        k++;
    *kind = (elig_kind)k;
    if (ks->miss_ratio > 0 && rng_unit(r) < ks->miss_ratio) {
        const key_list *m = &ks->miss[k];
        if (m->n) {
            memcpy(id, m->ids[rng_next(r) % m->n], ELIG_WIRE_ID_LEN);
        } else {
            uint64_t x = rng_next(r);
            id[0] = '0';
            for (int i = 1; i < ELIG_WIRE_ID_LEN; i++, x /= 10)
                id[i] = (char)('0' + x % 10);
        }
        return true;
    }
    const key_list *h = &ks->hit[k];
    uint64_t i = ks->use_zipf ? zipf_next(&ks->z[k], rng_unit(r)) : rng_next(r) % h->n;
    memcpy(id, h->ids[i], ELIG_WIRE_ID_LEN);
    return false;
}
