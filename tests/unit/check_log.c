/*
 * check_log: escaping of untrusted bytes and level names.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "unit.h"

START_TEST(printable_kept)
{
    char out[64];

    ck_assert_str_eq(log_escape("hello world", 11, out, sizeof(out)),
                     "hello world");
}
END_TEST

START_TEST(control_bytes_escaped)
{
    char out[64];

    ck_assert_str_eq(log_escape("a\r\nb\\", 5, out, sizeof(out)),
                     "a\\x0d\\x0ab\\x5c");
    ck_assert_str_eq(log_escape("\0\xff", 2, out, sizeof(out)),
                     "\\x00\\xff");
}
END_TEST

START_TEST(always_terminated_and_bounded)
{
    static const char in[] = "0123456789\r\n0123456789\r\n0123456789";
    char out[48];

    for (size_t n = 1; n <= 40; n++) {
        memset(out, 'Z', sizeof(out));
        log_escape(in, sizeof(in) - 1, out, n);
        ck_assert_msg(memchr(out, '\0', n) != NULL, "outlen %zu", n);
        ck_assert_int_eq(out[n], 'Z');  /* nothing written past outlen */
        if (n > 4 && strlen(out) < sizeof(in) - 1) {
            ck_assert_msg(strstr(out, "...") != NULL, "outlen %zu: %s", n,
                          out);
        }
    }
}
END_TEST

START_TEST(levels_round_trip)
{
    enum log_level l;

    for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++) {
        ck_assert_int_eq(log_level_parse(log_level_name(i), &l), 0);
        ck_assert_int_eq(l, i);
    }
    ck_assert_int_eq(log_level_parse("verbose", &l), -1);
    ck_assert_int_eq(log_level_parse("", &l), -1);
    ck_assert_int_eq(log_level_parse("INFO", &l), -1);
}
END_TEST

START_TEST(level_gate)
{
    log_set_level(LOG_LEVEL_WARN);
    ck_assert(log_enabled(LOG_LEVEL_ERROR));
    ck_assert(log_enabled(LOG_LEVEL_WARN));
    ck_assert(!log_enabled(LOG_LEVEL_INFO));
    ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
    log_set_level(LOG_LEVEL_INFO);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");

    tcase_add_test(tc, printable_kept);
    tcase_add_test(tc, control_bytes_escaped);
    tcase_add_test(tc, always_terminated_and_bounded);
    tcase_add_test(tc, levels_round_trip);
    tcase_add_test(tc, level_gate);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
