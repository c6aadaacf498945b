/*
 * pool.c: warm links for one service (see pool.h).
 *
 *   filling --ready--> idle --pool_take--> (a session owns it)
 *                      idle --PING--> pinging --+PONG--> idle
 *   (session ends) --pool_recycle--> draining --owed replies read-->
 *                      resetting --+RESET [+OK] $nonce--> idle
 *   (clean session ends, nothing owed) --pool_recycle--> idle
 *   idle --a client's READONLY/LOADING--> probing --ROLE: master--> idle
 *   anything unexpected, a timeout, EOF --> closed (and refilled)
 *
 * One timer per pool (POOL_TICK) drives refills, idle checks, lifetimes
 * and the drain/reset deadlines.  Refill failures back off exponentially
 * with jitter so a dead upstream is not stormed.  This file is the top of
 * the pool: the API, filling, the name's refreshes (resolve.h), demand
 * and the tick.  Below it, pool_reset.c sends a held link its commands
 * and reads the replies (draining, RESET, PING, ROLE); at the bottom,
 * pool_links.c keeps the list of held links and the upstream's health.
 * Calls only go down.
 */
#include "pool_int.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define POOL_TICK_MS 250            /* resolution of every pool deadline */
#define BACKOFF_MIN 0.1             /* seconds after the first failure */
#define BACKOFF_MAX 30.0            /* cap of the exponential back-off */
#define POOL_ERROR_MAX UPSTREAM_NOTE_MAX
#define PEAK_SLOT_SECONDS 10.0      /* demand is remembered per slot,
                                       POOL_PEAK_SLOTS of them */
#define SHRINK_EVERY 1.0            /* an idle link beyond demand closes
                                       at most this often (seconds) */
#define SUSPECT_HOLDOFF 1.0         /* seconds between two ROLE probes */

static void refill(struct pool *p);

/* ------------------------------------------------------------ filling */

static void
fill_ready(struct link *link, const char *error, void *arg)
{
    struct pooled *pl = arg;
    struct pool *p = pl->pool;
    double delay;

    p->first_tried = true;
    if (error != NULL) {
        char why[POOL_ERROR_MAX];
        enum link_fail step = link_failure_step(link);

        snprintf(why, sizeof(why), "%s", error);
        link_free(link, false);
        pl->link = NULL;
        pool_unlink(pl);
        p->stats.fill_failures++;
        pool_note_link_failed(p, step, why);
        /* Exponential back-off with jitter in [0.5, 1.5). */
        delay = BACKOFF_MIN * (double)(1u << (p->fail_streak < 9
                                                  ? p->fail_streak : 9));
        if (delay > BACKOFF_MAX) {
            delay = BACKOFF_MAX;
        }
        delay *= 0.5 + (double)random() / ((double)RAND_MAX + 1.0);
        p->fail_streak++;
        p->next_fill = pool_now(p) + delay;
        return;
    }
    pool_note_ok(p);
    log_debug("event=link-ready service=%s upstream=%s tls=%s cipher=%s "
              "resumed=%d for=pool", p->sc->name, link_peer(link),
              link_tls_version(link), link_tls_cipher(link),
              link_resumed(link) ? 1 : 0);
    link_set_io(link, pool_io_cb, pl);
    link_watch(link, true, false);
    pool_set_state(pl, PL_IDLE);
}

static void
refill(struct pool *p)
{
    unsigned want = (unsigned)p->sc->pool_min_idle;
    unsigned coming = 0;

    if (!p->started || pool_now(p) < p->next_fill) {
        return;
    }
    /* Links being drained, reset or pinged will most likely be idle in a
     * moment: count them, so a recycled link is not crowded out. */
    for (const struct pooled *pl = p->links; pl != NULL; pl = pl->next) {
        coming += pl->state != PL_IDLE && pl->state != PL_FILLING;
    }
    while (p->nidle + p->nfilling + coming < want) {
        struct pooled *pl = pool_add(p, NULL, PL_FILLING);

        if (pl == NULL) {
            return;
        }
        pl->link = link_new(p->lp, fill_ready, pl);
        if (pl->link == NULL) {
            pool_unlink(pl);
            return;
        }
    }
}

/* ------------------------------------------------------------ DNS */

/* The name's addresses changed (or a refresh failed: nothing changes). */
static void
dns_changed_cb(int err, const char *list, bool was_known, void *arg)
{
    struct pool *p = arg;
    struct pooled *pl, *next;

    if (err != 0) {
        /* Keep what we have: a resolver hiccup is not a failover. */
        log_debug("event=dns-refresh service=%s error=\"%s\"", p->sc->name,
                  resolve_strerror(err));
        return;
    }
    if (was_known) {
        log_info("event=dns-change service=%s upstream=%s addrs=%s "
                 "action=\"closing idle links to other addresses\"",
                 p->sc->name, p->sc->upstream, list);
    }
    for (pl = p->links; pl != NULL; pl = next) {
        next = pl->next;
        if (pl->state == PL_IDLE &&
            !resolve_set_has(&p->addrs, link_peer(pl->link))) {
            pool_discard(pl, "dns-moved");
        }
    }
    refill(p);
}

void
pool_suspect(struct pool *p, const char *peer, const char *why)
{
    double now = pool_now(p);
    struct pooled *best = NULL;

    if (p->probe != NULL || now < p->next_probe) {
        return;     /* one probe at a time, and not too often */
    }
    for (struct pooled *pl = p->links; pl != NULL; pl = pl->next) {
        if (pl->state == PL_IDLE && strcmp(link_peer(pl->link), peer) == 0 &&
            (best == NULL || pl->idle_since > best->idle_since)) {
            best = pl;
        }
    }
    if (best == NULL) {
        /* Nothing idle to close here; a new link checks ROLE anyway. */
        log_debug("event=stale-hint service=%s peer=%s hint=\"%s\" "
                  "action=none reason=\"no idle link to that server\"",
                  p->sc->name, peer, why);
        return;
    }
    p->next_probe = now + SUSPECT_HOLDOFF;
    snprintf(p->probe_why, sizeof(p->probe_why), "%s", why);
    p->probe = best;
    if (pool_start_command(best, PL_PROBING) < 0) {
        pool_discard(best, "write-failed");
    }
}

/* ------------------------------------------------------------ demand */

/* Moves to the slot of time now; slots older than POOL_PEAK_SLOTS are
 * forgotten. */
static void
peak_advance(struct pool *p, double now)
{
    long slot = (long)(now / PEAK_SLOT_SECONDS);

    if (p->peak_slot == 0 || slot - p->peak_slot >= POOL_PEAK_SLOTS) {
        memset(p->peak, 0, sizeof(p->peak));
    } else {
        for (long k = p->peak_slot + 1; k <= slot; k++) {
            p->peak[k % POOL_PEAK_SLOTS] = 0;
        }
    }
    p->peak_slot = slot;
}

void
pool_note_demand(struct pool *p, unsigned active)
{
    unsigned *cur;

    peak_advance(p, pool_now(p));
    cur = &p->peak[p->peak_slot % POOL_PEAK_SLOTS];
    if (active > *cur) {
        *cur = active;
    }
}

/* Demand fell: closes the oldest idle link beyond pool_idle_cap(), one per
 * SHRINK_EVERY, so that a burst's links go slowly, not all at once. */
static void
shrink(struct pool *p, double now)
{
    struct pooled *oldest = NULL;

    peak_advance(p, now);
    if (now < p->next_shrink || p->nidle <= pool_idle_cap(p)) {
        return;
    }
    for (struct pooled *pl = p->links; pl != NULL; pl = pl->next) {
        if (pl->state == PL_IDLE &&
            (oldest == NULL || pl->idle_since < oldest->idle_since)) {
            oldest = pl;
        }
    }
    if (oldest != NULL) {
        pool_discard(oldest, "shrink");
        p->next_shrink = now + SHRINK_EVERY;
    }
}

/* ------------------------------------------------------------ tick */

static void
pool_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    const struct service_config *sc = p->sc;
    double now = pool_now(p);
    struct pooled *pl, *next;

    (void)fd;
    (void)what;
    for (pl = p->links; pl != NULL; pl = next) {
        next = pl->next;
        switch (pl->state) {
        case PL_IDLE:
            link_release_buffers(pl->link);
            if (sc->link_max_lifetime > 0 &&
                link_age(pl->link) >= sc->link_max_lifetime) {
                pool_discard(pl, "lifetime");
            } else if (p->lp->auth->iam &&
                       link_auth_age(pl->link) >= sc->iam_reauth_interval) {
                /* Before ElastiCache's 12 hours: a fresh token. */
                if (pool_start_command(pl, PL_REAUTHING) < 0) {
                    pool_discard(pl, "reauth-unavailable");
                }
            } else if (sc->link_idle_check > 0 &&
                       now - pl->idle_since >= sc->link_idle_check &&
                       pool_start_command(pl, PL_PINGING) < 0) {
                pool_discard(pl, "write-failed");
            }
            break;
        case PL_PINGING:
        case PL_DRAINING:
        case PL_RESETTING:
        case PL_PROBING:
        case PL_REAUTHING:
            if (now >= pl->deadline) {
                pool_discard(pl, pl->state == PL_DRAINING ? "drain-timeout"
                                                     : "reply-timeout");
            }
            break;
        case PL_FILLING:
            break;
        }
    }
    if (p->started && p->sc->dns_refresh > 0 &&
        resolve_set_due(&p->addrs, now)) {
        pool_refresh_dns(p);
    }
    shrink(p, now);
    refill(p);
    link_heap_trim(false);
}

/* ------------------------------------------------------------ API */

struct pool *
pool_new(const struct link_params *lp)
{
    struct pool *p = calloc(1, sizeof(*p));
    struct timeval tv = {0, POOL_TICK_MS * 1000};

    if (p == NULL) {
        return NULL;
    }
    p->lp = lp;
    p->sc = lp->sc;
    resolve_set_init(&p->addrs, dns_changed_cb, p);
    event_assign(&p->ev_tick, lp->base, -1, EV_PERSIST, pool_tick_cb, p);
    evtimer_add(&p->ev_tick, &tv);
    return p;
}

void
pool_start(struct pool *p)
{
    p->started = true;
    refill(p);
}

void
pool_free(struct pool *p)
{
    if (p == NULL) {
        return;
    }
    evtimer_del(&p->ev_tick);
    resolve_set_deinit(&p->addrs);
    while (p->links != NULL) {
        struct pooled *pl = p->links;

        link_free(pl->link, pl->state != PL_FILLING);
        pool_unlink(pl);
    }
    free(p);
}

struct link *
pool_take(struct pool *p)
{
    struct pooled *best = NULL;
    struct link *link;

    /* The most recently idle link: its TCP and TLS state are warmest. */
    for (struct pooled *pl = p->links; pl != NULL; pl = pl->next) {
        if (pl->state == PL_IDLE &&
            (best == NULL || pl->idle_since > best->idle_since)) {
            best = pl;
        }
    }
    if (best == NULL) {
        p->stats.misses++;
        refill(p);
        return NULL;
    }
    p->stats.hits++;
    link = best->link;
    link_watch(link, false, false);
    pool_unlink(best);
    refill(p);
    return link;
}

void
pool_set_drain_cb(struct pool *p, void (*cb)(int delta, void *arg),
                  void *arg)
{
    p->drain_cb = cb;
    p->drain_arg = arg;
}

void
pool_set_idle_limit(struct pool *p, unsigned n)
{
    p->idle_limit = n;
}

bool
pool_first_tried(const struct pool *p)
{
    return p->first_tried || p->sc->pool_min_idle == 0;
}

void
pool_retire(struct pool *p)
{
    p->retired = true;
    p->started = false;     /* no refills */
    while (p->links != NULL) {
        struct pooled *pl = p->links;

        if (pl->state != PL_FILLING) {
            pool_note_closed(p, "reload");
        }
        link_free(pl->link, pl->state != PL_FILLING);
        pool_unlink(pl);
    }
}

void
pool_get_stats(const struct pool *p, struct pool_stats *st)
{
    *st = p->stats;
    st->idle = p->nidle;
    st->filling = p->nfilling;
    st->recycling = 0;
    for (const struct pooled *pl = p->links; pl != NULL; pl = pl->next) {
        st->recycling += pl->state != PL_IDLE && pl->state != PL_FILLING;
    }
}

void
pool_note_reauth(struct pool *p)
{
    p->stats.reauths++;
}
