/*
 * mux.c: shared links (mux.h).
 *
 * A shared link holds the bytes of whole requests not yet written (out),
 * and a queue of who is owed the replies to come: (owner, count) in the
 * order the requests were queued.  Its reply scanner frames what the
 * server says; each frame's bytes go to the owner at the queue's head
 * (streamed: a long reply is passed on as it arrives, never held whole),
 * and a frame's end counts one reply off.  An owner that left is still
 * owed its replies: they are read and dropped.  Anything the queue cannot
 * explain (a reply nobody asked for, a RESP3 push, bytes that are not
 * RESP) means the link no longer matches replies to requests: it fails.
 *
 * Batching: requests are appended to out and written by ev_flush, which
 * is made active once per loop turn, after every client read that turn
 * (libevent runs an event activated during the turn at its end).
 */
#include "mux.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "resp.h"
#include "upstream.h"

#define MUX_SPREAD 64           /* requests in flight on every link before
                                   another is opened: 50 clients with one
                                   request each share one link, and its
                                   batches are bigger (case a +25 % against
                                   16, interleaved) */
#define MUX_QUIET_SECONDS 5.0   /* a link with nothing owed this long goes
                                   back to the pool */
#define MUX_WHY_MAX 256
#define MUX_OUT_KEEP (64 * 1024)    /* a batch buffer up to this size is
                                       kept between batches */
#define MUX_LONG_REPLY (64 * 1024)  /* a reply this long so far makes its
                                       link the last choice */

struct mux_entry {
    void *owner;                /* ref; NULL once it left */
    uint32_t n;                 /* replies owed to it, in a row */
    uint64_t start;             /* link's bytes queued before its first */
};

struct mux_link {
    struct mux *m;              /* ref: the owner of this link */
    struct mux_link *prev, *next;   /* ref: m->links */
    struct link *link;          /* owned */
    bool ready;                 /* handshake and AUTH done */
    bool retired;               /* takes no new owner */
    bool stale;                 /* ... and is closed, not kept, once quiet */
    bool blocked;               /* the head owner had no room */
    double blocked_since;       /* loop time it first had none */
    uint64_t frame_bytes;       /* of the reply being read: bytes so far */
    bool read_wants_write;      /* SSL_read said WANT_WRITE */
    bool write_wants_read;      /* SSL_write said WANT_READ */
    bool flushing;              /* ev_flush is active */
    struct event ev_flush;      /* owned: the batch write */
    struct buf out;             /* owned: requests not written yet */
    unsigned out_reqs;          /* requests queued since the last write */
    uint64_t queued, written;   /* request bytes ever queued, written */
    struct mux_entry *q;        /* owned: ring of owners owed replies */
    size_t q_head, q_len, q_cap;
    uint64_t owed;              /* replies owed in all */
    struct resp_scanner rp;     /* frames replies */
    double quiet_since;         /* loop time nothing was owed since */
};

struct mux {
    struct pool *pool;          /* ref */
    const struct link_params *lp;   /* ref */
    char *scratch;              /* ref: the loop's read buffer */
    size_t scratch_len;
    const struct mux_ops *ops;  /* ref */
    unsigned max_links;
    struct mux_link *links;     /* owned list */
    unsigned nlinks;
    struct event *ev_tick;      /* owned: hands quiet links back */
    struct mux_stats st;
};

static void ml_io_cb(struct link *link, short what, void *arg);
static void link_fail(struct mux_link *ml, const char *why);

static double
now_seconds(const struct mux *m)
{
    struct timeval tv;

    event_base_gettimeofday_cached(m->lp->base, &tv);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ------------------------------------------------------------ the queue */

static struct mux_entry *
q_at(struct mux_link *ml, size_t i)
{
    return &ml->q[(ml->q_head + i) & (ml->q_cap - 1)];
}

static int
q_push(struct mux_link *ml, void *owner, unsigned n, uint64_t start)
{
    if (ml->q_len > 0) {
        struct mux_entry *tail = q_at(ml, ml->q_len - 1);

        if (tail->owner == owner && tail->n <= UINT32_MAX - n) {
            tail->n += n;
            return 0;
        }
    }
    if (ml->q_len == ml->q_cap) {
        size_t cap = ml->q_cap ? ml->q_cap * 2 : 16;
        struct mux_entry *q = malloc(cap * sizeof(*q));

        if (q == NULL) {
            return -1;
        }
        for (size_t i = 0; i < ml->q_len; i++) {
            q[i] = *q_at(ml, i);
        }
        free(ml->q);
        ml->q = q;
        ml->q_cap = cap;
        ml->q_head = 0;
    }
    ml->q_len++;
    *q_at(ml, ml->q_len - 1) = (struct mux_entry){owner, n, start};
    return 0;
}

/* Takes back the q_push(ml, owner, n) just done. */
static void
q_unpush(struct mux_link *ml, unsigned n)
{
    struct mux_entry *tail = q_at(ml, ml->q_len - 1);

    if (tail->n > n) {
        tail->n -= n;   /* it was added to the owner's entry */
    } else {
        ml->q_len--;
    }
}

/* ------------------------------------------------------------ links */

static void
watch(struct mux_link *ml)
{
    bool rd, wr;

    if (!ml->ready) {
        return;
    }
    rd = !ml->blocked || ml->write_wants_read;
    wr = (ml->out.len > 0 && !ml->write_wants_read) || ml->read_wants_write;
    link_watch(ml->link, rd, wr);
}

/* Unlinks ml from its mux and frees it (its link is the caller's). */
static void
ml_free(struct mux_link *ml)
{
    struct mux *m = ml->m;

    if (ml->prev != NULL) {
        ml->prev->next = ml->next;
    } else {
        m->links = ml->next;
    }
    if (ml->next != NULL) {
        ml->next->prev = ml->prev;
    }
    m->nlinks--;
    event_del(&ml->ev_flush);
    buf_release(&ml->out);
    free(ml->q);
    free(ml);
}

/* A quiet link (nothing owed, nothing to write) goes back to the pool,
 * clean: only commands on the allow-list ever ran on it. */
static void
ml_give_back(struct mux_link *ml)
{
    struct link *link = ml->link;
    struct pool *pool = ml->m->pool;

    if (ml->ready && !ml->stale) {
        pool_recycle(pool, link, &ml->rp, 0, true);
    } else {
        if (ml->stale) {
            pool_note_closed(pool, "stale");
        }
        link_free(link, ml->ready);
    }
    ml_free(ml);
}

/* Writes queued requests.  0, or -1 when ml failed (it is gone). */
static int
flush_out(struct mux_link *ml)
{
    enum link_io st;

    ml->write_wants_read = false;
    if (ml->out.len > 0 && ml->out_reqs > 0) {
        ml->m->st.batches++;
        ml->m->st.requests += ml->out_reqs;
        ml->out_reqs = 0;
    }
    while (ml->out.len > 0) {
        size_t w = link_write(ml->link, ml->out.data + ml->out.off,
                              ml->out.len, &st);

        if (w > 0) {
            /* a big batch's buffer is not kept while quiet */
            buf_consume(&ml->out, w, MUX_OUT_KEEP);
            ml->written += w;
            continue;
        }
        if (st == LINK_IO_WANT_READ) {
            ml->write_wants_read = true;
        } else if (st == LINK_IO_EOF || st == LINK_IO_ERROR) {
            link_fail(ml, st == LINK_IO_EOF ? "the server closed the "
                      "connection" : link_error(ml->link));
            return -1;
        }
        break;
    }
    watch(ml);
    return 0;
}

static void read_replies(struct mux_link *ml);

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mux_link *ml = arg;

    (void)fd;
    (void)what;
    ml->flushing = false;
    if (!ml->ready || (ml->out.len > 0 && flush_out(ml) < 0)) {
        return;
    }
    if (!ml->blocked && link_has_pending(ml->link)) {
        read_replies(ml);   /* a kick: TLS held replies already */
    }
}

/*
 * replies(ml, buf, n): hands n server bytes to the owners they answer.
 * 0, or -1 when ml failed (it is gone).
 */
static int
replies(struct mux_link *ml, const char *buf, size_t n)
{
    const struct mux_ops *ops = ml->m->ops;
    size_t pos = 0;

    while (pos < n) {
        struct resp_frame f;
        size_t used, seg = pos;
        enum resp_status st;
        struct mux_entry *e;
        void *owner;

        if (ml->q_len == 0) {
            link_fail(ml, "the server sent a reply nobody asked for");
            return -1;
        }
        if (resp_at_boundary(&ml->rp) && buf[pos] == '>') {
            link_fail(ml, "the server sent a RESP3 push on a shared link");
            return -1;
        }
        e = q_at(ml, 0);
        owner = e->owner;
        /* Every whole frame of this owner in a row, then its part of the
         * next one: passed on at once. */
        do {
            st = resp_scan(&ml->rp, buf + pos, n - pos, &used, &f);
            if (st == RESP_ERROR) {
                link_fail(ml, "the server's reply is not RESP");
                return -1;
            }
            pos += used;
            ml->frame_bytes = st == RESP_FRAME ? 0 : ml->frame_bytes + used;
            if (st == RESP_FRAME) {
                ml->owed--;
                if (--e->n == 0) {
                    ml->q_head = (ml->q_head + 1) & (ml->q_cap - 1);
                    ml->q_len--;
                    break;
                }
                if (pos < n && buf[pos] == '>') {
                    break;      /* refused above, next round */
                }
            }
        } while (st == RESP_FRAME && pos < n);
        if (owner != NULL && ops->deliver(owner, buf + seg, pos - seg) < 0) {
            continue;           /* it left: mux_forget cleared its entries */
        }
    }
    return 0;
}

/* Reads replies while TLS has them and their owner has room. */
static void
read_replies(struct mux_link *ml)
{
    struct mux *m = ml->m;
    enum link_io st;

    ml->read_wants_write = false;
    for (;;) {
        size_t n;

        if (ml->q_len > 0 && q_at(ml, 0)->owner != NULL &&
            !m->ops->has_room(q_at(ml, 0)->owner)) {
            if (!ml->blocked) {
                ml->blocked_since = now_seconds(m);
            }
            ml->blocked = true;
            break;
        }
        ml->blocked = false;
        n = link_read(ml->link, m->scratch, m->scratch_len, &st);
        if (n == 0) {
            if (st == LINK_IO_WANT_WRITE) {
                ml->read_wants_write = true;
            } else if (st == LINK_IO_EOF || st == LINK_IO_ERROR) {
                link_fail(ml, st == LINK_IO_EOF ? "the server closed the "
                          "connection" : link_error(ml->link));
                return;
            }
            break;
        }
        if (replies(ml, m->scratch, n) < 0) {
            return;
        }
        if (!link_has_pending(ml->link)) {
            break;
        }
    }
    if (ml->owed == 0) {
        ml->quiet_since = now_seconds(m);
        if (ml->retired && ml->out.len == 0) {
            ml_give_back(ml);
            return;
        }
    }
    watch(ml);
}

static void
ml_io_cb(struct link *link, short what, void *arg)
{
    struct mux_link *ml = arg;

    (void)link;
    (void)what;
    if (ml->out.len > 0 && flush_out(ml) < 0) {
        return;
    }
    read_replies(ml);
}

/*
 * link_fail(ml, why): ml is unusable: every owner still owed a reply is
 * told once, after ml is gone (an owner may close itself then).  An owner
 * none of whose requests was written yet is told they were not sent: they
 * did not run, whatever the link did with others.
 */
static void
link_fail(struct mux_link *ml, const char *why_in)
{
    struct mux *m = ml->m;
    char why[MUX_WHY_MAX], unsent[MUX_WHY_MAX + 80];
    struct mux_entry *q = ml->q;    /* taken: ml is freed before owners
                                       hear (one may close itself) */
    size_t head = ml->q_head, len = ml->q_len, mask = ml->q_cap - 1;
    uint64_t written = ml->written;
    bool ready = ml->ready;

    snprintf(why, sizeof(why), "%s", why_in);   /* it may live in link */
    snprintf(unsent, sizeof(unsent), "shared link failed (%s) before the "
             "request was sent; it did not run", why);
    m->st.failed++;
    log_warn("event=shared-link-failed service=%s upstream=%s owed=%llu "
             "reason=\"%s\"", m->lp->sc->name,
             ready ? link_peer(ml->link) : m->lp->sc->upstream,
             (unsigned long long)ml->owed, why);
    if (ready) {
        pool_note_closed(m->pool, "shared-link-failed");
    }
    ml->q = NULL;
    link_free(ml->link, false);
    ml_free(ml);
    /* Each owner once, at its first entry (its earliest request), in
     * queue order: its later entries are cleared before it is told. */
    for (size_t i = 0; i < len; i++) {
        const struct mux_entry *e = &q[(head + i) & mask];
        void *o = e->owner;
        bool sent = ready && e->start < written;

        if (o == NULL) {
            continue;
        }
        for (size_t j = i; j < len; j++) {
            if (q[(head + j) & mask].owner == o) {
                q[(head + j) & mask].owner = NULL;
            }
        }
        m->ops->failed(o, sent || !ready ? why : unsent, sent);
    }
    free(q);
}

static void
ml_ready_cb(struct link *link, const char *error, void *arg)
{
    struct mux_link *ml = arg;
    struct mux *m = ml->m;

    if (error != NULL) {
        char why[MUX_WHY_MAX];

        snprintf(why, sizeof(why), "%s", error);
        pool_note_link_failed(m->pool, link_failure_step(link), why);
        link_fail(ml, why);
        return;
    }
    pool_note_ok(m->pool);
    ml->ready = true;
    link_set_io(link, ml_io_cb, ml);
    if (ml->out.len > 0) {
        (void)flush_out(ml);
        return;
    }
    watch(ml);
}

/* A new shared link: an idle one from the pool, or a new connection. */
static struct mux_link *
ml_new(struct mux *m)
{
    struct mux_link *ml = calloc(1, sizeof(*ml));

    if (ml == NULL) {
        return NULL;
    }
    ml->m = m;
    resp_init(&ml->rp, RESP_REPLIES);
    event_assign(&ml->ev_flush, m->lp->base, -1, 0, flush_cb, ml);
    pool_note_demand(m->pool, m->nlinks + 1);
    ml->link = pool_take(m->pool);
    if (ml->link != NULL) {
        ml->ready = true;
        link_set_io(ml->link, ml_io_cb, ml);
    } else if ((ml->link = link_new(m->lp, ml_ready_cb, ml)) == NULL) {
        free(ml);
        return NULL;
    }
    ml->quiet_since = now_seconds(m);
    ml->next = m->links;
    if (m->links != NULL) {
        m->links->prev = ml;
    }
    m->links = ml;
    m->nlinks++;
    watch(ml);
    return ml;
}

/* A link whose queue waits behind a long reply. */
static bool
slow(const struct mux_link *ml)
{
    return ml->blocked || ml->frame_bytes > MUX_LONG_REPLY;
}

/* The link for an owner with nothing in flight: the least busy one, or
 * a new one while every link has MUX_SPREAD requests in flight. */
static struct mux_link *
choose(struct mux *m)
{
    struct mux_link *best = NULL;

    /* A link busy with a long reply (or waiting for its slow reader's
     * room) is the last choice: new replies would wait behind it. */
    for (struct mux_link *ml = m->links; ml != NULL; ml = ml->next) {
        if (!ml->retired &&
            (best == NULL || (slow(best) && !slow(ml)) ||
             (slow(best) == slow(ml) && ml->owed < best->owed))) {
            best = ml;
        }
    }
    if (best == NULL || ((best->owed >= MUX_SPREAD || slow(best)) &&
                         m->nlinks < m->max_links)) {
        struct mux_link *ml = ml_new(m);

        if (ml != NULL) {
            return ml;
        }
    }
    return best;
}

/* Whether an owner other than the head's has replies owed on ml. */
static bool
others_wait(struct mux_link *ml)
{
    void *head = q_at(ml, 0)->owner;

    for (size_t i = 1; i < ml->q_len; i++) {
        if (q_at(ml, i)->owner != NULL && q_at(ml, i)->owner != head) {
            return true;
        }
    }
    return false;
}

/* Once a second: links whose login or lifetime is due are retired; quiet
 * ones go back to the pool (it keeps, checks and renews idle links). */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mux *m = arg;
    const struct service_config *sc = m->lp->sc;
    double now = now_seconds(m);
    struct mux_link *ml, *next;

    (void)fd;
    (void)what;
    for (ml = m->links; ml != NULL; ml = next) {
        next = ml->next;
        if (!ml->ready) {
            continue;
        }
        if ((m->lp->auth->iam &&
             link_auth_age(ml->link) >= sc->iam_reauth_interval) ||
            (sc->link_max_lifetime > 0 &&
             link_age(ml->link) >= sc->link_max_lifetime)) {
            ml->retired = true;
        }
        if (ml->blocked && ml->q_len > 0 && q_at(ml, 0)->owner != NULL &&
            now - ml->blocked_since >= MUX_STALL_SECONDS && others_wait(ml)) {
            /* Its reader holds everyone behind it: it goes (its reply's
             * rest is read and dropped), they carry on. */
            void *slow_owner = q_at(ml, 0)->owner;

            m->st.evicted++;
            m->ops->evict(slow_owner);
            continue;   /* mux_forget kicked the link */
        }
        if (ml->owed == 0 && ml->out.len == 0 && !ml->flushing &&
            (ml->retired || now - ml->quiet_since >= MUX_QUIET_SECONDS)) {
            ml_give_back(ml);
        }
    }
}

/* ------------------------------------------------------------ public */

struct mux *
mux_new(struct pool *pool, const struct link_params *lp, char *scratch,
        size_t scratch_len, const struct mux_ops *ops, unsigned max_links)
{
    struct mux *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->pool = pool;
    m->lp = lp;
    m->scratch = scratch;
    m->scratch_len = scratch_len;
    m->ops = ops;
    m->max_links = max_links > 0 ? max_links : 1;
    m->ev_tick = event_new(lp->base, -1, EV_PERSIST, tick_cb, m);
    if (m->ev_tick == NULL) {
        free(m);
        return NULL;
    }
    event_add(m->ev_tick, &(struct timeval){1, 0});
    return m;
}

void
mux_free(struct mux *m)
{
    if (m == NULL) {
        return;
    }
    while (m->links != NULL) {
        struct mux_link *ml = m->links;

        if (ml->ready && ml->owed == 0 && ml->out.len == 0) {
            ml_give_back(ml);
        } else {
            link_free(ml->link, false);
            ml_free(ml);
        }
    }
    event_free(m->ev_tick);
    free(m);
}

int
mux_send(struct mux *m, struct mux_link **mlp, void *owner, const char *buf,
         size_t n, unsigned nreq)
{
    struct mux_link *ml = *mlp;

    if (ml == NULL && (ml = choose(m)) == NULL) {
        return -1;
    }
    if (q_push(ml, owner, nreq, ml->queued) < 0) {
        return -1;
    }
    if (buf_append(&ml->out, buf, n, SIZE_MAX) < 0) {
        q_unpush(ml, nreq);
        return -1;
    }
    ml->queued += n;
    ml->out_reqs += nreq;
    ml->owed += nreq;
    *mlp = ml;
    if (ml->ready && !ml->flushing) {
        ml->flushing = true;
        event_active(&ml->ev_flush, EV_TIMEOUT, 1);
    }
    return 0;
}

void
mux_forget(struct mux_link *ml, void *owner)
{
    if (ml == NULL) {
        return;
    }
    for (size_t i = 0; i < ml->q_len; i++) {
        struct mux_entry *e = q_at(ml, i);

        if (e->owner == owner) {
            e->owner = NULL;
        }
    }
    if (ml->blocked) {
        mux_kick(ml);
    }
}

void
mux_stale(struct mux_link *ml)
{
    /* Not freed here: the caller may be inside this link's delivery.
     * read_replies() or the tick closes it once quiet. */
    ml->retired = true;
    ml->stale = true;
}

void
mux_kick(struct mux_link *ml)
{
    if (ml != NULL && ml->ready && ml->blocked) {
        ml->blocked = false;
        watch(ml);
        if (link_has_pending(ml->link)) {
            /* TLS holds bytes already: epoll will not say so. */
            event_active(&ml->ev_flush, EV_TIMEOUT, 1);
            ml->flushing = true;
        }
    }
}

bool
mux_link_retired(const struct mux_link *ml)
{
    return ml->retired;
}

const char *
mux_link_peer(const struct mux_link *ml)
{
    return ml->ready ? link_peer(ml->link) : ml->m->lp->sc->upstream;
}

void
mux_get_stats(const struct mux *m, struct mux_stats *st)
{
    *st = m->st;
    st->links = m->nlinks;
}
