/*
 * pool_links.c: the bottom of the pool: the list of held links (add, state
 * changes with their idle/filling counts and the drain callback, discard),
 * how many idle links are worth keeping, the upstream's health as the
 * links report it (counted by kind, logged once per distinct cause), and
 * marking a server stale (its idle links closed, the name resolved
 * again).  pool_reset.c and pool.c call it; it calls neither.
 */
#include "pool_int.h"

#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

double
pool_now(const struct pool *p)
{
    struct timeval tv;

    event_base_gettimeofday_cached(p->lp->base, &tv);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The metrics' kind of a link failure (a silent one is named by its
 * step: link_failure_step). */
static enum pool_fail_kind
fail_kind(enum link_fail step)
{
    switch (step) {
    case LINK_FAIL_DNS:
        return POOL_FAIL_DNS;
    case LINK_FAIL_CONNECT:
        return POOL_FAIL_CONNECT;
    case LINK_FAIL_CERT:
    case LINK_FAIL_TLS:
        return POOL_FAIL_TLS;
    case LINK_FAIL_AUTH:
        return POOL_FAIL_AUTH;
    case LINK_FAIL_ROLE:
        return POOL_FAIL_ROLE;
    default:
        return POOL_FAIL_OTHER;
    }
}

void
pool_note_link_failed(struct pool *p, enum link_fail step,
                      const char *reason)
{
    struct upstream_note *n = p->lp->note;
    char before[UPSTREAM_NOTE_MAX];
    unsigned long repeats;

    p->stats.failures[fail_kind(step)]++;
    p->stats.upstream_up = false;
    pthread_mutex_lock(&n->mu);
    if (strcmp(n->last_error, reason) == 0) {
        n->repeats++;
        pthread_mutex_unlock(&n->mu);
        return;
    }
    snprintf(before, sizeof(before), "%s", n->last_error);
    repeats = n->repeats;
    snprintf(n->last_error, sizeof(n->last_error), "%s", reason);
    n->repeats = 0;
    pthread_mutex_unlock(&n->mu);
    if (repeats > 0) {
        log_warn("event=upstream-error service=%s upstream=%s repeated=%lu "
                 "reason=\"%s\"", p->sc->name, p->sc->upstream, repeats,
                 before);
    }
    log_warn("event=upstream-error service=%s upstream=%s reason=\"%s\"",
             p->sc->name, p->sc->upstream, reason);
}

void
pool_note_ok(struct pool *p)
{
    struct upstream_note *n = p->lp->note;
    char after[UPSTREAM_NOTE_MAX];
    unsigned long repeats;

    p->stats.upstream_up = true;
    p->fail_streak = 0;
    p->next_fill = 0;
    pthread_mutex_lock(&n->mu);
    if (n->last_error[0] == '\0') {
        pthread_mutex_unlock(&n->mu);
        return;
    }
    snprintf(after, sizeof(after), "%s", n->last_error);
    repeats = n->repeats;
    n->last_error[0] = '\0';
    n->repeats = 0;
    pthread_mutex_unlock(&n->mu);
    log_info("event=upstream-ok service=%s upstream=%s after=\"%s\" "
             "repeated=%lu", p->sc->name, p->sc->upstream, after, repeats);
}

struct pooled *
pool_add(struct pool *p, struct link *link, enum pl_state state)
{
    struct pooled *pl = calloc(1, sizeof(*pl));

    if (pl == NULL) {
        return NULL;
    }
    pl->pool = p;
    pl->link = link;
    pl->state = state;
    pl->next = p->links;
    if (p->links != NULL) {
        p->links->prev = pl;
    }
    p->links = pl;
    if (state == PL_FILLING) {
        p->nfilling++;
    }
    return pl;
}

/* A departed client's link stops holding a descriptor for no one. */
static void
drain_done(struct pooled *pl)
{
    struct pool *p = pl->pool;

    if (pl->draining) {
        pl->draining = false;
        if (p->drain_cb != NULL) {
            p->drain_cb(-1, p->drain_arg);
        }
    }
}

void
pool_set_state(struct pooled *pl, enum pl_state st)
{
    struct pool *p = pl->pool;

    if (pl->state == PL_IDLE) {
        p->nidle--;
    } else if (pl->state == PL_FILLING) {
        p->nfilling--;
    }
    pl->state = st;
    if (st == PL_IDLE) {
        drain_done(pl);
        p->nidle++;
        pl->idle_since = pool_now(p);
    }
}

/* Wipes and frees the command buffer (it may hold AUTH's password). */
void
pool_out_clear(struct pooled *pl)
{
    if (pl->out != NULL) {
        OPENSSL_clear_free(pl->out, pl->out_len);
        pl->out = NULL;
    }
    pl->out_off = pl->out_len = 0;
}

/* Unlinks pl; the caller keeps or frees pl->link. */
void
pool_unlink(struct pooled *pl)
{
    struct pool *p = pl->pool;

    pool_set_state(pl, PL_DRAINING);     /* leaves the idle/filling counts */
    if (pl->prev != NULL) {
        pl->prev->next = pl->next;
    } else {
        p->links = pl->next;
    }
    if (pl->next != NULL) {
        pl->next->prev = pl->prev;
    }
    if (p->probe == pl) {
        p->probe = NULL;
    }
    drain_done(pl);
    pool_out_clear(pl);
    free(pl);
}

/* Closes a held link (the one way out besides pool_take). */
void
pool_note_closed(struct pool *p, const char *reason)
{
    p->stats.discarded++;
    for (int i = 0; i < POOL_REASONS; i++) {
        if (p->stats.closed[i].reason == NULL) {
            p->stats.closed[i].reason = reason;
        }
        if (strcmp(p->stats.closed[i].reason, reason) == 0) {
            p->stats.closed[i].count++;
            return;
        }
    }
}

void
pool_discard(struct pooled *pl, const char *why)
{
    struct pool *p = pl->pool;

    log_debug("event=link-discard service=%s upstream=%s reason=%s",
              p->sc->name, link_peer(pl->link), why);
    if (pl->state != PL_FILLING) {
        pool_note_closed(p, why);
    }
    link_free(pl->link, true);
    pool_unlink(pl);
}

/*
 * pool_idle_cap(p): idle links worth keeping: the most clients this pool's
 * service had at once in the last minute (each of them may come back at
 * once), at least pool_min_idle, at most pool_max_idle when it is set
 * (and max_clients, which bounds the clients anyway).
 */
unsigned
pool_idle_cap(const struct pool *p)
{
    unsigned cap = (unsigned)p->sc->pool_min_idle;

    for (int i = 0; i < POOL_PEAK_SLOTS; i++) {
        if (p->peak[i] > cap) {
            cap = p->peak[i];
        }
    }
    if (p->sc->pool_max_idle >= 0 && cap > (unsigned)p->sc->pool_max_idle) {
        cap = (unsigned)p->sc->pool_max_idle;
    }
    if (p->sc->pool_max_idle < 0 && p->idle_limit > 0 &&
        cap > p->idle_limit) {
        cap = p->idle_limit > (unsigned)p->sc->pool_min_idle
                  ? p->idle_limit : (unsigned)p->sc->pool_min_idle;
    }
    return cap;
}

/* Resolves the name again (the pool's view; each new link resolves for
 * itself anyway). */
void
pool_refresh_dns(struct pool *p)
{
    const struct service_config *sc = p->sc;

    if (sc->upstream_is_ip || p->lp->dns == NULL || p->retired) {
        return;
    }
    resolve_set_refresh(&p->addrs, p->lp->dns, sc->upstream_host,
                        sc->upstream_port,
                        pool_now(p) + (sc->dns_refresh > 0 ? sc->dns_refresh
                                                        : 3600));
}

void
pool_mark_stale(struct pool *p, const char *peer, const char *why)
{
    struct pooled *pl, *next;
    unsigned closed = 0;

    for (pl = p->links; pl != NULL; pl = next) {
        next = pl->next;
        if (pl->state == PL_IDLE && strcmp(link_peer(pl->link), peer) == 0) {
            pool_discard(pl, "stale");
            closed++;
        }
    }
    log_warn("event=upstream-stale service=%s peer=%s reason=\"%s\" "
             "idle_links_closed=%u action=\"resolving %s again\"",
             p->sc->name, peer, why, closed, p->sc->upstream_host);
    resolve_set_forget(&p->addrs);  /* whatever the name says next is news */
    pool_refresh_dns(p);
}

bool
pool_recycling(const struct pool *p)
{
    return p->sc->pool_max_idle != 0 && !p->no_reset && !p->retired;
}
