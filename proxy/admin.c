/*
 * admin.c: /metrics, /healthz and /readyz over evhttp.
 *
 * GET and HEAD only; anything else is 405, unknown paths 404.  The socket
 * is bound here (so a port of 0 works for tests) and handed to evhttp.
 * What a peer may make us hold is bounded: headers and body by evhttp's
 * limits, connections by ADMIN_MAX_CONNS (libevent 2.1 has no cap of its
 * own: each connection's bufferevent is made here, through evhttp's bevcb,
 * and counted out once evhttp lets go of it; at the cap the listener
 * pauses and further clients wait in the kernel's backlog).
 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define ADMIN_BACKOFF_MS 100    /* pause after EMFILE before accepting */
#define ADMIN_MAX_CONNS 8       /* connections served at once */
#define ADMIN_MAX_HEADERS 8192  /* bytes of request line + headers */
#define ADMIN_MAX_BODY 1024     /* bytes of request body (GET has none) */
#define ADMIN_TIMEOUT_S 10      /* an idle or slow connection is closed */
#define ADMIN_SWEEP_MS 100      /* how soon a closed connection is counted */

/* One connection's bufferevent, which evhttp owns and we keep a reference
 * to, to learn when it is gone. */
struct admin_conn {
    struct bufferevent *bev;        /* ref: one reference of ours */
    struct admin_conn *next;        /* owned: next connection */
};

struct admin {
    struct evhttp *http;            /* owned */
    struct evconnlistener *evl;     /* ref: evhttp's listener */
    struct event *ev_backoff;       /* owned: resumes accepting */
    struct admin_hooks hooks;       /* what the pages say */
    struct event *ev_sweep;         /* owned: counts closed connections */
    struct admin_conn *conns;       /* owned list: connections' bufferevents */
    int nconns;                     /* entries in conns */
    bool paused_full;               /* listener paused at the cap */
    char addr[80];                  /* bound address */
};

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
           struct evbuffer *body, const char *type)
{
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", type);
    evhttp_send_reply(req, code, reason, body);
}

/* The one admin endpoint: evhttp hands its own pointer to the listener's
 * error callback, so the callback finds the admin here. */
static struct admin *the_admin;

static void
admin_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;

    (void)fd;
    (void)what;
    evconnlistener_enable(a->evl);
}

/* Out of descriptors: pause accepting for a moment instead of letting the
 * level-triggered listener spin. */
static void
admin_accept_error(struct evconnlistener *evl, void *arg)
{
    struct admin *a = the_admin;
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, ADMIN_BACKOFF_MS * 1000};

    (void)arg;
    if (a == NULL || a->evl != evl) {
        return;
    }
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        log_debug("event=accept-paused listen=%s reason=\"%s\"", a->addr,
                  strerror(e));
        evconnlistener_disable(evl);
        evtimer_add(a->ev_backoff, &tv);
    }
}

/* Resumes accepting once under the cap again. */
static void
admin_unpause(struct admin *a)
{
    if (a->paused_full && a->nconns < ADMIN_MAX_CONNS) {
        a->paused_full = false;
        evconnlistener_enable(a->evl);
    }
}

/*
 * Lets go of the bufferevents evhttp has freed (it clears their callbacks
 * first; our extra reference kept them, and their sockets, alive), which
 * closes their sockets, and counts them out.  evhttp has already shut the
 * sockets down for writing, so a client sees the end of its reply at once.
 */
static void
admin_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    struct admin_conn **pp = &a->conns;

    (void)fd;
    (void)what;
    while (*pp != NULL) {
        struct admin_conn *c = *pp;
        bufferevent_event_cb ecb = NULL;

        bufferevent_getcb(c->bev, NULL, NULL, &ecb, NULL);
        if (ecb != NULL) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        bufferevent_decref(c->bev);
        free(c);
        a->nconns--;
    }
    if (a->nconns == 0) {
        evtimer_del(a->ev_sweep);
    }
    admin_unpause(a);
}

/*
 * bev_cb(base, arg): evhttp asks for the bufferevent of each connection it
 * accepts (it sets the fd afterwards).  We keep a reference to it so that
 * admin_sweep_cb learns when evhttp is done with it: libevent 2.1 has no
 * connection cap and no hook when a server connection goes.  Its input is
 * bounded by a read watermark, since it may be read a while after evhttp
 * let go.  NULL (evhttp then makes one, uncounted) only when out of
 * memory.
 */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct admin *a = arg;
    struct admin_conn *c = calloc(1, sizeof(*c));
    struct timeval tv = {0, ADMIN_SWEEP_MS * 1000};

    if (c == NULL) {
        return NULL;
    }
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        free(c);
        return NULL;
    }
    bufferevent_setwatermark(c->bev, EV_READ, 0,
                             ADMIN_MAX_HEADERS + ADMIN_MAX_BODY);
    bufferevent_incref(c->bev);     /* ours: dropped by admin_sweep_cb */
    c->next = a->conns;
    a->conns = c;
    if (a->nconns++ == 0) {
        evtimer_add(a->ev_sweep, &tv);
    }
    if (a->nconns >= ADMIN_MAX_CONNS && !a->paused_full) {
        a->paused_full = true;
        evconnlistener_disable(a->evl);
    }
    return c->bev;
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    const char *path = evhttp_request_get_uri(req);
    struct evbuffer *body = evbuffer_new();
    char why[256];

    if (body == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
        evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evbuffer_add_printf(body, "only GET and HEAD\n");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed", body, "text/plain");
    } else if (strcmp(path, "/metrics") == 0) {
        a->hooks.metrics(body, a->hooks.arg);
        reply_text(req, 200, "OK", body,
                   "text/plain; version=0.0.4; charset=utf-8");
    } else if (strcmp(path, "/healthz") == 0) {
        evbuffer_add_printf(body, "ok\n");
        reply_text(req, 200, "OK", body, "text/plain");
    } else if (strcmp(path, "/readyz") == 0) {
        why[0] = '\0';
        if (a->hooks.ready(why, sizeof(why), a->hooks.arg)) {
            evbuffer_add_printf(body, "ready\n");
            reply_text(req, 200, "OK", body, "text/plain");
        } else {
            evbuffer_add_printf(body, "not ready: %s\n", why);
            reply_text(req, 503, "Service Unavailable", body, "text/plain");
        }
    } else {
        evbuffer_add_printf(body, "not found; try /metrics, /healthz, "
                            "/readyz\n");
        reply_text(req, 404, "Not Found", body, "text/plain");
    }
    evbuffer_free(body);
}

struct admin *
admin_new(struct event_base *base, const char *listen_addr,
          const struct admin_hooks *hooks, char *err, size_t errlen)
{
    struct admin *a = calloc(1, sizeof(*a));
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    char host[64];
    int port, fd = -1, one = 1;
    struct evhttp_bound_socket *bound = NULL;

    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->hooks = *hooks;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    if (config_split_hostport(listen_addr, host, sizeof(host), &port) < 0 ||
        inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sin.sin_addr)
        != 1) {
        snprintf(err, errlen, "\"%s\" is not IPv4-address:port",
                 listen_addr);
        goto fail;
    }
    sin.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &slen) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen_addr,
                 strerror(errno));
        goto fail;
    }
    evutil_inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
    snprintf(a->addr, sizeof(a->addr), "%s:%d", host, ntohs(sin.sin_port));
    a->http = evhttp_new(base);
    a->ev_backoff = evtimer_new(base, admin_backoff_cb, a);
    a->ev_sweep = event_new(base, -1, EV_PERSIST, admin_sweep_cb, a);
    if (a->http == NULL || a->ev_backoff == NULL || a->ev_sweep == NULL ||
        (bound = evhttp_accept_socket_with_handle(a->http, fd)) == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server");
        goto fail;
    }
    a->evl = evhttp_bound_socket_get_listener(bound);
    evconnlistener_set_error_cb(a->evl, admin_accept_error);
    the_admin = a;
    /* evhttp answers a method it is not allowed with 501; these it reads
     * (the body bounded by ADMIN_MAX_BODY, else 413) so request_cb can
     * answer 405 with Allow: GET, HEAD. */
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                               EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                               EVHTTP_REQ_OPTIONS);
    evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
    evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
    evhttp_set_bevcb(a->http, bev_cb, a);
    evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
    evhttp_set_gencb(a->http, request_cb, a);
    return a;
fail:
    if (a->ev_backoff != NULL) {
        event_free(a->ev_backoff);
    }
    if (a->ev_sweep != NULL) {
        event_free(a->ev_sweep);
    }
    if (a->http != NULL && bound != NULL) {
        evhttp_free(a->http);
    } else {
        if (a->http != NULL) {
            evhttp_free(a->http);
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    free(a);
    return NULL;
}

void
admin_free(struct admin *a)
{
    if (a == NULL) {
        return;
    }
    evhttp_free(a->http);   /* closes the bound socket too */
    event_free(a->ev_backoff);
    event_free(a->ev_sweep);
    while (a->conns != NULL) {
        struct admin_conn *c = a->conns;

        a->conns = c->next;
        bufferevent_decref(c->bev);
        free(c);
    }
    if (the_admin == a) {
        the_admin = NULL;
    }
    free(a);
}

const char *
admin_addr(const struct admin *a)
{
    return a->addr;
}
