/* libFuzzer target: the webhook payload parser (wire/hooks.h). The first byte chooses the
 * content type (JSON, form, none, text/plain; every syntax is reachable under each), the second
 * the format (auto, alertmanager, icinga2, nagios, generic), the rest is the body. Checks: the
 * return code is one of the documented ones; an error leaves no events and gives one line of
 * valid UTF-8 as reason (and path); every event keeps the record contract of lib/event.h
 * (no NULL strings, severities and statuses in range, a known kind, alert identity where
 * promised, times in range) and its fields are "" or a JSON object of valid UTF-8 within
 * EVENT_FIELDS_MAX; and a second parse of the same body gives exactly the same events. */
#include "lib/event.h"
#include "wire/hooks.h"

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

#define NOW 1700000000123LL

static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, k = c < 0x80         ? 1
                             : (c >> 5) == 6  ? 2
                             : (c >> 4) == 14 ? 3
                             : (c >> 3) == 30 ? 4
                                              : 0;
        if (!k)
            return 0;
        for (unsigned i = 1; i < k; i++)
            if ((s[i] & 0xc0) != 0x80)
                return 0;
        s += k;
    }
    return 1;
}

static int one_line(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n < cap && !memchr(s, '\n', n) && valid_utf8((const unsigned char *)s);
}

static void check_event(const event *e, hooks_format f)
{
    const char *s[] = {e->kind, e->host,   e->app,    e->title,
                       e->text, e->fields, e->source, e->fingerprint};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        CHECK(s[i] != NULL);
    CHECK(e->severity >= 0 && e->severity < EVENT_SEVERITY_N);
    CHECK(e->status >= EVENT_STATUS_NONE && e->status <= EVENT_STATUS_RESOLVED);
    CHECK(e->facility == -1 && e->sensor_id == 0 && e->device_id == 0 && e->recv_ms == 0);
    CHECK(!strcmp(e->source, ""));
    CHECK(e->t_ms >= 0 && e->t_ms <= 253402300799999LL);
    CHECK(e->title[0]);
    switch (f) {
    case HOOKS_ALERTMANAGER:
        CHECK(!strcmp(e->kind, EVENT_KIND_ALERT));
        CHECK(e->status != EVENT_STATUS_NONE && e->fingerprint[0]);
        break;
    case HOOKS_NAGIOS:
    case HOOKS_ICINGA2:
        CHECK(!strcmp(e->kind, EVENT_KIND_NOTIFICATION));
        /* Whatever fires or resolves can be matched to what it resolves. */
        CHECK(e->status == EVENT_STATUS_NONE || e->fingerprint[0]);
        CHECK(!e->fingerprint[0] || e->host[0]);
        break;
    case HOOKS_GENERIC:
        CHECK(!strcmp(e->kind, EVENT_KIND_GENERIC) || !strcmp(e->kind, EVENT_KIND_CHANGE));
        CHECK(e->status == EVENT_STATUS_NONE && !e->fingerprint[0]);
        break;
    default:
        CHECK(0);
    }
    size_t flen = strlen(e->fields);
    if (flen) {
        CHECK(flen <= EVENT_FIELDS_MAX);
        CHECK(valid_utf8((const unsigned char *)e->fields));
        json_error_t je;
        json_t *j = json_loadb(e->fields, flen, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            fprintf(stderr, "fields: %s\n%s\n", je.text, e->fields);
        CHECK(j && json_is_object(j) && json_object_size(j) > 0);
        json_decref(j);
    }
}

static void same_event(const event *a, const event *b)
{
    CHECK(a->t_ms == b->t_ms && a->severity == b->severity && a->status == b->status);
    CHECK(!strcmp(a->kind, b->kind) && !strcmp(a->host, b->host) && !strcmp(a->app, b->app));
    CHECK(!strcmp(a->title, b->title) && !strcmp(a->text, b->text));
    CHECK(!strcmp(a->fields, b->fields) && !strcmp(a->fingerprint, b->fingerprint));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cts[4] = {"application/json", "application/x-www-form-urlencoded",
                                       NULL, "text/plain; charset=utf-8"};
    if (size < 2)
        return 0;
    const char *ct = cts[data[0] & 3];
    hooks_format fmt = (hooks_format)(data[1] % HOOKS_FORMAT_N);
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    hooks_result r, again;
    int rc = hooks_parse(ct, body, len, NOW, fmt, &r);
    CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTO || rc == -E2BIG || rc == -ENOMEM);
    CHECK(one_line(r.path, sizeof r.path) && one_line(r.err, sizeof r.err));
    CHECK(fmt == HOOKS_AUTO || r.format == fmt || rc == -EINVAL);
    if (rc) {
        CHECK(r.n == 0 && r.ev == NULL && r.err[0]);
    } else {
        CHECK(!r.path[0] && !r.err[0]);
        CHECK(r.n <= HOOKS_MAX_EVENTS && (r.n == 0) == (r.ev == NULL));
        CHECK(r.format != HOOKS_AUTO);
        for (size_t i = 0; i < r.n; i++)
            check_event(&r.ev[i], r.format);
    }
    int rc2 = hooks_parse(ct, body, len, NOW, fmt, &again);
    CHECK(rc2 == rc && again.n == r.n && again.format == r.format);
    CHECK(!strcmp(again.path, r.path) && !strcmp(again.err, r.err));
    for (size_t i = 0; i < r.n; i++)
        same_event(&r.ev[i], &again.ev[i]);
    hooks_result_free(&r);
    hooks_result_free(&again);
    CHECK(r.ev == NULL && r.n == 0);
    return 0;
}
