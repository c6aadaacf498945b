/*
 * check_tls: building client contexts from real files (made by the test
 * PKI script), and the error each bad file gives, naming its key.
 */
#include <check.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

static char pki[128];
static char err[512];

static char *
path(const char *name)
{
    static char bufs[4][256];
    static int next;
    char *b = bufs[next++ % 4];

    snprintf(b, sizeof(bufs[0]), "%s/%s", pki, name);
    return b;
}

static void
base_config(struct service_config *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->name = "t";
    sc->upstream = "127.0.0.1:6380";
    sc->upstream_host = "127.0.0.1";
    sc->verify_host = "redis.test";
    sc->sni = "redis.test";
    sc->verify = VERIFY_FULL;
    sc->tls_min_version = TLS1_2_VERSION;
    sc->ca_file = path("ca.crt");
}

static void
expect_failure(struct service_config *sc, enum service_key key,
               const char *words)
{
    enum service_key bad = SK_COUNT;
    SSL_CTX *ctx = tls_ctx_new(sc, err, sizeof(err), &bad);

    ck_assert_ptr_null(ctx);
    ck_assert_int_eq(bad, key);
    ck_assert_msg(strstr(err, words) != NULL, "want \"%s\" in \"%s\"", words,
                  err);
}

START_TEST(good_ca_file)
{
    struct service_config sc;
    enum service_key bad = SK_COUNT;
    SSL_CTX *ctx;

    base_config(&sc);
    ctx = tls_ctx_new(&sc, err, sizeof(err), &bad);
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(system_store)
{
    struct service_config sc;
    enum service_key bad = SK_COUNT;
    SSL_CTX *ctx;

    base_config(&sc);
    sc.ca_file = NULL;
    ctx = tls_ctx_new(&sc, err, sizeof(err), &bad);
    ck_assert_msg(ctx != NULL, "%s", err);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(missing_ca_file)
{
    struct service_config sc;

    base_config(&sc);
    sc.ca_file = path("nope.crt");
    expect_failure(&sc, SK_CA_FILE, "nope.crt");
}
END_TEST

START_TEST(garbage_ca_file)
{
    struct service_config sc;
    FILE *fp = fopen(path("garbage.crt"), "w");

    fputs("this is not a certificate\n", fp);
    fclose(fp);
    base_config(&sc);
    sc.ca_file = path("garbage.crt");
    expect_failure(&sc, SK_CA_FILE, "cannot load CA certificates");
}
END_TEST

START_TEST(missing_ca_dir)
{
    struct service_config sc;

    base_config(&sc);
    sc.ca_file = NULL;
    sc.ca_path = path("no-such-dir");
    expect_failure(&sc, SK_CA_PATH, "no-such-dir");
}
END_TEST

START_TEST(client_cert_and_key)
{
    struct service_config sc;
    enum service_key bad = SK_COUNT;
    SSL_CTX *ctx;

    base_config(&sc);
    sc.cert_file = path("client.crt");
    sc.key_file = path("client.key");
    ctx = tls_ctx_new(&sc, err, sizeof(err), &bad);
    ck_assert_msg(ctx != NULL, "%s", err);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(key_does_not_match)
{
    struct service_config sc;

    base_config(&sc);
    sc.cert_file = path("client.crt");
    sc.key_file = path("server.key");
    expect_failure(&sc, SK_KEY_FILE, "does not match");
}
END_TEST

START_TEST(missing_cert)
{
    struct service_config sc;

    base_config(&sc);
    sc.cert_file = path("nope.crt");
    sc.key_file = path("client.key");
    expect_failure(&sc, SK_CERT_FILE, "cannot load client certificate");
}
END_TEST

START_TEST(bad_ciphers)
{
    struct service_config sc;

    base_config(&sc);
    sc.ciphers = "NOPE";
    expect_failure(&sc, SK_CIPHERS, "NOPE");
    base_config(&sc);
    sc.ciphersuites = "TLS_NOPE";
    expect_failure(&sc, SK_CIPHERSUITES, "TLS_NOPE");
}
END_TEST

START_TEST(ssl_for_ip_and_name)
{
    struct service_config sc;
    struct tls_verify_info info;
    enum service_key bad = SK_COUNT;
    SSL_CTX *ctx;
    SSL *ssl;

    base_config(&sc);
    ctx = tls_ctx_new(&sc, err, sizeof(err), &bad);
    ck_assert_ptr_nonnull(ctx);
    ssl = tls_ssl_new(ctx, &sc, &info);
    ck_assert_ptr_nonnull(ssl);
    ck_assert_str_eq(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
                     "redis.test");
    SSL_free(ssl);
    sc.verify_host = "127.0.0.1";
    sc.verify_host_is_ip = true;
    sc.sni = NULL;
    ssl = tls_ssl_new(ctx, &sc, &info);
    ck_assert_ptr_nonnull(ssl);
    ck_assert_ptr_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(hostname_mismatch_reason)
{
    struct service_config sc;
    struct tls_verify_info info;
    char out[TLS_REASON_MAX];

    base_config(&sc);
    memset(&info, 0, sizeof(info));
    info.error = X509_V_ERR_HOSTNAME_MISMATCH;
    snprintf(info.names, sizeof(info.names), "DNS:wrong.test");
    tls_failure_reason(NULL, &info, &sc, out, sizeof(out));
    ck_assert_str_eq(out, "certificate rejected: hostname mismatch "
                     "(wanted redis.test, certificate has DNS:wrong.test)");
    info.error = X509_V_ERR_CERT_HAS_EXPIRED;
    info.depth = 0;
    snprintf(info.subject, sizeof(info.subject), "/CN=redis.test");
    tls_failure_reason(NULL, &info, &sc, out, sizeof(out));
    ck_assert_str_eq(out, "certificate rejected: certificate has "
                     "expired (depth 0, subject /CN=redis.test)");
}
END_TEST

/* Runs a handshake in memory between client and a server presenting
 * server.crt; true when the client finished it. */
static bool
handshake(SSL *client)
{
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    SSL *server;
    BIO *cb, *sb;
    bool done = false;

    ck_assert_ptr_nonnull(sctx);
    ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(sctx,
                                                        path("server.crt")),
                     1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(sctx, path("server.key"),
                                                 SSL_FILETYPE_PEM), 1);
    server = SSL_new(sctx);
    ck_assert_int_eq(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    for (int i = 0; i < 20 && !done; i++) {
        int c = SSL_do_handshake(client);

        (void)SSL_do_handshake(server);
        done = c == 1;
    }
    SSL_free(server);
    SSL_CTX_free(sctx);
    ERR_clear_error();
    return done;
}

START_TEST(check_peer_after_handshake)
{
    struct service_config sc;
    struct tls_verify_info info;
    enum service_key bad = SK_COUNT;
    char out[TLS_REASON_MAX] = "";
    SSL_CTX *ctx;
    SSL *ssl;

    base_config(&sc);
    ctx = tls_ctx_new(&sc, err, sizeof(err), &bad);
    ck_assert_msg(ctx != NULL, "%s", err);

    /* No certificate from the server (no handshake yet stands for an
     * anonymous one): refused, and it says nothing was sent. */
    ssl = tls_ssl_new(ctx, &sc, &info);
    ck_assert_int_eq(tls_check_peer(ssl, &sc, out, sizeof(out)), -1);
    ck_assert_msg(strstr(out, "certificate rejected: the server sent no "
                         "certificate") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "nothing was sent to it") != NULL, "%s", out);
    /* ... which verify = none does not ask for. */
    sc.verify = VERIFY_NONE;
    ck_assert_int_eq(tls_check_peer(ssl, &sc, out, sizeof(out)), 0);
    sc.verify = VERIFY_FULL;
    SSL_free(ssl);

    /* A real handshake with the test server: its certificate verified. */
    ssl = tls_ssl_new(ctx, &sc, &info);
    ck_assert(handshake(ssl));
    ck_assert_ptr_nonnull(SSL_get0_peer_certificate(ssl));
    ck_assert_int_eq(tls_check_peer(ssl, &sc, out, sizeof(out)), 0);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    SRunner *sr;
    char cmd[300];
    int failed;

    snprintf(pki, sizeof(pki), "/tmp/check_tls.XXXXXX");
    if (mkdtemp(pki) == NULL) {
        return EXIT_FAILURE;
    }
    snprintf(cmd, sizeof(cmd), "bash tests/integration/gen-certs.sh '%s'",
             pki);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot make the test PKI (run from the repo "
                "root)\n");
        return EXIT_FAILURE;
    }
    tcase_add_test(tc, good_ca_file);
    tcase_add_test(tc, system_store);
    tcase_add_test(tc, missing_ca_file);
    tcase_add_test(tc, garbage_ca_file);
    tcase_add_test(tc, missing_ca_dir);
    tcase_add_test(tc, client_cert_and_key);
    tcase_add_test(tc, key_does_not_match);
    tcase_add_test(tc, missing_cert);
    tcase_add_test(tc, bad_ciphers);
    tcase_add_test(tc, ssl_for_ip_and_name);
    tcase_add_test(tc, hostname_mismatch_reason);
    tcase_add_test(tc, check_peer_after_handshake);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
    if (system(cmd) != 0) {
        failed++;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
