/* func: PromQL's function table and numeric kernels, on plain arrays (no labels, no tree).
 *
 * The table lists every function of Prometheus 3.x (float samples) with its argument types, its
 * arity rule and how it is evaluated. Functions whose result is one value per series computed
 * from a window of samples (rate, avg_over_time, ...) carry a range kernel; element-wise
 * functions (abs, clamp, hour, ...) carry an element kernel; everything that needs labels,
 * the evaluation time or the whole vector is left to the evaluator (kind SPECIAL).
 * Everything here is pure and reentrant: any thread. */
#ifndef DD_PROMQL_FUNC_H
#define DD_PROMQL_FUNC_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/sample.h"

typedef enum promql_arg {
    PROMQL_ARG_SCALAR,
    PROMQL_ARG_VECTOR,
    PROMQL_ARG_MATRIX,
    PROMQL_ARG_STRING
} promql_arg;

typedef enum promql_fkind {
    PROMQL_FK_RANGE,   /* f(matrix [, scalars]) -> one value per series from its window: ->range */
    PROMQL_FK_ELEM,    /* f(vector [, scalars]) -> element-wise ->elem kernel (drops the name) */
    PROMQL_FK_SPECIAL, /* evaluated by the evaluator itself (label_replace, label_join, sort*,
                          absent*, vector, scalar, time, timestamp, pi, histogram_quantile and
                          the native-histogram functions, see ->native_hist) */
} promql_fkind;

/* A range kernel. pts: the series' samples in the window (start, end] in ms, ascending, stale
 * markers removed (n may be 0). start/end: the window's bounds in ms (end is the evaluation
 * time after offset/@). args: the call's scalar arguments in order of appearance, excluding the
 * matrix (quantile_over_time(phi, m): args[0] = phi; predict_linear(m, t): args[0] = t).
 * predict_linear: args[0] = t (seconds); Prometheus regresses relative to the evaluation step's
 * time, which differs from end under offset or @, so the evaluator may pass that time in ms as
 * args[1] (nargs 2); without it, end is used.
 * Returns 1 and sets *out, or 0 when this series yields no value (e.g. rate with fewer than two
 * points, or an empty window). Never fails otherwise; pts is not modified. */
typedef int (*promql_range_kernel)(const sample *pts, size_t n, int64_t start, int64_t end,
                                   const double *args, size_t nargs, double *out);

/* An element kernel. v: the element's value (for date functions: a unix time in seconds, UTC).
 * args: the scalars after the vector (clamp(v, min, max): args = {min, max}; round(v, to):
 * args = {to}, nargs 0 when omitted). Returns the result value (NaN where Prometheus does). */
typedef double (*promql_elem_kernel)(double v, const double *args, size_t nargs);

typedef struct promql_func {
    const char *name;
    promql_arg ret;
    promql_arg args[5]; /* declared argument types, in order */
    size_t nargs;       /* number of declared argument types */
    /* The arity rule, exactly as Prometheus's parser (checkAST) applies parser.Function.Variadic:
     *   0:  exactly nargs arguments;
     *   n>0: between nargs-1 and nargs-1+n arguments (so 1 means "the last one is optional");
     *   -1: at least nargs-1 arguments, any number more; arguments past the declared list take
     *       the type of the last declared one (label_join's source labels, sort_by_label's labels).
     * promql_func_check_arity and promql_func_arg_type implement it. */
    int variadic;
    promql_fkind kind;
    promql_range_kernel range; /* kind RANGE; NULL otherwise */
    promql_elem_kernel elem;   /* kind ELEM; NULL otherwise (pi has one too: see below) */
    int drops_name;            /* result drops __name__ (true for almost all) */
    /* Fields added after the contract above. */
    int native_hist;  /* 1: only meaningful on native histograms (histogram_count, ...): the
                         evaluator answers "native histograms are not supported" */
    int experimental; /* 1: behind --enable-feature=promql-experimental-functions in Prometheus 3
                         (we always enable them); 2: removed in Prometheus 3 (holt_winters,
                         kept as an alias of double_exponential_smoothing) */
} promql_func;

/* Looks up a function by name (name need not be NUL-terminated; len bytes are compared exactly,
 * case-sensitive). Returns a pointer into a static table (never freed), or NULL if unknown.
 *
 * Notes for the evaluator:
 * - Date functions (minute, hour, day_of_week, day_of_month, day_of_year, days_in_month, month,
 *   year) are kind ELEM with one optional vector argument (variadic 1); called with no argument
 *   they apply to vector(time()), i.e. elem(eval_time_seconds); Prometheus truncates to whole
 *   seconds (the kernels truncate towards zero as Go's int64 conversion). A NaN, infinite or
 *   out-of-int64 time gives NaN (Prometheus on amd64 prints a date in the year 292277026596).
 * - pi() is kind SPECIAL returning a scalar; its elem kernel returns M_PI whatever the input.
 * - time() is SPECIAL: eval time in seconds. timestamp(v) is SPECIAL: each sample's timestamp
 *   in seconds (drops the name).
 * - histogram_quantile(phi, v) is SPECIAL: group buckets by labels without `le`, then
 *   promql_bucket_quantile. */
const promql_func *promql_func_lookup(const char *name, size_t len);

/* Number of entries in the table, and entry i (0 <= i < count), for listings and tests. */
size_t promql_func_count(void);
const promql_func *promql_func_at(size_t i);

/* Checks a call's argument count against f's arity rule (see ->variadic). Returns 0 if valid,
 * -EINVAL otherwise; with msg (may be NULL) receiving Prometheus's wording, e.g.
 * "expected 2 argument(s) in call to \"clamp_max\", got 1". */
int promql_func_check_arity(const promql_func *f, size_t got, char *msg, size_t msglen);

/* The declared type of argument i (0-based) of f, applying the variadic rule: past the declared
 * list, the last declared type. Only meaningful when i < the call's (valid) argument count. */
promql_arg promql_func_arg_type(const promql_func *f, size_t i);

/* Checks a call's scalar arguments (the same args a kernel receives) at one step, before the
 * kernels run. Returns 0 when the call proceeds; 1 when Prometheus yields an empty result at this
 * step (clamp with max < min); -EINVAL with msg set when Prometheus fails the query
 * (double_exponential_smoothing/holt_winters with a smoothing or trend factor outside (0, 1),
 * e.g. "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"). */
int promql_func_check_args(const promql_func *f, const double *args, size_t nargs, char *msg,
                           size_t msglen);

/* Quantile over values (sorts vals in place, ascending, NaN first as Prometheus's sort order),
 * with Prometheus's interpolation: rank = q*(n-1), linear between neighbours.
 * q < 0 -> -Inf, q > 1 -> +Inf, q NaN -> NaN, n == 0 -> NaN. */
double promql_quantile(double q, double *vals, size_t n);

typedef struct promql_bucket {
    double le;
    double count;
} promql_bucket;

/* histogram_quantile over classic buckets (sorts b in place by le; merges duplicate le values and
 * fixes non-monotonic cumulative counts as Prometheus does). Returns NaN when n < 2, when the
 * highest bucket is not +Inf, or when the total count is 0 (or NaN); q < 0 -> -Inf, q > 1 -> +Inf,
 * q NaN -> NaN. */
double promql_bucket_quantile(double q, promql_bucket *b, size_t n);

/* Kahan-compensated summation, as Prometheus's kahanSumInc: adds v to the running *sum with
 * compensation *c (both start at 0). The total is *sum + *c (if *sum is infinite, use *sum:
 * promql_kahan_total does this). */
void promql_kahan_add(double v, double *sum, double *c);
double promql_kahan_total(double sum, double c);

/* Aggregation helpers for the evaluator's avg/stddev/stdvar, matching Prometheus's
 * aggregation code. Start a promql_mean zeroed; add values; read the result. */
typedef struct promql_mean {
    double mean;   /* running mean (incremental form, used once the Kahan sum overflows) */
    double sum, c; /* Kahan sum and compensation */
    double count;
    int incremental; /* switched to incremental mean (the sum overflowed to +-Inf) */
} promql_mean;
void promql_mean_add(promql_mean *m, double v);
double promql_mean_value(const promql_mean *m); /* NaN when nothing was added */

/* Variance accumulator as Prometheus's stddev/stdvar *aggregation* (Welford's method without
 * compensation; the first value being NaN or +-Inf makes the result NaN). stddev_over_time and
 * stdvar_over_time use the Kahan-compensated variant internally, as Prometheus does. Start a
 * promql_var zeroed. */
typedef struct promql_var {
    double count;
    double mean;
    double value; /* running sum of squared deviations */
} promql_var;
void promql_var_add(promql_var *s, double v);
double promql_var_stdvar(const promql_var *s); /* population variance; NaN when empty */
double promql_var_stddev(const promql_var *s); /* sqrt of the above */

#endif
