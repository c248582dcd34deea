/* usage: per-customer usage events, read strictly and totally from the line format and from JSON.
 *
 * Line format: one event per line, lines separated by "\n" or "\r\n"; empty lines and lines of
 * only spaces, tabs and "\r" are skipped (they still count for line numbers):
 *
 *     customer_id:data_type:count[t=1000,s=pending,l=dbcall,ct=create]
 *
 *   customer_id  1-128 bytes of [A-Za-z0-9_.@/-]  ('@' and '/' are allowed so e-mail addresses
 *                and "org/team" paths can be customers; ':' never, it separates)
 *   data_type    1-128 bytes of [A-Za-z0-9_.-]
 *   count        a non-negative decimal integer up to 2^53 (9007199254740992): digits only, no
 *                sign, fraction or exponent (counts are counts; leading zeros are allowed)
 *   [...]        optional; inside, comma-separated key=value qualifiers, any subset (also none:
 *                "[]"), any order, each key at most once:
 *                  t   time took in ms: a non-negative integer up to 2^53
 *                  s   state            l   label            ct  change_type
 *                  ts  the event's time in Unix ms, 1..253402300799999 (a dashdot extension:
 *                      without it the receiver dates the event with its receipt time)
 *                  id  an event id (a dashdot extension): a retry carrying the same id for the
 *                      same customer is stored once
 *                Values of s, l, ct and id: 1-128 bytes of printable ASCII (0x20-0x7e) except
 *                ',' ']' and '='. Nothing may follow the ']'.
 * Nothing else is accepted: no whitespace around fields, no other bytes (NUL, control, non-ASCII
 * bytes are rejected with their column). A line longer than USAGE_LINE_MAX bytes (not counting
 * its "\r\n") is rejected without being read.
 *
 * JSON: one object or an array of objects, each
 *   {"identity_id": "c1" | 17, "data_type": "api_call", "count": 3,
 *    "qualifiers": {"time_took": 1000, "state": "pending", "label": "dbcall",
 *                   "change_type": "create"},
 *    "time": 1732380000.5 | "2026-11-23T20:00:00Z", "event_id": "..."}
 *   identity_id, data_type, count are required; the rest is optional, and null is the same as
 *   absent. identity_id is a string or a non-negative integer (read as its decimal digits);
 *   count and time_took are non-negative integers up to 2^53 (3.0 is 3; 3.5 is rejected); time
 *   is Unix seconds (a fraction gives milliseconds) or a string timeutil_parse_time reads
 *   (RFC 3339, or Unix seconds), between 1970 and 9999. Every string obeys the same rules as in
 *   the line format (so every event can be written in both formats). An unknown member is an
 *   error (strict: a misspelt "qualifier" must not be silently dropped). Duplicate keys, invalid
 *   UTF-8, integers beyond 64 bits and nesting deeper than jansson's limit make the body
 *   unreadable (-EINVAL).
 *
 * Results. Good events are handed to fn one by one, in order; bad ones are counted in
 * rep->rejected and the first USAGE_MAX_ERRORS are described in rep->errors: `line` is the
 * 1-based line (lines) or the 1-based position in the array (JSON: a lone object is 1), and
 * `reason` starts with the field, for JSON its path with a 0-based index as JSON tools write it
 * ("[3].qualifiers.time_took: must be a non-negative integer up to 2^53").
 *
 * Strings of a usage_event are NUL-terminated and stay valid until the next usage_parse_* call
 * on the same thread (or usage_parse_release), so fn may keep the events of a body and hand
 * them all to the log in one batch after the parse returns. They live in a scratch buffer per
 * thread (one allocation per body at most, none per line; freed when the thread exits).
 * Parsing itself never allocates per line. Any thread. */
#ifndef DD_WIRE_USAGE_H
#define DD_WIRE_USAGE_H

#include <stddef.h>
#include <stdint.h>

#define USAGE_MAX_ERRORS 16                 /* rejections described in a report */
#define USAGE_LINE_MAX 4096                 /* bytes of one line */
#define USAGE_ID_MAX 128                    /* bytes of customer_id and data_type */
#define USAGE_VALUE_MAX 128                 /* bytes of a qualifier value or event id */
#define USAGE_COUNT_MAX 9007199254740992ULL /* 2^53: exact in a double, so in JSON too */
#define USAGE_TIME_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

typedef struct usage_event {
    int64_t t_ms;         /* 0: not given (the receiver uses the receipt time) */
    const char *customer; /* NUL-terminated, valid until the next parse call */
    const char *type;
    uint64_t count;
    int64_t took_ms;                                    /* -1: not given */
    const char *state, *label, *change_type, *event_id; /* "" when not given */
} usage_event;

/* Receives one good event; returns 0 to go on, nonzero to stop (the parse returns that value). */
typedef int (*usage_event_fn)(void *ctx, const usage_event *ev);

typedef struct usage_report {
    size_t accepted, rejected;
    /* the first USAGE_MAX_ERRORS rejections: 1-based line (or array position for JSON) and
     * reason */
    struct {
        size_t line;
        char reason[128];
    } errors[USAGE_MAX_ERRORS];
    size_t nerrors;
} usage_report;

/* Parses a body in the line format, calling fn for each good line (accepted counts the lines fn
 * took with 0). rep is filled from scratch (may be NULL). Returns 0, fn's nonzero value when it
 * stopped the parse, or -ENOMEM (the scratch buffer could not be had: nothing was delivered). */
int usage_parse_lines(const char *body, size_t len, usage_event_fn fn, void *ctx,
                      usage_report *rep);

/* Parses a JSON body (one object or an array of objects), calling fn for each good one. A body
 * that is JSON of the wrong shape (a number, an array holding a string...) returns 0 with the
 * offending elements rejected. Returns 0, fn's nonzero value, -EINVAL when the body is not
 * JSON (rep->errors[0] says why, with line 0), or -ENOMEM. */
int usage_parse_json(const char *body, size_t len, usage_event_fn fn, void *ctx, usage_report *rep);

/* Frees the calling thread's scratch buffer now (the strings of its last parse become
 * invalid). Optional: a thread's buffer is freed when it exits; the main thread's lives until
 * the process ends unless released. */
void usage_parse_release(void);

#endif
