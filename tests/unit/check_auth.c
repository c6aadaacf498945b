/*
 * check_auth: the AUTH command encoding and the judgement of its reply,
 * including every split of the reply across reads.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "unit.h"

START_TEST(encodes_password_only)
{
    struct auth_cmd ac;
    static const char want[] = "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n";

    ck_assert_int_eq(auth_cmd_build(&ac, NULL, "pw"), 0);
    ck_assert_uint_eq(ac.len, strlen(want));
    ck_assert(memcmp(ac.buf, want, ac.len) == 0);
    auth_cmd_clear(&ac);
    ck_assert_ptr_null(ac.buf);
    ck_assert_uint_eq(ac.len, 0);
    auth_cmd_clear(&ac);    /* twice is safe */
}
END_TEST

START_TEST(encodes_user_and_password)
{
    struct auth_cmd ac;
    static const char want[] =
        "*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$11\r\npa ss\r\nword\r\n";

    /* Binary-safe: blanks and CRLF inside the password are just bytes. */
    ck_assert_int_eq(auth_cmd_build(&ac, "app", "pa ss\r\nword"), 0);
    ck_assert_uint_eq(ac.len, strlen(want));
    ck_assert(memcmp(ac.buf, want, ac.len) == 0);
    auth_cmd_clear(&ac);
}
END_TEST

START_TEST(no_password_no_command)
{
    struct auth_cmd ac;

    ck_assert_int_eq(auth_cmd_build(&ac, NULL, NULL), 0);
    ck_assert_uint_eq(ac.len, 0);
    auth_cmd_clear(&ac);
}
END_TEST

START_TEST(ok_reply_at_every_split)
{
    static const char ok[] = "+OK\r\n";
    char line[64];

    for (size_t n = 0; n < strlen(ok); n++) {
        ck_assert_int_eq(auth_reply_check(ok, n, line, sizeof(line)),
                         AUTH_REPLY_PARTIAL);
    }
    ck_assert_int_eq(auth_reply_check(ok, strlen(ok), line, sizeof(line)),
                     AUTH_REPLY_OK);
}
END_TEST

START_TEST(error_reply_is_quoted)
{
    static const char e[] = "-WRONGPASS invalid username-password pair\r\n";
    char line[128];

    ck_assert_int_eq(auth_reply_check(e, strlen(e), line, sizeof(line)),
                     AUTH_REPLY_ERROR);
    ck_assert_str_eq(line, "WRONGPASS invalid username-password pair");
}
END_TEST

START_TEST(anything_else_is_an_error)
{
    static const char *const bad[] = {
        "+OK\r\n+OK\r\n",   /* two replies to one command */
        "$2\r\nOK\r\n",     /* not a status reply */
        "+OKAY\r\n",
        "+OK\n",
        ":1\r\n",
    };
    char line[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(auth_reply_check(bad[i], strlen(bad[i]), line,
                                          sizeof(line)), AUTH_REPLY_ERROR);
    }
}
END_TEST

START_TEST(endless_line_is_an_error)
{
    char buf[600];
    char line[128];

    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(auth_reply_check(buf, sizeof(buf), line, sizeof(line)),
                     AUTH_REPLY_ERROR);
    ck_assert_int_eq(auth_reply_check(buf, 100, line, sizeof(line)),
                     AUTH_REPLY_PARTIAL);
}
END_TEST

START_TEST(unprintable_bytes_escaped)
{
    static const char e[] = "-ERR \x01\x7f bad\r\n";
    char line[128];

    ck_assert_int_eq(auth_reply_check(e, strlen(e), line, sizeof(line)),
                     AUTH_REPLY_ERROR);
    ck_assert_str_eq(line, "ERR \\x01\\x7f bad");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");

    tcase_add_test(tc, encodes_password_only);
    tcase_add_test(tc, encodes_user_and_password);
    tcase_add_test(tc, no_password_no_command);
    tcase_add_test(tc, ok_reply_at_every_split);
    tcase_add_test(tc, error_reply_is_quoted);
    tcase_add_test(tc, anything_else_is_an_error);
    tcase_add_test(tc, endless_line_is_an_error);
    tcase_add_test(tc, unprintable_bytes_escaped);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
