/*
 * aws_creds.h: AWS credentials and region, found the way the AWS SDKs
 * look for them (so far the sources that need no network: the
 * environment, then the shared credentials and config files).
 *
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]
 *   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
 *      ~/.aws/credentials), section [PROFILE]
 *   3. the config file (AWS_CONFIG_FILE, default ~/.aws/config), section
 *      [profile PROFILE] ([default] for the default profile)
 *
 * PROFILE is the one given, else AWS_PROFILE, else "default".  Web
 * identity, the container endpoint and instance metadata (issue #17) come
 * later.  Secrets are wiped when freed and never appear in an error.
 */
#ifndef REDSLEEVE_AWS_CREDS_H
#define REDSLEEVE_AWS_CREDS_H

#include <limits.h>
#include <stddef.h>

#include "log.h"

struct aws_creds {
    char *access_key;           /* owned */
    char *secret_key;           /* owned, secret */
    char *session_token;        /* owned, secret; NULL if none */
    char source[PATH_MAX + 272];    /* where they came from: "environment",
                                   "FILE [profile]" */
};

/*
 * aws_creds_load(profile, out, err, errlen): the first source in the
 * order above with an access key and a secret key.  Returns 0, or -1
 * with what was looked at in err (never a secret).  Free with
 * aws_creds_clear().
 */
int aws_creds_load(const char *profile, struct aws_creds *out, char *err,
                   size_t errlen) MUST_CHECK;

/* aws_creds_clear(c): wipes and frees what c holds. */
void aws_creds_clear(struct aws_creds *c);

/*
 * aws_region(profile, out, outlen): AWS_REGION, else AWS_DEFAULT_REGION,
 * else `region` in the config file's profile.  0, or -1 when none is set.
 */
int aws_region(const char *profile, char *out, size_t outlen);

#endif
