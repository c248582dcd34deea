/* parse: PromQL text -> expression tree.
 *
 * This release understands number and string literals, parentheses, instant vector selectors
 * (`metric{label="v", l2=~"re", l3!="x", l4!~"y"}`), range vector selectors (`[5m]`), and the
 * `offset` and `@` modifiers; functions, operators and aggregations come with the PromQL issue
 * and slot into the same tree. Errors carry Prometheus's "line:col: parse error: reason" form.
 * Pure functions; any thread. */
#ifndef DD_PROMQL_PARSE_H
#define DD_PROMQL_PARSE_H

#include "../tsdb/matcher.h"

#include <stddef.h>
#include <stdint.h>

#define PROMQL_MAX_QUERY 65536 /* bytes; longer queries are refused */
#define PROMQL_MAX_MATCHERS 64
#define PROMQL_MAX_DEPTH 256 /* nesting of parentheses; the parser recurses, so it is capped */

typedef enum promql_node {
    PROMQL_NUMBER,
    PROMQL_STRING,
    PROMQL_VECTOR_SELECTOR,
    PROMQL_MATRIX_SELECTOR,
} promql_node;

typedef enum promql_at {
    PROMQL_AT_NONE,
    PROMQL_AT_TIME,  /* @ <timestamp> */
    PROMQL_AT_START, /* @ start() */
    PROMQL_AT_END,   /* @ end() */
} promql_at;

typedef struct promql_expr {
    promql_node type;
    int pos;           /* byte offset in the query, for messages */
    double number;     /* PROMQL_NUMBER */
    char *string;      /* PROMQL_STRING */
    /* Selectors: */
    tsdb_matcher *matchers;
    size_t nmatchers;
    int64_t range_ms;  /* PROMQL_MATRIX_SELECTOR */
    int64_t offset_ms;
    promql_at at;
    int64_t at_ms;
} promql_expr;

/* Parses q. Returns 0 and a new tree in *out (free with promql_expr_free), -EINVAL with the
 * message in err, or -ENOMEM. */
int promql_parse(const char *q, promql_expr **out, char *err, size_t errlen);
void promql_expr_free(promql_expr *e);
/* "scalar", "string", "vector" or "matrix": the type an expression evaluates to. */
const char *promql_value_type(const promql_expr *e);

#endif
