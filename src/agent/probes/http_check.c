/* http_check: the pure parts of the http probe (http_int.h), no I/O: accepted status codes and
 * classes, request header settings, the json_field check (a streaming scanner, no tree) and the
 * bookkeeping of per-phase durations across redirects. Any thread. */
#include "http_int.h"

#include "../../lib/buf.h"
#include "../../lib/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_JSON_NEST_MAX 512 /* nesting the json_field scanner follows */

/* ==== status codes ========================================================================== */

void http_status_set_add_code(http_status_set *set, long code)
{
    if (code >= 100 && code <= 599)
        set->bits[code / 8] |= (uint8_t)(1u << (code % 8));
}

int http_status_set_has(const http_status_set *set, long code)
{
    return code >= 100 && code <= 599 && (set->bits[code / 8] >> (code % 8)) & 1;
}

int http_status_set_add(http_status_set *set, const char *spec, char *err, size_t errcap)
{
    const char *s = spec;
    if (strlen(s) != 3 || s[0] < '1' || s[0] > '5')
        goto bad;
    if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
        long base = (s[0] - '0') * 100;
        for (long c = base; c < base + 100; c++)
            http_status_set_add_code(set, c);
        return 0;
    }
    if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
        goto bad;
    http_status_set_add_code(set, (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    return 0;
bad:
    snprintf(err, errcap, "\"%.20s\" is not a status code (100-599) or class (1xx-5xx)", spec);
    return -EINVAL;
}

/* ==== headers =============================================================================== */

/* How much of s an error message shows: at most 40 bytes, up to a control character. */
static size_t shown_len(const char *s)
{
    size_t n = 0;
    while (n < 40 && s[n] && ((unsigned char)s[n] >= 0x20 || s[n] == '\t'))
        n++;
    return n;
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int http_header_setting(const char *in, char *out, size_t outcap, char *err, size_t errcap)
{
    size_t n = 0, len = strlen(in);
    if (outcap)
        out[0] = '\0';
    while (is_tchar((unsigned char)in[n]))
        n++;
    if (n == 0 || in[n] != ':') {
        snprintf(err, errcap, "header \"%.*s\" must be \"Name: value\"", (int)shown_len(in), in);
        return -EINVAL;
    }
    const char *v = in + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = len - (size_t)(v - in);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(err, errcap, "header \"%.*s\" has a control character in its value",
                     (int)(n < 40 ? n : 40), in);
            return -EINVAL;
        }
    }
    if (len >= HTTP_HEADER_MAX || n + vl + 3 > outcap) {
        snprintf(err, errcap, "header \"%.*s\" is longer than %d bytes", (int)(n < 40 ? n : 40), in,
                 HTTP_HEADER_MAX);
        return -EINVAL;
    }
    if (vl)
        snprintf(out, outcap, "%.*s: %.*s", (int)n, in, (int)vl, v);
    else
        snprintf(out, outcap, "%.*s;", (int)n, in);
    return 0;
}

int http_header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0 || !cap)
        return 0;
    const char *v = line + nl + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

/* ==== json_field ============================================================================ */

int http_json_field_parse(const char *spec, char **path, char **want, char *err, size_t errcap)
{
    const char *eq = strchr(spec, '=');
    *path = *want = NULL;
    if (!eq || eq == spec) {
        snprintf(err, errcap, "\"json_field\" must be path=value, e.g. data.0.state=up");
        return -EINVAL;
    }
    size_t pl = (size_t)(eq - spec), segs = 1;
    if (pl > HTTP_JSON_PATH_MAX) {
        snprintf(err, errcap, "\"json_field\": the path is longer than %d bytes",
                 HTTP_JSON_PATH_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < pl; i++) {
        if (spec[i] != '.')
            continue;
        segs++;
        if (i == 0 || i + 1 == pl || spec[i + 1] == '.') {
            snprintf(err, errcap, "\"json_field\": empty path segment in \"%.*s\"",
                     (int)(pl < 100 ? pl : 100), spec);
            return -EINVAL;
        }
    }
    if (segs > HTTP_JSON_DEPTH_MAX) {
        snprintf(err, errcap, "\"json_field\": more than %d path segments", HTTP_JSON_DEPTH_MAX);
        return -EINVAL;
    }
    *path = mem_strndup(spec, pl);
    *want = mem_strdup(eq + 1);
    if (!*path || !*want) {
        mem_free(*path);
        mem_free(*want);
        *path = *want = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* A streaming scanner over one JSON document: validates all of it (RFC 8259: UTF-8, no
 * trailing garbage, nesting bounded), follows the path, and captures the value at its end in
 * text form. Nothing but that value and the key being compared is copied. */
typedef struct jscan {
    const char *p, *start, *end;
    const char *segv[HTTP_JSON_DEPTH_MAX];
    size_t segl[HTTP_JSON_DEPTH_MAX];
    int nseg;
    int found;   /* the path's value was captured */
    char ftype;  /* its type: s n t f z (null) o a */
    buf val;     /* its text: a string decoded, anything else as JSON (compact) */
    int deepest; /* segments matched by the deepest value on the path */
    char dtype;  /* that value's type */
    const char *err;
    size_t errpos;
} jscan;

static int jfail(jscan *j, const char *why)
{
    if (!j->err) {
        j->err = why;
        j->errpos = (size_t)(j->p - j->start);
    }
    return -1;
}

static void jws(jscan *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Feeds decoded bytes to the capture buffer and/or the comparison with a key. */
typedef struct jsink {
    buf *out;
    const char *cmp;
    size_t cmplen, k;
    int differs;
} jsink;

static int jput(jsink *s, const char *b, size_t n)
{
    if (s->cmp) {
        if (s->k + n > s->cmplen || memcmp(s->cmp + s->k, b, n))
            s->differs = 1;
        else
            s->k += n;
    }
    return s->out ? buf_append(s->out, b, n) : 0;
}

/* The string at j->p (at its opening quote). Returns 0, -1 (syntax), or -ENOMEM. */
static int jstring(jscan *j, jsink *s)
{
    j->p++;
    while (j->p < j->end) {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20 &&
               (unsigned char)*j->p < 0x80)
            j->p++;
        if (j->p > run && jput(s, run, (size_t)(j->p - run)))
            return -ENOMEM;
        if (j->p >= j->end)
            break;
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            if (s->cmp && s->k != s->cmplen)
                s->differs = 1;
            return 0;
        }
        if (c < 0x20)
            return jfail(j, "control character in a string");
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)j->p, (const unsigned char *)j->end);
            if (!n)
                return jfail(j, "invalid UTF-8");
            if (jput(s, j->p, n))
                return -ENOMEM;
            j->p += n;
            continue;
        }
        /* An escape. */
        if (j->end - j->p < 2)
            break;
        char e = j->p[1], o;
        j->p += 2;
        switch (e) {
        case '"':
            o = '"';
            break;
        case '\\':
            o = '\\';
            break;
        case '/':
            o = '/';
            break;
        case 'b':
            o = '\b';
            break;
        case 'f':
            o = '\f';
            break;
        case 'n':
            o = '\n';
            break;
        case 'r':
            o = '\r';
            break;
        case 't':
            o = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (j->end - j->p < 4 || hex4(j->p, &cp))
                return jfail(j, "invalid \\u escape");
            j->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return jfail(j, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(j, "lone high surrogate");
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            char u[4];
            size_t n;
            if (cp < 0x80)
                u[0] = (char)cp, n = 1;
            else if (cp < 0x800)
                u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
            else if (cp < 0x10000)
                u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
            else
                u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
            if (jput(s, u, n))
                return -ENOMEM;
            continue;
        }
        default:
            j->p -= 1;
            return jfail(j, "invalid escape");
        }
        if (jput(s, &o, 1))
            return -ENOMEM;
    }
    return jfail(j, "unterminated string");
}

static int jdigits(jscan *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s ? 0 : jfail(j, "digit expected");
}

static int jnumber(jscan *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (jdigits(j))
        return -1;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (jdigits(j))
            return -1;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (jdigits(j))
            return -1;
    }
    return 0;
}

/* Copies the validated JSON text [a, b) into out without the blanks between tokens. */
static int jcompact(const char *a, const char *b, buf *out)
{
    int in_str = 0;
    for (const char *q = a; q < b; q++) {
        char c = *q;
        if (!in_str && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            continue;
        if (buf_putc(out, c))
            return -ENOMEM;
        if (in_str && c == '\\' && q + 1 < b) {
            if (buf_putc(out, *++q))
                return -ENOMEM;
        } else if (c == '"') {
            in_str = !in_str;
        }
    }
    return 0;
}

/* The array index a path segment names: a decimal number without leading zeros (at most 9
 * digits), else -1. */
static long json_index(const char *s, size_t n)
{
    long v = 0;
    if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* One value at j->p. level: path segments matched to reach it (-1: off the path). */
static int jvalue(jscan *j, int level, int depth)
{
    int rc;
    jws(j);
    if (j->p >= j->end)
        return jfail(j, "value expected");
    const char *vstart = j->p;
    int target = level == j->nseg;
    char c = *j->p, type;
    if (depth > HTTP_JSON_NEST_MAX)
        return jfail(j, "nested too deeply");
    if (c == '{' || c == '[') {
        type = c == '{' ? 'o' : 'a';
        int on_path = level >= 0 && level < j->nseg;
        long index = on_path && type == 'a' ? json_index(j->segv[level], j->segl[level]) : -1;
        j->p++;
        jws(j);
        char close = type == 'o' ? '}' : ']';
        if (j->p < j->end && *j->p == close) {
            j->p++;
        } else {
            for (long i = 0;; i++) {
                int child = -1;
                if (type == 'o') {
                    jws(j);
                    if (j->p >= j->end || *j->p != '"')
                        return jfail(j, "member name expected");
                    jsink ks = {0};
                    if (on_path) {
                        ks.cmp = j->segv[level];
                        ks.cmplen = j->segl[level];
                    }
                    if ((rc = jstring(j, &ks)))
                        return rc;
                    jws(j);
                    if (j->p >= j->end || *j->p != ':')
                        return jfail(j, "':' expected");
                    j->p++;
                    if (on_path && !ks.differs && !j->found)
                        child = level + 1;
                } else if (on_path && i == index && !j->found) {
                    child = level + 1;
                }
                if ((rc = jvalue(j, child, depth + 1)))
                    return rc;
                jws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == close) {
                    j->p++;
                    break;
                }
                return jfail(j, type == 'o' ? "',' or '}' expected" : "',' or ']' expected");
            }
        }
    } else if (c == '"') {
        type = 's';
        jsink s = {.out = target ? &j->val : NULL};
        if ((rc = jstring(j, &s)))
            return rc;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        type = 'n';
        if (jnumber(j))
            return -1;
    } else {
        static const struct {
            const char *w;
            char t;
        } lit[] = {{"true", 't'}, {"false", 'f'}, {"null", 'z'}};
        type = 0;
        for (size_t i = 0; i < 3 && !type; i++) {
            size_t n = strlen(lit[i].w);
            if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, lit[i].w, n)) {
                type = lit[i].t;
                j->p += n;
            }
        }
        if (!type)
            return jfail(j, "value expected");
    }
    if (level >= 0 && level > j->deepest) {
        j->deepest = level;
        j->dtype = type;
    }
    if (target && !j->found) {
        j->found = 1;
        j->ftype = type;
        if (type != 's' && jcompact(vstart, j->p, &j->val))
            return -ENOMEM;
    }
    return 0;
}

/* True if s is a JSON number; *integer set when it has no fraction or exponent. */
static int json_number_text(const char *s, size_t n, int *integer)
{
    jscan j = {.p = s, .start = s, .end = s + n};
    if (!n || jnumber(&j) || j.p != j.end)
        return 0;
    *integer = !memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n);
    return 1;
}

/* Text form for a message: at most 60 bytes, control characters shown as '?'. */
static void shown(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0, lim = n > 60 ? 57 : n;
    for (size_t i = 0; i < lim && k + 1 < cap; i++)
        out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > lim)
        for (int i = 0; i < 3 && k + 1 < cap; i++)
            out[k++] = '.';
    out[k] = '\0';
}

static const char *jtype_name(char t)
{
    switch (t) {
    case 's':
        return "a string";
    case 'n':
        return "a number";
    case 't':
    case 'f':
        return "a boolean";
    case 'z':
        return "null";
    case 'o':
        return "an object";
    default:
        return "an array";
    }
}

int http_json_check(const char *body, size_t len, const char *path, const char *want, char *msg,
                    size_t msgcap)
{
    int rc;
    jscan j = {.p = body, .start = body, .end = body + len, .deepest = -1};
    buf_init(&j.val, len + 1);
    for (const char *s = path; j.nseg < HTTP_JSON_DEPTH_MAX;) {
        const char *dot = strchr(s, '.');
        j.segv[j.nseg] = s;
        j.segl[j.nseg++] = dot ? (size_t)(dot - s) : strlen(s);
        if (!dot)
            break;
        s = dot + 1;
    }
    rc = jvalue(&j, 0, 0);
    if (!rc) {
        jws(&j);
        if (j.p != j.end)
            rc = jfail(&j, "garbage after the document");
    }
    if (rc == -ENOMEM || j.val.err == -ENOMEM) {
        rc = -ENOMEM;
        goto out;
    }
    if (rc) {
        snprintf(msg, msgcap, "body is not JSON: %s at byte %zu", j.err, j.errpos);
        rc = -EINVAL;
        goto out;
    }
    if (!j.found) {
        if (j.deepest >= 0 && j.dtype != 'o' && j.dtype != 'a') {
            size_t pre = 0;
            for (int i = 0; i < j.deepest; i++)
                pre += j.segl[i] + (i ? 1 : 0);
            if (pre > 100)
                pre = 100;
            snprintf(msg, msgcap, "json_field %s: not found (%s%.*s is %s)", path,
                     pre ? "" : "the document", (int)pre, path, jtype_name(j.dtype));
        } else {
            snprintf(msg, msgcap, "json_field %s: not found", path);
        }
        rc = 1;
        goto out;
    }
    const char *v = j.val.data ? j.val.data : "";
    size_t vl = j.val.len, wl = strlen(want);
    int match = vl == wl && !memcmp(v, want, wl), vint, wint;
    if (!match && j.ftype == 'n' && json_number_text(want, wl, &wint) &&
        json_number_text(v, vl, &vint)) {
        if (vint && wint) /* exact for any size: no leading zeros in JSON, only -0 vs 0 */
            match = (strtod(v, NULL) == 0 && strtod(want, NULL) == 0);
        else
            match = strtod(v, NULL) == strtod(want, NULL);
    }
    if (match) {
        rc = 0;
        goto out;
    }
    char a[64], b[64];
    shown(v, vl, a, sizeof a);
    shown(want, wl, b, sizeof b);
    if (j.ftype == 's')
        snprintf(msg, msgcap, "json_field %s is \"%s\", expected \"%s\"", path, a, b);
    else
        snprintf(msg, msgcap, "json_field %s is %s, expected \"%s\"", path, a, b);
    rc = 1;
out:
    buf_free(&j.val);
    return rc;
}

/* ==== phases ================================================================================ */

const char *const http_phase_names[HTTP_NPHASES] = {"resolve", "connect", "tls", "processing",
                                                    "transfer"};

static int64_t pos(int64_t v)
{
    return v > 0 ? v : 0;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static http_times times_sub(const http_times *a, const http_times *b)
{
    return (http_times){a->namelookup - b->namelookup, a->connect - b->connect,
                        a->appconnect - b->appconnect, a->starttransfer - b->starttransfer};
}

void http_phase_status_line(http_phase_acc *a, const http_times *now)
{
    http_times d = times_sub(now, &a->last);
    if (d.namelookup <= 0 && d.connect <= 0 && d.appconnect <= 0 && d.starttransfer <= 0)
        return;
    if (a->hops == 0)
        a->first_namelookup = pos(d.namelookup);
    a->resolve += pos(d.namelookup);
    a->connect += pos(d.connect - d.namelookup);
    if (d.appconnect > 0)
        a->tls += pos(d.appconnect - d.connect);
    a->processing += pos(d.starttransfer - max64(d.connect, d.appconnect));
    a->last = *now;
    a->hops++;
}

int http_phase_partial(const http_phase_acc *a, const http_times *fin)
{
    http_times d = times_sub(fin, &a->last);
    return a->hops == 0 || d.namelookup > 0 || d.connect > 0 || d.appconnect > 0 ||
           d.starttransfer > 0;
}

void http_phase_finish(const http_phase_acc *a, const http_times *fin, int64_t total_us,
                       int64_t redirect_us, int last_https, double out[HTTP_NPHASES])
{
    int64_t ph[HTTP_NPHASES] = {a->resolve, a->connect, a->tls, a->processing, 0};
    http_times d = times_sub(fin, &a->last);
    total_us = pos(total_us);
    if (!http_phase_partial(a, fin)) {
        ph[HTTP_PHASE_TRANSFER] = pos(total_us - a->last.starttransfer);
    } else {
        /* The last request began at redirect_us (0 without redirects) and did not reach its
         * status line: what it spent goes to the phase it was in. */
        int64_t dur = pos(total_us - (a->hops ? pos(redirect_us) : 0));
        ph[HTTP_PHASE_TRANSFER] = pos(total_us - dur - a->last.starttransfer);
        int64_t nl = pos(d.namelookup), co = pos(d.connect), ac = pos(d.appconnect),
                st = pos(d.starttransfer);
        if (!nl) {
            ph[HTTP_PHASE_RESOLVE] += dur;
        } else if (!co) {
            ph[HTTP_PHASE_RESOLVE] += nl;
            ph[HTTP_PHASE_CONNECT] += pos(dur - nl);
        } else {
            ph[HTTP_PHASE_RESOLVE] += nl;
            ph[HTTP_PHASE_CONNECT] += pos(co - nl);
            if (last_https && !ac) {
                ph[HTTP_PHASE_TLS] += pos(dur - co);
            } else {
                int64_t ready = max64(co, ac);
                ph[HTTP_PHASE_TLS] += ac ? pos(ac - co) : 0;
                if (!st) {
                    ph[HTTP_PHASE_PROCESSING] += pos(dur - ready);
                } else {
                    ph[HTTP_PHASE_PROCESSING] += pos(st - ready);
                    ph[HTTP_PHASE_TRANSFER] += pos(dur - st);
                }
            }
        }
    }
    for (int i = 0; i < HTTP_NPHASES; i++)
        out[i] = (double)ph[i] / 1e6;
}
