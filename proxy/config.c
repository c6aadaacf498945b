/*
 * config.c: INI file -> struct config, with defaults and validation.
 *
 * One key table drives parsing, defaults and error messages.  Every error
 * names the file, the line and the key; parsing goes on after an error so
 * that one run reports every problem.  Secrets are loaded here (so that a
 * missing password file stops start-up) and wiped in config_free().
 *
 * inih is fed through our own line reader, which counts lines (the library
 * does not report them), strips leading blanks (so indented keys, as in
 * stunnel files, are plain keys and never inih "continuation lines") and
 * refuses over-long lines instead of letting them be cut silently.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <dirent.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GLOBAL_SECTION "global"

const char *const config_global_keys[CONFIG_NGLOBAL] = {
    "log_level", "resolv_conf", "shutdown_timeout", "admin_listen", "user",
    "group", "pid_file", "log_file", "allow_root", "workers", "busy_poll",
};
#define READ_LINE_MAX 4096          /* our reader's own line buffer */
#define SECRET_MAX 1024             /* longest password accepted */
#define MAX_SECTIONS 256            /* sections remembered for duplicates */

enum key_type {
    KT_STRING,      /* any non-empty text */
    KT_BOOL,        /* yes/no/true/false/on/off/1/0 */
    KT_DURATION,    /* config_parse_duration(), bounded by min..max */
    KT_INT,         /* integer, bounded by min..max */
    KT_SIZE,        /* config_parse_size(), bounded by min..max */
    KT_VERIFY,      /* full | chain | none */
    KT_TLSVER,      /* 1.2 | 1.3 */
    KT_ROLE         /* primary | replica | any */
};

struct key_def {
    const char *name;       /* INI spelling, also the README's */
    enum key_type type;     /* how the value is parsed */
    size_t offset;          /* field in struct service_config */
    const char *def;        /* default as text, NULL = unset */
    double min, max;        /* bounds for numbers */
};

#define OFF(f) offsetof(struct service_config, f)

static const struct key_def service_keys[SK_COUNT] = {
    [SK_LISTEN] = {"listen", KT_STRING, OFF(listen), NULL, 0, 0},
    [SK_UPSTREAM] = {"upstream", KT_STRING, OFF(upstream), NULL, 0, 0},
    [SK_VERIFY_HOST] = {"verify_host", KT_STRING, OFF(verify_host), NULL, 0, 0},
    [SK_SNI] = {"sni", KT_STRING, OFF(sni), NULL, 0, 0},
    [SK_VERIFY] = {"verify", KT_VERIFY, OFF(verify), "full", 0, 0},
    [SK_INSECURE] = {"insecure", KT_BOOL, OFF(insecure), "no", 0, 0},
    [SK_CA_FILE] = {"ca_file", KT_STRING, OFF(ca_file), NULL, 0, 0},
    [SK_CA_PATH] = {"ca_path", KT_STRING, OFF(ca_path), NULL, 0, 0},
    [SK_CERT_FILE] = {"cert_file", KT_STRING, OFF(cert_file), NULL, 0, 0},
    [SK_KEY_FILE] = {"key_file", KT_STRING, OFF(key_file), NULL, 0, 0},
    [SK_TLS_MIN_VERSION] = {"tls_min_version", KT_TLSVER,
                            OFF(tls_min_version), "1.2", 0, 0},
    [SK_CIPHERS] = {"ciphers", KT_STRING, OFF(ciphers), NULL, 0, 0},
    [SK_CIPHERSUITES] = {"ciphersuites", KT_STRING, OFF(ciphersuites),
                         NULL, 0, 0},
    [SK_AUTH_USER] = {"auth_user", KT_STRING, OFF(auth_user), NULL, 0, 0},
    [SK_AUTH_PASSWORD_FILE] = {"auth_password_file", KT_STRING,
                               OFF(auth_password_file), NULL, 0, 0},
    [SK_AUTH_PASSWORD_ENV] = {"auth_password_env", KT_STRING,
                              OFF(auth_password_env), NULL, 0, 0},
    [SK_CONNECT_TIMEOUT] = {"connect_timeout", KT_DURATION,
                            OFF(connect_timeout), "5s", 0.001, 3600},
    [SK_HANDSHAKE_TIMEOUT] = {"handshake_timeout", KT_DURATION,
                              OFF(handshake_timeout), "5s", 0.001, 3600},
    [SK_CLIENT_IDLE_TIMEOUT] = {"client_idle_timeout", KT_DURATION,
                                OFF(client_idle_timeout), "0", 0, 604800},
    [SK_MAX_CLIENTS] = {"max_clients", KT_INT, OFF(max_clients), "1024",
                        1, 1000000},
    [SK_BUFFER_LIMIT] = {"buffer_limit", KT_SIZE, OFF(buffer_limit), "256k",
                         1024, 1073741824.0},
    [SK_POOL_MIN_IDLE] = {"pool_min_idle", KT_INT, OFF(pool_min_idle), "2",
                          0, 10000},
    [SK_POOL_MAX_IDLE] = {"pool_max_idle", KT_INT, OFF(pool_max_idle), "16",
                          0, 10000},
    [SK_LINK_MAX_LIFETIME] = {"link_max_lifetime", KT_DURATION,
                              OFF(link_max_lifetime), "1h", 0, 604800},
    [SK_LINK_IDLE_CHECK] = {"link_idle_check", KT_DURATION,
                            OFF(link_idle_check), "30s", 0, 86400},
    [SK_DRAIN_TIMEOUT] = {"drain_timeout", KT_DURATION, OFF(drain_timeout),
                          "2s", 0.01, 3600},
    [SK_ROLE] = {"role", KT_ROLE, OFF(role), "any", 0, 0},
    [SK_DNS_REFRESH] = {"dns_refresh", KT_DURATION, OFF(dns_refresh), "5s",
                        0, 86400},
};

/* What the parser carries between inih callbacks. */
struct parse_state {
    const char *path;               /* ref: file name for messages */
    FILE *fp;                       /* ref: the open file */
    int lineno;                     /* line the reader last returned */
    struct config *cfg;             /* ref: being filled */
    struct service_config *cur;     /* ref: service of the current section */
    struct service_config *tail;    /* ref: last service, for appending */
    char cur_section[256];          /* name of the current section */
    bool global_seen[7];            /* log_level, resolv_conf,
                                       shutdown_timeout, admin_listen,
                                       allow_root, workers, busy_poll */
    char *sections[MAX_SECTIONS];   /* owned: headers seen, for duplicates */
    int nsections;                  /* entries in sections */
    int header_line;                /* line of the last [section] header */
    const char *const *origins;     /* ref: per-line origin, or NULL */
    int norigins;                   /* entries in origins */
    char *err;                      /* ref: caller's error buffer */
    size_t errlen;                  /* its size */
    size_t errused;                 /* bytes written to it */
    int nerrors;                    /* problems found */
};

static void PRINTF_LIKE(3, 4)
perr(struct parse_state *ps, int line, const char *fmt, ...)
{
    va_list ap;
    int n;

    ps->nerrors++;
    if (ps->errused + 1 >= ps->errlen) {
        return;
    }
    if (ps->origins != NULL && line > 0 && line < ps->norigins &&
        ps->origins[line] != NULL) {
        /* From flags or the environment: name that, not a line. */
        n = snprintf(ps->err + ps->errused, ps->errlen - ps->errused,
                     "%s: ", ps->origins[line]);
    } else {
        n = snprintf(ps->err + ps->errused, ps->errlen - ps->errused,
                     "%s:%d: ", ps->path, line);
    }
    if (n > 0) {
        ps->errused += (size_t)n;
    }
    if (ps->errused + 1 >= ps->errlen) {
        ps->errused = ps->errlen - 1;
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(ps->err + ps->errused, ps->errlen - ps->errused, fmt, ap);
    va_end(ap);
    if (n > 0) {
        ps->errused += (size_t)n;
    }
    if (ps->errused + 2 >= ps->errlen) {
        ps->errused = ps->errlen - 2;
    }
    ps->err[ps->errused++] = '\n';
    ps->err[ps->errused] = '\0';
}

/* note(ps, line, fmt, ...): records what a stunnel key became. */
static void PRINTF_LIKE(3, 4)
note(struct parse_state *ps, int line, const char *fmt, ...)
{
    char buf[400];
    size_t old = ps->cfg->notes ? strlen(ps->cfg->notes) : 0;
    char *grown;
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "%s:%d: ", ps->path, line);

    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    grown = realloc(ps->cfg->notes, old + strlen(buf) + 2);
    if (grown == NULL) {
        return;
    }
    memcpy(grown + old, buf, strlen(buf));
    grown[old + strlen(buf)] = '\n';
    grown[old + strlen(buf) + 1] = '\0';
    ps->cfg->notes = grown;
}

const char *
config_key_name(enum service_key key)
{
    return service_keys[key].name;
}

/* ------------------------------------------------------------ value parsers */

int
config_parse_duration(const char *s, double *out)
{
    char *end;
    double v, mult = 1.0;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0) {
        return -1;
    }
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0) {
        mult = 1.0;
    } else if (strcmp(end, "ms") == 0) {
        mult = 0.001;
    } else if (strcmp(end, "us") == 0) {
        mult = 0.000001;
    } else if (strcmp(end, "m") == 0) {
        mult = 60.0;
    } else if (strcmp(end, "h") == 0) {
        mult = 3600.0;
    } else {
        return -1;
    }
    *out = v * mult;
    return 0;
}

int
config_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v, mult = 1;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    if (*end == 'k' || *end == 'K') {
        mult = 1024ULL;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        mult = 1024ULL * 1024;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        mult = 1024ULL * 1024 * 1024;
        end++;
    }
    if (*end == 'b' || *end == 'B') {
        end++;
    }
    if (*end != '\0' || v > (unsigned long long)SIZE_MAX / mult) {
        return -1;
    }
    *out = (size_t)(v * mult);
    return 0;
}

static int
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int
parse_int(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (end == s || *end != '\0' || errno != 0) ? -1 : 0;
}

bool
config_is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int
config_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon, *hs;
    size_t hl;
    long p;
    char *end;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':') {
            return -1;
        }
        hs = s + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
        /* A bracketed host must be an IPv6 literal. */
        if (hl == 0 || hl >= hostlen) {
            return -1;
        }
        memcpy(host, hs, hl);
        host[hl] = '\0';
        if (!config_is_ip_literal(host) || strchr(host, ':') == NULL) {
            return -1;
        }
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            colon = s - 1;      /* port only */
            hl = 0;
        } else {
            hl = (size_t)(colon - s);
            if (memchr(s, ':', hl) != NULL) {
                return -1;      /* bare IPv6 needs brackets */
            }
        }
        if (hl >= hostlen) {
            return -1;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    if (colon[1] < '0' || colon[1] > '9') {
        return -1;
    }
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || p < 0 || p > 65535) {
        return -1;
    }
    *port = (int)p;
    return 0;
}

/* ------------------------------------------------------------ inih glue */

static struct service_config *
service_new(struct parse_state *ps, const char *name)
{
    struct service_config *sc = calloc(1, sizeof(*sc));

    if (sc == NULL || (sc->name = strdup(name)) == NULL) {
        free(sc);
        return NULL;
    }
    sc->section_line = ps->header_line;
    if (ps->tail == NULL) {
        ps->cfg->services = sc;
    } else {
        ps->tail->next = sc;
    }
    ps->tail = sc;
    ps->cfg->nservices++;
    return sc;
}

static struct service_config *
service_find(struct config *cfg, const char *name)
{
    for (struct service_config *sc = cfg->services; sc; sc = sc->next) {
        if (strcmp(sc->name, name) == 0) {
            return sc;
        }
    }
    return NULL;
}

/*
 * expand_env(in, out, outlen, missing, missinglen): copies in to out with
 * each ${NAME} replaced by the environment variable NAME (for systemd's
 * ${CREDENTIALS_DIRECTORY}, or a container's secrets path).  Returns 0; -1
 * when a variable is unset (its name in missing) or the result is too
 * long; -2 for an unterminated "${".
 */
static int
expand_env(const char *in, char *out, size_t outlen, char *missing,
           size_t missinglen)
{
    size_t o = 0;

    missing[0] = '\0';
    while (*in != '\0') {
        const char *add = in;
        size_t n = 1;

        if (in[0] == '$' && in[1] == '{') {
            const char *close = strchr(in + 2, '}');
            char name[128];

            if (close == NULL || (size_t)(close - in - 2) >= sizeof(name)) {
                return -2;
            }
            memcpy(name, in + 2, (size_t)(close - in - 2));
            name[close - in - 2] = '\0';
            add = getenv(name);
            if (add == NULL) {
                snprintf(missing, missinglen, "%s", name);
                return -1;
            }
            n = strlen(add);
            in = close + 1;
        } else {
            in++;
        }
        if (o + n + 1 > outlen) {
            snprintf(missing, missinglen, "(too long)");
            return -1;
        }
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/*
 * set_service_key(ps, sc, k, value, line): parses value for key k into sc.
 * Returns 0, or -1 after reporting the error.
 */
static int
set_service_key(struct parse_state *ps, struct service_config *sc,
                enum service_key k, const char *value, int line)
{
    const struct key_def *kd = &service_keys[k];
    char *field = (char *)sc + kd->offset;
    double d;
    long l;
    size_t z;
    bool b;

    switch (kd->type) {
    case KT_STRING: {
        char expanded[READ_LINE_MAX], missing[128];
        char *copy;
        int r = expand_env(value, expanded, sizeof(expanded), missing,
                           sizeof(missing));

        if (r == -2) {
            perr(ps, line, "%s: \"${\" without a closing \"}\"", kd->name);
            return -1;
        }
        if (r < 0) {
            perr(ps, line, "%s: ${%s} is not set in the environment",
                 kd->name, missing);
            return -1;
        }
        copy = strdup(expanded);
        if (copy == NULL) {
            perr(ps, line, "%s: out of memory", kd->name);
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case KT_BOOL:
        if (parse_bool(value, &b) < 0) {
            perr(ps, line, "%s: expected yes or no, got \"%s\"", kd->name,
                 value);
            return -1;
        }
        *(bool *)field = b;
        return 0;
    case KT_DURATION:
        if (config_parse_duration(value, &d) < 0) {
            perr(ps, line, "%s: expected a duration such as 5s or 500ms, "
                 "got \"%s\"", kd->name, value);
            return -1;
        }
        if (d < kd->min || d > kd->max) {
            perr(ps, line, "%s: %s is out of range (%gs to %gs)", kd->name,
                 value, kd->min, kd->max);
            return -1;
        }
        *(double *)field = d;
        return 0;
    case KT_INT:
        if (parse_int(value, &l) < 0 || l < kd->min || l > kd->max) {
            perr(ps, line, "%s: expected a whole number from %.0f to %.0f, "
                 "got \"%s\"", kd->name, kd->min, kd->max, value);
            return -1;
        }
        *(int *)field = (int)l;
        return 0;
    case KT_SIZE:
        if (config_parse_size(value, &z) < 0 || (double)z < kd->min ||
            (double)z > kd->max) {
            perr(ps, line, "%s: expected a size from 1k to 1g (such as "
                 "256k), got \"%s\"", kd->name, value);
            return -1;
        }
        *(size_t *)field = z;
        return 0;
    case KT_VERIFY:
        if (strcmp(value, "full") == 0) {
            *(enum verify_mode *)field = VERIFY_FULL;
        } else if (strcmp(value, "chain") == 0) {
            *(enum verify_mode *)field = VERIFY_CHAIN;
        } else if (strcmp(value, "none") == 0) {
            *(enum verify_mode *)field = VERIFY_NONE;
        } else {
            perr(ps, line, "%s: expected full, chain or none, got \"%s\"",
                 kd->name, value);
            return -1;
        }
        return 0;
    case KT_ROLE:
        if (strcmp(value, "any") == 0) {
            *(enum upstream_role *)field = ROLE_ANY;
        } else if (strcmp(value, "primary") == 0 ||
                   strcmp(value, "master") == 0) {
            *(enum upstream_role *)field = ROLE_PRIMARY;
        } else if (strcmp(value, "replica") == 0 ||
                   strcmp(value, "slave") == 0) {
            *(enum upstream_role *)field = ROLE_REPLICA;
        } else {
            perr(ps, line, "%s: expected primary, replica or any, got "
                 "\"%s\"", kd->name, value);
            return -1;
        }
        return 0;
    case KT_TLSVER:
        if (strcmp(value, "1.2") == 0 || strcmp(value, "TLSv1.2") == 0) {
            *(int *)field = TLS1_2_VERSION;
        } else if (strcmp(value, "1.3") == 0 ||
                   strcmp(value, "TLSv1.3") == 0) {
            *(int *)field = TLS1_3_VERSION;
        } else {
            perr(ps, line, "%s: expected 1.2 or 1.3, got \"%s\" (older "
                 "versions are not supported)", kd->name, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* The [global] key with slot `seen` in global_seen: false (and the
 * error recorded) when it was set before. */
static bool
first_time(struct parse_state *ps, int seen, const char *name)
{
    if (ps->global_seen[seen]) {
        perr(ps, ps->lineno, "%s: set twice in [global]", name);
        return false;
    }
    ps->global_seen[seen] = true;
    return true;
}

/* A [global] duration, set once, from 0 to max seconds (range says so in
 * words for the error). */
static void
global_duration(struct parse_state *ps, int seen, const char *name,
                const char *value, double max, const char *range, double *out)
{
    double d;

    if (!first_time(ps, seen, name)) {
        return;
    }
    if (config_parse_duration(value, &d) < 0 || d > max) {
        perr(ps, ps->lineno, "%s: expected a duration from %s, got \"%s\"",
             name, range, value);
    } else {
        *out = d;
    }
}

static int
global_key(struct parse_state *ps, const char *name, const char *value)
{
    struct config *cfg = ps->cfg;

    if (strcmp(name, "log_level") == 0) {
        if (!first_time(ps, 0, name)) {
            return 1;
        }
        if (log_level_parse(value, &cfg->log_level) < 0) {
            perr(ps, ps->lineno, "log_level: expected error, warn, info or "
                 "debug, got \"%s\"", value);
        }
    } else if (strcmp(name, "resolv_conf") == 0) {
        if (!first_time(ps, 1, name)) {
            return 1;
        }
        free(cfg->resolv_conf);
        cfg->resolv_conf = strdup(value);
    } else if (strcmp(name, "shutdown_timeout") == 0) {
        global_duration(ps, 2, name, value, 86400, "0 to 24h",
                        &cfg->shutdown_timeout);
    } else if (strcmp(name, "user") == 0 || strcmp(name, "group") == 0 ||
               strcmp(name, "pid_file") == 0 ||
               strcmp(name, "log_file") == 0) {
        char **field = name[0] == 'u' ? &cfg->user
                       : name[0] == 'g' ? &cfg->group
                       : name[0] == 'p' ? &cfg->pid_file : &cfg->log_file;

        if (*field != NULL) {
            perr(ps, ps->lineno, "%s: set twice in [global]", name);
            return 1;
        }
        *field = strdup(value);
    } else if (strcmp(name, "workers") == 0) {
        long n = 0;

        if (!first_time(ps, 5, name)) {
            return 1;
        }
        if (strcmp(value, "auto") == 0) {
            n = sysconf(_SC_NPROCESSORS_ONLN);
            cfg->workers = n < 1 ? 1 : n > CONFIG_WORKERS_MAX
                                           ? CONFIG_WORKERS_MAX : (int)n;
        } else if (parse_int(value, &n) < 0 || n < 1 ||
                   n > CONFIG_WORKERS_MAX) {
            perr(ps, ps->lineno, "workers: expected auto or a whole number "
                 "from 1 to %d, got \"%s\"", CONFIG_WORKERS_MAX, value);
        } else {
            cfg->workers = (int)n;
        }
    } else if (strcmp(name, "busy_poll") == 0) {
        global_duration(ps, 6, name, value, 0.01, "0 (off) to 10ms",
                        &cfg->busy_poll);
    } else if (strcmp(name, "allow_root") == 0) {
        if (!first_time(ps, 4, name)) {
            return 1;
        }
        if (parse_bool(value, &cfg->allow_root) < 0) {
            perr(ps, ps->lineno, "allow_root: expected yes or no, got "
                 "\"%s\"", value);
        }
    } else if (strcmp(name, "admin_listen") == 0) {
        char host[64];
        int port;
        unsigned char a4[4];

        if (!first_time(ps, 3, name)) {
            return 1;
        }
        if (config_split_hostport(value, host, sizeof(host), &port) < 0 ||
            inet_pton(AF_INET, host[0] ? host : "127.0.0.1", a4) != 1) {
            perr(ps, ps->lineno, "admin_listen: expected IPv4-address:port "
                 "(e.g. 127.0.0.1:9121), got \"%s\"", value);
        } else {
            free(cfg->admin_listen);
            cfg->admin_listen = strdup(value);
            cfg->admin_listen_line = ps->lineno;
        }
    } else {
        char known[256] = "";

        for (int i = 0; i < CONFIG_NGLOBAL; i++) {
            snprintf(known + strlen(known), sizeof(known) - strlen(known),
                     "%s%s", i ? ", " : "", config_global_keys[i]);
        }
        perr(ps, ps->lineno, "%s: unknown key in [global] (known: %s)", name,
             known);
    }
    return 1;
}

/* service_key(ps, sc, name, value): one of our keys.  1 when it was ours
 * (set, or an error reported), -1 when name is not a key of ours. */
static int
service_key(struct parse_state *ps, struct service_config *sc,
            const char *name, const char *value)
{
    for (int k = 0; k < SK_COUNT; k++) {
        if (strcmp(name, service_keys[k].name) != 0) {
            continue;
        }
        if (sc->key_line[k] != 0) {
            perr(ps, ps->lineno, "%s: set twice in [%s] (first on line %d)",
                 name, sc->name, sc->key_line[k]);
            return 1;
        }
        sc->key_line[k] = ps->lineno;
        (void)set_service_key(ps, sc, (enum service_key)k, value,
                              ps->lineno);
        return 1;
    }
    return -1;
}

/* stunnel client-mode service keys with a meaning here: our spelling. */
static const struct {
    const char *stunnel;        /* stunnel's key (case-insensitive) */
    const char *ours;           /* the key it sets */
} stunnel_alias[] = {
    {"accept", "listen"},           {"connect", "upstream"},
    {"CAfile", "ca_file"},          {"CApath", "ca_path"},
    {"cert", "cert_file"},          {"key", "key_file"},
    {"checkHost", "verify_host"},   {"sslVersionMin", "tls_min_version"},
    {"TIMEOUTconnect", "connect_timeout"},
    {"TIMEOUTidle", "client_idle_timeout"},
};

/* stunnel [global]-level keys (they stand before any section there). */
static int
stunnel_global(struct parse_state *ps, const char *name, const char *value)
{
    static const char *const ignored[] = {"fips", "delay", "options",
                                          "syslog", "foreground"};
    static const struct {
        const char *stunnel, *ours;
    } alias[] = {
        {"setuid", "user"}, {"setgid", "group"}, {"pid", "pid_file"},
        {"output", "log_file"},
    };

    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        if (strcasecmp(name, ignored[i]) == 0) {
            note(ps, ps->lineno, "%s = %s: stunnel option with no meaning "
                 "here, ignored%s", name, value,
                 strcasecmp(name, "foreground") == 0
                     ? " (redsleeve always runs in the foreground)" : "");
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++) {
        if (strcasecmp(name, alias[i].stunnel) == 0) {
            note(ps, ps->lineno, "%s -> %s = %s", name, alias[i].ours,
                 value);
            return global_key(ps, alias[i].ours, value);
        }
    }
    if (strcasecmp(name, "debug") == 0) {
        /* "7", "debug", "daemon.7", "warning": syslog levels 0..7. */
        const char *lv = strchr(value, '.') ? strchr(value, '.') + 1 : value;
        const char *ours = "info";

        if (strcmp(lv, "7") == 0 || strcasecmp(lv, "debug") == 0) {
            ours = "debug";
        } else if (strcmp(lv, "4") == 0 || strcasecmp(lv, "warning") == 0) {
            ours = "warn";
        } else if ((lv[0] >= '0' && lv[0] <= '3' && lv[1] == '\0') ||
                   strcasecmp(lv, "err") == 0 || strcasecmp(lv, "crit") == 0
                   || strcasecmp(lv, "alert") == 0 ||
                   strcasecmp(lv, "emerg") == 0) {
            ours = "error";
        }
        note(ps, ps->lineno, "debug = %s -> log_level = %s", value, ours);
        return global_key(ps, "log_level", ours);
    }
    return -1;
}

/* A stunnel service key: applied as ours, or noted, or refused. */
static int
stunnel_service(struct parse_state *ps, struct service_config *sc,
                const char *name, const char *value)
{
    bool yes = strcasecmp(value, "yes") == 0;

    if (strcasecmp(name, "client") == 0) {
        if (!yes) {
            perr(ps, ps->lineno, "client: \"%s\": redsleeve only runs "
                 "stunnel's client mode (plaintext in, TLS out)", value);
        } else {
            note(ps, ps->lineno, "client = yes: what redsleeve always is");
        }
        return 1;
    }
    if (strcasecmp(name, "verifyChain") == 0) {
        note(ps, ps->lineno, "verifyChain = %s: ignored; redsleeve verifies "
             "the chain and the host name unless verify = none", value);
        return 1;
    }
    if (strcasecmp(name, "verifyPeer") == 0) {
        if (yes) {
            perr(ps, ps->lineno, "verifyPeer: certificate pinning is not "
                 "supported; trust a CA with ca_file instead");
        } else {
            note(ps, ps->lineno, "verifyPeer = no: nothing to do");
        }
        return 1;
    }
    for (size_t i = 0; i < sizeof(stunnel_alias) / sizeof(stunnel_alias[0]);
         i++) {
        if (strcasecmp(name, stunnel_alias[i].stunnel) == 0 &&
            strcmp(name, stunnel_alias[i].ours) != 0) {
            note(ps, ps->lineno, "[%s] %s -> %s = %s", sc->name, name,
                 stunnel_alias[i].ours, value);
            return service_key(ps, sc, stunnel_alias[i].ours, value);
        }
    }
    return -1;
}

static int
ini_key_cb(void *user, const char *section, const char *name,
            const char *value)
{
    struct parse_state *ps = user;
    struct service_config *sc;

    if (section[0] == '\0') {
        if (value[0] != '\0' && stunnel_global(ps, name, value) >= 0) {
            return 1;
        }
        perr(ps, ps->lineno, "%s: key outside of any [section]", name);
        return 1;
    }
    if (value[0] == '\0') {
        perr(ps, ps->lineno, "%s: empty value (remove the line to get the "
             "default)", name);
        return 1;
    }
    if (strcmp(section, GLOBAL_SECTION) == 0) {
        return global_key(ps, name, value);
    }
    if (ps->cur == NULL || strcmp(ps->cur_section, section) != 0) {
        snprintf(ps->cur_section, sizeof(ps->cur_section), "%s", section);
        ps->cur = service_find(ps->cfg, section);
        if (ps->cur == NULL) {
            ps->cur = service_new(ps, section);
            if (ps->cur == NULL) {
                perr(ps, ps->lineno, "%s: out of memory", name);
                return 0;
            }
        }
    }
    sc = ps->cur;
    if (service_key(ps, sc, name, value) >= 0 ||
        stunnel_service(ps, sc, name, value) >= 0) {
        return 1;
    }
    perr(ps, ps->lineno, "%s: unknown key in [%s]", name, sc->name);
    return 1;
}

/*
 * The inih line reader: one line per call, counted, leading blanks
 * stripped, over-long lines reported rather than cut.
 */
static char *
ini_line_reader(char *str, int num, void *stream)
{
    struct parse_state *ps = stream;
    char line[READ_LINE_MAX];
    char *p;
    size_t len;

    if (fgets(line, sizeof(line), ps->fp) == NULL) {
        return NULL;
    }
    ps->lineno++;
    len = strlen(line);
    if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
        int c;

        while ((c = fgetc(ps->fp)) != EOF && c != '\n') {
            /* skip the rest of the over-long line */
        }
        perr(ps, ps->lineno, "line is longer than %d characters",
             READ_LINE_MAX - 2);
        str[0] = '\n';
        str[1] = '\0';
        return str;
    }
    for (p = line; *p == ' ' || *p == '\t'; p++) {
        /* strip leading blanks: no inih continuation lines */
    }
    len = strlen(p);
    if (len + 1 > (size_t)num) {
        perr(ps, ps->lineno, "line is longer than %d characters", num - 2);
        str[0] = '\n';
        str[1] = '\0';
        return str;
    }
    if (p[0] == '[') {
        char *close = strchr(p, ']');

        ps->header_line = ps->lineno;
        if (close != NULL) {
            *close = '\0';
            for (int i = 0; i < ps->nsections; i++) {
                if (strcmp(ps->sections[i], p + 1) == 0) {
                    perr(ps, ps->lineno, "[%s]: section appears twice",
                         p + 1);
                }
            }
            if (ps->nsections < MAX_SECTIONS) {
                ps->sections[ps->nsections++] = strdup(p + 1);
            }
            *close = ']';
        }
    }
    memcpy(str, p, len + 1);
    return str;
}

/* ------------------------------------------------------------ validation */

static int
load_secret_file(struct parse_state *ps, struct service_config *sc)
{
    int line = sc->key_line[SK_AUTH_PASSWORD_FILE];
    char buf[SECRET_MAX + 2];
    size_t n;
    FILE *fp = fopen(sc->auth_password_file, "r");

    if (fp == NULL) {
        perr(ps, line, "auth_password_file: cannot open %s: %s",
             sc->auth_password_file, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    }
    if (n > 0 && buf[n - 1] == '\r') {
        buf[--n] = '\0';
    }
    if (n == 0 || n > SECRET_MAX || memchr(buf, '\n', n) != NULL ||
        memchr(buf, '\r', n) != NULL || strlen(buf) != n) {
        perr(ps, line, "auth_password_file: %s must hold the password alone "
             "on one line (1 to %d bytes, no NUL)", sc->auth_password_file,
             SECRET_MAX);
        OPENSSL_cleanse(buf, sizeof(buf));
        return -1;
    }
    sc->auth_password = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return sc->auth_password == NULL ? -1 : 0;
}

static int
load_secret_env(struct parse_state *ps, struct service_config *sc)
{
    int line = sc->key_line[SK_AUTH_PASSWORD_ENV];
    const char *v = getenv(sc->auth_password_env);

    if (v == NULL || v[0] == '\0') {
        perr(ps, line, "auth_password_env: environment variable %s is %s",
             sc->auth_password_env, v == NULL ? "not set" : "empty");
        return -1;
    }
    if (strlen(v) > SECRET_MAX || strpbrk(v, "\r\n") != NULL) {
        perr(ps, line, "auth_password_env: %s must be 1 to %d bytes on one "
             "line", sc->auth_password_env, SECRET_MAX);
        return -1;
    }
    sc->auth_password = strdup(v);
    return sc->auth_password == NULL ? -1 : 0;
}

static int
line_or_section(const struct service_config *sc, enum service_key k)
{
    return sc->key_line[k] != 0 ? sc->key_line[k] : sc->section_line;
}

static void
validate_addresses(struct parse_state *ps, struct service_config *sc)
{
    char host[256];
    int port;

    if (sc->listen == NULL) {
        perr(ps, sc->section_line, "listen: required in [%s] (e.g. "
             "listen = 127.0.0.1:6379)", sc->name);
    } else if (strncmp(sc->listen, "unix:", 5) == 0) {
        if (sc->listen[5] != '/' || strlen(sc->listen + 5) >= 108) {
            perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\" needs an "
                 "absolute socket path shorter than 108 bytes", sc->listen);
        } else {
            sc->listen_unix = strdup(sc->listen + 5);
        }
    } else if (config_split_hostport(sc->listen, host, sizeof(host),
                                     &port) < 0) {
        perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\" is not host:port, "
             "[ipv6]:port, port or unix:/path", sc->listen);
    } else {
        sc->listen_host = strdup(host[0] ? host : "127.0.0.1");
        sc->listen_port = port;
        if (host[0] && !config_is_ip_literal(host) &&
            strcmp(host, "localhost") != 0) {
            perr(ps, sc->key_line[SK_LISTEN], "listen: \"%s\": the host "
                 "must be an IP address (or localhost)", sc->listen);
        }
    }

    if (sc->upstream == NULL) {
        perr(ps, sc->section_line, "upstream: required in [%s] (e.g. "
             "upstream = redis.example.com:6379)", sc->name);
    } else if (config_split_hostport(sc->upstream, host, sizeof(host),
                                     &port) < 0 || host[0] == '\0' ||
               port == 0) {
        perr(ps, sc->key_line[SK_UPSTREAM], "upstream: \"%s\" is not "
             "host:port or [ipv6]:port", sc->upstream);
    } else {
        sc->upstream_host = strdup(host);
        sc->upstream_port = port;
        sc->upstream_is_ip = config_is_ip_literal(host);
    }
}

static void
validate_tls(struct parse_state *ps, struct service_config *sc)
{
    if (sc->verify_host == NULL && sc->upstream_host != NULL) {
        sc->verify_host = strdup(sc->upstream_host);
    }
    if (sc->verify_host != NULL) {
        sc->verify_host_is_ip = config_is_ip_literal(sc->verify_host);
    }
    if (sc->sni != NULL && config_is_ip_literal(sc->sni)) {
        perr(ps, sc->key_line[SK_SNI], "sni: \"%s\" is an IP address; SNI "
             "carries host names only", sc->sni);
    } else if (sc->sni == NULL && sc->verify_host != NULL &&
               !sc->verify_host_is_ip) {
        sc->sni = strdup(sc->verify_host);
    }
    if (sc->verify == VERIFY_NONE && !sc->insecure) {
        perr(ps, line_or_section(sc, SK_VERIFY), "verify: \"none\" turns off "
             "certificate checks; it is refused unless insecure = yes is "
             "also set in [%s]", sc->name);
    }
    if (sc->verify != VERIFY_FULL && sc->key_line[SK_VERIFY_HOST] != 0) {
        perr(ps, sc->key_line[SK_VERIFY_HOST], "verify_host: has no effect "
             "unless verify = full");
    }
    if ((sc->cert_file == NULL) != (sc->key_file == NULL)) {
        enum service_key k = sc->cert_file ? SK_CERT_FILE : SK_KEY_FILE;

        perr(ps, sc->key_line[k], "%s: cert_file and key_file go together "
             "(client certificate and its key)", config_key_name(k));
    }
}

static void
validate_auth(struct parse_state *ps, struct service_config *sc)
{
    if (sc->auth_password_file != NULL && sc->auth_password_env != NULL) {
        int lf = sc->key_line[SK_AUTH_PASSWORD_FILE];
        int le = sc->key_line[SK_AUTH_PASSWORD_ENV];
        enum service_key k = lf > le ? SK_AUTH_PASSWORD_FILE
                                     : SK_AUTH_PASSWORD_ENV;

        perr(ps, sc->key_line[k], "%s: set only one of auth_password_file "
             "and auth_password_env", config_key_name(k));
        return;
    }
    if (sc->auth_password_file != NULL) {
        (void)load_secret_file(ps, sc);
    } else if (sc->auth_password_env != NULL) {
        (void)load_secret_env(ps, sc);
    } else if (sc->auth_user != NULL) {
        perr(ps, sc->key_line[SK_AUTH_USER], "auth_user: needs "
             "auth_password_file or auth_password_env");
    }
    if (sc->auth_user != NULL &&
        strpbrk(sc->auth_user, " \t\r\n") != NULL) {
        perr(ps, sc->key_line[SK_AUTH_USER], "auth_user: \"%s\" contains "
             "blanks", sc->auth_user);
    }
}

static void
apply_defaults(struct parse_state *ps, struct service_config *sc)
{
    for (int k = 0; k < SK_COUNT; k++) {
        if (sc->key_line[k] == 0 && service_keys[k].def != NULL) {
            /* Defaults go through the same parser as file values. */
            if (set_service_key(ps, sc, (enum service_key)k,
                                service_keys[k].def, sc->section_line) < 0) {
                return;
            }
        }
    }
}

static void
validate_pool(struct parse_state *ps, struct service_config *sc)
{
    if (sc->pool_min_idle > sc->pool_max_idle) {
        enum service_key k = sc->key_line[SK_POOL_MIN_IDLE]
                                 ? SK_POOL_MIN_IDLE : SK_POOL_MAX_IDLE;

        perr(ps, line_or_section(sc, k), "%s: pool_min_idle (%d) is more "
             "than pool_max_idle (%d)", config_key_name(k),
             sc->pool_min_idle, sc->pool_max_idle);
    }
}

static void
validate(struct parse_state *ps)
{
    struct config *cfg = ps->cfg;

    if (cfg->services == NULL) {
        perr(ps, ps->lineno, "no service defined (add a [name] section "
             "with listen and upstream)");
    }
    for (struct service_config *sc = cfg->services; sc; sc = sc->next) {
        apply_defaults(ps, sc);
        validate_addresses(ps, sc);
        validate_tls(ps, sc);
        validate_auth(ps, sc);
        validate_pool(ps, sc);
        for (struct service_config *o = cfg->services; o != sc; o = o->next) {
            if (sc->listen && o->listen && strcmp(sc->listen, o->listen) == 0
                && o->listen_port != 0) {
                perr(ps, sc->key_line[SK_LISTEN], "listen: %s is already "
                     "used by [%s]", sc->listen, o->name);
            }
        }
    }
}

/*
 * load_stream(path, fp, origins, norigins, err, errlen): the one parser
 * behind config_load and config_load_args.  origins, when given, names
 * where each line came from (a flag, an environment variable) and
 * replaces "FILE:LINE" in messages.
 */
static struct config *
load_stream(const char *path, FILE *fp, const char *const *origins,
            int norigins, char *err, size_t errlen)
{
    struct parse_state ps;
    struct config *cfg;
    int r;

    memset(&ps, 0, sizeof(ps));
    ps.path = path;
    ps.err = err;
    ps.errlen = errlen;
    ps.origins = origins;
    ps.norigins = norigins;
    if (errlen > 0) {
        err[0] = '\0';
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        snprintf(err, errlen, "%s: out of memory\n", path);
        return NULL;
    }
    ps.cfg = cfg;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->shutdown_timeout = 30.0;
    cfg->workers = 1;
    cfg->file = strdup(path);
    ps.fp = fp;
    r = ini_parse_stream(ini_line_reader, &ps, ini_key_cb, &ps);
    if (r > 0) {
        perr(&ps, r, "syntax error: expected [section], key = value or a "
             "comment");
    } else if (r < 0) {
        perr(&ps, 0, "cannot parse (out of memory)");
    }
    if (cfg->resolv_conf == NULL) {
        cfg->resolv_conf = strdup("/etc/resolv.conf");
    }
    if (ps.nerrors == 0) {
        validate(&ps);
    }
    for (int i = 0; i < ps.nsections; i++) {
        free(ps.sections[i]);
    }
    if (ps.nerrors > 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct config *
config_load_stream(const char *name, FILE *fp, char *err, size_t errlen)
{
    return load_stream(name, fp, NULL, 0, err, errlen);
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
    struct config *cfg;
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s\n", path,
                 strerror(errno));
        return NULL;
    }
    cfg = load_stream(path, fp, NULL, 0, err, errlen);
    fclose(fp);
    return cfg;
}

static bool
is_global_key(const char *k)
{
    for (int i = 0; i < CONFIG_NGLOBAL; i++) {
        if (strcmp(k, config_global_keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool
config_is_key(const char *k)
{
    if (is_global_key(k)) {
        return true;
    }
    for (int i = 0; i < SK_COUNT; i++) {
        if (strcmp(k, service_keys[i].name) == 0) {
            return true;
        }
    }
    return false;
}

/* Appends "key = value" (one line) with its origin; -1 if it cannot. */
static int
add_line(FILE *fp, const char **origins, int *n, const char *origin,
         const char *key, const char *value)
{
    if (*n + 1 >= CONFIG_ARGS_MAX || strpbrk(value, "\r\n") != NULL) {
        return -1;
    }
    fprintf(fp, "%s = %s\n", key, value);
    origins[++*n] = origin;
    return 0;
}

struct config *
config_load_args(const struct config_arg *args, int nargs, char *err,
                 size_t errlen)
{
    static const char *origins[CONFIG_ARGS_MAX + 4];
    char *text = NULL;
    size_t textlen = 0;
    FILE *fp = open_memstream(&text, &textlen);
    struct config *cfg = NULL;
    int n = 0;

    if (fp == NULL) {
        snprintf(err, errlen, "out of memory\n");
        return NULL;
    }
    /* [global] first, then the one service: the parser sees a file. */
    fprintf(fp, "[global]\n");
    origins[++n] = "command line";
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            fprintf(fp, "[" CONFIG_ARGS_SERVICE "]\n");
            origins[++n] = "command line";
        }
        for (int i = 0; i < nargs; i++) {
            if (is_global_key(args[i].key) != (pass == 0)) {
                continue;
            }
            if (add_line(fp, origins, &n, args[i].origin, args[i].key,
                         args[i].value) < 0) {
                snprintf(err, errlen, "%s: value must be one line\n",
                         args[i].origin);
                fclose(fp);
                free(text);
                return NULL;
            }
        }
    }
    if (fflush(fp) == 0 && fseek(fp, 0, SEEK_SET) == 0) {
        cfg = load_stream("command line", fp, origins, n + 1, err, errlen);
    }
    fclose(fp);
    free(text);
    return cfg;
}

void
config_service_free(struct service_config *sc)
{
    if (sc->auth_password != NULL) {
        OPENSSL_cleanse(sc->auth_password, strlen(sc->auth_password));
        free(sc->auth_password);
    }
    free(sc->name);
    free(sc->listen);
    free(sc->listen_host);
    free(sc->listen_unix);
    free(sc->upstream);
    free(sc->upstream_host);
    free(sc->verify_host);
    free(sc->sni);
    free(sc->ca_file);
    free(sc->ca_path);
    free(sc->cert_file);
    free(sc->key_file);
    free(sc->ciphers);
    free(sc->ciphersuites);
    free(sc->auth_user);
    free(sc->auth_password_file);
    free(sc->auth_password_env);
    free(sc);
}

void
config_free(struct config *cfg)
{
    struct service_config *sc, *next;

    if (cfg == NULL) {
        return;
    }
    for (sc = cfg->services; sc != NULL; sc = next) {
        next = sc->next;
        config_service_free(sc);
    }
    free(cfg->file);
    free(cfg->resolv_conf);
    free(cfg->admin_listen);
    free(cfg->user);
    free(cfg->group);
    free(cfg->pid_file);
    free(cfg->log_file);
    free(cfg->notes);
    free(cfg);
}

void
config_detach_service(struct config *cfg, struct service_config *sc,
                      struct service_config *in_its_place)
{
    struct service_config **pp = &cfg->services;

    while (*pp != NULL && *pp != sc) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        return;
    }
    if (in_its_place != NULL) {
        in_its_place->next = sc->next;
        *pp = in_its_place;
    } else {
        *pp = sc->next;
        cfg->nservices--;
    }
    sc->next = NULL;
}

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
    const char *const strs[] = {
        sc->name, sc->listen, sc->upstream, sc->verify_host, sc->sni,
        sc->ca_file, sc->ca_path, sc->cert_file, sc->key_file, sc->ciphers,
        sc->ciphersuites, sc->auth_user, sc->auth_password,
        sc->auth_password_file, sc->auth_password_env,
    };
    const double nums[] = {
        sc->verify, sc->insecure, sc->tls_min_version, sc->connect_timeout,
        sc->handshake_timeout, sc->client_idle_timeout, sc->max_clients,
        (double)sc->buffer_limit, sc->pool_min_idle, sc->pool_max_idle,
        sc->link_max_lifetime, sc->link_idle_check, sc->drain_timeout,
        sc->role, sc->dns_refresh,
    };
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        digest_str(md, strs[i]);
    }
    EVP_DigestUpdate(md, nums, sizeof(nums));
    digest_file(md, sc->ca_file);
    digest_file(md, sc->cert_file);
    digest_file(md, sc->key_file);
    digest_dir(md, sc->ca_path);
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    return len == CONFIG_DIGEST_LEN ? 0 : -1;
}
