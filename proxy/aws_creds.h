/*
 * aws_creds.h: AWS credentials and region, found the way the AWS SDKs
 * look for them, as far as no network is needed: the environment, the
 * shared credentials and config files, and where a web identity is
 * configured (the STS call itself is creds.c's, on the control loop).
 *
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]
 *   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
 *      ~/.aws/credentials), section [PROFILE]
 *   3. the config file (AWS_CONFIG_FILE, default ~/.aws/config), section
 *      [profile PROFILE] ([default] for the default profile)
 *   4. web identity from the profile: role_arn + web_identity_token_file
 *      [+ role_session_name] in the config file's section, else in the
 *      credentials file's
 *   5. web identity from the environment (EKS IRSA sets it):
 *      AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE [+ AWS_ROLE_SESSION_NAME]
 *
 * PROFILE is the one given, else AWS_PROFILE, else "default".  The
 * container endpoint and instance metadata come after these (creds.h).
 * Secrets are wiped when freed and never appear in an error; a role ARN
 * and a token file's path are not secrets, the token in the file is (it
 * is read here only to see that it can be).
 */
#ifndef REDSLEEVE_AWS_CREDS_H
#define REDSLEEVE_AWS_CREDS_H

#include <limits.h>
#include <stddef.h>

#include "log.h"

struct aws_creds {
    char *access_key;           /* owned; NULL for a web identity */
    char *secret_key;           /* owned, secret */
    char *session_token;        /* owned, secret; NULL if none */
    char *role_arn;             /* owned: a web identity's role; NULL for
                                   keys */
    char *token_file;           /* owned: the web identity token's file */
    char *session_name;         /* owned: role_session_name; NULL = none */
    char source[PATH_MAX + 272];    /* where they came from: "environment",
                                   "FILE [profile]" */
};

#define AWS_CREDS_NONE (-1)     /* no source here: ask the next ones */
#define AWS_CREDS_BAD (-2)      /* a web identity is set but unusable */

/*
 * aws_creds_load(profile, out, err, errlen): the first source in the
 * order above with an access key and a secret key, or with a role ARN
 * and a readable token file (then out->role_arn is set, the keys are
 * NULL).  Returns 0; AWS_CREDS_NONE with what was looked at in err; or
 * AWS_CREDS_BAD with why in err (a web identity variable or profile key
 * without its pair, its token file unreadable, role_arn without
 * web_identity_token_file): refuse rather than fall through to another
 * source.  err never holds a secret.  Free with aws_creds_clear().
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
