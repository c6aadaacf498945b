/*
 * config.c: the key table, typed values, and a config's life.
 *
 * ONE table (config_keys) lists every [global] and service key: its
 * section, type, field, default, bounds, and whether it applies only at
 * restart or is secret.  It drives parsing (config_set_key, called by
 * config_read.c for file lines, stunnel aliases, flags and defaults
 * alike), freeing (string fields walked, secrets wiped), the service
 * digest, the restart-only check, cli.c's flags and variables, and the
 * man page test.  This file also reports parse errors and notes
 * (config_perr, config_pnote: "FILE:LINE: ..."), counts references
 * (config_hold/config_free) and says what a reload cannot change
 * (config_restart_changes).  It is the bottom of the config stack:
 * config_read.c (lines, stunnel) and config_check.c (the whole) call it,
 * config_load.c calls them; nothing here calls back up.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_parse.h"

/* Enum fields are stored as int. */
_Static_assert(sizeof(enum verify_mode) == sizeof(int), "verify_mode");
_Static_assert(sizeof(enum upstream_role) == sizeof(int), "upstream_role");
_Static_assert(sizeof(enum log_level) == sizeof(int), "log_level");

static const struct config_choice verify_choices[] = {
    {"full", VERIFY_FULL, false},
    {"chain", VERIFY_CHAIN, false},
    {"none", VERIFY_NONE, false},
    {NULL, 0, false},
};

static const struct config_choice tls_choices[] = {
    {"1.2", TLS1_2_VERSION, false},
    {"1.3", TLS1_3_VERSION, false},
    {"TLSv1.2", TLS1_2_VERSION, true},
    {"TLSv1.3", TLS1_3_VERSION, true},
    {NULL, 0, false},
};

static const struct config_choice mode_choices[] = {
    {"single", MODE_SINGLE, false},
    {"cluster", MODE_CLUSTER, false},
    {NULL, 0, false},
};

static const struct config_choice pool_mode_choices[] = {
    {"session", POOL_SESSION, false},
    {"shared", POOL_SHARED, false},
    {NULL, 0, false},
};

static const struct config_choice role_choices[] = {
    {"primary", ROLE_PRIMARY, false},
    {"replica", ROLE_REPLICA, false},
    {"any", ROLE_ANY, false},
    {"master", ROLE_PRIMARY, true},
    {"slave", ROLE_REPLICA, true},
    {NULL, 0, false},
};

#define GOFF(f) offsetof(struct config, f)
#define SOFF(f) offsetof(struct service_config, f)
#define SK(k) [CONFIG_KEY_OF_SK(k)]

const struct config_key config_keys[CONFIG_NKEYS] = {
    /* [global]: name, global, type, field, default, min, max, range,
     * choices, hint, flags.  Their strings are VERBATIM: [global] values
     * were never ${NAME}-expanded (paths and names taken as written). */
    [GK_LOG_LEVEL] = {"log_level", true, CONFIG_T_LOG_LEVEL,
        GOFF(log_level), "info", 0, 0, NULL, NULL, NULL, 0},
    [GK_RESOLV_CONF] = {"resolv_conf", true, CONFIG_T_STRING,
        GOFF(resolv_conf), "/etc/resolv.conf", 0, 0, NULL, NULL, NULL,
        CONFIG_KEY_RESTART | CONFIG_KEY_VERBATIM},
    [GK_SHUTDOWN_TIMEOUT] = {"shutdown_timeout", true, CONFIG_T_DURATION,
        GOFF(shutdown_timeout), "30s", 0, 86400, "0 to 24h", NULL, NULL, 0},
    [GK_ADMIN_LISTEN] = {"admin_listen", true, CONFIG_T_ADDR4,
        GOFF(admin_listen), NULL, 0, 0, NULL, NULL, NULL,
        CONFIG_KEY_RESTART | CONFIG_KEY_VERBATIM},
    [GK_USER] = {"user", true, CONFIG_T_STRING, GOFF(user), NULL, 0, 0,
        NULL, NULL, NULL, CONFIG_KEY_RESTART | CONFIG_KEY_VERBATIM},
    [GK_GROUP] = {"group", true, CONFIG_T_STRING, GOFF(group), NULL, 0, 0,
        NULL, NULL, NULL, CONFIG_KEY_RESTART | CONFIG_KEY_VERBATIM},
    [GK_PID_FILE] = {"pid_file", true, CONFIG_T_STRING, GOFF(pid_file),
        NULL, 0, 0, NULL, NULL, NULL,
        CONFIG_KEY_RESTART | CONFIG_KEY_VERBATIM},
    [GK_LOG_FILE] = {"log_file", true, CONFIG_T_STRING, GOFF(log_file),
        NULL, 0, 0, NULL, NULL, NULL,
        CONFIG_KEY_RESTART | CONFIG_KEY_VERBATIM},
    [GK_ALLOW_ROOT] = {"allow_root", true, CONFIG_T_BOOL, GOFF(allow_root),
        "no", 0, 0, NULL, NULL, NULL,
        CONFIG_KEY_RESTART | CONFIG_KEY_ANY_MODE},
    [GK_WORKERS] = {"workers", true, CONFIG_T_CPUS, GOFF(workers), "1",
        1, CONFIG_WORKERS_MAX, NULL, NULL, NULL, CONFIG_KEY_RESTART},
    [GK_BUSY_POLL] = {"busy_poll", true, CONFIG_T_DURATION, GOFF(busy_poll),
        "0", 0, 0.01, "0 (off) to 10ms", NULL, NULL, CONFIG_KEY_RESTART},
    [GK_ALLOW_CORE_DUMPS] = {"allow_core_dumps", true, CONFIG_T_BOOL,
        GOFF(allow_core_dumps), "no", 0, 0, NULL, NULL, NULL,
        CONFIG_KEY_RESTART},

    /* Service sections. */
    SK(SK_LISTEN) = {"listen", false, CONFIG_T_STRING, SOFF(listen), NULL,
        0, 0, NULL, NULL, NULL, 0},
    SK(SK_UPSTREAM) = {"upstream", false, CONFIG_T_STRING, SOFF(upstream),
        NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_VERIFY_HOST) = {"verify_host", false, CONFIG_T_STRING,
        SOFF(verify_host), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_SNI) = {"sni", false, CONFIG_T_STRING, SOFF(sni), NULL, 0, 0,
        NULL, NULL, NULL, 0},
    SK(SK_VERIFY) = {"verify", false, CONFIG_T_ENUM, SOFF(verify), "full",
        0, 0, NULL, verify_choices, NULL, 0},
    SK(SK_INSECURE) = {"insecure", false, CONFIG_T_BOOL, SOFF(insecure),
        "no", 0, 0, NULL, NULL, NULL, 0},
    SK(SK_CA_FILE) = {"ca_file", false, CONFIG_T_STRING, SOFF(ca_file),
        NULL, 0, 0, NULL, NULL, NULL, CONFIG_KEY_FILE},
    SK(SK_CA_PATH) = {"ca_path", false, CONFIG_T_STRING, SOFF(ca_path),
        NULL, 0, 0, NULL, NULL, NULL, CONFIG_KEY_DIR},
    SK(SK_CERT_FILE) = {"cert_file", false, CONFIG_T_STRING,
        SOFF(cert_file), NULL, 0, 0, NULL, NULL, NULL, CONFIG_KEY_FILE},
    SK(SK_KEY_FILE) = {"key_file", false, CONFIG_T_STRING, SOFF(key_file),
        NULL, 0, 0, NULL, NULL, NULL, CONFIG_KEY_FILE},
    SK(SK_TLS_MIN_VERSION) = {"tls_min_version", false, CONFIG_T_ENUM,
        SOFF(tls_min_version), "1.2", 0, 0, NULL, tls_choices,
        " (older versions are not supported)", 0},
    SK(SK_CIPHERS) = {"ciphers", false, CONFIG_T_STRING, SOFF(ciphers),
        NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_CIPHERSUITES) = {"ciphersuites", false, CONFIG_T_STRING,
        SOFF(ciphersuites), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_AUTH_USER) = {"auth_user", false, CONFIG_T_STRING,
        SOFF(auth_user), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_AUTH_PASSWORD_FILE) = {"auth_password_file", false,
        CONFIG_T_STRING, SOFF(auth_password_file), NULL, 0, 0, NULL, NULL,
        NULL, 0},
    SK(SK_AUTH_PASSWORD_ENV) = {"auth_password_env", false,
        CONFIG_T_STRING, SOFF(auth_password_env), NULL, 0, 0, NULL, NULL,
        NULL, 0},
    SK(SK_CONNECT_TIMEOUT) = {"connect_timeout", false, CONFIG_T_DURATION,
        SOFF(connect_timeout), "5s", 0.001, 3600, NULL, NULL, NULL, 0},
    SK(SK_HANDSHAKE_TIMEOUT) = {"handshake_timeout", false,
        CONFIG_T_DURATION, SOFF(handshake_timeout), "5s", 0.001, 3600, NULL,
        NULL, NULL, 0},
    SK(SK_CLIENT_IDLE_TIMEOUT) = {"client_idle_timeout", false,
        CONFIG_T_DURATION, SOFF(client_idle_timeout), "0", 0, 604800, NULL,
        NULL, NULL, 0},
    SK(SK_MAX_CLIENTS) = {"max_clients", false, CONFIG_T_INT,
        SOFF(max_clients), "1024", 1, 1000000, NULL, NULL, NULL, 0},
    SK(SK_BUFFER_LIMIT) = {"buffer_limit", false, CONFIG_T_SIZE,
        SOFF(buffer_limit), "256k", 1024, 1073741824.0, NULL, NULL, NULL, 0},
    SK(SK_POOL_MIN_IDLE) = {"pool_min_idle", false, CONFIG_T_INT,
        SOFF(pool_min_idle), "2", 0, 10000, NULL, NULL, NULL, 0},
    SK(SK_POOL_MAX_IDLE) = {"pool_max_idle", false, CONFIG_T_INT_AUTO,
        SOFF(pool_max_idle), "auto", 0, 10000, NULL, NULL, NULL, 0},
    SK(SK_LINK_MAX_LIFETIME) = {"link_max_lifetime", false,
        CONFIG_T_DURATION, SOFF(link_max_lifetime), "1h", 0, 604800, NULL,
        NULL, NULL, 0},
    SK(SK_LINK_IDLE_CHECK) = {"link_idle_check", false, CONFIG_T_DURATION,
        SOFF(link_idle_check), "30s", 0, 86400, NULL, NULL, NULL, 0},
    SK(SK_DRAIN_TIMEOUT) = {"drain_timeout", false, CONFIG_T_DURATION,
        SOFF(drain_timeout), "2s", 0.01, 3600, NULL, NULL, NULL, 0},
    SK(SK_ROLE) = {"role", false, CONFIG_T_ENUM, SOFF(role), "any", 0, 0,
        NULL, role_choices, NULL, 0},
    SK(SK_DNS_REFRESH) = {"dns_refresh", false, CONFIG_T_DURATION,
        SOFF(dns_refresh), "5s", 0, 86400, NULL, NULL, NULL, 0},
    SK(SK_LISTEN_MODE) = {"listen_mode", false, CONFIG_T_MODE,
        SOFF(listen_mode), NULL, 0, 0777, NULL, NULL, NULL, 0},
    SK(SK_LISTEN_OWNER) = {"listen_owner", false, CONFIG_T_STRING,
        SOFF(listen_owner), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_IAM_USER_ID) = {"iam_user_id", false, CONFIG_T_STRING,
        SOFF(iam_user_id), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_IAM_CACHE_NAME) = {"iam_cache_name", false, CONFIG_T_STRING,
        SOFF(iam_cache_name), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_IAM_REGION) = {"iam_region", false, CONFIG_T_STRING,
        SOFF(iam_region), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_IAM_SERVERLESS) = {"iam_serverless", false, CONFIG_T_BOOL,
        SOFF(iam_serverless), "no", 0, 0, NULL, NULL, NULL, 0},
    SK(SK_AWS_PROFILE) = {"aws_profile", false, CONFIG_T_STRING,
        SOFF(aws_profile), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_IAM_REAUTH_INTERVAL) = {"iam_reauth_interval", false,
        CONFIG_T_DURATION, SOFF(iam_reauth_interval), "11h", 1, 42600,
        NULL, NULL, NULL, 0},
    SK(SK_MODE) = {"mode", false, CONFIG_T_ENUM, SOFF(mode), "single", 0, 0,
        NULL, mode_choices, NULL, 0},
    SK(SK_CLUSTER_PORTS) = {"cluster_ports", false, CONFIG_T_STRING,
        SOFF(cluster_ports), NULL, 0, 0, NULL, NULL, NULL, 0},
    SK(SK_CLUSTER_REFRESH) = {"cluster_refresh", false, CONFIG_T_DURATION,
        SOFF(cluster_refresh), "30s", 1, 86400, NULL, NULL, NULL, 0},
    SK(SK_POOL_MODE) = {"pool_mode", false, CONFIG_T_ENUM, SOFF(pool_mode),
        "session", 0, 0, NULL, pool_mode_choices, NULL, 0},
};

/* Owned strings of a service that no key sets (derived in validation). */
static const struct {
    size_t offset;          /* char * field in struct service_config */
    bool secret;            /* wiped before it is freed */
} service_derived[] = {
    {SOFF(name), false},
    {SOFF(listen_host), false},
    {SOFF(listen_unix), false},
    {SOFF(upstream_host), false},
    {SOFF(auth_password), true},
    {SOFF(iam_access_key), false},
    {SOFF(iam_secret_key), true},
    {SOFF(iam_session_token), true},
    {SOFF(iam_creds_source), false},
    {SOFF(iam_role_arn), false},
    {SOFF(iam_token_file), false},
    {SOFF(iam_role_session_name), false},
};

int
config_key_find(const char *name, bool global)
{
    for (int i = global ? 0 : GK_COUNT; i < (global ? GK_COUNT
                                                     : CONFIG_NKEYS); i++) {
        if (strcmp(name, config_keys[i].name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *
config_key_name(enum service_key key)
{
    return config_keys[CONFIG_KEY_OF_SK(key)].name;
}

bool
config_is_key(const char *k)
{
    return config_key_find(k, true) >= 0 || config_key_find(k, false) >= 0;
}

/* ------------------------------------------------------------ typed values */

void
config_vperr(struct config_parse *ps, int line, const char *fmt, va_list ap)
{
    int n;

    ps->nerrors++;
    if (ps->errused + 1 >= ps->errlen ||
        ps->replaying == CONFIG_REPLAY_QUIET) {
        return;     /* full, or already said for the first section */
    }
    if (ps->origins != NULL && line > 0 && line < ps->norigins &&
        ps->origins[line] != NULL) {
        /* From flags or the environment: name that, not a line. */
        n = snprintf(ps->err + ps->errused, ps->errlen - ps->errused,
                     "%s: ", ps->origins[line]);
    } else {
        char at[PATH_MAX + 16];

        n = snprintf(ps->err + ps->errused, ps->errlen - ps->errused,
                     "%s: ", config_where(ps->cfg, line, at, sizeof(at)));
    }
    if (n > 0) {
        ps->errused += (size_t)n;
    }
    if (ps->errused + 1 >= ps->errlen) {
        ps->errused = ps->errlen - 1;
        return;
    }
    n = vsnprintf(ps->err + ps->errused, ps->errlen - ps->errused, fmt, ap);
    if (n > 0) {
        ps->errused += (size_t)n;
    }
    if (ps->errused + 2 >= ps->errlen) {
        ps->errused = ps->errlen - 2;
    }
    ps->err[ps->errused++] = '\n';
    ps->err[ps->errused] = '\0';
}

void
config_perr(struct config_parse *ps, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    config_vperr(ps, line, fmt, ap);
    va_end(ap);
}

/* config_vnote(ps, line, fmt, ap): records what a stunnel key became.  The
 * line is sized to fit (a long config path once overflowed a fixed
 * buffer here). */
void
config_vnote(struct config_parse *ps, int line, const char *fmt, va_list ap)
{
    size_t old = ps->cfg->notes ? strlen(ps->cfg->notes) : 0;
    char *grown, at[PATH_MAX + 16];
    va_list again;
    int head, body;

    if (ps->replaying) {
        return;
    }
    config_where(ps->cfg, line, at, sizeof(at));
    head = snprintf(NULL, 0, "%s: ", at);
    va_copy(again, ap);
    body = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (head < 0 || body < 0) {
        return;
    }
    grown = realloc(ps->cfg->notes, old + (size_t)head + (size_t)body + 2);
    if (grown == NULL) {
        return;
    }
    ps->cfg->notes = grown;
    snprintf(grown + old, (size_t)head + 1, "%s: ", at);
    vsnprintf(grown + old + head, (size_t)body + 1, fmt, ap);
    grown[old + (size_t)head + (size_t)body] = '\n';
    grown[old + (size_t)head + (size_t)body + 1] = '\0';
}

void
config_pnote(struct config_parse *ps, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    config_vnote(ps, line, fmt, ap);
    va_end(ap);
}

const char *
config_where(const struct config *cfg, int line, char *buf, size_t buflen)
{
    const char *path = cfg->file != NULL ? cfg->file : "?";
    int local = line;

    for (int i = 0; i < cfg->nsegments; i++) {
        if (cfg->segments[i].first > line) {
            break;
        }
        path = cfg->segments[i].path;
        local = line - cfg->segments[i].offset;
    }
    snprintf(buf, buflen, "%s:%d", path, local);
    return buf;
}


const char *
config_origin(const struct config_parse *ps, int line, char *buf,
              size_t buflen)
{
    if (ps->origins != NULL && line > 0 && line < ps->norigins &&
        ps->origins[line] != NULL) {
        snprintf(buf, buflen, "%s", ps->origins[line]);
    } else {
        config_where(ps->cfg, line, buf, buflen);
    }
    return buf;
}

/* Frees a string field, wiping it first when it is secret. */
static void
free_string(char **field, bool secret)
{
    if (*field != NULL && secret) {
        OPENSSL_cleanse(*field, strlen(*field));
    }
    free(*field);
    *field = NULL;
}

/* "a, b or c": the names an enum key lists in its messages. */
static void
choice_list(const struct config_choice *c, char *buf, size_t buflen)
{
    int n = 0, listed = 0;

    for (int i = 0; c[i].name != NULL; i++) {
        n += !c[i].alias;
    }
    buf[0] = '\0';
    for (int i = 0; c[i].name != NULL; i++) {
        size_t used = strlen(buf);

        if (c[i].alias) {
            continue;
        }
        snprintf(buf + used, buflen - used, "%s%s",
                 listed == 0 ? "" : listed == n - 1 ? " or " : ", ",
                 c[i].name);
        listed++;
    }
}

/* A string key's value: ${NAME} expanded unless verbatim; then copied. */
static int
set_string(struct config_parse *ps, const struct config_key *kd,
           char **field, const char *value, int line)
{
    char expanded[CONFIG_READ_LINE_MAX], missing[128];
    const char *text = value;
    char *copy;

    if (!(kd->flags & CONFIG_KEY_VERBATIM)) {
        int r = config_expand_env(value, expanded, sizeof(expanded),
                                  missing, sizeof(missing));

        if (r == -2) {
            config_perr(ps, line, "%s: \"${\" without a closing \"}\"",
                        kd->name);
            return -1;
        }
        if (r < 0) {
            config_perr(ps, line, "%s: ${%s} is not set in the "
                        "environment%s", kd->name, missing,
                        strcmp(missing, "CREDENTIALS_DIRECTORY") == 0
                            ? " (systemd sets it for LoadCredential=; to "
                              "check the file outside systemd, set it to "
                              "the directory holding the credentials: "
                              "CREDENTIALS_DIRECTORY=DIR redsleeve -c FILE "
                              "-t)" : "");
            return -1;
        }
        text = expanded;
    }
    copy = strdup(text);
    if (kd->flags & CONFIG_KEY_SECRET) {
        OPENSSL_cleanse(expanded, sizeof(expanded));
    }
    if (copy == NULL) {
        config_perr(ps, line, "%s: out of memory", kd->name);
        return -1;
    }
    free_string(field, (kd->flags & CONFIG_KEY_SECRET) != 0);
    *field = copy;
    return 0;
}

int
config_set_key(struct config_parse *ps, void *base, int key,
               const char *value, int line)
{
    const struct config_key *kd = &config_keys[key];
    char *field = (char *)base + kd->offset;
    double d;
    long l;
    size_t z;
    bool b;

    switch (kd->type) {
    case CONFIG_T_STRING:
        return set_string(ps, kd, (char **)field, value, line);
    case CONFIG_T_ADDR4: {
        char host[64];
        int port;
        unsigned char a4[4];

        if (config_split_hostport(value, host, sizeof(host), &port) < 0 ||
            inet_pton(AF_INET, host[0] ? host : "127.0.0.1", a4) != 1) {
            config_perr(ps, line, "%s: expected IPv4-address:port (e.g. "
                        "127.0.0.1:9121), got \"%s\"", kd->name, value);
            return -1;
        }
        return set_string(ps, kd, (char **)field, value, line);
    }
    case CONFIG_T_BOOL:
        if (config_parse_bool(value, &b) < 0) {
            config_perr(ps, line, "%s: expected yes or no, got \"%s\"",
                        kd->name, value);
            return -1;
        }
        *(bool *)field = b;
        return 0;
    case CONFIG_T_DURATION:
        if (config_parse_duration(value, &d) < 0 ||
            (kd->range != NULL && (d < kd->min || d > kd->max))) {
            if (kd->range != NULL) {
                config_perr(ps, line, "%s: expected a duration from %s, "
                            "got \"%s\"", kd->name, kd->range, value);
            } else {
                config_perr(ps, line, "%s: expected a duration such as 5s "
                            "or 500ms, got \"%s\"", kd->name, value);
            }
            return -1;
        }
        if (d < kd->min || d > kd->max) {
            config_perr(ps, line, "%s: %s is out of range (%gs to %gs)",
                        kd->name, value, kd->min, kd->max);
            return -1;
        }
        *(double *)field = d;
        return 0;
    case CONFIG_T_INT:
    case CONFIG_T_INT_AUTO:
    case CONFIG_T_CPUS:
        if (kd->type != CONFIG_T_INT && strcmp(value, "auto") == 0) {
            l = -1;
            if (kd->type == CONFIG_T_CPUS) {
                l = sysconf(_SC_NPROCESSORS_ONLN);
                l = l < kd->min ? (long)kd->min
                    : l > kd->max ? (long)kd->max : l;
            }
            *(int *)field = (int)l;
            return 0;
        }
        if (config_parse_long(value, &l) < 0 || l < kd->min ||
            l > kd->max) {
            config_perr(ps, line, "%s: expected %sa whole number from %.0f "
                        "to %.0f, got \"%s\"", kd->name,
                        kd->type != CONFIG_T_INT ? "auto or " : "",
                        kd->min, kd->max, value);
            return -1;
        }
        *(int *)field = (int)l;
        return 0;
    case CONFIG_T_SIZE:
        if (config_parse_size(value, &z) < 0 || (double)z < kd->min ||
            (double)z > kd->max) {
            config_perr(ps, line, "%s: expected a size from 1k to 1g (such "
                        "as 256k), got \"%s\"", kd->name, value);
            return -1;
        }
        *(size_t *)field = z;
        return 0;
    case CONFIG_T_ENUM: {
        char list[128];

        for (int i = 0; kd->choices[i].name != NULL; i++) {
            if (strcmp(value, kd->choices[i].name) == 0) {
                *(int *)field = kd->choices[i].value;
                return 0;
            }
        }
        choice_list(kd->choices, list, sizeof(list));
        config_perr(ps, line, "%s: expected %s, got \"%s\"%s", kd->name,
                    list, value, kd->hint != NULL ? kd->hint : "");
        return -1;
    }
    case CONFIG_T_MODE: {
        char *end;

        errno = 0;
        l = strtol(value, &end, 8);
        if (end == value || *end != '\0' || errno != 0 || l < kd->min ||
            l > kd->max) {
            config_perr(ps, line, "%s: expected an octal mode such as 0660, "
                        "got \"%s\"", kd->name, value);
            return -1;
        }
        *(int *)field = (int)l;
        return 0;
    }
    case CONFIG_T_LOG_LEVEL:
        if (log_level_parse(value, (enum log_level *)field) < 0) {
            config_perr(ps, line, "%s: expected error, warn, info or debug, "
                        "got \"%s\"", kd->name, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* Bytes of a non-string field of type t. */
static size_t
field_size(enum config_type t)
{
    switch (t) {
    case CONFIG_T_BOOL:
        return sizeof(bool);
    case CONFIG_T_DURATION:
        return sizeof(double);
    case CONFIG_T_SIZE:
        return sizeof(size_t);
    default:
        return sizeof(int);
    }
}

static bool
is_string(enum config_type t)
{
    return t == CONFIG_T_STRING || t == CONFIG_T_ADDR4;
}

/* ------------------------------------------------------------ loading */

/* Frees the string fields of base that the table's keys of one kind
 * (global or not) own, wiping secrets. */
static void
free_key_strings(void *base, bool global)
{
    for (int i = global ? 0 : GK_COUNT;
         i < (global ? GK_COUNT : CONFIG_NKEYS); i++) {
        const struct config_key *kd = &config_keys[i];

        if (is_string(kd->type)) {
            free_string((char **)((char *)base + kd->offset),
                        (kd->flags & CONFIG_KEY_SECRET) != 0);
        }
    }
}

void
config_service_free(struct service_config *sc)
{
    if (sc == NULL) {
        return;
    }
    free_key_strings(sc, false);
    for (size_t i = 0; i < sizeof(service_derived) /
                               sizeof(service_derived[0]); i++) {
        free_string((char **)((char *)sc + service_derived[i].offset),
                    service_derived[i].secret);
    }
    free(sc);
}

/* Replaces *field with a copy of itself (NULL stays NULL); after an
 * earlier failure (bad), with NULL: the clone never frees a string of the
 * original.  1 on ENOMEM (the field is then NULL), else bad. */
static int
dup_field(char **field, int bad)
{
    if (bad || *field == NULL) {
        *field = NULL;
        return bad;
    }
    *field = strdup(*field);
    return *field == NULL;
}

struct service_config *
config_service_clone(const struct service_config *sc)
{
    struct service_config *c = malloc(sizeof(*c));
    int bad = 0;

    if (c == NULL) {
        return NULL;
    }
    memcpy(c, sc, sizeof(*c));
    c->next = NULL;
    for (int i = GK_COUNT; i < CONFIG_NKEYS; i++) {
        if (is_string(config_keys[i].type)) {
            bad = dup_field((char **)((char *)c + config_keys[i].offset),
                            bad);
        }
    }
    for (size_t i = 0; i < sizeof(service_derived) /
                               sizeof(service_derived[0]); i++) {
        bad = dup_field((char **)((char *)c + service_derived[i].offset),
                        bad);
    }
    if (bad) {
        config_service_free(c);     /* every field is ours or NULL */
        return NULL;
    }
    return c;
}

struct config *
config_hold(struct config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void
config_free(struct config *cfg)
{
    struct service_config *sc, *next;

    if (cfg == NULL) {
        return;
    }
    /* acq_rel: the last holder sees every other holder's reads done. */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1,
                                  memory_order_acq_rel) != 1) {
        return;
    }
    for (sc = cfg->services; sc != NULL; sc = next) {
        next = sc->next;
        config_service_free(sc);
    }
    free_key_strings(cfg, true);
    free(cfg->file);
    free(cfg->notes);
    for (int i = 0; i < cfg->nsegments; i++) {
        free(cfg->segments[i].path);
    }
    free(cfg->segments);
    free(cfg);
}

/* The value of key kd in base, printable (secrets are not shown). */
static const char *
format_value(const struct config_key *kd, const void *base, char *buf,
             size_t buflen)
{
    const char *field = (const char *)base + kd->offset;

    if (kd->flags & CONFIG_KEY_SECRET) {
        return "(secret)";
    }
    switch (kd->type) {
    case CONFIG_T_STRING:
    case CONFIG_T_ADDR4:
        return *(char *const *)field != NULL ? *(char *const *)field
                                             : "(unset)";
    case CONFIG_T_BOOL:
        return *(const bool *)field ? "yes" : "no";
    case CONFIG_T_DURATION:
        snprintf(buf, buflen, "%.0fus", *(const double *)field * 1e6);
        return buf;
    case CONFIG_T_SIZE:
        snprintf(buf, buflen, "%zu", *(const size_t *)field);
        return buf;
    case CONFIG_T_ENUM:
        for (int i = 0; kd->choices[i].name != NULL; i++) {
            if (kd->choices[i].value == *(const int *)field) {
                return kd->choices[i].name;
            }
        }
        break;
    case CONFIG_T_LOG_LEVEL:
        return log_level_name(*(const enum log_level *)field);
    default:
        break;
    }
    snprintf(buf, buflen, "%d", *(const int *)field);
    return buf;
}

/* Key kd has the same value in a and b. */
static bool
same_value(const struct config_key *kd, const void *a, const void *b)
{
    const char *fa = (const char *)a + kd->offset;
    const char *fb = (const char *)b + kd->offset;

    if (is_string(kd->type)) {
        const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;

        return (sa == NULL) == (sb == NULL) &&
               (sa == NULL || strcmp(sa, sb) == 0);
    }
    if (kd->type == CONFIG_T_DURATION) {
        return *(const double *)fa == *(const double *)fb;
    }
    return memcmp(fa, fb, field_size(kd->type)) == 0;
}

void
config_restart_changes(const struct config *running,
                       const struct config *next,
                       void (*cb)(void *arg, const char *key,
                                  const char *running_value),
                       void *arg)
{
    for (int i = 0; i < GK_COUNT; i++) {
        const struct config_key *kd = &config_keys[i];
        char buf[64];

        if ((kd->flags & CONFIG_KEY_RESTART) &&
            !same_value(kd, running, next)) {
            cb(arg, kd->name, format_value(kd, running, buf, sizeof(buf)));
        }
    }
}

/* ------------------------------------------------------------ digest */

/* Feeds one string (NULL and "" told apart) into the digest. */
static void
digest_str(EVP_MD_CTX *md, const char *v)
{
    size_t n = v != NULL ? strlen(v) + 1 : 0;

    EVP_DigestUpdate(md, &n, sizeof(n));
    if (v != NULL) {
        EVP_DigestUpdate(md, v, n);
    }
}

/* Feeds a file's bytes, or its error, into the digest. */
static void
digest_file(EVP_MD_CTX *md, const char *path)
{
    char buf[4096];
    size_t n;
    FILE *f;

    if (path == NULL) {
        return;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        digest_str(md, strerror(errno));
        return;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(md, buf, n);
    }
    fclose(f);
    OPENSSL_cleanse(buf, sizeof(buf));
}

/* A CA directory: the names, sizes and times of its entries. */
static void
digest_dir(EVP_MD_CTX *md, const char *path)
{
    struct dirent **ents = NULL;
    int n;

    if (path == NULL) {
        return;
    }
    n = scandir(path, &ents, NULL, alphasort);
    if (n < 0) {
        digest_str(md, strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        char full[PATH_MAX];
        struct stat st;

        snprintf(full, sizeof(full), "%s/%s", path, ents[i]->d_name);
        digest_str(md, ents[i]->d_name);
        if (stat(full, &st) == 0) {
            EVP_DigestUpdate(md, &st.st_size, sizeof(st.st_size));
            EVP_DigestUpdate(md, &st.st_mtim, sizeof(st.st_mtim));
        }
        free(ents[i]);
    }
    free(ents);
}


int
config_service_digest(const struct service_config *sc,
                      unsigned char out[CONFIG_DIGEST_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    digest_str(md, sc->name);
    /* Every service key, by the table; what validation derives from
     * them (hosts, ports, uid) follows from these. */
    for (int i = GK_COUNT; i < CONFIG_NKEYS; i++) {
        const struct config_key *kd = &config_keys[i];
        const char *field = (const char *)sc + kd->offset;

        if (is_string(kd->type)) {
            digest_str(md, *(char *const *)field);
        } else {
            EVP_DigestUpdate(md, field, field_size(kd->type));
        }
    }
    digest_str(md, sc->auth_password);
    digest_str(md, sc->iam_access_key);
    digest_str(md, sc->iam_secret_key);
    digest_str(md, sc->iam_session_token);
    EVP_DigestUpdate(md, &sc->iam_dynamic, sizeof(sc->iam_dynamic));
    digest_str(md, sc->iam_creds_source);
    digest_str(md, sc->iam_role_arn);
    digest_str(md, sc->iam_token_file);
    digest_str(md, sc->iam_role_session_name);
    for (int i = GK_COUNT; i < CONFIG_NKEYS; i++) {
        const struct config_key *kd = &config_keys[i];
        const char *path;

        if (!(kd->flags & (CONFIG_KEY_FILE | CONFIG_KEY_DIR))) {
            continue;
        }
        path = *(char *const *)((const char *)sc + kd->offset);
        if (kd->flags & CONFIG_KEY_FILE) {
            digest_file(md, path);
        } else {
            digest_dir(md, path);
        }
    }
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    return len == CONFIG_DIGEST_LEN ? 0 : -1;
}

void
config_key_error(const struct config *cfg, const struct service_config *sc,
                 enum service_key key, const char *msg, char *out,
                 size_t outlen)
{
    int line = sc->key_line[key] ? sc->key_line[key] : sc->section_line;
    char at[PATH_MAX + 16];

    /* config_where: the key may stand in a file include = DIR read. */
    snprintf(out, outlen, "%s: %s: %s", config_where(cfg, line, at,
                                                     sizeof(at)),
             config_key_name(key), msg);
}
