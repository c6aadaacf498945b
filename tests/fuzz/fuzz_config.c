/*
 * fuzz_config: libFuzzer target for the configuration parser (config.c:
 * the line reader, the INI handler, ${VAR} expansion, stunnel keys, every
 * key's parser and the validation).
 *
 * The input is a configuration file.  Its length picks the file's name:
 * "fuzz.ini" for an even length, else a path of up to PATH_MAX bytes, so
 * that every message that quotes the file is tried with a long path.  Invariants: the
 * parser returns a config or an error, never both and never neither; every
 * error line names the file ("NAME:" or "NAME:LINE:") and ends with a
 * newline (unless the error buffer is full); an
 * accepted config has at least one service, each with listen and
 * upstream, and its digest can be taken; everything is freed (ASan's leak
 * check runs at exit).
 */
#include <limits.h>
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
    static char name[PATH_MAX];
    struct config *cfg;
    size_t namelen;
    FILE *fp;

    if (size == 0) {
        return 0;
    }
    if (size & 1) {
        /* /ddd.../ddd.../fuzz.ini, up to PATH_MAX - 1 bytes in all */
        namelen = size * 37 % (sizeof(name) - 10);
        for (size_t i = 0; i < namelen; i++) {
            name[i] = i % 64 == 0 ? '/' : 'd';
        }
        memcpy(name + namelen, "/fuzz.ini", 10);
    } else {
        memcpy(name, "fuzz.ini", 9);
    }
    namelen = strlen(name);
    fp = fmemopen((void *)data, size, "r");
    if (fp == NULL) {
        return 0;
    }
    err[0] = '\0';
    cfg = config_load_stream(name, fp, err, sizeof(err));
    fclose(fp);
    if (cfg == NULL) {
        size_t n = strlen(err);

        if (n == 0 || strncmp(err, name, n < namelen ? n : namelen) != 0 ||
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
