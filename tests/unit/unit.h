/*
 * unit.h: what every Check suite's main() does, written once.
 */
#ifndef REDSLEEVE_UNIT_H
#define REDSLEEVE_UNIT_H

#include <check.h>
#include <stdlib.h>

/* unit_run(s): runs suite s, prints Check's summary, returns exit status. */
static inline int
unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
