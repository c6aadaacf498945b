/*
 * pool_reset.c: the commands a pooled link is sent and the replies it
 * must give (see pool.h for the states).
 *
 *   draining  --the owed replies read and dropped-->  resetting
 *   resetting --+RESET [+OK] $nonce, exactly-->        idle (or closed when
 *                                                      the pool is full or
 *                                                      the name moved)
 *   pinging   --+PONG-->                               idle
 *   probing   --ROLE: master--> idle, else the peer is stale
 *   reauthing --+OK-->                                 idle (IAM: a fresh
 *                                                      token before the
 *                                                      server's 12 hours)
 *
 * It owns pool_recycle (a departed client's link comes in here) and the
 * I/O callback of every held link.  It does not fill, count demand, look
 * names up or run the tick: that is pool.c.
 */
#include "pool_int.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char RESET_CMD[] = "*1\r\n$5\r\nRESET\r\n";
static const char PING_CMD[] = "*1\r\n$4\r\nPING\r\n";
static const char ROLE_CMD[] = "*1\r\n$4\r\nROLE\r\n";

/* Writes what is left of pl->out.  0 = done or waiting, -1 = failed. */
static int
send_out(struct pooled *pl)
{
    enum link_io st;

    while (pl->out_off < pl->out_len) {
        size_t n = link_write(pl->link, pl->out + pl->out_off,
                              pl->out_len - pl->out_off, &st);

        if (n == 0) {
            if (st == LINK_IO_WANT_WRITE || st == LINK_IO_WANT_READ) {
                link_watch(pl->link, true, st == LINK_IO_WANT_WRITE);
                return 0;
            }
            return -1;
        }
        pl->out_off += n;
    }
    pool_out_clear(pl);
    link_watch(pl->link, true, false);
    return 0;
}

/*
 * pool_start_command(pl, st): writes what state st sends: RESET [+ AUTH] +
 * ECHO <nonce> for PL_RESETTING (the nonce is fresh random bytes: no
 * client can have made the server send it, so its exact reply proves
 * every byte before it was accounted for), PING or ROLE.  When RESET
 * leaves the link logged out (no AUTH injected on a server that wants
 * one) ECHO would be refused with NOAUTH; the nonce is then sent as a
 * command of its own, which Redis answers before any AUTH check with
 * "-ERR unknown command '<nonce>'" (RESET and the name lookup need no
 * login).  PL_REAUTHING sends AUTH alone, with a token signed now.  0, or
 * -1 when it cannot be written.
 */
int
pool_start_command(struct pooled *pl, enum pl_state st)
{
    const struct auth_cmd *ac = pl->pool->lp->auth;
    unsigned char raw[POOL_NONCE_BYTES];
    char echo[64];
    size_t len = 0, elen = 0, alen = 0;
    char *auth = NULL;
    const char *cmd = st == PL_PINGING ? PING_CMD
                      : st == PL_PROBING ? ROLE_CMD
                      : st == PL_REAUTHING ? "" : RESET_CMD;
    size_t clen = strlen(cmd);

    pool_out_clear(pl);
    if (st == PL_RESETTING) {
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            return -1;
        }
        for (size_t i = 0; i < sizeof(raw); i++) {
            snprintf(pl->nonce + 2 * i, 3, "%02x", raw[i]);
        }
        elen = (size_t)snprintf(echo, sizeof(echo),
                                pl->pool->nonce_as_error
                                    ? "*1\r\n$%d\r\n%s\r\n"
                                    : "*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n",
                                POOL_NONCE_LEN, pl->nonce);
    }
    if ((st == PL_RESETTING || st == PL_REAUTHING) && ac->on &&
        auth_cmd_render(ac, time(NULL), &auth, &alen) < 0) {
        return -1;
    }
    pl->out_len = clen + elen + alen;
    if ((pl->out = malloc(pl->out_len)) == NULL) {
        pl->out_len = 0;
        auth_buf_free(auth, alen);
        return -1;
    }
    memcpy(pl->out, cmd, clen);
    len = clen;
    /* RESET logs the connection out: log it back in, same write. */
    if (auth != NULL) {
        memcpy(pl->out + len, auth, alen);
        len += alen;
    }
    if (st == PL_RESETTING) {
        memcpy(pl->out + len, echo, elen);
    }
    auth_buf_free(auth, alen);
    pl->out_off = 0;
    pl->answers = 0;
    resp_init(&pl->rs, RESP_REPLIES);
    pool_set_state(pl, st);
    pl->deadline = pool_now(pl->pool) + pl->pool->sc->drain_timeout;
    return send_out(pl);
}

/* keep(pl, how): a link is clean again: idle, or closed when the pool has
 * enough or the name moved.  NULL, or why it was not kept. */
static const char *
keep(struct pooled *pl, const char *how)
{
    struct pool *p = pl->pool;

    if (p->nidle >= pool_idle_cap(p)) {
        return "pool-full";
    }
    if (!resolve_set_has(&p->addrs, link_peer(pl->link))) {
        return "dns-moved";
    }
    p->stats.recycled++;
    pool_set_state(pl, PL_IDLE);
    log_debug("event=link-recycled service=%s upstream=%s how=%s",
              p->sc->name, link_peer(pl->link), how);
    return NULL;
}

/* probe_answered(pl, primary): the ROLE probe answered. */
static const char *
probe_answered(struct pooled *pl, bool confirmed, const char *role)
{
    struct pool *p = pl->pool;
    char peer[64];

    p->probe = NULL;
    if (!confirmed) {
        log_info("event=stale-hint-refuted service=%s peer=%s hint=\"%s\" "
                 "role=%s action=\"kept the idle links\"", p->sc->name,
                 link_peer(pl->link), p->probe_why, role);
        pool_set_state(pl, PL_IDLE);
        return NULL;
    }
    snprintf(peer, sizeof(peer), "%s", link_peer(pl->link));
    pool_mark_stale(p, peer, p->probe_why);
    return "stale";
}

/*
 * on_frame(pl, f): one reply frame arrived.  Returns 0 to go on, or a
 * reason to discard the link.
 */
static const char *
on_frame(struct pooled *pl, const struct resp_frame *f)
{
    struct pool *p = pl->pool;
    bool with_auth = p->lp->auth->on;

    if (f->type == '>') {
        return NULL;    /* RESP3 push (say, an invalidation): not a reply */
    }
    switch (pl->state) {
    case PL_DRAINING:
        if (--pl->owed > 0) {
            return NULL;
        }
        if (pool_start_command(pl, PL_RESETTING) < 0) {
            return "write-failed";
        }
        return NULL;
    case PL_RESETTING:
        pl->answers++;
        if (pl->answers == 1) {
            if (f->type == '+' && strcmp(f->head, "RESET") == 0) {
                return NULL;
            }
            /* Only a server that does not know RESET turns recycling
             * off; LOADING, BUSY and the like just cost this link. */
            if (f->type == '-' && !p->no_reset &&
                strncmp(f->head, "ERR unknown command", 19) == 0) {
                p->no_reset = true;
                log_warn("event=no-reset service=%s upstream=%s reason=\"%s\" "
                         "action=\"links are closed after use, not "
                         "recycled (Redis 6.2 or newer has RESET)\"",
                         p->sc->name, p->sc->upstream, f->head);
            }
            return "reset-rejected";
        }
        if (with_auth && pl->answers == 2) {
            if (f->type != '+' || strcmp(f->head, "OK") != 0) {
                return "reauth-rejected";
            }
            link_auth_renewed(pl->link);
            return NULL;
        }
        /* The last answer: exactly our nonce, or the link is not ours. */
        if (p->nonce_as_error) {
            if (f->type != '-' ||
                strncmp(f->head, "ERR unknown command", 19) != 0 ||
                strstr(f->head, pl->nonce) == NULL) {
                return "reset-mismatch";
            }
            return keep(pl, "reset");
        }
        if (f->type == '-' && strncmp(f->head, "NOAUTH", 6) == 0 &&
            !with_auth) {
            /* Logged out by RESET: learn it once, lose this link. */
            p->nonce_as_error = true;
            log_info("event=reset-logged-out service=%s upstream=%s "
                     "action=\"the reset's nonce is checked through an "
                     "unknown-command error from now on (no AUTH is "
                     "injected, so ECHO needs a login the link no longer "
                     "has)\"", p->sc->name, p->sc->upstream);
            return "reset-logged-out";
        }
        if (f->type != '$' || f->nelems != POOL_NONCE_LEN ||
            strcmp(f->head, pl->nonce) != 0) {
            return "reset-mismatch";
        }
        return keep(pl, "reset");
    case PL_PINGING:
        if (f->type != '+' || strcmp(f->head, "PONG") != 0) {
            return "ping-failed";
        }
        pool_set_state(pl, PL_IDLE);
        return NULL;
    case PL_REAUTHING:
        if (f->type != '+' || strcmp(f->head, "OK") != 0) {
            return "reauth-rejected";
        }
        link_auth_renewed(pl->link);
        p->stats.reauths++;
        pool_set_state(pl, PL_IDLE);
        return NULL;
    case PL_PROBING:
        if (f->type == '*') {
            return probe_answered(pl, strcmp(f->head, "master") != 0, f->head);
        }
        return probe_answered(pl, f->type == '-' &&
                                  strncmp(f->head, "LOADING", 7) == 0,
                          "error");
    default:
        return "unexpected-data";
    }
}

void
pool_io_cb(struct link *link, short what, void *arg)
{
    struct pooled *pl = arg;
    char buf[4096];
    enum link_io st;

    if ((what & EV_WRITE) && send_out(pl) < 0) {
        pool_discard(pl, "write-failed");
        return;
    }
    for (;;) {
        size_t n = link_read(link, buf, sizeof(buf), &st);
        size_t off = 0;

        if (n == 0) {
            if (st == LINK_IO_WANT_READ) {
                return;
            }
            if (st == LINK_IO_WANT_WRITE) {
                link_watch(link, true, true);
                return;
            }
            pool_discard(pl, st == LINK_IO_EOF ? "server-closed"
                                               : "read-error");
            return;
        }
        if (pl->state == PL_IDLE) {
            pool_discard(pl, "unexpected-data");
            return;
        }
        while (off < n) {
            struct resp_frame f;
            size_t used;
            enum resp_status rst = resp_scan(&pl->rs, buf + off, n - off,
                                             &used, &f);
            const char *why;

            if (rst == RESP_ERROR) {
                pool_discard(pl, "bad-reply");
                return;
            }
            off += used;
            if (rst == RESP_FRAME && (why = on_frame(pl, &f)) != NULL) {
                pool_discard(pl, why);
                return;
            }
            if (pl->state == PL_IDLE && off < n) {
                pool_discard(pl, "unexpected-data");
                return;
            }
        }
        if (!link_has_pending(link)) {
            return;
        }
    }
}

void
pool_recycle(struct pool *p, struct link *link,
             const struct resp_scanner *rs, int64_t owed, bool clean)
{
    struct pooled *pl;
    const char *why;

    if (!pool_recycling(p) || (p->sc->link_max_lifetime > 0 &&
                               link_age(link) >= p->sc->link_max_lifetime)) {
        pool_note_closed(p, p->retired ? "reload"
                            : pool_recycling(p) ? "lifetime" : "no-pool");
        link_free(link, true);
        return;
    }
    pl = pool_add(p, link, PL_DRAINING);
    if (pl == NULL) {
        link_free(link, true);
        return;
    }
    pl->draining = true;
    if (p->drain_cb != NULL) {
        p->drain_cb(1, p->drain_arg);
    }
    link_set_io(link, pool_io_cb, pl);
    pl->rs = *rs;
    pl->owed = owed;
    pl->deadline = pool_now(p) + p->sc->drain_timeout;
    link_watch(link, true, false);
    if (owed == 0) {
        /* Nothing owed: but a reply may be half read (owed counts it).
         * A clean session's link goes back as it is: the server sees
         * nothing of the hand-over. */
        if (clean && !link_has_pending(link)) {
            p->stats.returned_clean++;
            if ((why = keep(pl, "clean")) != NULL) {
                pool_discard(pl, why);
            }
            return;
        }
        if (pool_start_command(pl, PL_RESETTING) < 0) {
            pool_discard(pl, "write-failed");
            return;
        }
    }
    /* TLS may already hold bytes of the owed replies. */
    if (link_has_pending(link)) {
        pool_io_cb(link, EV_READ, pl);
    }
}
