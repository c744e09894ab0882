/* bench-answer — eligd's own answer path, in-process: the same proto_next
 * (bounded decoder) and query_handle (params, elig_check on a real reader,
 * msgpack-c packing into a buf) that a worker runs for each request, over
 * pre-encoded `check` requests, with no sockets.
 *
 * Requests are drawn from the same keys file and kind mix as elig-bench
 * and encoded once into one read-only buffer that every thread walks from
 * its own offset; each thread has its own elig_reader and output buf,
 * emptied every 64 answers as a worker's flush would. Compared with
 * bench-lookup it says what resolve + rule + encode cost beyond one B-tree
 * lookup. One JSON line per thread count. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "elig.h"
#include "keys.h"
#include "mp.h"
#include "query.h"
#include "stats.h"

#define NREQ (1u << 18)

/* --stats: count as a worker does (stats.h): per request in query_handle,
 * and per flush of 64 answers the two clock reads of the latency
 * histogram. Off: the request path alone. */
static int with_stats;

static uint8_t *reqs;
static size_t reqs_len;

typedef struct {
    elig_snap *snap;
    double seconds;
    double elapsed; /* seconds this thread ran */
    uint64_t count; /* > 0: stop after this many, whatever the time (for callgrind) */
    size_t start_off;
    uint64_t answers;
    pthread_barrier_t *start;
} job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* NREQ check requests, back to back, as a client would pipeline them. */
static void encode_requests(const key_source *ks, const char *program, const char *period) {
    reqs = malloc((size_t)NREQ * 96);
    if (!reqs) {
        fprintf(stderr, "bench-answer: out of memory\n");
        exit(1);
    }
    rng r;
    rng_seed(&r, 7);
    uint8_t *p = reqs;
    for (uint32_t i = 0; i < NREQ; i++) {
        elig_kind kind;
        char id[ELIG_WIRE_ID_LEN];
        keys_pick(ks, &r, &kind, id);
        const char *k = elig_kind_name(kind);
        p = mpw_array(p, 4);
        *p++ = ELIG_MSG_REQUEST;
        p = mpw_uint(p, i);
        p = mpw_str(p, "check", 5);
        p = mpw_array(p, 4);
        p = mpw_str(p, k, (uint32_t)strlen(k));
        p = mpw_str(p, id, ELIG_WIRE_ID_LEN);
        p = mpw_str(p, program, (uint32_t)strlen(program));
        p = mpw_str(p, period, (uint32_t)strlen(period));
    }
    reqs_len = (size_t)(p - reqs);
}

/* Offset of the first request at or after off (requests vary in size). */
static size_t align_to_request(size_t off) {
    size_t pos = 0;
    mpr_request m;
    while (pos < off) {
        long n = mpr_rpc_next(reqs + pos, reqs_len - pos, 1u << 20, &m);
        if (n <= 0)
            return 0;
        pos += (size_t)n;
    }
    return pos < reqs_len ? pos : 0;
}

static void *run(void *arg) {
    job *j = arg;
    elig_reader *reader;
    if (elig_reader_open(j->snap, &reader) != 0) {
        fprintf(stderr, "bench-answer: cannot open a reader\n");
        exit(1);
    }
    query_ctx ctx = {.answer.reader = reader};
    stats *st = NULL;
    if (with_stats) {
        st = aligned_alloc(64, (sizeof *st + 63) / 64 * 64);
        if (!st) {
            fprintf(stderr, "bench-answer: out of memory\n");
            exit(1);
        }
        stats_init(st);
        ctx.stats = ctx.answer.stats = st;
    }
    session sess = {.conn_id = 1, .transport = SESSION_TCP, .peer = "bench"};
    if (query_ctx_init(&ctx, ELIG_WIRE_MAX_BATCH) != 0) {
        fprintf(stderr, "bench-answer: out of memory\n");
        exit(1);
    }
    buf out = {0};
    size_t off = j->start_off;
    uint64_t answers = 0, errors = 0;
    pthread_barrier_wait(j->start);
    double begin = now_s(), end = begin + j->seconds;
    uint64_t t0 = 0;
    for (;;) {
        for (int b = 0; b < 1024; b++) {
            if (st && (b & 63) == 0)
                t0 = uv_hrtime(); /* a read's processing starts */
            mpr_request m;
            long n = mpr_rpc_next(reqs + off, reqs_len - off, 1u << 20, &m);
            if (n <= 0) {
                fprintf(stderr, "bench-answer: request buffer is damaged\n");
                exit(1);
            }
            errors += query_handle(&ctx, &sess, &m, &out) != 0;
            off += (size_t)n;
            if (off == reqs_len)
                off = 0;
            if ((b & 63) == 63) {
                out.len = 0; /* the worker's flush */
                if (st)
                    stats_latency(st, 64, uv_hrtime() - t0);
            }
        }
        out.len = 0;
        answers += 1024;
        if (j->count ? answers >= j->count : now_s() >= end)
            break;
    }
    if (errors)
        fprintf(stderr, "bench-answer: %llu answers failed\n", (unsigned long long)errors);
    buf_free(&out);
    free(st);
    query_ctx_destroy(&ctx);
    elig_reader_close(reader);
    j->elapsed = now_s() - begin;
    j->answers = answers;
    return NULL;
}

int main(int argc, char **argv) {
    const char *snap_path = NULL, *keys_path = NULL, *kinds = NULL, *program = "BPNT", *period = "2024-06";
    double seconds = 3, miss = 0;
    int max_threads = 2;
    uint64_t count = 0;
    static const struct option opts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"keys", required_argument, NULL, 'k'},
        {"kinds", required_argument, NULL, 'K'},    {"miss-ratio", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},  {"count", required_argument, NULL, 'n'},  {"program", required_argument, NULL, 'p'},
        {"period", required_argument, NULL, 'P'},   {"help", no_argument, NULL, 'h'},
        {"stats", no_argument, NULL, 'S'},
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
        case 'p': program = optarg; break;
        case 'P': period = optarg; break;
        case 'd': seconds = atof(optarg); break;
        case 'S': with_stats = 1; break;
        case 'h':
            printf("usage: bench-answer --snapshot PATH --keys FILE [--kinds SPEC] [--miss-ratio R]\n"
                   "                    [--program P] [--period YYYY-MM] [-d SECONDS (3)] [--threads N (2)]\n"
                   "                    [--count N: N per thread, not timed; for callgrind]\n"
                   "                    [--stats: count as a worker does (daemon/stats.h)]\n"
                   "eligd's decode + check + encode in-process with 1..N threads; one JSON line each.\n");
            return 0;
        default: return 2;
        }
    }
    if (!snap_path || !keys_path || max_threads < 1 || max_threads > 64 || seconds <= 0) {
        fprintf(stderr, "bench-answer: --snapshot and --keys are required\n");
        return 2;
    }
    char err[512];
    key_source ks;
    if (keys_load(&ks, keys_path, err, sizeof err) != 0 ||
        keys_set_mix(&ks, kinds ? kinds : "nik,kk,kks", err, sizeof err) != 0) {
        fprintf(stderr, "bench-answer: %s\n", err);
        return 1;
    }
    ks.miss_ratio = miss;
    keys_set_skew(&ks, false);
    encode_requests(&ks, program, period);

    elig_snap *snap;
    if (elig_snap_open(snap_path, &snap, err, sizeof err) != 0) {
        fprintf(stderr, "bench-answer: %s\n", err);
        return 1;
    }
    /* One untimed pass over every request, as bench-lookup does. */
    {
        job warm = {.snap = snap, .seconds = 1e9, .count = NREQ};
        pthread_barrier_t one;
        pthread_barrier_init(&one, NULL, 1);
        warm.start = &one;
        run(&warm);
        pthread_barrier_destroy(&one);
    }
    for (int nt = 1; nt <= max_threads; nt++) {
        job jobs[64];
        pthread_t tids[64];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)nt);
        for (int i = 0; i < nt; i++) {
            jobs[i] = (job){.snap = snap, .seconds = seconds, .count = count, .start = &start,
                            .start_off = align_to_request(reqs_len / (size_t)nt * (size_t)i)};
            pthread_create(&tids[i], NULL, run, &jobs[i]);
        }
        uint64_t answers = 0;
        double elapsed = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(tids[i], NULL);
            answers += jobs[i].answers;
            if (jobs[i].elapsed > elapsed)
                elapsed = jobs[i].elapsed;
        }
        pthread_barrier_destroy(&start);
        printf("{\"bench\":\"answer\",\"threads\":%d,\"kinds\":\"%s\",\"miss_ratio\":%.2f,\"stats\":%s,"
               "\"answers_per_s\":%.0f}\n",
               nt, kinds ? kinds : "nik,kk,kks", miss, with_stats ? "true" : "false", (double)answers / elapsed);
        fflush(stdout);
    }
    elig_snap_close(snap);
    keys_free(&ks);
    free(reqs);
    return 0;
}
