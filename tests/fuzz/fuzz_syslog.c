/* libFuzzer target: the syslog wire format (wire/syslog.h). The first byte seeds the chunk
 * sizes and picks the framer's limit, the second the sensor's time zone; the rest is both one
 * message for syslog_parse and a TCP stream for the framer.
 *
 * Checked: a parse succeeds or says why not (never another error within the documented
 * scratch need), and its record is sound (severity, facility, a one-line title of at most
 * SYSLOG_TITLE_MAX bytes, fields empty or a valid JSON object, a time within years 0-9999);
 * parsing is deterministic; the framer delivers exactly the same messages (non-empty, within
 * the limit) and the same result whether the stream comes whole or in random-sized chunks,
 * and every message it delivers parses soundly too. */
#include "lib/buf.h"
#include "wire/syslog.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #x, __FILE__, __LINE__);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW_MS 1781524800000LL                      /* 2026-06-15T12:00:00Z */
#define MIN_MS (-62167219200000LL - 86400000LL * 2) /* 0000-01-01, with zones and a day */
#define MAX_MS (253402300800000LL + 86400000LL * 2) /* 10000-01-01, likewise */

static void check_record(const event *ev, size_t len)
{
    CHECK(!strcmp(ev->kind, EVENT_KIND_SYSLOG));
    CHECK(ev->severity >= 0 && ev->severity <= 7);
    CHECK(ev->facility >= 0 && ev->facility <= 23);
    CHECK(ev->host && ev->app && ev->text && ev->title && ev->fields && ev->source);
    CHECK(!ev->source[0] && !ev->fingerprint[0] && !ev->recv_ms);
    CHECK(strlen(ev->title) <= SYSLOG_TITLE_MAX);
    CHECK(!strchr(ev->title, '\n'));
    CHECK(strlen(ev->text) <= 3 * len);
    CHECK(strlen(ev->host) <= 3 * len && strlen(ev->app) <= 3 * len);
    CHECK(ev->t_ms >= MIN_MS && ev->t_ms <= MAX_MS);
    if (ev->fields[0]) {
        json_error_t je;
        json_t *j = json_loads(ev->fields, 0, &je);
        if (!j)
            fprintf(stderr, "fields: %s\n%s\n", je.text, ev->fields);
        CHECK(j && json_is_object(j));
        json_decref(j);
    }
}

static void parse_checked(const char *data, size_t len, int tz)
{
    buf a, b;
    buf_init(&a, SYSLOG_SCRATCH_NEED(len));
    buf_init(&b, SYSLOG_SCRATCH_NEED(len));
    event e1, e2;
    char err[128] = "";
    int rc = syslog_parse(data, len, NOW_MS, tz, &a, &e1, err, sizeof err);
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == -EINVAL) {
        CHECK(err[0] && !strchr(err, '\n'));
    } else {
        check_record(&e1, len);
        CHECK(syslog_parse(data, len, NOW_MS, tz, &b, &e2, NULL, 0) == 0);
        CHECK(e1.t_ms == e2.t_ms && e1.severity == e2.severity && e1.facility == e2.facility);
        CHECK(!strcmp(e1.host, e2.host) && !strcmp(e1.app, e2.app));
        CHECK(!strcmp(e1.text, e2.text) && !strcmp(e1.title, e2.title));
        CHECK(!strcmp(e1.fields, e2.fields));
    }
    buf_free(&a);
    buf_free(&b);
}

typedef struct sink {
    buf out;
    size_t max_msg;
    int tz;
    int parse;
} sink;

static int collect(void *ctx, const char *msg, size_t len)
{
    sink *s = ctx;
    CHECK(len > 0 && len <= s->max_msg);
    buf_printf(&s->out, "%zu:", len);
    buf_append(&s->out, msg, len);
    if (s->parse)
        parse_checked(msg, len, s->tz);
    return 0;
}

/* Runs the framer over data, whole (seed 0) or in chunks of 1 to 64 bytes from a small PRNG,
 * then finish; returns the first non-zero result. */
static int frame(const char *data, size_t size, unsigned seed, sink *s)
{
    syslog_framer f;
    syslog_framer_init(&f, s->max_msg);
    char err[128];
    int rc = 0;
    size_t at = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (at < size && !rc) {
        size_t n = size - at;
        if (seed) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            size_t c = 1 + (x & 63);
            n = c < n ? c : n;
        }
        err[0] = '\0';
        rc = syslog_framer_feed(&f, data + at, n, collect, s, err, sizeof err);
        CHECK(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
        if (rc == -EPROTO)
            CHECK(err[0] && !strchr(err, '\n'));
        at += n;
    }
    if (!rc)
        rc = syslog_framer_finish(&f, collect, s);
    CHECK(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
    syslog_framer_free(&f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned seed = data[0];
    int tz = (int8_t)data[1] * 900; /* -32 h .. +31.75 h in quarter hours: beyond real zones */
    const char *in = (const char *)data + 2;
    size -= 2;

    parse_checked(in, size, tz);

    sink whole = {.max_msg = seed & 1 ? SYSLOG_MAX_MSG_MIN : 4096, .tz = tz, .parse = 1};
    sink chunked = whole;
    chunked.parse = 0;
    buf_init(&whole.out, 0);
    buf_init(&chunked.out, 0);
    int rc1 = frame(in, size, 0, &whole);
    int rc2 = frame(in, size, seed | 1, &chunked);
    if (rc1 != -ENOMEM && rc2 != -ENOMEM) {
        CHECK(rc1 == rc2);
        CHECK(whole.out.len == chunked.out.len);
        CHECK(!whole.out.len || !memcmp(whole.out.data, chunked.out.data, whole.out.len));
    }
    buf_free(&whole.out);
    buf_free(&chunked.out);
    return 0;
}
