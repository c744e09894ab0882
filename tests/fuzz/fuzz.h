/* fuzz.h — what every fuzz target of tests/fuzz shares.
 *
 * A target is one file, fuzz_<name>.c, defining libFuzzer's entry
 *
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 *
 * and, if it needs set-up (a snapshot, a context), LLVMFuzzerInitialize.
 * The same file is built twice: with clang's -fsanitize=fuzzer when
 * ELIG_FUZZ is on (tests/fuzz/run drives those), and with replay_main.c in
 * every normal build, where ctest feeds it each input of its corpus
 * (corpus/<name>/: seeds and the reproducers of past crashes), so a
 * regression is caught even without clang.
 *
 * A target checks properties and calls FUZZ_ASSERT on each: a failure
 * aborts, which both libFuzzer and the replay report as a crash. */
#ifndef ELIG_FUZZ_H
#define ELIG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond)                                                                                  \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                                       \
        }                                                                                                  \
    } while (0)

/* A copy of data in a block of exactly size bytes (never NULL for size 0),
 * so that AddressSanitizer catches a read one byte past the input. */
static inline uint8_t *fuzz_exact_copy(const uint8_t *data, size_t size) {
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        abort();
    for (size_t i = 0; i < size; i++)
        p[i] = data[i];
    return p;
}

#endif
