/* main.c — eligd: options (options.c) into a server_config, then run. */
#include "options.h"
#include "server.h"

int main(int argc, char **argv) {
    server_config cfg;
    switch (options_parse(argc, argv, &cfg)) {
    case OPTIONS_EXIT_OK:
        return 0;
    case OPTIONS_CHECK_CONFIG:
        return server_check_config(&cfg);
    default:
        return server_run(&cfg);
    }
}
