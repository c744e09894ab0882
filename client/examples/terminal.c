/* terminal.c — one eligibility check as an e-warong terminal makes it.
 *
 *   terminal SERVERS KIND ID PROGRAM PERIOD
 *   terminal 10.0.0.5:7420,10.0.0.6:7420 nik 3171014101900001 BPNT 2026-11
 *
 * SERVERS is a comma list: the first is asked, the others take over if it
 * refuses or drops the connection. A terminal cannot keep a customer
 * waiting, so the timeouts are short, and one timeout earns one retry,
 * which the library sends to the next server in the list.
 * Exit status: 0 eligible, 3 not eligible, 1 no answer, 2 bad usage. */
#include <stdio.h>
#include <string.h>

#include <eligclient.h>

#define MAX_SERVERS 8

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: terminal SERVERS KIND ID PROGRAM PERIOD\n");
        return 2;
    }
    const char *servers[MAX_SERVERS];
    size_t n = 0;
    for (char *save, *s = strtok_r(argv[1], ",", &save); s && n < MAX_SERVERS;
         s = strtok_r(NULL, ",", &save))
        servers[n++] = s;
    int kind = elig_kind_lookup(argv[2], strlen(argv[2]));
    eligc_query q = {.kind = kind < 0 ? ELIG_KIND_COUNT : (elig_kind)kind,
                     .id = argv[3], .program = argv[4], .period = argv[5]};
    const char *field;
    if (eligc_query_valid(&q, &field) != 0) {
        fprintf(stderr, "terminal: bad %s\n", field);
        return 2;
    }

    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = n;
    opt.connect_timeout_ms = 500;
    opt.request_timeout_ms = 1500;

    eligc_conn *c;
    int rc = eligc_open(&opt, &c);
    if (rc == ELIGC_ENOMEM) {
        fprintf(stderr, "terminal: out of memory\n");
        return 1;
    }
    if (rc == ELIGC_EBADARG) {
        fprintf(stderr, "terminal: %s\n", eligc_errmsg(c));
        eligc_close(c);
        return 2;
    }
    /* ELIGC_ECONNECT: nobody answered yet; the check below tries again. */

    eligc_answer a;
    rc = eligc_check(c, &q, &a);
    if (rc == ELIGC_ETIMEOUT) /* the retry goes to the next server */
        rc = eligc_check(c, &q, &a);
    if (rc != 0) {
        fprintf(stderr, "terminal: no answer: %s\n", eligc_errmsg(c));
        eligc_close(c);
        return 1;
    }
    if (a.eligible)
        printf("ELIGIBLE %s for %s %s: Rp %u (family %s, snapshot %s)\n", q.id, q.program,
               q.period, a.amount, a.kk, a.snapshot);
    else
        printf("NOT ELIGIBLE %s for %s %s: %s (snapshot %s)\n", q.id, q.program, q.period,
               elig_reason_words(a.reason), a.snapshot);
    eligc_close(c);
    return a.eligible ? 0 : 3;
}
