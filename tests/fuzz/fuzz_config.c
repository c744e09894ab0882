/* fuzz_config — eligd's --config file parser (daemon/options.c through
 * options_read_config, the same code as --config without the exit).
 * Properties: any file either loads or fails with a one-line message
 * naming the file and line; a file that loads leaves every number option
 * inside its table's bounds (the caps of issue 13 among them). The input
 * is written to a memfd and read back through its /proc path, as a real
 * file would be.
 *
 * This is the pattern for the other file parsers (the channels file of
 * --auth-file): call the parser's non-exiting entry on the input as a
 * file, assert its contract, and free what it returns. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("eligd.conf", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    char path[64], msg[8192];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    server_config cfg = {.max_output = 4u << 20, .max_message = 1u << 20, .max_connections = 10000,
                         .max_batch = 10000, .threads = 1, .max_buffer_memory = 1u << 30};
    msg[0] = '\0';
    if (options_read_config(path, &cfg, msg, sizeof msg) == 0) {
        FUZZ_ASSERT(cfg.max_output >= 1024 && cfg.max_output <= (1ull << 30));
        FUZZ_ASSERT(cfg.max_message >= 64 && cfg.max_message <= (1u << 30));
        FUZZ_ASSERT(cfg.max_connections >= 1 && cfg.max_connections <= 1000000);
        FUZZ_ASSERT(cfg.max_batch >= 1 && cfg.max_batch <= 1000000);
        FUZZ_ASSERT(cfg.threads >= 1 && cfg.threads <= 256);
        FUZZ_ASSERT(cfg.unix_mode <= 0777);
        FUZZ_ASSERT(cfg.max_buffer_memory >= (1u << 20));
    } else {
        FUZZ_ASSERT(msg[0] && strstr(msg, path) && !strchr(msg, '\n'));
    }
    options_free_strings(&cfg); /* nothing may leak, keys given twice included */
    log_set_level(LOG_INFO);
    close(fd);
    return 0;
}
