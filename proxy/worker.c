/*
 * worker.c: one event loop and its services: build and bind them (a
 * prepared change), swap them in (commit) or drop them (abort), retire
 * the replaced ones until their last client leaves, tell when every
 * service has tried its first link, drain and stop, and copy its figures
 * for /metrics on its own thread.
 *
 * It knows no threads and no other worker: workers.c calls it on the
 * worker's thread; reload.c decides the plan.  The configs it is handed
 * are read, never written: a service holds a reference to the config its
 * section belongs to, so an unchanged service outlives the config it came
 * from without being moved into the next one.
 */
#include "worker.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster_nodes.h"
#include "log.h"
#include "service.h"
#include "session.h"

#define WORKER_SCRATCH_SIZE 16384   /* one TLS record */
#define WORKER_POLL_US 50000        /* readiness and drain checks */
#define WORKER_REAP_US 200000       /* retired services looked at */

/* A service and the config its section belongs to. */
struct running {
    struct service *svc;        /* owned */
    struct cluster_nodes *nodes;    /* owned: mode = cluster, svc's nodes;
                                       else NULL */
    struct config *cfg;         /* held: svc's section is in it */
};

/* A service a reload replaced or removed, kept until its last client
 * leaves. */
struct retired {
    struct running r;           /* owned */
    struct retired *next;       /* owned */
};

/* What worker_prepare built, until worker_commit or worker_abort. */
struct prepared {
    const struct worker_plan *plan; /* ref: reload.c's */
    struct service **ns;        /* owned: new j's service, or NULL while
                                   it keeps a running one */
    struct cluster_nodes **nn;  /* owned: new j's nodes (mode = cluster) */
    int *from;                  /* owned: new j: running service it
                                   keeps, or -1 */
    int *handover;              /* owned: new j: running service whose
                                   socket it takes, or -1 */
    bool *claimed;              /* owned: running i kept or its socket
                                   taken */
};

struct worker {
    struct worker_env env;
    struct event_base *base;    /* owned */
    struct evdns_base *dns;     /* owned */
    struct config *cfg;         /* held: the config in force */
    struct running *run;        /* owned: cfg->nservices entries */
    int nrun;
    struct retired *retired;    /* owned list */
    struct prepared prep;       /* a change under way (plan != NULL) */
    struct event *ev_poll;      /* owned: readiness, then the drain */
    struct event *ev_reap;      /* owned: frees drained retired ones */
    bool ready;                 /* every service tried its first link */
    bool draining;              /* stopping: no new clients */
    struct timeval drain_deadline;
    uint64_t next_id;           /* session ids: index in the top byte */
    struct client_budget budget;    /* clients the descriptors allow */
    char scratch[WORKER_SCRATCH_SIZE];  /* the loop's read buffer */
};

struct worker *
worker_new(const struct worker_env *env, char *err, size_t errlen)
{
    struct worker *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->env = *env;
    w->next_id = (uint64_t)env->index << 56;
    w->budget.cap = env->clients_cap > 0 ? env->clients_cap : 1;
    w->budget.idle_auto = env->idle_auto;
    w->base = event_base_new();
    if (w->base == NULL) {
        snprintf(err, errlen, "cannot create an event loop");
        free(w);
        return NULL;
    }
    w->dns = evdns_base_new(w->base, 0);
    if (w->dns == NULL) {
        snprintf(err, errlen, "cannot create the DNS resolver");
        worker_free(w);
        return NULL;
    }
    if (evdns_base_resolv_conf_parse(w->dns, DNS_OPTIONS_ALL,
                                     env->resolv_conf) != 0 &&
        env->index == 0) {
        log_warn("event=dns resolv_conf=%s warning=\"could not read it all; "
                 "using what was read, else 127.0.0.1\"", env->resolv_conf);
    }
    return w;
}

struct event_base *
worker_base(struct worker *w)
{
    return w->base;
}

static void
running_free(struct running *r)
{
    cluster_nodes_free(r->nodes);   /* they reference svc */
    service_free(r->svc);
    config_free(r->cfg);
}

/* A running service's clients: its own, and its nodes'. */
static unsigned
running_clients(const struct running *r)
{
    return service_clients(r->svc) + cluster_nodes_clients(r->nodes);
}

static unsigned
retired_clients(const struct worker *w)
{
    unsigned n = 0;

    for (const struct retired *r = w->retired; r != NULL; r = r->next) {
        n += running_clients(&r->r);
    }
    return n;
}

static unsigned
total_clients(const struct worker *w)
{
    unsigned n = retired_clients(w);

    for (int i = 0; i < w->nrun; i++) {
        n += running_clients(&w->run[i]);
    }
    return n;
}

/* A service of cfg's section sc in this worker, and in *nodes its nodes
 * (mode = cluster; else NULL); NULL with "FILE:LINE: key: why" in out. */
static struct service *
build(struct worker *w, const struct config *cfg,
      const struct service_config *sc, struct cluster_nodes **nodes,
      char *out, size_t outlen)
{
    struct service_env env = {
        .base = w->base,
        .dns = w->dns,
        .scratch = w->scratch,
        .scratch_len = sizeof(w->scratch),
        .next_id = &w->next_id,
        .budget = &w->budget,
        .shared = w->env.shared,
    };

    struct service *svc = service_build(cfg, sc, &env, out, outlen);

    *nodes = NULL;
    if (svc != NULL && sc->mode == MODE_CLUSTER &&
        (*nodes = cluster_nodes_new(svc, &env)) == NULL) {
        snprintf(out, outlen, "[%s]: out of memory", sc->name);
        service_free(svc);
        return NULL;
    }
    return svc;
}

/* The start-up warnings and the line tests and operators read the bound
 * address from (worker 0 speaks for all). */
static void
log_listen(const struct worker *w, const struct service_config *sc,
           const struct service *svc)
{
    if (w->env.index != 0) {
        return;
    }
    if (sc->verify == VERIFY_NONE) {
        log_warn("event=insecure service=%s warning=\"verify = none: the "
                 "upstream certificate is NOT checked; anyone on the path "
                 "can read and change this traffic\"", sc->name);
    } else if (sc->verify == VERIFY_CHAIN && sc->ca_file == NULL &&
               sc->ca_path == NULL) {
        log_warn("event=insecure service=%s warning=\"verify = chain with "
                 "the system trust store: ANY publicly trusted certificate, "
                 "for any name, is accepted; anyone who can get one can "
                 "read and change this traffic\"", sc->name);
    }
    log_info("event=listen service=%s addr=%s upstream=%s verify=%s",
             sc->name, service_listen_addr(svc), sc->upstream,
             sc->verify == VERIFY_FULL ? "full"
             : sc->verify == VERIFY_CHAIN ? "chain" : "none");
}

static void
prepared_clear(struct worker *w)
{
    struct prepared *p = &w->prep;

    for (int j = 0; p->plan != NULL && p->ns != NULL && j < p->plan->n; j++) {
        cluster_nodes_free(p->nn != NULL ? p->nn[j] : NULL);
        service_free(p->ns[j]);
    }
    free(p->ns);
    free(p->nn);
    free(p->from);
    free(p->handover);
    free(p->claimed);
    memset(p, 0, sizeof(*p));
}

/* Appends "msg\n" to err. */
static void
add_error(char *err, size_t errlen, const char *msg)
{
    size_t used = strlen(err);

    if (used + 1 < errlen) {
        snprintf(err + used, errlen - used, "%s\n", msg);
    }
}

int
worker_prepare(struct worker *w, const struct worker_plan *plan, char *err,
               size_t errlen)
{
    struct prepared *p = &w->prep;
    char line[1024];
    int n = plan->n, bad = 0;

    err[0] = '\0';
    prepared_clear(w);
    p->plan = plan;
    p->ns = calloc((size_t)n + 1, sizeof(*p->ns));
    p->nn = calloc((size_t)n + 1, sizeof(*p->nn));
    p->from = calloc((size_t)n + 1, sizeof(*p->from));
    p->handover = calloc((size_t)n + 1, sizeof(*p->handover));
    p->claimed = calloc((size_t)w->nrun + 1, sizeof(*p->claimed));
    if (p->ns == NULL || p->nn == NULL || p->from == NULL ||
        p->handover == NULL ||
        p->claimed == NULL) {
        prepared_clear(w);
        snprintf(err, errlen, "out of memory\n");
        return -1;
    }
    /* Keep what did not change; build the rest (reads every file). */
    for (int j = 0; j < n; j++) {
        const struct service_config *sc = plan->sc[j];

        p->from[j] = p->handover[j] = -1;
        for (int i = 0; plan->keep[j] && i < w->nrun; i++) {
            if (!p->claimed[i] &&
                strcmp(service_config(w->run[i].svc)->name, sc->name) == 0) {
                p->from[j] = i;
                p->claimed[i] = true;
                break;
            }
        }
        if (p->from[j] < 0 &&
            (p->ns[j] = build(w, plan->cfg, sc, &p->nn[j], line,
                              sizeof(line))) ==
                NULL) {
            add_error(err, errlen, line);
            bad++;
        }
    }
    /* Sockets: take over the same address, else bind a new one. */
    for (int j = 0; !bad && plan->listen && j < n; j++) {
        const struct service_config *sc = plan->sc[j];
        char why[512], at[300];

        if (p->from[j] >= 0) {
            continue;
        }
        for (int i = 0; i < w->nrun && p->handover[j] < 0; i++) {
            if (!p->claimed[i] && service_is_listening(w->run[i].svc) &&
                strcmp(service_config(w->run[i].svc)->listen,
                       sc->listen) == 0) {
                p->handover[j] = i;
                p->claimed[i] = true;
            }
        }
        if (p->handover[j] < 0 &&
            service_listen(p->ns[j], plan->port[j], why, sizeof(why)) < 0) {
            snprintf(line, sizeof(line), "%s: listen: %s",
                     config_where(plan->cfg, sc->key_line[SK_LISTEN], at,
                                  sizeof(at)), why);
            add_error(err, errlen, line);
            bad++;
        }
    }
    if (bad) {
        prepared_clear(w);      /* closes what was bound */
        return -1;
    }
    return 0;
}

int
worker_bound_port(const struct worker *w, int j)
{
    const struct prepared *p = &w->prep;
    const char *addr, *colon;

    if (p->plan == NULL || j >= p->plan->n || p->ns[j] == NULL ||
        p->handover[j] >= 0 || p->plan->sc[j]->listen_unix != NULL ||
        !service_is_listening(p->ns[j])) {
        return 0;
    }
    addr = service_listen_addr(p->ns[j]);
    colon = strrchr(addr, ':');
    return colon != NULL ? atoi(colon + 1) : 0;
}

void
worker_abort(struct worker *w)
{
    prepared_clear(w);
}

/* Running service r stops accepting and is kept until its clients go. */
static void
retire(struct worker *w, struct running r)
{
    struct retired *rt;

    service_retire(r.svc);
    cluster_nodes_retire(r.nodes);
    log_info("event=reload-replaced service=%s clients=%u action=\"accepts "
             "no more; its clients keep their links until they leave\"",
             service_config(r.svc)->name, running_clients(&r));
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        running_free(&r);       /* cannot track it: close it now */
        return;
    }
    rt->r = r;
    rt->next = w->retired;
    w->retired = rt;
    if (w->ev_reap != NULL) {
        struct timeval tv = {0, WORKER_REAP_US};

        event_add(w->ev_reap, &tv);
    }
}

unsigned
worker_commit(struct worker *w)
{
    struct prepared *p = &w->prep;
    const struct worker_plan *plan = p->plan;
    struct running *run = calloc((size_t)plan->n + 1, sizeof(*run));
    int kept = 0, added = 0;

    if (run == NULL) {
        /* Cannot happen after a successful prepare in practice; never
         * swap half: keep the running services. */
        log_error("event=reload worker=%d error=\"out of memory: keeping "
                  "the running services\"", w->env.index);
        prepared_clear(w);
        return retired_clients(w);
    }
    for (int j = 0; j < plan->n; j++) {
        if (p->from[j] >= 0) {
            run[j] = w->run[p->from[j]];
            w->run[p->from[j]].svc = NULL;
            kept++;
            continue;
        }
        if (p->handover[j] >= 0) {
            service_take_listener(p->ns[j], w->run[p->handover[j]].svc);
            /* A cluster's nodes take over the old one's node ports. */
            cluster_nodes_take(p->nn[j], w->run[p->handover[j]].nodes);
        } else if (plan->listen) {
            log_listen(w, plan->sc[j], p->ns[j]);
            cluster_nodes_begin(p->nn[j]);
        }
        run[j].svc = p->ns[j];
        run[j].nodes = p->nn[j];
        run[j].cfg = config_hold(plan->cfg);
        p->ns[j] = NULL;
        p->nn[j] = NULL;
        added++;
    }
    for (int i = 0; i < w->nrun; i++) {
        if (w->run[i].svc != NULL) {
            retire(w, w->run[i]);
        }
    }
    free(w->run);
    w->run = run;
    w->nrun = plan->n;
    config_free(w->cfg);
    w->cfg = config_hold(plan->cfg);
    prepared_clear(w);
    log_debug("event=reload-commit worker=%d services=%d unchanged=%d "
              "new=%d", w->env.index, w->nrun, kept, added);
    return retired_clients(w);
}

/* Frees the retired services whose last client has left. */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct retired **rp = &w->retired;

    (void)fd;
    (void)what;
    while (*rp != NULL) {
        struct retired *r = *rp;

        if (running_clients(&r->r) == 0) {
            log_info("event=reload-retired service=%s reason=\"last client "
                     "of the old config left\"",
                     service_config(r->r.svc)->name);
            *rp = r->next;
            running_free(&r->r);
            free(r);
        } else {
            rp = &r->next;
        }
    }
    if (w->retired == NULL) {
        event_del(w->ev_reap);
    }
}

void
worker_stop(struct worker *w, const char *why)
{
    log_info("event=shutdown phase=close reason=%s clients=%u worker=%d",
             why, total_clients(w), w->env.index);
    /* The nodes' services and their clients go with their cluster's. */
    for (int i = 0; i < w->nrun; i++) {
        cluster_nodes_shutdown(w->run[i].nodes);
        service_shutdown(w->run[i].svc);
    }
    for (struct retired *r = w->retired; r != NULL; r = r->next) {
        cluster_nodes_shutdown(r->r.nodes);
        service_shutdown(r->r.svc);
    }
    event_base_loopexit(w->base, NULL);
}

/*
 * The poll timer: at start-up, ready once every service has tried its
 * first link; while draining, the end once the last client left or the
 * shutdown_timeout passed.
 */
static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct timeval now;

    (void)fd;
    (void)what;
    if (w->draining) {
        event_base_gettimeofday_cached(w->base, &now);
        if (total_clients(w) == 0) {
            worker_stop(w, "drained");
            event_del(w->ev_poll);
        } else if (evutil_timercmp(&now, &w->drain_deadline, >=)) {
            worker_stop(w, "shutdown-timeout");
            event_del(w->ev_poll);
        }
        return;
    }
    for (int i = 0; i < w->nrun; i++) {
        if (!service_first_link_tried(w->run[i].svc)) {
            return;
        }
    }
    w->ready = true;
    event_del(w->ev_poll);
    if (w->env.ready_cb != NULL) {
        w->env.ready_cb(w->env.ready_arg);
    }
}

int
worker_start(struct worker *w)
{
    struct timeval tv = {0, WORKER_POLL_US};

    w->ev_poll = event_new(w->base, -1, EV_PERSIST, poll_cb, w);
    w->ev_reap = event_new(w->base, -1, EV_PERSIST, reap_cb, w);
    if (w->ev_poll == NULL || w->ev_reap == NULL) {
        return -1;
    }
    return event_add(w->ev_poll, &tv);
}

void
worker_drain(struct worker *w, const char *signame)
{
    struct timeval tv = {0, WORKER_POLL_US};
    double t = w->cfg != NULL ? w->cfg->shutdown_timeout : 0;

    if (w->draining) {
        return;
    }
    w->draining = true;
    log_info("event=shutdown phase=drain signal=%s clients=%u timeout=%gs "
             "worker=%d", signame, total_clients(w), t, w->env.index);
    for (int i = 0; i < w->nrun; i++) {
        service_stop_accepting(w->run[i].svc);
        cluster_nodes_retire(w->run[i].nodes);
    }
    event_base_gettimeofday_cached(w->base, &w->drain_deadline);
    w->drain_deadline.tv_sec += (time_t)t;
    w->drain_deadline.tv_usec += (suseconds_t)((t - (double)(time_t)t) *
                                               1e6);
    if (w->drain_deadline.tv_usec >= 1000000) {
        w->drain_deadline.tv_sec++;
        w->drain_deadline.tv_usec -= 1000000;
    }
    event_del(w->ev_poll);
    event_add(w->ev_poll, &tv);
    poll_cb(-1, 0, w);
}

/*
 * worker_run: the loop.  With busy_poll, after any client or link
 * activity the loop polls without sleeping (epoll_wait with a zero
 * timeout) for that long, so the next byte is handled without the
 * wake-up a sleeping thread needs (HAProxy's busy-polling, but only after
 * activity: an idle proxy still sleeps).  It buys latency with CPU: see
 * README "busy_poll".
 */
int
worker_run(struct worker *w)
{
    const double spin = w->env.busy_poll;
    double last;

    if (spin <= 0) {
        return event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0 ? -1
                                                                     : 0;
    }
    if (w->env.index == 0) {
        log_info("event=busy-poll window_us=%.0f note=\"polls without "
                 "sleeping for this long after activity\"", spin * 1e6);
    }
    last = mono_now();
    for (;;) {
        unsigned long before = session_io_count;
        bool polling = mono_now() - last < spin;
        int r = event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY |
                                (polling ? EVLOOP_NONBLOCK : EVLOOP_ONCE));

        if (r < 0) {
            return -1;
        }
        if (event_base_got_exit(w->base) || event_base_got_break(w->base)) {
            return 0;
        }
        if (session_io_count != before) {
            last = mono_now();
        }
    }
}

int
worker_snapshot(struct worker *w, struct stats_worker *out)
{
    int nfigs = w->nrun;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < w->nrun; i++) {
        nfigs += cluster_nodes_count(w->run[i].nodes);
    }
    /* Every running service, then the nodes of its cluster (each node's
     * pool, latencies and traffic under the node's own name). */
    out->figs = calloc((size_t)nfigs + 1, sizeof(*out->figs));
    if (out->figs == NULL) {
        return -1;
    }
    for (int i = 0; i < w->nrun; i++) {
        struct svc_figures *f = &out->figs[out->nfigs++];

        if (service_figures(w->run[i].svc, f) < 0) {
            return -1;      /* the caller clears out */
        }
        if (w->run[i].nodes != NULL) {
            cluster_nodes_figures(w->run[i].nodes, f);
        }
    }
    for (int i = 0; i < w->nrun; i++) {
        for (int k = 0; k < cluster_nodes_count(w->run[i].nodes); k++) {
            if (cluster_nodes_node_figures(w->run[i].nodes, k,
                                           &out->figs[out->nfigs++]) < 0) {
                return -1;
            }
        }
    }
    out->clients = total_clients(w);
    out->retired_clients = retired_clients(w);
    out->accepted = w->budget.accepted;
    out->ready = w->ready;
    out->valid = true;
    return 0;
}

void
worker_free(struct worker *w)
{
    if (w == NULL) {
        return;
    }
    prepared_clear(w);
    if (w->ev_poll != NULL) {
        event_free(w->ev_poll);
    }
    if (w->ev_reap != NULL) {
        event_free(w->ev_reap);
    }
    while (w->retired != NULL) {
        struct retired *r = w->retired;

        w->retired = r->next;
        running_free(&r->r);
        free(r);
    }
    for (int i = 0; i < w->nrun; i++) {
        running_free(&w->run[i]);
    }
    free(w->run);
    config_free(w->cfg);
    if (w->dns != NULL) {
        evdns_base_free(w->dns, 0);
    }
    if (w->base != NULL) {
        event_base_free(w->base);
    }
    free(w);
}
