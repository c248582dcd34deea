/* test_probe_scrape: the exposition-format parser (wire/expfmt) — tables of valid text 0.0.4 and
 * OpenMetrics input of every kind (labels, escapes, numbers, timestamps, HELP/TYPE/UNIT,
 * histograms, summaries, exemplars, # EOF), a long table of hostile input each with its line and
 * reason, the size limits, every truncation and random mutations of valid documents, out of
 * memory at every allocation, and its speed — and the scrape probe on a libuv loop against an
 * in-process HTTP server: label collisions under both honor_labels values, the sample limit
 * (nothing kept), the metrics filter, parse errors with their line, OpenMetrics by Content-Type,
 * HTTP errors, settings, and cancellation at the timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/probe_int.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "wire/expfmt.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T EXPFMT_TEXT
#define OM EXPFMT_OPENMETRICS

/* ---- rendering what the parser reports -------------------------------------------------- */

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

static void put_value(buf *o, double v)
{
    if (isnan(v))
        buf_puts(o, "NaN");
    else if (isinf(v))
        buf_puts(o, v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(o, "%.17g", v);
}

static int render_sample(void *ctx, const expfmt_sample *s)
{
    buf *o = ctx;
    buf_puts(o, s->name);
    if (s->nlabels) {
        buf_putc(o, '{');
        for (size_t i = 0; i < s->nlabels; i++) {
            buf_printf(o, "%s%s=\"", i ? "," : "", s->labels[2 * i]);
            put_escaped(o, s->labels[2 * i + 1]);
            buf_putc(o, '"');
        }
        assert_null(s->labels[2 * s->nlabels]);
        buf_putc(o, '}');
    }
    buf_putc(o, ' ');
    put_value(o, s->v);
    if (s->has_ts)
        buf_printf(o, " @%lld", (long long)s->ts_ms);
    buf_printf(o, " [%s:%s]\n", s->family, expfmt_type_name(s->type, EXPFMT_OPENMETRICS));
    return 0;
}

static int render_meta(void *ctx, const expfmt_meta *m)
{
    buf *o = ctx;
    static const char *const kinds[] = {"TYPE", "HELP", "UNIT"};
    buf_printf(o, "# %s %s", kinds[m->kind], m->family);
    if (m->kind == EXPFMT_META_TYPE) {
        assert_null(m->text);
        buf_printf(o, " %s", expfmt_type_name(m->type, EXPFMT_OPENMETRICS));
    } else {
        buf_putc(o, ' ');
        put_escaped(o, m->text);
    }
    buf_putc(o, '\n');
    return 0;
}

/* Parses in (a C string) and returns the rendering (caller frees with buf_free). */
static int parse_render(expfmt_format f, const char *in, size_t len, buf *out, expfmt_error *err)
{
    buf_init(out, 0);
    return expfmt_parse(in, len, f, render_sample, render_meta, out, err);
}

/* ---- valid input --------------------------------------------------------------------------- */

typedef struct vcase {
    expfmt_format f;
    const char *in;
    const char *want;
} vcase;

static void run_valid(const vcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf out;
        expfmt_error err;
        int rc = parse_render(c[i].f, c[i].in, strlen(c[i].in), &out, &err);
        if (rc)
            fail_msg("case %zu %s: rc %d, line %zu: %s\ninput:\n%s", i,
                     c[i].f == OM ? "OM" : "text", rc, err.line, err.msg, c[i].in);
        if (strcmp(out.data ? out.data : "", c[i].want))
            fail_msg("case %zu: got\n%s\nwant\n%s\ninput:\n%s", i, out.data ? out.data : "",
                     c[i].want, c[i].in);
        buf_free(&out);
    }
}

static void text_valid_table(void **state)
{
    (void)state;
    static const vcase cases[] = {
        {T, "", ""},
        {T, "\n\n   \n\t\n", ""},
        {T, "a 1\n", "a 1 [a:unknown]\n"},
        {T, "a 1", "a 1 [a:unknown]\n"}, /* no newline at the end */
        {T, "# just a comment\n#\n#TYPEWRITER x\na 1\n", "a 1 [a:unknown]\n"},
        {T, "  a \t 1 \t 123 \t\n", "a 1 @123 [a:unknown]\n"},
        {T, "a{} 1\n", "a 1 [a:unknown]\n"},
        {T, "a { x = \"1\" , y=\"2\" , } 3\n", "a{x=\"1\",y=\"2\"} 3 [a:unknown]\n"},
        {T, "a{x=\"1\",} 3\n", "a{x=\"1\"} 3 [a:unknown]\n"},
        {T, "a{x=\"q\\\"b\\\\s\\nn\"} 1\n", "a{x=\"q\\\"b\\\\s\\nn\"} 1 [a:unknown]\n"},
        {T, "a{x=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1\n",
         "a{x=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1 [a:unknown]\n"},
        {T, "a{x=\"\"} 1\n", "a{x=\"\"} 1 [a:unknown]\n"},
        {T, "a{x=\"{}=,#\"} 1\n", "a{x=\"{}=,#\"} 1 [a:unknown]\n"},
        {T, "a{_x=\"1\",X9=\"2\",__meta=\"3\"} 1\n",
         "a{_x=\"1\",X9=\"2\",__meta=\"3\"} 1 [a:unknown]\n"},
        {T, "a:b:c 1\n_x 2\n:y 3\n",
         "a:b:c 1 [a:b:c:unknown]\n_x 2 [_x:unknown]\n:y 3 [:y:unknown]\n"},
        {T, "a{x=\"1\"}\t2\n", "a{x=\"1\"} 2 [a:unknown]\n"},
        /* Numbers: Go's ParseFloat forms Prometheus accepts. */
        {T, "a 1.5\nb -2\nc 1e3\nd 1E-3\ne .5\nf 5.\ng +7\nh 0\ni -0\n",
         "a 1.5 [a:unknown]\nb -2 [b:unknown]\nc 1000 [c:unknown]\nd 0.001 [d:unknown]\n"
         "e 0.5 [e:unknown]\nf 5 [f:unknown]\ng 7 [g:unknown]\nh 0 [h:unknown]\n"
         "i -0 [i:unknown]\n"},
        {T, "a NaN\nb nan\nc +Inf\nd -Inf\ne Inf\nf inf\ng +infinity\nh -Infinity\n",
         "a NaN [a:unknown]\nb NaN [b:unknown]\nc +Inf [c:unknown]\nd -Inf [d:unknown]\n"
         "e +Inf [e:unknown]\nf +Inf [f:unknown]\ng +Inf [g:unknown]\nh -Inf [h:unknown]\n"},
        {T,
         "a 0.1\nb 18446744073709551615\nc 123456789012345678901234567890\nd 1e308\n"
         "e 4.9e-324\nf 1e-400\ng 0.000000000000000000000000000001\nh 9007199254740993\n",
         "a 0.10000000000000001 [a:unknown]\nb 1.8446744073709552e+19 [b:unknown]\n"
         "c 1.2345678901234568e+29 [c:unknown]\nd 1e+308 [d:unknown]\n"
         "e 4.9406564584124654e-324 [e:unknown]\nf 0 [f:unknown]\ng 1.0000000000000001e-30 "
         "[g:unknown]\nh 9007199254740992 [h:unknown]\n"},
        {T, "a 3.141592653589793238462643383279\nb 00012\nc 1.000000000000000000000000001\n",
         "a 3.1415926535897931 [a:unknown]\nb 12 [b:unknown]\nc 1 [c:unknown]\n"},
        /* Timestamps: integer milliseconds. */
        {T, "a 1 -5\nb 1 +5\nc 1 9223372036854775807\nd 1 0\n",
         "a 1 @-5 [a:unknown]\nb 1 @5 [b:unknown]\nc 1 @9223372036854775807 [c:unknown]\n"
         "d 1 @0 [d:unknown]\n"},
        /* Metadata. */
        {T, "# HELP a some \\\\ help\\n x \"q\"\n# TYPE a counter\na 1\n",
         "# HELP a some \\\\ help\\n x \\\"q\\\"\n# TYPE a counter\na 1 [a:counter]\n"},
        {T, "# TYPE a gauge\n# HELP a\na 1\n", "# TYPE a gauge\n# HELP a \na 1 [a:gauge]\n"},
        {T, "#\tHELP\ta\t  spaced  \n", "# HELP a spaced  \n"},
        {T, "# TYPE a untyped\na 1\n", "# TYPE a unknown\na 1 [a:unknown]\n"},
        {T, "a 1\n# HELP a late help is fine in the text format\n",
         "a 1 [a:unknown]\n# HELP a late help is fine in the text format\n"},
        {T, "# TYPE a counter\na 1\na{x=\"y\"} 2\n# TYPE b gauge\nb 3\n",
         "# TYPE a counter\na 1 [a:counter]\na{x=\"y\"} 2 [a:counter]\n# TYPE b gauge\n"
         "b 3 [b:gauge]\n"},
        /* A counter's samples in the text format carry the family name itself. */
        {T, "# TYPE a counter\na_total 1\n", "# TYPE a counter\na_total 1 [a_total:unknown]\n"},
        /* Families may come back in the text format (Prometheus takes it). */
        {T, "a 1\nb 1\na 2\n", "a 1 [a:unknown]\nb 1 [b:unknown]\na 2 [a:unknown]\n"},
        /* Histogram and summary. */
        {T,
         "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\n"
         "h_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n",
         "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1 [h:histogram]\n"
         "h_bucket{le=\"+Inf\"} 2 [h:histogram]\nh_sum 3.5 [h:histogram]\n"
         "h_count 2 [h:histogram]\n"},
        {T,
         "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.99\"} NaN\ns_sum 4\ns_count 3\n",
         "# TYPE s summary\ns{quantile=\"0.5\"} 1 [s:summary]\ns{quantile=\"0.99\"} NaN "
         "[s:summary]\ns_sum 4 [s:summary]\ns_count 3 [s:summary]\n"},
        /* A histogram's name followed by other families with its prefix. */
        {T, "# TYPE h histogram\nh_count 1\nh_counter 2\n",
         "# TYPE h histogram\nh_count 1 [h:histogram]\nh_counter 2 [h_counter:unknown]\n"},
        {T, "a{x=\"1\",y=\"2\"} 1 1700000000000\n",
         "a{x=\"1\",y=\"2\"} 1 @1700000000000 [a:unknown]\n"},
        {T, "a{x=\"\\\\\"} 1\n", "a{x=\"\\\\\"} 1 [a:unknown]\n"},
        {T, "a{x=\"\t\x01\"} 1\n", "a{x=\"\t\x01\"} 1 [a:unknown]\n"},
    };
    run_valid(cases, sizeof cases / sizeof cases[0]);
}

static void openmetrics_valid_table(void **state)
{
    (void)state;
    static const vcase cases[] = {
        {OM, "# EOF\n", ""},
        {OM, "# EOF", ""},
        {OM, "a 1\n# EOF\n", "a 1 [a:unknown]\n"},
        {OM, "a{} 1\n# EOF", "a 1 [a:unknown]\n"},
        {OM,
         "# TYPE c counter\n# HELP c Requests \\\" \\\\ \\n.\nc_total 3 1700000000.5\n"
         "c_created 1600000000\n# EOF\n",
         "# TYPE c counter\n# HELP c Requests \\\" \\\\ \\n.\nc_total 3 @1700000000500 "
         "[c:counter]\nc_created 1600000000 [c:counter]\n"},
        {OM, "# HELP c\n# HELP d \n# EOF\n", "# HELP c \n# HELP d \n"},
        {OM, "# TYPE d_seconds gauge\n# UNIT d_seconds seconds\nd_seconds 2\n# EOF\n",
         "# TYPE d_seconds gauge\n# UNIT d_seconds seconds\nd_seconds 2 [d_seconds:gauge]\n"},
        {OM, "# UNIT x \n# EOF\n", "# UNIT x \n"},
        {OM, "a 1 -1\nb 1 1e3\nc 1 0.0005\nd 1 1.25\n# EOF\n",
         "a 1 @-1000 [a:unknown]\nb 1 @1000000 [b:unknown]\nc 1 @1 [c:unknown]\n"
         "d 1 @1250 [d:unknown]\n"},
        /* Exemplars are checked and dropped. */
        {OM,
         "# TYPE c counter\nc_total 1 # {trace_id=\"abc\"} 0.5 1700000000\n"
         "c_total{x=\"1\"} 2 1700000001 # {} 1\n# EOF\n",
         "# TYPE c counter\nc_total 1 [c:counter]\nc_total{x=\"1\"} 2 @1700000001000 "
         "[c:counter]\n"},
        {OM,
         "# TYPE h histogram\nh_bucket{le=\"1\"} 0 # {a=\"b\",c=\"d\"} 0.5\n"
         "h_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0.5\nh_created 1.5\n# EOF\n",
         "# TYPE h histogram\nh_bucket{le=\"1\"} 0 [h:histogram]\nh_bucket{le=\"+Inf\"} 1 "
         "[h:histogram]\nh_count 1 [h:histogram]\nh_sum 0.5 [h:histogram]\n"
         "h_created 1.5 [h:histogram]\n"},
        {OM, "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 3\ng_gcount 3\ng_gsum 7\n# EOF\n",
         "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 3 [g:gaugehistogram]\n"
         "g_gcount 3 [g:gaugehistogram]\ng_gsum 7 [g:gaugehistogram]\n"},
        {OM, "# TYPE s summary\ns{quantile=\"0.9\"} 2\ns_sum 4\ns_count 3\ns_created 9\n# EOF\n",
         "# TYPE s summary\ns{quantile=\"0.9\"} 2 [s:summary]\ns_sum 4 [s:summary]\n"
         "s_count 3 [s:summary]\ns_created 9 [s:summary]\n"},
        {OM, "# TYPE i info\ni_info{version=\"1.2\"} 1\n# EOF\n",
         "# TYPE i info\ni_info{version=\"1.2\"} 1 [i:info]\n"},
        {OM, "# TYPE st stateset\nst{st=\"a\"} 1\nst{st=\"b\"} 0\n# EOF\n",
         "# TYPE st stateset\nst{st=\"a\"} 1 [st:stateset]\nst{st=\"b\"} 0 [st:stateset]\n"},
        {OM, "# TYPE u unknown\nu 1\n# EOF\n", "# TYPE u unknown\nu 1 [u:unknown]\n"},
        {OM, "a NaN\nb +Inf\nc -inf\n# EOF\n",
         "a NaN [a:unknown]\nb +Inf [b:unknown]\nc -Inf [c:unknown]\n"},
        {OM, "a{x=\"1\",y=\"a\\\"b\"} 1\n# EOF\n", "a{x=\"1\",y=\"a\\\"b\"} 1 [a:unknown]\n"},
        /* Metadata only, and families one after another. */
        {OM, "# TYPE a gauge\n# TYPE b gauge\nb 1\n# EOF\n",
         "# TYPE a gauge\n# TYPE b gauge\nb 1 [b:gauge]\n"},
    };
    run_valid(cases, sizeof cases / sizeof cases[0]);
}

/* ---- hostile input -------------------------------------------------------------------------- */

typedef struct hcase {
    expfmt_format f;
    const char *in;
    size_t line;
    const char *msg; /* a substring of the reason */
} hcase;

static void hostile_table(void **state)
{
    (void)state;
    static const hcase cases[] = {
        /* names */
        {T, "1a 1\n", 1, "invalid metric name \"1a\""},
        {T, "a-b 1\n", 1, "invalid character \"-\" after \"a\""},
        {T, "a.b 1\n", 1, "invalid character \".\""},
        {T, "{a=\"b\"} 1\n", 1, "invalid metric name"},
        {T, "\"a\" 1\n", 1, "invalid metric name"},
        {T, "a{1x=\"1\"} 1\n", 1, "invalid label name \"1x\""},
        {T, "a{x-y=\"1\"} 1\n", 1, "expected '=' after label name \"x\""},
        {T, "a{x:y=\"1\"} 1\n", 1, "expected '=' after label name \"x\""},
        {T, "a{=\"1\"} 1\n", 1, "missing label name"},
        {T, "a{__name__=\"b\"} 1\n", 1, "\"__name__\" is reserved"},
        {T, "a{x=\"1\",x=\"2\"} 1\n", 1, "duplicate label name \"x\""},
        {T, "a{x=\"1\",y=\"1\",x=\"\"} 1\n", 1, "duplicate label name \"x\""},
        {T, "\xc3\xa9 1\n", 1, "invalid metric name \"\\xc3\\xa9\""},
        /* label syntax */
        {T, "a{x=1} 1\n", 1, "expected '\"' to open the value of label \"x\""},
        {T, "a{x='1'} 1\n", 1, "expected '\"'"},
        {T, "a{x=\"1\" 1\n", 1, "expected ',' or '}'"},
        {T, "a{x=\"1\"\n", 1, "expected ',' or '}'"},
        {T, "a{x=\"1\n\"} 1\n", 1, "unterminated label value"},
        {T, "a{x=\"1\",,} 1\n", 1, "invalid label name \",}\""},
        {T, "a{,} 1\n", 1, "invalid label name"},
        {T, "a{x=\"1\"}} 1\n", 1, "invalid character \"}\""},
        {T, "a{x=\"1\"}1\n", 1, "invalid character \"1\" after \"a\" and its labels"},
        {T, "a{x} 1\n", 1, "expected '='"},
        {T, "a{x=\"\\t\"} 1\n", 1, "invalid escape sequence \"\\t\""},
        {T, "a{x=\"\\x41\"} 1\n", 1, "invalid escape sequence \"\\x\""},
        {T, "a{x=\"\\u00e9\"} 1\n", 1, "invalid escape sequence"},
        {T, "a{x=\"ab\\", 1, "invalid escape sequence"},
        {T, "a{x=\"\xff\"} 1\n", 1, "invalid UTF-8 in label value"},
        {T, "a{x=\"\xc3\"} 1\n", 1, "invalid UTF-8"},
        {T, "a{x=\"\xc0\xaf\"} 1\n", 1, "invalid UTF-8"},         /* overlong */
        {T, "a{x=\"\xed\xa0\x80\"} 1\n", 1, "invalid UTF-8"},     /* surrogate */
        {T, "a{x=\"\xf4\x90\x80\x80\"} 1\n", 1, "invalid UTF-8"}, /* > U+10FFFF */
        /* values */
        {T, "a\n", 1, "missing value for \"a\""},
        {T, "a{x=\"1\"}\n", 1, "missing value"},
        {T, "a \n", 1, "missing value"},
        {T, "a abc\n", 1, "invalid value \"abc\""},
        {T, "a 0x10\n", 1, "invalid value \"0x10\""},
        {T, "a 0x1p3\n", 1, "invalid value"},
        {T, "a 1_000\n", 1, "invalid value"},
        {T, "a 1,5\n", 1, "invalid value \"1,5\""},
        {T, "a 1e\n", 1, "invalid value"},
        {T, "a 1e+\n", 1, "invalid value"},
        {T, "a .\n", 1, "invalid value"},
        {T, "a -\n", 1, "invalid value"},
        {T, "a ++1\n", 1, "invalid value"},
        {T, "a 1.2.3\n", 1, "invalid value"},
        {T, "a 1e999\n", 1, "invalid value"},
        {T, "a -1e999\n", 1, "invalid value"},
        {T, "a +NaN\n", 1, "invalid value"},
        {T, "a Infinit\n", 1, "invalid value"},
        {T, "a 1\r\n", 1, "invalid value \"1\\x0d\""},
        {T, "a 1 2 3\n", 1, "unexpected text after the timestamp"},
        {T, "a 1 1.5\n", 1, "invalid timestamp \"1.5\""},
        {T, "a 1 1e3\n", 1, "invalid timestamp"},
        {T, "a 1 9223372036854775808\n", 1, "invalid timestamp"},
        {T, "a 1 99999999999999999999\n", 1, "invalid timestamp"},
        {T, "a 1 -\n", 1, "invalid timestamp"},
        {T, "a 1 # {x=\"y\"} 1\n", 1, "invalid timestamp \"#\""},
        {T,
         "a 123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
         "8901234567890123456789012345678901234567890\n",
         1, "invalid value"},
        /* metadata */
        {T, "# TYPE a\n", 1, "TYPE line without a type"},
        {T, "# TYPE\n", 1, "TYPE without a metric name"},
        {T, "# HELP\n", 1, "HELP without a metric name"},
        {T, "# TYPE a counterx\n", 1, "unknown type \"counterx\""},
        {T, "# TYPE a info\n", 1, "unknown type \"info\""},
        {T, "# TYPE a unknown\n", 1, "unknown type \"unknown\""},
        {T, "# TYPE a Counter\n", 1, "unknown type"},
        {T, "# TYPE a counter extra\n", 1, "unexpected text after the TYPE"},
        {T, "# TYPE 1a counter\n", 1, "invalid metric name \"1a\""},
        {T, "# HELP a-b x\n", 1, "invalid metric name \"a-b\""},
        {T, "# TYPE a counter\n# TYPE a gauge\n", 2, "second TYPE line for \"a\""},
        {T, "# HELP a x\n# HELP a y\n", 2, "second HELP line for \"a\""},
        {T, "a 1\n# TYPE a gauge\n", 2, "TYPE for \"a\" after its samples"},
        {T, "h_bucket{le=\"1\"} 1\n# TYPE h histogram\n", 2,
         "TYPE for \"h\" after its samples (\"h_bucket\")"},
        {T, "s_count 1\n# TYPE s summary\n", 2, "after its samples (\"s_count\")"},
        {T, "# HELP a x \\t\n", 1, "invalid escape sequence in HELP"},
        {T, "# HELP a x \\\"\n", 1, "invalid escape sequence in HELP"}, /* only \\ and \n */
        {T, "# HELP a x\xff\n", 1, "invalid UTF-8 in HELP"},
        {T, "# HELP a x\\", 1, "invalid escape sequence in HELP"},
        /* what a family's type requires */
        {T, "# TYPE h histogram\nh 1\n", 2, "sample \"h\" does not fit TYPE histogram"},
        {T, "# TYPE h histogram\nh_bucket 1\n", 2, "histogram sample without a \"le\" label"},
        {T, "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 2, "invalid le value \"x\""},
        {T, "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\n", 2, "invalid le value"},
        {T, "# TYPE s summary\ns 1\n", 2, "summary sample without a \"quantile\" label"},
        {T, "# TYPE s summary\ns{quantile=\"high\"} 1\n", 2, "invalid quantile value"},
        {T, "a 1\nb 2\n# TYPE c gauge\nc 1\nc x\n", 5, "invalid value \"x\""},
        {T, "# TYPE a gauge\nb 1\na 2\n# TYPE a gauge\n", 4, "TYPE for \"a\" after its samples"},
        /* OpenMetrics: framing */
        {OM, "", 1, "missing \"# EOF\""},
        {OM, "a 1\n", 2, "missing \"# EOF\""},
        {OM, "a 1", 1, "the last line has no newline"},
        {OM, "a 1\n# EOF\na 2\n", 3, "content after \"# EOF\""},
        {OM, "# EOF\n\n", 2, "content after \"# EOF\""},
        {OM, "# EOF\n# EOF\n", 2, "content after \"# EOF\""},
        {OM, "# EOF \n", 1, "invalid comment"},
        {OM, "\na 1\n# EOF\n", 1, "empty line"},
        {OM, "a 1\n\n# EOF\n", 2, "empty line"},
        {OM, "# a comment\n# EOF\n", 1, "invalid comment \"# a comment\""},
        {OM, "#TYPE a gauge\n# EOF\n", 1, "invalid comment"},
        {OM, " a 1\n# EOF\n", 1, "invalid metric name"},
        {OM, "a  1\n# EOF\n", 1, "missing value"},
        {OM, "a\t1\n# EOF\n", 1, "invalid character \"\\x09\""},
        {OM, "a 1 \n# EOF\n", 1, "unexpected text after the value"},
        {OM, "a { x=\"1\"} 1\n# EOF\n", 1, "invalid value \"{\""},
        {OM, "a{x=\"1\",} 1\n# EOF\n", 1, "invalid label name"},
        {OM, "a{x = \"1\"} 1\n# EOF\n", 1, "expected '='"},
        {OM, "a 1 2 3\n# EOF\n", 1, "unexpected text after the timestamp"},
        {OM, "a 1 NaN\n# EOF\n", 1, "invalid timestamp \"NaN\""},
        {OM, "a 1 +Inf\n# EOF\n", 1, "invalid timestamp"},
        {OM, "a 1 1e20\n# EOF\n", 1, "invalid timestamp"},
        {OM, "a 1\r\n# EOF\n", 1, "invalid value"},
        /* OpenMetrics: metadata */
        {OM, "# TYPE a untyped\n# EOF\n", 1, "unknown type \"untyped\""},
        {OM, "# TYPE a\n# EOF\n", 1, "TYPE line without a type"},
        {OM, "# TYPE a counter \n# EOF\n", 1, "unknown type \"counter \""},
        {OM, "# TYPE  a counter\n# EOF\n", 1, "TYPE without a metric name"},
        {OM, "# UNIT a_bytes seconds\n# EOF\n", 1, "unit \"seconds\" is not a suffix"},
        {OM, "# UNIT seconds seconds\n# EOF\n", 1, "is not a suffix"},
        {OM, "# UNIT a_x x-y\n# EOF\n", 1, "invalid unit"},
        {OM, "# UNIT a_b b\n# UNIT a_b b\n# EOF\n", 2, "second UNIT line"},
        {OM, "a 1\n# HELP a late\n# EOF\n", 2, "HELP for \"a\" after its samples"},
        {OM, "a 1\n# UNIT a \n# EOF\n", 2, "UNIT for \"a\" after its samples"},
        {OM, "# TYPE a gauge\n# TYPE b gauge\n# HELP a x\n# EOF\n", 3,
         "HELP for \"a\" after other families"},
        {OM, "# HELP a x \\t\n# EOF\n", 1, "invalid escape sequence in HELP"},
        /* OpenMetrics: samples and families */
        {OM, "# TYPE c counter\nc 1\n# EOF\n", 2, "sample \"c\" does not fit TYPE counter"},
        {OM, "# TYPE c counter\nc_total 1\nc 1\n# EOF\n", 3, "does not fit TYPE counter"},
        {OM, "a 1\nb 1\na 2\n# EOF\n", 3, "samples of \"a\" are not together"},
        {OM, "# TYPE c counter\nc_total 1\nd 1\nc_created 1\n# EOF\n", 4, "not together"},
        {OM, "c_total 1\n# TYPE c counter\n# EOF\n", 2,
         "TYPE for \"c\" after its samples (\"c_total\")"},
        {OM, "# TYPE i info\ni 1\n# EOF\n", 2, "does not fit TYPE info"},
        {OM, "# TYPE st stateset\nst{x=\"a\"} 1\n# EOF\n", 2,
         "stateset sample without a \"st\" label"},
        {OM, "# TYPE g gaugehistogram\ng_bucket 1\n# EOF\n", 2, "without a \"le\" label"},
        /* OpenMetrics: exemplars */
        {OM, "a 1 # \n# EOF\n", 1, "exemplar without a label set"},
        {OM, "a 1 #\n# EOF\n", 1, "unexpected text after the value"},
        {OM, "a 1 #{} 1\n# EOF\n", 1, "unexpected text after the value"},
        {OM, "a 1 # {}\n# EOF\n", 1, "exemplar without a value"},
        {OM, "a 1 # {} \n# EOF\n", 1, "invalid exemplar value \"\""},
        {OM, "a 1 # {} x\n# EOF\n", 1, "invalid exemplar value \"x\""},
        {OM, "a 1 # {} 1 x\n# EOF\n", 1, "invalid exemplar timestamp \"x\""},
        {OM, "a 1 # {} 1 2 3\n# EOF\n", 1, "unexpected text after the exemplar"},
        {OM, "a 1 # {a=\"1\",a=\"2\"} 1\n# EOF\n", 1, "duplicate label name \"a\""},
        {OM, "a 1 # {a=1} 1\n# EOF\n", 1, "expected '\"'"},
        {OM,
         "a 1 # {a=\"01234567890123456789012345678901234567890123456789012345678901234567890123"
         "456789012345678901234567890123456789012345678901234567890\"} 1\n# EOF\n",
         1, "exemplar labels longer than 128 characters"},
        {OM,
         "a 1 # {aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\"\"} 1\n# EOF\n",
         1, "exemplar labels longer than 128 characters"},
        {T, "a 1 # {} 1\n", 1, "invalid timestamp \"#\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hcase *c = &cases[i];
        buf out;
        expfmt_error err;
        size_t len = strlen(c->in);
        int rc = parse_render(c->f, c->in, len, &out, &err);
        buf_free(&out);
        if (rc != -EINVAL)
            fail_msg("case %zu (%s): rc %d, want -EINVAL\ninput:\n%s", i,
                     c->f == OM ? "OM" : "text", rc, c->in);
        /* "a|b": either reason is fine (the first difference decides). */
        int found = 0;
        char alts[160];
        snprintf(alts, sizeof alts, "%s", c->msg);
        for (char *a = alts, *bar; a && !found; a = bar ? bar + 1 : NULL) {
            if ((bar = strchr(a, '|')))
                *bar = '\0';
            found = strstr(err.msg, a) != NULL;
        }
        if (err.line != c->line || !found)
            fail_msg("case %zu (%s): line %zu \"%s\", want line %zu \"%s\"\ninput:\n%s", i,
                     c->f == OM ? "OM" : "text", err.line, err.msg, c->line, c->msg, c->in);
        assert_null(strchr(err.msg, '\n'));
    }
}

/* A NUL byte inside the input (C string literals cannot hold one). */
static void nul_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *msg;
    } cases[] = {
        {"a{x=\"a\0b\"} 1\n", 13, "NUL byte in label value"},
        {"a 1\0\n", 5, "invalid value"},
        {"a\0 1\n", 5, "invalid character \"\\x00\""},
        {"# HELP a x\0y\n", 13, "NUL byte in HELP"},
        {"a 1 1\0\n", 7, "invalid timestamp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf out;
        expfmt_error err;
        assert_int_equal(parse_render(T, cases[i].in, cases[i].len, &out, &err), -EINVAL);
        buf_free(&out);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: \"%s\", want \"%s\"", i, err.msg, cases[i].msg);
    }
    /* A comment may hold anything: it is skipped. */
    buf out;
    assert_int_equal(parse_render(T, "# \0\xff\n", 5, &out, NULL), 0);
    buf_free(&out);
}

/* ---- limits ----------------------------------------------------------------------------- */

static int parse_text(expfmt_format f, const char *s, expfmt_error *err)
{
    buf out;
    int rc = parse_render(f, s, strlen(s), &out, err);
    buf_free(&out);
    return rc;
}

static void limits(void **state)
{
    (void)state;
    buf in;
    expfmt_error err;
    buf_init(&in, 0);
    /* 64 labels, then 65. */
    for (int n = 64; n <= 65; n++) {
        buf_reset(&in);
        buf_puts(&in, "a{");
        for (int i = 0; i < n; i++)
            buf_printf(&in, "%sl%d=\"v\"", i ? "," : "", i);
        buf_puts(&in, "} 1\n");
        int rc = parse_text(T, in.data, &err);
        if (n == 64)
            assert_int_equal(rc, 0);
        else
            assert_string_equal(err.msg, "more than 64 labels");
    }
    /* Names of 256 bytes, then 257. */
    char name[300];
    for (int n = 256; n <= 257; n++) {
        memset(name, 'm', (size_t)n);
        name[n] = '\0';
        buf_reset(&in);
        buf_printf(&in, "%s 1\n", name);
        assert_int_equal(parse_text(T, in.data, &err), n == 256 ? 0 : -EINVAL);
        if (n == 257)
            assert_string_equal(err.msg, "metric name longer than 256 bytes");
        buf_reset(&in);
        buf_printf(&in, "a{%s=\"v\"} 1\n", name);
        assert_int_equal(parse_text(T, in.data, &err), n == 256 ? 0 : -EINVAL);
        if (n == 257)
            assert_string_equal(err.msg, "label name longer than 256 bytes");
        buf_reset(&in);
        buf_printf(&in, "# TYPE %s gauge\n", name);
        assert_int_equal(parse_text(T, in.data, &err), n == 256 ? 0 : -EINVAL);
    }
    /* Values of 4096 bytes after unescaping (the escaped text is longer), then 4097. */
    for (int n = 4096; n <= 4097; n++) {
        buf_reset(&in);
        buf_puts(&in, "a{x=\"");
        for (int i = 0; i < n; i++)
            buf_puts(&in, i % 2 ? "\\n" : "y");
        buf_puts(&in, "\"} 1\n");
        int rc = parse_text(T, in.data, &err);
        assert_int_equal(rc, n == 4096 ? 0 : -EINVAL);
        if (rc)
            assert_string_equal(err.msg, "label value longer than 4096 bytes");
    }
    /* A multi-byte character that would cross the limit. */
    buf_reset(&in);
    buf_puts(&in, "a{x=\"");
    for (int i = 0; i < 4094; i++)
        buf_putc(&in, 'y');
    buf_puts(&in, "\xe2\x82\xac\"} 1\n");
    assert_int_equal(parse_text(T, in.data, &err), -EINVAL);
    /* HELP of 65536 bytes, then 65537. */
    for (int n = EXPFMT_MAX_HELP; n <= EXPFMT_MAX_HELP + 1; n++) {
        buf_reset(&in);
        buf_puts(&in, "# HELP a ");
        for (int i = 0; i < n; i++)
            buf_putc(&in, 'h');
        buf_putc(&in, '\n');
        assert_int_equal(parse_text(T, in.data, &err), n == EXPFMT_MAX_HELP ? 0 : -EINVAL);
    }
    /* A 10 MiB line is refused quickly, not copied. */
    buf_reset(&in);
    buf_puts(&in, "a{x=\"");
    for (int i = 0; i < 10 << 20; i++)
        buf_putc(&in, 'z');
    buf_puts(&in, "\"} 1\n");
    assert_int_equal(parse_text(T, in.data, &err), -EINVAL);
    assert_string_equal(err.msg, "label value longer than 4096 bytes");
    buf_free(&in);
}

static void content_types(void **state)
{
    (void)state;
    assert_int_equal(expfmt_format_from_content_type(NULL), T);
    assert_int_equal(expfmt_format_from_content_type(""), T);
    assert_int_equal(expfmt_format_from_content_type("text/plain; version=0.0.4; charset=utf-8"),
                     T);
    assert_int_equal(expfmt_format_from_content_type(
                         "application/openmetrics-text; version=1.0.0; charset=utf-8"),
                     OM);
    assert_int_equal(expfmt_format_from_content_type("application/openmetrics-text"), OM);
    assert_int_equal(expfmt_format_from_content_type(" Application/OpenMetrics-Text;version=0.0.1"),
                     OM);
    assert_int_equal(expfmt_format_from_content_type("application/openmetrics-textx"), T);
    assert_int_equal(expfmt_format_from_content_type("text/html"), T);
    assert_true(expfmt_is_protobuf(
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
        "encoding=delimited"));
    assert_false(expfmt_is_protobuf("text/plain"));
    assert_false(expfmt_is_protobuf(NULL));
    assert_string_equal(expfmt_type_name(EXPFMT_UNKNOWN, T), "untyped");
    assert_string_equal(expfmt_type_name(EXPFMT_UNKNOWN, OM), "unknown");
    assert_string_equal(expfmt_type_name(EXPFMT_GAUGEHISTOGRAM, OM), "gaugehistogram");
}

/* ---- robustness ------------------------------------------------------------------------- */

static const char om_doc[] =
    "# TYPE c counter\n# HELP c Requests \\\"x\\\".\nc_total{m=\"GET\",p=\"/a\\\\b\"} 3 "
    "1700000000.5 # {trace=\"1\"} 1 1700000000\nc_created{m=\"GET\",p=\"/a\\\\b\"} 1600000000\n"
    "# TYPE h_seconds histogram\n# UNIT h_seconds seconds\nh_seconds_bucket{le=\"0.1\"} 1\n"
    "h_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 0.3\nh_seconds_count 2\n"
    "# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 1\ns_count 1\n# TYPE i info\n"
    "i_info{v=\"\xc3\xa9\"} 1\n# TYPE st stateset\nst{st=\"on\"} 1\nplain -Inf\n# EOF\n";
static const char text_doc[] =
    "# HELP c Requests.\n# TYPE c counter\nc{m=\"GET\",p=\"/a\\\\b\\n\"} 3 1700000000000\n"
    "# TYPE h histogram\nh_bucket { le = \"0.1\" , } 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\n"
    "h_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 1\ns_count 1\n  plain\t-Inf\n";

static int count_sample(void *ctx, const expfmt_sample *s)
{
    (void)s;
    (*(size_t *)ctx)++;
    return 0;
}

/* Every prefix of a valid document parses or fails with a line and a reason; never more. */
static void every_truncation(void **state)
{
    (void)state;
    const char *docs[] = {om_doc, text_doc};
    expfmt_format fmts[] = {OM, T};
    for (int d = 0; d < 2; d++) {
        size_t len = strlen(docs[d]), full = 0;
        assert_int_equal(expfmt_parse(docs[d], len, fmts[d], count_sample, NULL, &full, NULL), 0);
        assert_true(full >= 9);
        for (size_t n = 0; n < len; n++) {
            /* A heap copy of exactly n bytes: ASan sees any read past the end. */
            char *cp = mem_alloc(n ? n : 1);
            size_t count = 0;
            expfmt_error err;
            memcpy(cp, docs[d], n);
            int rc = expfmt_parse(cp, n, fmts[d], count_sample, NULL, &count, &err);
            mem_free(cp);
            assert_true(rc == 0 || rc == -EINVAL);
            assert_true(count <= full);
            if (rc) {
                assert_true(err.line >= 1);
                assert_true(err.msg[0]);
            }
            if (fmts[d] == OM && n + 1 < len)
                assert_int_equal(rc, -EINVAL); /* no # EOF yet */
        }
    }
}

/* Random byte changes, insertions and deletions in valid documents. */
static void random_mutations(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed5c7a9e;
    char tmp[2048];
    const char *docs[] = {om_doc, text_doc};
    static const char alphabet[] = "{}\",=# \n\\.eE+-0123456789aNIf_:\t\xc3\xa9\xff\r";
    for (int iter = 0; iter < 40000; iter++) {
        int d = iter % 2;
        size_t len = strlen(docs[d]);
        memcpy(tmp, docs[d], len);
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(seed >> 33) % (len + 1);
            char c = alphabet[(seed >> 13) % (sizeof alphabet - 1)];
            switch ((seed >> 7) % 3) {
            case 0:
                if (pos < len)
                    tmp[pos] = c;
                break;
            case 1:
                if (len + 1 < sizeof tmp) {
                    memmove(tmp + pos + 1, tmp + pos, len - pos);
                    tmp[pos] = c;
                    len++;
                }
                break;
            default:
                if (pos < len) {
                    memmove(tmp + pos, tmp + pos + 1, len - pos - 1);
                    len--;
                }
            }
        }
        char *cp = mem_alloc(len ? len : 1);
        memcpy(cp, tmp, len);
        size_t count = 0;
        expfmt_error err;
        int rc = expfmt_parse(cp, len, d ? T : OM, count_sample, NULL, &count, &err);
        mem_free(cp);
        assert_true(rc == 0 || rc == -EINVAL);
        if (rc)
            assert_true(err.line >= 1 && err.msg[0]);
    }
}

static void out_of_memory(void **state)
{
    (void)state;
    /* Many families: the family table grows. */
    buf in;
    buf_init(&in, 0);
    for (int i = 0; i < 300; i++)
        buf_printf(&in, "# TYPE f%d gauge\nf%d{x=\"%d\"} %d\n", i, i, i, i);
    int ok = 0;
    for (long n = 0; n < 5000 && !ok; n++) {
        size_t count = 0;
        expfmt_error err;
        mem_fail_after(n);
        int rc = expfmt_parse(in.data, in.len, T, count_sample, NULL, &count, &err);
        mem_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(count, 300);
            ok = 1;
        } else {
            assert_int_equal(rc, -ENOMEM);
            assert_string_equal(err.msg, "out of memory");
        }
    }
    assert_true(ok);
    buf_free(&in);
}

static int stop_at_second(void *ctx, const expfmt_sample *s)
{
    (void)s;
    return ++*(int *)ctx == 2 ? -ECANCELED : 0;
}

static void callback_stops(void **state)
{
    (void)state;
    int n = 0;
    expfmt_error err;
    const char *in = "a 1\nb 2\nc 3\n";
    assert_int_equal(expfmt_parse(in, strlen(in), T, stop_at_second, NULL, &n, &err), -ECANCELED);
    assert_int_equal(n, 2);
    assert_int_equal(err.line, 2);
}

/* Samples per second on simple lines and on labelled ones (printed: the figures for the
 * report; the bound checked is loose so that sanitizer builds pass). */
static void speed(void **state)
{
    (void)state;
    buf in;
    buf_init(&in, 0);
    for (int i = 0; i < 1000000; i++)
        buf_printf(&in, "node_metric_%d %d\n", i % 100, i);
    struct timespec t0, t1;
    size_t count = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    assert_int_equal(expfmt_parse(in.data, in.len, T, count_sample, NULL, &count, NULL), 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(count, 1000000);
    printf("expfmt: %.1f M samples/s on simple lines (%zu bytes)\n", 1.0 / s, in.len);
    buf_reset(&in);
    for (int i = 0; i < 1000000; i++)
        buf_printf(&in, "http_requests_total{code=\"200\",method=\"get\",path=\"/api/%d\"} %d.5\n",
                   i, i);
    count = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    assert_int_equal(expfmt_parse(in.data, in.len, T, count_sample, NULL, &count, NULL), 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("expfmt: %.1f M samples/s on lines with 3 labels (%zu bytes)\n", 1.0 / s, in.len);
    assert_true(s < 10);
    buf_free(&in);
}

/* ---- the probe against an in-process HTTP server -------------------------------------------- */

typedef struct route {
    const char *path;
    int status;
    const char *ctype;
    const char *body;
    int hold; /* never answer */
} route;

typedef struct conn {
    uv_tcp_t h;
    struct server *srv;
    int idx; /* in srv->conns, -1 if not tracked */
    char req[8192];
    size_t n;
    uv_write_t w;
    char *resp;
    int answered;
} conn;

typedef struct server {
    uv_tcp_t h;
    int port;
    const route *routes;
    size_t nroutes;
    conn *conns[64];
    int nconns;
    char last_req[8192];
} server;

static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (c->idx >= 0)
        c->srv->conns[c->idx] = NULL;
    free(c->resp);
    free(c);
}

static void conn_written(uv_write_t *w, int status)
{
    (void)status;
    conn *c = w->data;
    uv_close((uv_handle_t *)&c->h, conn_closed);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    conn *c = h->data;
    b->base = c->req + c->n;
    b->len = sizeof c->req - 1 - c->n;
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    conn *c = st->data;
    if (nread < 0) {
        uv_read_stop(st);
        return;
    }
    c->n += (size_t)nread;
    c->req[c->n] = '\0';
    if (c->answered || !strstr(c->req, "\r\n\r\n"))
        return;
    c->answered = 1;
    server *s = c->srv;
    snprintf(s->last_req, sizeof s->last_req, "%s", c->req);
    char path[256] = "";
    sscanf(c->req, "GET %255s", path);
    const route *r = NULL;
    for (size_t i = 0; i < s->nroutes; i++)
        if (!strcmp(s->routes[i].path, path))
            r = &s->routes[i];
    if (r && r->hold)
        return;
    int status = r ? r->status : 404;
    const char *body = r ? r->body : "not found\n";
    size_t blen = strlen(body), cap = blen + 512;
    c->resp = malloc(cap);
    int hl = snprintf(c->resp, cap,
                      "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, r && r->ctype ? r->ctype : "text/plain; version=0.0.4", blen);
    memcpy(c->resp + hl, body, blen);
    uv_buf_t ub = uv_buf_init(c->resp, (unsigned)(hl + (int)blen));
    c->w.data = c;
    uv_write(&c->w, st, &ub, 1, conn_written);
}

static void on_conn(uv_stream_t *l, int status)
{
    server *s = l->data;
    assert_int_equal(status, 0);
    conn *c = calloc(1, sizeof *c);
    c->srv = s;
    uv_tcp_init(l->loop, &c->h);
    c->h.data = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->h), 0);
    uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read);
    c->idx = s->nconns < 64 ? s->nconns : -1;
    if (s->nconns < 64)
        s->conns[s->nconns++] = c;
}

static void server_start(uv_loop_t *loop, server *s, const route *routes, size_t n)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(s, 0, sizeof *s);
    s->routes = routes;
    s->nroutes = n;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &s->h);
    s->h.data = s;
    assert_int_equal(uv_tcp_bind(&s->h, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->h, 64, on_conn), 0);
    uv_tcp_getsockname(&s->h, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Closes the server and the connections still open (held ones). */
static void server_stop(server *s)
{
    for (int i = 0; i < s->nconns; i++)
        if (s->conns[i] && !uv_is_closing((uv_handle_t *)&s->conns[i]->h))
            uv_close((uv_handle_t *)&s->conns[i]->h, conn_closed);
    uv_close((uv_handle_t *)&s->h, NULL);
}

typedef struct outcome {
    int done, success, timed_out;
    char msg[PROBE_MSG_MAX];
    buf text; /* one line per sample: metric{labels but the constant common ones} value @t */
    size_t ns;
} outcome;

/* Hides the common labels that have the definition's values (all but job and instance). */
static int label_shown(const char *name, const char *value)
{
    static const char *const hidden[][2] = {{"probe", "t"},
                                            {"probe_id", "7"},
                                            {"device", "dev"},
                                            {"endpoint", "ep"},
                                            {"vantage", "test"}};
    if (!strcmp(name, "target"))
        return strncmp(value, "http://127.0.0.1:", 17) != 0;
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        if (!strcmp(hidden[i][0], name) && !strcmp(hidden[i][1], value))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_end(void *ctx, probe_run *r, const probe_result *res)
{
    outcome *o = ctx;
    o->done = 1;
    o->success = res->success;
    o->timed_out = res->timed_out;
    o->ns = res->nsamples;
    snprintf(o->msg, sizeof o->msg, "%s", res->message);
    buf_init(&o->text, 0);
    for (size_t i = 0; i < res->nsamples; i++) {
        const probe_sample *s = &res->samples[i];
        const char *names[64];
        size_t n = 0;
        for (const char *const *l = s->labels; l[0] && n < 64; l += 2)
            if (label_shown(l[0], l[1]))
                names[n++] = l[0];
        qsort(names, n, sizeof names[0], cmp_str);
        buf_printf(&o->text, "%s{", s->metric);
        for (size_t j = 0; j < n; j++)
            for (const char *const *l = s->labels; l[0]; l += 2)
                if (!strcmp(l[0], names[j]))
                    buf_printf(&o->text, "%s%s=\"%s\"", j ? "," : "", l[0], l[1]);
        buf_puts(&o->text, "} ");
        put_value(&o->text, s->v);
        buf_printf(&o->text, " @%lld\n", (long long)s->t);
    }
    probe_run_free(r);
}

static int make_def(const char *target, const char *address, int port, const char *settings,
                    int64_t timeout_ms, probe_def **d, char *err, size_t errcap)
{
    json_error_t je;
    json_t *st = json_loads(settings, 0, &je);
    if (!st)
        fail_msg("settings %s: %s", settings, je.text);
    json_t *o = json_pack("{sI ss ss ss ss ss ss sI sI sI so}", "probe", (json_int_t)7, "type",
                          "scrape", "name", "t", "device", "dev", "endpoint", "ep", "target",
                          target, "address", address, "port", (json_int_t)port, "timeout_ms",
                          (json_int_t)timeout_ms, "interval_ms", (json_int_t)60000, "settings", st);
    assert_non_null(o);
    int rc = probe_def_from_json(o, d, err, errcap);
    json_decref(o);
    return rc;
}

/* One run of a scrape of http://127.0.0.1:port<path>; cancel_ms > 0 cancels it then. */
static void scrape_once(uv_loop_t *loop, int port, const char *path, const char *settings,
                        int64_t cancel_ms, outcome *o)
{
    probe_env env;
    probe_opts opts = {.vantage = "test"};
    probe_def *d = NULL;
    probe_run *r = NULL;
    char err[512] = "", url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    memset(o, 0, sizeof *o);
    assert_int_equal(probe_env_init(&env, loop, &opts), 0);
    if (make_def(url, "127.0.0.1", port, settings, 5000, &d, err, sizeof err))
        fail_msg("make_def: %s", err);
    assert_int_equal(probe_run_new(&r, &env, d, 0, on_end, o), 0);
    probe_run_start(r);
    uint64_t t0 = uv_hrtime();
    while (!o->done) {
        if (cancel_ms && uv_hrtime() - t0 > (uint64_t)cancel_ms * 1000000) {
            probe_run_cancel(r, "timed out");
            break;
        }
        uv_run(loop, cancel_ms ? UV_RUN_NOWAIT : UV_RUN_ONCE);
    }
    assert_true(o->done);
    probe_def_unref(d);
    probe_env_close(&env);
}

static int has_line(const outcome *o, const char *prefix)
{
    const char *p = o->text.data ? o->text.data : "";
    size_t n = strlen(prefix);
    for (; *p; p = strchr(p, '\n') + 1)
        if (!strncmp(p, prefix, n))
            return 1;
    return 0;
}

static double value_of(const outcome *o, const char *metric)
{
    const char *p = o->text.data ? o->text.data : "";
    size_t n = strlen(metric);
    for (; *p; p = strchr(p, '\n') + 1)
        if (!strncmp(p, metric, n) && p[n] == '{')
            return strtod(strstr(p, "} ") + 2, NULL);
    return NAN;
}

static size_t scraped_lines(const outcome *o)
{
    size_t n = 0;
    const char *p = o->text.data ? o->text.data : "";
    for (; *p; p = strchr(p, '\n') + 1)
        n += strncmp(p, "up{", 3) && strncmp(p, "scrape_", 7) && strncmp(p, "probe_", 6);
    return n;
}

#define EXPECT_LINE(o, l)                                                                          \
    do {                                                                                           \
        if (!has_line(o, l))                                                                       \
            fail_msg("no line \"%s\" in:\n%s(message: %s)", l, (o)->text.data, (o)->msg);          \
    } while (0)

static const route routes[] = {
    {"/collide", 200, NULL,
     "m{job=\"x\",instance=\"y\",exported_job=\"z\",a=\"\",b=\"1\"} 1\n"
     "n{probe=\"p\",vantage=\"v\"} 2 1234\n",
     0},
    {"/five", 200, NULL, "a 1\nb 2\nc 3\nd 4\ne 5\n", 0},
    {"/filter", 200, NULL,
     "keep_me 1\ndrop_me 2\nkeep_me_too{x=\"1\"} 3\nother 4\nkeep_me_too{x=\"2\"} 5\n", 0},
    {"/broken", 200, NULL, "a 1\nb 2\nc{x=\"1\" 3\nd 4\n", 0},
    {"/om", 200, "application/openmetrics-text; version=1.0.0; charset=utf-8",
     "# TYPE c counter\nc_total 3 1700000000.5\nc_created 1600000000\n# EOF\n", 0},
    {"/om-as-text", 200, "text/plain; version=0.0.4", "c_total 3 1700000000.5\n# EOF\n", 0},
    {"/om-no-eof", 200, "application/openmetrics-text; version=1.0.0", "a 1\n", 0},
    {"/error", 503, NULL, "down\n", 0},
    {"/proto", 200, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
     "xx", 0},
    {"/hold", 200, NULL, "", 1},
    {"/many-labels", 200, NULL,
     "m{a0=\"1\",a1=\"1\",a2=\"1\",a3=\"1\",a4=\"1\",a5=\"1\",a6=\"1\",a7=\"1\",a8=\"1\","
     "a9=\"1\",b0=\"1\",b1=\"1\",b2=\"1\",b3=\"1\",b4=\"1\",b5=\"1\",b6=\"1\",b7=\"1\",b8=\"1\","
     "b9=\"1\",c0=\"1\",c1=\"1\",c2=\"1\",c3=\"1\",c4=\"1\",c5=\"1\",c6=\"1\",c7=\"1\",c8=\"1\","
     "c9=\"1\",d0=\"1\",d1=\"1\",d2=\"\"} 1\n",
     0},
    {"/too-many-labels", 200, NULL,
     "ok 1\nm{a0=\"1\",a1=\"1\",a2=\"1\",a3=\"1\",a4=\"1\",a5=\"1\",a6=\"1\",a7=\"1\",a8=\"1\","
     "a9=\"1\",b0=\"1\",b1=\"1\",b2=\"1\",b3=\"1\",b4=\"1\",b5=\"1\",b6=\"1\",b7=\"1\",b8=\"1\","
     "b9=\"1\",c0=\"1\",c1=\"1\",c2=\"1\",c3=\"1\",c4=\"1\",c5=\"1\",c6=\"1\",c7=\"1\",c8=\"1\","
     "c9=\"1\",d0=\"1\",d1=\"1\",d2=\"1\"} 1\n",
     0},
    {"/empty", 200, NULL, "", 0},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static void probe_labels_and_collisions(void **state)
{
    (void)state;
    uv_loop_t loop;
    server s;
    outcome o;
    uv_loop_init(&loop);
    server_start(&loop, &s, routes, NROUTES);

    /* honor_labels false: job and instance renamed; exported_job was taken, so job becomes
     * exported_exported_job; the empty label a is dropped. */
    scrape_once(&loop, s.port, "/collide", "{}", 0, &o);
    if (!o.success)
        fail_msg("collide: %s", o.msg);
    EXPECT_LINE(&o, "m{b=\"1\",exported_exported_job=\"x\",exported_instance=\"y\","
                    "exported_job=\"z\",instance=\"dev\",job=\"scrape\"} 1 @");
    EXPECT_LINE(&o, "n{exported_probe=\"p\",exported_vantage=\"v\",instance=\"dev\","
                    "job=\"scrape\"} 2 @1234\n");
    EXPECT_LINE(&o, "up{instance=\"dev\",job=\"scrape\"} 1 @");
    assert_true(value_of(&o, "scrape_samples_scraped") == 2);
    assert_true(value_of(&o, "scrape_samples_post_metric_relabeling") == 2);
    assert_true(value_of(&o, "scrape_series_added") == 2);
    assert_true(value_of(&o, "scrape_duration_seconds") >= 0);
    assert_true(value_of(&o, "probe_success") == 1);
    /* The request asks for OpenMetrics first and accepts compression. */
    assert_non_null(strstr(s.last_req, "Accept: application/openmetrics-text;version=1.0.0;"
                                       "q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1\r\n"));
    assert_non_null(strstr(s.last_req, "Accept-Encoding: "));
    assert_non_null(strstr(s.last_req, "X-Prometheus-Scrape-Timeout-Seconds: 5"));
    buf_free(&o.text);

    /* honor_labels true: the scraped values win. */
    scrape_once(&loop, s.port, "/collide", "{\"honor_labels\":true}", 0, &o);
    assert_true(o.success);
    EXPECT_LINE(&o, "m{b=\"1\",exported_job=\"z\",instance=\"y\",job=\"x\"} 1 @");
    EXPECT_LINE(&o, "n{instance=\"dev\",job=\"scrape\",probe=\"p\",vantage=\"v\"} 2 @1234\n");
    EXPECT_LINE(&o, "up{instance=\"dev\",job=\"scrape\"} 1 @");
    buf_free(&o.text);

    /* 32 non-empty labels fit a probe sample (the empty 33rd is dropped); 33 fail the scrape
     * whole. */
    scrape_once(&loop, s.port, "/many-labels", "{}", 0, &o);
    if (!o.success)
        fail_msg("many labels: %s", o.msg);
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/too-many-labels", "{}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "line 2: series \"m\" has 33 labels, more than the 32 a probe "
                               "sample may carry");
    assert_int_equal(scraped_lines(&o), 0);
    buf_free(&o.text);

    server_stop(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void probe_limits_filters_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    server s;
    outcome o;
    uv_loop_init(&loop);
    server_start(&loop, &s, routes, NROUTES);

    /* Over the limit: the run fails and keeps no scraped sample. */
    scrape_once(&loop, s.port, "/five", "{\"sample_limit\":3}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "sample limit exceeded (5 > 3)");
    assert_int_equal(scraped_lines(&o), 0);
    assert_true(value_of(&o, "up") == 0);
    assert_true(value_of(&o, "scrape_samples_scraped") == 5);
    assert_true(value_of(&o, "scrape_series_added") == 0);
    assert_true(value_of(&o, "probe_success") == 0);
    buf_free(&o.text);
    /* At the limit, and with none. */
    scrape_once(&loop, s.port, "/five", "{\"sample_limit\":5}", 0, &o);
    assert_true(o.success);
    assert_int_equal(scraped_lines(&o), 5);
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/five", "{\"sample_limit\":0}", 0, &o);
    assert_true(o.success);
    assert_int_equal(scraped_lines(&o), 5);
    buf_free(&o.text);

    /* The metrics filter: anchored full matches; the limit counts what it keeps. */
    scrape_once(&loop, s.port, "/filter", "{\"metrics\":[\"keep_.*\",\"oth\"],\"sample_limit\":3}",
                0, &o);
    if (!o.success)
        fail_msg("filter: %s", o.msg);
    assert_int_equal(scraped_lines(&o), 3);
    EXPECT_LINE(&o, "keep_me{");
    EXPECT_LINE(&o, "keep_me_too{instance=\"dev\",job=\"scrape\",x=\"2\"} 5");
    assert_false(has_line(&o, "other"));
    assert_false(has_line(&o, "drop_me"));
    assert_true(value_of(&o, "scrape_samples_scraped") == 5);
    assert_true(value_of(&o, "scrape_samples_post_metric_relabeling") == 3);
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/filter", "{\"metrics\":[\"keep_.*\"],\"sample_limit\":2}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "sample limit exceeded (3 > 2)");
    buf_free(&o.text);

    /* A parse error: the line and the reason, no sample kept. */
    scrape_once(&loop, s.port, "/broken", "{}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "line 3: expected ',' or '}' after the value of label \"x\"");
    assert_int_equal(scraped_lines(&o), 0);
    assert_true(value_of(&o, "up") == 0);
    buf_free(&o.text);

    /* OpenMetrics by Content-Type: timestamps in seconds, _created kept as a sample. */
    scrape_once(&loop, s.port, "/om", "{}", 0, &o);
    if (!o.success)
        fail_msg("om: %s", o.msg);
    EXPECT_LINE(&o, "c_total{instance=\"dev\",job=\"scrape\"} 3 @1700000000500\n");
    EXPECT_LINE(&o, "c_created{instance=\"dev\",job=\"scrape\"} 1600000000 @");
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/om-as-text", "{}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "line 1: invalid timestamp \"1700000000.5\"");
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/om-no-eof", "{}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "line 2: missing \"# EOF\" at the end");
    buf_free(&o.text);

    /* HTTP errors, an unsupported format, an empty body, a closed port. */
    scrape_once(&loop, s.port, "/error", "{}", 0, &o);
    assert_false(o.success);
    assert_string_equal(o.msg, "server returned HTTP status 503");
    assert_true(value_of(&o, "up") == 0);
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/proto", "{}", 0, &o);
    assert_false(o.success);
    assert_non_null(strstr(o.msg, "unsupported Content-Type \"application/vnd.google.protobuf"));
    buf_free(&o.text);
    scrape_once(&loop, s.port, "/empty", "{}", 0, &o);
    assert_true(o.success);
    assert_true(value_of(&o, "scrape_samples_scraped") == 0);
    buf_free(&o.text);

    /* Cancelled at the timeout while the server holds the request: all freed. */
    scrape_once(&loop, s.port, "/hold", "{}", 100, &o);
    assert_true(o.timed_out);
    assert_false(o.success);
    buf_free(&o.text);

    server_stop(&s);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* Nobody listening any more. */
    scrape_once(&loop, s.port, "/five", "{}", 0, &o);
    assert_false(o.success);
    assert_true(value_of(&o, "up") == 0);
    buf_free(&o.text);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct scase {
    const char *target;
    const char *address;
    int port;
    const char *settings;
    const char *err; /* NULL: accepted */
} scase;

static void probe_settings(void **state)
{
    (void)state;
    static const scase cases[] = {
        {"http://127.0.0.1:9100/metrics", "127.0.0.1", 9100, "{}", NULL},
        {"https://h/metrics", "h", 0,
         "{\"path\":\"/metrics\",\"scheme\":\"https\",\"honor_labels\":false,\"metrics\":[],"
         "\"sample_limit\":100000,\"tls_verify\":false}",
         NULL},
        {"h:9100", "h", 9100, "{}", NULL},
        {"h", "h", 0, "{\"scheme\":\"https\",\"path\":\"/m\"}", NULL},
        {"ftp://h/x", "h", 0, "{}", "must be an http:// or https:// URL"},
        {"h", "h", 0, "{\"scheme\":\"ftp\"}", "\"scheme\" must be http or https"},
        {"h", "h", 0, "{\"path\":\"metrics\"}", "\"path\" must start with /"},
        {"h", "", 0, "{}", "the endpoint has no address"},
        {"http://h/", "h", 0, "{\"honor_labels\":1}", "\"honor_labels\" must be true or false"},
        {"http://h/", "h", 0, "{\"tls_verify\":\"yes\"}", "\"tls_verify\" must be true"},
        {"http://h/", "h", 0, "{\"sample_limit\":-1}", "\"sample_limit\" must be an integer"},
        {"http://h/", "h", 0, "{\"sample_limit\":1.5}", "\"sample_limit\" must be an integer"},
        {"http://h/", "h", 0, "{\"metrics\":\"a.*\"}", "\"metrics\" must be a list"},
        {"http://h/", "h", 0, "{\"metrics\":[1]}", "\"metrics\" must be a list"},
        {"http://h/", "h", 0, "{\"metrics\":[\"a(\"]}",
         "metrics: invalid regular expression \"a(\": missing closing parenthesis"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const scase *c = &cases[i];
        probe_def *d = NULL;
        char err[512] = "";
        int rc = make_def(c->target, c->address, c->port, c->settings, 5000, &d, err, sizeof err);
        if (!c->err && rc)
            fail_msg("case %zu: refused: %s", i, err);
        if (c->err && (rc != -EINVAL || !strstr(err, c->err)))
            fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err, c->err);
        probe_def_unref(d);
    }
}

/* URLs made from the endpoint when the target is not one. */
static void probe_url_from_endpoint(void **state)
{
    (void)state;
    uv_loop_t loop;
    server s;
    outcome o;
    probe_env env;
    probe_opts opts = {.vantage = "test"};
    probe_def *d = NULL;
    probe_run *r = NULL;
    char err[256], target[64];
    uv_loop_init(&loop);
    server_start(&loop, &s, routes, NROUTES);
    snprintf(target, sizeof target, "127.0.0.1:%d", s.port);
    assert_int_equal(probe_env_init(&env, &loop, &opts), 0);
    if (make_def(target, "127.0.0.1", s.port, "{\"path\":\"/five\"}", 5000, &d, err, sizeof err))
        fail_msg("%s", err);
    memset(&o, 0, sizeof o);
    assert_int_equal(probe_run_new(&r, &env, d, 0, on_end, &o), 0);
    probe_run_start(r);
    while (!o.done)
        uv_run(&loop, UV_RUN_ONCE);
    if (!o.success)
        fail_msg("%s", o.msg);
    assert_int_equal(scraped_lines(&o), 5);
    assert_non_null(strstr(s.last_req, "GET /five HTTP/1.1\r\n"));
    buf_free(&o.text);
    probe_def_unref(d);
    probe_env_close(&env);
    server_stop(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_valid_table),
        cmocka_unit_test(openmetrics_valid_table),
        cmocka_unit_test(hostile_table),
        cmocka_unit_test(nul_bytes),
        cmocka_unit_test(limits),
        cmocka_unit_test(content_types),
        cmocka_unit_test(every_truncation),
        cmocka_unit_test(random_mutations),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(callback_stops),
        cmocka_unit_test(speed),
        cmocka_unit_test(probe_settings),
        cmocka_unit_test(probe_labels_and_collisions),
        cmocka_unit_test(probe_limits_filters_errors),
        cmocka_unit_test(probe_url_from_endpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
