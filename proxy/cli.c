/*
 * cli.c: argv and REDSLEEVE_* variables -> config keys.
 *
 * Every key of config.c's table (config_keys), [global] ones first, is
 * also a flag (upstream -> --upstream, verify_host -> --verify-host) and
 * a variable (REDSLEEVE_VERIFY_HOST); keys marked CONFIG_KEY_ANY_MODE
 * (allow_root) apply with -c too.  What they set goes through config.c's
 * parser as "key = value" lines, so a flag is checked exactly as the
 * same line in a file would be.  This file keeps no state of its own:
 * the caller owns struct cli.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

#define KEY_OPT_BASE 1000       /* getopt values of the key flags */
#define ENV_PREFIX "REDSLEEVE_"
#define ENV_PREFIX_LEN 10       /* strlen(ENV_PREFIX) */
#define ENV_NAME_MAX 64         /* longest variable name, with its NUL */

/* key_name(i): every config key, [global] ones first (the table's
 * order, which is also --help's). */
static const char *
key_name(int i)
{
    return config_keys[i].name;
}

/* Key i's variable applies with -c too, and alone describes no service. */
static bool
any_mode(int i)
{
    return (config_keys[i].flags & CONFIG_KEY_ANY_MODE) != 0;
}

void
cli_usage(FILE *out)
{
    fprintf(out,
            "usage: redsleeve -c FILE [--check-config]\n"
            "       redsleeve --listen ADDR --upstream HOST:PORT [--KEY VALUE]..."
            " [--check-config]\n"
            "       redsleeve --version | --help\n"
            "\n"
            "Accepts plaintext Redis clients on local ports and relays each\n"
            "over a verified TLS connection to its upstream, sending AUTH\n"
            "for it when configured.\n"
            "\n"
            "  -c, --config FILE    configuration file (INI)\n"
            "  -t, --check-config   validate FILE (settings, certificates,\n"
            "                       private keys, secrets), print one line\n"
            "                       per service,\n"
            "                       exit 0 when valid, 1 otherwise\n"
            "  -V, --version        print versions (with OpenSSL, libevent)\n"
            "  -h, --help           this text\n"
            "\n"
            "Without -c (sidecar mode), one service is configured from flags\n"
            "and REDSLEEVE_* environment variables: every config key is a\n"
            "flag with '-' for '_' (--listen, --upstream, --verify-host,\n"
            "--ca-file, --auth-user, --auth-password-file, --log-level, ...)\n"
            "and a variable in capitals (REDSLEEVE_UPSTREAM, ...); a flag\n"
            "wins over its variable.\n");
}

/* Is any REDSLEEVE_* variable of a key set?  Containers: the environment
 * alone may describe the service. */
static bool
sidecar_env(void)
{
    for (int i = 0; i < CLI_NKEYS; i++) {
        char name[ENV_NAME_MAX];

        if (any_mode(i)) {
            continue;   /* alone it describes no service */
        }

        snprintf(name, sizeof(name), ENV_PREFIX "%s", key_name(i));
        for (char *p = name + ENV_PREFIX_LEN; *p != '\0'; p++) {
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        }
        if (getenv(name) != NULL) {
            return true;
        }
    }
    return false;
}

/* The key a REDSLEEVE_* variable name stands for (its index), or -1;
 * name is the part after the prefix, up to '='. */
static int
env_key(const char *name, size_t len)
{
    for (int i = 0; i < CLI_NKEYS; i++) {
        if (strlen(key_name(i)) == len &&
            strncasecmp(key_name(i), name, len) == 0) {
            return i;
        }
    }
    return -1;
}

/*
 * REDSLEEVE_* variables that mean nothing here, each told once on
 * stderr: in sidecar mode, a name that is no key (a typo would silently
 * leave a setting at its default); with -c, every key's variable, since
 * the file is the whole config then (REDSLEEVE_ALLOW_ROOT aside, which
 * applies to both).
 */
static void
warn_env(bool with_file)
{
    for (char **e = environ; *e != NULL; e++) {
        const char *name = *e + ENV_PREFIX_LEN;
        size_t len = strcspn(name, "=");
        const char *cand[CLI_NKEYS];
        const char *near;
        char upper[ENV_NAME_MAX];
        int k;

        if (strncmp(*e, ENV_PREFIX, ENV_PREFIX_LEN) != 0 ||
            name[len] != '=') {
            continue;
        }
        k = env_key(name, len);
        if (k >= 0 && (!with_file || any_mode(k))) {
            continue;
        }
        if (k >= 0) {
            fprintf(stderr, "redsleeve: warning: %.*s is ignored: with -c "
                    "the file is the whole configuration\n",
                    (int)(ENV_PREFIX_LEN + len), *e);
            continue;
        }
        for (int i = 0; i < CLI_NKEYS; i++) {
            cand[i] = key_name(i);
        }
        snprintf(upper, sizeof(upper), "%.*s", (int)len, name);
        near = config_suggest(upper, cand, CLI_NKEYS);
        snprintf(upper, sizeof(upper), "%s", near != NULL ? near : "");
        for (char *p = upper; *p != '\0'; p++) {
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        }
        fprintf(stderr, "redsleeve: warning: %.*s is no redsleeve setting, "
                "ignored%s%s%s\n", (int)(ENV_PREFIX_LEN + len), *e,
                near != NULL ? " (did you mean " ENV_PREFIX : "", upper,
                near != NULL ? "?)" : "");
    }
}

enum cli_action
cli_parse(struct cli *cli, int argc, char **argv)
{
    struct option opts[5 + CLI_NKEYS + 1] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
    };
    int c;

    memset(cli, 0, sizeof(*cli));
    /* Every config key is also a flag: upstream -> --upstream. */
    for (int i = 0; i < CLI_NKEYS; i++) {
        const char *k = key_name(i);

        snprintf(cli->optnames[i], sizeof(cli->optnames[i]), "%s", k);
        for (char *p = cli->optnames[i]; *p != '\0'; p++) {
            *p = *p == '_' ? '-' : *p;
        }
        snprintf(cli->flagnames[i], sizeof(cli->flagnames[i]), "--%.39s",
                 cli->optnames[i]);
        opts[4 + i].name = cli->optnames[i];
        opts[4 + i].has_arg = required_argument;
        opts[4 + i].flag = NULL;
        opts[4 + i].val = KEY_OPT_BASE + i;
    }
    while ((c = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->file = optarg;
            break;
        case 't':
            cli->check = true;
            break;
        case 'V':
            return CLI_VERSION;
        case 'h':
            return CLI_HELP;
        default:
            if (c >= KEY_OPT_BASE && c < KEY_OPT_BASE + CLI_NKEYS) {
                /* One flag per key: so flags[] (one slot per key) holds
                 * them all, and a repeated flag is an error, as a repeated
                 * key in a file is. */
                for (int f = 0; f < cli->nflags; f++) {
                    if (strcmp(cli->flags[f].key,
                               key_name(c - KEY_OPT_BASE)) == 0) {
                        fprintf(stderr, "redsleeve: %s given twice\n",
                                cli->flagnames[c - KEY_OPT_BASE]);
                        return CLI_BAD;
                    }
                }
                cli->flags[cli->nflags].key = key_name(c - KEY_OPT_BASE);
                cli->flags[cli->nflags].value = optarg;
                cli->flags[cli->nflags].origin =
                    cli->flagnames[c - KEY_OPT_BASE];
                cli->nflags++;
                break;
            }
            cli_usage(stderr);
            return CLI_BAD;
        }
    }
    if (optind != argc ||
        (cli->file == NULL && cli->nflags == 0 && !sidecar_env()) ||
        (cli->file != NULL && cli->nflags > 0)) {
        if (cli->file != NULL && cli->nflags > 0) {
            fprintf(stderr, "redsleeve: use -c FILE or settings flags, "
                    "not both\n");
        }
        cli_usage(stderr);
        return CLI_BAD;
    }
    warn_env(cli->file != NULL);
    return CLI_RUN;
}

struct config *
cli_sidecar_config(const struct config_arg *flags, int nflags, char *err,
                   size_t errlen)
{
    char envnames[CLI_NKEYS][ENV_NAME_MAX];  /* origins, while loading */
    struct config_arg args[CONFIG_ARGS_MAX];
    int n = 0;

    for (int i = 0; i < CLI_NKEYS && n < CONFIG_ARGS_MAX; i++) {
        const char *k = key_name(i);
        const char *v;
        bool flagged = false;
        size_t j;

        for (int f = 0; f < nflags; f++) {
            flagged |= strcmp(flags[f].key, k) == 0;
        }
        snprintf(envnames[i], sizeof(envnames[i]), ENV_PREFIX);
        for (j = 0; k[j] != '\0' && j + ENV_PREFIX_LEN + 1 <
                                        sizeof(envnames[i]); j++) {
            envnames[i][ENV_PREFIX_LEN + j] =
                (char)(k[j] >= 'a' && k[j] <= 'z' ? k[j] - 'a' + 'A' : k[j]);
        }
        envnames[i][ENV_PREFIX_LEN + j] = '\0';
        v = getenv(envnames[i]);
        if (!flagged && v != NULL && v[0] != '\0') {
            args[n].key = k;
            args[n].value = v;
            args[n].origin = envnames[i];
            n++;
        }
    }
    for (int f = 0; f < nflags && n < CONFIG_ARGS_MAX; f++) {
        args[n++] = flags[f];
    }
    return config_load_args(args, n, err, errlen);
}
