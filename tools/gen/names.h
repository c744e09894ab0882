/* names.h — head-of-family names for households.csv. */
#ifndef GEN_NAMES_H
#define GEN_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

/* Writes a plausible Indonesian name for a head of family into out (at
 * most cap bytes, cap >= 101) and returns its length, 0 for an empty
 * name. Valid UTF-8, at most 100 bytes. A few carry a title after a comma,
 * a nickname in double quotes, an apostrophe (ASCII or U+2019), or a
 * data-entry line break, so that CSV quoting is exercised. */
uint32_t gen_name(gen_rng *r, bool female, char *out, uint32_t cap);

#endif /* GEN_NAMES_H */
