/* timeutil: clocks and the time formats of the Prometheus API. All times are int64
 * milliseconds since the Unix epoch; durations are int64 milliseconds. Any thread. */
#ifndef DD_TIMEUTIL_H
#define DD_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time in ms. */
int64_t timeutil_now_ms(void);
/* Monotonic time in ms (for intervals and timeouts). */
int64_t timeutil_mono_ms(void);
/* Parses a Prometheus duration: one or more <number><unit> with units ms, s, m, h, d, w, y in
 * decreasing order ("1h30m", "500ms"). Returns 0 or -EINVAL. */
int timeutil_parse_duration(const char *s, int64_t *ms);
/* Parses an API time parameter: a Unix timestamp in seconds with an optional fraction
 * ("1732380000.5") or an RFC 3339 time ("2026-11-23T20:00:00.5Z", "...+01:00").
 * Returns 0 or -EINVAL. */
int timeutil_parse_time(const char *s, int64_t *ms);
/* Parses a step or timeout parameter: seconds as a number ("15", "0.5") or a duration ("15s").
 * Returns 0 or -EINVAL. */
int timeutil_parse_step(const char *s, int64_t *ms);
/* Writes ms as RFC 3339 UTC with millisecond precision when needed
 * ("2026-11-23T20:00:00Z", "2026-11-23T20:00:00.500Z") into dst (at least 32 bytes). */
void timeutil_format_rfc3339(int64_t ms, char *dst, size_t cap);
/* Writes a duration in the form timeutil_parse_duration reads back, largest units first
 * ("1h30m", "500ms", "0s") into dst (at least 32 bytes). Negative values get a leading '-'. */
void timeutil_format_duration(int64_t ms, char *dst, size_t cap);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1-12, d 1-31; any y), and
 * back (Howard Hinnant's algorithms: exact for every representable day, no table, no libc
 * time zone). */
int64_t timeutil_days_from_civil(int64_t y, unsigned m, unsigned d);
void timeutil_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
