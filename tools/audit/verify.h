/* verify.h — elig-audit verify: the chain of an audit directory. */
#ifndef ELIG_AUDIT_VERIFY_H
#define ELIG_AUDIT_VERIFY_H

#include <stdbool.h>

#include "segdir.h"

/* Checks the segments f[0..n) of dir, printing one line per segment (only
 * the breaks and notes when quiet) and a summary. Returns the exit status:
 * 0 when the chain holds, 1 on any break (each named: file, and record or
 * byte where it can be said). */
int audit_verify(const char *dir, const segfile *f, int n, int threads, bool quiet);

#endif
