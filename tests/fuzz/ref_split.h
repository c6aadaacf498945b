/*
 * ref_split.h: a reference for the inline tokenizer in resp.c, written
 * the other way round: not a state machine fed byte by byte, but the
 * shape of Redis' own sdssplitargs() (sds.c), which looks ahead up to
 * three bytes in a NUL-terminated line.  The unit test and the fuzz target
 * compare resp.c's frames with it.  Test code only.
 */
#ifndef REDSLEEVE_REF_SPLIT_H
#define REDSLEEVE_REF_SPLIT_H

#include <stdbool.h>
#include <string.h>

struct ref_split {
    int argc;               /* arguments */
    char name[32];          /* argv[0] lowercased, cut at 31 bytes */
    char arg1[32];          /* argv[1] the same */
    bool name_odd;          /* argv[0] longer than 31 bytes or with a NUL */
    bool arg1_odd;
};

static bool
ref_isspace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static int
ref_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void
ref_add(struct ref_split *r, size_t *n, char c)
{
    char *dst = r->argc == 0 ? r->name : r->argc == 1 ? r->arg1 : NULL;
    bool *odd = r->argc == 0 ? &r->name_odd : &r->arg1_odd;

    if (dst == NULL) {
        return;
    }
    if (c == '\0' || *n >= 31) {
        *odd = true;
    }
    if (*n < 31) {
        dst[(*n)++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        dst[*n] = '\0';
    }
}

/*
 * ref_split_line(line, len, r): line is one inline request without its
 * LF.  Returns 0, or -1 when Redis refuses it (unbalanced quotes) or
 * never runs it (a NUL: its strchr() stops there).
 */
static int
ref_split_line(const char *line, size_t len, struct ref_split *r)
{
    char buf[1024];
    const char *p = buf;

    memset(r, 0, sizeof(*r));
    if (len > 0 && line[len - 1] == '\r') {
        len--;                  /* Redis drops a CR right before the LF */
    }
    if (len >= sizeof(buf) || memchr(line, '\0', len) != NULL) {
        return -1;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    for (;;) {
        bool inq = false, insq = false, done = false;
        size_t n = 0;

        while (*p && ref_isspace(*p)) {
            p++;
        }
        if (!*p) {
            return 0;
        }
        while (!done) {
            if (inq) {
                if (p[0] == '\\' && p[1] == 'x' && ref_hex(p[2]) >= 0 &&
                    ref_hex(p[3]) >= 0) {
                    ref_add(r, &n, (char)(ref_hex(p[2]) * 16 +
                                          ref_hex(p[3])));
                    p += 3;
                } else if (p[0] == '\\' && p[1]) {
                    char c;

                    p++;
                    c = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t'
                        : *p == 'b' ? '\b' : *p == 'a' ? '\a' : *p;
                    ref_add(r, &n, c);
                } else if (*p == '"') {
                    if (p[1] && !ref_isspace(p[1])) {
                        return -1;
                    }
                    done = true;
                } else if (!*p) {
                    return -1;
                } else {
                    ref_add(r, &n, *p);
                }
            } else if (insq) {
                if (p[0] == '\\' && p[1] == '\'') {
                    p++;
                    ref_add(r, &n, '\'');
                } else if (*p == '\'') {
                    if (p[1] && !ref_isspace(p[1])) {
                        return -1;
                    }
                    done = true;
                } else if (!*p) {
                    return -1;
                } else {
                    ref_add(r, &n, *p);
                }
            } else if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' ||
                       *p == '\0') {
                done = true;
            } else if (*p == '"') {
                inq = true;
            } else if (*p == '\'') {
                insq = true;
            } else {
                ref_add(r, &n, *p);
            }
            if (*p) {
                p++;
            }
        }
        r->argc++;
    }
}

#endif
