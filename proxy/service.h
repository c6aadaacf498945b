/*
 * service.h: one configured [section] at run time.
 *
 * service.c owns the service's TLS context, encoded AUTH command, link
 * parameters, listener and the host block its sessions use, and applies
 * max_clients.  It is the glue between listener.c and session.c; the
 * event loop, resolver and scratch buffer belong to main.c.
 */
#ifndef REDSLEEVE_SERVICE_H
#define REDSLEEVE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct cluster_node_ref;
struct event_base;
struct evdns_base;
struct link_params;
struct service;
struct shared;
struct svc_figures;

/*
 * Descriptors bound the clients of all services together: each client
 * holds two (its socket and its link).  main.c sets cap from
 * RLIMIT_NOFILE; every listener pauses while live (plus the links still
 * being drained, two for one) >= cap, so a client that was accepted
 * always has a descriptor for its link.
 */
struct client_budget {
    unsigned cap;               /* clients at once, all services */
    unsigned live;              /* clients now, all services */
    unsigned idle_auto;         /* idle links a pool_max_idle = auto
                                   pool may keep (0 = no limit) */
    unsigned draining;          /* links of departed clients the pools
                                   still drain or reset (one descriptor
                                   each: two count as one client) */
    uint64_t accepted;          /* clients since start, all services */
    struct service *services;   /* ref list: every service, to resume */
};

/* What main.c lends every service. */
struct service_env {
    struct event_base *base;    /* ref: the loop */
    struct evdns_base *dns;     /* ref: the resolver, NULL for checks only */
    char *scratch;              /* ref: the loop's read buffer */
    size_t scratch_len;         /* its size */
    uint64_t *next_id;          /* ref: session id counter */
    struct client_budget *budget;   /* ref: every service of the loop */
    struct shared *shared;      /* ref: what every worker shares */
};

/*
 * service_new(sc, env, err, errlen, bad_key): builds the TLS context and
 * AUTH command for sc (loading every CA, certificate and key file).
 * Returns the service (caller owns; service_free) or NULL with the reason
 * in err and the key at fault in *bad_key.
 */
struct service *service_new(const struct service_config *sc,
                            const struct service_env *env, char *err,
                            size_t errlen, enum service_key *bad_key);

/*
 * service_build(cfg, sc, env, out, outlen): service_new() with its error
 * as "FILE:LINE: key: why" in out (the line of the key at fault in cfg's
 * file, or the flag or variable it came from).
 */
struct service *service_build(const struct config *cfg,
                              const struct service_config *sc,
                              const struct service_env *env, char *out,
                              size_t outlen);

/*
 * service_listen(svc, port, err, errlen): binds the listen address (on
 * port instead of the configured one when port > 0) and starts accepting.
 * Returns 0, or -1 with the reason in err.
 */
int service_listen(struct service *svc, int port, char *err, size_t errlen)
    MUST_CHECK;

/* service_listen_addr(svc): the bound address, once listening. */
const char *service_listen_addr(const struct service *svc);

/* service_describe(svc, out, outlen): the --check-config summary line. */
void service_describe(const struct service *svc, char *out, size_t outlen);

/* service_stop_accepting(svc): closes the listener (live sessions go on)
 * and logs the service's counters. */
void service_stop_accepting(struct service *svc);

/* service_clients(svc): live client sessions. */
unsigned service_clients(const struct service *svc);

/* service_first_link_tried(svc): the pool's first link attempt ended. */
bool service_first_link_tried(const struct service *svc);

/*
 * service_figures(svc, out): a copy of svc's counters (stats.h), for the
 * worker's snapshot; out's strings are then out's own.  -1 on ENOMEM
 * (release out with the snapshot, as always).
 */
int service_figures(const struct service *svc, struct svc_figures *out)
    MUST_CHECK;

/*
 * For cluster_nodes.c (mode = cluster), which builds node services above
 * this module:
 * service_link_params(svc): what svc's links are made with (a topology
 * query's link is one of them).
 * service_set_node_map(svc, fn, arg): svc's sessions rewrite node
 * addresses in cluster replies through fn (session_host.node_port).
 * service_cluster_counts(svc, ...): replies its sessions rewrote, of them
 * redirects, and -MOVED replies seen.
 * service_link_failures(svc): links its pool failed to make, so far.
 */
typedef int (*service_node_map_fn)(void *arg,
                                   const struct cluster_node_ref *ref,
                                   const char *self);
const struct link_params *service_link_params(const struct service *svc);
void service_set_node_map(struct service *svc, service_node_map_fn fn,
                          void *arg);
void service_cluster_counts(const struct service *svc, uint64_t *rewrites,
                            uint64_t *redirects, uint64_t *moved);
uint64_t service_link_failures(const struct service *svc);

/* service_shutdown(svc): stops accepting and closes every session. */
void service_shutdown(struct service *svc);

/*
 * Reload.  A new config's section whose settings and files are identical
 * (service_unchanged) keeps its running service, warm links and all.  A
 * changed one gets a new service; the bound socket of the same listen
 * address moves to it (service_take_listener) so no connection attempt is
 * refused, and the old one is retired: it accepts nothing, its idle links
 * are closed, its clients keep their links until they leave.  The worker
 * keeps a reference to the config its section is in, and frees it once
 * it has no clients.
 */
bool service_unchanged(const struct service *svc,
                       const struct service_config *sc);
const struct service_config *service_config(const struct service *svc);
bool service_is_listening(const struct service *svc);
void service_take_listener(struct service *to, struct service *from);
void service_retire(struct service *svc);

/*
 * service_probe(svc, cb, arg): a reload's new or changed service proves
 * itself before it replaces the running one: one real link (resolve,
 * connect, handshake and verification, AUTH, ROLE) made with its own
 * settings, then closed.  cb(arg, verdict, kind, why) is called once from
 * the loop: verdict 0 = the link was ready; -1 = the server answered and
 * rejected it (certificate, TLS, AUTH, role: kind, why says how);
 * 1 = no verdict (unreachable, timeout).  service_free cancels a probe
 * under way without calling cb.  Returns 0, or -1 on ENOMEM.
 */
typedef void (*service_probe_cb)(void *arg, int verdict, int kind,
                                 int tls_kind, const char *why);
int service_probe(struct service *svc, service_probe_cb cb, void *arg)
    MUST_CHECK;

/* service_free(svc): shuts down and frees; NULL is a no-op. */
void service_free(struct service *svc);

#endif
