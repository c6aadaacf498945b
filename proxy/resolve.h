/*
 * resolve.h: turning the upstream's name into addresses, without blocking.
 *
 * resolve.c owns every evdns_getaddrinfo request and the addrinfo lists
 * it returns until they are handed to the caller.  Two shapes:
 *
 *   struct resolve_req: one lookup (a link resolving before it connects).
 *     Numeric hosts are converted at once, without the resolver; names go
 *     to evdns (never the blocking resolver).
 *   struct resolve_set: the addresses a name has now, refreshed now and
 *     then (the pool's view, to notice a name that moved).
 *
 * Both are embedded in their owner and set up with *_init; the owner
 * cancels with resolve_cancel / resolve_set_deinit before it goes away,
 * after which no callback comes.  It does not connect, log, or know what
 * the addresses are for.
 */
#ifndef REDSLEEVE_RESOLVE_H
#define REDSLEEVE_RESOLVE_H

#include <event2/util.h>    /* evutil_addrinfo: a macro for addrinfo */
#include <stdbool.h>
#include <stddef.h>

struct evdns_base;
struct evdns_getaddrinfo_request;
struct sockaddr;

#define RESOLVE_ADDRS 16        /* addresses of a name a set remembers */
#define RESOLVE_ADDR_MAX 64     /* "[v6]:port" with room to spare */

/*
 * Called once per resolve_start: err == 0 with res (the caller owns it:
 * evutil_freeaddrinfo), or err != 0 (resolve_strerror) and res NULL.  It
 * may come from inside resolve_start (numeric hosts, the hosts file, an
 * immediate failure; it must not free r then), never after
 * resolve_cancel.
 */
typedef void (*resolve_cb)(int err, struct evutil_addrinfo *res, void *arg);

struct resolve_req {
    struct evdns_getaddrinfo_request *req;  /* ref: libevent's, NULL when
                                               none is under way */
    bool pending;               /* resolve_start ran, the answer has not */
    resolve_cb cb;              /* who gets the answer */
    void *arg;                  /* ref: the owner */
};

/* resolve_init(r, cb, arg): r resolves nothing yet; answers go to cb. */
void resolve_init(struct resolve_req *r, resolve_cb cb, void *arg);

/*
 * resolve_start(r, dns, host, port, numeric): looks host:port up as a TCP
 * stream, for IPv4 and IPv6.  numeric: host is an IP literal, converted
 * without the resolver (dns may then be NULL).  The answer goes to the
 * callback, possibly before this returns.  r must not be under way.
 */
void resolve_start(struct resolve_req *r, struct evdns_base *dns,
                   const char *host, int port, bool numeric);

/* resolve_cancel(r): drops a lookup under way (no callback follows);
 * nothing under way is a no-op. */
void resolve_cancel(struct resolve_req *r);

/* resolve_is_busy(r): a lookup is under way. */
bool resolve_is_busy(const struct resolve_req *r);

/* resolve_strerror(err): the text of a callback's err. */
const char *resolve_strerror(int err);

/* resolve_format_addr(sa, out, outlen): "1.2.3.4:6379" or "[::1]:6379". */
void resolve_format_addr(const struct sockaddr *sa, char *out,
                         size_t outlen);

struct resolve_set;

/*
 * Called when a refresh failed (err != 0; the set keeps what it had) or
 * found a different set of addresses (err == 0; list is them, sorted and
 * joined with ","; was_known says whether the set knew any before, or
 * whether this is the first answer since init or resolve_set_forget).
 * An unchanged answer calls nothing.
 */
typedef void (*resolve_set_cb)(int err, const char *list, bool was_known,
                               void *arg);

struct resolve_set {
    struct resolve_req req;     /* owned: the refresh under way */
    double next;                /* loop time of the next refresh */
    char addrs[RESOLVE_ADDRS][RESOLVE_ADDR_MAX];    /* sorted */
    int naddrs;                 /* entries in addrs, once known */
    bool known;                 /* a refresh has succeeded */
    resolve_set_cb cb;          /* who hears of changes */
    void *arg;                  /* ref: the owner */
};

/* resolve_set_init(s, cb, arg): nothing known yet; changes go to cb. */
void resolve_set_init(struct resolve_set *s, resolve_set_cb cb, void *arg);

/* resolve_set_deinit(s): cancels a refresh under way. */
void resolve_set_deinit(struct resolve_set *s);

/*
 * resolve_set_refresh(s, dns, host, port, next): looks the name up again
 * unless a refresh is already under way; the next one is due at loop time
 * next (resolve_set_due).
 */
void resolve_set_refresh(struct resolve_set *s, struct evdns_base *dns,
                         const char *host, int port, double next);

/* resolve_set_due(s, now): the next refresh is due at loop time now. */
bool resolve_set_due(const struct resolve_set *s, double now);

/* resolve_set_forget(s): whatever the name says next counts as news. */
void resolve_set_forget(struct resolve_set *s);

/* resolve_set_has(s, addr): addr ("host:port" as resolve_format_addr
 * writes it) is one the name has now, or nothing is known yet. */
bool resolve_set_has(const struct resolve_set *s, const char *addr);

#endif
