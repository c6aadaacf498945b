/*
 * listener.c: bind, accept, and the two reasons to stop accepting.
 *
 * A listener is paused by its owner when the service is at max_clients,
 * and pauses itself for ACCEPT_BACKOFF_MS when accept() fails for lack of
 * descriptors or memory; it resumes only when neither reason holds.  The
 * clients then wait in the kernel's backlog rather than being refused.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 511
#define ACCEPT_BACKOFF_MS 100

/* workers > 1: every worker binds its own socket to the same address. */
static bool reuseport;

/*
 * Unix sockets have no SO_REUSEPORT: with workers, the first listener on a
 * path binds it and the others listen on a dup of the same socket (the
 * kernel gives each connection to one accept()); the last one to close
 * removes the file.  One entry per path, guarded by units_mu.
 */
struct unix_sock {
    struct unix_sock *next;
    char *path;                 /* owned */
    int fd;                     /* owned: the bound socket */
    unsigned users;             /* listeners on it */
};

static pthread_mutex_t units_mu = PTHREAD_MUTEX_INITIALIZER;
static struct unix_sock *units;

/* Drops u from the list (units_mu held), closes it, removes its file. */
static void
unix_forget(struct unix_sock *u)
{
    struct unix_sock **pp = &units;

    while (*pp != u) {
        pp = &(*pp)->next;
    }
    *pp = u->next;
    close(u->fd);
    unlink(u->path);
    free(u->path);
    free(u);
}

void
listener_set_reuseport(bool on)
{
    reuseport = on;
}

struct listener {
    struct evconnlistener *evl;     /* owned: libevent's listener */
    struct event ev_backoff;        /* owned: resumes after EMFILE */
    bool paused_by_owner;           /* max_clients reached */
    bool paused_by_error;           /* EMFILE/ENFILE/ENOMEM back-off */
    unsigned long accept_errors;    /* count, for the log */
    listener_accept_cb cb;          /* where accepted sockets go */
    void *arg;                      /* ref: for cb */
    char *unix_path;                /* owned: unlinked on free */
    char addr[128];                 /* bound address, for logs */
};

static void
apply_pause(struct listener *l)
{
    if (l->paused_by_owner || l->paused_by_error) {
        evconnlistener_disable(l->evl);
    } else {
        evconnlistener_enable(l->evl);
    }
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
          struct sockaddr *addr, int addrlen, void *arg)
{
    struct listener *l = arg;

    (void)evl;
    l->cb(fd, addr, addrlen, l->arg);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;

    (void)fd;
    (void)what;
    l->paused_by_error = false;
    apply_pause(l);
}

static void
accept_error_cb(struct evconnlistener *evl, void *arg)
{
    struct listener *l = arg;
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};

    (void)evl;
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        if (l->accept_errors++ % 1000 == 0) {
            log_warn("event=accept-paused listen=%s reason=\"%s\" "
                     "errors=%lu", l->addr, strerror(e), l->accept_errors);
        }
        l->paused_by_error = true;
        apply_pause(l);
        evtimer_add(&l->ev_backoff, &tv);
        return;
    }
    /* ECONNABORTED and friends: the client gave up; nothing to do. */
    log_debug("event=accept-error listen=%s reason=\"%s\"", l->addr,
              strerror(e));
}

/* Something accepts connections on the unix socket at path. */
static bool
unix_is_live(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live;

    if (fd < 0) {
        return false;
    }
    live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
           (errno != ECONNREFUSED && errno != ENOENT);
    close(fd);
    return live;
}

static int
bind_unix(const struct service_config *sc, char *err, size_t errlen)
{
    const char *path = sc->listen_unix;
    struct sockaddr_un sun;
    struct stat st;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    /* A stale socket from a previous run (nobody answers on it) is
     * replaced; a live one is another process's, and any other file is
     * left alone. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return -1;
        }
        if (unix_is_live(&sun)) {
            snprintf(err, errlen, "cannot listen on unix:%s: a running "
                     "process already listens there", path);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        snprintf(err, errlen, "cannot listen on unix:%s: %s", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    /* Owner and mode before listen(): no client connects before then. */
    if ((sc->listen_uid >= 0 || sc->listen_gid >= 0) &&
        chown(path, (uid_t)sc->listen_uid, (gid_t)sc->listen_gid) < 0) {
        snprintf(err, errlen, "listen_owner: cannot chown unix:%s to %s: %s",
                 path, sc->listen_owner, strerror(errno));
        goto fail;
    }
    if (sc->listen_mode >= 0 && chmod(path, (mode_t)sc->listen_mode) < 0) {
        snprintf(err, errlen, "listen_mode: cannot chmod unix:%s to %04o: "
                 "%s", path, (unsigned)sc->listen_mode, strerror(errno));
        goto fail;
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, errlen, "cannot listen on unix:%s: %s", path,
                 strerror(errno));
        goto fail;
    }
    return fd;
fail:
    unlink(path);
    close(fd);
    return -1;
}

/* A socket listening on path, for one listener (its to close): the
 * bound one's dup when another listener has it already. */
static int
unix_open(const struct service_config *sc, char *err, size_t errlen)
{
    const char *path = sc->listen_unix;
    struct unix_sock *u;
    int fd = -1;

    pthread_mutex_lock(&units_mu);
    for (u = units; u != NULL && strcmp(u->path, path) != 0; u = u->next) {
    }
    if (u == NULL) {
        u = calloc(1, sizeof(*u));
        if (u == NULL || (u->path = strdup(path)) == NULL) {
            free(u);
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        u->fd = bind_unix(sc, err, errlen);
        if (u->fd < 0) {
            free(u->path);
            free(u);
            goto out;
        }
        u->next = units;
        units = u;
    }
    fd = fcntl(u->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on unix:%s: %s", path,
                 strerror(errno));
        if (u->users == 0) {
            unix_forget(u);
        }
        goto out;
    }
    u->users++;
out:
    pthread_mutex_unlock(&units_mu);
    return fd;
}

/* A listener on path has closed its socket: the last one removes the
 * file. */
static void
unix_close(const char *path)
{
    pthread_mutex_lock(&units_mu);
    for (struct unix_sock *u = units; u != NULL; u = u->next) {
        if (strcmp(u->path, path) == 0) {
            if (--u->users == 0) {
                unix_forget(u);
            }
            break;
        }
    }
    pthread_mutex_unlock(&units_mu);
}

static int
bind_tcp(const struct service_config *sc, int port, char *bound,
         size_t boundlen, char *err, size_t errlen, bool probe)
{
    struct sockaddr_storage ss;
    int sslen = (int)sizeof(ss);
    char spec[300];
    const char *host = strcmp(sc->listen_host, "localhost") == 0
                           ? "127.0.0.1" : sc->listen_host;
    int fd;
    int one = 1;

    snprintf(spec, sizeof(spec), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
             host, port);
    memset(&ss, 0, sizeof(ss));
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sslen = (int)sizeof(*s6);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
            snprintf(err, errlen, "bad listen address %s", spec);
            return -1;
        }
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sslen = (int)sizeof(*s4);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
            snprintf(err, errlen, "bad listen address %s", spec);
            return -1;
        }
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && !probe) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) < 0 ||
        (!probe && listen(fd, LISTEN_BACKLOG) < 0)) {
        snprintf(err, errlen, "cannot listen on %s: %s", spec,
                 strerror(errno));
        close(fd);
        return -1;
    }
    sslen = (int)sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, (socklen_t *)&sslen) == 0) {
        char h[INET6_ADDRSTRLEN];

        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

            evutil_inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
            port = ntohs(s6->sin6_port);
            snprintf(bound, boundlen, "[%s]:%d", h, port);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

            evutil_inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
            port = ntohs(s4->sin_port);
            snprintf(bound, boundlen, "%s:%d", h, port);
        }
    }
    return fd;
}

struct listener *
listener_new(struct event_base *base, const struct service_config *sc,
             int port, listener_accept_cb cb, void *arg, char *err,
             size_t errlen)
{
    struct listener *l = calloc(1, sizeof(*l));
    int fd;

    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->cb = cb;
    l->arg = arg;
    if (sc->listen_unix != NULL) {
        fd = unix_open(sc, err, errlen);
        snprintf(l->addr, sizeof(l->addr), "unix:%s", sc->listen_unix);
        if (fd >= 0 && (l->unix_path = strdup(sc->listen_unix)) == NULL) {
            close(fd);
            unix_close(sc->listen_unix);
            snprintf(err, errlen, "out of memory");
            fd = -1;
        }
    } else {
        fd = bind_tcp(sc, port > 0 ? port : sc->listen_port, l->addr,
                      sizeof(l->addr), err, errlen, false);
    }
    if (fd < 0) {
        free(l);
        return NULL;
    }
    l->evl = evconnlistener_new(base, accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, fd);
    if (l->evl == NULL) {
        snprintf(err, errlen, "cannot start accepting on %s", l->addr);
        close(fd);
        if (l->unix_path != NULL) {
            unix_close(l->unix_path);
        }
        free(l->unix_path);
        free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->evl, accept_error_cb);
    evtimer_assign(&l->ev_backoff, base, backoff_cb, l);
    return l;
}

void
listener_free(struct listener *l)
{
    if (l == NULL) {
        return;
    }
    evtimer_del(&l->ev_backoff);
    evconnlistener_free(l->evl);
    if (l->unix_path != NULL) {
        unix_close(l->unix_path);
        free(l->unix_path);
    }
    free(l);
}

void
listener_set_paused(struct listener *l, bool paused)
{
    if (l->paused_by_owner != paused) {
        l->paused_by_owner = paused;
        apply_pause(l);
    }
}

const char *
listener_addr(const struct listener *l)
{
    return l->addr;
}

void
listener_set_owner(struct listener *l, listener_accept_cb cb, void *arg)
{
    l->cb = cb;
    l->arg = arg;
}

int
listener_probe(const struct service_config *sc, char *err, size_t errlen)
{
    char bound[128];
    int fd;

    if (sc->listen_unix != NULL || sc->listen_port == 0) {
        return 0;
    }
    fd = bind_tcp(sc, sc->listen_port, bound, sizeof(bound), err, errlen,
                  true);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}
