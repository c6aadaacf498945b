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

#include "log.h"

struct auth_cmd {
    char *buf;      /* owned, secret: RESP "AUTH [user] password" */
    size_t len;     /* bytes in buf; 0 = no AUTH configured */
};

/*
 * auth_cmd_build(ac, user, password): encodes AUTH as a RESP array (user
 * may be NULL; password NULL means no AUTH, leaving ac empty).  Returns 0,
 * or -1 on allocation failure.
 */
int auth_cmd_build(struct auth_cmd *ac, const char *user,
                   const char *password) MUST_CHECK;

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
