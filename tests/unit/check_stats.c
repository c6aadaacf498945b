/*
 * check_stats: /metrics, /readyz and the status line from per-worker
 * copies, with no loop and no service behind them.
 */
#include <check.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "unit.h"

/* A worker copy with one figure per name given. */
static void
worker_with(struct stats_worker *w, const char *const *names, int n)
{
    memset(w, 0, sizeof(*w));
    w->figs = calloc((size_t)n, sizeof(*w->figs));
    ck_assert_ptr_nonnull(w->figs);
    w->nfigs = n;
    w->valid = true;
    w->ready = true;
    for (int i = 0; i < n; i++) {
        w->figs[i].name = strdup(names[i]);
        w->figs[i].upstream = strdup("cache.example:6379");
        w->figs[i].ps.upstream_up = true;
    }
}

/* The text of /metrics, NUL-terminated (caller frees). */
static char *
render(const struct stats_worker *w, int n, const struct stats_reloads *rec)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *text;

    stats_render(b, w, n, rec);
    len = evbuffer_get_length(b);
    text = malloc(len + 1);
    evbuffer_remove(b, text, len);
    text[len] = '\0';
    evbuffer_free(b);
    return text;
}

START_TEST(services_summed_over_workers)
{
    static const char *const names[] = {"primary", "replica"};
    struct stats_worker w[2];
    struct stats_reloads rec = {3, 1, true, 1700000000.5};
    char *t;

    worker_with(&w[0], names, 2);
    worker_with(&w[1], names, 2);
    w[0].figs[0].total = 5;
    w[1].figs[0].total = 7;
    w[0].figs[1].ps.hits = 2;
    w[1].figs[1].ps.hits = 40;
    w[0].figs[0].ps.closed[0].reason = "pubsub";
    w[0].figs[0].ps.closed[0].count = 1;
    w[1].figs[0].ps.closed[0].reason = "drain-timeout";
    w[1].figs[0].ps.closed[0].count = 2;
    w[1].figs[0].ps.closed[1].reason = "pubsub";
    w[1].figs[0].ps.closed[1].count = 4;
    w[0].accepted = 5;
    w[1].accepted = 7;
    w[1].clients = 2;
    w[0].retired_clients = 1;
    w[1].retired_clients = 2;
    t = render(w, 2, &rec);
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_clients_total{service=\"primary\"} 12\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_pool_hits_total{service=\"replica\"} 42\n"));
    /* one series per service, however many workers */
    ck_assert_ptr_null(strstr(strstr(t,
        "redsleeve_clients_total{service=\"primary\"}") + 1,
        "redsleeve_clients_total{service=\"primary\"}"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_links_closed_total{service=\"primary\",reason=\"pubsub\"}"
        " 5\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_links_closed_total{service=\"primary\","
        "reason=\"drain-timeout\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_clients_on_retired_config 3\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_config_reloads_total{result=\"success\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_config_reloads_total{result=\"failure\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_worker_clients_total{worker=\"1\"} 7\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_worker_clients_active{worker=\"1\"} 2\n"));
    free(t);
    /* summing wrote into a copy: the workers' figures are unchanged */
    ck_assert_uint_eq(w[0].figs[0].total, 5);
    stats_worker_clear(&w[0]);
    stats_worker_clear(&w[1]);
    ck_assert_ptr_null(w[0].figs);
}
END_TEST

START_TEST(labels_escaped)
{
    static const char *const names[] = {"a\"b\\c"};
    struct stats_worker w;
    struct stats_reloads rec = {0, 0, true, 0};
    char *t;

    worker_with(&w, names, 1);
    t = render(&w, 1, &rec);
    ck_assert_ptr_nonnull(strstr(t, "{service=\"a\\\"b\\\\c\"}"));
    free(t);
    stats_worker_clear(&w);
}
END_TEST

START_TEST(upstream_up_only_if_up_everywhere)
{
    static const char *const names[] = {"primary"};
    struct stats_worker w[2];
    struct stats_reloads rec = {0, 0, true, 0};
    char why[128];
    char *t;

    worker_with(&w[0], names, 1);
    worker_with(&w[1], names, 1);
    ck_assert(stats_ready(w, 2, why, sizeof(why)));
    w[1].figs[0].ps.upstream_up = false;
    ck_assert(!stats_ready(w, 2, why, sizeof(why)));
    ck_assert_str_eq(why,
                     "service primary: upstream cache.example:6379 "
                     "unreachable");
    t = render(w, 2, &rec);
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_upstream_up{service=\"primary\"} 0\n"));
    free(t);
    stats_worker_clear(&w[0]);
    stats_worker_clear(&w[1]);
}
END_TEST

START_TEST(ready_waits_for_every_worker)
{
    static const char *const names[] = {"primary"};
    struct stats_worker w[2];
    char why[128];

    worker_with(&w[0], names, 1);
    worker_with(&w[1], names, 1);
    w[1].ready = false;
    ck_assert(!stats_ready(w, 2, why, sizeof(why)));
    ck_assert_str_eq(why, "starting");
    w[1].ready = true;
    w[0].valid = false;     /* a worker that did not answer */
    ck_assert(!stats_ready(w, 2, why, sizeof(why)));
    stats_worker_clear(&w[0]);
    stats_worker_clear(&w[1]);
}
END_TEST

START_TEST(status_line)
{
    static const char *const names[] = {"p", "r"};
    struct stats_worker w[2];
    char out[128];

    worker_with(&w[0], names, 2);
    worker_with(&w[1], names, 2);
    w[0].clients = 3;
    w[1].clients = 4;
    w[0].figs[0].ps.idle = 2;
    w[1].figs[1].ps.idle = 5;
    stats_status(out, sizeof(out), "serving", w, 2);
    ck_assert_str_eq(out, "serving clients=7 links_idle=7 workers=2");
    stats_worker_clear(&w[0]);
    stats_worker_clear(&w[1]);
}
END_TEST

START_TEST(histograms_cumulative)
{
    static const char *const names[] = {"p"};
    struct stats_worker w[2];
    struct stats_reloads rec = {0, 0, true, 0};
    char *t, want[160];

    worker_with(&w[0], names, 1);
    worker_with(&w[1], names, 1);
    w[0].figs[0].ls.connect.bucket[0] = 1;
    w[1].figs[0].ls.connect.bucket[1] = 2;
    w[0].figs[0].ls.connect.count = 1;
    w[1].figs[0].ls.connect.count = 2;
    t = render(w, 2, &rec);
    snprintf(want, sizeof(want), "redsleeve_upstream_connect_seconds_bucket"
             "{service=\"p\",le=\"+Inf\"} 3\n");
    ck_assert_ptr_nonnull(strstr(t, want));
    ck_assert_ptr_nonnull(strstr(t,
        "redsleeve_upstream_connect_seconds_count{service=\"p\"} 3\n"));
    free(t);
    stats_worker_clear(&w[0]);
    stats_worker_clear(&w[1]);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("stats");

    tcase_add_test(tc, services_summed_over_workers);
    tcase_add_test(tc, labels_escaped);
    tcase_add_test(tc, upstream_up_only_if_up_everywhere);
    tcase_add_test(tc, ready_waits_for_every_worker);
    tcase_add_test(tc, status_line);
    tcase_add_test(tc, histograms_cumulative);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
