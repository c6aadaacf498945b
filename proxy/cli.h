/*
 * cli.h: the command line and the REDSLEEVE_* environment.
 *
 * cli.c reads argv (-c FILE, -t, -V, -h, and one --flag per config key)
 * and maps flags and REDSLEEVE_* variables onto the same key table as the
 * INI file (config.h), so that sidecar mode is a config like any other.
 * It starts nothing and prints only the usage text and misuse; main.c
 * decides what to run.
 */
#ifndef REDSLEEVE_CLI_H
#define REDSLEEVE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define CLI_NKEYS CONFIG_NKEYS      /* one flag per key of the table */

/* What the command line asks for. */
enum cli_action {
    CLI_RUN = 0,        /* run (or check the config: cli.check) */
    CLI_HELP,           /* -h: print cli_usage(stdout), exit 0 */
    CLI_VERSION,        /* -V: print the versions, exit 0 */
    CLI_BAD             /* misuse, already told on stderr: exit 2 */
};

/* The parsed command line.  It lives as long as the process: reload
 * builds the sidecar config again from flags. */
struct cli {
    const char *file;               /* ref: argv, -c FILE; NULL = sidecar
                                       mode (flags and/or environment) */
    bool check;                     /* -t, --check-config */
    struct config_arg flags[CLI_NKEYS]; /* settings flags in argv order;
                                       ref: argv and flagnames */
    int nflags;                     /* entries in flags */
    char optnames[CLI_NKEYS][40];   /* getopt's names: "verify-host" */
    char flagnames[CLI_NKEYS][44];  /* origins in messages:
                                       "--verify-host" */
};

/*
 * cli_parse(cli, argc, argv): fills cli from argv (getopt_long; call it
 * once).  Without -c and without flags, sidecar mode needs at least one
 * REDSLEEVE_* variable naming a key (REDSLEEVE_ALLOW_ROOT alone does not
 * count).  Returns what to do; CLI_BAD has printed why and the usage
 * on stderr.
 */
enum cli_action cli_parse(struct cli *cli, int argc, char **argv);

/* cli_usage(out): the usage text. */
void cli_usage(FILE *out);

/*
 * cli_sidecar_config(flags, nflags, err, errlen): the config of settings
 * flags and REDSLEEVE_* variables (a flag wins over its variable), loaded
 * by config_load_args().  Returns a new config owned by the caller, or
 * NULL with the problems in err.
 */
struct config *cli_sidecar_config(const struct config_arg *flags,
                                  int nflags, char *err, size_t errlen);

#endif
