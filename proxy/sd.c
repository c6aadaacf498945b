/*
 * sd.c: READY=1, STOPPING=1, STATUS= and the watchdog, from the event
 * loop itself, so a loop that stops turning stops the watchdog pings and
 * systemd restarts the service.
 */
#include "sd.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

#ifndef REDSLEEVE_NO_SYSTEMD
#include <systemd/sd-daemon.h>
#else
/* The static build (the container image, where no systemd supervises the
 * process) has no libsystemd: notifications are not sent; sd_new says so
 * if NOTIFY_SOCKET is set all the same. */
static int
sd_notify(int unset, const char *msg)
{
    (void)unset;
    (void)msg;
    return 0;
}

static int PRINTF_LIKE(2, 3)
sd_notifyf(int unset, const char *fmt, ...)
{
    (void)unset;
    (void)fmt;
    return 0;
}

static int
sd_watchdog_enabled(int unset, uint64_t *usec)
{
    (void)unset;
    (void)usec;
    return 0;
}
#endif
#include <time.h>


#define STATUS_PERIOD_US 5000000ULL     /* STATUS= every 5 s at most */

struct sd {
    struct event ev_tick;           /* owned: watchdog + status timer */
    sd_status_cb status_cb;         /* builds the STATUS= text */
    void *arg;                      /* ref: for status_cb */
    unsigned long long watchdog_us; /* WatchdogSec, 0 = off */
};

static void
send_state(struct sd *sd, const char *state)
{
    char status[256] = "";

    if (sd == NULL) {
        return;         /* a worker thread: the main thread notifies */
    }
    sd->status_cb(status, sizeof(status), sd->arg);
    sd_notifyf(0, "%s%sSTATUS=%s", state, state[0] ? "\n" : "", status);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sd *sd = arg;

    (void)fd;
    (void)what;
    if (sd->watchdog_us > 0) {
        sd_notify(0, "WATCHDOG=1");
    }
    send_state(sd, "");
}

struct sd *
sd_new(struct event_base *base, sd_status_cb cb, void *arg)
{
    struct sd *sd = calloc(1, sizeof(*sd));
    unsigned long long period = STATUS_PERIOD_US;
    uint64_t usec = 0;
    struct timeval tv;

    if (sd == NULL) {
        return NULL;
    }
    sd->status_cb = cb;
    sd->arg = arg;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        sd->watchdog_us = usec;
        if (usec / 2 < period) {
            period = usec / 2;
        }
        log_info("event=watchdog interval=%.3fs ping_every=%.3fs",
                 (double)usec / 1e6, (double)period / 1e6);
    }
    tv.tv_sec = (time_t)(period / 1000000ULL);
    tv.tv_usec = (suseconds_t)(period % 1000000ULL);
    event_assign(&sd->ev_tick, base, -1, EV_PERSIST, tick_cb, sd);
    if (getenv("NOTIFY_SOCKET") != NULL) {
#ifdef REDSLEEVE_NO_SYSTEMD
        log_warn("event=systemd warning=\"built without libsystemd "
                 "(static build): NOTIFY_SOCKET is ignored\"");
#endif
        evtimer_add(&sd->ev_tick, &tv);
    }
    return sd;
}

void
sd_free(struct sd *sd)
{
    if (sd == NULL) {
        return;
    }
    evtimer_del(&sd->ev_tick);
    free(sd);
}

void
sd_ready(struct sd *sd)
{
    send_state(sd, "READY=1");
}

void
sd_stopping(struct sd *sd)
{
    send_state(sd, "STOPPING=1");
}

void
sd_reloading(struct sd *sd)
{
    char state[64];
    struct timespec ts;

    /* MONOTONIC_USEC lets systemd (253+) match READY=1 to this reload. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
    send_state(sd, state);
}
