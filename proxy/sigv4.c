/*
 * sigv4.c: AWS Signature Version 4, query-string form (see sigv4.h).
 *
 * The steps are AWS's: a canonical request (method, path, the sorted and
 * URI-encoded query, the signed host header, the hash of the empty body),
 * a string to sign (algorithm, instant, scope, hash of the canonical
 * request), a signing key derived by HMAC-SHA256 from the secret through
 * the day, region, service and "aws4_request", and the signature, hex.
 */
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_LEN 32
#define HEX_LEN (2 * HASH_LEN + 1)
#define SCOPE_MAX 256
#define CACHE_NAME_MAX 256
/* SHA-256 of the empty body: a GET signs no payload. */
#define EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Text built into a buffer the caller owns; running out is remembered. */
struct text {
    char *p;
    size_t len, cap;
    bool over;
};

static void
text_add(struct text *t, const char *s, size_t n)
{
    if (t->over || n >= t->cap - t->len) {
        t->over = true;
        return;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void
text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* URI-encoding as SigV4 wants it: unreserved bytes as they are, every
 * other byte %XX in upper case ('/' too: these are query parts). */
static void
text_encoded(struct text *t, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char pct[4];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            text_add(t, s, 1);
        } else {
            snprintf(pct, sizeof(pct), "%%%02X", c);
            text_add(t, pct, 3);
        }
    }
}

static void
to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
sha256_hex(const char *s, size_t n, char out[HEX_LEN])
{
    unsigned char md[HASH_LEN];
    unsigned int len = 0;

    if (EVP_Digest(s, n, md, &len, EVP_sha256(), NULL) != 1 ||
        len != HASH_LEN) {
        return -1;
    }
    to_hex(md, HASH_LEN, out);
    return 0;
}

static int
hmac(const void *key, size_t keylen, const char *msg,
     unsigned char out[HASH_LEN])
{
    unsigned int len = 0;

    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
                strlen(msg), out, &len) != NULL && len == HASH_LEN ? 0 : -1;
}

/* The signing key: HMAC chain from "AWS4" + secret (wiped after). */
static int
signing_key(const char *secret, const char *day, const char *region,
            const char *service, unsigned char key[HASH_LEN])
{
    size_t slen = strlen(secret);
    char *k0 = malloc(slen + 5);
    unsigned char a[HASH_LEN], b[HASH_LEN];
    int rc;

    if (k0 == NULL) {
        return -1;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen + 1);
    rc = hmac(k0, slen + 4, day, a) < 0 ||
         hmac(a, HASH_LEN, region, b) < 0 ||
         hmac(b, HASH_LEN, service, a) < 0 ||
         hmac(a, HASH_LEN, "aws4_request", key) < 0 ? -1 : 0;
    OPENSSL_clear_free(k0, slen + 5);
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return rc;
}

/* Query parameters sort by key, then value.  SigV4 sorts the encoded
 * keys; every key here is made of unreserved characters, which encoding
 * keeps as they are, and no key comes twice. */
static int
param_cmp(const void *x, const void *y)
{
    const struct sigv4_param *a = x, *b = y;
    int c = strcmp(a->key, b->key);

    return c != 0 ? c : strcmp(a->value, b->value);
}

int
sigv4_presign(const char *host, const char *path,
              const struct sigv4_param *params, int n, const char *region,
              const char *service, time_t at, int expires,
              const struct sigv4_creds *creds, char *out, size_t outlen)
{
    struct sigv4_param all[SIGV4_PARAMS_MAX + 6];
    char date[20], day[10], scope[SCOPE_MAX], credential[SCOPE_MAX + 256];
    char exp[16], creq_hash[HEX_LEN], sig_hex[HEX_LEN];
    unsigned char key[HASH_LEN], sig[HASH_LEN];
    struct text q = {out, 0, outlen, outlen == 0};
    struct text c = {NULL, 0, 0, false};
    struct tm tm;
    int m = 0, rc = -1;
    size_t qstart;

    if (n < 0 || n > SIGV4_PARAMS_MAX || gmtime_r(&at, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) == 0 ||
        strftime(day, sizeof(day), "%Y%m%d", &tm) == 0) {
        return -1;
    }
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, region,
             service);
    snprintf(credential, sizeof(credential), "%s/%s", creds->access_key,
             scope);
    snprintf(exp, sizeof(exp), "%d", expires);
    if (n > 0) {
        memcpy(all, params, (size_t)n * sizeof(*params));
    }
    m = n;
    all[m++] = (struct sigv4_param){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    all[m++] = (struct sigv4_param){"X-Amz-Credential", credential};
    all[m++] = (struct sigv4_param){"X-Amz-Date", date};
    all[m++] = (struct sigv4_param){"X-Amz-Expires", exp};
    if (creds->session_token != NULL && creds->session_token[0] != '\0') {
        all[m++] = (struct sigv4_param){"X-Amz-Security-Token",
                                        creds->session_token};
    }
    all[m++] = (struct sigv4_param){"X-Amz-SignedHeaders", "host"};
    qsort(all, (size_t)m, sizeof(all[0]), param_cmp);

    /* out gets host + path + "?" + the canonical query, then the
     * signature; the canonical request is built beside it. */
    if (outlen > 0) {
        out[0] = '\0';
    }
    text_str(&q, host);
    text_str(&q, path);
    text_str(&q, "?");
    qstart = q.len;
    for (int i = 0; i < m; i++) {
        if (i > 0) {
            text_str(&q, "&");
        }
        text_encoded(&q, all[i].key);
        text_str(&q, "=");
        text_encoded(&q, all[i].value);
    }
    if (q.over) {
        if (outlen > 0) {
            out[0] = '\0';     /* nothing half made */
        }
        return -1;
    }
    c.cap = q.len - qstart + strlen(path) + strlen(host) + 128;
    c.p = malloc(c.cap);
    if (c.p == NULL) {
        return -1;
    }
    c.p[0] = '\0';
    text_str(&c, "GET\n");
    text_str(&c, path);
    text_str(&c, "\n");
    text_add(&c, out + qstart, q.len - qstart);
    text_str(&c, "\nhost:");
    text_str(&c, host);
    text_str(&c, "\n\nhost\n" EMPTY_SHA256);
    if (!c.over && sha256_hex(c.p, c.len, creq_hash) == 0) {
        /* The string to sign reuses c's buffer (it is shorter). */
        snprintf(c.p, c.cap, "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope,
                 creq_hash);
        if (signing_key(creds->secret_key, day, region, service, key) == 0 &&
            hmac(key, HASH_LEN, c.p, sig) == 0) {
            to_hex(sig, HASH_LEN, sig_hex);
            text_str(&q, "&X-Amz-Signature=");
            text_str(&q, sig_hex);
            rc = q.over ? -1 : 0;
        }
    }
    OPENSSL_cleanse(key, sizeof(key));
    if (c.p != NULL) {
        OPENSSL_cleanse(c.p, c.cap);  /* the canonical query: a session token */
    }
    free(c.p);
    if (rc < 0 && outlen > 0) {
        out[0] = '\0';
    }
    return rc;
}

int
sigv4_elasticache_token(const char *cache, const char *user,
                        const char *region, bool serverless, time_t at,
                        const struct sigv4_creds *creds, char *out,
                        size_t outlen)
{
    struct sigv4_param p[3] = {{"Action", "connect"}, {"User", user},
                               {"ResourceType", "ServerlessCache"}};
    char host[CACHE_NAME_MAX];
    size_t i;

    for (i = 0; cache[i] != '\0' && i + 1 < sizeof(host); i++) {
        char ch = cache[i];

        host[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    if (cache[i] != '\0' || i == 0) {
        return -1;
    }
    host[i] = '\0';
    return sigv4_presign(host, "/", p, serverless ? 3 : 2, region,
                         "elasticache", at, SIGV4_TOKEN_EXPIRES, creds, out,
                         outlen);
}

int
sigv4_parse_time(const char *s, time_t *out)
{
    struct tm tm;
    int n = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6) {
        return -1;
    }
    s += n;
    if (*s == '.') {                /* fractions of a second */
        s += 1 + strspn(s + 1, "0123456789");
    }
    if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}
