/*
 * session.h: one client and its upstream link, for the client's whole life.
 *
 * session.c owns the client socket and events, the link it creates and
 * the bounded pending buffers of both directions; session_end.c owns the
 * single teardown (session_close) and the verdict on the link.
 * session.c relays bytes unchanged (nothing split, reordered or
 * rewritten) while resp.c/track.c watch them, so that when the client
 * leaves a clean link goes back to the pool.  The one exception is a
 * client's own RESET on a link where we inject AUTH: our AUTH follows it
 * and its +OK is dropped, so the client stays logged in and sees exactly
 * +RESET.  The service that accepted the client
 * lends a struct session_host: configuration, link parameters, the loop's
 * scratch buffer, and a callback told when a session ends.
 */
#ifndef REDSLEEVE_SESSION_H
#define REDSLEEVE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "track.h"
#include "upstream.h"

struct event_base;
struct cluster_node_ref;
struct mux;
struct pool;
struct session;

#define SESSION_ERROR_MAX 320

struct session_host {
    const struct service_config *sc;    /* ref: owner is the config */
    const struct link_params *lp;       /* ref: owner is the service */
    struct event_base *base;            /* ref: the loop */
    char *scratch;                      /* ref: the loop's read buffer */
    size_t scratch_len;                 /* its size */
    uint64_t *next_id;                  /* ref: session id counter */
    void (*closed_cb)(struct session_host *h, void *arg);  /* after free */
    void *closed_arg;                   /* ref: for closed_cb */
    struct pool *pool;                  /* ref: the service's warm links */
    /* a link to peer answered READONLY/LOADING on a role = primary
     * service (why: the reply's first line) */
    void (*stale_cb)(struct session_host *h, const char *peer,
                     const char *why, void *arg);
    /* mode = cluster: the local port standing for a node a reply names
     * (self: the host of the node that replied, for "" or "?"), from
     * service.c; -1 when it has none.  NULL otherwise. */
    int (*node_port)(void *arg, const struct cluster_node_ref *ref,
                     const char *self);
    void *node_arg;                     /* ref: for node_port */
    struct mux *mux;                    /* owned: pool_mode = shared, its
                                           shared links; NULL otherwise */
    /* shared mode: a client's bytes (session_shared.c, set by
     * session_host_shared); 0, or -1 when it closed the session */
    int (*shared_read)(struct session *s, const char *buf, size_t n);
    unsigned npinned;                   /* shared mode: clients with a
                                           link of their own now */
    uint64_t pins[TRACK_PIN_KINDS];     /* ... pinned since start, by why */
    /* shared mode: a pinned client whose state is gone again goes back
     * to shared links (session_shared.c); 0, or -1 when closed */
    int (*unpin)(struct session *s);
    uint64_t unpins;                    /* ... clients that went back */
    uint64_t cluster_rewrites;          /* replies rewritten ... */
    uint64_t cluster_redirects;         /* ... of them -MOVED / -ASK */
    uint64_t cluster_moved;             /* -MOVED replies seen */
    struct session *sessions;           /* ref list: live sessions */
    struct session *warm;               /* ref list: links holding TLS
                                           buffers (see session_io.c) */
    struct event *ev_cool;              /* owned: releases them, NULL
                                           until first needed */
    struct event *ev_reauth;            /* owned: IAM, looks for held links
                                           due a fresh AUTH; NULL until the
                                           first session of an IAM service */
    unsigned nsessions;                 /* length of sessions */
    uint64_t total;                     /* sessions ever started */
    uint64_t rx_total;                  /* bytes from clients */
    uint64_t tx_total;                  /* bytes from the upstream */
};

/*
 * session_new(h, fd, addr, addrlen): takes ownership of the accepted,
 * non-blocking client socket fd and starts a link for it.  Returns 0, or
 * -1 (fd closed, nothing kept) when out of memory.
 */
int session_new(struct session_host *h, int fd, const struct sockaddr *addr,
                int addrlen) MUST_CHECK;

/*
 * session_close(s, reason): the only teardown.  Logs the one close line,
 * frees everything, unlinks s from its host and calls the host's
 * closed_cb.  s is invalid afterwards.
 */
void session_close(struct session *s, const char *reason);

/* session_close_all(h, reason): closes every live session of h. */
void session_close_all(struct session_host *h, const char *reason);

/* Client and link callbacks run by this thread so far (busy_poll watches
 * it to tell activity from an idle loop). */
extern _Thread_local unsigned long session_io_count;

/* session_host_shared(h, max_links): pool_mode = shared: h's clients go
 * on at most max_links shared links (h->mux).  0, or -1 on ENOMEM. */
int session_host_shared(struct session_host *h, unsigned max_links)
    MUST_CHECK;

/* session_host_clear(h): after session_close_all, frees what h holds. */
void session_host_clear(struct session_host *h);

#endif
