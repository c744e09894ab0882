/* programs.c — does the snapshot know the programme asked about? (issue 16)
 *
 * A snapshot that has never heard of a programme (a typo, `PKHX`, or a
 * programme not loaded yet) answers every query about it `not_enrolled`,
 * which reads like a real "no". `info` names the programmes the snapshot
 * holds (SPEC 9), so `elig check` asks it, only when the answer is
 * not_enrolled, and `elig batch` once at the start, and each says so on
 * stderr. The answers and the exit status do not change. When `info`
 * cannot tell (refused to the channel, an older eligd without `programs`,
 * more names than the client keeps) nothing is said: no guess. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

/* The names as "BPNT, PKH" (or "none"). */
static void out_names(outbuf *o, const prog_list *p) {
    if (p->n == 0)
        out_str(o, "none");
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            out_str(o, ", ");
        out_str(o, p->names[i]);
    }
}

static void out_names_json(outbuf *o, const prog_list *p) {
    out_bytes(o, "[", 1);
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            out_bytes(o, ",", 1);
        out_json_str(o, p->names[i]);
    }
    out_bytes(o, "]", 1);
}

int prog_list_fetch(eligc_conn *c, prog_list *p) {
    memset(p, 0, sizeof *p);
    eligc_info info;
    if (eligc_info_get(c, &info) != 0 || !info.has_programs || info.programs_truncated)
        return -1;
    p->n = info.n_programs;
    memcpy(p->names, info.programs, sizeof p->names);
    memcpy(p->snapshot, info.snapshot, sizeof p->snapshot);
    p->last_missing = -1;
    p->known = true;
    return 0;
}

bool prog_list_holds(const prog_list *p, const char *program) {
    if (!p->known)
        return true; /* cannot tell: say nothing */
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], program) == 0)
            return true;
    return false;
}

void prog_check_warn(eligc_conn *c, bool json, const eligc_query *q, const eligc_answer *a) {
    if (a->reason != ELIG_REASON_NOT_ENROLLED)
        return;
    prog_list p;
    /* The same snapshot must have answered both, or a reload came between. */
    if (prog_list_fetch(c, &p) != 0 || strcmp(p.snapshot, a->snapshot) != 0 ||
        prog_list_holds(&p, q->program))
        return;
    outbuf text, o;
    out_init(&text, NULL);
    out_str(&text, "snapshot ");
    out_str(&text, p.snapshot);
    out_str(&text, " holds no programme '");
    out_str(&text, q->program);
    out_str(&text, "' (it holds ");
    out_names(&text, &p);
    out_str(&text, "); not_enrolled here means the programme is unknown");
    out_init(&o, stderr);
    if (json) {
        out_str(&o, "{\"warning\":");
        out_json_strn(&o, text.p, text.len);
        out_str(&o, ",\"command\":\"check\",\"snapshot\":");
        out_json_str(&o, p.snapshot);
        out_str(&o, ",\"program\":");
        out_json_str(&o, q->program);
        out_str(&o, ",\"programs\":");
        out_names_json(&o, &p);
        out_str(&o, "}\n");
    } else {
        out_str(&o, "elig: warning: ");
        out_bytes(&o, text.p, text.len);
        out_str(&o, "\n");
    }
    out_flush(&o);
    out_free(&o);
    out_free(&text);
}

void prog_note(prog_list *p, const char *program) {
    if (!p->known)
        return;
    if (p->last_missing >= 0 && strcmp(p->missing[p->last_missing].name, program) == 0) {
        p->missing[p->last_missing].rows++;
        return;
    }
    if (prog_list_holds(p, program))
        return;
    for (size_t i = 0; i < p->n_missing; i++) {
        if (strcmp(p->missing[i].name, program) == 0) {
            p->missing[i].rows++;
            p->last_missing = (int)i;
            return;
        }
    }
    if (p->n_missing == PROG_MISSING_MAX) {
        p->more_rows++;
        return;
    }
    snprintf(p->missing[p->n_missing].name, sizeof p->missing[0].name, "%s", program);
    p->missing[p->n_missing].rows = 1;
    p->last_missing = (int)p->n_missing++;
}

void prog_batch_summary(const prog_list *p, bool json, outbuf *o) {
    if (json) {
        out_str(o, ",\"unknown_programs\":");
        if (!p->known) {
            out_str(o, "null");
            return;
        }
        out_str(o, "{");
        for (size_t i = 0; i < p->n_missing; i++) {
            if (i)
                out_bytes(o, ",", 1);
            out_json_str(o, p->missing[i].name);
            out_bytes(o, ":", 1);
            out_u64(o, p->missing[i].rows);
        }
        out_str(o, "}");
        return;
    }
    if (!p->known || p->n_missing == 0)
        return;
    out_str(o, "elig: batch: warning: snapshot ");
    out_str(o, p->snapshot);
    out_str(o, " holds no programme ");
    for (size_t i = 0; i < p->n_missing; i++) {
        out_str(o, i ? ", '" : "'");
        out_str(o, p->missing[i].name);
        out_str(o, "' (");
        out_u64(o, p->missing[i].rows);
        out_str(o, p->missing[i].rows == 1 ? " row)" : " rows)");
    }
    if (p->more_rows) {
        out_str(o, ", and others (");
        out_u64(o, p->more_rows);
        out_str(o, p->more_rows == 1 ? " row)" : " rows)");
    }
    out_str(o, "; it holds ");
    out_names(o, p);
    out_str(o, ": not_enrolled for these rows means the programme is unknown\n");
}
