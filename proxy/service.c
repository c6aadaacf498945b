/*
 * service.c: a [section] brought to life: TLS context, AUTH, listener,
 * and the count of clients against max_clients.
 */
#include "service.h"

#include <event2/buffer.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int worker;                         /* metrics label, -1 = none */
    struct service *bprev, *bnext;      /* ref: budget->services list */
};

/* Accepting pauses at max_clients, or while the shared budget is spent. */
static void
update_pause(struct service *svc)
{
    if (svc->listener != NULL) {
        listener_set_paused(svc->listener,
                            svc->host.nsessions >=
                                    (unsigned)svc->sc->max_clients ||
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

static void
accept_client(int fd, const struct sockaddr *addr, int addrlen, void *arg)
{
    struct service *svc = arg;

    if (session_new(&svc->host, fd, addr, addrlen) < 0) {
        log_warn("event=accept-failed service=%s reason=\"out of memory\"",
                 svc->sc->name);
        return;
    }
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
session_closed(struct session_host *h, void *arg)
{
    struct service *svc = arg;

    (void)h;
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
    svc->pool = pool_new(&svc->lp);
    if (svc->pool == NULL) {
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        auth_cmd_clear(&svc->auth);
        SSL_CTX_free(svc->ctx);
        free(svc);
        return NULL;
    }
    svc->host.pool = svc->pool;
    svc->host.sc = sc;
    svc->host.lp = &svc->lp;
    svc->host.base = env->base;
    svc->host.scratch = env->scratch;
    svc->host.scratch_len = env->scratch_len;
    svc->host.next_id = env->next_id;
    svc->host.closed_cb = session_closed;
    svc->host.closed_arg = svc;
    svc->worker = env->worker;
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

/* service="..."[,worker="N"]: the labels every per-service sample has. */
static void
svc_labels(struct evbuffer *out, const struct service *svc)
{
    evbuffer_add_printf(out, "service=\"");
    label(out, svc->sc->name);
    if (svc->worker >= 0) {
        evbuffer_add_printf(out, "\",worker=\"%d", svc->worker);
    }
    evbuffer_add(out, "\"", 1);
}

/* name{service="..."[,worker="N"][,k="v"]} value */
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

/* A histogram family: the link_hist at offset `at` of each service's
 * link_stats, buckets made cumulative. */
static void
histogram(struct evbuffer *out, const char *name, const char *help,
          struct service *const *svcs, int n, size_t at)
{
    family(out, name, "histogram", help);
    for (int i = 0; i < n; i++) {
        const struct link_hist *h =
            (const struct link_hist *)((const char *)&svcs[i]->lstats + at);
        uint64_t cum = 0;

        for (int b = 0; b <= LINK_HIST_BUCKETS; b++) {
            cum += h->bucket[b];
            evbuffer_add_printf(out, "%s_bucket{", name);
            svc_labels(out, svcs[i]);
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
        svc_labels(out, svcs[i]);
        evbuffer_add_printf(out, "} %.9f\n%s_count{", h->sum, name);
        svc_labels(out, svcs[i]);
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
     "1 when the last link to the upstream succeeded.", M_UPSTREAM_UP},
};

static unsigned long long
scalar_value(const struct service *svc, const struct pool_stats *ps,
             enum scalar which)
{
    switch (which) {
    case M_CLIENTS_ACTIVE:
        return svc->host.nsessions;
    case M_CLIENTS_TOTAL:
        return svc->host.total;
    case M_CLIENT_BYTES:
        return svc->host.rx_total;
    case M_UPSTREAM_BYTES:
        return svc->host.tx_total;
    case M_POOL_HITS:
        return ps->hits;
    case M_POOL_MISSES:
        return ps->misses;
    case M_LINKS_RECYCLED:
        return ps->recycled;
    case M_UPSTREAM_UP:
        return ps->upstream_up ? 1 : 0;
    }
    return 0;
}

void
service_metrics(struct service *const *svcs, int n, struct evbuffer *out)
{
    static const char *const kinds[POOL_FAIL_KINDS] = {
        "dns", "connect", "tls", "auth", "role", "other"};
    struct pool_stats *ps = calloc((size_t)n, sizeof(*ps));
    unsigned long full, resumed;
    int i;

    if (ps == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        pool_get_stats(svcs[i]->pool, &ps[i]);
    }
    for (size_t m = 0; m < sizeof(scalars) / sizeof(scalars[0]); m++) {
        family(out, scalars[m].name, scalars[m].type, scalars[m].help);
        for (i = 0; i < n; i++) {
            sample(out, scalars[m].name, svcs[i], NULL, NULL,
                   scalar_value(svcs[i], &ps[i], scalars[m].which));
        }
    }
    family(out, "redsleeve_links", "gauge",
           "Upstream links by state (busy = owned by a client).");
    for (i = 0; i < n; i++) {
        sample(out, "redsleeve_links", svcs[i], "state", "idle", ps[i].idle);
        sample(out, "redsleeve_links", svcs[i], "state", "filling",
               ps[i].filling);
        sample(out, "redsleeve_links", svcs[i], "state", "recycling",
               ps[i].recycling);
        sample(out, "redsleeve_links", svcs[i], "state", "busy",
               svcs[i]->host.nsessions);
    }
    family(out, "redsleeve_links_closed_total", "counter",
           "Used links closed instead of recycled, by reason.");
    for (i = 0; i < n; i++) {
        for (int r = 0; r < POOL_REASONS && ps[i].closed[r].reason; r++) {
            sample(out, "redsleeve_links_closed_total", svcs[i], "reason",
                   ps[i].closed[r].reason, ps[i].closed[r].count);
        }
    }
    family(out, "redsleeve_tls_handshakes_total", "counter",
           "TLS handshakes with the upstream, full or resumed.");
    for (i = 0; i < n; i++) {
        tls_session_counts(svcs[i]->ctx, &full, &resumed);
        sample(out, "redsleeve_tls_handshakes_total", svcs[i], "type",
               "full", full);
        sample(out, "redsleeve_tls_handshakes_total", svcs[i], "type",
               "resumed", resumed);
    }
    family(out, "redsleeve_upstream_failures_total", "counter",
           "Upstream links that failed, by kind (dns, connect, tls, auth, "
           "role).");
    for (i = 0; i < n; i++) {
        for (int k = 0; k < POOL_FAIL_KINDS; k++) {
            sample(out, "redsleeve_upstream_failures_total", svcs[i], "kind",
                   kinds[k], ps[i].failures[k]);
        }
    }
    family(out, "redsleeve_tls_failures_total", "counter",
           "TLS handshakes with the upstream that failed, by reason.");
    for (i = 0; i < n; i++) {
        for (int k = 0; k < TLS_FAIL_COUNT; k++) {
            sample(out, "redsleeve_tls_failures_total", svcs[i], "reason",
                   tls_fail_name((enum tls_fail)k),
                   svcs[i]->lstats.tls_failures[k]);
        }
    }
    histogram(out, "redsleeve_upstream_connect_seconds",
              "Time from the first connect() to an established TCP "
              "connection.", svcs, n, offsetof(struct link_stats, connect));
    histogram(out, "redsleeve_upstream_handshake_seconds",
              "Time of the TLS handshake with the upstream (AUTH not "
              "included).", svcs, n, offsetof(struct link_stats, handshake));
    free(ps);
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
