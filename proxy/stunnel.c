/*
 * stunnel.c: stunnel client-mode keys -> redsleeve keys.
 *
 * Tables of stunnel 5's client-mode spellings, each with what it becomes
 * here: one of our keys (accept -> listen), a note (options, delay: no
 * meaning here), or a refusal (exec, OCSP: what redsleeve cannot do, and
 * must not pretend to).  A few keys need more than a new name: debug's
 * syslog levels, client, verifyPeer, verifyChain, the verify levels and
 * the sslVersion* family.  Everything found is reported through the
 * caller's struct stunnel_sink; this file neither parses our values nor
 * keeps any state.  config.c calls it only for keys that are not ours, so
 * a key spelled the same in both ("ciphers", "sni") stays ours; "verify"
 * comes here only with stunnel's numeric levels.
 */
#include "stunnel.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A stunnel key that is a new name for one of ours. */
struct alias {
    const char *stunnel;        /* stunnel's key (case-insensitive) */
    const char *ours;           /* the key it sets */
};

/* A stunnel key with no meaning here, and why it can go. */
struct ignored {
    const char *stunnel;        /* stunnel's key (case-insensitive) */
    const char *why;            /* the end of the note */
};

/* stunnel client-mode service keys with a meaning here: our spelling. */
static const struct alias service_alias[] = {
    {"accept", "listen"},           {"connect", "upstream"},
    {"CAfile", "ca_file"},          {"CApath", "ca_path"},
    {"cert", "cert_file"},          {"key", "key_file"},
    {"checkHost", "verify_host"},   {"checkIP", "verify_host"},
    {"TIMEOUTconnect", "connect_timeout"},
    {"TIMEOUTidle", "client_idle_timeout"},
};

/* stunnel service keys with no meaning here: noted, then ignored. */
static const struct ignored service_ignored[] = {
    {"delay", "each new link resolves connect anyway"},
    {"options", "OpenSSL's defaults, and never a version below TLS 1.2"},
    {"socket", "redsleeve sets its own socket options (TCP_NODELAY, "
               "keep-alive)"},
    {"TIMEOUTclose", "redsleeve does not wait for the peer's close_notify"},
    {"TIMEOUTbusy", "see drain_timeout and client_idle_timeout"},
    {"sessionCacheSize", "each service keeps the session of its last link "
                         "for resumption"},
    {"sessionCacheTimeout", "the server's ticket lifetime applies"},
    {"sessionResume", "sessions are always resumed when the server allows"},
    {"renegotiation", "redsleeve never renegotiates (TLS 1.3 has none)"},
    {"curves", "OpenSSL's default groups (X25519, P-256, ...)"},
    {"logId", "each session is logged with its own s= id"},
    {"stack", "redsleeve runs no thread per connection"},
    {"retry", "only for exec, which redsleeve does not run"},
    {"reset", "a client is closed with a FIN, or an -ERR at a request "
              "boundary"},
    {"setuid", "only for a unix socket or inetd mode; see listen_owner"},
    {"setgid", "only for a unix socket or inetd mode; see listen_owner"},
};

/* stunnel service keys redsleeve cannot honour: refused, so that nobody
 * believes a check or a feature is on when it is not. */
static const char *const service_refused[] = {
    "CAengine", "CAstore", "checkEmail", "config", "CRLfile", "CRLpath",
    "engineId", "engineNum", "exec", "execArgs", "failover", "ident",
    "libwrap", "local", "OCSP", "OCSPaia", "OCSPflag", "OCSPnonce",
    "OCSPrequire", "protocol", "protocolAuthentication", "protocolDomain",
    "protocolHeader", "protocolHost", "protocolPassword",
    "protocolUsername", "PSKidentity", "PSKsecrets", "pty", "redirect",
    "requireCert", "securityLevel", "service", "sessiond",
    "ticketKeySecret", "ticketMacSecret", "TIMEOUTocsp", "transparent",
};

/* stunnel global keys with a meaning here: our [global] spelling. */
static const struct alias global_alias[] = {
    {"setuid", "user"}, {"setgid", "group"}, {"pid", "pid_file"},
    {"output", "log_file"},
};

/* stunnel global keys with no meaning here: noted, then ignored. */
static const struct ignored global_ignored[] = {
    {"fips", "OpenSSL's configuration decides"},
    {"foreground", "redsleeve always runs in the foreground"},
    {"syslog", "logs go to stderr (journald) or log_file"},
    {"log", "log_file is always appended to"},
    {"compression", "TLS compression is never used"},
    {"RNDbytes", "OpenSSL seeds itself"},
    {"RNDfile", "OpenSSL seeds itself"},
    {"RNDoverwrite", "OpenSSL seeds itself"},
    {"EGD", "OpenSSL seeds itself"},
};

/* stunnel global keys redsleeve cannot honour: refused. */
static const char *const global_refused[] = {
    "chroot", "engine", "engineCtrl", "engineDefault",
};

/* Every stunnel key that is a service key (for service defaults and for
 * "did you mean"). */
static const char *const service_special[] = {
    "client", "verify", "verifyChain", "verifyPeer", "sslVersion",
    "sslVersionMin", "sslVersionMax", "sni", "ciphers", "ciphersuites",
};

static void PRINTF_LIKE(2, 3)
note(const struct stunnel_sink *sink, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sink->note_cb(sink->arg, fmt, ap);
    va_end(ap);
}

static void PRINTF_LIKE(2, 3)
refuse_value(const struct stunnel_sink *sink, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sink->error_cb(sink->arg, fmt, ap);
    va_end(ap);
}

/* stunnel's debug level ("7", "debug", "daemon.7", "warning": syslog
 * levels 0..7, with an optional facility) as our log_level. */
static const char *
debug_level(const char *value)
{
    const char *lv = strchr(value, '.') ? strchr(value, '.') + 1 : value;

    if (strcmp(lv, "7") == 0 || strcasecmp(lv, "debug") == 0) {
        return "debug";
    }
    if (strcmp(lv, "4") == 0 || strcasecmp(lv, "warning") == 0) {
        return "warn";
    }
    if ((lv[0] >= '0' && lv[0] <= '3' && lv[1] == '\0') ||
        strcasecmp(lv, "err") == 0 || strcasecmp(lv, "crit") == 0 ||
        strcasecmp(lv, "alert") == 0 || strcasecmp(lv, "emerg") == 0) {
        return "error";
    }
    return "info";
}

/* stunnel's protocol version names: our tls_min_version ("1.2", "1.3"),
 * "all", "old" for SSLv2 to TLSv1.1, or NULL when unknown. */
static const char *
tls_version(const char *value)
{
    static const char *const old[] = {"SSLv2", "SSLv3", "TLSv1",
                                      "TLSv1.0", "TLSv1.1"};

    if (strcasecmp(value, "TLSv1.2") == 0) {
        return "1.2";
    }
    if (strcasecmp(value, "TLSv1.3") == 0) {
        return "1.3";
    }
    if (strcasecmp(value, "all") == 0) {
        return "all";
    }
    for (size_t i = 0; i < NELEM(old); i++) {
        if (strcasecmp(value, old[i]) == 0) {
            return "old";
        }
    }
    return NULL;
}

/* sslVersion, sslVersionMin, sslVersionMax. */
static int
ssl_version(const struct stunnel_sink *sink, const char *name,
            const char *value)
{
    const char *v = tls_version(value);
    bool is_max = strcasecmp(name, "sslVersionMax") == 0;

    if (v == NULL) {
        refuse_value(sink, "%s: expected TLSv1.2, TLSv1.3 or all, got \"%s\"",
               name, value);
        return 1;
    }
    if (strcmp(v, "old") == 0) {
        refuse_value(sink, "%s: %s is older than TLS 1.2, which redsleeve never "
               "uses (use TLSv1.2 or TLSv1.3)", name, value);
        return 1;
    }
    if (is_max) {
        note(sink, "%s = %s: ignored; redsleeve uses TLS 1.2 and 1.3, as "
             "the server allows (tls_min_version sets the lowest)", name,
             value);
        return 1;
    }
    if (strcmp(v, "all") == 0) {
        note(sink, "%s = all -> tls_min_version = 1.2 (the lowest "
             "redsleeve uses)", name);
        return sink->set_cb(sink->arg, "tls_min_version", "1.2");
    }
    note(sink, "%s = %s -> tls_min_version = %s%s", name, value, v,
         strcasecmp(name, "sslVersion") == 0 && strcmp(v, "1.2") == 0
             ? " (TLS 1.3 is also allowed: there is no maximum)" : "");
    return sink->set_cb(sink->arg, "tls_min_version", v);
}

/* stunnel's verify = 0..4. */
static int
verify_level(const struct stunnel_sink *sink, const char *value)
{
    if (strlen(value) != 1 || value[0] < '0' || value[0] > '4') {
        refuse_value(sink, "verify: expected full, chain or none (or stunnel's "
               "levels 0 to 4), got \"%s\"", value);
        return 1;
    }
    switch (value[0]) {
    case '0':
    case '1':
        note(sink, "verify = %s: verification stays on (verify = full: "
             "the chain, and the host name of connect or checkHost)",
             value);
        return sink->set_cb(sink->arg, "verify", "full");
    case '2':
        note(sink, "verify = 2 -> verify = chain (full with checkHost, "
             "or without CAfile/CApath)");
        return sink->set_cb(sink->arg, "verify", "chain");
    default:
        refuse_value(sink, "verify: level %s pins the peer's certificate, which "
               "is not supported; trust a CA with ca_file instead", value);
        return 1;
    }
}

/* name in an alias table: its index, or -1. */
static int
find_alias(const struct alias *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(name, t[i].stunnel) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* name in an ignored table: its index, or -1. */
static int
find_ignored(const struct ignored *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(name, t[i].stunnel) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* name in a list: true when there. */
static bool
in_list(const char *const *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(name, t[i]) == 0) {
            return true;
        }
    }
    return false;
}

int
stunnel_global(const struct stunnel_sink *sink, const char *name,
               const char *value)
{
    int i;

    if ((i = find_ignored(global_ignored, NELEM(global_ignored),
                          name)) >= 0) {
        note(sink, "%s = %s: stunnel option with no meaning here, ignored "
             "(%s)", name, value, global_ignored[i].why);
        return 1;
    }
    if ((i = find_alias(global_alias, NELEM(global_alias), name)) >= 0) {
        note(sink, "%s -> %s = %s", name, global_alias[i].ours, value);
        return sink->set_cb(sink->arg, global_alias[i].ours, value);
    }
    if (strcasecmp(name, "debug") == 0) {
        const char *ours = debug_level(value);

        note(sink, "debug = %s -> log_level = %s", value, ours);
        return sink->set_cb(sink->arg, "log_level", ours);
    }
    if (in_list(global_refused, NELEM(global_refused), name)) {
        refuse_value(sink, "%s: stunnel option redsleeve does not support (see "
               "\"stunnel client-mode keys\" in README.md, or STUNNEL "
               "FILES in redsleeve.ini(5))", name);
        return 1;
    }
    return -1;
}

int
stunnel_service(const struct stunnel_sink *sink, const char *section,
                const char *name, const char *value)
{
    bool yes = strcasecmp(value, "yes") == 0;
    int i;

    if (strcasecmp(name, "client") == 0) {
        if (!yes) {
            refuse_value(sink, "client: \"%s\": redsleeve only runs "
                   "stunnel's client mode (plaintext in, TLS out)", value);
        } else {
            note(sink, "client = yes: what redsleeve always is");
        }
        return 1;
    }
    if (strcasecmp(name, "verifyChain") == 0) {
        note(sink, "verifyChain = %s: ignored; redsleeve verifies "
             "the chain and the host name unless verify = none", value);
        return 1;
    }
    if (strcasecmp(name, "verifyPeer") == 0) {
        if (yes) {
            refuse_value(sink, "verifyPeer: certificate pinning is not "
                   "supported; trust a CA with ca_file instead");
        } else {
            note(sink, "verifyPeer = no: nothing to do");
        }
        return 1;
    }
    if (strcasecmp(name, "verify") == 0) {
        return verify_level(sink, value);
    }
    if (strncasecmp(name, "sslVersion", 10) == 0 &&
        (name[10] == '\0' || strcasecmp(name + 10, "Min") == 0 ||
         strcasecmp(name + 10, "Max") == 0)) {
        return ssl_version(sink, name, value);
    }
    if ((i = find_alias(service_alias, NELEM(service_alias), name)) >= 0 &&
        strcmp(name, service_alias[i].ours) != 0) {
        note(sink, "[%s] %s -> %s = %s", section, name,
             service_alias[i].ours, value);
        return sink->set_cb(sink->arg, service_alias[i].ours, value);
    }
    if ((i = find_ignored(service_ignored, NELEM(service_ignored),
                          name)) >= 0) {
        note(sink, "[%s] %s = %s: stunnel option with no meaning here, "
             "ignored (%s)", section, name, value, service_ignored[i].why);
        return 1;
    }
    if (in_list(service_refused, NELEM(service_refused), name)) {
        refuse_value(sink, "%s: stunnel option redsleeve does not support (see "
               "\"stunnel client-mode keys\" in README.md, or STUNNEL "
               "FILES in redsleeve.ini(5))", name);
        return 1;
    }
    return -1;
}

bool
stunnel_is_global_key(const char *name)
{
    return find_ignored(global_ignored, NELEM(global_ignored), name) >= 0 ||
           find_alias(global_alias, NELEM(global_alias), name) >= 0 ||
           in_list(global_refused, NELEM(global_refused), name) ||
           strcasecmp(name, "debug") == 0;
}

const char *
stunnel_service_key(int i)
{
    size_t n = (size_t)i;

    if (i < 0) {
        return NULL;
    }
    if (n < NELEM(service_alias)) {
        return service_alias[n].stunnel;
    }
    n -= NELEM(service_alias);
    if (n < NELEM(service_ignored)) {
        return service_ignored[n].stunnel;
    }
    n -= NELEM(service_ignored);
    if (n < NELEM(service_special)) {
        return service_special[n];
    }
    n -= NELEM(service_special);
    return n < NELEM(service_refused) ? service_refused[n] : NULL;
}

const char *
stunnel_global_key(int i)
{
    size_t n = (size_t)i;

    if (i < 0) {
        return NULL;
    }
    if (n < NELEM(global_alias)) {
        return global_alias[n].stunnel;
    }
    n -= NELEM(global_alias);
    if (n < NELEM(global_ignored)) {
        return global_ignored[n].stunnel;
    }
    n -= NELEM(global_ignored);
    if (n == 0) {
        return "debug";
    }
    n--;
    return n < NELEM(global_refused) ? global_refused[n] : NULL;
}
