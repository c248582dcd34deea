/* libFuzzer target: the exposition-format parser (wire/expfmt.h). The first byte chooses the
 * format (even: text 0.0.4, odd: OpenMetrics), the rest is the body. Every sample handed out
 * must be storable (valid metric and label names, no duplicate or reserved label, bounded
 * lengths, valid UTF-8 values, NUL-terminated), a failure must name a line and a reason, and
 * what was read must survive a round trip: written back in the text format and parsed again, it
 * gives exactly the same samples. */
#include "lib/buf.h"
#include "lib/labels.h"
#include "wire/expfmt.h"

#include <errno.h>
#include <math.h>
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

static void put_escaped(buf *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(o, "\\\\");
        else if (*s == '"')
            buf_puts(o, "\\\"");
        else if (*s == '\n')
            buf_puts(o, "\\n");
        else
            buf_putc(o, *s);
    }
}

/* Checks a sample and writes it in the text format. */
static int on_sample(void *ctx, const expfmt_sample *s)
{
    buf *o = ctx;
    CHECK(labels_valid_metric_name(s->name));
    CHECK(strlen(s->name) <= LABELS_MAX_NAME);
    CHECK(s->family && !strncmp(s->name, s->family, strlen(s->family)));
    CHECK(s->nlabels <= EXPFMT_MAX_LABELS);
    CHECK(s->labels[2 * s->nlabels] == NULL);
    CHECK(s->line >= 1);
    buf_puts(o, s->name);
    buf_putc(o, '{');
    for (size_t i = 0; i < s->nlabels; i++) {
        const char *n = s->labels[2 * i], *v = s->labels[2 * i + 1];
        CHECK(labels_valid_name(n));
        CHECK(strcmp(n, "__name__"));
        CHECK(strlen(n) <= LABELS_MAX_NAME);
        CHECK(strlen(v) <= LABELS_MAX_VALUE);
        CHECK(valid_utf8((const unsigned char *)v));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s->labels[2 * j], n));
        buf_printf(o, "%s%s=\"", i ? "," : "", n);
        put_escaped(o, v);
        buf_putc(o, '"');
    }
    buf_puts(o, "} ");
    if (isnan(s->v))
        buf_puts(o, "NaN");
    else if (isinf(s->v))
        buf_puts(o, s->v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(o, "%.17g", s->v);
    if (s->has_ts)
        buf_printf(o, " %lld", (long long)s->ts_ms);
    buf_putc(o, '\n');
    return 0;
}

static int on_meta(void *ctx, const expfmt_meta *m)
{
    (void)ctx;
    CHECK(labels_valid_metric_name(m->family));
    CHECK(m->line >= 1);
    CHECK((m->kind == EXPFMT_META_TYPE) == (m->text == NULL));
    if (m->text)
        CHECK(valid_utf8((const unsigned char *)m->text));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    expfmt_format fmt = data[0] & 1 ? EXPFMT_OPENMETRICS : EXPFMT_TEXT;
    buf once, twice;
    expfmt_error err;
    buf_init(&once, 0);
    buf_init(&twice, 0);
    int rc = expfmt_parse((const char *)data + 1, size - 1, fmt, on_sample, on_meta, &once, &err);
    CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == -EINVAL) {
        CHECK(err.line >= 1);
        CHECK(err.msg[0] && !strchr(err.msg, '\n'));
    }
    if (rc == 0) {
        CHECK(!once.err);
        int rc2 = expfmt_parse(once.data ? once.data : "", once.len, EXPFMT_TEXT, on_sample,
                               on_meta, &twice, &err);
        if (rc2)
            fprintf(stderr, "round trip: line %zu: %s\n%s", err.line, err.msg, once.data);
        CHECK(rc2 == 0);
        CHECK(once.len == twice.len && (!once.len || !memcmp(once.data, twice.data, once.len)));
    }
    buf_free(&once);
    buf_free(&twice);
    return 0;
}
