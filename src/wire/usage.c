/* usage: the usage-event parsers (line format and JSON). See usage.h for the formats.
 *
 * The line parser copies the body once into a per-thread scratch buffer and cuts it in place:
 * each field ends at a delimiter (':' '[' ',' ']' or the line end) that becomes its NUL, so an
 * event's strings cost no copy and no allocation, and stay valid after the parse returns (the
 * caller can batch a whole body). Bytes are classified through one 256-entry table; a line is
 * found with memchr, so a hostile 1 MB line is skipped in one call, never walked twice. The JSON
 * parser reads the body with jansson, checks every member and copies the strings it hands out
 * into the same scratch buffer before the tree is freed. */
#include "usage.h"

#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Byte classes. */
enum {
    C_TYPE = 1,  /* [A-Za-z0-9_.-]: data_type */
    C_CUST = 2,  /* C_TYPE plus '@' and '/': customer_id */
    C_VAL = 4,   /* printable ASCII but ',' ']' '=': qualifier values, event ids */
    C_DIGIT = 8, /* [0-9] */
    C_BLANK = 16 /* ' ' '\t' '\r': what a blank line may hold */
};

/* clang-format off */
static const unsigned char cls[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0, 16,  0,  0,  0, 16,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    20,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  0,  7,  7,  6,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  4,  4,  4,  0,  4,  4,
     6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
     7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  4,  4,  0,  4,  7,
     4,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
     7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  4,  4,  4,  4,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};
/* clang-format on */

#define CL(c) cls[(unsigned char)(c)]

/* ---- the per-thread scratch buffer ---- */

/* A buffer larger than this is given back at the next parse that needs less. */
#define SCRATCH_KEEP ((size_t)4 << 20)
#define SCRATCH_MIN ((size_t)16 << 10)

static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static int scratch_key_ok;
static _Thread_local char *scratch;
static _Thread_local size_t scratch_cap;

static void scratch_dtor(void *p)
{
    mem_free(p);
}

static void scratch_key_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_dtor) == 0;
}

void usage_parse_release(void)
{
    pthread_once(&scratch_once, scratch_key_init);
    mem_free(scratch);
    scratch = NULL;
    scratch_cap = 0;
    if (scratch_key_ok)
        pthread_setspecific(scratch_key, NULL);
}

/* Returns the thread's scratch buffer with room for need bytes (the previous parse's strings
 * die here), or NULL when memory is exhausted. */
static char *scratch_get(size_t need)
{
    if (scratch && (scratch_cap < need || (scratch_cap > SCRATCH_KEEP && need <= SCRATCH_KEEP)))
        usage_parse_release();
    if (!scratch) {
        size_t cap = need < SCRATCH_MIN ? SCRATCH_MIN : need;
        pthread_once(&scratch_once, scratch_key_init);
        scratch = mem_alloc(cap);
        if (!scratch)
            return NULL;
        scratch_cap = cap;
        if (scratch_key_ok)
            pthread_setspecific(scratch_key, scratch);
    }
    return scratch;
}

/* ---- reports ---- */

static void report_reset(usage_report *rep)
{
    rep->accepted = rep->rejected = rep->nerrors = 0;
}

static void reject(usage_report *rep, size_t line, const char *why)
{
    rep->rejected++;
    if (rep->nerrors < USAGE_MAX_ERRORS) {
        rep->errors[rep->nerrors].line = line;
        snprintf(rep->errors[rep->nerrors].reason, sizeof rep->errors[0].reason, "%s", why);
        rep->nerrors++;
    }
}

/* vsnprintf into a reason buffer (truncation is fine: reasons are for humans). */
static void __attribute__((format(printf, 3, 4))) say(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

#define WHY_MAX 128

/* ---- line format ---- */

/* Parses a decimal integer of [s, e) up to max. Returns 0, -EINVAL (not all digits, empty)
 * or -ERANGE (over max). */
static int parse_uint(const char *s, const char *e, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    int over = 0;
    if (s == e)
        return -EINVAL;
    for (; s < e; s++) {
        if (!(CL(*s) & C_DIGIT))
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            over = 1; /* keep checking that the rest are digits */
        else
            v = v * 10 + d;
    }
    if (over)
        return -ERANGE;
    *out = v;
    return 0;
}

/* Describes the byte that stopped a field: the end of the line, or an invalid byte. */
static void bad_byte(char *why, const char *field, const char *line, const char *q, const char *e,
                     const char *want)
{
    if (q == e)
        say(why, WHY_MAX, "%s: missing %s (expected customer_id:data_type:count[...])", field,
            want);
    else
        say(why, WHY_MAX, "%s: invalid byte 0x%02x at column %zu", field, (unsigned char)*q,
            (size_t)(q - line) + 1);
}

enum { Q_T = 1, Q_S = 2, Q_L = 4, Q_CT = 8, Q_TS = 16, Q_ID = 32 };

/* Parses the qualifiers after '[' at *qp (the line ends at e, where a NUL stops every class
 * scan; a NUL before e is an invalid byte). Returns 0 with *qp past the ']', or -EINVAL with a
 * reason. */
static int parse_qualifiers(char *line, char *e, char **qp, usage_event *ev, char *why)
{
    char *q = *qp;
    unsigned seen = 0;
    if (*q == ']') {
        *qp = q + 1;
        return 0;
    }
    for (;;) {
        char *k = q;
        while (CL(*q) & C_VAL)
            q++;
        if (q == e || *q != '=' || q == k) {
            if (q == e)
                say(why, WHY_MAX, "qualifiers: missing ']'");
            else
                say(why, WHY_MAX, "qualifiers: expected key=value at column %zu",
                    (size_t)(k - line) + 1);
            return -EINVAL;
        }
        size_t klen = (size_t)(q - k);
        unsigned bit = 0;
        const char *name = NULL;
        if (klen == 1) {
            bit = k[0] == 't' ? Q_T : k[0] == 's' ? Q_S : k[0] == 'l' ? Q_L : 0;
            name = k[0] == 't' ? "t" : k[0] == 's' ? "s" : "l";
        } else if (klen == 2) {
            bit = k[0] == 'c' && k[1] == 't'   ? Q_CT
                  : k[0] == 't' && k[1] == 's' ? Q_TS
                  : k[0] == 'i' && k[1] == 'd' ? Q_ID
                                               : 0;
            name = bit == Q_CT ? "ct" : bit == Q_TS ? "ts" : "id";
        }
        if (!bit) {
            say(why, WHY_MAX, "qualifiers: unknown key '%.*s' at column %zu (t, s, l, ct, ts, id)",
                klen > 16 ? 16 : (int)klen, k, (size_t)(k - line) + 1);
            return -EINVAL;
        }
        if (seen & bit) {
            say(why, WHY_MAX, "qualifiers: '%s' given twice", name);
            return -EINVAL;
        }
        seen |= bit;
        char *v = ++q;
        while (CL(*q) & C_VAL)
            q++;
        char stop = q == e ? '\0' : *q;
        size_t vlen = (size_t)(q - v);
        if (stop != ',' && stop != ']') {
            if (q == e)
                say(why, WHY_MAX, "qualifiers: missing ']'");
            else if (stop == '=')
                say(why, WHY_MAX, "%s: '=' at column %zu (not allowed in a value)", name,
                    (size_t)(q - line) + 1);
            else
                say(why, WHY_MAX, "%s: invalid byte 0x%02x at column %zu", name,
                    (unsigned char)stop, (size_t)(q - line) + 1);
            return -EINVAL;
        }
        if (vlen == 0) {
            say(why, WHY_MAX, "%s: empty value", name);
            return -EINVAL;
        }
        if (bit == Q_T || bit == Q_TS) {
            uint64_t n = 0;
            int rc =
                parse_uint(v, q, bit == Q_T ? USAGE_COUNT_MAX : (uint64_t)USAGE_TIME_MAX_MS, &n);
            if (rc == 0 && bit == Q_TS && n == 0)
                rc = -ERANGE;
            if (rc) {
                if (bit == Q_T)
                    say(why, WHY_MAX, "t: must be a non-negative integer up to 2^53 (ms)");
                else
                    say(why, WHY_MAX, "ts: must be Unix milliseconds from 1 to %lld",
                        (long long)USAGE_TIME_MAX_MS);
                return -EINVAL;
            }
            if (bit == Q_T)
                ev->took_ms = (int64_t)n;
            else
                ev->t_ms = (int64_t)n;
        } else {
            if (vlen > USAGE_VALUE_MAX) {
                say(why, WHY_MAX, "%s: longer than %d bytes", name, USAGE_VALUE_MAX);
                return -EINVAL;
            }
            *q = '\0';
            if (bit == Q_S)
                ev->state = v;
            else if (bit == Q_L)
                ev->label = v;
            else if (bit == Q_CT)
                ev->change_type = v;
            else
                ev->event_id = v;
        }
        q++;
        if (stop == ']') {
            *qp = q;
            return 0;
        }
    }
}

/* Parses one line p[0..n) (n <= USAGE_LINE_MAX; p[n] may be overwritten) in place. Returns 0
 * with *ev filled, or -EINVAL with a reason in why. */
static int parse_line(char *p, size_t n, usage_event *ev, char *why)
{
    char *q = p, *e = p + n;
    *e = '\0'; /* a sentinel no class admits; an embedded NUL is told apart by its position */
    ev->t_ms = 0;
    ev->took_ms = -1;
    ev->state = ev->label = ev->change_type = ev->event_id = "";

    while (CL(*q) & C_CUST)
        q++;
    if (q == e || *q != ':') {
        bad_byte(why, "customer_id", p, q, e, "':' after customer_id");
        return -EINVAL;
    }
    if (q == p || q - p > USAGE_ID_MAX) {
        say(why, WHY_MAX, q == p ? "customer_id: empty" : "customer_id: longer than %d bytes",
            USAGE_ID_MAX);
        return -EINVAL;
    }
    *q++ = '\0';
    ev->customer = p;

    char *t = q;
    while (CL(*q) & C_TYPE)
        q++;
    if (q == e || *q != ':') {
        bad_byte(why, "data_type", p, q, e, "':' after data_type");
        return -EINVAL;
    }
    if (q == t || q - t > USAGE_ID_MAX) {
        say(why, WHY_MAX, q == t ? "data_type: empty" : "data_type: longer than %d bytes",
            USAGE_ID_MAX);
        return -EINVAL;
    }
    *q++ = '\0';
    ev->type = t;

    char *c = q;
    while (CL(*q) & C_DIGIT)
        q++;
    if (q == c && (q == e || *q == '[')) {
        say(why, WHY_MAX, "count: missing");
        return -EINVAL;
    }
    if (q != e && *q != '[') {
        say(why, WHY_MAX, "count: must be a non-negative integer (byte 0x%02x at column %zu)",
            (unsigned char)*q, (size_t)(q - p) + 1);
        return -EINVAL;
    }
    if (parse_uint(c, q, USAGE_COUNT_MAX, &ev->count)) {
        say(why, WHY_MAX, "count: over 2^53");
        return -EINVAL;
    }
    if (q != e) {
        q++;
        if (parse_qualifiers(p, e, &q, ev, why))
            return -EINVAL;
        if (q != e) {
            say(why, WHY_MAX, "unexpected byte 0x%02x at column %zu after ']'", (unsigned char)*q,
                (size_t)(q - p) + 1);
            return -EINVAL;
        }
    }
    return 0;
}

int usage_parse_lines(const char *body, size_t len, usage_event_fn fn, void *ctx, usage_report *rep)
{
    usage_report local;
    char why[WHY_MAX];
    if (!rep)
        rep = &local;
    report_reset(rep);
    char *s = scratch_get(len + 1);
    if (!s)
        return -ENOMEM;
    if (len)
        memcpy(s, body, len);
    s[len] = '\0';
    char *p = s, *end = s + len;
    size_t lineno = 0;
    while (p < end) {
        lineno++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (n && le[-1] == '\r')
            n--;
        if (n > USAGE_LINE_MAX) {
            say(why, WHY_MAX, "line longer than %d bytes", USAGE_LINE_MAX);
            reject(rep, lineno, why);
        } else {
            size_t i = 0;
            while (i < n && (CL(p[i]) & C_BLANK))
                i++;
            if (i < n) {
                usage_event ev;
                if (parse_line(p, n, &ev, why)) {
                    reject(rep, lineno, why);
                } else {
                    int rc = fn(ctx, &ev);
                    if (rc)
                        return rc;
                    rep->accepted++;
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* ---- JSON ---- */

/* Bump allocation in the scratch buffer (sized so it cannot run out, see usage_parse_json). */
typedef struct arena {
    char *p;
    size_t len, cap;
} arena;

static const char *arena_copy(arena *a, const char *s, size_t n)
{
    if (a->cap - a->len < n + 1)
        return NULL;
    char *d = a->p + a->len;
    memcpy(d, s, n);
    d[n] = '\0';
    a->len += n + 1;
    return d;
}

/* Writes a member name for a reason, with anything unprintable as '?' (at most 32 bytes). */
static void safe_name(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 32 && i + 1 < cap; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    dst[i] = '\0';
}

/* Checks a string against a class and a length: NULL when good, else the reason's tail. */
static const char *check_text(const char *s, size_t n, unsigned cl, size_t max, char *tail,
                              size_t cap)
{
    if (n == 0)
        return "must not be empty";
    if (n > max) {
        say(tail, cap, "longer than %zu bytes", max);
        return tail;
    }
    for (size_t i = 0; i < n; i++)
        if (!(CL(s[i]) & cl)) {
            say(tail, cap, "invalid byte 0x%02x at offset %zu", (unsigned char)s[i], i);
            return tail;
        }
    return NULL;
}

/* Reads a non-negative integer up to max from an integer or an integral real. */
static int json_uint(const json_t *v, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || (uint64_t)x > max)
            return -EINVAL;
        *out = (uint64_t)x;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d <= (double)max) || d != floor(d))
            return -EINVAL;
        *out = (uint64_t)d;
        return 0;
    }
    return -EINVAL;
}

/* Reads "time": Unix seconds (number) or a string timeutil_parse_time reads. */
static int json_time(const json_t *v, int64_t *ms)
{
    int64_t t;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > USAGE_TIME_MAX_MS / 1000)
            return -EINVAL;
        t = (int64_t)x * 1000;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d <= (double)(USAGE_TIME_MAX_MS / 1000)))
            return -EINVAL;
        t = (int64_t)llround(d * 1000.0);
    } else if (json_is_string(v)) {
        if (timeutil_parse_time(json_string_value(v), &t))
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    if (t < 1 || t > USAGE_TIME_MAX_MS)
        return -EINVAL;
    *ms = t;
    return 0;
}

/* Copies a checked string member into the arena. Returns 0 or -EINVAL with a reason. */
static int json_text(arena *a, const json_t *v, unsigned cl, size_t max, const char **out,
                     char *tail)
{
    if (!json_is_string(v)) {
        say(tail, WHY_MAX, "must be a string");
        return -EINVAL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char t2[64];
    const char *bad = check_text(s, n, cl, max, t2, sizeof t2);
    if (bad) {
        say(tail, WHY_MAX, "%s", bad);
        return -EINVAL;
    }
    *out = arena_copy(a, s, n);
    if (!*out) {
        say(tail, WHY_MAX, "out of scratch space"); /* cannot happen: see usage_parse_json */
        return -EINVAL;
    }
    return 0;
}

/* Checks one object and fills ev. Returns 0, or -EINVAL with "<path>: <reason>" in why. */
static int json_event(const json_t *o, const char *prefix, arena *a, usage_event *ev, char *why)
{
    static const char *const known[] = {"identity_id", "data_type", "count",
                                        "qualifiers",  "time",      "event_id"};
    static const char *const qknown[] = {"time_took", "state", "label", "change_type"};
    const char *dot = prefix[0] ? "." : "";
    char tail[WHY_MAX], name[40];
    const char *key;
    json_t *v;

    ev->t_ms = 0;
    ev->took_ms = -1;
    ev->state = ev->label = ev->change_type = ev->event_id = "";
    ev->customer = ev->type = NULL;
    if (!json_is_object(o)) {
        say(why, WHY_MAX, "%s: must be an object", prefix[0] ? prefix : "$");
        return -EINVAL;
    }
    json_object_foreach((json_t *)o, key, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(key, known[i]))
            i++;
        if (i == sizeof known / sizeof known[0]) {
            safe_name(name, sizeof name, key);
            say(why, WHY_MAX, "%s%s%s: unknown member", prefix, dot, name);
            return -EINVAL;
        }
    }

    /* identity_id: a string, or a non-negative integer read as its digits */
    v = json_object_get(o, "identity_id");
    if (!v || json_is_null(v)) {
        say(why, WHY_MAX, "%s%sidentity_id: missing", prefix, dot);
        return -EINVAL;
    }
    if (json_is_integer(v)) {
        char digits[32];
        json_int_t x = json_integer_value(v);
        if (x < 0) {
            say(why, WHY_MAX, "%s%sidentity_id: must be a string or a non-negative integer", prefix,
                dot);
            return -EINVAL;
        }
        int n = snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, x);
        ev->customer = arena_copy(a, digits, (size_t)n);
        if (!ev->customer) {
            say(why, WHY_MAX, "%s%sidentity_id: out of scratch space", prefix, dot);
            return -EINVAL;
        }
    } else if (json_text(a, v, C_CUST, USAGE_ID_MAX, &ev->customer, tail)) {
        if (!json_is_string(v))
            say(tail, WHY_MAX, "must be a string or a non-negative integer");
        say(why, WHY_MAX, "%s%sidentity_id: %s", prefix, dot, tail);
        return -EINVAL;
    }

    v = json_object_get(o, "data_type");
    if (!v || json_is_null(v)) {
        say(why, WHY_MAX, "%s%sdata_type: missing", prefix, dot);
        return -EINVAL;
    }
    if (json_text(a, v, C_TYPE, USAGE_ID_MAX, &ev->type, tail)) {
        say(why, WHY_MAX, "%s%sdata_type: %s", prefix, dot, tail);
        return -EINVAL;
    }

    v = json_object_get(o, "count");
    if (!v || json_is_null(v)) {
        say(why, WHY_MAX, "%s%scount: missing", prefix, dot);
        return -EINVAL;
    }
    if (json_uint(v, USAGE_COUNT_MAX, &ev->count)) {
        say(why, WHY_MAX, "%s%scount: must be a non-negative integer up to 2^53", prefix, dot);
        return -EINVAL;
    }

    v = json_object_get(o, "time");
    if (v && !json_is_null(v) && json_time(v, &ev->t_ms)) {
        say(why, WHY_MAX,
            "%s%stime: must be Unix seconds or an RFC 3339 time between 1970 and 9999", prefix,
            dot);
        return -EINVAL;
    }

    v = json_object_get(o, "event_id");
    if (v && !json_is_null(v) && json_text(a, v, C_VAL, USAGE_VALUE_MAX, &ev->event_id, tail)) {
        say(why, WHY_MAX, "%s%sevent_id: %s", prefix, dot, tail);
        return -EINVAL;
    }

    const json_t *qs = json_object_get(o, "qualifiers");
    if (!qs || json_is_null(qs))
        return 0;
    if (!json_is_object(qs)) {
        say(why, WHY_MAX, "%s%squalifiers: must be an object", prefix, dot);
        return -EINVAL;
    }
    json_object_foreach((json_t *)qs, key, v)
    {
        size_t i = 0;
        while (i < sizeof qknown / sizeof qknown[0] && strcmp(key, qknown[i]))
            i++;
        if (i == sizeof qknown / sizeof qknown[0]) {
            safe_name(name, sizeof name, key);
            say(why, WHY_MAX, "%s%squalifiers.%s: unknown member", prefix, dot, name);
            return -EINVAL;
        }
        if (json_is_null(v))
            continue;
        if (i == 0) {
            uint64_t took;
            if (json_uint(v, USAGE_COUNT_MAX, &took)) {
                say(why, WHY_MAX,
                    "%s%squalifiers.time_took: must be a non-negative integer up to 2^53", prefix,
                    dot);
                return -EINVAL;
            }
            ev->took_ms = (int64_t)took;
            continue;
        }
        const char **dst = i == 1 ? &ev->state : i == 2 ? &ev->label : &ev->change_type;
        if (json_text(a, v, C_VAL, USAGE_VALUE_MAX, dst, tail)) {
            say(why, WHY_MAX, "%s%squalifiers.%s: %s", prefix, dot, qknown[i], tail);
            return -EINVAL;
        }
    }
    return 0;
}

int usage_parse_json(const char *body, size_t len, usage_event_fn fn, void *ctx, usage_report *rep)
{
    usage_report local;
    json_error_t jerr;
    char why[WHY_MAX], prefix[32];
    int rc = 0;
    if (!rep)
        rep = &local;
    report_reset(rep);
    json_t *root =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        rep->nerrors = 1;
        rep->errors[0].line = 0;
        say(rep->errors[0].reason, sizeof rep->errors[0].reason,
            "not JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return -EINVAL;
    }
    if (!json_is_object(root) && !json_is_array(root)) {
        reject(rep, 1, "$: must be an object or an array of objects");
        goto out;
    }
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    /* Every string handed out is copied from a distinct JSON string token, whose text is at
     * least as long as the decoded string plus its NUL (two quotes); an identity_id integer's
     * digits and NUL take at most one byte more than its token. So len + n bytes always do. */
    arena a = {scratch_get(len + n + 64), 0, len + n + 64};
    if (!a.p) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_is_array(root) ? json_array_get(root, i) : root;
        usage_event ev;
        prefix[0] = '\0';
        if (json_is_array(root))
            say(prefix, sizeof prefix, "[%zu]", i);
        if (json_event(o, prefix, &a, &ev, why)) {
            reject(rep, i + 1, why);
            continue;
        }
        rc = fn(ctx, &ev);
        if (rc)
            goto out;
        rep->accepted++;
    }
out:
    json_decref(root);
    return rc;
}
