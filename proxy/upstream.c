/*
 * upstream.c: a link's raw I/O once it is ready, its accessors and its
 * end (link_free).
 *
 * A ready link belongs to its owner (a session or the pool), which drives
 * it with link_read()/link_write()/link_watch(); every OpenSSL result is
 * mapped in one place (map_result).  No byte leaves without TLS: the
 * socket is only ever written through SSL.  How a link becomes ready
 * (resolve, connect, handshake, AUTH, ROLE) is upstream_connect.c's.
 */
#include "upstream_int.h"

#include <errno.h>
#include <event2/event.h>
#include <malloc.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
link_watch(struct link *l, bool rd, bool wr)
{
    if (rd != l->reading) {
        if (rd) {
            event_add(&l->ev_read, NULL);
        } else {
            event_del(&l->ev_read);
        }
        l->reading = rd;
    }
    if (wr != l->writing) {
        if (wr) {
            event_add(&l->ev_write, NULL);
        } else {
            event_del(&l->ev_write);
        }
        l->writing = wr;
    }
}

void
link_close_socket(struct link *l)
{
    link_watch(l, false, false);
    if (l->ssl != NULL) {
        SSL_free(l->ssl);
        l->ssl = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

void
link_free(struct link *l, bool graceful)
{
    if (l == NULL) {
        return;
    }
    evtimer_del(&l->ev_timer);
    resolve_cancel(&l->resolve);
    if (graceful && l->state == LINK_READY) {
        link_shutdown_write(l);
    }
    link_close_socket(l);
    if (l->addrs != NULL) {
        evutil_freeaddrinfo(l->addrs);
    }
    link_init_free(l->init);
    free(l);
}

void
link_init_free(struct link_init *in)
{
    if (in != NULL) {
        auth_buf_free(in->auth, in->auth_len);
        free(in);
    }
}

void
link_set_io(struct link *l, link_io_cb cb, void *arg)
{
    l->io_cb = cb;
    l->arg = arg;
}

/* Keeps an I/O failure's text where link_error() finds it. */
static void PRINTF_LIKE(2, 3)
io_error(struct link *l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (l->init != NULL) {
        vsnprintf(l->init->error, sizeof(l->init->error), fmt, ap);
    } else {
        vsnprintf(l->ioerr, sizeof(l->ioerr), fmt, ap);
    }
    va_end(ap);
}

/* The one place that turns an SSL result into what the caller does next. */
static size_t
map_result(struct link *l, int r, enum link_io *st)
{
    char why[160];
    int e;

    if (r > 0) {
        *st = LINK_IO_DONE;
        return (size_t)r;
    }
    e = errno;
    switch (SSL_get_error(l->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *st = LINK_IO_WANT_READ;
        break;
    case SSL_ERROR_WANT_WRITE:
        *st = LINK_IO_WANT_WRITE;
        break;
    case SSL_ERROR_ZERO_RETURN:
        *st = LINK_IO_EOF;
        break;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (r == 0 || e == 0)) {
            /* TCP EOF without close_notify: reply framing is the judge. */
            *st = LINK_IO_EOF;
            break;
        }
        if (ERR_peek_error() == 0) {
            io_error(l, "%s", strerror(e));
            *st = LINK_IO_ERROR;
            break;
        }
        __attribute__((fallthrough));
    default:
        io_error(l, "tls: %s", tls_err_drain(why, sizeof(why)));
        *st = LINK_IO_ERROR;
        break;
    }
    return 0;
}

/*
 * SSL_get_error needs an empty error queue before each call; errors are
 * drained where they happen, so this is nearly always a peek (clearing
 * the 16 slots every time was 1.5 % of the proxy's CPU under load).
 */
static void
clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

size_t
link_read(struct link *l, void *buf, size_t len, enum link_io *st)
{
    int r;

    clear_errors();
    l->held = true;
    r = SSL_read(l->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return map_result(l, r, st);
}

size_t
link_write(struct link *l, const void *buf, size_t len, enum link_io *st)
{
    int r;

    clear_errors();
    l->held = true;
    r = SSL_write(l->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return map_result(l, r, st);
}

bool
link_has_pending(const struct link *l)
{
    return l->ssl != NULL && SSL_has_pending(l->ssl) == 1;
}

void
link_shutdown_write(struct link *l)
{
    if (l->shut_sent || l->ssl == NULL) {
        return;
    }
    l->shut_sent = true;
    ERR_clear_error();
    (void)SSL_shutdown(l->ssl);     /* sends close_notify; no wait for reply */
    ERR_clear_error();
}

const char *
link_peer(const struct link *l)
{
    return l->peer[0] ? l->peer : l->p->sc->upstream;
}

const char *
link_error(const struct link *l)
{
    return l->init != NULL ? l->init->error : l->ioerr;
}

/* Seconds from t to the loop's cached now. */
static double
since(const struct link *l, const struct timeval *t)
{
    struct timeval now;

    event_base_gettimeofday_cached(l->p->base, &now);
    return (double)(now.tv_sec - t->tv_sec) +
           (double)(now.tv_usec - t->tv_usec) / 1e6;
}

double
link_age(const struct link *l)
{
    return since(l, &l->born);
}

/* Monotonic: a clock set back must not make a re-AUTH late. */
double
link_auth_age(const struct link *l)
{
    return mono_now() - l->authed;
}

void
link_auth_renewed(struct link *l)
{
    l->authed = mono_now();
}

bool
link_resumed(const struct link *l)
{
    return l->resumed;
}

const char *
link_tls_version(const struct link *l)
{
    return l->ssl ? SSL_get_version(l->ssl) : "none";
}

const char *
link_tls_cipher(const struct link *l)
{
    const char *c = l->ssl ? SSL_get_cipher_name(l->ssl) : NULL;

    return c != NULL ? c : "none";
}

/* Links whose buffers went back since the last malloc_trim, all loops. */
static atomic_uint released;

void
link_release_buffers(struct link *l)
{
    if (l->ssl != NULL && l->state == LINK_READY && l->held &&
        SSL_has_pending(l->ssl) == 0 && SSL_free_buffers(l->ssl) == 1) {
        l->held = false;
        atomic_fetch_add(&released, 1);
    }
}

/*
 * Buffers freed a while after they were last used leave 17 KiB holes
 * between long-lived allocations, which glibc does not give back: after
 * every LINK_TRIM_BATCH releases, or when a sweep found everything quiet,
 * malloc_trim returns the holes' pages to the system.
 */
void
link_heap_trim(bool quiet)
{
    unsigned n = atomic_load(&released);

    if (n >= LINK_TRIM_BATCH || (quiet && n > 0)) {
        atomic_fetch_sub(&released, n);
        (void)malloc_trim(0);
    }
}
