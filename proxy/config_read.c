/*
 * config_read.c: from the file's lines to calls of config_set_key().
 *
 * inih is fed through our own line reader, which counts lines (the library
 * does not report them), strips leading blanks (so indented keys, as in
 * stunnel files, are plain keys and never inih "continuation lines"),
 * refuses over-long lines instead of letting them be cut silently, and
 * follows include = DIR into the files of DIR (segments remember which
 * file each line number is in).  The key handler finds each key in the
 * table (config_keys), refuses keys set twice, and sends keys that are
 * not ours to stunnel.c, which translates stunnel's spelling; what they
 * became is kept in cfg->notes.  Service keys before any section are
 * stunnel's service defaults, replayed into every section.  Unknown keys
 * get a "did you mean".  What a value means is config.c's; validation of
 * the whole is config_check.c's.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_parse.h"
#include "stunnel.h"

#define INCLUDE_FILES 256           /* files read from one directory */

/* ------------------------------------------------------------ inih glue */

static struct service_config *
section_new(struct config_parse *ps, const char *name)
{
    struct service_config *sc = calloc(1, sizeof(*sc));

    if (sc == NULL || (sc->name = strdup(name)) == NULL) {
        free(sc);
        return NULL;
    }
    sc->section_line = ps->header_line;
    sc->listen_mode = -1;
    sc->listen_uid = -1;
    sc->listen_gid = -1;
    if (ps->tail == NULL) {
        ps->cfg->services = sc;
    } else {
        ps->tail->next = sc;
    }
    ps->tail = sc;
    ps->cfg->nservices++;
    return sc;
}

static struct service_config *
service_find(struct config *cfg, const char *name)
{
    for (struct service_config *sc = cfg->services; sc; sc = sc->next) {
        if (strcmp(sc->name, name) == 0) {
            return sc;
        }
    }
    return NULL;
}

/* A key in [global] that is none of ours: the nearest one, or the list. */
static void
unknown_global(struct config_parse *ps, const char *name)
{
    const char *names[GK_COUNT];
    const char *near;
    char known[512] = "";

    for (int i = 0; i < GK_COUNT; i++) {
        names[i] = config_keys[i].name;
        snprintf(known + strlen(known), sizeof(known) - strlen(known),
                 "%s%s", i ? ", " : "", names[i]);
    }
    near = config_suggest(name, names, GK_COUNT);
    if (near != NULL) {
        config_perr(ps, ps->lineno, "%s: unknown key in [global] (did you "
                    "mean %s?)", name, near);
    } else if (config_is_key(name)) {
        config_perr(ps, ps->lineno, "%s: unknown key in [global] (a "
                    "service key: put it in a [section] of its own)", name);
    } else {
        config_perr(ps, ps->lineno, "%s: unknown key in [global] (known: "
                    "%s)", name, known);
    }
}

/* global_key(ps, name, value): a key in [global], or a stunnel global
 * option that became one.  Always 1 (an error is reported, not fatal). */
static int
global_key(struct config_parse *ps, const char *name, const char *value)
{
    struct config *cfg = ps->cfg;
    int k = config_key_find(name, true);

    if (k < 0) {
        unknown_global(ps, name);
        return 1;
    }
    if (cfg->global_line[k] != 0) {
        config_perr(ps, ps->lineno, "%s: set twice in [global]", name);
        return 1;
    }
    cfg->global_line[k] = ps->lineno;
    (void)config_set_key(ps, cfg, k, value, ps->lineno);
    return 1;
}

/* service_key(ps, sc, name, value): one of our keys.  1 when it was ours
 * (set, or an error reported), -1 when name is not a key of ours. */
static int
service_key(struct config_parse *ps, struct service_config *sc,
            const char *name, const char *value)
{
    int i = config_key_find(name, false);
    int k = i - GK_COUNT;       /* its enum service_key */

    if (i < 0) {
        return -1;
    }
    if (sc->key_line[k] != 0 && ps->from_default[k] && ps->replaying == 0) {
        ps->from_default[k] = false;    /* the section's own wins */
    } else if (sc->key_line[k] != 0) {
        char at[PATH_MAX + 16];

        config_where(ps->cfg, sc->key_line[k], at, sizeof(at));
        config_perr(ps, ps->lineno, "%s: set twice in [%s] (first on line "
                    "%s)", name, sc->name, strrchr(at, ':') + 1);
        return 1;
    }
    sc->key_line[k] = ps->lineno;
    (void)config_set_key(ps, sc, i, value, ps->lineno);
    return 1;
}

#define SUGGEST_MAX 160     /* candidates for "did you mean" */

/* Which keys a "did you mean" may offer. */
enum suggest_from {
    SUGGEST_SERVICE = 1,        /* our service keys */
    SUGGEST_STUNNEL_SERVICE = 2,    /* stunnel's service keys */
    SUGGEST_STUNNEL_GLOBAL = 4  /* stunnel's global keys */
};

/* The known key nearest to name among those of from, or NULL. */
static const char *
suggest_key(const char *name, int from)
{
    const char *cand[SUGGEST_MAX];
    const char *k;
    int n = 0;

    for (int i = GK_COUNT; (from & SUGGEST_SERVICE) && i < CONFIG_NKEYS;
         i++) {
        cand[n++] = config_keys[i].name;
    }
    for (int i = 0; (from & SUGGEST_STUNNEL_SERVICE) && n < SUGGEST_MAX &&
                    (k = stunnel_service_key(i)) != NULL; i++) {
        cand[n++] = k;
    }
    for (int i = 0; (from & SUGGEST_STUNNEL_GLOBAL) && n < SUGGEST_MAX &&
                    (k = stunnel_global_key(i)) != NULL; i++) {
        cand[n++] = k;
    }
    return config_suggest(name, cand, n);
}

/* A section name that looks like a misspelt [global]. */
bool
config_near_global(const char *section)
{
    static const char *const g[] = {CONFIG_GLOBAL_SECTION};

    return config_suggest(section, g, 1) != NULL ||
           strcasecmp(section, CONFIG_GLOBAL_SECTION) == 0;
}

/* stunnel.c's way back: a note or an error on the current line. */
static void PRINTF_LIKE(2, 0)
stunnel_note_cb(void *arg, const char *fmt, va_list ap)
{
    struct config_parse *ps = arg;

    config_vnote(ps, ps->lineno, fmt, ap);
}

static void PRINTF_LIKE(2, 0)
stunnel_error_cb(void *arg, const char *fmt, va_list ap)
{
    struct config_parse *ps = arg;

    config_vperr(ps, ps->lineno, fmt, ap);
}

/* value names uid or gid 0 (a name, or the number). */
static bool
names_root(const char *value, bool group)
{
    struct passwd *pw;
    struct group *gr;

    if (strcmp(value, "0") == 0) {
        return true;
    }
    if (group) {
        gr = getgrnam(value);
        return gr != NULL && gr->gr_gid == 0;
    }
    pw = getpwnam(value);
    return pw != NULL && pw->pw_uid == 0;
}

/* This process may create (or replace) the file at path. */
static bool
can_create(const char *path)
{
    char dir[PATH_MAX];

    if (access(path, W_OK) == 0) {
        return true;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    return errno == ENOENT && access(dirname(dir), W_OK) == 0;
}

/*
 * A stunnel global key became our [global] key.  Started as someone else
 * than root (as the shipped unit runs it), the guide's setuid = root,
 * setgid = root and pid = /var/run/stunnel.pid cannot be honoured, and
 * need not be: the process already runs unprivileged, and systemd
 * tracks it without a pid file.  They are noted and dropped there; our
 * own user, group and pid_file keep refusing.
 */
static int
stunnel_global_cb(void *arg, const char *key, const char *value)
{
    struct config_parse *ps = arg;
    bool is_group = strcmp(key, "group") == 0;

    if (geteuid() != 0 && (strcmp(key, "user") == 0 || is_group) &&
        names_root(value, is_group)) {
        config_pnote(ps, ps->lineno, "%s = %s: not started as root (uid %u): "
              "ignored, the process stays uid %u gid %u",
              is_group ? "setgid" : "setuid", value, (unsigned)geteuid(),
              (unsigned)geteuid(), (unsigned)getegid());
        return 1;
    }
    if (geteuid() != 0 && strcmp(key, "pid_file") == 0 &&
        !can_create(value)) {
        config_pnote(ps, ps->lineno, "pid = %s: uid %u cannot create it (%s): "
              "ignored, no pid file is written", value,
              (unsigned)geteuid(), strerror(errno));
        return 1;
    }
    return global_key(arg, key, value);
}

/* A stunnel service key became our key in the current section. */
static int
stunnel_service_cb(void *arg, const char *key, const char *value)
{
    struct config_parse *ps = arg;
    int r = service_key(ps, ps->cur, key, value);

    if (strcmp(key, "verify") == 0) {
        /* Only stunnel's verify = 2 sets chain this way. */
        ps->cur->stunnel_chain = strcmp(value, "chain") == 0;
    }
    return r;
}

/* One key in service section sc: ours, or stunnel's.  Always 1. */
static int
section_key(struct config_parse *ps, struct service_config *sc,
            const char *name, const char *value)
{
    struct stunnel_sink sink = {stunnel_note_cb, stunnel_error_cb,
                                stunnel_service_cb, ps};
    const char *near;

    /* stunnel's verify = 0..4 shares our key's name. */
    if (!(strcmp(name, "verify") == 0 && isdigit((unsigned char)value[0]))
        && service_key(ps, sc, name, value) >= 0) {
        return 1;
    }
    if (stunnel_service(&sink, sc->name, name, value) >= 0) {
        return 1;
    }
    near = suggest_key(name, SUGGEST_SERVICE | SUGGEST_STUNNEL_SERVICE);
    if (config_near_global(sc->name)) {
        config_perr(ps, ps->lineno, "%s: unknown key in [%s] (did you mean "
             "[global]?)", name, sc->name);
    } else if (near != NULL) {
        config_perr(ps, ps->lineno, "%s: unknown key in [%s] (did you mean "
                    "%s?)", name, sc->name, near);
    } else if (config_is_key(name)) {
        config_perr(ps, ps->lineno, "%s: unknown key in [%s] (a [global] key)",
             name, sc->name);
    } else {
        config_perr(ps, ps->lineno, "%s: unknown key in [%s]", name, sc->name);
    }
    return 1;
}

/* Is name a key a service section takes (ours or stunnel's)? */
static bool
is_service_key(const char *name)
{
    const char *k;

    if (config_key_find(name, false) >= 0) {
        return true;
    }
    for (int i = 0; (k = stunnel_service_key(i)) != NULL; i++) {
        if (strcasecmp(name, k) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * A service key before any section: stunnel's "service defaults".  It is
 * parsed once here, on a scratch section (its notes and errors carry its
 * own line), and kept to be applied to every section that does not set
 * it (apply_defaults_to()).
 */
static void
add_default(struct config_parse *ps, const char *name, const char *value)
{
    struct config_default *d;
    struct service_config *scratch;
    int errors = ps->nerrors;
    bool sets = false;

    if (ps->ndefaults == CONFIG_MAX_DEFAULTS) {
        config_perr(ps, ps->lineno, "%s: more than %d keys before the first "
             "section", name, CONFIG_MAX_DEFAULTS);
        return;
    }
    scratch = calloc(1, sizeof(*scratch));
    if (scratch == NULL || (scratch->name = strdup("every section")) ==
                               NULL) {
        free(scratch);
        config_perr(ps, ps->lineno, "%s: out of memory", name);
        return;
    }
    ps->cur = scratch;
    (void)section_key(ps, scratch, name, value);
    ps->cur = NULL;
    for (int k = 0; k < SK_COUNT; k++) {
        sets |= scratch->key_line[k] != 0;
    }
    config_service_free(scratch);
    if (ps->nerrors != errors) {
        return;
    }
    if (sets) {     /* an ignored option needs no second note */
        config_pnote(ps, ps->lineno, "%s = %s: before any section: a default "
                     "for every section that does not set it", name, value);
    }
    d = &ps->defaults[ps->ndefaults];
    d->name = strdup(name);
    d->value = strdup(value);
    d->line = ps->lineno;
    if (d->name == NULL || d->value == NULL) {
        free(d->name);
        free(d->value);
        config_perr(ps, ps->lineno, "%s: out of memory", name);
        return;
    }
    ps->ndefaults++;
}

/* The service defaults, into a new section sc (before its own keys, which
 * replace them). */
static void
apply_defaults_to(struct config_parse *ps, struct service_config *sc)
{
    int saved = ps->lineno;

    ps->replaying = ps->cfg->services == sc ? CONFIG_REPLAY_FIRST
                                            : CONFIG_REPLAY_QUIET;
    for (int i = 0; i < ps->ndefaults; i++) {
        ps->lineno = ps->defaults[i].line;
        (void)section_key(ps, sc, ps->defaults[i].name,
                          ps->defaults[i].value);
    }
    for (int k = 0; k < SK_COUNT; k++) {
        ps->from_default[k] = sc->key_line[k] != 0;
    }
    ps->replaying = 0;
    ps->lineno = saved;
}

/* A key before any section: a stunnel global option, or a default. */
static int
top_key(struct config_parse *ps, const char *name, const char *value)
{
    struct stunnel_sink sink = {stunnel_note_cb, stunnel_error_cb,
                                stunnel_global_cb, ps};
    const char *near;

    if (value[0] == '\0') {
        config_perr(ps, ps->lineno, "%s: key outside of any [section] (and an "
             "empty value)", name);
        return 1;
    }
    if (stunnel_global(&sink, name, value) >= 0) {
        return 1;
    }
    if (strcmp(name, "listen") == 0 || strcasecmp(name, "accept") == 0) {
        config_perr(ps, ps->lineno, "%s: key outside of any [section] (each "
             "service listens on its own address)", name);
        return 1;
    }
    if (is_service_key(name)) {
        add_default(ps, name, value);
        return 1;
    }
    if (config_is_key(name)) {
        config_perr(ps, ps->lineno, "%s: key outside of any [section] (a "
                    "[global] key: put it under [global])", name);
        return 1;
    }
    near = suggest_key(name, SUGGEST_SERVICE | SUGGEST_STUNNEL_SERVICE |
                                 SUGGEST_STUNNEL_GLOBAL);
    if (near != NULL) {
        config_perr(ps, ps->lineno, "%s: key outside of any [section] (did "
                    "you mean %s?)", name, near);
    } else {
        config_perr(ps, ps->lineno, "%s: key outside of any [section]", name);
    }
    return 1;
}

static int
ini_key_cb(void *user, const char *section, const char *name,
            const char *value)
{
    struct config_parse *ps = user;

    if (section[0] == '\0') {
        /* stunnel's global options and service defaults. */
        return top_key(ps, name, value);
    }
    if (value[0] == '\0') {
        config_perr(ps, ps->lineno, "%s: empty value (remove the line to get "
                    "the default)", name);
        return 1;
    }
    if (strcmp(section, CONFIG_GLOBAL_SECTION) == 0) {
        return global_key(ps, name, value);
    }
    if (ps->cur == NULL || strcmp(ps->cur_section, section) != 0) {
        snprintf(ps->cur_section, sizeof(ps->cur_section), "%s", section);
        ps->cur = service_find(ps->cfg, section);
        if (ps->cur == NULL) {
            ps->cur = section_new(ps, section);
            if (ps->cur == NULL) {
                config_perr(ps, ps->lineno, "%s: out of memory", name);
                return 0;
            }
            apply_defaults_to(ps, ps->cur);
        }
    }
    return section_key(ps, ps->cur, name, value);
}

/*
 * include_dir(ps, dir): include = DIR, as stunnel reads it: the regular
 * files in DIR (symbolic links to them too), in alphabetical order of
 * their names, are read next, as if they stood in place of the line;
 * the section they start in is the one the include stands in.
 * Subdirectories are not read (noted), nor are other special files.
 */
static void
include_dir(struct config_parse *ps, const char *dir)
{
    struct config_frame *f;
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);

    if (n < 0) {
        config_perr(ps, ps->lineno, "include: cannot read the directory "
                    "%s: %s%s", dir, strerror(errno), errno == ENOTDIR
                        ? " (include names a directory; every file in it is "
                          "read)" : "");
        return;
    }
    if (ps->nframes > CONFIG_INCLUDE_DEPTH) {
        config_perr(ps, ps->lineno, "include: %s: includes nested deeper than "
                    "%d", dir, CONFIG_INCLUDE_DEPTH);
        n = -n;     /* free the entries only */
    }
    f = &ps->frames[ps->nframes];
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < (n < 0 ? -n : n); i++) {
        char path[PATH_MAX];
        struct stat st;
        const char *name = ents[i]->d_name;
        int w;

        if (n < 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            free(ents[i]);
            continue;
        }
        w = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (w < 0 || (size_t)w >= sizeof(path)) {
            config_perr(ps, ps->lineno, "include: %s/%s: name too long", dir,
                        name);
        } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            config_pnote(ps, ps->lineno, "include = %s: %s is a directory, "
                         "not read (only the files in %s are)", dir, name,
                         dir);
        } else if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
            config_pnote(ps, ps->lineno, "include = %s: %s is not a regular "
                         "file, not read", dir, name);
        } else if (f->nfiles == INCLUDE_FILES) {
            config_perr(ps, ps->lineno, "include: more than %d files in %s",
                 INCLUDE_FILES, dir);
        } else if (f->files == NULL &&
                   (f->files = calloc(INCLUDE_FILES, sizeof(char *))) ==
                       NULL) {
            config_perr(ps, ps->lineno, "include: out of memory");
        } else if ((f->files[f->nfiles] = strdup(path)) != NULL) {
            f->nfiles++;
        }
        free(ents[i]);
    }
    free(ents);
    if (n < 0) {
        return;
    }
    config_pnote(ps, ps->lineno, "include = %s: %d file%s read here, in "
          "alphabetical order", dir, f->nfiles, f->nfiles == 1 ? "" : "s");
    f->include_line = ps->lineno;
    ps->nframes++;
}

/* The next raw line of the config, from the innermost included file
 * that still has one (its frame in *from); NULL at the end. */
static char *
next_raw_line(struct config_parse *ps, char *line, int len,
              struct config_frame **from)
{
    while (ps->nframes > 0) {
        struct config_frame *f = &ps->frames[ps->nframes - 1];

        if (f->fp != NULL && fgets(line, len, f->fp) != NULL) {
            f->line++;
            *from = f;
            return line;
        }
        if (ps->nframes == 1) {
            return NULL;        /* the config itself is done */
        }
        if (f->fp != NULL) {
            fclose(f->fp);
            f->fp = NULL;
        }
        if (f->next < f->nfiles) {
            f->fp = fopen(f->files[f->next], "r");
            f->line = 0;
            f->id = ++ps->next_id;
            if (f->fp == NULL) {
                config_perr(ps, f->include_line, "include: cannot open %s: %s",
                     f->files[f->next], strerror(errno));
            }
            f->next++;
            continue;
        }
        for (int i = 0; i < f->nfiles; i++) {
            free(f->files[i]);
        }
        free(f->files);
        ps->nframes--;
    }
    return NULL;
}

/* Line number ps->lineno is line f->line of f's file: starts a new
 * segment when the file changed. */
static void
mark_segment(struct config_parse *ps, const struct config_frame *f)
{
    struct config *cfg = ps->cfg;
    struct config_segment *grown;
    const char *path = f == &ps->frames[0] ? ps->path
                                           : f->files[f->next - 1];

    if (f->id == ps->seg_id) {
        return;
    }
    grown = realloc(cfg->segments, ((size_t)cfg->nsegments + 1) *
                                       sizeof(*grown));
    if (grown == NULL) {
        return;
    }
    cfg->segments = grown;
    grown[cfg->nsegments].first = ps->lineno;
    grown[cfg->nsegments].offset = ps->lineno - f->line;
    grown[cfg->nsegments].path = strdup(path);
    if (grown[cfg->nsegments].path == NULL) {
        return;
    }
    cfg->nsegments++;
    ps->seg_id = f->id;
}

/* p (blanks stripped) is "include = DIR": DIR in dir. */
static bool
is_include(const char *p, char *dir, size_t dirlen)
{
    const char *v;
    size_t n;

    if (strncasecmp(p, "include", 7) != 0) {
        return false;
    }
    for (v = p + 7; *v == ' ' || *v == '\t'; v++) {
    }
    if (*v != '=') {
        return false;
    }
    for (v++; *v == ' ' || *v == '\t'; v++) {
    }
    n = strcspn(v, "\r\n");
    /* Values end at " ;", as inih cuts them. */
    for (size_t i = 1; i < n; i++) {
        if (v[i] == ';' && (v[i - 1] == ' ' || v[i - 1] == '\t')) {
            n = i;
            break;
        }
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    snprintf(dir, dirlen, "%.*s", (int)n, v);
    return true;
}

/*
 * The inih line reader: one line per call, counted, leading blanks
 * stripped, over-long lines reported rather than cut, include = DIR
 * followed into the files of DIR.
 */
static char *
ini_line_reader(char *str, int num, void *stream)
{
    struct config_parse *ps = stream;
    struct config_frame *from = NULL;
    char line[CONFIG_READ_LINE_MAX], dir[CONFIG_READ_LINE_MAX];
    char *p;
    size_t len;

    if (next_raw_line(ps, line, sizeof(line), &from) == NULL) {
        return NULL;
    }
    ps->lineno++;
    mark_segment(ps, from);
    len = strlen(line);
    if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
        int c;

        while ((c = fgetc(from->fp)) != EOF && c != '\n') {
            /* skip the rest of the over-long line */
        }
        config_perr(ps, ps->lineno, "line is longer than %d characters",
             CONFIG_READ_LINE_MAX - 2);
        str[0] = '\n';
        str[1] = '\0';
        return str;
    }
    for (p = line; *p == ' ' || *p == '\t'; p++) {
        /* strip leading blanks: no inih continuation lines */
    }
    len = strlen(p);
    if (len + 1 > (size_t)num) {
        config_perr(ps, ps->lineno, "line is longer than %d characters",
                    num - 2);
        str[0] = '\n';
        str[1] = '\0';
        return str;
    }
    if (ps->origins == NULL && is_include(p, dir, sizeof(dir))) {
        if (ps->no_include) {
            config_perr(ps, ps->lineno, "include: not read from a stream "
                        "(only a config file may include a directory)");
        } else {
            include_dir(ps, dir);
        }
        str[0] = '\n';     /* the files follow, not this line */
        str[1] = '\0';
        return str;
    }
    if (p[0] == '[') {
        char *close = strchr(p, ']');

        ps->header_line = ps->lineno;
        if (close != NULL) {
            *close = '\0';
            for (int i = 0; i < ps->nsections; i++) {
                if (strcmp(ps->sections[i], p + 1) == 0) {
                    config_perr(ps, ps->lineno, "[%s]: section appears twice",
                         p + 1);
                }
            }
            if (ps->nsections < CONFIG_MAX_SECTIONS) {
                ps->sections[ps->nsections++] = strdup(p + 1);
            }
            *close = ']';
        }
    }
    memcpy(str, p, len + 1);
    return str;
}
int
config_read(struct config_parse *ps)
{
    int r = ini_parse_stream(ini_line_reader, ps, ini_key_cb, ps);

    while (ps->nframes > 1) {       /* inih stopped inside an include */
        struct config_frame *f = &ps->frames[--ps->nframes];

        if (f->fp != NULL) {
            fclose(f->fp);
        }
        for (int i = 0; i < f->nfiles; i++) {
            free(f->files[i]);
        }
        free(f->files);
    }
    return r;
}

void
config_read_done(struct config_parse *ps)
{
    for (int i = 0; i < ps->nsections; i++) {
        free(ps->sections[i]);
    }
    for (int i = 0; i < ps->ndefaults; i++) {
        free(ps->defaults[i].name);
        free(ps->defaults[i].value);
    }
    ps->nsections = 0;
    ps->ndefaults = 0;
}
