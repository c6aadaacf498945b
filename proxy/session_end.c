/*
 * session_end.c: how a session ends, and what becomes of its link.
 *
 * Owns the decisions made once either side is finished: whether the link
 * may go back to the pool (session_link_verdict), passing a side's EOF on
 * (session_settle), lingering for the client's FIN (session_linger), the
 * idle, drain and linger timers (session_timer_cb), and the single
 * teardown, session_close.  It moves no payload bytes: relaying, the
 * pending buffers and the event interest are session.c's.
 *
 * Closes: a side's EOF is passed on only after every byte already read
 * from it was delivered (TLS close_notify towards the server, a TCP FIN
 * towards the client).
 */
#include "session.h"
#include "session_int.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mux.h"
#include "pool.h"
#include "resp.h"
#include "track.h"

#define LINGER_SECONDS 2.0          /* wait for the client's FIN after ours */

/*
 * session_link_verdict(s): NULL when the link can go back to the pool,
 * else why not.  Clean means: ready and unbroken, every client byte
 * delivered, no half request, and replies still countable (track.c).
 */
const char *
session_link_verdict(const struct session *s)
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
    if (track_is_blocking(&s->tr)) {
        /* Waiting for a BLPOP's reply would let the orphaned link pop
         * the next job and throw it away: the server must see the
         * client go, as it would without us. */
        return "blocked";
    }
    if (s->drain_expired) {
        return "drain-timeout";
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
    session_warm_remove(s);
    event_base_gettimeofday_cached(h->base, &now);
    why = s->link == NULL && s->unrecyclable != NULL ? s->unrecyclable
                                                     : session_link_verdict(s);
    snprintf(link_end, sizeof(link_end), "%s%s", why ? "close:" : "recycle",
             why ? why : "");
    log_info("event=close s=%016" PRIx64 " service=%s client=%s upstream=%s "
             "rx=%" PRIu64 " tx=%" PRIu64 " duration=%.3f reason=%s link=%s "
             "link_end=%s", s->id, h->sc->name, s->client,
             s->link ? link_peer(s->link) : h->sc->upstream, s->rx, s->tx,
             session_elapsed(&s->started, &now), s->reason,
             h->mux != NULL && !s->pinned ? "shared"
             : s->reused ? "pooled" : "new", link_end);
    mux_forget(s->ml, s);   /* replies still owed to it are dropped */
    s->ml = NULL;
    if (s->pinned) {
        h->npinned--;
    }
    if (s->link != NULL && why == NULL) {
        pool_recycle(h->pool, s->link, &s->rp, track_owed(&s->tr),
                     track_is_clean(&s->tr));
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
    buf_release(&s->c2u);
    buf_release(&s->u2c);
    buf_release(&s->held);
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

/*
 * session_linger(s, reason): the server side is finished.  Frees the
 * link, sends our FIN to the client once its pending bytes are out, and
 * reads (and drops) whatever the client still sends until its FIN or a
 * short time, so that closing never turns into a reset that could eat the
 * last reply.
 * Returns 0, or -1 when it closed the session (s is gone).
 */
int
session_linger(struct session *s, const char *reason)
{
    if (s->reason == NULL) {
        s->reason = reason;
    }
    if (s->state != SESSION_LINGERING) {
        s->state = SESSION_LINGERING;
        link_free(s->link, !s->up_broken);
        s->link = NULL;
        buf_release(&s->c2u);
        evtimer_del(&s->ev_timer);
        session_set_timer(s, LINGER_SECONDS);
    }
    if (s->u2c.len == 0) {
        shutdown(s->cfd, SHUT_WR);
        if (s->client_eof) {
            session_close(s, s->reason);
            return -1;
        }
    }
    session_update_interest(s);
    return 0;
}

/*
 * session_settle(s): after any progress, passes on closes that are now
 * due and refreshes which events we wait for.  Returns 0, or -1 when
 * closed.
 */
int
session_settle(struct session *s)
{
    if (s->state == SESSION_SHARED) {
        /* in: every reply owed is in; a stale client then goes at once
         * (what waits is never sent), any other once nothing whole waits
         * either (a backlog still goes out after the client's FIN) */
        bool in = track_owed(&s->tr) == 0 && resp_at_boundary(&s->rp);

        if (in && s->stale) {
            s->unrecyclable = "stale";
            return session_linger(s, "failover");
        }
        if (in && !s->pin_wait && !s->backlog && s->client_eof &&
            s->u2c.len == 0) {
            session_close(s, "client-eof");
            return -1;
        }
        session_update_interest(s);
        return 0;
    }
    if (s->state == SESSION_RELAYING && s->stale && s->c2u.len == 0 &&
        track_owed(&s->tr) == 0 && resp_at_boundary(&s->rp)) {
        /* Every reply owed was relayed: close now, never send more. */
        s->unrecyclable = "stale";
        return session_linger(s, "failover");
    }
    if (s->state == SESSION_RELAYING && s->up_eof && s->u2c.len == 0) {
        return session_linger(s, s->up_broken ? "upstream-error"
                         : s->client_eof ? "client-eof" : "upstream-eof");
    }
    if (s->state == SESSION_RELAYING && s->up_eof) {
        /* Stop the server side now; deliver what it said first. */
        session_update_interest(s);
        return 0;
    }
    if (s->state == SESSION_RELAYING && s->client_eof && !s->up_shut &&
        s->c2u.len == 0) {
        /* The client sent all it will.  A recyclable link waits for the
         * replies still owed, delivers them, and goes back to the pool;
         * any other link passes the close on (close_notify). */
        if (session_link_verdict(s) == NULL) {
            if (track_owed(&s->tr) == 0 && s->u2c.len == 0) {
                session_close(s, "client-eof");
                return -1;
            }
        } else {
            s->unrecyclable = session_link_verdict(s);
            link_shutdown_write(s->link);
            s->up_shut = true;
        }
    }
    if (s->state == SESSION_LINGERING && s->u2c.len == 0) {
        shutdown(s->cfd, SHUT_WR);
    }
    session_update_interest(s);
    return 0;
}

void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
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
        s->drain_expired = track_owed(&s->tr) > 0;
        session_close(s, "client-eof");
        return;
    }
    event_base_gettimeofday_cached(s->h->base, &now);
    quiet = session_elapsed(&s->last_active, &now);
    if (idle > 0 && quiet >= idle) {
        session_close(s, "idle-timeout");
        return;
    }
    if (idle > 0) {
        session_set_timer(s, idle - quiet);
    }
}
