/* error.c — names of the library's error codes, from the one list in elig.h. */
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
        return "unknown error";
    }
}
