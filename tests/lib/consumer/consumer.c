/* consumer.c — a program built against an *installed* libelig (see
 * tests/lib/test_install.py): through pkg-config and find_package, shared
 * and static, and once more compiled as C++ (elig.h's extern "C").
 *
 *   consumer SNAPSHOT KIND ID PROGRAM PERIOD
 *
 * Opens the snapshot, applies the rule to one query and prints
 * "REASON AMOUNT KK", then "snapshot ID" and "libelig VERSION". Written in
 * the common subset of C11 and C++ (no designated initializers). */
#include <stdio.h>
#include <string.h>

#include <elig.h>

int main(int argc, char **argv) {
    if (argc != 6)
        return 2;
    char err[512];
    elig_snap *snap;
    elig_reader *r;
    if (elig_snap_open(argv[1], &snap, err, sizeof err) != 0) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    int rc = elig_reader_open(snap, &r);
    if (rc != 0) {
        fprintf(stderr, "consumer: %s\n", elig_strerror(rc));
        elig_snap_close(snap);
        return 1;
    }
    elig_query q;
    elig_query_error e = elig_query_parse(&q, argv[2], strlen(argv[2]), argv[3], strlen(argv[3]), argv[4],
                                          strlen(argv[4]), argv[5], strlen(argv[5]));
    if (e != ELIG_QUERY_OK) {
        fprintf(stderr, "consumer: bad %s\n", elig_query_error_field(e));
        return 2;
    }
    elig_answer a;
    if ((rc = elig_check(r, &q, &a)) != 0) {
        fprintf(stderr, "consumer: %s\n", elig_strerror(rc));
        return 1;
    }
    char kk[17] = "-";
    if (a.found)
        elig_format_id16(a.kk, kk);
    printf("%s %u %s\n", elig_reason_code(a.reason), a.amount, kk);
    printf("snapshot %s\n", elig_snap_meta(snap)->id);
    printf("libelig %s\n", elig_version());
    elig_reader_close(r);
    elig_snap_close(snap);
    return 0;
}
