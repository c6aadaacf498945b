/*
 * buf.h: a byte buffer that is lent while bytes wait to be written, for
 * both a session's directions (session_io.c) and a shared link's batch
 * (mux.c).
 *
 * Bytes wait in data[off .. off+len).  Appending moves them to the front
 * before it grows the buffer; growing doubles, from BUF_MIN.  Once every
 * byte is consumed the buffer is freed, unless the owner asked to keep
 * one of up to `keep` bytes (a link that writes a batch every loop turn
 * keeps its buffer rather than allocating one per batch).  A buffer that
 * may hold a secret (our AUTH) is never realloc()ed (realloc may leave a
 * copy behind) and is wiped before it is freed.
 *
 * It owns nothing but data; it knows no socket and no limit but the one
 * passed to buf_append.
 */
#ifndef REDSLEEVE_BUF_H
#define REDSLEEVE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#define BUF_MIN 16384               /* the first size of a buffer */

struct buf {
    char *data;                 /* owned: NULL while nothing waits */
    size_t off;                 /* first byte not consumed */
    size_t len;                 /* bytes not consumed */
    size_t cap;                 /* allocated size */
    bool secret;                /* may hold our AUTH: wiped when freed or
                                   moved */
};

/* buf_release(b): frees b's buffer (wiped first if b->secret); b is empty
 * and not secret afterwards. */
void buf_release(struct buf *b);

/* buf_append(b, p, n, limit): appends n bytes.  The caller has checked
 * its limit; a buffer is not grown past limit when limit holds them all.
 * 0, or -1 on ENOMEM (b unchanged). */
int buf_append(struct buf *b, const char *p, size_t n, size_t limit);

/* buf_consume(b, n, keep): n bytes were delivered.  Once b is empty its
 * buffer is freed, unless it is at most keep bytes (then kept, empty). */
void buf_consume(struct buf *b, size_t n, size_t keep);

#endif
