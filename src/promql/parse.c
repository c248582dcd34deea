/* parse: a hand-written lexer and recursive-descent parser for PromQL.
 *
 * The lexer works on the raw bytes and produces one token at a time; the parser pulls tokens
 * and builds promql_expr nodes. The grammar is written so the PromQL issue can add binary
 * operators (precedence climbing in parse_expr), function calls and aggregations (in
 * parse_primary after an identifier) without reshaping what is here. */
#include "parse.h"

#include "../lib/labels.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

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
    T_EQ,       /* = */
    T_NEQ,      /* != */
    T_EQ_RE,    /* =~ */
    T_NEQ_RE,   /* !~ */
    T_AT,
    T_MINUS,
    T_PLUS,
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
    int depth; /* open parentheses around the current token */
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

/* Advances to the next token. */
static int lex(parser *p)
{
    token *t = &p->tok;
    mem_free(t->str);
    memset(t, 0, sizeof *t);
    while (p->off < p->len && isspace((unsigned char)p->q[p->off]))
        p->off++;
    /* Comments run to the end of the line. */
    if (p->off < p->len && p->q[p->off] == '#') {
        while (p->off < p->len && p->q[p->off] != '\n')
            p->off++;
        return lex(p);
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
    switch (c) {
    case '{': t->type = T_LBRACE; p->off++; return 0;
    case '}': t->type = T_RBRACE; p->off++; return 0;
    case '[': t->type = T_LBRACKET; p->off++; return 0;
    case ']': t->type = T_RBRACKET; p->off++; return 0;
    case '(': t->type = T_LPAREN; p->off++; return 0;
    case ')': t->type = T_RPAREN; p->off++; return 0;
    case ',': t->type = T_COMMA; p->off++; return 0;
    case '@': t->type = T_AT; p->off++; return 0;
    case '-': t->type = T_MINUS; p->off++; return 0;
    case '+': t->type = T_PLUS; p->off++; return 0;
    case '=':
        if (rest > 1 && s[1] == '~') {
            t->type = T_EQ_RE;
            p->off += 2;
        } else if (rest > 1 && s[1] == '=') {
            return fail(p, t->pos, "binary operator \"==\" is not supported yet");
        } else {
            t->type = T_EQ;
            p->off++;
        }
        return 0;
    case '!':
        if (rest > 1 && s[1] == '=') {
            t->type = T_NEQ;
            p->off += 2;
            return 0;
        }
        if (rest > 1 && s[1] == '~') {
            t->type = T_NEQ_RE;
            p->off += 2;
            return 0;
        }
        return fail(p, t->pos, "unexpected character: '!'");
    case '"':
    case '\'':
    case '`':
        return lex_string(p, t);
    default:
        break;
    }
    if (isdigit((unsigned char)c) || (c == '.' && rest > 1 && isdigit((unsigned char)s[1]))) {
        size_t dl = duration_len(s, rest);
        if (dl && (dl >= rest || !is_ident_char((unsigned char)s[dl]))) {
            char tmp[64];
            if (dl >= sizeof tmp)
                return fail(p, t->pos, "duration too long");
            memcpy(tmp, s, dl);
            tmp[dl] = '\0';
            if (timeutil_parse_duration(tmp, &t->duration))
                return fail(p, t->pos, "invalid duration \"%s\"", tmp);
            t->type = T_DURATION;
            t->len = dl;
            p->off += dl;
            return 0;
        }
        char tmp[128];
        size_t n = 0;
        while (n < rest && n < sizeof tmp - 1 &&
               (isalnum((unsigned char)s[n]) || s[n] == '.' ||
                ((s[n] == '+' || s[n] == '-') && n > 0 && (s[n - 1] == 'e' || s[n - 1] == 'E') &&
                 !(n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))))
            n++;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        errno = 0;
        double v = strtod(tmp, &end);
        if (end == tmp || *end)
            return fail(p, t->pos, "bad number or duration syntax: \"%s\"", tmp);
        t->type = T_NUMBER;
        t->number = v;
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

/* Keywords (offset, start, end) are case-insensitive in PromQL, as in Prometheus. */
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
    case T_EQ: return "\"=\"";
    case T_NEQ: return "\"!=\"";
    case T_EQ_RE: return "\"=~\"";
    case T_NEQ_RE: return "\"!~\"";
    case T_AT: return "\"@\"";
    case T_MINUS: return "\"-\"";
    case T_PLUS: return "\"+\"";
    }
    return "token";
}

void promql_expr_free(promql_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nmatchers; i++)
        tsdb_matcher_free(&e->matchers[i]);
    mem_free(e->matchers);
    mem_free(e->string);
    mem_free(e);
}

const char *promql_value_type(const promql_expr *e)
{
    switch (e->type) {
    case PROMQL_NUMBER: return "scalar";
    case PROMQL_STRING: return "string";
    case PROMQL_VECTOR_SELECTOR: return "vector";
    case PROMQL_MATRIX_SELECTOR: return "matrix";
    }
    return "unknown";
}

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

/* Parses `{ name op "value", ... }` after the opening brace (current token is '{'). */
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
        if (t->type == T_IDENT) {
            if (t->len > LABELS_MAX_NAME)
                return fail(p, t->pos, "label name too long");
            memcpy(name, t->start, t->len);
            name[t->len] = '\0';
        } else {
            snprintf(name, sizeof name, "%s", t->str);
        }
        if (!labels_valid_name(name))
            return fail(p, npos, "invalid label name \"%s\"", name);
        if ((rc = lex(p)))
            return rc;
        tsdb_match_type mt;
        switch (p->tok.type) {
        case T_EQ: mt = TSDB_MATCH_EQ; break;
        case T_NEQ: mt = TSDB_MATCH_NEQ; break;
        case T_EQ_RE: mt = TSDB_MATCH_RE; break;
        case T_NEQ_RE: mt = TSDB_MATCH_NRE; break;
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
        if (p->tok.type == T_COMMA) {
            if ((rc = lex(p)))
                return rc;
        } else if (p->tok.type != T_RBRACE) {
            return fail(p, p->tok.pos, "unexpected %s in label matching, expected \",\" or \"}\"",
                        tok_desc(&p->tok));
        }
    }
    return lex(p); /* past '}' */
}

/* Parses a selector starting at an identifier or '{'. */
static int parse_selector(parser *p, promql_expr *e)
{
    int rc;
    e->type = PROMQL_VECTOR_SELECTOR;
    e->pos = p->tok.pos;
    if (p->tok.type == T_IDENT) {
        char name[1024];
        if (p->tok.len >= sizeof name)
            return fail(p, p->tok.pos, "metric name too long");
        memcpy(name, p->tok.start, p->tok.len);
        name[p->tok.len] = '\0';
        if ((rc = add_matcher(p, e, TSDB_MATCH_EQ, LABELS_NAME, name, p->tok.pos)))
            return rc;
        if ((rc = lex(p)))
            return rc;
        if (p->tok.type == T_LBRACE && (rc = parse_matchers(p, e)))
            return rc;
        for (size_t i = 1; i < e->nmatchers; i++)
            if (strcmp(e->matchers[i].name, LABELS_NAME) == 0)
                return fail(p, e->pos, "metric name must not be set twice: \"%s\" or \"%s\"",
                            name, e->matchers[i].value);
    } else if ((rc = parse_matchers(p, e))) {
        return rc;
    }
    int nonempty = 0;
    for (size_t i = 0; i < e->nmatchers; i++)
        nonempty |= !tsdb_matcher_matches(&e->matchers[i], "");
    if (!nonempty)
        return fail(p, e->pos, "vector selector must contain at least one non-empty matcher");
    if (p->tok.type == T_LBRACKET) {
        if ((rc = lex(p)))
            return rc;
        if (p->tok.type != T_DURATION && !(p->tok.type == T_NUMBER && p->tok.number > 0))
            return fail(p, p->tok.pos, "unexpected %s in range, expected duration",
                        tok_desc(&p->tok));
        e->range_ms = p->tok.type == T_DURATION ? p->tok.duration
                                                : (int64_t)llround(p->tok.number * 1000);
        if (e->range_ms <= 0)
            return fail(p, p->tok.pos, "range must be greater than zero");
        if ((rc = lex(p)))
            return rc;
        if (p->tok.type != T_RBRACKET)
            return fail(p, p->tok.pos, "unexpected %s in range, expected \"]\"",
                        tok_desc(&p->tok));
        e->type = PROMQL_MATRIX_SELECTOR;
        if ((rc = lex(p)))
            return rc;
    }
    /* Modifiers, in either order, each at most once. */
    int have_offset = 0;
    for (;;) {
        if (tok_is(&p->tok, "offset")) {
            if (have_offset++)
                return fail(p, p->tok.pos, "offset may not be set multiple times");
            if ((rc = lex(p)))
                return rc;
            int sign = 1;
            if (p->tok.type == T_MINUS || p->tok.type == T_PLUS) {
                sign = p->tok.type == T_MINUS ? -1 : 1;
                if ((rc = lex(p)))
                    return rc;
            }
            if (p->tok.type != T_DURATION)
                return fail(p, p->tok.pos, "unexpected %s in offset, expected duration",
                            tok_desc(&p->tok));
            e->offset_ms = sign * p->tok.duration;
            if ((rc = lex(p)))
                return rc;
        } else if (p->tok.type == T_AT) {
            if (e->at != PROMQL_AT_NONE)
                return fail(p, p->tok.pos, "@ <timestamp> may not be set multiple times");
            if ((rc = lex(p)))
                return rc;
            if (tok_is(&p->tok, "start") || tok_is(&p->tok, "end")) {
                e->at = tok_is(&p->tok, "start") ? PROMQL_AT_START : PROMQL_AT_END;
                if ((rc = lex(p)))
                    return rc;
                if (p->tok.type != T_LPAREN || (rc = lex(p)) || p->tok.type != T_RPAREN)
                    return rc ? rc : fail(p, p->tok.pos, "expected \"()\" after start/end");
            } else {
                int sign = 1;
                if (p->tok.type == T_MINUS) {
                    sign = -1;
                    if ((rc = lex(p)))
                        return rc;
                }
                if (p->tok.type != T_NUMBER || !isfinite(p->tok.number))
                    return fail(p, p->tok.pos, "unexpected %s in @, expected timestamp",
                                tok_desc(&p->tok));
                e->at = PROMQL_AT_TIME;
                e->at_ms = (int64_t)llround(sign * p->tok.number * 1000);
            }
            if ((rc = lex(p)))
                return rc;
        } else {
            return 0;
        }
    }
}

static int parse_expr(parser *p, promql_expr **out);

static int parse_primary(parser *p, promql_expr **out)
{
    int rc;
    promql_expr *e = mem_calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->pos = p->tok.pos;
    switch (p->tok.type) {
    case T_NUMBER:
        e->type = PROMQL_NUMBER;
        e->number = p->tok.number;
        rc = lex(p);
        break;
    case T_MINUS:
    case T_PLUS: {
        int neg = p->tok.type == T_MINUS;
        if ((rc = lex(p)))
            break;
        double v = p->tok.number;
        if (p->tok.type != T_NUMBER && !tok_special_number(&p->tok, &v)) {
            rc = fail(p, p->tok.pos, "unary operators on non-numbers are not supported yet");
            break;
        }
        e->type = PROMQL_NUMBER;
        e->number = neg ? -v : v;
        rc = lex(p);
        break;
    }
    case T_STRING:
        e->type = PROMQL_STRING;
        e->string = p->tok.str;
        p->tok.str = NULL;
        rc = lex(p);
        break;
    case T_LPAREN: {
        mem_free(e);
        e = NULL;
        /* Each level is a few stack frames: a 64 KiB query of '(' must not exhaust the stack. */
        if (p->depth >= PROMQL_MAX_DEPTH) {
            rc = fail(p, p->tok.pos, "expression nested too deeply (limit %d)", PROMQL_MAX_DEPTH);
            break;
        }
        p->depth++;
        if ((rc = lex(p)) || (rc = parse_expr(p, &e)))
            break;
        if (p->tok.type != T_RPAREN) {
            rc = fail(p, p->tok.pos, "unexpected %s, expected \")\"", tok_desc(&p->tok));
            break;
        }
        p->depth--;
        rc = lex(p);
        break;
    }
    case T_IDENT: {
        if (tok_special_number(&p->tok, &e->number)) {
            e->type = PROMQL_NUMBER;
            rc = lex(p);
            break;
        }
        size_t k = p->off;
        while (k < p->len && isspace((unsigned char)p->q[k]))
            k++;
        if (k < p->len && p->q[k] == '(') {
            rc = fail(p, p->tok.pos, "function \"%.*s\" is not supported yet", (int)p->tok.len,
                      p->tok.start);
            break;
        }
        rc = parse_selector(p, e);
        break;
    }
    case T_LBRACE:
        rc = parse_selector(p, e);
        break;
    case T_EOF:
        rc = fail(p, p->tok.pos, "no expression found in input");
        break;
    default:
        rc = fail(p, p->tok.pos, "unexpected %s", tok_desc(&p->tok));
        break;
    }
    if (rc) {
        promql_expr_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static int parse_expr(parser *p, promql_expr **out)
{
    return parse_primary(p, out);
}

int promql_parse(const char *q, promql_expr **out, char *err, size_t errlen)
{
    parser p = {0};
    promql_expr *e = NULL;
    *out = NULL;
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
        rc = parse_expr(&p, &e);
    if (!rc && p.tok.type != T_EOF) {
        const token *t = &p.tok;
        if (t->type == T_IDENT || t->type == T_NUMBER || t->type == T_DURATION)
            rc = fail(&p, t->pos, "unexpected %s \"%.*s\"", tok_desc(t), (int)t->len, t->start);
        else
            rc = fail(&p, t->pos, "unexpected %s", tok_desc(t));
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
