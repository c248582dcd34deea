/* eval_int: the evaluator's internals shared by eval.c (selectors, functions, driver),
 * binop.c (binary operators and vector matching) and agg.c (aggregations).
 *
 * Every node is evaluated over all steps of the current range at once (an instant query is a
 * range of one step). An instant-vector value is a list of series, each with points at step
 * times; operators and aggregations walk the steps, build the vectors of each step, and feed
 * their results to a sink that finds or creates the output series by label set. Labels made
 * during evaluation live in an arena that the final result keeps. */
#ifndef DD_PROMQL_EVAL_INT_H
#define DD_PROMQL_EVAL_INT_H

#include "eval.h"
#include "func.h"

#include <stdarg.h>

/* A bump allocator for labels and strings made during one evaluation. */
typedef struct pq_chunk pq_chunk;
typedef struct pq_arena {
    pq_chunk *head;
    size_t bytes; /* total allocated, counted against the memory limit */
} pq_arena;
void *pq_arena_alloc(pq_arena *a, size_t n);
void pq_arena_free(pq_arena *a);

/* A uint64 -> size_t multimap (open addressing); keys may repeat (hash collisions). */
typedef struct pq_map {
    uint64_t *keys;
    size_t *vals;
    unsigned char *used;
    size_t cap, n;
} pq_map;
int pq_map_put(pq_map *m, uint64_t key, size_t val);
/* Iterates values stored under key: start with *it = 0; returns 1 and *val, or 0 at the end. */
int pq_map_next(const pq_map *m, uint64_t key, size_t *it, size_t *val);
void pq_map_free(pq_map *m);

typedef struct pq_series {
    const labels *ls;
    sample *pts;
    size_t n, cap;
    size_t cur; /* cursor for step walks */
} pq_series;

typedef struct pq_value {
    promql_type type;
    double *scalar; /* nsteps values */
    char *str;      /* string (in the arena) */
    pq_series *s;   /* vector (points at step times) or matrix (raw samples) */
    size_t ns;
} pq_value;

/* The output of an operator over all steps: series found by label set. */
typedef struct pq_sink {
    pq_series *s;
    size_t n, cap;
    pq_map map;
} pq_sink;

/* One element of an instant vector at one step. */
typedef struct pq_elem {
    const labels *ls;
    double v;
    size_t src; /* index of the series it came from */
} pq_elem;

typedef struct pq_ctx {
    const promql_querier *q;
    promql_opts o;
    int64_t start, end, step; /* the range being evaluated now (subqueries nest) */
    size_t nsteps;
    int64_t qstart, qend; /* the query's own start and end, for @ start() / end() */
    int range_query;      /* the query is a range query (tiers may be used) */
    int tier_exact;       /* the range selector being loaded may read a tier exactly */
    pq_arena arena;
    tsdb_series_set **sets; /* kept alive: labels point into them */
    size_t nsets;
    size_t samples; /* samples held now */
    size_t peak;
    int64_t deadline; /* monotonic ms */
    unsigned long ticks;
    char *err;
    size_t errlen;
    char **warnings, **infos;
    size_t nwarnings, ninfos;
    const char *query; /* the query text, for positions in annotations */
} pq_ctx;

int pq_errorf(pq_ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds a warning (info=0) or info (info=1) annotation, with the node position when pos >= 0. */
void pq_annotate(pq_ctx *c, int info, int pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Counts n more samples held; -E2BIG (with the message) over the limit; checks the timeout. */
int pq_account(pq_ctx *c, size_t n);
int pq_tick(pq_ctx *c);
/* Go's %g of v into out (NaN, +Inf, -Inf spelled as Go does), for messages. */
const char *pq_fmt_g(double v, char *out, size_t cap);

int64_t pq_step_time(const pq_ctx *c, size_t k);
void pq_value_free(pq_ctx *c, pq_value *v);

int pq_sink_find(pq_ctx *c, pq_sink *s, const labels *ls, size_t *idx);
/* Appends (t, v) to series idx; a second point at the same t is Prometheus's "vector cannot
 * contain metrics with the same labelset". */
int pq_sink_append(pq_ctx *c, pq_sink *s, size_t idx, int64_t t, double v);
int pq_sink_add(pq_ctx *c, pq_sink *s, const labels *ls, int64_t t, double v);
/* Moves the sink's series into a vector value (sink emptied). */
void pq_sink_to_value(pq_sink *s, pq_value *out);
void pq_sink_free(pq_ctx *c, pq_sink *s);
/* Ends a result: the sink becomes out when rc is 0, else it is freed. Returns rc. */
int pq_sink_finish(pq_ctx *c, pq_sink *sink, int rc, pq_value *out);
/* The output series of a result over input labels ls (the name dropped when asked): its index
 * in the sink, created on first use. Returns 0 or an error set in c. */
int pq_out_idx(pq_ctx *c, pq_sink *sink, const labels *ls, int drop, size_t *idx);

/* The elements of vector value v present at step k (advancing each series' cursor; steps must
 * be visited in order). Returns the count; *out is reallocated as needed. */
int pq_vector_at(pq_ctx *c, pq_value *v, size_t k, pq_elem **out, size_t *cap, size_t *n);
void pq_reset_cursors(pq_value *v);

/* Label building: copies of ls with changes, allocated in the arena. */
typedef struct pq_lb {
    label v[LABELS_MAX * 2 + 2];
    size_t n;
} pq_lb;
void pq_lb_init(pq_lb *b, const labels *ls);
void pq_lb_del(pq_lb *b, const char *name);
void pq_lb_set(pq_lb *b, const char *name, const char *value); /* "" deletes */
void pq_lb_keep(pq_lb *b, char *const *names, size_t n);
const char *pq_lb_get(const pq_lb *b, const char *name);
/* The built set as a labels view over b (valid while b lives). */
labels pq_lb_view(pq_lb *b);
/* A copy of ls in the arena (strings not copied: they must outlive the evaluation). */
const labels *pq_labels_dup(pq_ctx *c, const labels *ls);
char *pq_strdup(pq_ctx *c, const char *s);
/* Hash of the labels of ls restricted by names (on: only names; else all but names and
 * __name__), for vector matching and grouping. */
uint64_t pq_signature(const labels *ls, char *const *names, size_t n, int on);

int pq_eval(pq_ctx *c, const promql_expr *e, pq_value *out);
int pq_eval_binary(pq_ctx *c, const promql_expr *e, pq_value *out);
int pq_eval_aggregate(pq_ctx *c, const promql_expr *e, pq_value *out);

#endif
