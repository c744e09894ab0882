/* elig-keys — draws benchmark keys from a real snapshot.
 *
 * Walks the snapshot's nik, hh (kk) and kks tables once with an LMDB
 * cursor and keeps each id with probability N / rows (a Bernoulli sample,
 * seeded, so the same snapshot and seed give the same keys), shuffles them,
 * and writes `kind,id` lines for elig-bench --keys. Misses are made next to
 * real ids (a sampled id plus a small random offset, kept only if the
 * snapshot does not hold it), so that a miss walks the same B-tree paths
 * a hit does instead of falling off either end of the table.
 *
 * It reads the tables named in lib/record.h directly: that file is the
 * single definition of the snapshot's bytes. */
#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elig.h"
#include "keys.h"
#include "record.h"

static const char usage[] =
    "usage: elig-keys --snapshot PATH [options]\n"
    "\n"
    "Samples ids from a snapshot for elig-bench --keys: lines kind,id for ids the\n"
    "snapshot holds and kind,id,miss for ids it does not.\n"
    "\n"
    "  --snapshot PATH   snapshot to sample (required)\n"
    "  -n N              ids per kind (default 200000; fewer if the table is smaller)\n"
    "  --misses M        miss ids per kind (default: half of -n)\n"
    "  --kinds LIST      kinds to sample, comma-separated (default nik,kk,kks)\n"
    "  --seed S          sampling seed (default 1)\n"
    "  --out FILE        output file (default: standard output)\n"
    "  --help            this text\n";

static const char *const dbname[ELIG_KIND_COUNT] = {
    [ELIG_KIND_NIK] = ELIG_DB_NIK, [ELIG_KIND_KK] = ELIG_DB_HH, [ELIG_KIND_KKS] = ELIG_DB_KKS};

static _Noreturn void die(int status, const char *fmt, const char *arg) {
    fprintf(stderr, "elig-keys: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(status);
}

typedef struct {
    uint64_t *v;
    size_t n, cap;
} u64s;

static void push(u64s *a, uint64_t x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4096;
        if (!(a->v = realloc(a->v, a->cap * sizeof *a->v)))
            die(1, "%s", "out of memory");
    }
    a->v[a->n++] = x;
}

/* One pass over the table: a Bernoulli sample of about want ids. */
static void sample(MDB_txn *txn, MDB_dbi dbi, size_t want, rng *r, u64s *out) {
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_stat(txn, dbi, &st) != 0 || mdb_cursor_open(txn, dbi, &cur) != 0)
        die(1, "%s", "cannot read a table");
    double p = st.ms_entries ? (double)want / (double)st.ms_entries : 0;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8)
            die(1, "%s", "a table key is not a 64-bit id");
        if (p >= 1 || rng_unit(r) < p) {
            uint64_t id;
            memcpy(&id, k.mv_data, 8);
            push(out, id);
        }
    }
    if (rc != MDB_NOTFOUND)
        die(1, "cannot walk a table: %s", mdb_strerror(rc));
    mdb_cursor_close(cur);
    for (size_t i = out->n; i > 1; i--) { /* Fisher-Yates */
        size_t j = rng_next(r) % i;
        uint64_t t = out->v[i - 1];
        out->v[i - 1] = out->v[j];
        out->v[j] = t;
    }
}

/* Ids near sampled ones that the table does not hold. */
static void misses(MDB_txn *txn, MDB_dbi dbi, const u64s *hits, size_t want, rng *r, u64s *out) {
    if (!hits->n)
        return;
    for (size_t tries = 0; out->n < want && tries < want * 20; tries++) {
        uint64_t id = hits->v[rng_next(r) % hits->n] + 1 + rng_next(r) % 997;
        if (id > 9999999999999999ull)
            continue;
        MDB_val k = {8, &id}, v;
        if (mdb_get(txn, dbi, &k, &v) == MDB_NOTFOUND)
            push(out, id);
    }
}

int main(int argc, char **argv) {
    const char *snap_path = NULL, *out_path = NULL, *kinds = "nik,kk,kks";
    size_t n = 200000, nmiss = (size_t)-1;
    uint64_t seed = 1;
    static const struct option opts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"misses", required_argument, NULL, 'm'},
        {"kinds", required_argument, NULL, 'k'},    {"seed", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},      {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
        switch (opt) {
        case 's': snap_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'k': kinds = optarg; break;
        case 'n':
            n = strtoull(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-')
                die(2, "-n: '%s' is not a whole number", optarg);
            break;
        case 'm':
            nmiss = strtoull(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-')
                die(2, "--misses: '%s' is not a whole number", optarg);
            break;
        case 'S':
            seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg)
                die(2, "--seed: '%s' is not a whole number", optarg);
            break;
        case 'H': fputs(usage, stdout); return 0;
        default: fprintf(stderr, "Try 'elig-keys --help'.\n"); return 2;
        }
    }
    if (!snap_path)
        die(2, "%s", "--snapshot PATH is required");
    if (nmiss == (size_t)-1)
        nmiss = n / 2;
    bool want[ELIG_KIND_COUNT] = {false};
    for (const char *p = kinds; *p;) {
        size_t len = strcspn(p, ",");
        int k = elig_kind_lookup(p, len);
        if (k < 0)
            die(2, "--kinds: '%s' is not a list of nik, kk, kks", kinds);
        want[k] = true;
        p += len + (p[len] == ',');
    }

    /* elig_snap_open checks the schema version and counts first. */
    char err[512];
    elig_snap *snap;
    if (elig_snap_open(snap_path, &snap, err, sizeof err) != 0)
        die(1, "%s", err);
    elig_snap_close(snap);

    MDB_env *env;
    MDB_txn *txn;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, ELIG_DB_MAX);
    if (rc == 0)
        rc = mdb_env_open(env, snap_path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        die(1, "cannot open the snapshot: %s", mdb_strerror(rc));

    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (!out)
        die(1, "cannot write %s", out_path);
    fprintf(out, "kind,id\n");
    rng r;
    rng_seed(&r, seed);
    for (int k = 0; k < ELIG_KIND_COUNT; k++) {
        if (!want[k])
            continue;
        MDB_dbi dbi;
        if (mdb_dbi_open(txn, dbname[k], MDB_INTEGERKEY, &dbi) != 0)
            die(1, "the snapshot has no %s table", dbname[k]);
        u64s hits = {0}, miss = {0};
        sample(txn, dbi, n, &r, &hits);
        misses(txn, dbi, &hits, nmiss, &r, &miss);
        const char *name = elig_kind_name((elig_kind)k);
        char id[17];
        for (size_t i = 0; i < hits.n && i < n; i++) {
            elig_format_id16(hits.v[i], id);
            fprintf(out, "%s,%s\n", name, id);
        }
        for (size_t i = 0; i < miss.n; i++) {
            elig_format_id16(miss.v[i], id);
            fprintf(out, "%s,%s,miss\n", name, id);
        }
        fprintf(stderr, "elig-keys: %s: %zu hits, %zu misses\n", name, hits.n < n ? hits.n : n, miss.n);
        free(hits.v);
        free(miss.v);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    if (fflush(out) != 0 || (out_path && fclose(out) != 0))
        die(1, "cannot write %s", out_path ? out_path : "standard output");
    return 0;
}
