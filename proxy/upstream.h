/*
 * upstream.h: one TLS link to the upstream Redis.
 *
 * A link owns its socket, its SSL and its two events.  It resolves the
 * upstream name (resolve.h), connects, runs the TLS handshake with the
 * service's verification, sends AUTH and requires "+OK" before it calls
 * itself ready.  After that its owner (a session) drives the data path
 * with link_read()/link_write()/link_watch(); the link maps every OpenSSL
 * result in one place.  Nothing else closes the socket or frees the SSL.
 */
#ifndef REDSLEEVE_UPSTREAM_H
#define REDSLEEVE_UPSTREAM_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "config.h"
#include "tls.h"

struct event_base;
struct evdns_base;
struct link;

#define LINK_HIST_BUCKETS 13    /* upper bounds: link_hist_bounds[] */

/* A latency histogram in Prometheus' shape (bucket counts not cumulative). */
struct link_hist {
    uint64_t bucket[LINK_HIST_BUCKETS + 1];     /* last one is +Inf */
    uint64_t count;
    double sum;                 /* seconds */
};

/* Counters every link of a service adds to; owned by the service. */
struct link_stats {
    struct link_hist connect;       /* first connect() to TCP established */
    struct link_hist handshake;     /* TLS handshake, AUTH excluded */
    uint64_t tls_failures[TLS_FAIL_COUNT];
};

/* link_hist_bounds[i]: upper bound in seconds of bucket i. */
extern const double link_hist_bounds[LINK_HIST_BUCKETS];

/*
 * The upstream's last failure as logged, shared by every service of one
 * name (every worker's, and a retired one's), so that a cause is logged
 * once per process, not once per worker.
 */
#define UPSTREAM_NOTE_MAX 320
struct upstream_note {
    pthread_mutex_t mu;                 /* guards the rest */
    char last_error[UPSTREAM_NOTE_MAX]; /* "" = the last link worked */
    unsigned long repeats;              /* failures since it was logged */
};

/* What every link of a service shares; owned by the service. */
struct link_params {
    const struct service_config *sc;    /* ref: config of the service */
    SSL_CTX *ctx;                       /* ref: the service's TLS context */
    const struct auth_cmd *auth;        /* ref: AUTH to send, may be empty */
    struct event_base *base;            /* ref: the event loop */
    struct evdns_base *dns;             /* ref: the resolver */
    struct link_stats *stats;           /* ref: the service's counters */
    struct upstream_note *note;         /* ref: shared, see above */
};

/*
 * Called once when the link is ready (error == NULL) or has failed (error
 * is a readable reason; the link is then dead and must be link_free'd).
 * The callback may free the link.
 */
typedef void (*link_ready_cb)(struct link *link, const char *error,
                              void *arg);

/* Called on socket readiness once the link is ready; may free the link. */
typedef void (*link_io_cb)(struct link *link, short what, void *arg);

enum link_io {
    LINK_IO_DONE = 0,       /* bytes moved (the return value) */
    LINK_IO_WANT_READ,      /* retry when the socket is readable */
    LINK_IO_WANT_WRITE,     /* retry when the socket is writable */
    LINK_IO_EOF,            /* the server closed (close_notify or TCP EOF) */
    LINK_IO_ERROR           /* broken; link_error() says why */
};

/*
 * link_new(p, cb, arg): starts a new link (resolve, connect, handshake,
 * AUTH) from the next loop turn; cb is never called from inside link_new.
 * Returns the link (caller owns; link_free), or NULL on ENOMEM.
 */
struct link *link_new(const struct link_params *p, link_ready_cb cb,
                      void *arg);

/* link_free(link, graceful): sends close_notify when graceful and the
 * handshake was done, closes the socket, frees everything; NULL is a no-op. */
void link_free(struct link *link, bool graceful);

/* link_set_io(link, cb, arg): where readiness goes once the link is ready. */
void link_set_io(struct link *link, link_io_cb cb, void *arg);

/* link_watch(link, rd, wr): which readiness to be told about. */
void link_watch(struct link *link, bool rd, bool wr);

/*
 * link_read(link, buf, len, st) / link_write(link, buf, len, st): one
 * SSL_read/SSL_write.  Return the bytes moved (> 0, *st = LINK_IO_DONE) or
 * 0 with *st saying why nothing moved.  A write after WANT_* must be
 * retried with the same bytes (more may follow them).
 */
size_t link_read(struct link *link, void *buf, size_t len, enum link_io *st);
size_t link_write(struct link *link, const void *buf, size_t len,
                  enum link_io *st);

/* link_has_pending(link): decrypted bytes wait inside the SSL. */
bool link_has_pending(const struct link *link);

/* link_release_buffers(link): gives the SSL's record buffers back while
 * the link is quiet (they come back, 16 KiB or more, with the next byte). */
void link_release_buffers(struct link *link);

/* link_heap_trim(quiet): hands freed buffer memory back to the system now
 * and then (quiet: the caller found no busy link). */
#define LINK_TRIM_BATCH 64
void link_heap_trim(bool quiet);

/* link_shutdown_write(link): sends close_notify once; reads go on. */
void link_shutdown_write(struct link *link);

/* link_peer(link): "address:port" connected to (as resolve_format_addr
 * writes it), or the upstream as written. */
const char *link_peer(const struct link *link);


/* link_error(link): why the last operation failed, "" if it did not. */
const char *link_error(const struct link *link);

/*
 * What made a link fail.  Its text (link_error, the ready callback's
 * error) starts with what a client is told: "unreachable: ",
 * "certificate rejected: ", "TLS handshake failed: ", "AUTH rejected: " /
 * "AUTH failed: ", "wrong role: " / "ROLE failed: ".
 */
enum link_fail {
    LINK_FAIL_NONE = 0,     /* it did not fail (yet) */
    LINK_FAIL_DNS,          /* unreachable: the name did not resolve */
    LINK_FAIL_CONNECT,      /* unreachable: no TCP connection */
    LINK_FAIL_SILENT,       /* reached, but no verdict: a timeout, or the
                               server closed without a word */
    LINK_FAIL_CERT,         /* the server's certificate was rejected */
    LINK_FAIL_TLS,          /* the TLS handshake failed (alert, protocol,
                               no TLS at that port) */
    LINK_FAIL_AUTH,         /* the server rejected AUTH */
    LINK_FAIL_ROLE,         /* the server has the wrong role */
    LINK_FAIL_OTHER         /* out of memory */
};

/* link_failure(link): in the ready callback of a failed link, what failed. */
enum link_fail link_failure(const struct link *link);

/* link_tls_failure(link): likewise, the class of a failed TLS handshake
 * (TLS_FAIL_HOSTNAME, ...), or TLS_FAIL_COUNT if the handshake did not
 * fail. */
enum tls_fail link_tls_failure(const struct link *link);

/*
 * link_failure_step(link): like link_failure, but a silent failure is
 * named by the step it happened in (LINK_FAIL_TLS, _AUTH or _ROLE), never
 * LINK_FAIL_SILENT: failures counted by kind count a timeout with its
 * step.
 */
enum link_fail link_failure_step(const struct link *link);

/* link_fail_is_verdict(k): the server was reached and its answer proves the
 * service's settings wrong (certificate, TLS, AUTH, role). */
bool link_fail_is_verdict(enum link_fail k);

/* link_age(link): seconds since link_new. */
double link_age(const struct link *link);

/* link_auth_age(link): seconds since the link's last AUTH (its first, in
 * link_new, or the last link_auth_renewed). */
double link_auth_age(const struct link *link);

/* link_auth_renewed(link): the server accepted a new AUTH on the link. */
void link_auth_renewed(struct link *link);

/* link_resumed(link): the handshake resumed the service's TLS session. */
bool link_resumed(const struct link *link);

/* link_tls_version(link): e.g. "TLSv1.3", once ready. */
const char *link_tls_version(const struct link *link);

/* link_tls_cipher(link): e.g. "TLS_AES_128_GCM_SHA256", once ready. */
const char *link_tls_cipher(const struct link *link);

#endif
