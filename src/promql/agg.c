/* agg: aggregation operators (sum, avg, min, max, count, group, stddev, stdvar, topk,
 * bottomk, quantile, count_values, limitk, limit_ratio) over groups given by `by` / `without`,
 * step by step. Group membership depends only on a series' labels, so each input series is
 * assigned its group (and output series) once; each step then folds the elements present into
 * per-group accumulators. Output order is the order in which groups first appear, as in
 * Prometheus. */
#include "eval_int.h"

#include "../lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
    size_t step; /* step index + 1 of the last update; 0 = untouched */
    double v;    /* sum, min, max, count... */
    double c;    /* Kahan compensation */
    promql_mean mean;
    promql_var var;
    size_t n;
} acc;

/* Labels of the group of ls: `by` keeps the listed labels, `without` drops them and the name. */
static void group_labels(const promql_expr *e, const labels *ls, pq_lb *b)
{
    pq_lb_init(b, ls);
    if (e->without) {
        pq_lb_del(b, LABELS_NAME);
        for (size_t i = 0; i < e->grouping.n; i++)
            pq_lb_del(b, e->grouping.v[i]);
    } else {
        pq_lb_keep(b, e->grouping.v, e->grouping.n);
    }
}

/* Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
static void format_f(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    int exp = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
    int decimals = prec - 1 - exp;
    if (decimals < 0)
        decimals = 0;
    snprintf(out, cap, "%.*f", decimals, v);
}

typedef struct ranked {
    size_t gid;
    size_t pos; /* position in the step's input, for a stable order */
    double v;
    size_t src;
    const labels *ls;
} ranked;

/* Group, then value (NaN last either way; descending when *desc), then input order. The
 * direction comes through qsort_r's context: evaluations run on several threads at once. */
static int ranked_cmp(const void *pa, const void *pb, void *desc)
{
    const ranked *a = pa, *b = pb;
    int descending = *(const int *)desc;
    if (a->gid != b->gid)
        return a->gid < b->gid ? -1 : 1;
    int an = isnan(a->v), bn = isnan(b->v);
    if (an != bn)
        return an ? 1 : -1;
    if (!an && a->v != b->v)
        return (a->v > b->v) == descending ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int ranked_cmp_pos(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->gid != b->gid)
        return a->gid < b->gid ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* A fraction in [0, 1) from the label set, for limit_ratio's deterministic sampling. */
static double sample_offset(const labels *ls)
{
    uint64_t h = labels_hash(ls);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double)(h >> 11) / 9007199254740992.0;
}

int pq_eval_aggregate(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    pq_value in = {0}, param = {0};
    pq_sink sink = {0};
    pq_elem *el = NULL;
    size_t elcap = 0, nel = 0;
    size_t *gid = NULL; /* per input series: its group */
    size_t *oid = NULL; /* per input series: its output series (selecting aggregations) */
    const labels **glabels = NULL; /* per group: one member's labels */
    acc *accs = NULL;
    size_t ngroups = 0, gcap = 0;
    ranked *rk = NULL;
    pq_map groups = {0};
    const char *cv_label = NULL;
    int rc = 0;
    promql_op op = e->op;
    int selecting = op == PROMQL_OP_TOPK || op == PROMQL_OP_BOTTOMK || op == PROMQL_OP_LIMITK ||
                    op == PROMQL_OP_LIMIT_RATIO;
    if (e->param) {
        if ((rc = pq_eval(c, e->param, &param)))
            goto out;
        if (op == PROMQL_OP_COUNT_VALUES) {
            cv_label = param.str;
            if (!labels_valid_name(cv_label)) {
                rc = pq_errorf(c, -EDOM, "invalid label name \"%s\"", cv_label);
                goto out;
            }
        }
    }
    if ((rc = pq_eval(c, e->lhs, &in)))
        goto out;
    gid = mem_alloc((in.ns + 1) * sizeof *gid);
    oid = mem_alloc((in.ns + 1) * sizeof *oid);
    rk = mem_alloc((in.ns + 1) * sizeof *rk);
    if (!gid || !oid || !rk) {
        rc = pq_errorf(c, -ENOMEM, "out of memory");
        goto out;
    }
    /* Assign groups. */
    for (size_t i = 0; !rc && i < in.ns; i++) {
        oid[i] = SIZE_MAX;
        pq_lb b;
        group_labels(e, in.s[i].ls, &b);
        labels gl = pq_lb_view(&b);
        uint64_t h = labels_hash(&gl);
        size_t it = 0, g = SIZE_MAX, v;
        while (pq_map_next(&groups, h, &it, &v)) {
            pq_lb b2;
            group_labels(e, glabels[v], &b2);
            labels gl2 = pq_lb_view(&b2);
            if (labels_cmp(&gl, &gl2) == 0) {
                g = v;
                break;
            }
        }
        if (g == SIZE_MAX) {
            if (ngroups == gcap) {
                size_t nc = gcap ? gcap * 2 : 16;
                const labels **ng = mem_realloc(glabels, nc * sizeof *ng);
                acc *na = ng ? mem_realloc(accs, nc * sizeof *na) : NULL;
                if (ng)
                    glabels = ng;
                if (!na) {
                    rc = pq_errorf(c, -ENOMEM, "out of memory");
                    break;
                }
                accs = na;
                gcap = nc;
            }
            g = ngroups++;
            glabels[g] = in.s[i].ls;
            memset(&accs[g], 0, sizeof accs[g]);
            if (pq_map_put(&groups, h, g)) {
                rc = pq_errorf(c, -ENOMEM, "out of memory");
                break;
            }
        }
        gid[i] = g;
    }
    /* Output series of the plain aggregations: one per group, created in group order. */
    size_t *gout = NULL;
    if (!rc && !selecting && op != PROMQL_OP_COUNT_VALUES) {
        gout = mem_alloc((ngroups + 1) * sizeof *gout);
        if (!gout)
            rc = pq_errorf(c, -ENOMEM, "out of memory");
        for (size_t g = 0; !rc && g < ngroups; g++) {
            pq_lb b;
            group_labels(e, glabels[g], &b);
            labels gl = pq_lb_view(&b);
            rc = pq_sink_find(c, &sink, &gl, &gout[g]);
        }
    }
    int warned = 0;
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, &in, k, &el, &elcap, &nel)))
            break;
        if (!nel)
            continue;
        int64_t ts = pq_step_time(c, k);
        double p = param.scalar ? param.scalar[k] : 0;
        if (selecting || op == PROMQL_OP_QUANTILE || op == PROMQL_OP_COUNT_VALUES) {
            for (size_t i = 0; i < nel; i++)
                rk[i] = (ranked){gid[el[i].src], i, el[i].v, el[i].src, el[i].ls};
        }
        if (selecting) {
            int64_t kk = 0;
            if (op != PROMQL_OP_LIMIT_RATIO) {
                if (isnan(p) || p >= 9.2e18 || p <= -9.2e18) {
                    rc = pq_errorf(c, -EDOM, "Scalar value %g overflows int64", p);
                    break;
                }
                kk = (int64_t)p;
                if (kk < 1)
                    continue;
                int desc = op == PROMQL_OP_TOPK;
                if (op == PROMQL_OP_LIMITK)
                    qsort(rk, nel, sizeof *rk, ranked_cmp_pos);
                else
                    qsort_r(rk, nel, sizeof *rk, ranked_cmp, &desc);
            } else {
                if (isnan(p)) {
                    rc = pq_errorf(c, -EDOM, "Ratio value is NaN");
                    break;
                }
                char g[32];
                if ((p < -1 || p > 1) && !warned++)
                    pq_annotate(c, 0, e->param->pos,
                                "PromQL warning: ratio value should be between -1 and 1, got %s",
                                pq_fmt_g(p, g, sizeof g));
                if (p > 1)
                    p = 1;
                if (p < -1)
                    p = -1;
                qsort(rk, nel, sizeof *rk, ranked_cmp_pos);
            }
            size_t run_g = SIZE_MAX;
            int64_t taken = 0;
            for (size_t i = 0; !rc && i < nel; i++) {
                if (rk[i].gid != run_g) {
                    run_g = rk[i].gid;
                    taken = 0;
                }
                if (op == PROMQL_OP_LIMIT_RATIO) {
                    double off = sample_offset(rk[i].ls);
                    if (!((p >= 0 && off < p) || (p < 0 && off >= 1 + p)))
                        continue;
                } else if (taken >= kk) {
                    continue;
                }
                taken++;
                size_t s = rk[i].src;
                if (oid[s] == SIZE_MAX && (rc = pq_sink_find(c, &sink, rk[i].ls, &oid[s])))
                    break;
                rc = pq_sink_append(c, &sink, oid[s], ts, rk[i].v);
            }
            continue;
        }
        if (op == PROMQL_OP_QUANTILE) {
            char g[32];
            if (!(p >= 0 && p <= 1) && !warned++)
                pq_annotate(c, 0, e->param->pos,
                            "PromQL warning: quantile value should be between 0 and 1, got %s",
                            pq_fmt_g(p, g, sizeof g));
            qsort(rk, nel, sizeof *rk, ranked_cmp_pos);
            double *vals = mem_alloc(nel * sizeof *vals);
            if (!vals) {
                rc = pq_errorf(c, -ENOMEM, "out of memory");
                break;
            }
            for (size_t a = 0; !rc && a < nel;) {
                size_t b = a, n = 0;
                while (b < nel && rk[b].gid == rk[a].gid)
                    vals[n++] = rk[b++].v;
                rc = pq_sink_append(c, &sink, gout[rk[a].gid], ts, promql_quantile(p, vals, n));
                a = b;
            }
            mem_free(vals);
            continue;
        }
        if (op == PROMQL_OP_COUNT_VALUES) {
            /* Count per (group, value), in order of first appearance. */
            qsort(rk, nel, sizeof *rk, ranked_cmp_pos);
            for (size_t i = 0; !rc && i < nel; i++) {
                if (rk[i].src == SIZE_MAX)
                    continue;
                char val[64];
                format_f(rk[i].v, val, sizeof val);
                double count = 0;
                for (size_t j = i; j < nel && rk[j].gid == rk[i].gid; j++) {
                    if (rk[j].src == SIZE_MAX)
                        continue;
                    char v2[64];
                    format_f(rk[j].v, v2, sizeof v2);
                    if (strcmp(val, v2) == 0) {
                        count++;
                        if (j != i)
                            rk[j].src = SIZE_MAX;
                    }
                }
                pq_lb b;
                group_labels(e, rk[i].ls, &b);
                pq_lb_set(&b, cv_label, val);
                labels lv = pq_lb_view(&b);
                rc = pq_sink_add(c, &sink, &lv, ts, count);
            }
            continue;
        }
        /* The folding aggregations. */
        size_t stepmark = k + 1;
        for (size_t i = 0; i < nel; i++) {
            acc *a = &accs[gid[el[i].src]];
            double v = el[i].v;
            if (a->step != stepmark) {
                memset(a, 0, sizeof *a);
                a->step = stepmark;
                a->v = v;
                a->n = 1;
                switch (op) {
                case PROMQL_OP_SUM:
                    a->v = 0;
                    promql_kahan_add(v, &a->v, &a->c);
                    break;
                case PROMQL_OP_AVG:
                    promql_mean_add(&a->mean, v);
                    break;
                case PROMQL_OP_STDDEV:
                case PROMQL_OP_STDVAR:
                    promql_var_add(&a->var, v);
                    break;
                default:
                    break;
                }
                continue;
            }
            a->n++;
            switch (op) {
            case PROMQL_OP_SUM:
                promql_kahan_add(v, &a->v, &a->c);
                break;
            case PROMQL_OP_AVG:
                promql_mean_add(&a->mean, v);
                break;
            case PROMQL_OP_MIN:
                if (a->v > v || isnan(a->v))
                    a->v = v;
                break;
            case PROMQL_OP_MAX:
                if (a->v < v || isnan(a->v))
                    a->v = v;
                break;
            case PROMQL_OP_STDDEV:
            case PROMQL_OP_STDVAR:
                promql_var_add(&a->var, v);
                break;
            default:
                break;
            }
        }
        for (size_t g = 0; !rc && g < ngroups; g++) {
            acc *a = &accs[g];
            if (a->step != stepmark)
                continue;
            double v;
            switch (op) {
            case PROMQL_OP_SUM:
                v = promql_kahan_total(a->v, a->c);
                break;
            case PROMQL_OP_AVG:
                v = promql_mean_value(&a->mean);
                break;
            case PROMQL_OP_COUNT:
                v = (double)a->n;
                break;
            case PROMQL_OP_GROUP:
                v = 1;
                break;
            case PROMQL_OP_STDDEV:
                v = promql_var_stddev(&a->var);
                break;
            case PROMQL_OP_STDVAR:
                v = promql_var_stdvar(&a->var);
                break;
            default:
                v = a->v;
                break;
            }
            rc = pq_sink_append(c, &sink, gout[g], ts, v);
        }
    }
    mem_free(gout);
out:
    pq_map_free(&groups);
    mem_free(gid);
    mem_free(oid);
    mem_free(rk);
    mem_free(glabels);
    mem_free(accs);
    mem_free(el);
    pq_value_free(c, &in);
    pq_value_free(c, &param);
    return pq_sink_finish(c, &sink, rc, out);
}
