/* query.c — the query syntax of SPEC 2, checked before anything is sent,
 * by the same field rules the daemon and the builder use (libelig's
 * lib/field.c). */
#include <string.h>

#include "elig.h"
#include "eligclient.h"

static int valid_id(const char *s) {
    uint64_t v;
    return s && elig_parse_id16(s, strlen(s), &v) == 0;
}

static int valid_program(const char *s) { return s && elig_valid_program(s, strlen(s)); }

static int valid_period(const char *s) {
    elig_month m;
    return s && elig_parse_period(s, strlen(s), &m) == 0;
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
