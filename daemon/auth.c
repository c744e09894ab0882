/* auth.c — see auth.h. */
#include "auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "log.h"

#define AUTH_FILE_MAX (16u << 20) /* a channels file larger than this is refused */

/* ---- the counters registry --------------------------------------------- */

/* Entries are prepended under the mutex and never removed, so readers walk
 * the list from an atomic head without a lock. */
static _Atomic(auth_stats *) registry;
static uv_mutex_t registry_mu;
static uv_once_t registry_once = UV_ONCE_INIT;
static auth_stats unknown_stats = {.name = "-"};

static void registry_init(void) { uv_mutex_init(&registry_mu); }

static auth_stats *stats_for(const char *name) {
    uv_once(&registry_once, registry_init);
    uv_mutex_lock(&registry_mu);
    auth_stats *s = atomic_load(&registry);
    for (; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            break;
    if (!s && (s = elig_calloc(1, sizeof *s))) {
        snprintf(s->name, sizeof s->name, "%s", name);
        s->next = atomic_load(&registry);
        atomic_store(&registry, s);
    }
    uv_mutex_unlock(&registry_mu);
    return s;
}

void auth_counters_each(void (*fn)(void *, const char *, uint64_t, uint64_t), void *ud) {
    fn(ud, unknown_stats.name, atomic_load_explicit(&unknown_stats.auth_failures, memory_order_relaxed),
       0);
    for (auth_stats *s = atomic_load(&registry); s; s = s->next)
        fn(ud, s->name, atomic_load_explicit(&s->auth_failures, memory_order_relaxed),
           atomic_load_explicit(&s->rate_limited, memory_order_relaxed));
}

/* call_fail's contract (call.h), kept here so that eligd_io, which holds
 * this file, does not need the rest of the request path. */
static void refuse(call *c, elig_errcode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(call *c, elig_errcode code, const char *fmt, ...) {
    if (c->err)
        return;
    c->err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

static void count(atomic_uint_fast64_t *n) { atomic_fetch_add_explicit(n, 1, memory_order_relaxed); }

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    const char *name;
    int line;
    char *err;
    size_t errlen;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...) {
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, p->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return ELIG_EINVAL;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* s[0..*n) without blanks at either end. */
static const char *trim(const char *s, size_t *n) {
    while (*n && is_space(*s))
        s++, (*n)--;
    while (*n && is_space(s[*n - 1]))
        (*n)--;
    return s;
}

static bool valid_name(const char *s, size_t n) {
    if (n < 1 || n > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 64 hex digits (for certificates also as openssl prints them: upper
 * case, pairs separated by colons) into 32 bytes. */
static bool parse_sha256(const char *s, size_t n, bool colons, uint8_t out[32]) {
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        if (j == 32)
            return false;
        if (i + 2 > n)
            return false;
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0 || (!colons && (s[i] >= 'A' && s[i] <= 'F')) ||
            (!colons && (s[i + 1] >= 'A' && s[i + 1] <= 'F')))
            return false;
        out[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
        if (colons && i < n && s[i] == ':' && j < 32)
            i++;
    }
    return j == 32;
}

/* Calls item() for each comma-separated, trimmed, non-empty element. */
static int each_item(parser *p, const char *key, const char *v, size_t n,
                     int (*item)(parser *, auth_channel *, const char *, size_t), auth_channel *ch) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ',')
            continue;
        size_t len = i - start;
        const char *s = trim(v + start, &len);
        if (len == 0)
            return fail(p, "%s: empty item in the list", key);
        int rc = item(p, ch, s, len);
        if (rc)
            return rc;
        start = i + 1;
    }
    return 0;
}

static int method_item(parser *p, auth_channel *ch, const char *s, size_t n) {
    elig_method m = elig_method_lookup(s, n);
    if (m == ELIG_METHOD_UNKNOWN)
        return fail(p, "methods: unknown method '%.*s'", (int)(n > 40 ? 40 : n), s);
    ch->methods |= UINT64_C(1) << m;
    return 0;
}

static int program_item(parser *p, auth_channel *ch, const char *s, size_t n) {
    if (!elig_valid_program(s, n))
        return fail(p, "programs: '%.*s' is not 1-16 characters of A-Z 0-9 _ (or write * alone)",
                    (int)(n > 40 ? 40 : n), s);
    auth_program *g = elig_realloc(ch->programs, (ch->n_programs + 1) * sizeof *g);
    if (!g)
        return fail(p, "out of memory");
    ch->programs = g;
    memset(&g[ch->n_programs], 0, sizeof *g);
    memcpy(g[ch->n_programs].name, s, n);
    g[ch->n_programs++].len = (uint8_t)n;
    return 0;
}

static int region_item(parser *p, auth_channel *ch, const char *s, size_t n) {
    if (n < 1 || n > 10)
        return fail(p, "regions: '%.*s' is not a kode wilayah prefix of 1-10 digits (or write * alone)",
                    (int)(n > 40 ? 40 : n), s);
    uint64_t v = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(p, "regions: '%.*s' is not a kode wilayah prefix of 1-10 digits (or write * alone)",
                        (int)(n > 40 ? 40 : n), s);
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    for (size_t i = n; i < 10; i++)
        scale *= 10;
    auth_region_range *r = elig_realloc(ch->regions, (ch->n_regions + 1) * sizeof *r);
    if (!r)
        return fail(p, "out of memory");
    ch->regions = r;
    r[ch->n_regions++] = (auth_region_range){v * scale, (v + 1) * scale};
    return 0;
}

static int parse_u32(parser *p, const char *key, const char *v, size_t n, uint32_t *out) {
    uint64_t x = 0;
    if (n < 1 || n > 10)
        return fail(p, "%s: '%.*s' is not a whole number from 1 to 1000000000", key, (int)(n > 40 ? 40 : n), v);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(p, "%s: '%.*s' is not a whole number from 1 to 1000000000", key, (int)n, v);
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x < 1 || x > 1000000000)
        return fail(p, "%s: '%.*s' is not a whole number from 1 to 1000000000", key, (int)n, v);
    *out = (uint32_t)x;
    return 0;
}

/* Which keys a section has set, for duplicates and what is missing. */
enum { K_TOKEN = 1, K_CERT = 2, K_METHODS = 4, K_PROGRAMS = 8, K_REGIONS = 16, K_RATE = 32, K_BURST = 64 };

static int set_key(parser *p, auth_channel *ch, unsigned *seen, const char *k, size_t kn, const char *v,
                   size_t vn) {
    static const struct {
        const char *name;
        unsigned bit;
    } keys[] = {{"token_sha256", K_TOKEN}, {"cert_sha256", K_CERT}, {"methods", K_METHODS},
                {"programs", K_PROGRAMS}, {"regions", K_REGIONS},   {"rate", K_RATE},
                {"burst", K_BURST}};
    unsigned bit = 0;
    const char *name = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].name) == kn && memcmp(keys[i].name, k, kn) == 0)
            bit = keys[i].bit, name = keys[i].name;
    if (!bit)
        return fail(p, "unknown key '%.*s' (known: token_sha256, cert_sha256, methods, programs, "
                       "regions, rate, burst)",
                    (int)(kn > 40 ? 40 : kn), k);
    if (*seen & bit)
        return fail(p, "%s given twice in [channel %s]", name, ch->name);
    *seen |= bit;
    bool star = vn == 1 && v[0] == '*';
    switch (bit) {
    case K_TOKEN:
        if (!parse_sha256(v, vn, false, ch->token_sha256))
            return fail(p, "token_sha256: not 64 lower-case hex digits (elig-token new prints the line)");
        ch->has_token = true;
        return 0;
    case K_CERT:
        if (!parse_sha256(v, vn, true, ch->cert_sha256))
            return fail(p, "cert_sha256: not a SHA-256 fingerprint (64 hex digits, colons allowed)");
        ch->has_cert = true;
        return 0;
    case K_METHODS:
        return each_item(p, "methods", v, vn, method_item, ch);
    case K_PROGRAMS:
        if (star)
            return ch->all_programs = true, 0;
        return each_item(p, "programs", v, vn, program_item, ch);
    case K_REGIONS:
        if (star)
            return ch->all_regions = true, 0;
        return each_item(p, "regions", v, vn, region_item, ch);
    case K_RATE:
        return parse_u32(p, "rate", v, vn, &ch->rate);
    default:
        return parse_u32(p, "burst", v, vn, &ch->burst);
    }
}

/* The checks a section needs once it is complete. */
static int finish_channel(parser *p, auth_table *t, unsigned seen) {
    auth_channel *ch = &t->ch[t->n - 1];
    int line = p->line;
    p->line = ch->line;
    int rc = 0;
    if (!(seen & (K_TOKEN | K_CERT)))
        rc = fail(p, "[channel %s] has neither token_sha256 nor cert_sha256", ch->name);
    else if (!(seen & K_METHODS))
        rc = fail(p, "[channel %s] has no methods line", ch->name);
    else if (!(seen & K_PROGRAMS))
        rc = fail(p, "[channel %s] has no programs line (write programs = * for all)", ch->name);
    else if (!(seen & K_REGIONS))
        rc = fail(p, "[channel %s] has no regions line (write regions = * for all)", ch->name);
    else if ((seen & K_BURST) && !(seen & K_RATE))
        rc = fail(p, "[channel %s] has a burst but no rate", ch->name);
    for (size_t i = 0; rc == 0 && ch->has_cert && i + 1 < t->n; i++)
        if (t->ch[i].has_cert && memcmp(t->ch[i].cert_sha256, ch->cert_sha256, 32) == 0)
            rc = fail(p, "[channel %s] has the cert_sha256 of [channel %s]", ch->name, t->ch[i].name);
    p->line = line;
    if (rc == 0 && ch->rate) {
        if (!ch->burst)
            ch->burst = ch->rate; /* a second's worth */
        ch->interval_ns = 1000000000u / ch->rate;
        if (!ch->interval_ns)
            ch->interval_ns = 1;
        ch->tolerance_ns = (uint64_t)ch->burst * ch->interval_ns;
    }
    return rc;
}

static void table_free(auth_table *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        elig_free(t->ch[i].programs);
        elig_free(t->ch[i].regions);
    }
    elig_free(t->ch);
    elig_free(t);
}

static int section(parser *p, auth_table *t, const char *s, size_t n) {
    if (n < 2 || s[n - 1] != ']' || n < 9 || memcmp(s, "[channel", 8) != 0 || !is_space(s[8]))
        return fail(p, "expected [channel NAME]");
    size_t nn = n - 10;
    const char *name = trim(s + 9, &nn);
    if (!valid_name(name, nn))
        return fail(p, "channel name '%.*s' is not 1-64 characters of A-Z a-z 0-9 . _ -",
                    (int)(nn > 64 ? 64 : nn), name);
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->ch[i].name) == nn && memcmp(t->ch[i].name, name, nn) == 0)
            return fail(p, "duplicate [channel %s] (first on line %d)", t->ch[i].name, t->ch[i].line);
    auth_channel *ch = elig_realloc(t->ch, (t->n + 1) * sizeof *ch);
    if (!ch)
        return fail(p, "out of memory");
    t->ch = ch;
    ch = &t->ch[t->n++];
    memset(ch, 0, sizeof *ch);
    memcpy(ch->name, name, nn);
    ch->line = p->line;
    return 0;
}

int auth_table_parse(const char *text, size_t len, const char *name, auth_table **out, char *err,
                     size_t errlen) {
    parser p = {.name = name, .line = 0, .err = err, .errlen = errlen};
    auth_table *t = elig_calloc(1, sizeof *t);
    if (!t)
        return fail(&p, "out of memory"), ELIG_ENOMEM;
    atomic_init(&t->refs, 1);
    unsigned seen = 0;
    int rc = 0;
    size_t pos = len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* a UTF-8 BOM */
    while (rc == 0 && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *s = text + pos;
        pos += n + (nl ? 1 : 0);
        p.line++;
        if (n && s[n - 1] == '\r')
            n--;
        if (memchr(s, '\0', n))
            rc = fail(&p, "a NUL byte");
        s = trim(s, &n);
        if (rc || n == 0 || s[0] == '#')
            continue;
        if (s[0] == '[') {
            if (t->n && (rc = finish_channel(&p, t, seen)) != 0)
                break;
            seen = 0;
            rc = section(&p, t, s, n);
            continue;
        }
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            rc = fail(&p, "not a `key = value` line, a [channel NAME] header or a # comment");
            break;
        }
        if (!t->n) {
            rc = fail(&p, "`key = value` before the first [channel NAME]");
            break;
        }
        size_t kn = (size_t)(eq - s), vn = n - kn - 1;
        const char *k = trim(s, &kn), *v = trim(eq + 1, &vn);
        if (kn == 0) {
            rc = fail(&p, "no key before '='");
            break;
        }
        rc = set_key(&p, &t->ch[t->n - 1], &seen, k, kn, v, vn);
    }
    if (rc == 0 && t->n)
        rc = finish_channel(&p, t, seen);
    if (rc != 0) {
        table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int auth_table_load(const char *path, auth_table **out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char *text = elig_malloc(AUTH_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, AUTH_FILE_MAX + 1, f) : 0;
    bool bad = !text || ferror(f);
    fclose(f);
    if (bad || n > AUTH_FILE_MAX) {
        snprintf(err, errlen, "%s: %s", path, !text ? "out of memory" : bad ? "read error" : "larger than 16 MiB");
        elig_free(text);
        return ELIG_EINVAL;
    }
    int rc = auth_table_parse(text, n, path, out, err, errlen);
    elig_free(text);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < (*out)->n; i++) {
        if (!((*out)->ch[i].stats = stats_for((*out)->ch[i].name))) {
            table_free(*out);
            snprintf(err, errlen, "%s: out of memory", path);
            return ELIG_ENOMEM;
        }
    }
    return 0;
}

const auth_channel *auth_table_find(const auth_table *t, const char *name, size_t n) {
    for (size_t i = 0; t && i < t->n; i++)
        if (strlen(t->ch[i].name) == n && memcmp(t->ch[i].name, name, n) == 0)
            return &t->ch[i];
    return NULL;
}

const auth_channel *auth_table_find_cert(const auth_table *t, const uint8_t fp[32]) {
    for (size_t i = 0; t && i < t->n; i++)
        if (t->ch[i].has_cert && CRYPTO_memcmp(t->ch[i].cert_sha256, fp, 32) == 0)
            return &t->ch[i];
    return NULL;
}

void auth_table_acquire(auth_table *t) { atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); }

void auth_table_release(auth_table *t) {
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        table_free(t);
}

/* ---- the holder -------------------------------------------------------- */

int auth_holder_init(auth_holder *h, const char *path, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    h->path = path;
    atomic_init(&h->generation, 1);
    int rc = auth_table_load(path, &h->cur, err, errlen);
    if (rc != 0)
        return rc;
    uv_mutex_init(&h->mu);
    return 0;
}

void auth_holder_destroy(auth_holder *h) {
    auth_table_release(h->cur);
    h->cur = NULL;
    uv_mutex_destroy(&h->mu);
}

int auth_holder_reload(auth_holder *h) {
    char err[256];
    auth_table *fresh;
    int rc = auth_table_load(h->path, &fresh, err, sizeof err);
    uv_mutex_lock(&h->mu);
    auth_table *old = NULL;
    if (rc == 0) {
        old = h->cur;
        h->cur = fresh;
        h->reload_error[0] = '\0';
        atomic_fetch_add_explicit(&h->generation, 1, memory_order_acq_rel);
    } else {
        snprintf(h->reload_error, sizeof h->reload_error, "auth file: %s", err);
    }
    uv_mutex_unlock(&h->mu);
    if (rc == 0)
        log_info("reloaded the auth file %s: %zu channels", h->path, fresh->n);
    else
        log_error("auth file reload failed, keeping the previous channels: %s", err);
    auth_table_release(old);
    return rc;
}

auth_table *auth_holder_acquire(auth_holder *h, uint64_t *gen) {
    uv_mutex_lock(&h->mu);
    auth_table *t = h->cur;
    auth_table_acquire(t);
    *gen = atomic_load_explicit(&h->generation, memory_order_acquire);
    uv_mutex_unlock(&h->mu);
    return t;
}

void auth_holder_reload_error(auth_holder *h, char *out, size_t n) {
    uv_mutex_lock(&h->mu);
    snprintf(out, n, "%s", h->reload_error);
    uv_mutex_unlock(&h->mu);
}

/* ---- sessions ---------------------------------------------------------- */

static void grant(session *s, const auth_channel *ch, session_proof how) {
    s->access = SESSION_GRANTED;
    s->grant = ch;
    s->proof = how;
    s->channel = ch->name;
}

static void ungrant(session *s) {
    s->access = SESSION_ANON;
    s->grant = NULL;
    s->channel = "-";
}

void auth_session_start(session *s, const auth_table *t, bool unix_auth) {
    s->grant = NULL;
    s->auth_failures = 0;
    s->close_after = false;
    if (!t || (s->transport == SESSION_UNIX && !unix_auth))
        s->access = SESSION_OPEN;
    else
        s->access = SESSION_ANON;
}

void auth_session_cert(session *s, const auth_table *t, const uint8_t fp[32]) {
    memcpy(s->cert_sha256, fp, 32);
    s->has_cert = true;
    const auth_channel *ch = s->access == SESSION_OPEN ? NULL : auth_table_find_cert(t, fp);
    if (ch)
        grant(s, ch, SESSION_BY_CERT);
}

void auth_session_rebind(session *s, const auth_table *t) {
    if (s->access != SESSION_GRANTED)
        return;
    const auth_channel *old = s->grant, *ch;
    if (s->proof == SESSION_BY_CERT) {
        ch = auth_table_find_cert(t, s->cert_sha256);
    } else {
        ch = auth_table_find(t, old->name, strlen(old->name));
        if (ch && (!ch->has_token || memcmp(ch->token_sha256, old->token_sha256, 32) != 0))
            ch = NULL; /* its token was changed or removed: revoked */
    }
    if (ch)
        grant(s, ch, s->proof);
    else
        ungrant(s);
}

/* ---- the request path -------------------------------------------------- */

/* Printable ASCII of a client-sent name, for messages and logs. */
static void printable(char *out, size_t outlen, const char *s, size_t n) {
    size_t k = n < outlen - 1 ? n : outlen - 1;
    for (size_t i = 0; i < k; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[k] = '\0';
}

/* `auth [channel, token]`: SHA-256 of the token compared in constant time
 * with the channel's digest (an unknown channel is compared with zeros,
 * so the time does not tell which channels exist). */
static void do_auth(call *c, session *s, const auth_table *t) {
    mpr_cur cur = c->msg->params;
    const char *name, *token;
    uint32_t name_n, token_n;
    if (c->msg->nparams != 2 || !mpr_str(&cur, &name, &name_n) || !mpr_str(&cur, &token, &token_n) ||
        token_n > AUTH_TOKEN_MAX) {
        c->err = 0;
        refuse(c, ELIG_ERRCODE_BAD_REQUEST, "params must be [channel, token]");
        return;
    }
    if (!t) {
        refuse(c, ELIG_ERRCODE_UNAUTHORIZED, "unauthorized: this eligd has no --auth-file");
        return;
    }
    static const uint8_t zeros[32];
    uint8_t digest[32];
    SHA256((const unsigned char *)token, token_n, digest);
    const auth_channel *ch = auth_table_find(t, name, name_n);
    bool ok = CRYPTO_memcmp(digest, ch && ch->has_token ? ch->token_sha256 : zeros, 32) == 0;
    ok = ok && ch && ch->has_token;
    OPENSSL_cleanse(digest, sizeof digest);
    char shown[AUTH_NAME_MAX + 1];
    printable(shown, sizeof shown, name, name_n);
    if (ok) {
        grant(s, ch, SESSION_BY_TOKEN);
        s->auth_failures = 0;
        c->auth_ok = true;
        log_conn(LOG_INFO, s, "authenticated as channel %s", ch->name);
        return;
    }
    count(ch ? &ch->stats->auth_failures : &unknown_stats.auth_failures);
    s->auth_failures++;
    if (s->auth_failures >= AUTH_MAX_FAILURES)
        s->close_after = true;
    log_conn(LOG_WARN, s, "auth failed for channel '%s' (%s), failure %u of %d%s", shown,
             ch ? "wrong token" : "unknown channel", s->auth_failures, AUTH_MAX_FAILURES,
             s->close_after ? ": closing" : "");
    refuse(c, ELIG_ERRCODE_UNAUTHORIZED, "unauthorized: unknown channel or wrong token%s",
              s->close_after ? "; closing after 3 failures" : "");
}

static bool program_granted(const auth_channel *ch, const elig_query *q) {
    for (uint32_t i = 0; i < ch->n_programs; i++)
        if (ch->programs[i].len == q->program_len && memcmp(ch->programs[i].name, q->program, q->program_len) == 0)
            return true;
    return false;
}

/* GCRA: charges n requests to ch's bucket, or says how long to wait. */
static bool charge(const auth_channel *ch, uint32_t n, uint64_t *retry_ns) {
    uint64_t now = uv_hrtime();
    uint64_t cost = (uint64_t)n * ch->interval_ns;
    atomic_uint_fast64_t *tat = &ch->stats->tat_ns;
    uint64_t old = atomic_load_explicit(tat, memory_order_relaxed);
    for (;;) {
        uint64_t next = (old > now ? old : now) + cost;
        if (next - now > ch->tolerance_ns) {
            *retry_ns = next - now - ch->tolerance_ns;
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(tat, &old, next, memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}

static void check_grant(call *c, session *s) {
    const auth_channel *ch = s->grant;
    if (c->method == ELIG_METHOD_UNKNOWN)
        return; /* unknown_method, from decode */
    if (!(ch->methods & (UINT64_C(1) << c->method))) {
        c->err = 0;
        refuse(c, ELIG_ERRCODE_UNAUTHORIZED, "unauthorized: method %s is not granted to channel %s",
                  elig_method_name(c->method), ch->name);
        return;
    }
    if (c->err)
        return;
    if (!ch->all_programs)
        for (uint32_t i = 0; i < c->n; i++)
            if (!program_granted(ch, &c->queries[i])) {
                const elig_query *q = &c->queries[i];
                if (c->method == ELIG_METHOD_CHECK_BATCH)
                    refuse(c, ELIG_ERRCODE_UNAUTHORIZED,
                              "unauthorized: item %u: programme %.*s is not granted to channel %s", i,
                              (int)q->program_len, q->program, ch->name);
                else
                    refuse(c, ELIG_ERRCODE_UNAUTHORIZED,
                              "unauthorized: programme %.*s is not granted to channel %s", (int)q->program_len,
                              q->program, ch->name);
                return;
            }
    if (ch->interval_ns) {
        uint32_t n = c->method == ELIG_METHOD_CHECK_BATCH ? c->n : 1;
        uint64_t retry_ns;
        if (n > ch->burst) {
            count(&ch->stats->rate_limited);
            refuse(c, ELIG_ERRCODE_RATE_LIMITED,
                      "rate_limited: a batch of %u items is over channel %s's burst of %u; split it", n,
                      ch->name, ch->burst);
        } else if (n && !charge(ch, n, &retry_ns)) {
            count(&ch->stats->rate_limited);
            refuse(c, ELIG_ERRCODE_RATE_LIMITED, "rate_limited: retry after %llu ms",
                      (unsigned long long)((retry_ns + 999999) / 1000000));
        }
    }
}

void auth_authorize(call *c, session *s, const auth_table *t) {
    c->auth_ok = false;
    if (c->method == ELIG_METHOD_AUTH) {
        do_auth(c, s, t);
        return;
    }
    switch (s->access) {
    case SESSION_OPEN:
        /* `reload` (SPEC 9): on the Unix socket, whose file mode guards
         * it, or to a channel granted it; never to an open TCP session. */
        if (c->method == ELIG_METHOD_RELOAD && s->transport != SESSION_UNIX) {
            c->err = 0;
            refuse(c, ELIG_ERRCODE_UNAUTHORIZED,
                   "unauthorized: reload is allowed only on the Unix socket or to a channel granted it");
        }
        return;
    case SESSION_ANON:
        if (c->method != ELIG_METHOD_PING) {
            c->err = 0;
            refuse(c, ELIG_ERRCODE_UNAUTHORIZED, "unauthorized: call auth [channel, token] first");
        }
        return;
    case SESSION_GRANTED:
        if (c->method != ELIG_METHOD_PING)
            check_grant(c, s);
        return;
    }
}

static bool region_granted(const auth_channel *ch, uint64_t region) {
    for (uint32_t i = 0; i < ch->n_regions; i++)
        if (region >= ch->regions[i].lo && region < ch->regions[i].hi)
            return true;
    return false;
}

void auth_hide_regions_(call *c, const auth_channel *ch) {
    if (c->method == ELIG_METHOD_HOUSEHOLD) {
        if (c->hh_found && !region_granted(ch, c->hh.region))
            c->hh_found = 0;
        return;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        elig_answer *a = &c->answers[i];
        if (a->found && !region_granted(ch, a->region))
            *a = (elig_answer){.reason = ELIG_REASON_NOT_FOUND};
    }
}
