/* format: a parsed expression back to PromQL text, in Prometheus's canonical form (what its
 * String() methods and /api/v1/format_query produce): numbers as Go's %v, strings quoted as
 * Go's strconv.Quote, durations as Prometheus's model.Duration, `sum by (a) (x)`. */
#include "func.h"
#include "parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Go's fmt %v of a float64 (strconv's 'g' with the shortest precision): the shortest digits
 * that read back exactly, in exponent form when the decimal exponent is < -4 or >= 6. */
static void go_float(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(out, cap, signbit(v) ? "-0" : "0");
        return;
    }
    char e[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is [-]d[.ddd]e[+-]xx: split digits and exponent. */
    const char *s = e;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    char digits[32];
    size_t nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    digits[nd] = '\0';
    int exp = (int)strtol(s + 1, NULL, 10);
    if (exp < -4 || exp >= 6) {
        char mant[40];
        if (nd > 1)
            snprintf(mant, sizeof mant, "%c.%s", digits[0], digits + 1);
        else
            snprintf(mant, sizeof mant, "%c", digits[0]);
        snprintf(out, cap, "%s%se%c%02d", neg ? "-" : "", mant, exp < 0 ? '-' : '+', abs(exp));
        return;
    }
    char buf[64];
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    if (exp < 0) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (int i = -1; i > exp; i--)
            buf[k++] = '0';
        for (size_t i = 0; i < nd; i++)
            buf[k++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++)
            buf[k++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)exp + 1 < nd) {
            buf[k++] = '.';
            for (size_t i = (size_t)exp + 1; i < nd; i++)
                buf[k++] = digits[i];
        }
    }
    buf[k] = '\0';
    snprintf(out, cap, "%s", buf);
}

/* Prometheus's model.Duration String(). */
static void put_duration(buf *b, int64_t ms)
{
    if (ms == 0) {
        buf_puts(b, "0s");
        return;
    }
    if (ms < 0) {
        buf_putc(b, '-');
        ms = -ms;
    }
    static const struct {
        const char *unit;
        int64_t mult;
        int exact;
    } units[] = {
        {"y", 365LL * 24 * 3600 * 1000, 1},
        {"w", 7LL * 24 * 3600 * 1000, 1},
        {"d", 24LL * 3600 * 1000, 0},
        {"h", 3600LL * 1000, 0},
        {"m", 60LL * 1000, 0},
        {"s", 1000, 0},
        {"ms", 1, 0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (units[i].exact && ms % units[i].mult != 0)
            continue;
        int64_t v = ms / units[i].mult;
        if (v > 0) {
            buf_printf(b, "%lld%s", (long long)v, units[i].unit);
            ms -= v * units[i].mult;
        }
    }
}

/* Go's strconv.Quote for valid UTF-8 input. */
static void put_quoted(buf *b, const char *s)
{
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\a':
            buf_puts(b, "\\a");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\v':
            buf_puts(b, "\\v");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                buf_printf(b, "\\x%02x", *p);
            else
                buf_putc(b, (char)*p);
        }
    }
    buf_putc(b, '"');
}

static void put_names(buf *b, const promql_names *n)
{
    buf_putc(b, '(');
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            buf_puts(b, ", ");
        buf_puts(b, n->v[i]);
    }
    buf_putc(b, ')');
}

/* " @ <time>" then " offset <d>", in Prometheus's order. */
static void put_modifiers(buf *b, const promql_expr *e)
{
    switch (e->at) {
    case PROMQL_AT_TIME:
        buf_printf(b, " @ %.3f", (double)e->at_ms / 1000.0);
        break;
    case PROMQL_AT_START:
        buf_puts(b, " @ start()");
        break;
    case PROMQL_AT_END:
        buf_puts(b, " @ end()");
        break;
    case PROMQL_AT_NONE:
        break;
    }
    if (e->offset_ms > 0) {
        buf_puts(b, " offset ");
        put_duration(b, e->offset_ms);
    } else if (e->offset_ms < 0) {
        buf_puts(b, " offset -");
        put_duration(b, -e->offset_ms);
    }
}

static void put_selector(buf *b, const promql_expr *e)
{
    size_t first = 0;
    if (e->named) {
        buf_puts(b, e->matchers[0].value);
        first = 1;
    }
    if (first < e->nmatchers || !e->named) {
        buf_putc(b, '{');
        for (size_t i = first; i < e->nmatchers; i++) {
            if (i > first)
                buf_puts(b, ", ");
            buf_puts(b, e->matchers[i].name);
            buf_puts(b, tsdb_match_op(e->matchers[i].type));
            put_quoted(b, e->matchers[i].value);
        }
        buf_putc(b, '}');
    }
}

static void format(const promql_expr *e, buf *b)
{
    char num[64];
    switch (e->type) {
    case PROMQL_NUMBER:
        go_float(e->number, num, sizeof num);
        buf_puts(b, num);
        break;
    case PROMQL_STRING:
        put_quoted(b, e->string);
        break;
    case PROMQL_VECTOR_SELECTOR:
        put_selector(b, e);
        put_modifiers(b, e);
        break;
    case PROMQL_MATRIX_SELECTOR:
        put_selector(b, e);
        buf_putc(b, '[');
        put_duration(b, e->range_ms);
        buf_putc(b, ']');
        put_modifiers(b, e);
        break;
    case PROMQL_SUBQUERY:
        format(e->lhs, b);
        buf_putc(b, '[');
        put_duration(b, e->range_ms);
        buf_putc(b, ':');
        if (e->step_ms)
            put_duration(b, e->step_ms);
        buf_putc(b, ']');
        put_modifiers(b, e);
        break;
    case PROMQL_PAREN:
        buf_putc(b, '(');
        format(e->lhs, b);
        buf_putc(b, ')');
        break;
    case PROMQL_UNARY:
        buf_puts(b, promql_op_name(e->op));
        format(e->lhs, b);
        break;
    case PROMQL_BINARY:
        format(e->lhs, b);
        buf_printf(b, " %s", promql_op_name(e->op));
        if (e->return_bool)
            buf_puts(b, " bool");
        if (e->match_labels.n > 0 || e->on) {
            buf_puts(b, e->on ? " on " : " ignoring ");
            put_names(b, &e->match_labels);
            if (e->card == PROMQL_CARD_MANY_TO_ONE || e->card == PROMQL_CARD_ONE_TO_MANY) {
                buf_puts(b, e->card == PROMQL_CARD_MANY_TO_ONE ? " group_left " : " group_right ");
                put_names(b, &e->include_labels);
            }
        }
        buf_putc(b, ' ');
        format(e->rhs, b);
        break;
    case PROMQL_CALL:
        buf_puts(b, e->func->name);
        buf_putc(b, '(');
        for (size_t i = 0; i < e->nargs; i++) {
            if (i)
                buf_puts(b, ", ");
            format(e->args[i], b);
        }
        buf_putc(b, ')');
        break;
    case PROMQL_AGGREGATE:
        buf_puts(b, promql_op_name(e->op));
        if (e->without) {
            buf_puts(b, " without ");
            put_names(b, &e->grouping);
            buf_putc(b, ' ');
        } else if (e->grouping.n > 0) {
            buf_puts(b, " by ");
            put_names(b, &e->grouping);
            buf_putc(b, ' ');
        }
        buf_putc(b, '(');
        if (e->param) {
            format(e->param, b);
            buf_puts(b, ", ");
        }
        format(e->lhs, b);
        buf_putc(b, ')');
        break;
    }
}

int promql_format(const promql_expr *e, buf *out)
{
    format(e, out);
    return out->err;
}
