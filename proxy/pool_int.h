/*
 * pool_int.h: what pool.c and pool_reset.c share, and nothing else sees.
 *
 * The pool's own structs (a pool, and a link while the pool holds it) and
 * the helpers of the lower files: pool_links.c (the list, health, stale
 * servers) and pool_reset.c (the commands a held link is sent: RESET +
 * nonce, PING, ROLE, AUTH, and their replies).  pool.c is on top.  Include it
 * only from pool*.c.
 */
#ifndef REDSLEEVE_POOL_INT_H
#define REDSLEEVE_POOL_INT_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "resolve.h"
#include "resp.h"
#include "upstream.h"

#define POOL_NONCE_BYTES 10         /* random bytes of a reset's nonce */
#define POOL_NONCE_LEN (2 * POOL_NONCE_BYTES)   /* ... as hex */
#define POOL_PEAK_SLOTS 6           /* demand slots remembered (1 min) */

enum pl_state {
    PL_FILLING = 0,     /* link_new under way */
    PL_IDLE,            /* ready to lend */
    PL_PINGING,         /* idle check: PING sent, +PONG expected */
    PL_DRAINING,        /* dropping replies owed to a departed client */
    PL_RESETTING,       /* RESET [+ AUTH] + ECHO nonce sent */
    PL_PROBING,         /* ROLE sent to confirm a READONLY/LOADING hint */
    PL_REAUTHING        /* IAM: AUTH with a fresh token sent, +OK expected */
};

/* A link while the pool holds it. */
struct pooled {
    struct pool *pool;              /* ref: owner */
    struct link *link;              /* owned */
    enum pl_state state;            /* see above */
    struct pooled *prev, *next;     /* ref: pool->links list */
    struct resp_scanner rs;         /* replies being read */
    int64_t owed;                   /* replies to drop (draining) */
    int answers;                    /* answers read while resetting */
    double deadline;                /* loop time by which it must be done */
    double idle_since;              /* loop time it became idle */
    char *out;                      /* owned, secret (AUTH): command being
                                       written; NULL once written */
    size_t out_off, out_len;        /* written so far, total */
    char nonce[POOL_NONCE_LEN + 1];      /* the ECHO a reset must answer */
    bool draining;                  /* a departed client's link, not yet
                                       idle again (told to drain_cb) */
};

struct pool {
    const struct link_params *lp;   /* ref: owner is the service */
    const struct service_config *sc;    /* ref: the service's config */
    struct event ev_tick;           /* owned: POOL_TICK timer */
    struct pooled *links;           /* owned list: every link held */
    unsigned nidle;                 /* PL_IDLE entries */
    unsigned nfilling;              /* PL_FILLING entries */
    unsigned fail_streak;           /* refill failures in a row */
    double next_fill;               /* no refill before this loop time */
    bool no_reset;                  /* the server rejected RESET */
    bool nonce_as_error;            /* after RESET the link is logged out
                                       (AUTH required, none injected), so
                                       ECHO is refused: the nonce is sent
                                       as a command name instead, and
                                       comes back in "unknown command" */
    bool started;                   /* pool_start ran */
    bool first_tried;               /* a refill attempt has ended */
    bool retired;                   /* reload replaced the service */
    unsigned peak[POOL_PEAK_SLOTS];      /* most clients at once, per slot */
    long peak_slot;                 /* slot number of peak[current] */
    double next_shrink;             /* no shrinking before this time */
    struct pooled *probe;           /* ref: link probing with ROLE */
    char probe_why[64];             /* the hint it checks */
    double next_probe;              /* no probe before this time */
    void (*drain_cb)(int delta, void *arg);     /* draining links +/- */
    void *drain_arg;                /* ref: for drain_cb */
    unsigned idle_limit;            /* auto's bound from the descriptor
                                       budget; 0 = none */
    struct resolve_set addrs;       /* owned: addresses the name has now */
    struct pool_stats stats;        /* counters */
};

/* pool_now(p): the loop's cached time, in seconds. */
double pool_now(const struct pool *p);

/* pool_set_state(pl, st): moves pl to st, keeping the idle and filling
 * counts (and the drain callback) right. */
void pool_set_state(struct pooled *pl, enum pl_state st);

/* pool_out_clear(pl): wipes and frees the command being written (it may
 * hold AUTH's password). */
void pool_out_clear(struct pooled *pl);

/* pool_discard(pl, why): closes a held link and forgets pl (counted as
 * closed for why unless it was still filling). */
void pool_discard(struct pooled *pl, const char *why);

/* pool_add(p, link, state): holds link (NULL while filling) in a new
 * entry, or NULL on ENOMEM (the caller keeps link). */
struct pooled *pool_add(struct pool *p, struct link *link,
                        enum pl_state state);

/* pool_unlink(pl): forgets pl (out of the list and its counts, freed);
 * the caller keeps or frees pl->link. */
void pool_unlink(struct pooled *pl);

/* pool_refresh_dns(p): resolves the name again (the answer goes to the
 * callback pool_new gave the address set). */
void pool_refresh_dns(struct pool *p);

/* pool_idle_cap(p): how many idle links are worth keeping now. */
unsigned pool_idle_cap(const struct pool *p);

/*
 * pool_start_command(pl, st): sends what state st sends (PL_RESETTING:
 * RESET [+ AUTH] + a nonce; PL_PINGING: PING; PL_PROBING: ROLE;
 * PL_REAUTHING: AUTH alone) and moves
 * pl to st.  0, or -1 when it cannot be written (the caller discards).
 */
int pool_start_command(struct pooled *pl, enum pl_state st);

/* pool_io_cb(link, what, pl): a held link's readiness: writes what is
 * left of a command, reads and judges the replies. */
void pool_io_cb(struct link *link, short what, void *arg);

#endif
