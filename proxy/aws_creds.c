/*
 * aws_creds.c: credentials from the environment and the shared files,
 * and where a web identity is configured (see aws_creds.h).  The files
 * are INI, read with inih.
 */
#include "aws_creds.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What one file's profile holds, while inih reads it. */
struct profile_read {
    const char *section;        /* ref: the section wanted */
    char *access_key;           /* owned */
    char *secret_key;           /* owned, secret */
    char *session_token;        /* owned, secret */
    char *region;               /* owned */
    char *role_arn;             /* owned */
    char *token_file;           /* owned: web_identity_token_file */
    char *session_name;         /* owned: role_session_name */
    bool seen;                  /* the section exists */
    bool nomem;
};

static void
wipe_free(char **s)
{
    if (*s != NULL) {
        OPENSSL_clear_free(*s, strlen(*s));
        *s = NULL;
    }
}

static void
take(struct profile_read *r, char **field, const char *value)
{
    wipe_free(field);
    if ((*field = strdup(value)) == NULL) {
        r->nomem = true;
    }
}

static int
profile_key(void *user, const char *section, const char *name,
            const char *value)
{
    struct profile_read *r = user;

    if (strcmp(section, r->section) != 0) {
        return 1;
    }
    r->seen = true;
    if (strcmp(name, "aws_access_key_id") == 0) {
        take(r, &r->access_key, value);
    } else if (strcmp(name, "aws_secret_access_key") == 0) {
        take(r, &r->secret_key, value);
    } else if (strcmp(name, "aws_session_token") == 0) {
        take(r, &r->session_token, value);
    } else if (strcmp(name, "region") == 0) {
        take(r, &r->region, value);
    } else if (strcmp(name, "role_arn") == 0) {
        take(r, &r->role_arn, value);
    } else if (strcmp(name, "web_identity_token_file") == 0) {
        take(r, &r->token_file, value);
    } else if (strcmp(name, "role_session_name") == 0) {
        take(r, &r->session_name, value);
    }
    return 1;
}

static void
profile_clear(struct profile_read *r)
{
    wipe_free(&r->access_key);
    wipe_free(&r->secret_key);
    wipe_free(&r->session_token);
    wipe_free(&r->region);
    wipe_free(&r->role_arn);
    wipe_free(&r->token_file);
    wipe_free(&r->session_name);
}

/* The path in variable var, else ~/.aws/name. */
static const char *
file_path(const char *var, const char *name, char *buf, size_t buflen)
{
    const char *v = getenv(var), *home = getenv("HOME");

    if (v != NULL && v[0] != '\0') {
        return v;
    }
    snprintf(buf, buflen, "%s/.aws/%s", home != NULL ? home : "", name);
    return buf;
}

static const char *
profile_name(const char *profile)
{
    const char *v = getenv("AWS_PROFILE");

    if (profile != NULL && profile[0] != '\0') {
        return profile;
    }
    return v != NULL && v[0] != '\0' ? v : "default";
}

/* Reads section of path into r.  0 (even if the file is absent: r->seen
 * says), -1 on a parse error or ENOMEM, with err set. */
static int
read_profile(const char *path, const char *section, struct profile_read *r,
             char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    int line;

    memset(r, 0, sizeof(*r));
    r->section = section;
    if (fp == NULL) {
        return 0;
    }
    line = ini_parse_file(fp, profile_key, r);
    fclose(fp);
    if (line != 0 || r->nomem) {
        snprintf(err, errlen, "%s: %s", path,
                 r->nomem ? "out of memory" : "cannot parse");
        if (line > 0) {
            snprintf(err, errlen, "%s:%d: cannot parse", path, line);
        }
        profile_clear(r);
        return -1;
    }
    return 0;
}

/* The config file names profiles "[profile NAME]", except the default. */
static void
config_section(const char *profile, char *out, size_t outlen)
{
    if (strcmp(profile, "default") == 0) {
        snprintf(out, outlen, "default");
    } else {
        snprintf(out, outlen, "profile %s", profile);
    }
}

/* Moves r's keys into out; 0, or -1 (ENOMEM). */
static int
adopt(struct profile_read *r, struct aws_creds *out, const char *source)
{
    out->access_key = r->access_key;
    out->secret_key = r->secret_key;
    out->session_token = r->session_token;
    r->access_key = r->secret_key = r->session_token = NULL;
    snprintf(out->source, sizeof(out->source), "%s", source);
    profile_clear(r);
    return 0;
}

/* A web identity's token file can be opened (by whom we run as); the
 * token itself is read by the fetcher at every fetch.  0, or
 * AWS_CREDS_BAD with err naming what set the path (what). */
static int
token_file_readable(const char *path, const char *what, char *err,
                    size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return AWS_CREDS_BAD;
    }
    close(fd);
    return 0;
}

/* Copies a web identity into out; 0, or AWS_CREDS_BAD with err set. */
static int
adopt_web_identity(struct aws_creds *out, const char *arn, const char *file,
                   const char *session, const char *source, char *err,
                   size_t errlen)
{
    out->role_arn = strdup(arn);
    out->token_file = strdup(file);
    out->session_name = session != NULL && session[0] != '\0'
                            ? strdup(session) : NULL;
    snprintf(out->source, sizeof(out->source), "%s", source);
    if (out->role_arn == NULL || out->token_file == NULL ||
        (session != NULL && session[0] != '\0' &&
         out->session_name == NULL)) {
        aws_creds_clear(out);
        snprintf(err, errlen, "out of memory");
        return AWS_CREDS_BAD;
    }
    return 0;
}

/* Web identity from a profile (r read from path, section): role_arn
 * with web_identity_token_file.  0 when found, AWS_CREDS_NONE when the
 * profile has no role_arn, else AWS_CREDS_BAD. */
static int
profile_web_identity(struct profile_read *r, const char *path,
                     const char *section, struct aws_creds *out, char *err,
                     size_t errlen)
{
    char where[PATH_MAX + 300];

    if (r->role_arn == NULL && r->token_file == NULL) {
        return AWS_CREDS_NONE;
    }
    if (r->role_arn == NULL || r->role_arn[0] == '\0' ||
        r->token_file == NULL || r->token_file[0] == '\0') {
        snprintf(err, errlen, "%s [%s]: %s", path, section,
                 r->token_file == NULL || r->token_file[0] == '\0'
                     ? "role_arn without web_identity_token_file (roles "
                       "assumed with source_profile or credential_source "
                       "are not supported)"
                     : "web_identity_token_file without role_arn");
        return AWS_CREDS_BAD;
    }
    snprintf(where, sizeof(where), "%s [%s]: web_identity_token_file", path,
             section);
    if (token_file_readable(r->token_file, where, err, errlen) < 0) {
        return AWS_CREDS_BAD;
    }
    snprintf(where, sizeof(where), "%s [%s]", path, section);
    return adopt_web_identity(out, r->role_arn, r->token_file,
                              r->session_name, where, err, errlen);
}

/* Web identity from the environment, as EKS IRSA sets it. */
static int
env_web_identity(struct aws_creds *out, char *err, size_t errlen)
{
    const char *arn = getenv("AWS_ROLE_ARN");
    const char *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    bool have_arn = arn != NULL && arn[0] != '\0';
    bool have_file = file != NULL && file[0] != '\0';

    if (!have_arn && !have_file) {
        return AWS_CREDS_NONE;
    }
    if (!have_arn || !have_file) {
        snprintf(err, errlen, "%s is set but %s is not (web identity needs "
                 "both)", have_arn ? "AWS_ROLE_ARN" :
                 "AWS_WEB_IDENTITY_TOKEN_FILE", have_arn ?
                 "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN");
        return AWS_CREDS_BAD;
    }
    if (token_file_readable(file, "AWS_WEB_IDENTITY_TOKEN_FILE", err,
                            errlen) < 0) {
        return AWS_CREDS_BAD;
    }
    return adopt_web_identity(out, arn, file, getenv("AWS_ROLE_SESSION_NAME"),
                              "environment", err, errlen);
}

int
aws_creds_load(const char *profile, struct aws_creds *out, char *err,
               size_t errlen)
{
    const char *ak = getenv("AWS_ACCESS_KEY_ID");
    const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *st = getenv("AWS_SESSION_TOKEN");
    const char *name = profile_name(profile);
    char pbuf[PATH_MAX], cbuf[PATH_MAX], section[256];
    char source[sizeof(out->source)];
    const char *cred_path, *conf_path;
    struct profile_read cr, r;
    int rc;

    memset(out, 0, sizeof(*out));
    if (ak != NULL && ak[0] != '\0' && sk != NULL && sk[0] != '\0') {
        out->access_key = strdup(ak);
        out->secret_key = strdup(sk);
        out->session_token = st != NULL && st[0] != '\0' ? strdup(st) : NULL;
        snprintf(out->source, sizeof(out->source), "environment");
        if (out->access_key == NULL || out->secret_key == NULL ||
            (st != NULL && st[0] != '\0' && out->session_token == NULL)) {
            aws_creds_clear(out);
            snprintf(err, errlen, "out of memory");
            return AWS_CREDS_NONE;
        }
        return 0;
    }
    cred_path = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", pbuf,
                          sizeof(pbuf));
    if (read_profile(cred_path, name, &cr, err, errlen) < 0) {
        return AWS_CREDS_NONE;
    }
    if (cr.access_key != NULL && cr.secret_key != NULL) {
        snprintf(source, sizeof(source), "%s [%s]", cred_path, name);
        return adopt(&cr, out, source);
    }
    conf_path = file_path("AWS_CONFIG_FILE", "config", cbuf, sizeof(cbuf));
    config_section(name, section, sizeof(section));
    if (read_profile(conf_path, section, &r, err, errlen) < 0) {
        profile_clear(&cr);
        return AWS_CREDS_NONE;
    }
    if (r.access_key != NULL && r.secret_key != NULL) {
        profile_clear(&cr);
        snprintf(source, sizeof(source), "%s [%s]", conf_path, section);
        return adopt(&r, out, source);
    }
    /* Web identity: the profile's (config file, then credentials file),
     * then the environment's. */
    rc = profile_web_identity(&r, conf_path, section, out, err, errlen);
    if (rc == AWS_CREDS_NONE) {
        rc = profile_web_identity(&cr, cred_path, name, out, err, errlen);
    }
    profile_clear(&r);
    profile_clear(&cr);
    if (rc == AWS_CREDS_NONE) {
        rc = env_web_identity(out, err, errlen);
    }
    if (rc != AWS_CREDS_NONE) {
        return rc;
    }
    snprintf(err, errlen, "no AWS credentials for profile %s: not in the "
             "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), not "
             "in %s, not in %s (static keys or role_arn + "
             "web_identity_token_file), no web identity in the environment "
             "(AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)", name, cred_path,
             conf_path);
    return AWS_CREDS_NONE;
}

void
aws_creds_clear(struct aws_creds *c)
{
    free(c->access_key);
    wipe_free(&c->secret_key);
    wipe_free(&c->session_token);
    free(c->role_arn);
    free(c->token_file);
    free(c->session_name);
    c->access_key = NULL;
    c->role_arn = c->token_file = c->session_name = NULL;
}

int
aws_region(const char *profile, char *out, size_t outlen)
{
    const char *v = getenv("AWS_REGION");
    char cbuf[PATH_MAX], section[256], err[PATH_MAX + 64];
    struct profile_read r;
    int rc = -1;

    if (v == NULL || v[0] == '\0') {
        v = getenv("AWS_DEFAULT_REGION");
    }
    if (v != NULL && v[0] != '\0') {
        snprintf(out, outlen, "%s", v);
        return 0;
    }
    config_section(profile_name(profile), section, sizeof(section));
    if (read_profile(file_path("AWS_CONFIG_FILE", "config", cbuf,
                               sizeof(cbuf)), section, &r, err,
                     sizeof(err)) == 0 && r.region != NULL) {
        snprintf(out, outlen, "%s", r.region);
        rc = 0;
    }
    profile_clear(&r);
    return rc;
}
