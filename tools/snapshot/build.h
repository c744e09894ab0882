/* build.h — `elig-snapshot build`: three registry CSV files in, one
 * published LMDB snapshot out (SPEC sections 1 and 4).
 *
 * The whole build is one call so that the command line (main.c) and the
 * tests drive exactly the same code. */
#ifndef ELIG_SNAPSHOT_BUILD_H
#define ELIG_SNAPSHOT_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum { SNAP_HOUSEHOLDS, SNAP_MEMBERS, SNAP_ENROLLMENTS, SNAP_NFILES };

typedef struct {
    const char *input[SNAP_NFILES]; /* paths of the three CSV files */
    const char *out;                /* snapshot path to publish */
    const char *rejects;            /* rejects CSV; NULL = "<out>.rejects.csv" */
    double max_reject_ratio;        /* 0..1 */
    const char *id;                 /* NULL = derived from time and hashes */
    bool progress;                  /* progress line on stderr */
    time_t created;                 /* creation time; 0 = now */
    unsigned mode;                  /* permissions of the snapshot and rejects files; 0 = 0640 */
    /* the guard (SPEC 8) */
    const char *previous;           /* snapshot to compare with; NULL = the file at out, if any */
    unsigned guard_month;           /* elig_month of the comparison; 0 = the current month (UTC) */
    double max_change;              /* largest relative change allowed, 0..; set it (the CLI's default 0.05) */
    bool no_guard;                  /* tests of other things: skip the guard */
    FILE *report;                   /* the guard's table and verdict; NULL = not printed */
} snap_build_opts;

/* Default permissions of what the builder writes: the owner and a group
 * (eligd's), nobody else: it is personal data. */
#define SNAP_DEFAULT_MODE 0640

typedef struct {
    const char *name[SNAP_NFILES]; /* base names of the inputs */
    uint64_t read[SNAP_NFILES], accepted[SNAP_NFILES], rejected[SNAP_NFILES];
    bool counted;  /* the counts above are meaningful */
    char id[65];   /* the snapshot id used */
    char rejects[4096]; /* path of the rejects file written */
} snap_build_result;

/* Results of snap_build. */
enum {
    SNAP_BUILD_OK = 0,
    SNAP_BUILD_ERROR = -1,      /* err says what and where; nothing published */
    SNAP_BUILD_TOO_MANY = -2,   /* over --max-reject-ratio; nothing published */
    SNAP_BUILD_GUARD = -3,      /* moved more than --max-change from the previous snapshot; nothing published */
};

/* True if id is 1-64 chars of A-Za-z0-9._:- */
bool snap_valid_id(const char *id);

/* Builds the snapshot of o and publishes it at o->out atomically: a temp
 * file "<out>.tmp.<pid>" in the same directory, synced, renamed over out,
 * directory synced. On any failure the temp file is removed and out is
 * untouched. The rejects file is written whenever the inputs could be
 * read, whether or not the build then succeeds. res is filled as far as
 * the build got; err[errlen] gets a one-line message on failure. */
int snap_build(const snap_build_opts *o, snap_build_result *res, char *err, size_t errlen);

#endif /* ELIG_SNAPSHOT_BUILD_H */
