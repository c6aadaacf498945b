/*
 * fuzz_config: libFuzzer target for the configuration parser (config.c:
 * the line reader, the INI handler, ${VAR} expansion, stunnel keys, every
 * key's parser and the validation).
 *
 * The input is a configuration file.  Invariants: the parser returns a
 * config or an error, never both and never neither; every error line names
 * the file ("fuzz.ini:" or "fuzz.ini:LINE:") and ends with a newline; an
 * accepted config has at least one service, each with listen and
 * upstream, and its digest can be taken; everything is freed (ASan's leak
 * check runs at exit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define ERR_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char err[ERR_MAX];
    struct config *cfg;
    FILE *fp;

    if (size == 0) {
        return 0;
    }
    fp = fmemopen((void *)data, size, "r");
    if (fp == NULL) {
        return 0;
    }
    err[0] = '\0';
    cfg = config_load_stream("fuzz.ini", fp, err, sizeof(err));
    fclose(fp);
    if (cfg == NULL) {
        size_t n = strlen(err);

        if (n == 0 || strncmp(err, "fuzz.ini", 8) != 0 ||
            (n < sizeof(err) - 1 && err[n - 1] != '\n')) {
            abort();    /* an error must be said, with the file */
        }
        return 0;
    }
    if (err[0] != '\0' || cfg->services == NULL || cfg->nservices < 1) {
        abort();
    }
    for (const struct service_config *sc = cfg->services; sc; sc = sc->next) {
        unsigned char d[CONFIG_DIGEST_LEN];

        if (sc->listen == NULL || sc->upstream == NULL ||
            sc->upstream_host == NULL || sc->name == NULL ||
            config_service_digest(sc, d) < 0) {
            abort();
        }
    }
    config_free(cfg);
    return 0;
}
