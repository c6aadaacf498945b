/*
 * creds_sts.h: what web identity credentials need from AWS STS, apart
 * from the fetching itself (creds.c schedules, retries and fills the
 * cell): where the endpoint is, the verified TLS connection to it, the
 * AssumeRoleWithWebIdentity request body, and its XML answer read into
 * credentials.
 *
 * The endpoint, as the AWS SDKs read it: AWS_ENDPOINT_URL_STS, else
 * AWS_ENDPOINT_URL, else https://sts.REGION.amazonaws.com.  Only https://
 * is accepted: the request carries the web identity token, a credential,
 * so it never goes out in plaintext.  The server is verified against
 * AWS_CA_BUNDLE when set (the SDKs' variable), else the system's trust
 * store, and its name (or IP address) must be in its certificate.
 *
 * The request is unsigned: the token is the proof.  The token, the body
 * that holds it and the answer's secrets are wiped after use and never
 * logged; an error answer is reported by its <Code> only.
 */
#ifndef REDSLEEVE_CREDS_STS_H
#define REDSLEEVE_CREDS_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "log.h"

#define CREDS_STS_DURATION 3600     /* seconds the credentials are asked for */
#define CREDS_STS_TOKEN_MAX 16384   /* longest web identity token read */

struct creds_sts_endpoint {
    char host[256];                 /* name or IP literal (no brackets) */
    int port;                       /* 443 unless the URL says */
    char path[1024];                /* "/" unless the URL says */
    bool host_is_ip;                /* verify an IP address, no SNI */
    const char *var;                /* static: the variable that set it, or
                                       NULL for the default */
};

/*
 * creds_sts_endpoint(region, out, err, errlen): the STS endpoint for
 * region, from the variables above.  0, or -1 with why in err (naming the
 * variable: not a URL, or not https://).
 */
int creds_sts_endpoint(const char *region, struct creds_sts_endpoint *out,
                       char *err, size_t errlen) MUST_CHECK;

/*
 * creds_sts_tls_new(err, errlen): a client SSL_CTX for STS: TLS 1.2 at
 * least, the peer verified against AWS_CA_BUNDLE or the system's store.
 * The caller owns it (SSL_CTX_free).  NULL with why in err (naming
 * AWS_CA_BUNDLE when it cannot be loaded).
 */
SSL_CTX *creds_sts_tls_new(char *err, size_t errlen);

/*
 * creds_sts_tls_verify_error(ctx): the first certificate error seen on
 * a connection of ctx since creds_sts_connect() made it (X509_V_OK when
 * none).  It is kept by the verify callback, so it survives libevent
 * resetting the SSL after a failed handshake.
 */
long creds_sts_tls_verify_error(SSL_CTX *ctx);

struct event_base;
struct evdns_base;
struct evhttp_connection;

/*
 * creds_sts_connect(base, dns, ctx, ep): a new HTTPS connection to ep (an
 * SSL of ctx with the host checked and SNI for a name, in a
 * bufferevent_openssl), not connected until a request is made.  The
 * caller owns it (evhttp_connection_free, never from its own callback).
 * NULL on failure (ENOMEM or OpenSSL).
 */
struct evhttp_connection *creds_sts_connect(struct event_base *base,
                                            struct evdns_base *dns,
                                            SSL_CTX *ctx,
                                            const struct creds_sts_endpoint
                                                *ep);

/*
 * creds_sts_no_answer(ctx, conn, why, whylen): why a request on conn (of
 * ctx) got no answer: "certificate rejected: " and the verify error when
 * the certificate was, else TLS's error, else "no answer (connection
 * failed or timed out)".
 */
void creds_sts_no_answer(SSL_CTX *ctx, struct evhttp_connection *conn,
                         char *why, size_t whylen);

/*
 * creds_sts_read_token(path, out, n, why, whylen): the web identity token
 * from its file (read at every fetch: it rotates) into out (n bytes),
 * trailing blanks cut.  0, or -1 with why (the path, never the token:
 * unreadable, empty or too long).  The caller wipes out.
 */
int creds_sts_read_token(const char *path, char *out, size_t n, char *why,
                         size_t whylen) MUST_CHECK;

/*
 * creds_sts_body(role_arn, session_name, token, len): the form body of
 * AssumeRoleWithWebIdentity, every value percent-encoded, into a new
 * buffer (*len bytes, NUL-terminated).  The caller wipes it
 * (OPENSSL_clear_free): it holds the token.  NULL on ENOMEM.
 */
char *creds_sts_body(const char *role_arn, const char *session_name,
                     const char *token, size_t *len);

/*
 * creds_sts_parse(body, len, ak, sk, tok, n, expiration): the
 * credentials of an AssumeRoleWithWebIdentityResponse (each field up to n
 * bytes).  Strict: one well-formed element tree, the five predefined
 * entities and nothing else (no DOCTYPE, comment, CDATA or character
 * reference), the four fields present once each under
 * AssumeRoleWithWebIdentityResult/Credentials, printable ASCII.  0, or -1.
 * Exposed for the unit tests.
 */
int creds_sts_parse(const char *body, size_t len, char *ak, char *sk,
                    char *tok, size_t n, time_t *expiration) MUST_CHECK;

/*
 * creds_sts_error_code(body, len, code, n): the <Code> of an STS error
 * answer (ErrorResponse/Error/Code), safe to log (letters, digits, '.',
 * '_', '-').  0, or -1 when the body is no such answer.  The <Message> is
 * never read: it may quote the request.
 */
int creds_sts_error_code(const char *body, size_t len, char *code,
                         size_t n) MUST_CHECK;

#endif
