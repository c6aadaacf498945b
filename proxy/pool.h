/*
 * pool.h: a service's warm links: connected, handshaken, authenticated.
 *
 * pool.c and pool_reset.c own the idle links and the ones they are
 * filling, draining or resetting.  It keeps pool_min_idle links ready (refilling in the
 * background with back-off and jitter when the upstream fails), lends one
 * to each new client (pool_take), and takes links back from finished
 * sessions (pool_recycle): a clean session's link (track.h) whose replies
 * all arrived goes back as it is; any other has the replies still owed
 * read and dropped, then gets RESET (and AUTH again) and ECHO of a random
 * nonce, and is kept only if the answers are exactly +RESET (+OK) and the
 * nonce.  It keeps as many idle links as the most clients its service
 * had at once in the last minute (at least pool_min_idle, at most
 * pool_max_idle when set) and closes the rest slowly.  Idle links are
 * checked with PING and retired at link_max_lifetime.  It also keeps the
 * service's upstream health: the last failure, logged once per cause.
 */
#ifndef REDSLEEVE_POOL_H
#define REDSLEEVE_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "resp.h"
#include "upstream.h"

struct pool;

#define POOL_REASONS 24         /* distinct close reasons counted */

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
    uint64_t recycled;          /* used links kept (after RESET or clean) */
    uint64_t returned_clean;    /* ... of them handed back without RESET */
    uint64_t discarded;         /* links closed instead of recycled */
    uint64_t fill_failures;     /* pool links that never became ready */
    uint64_t reauths;           /* IAM: links logged in again with a fresh
                                   token (idle in the pool, or held) */
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
 * pool_recycle(p, link, rs, owed, clean): takes ownership of a link whose
 * client left.  rs is the reply scanner's state (a reply may be half read)
 * and owed the replies still to come.  Clean (the session touched no
 * connection state) with nothing owed: the link is idle again at once,
 * nothing sent.  Otherwise the pool drops the owed replies, resets the
 * link and keeps it, or closes it when anything is off or takes longer
 * than drain_timeout.
 */
void pool_recycle(struct pool *p, struct link *link,
                  const struct resp_scanner *rs, int64_t owed, bool clean);

/*
 * pool_note_demand(p, active): a client arrived; active clients of the
 * service now (idle links are kept for the recent peak of it).
 */
void pool_note_demand(struct pool *p, unsigned active);

/*
 * pool_retire(p): reload replaced the service: closes every link held now
 * and, from now on, every link a leaving client hands back (counted as
 * closed for "reload"); nothing is refilled.
 */
void pool_retire(struct pool *p);

/*
 * pool_mark_stale(p, peer, why): peer is no longer the primary of a role =
 * primary service: closes the idle links to peer and resolves the name
 * again at once.
 */
void pool_mark_stale(struct pool *p, const char *peer, const char *why);

/*
 * pool_suspect(p, peer, why): a client's reply from peer said READONLY or
 * LOADING.  That is a hint, not proof (a script can return any error):
 * one idle link to peer is asked ROLE, and only an answer that is not
 * "master" (or a LOADING error) leads to pool_mark_stale.  At most one
 * probe at a time and one per second.
 */
void pool_suspect(struct pool *p, const char *peer, const char *why);

/*
 * pool_set_drain_cb(p, cb, arg): cb(+1, arg) when a departed client's link
 * starts being drained or reset, cb(-1, arg) when it is idle again or
 * closed: it holds a descriptor meanwhile (the descriptor budget counts
 * it).
 */
void pool_set_drain_cb(struct pool *p, void (*cb)(int delta, void *arg),
                       void *arg);

/* pool_set_idle_limit(p, n): with pool_max_idle = auto, keep at most n
 * idle links (what the descriptor limit leaves them); 0 = no limit. */
void pool_set_idle_limit(struct pool *p, unsigned n);

/* pool_first_tried(p): the first refill attempt has ended (either way), or
 * none is to be made (pool_min_idle = 0). */
bool pool_first_tried(const struct pool *p);

/* pool_recycling(p): false when links are never recycled (pool_max_idle = 0
 * or the server does not know RESET). */
bool pool_recycling(const struct pool *p);

/*
 * pool_note_link_failed(p, step, reason) / pool_note_ok(p): upstream
 * health, logged once per distinct cause.  step: link_failure_step() of
 * the failed link (counted by kind); reason: its text, kept by the caller.
 */
void pool_note_link_failed(struct pool *p, enum link_fail step,
                           const char *reason);
void pool_note_ok(struct pool *p);

/* pool_note_closed(p, reason): a used link was closed, not recycled, for
 * reason (a static string); counted by reason. */
void pool_note_closed(struct pool *p, const char *reason);

/* pool_get_stats(p, st): counters for logs and metrics. */
void pool_get_stats(const struct pool *p, struct pool_stats *st);

/* pool_note_reauth(p): a link a client holds logged in again (IAM). */
void pool_note_reauth(struct pool *p);

#endif
