/*
 * cluster_rewrite.c: node addresses in cluster replies rewritten to local
 * ports (see cluster_rewrite.h).
 *
 * A small reader walks one complete reply; what is not an address is
 * copied as the span of bytes it was, so a reply keeps every field,
 * metadata and RESP3 type the server gave it.  Shapes (Redis 7):
 *   SLOTS     [[start, end, [host, port, id, {meta}], ...replicas], ...]
 *   SHARDS    [{slots: [...], nodes: [{id, port, tls-port, ip, endpoint,
 *              hostname, role, ...}, ...]}, ...]   (RESP2: flat pairs)
 *   NODES     "<id> <ip>:<port>@<cport>[,<hostname>[,aux]] <flags> ...\n"
 *   REPLICAS  ["<a NODES line>", ...]
 *   redirect  -MOVED <slot> <host>:<port>   (host may be "" or "?")
 */
#include "cluster_rewrite.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16            /* nesting this reader follows */
#define MAX_FIELDS 32           /* elements of one node it looks at */
#define LOCAL_LEN (sizeof(CLUSTER_LOCAL_HOST) - 1)

/* ------------------------------------------------------------ output */

static int
out_put(struct cluster_out *o, const void *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (n > SIZE_MAX / 2 - o->len) {
        return -1;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        char *b;

        while (cap < o->len + n) {
            cap *= 2;
        }
        if ((b = realloc(o->buf, cap)) == NULL) {
            return -1;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

static int
out_fmt_head(struct cluster_out *o, char type, long long n)
{
    char h[32];
    int k = snprintf(h, sizeof(h), "%c%lld\r\n", type, n);

    return out_put(o, h, (size_t)k);
}

static int
out_bulk(struct cluster_out *o, const char *s, size_t n)
{
    if (out_fmt_head(o, '$', (long long)n) < 0 || out_put(o, s, n) < 0) {
        return -1;
    }
    return out_put(o, "\r\n", 2);
}

static int
out_local(struct cluster_out *o)
{
    return out_bulk(o, CLUSTER_LOCAL_HOST, LOCAL_LEN);
}

/* ------------------------------------------------------------ reader */

struct rd {
    const char *p;              /* ref: next byte */
    const char *end;            /* ref: end of the reply */
};

/* One value as read: its type, its header line's text, its payload (bulk
 * types) or element count (aggregates), and its whole span. */
struct val {
    char type;
    const char *line;           /* header text after the type byte */
    size_t linelen;
    long long num;              /* aggregates and bulks: the count/length */
    const char *data;           /* bulk types: payload */
    size_t len;
    const char *start;          /* the whole value: start .. end */
    const char *end;
};

static bool
is_bulk_type(char t)
{
    return t == '$' || t == '!' || t == '=';
}

/* Elements an aggregate header stands for (maps and attributes: pairs). */
static long long
agg_children(char t, long long n)
{
    if (n < 0) {
        return 0;
    }
    return t == '%' || t == '|' ? 2 * n : n;
}

static bool
is_agg_type(char t)
{
    return t == '*' || t == '%' || t == '~' || t == '>' || t == '|';
}

/* An aggregate of n elements can be in what is left: each takes three
 * bytes at least ("_\r\n"); also keeps 2 * n from overflowing. */
static bool
agg_fits(const struct rd *r, char type, long long n)
{
    long long left = (long long)(r->end - r->p) / 3;

    return n <= left && (type != '%' && type != '|' ? true : n <= left / 2);
}

/* Reads a header line: type byte, text up to CRLF. */
static int
rd_line(struct rd *r, struct val *v)
{
    const char *nl;

    if (r->p >= r->end) {
        return -1;
    }
    v->start = r->p;
    v->type = *r->p++;
    nl = memchr(r->p, '\r', (size_t)(r->end - r->p));
    if (nl == NULL || nl + 1 >= r->end || nl[1] != '\n') {
        return -1;
    }
    v->line = r->p;
    v->linelen = (size_t)(nl - r->p);
    r->p = nl + 2;
    return 0;
}

static int
parse_num(const char *s, size_t n, long long *out)
{
    char buf[24];
    char *e;

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtoll(buf, &e, 10);
    return *e == '\0' ? 0 : -1;
}

static int rd_skip(struct rd *r, int depth);

/* Reads one whole value into v (aggregates: their header; the children
 * are skipped over, v->end after the last). */
static int
rd_value(struct rd *r, struct val *v, int depth)
{
    if (depth > MAX_DEPTH || rd_line(r, v) < 0) {
        return -1;
    }
    v->data = NULL;
    v->len = 0;
    v->num = 0;
    if (is_bulk_type(v->type) || is_agg_type(v->type)) {
        if (parse_num(v->line, v->linelen, &v->num) < 0) {
            return -1;
        }
    }
    if (is_agg_type(v->type) && !agg_fits(r, v->type, v->num)) {
        return -1;
    }
    if (is_bulk_type(v->type) && v->num >= 0) {
        if (v->num > r->end - r->p || r->end - r->p - v->num < 2 ||
            r->p[v->num] != '\r' || r->p[v->num + 1] != '\n') {
            return -1;
        }
        v->data = r->p;
        v->len = (size_t)v->num;
        r->p += v->num + 2;
    } else if (is_agg_type(v->type)) {
        for (long long i = agg_children(v->type, v->num); i > 0; i--) {
            if (rd_skip(r, depth + 1) < 0) {
                return -1;
            }
        }
        if (v->type == '|' && rd_skip(r, depth + 1) < 0) {
            return -1;          /* an attribute precedes its value */
        }
    }
    v->end = r->p;
    return 0;
}

static int
rd_skip(struct rd *r, int depth)
{
    struct val v;

    return rd_value(r, &v, depth);
}

/* Reads an aggregate's header only (its children follow in r). */
static int
rd_agg(struct rd *r, struct val *v)
{
    if (rd_line(r, v) < 0 || !is_agg_type(v->type) || v->type == '|' ||
        parse_num(v->line, v->linelen, &v->num) < 0 || v->num < 0 ||
        !agg_fits(r, v->type, v->num)) {
        return -1;
    }
    return 0;
}

static bool
val_is(const struct val *v, const char *s)
{
    return is_bulk_type(v->type) && v->data != NULL &&
           v->len == strlen(s) && memcmp(v->data, s, v->len) == 0;
}

static int
out_span(struct cluster_out *o, const struct val *v)
{
    return out_put(o, v->start, (size_t)(v->end - v->start));
}

/* ------------------------------------------------------------ choosing */

/* The host that names a node best: hostname, else an endpoint that is
 * one, else the ip, else what the endpoint was ("" or "?"). */
static void
pick_host(struct cluster_node_ref *n, const struct val *hostname,
          const struct val *endpoint, const struct val *ip)
{
    const struct val *c[3] = {hostname, endpoint, ip};

    n->host = "";
    n->hostlen = 0;
    for (int i = 0; i < 3; i++) {
        if (c[i] != NULL && c[i]->data != NULL && c[i]->len > 0 &&
            !(c[i]->len == 1 && c[i]->data[0] == '?')) {
            n->host = c[i]->data;
            n->hostlen = c[i]->len;
            return;
        }
    }
    if (endpoint != NULL && endpoint->data != NULL) {
        n->host = endpoint->data;
        n->hostlen = endpoint->len;
    }
}

static bool
is_address_key(const struct val *k)
{
    return val_is(k, "ip") || val_is(k, "hostname") || val_is(k, "endpoint");
}

/* A value naming an address: replaced by ours unless empty or null. */
static int
out_address(struct cluster_out *o, const struct val *v)
{
    if (is_bulk_type(v->type) && v->data != NULL && v->len > 0) {
        return out_local(o);
    }
    return out_span(o, v);
}

/* ------------------------------------------------------------ SLOTS */

/* Metadata of a SLOTS node: pairs (RESP3 map, RESP2 flat array); finds
 * hostname and ip.  r is after the header; on return after the last. */
static int
read_meta(struct rd *r, const struct val *h, struct val *kv, int *nkv,
          struct val **hostname, struct val **ip)
{
    long long n = agg_children(h->type, h->num);

    if (h->type != '%' && (h->type != '*' || n % 2 != 0)) {
        return -1;
    }
    if (n > MAX_FIELDS) {
        return -1;
    }
    for (long long i = 0; i < n; i++) {
        if (rd_value(r, &kv[i], 3) < 0) {
            return -1;
        }
    }
    for (long long i = 0; i + 1 < n; i += 2) {
        if (val_is(&kv[i], "hostname")) {
            *hostname = &kv[i + 1];
        } else if (val_is(&kv[i], "ip")) {
            *ip = &kv[i + 1];
        }
    }
    *nkv = (int)n;
    return 0;
}

/* One node of a slot range: [host, port, id?, meta?, ...]. */
static int
slots_node(struct rd *r, cluster_map_fn map, void *arg,
           struct cluster_out *o, bool *changed)
{
    struct val h, el[MAX_FIELDS], mh, kv[MAX_FIELDS];
    struct val *hostname = NULL, *ip = NULL;
    struct cluster_node_ref n = {0};
    const char *meta_start = NULL;
    long long port;
    int nkv = 0, local;

    if (rd_agg(r, &h) < 0 || h.type != '*' || h.num < 2 ||
        h.num > MAX_FIELDS) {
        return -1;
    }
    for (long long i = 0; i < h.num; i++) {
        if (i == 3) {
            /* metadata: read pair by pair to find the names */
            meta_start = r->p;
            if (rd_agg(r, &mh) < 0 ||
                read_meta(r, &mh, kv, &nkv, &hostname, &ip) < 0) {
                return -1;
            }
            el[i].start = meta_start;
            el[i].end = r->p;
            el[i].type = mh.type;
            continue;
        }
        if (rd_value(r, &el[i], 2) < 0) {
            return -1;
        }
    }
    if ((!is_bulk_type(el[0].type) && el[0].type != '_') ||
        el[1].type != ':' ||
        parse_num(el[1].line, el[1].linelen, &port) < 0) {
        return -1;
    }
    if (h.num > 2 && el[2].data != NULL) {
        n.id = el[2].data;
        n.idlen = el[2].len;
    }
    n.port = (long)port;
    pick_host(&n, hostname, &el[0], ip);
    if (ip != NULL && ip->data != NULL) {
        n.ip = ip->data;
        n.iplen = ip->len;
    } else if (el[0].data != NULL && el[0].len > 0) {
        n.ip = el[0].data;      /* the endpoint, if the ip is not given */
        n.iplen = el[0].len;
    }
    local = map(arg, &n);
    if (local < 0) {
        return out_put(o, h.start, (size_t)(r->p - h.start));
    }
    *changed = true;
    if (out_fmt_head(o, '*', h.num) < 0 || out_local(o) < 0 ||
        out_fmt_head(o, ':', local) < 0) {
        return -1;
    }
    for (long long i = 2; i < h.num; i++) {
        if (i != 3) {
            if (out_span(o, &el[i]) < 0) {
                return -1;
            }
            continue;
        }
        if (out_fmt_head(o, mh.type, mh.num) < 0) {
            return -1;
        }
        for (int k = 0; k < nkv; k++) {
            bool addr = k % 2 == 1 && is_address_key(&kv[k - 1]);

            if ((addr ? out_address(o, &kv[k]) : out_span(o, &kv[k])) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
rewrite_slots(struct rd *r, cluster_map_fn map, void *arg,
              struct cluster_out *o, bool *changed)
{
    struct val top, range, v;

    if (rd_agg(r, &top) < 0 || top.type != '*' ||
        out_fmt_head(o, '*', top.num) < 0) {
        return -1;
    }
    for (long long i = 0; i < top.num; i++) {
        if (rd_agg(r, &range) < 0 || range.type != '*' || range.num < 2 ||
            out_fmt_head(o, '*', range.num) < 0) {
            return -1;
        }
        for (int k = 0; k < 2; k++) {       /* start, end */
            if (rd_value(r, &v, 2) < 0 || out_span(o, &v) < 0) {
                return -1;
            }
        }
        for (long long k = 2; k < range.num; k++) {
            if (slots_node(r, map, arg, o, changed) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------ SHARDS */

/* One node of a shard: pairs id, port, tls-port, ip, endpoint, ... */
static int
shards_node(struct rd *r, cluster_map_fn map, void *arg,
            struct cluster_out *o, bool *changed)
{
    struct val h, kv[MAX_FIELDS];
    struct val *id = NULL, *port = NULL, *tls = NULL, *ip = NULL;
    struct val *endpoint = NULL, *hostname = NULL;
    struct cluster_node_ref n = {0};
    long long nkv, pnum;
    int local;

    if (rd_agg(r, &h) < 0) {
        return -1;
    }
    nkv = agg_children(h.type, h.num);
    if ((h.type != '%' && h.type != '*') || nkv % 2 != 0 ||
        nkv > MAX_FIELDS) {
        return -1;
    }
    for (long long i = 0; i < nkv; i++) {
        if (rd_value(r, &kv[i], 3) < 0) {
            return -1;
        }
    }
    for (long long i = 0; i + 1 < nkv; i += 2) {
        struct val *v = &kv[i + 1];

        if (val_is(&kv[i], "id")) {
            id = v;
        } else if (val_is(&kv[i], "port")) {
            port = v;
        } else if (val_is(&kv[i], "tls-port")) {
            tls = v;
        } else if (val_is(&kv[i], "ip")) {
            ip = v;
        } else if (val_is(&kv[i], "endpoint")) {
            endpoint = v;
        } else if (val_is(&kv[i], "hostname")) {
            hostname = v;
        }
    }
    if (tls != NULL) {
        port = tls;     /* the upstream is TLS: its TLS port */
    }
    if (port == NULL || port->type != ':' ||
        parse_num(port->line, port->linelen, &pnum) < 0) {
        return -1;
    }
    if (id != NULL && id->data != NULL) {
        n.id = id->data;
        n.idlen = id->len;
    }
    n.port = (long)pnum;
    pick_host(&n, hostname, endpoint, ip);
    if (ip != NULL && ip->data != NULL) {
        n.ip = ip->data;
        n.iplen = ip->len;
    }
    local = map(arg, &n);
    if (local < 0) {
        return out_put(o, h.start, (size_t)(r->p - h.start));
    }
    *changed = true;
    if (out_fmt_head(o, h.type, h.num) < 0) {
        return -1;
    }
    for (long long i = 0; i < nkv; i += 2) {
        const struct val *k = &kv[i], *v = &kv[i + 1];
        int rc = out_span(o, k);

        if (rc == 0 && (val_is(k, "port") || val_is(k, "tls-port"))) {
            rc = out_fmt_head(o, ':', local);
        } else if (rc == 0 && is_address_key(k)) {
            rc = out_address(o, v);
        } else if (rc == 0) {
            rc = out_span(o, v);
        }
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static int
rewrite_shards(struct rd *r, cluster_map_fn map, void *arg,
               struct cluster_out *o, bool *changed)
{
    struct val top, shard, k, v, nodes;

    if (rd_agg(r, &top) < 0 || top.type != '*' ||
        out_fmt_head(o, '*', top.num) < 0) {
        return -1;
    }
    for (long long i = 0; i < top.num; i++) {
        long long n;

        if (rd_agg(r, &shard) < 0 ||
            (shard.type != '%' && shard.type != '*') ||
            out_fmt_head(o, shard.type, shard.num) < 0) {
            return -1;
        }
        n = agg_children(shard.type, shard.num);
        if (n % 2 != 0) {
            return -1;
        }
        for (long long j = 0; j < n; j += 2) {
            if (rd_value(r, &k, 2) < 0 || out_span(o, &k) < 0) {
                return -1;
            }
            if (!val_is(&k, "nodes")) {
                if (rd_value(r, &v, 2) < 0 || out_span(o, &v) < 0) {
                    return -1;
                }
                continue;
            }
            if (rd_agg(r, &nodes) < 0 || nodes.type != '*' ||
                out_fmt_head(o, '*', nodes.num) < 0) {
                return -1;
            }
            for (long long m = 0; m < nodes.num; m++) {
                if (shards_node(r, map, arg, o, changed) < 0) {
                    return -1;
                }
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------ NODES */

/*
 * One CLUSTER NODES line (no newline): the second field,
 * ip:port@cport[,hostname[,aux...]], becomes 127.0.0.1:LOCAL@cport with
 * a hostname, if any, replaced too; everything else is kept.
 */
static int
nodes_line(const char *s, size_t n, cluster_map_fn map, void *arg,
           struct cluster_out *o, bool *changed)
{
    const char *sp1 = memchr(s, ' ', n), *addr, *aend, *at, *colon, *comma;
    const char *p;
    struct cluster_node_ref ref = {0};
    long long port;
    char head[32];
    int local, k;

    if (sp1 == NULL) {
        return out_put(o, s, n);
    }
    addr = sp1 + 1;
    aend = memchr(addr, ' ', (size_t)(s + n - addr));
    if (aend == NULL) {
        aend = s + n;
    }
    at = memchr(addr, '@', (size_t)(aend - addr));
    if (at == NULL) {
        return out_put(o, s, n);
    }
    colon = NULL;
    for (p = addr; p < at; p++) {
        if (*p == ':') {
            colon = p;          /* the last one: IPv6 has more */
        }
    }
    if (colon == NULL || parse_num(colon + 1, (size_t)(at - colon - 1),
                                   &port) < 0) {
        return out_put(o, s, n);
    }
    comma = memchr(at, ',', (size_t)(aend - at));
    ref.id = s;
    ref.idlen = (size_t)(sp1 - s);
    ref.port = (long)port;
    ref.host = addr;
    ref.hostlen = (size_t)(colon - addr);
    ref.ip = addr;
    ref.iplen = ref.hostlen;
    if (comma != NULL) {
        const char *hend = memchr(comma + 1, ',', (size_t)(aend - comma - 1));

        if (hend == NULL) {
            hend = aend;
        }
        if (hend > comma + 1) {
            ref.host = comma + 1;
            ref.hostlen = (size_t)(hend - comma - 1);
        }
    }
    if ((local = map(arg, &ref)) < 0) {
        return out_put(o, s, n);
    }
    *changed = true;
    k = snprintf(head, sizeof(head), ":%d", local);
    if (out_put(o, s, (size_t)(addr - s)) < 0 ||
        out_put(o, CLUSTER_LOCAL_HOST, LOCAL_LEN) < 0 ||
        out_put(o, head, (size_t)k) < 0 ||
        out_put(o, at, (size_t)((comma ? comma : aend) - at)) < 0) {
        return -1;
    }
    if (comma != NULL) {
        const char *hend = memchr(comma + 1, ',', (size_t)(aend - comma - 1));

        if (hend == NULL) {
            hend = aend;
        }
        if (out_put(o, ",", 1) < 0 ||
            (hend > comma + 1 &&
             out_put(o, CLUSTER_LOCAL_HOST, LOCAL_LEN) < 0) ||
            out_put(o, hend, (size_t)(aend - hend)) < 0) {
            return -1;
        }
    }
    return out_put(o, aend, (size_t)(s + n - aend));
}

/* Every line of a NODES text (a bulk's payload) into o, as a bulk of the
 * same type ('$' or RESP3 verbatim '=' with its "txt:" prefix kept). */
static int
nodes_text(const struct val *v, cluster_map_fn map, void *arg,
           struct cluster_out *o, bool *changed)
{
    struct cluster_out body = {0};
    const char *s, *end;
    size_t skip = v->type == '=' && v->len >= 4 ? 4 : 0;    /* "txt:" */
    int rc = 0;

    if (!is_bulk_type(v->type) || v->data == NULL) {
        return -1;
    }
    s = v->data;
    end = v->data + v->len;
    if (skip > 0 && out_put(&body, s, skip) < 0) {
        rc = -1;
    }
    s += skip;
    while (rc == 0 && s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl != NULL ? nl : end;

        rc = nodes_line(s, (size_t)(le - s), map, arg, &body, changed);
        if (rc == 0 && nl != NULL) {
            rc = out_put(&body, "\n", 1);
        }
        s = nl != NULL ? nl + 1 : end;
    }
    if (rc == 0 && (out_fmt_head(o, v->type, (long long)body.len) < 0 ||
                    out_put(o, body.buf, body.len) < 0 ||
                    out_put(o, "\r\n", 2) < 0)) {
        rc = -1;
    }
    free(body.buf);
    return rc;
}

static int
rewrite_nodes(struct rd *r, cluster_map_fn map, void *arg,
              struct cluster_out *o, bool *changed)
{
    struct val v;

    if (rd_value(r, &v, 0) < 0) {
        return -1;
    }
    return nodes_text(&v, map, arg, o, changed);
}

static int
rewrite_replicas(struct rd *r, cluster_map_fn map, void *arg,
                 struct cluster_out *o, bool *changed)
{
    struct val top, v;

    if (rd_agg(r, &top) < 0 || top.type != '*' ||
        out_fmt_head(o, '*', top.num) < 0) {
        return -1;
    }
    for (long long i = 0; i < top.num; i++) {
        if (rd_value(r, &v, 1) < 0 ||
            nodes_text(&v, map, arg, o, changed) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ redirects */

bool
cluster_is_redirect(const char *head)
{
    return strncmp(head, "MOVED ", 6) == 0 || strncmp(head, "ASK ", 4) == 0;
}

/* -MOVED <slot> <host>:<port> (or ASK): the address after the second
 * space, to its last colon. */
static int
rewrite_redirect(struct rd *r, cluster_map_fn map, void *arg,
                 struct cluster_out *o, bool *changed)
{
    struct val v;
    const char *s, *end, *sp, *colon = NULL;
    struct cluster_node_ref ref = {0};
    long long port;
    char tail[32];
    int local, k;

    if (rd_line(r, &v) < 0 || v.type != '-' || r->p != r->end) {
        return -1;
    }
    s = v.line;
    end = v.line + v.linelen;
    if ((sp = memchr(s, ' ', v.linelen)) == NULL ||
        (sp = memchr(sp + 1, ' ', (size_t)(end - sp - 1))) == NULL) {
        return -1;
    }
    for (const char *p = sp + 1; p < end; p++) {
        if (*p == ':') {
            colon = p;
        }
    }
    if (colon == NULL ||
        parse_num(colon + 1, (size_t)(end - colon - 1), &port) < 0) {
        return -1;
    }
    ref.host = sp + 1;
    ref.hostlen = (size_t)(colon - sp - 1);
    ref.port = (long)port;
    ref.redirect = true;
    if ((local = map(arg, &ref)) < 0) {
        return 0;
    }
    *changed = true;
    k = snprintf(tail, sizeof(tail), ":%d\r\n", local);
    if (out_put(o, v.start, (size_t)(sp + 1 - v.start)) < 0 ||
        out_put(o, CLUSTER_LOCAL_HOST, LOCAL_LEN) < 0 ||
        out_put(o, tail, (size_t)k) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ API */

enum cluster_reply
cluster_request_kind(const char *name, const char *arg1)
{
    if (strcmp(name, "cluster") != 0) {
        return CLUSTER_REPLY_NONE;
    }
    if (strcmp(arg1, "slots") == 0) {
        return CLUSTER_REPLY_SLOTS;
    }
    if (strcmp(arg1, "shards") == 0) {
        return CLUSTER_REPLY_SHARDS;
    }
    if (strcmp(arg1, "nodes") == 0) {
        return CLUSTER_REPLY_NODES;
    }
    if (strcmp(arg1, "replicas") == 0 || strcmp(arg1, "slaves") == 0) {
        return CLUSTER_REPLY_REPLICAS;
    }
    return CLUSTER_REPLY_NONE;
}

int
cluster_rewrite(enum cluster_reply kind, const char *in, size_t len,
                cluster_map_fn map, void *arg, struct cluster_out *out)
{
    struct rd r = {in, in + len};
    bool changed = false;
    int rc;

    out->len = 0;
    switch (kind) {
    case CLUSTER_REPLY_SLOTS:
        rc = rewrite_slots(&r, map, arg, out, &changed);
        break;
    case CLUSTER_REPLY_SHARDS:
        rc = rewrite_shards(&r, map, arg, out, &changed);
        break;
    case CLUSTER_REPLY_NODES:
        rc = rewrite_nodes(&r, map, arg, out, &changed);
        break;
    case CLUSTER_REPLY_REPLICAS:
        rc = rewrite_replicas(&r, map, arg, out, &changed);
        break;
    case CLUSTER_REPLY_REDIRECT:
        rc = rewrite_redirect(&r, map, arg, out, &changed);
        break;
    default:
        rc = 0;
        break;
    }
    if (rc == 0 && changed && r.p == r.end) {
        return 1;
    }
    /* Not the shape we know, or nothing named a node we map: unchanged.
     * (An allocation failure looks the same from here, and also leaves
     * the reply as it was: never half rewritten.) */
    out->len = 0;
    return 0;
}
