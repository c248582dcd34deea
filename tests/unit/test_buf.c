/* test_buf: growth, the hard cap (exact boundary, unchanged buffer on refusal), sticky errors,
 * printf of long output, reset/steal ownership and allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"

#include <errno.h>
#include <string.h>

static void init_gives_empty_buffer_and_free_accepts_null(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.err, 0);
    assert_null(b.data);
    buf_free(&b);
    buf_free(&b); /* twice is fine */
    buf_free(NULL);
}

static void appends_grow_and_stay_nul_terminated(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "hello"), 0);
    assert_int_equal(buf_putc(&b, ' '), 0);
    assert_int_equal(buf_append(&b, "world!!", 5), 0);
    assert_int_equal(b.len, 11);
    assert_string_equal(b.data, "hello world");
    /* Grow well past the first allocation, one byte at a time. */
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
    assert_int_equal(b.len, 10011);
    assert_int_equal(b.data[b.len], '\0');
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[11], 'a');
    assert_int_equal(b.data[10010], 'a' + 9999 % 26);
    buf_free(&b);
}

static void append_zero_bytes_and_binary_data(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    const char bin[] = {'a', 0, 'b', (char)0xff};
    assert_int_equal(buf_append(&b, bin, sizeof bin), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, bin, 4);
    assert_int_equal(b.data[4], '\0');
    buf_free(&b);
}

static void cap_is_exact_and_refusal_leaves_buffer_unchanged(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "0123456789"), 0); /* exactly max */
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_putc(&b, 'x'), -E2BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    buf_free(&b);

    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "01234"), 0);
    assert_int_equal(buf_puts(&b, "567890"), -E2BIG); /* one over: all of it refused */
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "01234");
    buf_free(&b);
}

static void errors_are_sticky_until_reset(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 4);
    assert_int_equal(buf_puts(&b, "abcdef"), -E2BIG);
    /* A later append that would fit still fails: the sequence is already broken. */
    assert_int_equal(buf_putc(&b, 'a'), -E2BIG);
    assert_int_equal(buf_printf(&b, "%d", 1), -E2BIG);
    assert_int_equal(buf_reserve(&b, 0), -E2BIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.err, -E2BIG);
    buf_reset(&b);
    assert_int_equal(b.err, 0);
    assert_int_equal(buf_puts(&b, "abcd"), 0);
    assert_string_equal(b.data, "abcd");
    buf_free(&b);
}

static void reset_keeps_allocation(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    buf_puts(&b, "some text");
    char *p = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, p);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    buf_free(&b);
    /* Reset of a never-used buffer is harmless. */
    buf_init(&b, 0);
    buf_reset(&b);
    assert_null(b.data);
}

static void reserve_checks_overflow_of_huge_requests(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0); /* "no limit" */
    buf_puts(&b, "x");
    assert_int_equal(buf_reserve(&b, SIZE_MAX), -E2BIG);
    buf_reset(&b);
    buf_puts(&b, "x");
    assert_int_equal(buf_reserve(&b, SIZE_MAX - 1), -E2BIG);
    assert_int_equal(b.len, 1);
    buf_free(&b);
}

static void printf_formats_short_and_long_output(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_printf(&b, "%s=%d;", "a", 42), 0);
    assert_string_equal(b.data, "a=42;");
    /* Longer than the 256-byte stack buffer: takes the second path. */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 5 + 1001);
    assert_int_equal(b.data[5], '[');
    assert_int_equal(b.data[6], 'z');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    /* Output of exactly 255 and 256 characters (the boundary of the stack buffer). */
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%.255s", big), 0);
    assert_int_equal(b.len, 255);
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%.256s", big), 0);
    assert_int_equal(b.len, 256);
    assert_int_equal(strlen(b.data), 256);
    buf_free(&b);
}

static void printf_respects_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 300);
    char big[400];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_printf(&b, "%s", big), -E2BIG);
    assert_int_equal(b.len, 0);
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%.300s", big), 0);
    assert_int_equal(b.len, 300);
    assert_int_equal(buf_printf(&b, "x"), -E2BIG);
    buf_free(&b);
}

static void steal_hands_over_data_and_resets(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    buf_puts(&b, "payload");
    size_t len = 0;
    char *d = buf_steal(&b, &len);
    assert_int_equal(len, 7);
    assert_string_equal(d, "payload");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* The buffer is usable again and independent of the stolen data. */
    buf_puts(&b, "again");
    assert_string_equal(d, "payload");
    assert_string_equal(b.data, "again");
    mem_free(d);
    buf_free(&b);
    /* Steal of an empty buffer gives NULL and len 0; len may be NULL. */
    buf_init(&b, 0);
    assert_null(buf_steal(&b, &len));
    assert_int_equal(len, 0);
    assert_null(buf_steal(&b, NULL));
}

static void allocation_failure_is_sticky_enomem(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    mem_fail_after(0);
    int rc = buf_puts(&b, "x");
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(b.err, -ENOMEM);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_puts(&b, "x"), -ENOMEM); /* sticky */
    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "x"), 0);
    /* Failure while growing keeps the old contents. */
    char chunk[200];
    memset(chunk, 'c', sizeof chunk);
    buf_append(&b, chunk, sizeof chunk); /* fits in the first 256 bytes */
    mem_fail_after(0);
    rc = buf_append(&b, chunk, sizeof chunk);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(b.len, 201);
    assert_int_equal(b.data[0], 'x');
    assert_int_equal(b.data[200], 'c');
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_gives_empty_buffer_and_free_accepts_null),
        cmocka_unit_test(appends_grow_and_stay_nul_terminated),
        cmocka_unit_test(append_zero_bytes_and_binary_data),
        cmocka_unit_test(cap_is_exact_and_refusal_leaves_buffer_unchanged),
        cmocka_unit_test(errors_are_sticky_until_reset),
        cmocka_unit_test(reset_keeps_allocation),
        cmocka_unit_test(reserve_checks_overflow_of_huge_requests),
        cmocka_unit_test(printf_formats_short_and_long_output),
        cmocka_unit_test(printf_respects_cap),
        cmocka_unit_test(steal_hands_over_data_and_resets),
        cmocka_unit_test(allocation_failure_is_sticky_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
