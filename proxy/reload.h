/*
 * reload.h: the config in force, and SIGHUP: parse once, build and prove
 * the changed services once, then commit in every worker or in none.
 *
 * reload.c runs on the control loop.  It reads the config (the file, or
 * the sidecar flags and variables: secrets are read there, once), decides
 * for each section whether the running service is kept (same settings and
 * files) or replaced, builds each new or changed service once on the
 * control loop and lets it prove itself against its server (service_probe:
 * connected, verified, AUTH +OK, role) while the running config serves.
 * A server that answers and rejects the new settings fails the reload
 * like a config error (an unreachable one proves nothing: warned about,
 * applied).  Then every worker prepares its part (builds its instance,
 * binds new addresses; worker 0 first, whose "port 0" ports the others
 * take); if any worker fails, every worker drops what it prepared and the
 * running config stays everywhere; else every worker commits, which
 * cannot fail.  The start is the first such change, without a probe.
 */
#ifndef REDSLEEVE_RELOAD_H
#define REDSLEEVE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "stats.h"

struct event_base;
struct evdns_base;
struct reload;
struct sd;
struct shared;
struct workers;

/* Where the config comes from, and what the control loop lends. */
struct reload_env {
    struct event_base *base;    /* ref: the control loop (probes) */
    struct evdns_base *dns;     /* ref: its resolver (probes) */
    struct workers *ws;         /* ref: the workers to change */
    struct shared *shared;      /* ref: for the services it builds */
    const char *file;           /* ref: the INI file, or NULL ... */
    const struct config_arg *flags;     /* ref: ... sidecar settings */
    int nflags;
    struct sd *sd;              /* ref: systemd, or NULL until made */
    /* told on the control loop once a new config is in force in every
     * worker (not at the start): for what lives beside the workers, such
     * as the credential fetcher */
    void (*committed_cb)(const struct config *cfg, void *arg);
    void *committed_arg;        /* ref: for committed_cb */
};

/* reload_new(env, err, errlen): NULL with the reason in err. */
struct reload *reload_new(const struct reload_env *env, char *err,
                          size_t errlen);

/* reload_set_sd(r, sd): systemd notifications from now on. */
void reload_set_sd(struct reload *r, struct sd *sd);

/*
 * reload_boot(r, cfg, err, errlen): the start: every section of cfg
 * built and bound in every worker (workers not running yet).  r holds a
 * reference to cfg.  0, or -1 with one "FILE:LINE: key: why" per problem
 * in err and nothing bound.
 */
int reload_boot(struct reload *r, struct config *cfg, char *err,
                size_t errlen) MUST_CHECK;

/*
 * reload_check(base, shared, cfg, out, err): --check-config: builds every
 * service of cfg (certificates, keys, CA files) without binding.  0 with
 * the exposure warnings, the stunnel notes, one description per service
 * and "FILE: configuration OK" on out; or -1 with one "FILE:LINE: key:
 * why" per problem on err.
 */
int reload_check(struct event_base *base, struct shared *shared,
                 const struct config *cfg, FILE *out, FILE *err)
    MUST_CHECK;

/* reload_start(r): SIGHUP (see above).  One at a time: a SIGHUP while
 * one is proving its services runs after it. */
void reload_start(struct reload *r);

/* reload_cancel(r): stopping: a reload under way is dropped (not
 * applied), and none starts again. */
void reload_cancel(struct reload *r);

/* reload_config(r): the config in force (ref: r's). */
const struct config *reload_config(const struct reload *r);

/* reload_figures(r, out): reloads by result, the last one's. */
void reload_figures(const struct reload *r, struct stats_reloads *out);

/* reload_free(r): NULL is a no-op. */
void reload_free(struct reload *r);

#endif
