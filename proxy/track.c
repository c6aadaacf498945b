/*
 * track.c: request/reply accounting for link recycling (see track.h).
 *
 * The rule is Redis' own: one reply per request, in order, except for
 * commands that change the rule (subscribe family, MONITOR, CLIENT REPLY,
 * SCRIPT DEBUG, SYNC/PSYNC) and empty requests (no reply at all).  Out-of-band RESP3
 * pushes ('>') never count.  What cannot be proved stays unrecyclable.
 */
#include "track.h"

#include <stdlib.h>
#include <string.h>

/* Commands after which replies can no longer be counted. */
static const struct {
    const char *name;
    const char *why;
} uncountable[] = {
    {"subscribe", "pubsub"},     {"psubscribe", "pubsub"},
    {"ssubscribe", "pubsub"},    {"unsubscribe", "pubsub"},
    {"punsubscribe", "pubsub"},  {"sunsubscribe", "pubsub"},
    {"monitor", "monitor"},      {"sync", "replication"},
    {"psync", "replication"},    {"replconf", "replication"},
    {"quit", "quit"},
};

const char *const track_pin_names[TRACK_PIN_KINDS] = {
    "none", "transaction", "blocking", "select", "hello", "client", "auth",
    "readonly", "subscribe", "monitor", "reset", "inline", "other",
    "large-request", "unparsed",
};

enum track_pin
track_pin_reason(const struct resp_frame *f)
{
    static const struct {
        const char *name;
        enum track_pin pin;
    } named[] = {
        {"multi", TRACK_PIN_TRANSACTION},   {"watch", TRACK_PIN_TRANSACTION},
        {"exec", TRACK_PIN_TRANSACTION},    {"discard", TRACK_PIN_TRANSACTION},
        {"unwatch", TRACK_PIN_TRANSACTION}, {"select", TRACK_PIN_SELECT},
        {"hello", TRACK_PIN_HELLO},         {"client", TRACK_PIN_CLIENT},
        {"auth", TRACK_PIN_AUTH},           {"readonly", TRACK_PIN_READONLY},
        {"readwrite", TRACK_PIN_READONLY},  {"asking", TRACK_PIN_READONLY},
        {"subscribe", TRACK_PIN_SUBSCRIBE}, {"psubscribe", TRACK_PIN_SUBSCRIBE},
        {"ssubscribe", TRACK_PIN_SUBSCRIBE},
        {"unsubscribe", TRACK_PIN_SUBSCRIBE},
        {"punsubscribe", TRACK_PIN_SUBSCRIBE},
        {"sunsubscribe", TRACK_PIN_SUBSCRIBE},
        {"monitor", TRACK_PIN_MONITOR},     {"reset", TRACK_PIN_RESET},
    };
    bool clean, blocking, known;

    if (f->type == 'i') {
        return TRACK_PIN_INLINE;
    }
    if (f->name_odd) {
        return TRACK_PIN_OTHER;
    }
    known = track_command_known(f->name, &clean, &blocking);
    if (strcmp(f->name, "script") == 0 && strcmp(f->arg1, "debug") == 0) {
        return TRACK_PIN_OTHER;     /* on the allow-list, yet it changes the
                                       connection (track_request) */
    }
    if (known && clean && !blocking) {
        return TRACK_PIN_NONE;
    }
    if (strcmp(f->name, "select") == 0 && f->nelems == 2 && !f->arg1_odd &&
        strcmp(f->arg1, "0") == 0) {
        return TRACK_PIN_NONE;      /* db 0 already: changes nothing */
    }
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (strcmp(f->name, named[i].name) == 0) {
            return named[i].pin;
        }
    }
    return known && blocking ? TRACK_PIN_BLOCKING : TRACK_PIN_OTHER;
}

/* The reply to the request just being sent must be want ('+' for +OK,
 * '*' for EXEC's array or nil), or the client stays pinned. */
static void
pinned_expect(struct track_pinned *p, const struct track *t, char want)
{
    if (p->nchecks == TRACK_PIN_CHECKS) {
        p->keep = true;     /* more than we follow: the safe way */
        return;
    }
    p->check[p->nchecks] = t->sent;
    p->want[p->nchecks++] = want;
}

void
track_pinned_request(struct track_pinned *p, const struct track *t,
                     const struct resp_frame *f)
{
    switch (track_pin_reason(f)) {
    case TRACK_PIN_NONE:
        return;
    case TRACK_PIN_BLOCKING:
        /* its reply ends it: the blocking family touches no connection
         * state.  WAIT and WAITAOF count replicas for this link's writes:
         * on another link after an unpin they would count too few. */
        if (strcmp(f->name, "wait") == 0 || strcmp(f->name, "waitaof") == 0) {
            p->keep = true;
        }
        return;
    case TRACK_PIN_TRANSACTION:
        /* Decided when sent, verified by the reply: a refused UNWATCH or
         * EXEC leaves the keys watched, a refused EXEC may leave the MULTI
         * open (Redis < 6.2), a refused MULTI opens none. */
        if (strcmp(f->name, "watch") == 0) {
            p->watching = true;     /* refused inside MULTI: still safe */
        } else if (strcmp(f->name, "unwatch") == 0) {
            if (t->in_multi) {
                return;             /* queued: EXEC or DISCARD ends both */
            }
            p->watching = false;
            pinned_expect(p, t, '+');
        } else if (strcmp(f->name, "multi") == 0) {
            pinned_expect(p, t, t->in_multi ? '-' : '+');
        } else if (t->in_multi && (strcmp(f->name, "exec") == 0 ||
                                   strcmp(f->name, "discard") == 0)) {
            p->watching = false;
            pinned_expect(p, t, f->name[0] == 'e' ? '*' : '+');
        } else {
            p->keep = true;         /* EXEC or DISCARD without MULTI */
        }
        return;
    default:
        p->keep = true;
        return;
    }
}

void
track_pinned_reply(struct track_pinned *p, const struct track *t,
                   const struct resp_frame *f)
{
    bool ok;

    if (f->type == '>' || p->nchecks == 0 || p->check[0] != t->received) {
        return;     /* a push, or a reply we do not verify */
    }
    switch (p->want[0]) {
    case '+':
        ok = f->type == '+' && strcmp(f->head, "OK") == 0;
        break;
    case '*':
        ok = f->type == '*' || f->type == '_';  /* RESP3 nil: '_' */
        break;
    default:
        ok = f->type == '-';    /* MULTI inside MULTI: refused, as it must */
        break;
    }
    if (!ok) {
        p->keep = true;
    }
    p->nchecks--;
    memmove(p->check, p->check + 1, sizeof(p->check[0]) * (size_t)p->nchecks);
    memmove(p->want, p->want + 1, sizeof(p->want[0]) * (size_t)p->nchecks);
}

bool
track_pinned_done(const struct track_pinned *p, const struct track *t)
{
    return !p->keep && !p->watching && p->nchecks == 0 &&
           track_is_quiet(t) && t->nreauth == 0;
}

void
track_init(struct track *t)
{
    memset(t, 0, sizeof(*t));
}

void
track_break(struct track *t, const char *why)
{
    if (t->broken == NULL) {
        t->broken = why;
    }
}

/* The command table (commands.inc, generated): sorted by name. */
enum {
    TC_CLEAN = 1,       /* touches no connection state, one reply */
    TC_BLOCKING = 2     /* can block the connection */
};

static const struct command_entry {
    const char *name;
    int flags;
} commands[] = {
#include "commands.inc"
};

static int
command_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct command_entry *)elem)->name);
}

bool
track_command_known(const char *name, bool *clean, bool *blocking)
{
    const struct command_entry *e =
        bsearch(name, commands, sizeof(commands) / sizeof(commands[0]),
                sizeof(commands[0]), command_cmp);

    *clean = e != NULL && (e->flags & TC_CLEAN);
    *blocking = e == NULL || (e->flags & TC_BLOCKING);
    return e != NULL;
}

enum track_action
track_request(struct track *t, const struct resp_frame *f)
{
    bool clean, blocking;

    if (resp_frame_is_empty_request(f)) {
        return TRACK_FORWARD;   /* the server answers nothing */
    }
    t->sent++;
    /* A name cut short or holding a NUL is no command Redis has: it
     * answers one error, but we judge it as unknown. */
    if (f->name_odd) {
        clean = false;
        blocking = true;
    } else {
        (void)track_command_known(f->name, &clean, &blocking);
    }
    if (blocking) {
        t->block_reply = t->sent;
    }
    /* SCRIPT DEBUG is in no ACL category that says so, yet it changes the
     * connection (its next EVAL runs in the debugger, which speaks its own
     * replies) and RESET does not undo it: the link is not reused. */
    if (f->name[0] == 's' && strcmp(f->name, "script") == 0 &&
        strcmp(f->arg1, "debug") == 0) {
        t->touched = true;
        track_break(t, "script-debug");
    }
    if (clean && f->type != 'i') {
        return TRACK_FORWARD;   /* the hot path: GET, SET, EVAL, ... */
    }
    t->touched = true;
    /* MULTI ends with EXEC (even refused: EXECABORT), or with DISCARD or
     * RESET as Redis accepts them (no argument: with one, Redis answers
     * a wrong-arity error and the transaction goes on). */
    if (strcmp(f->name, "multi") == 0) {
        t->in_multi = true;
    } else if (strcmp(f->name, "exec") == 0 ||
               ((strcmp(f->name, "discard") == 0 ||
                 strcmp(f->name, "reset") == 0) && f->nelems == 1)) {
        t->in_multi = false;
    }
    if (strcmp(f->name, "reset") == 0 && f->nelems == 1) {
        t->own_auth = false;    /* logged out: our AUTH follows it */
    }
    if (strcmp(f->name, "auth") == 0 ||
        (strcmp(f->name, "hello") == 0 && f->nelems > 2)) {
        t->own_auth = true;
    }
    for (size_t i = 0; i < sizeof(uncountable) / sizeof(uncountable[0]);
         i++) {
        if (strcmp(f->name, uncountable[i].name) == 0) {
            track_break(t, uncountable[i].why);
        }
    }
    if (strcmp(f->name, "client") == 0 && strcmp(f->arg1, "reply") == 0) {
        track_break(t, "client-reply");
    }
    return strcmp(f->name, "reset") == 0 && !f->name_odd ? TRACK_REAUTH
                                                         : TRACK_FORWARD;
}

int
track_injected(struct track *t)
{
    if (t->nreauth == TRACK_MAX_REAUTH) {
        track_break(t, "too-many-resets");
        return -1;
    }
    t->reauth[t->nreauth++] = t->sent;
    t->sent++;
    return 0;
}

bool
track_next_is_ours(const struct track *t)
{
    return t->nreauth > 0 && t->reauth[0] == t->received;
}

bool
track_reply(struct track *t, const struct resp_frame *f)
{
    bool ours;

    if (f->type == '>') {
        return false;   /* RESP3 push: out of band */
    }
    ours = track_next_is_ours(t);
    if (ours) {
        t->nreauth--;
        memmove(t->reauth, t->reauth + 1,
                sizeof(t->reauth[0]) * (size_t)t->nreauth);
    }
    t->received++;
    if (t->received > t->sent) {
        track_break(t, "unexpected-reply");
    }
    return ours;
}

int64_t
track_owed(const struct track *t)
{
    return t->sent > t->received ? t->sent - t->received : 0;
}

bool
track_is_recyclable(const struct track *t, const char **why)
{
    *why = t->broken;
    return t->broken == NULL;
}

bool
track_is_clean(const struct track *t)
{
    return !t->touched && t->broken == NULL;
}

bool
track_is_quiet(const struct track *t)
{
    return t->broken == NULL && t->received == t->sent && !t->in_multi;
}

bool
track_is_blocking(const struct track *t)
{
    return t->received < t->block_reply;
}
