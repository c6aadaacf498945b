/*
 * config_value.c: the pure value parsers of the config: durations, sizes,
 * booleans, whole numbers, host:port, IP literals, ${NAME} expansion, and
 * the "did you mean" distance.  No state, no I/O beyond getenv(); what a
 * key means and where its value goes is config.c's (the key table).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_parse.h"

/* Edit distance of a and b, ignoring case, a swap of two neighbours
 * counting one (optimal string alignment); stops counting at limit. */
static int
edit_distance(const char *a, const char *b, int limit)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    int d[3][64];               /* rows i-2, i-1, i (mod 3) */

    if (la >= 63 || lb >= 63 || abs(la - lb) > limit) {
        return limit + 1;
    }
    for (int j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (int i = 1; i <= la; i++) {
        int *cur = d[i % 3], *up = d[(i - 1) % 3], *up2 = d[(i + 1) % 3];

        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) !=
                       tolower((unsigned char)b[j - 1]);
            int v = up[j - 1] + cost;

            v = up[j] + 1 < v ? up[j] + 1 : v;
            v = cur[j - 1] + 1 < v ? cur[j - 1] + 1 : v;
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) ==
                    tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) ==
                    tolower((unsigned char)b[j - 1]) &&
                up2[j - 2] + 1 < v) {
                v = up2[j - 2] + 1;
            }
            cur[j] = v;
        }
    }
    return d[la % 3][lb];
}

#define SUGGEST_EDITS 2         /* "did you mean": at most this many */
#define SUGGEST_PREFIX 4        /* or a shared prefix this long */

const char *
config_suggest(const char *word, const char *const *candidates, int n)
{
    const char *best = NULL;
    int best_d = INT_MAX;

    for (int i = 0; i < n; i++) {
        size_t lw = strlen(word), lc = strlen(candidates[i]);
        size_t shorter = lw < lc ? lw : lc;
        int dist = edit_distance(word, candidates[i], 64);

        if (strcasecmp(word, candidates[i]) == 0) {
            continue;
        }
        /* "auth_password" for auth_password_file: a prefix. */
        if (dist > SUGGEST_EDITS &&
            (shorter < SUGGEST_PREFIX ||
             strncasecmp(word, candidates[i], shorter) != 0)) {
            continue;
        }
        if (dist < best_d) {
            best = candidates[i];
            best_d = dist;
        }
    }
    return best;
}

/* -------------------------------------------------------- value parsers */

int
config_parse_duration(const char *s, double *out)
{
    char *end;
    double v, mult = 1.0;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0) {
        return -1;
    }
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0) {
        mult = 1.0;
    } else if (strcmp(end, "ms") == 0) {
        mult = 0.001;
    } else if (strcmp(end, "us") == 0) {
        mult = 0.000001;
    } else if (strcmp(end, "m") == 0) {
        mult = 60.0;
    } else if (strcmp(end, "h") == 0) {
        mult = 3600.0;
    } else {
        return -1;
    }
    *out = v * mult;
    return 0;
}

int
config_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v, mult = 1;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    if (*end == 'k' || *end == 'K') {
        mult = 1024ULL;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        mult = 1024ULL * 1024;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        mult = 1024ULL * 1024 * 1024;
        end++;
    }
    if (*end == 'b' || *end == 'B') {
        end++;
    }
    if (*end != '\0' || v > (unsigned long long)SIZE_MAX / mult) {
        return -1;
    }
    *out = (size_t)(v * mult);
    return 0;
}

int
config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int
config_parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (end == s || *end != '\0' || errno != 0) ? -1 : 0;
}

bool
config_is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int
config_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon, *hs;
    size_t hl;
    long p;
    char *end;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':') {
            return -1;
        }
        hs = s + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
        /* A bracketed host must be an IPv6 literal. */
        if (hl == 0 || hl >= hostlen) {
            return -1;
        }
        memcpy(host, hs, hl);
        host[hl] = '\0';
        if (!config_is_ip_literal(host) || strchr(host, ':') == NULL) {
            return -1;
        }
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            colon = s - 1;      /* port only */
            hl = 0;
        } else {
            hl = (size_t)(colon - s);
            if (memchr(s, ':', hl) != NULL) {
                return -1;      /* bare IPv6 needs brackets */
            }
        }
        if (hl >= hostlen) {
            return -1;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    if (colon[1] < '0' || colon[1] > '9') {
        return -1;
    }
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || p < 0 || p > 65535) {
        return -1;
    }
    *port = (int)p;
    return 0;
}


/* ${NAME}: for systemd's ${CREDENTIALS_DIRECTORY}, or a container's
 * secrets path. */
int
config_expand_env(const char *in, char *out, size_t outlen, char *missing,
           size_t missinglen)
{
    size_t o = 0;

    missing[0] = '\0';
    while (*in != '\0') {
        const char *add = in;
        size_t n = 1;

        if (in[0] == '$' && in[1] == '{') {
            const char *close = strchr(in + 2, '}');
            char name[128];

            if (close == NULL || (size_t)(close - in - 2) >= sizeof(name)) {
                return -2;
            }
            memcpy(name, in + 2, (size_t)(close - in - 2));
            name[close - in - 2] = '\0';
            add = getenv(name);
            if (add == NULL) {
                snprintf(missing, missinglen, "%s", name);
                return -1;
            }
            n = strlen(add);
            in = close + 1;
        } else {
            in++;
        }
        if (o + n + 1 > outlen) {
            snprintf(missing, missinglen, "(too long)");
            return -1;
        }
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}
