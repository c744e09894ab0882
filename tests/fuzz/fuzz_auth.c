/* fuzz_auth — the channels file of --auth-file (daemon/auth.c's parser,
 * auth_table_parse: the same code eligd runs at start and on SIGHUP).
 * Properties: any input either parses or fails with one line naming the
 * file and a line number within the input; a parsed table holds only
 * channels SPEC 6 allows (a token or a certificate, well-formed names,
 * region ranges inside the 10-digit space, a rate with a positive
 * interval and a burst), and nothing leaks. */
#include <string.h>

#include "auth.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    auth_table *t = NULL;
    char err[512] = "";
    if (auth_table_parse((const char *)data, size, "fuzz.conf", &t, err, sizeof err) != 0) {
        FUZZ_ASSERT(t == NULL);
        FUZZ_ASSERT(strncmp(err, "fuzz.conf:", 10) == 0 && !strchr(err, '\n'));
        long line = strtol(err + 10, NULL, 10);
        long lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        FUZZ_ASSERT(line >= 1 && line <= lines);
        return 0;
    }
    FUZZ_ASSERT(t != NULL);
    for (size_t i = 0; i < t->n; i++) {
        const auth_channel *c = &t->ch[i];
        size_t n = strlen(c->name);
        FUZZ_ASSERT(n >= 1 && n <= AUTH_NAME_MAX);
        FUZZ_ASSERT(c->has_token || c->has_cert);
        FUZZ_ASSERT(auth_table_find(t, c->name, n) == c); /* names are unique */
        for (uint32_t r = 0; r < c->n_regions; r++)
            FUZZ_ASSERT(c->regions[r].lo < c->regions[r].hi && c->regions[r].hi <= 10000000000ull);
        for (uint32_t p = 0; p < c->n_programs; p++)
            FUZZ_ASSERT(c->programs[p].len >= 1 && c->programs[p].len <= ELIG_WIRE_PROGRAM_MAX);
        FUZZ_ASSERT(!c->rate || (c->interval_ns > 0 && c->burst >= 1 && c->tolerance_ns >= c->interval_ns));
        FUZZ_ASSERT(!(c->methods >> ELIG_METHOD_COUNT));
    }
    auth_table_release(t);
    return 0;
}
