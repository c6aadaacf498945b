/*
 * main.c: argv dispatch (cli.c parses it), start-up and shutdown order,
 * signals.
 *
 * Start-up: parse and validate the whole config, build every service in
 * every worker (TLS contexts, secrets), and only then bind; then the
 * admin endpoint, the pid file, the drop of privileges, and the worker
 * threads.  Any failure before the loops run exits 1 with the reason;
 * nothing half-started keeps running.  The main thread then runs the
 * control loop: signals, systemd, the admin endpoint and reloads; the
 * workers (workers.c) serve.
 */
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "iam_cli.h"
#include "listener.h"
#include "log.h"
#include "reload.h"
#include "sd.h"
#include "shared.h"
#include "stats.h"
#include "workers.h"

#define ERR_MAX 8192            /* a config's or a start's errors */

/* The main thread's: everything the control loop runs. */
struct control {
    struct event_base *base;    /* owned: the control loop */
    struct evdns_base *dns;     /* owned: resolver of the reload probes */
    struct config *boot;        /* held until start-up is done: the
                                   start's config (restart-only keys:
                                   admin, user, pid file, ...).  Then
                                   dropped: it holds the secrets of the
                                   start, which a reload may replace. */
    char *pid_file;             /* owned: the boot's pid_file, or NULL */
    struct shared *shared;      /* owned: what the workers share */
    struct workers *ws;         /* owned */
    struct reload *reload;      /* owned: the config in force, SIGHUP */
    struct admin *admin;        /* owned: /metrics etc., or NULL */
    struct sd *sd;              /* owned: systemd notifications */
    struct creds_fetcher *creds;    /* owned: fetched credentials (STS,
                                       container, instance metadata), or
                                       NULL when no service uses them */
    char *creds_key;            /* owned: the source creds fetches from
                                   (creds_source_key), or NULL */
    struct event *ev_sig[3];    /* owned: INT, TERM, HUP */
    bool ready;                 /* READY=1 was sent */
    bool draining;              /* a stop signal came */
    int pid_fd;                 /* the pid file, locked; -1 = none */
    const struct cli *cli;      /* ref: where reloads read the config */
};

static void
version(void)
{
    printf("redsleeve %s (%s)\n", REDSLEEVE_VERSION, REDSLEEVE_GIT_REV);
    printf("OpenSSL: %s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION),
           OPENSSL_VERSION_TEXT);
    printf("libevent: %s (built with %s)\n", event_get_version(),
           LIBEVENT_VERSION);
}

/* -t: everything start-up checks, without starting. */
static int
check_config(struct control *c)
{
    char problems[4096];
    int bad = 0;

    if (daemon_preflight(c->boot, problems, sizeof(problems)) < 0) {
        fputs(problems, stderr);
        bad = 1;
    }
    if (reload_check(c->base, c->shared, c->boot, bad ? NULL : stdout,
                     stderr) < 0) {
        bad = 1;
    }
    return bad;
}

/* ------------------------------------------------- the control loop */

static void
status_cb(char *out, unsigned long outlen, void *arg)
{
    struct control *c = arg;
    struct stats_worker *s = workers_snapshot(c->ws);

    stats_status(out, outlen, c->draining ? "draining"
                              : c->ready ? "serving" : "starting",
                 s, s != NULL ? workers_count(c->ws) : 0);
    workers_snapshot_free(c->ws, s);
}

static void
metrics_cb(struct evbuffer *out, void *arg)
{
    struct control *c = arg;
    struct stats_worker *s = workers_snapshot(c->ws);
    struct stats_reloads rec;

    reload_figures(c->reload, &rec);
    stats_render(out, s, s != NULL ? workers_count(c->ws) : 0, &rec);
    workers_snapshot_free(c->ws, s);
}

/* Ready: started, not draining, and every upstream reachable. */
static bool
readyz_cb(char *why, size_t whylen, void *arg)
{
    struct control *c = arg;
    struct stats_worker *s;
    bool ok;

    if (c->draining || !c->ready) {
        snprintf(why, whylen, "%s", c->draining ? "draining" : "starting");
        return false;
    }
    s = workers_snapshot(c->ws);
    ok = s != NULL && stats_ready(s, workers_count(c->ws), why, whylen);
    workers_snapshot_free(c->ws, s);
    return ok;
}

static void
all_ready(void *arg)
{
    struct control *c = arg;

    c->ready = true;
    sd_ready(c->sd);
    log_info("event=ready version=%s services=%d workers=%d",
             REDSLEEVE_VERSION, reload_config(c->reload)->nservices,
             workers_count(c->ws));
}

static void
all_ended(void *arg)
{
    struct control *c = arg;

    event_base_loopexit(c->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct control *c = arg;

    (void)what;
    if (sig == SIGHUP) {
        if (c->draining) {
            log_warn("event=reload result=ignored reason=\"stopping\"");
            return;
        }
        reload_start(c->reload);
        return;
    }
    if (c->draining) {
        workers_stop(c->ws);    /* a second signal: now */
        return;
    }
    c->draining = true;
    reload_cancel(c->reload);
    sd_stopping(c->sd);
    workers_drain(c->ws, sig == SIGINT ? "INT" : "TERM");
}

/* ----------------------------------------------------------- start-up */

static void reload_committed_cb(const struct config *cfg, void *arg);

/* The workers, with every service of the config built and bound. */
static int
start_workers(struct control *c)
{
    const struct config *cfg = c->boot;
    struct worker_env env = {
        .busy_poll = cfg->busy_poll,
        .resolv_conf = cfg->resolv_conf,
        .shared = c->shared,
    };
    struct workers_hooks hooks = {all_ready, all_ended, c};
    struct reload_env renv = {
        .base = c->base,
        .dns = c->dns,
        .shared = c->shared,
        .file = c->cli->file,
        .flags = c->cli->flags,
        .nflags = c->cli->nflags,
        .committed_cb = reload_committed_cb,
        .committed_arg = c,
    };
    char *err = malloc(ERR_MAX);
    int rc = -1;

    if (err == NULL) {
        return -1;
    }
    if (cfg->workers > 1) {
        /* Workers share each port with SO_REUSEPORT, which would let a
         * second redsleeve share it too: make sure nobody holds it. */
        for (const struct service_config *sc = cfg->services; sc != NULL;
             sc = sc->next) {
            if (listener_probe(sc, err, ERR_MAX) < 0) {
                fprintf(stderr, "%s:%d: listen: %s\n", cfg->file,
                        sc->key_line[SK_LISTEN], err);
                goto out;
            }
        }
        listener_set_reuseport(true);
    }
    daemon_fd_budget(cfg, &env.clients_cap, &env.idle_auto);
    c->ws = workers_new(c->base, cfg->workers, &env, &hooks, err,
                        ERR_MAX);
    if (c->ws == NULL) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    renv.ws = c->ws;
    c->reload = reload_new(&renv, err, ERR_MAX);
    if (c->reload == NULL || reload_boot(c->reload, c->boot, err,
                                         ERR_MAX) < 0) {
        fputs(err, stderr);
        goto out;
    }
    rc = 0;
out:
    free(err);
    return rc;
}

/* The fetched source a service wants, as a string to compare. */
static char *
creds_source_key(const struct service_config *sc,
                 const struct creds_options *o)
{
    char *key = NULL;

    /* The region matters to STS only (its endpoint). */
    if (asprintf(&key, "%d|%s|%s|%s|%s", (int)o->src,
                 sc->iam_role_arn ? sc->iam_role_arn : "",
                 sc->iam_token_file ? sc->iam_token_file : "",
                 sc->iam_role_session_name ? sc->iam_role_session_name : "",
                 o->src == CREDS_SRC_WEB_IDENTITY && sc->iam_region
                     ? sc->iam_region : "") < 0) {
        return NULL;
    }
    return key;
}

/*
 * The credentials fetched on the control loop (STS for a web identity,
 * the container endpoint or instance metadata) for the services of cfg
 * whose IAM credentials come from there (the workers' first links wait
 * for the answer: their AUTH fails, and is retried, until it comes).
 * Every such service wants the same source (config_check.c refuses
 * otherwise): one fetcher, from the first.  At a reload the running one
 * is kept when the source is the same; a new source replaces it (the old
 * one's credentials serve until the new one answers).  0, or -1 with why in
 * err and *line the key's line (the running fetcher is kept).
 */
static int
creds_apply(struct control *c, const struct config *cfg, int *line,
            char *err, size_t errlen)
{
    const struct service_config *sc = cfg->services;
    struct creds_fetcher *f;
    struct creds_options o;
    char *key;

    while (sc != NULL && !sc->iam_dynamic) {
        sc = sc->next;
    }
    if (sc == NULL) {
        if (c->creds != NULL) {
            log_info("event=aws-credentials action=stopped "
                     "reason=\"no service fetches credentials now\"");
            creds_fetcher_free(c->creds);
            creds_cell_forget(shared_container_creds(c->shared));
            free(c->creds_key);
            c->creds = NULL;
            c->creds_key = NULL;
        }
        return 0;
    }
    *line = sc->key_line[SK_IAM_USER_ID];
    o = (struct creds_options){
        .src = sc->iam_role_arn != NULL ? CREDS_SRC_WEB_IDENTITY
               : creds_container_configured() ? CREDS_SRC_CONTAINER
                                              : CREDS_SRC_IMDS,
        .role_arn = sc->iam_role_arn,
        .token_file = sc->iam_token_file,
        .session_name = sc->iam_role_session_name,
        .region = sc->iam_region,
    };
    if ((key = creds_source_key(sc, &o)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (c->creds_key != NULL && strcmp(key, c->creds_key) == 0) {
        free(key);
        return 0;       /* the same source: what it fetched stays good */
    }
    f = creds_fetcher_new(&o, c->base, c->dns,
                          shared_container_creds(c->shared), err, errlen);
    if (f == NULL) {
        free(key);
        return -1;
    }
    if (c->creds != NULL) {
        /* The old source's keys stay until the new one answers: links
         * made meanwhile still log in (each fetch swaps them whole). */
        log_info("event=aws-credentials action=replaced service=%s "
                 "source=%s", sc->name, sc->iam_creds_source);
        creds_fetcher_free(c->creds);
    }
    free(c->creds_key);
    c->creds = f;
    c->creds_key = key;
    return 0;
}

static int
start_creds(struct control *c)
{
    char err[PATH_MAX + 512];
    int line = 0;

    if (creds_apply(c, c->boot, &line, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s:%d: iam_user_id: %s\n", c->boot->file, line,
                err);
        return -1;
    }
    return 0;
}

/* A reload is in force: its services may want another fetched source. */
static void
reload_committed_cb(const struct config *cfg, void *arg)
{
    char err[PATH_MAX + 512];
    int line = 0;

    if (creds_apply(arg, cfg, &line, err, sizeof(err)) < 0) {
        log_error("event=aws-credentials result=failed file=%s line=%d "
                  "error=\"%s\" action=\"kept the running source\"",
                  cfg->file, line, err);
    }
}

/* Admin endpoint, systemd, signals: the control loop's events. */
static int
start_control(struct control *c)
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    const struct config *cfg = c->boot;

    if (cfg->admin_listen != NULL) {
        struct admin_hooks hooks = {metrics_cb, readyz_cb, c};
        char err[512];

        c->admin = admin_new(c->base, cfg->admin_listen, &hooks, err,
                             sizeof(err));
        if (c->admin == NULL) {
            fprintf(stderr, "%s:%d: admin_listen: %s\n", cfg->file,
                    cfg->global_line[GK_ADMIN_LISTEN], err);
            return -1;
        }
        log_info("event=listen service=admin addr=%s paths=/metrics,"
                 "/healthz,/readyz", admin_addr(c->admin));
    }
    c->sd = sd_new(c->base, status_cb, c);
    if (c->sd == NULL) {
        return -1;
    }
    reload_set_sd(c->reload, c->sd);
    for (int i = 0; i < 3; i++) {
        c->ev_sig[i] = evsignal_new(c->base, sigs[i], signal_cb, c);
        if (c->ev_sig[i] == NULL || evsignal_add(c->ev_sig[i], NULL) < 0) {
            log_error("event=start error=\"cannot install signal handlers\"");
            return -1;
        }
    }
    return 0;
}

static void
control_free(struct control *c)
{
    for (int i = 0; i < 3; i++) {
        if (c->ev_sig[i] != NULL) {
            event_free(c->ev_sig[i]);
        }
    }
    admin_free(c->admin);
    sd_free(c->sd);
    reload_free(c->reload);     /* its probes' events are on c->base */
    workers_free(c->ws);
    creds_fetcher_free(c->creds);
    free(c->creds_key);
    shared_free(c->shared);
    if (c->dns != NULL) {
        evdns_base_free(c->dns, 0);
    }
    if (c->base != NULL) {
        event_base_free(c->base);
    }
    config_free(c->boot);
    free(c->pid_file);
}

int
main(int argc, char **argv)
{
    static struct cli cli;      /* flags: reload builds from them */
    struct control c = {.pid_fd = -1, .cli = &cli};
    char *err;
    int rc = 1;

    if (iam_cli_wanted(argc, argv)) {
        return iam_cli_main(argc, argv);
    }
    switch (cli_parse(&cli, argc, argv)) {
    case CLI_HELP:
        cli_usage(stdout);
        return 0;
    case CLI_VERSION:
        version();
        return 0;
    case CLI_BAD:
        return 2;
    case CLI_RUN:
        break;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((err = malloc(ERR_MAX)) == NULL) {
        return 1;
    }
    c.boot = cli.file != NULL
                 ? config_load(cli.file, err, ERR_MAX)
                 : cli_sidecar_config(cli.flags, cli.nflags, err,
                                      ERR_MAX);
    if (c.boot == NULL) {
        fputs(err, stderr);
        free(err);
        return 1;
    }
    free(err);
    log_set_level(c.boot->log_level);
    event_set_log_callback(log_libevent_cb);
    if (evthread_use_pthreads() < 0) {
        fprintf(stderr, "cannot enable libevent's thread support\n");
        goto out;
    }
    c.base = event_base_new();
    c.shared = shared_new();
    if (c.base == NULL || c.shared == NULL) {
        fprintf(stderr, "cannot create the event loop\n");
        goto out;
    }
    if (cli.check) {
        rc = check_config(&c);
        goto out;
    }
    daemon_set_dumpable(c.boot);
    {
        char problems[4096];

        if (daemon_preflight(c.boot, problems, sizeof(problems)) < 0) {
            fputs(problems, stderr);
            goto out;
        }
    }
    if (daemon_open_log(c.boot) < 0) {
        goto out;
    }
    daemon_log_warnings(c.boot);
    if (c.boot->notes != NULL) {
        log_info("event=stunnel-keys notes=\"see --check-config\"");
    }
    c.dns = evdns_base_new(c.base, 0);
    if (c.dns == NULL) {
        log_error("event=start error=\"cannot create the DNS resolver\"");
        goto out;
    }
    (void)evdns_base_resolv_conf_parse(c.dns, DNS_OPTIONS_ALL,
                                       c.boot->resolv_conf);
    if (start_workers(&c) < 0 || start_control(&c) < 0 ||
        start_creds(&c) < 0) {
        goto out;
    }
    if (daemon_write_pid(c.boot, &c.pid_fd) < 0 ||
        daemon_drop_privileges(c.boot) < 0) {
        daemon_remove_pid(c.boot->pid_file, c.pid_fd);
        goto out;
    }
    daemon_set_dumpable(c.boot);
    if (c.boot->pid_file != NULL &&
        (c.pid_file = strdup(c.boot->pid_file)) == NULL) {
        log_error("event=start error=\"out of memory\"");
        daemon_remove_pid(c.boot->pid_file, c.pid_fd);
        goto out;
    }
    /* The reload owns the config in force from here on. */
    config_free(c.boot);
    c.boot = NULL;
    if (workers_start(c.ws) == 0) {
        log_info("event=workers count=%d", workers_count(c.ws));
        rc = event_base_dispatch(c.base) < 0 ? 1 : 0;
    }
    workers_stop(c.ws);
    workers_join(c.ws);
    log_info("event=exit code=%d", rc);
    daemon_remove_pid(c.pid_file, c.pid_fd);
out:
    control_free(&c);
    libevent_global_shutdown();
    return rc;
}
