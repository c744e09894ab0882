/* main.c — eligd: options (options.c) into a server_config, then run. */
#include "options.h"
#include "server.h"

int main(int argc, char **argv) {
    server_config cfg;
    int status = 0;
    switch (options_parse(argc, argv, &cfg)) {
    case OPTIONS_EXIT_OK:
        break;
    case OPTIONS_CHECK_CONFIG:
        status = server_check_config(&cfg);
        break;
    default:
        status = server_run(&cfg);
        break;
    }
    options_free_strings(&cfg);
    return status;
}
