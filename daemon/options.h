/* options.h — eligd's options: one table feeds the command line, the
 * config file (--config), --help and the man page.
 *
 * Every long option may also be written in the config file as
 * `name = value` (flags as `name = true|false`); the command line overrides
 * the file. --config, --check-config, --help and --version are command-line
 * only. */
#ifndef ELIGD_OPTIONS_H
#define ELIGD_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "server.h"

typedef enum {
    OPTIONS_RUN,          /* start the daemon */
    OPTIONS_EXIT_OK,      /* --help or --version was printed */
    OPTIONS_CHECK_CONFIG, /* --check-config: validate and exit */
} options_action;

/* Fills cfg with the defaults, then the config file (if --config), then the
 * command line. On bad usage prints a one-line message naming the option
 * (and, for the file, the line) to stderr and exits 2. */
options_action options_parse(int argc, char **argv, server_config *cfg);

/* Reads the config file at path into cfg (over what cfg holds), as
 * --config does, without exiting: 0, or -1 with a one-line message naming
 * the file and line in msg. Strings set are allocated and kept for the
 * process's life. For options_parse and the config fuzz target. */
int options_read_config(const char *path, server_config *cfg, char *msg, size_t msglen);

/* Frees every string option of cfg and sets it NULL: a cfg that
 * options_parse or options_read_config filled (the default host is not
 * freed), or whose string options are NULL. A string replaced while
 * parsing (a key given twice, a file's value the command line overrides)
 * was freed then. */
void options_free_strings(server_config *cfg);

/* Writes the option list as --help shows it. */
void options_usage(FILE *out);

/* Writes the option list as the man page's OPTIONS section (scdoc
 * markup), from the same table: tools/man runs it at build time. */
void options_man(FILE *out);

#endif
