/* rule.c — the eligibility rule of SPEC section 2, and nothing else.
 *
 * Costs: every kind is one probe of the id index (usually one cache line)
 * and one read of the family's household value; the enrollments are packed
 * in that value, so the rule itself reads nothing further. */
#include "internal.h"

elig_query_error elig_query_parse(elig_query *q, const char *kind, size_t kind_n,
                                  const char *id, size_t id_n, const char *program,
                                  size_t program_n, const char *period, size_t period_n) {
    int k = elig_kind_lookup(kind, kind_n);
    if (k < 0)
        return ELIG_QUERY_BAD_KIND;
    q->kind = (elig_kind)k;
    if (elig_parse_id16(id, id_n, &q->id) != 0)
        return ELIG_QUERY_BAD_ID;
    if (!elig_valid_program(program, program_n))
        return ELIG_QUERY_BAD_PROGRAM;
    memcpy(q->program, program, program_n);
    q->program_len = (uint8_t)program_n;
    if (elig_parse_period(period, period_n, &q->period) != 0)
        return ELIG_QUERY_BAD_PERIOD;
    return ELIG_QUERY_OK;
}

const char *elig_query_error_field(elig_query_error e) {
    static const char *const names[] = {"", "kind", "id", "program", "period"};
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

static elig_reason household_reason(elig_hh_status s) {
    switch (s) {
    case ELIG_HH_ACTIVE:
        return ELIG_REASON_ELIGIBLE;
    case ELIG_HH_SUSPENDED:
        return ELIG_REASON_HOUSEHOLD_SUSPENDED;
    case ELIG_HH_GRADUATED:
        return ELIG_REASON_HOUSEHOLD_GRADUATED;
    default:
        return ELIG_REASON_HOUSEHOLD_TERMINATED;
    }
}

/* Steps 4-7: the enrollments of the programme, of which the builder lets at
 * most one cover any month. */
static void apply_enrollments(const elig_household *h, const elig_query *q, elig_answer *a) {
    elig_enrollment e;
    size_t pos = 0;
    bool enrolled = false;
    while (elig_household_next(h, &pos, &e)) {
        if (e.program_len != q->program_len || memcmp(e.program, q->program, q->program_len) != 0)
            continue;
        enrolled = true;
        if (q->period < e.start || q->period > e.end)
            continue;
        if (e.status == ELIG_ENR_SUSPENDED) {
            a->reason = ELIG_REASON_ENROLLMENT_SUSPENDED;
        } else {
            a->reason = ELIG_REASON_ELIGIBLE;
            a->amount = e.amount;
        }
        return;
    }
    a->reason = enrolled ? ELIG_REASON_OUTSIDE_PERIOD : ELIG_REASON_NOT_ENROLLED;
}

int elig_check(elig_reader *r, const elig_query *q, elig_answer *a) {
    int member_status;
    elig_household h;

    a->reason = ELIG_REASON_NOT_FOUND;
    a->found = false;
    a->kk = a->region = 0;
    a->amount = 0;

    int rc = elig_find_(r, q->kind, q->id, &h, &member_status);
    if (rc <= 0)
        return rc;

    a->found = true;
    a->kk = h.kk;
    a->region = h.region;
    if (q->kind == ELIG_KIND_NIK && member_status == ELIG_MEMBER_DECEASED)
        a->reason = ELIG_REASON_MEMBER_DECEASED;
    else if (h.status != ELIG_HH_ACTIVE)
        a->reason = household_reason(h.status);
    else
        apply_enrollments(&h, q, a);
    return 0;
}
