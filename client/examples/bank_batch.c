/* bank_batch.c — a bank's bulk verification before a disbursement run.
 *
 *   bank_batch SERVERS < queries.txt > answers.csv
 *
 * Reads one query a line, "kind,id,program,period" (no quoting), and writes
 * "id,program,period,eligible,reason,amount" in the same order. Requests are
 * pipelined DEPTH deep: the loop keeps sending until DEPTH answers are
 * owed, then collects the oldest, so the connection never idles on a round
 * trip. If a server fails mid-run the library re-sends the unanswered
 * requests to the next server; every line is answered exactly once or
 * written with its error. Exit status: 0 all answered, 1 otherwise. */
#include <stdio.h>
#include <string.h>

#include <eligclient.h>

#define DEPTH 512
#define MAX_SERVERS 8

typedef struct {
    char kind[8], id[24], program[24], period[16];
} line_query;

static line_query ring[DEPTH]; /* the queries in flight, oldest at head */

/* Collects the oldest answer and prints it with its query. */
static int collect(eligc_conn *c, size_t *head) {
    line_query *l = &ring[*head];
    *head = (*head + 1) % DEPTH;
    eligc_answer a;
    if (eligc_recv_check(c, &a) != 0) {
        printf("%s,%s,%s,,error,\n", l->id, l->program, l->period);
        fprintf(stderr, "bank_batch: %s: %s\n", l->id, eligc_errmsg(c));
        return 1;
    }
    printf("%s,%s,%s,%s,%s,%u\n", l->id, l->program, l->period, a.eligible ? "yes" : "no",
           elig_reason_code(a.reason), a.amount);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bank_batch SERVERS < queries\n");
        return 2;
    }
    const char *servers[MAX_SERVERS];
    size_t n = 0;
    for (char *save, *s = strtok_r(argv[1], ",", &save); s && n < MAX_SERVERS;
         s = strtok_r(NULL, ",", &save))
        servers[n++] = s;

    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = n;
    opt.max_pending = DEPTH;
    eligc_conn *c;
    if (eligc_open(&opt, &c) != 0) {
        fprintf(stderr, "bank_batch: %s\n", c ? eligc_errmsg(c) : "out of memory");
        eligc_close(c);
        return 1;
    }

    char buf[256];
    size_t head = 0, lineno = 0;
    int failed = 0;
    while (fgets(buf, sizeof buf, stdin)) {
        lineno++;
        if (eligc_pending(c) == DEPTH)
            failed |= collect(c, &head);
        line_query *l = &ring[(head + eligc_pending(c)) % DEPTH];
        if (sscanf(buf, "%7[^,],%23[^,],%23[^,],%15[^,\r\n]", l->kind, l->id, l->program,
                   l->period) != 4) {
            fprintf(stderr, "bank_batch: line %zu: expected kind,id,program,period\n", lineno);
            failed = 1;
            continue;
        }
        int kind = elig_kind_lookup(l->kind, strlen(l->kind));
        eligc_query q = {.kind = kind < 0 ? ELIG_KIND_COUNT : (elig_kind)kind,
                         .id = l->id, .program = l->program, .period = l->period};
        if (eligc_send_check(c, &q) != 0) { /* a malformed query: nothing queued */
            fprintf(stderr, "bank_batch: line %zu: %s\n", lineno, eligc_errmsg(c));
            failed = 1;
        }
    }
    while (eligc_pending(c) > 0)
        failed |= collect(c, &head);
    eligc_close(c);
    return failed;
}
