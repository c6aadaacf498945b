/*
 * workers.h: N event loops on N threads, and the mailbox to them.
 *
 * The main thread runs the control loop (signals, the admin endpoint,
 * systemd, reloads); each worker (worker.h) runs on a thread of its own,
 * with workers = 1 simply N = 1, so there is one control plane.  The main
 * thread reaches a worker only through the mailbox: workers_call() runs
 * a function on the worker's thread and waits for it while every other
 * worker goes on; drain and stop are posted.  Nothing stops a loop to be
 * read: figures are copied by each worker on its own thread
 * (workers_snapshot).
 */
#ifndef REDSLEEVE_WORKERS_H
#define REDSLEEVE_WORKERS_H

#include <stdbool.h>
#include <stddef.h>

#include "stats.h"
#include "worker.h"

struct event_base;
struct workers;

/* Told on the control loop's thread. */
struct workers_hooks {
    void (*all_ready)(void *arg);   /* once: every worker is ready */
    void (*all_ended)(void *arg);   /* once: every worker's loop ended */
    void *arg;                      /* ref: theirs */
};

/*
 * workers_new(base, n, env, hooks, err, errlen): n workers, each made
 * with env (index set per worker; clients_cap and idle_auto are the
 * process's totals, divided here), not running yet.  base is the control
 * loop, where the hooks are called.  NULL with the reason in err.
 */
struct workers *workers_new(struct event_base *base, int n,
                            const struct worker_env *env,
                            const struct workers_hooks *hooks, char *err,
                            size_t errlen);

/* workers_free(ws): every worker (their threads must have ended or never
 * started); NULL is a no-op. */
void workers_free(struct workers *ws);

/* workers_count(ws): N. */
int workers_count(const struct workers *ws);

/*
 * workers_call(ws, k, fn, arg): fn(worker k, arg) on worker k's thread,
 * waiting for its result (called directly before the threads start).
 * The other workers go on meanwhile.  -1 when worker k's loop has ended.
 */
typedef int (*workers_fn)(struct worker *w, void *arg);
int workers_call(struct workers *ws, int k, workers_fn fn, void *arg);

/* workers_start(ws): starts every worker's timers and thread (signals
 * blocked in them: they are the main thread's).  0, or -1 with any
 * started thread told to stop. */
int workers_start(struct workers *ws) MUST_CHECK;

/* workers_drain(ws, signame): every worker stops accepting and ends once
 * its clients have left (or shutdown_timeout). */
void workers_drain(struct workers *ws, const char *signame);

/* workers_stop(ws): every worker closes its sessions and ends now. */
void workers_stop(struct workers *ws);

/* workers_join(ws): waits for every started thread. */
void workers_join(struct workers *ws);

/*
 * workers_snapshot(ws): N entries, entry k worker k's figures
 * (worker_snapshot), each taken on its own thread while the others go on;
 * NULL on ENOMEM.  A worker whose loop has ended leaves its entry empty.
 * Released with workers_snapshot_free().
 */
struct stats_worker *workers_snapshot(struct workers *ws);
void workers_snapshot_free(struct workers *ws, struct stats_worker *s);

#endif
