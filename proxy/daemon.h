/*
 * daemon.h: start-up duties towards the host: preflight checks, the log
 * file, the descriptor limit, the pid file, privileges, core dumps.
 *
 * Each call takes the config it is about (for the [global] keys and the
 * FILE:LINE of errors) and keeps nothing: what must live on (the pid
 * file's descriptor and lock) is handed to the caller.
 */
#ifndef REDSLEEVE_DAEMON_H
#define REDSLEEVE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* daemon_env_yes(name): the variable is set to yes, true, on or 1. */
bool daemon_env_yes(const char *name);

/*
 * daemon_preflight(cfg, out, outlen): everything start-up would refuse
 * besides the config itself, so that --check-config (systemd's
 * ExecStartPre=) catches it: root without user; a user or group that does
 * not exist; a pid file held by a running process or that cannot be
 * written; a log file that cannot be.  0, or -1 with one
 * "FILE:LINE: key: why" per problem in out.
 */
int daemon_preflight(const struct config *cfg, char *out, size_t outlen)
    MUST_CHECK;

/* daemon_open_log(cfg): stderr goes to [global] log_file (O_NOFOLLOW,
 * appended).  0, or -1 with "FILE:LINE: log_file: why" on stderr. */
int daemon_open_log(const struct config *cfg) MUST_CHECK;

/* daemon_log_warnings(cfg): the exposure warnings, one log line each. */
void daemon_log_warnings(const struct config *cfg);

/*
 * daemon_fd_budget(cfg, cap, idle_auto): raises the soft descriptor limit
 * to the hard one, then derives the clients all services may hold at once
 * (two descriptors each: (limit - reserve - idle pool links) / 2, as
 * HAProxy derives maxconn from ulimit -n; UINT_MAX when unlimited) and
 * the idle links a pool_max_idle = auto service may keep (auto services
 * share at most a quarter of the descriptors; 0 = none of them).  Warns
 * when the limit allows fewer clients than max_clients.
 */
void daemon_fd_budget(const struct config *cfg, unsigned *cap,
                      unsigned *idle_auto);

/*
 * daemon_write_pid(cfg, fd): creates the pid file (O_EXCL, never through
 * a symbolic link) and holds an flock() on it: *fd, which the caller
 * keeps open for the life of the process (-1 when there is no pid file).
 * An existing file is removed only when stale (nobody holds its lock).
 * 0, or -1 with "FILE:LINE: pid_file: why" on stderr.
 */
int daemon_write_pid(const struct config *cfg, int *fd) MUST_CHECK;

/* daemon_remove_pid(pid_file, fd): at exit, our own pid file (we hold
 * its lock); emptied when the user we became may not remove it.  Closes
 * fd.  Nothing to do when pid_file is NULL or fd < 0. */
void daemon_remove_pid(const char *pid_file, int fd);

/* daemon_drop_privileges(cfg): after every listener is bound and every
 * secret, key and certificate read, become [global] user / group.  0, or
 * -1 (logged). */
int daemon_drop_privileges(const struct config *cfg) MUST_CHECK;

/* daemon_set_dumpable(cfg): core dumps (and ptrace by others) off unless
 * allow_core_dumps = yes: a core would hold every password.  Call again
 * after setuid(), which resets it. */
void daemon_set_dumpable(const struct config *cfg);

#endif
