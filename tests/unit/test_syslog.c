/* test_syslog: the syslog wire format. A table of real messages (RFC 5424 and RFC 3164
 * examples, logger(1), rsyslog, Cisco IOS, messages without PRI, with BOM, NUL, invalid UTF-8)
 * with every member of the record checked; structured data strict and broken; the year of a
 * 3164 time around New Year and the time zone; hostile input; the TCP framer (octet counting
 * and LF framing) fed split at every byte position, with broken counts and oversized messages.
 * All times are fixed: no test reads the clock. DD_BENCH=1 prints parse and framing rates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "wire/syslog.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW "2026-06-15T12:00:00Z" /* the default receipt time of the table */
#define L(lit) lit, sizeof lit - 1 /* a literal with NULs and its length */

static int64_t T(const char *rfc3339)
{
    int64_t ms = 0;
    if (timeutil_parse_time(rfc3339, &ms))
        fail_msg("bad test time %s", rfc3339);
    return ms;
}

typedef struct pcase {
    const char *in;
    size_t len;      /* 0: strlen(in) */
    const char *now; /* NULL: NOW */
    int tz;          /* seconds east of UTC */
    int sev, fac;
    const char *t; /* expected time (RFC 3339), NULL: the receipt time */
    const char *host, *app, *text;
    const char *title; /* NULL: same as text */
    const char *fields;
} pcase;

/* Checks what every parsed record must satisfy, whatever the input. */
static void check_invariants(const char *in, const event *ev)
{
    if (!ev->kind || strcmp(ev->kind, EVENT_KIND_SYSLOG))
        fail_msg("%s: kind", in);
    if (!ev->host || !ev->app || !ev->title || !ev->text || !ev->fields || !ev->source ||
        !ev->fingerprint)
        fail_msg("%s: NULL member", in);
    if (ev->severity < 0 || ev->severity > 7 || ev->facility < 0 || ev->facility > 23)
        fail_msg("%s: severity %d facility %d", in, ev->severity, ev->facility);
    if (strlen(ev->title) > SYSLOG_TITLE_MAX)
        fail_msg("%s: title of %zu bytes", in, strlen(ev->title));
    if (strchr(ev->title, '\n'))
        fail_msg("%s: title with a newline", in);
    if (ev->fields[0]) {
        json_error_t je;
        json_t *j = json_loads(ev->fields, 0, &je);
        if (!j || !json_is_object(j))
            fail_msg("%s: fields not a JSON object (%s): %s", in, je.text, ev->fields);
        json_decref(j);
    }
}

static void run_cases(const pcase *c, size_t n)
{
    buf scratch;
    buf_init(&scratch, 0);
    for (size_t i = 0; i < n; i++) {
        event ev;
        char err[128] = "";
        size_t len = c[i].len ? c[i].len : strlen(c[i].in);
        int64_t now = T(c[i].now ? c[i].now : NOW);
        int rc = syslog_parse(c[i].in, len, now, c[i].tz, &scratch, &ev, err, sizeof err);
        if (rc)
            fail_msg("case %zu \"%s\": rc %d (%s)", i, c[i].in, rc, err);
        check_invariants(c[i].in, &ev);
        int64_t want_t = c[i].t ? T(c[i].t) : now;
        if (ev.t_ms != want_t)
            fail_msg("case %zu \"%s\": t %lld, want %lld (%+lld ms)", i, c[i].in,
                     (long long)ev.t_ms, (long long)want_t, (long long)(ev.t_ms - want_t));
        if (ev.severity != c[i].sev || ev.facility != c[i].fac)
            fail_msg("case %zu \"%s\": severity %d facility %d, want %d %d", i, c[i].in,
                     ev.severity, ev.facility, c[i].sev, c[i].fac);
        const char *title = c[i].title ? c[i].title : c[i].text;
        const char *got[] = {ev.host, ev.app, ev.text, ev.title, ev.fields};
        const char *want[] = {c[i].host, c[i].app, c[i].text, title, c[i].fields};
        const char *what[] = {"host", "app", "text", "title", "fields"};
        for (int k = 0; k < 5; k++)
            if (strcmp(got[k], want[k]))
                fail_msg("case %zu \"%s\": %s \"%s\", want \"%s\"", i, c[i].in, what[k], got[k],
                         want[k]);
        if (ev.recv_ms || ev.sensor_id || ev.device_id || ev.status || ev.source[0] ||
            ev.fingerprint[0])
            fail_msg("case %zu: members for the caller were set", i);
    }
    buf_free(&scratch);
}

static void rfc5424_examples(void **state)
{
    (void)state;
    static const pcase cases[] = {
        /* RFC 5424 6.5, examples 1 to 4. */
        {"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' "
         "failed for lonvick on /dev/pts/8",
         0, NULL, 0, 2, 4, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "su",
         "'su root' failed for lonvick on /dev/pts/8", NULL, "{\"msgid\":\"ID47\"}"},
        {"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
         "the do-nuts.",
         0, NULL, 0, 5, 20, "2003-08-24T12:14:15Z", "192.0.2.1", "myproc",
         "%% It's time to make the do-nuts.", NULL, "{\"procid\":\"8710\"}"},
        {"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
         "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBF"
         "An application event log entry...",
         0, NULL, 0, 5, 20, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog",
         "An application event log entry...", NULL,
         "{\"msgid\":\"ID47\",\"sd\":{\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":"
         "\"Application\",\"eventID\":\"1011\"}}}"},
        {"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
         "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 "
         "class=\"high\"]",
         0, NULL, 0, 5, 20, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog", "",
         NULL,
         "{\"msgid\":\"ID47\",\"sd\":{\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":"
         "\"Application\",\"eventID\":\"1011\"},\"examplePriority@32473\":{\"class\":\"high\"}}}"},
        /* logger(1) of util-linux 2.38 (Debian 12) over the network. */
        {"<13>1 2026-12-08T01:02:03.123456+00:00 host user - - [timeQuality tzKnown=\"1\" "
         "isSynced=\"1\" syncAccuracy=\"339500\"] msg",
         0, NULL, 0, 5, 1, "2026-12-08T01:02:03.123Z", "host", "user", "msg", NULL,
         "{\"sd\":{\"timeQuality\":{\"tzKnown\":\"1\",\"isSynced\":\"1\",\"syncAccuracy\":"
         "\"339500\"}}}"},
        /* rsyslog's RSYSLOG_SyslogProtocol23Format, with a newline at the end. */
        {"<86>1 2026-05-04T10:11:12.345678+02:00 web1 sshd 4321 - - Accepted publickey for root\n",
         0, NULL, 0, 6, 10, "2026-05-04T08:11:12.345Z", "web1", "sshd",
         "Accepted publickey for root", NULL, "{\"procid\":\"4321\"}"},
        /* Every header field NIL. */
        {"<13>1 - - - - - -", 0, NULL, 0, 5, 1, NULL, "", "", "", NULL, ""},
        {"<13>1 - - - - - - hi", 0, NULL, 0, 5, 1, NULL, "", "", "hi", NULL, ""},
        /* A header cut short: what is there is kept. */
        {"<13>1 2026-01-02T03:04:05Z host", 0, NULL, 0, 5, 1, "2026-01-02T03:04:05Z", "host", "",
         "", NULL, ""},
        /* Fractions: nine digits, none; offsets with half hours; a lower-case 't' and 'z'. */
        {"<13>1 2026-01-02T03:04:05.123456789Z h a - - -", 0, NULL, 0, 5, 1,
         "2026-01-02T03:04:05.123Z", "h", "a", "", NULL, ""},
        {"<13>1 2026-01-02T03:04:05+05:30 h a - - -", 0, NULL, 0, 5, 1, "2026-01-01T21:34:05Z", "h",
         "a", "", NULL, ""},
        {"<13>1 2026-01-02t03:04:05z h a - - -", 0, NULL, 0, 5, 1, "2026-01-02T03:04:05Z", "h", "a",
         "", NULL, ""},
        /* No zone (not RFC 5424, but seen): the sensor's zone. */
        {"<13>1 2026-01-02T03:04:05 h a - - -", 0, NULL, 3600, 5, 1, "2026-01-02T02:04:05Z", "h",
         "a", "", NULL, ""},
        /* A time that is no time: the receipt time, and the raw value in fields. */
        {"<13>1 2026-13-01T00:00:00Z h a - - - x", 0, NULL, 0, 5, 1, NULL, "h", "a", "x", NULL,
         "{\"timestamp\":\"2026-13-01T00:00:00Z\"}"},
        {"<13>1 2026-02-29T00:00:00Z h a - - - x", 0, NULL, 0, 5, 1, NULL, "h", "a", "x", NULL,
         "{\"timestamp\":\"2026-02-29T00:00:00Z\"}"},
        {"<13>1 2028-02-29T23:59:60Z h a - - - x", 0, NULL, 0, 5, 1, "2028-03-01T00:00:00Z", "h",
         "a", "x", NULL, ""},
        /* Multi-line message: the title is the first line. */
        {"<13>1 - host app - - - line one\r\nline two\n", 0, NULL, 0, 5, 1, NULL, "host", "app",
         "line one\r\nline two", "line one", ""},
        {"<13>1 - host app - - - \n\nafter blank lines\nmore", 0, NULL, 0, 5, 1, NULL, "host",
         "app", "\n\nafter blank lines\nmore", "after blank lines", ""},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void structured_data(void **state)
{
    (void)state;
    static const pcase cases[] = {
        /* Escapes: \" \\ \] are undone; a backslash before anything else is itself. */
        {"<13>1 - h a - - [x@1 a=\"q\\\"uote\" b=\"back\\\\slash\" c=\"br\\]acket\" "
         "d=\"lit\\nx\"] m",
         0, NULL, 0, 5, 1, NULL, "h", "a", "m", NULL,
         "{\"sd\":{\"x@1\":{\"a\":\"q\\\"uote\",\"b\":\"back\\\\slash\",\"c\":\"br]acket\","
         "\"d\":\"lit\\\\nx\"}}}"},
        /* A parameter repeated (RFC 5424 7.2.4: origin's ip): an array. */
        {"<13>1 - h a - - [origin ip=\"10.0.0.1\" software=\"x\" ip=\"10.0.0.2\"] m", 0, NULL, 0, 5,
         1, NULL, "h", "a", "m", NULL,
         "{\"sd\":{\"origin\":{\"ip\":[\"10.0.0.1\",\"10.0.0.2\"],\"software\":\"x\"}}}"},
        /* Empty values, an element without parameters, an unescaped ']' in quotes. */
        {"<13>1 - h a - - [a][b c=\"\"][d e=\"x]y\"]", 0, NULL, 0, 5, 1, NULL, "h", "a", "", NULL,
         "{\"sd\":{\"a\":{},\"b\":{\"c\":\"\"},\"d\":{\"e\":\"x]y\"}}}"},
        /* Control characters, a NUL and invalid UTF-8 in a value: escaped and U+FFFD. */
        {"<13>1 - h a - - [a b=\"\x01\t\xff\xc3\xa9\"] m", 0, NULL, 0, 5, 1, NULL, "h", "a", "m",
         NULL, "{\"sd\":{\"a\":{\"b\":\"\\u0001\\t\xef\xbf\xbd\xc3\xa9\"}}}"},
        {L("<13>1 - h a - - [a b=\"x\0y\"] m"), NULL, 0, 5, 1, NULL, "h", "a", "m", NULL,
         "{\"sd\":{\"a\":{\"b\":\"x\xef\xbf\xbdy\"}}}"},
        /* Surrogates and overlong forms are not UTF-8. */
        {"<13>1 - h a - - [a b=\"\xed\xa0\x80\xc0\xaf\"]", 0, NULL, 0, 5, 1, NULL, "h", "a", "",
         NULL,
         "{\"sd\":{\"a\":{\"b\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}"
         "}}"},
        /* Malformed: the message is kept, the raw remainder is the text. */
        {"<13>1 - h a - - [x@1 a=b] msg", 0, NULL, 0, 5, 1, NULL, "h", "a", "[x@1 a=b] msg", NULL,
         "{\"sd_error\":\"byte 23: expected '\\\"' before PARAM-VALUE\"}"},
        {"<13>1 - h a - - [a b=\"1\"]msg", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a b=\"1\"]msg", NULL,
         "{\"sd_error\":\"byte 25: expected ' ' after STRUCTURED-DATA\"}"},
        {"<13>1 2026-01-02T03:04:05Z h a 12 - hello world", 0, NULL, 0, 5, 1,
         "2026-01-02T03:04:05Z", "h", "a", "hello world", NULL,
         "{\"procid\":\"12\",\"sd_error\":\"byte 36: expected '[' or '-' for STRUCTURED-DATA\"}"},
        {"<13>1 - h a - - -x", 0, NULL, 0, 5, 1, NULL, "h", "a", "-x", NULL,
         "{\"sd_error\":\"byte 17: expected ' ' after STRUCTURED-DATA\"}"},
        {"<13>1 - h a - - [a b=\"1\"][a c=\"2\"] m", 0, NULL, 0, 5, 1, NULL, "h", "a",
         "[a b=\"1\"][a c=\"2\"] m", NULL, "{\"sd_error\":\"byte 27: SD-ID repeated\"}"},
        {"<13>1 - h a - - [a b=\"1] m", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a b=\"1] m", NULL,
         "{\"sd_error\":\"byte 26: unterminated PARAM-VALUE\"}"},
        {"<13>1 - h a - - [a b=\"1\\\"]", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a b=\"1\\\"]", NULL,
         "{\"sd_error\":\"byte 26: unterminated PARAM-VALUE\"}"},
        {"<13>1 - h a - - [a b=\"1\"", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a b=\"1\"", NULL,
         "{\"sd_error\":\"byte 24: unterminated SD element\"}"},
        {"<13>1 - h a - - [] m", 0, NULL, 0, 5, 1, NULL, "h", "a", "[] m", NULL,
         "{\"sd_error\":\"byte 17: empty SD-ID\"}"},
        {"<13>1 - h a - - [a  b=\"1\"]", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a  b=\"1\"]", NULL,
         "{\"sd_error\":\"byte 19: empty PARAM-NAME\"}"},
        {"<13>1 - h a - - [a b=\"1\" ]", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a b=\"1\" ]", NULL,
         "{\"sd_error\":\"byte 25: empty PARAM-NAME\"}"},
        {"<13>1 - h a - - [a=b]", 0, NULL, 0, 5, 1, NULL, "h", "a", "[a=b]", NULL,
         "{\"sd_error\":\"byte 18: expected ' ' or ']'\"}"},
        {"<13>1 - h a - - [abcdefghijabcdefghijabcdefghijabc] m", 0, NULL, 0, 5, 1, NULL, "h", "a",
         "[abcdefghijabcdefghijabcdefghijabc] m", NULL,
         "{\"sd_error\":\"byte 50: SD-ID longer than 32 bytes\"}"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void rfc3164_and_deviations(void **state)
{
    (void)state;
    static const pcase cases[] = {
        /* RFC 3164 5.4 examples. */
        {"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", 0, NULL, 0,
         2, 4, "2025-10-11T22:14:15Z", "mymachine", "su",
         "'su root' failed for lonvick on /dev/pts/8", NULL, ""},
        {"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", 0, NULL, 0, 5, 1, "2026-02-05T17:32:18Z",
         "10.0.0.99", "", "Use the BFG!", NULL, ""},
        {"<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org "
         "10.1.2.3 sched[0]: That's All Folks!",
         0, NULL, 0, 0, 0, "2025-10-22T10:52:12Z", "scapegoat", "",
         "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All "
         "Folks!",
         NULL, ""},
        /* logger --rfc3164 (to /dev/log: no host name) and over the network. */
        {"<13>Dec  8 01:02:03 user: msg", 0, "2026-12-08T12:00:00Z", 0, 5, 1,
         "2026-12-08T01:02:03Z", "", "user", "msg", NULL, ""},
        {"<13>Dec  8 01:02:03 myhost root: hello", 0, "2026-12-08T12:00:00Z", 0, 5, 1,
         "2026-12-08T01:02:03Z", "myhost", "root", "hello", NULL, ""},
        /* Tags: with a pid, a path, a pid but no colon, a colon without a space. */
        {"<30>Jun 15 01:02:03 web1 sshd[1234]: Accepted publickey", 0, NULL, 0, 6, 3,
         "2026-06-15T01:02:03Z", "web1", "sshd", "Accepted publickey", NULL,
         "{\"procid\":\"1234\"}"},
        {"<22>Jun 15 01:02:03 mx postfix/smtpd[99]: connect from x", 0, NULL, 0, 6, 2,
         "2026-06-15T01:02:03Z", "mx", "postfix/smtpd", "connect from x", NULL,
         "{\"procid\":\"99\"}"},
        {"<30>Jun 15 01:02:03 h dhclient[123] DHCPACK of 10.0.0.5", 0, NULL, 0, 6, 3,
         "2026-06-15T01:02:03Z", "h", "dhclient", "DHCPACK of 10.0.0.5", NULL,
         "{\"procid\":\"123\"}"},
        {"<13>Jun 15 01:02:03 h kernel:", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "h", "kernel",
         "", NULL, ""},
        {"<13>Jun 15 01:02:03 h http://example.com is down", 0, NULL, 0, 5, 1,
         "2026-06-15T01:02:03Z", "h", "", "http://example.com is down", NULL, ""},
        /* Host names: an IPv6 address, "-", a host and nothing else. */
        {"<13>Jun 15 01:02:03 fe80::1 app: x", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "fe80::1",
         "app", "x", NULL, ""},
        {"<13>Jun 15 01:02:03 - app: x", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "", "app", "x",
         NULL, ""},
        {"<13>Jun 15 01:02:03 host", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "host", "", "", NULL,
         ""},
        /* Days: space-padded, zero-padded, one digit; lower-case month; a fraction. */
        {"<13>Jun 1 01:02:03 h a: x", 0, NULL, 0, 5, 1, "2026-06-01T01:02:03Z", "h", "a", "x", NULL,
         ""},
        {"<13>Jun 01 01:02:03 h a: x", 0, NULL, 0, 5, 1, "2026-06-01T01:02:03Z", "h", "a", "x",
         NULL, ""},
        {"<13>jun  1 01:02:03.250 h a: x", 0, NULL, 0, 5, 1, "2026-06-01T01:02:03.250Z", "h", "a",
         "x", NULL, ""},
        /* Year after the day. */
        {"<13>Oct 11 2026 22:14:15 host app: x", 0, "2030-01-01T00:00:00Z", 0, 5, 1,
         "2026-10-11T22:14:15Z", "host", "app", "x", NULL, ""},
        /* ISO 8601 / RFC 3339 times (rsyslog's RSYSLOG_ForwardFormat), with and without zone. */
        {"<13>2026-12-08T01:02:03.5+01:00 host app: x", 0, NULL, 0, 5, 1, "2026-12-08T00:02:03.5Z",
         "host", "app", "x", NULL, ""},
        {"<13>2026-12-08T01:02:03 host app: x", 0, NULL, 7200, 5, 1, "2026-12-07T23:02:03Z", "host",
         "app", "x", NULL, ""},
        {"<13>2026-12-08 01:02:03 host app: x", 0, NULL, 0, 5, 1, "2026-12-08T01:02:03Z", "host",
         "app", "x", NULL, ""},
        {"<13>2026-12-08T01:02:03Z app[5]: x", 0, NULL, 0, 5, 1, "2026-12-08T01:02:03Z", "", "app",
         "x", NULL, "{\"procid\":\"5\"}"},
        /* The sensor's zone for 3164 times. */
        {"<13>Dec  8 01:02:03 host app: x", 0, "2026-12-08T12:00:00Z", -18000, 5, 1,
         "2026-12-08T06:02:03Z", "host", "app", "x", NULL, ""},
        {"<13>Dec  8 01:02:03 host app: x", 0, "2026-12-08T12:00:00Z", 19800, 5, 1,
         "2026-12-07T19:32:03Z", "host", "app", "x", NULL, ""},
        /* Cisco IOS: sequence number, '*' (clock not synchronised), milliseconds, a zone. */
        {"<189>123: *Mar  1 18:46:11.873: %SYS-5-CONFIG_I: Configured from console by vty0", 0,
         NULL, 0, 5, 23, "2026-03-01T18:46:11.873Z", "", "%SYS-5-CONFIG_I",
         "Configured from console by vty0", NULL, "{\"seq\":\"123\"}"},
        {"<187>45: Mar  1 2026 18:46:11.873 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state "
         "to down",
         0, NULL, 3600, 3, 23, "2026-03-01T18:46:11.873Z", "", "%LINK-3-UPDOWN",
         "Interface Gi0/1, changed state to down", NULL, "{\"seq\":\"45\"}"},
        {"<187>46: .Mar  1 18:46:11 CET: %LINK-3-UPDOWN: x", 0, NULL, 3600, 3, 23,
         "2026-03-01T17:46:11Z", "", "%LINK-3-UPDOWN", "x", NULL, "{\"seq\":\"46\"}"},
        {"<189>Mar  1 18:46:12 router1 124: Mar  1 18:46:11.873: %SYS-5-CONFIG_I: y", 0, NULL, 0, 5,
         23, "2026-03-01T18:46:11.873Z", "router1", "%SYS-5-CONFIG_I", "y", NULL,
         "{\"seq\":\"124\"}"},
        /* No time: no host name either; the tag still counts. */
        {"<13>user: no time", 0, NULL, 0, 5, 1, NULL, "", "user", "no time", NULL, ""},
        {"<13>Feb 30 22:14:15 host app: x", 0, NULL, 0, 5, 1, NULL, "", "",
         "Feb 30 22:14:15 host app: x", NULL, ""},
        {"<13>Jun 15 25:00:00 host app: x", 0, NULL, 0, 5, 1, NULL, "", "",
         "Jun 15 25:00:00 host app: x", NULL, ""},
        {"<13>123: not cisco", 0, NULL, 0, 5, 1, NULL, "", "123", "not cisco", NULL, ""},
        /* PRI: missing, out of range, malformed, alone, extremes. */
        {"Oct 11 22:14:15 mymachine su: no pri", 0, NULL, 0, 5, 1, "2025-10-11T22:14:15Z",
         "mymachine", "su", "no pri", NULL, ""},
        {"hello world", 0, NULL, 0, 5, 1, NULL, "", "", "hello world", NULL, ""},
        {"<192>x", 0, NULL, 0, 5, 1, NULL, "", "", "<192>x", NULL, ""},
        {"<1a>x", 0, NULL, 0, 5, 1, NULL, "", "", "<1a>x", NULL, ""},
        {"<>x", 0, NULL, 0, 5, 1, NULL, "", "", "<>x", NULL, ""},
        {"<0013>x", 0, NULL, 0, 5, 1, NULL, "", "", "<0013>x", NULL, ""},
        {"<13", 0, NULL, 0, 5, 1, NULL, "", "", "<13", NULL, ""},
        {"<13>", 0, NULL, 0, 5, 1, NULL, "", "", "", NULL, ""},
        {"<0>x", 0, NULL, 0, 0, 0, NULL, "", "", "x", NULL, ""},
        {"<191>x", 0, NULL, 0, 7, 23, NULL, "", "", "x", NULL, ""},
        {"<013>x", 0, NULL, 0, 5, 1, NULL, "", "", "x", NULL, ""},
        /* "1 " without a 5424 time after it: not RFC 5424, nothing lost. */
        {"<13>1 apple pie", 0, NULL, 0, 5, 1, NULL, "", "", "1 apple pie", NULL, ""},
        {"<13>1 ", 0, NULL, 0, 5, 1, NULL, "", "", "1 ", NULL, ""},
        {"<13>1 -", 0, NULL, 0, 5, 1, NULL, "", "", "", NULL, ""},
        /* Version other than 1: not RFC 5424; kept as text. */
        {"<13>2 - - - - - - x", 0, NULL, 0, 5, 1, NULL, "", "", "2 - - - - - - x", NULL, ""},
        /* BOM before PRI and before the message; trailing CR/LF/NUL; NULs inside. */
        {"\xEF\xBB\xBF<13>Jun 15 01:02:03 h a: x", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "h",
         "a", "x", NULL, ""},
        {"<13>Jun 15 01:02:03 h a: \xEF\xBB\xBFx", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "h",
         "a", "x", NULL, ""},
        {L("<13>Jun 15 01:02:03 h a: x\r\n\0\0"), NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "h", "a",
         "x", NULL, ""},
        {L("<13>Jun 15 01:02:03 h a: a\0b\0"), NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "h", "a",
         "a\xEF\xBF\xBD"
         "b",
         NULL, ""},
        {L("<13>Jun 15 01:02:03 h\0x a: y"), NULL, 0, 5, 1, "2026-06-15T01:02:03Z", "", "",
         "h\xEF\xBF\xBDx a: y", NULL, ""},
        /* Invalid UTF-8 and control characters in the text are kept (the store repairs). */
        {"<13>Jun 15 01:02:03 h a: \xff\xfe bad \x01", 0, NULL, 0, 5, 1, "2026-06-15T01:02:03Z",
         "h", "a", "\xff\xfe bad \x01", NULL, ""},
        /* Binary junk is still a message. */
        {"\x01\x02\x03", 0, NULL, 0, 5, 1, NULL, "", "", "\x01\x02\x03", NULL, ""},
        {"\r\n<13>x", 0, NULL, 0, 5, 1, NULL, "", "", "x", NULL, ""},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* The year of a time without one: closest to the receipt time, at most a day ahead. */
static void year_selection(void **state)
{
    (void)state;
    static const pcase cases[] = {
        /* A December message read just after New Year belongs to the year before. */
        {"<13>Dec 31 23:59:59 h a: x", 0, "2027-01-01T00:30:00Z", 0, 5, 1, "2026-12-31T23:59:59Z",
         "h", "a", "x", NULL, ""},
        {"<13>Dec 31 23:59:59 h a: x", 0, "2027-01-03T00:00:00Z", 0, 5, 1, "2026-12-31T23:59:59Z",
         "h", "a", "x", NULL, ""},
        /* A sender a little fast on Dec 31 already says Jan 1: next year. */
        {"<13>Jan  1 00:00:10 h a: x", 0, "2026-12-31T23:30:00Z", 0, 5, 1, "2027-01-01T00:00:10Z",
         "h", "a", "x", NULL, ""},
        {"<13>Jan  1 00:00:10 h a: x", 0, "2027-01-01T00:00:00Z", 0, 5, 1, "2027-01-01T00:00:10Z",
         "h", "a", "x", NULL, ""},
        {"<13>Dec 31 23:59:00 h a: x", 0, "2026-12-31T23:30:00Z", 0, 5, 1, "2026-12-31T23:59:00Z",
         "h", "a", "x", NULL, ""},
        /* Just under a day ahead stays; more than a day ahead is last year. */
        {"<13>Jun 16 11:00:00 h a: x", 0, NULL, 0, 5, 1, "2026-06-16T11:00:00Z", "h", "a", "x",
         NULL, ""},
        {"<13>Jun 16 12:00:01 h a: x", 0, NULL, 0, 5, 1, "2025-06-16T12:00:01Z", "h", "a", "x",
         NULL, ""},
        /* Feb 29: the last leap year. */
        {"<13>Feb 29 12:00:00 h a: x", 0, "2027-03-01T00:00:00Z", 0, 5, 1, "2024-02-29T12:00:00Z",
         "h", "a", "x", NULL, ""},
        {"<13>Feb 29 12:00:00 h a: x", 0, "2028-02-28T13:00:00Z", 0, 5, 1, "2028-02-29T12:00:00Z",
         "h", "a", "x", NULL, ""},
        {"<13>Feb 29 12:00:00 h a: x", 0, "2101-06-01T00:00:00Z", 0, 5, 1, "2096-02-29T12:00:00Z",
         "h", "a", "x", NULL, ""},
        /* The year is that of the sensor's zone: 23:30 UTC on Dec 31 is Jan 1 at UTC+1. */
        {"<13>Jan  1 00:10:00 h a: x", 0, "2026-12-31T23:30:00Z", 3600, 5, 1,
         "2026-12-31T23:10:00Z", "h", "a", "x", NULL, ""},
        {"<13>Dec 31 22:00:00 h a: x", 0, "2027-01-01T03:30:00Z", -18000, 5, 1,
         "2027-01-01T03:00:00Z", "h", "a", "x", NULL, ""},
        /* Before 1970 and far ahead: arithmetic, not the C library. */
        {"<13>Dec 31 23:00:00 h a: x", 0, "1969-12-31T23:30:00Z", 0, 5, 1, "1969-12-31T23:00:00Z",
         "h", "a", "x", NULL, ""},
        {"<13>Jan  1 00:00:00 h a: x", 0, "9999-06-01T00:00:00Z", 0, 5, 1, "9999-01-01T00:00:00Z",
         "h", "a", "x", NULL, ""},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void title_is_cut_at_a_character(void **state)
{
    (void)state;
    char in[512], want[512];
    buf scratch;
    buf_init(&scratch, 0);
    event ev;
    /* "<13>" + 'a' + 100 x "é": the 200th byte is inside the last é. */
    size_t n = (size_t)snprintf(in, sizeof in, "<13>a");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(in + n, sizeof in - n, "\xc3\xa9");
    assert_int_equal(syslog_parse(in, n, 0, 0, &scratch, &ev, NULL, 0), 0);
    assert_int_equal(strlen(ev.text), 201);
    assert_int_equal(strlen(ev.title), 199);
    assert_memory_equal(ev.title, ev.text, 199);
    /* 300 ASCII bytes: cut at 200 exactly. */
    memset(in, 'x', 300);
    assert_int_equal(syslog_parse(in, 300, 0, 0, &scratch, &ev, NULL, 0), 0);
    assert_int_equal(strlen(ev.title), 200);
    /* NULs count as the three bytes of U+FFFD they become. */
    memset(in, '\0', 100);
    in[0] = 'y';
    memset(in + 100, 'z', 100);
    assert_int_equal(syslog_parse(in, 200, 0, 0, &scratch, &ev, NULL, 0), 0);
    n = 1;
    memcpy(want, "y", 1);
    while (n + 3 <= SYSLOG_TITLE_MAX) {
        memcpy(want + n, "\xef\xbf\xbd", 3);
        n += 3;
    }
    want[n] = '\0';
    assert_string_equal(ev.title, want);
    buf_free(&scratch);
}

static void not_syslog_at_all(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *why;
    } cases[] = {
        {"", 0, "empty"},
        {"\r\n", 2, "empty"},
        {"\0\0\0", 3, "empty"},
        {"\xEF\xBB\xBF\n", 4, "empty"},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, "TLS"},
    };
    buf scratch;
    buf_init(&scratch, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        event ev;
        memset(&ev, 0x5a, sizeof ev);
        event sentinel = ev;
        char err[128] = "";
        int rc = syslog_parse(cases[i].in, cases[i].len, 0, 0, &scratch, &ev, err, sizeof err);
        if (rc != -EINVAL)
            fail_msg("case %zu: rc %d, want -EINVAL", i, rc);
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, err, cases[i].why);
        if (memcmp(&ev, &sentinel, sizeof ev))
            fail_msg("case %zu: record written on failure", i);
    }
    /* err may be NULL. */
    event ev;
    assert_int_equal(syslog_parse("", 0, 0, 0, &scratch, &ev, NULL, 0), -EINVAL);
    buf_free(&scratch);
}

/* A scratch buffer too small, or no memory: an error and the record untouched; the same
 * scratch works again after. Within SYSLOG_SCRATCH_NEED it never fails. */
static void scratch_limits(void **state)
{
    (void)state;
    static const char in[] = "<13>1 2026-01-02T03:04:05Z host app 12 ID [a b=\"\x01\x01\x01\"] "
                             "text text text";
    buf small;
    buf_init(&small, 16);
    event ev, sentinel;
    memset(&ev, 0x5a, sizeof ev);
    sentinel = ev;
    char err[64] = "";
    assert_int_equal(syslog_parse(in, sizeof in - 1, 0, 0, &small, &ev, err, sizeof err), -E2BIG);
    assert_memory_equal(&ev, &sentinel, sizeof ev);
    assert_non_null(strstr(err, "scratch"));
    buf_free(&small);

    for (long n = 0; n < 4; n++) {
        buf b;
        buf_init(&b, 0);
        mem_fail_after(n);
        int rc = syslog_parse(in, sizeof in - 1, 0, 0, &b, &ev, err, sizeof err);
        mem_fail_after(-1);
        if (rc == 0) {
            assert_string_equal(ev.text, "text text text");
            buf_free(&b);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_memory_equal(&ev, &sentinel, sizeof ev);
        assert_int_equal(syslog_parse(in, sizeof in - 1, 0, 0, &b, &ev, err, sizeof err), 0);
        memset(&ev, 0x5a, sizeof ev);
        buf_free(&b);
    }

    /* The documented need holds for the worst cases: all NULs, all control bytes in SD. */
    char worst[600];
    size_t n = (size_t)snprintf(worst, sizeof worst, "<13>1 - h a - - [a b=\"");
    memset(worst + n, 0x01, 500);
    n += 500;
    memcpy(worst + n, "\"]", 2);
    n += 2;
    buf b;
    buf_init(&b, SYSLOG_SCRATCH_NEED(n));
    assert_int_equal(syslog_parse(worst, n, 0, 0, &b, &ev, NULL, 0), 0);
    memset(worst, 0, sizeof worst);
    worst[0] = 'x';
    worst[sizeof worst - 2] = 'y';
    buf_free(&b);
    buf_init(&b, SYSLOG_SCRATCH_NEED(sizeof worst));
    assert_int_equal(syslog_parse(worst, sizeof worst - 1, 0, 0, &b, &ev, NULL, 0), 0);
    buf_free(&b);
}

/* Hostile input: long runs, deep brackets, many parameters; nothing crashes, everything is
 * kept, and once scratch has grown no parse allocates. */
static void hostile_input(void **state)
{
    (void)state;
    size_t cap = 70000;
    char *in = mem_alloc(cap);
    assert_non_null(in);
    buf scratch;
    buf_init(&scratch, 0);
    event ev;

    /* 300 parameters: over SYSLOG_SD_MAX_PARAMS, an sd_error and the text kept. */
    size_t n = (size_t)snprintf(in, cap, "<13>1 - h a - - [x");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(in + n, cap - n, " p%d=\"%d\"", i, i);
    n += (size_t)snprintf(in + n, cap - n, "] tail");
    assert_int_equal(syslog_parse(in, n, 0, 0, &scratch, &ev, NULL, 0), 0);
    check_invariants("300 params", &ev);
    assert_non_null(strstr(ev.fields, "too many SD parameters"));
    assert_non_null(strstr(ev.text, "] tail"));

    /* 200 parameters all named the same: one array of 200. */
    n = (size_t)snprintf(in, cap, "<13>1 - h a - - [x");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(in + n, cap - n, " p=\"%d\"", i);
    n += (size_t)snprintf(in + n, cap - n, "]");
    assert_int_equal(syslog_parse(in, n, 0, 0, &scratch, &ev, NULL, 0), 0);
    check_invariants("200 same", &ev);
    json_t *j = json_loads(ev.fields, 0, NULL);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(json_object_get(j, "sd"), "x"), "p")), 200);
    json_decref(j);

    /* 65 elements: over SYSLOG_SD_MAX_ELEMENTS. */
    n = (size_t)snprintf(in, cap, "<13>1 - h a - - ");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(in + n, cap - n, "[e%d]", i);
    assert_int_equal(syslog_parse(in, n, 0, 0, &scratch, &ev, NULL, 0), 0);
    assert_non_null(strstr(ev.fields, "too many SD elements"));

    /* 64 KiB of '[', of '<', of digits, of spaces, of 0xff. */
    const char fills[] = {'[', '<', '9', ' ', '\xff', '"', '\\', ':'};
    for (size_t f = 0; f < sizeof fills; f++) {
        memcpy(in, "<13>1 - h a - - ", 16);
        memset(in + 16, fills[f], 65536);
        assert_int_equal(syslog_parse(in, 65536 + 16, 0, 0, &scratch, &ev, NULL, 0), 0);
        check_invariants("fill", &ev);
        memset(in, fills[f], 65536);
        int rc = syslog_parse(in, 65536, 0, 0, &scratch, &ev, NULL, 0);
        assert_true(rc == 0 || (rc == -EINVAL && fills[f] == '\0'));
    }

    /* Once scratch has grown, parsing allocates nothing. */
    static const char *const typical[] = {
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
        "<165>1 2003-10-11T22:14:15.003Z m evntslog - ID47 [exampleSDID@32473 iut=\"3\"] x",
        "<13>Dec  8 01:02:03 myhost sshd[1234]: Accepted publickey for root",
        "<189>123: *Mar  1 18:46:11.873: %SYS-5-CONFIG_I: Configured from console by vty0",
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(syslog_parse(typical[i], strlen(typical[i]), 0, 0, &scratch, &ev, NULL, 0),
                         0);
    unsigned long before = mem_allocations();
    for (int r = 0; r < 1000; r++)
        for (size_t i = 0; i < 4; i++)
            syslog_parse(typical[i], strlen(typical[i]), 0, 0, &scratch, &ev, NULL, 0);
    assert_int_equal(mem_allocations(), before);
    buf_free(&scratch);
    mem_free(in);
}

/* ---- framer ---------------------------------------------------------------------------- */

/* Collects messages as "<len>:<bytes>|" to compare deliveries. */
typedef struct sink {
    buf out;
    int count;
    int stop_at; /* return -ECANCELED at this message (1-based), 0: never */
} sink;

static int collect(void *ctx, const char *msg, size_t len)
{
    sink *s = ctx;
    if (len == 0)
        fail_msg("empty message delivered");
    s->count++;
    buf_printf(&s->out, "%zu:", len);
    buf_append(&s->out, msg, len);
    buf_putc(&s->out, '|');
    if (s->stop_at && s->count == s->stop_at)
        return -ECANCELED;
    return 0;
}

static int count_only(void *ctx, const char *msg, size_t len)
{
    (void)msg;
    *(size_t *)ctx += len;
    return 0;
}

/* Feeds in pieces cut at the given points, then finishes; returns the first non-zero rc. */
static int feed_split(const char *in, size_t len, const size_t *cuts, size_t ncuts, size_t max_msg,
                      sink *s, uint64_t *truncated)
{
    syslog_framer f;
    syslog_framer_init(&f, max_msg);
    char err[128] = "";
    size_t at = 0;
    int rc = 0;
    for (size_t k = 0; k <= ncuts && !rc; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        rc = syslog_framer_feed(&f, in + at, to - at, collect, s, err, sizeof err);
        if (rc == -EPROTO && !err[0])
            fail_msg("-EPROTO without a reason");
        at = to;
    }
    if (!rc)
        rc = syslog_framer_finish(&f, collect, s);
    if (truncated)
        *truncated = f.truncated;
    syslog_framer_free(&f);
    return rc;
}

static int same(const buf *b, const char *want, size_t wantlen)
{
    return b->len == wantlen && (!wantlen || !memcmp(b->data, want, wantlen));
}

/* Feeds whole, at every single cut, at every pair of cuts (short inputs), and byte by byte;
 * every way must deliver exactly want (and return want_rc). */
static void check_stream_(const char *in, size_t len, size_t max_msg, const char *want,
                          size_t wantlen, int want_rc)
{
    sink s;
    buf_init(&s.out, 0);
    s.stop_at = 0;
    s.count = 0;
    int rc = feed_split(in, len, NULL, 0, max_msg, &s, NULL);
    if (rc != want_rc || !same(&s.out, want, wantlen))
        fail_msg("whole: rc %d (want %d), got \"%s\", want \"%s\"", rc, want_rc,
                 s.out.data ? s.out.data : "", want);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            if (len > 200 && b != a)
                break;
            size_t cuts[2] = {a, b};
            buf_reset(&s.out);
            s.count = 0;
            rc = feed_split(in, len, cuts, a == b ? 1 : 2, max_msg, &s, NULL);
            if (rc != want_rc || !same(&s.out, want, wantlen))
                fail_msg("cut at %zu,%zu: rc %d, got \"%s\", want \"%s\"", a, b, rc,
                         s.out.data ? s.out.data : "", want);
        }
    }
    size_t *cuts = mem_alloc((len + 1) * sizeof *cuts);
    for (size_t k = 0; k < len; k++)
        cuts[k] = k + 1;
    buf_reset(&s.out);
    s.count = 0;
    rc = feed_split(in, len, cuts, len, max_msg, &s, NULL);
    if (rc != want_rc || !same(&s.out, want, wantlen))
        fail_msg("byte by byte: rc %d, got \"%s\"", rc, s.out.data ? s.out.data : "");
    mem_free(cuts);
    buf_free(&s.out);
}

#define S(lit) lit, sizeof lit - 1
/* check_stream(input literal, max_msg, expected literal, rc) */
#define check_stream(in, max, want, rc) check_stream_(S(in), max, S(want), rc)

static void framer_octet_counting(void **state)
{
    (void)state;
    check_stream("17 <13>1 - - - - - -5 <13>x", 0, "17:<13>1 - - - - - -|5:<13>x|", 0);
    /* A newline after a counted message (counted or not) and empty lines are skipped. */
    check_stream("6 <13>x\n\n6 <13>y\n", 0, "6:<13>x\n|6:<13>y\n|", 0);
    check_stream("5 <13>x\r\n5 <13>y", 0, "5:<13>x|5:<13>y|", 0);
    /* Counted messages may hold LF and NUL. */
    check_stream("9 <13>a\nb\0c", 0, "9:<13>a\nb\0c|", 0);
    /* The count of a message that ends the stream early: dropped, -EPROTO at finish. */
    check_stream("5 <13>x10 <13>", 0, "5:<13>x|", -EPROTO);
}

static void framer_lf_framing(void **state)
{
    (void)state;
    check_stream("<13>a\n<13>b\r\n<13>c\0<13>d", 0, "5:<13>a|5:<13>b|5:<13>c|5:<13>d|", 0);
    /* Digits that are no count: a message without PRI, read as LF-framed. */
    check_stream("2026-10-11T22:14:15Z h a: x\n123: y\n42\n", 0,
                 "27:2026-10-11T22:14:15Z h a: x|6:123: y|2:42|", 0);
    /* Both framings in one stream, chosen per message. */
    check_stream("<13>lf\n7 <13>oct<13>lf2\n", 0, "6:<13>lf|7:<13>oct|7:<13>lf2|", 0);
    /* Only terminators: nothing. */
    check_stream("\n\r\n\0\n", 0, "", 0);
    /* A CR alone inside a line is text; trailing CRs go. */
    check_stream("a\rb\r\r\n", 0, "3:a\rb|", 0);
}

static void framer_broken_counts(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
        const char *why;
    } cases[] = {
        {"0 <13>x", "", "zero"},
        {"012 <13>x", "", "leading zero"},
        {"5 <13>x481 ", "5:<13>x|", "above"},
        {"99999999999 x", "", "above"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_stream_(cases[i].in, strlen(cases[i].in), 480, cases[i].want, strlen(cases[i].want),
                      -EPROTO);
        syslog_framer f;
        syslog_framer_init(&f, 480);
        char err[128] = "";
        assert_int_equal(syslog_framer_feed(&f, cases[i].in, strlen(cases[i].in), collect,
                                            &(sink){{0}, 0, 0}, err, sizeof err),
                         -EPROTO);
        if (!strstr(err, cases[i].why))
            fail_msg("%s: reason \"%s\"", cases[i].in, err);
        syslog_framer_free(&f);
    }
    /* A count of exactly the limit is fine. */
    char in[600];
    int n = snprintf(in, sizeof in, "480 ");
    memset(in + n, 'x', 480);
    sink s = {{0}, 0, 0};
    buf_init(&s.out, 0);
    assert_int_equal(feed_split(in, (size_t)n + 480, NULL, 0, 480, &s, NULL), 0);
    assert_int_equal(s.count, 1);
    buf_free(&s.out);
    /* Twelve digits or more cannot be a count: read as text. */
    check_stream("123456789012345 x\n", 0, "17:123456789012345 x|", 0);
}

static void framer_oversized(void **state)
{
    (void)state;
    /* max 480: a line of 1000 is cut at 480, the rest skipped, the next one intact. */
    char in[1200], want[1200];
    memset(in, 'a', 1000);
    memcpy(in + 1000, "\n<13>next\n", 10);
    int n = snprintf(want, sizeof want, "480:");
    memset(want + n, 'a', 480);
    snprintf(want + n + 480, sizeof want - (size_t)n - 480, "|8:<13>next|");
    check_stream_(in, 1010, 480, want, strlen(want), 0);
    sink s = {{0}, 0, 0};
    buf_init(&s.out, 0);
    uint64_t truncated = 0;
    assert_int_equal(feed_split(in, 1010, NULL, 0, 480, &s, &truncated), 0);
    assert_int_equal(truncated, 1);
    buf_free(&s.out);

    /* Exactly the limit, with CRLF: not truncated. */
    memset(in, 'b', 480);
    memcpy(in + 480, "\r\n", 2);
    buf_init(&s.out, 0);
    s.count = 0;
    assert_int_equal(feed_split(in, 482, NULL, 0, 480, &s, &truncated), 0);
    assert_int_equal(truncated, 0);
    assert_int_equal(s.count, 1);
    buf_free(&s.out);
    /* An unterminated oversized line at the end of the stream. */
    memset(in, 'c', 700);
    n = snprintf(want, sizeof want, "480:");
    memset(want + n, 'c', 480);
    snprintf(want + n + 480, sizeof want - (size_t)n - 480, "|");
    check_stream_(in, 700, 480, want, strlen(want), 0);
}

static void framer_callback_and_memory(void **state)
{
    (void)state;
    /* A callback's error stops the feed and comes back. */
    sink s = {{0}, 0, 2};
    buf_init(&s.out, 0);
    syslog_framer f;
    syslog_framer_init(&f, 0);
    assert_int_equal(f.max_msg, SYSLOG_MAX_MSG_DEFAULT);
    assert_int_equal(syslog_framer_feed(&f, S("<13>a\n<13>b\n<13>c\n"), collect, &s, NULL, 0),
                     -ECANCELED);
    assert_int_equal(s.count, 2);
    s.stop_at = 1;
    s.count = 0;
    syslog_framer_free(&f);
    syslog_framer_init(&f, 0);
    assert_int_equal(syslog_framer_feed(&f, S("<13>unterminated"), collect, &s, NULL, 0), 0);
    assert_int_equal(syslog_framer_finish(&f, collect, &s), -ECANCELED);
    syslog_framer_free(&f);
    syslog_framer_free(NULL);

    /* No memory for a partial message: -ENOMEM. */
    syslog_framer_init(&f, 0);
    mem_fail_after(0);
    int rc = syslog_framer_feed(&f, S("<13>partial"), collect, &s, NULL, 0);
    mem_fail_after(-1);
    assert_int_equal(rc, -ENOMEM);
    syslog_framer_free(&f);

    /* Complete messages cost no allocation; partial ones none once the buffer has grown. */
    syslog_framer_init(&f, 0);
    size_t bytes = 0;
    unsigned long before = mem_allocations();
    for (int i = 0; i < 100; i++)
        assert_int_equal(syslog_framer_feed(&f, S("<13>a\n6 <13>bc"), count_only, &bytes, NULL, 0),
                         0);
    assert_int_equal(mem_allocations(), before);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(syslog_framer_feed(&f, S("<13>x"), count_only, &bytes, NULL, 0), 0);
        if (i == 0)
            before = mem_allocations();
        assert_int_equal(syslog_framer_feed(&f, S("y\n20 <13>"), count_only, &bytes, NULL, 0), 0);
        assert_int_equal(syslog_framer_feed(&f, S("0123456789abcdef"), count_only, &bytes, NULL, 0),
                         0);
    }
    assert_int_equal(mem_allocations(), before);
    assert_int_equal(syslog_framer_finish(&f, count_only, &bytes), 0);
    assert_int_equal(f.messages, 400);
    assert_int_equal(f.octet, 200);
    syslog_framer_free(&f);
    buf_free(&s.out);
}

/* ---- figures (DD_BENCH=1) -------------------------------------------------------------- */

/* CPU time of this thread: the rate per core, whatever else the machine runs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(void **state)
{
    (void)state;
    if (!getenv("DD_BENCH"))
        skip();
    static const char *const msgs[] = {
        /* ~100-byte messages of the usual shapes. */
        "<13>1 2026-12-08T01:02:03.123456+00:00 web-01 nginx 1234 - - GET /api/v1/items 200 "
        "0.004s 512 bytes",
        "<30>Dec  8 01:02:03 web-01 sshd[1234]: Accepted publickey for deploy from 10.0.0.5 "
        "port 51514 ssh2",
        "<13>1 2026-12-08T01:02:03.123456+00:00 host user - - [timeQuality tzKnown=\"1\" "
        "isSynced=\"1\" syncAccuracy=\"339500\"] msg",
        "<86>2026-12-08T01:02:03.123456+01:00 db-02 postgres[877]: checkpoint complete: wrote "
        "13 buffers",
    };
    buf scratch;
    buf_init(&scratch, 0);
    event ev;
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(msgs[i]);
    const char *names[] = {"5424 no SD", "3164", "5424 logger SD", "3164 ISO", "mixed"};
    int64_t now = T(NOW);
    for (int i = 0; i < 5; i++) {
        long n = 2000000;
        double t0 = cpu_s();
        for (long k = 0; k < n; k++) {
            int m = i < 4 ? i : (int)(k & 3);
            syslog_parse(msgs[m], lens[m], now, 0, &scratch, &ev, NULL, 0);
        }
        double dt = cpu_s() - t0;
        printf("parse %-16s %5.2f M msgs/s (%.0f ns/msg, %zu bytes)\n", names[i],
               (double)n / dt / 1e6, dt / (double)n * 1e9, i < 4 ? lens[i] : 0);
    }
    /* The framer over a 64 KiB buffer of LF-framed and octet-counted messages. */
    buf stream;
    buf_init(&stream, 0);
    size_t nmsg = 0;
    while (stream.len < 60000) {
        int k = (int)(nmsg & 3);
        if (nmsg & 1)
            buf_printf(&stream, "%zu %s", lens[k], msgs[k]);
        else
            buf_printf(&stream, "%s\n", msgs[k]);
        nmsg++;
    }
    syslog_framer f;
    syslog_framer_init(&f, 0);
    size_t bytes = 0;
    long rounds = 2000;
    double t0 = cpu_s();
    for (long r = 0; r < rounds; r++)
        syslog_framer_feed(&f, stream.data, stream.len, count_only, &bytes, NULL, 0);
    double dt = cpu_s() - t0;
    printf("framer %5.1f M msgs/s, %.0f MB/s\n", (double)nmsg * (double)rounds / dt / 1e6,
           (double)stream.len * (double)rounds / dt / 1e6);
    syslog_framer_free(&f);
    buf_free(&stream);
    buf_free(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc5424_examples),
        cmocka_unit_test(structured_data),
        cmocka_unit_test(rfc3164_and_deviations),
        cmocka_unit_test(year_selection),
        cmocka_unit_test(title_is_cut_at_a_character),
        cmocka_unit_test(not_syslog_at_all),
        cmocka_unit_test(scratch_limits),
        cmocka_unit_test(hostile_input),
        cmocka_unit_test(framer_octet_counting),
        cmocka_unit_test(framer_lf_framing),
        cmocka_unit_test(framer_broken_counts),
        cmocka_unit_test(framer_oversized),
        cmocka_unit_test(framer_callback_and_memory),
        cmocka_unit_test(bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
