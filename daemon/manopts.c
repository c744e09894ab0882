/* manopts.c — eligd-manopts TEMPLATE OUT: writes the man page source OUT
 * from TEMPLATE with its `@OPTIONS@` line replaced by eligd's option table
 * (options_man), so that eligd(8) lists exactly the options --help shows.
 * A build tool, not installed. */
#include <stdio.h>
#include <string.h>

#include "options.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: eligd-manopts TEMPLATE OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
    if (!in || !out) {
        perror(in ? argv[2] : argv[1]);
        return 1;
    }
    char line[1024];
    int replaced = 0;
    while (fgets(line, sizeof line, in)) {
        if (strcmp(line, "@OPTIONS@\n") == 0) {
            options_man(out);
            replaced++;
        } else {
            fputs(line, out);
        }
    }
    if (replaced != 1) {
        fprintf(stderr, "eligd-manopts: %s: want exactly one @OPTIONS@ line, found %d\n", argv[1], replaced);
        return 1;
    }
    return fclose(out) == 0 && !ferror(in) ? 0 : 1;
}
