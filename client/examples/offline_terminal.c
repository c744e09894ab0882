/* offline_terminal.c — an e-warong terminal that keeps answering when the
 * network is gone (SPEC 10), and hands its offline answers to the audit
 * trail when it is back.
 *
 *   offline_terminal SERVERS EXTRACT PUBKEY JOURNAL [RETRY_MS] < input
 *   offline_terminal 10.0.0.5:7420 /var/lib/ewarong/3273.mdb \
 *       /etc/ewarong/extract.pub /var/lib/ewarong/journal
 *
 * EXTRACT is the region's extract (elig-snapshot extract, then sign),
 * PUBKEY the Ed25519 key it must be signed by. Each input line is a query,
 * KIND ID PROGRAM PERIOD, answered on one line:
 *
 *   REASON AMOUNT KK REGION snapshot ID    a server answered
 *   REASON AMOUNT KK REGION offline ID     the extract answered (ID: its id)
 *   error MESSAGE                          neither could
 *
 * (KK and REGION are - when not_found), or the line `upload`, which sends
 * the journal to the server: `uploaded SENT ACCEPTED DUPLICATES`. Once the
 * servers failed, checks go to the extract at once for RETRY_MS (default
 * 30000) before the servers are asked again.
 * Exit status: 0, 1 the extract is refused or a failure, 2 bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eligclient.h>

static void answer_line(eligc_conn *c, char *line) {
    char kind[8], id[32], program[32], period[16];
    if (sscanf(line, "%7s %31s %31s %15s", kind, id, program, period) != 4) {
        printf("error a query is KIND ID PROGRAM PERIOD\n");
        return;
    }
    int k = elig_kind_lookup(kind, strlen(kind));
    eligc_query q = {.kind = k < 0 ? ELIG_KIND_COUNT : (elig_kind)k,
                     .id = id, .program = program, .period = period};
    eligc_answer a;
    if (eligc_check(c, &q, &a) != 0) { /* a bad query, or ELIGC_EOFFLINE */
        printf("error %s\n", eligc_errmsg(c));
        return;
    }
    printf("%s %u %s %s %s %s\n", elig_reason_code(a.reason), a.amount,
           a.kk[0] ? a.kk : "-", a.region[0] ? a.region : "-",
           a.offline ? "offline" : "snapshot", a.offline ? a.extract : a.snapshot);
}

static void upload(eligc_conn *c, const char *journal) {
    eligc_journal_result r;
    if (eligc_journal_upload(c, journal, &r) != 0) /* safe to repeat later */
        printf("error %s\n", eligc_errmsg(c));
    else
        printf("uploaded %llu %llu %llu\n", (unsigned long long)r.sent,
               (unsigned long long)r.accepted, (unsigned long long)r.duplicates);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: offline_terminal SERVERS EXTRACT PUBKEY JOURNAL [RETRY_MS]\n");
        return 2;
    }
    const char *servers[8];
    size_t n = 0;
    for (char *save, *s = strtok_r(argv[1], ",", &save); s && n < 8; s = strtok_r(NULL, ",", &save))
        servers[n++] = s;

    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = n;
    opt.connect_timeout_ms = 500;
    opt.request_timeout_ms = 1500;
    opt.offline_extract = argv[2];
    opt.offline_pubkey = argv[3];
    opt.offline_journal = argv[4];
    if (argc == 6)
        opt.offline_retry_ms = atoi(argv[5]);

    eligc_conn *c;
    int rc = eligc_open(&opt, &c);
    if (rc == ELIGC_ENOMEM || rc == ELIGC_EBADARG) {
        fprintf(stderr, "offline_terminal: %s\n", c ? eligc_errmsg(c) : "out of memory");
        eligc_close(c);
        return rc == ELIGC_EBADARG ? 2 : 1;
    }
    /* ELIGC_ECONNECT is fine: the extract answers until a server does. But
     * check the extract now, while there is time to fetch a good one. */
    eligc_extract_info x;
    if (eligc_offline_info(c, &x) != 0) {
        fprintf(stderr, "offline_terminal: %s\n", eligc_errmsg(c));
        eligc_close(c);
        return 1;
    }
    fprintf(stderr, "offline_terminal: extract %s of %s, regions %s, %llu families\n", x.id,
            x.extract_of, x.regions, (unsigned long long)x.households);

    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "upload", 6) == 0)
            upload(c, argv[4]);
        else
            answer_line(c, line);
        fflush(stdout);
    }
    eligc_close(c);
    return 0;
}
