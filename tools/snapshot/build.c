/* build.c — the stages of a build, in order:
 *
 *   map the three inputs; hash them in a second thread while the main
 *   thread parses (so hashing costs no wall time); field rules per row
 *   (ingest.c); cross-row rules (resolve.c); the rejects file; the reject
 *   ratio; the snapshot into "<out>.tmp.<pid>" (write.c); fsync, rename
 *   over out, fsync the directory.
 *
 * The rename is the only step that changes what sits at out, and it runs
 * only once the new file is complete and on disk: a build killed at any
 * instant leaves the old snapshot or the new one, never a partial file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "compare.h"

bool snap_valid_id(const char *id) { return elig_valid_snapshot_id(id, strlen(id)); }

double snap_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void snap_progress(snap_builder *b, bool final) {
    if (!b->progress)
        return;
    double now = snap_now();
    if (!final && now - b->t_last < 0.5)
        return;
    b->t_last = now;
    double secs = now - b->t_start > 1e-9 ? now - b->t_start : 1e-9;
    uint64_t done = 0, rows = __atomic_load_n(&b->rows, __ATOMIC_RELAXED);
    for (int f = 0; f < SNAP_NFILES; f++)
        done += __atomic_load_n(&b->in[f].parsed, __ATOMIC_RELAXED);
    double pct = b->total_bytes ? 100.0 * (double)done / (double)b->total_bytes : 100.0;
    fprintf(stderr, "\relig-snapshot: %llu rows, %.0f rows/s, %.0f%% of input ", (unsigned long long)rows,
            (double)rows / secs, pct > 100 ? 100 : pct);
    if (final)
        fputc('\n', stderr);
}

/* ---- inputs -------------------------------------------------------------- */

static int open_input(snap_input *in, char *err, size_t errlen) {
    in->fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", in->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(in->fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read: %s", in->path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read: not a regular file", in->path);
        return -1;
    }
    in->len = (size_t)st.st_size;
    in->dev = st.st_dev;
    in->ino = st.st_ino;
    in->buf = "";
    if (in->len == 0)
        return 0;
    void *p = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, in->fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot read: %s", in->path, strerror(errno));
        return -1;
    }
    madvise(p, in->len, MADV_SEQUENTIAL);
    in->buf = p;
    in->mapped = true;
    return 0;
}

static void close_input(snap_input *in) {
    if (in->mapped)
        munmap((void *)in->buf, in->len);
    if (in->fd >= 0)
        close(in->fd);
    in->mapped = false;
    in->fd = -1;
}

/* How far the hash thread may run ahead of a parser: pages it reads stay
 * resident until the parser has used them too (snap_drop_behind). */
#define HASH_AHEAD (256u << 20)
#define HASH_CHUNK (1u << 20)

/* Hashes the next chunk of input f if the parser lets it; true if it did. */
static bool hash_step(snap_builder *b, int f, EVP_MD_CTX *ctx, bool *ok) {
    snap_input *in = &b->in[f];
    size_t off = in->hashed;
    if (off >= in->len)
        return false;
    if (!__atomic_load_n(&b->parse_done, __ATOMIC_ACQUIRE) &&
        off > __atomic_load_n(&in->parsed, __ATOMIC_ACQUIRE) + HASH_AHEAD)
        return false;
    size_t chunk = in->len - off < HASH_CHUNK ? in->len - off : HASH_CHUNK;
    *ok = *ok && EVP_DigestUpdate(ctx, in->buf + off, chunk);
    __atomic_store_n(&in->hashed, off + chunk, __ATOMIC_RELEASE);
    return true;
}

/* Thread body: SHA-256 of the inputs, read from the same mappings, each at
 * most HASH_AHEAD ahead of its parser (the files are parsed in parallel, so
 * they are hashed round-robin). Returns NULL, or non-NULL on failure. */
static void *hash_inputs(void *arg) {
    snap_builder *b = arg;
    EVP_MD_CTX *ctx[SNAP_NFILES];
    bool ok = true;
    for (int f = 0; f < SNAP_NFILES; f++) {
        ctx[f] = EVP_MD_CTX_new();
        ok = ok && ctx[f] && EVP_DigestInit_ex(ctx[f], EVP_sha256(), NULL);
    }
    for (;;) {
        bool moved = false, done = true;
        for (int f = 0; ok && f < SNAP_NFILES; f++) {
            while (ok && hash_step(b, f, ctx[f], &ok))
                moved = true;
            done &= b->in[f].hashed >= b->in[f].len;
        }
        if (!ok || done)
            break;
        if (!moved)
            usleep(1000);
    }
    for (int f = 0; f < SNAP_NFILES; f++) {
        unsigned int n = 0;
        ok = ok && EVP_DigestFinal_ex(ctx[f], b->in[f].sha256, &n);
        EVP_MD_CTX_free(ctx[f]);
    }
    return ok ? NULL : (void *)1;
}

static void hex(const unsigned char *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

#define DROP_STEP (64u << 20)

void snap_drop_behind(snap_builder *b, int file, size_t parsed) {
    snap_input *in = &b->in[file];
    __atomic_store_n(&in->parsed, parsed, __ATOMIC_RELEASE);
    size_t hashed = __atomic_load_n(&in->hashed, __ATOMIC_ACQUIRE);
    size_t upto = parsed < hashed ? parsed : hashed;
    upto &= ~(size_t)(sysconf(_SC_PAGESIZE) - 1);
    if (!in->mapped || upto < in->dropped + DROP_STEP)
        return;
    madvise((void *)(in->buf + in->dropped), upto - in->dropped, MADV_DONTNEED);
    in->dropped = upto;
}

/* ---- publish ------------------------------------------------------------- */

/* The temp file being written, for the signal handler to remove. */
static char tmp_path_[4200];
static volatile sig_atomic_t tmp_live_;

static void on_signal(int sig) {
    if (tmp_live_)
        unlink(tmp_path_);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit is then a write error */
}

static int sync_dir_of(const char *path, char *err, size_t errlen) {
    char copy[4200];
    snprintf(copy, sizeof copy, "%s", path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: cannot sync directory: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The guard (SPEC 8): the new snapshot's counts against the previous one's
 * (--previous, or the file already at out). SNAP_BUILD_OK, SNAP_BUILD_GUARD
 * with the table on o->report, or SNAP_BUILD_ERROR. */
static int guard(const snap_build_opts *o, const char *fresh, char *err, size_t errlen) {
    struct stat st;
    const char *prev = o->previous;
    if (!prev && stat(o->out, &st) == 0)
        prev = o->out;
    if (!prev) {
        if (o->report)
            fprintf(o->report, "guard skipped: no previous snapshot (no --previous, nothing at %s)\n", o->out);
        return SNAP_BUILD_OK;
    }
    elig_month m = o->guard_month;
    if (!m) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        m = (elig_month)(tm.tm_year + 1900) * 12 + (elig_month)tm.tm_mon;
    }
    cmp_stats *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    int rc = a && b ? 0 : -1;
    char why[1024] = "out of memory";
    if (rc == 0 && cmp_stats_of(prev, m, a, why, sizeof why) != 0) {
        snprintf(err, errlen, "guard: cannot read the previous snapshot: %s (nothing published; give --previous "
                              "a readable snapshot)", why);
        rc = SNAP_BUILD_ERROR;
    } else if (rc == 0 && cmp_stats_of(fresh, m, b, why, sizeof why) != 0) {
        snprintf(err, errlen, "guard: %s", why);
        rc = SNAP_BUILD_ERROR;
    } else if (rc == 0) {
        FILE *out = o->report ? o->report : fopen("/dev/null", "w");
        bool ok = cmp_guard(a, b, o->max_change, m, out ? out : stderr);
        if (out && out != o->report)
            fclose(out);
        if (!ok) {
            snprintf(err, errlen, "guard: the new snapshot moved more than --max-change %g from %s (%s): nothing "
                                  "published",
                     o->max_change, a->id, prev);
            rc = SNAP_BUILD_GUARD;
        } else if (o->report) {
            fprintf(o->report, "guard passed\n");
        }
    } else {
        snprintf(err, errlen, "%s", why);
        rc = SNAP_BUILD_ERROR;
    }
    free(a);
    free(b);
    return rc;
}

/* Writes the snapshot to the temp path, guards it, and renames it over out. */
static int publish(snap_builder *b, const snap_build_opts *o, const snap_meta_out *m, char *err, size_t errlen) {
    if ((size_t)snprintf(tmp_path_, sizeof tmp_path_, "%s.tmp.%ld", o->out, (long)getpid()) >= sizeof tmp_path_) {
        snprintf(err, errlen, "%s: path too long", o->out);
        return -1;
    }
    catch_signals();
    unlink(tmp_path_); /* a leftover of a killed build with our pid */
    tmp_live_ = 1;
    int rc = snap_write_lmdb(b, tmp_path_, o->mode ? o->mode : SNAP_DEFAULT_MODE, m, err, errlen);
    double t = snap_now();
    if (rc == 0 && !o->no_guard)
        rc = guard(o, tmp_path_, err, errlen);
    snap_stage("guard", &t);
    if (rc == 0 && rename(tmp_path_, o->out) != 0) {
        snprintf(err, errlen, "%s: cannot rename into place: %s", o->out, strerror(errno));
        rc = SNAP_BUILD_ERROR;
    }
    if (rc != 0)
        unlink(tmp_path_);
    tmp_live_ = 0;
    if (rc == 0 && sync_dir_of(o->out, err, errlen) != 0)
        rc = SNAP_BUILD_ERROR;
    return rc;
}

/* ---- the build ----------------------------------------------------------- */

static void fill_meta(snap_builder *b, const snap_build_opts *o, snap_meta_out *m) {
    time_t t = o->created ? o->created : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int f = 0; f < SNAP_NFILES; f++)
        hex(b->in[f].sha256, 32, m->sha[f]);
    if (o->id) {
        snprintf(m->id, sizeof m->id, "%s", o->id);
    } else {
        /* time, then a digest of the three input digests */
        unsigned char d[32];
        unsigned int n;
        char all[3 * 64];
        for (int f = 0; f < SNAP_NFILES; f++)
            memcpy(all + 64 * f, m->sha[f], 64);
        EVP_Digest(all, sizeof all, d, &n, EVP_sha256(), NULL);
        char h[9];
        hex(d, 4, h);
        size_t len = strftime(m->id, sizeof m->id, "%Y%m%dT%H%M%SZ-", &tm);
        memcpy(m->id + len, h, sizeof h);
    }
    m->households = b->in[SNAP_HOUSEHOLDS].accepted;
    m->members = b->in[SNAP_MEMBERS].accepted;
    m->enrollments = b->in[SNAP_ENROLLMENTS].accepted;
}

static void free_builder(snap_builder *b) {
    for (int f = 0; f < SNAP_NFILES; f++)
        close_input(&b->in[f]);
    VEC_FREE(b->hh);
    VEC_FREE(b->mem);
    VEC_FREE(b->enr);
    for (int f = 0; f < SNAP_NFILES; f++)
        VEC_FREE(b->rej[f]);
    VEC_FREE(b->kks);
    big_free(b->scratch, b->scratch_len);
    prog_free(&b->prog);
}

static void counts(snap_builder *b, snap_build_result *res) {
    for (int f = 0; f < SNAP_NFILES; f++) {
        snap_input *in = &b->in[f];
        in->accepted = in->read - in->rejected;
        res->read[f] = in->read;
        res->rejected[f] = in->rejected;
        res->accepted[f] = in->accepted;
    }
    res->counted = true;
}

static bool too_many_rejects(const snap_builder *b, double ratio, char *err, size_t errlen) {
    uint64_t read = 0, rejected = 0;
    for (int f = 0; f < SNAP_NFILES; f++) {
        read += b->in[f].read;
        rejected += b->in[f].rejected;
    }
    if (read == 0 || (double)rejected / (double)read <= ratio)
        return false;
    snprintf(err, errlen, "%llu of %llu rows rejected (%.6g) is over --max-reject-ratio %g: nothing published",
             (unsigned long long)rejected, (unsigned long long)read, (double)rejected / (double)read, ratio);
    return true;
}

void snap_stage(const char *name, double *t) {
    static int on = -1;
    if (on < 0)
        on = getenv("ELIG_SNAPSHOT_TIMING") != NULL;
    double now = snap_now();
    if (on && name) {
        struct timespec cpu;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
        long rss = 0, hwm = 0;
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            sscanf(line, "VmRSS: %ld", &rss);
            sscanf(line, "VmHWM: %ld", &hwm);
        }
        if (f)
            fclose(f);
        fprintf(stderr, "elig-snapshot: %-14s %6.2f s (cpu so far %.2f s, rss %ld MiB, peak %ld MiB)\n", name,
                now - *t, (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9, rss >> 10, hwm >> 10);
    }
    *t = now;
}

typedef struct {
    snap_builder *b;
    int file, rc;
    char err[1024];
} parse_job;

static void *parse_thread(void *arg) {
    parse_job *j = arg;
    j->rc = snap_ingest(j->b, j->file, false, j->err, sizeof j->err);
    __atomic_store_n(&j->b->in[j->file].parsed, j->b->in[j->file].len, __ATOMIC_RELEASE);
    return NULL;
}

/* Parses the three files: members.csv (the largest) in a thread of its
 * own, households.csv then enrollments.csv here. On failure err names the
 * first failing file in households, members, enrollments order. */
static int parse_all(snap_builder *b, char *err, size_t errlen) {
    parse_job mem = {.b = b, .file = SNAP_MEMBERS};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, parse_thread, &mem) == 0;
    int rc = snap_ingest(b, SNAP_HOUSEHOLDS, true, err, errlen);
    __atomic_store_n(&b->in[SNAP_HOUSEHOLDS].parsed, b->in[SNAP_HOUSEHOLDS].len, __ATOMIC_RELEASE);
    int rc_enr = rc == 0 ? snap_ingest(b, SNAP_ENROLLMENTS, true, err, errlen) : 0;
    __atomic_store_n(&b->in[SNAP_ENROLLMENTS].parsed, b->in[SNAP_ENROLLMENTS].len, __ATOMIC_RELEASE);
    if (threaded)
        pthread_join(th, NULL);
    else
        parse_thread(&mem);
    if (rc != 0)
        return rc;
    if (mem.rc != 0) {
        snprintf(err, errlen, "%s", mem.err);
        return mem.rc;
    }
    return rc_enr;
}

/* Refuses an output path (--out, --rejects) that names an input: writing
 * it would destroy the input, or truncate it under its map. */
static int check_outputs(const snap_builder *b, const char *out, const char *rejects, char *err, size_t errlen) {
    const char *paths[2] = {out, rejects};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            continue;
        for (int f = 0; f < SNAP_NFILES; f++) {
            if (st.st_dev == b->in[f].dev && st.st_ino == b->in[f].ino) {
                snprintf(err, errlen, "%s: is the input %s; refusing to overwrite it", paths[i], b->in[f].path);
                return -1;
            }
        }
    }
    return 0;
}

/* Everything between opening the inputs and publishing. */
static int run(snap_builder *b, const snap_build_opts *o, snap_build_result *res, char *err, size_t errlen) {
    double t = snap_now();
    pthread_t hasher;
    bool hashing = pthread_create(&hasher, NULL, hash_inputs, b) == 0;
    int rc = parse_all(b, err, errlen);
    __atomic_store_n(&b->parse_done, 1, __ATOMIC_RELEASE);
    snap_progress(b, true);
    snap_stage("parse", &t);
    void *hash_failed = (void *)1;
    if (hashing)
        pthread_join(hasher, &hash_failed);
    else if (rc == 0)
        hash_failed = hash_inputs(b); /* no thread: hash here */
    snap_stage("hash wait", &t);
    if (rc != 0)
        return SNAP_BUILD_ERROR;
    if (hash_failed) {
        snprintf(err, errlen, "SHA-256 of the inputs failed");
        return SNAP_BUILD_ERROR;
    }
    for (int f = 0; f < SNAP_NFILES; f++) /* parsed and hashed: let the pages go */
        if (b->in[f].mapped)
            madvise((void *)b->in[f].buf, b->in[f].len, MADV_DONTNEED);
    if (b->progress)
        fprintf(stderr, "elig-snapshot: checking duplicates, families and overlaps\n");
    if (snap_resolve(b, err, errlen) != 0)
        return SNAP_BUILD_ERROR;
    snap_stage("resolve", &t);
    counts(b, res);
    if (snap_write_rejects(b, res->rejects, o->mode ? o->mode : SNAP_DEFAULT_MODE, err, errlen) != 0)
        return SNAP_BUILD_ERROR;
    snap_stage("rejects", &t);
    if (too_many_rejects(b, o->max_reject_ratio, err, errlen))
        return SNAP_BUILD_TOO_MANY;
    snap_meta_out m;
    fill_meta(b, o, &m);
    snprintf(res->id, sizeof res->id, "%s", m.id);
    if (b->progress)
        fprintf(stderr, "elig-snapshot: writing and syncing the snapshot\n");
    rc = publish(b, o, &m, err, errlen);
    snap_stage("write+publish", &t);
    return rc == 0 ? SNAP_BUILD_OK : rc == SNAP_BUILD_GUARD ? SNAP_BUILD_GUARD : SNAP_BUILD_ERROR;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int snap_build(const snap_build_opts *o, snap_build_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    if (o->rejects)
        snprintf(res->rejects, sizeof res->rejects, "%s", o->rejects);
    else
        snprintf(res->rejects, sizeof res->rejects, "%s.rejects.csv", o->out);
    snap_builder *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return SNAP_BUILD_ERROR;
    }
    b->progress = o->progress;
    b->t_start = b->t_last = snap_now();
    for (int f = 0; f < SNAP_NFILES; f++) {
        b->in[f].fd = -1;
        b->in[f].path = o->input[f];
        b->in[f].name = res->name[f] = base_name(o->input[f]);
    }
    int rc = 0;
    for (int f = 0; f < SNAP_NFILES && rc == 0; f++) {
        rc = open_input(&b->in[f], err, errlen);
        b->total_bytes += b->in[f].len;
    }
    if (rc == 0)
        rc = check_outputs(b, o->out, res->rejects, err, errlen);
    rc = rc == 0 ? run(b, o, res, err, errlen) : SNAP_BUILD_ERROR;
    free_builder(b);
    free(b);
    return rc;
}
