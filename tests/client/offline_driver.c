/* offline_driver.c — many checks through libeligclient's offline path,
 * for test_offline.py's "equal answers" (SPEC 10, issue 15 item 5).
 *
 *   offline_driver SERVER EXTRACT PUBKEY < queries.csv > answers.jsonl
 *
 * SERVER should refuse connections: the first check fails over (and backs
 * off) and is answered from the extract, and every later one goes to the
 * extract at once (offline_retry_ms is an hour). No journal: an fdatasync
 * per answer would make 100,000 answers take minutes, and the journal has
 * tests of its own. Each input line kind,id,program,period gives one JSON
 * line with the keys of `elig batch --format jsonl` plus offline and
 * extract; a check that fails gives {"error": MESSAGE}. Exit 0, or 1 if
 * any check was not answered offline. */
#include <stdio.h>
#include <string.h>

#include <eligclient.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: offline_driver SERVER EXTRACT PUBKEY < queries.csv\n");
        return 2;
    }
    const char *servers[1] = {argv[1]};
    eligc_options opt;
    eligc_options_init(&opt);
    opt.servers = servers;
    opt.n_servers = 1;
    opt.connect_timeout_ms = 500;
    opt.request_timeout_ms = 1000;
    opt.offline_extract = argv[2];
    opt.offline_pubkey = argv[3];
    opt.offline_retry_ms = 3600 * 1000;
    eligc_conn *c;
    int rc = eligc_open(&opt, &c);
    if (rc != 0 && rc != ELIGC_ECONNECT) {
        fprintf(stderr, "offline_driver: %s\n", c ? eligc_errmsg(c) : eligc_strerror(rc));
        eligc_close(c);
        return 1;
    }
    char line[256];
    int status = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *f[4], *save = NULL;
        int n = 0;
        for (char *s = strtok_r(line, ",", &save); s && n < 4; s = strtok_r(NULL, ",", &save))
            f[n++] = s;
        if (n != 4) {
            printf("{\"error\":\"not kind,id,program,period\"}\n");
            status = 1;
            continue;
        }
        int k = elig_kind_lookup(f[0], strlen(f[0]));
        eligc_query q = {.kind = k < 0 ? ELIG_KIND_COUNT : (elig_kind)k, .id = f[1], .program = f[2], .period = f[3]};
        eligc_answer a;
        int crc = eligc_check(c, &q, &a);
        if (crc != 0 || !a.offline) {
            printf("{\"error\":\"%s\"}\n", crc ? "no answer" : "an online answer");
            fprintf(stderr, "offline_driver: %s,%s,%s,%s: %s\n", f[0], f[1], f[2], f[3], eligc_errmsg(c));
            status = 1;
            continue;
        }
        printf("{\"eligible\":%s,\"reason\":\"%s\",\"amount\":%u,", a.eligible ? "true" : "false",
               elig_reason_code(a.reason), a.amount);
        if (a.kk[0])
            printf("\"kk\":\"%s\",\"region\":\"%s\",", a.kk, a.region);
        else
            printf("\"kk\":null,\"region\":null,");
        printf("\"snapshot\":\"%s\",\"offline\":true,\"extract\":\"%s\"}\n", a.snapshot, a.extract);
    }
    eligc_close(c);
    return status;
}
