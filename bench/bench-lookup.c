/* bench-lookup — the lookup floor: random mdb_get on a snapshot's own
 * tables, in-process, no network, no parsing, no encoding.
 *
 * Each thread opens one long-lived read transaction (as eligd's workers do)
 * and looks up ids drawn from the same keys file elig-bench uses, each in
 * its own table (nik -> nik, kk -> hh, kks -> kks): one B-tree lookup per
 * operation. The answer path (bench-answer) and eligd are compared with
 * this. Prints one JSON line per thread count. */
#include <getopt.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "elig.h"
#include "keys.h"
#include "record.h"

typedef struct {
    MDB_env *env;
    MDB_dbi dbi[ELIG_KIND_COUNT];
    const key_source *ks;
    double seconds;
    double elapsed; /* seconds this thread ran */
    uint64_t count; /* > 0: stop after this many, whatever the time (for callgrind) */
    uint64_t seed;
    uint64_t ops, found;
    pthread_barrier_t *start;
} job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keys as numbers, converted up front so the loop is only the lookup. */
typedef struct {
    uint64_t *id;
    uint8_t *kind;
    size_t n;
} key_table;

static key_table table;

static void build_table(const key_source *ks, rng *r) {
    size_t n = 1u << 20;
    table.id = malloc(n * sizeof *table.id);
    table.kind = malloc(n);
    if (!table.id || !table.kind) {
        fprintf(stderr, "bench-lookup: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        elig_kind k;
        char id[ELIG_WIRE_ID_LEN];
        keys_pick(ks, r, &k, id);
        elig_parse_id16(id, ELIG_WIRE_ID_LEN, &table.id[i]);
        table.kind[i] = (uint8_t)k;
    }
    table.n = n;
}

static void *run(void *arg) {
    job *j = arg;
    MDB_txn *txn;
    if (mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn) != 0) {
        fprintf(stderr, "bench-lookup: cannot begin a read transaction\n");
        exit(1);
    }
    size_t i = (size_t)(j->seed * 7919u) % table.n;
    pthread_barrier_wait(j->start);
    double begin = now_s(), end = begin + j->seconds;
    uint64_t ops = 0, found = 0;
    for (;;) {
        for (int b = 0; b < 1024; b++) {
            MDB_val k = {8, &table.id[i]}, v = {0, NULL};
            found += mdb_get(txn, j->dbi[table.kind[i]], &k, &v) == 0;
            /* touch the value, as the rule would */
            found += v.mv_size && ((const unsigned char *)v.mv_data)[0] == 0xff;
            if (++i == table.n)
                i = 0;
        }
        ops += 1024;
        if (j->count ? ops >= j->count : now_s() >= end)
            break;
    }
    j->elapsed = now_s() - begin;
    j->ops = ops;
    j->found = found;
    mdb_txn_abort(txn);
    return NULL;
}

int main(int argc, char **argv) {
    const char *snap_path = NULL, *keys_path = NULL, *kinds = NULL;
    double seconds = 3, miss = 0;
    int max_threads = 2;
    uint64_t count = 0;
    static const struct option opts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"keys", required_argument, NULL, 'k'},
        {"kinds", required_argument, NULL, 'K'},    {"miss-ratio", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},  {"count", required_argument, NULL, 'n'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (opt) {
        case 's': snap_path = optarg; break;
        case 'k': keys_path = optarg; break;
        case 'K': kinds = optarg; break;
        case 'm': miss = atof(optarg); break;
        case 't': max_threads = atoi(optarg); break;
        case 'n': count = strtoull(optarg, NULL, 10); break;
        case 'd': seconds = atof(optarg); break;
        case 'h':
            printf("usage: bench-lookup --snapshot PATH --keys FILE [--kinds SPEC] [--miss-ratio R]\n"
                   "                    [-d SECONDS (3)] [--threads N (2)]\n"
                   "                    [--count N: N per thread, not timed; for callgrind]\n"
                   "Random mdb_get on the snapshot's tables with 1..N threads; one JSON line each.\n");
            return 0;
        default: return 2;
        }
    }
    if (!snap_path || !keys_path || max_threads < 1 || seconds <= 0) {
        fprintf(stderr, "bench-lookup: --snapshot and --keys are required\n");
        return 2;
    }
    char err[512];
    key_source ks;
    if (keys_load(&ks, keys_path, err, sizeof err) != 0 ||
        keys_set_mix(&ks, kinds ? kinds : "nik,kk,kks", err, sizeof err) != 0) {
        fprintf(stderr, "bench-lookup: %s\n", err);
        return 1;
    }
    ks.miss_ratio = miss;
    keys_set_skew(&ks, false);
    rng r;
    rng_seed(&r, 42);
    build_table(&ks, &r);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[ELIG_KIND_COUNT];
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, ELIG_DB_MAX) ||
        mdb_env_open(env, snap_path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NORDAHEAD | MDB_NOTLS, 0444) ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
        mdb_dbi_open(txn, ELIG_DB_NIK, MDB_INTEGERKEY, &dbi[ELIG_KIND_NIK]) ||
        mdb_dbi_open(txn, ELIG_DB_HH, MDB_INTEGERKEY, &dbi[ELIG_KIND_KK]) ||
        mdb_dbi_open(txn, ELIG_DB_KKS, MDB_INTEGERKEY, &dbi[ELIG_KIND_KKS]) || mdb_txn_commit(txn)) {
        fprintf(stderr, "bench-lookup: cannot open %s as a snapshot\n", snap_path);
        return 1;
    }
    /* One untimed pass over every key: the pages they touch get mapped into
     * this process (minor faults) and cached, as in a server that has been
     * answering for a while. */
    {
        MDB_txn *w;
        if (mdb_txn_begin(env, NULL, MDB_RDONLY, &w) == 0) {
            for (size_t i = 0; i < table.n; i++) {
                MDB_val k = {8, &table.id[i]}, v;
                mdb_get(w, dbi[table.kind[i]], &k, &v);
            }
            mdb_txn_abort(w);
        }
    }
    for (int nt = 1; nt <= max_threads; nt++) {
        job jobs[64];
        pthread_t tids[64];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)nt);
        for (int i = 0; i < nt && i < 64; i++) {
            jobs[i] = (job){.env = env, .ks = &ks, .seconds = seconds, .count = count, .seed = (uint64_t)i * 104729u + 1,
                            .start = &start};
            memcpy(jobs[i].dbi, dbi, sizeof dbi);
            pthread_create(&tids[i], NULL, run, &jobs[i]);
        }
        uint64_t ops = 0;
        double elapsed = 0;
        for (int i = 0; i < nt && i < 64; i++) {
            pthread_join(tids[i], NULL);
            ops += jobs[i].ops;
            if (jobs[i].elapsed > elapsed)
                elapsed = jobs[i].elapsed;
        }
        pthread_barrier_destroy(&start);
        printf("{\"bench\":\"lookup\",\"threads\":%d,\"kinds\":\"%s\",\"miss_ratio\":%.2f,\"ops_per_s\":%.0f}\n",
               nt, kinds ? kinds : "nik,kk,kks", miss, (double)ops / elapsed);
        fflush(stdout);
    }
    mdb_env_close(env);
    keys_free(&ks);
    free(table.id);
    free(table.kind);
    return 0;
}
