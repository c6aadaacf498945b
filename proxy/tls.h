/*
 * tls.h: OpenSSL client contexts and readable verification failures.
 *
 * tls.c owns the SSL_CTX of a service (trust store, verification mode,
 * versions, ciphers, client certificate) and the per-connection set-up of
 * host name checks and SNI.  It does no I/O: upstream_connect.c drives
 * the handshake and upstream.c the data path.
 */
#ifndef REDSLEEVE_TLS_H
#define REDSLEEVE_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define TLS_REASON_MAX 320

/*
 * What the verify callback saw, kept by the connection's owner (embedded in
 * struct link) and filled in by tls.c during the handshake.
 */
struct tls_verify_info {
    int error;              /* first X509_V_ERR_* seen, 0 = none */
    int depth;              /* chain depth of that error */
    char subject[128];      /* subject of the certificate at fault */
    char names[160];        /* its subjectAltNames, for hostname errors */
    bool cert_requested;    /* the server asked for a client certificate
                               we do not have */
    unsigned char first[24];    /* the first bytes the server sent */
    size_t nfirst;          /* of them, in first */
    size_t nread;           /* bytes read from the server so far */
};

/*
 * tls_ctx_new(sc, err, errlen, bad_key): builds the client SSL_CTX for a
 * service: verification per sc->verify, trust store (ca_file/ca_path or the
 * system default), tls_min_version, ciphers, ciphersuites, client
 * certificate.  Returns the new context (caller owns; SSL_CTX_free), or
 * NULL with a one-line reason in err and the offending key in *bad_key.
 */
SSL_CTX *tls_ctx_new(const struct service_config *sc, char *err,
                     size_t errlen, enum service_key *bad_key);

/*
 * tls_ssl_new(ctx, sc, info): a new client SSL for one link, with SNI and
 * the host name (or IP) check of sc, reporting verification details into
 * info (which must outlive the SSL).  Returns NULL on allocation failure.
 */
SSL *tls_ssl_new(SSL_CTX *ctx, const struct service_config *sc,
                 struct tls_verify_info *info);

/* tls_ssl_forget_info(ssl): the info given to tls_ssl_new is going away
 * (the handshake is over); the callbacks will not look for it again. */
void tls_ssl_forget_info(SSL *ssl);

/*
 * tls_failure_reason(ssl, info, sc, out, outlen): after a failed handshake,
 * a readable cause: "certificate rejected: hostname mismatch (wanted
 * redis.test, certificate has DNS:wrong.test)", "TLS handshake failed:
 * unsupported protocol", ...  Drains the OpenSSL error queue.  Returns out.
 */
char *tls_failure_reason(SSL *ssl, const struct tls_verify_info *info,
                         const struct service_config *sc, char *out,
                         size_t outlen);

/*
 * tls_watch_reads(ssl, info): after SSL_set_fd, keeps the first bytes the
 * server sends (and counts them) in info until tls_ssl_forget_info.
 */
void tls_watch_reads(SSL *ssl, struct tls_verify_info *info);

/* tls_saw_plaintext(info): the server's first byte cannot start a TLS
 * record (a plaintext Redis answered). */
bool tls_saw_plaintext(const struct tls_verify_info *info);

/*
 * tls_check_peer(ssl, sc, out, outlen): after every successful handshake
 * (full or resumed), unless verify = none: the server presented a
 * certificate and it verified.  OpenSSL verifies nothing when no
 * certificate is sent (anonymous ciphers), so a finished handshake alone
 * proves nothing.  Returns 0, or -1 with "certificate rejected: ..." in
 * out: nothing may be sent then.
 */
int tls_check_peer(SSL *ssl, const struct service_config *sc, char *out,
                   size_t outlen) MUST_CHECK;

/* Why a TLS handshake failed, for metrics. */
enum tls_fail {
    TLS_FAIL_HOSTNAME = 0,      /* certificate is not for verify_host */
    TLS_FAIL_UNTRUSTED,         /* chain does not reach a trusted CA */
    TLS_FAIL_EXPIRED,           /* a certificate has expired */
    TLS_FAIL_NOT_YET_VALID,     /* a certificate is not valid yet */
    TLS_FAIL_VERIFY_OTHER,      /* any other verification error */
    TLS_FAIL_CERT_REQUIRED,     /* server wanted a client certificate */
    TLS_FAIL_TIMEOUT,           /* handshake_timeout passed */
    TLS_FAIL_CLOSED,            /* server closed during the handshake */
    TLS_FAIL_PROTOCOL,          /* alert, version or cipher mismatch */
    TLS_FAIL_COUNT
};

/*
 * tls_failure_kind(ssl, info): the class of a failed handshake.  Call it
 * before tls_failure_reason, which drains the error queue.
 */
enum tls_fail tls_failure_kind(SSL *ssl, const struct tls_verify_info *info);

/* tls_fail_is_verify(k): the certificate failed verification (the five
 * classes before TLS_FAIL_CERT_REQUIRED); tls_failure_reason() then says
 * "certificate rejected: ...". */
bool tls_fail_is_verify(enum tls_fail k);

/* tls_fail_name(k): "hostname_mismatch", "untrusted", ... for labels. */
const char *tls_fail_name(enum tls_fail k);

/*
 * tls_session_counts(ctx, full, resumed): handshakes of links made from
 * ctx that were full, and that resumed the service's cached session.
 */
void tls_session_counts(SSL_CTX *ctx, unsigned long *full,
                        unsigned long *resumed);

/*
 * tls_note_handshake(ssl): after a successful handshake, counts it as full
 * or resumed.  Returns true when it was resumed.
 */
bool tls_note_handshake(SSL *ssl);

/* tls_err_drain(out, outlen): the OpenSSL error queue as text, emptied. */
char *tls_err_drain(char *out, size_t outlen);

/* tls_version_name(v): "1.2" or "1.3" for TLS1_2_VERSION/TLS1_3_VERSION. */
const char *tls_version_name(int v);

#endif
