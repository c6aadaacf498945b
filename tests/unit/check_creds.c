/*
 * check_creds: the container endpoint's JSON answer read into
 * credentials, and what is refused; the cell's copy and expiry.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "unit.h"

static char ak[CREDS_FIELD_MAX], sk[CREDS_FIELD_MAX], tok[CREDS_FIELD_MAX];

static int
parse(const char *json, time_t *exp)
{
    return creds_parse(json, strlen(json), ak, sk, tok, sizeof(ak), exp);
}

START_TEST(ecs_answer)
{
    time_t exp;

    ck_assert_int_eq(parse("{\"RoleArn\": \"arn:aws:iam::1:role/r\",\n"
                           " \"AccessKeyId\": \"ASIAEXAMPLE\",\n"
                           " \"SecretAccessKey\": \"wJal\\/rX\\u0055tn\",\n"
                           " \"Token\": \"IQoJb3JpZ2luX2Vj\",\n"
                           " \"Expiration\": \"2026-12-02T19:00:00Z\","
                           " \"Extra\": {\"a\": [1, {\"b\": \"}\"}], \"n\": "
                           "null}, \"Count\": 3}", &exp), 0);
    ck_assert_str_eq(ak, "ASIAEXAMPLE");
    ck_assert_str_eq(sk, "wJal/rXUtn");
    ck_assert_str_eq(tok, "IQoJb3JpZ2luX2Vj");
    ck_assert_int_eq((long long)exp, 1796238000LL);
}
END_TEST

START_TEST(fractional_expiration_and_no_token)
{
    time_t exp;

    ck_assert_int_eq(parse("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                           "\"Expiration\":\"2026-12-02T19:00:00.123Z\"}",
                           &exp), 0);
    ck_assert_str_eq(tok, "");
    ck_assert_int_eq((long long)exp, 1796238000LL);
}
END_TEST

static const char *const refused[] = {
    "",
    "[]",
    "{\"AccessKeyId\":\"A\"}",                              /* no secret */
    "{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\"}",     /* empty key */
    "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":"
    "\"tomorrow\"}",
    "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"",     /* cut short */
    "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\\u00e9\"}",  /* not ASCII */
    "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\\q\"}", /* bad escape */
    "{\"AccessKeyId\":\"A\" \"SecretAccessKey\":\"S\"}",    /* no comma */
    "{\"AccessKeyId\":7,\"SecretAccessKey\":\"S\"}",        /* not a string */
};

START_TEST(bad_answers_refused)
{
    time_t exp;

    ck_assert_msg(parse(refused[_i], &exp) == -1, "accepted: %s",
                  refused[_i]);
}
END_TEST

START_TEST(too_long_refused)
{
    static char json[3 * CREDS_FIELD_MAX];
    time_t exp;
    int n = snprintf(json, sizeof(json),
                     "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"");

    memset(json + n, 'x', CREDS_FIELD_MAX);
    strcpy(json + n + CREDS_FIELD_MAX, "\"}");
    ck_assert_int_eq(parse(json, &exp), -1);
}
END_TEST

START_TEST(cell_copy_and_expiry)
{
    struct creds_cell c;
    char a[64], s[64], t[64];
    time_t exp;
    uint64_t failures;

    creds_cell_init(&c);
    ck_assert_int_eq(creds_cell_copy(&c, 100, a, s, t, sizeof(a)), -1);
    ck_assert_ptr_nonnull(strstr(a, "no AWS credentials yet"));
    c.access_key = strdup("AK");
    c.secret_key = strdup("SK");
    c.expiration = 200;
    ck_assert_int_eq(creds_cell_copy(&c, 100, a, s, t, sizeof(a)), 0);
    ck_assert_str_eq(a, "AK");
    ck_assert_str_eq(s, "SK");
    ck_assert_str_eq(t, "");
    ck_assert_int_eq(creds_cell_copy(&c, 200, a, s, t, sizeof(a)), -1);
    ck_assert_ptr_nonnull(strstr(a, "expired"));
    creds_cell_state(&c, &exp, &failures);
    ck_assert_int_eq((long long)exp, 200);
    ck_assert_int_eq((long long)failures, 0);
    creds_cell_clear(&c);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("creds");
    TCase *tc = tcase_create("creds");

    tcase_add_test(tc, ecs_answer);
    tcase_add_test(tc, fractional_expiration_and_no_token);
    tcase_add_loop_test(tc, bad_answers_refused, 0,
                        (int)(sizeof(refused) / sizeof(refused[0])));
    tcase_add_test(tc, too_long_refused);
    tcase_add_test(tc, cell_copy_and_expiry);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
