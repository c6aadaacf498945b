/*
 * config_parse.h: what the config_*.c files share while one config is
 * loaded; not for other modules (they include config.h only).
 *
 * A load is one struct config_parse: config_load.c creates it and owns
 * the config being built; config_read.c feeds inih and calls config_set_key
 * for each of our keys; config_check.c validates the whole.  Every
 * message goes through config_perr (errors) or config_pnote (notes on
 * what stunnel keys became), both "FILE:LINE: ..." with the line's file.
 */
#ifndef REDSLEEVE_CONFIG_PARSE_H
#define REDSLEEVE_CONFIG_PARSE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "log.h"

#define CONFIG_GLOBAL_SECTION "global"
#define CONFIG_READ_LINE_MAX 4096   /* our reader's own line buffer */
#define CONFIG_MAX_SECTIONS 256     /* sections remembered for duplicates */
#define CONFIG_MAX_DEFAULTS 64      /* service keys before any section */
#define CONFIG_INCLUDE_DEPTH 4      /* include = DIR inside included files */

#define CONFIG_REPLAY_FIRST 1       /* defaults into the first section */
#define CONFIG_REPLAY_QUIET 2       /* into the others: counted, not
                                       repeated */

/* A service key before any section: stunnel's service defaults. */
struct config_default {
    char *name;                     /* owned: the key, as written */
    char *value;                    /* owned: its value */
    int line;                       /* where it was set */
};

/* One file the line reader is in: the config itself, or the files of an
 * include = DIR being read in turn. */
struct config_frame {
    FILE *fp;                       /* owned, except the config's own */
    int include_line;               /* line of the include = DIR */
    char **files;                   /* owned: the directory's files */
    int nfiles;                     /* entries in files */
    int next;                       /* the next file to open */
    int line;                       /* lines read from the current file */
    int id;                         /* which file, for the segments */
};

/* What the parser carries between inih callbacks. */
struct config_parse {
    const char *path;               /* ref: file name for messages */
    int lineno;                     /* line the reader last returned */
    struct config *cfg;             /* ref: being filled */
    struct service_config *cur;     /* ref: service of the current section */
    struct service_config *tail;    /* ref: last service, for appending */
    char cur_section[256];          /* name of the current section */
    char *sections[CONFIG_MAX_SECTIONS];    /* owned: headers seen, for
                                       duplicates */
    int nsections;                  /* entries in sections */
    int header_line;                /* line of the last [section] header */
    struct config_default defaults[CONFIG_MAX_DEFAULTS];  /* service keys
                                       before any section, in order */
    int ndefaults;                  /* entries in defaults */
    bool from_default[SK_COUNT];    /* key of ps->cur set by a default (a
                                       key of the section replaces it) */
    int replaying;                  /* applying defaults to a section:
                                       CONFIG_REPLAY_FIRST (no notes: made
                                       once) or CONFIG_REPLAY_QUIET (no
                                       errors either) */
    struct config_frame frames[CONFIG_INCLUDE_DEPTH + 1];   /* [0]: the
                                       config */
    int nframes;                    /* frames in use */
    int next_id;                    /* ids handed to frames */
    int seg_id;                     /* id of the file of the last segment */
    bool no_include;                /* read from a stream (the fuzzer):
                                       include = DIR is refused */
    const char *const *origins;     /* ref: per-line origin, or NULL */
    int norigins;                   /* entries in origins */
    char *err;                      /* ref: caller's error buffer */
    size_t errlen;                  /* its size */
    size_t errused;                 /* bytes written to it */
    int nerrors;                    /* problems found */
};

/* ------------------------------------------------------------ config.c */

/*
 * config_set_key(ps, base, key, value, line): parses value for table key
 * key (an index of config_keys) into base (the struct config for a
 * [global] key, the struct service_config for a service key).  Returns 0,
 * or -1 after reporting the error on line.
 */
int config_set_key(struct config_parse *ps, void *base, int key,
                   const char *value, int line);

/* config_perr(ps, line, fmt, ...): one error, "FILE:LINE: " first (or the
 * flag or variable the line came from); counted even when err is full. */
void config_perr(struct config_parse *ps, int line, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* config_pnote(ps, line, fmt, ...): one note into cfg->notes. */
void config_pnote(struct config_parse *ps, int line, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* config_origin(ps, line, buf, buflen): "FILE:LINE", or the flag or
 * variable line came from.  Returns buf. */
const char *config_origin(const struct config_parse *ps, int line, char *buf,
                          size_t buflen);

/* config_vperr, config_vnote: the same with a va_list (stunnel.c's
 * callbacks). */
void config_vperr(struct config_parse *ps, int line, const char *fmt,
                  va_list ap) PRINTF_LIKE(3, 0);
void config_vnote(struct config_parse *ps, int line, const char *fmt,
                  va_list ap) PRINTF_LIKE(3, 0);

/* --------------------------------------------------------- config_read.c */

/*
 * config_read(ps): runs inih over ps->frames[0].fp with our line reader
 * and key handler, filling ps->cfg.  Returns inih's result: 0, the first
 * line with a syntax error, or -1 (out of memory).
 */
int config_read(struct config_parse *ps);

/* config_read_done(ps): frees what config_read kept in ps. */
void config_read_done(struct config_parse *ps);

/* config_near_global(section): a section name like a misspelt [global]. */
bool config_near_global(const char *section);

/* -------------------------------------------------------- config_check.c */

/* config_validate(ps): defaults, then every check of every service and of
 * the addresses between them; errors through config_perr. */
void config_validate(struct config_parse *ps);

/* -------------------------------------------------------- config_value.c */


/* config_parse_long(s, out): a whole decimal number.  0 or -1. */
int config_parse_long(const char *s, long *out) MUST_CHECK;

/*
 * config_expand_env(in, out, outlen, missing, missinglen): copies in to
 * out with each ${NAME} replaced by the environment variable NAME.
 * Returns 0; -1 when a variable is unset (its name in missing) or the
 * result is too long; -2 for an unterminated "${".
 */
int config_expand_env(const char *in, char *out, size_t outlen,
                      char *missing, size_t missinglen) MUST_CHECK;

#endif
