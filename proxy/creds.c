/*
 * creds.c: the credential cell and the fetcher of the container
 * endpoint, instance metadata and STS for a web identity (see creds.h).
 * What is particular to STS (endpoint, TLS, body, XML) is creds_sts.c's.
 */
#include "creds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "creds_sts.h"
#include "sigv4.h"

#define ECS_HOST "169.254.170.2"
#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TOKEN_TTL 21600        /* seconds an IMDSv2 token is asked for */
#define IMDS_CREDS_PATH "/latest/meta-data/iam/security-credentials/"
#define FETCH_TIMEOUT 5             /* seconds per request */
#define BODY_MAX 16384              /* longest answer accepted */
#define BACKOFF_MAX 60              /* seconds between failed fetches */
#define AUTHZ_MAX 4096              /* longest Authorization token */

/* ------------------------------------------------------------ the cell */

static void
wipe_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void
creds_cell_init(struct creds_cell *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
}

void
creds_cell_clear(struct creds_cell *c)
{
    wipe_free(c->access_key);
    wipe_free(c->secret_key);
    wipe_free(c->session_token);
    pthread_mutex_destroy(&c->mu);
    memset(c, 0, sizeof(*c));
}

int
creds_cell_copy(struct creds_cell *c, time_t now, char *ak, char *sk,
                char *tok, size_t n)
{
    int rc = -1;

    pthread_mutex_lock(&c->mu);
    if (c->access_key == NULL) {
        snprintf(ak, n, "no AWS credentials yet%s%s",
                 c->last_error[0] ? ": " : "", c->last_error);
    } else if (c->expiration != 0 && now >= c->expiration) {
        snprintf(ak, n, "the AWS credentials expired%s%s",
                 c->last_error[0] ? ": " : "", c->last_error);
    } else {
        snprintf(ak, n, "%s", c->access_key);
        snprintf(sk, n, "%s", c->secret_key);
        snprintf(tok, n, "%s", c->session_token ? c->session_token : "");
        rc = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void
creds_cell_state(struct creds_cell *c, time_t *expiration,
                 uint64_t *failures)
{
    pthread_mutex_lock(&c->mu);
    *expiration = c->access_key != NULL ? c->expiration : 0;
    *failures = c->fetch_failures;
    pthread_mutex_unlock(&c->mu);
}

/* Takes ownership of the three strings (tok may be NULL). */
static void
cell_swap(struct creds_cell *c, char *ak, char *sk, char *tok, time_t exp)
{
    char *oak, *osk, *otok;

    pthread_mutex_lock(&c->mu);
    oak = c->access_key;
    osk = c->secret_key;
    otok = c->session_token;
    c->access_key = ak;
    c->secret_key = sk;
    c->session_token = tok;
    c->expiration = exp;
    c->last_error[0] = '\0';
    pthread_mutex_unlock(&c->mu);
    wipe_free(oak);
    wipe_free(osk);
    wipe_free(otok);
}

void
creds_cell_forget(struct creds_cell *c)
{
    cell_swap(c, NULL, NULL, NULL, 0);
}

static void
cell_failed(struct creds_cell *c, const char *why)
{
    pthread_mutex_lock(&c->mu);
    c->fetch_failures++;
    snprintf(c->last_error, sizeof(c->last_error), "%s", why);
    pthread_mutex_unlock(&c->mu);
}

void
creds_fields_free(char *ak, char *sk, char *tok)
{
    if (sk != NULL) {
        OPENSSL_cleanse(sk, CREDS_FIELD_MAX);
    }
    if (tok != NULL) {
        OPENSSL_cleanse(tok, CREDS_FIELD_MAX);
    }
    free(ak);
    free(sk);
    free(tok);
}

/* ------------------------------------------------------------ the JSON */

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }
    return p;
}

/* A JSON string at p ('"' first): unescaped into out (n bytes, may be
 * NULL to skip).  The byte after it, or NULL when it is bad or too long. */
static const char *
json_string(const char *p, const char *end, char *out, size_t n)
{
    size_t len = 0;

    if (p >= end || *p != '"') {
        return NULL;
    }
    for (p++; p < end && *p != '"'; p++) {
        char ch = *p;

        if ((unsigned char)ch < 0x20) {
            return NULL;
        }
        if (ch == '\\') {
            if (++p >= end) {
                return NULL;
            }
            switch (*p) {
            case '"': case '\\': case '/':
                ch = *p;
                break;
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'u': {
                unsigned v;

                if (end - p < 5 || sscanf(p + 1, "%4x", &v) != 1 ||
                    v == 0 || v > 0x7f) {
                    return NULL;    /* only ASCII escapes: keys are ASCII */
                }
                ch = (char)v;
                p += 4;
                break;
            }
            default:
                return NULL;
            }
        }
        if (out != NULL) {
            if (len + 1 >= n) {
                return NULL;
            }
            out[len] = ch;
        }
        len++;
    }
    if (p >= end) {
        return NULL;
    }
    if (out != NULL) {
        out[len] = '\0';
    }
    return p + 1;
}

/* Skips one JSON value of any kind; the byte after it, or NULL. */
static const char *
json_skip(const char *p, const char *end)
{
    int depth = 0;

    p = skip_ws(p, end);
    do {
        if (p >= end) {
            return NULL;
        }
        if (*p == '"') {
            if ((p = json_string(p, end, NULL, 0)) == NULL) {
                return NULL;
            }
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0) {
                return NULL;
            }
        } else if (depth == 0 && (*p == ',')) {
            return p;
        }
        p++;
    } while (depth > 0 || (p < end && *p != ',' && *p != '}' &&
                          *p != ' ' && *p != '\n' && *p != '\r' &&
                          *p != '\t'));
    return p;
}

int
creds_parse(const char *body, size_t len, char *ak, char *sk, char *tok,
            size_t n, time_t *expiration)
{
    const char *p = body, *end = body + len;
    char key[64], when[64];
    bool have_ak = false, have_sk = false, have_exp = false;

    tok[0] = '\0';
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{') {
        return -1;
    }
    for (;;) {
        char *dst = NULL;
        size_t dn = n;

        p = skip_ws(p, end);
        if (p < end && *p == '}') {
            break;
        }
        if ((p = json_string(p, end, key, sizeof(key))) == NULL) {
            return -1;
        }
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':') {
            return -1;
        }
        p = skip_ws(p, end);
        if (strcmp(key, "AccessKeyId") == 0) {
            dst = ak;
            have_ak = true;
        } else if (strcmp(key, "SecretAccessKey") == 0) {
            dst = sk;
            have_sk = true;
        } else if (strcmp(key, "Token") == 0) {
            dst = tok;
        } else if (strcmp(key, "Expiration") == 0) {
            dst = when;
            dn = sizeof(when);
            have_exp = true;
        }
        p = dst != NULL ? json_string(p, end, dst, dn) : json_skip(p, end);
        if (p == NULL) {
            return -1;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            break;
        }
        return -1;
    }
    if (!have_ak || !have_sk || ak[0] == '\0' || sk[0] == '\0') {
        return -1;
    }
    *expiration = 0;
    if (have_exp && sigv4_parse_time(when, expiration) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the fetcher */

struct creds_fetcher {
    enum creds_source src;
    struct event_base *base;        /* ref */
    struct evdns_base *dns;         /* ref */
    struct creds_cell *cell;        /* ref */
    struct evhttp_connection *conn; /* owned */
    struct event *timer;            /* owned: the next fetch */
    char host[256];
    int port;
    char path[1024];
    int backoff;                    /* seconds before the next retry */
    /* IMDSv2 only: */
    char imds_token[512];           /* secret: the session token, "" none */
    time_t imds_token_at;           /* when it was issued */
    char role[256];                 /* the instance profile's role */
    bool retried;                   /* a 401 was retried with a new token */
    /* Web identity only: */
    SSL_CTX *tls;                   /* owned: verifies STS */
    struct creds_sts_endpoint sts;  /* where STS is */
    char *role_arn;                 /* owned: the role assumed */
    char *token_file;               /* owned: the token, read each fetch */
    char *session_name;             /* owned: RoleSessionName */
};

static const char *
src_name(const struct creds_fetcher *f)
{
    switch (f->src) {
    case CREDS_SRC_IMDS:
        return "imds";
    case CREDS_SRC_WEB_IDENTITY:
        return "web-identity";
    default:
        return "container";
    }
}

bool
creds_imds_enabled(void)
{
    const char *v = getenv("AWS_EC2_METADATA_DISABLED");

    return v == NULL || strcasecmp(v, "true") != 0;
}

bool
creds_container_configured(void)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");

    return (rel != NULL && rel[0] != '\0') ||
           (full != NULL && full[0] != '\0');
}

/* The hosts the SDKs allow over plain http. */
static bool
host_allowed(const char *host)
{
    unsigned char a[16];
    static const unsigned char eks6[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23};
    static const unsigned char lo6[16] = {[15] = 1};

    if (strcmp(host, "localhost") == 0 || strcmp(host, ECS_HOST) == 0 ||
        strcmp(host, "169.254.170.23") == 0) {
        return true;
    }
    if (inet_pton(AF_INET, host, a) == 1) {
        return a[0] == 127;
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        return memcmp(a, lo6, 16) == 0 || memcmp(a, eks6, 16) == 0;
    }
    return false;
}

/* IMDS: AWS_EC2_METADATA_SERVICE_ENDPOINT (http://), else the default. */
static int
imds_endpoint(struct creds_fetcher *f, char *err, size_t errlen)
{
    const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    struct evhttp_uri *u = evhttp_uri_parse(e != NULL && e[0] != '\0'
                                                ? e : IMDS_DEFAULT);
    const char *h;

    if (u == NULL || evhttp_uri_get_scheme(u) == NULL ||
        strcmp(evhttp_uri_get_scheme(u), "http") != 0 ||
        (h = evhttp_uri_get_host(u)) == NULL) {
        snprintf(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT: not an "
                 "http:// address");
        evhttp_uri_free(u);
        return -1;
    }
    snprintf(f->host, sizeof(f->host), "%s", h);
    f->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    evhttp_uri_free(u);
    return 0;
}

static int
endpoint(struct creds_fetcher *f, char *err, size_t errlen)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    struct evhttp_uri *u;
    const char *h, *path, *q;

    if (f->src == CREDS_SRC_IMDS) {
        return imds_endpoint(f, err, errlen);
    }
    if (rel != NULL && rel[0] != '\0') {
        snprintf(f->host, sizeof(f->host), "%s", ECS_HOST);
        f->port = 80;
        snprintf(f->path, sizeof(f->path), "%s%s", rel[0] == '/' ? "" : "/",
                 rel);
        return 0;
    }
    if (full == NULL || full[0] == '\0') {
        snprintf(err, errlen, "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                 "nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
        return -1;
    }
    u = evhttp_uri_parse(full);
    if (u == NULL || evhttp_uri_get_scheme(u) == NULL ||
        strcmp(evhttp_uri_get_scheme(u), "http") != 0 ||
        (h = evhttp_uri_get_host(u)) == NULL) {
        snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: not an "
                 "http:// address (https is not supported yet)");
        evhttp_uri_free(u);
        return -1;
    }
    if (!host_allowed(h)) {
        snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: host %s "
                 "is not allowed over http (loopback, 169.254.170.2, "
                 "169.254.170.23 or fd00:ec2::23 only, as the AWS SDKs)",
                 h);
        evhttp_uri_free(u);
        return -1;
    }
    snprintf(f->host, sizeof(f->host), "%s", h);
    f->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    path = evhttp_uri_get_path(u);
    q = evhttp_uri_get_query(u);
    snprintf(f->path, sizeof(f->path), "%s%s%s",
             path != NULL && path[0] != '\0' ? path : "/", q ? "?" : "",
             q ? q : "");
    evhttp_uri_free(u);
    return 0;
}

/* The Authorization header's value, or "" when none is configured; -1
 * when the file cannot be read. */
static int
authorization(char *out, size_t n, char *why, size_t whylen)
{
    const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    ssize_t r;
    size_t len = 0;
    int fd;

    out[0] = '\0';
    if (file == NULL || file[0] == '\0') {
        snprintf(out, n, "%s", tok != NULL ? tok : "");
        return 0;
    }
    if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(why, whylen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                 file, strerror(errno));
        return -1;
    }
    while (len < n - 1 && (r = read(fd, out + len, n - 1 - len)) > 0) {
        len += (size_t)r;
    }
    close(fd);
    out[len] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static void fetch(struct creds_fetcher *f);

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fetch(arg);
}

/* The next fetch in seconds (0: as soon as the loop runs). */
static void
schedule(struct creds_fetcher *f, long seconds)
{
    struct timeval tv = {seconds > 0 ? seconds : 0, 0};

    evtimer_add(f->timer, &tv);
}

static void
failed(struct creds_fetcher *f, const char *why)
{
    log_warn("event=aws-credentials source=%s endpoint=%s:%d "
             "result=failed error=\"%s\" retry_in=%ds", src_name(f), f->host,
             f->port, why, f->backoff);
    cell_failed(f->cell, why);
    schedule(f, f->backoff);
    f->backoff = f->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : f->backoff * 2;
}

/* A 200 answer: parsed into the cell, the next fetch scheduled ahead of
 * Expiration; or failed() saying the body is not what parse reads. */
static void
take_answer(struct creds_fetcher *f, struct evhttp_request *req,
            int (*parse)(const char *, size_t, char *, char *, char *,
                         size_t, time_t *), const char *what)
{
    char *ak = NULL, *sk = NULL, *tok = NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    time_t exp = 0, now = time(NULL);
    unsigned char *body;

    ak = malloc(CREDS_FIELD_MAX);
    sk = malloc(CREDS_FIELD_MAX);
    tok = malloc(CREDS_FIELD_MAX);
    body = len <= BODY_MAX ? evbuffer_pullup(in, -1) : NULL;
    if (ak == NULL || sk == NULL || tok == NULL || body == NULL ||
        parse((const char *)body, len, ak, sk, tok, CREDS_FIELD_MAX,
              &exp) < 0) {
        failed(f, len > BODY_MAX ? "answer too long" : what);
        creds_fields_free(ak, sk, tok);
        if (body != NULL) {
            OPENSSL_cleanse(body, len);
        }
        evbuffer_drain(in, len);
        return;
    }
    OPENSSL_cleanse(body, len);     /* the secrets are in sk and tok now */
    evbuffer_drain(in, len);
    f->backoff = 1;
    f->retried = false;
    log_info("event=aws-credentials source=%s endpoint=%s:%d "
             "result=ok expires_in=%lds", src_name(f), f->host, f->port,
             exp != 0 ? (long)(exp - now) : -1L);
    cell_swap(f->cell, ak, sk, tok[0] != '\0' ? tok : NULL, exp);
    if (tok[0] == '\0') {
        free(tok);
    }
    /* Ahead of Expiration (at least a second apart); no expiry: once an
     * hour all the same. */
    if (exp != 0) {
        long ahead = (long)(exp - now - CREDS_REFRESH_AHEAD);

        schedule(f, ahead >= 1 ? ahead : 1);
    } else {
        schedule(f, 3600);
    }
}

static void
done_cb(struct evhttp_request *req, void *arg)
{
    struct creds_fetcher *f = arg;
    char why[160];
    int code;

    if (req == NULL || (code = evhttp_request_get_response_code(req)) == 0) {
        failed(f, "no answer (connection failed or timed out)");
        return;
    }
    if (code == 401 && f->src == CREDS_SRC_IMDS && !f->retried) {
        /* The session token expired or was refused: a new one, once. */
        f->retried = true;
        OPENSSL_cleanse(f->imds_token, sizeof(f->imds_token));
        schedule(f, 0);
        return;
    }
    if (code != 200) {
        snprintf(why, sizeof(why), "HTTP %d", code);
        failed(f, why);
        return;
    }
    take_answer(f, req, creds_parse, "the answer is not the credentials "
                "JSON (AccessKeyId, SecretAccessKey, Token, Expiration)");
}

/* Sends one request to the endpoint; -1 (nothing sent) on failure. */
static int
send_request(struct creds_fetcher *f, enum evhttp_cmd_type method,
             const char *path, void (*cb)(struct evhttp_request *, void *),
             const char *hname, const char *hvalue)
{
    struct evhttp_request *req;
    struct evkeyvalq *h;

    if (f->conn == NULL) {
        f->conn = evhttp_connection_base_new(f->base, f->dns, f->host,
                                             (unsigned short)f->port);
        if (f->conn == NULL) {
            return -1;
        }
        evhttp_connection_set_timeout(f->conn, FETCH_TIMEOUT);
        evhttp_connection_set_max_body_size(f->conn, BODY_MAX);
    }
    if ((req = evhttp_request_new(cb, f)) == NULL) {
        return -1;
    }
    h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", f->host);
    /* One request per connection: a server that closes after answering
     * (HTTP/1.0) cannot leave the next request on a dead socket. */
    evhttp_add_header(h, "Connection", "close");
    if (hname != NULL && hvalue[0] != '\0') {
        evhttp_add_header(h, hname, hvalue);
    }
    return evhttp_make_request(f->conn, req, method, path);
}

/* A short plain-text answer (an IMDS token or role name): its first line
 * into out, or -1 with why. */
static int
text_answer(struct evhttp_request *req, const char *what, char *out,
            size_t n, char *why, size_t whylen)
{
    struct evbuffer *in;
    size_t len;
    int code;

    if (req == NULL || (code = evhttp_request_get_response_code(req)) == 0) {
        snprintf(why, whylen, "%s: no answer (connection failed or timed "
                 "out)", what);
        return -1;
    }
    if (code != 200) {
        snprintf(why, whylen, "%s: HTTP %d", what, code);
        return code == 401 ? -2 : -1;
    }
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    if (len == 0 || len >= n) {
        snprintf(why, whylen, "%s: %s answer", what,
                 len == 0 ? "an empty" : "too long an");
        evbuffer_drain(in, len);
        return -1;
    }
    evbuffer_remove(in, out, len);
    out[len] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] != '\0' ? 0 : -1;
}

static void
imds_token_cb(struct evhttp_request *req, void *arg)
{
    struct creds_fetcher *f = arg;
    char why[160];

    if (text_answer(req, "instance metadata token (PUT /latest/api/token)",
                    f->imds_token, sizeof(f->imds_token), why,
                    sizeof(why)) < 0) {
        OPENSSL_cleanse(f->imds_token, sizeof(f->imds_token));
        failed(f, why);
        return;
    }
    f->imds_token_at = time(NULL);
    schedule(f, 0);     /* the next step from the loop, not this callback:
                           the connection may be closing under it */
}

static void
imds_role_cb(struct evhttp_request *req, void *arg)
{
    struct creds_fetcher *f = arg;
    char why[160];
    int r = text_answer(req, "instance profile role", f->role,
                        sizeof(f->role), why, sizeof(why));

    if (r == -2 && !f->retried) {
        f->retried = true;
        OPENSSL_cleanse(f->imds_token, sizeof(f->imds_token));
        schedule(f, 0);
        return;
    }
    if (r < 0) {
        f->role[0] = '\0';
        failed(f, why);
        return;
    }
    schedule(f, 0);
}

/* IMDSv2: a session token (PUT), the role's name, its credentials; each
 * GET carries the token, and a 401 asks for a new one (once). */
static void
imds_step(struct creds_fetcher *f)
{
    char path[sizeof(IMDS_CREDS_PATH) + 256], ttl[16];
    int r;

    if (f->imds_token[0] == '\0' ||
        time(NULL) - f->imds_token_at > IMDS_TOKEN_TTL - 300) {
        snprintf(ttl, sizeof(ttl), "%d", IMDS_TOKEN_TTL);
        r = send_request(f, EVHTTP_REQ_PUT, "/latest/api/token",
                         imds_token_cb, "X-aws-ec2-metadata-token-ttl-seconds",
                         ttl);
    } else if (f->role[0] == '\0') {
        r = send_request(f, EVHTTP_REQ_GET, IMDS_CREDS_PATH, imds_role_cb,
                         "X-aws-ec2-metadata-token", f->imds_token);
    } else {
        snprintf(path, sizeof(path), "%s%s", IMDS_CREDS_PATH, f->role);
        r = send_request(f, EVHTTP_REQ_GET, path, done_cb,
                         "X-aws-ec2-metadata-token", f->imds_token);
    }
    if (r < 0) {
        failed(f, "cannot send the request");
    }
}

static void
sts_done_cb(struct evhttp_request *req, void *arg)
{
    struct creds_fetcher *f = arg;
    char why[300], code_name[64];
    struct evbuffer *in;
    unsigned char *body;
    size_t len;
    int code;

    if (req == NULL || (code = evhttp_request_get_response_code(req)) == 0) {
        creds_sts_no_answer(f->tls, f->conn, why, sizeof(why));
        failed(f, why);
        return;
    }
    if (code != 200) {
        /* The Code only: the Message may quote what was sent. */
        in = evhttp_request_get_input_buffer(req);
        len = evbuffer_get_length(in);
        body = len <= BODY_MAX ? evbuffer_pullup(in, -1) : NULL;
        if (body == NULL || creds_sts_error_code((const char *)body, len,
                                                 code_name,
                                                 sizeof(code_name)) < 0) {
            snprintf(code_name, sizeof(code_name), "(no error code)");
        }
        if (body != NULL) {
            OPENSSL_cleanse(body, len);     /* it may quote the token */
        }
        evbuffer_drain(in, len);
        snprintf(why, sizeof(why), "HTTP %d %s", code, code_name);
        failed(f, why);
        return;
    }
    take_answer(f, req, creds_sts_parse, "the answer is not an "
                "AssumeRoleWithWebIdentityResponse with Credentials "
                "(AccessKeyId, SecretAccessKey, SessionToken, Expiration)");
}

/* Frees a request body (it holds the token) once libevent is done. */
static void
wipe_body_cb(const void *data, size_t len, void *extra)
{
    (void)extra;
    OPENSSL_clear_free((void *)data, len);
}

/* AssumeRoleWithWebIdentity on a new connection (the last one, done,
 * is freed here: never from inside its own callback). */
static void
sts_fetch(struct creds_fetcher *f)
{
    char *token = NULL, *body = NULL, why[PATH_MAX + 64], host[300];
    struct evhttp_request *req;
    struct evkeyvalq *h;
    size_t len = 0;

    if (f->conn != NULL) {
        evhttp_connection_free(f->conn);
        f->conn = NULL;
    }
    if ((token = malloc(CREDS_STS_TOKEN_MAX)) == NULL) {
        failed(f, "out of memory");
        return;
    }
    if (creds_sts_read_token(f->token_file, token, CREDS_STS_TOKEN_MAX, why,
                             sizeof(why)) < 0) {
        OPENSSL_clear_free(token, CREDS_STS_TOKEN_MAX);
        failed(f, why);
        return;
    }
    body = creds_sts_body(f->role_arn, f->session_name, token, &len);
    OPENSSL_clear_free(token, CREDS_STS_TOKEN_MAX);
    if (body == NULL) {
        failed(f, "out of memory");
        return;
    }
    f->conn = creds_sts_connect(f->base, f->dns, f->tls, &f->sts);
    if (f->conn == NULL || (req = evhttp_request_new(sts_done_cb, f)) ==
                               NULL) {
        OPENSSL_clear_free(body, len);
        failed(f, "cannot make the request");
        return;
    }
    evhttp_connection_set_timeout(f->conn, FETCH_TIMEOUT);
    evhttp_connection_set_max_body_size(f->conn, BODY_MAX);
    h = evhttp_request_get_output_headers(req);
    if (f->sts.port != 443) {
        snprintf(host, sizeof(host), f->sts.host_is_ip &&
                 strchr(f->sts.host, ':') != NULL ? "[%s]:%d" : "%s:%d",
                 f->sts.host, f->sts.port);
    } else {
        snprintf(host, sizeof(host), f->sts.host_is_ip &&
                 strchr(f->sts.host, ':') != NULL ? "[%s]" : "%s",
                 f->sts.host);
    }
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "Content-Type",
                      "application/x-www-form-urlencoded; charset=utf-8");
    evhttp_add_header(h, "Accept", "text/xml");
    /* body is the buffer's now, wiped when libevent lets it go */
    if (evbuffer_add_reference(evhttp_request_get_output_buffer(req), body,
                               len, wipe_body_cb, NULL) < 0) {
        OPENSSL_clear_free(body, len);
        evhttp_request_free(req);
        failed(f, "out of memory");
        return;
    }
    if (evhttp_make_request(f->conn, req, EVHTTP_REQ_POST, f->sts.path) < 0) {
        failed(f, "cannot send the request");
    }
}

static void
fetch(struct creds_fetcher *f)
{
    char authz[AUTHZ_MAX], why[300];
    int r;

    if (f->src == CREDS_SRC_IMDS) {
        imds_step(f);
        return;
    }
    if (f->src == CREDS_SRC_WEB_IDENTITY) {
        sts_fetch(f);
        return;
    }
    if (authorization(authz, sizeof(authz), why, sizeof(why)) < 0) {
        failed(f, why);
        return;
    }
    r = send_request(f, EVHTTP_REQ_GET, f->path, done_cb, "Authorization",
                     authz);
    OPENSSL_cleanse(authz, sizeof(authz));
    if (r < 0) {
        failed(f, "cannot send the request");
    }
}

/* The web identity's part of creds_fetcher_new(). */
static int
sts_setup(struct creds_fetcher *f, const struct creds_options *o, char *err,
          size_t errlen)
{
    char name[64];

    if (o->role_arn == NULL || o->token_file == NULL) {
        snprintf(err, errlen, "web identity without a role or token file");
        return -1;
    }
    if (creds_sts_endpoint(o->region, &f->sts, err, errlen) < 0 ||
        (f->tls = creds_sts_tls_new(err, errlen)) == NULL) {
        return -1;
    }
    snprintf(f->host, sizeof(f->host), "%s", f->sts.host);
    f->port = f->sts.port;
    /* As the SDKs do when none is set: a name with a time in it. */
    snprintf(name, sizeof(name), "redsleeve-%lld", (long long)time(NULL));
    f->role_arn = strdup(o->role_arn);
    f->token_file = strdup(o->token_file);
    f->session_name = strdup(o->session_name != NULL &&
                             o->session_name[0] != '\0' ? o->session_name
                                                        : name);
    if (f->role_arn == NULL || f->token_file == NULL ||
        f->session_name == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

struct creds_fetcher *
creds_fetcher_new(const struct creds_options *o, struct event_base *base,
                  struct evdns_base *dns, struct creds_cell *cell, char *err,
                  size_t errlen)
{
    struct creds_fetcher *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->src = o->src;
    f->base = base;
    f->dns = dns;
    f->cell = cell;
    f->backoff = 1;
    if ((o->src == CREDS_SRC_WEB_IDENTITY ? sts_setup(f, o, err, errlen)
                                          : endpoint(f, err, errlen)) < 0 ||
        (f->timer = evtimer_new(base, timer_cb, f)) == NULL) {
        creds_fetcher_free(f);
        return NULL;
    }
    /* From the loop, so the token file is read as the user we run as. */
    schedule(f, 0);
    return f;
}

void
creds_fetcher_free(struct creds_fetcher *f)
{
    if (f == NULL) {
        return;
    }
    if (f->timer != NULL) {
        event_free(f->timer);
    }
    if (f->conn != NULL) {
        evhttp_connection_free(f->conn);
    }
    SSL_CTX_free(f->tls);
    free(f->role_arn);
    free(f->token_file);
    free(f->session_name);
    OPENSSL_cleanse(f->imds_token, sizeof(f->imds_token));
    free(f);
}
