/*
 * sigv4.h: AWS Signature Version 4 in its query-string ("presigned")
 * form, and the ElastiCache IAM token made with it.
 *
 * An ElastiCache IAM token is a presigned
 *   GET http://<cache>/?Action=connect&User=<user>[&ResourceType=
 *   ServerlessCache]
 * for the service "elasticache", signed header "host", valid 900 s, with
 * the session token (when the credentials have one) inside the signed
 * query, and the "http://" left off.  Pure: no clock, no I/O; the caller
 * gives the instant and the credentials.  Intermediate keys are wiped.
 */
#ifndef REDSLEEVE_SIGV4_H
#define REDSLEEVE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "log.h"

/* Credentials (refs: the caller's). session_token may be NULL. */
struct sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *session_token;
};

/* One query parameter, unencoded. */
struct sigv4_param {
    const char *key;
    const char *value;
};

#define SIGV4_PARAMS_MAX 16     /* caller's parameters per request */
#define SIGV4_TOKEN_EXPIRES 900 /* seconds an ElastiCache token is valid */

/*
 * sigv4_presign(host, path, params, n, region, service, at, expires,
 * creds, out, outlen): "<host><path>?<canonical query>&X-Amz-Signature=
 * <hex>" for a GET of host/path with the n params plus the X-Amz-* ones,
 * signed for the instant at (UTC).  Returns 0, or -1 when out is too
 * small or an argument is out of range (n > SIGV4_PARAMS_MAX).
 */
int sigv4_presign(const char *host, const char *path,
                  const struct sigv4_param *params, int n,
                  const char *region, const char *service, time_t at,
                  int expires, const struct sigv4_creds *creds, char *out,
                  size_t outlen) MUST_CHECK;

/*
 * sigv4_elasticache_token(cache, user, region, serverless, at, creds,
 * out, outlen): the IAM token for user on cache (the replication group id
 * or serverless cache name, lower-cased here).  0, or -1 as above.
 */
int sigv4_elasticache_token(const char *cache, const char *user,
                            const char *region, bool serverless, time_t at,
                            const struct sigv4_creds *creds, char *out,
                            size_t outlen) MUST_CHECK;

/*
 * sigv4_parse_time(s, out): an ISO 8601 UTC time as AWS answers give it
 * ("2026-01-02T03:04:05Z", fractions and "+00:00" accepted) into *out.
 * 0, or -1.
 */
int sigv4_parse_time(const char *s, time_t *out) MUST_CHECK;

#endif
