/*
 * mux.h: a service's shared links in one event loop (pool_mode = shared).
 *
 * mux.c owns a few upstream links that carry the requests of many
 * clients ("owners", opaque here), pipelined: whole requests of several
 * owners are written in one batch (one TLS record where they fit) at the
 * end of the loop turn that read them, and each reply goes back to the
 * owner whose request it answers, in order, exactly its bytes.  An owner
 * keeps to one link while it has requests in flight (so its replies stay
 * in its order); with none in flight it may be put on any link.  Links
 * come from the service's pool and go back to it, clean, once quiet; a
 * link is retired (no new owners, back to the pool once quiet) when its
 * login or its lifetime is due.  A link that fails tells every owner with
 * requests on it, once.  An owner that takes no reply bytes for
 * MUX_STALL_SECONDS while others wait behind it is evicted.  mux.c knows nothing of sessions: it calls back
 * through struct mux_ops.
 */
#ifndef REDSLEEVE_MUX_H
#define REDSLEEVE_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct link_params;
struct mux;
struct mux_link;
struct pool;

struct mux_ops {
    /* n bytes of owner's replies (frames may be split across calls).
     * Returns 0, or -1 when the owner closed itself meanwhile (it called
     * mux_forget). */
    int (*deliver)(void *owner, const char *buf, size_t n);
    /* owner can take more reply bytes now (else the link waits for its
     * mux_kick) */
    bool (*has_room)(void *owner);
    /* the link holding owner's requests failed (why: readable): they are
     * dropped; the link is gone, owner must forget it.  Once per owner.
     * sent: some were written, so they may have run; else none of them
     * left this process (the link never became ready, or they were still
     * waiting to be written), and why says which. */
    void (*failed)(void *owner, const char *why, bool sent);
    /* owner took no reply bytes for MUX_STALL_SECONDS while others wait
     * behind it on its link: it is to be closed (it calls mux_forget). */
    void (*evict)(void *owner);
};

#define MUX_STALL_SECONDS 10.0  /* a reader this slow is evicted */

struct mux_stats {
    unsigned links;             /* shared links now (ready or coming) */
    uint64_t batches;           /* writes of queued requests */
    uint64_t requests;          /* requests in them */
    uint64_t failed;            /* shared links that failed */
    uint64_t evicted;           /* owners closed as too slow a reader */
};

/*
 * mux_new(pool, lp, scratch, scratch_len, ops, max_links): no link yet;
 * at most max_links (>= 1) at once.  scratch is the loop's read buffer.
 * NULL on ENOMEM.
 */
struct mux *mux_new(struct pool *pool, const struct link_params *lp,
                    char *scratch, size_t scratch_len,
                    const struct mux_ops *ops, unsigned max_links);

/* mux_free(m): closes every link; owners still on them are not told (the
 * caller closed them first).  NULL is a no-op. */
void mux_free(struct mux *m);

/*
 * mux_send(m, ml, owner, buf, n, nreq): queues n bytes holding exactly
 * nreq whole requests (each with one reply) of owner.  *ml is owner's
 * link while it has requests in flight (NULL: none; one is chosen and
 * stored).  0, or -1 on ENOMEM (nothing queued).
 */
int mux_send(struct mux *m, struct mux_link **ml, void *owner,
             const char *buf, size_t n, unsigned nreq);

/* mux_forget(ml, owner): owner is gone: its replies still owed on ml are
 * read and dropped. */
void mux_forget(struct mux_link *ml, void *owner);

/* mux_stale(ml): the server behind ml said it is no longer the primary
 * (or may not be): ml takes no new owner and is closed once quiet (never
 * here: safe to call from inside a delivery). */
void mux_stale(struct mux_link *ml);

/* mux_kick(ml): an owner that had no room has some again. */
void mux_kick(struct mux_link *ml);

/* mux_link_retired(ml): ml takes no new requests (login or lifetime due,
 * or stale): its owners wait until they owe nothing, then move. */
bool mux_link_retired(const struct mux_link *ml);

/* mux_link_peer(ml): "address:port" of the server behind ml. */
const char *mux_link_peer(const struct mux_link *ml);

/* mux_get_stats(m, st): counters for metrics. */
void mux_get_stats(const struct mux *m, struct mux_stats *st);

#endif
