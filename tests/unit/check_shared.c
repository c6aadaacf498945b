/*
 * check_shared: seats (max_clients for the whole process), wake-ups and
 * failover notices between members, across real threads.
 */
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "shared.h"
#include "unit.h"

/* Every racer's loop runs wake_cb: counted atomically. */
static atomic_int woken;

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    atomic_fetch_add(&woken, 1);
}

START_TEST(seats_count_across_members)
{
    struct shared *sh = shared_new();
    struct event_base *base = event_base_new();
    struct event *e1 = event_new(base, -1, 0, wake_cb, NULL);
    struct event *e2 = event_new(base, -1, 0, wake_cb, NULL);
    struct shared_member a = {0}, b = {0}, other = {0};

    ck_assert_int_eq(shared_join(sh, &a, "svc", 2, e1), 0);
    ck_assert_int_eq(shared_join(sh, &b, "svc", 2, e2), 0);
    ck_assert_int_eq(shared_join(sh, &other, "else", 1, e2), 0);
    ck_assert(shared_seat_take(&a));
    ck_assert(shared_seat_take(&b));
    ck_assert(!shared_seat_take(&a));   /* two for the whole name */
    ck_assert(shared_seats_full(&b));
    ck_assert(shared_seat_take(&other));    /* another name: its own */
    atomic_store(&woken, 0);
    shared_seat_give(&a);       /* it was full: both members look again */
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(atomic_load(&woken), 2);
    ck_assert(!shared_seats_full(&a));
    shared_seat_give(&b);
    shared_seat_give(&other);
    shared_leave(&a);
    shared_leave(&b);
    shared_leave(&other);
    shared_leave(&other);       /* twice: a no-op */
    event_free(e1);
    event_free(e2);
    event_base_free(base);
    shared_free(sh);
}
END_TEST

START_TEST(newest_member_sets_the_limit)
{
    struct shared *sh = shared_new();
    struct event_base *base = event_base_new();
    struct event *e = event_new(base, -1, 0, wake_cb, NULL);
    struct shared_member old = {0}, next = {0};

    ck_assert_int_eq(shared_join(sh, &old, "svc", 1, e), 0);
    ck_assert(shared_seat_take(&old));
    ck_assert(!shared_seat_take(&old));
    ck_assert_int_eq(shared_join(sh, &next, "svc", 3, e), 0);   /* reload */
    ck_assert(shared_seat_take(&next));
    ck_assert(shared_seat_take(&old));
    ck_assert(!shared_seat_take(&next));
    shared_leave(&next);        /* a reload that failed: back to 1 */
    ck_assert(shared_seats_full(&old));
    shared_seat_give(&old);
    shared_seat_give(&old);
    ck_assert(shared_seats_full(&old));     /* 1 of 1 */
    shared_seat_give(&old);
    ck_assert(!shared_seats_full(&old));
    shared_leave(&old);
    event_free(e);
    event_base_free(base);
    shared_free(sh);
}
END_TEST

START_TEST(notice_reaches_the_others_only)
{
    struct shared *sh = shared_new();
    struct event_base *base = event_base_new();
    struct event *e = event_new(base, -1, 0, wake_cb, NULL);
    struct shared_member a = {0}, b = {0}, c = {0};
    char peer[SHARED_PEER_MAX], why[SHARED_WHY_MAX];

    ck_assert_int_eq(shared_join(sh, &a, "svc", 9, e), 0);
    ck_assert_int_eq(shared_join(sh, &b, "svc", 9, e), 0);
    ck_assert_int_eq(shared_join(sh, &c, "else", 9, e), 0);
    atomic_store(&woken, 0);
    shared_notice(&a, "10.0.0.1:6379", "READONLY");
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(atomic_load(&woken), 1);
    ck_assert(!shared_notice_take(&a, peer, why));
    ck_assert(!shared_notice_take(&c, peer, why));
    ck_assert(shared_notice_take(&b, peer, why));
    ck_assert_str_eq(peer, "10.0.0.1:6379");
    ck_assert_str_eq(why, "READONLY");
    ck_assert(!shared_notice_take(&b, peer, why));  /* taken once */
    ck_assert_ptr_eq(shared_note(&a), shared_note(&b));
    ck_assert_ptr_ne(shared_note(&a), shared_note(&c));
    shared_leave(&a);
    shared_leave(&b);
    shared_leave(&c);
    event_free(e);
    event_base_free(base);
    shared_free(sh);
}
END_TEST

/* Threads race for seats: never more than max taken at once. */
#define RACERS 4
#define ROUNDS 20000

struct racer {
    struct shared_member m;
    struct event_base *base;
    struct event *e;
    int over;                   /* times more than max were held */
};

static atomic_int held;

static void *
race(void *arg)
{
    struct racer *r = arg;

    for (int i = 0; i < ROUNDS; i++) {
        if (shared_seat_take(&r->m)) {
            if (atomic_fetch_add(&held, 1) + 1 > 3) {
                r->over++;
            }
            atomic_fetch_sub(&held, 1);
            shared_seat_give(&r->m);
        }
        event_base_loop(r->base, EVLOOP_NONBLOCK);
    }
    return NULL;
}

START_TEST(seats_hold_under_threads)
{
    struct shared *sh = shared_new();
    struct racer r[RACERS];
    pthread_t t[RACERS];

    memset(r, 0, sizeof(r));
    for (int k = 0; k < RACERS; k++) {
        r[k].base = event_base_new();
        r[k].e = event_new(r[k].base, -1, 0, wake_cb, NULL);
        ck_assert_int_eq(shared_join(sh, &r[k].m, "svc", 3, r[k].e), 0);
    }
    for (int k = 0; k < RACERS; k++) {
        pthread_create(&t[k], NULL, race, &r[k]);
    }
    for (int k = 0; k < RACERS; k++) {
        pthread_join(t[k], NULL);
        ck_assert_int_eq(r[k].over, 0);
    }
    ck_assert(!shared_seats_full(&r[0].m));     /* every seat given back */
    for (int k = 0; k < RACERS; k++) {
        shared_leave(&r[k].m);
        event_free(r[k].e);
        event_base_free(r[k].base);
    }
    shared_free(sh);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shared");
    TCase *tc = tcase_create("shared");

    evthread_use_pthreads();
    tcase_add_test(tc, seats_count_across_members);
    tcase_add_test(tc, newest_member_sets_the_limit);
    tcase_add_test(tc, notice_reaches_the_others_only);
    tcase_add_test(tc, seats_hold_under_threads);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
