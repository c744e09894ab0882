/* consumer.c — a program built against an *installed* libeligclient (see
 * test_install.py): once through pkg-config, once through find_package.
 *
 *   consumer HOST:PORT
 *
 * Pings, asks one check, prints "pong" and "REASON AMOUNT KK". */
#include <stdio.h>

#include <eligclient.h>

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    const char *servers[] = {argv[1]};
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = 1;
    eligc_conn *c;
    if (eligc_open(&opt, &c) != 0 || eligc_ping(c) != 0) {
        fprintf(stderr, "consumer: %s\n", c ? eligc_errmsg(c) : "out of memory");
        eligc_close(c);
        return 1;
    }
    printf("pong\n");
    eligc_query q = {ELIG_KIND_NIK, "3171011501900001", "PKH", "2026-11"};
    eligc_answer a;
    if (eligc_check(c, &q, &a) != 0) {
        fprintf(stderr, "consumer: %s\n", eligc_errmsg(c));
        eligc_close(c);
        return 1;
    }
    printf("%s %u %s\n", elig_reason_code(a.reason), a.amount, a.kk);
    printf("libeligclient %s\n", eligc_version());
    eligc_close(c);
    return 0;
}
