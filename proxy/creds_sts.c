/*
 * creds_sts.c: the STS endpoint, its verified TLS connection, the
 * AssumeRoleWithWebIdentity body and a strict reader of its XML answer
 * (see creds_sts.h).  No scheduling here: creds.c's fetcher calls these.
 */
#include "creds_sts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sigv4.h"

#define STS_PORT 443
#define XML_DEPTH 8                 /* deepest element accepted */
#define XML_NAME_MAX 64             /* longest element name accepted */
#define XML_PATH_MAX (XML_DEPTH * (XML_NAME_MAX + 1))

#define RESULT_PATH "AssumeRoleWithWebIdentityResponse/" \
                    "AssumeRoleWithWebIdentityResult/Credentials/"

/* ------------------------------------------------------------ endpoint */

/* A region is a DNS label or a few joined by '-': nothing else may reach
 * the host name. */
static bool
region_ok(const char *r)
{
    return r != NULL && r[0] != '\0' && strlen(r) < 64 &&
           strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(r);
}

int
creds_sts_endpoint(const char *region, struct creds_sts_endpoint *out,
                   char *err, size_t errlen)
{
    const char *var = "AWS_ENDPOINT_URL_STS", *url = getenv(var);
    char def[128];
    struct evhttp_uri *u;
    const char *scheme, *h, *path, *q;
    unsigned char a[16];
    size_t hl;

    memset(out, 0, sizeof(*out));
    if (url == NULL || url[0] == '\0') {
        var = "AWS_ENDPOINT_URL";
        url = getenv(var);
    }
    if (url == NULL || url[0] == '\0') {
        if (!region_ok(region)) {
            snprintf(err, errlen, "iam_region \"%s\" cannot name an STS "
                     "endpoint (set AWS_ENDPOINT_URL_STS)",
                     region != NULL ? region : "");
            return -1;
        }
        /* The China regions have their own domain. */
        snprintf(def, sizeof(def), "https://sts.%s.amazonaws.com%s", region,
                 strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
        url = def;
        var = NULL;
    }
    u = evhttp_uri_parse(url);
    scheme = u != NULL ? evhttp_uri_get_scheme(u) : NULL;
    h = u != NULL ? evhttp_uri_get_host(u) : NULL;
    if (scheme == NULL || h == NULL || h[0] == '\0') {
        snprintf(err, errlen, "%s: \"%s\" is not an https:// URL",
                 var != NULL ? var : "STS endpoint", url);
        evhttp_uri_free(u);
        return -1;
    }
    if (strcasecmp(scheme, "https") != 0) {
        /* The web identity token is a credential: never in plaintext. */
        snprintf(err, errlen, "%s: %s:// refused, only https:// (the "
                 "request carries the web identity token)",
                 var != NULL ? var : "STS endpoint", scheme);
        evhttp_uri_free(u);
        return -1;
    }
    hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        snprintf(out->host, sizeof(out->host), "%.*s", (int)(hl - 2), h + 1);
    } else {
        snprintf(out->host, sizeof(out->host), "%s", h);
    }
    out->host_is_ip = inet_pton(AF_INET, out->host, a) == 1 ||
                      inet_pton(AF_INET6, out->host, a) == 1;
    out->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u)
                                           : STS_PORT;
    path = evhttp_uri_get_path(u);
    q = evhttp_uri_get_query(u);
    snprintf(out->path, sizeof(out->path), "%s%s%s",
             path != NULL && path[0] != '\0' ? path : "/", q ? "?" : "",
             q ? q : "");
    out->var = var;
    evhttp_uri_free(u);
    return 0;
}

/* ------------------------------------------------------------ TLS */

static pthread_once_t verify_once = PTHREAD_ONCE_INIT;
static int verify_index = -1;       /* SSL_CTX ex_data: a long, owned */

static void
verify_slot_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                    long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void
verify_slot_init(void)
{
    verify_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                            verify_slot_free_cb);
}

/* Keeps the first error of the chain, for the log line; the verdict is
 * OpenSSL's own. */
static int
verify_cb(int ok, X509_STORE_CTX *xctx)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(
        xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    long *first = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                                    verify_index)
                              : NULL;

    if (!ok && first != NULL && *first == X509_V_OK) {
        *first = X509_STORE_CTX_get_error(xctx);
    }
    return ok;
}

SSL_CTX *
creds_sts_tls_new(char *err, size_t errlen)
{
    const char *bundle = getenv("AWS_CA_BUNDLE");
    SSL_CTX *ctx;
    long *first;

    pthread_once(&verify_once, verify_slot_init);
    if (verify_index < 0 || (ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        snprintf(err, errlen, "cannot make a TLS context for STS");
        return NULL;
    }
    if ((first = malloc(sizeof(*first))) == NULL ||
        SSL_CTX_set_ex_data(ctx, verify_index, first) != 1) {
        free(first);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *first = X509_V_OK;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
                                 SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    ERR_clear_error();
    if (bundle != NULL && bundle[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, bundle, NULL) != 1) {
            char why[160];

            ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
            snprintf(err, errlen, "AWS_CA_BUNDLE %s: cannot load the CA "
                     "certificates (%s)", bundle, why);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "cannot use the system's CA certificates "
                 "for STS (set AWS_CA_BUNDLE)");
        goto fail;
    }
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);      /* frees the slot too */
    return NULL;
}

long
creds_sts_tls_verify_error(SSL_CTX *ctx)
{
    long *first = SSL_CTX_get_ex_data(ctx, verify_index);

    return first != NULL ? *first : X509_V_OK;
}

struct evhttp_connection *
creds_sts_connect(struct event_base *base, struct evdns_base *dns,
                  SSL_CTX *ctx, const struct creds_sts_endpoint *ep)
{
    long *first = SSL_CTX_get_ex_data(ctx, verify_index);
    struct evhttp_connection *conn;
    struct bufferevent *bev;
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL) {
        return NULL;
    }
    if (first != NULL) {
        *first = X509_V_OK;     /* this connection's, from now */
    }
    if (ep->host_is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                          ep->host) != 1) {
            goto fail;
        }
    } else {
        /* A DNS subjectAltName only, never the subject's CN (RFC 6125),
         * as tls.c checks an upstream. */
        X509_VERIFY_PARAM_set_hostflags(
            SSL_get0_param(ssl), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
        if (SSL_set1_host(ssl, ep->host) != 1 ||
            SSL_set_tlsext_host_name(ssl, ep->host) != 1) {
            goto fail;
        }
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl,
                                         BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE |
                                             BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        /* Whether libevent freed ssl depends on where it failed: leak
         * it (ENOMEM only) rather than risk freeing it twice. */
        return NULL;
    }
    /* bev owns ssl now */
    ssl = NULL;
    conn = evhttp_connection_base_bufferevent_new(base, dns, bev, ep->host,
                                                  (unsigned short)ep->port);
    if (conn == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    return conn;
fail:
    SSL_free(ssl);
    return NULL;
}

/* Why a request to STS got no answer: the certificate's error when it
 * was rejected, else TLS's, else the connection's. */
void
creds_sts_no_answer(SSL_CTX *ctx, struct evhttp_connection *conn, char *why,
                    size_t whylen)
{
    long v = creds_sts_tls_verify_error(ctx);
    struct bufferevent *bev = conn != NULL
                                  ? evhttp_connection_get_bufferevent(conn)
                                  : NULL;
    unsigned long e = bev != NULL ? bufferevent_get_openssl_error(bev) : 0;
    char tls[160];

    if (v != X509_V_OK) {
        snprintf(why, whylen, "certificate rejected: %s",
                 X509_verify_cert_error_string(v));
    } else if (e != 0) {
        ERR_error_string_n(e, tls, sizeof(tls));
        snprintf(why, whylen, "TLS failed: %s", tls);
    } else {
        snprintf(why, whylen, "no answer (connection failed or timed out)");
    }
}

/* The web identity token, read from its file (it rotates) into out (n
 * bytes), trailing blanks cut.  0, or -1 with why; the caller wipes out. */
int
creds_sts_read_token(const char *path, char *out, size_t n, char *why,
                     size_t whylen)
{
    size_t len = 0;
    ssize_t r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(why, whylen, "web identity token file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    while (len < n - 1 && (r = read(fd, out + len, n - 1 - len)) > 0) {
        len += (size_t)r;
    }
    close(fd);
    out[len] = '\0';
    if (r < 0 || len == n - 1) {
        snprintf(why, whylen, "web identity token file %s: %s", path,
                 r < 0 ? strerror(errno) : "too long");
        return -1;
    }
    while (len > 0 && strchr(" \t\r\n", out[len - 1]) != NULL) {
        out[--len] = '\0';
    }
    if (len == 0) {
        snprintf(why, whylen, "web identity token file %s: empty", path);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the body */

/* Appends "&name=" and value, percent-encoded; -1 on ENOMEM. */
static int
add_param(char *out, size_t n, size_t *used, const char *name,
          const char *value)
{
    char *enc = evhttp_uriencode(value, -1, 0);
    size_t el;
    int r;

    if (enc == NULL) {
        return -1;
    }
    el = strlen(enc);
    r = snprintf(out + *used, n - *used, "&%s=%s", name, enc);
    OPENSSL_clear_free(enc, el);    /* may be the token */
    if (r < 0 || (size_t)r >= n - *used) {
        return -1;
    }
    *used += (size_t)r;
    return 0;
}

char *
creds_sts_body(const char *role_arn, const char *session_name,
               const char *token, size_t *len)
{
    static const char head[] = "Action=AssumeRoleWithWebIdentity"
                               "&Version=2011-06-15";
    /* Each byte encodes to at most 3; the names and the duration. */
    size_t n = sizeof(head) + 3 * (strlen(role_arn) + strlen(session_name) +
                                   strlen(token)) + 128;
    char *out = malloc(n);
    size_t used = sizeof(head) - 1;
    int r;

    if (out == NULL) {
        return NULL;
    }
    memcpy(out, head, used + 1);
    if (add_param(out, n, &used, "RoleArn", role_arn) < 0 ||
        add_param(out, n, &used, "RoleSessionName", session_name) < 0 ||
        add_param(out, n, &used, "WebIdentityToken", token) < 0) {
        OPENSSL_clear_free(out, n);
        return NULL;
    }
    r = snprintf(out + used, n - used, "&DurationSeconds=%d",
                 CREDS_STS_DURATION);
    if (r < 0 || (size_t)r >= n - used) {
        OPENSSL_clear_free(out, n);
        return NULL;
    }
    *len = used + (size_t)r;
    return out;
}

/* ------------------------------------------------------------ the XML */

/* A leaf element wanted by its path from the root ("A/B/C"). */
struct xml_field {
    const char *path;
    char *out;                      /* ref: the caller's buffer */
    size_t n;                       /* its size */
    size_t len;                     /* bytes written so far */
    bool seen;
};

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
           c == ':';
}

/* One of the five predefined entities at p ('&' first): its character,
 * with *p moved past it; -1 for anything else. */
static int
xml_entity(const char **p, const char *end)
{
    static const struct {
        const char *name;
        char ch;
    } ents[] = {
        {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'},
        {"&apos;", '\''},
    };

    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        size_t l = strlen(ents[i].name);

        if ((size_t)(end - *p) >= l && memcmp(*p, ents[i].name, l) == 0) {
            *p += l;
            return (unsigned char)ents[i].ch;
        }
    }
    return -1;
}

/* A name at p, into name (XML_NAME_MAX); the byte after it, or NULL. */
static const char *
xml_name(const char *p, const char *end, char *name)
{
    size_t l = 0;

    while (p < end && is_name_char(*p)) {
        if (l + 1 >= XML_NAME_MAX) {
            return NULL;
        }
        name[l++] = *p++;
    }
    name[l] = '\0';
    return l > 0 ? p : NULL;
}

/* Past a start tag's attributes, to '>' or "/>"; sets *empty for "/>".
 * The byte after the tag, or NULL. */
static const char *
xml_attrs(const char *p, const char *end, bool *empty)
{
    char quote = 0;

    *empty = false;
    for (; p < end; p++) {
        if (quote != 0) {
            if (*p == quote) {
                quote = 0;
            } else if (*p == '<') {
                return NULL;
            }
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '>') {
            return p + 1;
        } else if (*p == '/' && p + 1 < end && p[1] == '>') {
            *empty = true;
            return p + 2;
        } else if (*p == '<') {
            return NULL;
        }
    }
    return NULL;
}

/* The field whose path is path, or NULL. */
static struct xml_field *
xml_find(struct xml_field *fields, size_t nf, const char *path)
{
    for (size_t i = 0; i < nf; i++) {
        if (strcmp(fields[i].path, path) == 0) {
            return &fields[i];
        }
    }
    return NULL;
}

/*
 * Reads one XML document, filling each field found (a leaf, once, its
 * text decoded, printable ASCII, shorter than its buffer).  0, or -1
 * when the document is not well formed as far as checked, uses anything
 * beyond elements, attributes, text and the five entities, or a field is
 * repeated, has children or does not fit.
 */
static int
xml_read(const char *p, size_t len, struct xml_field *fields, size_t nf)
{
    const char *end = p + len;
    char path[XML_PATH_MAX + 1] = "", name[XML_NAME_MAX];
    size_t plen[XML_DEPTH];         /* path's length before each level */
    bool text[XML_DEPTH];           /* non-blank text in this element */
    struct xml_field *cur = NULL;   /* the field being read, or NULL */
    int depth = 0;
    bool done = false, empty;

    while (p < end && is_ws(*p)) {
        p++;
    }
    if ((size_t)(end - p) >= 5 && memcmp(p, "<?xml", 5) == 0) {
        const char *q = memmem(p, (size_t)(end - p), "?>", 2);

        if (q == NULL) {
            return -1;
        }
        p = q + 2;
    }
    while (p < end) {
        if (*p != '<') {
            int ch = (unsigned char)*p++;

            if (depth == 0 && !is_ws((char)ch)) {
                return -1;          /* text outside the root */
            }
            if (ch == '&') {
                p--;
                if ((ch = xml_entity(&p, end)) < 0) {
                    return -1;
                }
            }
            if ((ch < 0x20 && !is_ws((char)ch)) || ch == 0x7f) {
                return -1;
            }
            if (!is_ws((char)ch)) {
                text[depth - 1] = true;
            }
            if (cur != NULL) {
                if (ch < 0x20 || ch > 0x7e || cur->len + 1 >= cur->n) {
                    return -1;
                }
                cur->out[cur->len++] = (char)ch;
            }
            continue;
        }
        if (done || (size_t)(end - p) < 2 || p[1] == '!' || p[1] == '?') {
            return -1;              /* a second root; comment, DOCTYPE,
                                       CDATA or processing instruction */
        }
        if (p[1] == '/') {
            p = xml_name(p + 2, end, name);
            while (p != NULL && p < end && is_ws(*p)) {
                p++;
            }
            if (p == NULL || p >= end || *p != '>' || depth == 0 ||
                strcmp(path + plen[depth - 1] + (depth > 1), name) != 0) {
                return -1;
            }
            p++;
            if (cur != NULL) {
                cur->out[cur->len] = '\0';
                cur = NULL;
            }
            path[plen[--depth]] = '\0';
            done = depth == 0;
            continue;
        }
        if (depth >= XML_DEPTH || cur != NULL ||
            (depth > 0 && text[depth - 1]) ||
            (p = xml_name(p + 1, end, name)) == NULL ||
            (p = xml_attrs(p, end, &empty)) == NULL) {
            return -1;              /* too deep, a child in a field or in
                                       text, a bad tag */
        }
        plen[depth] = strlen(path);
        snprintf(path + plen[depth], sizeof(path) - plen[depth], "%s%s",
                 depth > 0 ? "/" : "", name);
        text[depth] = false;
        depth++;
        if ((cur = xml_find(fields, nf, path)) != NULL) {
            if (cur->seen) {
                return -1;
            }
            cur->seen = true;
            cur->len = 0;
        }
        if (empty) {
            if (cur != NULL) {
                cur->out[0] = '\0';
                cur = NULL;
            }
            path[plen[--depth]] = '\0';
            done = depth == 0;
        }
    }
    return done ? 0 : -1;
}

int
creds_sts_parse(const char *body, size_t len, char *ak, char *sk,
                char *tok, size_t n, time_t *expiration)
{
    char when[64];
    struct xml_field f[] = {
        {RESULT_PATH "AccessKeyId", ak, n, 0, false},
        {RESULT_PATH "SecretAccessKey", sk, n, 0, false},
        {RESULT_PATH "SessionToken", tok, n, 0, false},
        {RESULT_PATH "Expiration", when, sizeof(when), 0, false},
    };

    ak[0] = sk[0] = tok[0] = '\0';
    if (xml_read(body, len, f, sizeof(f) / sizeof(f[0])) < 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (!f[i].seen || f[i].out[0] == '\0') {
            return -1;
        }
    }
    return sigv4_parse_time(when, expiration);
}

int
creds_sts_error_code(const char *body, size_t len, char *code, size_t n)
{
    struct xml_field f = {"ErrorResponse/Error/Code", code, n, 0, false};

    code[0] = '\0';
    if (xml_read(body, len, &f, 1) < 0 || !f.seen || code[0] == '\0' ||
        strspn(code, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != strlen(code)) {
        code[0] = '\0';
        return -1;
    }
    return 0;
}
