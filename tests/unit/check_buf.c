/*
 * check_buf: the lent byte buffer (buf.h) of sessions and shared links:
 * order kept across appends and partial consumes, growth, the limit, what
 * is kept once empty, and a secret buffer never kept.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

START_TEST(order_survives_partial_consumes_and_growth)
{
    struct buf b = {0};
    char in[3 * BUF_MIN], out[3 * BUF_MIN];
    size_t got = 0;

    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (char)(i * 7 + 3);
    }
    /* in pieces, consuming part of what is there in between, so that
     * appends both move bytes to the front and grow the buffer */
    for (size_t put = 0; put < sizeof(in); put += 1000) {
        size_t n = sizeof(in) - put < 1000 ? sizeof(in) - put : 1000;
        size_t take = b.len / 3;

        ck_assert_int_eq(buf_append(&b, in + put, n, SIZE_MAX), 0);
        memcpy(out + got, b.data + b.off, take);
        got += take;
        buf_consume(&b, take, 0);
        ck_assert_uint_le(b.off + b.len, b.cap);
    }
    memcpy(out + got, b.data + b.off, b.len);
    got += b.len;
    buf_consume(&b, b.len, 0);
    ck_assert_uint_eq(got, sizeof(in));
    ck_assert(memcmp(in, out, sizeof(in)) == 0);
    ck_assert_ptr_null(b.data);         /* empty: given back */
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(limit_caps_growth_when_it_holds_the_bytes)
{
    struct buf b = {0};
    char x[BUF_MIN + 10];

    memset(x, 'x', sizeof(x));
    ck_assert_int_eq(buf_append(&b, x, sizeof(x), BUF_MIN + 100), 0);
    ck_assert_uint_eq(b.cap, BUF_MIN + 100);    /* not doubled past it */
    buf_release(&b);
    ck_assert_int_eq(buf_append(&b, x, sizeof(x), 100), 0);
    ck_assert_uint_eq(b.cap, 2 * BUF_MIN);      /* a limit below the bytes
                                                   is the caller's check */
    buf_release(&b);
}
END_TEST

START_TEST(keep_holds_a_small_buffer_only)
{
    struct buf b = {0};
    char x[5 * BUF_MIN];

    memset(x, 'y', sizeof(x));
    ck_assert_int_eq(buf_append(&b, x, 100, SIZE_MAX), 0);
    buf_consume(&b, 100, 4 * BUF_MIN);
    ck_assert_ptr_nonnull(b.data);      /* kept, empty, at the front */
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_int_eq(buf_append(&b, x, sizeof(x), SIZE_MAX), 0);
    buf_consume(&b, sizeof(x), 4 * BUF_MIN);
    ck_assert_ptr_null(b.data);         /* grown past keep: given back */
    b.secret = true;
    ck_assert_int_eq(buf_append(&b, x, 100, SIZE_MAX), 0);
    ck_assert_int_eq(buf_append(&b, x, 2 * BUF_MIN, SIZE_MAX), 0);
    ck_assert(b.secret);                /* kept across the move */
    buf_consume(&b, 100 + 2 * BUF_MIN, 64 * BUF_MIN);
    ck_assert_ptr_null(b.data);         /* a secret is never kept */
    ck_assert(!b.secret);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");

    tcase_add_test(tc, order_survives_partial_consumes_and_growth);
    tcase_add_test(tc, limit_caps_growth_when_it_holds_the_bytes);
    tcase_add_test(tc, keep_holds_a_small_buffer_only);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
