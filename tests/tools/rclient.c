/*
 * rclient: hiredis-based checks the shell cannot do well.  Each subcommand
 * exits 0 on success, 1 with a reason on stderr, and prints one line.
 *
 *   rclient bigvalue HOST PORT MIB          SET/GET a random value, compare
 *   rclient pipeline HOST PORT N            N pipelined INCRs, replies 1..N
 *   rclient concurrent HOST PORT NCLI ROUNDS  NCLI connections at once
 *   rclient resp3 HOST PORT                 HELLO 3 and a map reply
 *   rclient pubsub HOST PORT                100 messages, in order
 */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *host;
static int port;

static redisContext *
conn(void)
{
    struct timeval tv = {60, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);

    if (c == NULL || c->err) {
        fprintf(stderr, "connect %s:%d: %s\n", host, port,
                c ? c->errstr : "out of memory");
        exit(1);
    }
    redisSetTimeout(c, tv);
    return c;
}

static redisReply *
cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        fprintf(stderr, "command failed: %s\n", c->errstr);
        exit(1);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "server error: %s\n", r->str);
        exit(1);
    }
    return r;
}

static int
bigvalue(long mib)
{
    size_t len = (size_t)mib * 1024 * 1024;
    char *val = malloc(len);
    redisContext *c = conn();
    redisReply *r;
    char key[64];

    if (val == NULL) {
        return 1;
    }
    srand((unsigned)getpid());
    for (size_t i = 0; i < len; i++) {
        val[i] = (char)(rand() & 0xff);
    }
    snprintf(key, sizeof(key), "big:%d", (int)getpid());
    freeReplyObject(cmd(c, "SET %s %b", key, val, len));
    r = cmd(c, "GET %s", key);
    if (r->type != REDIS_REPLY_STRING || r->len != len ||
        memcmp(r->str, val, len) != 0) {
        fprintf(stderr, "value differs (got %zu bytes)\n", r->len);
        return 1;
    }
    freeReplyObject(r);
    freeReplyObject(cmd(c, "DEL %s", key));
    printf("bigvalue: %ld MiB byte-exact\n", mib);
    redisFree(c);
    free(val);
    return 0;
}

static int
pipeline(long n)
{
    redisContext *c = conn();
    char key[64];

    snprintf(key, sizeof(key), "pipe:%d", (int)getpid());
    for (long i = 0; i < n; i++) {
        redisAppendCommand(c, "INCR %s", key);
    }
    for (long i = 1; i <= n; i++) {
        redisReply *r;

        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "reply %ld: %s\n", i, c->errstr);
            return 1;
        }
        if (r->type != REDIS_REPLY_INTEGER || r->integer != i) {
            fprintf(stderr, "reply %ld out of order\n", i);
            return 1;
        }
        freeReplyObject(r);
    }
    freeReplyObject(cmd(c, "DEL %s", key));
    printf("pipeline: %ld replies in order\n", n);
    redisFree(c);
    return 0;
}

static int
concurrent(long ncli, long rounds)
{
    struct rlimit rl;
    redisContext **cs = calloc((size_t)ncli, sizeof(*cs));
    long bad = 0;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (long i = 0; i < ncli; i++) {
        cs[i] = conn();
    }
    for (long round = 0; round < rounds; round++) {
        /* All SETs go out first, so every connection is busy at once. */
        for (long i = 0; i < ncli; i++) {
            redisAppendCommand(cs[i], "SET c:%d:%ld v%ld.%ld", (int)getpid(),
                               i, i, round);
            redisAppendCommand(cs[i], "GET c:%d:%ld", (int)getpid(), i);
        }
        for (long i = 0; i < ncli; i++) {
            redisReply *r1, *r2;
            char want[64];

            snprintf(want, sizeof(want), "v%ld.%ld", i, round);
            if (redisGetReply(cs[i], (void **)&r1) != REDIS_OK ||
                redisGetReply(cs[i], (void **)&r2) != REDIS_OK) {
                fprintf(stderr, "client %ld: %s\n", i, cs[i]->errstr);
                return 1;
            }
            if (r2->type != REDIS_REPLY_STRING || strcmp(r2->str, want)) {
                bad++;
            }
            freeReplyObject(r1);
            freeReplyObject(r2);
        }
    }
    for (long i = 0; i < ncli; i++) {
        freeReplyObject(cmd(cs[i], "DEL c:%d:%ld", (int)getpid(), i));
        redisFree(cs[i]);
    }
    free(cs);
    printf("concurrent: %ld clients x %ld rounds, %ld wrong\n", ncli, rounds,
           bad);
    return bad == 0 ? 0 : 1;
}

/* Reads until buf holds want (or 5 s pass); returns bytes read. */
static size_t
read_until(int fd, char *buf, size_t cap, const char *want)
{
    size_t len = 0;
    struct timeval tv = {5, 0};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);

        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, want) != NULL) {
            break;
        }
    }
    buf[len] = '\0';
    return len;
}

/* hiredis 0.14 cannot parse RESP3, so this one speaks raw bytes. */
static int
resp3(void)
{
    redisContext *c = conn();
    char buf[4096];
    static const char hgetall[] = "%1\r\n$1\r\nf\r\n$1\r\nv\r\n";
    int ok;

    snprintf(buf, sizeof(buf), "HELLO 3\r\nHSET h3:%d f v\r\n"
             "HGETALL h3:%d\r\nDEL h3:%d\r\n", (int)getpid(),
             (int)getpid(), (int)getpid());
    if (write(c->fd, buf, strlen(buf)) < 0) {
        return 1;
    }
    read_until(c->fd, buf, sizeof(buf), hgetall);
    ok = buf[0] == '%' && strstr(buf, "$5\r\nproto\r\n:3\r\n") != NULL &&
         strstr(buf, hgetall) != NULL;
    redisFree(c);
    printf("resp3: %s\n", ok ? "map replies" : "NOT RESP3");
    return ok ? 0 : 1;
}

static int
pubsub(void)
{
    redisContext *sub = conn(), *pub = conn();
    redisReply *r;
    char ch[64];

    snprintf(ch, sizeof(ch), "ch:%d", (int)getpid());
    freeReplyObject(cmd(sub, "SUBSCRIBE %s", ch));
    for (int i = 0; i < 100; i++) {
        freeReplyObject(cmd(pub, "PUBLISH %s m%d", ch, i));
    }
    for (int i = 0; i < 100; i++) {
        char want[16];

        snprintf(want, sizeof(want), "m%d", i);
        if (redisGetReply(sub, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "message %d: %s\n", i, sub->errstr);
            return 1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
            strcmp(r->element[2]->str, want) != 0) {
            fprintf(stderr, "message %d wrong\n", i);
            return 1;
        }
        freeReplyObject(r);
    }
    redisFree(sub);
    redisFree(pub);
    printf("pubsub: 100 messages in order\n");
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: rclient bigvalue|pipeline|concurrent|resp3|"
                "pubsub HOST PORT [ARGS]\n");
        return 2;
    }
    host = argv[2];
    port = atoi(argv[3]);
    if (strcmp(argv[1], "bigvalue") == 0 && argc == 5) {
        return bigvalue(atol(argv[4]));
    }
    if (strcmp(argv[1], "pipeline") == 0 && argc == 5) {
        return pipeline(atol(argv[4]));
    }
    if (strcmp(argv[1], "concurrent") == 0 && argc == 6) {
        return concurrent(atol(argv[4]), atol(argv[5]));
    }
    if (strcmp(argv[1], "resp3") == 0) {
        return resp3();
    }
    if (strcmp(argv[1], "pubsub") == 0) {
        return pubsub();
    }
    fprintf(stderr, "rclient: bad arguments\n");
    return 2;
}
