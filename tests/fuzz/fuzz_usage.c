/* libFuzzer target: the usage-event parsers (wire/usage.h). The first byte chooses the parser
 * (even: line format, odd: JSON), the rest is the body. Every event handed out must obey the
 * documented rules (field classes and lengths, count and time_took up to 2^53, time 0 or
 * 1..year 9999), every rejection must carry a 1-based line within the body and a one-line
 * reason, the report's counts must add up, and the events must survive a round trip: written
 * in the line format and parsed again they are exactly the same events, with nothing rejected.
 * A JSON body jansson cannot read must come back as -EINVAL with one reason at line 0. */
#include "lib/buf.h"
#include "wire/usage.h"

#include <errno.h>
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

static int in_class(const char *s, int cls, size_t max, int may_be_empty)
{
    size_t n = strlen(s);
    if (n > max || (!n && !may_be_empty))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.' || c == '-';
        int ok = cls == 0   ? word
                 : cls == 1 ? word || c == '@' || c == '/'
                            : c >= 0x20 && c <= 0x7e && c != ',' && c != ']' && c != '=';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Checks an event and writes it as one line of the line format. */
static int on_event(void *ctx, const usage_event *ev)
{
    buf *o = ctx;
    CHECK(in_class(ev->customer, 1, USAGE_ID_MAX, 0));
    CHECK(in_class(ev->type, 0, USAGE_ID_MAX, 0));
    CHECK(in_class(ev->state, 2, USAGE_VALUE_MAX, 1));
    CHECK(in_class(ev->label, 2, USAGE_VALUE_MAX, 1));
    CHECK(in_class(ev->change_type, 2, USAGE_VALUE_MAX, 1));
    CHECK(in_class(ev->event_id, 2, USAGE_VALUE_MAX, 1));
    CHECK(ev->count <= USAGE_COUNT_MAX);
    CHECK(ev->took_ms == -1 || (ev->took_ms >= 0 && (uint64_t)ev->took_ms <= USAGE_COUNT_MAX));
    CHECK(ev->t_ms == 0 || (ev->t_ms >= 1 && ev->t_ms <= USAGE_TIME_MAX_MS));
    buf_printf(o, "%s:%s:%llu[", ev->customer, ev->type, (unsigned long long)ev->count);
    const char *sep = "";
    if (ev->took_ms >= 0) {
        buf_printf(o, "t=%lld", (long long)ev->took_ms);
        sep = ",";
    }
    if (ev->t_ms) {
        buf_printf(o, "%sts=%lld", sep, (long long)ev->t_ms);
        sep = ",";
    }
    const char *names[4] = {"s", "l", "ct", "id"};
    const char *vals[4] = {ev->state, ev->label, ev->change_type, ev->event_id};
    for (int i = 0; i < 4; i++)
        if (vals[i][0]) {
            buf_printf(o, "%s%s=%s", sep, names[i], vals[i]);
            sep = ",";
        }
    buf_puts(o, "]\n");
    return 0;
}

static void check_report(const usage_report *rep, size_t nlines)
{
    CHECK(rep->nerrors == (rep->rejected < USAGE_MAX_ERRORS ? rep->rejected : USAGE_MAX_ERRORS));
    for (size_t i = 0; i < rep->nerrors; i++) {
        CHECK(rep->errors[i].line >= 1 && rep->errors[i].line <= nlines);
        CHECK(i == 0 || rep->errors[i].line > rep->errors[i - 1].line);
        const char *r = rep->errors[i].reason;
        CHECK(r[0] && strlen(r) < sizeof rep->errors[i].reason && !strchr(r, '\n'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    int is_json = data[0] & 1;
    buf once, twice;
    usage_report rep, rep2;
    buf_init(&once, 0);
    buf_init(&twice, 0);
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++)
        nlines += body[i] == '\n';
    int rc;
    if (is_json) {
        rc = usage_parse_json(body, len, on_event, &once, &rep);
        CHECK(rc == 0 || rc == -EINVAL);
        if (rc == -EINVAL) {
            CHECK(rep.accepted == 0 && rep.nerrors == 1 && rep.errors[0].line == 0);
            CHECK(!strncmp(rep.errors[0].reason, "not JSON: ", 10));
            CHECK(once.len == 0);
            goto out;
        }
        /* an array holds at most one element per byte */
        nlines = len + 1;
    } else {
        rc = usage_parse_lines(body, len, on_event, &once, &rep);
        CHECK(rc == 0);
        CHECK(rep.accepted + rep.rejected <= nlines);
    }
    check_report(&rep, nlines);
    CHECK(!once.err);
    rc = usage_parse_lines(once.data ? once.data : "", once.len, on_event, &twice, &rep2);
    CHECK(rc == 0);
    if (rep2.rejected)
        fprintf(stderr, "round trip: line %zu: %s\n%s", rep2.errors[0].line, rep2.errors[0].reason,
                once.data);
    CHECK(rep2.rejected == 0 && rep2.accepted == rep.accepted);
    CHECK(once.len == twice.len && (!once.len || !memcmp(once.data, twice.data, once.len)));
out:
    buf_free(&once);
    buf_free(&twice);
    return 0;
}
