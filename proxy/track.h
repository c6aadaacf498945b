/*
 * track.h: what a session's protocol state says about its link.
 *
 * track.c follows the frames resp.c finds in both directions and answers
 * three questions at the end of a session.  Can this link be lent to
 * someone else?  Only when every reply can still be matched to its
 * request: then it knows how many replies the server still owes, and the
 * pool reads (and drops) exactly those first.  Anything that breaks the
 * one-request-one-reply rule (pub/sub, MONITOR, CLIENT REPLY, replication,
 * malformed bytes) makes the link unrecyclable for good.  Is a command
 * that can block (BLPOP, XREAD, WAIT, ...) still waiting for its reply?
 * Then the close must reach the server at once, or the orphaned
 * connection would pop the next job.  Did the session leave the
 * connection as it found it (clean)?  Only when every command was on the
 * allow-list of commands that touch no connection state (commands.inc,
 * made from Redis' own command table): then the link goes back with
 * nothing sent; otherwise it is RESET first.  Pure: no I/O.
 */
#ifndef REDSLEEVE_TRACK_H
#define REDSLEEVE_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "resp.h"

#define TRACK_MAX_REAUTH 8      /* client RESETs in flight we follow */

struct track {
    int64_t sent;               /* counted requests sent */
    int64_t received;           /* counted replies received */
    const char *broken;         /* why replies no longer match; NULL = ok */
    bool touched;               /* a command that may have changed the
                                   connection's state (or one we do not
                                   know, or an inline one) was sent */
    int64_t block_reply;        /* received must reach this before no
                                   command that can block is in flight */
    bool in_multi;              /* MULTI sent, no EXEC/DISCARD/RESET yet */
    bool own_auth;              /* the client sent AUTH (or HELLO ...
                                   AUTH): the login is its own */
    int64_t reauth[TRACK_MAX_REAUTH];   /* reply ordinals to swallow */
    int nreauth;                /* entries in reauth */
};

enum track_action {
    TRACK_FORWARD = 0,          /* nothing special */
    TRACK_REAUTH                /* a RESET: inject AUTH right after it */
};

/* track_init(t): a fresh link: nothing owed. */
void track_init(struct track *t);

/*
 * track_request(t, f): the client sent request f.  Returns TRACK_REAUTH
 * for a RESET (which logs the connection out): the caller, when it injects
 * AUTH, sends it right after and calls track_injected().
 */
enum track_action track_request(struct track *t, const struct resp_frame *f);

/*
 * track_injected(t): the proxy sent a request of its own (AUTH after a
 * RESET); its reply is to be swallowed.  Returns 0, or -1 when too many
 * are in flight (the link is then marked broken).
 */
int track_injected(struct track *t);

/* track_next_is_ours(t): the next counted reply answers our own request. */
bool track_next_is_ours(const struct track *t);

/*
 * track_reply(t, f): the server sent frame f.  Returns true when it was
 * the reply to our own injected request (the caller drops it and checks
 * it is +OK).  RESP3 pushes are not replies and are not counted.
 */
bool track_reply(struct track *t, const struct resp_frame *f);

/* track_break(t, why): replies can no longer be matched (sticky). */
void track_break(struct track *t, const char *why);

/* track_owed(t): replies the server still owes; < 0 never happens. */
int64_t track_owed(const struct track *t);

/*
 * track_is_recyclable(t, why): true when the link can be drained and
 * RESET; else *why says what made it unrecyclable.
 */
bool track_is_recyclable(const struct track *t, const char **why);

/*
 * track_is_clean(t): every command sent was on the allow-list (known to
 * touch no connection state, sent as an array, not inline) and replies
 * still match: the link needs no RESET.
 */
bool track_is_clean(const struct track *t);

/*
 * track_is_blocking(t): a command that can block (the blocking family,
 * WAIT, WAITAOF, or one we do not know) has not been answered yet.
 */
bool track_is_blocking(const struct track *t);

/*
 * track_is_quiet(t): a request of our own sent now could land inside
 * nothing of the client's: replies still match, every one is in (so no
 * command blocks), and no MULTI is open (it would be queued).  The caller
 * also checks no request is half sent.
 */
bool track_is_quiet(const struct track *t);

/* Why a shared-mode client (pool_mode = shared) needs a link of its
 * own for the rest of its life, by the request that says so. */
enum track_pin {
    TRACK_PIN_NONE = 0,         /* may go on a shared link */
    TRACK_PIN_TRANSACTION,      /* MULTI, WATCH, EXEC, DISCARD, UNWATCH */
    TRACK_PIN_BLOCKING,         /* BLPOP, XREAD, WAIT, ... */
    TRACK_PIN_SELECT,           /* SELECT of a db other than 0 */
    TRACK_PIN_HELLO,            /* HELLO (protocol, login, name) */
    TRACK_PIN_CLIENT,           /* CLIENT SETNAME, TRACKING, REPLY, ... */
    TRACK_PIN_AUTH,             /* the client's own AUTH */
    TRACK_PIN_READONLY,         /* READONLY, READWRITE, ASKING */
    TRACK_PIN_SUBSCRIBE,        /* SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, ... */
    TRACK_PIN_MONITOR,          /* MONITOR */
    TRACK_PIN_RESET,            /* RESET */
    TRACK_PIN_INLINE,           /* an inline (telnet) command */
    TRACK_PIN_OTHER,            /* not on the allow-list */
    TRACK_PIN_LARGE,            /* a request longer than buffer_limit */
    TRACK_PIN_UNPARSED,         /* bytes that are not RESP */
    TRACK_PIN_KINDS
};

/* track_pin_names[k]: "transaction", "blocking", ... (metrics, logs). */
extern const char *const track_pin_names[TRACK_PIN_KINDS];

/*
 * track_pin_reason(f): whether request f may share a link with other
 * clients' requests: only a command on the allow-list (touches no
 * connection state, never blocks), sent as an array, or SELECT 0 (a
 * shared link is always on db 0).  Pure.
 */
enum track_pin track_pin_reason(const struct resp_frame *f);

/*
 * While a shared-mode client is pinned: whether its connection state may
 * be back to a fresh link's, so that it can go back to shared links.
 * Only transactions and blocking commands are followed: their state ends
 * (EXEC, DISCARD, UNWATCH, the reply).  Any other pin reason, WAIT or
 * WAITAOF (they count replicas for the writes made on their own link),
 * and any MULTI, EXEC, DISCARD or UNWATCH whose reply says it did not do
 * what it says (refused, or queued in a MULTI we did not see) keep the
 * client pinned for good.
 */
#define TRACK_PIN_CHECKS 8      /* replies to verify, in flight */

struct track_pinned {
    bool keep;                  /* state we do not follow was touched */
    bool watching;              /* WATCH sent; no UNWATCH, or EXEC or
                                   DISCARD inside a MULTI, since */
    int64_t check[TRACK_PIN_CHECKS];    /* reply ordinals to verify ... */
    char want[TRACK_PIN_CHECKS];        /* ... as '+' (+OK) or '*' (EXEC's
                                           array or nil) */
    int nchecks;
};

/*
 * track_pinned_request(p, t, f): the pinned client sent request f; t is
 * its tracker before track_request(t, f).  Pure.
 */
void track_pinned_request(struct track_pinned *p, const struct track *t,
                          const struct resp_frame *f);

/*
 * track_pinned_reply(p, t, f): the server sent frame f to the pinned
 * client; t is its tracker before track_reply(t, f).  Pure.
 */
void track_pinned_reply(struct track_pinned *p, const struct track *t,
                        const struct resp_frame *f);

/*
 * track_pinned_done(p, t): the client's state is a fresh link's again:
 * nothing kept, no WATCH, no MULTI open, replies still match, every one
 * is in (so no command blocks).  The caller also checks that no request
 * or reply is half through.
 */
bool track_pinned_done(const struct track_pinned *p, const struct track *t);

/* track_command_known(name, clean, blocking): looks name (lowercase) up
 * in the command table; false when Redis' table has no such command. */
bool track_command_known(const char *name, bool *clean, bool *blocking);

#endif
