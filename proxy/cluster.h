/*
 * cluster.h: mode = cluster (issue #16): the book of which local port
 * stands for which node of a cluster.
 *
 * A cluster client learns the nodes from the replies it gets (CLUSTER
 * SLOTS, SHARDS, NODES, REPLICAS and -MOVED / -ASK redirects); the
 * session rewrites every node address in them (cluster_rewrite.c) to
 * 127.0.0.1 and the local port the book gives the node.  A node is
 * entered the first time a reply names it, with the first free port of
 * cluster_ports, and keeps it for the life of the process: it is known by
 * its id, or by host and port (or ip and port) until a reply gives the id.
 *
 * The book is pure (no I/O, no lock): shared.c keeps one per service name
 * for the whole process, under its own lock, so that every worker gives a
 * node the same port; service.c makes each worker's services for the
 * nodes (shared.h, service.h).
 */
#ifndef REDSLEEVE_CLUSTER_H
#define REDSLEEVE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster_rewrite.h"

#define CLUSTER_ID_MAX 64           /* Redis node ids are 40 hex digits */
#define CLUSTER_HOST_MAX 256

/* A node as the book knows it. */
struct cluster_node {
    char id[CLUSTER_ID_MAX];        /* "" until a reply gives it */
    char host[CLUSTER_HOST_MAX];    /* the name the node is reached by */
    char ip[64];                    /* its address when a reply gives one */
    int port;                       /* its (TLS) port */
    int local;                      /* the port standing for it */
    bool bound;                     /* some worker listens on local */
};

struct cluster_book;

/* cluster_book_new(name, lo, hi): an empty book for ports lo..hi; NULL
 * on ENOMEM.  cluster_book_free(b): NULL is a no-op. */
struct cluster_book *cluster_book_new(const char *name, int lo, int hi);
void cluster_book_free(struct cluster_book *b);

/* cluster_book_name(b): the service name it was made for. */
const char *cluster_book_name(const struct cluster_book *b);

/*
 * cluster_book_node(b, ref, host, hostlen, may_add, out, exhausted): the
 * node ref names (host, hostlen: its host, with "" or "?" already
 * replaced by the node that replied), found, or entered with a port of
 * its own when may_add; a copy in *out.  0, or -1 when it has none
 * (*exhausted set when cluster_ports are all given; else unknown and not
 * to be added, or out of memory).
 */
int cluster_book_node(struct cluster_book *b,
                      const struct cluster_node_ref *ref, const char *host,
                      size_t hostlen, bool may_add, struct cluster_node *out,
                      bool *exhausted);

/* cluster_book_bound(b, nd): some worker listens on nd's port now. */
void cluster_book_bound(struct cluster_book *b, const struct cluster_node *nd);

/*
 * cluster_book_move(b, nd, exhausted): nd's port is held by another
 * program: nd gets the next free port (the old one is never given
 * again).  The new port, or -1 (the node is dropped; *exhausted when the
 * range is used up).
 */
int cluster_book_move(struct cluster_book *b, const struct cluster_node *nd,
                      bool *exhausted);

/* cluster_book_range_is(b, lo, hi): b hands out lo..hi (a service of
 * the same name with another range gets a book of its own). */
bool cluster_book_range_is(const struct cluster_book *b, int lo, int hi);

/* cluster_book_size(b): nodes entered. */
unsigned cluster_book_size(const struct cluster_book *b);

#endif
