/*
 * creds.h: AWS credentials that change while redsleeve runs, fetched
 * from AWS STS for a web identity (EKS IRSA), the container credentials
 * endpoint (ECS, EKS Pod Identity) or the EC2 instance metadata service
 * (IMDSv2) and refreshed before they expire, without blocking any loop.
 *
 * A creds_cell holds the current credentials for the whole process; the
 * control loop's fetcher writes it, every worker reads it when it signs an
 * IAM token (creds_cell_copy).  Its lock is creds_cell.mu, taken for a
 * copy or a swap only.  Secrets are wiped when replaced or freed and are
 * never logged: a failure names the endpoint and the HTTP status only
 * (and for STS the error's Code, or why its certificate was rejected).
 *
 * Web identity (the role and token file come from aws_creds.c, the STS
 * protocol from creds_sts.c): POST AssumeRoleWithWebIdentity over HTTPS,
 * verified, to AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or
 * https://sts.REGION.amazonaws.com; the token file is read again at every
 * fetch (EKS rotates it) and wiped after use.  The answer is XML.
 *
 * The container endpoint, as the AWS SDKs read it:
 *   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI  http://169.254.170.2<URI>
 *   AWS_CONTAINER_CREDENTIALS_FULL_URI      http:// to a loopback address,
 *                                           169.254.170.2, 169.254.170.23
 *                                           or [fd00:ec2::23]
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE  the Authorization header, read
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN       at every fetch (file first)
 * IMDSv2, when no other source has credentials and
 * AWS_EC2_METADATA_DISABLED is not "true": PUT /latest/api/token (a
 * session token for 6 h), GET .../iam/security-credentials/ (the role),
 * GET .../security-credentials/ROLE, each GET with the token; a 401 gets
 * a new token, once.  AWS_EC2_METADATA_SERVICE_ENDPOINT moves it (default
 * http://169.254.169.254).
 * Their answer is JSON with AccessKeyId, SecretAccessKey, Token and
 * Expiration (ISO 8601, UTC).  Every source is fetched again
 * CREDS_REFRESH_AHEAD seconds before Expiration; a failed fetch keeps the
 * credentials it has and is retried after 1, 2, 4, ... 60 s.
 *
 * One fetcher (one source) per process: config_check.c refuses services
 * that would need two.
 */
#ifndef REDSLEEVE_CREDS_H
#define REDSLEEVE_CREDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "log.h"

#define CREDS_REFRESH_AHEAD 300     /* seconds before Expiration */
#define CREDS_FIELD_MAX 2048        /* longest key or token accepted */

struct creds_cell {
    pthread_mutex_t mu;             /* guards everything below */
    char *access_key;               /* owned; NULL until the first fetch */
    char *secret_key;               /* owned, secret */
    char *session_token;            /* owned, secret; NULL if none */
    time_t expiration;              /* 0 = none yet */
    uint64_t fetch_failures;        /* fetches that failed */
    char last_error[160];           /* why the last fetch failed, or "" */
};

/* creds_cell_init(c) / creds_cell_clear(c): set up; wipe and free. */
void creds_cell_init(struct creds_cell *c);
void creds_cell_clear(struct creds_cell *c);

/*
 * creds_cell_copy(c, now, ak, sk, tok, n): copies the credentials (each
 * field up to n bytes; tok "" when there is none) if they are valid at
 * now.  0, or -1 with why in ak (no credentials yet, or expired, and the
 * last fetch's error).  The caller wipes sk and tok after use.
 */
int creds_cell_copy(struct creds_cell *c, time_t now, char *ak, char *sk,
                    char *tok, size_t n) MUST_CHECK;

/* creds_cell_forget(c): wipes the credentials c holds (a new source
 * replaces the one that gave them); its counters stay. */
void creds_cell_forget(struct creds_cell *c);

/* creds_fields_free(ak, sk, tok): wipes (sk, tok) and frees three
 * CREDS_FIELD_MAX buffers from malloc; any may be NULL. */
void creds_fields_free(char *ak, char *sk, char *tok);

/* creds_cell_state(c, expiration, failures): the figures for /metrics. */
void creds_cell_state(struct creds_cell *c, time_t *expiration,
                      uint64_t *failures);

/* creds_container_configured(): the container endpoint variables are set. */
bool creds_container_configured(void);

/* creds_imds_enabled(): instance metadata may be asked
 * (AWS_EC2_METADATA_DISABLED is not "true"). */
bool creds_imds_enabled(void);

enum creds_source {
    CREDS_SRC_CONTAINER,            /* the container endpoint */
    CREDS_SRC_IMDS,                 /* EC2 instance metadata, IMDSv2 */
    CREDS_SRC_WEB_IDENTITY          /* STS AssumeRoleWithWebIdentity */
};

/* What a fetcher fetches; the strings are copied. */
struct creds_options {
    enum creds_source src;
    const char *role_arn;           /* web identity: the role assumed */
    const char *token_file;         /* web identity: read at every fetch */
    const char *session_name;       /* web identity: NULL = redsleeve-TIME */
    const char *region;             /* web identity: the default endpoint's */
};

/*
 * creds_parse(body, len, ak, sk, tok, n, expiration): the four fields of
 * an endpoint's JSON answer.  0, or -1 when a field is missing, too long
 * or not a JSON string.  Exposed for the unit tests.
 */
int creds_parse(const char *body, size_t len, char *ak, char *sk, char *tok,
                size_t n, time_t *expiration) MUST_CHECK;

struct event_base;
struct evdns_base;
struct creds_fetcher;

/*
 * creds_fetcher_new(o, base, dns, cell, err, errlen): starts fetching
 * from o->src into cell on base (the first fetch as soon as the loop
 * runs).  NULL with why in err when the endpoint variables are missing or
 * not allowed, or (web identity) AWS_CA_BUNDLE cannot be loaded.
 */
struct creds_fetcher *creds_fetcher_new(const struct creds_options *o,
                                        struct event_base *base,
                                        struct evdns_base *dns,
                                        struct creds_cell *cell, char *err,
                                        size_t errlen);

/* creds_fetcher_free(f): stops fetching (a request under way is cancelled). */
void creds_fetcher_free(struct creds_fetcher *f);

#endif
