/*
 * config.h: the parsed, validated, immutable configuration.
 *
 * config.c owns parsing (inih), defaults, validation and the error messages
 * in the form "FILE:LINE: key: message".  It loads secrets (password files,
 * environment variables) so that a bad secret stops start-up; it does not
 * open certificates (tls.c does, reporting through config_key_line()).
 * A struct config is built whole, validated, and only then used; nothing
 * changes it afterwards.
 */
#ifndef REDSLEEVE_CONFIG_H
#define REDSLEEVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

enum upstream_role {
    ROLE_ANY = 0,       /* no check (default) */
    ROLE_PRIMARY,       /* ROLE must say master; READONLY marks links stale */
    ROLE_REPLICA        /* ROLE must say slave */
};

enum verify_mode {
    VERIFY_FULL = 0,    /* chain + host name (default) */
    VERIFY_CHAIN,       /* chain only */
    VERIFY_NONE         /* nothing: needs insecure = yes */
};

/* Index of every key a service section accepts (drives the key table). */
enum service_key {
    SK_LISTEN = 0,
    SK_UPSTREAM,
    SK_VERIFY_HOST,
    SK_SNI,
    SK_VERIFY,
    SK_INSECURE,
    SK_CA_FILE,
    SK_CA_PATH,
    SK_CERT_FILE,
    SK_KEY_FILE,
    SK_TLS_MIN_VERSION,
    SK_CIPHERS,
    SK_CIPHERSUITES,
    SK_AUTH_USER,
    SK_AUTH_PASSWORD_FILE,
    SK_AUTH_PASSWORD_ENV,
    SK_CONNECT_TIMEOUT,
    SK_HANDSHAKE_TIMEOUT,
    SK_CLIENT_IDLE_TIMEOUT,
    SK_MAX_CLIENTS,
    SK_BUFFER_LIMIT,
    SK_POOL_MIN_IDLE,
    SK_POOL_MAX_IDLE,
    SK_LINK_MAX_LIFETIME,
    SK_LINK_IDLE_CHECK,
    SK_DRAIN_TIMEOUT,
    SK_ROLE,
    SK_DNS_REFRESH,
    SK_COUNT
};

struct service_config {
    char *name;                 /* owned: the INI section name */
    int section_line;           /* line of the [section] header */
    int key_line[SK_COUNT];     /* line each key was set on, 0 = default */

    char *listen;               /* owned: as written, e.g. "127.0.0.1:6379" */
    char *listen_host;          /* owned: host part, NULL for unix */
    int listen_port;            /* TCP port (0 = any, for tests) */
    char *listen_unix;          /* owned: path for "unix:/path", else NULL */

    char *upstream;             /* owned: as written */
    char *upstream_host;        /* owned: DNS name or IP literal */
    int upstream_port;          /* TCP port */
    bool upstream_is_ip;        /* upstream_host is an IP literal */

    char *verify_host;          /* owned: name the certificate must carry */
    bool verify_host_is_ip;     /* check the IP SAN instead of DNS names */
    char *sni;                  /* owned: server name sent; NULL = none */
    enum verify_mode verify;    /* full | chain | none */
    bool insecure;              /* allows verify = none */
    char *ca_file;              /* owned: NULL = system store */
    char *ca_path;              /* owned: NULL = system store */
    char *cert_file;            /* owned: client certificate, optional */
    char *key_file;             /* owned: its key */
    int tls_min_version;        /* TLS1_2_VERSION or TLS1_3_VERSION */
    char *ciphers;              /* owned: TLS <= 1.2 list, NULL = default */
    char *ciphersuites;         /* owned: TLS 1.3 list, NULL = default */

    char *auth_user;            /* owned: ACL user, NULL = password only */
    char *auth_password_file;   /* owned: where the password came from */
    char *auth_password_env;    /* owned: or this environment variable */
    char *auth_password;        /* owned, secret: wiped on free */

    double connect_timeout;     /* seconds: resolve + TCP connect */
    double handshake_timeout;   /* seconds: TLS handshake + AUTH */
    double client_idle_timeout; /* seconds, 0 = off */
    int max_clients;            /* concurrent clients of this service */
    size_t buffer_limit;        /* bytes held per direction per client */

    int pool_min_idle;          /* warm links kept ready */
    int pool_max_idle;          /* idle links kept at most; 0 = no pool */
    double link_max_lifetime;   /* seconds a link lives at most, 0 = no cap */
    double link_idle_check;     /* seconds between PINGs of idle links */
    double drain_timeout;       /* seconds to drain + RESET a used link */
    enum upstream_role role;    /* what the upstream must be */
    double dns_refresh;         /* seconds between re-resolutions of the
                                   name for idle links, 0 = never */

    struct service_config *next;    /* owned: next section in file order */
};

/* The [global] keys, in the order --help lists them. */
#define CONFIG_NGLOBAL 11
extern const char *const config_global_keys[CONFIG_NGLOBAL];

struct config {
    char *file;                     /* owned: path it was read from */
    enum log_level log_level;       /* [global] log_level */
    char *resolv_conf;              /* owned: [global] resolv_conf */
    double shutdown_timeout;        /* [global] seconds to drain on stop */
    char *admin_listen;             /* owned: [global] admin_listen, NULL =
                                       no HTTP endpoint */
    char *user;                     /* owned: [global] user to run as */
    char *group;                    /* owned: [global] group to run as */
    char *pid_file;                 /* owned: [global] pid_file */
    char *log_file;                 /* owned: [global] log_file (else stderr) */
    bool allow_root;                /* [global] allow_root: run as root
                                       without user = */
    int workers;                    /* [global] workers: event loops */
    double busy_poll;               /* [global] seconds a loop polls
                                       without sleeping after activity,
                                       0 = off */
    char *notes;                    /* owned: what stunnel keys became,
                                       one "FILE:LINE: ..." per line */
    int admin_listen_line;          /* its line, for errors */
    struct service_config *services;    /* owned: list in file order */
    int nservices;                  /* length of services */
};

/*
 * config_load(path, err, errlen): reads, parses and validates the INI file
 * at path, loading password files and environment variables.  Returns a new
 * config owned by the caller (free with config_free), or NULL with every
 * problem found written to err, one "FILE:LINE: key: message" per line.
 */
struct config *config_load(const char *path, char *err, size_t errlen);

/*
 * config_load_stream(name, fp, err, errlen): the same from an open stream
 * (the fuzzer's way in); name stands for the file in messages.
 */
struct config *config_load_stream(const char *name, FILE *fp, char *err,
                                  size_t errlen);

#define CONFIG_WORKERS_MAX 64

#define CONFIG_ARGS_MAX 128             /* settings from flags/environment */
#define CONFIG_ARGS_SERVICE "sidecar"   /* the one service they describe */

/* One setting from the command line or the environment. */
struct config_arg {
    const char *key;        /* ref: INI key, e.g. "upstream" */
    const char *value;      /* ref: its value */
    const char *origin;     /* ref: "--upstream" or "REDSLEEVE_UPSTREAM" */
};

/*
 * config_load_args(args, nargs, err, errlen): a config without a file:
 * [global] keys and one service named CONFIG_ARGS_SERVICE, parsed and
 * validated exactly as a file would be; errors name the flag or variable.
 */
struct config *config_load_args(const struct config_arg *args, int nargs,
                                char *err, size_t errlen);

/* config_is_key(k): k is a [global] or service key. */
bool config_is_key(const char *k);

/* config_free(cfg): frees cfg and wipes its secrets; NULL is a no-op. */
void config_free(struct config *cfg);

/* config_service_free(sc): frees one detached service section. */
void config_service_free(struct service_config *sc);

/*
 * config_detach_service(cfg, sc, in_its_place): takes sc out of cfg's list
 * (the caller owns it then) and puts in_its_place, when not NULL, where it
 * was.  Used by reload to hand a section from one config to another.
 */
void config_detach_service(struct config *cfg, struct service_config *sc,
                           struct service_config *in_its_place);

#define CONFIG_DIGEST_LEN 32

/*
 * config_service_digest(sc, out): SHA-256 of everything that makes the
 * service what it is: every setting (line numbers aside), the password,
 * and the bytes of its CA, certificate and key files (the CA directory by
 * names, sizes and times).  Equal digests: reload can keep the running
 * service.  Returns 0, or -1 when out of memory.
 */
int config_service_digest(const struct service_config *sc,
                          unsigned char out[CONFIG_DIGEST_LEN]) MUST_CHECK;

/* config_key_name(key): the INI spelling of a service key. */
const char *config_key_name(enum service_key key);

/*
 * config_parse_duration(s, out): "5", "2.5", "500ms", "5s", "2m", "1h" to
 * seconds.  Returns 0, or -1 when s is not a non-negative duration.
 */
int config_parse_duration(const char *s, double *out) MUST_CHECK;

/*
 * config_parse_size(s, out): "65536", "64k", "16m", "1g" (binary units) to
 * bytes.  Returns 0, or -1.
 */
int config_parse_size(const char *s, size_t *out) MUST_CHECK;

/*
 * config_split_hostport(s, host, hostlen, port): "h:p", "[v6]:p" or "p"
 * (host then empty).  Returns 0, or -1 when malformed or the port is not
 * in 0..65535.
 */
int config_split_hostport(const char *s, char *host, size_t hostlen,
                          int *port) MUST_CHECK;

/* config_is_ip_literal(s): true for an IPv4 or IPv6 address literal. */
bool config_is_ip_literal(const char *s);

#endif
