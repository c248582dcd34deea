/* binop: binary operators. Scalar-scalar and vector-scalar operations work element by element;
 * vector-vector operations match elements step by step by their matching signature (on /
 * ignoring labels), with Prometheus's cardinality rules, errors and result labels:
 * arithmetic drops the metric name, comparisons filter (or answer 0/1 with `bool`, dropping
 * the name), one-to-one results keep only the `on` labels (or lose the `ignoring` ones),
 * group_left/group_right copy the listed labels from the "one" side, and the set operators
 * and/or/unless keep their inputs' labels. */
#include "eval_int.h"

#include "../lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Arithmetic (atan2 included) drops the metric name, as in Prometheus 3. */
static int drops_name(promql_op op)
{
    return op >= PROMQL_OP_ADD && op <= PROMQL_OP_ATAN2;
}

static int is_cmp(promql_op op)
{
    return op >= PROMQL_OP_EQL && op <= PROMQL_OP_LTE;
}

/* Applies op to l and r: the value, and whether a comparison holds (1 for arithmetic). */
static double apply(promql_op op, double l, double r, int *keep)
{
    *keep = 1;
    switch (op) {
    case PROMQL_OP_ADD:
        return l + r;
    case PROMQL_OP_SUB:
        return l - r;
    case PROMQL_OP_MUL:
        return l * r;
    case PROMQL_OP_DIV:
        return l / r;
    case PROMQL_OP_POW:
        return pow(l, r);
    case PROMQL_OP_MOD:
        return fmod(l, r);
    case PROMQL_OP_ATAN2:
        return atan2(l, r);
    case PROMQL_OP_EQL:
        *keep = l == r;
        return l;
    case PROMQL_OP_NEQ:
        *keep = l != r;
        return l;
    case PROMQL_OP_GTR:
        *keep = l > r;
        return l;
    case PROMQL_OP_LSS:
        *keep = l < r;
        return l;
    case PROMQL_OP_GTE:
        *keep = l >= r;
        return l;
    case PROMQL_OP_LTE:
        *keep = l <= r;
        return l;
    default:
        *keep = 0;
        return NAN;
    }
}

static int scalar_scalar(pq_ctx *c, const promql_expr *e, pq_value *l, pq_value *r, pq_value *out)
{
    for (size_t k = 0; k < c->nsteps; k++) {
        int keep;
        double v = apply(e->op, l->scalar[k], r->scalar[k], &keep);
        l->scalar[k] = is_cmp(e->op) ? (keep ? 1 : 0) : v;
    }
    *out = *l;
    memset(l, 0, sizeof *l);
    return 0;
}


/* vector op scalar (swap: scalar op vector). */
static int vector_scalar(pq_ctx *c, const promql_expr *e, pq_value *vec, pq_value *sc, int swap,
                         pq_sink *sink)
{
    int drop = drops_name(e->op) || e->return_bool;
    pq_elem *el = NULL;
    size_t cap = 0, n = 0;
    size_t *idx = mem_alloc((vec->ns + 1) * sizeof *idx);
    int rc = idx ? 0 : pq_errorf(c, -ENOMEM, "out of memory");
    for (size_t i = 0; i < vec->ns && idx; i++)
        idx[i] = SIZE_MAX;
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, vec, k, &el, &cap, &n)))
            break;
        double s = sc->scalar[k];
        for (size_t i = 0; !rc && i < n; i++) {
            double lv = el[i].v, rv = s;
            if (swap) {
                lv = s;
                rv = el[i].v;
            }
            int keep;
            double v = apply(e->op, lv, rv, &keep);
            /* A comparison keeps the vector's value, whichever side it is on. */
            if (is_cmp(e->op) && swap)
                v = rv;
            if (e->return_bool) {
                v = keep ? 1 : 0;
                keep = 1;
            }
            if (!keep)
                continue;
            size_t src = el[i].src;
            if (idx[src] == SIZE_MAX && (rc = pq_out_idx(c, sink, el[i].ls, drop, &idx[src])))
                break;
            rc = pq_sink_append(c, sink, idx[src], pq_step_time(c, k), v);
        }
    }
    mem_free(idx);
    mem_free(el);
    return rc;
}

/* Per-series signatures of a vector for the expression's matching labels. */
static uint64_t *signatures(pq_ctx *c, const promql_expr *e, const pq_value *v)
{
    uint64_t *sig = mem_alloc((v->ns + 1) * sizeof *sig);
    if (!sig) {
        pq_errorf(c, -ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < v->ns; i++)
        sig[i] = pq_signature(v->s[i].ls, e->match_labels.v, e->match_labels.n, e->on);
    return sig;
}

/* The set operators. */
static int set_op(pq_ctx *c, const promql_expr *e, pq_value *l, pq_value *r, pq_sink *sink)
{
    uint64_t *ls = signatures(c, e, l), *rs = signatures(c, e, r);
    size_t *lidx = mem_alloc((l->ns + 1) * sizeof *lidx);
    size_t *ridx = mem_alloc((r->ns + 1) * sizeof *ridx);
    pq_elem *le = NULL, *re = NULL;
    size_t lcap = 0, rcap = 0, ln = 0, rn = 0;
    pq_map seen = {0};
    int rc = ls && rs && lidx && ridx ? 0 : pq_errorf(c, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < l->ns; i++)
        lidx[i] = SIZE_MAX;
    for (size_t i = 0; !rc && i < r->ns; i++)
        ridx[i] = SIZE_MAX;
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, l, k, &le, &lcap, &ln)) ||
            (rc = pq_vector_at(c, r, k, &re, &rcap, &rn)))
            break;
        int64_t ts = pq_step_time(c, k);
        /* The signatures present on the side that filters. */
        pq_map_free(&seen);
        const pq_elem *fe = e->op == PROMQL_OP_OR ? le : re;
        size_t fn = e->op == PROMQL_OP_OR ? ln : rn;
        const uint64_t *fs = e->op == PROMQL_OP_OR ? ls : rs;
        for (size_t i = 0; !rc && i < fn; i++) {
            size_t it = 0, dummy;
            if (!pq_map_next(&seen, fs[fe[i].src], &it, &dummy) &&
                pq_map_put(&seen, fs[fe[i].src], 1))
                rc = pq_errorf(c, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; !rc && i < ln; i++) {
            size_t it = 0, dummy;
            int found = pq_map_next(&seen, ls[le[i].src], &it, &dummy);
            if (e->op == PROMQL_OP_AND && !found)
                continue;
            if (e->op == PROMQL_OP_UNLESS && found)
                continue;
            size_t s = le[i].src;
            if (lidx[s] == SIZE_MAX && (rc = pq_out_idx(c, sink, le[i].ls, 0, &lidx[s])))
                break;
            rc = pq_sink_append(c, sink, lidx[s], ts, le[i].v);
        }
        if (e->op != PROMQL_OP_OR)
            continue;
        for (size_t i = 0; !rc && i < rn; i++) {
            size_t it = 0, dummy;
            if (pq_map_next(&seen, rs[re[i].src], &it, &dummy))
                continue;
            size_t s = re[i].src;
            if (ridx[s] == SIZE_MAX && (rc = pq_out_idx(c, sink, re[i].ls, 0, &ridx[s])))
                break;
            rc = pq_sink_append(c, sink, ridx[s], ts, re[i].v);
        }
    }
    pq_map_free(&seen);
    mem_free(ls);
    mem_free(rs);
    mem_free(lidx);
    mem_free(ridx);
    mem_free(le);
    mem_free(re);
    return rc;
}

/* Prometheus's labels.String() of the matching labels of ls, into out. */
static void match_string(const promql_expr *e, const labels *ls, char *out, size_t cap)
{
    buf b;
    buf_init(&b, 4096);
    buf_putc(&b, '{');
    int first = 1;
    for (size_t i = 0; i < ls->n; i++) {
        const char *nm = ls->v[i].name;
        int in = 0;
        for (size_t j = 0; j < e->match_labels.n && !in; j++)
            in = strcmp(nm, e->match_labels.v[j]) == 0;
        if (e->on ? !in : (in || strcmp(nm, LABELS_NAME) == 0))
            continue;
        buf_printf(&b, "%s%s=\"%s\"", first ? "" : ", ", nm, ls->v[i].value);
        first = 0;
    }
    buf_putc(&b, '}');
    buf_putc(&b, '\0');
    snprintf(out, cap, "%s", b.err ? "{...}" : b.data);
    buf_free(&b);
}

static void full_string(const labels *ls, char *out, size_t cap)
{
    buf b;
    buf_init(&b, 4096);
    const char *name = labels_get(ls, LABELS_NAME);
    if (name)
        buf_puts(&b, name);
    buf_putc(&b, '{');
    int first = 1;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, LABELS_NAME) == 0)
            continue;
        buf_printf(&b, "%s%s=\"%s\"", first ? "" : ", ", ls->v[i].name, ls->v[i].value);
        first = 0;
    }
    buf_putc(&b, '}');
    buf_putc(&b, '\0');
    snprintf(out, cap, "%s", b.err ? "{...}" : b.data);
    buf_free(&b);
}

/* A cache of output series per (lhs series, rhs series) pair. */
typedef struct pair {
    size_t l, r, out;
} pair;

/* Arithmetic and comparison between two vectors. */
static int vector_vector(pq_ctx *c, const promql_expr *e, pq_value *lv, pq_value *rv, pq_sink *sink)
{
    int one_to_many = e->card == PROMQL_CARD_ONE_TO_MANY;
    /* The "one" side is rhs; for group_right swap the sides and remember it. */
    pq_value *l = one_to_many ? rv : lv, *r = one_to_many ? lv : rv;
    uint64_t *ls = signatures(c, e, l), *rs = signatures(c, e, r);
    pq_elem *le = NULL, *re = NULL;
    size_t lcap = 0, rcap = 0, ln = 0, rn = 0;
    pq_map right = {0}, matched = {0}, pairs = {0};
    pair *pv = NULL;
    size_t npairs = 0, pcap = 0;
    int drop = drops_name(e->op) || e->return_bool;
    int rc = ls && rs ? 0 : pq_errorf(c, -ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < c->nsteps; k++) {
        if ((rc = pq_vector_at(c, l, k, &le, &lcap, &ln)) ||
            (rc = pq_vector_at(c, r, k, &re, &rcap, &rn)))
            break;
        if (!ln || !rn)
            continue;
        int64_t ts = pq_step_time(c, k);
        pq_map_free(&right);
        pq_map_free(&matched);
        for (size_t i = 0; !rc && i < rn; i++) {
            uint64_t sg = rs[re[i].src];
            size_t it = 0, other;
            if (pq_map_next(&right, sg, &it, &other)) {
                char ml[512], a[512], b[512];
                match_string(e, re[i].ls, ml, sizeof ml);
                full_string(re[i].ls, a, sizeof a);
                full_string(re[other].ls, b, sizeof b);
                rc = pq_errorf(c, -EDOM,
                               "found duplicate series for the match group %s on the %s "
                               "hand-side of the operation: [%s, %s];many-to-many matching not "
                               "allowed: matching labels must be unique on one side",
                               ml, one_to_many ? "left" : "right", a, b);
                break;
            }
            if (pq_map_put(&right, sg, i))
                rc = pq_errorf(c, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; !rc && i < ln; i++) {
            uint64_t sg = ls[le[i].src];
            size_t it = 0, ri;
            if (!pq_map_next(&right, sg, &it, &ri))
                continue;
            double fl = le[i].v, fr = re[ri].v;
            if (one_to_many) {
                double t = fl;
                fl = fr;
                fr = t;
            }
            int keep;
            double v = apply(e->op, fl, fr, &keep);
            if (e->return_bool) {
                v = keep ? 1 : 0;
            } else if (!keep) {
                continue;
            }
            /* The output series of this pair, computed once. */
            size_t ls_src = le[i].src, rs_src = re[ri].src;
            uint64_t pk = (uint64_t)ls_src * 0x9E3779B97F4A7C15ULL ^ (uint64_t)rs_src;
            size_t pit = 0, pidx, oidx = SIZE_MAX;
            while (pq_map_next(&pairs, pk, &pit, &pidx))
                if (pv[pidx].l == ls_src && pv[pidx].r == rs_src) {
                    oidx = pv[pidx].out;
                    break;
                }
            if (oidx == SIZE_MAX) {
                pq_lb b;
                pq_lb_init(&b, le[i].ls);
                if (drop)
                    pq_lb_del(&b, LABELS_NAME);
                if (e->card == PROMQL_CARD_ONE_TO_ONE) {
                    if (e->on)
                        pq_lb_keep(&b, e->match_labels.v, e->match_labels.n);
                    else
                        for (size_t j = 0; j < e->match_labels.n; j++)
                            pq_lb_del(&b, e->match_labels.v[j]);
                }
                for (size_t j = 0; j < e->include_labels.n; j++)
                    pq_lb_set(&b, e->include_labels.v[j],
                              labels_get(re[ri].ls, e->include_labels.v[j]));
                labels lv2 = pq_lb_view(&b);
                if ((rc = pq_sink_find(c, sink, &lv2, &oidx)))
                    break;
                if (npairs == pcap) {
                    size_t nc = pcap ? pcap * 2 : 64;
                    pair *np = mem_realloc(pv, nc * sizeof *np);
                    if (!np) {
                        rc = pq_errorf(c, -ENOMEM, "out of memory");
                        break;
                    }
                    pv = np;
                    pcap = nc;
                }
                pv[npairs] = (pair){ls_src, rs_src, oidx};
                if (pq_map_put(&pairs, pk, npairs++)) {
                    rc = pq_errorf(c, -ENOMEM, "out of memory");
                    break;
                }
            }
            /* One-to-one: each signature matches once; many-to-one: each result once. */
            size_t mit = 0, mv;
            int dup = 0;
            while (pq_map_next(&matched, sg, &mit, &mv)) {
                if (e->card == PROMQL_CARD_ONE_TO_ONE || mv == oidx) {
                    dup = 1;
                    break;
                }
            }
            if (dup) {
                rc = pq_errorf(c, -EDOM,
                               e->card == PROMQL_CARD_ONE_TO_ONE
                                   ? "multiple matches for labels: many-to-one matching must be "
                                     "explicit (group_left/group_right)"
                                   : "multiple matches for labels: grouping labels must ensure "
                                     "unique matches");
                break;
            }
            if (pq_map_put(&matched, sg, oidx)) {
                rc = pq_errorf(c, -ENOMEM, "out of memory");
                break;
            }
            rc = pq_sink_append(c, sink, oidx, ts, v);
        }
    }
    pq_map_free(&right);
    pq_map_free(&matched);
    pq_map_free(&pairs);
    mem_free(pv);
    mem_free(ls);
    mem_free(rs);
    mem_free(le);
    mem_free(re);
    return rc;
}

int pq_eval_binary(pq_ctx *c, const promql_expr *e, pq_value *out)
{
    pq_value l = {0}, r = {0};
    pq_sink sink = {0};
    int rc = pq_eval(c, e->lhs, &l);
    if (!rc)
        rc = pq_eval(c, e->rhs, &r);
    if (rc)
        goto out;
    if (l.type == PROMQL_T_SCALAR && r.type == PROMQL_T_SCALAR) {
        rc = scalar_scalar(c, e, &l, &r, out);
        goto out;
    }
    if (l.type == PROMQL_T_VECTOR && r.type == PROMQL_T_SCALAR)
        rc = vector_scalar(c, e, &l, &r, 0, &sink);
    else if (l.type == PROMQL_T_SCALAR && r.type == PROMQL_T_VECTOR)
        rc = vector_scalar(c, e, &r, &l, 1, &sink);
    else if (e->op == PROMQL_OP_AND || e->op == PROMQL_OP_OR || e->op == PROMQL_OP_UNLESS)
        rc = set_op(c, e, &l, &r, &sink);
    else
        rc = vector_vector(c, e, &l, &r, &sink);
    if (rc)
        pq_sink_free(c, &sink);
    else
        pq_sink_to_value(&sink, out);
out:
    pq_value_free(c, &l);
    pq_value_free(c, &r);
    return rc;
}
