/*
 * main.c: command line, start-up and shutdown order, signals.
 *
 * Start-up: parse and validate the whole config, build every service (TLS
 * contexts, secrets), and only then bind.  Any failure before the loop
 * runs exits 1 with the reason; nothing half-started keeps running.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <limits.h>
#include <unistd.h>
#include <pthread.h>
#include <event2/thread.h>

#include "admin.h"
#include "listener.h"
#include "config.h"
#include "log.h"
#include "sd.h"
#include "service.h"
#include "session.h"

#define SCRATCH_SIZE 16384      /* one TLS record */
#define ERR_MAX 8192

struct proxy {
    struct config *cfg;                 /* owned */
    struct event_base *base;            /* owned */
    struct evdns_base *dns;             /* owned */
    struct service **services;          /* owned: cfg->nservices entries */
    struct event *ev_sig[3];            /* owned: INT, TERM, HUP */
    struct event *ev_poll;              /* owned: readiness, then drain */
    struct sd *sd;                      /* owned: systemd notifications */
    struct admin *admin;                /* owned: /metrics etc., or NULL */
    bool ready;                         /* READY=1 was sent */
    bool draining;                      /* stopping: no new clients */
    struct timeval drain_deadline;      /* when draining ends by force */
    char scratch[SCRATCH_SIZE];         /* the loop's read buffer */
    uint64_t next_id;                   /* session ids */
    struct client_budget budget;        /* clients the descriptors allow */
    struct retired *retired;            /* owned list: replaced services
                                           whose clients are still on */
    struct event *ev_reap;              /* owned: frees retired services */
    const struct config_arg *flags;     /* ref: sidecar settings, reload */
    int nflags;                         /* entries in flags */
    uint64_t reloads_ok;                /* SIGHUP reloads applied */
    uint64_t reloads_failed;            /* SIGHUP reloads refused */
    bool last_reload_ok;                /* the last reload was applied */
    double last_reload_time;            /* wall clock of the last success */
    /* workers > 1: this proxy is one worker, run by its own thread */
    int worker;                         /* its index, -1 = the only loop */
    pthread_t thread;                   /* the worker's thread */
    struct event *ev_cmd;               /* owned: the main thread's orders */
    pthread_mutex_t mu;                 /* guards the fields below */
    pthread_cond_t cv;                  /* signals paused / exited */
    unsigned cmds;                      /* CMD_* bits not yet carried out */
    bool pause_req;                     /* the main thread wants a pause */
    bool paused;                        /* the worker is holding still */
    unsigned pause_gen;                 /* pause asked for (main: ++) */
    unsigned paused_gen;                /* pause held (worker) */
    bool exited;                        /* its loop has returned */
};

enum {
    CMD_RELOAD = 1,     /* SIGHUP */
    CMD_DRAIN = 2,      /* first SIGTERM/SIGINT */
    CMD_STOP = 4        /* second signal */
};

/* A service reload replaced, kept until its last client leaves. */
struct retired {
    struct service *svc;                /* owned */
    struct retired *next;               /* owned */
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: redsleeve -c FILE [--check-config]\n"
            "       redsleeve --listen ADDR --upstream HOST:PORT [--KEY VALUE]..."
            " [--check-config]\n"
            "       redsleeve --version | --help\n"
            "\n"
            "Accepts plaintext Redis clients on local ports and relays each\n"
            "over a verified TLS connection to its upstream, sending AUTH\n"
            "for it when configured.\n"
            "\n"
            "  -c, --config FILE    configuration file (INI)\n"
            "  -t, --check-config   validate FILE (keys, certificates, keys,\n"
            "                       secrets), print one line per service,\n"
            "                       exit 0 when valid, 1 otherwise\n"
            "  -V, --version        print versions (with OpenSSL, libevent)\n"
            "  -h, --help           this text\n"
            "\n"
            "Without -c (sidecar mode), one service is configured from flags\n"
            "and REDSLEEVE_* environment variables: every config key is a\n"
            "flag with '-' for '_' (--listen, --upstream, --verify-host,\n"
            "--ca-file, --auth-user, --auth-password-file, --log-level, ...)\n"
            "and a variable in capitals (REDSLEEVE_UPSTREAM, ...); a flag\n"
            "wins over its variable.\n");
}

static void
version(void)
{
    printf("redsleeve %s (%s)\n", REDSLEEVE_VERSION, REDSLEEVE_GIT_REV);
    printf("OpenSSL: %s (built with %s)\n", OpenSSL_version(OPENSSL_VERSION),
           OPENSSL_VERSION_TEXT);
    printf("libevent: %s (built with %s)\n", event_get_version(),
           LIBEVENT_VERSION);
}

#define NKEYS (CONFIG_NGLOBAL + SK_COUNT)
#define KEY_OPT_BASE 1000       /* getopt values of the key flags */

/* key_name(i): every config key, [global] ones first. */
static const char *
key_name(int i)
{
    return i < CONFIG_NGLOBAL
               ? config_global_keys[i]
               : config_key_name((enum service_key)(i - CONFIG_NGLOBAL));
}

/*
 * sidecar_config(flags, nflags, err, errlen): the config of flags and
 * REDSLEEVE_* variables (a flag wins over its variable).
 */
static struct config *
sidecar_config(const struct config_arg *flags, int nflags, char *err,
               size_t errlen)
{
    static char envnames[NKEYS][64];
    struct config_arg args[CONFIG_ARGS_MAX];
    int n = 0;

    for (int i = 0; i < NKEYS && n < CONFIG_ARGS_MAX; i++) {
        const char *k = key_name(i);
        const char *v;
        bool flagged = false;
        size_t j;

        for (int f = 0; f < nflags; f++) {
            flagged |= strcmp(flags[f].key, k) == 0;
        }
        snprintf(envnames[i], sizeof(envnames[i]), "REDSLEEVE_");
        for (j = 0; k[j] != '\0' && j + 11 < sizeof(envnames[i]); j++) {
            envnames[i][10 + j] = (char)(k[j] >= 'a' && k[j] <= 'z'
                                             ? k[j] - 'a' + 'A' : k[j]);
        }
        envnames[i][10 + j] = '\0';
        v = getenv(envnames[i]);
        if (!flagged && v != NULL && v[0] != '\0') {
            args[n].key = k;
            args[n].value = v;
            args[n].origin = envnames[i];
            n++;
        }
    }
    for (int f = 0; f < nflags && n < CONFIG_ARGS_MAX; f++) {
        args[n++] = flags[f];
    }
    return config_load_args(args, n, err, errlen);
}

/* "FILE:LINE: key: msg" for a failure found after parsing. */
static void
key_error(const struct config *cfg, const struct service_config *sc,
          enum service_key key, const char *msg, char *out, size_t outlen)
{
    int line = sc->key_line[key] ? sc->key_line[key] : sc->section_line;

    snprintf(out, outlen, "%s:%d: %s: %s", cfg->file, line,
             config_key_name(key), msg);
}

/*
 * new_service(px, cfg, sc, out, outlen): service_new with the loop's
 * environment; NULL with "FILE:LINE: key: why" in out.
 */
static struct service *
new_service(struct proxy *px, const struct config *cfg,
            const struct service_config *sc, char *out, size_t outlen)
{
    struct service_env env = {
        .base = px->base,
        .dns = px->dns,
        .scratch = px->scratch,
        .scratch_len = sizeof(px->scratch),
        .next_id = &px->next_id,
        .budget = &px->budget,
    };
    enum service_key key = SK_UPSTREAM;
    char err[512];
    struct service *svc = service_new(sc, &env, err, sizeof(err), &key);

    if (svc == NULL) {
        key_error(cfg, sc, key, err, out, outlen);
    }
    return svc;
}

static int
build_services(struct proxy *px)
{
    const struct service_config *sc;
    char line[1024];
    int i = 0, bad = 0;

    px->services = calloc((size_t)px->cfg->nservices, sizeof(*px->services));
    if (px->services == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    for (sc = px->cfg->services; sc != NULL; sc = sc->next, i++) {
        px->services[i] = new_service(px, px->cfg, sc, line, sizeof(line));
        if (px->services[i] == NULL) {
            fprintf(stderr, "%s\n", line);
            bad++;
        }
    }
    return bad ? -1 : 0;
}

static void
free_services(struct proxy *px)
{
    if (px->services == NULL) {
        return;
    }
    for (int i = 0; i < px->cfg->nservices; i++) {
        service_free(px->services[i]);
    }
    free(px->services);
    px->services = NULL;
}

static int
check_config(struct proxy *px)
{
    char line[1024];
    int i = 0;

    if (build_services(px) < 0) {
        return 1;
    }
    if (px->cfg->notes != NULL) {
        fputs(px->cfg->notes, stdout);   /* what stunnel keys became */
    }
    for (const struct service_config *sc = px->cfg->services; sc != NULL;
         sc = sc->next, i++) {
        service_describe(px->services[i], line, sizeof(line));
        printf("%s\n", line);
    }
    printf("%s: configuration OK (%d service%s)\n", px->cfg->file,
           px->cfg->nservices, px->cfg->nservices == 1 ? "" : "s");
    return 0;
}

static unsigned
retired_clients(const struct proxy *px)
{
    unsigned n = 0;

    for (const struct retired *r = px->retired; r != NULL; r = r->next) {
        n += service_clients(r->svc);
    }
    return n;
}

static unsigned
total_clients(const struct proxy *px)
{
    unsigned n = retired_clients(px);

    for (int i = 0; i < px->cfg->nservices; i++) {
        n += service_clients(px->services[i]);
    }
    return n;
}

/* Frees the retired services whose last client has left. */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;
    struct retired **rp = &px->retired;

    (void)fd;
    (void)what;
    while (*rp != NULL) {
        struct retired *r = *rp;

        if (service_clients(r->svc) == 0) {
            log_info("event=reload-retired service=%s reason=\"last client "
                     "of the old config left\"",
                     service_config(r->svc)->name);
            *rp = r->next;
            service_free(r->svc);
            free(r);
        } else {
            rp = &r->next;
        }
    }
    if (px->retired == NULL) {
        event_del(px->ev_reap);
    }
}

static void
status_cb(char *out, unsigned long outlen, void *arg)
{
    struct proxy *px = arg;
    unsigned idle = 0;

    for (int i = 0; i < px->cfg->nservices; i++) {
        idle += service_links_idle(px->services[i]);
    }
    snprintf(out, outlen, "%s clients=%u links_idle=%u",
             px->draining ? "draining" : px->ready ? "serving" : "starting",
             total_clients(px), idle);
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

/*
 * Everything /metrics says: the services (with workers, every worker's,
 * summed by service), the clients on retired services, and the reload
 * record kept in rec (the process's, not a worker's).
 */
static void
write_metrics(struct evbuffer *out, const struct proxy *rec,
              struct service *const *svcs, int n, unsigned retired)
{
    build_info(out);
    service_metrics(svcs, n, out);
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
                        (unsigned long long)rec->reloads_ok,
                        (unsigned long long)rec->reloads_failed,
                        rec->last_reload_ok ? 1 : 0, rec->last_reload_time);
}

static void
metrics_cb(struct evbuffer *out, void *arg)
{
    struct proxy *px = arg;

    write_metrics(out, px, px->services, px->cfg->nservices,
                  retired_clients(px));
}

/* Ready: started, not draining, and every upstream reachable. */
static bool
ready_cb(char *why, size_t whylen, void *arg)
{
    struct proxy *px = arg;
    const struct service_config *sc = px->cfg->services;

    if (!px->ready || px->draining) {
        snprintf(why, whylen, "%s", px->draining ? "draining" : "starting");
        return false;
    }
    for (int i = 0; i < px->cfg->nservices; i++, sc = sc->next) {
        if (!service_upstream_up(px->services[i])) {
            snprintf(why, whylen, "service %s: upstream %s unreachable",
                     sc->name, sc->upstream);
            return false;
        }
    }
    return true;
}

static void
stop_now(struct proxy *px, const char *why)
{
    log_info("event=shutdown phase=close reason=%s clients=%u", why,
             total_clients(px));
    for (int i = 0; i < px->cfg->nservices; i++) {
        service_shutdown(px->services[i]);
    }
    for (struct retired *r = px->retired; r != NULL; r = r->next) {
        service_shutdown(r->svc);
    }
    event_base_loopexit(px->base, NULL);
}

/*
 * The poll timer: at start-up, READY=1 once every service has tried its
 * first link; while draining, the exit once the last client left or the
 * shutdown_timeout passed.
 */
static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;
    struct timeval now;

    (void)fd;
    (void)what;
    if (px->draining) {
        event_base_gettimeofday_cached(px->base, &now);
        if (total_clients(px) == 0) {
            stop_now(px, "drained");
        } else if (evutil_timercmp(&now, &px->drain_deadline, >=)) {
            stop_now(px, "shutdown-timeout");
        }
        return;
    }
    for (int i = 0; i < px->cfg->nservices; i++) {
        if (!service_first_link_tried(px->services[i])) {
            return;
        }
    }
    px->ready = true;
    sd_ready(px->sd);
    log_info("event=ready version=%s services=%d", REDSLEEVE_VERSION,
             px->cfg->nservices);
    event_del(px->ev_poll);
}


static double
wall_now(void)
{
    struct timeval tv;

    evutil_gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Logs every line of a multi-line error as one reload failure. */
static void
reload_failed(struct proxy *px, const char *errors)
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
    px->reloads_failed++;
    px->last_reload_ok = false;
    sd_ready(px->sd);
}

/* Keys that need a restart: the running value stays (and is logged). */
static void
keep_restart_only(struct config *running, struct config *next)
{
    struct {
        const char *key;
        char **cur, **want;
    } keys[] = {
        {"admin_listen", &running->admin_listen, &next->admin_listen},
        {"user", &running->user, &next->user},
        {"group", &running->group, &next->group},
        {"pid_file", &running->pid_file, &next->pid_file},
        {"log_file", &running->log_file, &next->log_file},
        {"resolv_conf", &running->resolv_conf, &next->resolv_conf},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char *c = *keys[i].cur, *w = *keys[i].want;

        if ((c == NULL) != (w == NULL) || (c != NULL && strcmp(c, w) != 0)) {
            log_warn("event=reload key=%s warning=\"changed, but applies "
                     "only at restart: keeping %s\"", keys[i].key,
                     c != NULL ? c : "(unset)");
        }
        *keys[i].cur = w;       /* the old config frees the new value */
        *keys[i].want = c;
    }
    next->admin_listen_line = running->admin_listen_line;
    next->allow_root = running->allow_root;
    if (next->workers != running->workers) {
        log_warn("event=reload key=workers warning=\"changed, but applies "
                 "only at restart: keeping %d\"", running->workers);
        next->workers = running->workers;
    }
    if (next->busy_poll != running->busy_poll) {
        log_warn("event=reload key=busy_poll warning=\"changed, but applies "
                 "only at restart: keeping %.0fus\"",
                 running->busy_poll * 1e6);
        next->busy_poll = running->busy_poll;
    }
}

/*
 * run_loop(px, flags): the event loop (event_base_loop's flags and
 * result).  With busy_poll, after any client or link activity the loop
 * polls without sleeping (epoll_wait with a zero timeout) for that long,
 * so the next byte is handled without the wake-up a sleeping thread needs
 * (HAProxy's busy-polling, but only after activity: an idle proxy still
 * sleeps).  It buys latency with CPU: see README "busy_poll".
 */
static int
run_loop(struct proxy *px, int flags)
{
    const double spin = px->cfg->busy_poll;
    double last;

    if (spin <= 0) {
        return event_base_loop(px->base, flags);
    }
    log_info("event=busy-poll window_us=%.0f note=\"polls without "
             "sleeping for this long after activity\"", spin * 1e6);
    last = mono_now();
    for (;;) {
        unsigned long before = session_io_count;
        bool polling = mono_now() - last < spin;
        int r = event_base_loop(px->base, flags | (polling ? EVLOOP_NONBLOCK
                                                           : EVLOOP_ONCE));

        if (r != 0) {
            return r;
        }
        if (event_base_got_exit(px->base) || event_base_got_break(px->base)) {
            return 0;
        }
        if (session_io_count != before) {
            last = mono_now();
        }
    }
}

/*
 * Workers and "port 0": worker 0 binds the port and the others take the
 * same one (SO_REUSEPORT).  port_notes lists worker 0's: written by the
 * main thread while every worker holds still, read by the others.
 */
struct port_note {
    char *name;                 /* owned: the service */
    int port;                   /* what worker 0 was given */
};
static struct port_note *port_notes;
static int nport_notes;

/* Services of cfg that listen on port 0 take the port worker 0 has. */
static void
apply_port_notes(struct config *cfg)
{
    for (struct service_config *sc = cfg->services; sc != NULL;
         sc = sc->next) {
        for (int i = 0; i < nport_notes; i++) {
            if (sc->listen_unix == NULL && sc->listen_port == 0 &&
                strcmp(port_notes[i].name, sc->name) == 0) {
                sc->listen_port = port_notes[i].port;
            }
        }
    }
}

static void
free_port_notes(void)
{
    for (int i = 0; i < nport_notes; i++) {
        free(port_notes[i].name);
    }
    free(port_notes);
    port_notes = NULL;
    nport_notes = 0;
}

/*
 * reload(px): SIGHUP.  Reads and validates the whole config and builds
 * every changed service (certificates, keys, CA files, secrets) and binds
 * every new address before anything changes; on any error the running
 * config stays as it was.  Then: unchanged services keep running, changed
 * ones are replaced (same listen address: the bound socket moves over),
 * removed ones stop accepting; replaced and removed services keep their
 * clients until they leave.
 */
static void
reload(struct proxy *px)
{
    struct config *old = px->cfg, *nc;
    struct service **ns = NULL;
    int *from = NULL;           /* new j: old service it keeps, or -1 */
    int *handover = NULL;       /* new j: old service whose socket it takes */
    bool *claimed = NULL;       /* old i: kept or its socket taken */
    struct service_config *sc, *next;
    char *err = malloc(ERR_MAX);
    int j, nold, kept = 0, added = 0, bad = 0;

    sd_reloading(px->sd);
    log_info("event=reload phase=begin source=%s", old->file);
    if (err == NULL) {
        reload_failed(px, "out of memory");
        return;
    }
    err[0] = '\0';
    nc = px->flags != NULL || px->nflags > 0
             ? sidecar_config(px->flags, px->nflags, err, ERR_MAX)
             : config_load(old->file, err, ERR_MAX);
    if (nc == NULL) {
        reload_failed(px, err);
        free(err);
        return;
    }
    ns = calloc((size_t)nc->nservices + 1, sizeof(*ns));
    from = calloc((size_t)nc->nservices + 1, sizeof(*from));
    handover = calloc((size_t)nc->nservices + 1, sizeof(*handover));
    claimed = calloc((size_t)old->nservices + 1, sizeof(*claimed));
    if (ns == NULL || from == NULL || handover == NULL || claimed == NULL) {
        snprintf(err, ERR_MAX, "out of memory");
        bad = 1;
        goto undo;
    }
    /* 1. Keep what did not change; build the rest (reads every file). */
    err[0] = '\0';
    for (sc = nc->services, j = 0; sc != NULL; sc = sc->next, j++) {
        from[j] = handover[j] = -1;
        for (int i = 0; i < old->nservices; i++) {
            if (!claimed[i] &&
                strcmp(service_config(px->services[i])->name, sc->name) == 0
                && service_unchanged(px->services[i], sc)) {
                from[j] = i;
                claimed[i] = true;
                break;
            }
        }
        if (from[j] < 0) {
            size_t used = strlen(err);

            ns[j] = new_service(px, nc, sc, err + used, ERR_MAX - used - 1);
            if (ns[j] == NULL) {
                strcat(err, "\n");
                bad++;
            }
        }
    }
    if (bad) {
        goto undo;
    }
    /* 2. Sockets: take over the same address, else bind a new one. */
    if (px->worker > 0) {
        apply_port_notes(nc);
    }
    for (sc = nc->services, j = 0; sc != NULL; sc = sc->next, j++) {
        if (from[j] >= 0) {
            continue;
        }
        for (int i = 0; i < old->nservices && handover[j] < 0; i++) {
            const struct service_config *osc =
                service_config(px->services[i]);

            if (!claimed[i] && service_is_listening(px->services[i]) &&
                strcmp(osc->listen, sc->listen) == 0) {
                handover[j] = i;
                claimed[i] = true;
            }
        }
        if (handover[j] < 0) {
            char why[512];

            if (service_listen(ns[j], why, sizeof(why)) < 0) {
                snprintf(err, ERR_MAX, "%s:%d: listen: %s", nc->file,
                         sc->key_line[SK_LISTEN], why);
                bad = 1;
                goto undo;
            }
            log_info("event=listen service=%s addr=%s upstream=%s",
                     sc->name, service_listen_addr(ns[j]), sc->upstream);
        }
    }
    /* 3. Commit: nothing below can fail.  (Detaching sections shrinks
     * old->nservices: nold is the count px->services was built for.) */
    nold = old->nservices;
    for (sc = nc->services, j = 0; sc != NULL; sc = next, j++) {
        next = sc->next;
        if (from[j] >= 0) {
            struct service *svc = px->services[from[j]];
            struct service_config *osc =
                (struct service_config *)service_config(svc);

            /* The running section moves into the new config. */
            config_detach_service(old, osc, NULL);
            osc->section_line = sc->section_line;
            memcpy(osc->key_line, sc->key_line, sizeof(osc->key_line));
            config_detach_service(nc, sc, osc);
            config_service_free(sc);
            ns[j] = svc;
            px->services[from[j]] = NULL;
            kept++;
            continue;
        }
        if (handover[j] >= 0) {
            service_take_listener(ns[j], px->services[handover[j]]);
        }
        added++;
    }
    for (int i = 0; i < nold; i++) {
        struct service *svc = px->services[i];
        struct service_config *osc;
        struct retired *r;

        if (svc == NULL) {
            continue;
        }
        osc = (struct service_config *)service_config(svc);
        config_detach_service(old, osc, NULL);
        service_retire(svc, osc);
        log_info("event=reload-replaced service=%s clients=%u "
                 "action=\"accepts no more; its clients keep their links "
                 "until they leave\"", osc->name, service_clients(svc));
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            service_free(svc);  /* cannot track it: close it now */
        } else {
            r->svc = svc;
            r->next = px->retired;
            px->retired = r;
        }
    }
    keep_restart_only(old, nc);
    log_set_level(nc->log_level);
    config_free(old);
    free(px->services);
    px->services = ns;
    px->cfg = nc;
    ns = NULL;
    if (px->retired != NULL) {
        struct timeval tv = {0, 200000};

        event_add(px->ev_reap, &tv);
    }
    px->reloads_ok++;
    px->last_reload_ok = true;
    px->last_reload_time = wall_now();
    log_info("event=reload result=ok services=%d unchanged=%d new=%d "
             "retiring_clients=%u", nc->nservices, kept, added,
             retired_clients(px));
    sd_ready(px->sd);
    goto out;
undo:
    for (j = 0; nc != NULL && j < nc->nservices; j++) {
        service_free(ns != NULL ? ns[j] : NULL);
    }
    config_free(nc);
    reload_failed(px, err);
out:
    free(ns);
    free(from);
    free(handover);
    free(claimed);
    free(err);
}

static void begin_drain(struct proxy *px, const char *signame);

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct proxy *px = arg;

    (void)what;
    if (sig == SIGHUP) {
        if (px->draining) {
            log_warn("event=reload result=ignored reason=\"stopping\"");
            return;
        }
        reload(px);
        return;
    }
    if (px->draining) {
        stop_now(px, "second-signal");
        return;
    }
    begin_drain(px, sig == SIGINT ? "INT" : "TERM");
}

/* Stop accepting; live clients may finish for up to shutdown_timeout. */
static void
begin_drain(struct proxy *px, const char *signame)
{
    struct timeval tv = {0, 100000};
    double t = px->cfg->shutdown_timeout;

    px->draining = true;
    log_info("event=shutdown phase=drain signal=%s clients=%u timeout=%gs",
             signame, total_clients(px), t);
    for (int i = 0; i < px->cfg->nservices; i++) {
        service_stop_accepting(px->services[i]);
    }
    sd_stopping(px->sd);
    event_base_gettimeofday_cached(px->base, &px->drain_deadline);
    px->drain_deadline.tv_sec += (time_t)t;
    px->drain_deadline.tv_usec += (suseconds_t)((t - (double)(time_t)t) * 1e6);
    if (px->drain_deadline.tv_usec >= 1000000) {
        px->drain_deadline.tv_sec++;
        px->drain_deadline.tv_usec -= 1000000;
    }
    event_del(px->ev_poll);
    event_add(px->ev_poll, &tv);
    poll_cb(-1, 0, px);
}

/* env_yes(name): the variable is set to yes, true, on or 1. */
static bool
env_yes(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && (strcasecmp(v, "yes") == 0 ||
                         strcasecmp(v, "true") == 0 ||
                         strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

#define FD_RESERVE 32          /* listeners, resolver, admin, logs, ... */

/*
 * raise_fd_limit(px): lets a busy proxy hold two descriptors per client
 * without tuning, then sets the client budget from what the limit allows:
 * (limit - reserve - every idle pool link) / 2, as HAProxy derives its
 * maxconn from ulimit -n.
 */
static void
raise_fd_limit(struct proxy *px)
{
    struct rlimit rl;
    unsigned long long want = 0, pools = 0, cap;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_debug("event=rlimit error=\"%s\"", strerror(errno));
        }
    }
    px->budget.cap = UINT_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
        return;
    }
    for (const struct service_config *sc = px->cfg->services; sc != NULL;
         sc = sc->next) {
        want += (unsigned long long)sc->max_clients;
        pools += (unsigned long long)sc->pool_max_idle +
                 (unsigned long long)sc->pool_min_idle;
    }
    cap = rl.rlim_cur > FD_RESERVE + pools + 2
              ? (rl.rlim_cur - FD_RESERVE - pools) / 2 : 1;
    px->budget.cap = cap < UINT_MAX ? (unsigned)cap : UINT_MAX;
    if (cap < want) {
        log_warn("event=fd-limit nofile=%llu clients_max=%llu "
                 "max_clients_total=%llu warning=\"the descriptor limit "
                 "allows fewer clients than max_clients: raise "
                 "LimitNOFILE / ulimit -n\"",
                 (unsigned long long)rl.rlim_cur, cap, want);
    }
}

static void
libevent_log_cb(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_ERR) {
        log_error("event=libevent msg=\"%s\"", msg);
    } else if (severity == EVENT_LOG_WARN) {
        log_warn("event=libevent msg=\"%s\"", msg);
    } else {
        log_debug("event=libevent msg=\"%s\"", msg);
    }
}

static int start_worker_events(struct proxy *px);

static int
start(struct proxy *px)
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    char err[512];
    int i = 0;

    px->dns = evdns_base_new(px->base, 0);
    if (px->dns == NULL) {
        log_error("event=start error=\"cannot create the DNS resolver\"");
        return -1;
    }
    if (evdns_base_resolv_conf_parse(px->dns, DNS_OPTIONS_ALL,
                                     px->cfg->resolv_conf) != 0) {
        log_warn("event=dns resolv_conf=%s warning=\"could not read it all; "
                 "using what was read, else 127.0.0.1\"",
                 px->cfg->resolv_conf);
    }
    if (build_services(px) < 0) {
        return -1;
    }
    for (const struct service_config *sc = px->cfg->services; sc != NULL;
         sc = sc->next, i++) {
        if (service_listen(px->services[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s:%d: listen: %s\n", px->cfg->file,
                    sc->key_line[SK_LISTEN], err);
            return -1;
        }
        if (sc->verify == VERIFY_NONE) {
            log_warn("event=insecure service=%s warning=\"verify = none: the "
                     "upstream certificate is NOT checked; anyone on the "
                     "path can read and change this traffic\"", sc->name);
        }
        log_info("event=listen service=%s addr=%s upstream=%s verify=%s",
                 sc->name, service_listen_addr(px->services[i]),
                 sc->upstream, sc->verify == VERIFY_FULL ? "full"
                 : sc->verify == VERIFY_CHAIN ? "chain" : "none");
    }
    if (px->worker >= 0) {
        return start_worker_events(px);
    }
    if (px->cfg->admin_listen != NULL) {
        struct admin_hooks hooks = {metrics_cb, ready_cb, px};

        px->admin = admin_new(px->base, px->cfg->admin_listen, &hooks, err,
                              sizeof(err));
        if (px->admin == NULL) {
            fprintf(stderr, "%s:%d: admin_listen: %s\n", px->cfg->file,
                    px->cfg->admin_listen_line, err);
            return -1;
        }
        log_info("event=listen service=admin addr=%s paths=/metrics,"
                 "/healthz,/readyz", admin_addr(px->admin));
    }
    px->sd = sd_new(px->base, status_cb, px);
    px->ev_poll = event_new(px->base, -1, EV_PERSIST, poll_cb, px);
    px->ev_reap = event_new(px->base, -1, EV_PERSIST, reap_cb, px);
    px->last_reload_ok = true;
    px->last_reload_time = wall_now();
    if (px->sd == NULL || px->ev_poll == NULL || px->ev_reap == NULL) {
        log_error("event=start error=\"out of memory\"");
        return -1;
    }
    {
        struct timeval tv = {0, 50000};

        event_add(px->ev_poll, &tv);
    }
    for (i = 0; i < 3; i++) {
        px->ev_sig[i] = evsignal_new(px->base, sigs[i], signal_cb, px);
        if (px->ev_sig[i] == NULL || evsignal_add(px->ev_sig[i], NULL) < 0) {
            log_error("event=start error=\"cannot install signal handlers\"");
            return -1;
        }
    }
    return 0;
}

/*
 * drop_privileges(cfg): after every listener is bound and every secret,
 * key and certificate is read, become [global] user / group.  0, or -1.
 */
static int
drop_privileges(const struct config *cfg)
{
    struct passwd *pw = NULL;
    struct group *gr = NULL;
    gid_t gid;

    if (cfg->user == NULL && cfg->group == NULL) {
        return 0;
    }
    if (cfg->user != NULL && (pw = getpwnam(cfg->user)) == NULL) {
        log_error("event=start error=\"user %s does not exist\"", cfg->user);
        return -1;
    }
    if (cfg->group != NULL && (gr = getgrnam(cfg->group)) == NULL) {
        log_error("event=start error=\"group %s does not exist\"",
                  cfg->group);
        return -1;
    }
    gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
    if (getegid() != gid || geteuid() == 0) {
        if (setgroups(1, &gid) < 0 || setgid(gid) < 0) {
            log_error("event=start error=\"cannot become group %u: %s\"",
                      (unsigned)gid, strerror(errno));
            return -1;
        }
    }
    if (pw != NULL && geteuid() != pw->pw_uid && setuid(pw->pw_uid) < 0) {
        log_error("event=start error=\"cannot become user %s: %s\"",
                  cfg->user, strerror(errno));
        return -1;
    }
    log_info("event=privileges uid=%u gid=%u", (unsigned)geteuid(),
             (unsigned)getegid());
    return 0;
}

/* pid_file: written at start (0, or -1 when it cannot be) and removed at
 * exit. */
static int
write_pid_file(const struct config *cfg)
{
    FILE *pf;

    if (cfg->pid_file == NULL) {
        return 0;
    }
    pf = fopen(cfg->pid_file, "w");
    if (pf == NULL) {
        log_error("event=start error=\"pid_file %s: %s\"", cfg->pid_file,
                  strerror(errno));
        return -1;
    }
    fprintf(pf, "%ld\n", (long)getpid());
    fclose(pf);
    return 0;
}

static void
remove_pid_file(const struct config *cfg)
{
    if (cfg->pid_file != NULL && unlink(cfg->pid_file) < 0) {
        log_debug("event=pid-file error=\"%s\"", strerror(errno));
    }
}

static void
stop(struct proxy *px)
{
    for (int i = 0; i < 3; i++) {
        if (px->ev_sig[i] != NULL) {
            event_free(px->ev_sig[i]);
        }
    }
    if (px->ev_poll != NULL) {
        event_free(px->ev_poll);
    }
    if (px->ev_reap != NULL) {
        event_free(px->ev_reap);
    }
    if (px->ev_cmd != NULL) {
        event_free(px->ev_cmd);     /* before its base goes */
    }
    while (px->retired != NULL) {
        struct retired *r = px->retired;

        px->retired = r->next;
        service_free(r->svc);
        free(r);
    }
    admin_free(px->admin);
    sd_free(px->sd);
    free_services(px);
    if (px->dns != NULL) {
        evdns_base_free(px->dns, 0);
    }
    if (px->base != NULL) {
        event_base_free(px->base);
    }
    config_free(px->cfg);
}


/* ------------------------------------------------------------ workers */

/*
 * workers > 1: one complete proxy per thread (its own config object, event
 * loop, resolver, services, pools and SO_REUSEPORT listeners), started by
 * the main thread, which keeps the signals, systemd, the admin endpoint
 * and the pid file.  The main thread orders a worker (reload, drain, stop)
 * through ev_cmd and reads its counters only while every worker holds
 * still in a pause: no counter is shared between threads.
 */
struct master {
    struct proxy *px;           /* ref: main's proxy (globals, base, ...) */
    struct proxy **w;           /* owned: the workers */
    int n;                      /* how many */
    bool ready;                 /* READY=1 sent */
    bool draining;              /* a stop signal came */
    const char *signame;        /* for the workers' drain log line */
};

static struct master M;

static void note_ports(struct proxy *w0);

static void
worker_cmd_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;
    unsigned cmds;

    (void)fd;
    (void)what;
    /* Orders first, so a pause that follows an order sees it carried out
     * (SIGHUP: READY=1 only once every worker has reloaded). */
    pthread_mutex_lock(&px->mu);
    cmds = px->cmds;
    px->cmds = 0;
    pthread_mutex_unlock(&px->mu);
    if (cmds & CMD_STOP) {
        stop_now(px, "second-signal");
    } else if ((cmds & CMD_DRAIN) && !px->draining) {
        begin_drain(px, M.signame != NULL ? M.signame : "TERM");
    } else if ((cmds & CMD_RELOAD) && !px->draining) {
        reload(px);
    }
    pthread_mutex_lock(&px->mu);
    if (px->pause_req) {
        unsigned gen = px->pause_gen;

        /* A new pause asked for while this one holds (resume, order,
         * pause before this thread woke) ends it: the callback runs again
         * for the order, then holds for the new one. */
        px->paused = true;
        px->paused_gen = gen;
        pthread_cond_broadcast(&px->cv);
        while (px->pause_req && px->pause_gen == gen) {
            pthread_cond_wait(&px->cv, &px->mu);
        }
        px->paused = false;
    }
    pthread_mutex_unlock(&px->mu);
}

static int
start_worker_events(struct proxy *px)
{
    struct timeval tv = {0, 50000};

    px->ev_poll = event_new(px->base, -1, EV_PERSIST, poll_cb, px);
    px->ev_reap = event_new(px->base, -1, EV_PERSIST, reap_cb, px);
    px->ev_cmd = event_new(px->base, -1, 0, worker_cmd_cb, px);
    px->last_reload_ok = true;
    px->last_reload_time = wall_now();
    if (px->ev_poll == NULL || px->ev_reap == NULL || px->ev_cmd == NULL) {
        log_error("event=start error=\"out of memory\"");
        return -1;
    }
    event_add(px->ev_poll, &tv);
    return 0;
}

static void
post(struct proxy *w, unsigned cmd)
{
    pthread_mutex_lock(&w->mu);
    w->cmds |= cmd;
    pthread_mutex_unlock(&w->mu);
    event_active(w->ev_cmd, EV_READ, 0);
}

/* Every worker holds still (or has ended) until resume_all(). */
static void
pause_all(void)
{
    for (int k = 0; k < M.n; k++) {
        pthread_mutex_lock(&M.w[k]->mu);
        M.w[k]->pause_req = true;
        M.w[k]->pause_gen++;
        pthread_cond_broadcast(&M.w[k]->cv);
        pthread_mutex_unlock(&M.w[k]->mu);
        event_active(M.w[k]->ev_cmd, EV_READ, 0);
    }
    for (int k = 0; k < M.n; k++) {
        struct proxy *w = M.w[k];

        pthread_mutex_lock(&w->mu);
        while (!(w->paused && w->paused_gen == w->pause_gen) && !w->exited) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        pthread_mutex_unlock(&w->mu);
    }
}

static void
resume_all(void)
{
    for (int k = 0; k < M.n; k++) {
        pthread_mutex_lock(&M.w[k]->mu);
        M.w[k]->pause_req = false;
        pthread_cond_broadcast(&M.w[k]->cv);
        pthread_mutex_unlock(&M.w[k]->mu);
    }
}

static void *
worker_main(void *arg)
{
    struct proxy *px = arg;

    (void)run_loop(px, EVLOOP_NO_EXIT_ON_EMPTY);
    pthread_mutex_lock(&px->mu);
    px->exited = true;
    pthread_cond_broadcast(&px->cv);
    pthread_mutex_unlock(&px->mu);
    return NULL;
}

static void
m_status_cb(char *out, unsigned long outlen, void *arg)
{
    unsigned clients = 0, idle = 0;

    (void)arg;
    pause_all();
    for (int k = 0; k < M.n; k++) {
        clients += total_clients(M.w[k]);
        for (int i = 0; i < M.w[k]->cfg->nservices; i++) {
            idle += service_links_idle(M.w[k]->services[i]);
        }
    }
    resume_all();
    snprintf(out, outlen, "%s clients=%u links_idle=%u workers=%d",
             M.draining ? "draining" : M.ready ? "serving" : "starting",
             clients, idle, M.n);
}

static void
m_metrics_cb(struct evbuffer *out, void *arg)
{
    struct service **all;
    unsigned retired = 0;
    int total = 0;

    (void)arg;
    pause_all();
    for (int k = 0; k < M.n; k++) {
        total += M.w[k]->cfg->nservices;
        retired += retired_clients(M.w[k]);
    }
    all = calloc((size_t)total + 1, sizeof(*all));
    if (all != NULL) {
        total = 0;
        for (int k = 0; k < M.n; k++) {
            for (int i = 0; i < M.w[k]->cfg->nservices; i++) {
                all[total++] = M.w[k]->services[i];
            }
        }
        write_metrics(out, M.px, all, total, retired);
        free(all);
        /* How SO_REUSEPORT spread the clients. */
        evbuffer_add_printf(out, "# HELP redsleeve_worker_clients_active "
                            "Clients connected now, by worker thread.\n"
                            "# TYPE redsleeve_worker_clients_active gauge\n");
        for (int k = 0; k < M.n; k++) {
            evbuffer_add_printf(out, "redsleeve_worker_clients_active"
                                "{worker=\"%d\"} %u\n", k,
                                total_clients(M.w[k]));
        }
        evbuffer_add_printf(out, "# HELP redsleeve_worker_clients_total "
                            "Clients accepted since start, by worker "
                            "thread.\n# TYPE redsleeve_worker_clients_total "
                            "counter\n");
        for (int k = 0; k < M.n; k++) {
            evbuffer_add_printf(out, "redsleeve_worker_clients_total"
                                "{worker=\"%d\"} %llu\n", k,
                                (unsigned long long)M.w[k]->budget.accepted);
        }
    }
    resume_all();
}

static bool
m_ready_cb(char *why, size_t whylen, void *arg)
{
    bool ok = true;

    (void)arg;
    if (M.draining) {
        snprintf(why, whylen, "draining");
        return false;
    }
    pause_all();
    for (int k = 0; k < M.n && ok; k++) {
        if (!M.w[k]->ready) {
            snprintf(why, whylen, "starting");
            ok = false;
        }
    }
    for (int k = 0; k < M.n && ok; k++) {
        const struct service_config *sc = M.w[k]->cfg->services;

        for (int i = 0; i < M.w[k]->cfg->nservices && ok; i++, sc = sc->next) {
            if (!service_upstream_up(M.w[k]->services[i])) {
                snprintf(why, whylen, "service %s: upstream %s unreachable",
                         sc->name, sc->upstream);
                ok = false;
            }
        }
    }
    resume_all();
    return ok;
}

/* The main thread's timer: READY=1 once every worker is ready; the exit
 * once every worker has drained. */
static void
m_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    bool all = true;

    (void)fd;
    (void)what;
    (void)arg;
    if (M.draining) {
        for (int k = 0; k < M.n; k++) {
            pthread_mutex_lock(&M.w[k]->mu);
            all = all && M.w[k]->exited;
            pthread_mutex_unlock(&M.w[k]->mu);
        }
        if (all) {
            event_base_loopexit(M.px->base, NULL);
        }
        return;
    }
    if (M.ready) {
        return;
    }
    pause_all();
    for (int k = 0; k < M.n; k++) {
        all = all && M.w[k]->ready;
    }
    resume_all();
    if (all) {
        M.ready = true;
        sd_ready(M.px->sd);
        log_info("event=ready version=%s services=%d workers=%d",
                 REDSLEEVE_VERSION, M.px->cfg->nservices, M.n);
    }
}

static void
m_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        if (M.draining) {
            log_warn("event=reload result=ignored reason=\"stopping\"");
            return;
        }
        sd_reloading(M.px->sd);
        /* Worker 0 first: the others take its "port 0" ports. */
        post(M.w[0], CMD_RELOAD);
        pause_all();        /* returns once it has reloaded */
        note_ports(M.w[0]);
        resume_all();
        for (int k = 1; k < M.n; k++) {
            post(M.w[k], CMD_RELOAD);
        }
        pause_all();        /* ... and once every other one has */
        {
            bool ok = true;

            for (int k = 0; k < M.n; k++) {
                ok = ok && M.w[k]->last_reload_ok;
            }
            if (ok) {
                M.px->reloads_ok++;
                M.px->last_reload_time = wall_now();
            } else {
                M.px->reloads_failed++;
            }
            M.px->last_reload_ok = ok;
        }
        resume_all();
        sd_ready(M.px->sd);
        return;
    }
    if (M.draining) {
        for (int k = 0; k < M.n; k++) {
            post(M.w[k], CMD_STOP);
        }
        return;
    }
    M.draining = true;
    M.signame = sig == SIGINT ? "INT" : "TERM";
    sd_stopping(M.px->sd);
    for (int k = 0; k < M.n; k++) {
        post(M.w[k], CMD_DRAIN);
    }
    {
        struct timeval tv = {0, 50000};

        event_del(M.px->ev_poll);
        event_add(M.px->ev_poll, &tv);
    }
}

/* Notes the ports worker 0 was given for its "port 0" listens (worker 0
 * not running, or holding still). */
static void
note_ports(struct proxy *w0)
{
    const struct service_config *sc = w0->cfg->services;

    free_port_notes();
    port_notes = calloc((size_t)w0->cfg->nservices + 1, sizeof(*port_notes));
    if (port_notes == NULL) {
        return;
    }
    for (int i = 0; sc != NULL && i < w0->cfg->nservices; i++, sc = sc->next) {
        const char *addr = service_listen_addr(w0->services[i]);
        const char *colon = strrchr(addr, ':');

        if (sc->listen_unix == NULL && sc->listen_port == 0 && colon != NULL &&
            (port_notes[nport_notes].name = strdup(sc->name)) != NULL) {
            port_notes[nport_notes++].port = atoi(colon + 1);
        }
    }
}

/*
 * run_workers(px): workers = N.  Builds and starts every worker here (so
 * that a bad file, certificate or address stops start-up before anything
 * runs), then the threads, then the main loop.  Returns the exit code.
 */
static int
run_workers(struct proxy *px)
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    sigset_t all, old;
    unsigned cap;
    int rc = 1, started = 0;
    char err[512];

    for (const struct service_config *sc = px->cfg->services; sc != NULL;
         sc = sc->next) {
        /* Workers share each port with SO_REUSEPORT, which would let a
         * second redsleeve share it too: make sure nobody holds it. */
        if (listener_probe(sc, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s:%d: listen: %s\n", px->cfg->file,
                    sc->key_line[SK_LISTEN], err);
            return 1;
        }
    }
    listener_set_reuseport(true);
    raise_fd_limit(px);
    cap = px->budget.cap / (unsigned)px->cfg->workers;
    M.px = px;
    M.n = px->cfg->workers;
    px->last_reload_ok = true;
    px->last_reload_time = wall_now();
    M.w = calloc((size_t)M.n, sizeof(*M.w));
    if (M.w == NULL) {
        return 1;
    }
    for (int k = 0; k < M.n; k++) {
        struct proxy *w = calloc(1, sizeof(*w));
        char *e = malloc(ERR_MAX);

        if (w == NULL || e == NULL) {
            free(w);
            free(e);
            goto out;
        }
        M.w[k] = w;
        w->worker = k;
        w->flags = px->flags;
        w->nflags = px->nflags;
        w->next_id = (uint64_t)k << 56;
        w->budget.cap = cap > 0 ? cap : 1;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->cfg = px->flags != NULL ? sidecar_config(px->flags, px->nflags,
                                                    e, ERR_MAX)
                                   : config_load(px->cfg->file, e, ERR_MAX);
        if (w->cfg == NULL) {
            fputs(e, stderr);
            free(e);
            goto out;
        }
        free(e);
        w->base = event_base_new();
        if (w->base == NULL) {
            goto out;
        }
        if (k > 0) {
            apply_port_notes(w->cfg);
        }
        if (start(w) < 0) {
            goto out;
        }
        if (k == 0) {
            note_ports(w);
        }
    }
    if (px->cfg->admin_listen != NULL) {
        struct admin_hooks hooks = {m_metrics_cb, m_ready_cb, &M};

        px->admin = admin_new(px->base, px->cfg->admin_listen, &hooks, err,
                              sizeof(err));
        if (px->admin == NULL) {
            fprintf(stderr, "%s:%d: admin_listen: %s\n", px->cfg->file,
                    px->cfg->admin_listen_line, err);
            goto out;
        }
        log_info("event=listen service=admin addr=%s paths=/metrics,"
                 "/healthz,/readyz", admin_addr(px->admin));
    }
    px->sd = sd_new(px->base, m_status_cb, &M);
    px->ev_poll = event_new(px->base, -1, EV_PERSIST, m_poll_cb, &M);
    if (px->sd == NULL || px->ev_poll == NULL) {
        goto out;
    }
    {
        struct timeval tv = {0, 50000};

        event_add(px->ev_poll, &tv);
    }
    for (int i = 0; i < 3; i++) {
        px->ev_sig[i] = evsignal_new(px->base, sigs[i], m_signal_cb, &M);
        if (px->ev_sig[i] == NULL || evsignal_add(px->ev_sig[i], NULL) < 0) {
            goto out;
        }
    }
    if (write_pid_file(px->cfg) < 0 || drop_privileges(px->cfg) < 0) {
        goto out;
    }
    /* Signals are the main thread's: the workers block them. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (; started < M.n; started++) {
        if (pthread_create(&M.w[started]->thread, NULL, worker_main,
                           M.w[started]) != 0) {
            log_error("event=start error=\"cannot start worker threads\"");
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == M.n) {
        log_info("event=workers count=%d", M.n);
        rc = event_base_dispatch(px->base) < 0 ? 1 : 0;
    } else {
        for (int k = 0; k < started; k++) {
            post(M.w[k], CMD_STOP);
        }
    }
    for (int k = 0; k < started; k++) {
        pthread_join(M.w[k]->thread, NULL);
    }
    log_info("event=exit code=%d", rc);
    remove_pid_file(px->cfg);
out:
    for (int k = 0; k < M.n; k++) {
        if (M.w[k] != NULL) {
            stop(M.w[k]);
            pthread_mutex_destroy(&M.w[k]->mu);
            pthread_cond_destroy(&M.w[k]->cv);
            free(M.w[k]);
        }
    }
    free(M.w);
    M.w = NULL;
    M.n = 0;
    free_port_notes();
    return rc;
}

int
main(int argc, char **argv)
{
    static struct option opts[5 + NKEYS + 1] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
    };
    static char optnames[NKEYS][40];
    static char flagnames[NKEYS][44];
    static struct proxy px = {  /* static: holds the 16 KiB scratch */
        .budget = {.cap = UINT_MAX},
        .worker = -1,
    };
    struct config_arg flags[NKEYS];
    int nflags = 0;
    char *err;
    const char *file = NULL;
    bool check = false, sidecar_env = false;
    int c, rc = 1;

    /* Every config key is also a flag: upstream -> --upstream. */
    for (int i = 0; i < NKEYS; i++) {
        const char *k = key_name(i);

        snprintf(optnames[i], sizeof(optnames[i]), "%s", k);
        for (char *p = optnames[i]; *p != '\0'; p++) {
            *p = *p == '_' ? '-' : *p;
        }
        snprintf(flagnames[i], sizeof(flagnames[i]), "--%.39s", optnames[i]);
        opts[4 + i].name = optnames[i];
        opts[4 + i].has_arg = required_argument;
        opts[4 + i].flag = NULL;
        opts[4 + i].val = KEY_OPT_BASE + i;
    }
    while ((c = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 't':
            check = true;
            break;
        case 'V':
            version();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (c >= KEY_OPT_BASE && c < KEY_OPT_BASE + NKEYS) {
                flags[nflags].key = key_name(c - KEY_OPT_BASE);
                flags[nflags].value = optarg;
                flags[nflags].origin = flagnames[c - KEY_OPT_BASE];
                nflags++;
                break;
            }
            usage(stderr);
            return 2;
        }
    }
    if (file == NULL && nflags == 0) {
        /* Containers: the environment alone may describe the service. */
        for (int i = 0; i < NKEYS && !sidecar_env; i++) {
            char name[64];

            if (strcmp(key_name(i), "allow_root") == 0) {
                continue;   /* alone it describes no service */
            }

            snprintf(name, sizeof(name), "REDSLEEVE_%s", key_name(i));
            for (char *p = name + 10; *p != '\0'; p++) {
                *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
            }
            sidecar_env = getenv(name) != NULL;
        }
    }
    if (optind != argc || (file == NULL && nflags == 0 && !sidecar_env) ||
        (file != NULL && nflags > 0)) {
        if (file != NULL && nflags > 0) {
            fprintf(stderr, "redsleeve: use -c FILE or settings flags, "
                    "not both\n");
        }
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    err = malloc(ERR_MAX);
    if (err == NULL) {
        return 1;
    }
    if (file == NULL) {
        px.flags = flags;       /* reload builds the config again from them */
        px.nflags = nflags;
    }
    px.cfg = file != NULL ? config_load(file, err, ERR_MAX)
                          : sidecar_config(flags, nflags, err, ERR_MAX);
    if (px.cfg == NULL) {
        fputs(err, stderr);
        free(err);
        return 1;
    }
    free(err);
    log_set_level(px.cfg->log_level);
    event_set_log_callback(libevent_log_cb);
    if (px.cfg->workers > 1 && !check && evthread_use_pthreads() < 0) {
        fprintf(stderr, "cannot enable libevent's thread support\n");
        goto out;
    }
    px.base = event_base_new();
    if (px.base == NULL) {
        fprintf(stderr, "cannot create the event loop\n");
        goto out;
    }
    if (check) {
        rc = check_config(&px);
        goto out;
    }
    if (px.cfg->log_file != NULL &&
        freopen(px.cfg->log_file, "a", stderr) == NULL) {
        fprintf(stdout, "%s: log_file: cannot open %s: %s\n", px.cfg->file,
                px.cfg->log_file, strerror(errno));
        goto out;
    }
    if (geteuid() == 0 && px.cfg->user == NULL && !px.cfg->allow_root &&
        !env_yes("REDSLEEVE_ALLOW_ROOT")) {
        fprintf(stderr, "%s: refusing to run as root: set [global] user = "
                "(privileges are dropped once the listeners are bound and "
                "the secrets read), or allow_root = yes (or the environment "
                "variable REDSLEEVE_ALLOW_ROOT=yes) to run as root "
                "anyway\n",
                px.cfg->file);
        goto out;
    }
    if (px.cfg->notes != NULL) {
        log_info("event=stunnel-keys notes=\"see --check-config\"");
    }
    if (px.cfg->workers > 1) {
        rc = run_workers(&px);
        goto out;
    }
    raise_fd_limit(&px);
    if (start(&px) < 0) {
        goto out;
    }
    if (write_pid_file(px.cfg) < 0 || drop_privileges(px.cfg) < 0) {
        goto out;
    }
    rc = run_loop(&px, 0) < 0 ? 1 : 0;
    log_info("event=exit code=%d", rc);
    remove_pid_file(px.cfg);
out:
    stop(&px);
    libevent_global_shutdown();
    return rc;
}
