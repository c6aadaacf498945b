/*
 * service.c: a [section] brought to life: TLS context, AUTH, listener,
 * and the count of clients against max_clients.
 */
#include "service.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "listener.h"
#include "pool.h"
#include "session.h"
#include "tls.h"
#include "upstream.h"

struct service {
    const struct service_config *sc;    /* ref: owner is the config */
    SSL_CTX *ctx;                       /* owned: client TLS context */
    struct auth_cmd auth;               /* owned, secret: AUTH to send */
    struct link_params lp;              /* lent to every link */
    struct session_host host;           /* lent to every session */
    struct listener *listener;          /* owned: NULL until listening */
    struct pool *pool;                  /* owned: warm links */
    struct link_stats lstats;           /* latencies, TLS failures */
    unsigned char digest[CONFIG_DIGEST_LEN];    /* of sc and its files */
    struct service_config *owned_sc;    /* owned: sc once reload retired
                                           the service (else NULL) */
    struct client_budget *budget;       /* ref: descriptors, shared */
    struct service *bprev, *bnext;      /* ref: budget->services list */
    struct seats *seats;                /* ref (counted): max_clients */
    struct service *sprev, *snext;      /* ref: all_services list */
    struct event ev_seat;               /* a seat may have come free, or
                                           a stale notice came */
    char stale_peer[64];                /* notice from another worker */
    char stale_why[64];                 /* (both under seats_mu) */
    int parked_fd;                      /* owned: accepted, no seat yet */
    struct sockaddr_storage parked_addr;
    int parked_addrlen;
};

/*
 * max_clients holds for the whole process: with workers, every worker has
 * a service of that name (and a reload may leave a retired one), and they
 * all count against one `seats`.  A worker's listener pauses while the
 * seats are taken; when one comes free, every service of that name is told
 * (ev_seat), so a worker paused by another's clients resumes.  A listener
 * that accepted just as another worker took the last seat parks that one
 * client (unread, as if still in the backlog) and pauses.  With one
 * worker nothing is ever parked.  The same list carries failover notices:
 * a READONLY seen by one worker closes the idle links to that server in
 * every worker.  all_services, the seats list and the notices are guarded
 * by seats_mu; the counts are atomic.
 */
struct seats {
    struct seats *next;
    char *name;                 /* owned: the service name */
    unsigned refs;              /* services counting against it */
    atomic_uint used;           /* clients now */
    atomic_uint max;            /* max_clients of the newest service */
    atomic_uint parked;         /* accepted clients waiting for a seat */
    struct upstream_note note;  /* the upstream failure last logged */
};

static pthread_mutex_t seats_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seats *seats_list;
static struct service *all_services;

static struct seats *
seats_get(const char *name, unsigned max)
{
    struct seats *st;

    pthread_mutex_lock(&seats_mu);
    for (st = seats_list; st != NULL && strcmp(st->name, name) != 0;
         st = st->next) {
    }
    if (st == NULL && (st = calloc(1, sizeof(*st))) != NULL) {
        st->name = strdup(name);
        if (st->name == NULL) {
            free(st);
            st = NULL;
        } else {
            pthread_mutex_init(&st->note.mu, NULL);
            st->next = seats_list;
            seats_list = st;
        }
    }
    if (st != NULL) {
        st->refs++;
        atomic_store(&st->max, max);
    }
    pthread_mutex_unlock(&seats_mu);
    return st;
}

/* A service counting against st is gone (already off all_services): the
 * newest one left sets max_clients again, so a reload that built a
 * service and then failed leaves the running limit as it was. */
static void
seats_put(struct seats *st)
{
    struct seats **pp = &seats_list;

    pthread_mutex_lock(&seats_mu);
    if (--st->refs == 0) {
        while (*pp != st) {
            pp = &(*pp)->next;
        }
        *pp = st->next;
        pthread_mutex_destroy(&st->note.mu);
        free(st->name);
        free(st);
    } else {
        for (struct service *s = all_services; s != NULL; s = s->snext) {
            if (s->seats == st) {   /* newest first */
                atomic_store(&st->max, (unsigned)s->sc->max_clients);
                break;
            }
        }
    }
    pthread_mutex_unlock(&seats_mu);
}

static bool
seat_take(struct seats *st)
{
    unsigned u = atomic_load(&st->used);

    while (u < atomic_load(&st->max)) {
        if (atomic_compare_exchange_weak(&st->used, &u, u + 1)) {
            return true;
        }
    }
    return false;
}

static bool
seats_full(struct seats *st)
{
    return atomic_load(&st->used) >= atomic_load(&st->max);
}

/* A seat came free: every service counting against st looks again. */
static void
seat_give(struct seats *st)
{
    unsigned was = atomic_fetch_sub(&st->used, 1);

    if (was < atomic_load(&st->max) && atomic_load(&st->parked) == 0) {
        return;     /* nobody can be paused for want of a seat */
    }
    pthread_mutex_lock(&seats_mu);
    for (struct service *s = all_services; s != NULL; s = s->snext) {
        if (s->seats == st) {
            event_active(&s->ev_seat, EV_READ, 0);
        }
    }
    pthread_mutex_unlock(&seats_mu);
}

/* Accepting pauses at max_clients, or while the shared budget is spent. */
static void
update_pause(struct service *svc)
{
    if (svc->listener != NULL) {
        listener_set_paused(svc->listener,
                            svc->parked_fd >= 0 || seats_full(svc->seats) ||
                                svc->budget->live >= svc->budget->cap);
    }
}

static void
update_pause_all(struct client_budget *b)
{
    for (struct service *s = b->services; s != NULL; s = s->bnext) {
        update_pause(s);
    }
}

/* A client with a seat: its session starts. */
static void
serve(struct service *svc, int fd, const struct sockaddr *addr, int addrlen)
{
    if (session_new(&svc->host, fd, addr, addrlen) < 0) {
        log_warn("event=accept-failed service=%s reason=\"out of memory\"",
                 svc->sc->name);
        seat_give(svc->seats);
        update_pause(svc);
        return;
    }
    svc->budget->accepted++;
    if (++svc->budget->live == svc->budget->cap) {
        log_warn("event=clients-capped clients=%u reason=\"descriptor "
                 "limit: every client needs two\" action=\"accepting "
                 "resumes as clients leave (raise LimitNOFILE / ulimit -n "
                 "for more)\"", svc->budget->live);
        update_pause_all(svc->budget);
    } else {
        update_pause(svc);
    }
}

static void
accept_client(int fd, const struct sockaddr *addr, int addrlen, void *arg)
{
    struct service *svc = arg;

    if (!seat_take(svc->seats)) {
        /* Another worker took the last seat since this listener looked. */
        if (svc->parked_fd >= 0) {
            /* The listener pauses after one: not expected; never leak. */
            log_warn("event=accept-dropped service=%s reason=\"no seat "
                     "(max_clients) and one client already waiting\"",
                     svc->sc->name);
            close(fd);
            return;
        }
        svc->parked_fd = fd;
        memcpy(&svc->parked_addr, addr, (size_t)addrlen);
        svc->parked_addrlen = addrlen;
        atomic_fetch_add(&svc->seats->parked, 1);
        update_pause(svc);
        return;
    }
    serve(svc, fd, addr, addrlen);
}

/* session_host.stale_cb: this worker's pool, then the other workers'. */
static void
stale_seen(struct session_host *h, const char *peer, const char *why,
           void *arg)
{
    struct service *svc = arg;

    pool_mark_stale(h->pool, peer, why);
    pthread_mutex_lock(&seats_mu);
    for (struct service *s = all_services; s != NULL; s = s->snext) {
        if (s->seats == svc->seats && s != svc) {
            snprintf(s->stale_peer, sizeof(s->stale_peer), "%s", peer);
            snprintf(s->stale_why, sizeof(s->stale_why), "%s", why);
            event_active(&s->ev_seat, EV_READ, 0);
        }
    }
    pthread_mutex_unlock(&seats_mu);
}

static void
seat_cb(evutil_socket_t fd, short what, void *arg)
{
    struct service *svc = arg;
    char peer[sizeof(svc->stale_peer)], why[sizeof(svc->stale_why) + 32];

    (void)fd;
    (void)what;
    pthread_mutex_lock(&seats_mu);
    snprintf(peer, sizeof(peer), "%s", svc->stale_peer);
    snprintf(why, sizeof(why), "%s (seen by another worker)", svc->stale_why);
    svc->stale_peer[0] = '\0';
    pthread_mutex_unlock(&seats_mu);
    if (peer[0] != '\0' && svc->listener != NULL) {
        pool_mark_stale(svc->pool, peer, why);
    }
    if (svc->parked_fd >= 0 && seat_take(svc->seats)) {
        int cfd = svc->parked_fd;

        svc->parked_fd = -1;
        atomic_fetch_sub(&svc->seats->parked, 1);
        serve(svc, cfd, (struct sockaddr *)&svc->parked_addr,
              svc->parked_addrlen);
    }
    update_pause(svc);
}

static void
session_closed(struct session_host *h, void *arg)
{
    struct service *svc = arg;

    (void)h;
    seat_give(svc->seats);
    if (svc->budget->live-- == svc->budget->cap) {
        update_pause_all(svc->budget);
    } else {
        update_pause(svc);
    }
}

struct service *
service_new(const struct service_config *sc, const struct service_env *env,
            char *err, size_t errlen, enum service_key *bad_key)
{
    struct service *svc = calloc(1, sizeof(*svc));

    if (svc == NULL) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        return NULL;
    }
    svc->sc = sc;
    if (config_service_digest(sc, svc->digest) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        free(svc);
        return NULL;
    }
    svc->ctx = tls_ctx_new(sc, err, errlen, bad_key);
    if (svc->ctx == NULL) {
        free(svc);
        return NULL;
    }
    if (auth_cmd_build(&svc->auth, sc->auth_user, sc->auth_password) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_AUTH_USER;
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    svc->lp.sc = sc;
    svc->lp.ctx = svc->ctx;
    svc->lp.auth = &svc->auth;
    svc->lp.base = env->base;
    svc->lp.dns = env->dns;
    svc->lp.stats = &svc->lstats;
    svc->seats = seats_get(sc->name, (unsigned)sc->max_clients);
    svc->pool = svc->seats != NULL ? pool_new(&svc->lp) : NULL;
    if (svc->pool == NULL) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        if (svc->seats != NULL) {
            seats_put(svc->seats);
        }
        auth_cmd_clear(&svc->auth);
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    svc->lp.note = &svc->seats->note;
    svc->host.pool = svc->pool;
    svc->host.sc = sc;
    svc->host.lp = &svc->lp;
    svc->host.base = env->base;
    svc->host.scratch = env->scratch;
    svc->host.scratch_len = env->scratch_len;
    svc->host.next_id = env->next_id;
    svc->host.closed_cb = session_closed;
    svc->host.stale_cb = stale_seen;
    svc->host.closed_arg = svc;
    svc->parked_fd = -1;
    event_assign(&svc->ev_seat, env->base, -1, 0, seat_cb, svc);
    pthread_mutex_lock(&seats_mu);
    svc->snext = all_services;
    if (svc->snext != NULL) {
        svc->snext->sprev = svc;
    }
    all_services = svc;
    pthread_mutex_unlock(&seats_mu);
    svc->budget = env->budget;
    svc->bnext = env->budget->services;
    if (svc->bnext != NULL) {
        svc->bnext->bprev = svc;
    }
    env->budget->services = svc;
    return svc;
}

int
service_listen(struct service *svc, char *err, size_t errlen)
{
    svc->listener = listener_new(svc->host.base, svc->sc, accept_client, svc,
                                 err, errlen);
    if (svc->listener == NULL) {
        return -1;
    }
    update_pause(svc);
    pool_start(svc->pool);
    return 0;
}

const char *
service_listen_addr(const struct service *svc)
{
    return svc->listener ? listener_addr(svc->listener) : svc->sc->listen;
}

void
service_describe(const struct service *svc, char *out, size_t outlen)
{
    const struct service_config *sc = svc->sc;
    static const char *const modes[] = {"full", "chain", "none"};
    char auth[160];

    if (sc->auth_password == NULL) {
        snprintf(auth, sizeof(auth), "none");
    } else {
        snprintf(auth, sizeof(auth), "%s%s (password from %s %s)",
                 sc->auth_user ? "user " : "default user",
                 sc->auth_user ? sc->auth_user : "",
                 sc->auth_password_file ? "file" : "env",
                 sc->auth_password_file ? sc->auth_password_file
                                        : sc->auth_password_env);
    }
    snprintf(out, outlen, "[%s] listen %s -> upstream %s: tls >= %s, "
             "verify %s%s%s, sni %s, ca %s%s, client cert %s, auth %s, "
             "max_clients %d, buffer_limit %zu, pool %d..%d",
             sc->name, sc->listen, sc->upstream,
             tls_version_name(sc->tls_min_version), modes[sc->verify],
             sc->verify == VERIFY_FULL ? " host " : "",
             sc->verify == VERIFY_FULL ? sc->verify_host : "",
             sc->sni ? sc->sni : "(none)",
             sc->ca_file ? sc->ca_file : (sc->ca_path ? sc->ca_path
                                                      : "system store"),
             sc->verify == VERIFY_NONE ? " (NOT VERIFIED: insecure)" : "",
             sc->cert_file ? sc->cert_file : "none", auth, sc->max_clients,
             sc->buffer_limit, sc->pool_min_idle, sc->pool_max_idle);
}

/* One line with every counter of the service (metrics come with #5). */
static void
log_stats(const struct service *svc)
{
    struct pool_stats ps;
    unsigned long full, resumed;
    char closed[600] = "";
    size_t used = 0;

    pool_get_stats(svc->pool, &ps);
    tls_session_counts(svc->ctx, &full, &resumed);
    for (int i = 0; i < POOL_REASONS && ps.closed[i].reason != NULL; i++) {
        int n = snprintf(closed + used, sizeof(closed) - used,
                         " closed_%s=%llu", ps.closed[i].reason,
                         (unsigned long long)ps.closed[i].count);

        if (n < 0 || (size_t)n >= sizeof(closed) - used) {
            break;
        }
        used += (size_t)n;
    }
    log_info("event=stats service=%s clients_total=%llu pool_hits=%llu "
             "pool_misses=%llu links_recycled=%llu links_closed=%llu "
             "link_fill_failures=%llu links_idle=%u handshakes_full=%lu "
             "handshakes_resumed=%lu%s", svc->sc->name,
             (unsigned long long)svc->host.total,
             (unsigned long long)ps.hits, (unsigned long long)ps.misses,
             (unsigned long long)ps.recycled,
             (unsigned long long)ps.discarded,
             (unsigned long long)ps.fill_failures, ps.idle, full, resumed,
             closed);
}

void
service_stop_accepting(struct service *svc)
{
    if (svc->listener != NULL) {
        log_stats(svc);
    }
    listener_free(svc->listener);
    svc->listener = NULL;
}

unsigned
service_clients(const struct service *svc)
{
    return svc->host.nsessions;
}

unsigned
service_links_idle(const struct service *svc)
{
    struct pool_stats ps;

    pool_get_stats(svc->pool, &ps);
    return ps.idle;
}

bool
service_first_link_tried(const struct service *svc)
{
    return pool_first_tried(svc->pool);
}

bool
service_upstream_up(const struct service *svc)
{
    struct pool_stats ps;

    pool_get_stats(svc->pool, &ps);
    return ps.upstream_up;
}

/* Prometheus label value: backslash, quote and newline escaped. */
static void
label(struct evbuffer *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"') {
            evbuffer_add_printf(out, "\\%c", *v);
        } else if (*v == '\n') {
            evbuffer_add_printf(out, "\\n");
        } else {
            evbuffer_add(out, v, 1);
        }
    }
}

static void
family(struct evbuffer *out, const char *name, const char *type,
       const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                        name, type);
}

/* service="...": the label every per-service sample has. */
static void
svc_labels(struct evbuffer *out, const struct service *svc)
{
    evbuffer_add_printf(out, "service=\"");
    label(out, svc->sc->name);
    evbuffer_add(out, "\"", 1);
}

/* name{service="..."[,k="v"]} value */
static void
sample(struct evbuffer *out, const char *name, const struct service *svc,
       const char *k, const char *v, unsigned long long value)
{
    evbuffer_add_printf(out, "%s{", name);
    svc_labels(out, svc);
    if (k != NULL) {
        evbuffer_add_printf(out, ",%s=\"", k);
        label(out, v);
        evbuffer_add(out, "\"", 1);
    }
    evbuffer_add_printf(out, "} %llu\n", value);
}

/*
 * What /metrics says about one service: its own figures, or with workers
 * the sum over the workers' services of that name (so the series are the
 * same for any number of workers).
 */
struct figures {
    const struct service *svc;  /* ref: names the series */
    bool merged;                /* added into an earlier service's figures */
    struct pool_stats ps;
    uint64_t clients, total, rx, tx;
    unsigned long full, resumed;
    struct link_stats ls;
};

static void
figures_read(struct figures *f, const struct service *svc)
{
    f->svc = svc;
    pool_get_stats(svc->pool, &f->ps);
    f->clients = svc->host.nsessions;
    f->total = svc->host.total;
    f->rx = svc->host.rx_total;
    f->tx = svc->host.tx_total;
    tls_session_counts(svc->ctx, &f->full, &f->resumed);
    f->ls = svc->lstats;
}

static void
hist_add(struct link_hist *to, const struct link_hist *from)
{
    for (int b = 0; b <= LINK_HIST_BUCKETS; b++) {
        to->bucket[b] += from->bucket[b];
    }
    to->count += from->count;
    to->sum += from->sum;
}

static void
figures_add(struct figures *to, const struct figures *from)
{
    struct pool_stats *a = &to->ps;
    const struct pool_stats *b = &from->ps;

    a->hits += b->hits;
    a->misses += b->misses;
    a->recycled += b->recycled;
    a->discarded += b->discarded;
    a->fill_failures += b->fill_failures;
    for (int k = 0; k < POOL_FAIL_KINDS; k++) {
        a->failures[k] += b->failures[k];
    }
    a->upstream_up = a->upstream_up && b->upstream_up;
    a->idle += b->idle;
    a->filling += b->filling;
    a->recycling += b->recycling;
    for (int r = 0; r < POOL_REASONS && b->closed[r].reason != NULL; r++) {
        int s = 0;

        while (s < POOL_REASONS && a->closed[s].reason != NULL &&
               strcmp(a->closed[s].reason, b->closed[r].reason) != 0) {
            s++;
        }
        if (s < POOL_REASONS) {
            a->closed[s].reason = b->closed[r].reason;
            a->closed[s].count += b->closed[r].count;
        }
    }
    to->clients += from->clients;
    to->total += from->total;
    to->rx += from->rx;
    to->tx += from->tx;
    to->full += from->full;
    to->resumed += from->resumed;
    hist_add(&to->ls.connect, &from->ls.connect);
    hist_add(&to->ls.handshake, &from->ls.handshake);
    for (int k = 0; k < TLS_FAIL_COUNT; k++) {
        to->ls.tls_failures[k] += from->ls.tls_failures[k];
    }
}

/* A histogram family: the link_hist at offset `at` of each figures' link
 * stats, buckets made cumulative. */
static void
histogram(struct evbuffer *out, const char *name, const char *help,
          const struct figures *fs, int n, size_t at)
{
    family(out, name, "histogram", help);
    for (int i = 0; i < n; i++) {
        const struct link_hist *h;
        uint64_t cum = 0;

        if (fs[i].merged) {
            continue;
        }
        h = (const struct link_hist *)((const char *)&fs[i].ls + at);
        for (int b = 0; b <= LINK_HIST_BUCKETS; b++) {
            cum += h->bucket[b];
            evbuffer_add_printf(out, "%s_bucket{", name);
            svc_labels(out, fs[i].svc);
            if (b < LINK_HIST_BUCKETS) {
                double le = link_hist_bounds[b];

                /* "1.0", not "1": as the Prometheus clients spell it. */
                evbuffer_add_printf(out, le == (double)(long)le
                                             ? ",le=\"%.1f\"} %llu\n"
                                             : ",le=\"%g\"} %llu\n",
                                    le, (unsigned long long)cum);
            } else {
                evbuffer_add_printf(out, ",le=\"+Inf\"} %llu\n",
                                    (unsigned long long)cum);
            }
        }
        evbuffer_add_printf(out, "%s_sum{", name);
        svc_labels(out, fs[i].svc);
        evbuffer_add_printf(out, "} %.9f\n%s_count{", h->sum, name);
        svc_labels(out, fs[i].svc);
        evbuffer_add_printf(out, "} %llu\n", (unsigned long long)h->count);
    }
}

/* The metrics with one value per service, read from one table. */
enum scalar {
    M_CLIENTS_ACTIVE,
    M_CLIENTS_TOTAL,
    M_CLIENT_BYTES,
    M_UPSTREAM_BYTES,
    M_POOL_HITS,
    M_POOL_MISSES,
    M_LINKS_RECYCLED,
    M_UPSTREAM_UP
};

static const struct {
    const char *name;       /* Prometheus name */
    const char *type;       /* counter | gauge */
    const char *help;       /* HELP text */
    enum scalar which;      /* what scalar_value() returns */
} scalars[] = {
    {"redsleeve_clients_active", "gauge", "Clients connected now.",
     M_CLIENTS_ACTIVE},
    {"redsleeve_clients_total", "counter", "Clients accepted since start.",
     M_CLIENTS_TOTAL},
    {"redsleeve_client_bytes_received_total", "counter",
     "Bytes read from clients (sent on to the upstream).", M_CLIENT_BYTES},
    {"redsleeve_upstream_bytes_received_total", "counter",
     "Bytes read from the upstream (sent on to clients).", M_UPSTREAM_BYTES},
    {"redsleeve_pool_hits_total", "counter",
     "Clients given a warm link at once.", M_POOL_HITS},
    {"redsleeve_pool_misses_total", "counter",
     "Clients that waited for a new link.", M_POOL_MISSES},
    {"redsleeve_links_recycled_total", "counter",
     "Used links cleaned with RESET and kept.", M_LINKS_RECYCLED},
    {"redsleeve_upstream_up", "gauge",
     "1 when the last link to the upstream succeeded (in every worker).",
     M_UPSTREAM_UP},
};

static unsigned long long
scalar_value(const struct figures *f, enum scalar which)
{
    switch (which) {
    case M_CLIENTS_ACTIVE:
        return f->clients;
    case M_CLIENTS_TOTAL:
        return f->total;
    case M_CLIENT_BYTES:
        return f->rx;
    case M_UPSTREAM_BYTES:
        return f->tx;
    case M_POOL_HITS:
        return f->ps.hits;
    case M_POOL_MISSES:
        return f->ps.misses;
    case M_LINKS_RECYCLED:
        return f->ps.recycled;
    case M_UPSTREAM_UP:
        return f->ps.upstream_up ? 1 : 0;
    }
    return 0;
}

void
service_metrics(struct service *const *svcs, int n, struct evbuffer *out)
{
    static const char *const kinds[POOL_FAIL_KINDS] = {
        "dns", "connect", "tls", "auth", "role", "other"};
    struct figures *fs = calloc((size_t)n, sizeof(*fs));
    int i;

    if (fs == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        figures_read(&fs[i], svcs[i]);
        for (int j = 0; j < i; j++) {
            if (!fs[j].merged &&
                strcmp(svcs[j]->sc->name, svcs[i]->sc->name) == 0) {
                figures_add(&fs[j], &fs[i]);
                fs[i].merged = true;
                break;
            }
        }
    }
    for (size_t m = 0; m < sizeof(scalars) / sizeof(scalars[0]); m++) {
        family(out, scalars[m].name, scalars[m].type, scalars[m].help);
        for (i = 0; i < n; i++) {
            if (!fs[i].merged) {
                sample(out, scalars[m].name, fs[i].svc, NULL, NULL,
                       scalar_value(&fs[i], scalars[m].which));
            }
        }
    }
    family(out, "redsleeve_links", "gauge",
           "Upstream links by state (busy = owned by a client).");
    for (i = 0; i < n; i++) {
        if (fs[i].merged) {
            continue;
        }
        sample(out, "redsleeve_links", fs[i].svc, "state", "idle",
               fs[i].ps.idle);
        sample(out, "redsleeve_links", fs[i].svc, "state", "filling",
               fs[i].ps.filling);
        sample(out, "redsleeve_links", fs[i].svc, "state", "recycling",
               fs[i].ps.recycling);
        sample(out, "redsleeve_links", fs[i].svc, "state", "busy",
               fs[i].clients);
    }
    family(out, "redsleeve_links_closed_total", "counter",
           "Used links closed instead of recycled, by reason.");
    for (i = 0; i < n; i++) {
        for (int r = 0; !fs[i].merged && r < POOL_REASONS &&
                        fs[i].ps.closed[r].reason != NULL; r++) {
            sample(out, "redsleeve_links_closed_total", fs[i].svc, "reason",
                   fs[i].ps.closed[r].reason, fs[i].ps.closed[r].count);
        }
    }
    family(out, "redsleeve_tls_handshakes_total", "counter",
           "TLS handshakes with the upstream, full or resumed.");
    for (i = 0; i < n; i++) {
        if (!fs[i].merged) {
            sample(out, "redsleeve_tls_handshakes_total", fs[i].svc, "type",
                   "full", fs[i].full);
            sample(out, "redsleeve_tls_handshakes_total", fs[i].svc, "type",
                   "resumed", fs[i].resumed);
        }
    }
    family(out, "redsleeve_upstream_failures_total", "counter",
           "Upstream links that failed, by kind (dns, connect, tls, auth, "
           "role).");
    for (i = 0; i < n; i++) {
        for (int k = 0; !fs[i].merged && k < POOL_FAIL_KINDS; k++) {
            sample(out, "redsleeve_upstream_failures_total", fs[i].svc,
                   "kind", kinds[k], fs[i].ps.failures[k]);
        }
    }
    family(out, "redsleeve_tls_failures_total", "counter",
           "TLS handshakes with the upstream that failed, by reason.");
    for (i = 0; i < n; i++) {
        for (int k = 0; !fs[i].merged && k < TLS_FAIL_COUNT; k++) {
            sample(out, "redsleeve_tls_failures_total", fs[i].svc, "reason",
                   tls_fail_name((enum tls_fail)k),
                   fs[i].ls.tls_failures[k]);
        }
    }
    histogram(out, "redsleeve_upstream_connect_seconds",
              "Time from the first connect() to an established TCP "
              "connection.", fs, n, offsetof(struct link_stats, connect));
    histogram(out, "redsleeve_upstream_handshake_seconds",
              "Time of the TLS handshake with the upstream (AUTH not "
              "included).", fs, n, offsetof(struct link_stats, handshake));
    free(fs);
}

void
service_shutdown(struct service *svc)
{
    service_stop_accepting(svc);
    session_close_all(&svc->host, "shutdown");
}

void
service_free(struct service *svc)
{
    if (svc == NULL) {
        return;
    }
    service_shutdown(svc);
    session_host_clear(&svc->host);
    pool_free(svc->pool);
    auth_cmd_clear(&svc->auth);
    SSL_CTX_free(svc->ctx);
    if (svc->owned_sc != NULL) {
        config_service_free(svc->owned_sc);
    }
    if (svc->bprev != NULL) {
        svc->bprev->bnext = svc->bnext;
    } else {
        svc->budget->services = svc->bnext;
    }
    if (svc->bnext != NULL) {
        svc->bnext->bprev = svc->bprev;
    }
    pthread_mutex_lock(&seats_mu);
    if (svc->sprev != NULL) {
        svc->sprev->snext = svc->snext;
    } else {
        all_services = svc->snext;
    }
    if (svc->snext != NULL) {
        svc->snext->sprev = svc->sprev;
    }
    pthread_mutex_unlock(&seats_mu);
    event_del(&svc->ev_seat);
    if (svc->parked_fd >= 0) {
        close(svc->parked_fd);
        atomic_fetch_sub(&svc->seats->parked, 1);
    }
    seats_put(svc->seats);
    free(svc);
}

bool
service_unchanged(const struct service *svc, const struct service_config *sc)
{
    unsigned char d[CONFIG_DIGEST_LEN];

    return config_service_digest(sc, d) == 0 &&
           memcmp(d, svc->digest, sizeof(d)) == 0;
}

const struct service_config *
service_config(const struct service *svc)
{
    return svc->sc;
}

bool
service_is_listening(const struct service *svc)
{
    return svc->listener != NULL;
}

void
service_take_listener(struct service *to, struct service *from)
{
    to->listener = from->listener;
    from->listener = NULL;
    listener_set_owner(to->listener, accept_client, to);
    update_pause(to);
    pool_start(to->pool);
}

void
service_retire(struct service *svc, struct service_config *sc)
{
    service_stop_accepting(svc);
    pool_retire(svc->pool);
    svc->owned_sc = sc;
}
