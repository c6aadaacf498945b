/*
 * cluster.h: mode = cluster (issue #16): a local port, and a service of
 * its own, for every node of the cluster behind a service.
 *
 * A cluster client learns the nodes from the replies it gets (CLUSTER
 * SLOTS, SHARDS, NODES, REPLICAS and -MOVED / -ASK redirects); the
 * session rewrites every node address in them (cluster_rewrite.c) to
 * 127.0.0.1 and the local port this table gives it.  A node is given its
 * port from cluster_ports the first time a reply names it, and its
 * service (a copy of the cluster's settings with the node as upstream:
 * its own TLS name, pool, AUTH) is made and listening before that reply
 * goes on, so the port answers as soon as the client knows it.  A node
 * keeps its port for the service's life, known by its id, or by host
 * and port until a reply gives the id.
 *
 * Which port stands for which node is the process's (cluster_books, in
 * struct shared, its own lock): every worker gives a node the same port.
 * Each worker makes its own services for the nodes it sees named, bound
 * with SO_REUSEPORT beside the other workers' (struct cluster_nodes, one
 * per cluster service instance, owned by it, on its worker's loop).
 */
#ifndef REDSLEEVE_CLUSTER_H
#define REDSLEEVE_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster_rewrite.h"
#include "config.h"

struct service;
struct service_env;
struct cluster_nodes;

/* cluster_books_new() / cluster_books_free(cb): the process's ports of
 * every cluster node (shared.c owns them). */
struct cluster_books;
struct cluster_books *cluster_books_new(void);
void cluster_books_free(struct cluster_books *cb);

/* Figures for /metrics and the stop line. */
struct cluster_figures {
    unsigned nodes;             /* nodes known (each with a port), the
                                   process's */
    uint64_t rewritten;         /* replies rewritten */
    uint64_t redirects;         /* -MOVED / -ASK among them */
    uint64_t exhausted;         /* nodes that found no free port */
};

/*
 * cluster_nodes_new(sc, env): the empty table of the cluster service sc
 * (mode = cluster) on env's loop; env is copied.  NULL on ENOMEM.
 */
struct cluster_nodes *cluster_nodes_new(const struct service_config *sc,
                                        const struct service_env *env);

/* cluster_nodes_free(cn): closes every node's service and its clients;
 * NULL is a no-op. */
void cluster_nodes_free(struct cluster_nodes *cn);

/*
 * cluster_nodes_port(cn, ref, self_host): the local port standing for the
 * node ref names (self_host stands in for an empty or "?" host: the node
 * that replied), given and made listening at first sight.  -1 when it has
 * none (cluster_ports used up, or its service could not be made: logged).
 */
int cluster_nodes_port(struct cluster_nodes *cn,
                       const struct cluster_node_ref *ref,
                       const char *self_host);

/* cluster_nodes_count(cn, kind): a reply of kind was rewritten. */
void cluster_nodes_count(struct cluster_nodes *cn, enum cluster_reply kind);

/* cluster_nodes_retire(cn): every node's service stops accepting (its
 * clients go on). */
void cluster_nodes_retire(struct cluster_nodes *cn);

/* cluster_nodes_clients(cn): clients on the nodes' ports now. */
unsigned cluster_nodes_clients(const struct cluster_nodes *cn);

/* cluster_nodes_figures(cn, out). */
void cluster_nodes_figures(const struct cluster_nodes *cn,
                           struct cluster_figures *out);

#endif
