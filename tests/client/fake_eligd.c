/* fake_eligd.c — the fake server of fake_server.h as a program, so the
 * elig command can be tested black-box without eligd.
 *
 *   eligc_fake_eligd NAME MODE READY_FILE [DIE_AFTER]
 *
 * MODE is answer, silent, error or garbage. Writes "HOST:PORT\n" to
 * READY_FILE once listening, then serves until stdin closes (the test
 * holds the pipe) or 60 s pass, so it always stops by itself. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_server.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: eligc_fake_eligd NAME MODE READY_FILE [DIE_AFTER]\n");
        return 2;
    }
    static const struct { const char *name; fake_mode mode; } modes[] = {
        {"answer", FAKE_ANSWER}, {"silent", FAKE_SILENT},
        {"error", FAKE_ERROR},   {"garbage", FAKE_GARBAGE},
    };
    fake_config cfg = {.name = argv[1], .mode = FAKE_ANSWER};
    size_t i;
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(argv[2], modes[i].name) == 0)
            break;
    if (i == sizeof modes / sizeof modes[0]) {
        fprintf(stderr, "eligc_fake_eligd: unknown mode %s\n", argv[2]);
        return 2;
    }
    cfg.mode = modes[i].mode;
    if (argc > 4)
        cfg.die_after = (unsigned)atoi(argv[4]);
    fake_server *f = fake_start(&cfg);
    if (!f) {
        perror("eligc_fake_eligd: listen");
        return 1;
    }
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
    FILE *rf = fopen(tmp, "w");
    if (!rf || fprintf(rf, "%s\n", fake_addr(f)) < 0 || fclose(rf) != 0 || rename(tmp, argv[3]) != 0) {
        perror("eligc_fake_eligd: ready file");
        return 1;
    }
    struct pollfd p = {.fd = 0, .events = POLLIN};
    for (int waited = 0; waited < 60000; waited += 100) {
        if (poll(&p, 1, 100) > 0) {
            char c;
            if (read(0, &c, 1) <= 0)
                break;
        }
    }
    fake_stop(f);
    return 0;
}
