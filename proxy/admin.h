/*
 * admin.h: the HTTP side door: /metrics (Prometheus text), /healthz,
 * /readyz, served by libevent's evhttp on [global] admin_listen.
 *
 * admin.c owns the HTTP server only; what the pages say comes from its
 * owner through callbacks, so it depends on no other module.
 */
#ifndef REDSLEEVE_ADMIN_H
#define REDSLEEVE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct evbuffer;
struct admin;

struct admin_hooks {
    /* Appends the Prometheus exposition text to out. */
    void (*metrics)(struct evbuffer *out, void *arg);
    /* True when ready; else a short reason in why. */
    bool (*ready)(char *why, size_t whylen, void *arg);
    void *arg;                          /* ref: for both */
};

/*
 * admin_new(base, listen, hooks, err, errlen): serves on listen
 * ("host:port").  Returns the server (caller owns; admin_free), or NULL
 * with the reason in err.
 */
struct admin *admin_new(struct event_base *base, const char *listen_addr,
                        const struct admin_hooks *hooks, char *err,
                        size_t errlen);

/* admin_free(a): stops serving; NULL is a no-op. */
void admin_free(struct admin *a);

/* admin_addr(a): the bound address, "127.0.0.1:9121". */
const char *admin_addr(const struct admin *a);

#endif
