/*
 * cluster_nodes.h: mode = cluster (issue #16): one worker's services for
 * the nodes of a cluster service.
 *
 * The cluster's own service (service.c) stands for the configuration
 * endpoint; beside it, in each worker, every node gets a service of its
 * own: a copy of the cluster's settings with the node as upstream and its
 * own name checked in its certificate, listening on the local port the
 * process's book gives the node (cluster.h, kept in shared.c so that every
 * worker gives a node the same port; each binds it with SO_REUSEPORT).
 * Nodes are entered when a reply a client asked for names them (the
 * sessions' map, session_host.node_port) and by our own topology queries
 * (cluster_discover.h): at start, every cluster_refresh, and at most once
 * a second after a -MOVED or a node's link failing.  A node the topology
 * no longer names stops accepting; its service is freed when its last
 * client leaves.
 *
 * This module sits above service.c and uses only its API; the worker
 * (worker.c) keeps a cluster service's nodes beside the service.
 */
#ifndef REDSLEEVE_CLUSTER_NODES_H
#define REDSLEEVE_CLUSTER_NODES_H

#include "service.h"

struct cluster_nodes;

/* cluster_nodes_new(cl, env): the nodes of cluster service cl (which they
 * reference; free them first), none yet; cl's sessions map through them
 * from now on.  NULL on ENOMEM. */
struct cluster_nodes *cluster_nodes_new(struct service *cl,
                                        const struct service_env *env);

/* cluster_nodes_begin(ns): cl listens now: our own discovery starts.
 * cluster_nodes_take(to, from): a reload put `to`'s cluster in place of
 * `from`'s (from may be NULL): with the same upstream and cluster_ports,
 * to's nodes take over from's listening sockets (no node port closes);
 * then to's discovery starts. */
void cluster_nodes_begin(struct cluster_nodes *ns);
void cluster_nodes_take(struct cluster_nodes *to, struct cluster_nodes *from);

/* cluster_nodes_retire(ns): the cluster stopped accepting: so do its
 * nodes; no more queries.  cluster_nodes_shutdown(ns): that, and every
 * node's sessions closed.  cluster_nodes_free(ns): NULL is a no-op. */
void cluster_nodes_retire(struct cluster_nodes *ns);
void cluster_nodes_shutdown(struct cluster_nodes *ns);
void cluster_nodes_free(struct cluster_nodes *ns);

/* cluster_nodes_clients(ns): clients on the nodes' ports (NULL: 0). */
unsigned cluster_nodes_clients(const struct cluster_nodes *ns);

/* cluster_nodes_figures(ns, f): the cluster's figures (stats.h) added to
 * f, the cluster service's own.  cluster_nodes_count(ns): node services
 * (gone ones still serving their clients too; NULL: 0).
 * cluster_nodes_node_figures(ns, i, out): node i's, as service_figures,
 * marked as a node's. */
void cluster_nodes_figures(const struct cluster_nodes *ns,
                           struct svc_figures *f);
int cluster_nodes_count(const struct cluster_nodes *ns);
int cluster_nodes_node_figures(const struct cluster_nodes *ns, int i,
                               struct svc_figures *out) MUST_CHECK;

#endif
