/* bench-startup — time from starting a server to its first answer.
 *
 * Forks and execs the command after `--`, then tries every 200 us to
 * connect to 127.0.0.1:PORT and, once connected, sends one `check` and
 * waits for its response. Prints one JSON line: milliseconds from fork to
 * the connection accepted and to the first answer. Then stops the server
 * with SIGTERM (SIGKILL after 15 s) and reaps it: nothing outlives the run.
 *
 * --cold FILE first drops FILE's pages from the page cache
 * (posix_fadvise DONTNEED: only that file, only clean pages), so the first
 * answer has to read the snapshot from disk as after a reboot. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "elig_wire.h"
#include "mp.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void drop_cache(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
        fprintf(stderr, "bench-startup: cannot drop %s from the page cache: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void stop(pid_t pid) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 1500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    int port = 0;
    const char *cold = NULL, *kind = "kk", *id = "1000000000000000", *program = "BPNT", *period = "2024-06";
    double timeout_ms = 30000;
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},    {"cold", required_argument, NULL, 'c'},
        {"kind", required_argument, NULL, 'k'},    {"id", required_argument, NULL, 'i'},
        {"program", required_argument, NULL, 'P'}, {"period", required_argument, NULL, 'M'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': cold = optarg; break;
        case 'k': kind = optarg; break;
        case 'i': id = optarg; break;
        case 'P': program = optarg; break;
        case 'M': period = optarg; break;
        case 't': timeout_ms = atof(optarg) * 1000; break;
        case 'h':
            printf("usage: bench-startup --port PORT [--cold FILE] [--kind K --id ID] [--program P]\n"
                   "                     [--period M] [--timeout S (30)] -- COMMAND ARGS...\n"
                   "Milliseconds from exec to the first answer of a check on 127.0.0.1:PORT.\n");
            return 0;
        default: return 2;
        }
    }
    if (port <= 0 || optind >= argc || strlen(id) != ELIG_WIRE_ID_LEN) {
        fprintf(stderr, "bench-startup: --port, a 16-digit --id and a command after -- are required\n");
        return 2;
    }
    uint8_t req[128], *p = req;
    p = mpw_array(p, 4);
    *p++ = ELIG_MSG_REQUEST;
    p = mpw_uint(p, 1);
    p = mpw_str(p, "check", 5);
    p = mpw_array(p, 4);
    p = mpw_str(p, kind, (uint32_t)strlen(kind));
    p = mpw_str(p, id, ELIG_WIRE_ID_LEN);
    p = mpw_str(p, program, (uint32_t)strlen(program));
    p = mpw_str(p, period, (uint32_t)strlen(period));
    size_t reqlen = (size_t)(p - req);

    if (cold)
        drop_cache(cold);
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench-startup: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "bench-startup: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    double t_conn = -1, t_answer = -1;
    int errcode = -1, fd = -1;
    const char *why = "could not connect";
    while (now_ms() - t0 < timeout_ms) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "bench-startup: the server exited before answering\n");
            return 1;
        }
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        close(fd);
        fd = -1;
        usleep(200);
    }
    if (fd >= 0) {
        t_conn = now_ms() - t0;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint8_t in[4096];
        size_t len = 0;
        why = "the request could not be written";
        if (write(fd, req, reqlen) == (ssize_t)reqlen) {
            why = "the response is too large";
            while (len < sizeof in) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int left = (int)(timeout_ms - (now_ms() - t0));
                int pr = left > 0 ? poll(&pfd, 1, left) : 0;
                if (pr < 0 && errno == EINTR)
                    continue;
                if (pr <= 0) {
                    why = "no response in time";
                    break;
                }
                ssize_t n = read(fd, in + len, sizeof in - len);
                if (n <= 0) {
                    why = n == 0 ? "the server closed the connection before answering" : strerror(errno);
                    break;
                }
                len += (size_t)n;
                long k = mpr_frame(in, len, sizeof in);
                if (k < 0) {
                    why = "the response is not msgpack";
                    break;
                }
                if (k > 0) {
                    mpr_response r;
                    why = "the response is not the answer to the request";
                    if (mpr_response_parse(in, (size_t)k, &r) && r.msgid == 1) {
                        t_answer = now_ms() - t0;
                        errcode = r.errcode;
                    }
                    break;
                }
            }
        }
        close(fd);
    }
    double t_gave_up = now_ms() - t0;
    stop(pid);
    if (t_answer < 0) {
        fprintf(stderr, "bench-startup: no answer (%s) after %.1f ms; connected after %.1f ms\n", why,
                t_gave_up, t_conn);
        return 1;
    }
    printf("{\"bench\":\"startup\",\"cold\":%s,\"connect_ms\":%.2f,\"first_answer_ms\":%.2f,\"error\":%d}\n",
           cold ? "true" : "false", t_conn, t_answer, errcode);
    return 0;
}
