/*
 * upstream_int.h: a link's insides, shared by upstream.c (its I/O once
 * ready, its accessors and its end) and upstream_connect.c (its way from
 * a name to ready).  Include it only from upstream*.c; everyone else sees
 * struct link through upstream.h alone.
 */
#ifndef REDSLEEVE_UPSTREAM_INT_H
#define REDSLEEVE_UPSTREAM_INT_H

#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "resolve.h"
#include "resp.h"
#include "tls.h"
#include "upstream.h"

#define AUTH_BUF_MAX 4096       /* longest AUTH + ROLE replies we read */
#define LINK_IOERR_MAX 128      /* an I/O error text once ready */

enum link_state {
    LINK_STARTING = 0,
    LINK_RESOLVING,
    LINK_CONNECTING,
    LINK_HANDSHAKING,
    LINK_AUTHENTICATING,
    LINK_READY,
    LINK_FAILED
};

/*
 * What a link needs only until it is ready (about 5 KiB): verification
 * details, the AUTH/ROLE replies and the failure text.  Freed when the
 * link becomes ready, so an idle or busy link carries none of it.
 */
struct link_init {
    struct tls_verify_info vinfo;       /* filled by tls.c's callback */
    struct resp_scanner rs;             /* frames the AUTH/ROLE replies */
    char *auth;                         /* owned, secret: this link's AUTH
                                           (an IAM token is signed for
                                           each link); wiped when freed */
    size_t auth_len;                    /* bytes in auth */
    size_t auth_sent;                   /* AUTH bytes written so far */
    size_t role_sent;                   /* ROLE bytes written so far */
    bool auth_pending;                  /* the AUTH reply is still due */
    bool role_pending;                  /* the ROLE reply is still due */
    size_t len;                         /* reply bytes in buf */
    size_t scanned;                     /* of them, fed to rs */
    size_t frame_start;                 /* where the current reply starts */
    char error[TLS_REASON_MAX];         /* why it failed, "" if it did not */
    enum link_fail kind;                /* what failed, LINK_FAIL_NONE */
    enum link_fail step;                /* kind, or for a silent failure
                                           the step it happened in */
    enum tls_fail tls;                  /* the failed handshake's class,
                                           TLS_FAIL_COUNT if none */
    char buf[AUTH_BUF_MAX];             /* reply bytes */
};

struct link {
    enum link_state state;              /* see the diagram above */
    int fd;                             /* owned: the TCP socket, -1 = none */
    SSL *ssl;                           /* owned: NULL until connected */
    struct event ev_read;               /* owned: readable, persistent */
    struct event ev_write;              /* owned: writable, persistent */
    struct event ev_timer;              /* owned: start, timeouts, reports */
    bool reading;                       /* ev_read is added */
    bool writing;                       /* ev_write is added */
    bool shut_sent;                     /* close_notify sent */
    bool resumed;                       /* the handshake resumed a session */
    bool held;                          /* TLS buffers may be allocated */
    struct timeval born;                /* when link_new made it */
    double authed;                      /* monotonic: its last AUTH went
                                           out (made, then each renewal) */
    double t_connect;                   /* monotonic: first connect() */
    double t_handshake;                 /* monotonic: handshake began */
    const struct link_params *p;        /* ref: owner is the service */
    link_ready_cb ready_cb;             /* who to tell when ready/failed */
    link_io_cb io_cb;                   /* readiness, once ready */
    void *arg;                          /* ref: the owner (a session) */
    struct resolve_req resolve;         /* owned: the lookup under way */
    struct evutil_addrinfo *addrs;      /* owned: resolved addresses */
    struct evutil_addrinfo *next_addr;  /* ref: into addrs, next to try */
    struct link_init *init;             /* owned: until ready, then NULL */
    char peer[INET6_ADDRSTRLEN + 8];    /* address:port connected to */
    char ioerr[LINK_IOERR_MAX];         /* why I/O failed once ready */
};

/* link_init_free(in): frees a link's set-up state (its AUTH wiped). */
void link_init_free(struct link_init *in);

/* link_close_socket(l): stops watching, frees the SSL, closes the fd. */
void link_close_socket(struct link *l);

#endif
