/*
 * resp.c: the RESP scanner (see resp.h).
 *
 * A small state machine over bytes.  Lines are found with memchr and bulk
 * payloads are skipped by length, so the cost is O(bytes) with few
 * branches per byte; nothing is allocated and nothing is copied except the
 * first bytes of a command name, its first argument and a reply's head,
 * which the tracker needs.  Limits are Redis' own: 512 MiB bulk strings,
 * 64 KiB inline commands, and a nesting bound for replies.
 */
#include "resp.h"

#include <string.h>

enum {
    S_TYPE = 0,     /* a type byte starts the next element */
    S_LINE,         /* a simple line: up to CR LF */
    S_NUMBER,       /* a header number: up to CR LF */
    S_BULK,         /* bulk payload bytes */
    S_BULK_END,     /* the CR LF after a payload */
    S_INLINE        /* an inline command, up to LF */
};

void
resp_init(struct resp_scanner *s, enum resp_mode mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->state = S_TYPE;
}

bool
resp_at_boundary(const struct resp_scanner *s)
{
    return !s->failed && s->state == S_TYPE && s->depth == 0 &&
           s->elem_index == 0 && s->frame.type != '|';
}

bool
resp_frame_is_empty_request(const struct resp_frame *f)
{
    return f->nelems <= 0 && (f->type == 'i' || f->type == '*');
}

static bool
is_line_type(char t)
{
    return t == '+' || t == '-' || t == ':' || t == ',' || t == '(' ||
           t == '#' || t == '_';
}

static bool
is_bulk_type(char t)
{
    return t == '$' || t == '=' || t == '!';
}

static bool
is_aggregate_type(char t)
{
    return t == '*' || t == '~' || t == '>' || t == '%' || t == '|';
}

/* Appends n bytes lowercased to a capture buffer of RESP_NAME_MAX. */
static void
capture(char *dst, size_t cap, size_t *copied, const char *src, size_t n,
        bool lower)
{
    size_t room = *copied + 1 < cap ? cap - 1 - *copied : 0;

    if (n > room) {
        n = room;
    }
    for (size_t i = 0; i < n; i++) {
        char c = src[i];

        if (lower && c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        dst[*copied + i] = c;
    }
    *copied += n;
    dst[*copied] = '\0';
}

/* Where the bytes of the current element go, if anywhere. */
static char *
capture_target(struct resp_scanner *s, size_t *cap, bool *lower)
{
    *lower = false;
    if (s->mode == RESP_REQUESTS) {
        if (s->depth != 1 || s->elem_index > 1) {
            return NULL;
        }
        *lower = true;
        *cap = RESP_NAME_MAX;
        return s->elem_index == 0 ? s->frame.name : s->frame.arg1;
    }
    /* Replies: the head of a top-level line, or the first element of a
     * top-level push (the push kind: "invalidate", "message", ...). */
    if (s->depth == 0 || (s->depth == 1 && s->frame.type == '>' &&
                          s->elem_index == 0)) {
        *cap = RESP_HEAD_MAX;
        return s->frame.head;
    }
    return NULL;
}

static enum resp_status
fail(struct resp_scanner *s, size_t at, size_t *used)
{
    s->failed = true;
    *used = at;
    return RESP_ERROR;
}

/*
 * element_done(s): one element ended; closes finished aggregates.
 * Returns true when a whole top-level frame ended.
 */
_Static_assert(RESP_MAX_DEPTH <= 32, "attr_levels is a 32-bit mask");
_Static_assert(RESP_MAX_ELEMENTS <= UINT32_MAX, "remaining[] is 32-bit");

static bool
element_done(struct resp_scanner *s)
{
    s->state = S_TYPE;
    s->copied = 0;
    while (s->depth > 0) {
        int d = s->depth - 1;

        if (--s->remaining[d] > 0) {
            if (d == 0) {
                s->elem_index++;
            }
            return false;
        }
        s->depth--;
        if (s->attr_levels & (1u << d)) {
            /* An attribute annotates the element that follows it, which
             * takes its place in the parent: nothing to count yet. */
            if (s->depth == 0) {
                s->elem_index = 0;
            }
            return false;
        }
        if (s->depth == 0) {
            break;
        }
    }
    if (s->depth == 0 && s->frame.type == '|') {
        /* A top-level attribute: the reply itself follows. */
        return false;
    }
    return true;
}

/* Begins an element from its type byte; false when the byte is invalid. */
static bool
start_element(struct resp_scanner *s, char t)
{
    if (s->depth == 0 && s->elem_index == 0 &&
        (s->frame.type == '\0' || s->frame.type == '|')) {
        if (s->frame.type == '|') {
            s->frame.head[0] = '\0';
        }
        s->frame.type = t;
    }
    s->type = t;
    s->copied = 0;
    if (s->mode == RESP_REQUESTS) {
        /* Requests: one array of bulk strings (inline handled apart). */
        if ((s->depth == 0 && t != '*') || (s->depth > 0 && t != '$')) {
            return false;
        }
    }
    if (is_line_type(t)) {
        s->state = S_LINE;
        s->crlf = 0;
        return true;
    }
    if (is_bulk_type(t) || is_aggregate_type(t)) {
        if (s->depth >= RESP_MAX_DEPTH && is_aggregate_type(t)) {
            return false;
        }
        s->state = S_NUMBER;
        s->num = 0;
        s->neg = false;
        s->ndigits = 0;
        s->crlf = 0;
        return true;
    }
    return false;
}

/* A header number ended: open the bulk or aggregate it announced. */
static int
header_done(struct resp_scanner *s, bool *frame_end)
{
    int64_t n = s->neg ? -s->num : s->num;

    *frame_end = false;
    if (s->ndigits == 0 || (s->neg && n != -1)) {
        return -1;
    }
    if (s->depth == 0) {
        s->frame.nelems = n;
    }
    if (is_bulk_type(s->type)) {
        if (n > RESP_MAX_BULK) {
            return -1;
        }
        if (n == -1) {
            *frame_end = element_done(s);
            return 0;
        }
        s->bulk_left = n;
        s->state = n > 0 ? S_BULK : S_BULK_END;
        s->crlf = 0;
        return 0;
    }
    if (s->type == '%' || s->type == '|') {
        n *= 2;
    }
    if (n > RESP_MAX_ELEMENTS) {
        return -1;
    }
    if (n <= 0) {
        *frame_end = element_done(s);
        return 0;
    }
    s->remaining[s->depth] = (uint32_t)n;
    if (s->type == '|') {
        s->attr_levels |= 1u << s->depth;
    } else {
        s->attr_levels &= ~(1u << s->depth);
    }
    s->depth++;
    if (s->depth == 1) {
        s->elem_index = 0;
    }
    s->state = S_TYPE;
    return 0;
}

static void
frame_reset(struct resp_scanner *s)
{
    memset(&s->frame, 0, sizeof(s->frame));
    s->elem_index = 0;
    s->inline_len = 0;
    s->inline_word = 0;
    s->inline_in_word = false;
}

/* Scans an inline command up to its LF.  Returns bytes used, or -1. */
static long
scan_inline(struct resp_scanner *s, const char *p, size_t n, bool *done)
{
    const char *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) + 1 : n;

    *done = lf != NULL;
    if (s->inline_len + take > RESP_INLINE_MAX) {
        return -1;
    }
    for (size_t i = 0; i < take; i++) {
        char c = p[i];
        bool blank = c == ' ' || c == '\t' || c == '\r' || c == '\n';

        if (blank) {
            s->inline_in_word = false;
            continue;
        }
        if (!s->inline_in_word) {
            s->inline_in_word = true;
            s->inline_word++;
            s->copied = 0;
        }
        if (s->inline_word == 1) {
            capture(s->frame.name, RESP_NAME_MAX, &s->copied, &c, 1, true);
        } else if (s->inline_word == 2) {
            capture(s->frame.arg1, RESP_NAME_MAX, &s->copied, &c, 1, true);
        }
    }
    s->inline_len += take;
    if (*done) {
        s->frame.nelems = s->inline_word;
    }
    return (long)take;
}

enum resp_status
resp_scan(struct resp_scanner *s, const char *buf, size_t len, size_t *used,
          struct resp_frame *frame)
{
    size_t i = 0;

    if (s->failed) {
        *used = 0;
        return RESP_ERROR;
    }
    while (i < len) {
        const char *p = buf + i;
        size_t n = len - i;
        bool end = false;

        switch (s->state) {
        case S_TYPE:
            if (s->depth == 0 && s->elem_index == 0 &&
                s->frame.type != '|') {
                frame_reset(s);
            }
            if (s->mode == RESP_REQUESTS && s->depth == 0 && *p != '*') {
                s->frame.type = 'i';
                s->state = S_INLINE;
                s->copied = 0;
                continue;
            }
            if (!start_element(s, *p)) {
                return fail(s, i, used);
            }
            i++;
            continue;

        case S_INLINE: {
            long took = scan_inline(s, p, n, &end);

            if (took < 0) {
                return fail(s, i, used);
            }
            i += (size_t)took;
            if (end) {
                s->state = S_TYPE;
                s->copied = 0;
                *frame = s->frame;
                *used = i;
                s->inline_len = 0;
                return RESP_FRAME;
            }
            continue;
        }

        case S_LINE: {
            const char *cr, *lf;
            size_t take;

            if (s->crlf == 1) {
                if (*p != '\n') {
                    return fail(s, i, used);
                }
                i++;
                end = element_done(s);
                break;
            }
            cr = memchr(p, '\r', n);
            take = cr ? (size_t)(cr - p) : n;
            lf = memchr(p, '\n', take);
            if (lf != NULL) {
                return fail(s, i + (size_t)(lf - p), used);  /* LF, no CR */
            }
            if (s->depth == 0 || s->frame.type == '>') {
                size_t cap;
                bool lower;
                char *dst = capture_target(s, &cap, &lower);

                if (dst != NULL) {
                    capture(dst, cap, &s->copied, p, take, lower);
                }
            }
            i += take;
            if (cr != NULL) {
                s->crlf = 1;
                i++;
            }
            continue;
        }

        case S_NUMBER:
            if (s->crlf == 1) {
                if (*p != '\n') {
                    return fail(s, i, used);
                }
                i++;
                if (header_done(s, &end) < 0) {
                    return fail(s, i - 1, used);
                }
                break;
            }
            if (*p == '\r') {
                s->crlf = 1;
            } else if (*p == '-' && s->ndigits == 0 && !s->neg) {
                s->neg = true;
            } else if (*p >= '0' && *p <= '9' && s->ndigits < 18) {
                s->num = s->num * 10 + (*p - '0');
                s->ndigits++;
            } else {
                return fail(s, i, used);
            }
            i++;
            continue;

        case S_BULK: {
            size_t take = (int64_t)n < s->bulk_left ? n : (size_t)s->bulk_left;
            size_t cap;
            bool lower;
            char *dst = capture_target(s, &cap, &lower);

            if (dst != NULL) {
                capture(dst, cap, &s->copied, p, take, lower);
            }
            s->bulk_left -= (int64_t)take;
            i += take;
            if (s->bulk_left == 0) {
                s->state = S_BULK_END;
                s->crlf = 0;
            }
            continue;
        }

        case S_BULK_END:
            if (*p != (s->crlf == 0 ? '\r' : '\n')) {
                return fail(s, i, used);
            }
            i++;
            if (++s->crlf < 2) {
                continue;
            }
            end = element_done(s);
            break;
        }
        if (end) {
            *frame = s->frame;
            *used = i;
            s->elem_index = 0;
            s->frame.type = '\0';
            return RESP_FRAME;
        }
    }
    *used = len;
    return RESP_NEED_MORE;
}
