/*
 * upstream.c: a link's life from name to ready, and its raw I/O after.
 *
 *   starting -> resolving -> connecting -> handshaking -> authenticating
 *            -> ready (owned by a session)        any step -> failed
 *
 * Every step is bounded: resolve + connect by connect_timeout, handshake +
 * AUTH by handshake_timeout.  Failures are reported through the ready
 * callback from the event loop, never from inside a call the owner made,
 * so the owner may free the link from its callback and nothing re-enters.
 * Name resolution uses evdns (never the blocking resolver); IP literals
 * skip it.  No byte leaves without TLS: the socket is only ever written
 * through SSL.
 */
#include "upstream.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resp.h"
#include "tls.h"

#define AUTH_BUF_MAX 4096       /* longest AUTH + ROLE replies we read */
#define LINK_IOERR_MAX 128      /* an I/O error text once ready */
#define ROLE_CMD "*1\r\n$4\r\nROLE\r\n"

enum link_state {
    LINK_STARTING = 0,
    LINK_RESOLVING,
    LINK_CONNECTING,
    LINK_HANDSHAKING,
    LINK_AUTHENTICATING,
    LINK_READY,
    LINK_FAILED
};

/*
 * What a link needs only until it is ready (about 5 KiB): verification
 * details, the AUTH/ROLE replies and the failure text.  Freed when the
 * link becomes ready, so an idle or busy link carries none of it.
 */
struct link_init {
    struct tls_verify_info vinfo;       /* filled by tls.c's callback */
    struct resp_scanner rs;             /* frames the AUTH/ROLE replies */
    size_t auth_sent;                   /* AUTH bytes written so far */
    size_t role_sent;                   /* ROLE bytes written so far */
    bool auth_pending;                  /* the AUTH reply is still due */
    bool role_pending;                  /* the ROLE reply is still due */
    size_t len;                         /* reply bytes in buf */
    size_t scanned;                     /* of them, fed to rs */
    size_t frame_start;                 /* where the current reply starts */
    char error[TLS_REASON_MAX];         /* why it failed, "" if it did not */
    char buf[AUTH_BUF_MAX];             /* reply bytes */
};

struct link {
    enum link_state state;              /* see the diagram above */
    int fd;                             /* owned: the TCP socket, -1 = none */
    SSL *ssl;                           /* owned: NULL until connected */
    struct event ev_read;               /* owned: readable, persistent */
    struct event ev_write;              /* owned: writable, persistent */
    struct event ev_timer;              /* owned: start, timeouts, reports */
    bool reading;                       /* ev_read is added */
    bool writing;                       /* ev_write is added */
    bool shut_sent;                     /* close_notify sent */
    bool resumed;                       /* the handshake resumed a session */
    bool held;                          /* TLS buffers may be allocated */
    struct timeval born;                /* when link_new made it */
    double t_connect;                   /* monotonic: first connect() */
    double t_handshake;                 /* monotonic: handshake began */
    const struct link_params *p;        /* ref: owner is the service */
    link_ready_cb ready_cb;             /* who to tell when ready/failed */
    link_io_cb io_cb;                   /* readiness, once ready */
    void *arg;                          /* ref: the owner (a session) */
    struct evdns_getaddrinfo_request *dns_req;  /* ref: libevent's */
    struct evutil_addrinfo *addrs;      /* owned: resolved addresses */
    struct evutil_addrinfo *next_addr;  /* ref: into addrs, next to try */
    struct link_init *init;             /* owned: until ready, then NULL */
    char peer[INET6_ADDRSTRLEN + 8];    /* address:port connected to */
    char ioerr[LINK_IOERR_MAX];         /* why I/O failed once ready */
};

const double link_hist_bounds[LINK_HIST_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    5,
};

static void link_event_cb(evutil_socket_t fd, short what, void *arg);
static void link_timer_cb(evutil_socket_t fd, short what, void *arg);
static void try_connect(struct link *l);

/* Adds one observation (seconds since start) to h. */
static void
observe(struct link_hist *h, double start)
{
    double v = mono_now() - start;
    int i = 0;

    while (i < LINK_HIST_BUCKETS && v > link_hist_bounds[i]) {
        i++;
    }
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

static void
count_tls_failure(struct link *l, enum tls_fail k)
{
    if (l->p->stats != NULL) {
        l->p->stats->tls_failures[k]++;
    }
}

static void
set_timer(struct link *l, double seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    evtimer_add(&l->ev_timer, &tv);
}

void
link_watch(struct link *l, bool rd, bool wr)
{
    if (rd != l->reading) {
        if (rd) {
            event_add(&l->ev_read, NULL);
        } else {
            event_del(&l->ev_read);
        }
        l->reading = rd;
    }
    if (wr != l->writing) {
        if (wr) {
            event_add(&l->ev_write, NULL);
        } else {
            event_del(&l->ev_write);
        }
        l->writing = wr;
    }
}

/*
 * fail(l, fmt, ...): records why the link failed, stops its I/O and
 * reports to the owner from the next loop turn.
 */
static void PRINTF_LIKE(2, 3)
fail(struct link *l, const char *fmt, ...)
{
    va_list ap;
    static const struct timeval now = {0, 0};
    char msg[TLS_REASON_MAX];
    size_t n;

    /* Format aside: the arguments may point into l->error itself. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n = strlen(msg);
    if (l->init != NULL && l->init->vinfo.cert_requested &&
        n < sizeof(msg)) {
        snprintf(msg + n, sizeof(msg) - n, " (the server asked for a client "
                 "certificate and none is configured: set cert_file and "
                 "key_file)");
    }
    if (l->init != NULL) {
        memcpy(l->init->error, msg, sizeof(l->init->error));
    } else {
        snprintf(l->ioerr, sizeof(l->ioerr), "%s", msg);
    }
    l->state = LINK_FAILED;
    link_watch(l, false, false);
    evtimer_del(&l->ev_timer);
    evtimer_add(&l->ev_timer, &now);
}

static void
close_socket(struct link *l)
{
    link_watch(l, false, false);
    if (l->ssl != NULL) {
        SSL_free(l->ssl);
        l->ssl = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

static void
dns_cb(int err, struct evutil_addrinfo *res, void *arg)
{
    struct link *l;

    if (err == EVUTIL_EAI_CANCEL) {
        return;     /* link_free() cancelled us: l is going away */
    }
    l = arg;
    l->dns_req = NULL;
    if (err != 0) {
        fail(l, "dns: cannot resolve %s: %s", l->p->sc->upstream_host,
             evutil_gai_strerror(err));
        return;
    }
    l->addrs = res;
    l->next_addr = res;
    try_connect(l);
}

static void
start_resolve(struct link *l)
{
    const struct service_config *sc = l->p->sc;
    struct evutil_addrinfo hints;
    char port[8];
    struct evdns_getaddrinfo_request *req;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%d", sc->upstream_port);
    l->state = LINK_RESOLVING;
    set_timer(l, sc->connect_timeout);
    if (sc->upstream_is_ip) {
        int r;

        hints.ai_flags = EVUTIL_AI_NUMERICHOST;
        /* A numeric host never blocks: no resolver is involved. */
        r = evutil_getaddrinfo(sc->upstream_host, port, &hints, &l->addrs);
        if (r != 0) {
            fail(l, "bad address %s: %s", sc->upstream_host,
                 evutil_gai_strerror(r));
            return;
        }
        l->next_addr = l->addrs;
        try_connect(l);
        return;
    }
    req = evdns_getaddrinfo(l->p->dns, sc->upstream_host, port, &hints,
                            dns_cb, l);
    /* NULL means dns_cb already ran (answer from the hosts file or an
     * immediate failure); l->dns_req must not point at a finished request. */
    if (req != NULL && l->state == LINK_RESOLVING && l->addrs == NULL) {
        l->dns_req = req;
    }
}

void
link_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
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

/* Tries addresses in order until one connect() is under way. */
static void
try_connect(struct link *l)
{
    int one = 1;
    int saved = 0;

    if (l->t_connect == 0) {
        l->t_connect = mono_now();
    }
    while (l->next_addr != NULL) {
        struct evutil_addrinfo *ai = l->next_addr;

        l->next_addr = ai->ai_next;
        link_format_addr(ai->ai_addr, l->peer, sizeof(l->peer));
        l->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
                       SOCK_CLOEXEC, 0);
        if (l->fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* Pooled links sit idle: let the kernel notice a dead peer too. */
        setsockopt(l->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        if (connect(l->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            errno == EINPROGRESS) {
            event_assign(&l->ev_read, l->p->base, l->fd,
                         EV_READ | EV_PERSIST, link_event_cb, l);
            event_assign(&l->ev_write, l->p->base, l->fd,
                         EV_WRITE | EV_PERSIST, link_event_cb, l);
            l->state = LINK_CONNECTING;
            link_watch(l, false, true);
            return;
        }
        saved = errno;
        close(l->fd);
        l->fd = -1;
    }
    fail(l, "connect to %s: %s", l->peer, strerror(saved));
}

static void
start_handshake(struct link *l)
{
    const struct service_config *sc = l->p->sc;

    l->ssl = tls_ssl_new(l->p->ctx, sc, &l->init->vinfo);
    if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1) {
        fail(l, "tls: cannot create connection (out of memory)");
        return;
    }
    l->state = LINK_HANDSHAKING;
    l->t_handshake = mono_now();
    evtimer_del(&l->ev_timer);
    set_timer(l, sc->handshake_timeout);
}

static void
become_ready(struct link *l)
{
    l->state = LINK_READY;
    l->held = true;
    link_release_buffers(l);    /* the handshake's: the link may idle */
    evtimer_del(&l->ev_timer);
    link_watch(l, false, false);
    /* Verification is over (no renegotiation): forget its details. */
    tls_ssl_forget_info(l->ssl);
    free(l->init);
    l->init = NULL;
    l->ready_cb(l, NULL, l->arg);   /* may free l */
}

/*
 * role_of(buf, len, role, rolelen): the role named by a complete ROLE
 * reply ("*3\r\n$6\r\nmaster\r\n..."), or -1 when it is not one.
 */
static int
role_of(const char *buf, size_t len, char *role, size_t rolelen)
{
    const char *p = memchr(buf, '\n', len);
    long n;
    char *end;

    if (len < 4 || buf[0] != '*' || p == NULL ||
        (size_t)(p + 1 - buf) >= len || p[1] != '$') {
        return -1;
    }
    n = strtol(p + 2, &end, 10);
    if (n <= 0 || (size_t)n >= rolelen || end[0] != '\r' ||
        end + 2 + n > buf + len) {
        return -1;
    }
    memcpy(role, end + 2, (size_t)n);
    role[n] = '\0';
    return 0;
}

/* Judges the ROLE reply in buf[0..len).  0 when the role is the one the
 * service wants, else -1 after fail(). */
static int
check_role(struct link *l, const char *buf, size_t len)
{
    enum upstream_role want = l->p->sc->role;
    char role[16], line[200];

    if (buf[0] == '-') {
        log_escape(buf + 1, len > 3 ? len - 3 : 0, line, sizeof(line));
        fail(l, "role: ROLE failed on %s: %s (set role = any if this "
             "server does not allow ROLE)", l->peer, line);
        return -1;
    }
    if (role_of(buf, len, role, sizeof(role)) < 0) {
        fail(l, "role: unexpected ROLE reply from %s", l->peer);
        return -1;
    }
    if (want == ROLE_PRIMARY && strcmp(role, "master") != 0) {
        fail(l, "role: %s is not a primary (ROLE says %s); this service "
             "wants role = primary", l->peer, role);
        return -1;
    }
    if (want == ROLE_REPLICA && strcmp(role, "slave") != 0) {
        fail(l, "role: %s is not a replica (ROLE says %s); this service "
             "wants role = replica", l->peer, role);
        return -1;
    }
    return 0;
}

/* Writes what is left of cmd[0..len) from *sent.  1 = done, 0 = waiting,
 * -1 = failed (after fail()). */
static int
write_init(struct link *l, const char *what, const char *cmd, size_t len,
           size_t *sent)
{
    enum link_io st;

    while (*sent < len) {
        size_t n = link_write(l, cmd + *sent, len - *sent, &st);

        if (n == 0) {
            if (st == LINK_IO_WANT_READ || st == LINK_IO_WANT_WRITE) {
                link_watch(l, st == LINK_IO_WANT_READ,
                           st == LINK_IO_WANT_WRITE);
                return 0;
            }
            fail(l, "%s: %s", what, link_error(l));
            return -1;
        }
        *sent += n;
    }
    return 1;
}

/*
 * step_init(l): writes AUTH and/or ROLE (pipelined), then reads exactly
 * their replies: AUTH must answer "+OK", ROLE must name the role the
 * service wants.  Returns after any wait.
 */
static void
step_init(struct link *l)
{
    const struct auth_cmd *ac = l->p->auth;
    struct link_init *in = l->init;
    enum link_io st;
    char line[200];
    int r;

    if ((r = write_init(l, "AUTH", ac->buf, ac->len, &in->auth_sent)) <= 0) {
        return;
    }
    if (in->role_pending &&
        (r = write_init(l, "ROLE", ROLE_CMD, strlen(ROLE_CMD),
                        &in->role_sent)) <= 0) {
        return;
    }
    for (;;) {
        size_t n = link_read(l, in->buf + in->len,
                             AUTH_BUF_MAX - in->len, &st);

        if (n == 0) {
            if (st == LINK_IO_WANT_READ || st == LINK_IO_WANT_WRITE) {
                link_watch(l, st == LINK_IO_WANT_READ,
                           st == LINK_IO_WANT_WRITE);
                return;
            }
            fail(l, "%s: %s", in->auth_pending ? "AUTH" : "role",
                 st == LINK_IO_EOF ? "server closed the connection"
                                   : link_error(l));
            return;
        }
        in->len += n;
        while (in->scanned < in->len) {
            struct resp_frame f;
            size_t used, flen;
            const char *frame = in->buf + in->frame_start;
            enum resp_status rs;

            if (!in->auth_pending && !in->role_pending) {
                fail(l, "%s", "AUTH rejected: unexpected bytes after the "
                     "replies");
                return;
            }
            rs = resp_scan(&in->rs, in->buf + in->scanned,
                           in->len - in->scanned, &used, &f);
            in->scanned += used;
            if (rs == RESP_ERROR) {
                fail(l, "%s: malformed reply from %s",
                     in->auth_pending ? "AUTH" : "role", l->peer);
                return;
            }
            if (rs == RESP_NEED_MORE) {
                break;
            }
            flen = in->scanned - in->frame_start;
            in->frame_start = in->scanned;
            if (in->auth_pending) {
                in->auth_pending = false;
                if (auth_reply_check(frame, flen, line, sizeof(line)) !=
                    AUTH_REPLY_OK) {
                    fail(l, "AUTH rejected: %s", line);
                    return;
                }
            } else {
                in->role_pending = false;
                if (check_role(l, frame, flen) < 0) {
                    return;
                }
            }
        }
        if (!in->auth_pending && !in->role_pending) {
            become_ready(l);
            return;
        }
        if (in->len == AUTH_BUF_MAX) {
            fail(l, "%s: reply too long", in->auth_pending ? "AUTH rejected"
                                                          : "role");
            return;
        }
    }
}

static void
step_handshake(struct link *l)
{
    int r;

    ERR_clear_error();
    r = SSL_do_handshake(l->ssl);
    if (r == 1) {
        if (l->p->stats != NULL) {
            observe(&l->p->stats->handshake, l->t_handshake);
        }
        l->resumed = tls_note_handshake(l->ssl);
        l->init->auth_pending = l->p->auth->len > 0;
        l->init->role_pending = l->p->sc->role != ROLE_ANY;
        if (!l->init->auth_pending && !l->init->role_pending) {
            become_ready(l);
            return;
        }
        resp_init(&l->init->rs, RESP_REPLIES);
        l->state = LINK_AUTHENTICATING;
        step_init(l);
        return;
    }
    switch (SSL_get_error(l->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        link_watch(l, true, false);
        return;
    case SSL_ERROR_WANT_WRITE:
        link_watch(l, false, true);
        return;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            int e = errno;

            count_tls_failure(l, tls_failure_kind(l->ssl, &l->init->vinfo));
            fail(l, "tls handshake failed: %s", r == 0 || e == 0
                 ? "connection closed by the server" : strerror(e));
            return;
        }
        /* the queue says more */
        __attribute__((fallthrough));
    default: {
        char reason[TLS_REASON_MAX];

        count_tls_failure(l, tls_failure_kind(l->ssl, &l->init->vinfo));
        fail(l, "%s", tls_failure_reason(l->ssl, &l->init->vinfo, l->p->sc,
                                         reason, sizeof(reason)));
        return;
    }
    }
}

static void
step_connect(struct link *l)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err != 0) {
        link_watch(l, false, false);
        close(l->fd);
        l->fd = -1;
        if (l->next_addr != NULL) {
            try_connect(l);
            return;
        }
        fail(l, "connect to %s: %s", l->peer, strerror(err));
        return;
    }
    if (l->p->stats != NULL) {
        observe(&l->p->stats->connect, l->t_connect);
    }
    start_handshake(l);
    if (l->state == LINK_HANDSHAKING) {
        step_handshake(l);
    }
}

static void
link_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;

    (void)fd;
    switch (l->state) {
    case LINK_CONNECTING:
        step_connect(l);
        return;
    case LINK_HANDSHAKING:
        step_handshake(l);
        return;
    case LINK_AUTHENTICATING:
        step_init(l);
        return;
    case LINK_READY:
        l->io_cb(l, what, l->arg);  /* may free l */
        return;
    default:
        link_watch(l, false, false);
        return;
    }
}

static void
link_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;

    (void)fd;
    (void)what;
    switch (l->state) {
    case LINK_STARTING:
        start_resolve(l);
        return;
    case LINK_RESOLVING:
    case LINK_CONNECTING:
        fail(l, "connect timeout after %gs%s%s", l->p->sc->connect_timeout,
             l->peer[0] ? " to " : " resolving ",
             l->peer[0] ? l->peer : l->p->sc->upstream_host);
        return;
    case LINK_HANDSHAKING:
        count_tls_failure(l, TLS_FAIL_TIMEOUT);
        fail(l, "tls handshake timeout after %gs with %s",
             l->p->sc->handshake_timeout, l->peer);
        return;
    case LINK_AUTHENTICATING:
        fail(l, "AUTH timeout after %gs with %s",
             l->p->sc->handshake_timeout, l->peer);
        return;
    case LINK_FAILED:
        close_socket(l);
        l->ready_cb(l, link_error(l), l->arg);  /* may free l */
        return;
    case LINK_READY:
        return;
    }
}

struct link *
link_new(const struct link_params *p, link_ready_cb cb, void *arg)
{
    static const struct timeval now = {0, 0};
    struct link *l = calloc(1, sizeof(*l));

    if (l == NULL) {
        return NULL;
    }
    l->init = calloc(1, sizeof(*l->init));
    if (l->init == NULL) {
        free(l);
        return NULL;
    }
    l->fd = -1;
    l->p = p;
    l->ready_cb = cb;
    l->arg = arg;
    l->state = LINK_STARTING;
    l->peer[0] = '\0';
    event_base_gettimeofday_cached(p->base, &l->born);
    evtimer_assign(&l->ev_timer, p->base, link_timer_cb, l);
    evtimer_add(&l->ev_timer, &now);
    return l;
}

void
link_free(struct link *l, bool graceful)
{
    if (l == NULL) {
        return;
    }
    evtimer_del(&l->ev_timer);
    if (l->dns_req != NULL) {
        evdns_getaddrinfo_cancel(l->dns_req);   /* dns_cb ignores it */
        l->dns_req = NULL;
    }
    if (graceful && l->state == LINK_READY) {
        link_shutdown_write(l);
    }
    close_socket(l);
    if (l->addrs != NULL) {
        evutil_freeaddrinfo(l->addrs);
    }
    free(l->init);
    free(l);
}

void
link_set_io(struct link *l, link_io_cb cb, void *arg)
{
    l->io_cb = cb;
    l->arg = arg;
}

/* The one place that turns an SSL result into what the caller does next. */
/* Keeps an I/O failure's text where link_error() finds it. */
static void PRINTF_LIKE(2, 3)
io_error(struct link *l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (l->init != NULL) {
        vsnprintf(l->init->error, sizeof(l->init->error), fmt, ap);
    } else {
        vsnprintf(l->ioerr, sizeof(l->ioerr), fmt, ap);
    }
    va_end(ap);
}

static size_t
map_result(struct link *l, int r, enum link_io *st)
{
    char why[160];
    int e;

    if (r > 0) {
        *st = LINK_IO_DONE;
        return (size_t)r;
    }
    e = errno;
    switch (SSL_get_error(l->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *st = LINK_IO_WANT_READ;
        break;
    case SSL_ERROR_WANT_WRITE:
        *st = LINK_IO_WANT_WRITE;
        break;
    case SSL_ERROR_ZERO_RETURN:
        *st = LINK_IO_EOF;
        break;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (r == 0 || e == 0)) {
            /* TCP EOF without close_notify: reply framing is the judge. */
            *st = LINK_IO_EOF;
            break;
        }
        if (ERR_peek_error() == 0) {
            io_error(l, "%s", strerror(e));
            *st = LINK_IO_ERROR;
            break;
        }
        __attribute__((fallthrough));
    default:
        io_error(l, "tls: %s", tls_err_drain(why, sizeof(why)));
        *st = LINK_IO_ERROR;
        break;
    }
    return 0;
}

/*
 * SSL_get_error needs an empty error queue before each call; errors are
 * drained where they happen, so this is nearly always a peek (clearing
 * the 16 slots every time was 1.5 % of the proxy's CPU under load).
 */
static void
clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

size_t
link_read(struct link *l, void *buf, size_t len, enum link_io *st)
{
    int r;

    clear_errors();
    l->held = true;
    r = SSL_read(l->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return map_result(l, r, st);
}

size_t
link_write(struct link *l, const void *buf, size_t len, enum link_io *st)
{
    int r;

    clear_errors();
    l->held = true;
    r = SSL_write(l->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return map_result(l, r, st);
}

bool
link_has_pending(const struct link *l)
{
    return l->ssl != NULL && SSL_has_pending(l->ssl) == 1;
}

void
link_shutdown_write(struct link *l)
{
    if (l->shut_sent || l->ssl == NULL) {
        return;
    }
    l->shut_sent = true;
    ERR_clear_error();
    (void)SSL_shutdown(l->ssl);     /* sends close_notify; no wait for reply */
    ERR_clear_error();
}

const char *
link_peer(const struct link *l)
{
    return l->peer[0] ? l->peer : l->p->sc->upstream;
}

const char *
link_error(const struct link *l)
{
    return l->init != NULL ? l->init->error : l->ioerr;
}

double
link_age(const struct link *l)
{
    struct timeval now;

    event_base_gettimeofday_cached(l->p->base, &now);
    return (double)(now.tv_sec - l->born.tv_sec) +
           (double)(now.tv_usec - l->born.tv_usec) / 1e6;
}

bool
link_resumed(const struct link *l)
{
    return l->resumed;
}

const char *
link_tls_version(const struct link *l)
{
    return l->ssl ? SSL_get_version(l->ssl) : "none";
}

const char *
link_tls_cipher(const struct link *l)
{
    const char *c = l->ssl ? SSL_get_cipher_name(l->ssl) : NULL;

    return c != NULL ? c : "none";
}

/* Links whose buffers went back since the last malloc_trim, all loops. */
static atomic_uint released;

void
link_release_buffers(struct link *l)
{
    if (l->ssl != NULL && l->state == LINK_READY && l->held &&
        SSL_has_pending(l->ssl) == 0 && SSL_free_buffers(l->ssl) == 1) {
        l->held = false;
        atomic_fetch_add(&released, 1);
    }
}

/*
 * Buffers freed a while after they were last used leave 17 KiB holes
 * between long-lived allocations, which glibc does not give back: after
 * every LINK_TRIM_BATCH releases, or when a sweep found everything quiet,
 * malloc_trim returns the holes' pages to the system.
 */
void
link_heap_trim(bool quiet)
{
    unsigned n = atomic_load(&released);

    if (n >= LINK_TRIM_BATCH || (quiet && n > 0)) {
        atomic_fetch_sub(&released, n);
        (void)malloc_trim(0);
    }
}
