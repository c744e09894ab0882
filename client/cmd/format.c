/* format.c — answers as text for `elig`: human lines, JSON, CSV cells.
 * Output goes through one growable buffer so `elig batch` writes in large
 * blocks rather than a stdio call per cell. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

void out_init(outbuf *o, FILE *f) {
    memset(o, 0, sizeof *o);
    o->f = f;
}

static void out_reserve(outbuf *o, size_t n) {
    if (o->cap - o->len >= n)
        return;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap - o->len < n)
        cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
        fputs("elig: out of memory\n", stderr);
        exit(EXIT_FAIL);
    }
    o->p = p;
    o->cap = cap;
}

void out_bytes(outbuf *o, const char *s, size_t n) {
    out_reserve(o, n);
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

void out_str(outbuf *o, const char *s) { out_bytes(o, s, strlen(s)); }

void out_u64(outbuf *o, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_reserve(o, n);
    while (n)
        o->p[o->len++] = tmp[--n];
}

int out_flush(outbuf *o) {
    if (o->len && fwrite(o->p, 1, o->len, o->f) != o->len) {
        o->len = 0;
        return -1;
    }
    o->len = 0;
    return fflush(o->f) == 0 && !ferror(o->f) ? 0 : -1;
}

void out_free(outbuf *o) {
    free(o->p);
    memset(o, 0, sizeof *o);
}

void out_rupiah(outbuf *o, uint64_t amount) {
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + amount % 10);
        amount /= 10;
    } while (amount);
    out_str(o, "Rp ");
    while (n) { /* a dot before each group of three, counted from the right */
        out_bytes(o, &digits[--n], 1);
        if (n && n % 3 == 0)
            out_bytes(o, ".", 1);
    }
}

void out_json_str(outbuf *o, const char *s) {
    if (!s) {
        out_str(o, "null");
        return;
    }
    out_bytes(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            out_bytes(o, e, 2);
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            out_bytes(o, e, 6);
        } else {
            out_bytes(o, (const char *)&c, 1);
        }
    }
    out_bytes(o, "\"", 1);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF refused). */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

void out_json_strn(outbuf *o, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    out_bytes(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            out_bytes(o, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            out_bytes(o, e, 6);
            i++;
        } else if (c < 0x80) {
            out_bytes(o, s + i, 1);
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k) {
                out_bytes(o, s + i, k);
                i += k;
            } else {
                out_str(o, "\\ufffd");
                i++;
            }
        }
    }
    out_bytes(o, "\"", 1);
}

void cmd_error(bool json, const char *cmd, const char *file, unsigned long line,
               const char *text) {
    outbuf o;
    out_init(&o, stderr);
    if (json) {
        out_str(&o, "{\"error\":");
        out_json_strn(&o, text, strlen(text));
        out_str(&o, ",\"command\":");
        out_json_str(&o, cmd);
        if (file) {
            out_str(&o, ",\"file\":");
            out_json_strn(&o, file, strlen(file));
        }
        if (line) {
            out_str(&o, ",\"line\":");
            out_u64(&o, line);
        }
        out_str(&o, "}\n");
    } else {
        out_str(&o, "elig: ");
        if (cmd) {
            out_str(&o, cmd);
            out_str(&o, ": ");
        }
        if (file) {
            out_str(&o, file);
            if (line) {
                out_bytes(&o, ":", 1);
                out_u64(&o, line);
            }
            out_str(&o, ": ");
        }
        out_str(&o, text);
        out_str(&o, "\n");
    }
    out_flush(&o);
    out_free(&o);
}

void out_csv_cell(outbuf *o, const char *s, size_t n) {
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
        out_bytes(o, s, n);
        return;
    }
    out_bytes(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            out_bytes(o, "\"", 1);
        out_bytes(o, &s[i], 1);
    }
    out_bytes(o, "\"", 1);
}

/* "" as JSON null: the library's way of saying nil. */
static const char *or_null(const char *s) { return s[0] ? s : NULL; }

void out_answer_human(outbuf *o, const eligc_answer *a) {
    if (a->eligible) {
        out_str(o, "eligible: ");
        out_rupiah(o, a->amount);
        out_str(o, " a month");
    } else {
        out_str(o, "not eligible: ");
        out_str(o, elig_reason_words(a->reason));
        out_str(o, " (");
        out_rupiah(o, a->amount);
        out_str(o, ")");
    }
    if (a->kk[0]) {
        out_str(o, "; family ");
        out_str(o, a->kk);
        out_str(o, ", region ");
        out_str(o, a->region);
    }
    if (a->offline) { /* SPEC 10: no server answered; the extract did */
        out_str(o, "; OFFLINE, extract ");
        out_str(o, a->extract);
    } else {
        out_str(o, "; snapshot ");
        out_str(o, a->snapshot);
    }
    out_str(o, "\n");
}

void out_answer_json(outbuf *o, const eligc_answer *a) {
    out_str(o, "{\"eligible\":");
    out_str(o, a->eligible ? "true" : "false");
    out_str(o, ",\"reason\":");
    out_json_str(o, elig_reason_code(a->reason));
    out_str(o, ",\"amount\":");
    out_u64(o, a->amount);
    out_str(o, ",\"kk\":");
    out_json_str(o, or_null(a->kk));
    out_str(o, ",\"region\":");
    out_json_str(o, or_null(a->region));
    out_str(o, ",\"snapshot\":");
    out_json_str(o, a->snapshot);
    if (a->offline) { /* SPEC 10: in addition to the keys of SPEC 3 */
        out_str(o, ",\"offline\":true,\"extract\":");
        out_json_str(o, a->extract);
    }
    out_str(o, "}");
}

void out_household_human(outbuf *o, const eligc_household *h) {
    if (!h->found) {
        out_str(o, "no such family\n");
        return;
    }
    out_str(o, "family ");
    out_str(o, h->kk);
    out_str(o, ", region ");
    out_str(o, h->region);
    out_str(o, ", ");
    out_str(o, elig_hh_status_name(h->status));
    out_str(o, h->kks[0] ? ", KKS " : ", no KKS card");
    out_str(o, h->kks);
    out_str(o, ", ");
    out_u64(o, h->members);
    out_str(o, h->members == 1 ? " member\n" : " members\n");
    if (h->n_enrollments == 0)
        out_str(o, "no enrollments\n");
    for (size_t i = 0; i < h->n_enrollments; i++) {
        const eligc_enrollment *e = &h->enrollments[i];
        out_str(o, "  ");
        out_str(o, e->program);
        out_str(o, " from ");
        out_str(o, e->start);
        out_str(o, e->end[0] ? " to " : ", open-ended");
        out_str(o, e->end);
        out_str(o, ", ");
        out_rupiah(o, e->amount);
        out_str(o, " a month, ");
        out_str(o, elig_enr_status_name(e->status));
        out_str(o, "\n");
    }
}

void out_household_json(outbuf *o, const eligc_household *h) {
    if (!h->found) {
        out_str(o, "null");
        return;
    }
    out_str(o, "{\"kk\":");
    out_json_str(o, h->kk);
    out_str(o, ",\"region\":");
    out_json_str(o, h->region);
    out_str(o, ",\"status\":");
    out_json_str(o, elig_hh_status_name(h->status));
    out_str(o, ",\"kks\":");
    out_json_str(o, or_null(h->kks));
    out_str(o, ",\"members\":");
    out_u64(o, h->members);
    out_str(o, ",\"enrollments\":[");
    for (size_t i = 0; i < h->n_enrollments; i++) {
        const eligc_enrollment *e = &h->enrollments[i];
        out_str(o, i ? ",{\"program\":" : "{\"program\":");
        out_json_str(o, e->program);
        out_str(o, ",\"start\":");
        out_json_str(o, e->start);
        out_str(o, ",\"end\":");
        out_json_str(o, or_null(e->end));
        out_str(o, ",\"amount\":");
        out_u64(o, e->amount);
        out_str(o, ",\"status\":");
        out_json_str(o, elig_enr_status_name(e->status));
        out_str(o, "}");
    }
    out_str(o, "]}");
}

static void kv_str(outbuf *o, const char *k, const char *v) {
    out_str(o, k);
    out_str(o, ": ");
    out_str(o, v);
    out_str(o, "\n");
}

static void kv_u64(outbuf *o, const char *k, uint64_t v) {
    out_str(o, k);
    out_str(o, ": ");
    out_u64(o, v);
    out_str(o, "\n");
}

void out_info_human(outbuf *o, const eligc_info *i) {
    kv_str(o, "version", i->version);
    kv_str(o, "snapshot", i->snapshot);
    kv_str(o, "created", i->created);
    kv_u64(o, "households", i->households);
    kv_u64(o, "members", i->members);
    kv_u64(o, "enrollments", i->enrollments);
    kv_u64(o, "uptime_s", i->uptime_s);
    kv_u64(o, "connections", i->connections);
    kv_u64(o, "requests", i->requests);
    kv_str(o, "reload_error", i->reload_failed ? i->reload_error : "none");
    /* SPEC 9 keys: shown only when the server sent them. */
    if (i->health[0])
        kv_str(o, "health", i->health);
    if (i->content_sha256[0])
        kv_str(o, "content_sha256", i->content_sha256);
    if (i->has_generation)
        kv_u64(o, "generation", i->generation);
    if (i->has_read_errors)
        kv_u64(o, "read_errors", i->read_errors);
    if (i->has_programs) {
        out_str(o, "programs:");
        for (size_t n = 0; n < i->n_programs; n++) {
            out_str(o, n ? ", " : " ");
            out_str(o, i->programs[n]);
        }
        out_str(o, i->programs_truncated ? ", ...\n" : "\n");
    }
}

void out_info_json(outbuf *o, const eligc_info *i) {
    out_str(o, "{\"version\":");
    out_json_str(o, i->version);
    out_str(o, ",\"snapshot\":");
    out_json_str(o, i->snapshot);
    out_str(o, ",\"created\":");
    out_json_str(o, i->created);
    const char *k[] = {"households", "members", "enrollments", "uptime_s", "connections", "requests"};
    const uint64_t v[] = {i->households, i->members, i->enrollments,
                          i->uptime_s,   i->connections, i->requests};
    for (size_t n = 0; n < 6; n++) {
        out_str(o, ",\"");
        out_str(o, k[n]);
        out_str(o, "\":");
        out_u64(o, v[n]);
    }
    out_str(o, ",\"reload_error\":");
    out_json_str(o, i->reload_failed ? i->reload_error : NULL);
    /* SPEC 9 keys: null when the server did not send them. */
    out_str(o, ",\"health\":");
    out_json_str(o, or_null(i->health));
    out_str(o, ",\"content_sha256\":");
    out_json_str(o, or_null(i->content_sha256));
    out_str(o, ",\"generation\":");
    if (i->has_generation)
        out_u64(o, i->generation);
    else
        out_str(o, "null");
    out_str(o, ",\"read_errors\":");
    if (i->has_read_errors)
        out_u64(o, i->read_errors);
    else
        out_str(o, "null");
    out_str(o, ",\"programs\":");
    if (!i->has_programs) {
        out_str(o, "null");
    } else {
        out_str(o, "[");
        for (size_t n = 0; n < i->n_programs; n++) {
            out_str(o, n ? "," : "");
            out_json_str(o, i->programs[n]);
        }
        out_str(o, "]");
    }
    out_str(o, "}");
}
