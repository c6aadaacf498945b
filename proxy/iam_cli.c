/*
 * iam_cli.c: `redsleeve --iam-token`: the credential chain (aws_creds.c)
 * and the signer (sigv4.c), run once from the command line.
 */
#include "iam_cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_creds.h"
#include "config.h"
#include "sigv4.h"

#define TOKEN_MAX 8192
#define REGION_MAX 64

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
            "credentials of the environment or the shared AWS files, for "
            "now or\n"
            "for the instant --at (UTC).\n");
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
    char *token;
    int c, rc;

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
    if (aws_creds_load(profile, &creds, err, sizeof(err)) < 0) {
        fprintf(stderr, "redsleeve: --iam-token: %s\n", err);
        return 1;
    }
    if (creds.role_arn != NULL) {
        /* The daemon asks STS on its loop; this one-shot signs only. */
        fprintf(stderr, "redsleeve: --iam-token: the credentials are a web "
                "identity (%s, from %s): --iam-token signs only with keys "
                "(the environment or the shared files), the daemon asks "
                "STS\n", creds.role_arn, creds.source);
        aws_creds_clear(&creds);
        return 1;
    }
    token = malloc(TOKEN_MAX);
    rc = token != NULL &&
                 sigv4_elasticache_token(cache, user, region, serverless, at,
                                         &(struct sigv4_creds){
                                             creds.access_key,
                                             creds.secret_key,
                                             creds.session_token},
                                         token, TOKEN_MAX) == 0
             ? 0 : 1;
    if (rc == 0) {
        printf("%s\n", token);
    } else {
        fprintf(stderr, "redsleeve: --iam-token: cannot sign the token "
                "(credentials from %s)\n", creds.source);
    }
    free(token);
    aws_creds_clear(&creds);
    return rc;
}
