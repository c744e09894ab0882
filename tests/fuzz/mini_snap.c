/* mini_snap.c — see mini_snap.h. */
#include "mini_snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"

static char dir[64], path[128];

static const char households[] = "kk,region,status,kks,head_name\n"
                                 "3201010000000001,3201010001,active,5000000000000001,Siti\n"
                                 "3201010000000002,3201010002,suspended,,\n"
                                 "3201010000000003,3201010003,graduated,5000000000000003,\n"
                                 "3201010000000004,3201010004,terminated,,\n"
                                 "7371020000000006,7371020006,active,,\n";
static const char members[] = "nik,kk,status,birth_date\n"
                              "3201011501900001,3201010000000001,alive,1990-01-15\n"
                              "3201015501900002,3201010000000001,deceased,\n"
                              "3201011202850004,3201010000000002,,\n"
                              "7371026112990008,7371020000000006,alive,1999-12-21\n";
static const char enrollments[] = "kk,program,start,end,amount,status\n"
                                  "3201010000000001,PKH,2024-01,2024-06,750000,active\n"
                                  "3201010000000001,PKH,2024-07,,900000,active\n"
                                  "3201010000000001,BPNT,2024-01,2024-12,200000,suspended\n"
                                  "3201010000000002,PKH,2024-01,,500000,active\n"
                                  "3201010000000003,PKH,2024-01,,500000,active\n"
                                  "7371020000000006,PKH,0001-01,9999-12,1,suspended\n";

static int write_text(const char *name, const char *text, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "mini_snap: cannot write %s\n", out);
        return -1;
    }
    return 0;
}

void mini_snap_cleanup(void) {
    static const char *const files[] = {"households.csv", "members.csv", "enrollments.csv", "mini.mdb",
                                        "rejects.csv"};
    if (!dir[0])
        return;
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    dir[0] = path[0] = '\0';
}

const char *mini_snap_path(void) {
    if (path[0])
        return path;
    snprintf(dir, sizeof dir, "/tmp/elig-mini-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mini_snap: mkdtemp");
        dir[0] = '\0';
        return NULL;
    }
    char in[3][128], rejects[128], err[512];
    if (write_text("households.csv", households, in[0], sizeof in[0]) != 0 ||
        write_text("members.csv", members, in[1], sizeof in[1]) != 0 ||
        write_text("enrollments.csv", enrollments, in[2], sizeof in[2]) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/mini.mdb", dir);
    snprintf(rejects, sizeof rejects, "%s/rejects.csv", dir);
    snap_build_opts o = {.input = {in[0], in[1], in[2]}, .out = path, .rejects = rejects,
                         .max_reject_ratio = 0, .id = "mini", .created = 1795822800};
    snap_build_result res;
    if (snap_build(&o, &res, err, sizeof err) != SNAP_BUILD_OK) {
        fprintf(stderr, "mini_snap: build failed: %s\n", err);
        path[0] = '\0';
        return NULL;
    }
    return path;
}
