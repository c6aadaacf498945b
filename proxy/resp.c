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

#include <limits.h>
#include <string.h>

#define RESP_MAX_ARGS INT_MAX       /* Redis: "invalid multibulk length" */

enum {
    IN_SKIP = 0,        /* between arguments */
    IN_WORD,            /* in an unquoted argument */
    IN_DQ,              /* in double quotes */
    IN_DQ_ESC,          /* after a backslash in double quotes */
    IN_DQ_X,            /* after \x */
    IN_DQ_XH,           /* after \x and one hex digit (inline_hex) */
    IN_SQ,              /* in single quotes */
    IN_SQ_ESC,          /* after a backslash in single quotes */
    IN_AFTER_Q          /* after a closing quote */
};

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

/* Appends n bytes (lowercased) to a capture buffer of cap bytes; *odd
 * is set when bytes do not fit or one is a NUL (odd may be NULL). */
static void
capture(char *dst, size_t cap, size_t *copied, const char *src, size_t n,
        bool lower, bool *odd)
{
    size_t room = *copied + 1 < cap ? cap - 1 - *copied : 0;

    if (n > room) {
        n = room;
        if (odd != NULL) {
            *odd = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char c = src[i];

        if (lower && c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c == '\0' && odd != NULL) {
            *odd = true;
        }
        dst[*copied + i] = c;
    }
    *copied += n;
    dst[*copied] = '\0';
}

/* Where the bytes of the current element go, if anywhere; *odd is the
 * flag that notes a name that cannot match exactly. */
static char *
capture_target(struct resp_scanner *s, size_t *cap, bool *lower, bool **odd)
{
    *lower = false;
    *odd = NULL;
    if (s->mode == RESP_REQUESTS) {
        if (s->depth != 1 || s->elem_index > 1) {
            return NULL;
        }
        *lower = true;
        *cap = RESP_NAME_MAX;
        if (s->elem_index == 0) {
            *odd = &s->frame.name_odd;
            return s->frame.name;
        }
        *odd = &s->frame.arg1_odd;
        return s->frame.arg1;
    }
    /* Replies: the head of a top-level line, or the first element of a
     * top-level push or array (the push kind: "invalidate", "message";
     * ROLE's "master"). */
    if (s->depth == 0 ||
        (s->depth == 1 && (s->frame.type == '>' || s->frame.type == '*') &&
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
    if (s->mode == RESP_REQUESTS &&
        ((s->neg && is_bulk_type(s->type)) || n > RESP_MAX_ARGS)) {
        return -1;      /* Redis: "invalid bulk/multibulk length" */
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
    s->inline_state = IN_SKIP;
}

/*
 * The inline tokenizer: sdssplitargs() (Redis' sds.c) as a state machine
 * over one byte at a time, so that a line split across reads is read as
 * Redis reads it whole.  Redis takes the line up to the first LF (minus a
 * CR right before it) and splits it: blanks (isspace: also \v and \f)
 * between arguments; inside an unquoted argument only space, tab, CR and
 * LF end it, and a quote opens quoting; in "double quotes" the escapes
 * \xHH \n \r \t \b \a and \<any>; in 'single quotes' only \'; a closing
 * quote must be followed by a blank or the end.  An unterminated quote is
 * Redis' "unbalanced quotes" protocol error, and a NUL makes Redis wait
 * (its strchr() stops there): both are errors here.
 */

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* One byte of the current inline argument. */
static void
inline_put(struct resp_scanner *s, char c)
{
    if (s->inline_word == 1) {
        capture(s->frame.name, RESP_NAME_MAX, &s->copied, &c, 1, true,
                &s->frame.name_odd);
    } else if (s->inline_word == 2) {
        capture(s->frame.arg1, RESP_NAME_MAX, &s->copied, &c, 1, true,
                &s->frame.arg1_odd);
    }
}

/* Feeds one byte of the line (never the LF).  -1 on a protocol error. */
static int
inline_byte(struct resp_scanner *s, char c)
{
    int h;

    if (c == '\0') {
        return -1;
    }
    for (;;) {
        switch (s->inline_state) {
        case IN_SKIP:
            if (is_space(c)) {
                return 0;
            }
            s->inline_word++;
            s->copied = 0;
            s->inline_state = IN_WORD;
            continue;           /* the byte starts the argument */
        case IN_WORD:
            if (c == ' ' || c == '\t' || c == '\r') {
                s->inline_state = IN_SKIP;
            } else if (c == '"') {
                s->inline_state = IN_DQ;
            } else if (c == '\'') {
                s->inline_state = IN_SQ;
            } else {
                inline_put(s, c);
            }
            return 0;
        case IN_DQ:
            if (c == '\\') {
                s->inline_state = IN_DQ_ESC;
            } else if (c == '"') {
                s->inline_state = IN_AFTER_Q;
            } else {
                inline_put(s, c);
            }
            return 0;
        case IN_DQ_ESC:
            s->inline_state = IN_DQ;
            switch (c) {
            case 'x':
                s->inline_state = IN_DQ_X;
                return 0;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'b':
                c = '\b';
                break;
            case 'a':
                c = '\a';
                break;
            default:
                break;
            }
            inline_put(s, c);
            return 0;
        case IN_DQ_X:
            if (hex_value(c) >= 0) {
                s->inline_hex = (unsigned char)c;
                s->inline_state = IN_DQ_XH;
                return 0;
            }
            inline_put(s, 'x');     /* "\x" without two digits: an 'x' */
            s->inline_state = IN_DQ;
            continue;
        case IN_DQ_XH:
            if ((h = hex_value(c)) >= 0) {
                inline_put(s, (char)(hex_value((char)s->inline_hex) * 16 +
                                     h));
                s->inline_state = IN_DQ;
                return 0;
            }
            inline_put(s, 'x');
            inline_put(s, (char)s->inline_hex);
            s->inline_state = IN_DQ;
            continue;
        case IN_SQ:
            if (c == '\\') {
                s->inline_state = IN_SQ_ESC;
            } else if (c == '\'') {
                s->inline_state = IN_AFTER_Q;
            } else {
                inline_put(s, c);
            }
            return 0;
        case IN_SQ_ESC:
            s->inline_state = IN_SQ;
            if (c == '\'') {
                inline_put(s, '\'');
                return 0;
            }
            inline_put(s, '\\');
            continue;
        case IN_AFTER_Q:
            if (!is_space(c)) {
                return -1;      /* Redis: a quote must end the argument */
            }
            s->inline_state = IN_SKIP;
            return 0;
        default:
            return -1;
        }
    }
}

/*
 * Scans an inline command up to its LF.  Returns bytes used, or -1 with
 * *bad the offset of the byte that made it an error (the same whichever
 * way the bytes were split).
 */
static long
scan_inline(struct resp_scanner *s, const char *p, size_t n, bool *done,
            size_t *bad)
{
    const char *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) + 1 : n;
    size_t line = lf ? take - 1 : take;

    size_t room = RESP_INLINE_MAX - s->inline_len;

    *done = lf != NULL;
    for (size_t i = 0; i < line && i < room; i++) {
        if (inline_byte(s, p[i]) < 0) {
            *bad = i;
            return -1;
        }
    }
    if (take > room) {
        *bad = room;
        return -1;
    }
    s->inline_len += take;
    if (*done) {
        /* The line ends: unquoted states end the argument (a CR right
         * before the LF was a blank to them); quotes left open are
         * Redis' "unbalanced quotes". */
        if (s->inline_state != IN_SKIP && s->inline_state != IN_WORD &&
            s->inline_state != IN_AFTER_Q) {
            *bad = line;
            return -1;
        }
        s->inline_state = IN_SKIP;
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
            size_t bad = 0;
            long took = scan_inline(s, p, n, &end, &bad);

            if (took < 0) {
                return fail(s, i + bad, used);
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
            if (s->depth == 0 || s->frame.type == '>' ||
                s->frame.type == '*') {
                size_t cap;
                bool lower, *odd;
                char *dst = capture_target(s, &cap, &lower, &odd);

                if (dst != NULL) {
                    capture(dst, cap, &s->copied, p, take, lower, odd);
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
                if (s->mode == RESP_REQUESTS && s->ndigits > 0 &&
                    s->num == 0) {
                    return fail(s, i, used);    /* Redis: no "01", "-0" */
                }
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
            bool lower, *odd;
            char *dst = capture_target(s, &cap, &lower, &odd);

            if (dst != NULL) {
                capture(dst, cap, &s->copied, p, take, lower, odd);
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
