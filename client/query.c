/* query.c — the query syntax of SPEC 2, checked before anything is sent.
 *
 * libeligclient does not link libelig (a terminal should not need LMDB to
 * ask a question), so the four field rules are repeated here; they are the
 * contract's, not the snapshot's, and tests hold both to the same cases. */
#include <string.h>

#include "eligclient.h"

static int digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(s[i] - '0') > 9)
            return 0;
    return 1;
}

static int valid_id(const char *s) {
    return s && strlen(s) == ELIG_WIRE_ID_LEN && digits(s, ELIG_WIRE_ID_LEN);
}

static int valid_program(const char *s) {
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n < 1 || n > ELIG_WIRE_PROGRAM_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* YYYY-MM, year 0001-9999, month 01-12. */
static int valid_period(const char *s) {
    if (!s || strlen(s) != 7 || s[4] != '-' || !digits(s, 4) || !digits(s + 5, 2))
        return 0;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    return memcmp(s, "0000", 4) != 0 && month >= 1 && month <= 12;
}

int eligc_query_valid(const eligc_query *q, const char **why) {
    const char *bad = NULL;
    if (!q)
        bad = "query";
    else if (!elig_kind_name(q->kind))
        bad = "kind";
    else if (!valid_id(q->id))
        bad = "id";
    else if (!valid_program(q->program))
        bad = "program";
    else if (!valid_period(q->period))
        bad = "period";
    if (why)
        *why = bad;
    return bad ? ELIGC_EBADARG : 0;
}

/* Also for the household call: a kind and an id. */
int eligc__id_valid(elig_kind kind, const char *id, const char **why) {
    const char *bad = !elig_kind_name(kind) ? "kind" : !valid_id(id) ? "id" : NULL;
    if (why)
        *why = bad;
    return bad ? ELIGC_EBADARG : 0;
}
