/*
 * session_io.c: what a session holds and waits on, below both the data
 * path (session.c) and the end of a session (session_end.c).
 *
 * Owns the warm list that hands idle sessions' TLS buffers back
 * (h->warm, h->ev_cool), the session's timer, and session_update_interest,
 * the one place that decides what both sockets wait for.  A direction's
 * pending bytes are a struct buf (buf.h).  It calls nothing in session.c or session_end.c: it moves no
 * bytes and ends no session.
 */
#include "session.h"
#include "session_int.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mux.h"
#include "track.h"
#include "upstream.h"

/* ------------------------------------------------------------ warm list */

/*
 * TLS buffers: OpenSSL's 17 KiB read and write buffers are kept while a
 * session is busy (freeing them after every record, as
 * SSL_MODE_RELEASE_BUFFERS does, costs a malloc and a free per request)
 * and handed back once it has been quiet for COOL_SECONDS:
 * session_touch() puts a session on h->warm, cool_cb() sweeps it every
 * COOL_SECONDS.  A session that was quiet before its last exchange is
 * likely quiet after it: its buffers go back as soon as every reply is in
 * (session_settle_buffers()), so the many idle clients of an app's
 * connection pool never hold any.
 */
#define COOL_SECONDS 0.1

void
session_warm_remove(struct session *s)
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
        if (session_elapsed(&s->last_active, &now) >= COOL_SECONDS) {
            if (s->link != NULL) {
                link_release_buffers(s->link);
            }
            session_warm_remove(s);
        }
    }
    if (h->warm != NULL) {
        cool_arm(h);
    }
    link_heap_trim(h->warm == NULL);
}

/* Every reply is in and nothing waits either way: a session that had
 * been quiet before this exchange gives its buffers back now. */
void
session_settle_buffers(struct session *s)
{
    struct timeval now;

    if (s->link == NULL || s->scan_off || s->u2c.len > 0 || s->c2u.len > 0 ||
        track_owed(&s->tr) != 0 || link_has_pending(s->link)) {
        return;
    }
    event_base_gettimeofday_cached(s->h->base, &now);
    if (session_elapsed(&s->settled, &now) >= COOL_SECONDS) {
        link_release_buffers(s->link);
    }
    s->settled = now;
}

void
session_touch(struct session *s)
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

/* ------------------------------------------------------------ timer */

void
session_set_timer(struct session *s, double seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    evtimer_add(&s->ev_timer, &tv);
}

double
session_elapsed(const struct timeval *from, const struct timeval *to)
{
    return (double)(to->tv_sec - from->tv_sec) +
           (double)(to->tv_usec - from->tv_usec) / 1e6;
}

void
session_host_clear(struct session_host *h)
{
    mux_free(h->mux);
    h->mux = NULL;
    if (h->ev_cool != NULL) {
        event_free(h->ev_cool);
        h->ev_cool = NULL;
    }
    if (h->ev_reauth != NULL) {
        event_free(h->ev_reauth);
        h->ev_reauth = NULL;
    }
}

/* ------------------------------------------------------------ interest */

/* The one place that decides what both sockets wait for. */
void
session_update_interest(struct session *s)
{
    const size_t limit = s->h->sc->buffer_limit;
    bool crd = !s->client_eof && s->c2u.len < limit && !s->stale &&
               !s->pin_wait && !s->backlog;
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
