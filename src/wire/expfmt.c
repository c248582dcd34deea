/* expfmt: the Prometheus text format 0.0.4 and OpenMetrics 1.0 text, parsed strictly, line by
 * line, over a complete buffer.
 *
 * Design. Each line is found with memchr and parsed in place; the metric name, label names and
 * unescaped label values are copied into one scratch block (sized for the worst case the limits
 * allow, so no bound check can be forgotten on the hot path), NUL-terminated, and handed to the
 * callback as a probe-style "name", "value", ..., NULL array. The only other state is the
 * table of metric families seen (a name → record map), needed to refuse metadata that comes
 * after a family's samples and, in OpenMetrics, families that are interleaved. A sample is
 * matched to the current family by its name's suffix (_total, _bucket...) as the family's TYPE
 * allows; a run of samples with the same name (the common case) skips even that comparison, so
 * a simple line costs a name scan, a copy and a number conversion.
 *
 * Numbers: the decimal grammar is checked here (Prometheus refuses hex floats and '_'); values
 * with at most 19 significant digits and a small exponent are converted exactly without strtod
 * (Clinger's fast path), the rest by strtod on a bounded copy. dashdot never calls setlocale,
 * so strtod reads '.' as the decimal point.
 *
 * Differences between the formats handled here: OpenMetrics allows exactly one space between
 * tokens and none elsewhere, no blank lines, no other comments than TYPE/HELP/UNIT/EOF, must end
 * with "# EOF", has timestamps in (float) seconds rather than integer milliseconds, exemplars
 * after " # ", the UNIT line, the types info, stateset, gaugehistogram, "unknown" instead of
 * "untyped", and counter samples named <family>_total / <family>_created. */
#include "expfmt.h"

#include "../lib/hmap.h"
#include "../lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NUM_MAX 128         /* longest number or timestamp token */
#define EXEMPLAR_MAX_CP 128 /* OpenMetrics: code points of an exemplar's label names + values */
/* The scratch block: a metric name and EXPFMT_MAX_LABELS names and values, all with NULs, plus
 * room for an exemplar's labels; a HELP text reuses it. */
#define SAMPLE_SCRATCH                                                                             \
    ((LABELS_MAX_NAME + 1) + EXPFMT_MAX_LABELS * (LABELS_MAX_NAME + 1 + LABELS_MAX_VALUE + 1) +    \
     8 * EXEMPLAR_MAX_CP + 4 * EXPFMT_MAX_LABELS + 64)
#define SCRATCH (SAMPLE_SCRATCH > EXPFMT_MAX_HELP + 64 ? SAMPLE_SCRATCH : EXPFMT_MAX_HELP + 64)

/* Which series names a family of a type has: the family name plus one of these suffixes. */
enum { K_PLAIN, K_TOTAL, K_CREATED, K_BUCKET, K_SUM, K_COUNT, K_GSUM, K_GCOUNT, K_INFO, K_N };
static const char *const suffixes[K_N] = {"",       "_total", "_created", "_bucket", "_sum",
                                          "_count", "_gsum",  "_gcount",  "_info"};
static const size_t suffix_len[K_N] = {0, 6, 8, 7, 4, 6, 5, 7, 5};

#define B(k) (1u << (k))

/* Allowed suffix kinds for each type, in each format. */
static unsigned allowed_kinds(expfmt_type t, expfmt_format f)
{
    int om = f == EXPFMT_OPENMETRICS;
    switch (t) {
    case EXPFMT_COUNTER:
        return om ? B(K_TOTAL) | B(K_CREATED) : B(K_PLAIN);
    case EXPFMT_HISTOGRAM:
        return B(K_BUCKET) | B(K_SUM) | B(K_COUNT) | (om ? B(K_CREATED) : 0);
    case EXPFMT_SUMMARY:
        return B(K_PLAIN) | B(K_SUM) | B(K_COUNT) | (om ? B(K_CREATED) : 0);
    case EXPFMT_GAUGEHISTOGRAM:
        return B(K_BUCKET) | B(K_GSUM) | B(K_GCOUNT);
    case EXPFMT_INFO:
        return B(K_INFO);
    case EXPFMT_GAUGE:
    case EXPFMT_STATESET:
    case EXPFMT_UNKNOWN:
    default:
        return B(K_PLAIN);
    }
}

static const char *const text_types[] = {"untyped", "counter", "gauge", "histogram", "summary"};
static const char *const om_types[] = {"unknown", "counter", "gauge",    "histogram",
                                       "summary", "info",    "stateset", "gaugehistogram"};

const char *expfmt_type_name(expfmt_type t, expfmt_format fmt)
{
    if ((unsigned)t > EXPFMT_GAUGEHISTOGRAM)
        return "?";
    if (fmt == EXPFMT_TEXT && (unsigned)t < sizeof text_types / sizeof text_types[0])
        return text_types[t];
    return om_types[t];
}

/* Metric family records: what has been seen of each family. */
enum { F_TYPE = 1, F_HELP = 2, F_UNIT = 4, F_SAMPLES = 8 };

typedef struct fam {
    expfmt_type type;
    unsigned flags;
} fam;

typedef struct parser {
    expfmt_format fmt;
    int om;
    size_t line;
    expfmt_sample_fn on_sample;
    expfmt_meta_fn on_meta;
    void *ctx;
    expfmt_error *err;
    char *scratch;
    const char *lv[2 * EXPFMT_MAX_LABELS + 1];
    hmap names; /* family name → index + 1 into fams */
    fam *fams;
    size_t nfams, capfams;
    size_t cur; /* index + 1 of the current family, 0 for none */
    char curname[LABELS_MAX_NAME + 1];
    size_t curlen;
    char last[LABELS_MAX_NAME + 1]; /* the last sample's name, and its suffix kind */
    size_t lastlen;
    int lastkind;
    int eof;
} parser;

/* ---- small helpers -------------------------------------------------------------------------- */

static inline int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}
static inline int is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10u;
}
static inline int is_alpha(unsigned char c)
{
    return (unsigned)((c | 32) - 'a') < 26u;
}
static inline int is_lname0(unsigned char c)
{
    return is_alpha(c) || c == '_';
}
static inline int is_lname(unsigned char c)
{
    return is_alpha(c) || c == '_' || is_digit(c);
}
static inline int is_name0(unsigned char c)
{
    return is_lname0(c) || c == ':';
}
static inline int is_name(unsigned char c)
{
    return is_lname(c) || c == ':';
}

/* Writes s[0..n) into dst for a message: printable ASCII as is, the rest as \xNN, cut at 40
 * bytes with "...". */
static const char *show(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 40) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = '\0';
    return dst;
}

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...)
{
    if (p->err) {
        va_list ap;
        va_start(ap, fmt);
        p->err->line = p->line;
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Length of a valid UTF-8 sequence at s (at most e - s bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, const unsigned char *e)
{
    unsigned char c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(e - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* ---- numbers ------------------------------------------------------------------------------- */

static const double pow10tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parses a number token: a decimal float ([+-] digits [. digits] [e [+-] digits], at least one
 * digit before the exponent), or with specials the case-insensitive forms [+-]Inf,
 * [+-]Infinity and NaN. Returns 0 with *out, or -1 (bad syntax or out of double's range). */
static int parse_float(const char *s, size_t n, int specials, double *out)
{
    size_t i = 0;
    int neg = 0, sig = 0, inexact = 0, ndig = 0;
    long exp10 = 0;
    uint64_t m = 0;
    if (n == 0 || n > NUM_MAX)
        return -1;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i < n && !is_digit((unsigned char)s[i]) && s[i] != '.') {
        size_t r = n - i;
        if (!specials)
            return -1;
        if ((r == 3 && !strncasecmp(s + i, "inf", 3)) ||
            (r == 8 && !strncasecmp(s + i, "infinity", 8))) {
            *out = neg ? -INFINITY : INFINITY;
            return 0;
        }
        if (i == 0 && r == 3 && !strncasecmp(s, "nan", 3)) {
            *out = NAN;
            return 0;
        }
        return -1;
    }
    for (; i < n && is_digit((unsigned char)s[i]); i++) {
        ndig++;
        if (m == 0 && s[i] == '0')
            continue;
        if (sig < 19) {
            m = m * 10 + (uint64_t)(s[i] - '0');
            sig++;
        } else {
            exp10++;
            inexact |= s[i] != '0';
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && is_digit((unsigned char)s[i]); i++) {
            ndig++;
            if (m == 0 && s[i] == '0') {
                exp10--;
                continue;
            }
            if (sig < 19) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                sig++;
                exp10--;
            } else {
                inexact |= s[i] != '0';
            }
        }
    }
    if (!ndig)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        long e = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i >= n || !is_digit((unsigned char)s[i]))
            return -1;
        for (; i < n && is_digit((unsigned char)s[i]); i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return -1;
    double v;
    if (m == 0) {
        v = 0;
    } else if (!inexact && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        v = exp10 >= 0 ? (double)m * pow10tab[exp10] : (double)m / pow10tab[-exp10];
    } else {
        char tmp[NUM_MAX + 1];
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        v = strtod(tmp, NULL);
        if (isinf(v))
            return -1; /* Go's ParseFloat: out of range, which Prometheus refuses */
        *out = v;
        return 0;
    }
    *out = neg ? -v : v;
    return 0;
}

/* Text format timestamp: an int64 of milliseconds. */
static int parse_ts_ms(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n || n - i > 19)
        return -1;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* OpenMetrics timestamp: seconds as a decimal float, kept to the nearest millisecond. */
static int parse_ts_sec(const char *s, size_t n, int64_t *out)
{
    double v;
    if (parse_float(s, n, 0, &v) || !(fabs(v) < 9.2e15))
        return -1;
    *out = (int64_t)llround(v * 1000.0);
    return 0;
}

/* ---- families ------------------------------------------------------------------------------ */

/* Makes the family `name` current, creating its record if new (*isnew). */
static int family_enter(parser *p, const char *name, size_t len, int *isnew)
{
    *isnew = 0;
    p->lastlen = 0;
    if (p->cur && len == p->curlen && !memcmp(name, p->curname, len))
        return 0;
    uintptr_t idx = (uintptr_t)hmap_get(&p->names, name, len);
    if (!idx) {
        if (mem_grow((void **)&p->fams, &p->capfams, p->nfams, sizeof *p->fams, 64) ||
            hmap_put(&p->names, name, len, (void *)(uintptr_t)(p->nfams + 1)))
            return -ENOMEM;
        p->fams[p->nfams] = (fam){EXPFMT_UNKNOWN, 0};
        idx = ++p->nfams;
        *isnew = 1;
    }
    p->cur = idx;
    memcpy(p->curname, name, len);
    p->curname[len] = '\0';
    p->curlen = len;
    return 0;
}

/* Finds which family the sample name[0..len) belongs to, making it current, and which of the
 * family's series it is (p->lastkind). */
static int classify(parser *p, const char *name, size_t len)
{
    char a[64];
    if (len == p->lastlen && !memcmp(name, p->last, len))
        return 0;
    if (p->cur && len >= p->curlen && !memcmp(name, p->curname, p->curlen)) {
        const char *suf = name + p->curlen;
        size_t slen = len - p->curlen;
        unsigned ok = allowed_kinds(p->fams[p->cur - 1].type, p->fmt);
        for (int k = 0; k < K_N; k++) {
            if (slen == suffix_len[k] && (ok & B(k)) && !memcmp(suf, suffixes[k], slen)) {
                p->fams[p->cur - 1].flags |= F_SAMPLES;
                p->lastkind = k;
                goto done;
            }
        }
    }
    size_t before = p->cur;
    int isnew, rc = family_enter(p, name, len, &isnew);
    if (rc)
        return rc;
    fam *f = &p->fams[p->cur - 1];
    if (isnew && p->om) {
        /* A series of a family exposed earlier (c_created after other families). */
        for (int k = 1; k < K_N; k++) {
            if (len <= suffix_len[k] ||
                memcmp(name + len - suffix_len[k], suffixes[k], suffix_len[k]))
                continue;
            uintptr_t idx = (uintptr_t)hmap_get(&p->names, name, len - suffix_len[k]);
            if (idx && idx != p->cur && (allowed_kinds(p->fams[idx - 1].type, p->fmt) & B(k)))
                return fail(p,
                            "samples of \"%s\" are not together (families must not be "
                            "interleaved in OpenMetrics)",
                            show(a, sizeof a, name, len - suffix_len[k]));
        }
    }
    if (!isnew) {
        if (p->cur == before || !(allowed_kinds(f->type, p->fmt) & B(K_PLAIN)))
            return fail(p, "sample \"%s\" does not fit TYPE %s of its family",
                        show(a, sizeof a, name, len), expfmt_type_name(f->type, p->fmt));
        if (p->om)
            return fail(p,
                        "samples of \"%s\" are not together (families must not be "
                        "interleaved in OpenMetrics)",
                        show(a, sizeof a, name, len));
    }
    f->flags |= F_SAMPLES;
    p->lastkind = K_PLAIN;
done:
    memcpy(p->last, name, len);
    p->lastlen = len;
    return 0;
}

/* One TYPE, HELP or UNIT line for family name[0..len). */
static int metadata(parser *p, expfmt_meta_kind kind, const char *name, size_t len,
                    expfmt_type type, const char *text)
{
    static const char *const what[] = {"TYPE", "HELP", "UNIT"};
    static const unsigned bit[] = {F_TYPE, F_HELP, F_UNIT};
    char a[64], b[64];
    size_t before = p->cur;
    int isnew, rc = family_enter(p, name, len, &isnew);
    if (rc)
        return rc;
    fam *f = &p->fams[p->cur - 1];
    if (p->om && !isnew && p->cur != before)
        return fail(p,
                    "%s for \"%s\" after other families (families must not be interleaved "
                    "in OpenMetrics)",
                    what[kind], show(a, sizeof a, name, len));
    if ((f->flags & F_SAMPLES) && (p->om || kind == EXPFMT_META_TYPE))
        return fail(p, "%s for \"%s\" after its samples", what[kind], show(a, sizeof a, name, len));
    if (f->flags & bit[kind])
        return fail(p, "second %s line for \"%s\"", what[kind], show(a, sizeof a, name, len));
    if (kind == EXPFMT_META_TYPE) {
        /* Samples named like the new type's series, exposed before it, belong to it. */
        unsigned ok = allowed_kinds(type, p->fmt);
        char full[LABELS_MAX_NAME + 16];
        for (int k = 1; k < K_N; k++) {
            if (!(ok & B(k)) || len + suffix_len[k] > LABELS_MAX_NAME)
                continue;
            memcpy(full, name, len);
            memcpy(full + len, suffixes[k], suffix_len[k]);
            uintptr_t idx = (uintptr_t)hmap_get(&p->names, full, len + suffix_len[k]);
            if (idx && (p->fams[idx - 1].flags & F_SAMPLES))
                return fail(p, "TYPE for \"%s\" after its samples (\"%s\")",
                            show(a, sizeof a, name, len),
                            show(b, sizeof b, full, len + suffix_len[k]));
        }
        f->type = type;
    }
    if (kind == EXPFMT_META_UNIT && text[0]) {
        size_t ul = strlen(text);
        if (ul + 1 >= len || name[len - ul - 1] != '_' || memcmp(name + len - ul, text, ul))
            return fail(p, "unit \"%s\" is not a suffix of the metric name \"%s\"",
                        show(b, sizeof b, text, ul), show(a, sizeof a, name, len));
    }
    f->flags |= bit[kind];
    if (!p->on_meta)
        return 0;
    expfmt_meta m = {.kind = kind,
                     .family = p->curname,
                     .type = f->type,
                     .line = p->line,
                     .text = kind == EXPFMT_META_TYPE ? NULL : text};
    return p->on_meta(p->ctx, &m);
}

static int type_from_name(parser *p, const char *s, size_t n, expfmt_type *t)
{
    const char *const *names = p->om ? om_types : text_types;
    size_t count =
        p->om ? sizeof om_types / sizeof om_types[0] : sizeof text_types / sizeof text_types[0];
    for (size_t i = 0; i < count; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], s, n)) {
            *t = (expfmt_type)i;
            return 0;
        }
    return -1;
}

/* Checks a metric name token s[0..n) as found in a metadata line. */
static int check_meta_name(parser *p, const char *what, const char *s, size_t n)
{
    char a[64];
    if (!n)
        return fail(p, "%s without a metric name", what);
    if (n > LABELS_MAX_NAME)
        return fail(p, "metric name longer than %d bytes", LABELS_MAX_NAME);
    if (!is_name0((unsigned char)s[0]))
        return fail(p, "invalid metric name \"%s\"", show(a, sizeof a, s, n));
    for (size_t i = 1; i < n; i++)
        if (!is_name((unsigned char)s[i]))
            return fail(p, "invalid metric name \"%s\"", show(a, sizeof a, s, n));
    return 0;
}

/* Unescapes a HELP text s[0..e) into the scratch block: \\ and \n, and in OpenMetrics \". */
static int help_text(parser *p, const char *s, const char *e, const char **out)
{
    char *o = p->scratch;
    size_t n = 0;
    while (s < e) {
        unsigned char c = (unsigned char)*s;
        size_t l = c < 0x80 ? 1 : utf8_len((const unsigned char *)s, (const unsigned char *)e);
        if (n + (l ? l : 1) > EXPFMT_MAX_HELP)
            return fail(p, "HELP text longer than %d bytes", EXPFMT_MAX_HELP);
        if (c == '\\') {
            char x = s + 1 < e ? s[1] : '\0';
            if (x == '\\' || (x == '"' && p->om))
                o[n++] = x;
            else if (x == 'n')
                o[n++] = '\n';
            else
                return fail(p, "invalid escape sequence in HELP text");
            s += 2;
        } else if (c == 0) {
            return fail(p, "NUL byte in HELP text");
        } else if (c < 0x80) {
            o[n++] = (char)c;
            s++;
        } else {
            if (!l)
                return fail(p, "invalid UTF-8 in HELP text");
            memcpy(o + n, s, l);
            n += l;
            s += l;
        }
    }
    o[n] = '\0';
    *out = o;
    return 0;
}

/* ---- samples ------------------------------------------------------------------------------- */

/* Unescapes a label value from *sp (just after the opening quote) up to the closing quote into
 * o (at most max bytes), NUL-terminated; *sp ends after the quote. *cp counts code points. */
static int label_value(parser *p, const char **sp, const char *e, char *o, size_t max, size_t *len,
                       size_t *cp)
{
    const char *s = *sp;
    size_t n = 0, points = 0;
    for (;;) {
        if (s >= e)
            return fail(p, "unterminated label value");
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c < 0x80) {
            if (n >= max)
                return fail(p, "label value longer than %zu bytes", max);
            if (c == '\\') {
                char x = s + 1 < e ? s[1] : '\0';
                if (x == '\\' || x == '"')
                    o[n++] = x;
                else if (x == 'n')
                    o[n++] = '\n';
                else {
                    char a[16];
                    return fail(p, "invalid escape sequence \"\\%s\" in label value",
                                show(a, sizeof a, s + 1, s + 1 < e ? 1 : 0));
                }
                s += 2;
            } else if (c == 0) {
                return fail(p, "NUL byte in label value");
            } else {
                /* Other control characters are valid UTF-8, and Prometheus takes them. */
                o[n++] = (char)c;
                s++;
            }
        } else {
            size_t l = utf8_len((const unsigned char *)s, (const unsigned char *)e);
            if (!l)
                return fail(p, "invalid UTF-8 in label value");
            if (n + l > max)
                return fail(p, "label value longer than %zu bytes", max);
            memcpy(o + n, s, l);
            n += l;
            s += l;
        }
        points++;
    }
    o[n] = '\0';
    *sp = s + 1;
    *len = n;
    *cp += points;
    return 0;
}

/* Parses "{name="value",...}" from *sp (at the '{') into p->lv from index 2 * *count, strings in
 * the scratch block at *used. exemplar: an OpenMetrics exemplar's label set (its own limit). */
static int parse_labels(parser *p, const char **sp, const char *e, size_t *count, size_t *used,
                        int exemplar)
{
    const char *s = *sp + 1;
    const char **lv = p->lv;
    size_t first = *count, n = *count, cp = 0;
    char a[64];
    int text = !p->om;
    if (text)
        while (s < e && is_blank((unsigned char)*s))
            s++;
    if (s < e && *s == '}') {
        *sp = s + 1;
        return 0;
    }
    for (;;) {
        const char *n0 = s;
        if (s >= e || !is_lname0((unsigned char)*s)) {
            size_t l = 0;
            while (s + l < e && !is_blank((unsigned char)s[l]) && s[l] != '=' && l < 40)
                l++;
            return l ? fail(p, "invalid label name \"%s\"", show(a, sizeof a, s, l))
                     : fail(p, "missing label name");
        }
        while (s < e && is_lname((unsigned char)*s))
            s++;
        size_t nl = (size_t)(s - n0);
        if (nl > LABELS_MAX_NAME)
            return fail(p, "label name longer than %d bytes", LABELS_MAX_NAME);
        if (exemplar && (cp + nl > EXEMPLAR_MAX_CP || n - first >= EXPFMT_MAX_LABELS))
            return fail(p, "exemplar labels longer than %d characters", EXEMPLAR_MAX_CP);
        if (n - first >= EXPFMT_MAX_LABELS)
            return fail(p, "more than %d labels", EXPFMT_MAX_LABELS);
        char *name = p->scratch + *used;
        memcpy(name, n0, nl);
        name[nl] = '\0';
        *used += nl + 1;
        if (nl == 8 && !memcmp(name, "__name__", 8))
            return fail(p, "label name \"__name__\" is reserved");
        for (size_t j = first; j < n; j++)
            if (!strcmp(lv[2 * j], name))
                return fail(p, "duplicate label name \"%s\"", show(a, sizeof a, name, nl));
        if (text)
            while (s < e && is_blank((unsigned char)*s))
                s++;
        if (s >= e || *s != '=')
            return fail(p, "expected '=' after label name \"%s\"", show(a, sizeof a, name, nl));
        s++;
        if (text)
            while (s < e && is_blank((unsigned char)*s))
                s++;
        if (s >= e || *s != '"')
            return fail(p, "expected '\"' to open the value of label \"%s\"",
                        show(a, sizeof a, name, nl));
        s++;
        char *val = p->scratch + *used;
        size_t vl = 0;
        cp += nl;
        int rc = label_value(p, &s, e, val,
                             exemplar ? 4 * (EXEMPLAR_MAX_CP - cp) : LABELS_MAX_VALUE, &vl, &cp);
        if (rc)
            return rc;
        *used += vl + 1;
        if (exemplar && cp > EXEMPLAR_MAX_CP)
            return fail(p, "exemplar labels longer than %d characters", EXEMPLAR_MAX_CP);
        lv[2 * n] = name;
        lv[2 * n + 1] = val;
        n++;
        if (text)
            while (s < e && is_blank((unsigned char)*s))
                s++;
        if (s < e && *s == ',') {
            s++;
            if (text) {
                while (s < e && is_blank((unsigned char)*s))
                    s++;
                if (s < e && *s == '}') { /* the text format allows a trailing comma */
                    s++;
                    break;
                }
            }
            continue;
        }
        if (s < e && *s == '}') {
            s++;
            break;
        }
        return fail(p, "expected ',' or '}' after the value of label \"%s\"",
                    show(a, sizeof a, name, nl));
    }
    *count = n;
    *sp = s;
    return 0;
}

/* Index of label `name` among the sample's labels, or -1. */
static long find_label(const parser *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p->lv[2 * i], name))
            return (long)i;
    return -1;
}

/* Checks the labels a series of its kind needs: le on buckets, quantile on summary quantiles,
 * the family's name on a stateset. */
static int check_kind_labels(parser *p, size_t n, expfmt_type t)
{
    const char *need = NULL;
    double v;
    if (p->lastkind == K_BUCKET)
        need = "le";
    else if (p->lastkind == K_PLAIN && t == EXPFMT_SUMMARY)
        need = "quantile";
    else if (p->lastkind == K_PLAIN && t == EXPFMT_STATESET)
        need = p->curname;
    if (!need)
        return 0;
    long i = find_label(p, n, need);
    if (i < 0)
        return fail(p, "%s sample without a \"%s\" label", expfmt_type_name(t, p->fmt), need);
    if (t != EXPFMT_STATESET) {
        const char *s = p->lv[2 * i + 1];
        if (parse_float(s, strlen(s), 1, &v) || isnan(v)) {
            char a[64];
            return fail(p, "invalid %s value \"%s\"", need, show(a, sizeof a, s, strlen(s)));
        }
    }
    return 0;
}

/* Length of the token at s: up to a blank (text) or a space (OpenMetrics) or e. */
static size_t token(const parser *p, const char *s, const char *e)
{
    const char *t = s;
    if (p->om)
        while (t < e && *t != ' ')
            t++;
    else
        while (t < e && !is_blank((unsigned char)*t))
            t++;
    return (size_t)(t - s);
}

/* An OpenMetrics exemplar at s (just after "# "): {labels} value [timestamp]. Checked, dropped. */
static int exemplar(parser *p, const char *s, const char *e, size_t used)
{
    size_t count = 0, tl;
    double v;
    int64_t ts;
    char a[64];
    /* The exemplar's labels go after the sample's in lv: shift the window to keep those. */
    const char *saved[2 * EXPFMT_MAX_LABELS + 1];
    memcpy(saved, p->lv, sizeof saved);
    if (s >= e || *s != '{')
        return fail(p, "exemplar without a label set");
    int rc = parse_labels(p, &s, e, &count, &used, 1);
    memcpy(p->lv, saved, sizeof saved);
    if (rc)
        return rc;
    if (s >= e || *s != ' ')
        return fail(p, "exemplar without a value");
    s++;
    tl = token(p, s, e);
    if (parse_float(s, tl, 1, &v))
        return fail(p, "invalid exemplar value \"%s\"", show(a, sizeof a, s, tl));
    s += tl;
    if (s < e) {
        s++;
        tl = token(p, s, e);
        if (parse_ts_sec(s, tl, &ts))
            return fail(p, "invalid exemplar timestamp \"%s\"", show(a, sizeof a, s, tl));
        s += tl;
        if (s < e)
            return fail(p, "unexpected text after the exemplar");
    }
    return 0;
}

static int sample_line(parser *p, const char *s, const char *e)
{
    char a[64], b[64];
    const char *n0 = s;
    if (!is_name0((unsigned char)*s)) {
        size_t l = token(p, s, e);
        return fail(p, "invalid metric name \"%s\"", show(a, sizeof a, s, l ? l : 1));
    }
    s++;
    while (s < e && is_name((unsigned char)*s))
        s++;
    size_t nlen = (size_t)(s - n0);
    if (nlen > LABELS_MAX_NAME)
        return fail(p, "metric name longer than %d bytes", LABELS_MAX_NAME);
    int rc = classify(p, n0, nlen);
    if (rc)
        return rc;
    char *name = p->scratch;
    memcpy(name, n0, nlen);
    name[nlen] = '\0';
    size_t used = nlen + 1, n = 0;
    if (!p->om) { /* the text format allows blanks before the labels */
        const char *t = s;
        while (t < e && is_blank((unsigned char)*t))
            t++;
        if (t < e && *t == '{')
            s = t;
    }
    if (s < e && *s == '{') {
        if ((rc = parse_labels(p, &s, e, &n, &used, 0)))
            return rc;
    }
    p->lv[2 * n] = NULL;
    /* One space (OpenMetrics) or blanks (text) before the value. */
    if (s < e && !(p->om ? *s == ' ' : is_blank((unsigned char)*s)))
        return fail(p, "invalid character \"%s\" after \"%s\"%s", show(a, sizeof a, s, 1),
                    show(b, sizeof b, n0, nlen), n ? " and its labels" : "");
    if (p->om) {
        if (s < e)
            s++;
    } else {
        while (s < e && is_blank((unsigned char)*s))
            s++;
    }
    size_t vl = token(p, s, e);
    if (!vl)
        return fail(p, "missing value for \"%s\"", show(a, sizeof a, n0, nlen));
    expfmt_sample smp = {
        .name = name, .family = p->curname, .labels = p->lv, .nlabels = n, .line = p->line};
    smp.type = p->fams[p->cur - 1].type;
    if (parse_float(s, vl, 1, &smp.v))
        return fail(p, "invalid value \"%s\"", show(a, sizeof a, s, vl));
    s += vl;
    if (p->om) {
        if (s < e) {
            s++; /* the space */
            if (s < e && *s != '#') {
                size_t tl = token(p, s, e);
                if (parse_ts_sec(s, tl, &smp.ts_ms))
                    return fail(p, "invalid timestamp \"%s\"", show(a, sizeof a, s, tl));
                smp.has_ts = 1;
                s += tl;
                if (s < e)
                    s++;
            }
            if (s < e || s[-1] == ' ') {
                if (e - s < 2 || s[0] != '#' || s[1] != ' ')
                    return fail(p, "unexpected text after the %s",
                                smp.has_ts ? "timestamp" : "value");
                if ((rc = exemplar(p, s + 2, e, used)))
                    return rc;
            }
        }
    } else {
        while (s < e && is_blank((unsigned char)*s))
            s++;
        if (s < e) {
            size_t tl = token(p, s, e);
            if (parse_ts_ms(s, tl, &smp.ts_ms))
                return fail(p, "invalid timestamp \"%s\"", show(a, sizeof a, s, tl));
            smp.has_ts = 1;
            s += tl;
            while (s < e && is_blank((unsigned char)*s))
                s++;
            if (s < e)
                return fail(p, "unexpected text after the timestamp");
        }
    }
    if (p->lastkind != K_PLAIN || smp.type == EXPFMT_SUMMARY || smp.type == EXPFMT_STATESET)
        if ((rc = check_kind_labels(p, n, smp.type)))
            return rc;
    return p->on_sample(p->ctx, &smp);
}

/* ---- lines --------------------------------------------------------------------------------- */

static int text_comment(parser *p, const char *s, const char *e)
{
    const char *t;
    while (s < e && is_blank((unsigned char)*s))
        s++;
    t = s;
    while (t < e && !is_blank((unsigned char)*t))
        t++;
    int help = t - s == 4 && !memcmp(s, "HELP", 4);
    int type = t - s == 4 && !memcmp(s, "TYPE", 4);
    if (!help && !type)
        return 0; /* a plain comment */
    const char *what = help ? "HELP" : "TYPE";
    s = t;
    while (s < e && is_blank((unsigned char)*s))
        s++;
    const char *name = s;
    while (s < e && !is_blank((unsigned char)*s))
        s++;
    size_t nl = (size_t)(s - name);
    int rc = check_meta_name(p, what, name, nl);
    if (rc)
        return rc;
    while (s < e && is_blank((unsigned char)*s))
        s++;
    if (help) {
        const char *text;
        if ((rc = help_text(p, s, e, &text)))
            return rc;
        return metadata(p, EXPFMT_META_HELP, name, nl, EXPFMT_UNKNOWN, text);
    }
    t = s;
    while (t < e && !is_blank((unsigned char)*t))
        t++;
    expfmt_type ty;
    char a[64];
    if (t == s)
        return fail(p, "TYPE line without a type");
    if (type_from_name(p, s, (size_t)(t - s), &ty))
        return fail(p, "unknown type \"%s\"", show(a, sizeof a, s, (size_t)(t - s)));
    while (t < e && is_blank((unsigned char)*t))
        t++;
    if (t < e)
        return fail(p, "unexpected text after the TYPE");
    return metadata(p, EXPFMT_META_TYPE, name, nl, ty, NULL);
}

static int text_line(parser *p, const char *s, const char *e)
{
    while (s < e && is_blank((unsigned char)*s))
        s++;
    if (s == e)
        return 0;
    if (*s == '#')
        return text_comment(p, s + 1, e);
    return sample_line(p, s, e);
}

static int om_line(parser *p, const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    char a[64];
    if (p->eof)
        return fail(p, "content after \"# EOF\"");
    if (!n)
        return fail(p, "empty line (not allowed in OpenMetrics)");
    if (*s != '#')
        return sample_line(p, s, e);
    if (n == 5 && !memcmp(s, "# EOF", 5)) {
        p->eof = 1;
        return 0;
    }
    expfmt_meta_kind kind;
    if (n >= 7 && !memcmp(s, "# TYPE ", 7))
        kind = EXPFMT_META_TYPE;
    else if (n >= 7 && !memcmp(s, "# HELP ", 7))
        kind = EXPFMT_META_HELP;
    else if (n >= 7 && !memcmp(s, "# UNIT ", 7))
        kind = EXPFMT_META_UNIT;
    else
        return fail(p,
                    "invalid comment \"%s\" (OpenMetrics allows only # TYPE, # HELP, "
                    "# UNIT and # EOF)",
                    show(a, sizeof a, s, n));
    static const char *const what[] = {"TYPE", "HELP", "UNIT"};
    s += 7;
    const char *name = s;
    while (s < e && *s != ' ')
        s++;
    size_t nl = (size_t)(s - name);
    int rc = check_meta_name(p, what[kind], name, nl);
    if (rc)
        return rc;
    if (s < e)
        s++;
    if (kind == EXPFMT_META_HELP) {
        const char *text;
        if ((rc = help_text(p, s, e, &text)))
            return rc;
        return metadata(p, kind, name, nl, EXPFMT_UNKNOWN, text);
    }
    if (kind == EXPFMT_META_UNIT) {
        for (const char *u = s; u < e; u++)
            if (!is_name((unsigned char)*u))
                return fail(p, "invalid unit \"%s\"", show(a, sizeof a, s, (size_t)(e - s)));
        if ((size_t)(e - s) > LABELS_MAX_NAME)
            return fail(p, "unit longer than %d bytes", LABELS_MAX_NAME);
        memcpy(p->scratch, s, (size_t)(e - s));
        p->scratch[e - s] = '\0';
        return metadata(p, kind, name, nl, EXPFMT_UNKNOWN, p->scratch);
    }
    expfmt_type ty;
    if (s == e)
        return fail(p, "TYPE line without a type");
    if (type_from_name(p, s, (size_t)(e - s), &ty))
        return fail(p, "unknown type \"%s\"", show(a, sizeof a, s, (size_t)(e - s)));
    return metadata(p, kind, name, nl, ty, NULL);
}

/* ---- entry points -------------------------------------------------------------------------- */

expfmt_format expfmt_format_from_content_type(const char *ct)
{
    static const char om[] = "application/openmetrics-text";
    if (!ct)
        return EXPFMT_TEXT;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = sizeof om - 1;
    if (!strncasecmp(ct, om, n) && (!ct[n] || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
        return EXPFMT_OPENMETRICS;
    return EXPFMT_TEXT;
}

int expfmt_is_protobuf(const char *ct)
{
    static const char pb[] = "application/vnd.google.protobuf";
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return !strncasecmp(ct, pb, sizeof pb - 1);
}

int expfmt_parse(const char *data, size_t len, expfmt_format fmt, expfmt_sample_fn on_sample,
                 expfmt_meta_fn on_meta, void *ctx, expfmt_error *err)
{
    int rc = 0;
    parser *p = mem_calloc(1, sizeof *p);
    if (err) {
        err->line = 0;
        err->msg[0] = '\0';
    }
    if (!p) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "out of memory");
        return -ENOMEM;
    }
    p->fmt = fmt;
    p->om = fmt == EXPFMT_OPENMETRICS;
    p->on_sample = on_sample;
    p->on_meta = on_meta;
    p->ctx = ctx;
    p->err = err;
    hmap_init(&p->names);
    if (!(p->scratch = mem_alloc(SCRATCH))) {
        rc = -ENOMEM;
        goto out;
    }
    const char *s = data, *end = len ? data + len : data;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        p->line++;
        if (p->om) {
            if (!nl && !p->eof && !(e - s == 5 && !memcmp(s, "# EOF", 5))) {
                rc = fail(p, "the last line has no newline and is not \"# EOF\"");
                goto out;
            }
            rc = om_line(p, s, e);
        } else {
            rc = text_line(p, s, e);
        }
        if (rc)
            goto out;
        s = nl ? nl + 1 : end;
    }
    if (p->om && !p->eof) {
        p->line++;
        rc = fail(p, "missing \"# EOF\" at the end");
    }
out:
    if (rc && rc != -EINVAL && err && !err->msg[0]) {
        err->line = rc == -ENOMEM ? 0 : p->line;
        snprintf(err->msg, sizeof err->msg, "%s",
                 rc == -ENOMEM ? "out of memory" : "stopped by the caller");
    }
    hmap_free(&p->names);
    mem_free(p->fams);
    mem_free(p->scratch);
    mem_free(p);
    return rc;
}
