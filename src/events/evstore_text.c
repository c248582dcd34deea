/* evstore_text: what the event store makes of outside strings: UTF-8 repair and length caps,
 * the fields rule (a JSON object or {"raw": ...}), and the translation of a user's search into
 * an FTS5 expression (every word quoted, so nothing a user types is FTS5 or SQL syntax). */
#include "evstore_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define FTS_TERMS_MAX 32

/* Length of the valid UTF-8 sequence at s[i] (n bytes available), or 0 when the bytes there are
 * not one; *bad receives the length of the maximal invalid subpart then (>= 1). */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t n, size_t *bad)
{
    unsigned c = s[i];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c == 0xE0)
        need = 2, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        need = 2;
    else if (c == 0xED)
        need = 2, hi = 0x9F;
    else if (c == 0xF0)
        need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        need = 3;
    else if (c == 0xF4)
        need = 3, hi = 0x8F;
    else {
        *bad = 1;
        return 0;
    }
    size_t k = 0;
    for (; k < need; k++) {
        if (i + 1 + k >= n)
            break;
        unsigned b = s[i + 1 + k];
        if (b < lo || b > hi)
            break;
        lo = 0x80, hi = 0xBF;
    }
    if (k == need)
        return need + 1;
    *bad = k + 1;
    return 0;
}

int evs__utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t bad = 0, l = utf8_seq(u, i, n, &bad);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

int evs__clean(buf *out, const char *s, size_t cap)
{
    buf_reset(out);
    if (!s)
        s = "";
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, cap + 4), i = 0, span = 0, outlen = 0;
    int rc = 0;
    while (i < n) {
        size_t bad = 0, l = utf8_seq(u, i, n, &bad);
        size_t add = l ? l : 3;
        if (outlen + add > cap)
            break;
        if (l) {
            i += l;
        } else {
            if (i > span && (rc = buf_append(out, s + span, i - span)))
                return rc;
            if ((rc = buf_append(out, "\xEF\xBF\xBD", 3)))
                return rc;
            i += bad;
            span = i;
        }
        outlen += add;
    }
    if (i > span && (rc = buf_append(out, s + span, i - span)))
        return rc;
    if (!out->data && (rc = buf_append(out, "", 0))) /* "" must still be a string */
        return rc;
    return 0;
}

/* Whether s (valid UTF-8, n bytes) is one JSON object. */
static int is_json_object(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i == n || s[i] != '{')
        return 0;
    json_error_t jerr;
    json_t *j = json_loadb(s, n, 0, &jerr);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

int evs__clean_fields(buf *out, buf *tmp, const char *s)
{
    int rc;
    buf_reset(out);
    if (!s || !*s)
        return evs__clean(out, "", 0);
    if ((rc = evs__clean(tmp, s, EVENT_FIELDS_MAX + 1)))
        return rc;
    if (tmp->len <= EVENT_FIELDS_MAX && is_json_object(tmp->data, tmp->len))
        return buf_append(out, tmp->data, tmp->len);
    /* {"raw":"..."}: escape the cleaned text, cut at a character so the whole fits the cap. */
    static const char head[] = "{\"raw\":\"", tail[] = "\"}";
    if ((rc = buf_reserve(out, EVENT_FIELDS_MAX + 1)))
        return rc;
    buf_append(out, head, sizeof head - 1);
    const unsigned char *u = (const unsigned char *)tmp->data;
    size_t room = EVENT_FIELDS_MAX - (sizeof head - 1) - (sizeof tail - 1);
    for (size_t i = 0; i < tmp->len;) {
        char esc[8];
        size_t el, l = 1;
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, el = 2;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (named)
                memcpy(esc, named, 2), el = 2;
            else
                el = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            size_t bad;
            l = utf8_seq(u, i, tmp->len, &bad);
            if (!l) /* cannot happen: tmp is clean */
                l = 1;
            el = l;
            memcpy(esc, u + i, l);
        }
        if (el > room)
            break;
        buf_append(out, esc, el);
        room -= el;
        i += l;
    }
    buf_append(out, tail, sizeof tail - 1);
    return out->err;
}

/* ---------------------------------------------------------------- search */

typedef struct tokcount {
    int n, last_len;
} tokcount;

static int count_token(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
    (void)tflags, (void)tok, (void)start, (void)end;
    tokcount *c = ctx;
    c->n++;
    c->last_len = ntok;
    return SQLITE_OK;
}

/* How many tokens FTS5's tokenizer finds in t[0..n), and the folded length of the last. */
static tokcount token_count(evstore *s, const char *t, size_t n)
{
    tokcount c = {0, 0};
    pthread_mutex_lock(&s->tok_mu);
    s->tokapi.xTokenize(s->tok, &c, FTS5_TOKENIZE_QUERY, t, (int)n, count_token);
    pthread_mutex_unlock(&s->tok_mu);
    return c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int evs__fts_expr(evstore *s, const char *q, buf *out, char *err, size_t errcap)
{
    buf_reset(out);
    size_t n = strnlen(q, EVSTORE_Q_MAX + 1);
    if (n > EVSTORE_Q_MAX) {
        snprintf(err, errcap, "search: longer than %d bytes", EVSTORE_Q_MAX);
        return -EINVAL;
    }
    if (!evs__utf8_valid(q, n)) {
        snprintf(err, errcap, "search: not valid UTF-8");
        return -EINVAL;
    }
    int terms = 0, words = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && is_space(q[i]))
            i++;
        if (i == n)
            break;
        size_t start = i, len;
        const char *t;
        int prefix = 0;
        terms++;
        if (q[i] == '"') {
            const char *close = memchr(q + i + 1, '"', n - i - 1);
            if (!close) {
                snprintf(err, errcap, "search: unterminated quote at position %zu", i + 1);
                return -EINVAL;
            }
            t = q + i + 1;
            len = (size_t)(close - t);
            i = (size_t)(close - q) + 1;
            if (i < n && q[i] == '*')
                prefix = 1, i++;
            if (i < n && !is_space(q[i])) {
                snprintf(err, errcap, "search: expected a space after the quote at position %zu",
                         i);
                return -EINVAL;
            }
        } else {
            while (i < n && !is_space(q[i]) && q[i] != '"')
                i++;
            if (i < n && q[i] == '"') {
                snprintf(err, errcap, "search: quote inside a word at position %zu", i + 1);
                return -EINVAL;
            }
            t = q + start;
            len = i - start;
            if (t[len - 1] == '*')
                prefix = 1, len--;
            const char *star = memchr(t, '*', len);
            if (star) {
                snprintf(err, errcap, "search: '*' only ends a word (position %zu)",
                         (size_t)(star - q) + 1);
                return -EINVAL;
            }
        }
        tokcount tc = token_count(s, t, len);
        if (tc.n == 0)
            continue; /* punctuation only: FTS5 would match nothing */
        if (prefix && tc.last_len < 2) {
            /* One-letter prefixes expand to a good part of the vocabulary (~200 ms on 10 M
             * events): refused. */
            snprintf(err, errcap,
                     "search: a prefix needs 2 or more letters before '*' (word at"
                     " position %zu)",
                     start + 1);
            return -EINVAL;
        }
        if (++words > FTS_TERMS_MAX) {
            snprintf(err, errcap, "search: more than %d words", FTS_TERMS_MAX);
            return -EINVAL;
        }
        if (words > 1)
            buf_puts(out, " AND ");
        buf_putc(out, '"');
        for (size_t k = 0; k < len; k++) {
            if (t[k] == '"')
                buf_putc(out, '"');
            buf_putc(out, t[k]);
        }
        buf_putc(out, '"');
        if (prefix)
            buf_puts(out, " *");
    }
    if (out->err)
        return out->err;
    if (terms == 0)
        return 1;
    if (words == 0) {
        snprintf(err, errcap, "search: no words to search for");
        return -EINVAL;
    }
    return 0;
}
