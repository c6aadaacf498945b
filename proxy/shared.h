/*
 * shared.h: what the workers of one process share, and nothing else.
 *
 * Every worker runs its own copy of each service (its own loop, pool,
 * sessions, TLS context); a few things must still hold for the process as
 * a whole, and they live here, one struct shared per process (main.c owns
 * it and lends it to every service through service_env):
 *
 *   item                         lock
 *   ----------------------------  ----------------------------------------
 *   the member list (every        shared.mu
 *     service of every worker,
 *     retired ones too)
 *   the seats of one service      used/max/parked are atomics (no lock);
 *     name (max_clients for the    the list of seats and each one's refs
 *     whole process)               are under shared.mu
 *   a member's failover notice    shared.mu
 *     (peer and reason)
 *   the upstream failure last     upstream_note.mu (its own; pool.c
 *     logged, per service name     takes it)
 *   the ports of every cluster    shared.books_mu (shared_book_lock)
 *     node (a book per service
 *     name, cluster.h)
 *   AWS credentials from the      creds_cell.mu (its own; written by the
 *     container endpoint           control loop's fetcher, read by
 *                                  workers signing IAM tokens)
 *
 * A member is a service's handle (embedded in struct service, fields
 * private to shared.c).  Its wake event is made active (from any thread)
 * when a seat of its name comes free while someone may be waiting, or
 * when another worker's member of the same name posts a notice; the
 * member's own loop then calls shared_notice_take() and retries a parked
 * client.
 */
#ifndef REDSLEEVE_SHARED_H
#define REDSLEEVE_SHARED_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "upstream.h"

struct event;
struct seats;
struct shared;

#define SHARED_PEER_MAX 64
#define SHARED_WHY_MAX 64

struct shared_member {
    struct shared *sh;                  /* ref: NULL until joined */
    struct seats *seats;                /* ref (counted): by name */
    struct event *wake;                 /* ref: the member's own event */
    unsigned max;                       /* its max_clients */
    struct shared_member *prev, *next;  /* shared.mu: newest first */
    char peer[SHARED_PEER_MAX];         /* shared.mu: notice, "" = none */
    char why[SHARED_WHY_MAX];           /* shared.mu */
};

/* shared_new(): the process's shared state, or NULL on ENOMEM. */
struct shared *shared_new(void);

/* shared_free(sh): after every member has left; NULL is a no-op. */
void shared_free(struct shared *sh);

/*
 * shared_join(sh, m, name, max, wake): m counts against the seats of name
 * (max_clients = max, which becomes the limit: the newest member sets
 * it).  Returns 0, or -1 on ENOMEM (m is then not a member).
 */
int shared_join(struct shared *sh, struct shared_member *m, const char *name,
                unsigned max, struct event *wake) MUST_CHECK;

/* shared_leave(m): m is no longer a member (no-op if it never joined);
 * the newest member left of its name sets max_clients again, so a reload
 * that built a service and then failed leaves the running limit alone. */
void shared_leave(struct shared_member *m);

/* shared_seat_take(m): a seat for one more client, false at the limit. */
bool shared_seat_take(struct shared_member *m);

/* shared_seat_give(m): a client left; wakes every member of the name if
 * one of them may be paused or has parked a client. */
void shared_seat_give(struct shared_member *m);

/* shared_seats_full(m): no seat free now. */
bool shared_seats_full(const struct shared_member *m);

/* shared_parked(m, delta): a client accepted without a seat is parked
 * (+1) or served or closed (-1). */
void shared_parked(struct shared_member *m, int delta);

/* shared_notice(m, peer, why): tells every other member of m's name that
 * peer answered as a replica (failover); they wake and take it. */
void shared_notice(struct shared_member *m, const char *peer,
                   const char *why);

/* shared_notice_take(m, peer, why): the notice posted to m, if any
 * (cleared); peer is SHARED_PEER_MAX bytes, why SHARED_WHY_MAX. */
bool shared_notice_take(struct shared_member *m, char *peer, char *why);

/* shared_note(m): the upstream failure last logged for m's name. */
struct upstream_note *shared_note(struct shared_member *m);

/* shared_container_creds(sh): the AWS credentials fetched from the
 * container endpoint, for every service that uses them (lock: the cell's
 * own, creds.h). */
struct creds_cell *shared_container_creds(struct shared *sh);

/*
 * shared_book_lock(sh, name, lo, hi): takes the books' lock and returns
 * the book of cluster service name and ports lo..hi (made on first use;
 * a reload keeps it, so nodes keep their ports), or NULL on ENOMEM.
 * Either way the caller calls shared_book_unlock(sh) when done.
 */
struct cluster_book;
struct cluster_book *shared_book_lock(struct shared *sh, const char *name,
                                      int lo, int hi);
void shared_book_unlock(struct shared *sh);

#endif
