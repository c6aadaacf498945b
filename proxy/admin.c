/*
 * admin.c: /metrics, /healthz and /readyz over evhttp.
 *
 * Plain GET only; anything else is 405, unknown paths 404.  The socket is
 * bound here (so a port of 0 works for tests) and handed to evhttp.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
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

struct admin {
    struct evhttp *http;            /* owned */
    struct evconnlistener *evl;     /* ref: evhttp's listener */
    struct event *ev_backoff;       /* owned: resumes accepting */
    struct admin_hooks hooks;       /* what the pages say */
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
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evbuffer_add_printf(body, "only GET\n");
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
    if (a->http == NULL || a->ev_backoff == NULL ||
        (bound = evhttp_accept_socket_with_handle(a->http, fd)) == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server");
        goto fail;
    }
    a->evl = evhttp_bound_socket_get_listener(bound);
    evconnlistener_set_error_cb(a->evl, admin_accept_error);
    the_admin = a;
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                               EVHTTP_REQ_DELETE);
    evhttp_set_timeout(a->http, 10);
    evhttp_set_gencb(a->http, request_cb, a);
    return a;
fail:
    if (a->ev_backoff != NULL) {
        event_free(a->ev_backoff);
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
