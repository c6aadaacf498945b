/*
 * cluster_nodes.c: mode = cluster, one worker's side of a cluster service
 * (see cluster_nodes.h): a service per node, on the port the process's
 * book gives it; our own topology queries; nodes that leave.
 */
#include "cluster_nodes.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster.h"
#include "cluster_discover.h"
#include "listener.h"
#include "log.h"
#include "shared.h"
#include "stats.h"

/*
 * mode = cluster: this worker's services for the nodes of a cluster
 * service, one per node a reply has named, each a copy of the cluster's
 * settings with the node as upstream, bound on the port the process's
 * book (cluster.h, shared.h) gives the node, with SO_REUSEPORT beside the
 * other workers' services for it.
 */
#define NODE_BIND_TRIES 8       /* ports tried when one is taken */
#define NODE_GONE_MISSES 2      /* whole answers without a node before its
                                   port closes */

#define NODES_TICK_S 1          /* the refresh clock; also the least time
                                   between two topology queries */

struct node_svc {
    int local;                  /* the node's port */
    bool gone;                  /* left the topology: accepts no more,
                                   freed when its last client leaves */
    int missed;                 /* whole answers in a row without it */
    struct service_config *sc;  /* owned: its settings */
    struct service *svc;        /* owned: listening on local */
};

struct cluster_nodes {
    struct service *cl;         /* ref: the cluster's own service */
    const struct service_config *sc;    /* ref: its settings */
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
    uint64_t reaped_rewrites;   /* the counters of node services freed, */
    uint64_t reaped_redirects;  /* so that sums never go back */
    uint64_t reaped_moved;
    uint64_t reaped_failures;
};

void
cluster_nodes_free(struct cluster_nodes *ns)
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

void
cluster_nodes_retire(struct cluster_nodes *ns)
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

unsigned
cluster_nodes_clients(const struct cluster_nodes *ns)
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
static void discovered(void *arg, enum cluster_reply kind, const char *reply,
                       size_t len, const char *error);

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

/* This worker's live service for node nd (its port, host and port), or
 * NULL. */
static struct node_svc *
node_find(struct cluster_nodes *ns, const struct cluster_node *nd)
{
    for (int i = 0; i < ns->n; i++) {
        const struct node_svc *m = &ns->v[i];

        if (m->local == nd->local && !m->gone &&
            m->sc->upstream_port == nd->port &&
            strcasecmp(m->sc->upstream_host, nd->host) == 0) {
            return &ns->v[i];
        }
    }
    return NULL;
}

/* node_build(ns, nd, m): m's settings and service for node nd, not yet
 * listening (files read, TLS context made: never under the book's lock).
 * 0, or -1 (logged). */
static int
node_build(struct cluster_nodes *ns, const struct cluster_node *nd,
           struct node_svc *m)
{
    char err[512];
    enum service_key bad;

    m->local = nd->local;
    m->gone = false;
    m->missed = 0;
    m->svc = NULL;
    if ((m->sc = node_config(ns->sc, nd)) == NULL ||
        (m->svc = service_new(m->sc, &ns->env, err, sizeof(err),
                              &bad)) == NULL) {
        log_error("event=cluster-node service=%s node=%s:%d result=failed "
                  "error=\"%s\"", ns->sc->name, nd->host, nd->port,
                  m->sc == NULL ? "out of memory" : err);
        config_service_free(m->sc);
        return -1;
    }
    /* Its sessions rewrite too, through the cluster's book. */
    service_set_node_map(m->svc, node_port_cb, ns);
    return 0;
}

/* node_add(ns, m): m joins this worker's nodes; 0, or -1 (ENOMEM: m is
 * freed). */
static int
node_add(struct cluster_nodes *ns, struct node_svc *m)
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

/* node_bind(ns, m, nd): m listens on nd->local (the book's lock held).
 * 0; 1 when the port is held by another program (the book moves the
 * node); -1 when it could not listen (logged). */
static int
node_bind(struct cluster_nodes *ns, struct node_svc *m,
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
                 "error=\"%s\"%s", ns->sc->name, nd->host, nd->port,
                 nd->local, err,
                 rc == 1 ? " action=\"trying the next port\"" : "");
        return rc;
    }
    log_info("event=cluster-node service=%s node=%s:%d id=%s listen=%s",
             ns->sc->name, nd->host, nd->port, nd->id[0] ? nd->id : "-",
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
void
cluster_nodes_take(struct cluster_nodes *to, struct cluster_nodes *from)
{
    if (to == NULL) {
        return;
    }
    /* The same book (name and range) and the same cluster. */
    if (from != NULL && strcmp(to->sc->name, from->sc->name) == 0 &&
        strcmp(to->sc->upstream, from->sc->upstream) == 0 &&
        to->sc->cluster_port_lo == from->sc->cluster_port_lo &&
        to->sc->cluster_port_hi == from->sc->cluster_port_hi) {
        for (int i = 0; i < from->n; i++) {
            const struct node_svc *m = &from->v[i];
            struct cluster_node nd = {.port = m->sc->upstream_port,
                                      .local = m->local, .bound = true};
            struct node_svc fresh;

            if (m->gone || !service_is_listening(m->svc)) {
                continue;
            }
            snprintf(nd.host, sizeof(nd.host), "%s", m->sc->upstream_host);
            if (node_find(to, &nd) != NULL ||
                node_build(to, &nd, &fresh) < 0) {
                continue;
            }
            /* The replaced cluster's socket for this node, as it is
             * (never closed: no client is refused meanwhile). */
            service_take_listener(fresh.svc, m->svc);
            log_info("event=cluster-node service=%s node=%s:%d listen=%s "
                     "note=\"taken over at a reload\"", to->sc->name,
                     nd.host, nd.port, service_listen_addr(fresh.svc));
            (void)node_add(to, &fresh);
        }
    }
    cluster_nodes_begin(to);
}

/*
 * node_enter(ns, ref, host, hostlen, may_add): the local port of the node
 * ref names (host: its host, "" and "?" already replaced), entered in the
 * book (when may_add) and listening in this worker; -1 when it has none.
 * The node's service is made outside the book's lock; only the bind is
 * under it, so that another worker binding the same port waits (and then
 * finds it bound, instead of probing it as taken).
 */
static int
node_enter(struct cluster_nodes *ns, const struct cluster_node_ref *ref,
           const char *host, size_t hostlen, bool may_add)
{
    bool exhausted = false, bound = false;
    struct cluster_book *b;
    struct cluster_node nd;
    struct node_svc m;
    int r = -1;

    b = shared_book_lock(ns->env.shared, ns->sc->name,
                         ns->sc->cluster_port_lo, ns->sc->cluster_port_hi);
    if (b != NULL) {
        r = cluster_book_node(b, ref, host, hostlen, may_add, &nd,
                              &exhausted);
        ns->known = cluster_book_size(b);
    }
    shared_book_unlock(ns->env.shared);
    if (r == 0 && node_find(ns, &nd) != NULL) {
        return nd.local;
    }
    if (r == 0 && node_build(ns, &nd, &m) == 0) {
        b = shared_book_lock(ns->env.shared, ns->sc->name,
                             ns->sc->cluster_port_lo,
                             ns->sc->cluster_port_hi);
        /* Read again: another worker may have bound it, or moved it. */
        for (int tries = 0; b != NULL && tries < NODE_BIND_TRIES &&
                            cluster_book_node(b, ref, host, hostlen, may_add,
                                              &nd, &exhausted) == 0;
             tries++) {
            int rb = node_bind(ns, &m, &nd);

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
                  "no port for this node\"", ns->sc->name, (int)hostlen,
                  host, ref->port, ns->sc->cluster_ports);
    }
    return bound ? nd.local : -1;
}

/*
 * A replaced cluster service's clients (a reload) are still told the
 * ports of the nodes the book knows and some worker listens on (the new
 * service's); nothing is entered or bound for them.  -1 otherwise.
 */
static int
node_known(struct cluster_nodes *ns, const struct cluster_node_ref *ref,
           const char *host, size_t hostlen)
{
    bool exhausted = false;
    struct cluster_book *b;
    struct cluster_node nd;
    int rc = -1;

    b = shared_book_lock(ns->env.shared, ns->sc->name,
                         ns->sc->cluster_port_lo, ns->sc->cluster_port_hi);
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
    struct cluster_nodes *ns = arg;
    const char *host = ref->host;
    size_t hostlen = ref->hostlen;
    bool from_self = false;

    if (ns == NULL) {
        return -1;
    }
    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        host = self;        /* "the host you asked" */
        hostlen = strlen(self);
        from_self = true;
    }
    if (ns->retired) {
        return node_known(ns, ref, host, hostlen);
    }
    return node_enter(ns, ref, host, hostlen,
                      !ref->redirect || from_self ||
                          redirect_plausible(ns->sc->upstream_host, host,
                                             hostlen));
}

/* ------------------------------------------------- our own discovery */

/* The ports one topology reply gave (a node listed twice counts once). */
struct seen_ports {
    struct cluster_nodes *ns;
    int *port;                  /* owned: n of cap */
    int n, cap;
    bool partial;               /* a node got no port (used up, no
                                   memory): the answer is not whole */
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
        host = sp->ns->sc->upstream_host;   /* the endpoint we asked */
        hostlen = strlen(host);
    }
    if ((port = node_enter(sp->ns, ref, host, hostlen, true)) < 0) {
        sp->partial = true;
        return -1;
    }
    if (sp->n == sp->cap) {
        int cap = sp->cap ? 2 * sp->cap : 16;
        int *nv = realloc(sp->port, (size_t)cap * sizeof(*nv));

        if (nv == NULL) {
            sp->partial = true;
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
node_gone(struct cluster_nodes *ns, struct node_svc *m)
{
    m->gone = true;
    log_info("event=cluster-node-gone service=%s node=%s port=%d "
             "clients=%u action=\"its port is closed; its clients keep "
             "their links until they leave\"", ns->sc->name,
             m->sc->upstream, m->local, service_clients(m->svc));
    service_retire(m->svc);
}

/* One query answered (or failed): new nodes get their ports, gone ones
 * close theirs. */
static void
discovered(void *arg, enum cluster_reply kind, const char *reply,
           size_t len, const char *error)
{
    struct cluster_nodes *ns = arg;
    struct seen_ports sp = {.ns = ns};
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
                     "ports; asking again\"", ns->sc->name, ns->sc->upstream,
                     error);
        }
        ns->failing = true;
        free(sp.port);
        return;
    }
    if (ns->failing) {
        log_info("event=cluster-refresh service=%s result=ok nodes=%d "
                 "note=\"answered again\"", ns->sc->name, sp.n);
    }
    ns->failing = false;
    ns->refreshes++;
    /*
     * A port closes only on evidence: a CLUSTER SHARDS answer (SLOTS
     * leaves out primaries without slots, a resharding's target among
     * them), whole (every node it names got its port), and two of them in
     * a row without the node (one node's passing view, a node restarted
     * empty, must not close the others).
     */
    for (int i = 0; i < ns->n; i++) {
        struct node_svc *m = &ns->v[i];
        bool named = false;

        for (int k = 0; k < sp.n && !named; k++) {
            named = sp.port[k] == m->local;
        }
        if (named || m->gone) {
            m->missed = 0;
        } else if (!sp.partial && kind == CLUSTER_REPLY_SHARDS &&
                   ++m->missed >= NODE_GONE_MISSES) {
            node_gone(ns, m);
        }
    }
    free(sp.port);
}

/* Nodes gone whose last client left are freed. */
static void
nodes_reap(struct cluster_nodes *ns)
{
    for (int i = 0; i < ns->n;) {
        if (ns->v[i].gone && service_clients(ns->v[i].svc) == 0) {
            uint64_t rw, rd, mv;

            service_cluster_counts(ns->v[i].svc, &rw, &rd, &mv);
            ns->reaped_rewrites += rw;
            ns->reaped_redirects += rd;
            ns->reaped_moved += mv;
            ns->reaped_failures += service_link_failures(ns->v[i].svc);
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
    struct cluster_nodes *ns = arg;
    uint64_t moved = 0, failures = 0, rewrites, redirects, m;
    double now = mono_now();

    (void)fd;
    (void)what;
    nodes_reap(ns);
    service_cluster_counts(ns->cl, &rewrites, &redirects, &moved);
    moved += ns->reaped_moved;
    failures = ns->reaped_failures;
    for (int i = 0; i < ns->n; i++) {
        service_cluster_counts(ns->v[i].svc, &rewrites, &redirects, &m);
        moved += m;
        failures += service_link_failures(ns->v[i].svc);
    }
    if (cluster_discover_busy(ns->disc) ||
        (now - ns->last_ask < ns->sc->cluster_refresh &&
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

void
cluster_nodes_begin(struct cluster_nodes *ns)
{
    struct timeval tv = {NODES_TICK_S, 0};

    if (ns == NULL || ns->ticking || ns->retired) {
        return;
    }
    event_assign(&ns->ev_tick, ns->env.base, -1, EV_PERSIST, nodes_tick, ns);
    evtimer_add(&ns->ev_tick, &tv);
    ns->ticking = true;
    ns->last_ask = mono_now();
    if (cluster_discover_start(ns->disc) < 0) {
        ns->refresh_failures++;
    }
}


struct cluster_nodes *
cluster_nodes_new(struct service *cl, const struct service_env *env)
{
    struct cluster_nodes *ns = calloc(1, sizeof(*ns));

    if (ns == NULL) {
        return NULL;
    }
    ns->cl = cl;
    ns->sc = service_config(cl);
    ns->env = *env;
    if ((ns->disc = cluster_discover_new(service_link_params(cl), discovered,
                                         ns)) == NULL) {
        free(ns);
        return NULL;
    }
    service_set_node_map(cl, node_port_cb, ns);
    return ns;
}

void
cluster_nodes_shutdown(struct cluster_nodes *ns)
{
    if (ns == NULL) {
        return;
    }
    cluster_nodes_retire(ns);
    for (int i = 0; i < ns->n; i++) {
        service_shutdown(ns->v[i].svc);
    }
}

void
cluster_nodes_figures(const struct cluster_nodes *ns, struct svc_figures *f)
{
    uint64_t rewrites, redirects, moved;

    f->cluster = true;
    f->cluster_nodes = ns->known;
    f->cluster_exhausted = ns->exhausted;
    f->cluster_refreshes = ns->refreshes;
    f->cluster_refresh_failures = ns->refresh_failures;
    service_cluster_counts(ns->cl, &f->cluster_rewrites,
                           &f->cluster_redirects, &moved);
    f->cluster_rewrites += ns->reaped_rewrites;
    f->cluster_redirects += ns->reaped_redirects;
    for (int i = 0; i < ns->n; i++) {
        service_cluster_counts(ns->v[i].svc, &rewrites, &redirects, &moved);
        f->cluster_rewrites += rewrites;
        f->cluster_redirects += redirects;
        f->cluster_ports += !ns->v[i].gone;
    }
}

int
cluster_nodes_count(const struct cluster_nodes *ns)
{
    return ns != NULL ? ns->n : 0;
}

int
cluster_nodes_node_figures(const struct cluster_nodes *ns, int i,
                           struct svc_figures *f)
{
    if (service_figures(ns->v[i].svc, f) < 0) {
        return -1;
    }
    f->node = true;
    return 0;
}
