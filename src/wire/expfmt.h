/* expfmt: a strict parser of the Prometheus exposition formats — the text format 0.0.4 and
 * OpenMetrics 1.0 text — over a complete buffer, with a callback per sample and per metadata
 * line (TYPE, HELP, UNIT), so a million-series body never builds a tree.
 *
 * Promises:
 *   - total: any byte string gives either every sample or an error with a line number and a
 *     reason; never a crash, a hang or an unbounded allocation (one scratch block of ~300 KiB
 *     plus a table of the metric family names seen);
 *   - strict: invalid metric or label names, duplicate labels, bad numbers and escapes,
 *     missing values, metadata after the samples of its family, OpenMetrics without `# EOF`
 *     or with anything after it... are errors, not guesses;
 *   - bounded: at most EXPFMT_MAX_LABELS labels per sample, names up to LABELS_MAX_NAME bytes,
 *     label values up to LABELS_MAX_VALUE bytes (after unescaping), HELP up to
 *     EXPFMT_MAX_HELP bytes — the limits of src/lib/labels.h;
 *   - decoded: label values and HELP come unescaped (\\ \" \n), NUL-terminated.
 * Classic histograms and summaries arrive as their _bucket/_sum/_count/quantile series;
 * OpenMetrics `_created` series are samples like any other (what Prometheus 2.x does without
 * its created-timestamp feature flag); exemplars are checked and dropped.
 * Any thread; no global state. */
#ifndef DD_WIRE_EXPFMT_H
#define DD_WIRE_EXPFMT_H

#include "../lib/labels.h"

#include <stddef.h>
#include <stdint.h>

#define EXPFMT_MAX_LABELS LABELS_MAX /* label pairs per sample */
#define EXPFMT_MAX_HELP 65536        /* bytes of one HELP text, unescaped */

typedef enum expfmt_format {
    EXPFMT_TEXT,        /* text/plain; version=0.0.4 (and anything not OpenMetrics) */
    EXPFMT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
} expfmt_format;

/* A metric family's TYPE. EXPFMT_UNKNOWN is the text format's "untyped" and OpenMetrics'
 * "unknown", and the type of a family without a TYPE line. */
typedef enum expfmt_type {
    EXPFMT_UNKNOWN,
    EXPFMT_COUNTER,
    EXPFMT_GAUGE,
    EXPFMT_HISTOGRAM,
    EXPFMT_SUMMARY,
    EXPFMT_INFO,           /* OpenMetrics only */
    EXPFMT_STATESET,       /* OpenMetrics only */
    EXPFMT_GAUGEHISTOGRAM, /* OpenMetrics only */
} expfmt_type;

/* One sample. Every pointer is valid during the callback only. */
typedef struct expfmt_sample {
    const char *name;          /* the series' metric name, e.g. "http_requests_total" */
    const char *family;        /* its family's name, e.g. "http_requests" */
    expfmt_type type;          /* its family's type */
    const char *const *labels; /* "name", "value", ..., NULL, in exposition order */
    size_t nlabels;            /* label pairs (empty values included) */
    double v;                  /* NaN, +Inf and -Inf included */
    int has_ts;                /* 1 if the sample had a timestamp */
    int64_t ts_ms;             /* its timestamp (ms since the epoch) when has_ts */
    size_t line;               /* 1-based line number in the input */
} expfmt_sample;

typedef enum expfmt_meta_kind {
    EXPFMT_META_TYPE,
    EXPFMT_META_HELP,
    EXPFMT_META_UNIT, /* OpenMetrics only */
} expfmt_meta_kind;

/* One metadata line. Pointers valid during the callback only. */
typedef struct expfmt_meta {
    expfmt_meta_kind kind;
    const char *family; /* the family's name */
    expfmt_type type;   /* EXPFMT_META_TYPE: the declared type */
    const char *text;   /* HELP: the unescaped help; UNIT: the unit (may be ""); TYPE: NULL */
    size_t line;
} expfmt_meta;

/* Callbacks return 0 to go on, or a negative errno-style code that stops the parse: expfmt_parse
 * then returns that code. */
typedef int (*expfmt_sample_fn)(void *ctx, const expfmt_sample *s);
typedef int (*expfmt_meta_fn)(void *ctx, const expfmt_meta *m);

/* Why a parse failed: the 1-based line (0 when not about a line, e.g. out of memory) and a
 * one-line reason without the line number ("invalid label name \"1a\""). */
typedef struct expfmt_error {
    size_t line;
    char msg[192];
} expfmt_error;

/* Chooses the format from an HTTP Content-Type value (NULL or empty allowed): OpenMetrics for
 * application/openmetrics-text (any version, any parameters), else the text format, as
 * Prometheus 2.x does. */
expfmt_format expfmt_format_from_content_type(const char *content_type);

/* True if content_type names the protobuf exposition format (which this parser does not
 * read: the caller reports it instead of a confusing parse error). */
int expfmt_is_protobuf(const char *content_type);

/* Parses the exposition in data[0..len) (not necessarily NUL-terminated; the caller keeps it)
 * as fmt, calling on_sample for each sample and on_meta (may be NULL) for each TYPE, HELP and
 * UNIT line, in input order. Returns 0 when the whole input is valid; -EINVAL with err filled
 * (line and reason) at the first invalid line — samples before it were already passed to the
 * callback, so a caller that must keep all or nothing parses twice or buffers; -ENOMEM; or the
 * first non-zero code a callback returned. err may be NULL. */
int expfmt_parse(const char *data, size_t len, expfmt_format fmt, expfmt_sample_fn on_sample,
                 expfmt_meta_fn on_meta, void *ctx, expfmt_error *err);

/* The type's name in fmt ("untyped" in the text format, "unknown" in OpenMetrics). */
const char *expfmt_type_name(expfmt_type t, expfmt_format fmt);

#endif
