/* rows.h — formatting the three CSV files' rows, by hand and without
 * printf (this is the generator's hot path). Column order is SPEC 1's. */
#ifndef GEN_ROWS_H
#define GEN_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "family.h"

#define GEN_HOUSEHOLDS_HEADER "kk,region,status,kks,head_name\n"
#define GEN_MEMBERS_HEADER "nik,kk,status,birth_date\n"
#define GEN_ENROLLMENTS_HEADER "kk,program,start,end,amount,status\n"

/* Each writes one row at p (room for GEN_ROW_MAX bytes) and returns the end. */
char *gen_row_household(char *p, const gen_family *f);
char *gen_row_member(char *p, const gen_family *f, const gen_member *m);
char *gen_row_enrollment(char *p, const gen_family *f, const gen_enrollment *e);

/* Small formatting helpers shared with the bad-row writer. */
char *gen_put(char *p, const char *s, size_t n);
char *gen_put_str(char *p, const char *s);
char *gen_put_u32(char *p, uint32_t v);
char *gen_put_fixed(char *p, uint64_t v, int width);
char *gen_put_month(char *p, uint32_t month); /* YYYY-MM */
/* A CSV field, quoted (quotes doubled) when it holds , " CR or LF. */
char *gen_put_field(char *p, const char *s, size_t n);

#endif /* GEN_ROWS_H */
