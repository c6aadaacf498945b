/*
 * cluster.c: the book of a cluster service's nodes and their local ports
 * (see cluster.h).  Pure: the caller holds the lock.
 */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>

struct cluster_book {
    char *name;                 /* owned: the service's */
    int lo, hi;                 /* its cluster_ports */
    struct cluster_node *nodes; /* owned: n of cap */
    int n, cap;
    unsigned char *taken;       /* owned: per port, given (1) or held by
                                   another program (2) */
};

struct cluster_book *
cluster_book_new(const char *name, int lo, int hi)
{
    struct cluster_book *b = calloc(1, sizeof(*b));

    if (b == NULL || lo < 1 || hi < lo ||
        (b->name = strdup(name)) == NULL ||
        (b->taken = calloc((size_t)(hi - lo + 1), 1)) == NULL) {
        cluster_book_free(b);
        return NULL;
    }
    b->lo = lo;
    b->hi = hi;
    return b;
}

void
cluster_book_free(struct cluster_book *b)
{
    if (b == NULL) {
        return;
    }
    free(b->name);
    free(b->nodes);
    free(b->taken);
    free(b);
}

const char *
cluster_book_name(const struct cluster_book *b)
{
    return b->name;
}

bool
cluster_book_range_is(const struct cluster_book *b, int lo, int hi)
{
    return b->lo == lo && b->hi == hi;
}

unsigned
cluster_book_size(const struct cluster_book *b)
{
    return (unsigned)b->n;
}

static bool
same(const char *s, size_t n, const char *z)
{
    return n > 0 && strlen(z) == n && memcmp(s, z, n) == 0;
}

/* The node ref names, or NULL: by id, else by port and host or ip. */
static struct cluster_node *
find(struct cluster_book *b, const struct cluster_node_ref *ref,
     const char *host, size_t hostlen)
{
    for (int i = 0; i < b->n; i++) {
        struct cluster_node *nd = &b->nodes[i];

        if (ref->id != NULL && nd->id[0] != '\0') {
            if (same(ref->id, ref->idlen, nd->id)) {
                return nd;
            }
            continue;   /* both have ids, and they differ */
        }
        if (nd->port == ref->port &&
            (same(host, hostlen, nd->host) || same(host, hostlen, nd->ip) ||
             (ref->ip != NULL && (same(ref->ip, ref->iplen, nd->ip) ||
                                  same(ref->ip, ref->iplen, nd->host))))) {
            return nd;
        }
    }
    return NULL;
}

/* A free port, marked given; -1 when none is left. */
static int
take_port(struct cluster_book *b)
{
    for (int p = b->lo; p <= b->hi; p++) {
        if (b->taken[p - b->lo] == 0) {
            b->taken[p - b->lo] = 1;
            return p;
        }
    }
    return -1;
}

static void
copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (s != NULL && n > 0 && n < cap) {
        memcpy(dst, s, n);
        dst[n] = '\0';
    }
}

int
cluster_book_node(struct cluster_book *b, const struct cluster_node_ref *ref,
                  const char *host, size_t hostlen, bool may_add,
                  struct cluster_node *out, bool *exhausted)
{
    struct cluster_node *nd;

    if (hostlen == 0 || hostlen >= CLUSTER_HOST_MAX || ref->port <= 0 ||
        ref->port > 65535 ||
        (ref->id != NULL && ref->idlen >= CLUSTER_ID_MAX)) {
        return -1;
    }
    if ((nd = find(b, ref, host, hostlen)) == NULL) {
        if (!may_add) {
            return -1;
        }
        if (b->n == b->cap) {
            int cap = b->cap ? 2 * b->cap : 8;
            struct cluster_node *nn = realloc(b->nodes,
                                              (size_t)cap * sizeof(*nn));

            if (nn == NULL) {
                return -1;
            }
            b->nodes = nn;
            b->cap = cap;
        }
        nd = &b->nodes[b->n];
        memset(nd, 0, sizeof(*nd));
        copy_field(nd->host, sizeof(nd->host), host, hostlen);
        nd->port = (int)ref->port;
        if ((nd->local = take_port(b)) < 0) {
            *exhausted = true;
            return -1;
        }
        b->n++;
    }
    if (nd->id[0] == '\0' && ref->id != NULL) {
        copy_field(nd->id, sizeof(nd->id), ref->id, ref->idlen);
    }
    if (nd->ip[0] == '\0' && ref->ip != NULL) {
        copy_field(nd->ip, sizeof(nd->ip), ref->ip, ref->iplen);
    }
    *out = *nd;
    return 0;
}

void
cluster_book_bound(struct cluster_book *b, const struct cluster_node *which)
{
    for (int i = 0; i < b->n; i++) {
        if (b->nodes[i].local == which->local) {
            b->nodes[i].bound = true;
        }
    }
}

int
cluster_book_move(struct cluster_book *b, const struct cluster_node *which,
                  bool *exhausted)
{
    for (int i = 0; i < b->n; i++) {
        struct cluster_node *nd = &b->nodes[i];

        if (nd->local != which->local || nd->port != which->port ||
            strcmp(nd->host, which->host) != 0) {
            continue;
        }
        b->taken[nd->local - b->lo] = 2;
        nd->bound = false;          /* nobody listens on the new one yet */
        if ((nd->local = take_port(b)) < 0) {
            *exhausted = true;
            memmove(nd, nd + 1, sizeof(*nd) * (size_t)(b->n - i - 1));
            b->n--;
            return -1;
        }
        return nd->local;
    }
    return -1;
}
