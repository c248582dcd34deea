/* test_timeutil: Prometheus durations (units, order, garbage, overflow), API times (Unix seconds
 * with fractions, RFC 3339 with Z, offsets, fractions and calendar checks), steps, and clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

typedef struct tcase {
    const char *in;
    int rc;
    int64_t ms;
} tcase;

/* Runs a table against one parser; each case names its input in the failure message. */
static void run_table(const char *what, int (*fn)(const char *, int64_t *), const tcase *c,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t ms = 12345; /* sentinel: must stay untouched on failure */
        int rc = fn(c[i].in, &ms);
        if (rc != c[i].rc)
            fail_msg("%s(\"%s\"): rc %d, want %d", what, c[i].in, rc, c[i].rc);
        if (rc == 0 && ms != c[i].ms)
            fail_msg("%s(\"%s\"): %lld ms, want %lld", what, c[i].in, (long long)ms,
                     (long long)c[i].ms);
        if (rc != 0 && ms != 12345)
            fail_msg("%s(\"%s\"): output written on failure", what, c[i].in);
    }
}

static void duration_valid_forms(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"1ms", 0, 1},
        {"500ms", 0, 500},
        {"1s", 0, SEC},
        {"90s", 0, 90 * SEC},
        {"5m", 0, 5 * MIN},
        {"1h", 0, HOUR},
        {"1d", 0, DAY},
        {"1w", 0, 7 * DAY},
        {"1y", 0, 365 * DAY},
        {"1h30m", 0, HOUR + 30 * MIN},
        {"1h30m15s", 0, HOUR + 30 * MIN + 15 * SEC},
        {"1m30s500ms", 0, MIN + 30 * SEC + 500},
        {"1y2w3d4h5m6s7ms", 0, 365 * DAY + 14 * DAY + 3 * DAY + 4 * HOUR + 5 * MIN + 6 * SEC + 7},
        {"0s", 0, 0},
        {"0ms", 0, 0},
        {"00010s", 0, 10 * SEC},
        {"2h0m", 0, 2 * HOUR},
        {"1m1ms", 0, MIN + 1},
    };
    run_table("duration", timeutil_parse_duration, cases, sizeof cases / sizeof cases[0]);
}

static void duration_rejects_wrong_order_and_repeats(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"30m1h", -EINVAL, 0}, {"1s1m", -EINVAL, 0},   {"1ms1s", -EINVAL, 0},
        {"1h1h", -EINVAL, 0},  {"1m1m", -EINVAL, 0},   {"1d1y", -EINVAL, 0},
        {"1s1s", -EINVAL, 0},  {"1ms1ms", -EINVAL, 0}, {"5m5ms5s", -EINVAL, 0},
    };
    run_table("duration", timeutil_parse_duration, cases, sizeof cases / sizeof cases[0]);
}

static void duration_rejects_garbage(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"", -EINVAL, 0},     {"5", -EINVAL, 0},     {"m", -EINVAL, 0},    {"5x", -EINVAL, 0},
        {"5M", -EINVAL, 0},   {"5S", -EINVAL, 0},    {"1.5h", -EINVAL, 0}, {"-5m", -EINVAL, 0},
        {"+5m", -EINVAL, 0},  {" 5m", -EINVAL, 0},   {"5m ", -EINVAL, 0},  {"5 m", -EINVAL, 0},
        {"5mm", -EINVAL, 0},  {"5ss", -EINVAL, 0},   {"5hs", -EINVAL, 0},  {"5m-", -EINVAL, 0},
        {"1h30", -EINVAL, 0}, {"0x10s", -EINVAL, 0}, {"1e3s", -EINVAL, 0}, {"5µs", -EINVAL, 0},
        {"5ns", -EINVAL, 0},  {"h1", -EINVAL, 0},    {"5m\n", -EINVAL, 0}, {"\xff", -EINVAL, 0},
    };
    run_table("duration", timeutil_parse_duration, cases, sizeof cases / sizeof cases[0]);
    int64_t ms = 0;
    assert_int_equal(timeutil_parse_duration(NULL, &ms), -EINVAL);
}

static void duration_rejects_overflow(void **state)
{
    (void)state;
    static const tcase cases[] = {
        /* Durations are capped at 1e16 ms so time arithmetic can never overflow. */
        {"10000000000000000ms", 0, 10000000000000000LL},
        {"10000000000000001ms", -EINVAL, 0},
        {"9223372036854775807ms", -EINVAL, 0},
        {"9223372036854775808ms", -EINVAL, 0},
        {"18446744073709551616ms", -EINVAL, 0},
        {"99999999999999999999999999ms", -EINVAL, 0},
        {"10000000000000s", 0, 10000000000000000LL},
        {"9223372036854775s", -EINVAL, 0},
        {"9223372036854776s", -EINVAL, 0},
        {"106751991167y", -EINVAL, 0},
        {"317000y", 0, 317000LL * 365 * DAY},
        {"317098y", -EINVAL, 0},
        {"292471209y", -EINVAL, 0},
        /* Each part fits, the sum does not. */
        {"292000000y1000000000000000d", -EINVAL, 0},
        /* s before ms: the sum is exactly INT64_MAX, one more overflows. */
        {"10000000000000s0ms", 0, 10000000000000000LL},
        {"9223372036854775s808ms", -EINVAL, 0},
    };
    run_table("duration", timeutil_parse_duration, cases, sizeof cases / sizeof cases[0]);
}

static void time_unix_seconds(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"0", 0, 0},
        {"1732380000", 0, 1732380000000LL},
        {"1732380000.5", 0, 1732380000500LL},
        {"1732380000.123", 0, 1732380000123LL},
        {"1732380000.1234", 0, 1732380000123LL},
        {"0.0006", 0, 1}, /* rounded to the nearest ms, not truncated */
        {".5", 0, 500},
        {"5.", 0, 5000},
        {"-1.5", 0, -1500},
        {"+10", 0, 10000},
        {"1e3", 0, 1000000},
        {"1.5e1", 0, 15000},
        {"9200000000000", 0, 9200000000000000LL},
        {"9200000000001", -EINVAL, 0}, /* past the +-292 000-year range */
    };
    run_table("time", timeutil_parse_time, cases, sizeof cases / sizeof cases[0]);
}

static void time_rfc3339(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"2026-11-23T20:00:00Z", 0, 1795464000000LL},
        {"2026-11-23T20:00:00.5Z", 0, 1795464000500LL},
        {"2026-11-23T20:00:00.500000000Z", 0, 1795464000500LL},
        {"2026-11-23T20:00:00.123456789Z", 0, 1795464000123LL},
        {"2026-11-23T20:00:00.123+01:00", 0, 1795460400123LL},
        {"2026-11-23T20:00:00-05:30", 0, 1795483800000LL},
        {"2026-11-23T20:00:00+00:00", 0, 1795464000000LL},
        {"2026-11-23T20:00:00z", 0, 1795464000000LL},
        {"1970-01-01T00:00:00Z", 0, 0},
        {"1969-12-31T23:59:59.500Z", 0, -500},
        {"1900-01-01T00:00:00Z", 0, -2208988800000LL},
        {"2024-02-29T12:00:00Z", 0, 1709208000000LL},
        {"2000-03-01T00:00:00Z", 0, 951868800000LL},
        {"9999-12-31T23:59:59.999Z", 0, 253402300799999LL},
    };
    run_table("time", timeutil_parse_time, cases, sizeof cases / sizeof cases[0]);
}

static void time_rejects_bad_input(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"", -EINVAL, 0},
        {"abc", -EINVAL, 0},
        {"1732380000.5.5", -EINVAL, 0},
        {"1732380000s", -EINVAL, 0},
        {" 1732380000", -EINVAL, 0},
        {"1732380000 ", -EINVAL, 0},
        {"\t15", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"inf", -EINVAL, 0},
        {"-Inf", -EINVAL, 0},
        {"NaN", -EINVAL, 0},
        {"1e400", -EINVAL, 0},
        {"9300000000000000", -EINVAL, 0}, /* ms would overflow int64 */
        {"2026-11-23", -EINVAL, 0},
        {"2026-11-23T20:00:00", -EINVAL, 0},   /* no zone */
        {"2026-11-23T20:00Z", -EINVAL, 0},     /* no seconds */
        {"2026-11-23T20:00:00.Z", -EINVAL, 0}, /* empty fraction */
        {"2026-11-23T20:00:00ZZ", -EINVAL, 0},
        {"2026-11-23T20:00:00+0100", -EINVAL, 0},
        {"2026-11-23T20:00:00+01", -EINVAL, 0},
        {"2026-11-23T20:00:00+24:00", -EINVAL, 0},
        {"2026-13-01T00:00:00Z", -EINVAL, 0},
        {"2026-00-01T00:00:00Z", -EINVAL, 0},
        {"2026-01-00T00:00:00Z", -EINVAL, 0},
        {"2026-01-32T00:00:00Z", -EINVAL, 0},
        {"2026-02-29T00:00:00Z", -EINVAL, 0}, /* not a leap year */
        {"2026-02-31T00:00:00Z", -EINVAL, 0},
        {"2026-04-31T00:00:00Z", -EINVAL, 0},
        {"1900-02-29T00:00:00Z", -EINVAL, 0}, /* century, not a leap year */
        {"2026-11-23T24:00:00Z", -EINVAL, 0},
        {"2026-11-23T20:60:00Z", -EINVAL, 0},
        {"2026-11-23T20:00:60Z", -EINVAL, 0},
        {"2026-11-23X20:00:00Z", -EINVAL, 0},
        {"26-11-23T20:00:00Z", -EINVAL, 0},
        {"2026-1-23T20:00:00Z", -EINVAL, 0},
        {"2026-11-23T20:00:00Z\n", -EINVAL, 0},
        {"2026-11-2", -EINVAL, 0},
        {"2026-11-23T2", -EINVAL, 0},
        {"-2026-11-23T20:00:00Z", -EINVAL, 0},
    };
    run_table("time", timeutil_parse_time, cases, sizeof cases / sizeof cases[0]);
    int64_t ms;
    assert_int_equal(timeutil_parse_time(NULL, &ms), -EINVAL);
}

static void rfc3339_agrees_with_unix_seconds(void **state)
{
    (void)state;
    /* Walk a few years day by day through leap days and check against gmtime. */
    for (time_t t = 946684800; t < 946684800 + 6 * 366 * 86400; t += 86400 + 3661) {
        struct tm tm;
        gmtime_r(&t, &tm);
        char s[64];
        snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d.250Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        int64_t ms;
        if (timeutil_parse_time(s, &ms))
            fail_msg("%s refused", s);
        assert_int_equal(ms, (int64_t)t * 1000 + 250);
    }
}

static void step_numbers_and_durations(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"15", 0, 15 * SEC},
        {"0.5", 0, 500},
        {"15s", 0, 15 * SEC},
        {"1m", 0, MIN},
        {"1h30m", 0, HOUR + 30 * MIN},
        {"250ms", 0, 250},
        {"0", 0, 0},
        {"-15", 0, -15 * SEC}, /* the caller refuses non-positive steps */
        {"", -EINVAL, 0},
        {"15x", -EINVAL, 0},
        {"s", -EINVAL, 0},
        {"30m1h", -EINVAL, 0},
        {"inf", -EINVAL, 0},
        {"nan", -EINVAL, 0},
        {" 15", -EINVAL, 0},
    };
    run_table("step", timeutil_parse_step, cases, sizeof cases / sizeof cases[0]);
    int64_t ms;
    assert_int_equal(timeutil_parse_step(NULL, &ms), -EINVAL);
}

static void clocks_are_sane(void **state)
{
    (void)state;
    int64_t now = timeutil_now_ms();
    /* After 2024-01-01 and before 2100. */
    assert_true(now > 1704067200000LL);
    assert_true(now < 4102444800000LL);
    int64_t wall = (int64_t)time(NULL) * 1000;
    assert_true(now >= wall - 2000 && now <= wall + 2000);
    int64_t m1 = timeutil_mono_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t m2 = timeutil_mono_ms();
    assert_true(m2 - m1 >= 19);
    assert_true(m2 - m1 < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration_valid_forms),
        cmocka_unit_test(duration_rejects_wrong_order_and_repeats),
        cmocka_unit_test(duration_rejects_garbage),
        cmocka_unit_test(duration_rejects_overflow),
        cmocka_unit_test(time_unix_seconds),
        cmocka_unit_test(time_rfc3339),
        cmocka_unit_test(time_rejects_bad_input),
        cmocka_unit_test(rfc3339_agrees_with_unix_seconds),
        cmocka_unit_test(step_numbers_and_durations),
        cmocka_unit_test(clocks_are_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
