/*
 * log.h: levelled logging to stderr, with key=value session lines.
 *
 * Owns the current level and the output format.  Does not own what is
 * logged: callers never pass passwords or payloads, and escape untrusted
 * bytes with log_escape() first.
 */
#ifndef REDSLEEVE_LOG_H
#define REDSLEEVE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,    /* an operator must act */
    LOG_LEVEL_WARN,         /* degraded and self-healing */
    LOG_LEVEL_INFO,         /* lifecycle and session close */
    LOG_LEVEL_DEBUG         /* per event */
};

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define MUST_CHECK __attribute__((warn_unused_result))

/* log_set_level(level): messages above level are dropped before formatting. */
void log_set_level(enum log_level level);

/* log_enabled(level): true when a message at level would be written. */
bool log_enabled(enum log_level level);

/* log_msg(level, fmt, ...): writes one line "TIME LEVEL message" to stderr. */
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

/*
 * log_level_parse(s, out): "error" | "warn" | "info" | "debug" to *out.
 * Returns 0, or -1 for anything else.
 */
int log_level_parse(const char *s, enum log_level *out) MUST_CHECK;

/* log_level_name(level): the name log_level_parse() accepts. */
const char *log_level_name(enum log_level level);

/*
 * log_escape(in, inlen, out, outlen): copies printable ASCII from in to out,
 * writing other bytes as \xNN, always NUL-terminating, truncating with
 * "..." when out is too small.  Returns out.
 */
char *log_escape(const char *in, size_t inlen, char *out, size_t outlen);

/* log_libevent_cb: libevent's own messages (event_set_log_callback), at
 * the level libevent gives them. */
void log_libevent_cb(int severity, const char *msg);

/* mono_now(): CLOCK_MONOTONIC in seconds (durations, deadlines). */
double mono_now(void);

#define log_error(...) \
    do { if (log_enabled(LOG_LEVEL_ERROR)) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__); } while (0)
#define log_warn(...) \
    do { if (log_enabled(LOG_LEVEL_WARN)) log_msg(LOG_LEVEL_WARN, __VA_ARGS__); } while (0)
#define log_info(...) \
    do { if (log_enabled(LOG_LEVEL_INFO)) log_msg(LOG_LEVEL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) \
    do { if (log_enabled(LOG_LEVEL_DEBUG)) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

#endif
