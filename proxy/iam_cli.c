/*
 * iam_cli.c: `redsleeve --iam-token`: the credential chain (aws_creds.c,
 * and for fetched credentials creds.c on a loop of its own) and the
 * signer (sigv4.c), run once from the command line.
 */
#include "iam_cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "aws_creds.h"
#include "config.h"
#include "creds.h"
#include "sigv4.h"

#define TOKEN_MAX 8192
#define REGION_MAX 64
#define FETCH_WAIT 10           /* seconds --iam-token waits for a fetch */

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: redsleeve --iam-token --iam-user-id USER "
            "--iam-cache-name CACHE\n"
            "                 [--iam-region REGION] [--iam-serverless yes|no]"
            "\n"
            "                 [--aws-profile PROFILE] [--at "
            "2025-01-01T00:00:00Z]\n"
            "\n"
            "Prints one ElastiCache IAM token (AUTH USER TOKEN), signed with "
            "the\n"
            "credentials the daemon would use (the environment, the shared "
            "AWS\n"
            "files, a web identity, the container endpoint, instance "
            "metadata),\n"
            "for now or for the instant --at (UTC).\n");
}

bool
iam_cli_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iam-token") == 0) {
            return true;
        }
    }
    return false;
}

/* "2025-01-01T00:00:00Z" -> *out; -1 if it is not that form. */
static int
parse_at(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0') {
        return -1;
    }
    *out = timegm(&tm);
    return 0;
}

/* The one-shot fetch: the cell, and when to stop waiting for it. */
struct once {
    struct event_base *base;    /* ref */
    struct creds_cell cell;
    time_t deadline;
    bool got;
};

static void
once_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct once *o = arg;
    time_t exp;
    uint64_t failures;

    (void)fd;
    (void)what;
    creds_cell_state(&o->cell, &exp, &failures);
    o->got = exp != 0 || o->cell.access_key != NULL;
    if (o->got || time(NULL) >= o->deadline) {
        event_base_loopbreak(o->base);
    }
}

/*
 * The credentials a fetcher brings (STS, the container endpoint, instance
 * metadata), on a loop of our own for at most FETCH_WAIT seconds, into
 * ak/sk/tok (n bytes each).  0, or -1 with why in err.
 */
static int
fetch_once(const struct creds_options *co, char *ak, char *sk, char *tok,
           size_t n, char *err, size_t errlen)
{
    struct once o = {0};
    struct evdns_base *dns = NULL;
    struct creds_fetcher *f = NULL;
    struct event *tick = NULL;
    struct timeval tv = {0, 50000};
    int rc = -1;

    creds_cell_init(&o.cell);
    if ((o.base = event_base_new()) == NULL ||
        (dns = evdns_base_new(o.base,
                              EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
        snprintf(err, errlen, "cannot start a loop or a resolver");
        goto out;
    }
    if ((f = creds_fetcher_new(co, o.base, dns, &o.cell, err,
                               errlen)) == NULL) {
        goto out;
    }
    o.deadline = time(NULL) + FETCH_WAIT;
    tick = event_new(o.base, -1, EV_PERSIST, once_tick_cb, &o);
    if (tick == NULL || event_add(tick, &tv) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    (void)event_base_dispatch(o.base);
    if (creds_cell_copy(&o.cell, time(NULL), ak, sk, tok, n) < 0) {
        snprintf(err, errlen, "%s (waited %d s)", ak, FETCH_WAIT);
        goto out;
    }
    rc = 0;
out:
    if (tick != NULL) {
        event_free(tick);
    }
    creds_fetcher_free(f);
    if (dns != NULL) {
        evdns_base_free(dns, 0);
    }
    if (o.base != NULL) {
        event_base_free(o.base);
    }
    creds_cell_clear(&o.cell);
    return rc;
}

/* Signs and prints the token; 0, or 1. */
static int
print_token(const char *cache, const char *user, const char *region,
            bool serverless, time_t at, const struct sigv4_creds *sc,
            const char *source)
{
    char *token = malloc(TOKEN_MAX);
    int rc = token != NULL &&
                     sigv4_elasticache_token(cache, user, region, serverless,
                                             at, sc, token, TOKEN_MAX) == 0
                 ? 0 : 1;

    if (rc == 0) {
        printf("%s\n", token);
    } else {
        fprintf(stderr, "redsleeve: --iam-token: cannot sign the token "
                "(credentials from %s)\n", source);
    }
    free(token);
    return rc;
}

/* No keys in the environment or the files: a web identity (in creds), else
 * the container endpoint, else instance metadata, as the daemon does. */
static int
print_fetched(const struct aws_creds *creds, const char *cache,
              const char *user, const char *region, bool serverless,
              time_t at, char *err, size_t errlen)
{
    struct creds_options co = {
        .src = creds->role_arn != NULL ? CREDS_SRC_WEB_IDENTITY
               : creds_container_configured() ? CREDS_SRC_CONTAINER
                                              : CREDS_SRC_IMDS,
        .role_arn = creds->role_arn,
        .token_file = creds->token_file,
        .session_name = creds->session_name,
        .region = region,
    };
    static const char *const names[] = {
        [CREDS_SRC_CONTAINER] = "container endpoint",
        [CREDS_SRC_IMDS] = "instance metadata",
        [CREDS_SRC_WEB_IDENTITY] = "web identity",
    };
    char *ak = malloc(CREDS_FIELD_MAX), *sk = malloc(CREDS_FIELD_MAX);
    char *tok = malloc(CREDS_FIELD_MAX);
    int rc = 1;

    if (ak == NULL || sk == NULL || tok == NULL) {
        fprintf(stderr, "redsleeve: --iam-token: out of memory\n");
    } else if (fetch_once(&co, ak, sk, tok, CREDS_FIELD_MAX, err,
                          errlen) < 0) {
        fprintf(stderr, "redsleeve: --iam-token: %s: %s\n", names[co.src],
                err);
    } else {
        rc = print_token(cache, user, region, serverless, at,
                         &(struct sigv4_creds){ak, sk, tok[0] ? tok : NULL},
                         names[co.src]);
    }
    creds_fields_free(ak, sk, tok);
    return rc;
}

int
iam_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"iam-token", no_argument, NULL, 't'},
        {"iam-user-id", required_argument, NULL, 'u'},
        {"iam-cache-name", required_argument, NULL, 'c'},
        {"iam-region", required_argument, NULL, 'r'},
        {"iam-serverless", required_argument, NULL, 's'},
        {"aws-profile", required_argument, NULL, 'p'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *user = NULL, *cache = NULL, *region = NULL, *profile = NULL;
    char region_buf[REGION_MAX], err[2 * PATH_MAX + 512];
    bool serverless = false;
    time_t at = time(NULL);
    struct aws_creds creds;
    int c, r, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            break;
        case 'u':
            user = optarg;
            break;
        case 'c':
            cache = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 's':
            if (config_parse_bool(optarg, &serverless) < 0) {
                fprintf(stderr, "redsleeve: --iam-serverless: expected yes "
                        "or no, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'p':
            profile = optarg;
            break;
        case 'a':
            if (parse_at(optarg, &at) < 0) {
                fprintf(stderr, "redsleeve: --at: expected a UTC time such "
                        "as 2025-01-01T00:00:00Z, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || user == NULL || cache == NULL ||
        user[0] == '\0' || cache[0] == '\0') {
        if (optind == argc) {
            fprintf(stderr, "redsleeve: --iam-token needs --iam-user-id and "
                    "--iam-cache-name\n");
        }
        usage(stderr);
        return 2;
    }
    if (region == NULL) {
        if (aws_region(profile, region_buf, sizeof(region_buf)) < 0) {
            fprintf(stderr, "redsleeve: --iam-token: no region: give "
                    "--iam-region, or set AWS_REGION\n");
            return 1;
        }
        region = region_buf;
    }
    r = aws_creds_load(profile, &creds, err, sizeof(err));
    if (r == AWS_CREDS_BAD ||
        (r == AWS_CREDS_NONE && !creds_container_configured() &&
         !creds_imds_enabled())) {
        fprintf(stderr, "redsleeve: --iam-token: %s\n", err);
        return 1;
    }
    if (r == AWS_CREDS_NONE || creds.role_arn != NULL) {
        rc = print_fetched(&creds, cache, user, region, serverless, at, err,
                           sizeof(err));
    } else {
        rc = print_token(cache, user, region, serverless, at,
                         &(struct sigv4_creds){creds.access_key,
                                               creds.secret_key,
                                               creds.session_token},
                         creds.source);
    }
    aws_creds_clear(&creds);
    return rc;
}
