/* perfdata: a Nagios plugin's message and performance data (grammar and choices in perfdata.h).
 *
 * The parser walks the text once, item by item. An item that does not fit the grammar is
 * skipped up to the next whitespace (an unterminated quote swallows the rest: there is no
 * telling where it was meant to end) and counted; the walk goes on, so one bad item costs only
 * itself. Everything is bounded by the input's length: no recursion, no backtracking, labels
 * and numbers copied into fixed buffers, at most PERFDATA_MAX_ITEMS kept. */
#include "perfdata.h"

#include "../lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void perfdata_init(perfdata *pd)
{
    memset(pd, 0, sizeof *pd);
}

void perfdata_free(perfdata *pd)
{
    if (!pd)
        return;
    for (size_t i = 0; i < pd->n; i++)
        mem_free(pd->items[i].label);
    mem_free(pd->items);
    perfdata_init(pd);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the valid UTF-8 sequence at s[0..n) (1 to 4), or 0 if the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* True if s[0..n) is UTF-8 without control characters. */
static int printable_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/* Scans the longest decimal number at the start of s[0..n):
 * [+-]? (digits ('.' digits?)? | '.' digits) ([eE] [+-]? digits)?
 * Returns its length (0: none there) with its value in *v, or 0 with *bad set when the number
 * is longer than PERFDATA_NUM_MAX or out of a double's range. */
static size_t scan_number(const char *s, size_t n, double *v, const char **bad)
{
    size_t i = 0, intd, fracd = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t d0 = i;
    while (i < n && is_digit(s[i]))
        i++;
    intd = i - d0;
    if (i < n && s[i] == '.') {
        size_t j = i + 1;
        while (j < n && is_digit(s[j]))
            j++;
        fracd = j - i - 1;
        if (intd || fracd)
            i = j;
    }
    if (!intd && !fracd)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        size_t e0 = j;
        while (j < n && is_digit(s[j]))
            j++;
        if (j > e0)
            i = j;
    }
    if (i > PERFDATA_NUM_MAX) {
        *bad = "number longer than 64 characters";
        return 0;
    }
    char tmp[PERFDATA_NUM_MAX + 1];
    memcpy(tmp, s, i);
    tmp[i] = '\0';
    errno = 0;
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + i || !isfinite(d) || (errno == ERANGE && fabs(d) > 1)) {
        *bad = "number out of range";
        return 0;
    }
    *v = d;
    return i;
}

/* Parses s[0..n) as one whole number. Returns 0 or -EINVAL. */
static int whole_number(const char *s, size_t n, double *v)
{
    const char *bad = NULL;
    double d;
    if (!n || scan_number(s, n, &d, &bad) != n)
        return -EINVAL;
    *v = d;
    return 0;
}

int perfdata_range(const char *s, size_t len, double *v, int *given)
{
    size_t i = 0;
    double start = 0, end = INFINITY;
    if (len && s[0] == '@')
        i = 1;
    const char *colon = i < len ? memchr(s + i, ':', len - i) : NULL;
    if (!colon) {
        if (whole_number(s + i, len - i, &end))
            return -EINVAL;
    } else {
        size_t c = (size_t)(colon - s);
        if (c - i == 1 && s[i] == '~')
            start = -INFINITY;
        else if (c > i && whole_number(s + i, c - i, &start))
            return -EINVAL;
        if (c + 1 < len && whole_number(s + c + 1, len - c - 1, &end))
            return -EINVAL;
    }
    if (start > end)
        return -EINVAL;
    if (isfinite(end)) {
        *v = end;
        *given = 1;
    } else if (isfinite(start)) {
        *v = start;
        *given = 1;
    } else {
        *given = 0;
    }
    return 0;
}

static const struct unit {
    const char *uom, *base;
    double mul, div;
} units[] = {
    {"", "", 1, 1},
    {"s", "s", 1, 1},
    {"ms", "s", 1, 1e3},
    {"us", "s", 1, 1e6},
    {"%", "%", 1, 1},
    {"B", "B", 1, 1},
    {"KB", "B", 1024.0, 1},
    {"kB", "B", 1024.0, 1},
    {"KiB", "B", 1024.0, 1},
    {"MB", "B", 1048576.0, 1},
    {"MiB", "B", 1048576.0, 1},
    {"GB", "B", 1073741824.0, 1},
    {"GiB", "B", 1073741824.0, 1},
    {"TB", "B", 1099511627776.0, 1},
    {"TiB", "B", 1099511627776.0, 1},
    {"c", "c", 1, 1},
};

int perfdata_unit(const char *uom, const char **base, double *mul, double *div)
{
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(units[i].uom, uom)) {
            *base = units[i].base;
            *mul = units[i].mul;
            *div = units[i].div;
            return 1;
        }
    *base = uom;
    *mul = 1;
    *div = 1;
    return 0;
}

/* A unit as given: bounded, printable UTF-8, and nothing that belongs to a number or to the
 * grammar. */
static int valid_uom(const char *s, size_t n)
{
    if (n > PERFDATA_UOM_MAX || !printable_utf8(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (is_digit(s[i]) || strchr(".+-=';", s[i]))
            return 0;
    return 1;
}

static double convert(double v, double mul, double div)
{
    return v * mul / div;
}

static const char unknown_value[] = "U";

/* Parses the part of an item after '=' (s[0..n), no whitespace) into it. Returns NULL,
 * unknown_value for "U", or the reason it is malformed. */
static const char *parse_fields(const char *s, size_t n, perfdata_item *it)
{
    const char *f[6];
    size_t fl[6], nf = 0, i = 0;
    for (;;) {
        const char *semi = memchr(s + i, ';', n - i);
        size_t e = semi ? (size_t)(semi - s) : n;
        if (nf == 5)
            return "more than five fields";
        f[nf] = s + i;
        fl[nf++] = e - i;
        if (!semi)
            break;
        i = e + 1;
    }
    if (!fl[0])
        return "no value";
    if (fl[0] == 1 && f[0][0] == 'U')
        return unknown_value;
    const char *bad = NULL;
    double v;
    size_t nl = scan_number(f[0], fl[0], &v, &bad);
    if (!nl)
        return bad ? bad : "the value is not a number";
    if (!valid_uom(f[0] + nl, fl[0] - nl))
        return "bad unit";
    char uom[PERFDATA_UOM_MAX + 1];
    memcpy(uom, f[0] + nl, fl[0] - nl);
    uom[fl[0] - nl] = '\0';
    const char *base;
    double mul, div;
    perfdata_unit(uom, &base, &mul, &div);
    snprintf(it->uom, sizeof it->uom, "%s", base);
    it->value = convert(v, mul, div);
    it->has = 0;
    double *dst[4] = {&it->warn, &it->crit, &it->min, &it->max};
    for (size_t k = 1; k < nf; k++) {
        double t;
        int given = 1;
        if (!fl[k])
            continue;
        if (k <= 2 ? perfdata_range(f[k], fl[k], &t, &given) : whole_number(f[k], fl[k], &t))
            return k == 1   ? "bad warning range"
                   : k == 2 ? "bad critical range"
                   : k == 3 ? "bad minimum"
                            : "bad maximum";
        if (!given)
            continue;
        *dst[k - 1] = convert(t, mul, div);
        if (!isfinite(*dst[k - 1]))
            return "number out of range after unit conversion";
        it->has |= 1u << (k - 1);
    }
    if (!isfinite(it->value))
        return "number out of range after unit conversion";
    return NULL;
}

static void note_error(perfdata *pd, size_t item, size_t pos, const char *why)
{
    if (!pd->errors)
        snprintf(pd->err, sizeof pd->err, "item %zu at byte %zu: %s", item, pos, why);
    pd->errors++;
}

int perfdata_parse(perfdata *pd, const char *s, size_t len)
{
    char label[PERFDATA_LABEL_MAX + 1];
    size_t i = 0, item = 0;
    while (i < len) {
        while (i < len && is_ws(s[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i, ln = 0;
        const char *why = NULL;
        item++;
        /* The label. */
        if (s[i] == '\'') {
            i++;
            for (;;) {
                if (i >= len) {
                    why = "unterminated quote";
                    break;
                }
                char c = s[i++];
                if (c == '\'') {
                    if (i < len && s[i] == '\'')
                        i++;
                    else
                        break;
                }
                if (ln < PERFDATA_LABEL_MAX)
                    label[ln] = c;
                ln++;
            }
        } else {
            for (; i < len && s[i] != '=' && !is_ws(s[i]); i++) {
                if (s[i] == '\'' && !why)
                    why = "a quote in an unquoted label";
                if (ln < PERFDATA_LABEL_MAX)
                    label[ln] = s[i];
                ln++;
            }
        }
        if (!why && (i >= len || s[i] != '='))
            why = "no '=' after the label";
        else if (!why && !ln)
            why = "empty label";
        else if (!why && ln > PERFDATA_LABEL_MAX)
            why = "label longer than 1024 bytes";
        else if (!why && !printable_utf8(label, ln))
            why = "label with control characters or invalid UTF-8";
        /* The fields, up to the next whitespace. */
        size_t f0 = i < len ? i + 1 : len, e = f0;
        while (e < len && !is_ws(s[e]))
            e++;
        if (why) {
            /* Skip the malformed item: to the next whitespace from where reading stopped. */
            while (i < len && !is_ws(s[i]))
                i++;
            note_error(pd, item, start, why);
            continue;
        }
        i = e;
        perfdata_item it;
        memset(&it, 0, sizeof it);
        why = parse_fields(s + f0, e - f0, &it);
        if (why == unknown_value) {
            pd->unknown++;
            continue;
        }
        if (why) {
            note_error(pd, item, start, why);
            continue;
        }
        if (pd->n >= PERFDATA_MAX_ITEMS) {
            note_error(pd, item, start, "more than 1000 items");
            continue;
        }
        it.hash = XXH3_64bits(label, ln);
        int dup = 0;
        for (size_t k = 0; k < pd->n && !dup; k++)
            dup = pd->items[k].hash == it.hash && strlen(pd->items[k].label) == ln &&
                  !memcmp(pd->items[k].label, label, ln);
        if (dup) {
            note_error(pd, item, start, "duplicate label");
            continue;
        }
        if (mem_grow((void **)&pd->items, &pd->cap, pd->n, sizeof *pd->items, 8))
            return -ENOMEM;
        if (!(it.label = mem_strndup(label, ln)))
            return -ENOMEM;
        pd->items[pd->n++] = it;
    }
    return 0;
}

static int is_blank(char c)
{
    return (unsigned char)c <= 0x20 || c == 0x7f;
}

/* Copies s[0..n) to msg trimmed (of spaces and control characters), with control characters
 * inside as spaces and invalid UTF-8 as '?', cut to cap - 1 bytes on a character boundary. */
static void clean_line(const char *s, size_t n, char *msg, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return;
    while (n && is_blank(s[0])) {
        s++;
        n--;
    }
    while (n && is_blank(s[n - 1]))
        n--;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (o + (l ? l : 1) >= cap)
            break;
        if (!l) {
            msg[o++] = '?';
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            msg[o++] = ' ';
            i++;
        } else {
            memcpy(msg + o, s + i, l);
            o += l;
            i += l;
        }
    }
    msg[o] = '\0';
}

void perfdata_first_line(const char *text, size_t len, char *msg, size_t msgcap)
{
    const char *nl = memchr(text, '\n', len);
    clean_line(text, nl ? (size_t)(nl - text) : len, msg, msgcap);
}

int perfdata_parse_output(perfdata *pd, const char *out, size_t len, char *msg, size_t msgcap)
{
    const char *nl = memchr(out, '\n', len);
    size_t l1 = nl ? (size_t)(nl - out) : len;
    const char *bar = memchr(out, '|', l1);
    size_t mlen = bar ? (size_t)(bar - out) : l1;
    int rc;
    clean_line(out, mlen, msg, msgcap);
    if (bar && (rc = perfdata_parse(pd, bar + 1, l1 - mlen - 1)))
        return rc;
    if (!nl)
        return 0;
    const char *rest = nl + 1;
    size_t rlen = len - l1 - 1;
    const char *bar2 = memchr(rest, '|', rlen);
    if (bar2)
        return perfdata_parse(pd, bar2 + 1, rlen - (size_t)(bar2 - rest) - 1);
    return 0;
}
