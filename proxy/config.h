/*
 * config.h: the parsed, validated, immutable configuration.
 *
 * The config_* files own parsing (inih), defaults, validation and the
 * error messages in the form "FILE:LINE: key: message":
 *   config.c        the key table, typed values, load, hold/free, digest,
 *                   the restart-only check;
 *   config_read.c   the line reader, include = DIR, the inih handler,
 *                   stunnel glue and service defaults, "did you mean";
 *   config_check.c  validation (addresses, TLS, auth and secrets, pool,
 *                   one owner per address, unix permissions), warnings;
 *   config_value.c  pure value parsers (durations, sizes, host:port).
 * They load secrets (password files, environment variables) so that a
 * bad secret stops start-up; they do not open certificates (tls.c does,
 * reporting through config_where()).  A struct config is built whole,
 * validated, and only then used; nothing changes it afterwards, so
 * several threads may share it, each holding a reference (config_hold).
 */
#ifndef REDSLEEVE_CONFIG_H
#define REDSLEEVE_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

enum upstream_role {
    ROLE_ANY = 0,       /* no check (default) */
    ROLE_PRIMARY,       /* ROLE must say master; READONLY marks links stale */
    ROLE_REPLICA        /* ROLE must say slave */
};

enum service_mode {
    MODE_SINGLE = 0,    /* one upstream (default) */
    MODE_CLUSTER        /* a cluster: a local port per node (cluster.h) */
};

enum pool_mode {
    POOL_SESSION = 0,   /* a link per client for its life (default) */
    POOL_SHARED         /* clients share links; pinned when they must */
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
    SK_LISTEN_MODE,
    SK_LISTEN_OWNER,
    SK_IAM_USER_ID,
    SK_IAM_CACHE_NAME,
    SK_IAM_REGION,
    SK_IAM_SERVERLESS,
    SK_AWS_PROFILE,
    SK_IAM_REAUTH_INTERVAL,
    SK_MODE,
    SK_CLUSTER_PORTS,
    SK_CLUSTER_REFRESH,
    SK_POOL_MODE,
    SK_COUNT
};

/* Index of every [global] key, in the order --help lists them. */
enum global_key {
    GK_LOG_LEVEL = 0,
    GK_RESOLV_CONF,
    GK_SHUTDOWN_TIMEOUT,
    GK_ADMIN_LISTEN,
    GK_USER,
    GK_GROUP,
    GK_PID_FILE,
    GK_LOG_FILE,
    GK_ALLOW_ROOT,
    GK_WORKERS,
    GK_BUSY_POLL,
    GK_ALLOW_CORE_DUMPS,
    GK_COUNT
};

/* How a key's value is parsed and stored. */
enum config_type {
    CONFIG_T_STRING = 0,    /* char *: non-empty text, ${NAME} expanded
                               unless CONFIG_KEY_VERBATIM */
    CONFIG_T_BOOL,          /* bool: yes/no/true/false/on/off/1/0 */
    CONFIG_T_DURATION,      /* double seconds, bounded by min..max */
    CONFIG_T_INT,           /* int, bounded by min..max */
    CONFIG_T_INT_AUTO,      /* CONFIG_T_INT, or "auto" (stored as -1) */
    CONFIG_T_CPUS,          /* CONFIG_T_INT, or "auto": one per CPU,
                               clamped to min..max */
    CONFIG_T_SIZE,          /* size_t bytes, bounded by min..max */
    CONFIG_T_ENUM,          /* int: one of choices */
    CONFIG_T_MODE,          /* int: octal file mode, bounded by max */
    CONFIG_T_LOG_LEVEL,     /* enum log_level: log_level_parse() */
    CONFIG_T_ADDR4          /* char *: IPv4-address:port, :port or port */
};

/* Flags of a key (struct config_key.flags). */
#define CONFIG_KEY_RESTART  0x01    /* [global]: applies only at restart;
                                       a reload keeps the running value */
#define CONFIG_KEY_SECRET   0x02    /* never printed or logged; wiped on
                                       free */
#define CONFIG_KEY_VERBATIM 0x04    /* no ${NAME} expansion */
#define CONFIG_KEY_FILE     0x08    /* the digest reads the file's bytes */
#define CONFIG_KEY_DIR      0x10    /* the digest reads the directory's
                                       names, sizes and times */
#define CONFIG_KEY_ANY_MODE 0x20    /* its REDSLEEVE_* variable applies
                                       with -c too, and alone describes
                                       no service (allow_root) */

/* One word an enum key accepts. */
struct config_choice {
    const char *name;       /* ref: as written in the file */
    int value;              /* what is stored */
    bool alias;             /* accepted, not listed in messages */
};

/* One key of the table that drives parsing, defaults, the digest,
 * freeing, the restart-only check, the flags and the man page test. */
struct config_key {
    const char *name;       /* INI spelling, also the README's */
    bool global;            /* in [global]; else in a service section */
    enum config_type type;  /* how the value is parsed and stored */
    size_t offset;          /* field in struct config (global) or struct
                               service_config */
    const char *def;        /* default as text (through the parser),
                               NULL = unset */
    double min, max;        /* bounds for numbers */
    const char *range;      /* durations: the bounds in words, for the
                               message ("0 to 24h"), NULL = "%gs to %gs" */
    const struct config_choice *choices;    /* CONFIG_T_ENUM: ends with
                                               a NULL name */
    const char *hint;       /* appended to an enum's error, or NULL */
    unsigned flags;         /* CONFIG_KEY_* */
};

#define CONFIG_NGLOBAL GK_COUNT                 /* [global] keys */
#define CONFIG_NKEYS (GK_COUNT + SK_COUNT)      /* every key */
#define CONFIG_KEY_OF_SK(k) (GK_COUNT + (int)(k))   /* table index */

/*
 * config_keys: every key, the [global] ones first (in enum global_key
 * order), then the service keys (enum service_key order): config_keys[
 * CONFIG_KEY_OF_SK(SK_LISTEN)] is listen.
 */
extern const struct config_key config_keys[CONFIG_NKEYS];

struct service_config {
    char *name;                 /* owned: the INI section name */
    int section_line;           /* line of the [section] header */
    int key_line[SK_COUNT];     /* line each key was set on, 0 = default */

    char *listen;               /* owned: as written, e.g. "127.0.0.1:6379" */
    char *listen_host;          /* owned: host part, NULL for unix */
    int listen_port;            /* TCP port (0 = any, for tests) */
    char *listen_unix;          /* owned: path for "unix:/path", else NULL */
    int listen_mode;            /* unix socket's mode after bind, -1 = as
                                   the umask made it */
    char *listen_owner;         /* owned: "user[:group]" the unix socket is
                                   given after bind, NULL = unchanged */
    int listen_uid;             /* its uid, -1 = unchanged */
    int listen_gid;             /* its gid, -1 = unchanged */

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

    /* IAM authentication (ElastiCache): AUTH <iam_user_id> <token>, a
     * token signed for each link with the credentials below. */
    char *iam_user_id;          /* owned: turns IAM on; NULL = off */
    char *iam_cache_name;       /* owned: replication group / cache name */
    char *iam_region;           /* owned: as set, or found (AWS_REGION, the
                                   config file) in validation */
    bool iam_serverless;        /* ResourceType=ServerlessCache */
    char *aws_profile;          /* owned: profile of the shared files */
    char *iam_access_key;       /* owned: found in validation */
    char *iam_secret_key;       /* owned, secret */
    char *iam_session_token;    /* owned, secret; NULL if none */
    char *iam_creds_source;     /* owned: "environment", "FILE [profile]",
                                   "web identity", "container endpoint",
                                   "instance metadata" */
    bool iam_dynamic;           /* credentials fetched at run time (STS,
                                   the container endpoint, instance
                                   metadata), not the keys above */
    char *iam_role_arn;         /* owned: web identity's role; NULL when
                                   the source is another */
    char *iam_token_file;       /* owned: web identity token's file */
    char *iam_role_session_name;    /* owned: NULL = redsleeve-TIME */
    double iam_reauth_interval; /* seconds: a link logs in again with a
                                   fresh token this long after its last
                                   AUTH (ElastiCache ends an IAM
                                   connection 12 h after it) */

    int mode;                   /* enum service_mode */
    int pool_mode;              /* enum pool_mode */
    char *cluster_ports;        /* owned: "LO-HI", mode = cluster */
    int cluster_port_lo;        /* ... parsed in validation */
    int cluster_port_hi;
    double cluster_refresh;     /* seconds between our own topology
                                   queries (sooner after a -MOVED) */

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
    bool stunnel_chain;         /* verify = chain came from stunnel's
                                   verify = 2: made full by checkHost or
                                   by the lack of a CA of its own */

    struct service_config *next;    /* owned: next section in file order */
};

/* Where a stretch of lines came from: include = DIR reads other files,
 * and every line gets one number across them all. */
struct config_segment {
    int first;                  /* first line number of the stretch */
    int offset;                 /* its line in path = number - offset */
    char *path;                 /* owned: the file */
};

struct config {
    atomic_int refs;                /* references: config_hold adds one,
                                       config_free drops one */
    char *file;                     /* owned: path it was read from */
    enum log_level log_level;       /* [global] log_level */
    char *resolv_conf;              /* owned: [global] resolv_conf */
    double shutdown_timeout;        /* [global] seconds to drain on stop */
    char *admin_listen;             /* owned: [global] admin_listen, NULL =
                                       no HTTP endpoint */
    char *user;                     /* owned: [global] user to run as */
    char *group;                    /* owned: [global] group to run as */
    char *pid_file;                 /* owned: [global] pid_file */
    char *log_file;                 /* owned: [global] log_file (else
                                       stderr) */
    bool allow_root;                /* [global] allow_root: run as root
                                       without user = */
    int workers;                    /* [global] workers: event loops */
    double busy_poll;               /* [global] seconds a loop polls
                                       without sleeping after activity,
                                       0 = off */
    bool allow_core_dumps;          /* [global] allow_core_dumps: leave the
                                       process dumpable (else no core
                                       dump, and no ptrace by others) */
    int global_line[GK_COUNT];      /* line each [global] key was set on,
                                       0 = default */
    char *notes;                    /* owned: what stunnel keys became,
                                       one "FILE:LINE: ..." per line */
    struct config_segment *segments;    /* owned: which file each line
                                       number is in (include = DIR) */
    int nsegments;                  /* entries in segments */
    struct service_config *services;    /* owned: list in file order */
    int nservices;                  /* length of services */
};

/*
 * config_load(path, err, errlen): reads, parses and validates the INI file
 * at path, loading password files and environment variables.  Returns a new
 * config holding one reference, owned by the caller (drop it with
 * config_free), or NULL with every problem found written to err, one
 * "FILE:LINE: key: message" per line.
 */
struct config *config_load(const char *path, char *err, size_t errlen);

/*
 * config_load_stream(name, fp, err, errlen): the same from an open stream
 * (the fuzzer's way in); name stands for the file in messages.  include =
 * DIR is refused there: a stream has no place in the file system.
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

/*
 * config_warnings(cfg, out, outlen): what is allowed but exposed, one
 * "FILE:LINE: key: warning" per line in out (empty when none): an
 * admin_listen off loopback, a TCP listen off loopback in a service that
 * injects AUTH.  Returns how many.  --check-config prints them; start
 * logs them.
 */
int config_warnings(const struct config *cfg, char *out, size_t outlen);

/*
 * config_where(cfg, line, buf, buflen): "FILE:LINE" of a line number of
 * cfg (a key_line, a *_line), naming the included file it is in.
 * Returns buf.
 */
const char *config_where(const struct config *cfg, int line, char *buf,
                         size_t buflen);

/*
 * config_key_error(cfg, sc, key, msg, out, outlen): "FILE:LINE: key: msg"
 * in out, for a failure found after parsing (a certificate that does not
 * load, a server that rejects a setting): the key's line, or the
 * section's when the key was not set.
 */
void config_key_error(const struct config *cfg,
                      const struct service_config *sc, enum service_key key,
                      const char *msg, char *out, size_t outlen);

/*
 * config_suggest(word, candidates, n): the candidate nearest to word (a
 * mistyped key or section name): at most 2 edits away (a swap of two
 * letters is one), or one of the two a prefix of the other; NULL when
 * none is.  Case is ignored.
 */
const char *config_suggest(const char *word, const char *const *candidates,
                           int n);

/* config_is_key(k): k is a [global] or service key. */
bool config_is_key(const char *k);

/*
 * config_key_find(name, global): the table index of the [global] (global
 * true) or service key name, or -1.
 */
int config_key_find(const char *name, bool global);

/*
 * config_hold(cfg): adds a reference to cfg (atomically: any thread that
 * holds one may add another) and returns cfg.  Each hold is dropped with
 * config_free.
 */
struct config *config_hold(struct config *cfg);

/*
 * config_free(cfg): drops one reference to cfg; the last one frees it and
 * wipes its secrets.  NULL is a no-op.
 */
void config_free(struct config *cfg);

/*
 * config_restart_changes(running, next, cb, arg): calls cb(arg, key,
 * running_value) for each restart-only [global] key (CONFIG_KEY_RESTART)
 * whose value in next differs from running's, in table order.
 * running_value is printable and lives until cb returns: a string, or
 * "(unset)"; an int as %d; a duration as microseconds ("%.0fus"); a bool
 * as yes or no.  Reads both configs; writes nothing.
 */
void config_restart_changes(const struct config *running,
                            const struct config *next,
                            void (*cb)(void *arg, const char *key,
                                       const char *running_value),
                            void *arg);

/* config_service_free(sc): frees one service section (config_read.c,
 * for a section that failed to parse). */
void config_service_free(struct service_config *sc);

/* config_service_clone(sc): a deep copy of sc (every string its own,
 * next NULL), for a service made at run time from a configured one (a
 * cluster's node); free with config_service_free.  NULL on ENOMEM. */
struct service_config *config_service_clone(const struct service_config *sc);

#define CONFIG_DIGEST_LEN 32

/*
 * config_service_digest(sc, out): SHA-256 of everything that makes the
 * service what it is: its name, every service key of the table (line
 * numbers aside), the password, and the bytes of the files of keys marked
 * CONFIG_KEY_FILE (CA, certificate, key; CONFIG_KEY_DIR: the CA directory
 * by names, sizes and times).  Equal digests: reload can keep the running
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

/* config_parse_bool(s, out): yes/no/true/false/on/off/1/0.  0 or -1. */
int config_parse_bool(const char *s, bool *out) MUST_CHECK;

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
