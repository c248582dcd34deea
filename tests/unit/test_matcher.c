/* test_matcher: the four matcher types over a table of values, full anchoring of regexes (also
 * around alternations), `.` matching newlines, the ".*" fast path, missing labels matched as "",
 * invalid patterns, and use from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "tsdb/matcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct mcase {
    tsdb_match_type type;
    const char *pattern;
    const char *value; /* NULL: the series lacks the label */
    int want;
} mcase;

#define EQ TSDB_MATCH_EQ
#define NEQ TSDB_MATCH_NEQ
#define RE TSDB_MATCH_RE
#define NRE TSDB_MATCH_NRE

static const mcase cases[] = {
    /* = and != */
    {EQ, "foo", "foo", 1},
    {EQ, "foo", "foobar", 0},
    {EQ, "foo", "fo", 0},
    {EQ, "foo", "Foo", 0},
    {EQ, "foo", NULL, 0},
    {EQ, "", NULL, 1},
    {EQ, "", "", 1},
    {EQ, "", "x", 0},
    {NEQ, "foo", "foo", 0},
    {NEQ, "foo", "bar", 1},
    {NEQ, "foo", NULL, 1},
    {NEQ, "", NULL, 0},
    {NEQ, "", "x", 1},
    /* =~ is anchored at both ends */
    {RE, "foo", "foo", 1},
    {RE, "foo", "foobar", 0},
    {RE, "foo", "barfoo", 0},
    {RE, "foo", "xfoox", 0},
    {RE, "fo+", "foooo", 1},
    {RE, "foo.*", "foobar", 1},
    {RE, ".*bar", "foobar", 1},
    {RE, "", "", 1},
    {RE, "", "x", 0},
    {RE, "", NULL, 1},
    {RE, "foo", NULL, 0},
    {RE, "x?", NULL, 1},
    /* alternation anchored as a whole, not per branch */
    {RE, "a|b", "a", 1},
    {RE, "a|b", "b", 1},
    {RE, "a|b", "ab", 0},
    {RE, "a|b", "ax", 0},
    {RE, "a|b", "xb", 0},
    {RE, "foo|bar", "foobar", 0},
    {RE, "foo|bar", "barfoo", 0},
    {RE, "a|", "", 1},
    /* the end anchor backtracks into earlier branches and lazy quantifiers */
    {RE, "a|ab", "ab", 1},
    {RE, "ab|a", "a", 1},
    {RE, "a*?", "aaa", 1},
    {RE, "(a|ab)(c|bcd)", "abcd", 1},
    {RE, "x(a|ab)", "xab", 1},
    {RE, "(a|b)c", "bc", 1},
    {RE, "(a|b)c", "bcc", 0},
    /* `.` matches newline (Prometheus compiles with (?s)) */
    {RE, ".*", "line1\nline2", 1},
    {RE, "a.b", "a\nb", 1},
    {RE, "line1.*", "line1\nline2", 1},
    {RE, ".+", "\n", 1},
    /* character classes, case, escapes */
    {RE, "[0-9]+", "12345", 1},
    {RE, "[0-9]+", "123a", 0},
    {RE, "(?i)foo", "FOO", 1},
    {RE, "FOO", "foo", 0},
    {RE, "a\\.b", "a.b", 1},
    {RE, "a\\.b", "axb", 0},
    {RE, "\\d{3}", "123", 1},
    {RE, "\\d{3}", "1234", 0},
    {RE, "ü+", "üü", 1},
    {RE, ".", "ü", 1}, /* one code point, not one byte */
    {RE, "..", "ü", 0},
    {RE, "^foo$", "foo", 1},
    {RE, "^foo$", "xfoo", 0},
    {RE, "5..", "503", 1},
    {RE, "5..", "5030", 0},
    /* !~ */
    {NRE, "foo", "foo", 0},
    {NRE, "foo", "foobar", 1},
    {NRE, "a|b", "ab", 1},
    {NRE, "a|b", "a", 0},
    {NRE, "", NULL, 0},
    {NRE, "", "x", 1},
    {NRE, "foo", NULL, 1},
    {NRE, ".+", NULL, 1},
    {NRE, ".+", "x", 0},
    /* the ".*" fast path: everything, including a missing label, and a newline */
    {RE, ".*", "anything", 1},
    {RE, ".*", "", 1},
    {RE, ".*", NULL, 1},
    {RE, ".*", "a\nb", 1},
    {NRE, ".*", "anything", 0},
    {NRE, ".*", NULL, 0},
    {NRE, ".*", "a\nb", 0},
    /* not the fast path, same answers */
    {RE, ".*.*", "a\nb", 1},
    {RE, "(.*)", "a\nb", 1},
    {RE, ".+", "", 0},
    {RE, ".+", NULL, 0},
};

static void matches_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsdb_matcher m;
        char err[256] = "";
        int rc = tsdb_matcher_init(&m, cases[i].type, "l", cases[i].pattern, err, sizeof err);
        if (rc)
            fail_msg("case %zu: init %s\"%s\": %d %s", i, tsdb_match_op(cases[i].type),
                     cases[i].pattern, rc, err);
        int got = tsdb_matcher_matches(&m, cases[i].value);
        if (got != cases[i].want)
            fail_msg("case %zu: l%s\"%s\" on %s%s%s gave %d, want %d", i,
                     tsdb_match_op(cases[i].type), cases[i].pattern, cases[i].value ? "\"" : "",
                     cases[i].value ? cases[i].value : "(missing)", cases[i].value ? "\"" : "", got,
                     cases[i].want);
        tsdb_matcher_free(&m);
    }
}

static void init_copies_name_and_value(void **state)
{
    (void)state;
    char name[] = "job", value[] = "node";
    tsdb_matcher m;
    char err[64];
    assert_int_equal(tsdb_matcher_init(&m, EQ, name, value, err, sizeof err), 0);
    memset(name, 'x', 3);
    memset(value, 'y', 4);
    assert_string_equal(m.name, "job");
    assert_string_equal(m.value, "node");
    assert_int_equal(m.type, EQ);
    assert_null(m.re);
    assert_true(tsdb_matcher_matches(&m, "node"));
    tsdb_matcher_free(&m);
    /* free clears the struct and accepts NULL and a second call. */
    assert_null(m.name);
    tsdb_matcher_free(&m);
    tsdb_matcher_free(NULL);
}

static void dot_star_is_the_fast_path(void **state)
{
    (void)state;
    tsdb_matcher m;
    char err[64];
    assert_int_equal(tsdb_matcher_init(&m, RE, "l", ".*", err, sizeof err), 0);
    assert_true(m.re_any);
    assert_null(m.re);
    tsdb_matcher_free(&m);
    assert_int_equal(tsdb_matcher_init(&m, NRE, "l", ".*", err, sizeof err), 0);
    assert_true(m.re_any);
    tsdb_matcher_free(&m);
    assert_int_equal(tsdb_matcher_init(&m, RE, "l", ".+", err, sizeof err), 0);
    assert_false(m.re_any);
    assert_non_null(m.re);
    tsdb_matcher_free(&m);
    /* An equality matcher with the text ".*" is literal. */
    assert_int_equal(tsdb_matcher_init(&m, EQ, "l", ".*", err, sizeof err), 0);
    assert_false(m.re_any);
    assert_false(tsdb_matcher_matches(&m, "x"));
    assert_true(tsdb_matcher_matches(&m, ".*"));
    tsdb_matcher_free(&m);
}

static void invalid_regex_gives_einval_with_message(void **state)
{
    (void)state;
    static const char *bad[] = {
        "(",  "foo(",  "[a-",  "*a",    "a{2,1}", "(?<n", "\\",
        "a)", "a)|(b", "(?z)", "[z-a]", "+",      "x**+", "(?P<>a)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int t = 0; t < 2; t++) {
            tsdb_matcher m;
            char err[256] = "";
            int rc = tsdb_matcher_init(&m, t ? NRE : RE, "l", bad[i], err, sizeof err);
            if (rc != -EINVAL)
                fail_msg("pattern \"%s\": rc %d, want -EINVAL", bad[i], rc);
            if (!strstr(err, "invalid regular expression") || !strstr(err, bad[i]))
                fail_msg("pattern \"%s\": message \"%s\"", bad[i], err);
            tsdb_matcher_free(&m);
        }
    }
}

static void regex_error_position_points_into_the_pattern(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        size_t pos;
    } cases[] = {
        {"*a", 0},
        {"ab*+*", 4},
        {"abc)", 3},
        {"a{2,1}", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsdb_matcher m;
        char err[256] = "", want[32];
        assert_int_equal(tsdb_matcher_init(&m, RE, "l", cases[i].pattern, err, sizeof err),
                         -EINVAL);
        snprintf(want, sizeof want, "at position %zu:", cases[i].pos);
        if (!strstr(err, want))
            fail_msg("pattern \"%s\": \"%s\" lacks \"%s\"", cases[i].pattern, err, want);
        tsdb_matcher_free(&m);
    }
}

static void invalid_utf8_values_never_match_a_regex(void **state)
{
    (void)state;
    tsdb_matcher m;
    char err[128];
    assert_int_equal(tsdb_matcher_init(&m, RE, "l", ".+", err, sizeof err), 0);
    assert_false(tsdb_matcher_matches(&m, "\xff\xfe"));
    assert_true(tsdb_matcher_matches(&m, "ok"));
    tsdb_matcher_free(&m);
    /* A pattern that is not valid UTF-8 is refused. */
    assert_int_equal(tsdb_matcher_init(&m, RE, "l", "a\xff", err, sizeof err), -EINVAL);
    tsdb_matcher_free(&m);
}

static void op_names(void **state)
{
    (void)state;
    assert_string_equal(tsdb_match_op(EQ), "=");
    assert_string_equal(tsdb_match_op(NEQ), "!=");
    assert_string_equal(tsdb_match_op(RE), "=~");
    assert_string_equal(tsdb_match_op(NRE), "!~");
}

static void init_under_allocation_failure(void **state)
{
    (void)state;
    for (int t = 0; t < 4; t++) {
        int ok = 0;
        for (long n = 0; n < 10 && !ok; n++) {
            tsdb_matcher m;
            char err[128];
            mem_fail_after(n);
            int rc = tsdb_matcher_init(&m, (tsdb_match_type)t, "name", "v|w", err, sizeof err);
            mem_fail_after(-1);
            assert_true(rc == 0 || rc == -ENOMEM);
            if (rc == 0) {
                ok = 1;
                assert_int_equal(tsdb_matcher_matches(&m, "w"),
                                 t == EQ || t == NEQ ? t == NEQ : t == RE);
            }
            tsdb_matcher_free(&m);
        }
        assert_true(ok);
    }
}

typedef struct thread_arg {
    const tsdb_matcher *m;
    int errors;
} thread_arg;

static void *match_loop(void *p)
{
    thread_arg *a = p;
    char v[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "host-%d.example", i);
        int want = i % 10 == 7;
        if (tsdb_matcher_matches(a->m, v) != want)
            a->errors++;
    }
    return NULL;
}

static void one_matcher_shared_by_threads(void **state)
{
    (void)state;
    tsdb_matcher m;
    char err[128];
    assert_int_equal(
        tsdb_matcher_init(&m, RE, "instance", "host-[0-9]*7\\.example", err, sizeof err), 0);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){&m, 0};
        assert_int_equal(pthread_create(&th[i], NULL, match_loop, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    tsdb_matcher_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_table),
        cmocka_unit_test(init_copies_name_and_value),
        cmocka_unit_test(dot_star_is_the_fast_path),
        cmocka_unit_test(invalid_regex_gives_einval_with_message),
        cmocka_unit_test(regex_error_position_points_into_the_pattern),
        cmocka_unit_test(invalid_utf8_values_never_match_a_regex),
        cmocka_unit_test(op_names),
        cmocka_unit_test(init_under_allocation_failure),
        cmocka_unit_test(one_matcher_shared_by_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
