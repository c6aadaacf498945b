/*
 * fuzz_resp: libFuzzer target for resp.c.
 *
 * The first input byte picks the mode (requests or replies) and a chunk
 * size; the rest is scanned twice, whole and in chunks.  Invariants: the
 * scanner never reports more bytes used than it was given, an error is
 * sticky, and chunking changes nothing: the same frames end at the same
 * offsets, and an error is found at the same offset either way.
 * (ASan/UBSan catch any read past the buffer or undefined arithmetic.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define MAX_FRAMES 4096

struct run {
    size_t ends[MAX_FRAMES];    /* offsets where frames ended */
    size_t nframes;             /* how many */
    long error_at;              /* offset of the error, -1 = none */
};

static void
scan(enum resp_mode mode, const uint8_t *data, size_t len, size_t chunk,
     struct run *r)
{
    struct resp_scanner s;
    size_t off = 0;

    resp_init(&s, mode);
    r->nframes = 0;
    r->error_at = -1;
    while (off < len) {
        size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
        size_t used = 0;
        struct resp_frame f;
        enum resp_status st = resp_scan(&s, (const char *)data + off, n,
                                        &used, &f);

        if (used > n) {
            abort();
        }
        if (st == RESP_ERROR) {
            r->error_at = (long)(off + used);
            if (resp_scan(&s, "+OK\r\n", 5, &used, &f) != RESP_ERROR) {
                abort();    /* errors must be sticky */
            }
            return;
        }
        if (st == RESP_FRAME) {
            if (used == 0 && r->nframes > 0 &&
                r->ends[r->nframes - 1] == off) {
                abort();    /* a frame cannot be empty */
            }
            if (r->nframes < MAX_FRAMES) {
                r->ends[r->nframes++] = off + used;
            }
        } else if (used != n) {
            abort();        /* NEED_MORE consumes everything */
        }
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run whole, chunked;
    enum resp_mode mode;
    size_t chunk;

    if (size < 1) {
        return 0;
    }
    mode = (data[0] & 1) ? RESP_REPLIES : RESP_REQUESTS;
    chunk = (size_t)(data[0] >> 1) % 17 + 1;
    scan(mode, data + 1, size - 1, 0, &whole);
    scan(mode, data + 1, size - 1, chunk, &chunked);
    if (whole.nframes != chunked.nframes || whole.error_at !=
        chunked.error_at) {
        abort();
    }
    for (size_t i = 0; i < whole.nframes; i++) {
        if (whole.ends[i] != chunked.ends[i]) {
            abort();
        }
    }
    return 0;
}
