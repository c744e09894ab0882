/* load_driver.c — pipelined load through libeligclient for the scale-out
 * test (test_haproxy.py): several connections, each a handle with its own
 * pipeline of checks and check_batches, for as long as the test runs.
 *
 *   load_driver SERVER THREADS DEPTH RATE MAX_SECONDS CASES ID_OLD ID_NEW
 *
 * SERVER is the one address the clients know (HAProxy's). RATE is the
 * queries per second of all threads together (0: as fast as answered).
 * CASES has lines kind,id,program,period,reason,kk,amount_old,amount_new
 * written by the test from SPEC 2 (kk empty when not found); query i asks
 * case i mod n, and its answer must match the case for the snapshot that
 * gave it: ID_OLD's amount or ID_NEW's, any other snapshot id being a
 * mismatch.
 *
 * Signals: SIGUSR1 starts the "after" phase (the test sends it once the
 * rollout is over): a query first queued after it must be answered by
 * ID_NEW. SIGTERM (or MAX_SECONDS) stops sending; the answers still due are
 * collected, then one summary line is printed:
 *
 *   queries Q answered A failed F mismatches M old O new N after_old X after_new Y
 *
 * (one check_batch item counts as one query). Exit 0 when the run was
 * clean: F, M and X zero and at least one answer. Exit 1 otherwise, 2 on bad
 * usage. The first few failures and mismatches go to stderr. */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eligclient.h"

#define MAX_CASES 128
#define BATCH_EVERY 8 /* one request in 8 is a check_batch */
#define BATCH_N 10    /* of this many queries */
#define MAX_DEPTH 256
#define SHOW 5        /* failures and mismatches printed at most */

typedef struct {
    char kind[8], id[24], program[24], period[16], reason[32], kk[24];
    unsigned long amount[2]; /* [0] for ID_OLD, [1] for ID_NEW */
    eligc_query q;
} tcase;

static tcase cases[MAX_CASES];
static size_t n_cases;
static const char *snap_id[2];
static const char *server;
static int depth;
static double rate_per_thread;

static volatile sig_atomic_t stop_flag, after_flag;
static atomic_ulong n_queries, n_answered, n_failed, n_mismatch, n_old, n_new, n_after_old,
    n_after_new, shown;

static void on_signal(int sig) {
    if (sig == SIGUSR1)
        after_flag = 1;
    else
        stop_flag = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load_cases(const char *path) {
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f) && n_cases < MAX_CASES) {
        tcase *c = &cases[n_cases];
        char kk[24] = "";
        int n = sscanf(line, "%7[^,],%23[^,],%23[^,],%15[^,],%31[^,],%23[0-9],%lu,%lu", c->kind,
                       c->id, c->program, c->period, c->reason, kk, &c->amount[0], &c->amount[1]);
        if (n != 8) { /* kk empty: sscanf stops at the empty field */
            kk[0] = '\0';
            n = sscanf(line, "%7[^,],%23[^,],%23[^,],%15[^,],%31[^,],,%lu,%lu", c->kind, c->id,
                       c->program, c->period, c->reason, &c->amount[0], &c->amount[1]);
            if (n != 7)
                continue;
        }
        memcpy(c->kk, kk, sizeof kk);
        int k = elig_kind_lookup(c->kind, strlen(c->kind));
        if (k < 0)
            continue;
        c->q = (eligc_query){(elig_kind)k, c->id, c->program, c->period};
        n_cases++;
    }
    fclose(f);
    return n_cases ? 0 : -1;
}

/* One request in a thread's pipeline. */
typedef struct {
    size_t first; /* case index of its first query */
    unsigned n;   /* 1 for a check, BATCH_N for a check_batch */
    bool after;   /* queued after SIGUSR1 */
} sent;

static void report(const char *fmt, const char *a, const char *b) {
    if (atomic_fetch_add(&shown, 1) < SHOW) {
        fprintf(stderr, "load_driver: ");
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
    }
}

static void judge(const sent *s, unsigned k, const eligc_answer *a) {
    const tcase *t = &cases[(s->first + k) % n_cases];
    int v = strcmp(a->snapshot, snap_id[0]) == 0 ? 0 : strcmp(a->snapshot, snap_id[1]) == 0 ? 1 : -1;
    atomic_fetch_add(&n_answered, 1);
    if (v < 0) {
        atomic_fetch_add(&n_mismatch, 1);
        report("answer from an unknown snapshot '%s' (%s)", a->snapshot, t->id);
        return;
    }
    atomic_fetch_add(v ? &n_new : &n_old, 1);
    if (s->after)
        atomic_fetch_add(v ? &n_after_new : &n_after_old, 1);
    if (s->after && v == 0)
        report("a query queued after the rollout was answered by '%s' (%s)", a->snapshot, t->id);
    if (strcmp(elig_reason_code(a->reason), t->reason) != 0 || a->amount != t->amount[v] ||
        strcmp(a->kk, t->kk) != 0) {
        atomic_fetch_add(&n_mismatch, 1);
        char got[128];
        snprintf(got, sizeof got, "%s amount %u kk '%s' from %s", elig_reason_code(a->reason),
                 a->amount, a->kk, a->snapshot);
        report("wrong answer: %s for case %s", got, t->id);
    }
}

static void *run(void *arg) {
    (void)arg;
    eligc_options opt;
    eligc_options_init(&opt);
    const char *servers[] = {server};
    opt.servers = servers;
    opt.n_servers = 1;
    opt.max_pending = (size_t)depth + 1;
    eligc_conn *c = NULL;
    if (eligc_open(&opt, &c) == ELIGC_ENOMEM)
        return NULL;
    sent ring[MAX_DEPTH];
    size_t head = 0, len = 0, next_case = (size_t)rand() % n_cases, seq = 0;
    eligc_query batch[BATCH_N];
    eligc_answer answers[BATCH_N];
    double start = now_s();
    unsigned long done = 0; /* queries queued by this thread */
    for (;;) {
        bool stopping = stop_flag;
        while (!stopping && len < (size_t)depth &&
               (rate_per_thread <= 0 || done < rate_per_thread * (now_s() - start))) {
            sent *s = &ring[(head + len) % MAX_DEPTH];
            *s = (sent){.first = next_case, .n = 1, .after = after_flag != 0};
            int rc;
            if (++seq % BATCH_EVERY == 0) {
                for (unsigned k = 0; k < BATCH_N; k++)
                    batch[k] = cases[(next_case + k) % n_cases].q;
                s->n = BATCH_N;
                rc = eligc_send_check_batch(c, batch, BATCH_N);
            } else {
                rc = eligc_send_check(c, &cases[next_case].q);
            }
            if (rc) {
                report("send: %s%s", eligc_errmsg(c), "");
                atomic_fetch_add(&n_failed, s->n);
                break;
            }
            next_case = (next_case + s->n) % n_cases;
            done += s->n;
            atomic_fetch_add(&n_queries, s->n);
            len++;
        }
        if (len == 0) {
            if (stopping)
                break;
            nanosleep(&(struct timespec){0, 1000000}, NULL); /* over the rate: wait */
            continue;
        }
        sent *s = &ring[head];
        int rc = s->n == 1 ? eligc_recv_check(c, answers) : eligc_recv_check_batch(c, answers, s->n);
        if (rc) {
            atomic_fetch_add(&n_failed, s->n);
            report("failed: %s (%s)", eligc_errmsg(c), eligc_strerror(rc));
        } else {
            for (unsigned k = 0; k < s->n; k++)
                judge(s, k, &answers[k]);
        }
        head = (head + 1) % MAX_DEPTH;
        len--;
    }
    eligc_close(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: load_driver SERVER THREADS DEPTH RATE MAX_SECONDS CASES ID_OLD ID_NEW\n");
        return 2;
    }
    server = argv[1];
    int threads = atoi(argv[2]);
    depth = atoi(argv[3]);
    double rate = atof(argv[4]), max_s = atof(argv[5]);
    snap_id[0] = argv[7];
    snap_id[1] = argv[8];
    if (threads < 1 || threads > 64 || depth < 1 || depth > MAX_DEPTH - 1 || rate < 0 || max_s <= 0)
        return fprintf(stderr, "load_driver: bad THREADS, DEPTH, RATE or MAX_SECONDS\n"), 2;
    if (load_cases(argv[6]) != 0)
        return fprintf(stderr, "load_driver: no cases in %s\n", argv[6]), 2;
    rate_per_thread = rate / threads;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    srand(1);
    pthread_t tid[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, run, NULL) != 0)
            return fprintf(stderr, "load_driver: cannot start a thread\n"), 1;
    double end = now_s() + max_s;
    while (!stop_flag && now_s() < end)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    stop_flag = 1;
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    unsigned long q = n_queries, a = n_answered, f = n_failed, m = n_mismatch, x = n_after_old;
    printf("queries %lu answered %lu failed %lu mismatches %lu old %lu new %lu after_old %lu "
           "after_new %lu\n",
           q, a, f, m, (unsigned long)n_old, (unsigned long)n_new, x, (unsigned long)n_after_new);
    return f == 0 && m == 0 && x == 0 && a > 0 && a == q ? 0 : 1;
}
