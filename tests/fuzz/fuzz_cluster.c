/*
 * fuzz_cluster: cluster_rewrite on any bytes, as any kind of reply.  A
 * well-formed reply (one whole frame to resp.c) it rewrites must come out
 * as one whole frame again; whatever it does not rewrite leaves the
 * output empty (the reply then goes on as it came).  Seeds: the replies
 * captured in tests/unit/data/cluster.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_rewrite.h"
#include "resp.h"

/* in[0..n) is exactly one frame to the relay's own scanner. */
static int
one_frame(const char *in, size_t n)
{
    struct resp_scanner s;
    struct resp_frame f;
    size_t used;

    resp_init(&s, RESP_REPLIES);
    return n > 0 && resp_scan(&s, in, n, &used, &f) == RESP_FRAME &&
           used == n;
}

/* Maps some nodes, leaves others: both paths run. */
static int
map_cb(void *arg, const struct cluster_node_ref *n)
{
    (void)arg;
    return n->port % 3 == 0 ? -1 : 7000 + (int)(n->port % 100);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster_out out = {0};
    char *in;
    int valid;

    if (size < 1) {
        return 0;
    }
    /* A copy of its own: reads past the end are caught. */
    in = malloc(size - 1 ? size - 1 : 1);
    memcpy(in, data + 1, size - 1);
    valid = one_frame(in, size - 1);
    for (int k = CLUSTER_REPLY_SLOTS; k <= CLUSTER_REPLY_REDIRECT; k++) {
        int r = cluster_rewrite((enum cluster_reply)k, in, size - 1, map_cb,
                                NULL, &out);

        if (r == 1) {
            if (valid && !one_frame(out.buf, out.len)) {
                abort();    /* a reply rewritten into something else */
            }
        } else if (out.len != 0) {
            abort();        /* half rewritten */
        }
    }
    free(out.buf);
    free(in);
    return 0;
}
