/*
 * reload.c: the config in force, and SIGHUP (see reload.h).
 *
 * One reload is one `struct attempt`: the new config (read once), the
 * plan every worker follows (worker.h), the services built on the control
 * loop to prove the new settings, and the errors so far.  Nothing a
 * worker runs is touched until every worker has prepared its part; then
 * every worker commits.  No config is written after it was loaded: a
 * kept service stays on the config it came from (the worker holds a
 * reference to it), and restart-only keys keep the start's values
 * because only the start reads them.
 */
#include "reload.h"

#include <event2/util.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "sd.h"
#include "service.h"
#include "upstream.h"
#include "worker.h"
#include "workers.h"

#define RELOAD_ERR_MAX 8192         /* a reload's errors */
#define RELOAD_SCRATCH 16384        /* read buffer of the probe services */

/* A running section: what decides whether a new one is unchanged. */
struct known {
    char *name;                             /* owned */
    unsigned char digest[CONFIG_DIGEST_LEN];    /* of settings and files */
};

struct attempt {
    struct reload *r;           /* ref: whose */
    struct config *nc;          /* held: the new config */
    struct worker_plan plan;    /* its arrays owned */
    struct known *dig;          /* owned: new j's digest */
    struct service **probes;    /* owned: new j's proving service */
    struct probe_arg *pargs;    /* owned: one per new j */
    char *err;                  /* owned: RELOAD_ERR_MAX */
    int probing;                /* probes not answered yet */
    int rejected;               /* probes the server said no to */
};

struct probe_arg {
    struct attempt *at;         /* ref */
    int j;
};

struct reload {
    struct reload_env env;
    struct config *cfg;         /* held: the config in force */
    struct known *known;        /* owned: its sections' digests */
    int nknown;
    struct attempt *at;         /* owned: a reload proving itself */
    bool again;                 /* a SIGHUP came meanwhile */
    bool cancelled;             /* stopping */
    struct stats_reloads rec;   /* the record /metrics shows */
    /* The environment of the services built on the control loop. */
    char scratch[RELOAD_SCRATCH];
    uint64_t next_id;
    struct client_budget budget;
};

static double
wall_now(void)
{
    struct timeval tv;

    evutil_gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

struct reload *
reload_new(const struct reload_env *env, char *err, size_t errlen)
{
    struct reload *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->env = *env;
    r->budget.cap = UINT_MAX;
    r->next_id = (uint64_t)0xff << 56;      /* never a worker's ids */
    return r;
}

void
reload_set_sd(struct reload *r, struct sd *sd)
{
    r->env.sd = sd;
}

const struct config *
reload_config(const struct reload *r)
{
    return r->cfg;
}

void
reload_figures(const struct reload *r, struct stats_reloads *out)
{
    *out = r->rec;
}

static void
add_error_line(char *err, const char *line)
{
    size_t used = strlen(err);

    snprintf(err + used, RELOAD_ERR_MAX - used, "%s\n", line);
}

static void
attempt_free(struct attempt *at)
{
    if (at == NULL) {
        return;
    }
    for (int j = 0; j < at->plan.n; j++) {
        service_free(at->probes != NULL ? at->probes[j] : NULL);
        free(at->dig != NULL ? at->dig[j].name : NULL);
    }
    free(at->probes);
    free(at->pargs);
    free(at->dig);
    free(at->plan.sc);
    free(at->plan.keep);
    free(at->plan.port);
    config_free(at->nc);
    free(at->err);
    free(at);
}

/* The plan for nc: which sections keep their running service. */
static struct attempt *
attempt_new(struct reload *r, struct config *nc)
{
    struct attempt *at = calloc(1, sizeof(*at));
    const struct service_config *sc;
    bool *claimed;
    int n = nc->nservices, j;

    if (at == NULL) {
        config_free(nc);
        return NULL;
    }
    at->r = r;
    at->nc = nc;
    at->plan.cfg = nc;
    at->plan.n = n;
    at->plan.listen = true;
    at->err = calloc(1, RELOAD_ERR_MAX);
    at->plan.sc = calloc((size_t)n + 1, sizeof(*at->plan.sc));
    at->plan.keep = calloc((size_t)n + 1, sizeof(*at->plan.keep));
    at->plan.port = calloc((size_t)n + 1, sizeof(*at->plan.port));
    at->dig = calloc((size_t)n + 1, sizeof(*at->dig));
    at->probes = calloc((size_t)n + 1, sizeof(*at->probes));
    at->pargs = calloc((size_t)n + 1, sizeof(*at->pargs));
    claimed = calloc((size_t)r->nknown + 1, sizeof(*claimed));
    if (at->err == NULL || at->plan.sc == NULL || at->plan.keep == NULL ||
        at->plan.port == NULL || at->dig == NULL || at->probes == NULL ||
        at->pargs == NULL || claimed == NULL) {
        free(claimed);
        at->plan.n = 0;
        attempt_free(at);
        return NULL;
    }
    for (sc = nc->services, j = 0; sc != NULL; sc = sc->next, j++) {
        at->plan.sc[j] = sc;
        at->dig[j].name = strdup(sc->name);
        if (config_service_digest(sc, at->dig[j].digest) < 0) {
            memset(at->dig[j].digest, 0, sizeof(at->dig[j].digest));
            continue;       /* never "unchanged" */
        }
        for (int i = 0; i < r->nknown; i++) {
            if (!claimed[i] && strcmp(r->known[i].name, sc->name) == 0 &&
                memcmp(r->known[i].digest, at->dig[j].digest,
                       CONFIG_DIGEST_LEN) == 0) {
                claimed[i] = true;
                at->plan.keep[j] = true;
                break;
            }
        }
    }
    free(claimed);
    return at;
}

/* The worker functions reload runs through the mailbox. */
static int
prepare_fn(struct worker *w, void *arg)
{
    struct attempt *at = arg;
    char *err = malloc(RELOAD_ERR_MAX);
    int rc;

    if (err == NULL) {
        return -1;
    }
    rc = worker_prepare(w, &at->plan, err, RELOAD_ERR_MAX);
    if (rc < 0 && at->err[0] == '\0') {
        /* The first failing worker's errors (the others' are alike). */
        snprintf(at->err, RELOAD_ERR_MAX, "%s", err);
    }
    free(err);
    return rc;
}

static int
ports_fn(struct worker *w, void *arg)
{
    struct attempt *at = arg;

    for (int j = 0; j < at->plan.n; j++) {
        if (at->plan.sc[j]->listen_unix == NULL &&
            at->plan.sc[j]->listen_port == 0) {
            at->plan.port[j] = worker_bound_port(w, j);
        }
    }
    return 0;
}

static int
commit_fn(struct worker *w, void *arg)
{
    (void)arg;
    return (int)worker_commit(w);
}

static int
abort_fn(struct worker *w, void *arg)
{
    (void)arg;
    worker_abort(w);
    return 0;
}

/*
 * Every worker prepares, worker 0 first (the others listen on the ports
 * its "port 0" listens were given); then all commit, or all abort.
 * Returns the clients left on retired services, or -1 with at->err.
 */
static long
apply(struct reload *r, struct attempt *at)
{
    int n = workers_count(r->env.ws), k;
    long retiring = 0;

    for (k = 0; k < n; k++) {
        if (workers_call(r->env.ws, k, prepare_fn, at) < 0) {
            if (at->err[0] == '\0') {
                add_error_line(at->err, "a worker has stopped");
            }
            break;
        }
        if (k == 0 && workers_call(r->env.ws, 0, ports_fn, at) < 0) {
            break;
        }
    }
    if (k < n) {
        log_warn("event=reload phase=prepare worker=%d result=failed "
                 "action=\"every worker drops what it prepared\"", k);
        for (int i = 0; i <= k && i < n; i++) {
            (void)workers_call(r->env.ws, i, abort_fn, NULL);
        }
        return -1;
    }
    for (k = 0; k < n; k++) {
        int rc = workers_call(r->env.ws, k, commit_fn, NULL);

        retiring += rc > 0 ? rc : 0;
    }
    /* The new config is in force: its digests decide the next reload. */
    for (int i = 0; i < r->nknown; i++) {
        free(r->known[i].name);
    }
    free(r->known);
    r->known = at->dig;
    r->nknown = at->plan.n;
    at->dig = NULL;
    config_free(r->cfg);
    r->cfg = config_hold(at->nc);
    return retiring;
}

int
reload_boot(struct reload *r, struct config *cfg, char *err, size_t errlen)
{
    struct attempt *at = attempt_new(r, config_hold(cfg));

    if (at == NULL) {
        snprintf(err, errlen, "out of memory\n");
        return -1;
    }
    if (apply(r, at) < 0) {
        snprintf(err, errlen, "%s", at->err);
        attempt_free(at);
        return -1;
    }
    r->rec.last_ok = true;
    r->rec.last_time = wall_now();
    attempt_free(at);
    return 0;
}

int
reload_check(struct event_base *base, struct shared *shared,
             const struct config *cfg, FILE *out, FILE *err)
{
    char *scratch = malloc(RELOAD_SCRATCH);
    char *desc = calloc(1, RELOAD_ERR_MAX);
    char *bad = calloc(1, RELOAD_ERR_MAX);
    struct client_budget budget = {.cap = UINT_MAX};
    uint64_t next_id = 0;
    struct service_env env = {
        .base = base,
        .scratch = scratch,
        .scratch_len = RELOAD_SCRATCH,
        .next_id = &next_id,
        .budget = &budget,
        .shared = shared,
    };
    int rc = -1;

    if (scratch == NULL || desc == NULL || bad == NULL) {
        fputs("out of memory\n", err);
        goto out;
    }

    for (const struct service_config *sc = cfg->services; sc != NULL;
         sc = sc->next) {
        char line[1024];
        struct service *svc = service_build(cfg, sc, &env, line,
                                            sizeof(line));

        if (svc != NULL) {
            service_describe(svc, line, sizeof(line));
            service_free(svc);
        }
        add_error_line(svc != NULL ? desc : bad, line);
    }
    if (bad[0] != '\0') {
        fputs(bad, err);
        goto out;
    }
    rc = 0;
    if (out == NULL) {
        goto out;       /* checked; the caller found other problems */
    }
    if (config_warnings(cfg, bad, RELOAD_ERR_MAX) > 0) {
        fputs(bad, out);
    }
    if (cfg->notes != NULL) {
        fputs(cfg->notes, out);     /* what stunnel keys became */
    }
    fputs(desc, out);
    fprintf(out, "%s: configuration OK (%d service%s)\n", cfg->file,
            cfg->nservices, cfg->nservices == 1 ? "" : "s");
out:
    free(scratch);
    free(desc);
    free(bad);
    return rc;
}

/* Logs every line of a multi-line error as one reload failure. */
static void
failed(struct reload *r, const char *errors)
{
    const char *p = errors;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);

        if (len > 0) {
            log_error("event=reload result=failed error=\"%.*s\"", len, p);
        }
        p += len + (nl != NULL);
    }
    log_error("event=reload result=failed action=\"kept the running "
              "config unchanged\"");
    r->rec.failed++;
    r->rec.last_ok = false;
    sd_ready(r->env.sd);
}

static void
restart_only_cb(void *arg, const char *key, const char *running_value)
{
    (void)arg;
    log_warn("event=reload key=%s warning=\"changed, but applies only at "
             "restart: keeping %s\"", key, running_value);
}

/* The attempt is over (at is r->at or not yet); a queued SIGHUP runs. */
static void
end(struct reload *r, struct attempt *at)
{
    if (r->at == at) {
        r->at = NULL;
    }
    attempt_free(at);
    if (r->again && !r->cancelled) {
        r->again = false;
        reload_start(r);
    }
}

/* Proven (or nothing to prove): every worker, or none. */
static void
finish(struct reload *r, struct attempt *at)
{
    int kept = 0;
    long retiring;

    for (int j = 0; j < at->plan.n; j++) {
        service_free(at->probes[j]);    /* before the workers bind */
        at->probes[j] = NULL;
        kept += at->plan.keep[j];
    }
    config_restart_changes(r->cfg, at->nc, restart_only_cb, NULL);
    retiring = apply(r, at);
    if (retiring < 0) {
        failed(r, at->err);
        end(r, at);
        return;
    }
    log_set_level(at->nc->log_level);
    if (r->env.committed_cb != NULL) {
        r->env.committed_cb(at->nc, r->env.committed_arg);
    }
    r->rec.ok++;
    r->rec.last_ok = true;
    r->rec.last_time = wall_now();
    log_info("event=reload result=ok services=%d unchanged=%d new=%d "
             "retiring_clients=%ld", at->plan.n, kept, at->plan.n - kept,
             retiring);
    sd_ready(r->env.sd);
    end(r, at);
}

/* The key a rejection points at: the setting the server said no to. */
static enum service_key
rejected_key(const struct service_config *sc, enum link_fail kind,
             enum tls_fail tls_kind)
{
    if (kind == LINK_FAIL_CERT && tls_kind == TLS_FAIL_HOSTNAME) {
        return sc->key_line[SK_VERIFY_HOST] != 0 ? SK_VERIFY_HOST
                                                 : SK_UPSTREAM;
    }
    switch (kind) {
    case LINK_FAIL_AUTH:
        if (sc->iam_user_id != NULL) {
            return SK_IAM_USER_ID;
        }
        return sc->auth_password_env != NULL ? SK_AUTH_PASSWORD_ENV
                                             : SK_AUTH_PASSWORD_FILE;
    case LINK_FAIL_CERT:
        if (sc->key_line[SK_CA_FILE] != 0) {
            return SK_CA_FILE;
        }
        if (sc->key_line[SK_CA_PATH] != 0) {
            return SK_CA_PATH;
        }
        return sc->key_line[SK_VERIFY_HOST] != 0 ? SK_VERIFY_HOST
                                                 : SK_UPSTREAM;
    case LINK_FAIL_ROLE:
        return SK_ROLE;
    default:
        return SK_UPSTREAM;
    }
}

/* A new or changed service's probe has answered (service_probe). */
static void
probe_done(void *arg, int verdict, int kind, int tls_kind, const char *why)
{
    struct probe_arg *pa = arg;
    struct attempt *at = pa->at;
    struct reload *r = at->r;
    const struct service_config *sc = at->plan.sc[pa->j];

    if (verdict < 0) {
        char msg[512], line[1024];

        snprintf(msg, sizeof(msg), "the upstream rejected the new "
                 "settings: %s", why);
        config_key_error(at->nc, sc,
                         rejected_key(sc, (enum link_fail)kind, (enum tls_fail)tls_kind), msg,
                         line, sizeof(line));
        add_error_line(at->err, line);
        at->rejected++;
    } else if (verdict > 0) {
        log_warn("event=reload service=%s warning=\"the new settings could "
                 "not be tried: %s; applied anyway (an unreachable server "
                 "proves nothing about them; one that answers and rejects "
                 "them fails the reload)\"", sc->name, why);
    } else {
        log_info("event=reload-probe service=%s result=ok", sc->name);
    }
    if (--at->probing > 0) {
        return;
    }
    if (at->rejected > 0) {
        failed(r, at->err);
        end(r, at);
        return;
    }
    finish(r, at);
}

void
reload_start(struct reload *r)
{
    struct service_env env = {
        .base = r->env.base,
        .dns = r->env.dns,
        .scratch = r->scratch,
        .scratch_len = sizeof(r->scratch),
        .next_id = &r->next_id,
        .budget = &r->budget,
        .shared = r->env.shared,
    };
    struct attempt *at;
    struct config *nc;
    char *err;
    int bad = 0;

    if (r->cancelled) {
        log_warn("event=reload result=ignored reason=\"stopping\"");
        return;
    }
    if (r->at != NULL) {
        r->again = true;    /* after the one under way */
        log_info("event=reload phase=queued reason=\"a reload is still "
                 "trying its new settings\"");
        return;
    }
    sd_reloading(r->env.sd);
    log_info("event=reload phase=begin source=%s", r->cfg->file);
    if ((err = calloc(1, RELOAD_ERR_MAX)) == NULL) {
        failed(r, "out of memory");
        return;
    }
    /* The one read of the file and of every secret. */
    nc = r->env.file == NULL
             ? cli_sidecar_config(r->env.flags, r->env.nflags, err,
                                  RELOAD_ERR_MAX)
             : config_load(r->env.file, err, RELOAD_ERR_MAX);
    if (nc == NULL) {
        failed(r, err);
        free(err);
        return;
    }
    free(err);
    if ((at = attempt_new(r, nc)) == NULL) {
        failed(r, "out of memory");
        return;
    }
    /* New and changed services: built once here (on the control loop),
     * then proved. */
    for (int j = 0; j < at->plan.n; j++) {
        char line[1024];

        if (at->plan.keep[j]) {
            continue;
        }
        at->probes[j] = service_build(nc, at->plan.sc[j], &env, line,
                                      sizeof(line));
        if (at->probes[j] == NULL) {
            add_error_line(at->err, line);
            bad++;
        }
    }
    if (bad) {
        failed(r, at->err);
        attempt_free(at);
        return;
    }
    r->at = at;
    for (int j = 0; j < at->plan.n; j++) {
        if (at->probes[j] == NULL) {
            continue;
        }
        at->pargs[j].at = at;
        at->pargs[j].j = j;
        if (service_probe(at->probes[j], probe_done, &at->pargs[j]) < 0) {
            failed(r, "out of memory");
            end(r, at);     /* frees the probes already started */
            return;
        }
        at->probing++;
    }
    if (at->probing == 0) {
        finish(r, at);
    }
}

void
reload_cancel(struct reload *r)
{
    if (r->at != NULL) {
        log_warn("event=reload result=failed error=\"stopping before the "
                 "new settings were tried\" action=\"not applied\"");
        attempt_free(r->at);
        r->at = NULL;
    }
    r->again = false;
    r->cancelled = true;
}

void
reload_free(struct reload *r)
{
    if (r == NULL) {
        return;
    }
    attempt_free(r->at);
    for (int i = 0; i < r->nknown; i++) {
        free(r->known[i].name);
    }
    free(r->known);
    config_free(r->cfg);
    free(r);
}
