/*
 * stats.h: what /metrics, /readyz and the systemd status line say, made
 * from figures each worker copies out of its own loop.
 *
 * No loop is stopped to read them: the control loop asks each worker (in
 * its own loop, through the workers.c mailbox) for a struct stats_worker,
 * a copy of its counters at that instant, and renders from the copies.
 * Nothing here touches a live service, so everything is pure and unit
 * tested (tests/unit/check_stats.c).
 */
#ifndef REDSLEEVE_STATS_H
#define REDSLEEVE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "track.h"
#include "upstream.h"

struct evbuffer;

/* One service of one worker, copied. */
struct svc_figures {
    char *name;                 /* owned: the service name */
    char *upstream;             /* owned: its upstream, for /readyz */
    struct pool_stats ps;       /* the pool's counters (reasons static) */
    uint64_t clients;           /* sessions now */
    uint64_t total;             /* sessions since start */
    uint64_t rx, tx;            /* bytes from clients, from the upstream */
    unsigned long full, resumed;    /* TLS handshakes */
    struct link_stats ls;       /* latencies, TLS failures */
    uint64_t iam_tokens;        /* IAM tokens signed */
    char *iam_source;           /* owned: where IAM credentials came
                                   from; NULL without IAM */
    bool iam_dynamic;           /* ... fetched at run time: */
    long long iam_expiration;   /* when they expire (0 = none yet) */
    uint64_t iam_fetch_failures;    /* process-wide, not summed */
    bool cluster;               /* mode = cluster: */
    unsigned cluster_nodes;     /* nodes with a local port */
    uint64_t cluster_rewrites;  /* replies rewritten ... */
    uint64_t cluster_redirects; /* ... of them -MOVED / -ASK */
    uint64_t cluster_exhausted; /* nodes that found no port */
    unsigned cluster_ports;     /* nodes listening (most of any worker) */
    uint64_t cluster_refreshes; /* our own topology queries answered */
    uint64_t cluster_refresh_failures;  /* ... and failed */
    bool shared;                /* pool_mode = shared: */
    unsigned shared_links;      /* shared links now */
    uint64_t shared_batches;    /* writes of queued requests ... */
    uint64_t shared_requests;   /* ... and the requests in them */
    uint64_t shared_failures;   /* shared links that failed */
    uint64_t shared_evictions;  /* clients closed as too slow a reader */
    unsigned pinned;            /* clients with a link of their own now */
    uint64_t pins[TRACK_PIN_KINDS];     /* clients pinned, by why */
    uint64_t unpins;            /* pinned clients back on shared links */
    bool node;                  /* a cluster node's service (named
                                   "cluster@host:port"): not in /readyz */
};

/* One worker, copied. */
struct stats_worker {
    struct svc_figures *figs;   /* owned: its running services */
    int nfigs;
    unsigned clients;           /* sessions now, retired services too */
    unsigned retired_clients;   /* ... of them on retired services */
    uint64_t accepted;          /* clients since start */
    bool ready;                 /* its first links were tried */
    bool valid;                 /* the worker answered */
};

/* The reload record (reload.c keeps it; one per process). */
struct stats_reloads {
    uint64_t ok, failed;        /* reloads by result */
    bool last_ok;               /* the last reload (or the start) applied */
    double last_time;           /* when the running config was applied */
};

/* stats_worker_clear(w): frees what w owns and zeroes it. */
void stats_worker_clear(struct stats_worker *w);

/* stats_figures_add(to, from): from's counters added into to (same
 * service, another worker): sums, and upstream_up only if both are. */
void stats_figures_add(struct svc_figures *to, const struct svc_figures *from);

/*
 * stats_render(out, w, n, rec): the whole /metrics text: build info,
 * every service summed over the n workers (the same series for any
 * number of workers), the retired clients, the reload record, and the
 * per-worker client counts.
 */
void stats_render(struct evbuffer *out, const struct stats_worker *w, int n,
                  const struct stats_reloads *rec);

/* stats_status(out, outlen, state, w, n): the sd_notify STATUS= text,
 * "<state> clients=N links_idle=N workers=N". */
void stats_status(char *out, size_t outlen, const char *state,
                  const struct stats_worker *w, int n);

/* stats_ready(w, n, why, whylen): every worker started and every upstream
 * reachable; false with the first reason in why. */
bool stats_ready(const struct stats_worker *w, int n, char *why,
                 size_t whylen);

#endif
