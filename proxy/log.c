/*
 * log.c: the one place that writes log lines.
 *
 * Lines go to stderr (journald captures it under systemd).  Each line is
 * written with a single write(2) so concurrent writers never interleave.
 */
#include "log.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

/* Read by every worker thread, set by reload: an atomic int. */
static _Atomic int current_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void
log_set_level(enum log_level level)
{
    atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

bool
log_enabled(enum log_level level)
{
    return (int)level <=
           atomic_load_explicit(&current_level, memory_order_relaxed);
}

int
log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *
log_level_name(enum log_level level)
{
    return level_names[level];
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int r;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03dZ %-5s ",
                 (int)(tv.tv_usec / 1000), level_names[level]);
    if (r > 0) {
        n += (size_t)r;
    }
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (r < 0) {
        return;
    }
    n += (size_t)r;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;    /* truncated: still one line */
    }
    line[n++] = '\n';
    /* One write per line; a failed log write has nowhere to be reported. */
    if (write(STDERR_FILENO, line, n) < 0) {
        return;
    }
}

char *
log_escape(const char *in, size_t inlen, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (outlen == 0) {
        return out;
    }
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

        if (o + need + 4 > outlen) {    /* room for "...\0" */
            if (o + 4 <= outlen) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (need == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    out[o] = '\0';
    return out;
}

double
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
log_libevent_cb(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_ERR) {
        log_error("event=libevent msg=\"%s\"", msg);
    } else if (severity == EVENT_LOG_WARN) {
        log_warn("event=libevent msg=\"%s\"", msg);
    } else {
        log_debug("event=libevent msg=\"%s\"", msg);
    }
}
