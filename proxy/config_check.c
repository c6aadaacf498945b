/*
 * config_check.c: a parsed config, checked whole.
 *
 * After every line is read (config_read.c), defaults are applied (through
 * the same parser as file values: a default can never be a value the
 * parser would refuse), then each service is checked: its addresses, the
 * unix socket's mode and owner, TLS verification, AUTH and its secret,
 * the pool bounds; then the addresses between services (one owner per
 * address).  Secrets are loaded here, with read(2) (no stdio buffer keeps
 * a copy), refused when others may read them, and wiped from every
 * buffer.  config_warnings() says what is allowed but exposed.  Nothing
 * here knows INI syntax or stunnel.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_creds.h"
#include "creds.h"
#include "creds_sts.h"
#include "config_parse.h"

#define SECRET_MAX 1024             /* longest password accepted */

/* ------------------------------------------------------------ validation */

static int
load_secret_file(struct config_parse *ps, struct service_config *sc)
{
    int line = sc->key_line[SK_AUTH_PASSWORD_FILE];
    const char *path = sc->auth_password_file;
    char buf[SECRET_MAX + 2];
    size_t n = 0;
    ssize_t r;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    /* read(2), not stdio: no library buffer keeps a copy of the secret. */
    if (fd < 0) {
        config_perr(ps, line, "auth_password_file: cannot open %s: %s", path,
             strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        config_perr(ps, line, "auth_password_file: %s is a directory (name "
                    "the file that holds the password)", path);
        close(fd);
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        config_perr(ps, line, "auth_password_file: %s is not a regular file",
                    path);
        close(fd);
        return -1;
    }
    /* As ssh does for keys: a secret others can read is refused. */
    if ((st.st_mode & 077) != 0) {
        config_perr(ps, line, "auth_password_file: %s is open to group or "
                    "others (mode %04o): run chmod 600 %s", path,
                    (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        config_perr(ps, line, "auth_password_file: %s is owned by uid %u, "
                    "neither root nor the user reading it (uid %u): run chown "
                    "%u %s", path, (unsigned)st.st_uid, (unsigned)geteuid(),
                    (unsigned)geteuid(), path);
        close(fd);
        return -1;
    }
    while (n < sizeof(buf) - 1 &&
           (r = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            config_perr(ps, line, "auth_password_file: cannot read %s: %s",
                        path, strerror(errno));
            close(fd);
            OPENSSL_cleanse(buf, sizeof(buf));
            return -1;
        }
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    }
    if (n > 0 && buf[n - 1] == '\r') {
        buf[--n] = '\0';
    }
    if (n == 0 || n > SECRET_MAX || memchr(buf, '\n', n) != NULL ||
        memchr(buf, '\r', n) != NULL || strlen(buf) != n) {
        config_perr(ps, line, "auth_password_file: %s must hold the password "
                    "alone on one line (1 to %d bytes, no NUL)", path,
                    SECRET_MAX);
        OPENSSL_cleanse(buf, sizeof(buf));
        return -1;
    }
    sc->auth_password = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return sc->auth_password == NULL ? -1 : 0;
}

/*
 * Passwords read from the environment, by variable name.  The variable is
 * removed (and its bytes wiped) once read, so that it does not linger in
 * /proc/PID/environ or reach a child; the next load of the same config
 * (a worker's copy, a reload) finds the value here.  Process-wide, like
 * the environment itself; guarded by env_mu.
 */
struct env_secret {
    char *name;                 /* owned: variable name */
    char *value;                /* owned, secret */
    struct env_secret *next;    /* owned */
};

static pthread_mutex_t env_mu = PTHREAD_MUTEX_INITIALIZER;
static struct env_secret *env_secrets;

/* A copy of the password in variable name (NULL when neither set nor
 * remembered, or out of memory); the variable is taken out of the
 * environment. */
static char *
env_secret_take(const char *name)
{
    struct env_secret *e;
    char *v, *copy = NULL;

    pthread_mutex_lock(&env_mu);
    for (e = env_secrets; e != NULL && strcmp(e->name, name) != 0;
         e = e->next) {
    }
    v = getenv(name);
    if (v != NULL) {
        if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
            if ((e->name = strdup(name)) == NULL) {
                free(e);
                e = NULL;
            } else {
                e->next = env_secrets;
                env_secrets = e;
            }
        }
        if (e != NULL) {
            if (e->value != NULL) {
                OPENSSL_cleanse(e->value, strlen(e->value));
                free(e->value);
            }
            e->value = strdup(v);
        }
        OPENSSL_cleanse(v, strlen(v));
        unsetenv(name);
    }
    if (e != NULL && e->value != NULL) {
        copy = strdup(e->value);
    }
    pthread_mutex_unlock(&env_mu);
    return copy;
}

static int
load_secret_env(struct config_parse *ps, struct service_config *sc)
{
    int line = sc->key_line[SK_AUTH_PASSWORD_ENV];
    char *v = env_secret_take(sc->auth_password_env);

    if (v == NULL || v[0] == '\0') {
        config_perr(ps, line, "auth_password_env: environment variable %s is "
                    "%s", sc->auth_password_env, v == NULL ? "not set" :
                    "empty");
        free(v);
        return -1;
    }
    if (strlen(v) > SECRET_MAX || strpbrk(v, "\r\n") != NULL) {
        config_perr(ps, line, "auth_password_env: %s must be 1 to %d bytes on "
                    "one line", sc->auth_password_env, SECRET_MAX);
        OPENSSL_cleanse(v, strlen(v));
        free(v);
        return -1;
    }
    sc->auth_password = v;
    return 0;
}

static int
line_or_section(const struct service_config *sc, enum service_key k)
{
    return sc->key_line[k] != 0 ? sc->key_line[k] : sc->section_line;
}

/* s ends in a port (":PORT", or is a bare PORT) past 65535. */
static bool
port_too_big(const char *s)
{
    const char *c = strrchr(s, ':');
    const char *p = c != NULL ? c + 1 : s;

    if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
        return false;
    }
    return strlen(p) > 5 || atol(p) > 65535;
}

static void
validate_addresses(struct config_parse *ps, struct service_config *sc)
{
    char host[256];
    int port;

    if (sc->listen == NULL) {
        config_perr(ps, sc->section_line, "listen: required in [%s] (e.g. "
             "listen = 127.0.0.1:6379)%s", sc->name,
             config_near_global(sc->name) ? " (did you mean [global]?)" : "");
    } else if (strncmp(sc->listen, "unix:", 5) == 0) {
        if (sc->listen[5] != '/' || strlen(sc->listen + 5) >= 108) {
            config_perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\" needs an "
                 "absolute socket path shorter than 108 bytes", sc->listen);
        } else {
            sc->listen_unix = strdup(sc->listen + 5);
        }
    } else if (port_too_big(sc->listen)) {
        config_perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\": port out of "
             "range (0 to 65535)", sc->listen);
    } else if (config_split_hostport(sc->listen, host, sizeof(host),
                                     &port) < 0) {
        config_perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\" is not "
                    "host:port, [ipv6]:port, port or unix:/path", sc->listen);
    } else {
        sc->listen_host = strdup(host[0] ? host : "127.0.0.1");
        sc->listen_port = port;
        if (host[0] && !config_is_ip_literal(host) &&
            strcmp(host, "localhost") != 0) {
            config_perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\": the "
                        "host must be an IP address (or localhost)",
                        sc->listen);
        }
    }

    if (sc->upstream == NULL) {
        config_perr(ps, sc->section_line, "upstream: required in [%s] (e.g. "
             "upstream = redis.example.com:6379)", sc->name);
    } else if (port_too_big(sc->upstream)) {
        config_perr(ps, sc->key_line[SK_UPSTREAM], "upstream: \"%s\": port "
                    "out of range (1 to 65535)", sc->upstream);
    } else if (config_split_hostport(sc->upstream, host, sizeof(host),
                                     &port) < 0 || host[0] == '\0' ||
               port == 0) {
        config_perr(ps, sc->key_line[SK_UPSTREAM], "upstream: \"%s\" is not "
             "host:port or [ipv6]:port", sc->upstream);
    } else {
        sc->upstream_host = strdup(host);
        sc->upstream_port = port;
        sc->upstream_is_ip = config_is_ip_literal(host);
    }
}

static void
validate_tls(struct config_parse *ps, struct service_config *sc)
{
    /* stunnel's verify = 2 checks the chain only; with checkHost it is
     * our full.  Against the system store, chain alone would accept any
     * publicly trusted certificate for any name: full, as for a stunnel
     * file that asks for nothing. */
    if (sc->stunnel_chain && sc->verify == VERIFY_CHAIN &&
        (sc->key_line[SK_VERIFY_HOST] != 0 ||
         (sc->ca_file == NULL && sc->ca_path == NULL))) {
        sc->verify = VERIFY_FULL;
        config_pnote(ps, sc->key_line[SK_VERIFY], "[%s] verify = 2 -> "
                     "verify = full (%s)", sc->name,
                     sc->key_line[SK_VERIFY_HOST] != 0
                         ? "checkHost names the host"
                         : "no CAfile or CApath: the system store with the "
                           "host name of connect");
    }
    if (sc->verify_host == NULL && sc->upstream_host != NULL) {
        sc->verify_host = strdup(sc->upstream_host);
    }
    if (sc->verify_host != NULL) {
        sc->verify_host_is_ip = config_is_ip_literal(sc->verify_host);
    }
    if (sc->sni != NULL && config_is_ip_literal(sc->sni)) {
        config_perr(ps, sc->key_line[SK_SNI], "sni: \"%s\" is an IP address; "
                    "SNI carries host names only", sc->sni);
    } else if (sc->sni == NULL && sc->verify_host != NULL &&
               !sc->verify_host_is_ip) {
        sc->sni = strdup(sc->verify_host);
    }
    if (sc->verify == VERIFY_NONE && !sc->insecure) {
        config_perr(ps, line_or_section(sc, SK_VERIFY), "verify: \"none\" "
                    "turns off certificate checks; it is refused unless "
                    "insecure = yes is also set in [%s]", sc->name);
    }
    if (sc->verify == VERIFY_CHAIN && sc->ca_file == NULL &&
        sc->ca_path == NULL && !sc->insecure) {
        /* Any publicly trusted certificate, for any name, would pass. */
        config_perr(ps, line_or_section(sc, SK_VERIFY), "verify: \"chain\" "
                    "with the system trust store accepts any publicly trusted "
                    "certificate for any name; set ca_file or ca_path to the "
                    "CA that signs the server (or use verify = full); it is "
                    "refused unless insecure = yes is also set in [%s]",
                    sc->name);
    }
    if (sc->verify != VERIFY_FULL && sc->key_line[SK_VERIFY_HOST] != 0) {
        config_perr(ps, sc->key_line[SK_VERIFY_HOST], "verify_host: has no "
                    "effect unless verify = full");
    }
    if ((sc->cert_file == NULL) != (sc->key_file == NULL)) {
        enum service_key k = sc->cert_file ? SK_CERT_FILE : SK_KEY_FILE;

        config_perr(ps, sc->key_line[k], "%s: cert_file and key_file go "
                    "together (client certificate and its key)",
                    config_key_name(k));
    }
}

/* Two optional strings are equal (both NULL, or the same text). */
static bool
str_same(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A web identity (from aws_creds_load): fetched from STS at run time; the
 * endpoint must be https:// and AWS_CA_BUNDLE loadable, now. */
static void
validate_web_identity(struct config_parse *ps, struct service_config *sc,
                      struct aws_creds *creds)
{
    int line = sc->key_line[SK_IAM_USER_ID];
    struct creds_sts_endpoint ep;
    char err[PATH_MAX + 256];
    SSL_CTX *ctx;

    if (creds_sts_endpoint(sc->iam_region, &ep, err, sizeof(err)) < 0 ||
        (ctx = creds_sts_tls_new(err, sizeof(err))) == NULL) {
        config_perr(ps, line, "iam_user_id: web identity (%s): %s",
                    creds->source, err);
        return;
    }
    SSL_CTX_free(ctx);
    sc->iam_dynamic = true;
    sc->iam_creds_source = strdup("web identity");
    /* sc owns them now */
    sc->iam_role_arn = creds->role_arn;
    sc->iam_token_file = creds->token_file;
    sc->iam_role_session_name = creds->session_name;
    creds->role_arn = creds->token_file = creds->session_name = NULL;
    if (sc->iam_creds_source == NULL) {
        config_perr(ps, line, "iam_user_id: out of memory");
    }
}

/* IAM: exclusive with the password keys; the cache name, a region and
 * credentials (the environment, the shared files, a web identity; else
 * the container endpoint or instance metadata) must be found. */
static void
validate_iam(struct config_parse *ps, struct service_config *sc)
{
    static const enum service_key iam_only[] = {
        SK_IAM_CACHE_NAME, SK_IAM_REGION, SK_IAM_SERVERLESS, SK_AWS_PROFILE,
        SK_IAM_REAUTH_INTERVAL
    };
    int line = sc->key_line[SK_IAM_USER_ID];
    struct aws_creds creds;
    char err[PATH_MAX + 256], region[64];
    int r;

    if (sc->iam_user_id == NULL) {
        for (size_t i = 0; i < sizeof(iam_only) / sizeof(iam_only[0]); i++) {
            if (sc->key_line[iam_only[i]] != 0) {
                config_perr(ps, sc->key_line[iam_only[i]], "%s: needs "
                            "iam_user_id (IAM authentication)",
                            config_key_name(iam_only[i]));
            }
        }
        return;
    }
    if (sc->auth_password_file != NULL || sc->auth_password_env != NULL) {
        enum service_key k = sc->auth_password_file != NULL
                                 ? SK_AUTH_PASSWORD_FILE
                                 : SK_AUTH_PASSWORD_ENV;

        config_perr(ps, sc->key_line[k], "%s: set either a password or "
                    "iam_user_id (line %d), not both", config_key_name(k),
                    line);
        return;
    }
    if (sc->auth_user != NULL && strcmp(sc->auth_user, sc->iam_user_id)) {
        config_perr(ps, sc->key_line[SK_AUTH_USER], "auth_user: \"%s\" is "
                    "not iam_user_id \"%s\" (IAM sends AUTH <iam_user_id> "
                    "<token>; leave auth_user out)", sc->auth_user,
                    sc->iam_user_id);
        return;
    }
    if (sc->iam_user_id[0] == '\0' ||
        strpbrk(sc->iam_user_id, " \t\r\n") != NULL) {
        config_perr(ps, line, "iam_user_id: \"%s\" must be one word",
                    sc->iam_user_id);
        return;
    }
    if (sc->iam_cache_name == NULL || sc->iam_cache_name[0] == '\0') {
        config_perr(ps, line_or_section(sc, SK_IAM_USER_ID), "iam_cache_name: "
                    "needed with iam_user_id (the replication group id or "
                    "serverless cache name)");
        return;
    }
    if (strlen(sc->iam_cache_name) > 200) {
        config_perr(ps, sc->key_line[SK_IAM_CACHE_NAME], "iam_cache_name: "
                    "longer than 200 bytes (ElastiCache names are at most "
                    "40)");
        return;
    }
    if (sc->iam_region == NULL) {
        if (aws_region(sc->aws_profile, region, sizeof(region)) < 0) {
            config_perr(ps, line, "iam_region: not set, and neither "
                        "AWS_REGION, AWS_DEFAULT_REGION nor the profile's "
                        "region in the AWS config file names one");
            return;
        }
        if ((sc->iam_region = strdup(region)) == NULL) {
            config_perr(ps, line, "iam_region: out of memory");
            return;
        }
    }
    /* No bound on link_max_lifetime: a link, pooled or held, logs in
     * again every iam_reauth_interval (below ElastiCache's 12 hours). */
    r = aws_creds_load(sc->aws_profile, &creds, err, sizeof(err));
    if (r == AWS_CREDS_BAD) {
        config_perr(ps, line, "iam_user_id: %s", err);
        return;
    }
    if (r == 0 && creds.role_arn != NULL) {
        validate_web_identity(ps, sc, &creds);
        aws_creds_clear(&creds);
        return;
    }
    if (r < 0) {
        if (creds_container_configured() || creds_imds_enabled()) {
            /* Fetched by the control loop once running (creds.c). */
            sc->iam_dynamic = true;
            sc->iam_creds_source = strdup(creds_container_configured()
                                              ? "container endpoint"
                                              : "instance metadata");
            if (sc->iam_creds_source == NULL) {
                config_perr(ps, line, "iam_user_id: out of memory");
            }
            return;
        }
        config_perr(ps, line, "iam_user_id: no AWS credentials: %s; no "
                    "container endpoint (AWS_CONTAINER_CREDENTIALS_"
                    "RELATIVE_URI or _FULL_URI); and instance metadata is "
                    "off (AWS_EC2_METADATA_DISABLED=true)", err);
        return;
    }
    sc->iam_access_key = creds.access_key;
    sc->iam_secret_key = creds.secret_key;
    sc->iam_session_token = creds.session_token;
    sc->iam_creds_source = strdup(creds.source);
    creds.access_key = creds.secret_key = creds.session_token = NULL;
    aws_creds_clear(&creds);
    if (sc->iam_creds_source == NULL) {
        config_perr(ps, line, "iam_user_id: out of memory");
    }
}

/* The services whose credentials are fetched share one fetcher (one
 * cell): they must all want the same source.  Refused otherwise, at the
 * second one's iam_user_id (one fetched source per process, for now). */
static void
validate_dynamic_sources(struct config_parse *ps)
{
    const struct service_config *first = NULL;

    for (const struct service_config *sc = ps->cfg->services; sc != NULL;
         sc = sc->next) {
        if (!sc->iam_dynamic || sc->iam_creds_source == NULL) {
            continue;
        }
        if (first == NULL) {
            first = sc;
            continue;
        }
        if (strcmp(sc->iam_creds_source, first->iam_creds_source) != 0 ||
            !str_same(sc->iam_role_arn, first->iam_role_arn) ||
            !str_same(sc->iam_token_file, first->iam_token_file) ||
            !str_same(sc->iam_role_session_name,
                      first->iam_role_session_name)) {
            config_perr(ps, sc->key_line[SK_IAM_USER_ID], "iam_user_id: "
                        "[%s] would fetch its credentials from %s%s%s, "
                        "[%s] from %s%s%s: one fetched credential source "
                        "per process (set aws_profile so both use one, or "
                        "run two redsleeves)", sc->name,
                        sc->iam_creds_source,
                        sc->iam_role_arn != NULL ? " as " : "",
                        sc->iam_role_arn != NULL ? sc->iam_role_arn : "",
                        first->name, first->iam_creds_source,
                        first->iam_role_arn != NULL ? " as " : "",
                        first->iam_role_arn != NULL ? first->iam_role_arn
                                                    : "");
        }
    }
}

static void
validate_auth(struct config_parse *ps, struct service_config *sc)
{
    if (sc->auth_password_file != NULL && sc->auth_password_env != NULL) {
        int lf = sc->key_line[SK_AUTH_PASSWORD_FILE];
        int le = sc->key_line[SK_AUTH_PASSWORD_ENV];
        enum service_key k = lf > le ? SK_AUTH_PASSWORD_FILE
                                     : SK_AUTH_PASSWORD_ENV;

        config_perr(ps, sc->key_line[k], "%s: set only one of "
                    "auth_password_file and auth_password_env",
                    config_key_name(k));
        return;
    }
    if (sc->auth_password_file != NULL) {
        (void)load_secret_file(ps, sc);
    } else if (sc->auth_password_env != NULL) {
        (void)load_secret_env(ps, sc);
    } else if (sc->auth_user != NULL && sc->iam_user_id == NULL) {
        config_perr(ps, sc->key_line[SK_AUTH_USER], "auth_user: needs "
             "auth_password_file or auth_password_env");
    }
    if (sc->auth_user != NULL &&
        strpbrk(sc->auth_user, " \t\r\n") != NULL) {
        config_perr(ps, sc->key_line[SK_AUTH_USER], "auth_user: \"%s\" "
                    "contains blanks", sc->auth_user);
    }
}

static void
apply_defaults(struct config_parse *ps, struct service_config *sc)
{
    for (int k = 0; k < SK_COUNT; k++) {
        const struct config_key *kd = &config_keys[CONFIG_KEY_OF_SK(k)];

        if (sc->key_line[k] == 0 && kd->def != NULL) {
            /* Defaults go through the same parser as file values. */
            if (config_set_key(ps, sc, CONFIG_KEY_OF_SK(k), kd->def,
                               sc->section_line) < 0) {
                return;
            }
        }
    }
}

/* The [global] defaults, through the same parser. */
static void
apply_global_defaults(struct config_parse *ps)
{
    for (int k = 0; k < GK_COUNT; k++) {
        if (ps->cfg->global_line[k] == 0 && config_keys[k].def != NULL) {
            (void)config_set_key(ps, ps->cfg, k, config_keys[k].def, 0);
        }
    }
}

static void
validate_pool(struct config_parse *ps, struct service_config *sc)
{
    if (sc->pool_max_idle >= 0 && sc->pool_min_idle > sc->pool_max_idle) {
        enum service_key k = sc->key_line[SK_POOL_MIN_IDLE]
                                 ? SK_POOL_MIN_IDLE : SK_POOL_MAX_IDLE;

        config_perr(ps, line_or_section(sc, k), "%s: pool_min_idle (%d) is "
                    "more than pool_max_idle (%d)", config_key_name(k),
                    sc->pool_min_idle, sc->pool_max_idle);
    }
}

/* mode = cluster: a range of local ports for the nodes (cluster.h). */
#define CLUSTER_PORTS_MAX 1024      /* ports one range may hold */

static void
validate_cluster(struct config_parse *ps, struct service_config *sc)
{
    int line = sc->key_line[SK_CLUSTER_PORTS];
    int lo, hi, n = 0;

    if (sc->mode != MODE_CLUSTER) {
        if (sc->cluster_ports != NULL) {
            config_perr(ps, line, "cluster_ports: needs mode = cluster");
        }
        if (sc->key_line[SK_CLUSTER_REFRESH] != 0) {
            config_perr(ps, sc->key_line[SK_CLUSTER_REFRESH],
                        "cluster_refresh: needs mode = cluster");
        }
        return;
    }
    if (sc->cluster_ports == NULL) {
        config_perr(ps, line_or_section(sc, SK_MODE), "cluster_ports: "
                    "needed with mode = cluster (local ports for the "
                    "nodes, as 7001-7099)");
        return;
    }
    if (sscanf(sc->cluster_ports, "%d-%d%n", &lo, &hi, &n) != 2 ||
        sc->cluster_ports[n] != '\0' || lo < 1 || hi > 65535 || lo > hi) {
        config_perr(ps, line, "cluster_ports: expected a range of ports "
                    "LOW-HIGH (1-65535), got \"%s\"", sc->cluster_ports);
        return;
    }
    if (hi - lo + 1 > CLUSTER_PORTS_MAX) {
        config_perr(ps, line, "cluster_ports: %d ports; at most %d",
                    hi - lo + 1, CLUSTER_PORTS_MAX);
        return;
    }
    if (sc->listen_host != NULL && strcmp(sc->listen_host, "127.0.0.1") != 0 &&
        strcmp(sc->listen_host, "localhost") != 0) {
        config_perr(ps, sc->key_line[SK_LISTEN], "listen: with mode = "
                    "cluster, on 127.0.0.1 (the address the rewritten "
                    "replies give the nodes), not %s", sc->listen_host);
        return;
    }
    if (sc->listen_unix != NULL ||
        (sc->listen_port >= lo && sc->listen_port <= hi)) {
        config_perr(ps, sc->key_line[SK_LISTEN], "listen: with mode = "
                    "cluster, a TCP address outside cluster_ports (%s): "
                    "it stands for the configuration endpoint",
                    sc->cluster_ports);
        return;
    }
    if (sc->role != ROLE_ANY) {
        config_perr(ps, sc->key_line[SK_ROLE], "role: with mode = cluster "
                    "each node has its own role; leave role out");
        return;
    }
    sc->cluster_port_lo = lo;
    sc->cluster_port_hi = hi;
}

/* No service listens inside a cluster's ports, and no two clusters'
 * ranges overlap: a node's port would be shared with it silently
 * (SO_REUSEPORT, with workers). */
static void
validate_cluster_ranges(struct config_parse *ps)
{
    for (const struct service_config *c = ps->cfg->services; c != NULL;
         c = c->next) {
        if (c->mode != MODE_CLUSTER || c->cluster_port_lo == 0) {
            continue;
        }
        bool after = false;     /* o comes after c: overlaps said once */

        for (const struct service_config *o = ps->cfg->services; o != NULL;
             o = o->next) {
            if (o == c) {
                after = true;
                continue;
            }
            if (o->listen_unix == NULL && o->listen_port >= c->cluster_port_lo &&
                o->listen_port <= c->cluster_port_hi) {
                config_perr(ps, o->key_line[SK_LISTEN], "listen: port %d is "
                            "one of [%s]'s cluster_ports (%s)",
                            o->listen_port, c->name, c->cluster_ports);
            }
            if (o->mode == MODE_CLUSTER && o->cluster_port_lo != 0 &&
                o->cluster_port_lo <= c->cluster_port_hi &&
                c->cluster_port_lo <= o->cluster_port_hi && after) {
                config_perr(ps, o->key_line[SK_CLUSTER_PORTS], "cluster_ports: "
                            "%s overlaps [%s]'s %s", o->cluster_ports,
                            c->name, c->cluster_ports);
            }
        }
    }
}

/* A listening address after normalising: family and bytes of the IP
 * (localhost is 127.0.0.1), or a unix path. */
struct norm_addr {
    int family;                     /* AF_INET, AF_INET6 or AF_UNIX */
    unsigned char ip[16];           /* the address, for the first two */
    int port;                       /* TCP port */
    const char *path;               /* ref: unix socket path */
};

/* normalise(host, port, unix_path, out): 0, or -1 when not comparable
 * (port 0: any free port, never shared). */
static int
normalise(const char *host, int port, const char *unix_path,
          struct norm_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (unix_path != NULL) {
        out->family = AF_UNIX;
        out->path = unix_path;
        return 0;
    }
    if (host == NULL || port == 0) {
        return -1;
    }
    out->port = port;
    if (host[0] == '\0' || strcmp(host, "localhost") == 0) {
        host = "127.0.0.1";
    }
    if (inet_pton(AF_INET, host, out->ip) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, out->ip) == 1) {
        out->family = AF_INET6;
        return 0;
    }
    return -1;
}

static bool
norm_is_wildcard(const struct norm_addr *a)
{
    static const unsigned char zero[16];

    return a->family != AF_UNIX &&
           memcmp(a->ip, zero, a->family == AF_INET ? 4 : 16) == 0;
}

/* Two addresses the kernel would not let two owners bind: the same path;
 * or the same port with the same address, or a wildcard on one side
 * ([::] covers IPv4 too, as Linux binds it dual-stack by default). */
static bool
norm_overlap(const struct norm_addr *a, const struct norm_addr *b)
{
    if (a->family == AF_UNIX || b->family == AF_UNIX) {
        return a->family == b->family && strcmp(a->path, b->path) == 0;
    }
    if (a->port != b->port) {
        return false;
    }
    if (a->family == b->family &&
        memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16) == 0) {
        return true;
    }
    if ((norm_is_wildcard(a) && (a->family == b->family ||
                                 a->family == AF_INET6)) ||
        (norm_is_wildcard(b) && (a->family == b->family ||
                                 b->family == AF_INET6))) {
        return true;
    }
    return false;
}

/*
 * One owner per address: two services, or a service and admin_listen,
 * never share one, whatever the spelling (a bare port, localhost, a
 * wildcard covering a specific address, [::] or ::).  Workers share a
 * port with SO_REUSEPORT, which would let such a pair both bind and the
 * kernel split clients between them.
 */
static void
validate_owners(struct config_parse *ps)
{
    struct config *cfg = ps->cfg;
    struct norm_addr na, nb;
    char at[300];

    for (struct service_config *sc = cfg->services; sc; sc = sc->next) {
        if (normalise(sc->listen_host, sc->listen_port, sc->listen_unix,
                      &na) < 0) {
            continue;
        }
        for (struct service_config *o = cfg->services; o != sc;
             o = o->next) {
            if (normalise(o->listen_host, o->listen_port, o->listen_unix,
                          &nb) == 0 && norm_overlap(&na, &nb)) {
                config_perr(ps, sc->key_line[SK_LISTEN], "listen: %s is "
                            "already used by [%s] as %s (also used at %s)",
                            sc->listen, o->name, o->listen,
                            config_origin(ps, o->key_line[SK_LISTEN], at,
                                          sizeof(at)));
                break;
            }
        }
    }
    if (cfg->admin_listen != NULL) {
        char host[64];
        int port;

        if (config_split_hostport(cfg->admin_listen, host, sizeof(host),
                                  &port) < 0 ||
            normalise(host, port, NULL, &na) < 0) {
            return;
        }
        for (struct service_config *o = cfg->services; o; o = o->next) {
            if (normalise(o->listen_host, o->listen_port, o->listen_unix,
                          &nb) == 0 && norm_overlap(&na, &nb)) {
                config_perr(ps, cfg->global_line[GK_ADMIN_LISTEN],
                            "admin_listen: %s is already used by [%s] as %s "
                            "(also used at %s)", cfg->admin_listen, o->name,
                            o->listen,
                            config_origin(ps, o->key_line[SK_LISTEN], at,
                                          sizeof(at)));
                break;
            }
        }
    }
}

/* listen_mode and listen_owner: unix sockets only; the owner must exist. */
static void
validate_unix_perms(struct config_parse *ps, struct service_config *sc)
{
    char user[256], *group;
    struct passwd *pw;
    struct group *gr;

    if (sc->listen_unix == NULL) {
        if (sc->key_line[SK_LISTEN_MODE] != 0) {
            config_perr(ps, sc->key_line[SK_LISTEN_MODE], "listen_mode: only "
                        "for a unix socket (listen = unix:/path)");
        }
        if (sc->key_line[SK_LISTEN_OWNER] != 0) {
            config_perr(ps, sc->key_line[SK_LISTEN_OWNER], "listen_owner: "
                        "only for a unix socket (listen = unix:/path)");
        }
        return;
    }
    if (sc->listen_owner == NULL) {
        return;
    }
    snprintf(user, sizeof(user), "%s", sc->listen_owner);
    group = strchr(user, ':');
    if (group != NULL) {
        *group++ = '\0';
    }
    if (user[0] != '\0') {
        if ((pw = getpwnam(user)) == NULL) {
            config_perr(ps, sc->key_line[SK_LISTEN_OWNER], "listen_owner: "
                        "user %s does not exist", user);
            return;
        }
        sc->listen_uid = (int)pw->pw_uid;
    }
    if (group != NULL && group[0] != '\0') {
        if ((gr = getgrnam(group)) == NULL) {
            config_perr(ps, sc->key_line[SK_LISTEN_OWNER], "listen_owner: "
                        "group %s does not exist", group);
            return;
        }
        sc->listen_gid = (int)gr->gr_gid;
    }
    if (sc->listen_uid < 0 && sc->listen_gid < 0) {
        config_perr(ps, sc->key_line[SK_LISTEN_OWNER], "listen_owner: "
                    "expected user, user:group or :group, got \"%s\"",
                    sc->listen_owner);
    }
}

void
config_validate(struct config_parse *ps)
{
    struct config *cfg = ps->cfg;

    apply_global_defaults(ps);
    if (cfg->services == NULL) {
        config_perr(ps, ps->lineno, "no service defined (add a [name] section "
             "with listen and upstream)");
    }
    for (struct service_config *sc = cfg->services; sc; sc = sc->next) {
        apply_defaults(ps, sc);
        validate_addresses(ps, sc);
        validate_unix_perms(ps, sc);
        validate_tls(ps, sc);
        validate_auth(ps, sc);
        validate_iam(ps, sc);
        validate_pool(ps, sc);
        validate_cluster(ps, sc);
    }
    validate_cluster_ranges(ps);
    validate_dynamic_sources(ps);
    validate_owners(ps);
}

/* ip (IPv4 or IPv6 text, or localhost) is a loopback address. */
static bool
is_loopback(const char *host)
{
    unsigned char a[16];
    static const unsigned char v6lo[16] = {[15] = 1};

    if (host == NULL || host[0] == '\0' || strcmp(host, "localhost") == 0) {
        return true;
    }
    if (inet_pton(AF_INET, host, a) == 1) {
        return a[0] == 127;
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        return memcmp(a, v6lo, 16) == 0;
    }
    return false;
}

int
config_warnings(const struct config *cfg, char *out, size_t outlen)
{
    size_t used = 0;
    int n = 0, r;
    char at[PATH_MAX + 16];

    if (outlen > 0) {
        out[0] = '\0';
    }
    if (cfg->admin_listen != NULL) {
        char host[64];
        int port;

        if (config_split_hostport(cfg->admin_listen, host, sizeof(host),
                                  &port) == 0 && !is_loopback(host)) {
            r = snprintf(out + used, outlen - used, "%s: admin_listen: "
                         "warning: %s is not a loopback address; /metrics "
                         "and /readyz answer every host that reaches it\n",
                         config_where(cfg, cfg->global_line[GK_ADMIN_LISTEN],
                                      at, sizeof(at)), cfg->admin_listen);
            used += r > 0 && (size_t)r < outlen - used ? (size_t)r : 0;
            n++;
        }
    }
    for (const struct service_config *sc = cfg->services; sc != NULL;
         sc = sc->next) {
        size_t pl = sc->auth_password != NULL ? strlen(sc->auth_password)
                                              : 0;

        /* Trimming would change the secret: it is kept, and said. */
        if (sc->auth_password_file != NULL && pl > 0 &&
            (sc->auth_password[pl - 1] == ' ' ||
             sc->auth_password[pl - 1] == '\t')) {
            r = snprintf(out + used, outlen - used, "%s: "
                         "auth_password_file: warning: the password in %s "
                         "ends with a blank (space or tab); it is sent as "
                         "it is, blank included\n",
                         config_where(cfg, line_or_section(
                             sc, SK_AUTH_PASSWORD_FILE), at, sizeof(at)),
                         sc->auth_password_file);
            used += r > 0 && (size_t)r < outlen - used ? (size_t)r : 0;
            n++;
        }
        if (sc->listen_unix != NULL || sc->auth_password == NULL ||
            is_loopback(sc->listen_host)) {
            continue;
        }
        r = snprintf(out + used, outlen - used, "%s: listen: warning: "
                     "[%s] listens on %s, not a loopback address, and "
                     "injects AUTH: any host that reaches it gets an "
                     "authenticated session\n",
                     config_where(cfg, line_or_section(sc, SK_LISTEN), at,
                                  sizeof(at)), sc->name, sc->listen);
        used += r > 0 && (size_t)r < outlen - used ? (size_t)r : 0;
        n++;
    }
    return n;
}
