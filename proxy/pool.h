/*
 * pool.h: a service's warm links: connected, handshaken, authenticated.
 *
 * pool.c owns the idle links and the ones it is filling, draining or
 * resetting.  It keeps pool_min_idle links ready (refilling in the
 * background with back-off and jitter when the upstream fails), lends one
 * to each new client (pool_take), and takes links back from finished
 * sessions (pool_recycle): it reads and drops the replies still owed,
 * sends RESET (and AUTH again), and keeps the link only if the answer is
 * exactly +RESET (+OK).  Idle links are checked with PING and retired at
 * link_max_lifetime.  It also keeps the service's upstream health: the
 * last failure, logged once per cause.
 */
#ifndef REDSLEEVE_POOL_H
#define REDSLEEVE_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "resp.h"
#include "upstream.h"

struct pool;

#define POOL_REASONS 24         /* distinct close reasons counted */
#define POOL_ADDRS 16           /* addresses of the name remembered */

enum pool_fail_kind {           /* link failures, for metrics */
    POOL_FAIL_DNS = 0,
    POOL_FAIL_CONNECT,
    POOL_FAIL_TLS,
    POOL_FAIL_AUTH,
    POOL_FAIL_ROLE,
    POOL_FAIL_OTHER,
    POOL_FAIL_KINDS
};

struct pool_stats {
    uint64_t hits;              /* clients given an idle link */
    uint64_t misses;            /* clients that had to wait for a new one */
    uint64_t recycled;          /* links returned clean after RESET */
    uint64_t discarded;         /* links closed instead of recycled */
    uint64_t fill_failures;     /* pool links that never became ready */
    uint64_t failures[POOL_FAIL_KINDS];     /* link failures by kind */
    bool upstream_up;           /* the last link attempt succeeded */
    unsigned idle;              /* links ready now */
    unsigned filling;           /* links being made for the pool */
    unsigned recycling;         /* links being drained, reset or pinged */
    struct {
        const char *reason;     /* static text: "pubsub", "drain-timeout" */
        uint64_t count;         /* links closed for it */
    } closed[POOL_REASONS];     /* why links were not recycled */
};

/*
 * pool_new(lp): an empty pool for the service whose links lp describes;
 * nothing starts until pool_start.  Returns NULL on ENOMEM.
 */
struct pool *pool_new(const struct link_params *lp);

/* pool_start(p): begins filling to pool_min_idle and the periodic checks. */
void pool_start(struct pool *p);

/* pool_free(p): closes every link the pool holds; NULL is a no-op. */
void pool_free(struct pool *p);

/*
 * pool_take(p): an idle, ready link (caller owns it and must link_set_io
 * at once), or NULL when none is idle (the caller makes its own link).
 */
struct link *pool_take(struct pool *p);

/*
 * pool_recycle(p, link, rs, owed): takes ownership of a link whose client
 * left.  rs is the reply scanner's state (a reply may be half read) and
 * owed the replies still to come; the pool drops them, resets the link and
 * keeps it, or closes it when anything is off or takes longer than
 * drain_timeout.
 */
void pool_recycle(struct pool *p, struct link *link,
                  const struct resp_scanner *rs, int64_t owed);

/*
 * pool_retire(p): reload replaced the service: closes every link held now
 * and, from now on, every link a leaving client hands back (counted as
 * closed for "reload"); nothing is refilled.
 */
void pool_retire(struct pool *p);

/*
 * pool_mark_stale(p, peer, why): a link to peer answered READONLY or
 * LOADING on a role = primary service: closes the idle links to peer and
 * resolves the name again at once.
 */
void pool_mark_stale(struct pool *p, const char *peer, const char *why);

/* pool_first_tried(p): the first refill attempt has ended (either way), or
 * none is to be made (pool_min_idle = 0). */
bool pool_first_tried(const struct pool *p);

/* pool_recycling(p): false when links are never recycled (pool_max_idle = 0
 * or the server does not know RESET). */
bool pool_recycling(const struct pool *p);

/* pool_note_failure(p, reason) / pool_note_ok(p): upstream health, logged
 * once per distinct cause. */
void pool_note_failure(struct pool *p, const char *reason);
void pool_note_ok(struct pool *p);

/* pool_note_closed(p, reason): a used link was closed, not recycled, for
 * reason (a static string); counted by reason. */
void pool_note_closed(struct pool *p, const char *reason);

/* pool_get_stats(p, st): counters for logs and metrics. */
void pool_get_stats(const struct pool *p, struct pool_stats *st);

#endif
