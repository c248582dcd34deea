/* test_form: query-string parsing (%-escapes, '+', repeated keys in order, empty values, keys
 * without '='), strict refusal of bad escapes and NUL bytes, the parameter limit, http_form_add,
 * lookups, and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/form.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Renders a form as "k=v|k=v" with non-printable bytes as \xHH. */
static const char *render(const http_form *f)
{
    static char out[4096];
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < f->n; i++) {
        if (i)
            buf_putc(&b, '|');
        for (int kv = 0; kv < 2; kv++) {
            const unsigned char *s = (const unsigned char *)(kv ? f->v[i].value : f->v[i].key);
            if (kv)
                buf_putc(&b, '=');
            for (; *s; s++) {
                if (*s < 0x20 || *s >= 0x7f || *s == '|' || *s == '\\')
                    buf_printf(&b, "\\x%02x", *s);
                else
                    buf_putc(&b, (char)*s);
            }
        }
    }
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}

static void parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"", ""},
        {"a=1", "a=1"},
        {"a=1&b=2", "a=1|b=2"},
        {"query=up%7Bjob%3D%22node%22%7D", "query=up{job=\"node\"}"},
        {"q=a+b", "q=a b"},
        {"q=a%2Bb", "q=a+b"},
        {"q=%20%20", "q=  "},
        {"q=100%25", "q=100%"},
        {"q=%e2%82%ac%E2%82%AC", "q=\\xe2\\x82\\xac\\xe2\\x82\\xac"},
        {"q=%0a%0D%09", "q=\\x0a\\x0d\\x09"},
        {"q=%ff", "q=\\xff"},
        {"match[]=up&match[]=down&match[]=", "match[]=up|match[]=down|match[]="},
        {"match%5B%5D=a", "match[]=a"},
        {"a=", "a="},
        {"a", "a="},
        {"a&b", "a=|b="},
        {"=v", "=v"},
        {"=", "="},
        {"a=1&&b=2", "a=1|b=2"},
        {"&a=1&", "a=1"},
        {"&&&", ""},
        {"a==b", "a==b"},
        {"a=b=c", "a=b=c"},
        {"k+ey=v+al", "k ey=v al"},
        {"a=%3D%26", "a==&"},
        {"a;b=1", "a;b=1"},
        {"time=2026-11-23T20:00:00.5Z&step=15s", "time=2026-11-23T20:00:00.5Z|step=15s"},
        {"a=1&a=2&a=3", "a=1|a=2|a=3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_form f;
        http_form_init(&f);
        int rc = http_form_parse(&f, cases[i].in, strlen(cases[i].in));
        if (rc)
            fail_msg("case %zu \"%s\": rc %d", i, cases[i].in, rc);
        const char *got = render(&f);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu \"%s\": got %s, want %s", i, cases[i].in, got, cases[i].want);
        http_form_free(&f);
    }
}

static void bad_escapes_and_nul_bytes_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
    } cases[] = {
        {"a=%zz", 0}, {"a=%4", 0},    {"a=%", 0},  {"a=%4g", 0},  {"a=%g4", 0}, {"%zz=1", 0},
        {"a%=1", 0},  {"a=1&b=%", 0}, {"a=%%", 0}, {"a=%-1", 0},  {"a=% 1", 0}, {"a=%00", 0},
        {"%00=a", 0}, {"a=x%00y", 0}, {"a=%0", 0}, {"a=x\0y", 5}, {"a\0=1", 4}, {"\0", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_form f;
        http_form_init(&f);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        int rc = http_form_parse(&f, cases[i].in, len);
        if (rc != -EINVAL)
            fail_msg("case %zu: rc %d, want -EINVAL (got %s)", i, rc, render(&f));
        http_form_free(&f);
    }
}

static void parse_uses_len_not_nul(void **state)
{
    (void)state;
    /* The body is not NUL-terminated where the length ends. */
    const char body[] = "a=1&b=2&c=3";
    http_form f;
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, body, 7), 0);
    assert_string_equal(render(&f), "a=1|b=2");
    http_form_free(&f);
    /* An escape cut by the length is incomplete. */
    const char esc[] = "a=%41";
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, esc, 4), -EINVAL);
    http_form_free(&f);
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, esc, 5), 0);
    assert_string_equal(render(&f), "a=A");
    http_form_free(&f);
}

static void get_and_next(void **state)
{
    (void)state;
    http_form f;
    http_form_init(&f);
    const char *q = "match[]=a&x=1&match[]=b&match[]=&y&match[]=c";
    assert_int_equal(http_form_parse(&f, q, strlen(q)), 0);
    assert_string_equal(http_form_get(&f, "x"), "1");
    assert_string_equal(http_form_get(&f, "y"), "");
    assert_string_equal(http_form_get(&f, "match[]"), "a");
    assert_null(http_form_get(&f, "z"));
    assert_null(http_form_get(&f, "match"));
    assert_null(http_form_get(&f, "X"));
    static const char *want[] = {"a", "b", "", "c"};
    size_t pos = 0;
    for (size_t i = 0; i < 4; i++) {
        const char *v = http_form_next(&f, "match[]", &pos);
        assert_non_null(v);
        assert_string_equal(v, want[i]);
    }
    assert_null(http_form_next(&f, "match[]", &pos));
    assert_null(http_form_next(&f, "match[]", &pos));
    http_form_free(&f);
    http_form_free(&f);
    http_form_free(NULL);
    /* An empty form answers NULL. */
    http_form_init(&f);
    assert_null(http_form_get(&f, "a"));
    http_form_free(&f);
}

static void query_string_and_body_accumulate(void **state)
{
    (void)state;
    http_form f;
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, "query=up&time=1", 15), 0);
    assert_int_equal(http_form_parse(&f, "query=down", 10), 0);
    assert_int_equal(http_form_add(&f, "extra", NULL), 0);
    assert_int_equal(http_form_add(&f, "raw", "a%20b+c"), 0); /* added as is */
    assert_string_equal(render(&f), "query=up|time=1|query=down|extra=|raw=a%20b+c");
    assert_string_equal(http_form_get(&f, "query"), "up");
    http_form_free(&f);
}

static void parameter_limit(void **state)
{
    (void)state;
    buf q;
    buf_init(&q, 0);
    for (int i = 0; i < FORM_MAX_PARAMS; i++)
        buf_printf(&q, "%sk%d=%d", i ? "&" : "", i, i);
    http_form f;
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, q.data, q.len), 0);
    assert_int_equal(f.n, FORM_MAX_PARAMS);
    assert_string_equal(http_form_get(&f, "k1023"), "1023");
    http_form_free(&f);
    /* One more, in one string or added afterwards. */
    buf_puts(&q, "&one=more");
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, q.data, q.len), -E2BIG);
    http_form_free(&f);
    q.len -= strlen("&one=more");
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, q.data, q.len), 0);
    assert_int_equal(http_form_add(&f, "one", "more"), -E2BIG);
    assert_int_equal(http_form_parse(&f, "x=1", 3), -E2BIG);
    assert_int_equal(f.n, FORM_MAX_PARAMS);
    http_form_free(&f);
    /* Empty pieces between '&' do not count. */
    http_form_init(&f);
    buf_reset(&q);
    for (int i = 0; i < FORM_MAX_PARAMS * 3; i++)
        buf_puts(&q, "&");
    buf_puts(&q, "a=1");
    assert_int_equal(http_form_parse(&f, q.data, q.len), 0);
    assert_int_equal(f.n, 1);
    http_form_free(&f);
    buf_free(&q);
}

static void long_values_survive(void **state)
{
    (void)state;
    buf q;
    buf_init(&q, 0);
    buf_puts(&q, "query=");
    for (int i = 0; i < 20000; i++)
        buf_puts(&q, "%41");
    http_form f;
    http_form_init(&f);
    assert_int_equal(http_form_parse(&f, q.data, q.len), 0);
    const char *v = http_form_get(&f, "query");
    assert_int_equal(strlen(v), 20000);
    assert_int_equal(v[0], 'A');
    assert_int_equal(v[19999], 'A');
    http_form_free(&f);
    buf_free(&q);
}

static void allocation_failure_gives_enomem(void **state)
{
    (void)state;
    const char *q = "a=1&b=%41&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10";
    int ok = 0;
    for (long n = 0; n < 60 && !ok; n++) {
        http_form f;
        http_form_init(&f);
        mem_fail_after(n);
        int rc = http_form_parse(&f, q, strlen(q));
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            ok = 1;
            assert_int_equal(f.n, 10);
            assert_string_equal(http_form_get(&f, "b"), "A");
        } else {
            /* What was parsed before the failure is intact and freeable. */
            for (size_t i = 0; i < f.n; i++)
                assert_non_null(f.v[i].value);
        }
        http_form_free(&f);
    }
    assert_true(ok);
    for (long n = 0; n < 3; n++) {
        http_form f;
        http_form_init(&f);
        mem_fail_after(n);
        int rc = http_form_add(&f, "k", "v");
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        assert_int_equal(f.n, rc == 0);
        http_form_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_table),
        cmocka_unit_test(bad_escapes_and_nul_bytes_are_refused),
        cmocka_unit_test(parse_uses_len_not_nul),
        cmocka_unit_test(get_and_next),
        cmocka_unit_test(query_string_and_body_accumulate),
        cmocka_unit_test(parameter_limit),
        cmocka_unit_test(long_values_survive),
        cmocka_unit_test(allocation_failure_gives_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
