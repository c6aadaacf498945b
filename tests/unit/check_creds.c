/*
 * check_creds: the container endpoint's JSON answer and STS's XML answer
 * (AssumeRoleWithWebIdentity) read into credentials, and what is
 * refused; STS's error code; the request body; the cell's copy and
 * expiry.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "creds_sts.h"
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

/* ------------------------------------------------------------ STS */

#define STS_HEAD "<AssumeRoleWithWebIdentityResponse " \
    "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n" \
    "  <AssumeRoleWithWebIdentityResult>\n"
#define STS_TAIL "  </AssumeRoleWithWebIdentityResult>\n" \
    "  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n" \
    "</AssumeRoleWithWebIdentityResponse>\n"
#define STS_CREDS(ak, sk, tok, exp) "    <Credentials>\n" \
    "      <SessionToken>" tok "</SessionToken>\n" \
    "      <SecretAccessKey>" sk "</SecretAccessKey>\n" \
    "      <Expiration>" exp "</Expiration>\n" \
    "      <AccessKeyId>" ak "</AccessKeyId>\n" \
    "    </Credentials>\n"
#define STS_GOOD STS_CREDS("ASIAW1", "wJal/rXUtn+K7=", "AQoDYXdzEE0a8", \
                           "2026-12-02T19:00:00Z")

static int
sts(const char *xml, time_t *exp)
{
    return creds_sts_parse(xml, strlen(xml), ak, sk, tok, sizeof(ak), exp);
}

START_TEST(sts_answer)
{
    time_t exp;

    /* AWS's documented answer, its other elements skipped. */
    ck_assert_int_eq(sts("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         STS_HEAD
                         "    <SubjectFromWebIdentityToken>amzn1.account"
                         "</SubjectFromWebIdentityToken>\n"
                         "    <Audience>client.5498@apps.example.com"
                         "</Audience>\n"
                         "    <AssumedRoleUser>\n"
                         "      <Arn>arn:aws:sts::123456789012:assumed-role/"
                         "R/app1</Arn>\n"
                         "      <AssumedRoleId>AROACLKW:app1</AssumedRoleId>\n"
                         "    </AssumedRoleUser>\n"
                         STS_GOOD
                         "    <SourceIdentity/>\n"
                         "    <Provider>www.amazon.com</Provider>\n"
                         STS_TAIL, &exp), 0);
    ck_assert_str_eq(ak, "ASIAW1");
    ck_assert_str_eq(sk, "wJal/rXUtn+K7=");
    ck_assert_str_eq(tok, "AQoDYXdzEE0a8");
    ck_assert_int_eq((long long)exp, 1796238000LL);
}
END_TEST

START_TEST(sts_entities)
{
    time_t exp;

    ck_assert_int_eq(sts(STS_HEAD
                         STS_CREDS("A&amp;B", "&lt;s&gt;&quot;&apos;",
                                   "t&amp;amp;", "2026-12-02T19:00:00.5Z")
                         STS_TAIL, &exp), 0);
    ck_assert_str_eq(ak, "A&B");
    ck_assert_str_eq(sk, "<s>\"'");
    ck_assert_str_eq(tok, "t&amp;");
    ck_assert_int_eq((long long)exp, 1796238000LL);
}
END_TEST

static const char *const sts_refused[] = {
    "",
    "<AssumeRoleWithWebIdentityResponse/>",
    /* a field missing: no SessionToken */
    STS_HEAD "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
    "</SecretAccessKey><Expiration>2026-12-02T19:00:00Z</Expiration>"
    "</Credentials>" STS_TAIL,
    /* an empty field */
    STS_HEAD STS_CREDS("", "S", "T", "2026-12-02T19:00:00Z") STS_TAIL,
    /* a bad time */
    STS_HEAD STS_CREDS("A", "S", "T", "tomorrow") STS_TAIL,
    /* a field twice */
    STS_HEAD STS_GOOD STS_GOOD STS_TAIL,
    /* cut short */
    STS_HEAD STS_GOOD,
    /* the credentials in the wrong place */
    "<AssumeRoleWithWebIdentityResponse>" STS_GOOD
    "</AssumeRoleWithWebIdentityResponse>",
    /* mismatched end tag */
    STS_HEAD STS_GOOD "</AssumeRoleWithWebIdentityResult></Foo>",
    /* an entity beyond the five, a character reference, a bare & */
    STS_HEAD STS_CREDS("A&nbsp;", "S", "T", "2026-12-02T19:00:00Z") STS_TAIL,
    STS_HEAD STS_CREDS("A&#65;", "S", "T", "2026-12-02T19:00:00Z") STS_TAIL,
    STS_HEAD STS_CREDS("A&B", "S", "T", "2026-12-02T19:00:00Z") STS_TAIL,
    /* a DOCTYPE (entity expansion), a comment, CDATA */
    "<!DOCTYPE x [<!ENTITY a \"b\">]>" STS_HEAD STS_GOOD STS_TAIL,
    STS_HEAD "<!-- c -->" STS_GOOD STS_TAIL,
    STS_HEAD STS_CREDS("<![CDATA[A]]>", "S", "T", "2026-12-02T19:00:00Z")
    STS_TAIL,
    /* a child inside a field; a control byte; not ASCII */
    STS_HEAD STS_CREDS("A<b/>", "S", "T", "2026-12-02T19:00:00Z") STS_TAIL,
    STS_HEAD STS_CREDS("A\001", "S", "T", "2026-12-02T19:00:00Z") STS_TAIL,
    STS_HEAD STS_CREDS("A\303\251", "S", "T", "2026-12-02T19:00:00Z")
    STS_TAIL,
    /* text outside the root, a second root */
    "x" STS_HEAD STS_GOOD STS_TAIL,
    STS_HEAD STS_GOOD STS_TAIL "<a/>",
    /* deeper than allowed */
    "<a><b><c><d><e><f><g><h><i>x</i></h></g></f></e></d></c></b></a>",
    /* an error answer is no credentials */
    "<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error>"
    "</ErrorResponse>",
};

START_TEST(sts_bad_answers_refused)
{
    time_t exp;

    ck_assert_msg(sts(sts_refused[_i], &exp) == -1, "accepted: %s",
                  sts_refused[_i]);
}
END_TEST

START_TEST(sts_too_long_refused)
{
    static char xml[3 * CREDS_FIELD_MAX];
    time_t exp;
    int n = snprintf(xml, sizeof(xml), "%s", STS_HEAD "<Credentials>"
                     "<AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
                     "</SecretAccessKey><Expiration>2026-12-02T19:00:00Z"
                     "</Expiration><SessionToken>");

    memset(xml + n, 'x', CREDS_FIELD_MAX);
    snprintf(xml + n + CREDS_FIELD_MAX, sizeof(xml) - n - CREDS_FIELD_MAX,
             "%s", "</SessionToken></Credentials>" STS_TAIL);
    ck_assert_int_eq(sts(xml, &exp), -1);
    /* One byte shorter (the NUL's room) fits. */
    memmove(xml + n + CREDS_FIELD_MAX - 1, xml + n + CREDS_FIELD_MAX,
            strlen(xml + n + CREDS_FIELD_MAX) + 1);
    ck_assert_int_eq(sts(xml, &exp), 0);
    ck_assert_uint_eq(strlen(tok), CREDS_FIELD_MAX - 1);
}
END_TEST

START_TEST(sts_error_code)
{
    static const char err[] =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <Error>\n    <Type>Sender</Type>\n"
        "    <Code>InvalidIdentityToken</Code>\n"
        "    <Message>Couldn&apos;t retrieve verification key from your "
        "identity provider, token eyJhbGciOi &lt;secret&gt;</Message>\n"
        "  </Error>\n  <RequestId>c5f1</RequestId>\n</ErrorResponse>\n";
    static const char odd[] = "<ErrorResponse><Error><Code>Bad Code"
                              "</Code></Error></ErrorResponse>";
    char code[64];

    ck_assert_int_eq(creds_sts_error_code(err, strlen(err), code,
                                          sizeof(code)), 0);
    ck_assert_str_eq(code, "InvalidIdentityToken");
    /* Not safe to log as it is: no code. */
    ck_assert_int_eq(creds_sts_error_code(odd, strlen(odd), code,
                                          sizeof(code)), -1);
    ck_assert_str_eq(code, "");
    ck_assert_int_eq(creds_sts_error_code("<html>", 6, code, sizeof(code)),
                     -1);
}
END_TEST

START_TEST(sts_request_body)
{
    size_t len;
    char *b = creds_sts_body("arn:aws:iam::123456789012:role/my role",
                             "redsleeve-1", "eyJ.a+b/c=", &len);

    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                     "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmy"
                     "%20role&RoleSessionName=redsleeve-1"
                     "&WebIdentityToken=eyJ.a%2Bb%2Fc%3D"
                     "&DurationSeconds=3600");
    ck_assert_uint_eq(len, strlen(b));
    free(b);
}
END_TEST

START_TEST(sts_endpoints)
{
    struct creds_sts_endpoint ep;
    char err[256];

    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_ENDPOINT_URL");
    ck_assert_int_eq(creds_sts_endpoint("eu-west-1", &ep, err, sizeof(err)),
                     0);
    ck_assert_str_eq(ep.host, "sts.eu-west-1.amazonaws.com");
    ck_assert_int_eq(ep.port, 443);
    ck_assert_str_eq(ep.path, "/");
    ck_assert(!ep.host_is_ip);
    ck_assert_int_eq(creds_sts_endpoint("cn-north-1", &ep, err, sizeof(err)),
                     0);
    ck_assert_str_eq(ep.host, "sts.cn-north-1.amazonaws.com.cn");
    ck_assert_int_eq(creds_sts_endpoint("eu/x", &ep, err, sizeof(err)), -1);
    setenv("AWS_ENDPOINT_URL", "https://[::1]:8443", 1);
    ck_assert_int_eq(creds_sts_endpoint("eu-west-1", &ep, err, sizeof(err)),
                     0);
    ck_assert_str_eq(ep.host, "::1");
    ck_assert_int_eq(ep.port, 8443);
    ck_assert(ep.host_is_ip);
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:8080/", 1);
    ck_assert_int_eq(creds_sts_endpoint("eu-west-1", &ep, err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "AWS_ENDPOINT_URL_STS: http:// "
                                 "refused"));
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_ENDPOINT_URL");
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
    tcase_add_test(tc, sts_answer);
    tcase_add_test(tc, sts_entities);
    tcase_add_loop_test(tc, sts_bad_answers_refused, 0,
                        (int)(sizeof(sts_refused) / sizeof(sts_refused[0])));
    tcase_add_test(tc, sts_too_long_refused);
    tcase_add_test(tc, sts_error_code);
    tcase_add_test(tc, sts_request_body);
    tcase_add_test(tc, sts_endpoints);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
