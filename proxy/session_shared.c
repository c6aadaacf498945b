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
 */
#include "session.h"
#include "session_int.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mux.h"
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
    if (n > 0 && session_pending_append(&s->c2u, buf, n,
                                        s->h->sc->buffer_limit) < 0) {
        session_close(s, "out-of-memory");
        return -1;
    }
    return 0;
}

/* Whether s may send more now (the in-flight bounds). */
static bool
may_send(const struct session *s)
{
    return track_owed(&s->tr) < SESSION_SHARED_INFLIGHT &&
           s->ml_bytes < s->h->sc->buffer_limit;
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
    return 1;
}

int
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
            session_pending_release(&s->c2u);
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
            session_pending_release(&s->c2u);
            seg = pos;
            continue;
        }
        nreq++;
    }
    return send_whole(s, buf + seg, n - seg, nreq);
}

int
session_shared_resume(struct session *s)
{
    struct pending p;
    int r;

    if (!s->backlog || s->pin_wait || !may_send(s)) {
        return 0;
    }
    p = s->c2u;
    memset(&s->c2u, 0, sizeof(s->c2u));
    s->backlog = false;
    r = session_shared_feed(s, p.data + p.off, p.len);
    session_pending_release(&p);
    return r;
}
