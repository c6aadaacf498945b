/*
 * check_cluster: node addresses rewritten in replies captured from a real
 * Redis 7 cluster (tests/unit/data/cluster/README), in every preferred
 * endpoint type and both protocols: each node is named by its hostname,
 * gets one local port whatever reply names it, and the rewritten reply is
 * one well-formed frame in which only 127.0.0.1 and local ports remain.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_rewrite.h"
#include "resp.h"
#include "unit.h"

#define REAL_BASE 7100          /* the captured nodes: 7101..7106 */
#define LOCAL_BASE 7000         /* the ports this test hands out */
#define NNODES 6

struct seen {
    char id[NNODES + 1][48];    /* by real port - REAL_BASE */
    char host[NNODES + 1][64];
    int calls;
    bool verify;                /* second pass: only ours may remain */
};

static int
map_cb(void *arg, const struct cluster_node_ref *n)
{
    struct seen *s = arg;
    int i;

    s->calls++;
    if (s->verify) {
        i = (int)n->port - LOCAL_BASE;
        ck_assert_msg(n->hostlen == strlen(CLUSTER_LOCAL_HOST) &&
                      memcmp(n->host, CLUSTER_LOCAL_HOST, n->hostlen) == 0,
                      "host %.*s left", (int)n->hostlen, n->host);
        ck_assert_msg(i >= 1 && i <= NNODES, "port %ld left", n->port);
        if (n->id != NULL && s->id[i][0] != '\0') {
            ck_assert(n->idlen == strlen(s->id[i]) &&
                      memcmp(n->id, s->id[i], n->idlen) == 0);
        }
        return -1;
    }
    i = (int)n->port - REAL_BASE;
    ck_assert_msg(i >= 1 && i <= NNODES, "port %ld", n->port);
    if (n->id != NULL) {
        ck_assert(n->idlen < sizeof(s->id[i]));
        if (s->id[i][0] != '\0') {  /* one node, one id */
            ck_assert(memcmp(s->id[i], n->id, n->idlen) == 0);
        }
        memcpy(s->id[i], n->id, n->idlen);
        s->id[i][n->idlen] = '\0';
    }
    ck_assert(n->hostlen < sizeof(s->host[i]));
    memcpy(s->host[i], n->host, n->hostlen);
    s->host[i][n->hostlen] = '\0';
    return LOCAL_BASE + i;
}

static char *
load(const char *name, size_t *len)
{
    const char *dir = getenv("UNIT_DATA");
    char path[512];
    FILE *fp;
    char *buf = malloc(65536);

    snprintf(path, sizeof(path), "%s/cluster/%s.resp", dir ? dir : "data",
             name);
    fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s", path);
    *len = fread(buf, 1, 65536, fp);
    fclose(fp);
    return buf;
}

/* out holds exactly one reply frame. */
static void
one_frame(const struct cluster_out *o)
{
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    resp_init(&s, RESP_REPLIES);
    ck_assert_int_eq(resp_scan(&s, o->buf, o->len, &used, &f), RESP_FRAME);
    ck_assert_uint_eq(used, o->len);
}

static bool
has(const struct cluster_out *o, const char *needle)
{
    return memmem(o->buf, o->len, needle, strlen(needle)) != NULL;
}

static const struct {
    const char *file;
    enum cluster_reply kind;
    int nodes;                  /* node entries the reply has */
} captures[] = {
    {"slots-ip-resp2", CLUSTER_REPLY_SLOTS, 5},
    {"slots-ip-resp3", CLUSTER_REPLY_SLOTS, 6},
    {"slots-hostname-resp2", CLUSTER_REPLY_SLOTS, 6},
    {"slots-hostname-resp3", CLUSTER_REPLY_SLOTS, 6},
    {"slots-unknown-endpoint-resp2", CLUSTER_REPLY_SLOTS, 6},
    {"slots-unknown-endpoint-resp3", CLUSTER_REPLY_SLOTS, 6},
    {"shards-ip-resp2", CLUSTER_REPLY_SHARDS, 6},
    {"shards-ip-resp3", CLUSTER_REPLY_SHARDS, 6},
    {"shards-hostname-resp2", CLUSTER_REPLY_SHARDS, 6},
    {"shards-hostname-resp3", CLUSTER_REPLY_SHARDS, 6},
    {"shards-unknown-endpoint-resp2", CLUSTER_REPLY_SHARDS, 6},
    {"shards-unknown-endpoint-resp3", CLUSTER_REPLY_SHARDS, 6},
    {"nodes-ip", CLUSTER_REPLY_NODES, 6},
    {"nodes-hostname", CLUSTER_REPLY_NODES, 6},
    {"nodes-unknown-endpoint", CLUSTER_REPLY_NODES, 6},
    {"replicas-ip", CLUSTER_REPLY_REPLICAS, 1},
    {"replicas-hostname", CLUSTER_REPLY_REPLICAS, 1},
    {"replicas-unknown-endpoint", CLUSTER_REPLY_REPLICAS, 1},
    {"moved-hostname", CLUSTER_REPLY_REDIRECT, 1},
};

START_TEST(captured_replies)
{
    struct seen s;
    struct cluster_out o = {0}, o2 = {0};
    size_t len;
    char *in = load(captures[_i].file, &len);
    char want[32];

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(cluster_rewrite(captures[_i].kind, in, len, map_cb, &s,
                                     &o), 1);
    ck_assert_int_eq(s.calls, captures[_i].nodes);
    one_frame(&o);
    /* every node named by its announced hostname, whatever the type */
    for (int i = 1; i <= NNODES; i++) {
        if (s.host[i][0] != '\0') {
            snprintf(want, sizeof(want), "node%d.cache.test", i);
            ck_assert_str_eq(s.host[i], want);
        }
    }
    ck_assert_msg(!has(&o, "cache.test"), "%s: a hostname is left",
                  captures[_i].file);
    ck_assert_msg(!has(&o, ":710"), "%s: a real port is left",
                  captures[_i].file);
    /* only ours remain: a second pass finds 127.0.0.1 and local ports */
    s.verify = true;
    s.calls = 0;
    ck_assert_int_eq(cluster_rewrite(captures[_i].kind, o.buf, o.len, map_cb,
                                     &s, &o2), 0);
    ck_assert_int_eq(s.calls, captures[_i].nodes);
    ck_assert_uint_eq(o2.len, 0);
    free(o.buf);
    free(o2.buf);
    free(in);
}
END_TEST

/* The rest of a reply is kept byte for byte: the same reply with no node
 * mapped comes back unchanged, and a rewrite differs only in length by
 * the addresses. */
START_TEST(everything_else_kept)
{
    struct cluster_out o = {0};
    size_t len;
    char *in = load("shards-hostname-resp3", &len);
    static const char *const kept[] = {
        "$4\r\nrole\r\n$6\r\nmaster\r\n", "$18\r\nreplication-offset\r\n",
        "$6\r\nhealth\r\n$6\r\nonline\r\n", "$5\r\nslots\r\n*2\r\n:0\r\n"
        ":5460\r\n", "%8\r\n$2\r\nid\r\n$40\r\n",
    };
    struct seen s;

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_SHARDS, in, len, map_cb,
                                     &s, &o), 1);
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        ck_assert_msg(has(&o, kept[i]), "lost %s", kept[i]);
    }
    ck_assert(has(&o, "$4\r\nport\r\n:7003\r\n"));
    ck_assert(has(&o, "$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"));
    free(o.buf);
    free(in);
}
END_TEST

static int
refuse_cb(void *arg, const struct cluster_node_ref *n)
{
    (void)arg;
    (void)n;
    return -1;
}

START_TEST(unmapped_or_unknown_left_alone)
{
    struct cluster_out o = {0};
    size_t len;
    char *in = load("slots-hostname-resp2", &len);
    static const char err[] = "-ERR This instance has cluster support "
                              "disabled\r\n";
    struct seen s;

    ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_SLOTS, in, len, refuse_cb,
                                     NULL, &o), 0);
    ck_assert_uint_eq(o.len, 0);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_SLOTS, err,
                                     sizeof(err) - 1, map_cb, &s, &o), 0);
    ck_assert_int_eq(s.calls, 0);
    /* cut short: never half rewritten */
    ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_SLOTS, in, len - 3, map_cb,
                                     &s, &o), 0);
    ck_assert_uint_eq(o.len, 0);
    free(o.buf);
    free(in);
}
END_TEST

/* Redirects: a hostname, an empty host ("the node you asked"), "?",
 * IPv6, ASK; other errors are not touched. */
static int
redirect_cb(void *arg, const struct cluster_node_ref *n)
{
    char *host = arg;

    snprintf(host, 64, "%.*s|%ld", (int)n->hostlen, n->host, n->port);
    return 7042;
}

START_TEST(redirects)
{
    static const struct {
        const char *in, *out, *host;
    } cases[] = {
        {"-MOVED 12182 node3.cache.test:7103\r\n",
         "-MOVED 12182 127.0.0.1:7042\r\n", "node3.cache.test|7103"},
        {"-MOVED 12182 :7103\r\n", "-MOVED 12182 127.0.0.1:7042\r\n",
         "|7103"},
        {"-MOVED 3999 ?:6381\r\n", "-MOVED 3999 127.0.0.1:7042\r\n",
         "?|6381"},
        {"-ASK 3999 10.0.0.7:6380\r\n", "-ASK 3999 127.0.0.1:7042\r\n",
         "10.0.0.7|6380"},
        {"-MOVED 1 2001:db8::7:6379\r\n", "-MOVED 1 127.0.0.1:7042\r\n",
         "2001:db8::7|6379"},
    };
    struct cluster_out o = {0};
    char host[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_REDIRECT, cases[i].in,
                                         strlen(cases[i].in), redirect_cb,
                                         host, &o), 1);
        ck_assert_uint_eq(o.len, strlen(cases[i].out));
        ck_assert(memcmp(o.buf, cases[i].out, o.len) == 0);
        ck_assert_str_eq(host, cases[i].host);
    }
    ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_REDIRECT,
                                     "-ERR MOVED\r\n", 12, redirect_cb, host,
                                     &o), 0);
    ck_assert(cluster_is_redirect("MOVED 1 h:1"));
    ck_assert(cluster_is_redirect("ASK 1 h:1"));
    ck_assert(!cluster_is_redirect("MOVEDX"));
    ck_assert(!cluster_is_redirect("ERR ASK"));
    free(o.buf);
}
END_TEST

START_TEST(request_kinds)
{
    ck_assert_int_eq(cluster_request_kind("cluster", "slots"),
                     CLUSTER_REPLY_SLOTS);
    ck_assert_int_eq(cluster_request_kind("cluster", "shards"),
                     CLUSTER_REPLY_SHARDS);
    ck_assert_int_eq(cluster_request_kind("cluster", "nodes"),
                     CLUSTER_REPLY_NODES);
    ck_assert_int_eq(cluster_request_kind("cluster", "slaves"),
                     CLUSTER_REPLY_REPLICAS);
    ck_assert_int_eq(cluster_request_kind("cluster", "replicas"),
                     CLUSTER_REPLY_REPLICAS);
    ck_assert_int_eq(cluster_request_kind("cluster", "info"),
                     CLUSTER_REPLY_NONE);
    ck_assert_int_eq(cluster_request_kind("get", "slots"),
                     CLUSTER_REPLY_NONE);
}
END_TEST

/* RESP3 verbatim NODES text keeps its "txt:" and gets its new length. */
START_TEST(verbatim_nodes)
{
    static const char in[] =
        "=71\r\ntxt:07c37dfeb235213a872192d90877d0cd55635b91 "
        "10.0.0.1:6379@16379 master\r\n";
    struct cluster_out o = {0};
    char host[64];
    static const char want[] =
        "=72\r\ntxt:07c37dfeb235213a872192d90877d0cd55635b91 "
        "127.0.0.1:7042@16379 master\r\n";

    ck_assert_int_eq(cluster_rewrite(CLUSTER_REPLY_NODES, in, sizeof(in) - 1,
                                     redirect_cb, host, &o), 1);
    ck_assert_str_eq(host, "10.0.0.1|6379");
    ck_assert_uint_eq(o.len, sizeof(want) - 1);
    ck_assert(memcmp(o.buf, want, o.len) == 0);
    free(o.buf);
}
END_TEST

/* The book: a node keeps its port, known by id, or by host or ip and
 * port until the id comes; the range runs out; a taken port moves. */
static struct cluster_node_ref
ref_of(const char *id, const char *host, const char *ip, long port)
{
    struct cluster_node_ref r = {
        .id = id, .idlen = id ? strlen(id) : 0,
        .host = host, .hostlen = strlen(host),
        .ip = ip, .iplen = ip ? strlen(ip) : 0,
        .port = port,
    };

    return r;
}

static int
book_port(struct cluster_book *b, struct cluster_node_ref r, bool *ex)
{
    struct cluster_node nd;

    *ex = false;
    return cluster_book_node(b, &r, r.host, r.hostlen, true, &nd, ex) == 0
               ? nd.local : -1;
}

START_TEST(book_keeps_ports)
{
    struct cluster_book *b = cluster_book_new("cache", 7001, 7003);
    struct cluster_node nd;
    struct cluster_node_ref r;
    bool ex;

    ck_assert_ptr_nonnull(b);
    /* a redirect names it first: host and port only */
    ck_assert_int_eq(book_port(b, ref_of(NULL, "node1.c.test", NULL, 6379),
                               &ex), 7001);
    /* CLUSTER SLOTS then gives its id and ip: the same node, same port */
    ck_assert_int_eq(book_port(b, ref_of("aaaa", "node1.c.test", "10.0.0.1",
                                         6379), &ex), 7001);
    /* known by its ip and port now (a -MOVED in ip form) */
    ck_assert_int_eq(book_port(b, ref_of(NULL, "10.0.0.1", NULL, 6379), &ex),
                     7001);
    /* another id on the same host:port is another node (it was replaced) */
    ck_assert_int_eq(book_port(b, ref_of("bbbb", "node1.c.test", NULL, 6379),
                               &ex), 7002);
    ck_assert_int_eq(book_port(b, ref_of("cccc", "node3.c.test", NULL, 6380),
                               &ex), 7003);
    ck_assert_uint_eq(cluster_book_size(b), 3);
    /* the range is used up: said, and nothing given */
    ck_assert_int_eq(book_port(b, ref_of("dddd", "node4.c.test", NULL, 6379),
                               &ex), -1);
    ck_assert(ex);
    /* known ones still are */
    ck_assert_int_eq(book_port(b, ref_of("aaaa", "x", NULL, 1), &ex), 7001);
    /* bad refs are refused */
    ck_assert_int_eq(book_port(b, ref_of(NULL, "h", NULL, 0), &ex), -1);
    ck_assert_int_eq(book_port(b, ref_of(NULL, "h", NULL, 70000), &ex), -1);
    /* a port held by another program: the node moves, the port is never
     * given again; here no port is left, so the node is dropped */
    r = ref_of("cccc", "node3.c.test", NULL, 6380);
    ck_assert_int_eq(cluster_book_node(b, &r, r.host, r.hostlen, true, &nd, &ex),
                     0);
    ck_assert_int_eq(cluster_book_move(b, &nd, &ex), -1);
    ck_assert(ex);
    ck_assert_uint_eq(cluster_book_size(b), 2);
    cluster_book_free(b);
}
END_TEST

START_TEST(book_moves_to_a_free_port)
{
    struct cluster_book *b = cluster_book_new("cache", 7001, 7003);
    struct cluster_node nd;
    struct cluster_node_ref r = ref_of("aaaa", "n1", NULL, 6379);
    bool ex = false;

    ck_assert_int_eq(cluster_book_node(b, &r, r.host, r.hostlen, true, &nd, &ex),
                     0);
    ck_assert_int_eq(nd.local, 7001);
    ck_assert_int_eq(cluster_book_move(b, &nd, &ex), 7002);
    ck_assert_int_eq(book_port(b, r, &ex), 7002);
    /* 7001 is never given again */
    ck_assert_int_eq(book_port(b, ref_of("bbbb", "n2", NULL, 6379), &ex),
                     7003);
    cluster_book_free(b);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("rewrite");

    tcase_add_loop_test(tc, captured_replies, 0,
                        (int)(sizeof(captures) / sizeof(captures[0])));
    tcase_add_test(tc, everything_else_kept);
    tcase_add_test(tc, unmapped_or_unknown_left_alone);
    tcase_add_test(tc, redirects);
    tcase_add_test(tc, request_kinds);
    tcase_add_test(tc, verbatim_nodes);
    tcase_add_test(tc, book_keeps_ports);
    tcase_add_test(tc, book_moves_to_a_free_port);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
