/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_ 1024

static log_level min_level = LOG_INFO;
static log_format format = LOG_TEXT;
static const char *const names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level l) { min_level = l; }

int log_enabled(log_level l) { return l >= min_level; }

int log_level_parse(const char *s) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void log_set_format(log_format f) { format = f; }

int log_format_parse(const char *s) {
    return strcmp(s, "text") == 0 ? LOG_TEXT : strcmp(s, "json") == 0 ? LOG_JSON : -1;
}

/* Appends s as the body of a JSON string (quotes not included): ", \ and
 * control characters escaped. Bytes >= 0x80 pass through: messages are
 * built from UTF-8 (paths, peer addresses, our own words). Returns the
 * new length, at most cap - 1. */
static size_t json_escape(char *out, size_t n, size_t cap, const char *s) {
    for (; *s && n + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch == '\n') {
            out[n++] = '\\', out[n++] = 'n';
        } else if (ch < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    return n;
}

static void emit(log_level l, bool is_conn, uint64_t conn_id, const char *peer, const char *fmt, va_list ap) {
    char msg[LINE_MAX_], line[2 * LINE_MAX_ + 256], ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t t = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + t, sizeof ts - t, ".%03ldZ", now.tv_nsec / 1000000);
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n;
    if (format == LOG_JSON) {
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, names[l]);
        n = json_escape(line, n, sizeof line - 64, msg);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"");
        if (is_conn) {
            n += (size_t)snprintf(line + n, sizeof line - n, ",\"conn\":%llu,\"peer\":\"",
                                  (unsigned long long)conn_id);
            n = json_escape(line, n, sizeof line - 8, peer);
            n += (size_t)snprintf(line + n, sizeof line - n, "\"");
        }
        n += (size_t)snprintf(line + n, sizeof line - n, "}");
    } else if (is_conn) {
        n = (size_t)snprintf(line, sizeof line, "%s %s conn %llu %s: %s", ts, names[l],
                             (unsigned long long)conn_id, peer, msg);
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s %s %s", ts, names[l], msg);
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void log_msg(log_level l, const char *fmt, ...) {
    if (l < min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(l, false, 0, NULL, fmt, ap);
    va_end(ap);
}

void log_conn_msg(log_level l, uint64_t conn_id, const char *peer, const char *fmt, ...) {
    if (l < min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(l, true, conn_id, peer, fmt, ap);
    va_end(ap);
}
