/*
 * shared.c: the seats, notices and upstream notes every worker shares
 * (see shared.h for what is guarded by what).
 */
#include "shared.h"

#include "cluster.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* max_clients of one service name, for the whole process. */
struct seats {
    struct seats *next;         /* shared.mu */
    char *name;                 /* owned: the service name */
    unsigned refs;              /* shared.mu: members counting against it */
    atomic_uint used;           /* clients now */
    atomic_uint max;            /* max_clients of the newest member */
    atomic_uint parked;         /* accepted clients waiting for a seat */
    struct upstream_note note;  /* its own lock: note.mu */
};

/* A cluster service's book (cluster.h), one per name. */
struct book_entry {
    struct cluster_book *book;      /* owned */
    struct book_entry *next;
};

struct shared {
    struct creds_cell container;    /* its own lock: creds.h */
    pthread_mutex_t books_mu;       /* guards books (cluster mode) */
    struct book_entry *books;       /* one per cluster service name */
    pthread_mutex_t mu;             /* guards the lists below */
    struct seats *seats;            /* one per service name */
    struct shared_member *members;  /* newest first */
};

struct shared *
shared_new(void)
{
    struct shared *sh = calloc(1, sizeof(*sh));

    if (sh != NULL) {
        pthread_mutex_init(&sh->mu, NULL);
        pthread_mutex_init(&sh->books_mu, NULL);
        creds_cell_init(&sh->container);
    }
    return sh;
}

struct creds_cell *
shared_container_creds(struct shared *sh)
{
    return &sh->container;
}

void
shared_free(struct shared *sh)
{
    if (sh == NULL) {
        return;
    }
    /* Every member has left, so every seats is gone with its last one. */
    pthread_mutex_destroy(&sh->mu);
    creds_cell_clear(&sh->container);
    for (struct book_entry *e = sh->books, *next; e != NULL; e = next) {
        next = e->next;
        cluster_book_free(e->book);
        free(e);
    }
    pthread_mutex_destroy(&sh->books_mu);
    free(sh);
}

struct cluster_book *
shared_book_lock(struct shared *sh, const char *name, int lo, int hi)
{
    struct book_entry *e;

    pthread_mutex_lock(&sh->books_mu);
    for (e = sh->books; e != NULL; e = e->next) {
        if (strcmp(cluster_book_name(e->book), name) == 0 &&
            cluster_book_range_is(e->book, lo, hi)) {
            return e->book;
        }
    }
    if ((e = calloc(1, sizeof(*e))) == NULL ||
        (e->book = cluster_book_new(name, lo, hi)) == NULL) {
        free(e);
        return NULL;
    }
    e->next = sh->books;
    sh->books = e;
    return e->book;
}

void
shared_book_unlock(struct shared *sh)
{
    pthread_mutex_unlock(&sh->books_mu);
}

static struct seats *
seats_find(struct shared *sh, const char *name)
{
    struct seats *st = sh->seats;

    while (st != NULL && strcmp(st->name, name) != 0) {
        st = st->next;
    }
    return st;
}

int
shared_join(struct shared *sh, struct shared_member *m, const char *name,
            unsigned max, struct event *wake)
{
    struct seats *st;

    pthread_mutex_lock(&sh->mu);
    st = seats_find(sh, name);
    if (st == NULL && (st = calloc(1, sizeof(*st))) != NULL) {
        st->name = strdup(name);
        if (st->name == NULL) {
            free(st);
            st = NULL;
        } else {
            pthread_mutex_init(&st->note.mu, NULL);
            st->next = sh->seats;
            sh->seats = st;
        }
    }
    if (st == NULL) {
        pthread_mutex_unlock(&sh->mu);
        return -1;
    }
    st->refs++;
    atomic_store(&st->max, max);
    m->sh = sh;
    m->seats = st;
    m->wake = wake;
    m->max = max;
    m->peer[0] = '\0';
    m->prev = NULL;
    m->next = sh->members;
    if (m->next != NULL) {
        m->next->prev = m;
    }
    sh->members = m;
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

void
shared_leave(struct shared_member *m)
{
    struct shared *sh = m->sh;
    struct seats *st = m->seats;

    if (sh == NULL) {
        return;
    }
    pthread_mutex_lock(&sh->mu);
    if (m->prev != NULL) {
        m->prev->next = m->next;
    } else {
        sh->members = m->next;
    }
    if (m->next != NULL) {
        m->next->prev = m->prev;
    }
    if (--st->refs == 0) {
        struct seats **pp = &sh->seats;

        while (*pp != st) {
            pp = &(*pp)->next;
        }
        *pp = st->next;
        pthread_mutex_destroy(&st->note.mu);
        free(st->name);
        free(st);
    } else {
        for (struct shared_member *o = sh->members; o != NULL; o = o->next) {
            if (o->seats == st) {       /* newest first */
                atomic_store(&st->max, o->max);
                break;
            }
        }
    }
    pthread_mutex_unlock(&sh->mu);
    m->sh = NULL;
    m->seats = NULL;
}

bool
shared_seat_take(struct shared_member *m)
{
    struct seats *st = m->seats;
    unsigned u = atomic_load(&st->used);

    while (u < atomic_load(&st->max)) {
        if (atomic_compare_exchange_weak(&st->used, &u, u + 1)) {
            return true;
        }
    }
    return false;
}

bool
shared_seats_full(const struct shared_member *m)
{
    return atomic_load(&m->seats->used) >= atomic_load(&m->seats->max);
}

/* Every member of st's name (but skip) is woken; shared.mu held. */
static void
wake_all(struct shared *sh, const struct seats *st,
         const struct shared_member *skip)
{
    for (struct shared_member *o = sh->members; o != NULL; o = o->next) {
        if (o->seats == st && o != skip) {
            event_active(o->wake, EV_READ, 0);
        }
    }
}

void
shared_seat_give(struct shared_member *m)
{
    struct seats *st = m->seats;
    unsigned was = atomic_fetch_sub(&st->used, 1);

    if (was < atomic_load(&st->max) && atomic_load(&st->parked) == 0) {
        return;     /* nobody can be paused for want of a seat */
    }
    pthread_mutex_lock(&m->sh->mu);
    wake_all(m->sh, st, NULL);
    pthread_mutex_unlock(&m->sh->mu);
}

void
shared_parked(struct shared_member *m, int delta)
{
    if (delta > 0) {
        atomic_fetch_add(&m->seats->parked, 1);
    } else {
        atomic_fetch_sub(&m->seats->parked, 1);
    }
}

void
shared_notice(struct shared_member *m, const char *peer, const char *why)
{
    pthread_mutex_lock(&m->sh->mu);
    for (struct shared_member *o = m->sh->members; o != NULL; o = o->next) {
        if (o->seats == m->seats && o != m) {
            snprintf(o->peer, sizeof(o->peer), "%s", peer);
            snprintf(o->why, sizeof(o->why), "%s", why);
        }
    }
    wake_all(m->sh, m->seats, m);
    pthread_mutex_unlock(&m->sh->mu);
}

bool
shared_notice_take(struct shared_member *m, char *peer, char *why)
{
    bool any;

    pthread_mutex_lock(&m->sh->mu);
    any = m->peer[0] != '\0';
    memcpy(peer, m->peer, sizeof(m->peer));
    memcpy(why, m->why, sizeof(m->why));
    m->peer[0] = '\0';
    pthread_mutex_unlock(&m->sh->mu);
    return any;
}

struct upstream_note *
shared_note(struct shared_member *m)
{
    return &m->seats->note;
}
