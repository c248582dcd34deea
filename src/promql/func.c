/* func: PromQL's function table and its numeric kernels, following Prometheus 3.x
 * (promql/functions.go, promql/quantile.go, promql/parser/functions.go) on float samples.
 *
 * Exactness notes. The kernels reproduce Prometheus's arithmetic step by step, in the same order,
 * because PromQL results are compared bit for bit by users moving dashboards over:
 * - rate/increase/delta extrapolate as extrapolatedRate: to the window edge when the gap to it is
 *   below 1.1 average intervals, else by half an interval; counters are not extrapolated below
 *   zero; a counter reset adds the value before the drop. The range in seconds is computed the
 *   way Go's time.Duration.Seconds does (whole seconds plus the remainder in nanoseconds / 1e9).
 * - Sums use Kahan-Babuska-Neumaier compensation exactly as Prometheus's kahanSumInc.
 * - avg_over_time sums directly and switches to an incremental mean only when the sum would
 *   overflow; stddev/stdvar_over_time use a compensated Welford recurrence.
 * - Quantiles sort NaN first (Prometheus's vectorByValueHeap order) and interpolate with
 *   v[lo]*(1-w) + v[hi]*w, so a NaN or an infinity times a zero weight gives NaN, as in Go.
 * - Elementwise functions reproduce Go's math package where its portable code is what
 *   Prometheus runs (ln, log2, log10, sin, cos, tan, asin, acos, atan: ported below). exp, and
 *   sinh/cosh/tanh/asinh/acosh/atanh built on it, use glibc: Go's amd64 Exp is assembly whose
 *   result depends on the CPU's FMA support, and may differ from ours in the last place.
 * - Date functions answer NaN for NaN, infinite or out-of-range times (Prometheus converts those
 *   to int64 the Go way, which on amd64 yields a date in the year 292277026596). */
#include "func.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/mem.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- Kahan summation and accumulators ---------------------------------------------------------
 */

void promql_kahan_add(double v, double *sum, double *c)
{
    double s = *sum;
    double t = s + v;
    if (isinf(t))
        *c = 0;
    else if (fabs(s) >= fabs(v)) /* Neumaier: compensate with the smaller term */
        *c += (s - t) + v;
    else
        *c += (v - t) + s;
    *sum = t;
}

double promql_kahan_total(double sum, double c)
{
    if (isinf(sum))
        return sum;
    return sum + c;
}

void promql_mean_add(promql_mean *m, double v)
{
    m->count += 1;
    if (m->count == 1) {
        m->sum = v;
        m->mean = v;
        m->c = 0;
        m->incremental = 0;
        return;
    }
    if (!m->incremental) {
        double s = m->sum, c = m->c;
        promql_kahan_add(v, &s, &c);
        if (!isinf(s)) {
            m->sum = s;
            m->c = c;
            return;
        }
        /* The direct sum would overflow: continue with the incremental mean. */
        m->incremental = 1;
        m->mean = m->sum / (m->count - 1);
        m->c /= m->count - 1;
    }
    double q = (m->count - 1) / m->count;
    double mean = q * m->mean, c = q * m->c;
    promql_kahan_add(v / m->count, &mean, &c);
    m->mean = mean;
    m->c = c;
}

double promql_mean_value(const promql_mean *m)
{
    if (m->count == 0)
        return NAN;
    if (m->incremental)
        return m->mean + m->c;
    return m->sum / m->count + m->c / m->count;
}

void promql_var_add(promql_var *s, double v)
{
    if (s->count == 0) {
        s->count = 1;
        s->mean = v;
        s->value = (isnan(v) || isinf(v)) ? NAN : 0;
        return;
    }
    s->count += 1;
    double delta = v - s->mean;
    s->mean += delta / s->count;
    s->value += delta * (v - s->mean);
}

double promql_var_stdvar(const promql_var *s)
{
    if (s->count == 0)
        return NAN;
    return s->value / s->count;
}

double promql_var_stddev(const promql_var *s)
{
    return sqrt(promql_var_stdvar(s));
}

/* ---- quantiles --------------------------------------------------------------------------------
 */

/* Prometheus's sort order for values: NaN before everything, then ascending. */
static int cmp_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    int xn = isnan(x), yn = isnan(y);
    if (xn || yn)
        return yn - xn;
    return (x > y) - (x < y);
}

static double interpolate_rank(double q, const double *sorted, size_t n)
{
    double fn = (double)n;
    double rank = q * (fn - 1);
    double lo = fmax(0, floor(rank));
    double hi = fmin(fn - 1, lo + 1);
    double w = rank - floor(rank);
    return sorted[(size_t)lo] * (1 - w) + sorted[(size_t)hi] * w;
}

double promql_quantile(double q, double *vals, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(vals, n, sizeof *vals, cmp_value);
    return interpolate_rank(q, vals, n);
}

/* Order-preserving 64-bit keys for doubles in Prometheus's order (all NaNs lowest, -0 == +0), for
 * the allocation-free selection used when no scratch memory is available. */
static uint64_t order_key(double x)
{
    if (isnan(x))
        return 0;
    if (x == 0)
        x = 0.0;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return (bits >> 63) ? ~bits : bits | 0x8000000000000000ULL;
}

static double key_value(uint64_t k)
{
    if (k == 0)
        return NAN;
    uint64_t bits = (k >> 63) ? k & 0x7fffffffffffffffULL : ~k;
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* The value at index k of the sorted sequence x_i = pts[i].v (center NaN) or |pts[i].v - center|,
 * without allocating: a binary search over the key space, 64 passes. */
static double select_kth(const sample *pts, size_t n, size_t k, int dev, double center)
{
    uint64_t lo = 0, hi = UINT64_MAX;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            double x = dev ? fabs(pts[i].v - center) : pts[i].v;
            if (order_key(x) <= mid)
                cnt++;
        }
        if (cnt > k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return key_value(lo);
}

static double select_quantile(double q, const sample *pts, size_t n, int dev, double center)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    double fn = (double)n;
    double rank = q * (fn - 1);
    double lo = fmax(0, floor(rank));
    double hi = fmin(fn - 1, lo + 1);
    double w = rank - floor(rank);
    double vlo = select_kth(pts, n, (size_t)lo, dev, center);
    double vhi = (size_t)hi == (size_t)lo ? vlo : select_kth(pts, n, (size_t)hi, dev, center);
    return vlo * (1 - w) + vhi * w;
}

#define SCRATCH_STACK 256

/* Quantile of the window's values (dev 0) or of their absolute deviations from center (dev 1).
 * Uses a stack buffer for small windows, the allocator for larger ones, and the allocation-free
 * selection when allocation fails, so the kernels never fail. */
static double window_quantile(double q, const sample *pts, size_t n, int dev, double center)
{
    double stack[SCRATCH_STACK];
    double *buf = stack;
    if (n > SCRATCH_STACK) {
        buf = mem_alloc(n * sizeof *buf);
        if (!buf)
            return select_quantile(q, pts, n, dev, center);
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = dev ? fabs(pts[i].v - center) : pts[i].v;
    double r = promql_quantile(q, buf, n);
    if (buf != stack)
        mem_free(buf);
    return r;
}

/* ---- classic histogram buckets ----------------------------------------------------------------
 */

static int cmp_bucket(const void *a, const void *b)
{
    double x = ((const promql_bucket *)a)->le, y = ((const promql_bucket *)b)->le;
    return (x > y) - (x < y);
}

/* Prometheus's almost.Equal. */
static int almost_equal(double a, double b, double eps)
{
    const double min_normal = 2.2250738585072014e-308; /* 0x0010000000000000 */
    if (isnan(a) && isnan(b))
        return 1;
    if (a == b)
        return 1;
    double abs_sum = fabs(a) + fabs(b);
    double diff = fabs(a - b);
    if (a == 0 || b == 0 || abs_sum < min_normal)
        return diff < eps * min_normal;
    return diff / fmin(abs_sum, 1.7976931348623157e308) < eps;
}

double promql_bucket_quantile(double q, promql_bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (n == 0)
        return NAN;
    qsort(b, n, sizeof *b, cmp_bucket);
    if (!(isinf(b[n - 1].le) && b[n - 1].le > 0))
        return NAN;

    /* Merge buckets with the same upper bound. */
    size_t m = 0;
    promql_bucket last = b[0];
    for (size_t i = 1; i < n; i++) {
        if (b[i].le == last.le) {
            last.count += b[i].count;
        } else {
            b[m++] = last;
            last = b[i];
        }
    }
    b[m++] = last;

    /* Ignore differences that are floating-point noise, then remove decreases (the envelope). */
    double prev = b[0].count;
    for (size_t i = 1; i < m; i++) {
        double curr = b[i].count;
        if (curr == prev)
            continue;
        if (almost_equal(prev, curr, 1e-12)) {
            b[i].count = prev;
            continue;
        }
        if (curr < prev) {
            b[i].count = prev;
            continue;
        }
        prev = curr;
    }

    if (m < 2)
        return NAN;
    double observations = b[m - 1].count;
    if (observations == 0)
        return NAN;
    double rank = q * observations;
    /* Go's sort.Search over [0, m-1), replicated so that NaN counts land where Go puts them. */
    size_t lo = 0, hi = m - 1;
    while (lo < hi) {
        size_t h = lo + (hi - lo) / 2;
        if (!(b[h].count >= rank))
            lo = h + 1;
        else
            hi = h;
    }
    size_t i = lo;
    if (i == m - 1)
        return b[m - 2].le;
    if (i == 0 && b[0].le <= 0)
        return b[0].le;
    double start = 0, end = b[i].le, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].le;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

/* ---- range kernels ----------------------------------------------------------------------------
 */

/* A window length in seconds the way Go's time.Duration.Seconds computes it. */
static double ms_to_seconds(int64_t ms)
{
    int64_t sec = ms / 1000, rem = ms % 1000;
    return (double)sec + (double)(rem * 1000000) / 1e9;
}

static int extrapolated_rate(const sample *pts, size_t n, int64_t start, int64_t end, int counter,
                             int is_rate, double *out)
{
    if (n < 2)
        return 0;
    double result = pts[n - 1].v - pts[0].v;
    if (counter) {
        for (size_t i = 1; i < n; i++)
            if (pts[i].v < pts[i - 1].v)
                result += pts[i - 1].v;
    }
    double to_start = (double)(pts[0].t - start) / 1000;
    double to_end = (double)(end - pts[n - 1].t) / 1000;
    double sampled = (double)(pts[n - 1].t - pts[0].t) / 1000;
    double avg = sampled / (double)(n - 1);
    double threshold = avg * 1.1;
    if (to_start >= threshold)
        to_start = avg / 2;
    if (counter) {
        /* Do not extrapolate a counter below zero. */
        double to_zero = to_start;
        if (result > 0 && pts[0].v >= 0)
            to_zero = sampled * (pts[0].v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    if (to_end >= threshold)
        to_end = avg / 2;
    double factor = (sampled + to_start + to_end) / sampled;
    if (is_rate)
        factor /= ms_to_seconds(end - start);
    *out = result * factor;
    return 1;
}

static int k_rate(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                  double *out)
{
    (void)a, (void)na;
    return extrapolated_rate(p, n, s, e, 1, 1, out);
}

static int k_increase(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                      double *out)
{
    (void)a, (void)na;
    return extrapolated_rate(p, n, s, e, 1, 0, out);
}

static int k_delta(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                   double *out)
{
    (void)a, (void)na;
    return extrapolated_rate(p, n, s, e, 0, 0, out);
}

static int instant_value(const sample *p, size_t n, int is_rate, double *out)
{
    if (n < 2)
        return 0;
    const sample *a = &p[n - 2], *b = &p[n - 1];
    int64_t interval = b->t - a->t;
    if (interval == 0)
        return 0;
    double r = b->v; /* a counter reset: the value after it is the increase */
    if (!is_rate || !(b->v < a->v))
        r = b->v - a->v;
    if (is_rate)
        r /= (double)interval / 1000;
    *out = r;
    return 1;
}

static int k_irate(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                   double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    return instant_value(p, n, 1, out);
}

static int k_idelta(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                    double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    return instant_value(p, n, 0, out);
}

/* Least squares over (t - intercept_time in seconds, v), compensated sums, as Prometheus's
 * linearRegression. */
static void linear_regression(const sample *p, size_t n, int64_t intercept_time, double *slope,
                              double *intercept)
{
    double cnt = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init_y = p[0].v;
    int const_y = 1;
    for (size_t i = 0; i < n; i++) {
        if (const_y && i > 0 && p[i].v != init_y)
            const_y = 0;
        cnt += 1.0;
        double x = (double)(p[i].t - intercept_time) / 1e3;
        promql_kahan_add(x, &sx, &cx);
        promql_kahan_add(p[i].v, &sy, &cy);
        promql_kahan_add(x * p[i].v, &sxy, &cxy);
        promql_kahan_add(x * x, &sx2, &cx2);
    }
    if (const_y) {
        if (isinf(init_y)) {
            *slope = NAN;
            *intercept = NAN;
        } else {
            *slope = 0;
            *intercept = init_y;
        }
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov_xy = sxy - sx * sy / cnt;
    double var_x = sx2 - sx * sx / cnt;
    *slope = cov_xy / var_x;
    *intercept = sy / cnt - *slope * sx / cnt;
}

static int k_deriv(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                   double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n < 2)
        return 0;
    double slope, icpt;
    /* Relative to the first sample's time, to keep x small (Prometheus issue 2674). */
    linear_regression(p, n, p[0].t, &slope, &icpt);
    *out = slope;
    return 1;
}

static int k_predict_linear(const sample *p, size_t n, int64_t s, int64_t e, const double *a,
                            size_t na, double *out)
{
    (void)s;
    if (n < 2 || na < 1)
        return 0;
    int64_t at = e;
    if (na >= 2 && isfinite(a[1]))
        at = (int64_t)a[1];
    double slope, icpt;
    linear_regression(p, n, at, &slope, &icpt);
    *out = slope * a[0] + icpt;
    return 1;
}

static int k_holt_winters(const sample *p, size_t n, int64_t s, int64_t e, const double *a,
                          size_t na, double *out)
{
    (void)s, (void)e;
    if (na < 2)
        return 0;
    double sf = a[0], tf = a[1];
    if (!(sf > 0 && sf < 1) || !(tf > 0 && tf < 1))
        return 0; /* promql_func_check_args reports this as an error */
    if (n < 2)
        return 0;
    double s0 = 0, s1 = p[0].v, b = p[1].v - p[0].v;
    for (size_t i = 1; i < n; i++) {
        double x = sf * p[i].v;
        /* The trend at i-1 (the first trend is the initial difference). */
        if (i - 1 != 0)
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    *out = s1;
    return 1;
}

static int k_avg(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                 double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    promql_mean m = {0};
    for (size_t i = 0; i < n; i++)
        promql_mean_add(&m, p[i].v);
    *out = promql_mean_value(&m);
    return 1;
}

static int k_count(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                   double *out)
{
    (void)p, (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = (double)n;
    return 1;
}

static int k_sum(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                 double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    double sum = 0, c = 0;
    for (size_t i = 0; i < n; i++)
        promql_kahan_add(p[i].v, &sum, &c);
    *out = promql_kahan_total(sum, c);
    return 1;
}

/* max/min/ts_of_max/ts_of_min as compareOverTime: the first value wins ties unless the
 * comparison includes equality (the ts_of variants take the latest among equal values); a NaN
 * so far is replaced by anything. */
enum { CMP_MAX, CMP_MIN, CMP_MAX_GE, CMP_MIN_LE };

static int compare_over_time(const sample *p, size_t n, int mode, int want_ts, double *out)
{
    if (n == 0)
        return 0;
    double best = p[0].v;
    int64_t ts = p[0].t;
    for (size_t i = 0; i < n; i++) {
        double cur = p[i].v;
        int take;
        switch (mode) {
        case CMP_MAX:
            take = cur > best;
            break;
        case CMP_MIN:
            take = cur < best;
            break;
        case CMP_MAX_GE:
            take = cur >= best;
            break;
        default:
            take = cur <= best;
            break;
        }
        if (take || isnan(best)) {
            best = cur;
            ts = p[i].t;
        }
    }
    *out = want_ts ? (double)ts / 1000 : best;
    return 1;
}

static int k_max(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                 double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    return compare_over_time(p, n, CMP_MAX, 0, out);
}

static int k_min(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                 double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    return compare_over_time(p, n, CMP_MIN, 0, out);
}

static int k_ts_of_max(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                       double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    return compare_over_time(p, n, CMP_MAX_GE, 1, out);
}

static int k_ts_of_min(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                       double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    return compare_over_time(p, n, CMP_MIN_LE, 1, out);
}

static int k_last(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                  double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = p[n - 1].v;
    return 1;
}

static int k_first(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                   double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = p[0].v;
    return 1;
}

static int k_ts_of_last(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                        double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = (double)p[n - 1].t / 1000;
    return 1;
}

static int k_ts_of_first(const sample *p, size_t n, int64_t s, int64_t e, const double *a,
                         size_t na, double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = (double)p[0].t / 1000;
    return 1;
}

static int k_present(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                     double *out)
{
    (void)p, (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = 1;
    return 1;
}

static int k_quantile(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                      double *out)
{
    (void)s, (void)e;
    if (n == 0 || na < 1)
        return 0;
    *out = window_quantile(a[0], p, n, 0, 0);
    return 1;
}

static int k_mad(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                 double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    double median = window_quantile(0.5, p, n, 0, 0);
    *out = window_quantile(0.5, p, n, 1, median);
    return 1;
}

/* Population variance with a compensated Welford recurrence, as varianceOverTime. */
static double variance_over_time(const sample *p, size_t n)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < n; i++) {
        count++;
        double delta = p[i].v - (mean + cmean);
        promql_kahan_add(delta / count, &mean, &cmean);
        promql_kahan_add(delta * (p[i].v - (mean + cmean)), &aux, &caux);
    }
    return (aux + caux) / count;
}

static int k_stdvar(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                    double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = variance_over_time(p, n);
    return 1;
}

static int k_stddev(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                    double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    *out = sqrt(variance_over_time(p, n));
    return 1;
}

static int k_changes(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                     double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    size_t c = 0;
    for (size_t i = 1; i < n; i++) {
        double prev = p[i - 1].v, cur = p[i].v;
        /* NaN to NaN is no change; NaN to a number or back is. */
        if (cur != prev && !(isnan(cur) && isnan(prev)))
            c++;
    }
    *out = (double)c;
    return 1;
}

static int k_resets(const sample *p, size_t n, int64_t s, int64_t e, const double *a, size_t na,
                    double *out)
{
    (void)s, (void)e, (void)a, (void)na;
    if (n == 0)
        return 0;
    size_t c = 0;
    for (size_t i = 1; i < n; i++)
        if (p[i].v < p[i - 1].v)
            c++;
    *out = (double)c;
    return 1;
}

/* ---- element kernels --------------------------------------------------------------------------
 */

#define ELEM1(name, expr)                                                                          \
    static double name(double v, const double *a, size_t na)                                       \
    {                                                                                              \
        (void)a, (void)na;                                                                         \
        return (expr);                                                                             \
    }

/* Go's math.Log (FreeBSD's e_log.c as Go simplifies it), so that ln, log2 and log10 agree
 * with Prometheus bit for bit rather than with glibc, which rounds differently in the last place.
 * Go computes log10 and log2 from Log, not with correctly rounded routines, e.g.
 * log10(1000) = 2.9999999999999996 in Prometheus. */
static double go_log(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double l1 = 6.666666666666735130e-01, l2 = 3.999999999940941908e-01;
    const double l3 = 2.857142874366239149e-01, l4 = 2.222219843214978396e-01;
    const double l5 = 1.818357216161805012e-01, l6 = 1.531383769920937332e-01;
    const double l7 = 1.479819860511658591e-01;
    if (isnan(x) || (isinf(x) && x > 0))
        return x;
    if (x < 0)
        return NAN;
    if (x == 0)
        return -INFINITY;
    int ki;
    double f1 = frexp(x, &ki);
    if (f1 < 0.70710678118654752440084436210484903928483593768847 /* Sqrt2/2 */) {
        f1 *= 2;
        ki--;
    }
    double f = f1 - 1;
    double k = (double)ki;
    double s = f / (2 + f);
    double s2 = s * s;
    double s4 = s2 * s2;
    double t1 = s2 * (l1 + s4 * (l3 + s4 * (l5 + s4 * l7)));
    double t2 = s4 * (l2 + s4 * (l4 + s4 * l6));
    double r = t1 + t2;
    double hfsq = 0.5 * f * f;
    return k * ln2_hi - ((hfsq - (s * (hfsq + r) + k * ln2_lo)) - f);
}

/* Go's math.Sin/Cos/Tan (Cephes polynomials, Payne-Hanek reduction above 2^29), for the same
 * reason: Prometheus's answers differ from glibc's in the last place. */
static const double go_pi4a = 7.85398125648498535156e-1, go_pi4b = 3.77489470793079817668e-8,
                    go_pi4c = 2.69515142907905952645e-15;
static const double go_4_over_pi = 1.27323954473516268615107010698011489627567716592365;
static const double go_sin_c[6] = {1.58962301576546568060e-10, -2.50507477628578072866e-8,
                                   2.75573136213857245213e-6,  -1.98412698295895385996e-4,
                                   8.33333333332211858878e-3,  -1.66666666666666307295e-1};
static const double go_cos_c[6] = {-1.13585365213876817300e-11, 2.08757008419747316778e-9,
                                   -2.75573141792967388112e-7,  2.48015872888517045348e-5,
                                   -1.38888888888730564116e-3,  4.16666666666665929218e-2};

/* Payne-Hanek reduction of x >= 2^29 by Pi/4: the octant j and the remainder z. */
static void go_trig_reduce(double x, uint64_t *j, double *z)
{
    static const uint64_t m_pi4[20] = {
        0x0000000000000001ULL, 0x45f306dc9c882a53ULL, 0xf84eafa3ea69bb81ULL, 0xb6c52b3278872083ULL,
        0xfca2c757bd778ac3ULL, 0x6e48dc74849ba5c0ULL, 0x0c925dd413a32439ULL, 0xfc3bd63962534e7dULL,
        0xd1046bea5d768909ULL, 0xd338e04d68befc82ULL, 0x7323ac7306a673e9ULL, 0x3908bf177bf25076ULL,
        0x3ff12fffbc0b301fULL, 0xde5e2316b414da3eULL, 0xda6cfd9e4f96136eULL, 0x9e8c7ecd3cbfd45aULL,
        0xea4f758fd7cbe2f6ULL, 0x7a0e73ef14a525d4ULL, 0xd7f6bf623f1aba10ULL, 0xac06608df8f6d757ULL,
    };
    const double pi4 = 0.78539816339744830961566084581987572104929234984378;
    if (x < pi4) {
        *j = 0;
        *z = x;
        return;
    }
    uint64_t ix;
    memcpy(&ix, &x, sizeof ix);
    int exp = (int)((ix >> 52) & 0x7ff) - 1023 - 52;
    ix &= ~(0x7ffULL << 52);
    ix |= 1ULL << 52;
    unsigned digit = (unsigned)(exp + 61) / 64, bitshift = (unsigned)(exp + 61) % 64;
    /* Go's shifts by 64 give 0; C's are undefined, hence the guards. */
#define SHL(v, s) ((s) >= 64 ? 0 : (v) << (s))
#define SHR(v, s) ((s) >= 64 ? 0 : (v) >> (s))
    uint64_t z0 = SHL(m_pi4[digit], bitshift) | SHR(m_pi4[digit + 1], 64 - bitshift);
    uint64_t z1 = SHL(m_pi4[digit + 1], bitshift) | SHR(m_pi4[digit + 2], 64 - bitshift);
    uint64_t z2 = SHL(m_pi4[digit + 2], bitshift) | SHR(m_pi4[digit + 3], 64 - bitshift);
    unsigned __int128 p2 = (unsigned __int128)z2 * ix, p1 = (unsigned __int128)z1 * ix;
    uint64_t z2hi = (uint64_t)(p2 >> 64);
    uint64_t z1hi = (uint64_t)(p1 >> 64), z1lo = (uint64_t)p1;
    uint64_t z0lo = z0 * ix;
    uint64_t lo = z1lo + z2hi;
    uint64_t carry = lo < z1lo;
    uint64_t hi = z0lo + z1hi + carry;
    *j = hi >> 61;
    hi = hi << 3 | lo >> 61;
    unsigned lz = (unsigned)__builtin_clzll(hi);
    uint64_t e = (uint64_t)(1023 - (lz + 1));
    hi = SHL(hi, lz + 1) | SHR(lo, 64 - (lz + 1));
    hi >>= 64 - 52;
    hi |= e << 52;
#undef SHL
#undef SHR
    double r;
    memcpy(&r, &hi, sizeof r);
    if (*j & 1) {
        *j = (*j + 1) & 7;
        r--;
    }
    *z = r * pi4;
}

/* The octant and reduced argument of |x|, shared by sin, cos and tan. */
static void go_reduce(double x, uint64_t *j, double *z, int keep_octant)
{
    if (x >= (double)(1 << 29)) {
        go_trig_reduce(x, j, z);
        return;
    }
    *j = (uint64_t)(x * go_4_over_pi);
    double y = (double)*j;
    if (*j & 1) {
        (*j)++;
        y++;
    }
    if (keep_octant)
        *j &= 7;
    *z = ((x - y * go_pi4a) - y * go_pi4b) - y * go_pi4c;
}

static double go_sin_poly(double z, double zz)
{
    const double *c = go_sin_c;
    return z +
           z * zz * ((((((c[0] * zz) + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5]);
}

static double go_cos_poly(double zz)
{
    const double *c = go_cos_c;
    return 1.0 - 0.5 * zz +
           zz * zz * ((((((c[0] * zz) + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5]);
}

static double go_sin(double x)
{
    if (x == 0 || isnan(x))
        return x;
    if (isinf(x))
        return NAN;
    int sign = 0;
    if (x < 0) {
        x = -x;
        sign = 1;
    }
    uint64_t j;
    double z;
    go_reduce(x, &j, &z, 1);
    if (j > 3) {
        sign = !sign;
        j -= 4;
    }
    double zz = z * z;
    double y = (j == 1 || j == 2) ? go_cos_poly(zz) : go_sin_poly(z, zz);
    return sign ? -y : y;
}

static double go_cos(double x)
{
    if (isnan(x) || isinf(x))
        return NAN;
    int sign = 0;
    x = fabs(x);
    uint64_t j;
    double z;
    go_reduce(x, &j, &z, 1);
    if (j > 3) {
        j -= 4;
        sign = !sign;
    }
    if (j > 1)
        sign = !sign;
    double zz = z * z;
    double y = (j == 1 || j == 2) ? go_sin_poly(z, zz) : go_cos_poly(zz);
    return sign ? -y : y;
}

static double go_tan(double x)
{
    static const double p[3] = {-1.30936939181383777646e4, 1.15351664838587416140e6,
                                -1.79565251976484877988e7};
    static const double q[5] = {1.00000000000000000000e0, 1.36812963470692954678e4,
                                -1.32089234440210967447e6, 2.50083801823357915839e7,
                                -5.38695755929454629881e7};
    if (x == 0 || isnan(x))
        return x;
    if (isinf(x))
        return NAN;
    int sign = 0;
    if (x < 0) {
        x = -x;
        sign = 1;
    }
    uint64_t j;
    double z, y;
    go_reduce(x, &j, &z, 0);
    double zz = z * z;
    if (zz > 1e-14)
        y = z + z * (zz * (((p[0] * zz) + p[1]) * zz + p[2]) /
                     ((((zz + q[1]) * zz + q[2]) * zz + q[3]) * zz + q[4]));
    else
        y = z;
    if (j & 2)
        y = -1 / y;
    return sign ? -y : y;
}

static double go_log10(double x)
{
    return go_log(x) *
           0.43429448190325182765112891891660508229439700580366656611445378; /* 1/Ln10 */
}

static double go_log2(double x)
{
    if (isnan(x) || isinf(x) || x == 0)
        return go_log(x);
    int e;
    double frac = frexp(x, &e);
    if (frac == 0.5) /* exact powers of two */
        return (double)(e - 1);
    return go_log(frac) *
               1.44269504088896340735992468100189213742664595415298593413544940 /* 1/Ln2 */
           + (double)e;
}

/* Go's math.Atan/Asin/Acos (Cephes): Go's acos(x) is Pi/2 - Asin(x), which is off from the
 * correctly rounded value by up to ~1e-11 near 1; PromQL users see Go's numbers. */
static double go_xatan(double x)
{
    const double p0 = -8.750608600031904122785e-01, p1 = -1.615753718733365076637e+01;
    const double p2 = -7.500855792314704667340e+01, p3 = -1.228866684490136173410e+02;
    const double p4 = -6.485021904942025371773e+01, q0 = +2.485846490142306297962e+01;
    const double q1 = +1.650270098316988542046e+02, q2 = +4.328810604912902668951e+02;
    const double q3 = +4.853903996359136964868e+02, q4 = +1.945506571482613964425e+02;
    double z = x * x;
    z = z * ((((p0 * z + p1) * z + p2) * z + p3) * z + p4) /
        (((((z + q0) * z + q1) * z + q2) * z + q3) * z + q4);
    return x * z + x;
}

static double go_satan(double x)
{
    const double morebits = 6.123233995736765886130e-17, tan3pio8 = 2.41421356237309504880;
    if (x <= 0.66)
        return go_xatan(x);
    if (x > tan3pio8)
        return M_PI / 2 - go_xatan(1 / x) + morebits;
    return M_PI / 4 + go_xatan((x - 1) / (x + 1)) + 0.5 * morebits;
}

static double go_atan(double x)
{
    if (x == 0)
        return x;
    if (x > 0)
        return go_satan(x);
    return -go_satan(-x);
}

static double go_asin(double x)
{
    if (x == 0)
        return x;
    int sign = 0;
    if (x < 0) {
        x = -x;
        sign = 1;
    }
    if (x > 1)
        return NAN;
    double temp = sqrt(1 - x * x);
    if (x > 0.7)
        temp = M_PI / 2 - go_satan(temp / x);
    else
        temp = go_satan(x / temp);
    return sign ? -temp : temp;
}

static double go_acos(double x)
{
    return M_PI / 2 - go_asin(x);
}

ELEM1(e_abs, fabs(v))
ELEM1(e_ceil, ceil(v))
ELEM1(e_floor, floor(v))
ELEM1(e_exp, exp(v))
ELEM1(e_sqrt, sqrt(v))
ELEM1(e_ln, go_log(v))
ELEM1(e_log2, go_log2(v))
ELEM1(e_log10, go_log10(v))
ELEM1(e_sin, go_sin(v))
ELEM1(e_cos, go_cos(v))
ELEM1(e_tan, go_tan(v))
ELEM1(e_asin, go_asin(v))
ELEM1(e_acos, go_acos(v))
ELEM1(e_atan, go_atan(v))
ELEM1(e_sinh, sinh(v))
ELEM1(e_cosh, cosh(v))
ELEM1(e_tanh, tanh(v))
ELEM1(e_asinh, asinh(v))
ELEM1(e_acosh, acosh(v))
ELEM1(e_atanh, atanh(v))
ELEM1(e_rad, v *M_PI / 180)
ELEM1(e_deg, v * 180 / M_PI)
ELEM1(e_pi, ((void)v, M_PI))
ELEM1(e_sgn, v<0 ? -1.0 : v> 0 ? 1.0 : v)

/* Go's math.Max and math.Min: NaN wins, and the signs of zeros are ordered. */
static double go_max(double x, double y)
{
    if (isinf(x) && x > 0)
        return x;
    if (isinf(y) && y > 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

static double go_min(double x, double y)
{
    if (isinf(x) && x < 0)
        return x;
    if (isinf(y) && y < 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? x : y;
    return x < y ? x : y;
}

static double e_clamp(double v, const double *a, size_t na)
{
    if (na < 2)
        return NAN;
    return go_max(a[0], go_min(a[1], v));
}

static double e_clamp_max(double v, const double *a, size_t na)
{
    if (na < 1)
        return NAN;
    return go_max(-INFINITY, go_min(a[0], v));
}

static double e_clamp_min(double v, const double *a, size_t na)
{
    if (na < 1)
        return NAN;
    return go_max(a[0], go_min(INFINITY, v));
}

static double e_round(double v, const double *a, size_t na)
{
    double to = na >= 1 ? a[0] : 1;
    /* Inverting first loses less precision (Prometheus's comment); ties round up. */
    double inv = 1.0 / to;
    return floor(v * inv + 0.5) / inv;
}

/* ---- date kernels (UTC) -----------------------------------------------------------------------
 */

typedef struct civil {
    int64_t year;
    int month;    /* 1..12 */
    int day;      /* 1..31 */
    int64_t days; /* days since 1970-01-01 */
    int64_t sod;  /* seconds of the day */
} civil;

/* Go truncates the float to int64 seconds (time.Unix(int64(v), 0)). Values that are NaN,
 * infinite or outside int64 have no time: we answer NaN (see the report on Prometheus's
 * platform-dependent conversion). */
static int to_civil(double v, civil *c)
{
    if (!(v > -9.2e18 && v < 9.2e18))
        return -1;
    int64_t secs = (int64_t)v;
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    c->days = days;
    c->sod = sod;
    /* Howard Hinnant's civil_from_days. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    c->year = y + (m <= 2);
    c->month = (int)m;
    c->day = (int)d;
    return 0;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

static double e_year(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    return to_civil(v, &c) ? NAN : (double)c.year;
}

static double e_month(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    return to_civil(v, &c) ? NAN : (double)c.month;
}

static double e_day_of_month(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    return to_civil(v, &c) ? NAN : (double)c.day;
}

static double e_day_of_week(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    if (to_civil(v, &c))
        return NAN;
    int64_t w = (c.days + 4) % 7; /* 1970-01-01 was a Thursday; Sunday is 0 */
    if (w < 0)
        w += 7;
    return (double)w;
}

static double e_day_of_year(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    if (to_civil(v, &c))
        return NAN;
    int yd = c.day;
    for (int m = 1; m < c.month; m++)
        yd += month_days(c.year, m);
    return (double)yd;
}

static double e_days_in_month(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    return to_civil(v, &c) ? NAN : (double)month_days(c.year, c.month);
}

static double e_hour(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    return to_civil(v, &c) ? NAN : (double)(c.sod / 3600);
}

static double e_minute(double v, const double *a, size_t na)
{
    (void)a, (void)na;
    civil c;
    return to_civil(v, &c) ? NAN : (double)(c.sod % 3600 / 60);
}

/* ---- the table --------------------------------------------------------------------------------
 */

#define S PROMQL_ARG_SCALAR
#define V PROMQL_ARG_VECTOR
#define M PROMQL_ARG_MATRIX
#define STR PROMQL_ARG_STRING

/* name, ret, args, nargs, variadic, kind, range, elem, drops_name, native_hist, experimental */
#define RANGE(n, fn, drop, exp)                                                                    \
    {                                                                                              \
        n, V, {M}, 1, 0, PROMQL_FK_RANGE, fn, NULL, drop, 0, exp                                   \
    }
#define ELEM(n, fn)                                                                                \
    {                                                                                              \
        n, V, {V}, 1, 0, PROMQL_FK_ELEM, NULL, fn, 1, 0, 0                                         \
    }
#define DATE(n, fn)                                                                                \
    {                                                                                              \
        n, V, {V}, 1, 1, PROMQL_FK_ELEM, NULL, fn, 1, 0, 0                                         \
    }
#define NATIVE(n)                                                                                  \
    {                                                                                              \
        n, V, {V}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 1, 1, 0                                    \
    }

/* Sorted by name for binary search. */
static const promql_func funcs[] = {
    ELEM("abs", e_abs),
    {"absent", V, {V}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    {"absent_over_time", V, {M}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    ELEM("acos", e_acos),
    ELEM("acosh", e_acosh),
    ELEM("asin", e_asin),
    ELEM("asinh", e_asinh),
    ELEM("atan", e_atan),
    ELEM("atanh", e_atanh),
    RANGE("avg_over_time", k_avg, 1, 0),
    ELEM("ceil", e_ceil),
    RANGE("changes", k_changes, 1, 0),
    {"clamp", V, {V, S, S}, 3, 0, PROMQL_FK_ELEM, NULL, e_clamp, 1, 0, 0},
    {"clamp_max", V, {V, S}, 2, 0, PROMQL_FK_ELEM, NULL, e_clamp_max, 1, 0, 0},
    {"clamp_min", V, {V, S}, 2, 0, PROMQL_FK_ELEM, NULL, e_clamp_min, 1, 0, 0},
    ELEM("cos", e_cos),
    ELEM("cosh", e_cosh),
    RANGE("count_over_time", k_count, 1, 0),
    DATE("day_of_month", e_day_of_month),
    DATE("day_of_week", e_day_of_week),
    DATE("day_of_year", e_day_of_year),
    DATE("days_in_month", e_days_in_month),
    ELEM("deg", e_deg),
    RANGE("delta", k_delta, 1, 0),
    RANGE("deriv", k_deriv, 1, 0),
    {"double_exponential_smoothing",
     V,
     {M, S, S},
     3,
     0,
     PROMQL_FK_RANGE,
     k_holt_winters,
     NULL,
     1,
     0,
     1},
    ELEM("exp", e_exp),
    RANGE("first_over_time", k_first, 0, 1),
    ELEM("floor", e_floor),
    NATIVE("histogram_avg"),
    NATIVE("histogram_count"),
    {"histogram_fraction", V, {S, S, V}, 3, 0, PROMQL_FK_SPECIAL, NULL, NULL, 1, 1, 0},
    {"histogram_quantile", V, {S, V}, 2, 0, PROMQL_FK_SPECIAL, NULL, NULL, 1, 0, 0},
    NATIVE("histogram_stddev"),
    NATIVE("histogram_stdvar"),
    NATIVE("histogram_sum"),
    {"holt_winters", V, {M, S, S}, 3, 0, PROMQL_FK_RANGE, k_holt_winters, NULL, 1, 0, 2},
    DATE("hour", e_hour),
    RANGE("idelta", k_idelta, 1, 0),
    RANGE("increase", k_increase, 1, 0),
    RANGE("irate", k_irate, 1, 0),
    {"label_join", V, {V, STR, STR, STR}, 4, -1, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    {"label_replace", V, {V, STR, STR, STR, STR}, 5, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    RANGE("last_over_time", k_last, 0, 0),
    ELEM("ln", e_ln),
    ELEM("log10", e_log10),
    ELEM("log2", e_log2),
    RANGE("mad_over_time", k_mad, 1, 1),
    RANGE("max_over_time", k_max, 1, 0),
    RANGE("min_over_time", k_min, 1, 0),
    DATE("minute", e_minute),
    DATE("month", e_month),
    {"pi", S, {0}, 0, 0, PROMQL_FK_SPECIAL, NULL, e_pi, 0, 0, 0},
    {"predict_linear", V, {M, S}, 2, 0, PROMQL_FK_RANGE, k_predict_linear, NULL, 1, 0, 0},
    RANGE("present_over_time", k_present, 1, 0),
    {"quantile_over_time", V, {S, M}, 2, 0, PROMQL_FK_RANGE, k_quantile, NULL, 1, 0, 0},
    ELEM("rad", e_rad),
    RANGE("rate", k_rate, 1, 0),
    RANGE("resets", k_resets, 1, 0),
    {"round", V, {V, S}, 2, 1, PROMQL_FK_ELEM, NULL, e_round, 1, 0, 0},
    {"scalar", S, {V}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    ELEM("sgn", e_sgn),
    ELEM("sin", e_sin),
    ELEM("sinh", e_sinh),
    {"sort", V, {V}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    {"sort_by_label", V, {V, STR}, 2, -1, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 1},
    {"sort_by_label_desc", V, {V, STR}, 2, -1, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 1},
    {"sort_desc", V, {V}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    ELEM("sqrt", e_sqrt),
    RANGE("stddev_over_time", k_stddev, 1, 0),
    RANGE("stdvar_over_time", k_stdvar, 1, 0),
    RANGE("sum_over_time", k_sum, 1, 0),
    ELEM("tan", e_tan),
    ELEM("tanh", e_tanh),
    {"time", S, {0}, 0, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    {"timestamp", V, {V}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 1, 0, 0},
    RANGE("ts_of_first_over_time", k_ts_of_first, 1, 1),
    RANGE("ts_of_last_over_time", k_ts_of_last, 1, 1),
    RANGE("ts_of_max_over_time", k_ts_of_max, 1, 1),
    RANGE("ts_of_min_over_time", k_ts_of_min, 1, 1),
    {"vector", V, {S}, 1, 0, PROMQL_FK_SPECIAL, NULL, NULL, 0, 0, 0},
    DATE("year", e_year),
};

#define NFUNCS (sizeof funcs / sizeof funcs[0])

/* Compares a counted name with a NUL-terminated one, as strcmp would order them. */
static int name_cmp(const char *name, size_t len, const char *z)
{
    size_t zl = strlen(z);
    size_t m = len < zl ? len : zl;
    int c = memcmp(name, z, m);
    if (c)
        return c;
    return (len > zl) - (len < zl);
}

const promql_func *promql_func_lookup(const char *name, size_t len)
{
    if (!name)
        return NULL;
    size_t lo = 0, hi = NFUNCS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, funcs[mid].name);
        if (c == 0)
            return &funcs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t promql_func_count(void)
{
    return NFUNCS;
}

const promql_func *promql_func_at(size_t i)
{
    return i < NFUNCS ? &funcs[i] : NULL;
}

static void set_msg(char *msg, size_t msglen, const char *fmt, const char *name, size_t a, size_t b)
{
    if (msg && msglen)
        snprintf(msg, msglen, fmt, a, name, b);
}

int promql_func_check_arity(const promql_func *f, size_t got, char *msg, size_t msglen)
{
    if (f->variadic == 0) {
        if (got != f->nargs) {
            set_msg(msg, msglen, "expected %zu argument(s) in call to \"%s\", got %zu", f->name,
                    f->nargs, got);
            return -EINVAL;
        }
        return 0;
    }
    size_t least = f->nargs - 1;
    if (got < least) {
        set_msg(msg, msglen, "expected at least %zu argument(s) in call to \"%s\", got %zu",
                f->name, least, got);
        return -EINVAL;
    }
    if (f->variadic > 0) {
        size_t most = least + (size_t)f->variadic;
        if (got > most) {
            set_msg(msg, msglen, "expected at most %zu argument(s) in call to \"%s\", got %zu",
                    f->name, most, got);
            return -EINVAL;
        }
    }
    return 0;
}

promql_arg promql_func_arg_type(const promql_func *f, size_t i)
{
    if (f->nargs == 0)
        return PROMQL_ARG_SCALAR;
    if (i >= f->nargs)
        i = f->nargs - 1;
    return f->args[i];
}

int promql_func_check_args(const promql_func *f, const double *args, size_t nargs, char *msg,
                           size_t msglen)
{
    if (f->elem == e_clamp && nargs >= 2 && args[1] < args[0])
        return 1;
    if (f->range == k_holt_winters && nargs >= 2) {
        if (!(args[0] > 0 && args[0] < 1)) {
            if (msg && msglen)
                snprintf(msg, msglen, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f",
                         args[0]);
            return -EINVAL;
        }
        if (!(args[1] > 0 && args[1] < 1)) {
            if (msg && msglen)
                snprintf(msg, msglen, "invalid trend factor. Expected: 0 < tf < 1, got: %f",
                         args[1]);
            return -EINVAL;
        }
    }
    return 0;
}
