/* syslog: RFC 5424 / RFC 3164 messages into event records, and RFC 6587 TCP framing.
 *
 * Design. A message is parsed in place with pointer pairs (span = start and length); nothing
 * is copied until the end, when the members of the record are written into the caller's
 * scratch buffer one after the other, each NUL-terminated, and the record's pointers are set
 * from their offsets (the buffer may move while it grows). Structured data is validated in one
 * pass that records where each element and parameter is (on the stack, bounded by
 * SYSLOG_SD_MAX_*), and written as JSON only when the whole of it was well-formed: a message
 * with broken structured data keeps its raw remainder as text, so nothing a sender said is lost.
 *
 * RFC 3164 describes what relays saw in 2001 more than it specifies; the parser follows what
 * rsyslog's pmrfc3164 accepts, with the differences noted here:
 *   - the time is "Mmm dd hh:mm:ss" (day space- or zero-padded), optionally with a fraction,
 *     a year after the day ("Oct 11 2026 22:14:15"), or an ISO 8601 / RFC 3339 time; Cisco IOS
 *     puts "seq: " before it, '*' or '.' (clock not synchronised) in front and ':' after it;
 *   - the word after the time is the host name unless it looks like a tag ("word:" or
 *     "word[pid]", then the host name is missing, as with logger(1) writing to /dev/log);
 *     without a time there is no host name;
 *   - the tag ends at '[' or ':' and must be followed by ':' or "[pid]" and then a space (or
 *     the end), so a message that merely starts with a word, or with "http://", has no tag;
 *     rsyslog would take its first word as the tag. One space after the tag is not text.
 * A message without a valid PRI gets PRI 13 (user.notice) and is parsed from its first byte.
 *
 * The framer keeps only the incomplete tail of what a read returned; complete messages are
 * handed to the callback straight from the caller's bytes. */
#include "syslog.h"

#include "lib/mem.h"
#include "lib/timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL
#define NONE ((size_t)-1) /* an offset for "" */
#define TAG_MAX 128       /* longest 3164 tag (RFC 3164 says 32; real tags are longer) */
#define PID_MAX 128       /* longest PROCID (RFC 5424 6.2.6) */
#define SD_NAME_MAX 32    /* SD-NAME (RFC 5424 6.3) */
#define HOST_MAX 255
#define FRAMER_MAX_MSG_CAP ((size_t)1 << 30)

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct sd_param {
    const char *name;
    const char *val; /* still escaped */
    unsigned nlen;
    unsigned vlen;
} sd_param;

typedef struct sd_elem {
    const char *id;
    unsigned idlen;
    unsigned first; /* index of its first parameter */
    unsigned n;
} sd_elem;

/* What a message says, as spans into the input. */
typedef struct msg {
    int pri;
    int64_t t_ms;
    span host, app, text, procid, msgid, seq, rawtime;
    const char *sd_err; /* reason, or NULL */
    size_t sd_err_pos;
    unsigned nelem, nparam;
    sd_elem elem[SYSLOG_SD_MAX_ELEMENTS];
    sd_param param[SYSLOG_SD_MAX_PARAMS];
} msg;

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ---- calendar ---------------------------------------------------------------------------- */

/* The year of a day number. */
static int64_t year_of_days(int64_t z)
{
    int64_t y;
    unsigned m, d;
    timeutil_civil_from_days(z, &y, &m, &d);
    return y;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m of year y; y < 0 means "some leap year" (a 3164 date without year). */
static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned char d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y < 0 || is_leap(y)))
        return 29;
    return d[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- times ------------------------------------------------------------------------------- */

typedef struct ctime_ {
    int64_t year; /* -1: not given */
    unsigned mon, day, h, m, s, ms;
} ctime_;

/* Reads exactly n digits. */
static const char *read_digits(const char *p, const char *end, int n, unsigned *v)
{
    unsigned x = 0;
    if (end - p < n)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return NULL;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return p + n;
}

/* "hh:mm:ss" and an optional fraction ('.' or ',' and digits; ms from the first three). */
static const char *read_hms(const char *p, const char *end, ctime_ *t)
{
    if (!(p = read_digits(p, end, 2, &t->h)) || p == end || *p++ != ':' ||
        !(p = read_digits(p, end, 2, &t->m)) || p == end || *p++ != ':' ||
        !(p = read_digits(p, end, 2, &t->s)))
        return NULL;
    if (t->h > 23 || t->m > 59 || t->s > 60)
        return NULL;
    t->ms = 0;
    if (p + 1 < end && (*p == '.' || *p == ',') && is_digit((unsigned char)p[1])) {
        p++;
        unsigned scale = 100;
        for (; p < end && is_digit((unsigned char)*p); p++) {
            t->ms += (unsigned)(*p - '0') * scale;
            scale /= 10; /* digits past the third add 0 */
        }
    }
    return p;
}

/* Milliseconds of a local civil time at offset off_s east of UTC. */
static int64_t civil_ms(const ctime_ *t, int64_t year, int64_t off_s)
{
    int64_t days = timeutil_days_from_civil(year, t->mon, t->day);
    return ((days * 24 + t->h) * 60 + t->m) * 60000 + (int64_t)t->s * 1000 + t->ms - off_s * 1000;
}

/* An RFC 3339 / ISO 8601 time: "YYYY-MM-DD" 'T' (or 't', or one space) "hh:mm:ss", an
 * optional fraction and an optional zone ('Z', "+hh:mm", "+hhmm", "+hh"); without a zone it is
 * at tz_s. Returns the end of the time or NULL. */
static const char *read_iso(const char *p, const char *end, int tz_s, int64_t *ms)
{
    ctime_ t;
    unsigned y;
    if (!(p = read_digits(p, end, 4, &y)) || p == end || *p++ != '-' ||
        !(p = read_digits(p, end, 2, &t.mon)) || p == end || *p++ != '-' ||
        !(p = read_digits(p, end, 2, &t.day)) || p == end)
        return NULL;
    if (*p == 'T' || *p == 't' || *p == ' ')
        p++;
    else
        return NULL;
    if (!(p = read_hms(p, end, &t)))
        return NULL;
    if (t.mon < 1 || t.mon > 12 || t.day < 1 || t.day > month_days(y, t.mon))
        return NULL;
    int64_t off = tz_s;
    if (p < end && (*p == 'Z' || *p == 'z')) {
        off = 0;
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int neg = *p == '-';
        unsigned oh, om = 0;
        const char *q = read_digits(p + 1, end, 2, &oh);
        if (!q)
            return NULL;
        if (q < end && *q == ':') {
            if (!(q = read_digits(q + 1, end, 2, &om)))
                return NULL;
        } else if (q + 1 < end && is_digit((unsigned char)q[0]) && is_digit((unsigned char)q[1])) {
            q = read_digits(q, end, 2, &om);
        }
        if (oh > 23 || om > 59)
            return NULL;
        off = (int64_t)(oh * 3600 + om * 60) * (neg ? -1 : 1);
        p = q;
    }
    *ms = civil_ms(&t, y, off);
    return p;
}

/* A BSD time: "Mmm dd hh:mm:ss" (day " d", "dd" or "d"), an optional year after the day
 * ("Oct 11 2026 22:14:15") and an optional fraction. Returns its end or NULL. */
static const char *read_bsd(const char *p, const char *end, ctime_ *t)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    if (end - p < 14) /* "Mmm d hh:mm:ss" */
        return NULL;
    char a = (char)(p[0] | 0x20), b = (char)(p[1] | 0x20), c = (char)(p[2] | 0x20);
    t->mon = 0;
    for (unsigned i = 0; i < 12; i++)
        if (months[3 * i] == a && months[3 * i + 1] == b && months[3 * i + 2] == c) {
            t->mon = i + 1;
            break;
        }
    if (!t->mon || p[3] != ' ')
        return NULL;
    p += 4;
    if (*p == ' ')
        p++;
    if (p == end || !is_digit((unsigned char)*p))
        return NULL;
    t->day = (unsigned)(*p++ - '0');
    if (p < end && is_digit((unsigned char)*p))
        t->day = t->day * 10 + (unsigned)(*p++ - '0');
    if (p == end || *p++ != ' ')
        return NULL;
    t->year = -1;
    unsigned y;
    const char *q = read_digits(p, end, 4, &y);
    if (q && q < end && *q == ' ') {
        t->year = y;
        p = q + 1;
    }
    if (t->day < 1 || t->day > month_days(t->year, t->mon))
        return NULL;
    return read_hms(p, end, t);
}

/* The time of a BSD date: in its year if it has one, else in the year that puts it closest
 * to now_ms without being more than a day ahead (a sender's clock a little fast is fine; a
 * December message read in January belongs to the year before). */
static int64_t bsd_ms(const ctime_ *t, int64_t now_ms, int tz_s)
{
    if (t->year >= 0)
        return civil_ms(t, t->year, tz_s);
    int64_t local_now = now_ms + (int64_t)tz_s * 1000;
    int64_t y0 = year_of_days(floor_div(local_now, DAY_MS));
    for (int64_t y = y0 + 1; y >= y0 - 8; y--) {
        if (t->day > month_days(y, t->mon))
            continue; /* Feb 29 outside a leap year */
        int64_t ms = civil_ms(t, y, tz_s);
        if (ms <= now_ms + DAY_MS)
            return ms;
    }
    return now_ms; /* not reached: a leap year comes within 8 */
}

/* A 3164 time with what surrounds it, at p: Cisco's '*' or '.', a BSD or ISO time, a fraction,
 * Cisco's " ZONE:" or ':' after it, and the spaces that follow. Returns the position after it,
 * or NULL when p holds no time. */
static const char *read_3164_time(const char *p, const char *end, int64_t now_ms, int tz_s,
                                  int64_t *ms)
{
    const char *q;
    ctime_ t;
    if (p < end && (*p == '*' || *p == '.'))
        p++;
    if (p < end && is_digit((unsigned char)*p)) {
        if (!(q = read_iso(p, end, tz_s, ms)))
            return NULL;
    } else {
        if (!(q = read_bsd(p, end, &t)))
            return NULL;
        int zone = tz_s;
        /* Cisco: "Mar  1 18:46:11.873 UTC: ..." */
        if (q < end && *q == ' ') {
            const char *z = q + 1;
            while (z < end && z - q <= 6 && *z >= 'A' && *z <= 'Z')
                z++;
            if (z - q >= 4 && z - q <= 6 && z < end && *z == ':') {
                if (z - q == 4 && (!memcmp(q + 1, "UTC", 3) || !memcmp(q + 1, "GMT", 3)))
                    zone = 0;
                q = z;
            }
        }
        *ms = bsd_ms(&t, now_ms, zone);
    }
    if (q < end && *q == ':')
        q++;
    if (q < end && *q != ' ')
        return NULL;
    while (q < end && *q == ' ')
        q++;
    return q;
}

/* ---- RFC 3164 ---------------------------------------------------------------------------- */

static int is_tag_char(int c)
{
    return c > ' ' && c < 127 && c != ':' && c != '[' && c != ']';
}

/* A tag at p: "name:" or "name[pid]" or "name[pid]:", followed by a space or the end.
 * Returns the position after it (and one space), or NULL. */
static const char *read_tag(const char *p, const char *end, span *app, span *pid)
{
    const char *s = p;
    while (p < end && p - s <= TAG_MAX && is_tag_char((unsigned char)*p))
        p++;
    if (p == s || p == end || p - s > TAG_MAX)
        return NULL;
    span name = {s, (size_t)(p - s)}, id = {NULL, 0};
    if (*p == '[') {
        const char *ps = ++p;
        while (p < end && p - ps <= PID_MAX && *p != ']' && (unsigned char)*p > ' ')
            p++;
        if (p == end || *p != ']')
            return NULL;
        id.p = ps;
        id.n = (size_t)(p - ps);
        p++;
        if (p < end && *p == ':')
            p++;
    } else if (*p == ':') {
        p++;
    } else {
        return NULL;
    }
    if (p < end && *p != ' ')
        return NULL;
    if (p < end)
        p++;
    *app = name;
    *pid = id;
    return p;
}

/* Whether w looks like a host name or address (letters, digits, '.', '-', '_', ':' for IPv6,
 * not ending with ':'). */
static int is_host(const char *p, size_t n)
{
    if (n == 0 || n > HOST_MAX || p[n - 1] == ':')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !is_digit(c) && c != '.' && c != '-' &&
            c != '_' && c != ':')
            return 0;
    }
    return 1;
}

/* Cisco's sequence number before a time: "123: *Mar  1 ...". Returns the position after the
 * time, or NULL when p holds no such thing. */
static const char *read_cisco_seq(const char *p, const char *end, int64_t now_ms, int tz_s,
                                  span *seq, int64_t *ms)
{
    const char *q = p;
    while (q < end && q - p <= 10 && is_digit((unsigned char)*q))
        q++;
    if (q == p || q - p > 10 || end - q < 2 || q[0] != ':' || q[1] != ' ')
        return NULL;
    const char *r = read_3164_time(q + 2, end, now_ms, tz_s, ms);
    if (!r)
        return NULL;
    seq->p = p;
    seq->n = (size_t)(q - p);
    return r;
}

static const char *skip_bom(const char *p, const char *end)
{
    if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        return p + 3;
    return p;
}

static void parse_3164(msg *m, const char *p, const char *end, int64_t now_ms, int tz_s)
{
    const char *q;
    int have_time = 0;
    p = skip_bom(p, end);
    if ((q = read_cisco_seq(p, end, now_ms, tz_s, &m->seq, &m->t_ms)) ||
        (q = read_3164_time(p, end, now_ms, tz_s, &m->t_ms))) {
        p = q;
        have_time = 1;
    } else {
        m->t_ms = now_ms; /* a failed attempt may have written it */
    }
    if (have_time && p < end) {
        span app, pid;
        const char *w = p;
        while (w < end && *w != ' ')
            w++;
        if (!read_tag(p, end, &app, &pid) && is_host(p, (size_t)(w - p))) {
            if (!(w - p == 1 && *p == '-'))
                m->host = (span){p, (size_t)(w - p)};
            p = w < end ? w + 1 : w;
            span seq;
            int64_t ms;
            if ((q = read_cisco_seq(p, end, now_ms, tz_s, &seq, &ms))) {
                m->seq = seq;
                m->t_ms = ms;
                p = q;
            }
        }
    }
    if ((q = read_tag(p, end, &m->app, &m->procid)))
        p = q;
    p = skip_bom(p, end);
    m->text = (span){p, (size_t)(end - p)};
}

/* ---- RFC 5424 ---------------------------------------------------------------------------- */

/* The token at *pp up to a space or the end; *pp moves past the space. */
static span token(const char **pp, const char *end)
{
    const char *p = *pp;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    span t = {p, (size_t)((sp ? sp : end) - p)};
    *pp = sp ? sp + 1 : end;
    if (t.n == 1 && *p == '-')
        t.n = 0; /* NILVALUE */
    return t;
}

static int is_sd_name_char(int c)
{
    return c > ' ' && c < 127 && c != '=' && c != ']' && c != '"';
}

/* Reads STRUCTURED-DATA at p ('['), strictly (RFC 5424 6.3), into m->elem and m->param.
 * Returns the start of MSG (end when there is none), or NULL with m->sd_err and
 * m->sd_err_pos set. */
static const char *read_sd(msg *m, const char *base, const char *p, const char *end)
{
#define SD_FAIL(why)                                                                               \
    do {                                                                                           \
        m->sd_err = (why);                                                                         \
        m->sd_err_pos = (size_t)(p - base);                                                        \
        return NULL;                                                                               \
    } while (0)
    while (p < end && *p == '[') {
        p++;
        const char *id = p;
        while (p < end && is_sd_name_char((unsigned char)*p))
            p++;
        size_t idlen = (size_t)(p - id);
        if (idlen == 0)
            SD_FAIL("empty SD-ID");
        if (idlen > SD_NAME_MAX)
            SD_FAIL("SD-ID longer than 32 bytes");
        for (unsigned i = 0; i < m->nelem; i++)
            if (m->elem[i].idlen == idlen && !memcmp(m->elem[i].id, id, idlen))
                SD_FAIL("SD-ID repeated");
        if (m->nelem == SYSLOG_SD_MAX_ELEMENTS)
            SD_FAIL("too many SD elements");
        sd_elem *e = &m->elem[m->nelem++];
        e->id = id;
        e->idlen = (unsigned)idlen;
        e->first = m->nparam;
        e->n = 0;
        for (;;) {
            if (p == end)
                SD_FAIL("unterminated SD element");
            if (*p == ']') {
                p++;
                break;
            }
            if (*p != ' ')
                SD_FAIL("expected ' ' or ']'");
            p++;
            const char *name = p;
            while (p < end && is_sd_name_char((unsigned char)*p))
                p++;
            size_t nlen = (size_t)(p - name);
            if (nlen == 0)
                SD_FAIL("empty PARAM-NAME");
            if (nlen > SD_NAME_MAX)
                SD_FAIL("PARAM-NAME longer than 32 bytes");
            if (p == end || *p != '=')
                SD_FAIL("expected '=' after PARAM-NAME");
            p++;
            if (p == end || *p != '"')
                SD_FAIL("expected '\"' before PARAM-VALUE");
            const char *val = ++p;
            /* '\' escapes '"', '\' and ']'; before anything else it is itself (6.3.3). An
             * unescaped ']' is accepted: the quotes delimit the value unambiguously. */
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\' || p[1] == ']'))
                    p++;
                p++;
            }
            if (p == end)
                SD_FAIL("unterminated PARAM-VALUE");
            if (m->nparam == SYSLOG_SD_MAX_PARAMS)
                SD_FAIL("too many SD parameters");
            sd_param *pa = &m->param[m->nparam++];
            pa->name = name;
            pa->nlen = (unsigned)nlen;
            pa->val = val;
            pa->vlen = (unsigned)(p - val);
            e->n++;
            p++;
        }
    }
    if (p == end)
        return end;
    if (*p != ' ')
        SD_FAIL("expected ' ' after STRUCTURED-DATA");
    return p + 1;
#undef SD_FAIL
}

/* Whether the message after PRI is RFC 5424: VERSION 1, then a TIMESTAMP that is NIL or
 * starts as a date. Anything else ("<13>1 apple") is read as 3164, so no text is lost to a
 * header it never had. */
static int is_5424(const char *p, const char *end)
{
    if (end - p < 3 || p[0] != '1' || p[1] != ' ')
        return 0;
    p += 2;
    if (*p == '-')
        return end - p == 1 || p[1] == ' ';
    return end - p >= 5 && is_digit((unsigned char)p[0]) && is_digit((unsigned char)p[1]) &&
           is_digit((unsigned char)p[2]) && is_digit((unsigned char)p[3]) && p[4] == '-';
}

static void parse_5424(msg *m, const char *base, const char *p, const char *end, int64_t now_ms,
                       int tz_s)
{
    span ts = token(&p, end);
    if (ts.n == 0 || read_iso(ts.p, ts.p + ts.n, tz_s, &m->t_ms) != ts.p + ts.n) {
        m->t_ms = now_ms;
        m->rawtime = ts;
    }
    m->host = token(&p, end);
    m->app = token(&p, end);
    m->procid = token(&p, end);
    m->msgid = token(&p, end);
    m->text = (span){end, 0};
    if (p == end)
        return;
    const char *sd = p, *q;
    if (*p == '-') {
        q = p + 1 == end ? end : p[1] == ' ' ? p + 2 : NULL;
        if (!q) {
            m->sd_err = "expected ' ' after STRUCTURED-DATA";
            m->sd_err_pos = (size_t)(p + 1 - base);
        }
    } else if (*p == '[') {
        q = read_sd(m, base, p, end);
    } else {
        q = NULL;
        m->sd_err = "expected '[' or '-' for STRUCTURED-DATA";
        m->sd_err_pos = (size_t)(p - base);
    }
    if (!q) {
        m->nelem = m->nparam = 0;
        m->text = (span){sd, (size_t)(end - sd)};
        return;
    }
    q = skip_bom(q, end);
    m->text = (span){q, (size_t)(end - q)};
}

/* ---- output ------------------------------------------------------------------------------ */

/* Copies p[0..n) NUL-terminated into b (NULs become U+FFFD); returns its offset, NONE for an
 * empty string or after an error (sticky in b->err). */
static size_t put_cstr(buf *b, const char *p, size_t n)
{
    if (n == 0)
        return NONE;
    int nul = memchr(p, '\0', n) != NULL;
    if (buf_reserve(b, (nul ? 3 * n : n) + 1))
        return NONE;
    size_t off = b->len;
    char *o = b->data + off;
    if (!nul) {
        memcpy(o, p, n);
        o += n;
    } else {
        for (size_t i = 0; i < n; i++) {
            if (p[i]) {
                *o++ = p[i];
            } else {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
            }
        }
    }
    *o++ = '\0';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return off;
}

/* The title: the first non-empty line of text, at most SYSLOG_TITLE_MAX bytes once NULs are
 * U+FFFD, cut at a UTF-8 boundary. Returns the span to copy. */
static span title_of(span t)
{
    const char *p = t.p;
    size_t n = t.n;
    while (n && (*p == '\n' || *p == '\r')) {
        p++;
        n--;
    }
    const char *nl = memchr(p, '\n', n);
    if (nl)
        n = (size_t)(nl - p);
    while (n && p[n - 1] == '\r')
        n--;
    size_t cut = n;
    size_t look = n < SYSLOG_TITLE_MAX ? n : SYSLOG_TITLE_MAX;
    if (memchr(p, '\0', look)) {
        size_t out = 0;
        for (cut = 0; cut < n; cut++) {
            size_t w = p[cut] ? 1 : 3;
            if (out + w > SYSLOG_TITLE_MAX)
                break;
            out += w;
        }
    } else if (n > SYSLOG_TITLE_MAX) {
        cut = SYSLOG_TITLE_MAX;
    }
    if (cut < n)
        for (int back = 0; back < 3 && cut > 0 && ((unsigned char)p[cut] & 0xc0) == 0x80; back++)
            cut--;
    return (span){p, cut};
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *e)
{
    unsigned c = s[0];
    size_t k = e - s;
    if (c >= 0xc2 && c <= 0xdf)
        return k >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (k < 3 || (s[2] & 0xc0) != 0x80)
            return 0;
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (k < 4 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi ? 4 : 0;
    }
    return 0;
}

/* Writes p[0..n) as a JSON string: control characters escaped, NUL and invalid UTF-8 as
 * U+FFFD; with sd, the PARAM-VALUE escapes \" \\ \] are undone first. */
static void put_json_str(buf *b, const char *p, size_t n, int sd)
{
    static const char hex[] = "0123456789abcdef";
    if (n > ((size_t)-1 - 8) / 6) {
        b->err = b->err ? b->err : -E2BIG;
        return;
    }
    if (buf_reserve(b, 6 * n + 2))
        return;
    unsigned char *o = (unsigned char *)b->data + b->len;
    const unsigned char *s = (const unsigned char *)p, *e = s + n;
    *o++ = '"';
    while (s < e) {
        unsigned c = *s;
        if (c >= 0x20 && c < 0x80) {
            if (c == '\\' && sd && s + 1 < e && (s[1] == '"' || s[1] == '\\' || s[1] == ']'))
                c = *++s;
            if (c == '"' || c == '\\')
                *o++ = '\\';
            *o++ = (unsigned char)c;
            s++;
        } else if (c == 0) {
            /* Valid JSON as \u0000, but refused by jansson and C string consumers. */
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            s++;
        } else if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            default:
                memcpy(o, "u00", 3);
                o[3] = (unsigned char)hex[c >> 4];
                o[4] = (unsigned char)hex[c & 15];
                o += 5;
            }
            s++;
        } else {
            size_t k = utf8_len(s, e);
            if (k) {
                memcpy(o, s, k);
                o += k;
                s += k;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                s++;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)((char *)o - b->data);
    b->data[b->len] = '\0';
}

/* Writes "key": before a member (key is a plain literal). */
static void put_key(buf *b, int *first, const char *key)
{
    buf_putc(b, *first ? '{' : ',');
    *first = 0;
    buf_putc(b, '"');
    buf_puts(b, key);
    buf_puts(b, "\":");
}

static void put_sd(buf *b, const msg *m)
{
    buf_putc(b, '{');
    for (unsigned i = 0; i < m->nelem; i++) {
        const sd_elem *e = &m->elem[i];
        if (i)
            buf_putc(b, ',');
        put_json_str(b, e->id, e->idlen, 0);
        buf_puts(b, ":{");
        int firstp = 1;
        for (unsigned j = e->first; j < e->first + e->n; j++) {
            const sd_param *pj = &m->param[j];
            unsigned k, same = 0;
            for (k = e->first; k < j; k++)
                if (m->param[k].nlen == pj->nlen && !memcmp(m->param[k].name, pj->name, pj->nlen))
                    break;
            if (k < j)
                continue; /* written with the first of its name */
            for (k = j + 1; k < e->first + e->n; k++)
                same +=
                    m->param[k].nlen == pj->nlen && !memcmp(m->param[k].name, pj->name, pj->nlen);
            if (!firstp)
                buf_putc(b, ',');
            firstp = 0;
            put_json_str(b, pj->name, pj->nlen, 0);
            buf_putc(b, ':');
            if (!same) {
                put_json_str(b, pj->val, pj->vlen, 1);
                continue;
            }
            buf_putc(b, '[');
            put_json_str(b, pj->val, pj->vlen, 1);
            for (k = j + 1; k < e->first + e->n; k++)
                if (m->param[k].nlen == pj->nlen && !memcmp(m->param[k].name, pj->name, pj->nlen)) {
                    buf_putc(b, ',');
                    put_json_str(b, m->param[k].val, m->param[k].vlen, 1);
                }
            buf_putc(b, ']');
        }
        buf_putc(b, '}');
    }
    buf_putc(b, '}');
}

/* Writes the fields object; returns its offset or NONE when it would be empty. */
static size_t put_fields(buf *b, const msg *m)
{
    if (!m->procid.n && !m->msgid.n && !m->seq.n && !m->rawtime.n && !m->nelem && !m->sd_err)
        return NONE;
    size_t off = b->len;
    int first = 1;
    if (m->procid.n) {
        put_key(b, &first, "procid");
        put_json_str(b, m->procid.p, m->procid.n, 0);
    }
    if (m->msgid.n) {
        put_key(b, &first, "msgid");
        put_json_str(b, m->msgid.p, m->msgid.n, 0);
    }
    if (m->seq.n) {
        put_key(b, &first, "seq");
        put_json_str(b, m->seq.p, m->seq.n, 0);
    }
    if (m->rawtime.n) {
        put_key(b, &first, "timestamp");
        put_json_str(b, m->rawtime.p, m->rawtime.n, 0);
    }
    if (m->nelem) {
        put_key(b, &first, "sd");
        put_sd(b, m);
    }
    if (m->sd_err) {
        char why[128];
        int n = snprintf(why, sizeof why, "byte %zu: %s", m->sd_err_pos, m->sd_err);
        put_key(b, &first, "sd_error");
        put_json_str(b, why, n > 0 ? (size_t)n : 0, 0);
    }
    buf_putc(b, '}');
    buf_putc(b, '\0'); /* the terminator of this string; b->len moves past it */
    return off;
}

static const char *at(const buf *b, size_t off)
{
    return off == NONE ? "" : b->data + off;
}

int syslog_parse(const char *data, size_t len, int64_t now_ms, int tz_offset_s, buf *scratch,
                 event *ev, char *err, size_t errcap)
{
    const char *p = data, *end = data + len;
    /* Trailing CR/LF/NUL are framing, not text; so are leading ones and a BOM before PRI. */
    while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\0'))
        end--;
    while (p < end && (*p == '\n' || *p == '\r' || *p == '\0'))
        p++;
    p = skip_bom(p, end);
    if (p == end) {
        set_err(err, errcap, "empty message");
        return -EINVAL;
    }
    if (end - p >= 3 && p[0] == 0x16 && p[1] == 0x03 && (unsigned char)p[2] <= 0x04) {
        set_err(err, errcap, "a TLS handshake on a plaintext syslog port");
        return -EINVAL;
    }

    msg m;
    m.pri = 13;
    m.t_ms = now_ms;
    m.host = m.app = m.procid = m.msgid = m.seq = m.rawtime = (span){NULL, 0};
    m.text = (span){end, 0};
    m.sd_err = NULL;
    m.sd_err_pos = 0;
    m.nelem = m.nparam = 0;

    /* PRI: '<', 1 to 3 digits, '>', at most 191 (RFC 5424 6.2.1). */
    const char *body = p;
    if (*p == '<') {
        const char *q = p + 1;
        unsigned v = 0;
        while (q < end && q - p <= 3 && is_digit((unsigned char)*q))
            v = v * 10 + (unsigned)(*q++ - '0');
        if (q > p + 1 && q < end && *q == '>' && v <= 191) {
            m.pri = (int)v;
            body = q + 1;
        }
    }
    if (body != p && is_5424(body, end))
        parse_5424(&m, data, body + 2, end, now_ms, tz_offset_s);
    else
        parse_3164(&m, body, end, now_ms, tz_offset_s);

    buf_reset(scratch);
    span title = title_of(m.text);
    size_t host = put_cstr(scratch, m.host.p, m.host.n);
    size_t app = put_cstr(scratch, m.app.p, m.app.n);
    size_t text = put_cstr(scratch, m.text.p, m.text.n);
    size_t ttl =
        title.p == m.text.p && title.n == m.text.n ? text : put_cstr(scratch, title.p, title.n);
    size_t fields = put_fields(scratch, &m);
    if (scratch->err) {
        set_err(err, errcap, "%s",
                scratch->err == -E2BIG ? "scratch buffer full" : "out of memory");
        return scratch->err;
    }
    event_init(ev);
    ev->kind = EVENT_KIND_SYSLOG;
    ev->severity = m.pri & 7;
    ev->facility = m.pri >> 3;
    ev->t_ms = m.t_ms;
    ev->host = at(scratch, host);
    ev->app = at(scratch, app);
    ev->text = at(scratch, text);
    ev->title = at(scratch, ttl);
    ev->fields = at(scratch, fields);
    return 0;
}

/* ---- TCP framing (RFC 6587) -------------------------------------------------------------- */

enum { FR_START, FR_COUNT, FR_OCTETS, FR_LINE, FR_SKIP };

void syslog_framer_init(syslog_framer *f, size_t max_msg)
{
    memset(f, 0, sizeof *f);
    if (max_msg == 0)
        max_msg = SYSLOG_MAX_MSG_DEFAULT;
    if (max_msg < SYSLOG_MAX_MSG_MIN)
        max_msg = SYSLOG_MAX_MSG_MIN;
    if (max_msg > FRAMER_MAX_MSG_CAP)
        max_msg = FRAMER_MAX_MSG_CAP;
    f->max_msg = max_msg;
    f->state = FR_START;
}

void syslog_framer_free(syslog_framer *f)
{
    if (!f)
        return;
    mem_free(f->pend);
    f->pend = NULL;
    f->pend_len = f->pend_cap = 0;
}

/* Appends to the incomplete message; callers keep pend_len + n <= max_msg. */
static int pend_add(syslog_framer *f, const char *p, size_t n)
{
    if (f->pend_len + n > f->pend_cap) {
        size_t cap = f->pend_cap ? f->pend_cap : 1024;
        while (cap < f->pend_len + n)
            cap *= 2;
        if (cap > f->max_msg)
            cap = f->max_msg;
        char *q = mem_realloc(f->pend, cap);
        if (!q)
            return -ENOMEM;
        f->pend = q;
        f->pend_cap = cap;
    }
    memcpy(f->pend + f->pend_len, p, n);
    f->pend_len += n;
    return 0;
}

/* Hands over a message (an LF-framed one without trailing CRs). */
static int emit(syslog_framer *f, const char *p, size_t n, int line, syslog_frame_fn fn, void *ctx)
{
    if (line)
        while (n && p[n - 1] == '\r')
            n--;
    if (!n)
        return 0;
    f->messages++;
    f->octet += !line;
    return fn(ctx, p, n);
}

/* The first LF or NUL in p[0..n), or NULL. */
static const char *find_term(const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    const char *nul = memchr(p, '\0', lf ? (size_t)(lf - p) : n);
    return nul ? nul : lf;
}

int syslog_framer_feed(syslog_framer *f, const char *data, size_t len, syslog_frame_fn fn,
                       void *ctx, char *err, size_t errcap)
{
    size_t i = 0;
    int rc;
    while (i < len) {
        switch (f->state) {
        case FR_START: {
            char c = data[i];
            if (c == '\n' || c == '\r' || c == '\0') {
                i++; /* an empty frame, or a terminator after an octet-counted message */
            } else if (is_digit((unsigned char)c)) {
                f->state = FR_COUNT;
                f->ndigits = 0;
            } else {
                f->state = FR_LINE;
            }
            break;
        }
        case FR_COUNT: {
            while (i < len && is_digit((unsigned char)data[i]) &&
                   f->ndigits < (int)sizeof f->digits)
                f->digits[f->ndigits++] = data[i++];
            if (i == len)
                return 0;
            if (data[i] == ' ' && f->ndigits < (int)sizeof f->digits) {
                uint64_t v = 0;
                for (int k = 0; k < f->ndigits; k++)
                    v = v * 10 + (uint64_t)(f->digits[k] - '0');
                if (f->digits[0] == '0') {
                    set_err(err, errcap, "octet count %.*s: %s", f->ndigits, f->digits,
                            v ? "leading zero" : "zero");
                    return -EPROTO;
                }
                if (v > f->max_msg) {
                    set_err(err, errcap, "octet count %llu above the %zu-byte message limit",
                            (unsigned long long)v, f->max_msg);
                    return -EPROTO;
                }
                f->want = (size_t)v;
                f->pend_len = 0;
                f->state = FR_OCTETS;
                i++;
                break;
            }
            /* Not a count: the digits begin a message without PRI ("2026-10-11T...",
             * "123: ..."), framed by LF as rsyslog reads it. */
            if ((rc = pend_add(f, f->digits, (size_t)f->ndigits)))
                return rc;
            f->ndigits = 0;
            f->state = FR_LINE;
            break;
        }
        case FR_OCTETS: {
            size_t avail = len - i;
            if (f->pend_len == 0 && avail >= f->want) {
                const char *msgp = data + i;
                size_t n = f->want;
                i += n;
                f->want = 0;
                f->state = FR_START;
                if ((rc = emit(f, msgp, n, 0, fn, ctx)))
                    return rc;
                break;
            }
            size_t n = avail < f->want ? avail : f->want;
            if ((rc = pend_add(f, data + i, n)))
                return rc;
            i += n;
            f->want -= n;
            if (f->want == 0) {
                size_t m = f->pend_len;
                f->pend_len = 0;
                f->state = FR_START;
                if ((rc = emit(f, f->pend, m, 0, fn, ctx)))
                    return rc;
            }
            break;
        }
        case FR_LINE: {
            const char *t = find_term(data + i, len - i);
            size_t n = t ? (size_t)(t - (data + i)) : len - i;
            /* The CR of a CRLF does not count against the limit. */
            size_t eff = t && n && data[i + n - 1] == '\r' ? n - 1 : n;
            size_t room = f->max_msg - f->pend_len;
            if (eff > room) {
                f->truncated++;
                size_t m = room;
                const char *msgp = data + i;
                if (f->pend_len) {
                    if ((rc = pend_add(f, data + i, room)))
                        return rc;
                    msgp = f->pend;
                    m = f->pend_len;
                }
                f->pend_len = 0;
                i += n;
                if (t) {
                    i++;
                    f->state = FR_START;
                } else {
                    f->state = FR_SKIP;
                }
                if ((rc = emit(f, msgp, m, 1, fn, ctx)))
                    return rc;
                break;
            }
            if (!t) {
                if ((rc = pend_add(f, data + i, n)))
                    return rc;
                i = len;
                break;
            }
            const char *msgp = data + i;
            size_t m = eff;
            if (f->pend_len) {
                if ((rc = pend_add(f, data + i, eff)))
                    return rc;
                msgp = f->pend;
                m = f->pend_len;
            }
            f->pend_len = 0;
            i += n + 1;
            f->state = FR_START;
            if ((rc = emit(f, msgp, m, 1, fn, ctx)))
                return rc;
            break;
        }
        case FR_SKIP: {
            const char *t = find_term(data + i, len - i);
            if (!t) {
                i = len;
            } else {
                i = (size_t)(t - data) + 1;
                f->state = FR_START;
            }
            break;
        }
        }
    }
    return 0;
}

int syslog_framer_finish(syslog_framer *f, syslog_frame_fn fn, void *ctx)
{
    int rc = 0;
    if (f->state == FR_COUNT)
        rc = emit(f, f->digits, (size_t)f->ndigits, 1, fn, ctx);
    else if (f->state == FR_LINE && f->pend_len)
        rc = emit(f, f->pend, f->pend_len, 1, fn, ctx);
    else if (f->state == FR_OCTETS)
        rc = -EPROTO;
    f->state = FR_START;
    f->pend_len = 0;
    f->ndigits = 0;
    f->want = 0;
    return rc;
}
