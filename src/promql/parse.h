/* parse: PromQL text -> a type-checked expression tree.
 *
 * The whole PromQL grammar of Prometheus 3 (float samples): number, string and duration
 * literals, instant and range vector selectors with = != =~ !~ matchers, offset (also
 * negative) and @ (timestamp, start(), end()), subqueries `expr[range:step]`, unary and binary
 * operators with Prometheus's precedence, `bool`, vector matching (on/ignoring, group_left/
 * group_right), set operators, aggregations with by/without before or after the argument, and
 * function calls checked against the function table (func.h). Type errors use Prometheus's
 * wording; every error carries Prometheus's "line:col: parse error: reason" form.
 * Pure functions; any thread. */
#ifndef DD_PROMQL_PARSE_H
#define DD_PROMQL_PARSE_H

#include "../lib/buf.h"
#include "../tsdb/matcher.h"

#include <stddef.h>
#include <stdint.h>

#define PROMQL_MAX_QUERY 65536 /* bytes; longer queries are refused */
#define PROMQL_MAX_MATCHERS 64
#define PROMQL_MAX_DEPTH 256 /* nesting of sub-expressions; the parser recurses, so it is capped */
#define PROMQL_MAX_HEIGHT 2048 /* height of the tree (long operator chains); evaluation recurses */

struct promql_func;

typedef enum promql_node {
    PROMQL_NUMBER,
    PROMQL_STRING,
    PROMQL_VECTOR_SELECTOR,
    PROMQL_MATRIX_SELECTOR,
    PROMQL_PAREN,     /* ( lhs ) */
    PROMQL_UNARY,     /* op lhs (op is ADD or SUB) */
    PROMQL_BINARY,    /* lhs op rhs */
    PROMQL_CALL,      /* func(args...) */
    PROMQL_AGGREGATE, /* op [by|without (grouping)] ([param,] lhs) */
    PROMQL_SUBQUERY,  /* lhs[range_ms:step_ms] offset/@ */
} promql_node;

/* The value types of PromQL (what an expression evaluates to). */
typedef enum promql_type {
    PROMQL_T_SCALAR,
    PROMQL_T_STRING,
    PROMQL_T_VECTOR,
    PROMQL_T_MATRIX,
} promql_type;

typedef enum promql_at {
    PROMQL_AT_NONE,
    PROMQL_AT_TIME,  /* @ <timestamp> */
    PROMQL_AT_START, /* @ start() */
    PROMQL_AT_END,   /* @ end() */
} promql_at;

typedef enum promql_op {
    PROMQL_OP_NONE,
    /* arithmetic */
    PROMQL_OP_ADD,
    PROMQL_OP_SUB,
    PROMQL_OP_MUL,
    PROMQL_OP_DIV,
    PROMQL_OP_MOD,
    PROMQL_OP_POW,
    PROMQL_OP_ATAN2,
    /* comparison */
    PROMQL_OP_EQL,
    PROMQL_OP_NEQ,
    PROMQL_OP_GTR,
    PROMQL_OP_LSS,
    PROMQL_OP_GTE,
    PROMQL_OP_LTE,
    /* set */
    PROMQL_OP_AND,
    PROMQL_OP_OR,
    PROMQL_OP_UNLESS,
    /* aggregations */
    PROMQL_OP_SUM,
    PROMQL_OP_AVG,
    PROMQL_OP_MIN,
    PROMQL_OP_MAX,
    PROMQL_OP_COUNT,
    PROMQL_OP_GROUP,
    PROMQL_OP_STDDEV,
    PROMQL_OP_STDVAR,
    PROMQL_OP_TOPK,
    PROMQL_OP_BOTTOMK,
    PROMQL_OP_QUANTILE,
    PROMQL_OP_COUNT_VALUES,
    PROMQL_OP_LIMITK,
    PROMQL_OP_LIMIT_RATIO,
} promql_op;

/* Vector matching cardinality. */
typedef enum promql_card {
    PROMQL_CARD_ONE_TO_ONE,
    PROMQL_CARD_MANY_TO_ONE, /* group_left */
    PROMQL_CARD_ONE_TO_MANY, /* group_right */
    PROMQL_CARD_MANY_TO_MANY, /* set operators */
} promql_card;

/* A list of label names (grouping, on/ignoring, group_left/right). */
typedef struct promql_names {
    char **v;
    size_t n;
} promql_names;

typedef struct promql_expr {
    promql_node type;
    promql_type vtype; /* the type the expression evaluates to */
    int pos;           /* byte offset in the query where the node starts, for messages */
    int end;           /* byte offset just past the node */
    int height;        /* 1 + the tallest child; at most PROMQL_MAX_HEIGHT */
    double number;     /* PROMQL_NUMBER */
    char *string;      /* PROMQL_STRING */
    /* Selectors (matchers[] holds the __name__ matcher first when the name was written). */
    tsdb_matcher *matchers;
    size_t nmatchers;
    int named;         /* the metric name was written before the braces (it is matchers[0]) */
    int64_t range_ms;  /* PROMQL_MATRIX_SELECTOR and PROMQL_SUBQUERY */
    int64_t step_ms;   /* PROMQL_SUBQUERY: 0 = the default evaluation interval */
    int64_t offset_ms; /* selectors and subqueries */
    promql_at at;
    int64_t at_ms;
    /* Operators, aggregations, calls. */
    promql_op op;
    struct promql_expr *lhs; /* binary lhs; operand of unary, paren, subquery, aggregate */
    struct promql_expr *rhs; /* binary rhs */
    struct promql_expr *param; /* aggregate parameter (topk's k, quantile's q, ...) or NULL */
    int return_bool;           /* binary: `bool` */
    int matching;              /* binary: an on(...) or ignoring(...) clause was written */
    int on;                    /* binary: on (1) or ignoring (0) */
    promql_card card;
    promql_names match_labels;   /* on/ignoring labels */
    promql_names include_labels; /* group_left/group_right labels */
    promql_names grouping;       /* aggregate by/without labels */
    int without;                 /* aggregate: without (1) or by (0) */
    int have_grouping;           /* aggregate: by/without was written */
    const struct promql_func *func; /* PROMQL_CALL */
    struct promql_expr **args;
    size_t nargs;
} promql_expr;

/* Parses q. Returns 0 and a new tree in *out (free with promql_expr_free), -EINVAL with the
 * message in err, or -ENOMEM. */
int promql_parse(const char *q, promql_expr **out, char *err, size_t errlen);
void promql_expr_free(promql_expr *e);
/* "scalar", "string", "vector" or "matrix": the type an expression evaluates to. */
const char *promql_value_type(const promql_expr *e);
/* Prometheus's documented type names: "scalar", "string", "instant vector", "range vector". */
const char *promql_type_doc(promql_type t);
/* The operator's text ("+", "==", "and", "sum", "count_values"...), "" for NONE. */
const char *promql_op_name(promql_op op);
/* Appends the canonical text of e (as Prometheus's String(): the format_query form) to out.
 * Returns 0 or the buf error. */
int promql_format(const promql_expr *e, buf *out);

#endif
