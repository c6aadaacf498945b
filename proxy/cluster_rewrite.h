/*
 * cluster_rewrite.h: node addresses in cluster replies, rewritten to the
 * local ports that stand for the nodes (issue #16, cluster mode).
 *
 * A cluster-aware client learns the nodes from CLUSTER SLOTS, SHARDS,
 * NODES and REPLICAS (SLAVES), and from -MOVED / -ASK redirects; every
 * address in them is one it can only reach over TLS.  These functions
 * take one complete reply and write it again with each node's address
 * replaced by 127.0.0.1 and the local port the caller's map gives it;
 * everything else is copied byte for byte, RESP2 or RESP3 alike.
 *
 * Which host names a node: its announced hostname, else the endpoint the
 * reply gives (host field, "endpoint"), else its ip.  "" or "?" (an
 * unknown endpoint, or "the host you asked") is passed to the map as it
 * is: the caller knows which node replied.  Pure: no I/O, no state, no
 * allocation but the output buffer; bounded by the input's size.
 */
#ifndef REDSLEEVE_CLUSTER_REWRITE_H
#define REDSLEEVE_CLUSTER_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define CLUSTER_LOCAL_HOST "127.0.0.1"

/* The replies that carry node addresses. */
enum cluster_reply {
    CLUSTER_REPLY_NONE = 0,     /* any other: not looked at */
    CLUSTER_REPLY_SLOTS,        /* CLUSTER SLOTS */
    CLUSTER_REPLY_SHARDS,       /* CLUSTER SHARDS */
    CLUSTER_REPLY_NODES,        /* CLUSTER NODES: one bulk of lines */
    CLUSTER_REPLY_REPLICAS,     /* CLUSTER REPLICAS/SLAVES: lines, each a
                                   bulk */
    CLUSTER_REPLY_REDIRECT      /* -MOVED / -ASK */
};

/* One node as a reply names it (strings are not NUL-terminated). */
struct cluster_node_ref {
    const char *id;             /* node id, or NULL when not given */
    size_t idlen;
    const char *host;           /* hostname, endpoint or ip; may be "" or
                                   "?" */
    size_t hostlen;
    const char *ip;             /* its address when the reply gives one
                                   beside the host, else NULL */
    size_t iplen;
    long port;                  /* the port the reply gives (TLS port when
                                   the reply has one) */
    bool redirect;              /* named by -MOVED / -ASK: any error line
                                   can say that (a script's too), so it
                                   is not proof the node exists */
};

/*
 * The caller's map: the local port standing for node n, or -1 when it
 * has none (the address is then left as it is).
 */
typedef int (*cluster_map_fn)(void *arg, const struct cluster_node_ref *n);

/* An output buffer that grows (owned by the caller; free(buf)). */
struct cluster_out {
    char *buf;                  /* owned */
    size_t len;
    size_t cap;
};

/*
 * cluster_request_kind(name, arg1): what a request's reply is, from its
 * lowercased name and first argument (resp_frame.name, .arg1).
 */
enum cluster_reply cluster_request_kind(const char *name, const char *arg1);

/*
 * cluster_is_redirect(head): an error line (without '-') that begins
 * "MOVED " or "ASK ".
 */
bool cluster_is_redirect(const char *head);

/*
 * cluster_rewrite(kind, in, len, map, arg, out): the reply in[0..len)
 * (exactly one complete RESP value) written to out with every node
 * address rewritten.  1 when something was rewritten; 0 when the reply
 * has nothing to rewrite, is not of the expected shape (an error reply,
 * say) or memory ran out: out is then empty and the reply goes on as it
 * was, never half rewritten.
 */
int cluster_rewrite(enum cluster_reply kind, const char *in, size_t len,
                    cluster_map_fn map, void *arg,
                    struct cluster_out *out) MUST_CHECK;

#endif
