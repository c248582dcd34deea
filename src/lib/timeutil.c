/* timeutil: clocks and parsing of Prometheus time, step and duration parameters. */
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t timeutil_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t timeutil_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Durations and times stay within +-1e16 ms (about 317 000 years), so sums and differences of
 * them can never overflow int64. */
#define DURATION_MAX_MS 10000000000000000LL

int timeutil_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000},
                 {"h", 3600000},          {"ms", 1},             {"m", 60000},
                 {"s", 1000}};
    /* Order units must appear in (largest first), by index into a rank table. */
    static const int rank[] = {0, 1, 2, 3, 6, 4, 5};
    if (!s || !*s)
        return -EINVAL;
    int64_t total = 0;
    int last_rank = -1;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long n = strtoull(p, &end, 10);
        if (errno || end == p)
            return -EINVAL;
        p = end;
        int found = -1;
        for (int i = 0; i < 7 && found < 0; i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ul) == 0) {
                /* "m" must not swallow the "m" of "ms". */
                if (i == 5 && p[1] == 's')
                    continue;
                found = i;
                p += ul;
            }
        }
        if (found < 0 || rank[found] <= last_rank)
            return -EINVAL;
        last_rank = rank[found];
        if (n > (unsigned long long)(INT64_MAX / units[found].ms) ||
            total > INT64_MAX - (int64_t)n * units[found].ms)
            return -EINVAL;
        total += (int64_t)n * units[found].ms;
    }
    if (total > DURATION_MAX_MS)
        return -EINVAL;
    *ms = total;
    return 0;
}

/* Parses a decimal number of seconds into ms (rounded). */
static int parse_seconds(const char *s, int64_t *ms)
{
    /* Plain decimal notation only: strtod alone would also take leading white space, hex
     * ("0x10") and words ("inf"), none of which the Prometheus API accepts. */
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return -EINVAL;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(d))
        return -EINVAL;
    /* About +-292 000 years: far beyond any real data, and far from int64 overflow in ms. */
    if (d > 9.2e12 || d < -9.2e12)
        return -EINVAL;
    *ms = (int64_t)llround(d * 1000.0);
    return 0;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -EINVAL;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_rfc3339(const char *s, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h, mi, se;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -EINVAL;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &se))
        return -EINVAL;
    /* timegm() would quietly normalise 2026-02-31 into March: check the calendar here. */
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59)
        return -EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return -EINVAL;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 3)
                frac = frac * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return -EINVAL;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - off) * 1000 + frac;
    return 0;
}

int timeutil_parse_time(const char *s, int64_t *ms)
{
    if (!s || !*s)
        return -EINVAL;
    if (parse_seconds(s, ms) == 0)
        return 0;
    return parse_rfc3339(s, ms);
}

int timeutil_parse_step(const char *s, int64_t *ms)
{
    if (!s || !*s)
        return -EINVAL;
    if (parse_seconds(s, ms) == 0)
        return 0;
    return timeutil_parse_duration(s, ms);
}

void timeutil_format_rfc3339(int64_t ms, char *dst, size_t cap)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(dst, cap, "1970-01-01T00:00:00Z");
        return;
    }
    if (frac)
        snprintf(dst, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    else
        snprintf(dst, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void timeutil_format_duration(int64_t ms, char *dst, size_t cap)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t n = 0;
    if (cap == 0)
        return;
    dst[0] = '\0';
    if (ms == 0) {
        snprintf(dst, cap, "0s");
        return;
    }
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0)
        n += (size_t)snprintf(dst, cap, "-");
    for (size_t i = 0; i < sizeof units / sizeof units[0] && v && n < cap; i++) {
        uint64_t q = v / (uint64_t)units[i].ms;
        if (!q)
            continue;
        v -= q * (uint64_t)units[i].ms;
        n += (size_t)snprintf(dst + n, cap - n, "%llu%s", (unsigned long long)q, units[i].unit);
    }
}

int64_t timeutil_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void timeutil_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}
