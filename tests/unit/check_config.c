/*
 * check_config: config.c against good files (every key, every default)
 * and bad files (every error path names FILE:LINE: key).
 */
#include <check.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

#define ERR_LEN 8192

static char err[ERR_LEN];
static char dir[256];   /* temp dir for files the tests write */

static const char *
data_dir(void)
{
    const char *d = getenv("UNIT_DATA");

    return d != NULL ? d : "tests/unit/data";
}

/* Writes text to dir/name and returns the path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
    static char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static struct config *
load_text(const char *text)
{
    return config_load(write_file("t.ini", text), err, sizeof(err));
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    err[0] = '\0';
}

static void
teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("REDSLEEVE_UNIT_PW");
}

/* ------------------------------------------------------------ good files */

START_TEST(role_and_dns_refresh)
{
    struct config *cfg = load_text(
        "[global]\nallow_root = yes\nworkers = 3\nbusy_poll = 50us\n"
        "[a]\nlisten = 6379\nupstream = c.example:6379\nrole = primary\n"
        "dns_refresh = 500ms\n"
        "[b]\nlisten = 6380\nupstream = c.example:6379\nrole = replica\n"
        "[c]\nlisten = 6381\nupstream = c.example:6379\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(cfg->allow_root);
    ck_assert_int_eq(cfg->workers, 3);
    ck_assert_double_eq_tol(cfg->busy_poll, 50e-6, 1e-12);
    ck_assert_int_eq(cfg->services->role, ROLE_PRIMARY);
    ck_assert_double_eq_tol(cfg->services->dns_refresh, 0.5, 1e-9);
    ck_assert_int_eq(cfg->services->next->role, ROLE_REPLICA);
    ck_assert_int_eq(cfg->services->next->next->role, ROLE_ANY);
    ck_assert_double_eq_tol(cfg->services->next->next->dns_refresh, 5, 1e-9);
    config_free(cfg);
}
END_TEST

/* The reload digest: settings and file contents, not line numbers. */
START_TEST(digest_sees_settings_and_files)
{
    unsigned char d1[CONFIG_DIGEST_LEN], d2[CONFIG_DIGEST_LEN];
    struct config *cfg;
    char text[600], ca[512];

    /* write_file's path is a static buffer: keep a copy. */
    snprintf(ca, sizeof(ca), "%s", write_file("ca.pem", "one\n"));

    snprintf(text, sizeof(text), "[a]\nlisten = 6379\nupstream = "
             "c.example:6379\nca_file = %s\n", ca);
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(config_service_digest(cfg->services, d1), 0);
    config_free(cfg);

    snprintf(text, sizeof(text), "\n\n[a]\nupstream = c.example:6379\n"
             "listen = 6379\nca_file = %s\n", ca);
    cfg = load_text(text);          /* same settings, other lines */
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(config_service_digest(cfg->services, d2), 0);
    ck_assert_mem_eq(d1, d2, sizeof(d1));
    write_file("ca.pem", "two\n");  /* same path, new bytes */
    ck_assert_int_eq(config_service_digest(cfg->services, d2), 0);
    ck_assert(memcmp(d1, d2, sizeof(d1)) != 0);
    config_free(cfg);

    snprintf(text, sizeof(text), "[a]\nlisten = 6379\nupstream = "
             "c.example:6379\nca_file = %s\nrole = primary\n", ca);
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(config_service_digest(cfg->services, d1), 0);
    ck_assert(memcmp(d1, d2, sizeof(d1)) != 0);
    config_free(cfg);
}
END_TEST

START_TEST(detach_moves_a_section)
{
    struct config *a = load_text("[x]\nlisten = 1\nupstream = h.example:1\n"
                                 "[y]\nlisten = 2\nupstream = h.example:2\n");
    struct config *b;
    struct service_config *y, *y2;

    ck_assert_msg(a != NULL, "%s", err);
    b = load_text("[y]\nlisten = 2\nupstream = h.example:2\n");
    ck_assert_msg(b != NULL, "%s", err);
    y = a->services->next;
    y2 = b->services;
    config_detach_service(a, y, NULL);
    ck_assert_int_eq(a->nservices, 1);
    ck_assert_ptr_null(a->services->next);
    config_detach_service(b, y2, y);    /* y takes y2's place in b */
    ck_assert_ptr_eq(b->services, y);
    ck_assert_int_eq(b->nservices, 1);
    config_service_free(y2);
    config_free(a);
    config_free(b);                     /* frees y */
}
END_TEST

START_TEST(every_key_parses)
{
    char text[2048];
    struct config *cfg;
    struct service_config *sc;
    const char *pw = write_file("pw", "s3cret\n");

    setenv("REDSLEEVE_UNIT_PW", "envpw", 1);
    snprintf(text, sizeof(text),
             "[global]\n"
             "log_level = debug\n"
             "resolv_conf = /tmp/resolv.test\n"
             "[a]\n"
             "listen = 127.0.0.2:7000\n"
             "upstream = redis.example.com:6380\n"
             "verify_host = other.example.com\n"
             "sni = sni.example.com\n"
             "verify = full\n"
             "ca_file = /tmp/ca.crt\n"
             "ca_path = /etc/ssl/certs\n"
             "cert_file = /tmp/c.crt\n"
             "key_file = /tmp/c.key\n"
             "tls_min_version = 1.3\n"
             "ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n"
             "ciphersuites = TLS_AES_128_GCM_SHA256\n"
             "auth_user = app\n"
             "auth_password_file = %s\n"
             "connect_timeout = 500ms\n"
             "handshake_timeout = 2m\n"
             "client_idle_timeout = 5\n"
             "max_clients = 77\n"
             "buffer_limit = 64k\n"
             "[b]\n"
             "listen = unix:/tmp/b.sock\n"
             "upstream = [::1]:6381\n"
             "verify = none\n"
             "insecure = yes\n"
             "auth_password_env = REDSLEEVE_UNIT_PW\n"
             "buffer_limit = 1m\n",
             pw);
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->log_level, LOG_LEVEL_DEBUG);
    ck_assert_str_eq(cfg->resolv_conf, "/tmp/resolv.test");
    ck_assert_int_eq(cfg->nservices, 2);
    sc = cfg->services;
    ck_assert_str_eq(sc->name, "a");
    ck_assert_str_eq(sc->listen_host, "127.0.0.2");
    ck_assert_int_eq(sc->listen_port, 7000);
    ck_assert_ptr_null(sc->listen_unix);
    ck_assert_str_eq(sc->upstream_host, "redis.example.com");
    ck_assert_int_eq(sc->upstream_port, 6380);
    ck_assert(!sc->upstream_is_ip);
    ck_assert_str_eq(sc->verify_host, "other.example.com");
    ck_assert(!sc->verify_host_is_ip);
    ck_assert_str_eq(sc->sni, "sni.example.com");
    ck_assert_int_eq(sc->verify, VERIFY_FULL);
    ck_assert_str_eq(sc->ca_file, "/tmp/ca.crt");
    ck_assert_str_eq(sc->ca_path, "/etc/ssl/certs");
    ck_assert_str_eq(sc->cert_file, "/tmp/c.crt");
    ck_assert_str_eq(sc->key_file, "/tmp/c.key");
    ck_assert_int_eq(sc->tls_min_version, TLS1_3_VERSION);
    ck_assert_str_eq(sc->ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
    ck_assert_str_eq(sc->ciphersuites, "TLS_AES_128_GCM_SHA256");
    ck_assert_str_eq(sc->auth_user, "app");
    ck_assert_str_eq(sc->auth_password, "s3cret");
    ck_assert_double_eq_tol(sc->connect_timeout, 0.5, 1e-9);
    ck_assert_double_eq_tol(sc->handshake_timeout, 120, 1e-9);
    ck_assert_double_eq_tol(sc->client_idle_timeout, 5, 1e-9);
    ck_assert_int_eq(sc->max_clients, 77);
    ck_assert_uint_eq(sc->buffer_limit, 65536);
    ck_assert_int_eq(sc->key_line[SK_BUFFER_LIMIT], 23);
    ck_assert_int_eq(sc->section_line, 4);

    sc = sc->next;
    ck_assert_str_eq(sc->name, "b");
    ck_assert_str_eq(sc->listen_unix, "/tmp/b.sock");
    ck_assert_str_eq(sc->upstream_host, "::1");
    ck_assert(sc->upstream_is_ip);
    ck_assert_str_eq(sc->verify_host, "::1");
    ck_assert(sc->verify_host_is_ip);
    ck_assert_ptr_null(sc->sni);
    ck_assert_int_eq(sc->verify, VERIFY_NONE);
    ck_assert(sc->insecure);
    ck_assert_str_eq(sc->auth_password, "envpw");
    ck_assert_uint_eq(sc->buffer_limit, 1024 * 1024);
    config_free(cfg);
}
END_TEST

START_TEST(defaults_apply)
{
    struct config *cfg = load_text("[p]\nlisten = 6379\n"
                                   "upstream = cache.example.com:6379\n");
    struct service_config *sc;

    ck_assert_msg(cfg != NULL, "%s", err);
    sc = cfg->services;
    ck_assert_int_eq(cfg->log_level, LOG_LEVEL_INFO);
    ck_assert_int_eq(cfg->workers, 1);
    ck_assert_double_eq_tol(cfg->busy_poll, 0, 1e-12);     /* off */
    ck_assert_str_eq(cfg->resolv_conf, "/etc/resolv.conf");
    ck_assert_str_eq(sc->listen_host, "127.0.0.1");
    ck_assert_int_eq(sc->listen_port, 6379);
    ck_assert_str_eq(sc->verify_host, "cache.example.com");
    ck_assert_str_eq(sc->sni, "cache.example.com");
    ck_assert_int_eq(sc->verify, VERIFY_FULL);
    ck_assert(!sc->insecure);
    ck_assert_ptr_null(sc->ca_file);
    ck_assert_ptr_null(sc->ca_path);
    ck_assert_ptr_null(sc->auth_password);
    ck_assert_int_eq(sc->tls_min_version, TLS1_2_VERSION);
    ck_assert_double_eq_tol(sc->connect_timeout, 5, 1e-9);
    ck_assert_double_eq_tol(sc->handshake_timeout, 5, 1e-9);
    ck_assert_double_eq_tol(sc->client_idle_timeout, 0, 1e-9);
    ck_assert_int_eq(sc->max_clients, 1024);
    ck_assert_uint_eq(sc->buffer_limit, 256 * 1024);
    config_free(cfg);
}
END_TEST

START_TEST(indented_keys_and_inline_comments)
{
    char path[512];
    struct config *cfg;

    snprintf(path, sizeof(path), "%s/good-stunnel-indent.ini", data_dir());
    cfg = config_load(path, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->services->listen, "127.0.0.1:6379");
    ck_assert_int_eq(cfg->services->verify, VERIFY_CHAIN);
    config_free(cfg);
}
END_TEST

START_TEST(password_file_forms)
{
    static const char *const good[] = {"pw\n", "pw", "pw\r\n"};
    static const char *const bad[] = {"", "\n", "a\nb\n", "a\rb"};
    char text[512];
    struct config *cfg;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *p = write_file("pw", good[i]);

        snprintf(text, sizeof(text), "[s]\nlisten = 1\nupstream = h:1\n"
                 "auth_password_file = %s\n", p);
        cfg = load_text(text);
        ck_assert_msg(cfg != NULL, "form %zu: %s", i, err);
        ck_assert_str_eq(cfg->services->auth_password, "pw");
        config_free(cfg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *p = write_file("pw", bad[i]);

        snprintf(text, sizeof(text), "[s]\nlisten = 1\nupstream = h:1\n"
                 "auth_password_file = %s\n", p);
        cfg = load_text(text);
        ck_assert_msg(cfg == NULL, "bad form %zu accepted", i);
        ck_assert_ptr_nonnull(strstr(err, ":4: auth_password_file: "));
    }
}
END_TEST

START_TEST(environment_expanded)
{
    char text[512];
    struct config *cfg;

    write_file("pw", "credpw\n");
    setenv("REDSLEEVE_UNIT_PW", dir, 1);
    snprintf(text, sizeof(text), "[s]\nlisten = 1\nupstream = h:1\n"
             "auth_password_file = ${REDSLEEVE_UNIT_PW}/pw\n");
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->services->auth_password, "credpw");
    config_free(cfg);

    unsetenv("REDSLEEVE_UNIT_PW");
    cfg = load_text(text);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, ":4: auth_password_file: "
                                 "${REDSLEEVE_UNIT_PW} is not set"));
    cfg = load_text("[s]\nlisten = 1\nupstream = h:1\nca_file = ${OOPS\n");
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, ":4: ca_file: \"${\" without"));
}
END_TEST

START_TEST(free_null)
{
    config_free(NULL);
}
END_TEST

START_TEST(missing_file)
{
    ck_assert_ptr_null(config_load("/nonexistent/x.ini", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.ini: cannot open"));
}
END_TEST

/* ------------------------------------------------------------ bad files */

static const struct {
    const char *file;       /* in tests/unit/data */
    const char *want;       /* the first error line starts with this */
} bad_files[] = {
    {"unknown-key.ini", "unknown-key.ini:4: verifi: unknown key"},
    {"unknown-global.ini", "unknown-global.ini:2: log_levle: unknown key"},
    {"twice.ini", "twice.ini:5: verify: set twice in [s] (first on line 4)"},
    {"section-twice.ini", "section-twice.ini:4: [s]: section appears twice"},
    {"outside.ini", "outside.ini:1: listen: key outside of any [section]"},
    {"empty-value.ini", "empty-value.ini:4: sni: empty value"},
    {"no-listen.ini", "no-listen.ini:1: listen: required"},
    {"no-upstream.ini", "no-upstream.ini:1: upstream: required"},
    {"bad-listen.ini", "bad-listen.ini:2: listen: \"127.0.0.1:abc\""},
    {"listen-name.ini", "listen-name.ini:2: listen: \"example.com:6379\""},
    {"upstream-noport.ini", "upstream-noport.ini:3: upstream:"},
    {"upstream-port0.ini", "upstream-port0.ini:3: upstream:"},
    {"upstream-bigport.ini", "upstream-bigport.ini:3: upstream:"},
    {"upstream-v6bare.ini", "upstream-v6bare.ini:3: upstream:"},
    {"sni-ip.ini", "sni-ip.ini:4: sni: \"10.0.0.1\" is an IP address"},
    {"verify-none.ini", "verify-none.ini:4: verify: \"none\""},
    {"verify-bogus.ini", "verify-bogus.ini:4: verify: expected full, chain"},
    {"verifyhost-chain.ini", "verifyhost-chain.ini:5: verify_host:"},
    {"cert-nokey.ini", "cert-nokey.ini:4: cert_file: cert_file and key_file"},
    {"key-nocert.ini", "key-nocert.ini:4: key_file: cert_file and key_file"},
    {"both-pw.ini", "both-pw.ini:5: auth_password_file: set only one"},
    {"user-nopw.ini", "user-nopw.ini:4: auth_user: needs"},
    {"pwfile-missing.ini", "pwfile-missing.ini:4: auth_password_file: "
                           "cannot open /nonexistent/redsleeve.pw"},
    {"env-unset.ini", "env-unset.ini:4: auth_password_env: environment "
                      "variable REDSLEEVE_UNIT_UNSET is not set"},
    {"tls11.ini", "tls11.ini:4: tls_min_version: expected 1.2 or 1.3"},
    {"dur-abc.ini", "dur-abc.ini:4: connect_timeout: expected a duration"},
    {"dur-neg.ini", "dur-neg.ini:4: handshake_timeout: expected a duration"},
    {"dur-zero.ini", "dur-zero.ini:4: connect_timeout: 0 is out of range"},
    {"maxcl-zero.ini", "maxcl-zero.ini:4: max_clients: expected a whole"},
    {"buf-bad.ini", "buf-bad.ini:4: buffer_limit: expected a size"},
    {"buf-small.ini", "buf-small.ini:4: buffer_limit: expected a size"},
    {"syntax.ini", "syntax.ini:4: syntax error"},
    {"no-service.ini", "no-service.ini:2: no service defined"},
    {"dup-listen.ini", "dup-listen.ini:5: listen: 127.0.0.1:6379 is already "
                       "used by [s]"},
    {"loglevel-bogus.ini", "loglevel-bogus.ini:2: log_level: expected"},
    {"insecure-bogus.ini", "insecure-bogus.ini:4: insecure: expected yes"},
    {"global-service.ini", "global-service.ini:5: listen: unknown key in "
                           "[global]"},
    {"long-line.ini", "long-line.ini:4: line is longer than"},
    {"role-bogus.ini", "role-bogus.ini:4: role: expected primary, replica "
                       "or any, got \"leader\""},
    {"allowroot-bogus.ini", "allowroot-bogus.ini:2: allow_root: expected "
                            "yes or no"},
    {"dnsrefresh-bogus.ini", "dnsrefresh-bogus.ini:4: dns_refresh: "
                             "expected a duration"},
    {"workers-bogus.ini", "workers-bogus.ini:2: workers: expected auto or a "
                          "whole number from 1 to 64"},
    {"busypoll-bogus.ini", "busypoll-bogus.ini:2: busy_poll: expected a "
                           "duration from 0 (off) to 10ms, got \"20ms\""},
};

START_TEST(bad_file_is_named)
{
    char path[512];
    struct config *cfg;
    const char *at;

    unsetenv("REDSLEEVE_UNIT_UNSET");
    snprintf(path, sizeof(path), "%s/%s", data_dir(), bad_files[_i].file);
    cfg = config_load(path, err, sizeof(err));
    ck_assert_msg(cfg == NULL, "%s was accepted", bad_files[_i].file);
    at = strstr(err, bad_files[_i].file);
    ck_assert_msg(at != NULL, "%s: no file name in: %s", bad_files[_i].file,
                  err);
    ck_assert_msg(strncmp(at, bad_files[_i].want,
                          strlen(bad_files[_i].want)) == 0,
                  "want \"%s\", got \"%s\"", bad_files[_i].want, err);
}
END_TEST

START_TEST(every_error_reported)
{
    char path[512];
    int lines = 0;

    snprintf(path, sizeof(path), "%s/multi.ini", data_dir());
    ck_assert_ptr_null(config_load(path, err, sizeof(err)));
    for (const char *p = err; *p; p++) {
        lines += *p == '\n';
    }
    /* bogus (unknown key) and verify (bad value) while parsing: the
     * parse errors stop validation, so listen is not reported twice. */
    ck_assert_int_eq(lines, 2);
    ck_assert_ptr_nonnull(strstr(err, "multi.ini:4: verify:"));
    ck_assert_ptr_nonnull(strstr(err, "multi.ini:5: bogus:"));
}
END_TEST

/* ------------------------------------------------------------ helpers */

START_TEST(durations)
{
    double d;

    ck_assert_int_eq(config_parse_duration("5", &d), 0);
    ck_assert_double_eq_tol(d, 5, 1e-9);
    ck_assert_int_eq(config_parse_duration("2.5", &d), 0);
    ck_assert_double_eq_tol(d, 2.5, 1e-9);
    ck_assert_int_eq(config_parse_duration("500ms", &d), 0);
    ck_assert_double_eq_tol(d, 0.5, 1e-9);
    ck_assert_int_eq(config_parse_duration("5s", &d), 0);
    ck_assert_double_eq_tol(d, 5, 1e-9);
    ck_assert_int_eq(config_parse_duration("2m", &d), 0);
    ck_assert_double_eq_tol(d, 120, 1e-9);
    ck_assert_int_eq(config_parse_duration("100us", &d), 0);
    ck_assert_double_eq_tol(d, 100e-6, 1e-12);
    ck_assert_int_eq(config_parse_duration("1h", &d), 0);
    ck_assert_double_eq_tol(d, 3600, 1e-9);
    ck_assert_int_eq(config_parse_duration("0", &d), 0);
    ck_assert_int_eq(config_parse_duration("", &d), -1);
    ck_assert_int_eq(config_parse_duration("abc", &d), -1);
    ck_assert_int_eq(config_parse_duration("-1", &d), -1);
    ck_assert_int_eq(config_parse_duration("5 s", &d), -1);
    ck_assert_int_eq(config_parse_duration("5d", &d), -1);
    ck_assert_int_eq(config_parse_duration("nan", &d), -1);
    ck_assert_int_eq(config_parse_duration("inf", &d), -1);
}
END_TEST

START_TEST(sizes)
{
    size_t z;

    ck_assert_int_eq(config_parse_size("65536", &z), 0);
    ck_assert_uint_eq(z, 65536);
    ck_assert_int_eq(config_parse_size("64k", &z), 0);
    ck_assert_uint_eq(z, 65536);
    ck_assert_int_eq(config_parse_size("16M", &z), 0);
    ck_assert_uint_eq(z, 16u << 20);
    ck_assert_int_eq(config_parse_size("1g", &z), 0);
    ck_assert_uint_eq(z, 1u << 30);
    ck_assert_int_eq(config_parse_size("64kb", &z), 0);
    ck_assert_uint_eq(z, 65536);
    ck_assert_int_eq(config_parse_size("", &z), -1);
    ck_assert_int_eq(config_parse_size("k", &z), -1);
    ck_assert_int_eq(config_parse_size("-1", &z), -1);
    ck_assert_int_eq(config_parse_size("12x", &z), -1);
    ck_assert_int_eq(config_parse_size("99999999999999999999", &z), -1);
    ck_assert_int_eq(config_parse_size("18014398509481984g", &z), -1);
}
END_TEST

START_TEST(hostports)
{
    char host[64];
    int port;

    ck_assert_int_eq(config_split_hostport("a.b:1", host, sizeof(host),
                                           &port), 0);
    ck_assert_str_eq(host, "a.b");
    ck_assert_int_eq(port, 1);
    ck_assert_int_eq(config_split_hostport("[::1]:6380", host, sizeof(host),
                                           &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 6380);
    ck_assert_int_eq(config_split_hostport("6379", host, sizeof(host),
                                           &port), 0);
    ck_assert_str_eq(host, "");
    ck_assert_int_eq(port, 6379);
    ck_assert_int_eq(config_split_hostport("h:0", host, sizeof(host), &port),
                     0);
    ck_assert_int_eq(config_split_hostport("h:65535", host, sizeof(host),
                                           &port), 0);
    ck_assert_int_eq(config_split_hostport("h:65536", host, sizeof(host),
                                           &port), -1);
    ck_assert_int_eq(config_split_hostport("h:", host, sizeof(host), &port),
                     -1);
    ck_assert_int_eq(config_split_hostport("h:-1", host, sizeof(host),
                                           &port), -1);
    ck_assert_int_eq(config_split_hostport("::1:6380", host, sizeof(host),
                                           &port), -1);
    ck_assert_int_eq(config_split_hostport("[a.b]:1", host, sizeof(host),
                                           &port), -1);
    ck_assert_int_eq(config_split_hostport("[::1]6380", host, sizeof(host),
                                           &port), -1);
    ck_assert_int_eq(config_split_hostport("averyveryverylonghostname:1",
                                           host, 8, &port), -1);
}
END_TEST

START_TEST(ip_literals)
{
    ck_assert(config_is_ip_literal("127.0.0.1"));
    ck_assert(config_is_ip_literal("::1"));
    ck_assert(config_is_ip_literal("fe80::1"));
    ck_assert(!config_is_ip_literal("redis.test"));
    ck_assert(!config_is_ip_literal("1.2.3"));
    ck_assert(!config_is_ip_literal("256.1.1.1"));
    ck_assert(!config_is_ip_literal(""));
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *good = tcase_create("good");
    TCase *bad = tcase_create("bad");
    TCase *helpers = tcase_create("helpers");

    tcase_add_checked_fixture(good, setup, teardown);
    tcase_add_test(good, every_key_parses);
    tcase_add_test(good, role_and_dns_refresh);
    tcase_add_test(good, digest_sees_settings_and_files);
    tcase_add_test(good, detach_moves_a_section);
    tcase_add_test(good, defaults_apply);
    tcase_add_test(good, indented_keys_and_inline_comments);
    tcase_add_test(good, password_file_forms);
    tcase_add_test(good, environment_expanded);
    tcase_add_test(good, free_null);
    tcase_add_test(good, missing_file);
    tcase_add_loop_test(bad, bad_file_is_named, 0,
                        (int)(sizeof(bad_files) / sizeof(bad_files[0])));
    tcase_add_test(bad, every_error_reported);
    tcase_add_test(helpers, durations);
    tcase_add_test(helpers, sizes);
    tcase_add_test(helpers, hostports);
    tcase_add_test(helpers, ip_literals);
    suite_add_tcase(s, good);
    suite_add_tcase(s, bad);
    suite_add_tcase(s, helpers);
    return s;
}

int
main(void)
{
    return unit_run(config_suite());
}
