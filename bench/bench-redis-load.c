/* bench-redis-load — the Redis peer's dataset: for every id in a snapshot
 * (every nik, kk and kks), the answer eligd gives to `check` for one
 * programme and month, keyed `kind:id`, as a RESP stream of MSET commands
 * for `redis-cli --pipe`.
 *
 * The value is eligd's own bytes: each id is put through proto_next and
 * query_handle (daemon/query.c, linked from eligd_core) exactly as a worker
 * answers it, and the answer map is cut out of the response envelope. So
 * Redis serves byte for byte what eligd would, precomputed. */
#include <getopt.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elig.h"
#include "mp.h"
#include "query.h"
#include "record.h"

#define PAIRS_PER_MSET 100

typedef struct {
    query_ctx ctx;
    session sess;
    buf resp;
    buf pairs;
    unsigned npairs;
    const char *program, *period;
    unsigned long long keys;
} loader;

static void die(const char *msg) {
    fprintf(stderr, "bench-redis-load: %s\n", msg);
    exit(1);
}

static void bulk(buf *b, const void *p, size_t n) {
    char head[32];
    int h = snprintf(head, sizeof head, "$%zu\r\n", n);
    if (buf_append(b, head, (size_t)h) || buf_append(b, p, n) || buf_append(b, "\r\n", 2))
        die("out of memory");
}

static void flush_mset(loader *l) {
    if (!l->npairs)
        return;
    printf("*%u\r\n$4\r\nMSET\r\n", 1 + 2 * l->npairs);
    fwrite(l->pairs.data, 1, l->pairs.len, stdout);
    l->pairs.len = 0;
    l->npairs = 0;
}

/* eligd's answer to check(kind, id) as bytes of the answer map. */
static void add_key(loader *l, elig_kind kind, uint64_t idv) {
    char id[17], key[32];
    uint8_t req[128], *p = req;
    const char *k = elig_kind_name(kind);
    elig_format_id16(idv, id);
    p = mpw_array(p, 4);
    *p++ = ELIG_MSG_REQUEST;
    p = mpw_uint(p, 1);
    p = mpw_str(p, "check", 5);
    p = mpw_array(p, 4);
    p = mpw_str(p, k, (uint32_t)strlen(k));
    p = mpw_str(p, id, 16);
    p = mpw_str(p, l->program, (uint32_t)strlen(l->program));
    p = mpw_str(p, l->period, (uint32_t)strlen(l->period));
    mpr_request m;
    if (mpr_rpc_next(req, (size_t)(p - req), 1024, &m) <= 0)
        die("could not frame a request (bad --program or --period?)");
    l->resp.len = 0;
    if (query_handle(&l->ctx, &l->sess, &m, &l->resp) != 0)
        die("out of memory");
    mpr_response r;
    if (!mpr_response_parse((const uint8_t *)l->resp.data, l->resp.len, &r))
        die("eligd's answer did not parse");
    if (r.errcode)
        die("eligd answered with an error (bad --program or --period?)");
    int kl = snprintf(key, sizeof key, "%s:%s", k, id);
    bulk(&l->pairs, key, (size_t)kl);
    bulk(&l->pairs, r.result.p, (size_t)(r.result.end - r.result.p));
    l->keys++;
    if (++l->npairs == PAIRS_PER_MSET)
        flush_mset(l);
}

int main(int argc, char **argv) {
    const char *snap_path = NULL;
    loader l = {.program = "BPNT", .period = "2024-06"};
    static const struct option opts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"program", required_argument, NULL, 'p'},
        {"period", required_argument, NULL, 'P'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's': snap_path = optarg; break;
        case 'p': l.program = optarg; break;
        case 'P': l.period = optarg; break;
        case 'h':
            printf("usage: bench-redis-load --snapshot PATH [--program P (BPNT)] [--period M (2024-06)]\n"
                   "Writes MSET kind:id <eligd's answer> for every id as RESP on stdout,\n"
                   "for redis-cli --pipe.\n");
            return 0;
        default: return 2;
        }
    }
    if (!snap_path) {
        fprintf(stderr, "bench-redis-load: --snapshot PATH is required\n");
        return 2;
    }
    char err[512];
    elig_snap *snap;
    elig_reader *reader;
    if (elig_snap_open(snap_path, &snap, err, sizeof err) != 0)
        die(err);
    if (elig_reader_open(snap, &reader) != 0)
        die("cannot open a reader");
    l.ctx = (query_ctx){.answer.reader = reader};
    l.sess = (session){.conn_id = 1, .transport = SESSION_TCP, .peer = "redis-load"};
    if (query_ctx_init(&l.ctx, 1) != 0)
        die("out of memory");

    /* A second, plain LMDB view to enumerate the ids. */
    MDB_env *env;
    MDB_txn *txn;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, ELIG_DB_MAX) ||
        mdb_env_open(env, snap_path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0444) ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
        die("cannot open the snapshot with LMDB");
    static char out_buf[1 << 20];
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    static const struct {
        const char *db;
        elig_kind kind;
    } tables[] = {{ELIG_DB_NIK, ELIG_KIND_NIK}, {ELIG_DB_HH, ELIG_KIND_KK}, {ELIG_DB_KKS, ELIG_KIND_KKS}};
    for (size_t t = 0; t < 3; t++) {
        MDB_dbi dbi;
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_dbi_open(txn, tables[t].db, MDB_INTEGERKEY, &dbi) || mdb_cursor_open(txn, dbi, &cur))
            die("cannot walk a table");
        int rc;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint64_t id;
            memcpy(&id, k.mv_data, 8);
            add_key(&l, tables[t].kind, id);
        }
        mdb_cursor_close(cur);
    }
    flush_mset(&l);
    if (fflush(stdout) != 0)
        die("cannot write standard output");
    fprintf(stderr, "bench-redis-load: %llu keys\n", l.keys);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    query_ctx_destroy(&l.ctx);
    elig_reader_close(reader);
    elig_snap_close(snap);
    buf_free(&l.resp);
    buf_free(&l.pairs);
    return 0;
}
