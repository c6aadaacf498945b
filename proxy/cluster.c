/*
 * cluster.c: the nodes of a cluster service, each with a local port and a
 * service of its own (see cluster.h).
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "service.h"

#define NODE_ID_MAX 64          /* Redis node ids are 40 hex digits */
#define NODE_HOST_MAX 256
#define BIND_TRIES 8            /* ports tried when one is taken */

struct node {
    char id[NODE_ID_MAX];       /* "" until a reply gives it */
    char host[NODE_HOST_MAX];   /* the name the node is reached by */
    char ip[64];                /* its address when a reply gives one */
    int port;                   /* its (TLS) port */
    int local;                  /* the port standing for it */
    struct service_config *sc;  /* owned: its service's settings */
    struct service *svc;        /* owned: listening on local */
};

struct cluster_nodes {
    const struct service_config *sc;    /* ref: the cluster service's */
    struct service_env env;             /* copy: the loop's */
    struct node *nodes;                 /* owned: n of cap */
    int n, cap;
    unsigned char *taken;               /* owned: per port of the range,
                                           given (1) or unbindable (2) */
    bool retired;                       /* the service stopped accepting */
    struct cluster_figures fig;
};

struct cluster_nodes *
cluster_nodes_new(const struct service_config *sc,
                  const struct service_env *env)
{
    struct cluster_nodes *cn = calloc(1, sizeof(*cn));

    if (cn == NULL) {
        return NULL;
    }
    cn->sc = sc;
    cn->env = *env;
    cn->taken = calloc((size_t)(sc->cluster_port_hi - sc->cluster_port_lo + 1),
                       1);
    if (cn->taken == NULL) {
        free(cn);
        return NULL;
    }
    return cn;
}

void
cluster_nodes_free(struct cluster_nodes *cn)
{
    if (cn == NULL) {
        return;
    }
    for (int i = 0; i < cn->n; i++) {
        service_free(cn->nodes[i].svc);
        config_service_free(cn->nodes[i].sc);
    }
    free(cn->nodes);
    free(cn->taken);
    free(cn);
}

static bool
same(const char *s, size_t n, const char *z)
{
    return n > 0 && strlen(z) == n && memcmp(s, z, n) == 0;
}

/* The node ref names, or NULL: by id, else by port and host or ip. */
static struct node *
find(struct cluster_nodes *cn, const struct cluster_node_ref *ref,
     const char *host, size_t hostlen)
{
    for (int i = 0; i < cn->n; i++) {
        struct node *nd = &cn->nodes[i];

        if (ref->id != NULL && nd->id[0] != '\0') {
            if (same(ref->id, ref->idlen, nd->id)) {
                return nd;
            }
            continue;   /* both have ids, and they differ */
        }
        if (nd->port == ref->port &&
            (same(host, hostlen, nd->host) || same(host, hostlen, nd->ip) ||
             (ref->ip != NULL && same(ref->ip, ref->iplen, nd->ip)))) {
            return nd;
        }
    }
    return NULL;
}

/* A free port of the range, marked given; -1 when none is left. */
static int
take_port(struct cluster_nodes *cn)
{
    int lo = cn->sc->cluster_port_lo, hi = cn->sc->cluster_port_hi;

    for (int p = lo; p <= hi; p++) {
        if (cn->taken[p - lo] == 0) {
            cn->taken[p - lo] = 1;
            return p;
        }
    }
    return -1;
}

/* The node's settings: the cluster's, with the node as upstream and its
 * own name as the certificate's (unless verify_host / sni are set). */
static struct service_config *
node_config(const struct cluster_nodes *cn, const struct node *nd)
{
    const struct service_config *sc = cn->sc;
    struct service_config *c = config_service_clone(sc);
    char buf[NODE_HOST_MAX + 64];
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

/* Makes nd's service and binds it on a free port (the next one when one
 * is held by someone else).  0, or -1 (logged). */
static int
start_node(struct cluster_nodes *cn, struct node *nd)
{
    char err[512];
    enum service_key bad;

    for (int tries = 0; tries < BIND_TRIES; tries++) {
        if ((nd->local = take_port(cn)) < 0) {
            cn->fig.exhausted++;
            log_error("event=cluster-node service=%s node=%s:%d "
                      "result=failed error=\"cluster_ports %s are all "
                      "given: no port for this node\"", cn->sc->name,
                      nd->host, nd->port, cn->sc->cluster_ports);
            return -1;
        }
        if ((nd->sc = node_config(cn, nd)) == NULL ||
            (nd->svc = service_new(nd->sc, &cn->env, err, sizeof(err),
                                   &bad)) == NULL) {
            log_error("event=cluster-node service=%s node=%s:%d "
                      "result=failed error=\"%s\"", cn->sc->name, nd->host,
                      nd->port, nd->sc == NULL ? "out of memory" : err);
            config_service_free(nd->sc);
            nd->sc = NULL;
            cn->taken[nd->local - cn->sc->cluster_port_lo] = 0;
            return -1;
        }
        service_set_cluster(nd->svc, cn);
        if (service_listen(nd->svc, nd->local, err, sizeof(err)) == 0) {
            log_info("event=cluster-node service=%s node=%s:%d id=%s "
                     "listen=%s", cn->sc->name, nd->host, nd->port,
                     nd->id[0] ? nd->id : "-", service_listen_addr(nd->svc));
            return 0;
        }
        log_warn("event=cluster-node service=%s node=%s:%d port=%d "
                 "error=\"%s\" action=\"trying the next port\"",
                 cn->sc->name, nd->host, nd->port, nd->local, err);
        cn->taken[nd->local - cn->sc->cluster_port_lo] = 2;
        service_free(nd->svc);
        config_service_free(nd->sc);
        nd->svc = NULL;
        nd->sc = NULL;
    }
    return -1;
}

int
cluster_nodes_port(struct cluster_nodes *cn,
                   const struct cluster_node_ref *ref, const char *self_host)
{
    const char *host = ref->host;
    size_t hostlen = ref->hostlen;
    struct node *nd;

    if (ref->port <= 0 || ref->port > 65535) {
        return -1;      /* ":0", a node still in handshake */
    }
    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        host = self_host;   /* "the host you asked" */
        hostlen = strlen(self_host);
    }
    if (hostlen == 0 || hostlen >= NODE_HOST_MAX ||
        (ref->id != NULL && ref->idlen >= NODE_ID_MAX)) {
        return -1;
    }
    if ((nd = find(cn, ref, host, hostlen)) != NULL) {
        if (nd->id[0] == '\0' && ref->id != NULL) {
            memcpy(nd->id, ref->id, ref->idlen);
            nd->id[ref->idlen] = '\0';
        }
        if (nd->ip[0] == '\0' && ref->ip != NULL && ref->iplen > 0 &&
            ref->iplen < sizeof(nd->ip)) {
            memcpy(nd->ip, ref->ip, ref->iplen);
            nd->ip[ref->iplen] = '\0';
        }
        return nd->svc != NULL ? nd->local : -1;
    }
    if (cn->retired) {
        return -1;
    }
    if (cn->n == cn->cap) {
        int cap = cn->cap ? 2 * cn->cap : 8;
        struct node *nn = realloc(cn->nodes, (size_t)cap * sizeof(*nn));

        if (nn == NULL) {
            return -1;
        }
        cn->nodes = nn;
        cn->cap = cap;
    }
    nd = &cn->nodes[cn->n];
    memset(nd, 0, sizeof(*nd));
    memcpy(nd->host, host, hostlen);
    nd->host[hostlen] = '\0';
    if (ref->id != NULL) {
        memcpy(nd->id, ref->id, ref->idlen);
        nd->id[ref->idlen] = '\0';
    }
    if (ref->ip != NULL && ref->iplen > 0 && ref->iplen < sizeof(nd->ip)) {
        memcpy(nd->ip, ref->ip, ref->iplen);
        nd->ip[ref->iplen] = '\0';
    }
    nd->port = (int)ref->port;
    if (start_node(cn, nd) < 0) {
        return -1;      /* not kept: the next reply tries again */
    }
    cn->n++;
    cn->fig.nodes = (unsigned)cn->n;
    return nd->local;
}

void
cluster_nodes_count(struct cluster_nodes *cn, enum cluster_reply kind)
{
    cn->fig.rewritten++;
    if (kind == CLUSTER_REPLY_REDIRECT) {
        cn->fig.redirects++;
    }
}

void
cluster_nodes_retire(struct cluster_nodes *cn)
{
    cn->retired = true;
    for (int i = 0; i < cn->n; i++) {
        service_retire(cn->nodes[i].svc);
    }
}

unsigned
cluster_nodes_clients(const struct cluster_nodes *cn)
{
    unsigned n = 0;

    for (int i = 0; cn != NULL && i < cn->n; i++) {
        n += service_clients(cn->nodes[i].svc);
    }
    return n;
}

void
cluster_nodes_figures(const struct cluster_nodes *cn,
                      struct cluster_figures *out)
{
    *out = cn->fig;
}
