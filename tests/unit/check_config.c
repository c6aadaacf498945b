/*
 * check_config: config.c against good files (every key, every default)
 * and bad files (every error path names FILE:LINE: key); the key table
 * against the sections, the restart-only check, references and the man
 * page.
 */
#include <check.h>
#include <openssl/tls1.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    ck_assert_int_eq(chmod(path, 0600), 0);  /* secrets: owner only */
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

/* role = master and role = slave: redis's own words (what ROLE answers)
 * for primary and replica, accepted as aliases. */
START_TEST(role_master_slave_aliases)
{
    struct config *cfg = load_text(
        "[a]\nlisten = 6379\nupstream = c.example:6379\nrole = master\n"
        "[b]\nlisten = 6380\nupstream = c.example:6379\nrole = slave\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->services->role, ROLE_PRIMARY);
    ck_assert_int_eq(cfg->services->next->role, ROLE_REPLICA);
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

/* stunnel's service defaults: keys before the first section apply to
 * every section that does not set them; a section's own key wins; the
 * note about a default is made once. */
START_TEST(stunnel_service_defaults)
{
    struct config *cfg = load_text(
        "setuid = root\n"
        "client = yes\n"
        "CAfile = /etc/ssl/ca.pem\n"
        "TIMEOUTconnect = 7\n"
        "delay = yes\n"
        "[a]\naccept = 6379\nconnect = a.example:6379\n"
        "[b]\naccept = 6380\nconnect = b.example:6379\n"
        "TIMEOUTconnect = 2\nCAfile = /etc/ssl/b.pem\n");
    const char *n;

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->user, "root");
    ck_assert_str_eq(cfg->services->ca_file, "/etc/ssl/ca.pem");
    ck_assert_double_eq_tol(cfg->services->connect_timeout, 7, 1e-9);
    ck_assert_int_eq(cfg->services->key_line[SK_CA_FILE], 3);
    ck_assert_str_eq(cfg->services->next->ca_file, "/etc/ssl/b.pem");
    ck_assert_double_eq_tol(cfg->services->next->connect_timeout, 2, 1e-9);
    ck_assert_int_eq(cfg->services->next->key_line[SK_CA_FILE], 13);
    n = strstr(cfg->notes, "t.ini:3: [every section] CAfile -> ca_file = "
               "/etc/ssl/ca.pem\n");
    ck_assert_msg(n != NULL, "%s", cfg->notes);
    ck_assert_ptr_null(strstr(n + 1, "t.ini:3: [every section] CAfile"));
    ck_assert_ptr_nonnull(strstr(cfg->notes, "t.ini:5: [every section] "
                                 "delay = yes: stunnel option with no "
                                 "meaning here, ignored"));
    config_free(cfg);
}
END_TEST

/* verify = 0..2, sslVersion*, and the keys that are only noted. */
START_TEST(stunnel_verify_levels_and_versions)
{
    struct config *cfg = load_text(
        "[zero]\naccept = 6379\nconnect = z.example:6379\nverify = 0\n"
        "sslVersion = TLSv1.3\n"
        "[one]\naccept = 6380\nconnect = o.example:6379\nverify = 1\n"
        "sslVersionMin = all\nsslVersionMax = TLSv1.2\n"
        "[chain]\naccept = 6381\nconnect = 10.0.0.1:6379\nverify = 2\n"
        "CAfile = /etc/ssl/ca.pem\n"
        "[host]\naccept = 6382\nconnect = 10.0.0.2:6379\nverify = 2\n"
        "CAfile = /etc/ssl/ca.pem\ncheckHost = redis.example\n"
        "[system]\naccept = 6383\nconnect = s.example:6379\nverify = 2\n"
        "TIMEOUTclose = 0\nsocket = r:SO_KEEPALIVE=1\noptions = NO_SSLv3\n"
        "delay = yes\nsessionCacheSize = 1000\nsessionCacheTimeout = 300\n"
        "renegotiation = no\ncurves = prime256v1\nTIMEOUTidle = 60\n"
        "[ip]\naccept = 6384\nconnect = 10.0.0.3:6379\n"
        "checkIP = 10.0.0.3\n");
    const struct service_config *sc;

    ck_assert_msg(cfg != NULL, "%s", err);
    sc = cfg->services;
    ck_assert_int_eq(sc->verify, VERIFY_FULL);
    ck_assert_int_eq(sc->tls_min_version, TLS1_3_VERSION);
    sc = sc->next;
    ck_assert_int_eq(sc->verify, VERIFY_FULL);
    ck_assert_int_eq(sc->tls_min_version, TLS1_2_VERSION);
    sc = sc->next;
    ck_assert_int_eq(sc->verify, VERIFY_CHAIN);
    sc = sc->next;
    ck_assert_int_eq(sc->verify, VERIFY_FULL);
    ck_assert_str_eq(sc->verify_host, "redis.example");
    sc = sc->next;
    ck_assert_int_eq(sc->verify, VERIFY_FULL);
    ck_assert_double_eq_tol(sc->client_idle_timeout, 60, 1e-9);
    sc = sc->next;
    ck_assert_str_eq(sc->verify_host, "10.0.0.3");
    ck_assert(sc->verify_host_is_ip);
    ck_assert_ptr_nonnull(strstr(cfg->notes, "t.ini:4: verify = 0: "
                                 "verification stays on"));
    ck_assert_ptr_nonnull(strstr(cfg->notes, "t.ini:11: sslVersionMax = "
                                 "TLSv1.2: ignored"));
    ck_assert_ptr_nonnull(strstr(cfg->notes, "t.ini:20: [host] verify = 2 "
                                 "-> verify = full (checkHost"));
    ck_assert_ptr_nonnull(strstr(cfg->notes, "t.ini:26: [system] verify = "
                                 "2 -> verify = full (no CAfile or CApath"));
    config_free(cfg);
}
END_TEST

/* include = DIR: its files in alphabetical order, subdirectories not
 * read; an error in an included file names that file and its line. */
START_TEST(stunnel_include_dir)
{
    char text[600], sub[600];
    struct config *cfg;

    snprintf(sub, sizeof(sub), "%s/conf.d", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file("conf.d/20-b.conf", "[b]\naccept = 6380\n"
               "connect = b.example:6379\n");
    write_file("conf.d/10-a.conf", "sslVersionMin = TLSv1.3\n");
    snprintf(sub, sizeof(sub), "%s/conf.d/30-sub", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file("conf.d/30-sub/x.conf", "bogus = 1\n");
    snprintf(text, sizeof(text), "client = yes\n[a]\naccept = 6379\n"
             "connect = a.example:6379\ninclude = %s/conf.d\n"
             "[c]\naccept = 6381\nconnect = c.example:6379\n", dir);
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->nservices, 3);
    ck_assert_int_eq(cfg->services->tls_min_version, TLS1_3_VERSION);
    ck_assert_str_eq(cfg->services->next->name, "b");
    ck_assert_str_eq(cfg->services->next->next->name, "c");
    ck_assert_ptr_nonnull(strstr(cfg->notes, "30-sub is a directory, not "
                                 "read"));
    ck_assert_ptr_nonnull(strstr(cfg->notes, "conf.d/20-b.conf:2: [b] "
                                 "accept -> listen = 6380"));
    ck_assert_ptr_nonnull(strstr(cfg->notes, "t.ini:7: [c] accept"));
    config_free(cfg);

    write_file("conf.d/25-bad.conf", "[d]\naccept = 6382\n"
               "connect = d.example:6379\nverifi = full\n");
    cfg = load_text(text);
    ck_assert_ptr_null(cfg);
    snprintf(sub, sizeof(sub), "%s/conf.d/25-bad.conf:4: verifi: unknown "
             "key in [d] (did you mean verify?)\n", dir);
    ck_assert_str_eq(err, sub);
}
END_TEST

/* include = DIR before the first section: the included files stand where
 * the line is, so their service keys are defaults for every section (and
 * their global keys global ones), named by their own file and line. */
START_TEST(stunnel_include_before_first_section)
{
    char text[600], want[700], sub[600];
    struct config *cfg;
    const struct service_config *a, *b;

    snprintf(sub, sizeof(sub), "%s/defaults.d", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file("defaults.d/10-global.conf", "debug = warning\n");
    write_file("defaults.d/20-service.conf", "client = yes\n"
               "CAfile = /etc/ssl/ca.pem\nTIMEOUTconnect = 7\n"
               "sslVersionMin = TLSv1.3\n");
    snprintf(text, sizeof(text), "include = %s/defaults.d\n"
             "[a]\naccept = 6379\nconnect = a.example:6379\n"
             "[b]\naccept = 6380\nconnect = b.example:6379\n"
             "TIMEOUTconnect = 2\n", dir);
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->nservices, 2);
    ck_assert_int_eq(cfg->log_level, LOG_LEVEL_WARN);
    a = cfg->services;
    b = a->next;
    ck_assert_str_eq(a->ca_file, "/etc/ssl/ca.pem");
    ck_assert_str_eq(b->ca_file, "/etc/ssl/ca.pem");
    ck_assert_int_eq(a->tls_min_version, TLS1_3_VERSION);
    ck_assert_int_eq(b->tls_min_version, TLS1_3_VERSION);
    ck_assert_double_eq_tol(a->connect_timeout, 7, 1e-9);
    ck_assert_double_eq_tol(b->connect_timeout, 2, 1e-9);  /* its own wins */
    snprintf(want, sizeof(want), "%s/defaults.d/20-service.conf:2: "
             "[every section] CAfile -> ca_file = /etc/ssl/ca.pem\n", dir);
    ck_assert_msg(strstr(cfg->notes, want) != NULL, "%s", cfg->notes);
    snprintf(want, sizeof(want), "%s/defaults.d/10-global.conf:1: debug = "
             "warning -> log_level = warn\n", dir);
    ck_assert_msg(strstr(cfg->notes, want) != NULL, "%s", cfg->notes);
    config_free(cfg);
}
END_TEST

/* output becomes log_file; syslog is noted, not refused. */
START_TEST(stunnel_output_and_syslog)
{
    struct config *cfg = load_text(
        "output = /var/log/redsleeve.log\nsyslog = no\n"
        "[s]\naccept = 6379\nconnect = s.example:6379\n");

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->log_file, "/var/log/redsleeve.log");
    ck_assert_msg(strstr(cfg->notes, "t.ini:1: output -> log_file = "
                         "/var/log/redsleeve.log\n") != NULL,
                  "%s", cfg->notes);
    ck_assert_msg(strstr(cfg->notes, "t.ini:2: syslog = no: stunnel option "
                         "with no meaning here, ignored (logs go to stderr "
                         "(journald) or log_file)\n") != NULL,
                  "%s", cfg->notes);
    config_free(cfg);
}
END_TEST

/* A password file ending in a blank: kept as it is (trimming would
 * change the secret), and warned about, naming the file. */
START_TEST(password_trailing_blank_warned)
{
    char text[600], want[900], out[2048];
    struct config *cfg;

    write_file("pw", "s3cret \n");
    snprintf(text, sizeof(text), "[s]\nlisten = 127.0.0.1:0\n"
             "upstream = r.example:6379\nauth_password_file = %s/pw\n", dir);
    cfg = load_text(text);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->services->auth_password, "s3cret ");
    ck_assert_int_eq(config_warnings(cfg, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "%s/t.ini:4: auth_password_file: warning: "
             "the password in %s/pw ends with a blank (space or tab); it is "
             "sent as it is, blank included\n", dir, dir);
    ck_assert_str_eq(out, want);
    config_free(cfg);
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
    {"upstream-v6bare.ini", "upstream-v6bare.ini:3: upstream:"},
    {"sni-ip.ini", "sni-ip.ini:4: sni: \"10.0.0.1\" is an IP address"},
    {"verify-none.ini", "verify-none.ini:4: verify: \"none\""},
    {"verify-bogus.ini", "verify-bogus.ini:4: verify: expected full, chain"},
    {"verifyhost-chain.ini", "verifyhost-chain.ini:5: verify_host:"},
    {"chain-system-store.ini", "chain-system-store.ini:4: verify: \"chain\" "
     "with the system trust store accepts any publicly trusted"},
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
                       "used by [s] as 127.0.0.1:6379 (also used at "},
    {"dup-bareport.ini", "dup-bareport.ini:6: listen: 127.0.0.1:16385 is "
                         "already used by [a] as 16385 (also used at "},
    {"dup-localhost.ini", "dup-localhost.ini:6: listen: 127.0.0.1:16385 is "
                          "already used by [a] as localhost:16385"},
    {"dup-wildcard.ini", "dup-wildcard.ini:6: listen: 0.0.0.0:16385 is "
                         "already used by [a] as 127.0.0.1:16385"},
    {"dup-v6any.ini", "dup-v6any.ini:6: listen: [0::0]:16385 is already "
                      "used by [a] as [::]:16385"},
    {"dup-v6covers4.ini", "dup-v6covers4.ini:6: listen: 127.0.0.1:16385 is "
                          "already used by [a] as [::]:16385"},
    {"dup-unix.ini", "dup-unix.ini:6: listen: unix:/tmp/x.sock is already "
                     "used by [a]"},
    {"admin-on-listen.ini", "admin-on-listen.ini:2: admin_listen: "
                            "127.0.0.1:16385 is already used by [a] as "
                            "16385 (also used at "},
    {"listenmode-bogus.ini", "listenmode-bogus.ini:4: listen_mode: expected "
                             "an octal mode such as 0660, got \"0999\""},
    {"listenmode-tcp.ini", "listenmode-tcp.ini:4: listen_mode: only for a "
                           "unix socket"},
    {"listenowner-nouser.ini", "listenowner-nouser.ini:4: listen_owner: "
                               "user no-such-user-rs does not exist"},
    {"coredumps-bogus.ini", "coredumps-bogus.ini:2: allow_core_dumps: "
                            "expected yes or no"},
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
    {"didyoumean-key.ini", "didyoumean-key.ini:4: upstrem: unknown key in "
                           "[s] (did you mean upstream?)"},
    {"didyoumean-global.ini", "didyoumean-global.ini:2: log_levle: unknown "
                              "key in [global] (did you mean log_level?)"},
    {"didyoumean-section.ini", "didyoumean-section.ini:2: log_level: "
                               "unknown key in [gloabl] (did you mean "
                               "[global]?)"},
    {"global-outside.ini", "global-outside.ini:1: log_level: key outside of "
                           "any [section] (a [global] key: put it under "
                           "[global])"},
    {"listen-bigport.ini", "listen-bigport.ini:2: listen: "
                           "\"127.0.0.1:70000\": port out of range (0 to "
                           "65535)"},
    {"upstream-bigport.ini", "upstream-bigport.ini:3: upstream: "
                             "\"redis.test:70000\": port out of range (1 "
                             "to 65535)"},
    {"pwfile-dir.ini", "pwfile-dir.ini:4: auth_password_file: /tmp is a "
                       "directory (name the file that holds the password)"},
    {"stunnel-verify3.ini", "stunnel-verify3.ini:5: verify: level 3 pins "
                            "the peer's certificate"},
    {"stunnel-default-bad.ini", "stunnel-default-bad.ini:1: verify: level "
                                "4 pins the peer's certificate"},
    {"stunnel-tls11.ini", "stunnel-tls11.ini:4: sslVersion: TLSv1.1 is "
                          "older than TLS 1.2"},
    {"stunnel-refused.ini", "stunnel-refused.ini:4: OCSP: stunnel option "
                            "redsleeve does not support"},
    {"credentials-unset.ini", "credentials-unset.ini:4: ca_file: "
                              "${CREDENTIALS_DIRECTORY} is not set in the "
                              "environment (systemd sets it for "
                              "LoadCredential=; to check the file outside "
                              "systemd, set it"},
    {"include-missing.ini", "include-missing.ini:4: include: cannot read "
                            "the directory /nonexistent/redsleeve.d"},
};

/* Exact "FILE:LINE: key: message" for the dup-bareport pair. */
START_TEST(dup_names_both_lines)
{
    char path[512], want[1200];

    snprintf(path, sizeof(path), "%s/dup-bareport.ini", data_dir());
    ck_assert_ptr_null(config_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s:6: listen: 127.0.0.1:16385 is already "
             "used by [a] as 16385 (also used at %s:2)\n", path, path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* A password file open to group or others is refused, saying how to fix
 * it; one owned by someone else too. */
START_TEST(password_file_permissions)
{
    const char *p = write_file("pw", "s3cret\n");
    char text[1024];
    struct config *cfg;

    ck_assert_int_eq(chmod(p, 0640), 0);
    snprintf(text, sizeof(text), "[s]\nlisten = 127.0.0.1:0\n"
             "upstream = r.example:6379\nauth_password_file = %s/pw\n", dir);
    cfg = load_text(text);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, "t.ini:4: auth_password_file: ") != NULL &&
                  strstr(err, "open to group or others (mode 0640): run "
                         "chmod 600 ") != NULL, "got %s", err);
    snprintf(text, sizeof(text), "%s/pw", dir);
    ck_assert_int_eq(chmod(text, 0600), 0);
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(text, 65534, 65534), 0);
        snprintf(text, sizeof(text), "[s]\nlisten = 127.0.0.1:0\n"
                 "upstream = r.example:6379\nauth_password_file = %s/pw\n",
                 dir);
        ck_assert_ptr_null(load_text(text));
        ck_assert_msg(strstr(err, "is owned by uid 65534, neither root nor "
                             "the user reading it (uid 0): run chown 0 ")
                      != NULL, "got %s", err);
    }
}
END_TEST

/* auth_password_env is taken out of the environment once read, and the
 * next load of the same config still finds the password. */
START_TEST(password_env_removed)
{
    static const char text[] = "[s]\nlisten = 127.0.0.1:0\n"
                               "upstream = r.example:6379\n"
                               "auth_password_env = REDSLEEVE_UNIT_GONE\n";
    struct config *cfg;

    setenv("REDSLEEVE_UNIT_GONE", "gonepw", 1);
    cfg = load_text(text);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->services->auth_password, "gonepw");
    ck_assert_ptr_null(getenv("REDSLEEVE_UNIT_GONE"));
    config_free(cfg);
    cfg = load_text(text);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->services->auth_password, "gonepw");
    config_free(cfg);
}
END_TEST

/* A stunnel note for a config with a very long path (once a stack
 * overflow in note(), seen by ASan). */
START_TEST(note_long_path)
{
    static const char text[] = "foreground = yes\n[s]\n"
                               "listen = 127.0.0.1:0\n"
                               "upstream = r.example:6379\n";
    char name[3000];
    FILE *fp = fmemopen((void *)text, sizeof(text) - 1, "r");
    struct config *cfg;

    ck_assert_ptr_nonnull(fp);
    memset(name, 'p', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    cfg = config_load_stream(name, fp, err, sizeof(err));
    fclose(fp);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(cfg->notes);
    ck_assert_int_eq(strncmp(cfg->notes, name, sizeof(name) - 1), 0);
    ck_assert_ptr_nonnull(strstr(cfg->notes, ":1: foreground = yes"));
    config_free(cfg);
}
END_TEST

/* A stream (the fuzzer's way in) has no directory to include from. */
START_TEST(stream_refuses_include)
{
    static const char text[] = "[s]\nlisten = 127.0.0.1:0\n"
                               "upstream = r.example:6379\ninclude = /etc\n";
    FILE *fp = fmemopen((void *)text, sizeof(text) - 1, "r");

    ck_assert_ptr_nonnull(fp);
    ck_assert_ptr_null(config_load_stream("s.ini", fp, err, sizeof(err)));
    fclose(fp);
    ck_assert_str_eq(err, "s.ini:4: include: not read from a stream (only a "
                     "config file may include a directory)\n");
}
END_TEST

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

/* "did you mean": nearest within 2 edits (a swap is one), or a prefix. */
START_TEST(suggestions)
{
    static const char *const keys[] = {"upstream", "listen", "verify",
                                       "verify_host", "auth_password_file"};

    ck_assert_str_eq(config_suggest("upstrem", keys, 5), "upstream");
    ck_assert_str_eq(config_suggest("lsiten", keys, 5), "listen");
    ck_assert_str_eq(config_suggest("VERIFY_HOTS", keys, 5), "verify_host");
    ck_assert_str_eq(config_suggest("verif", keys, 5), "verify");
    ck_assert_str_eq(config_suggest("auth_password", keys, 5),
                     "auth_password_file");
    ck_assert_ptr_null(config_suggest("bogus", keys, 5));
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

/* ------------------------------------------------------------ the key table */

/* The flags and variables cli.c makes of the table are a public
 * interface: the names and their order (--help's) stay as they were. */
START_TEST(table_names_pinned)
{
    static const char *const want[] = {
        "log_level", "resolv_conf", "shutdown_timeout", "admin_listen",
        "user", "group", "pid_file", "log_file", "allow_root", "workers",
        "busy_poll", "allow_core_dumps",
        "listen", "upstream", "verify_host", "sni", "verify", "insecure",
        "ca_file", "ca_path", "cert_file", "key_file", "tls_min_version",
        "ciphers", "ciphersuites", "auth_user", "auth_password_file",
        "auth_password_env", "connect_timeout", "handshake_timeout",
        "client_idle_timeout", "max_clients", "buffer_limit",
        "pool_min_idle", "pool_max_idle", "link_max_lifetime",
        "link_idle_check", "drain_timeout", "role", "dns_refresh",
        "listen_mode", "listen_owner", "iam_user_id", "iam_cache_name",
        "iam_region", "iam_serverless", "aws_profile",
        "iam_reauth_interval", "mode", "cluster_ports", "cluster_refresh",
        "pool_mode",
    };

    ck_assert_int_eq(CONFIG_NKEYS, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < CONFIG_NKEYS; i++) {
        ck_assert_str_eq(config_keys[i].name, want[i]);
        ck_assert(config_keys[i].global == (i < CONFIG_NGLOBAL));
        ck_assert_int_eq(config_key_find(want[i], i < CONFIG_NGLOBAL), i);
        ck_assert_int_eq(config_key_find(want[i], i >= CONFIG_NGLOBAL), -1);
    }
    for (int k = 0; k < SK_COUNT; k++) {
        ck_assert_str_eq(config_key_name((enum service_key)k),
                         want[CONFIG_KEY_OF_SK(k)]);
    }
}
END_TEST

/* A value each key accepts, and the lines it needs beside it. */
static const struct {
    const char *key;
    const char *value;
    const char *extra;      /* more lines in the same section, or "" */
} samples[] = {
    {"log_level", "debug", ""},
    {"resolv_conf", "/tmp/resolv.test", ""},
    {"shutdown_timeout", "5s", ""},
    {"admin_listen", "127.0.0.1:19121", ""},
    {"user", "nobody", ""},
    {"group", "nogroup", ""},
    {"pid_file", "/tmp/rs.pid", ""},
    {"log_file", "/tmp/rs.log", ""},
    {"allow_root", "yes", ""},
    {"workers", "auto", ""},
    {"busy_poll", "50us", ""},
    {"allow_core_dumps", "yes", ""},
    {"listen", "127.0.0.1:7001", ""},
    {"upstream", "r.example:6390", ""},
    {"verify_host", "other.example", ""},
    {"sni", "sni.example", ""},
    {"verify", "chain", "ca_file = /tmp/ca.pem\n"},
    {"insecure", "yes", ""},
    {"ca_file", "/tmp/ca.pem", ""},
    {"ca_path", "/tmp", ""},
    {"cert_file", "/tmp/c.pem", "key_file = /tmp/k.pem\n"},
    {"key_file", "/tmp/k.pem", "cert_file = /tmp/c.pem\n"},
    {"tls_min_version", "TLSv1.3", ""},
    {"ciphers", "HIGH", ""},
    {"ciphersuites", "TLS_AES_128_GCM_SHA256", ""},
    {"auth_user", "app", "auth_password_env = REDSLEEVE_UNIT_PW\n"},
    {"auth_password_file", "@pw", ""},
    {"auth_password_env", "REDSLEEVE_UNIT_PW", ""},
    {"connect_timeout", "1s", ""},
    {"handshake_timeout", "1s", ""},
    {"client_idle_timeout", "1m", ""},
    {"max_clients", "10", ""},
    {"buffer_limit", "64k", ""},
    {"pool_min_idle", "1", ""},
    {"pool_max_idle", "3", ""},
    {"link_max_lifetime", "2h", ""},
    {"link_idle_check", "0", ""},
    {"drain_timeout", "1s", ""},
    {"role", "replica", ""},
    {"dns_refresh", "1m", ""},
    {"listen_mode", "0660", ""},
    {"listen_owner", "@me", ""},
    {"iam_user_id", "app", "iam_cache_name = c\niam_region = eu-west-1\n"},
    {"iam_cache_name", "c", "iam_user_id = app\niam_region = eu-west-1\n"},
    {"iam_region", "eu-west-1", "iam_user_id = app\niam_cache_name = c\n"},
    {"iam_serverless", "yes", "iam_user_id = app\niam_cache_name = c\n"
                              "iam_region = eu-west-1\n"},
    {"aws_profile", "unit", "iam_user_id = app\niam_cache_name = c\n"
                            "iam_region = eu-west-1\n"},
    {"iam_reauth_interval", "6h", "iam_user_id = app\niam_cache_name = c\n"
                                  "iam_region = eu-west-1\n"},
    {"mode", "cluster", "cluster_ports = 7001-7099\n"},
    {"cluster_ports", "7001-7099", "mode = cluster\n"},
    {"cluster_refresh", "10s", "mode = cluster\ncluster_ports = 7001-7099\n"},
    {"pool_mode", "shared", ""},
};

#define NSAMPLES ((int)(sizeof(samples) / sizeof(samples[0])))

/* Every key of the table is parsed in its own section (and set on the
 * line it was written on), and refused in the other one. */
START_TEST(every_table_key_parses_in_its_section)
{
    char pw[512], me[64], text[2048];

    snprintf(pw, sizeof(pw), "%s", write_file("pw", "s3cret\n"));
    ck_assert_ptr_nonnull(getpwuid(getuid()));
    snprintf(me, sizeof(me), "%s", getpwuid(getuid())->pw_name);
    ck_assert_int_eq(NSAMPLES, CONFIG_NKEYS);
    for (int i = 0; i < CONFIG_NKEYS; i++) {
        const struct config_key *kd = &config_keys[i];
        const char *v = samples[i].value;
        struct config *cfg;

        ck_assert_str_eq(samples[i].key, kd->name);
        v = strcmp(v, "@pw") == 0 ? pw : strcmp(v, "@me") == 0 ? me : v;
        setenv("REDSLEEVE_UNIT_PW", "envpw", 1);
        setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);     /* IAM samples */
        setenv("AWS_SECRET_ACCESS_KEY", "unitsecret", 1);
        if (kd->global) {
            /* line 2: the key */
            snprintf(text, sizeof(text), "[global]\n%s = %s\n[s]\n"
                     "listen = 7000\nupstream = r.example:6379\n",
                     kd->name, v);
        } else {
            /* line 2: the key; listen and upstream after it */
            snprintf(text, sizeof(text), "[s]\n%s = %s\n%s%s%s",
                     kd->name, v, samples[i].extra,
                     strcmp(kd->name, "listen") == 0 ? ""
                         : strcmp(kd->name, "listen_mode") == 0 ||
                           strcmp(kd->name, "listen_owner") == 0
                             ? "listen = unix:/tmp/rs-unit.sock\n"
                             : "listen = 7000\n",
                     strcmp(kd->name, "upstream") == 0 ? ""
                         : "upstream = r.example:6379\n");
        }
        cfg = load_text(text);
        ck_assert_msg(cfg != NULL, "%s: %s", kd->name, err);
        if (kd->global) {
            ck_assert_int_eq(cfg->global_line[i], 2);
        } else {
            ck_assert_int_eq(cfg->services->key_line[i - CONFIG_NGLOBAL],
                             2);
        }
        if (kd->type == CONFIG_T_STRING || kd->type == CONFIG_T_ADDR4) {
            const char *base = kd->global ? (const char *)cfg
                                          : (const char *)cfg->services;

            ck_assert_ptr_nonnull(*(char *const *)(base + kd->offset));
        }
        config_free(cfg);

        /* The other section refuses it. */
        if (kd->global) {
            snprintf(text, sizeof(text), "[s]\nlisten = 7000\nupstream = "
                     "r.example:6379\n%s = %s\n", kd->name, v);
        } else {
            snprintf(text, sizeof(text), "[global]\n%s = %s\n[s]\n"
                     "listen = 7000\nupstream = r.example:6379\n",
                     kd->name, v);
        }
        cfg = load_text(text);
        ck_assert_msg(cfg == NULL, "%s accepted in the wrong section",
                      kd->name);
        ck_assert_msg(strstr(err, "unknown key in [") != NULL, "%s: %s",
                      kd->name, err);
    }
}
END_TEST

/* Every [global] key set, with values unlike the defaults. */
#define ALL_GLOBALS                                                        \
    "[global]\nlog_level = debug\nresolv_conf = /tmp/resolv.test\n"        \
    "shutdown_timeout = 5s\nadmin_listen = 127.0.0.1:19121\n"              \
    "user = nobody\ngroup = nogroup\npid_file = /tmp/rs.pid\n"             \
    "log_file = /tmp/rs.log\nallow_root = yes\nworkers = 3\n"              \
    "busy_poll = 50us\nallow_core_dumps = yes\n"
#define ONE_SERVICE "[s]\nlisten = 7000\nupstream = r.example:6379\n"

struct changes {
    char keys[CONFIG_NKEYS][32];    /* keys reported, in order */
    char values[CONFIG_NKEYS][64];  /* their running values */
    int n;                          /* entries */
};

static void
change_cb(void *arg, const char *key, const char *running_value)
{
    struct changes *c = arg;

    ck_assert_int_lt(c->n, CONFIG_NKEYS);
    snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
    snprintf(c->values[c->n], sizeof(c->values[0]), "%s", running_value);
    c->n++;
}

/* The value reported for key in c, or NULL when it was not reported. */
static const char *
change_of(const struct changes *c, const char *key)
{
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->keys[i], key) == 0) {
            return c->values[i];
        }
    }
    return NULL;
}

START_TEST(restart_changes_reported)
{
    static const char *const restart_only[] = {
        "admin_listen", "user", "group", "pid_file", "log_file",
        "resolv_conf", "workers", "busy_poll", "allow_core_dumps",
        "allow_root",
    };
    struct config *all, *none, *same;
    struct changes c;
    char *user;

    all = load_text(ALL_GLOBALS ONE_SERVICE);
    ck_assert_msg(all != NULL, "%s", err);
    none = load_text("[global]\nlog_level = warn\nshutdown_timeout = 1s\n"
                     ONE_SERVICE);
    ck_assert_msg(none != NULL, "%s", err);
    same = load_text(ALL_GLOBALS ONE_SERVICE);
    ck_assert_msg(same != NULL, "%s", err);

    /* Running: every key set; next: none of them. */
    memset(&c, 0, sizeof(c));
    user = all->user;
    config_restart_changes(all, none, change_cb, &c);
    ck_assert_int_eq(c.n, (int)(sizeof(restart_only) /
                                sizeof(restart_only[0])));
    for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]);
         i++) {
        ck_assert_msg(change_of(&c, restart_only[i]) != NULL, "%s",
                      restart_only[i]);
    }
    ck_assert_ptr_null(change_of(&c, "log_level"));
    ck_assert_ptr_null(change_of(&c, "shutdown_timeout"));
    ck_assert_str_eq(change_of(&c, "admin_listen"), "127.0.0.1:19121");
    ck_assert_str_eq(change_of(&c, "user"), "nobody");
    ck_assert_str_eq(change_of(&c, "resolv_conf"), "/tmp/resolv.test");
    ck_assert_str_eq(change_of(&c, "workers"), "3");
    ck_assert_str_eq(change_of(&c, "busy_poll"), "50us");
    ck_assert_str_eq(change_of(&c, "allow_root"), "yes");
    ck_assert_str_eq(change_of(&c, "allow_core_dumps"), "yes");
    /* Nothing written: the running config keeps its own values. */
    ck_assert_ptr_eq(all->user, user);
    ck_assert_int_eq(all->workers, 3);
    ck_assert_ptr_null(none->user);
    ck_assert_int_eq(none->workers, 1);

    /* The other way: unset values print as such, defaults as set. */
    memset(&c, 0, sizeof(c));
    config_restart_changes(none, all, change_cb, &c);
    ck_assert_int_eq(c.n, 10);
    ck_assert_str_eq(change_of(&c, "admin_listen"), "(unset)");
    ck_assert_str_eq(change_of(&c, "pid_file"), "(unset)");
    ck_assert_str_eq(change_of(&c, "resolv_conf"), "/etc/resolv.conf");
    ck_assert_str_eq(change_of(&c, "workers"), "1");
    ck_assert_str_eq(change_of(&c, "busy_poll"), "0us");
    ck_assert_str_eq(change_of(&c, "allow_root"), "no");

    /* Equal values in another config: nothing to say. */
    memset(&c, 0, sizeof(c));
    config_restart_changes(all, same, change_cb, &c);
    ck_assert_int_eq(c.n, 0);

    /* Each restart-only key alone. */
    for (int i = 0; i < CONFIG_NGLOBAL; i++) {
        const struct config_key *kd = &config_keys[i];
        char text[1024];
        struct config *one;

        snprintf(text, sizeof(text), "[global]\n%s = %s\n" ONE_SERVICE,
                 kd->name, samples[i].value);
        one = load_text(text);
        ck_assert_msg(one != NULL, "%s", err);
        memset(&c, 0, sizeof(c));
        config_restart_changes(none, one, change_cb, &c);
        if (kd->flags & CONFIG_KEY_RESTART) {
            ck_assert_int_eq(c.n, 1);
            ck_assert_str_eq(c.keys[0], kd->name);
        } else {
            ck_assert_int_eq(c.n, 0);
        }
        config_free(one);
    }
    config_free(all);
    config_free(none);
    config_free(same);
}
END_TEST

struct hold_arg {
    struct config *cfg;     /* ref: shared by the threads */
    int rounds;             /* hold + free pairs */
};

static void *
hold_thread(void *arg)
{
    struct hold_arg *h = arg;

    for (int i = 0; i < h->rounds; i++) {
        struct config *mine = config_hold(h->cfg);

        ck_assert_ptr_eq(mine, h->cfg);
        ck_assert_str_eq(mine->services->name, "s");
        config_free(mine);
    }
    return NULL;
}

START_TEST(hold_and_free_count_references)
{
    struct config *cfg = load_text(ONE_SERVICE);
    struct hold_arg h;
    pthread_t t[4];

    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(atomic_load(&cfg->refs), 1);
    ck_assert_ptr_eq(config_hold(cfg), cfg);
    ck_assert_int_eq(atomic_load(&cfg->refs), 2);
    config_free(cfg);                   /* one left: still readable */
    ck_assert_int_eq(atomic_load(&cfg->refs), 1);
    ck_assert_str_eq(cfg->services->name, "s");

    h.cfg = cfg;
    h.rounds = 20000;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, hold_thread, &h), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    }
    ck_assert_int_eq(atomic_load(&cfg->refs), 1);
    config_free(cfg);                   /* the last: freed (ASan, valgrind
                                           see a leak or a double free) */
}
END_TEST

/*
 * man/redsleeve.ini.5 documents every key of the table, each in its own
 * part ([global] KEYS or SERVICE KEYS), and no key the table lacks.  A
 * key is the first line after .TP: ".B key" or ".BR a \", \" b".
 */
/* Whole file under the checkout root (data_dir()/../../..), or NULL. */
static char *
read_tree_file(const char *rel)
{
    char path[512];
    FILE *fp;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/../../../%s", data_dir(), rel);
    fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "%s", path);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    ck_assert_int_ge(n, 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* A refused stunnel key points at the README's table and the man page's
 * STUNNEL FILES: both exist, and the package ships both. */
START_TEST(stunnel_refusal_points_at_docs_that_exist)
{
    char path[512];
    struct config *cfg;
    char *readme, *man, *docs;

    snprintf(path, sizeof(path), "%s/stunnel-refused.ini", data_dir());
    cfg = config_load(path, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, "(see \"stunnel client-mode keys\" in "
                         "README.md, or STUNNEL FILES in redsleeve.ini(5))")
                  != NULL, "%s", err);
    readme = read_tree_file("README.md");
    ck_assert_ptr_nonnull(strstr(readme, "\n### stunnel client-mode keys\n"));
    ck_assert_ptr_nonnull(strstr(readme, "| `OCSP`, `OCSPaia`"));
    man = read_tree_file("man/redsleeve.ini.5");
    ck_assert_ptr_nonnull(strstr(man, "\n.SH STUNNEL FILES\n"));
    docs = read_tree_file("debian/redsleeve.docs");
    ck_assert_ptr_nonnull(strstr(docs, "README.md\n"));
    free(readme);
    free(man);
    free(docs);
}
END_TEST

START_TEST(man_page_lists_the_table)
{
    char path[512], line[1024];
    bool seen[CONFIG_NKEYS] = {false};
    int part = 0;           /* 1: [global] KEYS, 2: SERVICE KEYS */
    bool after_tp = false;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/../../../man/redsleeve.ini.5",
             data_dir());
    fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "%s", path);
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *p, *tok, *save = NULL;

        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, ".SH", 3) == 0) {
            part = strstr(line, "[global] KEYS") != NULL ? 1
                   : strstr(line, "SERVICE KEYS") != NULL ? 2 : 0;
            after_tp = false;
            continue;
        }
        if (strcmp(line, ".TP") == 0) {
            after_tp = part != 0;
            continue;
        }
        if (!after_tp) {
            continue;
        }
        after_tp = false;
        if (strncmp(line, ".B ", 3) == 0) {
            p = line + 3;
        } else if (strncmp(line, ".BR ", 4) == 0) {
            p = line + 4;
        } else {
            ck_abort_msg("%s: a key after .TP: %s", path, line);
            continue;
        }
        for (tok = strtok_r(p, " ", &save); tok != NULL;
             tok = strtok_r(NULL, " ", &save)) {
            int k;

            if (tok[0] == '"') {
                continue;       /* ", " between two keys */
            }
            k = config_key_find(tok, part == 1);
            ck_assert_msg(k >= 0, "%s documents %s, which is no %s key",
                          path, tok, part == 1 ? "[global]" : "service");
            seen[k] = true;
        }
    }
    fclose(fp);
    for (int i = 0; i < CONFIG_NKEYS; i++) {
        ck_assert_msg(seen[i], "%s does not document %s", path,
                      config_keys[i].name);
    }
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
    tcase_add_test(good, role_master_slave_aliases);
    tcase_add_test(good, digest_sees_settings_and_files);
    tcase_add_test(good, defaults_apply);
    tcase_add_test(good, indented_keys_and_inline_comments);
    tcase_add_test(good, password_file_forms);
    tcase_add_test(good, environment_expanded);
    tcase_add_test(good, free_null);
    tcase_add_test(good, missing_file);
    tcase_add_test(good, password_file_permissions);
    tcase_add_test(good, password_env_removed);
    tcase_add_test(good, note_long_path);
    tcase_add_test(good, stunnel_service_defaults);
    tcase_add_test(good, stunnel_verify_levels_and_versions);
    tcase_add_test(good, stunnel_include_dir);
    tcase_add_test(good, stunnel_include_before_first_section);
    tcase_add_test(good, stunnel_output_and_syslog);
    tcase_add_test(good, password_trailing_blank_warned);
    tcase_add_test(good, every_table_key_parses_in_its_section);
    tcase_add_test(good, restart_changes_reported);
    tcase_add_test(good, hold_and_free_count_references);
    tcase_add_test(helpers, table_names_pinned);
    tcase_add_test(helpers, man_page_lists_the_table);
    tcase_add_test(helpers, stunnel_refusal_points_at_docs_that_exist);
    tcase_add_test(helpers, suggestions);
    tcase_add_test(bad, dup_names_both_lines);
    tcase_add_test(bad, stream_refuses_include);
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
