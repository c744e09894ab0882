/* test_keys.c — the keys file and the key choice: kinds by weight, the miss
 * ratio, made-up misses that cannot name anything, Zipf's skew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"

static char path[64];

static void write_file(const char *text) {
    strcpy(path, "/tmp/test_bench_keysXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void loads_hits_and_misses(void **state) {
    (void)state;
    write_file("kind,id\n# comment\nnik,3171014107850001\r\nkk,3171010101010001\n"
               "kk,3171010101010002,miss\nkks,5000000000000001,hit\n\n");
    key_source ks;
    char err[256];
    assert_int_equal(keys_load(&ks, path, err, sizeof err), 0);
    assert_int_equal(ks.hit[ELIG_KIND_NIK].n, 1);
    assert_int_equal(ks.hit[ELIG_KIND_KK].n, 1);
    assert_int_equal(ks.miss[ELIG_KIND_KK].n, 1);
    assert_int_equal(ks.hit[ELIG_KIND_KKS].n, 1);
    assert_memory_equal(ks.miss[ELIG_KIND_KK].ids[0], "3171010101010002", 16);
    keys_free(&ks);
    unlink(path);
}

static void rejects_bad_lines(void **state) {
    (void)state;
    const char *bad[] = {"nik,123\n", "card,3171014107850001\n", "nik,31710141078500x1\n",
                         "nik,3171014107850001,maybe\n", "nik\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(bad[i]);
        key_source ks;
        char err[256] = "";
        assert_int_equal(keys_load(&ks, path, err, sizeof err), -1);
        assert_non_null(strstr(err, ":1:")); /* names the line */
        unlink(path);
    }
}

static void mix_and_misses(void **state) {
    (void)state;
    write_file("nik,3171014107850001\nkk,3171010101010001\nkks,5000000000000001\n");
    key_source ks;
    char err[256];
    assert_int_equal(keys_load(&ks, path, err, sizeof err), 0);
    assert_int_equal(keys_set_mix(&ks, "nik=3,kk=1", err, sizeof err), 0);
    assert_int_equal(keys_set_mix(&ks, "nik,bogus", err, sizeof err), -1);
    assert_int_equal(keys_set_mix(&ks, "nik=3,kk=1", err, sizeof err), 0);
    ks.miss_ratio = 0.5;
    keys_set_skew(&ks, false);
    rng r;
    rng_seed(&r, 1);
    int kinds[ELIG_KIND_COUNT] = {0}, misses = 0;
    for (int i = 0; i < 40000; i++) {
        elig_kind k;
        char id[16];
        bool miss = keys_pick(&ks, &r, &k, id);
        kinds[k]++;
        if (miss) {
            misses++;
            assert_int_equal(id[0], '0'); /* made up: no nik or kk starts with 0 */
        } else {
            assert_int_not_equal(id[0], '0');
        }
    }
    assert_int_equal(kinds[ELIG_KIND_KKS], 0);
    assert_true(kinds[ELIG_KIND_NIK] > 28000 && kinds[ELIG_KIND_NIK] < 32000); /* 3/4 */
    assert_true(misses > 19000 && misses < 21000);
    /* a kind with a weight but no keys is refused */
    key_source empty;
    write_file("nik,3171014107850001\n");
    assert_int_equal(keys_load(&empty, path, err, sizeof err), 0);
    assert_int_equal(keys_set_mix(&empty, "kks", err, sizeof err), -1);
    keys_free(&empty);
    keys_free(&ks);
    unlink(path);
}

static void zipf_is_skewed(void **state) {
    (void)state;
    zipf z;
    zipf_init(&z, 1000, 0.99);
    rng r;
    rng_seed(&r, 3);
    int first = 0, last_half = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t k = zipf_next(&z, rng_unit(&r));
        assert_true(k < 1000);
        first += k == 0;
        last_half += k >= 500;
    }
    /* rank 0 of 1000 under theta 0.99 carries about 1/zeta(1000) = 13 % */
    assert_true(first > 10000 && first < 16000);
    /* uniform would put half the draws in the upper half; Zipf about 8 % */
    assert_true(last_half < 15000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_hits_and_misses),
        cmocka_unit_test(rejects_bad_lines),
        cmocka_unit_test(mix_and_misses),
        cmocka_unit_test(zipf_is_skewed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
