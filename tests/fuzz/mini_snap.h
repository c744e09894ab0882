/* mini_snap.h — a small snapshot built in-process, for the fuzz targets
 * and the allocation-failure tests: five families, members and
 * enrollments covering every reason of SPEC 2, built by the real builder
 * (tools/snapshot) from CSV text into a fresh directory under /tmp. */
#ifndef ELIG_TEST_MINI_SNAP_H
#define ELIG_TEST_MINI_SNAP_H

/* Builds the snapshot once per process and returns its path (static
 * storage), or NULL with the reason on stderr. Its id is "mini". */
const char *mini_snap_path(void);

/* Removes the directory mini_snap_path made (atexit-safe). */
void mini_snap_cleanup(void);

/* Ids in the snapshot, for requests that reach the rule. */
#define MINI_NIK_ALIVE "3201011501900001"
#define MINI_KK_ACTIVE "3201010000000001"
#define MINI_KKS_ACTIVE "5000000000000001"

#endif
