/* bench-sizes — the sizes of eligd's hot structs, as memcached's sizes.c
 * prints its own: what an idle connection costs is a measured number, not a
 * guess. Prints `name bytes` lines, or one JSON object with --json. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "elig.h"
#include "call.h"
#include "mpr.h"
#include "query.h"
#include "worker.h"

#define SIZES(X)                                                                                             \
    X("conn", sizeof(conn))                                                                                  \
    X("conn.h (libuv handle union)", sizeof(((conn *)0)->h))                                                 \
    X("uv_tcp_t", sizeof(uv_tcp_t))                                                                          \
    X("uv_write_t", sizeof(uv_write_t))                                                                      \
    X("buf", sizeof(buf))                                                                                    \
    X("worker", sizeof(worker))                                                                              \
    X("worker read chunk", (size_t)WORKER_READ_CHUNK)                                                        \
    X("conn_rx (only while a request is partly received)", sizeof(conn_rx))                                \
    X("mpr_request", sizeof(mpr_request))                                                                    \
    X("call (on the stack, per request)", sizeof(call))                                                      \
    X("query_ctx", sizeof(query_ctx))                                                                        \
    X("elig_query", sizeof(elig_query))                                                                      \
    X("elig_answer", sizeof(elig_answer))                                                                    \
    X("elig_household", sizeof(elig_household))                                                             \
    X("elig_enrollment", sizeof(elig_enrollment))

int main(int argc, char **argv) {
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    if (argc > 1 && !json) {
        printf("usage: bench-sizes [--json]\nsizeof eligd's hot structs, in bytes.\n");
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const char *sep = "";
    if (json)
        printf("{");
#define X(name, size)                                                                                        \
    if (json)                                                                                                \
        printf("%s\"%s\":%zu", sep, name, (size_t)(size)), sep = ",";                                        \
    else                                                                                                     \
        printf("%-32s %zu\n", name, (size_t)(size));
    SIZES(X)
#undef X
    if (json)
        printf("}\n");
    return 0;
}
