/*
 * cluster.c: the nodes of a cluster service, each with a local port and a
 * service of its own (see cluster.h).
 *
 * Two levels.  The book (one per service name, for the whole process,
 * under cluster_books.mu) says which port stands for which node: every
 * worker hands out the same port for the same node.  Each worker's table
 * (struct cluster_nodes, its loop only) holds the services it made for
 * the nodes, each bound on the node's port with SO_REUSEPORT beside the
 * other workers' (the kernel spreads a port's clients over the workers
 * that have bound it; one that has not yet takes none).
 */
#include "cluster.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"
#include "service.h"
#include "shared.h"

#define NODE_ID_MAX 64          /* Redis node ids are 40 hex digits */
#define NODE_HOST_MAX 256
#define BIND_TRIES 8            /* ports tried when one is taken */

/* ------------------------------------------------------------ the book */

struct node {
    char id[NODE_ID_MAX];       /* "" until a reply gives it */
    char host[NODE_HOST_MAX];   /* the name the node is reached by */
    char ip[64];                /* its address when a reply gives one */
    int port;                   /* its (TLS) port */
    int local;                  /* the port standing for it */
    bool bound;                 /* some worker listens on local */
};

struct book {
    char *name;                 /* owned: the service's */
    int lo, hi;                 /* its cluster_ports */
    struct node *nodes;         /* owned: n of cap */
    int n, cap;
    unsigned char *taken;       /* owned: per port, given (1) or held by
                                   someone else (2) */
    struct book *next;
};

struct cluster_books {
    pthread_mutex_t mu;         /* guards every book */
    struct book *books;
};

struct cluster_books *
cluster_books_new(void)
{
    struct cluster_books *cb = calloc(1, sizeof(*cb));

    if (cb != NULL) {
        pthread_mutex_init(&cb->mu, NULL);
    }
    return cb;
}

void
cluster_books_free(struct cluster_books *cb)
{
    struct book *b, *next;

    if (cb == NULL) {
        return;
    }
    for (b = cb->books; b != NULL; b = next) {
        next = b->next;
        free(b->name);
        free(b->nodes);
        free(b->taken);
        free(b);
    }
    pthread_mutex_destroy(&cb->mu);
    free(cb);
}

/* The book of sc's name, made on first use (a reload keeps it: ports stay
 * with their nodes).  Under cb->mu.  NULL on ENOMEM. */
static struct book *
book_of(struct cluster_books *cb, const struct service_config *sc)
{
    struct book *b;

    for (b = cb->books; b != NULL; b = b->next) {
        if (strcmp(b->name, sc->name) == 0) {
            return b;
        }
    }
    if ((b = calloc(1, sizeof(*b))) == NULL ||
        (b->name = strdup(sc->name)) == NULL ||
        (b->taken = calloc((size_t)(sc->cluster_port_hi -
                                    sc->cluster_port_lo + 1), 1)) == NULL) {
        if (b != NULL) {
            free(b->name);
        }
        free(b);
        return NULL;
    }
    b->lo = sc->cluster_port_lo;
    b->hi = sc->cluster_port_hi;
    b->next = cb->books;
    cb->books = b;
    return b;
}

static bool
same(const char *s, size_t n, const char *z)
{
    return n > 0 && strlen(z) == n && memcmp(s, z, n) == 0;
}

/* The node ref names, or NULL: by id, else by port and host or ip. */
static struct node *
find(struct book *b, const struct cluster_node_ref *ref, const char *host,
     size_t hostlen)
{
    for (int i = 0; i < b->n; i++) {
        struct node *nd = &b->nodes[i];

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

/* A free port of the book, marked given; -1 when none is left. */
static int
take_port(struct book *b)
{
    for (int p = b->lo; p <= b->hi; p++) {
        if (b->taken[p - b->lo] == 0) {
            b->taken[p - b->lo] = 1;
            return p;
        }
    }
    return -1;
}

static void
copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (s != NULL && n > 0 && n < cap) {
        memcpy(dst, s, n);
        dst[n] = '\0';
    }
}

/*
 * The node ref names, found or entered with a port of its own; a copy
 * into *out.  0, or -1 when it has none (*exhausted set when the range is
 * used up).  Under cb->mu.
 */
static int
book_node(struct book *b, const struct cluster_node_ref *ref,
          const char *host, size_t hostlen, struct node *out,
          bool *exhausted)
{
    struct node *nd = find(b, ref, host, hostlen);

    if (nd == NULL) {
        if (b->n == b->cap) {
            int cap = b->cap ? 2 * b->cap : 8;
            struct node *nn = realloc(b->nodes, (size_t)cap * sizeof(*nn));

            if (nn == NULL) {
                return -1;
            }
            b->nodes = nn;
            b->cap = cap;
        }
        nd = &b->nodes[b->n];
        memset(nd, 0, sizeof(*nd));
        copy_field(nd->host, sizeof(nd->host), host, hostlen);
        nd->port = (int)ref->port;
        if ((nd->local = take_port(b)) < 0) {
            *exhausted = true;
            return -1;
        }
        b->n++;
    }
    if (nd->id[0] == '\0' && ref->id != NULL) {
        copy_field(nd->id, sizeof(nd->id), ref->id, ref->idlen);
    }
    if (nd->ip[0] == '\0' && ref->ip != NULL) {
        copy_field(nd->ip, sizeof(nd->ip), ref->ip, ref->iplen);
    }
    *out = *nd;
    return 0;
}

/* Some worker listens on the node's port now.  Under cb->mu. */
static void
book_bound(struct book *b, const struct node *which)
{
    for (int i = 0; i < b->n; i++) {
        if (b->nodes[i].local == which->local) {
            b->nodes[i].bound = true;
        }
    }
}

/* Port p is held by another program: the node gets the next free one.
 * Under cb->mu.  The new port, or -1. */
static int
book_move(struct book *b, const struct node *which, bool *exhausted)
{
    for (int i = 0; i < b->n; i++) {
        struct node *nd = &b->nodes[i];

        if (nd->local == which->local && nd->port == which->port &&
            strcmp(nd->host, which->host) == 0) {
            b->taken[nd->local - b->lo] = 2;
            if ((nd->local = take_port(b)) < 0) {
                *exhausted = true;
                memmove(nd, nd + 1, sizeof(*nd) * (size_t)(b->n - i - 1));
                b->n--;
                return -1;
            }
            return nd->local;
        }
    }
    return -1;
}

/* ------------------------------------------------------------ a worker's */

struct mine {
    int local;                  /* the node's port */
    struct service_config *sc;  /* owned: its service's settings */
    struct service *svc;        /* owned: listening on local */
};

struct cluster_nodes {
    const struct service_config *sc;    /* ref: the cluster service's */
    struct service_env env;             /* copy: the loop's */
    struct cluster_books *cb;           /* ref: the process's */
    struct mine *mine;                  /* owned: n of cap */
    int n, cap;
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
    cn->cb = shared_cluster_books(env->shared);
    return cn;
}

void
cluster_nodes_free(struct cluster_nodes *cn)
{
    if (cn == NULL) {
        return;
    }
    for (int i = 0; i < cn->n; i++) {
        service_free(cn->mine[i].svc);
        config_service_free(cn->mine[i].sc);
    }
    free(cn->mine);
    free(cn);
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

/* This worker's service for node nd, on nd->local: made and bound now if
 * it has none.  0; 1 when the port is held by another program (the book
 * moves the node); -1 when it could not be made (logged). */
static int
start_mine(struct cluster_nodes *cn, const struct node *nd)
{
    struct mine *m;
    char err[512];
    enum service_key bad;
    int rc;

    for (int i = 0; i < cn->n; i++) {
        if (cn->mine[i].local == nd->local) {
            return 0;
        }
    }
    if (cn->n == cn->cap) {
        int cap = cn->cap ? 2 * cn->cap : 8;
        struct mine *nm = realloc(cn->mine, (size_t)cap * sizeof(*nm));

        if (nm == NULL) {
            return -1;
        }
        cn->mine = nm;
        cn->cap = cap;
    }
    m = &cn->mine[cn->n];
    m->local = nd->local;
    if ((m->sc = node_config(cn, nd)) == NULL ||
        (m->svc = service_new(m->sc, &cn->env, err, sizeof(err),
                              &bad)) == NULL) {
        log_error("event=cluster-node service=%s node=%s:%d result=failed "
                  "error=\"%s\"", cn->sc->name, nd->host, nd->port,
                  m->sc == NULL ? "out of memory" : err);
        config_service_free(m->sc);
        return -1;
    }
    service_set_cluster(m->svc, cn);
    /* The first to bind checks nobody else holds the port: SO_REUSEPORT
     * would share it silently with another program that set it too. */
    if ((!nd->bound && listener_probe(m->sc, err, sizeof(err)) < 0) ||
        service_listen(m->svc, nd->local, err, sizeof(err)) < 0) {
        rc = strstr(err, "in use") != NULL ? 1 : -1;
        log_warn("event=cluster-node service=%s node=%s:%d port=%d "
                 "error=\"%s\"%s", cn->sc->name, nd->host, nd->port,
                 nd->local, err,
                 rc == 1 ? " action=\"trying the next port\"" : "");
        service_free(m->svc);
        config_service_free(m->sc);
        return rc;
    }
    log_info("event=cluster-node service=%s node=%s:%d id=%s listen=%s",
             cn->sc->name, nd->host, nd->port, nd->id[0] ? nd->id : "-",
             service_listen_addr(m->svc));
    cn->n++;
    return 0;
}

int
cluster_nodes_port(struct cluster_nodes *cn,
                   const struct cluster_node_ref *ref, const char *self_host)
{
    const char *host = ref->host;
    size_t hostlen = ref->hostlen;
    bool exhausted = false;
    struct book *b;
    struct node nd;
    int rc = -1;

    if (ref->port <= 0 || ref->port > 65535 || cn->retired) {
        return -1;      /* ":0": a node still in handshake */
    }
    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        host = self_host;   /* "the host you asked" */
        hostlen = strlen(self_host);
    }
    if (hostlen == 0 || hostlen >= NODE_HOST_MAX ||
        (ref->id != NULL && ref->idlen >= NODE_ID_MAX)) {
        return -1;
    }
    /* The book is held while this worker binds: another worker naming
     * the same node waits, then finds it bound (or moved). */
    pthread_mutex_lock(&cn->cb->mu);
    if ((b = book_of(cn->cb, cn->sc)) != NULL &&
        book_node(b, ref, host, hostlen, &nd, &exhausted) == 0) {
        for (int tries = 0; tries < BIND_TRIES; tries++) {
            int r = start_mine(cn, &nd);

            if (r <= 0) {
                rc = r == 0 ? nd.local : -1;
                if (r == 0) {
                    book_bound(b, &nd);
                }
                break;
            }
            if ((nd.local = book_move(b, &nd, &exhausted)) < 0) {
                break;
            }
        }
    }
    if (b != NULL) {
        cn->fig.nodes = (unsigned)b->n;
    }
    pthread_mutex_unlock(&cn->cb->mu);
    if (exhausted) {
        cn->fig.exhausted++;
        log_error("event=cluster-node service=%s node=%.*s:%ld "
                  "result=failed error=\"cluster_ports %s are all given: "
                  "no port for this node\"", cn->sc->name, (int)hostlen,
                  host, ref->port, cn->sc->cluster_ports);
    }
    return rc;
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
        service_retire(cn->mine[i].svc);
    }
}

unsigned
cluster_nodes_clients(const struct cluster_nodes *cn)
{
    unsigned n = 0;

    for (int i = 0; cn != NULL && i < cn->n; i++) {
        n += service_clients(cn->mine[i].svc);
    }
    return n;
}

void
cluster_nodes_figures(const struct cluster_nodes *cn,
                      struct cluster_figures *out)
{
    *out = cn->fig;
}
