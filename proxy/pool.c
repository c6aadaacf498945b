/*
 * pool.c: warm links for one service (see pool.h).
 *
 *   filling --ready--> idle --pool_take--> (a session owns it)
 *                      idle --PING--> pinging --+PONG--> idle
 *   (session ends) --pool_recycle--> draining --owed replies read-->
 *                      resetting --+RESET [+OK]--> idle
 *   anything unexpected, a timeout, EOF --> closed (and refilled)
 *
 * One timer per pool (POOL_TICK) drives refills, idle checks, lifetimes
 * and the drain/reset deadlines.  Refill failures back off exponentially
 * with jitter so a dead upstream is not stormed.
 */
#include "pool.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define POOL_TICK_MS 250            /* resolution of every pool deadline */
#define BACKOFF_MIN 0.1             /* seconds after the first failure */
#define BACKOFF_MAX 30.0            /* cap of the exponential back-off */
#define POOL_ERROR_MAX UPSTREAM_NOTE_MAX
#define POOL_CMD_MAX 1200           /* RESET + AUTH, or PING */

enum pl_state {
    PL_FILLING = 0,     /* link_new under way */
    PL_IDLE,            /* ready to lend */
    PL_PINGING,         /* idle check: PING sent, +PONG expected */
    PL_DRAINING,        /* dropping replies owed to a departed client */
    PL_RESETTING        /* RESET [+ AUTH] sent, answers expected */
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
    char out[POOL_CMD_MAX];         /* command being written */
    size_t out_off, out_len;        /* written so far, total */
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
    bool started;                   /* pool_start ran */
    bool first_tried;               /* a refill attempt has ended */
    bool retired;                   /* reload replaced the service */
    struct evdns_getaddrinfo_request *dns_req;  /* ref: refresh under way */
    double next_dns;                /* loop time of the next refresh */
    char addrs[POOL_ADDRS][64];     /* addresses the name has now */
    int naddrs;                     /* entries in addrs, once known */
    bool have_addrs;                /* a refresh has succeeded */
    struct pool_stats stats;        /* counters */
};

static void pooled_io(struct link *link, short what, void *arg);
static void refill(struct pool *p);
static bool addr_current(const struct pool *p, const struct link *link);

static double
now_s(const struct pool *p)
{
    struct timeval tv;

    event_base_gettimeofday_cached(p->lp->base, &tv);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ------------------------------------------------------------ health */

void
pool_note_failure(struct pool *p, const char *reason)
{
    enum pool_fail_kind k = POOL_FAIL_OTHER;
    struct upstream_note *n = p->lp->note;
    char before[UPSTREAM_NOTE_MAX];
    unsigned long repeats;

    if (strncmp(reason, "dns:", 4) == 0) {
        k = POOL_FAIL_DNS;
    } else if (strncmp(reason, "connect", 7) == 0) {
        k = POOL_FAIL_CONNECT;
    } else if (strncmp(reason, "certificate", 11) == 0 ||
               strncmp(reason, "tls", 3) == 0) {
        k = POOL_FAIL_TLS;
    } else if (strncmp(reason, "AUTH", 4) == 0) {
        k = POOL_FAIL_AUTH;
    } else if (strncmp(reason, "role", 4) == 0) {
        k = POOL_FAIL_ROLE;
    }
    p->stats.failures[k]++;
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

/* ------------------------------------------------------------ list */

static struct pooled *
pooled_new(struct pool *p, struct link *link, enum pl_state state)
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

static void
set_state(struct pooled *pl, enum pl_state st)
{
    struct pool *p = pl->pool;

    if (pl->state == PL_IDLE) {
        p->nidle--;
    } else if (pl->state == PL_FILLING) {
        p->nfilling--;
    }
    pl->state = st;
    if (st == PL_IDLE) {
        p->nidle++;
        pl->idle_since = now_s(p);
    }
}

/* Unlinks pl; the caller keeps or frees pl->link. */
static void
pooled_unlink(struct pooled *pl)
{
    struct pool *p = pl->pool;

    set_state(pl, PL_DRAINING);     /* leaves the idle/filling counts */
    if (pl->prev != NULL) {
        pl->prev->next = pl->next;
    } else {
        p->links = pl->next;
    }
    if (pl->next != NULL) {
        pl->next->prev = pl->prev;
    }
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

static void
discard(struct pooled *pl, const char *why)
{
    struct pool *p = pl->pool;

    log_debug("event=link-discard service=%s upstream=%s reason=%s",
              p->sc->name, link_peer(pl->link), why);
    if (pl->state != PL_FILLING) {
        pool_note_closed(p, why);
    }
    link_free(pl->link, true);
    pooled_unlink(pl);
}

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

        snprintf(why, sizeof(why), "%s", error);
        link_free(link, false);
        pl->link = NULL;
        pooled_unlink(pl);
        p->stats.fill_failures++;
        pool_note_failure(p, why);
        /* Exponential back-off with jitter in [0.5, 1.5). */
        delay = BACKOFF_MIN * (double)(1u << (p->fail_streak < 9
                                                  ? p->fail_streak : 9));
        if (delay > BACKOFF_MAX) {
            delay = BACKOFF_MAX;
        }
        delay *= 0.5 + (double)random() / ((double)RAND_MAX + 1.0);
        p->fail_streak++;
        p->next_fill = now_s(p) + delay;
        return;
    }
    pool_note_ok(p);
    log_debug("event=link-ready service=%s upstream=%s tls=%s cipher=%s "
              "resumed=%d for=pool", p->sc->name, link_peer(link),
              link_tls_version(link), link_tls_cipher(link),
              link_resumed(link) ? 1 : 0);
    link_set_io(link, pooled_io, pl);
    link_watch(link, true, false);
    set_state(pl, PL_IDLE);
}

static void
refill(struct pool *p)
{
    unsigned want = (unsigned)p->sc->pool_min_idle;
    unsigned coming = 0;

    if (!p->started || now_s(p) < p->next_fill) {
        return;
    }
    /* Links being drained, reset or pinged will most likely be idle in a
     * moment: count them, so a recycled link is not crowded out. */
    for (const struct pooled *pl = p->links; pl != NULL; pl = pl->next) {
        coming += pl->state != PL_IDLE && pl->state != PL_FILLING;
    }
    while (p->nidle + p->nfilling + coming < want) {
        struct pooled *pl = pooled_new(p, NULL, PL_FILLING);

        if (pl == NULL) {
            return;
        }
        pl->link = link_new(p->lp, fill_ready, pl);
        if (pl->link == NULL) {
            pooled_unlink(pl);
            return;
        }
    }
}

/* ------------------------------------------------------------ I/O */

/* Writes what is left of pl->out.  0 = done or waiting, -1 = failed. */
static int
send_out(struct pooled *pl)
{
    enum link_io st;

    while (pl->out_off < pl->out_len) {
        size_t n = link_write(pl->link, pl->out + pl->out_off,
                              pl->out_len - pl->out_off, &st);

        if (n == 0) {
            if (st == LINK_IO_WANT_WRITE || st == LINK_IO_WANT_READ) {
                link_watch(pl->link, true, st == LINK_IO_WANT_WRITE);
                return 0;
            }
            return -1;
        }
        pl->out_off += n;
    }
    link_watch(pl->link, true, false);
    return 0;
}

static int
start_command(struct pooled *pl, const char *cmd, size_t len,
              enum pl_state st)
{
    const struct auth_cmd *ac = pl->pool->lp->auth;

    memcpy(pl->out, cmd, len);
    pl->out_len = len;
    if (st == PL_RESETTING && ac->len > 0) {
        if (len + ac->len > sizeof(pl->out)) {
            return -1;
        }
        /* RESET logs the connection out: log it back in, same write. */
        memcpy(pl->out + len, ac->buf, ac->len);
        pl->out_len += ac->len;
    }
    pl->out_off = 0;
    pl->answers = 0;
    resp_init(&pl->rs, RESP_REPLIES);
    set_state(pl, st);
    pl->deadline = now_s(pl->pool) + pl->pool->sc->drain_timeout;
    return send_out(pl);
}

/*
 * on_frame(pl, f): one reply frame arrived.  Returns 0 to go on, or a
 * reason to discard the link.
 */
static const char *
on_frame(struct pooled *pl, const struct resp_frame *f)
{
    struct pool *p = pl->pool;
    bool with_auth = p->lp->auth->len > 0;

    if (f->type == '>') {
        return NULL;    /* RESP3 push (say, an invalidation): not a reply */
    }
    switch (pl->state) {
    case PL_DRAINING:
        if (--pl->owed > 0) {
            return NULL;
        }
        if (start_command(pl, "*1\r\n$5\r\nRESET\r\n", 15, PL_RESETTING)
            < 0) {
            return "write-failed";
        }
        return NULL;
    case PL_RESETTING:
        pl->answers++;
        if (pl->answers == 1) {
            if (f->type == '+' && strcmp(f->head, "RESET") == 0) {
                break;
            }
            /* Only a server that does not know RESET turns recycling
             * off; LOADING, BUSY and the like just cost this link. */
            if (f->type == '-' && !p->no_reset &&
                strncmp(f->head, "ERR unknown command", 19) == 0) {
                p->no_reset = true;
                log_warn("event=no-reset service=%s upstream=%s reason=\"%s\" "
                         "action=\"links are closed after use, not "
                         "recycled (Redis 6.2 or newer has RESET)\"",
                         p->sc->name, p->sc->upstream, f->head);
            }
            return "reset-rejected";
        }
        if (f->type != '+' || strcmp(f->head, "OK") != 0) {
            return "reauth-rejected";
        }
        break;
    case PL_PINGING:
        if (f->type != '+' || strcmp(f->head, "PONG") != 0) {
            return "ping-failed";
        }
        set_state(pl, PL_IDLE);
        return NULL;
    default:
        return "unexpected-data";
    }
    if (pl->answers == (with_auth ? 2 : 1)) {
        if (p->nidle >= (unsigned)p->sc->pool_max_idle) {
            return "pool-full";
        }
        if (!addr_current(p, pl->link)) {
            return "dns-moved";
        }
        p->stats.recycled++;
        set_state(pl, PL_IDLE);
        log_debug("event=link-recycled service=%s upstream=%s", p->sc->name,
                  link_peer(pl->link));
    }
    return NULL;
}

static void
pooled_io(struct link *link, short what, void *arg)
{
    struct pooled *pl = arg;
    char buf[4096];
    enum link_io st;

    if ((what & EV_WRITE) && send_out(pl) < 0) {
        discard(pl, "write-failed");
        return;
    }
    for (;;) {
        size_t n = link_read(link, buf, sizeof(buf), &st);
        size_t off = 0;

        if (n == 0) {
            if (st == LINK_IO_WANT_READ) {
                return;
            }
            if (st == LINK_IO_WANT_WRITE) {
                link_watch(link, true, true);
                return;
            }
            discard(pl, st == LINK_IO_EOF ? "server-closed" : "read-error");
            return;
        }
        if (pl->state == PL_IDLE) {
            discard(pl, "unexpected-data");
            return;
        }
        while (off < n) {
            struct resp_frame f;
            size_t used;
            enum resp_status rst = resp_scan(&pl->rs, buf + off, n - off,
                                             &used, &f);
            const char *why;

            if (rst == RESP_ERROR) {
                discard(pl, "bad-reply");
                return;
            }
            off += used;
            if (rst == RESP_FRAME && (why = on_frame(pl, &f)) != NULL) {
                discard(pl, why);
                return;
            }
            if (pl->state == PL_IDLE && off < n) {
                discard(pl, "unexpected-data");
                return;
            }
        }
        if (!link_has_pending(link)) {
            return;
        }
    }
}

/* ------------------------------------------------------------ DNS */

/* addr_current(p, link): the link's address is still one the name has
 * (or nothing is known yet). */
static bool
addr_current(const struct pool *p, const struct link *link)
{
    if (!p->have_addrs) {
        return true;
    }
    for (int i = 0; i < p->naddrs; i++) {
        if (strcmp(p->addrs[i], link_peer(link)) == 0) {
            return true;
        }
    }
    return false;
}

static int
cmp_addr(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
dns_refresh_cb(int err, struct evutil_addrinfo *res, void *arg)
{
    struct pool *p;
    char now[POOL_ADDRS][64];
    char list[POOL_ADDRS * 66] = "";
    int n = 0;
    bool changed;
    struct pooled *pl, *next;

    if (err == EVUTIL_EAI_CANCEL) {
        return;     /* pool_free cancelled us: p is going away */
    }
    p = arg;
    p->dns_req = NULL;
    if (err != 0) {
        /* Keep what we have: a resolver hiccup is not a failover. */
        log_debug("event=dns-refresh service=%s error=\"%s\"", p->sc->name,
                  evutil_gai_strerror(err));
        return;
    }
    for (struct evutil_addrinfo *ai = res; ai != NULL && n < POOL_ADDRS;
         ai = ai->ai_next) {
        link_format_addr(ai->ai_addr, now[n], sizeof(now[n]));
        n++;
    }
    evutil_freeaddrinfo(res);
    qsort(now, (size_t)n, sizeof(now[0]), cmp_addr);   /* order is noise */
    changed = !p->have_addrs || n != p->naddrs;
    for (int i = 0; i < n && !changed; i++) {
        changed = strcmp(now[i], p->addrs[i]) != 0;
    }
    if (!changed) {
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);

        snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "",
                 now[i]);
    }
    if (p->have_addrs) {
        log_info("event=dns-change service=%s upstream=%s addrs=%s "
                 "action=\"closing idle links to other addresses\"",
                 p->sc->name, p->sc->upstream, list);
    }
    for (int i = 0; i < n; i++) {
        memcpy(p->addrs[i], now[i], sizeof(p->addrs[i]));
    }
    p->naddrs = n;
    p->have_addrs = true;
    for (pl = p->links; pl != NULL; pl = next) {
        next = pl->next;
        if (pl->state == PL_IDLE && !addr_current(p, pl->link)) {
            discard(pl, "dns-moved");
        }
    }
    refill(p);
}

/* Resolves the name again (the pool's view; each new link resolves for
 * itself anyway). */
static void
refresh_dns(struct pool *p)
{
    struct evutil_addrinfo hints;
    char port[8];
    struct evdns_getaddrinfo_request *req;

    if (p->sc->upstream_is_ip || p->lp->dns == NULL || p->dns_req != NULL ||
        p->retired) {
        return;
    }
    p->next_dns = now_s(p) + (p->sc->dns_refresh > 0 ? p->sc->dns_refresh
                                                     : 3600);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%d", p->sc->upstream_port);
    req = evdns_getaddrinfo(p->lp->dns, p->sc->upstream_host, port, &hints,
                            dns_refresh_cb, p);
    if (req != NULL) {
        p->dns_req = req;   /* NULL: the callback already ran */
    }
}

void
pool_mark_stale(struct pool *p, const char *peer, const char *why)
{
    struct pooled *pl, *next;
    unsigned closed = 0;

    for (pl = p->links; pl != NULL; pl = next) {
        next = pl->next;
        if (pl->state == PL_IDLE && strcmp(link_peer(pl->link), peer) == 0) {
            discard(pl, "stale");
            closed++;
        }
    }
    log_warn("event=upstream-stale service=%s peer=%s reason=\"%s\" "
             "idle_links_closed=%u action=\"resolving %s again\"",
             p->sc->name, peer, why, closed, p->sc->upstream_host);
    p->have_addrs = false;      /* whatever the name says next is news */
    refresh_dns(p);
}

/* ------------------------------------------------------------ tick */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    const struct service_config *sc = p->sc;
    double now = now_s(p);
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
                discard(pl, "lifetime");
            } else if (sc->link_idle_check > 0 &&
                       now - pl->idle_since >= sc->link_idle_check &&
                       start_command(pl, "*1\r\n$4\r\nPING\r\n", 14,
                                     PL_PINGING) < 0) {
                discard(pl, "write-failed");
            }
            break;
        case PL_PINGING:
        case PL_DRAINING:
        case PL_RESETTING:
            if (now >= pl->deadline) {
                discard(pl, pl->state == PL_DRAINING ? "drain-timeout"
                                                     : "reply-timeout");
            }
            break;
        case PL_FILLING:
            break;
        }
    }
    if (p->started && p->sc->dns_refresh > 0 && now >= p->next_dns) {
        refresh_dns(p);
    }
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
    event_assign(&p->ev_tick, lp->base, -1, EV_PERSIST, tick_cb, p);
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
    if (p->dns_req != NULL) {
        evdns_getaddrinfo_cancel(p->dns_req);
        p->dns_req = NULL;
    }
    while (p->links != NULL) {
        struct pooled *pl = p->links;

        link_free(pl->link, pl->state != PL_FILLING);
        pooled_unlink(pl);
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
    pooled_unlink(best);
    refill(p);
    return link;
}

bool
pool_first_tried(const struct pool *p)
{
    return p->first_tried || p->sc->pool_min_idle == 0;
}

bool
pool_recycling(const struct pool *p)
{
    return p->sc->pool_max_idle > 0 && !p->no_reset && !p->retired;
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
        pooled_unlink(pl);
    }
}

void
pool_recycle(struct pool *p, struct link *link,
             const struct resp_scanner *rs, int64_t owed)
{
    struct pooled *pl;

    if (!pool_recycling(p) || (p->sc->link_max_lifetime > 0 &&
                               link_age(link) >= p->sc->link_max_lifetime)) {
        pool_note_closed(p, p->retired ? "reload"
                            : pool_recycling(p) ? "lifetime" : "no-pool");
        link_free(link, true);
        return;
    }
    pl = pooled_new(p, link, PL_DRAINING);
    if (pl == NULL) {
        link_free(link, true);
        return;
    }
    link_set_io(link, pooled_io, pl);
    pl->rs = *rs;
    pl->owed = owed;
    pl->deadline = now_s(p) + p->sc->drain_timeout;
    link_watch(link, true, false);
    if (owed == 0) {
        /* Nothing owed: but a reply may be half read (owed counts it). */
        if (start_command(pl, "*1\r\n$5\r\nRESET\r\n", 15, PL_RESETTING)
            < 0) {
            discard(pl, "write-failed");
            return;
        }
    }
    /* TLS may already hold bytes of the owed replies. */
    if (link_has_pending(link)) {
        pooled_io(link, EV_READ, pl);
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
