/*
 * service.c: a [section] brought to life: TLS context, AUTH, listener,
 * and the count of clients against max_clients.
 */
#include "service.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "listener.h"
#include "mux.h"
#include "pool.h"
#include "session.h"
#include "shared.h"
#include "stats.h"
#include "tls.h"
#include "upstream.h"

struct service {
    const struct service_config *sc;    /* ref: owner is the config */
    SSL_CTX *ctx;                       /* owned: client TLS context */
    struct auth_cmd auth;               /* owned, secret: AUTH to send */
    uint64_t iam_tokens;                /* IAM tokens signed (this loop) */
    struct link_params lp;              /* lent to every link */
    struct session_host host;           /* lent to every session */
    struct listener *listener;          /* owned: NULL until listening */
    struct pool *pool;                  /* owned: warm links */
    struct link_stats lstats;           /* latencies, TLS failures */
    unsigned char digest[CONFIG_DIGEST_LEN];    /* of sc and its files */
    struct client_budget *budget;       /* ref: descriptors, shared */
    struct service *bprev, *bnext;      /* ref: budget->services list */
    struct shared_member member;        /* seats, notices (shared.c) */
    struct event ev_seat;               /* a seat may have come free, or
                                           a notice came */
    struct link *probe;                 /* owned: service_probe's link */
    service_probe_cb probe_cb;          /* who hears how it went */
    void *probe_arg;                    /* ref: theirs */
    int parked_fd;                      /* owned: accepted, no seat yet */
    struct sockaddr_storage parked_addr;
    int parked_addrlen;
};

/*
 * max_clients holds for the whole process: with workers, every worker has
 * a service of that name (and a reload may leave a retired one), and they
 * all count against one set of seats (shared.c).  A worker's listener
 * pauses while the seats are taken; when one comes free, every service of
 * that name is woken (ev_seat), so a worker paused by another's clients
 * resumes.  A listener that accepted just as another worker took the last
 * seat parks that one client (unread, as if still in the backlog) and
 * pauses.  With one worker nothing is ever parked.  The same wake-up
 * carries failover notices: a READONLY seen by one worker closes the idle
 * links to that server in every worker.
 */

/* The descriptors are spent: clients (two each) and draining links (one
 * each) fill the budget.  A shared-mode client holds one until it is
 * pinned, but pinning takes the second without asking: it is counted as
 * two from the start, or a burst of pins could run out of descriptors. */
static bool
budget_spent(const struct client_budget *b)
{
    return b->live + (b->draining + 1) / 2 >= b->cap;
}

/* Accepting pauses at max_clients, or while the shared budget is spent. */
static void
update_pause(struct service *svc)
{
    if (svc->listener != NULL) {
        listener_set_paused(svc->listener,
                            svc->parked_fd >= 0 ||
                                shared_seats_full(&svc->member) ||
                                budget_spent(svc->budget));
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
        shared_seat_give(&svc->member);
        update_pause(svc);
        return;
    }
    svc->budget->accepted++;
    svc->budget->live++;
    if (budget_spent(svc->budget)) {
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

    if (!shared_seat_take(&svc->member)) {
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
        shared_parked(&svc->member, 1);
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

    pool_suspect(h->pool, peer, why);
    shared_notice(&svc->member, peer, why);
}

static void
seat_cb(evutil_socket_t fd, short what, void *arg)
{
    struct service *svc = arg;
    char peer[SHARED_PEER_MAX], why[SHARED_WHY_MAX];

    (void)fd;
    (void)what;
    if (shared_notice_take(&svc->member, peer, why) &&
        svc->listener != NULL) {
        char seen[SHARED_WHY_MAX + 32];

        snprintf(seen, sizeof(seen), "%s (seen by another worker)", why);
        pool_suspect(svc->pool, peer, seen);
    }
    if (svc->parked_fd >= 0 && shared_seat_take(&svc->member)) {
        int cfd = svc->parked_fd;

        svc->parked_fd = -1;
        shared_parked(&svc->member, -1);
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
    shared_seat_give(&svc->member);
    if (budget_spent(svc->budget)) {
        svc->budget->live--;
        update_pause_all(svc->budget);
    } else {
        svc->budget->live--;
        update_pause(svc);
    }
}

/* pool_mode = shared: at most this many shared links per worker (fewer
 * when pool_max_idle says so). */
#define SHARED_LINKS_MAX 4

static unsigned
shared_links(const struct service_config *sc)
{
    if (sc->pool_max_idle > 0 && sc->pool_max_idle < SHARED_LINKS_MAX) {
        return (unsigned)sc->pool_max_idle;
    }
    return SHARED_LINKS_MAX;
}

/* The pool's draining links (pool_set_drain_cb): they hold descriptors
 * too. */
static void
draining_changed(int delta, void *arg)
{
    struct service *svc = arg;
    bool was = budget_spent(svc->budget);

    svc->budget->draining = (unsigned)((int)svc->budget->draining + delta);
    if (was != budget_spent(svc->budget)) {
        update_pause_all(svc->budget);
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
    if (sc->iam_user_id != NULL) {
        struct auth_iam iam = {
            .user = sc->iam_user_id,
            .cache = sc->iam_cache_name,
            .region = sc->iam_region,
            .serverless = sc->iam_serverless,
            .creds = {sc->iam_access_key, sc->iam_secret_key,
                      sc->iam_session_token},
            .signed_count = &svc->iam_tokens,
            .cell = sc->iam_dynamic ? shared_container_creds(env->shared)
                                    : NULL,
        };

        auth_cmd_build_iam(&svc->auth, &iam);
    } else if (auth_cmd_build(&svc->auth, sc->auth_user,
                              sc->auth_password) < 0) {
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
    svc->pool = pool_new(&svc->lp);
    event_assign(&svc->ev_seat, env->base, -1, 0, seat_cb, svc);
    if (svc->pool == NULL ||
        shared_join(env->shared, &svc->member, sc->name,
                    (unsigned)sc->max_clients, &svc->ev_seat) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        pool_free(svc->pool);
        auth_cmd_clear(&svc->auth);
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    svc->lp.note = shared_note(&svc->member);
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
    if (sc->pool_mode == POOL_SHARED &&
        session_host_shared(&svc->host, shared_links(sc)) < 0) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_POOL_MODE;
        pool_free(svc->pool);
        shared_leave(&svc->member);
        auth_cmd_clear(&svc->auth);
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    pool_set_drain_cb(svc->pool, draining_changed, svc);
    pool_set_idle_limit(svc->pool, env->budget->idle_auto);
    svc->parked_fd = -1;
    svc->budget = env->budget;
    svc->bnext = env->budget->services;
    if (svc->bnext != NULL) {
        svc->bnext->bprev = svc;
    }
    env->budget->services = svc;
    return svc;
}


struct service *
service_build(const struct config *cfg, const struct service_config *sc,
              const struct service_env *env, char *out, size_t outlen)
{
    enum service_key key = SK_UPSTREAM;
    char err[512];
    struct service *svc = service_new(sc, env, err, sizeof(err), &key);

    if (svc == NULL) {
        config_key_error(cfg, sc, key, err, out, outlen);
    }
    return svc;
}

int
service_listen(struct service *svc, int port, char *err, size_t errlen)
{
    svc->listener = listener_new(svc->host.base, svc->sc, port, accept_client,
                                 svc, err, errlen);
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
    char auth[512], pool_max[16];

    if (sc->pool_max_idle < 0) {
        snprintf(pool_max, sizeof(pool_max), "auto");
    } else {
        snprintf(pool_max, sizeof(pool_max), "%d", sc->pool_max_idle);
    }
    if (sc->iam_user_id != NULL) {
        snprintf(auth, sizeof(auth), "IAM user %s, cache %s%s, region %s, "
                 "credentials from %s%s%s%s", sc->iam_user_id,
                 sc->iam_cache_name, sc->iam_serverless ? " (serverless)" : "",
                 sc->iam_region, sc->iam_creds_source,
                 sc->iam_role_arn != NULL ? " (" : "",
                 sc->iam_role_arn != NULL ? sc->iam_role_arn : "",
                 sc->iam_role_arn != NULL ? ")" : "");
    } else if (sc->auth_password == NULL) {
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
             "max_clients %d, buffer_limit %zu, pool %d..%s, role %s",
             sc->name, sc->listen, sc->upstream,
             tls_version_name(sc->tls_min_version), modes[sc->verify],
             sc->verify == VERIFY_FULL ? " host " : "",
             sc->verify == VERIFY_FULL ? sc->verify_host : "",
             sc->sni ? sc->sni : "(none)",
             sc->ca_file ? sc->ca_file : (sc->ca_path ? sc->ca_path
                                                      : "system store"),
             sc->verify == VERIFY_NONE ? " (NOT VERIFIED: insecure)"
             : sc->verify == VERIFY_CHAIN && sc->ca_file == NULL &&
                     sc->ca_path == NULL
                 ? " (ANY publicly trusted certificate, any name: insecure)"
                 : "",
             sc->cert_file ? sc->cert_file : "none", auth, sc->max_clients,
             sc->buffer_limit, sc->pool_min_idle, pool_max,
             sc->role == ROLE_PRIMARY ? "primary"
             : sc->role == ROLE_REPLICA ? "replica" : "any");
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

bool
service_first_link_tried(const struct service *svc)
{
    return pool_first_tried(svc->pool);
}

int
service_figures(const struct service *svc, struct svc_figures *f)
{
    f->name = strdup(svc->sc->name);
    f->upstream = strdup(svc->sc->upstream);
    if (f->name == NULL || f->upstream == NULL) {
        return -1;
    }
    pool_get_stats(svc->pool, &f->ps);
    f->clients = svc->host.nsessions;
    f->total = svc->host.total;
    f->rx = svc->host.rx_total;
    f->tx = svc->host.tx_total;
    tls_session_counts(svc->ctx, &f->full, &f->resumed);
    f->ls = svc->lstats;
    f->iam_tokens = svc->iam_tokens;
    if (svc->host.mux != NULL) {
        struct mux_stats ms;

        mux_get_stats(svc->host.mux, &ms);
        f->shared = true;
        f->shared_links = ms.links;
        f->shared_batches = ms.batches;
        f->shared_requests = ms.requests;
        f->shared_failures = ms.failed;
        f->shared_evictions = ms.evicted;
        f->pinned = svc->host.npinned;
        memcpy(f->pins, svc->host.pins, sizeof(f->pins));
        f->unpins = svc->host.unpins;
    }
    if (svc->sc->iam_user_id != NULL &&
        (f->iam_source = strdup(svc->sc->iam_creds_source)) == NULL) {
        return -1;
    }
    if (svc->auth.iam_cfg.cell != NULL) {
        time_t exp;

        creds_cell_state(svc->auth.iam_cfg.cell, &exp,
                         &f->iam_fetch_failures);
        f->iam_dynamic = true;
        f->iam_expiration = (long long)exp;
    }
    return 0;
}

const struct link_params *
service_link_params(const struct service *svc)
{
    return &svc->lp;
}

void
service_set_node_map(struct service *svc, service_node_map_fn fn, void *arg)
{
    svc->host.node_port = fn;
    svc->host.node_arg = arg;
}

void
service_cluster_counts(const struct service *svc, uint64_t *rewrites,
                       uint64_t *redirects, uint64_t *moved)
{
    *rewrites = svc->host.cluster_rewrites;
    *redirects = svc->host.cluster_redirects;
    *moved = svc->host.cluster_moved;
}

uint64_t
service_link_failures(const struct service *svc)
{
    struct pool_stats ps;

    pool_get_stats(svc->pool, &ps);
    return ps.fill_failures;
}

/* The probe link is ready or failed: judge, free it, report. */
static void
probe_ready(struct link *link, const char *error, void *arg)
{
    struct service *svc = arg;
    enum link_fail kind = error != NULL ? link_failure(link)
                                        : LINK_FAIL_NONE;
    enum tls_fail tls_kind = link_tls_failure(link);
    char why[TLS_REASON_MAX];
    int verdict = 0;

    snprintf(why, sizeof(why), "%s", error != NULL ? error : "");
    if (error != NULL) {
        verdict = link_fail_is_verdict(kind) ? -1 : 1;
    }
    link_free(link, error == NULL);
    svc->probe = NULL;
    svc->probe_cb(svc->probe_arg, verdict, kind, tls_kind, why);
}

int
service_probe(struct service *svc, service_probe_cb cb, void *arg)
{
    svc->probe_cb = cb;
    svc->probe_arg = arg;
    svc->probe = link_new(&svc->lp, probe_ready, svc);
    return svc->probe != NULL ? 0 : -1;
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
    link_free(svc->probe, false);   /* a probe still under way: cancelled */
    session_host_clear(&svc->host);
    pool_free(svc->pool);
    auth_cmd_clear(&svc->auth);
    SSL_CTX_free(svc->ctx);
    if (svc->bprev != NULL) {
        svc->bprev->bnext = svc->bnext;
    } else {
        svc->budget->services = svc->bnext;
    }
    if (svc->bnext != NULL) {
        svc->bnext->bprev = svc->bprev;
    }
    if (svc->parked_fd >= 0) {
        close(svc->parked_fd);
        shared_parked(&svc->member, -1);
    }
    shared_leave(&svc->member);     /* nobody wakes ev_seat now */
    event_del(&svc->ev_seat);
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
service_retire(struct service *svc)
{
    service_stop_accepting(svc);
    pool_retire(svc->pool);
}
