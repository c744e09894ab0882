/* bench-audit — what one audit record costs, in CPU time, on each side:
 * the worker's record step (audit_record: encode into the ring) and the
 * writer thread (compaction, zstd or not, SHA-256, write). In-process, so
 * the figures are CPU time of the two threads themselves (CLOCK_THREAD_CPUTIME_ID
 * and /proc's utime+stime of the `eligd-audit` thread), which other load on
 * the machine disturbs far less than throughput.
 *
 * usage: bench-audit DIR [RECORDS] [zstd|none]
 * Feeds RECORDS (default 5,000,000) check_batch records of 100 items, with
 * realistic strings, into an audit trail in DIR (which must not exist),
 * waits until all are written, and prints ns per record on each side and
 * bytes per record on disk. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime+stime of this process's thread named `name`, in seconds. */
static double named_thread_cpu_s(const char *name) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    double s = -1;
    long tick = sysconf(_SC_CLK_TCK);
    while (d && (e = readdir(d))) {
        char path[300], comm[64] = "", stat[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, name) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        char *p = strrchr(stat, ')');
        unsigned long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            s = (double)(ut + st) / (double)tick;
    }
    if (d)
        closedir(d);
    return s;
}

static uint64_t dir_bytes(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t n = 0;
    while (d && (e = readdir(d))) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = strstr(e->d_name, ".seg") ? fopen(path, "rb") : NULL;
        if (f) {
            fseek(f, 0, SEEK_END);
            n += (uint64_t)ftell(f);
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench-audit DIR [RECORDS] [zstd|none]\n");
        return 2;
    }
    uint64_t want = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000000;
    bool compress = !(argc > 3 && strcmp(argv[3], "none") == 0);
    log_set_level(LOG_WARN);
    enum { BATCH = 100 };
    audit_config cfg = {.dir = argv[1], .sync_ms = 1000, .segment_mb = 64, .buffer = 64u << 20, .workers = 1,
                        .max_batch = BATCH, .compress = compress};
    audit *a;
    if (audit_open(&cfg, &a) != 0)
        return 1;
    audit_ring *ring = audit_worker_ring(a, 0);

    /* One check_batch of BATCH items, as decode and answer leave it. */
    mpr_request m = {.type = ELIG_MSG_REQUEST, .msgid = 1, .method = "check_batch", .method_len = 11};
    elig_query q[BATCH];
    elig_answer ans[BATCH];
    for (int i = 0; i < BATCH; i++) {
        q[i] = (elig_query){.kind = (elig_kind)(i % 3), .id = 3201011501900001ull + (uint64_t)i * 7919,
                            .program = "BPNT", .program_len = 4, .period = 2024 * 12 + 5};
        ans[i] = (elig_answer){.reason = (elig_reason)(i % 4 ? ELIG_REASON_ELIGIBLE : ELIG_REASON_NOT_ENROLLED),
                               .found = true, .kk = 3201010000000001ull + (uint64_t)i, .amount = 200000};
    }
    elig_meta meta = {.id = "20261201T000000Z-1a2b3c4d"};
    session s = {.conn_id = 12345, .transport = SESSION_TCP, .peer = "10.20.30.40:51234", .channel = "bank-bri"};
    call c = {.msg = &m, .method = ELIG_METHOD_CHECK_BATCH, .queries = q, .answers = ans, .n = BATCH, .meta = &meta};

    double w0 = named_thread_cpu_s("eligd-audit"), p0 = thread_cpu_s();
    uint64_t done = 0, refused = 0;
    struct timespec nap = {0, 200000};
    uint64_t x = 88172645463325252ull; /* xorshift64: ids and answers vary as in real traffic */
    while (done < want) {
        for (int i = 0; i < BATCH; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            q[i].kind = (elig_kind)(x % 3);
            q[i].id = 3201010000000000ull + (x >> 20) % 9999999999ull;
            ans[i].reason = (elig_reason)((x >> 8) % 9);
            ans[i].kk = 3201010000000000ull + (x >> 24) % 99999999ull;
            ans[i].amount = ans[i].reason == ELIG_REASON_ELIGIBLE ? 200000 : 0;
        }
        c.err = 0;
        audit_record(ring, &c, &s);
        if (c.err) {
            refused++;
            nanosleep(&nap, NULL); /* the writer is behind: let it catch up */
            continue;
        }
        done += BATCH;
    }
    double producer = thread_cpu_s() - p0; /* CPU time: the naps do not count */
    audit_stats st;
    do {
        nanosleep(&nap, NULL);
        audit_get_stats(a, &st);
    } while (st.written < done);
    double writer = named_thread_cpu_s("eligd-audit") - w0;
    audit_close(a, 10000);
    uint64_t bytes = dir_bytes(argv[1]);
    printf("%s: %llu records; worker %.0f ns per record; writer %.0f ns per record; %.1f bytes per record on "
           "disk (%llu calls refused while the writer caught up)\n",
           compress ? "zstd" : "none", (unsigned long long)done, producer / (double)done * 1e9,
           writer / (double)done * 1e9, (double)bytes / (double)done, (unsigned long long)refused);
    return 0;
}
