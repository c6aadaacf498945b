/*
 * upstream_connect.c: a link's way from the upstream's name to ready.
 *
 *   starting -> resolving -> connecting -> handshaking -> authenticating
 *            -> ready (owned by a session)        any step -> failed
 *
 * Every step is bounded: resolve + connect by connect_timeout, handshake +
 * AUTH by handshake_timeout.  Failures are reported through the ready
 * callback from the event loop, never from inside a call the owner made,
 * so the owner may free the link from its callback and nothing re-enters.
 * Name resolution is resolve.c's (never the blocking resolver).  It owns
 * link_new, the failure's text and kind, and the connect and handshake
 * histograms; the I/O once ready and link_free are upstream.c's.
 */
#include "upstream_int.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROLE_CMD "*1\r\n$4\r\nROLE\r\n"

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
    l->init->tls = k;
    if (l->p->stats != NULL) {
        l->p->stats->tls_failures[k]++;
    }
}

static void
arm_timer(struct link *l, double seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    evtimer_add(&l->ev_timer, &tv);
}

/*
 * vfail_step(l, kind, step, fmt, ap): records what failed (kind, and
 * step: the kind of the step it failed in) and why (the text, which starts with
 * what the client line says: "unreachable: ", "certificate rejected: ",
 * ...), stops its I/O and reports to the owner from the next loop turn.
 */
static void PRINTF_LIKE(4, 0)
vfail_step(struct link *l, enum link_fail kind, enum link_fail step,
           const char *fmt, va_list ap)
{
    static const struct timeval now = {0, 0};
    char msg[TLS_REASON_MAX];
    size_t n;

    /* Format aside: the arguments may point into l->error itself. */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    if (l->init != NULL && l->init->vinfo.cert_requested &&
        n < sizeof(msg)) {
        snprintf(msg + n, sizeof(msg) - n, " (the server asked for a client "
                 "certificate and none is configured: set cert_file and "
                 "key_file)");
    }
    if (l->init != NULL) {
        memcpy(l->init->error, msg, sizeof(l->init->error));
        l->init->kind = kind;
        l->init->step = step;
    } else {
        snprintf(l->ioerr, sizeof(l->ioerr), "%s", msg);
    }
    l->state = LINK_FAILED;
    link_watch(l, false, false);
    evtimer_del(&l->ev_timer);
    evtimer_add(&l->ev_timer, &now);
}

/* fail_step(l, kind, fmt, ...): a failure the server's answer (or its absence
 * at the network level) explains: kind is also the step. */
static void PRINTF_LIKE(3, 4)
fail_step(struct link *l, enum link_fail kind, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_step(l, kind, kind, fmt, ap);
    va_end(ap);
}

/* fail_silent(l, step, fmt, ...): the server was reached but gave no
 * verdict (a timeout, a close without a word) during step (LINK_FAIL_TLS,
 * _AUTH or _ROLE). */
static void PRINTF_LIKE(3, 4)
fail_silent(struct link *l, enum link_fail step, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_step(l, LINK_FAIL_SILENT, step, fmt, ap);
    va_end(ap);
}

/* The name's answer: connect to its addresses in turn, or fail. */
static void
resolved_cb(int err, struct evutil_addrinfo *res, void *arg)
{
    struct link *l = arg;
    const struct service_config *sc = l->p->sc;

    if (err != 0 && sc->upstream_is_ip) {
        fail_step(l, LINK_FAIL_DNS, "unreachable: bad address %s: %s",
                  sc->upstream_host, resolve_strerror(err));
        return;
    }
    if (err != 0) {
        fail_step(l, LINK_FAIL_DNS, "unreachable: cannot resolve %s: %s",
                  sc->upstream_host, resolve_strerror(err));
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

    l->state = LINK_RESOLVING;
    arm_timer(l, sc->connect_timeout);
    resolve_start(&l->resolve, l->p->dns, sc->upstream_host,
                  sc->upstream_port, sc->upstream_is_ip);
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
        resolve_format_addr(ai->ai_addr, l->peer, sizeof(l->peer));
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
    fail_step(l, LINK_FAIL_CONNECT, "unreachable: connect to %s: %s", l->peer,
              strerror(saved));
}

static void
start_handshake(struct link *l)
{
    const struct service_config *sc = l->p->sc;

    l->ssl = tls_ssl_new(l->p->ctx, sc, &l->init->vinfo);
    if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1) {
        fail_step(l, LINK_FAIL_OTHER, "out of memory: cannot create the TLS "
                  "connection");
        return;
    }
    tls_watch_reads(l->ssl, &l->init->vinfo);
    l->state = LINK_HANDSHAKING;
    l->t_handshake = mono_now();
    evtimer_del(&l->ev_timer);
    arm_timer(l, sc->handshake_timeout);
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
    link_init_free(l->init);
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
 * service wants, else -1 after fail_step(). */
static int
check_role(struct link *l, const char *buf, size_t len)
{
    enum upstream_role want = l->p->sc->role;
    char role[16], line[200];

    if (buf[0] == '-') {
        log_escape(buf + 1, len > 3 ? len - 3 : 0, line, sizeof(line));
        fail_step(l, LINK_FAIL_ROLE, "wrong role: ROLE failed on %s: %s (set "
                  "role = any if this server does not allow ROLE)", l->peer,
                  line);
        return -1;
    }
    if (role_of(buf, len, role, sizeof(role)) < 0) {
        fail_step(l, LINK_FAIL_ROLE, "wrong role: unexpected ROLE reply "
                  "from %s", l->peer);
        return -1;
    }
    if (want == ROLE_PRIMARY && strcmp(role, "master") != 0) {
        fail_step(l, LINK_FAIL_ROLE, "wrong role: %s is not a primary "
                  "(ROLE says %s); this service wants role = primary",
                  l->peer, role);
        return -1;
    }
    if (want == ROLE_REPLICA && strcmp(role, "slave") != 0) {
        fail_step(l, LINK_FAIL_ROLE, "wrong role: %s is not a replica "
                  "(ROLE says %s); this service wants role = replica",
                  l->peer, role);
        return -1;
    }
    return 0;
}

/*
 * init_io_failed(l, step, st): reading or writing AUTH or ROLE (step:
 * LINK_FAIL_AUTH or LINK_FAIL_ROLE) failed after the handshake.  A TLS
 * alert then is still the handshake's (TLS 1.3 servers judge a client
 * certificate after our Finished); an EOF or a socket error is a server
 * that gave no verdict.
 */
static void
init_io_failed(struct link *l, enum link_fail step, enum link_io st)
{
    const char *err = link_error(l);
    char copy[TLS_REASON_MAX];
    const char *what = step == LINK_FAIL_AUTH ? "AUTH" : "ROLE";

    snprintf(copy, sizeof(copy), "%s", err);
    if (st == LINK_IO_ERROR && strncmp(copy, "tls: ", 5) == 0) {
        fail_step(l, LINK_FAIL_TLS, "TLS handshake failed: %s", copy + 5);
    } else if (l->init->vinfo.cert_requested) {
        /* It asked for a certificate we do not have, then hung up. */
        fail_step(l, LINK_FAIL_TLS, "TLS handshake failed: %s",
                  st == LINK_IO_EOF ? "connection closed by the server" : copy);
    } else if (st == LINK_IO_EOF) {
        fail_silent(l, step, "%s failed: %s closed the connection "
                    "without answering %s", what, l->peer, what);
    } else {
        fail_silent(l, step, "%s failed: %s", what, copy);
    }
}

/* Writes what is left of cmd[0..len) from *sent.  1 = done, 0 = waiting,
 * -1 = failed (after fail_step()). */
static int
write_init(struct link *l, enum link_fail step, const char *cmd, size_t len,
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
            init_io_failed(l, step, st);
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
    struct link_init *in = l->init;
    enum link_io st;
    char line[200];
    int r;

    r = write_init(l, LINK_FAIL_AUTH, in->auth, in->auth_len,
                   &in->auth_sent);
    if (r <= 0) {
        return;
    }
    if (in->role_pending &&
        (r = write_init(l, LINK_FAIL_ROLE, ROLE_CMD, strlen(ROLE_CMD),
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
            init_io_failed(l, in->auth_pending ? LINK_FAIL_AUTH
                                               : LINK_FAIL_ROLE, st);
            return;
        }
        in->len += n;
        while (in->scanned < in->len) {
            struct resp_frame f;
            size_t used, flen;
            const char *frame = in->buf + in->frame_start;
            enum resp_status rs;

            if (!in->auth_pending && !in->role_pending) {
                fail_step(l, LINK_FAIL_AUTH, "%s", "AUTH rejected: unexpected "
                          "bytes after the replies");
                return;
            }
            rs = resp_scan(&in->rs, in->buf + in->scanned,
                           in->len - in->scanned, &used, &f);
            in->scanned += used;
            if (rs == RESP_ERROR) {
                fail_step(l, in->auth_pending ? LINK_FAIL_AUTH : LINK_FAIL_ROLE,
                          "%s: malformed reply from %s",
                          in->auth_pending ? "AUTH rejected" : "wrong role",
                          l->peer);
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
                    fail_step(l, LINK_FAIL_AUTH, "AUTH rejected: %s", line);
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
            fail_step(l, in->auth_pending ? LINK_FAIL_AUTH : LINK_FAIL_ROLE,
                      "%s: reply too long", in->auth_pending ? "AUTH rejected"
                                                             : "wrong role");
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
        char reason[TLS_REASON_MAX], why[200];

        /* Before a single byte goes out (AUTH carries the password): a
         * handshake without a verified certificate proves nothing. */
        if (tls_check_peer(l->ssl, l->p->sc, reason, sizeof(reason)) < 0) {
            count_tls_failure(l, TLS_FAIL_VERIFY_OTHER);
            fail_step(l, LINK_FAIL_CERT, "%s", reason);
            return;
        }
        if (l->p->stats != NULL) {
            observe(&l->p->stats->handshake, l->t_handshake);
        }
        l->resumed = tls_note_handshake(l->ssl);
        l->init->auth_pending = l->p->auth->on;
        if (l->init->auth_pending &&
            auth_cmd_render_why(l->p->auth, time(NULL), &l->init->auth,
                                &l->init->auth_len, why, sizeof(why)) < 0) {
            /* Ours, not the server's verdict: not an AUTH rejection. */
            fail_step(l, LINK_FAIL_OTHER, "cannot make the AUTH command: %s",
                      why);
            return;
        }
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
        if (ERR_peek_error() == 0 && !tls_saw_plaintext(&l->init->vinfo)) {
            int e = errno;

            count_tls_failure(l, tls_failure_kind(l->ssl, &l->init->vinfo));
            fail_silent(l, LINK_FAIL_TLS, "TLS handshake failed: %s",
                        r == 0 || e == 0 ? "connection closed by the server"
                                         : strerror(e));
            return;
        }
        /* the queue says more */
        __attribute__((fallthrough));
    default: {
        char reason[TLS_REASON_MAX];
        enum tls_fail k = tls_failure_kind(l->ssl, &l->init->vinfo);

        count_tls_failure(l, k);
        tls_failure_reason(l->ssl, &l->init->vinfo, l->p->sc, reason,
                           sizeof(reason));
        fail_step(l, tls_fail_is_verify(k) ? LINK_FAIL_CERT : LINK_FAIL_TLS,
                  "%s", reason);
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
        fail_step(l, LINK_FAIL_CONNECT, "unreachable: connect to %s: %s",
                  l->peer, strerror(err));
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

/*
 * The handshake took longer than handshake_timeout.  A TLS server answers
 * the hello at once; a plaintext Redis reads it as an inline command
 * and, unless the hello happens to hold a newline, waits silently for the
 * rest: no byte back at all points at a port without TLS.
 */
static void
handshake_timed_out(struct link *l)
{
    const struct tls_verify_info *vi = &l->init->vinfo;
    char reason[TLS_REASON_MAX];
    double t = l->p->sc->handshake_timeout;

    if (tls_saw_plaintext(vi)) {
        tls_failure_reason(l->ssl, vi, l->p->sc, reason, sizeof(reason));
        fail_step(l, LINK_FAIL_TLS, "%s", reason);
    } else if (vi->nread == 0) {
        fail_silent(l, LINK_FAIL_TLS, "TLS handshake failed: no answer to "
                    "the TLS hello from %s within handshake_timeout (%gs); "
                    "it looks like no TLS at that port (a plaintext Redis "
                    "stays silent): is upstream the TLS port?", l->peer, t);
    } else {
        fail_silent(l, LINK_FAIL_TLS, "TLS handshake failed: timeout after "
                    "%gs with %s (handshake_timeout)", t, l->peer);
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
        fail_step(l, LINK_FAIL_CONNECT, "unreachable: connect timeout after "
                  "%gs%s%s", l->p->sc->connect_timeout,
                  l->peer[0] ? " to " : " resolving ",
                  l->peer[0] ? l->peer : l->p->sc->upstream_host);
        return;
    case LINK_HANDSHAKING:
        count_tls_failure(l, TLS_FAIL_TIMEOUT);
        handshake_timed_out(l);
        return;
    case LINK_AUTHENTICATING:
        fail_silent(l, LINK_FAIL_AUTH, "AUTH failed: no answer from %s "
                    "within handshake_timeout (%gs)", l->peer,
                    l->p->sc->handshake_timeout);
        return;
    case LINK_FAILED:
        link_close_socket(l);
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
    l->init->tls = TLS_FAIL_COUNT;
    l->fd = -1;
    l->p = p;
    l->ready_cb = cb;
    l->arg = arg;
    l->state = LINK_STARTING;
    l->peer[0] = '\0';
    resolve_init(&l->resolve, resolved_cb, l);
    event_base_gettimeofday_cached(p->base, &l->born);
    l->authed = mono_now();
    evtimer_assign(&l->ev_timer, p->base, link_timer_cb, l);
    evtimer_add(&l->ev_timer, &now);
    return l;
}

enum link_fail
link_failure(const struct link *l)
{
    return l->init != NULL ? l->init->kind : LINK_FAIL_NONE;
}

enum tls_fail
link_tls_failure(const struct link *l)
{
    return l->init != NULL ? l->init->tls : TLS_FAIL_COUNT;
}

enum link_fail
link_failure_step(const struct link *l)
{
    return l->init != NULL ? l->init->step : LINK_FAIL_NONE;
}

bool
link_fail_is_verdict(enum link_fail k)
{
    return k == LINK_FAIL_CERT || k == LINK_FAIL_TLS ||
           k == LINK_FAIL_AUTH || k == LINK_FAIL_ROLE;
}
