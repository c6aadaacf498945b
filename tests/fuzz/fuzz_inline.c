/*
 * fuzz_inline: libFuzzer target comparing resp.c's inline tokenizer with
 * the reference in ref_split.h (shaped like Redis' sdssplitargs()).
 *
 * The input, cut at its first LF (one is added when there is none), is
 * one inline request.  The scanner, fed whole and byte by byte, must
 * refuse it exactly when the reference does, and otherwise report the
 * same argument count and the same first two arguments (lowercased, cut
 * at 31 bytes, flagged when cut or holding a NUL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "ref_split.h"

static int
scan_line(const char *line, size_t len, size_t step, struct resp_frame *f)
{
    struct resp_scanner s;
    size_t off = 0, used;
    enum resp_status st = RESP_NEED_MORE;

    resp_init(&s, RESP_REQUESTS);
    memset(f, 0, sizeof(*f));
    while (off < len && st == RESP_NEED_MORE) {
        size_t n = step == 0 || len - off < step ? len - off : step;

        st = resp_scan(&s, line + off, n, &used, f);
        off += used;
    }
    if (st == RESP_FRAME && off != len) {
        abort();    /* the frame must end at the LF */
    }
    return st == RESP_FRAME ? 0 : st == RESP_ERROR ? -1 : -2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[1024];
    const uint8_t *lf = memchr(data, '\n', size);
    size_t len = lf ? (size_t)(lf - data) : size;
    struct ref_split r;
    struct resp_frame whole, bytes;
    int want, got_whole, got_bytes;

    if (len >= sizeof(line) - 1 || (len > 0 && data[0] == '*')) {
        return 0;   /* too long for the reference; '*' is not inline */
    }
    memcpy(line, data, len);
    line[len] = '\n';
    want = ref_split_line(line, len, &r);
    got_whole = scan_line(line, len + 1, 0, &whole);
    got_bytes = scan_line(line, len + 1, 1, &bytes);
    if (got_whole == -2 || got_whole != got_bytes) {
        abort();
    }
    if ((want < 0) != (got_whole < 0)) {
        abort();
    }
    if (want < 0) {
        return 0;
    }
    if (whole.nelems != r.argc || strcmp(whole.name, r.name) != 0 ||
        strcmp(whole.arg1, r.arg1) != 0 || whole.name_odd != r.name_odd ||
        whole.arg1_odd != r.arg1_odd || memcmp(&whole, &bytes,
                                               sizeof(whole)) != 0) {
        abort();
    }
    return 0;
}
