/*
 * stunnel.h: stunnel client-mode keys -> redsleeve keys.
 *
 * stunnel.c knows stunnel's spelling of the keys that have a meaning here
 * (accept, connect, CAfile, setuid, debug, ...), which of its keys are
 * ignored with a note, and which are refused.  It owns no state and no
 * config: it reports each translation back through the callbacks of a
 * struct stunnel_sink, and config.c, which owns parsing, line numbers,
 * errors and the notes, decides what they do.  Pure: no I/O.
 */
#ifndef REDSLEEVE_STUNNEL_H
#define REDSLEEVE_STUNNEL_H

#include <stdarg.h>
#include <stdbool.h>

/* Where a translation goes (all callbacks required). */
struct stunnel_sink {
    void (*note_cb)(void *arg, const char *fmt, va_list ap);
                                /* what a key became, printf-style */
    void (*error_cb)(void *arg, const char *fmt, va_list ap);
                                /* a key that is refused, printf-style */
    int (*set_cb)(void *arg, const char *key, const char *value);
                                /* sets one of our keys; its result is
                                   returned to the caller */
    void *arg;                  /* ref: handed to every callback */
};

/*
 * stunnel_global(sink, name, value): a key that stands before any section
 * (stunnel's global options).  Aliases (setuid, setgid, pid, output,
 * debug) are noted and set through sink->set_cb with our [global] key;
 * options with no meaning here are noted; those redsleeve cannot honour
 * (chroot, engine) are refused through sink->error_cb.  Returns set_cb's
 * result or 1 when the key was handled, -1 when name is no stunnel global
 * key (service keys before any section are defaults: config.c's business).
 */
int stunnel_global(const struct stunnel_sink *sink, const char *name,
                   const char *value);

/*
 * stunnel_service(sink, section, name, value): a key in the service
 * [section] that is not one of ours (or "verify" with a numeric level).
 * Aliases (accept, connect, CAfile, checkIP, ...) are noted and set
 * through sink->set_cb with our service key; verify = 0..2 and
 * sslVersion* become verify and tls_min_version the same way; options
 * with no meaning here (options, delay, socket, TIMEOUTclose, ...) and
 * client = yes, verifyPeer = no are noted; client = no, verifyPeer = yes,
 * verify = 3 or 4, versions below TLS 1.2 and the options redsleeve
 * cannot honour (exec, OCSP, CRLfile, ...) are refused through
 * sink->error_cb.  Returns set_cb's result or 1 when the key was handled,
 * -1 when name is no stunnel service key.
 */
int stunnel_service(const struct stunnel_sink *sink, const char *section,
                    const char *name, const char *value);

/* stunnel_is_global_key(name): name is a stunnel global option. */
bool stunnel_is_global_key(const char *name);

/*
 * stunnel_service_key(i), stunnel_global_key(i): the i-th stunnel key
 * known at that level, NULL past the last (for "did you mean").
 */
const char *stunnel_service_key(int i);
const char *stunnel_global_key(int i);

#endif
