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

struct event_base;
struct evdns_base;
struct service;

/*
 * Descriptors bound the clients of all services together: each client
 * holds two (its socket and its link).  main.c sets cap from
 * RLIMIT_NOFILE; every listener pauses while live >= cap, so a client
 * that was accepted always has a descriptor for its link.
 */
struct client_budget {
    unsigned cap;               /* clients at once, all services */
    unsigned live;              /* clients now, all services */
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
    struct client_budget *budget;   /* ref: shared by every service */
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
 * service_listen(svc, err, errlen): binds the listen address and starts
 * accepting.  Returns 0, or -1 with the reason in err.
 */
int service_listen(struct service *svc, char *err, size_t errlen) MUST_CHECK;

/* service_listen_addr(svc): the bound address, once listening. */
const char *service_listen_addr(const struct service *svc);

/* service_describe(svc, out, outlen): the --check-config summary line. */
void service_describe(const struct service *svc, char *out, size_t outlen);

/* service_stop_accepting(svc): closes the listener (live sessions go on)
 * and logs the service's counters. */
void service_stop_accepting(struct service *svc);

/* service_clients(svc): live client sessions. */
unsigned service_clients(const struct service *svc);

/* service_links_idle(svc): warm links ready now. */
unsigned service_links_idle(const struct service *svc);

/* service_first_link_tried(svc): the pool's first link attempt ended. */
bool service_first_link_tried(const struct service *svc);

/*
 * service_metrics(svcs, n, out): the Prometheus text of every service's
 * counters (one HELP/TYPE block per metric, a sample per service).
 */
struct evbuffer;
void service_metrics(struct service *const *svcs, int n,
                     struct evbuffer *out);

/* service_upstream_up(svc): the last upstream link attempt succeeded. */
bool service_upstream_up(const struct service *svc);

/* service_shutdown(svc): stops accepting and closes every session. */
void service_shutdown(struct service *svc);

/*
 * Reload.  A new config's section whose settings and files are identical
 * (service_unchanged) keeps its running service, warm links and all.  A
 * changed one gets a new service; the bound socket of the same listen
 * address moves to it (service_take_listener) so no connection attempt is
 * refused, and the old one is retired: it accepts nothing, its idle links
 * are closed, its clients keep their links until they leave, and it owns
 * its config section from then on.  main.c frees it once it has no
 * clients.
 */
bool service_unchanged(const struct service *svc,
                       const struct service_config *sc);
const struct service_config *service_config(const struct service *svc);
bool service_is_listening(const struct service *svc);
void service_take_listener(struct service *to, struct service *from);
void service_retire(struct service *svc, struct service_config *sc);

/* service_free(svc): shuts down and frees; NULL is a no-op. */
void service_free(struct service *svc);

#endif
