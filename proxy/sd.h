/*
 * sd.h: systemd service notifications (sd_notify from libsystemd).
 *
 * sd.c owns the watchdog/status timer.  Every call is a no-op when the
 * process was not started by systemd (no NOTIFY_SOCKET), so the daemon
 * runs the same under any supervisor.
 */
#ifndef REDSLEEVE_SD_H
#define REDSLEEVE_SD_H

struct event_base;
struct sd;

/* Asked every status period: one short "key=value ..." line. */
typedef void (*sd_status_cb)(char *out, unsigned long outlen, void *arg);

/*
 * sd_new(base, status_cb, arg): starts the timer that sends WATCHDOG=1 at
 * half the WatchdogSec interval (when systemd asked for it) and STATUS=
 * lines.  Returns NULL on ENOMEM.
 */
struct sd *sd_new(struct event_base *base, sd_status_cb cb, void *arg);

/* sd_free(sd): stops the timer; NULL is a no-op. */
void sd_free(struct sd *sd);

/* sd_ready(sd): READY=1 with a status line. */
void sd_ready(struct sd *sd);

/* sd_reloading(sd): RELOADING=1 and MONOTONIC_USEC; sd_ready ends it. */
void sd_reloading(struct sd *sd);

/* sd_stopping(sd): STOPPING=1 with a status line. */
void sd_stopping(struct sd *sd);

#endif
