/*
 * cluster_discover.c: one topology query at a time on a link of its own
 * (see cluster_discover.h).
 *
 *   idle --start--> connecting --ready--> asking SHARDS --reply-->  idle
 *                                         asking SHARDS --error--> asking
 *                                           SLOTS --reply--> idle
 *   any failure, or DISCOVER_DEADLINE passed --> idle (cb told why)
 */
#include "cluster_discover.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "upstream.h"

#define READ_CHUNK (16 * 1024)

static const char SHARDS_CMD[] = "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n";
static const char SLOTS_CMD[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

struct cluster_discover {
    const struct link_params *lp;   /* ref: the cluster service's */
    discover_cb cb;
    void *arg;                      /* ref: the caller's */
    struct link *link;              /* owned: NULL when idle */
    struct event ev_deadline;       /* one query's time */
    enum cluster_reply kind;        /* what is being asked */
    const char *cmd;                /* its bytes ... */
    size_t cmd_off;                 /* ... written so far */
    char *buf;                      /* owned: the reply read so far */
    size_t len, cap;
    struct resp_scanner rs;
};

/* The query ends: link closed, cb told. */
static void
finish(struct cluster_discover *d, const char *error)
{
    struct link *link = d->link;
    char why[UPSTREAM_NOTE_MAX];

    /* error may be the link's own text (link_error): kept before the
     * link goes. */
    snprintf(why, sizeof(why), "%s", error != NULL ? error : "");
    d->link = NULL;
    evtimer_del(&d->ev_deadline);
    link_free(link, error == NULL);
    if (error != NULL) {
        d->cb(d->arg, d->kind, NULL, 0, why);
    } else {
        d->cb(d->arg, d->kind, d->buf, d->len, NULL);
    }
    d->len = 0;
}

/* Writes what is left of the command.  0, or -1 (broken). */
static int
send_cmd(struct cluster_discover *d)
{
    size_t total = strlen(d->cmd);
    enum link_io st;

    while (d->cmd_off < total) {
        size_t n = link_write(d->link, d->cmd + d->cmd_off,
                              total - d->cmd_off, &st);

        if (n == 0) {
            if (st == LINK_IO_WANT_WRITE || st == LINK_IO_WANT_READ) {
                link_watch(d->link, true, st == LINK_IO_WANT_WRITE);
                return 0;
            }
            return -1;
        }
        d->cmd_off += n;
    }
    link_watch(d->link, true, false);
    return 0;
}

static void
ask(struct cluster_discover *d, enum cluster_reply kind)
{
    d->kind = kind;
    d->cmd = kind == CLUSTER_REPLY_SHARDS ? SHARDS_CMD : SLOTS_CMD;
    d->cmd_off = 0;
    d->len = 0;
    resp_init(&d->rs, RESP_REPLIES);
}

/*
 * Reads what the link has and scans it: 1 when the query ended (finish
 * called), 0 when more is to come.
 */
static int
read_reply(struct cluster_discover *d)
{
    enum link_io st;
    struct resp_frame fr;
    char why[RESP_HEAD_MAX + 64];

    for (;;) {
        size_t n, used;

        if (d->cap - d->len < READ_CHUNK) {
            size_t cap = d->cap ? 2 * d->cap : 4 * READ_CHUNK;
            char *nb;

            if (cap > DISCOVER_REPLY_MAX + READ_CHUNK) {
                finish(d, "the topology reply is too long");
                return 1;
            }
            if ((nb = realloc(d->buf, cap)) == NULL) {
                finish(d, "out of memory");
                return 1;
            }
            d->buf = nb;
            d->cap = cap;
        }
        n = link_read(d->link, d->buf + d->len, d->cap - d->len, &st);
        if (n == 0) {
            if (st == LINK_IO_WANT_READ || st == LINK_IO_WANT_WRITE) {
                link_watch(d->link, st == LINK_IO_WANT_READ,
                           st == LINK_IO_WANT_WRITE);
                return 0;
            }
            finish(d, st == LINK_IO_EOF ? "the server closed the link"
                                         : link_error(d->link));
            return 1;
        }
        switch (resp_scan(&d->rs, d->buf + d->len, n, &used, &fr)) {
        case RESP_NEED_MORE:
            d->len += n;
            continue;
        case RESP_ERROR:
            finish(d, "the reply is not RESP");
            return 1;
        case RESP_FRAME:
            d->len += used;
            break;
        }
        if (fr.type != '-') {
            finish(d, NULL);
            return 1;
        }
        if (d->kind == CLUSTER_REPLY_SHARDS) {
            /* Redis before 7 has no SHARDS: the same link asks SLOTS. */
            ask(d, CLUSTER_REPLY_SLOTS);
            return send_cmd(d) < 0 ? (finish(d, link_error(d->link)), 1)
                                   : 0;
        }
        snprintf(why, sizeof(why), "CLUSTER SLOTS: -%s", fr.head);
        finish(d, why);
        return 1;
    }
}

static void
io_cb(struct link *link, short what, void *arg)
{
    struct cluster_discover *d = arg;

    (void)link;
    (void)what;
    /* A write that wanted to read is retried on any readiness. */
    if (d->cmd_off < strlen(d->cmd) && send_cmd(d) < 0) {
        finish(d, link_error(d->link));
        return;
    }
    if (d->cmd_off == strlen(d->cmd)) {
        (void)read_reply(d);
    }
}

static void
ready_cb(struct link *link, const char *error, void *arg)
{
    struct cluster_discover *d = arg;

    (void)link;
    if (error != NULL) {
        finish(d, error);
        return;
    }
    link_set_io(d->link, io_cb, d);
    ask(d, CLUSTER_REPLY_SHARDS);
    if (send_cmd(d) < 0) {
        finish(d, link_error(d->link));
    }
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cluster_discover *d = arg;
    char why[64];

    (void)fd;
    (void)what;
    snprintf(why, sizeof(why), "no reply within %.0f s", DISCOVER_DEADLINE);
    finish(d, why);
}

struct cluster_discover *
cluster_discover_new(const struct link_params *lp, discover_cb cb, void *arg)
{
    struct cluster_discover *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        return NULL;
    }
    d->lp = lp;
    d->cb = cb;
    d->arg = arg;
    d->kind = CLUSTER_REPLY_SHARDS;
    d->cmd = SHARDS_CMD;
    evtimer_assign(&d->ev_deadline, lp->base, deadline_cb, d);
    return d;
}

int
cluster_discover_start(struct cluster_discover *d)
{
    struct timeval tv = {(time_t)DISCOVER_DEADLINE, 0};

    if (d->link != NULL) {
        return -1;
    }
    ask(d, CLUSTER_REPLY_SHARDS);
    if ((d->link = link_new(d->lp, ready_cb, d)) == NULL) {
        return -1;
    }
    evtimer_add(&d->ev_deadline, &tv);
    return 0;
}

bool
cluster_discover_busy(const struct cluster_discover *d)
{
    return d->link != NULL;
}

void
cluster_discover_free(struct cluster_discover *d)
{
    if (d == NULL) {
        return;
    }
    evtimer_del(&d->ev_deadline);
    link_free(d->link, false);
    free(d->buf);
    free(d);
}
