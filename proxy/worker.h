/*
 * worker.h: one event loop and the services it runs.
 *
 * A worker owns its loop, its resolver, its instance of every service
 * (listener, pool, sessions), the services a reload retired and its
 * share of the descriptor budget.  It knows no threads: workers.c runs
 * each worker on a thread of its own and calls these functions there
 * (or, before the threads start, on the main thread).  A worker holds
 * references to the configs its services were built from and never
 * writes them.
 */
#ifndef REDSLEEVE_WORKER_H
#define REDSLEEVE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "stats.h"

struct event_base;
struct shared;
struct worker;

/* What the control plane gives a worker when it makes it. */
struct worker_env {
    int index;                  /* 0 .. workers - 1 */
    unsigned clients_cap;       /* its share of the clients the
                                   descriptors allow */
    unsigned idle_auto;         /* its share of the idle links
                                   pool_max_idle = auto pools keep */
    double busy_poll;           /* [global] busy_poll (restart-only) */
    const char *resolv_conf;    /* ref: [global] resolv_conf */
    struct shared *shared;      /* ref: what every worker shares */
    void (*ready_cb)(void *arg);    /* once, on the worker's thread: every
                                   service has tried its first link */
    void *ready_arg;            /* ref: theirs */
};

/*
 * A change of config, decided by reload.c and the same for every worker:
 * new section j either keeps the running service of its name (settings
 * and files unchanged) or gets a new one.  Immutable while workers
 * prepare and commit it.
 */
struct worker_plan {
    struct config *cfg;         /* ref: the new config (reload.c holds
                                   it; a worker holds its own reference
                                   once it commits) */
    int n;                      /* sections: cfg->nservices */
    const struct service_config **sc;   /* owned: section j */
    bool *keep;                 /* owned: j keeps the running service */
    int *port;                  /* owned: j's port when its listen says
                                   port 0 and worker 0 was given one;
                                   else 0 */
    bool listen;                /* bind new addresses (not for
                                   --check-config) */
};

/* worker_new(env, err, errlen): a worker with its loop and resolver and
 * no services yet.  NULL with the reason in err. */
struct worker *worker_new(const struct worker_env *env, char *err,
                          size_t errlen);

/* worker_free(w): closes every service and frees w; NULL is a no-op. */
void worker_free(struct worker *w);

/* worker_base(w): its event loop. */
struct event_base *worker_base(struct worker *w);

/*
 * worker_prepare(w, plan, err, errlen): builds this worker's instance of
 * every new or changed service (certificates, keys, CA files) and binds
 * every new listen address (a changed service whose address a running
 * one holds takes that socket over at commit instead), while the running
 * services go on.  Holds what it built until worker_commit or
 * worker_abort.  0, or -1 with one "FILE:LINE: key: why" per problem in
 * err and nothing held.
 */
int worker_prepare(struct worker *w, const struct worker_plan *plan,
                   char *err, size_t errlen) MUST_CHECK;

/* worker_bound_port(w, j): after worker_prepare, the TCP port new
 * section j listens on (0 when it took a socket over, or is unix). */
int worker_bound_port(const struct worker *w, int j);

/*
 * worker_commit(w): the prepared change, which cannot fail: unchanged
 * services keep running, changed ones replace theirs (the socket moves
 * over), removed ones stop accepting; replaced and removed services keep
 * their clients until they leave (retired).  Returns the clients still
 * on retired services.
 */
unsigned worker_commit(struct worker *w);

/* worker_abort(w): drops what worker_prepare built; nothing changes. */
void worker_abort(struct worker *w);

/* worker_start(w): its timers (readiness, the reaper of retired
 * services); after the first commit, before worker_run. */
int worker_start(struct worker *w) MUST_CHECK;

/* worker_run(w): runs the loop until the worker has stopped (with
 * busy_poll, polling without sleeping after activity).  0, or -1. */
int worker_run(struct worker *w);

/* worker_drain(w, signame): stop accepting; the loop ends once the last
 * client has left or shutdown_timeout has passed. */
void worker_drain(struct worker *w, const char *signame);

/* worker_stop(w, why): closes every session now and ends the loop. */
void worker_stop(struct worker *w, const char *why);

/*
 * worker_snapshot(w, out): a copy of its figures (every running service,
 * clients on retired ones, readiness), taken on its own thread; out is
 * the caller's to release with stats_worker_clear().  -1 on ENOMEM.
 */
int worker_snapshot(struct worker *w, struct stats_worker *out) MUST_CHECK;

#endif
