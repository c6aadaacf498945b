/*
 * listener.h: one listening socket (TCP or unix) per service.
 *
 * listener.c owns the socket and its evconnlistener, pauses accepting on
 * request (max_clients) and by itself when the process runs out of
 * descriptors (EMFILE/ENFILE), resuming after a short back-off instead of
 * spinning.  Accepted sockets are non-blocking and close-on-exec.
 */
#ifndef REDSLEEVE_LISTENER_H
#define REDSLEEVE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

struct event_base;
struct listener;

/* Takes ownership of fd. */
typedef void (*listener_accept_cb)(int fd, const struct sockaddr *addr,
                                   int addrlen, void *arg);

/*
 * listener_new(base, sc, port, cb, arg, err, errlen): binds sc->listen
 * (on port instead of sc's when port > 0: the workers after the first
 * take the port a "port 0" listen was given) and starts accepting.  Returns the listener (caller owns; listener_free), or NULL
 * with the reason in err.
 */
struct listener *listener_new(struct event_base *base,
                              const struct service_config *sc, int port,
                              listener_accept_cb cb, void *arg, char *err,
                              size_t errlen);

/* listener_set_reuseport(on): TCP listeners bound from now on set
 * SO_REUSEPORT (workers > 1: one socket per worker, the kernel spreads
 * connections).  Process-wide; set before any listener is made. */
void listener_set_reuseport(bool on);

/*
 * listener_probe(sc, err, errlen): binds sc->listen once without
 * SO_REUSEPORT and lets go: fails (like a plain bind) when another process
 * holds the address, which SO_REUSEPORT would otherwise let us share
 * silently.  0, or -1 with the reason in err.
 */
int listener_probe(const struct service_config *sc, char *err,
                   size_t errlen) MUST_CHECK;

/* listener_free(l): stops, closes, unlinks a unix socket; NULL is a no-op. */
void listener_free(struct listener *l);

/* listener_set_paused(l, paused): stop or resume accepting (max_clients). */
void listener_set_paused(struct listener *l, bool paused);

/* listener_set_owner(l, cb, arg): accepted sockets go to cb from now on
 * (reload hands a bound socket to the service that replaces its owner). */
void listener_set_owner(struct listener *l, listener_accept_cb cb,
                        void *arg);

/* listener_addr(l): the bound address, "127.0.0.1:6379" or "unix:/path". */
const char *listener_addr(const struct listener *l);

#endif
