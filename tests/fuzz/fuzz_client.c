/* fuzz_client — libeligclient's response decoders (client/wire.h), what a
 * hostile or broken server's bytes reach: the envelope, the error object
 * and each result decoder. Properties: every decoder either succeeds or
 * says why; strings it copies out are NUL-terminated within their
 * fields; a household's enrollments are allocated only on success and
 * freed by eligc_household_free; nothing reads past the input. */
#include <string.h>

#include "fuzz.h"
#include "wire.h"

static void nul_in(const char *s, size_t cap) { FUZZ_ASSERT(memchr(s, '\0', cap) != NULL); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *p = fuzz_exact_copy(data, size);
    mpr_cur whole = {p, p + size};
    uint32_t msgid;
    mpr_cur err, res;
    if (mpr_rpc_response(p, size, &msgid, &err, &res)) {
        int64_t code;
        char msg[64];
        if (eligc__dec_error(&err, &code, msg, sizeof msg))
            nul_in(msg, sizeof msg);
    } else {
        res = whole; /* the decoders also see bytes that are no response */
    }
    const char *why = NULL;
    mpr_cur r = res;
    if (eligc__dec_pong(&r, &why) != 0)
        FUZZ_ASSERT(why && *why);

    eligc_answer a;
    r = res, why = NULL;
    if (eligc__dec_answer(&r, &a, &why) == 0) {
        nul_in(a.kk, sizeof a.kk), nul_in(a.region, sizeof a.region), nul_in(a.snapshot, sizeof a.snapshot);
        FUZZ_ASSERT(a.reason < ELIG_REASON_COUNT);
    } else {
        FUZZ_ASSERT(why && *why);
    }

    eligc_answer many[8];
    for (size_t n = 0; n <= 8; n += 4) {
        r = res, why = NULL;
        if (eligc__dec_answers(&r, many, n, &why) != 0)
            FUZZ_ASSERT(why && *why);
    }

    eligc_household h;
    memset(&h, 0xa5, sizeof h);
    r = res, why = NULL;
    int rc = eligc__dec_household(&r, &h, &why);
    if (rc == 0) {
        for (size_t i = 0; i < h.n_enrollments; i++) { /* every one there and terminated */
            nul_in(h.enrollments[i].program, sizeof h.enrollments[i].program);
            nul_in(h.enrollments[i].start, sizeof h.enrollments[i].start);
            nul_in(h.enrollments[i].end, sizeof h.enrollments[i].end);
        }
        eligc_household_free(&h);
    } else if (rc == ELIGC_EPROTO) {
        FUZZ_ASSERT(why && *why);
    }

    eligc_info info;
    r = res, why = NULL;
    if (eligc__dec_info(&r, &info, &why) == 0) {
        nul_in(info.version, sizeof info.version), nul_in(info.snapshot, sizeof info.snapshot);
        nul_in(info.created, sizeof info.created), nul_in(info.reload_error, sizeof info.reload_error);
    } else {
        FUZZ_ASSERT(why && *why);
    }
    free(p);
    return 0;
}
