/*
 * tls.c: client SSL_CTX per service, per-link host checks, and the words
 * an operator reads when verification fails.
 *
 * Security defaults live here: peer verification on (chain, and the host
 * name unless verify = chain), TLS 1.2 at least, no compression, no
 * renegotiation, the system trust store unless a CA is configured.
 * verify = none is only reachable when config.c saw insecure = yes.
 */
#include "tls.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * OpenSSL's three TLS 1.3 suites with AES-128-GCM first (as Go, BoringSSL
 * and the browsers order them), not AES-256-GCM: the SHA-256 key schedule
 * and transcript make each connection 0.5 to 1 KiB smaller (2000 idle
 * links: 17.1-17.2 against 17.7-18.2 KiB per client).  The server may
 * still choose; `ciphersuites` overrides.
 */
/* Appended to every configured cipher list: see set_ciphers(). */
#define TLS_CIPHERS_NEVER ":!aNULL:!eNULL"

#define TLS_DEFAULT_SUITES                                                  \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                        \
    "TLS_CHACHA20_POLY1305_SHA256"

static int verify_info_index = -1;  /* SSL ex_data slot for the info */
static int cache_index = -1;        /* SSL_CTX ex_data slot for the cache */

/*
 * The client session cache of one context: the newest session the server
 * gave us (TLS 1.2 ticket or id, TLS 1.3 ticket), offered by every new
 * link so that refills resume instead of doing a full handshake.
 */
struct tls_cache {
    SSL_SESSION *newest;        /* owned: one reference */
    unsigned long full;         /* full handshakes */
    unsigned long resumed;      /* resumed handshakes */
};

static void
cache_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
              long argl, void *argp)
{
    struct tls_cache *c = ptr;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (c != NULL) {
        SSL_SESSION_free(c->newest);
        free(c);
    }
}

/*
 * OpenSSL hands us each new session; keep a copy of the newest.  A copy,
 * because the original stays tied to its connection: OpenSSL marks it
 * not resumable when that connection ends without close_notify (a server
 * that drops us, a client that resets), which would silently turn every
 * later link into a full handshake.
 */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_cache *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                              cache_index);
    SSL_SESSION *copy;

    if (c == NULL || !SSL_SESSION_is_resumable(sess)) {
        return 0;
    }
    copy = SSL_SESSION_dup(sess);
    if (copy != NULL) {
        SSL_SESSION_free(c->newest);
        c->newest = copy;
    }
    return 0;   /* OpenSSL keeps (and frees) the original */
}

void
tls_session_counts(SSL_CTX *ctx, unsigned long *full,
                   unsigned long *resumed)
{
    struct tls_cache *c = SSL_CTX_get_ex_data(ctx, cache_index);

    *full = c ? c->full : 0;
    *resumed = c ? c->resumed : 0;
}

bool
tls_note_handshake(SSL *ssl)
{
    struct tls_cache *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                              cache_index);
    bool resumed = SSL_session_reused(ssl) == 1;

    if (c != NULL) {
        if (resumed) {
            c->resumed++;
        } else {
            c->full++;
        }
    }
    return resumed;
}

const char *
tls_version_name(int v)
{
    return v == TLS1_3_VERSION ? "1.3" : "1.2";
}

char *
tls_err_drain(char *out, size_t outlen)
{
    unsigned long e;
    size_t used = 0;

    out[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        const char *r = ERR_reason_error_string(e);
        char tmp[128];

        if (r == NULL) {
            ERR_error_string_n(e, tmp, sizeof(tmp));
            r = tmp;
        }
        /* Keep the first reason; later ones are usually its echoes. */
        if (used == 0) {
            snprintf(out, outlen, "%s", r);
            used = strlen(out);
        }
    }
    return out;
}

/* Copies the certificate's subjectAltNames as "DNS:a, IP:1.2.3.4". */
static void
describe_names(X509 *cert, char *out, size_t outlen)
{
    GENERAL_NAMES *gens;
    size_t used = 0;

    out[0] = '\0';
    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (gens == NULL) {
        snprintf(out, outlen, "no subjectAltName");
        return;
    }
    for (int i = 0; i < sk_GENERAL_NAME_num(gens) && used + 1 < outlen; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char ip[64] = "";
        int n = 0;

        if (g->type == GEN_DNS) {
            const ASN1_STRING *s = g->d.dNSName;

            n = snprintf(out + used, outlen - used, "%sDNS:%.*s",
                         used ? ", " : "", ASN1_STRING_length(s),
                         (const char *)ASN1_STRING_get0_data(s));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *s = g->d.iPAddress;
            int len = ASN1_STRING_length(s);
            const unsigned char *b = ASN1_STRING_get0_data(s);

            if (len == 4 || len == 16) {
                inet_ntop(len == 4 ? AF_INET : AF_INET6, b, ip, sizeof(ip));
            }
            n = snprintf(out + used, outlen - used, "%sIP:%s",
                         used ? ", " : "", ip);
        }
        if (n > 0) {
            used += (size_t)n;
        }
    }
    GENERAL_NAMES_free(gens);
    if (used >= outlen) {
        used = outlen - 1;
    }
}

static int
verify_cb(int preverify_ok, X509_STORE_CTX *xctx)
{
    SSL *ssl;
    struct tls_verify_info *info;
    X509 *cert;

    if (preverify_ok) {
        return 1;
    }
    ssl = X509_STORE_CTX_get_ex_data(xctx,
                                     SSL_get_ex_data_X509_STORE_CTX_idx());
    info = ssl ? SSL_get_ex_data(ssl, verify_info_index) : NULL;
    if (info != NULL && info->error == 0) {
        info->error = X509_STORE_CTX_get_error(xctx);
        info->depth = X509_STORE_CTX_get_error_depth(xctx);
        cert = X509_STORE_CTX_get_current_cert(xctx);
        if (cert != NULL) {
            X509_NAME_oneline(X509_get_subject_name(cert), info->subject,
                              (int)sizeof(info->subject));
            describe_names(cert, info->names, sizeof(info->names));
        }
    }
    return 0;   /* fail the handshake: never continue unverified */
}

/* Called only when the server asks for a client certificate and the
 * context has none: note it, so the failure that follows can say why. */
static int
client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
    struct tls_verify_info *info = SSL_get_ex_data(ssl, verify_info_index);

    (void)x509;
    (void)pkey;
    if (info != NULL) {
        info->cert_requested = true;
    }
    return 0;   /* continue without a certificate */
}

static int
load_trust(SSL_CTX *ctx, const struct service_config *sc, char *err,
           size_t errlen, enum service_key *bad_key)
{
    char why[160];
    struct stat st;

    errno = 0;
    if (sc->ca_file == NULL && sc->ca_path == NULL) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            snprintf(err, errlen, "cannot load the system trust store: %s",
                     tls_err_drain(why, sizeof(why)));
            *bad_key = SK_CA_FILE;
            return -1;
        }
        return 0;
    }
    if (sc->ca_file != NULL &&
        SSL_CTX_load_verify_file(ctx, sc->ca_file) != 1) {
        snprintf(err, errlen, "cannot load CA certificates from %s: %s",
                 sc->ca_file, tls_err_drain(why, sizeof(why)));
        *bad_key = SK_CA_FILE;
        return -1;
    }
    if (sc->ca_path != NULL && (stat(sc->ca_path, &st) < 0 ||
                                !S_ISDIR(st.st_mode))) {
        /* OpenSSL reads the directory lazily: check it now. */
        snprintf(err, errlen, "cannot use CA directory %s: %s", sc->ca_path,
                 errno ? strerror(errno) : "not a directory");
        *bad_key = SK_CA_PATH;
        return -1;
    }
    if (sc->ca_path != NULL &&
        SSL_CTX_load_verify_dir(ctx, sc->ca_path) != 1) {
        snprintf(err, errlen, "cannot use CA directory %s: %s", sc->ca_path,
                 tls_err_drain(why, sizeof(why)));
        *bad_key = SK_CA_PATH;
        return -1;
    }
    return 0;
}

static int
load_client_cert(SSL_CTX *ctx, const struct service_config *sc, char *err,
                 size_t errlen, enum service_key *bad_key)
{
    char why[160];

    if (sc->cert_file == NULL) {
        return 0;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, sc->cert_file) != 1) {
        snprintf(err, errlen, "cannot load client certificate %s: %s",
                 sc->cert_file, tls_err_drain(why, sizeof(why)));
        *bad_key = SK_CERT_FILE;
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, sc->key_file, SSL_FILETYPE_PEM)
        != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) ==
            X509_R_KEY_VALUES_MISMATCH) {
            snprintf(err, errlen, "%s does not match certificate %s",
                     sc->key_file, sc->cert_file);
            ERR_clear_error();
            *bad_key = SK_KEY_FILE;
            return -1;
        }
        snprintf(err, errlen, "cannot load private key %s: %s",
                 sc->key_file, tls_err_drain(why, sizeof(why)));
        *bad_key = SK_KEY_FILE;
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s does not match certificate %s",
                 sc->key_file, sc->cert_file);
        ERR_clear_error();
        *bad_key = SK_KEY_FILE;
        return -1;
    }
    return 0;
}

/*
 * set_ciphers(ctx, list): the TLS 1.2 cipher list, never with anonymous
 * (aNULL: the server sends no certificate, so there is nothing to verify
 * and OpenSSL verifies nothing) or null (eNULL: no encryption) ciphers,
 * whatever the list says ("ALL:@SECLEVEL=0" would allow both).
 */
static int
set_ciphers(SSL_CTX *ctx, const char *list)
{
    size_t len = strlen(list) + sizeof(TLS_CIPHERS_NEVER);
    char *buf = malloc(len);
    int r;

    if (buf == NULL) {
        return -1;
    }
    snprintf(buf, len, "%s" TLS_CIPHERS_NEVER, list);
    r = SSL_CTX_set_cipher_list(ctx, buf) == 1 ? 0 : -1;
    free(buf);
    return r;
}

SSL_CTX *
tls_ctx_new(const struct service_config *sc, char *err, size_t errlen,
            enum service_key *bad_key)
{
    SSL_CTX *ctx;
    char why[160];

    struct tls_cache *cache;

    if (verify_info_index < 0) {
        verify_info_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        cache_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                               cache_free_cb);
    }
    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create TLS context: %s",
                 tls_err_drain(why, sizeof(why)));
        *bad_key = SK_UPSTREAM;
        return NULL;
    }
    /* A server that closes TCP without close_notify is an EOF like any
     * other: Redis does it after our close_notify, and a cut reply is
     * caught by the client's own framing (we never invent bytes). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
                        SSL_OP_NO_RENEGOTIATION |
                        SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Partial writes and retries from a moved buffer: the data path copies
     * unwritten bytes into its pending buffer and retries from there. */
    /* No SSL_MODE_RELEASE_BUFFERS: a busy link keeps its buffers (no
     * malloc and free per record); sessions and the pool hand them back
     * once a link is quiet (link_release_buffers). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_set_min_proto_version(ctx, sc->tls_min_version) != 1) {
        snprintf(err, errlen, "cannot set minimum TLS version %s",
                 tls_version_name(sc->tls_min_version));
        *bad_key = SK_TLS_MIN_VERSION;
        goto fail;
    }
    if (sc->ciphers != NULL && set_ciphers(ctx, sc->ciphers) < 0) {
        snprintf(err, errlen, "no usable cipher in \"%s\" (anonymous and "
                 "null ciphers are never used)", sc->ciphers);
        *bad_key = SK_CIPHERS;
        goto fail;
    }
    if (sc->ciphersuites != NULL &&
        SSL_CTX_set_ciphersuites(ctx, sc->ciphersuites) != 1) {
        snprintf(err, errlen, "no usable TLS 1.3 ciphersuite in \"%s\"",
                 sc->ciphersuites);
        *bad_key = SK_CIPHERSUITES;
        goto fail;
    }
    if (sc->ciphersuites == NULL &&
        SSL_CTX_set_ciphersuites(ctx, TLS_DEFAULT_SUITES) != 1) {
        snprintf(err, errlen, "cannot set the TLS 1.3 ciphersuites");
        *bad_key = SK_CIPHERSUITES;
        goto fail;
    }
    if (load_trust(ctx, sc, err, errlen, bad_key) < 0 ||
        load_client_cert(ctx, sc, err, errlen, bad_key) < 0) {
        goto fail;
    }
    if (sc->cert_file == NULL) {
        SSL_CTX_set_client_cert_cb(ctx, client_cert_cb);
    }
    if (sc->verify == VERIFY_NONE) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    }
    cache = calloc(1, sizeof(*cache));
    if (cache == NULL || SSL_CTX_set_ex_data(ctx, cache_index, cache) != 1) {
        free(cache);
        snprintf(err, errlen, "out of memory");
        *bad_key = SK_UPSTREAM;
        goto fail;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                   SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *
tls_ssl_new(SSL_CTX *ctx, const struct service_config *sc,
            struct tls_verify_info *info)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL) {
        return NULL;
    }
    struct tls_cache *c = SSL_CTX_get_ex_data(ctx, cache_index);

    memset(info, 0, sizeof(*info));
    SSL_set_ex_data(ssl, verify_info_index, info);
    if (c != NULL && c->newest != NULL &&
        SSL_set_session(ssl, c->newest) != 1) {
        goto fail;
    }
    if (sc->sni != NULL && SSL_set_tlsext_host_name(ssl, sc->sni) != 1) {
        goto fail;
    }
    if (sc->verify == VERIFY_FULL) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

        if (sc->verify_host_is_ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(vp, sc->verify_host) != 1) {
                goto fail;
            }
        } else {
            /* The name must be a DNS subjectAltName: never fall back to
             * the subject's common name (RFC 6125; a CN-only certificate
             * is refused like one for another host). */
            X509_VERIFY_PARAM_set_hostflags(
                vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                        X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
            if (SSL_set1_host(ssl, sc->verify_host) != 1) {
                goto fail;
            }
        }
    }
    SSL_set_connect_state(ssl);
    return ssl;
fail:
    SSL_free(ssl);
    return NULL;
}

/* Where the trust anchors came from, for "not signed by a CA in ...". */
static void
describe_trust(const struct service_config *sc, char *out, size_t outlen)
{
    if (sc->ca_file != NULL) {
        snprintf(out, outlen, "not signed by a CA in ca_file %s: is it the "
                 "CA that signs this server's certificate?", sc->ca_file);
    } else if (sc->ca_path != NULL) {
        snprintf(out, outlen, "not signed by a CA in ca_path %s: is the "
                 "server's CA there (hashed with openssl rehash)?",
                 sc->ca_path);
    } else {
        snprintf(out, outlen, "not signed by a CA in the system trust "
                 "store: set ca_file to the CA that signs this server");
    }
}

/* Is X509_V_ERR_* e about who signed the chain (the trust anchors)? */
static bool
is_trust_error(int e)
{
    return e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
           e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
           e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
           e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           e == X509_V_ERR_CERT_UNTRUSTED;
}

bool
tls_saw_plaintext(const struct tls_verify_info *info)
{
    /* A TLS record starts with its content type, 20 to 23 (alert,
     * handshake, ...); a Redis reply starts with '-', '+', '$', ... */
    return info->nfirst > 0 && (info->first[0] < 20 || info->first[0] > 23);
}

char *
tls_failure_reason(SSL *ssl, const struct tls_verify_info *info,
                   const struct service_config *sc, char *out,
                   size_t outlen)
{
    char why[160], hint[200], first[sizeof(info->first) * 4 + 4];
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    int err = info->error != 0 ? info->error : (int)vr;

    tls_err_drain(why, sizeof(why));
    if (err == X509_V_ERR_HOSTNAME_MISMATCH ||
        err == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        snprintf(out, outlen, "certificate rejected: %s (wanted %s, "
                 "certificate has %s)",
                 X509_verify_cert_error_string(err), sc->verify_host,
                 info->names[0] ? info->names : "no names");
    } else if (err != X509_V_OK && is_trust_error(err)) {
        describe_trust(sc, hint, sizeof(hint));
        snprintf(out, outlen, "certificate rejected: %s (depth %d, subject "
                 "%s): %s", X509_verify_cert_error_string(err), info->depth,
                 info->subject[0] ? info->subject : "?", hint);
    } else if (err != X509_V_OK) {
        snprintf(out, outlen, "certificate rejected: %s (depth %d, "
                 "subject %s)", X509_verify_cert_error_string(err),
                 info->depth, info->subject[0] ? info->subject : "?");
    } else if (tls_saw_plaintext(info)) {
        log_escape((const char *)info->first, info->nfirst, first,
                   sizeof(first));
        snprintf(out, outlen, "TLS handshake failed: no TLS at this port: "
                 "the server answered in plaintext (\"%s\"); is upstream "
                 "the TLS port (tls-port)?", first);
    } else if (why[0] != '\0') {
        snprintf(out, outlen, "TLS handshake failed: %s", why);
    } else {
        snprintf(out, outlen, "TLS handshake failed: connection closed by "
                 "the server");
    }
    return out;
}

int
tls_check_peer(SSL *ssl, const struct service_config *sc, char *out,
               size_t outlen)
{
    long vr;

    if (sc->verify == VERIFY_NONE) {
        return 0;
    }
    if (SSL_get0_peer_certificate(ssl) == NULL) {
        snprintf(out, outlen, "certificate rejected: the server sent no "
                 "certificate (cipher %s); nothing was sent to it",
                 SSL_get_cipher_name(ssl));
        return -1;
    }
    vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(out, outlen, "certificate rejected: %s",
                 X509_verify_cert_error_string(vr));
        return -1;
    }
    return 0;
}

/* Keeps the first bytes the server sent during the handshake, so that a
 * failure can tell a plaintext server from a broken TLS one. */
static long
first_bytes_cb(BIO *b, int oper, const char *argp, size_t len, int argi,
               long argl, int ret, size_t *processed)
{
    struct tls_verify_info *info =
        (struct tls_verify_info *)BIO_get_callback_arg(b);

    (void)len;
    (void)argi;
    (void)argl;
    if (info != NULL && oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 &&
        processed != NULL) {
        size_t n = *processed;

        if (info->nfirst < sizeof(info->first)) {
            size_t room = sizeof(info->first) - info->nfirst;

            memcpy(info->first + info->nfirst, argp, n < room ? n : room);
            info->nfirst += n < room ? n : room;
        }
        info->nread += n;
    }
    return ret;
}

void
tls_watch_reads(SSL *ssl, struct tls_verify_info *info)
{
    BIO *rb = SSL_get_rbio(ssl);

    if (rb != NULL) {
        BIO_set_callback_arg(rb, (char *)info);
        BIO_set_callback_ex(rb, first_bytes_cb);
    }
}

enum tls_fail
tls_failure_kind(SSL *ssl, const struct tls_verify_info *info)
{
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    int err = info->error != 0 ? info->error : (int)vr;

    switch (err) {
    case X509_V_OK:
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return TLS_FAIL_HOSTNAME;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return TLS_FAIL_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return TLS_FAIL_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        return TLS_FAIL_UNTRUSTED;
    default:
        return TLS_FAIL_VERIFY_OTHER;
    }
    if (info->cert_requested) {
        return TLS_FAIL_CERT_REQUIRED;
    }
    return ERR_peek_error() == 0 ? TLS_FAIL_CLOSED : TLS_FAIL_PROTOCOL;
}

bool
tls_fail_is_verify(enum tls_fail k)
{
    return k == TLS_FAIL_HOSTNAME || k == TLS_FAIL_UNTRUSTED ||
           k == TLS_FAIL_EXPIRED || k == TLS_FAIL_NOT_YET_VALID ||
           k == TLS_FAIL_VERIFY_OTHER;
}

const char *
tls_fail_name(enum tls_fail k)
{
    static const char *const names[TLS_FAIL_COUNT] = {
        [TLS_FAIL_HOSTNAME] = "hostname_mismatch",
        [TLS_FAIL_UNTRUSTED] = "untrusted_chain",
        [TLS_FAIL_EXPIRED] = "certificate_expired",
        [TLS_FAIL_NOT_YET_VALID] = "certificate_not_yet_valid",
        [TLS_FAIL_VERIFY_OTHER] = "verify_other",
        [TLS_FAIL_CERT_REQUIRED] = "client_certificate_required",
        [TLS_FAIL_TIMEOUT] = "handshake_timeout",
        [TLS_FAIL_CLOSED] = "closed_by_server",
        [TLS_FAIL_PROTOCOL] = "protocol",
    };

    return (unsigned)k < TLS_FAIL_COUNT ? names[k] : "unknown";
}

void
tls_ssl_forget_info(SSL *ssl)
{
    if (ssl != NULL) {
        BIO *rb = SSL_get_rbio(ssl);

        SSL_set_ex_data(ssl, verify_info_index, NULL);
        if (rb != NULL) {
            BIO_set_callback_ex(rb, NULL);
            BIO_set_callback_arg(rb, NULL);
        }
    }
}
