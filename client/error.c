/* error.c — names of libeligclient's error codes, from the one list in
 * eligclient.h, and the library version. */
#include "eligclient.h"

const char *eligc_strerror(int err) {
    switch (err) {
    case 0:
        return "success";
#define ELIGC_X_(e, n, s)                                                      \
    case n:                                                                    \
        return s;
        ELIGC_ERRNO_MAP(ELIGC_X_)
#undef ELIGC_X_
    default:
        return "unknown error";
    }
}

const char *eligc_version(void) { return ELIGC_VERSION_STRING; }
