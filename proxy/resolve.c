/*
 * resolve.c: name to addresses without blocking (see resolve.h).
 *
 * Owns the evdns requests and the addrinfo lists until the callback takes
 * them.  It never calls the blocking resolver: an IP literal is converted
 * with EVUTIL_AI_NUMERICHOST, a name goes to evdns.  It does not log:
 * what a failure means is its owner's business.
 */
#include "resolve.h"

#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ one lookup */

void
resolve_init(struct resolve_req *r, resolve_cb cb, void *arg)
{
    memset(r, 0, sizeof(*r));
    r->cb = cb;
    r->arg = arg;
}

static void
resolve_done_cb(int err, struct evutil_addrinfo *res, void *arg)
{
    struct resolve_req *r;

    if (err == EVUTIL_EAI_CANCEL) {
        return;     /* resolve_cancel: the owner (and r) is going away */
    }
    r = arg;
    r->req = NULL;
    r->pending = false;
    r->cb(err, res, r->arg);    /* may free r */
}

void
resolve_start(struct resolve_req *r, struct evdns_base *dns,
              const char *host, int port, bool numeric)
{
    struct evutil_addrinfo hints;
    struct evutil_addrinfo *res = NULL;
    struct evdns_getaddrinfo_request *req;
    char service[8];
    int err;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(service, sizeof(service), "%d", port);
    if (numeric) {
        hints.ai_flags = EVUTIL_AI_NUMERICHOST;
        /* A numeric host never blocks: no resolver is involved. */
        err = evutil_getaddrinfo(host, service, &hints, &res);
        r->cb(err, err == 0 ? res : NULL, r->arg);  /* may free r */
        return;
    }
    r->pending = true;
    req = evdns_getaddrinfo(dns, host, service, &hints, resolve_done_cb, r);
    /* NULL means the callback already ran (answer from the hosts file or
     * an immediate failure): r->req must not point at a finished request. */
    if (req != NULL && r->pending) {
        r->req = req;
    }
}

void
resolve_cancel(struct resolve_req *r)
{
    if (r->req != NULL) {
        evdns_getaddrinfo_cancel(r->req);   /* the callback ignores it */
        r->req = NULL;
    }
    r->pending = false;
}

bool
resolve_is_busy(const struct resolve_req *r)
{
    return r->req != NULL;
}

const char *
resolve_strerror(int err)
{
    return evutil_gai_strerror(err);
}

void
resolve_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    int port;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
        snprintf(out, outlen, "[%s]:%d", host, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
        snprintf(out, outlen, "%s:%d", host, port);
    }
}

/* ------------------------------------------------------------ a set */

static int
cmp_addr(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Keeps now[0..n) (sorted) when it differs from what s has; true if so. */
static bool
set_update(struct resolve_set *s, char now[][RESOLVE_ADDR_MAX], int n)
{
    bool changed = !s->known || n != s->naddrs;

    for (int i = 0; i < n && !changed; i++) {
        changed = strcmp(now[i], s->addrs[i]) != 0;
    }
    if (!changed) {
        return false;
    }
    for (int i = 0; i < n; i++) {
        memcpy(s->addrs[i], now[i], sizeof(s->addrs[i]));
    }
    s->naddrs = n;
    s->known = true;
    return true;
}

static void
set_answer_cb(int err, struct evutil_addrinfo *res, void *arg)
{
    struct resolve_set *s = arg;
    char now[RESOLVE_ADDRS][RESOLVE_ADDR_MAX];
    char list[RESOLVE_ADDRS * (RESOLVE_ADDR_MAX + 2)] = "";
    int n = 0;
    bool was_known = s->known;

    if (err != 0) {
        s->cb(err, NULL, was_known, s->arg);
        return;
    }
    for (struct evutil_addrinfo *ai = res; ai != NULL && n < RESOLVE_ADDRS;
         ai = ai->ai_next) {
        resolve_format_addr(ai->ai_addr, now[n], sizeof(now[n]));
        n++;
    }
    evutil_freeaddrinfo(res);
    qsort(now, (size_t)n, sizeof(now[0]), cmp_addr);   /* order is noise */
    if (!set_update(s, now, n)) {
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);

        snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "",
                 now[i]);
    }
    s->cb(0, list, was_known, s->arg);
}

void
resolve_set_init(struct resolve_set *s, resolve_set_cb cb, void *arg)
{
    memset(s, 0, sizeof(*s));
    resolve_init(&s->req, set_answer_cb, s);
    s->cb = cb;
    s->arg = arg;
}

void
resolve_set_deinit(struct resolve_set *s)
{
    resolve_cancel(&s->req);
}

void
resolve_set_refresh(struct resolve_set *s, struct evdns_base *dns,
                    const char *host, int port, double next)
{
    if (resolve_is_busy(&s->req)) {
        return;
    }
    s->next = next;
    resolve_start(&s->req, dns, host, port, false);
}

bool
resolve_set_due(const struct resolve_set *s, double now)
{
    return now >= s->next;
}

void
resolve_set_forget(struct resolve_set *s)
{
    s->known = false;
}

bool
resolve_set_has(const struct resolve_set *s, const char *addr)
{
    if (!s->known) {
        return true;
    }
    for (int i = 0; i < s->naddrs; i++) {
        if (strcmp(s->addrs[i], addr) == 0) {
            return true;
        }
    }
    return false;
}
