/*
 * check_track: the tracker's verdict for each state a client can leave a
 * link in, fed with frames from the real scanner.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "unit.h"

/*
 * Feeds every frame of text (requests or replies, by mode) to t, and to p
 * first when p is not NULL (a pinned client, as session.c does).  Returns
 * the last request's action, or how many replies were "ours".
 */
static int
feed(struct track *t, struct track_pinned *p, const char *text,
     enum resp_mode mode)
{
    struct resp_scanner s;
    struct resp_frame f;
    size_t off = 0, len = strlen(text), used;
    int r = mode == RESP_REQUESTS ? (int)TRACK_FORWARD : 0;

    resp_init(&s, mode);
    while (off < len) {
        enum resp_status st = resp_scan(&s, text + off, len - off, &used, &f);

        ck_assert_int_ne(st, RESP_ERROR);
        if (st == RESP_FRAME && mode == RESP_REQUESTS) {
            if (p != NULL) {
                track_pinned_request(p, t, &f);
            }
            r = (int)track_request(t, &f);
        } else if (st == RESP_FRAME) {
            if (p != NULL) {
                track_pinned_reply(p, t, &f);
            }
            r += track_reply(t, &f);
        }
        off += used;
    }
    return r;
}

/* Feeds every request frame in text to t; returns the last action. */
static enum track_action
requests(struct track *t, const char *text)
{
    return (enum track_action)feed(t, NULL, text, RESP_REQUESTS);
}

/* Feeds reply frames; returns how many were "ours". */
static int
replies(struct track *t, const char *text)
{
    return feed(t, NULL, text, RESP_REPLIES);
}

START_TEST(counts_owed_replies)
{
    struct track t;
    const char *why;

    track_init(&t);
    requests(&t, "PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nBLPOP q 0\r\n");
    ck_assert_int_eq(track_owed(&t), 3);
    replies(&t, "+PONG\r\n$-1\r\n");
    ck_assert_int_eq(track_owed(&t), 1);
    ck_assert(track_is_recyclable(&t, &why));
}
END_TEST

START_TEST(empty_requests_owe_nothing)
{
    struct track t;

    track_init(&t);
    requests(&t, "\r\n*0\r\n\n");
    ck_assert_int_eq(track_owed(&t), 0);
}
END_TEST

START_TEST(multi_exec_counted)
{
    struct track t;
    const char *why;

    track_init(&t);
    requests(&t, "MULTI\r\nSET a 1\r\nINCR a\r\n");
    replies(&t, "+OK\r\n+QUEUED\r\n+QUEUED\r\n");
    ck_assert_int_eq(track_owed(&t), 0);
    ck_assert(track_is_recyclable(&t, &why));   /* RESET discards MULTI */
}
END_TEST

/* Where our own AUTH may go in (a held link's timed re-AUTH): not while
 * a reply is owed, a MULTI is open, or replies cannot be matched. */
START_TEST(quiet_points)
{
    struct track t;

    track_init(&t);
    ck_assert(track_is_quiet(&t));
    requests(&t, "PING\r\n");
    ck_assert(!track_is_quiet(&t));                 /* a reply owed */
    replies(&t, "+PONG\r\n");
    ck_assert(track_is_quiet(&t));
    requests(&t, "multi\r\nPING\r\n");
    replies(&t, "+OK\r\n+QUEUED\r\n");
    ck_assert(!track_is_quiet(&t));                 /* MULTI open */
    requests(&t, "*1\r\n$4\r\nEXEC\r\n");
    replies(&t, "*1\r\n+PONG\r\n");
    ck_assert(track_is_quiet(&t));
    requests(&t, "MULTI\r\nDISCARD\r\n");
    replies(&t, "+OK\r\n+OK\r\n");
    ck_assert(track_is_quiet(&t));
    requests(&t, "MULTI\r\nRESET\r\n");
    replies(&t, "+OK\r\n+RESET\r\n");
    ck_assert(track_is_quiet(&t));                  /* RESET ends it */
    requests(&t, "BLPOP q 0\r\n");
    ck_assert(!track_is_quiet(&t));                 /* blocked */
    replies(&t, "*-1\r\n");
    ck_assert(track_is_quiet(&t));
    requests(&t, "MULTI\r\nDISCARD x\r\n");
    replies(&t, "+OK\r\n-ERR wrong number of arguments\r\n");
    ck_assert(!track_is_quiet(&t));     /* refused: still in MULTI */
    requests(&t, "DISCARD\r\n");
    replies(&t, "+OK\r\n");
    ck_assert(track_is_quiet(&t));
    ck_assert(!t.own_auth);
    requests(&t, "AUTH other secret\r\n");
    replies(&t, "+OK\r\n");
    ck_assert(t.own_auth);              /* its login, not ours */
    requests(&t, "RESET\r\n");
    replies(&t, "+RESET\r\n");
    ck_assert(!t.own_auth);
    requests(&t, "HELLO 3 AUTH u p\r\n");
    ck_assert(t.own_auth);
    track_init(&t);
    requests(&t, "SUBSCRIBE ch\r\n");
    replies(&t, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    ck_assert(!track_is_quiet(&t));                 /* uncountable */
}
END_TEST

static const struct {
    const char *req;
    const char *why;
} unrecyclable[] = {
    {"SUBSCRIBE ch\r\n", "pubsub"},
    {"*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nc*\r\n", "pubsub"},
    {"SSUBSCRIBE ch\r\n", "pubsub"},
    {"UNSUBSCRIBE\r\n", "pubsub"},
    {"MONITOR\r\n", "monitor"},
    {"CLIENT REPLY OFF\r\n", "client-reply"},
    {"client reply skip\r\n", "client-reply"},
    {"*3\r\n$6\r\nSCRIPT\r\n$5\r\nDEBUG\r\n$3\r\nYES\r\n", "script-debug"},
    {"*3\r\n$6\r\nscript\r\n$5\r\ndebug\r\n$4\r\nsync\r\n", "script-debug"},
    {"PSYNC ? -1\r\n", "replication"},
    {"SYNC\r\n", "replication"},
    {"QUIT\r\n", "quit"},
};

START_TEST(mode_changers_are_unrecyclable)
{
    struct track t;
    const char *why = NULL;

    track_init(&t);
    requests(&t, unrecyclable[_i].req);
    ck_assert(!track_is_recyclable(&t, &why));
    ck_assert_str_eq(why, unrecyclable[_i].why);
}
END_TEST

START_TEST(script_load_stays_clean)
{
    struct track t;
    const char *why = NULL;

    track_init(&t);
    requests(&t, "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$8\r\nreturn 1\r\n");
    replies(&t, "$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n");
    ck_assert(track_is_recyclable(&t, &why));
    ck_assert(!t.touched);
}
END_TEST

START_TEST(pushes_do_not_count)
{
    struct track t;
    const char *why;

    track_init(&t);
    requests(&t, "HELLO 3\r\nGET k\r\n");
    replies(&t, "%1\r\n+proto\r\n:3\r\n"
                ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    ck_assert_int_eq(track_owed(&t), 1);
    replies(&t, "_\r\n");
    ck_assert_int_eq(track_owed(&t), 0);
    ck_assert(track_is_recyclable(&t, &why));
}
END_TEST

START_TEST(extra_reply_breaks)
{
    struct track t;
    const char *why;

    track_init(&t);
    requests(&t, "PING\r\n");
    replies(&t, "+PONG\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n");
    ck_assert(!track_is_recyclable(&t, &why));
    ck_assert_str_eq(why, "unexpected-reply");
}
END_TEST

START_TEST(reset_then_our_auth_swallowed)
{
    struct track t;

    track_init(&t);
    ck_assert_int_eq(requests(&t, "SET a 1\r\nRESET\r\n"), TRACK_REAUTH);
    ck_assert_int_eq(track_injected(&t), 0);
    requests(&t, "GET a\r\n");
    ck_assert_int_eq(track_owed(&t), 4);
    ck_assert(!track_next_is_ours(&t));
    ck_assert_int_eq(replies(&t, "+OK\r\n+RESET\r\n"), 0);
    ck_assert(track_next_is_ours(&t));
    ck_assert_int_eq(replies(&t, "+OK\r\n"), 1);
    ck_assert_int_eq(replies(&t, "$1\r\n1\r\n"), 0);
    ck_assert_int_eq(track_owed(&t), 0);
}
END_TEST

/* RESP arrays of allow-listed commands leave the connection clean. */
START_TEST(clean_sessions)
{
    struct track t;

    track_init(&t);
    requests(&t, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
                 "*2\r\n$3\r\nget\r\n$1\r\nk\r\n"
                 "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
                 "*3\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n0\r\n"
                 "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nINFO\r\n");
    ck_assert(track_is_clean(&t));
    ck_assert(!track_is_blocking(&t));
}
END_TEST

/* Anything that may touch connection state, is unknown, or inline. */
static const char *const touching[] = {
    "*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n",
    "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n",
    "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
    "*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n",
    "*1\r\n$8\r\nREADONLY\r\n",
    "*2\r\n$5\r\nWATCH\r\n$1\r\nw\r\n",
    "*1\r\n$5\r\nMULTI\r\n",
    "*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n",
    "*1\r\n$9\r\nFROBULATE\r\n",
    "*1\r\n$4\r\nGET\0\r\n",
    "GET k\r\n",
};

START_TEST(touching_sessions)
{
    struct track t;
    struct resp_scanner s;
    struct resp_frame f;
    const char *text = touching[_i];
    size_t len = strlen(text), used;

    if (strstr(text, "GET") != NULL && text[0] == '*') {
        len = 14;       /* "GET\0": strlen stops at the NUL */
    }
    track_init(&t);
    resp_init(&s, RESP_REQUESTS);
    ck_assert_int_eq(resp_scan(&s, text, len, &used, &f), RESP_FRAME);
    track_request(&t, &f);
    ck_assert(!track_is_clean(&t));
}
END_TEST

/* A blocking command is in flight until its reply arrives. */
static const char *const blockers[] = {
    "BLPOP q 0\r\n", "BRPOP q 0\r\n", "BRPOPLPUSH a b 0\r\n",
    "BLMOVE a b LEFT RIGHT 0\r\n", "BLMPOP 0 1 q LEFT\r\n",
    "BZPOPMIN z 0\r\n", "BZPOPMAX z 0\r\n", "BZMPOP 0 1 z MIN\r\n",
    "XREAD BLOCK 0 STREAMS s $\r\n",
    "XREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\n", "WAIT 1 0\r\n",
    "WAITAOF 1 0 0\r\n", "\"blpop\" q 0\r\n", "\vBLPOP q 0\r\n",
    "*3\r\n$5\r\nblpop\r\n$1\r\nq\r\n$1\r\n0\r\n",
    "UNKNOWNCMD x\r\n",
};

START_TEST(blocking_in_flight)
{
    struct track t;

    track_init(&t);
    requests(&t, "GET a\r\n");
    replies(&t, "$-1\r\n");
    ck_assert(!track_is_blocking(&t));
    requests(&t, blockers[_i]);
    requests(&t, "GET a\r\n");
    ck_assert(track_is_blocking(&t));
    replies(&t, "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    ck_assert(!track_is_blocking(&t));  /* answered: no longer blocks */
    replies(&t, "$-1\r\n");
    ck_assert(!track_is_blocking(&t));
    ck_assert_int_eq(track_owed(&t), 0);
}
END_TEST

/* The command table is sorted (bsearch) and knows what it should. */
START_TEST(command_table)
{
    bool clean, blocking;

    ck_assert(track_command_known("get", &clean, &blocking));
    ck_assert(clean && !blocking);
    ck_assert(track_command_known("eval", &clean, &blocking));
    ck_assert(clean && !blocking);
    ck_assert(track_command_known("select", &clean, &blocking));
    ck_assert(!clean && !blocking);
    ck_assert(track_command_known("blpop", &clean, &blocking));
    ck_assert(!clean && blocking);
    ck_assert(track_command_known("zunionstore", &clean, &blocking));
    ck_assert(track_command_known("append", &clean, &blocking));
    ck_assert(!track_command_known("frobulate", &clean, &blocking));
    ck_assert(!clean && blocking);
}
END_TEST

/* The pin reason of the one request in text. */
static enum track_pin
pin_of(const char *text)
{
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    resp_init(&s, RESP_REQUESTS);
    ck_assert_int_eq(resp_scan(&s, text, strlen(text), &used, &f),
                     RESP_FRAME);
    return track_pin_reason(&f);
}

START_TEST(pin_reasons)
{
    static const struct {
        const char *req;
        enum track_pin want;
    } cases[] = {
        {"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", TRACK_PIN_NONE},
        {"*3\r\n$4\r\nEVAL\r\n$1\r\nx\r\n$1\r\n0\r\n", TRACK_PIN_NONE},
        {"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", TRACK_PIN_NONE},
        {"*2\r\n$6\r\nSELECT\r\n$2\r\n00\r\n", TRACK_PIN_SELECT},
        {"*2\r\n$6\r\nselect\r\n$1\r\n5\r\n", TRACK_PIN_SELECT},
        {"*1\r\n$5\r\nMULTI\r\n", TRACK_PIN_TRANSACTION},
        {"*2\r\n$5\r\nWATCH\r\n$1\r\nk\r\n", TRACK_PIN_TRANSACTION},
        {"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n", TRACK_PIN_BLOCKING},
        {"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n", TRACK_PIN_BLOCKING},
        {"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", TRACK_PIN_HELLO},
        {"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nn\r\n", TRACK_PIN_CLIENT},
        {"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n", TRACK_PIN_AUTH},
        {"*1\r\n$8\r\nREADONLY\r\n", TRACK_PIN_READONLY},
        {"*1\r\n$6\r\nASKING\r\n", TRACK_PIN_READONLY},
        {"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n", TRACK_PIN_SUBSCRIBE},
        {"*2\r\n$10\r\nSSUBSCRIBE\r\n$1\r\nc\r\n", TRACK_PIN_SUBSCRIBE},
        {"*1\r\n$7\r\nMONITOR\r\n", TRACK_PIN_MONITOR},
        {"*1\r\n$5\r\nRESET\r\n", TRACK_PIN_RESET},
        {"*1\r\n$7\r\nNOSUCHX\r\n", TRACK_PIN_OTHER},
        {"*2\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n", TRACK_PIN_OTHER},
        {"GET k\r\n", TRACK_PIN_INLINE},
        {"*3\r\n$6\r\nSCRIPT\r\n$5\r\nDEBUG\r\n$3\r\nYES\r\n", TRACK_PIN_OTHER},
        {"*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$1\r\nx\r\n", TRACK_PIN_NONE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(pin_of(cases[i].req) == cases[i].want, "case %zu: %s",
                      i, track_pin_names[pin_of(cases[i].req)]);
    }
}
END_TEST

START_TEST(unpin_rules)
{
#define R_MULTI "*1\r\n$5\r\nMULTI\r\n"
#define R_EXEC "*1\r\n$4\r\nEXEC\r\n"
#define R_SET "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
#define R_WATCH "*2\r\n$5\r\nWATCH\r\n$1\r\nk\r\n"
    static const struct {
        const char *req;        /* what the pinned client sent */
        const char *rep;        /* what came back */
        bool done;              /* may it go back to shared links? */
    } cases[] = {
        {R_MULTI R_SET R_EXEC, "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n", true},
        {R_MULTI R_SET, "+OK\r\n+QUEUED\r\n", false},       /* MULTI open */
        {R_MULTI R_SET R_EXEC, "+OK\r\n+QUEUED\r\n", false},    /* owed */
        {R_MULTI "*1\r\n$7\r\nDISCARD\r\n", "+OK\r\n+OK\r\n", true},
        {R_WATCH, "+OK\r\n", false},
        {R_WATCH "*1\r\n$7\r\nUNWATCH\r\n", "+OK\r\n+OK\r\n", true},
        {R_WATCH R_EXEC, "+OK\r\n-ERR EXEC without MULTI\r\n", false},
        {R_WATCH R_MULTI R_SET R_EXEC, "+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n",
         true},
        {"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n", "", false},
        {"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n", "*-1\r\n", true},
        {"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$-1\r\n", true},
        {"*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
         "+OK\r\n+OK\r\n", false},  /* SELECT is not followed */
        {R_MULTI "*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n" R_EXEC,
         "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n", false},     /* ... in MULTI */
        {"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nn\r\n", "+OK\r\n",
         false},
        {"*1\r\n$5\r\nRESET\r\n", "+RESET\r\n", false},
        {"GET k\r\n", "$-1\r\n", false},                /* inline */
        /* refused: the reply says the state did not end */
        {R_WATCH "*2\r\n$7\r\nUNWATCH\r\n$1\r\nk\r\n",
         "+OK\r\n-ERR wrong number of arguments\r\n", false},
        {R_MULTI R_SET R_EXEC, "+OK\r\n-ERR unknown\r\n-EXECABORT x\r\n",
         false},
        {"*2\r\n$5\r\nMULTI\r\n$1\r\nx\r\n" R_EXEC,
         "-ERR wrong number of arguments\r\n-ERR EXEC without MULTI\r\n",
         false},
        {R_MULTI R_MULTI "*1\r\n$7\r\nDISCARD\r\n",
         "+OK\r\n-ERR MULTI calls can not be nested\r\n+OK\r\n", true},
        {R_MULTI "*1\r\n$7\r\nUNWATCH\r\n" R_EXEC,
         "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n", true},
        /* WAIT counts this link's writes: never unpinned after it */
        {"*3\r\n$4\r\nWAIT\r\n$1\r\n0\r\n$1\r\n0\r\n", ":0\r\n", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct track t;
        struct track_pinned p = {0};

        track_init(&t);
        (void)feed(&t, &p, cases[i].req, RESP_REQUESTS);
        (void)feed(&t, &p, cases[i].rep, RESP_REPLIES);
        ck_assert_msg(track_pinned_done(&p, &t) == cases[i].done,
                      "case %zu: %s", i, cases[i].req);
    }
#undef R_MULTI
#undef R_EXEC
#undef R_SET
#undef R_WATCH
}
END_TEST

START_TEST(too_many_resets_break)
{
    struct track t;
    const char *why;

    track_init(&t);
    for (int i = 0; i < TRACK_MAX_REAUTH; i++) {
        requests(&t, "RESET\r\n");
        ck_assert_int_eq(track_injected(&t), 0);
    }
    requests(&t, "RESET\r\n");
    ck_assert_int_eq(track_injected(&t), -1);
    ck_assert(!track_is_recyclable(&t, &why));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("track");
    TCase *tc = tcase_create("track");

    tcase_add_test(tc, counts_owed_replies);
    tcase_add_test(tc, empty_requests_owe_nothing);
    tcase_add_test(tc, multi_exec_counted);
    tcase_add_test(tc, script_load_stays_clean);
    tcase_add_loop_test(tc, mode_changers_are_unrecyclable, 0,
                        (int)(sizeof(unrecyclable) /
                              sizeof(unrecyclable[0])));
    tcase_add_test(tc, pushes_do_not_count);
    tcase_add_test(tc, extra_reply_breaks);
    tcase_add_test(tc, reset_then_our_auth_swallowed);
    tcase_add_test(tc, too_many_resets_break);
    tcase_add_test(tc, pin_reasons);
    tcase_add_test(tc, unpin_rules);
    tcase_add_test(tc, quiet_points);
    tcase_add_test(tc, clean_sessions);
    tcase_add_loop_test(tc, touching_sessions, 0,
                        (int)(sizeof(touching) / sizeof(touching[0])));
    tcase_add_loop_test(tc, blocking_in_flight, 0,
                        (int)(sizeof(blockers) / sizeof(blockers[0])));
    tcase_add_test(tc, command_table);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
