/*
 * config_load.c: the top of the config stack: config_load* run one parse
 * (config_read.c feeds the lines to the key table in config.c), then the
 * checks of the whole (config_check.c), and hand out the config, which is
 * never written again.  The sidecar loader turns flags and variables into
 * the same lines a file would hold, each with its origin for messages.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

/*
 * load_stream(path, fp, origins, norigins, no_include, err, errlen): the
 * one parser behind config_load* .  origins, when given, names where each
 * line came from (a flag, an environment variable) and replaces
 * "FILE:LINE" in messages.
 */
static struct config *
load_stream(const char *path, FILE *fp, const char *const *origins,
            int norigins, bool no_include, char *err, size_t errlen)
{
    struct config_parse ps;
    struct config *cfg;
    int r;

    memset(&ps, 0, sizeof(ps));
    ps.path = path;
    ps.err = err;
    ps.errlen = errlen;
    ps.origins = origins;
    ps.norigins = norigins;
    ps.no_include = no_include;
    if (errlen > 0) {
        err[0] = '\0';
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        snprintf(err, errlen, "%s: out of memory\n", path);
        return NULL;
    }
    atomic_init(&cfg->refs, 1);
    ps.cfg = cfg;
    cfg->file = strdup(path);
    ps.frames[0].fp = fp;           /* ref: the caller's */
    ps.nframes = 1;
    ps.seg_id = -1;
    r = config_read(&ps);
    if (r > 0) {
        config_perr(&ps, r, "syntax error: expected [section], key = value "
                    "or a comment");
    } else if (r < 0) {
        config_perr(&ps, 0, "cannot parse (out of memory)");
    }
    if (ps.nerrors == 0) {
        config_validate(&ps);
    }
    config_read_done(&ps);
    if (ps.nerrors > 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct config *
config_load_stream(const char *name, FILE *fp, char *err, size_t errlen)
{
    return load_stream(name, fp, NULL, 0, true, err, errlen);
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
    struct config *cfg;
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s\n", path,
                 strerror(errno));
        return NULL;
    }
    cfg = load_stream(path, fp, NULL, 0, false, err, errlen);
    fclose(fp);
    return cfg;
}

/* Appends "key = value" (one line) with its origin; -1 if it cannot. */
static int
add_line(FILE *fp, const char **origins, int *n, const char *origin,
         const char *key, const char *value)
{
    if (*n + 1 >= CONFIG_ARGS_MAX || strpbrk(value, "\r\n") != NULL) {
        return -1;
    }
    fprintf(fp, "%s = %s\n", key, value);
    origins[++*n] = origin;
    return 0;
}

struct config *
config_load_args(const struct config_arg *args, int nargs, char *err,
                 size_t errlen)
{
    /* Per call (the parse only borrows it): worker reloads in sidecar
     * mode run at once and must not share it. */
    const char *origins[CONFIG_ARGS_MAX + 4] = {NULL};
    char *text = NULL;
    size_t textlen = 0;
    FILE *fp = open_memstream(&text, &textlen);
    struct config *cfg = NULL;
    int n = 0;

    if (fp == NULL) {
        snprintf(err, errlen, "out of memory\n");
        return NULL;
    }
    /* [global] first, then the one service: the parser sees a file. */
    fprintf(fp, "[global]\n");
    origins[++n] = "command line";
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            fprintf(fp, "[" CONFIG_ARGS_SERVICE "]\n");
            origins[++n] = "command line";
        }
        for (int i = 0; i < nargs; i++) {
            if ((config_key_find(args[i].key, true) >= 0) != (pass == 0)) {
                continue;
            }
            if (add_line(fp, origins, &n, args[i].origin, args[i].key,
                         args[i].value) < 0) {
                snprintf(err, errlen, "%s: value must be one line\n",
                         args[i].origin);
                fclose(fp);
                free(text);
                return NULL;
            }
        }
    }
    if (fflush(fp) == 0 && fseek(fp, 0, SEEK_SET) == 0) {
        cfg = load_stream("command line", fp, origins, n + 1, true, err,
                          errlen);
    }
    fclose(fp);
    free(text);
    return cfg;
}
