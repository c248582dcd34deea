/* jsonw: streaming JSON writer with Prometheus-exact number formatting. */
#include "jsonw.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonw_init(jsonw *w, buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->first[0] = 1;
}

/* Emits the separator a new value needs at the current depth. */
static void sep(jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        buf_putc(w->out, ',');
    w->first[w->depth] = 0;
}

static void open_(jsonw *w, char c)
{
    sep(w);
    buf_putc(w->out, c);
    if (w->depth + 1 < JSONW_MAX_DEPTH)
        w->depth++;
    w->first[w->depth] = 1;
}

static void close_(jsonw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    buf_putc(w->out, c);
}

void jsonw_obj_open(jsonw *w)
{
    open_(w, '{');
}

void jsonw_obj_close(jsonw *w)
{
    close_(w, '}');
}

void jsonw_arr_open(jsonw *w)
{
    open_(w, '[');
}

void jsonw_arr_close(jsonw *w)
{
    close_(w, ']');
}

static void put_string(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(out, n + 2);
    buf_putc(out, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"': buf_puts(out, "\\\""); break;
        case '\\': buf_puts(out, "\\\\"); break;
        case '\n': buf_puts(out, "\\n"); break;
        case '\r': buf_puts(out, "\\r"); break;
        case '\t': buf_puts(out, "\\t"); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(out, e, 6);
        }
        }
    }
    buf_append(out, s + start, n - start);
    buf_putc(out, '"');
}

void jsonw_key(jsonw *w, const char *k)
{
    sep(w);
    put_string(w->out, k, strlen(k));
    buf_putc(w->out, ':');
    w->after_key = 1;
}

void jsonw_strn(jsonw *w, const char *s, size_t n)
{
    sep(w);
    put_string(w->out, s, n);
}

void jsonw_str(jsonw *w, const char *s)
{
    if (!s) {
        jsonw_null(w);
        return;
    }
    jsonw_strn(w, s, strlen(s));
}

void jsonw_int(jsonw *w, long long v)
{
    sep(w);
    buf_printf(w->out, "%lld", v);
}

void jsonw_num(jsonw *w, double v)
{
    if (!isfinite(v)) {
        jsonw_null(w);
        return;
    }
    char tmp[64];
    size_t n = jsonw_format_value(v, tmp, sizeof tmp);
    sep(w);
    buf_append(w->out, tmp, n);
}

void jsonw_bool(jsonw *w, int v)
{
    sep(w);
    buf_puts(w->out, v ? "true" : "false");
}

void jsonw_null(jsonw *w)
{
    sep(w);
    buf_puts(w->out, "null");
}

void jsonw_raw(jsonw *w, const char *json, size_t n)
{
    sep(w);
    buf_append(w->out, json, n);
}

void jsonw_kv_str(jsonw *w, const char *k, const char *v)
{
    jsonw_key(w, k);
    jsonw_str(w, v);
}

void jsonw_kv_int(jsonw *w, const char *k, long long v)
{
    jsonw_key(w, k);
    jsonw_int(w, v);
}

/* Adds one unit in the last place to the digits of a "%.*e" string (d.ddde±XX), carrying into
 * the exponent when every digit was 9. */
static void bump_last_digit(char *tmp, size_t cap)
{
    char *e = strchr(tmp, 'e');
    int exp10 = (int)strtol(e + 1, NULL, 10);
    for (size_t i = (size_t)(e - tmp); i-- > 0;) {
        if (tmp[i] == '.')
            continue;
        if (tmp[i] < '9') {
            tmp[i]++;
            return;
        }
        tmp[i] = '0';
    }
    tmp[0] = '1';
    snprintf(e, cap - (size_t)(e - tmp), "e%+03d", exp10 + 1);
}

/* Finds the shortest decimal digits that read back as v (like Go's strconv with precision -1):
 * fills digits (no dot, no sign) and returns the decimal exponent of the first digit. */
/* Exact powers of ten as doubles (10^22 is the largest exactly representable one). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Writes the nd decimal digits of u into digits without trailing zeros, NUL-terminated
 * (digits holds at least nd + 1 bytes). */
static void put_digits(uint64_t u, int nd, char *digits)
{
    for (int i = nd - 1; i >= 0; i--) {
        digits[i] = (char)('0' + u % 10);
        u /= 10;
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
}

/* The fast path of shortest_digits, for normal v in [1e-7, 1e21): scale v to a 15-digit
 * integer D and check that D reads back as v. D and 10^k are exact doubles, so one IEEE division
 * (or multiplication) rounds D * 10^-k correctly, exactly as strtod would. At most one 15-digit
 * decimal lies within half an ulp of a double, so a D that reads back is the correctly rounded
 * 15-digit form, and trailing zeros dropped give the shortest digits. Returns 0 on success, -1
 * when v needs 16 or 17 digits (the slow path decides). */
static int shortest_fast(double v, char *digits, size_t cap, int *exp10)
{
    if (!(v >= 1e-7 && v < 1e21) || cap < 17)
        return -1;
    int e = (int)floor(log10(v));
    for (int adj = 0; adj < 2; adj++) { /* log10 may be off by one near powers of ten */
        int k = 14 - e;
        if (k < -22 || k > 22)
            return -1;
        double scaled = k >= 0 ? v * pow10_exact[k] : v / pow10_exact[-k];
        if (scaled >= 1e15) {
            e++;
            continue;
        }
        if (scaled < 1e14) {
            e--;
            continue;
        }
        double d = nearbyint(scaled);
        if (d >= 1e15)
            return -1;
        double back = k >= 0 ? d / pow10_exact[k] : d * pow10_exact[-k];
        if (back != v)
            return -1;
        uint64_t u = (uint64_t)d;
        put_digits(u, 15, digits);
        *exp10 = e;
        return 0;
    }
    return -1;
}

#if LDBL_MANT_DIG == 64
/* 16 and 17 digits with x87 extended precision (64-bit significand): D = v * 10^k is computed
 * with a relative error below 2^-64, far under the spacing of 17-digit decimals, so
 * nearbyintl(D) is the correctly rounded digit string unless D is within 1e-3 of a half
 * integer; and D / 10^k rounded to double reads back as strtod would unless the extended
 * quotient lies within 2^-60 relative of a midpoint between two doubles. Both doubtful cases,
 * powers of two (asymmetric rounding interval) and subnormals go to the exact search. Returns
 * 0, or -1 to fall back. */
static int shortest_ext(double v, char *digits, size_t cap, int *exp10)
{
    static long double p10l[28];
    if (p10l[0] == 0) {
        long double x = 1;
        for (int i = 0; i < 28; i++, x *= 10)
            p10l[i] = x;
    }
    int e2;
    if (!(v >= 1e-7 && v < 1e21) || cap < 18 || frexp(v, &e2) == 0.5)
        return -1;
    for (int nd = 16; nd <= 17; nd++) {
        int e = (int)floor(log10(v));
        for (int adj = 0; adj < 3; adj++) {
            if (adj == 2)
                return -1;
            int k = nd - 1 - e;
            if (k < -27 || k > 27)
                return -1;
            long double P = k >= 0 ? (long double)v * p10l[k] : (long double)v / p10l[-k];
            if (P >= p10l[nd]) {
                e++;
                continue;
            }
            if (P < p10l[nd - 1]) {
                e--;
                continue;
            }
            long double D = nearbyintl(P);
            if (D >= p10l[nd])
                return -1; /* rounds up to one more digit: let the search decide */
            long double frac = P - floorl(P);
            if (fabsl(frac - 0.5L) < 1e-3L)
                return -1;
            long double q = k >= 0 ? D / p10l[k] : D * p10l[-k];
            double d = (double)q;
            double up = nextafter(d, INFINITY), down = nextafter(d, 0);
            long double half = ((long double)up - (long double)down) / 4; /* ~ half an ulp */
            long double dist = fabsl(q - (long double)d);
            if (dist > half * (1 - 1.0L / 1024))
                return -1; /* too close to a midpoint to trust the double rounding */
            if (d != v)
                break; /* nd digits are not enough */
            uint64_t u = (uint64_t)D;
            put_digits(u, nd, digits);
            *exp10 = e;
            return 0;
        }
    }
    return -1;
}
#endif

static int shortest_digits(double v, char *digits, size_t cap)
{
    int fast_exp;
    if (shortest_fast(v, digits, cap, &fast_exp) == 0)
        return fast_exp;
#if LDBL_MANT_DIG == 64
    if (shortest_ext(v, digits, cap, &fast_exp) == 0)
        return fast_exp;
#endif
    char tmp[40];
    int e2;
    /* A power of two has a rounding interval twice as wide above it as below, so the shortest
     * digits that read back may be the correctly rounded ones plus one in the last place
     * (2^-24 is 5.960464477539063e-08, not 5.9604644775390625e-08). */
    int pow2 = frexp(v, &e2) == 0.5;
    /* If the shortest digits have k <= 15 digits, the correctly rounded 15-digit form is those
     * digits followed by zeros (any other 15-digit decimal is much farther from v than half an
     * ulp), so one try at 15 digits, with trailing zeros dropped below, finds every short form;
     * only longer ones need 16 and 17. At most three conversions instead of seventeen. */
    for (int prec = v >= DBL_MIN ? 14 : 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
        if (pow2) {
            bump_last_digit(tmp, sizeof tmp);
            if (strtod(tmp, NULL) == v)
                break;
        }
    }
    /* tmp is now d[.ddd]e±XX for the shortest precision that round-trips. */
    char *e = strchr(tmp, 'e');
    int exp10 = (int)strtol(e + 1, NULL, 10);
    size_t n = 0;
    for (char *p = tmp; p < e && n + 1 < cap; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    return exp10;
}

size_t jsonw_format_value(double v, char *dst, size_t cap)
{
    if (isnan(v))
        return (size_t)snprintf(dst, cap, "NaN");
    if (isinf(v))
        return (size_t)snprintf(dst, cap, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return (size_t)snprintf(dst, cap, signbit(v) ? "-0" : "0");
    char digits[24];
    const char *sign = v < 0 ? "-" : "";
    double a = fabs(v);
    if (a < 1e15 && a == (double)(int64_t)a) {
        /* Integers (counters, byte counts): the digits themselves, no search. */
        char out[24];
        size_t n = sizeof out;
        uint64_t u = (uint64_t)a;
        do {
            out[--n] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            out[--n] = '-';
        size_t len = sizeof out - n;
        if (len >= cap)
            len = cap ? cap - 1 : 0;
        memcpy(dst, out + n, len);
        if (cap)
            dst[len] = 0;
        return sizeof out - n;
    }
    int exp10 = shortest_digits(a, digits, sizeof digits);
    int nd = (int)strlen(digits);
    if (a < 1e-6 || a >= 1e21) {
        /* Go's 'e' form: d[.ddd]e±dd. */
        return (size_t)snprintf(dst, cap, "%s%c%s%.*se%c%02d", sign, digits[0], nd > 1 ? "." : "",
                                nd - 1, digits + 1, exp10 < 0 ? '-' : '+', abs(exp10));
    }
    size_t n = 0;
    char out[64];
    if (*sign)
        out[n++] = '-';
    if (exp10 < 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > exp10; i--)
            out[n++] = '0';
        for (int i = 0; i < nd; i++)
            out[n++] = digits[i];
    } else {
        for (int i = 0; i <= exp10; i++)
            out[n++] = i < nd ? digits[i] : '0';
        if (nd > exp10 + 1) {
            out[n++] = '.';
            for (int i = exp10 + 1; i < nd; i++)
                out[n++] = digits[i];
        }
    }
    out[n] = '\0';
    if (cap) {
        size_t m = n < cap ? n : cap - 1;
        memcpy(dst, out, m);
        dst[m] = 0;
    }
    return n;
}

void jsonw_prom_value(jsonw *w, double v)
{
    char tmp[64];
    size_t n = jsonw_format_value(v, tmp, sizeof tmp);
    jsonw_strn(w, tmp, n);
}

void jsonw_prom_time(jsonw *w, int64_t ms)
{
    sep(w);
    /* Unsigned, so INT64_MIN has a magnitude too. */
    uint64_t u = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0)
        buf_putc(w->out, '-');
    /* Digits by hand: this runs once per point of every query result. */
    char tmp[32];
    size_t n = sizeof tmp;
    unsigned frac = (unsigned)(u % 1000);
    if (frac) {
        /* Three digits, as Prometheus writes them (1.500). */
        for (unsigned i = 0; i < 3; i++) {
            tmp[--n] = (char)('0' + frac % 10);
            frac /= 10;
        }
        tmp[--n] = '.';
    }
    uint64_t sec = u / 1000;
    do {
        tmp[--n] = (char)('0' + sec % 10);
        sec /= 10;
    } while (sec);
    buf_append(w->out, tmp + n, sizeof tmp - n);
}
