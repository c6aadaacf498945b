/*
 * session.c: the data path (design.md 2a): a session's start and its two
 * directions.  How a session ends (the link's verdict, half-closes,
 * lingering, timeouts, session_close) is session_end.c's; the pending
 * buffers, the warm list, the timer and the event interest, which both
 * use, are session_io.c's; struct session is laid out in session_int.h.
 *
 * Both sockets keep a persistent read event; bytes read are written at
 * once, in the same callback, straight from the loop's scratch buffer.
 * Only when the destination cannot take them all does the rest go into a
 * pending buffer of that direction, lent for as long as the write is
 * blocked and freed once it drains.  A direction's pending bytes never
 * exceed buffer_limit: at the limit its source stops being read
 * (backpressure), so a client that never reads cannot make us buffer more.
 *
 * Until the link is ready, client bytes are held (bounded); if the link
 * fails, the client gets one RESP error line and those bytes are dropped:
 * nothing reaches the upstream without TLS, and nothing before AUTH
 * succeeded.
 */
#include "session.h"
#include "session_int.h"

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

#include "cluster_rewrite.h"
#include "config.h"
#include "mux.h"
#include "pool.h"
#include "resp.h"
#include "track.h"

#define HALF_CLOSE_SECONDS 30.0     /* wait for the server after client EOF */

static void client_cb(evutil_socket_t fd, short what, void *arg);

_Thread_local unsigned long session_io_count;
static void link_io(struct link *link, short what, void *arg);
static void link_ready(struct link *link, const char *error, void *arg);

/* ------------------------------------------------------------ helpers */

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
            buf_consume(&s->c2u, n, 0);
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
        buf_release(&s->c2u);
        return 0;
    }
    return 0;
}

/*
 * session_to_client(s, buf, n): delivers n server bytes, holding what the socket
 * does not take.  Returns 0, or -1 when the session was closed.
 */
int
session_to_client(struct session *s, const char *buf, size_t n)
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
        buf_append(&s->u2c, buf + w, n - (size_t)w,
                               s->h->sc->buffer_limit) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ cluster */

/* The rewriter's map: the service's (h->node_port). */
static int
node_port_cb(void *arg, const struct cluster_node_ref *ref)
{
    struct session *s = arg;

    return s->h->node_port(s->h->node_arg, ref, s->h->sc->upstream_host);
}

/*
 * hold_begins(s, first): at a reply boundary, whether the reply starting
 * with byte first is held whole: the answer to a CLUSTER request that
 * names nodes, or an error line (it may be -MOVED or -ASK).
 */
static bool
hold_begins(struct session *s, char first)
{
    while (s->ncq > 0 && s->cq[0].ordinal < s->tr.received) {
        memmove(s->cq, s->cq + 1, sizeof(s->cq[0]) * (size_t)--s->ncq);
    }
    if (s->tr.broken != NULL) {
        /* Replies no longer match requests (CLIENT REPLY, pub/sub, ...):
         * what comes at a CLUSTER request's number may be anything the
         * client made the server say, so nothing is taken as topology. */
        s->ncq = 0;
    }
    if (first == '>') {
        return false;   /* a RESP3 push is no reply */
    }
    if (s->ncq > 0 && s->cq[0].ordinal == s->tr.received) {
        s->hold_kind = s->cq[0].kind;
        return true;
    }
    s->hold_kind = CLUSTER_REPLY_REDIRECT;
    return first == '-';
}

/* hold_release(s, seg, pos): a held reply goes on unrewritten (the
 * scanner gave up on it); *seg moves to pos.  0, or -1 when closed. */
static int
hold_release(struct session *s, size_t *seg, size_t pos)
{
    s->holding = false;
    if (session_to_client(s, s->held.data + s->held.off, s->held.len) < 0) {
        return -1;
    }
    buf_release(&s->held);
    *seg = pos;
    return 0;
}

/*
 * hold_done(s, f): the held reply is whole (f its frame): rewritten when
 * it names nodes, else passed on as it came.  0, or -1 when closed.
 */
static int
hold_done(struct session *s, const struct resp_frame *f)
{
    struct cluster_out out = {0};
    int r = 0, rc;

    s->holding = false;
    if (f->type == '-' && strncmp(f->head, "MOVED ", 6) == 0) {
        s->h->cluster_moved++;      /* the topology changed: ask again */
    }
    if (s->hold_kind != CLUSTER_REPLY_REDIRECT ||
        (f->type == '-' && cluster_is_redirect(f->head))) {
        r = cluster_rewrite((enum cluster_reply)s->hold_kind,
                            s->held.data + s->held.off, s->held.len,
                            node_port_cb, s, &out);
    }
    if (r == 1) {
        s->h->cluster_rewrites++;
        s->h->cluster_redirects += s->hold_kind == CLUSTER_REPLY_REDIRECT;
        rc = session_to_client(s, out.buf, out.len);
    } else {
        rc = session_to_client(s, s->held.data + s->held.off, s->held.len);
    }
    free(out.buf);
    if (rc == 0) {
        buf_release(&s->held);
    }
    return rc;
}

/*
 * session_relay_replies(s, buf, n): passes server bytes to the client while the
 * reply scanner counts them, dropping the reply to our own AUTH after a
 * client's RESET (which must be +OK).  Returns 0, or -1 when closed.
 */
int
session_relay_replies(struct session *s, const char *buf, size_t n)
{
    size_t pos = 0, seg = 0;

    if (s->scan_off) {
        return session_to_client(s, buf, n);
    }
    while (pos < n) {
        struct resp_frame f;
        size_t used;
        enum resp_status st;

        if (!s->swallowing && resp_at_boundary(&s->rp) && buf[pos] != '>' &&
            track_next_is_ours(&s->tr)) {
            if (pos > seg && session_to_client(s, buf + seg, pos - seg) < 0) {
                return -1;
            }
            s->swallowing = true;
        } else if (s->h->node_port != NULL && !s->swallowing && !s->holding &&
                   resp_at_boundary(&s->rp) && hold_begins(s, buf[pos])) {
            if (pos > seg && session_to_client(s, buf + seg, pos - seg) < 0) {
                return -1;
            }
            seg = pos;
            s->holding = true;
        }
        st = resp_scan(&s->rp, buf + pos, n - pos, &used, &f);
        if (st == RESP_ERROR) {
            /* Not RESP as we know it: relay on, never recycle. */
            track_break(&s->tr, "bad-reply");
            s->scan_off = true;
            if (s->swallowing || s->tr.nreauth > 0) {
                /* Blind, we could no longer keep our AUTH's reply from
                 * the client. */
                s->up_broken = true;
                session_close(s, "reauth-failed");
                return -1;
            }
            if (s->holding && hold_release(s, &seg, pos) < 0) {
                return -1;  /* what was held goes on first, as it came */
            }
            break;
        }
        if (s->holding) {
            if (s->held.len + used > s->h->sc->buffer_limit) {
                /* Too big to hold: it goes on as it is. */
                log_info("event=cluster-reply-unrewritten s=%016" PRIx64
                         " service=%s reason=\"longer than buffer_limit "
                         "(%zu bytes)\"", s->id, s->h->sc->name,
                         s->h->sc->buffer_limit);
                if (session_to_client(s, s->held.data + s->held.off,
                              s->held.len) < 0) {
                    return -1;
                }
                buf_release(&s->held);
                s->holding = false;
                seg = pos;
            } else if (buf_append(&s->held, buf + pos, used,
                                              s->h->sc->buffer_limit) < 0) {
                session_close(s, "out-of-memory");
                return -1;
            } else {
                seg = pos + used;
            }
        }
        pos += used;
        if (st == RESP_FRAME && s->pinned) {
            track_pinned_reply(&s->pin, &s->tr, &f);
        }
        if (st == RESP_FRAME && s->holding) {
            if (track_reply(&s->tr, &f) && s->swallowing) {
                s->swallowing = false;  /* cannot be: held is never ours */
            }
            if (s->ncq > 0 && s->cq[0].ordinal == s->tr.received - 1) {
                memmove(s->cq, s->cq + 1,
                        sizeof(s->cq[0]) * (size_t)--s->ncq);
            }
            if (hold_done(s, &f) < 0) {
                return -1;
            }
            continue;
        }
        if (st == RESP_FRAME && f.type == '-' && !s->stale &&
            s->h->sc->role == ROLE_PRIMARY &&
            (strncmp(f.head, "READONLY", 8) == 0 ||
             strncmp(f.head, "LOADING", 7) == 0)) {
            /* The primary moved (failover) or is not serving yet: this
             * reply still reaches the client, then the client is closed
             * at the next command boundary and reconnects. */
            s->stale = true;
            s->h->stale_cb(s->h, s->link != NULL ? link_peer(s->link)
                                 : s->ml != NULL ? mux_link_peer(s->ml)
                                 : s->h->sc->upstream,
                           f.head, s->h->closed_arg);
            if (s->ml != NULL) {
                /* Its shared link is on that server too: no new client
                 * goes on it, and it is closed once quiet. */
                mux_stale(s->ml);
            }
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
            link_auth_renewed(s->link);
            if (s->reauth_timed) {
                s->reauth_timed = false;
                pool_note_reauth(s->h->pool);
                log_debug("event=reauth s=%016" PRIx64 " service=%s "
                          "result=ok", s->id, s->h->sc->name);
            }
        }
    }
    if (s->swallowing || s->holding) {
        return 0;   /* the rest is our reply, or held, still arriving */
    }
    return n > seg ? session_to_client(s, buf + seg, n - seg) : 0;
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
        session_touch(s);
        if (session_relay_replies(s, s->h->scratch, n) < 0) {
            return -1;
        }
        if (!link_has_pending(s->link)) {
            break;      /* level-triggered epoll calls again for more */
        }
    }
    if (!s->up_eof) {
        session_settle_buffers(s);
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
    if (buf_append(&s->c2u, buf, n, limit) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
}

/* A request whose reply names nodes: its number is remembered (the next
 * counted one, as track_request will number it). */
static void
note_cluster_request(struct session *s, const struct resp_frame *f)
{
    enum cluster_reply k = cluster_request_kind(f->name, f->arg1);

    if (k == CLUSTER_REPLY_NONE || resp_frame_is_empty_request(f) ||
        s->tr.broken != NULL) {
        return;
    }
    if (s->ncq == SESSION_CQ_MAX) {
        log_debug("event=cluster-untracked s=%016" PRIx64 " reason=\"more "
                  "than %d CLUSTER requests in flight\"", s->id,
                  SESSION_CQ_MAX);
        return;
    }
    s->cq[s->ncq].ordinal = s->tr.sent;
    s->cq[s->ncq].kind = (int)k;
    s->ncq++;
}

/*
 * session_relay_requests(s, buf, n): passes client bytes on while the request
 * scanner counts them; after a client's RESET, our AUTH goes right behind
 * it.  Returns 0, or -1 when closed.
 */
int
session_relay_requests(struct session *s, const char *buf, size_t n)
{
    const struct auth_cmd *auth = s->h->lp->auth;
    size_t pos = 0, seg = 0;

    while (!s->scan_off && pos < n) {
        struct resp_frame f;
        size_t used;
        enum resp_status st = resp_scan(&s->rq, buf + pos, n - pos, &used,
                                        &f);

        if (st == RESP_ERROR) {
            /* The server will answer with an error and close; relay it.
             * Unless an AUTH of ours is unanswered: blind, its reply
             * would reach the client. */
            track_break(&s->tr, "bad-request");
            s->scan_off = true;
            if (s->swallowing || s->tr.nreauth > 0) {
                s->up_broken = true;
                session_close(s, "reauth-pending");
                return -1;
            }
            break;
        }
        pos += used;
        if (st == RESP_FRAME && s->h->node_port != NULL) {
            note_cluster_request(s, &f);
        }
        if (st == RESP_FRAME && s->pinned) {
            track_pinned_request(&s->pin, &s->tr, &f);
        }
        if (st == RESP_FRAME && track_request(&s->tr, &f) == TRACK_REAUTH &&
            auth->on) {
            char *cmd;
            size_t clen;
            int r;

            /* Counted before it is sent: an AUTH we could not follow
             * would have its +OK reach the client. */
            if (track_injected(&s->tr) < 0) {
                session_close(s, "too-many-resets");
                return -1;
            }
            s->c2u.secret = true;       /* wiped when released */
            if (to_server(s, buf + seg, pos - seg) < 0) {
                return -1;
            }
            if (auth_cmd_render(auth, time(NULL), &cmd, &clen) < 0) {
                session_close(s, "auth-unavailable");
                return -1;
            }
            r = to_server(s, cmd, clen);
            auth_buf_free(cmd, clen);
            if (r < 0) {
                return -1;
            }
            seg = pos;
        }
    }
    return n > seg ? to_server(s, buf + seg, n - seg) : 0;
}

/*
 * reauth_if_due(s): IAM.  ElastiCache ends a connection 12 hours after its
 * last AUTH; a link a client holds logs in again every iam_reauth_interval,
 * at a point where our AUTH can land inside nothing of the client's: no
 * half request, every reply in (so nothing blocks), no MULTI open, replies
 * still countable (no pub/sub, MONITOR, CLIENT REPLY).  Its +OK is
 * swallowed (relay_replies); anything else closes the session.  A link
 * that never reaches such a point is ended by the server, as it would be
 * without us.  Returns 0, or -1 when s was closed.
 */
static int
reauth_if_due(struct session *s)
{
    const struct auth_cmd *auth = s->h->lp->auth;
    char *cmd, why[160];
    size_t clen;
    int r;

    if (s->state != SESSION_RELAYING || s->scan_off || s->swallowing ||
        s->client_eof || s->up_eof || s->up_wdead || s->stale ||
        link_auth_age(s->link) < s->h->sc->iam_reauth_interval ||
        !resp_at_boundary(&s->rq) || !resp_at_boundary(&s->rp) ||
        !track_is_quiet(&s->tr)) {
        return 0;
    }
    if (s->tr.own_auth) {
        return 0;   /* the client logged in as itself: not ours to renew */
    }
    if (auth_cmd_render_why(auth, time(NULL), &cmd, &clen, why,
                            sizeof(why)) < 0) {
        if (!s->reauth_warned) {
            s->reauth_warned = true;
            log_warn("event=reauth-failed s=%016" PRIx64 " service=%s "
                     "error=\"%s\" action=\"retried every second\"", s->id,
                     s->h->sc->name, why);
        }
        return 0;
    }
    if (track_injected(&s->tr) < 0) {   /* counted before it is sent */
        auth_buf_free(cmd, clen);
        return 0;
    }
    s->reauth_timed = true;
    s->c2u.secret = true;       /* wiped when released */
    r = to_server(s, cmd, clen);
    auth_buf_free(cmd, clen);
    return r;
}

/* Every second: held links of an IAM service due a fresh AUTH. */
static void
reauth_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct session_host *h = arg;
    struct session *s, *next;

    (void)fd;
    (void)what;
    for (s = h->sessions; s != NULL; s = next) {
        next = s->next;
        if (reauth_if_due(s) == 0) {
            (void)session_settle(s);
        }
    }
}

/*
 * session_take_link(s): s gets a link of its own: an idle one from the
 * pool (relaying at once) or a new one (connecting; client bytes held
 * until it is ready).  0, or -1 when s was closed (out of memory).
 */
int
session_take_link(struct session *s)
{
    struct session_host *h = s->h;

    s->state = SESSION_CONNECTING;
    s->link = pool_take(h->pool);
    if (s->link != NULL) {
        s->reused = true;
        s->state = SESSION_RELAYING;
        link_set_io(s->link, link_io, s);
    } else if ((s->link = link_new(h->lp, link_ready, s)) == NULL) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
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
        /* A recyclable link waits for the replies owed (they still reach
         * the client: it may only have shut down its sending side) at
         * most drain_timeout; any other passes the close on
         * (session_settle()). */
        session_set_timer(s, session_link_verdict(s) == NULL &&
                                 s->h->sc->drain_timeout < HALF_CLOSE_SECONDS
                             ? s->h->sc->drain_timeout : HALF_CLOSE_SECONDS);
        return 0;
    }
    s->rx += (size_t)n;
    s->h->rx_total += (size_t)n;
    session_touch(s);
    if (s->state == SESSION_LINGERING || s->up_wdead) {
        return 0;   /* the server is gone: drop */
    }
    if (s->state == SESSION_SHARED) {
        /* session_shared.c's, through the host (it sits above us) */
        return s->h->shared_read(s, s->h->scratch, (size_t)n);
    }
    return session_relay_requests(s, s->h->scratch, (size_t)n);
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
        buf_consume(&s->u2c, (size_t)w, 0);
    }
    return 0;
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
    if (s->ml != NULL && !had_room && s->u2c.len < s->h->sc->buffer_limit) {
        mux_kick(s->ml);    /* its shared link waited for room here */
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
        if (s->h->lp->auth->iam && reauth_if_due(s) < 0) {
            return;
        }
        if (s->pinned && s->h->unpin(s) < 0) {
            return;
        }
    }
    (void)session_settle(s);
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
    if (s->h->lp->auth->iam && reauth_if_due(s) < 0) {
        return;
    }
    if (s->pinned && s->h->unpin(s) < 0) {
        return;
    }
    (void)session_settle(s);
}


/* Writes "-ERR redsleeve: ..." and lingers: the link never became usable. */
void
session_refuse(struct session *s, const char *why)
{
    char line[SESSION_ERROR_MAX + 128];
    int n;

    /* why says what happened first: "unreachable: ...", "AUTH rejected:
     * ...", "certificate rejected: ..." (upstream.h, enum link_fail). */
    n = snprintf(line, sizeof(line), "-ERR redsleeve: upstream %s (%s) "
                 "%s\r\n", s->h->sc->name, s->h->sc->upstream, why);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        memcpy(line + n - 2, "\r\n", 2);
    }
    buf_release(&s->c2u);   /* never sent anywhere */
    s->up_broken = true;
    s->state = SESSION_RELAYING;
    if (session_to_client(s, line, (size_t)n) < 0) {
        return;
    }
    (void)session_linger(s, "upstream-unreachable");
}

static void
link_ready(struct link *link, const char *error, void *arg)
{
    struct session *s = arg;

    if (error != NULL) {
        char why[SESSION_ERROR_MAX];

        /* error lives in the link: keep a copy before freeing it. */
        snprintf(why, sizeof(why), "%s", error);
        pool_note_link_failed(s->h->pool, link_failure_step(link), why);
        log_debug("event=upstream-fail s=%016" PRIx64 " reason=\"%s\"", s->id,
                  why);
        link_free(link, false);
        s->link = NULL;
        session_refuse(s, why);
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
    (void)session_settle(s);
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
    evtimer_assign(&s->ev_timer, h->base, session_timer_cb, s);
    resp_init(&s->rq, RESP_REQUESTS);
    resp_init(&s->rp, RESP_REPLIES);
    track_init(&s->tr);
    if (h->mux != NULL) {
        /* Shared: no link until it needs one of its own. */
        s->state = SESSION_SHARED;
    } else if (pool_note_demand(h->pool, h->nsessions + 1),
               (s->link = pool_take(h->pool)) != NULL) {
        /* A warm link: no handshake on this client's path. */
        s->reused = true;
        s->state = SESSION_RELAYING;
        link_set_io(s->link, link_io, s);
    } else {
        s->link = link_new(h->lp, link_ready, s);
    }
    if (s->link == NULL && s->state != SESSION_SHARED) {
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
        session_set_timer(s, h->sc->client_idle_timeout);
    }
    if (h->lp->auth->iam && h->ev_reauth == NULL &&
        (h->ev_reauth = event_new(h->base, -1, EV_PERSIST, reauth_sweep_cb,
                                  h)) != NULL) {
        event_add(h->ev_reauth, &(struct timeval){1, 0});
    }
    log_debug("event=accept s=%016" PRIx64 " service=%s client=%s", s->id,
              h->sc->name, s->client);
    session_update_interest(s);
    return 0;
}
