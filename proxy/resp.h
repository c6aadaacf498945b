/*
 * resp.h: an incremental RESP2/RESP3 scanner.
 *
 * resp.c frames a byte stream into top-level frames without copying or
 * allocating: requests (arrays of bulk strings, or inline commands) and
 * replies (every RESP2 and RESP3 type, with pushes and attributes).
 * Requests are read the way Redis reads them: an array of bulk strings
 * whose numbers Redis would accept (no sign, no leading zero), or an
 * inline line split into arguments exactly as sdssplitargs() splits it
 * (quotes, escapes, \v and \f); whatever Redis would refuse or read
 * otherwise is an error here, so the tracker never counts a command that
 * the server sees differently.  Bytes
 * may arrive split anywhere; the scanner keeps only a few integers between
 * calls.  It never reads past the length it is given, and malformed input
 * puts it in a sticky error state.  Pure: no I/O, no libevent, no logging.
 */
#ifndef REDSLEEVE_RESP_H
#define REDSLEEVE_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_DEPTH 32           /* nesting accepted in replies */
#define RESP_NAME_MAX 32            /* bytes kept of a command name */
#define RESP_HEAD_MAX 48            /* bytes kept of a simple reply line */
#define RESP_INLINE_MAX (64 * 1024) /* Redis' own inline limit */
#define RESP_MAX_BULK (512LL * 1024 * 1024)     /* proto-max-bulk-len */
#define RESP_MAX_ELEMENTS (1LL << 31)           /* aggregate size bound */

enum resp_mode {
    RESP_REQUESTS = 0,      /* client to server */
    RESP_REPLIES            /* server to client */
};

enum resp_status {
    RESP_NEED_MORE = 0,     /* every byte consumed, no frame ended */
    RESP_FRAME,             /* a top-level frame ended at *used */
    RESP_ERROR              /* malformed; the scanner stays in error */
};

/* What is known about a finished top-level frame. */
struct resp_frame {
    char type;                  /* first byte: '*', '>', '+', '-', ...;
                                   'i' for an inline command */
    int64_t nelems;             /* aggregate count (-1 = null), argc */
    char name[RESP_NAME_MAX];   /* requests: argv[0] lowercased, truncated */
    char arg1[RESP_NAME_MAX];   /* requests: argv[1] lowercased, truncated */
    bool name_odd;              /* requests: argv[0] was cut short or held a
                                   NUL: name matches no command exactly */
    bool arg1_odd;              /* the same for argv[1] */
    char head[RESP_HEAD_MAX];   /* '+'/'-' replies: start of the line;
                                   '>' pushes: start of the first element */
};

struct resp_scanner {
    enum resp_mode mode;        /* what the stream carries */
    int state;                  /* internal */
    bool failed;                /* sticky error */
    char type;                  /* type byte of the current element */
    int64_t num;                /* header number being read */
    bool neg;                   /* it had a minus sign */
    int ndigits;                /* digits read */
    int64_t bulk_left;          /* bulk bytes still to come */
    int crlf;                   /* bytes of a line end seen */
    int depth;                  /* open aggregates */
    uint32_t remaining[RESP_MAX_DEPTH]; /* elements still owed per level
                                           (<= RESP_MAX_ELEMENTS) */
    uint32_t attr_levels;       /* bit d: level d is a '|' attribute */
    int64_t elem_index;         /* index of the element within top level */
    size_t copied;              /* bytes copied into the current capture */
    size_t inline_len;          /* bytes of the current inline command */
    int inline_word;            /* words (arguments) seen in it */
    int inline_state;           /* where the tokenizer is (resp.c) */
    unsigned char inline_hex;   /* first digit of a "\xHH" escape */
    struct resp_frame frame;    /* the frame being scanned */
};

/* resp_init(s, mode): a scanner at a frame boundary. */
void resp_init(struct resp_scanner *s, enum resp_mode mode);

/*
 * resp_scan(s, buf, len, used, frame): scans at most len bytes.  On
 * RESP_FRAME, *used is the number of bytes up to and including the end of
 * the frame, and *frame describes it; call again with the rest.  On
 * RESP_NEED_MORE, *used == len.  On RESP_ERROR, *used is where the error
 * was found.
 */
enum resp_status resp_scan(struct resp_scanner *s, const char *buf,
                           size_t len, size_t *used,
                           struct resp_frame *frame);

/* resp_at_boundary(s): true when no frame is partly scanned. */
bool resp_at_boundary(const struct resp_scanner *s);

/*
 * resp_frame_is_empty_request(f): an empty inline line or "*0"/"*-1":
 * the server skips it without a reply.
 */
bool resp_frame_is_empty_request(const struct resp_frame *f);

#endif
