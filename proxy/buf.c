/*
 * buf.c: a byte buffer lent while bytes wait to be written (buf.h).
 */
#include "buf.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void
buf_release(struct buf *b)
{
    if (b->secret && b->data != NULL) {
        OPENSSL_cleanse(b->data, b->cap);
    }
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
    b->secret = false;
}

/* Resizes b's buffer to cap (>= b->len, with b->off 0).  A secret buffer
 * is copied and the old one wiped, never realloc()ed. */
static int
grow(struct buf *b, size_t cap)
{
    char *d;

    if (!b->secret) {
        d = realloc(b->data, cap);
        if (d == NULL) {
            return -1;
        }
    } else {
        d = malloc(cap);
        if (d == NULL) {
            return -1;
        }
        if (b->data != NULL) {
            memcpy(d, b->data, b->len);
            OPENSSL_cleanse(b->data, b->cap);
            free(b->data);
        }
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int
buf_append(struct buf *b, const char *p, size_t n, size_t limit)
{
    if (b->off + b->len + n > b->cap) {
        if (b->off > 0) {
            memmove(b->data, b->data + b->off, b->len);
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : BUF_MIN;

            while (cap < b->len + n) {
                cap *= 2;
            }
            if (cap > limit && limit >= b->len + n) {
                cap = limit;
            }
            if (grow(b, cap) < 0) {
                return -1;
            }
        }
    }
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

void
buf_consume(struct buf *b, size_t n, size_t keep)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0) {
        if (b->cap > keep || b->secret) {
            buf_release(b);
        } else {
            b->off = 0;
        }
    }
}
