/*
 * cluster_discover.h: mode = cluster (issue #16): the topology, asked of
 * the configuration endpoint by redsleeve itself.
 *
 * Clients learn the nodes from the replies they ask for; the proxy also
 * asks on its own, so that a node gets its port before any client needs
 * it and a node that left is noticed.  One query is one link of the
 * cluster service's own (verified TLS, AUTH as every link), CLUSTER
 * SHARDS on it (CLUSTER SLOTS when the server refuses SHARDS: Redis
 * before 7), one complete reply read, the link closed.  When and why to
 * ask (a timer, a -MOVED, a node's link failing) is the caller's
 * (service.c); what the reply names is cluster_rewrite.c's.
 */
#ifndef REDSLEEVE_CLUSTER_DISCOVER_H
#define REDSLEEVE_CLUSTER_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster_rewrite.h"

struct link_params;
struct cluster_discover;

#define DISCOVER_REPLY_MAX (8u << 20)   /* bytes of one topology reply */
#define DISCOVER_DEADLINE 15.0          /* seconds for one query */

/*
 * Called once per query: the complete reply (kind SHARDS or SLOTS) and
 * error NULL, or reply NULL and a readable error.  The reply is lent for
 * the call.  The callback may start the next query, not free d.
 */
typedef void (*discover_cb)(void *arg, enum cluster_reply kind,
                            const char *reply, size_t len,
                            const char *error);

/* cluster_discover_new(lp, cb, arg): idle; NULL on ENOMEM. */
struct cluster_discover *cluster_discover_new(const struct link_params *lp,
                                              discover_cb cb, void *arg);

/* cluster_discover_start(d): a query begins (cb follows, never from
 * inside this call).  0, or -1 when one is under way or out of memory. */
int cluster_discover_start(struct cluster_discover *d);

/* cluster_discover_busy(d): a query is under way. */
bool cluster_discover_busy(const struct cluster_discover *d);

/* cluster_discover_free(d): a query under way is cancelled (no cb);
 * NULL is a no-op. */
void cluster_discover_free(struct cluster_discover *d);

#endif
