/*
 * check_sigv4: the ElastiCache IAM token against AWS's published sample
 * (2025-01-01T00:00:00Z, my-replication-group-id, my-user-id, eu-west-1,
 * fakeAccessKeyId / fakeSecretKey, with and without fakeSessionToken),
 * and the generic query-signing vectors get-vanilla and
 * get-vanilla-with-session-token of the aws-c-auth test suite (AWS's
 * SigV4 test suite: AKIDEXAMPLE, us-east-1, service "service",
 * 2015-08-30T12:36:00Z, X-Amz-Expires 3600).
 */
#include <check.h>
#include <string.h>

#include "sigv4.h"
#include "unit.h"

#define AT_2025 ((time_t)1735689600)    /* 2025-01-01T00:00:00Z */

static const struct sigv4_creds fake = {"fakeAccessKeyId", "fakeSecretKey",
                                        NULL};

START_TEST(published_sample)
{
    char tok[2048];

    ck_assert_int_eq(sigv4_elasticache_token("my-replication-group-id",
                                             "my-user-id", "eu-west-1", false,
                                             AT_2025, &fake, tok,
                                             sizeof(tok)), 0);
    ck_assert_str_eq(tok,
        "my-replication-group-id/?Action=connect&User=my-user-id"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=fakeAccessKeyId%2F20250101%2Feu-west-1"
        "%2Felasticache%2Faws4_request"
        "&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900"
        "&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature="
        "9e361603d85874bce06114c6644725ed113e3b11ae6fa92efdf10c6bcf5de8d7");
}
END_TEST

START_TEST(published_sample_with_session_token)
{
    struct sigv4_creds c = fake;
    char tok[2048];
    const char *sig;

    c.session_token = "fakeSessionToken";
    ck_assert_int_eq(sigv4_elasticache_token("my-replication-group-id",
                                             "my-user-id", "eu-west-1", false,
                                             AT_2025, &c, tok, sizeof(tok)),
                     0);
    /* inside the signed query, in its sorted place */
    ck_assert_ptr_nonnull(strstr(tok, "&X-Amz-Expires=900"
                                      "&X-Amz-Security-Token=fakeSessionToken"
                                      "&X-Amz-SignedHeaders=host&"));
    sig = strstr(tok, "&X-Amz-Signature=");
    ck_assert_ptr_nonnull(sig);
    ck_assert_str_eq(sig + strlen("&X-Amz-Signature="),
        "bbce2bd61bd78461297ecb92e7001ddbeab2d85906c3cbedad6c9b81fb3466dc");
}
END_TEST

#define AT_2015 ((time_t)1440938160)    /* 2015-08-30T12:36:00Z */

static const struct sigv4_creds akid = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

START_TEST(suite_get_vanilla)
{
    char out[2048];

    ck_assert_int_eq(sigv4_presign("example.amazonaws.com", "/", NULL, 0,
                                   "us-east-1", "service", AT_2015, 3600,
                                   &akid, out, sizeof(out)), 0);
    ck_assert_str_eq(out,
        "example.amazonaws.com/?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice"
        "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature="
        "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d");
}
END_TEST

START_TEST(suite_get_vanilla_with_session_token)
{
    struct sigv4_creds c = akid;
    char out[2048];
    const char *sig;

    c.session_token =
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    ck_assert_int_eq(sigv4_presign("example.amazonaws.com", "/", NULL, 0,
                                   "us-east-1", "service", AT_2015, 3600,
                                   &c, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "&X-Amz-Expires=3600&X-Amz-Security-"
                                      "Token=6e86291e8372ff2a2260956d9b8aae1d"
                                      "763fbf315fa00fa31553b73ebf194267"
                                      "&X-Amz-SignedHeaders=host&"));
    sig = strstr(out, "&X-Amz-Signature=");
    ck_assert_ptr_nonnull(sig);
    ck_assert_str_eq(sig + strlen("&X-Amz-Signature="),
        "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c");
}
END_TEST

START_TEST(cache_name_lower_cased)
{
    char a[2048], b[2048];

    ck_assert_int_eq(sigv4_elasticache_token("My-Replication-Group-ID",
                                             "my-user-id", "eu-west-1", false,
                                             AT_2025, &fake, a, sizeof(a)),
                     0);
    ck_assert_int_eq(sigv4_elasticache_token("my-replication-group-id",
                                             "my-user-id", "eu-west-1", false,
                                             AT_2025, &fake, b, sizeof(b)),
                     0);
    ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(serverless_and_encoding)
{
    char tok[2048], plain[2048];

    ck_assert_int_eq(sigv4_elasticache_token("cache", "a b/c", "us-east-1",
                                             true, AT_2025, &fake, tok,
                                             sizeof(tok)), 0);
    ck_assert_ptr_nonnull(strstr(tok, "cache/?Action=connect"
                                      "&ResourceType=ServerlessCache"
                                      "&User=a%20b%2Fc&X-Amz-Algorithm="));
    ck_assert_ptr_nonnull(strstr(tok, "%2Fus-east-1%2Felasticache%2F"));
    ck_assert_int_eq(sigv4_elasticache_token("cache", "a b/c", "us-east-1",
                                             false, AT_2025, &fake, plain,
                                             sizeof(plain)), 0);
    ck_assert_ptr_null(strstr(plain, "ResourceType"));
    /* a signed parameter more is another signature */
    ck_assert_str_ne(strstr(tok, "X-Amz-Signature="),
                     strstr(plain, "X-Amz-Signature="));
}
END_TEST

START_TEST(short_buffer_refused)
{
    char tok[2048];
    size_t full;

    ck_assert_int_eq(sigv4_elasticache_token("my-replication-group-id",
                                             "my-user-id", "eu-west-1", false,
                                             AT_2025, &fake, tok,
                                             sizeof(tok)), 0);
    full = strlen(tok);
    for (size_t len = 0; len <= full; len += 7) {
        char small[2048];

        memset(small, 'Z', sizeof(small));
        ck_assert_int_eq(sigv4_elasticache_token(
                             "my-replication-group-id", "my-user-id",
                             "eu-west-1", false, AT_2025, &fake, small, len),
                         -1);
        ck_assert(len == 0 || small[0] == '\0');    /* nothing half made */
        ck_assert_int_eq(small[len], 'Z');          /* nothing past len */
    }
    ck_assert_int_eq(sigv4_elasticache_token("my-replication-group-id",
                                             "my-user-id", "eu-west-1", false,
                                             AT_2025, &fake, tok, full + 1),
                     0);
    ck_assert_int_eq(sigv4_elasticache_token("", "u", "eu-west-1", false,
                                             AT_2025, &fake, tok,
                                             sizeof(tok)), -1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("sigv4");

    tcase_add_test(tc, published_sample);
    tcase_add_test(tc, published_sample_with_session_token);
    tcase_add_test(tc, suite_get_vanilla);
    tcase_add_test(tc, suite_get_vanilla_with_session_token);
    tcase_add_test(tc, cache_name_lower_cased);
    tcase_add_test(tc, serverless_and_encoding);
    tcase_add_test(tc, short_buffer_refused);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
