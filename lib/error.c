/* error.c — words for the error codes of elig.h: the ELIG_E* list, or
 * strerror for a negated errno; and the library version. */
#include <string.h>

#include "elig.h"

const char *elig_strerror(int err) {
    switch (err) {
    case 0:
        return "success";
#define ELIG_X_(e, n, s)                                                       \
    case n:                                                                    \
        return s;
        ELIG_ERRNO_MAP(ELIG_X_)
#undef ELIG_X_
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

const char *elig_version(void) { return ELIG_VERSION_STRING; }
