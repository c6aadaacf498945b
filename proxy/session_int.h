/*
 * session_int.h: private to session.c, session_shared.c, session_end.c
 * and session_io.c;
 * nothing else includes it (the public API is session.h).
 *
 * Owns the layout of struct session (its pending bytes are buf.h's), and
 * declares the functions the four files share.  Calls run one way only:
 * session_shared.c (shared mode: dispatch, pinning) -> session.c (relays
 * bytes) -> session_end.c (decides how a session ends and frees it) ->
 * session_io.c (warm list, timer, and what each socket waits for);
 * session.c also calls session_io.c, and reaches session_shared.c only
 * through the host's shared_read hook.
 */
#ifndef REDSLEEVE_SESSION_INT_H
#define REDSLEEVE_SESSION_INT_H

#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "buf.h"
#include "resp.h"
#include "session.h"
#include "track.h"

#define SESSION_CQ_MAX 8            /* CLUSTER requests in flight followed */

enum session_state {
    SESSION_CONNECTING = 0,     /* link on its way; client bytes held */
    SESSION_RELAYING,           /* both ways */
    SESSION_LINGERING,          /* FIN sent to the client, draining it */
    SESSION_SHARED              /* pool_mode = shared, not pinned: no link
                                   of its own; requests go on h->mux */
};

#define SESSION_SHARED_INFLIGHT 128 /* a shared client's requests in flight */

struct session {
    struct session_host *h;         /* ref: the service's host block */
    struct session *prev, *next;    /* ref: h->sessions list */
    uint64_t id;                    /* for log lines */
    enum session_state state;       /* see above */
    int cfd;                        /* owned: client socket */
    struct event cev_read;          /* owned: client readable */
    struct event cev_write;         /* owned: client writable */
    struct event ev_timer;          /* owned: idle, linger, half-close */
    bool c_reading;                 /* cev_read is added */
    bool c_writing;                 /* cev_write is added */
    struct link *link;              /* owned: the upstream link */
    /* pool_mode = shared (session_shared.c) */
    struct mux_link *ml;            /* ref: the shared link its requests in
                                       flight are on; NULL when none */
    size_t ml_bytes;                /* request bytes sent since nothing was
                                       in flight */
    bool pin_wait;                  /* needs a link of its own: waits for
                                       its replies in flight first */
    bool backlog;                   /* c2u holds whole unscanned requests
                                       over the in-flight bound */
    bool pinned;                    /* has a link of its own (counted in
                                       h->npinned) */
    struct track_pinned pin;        /* ... and whether it may go back to
                                       shared links (track.h) */
    bool up_read_wants_write;       /* SSL_read said WANT_WRITE */
    bool up_write_wants_read;       /* SSL_write said WANT_READ */
    bool client_eof;                /* client sent FIN */
    bool up_eof;                    /* server closed */
    bool up_broken;                 /* TLS error: no close_notify */
    bool up_wdead;                  /* writing to the server failed */
    bool up_shut;                   /* close_notify sent for client EOF */
    const char *unrecyclable;       /* why the link was not kept, once
                                       decided (static text) */
    bool reused;                    /* the link came from the pool */
    bool scan_off;                  /* a scanner failed: relay blind */
    bool swallowing;                /* dropping our AUTH's reply */
    bool reauth_timed;              /* the AUTH in flight is the timed
                                       re-AUTH (IAM), not a RESET's */
    bool reauth_warned;             /* said once that it could not sign */
    bool stale;                     /* the server said READONLY/LOADING on
                                       a role = primary service: close at
                                       the next command boundary */
    bool drain_expired;             /* the client left and the replies
                                       owed took longer than drain_timeout:
                                       not recycled */
    struct resp_scanner rq;         /* frames client requests */
    struct resp_scanner rp;         /* frames server replies */
    struct track tr;                /* replies owed, recyclable? */
    /* mode = cluster: a reply that names nodes (to a CLUSTER SLOTS,
     * SHARDS, NODES, REPLICAS request, or -MOVED / -ASK) is held whole in
     * held, rewritten (cluster.h), then passed on */
    struct {
        int64_t ordinal;            /* its reply's number (track.h) */
        int kind;                   /* enum cluster_reply */
    } cq[SESSION_CQ_MAX];
    int ncq;
    bool holding;                   /* a reply is being held */
    int hold_kind;                  /* what it may be */
    struct buf held;            /* its bytes so far */
    struct buf c2u;             /* client bytes for the server */
    struct buf u2c;             /* server bytes for the client */
    uint64_t rx;                    /* bytes read from the client */
    uint64_t tx;                    /* bytes read from the server */
    struct timeval started;         /* accept time */
    struct timeval last_active;     /* last byte either way */
    struct session *wprev, *wnext;  /* ref: h->warm list */
    bool warm;                      /* on it */
    struct timeval settled;         /* last time nothing was owed */
    const char *reason;             /* why it is ending, NULL = not yet */
    char client[INET6_ADDRSTRLEN + 8];  /* client address for logs */
};

/* --------------------------------------------- defined in session_io.c */

/* session_touch(s): s was active now; puts it on h->warm. */
void session_touch(struct session *s);

/* session_settle_buffers(s): when nothing is owed or waiting, hands s's
 * TLS buffers back if s had been quiet before this exchange. */
void session_settle_buffers(struct session *s);

/* session_warm_remove(s): takes s off h->warm (a no-op when not on it). */
void session_warm_remove(struct session *s);

/* session_set_timer(s, seconds): (re)arms s->ev_timer. */
void session_set_timer(struct session *s, double seconds);

/* session_elapsed(from, to): seconds from from to to. */
double session_elapsed(const struct timeval *from, const struct timeval *to);

/* session_update_interest(s): the one place that decides what both
 * sockets wait for; every state change ends by calling it. */
void session_update_interest(struct session *s);

/* ------------------------------------------------ defined in session.c */

/* session_to_client(s, buf, n): delivers n server bytes, holding what the
 * socket does not take.  0, or -1 when s was closed. */
int session_to_client(struct session *s, const char *buf, size_t n);

/* session_relay_replies(s, buf, n): server bytes for s's client, counted,
 * rewritten in cluster mode.  0, or -1 when s was closed. */
int session_relay_replies(struct session *s, const char *buf, size_t n);

/* session_relay_requests(s, buf, n): client bytes for s's own link,
 * counted (AUTH after a RESET).  0, or -1 when s was closed. */
int session_relay_requests(struct session *s, const char *buf, size_t n);

/* session_refuse(s, why): "-ERR redsleeve: upstream ..." and linger. */
void session_refuse(struct session *s, const char *why);

/* session_take_link(s): s gets a link of its own (pool or new).  0, or -1
 * when s was closed. */
int session_take_link(struct session *s);

/* -------------------------------------------- defined in session_end.c */

/* session_link_verdict(s): NULL when s's link can go back to the pool,
 * else why not (static text). */
const char *session_link_verdict(const struct session *s);

/* session_linger(s, reason): the server side is finished: frees the link
 * and closes towards the client.  0, or -1 when s was closed (s is gone). */
int session_linger(struct session *s, const char *reason);

/* session_settle(s): after any progress, passes on closes now due and
 * refreshes interest.  0, or -1 when s was closed (s is gone). */
int session_settle(struct session *s);

/* session_timer_cb: s->ev_timer's callback (idle, drain, linger). */
void session_timer_cb(evutil_socket_t fd, short what, void *arg);

#endif
