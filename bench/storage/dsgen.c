/* dsgen: the storage benchmark's dataset: remote-write request bodies for H hosts, each with the
 * series shapes of one real node_exporter host (bench/storage/shapes.py), over D hours at a fixed
 * interval, ending at --end (default: now). The same file is replayed to every store (rwload), so
 * each one ingests exactly the same bytes.
 *
 *   dsgen --shapes FILE [--hosts 200] [--hours 6] [--interval 10s] [--end MS] [--seed 1]
 *         [--per-series 1] [--max-samples 2000] [--out PAYLOAD] [--openmetrics FILE]
 *         [--om-hosts N]
 *
 * PAYLOAD format (little endian): the 8-byte magic "DDRWPL1\n", then one record per request:
 *   u32 body length, u32 number of samples in it, body (snappy-compressed WriteRequest).
 *
 * Order: the stream walks time in windows of --per-series steps. Within a window every host's
 * series follow each other (series of one host grouped, labels sorted), each series carrying
 * that window's samples, packed into requests of at most --max-samples samples. So every series
 * is strictly time-ordered across the stream and the whole stream is time-ordered to within one
 * window, which any receiver accepts (Prometheus's head refuses samples older than ~1 h behind
 * its newest). With --per-series 1 (the default) a request looks like Prometheus's own remote
 * write when it keeps up: up to 2000 series with one sample each.
 *
 * Values are deterministic (a hash of seed, host, series and step): each host has its own
 * instance label (host-0001:9100), job="node", its own scrape phase within the interval, a
 * little timestamp jitter on 5 % of its scrapes, and per-series rates and levels scaled by a
 * factor in [0.5, 1.5). --openmetrics writes the same samples of the first --om-hosts hosts as
 * OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
 *
 * Prints a summary as key=value lines on stdout. */
#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/sample.h"
#include "lib/timeutil.h"
#include "wire/rw.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_CONST, K_COUNTER, K_MOSTLY, K_GAUGE, K_TIME };

typedef struct shape {
    enum kind kind;
    int decimals;   /* -1: full precision */
    double quantum; /* values are multiples of it (1, or 1024/4096 for byte gauges) */
    double base, param, p;
    int nonneg;
    int counter; /* C, and I (a counter that rarely moves) */
    label *lv;   /* sorted, including instance (value set per host) and job */
    size_t nl;
    size_t inst;               /* index of the instance label in lv */
    char *text;                /* name{labels} as read, for OpenMetrics output */
    char *om_name, *om_labels; /* split of text: name, and the labels without braces */
} shape;

static void die(const char *msg)
{
    fprintf(stderr, "dsgen: %s\n", msg);
    exit(2);
}

/* splitmix64: the generator's only source of randomness, keyed so any (host, series, step)
 * value is reproducible without sequential state. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double unif(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t x = mix(mix(mix(mix(a) ^ b) ^ c) ^ d);
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(uint64_t a, uint64_t b, uint64_t c)
{
    double s = 0;
    for (uint64_t i = 0; i < 4; i++)
        s += unif(a, b, c, 100 + i);
    return (s - 2.0) * 1.7320508075688772;
}

static double round_dec(double v, int d)
{
    if (d < 0)
        return v;
    double m = pow(10.0, d);
    return round(v * m) / m;
}

/* The value as the exporter would have written it: its decimals, and its quantum (pages). */
static double quant(const shape *sh, double v)
{
    v = round_dec(v, sh->decimals);
    if (sh->quantum > 1)
        v = round(v / sh->quantum) * sh->quantum;
    return v;
}

static long long parse_ll(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        die(what);
    return v;
}

static double parse_d(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        die(what);
    return v;
}

static long long parse_dur_ms(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        die("bad --interval");
    if (!strcmp(end, "ms"))
        return (long long)v;
    if (!strcmp(end, "s") || !*end)
        return (long long)(v * 1000);
    if (!strcmp(end, "m"))
        return (long long)(v * 60000);
    die("bad --interval (use e.g. 10s, 1s, 500ms)");
    return 0;
}

/* Parses `name{a="x",b="y"}` into a label array with room for instance and job. Strings are
 * allocated and live until exit. */
static void parse_series(shape *sh, const char *text)
{
    sh->lv = calloc(LABELS_MAX, sizeof *sh->lv);
    sh->text = strdup(text);
    const char *brace = strchr(text, '{');
    size_t nlen = brace ? (size_t)(brace - text) : strlen(text);
    sh->om_name = strndup(text, nlen);
    sh->lv[0] = (label){LABELS_NAME, sh->om_name};
    sh->nl = 1;
    sh->om_labels = strdup("");
    if (brace) {
        size_t tl = strlen(brace);
        if (tl < 2 || brace[tl - 1] != '}')
            die("bad series in shapes file");
        free(sh->om_labels);
        sh->om_labels = strndup(brace + 1, tl - 2);
        const char *p = brace + 1;
        while (*p && *p != '}') {
            const char *eq = strchr(p, '=');
            if (!eq || eq[1] != '"')
                die("bad labels in shapes file");
            char *name = strndup(p, (size_t)(eq - p));
            char *val = malloc(strlen(eq));
            size_t vn = 0;
            const char *q = eq + 2;
            for (; *q && *q != '"'; q++) {
                if (*q == '\\' && q[1]) {
                    q++;
                    val[vn++] = *q == 'n' ? '\n' : *q;
                } else {
                    val[vn++] = *q;
                }
            }
            if (*q != '"')
                die("unterminated label value in shapes file");
            val[vn] = '\0';
            if (sh->nl + 2 >= LABELS_MAX)
                die("too many labels");
            if (strcmp(name, "instance") && strcmp(name, "job") && vn)
                sh->lv[sh->nl++] = (label){name, val};
            p = q + 1;
            if (*p == ',')
                p++;
        }
    }
    sh->lv[sh->nl++] = (label){"instance", ""};
    sh->lv[sh->nl++] = (label){"job", "node"};
    labels ls = {sh->lv, sh->nl};
    labels_sort(&ls);
    for (size_t i = 0; i < sh->nl; i++)
        if (!strcmp(sh->lv[i].name, "instance"))
            sh->inst = i;
}

static shape *read_shapes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open --shapes file");
    shape *v = NULL;
    size_t nv = 0, cap = 0;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (!l || line[0] == '#')
            continue;
        char *fld[8];
        char *p = line;
        for (int i = 0; i < 8; i++) {
            fld[i] = p;
            char *tab = i < 7 ? strchr(p, '\t') : NULL;
            if (i < 7 && !tab)
                die("shapes line needs 8 tab-separated fields");
            if (tab) {
                *tab = '\0';
                p = tab + 1;
            }
        }
        if (nv == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
        }
        shape *sh = &v[nv++];
        memset(sh, 0, sizeof *sh);
        switch (fld[0][0]) {
        case 'K':
            sh->kind = K_CONST;
            break;
        case 'C':
            sh->kind = K_COUNTER;
            break;
        case 'M':
            sh->kind = K_MOSTLY;
            break;
        case 'I':
            sh->kind = K_MOSTLY;
            sh->counter = 1;
            break;
        case 'G':
            sh->kind = K_GAUGE;
            break;
        case 'T':
            sh->kind = K_TIME;
            break;
        default:
            die("unknown shape kind");
        }
        sh->decimals = (int)parse_ll(fld[1], "bad decimals");
        sh->quantum = parse_d(fld[2], "bad quantum");
        if (sh->quantum < 1)
            die("bad quantum");
        sh->base = parse_d(fld[3], "bad base");
        sh->param = parse_d(fld[4], "bad param");
        sh->p = parse_d(fld[5], "bad p");
        sh->nonneg = (int)parse_ll(fld[6], "bad nonneg");
        parse_series(sh, fld[7]);
    }
    fclose(f);
    if (!nv)
        die("no series in the shapes file");
    *n = nv;
    return v;
}

/* Per (host, series) state: the current value. */
typedef struct state {
    double v, level, f;
    int counter; /* 1 if the series only grows (C, or M of a counter) */
} state;

static void init_state(state *st, const shape *sh, uint64_t seed, uint64_t h, uint64_t s)
{
    st->f = 0.5 + unif(seed, h, s, 1);
    double base = sh->base;
    if (fabs(base) > 1 && sh->kind != K_TIME)
        base *= st->f;
    st->level = quant(sh, base);
    st->v = st->level;
    st->counter = sh->kind == K_COUNTER || sh->counter;
}

static double next_value(state *st, const shape *sh, uint64_t seed, uint64_t h, uint64_t s,
                         uint64_t k, double isec, double tsec)
{
    double v = st->v;
    switch (sh->kind) {
    case K_CONST:
        break;
    case K_TIME:
        v = tsec + sh->base + unif(seed, h, s, k) * 1e-3;
        break;
    case K_COUNTER: {
        double inc = sh->param * st->f * isec * (1.0 + 0.3 * gauss(seed ^ 7, h * 1000003 + s, k));
        if (inc < 0)
            inc = 0;
        if (sh->decimals == 0)
            inc = floor(inc + unif(seed, h, s, k));
        v = quant(sh, v + inc);
        break;
    }
    case K_MOSTLY: {
        double pstep = 1.0 - exp(-sh->p * isec);
        if (unif(seed ^ 3, h, s, k) < pstep) {
            if (st->counter) {
                v = quant(sh, v + (sh->param > 0 ? sh->param : 1));
            } else {
                double dir = unif(seed ^ 5, h, s, k) < (v > st->level ? 0.7 : 0.3) ? -1 : 1;
                v = quant(sh, v + dir * sh->param);
                if (sh->nonneg && v < 0)
                    v = 0;
            }
        }
        break;
    }
    case K_GAUGE: {
        double step = sh->param * st->f * sqrt(isec) * gauss(seed ^ 11, h * 1000003 + s, k);
        v = v + step + 0.02 * (st->level - v);
        v = quant(sh, v);
        if (sh->nonneg && v < 0)
            v = 0;
        break;
    }
    }
    st->v = v;
    return v;
}

typedef struct out {
    FILE *f;
    buf body;
    unsigned long long requests, bytes, samples;
} out;

static void put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    if (fwrite(b, 1, 4, f) != 4)
        die("write failed");
}

static void flush_req(out *o, rw_series *rs, size_t n)
{
    if (!n)
        return;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        ns += rs[i].nsamples;
    o->samples += ns;
    o->requests++;
    if (!o->f)
        return;
    buf_reset(&o->body);
    if (rw_encode(rs, n, &o->body))
        die("rw_encode failed");
    put_u32(o->f, (uint32_t)o->body.len);
    put_u32(o->f, (uint32_t)ns);
    if (fwrite(o->body.data, 1, o->body.len, o->f) != o->body.len)
        die("write failed");
    o->bytes += o->body.len + 8;
}

static void om_value(FILE *f, double v, int dec)
{
    if (dec >= 0)
        fprintf(f, "%.*f", dec, v);
    else
        fprintf(f, "%.17g", v);
}

int main(int argc, char **argv)
{
    const char *shapes_path = NULL, *out_path = NULL, *om_path = NULL;
    long long hosts = 200, per_series = 1, max_samples = 2000, om_hosts = -1;
    double hours = 6;
    long long interval = 10000, end = -1;
    uint64_t seed = 1;
    if (argc % 2 == 0)
        goto usage; /* options come in pairs */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i];
        const char *v = argv[i + 1];
        if (!strcmp(a, "--shapes"))
            shapes_path = v;
        else if (!strcmp(a, "--hosts"))
            hosts = parse_ll(v, "bad --hosts");
        else if (!strcmp(a, "--hours"))
            hours = parse_d(v, "bad --hours");
        else if (!strcmp(a, "--interval"))
            interval = parse_dur_ms(v);
        else if (!strcmp(a, "--end"))
            end = parse_ll(v, "bad --end");
        else if (!strcmp(a, "--seed"))
            seed = (uint64_t)parse_ll(v, "bad --seed");
        else if (!strcmp(a, "--per-series"))
            per_series = parse_ll(v, "bad --per-series");
        else if (!strcmp(a, "--max-samples"))
            max_samples = parse_ll(v, "bad --max-samples");
        else if (!strcmp(a, "--out"))
            out_path = v;
        else if (!strcmp(a, "--openmetrics"))
            om_path = v;
        else if (!strcmp(a, "--om-hosts"))
            om_hosts = parse_ll(v, "bad --om-hosts");
        else
            goto usage;
    }
    if (!shapes_path || hosts < 1 || hosts > 999999 || hours <= 0 || per_series < 1 ||
        max_samples < per_series)
        goto usage;
    if (om_hosts < 0 || om_hosts > hosts)
        om_hosts = hosts;

    size_t ns;
    shape *sh = read_shapes(shapes_path, &ns);
    long long steps = (long long)(hours * 3600000.0 / (double)interval);
    if (steps < 1)
        die("--hours shorter than one interval");
    if (end < 0)
        end = timeutil_now_ms();
    end -= end % interval;
    long long t0 = end - steps * interval; /* + phase < interval: the last sample is < end */
    double isec = (double)interval / 1000.0;

    size_t H = (size_t)hosts;
    state *st = calloc(H * ns, sizeof *st);
    char(*inst)[32] = calloc(H, 32);
    long long *phase = calloc(H, sizeof *phase);
    long long *ts = calloc((size_t)per_series, sizeof *ts);
    if (!st || !inst || !phase || !ts)
        die("out of memory");
    for (size_t h = 0; h < H; h++) {
        snprintf(inst[h], 32, "host-%04zu:9100", h + 1);
        phase[h] = (long long)(unif(seed, h, 0xfa5e, 0) * (double)interval);
        for (size_t s = 0; s < ns; s++)
            init_state(&st[h * ns + s], &sh[s], seed, h, s);
    }

    size_t max_series = (size_t)(max_samples / per_series);
    rw_series *rs = calloc(max_series, sizeof *rs);
    label *lpool = calloc(max_series * LABELS_MAX, sizeof *lpool);
    sample *spool = calloc((size_t)max_samples, sizeof *spool);
    if (!rs || !lpool || !spool)
        die("out of memory");

    out o = {0};
    buf_init(&o.body, 0);
    if (out_path) {
        o.f = fopen(out_path, "wb");
        if (!o.f)
            die("cannot create --out file");
        setvbuf(o.f, NULL, _IOFBF, 1 << 20);
        if (fwrite("DDRWPL1\n", 1, 8, o.f) != 8)
            die("write failed");
    }
    FILE *om = NULL;
    unsigned long long om_samples = 0;
    if (om_path) {
        om = fopen(om_path, "w");
        if (!om)
            die("cannot create --openmetrics file");
        setvbuf(om, NULL, _IOFBF, 1 << 20);
    }

    for (long long k0 = 0; k0 < steps; k0 += per_series) {
        size_t kn = (size_t)(steps - k0 < per_series ? steps - k0 : per_series);
        size_t nrs = 0, nsmp = 0;
        for (size_t h = 0; h < H; h++) {
            for (size_t j = 0; j < kn; j++) {
                uint64_t k = (uint64_t)k0 + j;
                long long jit = 0;
                if (unif(seed ^ 0x51, h, k, 0) < 0.05)
                    jit = (long long)(unif(seed ^ 0x52, h, k, 0) * 41.0) - 20;
                ts[j] = t0 + (long long)k * interval + phase[h] + jit;
            }
            for (size_t s = 0; s < ns; s++) {
                if (nsmp + kn > (size_t)max_samples) {
                    flush_req(&o, rs, nrs);
                    nrs = nsmp = 0;
                }
                rw_series *r = &rs[nrs];
                label *lv = lpool + nrs * LABELS_MAX;
                memcpy(lv, sh[s].lv, sh[s].nl * sizeof *lv);
                lv[sh[s].inst].value = inst[h];
                r->ls = (labels){lv, sh[s].nl};
                r->samples = spool + nsmp;
                r->nsamples = kn;
                for (size_t j = 0; j < kn; j++) {
                    uint64_t k = (uint64_t)k0 + j;
                    double v = next_value(&st[h * ns + s], &sh[s], seed, h, s, k, isec,
                                          (double)ts[j] / 1000.0);
                    r->samples[j] = (sample){ts[j], v};
                    if (om && (long long)h < om_hosts) {
                        fprintf(om, "%s{%s%sinstance=\"%s\",job=\"node\"} ", sh[s].om_name,
                                sh[s].om_labels, sh[s].om_labels[0] ? "," : "", inst[h]);
                        om_value(om, v, sh[s].decimals);
                        fprintf(om, " %lld.%03lld\n", ts[j] / 1000, ts[j] % 1000);
                        om_samples++;
                    }
                }
                nrs++;
                nsmp += kn;
            }
        }
        flush_req(&o, rs, nrs);
    }
    if (o.f && fclose(o.f))
        die("write failed");
    if (om) {
        fputs("# EOF\n", om);
        if (fclose(om))
            die("write to --openmetrics failed");
    }
    printf("hosts=%lld\nseries_per_host=%zu\nseries=%llu\nsteps=%lld\ninterval_ms=%lld\n"
           "t0_ms=%lld\nend_ms=%lld\nsamples=%llu\nrequests=%llu\npayload_bytes=%llu\n"
           "per_series=%lld\nmax_samples=%lld\nom_hosts=%lld\nom_samples=%llu\n",
           hosts, ns, (unsigned long long)H * ns, steps, interval, t0, end, o.samples, o.requests,
           o.bytes, per_series, max_samples, om ? om_hosts : 0, om_samples);
    buf_free(&o.body);
    return 0;
usage:
    fprintf(stderr, "usage: dsgen --shapes FILE [--hosts 200] [--hours 6] [--interval 10s] "
                    "[--end MS] [--seed 1] [--per-series 1] [--max-samples 2000] [--out PAYLOAD] "
                    "[--openmetrics FILE] [--om-hosts N]\n");
    return 2;
}
