/*
 * stats.c: /metrics, /readyz and the status line from the workers'
 * copies of their counters (see stats.h).
 */
#include "stats.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls.h"

void
stats_worker_clear(struct stats_worker *w)
{
    for (int i = 0; w->figs != NULL && i < w->nfigs; i++) {
        free(w->figs[i].name);
        free(w->figs[i].upstream);
        free(w->figs[i].iam_source);
    }
    free(w->figs);
    memset(w, 0, sizeof(*w));
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

/* The label of a fetched source's failures, as its log lines name it. */
static const char *
fetch_source_label(const char *iam_source)
{
    if (strcmp(iam_source, "instance metadata") == 0) {
        return "imds";
    }
    if (strcmp(iam_source, "web identity") == 0) {
        return "web-identity";
    }
    return "container";
}

static void
metric_family(struct evbuffer *out, const char *name, const char *type,
       const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                        name, type);
}

/* service="...": the label every per-service sample has. */
static void
svc_labels(struct evbuffer *out, const char *svc)
{
    evbuffer_add_printf(out, "service=\"");
    label(out, svc);
    evbuffer_add(out, "\"", 1);
}

/* name{service="..."[,k="v"]} value */
static void
sample(struct evbuffer *out, const char *name, const char *svc,
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

static void
hist_add(struct link_hist *to, const struct link_hist *from)
{
    for (int b = 0; b <= LINK_HIST_BUCKETS; b++) {
        to->bucket[b] += from->bucket[b];
    }
    to->count += from->count;
    to->sum += from->sum;
}

void
stats_figures_add(struct svc_figures *to, const struct svc_figures *from)
{
    struct pool_stats *a = &to->ps;
    const struct pool_stats *b = &from->ps;

    a->hits += b->hits;
    a->misses += b->misses;
    a->recycled += b->recycled;
    a->returned_clean += b->returned_clean;
    a->discarded += b->discarded;
    a->fill_failures += b->fill_failures;
    a->reauths += b->reauths;
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
    to->iam_tokens += from->iam_tokens;
    if (from->cluster_nodes > to->cluster_nodes) {
        to->cluster_nodes = from->cluster_nodes;    /* one book */
    }
    to->cluster_rewrites += from->cluster_rewrites;
    to->cluster_redirects += from->cluster_redirects;
    to->cluster_exhausted += from->cluster_exhausted;
    if (from->cluster_ports > to->cluster_ports) {
        to->cluster_ports = from->cluster_ports;    /* every worker binds */
    }
    to->shared_links += from->shared_links;
    to->shared_batches += from->shared_batches;
    to->shared_requests += from->shared_requests;
    to->shared_failures += from->shared_failures;
    to->shared_evictions += from->shared_evictions;
    to->pinned += from->pinned;
    to->unpins += from->unpins;
    for (int k = 0; k < TRACK_PIN_KINDS; k++) {
        to->pins[k] += from->pins[k];
    }
    to->cluster_refreshes += from->cluster_refreshes;
    to->cluster_refresh_failures += from->cluster_refresh_failures;
    if (from->iam_fetch_failures > to->iam_fetch_failures) {
        to->iam_fetch_failures = from->iam_fetch_failures;  /* one cell */
    }
    hist_add(&to->ls.connect, &from->ls.connect);
    hist_add(&to->ls.handshake, &from->ls.handshake);
    for (int k = 0; k < TLS_FAIL_COUNT; k++) {
        to->ls.tls_failures[k] += from->ls.tls_failures[k];
    }
}

/* pool_mode = shared: links, batches, pinned clients.  One counter or
 * gauge of svc_figures per family (its offset), each family whole. */
static void
shared_family(struct evbuffer *out, const struct svc_figures *fs,
              const bool *merged, int n, const char *name, const char *type,
              const char *help, size_t at, bool wide)
{
    metric_family(out, name, type, help);
    for (int i = 0; i < n; i++) {
        const char *f = (const char *)&fs[i] + at;

        if (!merged[i] && fs[i].shared) {
            sample(out, name, fs[i].name, NULL, NULL,
                   wide ? *(const uint64_t *)(const void *)f
                        : *(const unsigned *)(const void *)f);
        }
    }
}

static void
shared_metrics(struct evbuffer *out, const struct svc_figures *fs,
               const bool *merged, int n)
{
#define SF(name, type, help, field, wide)                                    \
    shared_family(out, fs, merged, n, name, type, help,                     \
                  offsetof(struct svc_figures, field), wide)
    SF("redsleeve_shared_links", "gauge",
       "Shared links open now (pool_mode = shared).", shared_links, false);
    SF("redsleeve_shared_batches_total", "counter",
       "Writes of queued requests on shared links; requests_total / "
       "batches_total is the mean requests per batch.", shared_batches, true);
    SF("redsleeve_shared_requests_total", "counter",
       "Requests sent on shared links.", shared_requests, true);
    SF("redsleeve_shared_link_failures_total", "counter",
       "Shared links that failed (each client with a request on it got one "
       "error and was closed).", shared_failures, true);
    SF("redsleeve_shared_slow_readers_total", "counter",
       "Shared-mode clients closed because they took no reply bytes for "
       "10 s while other clients waited behind them.", shared_evictions,
       true);
    SF("redsleeve_clients_pinned", "gauge",
       "Shared-mode clients holding a link of their own now.", pinned,
       false);
    SF("redsleeve_clients_unpinned_total", "counter",
       "Pinned clients that went back to shared links (their transaction "
       "ended or their blocking command returned, nothing else touched).",
       unpins, true);
#undef SF
    metric_family(out, "redsleeve_clients_pinned_total", "counter",
           "Shared-mode clients pinned to a link of their own, by the "
           "reason of the request that pinned them.");
    for (int i = 0; i < n; i++) {
        if (merged[i] || !fs[i].shared) {
            continue;
        }
        for (int k = 1; k < TRACK_PIN_KINDS; k++) {
            sample(out, "redsleeve_clients_pinned_total", fs[i].name,
                   "reason", track_pin_names[k], fs[i].pins[k]);
        }
    }
}

/* A histogram family: the link_hist at offset `at` of each figures' link
 * stats, buckets made cumulative. */
static void
histogram(struct evbuffer *out, const char *name, const char *help,
          const struct svc_figures *fs, const bool *merged, int n,
          size_t at)
{
    metric_family(out, name, "histogram", help);
    for (int i = 0; i < n; i++) {
        const struct link_hist *h;
        uint64_t cum = 0;

        if (merged[i]) {
            continue;
        }
        h = (const struct link_hist *)((const char *)&fs[i].ls + at);
        for (int b = 0; b <= LINK_HIST_BUCKETS; b++) {
            cum += h->bucket[b];
            evbuffer_add_printf(out, "%s_bucket{", name);
            svc_labels(out, fs[i].name);
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
        svc_labels(out, fs[i].name);
        evbuffer_add_printf(out, "} %.9f\n%s_count{", h->sum, name);
        svc_labels(out, fs[i].name);
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
    M_LINKS_CLEAN,
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
     "Used links kept for the next client (after RESET, or clean).",
     M_LINKS_RECYCLED},
    {"redsleeve_links_returned_clean_total", "counter",
     "Used links kept without RESET: their client touched no connection "
     "state.", M_LINKS_CLEAN},
    {"redsleeve_upstream_up", "gauge",
     "1 when the last link to the upstream succeeded (in every worker).",
     M_UPSTREAM_UP},
};

static unsigned long long
scalar_value(const struct svc_figures *f, enum scalar which)
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
    case M_LINKS_CLEAN:
        return f->ps.returned_clean;
    case M_UPSTREAM_UP:
        return f->ps.upstream_up ? 1 : 0;
    }
    return 0;
}


/* redsleeve_build_info: the same in every /metrics. */
static void
build_info(struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP redsleeve_build_info Version and the "
                        "libraries it runs with.\n"
                        "# TYPE redsleeve_build_info gauge\n"
                        "redsleeve_build_info{version=\"%s\",openssl=\"%s\","
                        "libevent=\"%s\"} 1\n", REDSLEEVE_VERSION,
                        OpenSSL_version(OPENSSL_VERSION_STRING),
                        event_get_version());
}

/* The services: every worker's, summed by name into the first of it. */
static void
render_services(struct evbuffer *out, struct svc_figures *fs, int n)
{
    static const char *const kinds[POOL_FAIL_KINDS] = {
        "dns", "connect", "tls", "auth", "role", "other"};
    bool *merged = calloc((size_t)n + 1, sizeof(*merged));
    int i;

    if (merged == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            if (!merged[j] && strcmp(fs[j].name, fs[i].name) == 0) {
                stats_figures_add(&fs[j], &fs[i]);
                merged[i] = true;
                break;
            }
        }
    }
    for (size_t m = 0; m < sizeof(scalars) / sizeof(scalars[0]); m++) {
        metric_family(out, scalars[m].name, scalars[m].type, scalars[m].help);
        for (i = 0; i < n; i++) {
            if (!merged[i]) {
                sample(out, scalars[m].name, fs[i].name, NULL, NULL,
                       scalar_value(&fs[i], scalars[m].which));
            }
        }
    }
    metric_family(out, "redsleeve_links", "gauge",
           "Upstream links by state (busy = owned by a client).");
    for (i = 0; i < n; i++) {
        if (merged[i]) {
            continue;
        }
        sample(out, "redsleeve_links", fs[i].name, "state", "idle",
               fs[i].ps.idle);
        sample(out, "redsleeve_links", fs[i].name, "state", "filling",
               fs[i].ps.filling);
        sample(out, "redsleeve_links", fs[i].name, "state", "recycling",
               fs[i].ps.recycling);
        sample(out, "redsleeve_links", fs[i].name, "state", "busy",
               fs[i].clients);
    }
    metric_family(out, "redsleeve_links_closed_total", "counter",
           "Used links closed instead of recycled, by reason.");
    for (i = 0; i < n; i++) {
        for (int r = 0; !merged[i] && r < POOL_REASONS &&
                        fs[i].ps.closed[r].reason != NULL; r++) {
            sample(out, "redsleeve_links_closed_total", fs[i].name, "reason",
                   fs[i].ps.closed[r].reason, fs[i].ps.closed[r].count);
        }
    }
    metric_family(out, "redsleeve_tls_handshakes_total", "counter",
           "TLS handshakes with the upstream, full or resumed.");
    for (i = 0; i < n; i++) {
        if (!merged[i]) {
            sample(out, "redsleeve_tls_handshakes_total", fs[i].name, "type",
                   "full", fs[i].full);
            sample(out, "redsleeve_tls_handshakes_total", fs[i].name, "type",
                   "resumed", fs[i].resumed);
        }
    }
    metric_family(out, "redsleeve_upstream_failures_total", "counter",
           "Upstream links that failed, by kind (dns, connect, tls, auth, "
           "role, other).");
    for (i = 0; i < n; i++) {
        for (int k = 0; !merged[i] && k < POOL_FAIL_KINDS; k++) {
            sample(out, "redsleeve_upstream_failures_total", fs[i].name,
                   "kind", kinds[k], fs[i].ps.failures[k]);
        }
    }
    metric_family(out, "redsleeve_tls_failures_total", "counter",
           "TLS handshakes with the upstream that failed, by reason.");
    for (i = 0; i < n; i++) {
        for (int k = 0; !merged[i] && k < TLS_FAIL_COUNT; k++) {
            sample(out, "redsleeve_tls_failures_total", fs[i].name, "reason",
                   tls_fail_name((enum tls_fail)k),
                   fs[i].ls.tls_failures[k]);
        }
    }
    shared_metrics(out, fs, merged, n);
    metric_family(out, "redsleeve_cluster_nodes", "gauge",
           "Cluster nodes with a local port (mode = cluster).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].cluster) {
            sample(out, "redsleeve_cluster_nodes", fs[i].name, NULL, NULL,
                   fs[i].cluster_nodes);
        }
    }
    metric_family(out, "redsleeve_cluster_rewrites_total", "counter",
           "Replies whose node addresses were rewritten to local ports, "
           "by kind (topology: CLUSTER SLOTS, SHARDS, NODES, REPLICAS; "
           "redirect: -MOVED, -ASK).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].cluster) {
            sample(out, "redsleeve_cluster_rewrites_total", fs[i].name,
                   "kind", "topology",
                   fs[i].cluster_rewrites - fs[i].cluster_redirects);
            sample(out, "redsleeve_cluster_rewrites_total", fs[i].name,
                   "kind", "redirect", fs[i].cluster_redirects);
        }
    }
    metric_family(out, "redsleeve_cluster_ports_exhausted_total", "counter",
           "Nodes that found no free port in cluster_ports.");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].cluster) {
            sample(out, "redsleeve_cluster_ports_exhausted_total",
                   fs[i].name, NULL, NULL, fs[i].cluster_exhausted);
        }
    }
    metric_family(out, "redsleeve_cluster_ports_in_use", "gauge",
           "Local ports listening for nodes (a node gone closes its own).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].cluster) {
            sample(out, "redsleeve_cluster_ports_in_use", fs[i].name, NULL,
                   NULL, fs[i].cluster_ports);
        }
    }
    metric_family(out, "redsleeve_cluster_topology_refreshes_total",
           "counter", "Topology queries of our own (CLUSTER SHARDS, else "
           "SLOTS), by result.");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].cluster) {
            sample(out, "redsleeve_cluster_topology_refreshes_total",
                   fs[i].name, "result", "ok", fs[i].cluster_refreshes);
            sample(out, "redsleeve_cluster_topology_refreshes_total",
                   fs[i].name, "result", "failed",
                   fs[i].cluster_refresh_failures);
        }
    }
    metric_family(out, "redsleeve_iam_tokens_signed_total", "counter",
           "IAM tokens signed for AUTH (services with iam_user_id).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].iam_source != NULL) {
            sample(out, "redsleeve_iam_tokens_signed_total", fs[i].name,
                   NULL, NULL, fs[i].iam_tokens);
        }
    }
    metric_family(out, "redsleeve_iam_reauths_total", "counter",
           "Links logged in again with a fresh IAM token before "
           "ElastiCache's 12 hours (iam_reauth_interval).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].iam_source != NULL) {
            sample(out, "redsleeve_iam_reauths_total", fs[i].name, NULL,
                   NULL, fs[i].ps.reauths);
        }
    }
    metric_family(out, "redsleeve_iam_credentials_info", "gauge",
           "Where a service's AWS credentials came from (the source "
           "label; never a key).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].iam_source != NULL) {
            sample(out, "redsleeve_iam_credentials_info", fs[i].name,
                   "source", fs[i].iam_source, 1);
        }
    }
    metric_family(out, "redsleeve_iam_credentials_expiry_seconds", "gauge",
           "Seconds until the fetched AWS credentials expire (services "
           "whose credentials come from the container endpoint).");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].iam_dynamic && fs[i].iam_expiration != 0) {
            long long left = fs[i].iam_expiration - (long long)time(NULL);

            sample(out, "redsleeve_iam_credentials_expiry_seconds",
                   fs[i].name, NULL, NULL,
                   left > 0 ? (unsigned long long)left : 0);
        }
    }
    metric_family(out, "redsleeve_iam_credential_fetch_failures_total",
           "counter", "Failed fetches of AWS credentials, by source.");
    for (i = 0; i < n; i++) {
        if (!merged[i] && fs[i].iam_dynamic) {
            sample(out, "redsleeve_iam_credential_fetch_failures_total",
                   fs[i].name, "source",
                   fetch_source_label(fs[i].iam_source),
                   fs[i].iam_fetch_failures);
        }
    }
    histogram(out, "redsleeve_upstream_connect_seconds",
              "Time from the first connect() to an established TCP "
              "connection.", fs, merged, n,
              offsetof(struct link_stats, connect));
    histogram(out, "redsleeve_upstream_handshake_seconds",
              "Time of the TLS handshake with the upstream (AUTH not "
              "included).", fs, merged, n,
              offsetof(struct link_stats, handshake));
    free(merged);
}

void
stats_render(struct evbuffer *out, const struct stats_worker *w, int n,
             const struct stats_reloads *rec)
{
    struct svc_figures *all;
    unsigned retired = 0;
    int total = 0;

    build_info(out);
    for (int k = 0; k < n; k++) {
        total += w[k].nfigs;
        retired += w[k].retired_clients;
    }
    /* A shallow copy: summing writes into it, the strings stay w's. */
    all = calloc((size_t)total + 1, sizeof(*all));
    if (all != NULL) {
        total = 0;
        for (int k = 0; k < n; k++) {
            memcpy(&all[total], w[k].figs,
                   (size_t)w[k].nfigs * sizeof(*all));
            total += w[k].nfigs;
        }
        render_services(out, all, total);
        free(all);
    }
    evbuffer_add_printf(out,
                        "# HELP redsleeve_clients_on_retired_config Clients "
                        "still on links of a service a reload replaced.\n"
                        "# TYPE redsleeve_clients_on_retired_config gauge\n"
                        "redsleeve_clients_on_retired_config %u\n"
                        "# HELP redsleeve_config_reloads_total Reloads "
                        "(SIGHUP) by result.\n"
                        "# TYPE redsleeve_config_reloads_total counter\n"
                        "redsleeve_config_reloads_total{result=\"success\"} "
                        "%llu\n"
                        "redsleeve_config_reloads_total{result=\"failure\"} "
                        "%llu\n"
                        "# HELP redsleeve_config_last_reload_successful 1 "
                        "when the last reload (or the start) applied its "
                        "config.\n"
                        "# TYPE redsleeve_config_last_reload_successful "
                        "gauge\n"
                        "redsleeve_config_last_reload_successful %d\n"
                        "# HELP redsleeve_config_last_reload_success_"
                        "timestamp_seconds When the running config was "
                        "applied (Unix time).\n"
                        "# TYPE redsleeve_config_last_reload_success_"
                        "timestamp_seconds gauge\n"
                        "redsleeve_config_last_reload_success_timestamp_"
                        "seconds %.3f\n", retired,
                        (unsigned long long)rec->ok,
                        (unsigned long long)rec->failed,
                        rec->last_ok ? 1 : 0, rec->last_time);
    /* How SO_REUSEPORT spread the clients. */
    metric_family(out, "redsleeve_worker_clients_active", "gauge",
                  "Clients connected now, by worker thread.");
    for (int k = 0; k < n; k++) {
        evbuffer_add_printf(out, "redsleeve_worker_clients_active"
                            "{worker=\"%d\"} %u\n", k, w[k].clients);
    }
    metric_family(out, "redsleeve_worker_clients_total", "counter",
                  "Clients accepted since start, by worker thread.");
    for (int k = 0; k < n; k++) {
        evbuffer_add_printf(out, "redsleeve_worker_clients_total"
                            "{worker=\"%d\"} %llu\n", k,
                            (unsigned long long)w[k].accepted);
    }
}

void
stats_status(char *out, size_t outlen, const char *state,
             const struct stats_worker *w, int n)
{
    unsigned clients = 0, idle = 0;

    for (int k = 0; k < n; k++) {
        clients += w[k].clients;
        for (int i = 0; i < w[k].nfigs; i++) {
            idle += w[k].figs[i].ps.idle;
        }
    }
    snprintf(out, outlen, "%s clients=%u links_idle=%u workers=%d", state,
             clients, idle, n);
}

bool
stats_ready(const struct stats_worker *w, int n, char *why, size_t whylen)
{
    for (int k = 0; k < n; k++) {
        if (!w[k].valid || !w[k].ready) {
            snprintf(why, whylen, "starting");
            return false;
        }
    }
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < w[k].nfigs; i++) {
            /* A node down is the cluster's business (failover), and its
             * clients are told; the sidecar stays ready. */
            if (!w[k].figs[i].node && !w[k].figs[i].ps.upstream_up) {
                snprintf(why, whylen, "service %s: upstream %s unreachable",
                         w[k].figs[i].name, w[k].figs[i].upstream);
                return false;
            }
        }
    }
    return true;
}
