/*
 * auth.h: the AUTH command a link sends before any client byte.
 *
 * auth.c owns the encoded command (it holds the password, so it is wiped
 * when freed) and the check of the server's answer.  The password itself
 * is loaded by config.c from a file or an environment variable.
 */
#ifndef REDSLEEVE_AUTH_H
#define REDSLEEVE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "creds.h"
#include "log.h"
#include "sigv4.h"

/* IAM (ElastiCache): AUTH <user> <token>, a token signed per use. */
struct auth_iam {
    const char *user;           /* ref: iam_user_id */
    const char *cache;          /* ref: iam_cache_name */
    const char *region;         /* ref */
    bool serverless;
    struct sigv4_creds creds;   /* refs, secret: the service config's */
    uint64_t *signed_count;     /* ref: counts tokens signed, or NULL */
    struct creds_cell *cell;    /* ref: credentials fetched at run time
                                   (used instead of creds), or NULL */
};

struct auth_cmd {
    char *buf;      /* owned, secret: RESP "AUTH [user] password"; NULL
                       with IAM (made by auth_cmd_render each time) */
    size_t len;     /* bytes in buf */
    bool on;        /* AUTH is sent (a password or IAM) */
    bool iam;       /* IAM: iam below, not buf */
    struct auth_iam iam_cfg;    /* refs: valid while the config is */
};

/*
 * auth_cmd_build(ac, user, password): encodes AUTH as a RESP array (user
 * may be NULL; password NULL means no AUTH, leaving ac empty).  Returns 0,
 * or -1 on allocation failure.
 */
int auth_cmd_build(struct auth_cmd *ac, const char *user,
                   const char *password) MUST_CHECK;

/*
 * auth_cmd_build_iam(ac, iam): AUTH with an IAM token signed for each
 * use; iam's strings are refs that must outlive ac (the service config).
 */
void auth_cmd_build_iam(struct auth_cmd *ac, const struct auth_iam *iam);

/*
 * auth_cmd_render(ac, now, out, outlen): the AUTH command to send now, in
 * a new buffer the caller owns and frees with auth_buf_free(): a copy of
 * the password's command, or with IAM "AUTH user <token>" with a token
 * signed for the instant now (counted in *signed_count).  0, or -1 (out
 * of memory, cannot sign).  ac must be on; called in ac's owning loop.
 */
int auth_cmd_render(const struct auth_cmd *ac, time_t now, char **out,
                    size_t *outlen) MUST_CHECK;

/* auth_cmd_render_why(...): the same, saying why it failed in why (no
 * credentials yet or expired, or out of memory). */
int auth_cmd_render_why(const struct auth_cmd *ac, time_t now, char **out,
                        size_t *outlen, char *why, size_t whylen) MUST_CHECK;

/* auth_buf_free(buf, len): wipes and frees what auth_cmd_render gave. */
void auth_buf_free(char *buf, size_t len);

/* auth_cmd_clear(ac): wipes and frees the command; safe on an empty one. */
void auth_cmd_clear(struct auth_cmd *ac);

enum auth_reply {
    AUTH_REPLY_PARTIAL = 0,     /* need more bytes */
    AUTH_REPLY_OK,              /* exactly "+OK\r\n" */
    AUTH_REPLY_ERROR            /* anything else: see *line */
};

/*
 * auth_reply_check(buf, len, line, linelen): judges the bytes received
 * after AUTH.  On AUTH_REPLY_ERROR, line gets the server's first line,
 * escaped for logging (it never contains the password: servers do not echo
 * it).  Bytes after the reply are an error too: a server that says more
 * than one reply to one command is not one we can trust.
 */
enum auth_reply auth_reply_check(const char *buf, size_t len, char *line,
                                 size_t linelen);

#endif
