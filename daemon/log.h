/* log.h — one line per event on stderr: `TIME LEVEL message`.
 * Thread-safe: each line is formatted in full, then written with one
 * write(2), so lines from different threads never interleave. */
#ifndef ELIGD_LOG_H
#define ELIGD_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Sets the lowest level written (default LOG_INFO). Call before threads. */
void log_set_level(log_level l);
/* Parses "debug", "info", "warn" or "error"; -1 if none. */
int log_level_parse(const char *s);
int log_enabled(log_level l);

void log_msg(log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) (log_enabled(LOG_DEBUG) ? log_msg(LOG_DEBUG, __VA_ARGS__) : (void)0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
