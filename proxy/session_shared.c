/*
 * session_shared.c: a shared-mode client's requests (pool_mode = shared).
 *
 * A client that is not pinned holds no link.  Its bytes are framed by
 * its request scanner; every whole request that may share a link
 * (track_pin_reason) is counted (track_request) and handed, with the
 * other whole requests of the same read, to its shared link (mux.h) in
 * one piece.  A request cut short by the read waits in c2u until its end
 * arrives.  The first request that may not share a link ends this: that
 * request and everything after it stay in c2u, unscanned, and the client
 * is pinned (session.c) once every reply it is owed came back, so that
 * its replies stay in order.  A client with SESSION_SHARED_INFLIGHT
 * requests (or buffer_limit bytes) in flight is not read until they come
 * back: what it already sent waits in c2u, unscanned (backlog).
 *
 * Invariant of c2u while the session is shared: with backlog or
 * pin_wait, unscanned bytes from a request boundary (the scanner is at a
 * boundary); otherwise the scanned start of the request being read, or
 * nothing.
 *
 * This file also owns the rest of shared mode's session side: the
 * callbacks its shared links report through (mux_ops: replies, room,
 * failure), pinning (pin_when_quiet) and unpinning (unpin: a client whose
 * transaction ended or whose blocking command returned, having touched
 * nothing else, goes back to shared links).  session.c reaches it only
 * through the host's shared_read hook, set by session_host_shared.
 */
#include "session.h"
#include "session_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mux.h"
#include "pool.h"
#include "resp.h"
#include "track.h"

/* Sends whole requests buf[0..n) (nreq of them).  0, or -1 when closed. */
static int
send_whole(struct session *s, const char *buf, size_t n, unsigned nreq)
{
    if (n == 0) {
        return 0;
    }
    if (mux_send(s->h->mux, &s->ml, s, buf, n, nreq) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    s->ml_bytes += n;
    return 0;
}

/* Keeps buf[0..n) in c2u, after what is there.  0, or -1 when closed. */
static int
keep(struct session *s, const char *buf, size_t n)
{
    if (n > 0 && buf_append(&s->c2u, buf, n,
                                        s->h->sc->buffer_limit) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
}

/* Whether s may send more now: the in-flight bounds, and its link still
 * takes requests (a retired one is left once nothing is owed on it). */
static bool
may_send(const struct session *s)
{
    return track_owed(&s->tr) < SESSION_SHARED_INFLIGHT &&
           s->ml_bytes < s->h->sc->buffer_limit &&
           (s->ml == NULL || !mux_link_retired(s->ml));
}

/*
 * pin_from(s, buf, fstart, n, why): the request starting at buf[fstart]
 * (with c2u holding its scanned start, if any) needs a link of s's own:
 * it and the rest of buf wait in c2u, unscanned.  Returns 1, or -1 when
 * closed.
 */
static int
pin_from(struct session *s, const char *buf, size_t fstart, size_t n,
         enum track_pin why)
{
    if (keep(s, buf + fstart, n - fstart) < 0) {
        return -1;
    }
    resp_init(&s->rq, RESP_REQUESTS);   /* rescanned when relayed */
    s->pin_wait = true;
    s->h->pins[why]++;
    log_debug("event=pin s=%016" PRIx64 " service=%s reason=%s", s->id,
              s->h->sc->name, track_pin_names[why]);
    return 1;
}

static int
session_shared_feed(struct session *s, const char *buf, size_t n)
{
    size_t pos = 0, seg = 0;
    unsigned nreq = 0;

    if (s->pin_wait || s->backlog) {
        return keep(s, buf, n);
    }
    while (pos < n) {
        size_t fstart = pos, used;
        struct resp_frame f;
        enum resp_status st;
        enum track_pin why;

        if (resp_at_boundary(&s->rq) && s->c2u.len == 0 && !may_send(s)) {
            /* Over the bound: the rest waits, unscanned. */
            if (send_whole(s, buf + seg, fstart - seg, nreq) < 0 ||
                keep(s, buf + fstart, n - fstart) < 0) {
                return -1;
            }
            s->backlog = true;
            return 0;
        }
        st = resp_scan(&s->rq, buf + pos, n - pos, &used, &f);
        if (st == RESP_ERROR) {
            /* Relayed blind on a link of its own, as session mode does. */
            if (send_whole(s, buf + seg, fstart - seg, nreq) < 0) {
                return -1;
            }
            return pin_from(s, buf, fstart, n, TRACK_PIN_UNPARSED);
        }
        if (st == RESP_NEED_MORE) {
            if (send_whole(s, buf + seg, fstart - seg, nreq) < 0 ||
                keep(s, buf + fstart, n - fstart) < 0) {
                return -1;
            }
            if (s->c2u.len >= s->h->sc->buffer_limit) {
                /* Too long to hold whole: it streams on a link of its
                 * own. */
                return pin_from(s, buf, n, n, TRACK_PIN_LARGE);
            }
            return 0;
        }
        pos += used;
        why = track_pin_reason(&f);
        if (resp_frame_is_empty_request(&f)) {
            /* The server would skip it without a reply: so do we. */
            if (send_whole(s, buf + seg, fstart - seg, nreq) < 0) {
                return -1;
            }
            buf_release(&s->c2u);
            seg = pos;
            nreq = 0;
            continue;
        }
        if (why != TRACK_PIN_NONE) {
            if (send_whole(s, buf + seg, fstart - seg, nreq) < 0) {
                return -1;
            }
            return pin_from(s, buf, fstart, n, why);
        }
        (void)track_request(&s->tr, &f);
        if (s->c2u.len > 0) {
            /* Its start came in an earlier read: one piece. */
            if (keep(s, buf, pos) < 0 ||
                send_whole(s, s->c2u.data + s->c2u.off, s->c2u.len, 1) < 0) {
                return -1;
            }
            buf_release(&s->c2u);
            seg = pos;
            continue;
        }
        nreq++;
    }
    return send_whole(s, buf + seg, n - seg, nreq);
}

static int
session_shared_resume(struct session *s)
{
    struct buf p;
    int r;

    if (!s->backlog || s->pin_wait || !may_send(s)) {
        return 0;
    }
    p = s->c2u;
    memset(&s->c2u, 0, sizeof(s->c2u));
    s->backlog = false;
    r = session_shared_feed(s, p.data + p.off, p.len);
    buf_release(&p);
    return r;
}

/* ------------------------------------------------------------ pinning */

/*
 * pin_when_quiet(s): a shared client needs a link of its own (pin_wait):
 * once every reply it is owed came back, it takes one from the pool (or
 * a new one) and what waits in c2u is relayed on it as session mode
 * relays (scanned, tracked, AUTH after RESET).  0, or -1 when closed.
 */
static int
pin_when_quiet(struct session *s)
{
    struct session_host *h = s->h;
    struct buf p;
    int r;

    if (track_owed(&s->tr) > 0 || !resp_at_boundary(&s->rp)) {
        return 0;   /* deliver_cb comes back when they are in */
    }
    s->pin_wait = false;
    s->ml = NULL;
    s->pinned = true;
    s->pin = (struct track_pinned){0};
    h->npinned++;
    pool_note_demand(h->pool, h->npinned);
    if (session_take_link(s) < 0) {
        return -1;
    }
    p = s->c2u;
    memset(&s->c2u, 0, sizeof(s->c2u));
    r = session_relay_requests(s, p.data + p.off, p.len);
    buf_release(&p);
    return r;
}

/*
 * session_host.unpin: a pinned client whose connection state is a fresh
 * link's again (track_pinned_done: its transaction ended, its blocking
 * command returned, and nothing else was touched), with nothing half
 * sent or half answered, goes back to shared links.  Its link goes back
 * to the pool, nothing owed, to be RESET there before anyone else gets
 * it: whatever the tracker missed, no state reaches the next client.  0
 * (the session stays).
 */
static int
unpin(struct session *s)
{
    struct session_host *h = s->h;
    struct link *link = s->link;

    if (s->state != SESSION_RELAYING || !track_pinned_done(&s->pin, &s->tr) ||
        !resp_at_boundary(&s->rp) || !resp_at_boundary(&s->rq) ||
        s->c2u.len > 0 || s->scan_off || s->swallowing || s->holding ||
        s->client_eof || s->up_eof || s->up_broken || s->up_wdead ||
        s->stale || s->up_write_wants_read || s->up_read_wants_write ||
        link_has_pending(link)) {
        return 0;
    }
    s->link = NULL;
    s->pinned = false;
    h->npinned--;
    h->unpins++;
    s->state = SESSION_SHARED;
    s->ml = NULL;
    s->ml_bytes = 0;
    pool_recycle(h->pool, link, &s->rp, 0, false);
    log_debug("event=unpin s=%016" PRIx64 " service=%s", s->id,
              h->sc->name);
    return 0;
}

/* mux_ops.deliver: reply bytes from s's shared link. */
static int
shared_deliver(void *owner, const char *buf, size_t n)
{
    struct session *s = owner;
    int r;

    session_io_count++;
    s->tx += n;
    s->h->tx_total += n;
    session_touch(s);
    if (session_relay_replies(s, buf, n) < 0) {
        return -1;
    }
    if (track_owed(&s->tr) == 0 && resp_at_boundary(&s->rp)) {
        s->ml = NULL;       /* free to go on any link next time */
        s->ml_bytes = 0;
    }
    if (s->stale) {
        r = 0;      /* it sends nothing more (session_settle closes it) */
    } else {
        r = s->pin_wait ? pin_when_quiet(s) : session_shared_resume(s);
    }
    if (r == 1) {
        r = pin_when_quiet(s);
    }
    if (r < 0 || session_settle(s) < 0) {
        return -1;
    }
    return 0;
}

/* mux_ops.has_room */
static bool
shared_has_room(void *owner)
{
    const struct session *s = owner;

    return s->u2c.len < s->h->sc->buffer_limit;
}

/* mux_ops.failed: the shared link with s's requests failed.  One error,
 * then s is closed: when none of them was sent (the link never became
 * ready, or they still waited to be written), the link's own error, as
 * session mode says it; else that they may or may not have run. */
static void
shared_failed(void *owner, const char *why, bool sent)
{
    struct session *s = owner;
    char line[SESSION_ERROR_MAX + 160];
    int n;

    s->ml = NULL;
    s->up_broken = true;
    s->unrecyclable = "shared-link-failed";
    if (!sent) {
        session_refuse(s, why);
        return;
    }
    if (resp_at_boundary(&s->rp)) {
        n = snprintf(line, sizeof(line), "-ERR redsleeve: the shared link "
                     "to upstream %s (%s) failed (%s); the command may or "
                     "may not have run\r\n", s->h->sc->name,
                     s->h->sc->upstream, why);
        if (n < 0 || (size_t)n >= sizeof(line)) {
            n = (int)sizeof(line) - 1;
            memcpy(line + n - 2, "\r\n", 2);
        }
        if (session_to_client(s, line, (size_t)n) < 0) {
            return;
        }
    }
    (void)session_linger(s, "shared-link-failed");
}

/* mux_ops.evict: s took no reply bytes for MUX_STALL_SECONDS while other
 * clients waited behind it on its shared link. */
static void
shared_evict(void *owner)
{
    struct session *s = owner;

    log_warn("event=slow-reader s=%016" PRIx64 " service=%s client=%s "
             "action=\"closed: other clients waited behind it for %.0f s on "
             "a shared link\"", s->id, s->h->sc->name, s->client,
             MUX_STALL_SECONDS);
    s->up_broken = true;
    session_close(s, "slow-reader");
}

static const struct mux_ops shared_ops = {
    shared_deliver, shared_has_room, shared_failed, shared_evict,
};

/* session_host.shared_read: a shared client's bytes (session.c's
 * client_read hands them here). */
static int
shared_read(struct session *s, const char *buf, size_t n)
{
    int r = session_shared_feed(s, buf, n);

    return r == 1 ? pin_when_quiet(s) : r;
}

int
session_host_shared(struct session_host *h, unsigned max_links)
{
    h->mux = mux_new(h->pool, h->lp, h->scratch, h->scratch_len, &shared_ops,
                     max_links);
    h->shared_read = shared_read;
    h->unpin = unpin;
    return h->mux != NULL ? 0 : -1;
}
