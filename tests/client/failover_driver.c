/* failover_driver.c — a pipelined run through libeligclient during which
 * the first server is killed; run by test_failover.py against two eligd on
 * one snapshot.
 *
 *   failover_driver SERVERS MODE TOTAL DEPTH KILL_AT PID SIGNAL CASES
 *
 * MODE is check (one check per request) or batch (check_batch of 50).
 * CASES is a file of lines kind,id,program,period,reason,amount,kk (kk
 * empty when not found), written by the test from SPEC 2; query i is case
 * i mod n, so an answer out of place does not match. After KILL_AT answers
 * the driver sends SIGNAL to PID. It passes (exit 0) when every query got
 * exactly one answer, each the expected one, none failed, and the handle
 * ended on the second server. ELIG_CHANNEL, ELIG_TOKEN_FILE and
 * ELIGC_TEST_TLS_CA (TLS, verified against that CA) apply when set. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eligclient.h"

#define MAX_CASES 64
#define GROUP 50

typedef struct {
    char kind[8], id[24], program[24], period[16], reason[32], kk[24];
    unsigned long amount;
    eligc_query q;
} tcase;

static tcase cases[MAX_CASES];
static size_t n_cases;

static int load_cases(const char *path) {
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f) && n_cases < MAX_CASES) {
        tcase *c = &cases[n_cases];
        c->kk[0] = '\0';
        if (sscanf(line, "%7[^,],%23[^,],%23[^,],%15[^,],%31[^,],%lu,%23[0-9]", c->kind, c->id,
                   c->program, c->period, c->reason, &c->amount, c->kk) < 6)
            continue;
        int k = elig_kind_lookup(c->kind, strlen(c->kind));
        c->q = (eligc_query){(elig_kind)k, c->id, c->program, c->period};
        n_cases++;
    }
    fclose(f);
    return n_cases ? 0 : -1;
}

static unsigned long mismatches, errors;

static void check_answer(size_t i, int rc, const eligc_answer *a, eligc_conn *c) {
    const tcase *t = &cases[i % n_cases];
    if (rc) {
        if (errors++ < 5)
            fprintf(stderr, "failover_driver: query %zu: %s\n", i, eligc_errmsg(c));
        return;
    }
    if (strcmp(elig_reason_code(a->reason), t->reason) != 0 || a->amount != t->amount ||
        strcmp(a->kk, t->kk) != 0) {
        if (mismatches++ < 5)
            fprintf(stderr, "failover_driver: query %zu (%s %s %s %s): got %s %u %s, want %s %lu %s\n",
                    i, t->kind, t->id, t->program, t->period, elig_reason_code(a->reason),
                    a->amount, a->kk, t->reason, t->amount, t->kk);
    }
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: failover_driver SERVERS MODE TOTAL DEPTH KILL_AT PID SIGNAL CASES\n");
        return 2;
    }
    const char *servers[2];
    char *list = argv[1], *comma = strchr(list, ',');
    if (!comma)
        return 2;
    *comma = '\0';
    servers[0] = list;
    servers[1] = comma + 1;
    bool batch = strcmp(argv[2], "batch") == 0;
    size_t total = strtoul(argv[3], NULL, 10), depth = strtoul(argv[4], NULL, 10);
    size_t kill_at = strtoul(argv[5], NULL, 10);
    pid_t pid = (pid_t)atol(argv[6]);
    int sig = atoi(argv[7]);
    if (load_cases(argv[8]) != 0) {
        fprintf(stderr, "failover_driver: no cases in %s\n", argv[8]);
        return 2;
    }
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = 2;
    opt.max_pending = depth;
    /* With an auth file and TLS (test_tls_auth.py): credentials from
     * ELIG_CHANNEL / ELIG_TOKEN_FILE, the servers' CA from
     * ELIGC_TEST_TLS_CA. */
    eligc_options_env(&opt);
    if (getenv("ELIGC_TEST_TLS_CA")) {
        opt.tls = true;
        opt.tls_ca = getenv("ELIGC_TEST_TLS_CA");
    }
    eligc_conn *c;
    if (eligc_open(&opt, &c) != 0) {
        fprintf(stderr, "failover_driver: %s\n", eligc_errmsg(c));
        return 1;
    }
    size_t per = batch ? GROUP : 1, sent = 0, got = 0;
    bool killed = false;
    eligc_query qs[GROUP];
    eligc_answer as[GROUP];
    while (got < total) {
        if (sent < total && eligc_pending(c) < depth) {
            for (size_t j = 0; j < per; j++)
                qs[j] = cases[(sent + j) % n_cases].q;
            int rc = batch ? eligc_send_check_batch(c, qs, per) : eligc_send_check(c, &qs[0]);
            if (rc) {
                fprintf(stderr, "failover_driver: send: %s\n", eligc_errmsg(c));
                return 1;
            }
            sent += per;
            continue;
        }
        int rc = batch ? eligc_recv_check_batch(c, as, per) : eligc_recv_check(c, &as[0]);
        for (size_t j = 0; j < per; j++)
            check_answer(got + j, rc, &as[j], c);
        got += per;
        if (!killed && got >= kill_at) {
            kill(pid, sig);
            killed = true;
        }
    }
    const char *now = eligc_server(c);
    bool moved = now && strcmp(now, servers[1]) == 0;
    printf("answered %zu, mismatches %lu, errors %lu, pending %zu, on %s\n", got, mismatches,
           errors, eligc_pending(c), now ? now : "(none)");
    eligc_close(c);
    return mismatches == 0 && errors == 0 && killed && moved ? 0 : 1;
}
