/* fuzz_snapshot — the snapshot reader on damaged snapshots: the public
 * libelig API an embedder and eligd use (elig_snap_open, then elig_check
 * and elig_household_get with its enrollments) and `elig-snapshot
 * verify`'s entry (snap_verify).
 *
 * The damage is done to records, through LMDB: the input is a list of
 * edits applied, entry by entry, to every table of the mini snapshot
 * (metadata, households, members, cards): keep, replace the value with
 * bytes of the input, cut it short, flip a bit, delete it, or add a key.
 * The file stays a well-formed LMDB file, so what is tested is our reader
 * and verifier, not LMDB: LMDB trusts its own pages, and a file damaged
 * at that level could crash it inside mdb_env_open; lib/snap.c checks the
 * meta pages first, tested by daemon_publish's damaged meta pages.
 *
 * Properties: open either fails with a message or gives metadata that is
 * NUL-terminated within its fields; every lookup after it returns a code
 * or an answer (a damaged record is ELIG_ECORRUPT, never a crash or a read
 * past the record); verify gives a message either way.
 *
 * To retarget after a format change: the seed is made by the builder at
 * start (mini_snap.c), and only the calls in read_back() and the table
 * names name the API. */
#include <lmdb.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elig.h"
#include "fuzz.h"
#include "mini_snap.h"
#include "record.h"
#include "verify.h"

static uint8_t *seed;
static size_t seed_len;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *path = mini_snap_path();
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        fprintf(stderr, "fuzz_snapshot: no mini snapshot\n");
        exit(1);
    }
    seed = malloc(1 << 20);
    seed_len = fread(seed, 1, 1 << 20, f);
    fclose(f);
    mini_snap_cleanup();
    return 0;
}

static const struct {
    const char *kind, *id;
} ids[] = {{"kk", MINI_KK_ACTIVE}, {"nik", MINI_NIK_ALIVE}, {"kks", MINI_KKS_ACTIVE},
           {"kk", "3201010000000002"}, {"nik", "7371026112990008"}, {"kk", "9999999999999999"},
           {"kks", "5000000000000003"}, {"nik", "3201015501900002"}};

static void read_back(elig_snap *s) {
    const elig_meta *m = elig_snap_meta(s);
    FUZZ_ASSERT(memchr(m->id, '\0', sizeof m->id) && memchr(m->created, '\0', sizeof m->created));
    elig_reader *r;
    if (elig_reader_open(s, &r) != 0)
        return;
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        elig_query q;
        elig_answer a;
        FUZZ_ASSERT(elig_query_parse(&q, ids[i].kind, strlen(ids[i].kind), ids[i].id, 16, "PKH", 3, "2024-03",
                                     7) == ELIG_QUERY_OK);
        int rc = elig_check(r, &q, &a);
        FUZZ_ASSERT(rc <= 0);
        if (rc == 0)
            FUZZ_ASSERT(a.reason < ELIG_REASON_COUNT && (a.reason == ELIG_REASON_ELIGIBLE || a.amount == 0));
        elig_household h;
        rc = elig_household_get(r, q.kind, q.id, &h);
        FUZZ_ASSERT(rc <= 1);
        if (rc == 1) {
            size_t pos = 0, k = 0;
            elig_enrollment e;
            while (elig_household_next(&h, &pos, &e))
                FUZZ_ASSERT(++k <= h.n_enrollments);
        }
    }
    elig_reader_close(r);
}

/* The input, read a byte at a time; 0 once used up. */
typedef struct {
    const uint8_t *p, *end;
} stream;

static uint8_t take(stream *s) { return s->p < s->end ? *s->p++ : 0; }

/* Applies the input's edits to the tables of the LMDB file at path. */
static void damage(const char *path, stream *in) {
    static const struct {
        const char *name;
        unsigned flags;
    } dbs[] = {{ELIG_DB_META, 0}, {ELIG_DB_HH, MDB_INTEGERKEY}, {ELIG_DB_NIK, MDB_INTEGERKEY},
               {ELIG_DB_KKS, MDB_INTEGERKEY}};
    MDB_env *env;
    MDB_txn *txn;
    if (mdb_env_create(&env) != 0)
        abort();
    mdb_env_set_maxdbs(env, ELIG_DB_MAX);
    mdb_env_set_mapsize(env, 8 << 20);
    if (mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0600) != 0 ||
        mdb_txn_begin(env, NULL, 0, &txn) != 0) {
        mdb_env_close(env);
        return;
    }
    for (size_t d = 0; d < sizeof dbs / sizeof *dbs && in->p < in->end; d++) {
        MDB_dbi dbi;
        MDB_cursor *cur;
        if (mdb_dbi_open(txn, dbs[d].name, dbs[d].flags, &dbi) != 0 || mdb_cursor_open(txn, dbi, &cur) != 0)
            continue;
        /* Decide every edit first, then write them (a put in place through
         * the cursor trips LMDB's own overlapping memcpy). */
        enum { MAX_EDITS = 64 };
        static struct {
            uint8_t key[24], val[300];
            size_t kn, vn;
            bool del;
        } ed[MAX_EDITS];
        size_t ne = 0;
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && in->p < in->end && ne < MAX_EDITS;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint8_t op = take(in) % 8;
            if (op < 4 || k.mv_size > sizeof ed[ne].key)
                continue; /* kept */
            size_t n = v.mv_size < sizeof ed[ne].val ? v.mv_size : sizeof ed[ne].val;
            memcpy(ed[ne].key, k.mv_data, k.mv_size);
            ed[ne].kn = k.mv_size;
            memcpy(ed[ne].val, v.mv_data, n);
            ed[ne].vn = n;
            ed[ne].del = op == 7;
            if (op == 4) { /* a new value from the input */
                ed[ne].vn = take(in) % 64;
                for (size_t i = 0; i < ed[ne].vn; i++)
                    ed[ne].val[i] = take(in);
            } else if (op == 5) { /* cut short */
                ed[ne].vn = n ? take(in) % n : 0;
            } else if (op == 6 && n) { /* a bit flipped */
                uint8_t at = take(in);
                ed[ne].val[at % n] ^= (uint8_t)(1u << (take(in) % 8));
            }
            ne++;
        }
        mdb_cursor_close(cur);
        for (size_t i = 0; i < ne; i++) {
            MDB_val ek = {ed[i].kn, ed[i].key}, ev = {ed[i].vn, ed[i].val};
            mdb_del(txn, dbi, &ek, NULL);
            if (!ed[i].del)
                mdb_put(txn, dbi, &ek, &ev, 0);
        }
        if (in->p < in->end && take(in) % 4 == 0) { /* a key that was not there */
            uint8_t key[24], val[64];
            size_t kn = dbs[d].flags ? 8 : 1 + take(in) % 20, vn = take(in) % sizeof val;
            for (size_t i = 0; i < kn; i++)
                key[i] = take(in);
            for (size_t i = 0; i < vn; i++)
                val[i] = take(in);
            MDB_val nk = {kn, key}, nv = {vn, val};
            mdb_put(txn, dbi, &nk, &nv, 0);
        }
    }
    mdb_txn_commit(txn);
    mdb_env_close(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("snap.mdb", MFD_CLOEXEC);
    if (fd < 0 || write(fd, seed, seed_len) != (ssize_t)seed_len)
        abort();
    char path[64], err[512] = "", ok[512] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    stream in = {data, data + size};
    damage(path, &in);
    elig_snap *s;
    if (elig_snap_open(path, &s, err, sizeof err) == 0) {
        read_back(s);
        elig_snap_close(s);
    } else {
        FUZZ_ASSERT(err[0]);
    }
    err[0] = '\0';
    if (snap_verify(path, ok, sizeof ok, err, sizeof err) == 0)
        FUZZ_ASSERT(ok[0]);
    else
        FUZZ_ASSERT(err[0]);
    close(fd);
    return 0;
}
