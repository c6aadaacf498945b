/*
 * service.c: a [section] brought to life: TLS context, AUTH, listener,
 * and the count of clients against max_clients.
 */
#include "service.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "cluster.h"
#include "cluster_discover.h"
#include "listener.h"
#include "pool.h"
#include "session.h"
#include "shared.h"
#include "stats.h"
#include "tls.h"
#include "upstream.h"

struct service {
    const struct service_config *sc;    /* ref: owner is the config */
    SSL_CTX *ctx;                       /* owned: client TLS context */
    struct auth_cmd auth;               /* owned, secret: AUTH to send */
    uint64_t iam_tokens;                /* IAM tokens signed (this loop) */
    struct link_params lp;              /* lent to every link */
    struct session_host host;           /* lent to every session */
    struct listener *listener;          /* owned: NULL until listening */
    struct pool *pool;                  /* owned: warm links */
    struct link_stats lstats;           /* latencies, TLS failures */
    unsigned char digest[CONFIG_DIGEST_LEN];    /* of sc and its files */
    struct client_budget *budget;       /* ref: descriptors, shared */
    struct service *bprev, *bnext;      /* ref: budget->services list */
    struct shared_member member;        /* seats, notices (shared.c) */
    struct event ev_seat;               /* a seat may have come free, or
                                           a notice came */
    struct link *probe;                 /* owned: service_probe's link */
    service_probe_cb probe_cb;          /* who hears how it went */
    void *probe_arg;                    /* ref: theirs */
    struct nodes *nodes;                /* owned: mode = cluster, this
                                           worker's services for its
                                           nodes; else NULL */
    int parked_fd;                      /* owned: accepted, no seat yet */
    struct sockaddr_storage parked_addr;
    int parked_addrlen;
};

/* ------------------------------------------------------------ cluster */

/*
 * mode = cluster: this worker's services for the nodes of a cluster
 * service, one per node a reply has named, each a copy of the cluster's
 * settings with the node as upstream, bound on the port the process's
 * book (cluster.h, shared.h) gives the node, with SO_REUSEPORT beside the
 * other workers' services for it.
 */
#define NODE_BIND_TRIES 8       /* ports tried when one is taken */

#define NODES_TICK_S 1          /* the refresh clock; also the least time
                                   between two topology queries */

struct node_svc {
    int local;                  /* the node's port */
    bool gone;                  /* left the topology: accepts no more,
                                   freed when its last client leaves */
    struct service_config *sc;  /* owned: its settings */
    struct service *svc;        /* owned: listening on local */
};

struct nodes {
    struct service_env env;     /* copy: the loop's */
    struct node_svc *v;         /* owned: n of cap */
    int n, cap;
    bool retired;               /* the cluster stopped accepting */
    unsigned known;             /* nodes in the book, last seen */
    uint64_t exhausted;         /* nodes that found no port (here) */
    struct cluster_discover *disc;  /* owned: our own topology queries */
    struct event ev_tick;       /* the refresh clock, once listening */
    bool ticking;
    double last_ask;            /* mono_now() when the last query began */
    uint64_t seen_moved;        /* -MOVED replies, at the last query */
    uint64_t seen_failures;     /* the nodes' link failures, then */
    uint64_t refreshes;         /* queries answered ... */
    uint64_t refresh_failures;  /* ... and failed */
    bool failing;               /* the last query failed (logged once) */
};

static void
nodes_free(struct nodes *ns)
{
    if (ns == NULL) {
        return;
    }
    if (ns->ticking) {
        evtimer_del(&ns->ev_tick);
    }
    cluster_discover_free(ns->disc);
    for (int i = 0; i < ns->n; i++) {
        service_free(ns->v[i].svc);
        config_service_free(ns->v[i].sc);
    }
    free(ns->v);
    free(ns);
}

static void
nodes_retire(struct nodes *ns)
{
    if (ns == NULL) {
        return;
    }
    ns->retired = true;
    if (ns->ticking) {
        evtimer_del(&ns->ev_tick);
        ns->ticking = false;
    }
    cluster_discover_free(ns->disc);    /* a query under way: cancelled */
    ns->disc = NULL;
    for (int i = 0; i < ns->n; i++) {
        service_retire(ns->v[i].svc);
    }
}

static unsigned
nodes_clients(const struct nodes *ns)
{
    unsigned n = 0;

    for (int i = 0; ns != NULL && i < ns->n; i++) {
        n += service_clients(ns->v[i].svc);
    }
    return n;
}

/* The node's settings: the cluster's, with the node as upstream and its
 * own name as the certificate's (unless verify_host / sni are set). */
static struct service_config *
node_config(const struct service_config *sc, const struct cluster_node *nd)
{
    struct service_config *c = config_service_clone(sc);
    char buf[CLUSTER_HOST_MAX + 64];
    bool ip = config_is_ip_literal(nd->host);

    if (c == NULL) {
        return NULL;
    }
    c->mode = MODE_SINGLE;
    c->listen_port = nd->local;
    free(c->name);
    free(c->upstream);
    free(c->upstream_host);
    snprintf(buf, sizeof(buf), "%s@%s:%d", sc->name, nd->host, nd->port);
    c->name = strdup(buf);
    snprintf(buf, sizeof(buf), ip && strchr(nd->host, ':') ? "[%s]:%d"
                                                           : "%s:%d",
             nd->host, nd->port);
    c->upstream = strdup(buf);
    c->upstream_host = strdup(nd->host);
    c->upstream_port = nd->port;
    c->upstream_is_ip = ip;
    if (sc->key_line[SK_VERIFY_HOST] == 0) {
        free(c->verify_host);
        c->verify_host = strdup(nd->host);
        c->verify_host_is_ip = ip;
    }
    if (sc->key_line[SK_SNI] == 0) {
        free(c->sni);
        c->sni = ip ? NULL : strdup(nd->host);
    }
    if (c->name == NULL || c->upstream == NULL || c->upstream_host == NULL ||
        c->verify_host == NULL ||
        (!ip && sc->key_line[SK_SNI] == 0 && c->sni == NULL)) {
        config_service_free(c);
        return NULL;
    }
    return c;
}

static int node_port_cb(void *arg, const struct cluster_node_ref *ref,
                        const char *self);

/*
 * A node a redirect names may be entered (and get a link that carries our
 * AUTH) only on this evidence: a script can answer with any error line,
 * "MOVED 1 evil.example:443" too.  The topology replies (CLUSTER SLOTS
 * and the like, answered by the server itself) name nodes freely; a
 * redirect to one they did not name must be to the host we were given,
 * or to a name under the same parent domain (ElastiCache: the
 * configuration endpoint clustercfg.NAME.ID.REGION.cache.amazonaws.com
 * and its nodes NAME-0001-001.NAME.ID.REGION.cache.amazonaws.com).
 */
static bool
redirect_plausible(const char *upstream, const char *host, size_t hostlen)
{
    const char *parent = strchr(upstream, '.');
    size_t plen;

    if (strlen(upstream) == hostlen &&
        strncasecmp(upstream, host, hostlen) == 0) {
        return true;
    }
    if (parent == NULL || config_is_ip_literal(upstream) ||
        strchr(parent + 1, '.') == NULL) {
        return false;   /* an address, or too short a parent to trust */
    }
    plen = strlen(parent);      /* ".NAME.ID..." */
    return hostlen > plen && strncasecmp(host + hostlen - plen, parent,
                                         plen) == 0 &&
           memchr(host, '.', hostlen - plen) == NULL;
}

/* This worker's live service for the node on port local, or NULL. */
static struct node_svc *
node_find(struct nodes *ns, int local)
{
    for (int i = 0; i < ns->n; i++) {
        if (ns->v[i].local == local && !ns->v[i].gone) {
            return &ns->v[i];
        }
    }
    return NULL;
}

/* node_build(cl, nd, m): m's settings and service for node nd, not yet
 * listening (files read, TLS context made: never under the book's lock).
 * 0, or -1 (logged). */
static int
node_build(struct service *cl, const struct cluster_node *nd,
           struct node_svc *m)
{
    char err[512];
    enum service_key bad;

    m->local = nd->local;
    m->gone = false;
    m->svc = NULL;
    if ((m->sc = node_config(cl->sc, nd)) == NULL ||
        (m->svc = service_new(m->sc, &cl->nodes->env, err, sizeof(err),
                              &bad)) == NULL) {
        log_error("event=cluster-node service=%s node=%s:%d result=failed "
                  "error=\"%s\"", cl->sc->name, nd->host, nd->port,
                  m->sc == NULL ? "out of memory" : err);
        config_service_free(m->sc);
        return -1;
    }
    /* Its sessions rewrite too, through the cluster's book. */
    m->svc->host.node_port = node_port_cb;
    m->svc->host.node_arg = cl;
    return 0;
}

/* node_add(ns, m): m joins this worker's nodes; 0, or -1 (ENOMEM: m is
 * freed). */
static int
node_add(struct nodes *ns, struct node_svc *m)
{
    if (ns->n == ns->cap) {
        int cap = ns->cap ? 2 * ns->cap : 8;
        struct node_svc *nv = realloc(ns->v, (size_t)cap * sizeof(*nv));

        if (nv == NULL) {
            service_free(m->svc);
            config_service_free(m->sc);
            return -1;
        }
        ns->v = nv;
        ns->cap = cap;
    }
    ns->v[ns->n++] = *m;
    return 0;
}

/* node_bind(cl, m, nd): m listens on nd->local (the book's lock held).
 * 0; 1 when the port is held by another program (the book moves the
 * node); -1 when it could not listen (logged). */
static int
node_bind(struct service *cl, struct node_svc *m,
          const struct cluster_node *nd)
{
    char err[512];
    int rc;

    m->local = m->sc->listen_port = nd->local;
    /* The first to bind checks nobody else holds the port: SO_REUSEPORT
     * would share it silently with another program that set it too. */
    if ((!nd->bound && listener_probe(m->sc, err, sizeof(err)) < 0) ||
        service_listen(m->svc, nd->local, err, sizeof(err)) < 0) {
        rc = strstr(err, "in use") != NULL ? 1 : -1;
        log_warn("event=cluster-node service=%s node=%s:%d port=%d "
                 "error=\"%s\"%s", cl->sc->name, nd->host, nd->port,
                 nd->local, err,
                 rc == 1 ? " action=\"trying the next port\"" : "");
        return rc;
    }
    log_info("event=cluster-node service=%s node=%s:%d id=%s listen=%s",
             cl->sc->name, nd->host, nd->port, nd->id[0] ? nd->id : "-",
             service_listen_addr(m->svc));
    return 0;
}

/*
 * A reload replaced cluster service `from` by `to`, for the same cluster
 * (upstream) and ports: to's nodes take over from's listening sockets,
 * with to's settings, so that no node port closes even for a moment.  A
 * node whose new service cannot be made is left to from (it closes with
 * it) and is bound again by to's first discovery.
 */
static void
nodes_take(struct service *to, struct service *from)
{
    struct nodes *fs = from->nodes;

    if (to->nodes == NULL || fs == NULL ||
        strcmp(to->sc->upstream, from->sc->upstream) != 0 ||
        to->sc->cluster_port_lo != from->sc->cluster_port_lo ||
        to->sc->cluster_port_hi != from->sc->cluster_port_hi) {
        return;
    }
    for (int i = 0; i < fs->n; i++) {
        const struct node_svc *m = &fs->v[i];
        struct cluster_node nd = {.port = m->sc->upstream_port,
                                  .local = m->local, .bound = true};

        if (m->gone || !service_is_listening(m->svc)) {
            continue;
        }
        struct node_svc fresh;

        snprintf(nd.host, sizeof(nd.host), "%s", m->sc->upstream_host);
        if (node_find(to->nodes, nd.local) != NULL ||
            node_build(to, &nd, &fresh) < 0) {
            continue;
        }
        /* The replaced cluster's socket for this node, as it is (never
         * closed: no client is refused meanwhile). */
        service_take_listener(fresh.svc, m->svc);
        log_info("event=cluster-node service=%s node=%s:%d listen=%s "
                 "note=\"taken over at a reload\"", to->sc->name, nd.host,
                 nd.port, service_listen_addr(fresh.svc));
        (void)node_add(to->nodes, &fresh);
    }
}

/*
 * node_enter(cl, ref, host, hostlen, may_add): the local port of the node
 * ref names (host: its host, "" and "?" already replaced), entered in the
 * book (when may_add) and listening in this worker; -1 when it has none.
 * The node's service is made outside the book's lock; only the bind is
 * under it, so that another worker binding the same port waits (and then
 * finds it bound, instead of probing it as taken).
 */
static int
node_enter(struct service *cl, const struct cluster_node_ref *ref,
           const char *host, size_t hostlen, bool may_add)
{
    struct nodes *ns = cl->nodes;
    bool exhausted = false, bound = false;
    struct cluster_book *b;
    struct cluster_node nd;
    struct node_svc m;
    int r = -1;

    b = shared_book_lock(ns->env.shared, cl->sc->name,
                         cl->sc->cluster_port_lo, cl->sc->cluster_port_hi);
    if (b != NULL) {
        r = cluster_book_node(b, ref, host, hostlen, may_add, &nd,
                              &exhausted);
        ns->known = cluster_book_size(b);
    }
    shared_book_unlock(ns->env.shared);
    if (r == 0 && node_find(ns, nd.local) != NULL) {
        return nd.local;
    }
    if (r == 0 && node_build(cl, &nd, &m) == 0) {
        b = shared_book_lock(ns->env.shared, cl->sc->name,
                             cl->sc->cluster_port_lo,
                             cl->sc->cluster_port_hi);
        /* Read again: another worker may have bound it, or moved it. */
        for (int tries = 0; b != NULL && tries < NODE_BIND_TRIES &&
                            cluster_book_node(b, ref, host, hostlen, true,
                                              &nd, &exhausted) == 0;
             tries++) {
            int rb = node_bind(cl, &m, &nd);

            if (rb == 0) {
                cluster_book_bound(b, &nd);
                bound = true;
            }
            if (rb <= 0 || cluster_book_move(b, &nd, &exhausted) < 0) {
                break;
            }
        }
        if (b != NULL) {
            ns->known = cluster_book_size(b);
        }
        shared_book_unlock(ns->env.shared);
        if (!bound) {
            service_free(m.svc);
            config_service_free(m.sc);
        } else if (node_add(ns, &m) < 0) {
            bound = false;
        }
    }
    if (exhausted) {
        ns->exhausted++;
        log_error("event=cluster-node service=%s node=%.*s:%ld "
                  "result=failed error=\"cluster_ports %s are all given: "
                  "no port for this node\"", cl->sc->name, (int)hostlen,
                  host, ref->port, cl->sc->cluster_ports);
    }
    return bound ? nd.local : -1;
}

/*
 * A replaced cluster service's clients (a reload) are still told the
 * ports of the nodes the book knows and some worker listens on (the new
 * service's); nothing is entered or bound for them.  -1 otherwise.
 */
static int
node_known(struct service *cl, const struct cluster_node_ref *ref,
           const char *host, size_t hostlen)
{
    struct nodes *ns = cl->nodes;
    bool exhausted = false;
    struct cluster_book *b;
    struct cluster_node nd;
    int rc = -1;

    b = shared_book_lock(ns->env.shared, cl->sc->name,
                         cl->sc->cluster_port_lo, cl->sc->cluster_port_hi);
    if (b != NULL && cluster_book_node(b, ref, host, hostlen, false, &nd,
                                       &exhausted) == 0 && nd.bound) {
        rc = nd.local;
    }
    shared_book_unlock(ns->env.shared);
    return rc;
}

/*
 * The session's map (session_host.node_port): the local port of the node
 * ref names, entered in the book and listening in this worker before the
 * reply naming it goes on.  self: the host of the node that replied.
 */
static int
node_port_cb(void *arg, const struct cluster_node_ref *ref, const char *self)
{
    struct service *cl = arg;
    const char *host = ref->host;
    size_t hostlen = ref->hostlen;
    bool from_self = false;

    if (cl->nodes == NULL) {
        return -1;
    }
    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        host = self;        /* "the host you asked" */
        hostlen = strlen(self);
        from_self = true;
    }
    if (cl->nodes->retired) {
        return node_known(cl, ref, host, hostlen);
    }
    return node_enter(cl, ref, host, hostlen,
                      !ref->redirect || from_self ||
                          redirect_plausible(cl->sc->upstream_host, host,
                                             hostlen));
}

/* ------------------------------------------------- our own discovery */

/* The ports one topology reply gave (a node listed twice counts once). */
struct seen_ports {
    struct service *cl;
    int *port;                  /* owned: n of cap */
    int n, cap;
    bool nomem;
};

/* cluster_map_fn over our own query's reply: every node it names is the
 * server's own word (no client wrote it), so each is entered. */
static int
discover_map(void *arg, const struct cluster_node_ref *ref)
{
    struct seen_ports *sp = arg;
    const char *host = ref->host;
    size_t hostlen = ref->hostlen;
    int port;

    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        host = sp->cl->sc->upstream_host;   /* the endpoint we asked */
        hostlen = strlen(host);
    }
    if ((port = node_enter(sp->cl, ref, host, hostlen, true)) < 0) {
        return -1;
    }
    if (sp->n == sp->cap) {
        int cap = sp->cap ? 2 * sp->cap : 16;
        int *nv = realloc(sp->port, (size_t)cap * sizeof(*nv));

        if (nv == NULL) {
            sp->nomem = true;
            return port;
        }
        sp->port = nv;
        sp->cap = cap;
    }
    sp->port[sp->n++] = port;
    return port;
}

/* A node of this worker that the topology no longer names: it accepts no
 * more (its port closes); its clients stay until they leave. */
static void
node_gone(struct service *cl, struct node_svc *m)
{
    m->gone = true;
    log_info("event=cluster-node-gone service=%s node=%s port=%d "
             "clients=%u action=\"its port is closed; its clients keep "
             "their links until they leave\"", cl->sc->name,
             m->sc->upstream, m->local, service_clients(m->svc));
    service_retire(m->svc);
}

/* One query answered (or failed): new nodes get their ports, gone ones
 * close theirs. */
static void
discovered(void *arg, enum cluster_reply kind, const char *reply,
           size_t len, const char *error)
{
    struct service *cl = arg;
    struct nodes *ns = cl->nodes;
    struct seen_ports sp = {.cl = cl};
    struct cluster_out out = {0};
    int r = 0;

    if (error == NULL) {
        r = cluster_rewrite(kind, reply, len, discover_map, &sp, &out);
        free(out.buf);
        if (r != 1 || sp.n == 0) {
            error = "the reply names no node";
        }
    }
    if (error != NULL) {
        ns->refresh_failures++;
        if (!ns->failing) {
            log_warn("event=cluster-refresh service=%s upstream=%s "
                     "result=failed error=\"%s\" action=\"nodes keep their "
                     "ports; asking again\"", cl->sc->name, cl->sc->upstream,
                     error);
        }
        ns->failing = true;
        free(sp.port);
        return;
    }
    if (ns->failing) {
        log_info("event=cluster-refresh service=%s result=ok nodes=%d "
                 "note=\"answered again\"", cl->sc->name, sp.n);
    }
    ns->failing = false;
    ns->refreshes++;
    /* Only a whole answer may close ports: one that gave a node no port
     * (ports used up, no memory) says nothing of the nodes it left out. */
    for (int i = 0; !sp.nomem && i < ns->n; i++) {
        bool named = false;

        for (int k = 0; k < sp.n && !named; k++) {
            named = sp.port[k] == ns->v[i].local;
        }
        if (!named && !ns->v[i].gone) {
            node_gone(cl, &ns->v[i]);
        }
    }
    free(sp.port);
}

/* Nodes gone whose last client left are freed. */
static void
nodes_reap(struct nodes *ns)
{
    for (int i = 0; i < ns->n;) {
        if (ns->v[i].gone && service_clients(ns->v[i].svc) == 0) {
            service_free(ns->v[i].svc);
            config_service_free(ns->v[i].sc);
            ns->v[i] = ns->v[--ns->n];
            continue;
        }
        i++;
    }
}

/*
 * The refresh clock: a query every cluster_refresh, and sooner (at most
 * one a second) after a -MOVED reached a client or a node's link failed.
 */
static void
nodes_tick(evutil_socket_t fd, short what, void *arg)
{
    struct service *cl = arg;
    struct nodes *ns = cl->nodes;
    uint64_t moved = cl->host.cluster_moved, failures = 0;
    double now = mono_now();

    (void)fd;
    (void)what;
    nodes_reap(ns);
    for (int i = 0; i < ns->n; i++) {
        struct pool_stats ps;

        pool_get_stats(ns->v[i].svc->pool, &ps);
        moved += ns->v[i].svc->host.cluster_moved;
        failures += ps.fill_failures;
    }
    if (cluster_discover_busy(ns->disc) ||
        (now - ns->last_ask < cl->sc->cluster_refresh &&
         ((moved == ns->seen_moved && failures == ns->seen_failures) ||
          now - ns->last_ask < NODES_TICK_S))) {
        return;
    }
    ns->seen_moved = moved;
    ns->seen_failures = failures;
    ns->last_ask = now;
    if (cluster_discover_start(ns->disc) < 0) {
        ns->refresh_failures++;
    }
}

/* A cluster service begins listening: its own discovery starts. */
static void
nodes_begin(struct service *cl)
{
    struct nodes *ns = cl->nodes;
    struct timeval tv = {NODES_TICK_S, 0};

    if (ns == NULL || ns->ticking || ns->retired) {
        return;
    }
    event_assign(&ns->ev_tick, ns->env.base, -1, EV_PERSIST, nodes_tick, cl);
    evtimer_add(&ns->ev_tick, &tv);
    ns->ticking = true;
    ns->last_ask = mono_now();
    if (cluster_discover_start(ns->disc) < 0) {
        ns->refresh_failures++;
    }
}

/*
 * max_clients holds for the whole process: with workers, every worker has
 * a service of that name (and a reload may leave a retired one), and they
 * all count against one set of seats (shared.c).  A worker's listener
 * pauses while the seats are taken; when one comes free, every service of
 * that name is woken (ev_seat), so a worker paused by another's clients
 * resumes.  A listener that accepted just as another worker took the last
 * seat parks that one client (unread, as if still in the backlog) and
 * pauses.  With one worker nothing is ever parked.  The same wake-up
 * carries failover notices: a READONLY seen by one worker closes the idle
 * links to that server in every worker.
 */

/* The descriptors are spent: clients (two each) and draining links (one
 * each) fill the budget. */
static bool
budget_spent(const struct client_budget *b)
{
    return b->live + (b->draining + 1) / 2 >= b->cap;
}

/* Accepting pauses at max_clients, or while the shared budget is spent. */
static void
update_pause(struct service *svc)
{
    if (svc->listener != NULL) {
        listener_set_paused(svc->listener,
                            svc->parked_fd >= 0 ||
                                shared_seats_full(&svc->member) ||
                                budget_spent(svc->budget));
    }
}

static void
update_pause_all(struct client_budget *b)
{
    for (struct service *s = b->services; s != NULL; s = s->bnext) {
        update_pause(s);
    }
}

/* A client with a seat: its session starts. */
static void
serve(struct service *svc, int fd, const struct sockaddr *addr, int addrlen)
{
    if (session_new(&svc->host, fd, addr, addrlen) < 0) {
        log_warn("event=accept-failed service=%s reason=\"out of memory\"",
                 svc->sc->name);
        shared_seat_give(&svc->member);
        update_pause(svc);
        return;
    }
    svc->budget->accepted++;
    svc->budget->live++;
    if (budget_spent(svc->budget)) {
        log_warn("event=clients-capped clients=%u reason=\"descriptor "
                 "limit: every client needs two\" action=\"accepting "
                 "resumes as clients leave (raise LimitNOFILE / ulimit -n "
                 "for more)\"", svc->budget->live);
        update_pause_all(svc->budget);
    } else {
        update_pause(svc);
    }
}

static void
accept_client(int fd, const struct sockaddr *addr, int addrlen, void *arg)
{
    struct service *svc = arg;

    if (!shared_seat_take(&svc->member)) {
        /* Another worker took the last seat since this listener looked. */
        if (svc->parked_fd >= 0) {
            /* The listener pauses after one: not expected; never leak. */
            log_warn("event=accept-dropped service=%s reason=\"no seat "
                     "(max_clients) and one client already waiting\"",
                     svc->sc->name);
            close(fd);
            return;
        }
        svc->parked_fd = fd;
        memcpy(&svc->parked_addr, addr, (size_t)addrlen);
        svc->parked_addrlen = addrlen;
        shared_parked(&svc->member, 1);
        update_pause(svc);
        return;
    }
    serve(svc, fd, addr, addrlen);
}

/* session_host.stale_cb: this worker's pool, then the other workers'. */
static void
stale_seen(struct session_host *h, const char *peer, const char *why,
           void *arg)
{
    struct service *svc = arg;

    pool_suspect(h->pool, peer, why);
    shared_notice(&svc->member, peer, why);
}

static void
seat_cb(evutil_socket_t fd, short what, void *arg)
{
    struct service *svc = arg;
    char peer[SHARED_PEER_MAX], why[SHARED_WHY_MAX];

    (void)fd;
    (void)what;
    if (shared_notice_take(&svc->member, peer, why) &&
        svc->listener != NULL) {
        char seen[SHARED_WHY_MAX + 32];

        snprintf(seen, sizeof(seen), "%s (seen by another worker)", why);
        pool_suspect(svc->pool, peer, seen);
    }
    if (svc->parked_fd >= 0 && shared_seat_take(&svc->member)) {
        int cfd = svc->parked_fd;

        svc->parked_fd = -1;
        shared_parked(&svc->member, -1);
        serve(svc, cfd, (struct sockaddr *)&svc->parked_addr,
              svc->parked_addrlen);
    }
    update_pause(svc);
}

static void
session_closed(struct session_host *h, void *arg)
{
    struct service *svc = arg;

    (void)h;
    shared_seat_give(&svc->member);
    if (budget_spent(svc->budget)) {
        svc->budget->live--;
        update_pause_all(svc->budget);
    } else {
        svc->budget->live--;
        update_pause(svc);
    }
}

/* The pool's draining links (pool_set_drain_cb): they hold descriptors
 * too. */
static void
draining_changed(int delta, void *arg)
{
    struct service *svc = arg;
    bool was = budget_spent(svc->budget);

    svc->budget->draining = (unsigned)((int)svc->budget->draining + delta);
    if (was != budget_spent(svc->budget)) {
        update_pause_all(svc->budget);
    }
}

struct service *
service_new(const struct service_config *sc, const struct service_env *env,
            char *err, size_t errlen, enum service_key *bad_key)
{
    struct service *svc = calloc(1, sizeof(*svc));

    if (svc == NULL) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        return NULL;
    }
    svc->sc = sc;
    if (config_service_digest(sc, svc->digest) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        free(svc);
        return NULL;
    }
    svc->ctx = tls_ctx_new(sc, err, errlen, bad_key);
    if (svc->ctx == NULL) {
        free(svc);
        return NULL;
    }
    if (sc->iam_user_id != NULL) {
        struct auth_iam iam = {
            .user = sc->iam_user_id,
            .cache = sc->iam_cache_name,
            .region = sc->iam_region,
            .serverless = sc->iam_serverless,
            .creds = {sc->iam_access_key, sc->iam_secret_key,
                      sc->iam_session_token},
            .signed_count = &svc->iam_tokens,
            .cell = sc->iam_dynamic ? shared_container_creds(env->shared)
                                    : NULL,
        };

        auth_cmd_build_iam(&svc->auth, &iam);
    } else if (auth_cmd_build(&svc->auth, sc->auth_user,
                              sc->auth_password) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_AUTH_USER;
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    svc->lp.sc = sc;
    svc->lp.ctx = svc->ctx;
    svc->lp.auth = &svc->auth;
    svc->lp.base = env->base;
    svc->lp.dns = env->dns;
    svc->lp.stats = &svc->lstats;
    svc->pool = pool_new(&svc->lp);
    event_assign(&svc->ev_seat, env->base, -1, 0, seat_cb, svc);
    if (svc->pool == NULL ||
        shared_join(env->shared, &svc->member, sc->name,
                    (unsigned)sc->max_clients, &svc->ev_seat) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        pool_free(svc->pool);
        auth_cmd_clear(&svc->auth);
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    svc->lp.note = shared_note(&svc->member);
    svc->host.pool = svc->pool;
    svc->host.sc = sc;
    svc->host.lp = &svc->lp;
    svc->host.base = env->base;
    svc->host.scratch = env->scratch;
    svc->host.scratch_len = env->scratch_len;
    svc->host.next_id = env->next_id;
    svc->host.closed_cb = session_closed;
    svc->host.stale_cb = stale_seen;
    svc->host.closed_arg = svc;
    pool_set_drain_cb(svc->pool, draining_changed, svc);
    pool_set_idle_limit(svc->pool, env->budget->idle_auto);
    svc->parked_fd = -1;
    svc->budget = env->budget;
    svc->bnext = env->budget->services;
    if (svc->bnext != NULL) {
        svc->bnext->bprev = svc;
    }
    env->budget->services = svc;
    if (sc->mode == MODE_CLUSTER) {
        if ((svc->nodes = calloc(1, sizeof(*svc->nodes))) == NULL) {
            snprintf(err, errlen, "out of memory");
            *bad_key = SK_MODE;
            service_free(svc);
            return NULL;
        }
        svc->nodes->env = *env;
        if ((svc->nodes->disc = cluster_discover_new(&svc->lp, discovered,
                                                     svc)) == NULL) {
            snprintf(err, errlen, "out of memory");
            *bad_key = SK_MODE;
            service_free(svc);
            return NULL;
        }
        svc->host.node_port = node_port_cb;
        svc->host.node_arg = svc;
    }
    return svc;
}


struct service *
service_build(const struct config *cfg, const struct service_config *sc,
              const struct service_env *env, char *out, size_t outlen)
{
    enum service_key key = SK_UPSTREAM;
    char err[512];
    struct service *svc = service_new(sc, env, err, sizeof(err), &key);

    if (svc == NULL) {
        config_key_error(cfg, sc, key, err, out, outlen);
    }
    return svc;
}

int
service_listen(struct service *svc, int port, char *err, size_t errlen)
{
    svc->listener = listener_new(svc->host.base, svc->sc, port, accept_client,
                                 svc, err, errlen);
    if (svc->listener == NULL) {
        return -1;
    }
    update_pause(svc);
    pool_start(svc->pool);
    nodes_begin(svc);
    return 0;
}

const char *
service_listen_addr(const struct service *svc)
{
    return svc->listener ? listener_addr(svc->listener) : svc->sc->listen;
}

void
service_describe(const struct service *svc, char *out, size_t outlen)
{
    const struct service_config *sc = svc->sc;
    static const char *const modes[] = {"full", "chain", "none"};
    char auth[512], pool_max[16];

    if (sc->pool_max_idle < 0) {
        snprintf(pool_max, sizeof(pool_max), "auto");
    } else {
        snprintf(pool_max, sizeof(pool_max), "%d", sc->pool_max_idle);
    }
    if (sc->iam_user_id != NULL) {
        snprintf(auth, sizeof(auth), "IAM user %s, cache %s%s, region %s, "
                 "credentials from %s%s%s%s", sc->iam_user_id,
                 sc->iam_cache_name, sc->iam_serverless ? " (serverless)" : "",
                 sc->iam_region, sc->iam_creds_source,
                 sc->iam_role_arn != NULL ? " (" : "",
                 sc->iam_role_arn != NULL ? sc->iam_role_arn : "",
                 sc->iam_role_arn != NULL ? ")" : "");
    } else if (sc->auth_password == NULL) {
        snprintf(auth, sizeof(auth), "none");
    } else {
        snprintf(auth, sizeof(auth), "%s%s (password from %s %s)",
                 sc->auth_user ? "user " : "default user",
                 sc->auth_user ? sc->auth_user : "",
                 sc->auth_password_file ? "file" : "env",
                 sc->auth_password_file ? sc->auth_password_file
                                        : sc->auth_password_env);
    }
    snprintf(out, outlen, "[%s] listen %s -> upstream %s: tls >= %s, "
             "verify %s%s%s, sni %s, ca %s%s, client cert %s, auth %s, "
             "max_clients %d, buffer_limit %zu, pool %d..%s, role %s",
             sc->name, sc->listen, sc->upstream,
             tls_version_name(sc->tls_min_version), modes[sc->verify],
             sc->verify == VERIFY_FULL ? " host " : "",
             sc->verify == VERIFY_FULL ? sc->verify_host : "",
             sc->sni ? sc->sni : "(none)",
             sc->ca_file ? sc->ca_file : (sc->ca_path ? sc->ca_path
                                                      : "system store"),
             sc->verify == VERIFY_NONE ? " (NOT VERIFIED: insecure)"
             : sc->verify == VERIFY_CHAIN && sc->ca_file == NULL &&
                     sc->ca_path == NULL
                 ? " (ANY publicly trusted certificate, any name: insecure)"
                 : "",
             sc->cert_file ? sc->cert_file : "none", auth, sc->max_clients,
             sc->buffer_limit, sc->pool_min_idle, pool_max,
             sc->role == ROLE_PRIMARY ? "primary"
             : sc->role == ROLE_REPLICA ? "replica" : "any");
}

/* One line with every counter of the service (metrics come with #5). */
static void
log_stats(const struct service *svc)
{
    struct pool_stats ps;
    unsigned long full, resumed;
    char closed[600] = "";
    size_t used = 0;

    pool_get_stats(svc->pool, &ps);
    tls_session_counts(svc->ctx, &full, &resumed);
    for (int i = 0; i < POOL_REASONS && ps.closed[i].reason != NULL; i++) {
        int n = snprintf(closed + used, sizeof(closed) - used,
                         " closed_%s=%llu", ps.closed[i].reason,
                         (unsigned long long)ps.closed[i].count);

        if (n < 0 || (size_t)n >= sizeof(closed) - used) {
            break;
        }
        used += (size_t)n;
    }
    log_info("event=stats service=%s clients_total=%llu pool_hits=%llu "
             "pool_misses=%llu links_recycled=%llu links_closed=%llu "
             "link_fill_failures=%llu links_idle=%u handshakes_full=%lu "
             "handshakes_resumed=%lu%s", svc->sc->name,
             (unsigned long long)svc->host.total,
             (unsigned long long)ps.hits, (unsigned long long)ps.misses,
             (unsigned long long)ps.recycled,
             (unsigned long long)ps.discarded,
             (unsigned long long)ps.fill_failures, ps.idle, full, resumed,
             closed);
}

void
service_stop_accepting(struct service *svc)
{
    nodes_retire(svc->nodes);
    if (svc->listener != NULL) {
        log_stats(svc);
    }
    listener_free(svc->listener);
    svc->listener = NULL;
}

unsigned
service_clients(const struct service *svc)
{
    return svc->host.nsessions + nodes_clients(svc->nodes);
}

bool
service_first_link_tried(const struct service *svc)
{
    return pool_first_tried(svc->pool);
}

int
service_figures(const struct service *svc, struct svc_figures *f)
{
    f->name = strdup(svc->sc->name);
    f->upstream = strdup(svc->sc->upstream);
    if (f->name == NULL || f->upstream == NULL) {
        return -1;
    }
    pool_get_stats(svc->pool, &f->ps);
    f->clients = svc->host.nsessions;
    f->total = svc->host.total;
    f->rx = svc->host.rx_total;
    f->tx = svc->host.tx_total;
    tls_session_counts(svc->ctx, &f->full, &f->resumed);
    f->ls = svc->lstats;
    f->iam_tokens = svc->iam_tokens;
    if (svc->nodes != NULL) {
        struct nodes *ns = svc->nodes;

        f->cluster = true;
        f->cluster_nodes = ns->known;
        f->cluster_exhausted = ns->exhausted;
        f->cluster_rewrites = svc->host.cluster_rewrites;
        f->cluster_redirects = svc->host.cluster_redirects;
        f->cluster_refreshes = ns->refreshes;
        f->cluster_refresh_failures = ns->refresh_failures;
        for (int i = 0; i < ns->n; i++) {
            f->cluster_rewrites += ns->v[i].svc->host.cluster_rewrites;
            f->cluster_redirects += ns->v[i].svc->host.cluster_redirects;
            f->cluster_ports += !ns->v[i].gone;
        }
    }
    if (svc->sc->iam_user_id != NULL &&
        (f->iam_source = strdup(svc->sc->iam_creds_source)) == NULL) {
        return -1;
    }
    if (svc->auth.iam_cfg.cell != NULL) {
        time_t exp;

        creds_cell_state(svc->auth.iam_cfg.cell, &exp,
                         &f->iam_fetch_failures);
        f->iam_dynamic = true;
        f->iam_expiration = (long long)exp;
    }
    return 0;
}

int
service_node_count(const struct service *svc)
{
    return svc->nodes != NULL ? svc->nodes->n : 0;
}

int
service_node_figures(const struct service *svc, int i, struct svc_figures *f)
{
    if (service_figures(svc->nodes->v[i].svc, f) < 0) {
        return -1;
    }
    f->node = true;
    return 0;
}

/* The probe link is ready or failed: judge, free it, report. */
static void
probe_ready(struct link *link, const char *error, void *arg)
{
    struct service *svc = arg;
    enum link_fail kind = error != NULL ? link_failure(link)
                                        : LINK_FAIL_NONE;
    enum tls_fail tls_kind = link_tls_failure(link);
    char why[TLS_REASON_MAX];
    int verdict = 0;

    snprintf(why, sizeof(why), "%s", error != NULL ? error : "");
    if (error != NULL) {
        verdict = link_fail_is_verdict(kind) ? -1 : 1;
    }
    link_free(link, error == NULL);
    svc->probe = NULL;
    svc->probe_cb(svc->probe_arg, verdict, kind, tls_kind, why);
}

int
service_probe(struct service *svc, service_probe_cb cb, void *arg)
{
    svc->probe_cb = cb;
    svc->probe_arg = arg;
    svc->probe = link_new(&svc->lp, probe_ready, svc);
    return svc->probe != NULL ? 0 : -1;
}

void
service_shutdown(struct service *svc)
{
    service_stop_accepting(svc);
    /* The nodes' services and their clients go with the cluster's. */
    nodes_free(svc->nodes);
    svc->nodes = NULL;
    svc->host.node_port = NULL;
    session_close_all(&svc->host, "shutdown");
}

void
service_free(struct service *svc)
{
    if (svc == NULL) {
        return;
    }
    service_shutdown(svc);
    link_free(svc->probe, false);   /* a probe still under way: cancelled */
    session_host_clear(&svc->host);
    pool_free(svc->pool);
    auth_cmd_clear(&svc->auth);
    SSL_CTX_free(svc->ctx);
    if (svc->bprev != NULL) {
        svc->bprev->bnext = svc->bnext;
    } else {
        svc->budget->services = svc->bnext;
    }
    if (svc->bnext != NULL) {
        svc->bnext->bprev = svc->bprev;
    }
    if (svc->parked_fd >= 0) {
        close(svc->parked_fd);
        shared_parked(&svc->member, -1);
    }
    shared_leave(&svc->member);     /* nobody wakes ev_seat now */
    event_del(&svc->ev_seat);
    free(svc);
}

bool
service_unchanged(const struct service *svc, const struct service_config *sc)
{
    unsigned char d[CONFIG_DIGEST_LEN];

    return config_service_digest(sc, d) == 0 &&
           memcmp(d, svc->digest, sizeof(d)) == 0;
}

const struct service_config *
service_config(const struct service *svc)
{
    return svc->sc;
}

bool
service_is_listening(const struct service *svc)
{
    return svc->listener != NULL;
}

void
service_take_listener(struct service *to, struct service *from)
{
    to->listener = from->listener;
    from->listener = NULL;
    listener_set_owner(to->listener, accept_client, to);
    update_pause(to);
    pool_start(to->pool);
    nodes_take(to, from);
    nodes_begin(to);
}

void
service_retire(struct service *svc)
{
    service_stop_accepting(svc);
    pool_retire(svc->pool);
}
