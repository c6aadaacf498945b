/*
 * iam_cli.h: `redsleeve --iam-token ...`: prints one ElastiCache IAM
 * token, for operators checking access by hand.
 */
#ifndef REDSLEEVE_IAM_CLI_H
#define REDSLEEVE_IAM_CLI_H

#include <stdbool.h>

/* iam_cli_wanted(argc, argv): --iam-token is among the arguments. */
bool iam_cli_wanted(int argc, char **argv);

/*
 * iam_cli_main(argc, argv): parses --iam-user-id, --iam-cache-name,
 * --iam-region, --iam-serverless, --aws-profile, --at; prints the token on
 * stdout.  Returns the exit code: 0, 1 (no credentials, no region, a
 * signing failure: said on stderr, never a secret), 2 (misuse).
 */
int iam_cli_main(int argc, char **argv);

#endif
