/* promqltest: runs PromQL test scripts in Prometheus's promqltest format against dashdot's
 * engine and an in-memory store.
 *
 *   build/promqltest [--tier raw|auto|1m|1h] FILE_OR_DIR...
 *
 * Commands: `load <step>` (series lines with the expanding notation: 1+2x10, 1-1x3, 5x4, _,
 * _x3, stale), `clear`, `eval instant at <t> <expr>`, `eval range from <t> to <t> step <d>
 * <expr>`, the older `eval_fail`, `eval_ordered`, `eval_warn`, `eval_info` forms with
 * `expected_fail_message` / `expected_fail_regexp`, and the newer `expect fail|ordered|warn|
 * no_warn|info|no_info|string "..."|range vector from <t> to <t> step <d>` lines, with
 * `msg: ...` / `regex: ...` for failures. Each eval is one test: a failure prints
 * file:line, the expression, what was expected and what came out. Ends with
 * "N passed, N failed"; exit status 1 if anything failed. */
#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/mem.h"
#include "lib/sample.h"
#include "lib/timeutil.h"
#include "promql/eval.h"
#include "promql/parse.h"
#include "tsdb/tsdb.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int passed, failed;
/* Which tier selectors read. auto by default, as the server does: the engine reads a tier only
 * where it gives exactly the raw answer (docs/promql.md), so the scripts' Prometheus results
 * must hold either way. --tier raw|1m|1h changes it (forced tiers approximate). */
static tsdb_tier tier = TSDB_TIER_AUTO;

/* ---- small parsers ------------------------------------------------------------------------ */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A time or duration: "0", "5m", "1h30m", or seconds. */
static int parse_dur(const char *s, int64_t *ms)
{
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    if (timeutil_parse_duration(s, ms) == 0)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno)
        return -1;
    *ms = (int64_t)llround(v * 1000);
    return 0;
}

/* A number of the series notation (no hex): [+-](Inf|NaN|digits[.digits][e[+-]digits]). */
static int scan_number(const char **p, double *v)
{
    const char *s = *p;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (strncasecmp(s, "inf", 3) == 0) {
        *v = neg ? -INFINITY : INFINITY;
        *p = s + 3;
        return 0;
    }
    if (strncasecmp(s, "nan", 3) == 0) {
        *v = NAN;
        *p = s + 3;
        return 0;
    }
    const char *d = s;
    while (isdigit((unsigned char)*d))
        d++;
    if (*d == '.') {
        d++;
        while (isdigit((unsigned char)*d))
            d++;
    }
    if (d == s)
        return -1;
    if ((*d == 'e' || *d == 'E') &&
        (isdigit((unsigned char)d[1]) ||
         ((d[1] == '+' || d[1] == '-') && isdigit((unsigned char)d[2])))) {
        d += 2;
        while (isdigit((unsigned char)*d))
            d++;
    }
    char tmp[64];
    size_t n = (size_t)(d - s);
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *v = strtod(tmp, NULL);
    if (neg)
        *v = -*v;
    *p = d;
    return 0;
}

/* One value of a series line, expanded: appends to vals (omitted values as flagged). */
typedef struct seqval {
    double v;
    int omitted;
} seqval;

static int push(seqval **vals, size_t *n, size_t *cap, double v, int omitted)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        seqval *nv = realloc(*vals, nc * sizeof *nv);
        if (!nv)
            return -1;
        *vals = nv;
        *cap = nc;
    }
    (*vals)[*n].v = v;
    (*vals)[(*n)++].omitted = omitted;
    return 0;
}

static int parse_values(const char *s, seqval **vals, size_t *n)
{
    size_t cap = 0;
    *vals = NULL;
    *n = 0;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            return 0;
        if (*s == '{' && s[1] == '{')
            return -2; /* native histogram */
        if (*s == '_') {
            s++;
            long times = 1;
            if (*s == 'x') {
                char *end;
                times = strtol(s + 1, &end, 10);
                s = end;
            }
            for (long i = 0; i < times; i++)
                if (push(vals, n, &cap, 0, 1))
                    return -1;
            continue;
        }
        if (strncmp(s, "stale", 5) == 0) {
            s += 5;
            if (push(vals, n, &cap, sample_stale_value(), 0))
                return -1;
            continue;
        }
        double v;
        if (scan_number(&s, &v))
            return -1;
        double inc = 0;
        if ((*s == '+' || *s == '-') && s[1] != '\0' && !isspace((unsigned char)s[1])) {
            if (scan_number(&s, &inc))
                return -1;
        }
        if (*s == 'x') {
            char *end;
            long times = strtol(s + 1, &end, 10);
            if (end == s + 1)
                return -1;
            s = end;
            for (long i = 0; i <= times; i++) {
                if (push(vals, n, &cap, v, 0))
                    return -1;
                v += inc;
            }
        } else {
            if (inc != 0)
                return -1;
            if (push(vals, n, &cap, v, 0))
                return -1;
        }
        if (*s && !isspace((unsigned char)*s))
            return -1;
    }
}

/* A series description `name{a="b", ...}` at *p. Label strings are allocated into store. */
typedef struct lset {
    label v[LABELS_MAX + 1];
    size_t n;
    char *mem[2 * (LABELS_MAX + 1)];
    size_t nmem;
} lset;

static void lset_free(lset *l)
{
    for (size_t i = 0; i < l->nmem; i++)
        free(l->mem[i]);
    l->n = l->nmem = 0;
}

static char *keep(lset *l, const char *s, size_t n)
{
    if (l->nmem >= sizeof l->mem / sizeof l->mem[0])
        return NULL;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    l->mem[l->nmem++] = d;
    return d;
}

static int add_label(lset *l, const char *name, size_t nl, const char *value, size_t vl)
{
    if (l->n >= LABELS_MAX)
        return -1;
    char *nm = keep(l, name, nl), *vv = keep(l, value, vl);
    if (!nm || !vv)
        return -1;
    if (!*vv)
        return 0;
    l->v[l->n].name = nm;
    l->v[l->n].value = vv;
    l->n++;
    return 0;
}

/* Reads a quoted string with Go escapes into out (at most cap). */
static int read_quoted(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    char q = *s++;
    size_t n = 0;
    while (*s && *s != q) {
        char c = *s++;
        if (c == '\\' && q != '`') {
            c = *s++;
            switch (c) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case '\\':
            case '"':
            case '\'':
                break;
            default:
                return -1;
            }
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    if (*s != q)
        return -1;
    out[n] = '\0';
    *p = s + 1;
    return 0;
}

static int parse_series_desc(const char **p, lset *l, int allow_empty)
{
    const char *s = *p;
    l->n = 0;
    while (isspace((unsigned char)*s))
        s++;
    const char *nm = s;
    while (isalnum((unsigned char)*s) || *s == '_' || *s == ':')
        s++;
    if (s > nm && add_label(l, LABELS_NAME, strlen(LABELS_NAME), nm, (size_t)(s - nm)))
        return -1;
    if (*s == '{') {
        s++;
        for (;;) {
            while (isspace((unsigned char)*s) || *s == ',')
                s++;
            if (*s == '}') {
                s++;
                break;
            }
            char name[LABELS_MAX_NAME + 1];
            if (*s == '"') {
                if (read_quoted(&s, name, sizeof name))
                    return -1;
            } else {
                const char *a = s;
                while (isalnum((unsigned char)*s) || *s == '_')
                    s++;
                if (s == a || (size_t)(s - a) > LABELS_MAX_NAME)
                    return -1;
                memcpy(name, a, (size_t)(s - a));
                name[s - a] = '\0';
            }
            while (isspace((unsigned char)*s))
                s++;
            if (*s != '=') {
                /* {"metric.name"}: a quoted name alone. */
                if (add_label(l, LABELS_NAME, strlen(LABELS_NAME), name, strlen(name)))
                    return -1;
                continue;
            }
            s++;
            while (isspace((unsigned char)*s))
                s++;
            char value[LABELS_MAX_VALUE + 1];
            if ((*s != '"' && *s != '\'' && *s != '`') || read_quoted(&s, value, sizeof value))
                return -1;
            if (add_label(l, name, strlen(name), value, strlen(value)))
                return -1;
        }
    }
    if (l->n == 0 && !allow_empty)
        return -1;
    labels ls = {l->v, l->n};
    labels_sort(&ls);
    *p = s;
    return 0;
}

/* ---- results -------------------------------------------------------------------------------- */

static int almost_equal(double a, double b)
{
    if (isnan(a) && isnan(b))
        return 1;
    if (a == b)
        return 1;
    const double eps = 0.000001, min_normal = 2.2250738585072014e-308;
    double abs_sum = fabs(a) + fabs(b), diff = fabs(a - b);
    if (a == 0 || b == 0 || abs_sum < min_normal)
        return diff < eps * min_normal;
    return diff / fmin(abs_sum, 1.7976931348623157e308) < eps;
}

static void fmt_labels(const labels *ls, buf *b)
{
    buf_putc(b, '{');
    for (size_t i = 0; i < ls->n; i++)
        buf_printf(b, "%s%s=\"%s\"", i ? ", " : "", ls->v[i].name, ls->v[i].value);
    buf_putc(b, '}');
}

typedef struct expected {
    lset ls;
    seqval *vals;
    size_t n;
    int matched;
} expected;

typedef struct evalcmd {
    const char *file;
    int line;
    char expr[8192];
    int range;
    int64_t start, end, step;
    int expect_fail, ordered, warn, no_warn, info, no_info;
    char fail_msg[1024];
    int fail_regex;
    char warn_msg[1024];
    int warn_regex;
    int expect_string;
    char string[1024];
    int expect_matrix; /* instant query answering a range vector */
    int64_t m_start, m_end, m_step;
    int have_scalar;
    double scalar;
    expected *exp;
    size_t nexp;
} evalcmd;

static void report(const evalcmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(const evalcmd *c, const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s:%d: %s\n    ", c->file, c->line, c->expr);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static int regex_match(const char *re, const char *s)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
    if (!c)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int rc = md ? pcre2_match(c, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    return rc >= 0;
}

static void describe_result(const promql_result *r, buf *b)
{
    switch (r->type) {
    case PROMQL_T_SCALAR:
        buf_printf(b, "scalar %.17g", r->scalar.v);
        break;
    case PROMQL_T_STRING:
        buf_printf(b, "string \"%s\"", r->string);
        break;
    default:
        for (size_t i = 0; i < r->nseries && i < 50; i++) {
            buf_puts(b, "\n      ");
            fmt_labels(r->series[i].ls, b);
            for (size_t k = 0; k < r->series[i].n && k < 40; k++) {
                if (r->type == PROMQL_T_MATRIX)
                    buf_printf(b, " %.17g@%lld", r->series[i].points[k].v,
                               (long long)(r->series[i].points[k].t / 1000));
                else
                    buf_printf(b, " %.17g", r->series[i].points[k].v);
            }
        }
        if (r->nseries == 0)
            buf_puts(b, "(empty)");
    }
}

static void describe_expected(const evalcmd *c, buf *b)
{
    if (c->have_scalar) {
        buf_printf(b, "scalar %.17g", c->scalar);
        return;
    }
    for (size_t i = 0; i < c->nexp; i++) {
        buf_puts(b, "\n      ");
        labels ls = {(label *)c->exp[i].ls.v, c->exp[i].ls.n};
        fmt_labels(&ls, b);
        for (size_t k = 0; k < c->exp[i].n; k++) {
            if (c->exp[i].vals[k].omitted)
                buf_puts(b, " _");
            else
                buf_printf(b, " %.17g", c->exp[i].vals[k].v);
        }
    }
    if (!c->nexp)
        buf_puts(b, "(empty)");
}

/* Compares a result with the expectation; returns 1 if it matches. */
static int check_result(evalcmd *c, const promql_result *r, char *why, size_t cap)
{
    if (c->expect_string) {
        if (r->type != PROMQL_T_STRING || strcmp(r->string, c->string) != 0) {
            snprintf(why, cap, "expected string \"%.500s\"", c->string);
            return 0;
        }
        return 1;
    }
    if (c->have_scalar) {
        if (r->type != PROMQL_T_SCALAR) {
            snprintf(why, cap, "expected a scalar, got a %s", promql_type_name(r->type));
            return 0;
        }
        if (!almost_equal(c->scalar, r->scalar.v)) {
            snprintf(why, cap, "expected scalar %.17g, got %.17g", c->scalar, r->scalar.v);
            return 0;
        }
        return 1;
    }
    if (r->type == PROMQL_T_SCALAR && c->nexp == 0 && !c->range) {
        snprintf(why, cap, "got a scalar, expected a vector");
        return 0;
    }
    if (r->type == PROMQL_T_STRING) {
        snprintf(why, cap, "got a string, expected a vector");
        return 0;
    }
    int matrix = c->range || c->expect_matrix;
    int64_t s0 = c->range ? c->start : c->m_start, st = c->range ? c->step : c->m_step;
    if (matrix != (r->type == PROMQL_T_MATRIX) && !(c->range && r->type == PROMQL_T_MATRIX)) {
        snprintf(why, cap, "expected a %s, got a %s", matrix ? "range vector" : "vector",
                 promql_type_name(r->type));
        return 0;
    }
    for (size_t i = 0; i < c->nexp; i++)
        c->exp[i].matched = 0;
    size_t nres = r->nseries;
    if (nres != c->nexp) {
        snprintf(why, cap, "expected %zu series, got %zu", c->nexp, nres);
        return 0;
    }
    for (size_t i = 0; i < nres; i++) {
        const promql_series *s = &r->series[i];
        size_t j;
        if (c->ordered) {
            j = i;
            labels el = {(label *)c->exp[j].ls.v, c->exp[j].ls.n};
            if (labels_cmp(&el, s->ls) != 0) {
                snprintf(why, cap, "series %zu has the wrong labels (ordered)", i);
                return 0;
            }
        } else {
            for (j = 0; j < c->nexp; j++) {
                labels el = {(label *)c->exp[j].ls.v, c->exp[j].ls.n};
                if (!c->exp[j].matched && labels_cmp(&el, s->ls) == 0)
                    break;
            }
            if (j == c->nexp) {
                buf b;
                buf_init(&b, 0);
                fmt_labels(s->ls, &b);
                buf_putc(&b, '\0');
                snprintf(why, cap, "unexpected series %.500s", b.data);
                buf_free(&b);
                return 0;
            }
        }
        expected *x = &c->exp[j];
        x->matched = 1;
        if (!matrix) {
            if (x->n != 1 || s->n != 1 || !almost_equal(x->vals[0].v, s->points[0].v)) {
                snprintf(why, cap, "series %zu: value mismatch", i);
                return 0;
            }
            continue;
        }
        /* Expected points at s0 + k*st, skipping omitted ones. */
        size_t p = 0;
        for (size_t k = 0; k < x->n; k++) {
            if (x->vals[k].omitted)
                continue;
            int64_t t = s0 + (int64_t)k * st;
            if (p >= s->n || s->points[p].t != t ||
                !(almost_equal(x->vals[k].v, s->points[p].v) ||
                  (sample_is_stale(x->vals[k].v) && sample_is_stale(s->points[p].v)))) {
                snprintf(why, cap, "series %zu: point %zu (t=%llds) mismatch", i, k,
                         (long long)(t / 1000));
                return 0;
            }
            p++;
        }
        if (p != s->n) {
            snprintf(why, cap, "series %zu: %zu extra points", i, s->n - p);
            return 0;
        }
    }
    return 1;
}

static void run_eval(tsdb *db, evalcmd *c)
{
    promql_expr *e = NULL;
    char err[1024] = "";
    promql_result r = {0};
    promql_querier q = promql_querier_tsdb(db);
    promql_opts o = {.query = c->expr, .tier = tier};
    int rc = promql_parse(c->expr, &e, err, sizeof err);
    if (!rc)
        rc = c->range ? promql_eval_range(&q, e, c->start, c->end, c->step, &o, &r, err, sizeof err)
                      : promql_eval_instant(&q, e, c->start, &o, &r, err, sizeof err);
    int ok = 1;
    char why[8192] = "";
    if (c->expect_fail) {
        if (!rc) {
            snprintf(why, sizeof why, "expected an error, got success");
            ok = 0;
        } else if (c->fail_msg[0] && (c->fail_regex ? !regex_match(c->fail_msg, err)
                                                    : strcmp(c->fail_msg, err) != 0)) {
            snprintf(why, sizeof why, "expected error %s \"%.1000s\"\n    got error \"%.1000s\"",
                     c->fail_regex ? "matching" : "", c->fail_msg, err);
            ok = 0;
        }
    } else if (rc) {
        snprintf(why, sizeof why, "unexpected error: %.1000s", err);
        ok = 0;
    } else {
        ok = check_result(c, &r, why, sizeof why);
        if (ok && c->warn && r.nwarnings == 0) {
            snprintf(why, sizeof why, "expected warnings, got none");
            ok = 0;
        }
        if (ok && c->warn && c->warn_msg[0]) {
            int any = 0;
            for (size_t i = 0; i < r.nwarnings; i++)
                any |= c->warn_regex ? regex_match(c->warn_msg, r.warnings[i])
                                     : strstr(r.warnings[i], c->warn_msg) != NULL;
            if (!any) {
                snprintf(why, sizeof why, "no warning matches \"%.1000s\"", c->warn_msg);
                ok = 0;
            }
        }
        if (ok && c->no_warn && r.nwarnings) {
            snprintf(why, sizeof why, "unexpected warning: %.1000s", r.warnings[0]);
            ok = 0;
        }
        if (ok && c->info && r.ninfos == 0) {
            snprintf(why, sizeof why, "expected infos, got none");
            ok = 0;
        }
        if (ok && c->no_info && r.ninfos) {
            snprintf(why, sizeof why, "unexpected info: %.1000s", r.infos[0]);
            ok = 0;
        }
        if (!ok) {
            buf b;
            buf_init(&b, 0);
            buf_puts(&b, "\n    expected: ");
            describe_expected(c, &b);
            buf_puts(&b, "\n    got: ");
            describe_result(&r, &b);
            for (size_t i = 0; i < r.nwarnings; i++)
                buf_printf(&b, "\n    warning: %s", r.warnings[i]);
            for (size_t i = 0; i < r.ninfos; i++)
                buf_printf(&b, "\n    info: %s", r.infos[i]);
            buf_putc(&b, '\0');
            size_t l = strlen(why);
            snprintf(why + l, sizeof why - l, "%s", b.data);
            buf_free(&b);
        }
    }
    if (ok) {
        passed++;
    } else {
        failed++;
        report(c, "%s", why);
    }
    if (!rc)
        promql_result_free(&r);
    promql_expr_free(e);
}

static void eval_free(evalcmd *c)
{
    for (size_t i = 0; i < c->nexp; i++) {
        lset_free(&c->exp[i].ls);
        free(c->exp[i].vals);
    }
    free(c->exp);
    c->exp = NULL;
    c->nexp = 0;
}

/* ---- the script ----------------------------------------------------------------------------- */

static int open_db(tsdb **db)
{
    tsdb_options o = {0};
    o.dir = NULL;
    o.retention_ms = INT64_MAX / 4; /* samples start at 1970 */
    o.retention_1m_ms = INT64_MAX / 4;
    return tsdb_open(db, &o);
}

static int load_series(tsdb *db, const char *file, int line, char *text, int64_t step)
{
    const char *p = text;
    lset l = {0};
    if (parse_series_desc(&p, &l, 0)) {
        printf("ERROR %s:%d: cannot parse series \"%s\"\n", file, line, text);
        lset_free(&l);
        return -1;
    }
    seqval *vals = NULL;
    size_t n = 0;
    int rc = parse_values(p, &vals, &n);
    if (rc) {
        printf("%s %s:%d: %s \"%s\"\n", rc == -2 ? "SKIP" : "ERROR", file, line,
               rc == -2 ? "native histograms are not supported:" : "cannot parse values", text);
        free(vals);
        lset_free(&l);
        return rc == -2 ? 0 : -1;
    }
    sample *s = malloc((n + 1) * sizeof *s);
    size_t ns = 0;
    for (size_t i = 0; s && i < n; i++) {
        if (vals[i].omitted)
            continue;
        s[ns].t = (int64_t)i * step;
        s[ns].v = vals[i].v;
        ns++;
    }
    tsdb_appender *a = NULL;
    tsdb_append_stats st = {0};
    tsdb_series_in in = {{l.v, l.n}, s, ns};
    rc = s ? tsdb_appender_begin(db, &a) : -ENOMEM;
    if (!rc)
        rc = tsdb_appender_add(a, &in);
    if (!rc)
        rc = tsdb_appender_commit(a, &st);
    else
        tsdb_appender_rollback(a);
    if (!rc && st.accepted != ns)
        printf("WARN %s:%d: the store accepted %zu of %zu samples (too old %zu, out of order "
               "%zu, duplicates %zu)\n",
               file, line, st.accepted, ns, st.too_old, st.out_of_order, st.duplicates);
    free(s);
    free(vals);
    lset_free(&l);
    return rc;
}

/* Parses `expect ...` and old-style expectation lines; returns 1 if the line was one. */
static int parse_expect(evalcmd *c, char *t)
{
    if (strncmp(t, "expected_fail_message ", 22) == 0) {
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", t + 22);
        c->expect_fail = 1;
        return 1;
    }
    if (strncmp(t, "expected_fail_regexp ", 21) == 0) {
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", t + 21);
        c->fail_regex = 1;
        c->expect_fail = 1;
        return 1;
    }
    if (strncmp(t, "expect ", 7) != 0)
        return 0;
    t = trim(t + 7);
    char *rest;
    if (strncmp(t, "fail", 4) == 0) {
        c->expect_fail = 1;
        rest = trim(t + 4);
        if (strncmp(rest, "msg:", 4) == 0)
            snprintf(c->fail_msg, sizeof c->fail_msg, "%s", trim(rest + 4));
        else if (strncmp(rest, "regex:", 6) == 0) {
            snprintf(c->fail_msg, sizeof c->fail_msg, "%s", trim(rest + 6));
            c->fail_regex = 1;
        }
    } else if (strcmp(t, "ordered") == 0) {
        c->ordered = 1;
    } else if (strncmp(t, "no_warn", 7) == 0) {
        c->no_warn = 1;
    } else if (strncmp(t, "warn", 4) == 0) {
        c->warn = 1;
        rest = trim(t + 4);
        if (strncmp(rest, "msg:", 4) == 0)
            snprintf(c->warn_msg, sizeof c->warn_msg, "%s", trim(rest + 4));
        else if (strncmp(rest, "regex:", 6) == 0) {
            snprintf(c->warn_msg, sizeof c->warn_msg, "%s", trim(rest + 6));
            c->warn_regex = 1;
        }
    } else if (strncmp(t, "no_info", 7) == 0) {
        c->no_info = 1;
    } else if (strncmp(t, "info", 4) == 0) {
        c->info = 1;
    } else if (strncmp(t, "string", 6) == 0) {
        /* `expect string "x"`, or the rest of the line after one space: `expect string x`. */
        const char *p = t + 6;
        c->expect_string = 1;
        if (*p == ' ')
            p++;
        if (*p == '"' || *p == '\'' || *p == '`') {
            if (read_quoted(&p, c->string, sizeof c->string))
                c->string[0] = '\0';
        } else {
            snprintf(c->string, sizeof c->string, "%s", p);
        }
    } else if (strncmp(t, "range vector", 12) == 0) {
        char a[64], b[64], d[64];
        if (sscanf(t + 12, " from %63s to %63s step %63s", a, b, d) == 3 &&
            !parse_dur(a, &c->m_start) && !parse_dur(b, &c->m_end) && !parse_dur(d, &c->m_step))
            c->expect_matrix = 1;
    }
    return 1;
}

static int run_file(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        printf("ERROR %s: %s\n", file, strerror(errno));
        failed++;
        return -1;
    }
    tsdb *db = NULL;
    if (open_db(&db)) {
        printf("ERROR: cannot open the store\n");
        fclose(f);
        failed++;
        return -1;
    }
    char line[65536];
    int lineno = 0;
    enum { NONE, LOAD, EVAL } mode = NONE;
    int64_t load_step = 0;
    evalcmd *ev = calloc(1, sizeof *ev);
    int have_eval = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *t = trim(line);
        if (*t == '#')
            continue;
        if (!*t) {
            if (have_eval) {
                run_eval(db, ev);
                eval_free(ev);
                have_eval = 0;
            }
            mode = NONE;
            continue;
        }
        int indented = isspace((unsigned char)line[0]);
        if (!indented || mode == NONE) {
            if (have_eval) {
                run_eval(db, ev);
                eval_free(ev);
                have_eval = 0;
            }
            mode = NONE;
            if (strncmp(t, "load", 4) == 0 &&
                (t[4] == ' ' || strncmp(t, "load_with_nhcb", 14) == 0)) {
                char *arg = trim(strchr(t, ' ') ? strchr(t, ' ') : t + strlen(t));
                if (parse_dur(arg, &load_step) || load_step <= 0) {
                    printf("ERROR %s:%d: bad load step \"%s\"\n", file, lineno, arg);
                    failed++;
                    continue;
                }
                mode = LOAD;
                continue;
            }
            if (strcmp(t, "clear") == 0) {
                tsdb_close(db);
                db = NULL;
                if (open_db(&db)) {
                    printf("ERROR: cannot open the store\n");
                    failed++;
                    break;
                }
                continue;
            }
            if (strncmp(t, "eval", 4) == 0) {
                memset(ev, 0, sizeof *ev);
                ev->file = file;
                ev->line = lineno;
                char *p = t + 4;
                if (strncmp(p, "_fail", 5) == 0) {
                    ev->expect_fail = 1;
                    p += 5;
                } else if (strncmp(p, "_ordered", 8) == 0) {
                    ev->ordered = 1;
                    p += 8;
                } else if (strncmp(p, "_warn", 5) == 0) {
                    ev->warn = 1;
                    p += 5;
                } else if (strncmp(p, "_info", 5) == 0) {
                    ev->info = 1;
                    p += 5;
                }
                p = trim(p);
                char a[64], b[64], d[64];
                int used = 0;
                if (sscanf(p, "instant at %63s %n", a, &used) == 1 && used > 0) {
                    if (parse_dur(a, &ev->start))
                        goto bad;
                    ev->end = ev->start;
                    ev->step = 1;
                } else if (sscanf(p, "range from %63s to %63s step %63s %n", a, b, d, &used) == 3 &&
                           used > 0) {
                    if (parse_dur(a, &ev->start) || parse_dur(b, &ev->end) ||
                        parse_dur(d, &ev->step))
                        goto bad;
                    ev->range = 1;
                } else {
                    goto bad;
                }
                snprintf(ev->expr, sizeof ev->expr, "%s", p + used);
                have_eval = 1;
                mode = EVAL;
                continue;
            bad:
                printf("ERROR %s:%d: cannot parse \"%s\"\n", file, lineno, t);
                failed++;
                continue;
            }
            printf("ERROR %s:%d: unknown command \"%s\"\n", file, lineno, t);
            failed++;
            continue;
        }
        if (mode == LOAD) {
            if (load_series(db, file, lineno, t, load_step)) {
                failed++;
            }
            continue;
        }
        /* An expectation line of the current eval. */
        if (parse_expect(ev, t))
            continue;
        if (*t == '"' || *t == '\'' || *t == '`') {
            const char *p = t;
            ev->expect_string = 1;
            if (read_quoted(&p, ev->string, sizeof ev->string))
                ev->string[0] = '\0';
            continue;
        }
        if (isdigit((unsigned char)*t) || *t == '-' || *t == '+' || *t == '.' ||
            strncasecmp(t, "nan", 3) == 0 || strncasecmp(t, "inf", 3) == 0) {
            const char *p = t;
            double v;
            if (!scan_number(&p, &v) && !*trim((char *)p)) {
                ev->have_scalar = 1;
                ev->scalar = v;
                continue;
            }
        }
        expected *nx = realloc(ev->exp, (ev->nexp + 1) * sizeof *nx);
        if (!nx)
            break;
        ev->exp = nx;
        expected *x = &ev->exp[ev->nexp];
        memset(x, 0, sizeof *x);
        const char *p = t;
        if (parse_series_desc(&p, &x->ls, 1) || parse_values(p, &x->vals, &x->n)) {
            printf("ERROR %s:%d: cannot parse expected result \"%s\"\n", file, lineno, t);
            lset_free(&x->ls);
            free(x->vals);
            failed++;
            continue;
        }
        ev->nexp++;
    }
    if (have_eval) {
        run_eval(db, ev);
        eval_free(ev);
    }
    free(ev);
    fclose(f);
    tsdb_close(db);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        printf("ERROR %s: %s\n", path, strerror(errno));
        failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        failed++;
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".test") != 0)
            continue;
        char **nv = realloc(names, (n + 1) * sizeof *nv);
        if (!nv)
            break;
        names = nv;
        size_t pl = strlen(path) + l + 2;
        names[n] = malloc(pl);
        if (!names[n])
            break;
        snprintf(names[n], pl, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        run_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: promqltest [--tier raw|auto|1m|1h] FILE_OR_DIR...\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            tier = strcmp(t, "auto") == 0 ? TSDB_TIER_AUTO
                   : strcmp(t, "1m") == 0 ? TSDB_TIER_1M
                   : strcmp(t, "1h") == 0 ? TSDB_TIER_1H
                                          : TSDB_TIER_RAW;
            continue;
        }
        run_path(argv[i]);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
