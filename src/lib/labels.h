/* labels: the Prometheus data model's label set (metric name in __name__ plus sorted pairs).
 *
 * A `labels` is a view: an array of name/value pointers the caller keeps alive. labels_sort()
 * puts it in canonical order, labels_validate() checks names and duplicates, labels_hash() and
 * labels_canonical() give a series its identity. Functions do not allocate unless they say so. */
#ifndef DD_LABELS_H
#define DD_LABELS_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define LABELS_NAME "__name__"
/* Limits on outside input: a series with more labels, or longer names/values, is refused. */
#define LABELS_MAX 64
#define LABELS_MAX_NAME 256
#define LABELS_MAX_VALUE 4096

typedef struct label {
    const char *name;
    const char *value;
} label;

typedef struct labels {
    label *v;
    size_t n;
} labels;

/* Deep-copies src into dst as ONE allocation (label array followed by the strings), which
 * the caller frees with mem_free(dst->v). Returns 0 or -ENOMEM. */
int labels_clone(const labels *src, labels *dst);
/* Sorts by name (byte order), the canonical order. */
void labels_sort(labels *ls);
/* Checks a sorted set: valid names ([a-zA-Z_][a-zA-Z0-9_]*), no duplicates, no empty values
 * (an empty value means "no such label" in Prometheus and must be dropped by the caller), a
 * valid metric name if __name__ is present, and the size limits. Returns 0 or -EINVAL with a
 * reason in err. */
int labels_validate(const labels *ls, char *err, size_t errlen);
/* True if s is a valid label name / metric name. */
int labels_valid_name(const char *s);
int labels_valid_metric_name(const char *s);
/* Value of `name` in the set, or NULL. */
const char *labels_get(const labels *ls, const char *name);
/* 64-bit hash of a sorted set (FNV-1a over names and values with separators). */
uint64_t labels_hash(const labels *ls);
/* Compares two sorted sets; <0, 0, >0 like strcmp. */
int labels_cmp(const labels *a, const labels *b);
/* Appends the canonical text form `name{a="x",b="y"}` (escaping quotes, backslashes, newlines)
 * to out. Returns 0 or the buf error. */
int labels_format(const labels *ls, buf *out);

#endif
