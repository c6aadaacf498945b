/*
 * auth.c: the AUTH command and the judgement of its reply.
 */
#include "auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_OK "+OK\r\n"
#define AUTH_REPLY_MAX 512   /* a longer reply cannot be a plain answer */

static size_t
put_bulk(char *out, const char *s)
{
    size_t n = strlen(s);
    int h = sprintf(out, "$%zu\r\n", n);

    memcpy(out + h, s, n);
    memcpy(out + h + n, "\r\n", 2);
    return (size_t)h + n + 2;
}

int
auth_cmd_build(struct auth_cmd *ac, const char *user, const char *password)
{
    size_t cap;
    size_t n;

    ac->buf = NULL;
    ac->len = 0;
    if (password == NULL) {
        return 0;
    }
    cap = 64 + strlen(password) + (user ? strlen(user) : 0);
    ac->buf = malloc(cap);
    if (ac->buf == NULL) {
        return -1;
    }
    n = (size_t)sprintf(ac->buf, "*%d\r\n", user ? 3 : 2);
    n += put_bulk(ac->buf + n, "AUTH");
    if (user != NULL) {
        n += put_bulk(ac->buf + n, user);
    }
    n += put_bulk(ac->buf + n, password);
    ac->len = n;
    return 0;
}

void
auth_cmd_clear(struct auth_cmd *ac)
{
    if (ac->buf != NULL) {
        OPENSSL_cleanse(ac->buf, ac->len);
        free(ac->buf);
    }
    ac->buf = NULL;
    ac->len = 0;
}

enum auth_reply
auth_reply_check(const char *buf, size_t len, char *line, size_t linelen)
{
    const char *eol = memchr(buf, '\n', len);
    size_t ll;

    if (eol == NULL) {
        if (len < AUTH_REPLY_MAX) {
            return AUTH_REPLY_PARTIAL;
        }
        log_escape(buf, 80, line, linelen);
        return AUTH_REPLY_ERROR;
    }
    ll = (size_t)(eol - buf) + 1;
    if (ll == strlen(AUTH_OK) && memcmp(buf, AUTH_OK, ll) == 0 &&
        len == ll) {
        return AUTH_REPLY_OK;
    }
    if (ll == len && ll >= 3 && buf[0] == '-') {
        /* "-WRONGPASS invalid username-password pair ..." without "-\r\n" */
        log_escape(buf + 1, ll - 3, line, linelen);
    } else {
        log_escape(buf, ll > 2 ? ll - 2 : ll, line, linelen);
        if (ll != len) {
            snprintf(line, linelen, "unexpected bytes after the AUTH reply");
        }
    }
    return AUTH_REPLY_ERROR;
}
