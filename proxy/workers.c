/*
 * workers.c: N worker threads and the mailbox between them and the main
 * thread.
 *
 * Each worker has a slot: its thread, an event on its own loop (ev_cmd)
 * that the main thread activates, and under the slot's mutex the orders
 * posted (drain, stop), a function call waiting to run with its result,
 * and what the worker reports (ready, ended).  A call runs as one more
 * event in the worker's loop: no loop is ever paused, and only the main
 * thread waits (for that one worker).  Readiness and the end of a loop
 * are told back through events on the control loop.
 *
 * Locks: slot.mu guards the fields marked (mu); nothing else is shared.
 * The worker object itself is touched only on its own thread, or on the
 * main thread before the thread starts and after it ended.
 */
#include "workers.h"

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum {
    ORDER_DRAIN = 1,    /* first SIGTERM/SIGINT */
    ORDER_STOP = 2      /* second signal */
};

struct slot {
    struct workers *ws;         /* ref: the owner */
    struct worker *w;           /* owned */
    int index;
    pthread_t thread;
    bool started;               /* the thread runs (main thread only) */
    struct event *ev_cmd;       /* owned: on the worker's loop */
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a call is done, or the loop ended */
    unsigned orders;            /* (mu) ORDER_* not carried out yet */
    workers_fn fn;              /* (mu) the call waiting to run */
    void *fn_arg;               /* (mu) ref: its argument */
    int fn_result;              /* (mu) its result */
    unsigned asked, done;       /* (mu) calls asked for / answered */
    bool ready;                 /* (mu) the worker said it is ready */
    bool ended;                 /* (mu) its loop has returned */
};

struct workers {
    struct event_base *base;    /* ref: the control loop */
    struct workers_hooks hooks;
    struct event *ev_ready;     /* owned: a worker became ready */
    struct event *ev_ended;     /* owned: a worker's loop ended */
    bool told_ready;            /* all_ready called (main thread) */
    bool told_ended;            /* all_ended called (main thread) */
    const char *signame;        /* ref: static; the drain's signal */
    int n;
    struct slot *slots;         /* owned: n */
};

/* On the worker's thread: orders, then a call, as one loop event. */
static void
cmd_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;
    unsigned orders;
    workers_fn fn;
    void *fn_arg;
    unsigned gen;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    orders = s->orders;
    s->orders = 0;
    fn = s->fn;
    fn_arg = s->fn_arg;
    gen = s->asked;
    s->fn = NULL;
    pthread_mutex_unlock(&s->mu);
    if (orders & ORDER_STOP) {
        worker_stop(s->w, "second-signal");
    } else if (orders & ORDER_DRAIN) {
        worker_drain(s->w, s->ws->signame);
    }
    if (fn != NULL) {
        int r = fn(s->w, fn_arg);

        pthread_mutex_lock(&s->mu);
        s->fn_result = r;
        s->done = gen;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* worker_env.ready_cb, on the worker's thread. */
static void
worker_ready_cb(void *arg)
{
    struct slot *s = arg;

    pthread_mutex_lock(&s->mu);
    s->ready = true;
    pthread_mutex_unlock(&s->mu);
    event_active(s->ws->ev_ready, EV_READ, 0);
}

/* On the control loop: are they all ready, or all ended? */
static bool
all(struct workers *ws, bool ended)
{
    bool yes = true;

    for (int k = 0; k < ws->n && yes; k++) {
        struct slot *s = &ws->slots[k];

        pthread_mutex_lock(&s->mu);
        yes = ended ? s->ended || !s->started : s->ready;
        pthread_mutex_unlock(&s->mu);
    }
    return yes;
}

static void
all_ready_cb(evutil_socket_t fd, short what, void *arg)
{
    struct workers *ws = arg;

    (void)fd;
    (void)what;
    if (!ws->told_ready && all(ws, false)) {
        ws->told_ready = true;
        ws->hooks.all_ready(ws->hooks.arg);
    }
}

static void
ended_cb(evutil_socket_t fd, short what, void *arg)
{
    struct workers *ws = arg;

    (void)fd;
    (void)what;
    if (!ws->told_ended && all(ws, true)) {
        ws->told_ended = true;
        ws->hooks.all_ended(ws->hooks.arg);
    }
}

struct workers *
workers_new(struct event_base *base, int n, const struct worker_env *env,
            const struct workers_hooks *hooks, char *err, size_t errlen)
{
    struct workers *ws = calloc(1, sizeof(*ws));

    if (ws == NULL || (ws->slots = calloc((size_t)n, sizeof(*ws->slots))) ==
                          NULL) {
        free(ws);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ws->base = base;
    ws->hooks = *hooks;
    ws->signame = "TERM";
    ws->ev_ready = event_new(base, -1, 0, all_ready_cb, ws);
    ws->ev_ended = event_new(base, -1, 0, ended_cb, ws);
    if (ws->ev_ready == NULL || ws->ev_ended == NULL) {
        snprintf(err, errlen, "out of memory");
        workers_free(ws);
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        struct slot *s = &ws->slots[k];
        struct worker_env e = *env;

        s->ws = ws;
        s->index = k;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        ws->n = k + 1;
        e.index = k;
        e.clients_cap = env->clients_cap / (unsigned)n > 0
                            ? env->clients_cap / (unsigned)n : 1;
        e.idle_auto = env->idle_auto == 0 ? 0
                      : env->idle_auto / (unsigned)n > 0
                          ? env->idle_auto / (unsigned)n : 1;
        e.ready_cb = worker_ready_cb;
        e.ready_arg = s;
        s->w = worker_new(&e, err, errlen);
        if (s->w == NULL ||
            (s->ev_cmd = event_new(worker_base(s->w), -1, 0, cmd_cb, s)) ==
                NULL) {
            if (s->w != NULL) {
                snprintf(err, errlen, "out of memory");
            }
            workers_free(ws);
            return NULL;
        }
    }
    return ws;
}

int
workers_count(const struct workers *ws)
{
    return ws->n;
}

int
workers_call(struct workers *ws, int k, workers_fn fn, void *arg)
{
    struct slot *s = &ws->slots[k];
    unsigned gen;
    int r;

    if (!s->started) {
        return fn(s->w, arg);
    }
    pthread_mutex_lock(&s->mu);
    if (s->ended) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    s->fn = fn;
    s->fn_arg = arg;
    gen = ++s->asked;
    pthread_mutex_unlock(&s->mu);
    event_active(s->ev_cmd, EV_READ, 0);
    pthread_mutex_lock(&s->mu);
    while (s->done != gen && !s->ended) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    r = s->done == gen ? s->fn_result : -1;
    s->fn = NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void
post(struct slot *s, unsigned order)
{
    if (!s->started) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->orders |= order;
    pthread_mutex_unlock(&s->mu);
    event_active(s->ev_cmd, EV_READ, 0);
}

static void *
thread_main(void *arg)
{
    struct slot *s = arg;

    if (worker_run(s->w) < 0) {
        log_error("event=worker worker=%d error=\"its event loop failed\"",
                  s->index);
    }
    pthread_mutex_lock(&s->mu);
    s->ended = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    event_active(s->ws->ev_ended, EV_READ, 0);
    return NULL;
}

int
workers_start(struct workers *ws)
{
    sigset_t blocked, old;
    int rc = 0;

    for (int k = 0; k < ws->n; k++) {
        if (worker_start(ws->slots[k].w) < 0) {
            log_error("event=start error=\"out of memory\"");
            return -1;
        }
    }
    /* Signals are the main thread's: the workers block them. */
    sigfillset(&blocked);
    pthread_sigmask(SIG_BLOCK, &blocked, &old);
    for (int k = 0; k < ws->n; k++) {
        struct slot *s = &ws->slots[k];

        if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
            log_error("event=start error=\"cannot start worker threads\"");
            rc = -1;
            break;
        }
        s->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        workers_stop(ws);
    }
    return rc;
}

void
workers_drain(struct workers *ws, const char *signame)
{
    ws->signame = signame;      /* read by the workers after post() */
    for (int k = 0; k < ws->n; k++) {
        post(&ws->slots[k], ORDER_DRAIN);
    }
}

void
workers_stop(struct workers *ws)
{
    for (int k = 0; k < ws->n; k++) {
        post(&ws->slots[k], ORDER_STOP);
    }
}

void
workers_join(struct workers *ws)
{
    for (int k = 0; k < ws->n; k++) {
        if (ws->slots[k].started) {
            pthread_join(ws->slots[k].thread, NULL);
            ws->slots[k].started = false;
        }
    }
}

static int
snapshot_fn(struct worker *w, void *arg)
{
    return worker_snapshot(w, arg);
}

struct stats_worker *
workers_snapshot(struct workers *ws)
{
    struct stats_worker *out = calloc((size_t)ws->n, sizeof(*out));

    for (int k = 0; out != NULL && k < ws->n; k++) {
        if (workers_call(ws, k, snapshot_fn, &out[k]) < 0) {
            stats_worker_clear(&out[k]);
        }
    }
    return out;
}

void
workers_snapshot_free(struct workers *ws, struct stats_worker *s)
{
    for (int k = 0; s != NULL && k < ws->n; k++) {
        stats_worker_clear(&s[k]);
    }
    free(s);
}

void
workers_free(struct workers *ws)
{
    if (ws == NULL) {
        return;
    }
    for (int k = 0; k < ws->n; k++) {
        struct slot *s = &ws->slots[k];

        if (s->ev_cmd != NULL) {
            event_free(s->ev_cmd);      /* before its loop goes */
        }
        worker_free(s->w);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    if (ws->ev_ready != NULL) {
        event_free(ws->ev_ready);
    }
    if (ws->ev_ended != NULL) {
        event_free(ws->ev_ended);
    }
    free(ws->slots);
    free(ws);
}
