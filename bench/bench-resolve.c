/* bench-resolve — the lookup floor of snapshot schema 2: random
 * elig_household_get (the id index, then the family's household value, its
 * head read) in-process, no parsing, no rule, no encoding. The schema-2
 * counterpart of bench-lookup, which times LMDB's B-tree searches on the
 * same file's tables. --prefetch D calls elig_prefetch D keys ahead, as a
 * server answering a batch would; --private and --verify open the snapshot
 * with ELIG_SNAP_PRIVATE / ELIG_SNAP_VERIFY (the open time and the RSS
 * after the warm-up pass are printed, to measure what they cost). One
 * JSON line per thread count. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "elig.h"
#include "keys.h"

typedef struct {
    elig_snap *snap;
    double seconds, elapsed;
    uint64_t seed, ops, found;
    int prefetch;
    pthread_barrier_t *start;
} job;

static uint64_t *ids;
static uint8_t *kinds;
static size_t nkeys;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg) {
    job *j = arg;
    elig_reader *r;
    if (elig_reader_open(j->snap, &r) != 0) {
        fprintf(stderr, "bench-resolve: cannot open a reader\n");
        exit(1);
    }
    size_t i = (size_t)(j->seed * 7919u) % nkeys;
    if (j->start)
        pthread_barrier_wait(j->start);
    double begin = now_s(), end = begin + j->seconds;
    uint64_t ops = 0, found = 0;
    int d = j->prefetch;
    for (;;) {
        for (int b = 0; b < 1024; b++) {
            if (d) {
                size_t a = i + (size_t)d < nkeys ? i + (size_t)d : i + (size_t)d - nkeys;
                elig_prefetch(r, (elig_kind)kinds[a], ids[a]);
            }
            elig_household h;
            int rc = elig_household_get(r, (elig_kind)kinds[i], ids[i], &h);
            found += rc == 1 && h.status < ELIG_HH_STATUS_COUNT;
            if (rc < 0) {
                fprintf(stderr, "bench-resolve: %s\n", elig_strerror(rc));
                exit(1);
            }
            if (++i == nkeys)
                i = 0;
        }
        ops += 1024;
        if (now_s() >= end)
            break;
    }
    j->elapsed = now_s() - begin;
    j->ops = ops;
    j->found = found;
    elig_reader_close(r);
    return NULL;
}

int main(int argc, char **argv) {
    const char *snap_path = NULL, *keys_path = NULL, *mix = NULL;
    double seconds = 3, miss = 0;
    int max_threads = 2, prefetch = 0;
    unsigned flags = 0;
    static const struct option opts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"keys", required_argument, NULL, 'k'},
        {"kinds", required_argument, NULL, 'K'},    {"miss-ratio", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},  {"prefetch", required_argument, NULL, 'p'},
        {"private", no_argument, NULL, 'P'},        {"verify", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (opt) {
        case 's': snap_path = optarg; break;
        case 'k': keys_path = optarg; break;
        case 'K': mix = optarg; break;
        case 'm': miss = atof(optarg); break;
        case 't': max_threads = atoi(optarg); break;
        case 'p': prefetch = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'P': flags |= ELIG_SNAP_PRIVATE; break;
        case 'V': flags |= ELIG_SNAP_VERIFY; break;
        case 'h':
            printf("usage: bench-resolve --snapshot PATH --keys FILE [--kinds SPEC] [--miss-ratio R]\n"
                   "                     [--prefetch D (0)] [-d SECONDS (3)] [--threads N (2)]\n"
                   "                     [--private] [--verify]\n"
                   "Random elig_household_get with 1..N threads; one JSON line each.\n");
            return 0;
        default: return 2;
        }
    }
    if (!snap_path || !keys_path || max_threads < 1 || max_threads > 64 || seconds <= 0 || prefetch < 0 ||
        prefetch > 64) {
        fprintf(stderr, "bench-resolve: --snapshot and --keys are required\n");
        return 2;
    }
    char err[512];
    key_source ks;
    if (keys_load(&ks, keys_path, err, sizeof err) != 0 || keys_set_mix(&ks, mix ? mix : "nik,kk,kks", err, sizeof err) != 0) {
        fprintf(stderr, "bench-resolve: %s\n", err);
        return 1;
    }
    ks.miss_ratio = miss;
    keys_set_skew(&ks, false);
    rng rg;
    rng_seed(&rg, 42);
    nkeys = 1u << 20;
    ids = malloc(nkeys * sizeof *ids);
    kinds = malloc(nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        elig_kind k;
        char id[ELIG_WIRE_ID_LEN];
        keys_pick(&ks, &rg, &k, id);
        elig_parse_id16(id, ELIG_WIRE_ID_LEN, &ids[i]);
        kinds[i] = (uint8_t)k;
    }
    elig_snap *snap;
    double t0 = now_s();
    if (elig_snap_open_ex(snap_path, flags, &snap, err, sizeof err) != 0) {
        fprintf(stderr, "bench-resolve: %s\n", err);
        return 1;
    }
    double open_s = now_s() - t0;
    job warm = {.snap = snap, .seconds = 1.0};
    run(&warm); /* touch the pages the keys use, as bench-lookup does */
    long rss = 0, shmem = 0;
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof line, st)) {
        sscanf(line, "VmRSS: %ld", &rss);
        sscanf(line, "RssShmem: %ld", &shmem);
    }
    if (st)
        fclose(st);
    printf("{\"bench\":\"resolve-open\",\"private\":%d,\"verify\":%d,\"open_s\":%.3f,\"rss_mib\":%ld,"
           "\"rss_shmem_mib\":%ld}\n",
           !!(flags & ELIG_SNAP_PRIVATE), !!(flags & ELIG_SNAP_VERIFY), open_s, rss >> 10, shmem >> 10);
    for (int nt = 1; nt <= max_threads; nt++) {
        job jobs[64];
        pthread_t tids[64];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)nt);
        for (int i = 0; i < nt; i++) {
            jobs[i] = (job){.snap = snap, .seconds = seconds, .seed = (uint64_t)i * 104729u + 1, .prefetch = prefetch,
                            .start = &start};
            pthread_create(&tids[i], NULL, run, &jobs[i]);
        }
        uint64_t ops = 0;
        double elapsed = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(tids[i], NULL);
            ops += jobs[i].ops;
            if (jobs[i].elapsed > elapsed)
                elapsed = jobs[i].elapsed;
        }
        pthread_barrier_destroy(&start);
        printf("{\"bench\":\"resolve\",\"threads\":%d,\"kinds\":\"%s\",\"miss_ratio\":%.2f,\"prefetch\":%d,"
               "\"ops_per_s\":%.0f}\n",
               nt, mix ? mix : "nik,kk,kks", miss, prefetch, (double)ops / elapsed);
        fflush(stdout);
    }
    elig_snap_close(snap);
    keys_free(&ks);
    free(ids);
    free(kinds);
    return 0;
}
