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

    memset(ac, 0, sizeof(*ac));
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
    ac->on = true;
    return 0;
}

void
auth_cmd_build_iam(struct auth_cmd *ac, const struct auth_iam *iam)
{
    memset(ac, 0, sizeof(*ac));
    ac->on = true;
    ac->iam = true;
    ac->iam_cfg = *iam;
}

/* A token is "<cache>/?Action=connect&User=...&X-Amz-...": well under. */
#define AUTH_TOKEN_MAX 16384           /* STS session tokens run to ~2 KiB,
                                          ~3x that URL-encoded */

int
auth_cmd_render(const struct auth_cmd *ac, time_t now, char **out,
                size_t *outlen)
{
    char why[200];

    return auth_cmd_render_why(ac, now, out, outlen, why, sizeof(why));
}

/* Signs with the cell's credentials of the moment (copied under its lock,
 * wiped after). */
static int
sign_from_cell(const struct auth_iam *iam, time_t now, char *token,
               size_t n, char *why, size_t whylen)
{
    char *ak = malloc(CREDS_FIELD_MAX), *sk = malloc(CREDS_FIELD_MAX);
    char *tok = malloc(CREDS_FIELD_MAX);
    int rc = -1;

    if (ak == NULL || sk == NULL || tok == NULL) {
        snprintf(why, whylen, "out of memory");
    } else if (creds_cell_copy(iam->cell, now, ak, sk, tok,
                               CREDS_FIELD_MAX) < 0) {
        snprintf(why, whylen, "%s", ak);
    } else {
        struct sigv4_creds c = {ak, sk, tok[0] != '\0' ? tok : NULL};

        rc = sigv4_elasticache_token(iam->cache, iam->user, iam->region,
                                     iam->serverless, now, &c, token, n);
        if (rc < 0) {
            snprintf(why, whylen, "cannot sign the IAM token");
        }
    }
    creds_fields_free(ak, sk, tok);
    return rc;
}

int
auth_cmd_render_why(const struct auth_cmd *ac, time_t now, char **out,
                    size_t *outlen, char *why, size_t whylen)
{
    const struct auth_iam *iam = &ac->iam_cfg;
    char token[AUTH_TOKEN_MAX];
    size_t cap, n;
    char *buf;

    *out = NULL;
    *outlen = 0;
    snprintf(why, whylen, "out of memory");
    if (!ac->iam) {
        if ((buf = malloc(ac->len)) == NULL) {
            return -1;
        }
        memcpy(buf, ac->buf, ac->len);
        *out = buf;
        *outlen = ac->len;
        return 0;
    }
    if (iam->cell != NULL) {
        if (sign_from_cell(iam, now, token, sizeof(token), why, whylen) < 0) {
            OPENSSL_cleanse(token, sizeof(token));
            return -1;
        }
    } else if (sigv4_elasticache_token(iam->cache, iam->user, iam->region,
                                       iam->serverless, now, &iam->creds,
                                       token, sizeof(token)) < 0) {
        snprintf(why, whylen, "cannot sign the IAM token (cache name or "
                 "session token too long)");
        return -1;
    }
    cap = 64 + strlen(iam->user) + strlen(token);
    if ((buf = malloc(cap)) == NULL) {
        OPENSSL_cleanse(token, sizeof(token));
        return -1;
    }
    n = (size_t)sprintf(buf, "*3\r\n");
    n += put_bulk(buf + n, "AUTH");
    n += put_bulk(buf + n, iam->user);
    n += put_bulk(buf + n, token);
    OPENSSL_cleanse(token, sizeof(token));
    if (iam->signed_count != NULL) {
        (*iam->signed_count)++;     /* the owning loop's counter */
    }
    *out = buf;
    *outlen = n;
    return 0;
}

void
auth_buf_free(char *buf, size_t len)
{
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
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
    ac->on = false;
    ac->iam = false;
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
