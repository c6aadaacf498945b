/*
 * check_resp: the RESP scanner on every RESP2/RESP3 type, whole, byte by
 * byte and split at every offset; requests (array and inline) with their
 * command names; malformed input (an error, never a read past the end).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "unit.h"
#include "../fuzz/ref_split.h"

struct sample {
    const char *bytes;      /* one top-level frame */
    char type;              /* expected frame type */
    const char *name;       /* requests: expected name; replies: head */
    const char *arg1;       /* requests: expected argv[1] */
};

static const struct sample replies[] = {
    {"+OK\r\n", '+', "OK", NULL},
    {"-ERR wrong number of arguments\r\n", '-',
     "ERR wrong number of arguments", NULL},
    {"-READONLY You can't write against a read only replica.\r\n", '-',
     "READONLY You can't write against a read only re", NULL},
    {":12345\r\n", ':', "12345", NULL},
    {":-1\r\n", ':', "-1", NULL},
    {"$3\r\nabc\r\n", '$', "abc", NULL},
    {"$0\r\n\r\n", '$', "", NULL},
    {"$-1\r\n", '$', "", NULL},
    {"$4\r\na\r\nb\r\n", '$', "a\r\nb", NULL},
    {"*0\r\n", '*', "", NULL},
    {"*-1\r\n", '*', "", NULL},
    {"*2\r\n$1\r\na\r\n:1\r\n", '*', "a", NULL},
    {"*3\r\n$6\r\nmaster\r\n:3129659\r\n*0\r\n", '*', "master", NULL},
    {"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n$-1\r\n", '*', "", NULL},
    {"_\r\n", '_', "", NULL},
    {",3.14\r\n", ',', "3.14", NULL},
    {"#t\r\n", '#', "t", NULL},
    {"(3492890328409238509324850943850943825024385\r\n", '(',
     "3492890328409238509324850943850943825024385", NULL},
    {"=15\r\ntxt:Some string\r\n", '=', "txt:Some string", NULL},
    {"!21\r\nSYNTAX invalid syntax\r\n", '!', "SYNTAX invalid syntax", NULL},
    {"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", '%', "", NULL},
    {"~3\r\n:1\r\n:2\r\n:3\r\n", '~', "", NULL},
    {">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", '>', "message", NULL},
    {">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n", '>', "invalidate",
     NULL},
    {"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:1\r\n:2\r\n",
     '*', "1", NULL},
    {"*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n", '*', "1", NULL},
    {"|1\r\n+a\r\n+b\r\n+OK\r\n", '+', "OK", NULL},
};

static const struct sample requests[] = {
    {"*1\r\n$4\r\nPING\r\n", '*', "ping", ""},
    {"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", '*', "set", "k"},
    {"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n", '*', "client",
     "reply"},
    {"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", '*', "hello", "3"},
    {"*2\r\n$3\r\nGET\r\n$40\r\n0123456789012345678901234567890123456789\r\n",
     '*', "get", "0123456789012345678901234567890"},
    {"*0\r\n", '*', "", ""},
    {"PING\r\n", 'i', "ping", ""},
    {"client  REPLY   skip\r\n", 'i', "client", "reply"},
    {"set a b\n", 'i', "set", "a"},
    {"\r\n", 'i', "", ""},
    /* Inline lines as Redis' sdssplitargs() splits them. */
    {"\"subscribe\" a b b\r\n", 'i', "subscribe", "a"},
    {"\vsubscribe a\r\n", 'i', "subscribe", "a"},
    {"\fPSUBSCRIBE\t*\n", 'i', "psubscribe", "*"},
    {"sub\"scribe\" x\r\n", 'i', "subscribe", "x"},
    {"\"\\x73ubscribe\" ch\r\n", 'i', "subscribe", "ch"},
    {"\"\\x7\" q\r\n", 'i', "x7", "q"},
    {"'it\\'s' x\r\n", 'i', "it's", "x"},
    {"\"a\\\"b\" c\n", 'i', "a\"b", "c"},
    {"a\vb c\r\n", 'i', "a\vb", "c"},
    {"\"\" x\r\n", 'i', "", "x"},
    {"CLIENT \"reply\" off\r\n", 'i', "client", "reply"},
};

/* Scans all of buf in chunks of at most step bytes (0 = one call). */
static int
count_frames(enum resp_mode mode, const char *buf, size_t len, size_t step,
             struct resp_frame *last, size_t *end_at)
{
    struct resp_scanner s;
    size_t off = 0;
    int frames = 0;

    resp_init(&s, mode);
    while (off < len) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        size_t used;
        struct resp_frame f;
        enum resp_status st = resp_scan(&s, buf + off, n, &used, &f);

        ck_assert_int_ne(st, RESP_ERROR);
        ck_assert_uint_le(used, n);
        if (st == RESP_FRAME) {
            frames++;
            *last = f;
            *end_at = off + used;
        }
        off += used;
    }
    ck_assert(resp_at_boundary(&s));
    return frames;
}

static void
check_sample(enum resp_mode mode, const struct sample *smp)
{
    size_t len = strlen(smp->bytes);
    struct resp_frame f;
    size_t end = 0;

    for (size_t step = 0; step <= len; step++) {
        memset(&f, 0, sizeof(f));
        ck_assert_int_eq(count_frames(mode, smp->bytes, len, step, &f, &end),
                         1);
        ck_assert_uint_eq(end, len);
        ck_assert_int_eq(f.type, smp->type);
        if (mode == RESP_REQUESTS) {
            ck_assert_str_eq(f.name, smp->name);
            ck_assert_str_eq(f.arg1, smp->arg1);
        } else {
            ck_assert_str_eq(f.head, smp->name);
        }
    }
}

START_TEST(reply_types)
{
    check_sample(RESP_REPLIES, &replies[_i]);
}
END_TEST

START_TEST(request_forms)
{
    check_sample(RESP_REQUESTS, &requests[_i]);
}
END_TEST

/* Every split of a concatenation into two calls finds every frame. */
START_TEST(all_replies_split_anywhere)
{
    char buf[2048] = "";
    size_t len;
    int n = (int)(sizeof(replies) / sizeof(replies[0]));

    for (int i = 0; i < n; i++) {
        strcat(buf, replies[i].bytes);
    }
    len = strlen(buf);
    for (size_t cut = 0; cut <= len; cut++) {
        struct resp_scanner s;
        int frames = 0;
        size_t off = 0;

        resp_init(&s, RESP_REPLIES);
        while (off < len) {
            size_t limit = off < cut ? cut : len;
            size_t used;
            struct resp_frame f;
            enum resp_status st = resp_scan(&s, buf + off, limit - off,
                                            &used, &f);

            ck_assert_int_ne(st, RESP_ERROR);
            frames += st == RESP_FRAME;
            off += used;
        }
        ck_assert_int_eq(frames, n);
    }
}
END_TEST

START_TEST(empty_requests_flagged)
{
    struct resp_frame f;
    size_t end;

    count_frames(RESP_REQUESTS, "\r\n", 2, 0, &f, &end);
    ck_assert(resp_frame_is_empty_request(&f));
    count_frames(RESP_REQUESTS, "*0\r\n", 4, 0, &f, &end);
    ck_assert(resp_frame_is_empty_request(&f));
    count_frames(RESP_REQUESTS, "*-1\r\n", 5, 0, &f, &end);
    ck_assert(resp_frame_is_empty_request(&f));
    count_frames(RESP_REQUESTS, "PING\r\n", 6, 0, &f, &end);
    ck_assert(!resp_frame_is_empty_request(&f));
}
END_TEST

START_TEST(partial_is_not_boundary)
{
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    resp_init(&s, RESP_REQUESTS);
    ck_assert(resp_at_boundary(&s));
    ck_assert_int_eq(resp_scan(&s, "*2\r\n$3\r\nGE", 10, &used, &f),
                     RESP_NEED_MORE);
    ck_assert_uint_eq(used, 10);
    ck_assert(!resp_at_boundary(&s));
    resp_init(&s, RESP_REPLIES);
    ck_assert_int_eq(resp_scan(&s, "|1\r\n+a\r\n+b\r\n", 12, &used, &f),
                     RESP_NEED_MORE);
    ck_assert(!resp_at_boundary(&s));
}
END_TEST

struct bad {
    enum resp_mode mode;
    const char *bytes;
};

static const struct bad malformed[] = {
    {RESP_REPLIES, "?what\r\n"},
    {RESP_REPLIES, "+OK\n"},
    {RESP_REPLIES, "+O\nK\r\n"},
    {RESP_REPLIES, "+OK\rX"},
    {RESP_REPLIES, "$abc\r\n"},
    {RESP_REPLIES, "$\r\n"},
    {RESP_REPLIES, "$-2\r\n"},
    {RESP_REPLIES, "$3\r\nabcd\r\n"},
    {RESP_REPLIES, "$3\r\nabc\n\r"},
    {RESP_REPLIES, "$536870913\r\n"},
    {RESP_REPLIES, "*1x\r\n"},
    {RESP_REPLIES, "*-2\r\n"},
    {RESP_REPLIES, ":1\r\r"},
    {RESP_REPLIES, "$9999999999999999999999\r\n"},
    {RESP_REQUESTS, "*2\r\n:1\r\n:2\r\n"},
    {RESP_REQUESTS, "*1\r\n*1\r\n$1\r\na\r\n"},
    {RESP_REQUESTS, "*abc\r\n"},
    /* What Redis refuses (or reads otherwise) is an error here too. */
    {RESP_REQUESTS, "*01\r\n$4\r\nPING\r\n"},
    {RESP_REQUESTS, "*1\r\n$04\r\nPING\r\n"},
    {RESP_REQUESTS, "*1\r\n$-1\r\n"},
    {RESP_REQUESTS, "*-0\r\n"},
    {RESP_REQUESTS, "*2147483648\r\n"},
    {RESP_REQUESTS, "\"subscribe a\r\n"},
    {RESP_REQUESTS, "'subscribe a\n"},
    {RESP_REQUESTS, "\"sub\"scribe a\r\n"},
    {RESP_REQUESTS, "'SUB''x' a\r\n"},
    {RESP_REQUESTS, "\"a\\\r\n"},
};

START_TEST(malformed_input)
{
    const struct bad *b = &malformed[_i];
    size_t len = strlen(b->bytes);
    struct resp_scanner s;
    struct resp_frame f;
    size_t off = 0, used;
    enum resp_status st = RESP_NEED_MORE;

    /* Byte by byte, so a read past the end would be past a 1-byte call. */
    resp_init(&s, b->mode);
    while (off < len) {
        st = resp_scan(&s, b->bytes + off, 1, &used, &f);
        ck_assert_uint_le(used, 1);
        if (st == RESP_ERROR) {
            break;
        }
        off += used;
    }
    ck_assert_msg(st == RESP_ERROR, "accepted: %s", b->bytes);
    /* Sticky: more bytes do not revive it. */
    ck_assert_int_eq(resp_scan(&s, "+OK\r\n", 5, &used, &f), RESP_ERROR);
    ck_assert(!resp_at_boundary(&s));
}
END_TEST

START_TEST(too_deep)
{
    char buf[256] = "";
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    for (int i = 0; i < RESP_MAX_DEPTH + 1; i++) {
        strcat(buf, "*1\r\n");
    }
    resp_init(&s, RESP_REPLIES);
    ck_assert_int_eq(resp_scan(&s, buf, strlen(buf), &used, &f), RESP_ERROR);
}
END_TEST

START_TEST(inline_too_long)
{
    size_t len = RESP_INLINE_MAX + 10;
    char *buf = malloc(len);
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    memset(buf, 'a', len);
    resp_init(&s, RESP_REQUESTS);
    ck_assert_int_eq(resp_scan(&s, buf, len, &used, &f), RESP_ERROR);
    free(buf);
}
END_TEST

/* Redis never runs an inline line with a NUL (strchr stops there). */
START_TEST(inline_nul_is_error)
{
    static const char line[] = "GET a\0b\r\n";
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    resp_init(&s, RESP_REQUESTS);
    ck_assert_int_eq(resp_scan(&s, line, sizeof(line) - 1, &used, &f),
                     RESP_ERROR);
}
END_TEST

/* A name that is cut short or holds a NUL is flagged: it cannot match. */
START_TEST(odd_names_flagged)
{
    static const char nul[] = "*1\r\n$10\r\nsubscribe\0\r\n";
    static const char esc[] = "\"get\\x00\" k\r\n";
    char longname[128];
    struct resp_frame f;
    size_t end;

    ck_assert_int_eq(count_frames(RESP_REQUESTS, nul, sizeof(nul) - 1, 0,
                                  &f, &end), 1);
    ck_assert(f.name_odd);
    ck_assert(!f.arg1_odd);
    ck_assert_int_eq(count_frames(RESP_REQUESTS, esc, sizeof(esc) - 1, 1,
                                  &f, &end), 1);
    ck_assert(f.name_odd);
    snprintf(longname, sizeof(longname), "%s k\r\n",
             "getxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    ck_assert_int_eq(count_frames(RESP_REQUESTS, longname,
                                  strlen(longname), 3, &f, &end), 1);
    ck_assert(f.name_odd);
    ck_assert_int_eq(count_frames(RESP_REQUESTS, "GET k\r\n", 7, 0, &f,
                                  &end), 1);
    ck_assert(!f.name_odd);
}
END_TEST

/*
 * The tokenizer against the reference (ref_split.h, shaped like Redis'
 * sdssplitargs): random lines over the bytes that matter, whole and byte
 * by byte; same error, same argument count, same first two arguments.
 */
static void
check_against_ref(const char *line, size_t len, size_t step)
{
    struct ref_split r;
    int want = ref_split_line(line, len - 1, &r);   /* len - 1: no LF */
    struct resp_scanner s;
    struct resp_frame f;
    size_t off = 0, used;
    enum resp_status st = RESP_NEED_MORE;

    resp_init(&s, RESP_REQUESTS);
    memset(&f, 0, sizeof(f));
    while (off < len && st == RESP_NEED_MORE) {
        size_t n = step == 0 || len - off < step ? len - off : step;

        st = resp_scan(&s, line + off, n, &used, &f);
        off += used;
    }
    if (want < 0) {
        ck_assert_msg(st == RESP_ERROR, "accepted [%.*s]", (int)len, line);
        return;
    }
    ck_assert_msg(st == RESP_FRAME && off == len, "refused [%.*s]",
                  (int)len, line);
    ck_assert_int_eq(f.nelems, r.argc);
    ck_assert_str_eq(f.name, r.name);
    ck_assert_str_eq(f.arg1, r.arg1);
    ck_assert_int_eq(f.name_odd, r.name_odd);
    ck_assert_int_eq(f.arg1_odd, r.arg1_odd);
}

START_TEST(inline_matches_reference)
{
    static const char alphabet[] = " \t\v\f\r\"'\\xaSu1f0nb";
    unsigned seed = 12345;

    for (int iter = 0; iter < 200000; iter++) {
        char line[40];
        size_t len;

        seed = seed * 1103515245u + 12345u;
        len = (seed >> 16) % 30;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            line[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        if (len > 0 && line[0] == '*') {
            line[0] = 'a';
        }
        line[len++] = '\n';
        check_against_ref(line, len, 0);
        if (iter % 16 == 0) {
            check_against_ref(line, len, 1);
        }
    }
}
END_TEST

START_TEST(big_bulk_skipped_by_length)
{
    /* A 1 MiB value in a reply: scanned without looking inside. */
    size_t n = 1 << 20;
    size_t len = n + 64;
    char *buf = malloc(len);
    struct resp_frame f;
    size_t end = 0;
    int hl = snprintf(buf, len, "$%zu\r\n", n);

    memset(buf + hl, '\r', n);  /* CRs inside the payload are data */
    memcpy(buf + hl + n, "\r\n", 2);
    ck_assert_int_eq(count_frames(RESP_REPLIES, buf, (size_t)hl + n + 2,
                                  4096, &f, &end), 1);
    ck_assert_int_eq(f.nelems, (int64_t)n);
    free(buf);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("resp");
    TCase *tc = tcase_create("resp");

    tcase_add_loop_test(tc, reply_types, 0,
                        (int)(sizeof(replies) / sizeof(replies[0])));
    tcase_add_loop_test(tc, request_forms, 0,
                        (int)(sizeof(requests) / sizeof(requests[0])));
    tcase_add_test(tc, all_replies_split_anywhere);
    tcase_add_test(tc, empty_requests_flagged);
    tcase_add_test(tc, partial_is_not_boundary);
    tcase_add_loop_test(tc, malformed_input, 0,
                        (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, too_deep);
    tcase_add_test(tc, inline_too_long);
    tcase_add_test(tc, big_bulk_skipped_by_length);
    tcase_add_test(tc, inline_nul_is_error);
    tcase_add_test(tc, odd_names_flagged);
    tcase_add_test(tc, inline_matches_reference);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
