/* log.h — one line per event on stderr, as text (`TIME LEVEL message`) or,
 * with --log-format json, as one JSON object per line:
 *   {"ts":"2026-12-01T10:00:00.123Z","level":"info","msg":"...",
 *    "conn":12,"peer":"127.0.0.1:53122"}
 * (conn and peer on connection events only).
 *
 * Thread-safe: each line is formatted in full, then written with one
 * write(2), so lines from different threads never interleave.
 *
 * What may be logged: no NIK, KK, KKS card number or token at any level
 * above debug (SPEC 6, UU 27/2022); connection events name the peer
 * address and the connection id, never what was asked. */
#ifndef ELIGD_LOG_H
#define ELIGD_LOG_H

#include <stdint.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;
typedef enum { LOG_TEXT, LOG_JSON } log_format;

/* Sets the lowest level written (default LOG_INFO). Call before threads. */
void log_set_level(log_level l);
/* Parses "debug", "info", "warn" or "error"; -1 if none. */
int log_level_parse(const char *s);
int log_enabled(log_level l);
/* Sets the line format (default LOG_TEXT). Call before threads. */
void log_set_format(log_format f);
/* Parses "text" or "json"; -1 if neither. */
int log_format_parse(const char *s);

void log_msg(log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An event of connection conn_id from peer: text lines read
 * "conn ID PEER: message", JSON lines carry conn and peer as fields. */
void log_conn_msg(log_level l, uint64_t conn_id, const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) (log_enabled(LOG_DEBUG) ? log_msg(LOG_DEBUG, __VA_ARGS__) : (void)0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
/* log_conn(LOG_INFO, &c->sess, "closing: %s", why): a session's event. */
#define log_conn(l, sess, ...)                                                 \
    (log_enabled(l) ? log_conn_msg(l, (sess)->conn_id, (sess)->peer, __VA_ARGS__) : (void)0)

#endif
