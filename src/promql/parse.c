/* parse: a hand-written lexer and precedence-climbing parser for PromQL.
 *
 * The lexer works on the raw bytes and produces one token at a time; the parser pulls tokens
 * and builds promql_expr nodes, checking types as each node is made (Prometheus's checkAST),
 * so a tree that comes out of promql_parse is ready to evaluate. Binary operators use
 * precedence climbing with Prometheus's levels (or < and/unless < comparisons < +,- <
 * *,/,%,atan2 < ^, ^ right-associative); unary minus takes the precedence of `*`, so
 * -a^b is -(a^b) and -a*b is (-a)*b; range brackets, offset and @ bind tighter than any
 * operator. */
#include "parse.h"

#include "../lib/labels.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "func.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum tok_type {
    T_EOF,
    T_IDENT,    /* metric name, label name or keyword */
    T_NUMBER,
    T_STRING,
    T_DURATION,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_COLON,
    T_EQ,       /* = */
    T_NEQ,      /* != */
    T_EQ_RE,    /* =~ */
    T_NEQ_RE,   /* !~ */
    T_AT,
    T_MINUS,
    T_PLUS,
    T_MUL,
    T_DIV,
    T_MOD,
    T_POW,
    T_EQLC,     /* == */
    T_GTR,
    T_LSS,
    T_GTE,
    T_LTE,
} tok_type;

typedef struct token {
    tok_type type;
    int pos;
    const char *start;
    size_t len;
    double number;
    int64_t duration;
    char *str; /* T_STRING: unescaped value, owned by the parser */
} token;

typedef struct parser {
    const char *q;
    size_t len;
    size_t off;
    token tok;    /* current token */
    char *err;
    size_t errlen;
    int failed;
    int depth;    /* recursion depth of the parser, capped at 2 * PROMQL_MAX_DEPTH */
    int parens;   /* open parentheses, capped at PROMQL_MAX_DEPTH */
    int brackets; /* open '[' (':' is a separator inside them, not part of a name) */
} parser;

static int fail(parser *p, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error as "1:<col>: parse error: <reason>" (col is 1-based). */
static int fail(parser *p, int pos, const char *fmt, ...)
{
    if (p->failed)
        return -EINVAL;
    p->failed = 1;
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    /* Queries may span lines: report line and column like Prometheus. */
    int line = 1, col = 1;
    for (int i = 0; i < pos && (size_t)i < p->len; i++) {
        if (p->q[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(p->err, p->errlen, "%d:%d: parse error: %s", line, col, reason);
    return -EINVAL;
}

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

static int is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == ':';
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned long cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp < 0xe000))
        return 0;
    return len;
}

/* Reads a quoted string at p->off into tok->str, handling Go-style escapes. */
static int lex_string(parser *p, token *t)
{
    char quote = p->q[p->off];
    size_t i = p->off + 1;
    buf out;
    buf_init(&out, PROMQL_MAX_QUERY);
    while (i < p->len && p->q[i] != quote) {
        char c = p->q[i];
        if (quote != '`' && c == '\n') {
            buf_free(&out);
            return fail(p, (int)i, "unterminated quoted string %c", quote);
        }
        if (c == '\\' && quote != '`') {
            if (i + 1 >= p->len) {
                buf_free(&out);
                return fail(p, (int)p->off, "unterminated quoted string %c", quote);
            }
            int bs = (int)i; /* escape errors point at the backslash */
            char e = p->q[++i];
            switch (e) {
            case 'n': buf_putc(&out, '\n'); break;
            case 't': buf_putc(&out, '\t'); break;
            case 'r': buf_putc(&out, '\r'); break;
            case 'a': buf_putc(&out, '\a'); break;
            case 'b': buf_putc(&out, '\b'); break;
            case 'f': buf_putc(&out, '\f'); break;
            case 'v': buf_putc(&out, '\v'); break;
            case '\\': buf_putc(&out, '\\'); break;
            case '"': buf_putc(&out, '"'); break;
            case '\'': buf_putc(&out, '\''); break;
            case 'x':
            case 'u':
            case 'U': {
                int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (i + (size_t)nd >= p->len) {
                    buf_free(&out);
                    return fail(p, bs, "invalid escape sequence in string");
                }
                unsigned long cp = 0;
                for (int k = 1; k <= nd; k++) {
                    int h = p->q[i + (size_t)k];
                    if (!isxdigit(h)) {
                        buf_free(&out);
                        return fail(p, bs, "invalid escape sequence in string");
                    }
                    cp = cp * 16 + (unsigned long)(isdigit(h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                i += (size_t)nd;
                /* A NUL would silently cut the string short in C: refuse it. */
                if (cp == 0) {
                    buf_free(&out);
                    return fail(p, bs, "NUL character in string not supported");
                }
                if (e != 'x' && cp >= 0xd800 && cp < 0xe000) {
                    buf_free(&out);
                    return fail(p, bs, "invalid Unicode code point in string");
                }
                if (e == 'x') {
                    buf_putc(&out, (char)cp);
                } else if (cp < 0x80) {
                    buf_putc(&out, (char)cp);
                } else if (cp < 0x800) {
                    buf_putc(&out, (char)(0xc0 | (cp >> 6)));
                    buf_putc(&out, (char)(0x80 | (cp & 0x3f)));
                } else if (cp < 0x10000) {
                    buf_putc(&out, (char)(0xe0 | (cp >> 12)));
                    buf_putc(&out, (char)(0x80 | ((cp >> 6) & 0x3f)));
                    buf_putc(&out, (char)(0x80 | (cp & 0x3f)));
                } else if (cp <= 0x10ffff) {
                    buf_putc(&out, (char)(0xf0 | (cp >> 18)));
                    buf_putc(&out, (char)(0x80 | ((cp >> 12) & 0x3f)));
                    buf_putc(&out, (char)(0x80 | ((cp >> 6) & 0x3f)));
                    buf_putc(&out, (char)(0x80 | (cp & 0x3f)));
                } else {
                    buf_free(&out);
                    return fail(p, bs, "invalid Unicode code point in string");
                }
                break;
            }
            default:
                buf_free(&out);
                return fail(p, bs, "unknown escape sequence '\\%c'", e);
            }
            i++;
            continue;
        }
        if ((unsigned char)c >= 0x80) {
            size_t ul = utf8_len((const unsigned char *)p->q + i, p->len - i);
            if (!ul) {
                buf_free(&out);
                return fail(p, (int)i, "invalid UTF-8 rune in string");
            }
            buf_append(&out, p->q + i, ul);
            i += ul;
            continue;
        }
        buf_putc(&out, c);
        i++;
    }
    if (i >= p->len) {
        buf_free(&out);
        return fail(p, (int)p->off, "unterminated quoted string %c", quote);
    }
    if (out.err) {
        buf_free(&out);
        return out.err == -ENOMEM ? -ENOMEM : fail(p, (int)p->off, "string too long");
    }
    if (buf_reserve(&out, 1)) {
        buf_free(&out);
        return -ENOMEM;
    }
    out.data[out.len] = '\0';
    t->type = T_STRING;
    t->str = buf_steal(&out, NULL);
    if (!t->str)
        return -ENOMEM;
    p->off = i + 1;
    return 0;
}

/* Length of the duration at s (one or more <digits><unit>), or 0 if there is none. */
static size_t duration_len(const char *s, size_t max)
{
    size_t i = 0;
    while (i < max && isdigit((unsigned char)s[i])) {
        size_t j = i;
        while (j < max && isdigit((unsigned char)s[j]))
            j++;
        if (j + 1 < max && s[j] == 'm' && s[j + 1] == 's')
            j += 2;
        else if (j < max && s[j] && strchr("smhdwy", s[j]))
            j++;
        else
            return i;
        i = j;
    }
    return i;
}


/* Converts number text as Prometheus does (Go's ParseInt with base prefix, then ParseFloat):
 * 0x1f is hex, 0755 is octal, everything else decimal. Returns 0 or -EINVAL. */
static int number_value(const char *s, double *out)
{
    char *end;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (!isxdigit((unsigned char)s[2]))
            return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s + 2, &end, 16);
        if (*end || errno)
            return -EINVAL;
        *out = (double)v;
        return 0;
    }
    if (s[0] == '0' && s[1] && strspn(s, "01234567") == strlen(s)) {
        errno = 0;
        unsigned long long v = strtoull(s, &end, 8);
        if (*end || errno)
            return -EINVAL;
        *out = (double)v;
        return 0;
    }
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Length of a number at s as Prometheus's scanNumber reads it (hex, decimals, exponent). */
static size_t number_len(const char *s, size_t rest)
{
    size_t i = 0;
    int hex = 0;
    if (rest >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        hex = 1;
        i = 2;
    }
    while (i < rest && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])))
        i++;
    if (i < rest && s[i] == '.') {
        i++;
        while (i < rest && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])))
            i++;
    }
    if (!hex && i < rest && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < rest && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < rest && isdigit((unsigned char)s[i]))
            i++;
    }
    return i;
}

/* Advances to the next token. */
static int lex(parser *p)
{
    token *t = &p->tok;
    mem_free(t->str);
    memset(t, 0, sizeof *t);
    for (;;) {
        while (p->off < p->len && isspace((unsigned char)p->q[p->off]))
            p->off++;
        /* Comments run to the end of the line. */
        if (p->off < p->len && p->q[p->off] == '#') {
            while (p->off < p->len && p->q[p->off] != '\n')
                p->off++;
            continue;
        }
        break;
    }
    t->pos = (int)p->off;
    t->start = p->q + p->off;
    if (p->off >= p->len) {
        t->type = T_EOF;
        return 0;
    }
    const char *s = p->q + p->off;
    size_t rest = p->len - p->off;
    char c = *s;
    t->len = 1;
    switch (c) {
    case '{': t->type = T_LBRACE; p->off++; return 0;
    case '}': t->type = T_RBRACE; p->off++; return 0;
    case '[':
        t->type = T_LBRACKET;
        p->off++;
        p->brackets++;
        return 0;
    case ']':
        t->type = T_RBRACKET;
        p->off++;
        if (p->brackets > 0)
            p->brackets--;
        return 0;
    case '(': t->type = T_LPAREN; p->off++; return 0;
    case ')': t->type = T_RPAREN; p->off++; return 0;
    case ',': t->type = T_COMMA; p->off++; return 0;
    case '@': t->type = T_AT; p->off++; return 0;
    case '-': t->type = T_MINUS; p->off++; return 0;
    case '+': t->type = T_PLUS; p->off++; return 0;
    case '*': t->type = T_MUL; p->off++; return 0;
    case '/': t->type = T_DIV; p->off++; return 0;
    case '%': t->type = T_MOD; p->off++; return 0;
    case '^': t->type = T_POW; p->off++; return 0;
    case ':':
        if (p->brackets > 0) {
            t->type = T_COLON;
            p->off++;
            return 0;
        }
        break;
    case '=':
        if (rest > 1 && s[1] == '~') {
            t->type = T_EQ_RE;
            t->len = 2;
        } else if (rest > 1 && s[1] == '=') {
            t->type = T_EQLC;
            t->len = 2;
        } else {
            t->type = T_EQ;
        }
        p->off += t->len;
        return 0;
    case '!':
        if (rest > 1 && s[1] == '=') {
            t->type = T_NEQ;
            t->len = 2;
            p->off += 2;
            return 0;
        }
        if (rest > 1 && s[1] == '~') {
            t->type = T_NEQ_RE;
            t->len = 2;
            p->off += 2;
            return 0;
        }
        return fail(p, t->pos, "unexpected character after '!': '%c'", rest > 1 ? s[1] : ' ');
    case '>':
    case '<':
        t->type = c == '>' ? T_GTR : T_LSS;
        if (rest > 1 && s[1] == '=') {
            t->type = c == '>' ? T_GTE : T_LTE;
            t->len = 2;
        }
        p->off += t->len;
        return 0;
    case '"':
    case '\'':
    case '`': {
        int rc = lex_string(p, t);
        if (!rc)
            t->len = (size_t)(p->off - (size_t)t->pos);
        return rc;
    }
    default:
        break;
    }
    if (isdigit((unsigned char)c) || (c == '.' && rest > 1 && isdigit((unsigned char)s[1]))) {
        size_t n = number_len(s, rest);
        if (n < rest && (isalnum((unsigned char)s[n]) || s[n] == '_')) {
            /* Not a number: a duration such as 5m or 1h30m, or nothing valid. */
            size_t dl = duration_len(s, rest);
            if (dl && (dl >= rest || !(isalnum((unsigned char)s[dl]) || s[dl] == '_' ||
                                       s[dl] == '.'))) {
                char tmp[64];
                if (dl >= sizeof tmp)
                    return fail(p, t->pos, "duration too long");
                memcpy(tmp, s, dl);
                tmp[dl] = '\0';
                if (timeutil_parse_duration(tmp, &t->duration))
                    return fail(p, t->pos, "invalid duration \"%s\"", tmp);
                t->type = T_DURATION;
                t->len = dl;
                t->number = (double)t->duration / 1000.0;
                p->off += dl;
                return 0;
            }
            size_t k = n;
            while (k < rest && k < 40 && (isalnum((unsigned char)s[k]) || s[k] == '.'))
                k++;
            return fail(p, t->pos, "bad number or duration syntax: \"%.*s\"", (int)k, s);
        }
        char tmp[128];
        if (n >= sizeof tmp)
            return fail(p, t->pos, "number too long");
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (number_value(tmp, &t->number))
            return fail(p, t->pos, "bad number or duration syntax: \"%s\"", tmp);
        t->type = T_NUMBER;
        t->len = n;
        p->off += n;
        return 0;
    }
    if (is_ident_start((unsigned char)c)) {
        size_t n = 0;
        while (n < rest && is_ident_char((unsigned char)s[n]))
            n++;
        t->type = T_IDENT;
        t->len = n;
        p->off += n;
        return 0;
    }
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
        return fail(p, t->pos, "unexpected character: '%c'", c);
    return fail(p, t->pos, "unexpected character: byte 0x%02x", (unsigned char)c);
}

/* Keywords (offset, by, and, ...) are case-insensitive in PromQL, as in Prometheus. */
static int tok_is(const token *t, const char *word)
{
    return t->type == T_IDENT && t->len == strlen(word) &&
           strncasecmp(t->start, word, t->len) == 0;
}

/* Prometheus reads Inf and NaN (in any case) as numbers outside braces. */
static int tok_special_number(const token *t, double *v)
{
    if (t->type != T_IDENT || t->len != 3)
        return 0;
    if (strncasecmp(t->start, "inf", 3) == 0)
        *v = INFINITY;
    else if (strncasecmp(t->start, "nan", 3) == 0)
        *v = NAN;
    else
        return 0;
    return 1;
}

static const char *tok_desc(const token *t)
{
    switch (t->type) {
    case T_EOF: return "end of input";
    case T_IDENT: return "identifier";
    case T_NUMBER: return "number";
    case T_STRING: return "string";
    case T_DURATION: return "duration";
    case T_LBRACE: return "\"{\"";
    case T_RBRACE: return "\"}\"";
    case T_LBRACKET: return "\"[\"";
    case T_RBRACKET: return "\"]\"";
    case T_LPAREN: return "\"(\"";
    case T_RPAREN: return "\")\"";
    case T_COMMA: return "\",\"";
    case T_COLON: return "\":\"";
    case T_EQ: return "\"=\"";
    case T_NEQ: return "\"!=\"";
    case T_EQ_RE: return "\"=~\"";
    case T_NEQ_RE: return "\"!~\"";
    case T_AT: return "\"@\"";
    case T_MINUS: return "\"-\"";
    case T_PLUS: return "\"+\"";
    case T_MUL: return "\"*\"";
    case T_DIV: return "\"/\"";
    case T_MOD: return "\"%\"";
    case T_POW: return "\"^\"";
    case T_EQLC: return "\"==\"";
    case T_GTR: return "\">\"";
    case T_LSS: return "\"<\"";
    case T_GTE: return "\">=\"";
    case T_LTE: return "\"<=\"";
    }
    return "token";
}

/* "unexpected <token> [in <ctx>][, expected <what>]" at the current token. Identifiers,
 * numbers and durations are quoted with their text, as Prometheus does. */
static int unexpected(parser *p, const char *ctx, const char *expected)
{
    const token *t = &p->tok;
    char what[128];
    if ((t->type == T_IDENT || t->type == T_NUMBER || t->type == T_DURATION) && !ctx)
        snprintf(what, sizeof what, "%s \"%.*s\"", tok_desc(t), (int)(t->len > 60 ? 60 : t->len),
                 t->start);
    else
        snprintf(what, sizeof what, "%s", tok_desc(t));
    return fail(p, t->pos, "unexpected %s%s%s%s%s", what, ctx ? " in " : "", ctx ? ctx : "",
                expected ? ", expected " : "", expected ? expected : "");
}

/* ---- the tree ------------------------------------------------------------------------------ */

static void names_free(promql_names *n)
{
    for (size_t i = 0; i < n->n; i++)
        mem_free(n->v[i]);
    mem_free(n->v);
    n->v = NULL;
    n->n = 0;
}

void promql_expr_free(promql_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nmatchers; i++)
        tsdb_matcher_free(&e->matchers[i]);
    mem_free(e->matchers);
    mem_free(e->string);
    promql_expr_free(e->lhs);
    promql_expr_free(e->rhs);
    promql_expr_free(e->param);
    for (size_t i = 0; i < e->nargs; i++)
        promql_expr_free(e->args[i]);
    mem_free(e->args);
    names_free(&e->match_labels);
    names_free(&e->include_labels);
    names_free(&e->grouping);
    mem_free(e);
}

const char *promql_value_type(const promql_expr *e)
{
    switch (e->vtype) {
    case PROMQL_T_SCALAR: return "scalar";
    case PROMQL_T_STRING: return "string";
    case PROMQL_T_VECTOR: return "vector";
    case PROMQL_T_MATRIX: return "matrix";
    }
    return "unknown";
}

const char *promql_type_doc(promql_type t)
{
    switch (t) {
    case PROMQL_T_SCALAR: return "scalar";
    case PROMQL_T_STRING: return "string";
    case PROMQL_T_VECTOR: return "instant vector";
    case PROMQL_T_MATRIX: return "range vector";
    }
    return "unknown";
}

static const char *const op_names[] = {
    [PROMQL_OP_NONE] = "",
    [PROMQL_OP_ADD] = "+",
    [PROMQL_OP_SUB] = "-",
    [PROMQL_OP_MUL] = "*",
    [PROMQL_OP_DIV] = "/",
    [PROMQL_OP_MOD] = "%",
    [PROMQL_OP_POW] = "^",
    [PROMQL_OP_ATAN2] = "atan2",
    [PROMQL_OP_EQL] = "==",
    [PROMQL_OP_NEQ] = "!=",
    [PROMQL_OP_GTR] = ">",
    [PROMQL_OP_LSS] = "<",
    [PROMQL_OP_GTE] = ">=",
    [PROMQL_OP_LTE] = "<=",
    [PROMQL_OP_AND] = "and",
    [PROMQL_OP_OR] = "or",
    [PROMQL_OP_UNLESS] = "unless",
    [PROMQL_OP_SUM] = "sum",
    [PROMQL_OP_AVG] = "avg",
    [PROMQL_OP_MIN] = "min",
    [PROMQL_OP_MAX] = "max",
    [PROMQL_OP_COUNT] = "count",
    [PROMQL_OP_GROUP] = "group",
    [PROMQL_OP_STDDEV] = "stddev",
    [PROMQL_OP_STDVAR] = "stdvar",
    [PROMQL_OP_TOPK] = "topk",
    [PROMQL_OP_BOTTOMK] = "bottomk",
    [PROMQL_OP_QUANTILE] = "quantile",
    [PROMQL_OP_COUNT_VALUES] = "count_values",
    [PROMQL_OP_LIMITK] = "limitk",
    [PROMQL_OP_LIMIT_RATIO] = "limit_ratio",
};

const char *promql_op_name(promql_op op)
{
    if ((size_t)op < sizeof op_names / sizeof op_names[0] && op_names[op])
        return op_names[op];
    return "";
}

static int is_comparison(promql_op op)
{
    return op >= PROMQL_OP_EQL && op <= PROMQL_OP_LTE;
}

static int is_set_op(promql_op op)
{
    return op == PROMQL_OP_AND || op == PROMQL_OP_OR || op == PROMQL_OP_UNLESS;
}

static int agg_has_param(promql_op op)
{
    return op == PROMQL_OP_TOPK || op == PROMQL_OP_BOTTOMK || op == PROMQL_OP_QUANTILE ||
           op == PROMQL_OP_COUNT_VALUES || op == PROMQL_OP_LIMITK || op == PROMQL_OP_LIMIT_RATIO;
}

static promql_expr *new_node(promql_node type, int pos)
{
    promql_expr *e = mem_calloc(1, sizeof *e);
    if (e) {
        e->type = type;
        e->pos = pos;
        e->end = pos;
        e->height = 1;
    }
    return e;
}

/* Sets e's height from its children; refuses trees taller than PROMQL_MAX_HEIGHT. */
static int set_height(parser *p, promql_expr *e)
{
    int h = 0;
    const promql_expr *kids[3] = {e->lhs, e->rhs, e->param};
    for (int i = 0; i < 3; i++)
        if (kids[i] && kids[i]->height > h)
            h = kids[i]->height;
    for (size_t i = 0; i < e->nargs; i++)
        if (e->args[i]->height > h)
            h = e->args[i]->height;
    e->height = h + 1;
    if (e->height > PROMQL_MAX_HEIGHT)
        return fail(p, e->pos, "expression nested too deeply (limit %d)", PROMQL_MAX_HEIGHT);
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static int add_matcher(parser *p, promql_expr *e, tsdb_match_type type, const char *name,
                       const char *value, int pos)
{
    if (e->nmatchers >= PROMQL_MAX_MATCHERS)
        return fail(p, pos, "too many label matchers (limit %d)", PROMQL_MAX_MATCHERS);
    tsdb_matcher *v = mem_realloc(e->matchers, (e->nmatchers + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    e->matchers = v;
    char why[256];
    int rc = tsdb_matcher_init(&v[e->nmatchers], type, name, value, why, sizeof why);
    e->nmatchers++; /* counted even on failure so promql_expr_free releases it */
    if (rc == -EINVAL)
        return fail(p, pos, "%s", why);
    return rc;
}

/* Parses `{ name op "value", ... }` after the opening brace (current token is '{'). A lone
 * quoted string is the metric name (Prometheus 3's `{"metric.name"}`). */
static int parse_matchers(parser *p, promql_expr *e)
{
    int rc;
    if ((rc = lex(p)))
        return rc;
    while (p->tok.type != T_RBRACE) {
        token *t = &p->tok;
        if (t->type != T_IDENT && t->type != T_STRING)
            return fail(p, t->pos, "unexpected %s in label matching, expected label name",
                        tok_desc(t));
        char name[LABELS_MAX_NAME + 1];
        int npos = t->pos;
        int quoted = t->type == T_STRING;
        if (t->type == T_IDENT) {
            if (t->len > LABELS_MAX_NAME)
                return fail(p, t->pos, "label name too long");
            memcpy(name, t->start, t->len);
            name[t->len] = '\0';
        } else {
            if (strlen(t->str) > LABELS_MAX_NAME)
                return fail(p, t->pos, "label name too long");
            snprintf(name, sizeof name, "%s", t->str);
        }
        if ((rc = lex(p)))
            return rc;
        if (quoted && (p->tok.type == T_COMMA || p->tok.type == T_RBRACE)) {
            /* {"name"}: a metric name matcher. */
            if ((rc = add_matcher(p, e, TSDB_MATCH_EQ, LABELS_NAME, name, npos)))
                return rc;
        } else {
            if (!labels_valid_name(name))
                return fail(p, npos, "invalid label name \"%s\"", name);
            tsdb_match_type mt;
            switch (p->tok.type) {
            case T_EQ: mt = TSDB_MATCH_EQ; break;
            case T_NEQ: mt = TSDB_MATCH_NEQ; break;
            case T_EQ_RE: mt = TSDB_MATCH_RE; break;
            case T_NEQ_RE: mt = TSDB_MATCH_NRE; break;
            case T_EQLC:
                return fail(p, p->tok.pos, "binary operator \"==\" is not a label matcher; "
                                           "use \"=\"");
            default:
                return fail(p, p->tok.pos, "unexpected %s in label matching, expected one of "
                            "\"=\", \"!=\", \"=~\" or \"!~\"", tok_desc(&p->tok));
            }
            if ((rc = lex(p)))
                return rc;
            if (p->tok.type != T_STRING)
                return fail(p, p->tok.pos, "unexpected %s in label matching, expected string",
                            tok_desc(&p->tok));
            if ((rc = add_matcher(p, e, mt, name, p->tok.str, npos)))
                return rc;
            if ((rc = lex(p)))
                return rc;
        }
        if (p->tok.type == T_COMMA) {
            if ((rc = lex(p)))
                return rc;
        } else if (p->tok.type != T_RBRACE) {
            return fail(p, p->tok.pos, "unexpected %s in label matching, expected \",\" or \"}\"",
                        tok_desc(&p->tok));
        }
    }
    e->end = p->tok.pos + 1;
    return lex(p); /* past '}' */
}

/* Parses a selector starting at an identifier or '{' (no range or modifiers). */
static int parse_selector(parser *p, promql_expr *e)
{
    int rc;
    e->type = PROMQL_VECTOR_SELECTOR;
    e->vtype = PROMQL_T_VECTOR;
    e->pos = p->tok.pos;
    const char *name = NULL;
    if (p->tok.type == T_IDENT) {
        char nm[1024];
        if (p->tok.len >= sizeof nm)
            return fail(p, p->tok.pos, "metric name too long");
        memcpy(nm, p->tok.start, p->tok.len);
        nm[p->tok.len] = '\0';
        if ((rc = add_matcher(p, e, TSDB_MATCH_EQ, LABELS_NAME, nm, p->tok.pos)))
            return rc;
        name = e->matchers[0].value;
        e->named = 1;
        e->end = p->tok.pos + (int)p->tok.len;
        if ((rc = lex(p)))
            return rc;
        if (p->tok.type == T_LBRACE && (rc = parse_matchers(p, e)))
            return rc;
    } else if ((rc = parse_matchers(p, e))) {
        return rc;
    }
    /* The name written before the braces may not be given again inside them. */
    if (name) {
        for (size_t i = 1; i < e->nmatchers; i++)
            if (strcmp(e->matchers[i].name, LABELS_NAME) == 0)
                return fail(p, e->pos, "metric name must not be set twice: \"%s\" or \"%s\"",
                            name, e->matchers[i].value);
    }
    int nonempty = 0;
    for (size_t i = 0; i < e->nmatchers; i++)
        nonempty |= !tsdb_matcher_matches(&e->matchers[i], "");
    if (!nonempty)
        return fail(p, e->pos, "vector selector must contain at least one non-empty matcher");
    return 0;
}

/* Skips white space and comments from off; returns the offset of the next significant byte. */
static size_t peek_off(const parser *p, size_t off)
{
    for (;;) {
        while (off < p->len && isspace((unsigned char)p->q[off]))
            off++;
        if (off < p->len && p->q[off] == '#') {
            while (off < p->len && p->q[off] != '\n')
                off++;
            continue;
        }
        return off;
    }
}

/* Is the word at off (after white space) one of the given keywords? */
static int peek_word(const parser *p, const char *w1, const char *w2)
{
    size_t k = peek_off(p, p->off);
    size_t n = 0;
    while (k + n < p->len && is_ident_char((unsigned char)p->q[k + n]))
        n++;
    if (n == strlen(w1) && strncasecmp(p->q + k, w1, n) == 0)
        return 1;
    return w2 && n == strlen(w2) && strncasecmp(p->q + k, w2, n) == 0;
}

/* Parses a parenthesised list of label names into *out (current token is '('). */
static int parse_names(parser *p, promql_names *out)
{
    int rc;
    if (p->tok.type != T_LPAREN)
        return unexpected(p, "grouping opts", "\"(\"");
    if ((rc = lex(p)))
        return rc;
    while (p->tok.type != T_RPAREN) {
        char *name;
        if (p->tok.type == T_IDENT)
            name = mem_strndup(p->tok.start, p->tok.len);
        else if (p->tok.type == T_STRING)
            name = mem_strdup(p->tok.str);
        else
            return unexpected(p, "grouping opts", "label");
        if (!name)
            return -ENOMEM;
        char **v = mem_realloc(out->v, (out->n + 1) * sizeof *v);
        if (!v) {
            mem_free(name);
            return -ENOMEM;
        }
        out->v = v;
        out->v[out->n++] = name;
        if (!labels_valid_name(name) || strlen(name) > LABELS_MAX_NAME)
            return fail(p, p->tok.pos, "invalid label name for grouping: \"%.200s\"", name);
        if (out->n > LABELS_MAX * 4)
            return fail(p, p->tok.pos, "too many labels in grouping");
        if ((rc = lex(p)))
            return rc;
        if (p->tok.type == T_COMMA) {
            if ((rc = lex(p)))
                return rc;
        } else if (p->tok.type != T_RPAREN) {
            return unexpected(p, "grouping opts", "\",\" or \")\"");
        }
    }
    return lex(p);
}

static int parse_expr(parser *p, int min_prec, promql_expr **out);

/* A duration in a range, subquery or offset: a duration literal or a number of seconds. */
static int parse_duration_arg(parser *p, const char *ctx, const char *expected, int64_t *ms)
{
    if (p->tok.type == T_DURATION) {
        *ms = p->tok.duration;
    } else if (p->tok.type == T_NUMBER) {
        double v = p->tok.number * 1000;
        if (!isfinite(v) || fabs(v) > 9.2e18)
            return fail(p, p->tok.pos, "duration out of range");
        *ms = (int64_t)v;
    } else {
        return unexpected(p, ctx, expected);
    }
    return lex(p);
}

static const char *const not_modifiable =
    "must be preceded by an instant vector selector or range vector selector or a subquery";

/* Ranges, subqueries, offset and @ after a primary expression. */
static int parse_postfix(parser *p, promql_expr **ep)
{
    int rc;
    int have_offset_on = 0; /* offsets seen on the current node */
    for (;;) {
        promql_expr *e = *ep;
        if (p->tok.type == T_LBRACKET) {
            int lb = p->tok.pos;
            if ((rc = lex(p)))
                return rc;
            int dpos = p->tok.pos;
            int64_t range = 0;
            if ((rc = parse_duration_arg(p, "subquery selector", "number or duration", &range)))
                return rc;
            if (p->tok.type == T_COLON) {
                if ((rc = lex(p)))
                    return rc;
                int64_t step = 0;
                if (p->tok.type != T_RBRACKET &&
                    (rc = parse_duration_arg(p, "subquery selector", "number or duration or \"]\"",
                                             &step)))
                    return rc;
                if (p->tok.type != T_RBRACKET)
                    return unexpected(p, "subquery selector", "\"]\"");
                if (e->vtype != PROMQL_T_VECTOR)
                    return fail(p, e->pos, "subquery is only allowed on instant vector, got %s "
                                           "instead", promql_value_type(e));
                if (range <= 0)
                    return fail(p, dpos, "range must be greater than zero");
                if (step < 0)
                    return fail(p, lb, "step must be greater than zero");
                promql_expr *s = new_node(PROMQL_SUBQUERY, e->pos);
                if (!s)
                    return -ENOMEM;
                s->lhs = e;
                s->vtype = PROMQL_T_MATRIX;
                s->range_ms = range;
                s->step_ms = step;
                s->end = p->tok.pos + 1;
                *ep = s;
                if ((rc = set_height(p, s)))
                    return rc;
                have_offset_on = 0;
            } else if (p->tok.type == T_RBRACKET) {
                if (e->type != PROMQL_VECTOR_SELECTOR)
                    return fail(p, lb, "ranges only allowed for vector selectors");
                if (have_offset_on)
                    return fail(p, lb, "no offset modifiers allowed before range");
                if (e->at != PROMQL_AT_NONE)
                    return fail(p, lb, "no @ modifiers allowed before range");
                if (range <= 0)
                    return fail(p, dpos, "range must be greater than zero");
                e->type = PROMQL_MATRIX_SELECTOR;
                e->vtype = PROMQL_T_MATRIX;
                e->range_ms = range;
                e->end = p->tok.pos + 1;
            } else {
                return unexpected(p, "subquery or range", "\":\" or \"]\"");
            }
            if ((rc = lex(p)))
                return rc;
        } else if (tok_is(&p->tok, "offset")) {
            if (e->type != PROMQL_VECTOR_SELECTOR && e->type != PROMQL_MATRIX_SELECTOR &&
                e->type != PROMQL_SUBQUERY)
                return fail(p, p->tok.pos, "offset modifier %s", not_modifiable);
            if (have_offset_on)
                return fail(p, p->tok.pos, "offset may not be set multiple times");
            if ((rc = lex(p)))
                return rc;
            int sign = 1;
            if (p->tok.type == T_MINUS || p->tok.type == T_PLUS) {
                sign = p->tok.type == T_MINUS ? -1 : 1;
                if ((rc = lex(p)))
                    return rc;
            }
            int64_t off = 0;
            e->end = p->tok.pos + (int)p->tok.len;
            if ((rc = parse_duration_arg(p, "offset", "number or duration", &off)))
                return rc;
            e->offset_ms = sign * off;
            have_offset_on = 1;
        } else if (p->tok.type == T_AT) {
            if (e->type != PROMQL_VECTOR_SELECTOR && e->type != PROMQL_MATRIX_SELECTOR &&
                e->type != PROMQL_SUBQUERY)
                return fail(p, p->tok.pos, "@ modifier %s", not_modifiable);
            if (e->at != PROMQL_AT_NONE)
                return fail(p, p->tok.pos, "@ <timestamp> may not be set multiple times");
            if ((rc = lex(p)))
                return rc;
            if (tok_is(&p->tok, "start") || tok_is(&p->tok, "end")) {
                e->at = tok_is(&p->tok, "start") ? PROMQL_AT_START : PROMQL_AT_END;
                if ((rc = lex(p)))
                    return rc;
                if (p->tok.type != T_LPAREN)
                    return unexpected(p, "@", "\"(\"");
                if ((rc = lex(p)))
                    return rc;
                if (p->tok.type != T_RPAREN)
                    return unexpected(p, "@", "\")\"");
                e->end = p->tok.pos + 1;
                if ((rc = lex(p)))
                    return rc;
            } else {
                int sign = 1;
                if (p->tok.type == T_MINUS || p->tok.type == T_PLUS) {
                    sign = p->tok.type == T_MINUS ? -1 : 1;
                    if ((rc = lex(p)))
                        return rc;
                }
                double v;
                if (p->tok.type == T_NUMBER || p->tok.type == T_DURATION)
                    v = p->tok.number;
                else if (!tok_special_number(&p->tok, &v))
                    return unexpected(p, "@", "timestamp");
                v *= sign;
                if (!isfinite(v) || v * 1000 >= 9.2e18 || v * 1000 <= -9.2e18)
                    return fail(p, p->tok.pos, "timestamp out of bounds for @ modifier: %s",
                                isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
                e->at = PROMQL_AT_TIME;
                e->at_ms = (int64_t)llround(v * 1000);
                e->end = p->tok.pos + (int)p->tok.len;
                if ((rc = lex(p)))
                    return rc;
            }
        } else {
            return 0;
        }
    }
}

static promql_type arg_type(promql_arg a)
{
    switch (a) {
    case PROMQL_ARG_SCALAR: return PROMQL_T_SCALAR;
    case PROMQL_ARG_VECTOR: return PROMQL_T_VECTOR;
    case PROMQL_ARG_MATRIX: return PROMQL_T_MATRIX;
    case PROMQL_ARG_STRING: return PROMQL_T_STRING;
    }
    return PROMQL_T_SCALAR;
}

static int expect_type(parser *p, const promql_expr *e, promql_type want, const char *ctx)
{
    if (e->vtype == want)
        return 0;
    return fail(p, e->pos, "expected type %s in %s, got %s", promql_type_doc(want), ctx,
                promql_type_doc(e->vtype));
}

/* Parses a comma-separated list of expressions up to ')' (current token is '('). */
static int parse_args(parser *p, promql_expr ***args, size_t *nargs, int allow_trailing)
{
    int rc;
    if ((rc = lex(p)))
        return rc;
    while (p->tok.type != T_RPAREN) {
        promql_expr *a = NULL;
        if ((rc = parse_expr(p, 0, &a)))
            return rc;
        promql_expr **v = mem_realloc(*args, (*nargs + 1) * sizeof *v);
        if (!v) {
            promql_expr_free(a);
            return -ENOMEM;
        }
        *args = v;
        v[(*nargs)++] = a;
        if (p->tok.type == T_COMMA) {
            int cpos = p->tok.pos;
            if ((rc = lex(p)))
                return rc;
            if (p->tok.type == T_RPAREN && !allow_trailing)
                return fail(p, cpos, "trailing commas not allowed in function call args");
        } else if (p->tok.type != T_RPAREN) {
            if (p->tok.type == T_EOF)
                return fail(p, p->tok.pos, "unclosed left parenthesis");
            return unexpected(p, NULL, "\",\" or \")\"");
        }
    }
    return 0;
}

static const struct {
    const char *name;
    promql_op op;
} agg_ops[] = {
    {"sum", PROMQL_OP_SUM},         {"avg", PROMQL_OP_AVG},
    {"min", PROMQL_OP_MIN},         {"max", PROMQL_OP_MAX},
    {"count", PROMQL_OP_COUNT},     {"group", PROMQL_OP_GROUP},
    {"stddev", PROMQL_OP_STDDEV},   {"stdvar", PROMQL_OP_STDVAR},
    {"topk", PROMQL_OP_TOPK},       {"bottomk", PROMQL_OP_BOTTOMK},
    {"quantile", PROMQL_OP_QUANTILE}, {"count_values", PROMQL_OP_COUNT_VALUES},
    {"limitk", PROMQL_OP_LIMITK},   {"limit_ratio", PROMQL_OP_LIMIT_RATIO},
};

static promql_op tok_agg(const token *t)
{
    for (size_t i = 0; i < sizeof agg_ops / sizeof agg_ops[0]; i++)
        if (tok_is(t, agg_ops[i].name))
            return agg_ops[i].op;
    return PROMQL_OP_NONE;
}

static int parse_grouping(parser *p, promql_expr *e)
{
    int rc;
    e->have_grouping = 1;
    e->without = tok_is(&p->tok, "without");
    if ((rc = lex(p)))
        return rc;
    return parse_names(p, &e->grouping);
}

static int parse_aggregate(parser *p, promql_expr *e, promql_op op)
{
    int rc;
    e->type = PROMQL_AGGREGATE;
    e->vtype = PROMQL_T_VECTOR;
    e->op = op;
    if ((rc = lex(p)))
        return rc;
    if ((tok_is(&p->tok, "by") || tok_is(&p->tok, "without")) && (rc = parse_grouping(p, e)))
        return rc;
    if (p->tok.type != T_LPAREN)
        return unexpected(p, "aggregation", "\"(\"");
    int lparen = p->tok.pos;
    promql_expr **args = NULL;
    size_t nargs = 0;
    rc = parse_args(p, &args, &nargs, 1);
    /* Keep the arguments in the node so they are freed on every path. */
    e->args = args;
    e->nargs = nargs;
    if (rc)
        return rc;
    e->end = p->tok.pos + 1;
    if ((rc = lex(p)))
        return rc;
    if (!e->have_grouping && (tok_is(&p->tok, "by") || tok_is(&p->tok, "without"))) {
        if ((rc = parse_grouping(p, e)))
            return rc;
    }
    if (nargs == 0)
        return fail(p, lparen, "no arguments for aggregate expression provided");
    size_t want = agg_has_param(op) ? 2 : 1;
    if (nargs != want)
        return fail(p, lparen,
                    "wrong number of arguments for aggregate expression provided, expected %zu, "
                    "got %zu",
                    want, nargs);
    if (want == 2) {
        e->param = args[0];
        e->lhs = args[1];
    } else {
        e->lhs = args[0];
    }
    mem_free(e->args);
    e->args = NULL;
    e->nargs = 0;
    if (e->param &&
        (rc = expect_type(p, e->param,
                          op == PROMQL_OP_COUNT_VALUES ? PROMQL_T_STRING : PROMQL_T_SCALAR,
                          "aggregation parameter")))
        return rc;
    if ((rc = expect_type(p, e->lhs, PROMQL_T_VECTOR, "aggregation expression")))
        return rc;
    return set_height(p, e);
}

static int parse_call(parser *p, promql_expr *e)
{
    int rc;
    e->type = PROMQL_CALL;
    const promql_func *f = promql_func_lookup(p->tok.start, p->tok.len);
    if (!f)
        return fail(p, p->tok.pos, "unknown function with name \"%.*s\"",
                    (int)(p->tok.len > 100 ? 100 : p->tok.len), p->tok.start);
    e->func = f;
    e->vtype = arg_type(f->ret);
    if ((rc = lex(p)))
        return rc;
    if ((rc = parse_args(p, &e->args, &e->nargs, 0)))
        return rc;
    e->end = p->tok.pos + 1;
    if ((rc = lex(p)))
        return rc;
    char msg[256];
    if (promql_func_check_arity(f, e->nargs, msg, sizeof msg))
        return fail(p, e->pos, "%s", msg);
    char ctx[128];
    snprintf(ctx, sizeof ctx, "call to function \"%s\"", f->name);
    for (size_t i = 0; i < e->nargs; i++) {
        promql_arg want = promql_func_arg_type(f, i);
        if ((rc = expect_type(p, e->args[i], arg_type(want), ctx)))
            return rc;
    }
    return set_height(p, e);
}

static int parse_unary(parser *p, promql_expr **out);

static int parse_primary(parser *p, promql_expr **out)
{
    int rc;
    promql_expr *e = new_node(PROMQL_NUMBER, p->tok.pos);
    if (!e)
        return -ENOMEM;
    switch (p->tok.type) {
    case T_NUMBER:
    case T_DURATION:
        e->type = PROMQL_NUMBER;
        e->vtype = PROMQL_T_SCALAR;
        e->number = p->tok.number;
        e->end = p->tok.pos + (int)p->tok.len;
        rc = lex(p);
        break;
    case T_STRING:
        e->type = PROMQL_STRING;
        e->vtype = PROMQL_T_STRING;
        e->string = p->tok.str;
        e->end = p->tok.pos + (int)p->tok.len;
        p->tok.str = NULL;
        rc = lex(p);
        break;
    case T_LPAREN:
        e->type = PROMQL_PAREN;
        if (p->parens >= PROMQL_MAX_DEPTH) {
            rc = fail(p, p->tok.pos, "expression nested too deeply (limit %d)", PROMQL_MAX_DEPTH);
            break;
        }
        p->parens++;
        if ((rc = lex(p)) || (rc = parse_expr(p, 0, &e->lhs)))
            break;
        p->parens--;
        if (p->tok.type != T_RPAREN) {
            rc = p->tok.type == T_EOF ? fail(p, p->tok.pos, "unclosed left parenthesis")
                                      : unexpected(p, NULL, "\")\"");
            break;
        }
        e->vtype = e->lhs->vtype;
        e->end = p->tok.pos + 1;
        if ((rc = set_height(p, e)))
            break;
        rc = lex(p);
        break;
    case T_IDENT: {
        if (tok_special_number(&p->tok, &e->number)) {
            e->type = PROMQL_NUMBER;
            e->vtype = PROMQL_T_SCALAR;
            e->end = p->tok.pos + 3;
            rc = lex(p);
            break;
        }
        promql_op agg = tok_agg(&p->tok);
        size_t k = peek_off(p, p->off);
        int paren = k < p->len && p->q[k] == '(';
        if (agg != PROMQL_OP_NONE && (paren || peek_word(p, "by", "without"))) {
            rc = parse_aggregate(p, e, agg);
            break;
        }
        if (paren) {
            rc = parse_call(p, e);
            break;
        }
        rc = parse_selector(p, e);
        break;
    }
    case T_LBRACE:
        rc = parse_selector(p, e);
        break;
    case T_EOF:
        rc = p->tok.pos == (int)peek_off(p, 0)
                 ? fail(p, p->tok.pos, "no expression found in input")
                 : fail(p, p->tok.pos, "unexpected end of input");
        break;
    case T_RPAREN:
        rc = fail(p, p->tok.pos, "unexpected right parenthesis ')'");
        break;
    default:
        rc = unexpected(p, NULL, NULL);
        break;
    }
    if (!rc)
        rc = parse_postfix(p, &e);
    if (rc) {
        promql_expr_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* Unary + and - bind like `*`: their operand reaches up to (and including) any `^` chain. */
#define PREC_POW 6
static int parse_unary(parser *p, promql_expr **out)
{
    int rc;
    if (p->tok.type != T_MINUS && p->tok.type != T_PLUS)
        return parse_primary(p, out);
    int pos = p->tok.pos;
    promql_op op = p->tok.type == T_MINUS ? PROMQL_OP_SUB : PROMQL_OP_ADD;
    if ((rc = lex(p)))
        return rc;
    promql_expr *x = NULL;
    if ((rc = parse_expr(p, PREC_POW, &x)))
        return rc;
    if (x->type == PROMQL_NUMBER) {
        if (op == PROMQL_OP_SUB)
            x->number = -x->number;
        x->pos = pos;
        *out = x;
        return 0;
    }
    promql_expr *u = new_node(PROMQL_UNARY, pos);
    if (!u) {
        promql_expr_free(x);
        return -ENOMEM;
    }
    u->op = op;
    u->lhs = x;
    u->vtype = x->vtype;
    u->end = x->end;
    if ((rc = set_height(p, u)))
        goto err;
    if (x->vtype != PROMQL_T_SCALAR && x->vtype != PROMQL_T_VECTOR) {
        rc = fail(p, pos, "unary expression only allowed on expressions of type scalar or "
                          "instant vector, got \"%s\"",
                  promql_type_doc(x->vtype));
        goto err;
    }
    *out = u;
    return 0;
err:
    promql_expr_free(u);
    return rc;
}

static promql_op tok_binop(const token *t)
{
    switch (t->type) {
    case T_PLUS: return PROMQL_OP_ADD;
    case T_MINUS: return PROMQL_OP_SUB;
    case T_MUL: return PROMQL_OP_MUL;
    case T_DIV: return PROMQL_OP_DIV;
    case T_MOD: return PROMQL_OP_MOD;
    case T_POW: return PROMQL_OP_POW;
    case T_EQLC: return PROMQL_OP_EQL;
    case T_NEQ: return PROMQL_OP_NEQ;
    case T_GTR: return PROMQL_OP_GTR;
    case T_LSS: return PROMQL_OP_LSS;
    case T_GTE: return PROMQL_OP_GTE;
    case T_LTE: return PROMQL_OP_LTE;
    case T_IDENT:
        if (tok_is(t, "and"))
            return PROMQL_OP_AND;
        if (tok_is(t, "or"))
            return PROMQL_OP_OR;
        if (tok_is(t, "unless"))
            return PROMQL_OP_UNLESS;
        if (tok_is(t, "atan2"))
            return PROMQL_OP_ATAN2;
        return PROMQL_OP_NONE;
    default: return PROMQL_OP_NONE;
    }
}

static int op_prec(promql_op op)
{
    switch (op) {
    case PROMQL_OP_OR: return 1;
    case PROMQL_OP_AND:
    case PROMQL_OP_UNLESS: return 2;
    case PROMQL_OP_EQL:
    case PROMQL_OP_NEQ:
    case PROMQL_OP_GTR:
    case PROMQL_OP_LSS:
    case PROMQL_OP_GTE:
    case PROMQL_OP_LTE: return 3;
    case PROMQL_OP_ADD:
    case PROMQL_OP_SUB: return 4;
    case PROMQL_OP_MUL:
    case PROMQL_OP_DIV:
    case PROMQL_OP_MOD:
    case PROMQL_OP_ATAN2: return 5;
    case PROMQL_OP_POW: return PREC_POW;
    default: return 0;
    }
}

/* bool, on/ignoring, group_left/group_right after a binary operator. */
static int parse_bin_modifiers(parser *p, promql_expr *b)
{
    int rc;
    if (tok_is(&p->tok, "bool")) {
        b->return_bool = 1;
        if ((rc = lex(p)))
            return rc;
    }
    if (tok_is(&p->tok, "on") || tok_is(&p->tok, "ignoring")) {
        b->matching = 1;
        b->on = tok_is(&p->tok, "on");
        if ((rc = lex(p)) || (rc = parse_names(p, &b->match_labels)))
            return rc;
        if (tok_is(&p->tok, "group_left") || tok_is(&p->tok, "group_right")) {
            b->card = tok_is(&p->tok, "group_left") ? PROMQL_CARD_MANY_TO_ONE
                                                    : PROMQL_CARD_ONE_TO_MANY;
            if ((rc = lex(p)))
                return rc;
            if (p->tok.type == T_LPAREN && (rc = parse_names(p, &b->include_labels)))
                return rc;
        }
    }
    return 0;
}

/* Prometheus's checks on a binary expression. */
static int check_binary(parser *p, promql_expr *b, int oppos)
{
    promql_type lt = b->lhs->vtype, rt = b->rhs->vtype;
    if (b->return_bool && !is_comparison(b->op))
        return fail(p, oppos, "bool modifier can only be used on comparison operators");
    if (is_comparison(b->op) && !b->return_bool && lt == PROMQL_T_SCALAR &&
        rt == PROMQL_T_SCALAR)
        return fail(p, oppos, "comparisons between scalars must use BOOL modifier");
    if (is_set_op(b->op) && b->card == PROMQL_CARD_ONE_TO_ONE)
        b->card = PROMQL_CARD_MANY_TO_MANY;
    if (b->on)
        for (size_t i = 0; i < b->match_labels.n; i++)
            for (size_t k = 0; k < b->include_labels.n; k++)
                if (strcmp(b->match_labels.v[i], b->include_labels.v[k]) == 0)
                    return fail(p, oppos, "label \"%s\" must not occur in ON and GROUP clause "
                                          "at once",
                                b->match_labels.v[i]);
    if (lt != PROMQL_T_SCALAR && lt != PROMQL_T_VECTOR)
        return fail(p, b->lhs->pos,
                    "binary expression must contain only scalar and instant vector types");
    if (rt != PROMQL_T_SCALAR && rt != PROMQL_T_VECTOR)
        return fail(p, b->rhs->pos,
                    "binary expression must contain only scalar and instant vector types");
    if (lt != PROMQL_T_VECTOR || rt != PROMQL_T_VECTOR) {
        if (b->match_labels.n > 0 || (b->matching && b->on))
            return fail(p, oppos, "vector matching only allowed between instant vectors");
        if (b->card == PROMQL_CARD_MANY_TO_ONE || b->card == PROMQL_CARD_ONE_TO_MANY)
            return fail(p, oppos, "vector matching only allowed between instant vectors");
    } else if (is_set_op(b->op)) {
        if (b->card == PROMQL_CARD_ONE_TO_MANY || b->card == PROMQL_CARD_MANY_TO_ONE)
            return fail(p, oppos, "no grouping allowed for \"%s\" operation",
                        promql_op_name(b->op));
    }
    if ((lt == PROMQL_T_SCALAR || rt == PROMQL_T_SCALAR) && is_set_op(b->op))
        return fail(p, oppos, "set operator \"%s\" not allowed in binary scalar expression",
                    promql_op_name(b->op));
    b->vtype = lt == PROMQL_T_SCALAR && rt == PROMQL_T_SCALAR ? PROMQL_T_SCALAR
                                                               : PROMQL_T_VECTOR;
    return 0;
}

static int parse_expr(parser *p, int min_prec, promql_expr **out)
{
    int rc;
    promql_expr *lhs = NULL;
    /* Each level is a few stack frames: a 64 KiB query of '(' must not exhaust the stack. */
    if (p->depth >= 2 * PROMQL_MAX_DEPTH)
        return fail(p, p->tok.pos, "expression nested too deeply (limit %d)", PROMQL_MAX_DEPTH);
    p->depth++;
    if ((rc = parse_unary(p, &lhs)))
        goto out;
    for (;;) {
        promql_op op = tok_binop(&p->tok);
        int prec = op_prec(op);
        if (op == PROMQL_OP_NONE || prec < min_prec)
            break;
        int oppos = p->tok.pos;
        promql_expr *b = new_node(PROMQL_BINARY, lhs->pos);
        if (!b) {
            rc = -ENOMEM;
            goto out;
        }
        b->op = op;
        b->lhs = lhs;
        lhs = b;
        if ((rc = lex(p)) || (rc = parse_bin_modifiers(p, b)))
            goto out;
        /* ^ is right-associative: its right side may hold more ^ at the same level. */
        int next = op == PROMQL_OP_POW ? prec : prec + 1;
        if ((rc = parse_expr(p, next, &b->rhs)))
            goto out;
        b->end = b->rhs->end;
        if ((rc = set_height(p, b)) || (rc = check_binary(p, b, oppos)))
            goto out;
    }
    *out = lhs;
    lhs = NULL;
out:
    p->depth--;
    promql_expr_free(lhs);
    return rc;
}

int promql_parse(const char *q, promql_expr **out, char *err, size_t errlen)
{
    parser p = {0};
    promql_expr *e = NULL;
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    p.q = q;
    p.len = strlen(q);
    p.err = err;
    p.errlen = errlen;
    if (p.len > PROMQL_MAX_QUERY) {
        snprintf(err, errlen, "query is %zu bytes, more than the limit of %d", p.len,
                 PROMQL_MAX_QUERY);
        return -EINVAL;
    }
    int rc = lex(&p);
    if (!rc)
        rc = parse_expr(&p, 0, &e);
    if (!rc && p.tok.type != T_EOF) {
        if (p.tok.type == T_RPAREN)
            rc = fail(&p, p.tok.pos, "unexpected right parenthesis ')'");
        else
            rc = unexpected(&p, NULL, NULL);
    }
    mem_free(p.tok.str);
    if (rc) {
        if (rc == -ENOMEM && !p.failed)
            snprintf(err, errlen, "out of memory");
        promql_expr_free(e);
        return rc;
    }
    *out = e;
    return 0;
}
