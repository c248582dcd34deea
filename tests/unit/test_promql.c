/* test_promql: the parser over tables of valid queries (checked through a canonical description
 * of the tree) and invalid ones (checked for the message and its line:column), then evaluation
 * against a real tsdb holding known samples: lookback, staleness, offset, @, range selectors,
 * range queries with gaps, scalars, type errors, limits and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sample.h"
#include "lib/timeutil.h"
#include "promql/eval.h"
#include "promql/parse.h"
#include "tsdb/tsdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- describing trees ---------------------------------------------------------------------- */

static void put_quoted(buf *b, const char *s)
{
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            buf_printf(b, "\\x%02x", *p);
        else
            buf_putc(b, (char)*p);
    }
    buf_putc(b, '"');
}

/* A canonical one-line form of a tree: num(…), str("…"), vec{…} or mat{…}[ms], with
 * " offset=<ms>", " @<ms>", " @start", " @end" when set. */
static const char *describe(const promql_expr *e)
{
    static char out[2048];
    buf b;
    buf_init(&b, 0);
    while (e->type == PROMQL_PAREN)
        e = e->lhs;
    switch (e->type) {
    default:
        buf_puts(&b, "expr:");
        promql_format(e, &b);
        break;
    case PROMQL_NUMBER:
        if (isnan(e->number))
            buf_puts(&b, "num(NaN)");
        else
            buf_printf(&b, "num(%.17g)", e->number);
        break;
    case PROMQL_STRING:
        buf_puts(&b, "str(");
        put_quoted(&b, e->string);
        buf_putc(&b, ')');
        break;
    case PROMQL_VECTOR_SELECTOR:
    case PROMQL_MATRIX_SELECTOR:
        buf_puts(&b, e->type == PROMQL_VECTOR_SELECTOR ? "vec{" : "mat{");
        for (size_t i = 0; i < e->nmatchers; i++) {
            if (i)
                buf_putc(&b, ',');
            buf_puts(&b, e->matchers[i].name);
            buf_puts(&b, tsdb_match_op(e->matchers[i].type));
            put_quoted(&b, e->matchers[i].value);
        }
        buf_putc(&b, '}');
        if (e->type == PROMQL_MATRIX_SELECTOR)
            buf_printf(&b, "[%lld]", (long long)e->range_ms);
        if (e->offset_ms)
            buf_printf(&b, " offset=%lld", (long long)e->offset_ms);
        if (e->at == PROMQL_AT_TIME)
            buf_printf(&b, " @%lld", (long long)e->at_ms);
        else if (e->at == PROMQL_AT_START)
            buf_puts(&b, " @start");
        else if (e->at == PROMQL_AT_END)
            buf_puts(&b, " @end");
        break;
    }
    snprintf(out, sizeof out, "%s", b.data);
    buf_free(&b);
    return out;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static const struct {
    const char *q;
    const char *want;
} valid[] = {
    /* selectors and every matcher kind */
    {"up", "vec{__name__=\"up\"}"},
    {"up{}", "vec{__name__=\"up\"}"},
    {"{__name__=\"up\"}", "vec{__name__=\"up\"}"},
    {"foo{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h\"}",
     "vec{__name__=\"foo\",a=\"b\",c!=\"d\",e=~\"f.*\",g!~\"h\"}"},
    {"foo{a=\"b\",}", "vec{__name__=\"foo\",a=\"b\"}"},
    {"job:rate5m:sum", "vec{__name__=\"job:rate5m:sum\"}"},
    {"_x9", "vec{__name__=\"_x9\"}"},
    {"{a=\"b\"}", "vec{a=\"b\"}"},
    {"{a!=\"\"}", "vec{a!=\"\"}"},
    {"{a=~\".+\"}", "vec{a=~\".+\"}"},
    {"foo{a=\"\"}", "vec{__name__=\"foo\",a=\"\"}"},
    {"{__name__=~\"a|b\", __name__!=\"c\"}", "vec{__name__=~\"a|b\",__name__!=\"c\"}"},
    {"{offset=\"x\", start=\"y\", nan=\"1\", inf=\"2\", by=\"3\"}",
     "vec{offset=\"x\",start=\"y\",nan=\"1\",inf=\"2\",by=\"3\"}"},
    /* quoted label names as Prometheus 3 writes them, when the name is a valid one */
    {"{\"a\"=\"b\"}", "vec{a=\"b\"}"},
    {"up{'job'=\"x\"}", "vec{__name__=\"up\",job=\"x\"}"},
    /* strings and escapes */
    {"{a='single \"quotes\"'}", "vec{a=\"single \\\"quotes\\\"\"}"},
    {"{a=`raw \\n \\x`}", "vec{a=\"raw \\\\n \\\\x\"}"},
    {"{a=`multi\nline`}", "vec{a=\"multi\\x0aline\"}"},
    {"{a=\"q\\\"uote\\\\ \\n\\t\\r\\a\\b\\f\\v\"}",
     "vec{a=\"q\\\"uote\\\\ \\x0a\\x09\\x0d\\x07\\x08\\x0c\\x0b\"}"},
    {"{a=\"\\x41\\u00e9\\U0001F600\"}", "vec{a=\"A\\xc3\\xa9\\xf0\\x9f\\x98\\x80\"}"},
    {"{a='it\\'s'}", "vec{a=\"it's\"}"},
    {"{a=\"ünï €\"}", "vec{a=\"\\xc3\\xbcn\\xc3\\xaf \\xe2\\x82\\xac\"}"},
    {"\"hello\"", "str(\"hello\")"},
    {"'hi'", "str(\"hi\")"},
    {"`raw`", "str(\"raw\")"},
    {"\"\"", "str(\"\")"},
    /* ranges */
    {"foo[5m]", "mat{__name__=\"foo\"}[300000]"},
    {"foo[1h30m]", "mat{__name__=\"foo\"}[5400000]"},
    {"foo[500ms]", "mat{__name__=\"foo\"}[500]"},
    {"foo[1y]", "mat{__name__=\"foo\"}[31536000000]"},
    {"foo[90]", "mat{__name__=\"foo\"}[90000]"},
    {"foo[1.5]", "mat{__name__=\"foo\"}[1500]"},
    {"foo{a=\"b\"}[1d]", "mat{__name__=\"foo\",a=\"b\"}[86400000]"},
    /* offset */
    {"foo offset 5m", "vec{__name__=\"foo\"} offset=300000"},
    {"foo offset -5m", "vec{__name__=\"foo\"} offset=-300000"},
    {"foo offset +1h", "vec{__name__=\"foo\"} offset=3600000"},
    {"foo[5m] offset 1h", "mat{__name__=\"foo\"}[300000] offset=3600000"},
    {"foo OFFSET 1m", "vec{__name__=\"foo\"} offset=60000"},
    {"foo @ END()", "vec{__name__=\"foo\"} @end"},
    /* @ */
    {"foo @ 1609746000", "vec{__name__=\"foo\"} @1609746000000"},
    {"foo @ 1609746000.5", "vec{__name__=\"foo\"} @1609746000500"},
    {"foo @ -100", "vec{__name__=\"foo\"} @-100000"},
    {"foo @ 1e3", "vec{__name__=\"foo\"} @1000000"},
    {"foo @ start()", "vec{__name__=\"foo\"} @start"},
    {"foo @ end()", "vec{__name__=\"foo\"} @end"},
    {"foo @ start ( )", "vec{__name__=\"foo\"} @start"},
    {"foo[5m] @ 100 offset 1m", "mat{__name__=\"foo\"}[300000] offset=60000 @100000"},
    {"foo offset 1m @ 100", "vec{__name__=\"foo\"} offset=60000 @100000"},
    /* numbers */
    {"1", "num(1)"},
    {"1.5", "num(1.5)"},
    {".5", "num(0.5)"},
    {"5.", "num(5)"},
    {"1e3", "num(1000)"},
    {"1E-3", "num(0.001)"},
    {"2.5e+2", "num(250)"},
    {"0x1f", "num(31)"},
    {"0X1F", "num(31)"},
    {"-5", "num(-5)"},
    {"+5", "num(5)"},
    {"- 5", "num(-5)"},
    {"Inf", "num(inf)"},
    {"inf", "num(inf)"},
    {"+Inf", "num(inf)"},
    {"-Inf", "num(-inf)"},
    {"-inF", "num(-inf)"},
    {"NaN", "num(NaN)"},
    {"nan", "num(NaN)"},
    {"-NaN", "num(NaN)"},
    /* parentheses */
    {"(foo)", "vec{__name__=\"foo\"}"},
    {"((foo{a=\"b\"}))", "vec{__name__=\"foo\",a=\"b\"}"},
    {"(1)", "num(1)"},
    {"(\"s\")", "str(\"s\")"},
    {"(foo[5m])", "mat{__name__=\"foo\"}[300000]"},
    /* comments and white space */
    {"foo # a comment", "vec{__name__=\"foo\"}"},
    {"# leading comment\nfoo", "vec{__name__=\"foo\"}"},
    {"foo{a=\"b\"} # c {]", "vec{__name__=\"foo\",a=\"b\"}"},
    {"foo{ # inside\n a=\"#not a comment\" }", "vec{__name__=\"foo\",a=\"#not a comment\"}"},
    {"  foo  {  a  =  \"b\"  }  [ 5m ]  ", "mat{__name__=\"foo\",a=\"b\"}[300000]"},
    {"\tfoo\r\n{\na=\"b\"\n}\n", "vec{__name__=\"foo\",a=\"b\"}"},
};

static void valid_queries_parse_to_the_expected_tree(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        promql_expr *e = NULL;
        char err[256] = "";
        int rc = promql_parse(valid[i].q, &e, err, sizeof err);
        if (rc)
            fail_msg("case %zu: \"%s\" refused: %s", i, valid[i].q, err);
        const char *got = describe(e);
        if (strcmp(got, valid[i].want) != 0)
            fail_msg("case %zu: \"%s\" gave %s, want %s", i, valid[i].q, got, valid[i].want);
        promql_expr_free(e);
    }
}

static const struct {
    const char *q;
    const char *want; /* substring of the message, including "line:col: parse error: " */
} invalid[] = {
    /* empty */
    {"", "1:1: parse error: no expression found in input"},
    {"   ", "1:4: parse error: no expression found"},
    {"# only a comment", "parse error: no expression found"},
    /* unterminated strings */
    {"foo{a=\"b}", "1:7: parse error: unterminated quoted string"},
    {"\"abc", "1:1: parse error: unterminated quoted string"},
    {"'abc", "1:1: parse error: unterminated quoted string"},
    {"`abc", "1:1: parse error: unterminated quoted string"},
    {"\"abc\\", "1:1: parse error: unterminated quoted string"},
    {"{a=\"b\\\"}", "1:4: parse error: unterminated quoted string"},
    {"{a=\"line\nbreak\"}", "1:9: parse error: unterminated quoted string"},
    /* bad escapes */
    {"\"a\\qb\"", "1:3: parse error: unknown escape sequence"},
    {"\"\\x4\"", "1:2: parse error: invalid escape sequence"},
    {"\"\\xzz\"", "1:2: parse error: invalid escape sequence"},
    {"\"\\u12\"", "1:2: parse error: invalid escape sequence"},
    {"\"\\U00110000\"", "1:2: parse error: invalid Unicode code point"},
    {"\"\\ud800\"", "1:2: parse error: invalid Unicode code point"},
    {"{a=\"\\x00\"}", "1:5: parse error: NUL character"},
    {"{a=\"x\\u0000\"}", "1:6: parse error: NUL character"},
    /* braces and matchers */
    {"foo{a=\"b\"", "1:10: parse error: unexpected end of input in label matching"},
    {"foo{", "1:5: parse error: unexpected end of input in label matching"},
    {"foo{a=\"b\" c=\"d\"}",
     "1:11: parse error: unexpected identifier in label matching, expected \",\" or \"}\""},
    {"foo{a}", "1:6: parse error: unexpected \"}\" in label matching, expected one of"},
    {"foo{a=b}", "1:7: parse error: unexpected identifier in label matching, expected string"},
    {"foo{a==\"b\"}", "1:6: parse error: binary operator \"==\""},
    {"foo{a=\"b\",,}",
     "1:11: parse error: unexpected \",\" in label matching, expected label name"},
    {"foo{,}", "1:5: parse error: unexpected \",\""},
    {"foo{a!\"b\"}", "1:6: parse error: unexpected character after '!'"},
    {"foo{1a=\"b\"}", "1:5: parse error: bad number or duration syntax"},
    {"foo{\"a.b\"=\"c\"}", "1:5: parse error: invalid label name \"a.b\""},
    {"{\"a\" \"b\"}", "1:6: parse error: unexpected string in label matching"},
    {"foo{a=~\"(\"}", "1:5: parse error: invalid regular expression"},
    {"foo{a=\"b\"}{c=\"d\"}", "1:11: parse error: unexpected \"{\""},
    /* the non-empty matcher rule */
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\".*\"}", "vector selector must contain at least one non-empty matcher"},
    {"{a=~\"x*\", b!=\"y\"}", "vector selector must contain at least one non-empty matcher"},
    {"{a!~\".+\"}", "vector selector must contain at least one non-empty matcher"},
    /* metric name twice */
    {"foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice"},
    {"foo{__name__=~\"b.*\"}", "1:1: parse error: metric name must not be set twice"},
    /* ranges and durations */
    {"foo[5x]", "1:5: parse error: bad number or duration syntax"},
    {"foo[]", "1:5: parse error: unexpected \"]\" in subquery selector, expected number or duration"},
    {"foo[0s]", "1:5: parse error: range must be greater than zero"},
    {"foo[0]", "1:5: parse error: range must be greater than zero"},
    {"foo[-5m]", "1:5: parse error: unexpected \"-\" in subquery selector"},
    {"foo[5m", "1:7: parse error: unexpected end of input in subquery or range, expected \":\" or \"]\""},
    {"foo[30m1h]", "1:5: parse error: invalid duration \"30m1h\""},
    {"foo[1h30]", "1:5: parse error: bad number or duration syntax"},
    {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
    {"foo[5m][5m:1m]", "1:1: parse error: subquery is only allowed on instant vector, got matrix"},
    {"foo[99999999999999999999y]", "1:5: parse error: invalid duration"},
    /* offset and @ */
    {"foo offset", "1:11: parse error: unexpected end of input in offset, expected number or duration"},
    {"foo offset bar", "1:12: parse error: unexpected identifier in offset"},
    {"foo offset 5m offset 1m", "1:15: parse error: offset may not be set multiple times"},
    {"foo @ 1 @ 2", "1:9: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected \"(\""},
    {"foo @ bar", "1:7: parse error: unexpected identifier in @, expected timestamp"},
    {"foo @ \"1\"", "1:7: parse error: unexpected string in @"},
    {"foo @ Inf", "1:7: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ 1e400", "1:7: parse error: timestamp out of bounds for @ modifier"},
    /* functions, operators and aggregations: type checks */
    {"rate(foo)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
    {"rate(foo[5m], 1)", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2"},
    {"nosuch(foo)", "1:1: parse error: unknown function with name \"nosuch\""},
    {"rate(foo[5m],)", "1:13: parse error: trailing commas not allowed in function call args"},
    {"sum(foo[5m])", "1:5: parse error: expected type instant vector in aggregation expression, got range vector"},
    {"topk(foo)", "1:5: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"},
    {"sum(1, foo)", "1:4: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"},
    {"topk(\"a\", foo)", "1:6: parse error: expected type scalar in aggregation parameter, got string"},
    {"count_values(1, foo)", "1:14: parse error: expected type string in aggregation parameter, got scalar"},
    {"sum by (a b) (foo)", "1:11: parse error: unexpected identifier in grouping opts, expected \",\" or \")\""},
    {"sum by (a.b) (foo)", "1:10: parse error: unexpected character: '.'"},
    {"sum()", "1:4: parse error: no arguments for aggregate expression provided"},
    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo and 1", "1:5: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"foo and on(a) group_left bar", "1:5: parse error: no grouping allowed for \"and\" operation"},
    {"1 + on(a) foo", "1:3: parse error: vector matching only allowed between instant vectors"},
    {"foo * on(a) group_left(a) bar", "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once"},
    {"foo[5m] + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"-foo[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""},
    {"(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"},
    {"foo offset 1m [5m]", "1:15: parse error: no offset modifiers allowed before range"},
    {"sum(foo) offset 1m", "1:10: parse error: offset modifier must be preceded by an instant vector selector"},
    {"(foo) @ 1", "1:7: parse error: @ modifier must be preceded by an instant vector selector"},
    {"1 +", "1:4: parse error: unexpected end of input"},
    {"foo * * bar", "1:7: parse error: unexpected \"*\""},
    {"sum by foo", "1:8: parse error: unexpected identifier in grouping opts, expected \"(\""},
    /* trailing garbage and stray tokens */
    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    {"foo}", "1:4: parse error: unexpected \"}\""},
    {"foo 1", "1:5: parse error: unexpected number \"1\""},
    {"foo 5m", "1:5: parse error: unexpected duration \"5m\""},
    {"1 2", "1:3: parse error: unexpected number \"2\""},
    {"\"a\" \"b\"", "1:5: parse error: unexpected string"},
    {"()", "1:2: parse error: unexpected right parenthesis ')'"},
    {"(foo", "1:5: parse error: unclosed left parenthesis"},
    {"foo)", "1:4: parse error: unexpected right parenthesis ')'"},
    {"Inf{a=\"b\"}", "1:4: parse error: unexpected \"{\""},
    {"1x", "1:1: parse error: bad number or duration syntax: \"1x\""},
    {"0x", "1:1: parse error: bad number or duration syntax"},
    {"1e", "1:1: parse error: bad number or duration syntax"},
    {"1..2", "1:3: parse error: unexpected number \".2\""},
    {"~", "1:1: parse error: unexpected character: '~'"},
    {"!", "1:1: parse error: unexpected character after '!'"},
    {"foo\n  bar", "2:3: parse error: unexpected identifier \"bar\""},
    {"foo{\na=\"b\",\n  b c}", "3:5: parse error: unexpected identifier in label matching"},
    /* bytes that are not UTF-8 */
    {"foo\xff", "1:4: parse error: unexpected character: byte 0xff"},
    {"\xc3\xa9", "1:1: parse error: unexpected character: byte 0xc3"},
    {"{a=\"\xff\"}", "1:5: parse error: invalid UTF-8 rune"},
    {"{a=\"ok\xc3\"}", "1:7: parse error: invalid UTF-8 rune"},
    {"{a=\"\xc0\xaf\"}", "1:5: parse error: invalid UTF-8 rune"},         /* overlong */
    {"{a=\"\xed\xa0\x80\"}", "1:5: parse error: invalid UTF-8 rune"},     /* surrogate */
    {"{a=\"\xf4\x90\x80\x80\"}", "1:5: parse error: invalid UTF-8 rune"}, /* > U+10FFFF */
    {"{a=`\xfe`}", "1:5: parse error: invalid UTF-8 rune"},
};

static void invalid_queries_give_position_and_reason(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        promql_expr *e = (promql_expr *)1;
        char err[512] = "";
        int rc = promql_parse(invalid[i].q, &e, err, sizeof err);
        if (rc != -EINVAL) {
            print_message("case %zu: \"%s\" gave %d (%s), want -EINVAL\n", i, invalid[i].q, rc,
                          rc ? err : describe(e));
            if (!rc)
                promql_expr_free(e);
            bad++;
            continue;
        }
        assert_null(e);
        if (!strstr(err, invalid[i].want)) {
            print_message("case %zu: \"%s\": message \"%s\" lacks \"%s\"\n", i, invalid[i].q,
                          err, invalid[i].want);
            bad++;
            continue;
        }
        /* Every message starts with the position. */
        int line, col;
        if (sscanf(err, "%d:%d: parse error: ", &line, &col) != 2)
            fail_msg("case %zu: message \"%s\" has no position", i, err);
    }
    if (bad)
        fail_msg("%d invalid queries misjudged", bad);
}

static void query_length_limit(void **state)
{
    (void)state;
    char *q = malloc(PROMQL_MAX_QUERY + 2);
    /* Exactly at the limit: a selector padded with a comment. */
    memset(q, 'x', PROMQL_MAX_QUERY);
    memcpy(q, "up # ", 5);
    q[PROMQL_MAX_QUERY] = '\0';
    promql_expr *e = NULL;
    char err[256] = "";
    assert_int_equal(promql_parse(q, &e, err, sizeof err), 0);
    assert_string_equal(describe(e), "vec{__name__=\"up\"}");
    promql_expr_free(e);
    /* One byte more. */
    q[PROMQL_MAX_QUERY] = 'x';
    q[PROMQL_MAX_QUERY + 1] = '\0';
    e = (promql_expr *)1;
    assert_int_equal(promql_parse(q, &e, err, sizeof err), -EINVAL);
    assert_null(e);
    assert_non_null(strstr(err, "limit"));
    free(q);
}

static void long_names_and_values(void **state)
{
    (void)state;
    char *q = malloc(PROMQL_MAX_QUERY + 1);
    promql_expr *e = NULL;
    char err[256];
    /* A metric name of 2000 characters is refused, not truncated. */
    memset(q, 'm', 2000);
    q[2000] = '\0';
    e = (promql_expr *)1;
    assert_int_equal(promql_parse(q, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "1:1: parse error: metric name too long"));
    /* A label name over LABELS_MAX_NAME. */
    int n = snprintf(q, PROMQL_MAX_QUERY, "{");
    memset(q + n, 'l', LABELS_MAX_NAME + 1);
    snprintf(q + n + LABELS_MAX_NAME + 1, 16, "=\"v\"}");
    assert_int_equal(promql_parse(q, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "1:2: parse error: label name too long"));
    /* A long value is fine. */
    n = snprintf(q, PROMQL_MAX_QUERY, "{a=\"");
    memset(q + n, 'v', 60000);
    snprintf(q + n + 60000, 16, "\"}");
    assert_int_equal(promql_parse(q, &e, err, sizeof err), 0);
    assert_int_equal(strlen(e->matchers[0].value), 60000);
    promql_expr_free(e);
    free(q);
}

static void matcher_count_limit(void **state)
{
    (void)state;
    buf q;
    buf_init(&q, 0);
    buf_puts(&q, "up{");
    for (int i = 1; i < PROMQL_MAX_MATCHERS; i++)
        buf_printf(&q, "l%d=\"v\",", i);
    buf_puts(&q, "}");
    promql_expr *e = NULL;
    char err[256] = "";
    assert_int_equal(promql_parse(q.data, &e, err, sizeof err), 0);
    assert_int_equal(e->nmatchers, PROMQL_MAX_MATCHERS);
    promql_expr_free(e);
    q.len -= 1;
    buf_puts(&q, "extra=\"v\"}");
    e = (promql_expr *)1;
    assert_int_equal(promql_parse(q.data, &e, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "too many label matchers"));
    buf_free(&q);
}

/* Builds depth '(' + "1" + depth ')' (or only the opening ones). */
static char *nested(size_t depth, int closed)
{
    char *q = malloc(2 * depth + 2);
    memset(q, '(', depth);
    q[depth] = '1';
    memset(q + depth + 1, ')', depth);
    q[closed ? 2 * depth + 1 : depth + 1] = '\0';
    return q;
}

static void deep_parentheses_are_refused_not_a_crash(void **state)
{
    (void)state;
    promql_expr *e = NULL;
    char err[256] = "";
    /* Up to the limit parses. */
    char *q = nested(PROMQL_MAX_DEPTH, 1);
    assert_int_equal(promql_parse(q, &e, err, sizeof err), 0);
    assert_string_equal(describe(e), "num(1)");
    promql_expr_free(e);
    free(q);
    /* One more is an error at the opening parenthesis past the limit. */
    q = nested(PROMQL_MAX_DEPTH + 1, 1);
    e = (promql_expr *)1;
    assert_int_equal(promql_parse(q, &e, err, sizeof err), -EINVAL);
    assert_null(e);
    char want[64];
    snprintf(want, sizeof want, "1:%d: parse error: expression nested too deeply",
             PROMQL_MAX_DEPTH + 1);
    if (!strstr(err, want))
        fail_msg("\"%s\" lacks \"%s\"", err, want);
    free(q);
    /* As deep as the length limit allows, balanced or not: refused, not a stack overflow. */
    size_t depth = (PROMQL_MAX_QUERY - 1) / 2;
    for (int closed = 0; closed < 2; closed++) {
        q = nested(depth, closed);
        e = (promql_expr *)1;
        assert_int_equal(promql_parse(q, &e, err, sizeof err), -EINVAL);
        assert_null(e);
        assert_non_null(strstr(err, "nested too deeply"));
        free(q);
    }
}

static void error_buffer_may_be_small(void **state)
{
    (void)state;
    char err[12];
    memset(err, 'X', sizeof err);
    promql_expr *e = NULL;
    assert_int_equal(promql_parse("foo{", &e, err, sizeof err), -EINVAL);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_string_equal(err, "1:5: parse ");
}

static void value_types(void **state)
{
    (void)state;
    static const struct {
        const char *q, *type;
    } cases[] = {{"1", "scalar"}, {"\"s\"", "string"}, {"up", "vector"}, {"up[1m]", "matrix"}};
    for (size_t i = 0; i < 4; i++) {
        promql_expr *e = NULL;
        char err[128];
        assert_int_equal(promql_parse(cases[i].q, &e, err, sizeof err), 0);
        assert_string_equal(promql_value_type(e), cases[i].type);
        promql_expr_free(e);
    }
    assert_string_equal(promql_type_name(PROMQL_T_SCALAR), "scalar");
    assert_string_equal(promql_type_name(PROMQL_T_STRING), "string");
    assert_string_equal(promql_type_name(PROMQL_T_VECTOR), "vector");
    assert_string_equal(promql_type_name(PROMQL_T_MATRIX), "matrix");
    promql_expr_free(NULL);
}

static void parse_under_allocation_failure(void **state)
{
    (void)state;
    static const char *qs[] = {
        "foo{a=\"b\", c=~\"d|e\", f!~\"g\"}[5m] offset 1m @ 100",
        "\"a long string literal with \\u00e9scapes\"",
        "{__name__=~\"x.*\"}",
        "sum by (a, b) (rate(x[5m])) / on(a) group_left(c) topk(3, y) or -z ^ 2",
        "label_join(max_over_time(x[1h:1m] @ start()), \"d\", \"-\", \"a\", \"b\")",
        "count_values without (e) (\"v\", x) > bool 1 unless ignoring(f) w",
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        int ok = 0;
        for (long n = 0; n < 1000 && !ok; n++) {
            promql_expr *e = (promql_expr *)1;
            char err[256] = "";
            mem_fail_after(n);
            int rc = promql_parse(qs[i], &e, err, sizeof err);
            mem_fail_after(-1);
            if (rc != 0 && rc != -ENOMEM)
                fail_msg("%s after %ld allocations: %d %s", qs[i], n, rc, err);
            if (rc == 0) {
                ok = 1;
                promql_expr_free(e);
            } else {
                assert_null(e);
            }
        }
        assert_true(ok);
    }
}

/* ---- evaluation ---------------------------------------------------------------------------- */

static int64_t T0; /* an hour ago, on a whole minute */
#define AT(sec) (T0 + (int64_t)llround((sec)*1000))

typedef struct evfix {
    tsdb *db;
    promql_querier q;
} evfix;

static void add(tsdb *db, const char *name, const char *a, const double *sec, const double *v,
                size_t n)
{
    label lv[2] = {{"__name__", name}, {"a", a}};
    labels ls = {lv, a ? 2 : 1};
    sample s[32];
    for (size_t i = 0; i < n; i++)
        s[i] = (sample){AT(sec[i]), v[i]};
    tsdb_series_in in = {ls, s, n};
    tsdb_appender *ap = NULL;
    assert_int_equal(tsdb_appender_begin(db, &ap), 0);
    assert_int_equal(tsdb_appender_add(ap, &in), 0);
    tsdb_append_stats st;
    assert_int_equal(tsdb_appender_commit(ap, &st), 0);
    assert_int_equal(st.accepted, n);
}

/* m{a="1"}: 0..5 every minute to 300 s, a stale marker at 360 s, 10 at 600 s.
 * m{a="2"}: 100 at 0 s and 200 at 900 s.  other: 7 at 30 s. */
static int ev_setup(void **state)
{
    evfix *f = calloc(1, sizeof *f);
    if (!f || tsdb_open(&f->db, NULL))
        return -1;
    f->q = promql_querier_tsdb(f->db);
    double s1[] = {0, 60, 120, 180, 240, 300, 360, 600};
    double v1[] = {0, 1, 2, 3, 4, 5, 0, 10};
    v1[6] = sample_stale_value();
    add(f->db, "m", "1", s1, v1, 8);
    double s2[] = {0, 900}, v2[] = {100, 200};
    add(f->db, "m", "2", s2, v2, 2);
    double s3[] = {30}, v3[] = {7};
    add(f->db, "other", NULL, s3, v3, 1);
    *state = f;
    return 0;
}

static int ev_teardown(void **state)
{
    evfix *f = *state;
    tsdb_close(f->db);
    free(f);
    return 0;
}

/* Renders a result: "type:" then per series `labels=v@sec,...;` (times relative to T0). */
static const char *render(const promql_result *r)
{
    static char out[4096];
    buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s:", promql_type_name(r->type));
    if (r->type == PROMQL_T_SCALAR) {
        buf_printf(&b, "%g@%.10g", r->scalar.v, (double)(r->scalar.t - T0) / 1000);
    } else if (r->type == PROMQL_T_STRING) {
        buf_printf(&b, "\"%s\"@%.10g", r->string, (double)(r->string_t - T0) / 1000);
    } else {
        for (size_t i = 0; i < r->nseries; i++) {
            if (i) {
                buf_putc(&b, ';');
                assert_true(labels_cmp(r->series[i - 1].ls, r->series[i].ls) < 0);
            }
            labels_format(r->series[i].ls, &b);
            buf_putc(&b, '=');
            if (r->type == PROMQL_T_VECTOR)
                assert_int_equal(r->series[i].n, 1);
            for (size_t k = 0; k < r->series[i].n; k++)
                buf_printf(&b, "%s%g@%.10g", k ? "," : "", r->series[i].points[k].v,
                           (double)(r->series[i].points[k].t - T0) / 1000);
        }
    }
    snprintf(out, sizeof out, "%s", b.data);
    buf_free(&b);
    return out;
}

/* Parses q (with %lld standing for T0 in seconds, if present) and evaluates it at `sec`. */
static const char *instant(evfix *f, const char *q, double sec, const promql_opts *o)
{
    char query[512];
    snprintf(query, sizeof query, q, (long long)(T0 / 1000));
    promql_expr *e = NULL;
    char err[256] = "";
    if (promql_parse(query, &e, err, sizeof err))
        fail_msg("%s: %s", query, err);
    promql_result r;
    int rc = promql_eval_instant(&f->q, e, AT(sec), o, &r, err, sizeof err);
    if (rc)
        fail_msg("%s at %g: %d %s", query, sec, rc, err);
    const char *out = render(&r);
    promql_result_free(&r);
    promql_expr_free(e);
    return out;
}

static const char *range(evfix *f, const char *q, double start, double end, double step,
                         const promql_opts *o)
{
    char query[512];
    snprintf(query, sizeof query, q, (long long)(T0 / 1000));
    promql_expr *e = NULL;
    char err[256] = "";
    if (promql_parse(query, &e, err, sizeof err))
        fail_msg("%s: %s", query, err);
    promql_result r;
    int rc = promql_eval_range(&f->q, e, AT(start), AT(end), (int64_t)(step * 1000), o, &r, err,
                               sizeof err);
    if (rc)
        fail_msg("%s: %d %s", query, rc, err);
    const char *out = render(&r);
    promql_result_free(&r);
    promql_expr_free(e);
    return out;
}

static void instant_vector_takes_newest_sample_within_lookback(void **state)
{
    evfix *f = *state;
    static const struct {
        double t;
        const char *want;
    } cases[] = {
        {0, "vector:m{a=\"1\"}=0@0;m{a=\"2\"}=100@0"},
        {59, "vector:m{a=\"1\"}=0@59;m{a=\"2\"}=100@59"},
        {60, "vector:m{a=\"1\"}=1@60;m{a=\"2\"}=100@60"},
        {299.999, "vector:m{a=\"1\"}=4@299.999;m{a=\"2\"}=100@299.999"},
        /* The window is (t - 5m, t]: a sample exactly 5 minutes old is out. */
        {300, "vector:m{a=\"1\"}=5@300"},
        {-0.001, "vector:"},
        {-100, "vector:"},
        /* The stale marker at 360 hides m{a="1"} until a new sample arrives. */
        {359.999, "vector:m{a=\"1\"}=5@359.999"},
        {360, "vector:"},
        {500, "vector:"},
        {600, "vector:m{a=\"1\"}=10@600"},
        {899.999, "vector:m{a=\"1\"}=10@899.999"},
        {900, "vector:m{a=\"2\"}=200@900"},
        {1199.999, "vector:m{a=\"2\"}=200@1199.999"},
        {1200, "vector:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = instant(f, "m", cases[i].t, NULL);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("m at %.10g: got %s, want %s", cases[i].t, got, cases[i].want);
    }
    assert_string_equal(instant(f, "m{a=\"2\"}", 0, NULL), "vector:m{a=\"2\"}=100@0");
    assert_string_equal(instant(f, "{a=~\"1|2\", __name__=\"m\"}", 60, NULL),
                        "vector:m{a=\"1\"}=1@60;m{a=\"2\"}=100@60");
    assert_string_equal(instant(f, "{__name__=~\"m|other\"}", 60, NULL),
                        "vector:m{a=\"1\"}=1@60;m{a=\"2\"}=100@60;other{}=7@60");
    assert_string_equal(instant(f, "nothing", 60, NULL), "vector:");
}

static void lookback_is_configurable(void **state)
{
    evfix *f = *state;
    promql_opts o = {.lookback_ms = 1000 * 1000};
    assert_string_equal(instant(f, "m", 1000, &o), "vector:m{a=\"1\"}=10@1000;m{a=\"2\"}=200@1000");
    o.lookback_ms = 30 * 1000;
    assert_string_equal(instant(f, "m", 60, &o), "vector:m{a=\"1\"}=1@60");
    assert_string_equal(instant(f, "m", 89.999, &o), "vector:m{a=\"1\"}=1@89.999");
    assert_string_equal(instant(f, "m", 90, &o), "vector:");
}

static void offset_and_at_move_the_window(void **state)
{
    evfix *f = *state;
    /* offset looks back, the result keeps the evaluation time. */
    assert_string_equal(instant(f, "m offset 1m", 120, NULL),
                        "vector:m{a=\"1\"}=1@120;m{a=\"2\"}=100@120");
    assert_string_equal(instant(f, "m offset 10m", 950, NULL), "vector:m{a=\"1\"}=5@950");
    assert_string_equal(instant(f, "m offset 10m", 960, NULL), "vector:"); /* stale at 360 */
    /* negative offset looks ahead */
    assert_string_equal(instant(f, "m offset -1m", 60, NULL),
                        "vector:m{a=\"1\"}=2@60;m{a=\"2\"}=100@60");
    assert_string_equal(instant(f, "m{a=\"2\"} offset -15m", 0, NULL), "vector:m{a=\"2\"}=200@0");
    /* @ pins the window whatever the evaluation time */
    assert_string_equal(instant(f, "m @ %lld", 1000, NULL),
                        "vector:m{a=\"1\"}=0@1000;m{a=\"2\"}=100@1000");
    assert_string_equal(instant(f, "m @ %lld", -5000, NULL),
                        "vector:m{a=\"1\"}=0@-5000;m{a=\"2\"}=100@-5000");
    /* @ then offset: offset is relative to the pinned time */
    assert_string_equal(instant(f, "m{a=\"1\"} @ %lld offset -3m", 5000, NULL),
                        "vector:m{a=\"1\"}=3@5000");
    assert_string_equal(instant(f, "m @ start()", 60, NULL),
                        "vector:m{a=\"1\"}=1@60;m{a=\"2\"}=100@60");
    assert_string_equal(instant(f, "m @ end()", 600, NULL), "vector:m{a=\"1\"}=10@600");
}

static void range_selector_returns_samples_in_left_open_window(void **state)
{
    evfix *f = *state;
    /* (120, 240]: the sample at 120 is out, the one at 240 in. */
    assert_string_equal(instant(f, "m[2m]", 240, NULL), "matrix:m{a=\"1\"}=3@180,4@240");
    assert_string_equal(instant(f, "m[2m]", 239.999, NULL), "matrix:m{a=\"1\"}=2@120,3@180");
    /* The stale marker is not a sample of a range. */
    assert_string_equal(instant(f, "m[2m]", 400, NULL), "matrix:m{a=\"1\"}=5@300");
    assert_string_equal(instant(f, "m[10m]", 600, NULL),
                        "matrix:m{a=\"1\"}=1@60,2@120,3@180,4@240,5@300,10@600");
    assert_string_equal(instant(f, "m[10m]", 600.001, NULL),
                        "matrix:m{a=\"1\"}=1@60,2@120,3@180,4@240,5@300,10@600");
    assert_string_equal(instant(f, "m[15m]", 900, NULL),
                        "matrix:m{a=\"1\"}=1@60,2@120,3@180,4@240,5@300,10@600;"
                        "m{a=\"2\"}=200@900");
    /* offset and @ keep the samples' own timestamps */
    assert_string_equal(instant(f, "m[2m] offset 1m", 300, NULL), "matrix:m{a=\"1\"}=3@180,4@240");
    assert_string_equal(instant(f, "m[1m] @ %lld", 3000, NULL),
                        "matrix:m{a=\"1\"}=0@0;m{a=\"2\"}=100@0");
    /* only a stale marker in the window: no series */
    assert_string_equal(instant(f, "m{a=\"1\"}[30s]", 370, NULL), "matrix:");
    assert_string_equal(instant(f, "m[1ms]", 60, NULL), "matrix:m{a=\"1\"}=1@60");
    assert_string_equal(instant(f, "m[1ms]", 60.001, NULL), "matrix:");
}

static void range_query_over_steps_with_gaps(void **state)
{
    evfix *f = *state;
    assert_string_equal(
        range(f, "m", 0, 1200, 60, NULL),
        "matrix:m{a=\"1\"}=0@0,1@60,2@120,3@180,4@240,5@300,10@600,10@660,10@720,10@780,10@840;"
        "m{a=\"2\"}=100@0,100@60,100@120,100@180,100@240,200@900,200@960,200@1020,200@1080,"
        "200@1140");
    /* Steps that do not land on sample times. */
    assert_string_equal(range(f, "m{a=\"1\"}", 30, 330, 100, NULL),
                        "matrix:m{a=\"1\"}=0@30,2@130,3@230,5@330");
    /* A single step is an instant evaluation. */
    assert_string_equal(range(f, "m", 60, 60, 15, NULL),
                        "matrix:m{a=\"1\"}=1@60;m{a=\"2\"}=100@60");
    /* A window with no data at all. */
    assert_string_equal(range(f, "m", 3000, 3600, 60, NULL), "matrix:");
    /* end not on a step: the last step is the one at or before end */
    assert_string_equal(range(f, "other", 0, 100, 45, NULL), "matrix:other{}=7@45,7@90");
    /* offset and @ in a range query */
    assert_string_equal(range(f, "m{a=\"1\"} offset 1m", 60, 180, 60, NULL),
                        "matrix:m{a=\"1\"}=0@60,1@120,2@180");
    assert_string_equal(range(f, "m{a=\"1\"} @ start()", 120, 240, 60, NULL),
                        "matrix:m{a=\"1\"}=2@120,2@180,2@240");
    assert_string_equal(range(f, "m{a=\"1\"} @ end()", 120, 240, 60, NULL),
                        "matrix:m{a=\"1\"}=4@120,4@180,4@240");
    assert_string_equal(range(f, "m{a=\"1\"} @ %lld", 600, 720, 60, NULL),
                        "matrix:m{a=\"1\"}=0@600,0@660,0@720");
}

static void scalars_and_strings(void **state)
{
    evfix *f = *state;
    assert_string_equal(instant(f, "42", 100, NULL), "scalar:42@100");
    assert_string_equal(instant(f, "-1.5e3", 0, NULL), "scalar:-1500@0");
    assert_string_equal(instant(f, "0x10", 0, NULL), "scalar:16@0");
    assert_string_equal(instant(f, "Inf", 0, NULL), "scalar:inf@0");
    assert_string_equal(instant(f, "(-Inf)", 0, NULL), "scalar:-inf@0");
    assert_string_equal(instant(f, "NaN", 0, NULL), "scalar:nan@0");
    assert_string_equal(instant(f, "\"hi there\"", 5, NULL), "string:\"hi there\"@5");
    /* In a range query a scalar becomes one label-less series with a point per step. */
    assert_string_equal(range(f, "42", 0, 120, 60, NULL), "matrix:{}=42@0,42@60,42@120");
    assert_string_equal(range(f, "(7)", 10, 10, 1, NULL), "matrix:{}=7@10");
}

static void range_query_rejects_matrix_and_string_and_bad_steps(void **state)
{
    evfix *f = *state;
    static const struct {
        const char *q;
        double start, end, step;
        const char *why;
    } cases[] = {
        {"m[5m]", 0, 60, 15, "range vector"},
        {"\"s\"", 0, 60, 15, "string"},
        {"m", 0, 60, 0, "step"},
        {"m", 0, 60, -15, "step"},
        {"m", 60, 0, 15, "end"},
        {"1", 60, 59.999, 1, "end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        promql_expr *e = NULL;
        char err[256] = "";
        assert_int_equal(promql_parse(cases[i].q, &e, err, sizeof err), 0);
        promql_result r;
        int rc = promql_eval_range(&f->q, e, AT(cases[i].start), AT(cases[i].end),
                                   (int64_t)(cases[i].step * 1000), NULL, &r, err, sizeof err);
        if (rc != -EINVAL || !strstr(err, cases[i].why))
            fail_msg("case %zu: rc %d, err \"%s\"", i, rc, err);
        assert_int_equal(r.nseries, 0);
        assert_null(r.series);
        promql_result_free(&r);
        promql_expr_free(e);
    }
}

static void sample_limit_gives_e2big(void **state)
{
    evfix *f = *state;
    static const struct {
        const char *q;
        int range;
        size_t max;
        int rc;
    } cases[] = {
        /* instant: m loads the samples of (t - 5m, t] = 0..240 for a="1", 0 for a="2" at 240 */
        {"m", 0, 6, 0},
        {"m", 0, 5, -E2BIG},
        /* (0, 600]: 60..300, the stale marker at 360 and 600 are loaded */
        {"m[10m]", 0, 7, 0},
        {"m[10m]", 0, 6, -E2BIG},
        /* range over 0..1200 by 60: 21 points returned; loading stays well under */
        {"m", 1, 30, 0},
        {"m", 1, 15, -E2BIG},
        {"42", 1, 21, 0},
        {"42", 1, 20, -E2BIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        promql_expr *e = NULL;
        char err[256] = "";
        assert_int_equal(promql_parse(cases[i].q, &e, err, sizeof err), 0);
        promql_opts o = {.max_samples = cases[i].max};
        promql_result r;
        int rc = cases[i].range
                     ? promql_eval_range(&f->q, e, AT(0), AT(1200), 60000, &o, &r, err, sizeof err)
                     : promql_eval_instant(&f->q, e, AT(cases[i].q[1] == '[' ? 600 : 240), &o, &r,
                                           err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s, max %zu): rc %d (%s), want %d", i, cases[i].q, cases[i].max, rc,
                     err, cases[i].rc);
        if (rc)
            assert_non_null(strstr(err, "too many samples"));
        promql_result_free(&r);
        promql_expr_free(e);
    }
}

static void eval_under_allocation_failure(void **state)
{
    evfix *f = *state;
    static const char *qs[] = {
        "m",
        "m[10m]",
        "42",
        "\"s\"",
        "sum by (a) (rate(m[5m])) * on() group_left sum(other) + scalar(other)",
        "topk(1, m) or label_replace(m, \"b\", \"$1\", \"a\", \"(.*)\")",
        "histogram_quantile(0.5, label_replace(m, \"le\", \"$1\", \"a\", \"(.*)\"))",
        "max_over_time(m[5m:1m]) > bool 1",
        "count_values(\"v\", m) unless quantile(0.5, m)",
        "sort_desc(-m) + on(a) group_right timestamp(m)",
        "absent(nothing{a=\"1\"}) and vector(1)",
        "label_join(m, \"j\", \"-\", \"a\", \"__name__\") / ignoring(j) m",
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        for (int is_range = 0; is_range < 2; is_range++) {
            if (is_range && (i == 1 || i == 3))
                continue;
            promql_expr *e = NULL;
            char err[256];
            assert_int_equal(promql_parse(qs[i], &e, err, sizeof err), 0);
            int ok = 0;
            for (long n = 0; n < 5000 && !ok; n++) {
                promql_result r;
                mem_fail_after(n);
                int rc = is_range
                             ? promql_eval_range(&f->q, e, AT(0), AT(1200), 60000, NULL, &r, err,
                                                 sizeof err)
                             : promql_eval_instant(&f->q, e, AT(600), NULL, &r, err, sizeof err);
                mem_fail_after(-1);
                if (rc != 0 && rc != -ENOMEM)
                    fail_msg("%s: rc %d %s", qs[i], rc, err);
                ok = rc == 0;
                promql_result_free(&r);
            }
            assert_true(ok);
            promql_expr_free(e);
        }
    }
}

/* ---- the full grammar: canonical text (Prometheus's String(), /api/v1/format_query) ------- */

static const struct {
    const char *q;
    const char *want;
} formats[] = {
    {"sum(rate(foo{a=\"b\"}[5m]))by(x)+1e6", "sum by (x) (rate(foo{a=\"b\"}[5m])) + 1e+06"},
    {"a * on(b) group_left(c) d", "a * on (b) group_left (c) d"},
    {"a * ignoring(b) group_right d", "a * ignoring (b) group_right () d"},
    {"a / on() b", "a / on () b"},
    {"a + ignoring() b", "a + b"},
    {"-2^2", "-2 ^ 2"},
    {"(-2)^2", "(-2) ^ 2"},
    {"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
    {"- foo", "-foo"},
    {"+foo", "+foo"},
    {"foo offset -5m @ start()", "foo @ start() offset -5m"},
    {"x[1h30m:] @ 100", "x[1h30m:] @ 100.000"},
    {"x[5m:30s] offset 1m", "x[5m:30s] offset 1m"},
    {"rate(x[5m])[30m:1m]", "rate(x[5m])[30m:1m]"},
    {"topk(5, x) without (a)", "topk without (a) (5, x)"},
    {"sum by () (x)", "sum(x)"},
    {"count_values(\"v\", x)", "count_values(\"v\", x)"},
    {"quantile(0.9, x)", "quantile(0.9, x)"},
    {"\"a\\nb\"", "\"a\\nb\""},
    {"'it\\'s'", "\"it's\""},
    {"foo[90]", "foo[1m30s]"},
    {"foo[1.5]", "foo[1s500ms]"},
    {"foo[2w]", "foo[2w]"},
    {"foo[14d]", "foo[2w]"},
    {"foo[10d]", "foo[10d]"},
    {"1 > bool 2", "1 > bool 2"},
    {"a and ignoring(x) b", "a and ignoring (x) b"},
    {"a or b unless c", "a or b unless c"},
    {"a UNLESS b", "a unless b"},
    {"a ATAN2 b", "a atan2 b"},
    {"SUM(x) BY (a)", "sum by (a) (x)"},
    {"{__name__=\"up\"}", "{__name__=\"up\"}"},
    {"up{job=~\"a|b\",x!=\"\"}", "up{job=~\"a|b\", x!=\"\"}"},
    {"0x10", "16"},
    {"010", "8"},
    {"5m", "300"},
    {"1e-7", "1e-07"},
    {"123456789", "1.23456789e+08"},
    {"0.0001", "0.0001"},
    {"Inf", "+Inf"},
    {"-Inf", "-Inf"},
    {"NaN", "NaN"},
    {"(a)", "(a)"},
    {"label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
     "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"},
    {"time()", "time()"},
    {"day_of_week()", "day_of_week()"},
    {"histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
     "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))"},
    {"sum without (a, b) (x)", "sum without (a, b) (x)"},
    {"limitk(2, x)", "limitk(2, x)"},
    {"x @ end() offset 1h", "x @ end() offset 1h"},
    {"x[5m] offset 1m @ 10", "x[5m] @ 10.000 offset 1m"},
    {"{\"up\", job=\"x\"}", "{__name__=\"up\", job=\"x\"}"},
};

static void queries_format_canonically(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        promql_expr *e = NULL;
        char err[256] = "";
        if (promql_parse(formats[i].q, &e, err, sizeof err)) {
            print_message("case %zu: \"%s\" refused: %s\n", i, formats[i].q, err);
            bad++;
            continue;
        }
        buf b;
        buf_init(&b, 0);
        assert_int_equal(promql_format(e, &b), 0);
        buf_putc(&b, '\0');
        if (strcmp(b.data, formats[i].want) != 0) {
            print_message("case %zu: \"%s\" formats as \"%s\", want \"%s\"\n", i, formats[i].q,
                          b.data, formats[i].want);
            bad++;
        }
        /* The canonical text parses to the same canonical text. */
        promql_expr *e2 = NULL;
        assert_int_equal(promql_parse(b.data, &e2, err, sizeof err), 0);
        buf b2;
        buf_init(&b2, 0);
        promql_format(e2, &b2);
        buf_putc(&b2, '\0');
        assert_string_equal(b.data, b2.data);
        buf_free(&b);
        buf_free(&b2);
        promql_expr_free(e);
        promql_expr_free(e2);
    }
    if (bad)
        fail_msg("%d queries formatted wrongly", bad);
}

/* Types of the new node kinds. */
static void expression_types(void **state)
{
    (void)state;
    static const struct {
        const char *q, *type;
    } cases[] = {
        {"rate(x[5m])", "vector"}, {"x[5m:1m]", "matrix"},  {"1 + 2", "scalar"},
        {"x + 1", "vector"},       {"time()", "scalar"},    {"-(1)", "scalar"},
        {"sum(x)", "vector"},      {"scalar(x)", "scalar"}, {"(\"s\")", "string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        promql_expr *e = NULL;
        char err[256];
        assert_int_equal(promql_parse(cases[i].q, &e, err, sizeof err), 0);
        if (strcmp(promql_value_type(e), cases[i].type) != 0)
            fail_msg("%s: %s, want %s", cases[i].q, promql_value_type(e), cases[i].type);
        promql_expr_free(e);
    }
}

static void operators_aggregations_and_functions(void **state)
{
    evfix *f = *state;
    assert_string_equal(instant(f, "sum(m)", 60, NULL), "vector:{}=101@60");
    assert_string_equal(instant(f, "m * 2", 60, NULL), "vector:{a=\"1\"}=2@60;{a=\"2\"}=200@60");
    assert_string_equal(instant(f, "m > 50", 60, NULL), "vector:m{a=\"2\"}=100@60");
    assert_string_equal(instant(f, "m > bool 50", 60, NULL),
                        "vector:{a=\"1\"}=0@60;{a=\"2\"}=1@60");
    assert_string_equal(instant(f, "count(m) + on() group_left other", 60, NULL),
                        "vector:{}=9@60");
    assert_string_equal(instant(f, "max_over_time(m[5m])", 300, NULL), "vector:{a=\"1\"}=5@300");
    assert_string_equal(instant(f, "last_over_time(m[5m])", 300, NULL),
                        "vector:m{a=\"1\"}=5@300");
    assert_string_equal(instant(f, "scalar(m{a=\"2\"})", 0, NULL), "scalar:100@0");
    assert_string_equal(instant(f, "scalar(m)", 0, NULL), "scalar:nan@0");
    assert_string_equal(instant(f, "absent(nothing{a=\"x\"})", 0, NULL), "vector:{a=\"x\"}=1@0");
    assert_string_equal(instant(f, "sum_over_time(m{a=\"1\"}[3m:1m])", 180, NULL),
                        "vector:{a=\"1\"}=6@180");
    assert_string_equal(range(f, "sum(m)", 0, 120, 60, NULL),
                        "matrix:{}=100@0,101@60,102@120");
    assert_string_equal(range(f, "time() - %lld", 0, 120, 60, NULL),
                        "matrix:{}=0@0,60@60,120@120");
    assert_string_equal(range(f, "m{a=\"1\"} @ start()", 60, 180, 60, NULL),
                        "matrix:m{a=\"1\"}=1@60,1@120,1@180");
}

/* Evaluates q at sec and returns the error code (0 on success), the message in err. */
static int eval_rc(evfix *f, const char *q, double sec, const promql_opts *o, char *err,
                   size_t errlen)
{
    promql_expr *e = NULL;
    if (promql_parse(q, &e, err, errlen))
        fail_msg("%s: %s", q, err);
    promql_result r;
    int rc = promql_eval_instant(&f->q, e, AT(sec), o, &r, err, errlen);
    if (!rc)
        promql_result_free(&r);
    promql_expr_free(e);
    return rc;
}

static void execution_errors_and_limits(void **state)
{
    evfix *f = *state;
    char err[512];
    assert_int_equal(eval_rc(f, "m + ignoring(a) m", 60, NULL, err, sizeof err), -EDOM);
    assert_non_null(strstr(err, "many-to-many matching not allowed"));
    assert_int_equal(eval_rc(f, "-{__name__=~\"m|other\", a=\"\"} or -m", 60, NULL, err,
                             sizeof err),
                     0);
    assert_int_equal(eval_rc(f, "label_replace(m, \"a\", \"\", \"\", \"\")", 60, NULL, err,
                             sizeof err),
                     -EDOM);
    assert_string_equal(err, "vector cannot contain metrics with the same labelset");
    assert_int_equal(eval_rc(f, "count_values(\"1x\", m)", 60, NULL, err, sizeof err), -EDOM);
    assert_int_equal(eval_rc(f, "topk(NaN, m)", 60, NULL, err, sizeof err), -EDOM);
    promql_opts small = {.max_samples = 1000};
    assert_int_equal(eval_rc(f, "count_over_time(m[1h:1s])", 3600, &small, err, sizeof err),
                     -E2BIG);
    assert_non_null(strstr(err, "too many samples"));
    promql_opts quick = {.timeout_ms = 1};
    assert_int_equal(eval_rc(f, "count_over_time(vector(1)[1w:100ms])", 3600, &quick, err,
                             sizeof err),
                     -ETIMEDOUT);
    assert_string_equal(err, "query timed out in expression evaluation");
}

static void warnings_and_infos(void **state)
{
    evfix *f = *state;
    promql_expr *e = NULL;
    char err[256];
    const char *q = "rate(m[5m])";
    assert_int_equal(promql_parse(q, &e, err, sizeof err), 0);
    promql_result r;
    promql_opts o = {.query = q};
    assert_int_equal(promql_eval_instant(&f->q, e, AT(300), &o, &r, err, sizeof err), 0);
    assert_int_equal(r.ninfos, 1);
    assert_string_equal(r.infos[0], "PromQL info: metric might not be a counter, name does not "
                                    "end in _total/_sum/_count/_bucket: \"m\" (1:6)");
    promql_result_free(&r);
    promql_expr_free(e);
    q = "quantile(2, m)";
    assert_int_equal(promql_parse(q, &e, err, sizeof err), 0);
    o.query = q;
    assert_int_equal(promql_eval_instant(&f->q, e, AT(60), &o, &r, err, sizeof err), 0);
    assert_int_equal(r.nwarnings, 1);
    assert_string_equal(r.warnings[0],
                        "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)");
    promql_result_free(&r);
    promql_expr_free(e);
}

int main(void)
{
    log_set_level(LOG_WARN);
    T0 = (timeutil_now_ms() - 3600 * 1000) / 60000 * 60000;
#define E(f) cmocka_unit_test_setup_teardown(f, ev_setup, ev_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_queries_parse_to_the_expected_tree),
        cmocka_unit_test(invalid_queries_give_position_and_reason),
        cmocka_unit_test(query_length_limit),
        cmocka_unit_test(long_names_and_values),
        cmocka_unit_test(matcher_count_limit),
        cmocka_unit_test(deep_parentheses_are_refused_not_a_crash),
        cmocka_unit_test(error_buffer_may_be_small),
        cmocka_unit_test(value_types),
        cmocka_unit_test(parse_under_allocation_failure),
        cmocka_unit_test(queries_format_canonically),
        cmocka_unit_test(expression_types),
        E(instant_vector_takes_newest_sample_within_lookback),
        E(lookback_is_configurable),
        E(offset_and_at_move_the_window),
        E(range_selector_returns_samples_in_left_open_window),
        E(range_query_over_steps_with_gaps),
        E(scalars_and_strings),
        E(range_query_rejects_matrix_and_string_and_bad_steps),
        E(sample_limit_gives_e2big),
        E(eval_under_allocation_failure),
        E(operators_aggregations_and_functions),
        E(execution_errors_and_limits),
        E(warnings_and_infos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
