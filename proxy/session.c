/*
 * session.c: the data path (design.md 2a) and the end of a session.
 *
 * Both sockets keep a persistent read event; bytes read are written at
 * once, in the same callback, straight from the loop's scratch buffer.
 * Only when the destination cannot take them all does the rest go into a
 * pending buffer of that direction, lent for as long as the write is
 * blocked and freed once it drains.  A direction's pending bytes never
 * exceed buffer_limit: at the limit its source stops being read
 * (backpressure), so a client that never reads cannot make us buffer more.
 *
 * Closes: a side's EOF is passed on only after every byte already read
 * from it was delivered (TLS close_notify towards the server, a TCP FIN
 * towards the client).  Until the link is ready, client bytes are held
 * (bounded); if the link fails, the client gets one RESP error line and
 * those bytes are dropped: nothing reaches the upstream without TLS, and
 * nothing before AUTH succeeded.
 */
#include "session.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "pool.h"
#include "resp.h"
#include "track.h"

#define PENDING_MIN 16384           /* first size of a pending buffer */
#define LINGER_SECONDS 2.0          /* wait for the client's FIN after ours */
#define HALF_CLOSE_SECONDS 30.0     /* wait for the server after client EOF */

enum session_state {
    SESSION_CONNECTING = 0,     /* link on its way; client bytes held */
    SESSION_RELAYING,           /* both ways */
    SESSION_LINGERING           /* FIN sent to the client, draining it */
};

/* Bytes one direction could not deliver yet: data[off .. off+len). */
struct pending {
    char *data;                 /* owned: NULL while nothing is blocked */
    size_t off;                 /* first undelivered byte */
    size_t len;                 /* undelivered bytes */
    size_t cap;                 /* allocated size */
};

struct session {
    struct session_host *h;         /* ref: the service's host block */
    struct session *prev, *next;    /* ref: h->sessions list */
    uint64_t id;                    /* for log lines */
    enum session_state state;       /* see above */
    int cfd;                        /* owned: client socket */
    struct event cev_read;          /* owned: client readable */
    struct event cev_write;         /* owned: client writable */
    struct event ev_timer;          /* owned: idle, linger, half-close */
    bool c_reading;                 /* cev_read is added */
    bool c_writing;                 /* cev_write is added */
    struct link *link;              /* owned: the upstream link */
    bool up_read_wants_write;       /* SSL_read said WANT_WRITE */
    bool up_write_wants_read;       /* SSL_write said WANT_READ */
    bool client_eof;                /* client sent FIN */
    bool up_eof;                    /* server closed */
    bool up_broken;                 /* TLS error: no close_notify */
    bool up_wdead;                  /* writing to the server failed */
    bool up_shut;                   /* close_notify sent for client EOF */
    const char *unrecyclable;       /* why the link was not kept, once
                                       decided (static text) */
    bool reused;                    /* the link came from the pool */
    bool scan_off;                  /* a scanner failed: relay blind */
    bool swallowing;                /* dropping our AUTH's reply */
    bool stale;                     /* the server said READONLY/LOADING on
                                       a role = primary service: close at
                                       the next command boundary */
    struct resp_scanner rq;         /* frames client requests */
    struct resp_scanner rp;         /* frames server replies */
    struct track tr;                /* replies owed, recyclable? */
    struct pending c2u;             /* client bytes for the server */
    struct pending u2c;             /* server bytes for the client */
    uint64_t rx;                    /* bytes read from the client */
    uint64_t tx;                    /* bytes read from the server */
    struct timeval started;         /* accept time */
    struct timeval last_active;     /* last byte either way */
    struct session *wprev, *wnext;  /* ref: h->warm list */
    bool warm;                      /* on it */
    struct timeval settled;         /* last time nothing was owed */
    const char *reason;             /* why it is ending, NULL = not yet */
    char client[INET6_ADDRSTRLEN + 8];  /* client address for logs */
};

static void client_cb(evutil_socket_t fd, short what, void *arg);
static double elapsed(const struct timeval *from, const struct timeval *to);

_Thread_local unsigned long session_io_count;
static void link_io(struct link *link, short what, void *arg);
static void update_interest(struct session *s);

/* ------------------------------------------------------------ buffers */

static void
pending_release(struct pending *p)
{
    free(p->data);
    p->data = NULL;
    p->off = p->len = p->cap = 0;
}

/* Appends n bytes; the caller has checked the limit.  0, or -1 on ENOMEM. */
static int
pending_append(struct pending *p, const char *buf, size_t n, size_t limit)
{
    if (p->off + p->len + n > p->cap) {
        if (p->off > 0) {
            memmove(p->data, p->data + p->off, p->len);
            p->off = 0;
        }
        if (p->len + n > p->cap) {
            size_t cap = p->cap ? p->cap : PENDING_MIN;
            char *d;

            while (cap < p->len + n) {
                cap *= 2;
            }
            if (cap > limit && limit >= p->len + n) {
                cap = limit;
            }
            d = realloc(p->data, cap);
            if (d == NULL) {
                return -1;
            }
            p->data = d;
            p->cap = cap;
        }
    }
    memcpy(p->data + p->off + p->len, buf, n);
    p->len += n;
    return 0;
}

static void
pending_consume(struct pending *p, size_t n)
{
    p->off += n;
    p->len -= n;
    if (p->len == 0) {
        pending_release(p);     /* lent only while blocked */
    }
}

/* ------------------------------------------------------------ helpers */

/*
 * TLS buffers: OpenSSL's 17 KiB read and write buffers are kept while a
 * session is busy (freeing them after every record, as
 * SSL_MODE_RELEASE_BUFFERS does, costs a malloc and a free per request)
 * and handed back once it has been quiet for COOL_SECONDS: touch() puts a
 * session on h->warm, cool_cb() sweeps it every COOL_SECONDS.  A session
 * that was quiet before its last exchange is likely quiet after it: its
 * buffers go back as soon as every reply is in (settle_buffers()), so the
 * many idle clients of an app's connection pool never hold any.
 */
#define COOL_SECONDS 0.1

static void
warm_remove(struct session *s)
{
    struct session_host *h = s->h;

    if (!s->warm) {
        return;
    }
    if (s->wprev != NULL) {
        s->wprev->wnext = s->wnext;
    } else {
        h->warm = s->wnext;
    }
    if (s->wnext != NULL) {
        s->wnext->wprev = s->wprev;
    }
    s->wprev = s->wnext = NULL;
    s->warm = false;
}

static void
cool_arm(struct session_host *h)
{
    struct timeval tv = {0, (suseconds_t)(COOL_SECONDS * 1e6)};

    evtimer_add(h->ev_cool, &tv);
}

static void
cool_cb(evutil_socket_t fd, short what, void *arg)
{
    struct session_host *h = arg;
    struct session *s, *next;
    struct timeval now;

    (void)fd;
    (void)what;
    event_base_gettimeofday_cached(h->base, &now);
    for (s = h->warm; s != NULL; s = next) {
        next = s->wnext;
        if (elapsed(&s->last_active, &now) >= COOL_SECONDS) {
            if (s->link != NULL) {
                link_release_buffers(s->link);
            }
            warm_remove(s);
        }
    }
    if (h->warm != NULL) {
        cool_arm(h);
    }
    link_heap_trim(h->warm == NULL);
}

/* Every reply is in and nothing waits either way: a session that had
 * been quiet before this exchange gives its buffers back now. */
static void
settle_buffers(struct session *s)
{
    struct timeval now;

    if (s->link == NULL || s->scan_off || s->u2c.len > 0 || s->c2u.len > 0 ||
        track_owed(&s->tr) != 0 || link_has_pending(s->link)) {
        return;
    }
    event_base_gettimeofday_cached(s->h->base, &now);
    if (elapsed(&s->settled, &now) >= COOL_SECONDS) {
        link_release_buffers(s->link);
    }
    s->settled = now;
}

static void
touch(struct session *s)
{
    struct session_host *h = s->h;

    event_base_gettimeofday_cached(h->base, &s->last_active);
    if (s->warm) {
        return;
    }
    if (h->ev_cool == NULL &&
        (h->ev_cool = evtimer_new(h->base, cool_cb, h)) == NULL) {
        return;     /* no memory: the buffers stay until the link goes */
    }
    if (h->warm == NULL) {
        cool_arm(h);
    }
    s->wnext = h->warm;
    if (s->wnext != NULL) {
        s->wnext->wprev = s;
    }
    h->warm = s;
    s->warm = true;
}

static void
set_timer(struct session *s, double seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    evtimer_add(&s->ev_timer, &tv);
}

static void
describe_client(const struct sockaddr *sa, int len, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%d", host, ntohs(s4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%d", host, ntohs(s6->sin6_port));
    } else {
        (void)len;
        snprintf(out, outlen, "unix");
    }
}

static double
elapsed(const struct timeval *from, const struct timeval *to)
{
    return (double)(to->tv_sec - from->tv_sec) +
           (double)(to->tv_usec - from->tv_usec) / 1e6;
}

/* ------------------------------------------------------------ teardown */

/*
 * link_verdict(s): NULL when the link can go back to the pool, else why
 * not.  Clean means: ready and unbroken, every client byte delivered,
 * no half request, and replies still countable (track.c).
 */
static const char *
link_verdict(const struct session *s)
{
    const char *why;

    if (s->link == NULL || s->state != SESSION_RELAYING) {
        return "no-link";
    }
    if (!pool_recycling(s->h->pool)) {
        return "no-pool";
    }
    if (s->up_eof || s->up_wdead || s->up_broken) {
        return "upstream-gone";
    }
    if (s->scan_off) {
        return "unparsed";
    }
    if (s->c2u.len > 0 || !resp_at_boundary(&s->rq)) {
        return "partial-request";
    }
    if (s->swallowing) {
        return "reauth-pending";
    }
    if (!track_is_recyclable(&s->tr, &why)) {
        return why;
    }
    return NULL;
}

void
session_close(struct session *s, const char *reason)
{
    struct session_host *h = s->h;
    struct timeval now;

    const char *why;
    char link_end[48];

    if (s->reason == NULL) {
        s->reason = reason;
    }
    event_del(&s->cev_read);
    event_del(&s->cev_write);
    evtimer_del(&s->ev_timer);
    warm_remove(s);
    event_base_gettimeofday_cached(h->base, &now);
    why = s->link == NULL && s->unrecyclable != NULL ? s->unrecyclable
                                                     : link_verdict(s);
    snprintf(link_end, sizeof(link_end), "%s%s", why ? "close:" : "recycle",
             why ? why : "");
    log_info("event=close s=%016" PRIx64 " service=%s client=%s upstream=%s "
             "rx=%" PRIu64 " tx=%" PRIu64 " duration=%.3f reason=%s link=%s "
             "link_end=%s", s->id, h->sc->name, s->client,
             s->link ? link_peer(s->link) : h->sc->upstream, s->rx, s->tx,
             elapsed(&s->started, &now), s->reason,
             s->reused ? "pooled" : "new", link_end);
    if (s->link != NULL && why == NULL) {
        pool_recycle(h->pool, s->link, &s->rp, track_owed(&s->tr));
    } else {
        if (s->link != NULL) {
            pool_note_closed(h->pool, why);
        }
        link_free(s->link, !s->up_broken);
    }
    s->link = NULL;
    if (s->cfd >= 0) {
        close(s->cfd);
        s->cfd = -1;
    }
    pending_release(&s->c2u);
    pending_release(&s->u2c);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        h->sessions = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    h->nsessions--;
    free(s);
    if (h->closed_cb != NULL) {
        h->closed_cb(h, h->closed_arg);
    }
}

void
session_close_all(struct session_host *h, const char *reason)
{
    while (h->sessions != NULL) {
        session_close(h->sessions, reason);
    }
}

void
session_host_clear(struct session_host *h)
{
    if (h->ev_cool != NULL) {
        event_free(h->ev_cool);
        h->ev_cool = NULL;
    }
}

/*
 * linger(s, reason): the server side is finished.  Frees the link, sends
 * our FIN to the client once its pending bytes are out, and reads (and
 * drops) whatever the client still sends until its FIN or a short time,
 * so that closing never turns into a reset that could eat the last reply.
 * Returns 0, or -1 when it closed the session (s is gone).
 */
static int
linger(struct session *s, const char *reason)
{
    if (s->reason == NULL) {
        s->reason = reason;
    }
    if (s->state != SESSION_LINGERING) {
        s->state = SESSION_LINGERING;
        link_free(s->link, !s->up_broken);
        s->link = NULL;
        pending_release(&s->c2u);
        evtimer_del(&s->ev_timer);
        set_timer(s, LINGER_SECONDS);
    }
    if (s->u2c.len == 0) {
        shutdown(s->cfd, SHUT_WR);
        if (s->client_eof) {
            session_close(s, s->reason);
            return -1;
        }
    }
    update_interest(s);
    return 0;
}

/* ------------------------------------------------------------ directions */

/*
 * flush_c2u(s): writes held client bytes to the server.  Returns 0, or -1
 * when the session was closed.
 */
static int
flush_c2u(struct session *s)
{
    enum link_io st;

    s->up_write_wants_read = false;
    while (s->c2u.len > 0) {
        size_t n = link_write(s->link, s->c2u.data + s->c2u.off, s->c2u.len,
                              &st);

        if (n > 0) {
            pending_consume(&s->c2u, n);
            continue;
        }
        if (st == LINK_IO_WANT_READ) {
            s->up_write_wants_read = true;
            return 0;
        }
        if (st == LINK_IO_WANT_WRITE) {
            return 0;
        }
        /* The server is gone for writing; what it said before still comes
         * in (and reaches the client) until its read side ends too. */
        s->up_broken = (st == LINK_IO_ERROR);
        s->up_wdead = true;
        pending_release(&s->c2u);
        return 0;
    }
    return 0;
}

/*
 * to_client(s, buf, n): delivers n server bytes, holding what the socket
 * does not take.  Returns 0, or -1 when the session was closed.
 */
static int
to_client(struct session *s, const char *buf, size_t n)
{
    ssize_t w = 0;

    if (s->u2c.len == 0) {
        w = write(s->cfd, buf, n);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                session_close(s, "client-error");
                return -1;
            }
            w = 0;
        }
    }
    if ((size_t)w < n &&
        pending_append(&s->u2c, buf + w, n - (size_t)w,
                       s->h->sc->buffer_limit) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
}

/*
 * relay_replies(s, buf, n): passes server bytes to the client while the
 * reply scanner counts them, dropping the reply to our own AUTH after a
 * client's RESET (which must be +OK).  Returns 0, or -1 when closed.
 */
static int
relay_replies(struct session *s, const char *buf, size_t n)
{
    size_t pos = 0, seg = 0;

    if (s->scan_off) {
        return to_client(s, buf, n);
    }
    while (pos < n) {
        struct resp_frame f;
        size_t used;
        enum resp_status st;

        if (!s->swallowing && resp_at_boundary(&s->rp) && buf[pos] != '>' &&
            track_next_is_ours(&s->tr)) {
            if (pos > seg && to_client(s, buf + seg, pos - seg) < 0) {
                return -1;
            }
            s->swallowing = true;
        }
        st = resp_scan(&s->rp, buf + pos, n - pos, &used, &f);
        if (st == RESP_ERROR) {
            /* Not RESP as we know it: relay on, never recycle. */
            track_break(&s->tr, "bad-reply");
            s->scan_off = true;
            if (s->swallowing) {
                s->up_broken = true;
                session_close(s, "reauth-failed");
                return -1;
            }
            break;
        }
        pos += used;
        if (st == RESP_FRAME && f.type == '-' && !s->stale &&
            s->h->sc->role == ROLE_PRIMARY &&
            (strncmp(f.head, "READONLY", 8) == 0 ||
             strncmp(f.head, "LOADING", 7) == 0)) {
            /* The primary moved (failover) or is not serving yet: this
             * reply still reaches the client, then the client is closed
             * at the next command boundary and reconnects. */
            s->stale = true;
            s->h->stale_cb(s->h, link_peer(s->link), f.head,
                           s->h->closed_arg);
        }
        if (st == RESP_FRAME && track_reply(&s->tr, &f) && s->swallowing) {
            s->swallowing = false;
            seg = pos;
            if (f.type != '+' || strcmp(f.head, "OK") != 0) {
                log_warn("event=reauth-failed s=%016" PRIx64 " service=%s "
                         "reply=\"%s\"", s->id, s->h->sc->name, f.head);
                s->up_broken = true;
                session_close(s, "reauth-failed");
                return -1;
            }
        }
    }
    if (s->swallowing) {
        return 0;   /* the rest is our reply, still arriving */
    }
    return n > seg ? to_client(s, buf + seg, n - seg) : 0;
}

/*
 * up_read(s): reads what the server sent, as long as TLS has bytes and the
 * client direction has room.  Returns 0, or -1 when the session was closed.
 */
static int
up_read(struct session *s)
{
    const size_t limit = s->h->sc->buffer_limit;
    enum link_io st;

    s->up_read_wants_write = false;
    while (!s->up_eof && s->u2c.len < limit) {
        size_t want = limit - s->u2c.len;
        size_t n;

        if (want > s->h->scratch_len) {
            want = s->h->scratch_len;
        }
        n = link_read(s->link, s->h->scratch, want, &st);
        if (n == 0) {
            if (st == LINK_IO_WANT_WRITE) {
                s->up_read_wants_write = true;
            } else if (st == LINK_IO_EOF) {
                s->up_eof = true;
            } else if (st == LINK_IO_ERROR) {
                s->up_eof = true;
                s->up_broken = true;
                log_debug("event=upstream-read-error s=%016" PRIx64
                          " reason=\"%s\"", s->id, link_error(s->link));
            }
            break;
        }
        s->tx += n;
        s->h->tx_total += n;
        touch(s);
        if (relay_replies(s, s->h->scratch, n) < 0) {
            return -1;
        }
        if (!link_has_pending(s->link)) {
            break;      /* level-triggered epoll calls again for more */
        }
    }
    if (!s->up_eof) {
        settle_buffers(s);
    }
    return 0;
}

/*
 * to_server(s, buf, n): client bytes (or our AUTH) for the server: written
 * at once when nothing is held and the link is ready, else held.  Returns
 * 0, or -1 when the session was closed.
 */
static int
to_server(struct session *s, const char *buf, size_t n)
{
    const size_t limit = s->h->sc->buffer_limit;

    if (s->state == SESSION_RELAYING && s->c2u.len == 0) {
        enum link_io st;
        size_t w = link_write(s->link, buf, n, &st);

        if (w == 0 && st == LINK_IO_WANT_READ) {
            s->up_write_wants_read = true;
        } else if (w == 0 && (st == LINK_IO_EOF || st == LINK_IO_ERROR)) {
            s->up_broken = (st == LINK_IO_ERROR);
            s->up_wdead = true;
            return 0;
        }
        buf += w;
        n -= w;
        if (n == 0) {
            return 0;
        }
    }
    if (pending_append(&s->c2u, buf, n, limit) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
}

/*
 * relay_requests(s, buf, n): passes client bytes on while the request
 * scanner counts them; after a client's RESET, our AUTH goes right behind
 * it.  Returns 0, or -1 when closed.
 */
static int
relay_requests(struct session *s, const char *buf, size_t n)
{
    const struct auth_cmd *auth = s->h->lp->auth;
    size_t pos = 0, seg = 0;

    while (!s->scan_off && pos < n) {
        struct resp_frame f;
        size_t used;
        enum resp_status st = resp_scan(&s->rq, buf + pos, n - pos, &used,
                                        &f);

        if (st == RESP_ERROR) {
            /* The server will answer with an error and close; relay it. */
            track_break(&s->tr, "bad-request");
            s->scan_off = true;
            break;
        }
        pos += used;
        if (st == RESP_FRAME && track_request(&s->tr, &f) == TRACK_REAUTH &&
            auth->len > 0) {
            if (to_server(s, buf + seg, pos - seg) < 0 ||
                to_server(s, auth->buf, auth->len) < 0) {
                return -1;
            }
            seg = pos;
            if (track_injected(&s->tr) < 0) {
                s->scan_off = true;
            }
        }
    }
    return n > seg ? to_server(s, buf + seg, n - seg) : 0;
}

/* Client readable: one read, written on at once when nothing is held. */
static int
client_read(struct session *s)
{
    const size_t limit = s->h->sc->buffer_limit;
    size_t want = limit - s->c2u.len;
    ssize_t n;

    if (want > s->h->scratch_len) {
        want = s->h->scratch_len;
    }
    n = read(s->cfd, s->h->scratch, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return 0;
        }
        session_close(s, "client-error");
        return -1;
    }
    if (n == 0) {
        s->client_eof = true;
        if (s->state == SESSION_LINGERING) {
            session_close(s, s->reason);
            return -1;
        }
        evtimer_del(&s->ev_timer);
        set_timer(s, HALF_CLOSE_SECONDS);
        return 0;
    }
    s->rx += (size_t)n;
    s->h->rx_total += (size_t)n;
    touch(s);
    if (s->state == SESSION_LINGERING || s->up_wdead) {
        return 0;   /* the server is gone: drop */
    }
    return relay_requests(s, s->h->scratch, (size_t)n);
}

/* Client writable: drain held server bytes, then pass on a server EOF. */
static int
client_flush(struct session *s)
{
    while (s->u2c.len > 0) {
        ssize_t w = write(s->cfd, s->u2c.data + s->u2c.off, s->u2c.len);

        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                return 0;
            }
            session_close(s, "client-error");
            return -1;
        }
        pending_consume(&s->u2c, (size_t)w);
    }
    return 0;
}

/*
 * settle(s): after any progress, passes on closes that are now due and
 * refreshes which events we wait for.  Returns 0, or -1 when closed.
 */
static int
settle(struct session *s)
{
    if (s->state == SESSION_RELAYING && s->stale && s->c2u.len == 0 &&
        track_owed(&s->tr) == 0 && resp_at_boundary(&s->rp)) {
        /* Every reply owed was relayed: close now, never send more. */
        s->unrecyclable = "stale";
        return linger(s, "failover");
    }
    if (s->state == SESSION_RELAYING && s->up_eof && s->u2c.len == 0) {
        return linger(s, s->up_broken ? "upstream-error"
                         : s->client_eof ? "client-eof" : "upstream-eof");
    }
    if (s->state == SESSION_RELAYING && s->up_eof) {
        /* Stop the server side now; deliver what it said first. */
        update_interest(s);
        return 0;
    }
    if (s->state == SESSION_RELAYING && s->client_eof && !s->up_shut &&
        s->c2u.len == 0) {
        /* The client sent all it will.  A recyclable link waits for the
         * replies still owed, delivers them, and goes back to the pool;
         * any other link passes the close on (close_notify). */
        if (link_verdict(s) == NULL) {
            if (track_owed(&s->tr) == 0 && s->u2c.len == 0) {
                session_close(s, "client-eof");
                return -1;
            }
        } else {
            s->unrecyclable = link_verdict(s);
            link_shutdown_write(s->link);
            s->up_shut = true;
        }
    }
    if (s->state == SESSION_LINGERING && s->u2c.len == 0) {
        shutdown(s->cfd, SHUT_WR);
    }
    update_interest(s);
    return 0;
}

/* The one place that decides what both sockets wait for. */
static void
update_interest(struct session *s)
{
    const size_t limit = s->h->sc->buffer_limit;
    bool crd = !s->client_eof && s->c2u.len < limit && !s->stale;
    bool cwr = s->u2c.len > 0;

    if (s->state == SESSION_LINGERING) {
        crd = !s->client_eof;
    }
    if (crd != s->c_reading) {
        if (crd) {
            event_add(&s->cev_read, NULL);
        } else {
            event_del(&s->cev_read);
        }
        s->c_reading = crd;
    }
    if (cwr != s->c_writing) {
        if (cwr) {
            event_add(&s->cev_write, NULL);
        } else {
            event_del(&s->cev_write);
        }
        s->c_writing = cwr;
    }
    if (s->state == SESSION_RELAYING) {
        bool urd = !s->up_eof &&
                   (s->u2c.len < limit || s->up_write_wants_read);
        bool uwr = !s->up_eof && !s->up_wdead &&
                   ((s->c2u.len > 0 && !s->up_write_wants_read) ||
                    s->up_read_wants_write);

        link_watch(s->link, urd, uwr);
    }
}

/* ------------------------------------------------------------ callbacks */

static void
client_cb(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    bool had_room = s->u2c.len < s->h->sc->buffer_limit;

    session_io_count++;
    (void)fd;
    if ((what & EV_WRITE) && client_flush(s) < 0) {
        return;
    }
    if ((what & EV_READ) && client_read(s) < 0) {
        return;
    }
    if (s->state == SESSION_RELAYING) {
        /* Bytes the client sent go out now; bytes TLS still holds come in
         * now that the client took some (epoll will not tell us). */
        if (s->c2u.len > 0 && flush_c2u(s) < 0) {
            return;
        }
        if (!had_room && !s->up_eof && link_has_pending(s->link) &&
            up_read(s) < 0) {
            return;
        }
    }
    (void)settle(s);
}

static void
link_io(struct link *link, short what, void *arg)
{
    struct session *s = arg;

    session_io_count++;
    (void)link;
    (void)what;
    if (s->c2u.len > 0 && flush_c2u(s) < 0) {
        return;
    }
    if (!s->up_eof && up_read(s) < 0) {
        return;
    }
    (void)settle(s);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    double idle = s->h->sc->client_idle_timeout;
    struct timeval now;
    double quiet;

    (void)fd;
    (void)what;
    if (s->state == SESSION_LINGERING) {
        session_close(s, s->reason);
        return;
    }
    if (s->client_eof) {
        session_close(s, "client-eof");
        return;
    }
    event_base_gettimeofday_cached(s->h->base, &now);
    quiet = elapsed(&s->last_active, &now);
    if (idle > 0 && quiet >= idle) {
        session_close(s, "idle-timeout");
        return;
    }
    if (idle > 0) {
        set_timer(s, idle - quiet);
    }
}

/* Writes "-ERR redsleeve: ..." and lingers: the link never became usable. */
static void
refuse(struct session *s, const char *why)
{
    char line[SESSION_ERROR_MAX + 128];
    int n;

    n = snprintf(line, sizeof(line), "-ERR redsleeve: upstream %s (%s) "
                 "unreachable: %s\r\n", s->h->sc->name, s->h->sc->upstream,
                 why);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        memcpy(line + n - 2, "\r\n", 2);
    }
    pending_release(&s->c2u);   /* never sent anywhere */
    s->up_broken = true;
    s->state = SESSION_RELAYING;
    if (to_client(s, line, (size_t)n) < 0) {
        return;
    }
    (void)linger(s, "upstream-unreachable");
}

static void
link_ready(struct link *link, const char *error, void *arg)
{
    struct session *s = arg;

    if (error != NULL) {
        char why[SESSION_ERROR_MAX];

        /* error lives in the link: keep a copy before freeing it. */
        snprintf(why, sizeof(why), "%s", error);
        pool_note_failure(s->h->pool, why);
        log_debug("event=upstream-fail s=%016" PRIx64 " reason=\"%s\"", s->id,
                  why);
        link_free(link, false);
        s->link = NULL;
        refuse(s, why);
        return;
    }
    pool_note_ok(s->h->pool);
    log_debug("event=ready s=%016" PRIx64 " upstream=%s tls=%s cipher=%s "
              "resumed=%d", s->id, link_peer(link), link_tls_version(link),
              link_tls_cipher(link), link_resumed(link) ? 1 : 0);
    s->state = SESSION_RELAYING;
    link_set_io(link, link_io, s);
    if (s->c2u.len > 0 && flush_c2u(s) < 0) {
        return;
    }
    (void)settle(s);
}

int
session_new(struct session_host *h, int fd, const struct sockaddr *addr,
            int addrlen)
{
    struct session *s = calloc(1, sizeof(*s));
    int one = 1;

    if (s == NULL) {
        close(fd);
        return -1;
    }
    s->h = h;
    s->cfd = fd;
    s->id = ++*h->next_id;
    describe_client(addr, addrlen, s->client, sizeof(s->client));
    if (addr->sa_family != AF_UNIX) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    event_base_gettimeofday_cached(h->base, &s->started);
    s->last_active = s->started;
    event_assign(&s->cev_read, h->base, fd, EV_READ | EV_PERSIST, client_cb,
                 s);
    event_assign(&s->cev_write, h->base, fd, EV_WRITE | EV_PERSIST,
                 client_cb, s);
    evtimer_assign(&s->ev_timer, h->base, timer_cb, s);
    resp_init(&s->rq, RESP_REQUESTS);
    resp_init(&s->rp, RESP_REPLIES);
    track_init(&s->tr);
    s->link = pool_take(h->pool);
    if (s->link != NULL) {
        /* A warm link: no handshake on this client's path. */
        s->reused = true;
        s->state = SESSION_RELAYING;
        link_set_io(s->link, link_io, s);
    } else {
        s->link = link_new(h->lp, link_ready, s);
    }
    if (s->link == NULL) {
        close(fd);
        free(s);
        return -1;
    }
    s->next = h->sessions;
    if (h->sessions != NULL) {
        h->sessions->prev = s;
    }
    h->sessions = s;
    h->nsessions++;
    h->total++;
    if (h->sc->client_idle_timeout > 0) {
        set_timer(s, h->sc->client_idle_timeout);
    }
    log_debug("event=accept s=%016" PRIx64 " service=%s client=%s", s->id,
              h->sc->name, s->client);
    update_interest(s);
    return 0;
}
