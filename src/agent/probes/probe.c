/* probe: probe definitions from the agent config, the table of probe types, and the life of one
 * run: its samples (kept in an arena until it ends), its verdict, and the result handed to the
 * scheduler with the common labels added. */
#include "probe_int.h"

#include "../../lib/buf.h"
#include "../../lib/labels.h"
#include "../../lib/mem.h"
#include "../../lib/timeutil.h"
#include "curlmux.h"
#include "resolve.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

extern const probe_type probe_icmp_type, probe_tcp_type, probe_http_type, probe_dns_type,
    probe_snmp_type, probe_scrape_type, probe_munin_type, probe_nagios_type;

static const probe_type *const types[] = {
    &probe_icmp_type,   &probe_tcp_type,   &probe_http_type,  &probe_dns_type,
    &probe_snmp_type,   &probe_scrape_type, &probe_munin_type, &probe_nagios_type,
};
#define NTYPES (sizeof types / sizeof types[0])

const char *const probe_type_names[] = {"icmp",   "tcp",   "http",   "dns", "snmp",
                                        "scrape", "munin", "nagios", NULL};

static const probe_type *extra; /* tests only: probe_type_set_extra */

void probe_type_set_extra(const probe_type *t)
{
    extra = t;
}

const probe_type *probe_type_find(const char *name)
{
    for (size_t i = 0; name && i < NTYPES; i++)
        if (!strcmp(types[i]->name, name))
            return types[i];
    if (name && extra && !strcmp(extra->name, name))
        return extra;
    return NULL;
}

/* The slot of a type's shared state: its index in the table (the extra type: the last slot). */
static size_t type_index(const probe_type *t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i] == t)
            return i;
    return NTYPES;
}

/* ---- definitions ------------------------------------------------------------------------- */

static const char *const common_names[] = {"instance", "job",      "probe",  "probe_id",
                                           "target",   "device",   "endpoint", "vantage"};
#define NCOMMON (sizeof common_names / sizeof common_names[0])

int probe_is_common_label(const char *name)
{
    for (size_t i = 0; i < NCOMMON; i++)
        if (!strcmp(common_names[i], name))
            return 1;
    return 0;
}

probe_def *probe_def_ref(probe_def *d)
{
    if (d)
        d->refs++;
    return d;
}

void probe_def_unref(probe_def *d)
{
    if (!d || --d->refs > 0)
        return;
    if (d->type && d->prep && d->type->release)
        d->type->release(d->prep);
    json_decref(d->settings);
    mem_free(d->name);
    mem_free(d->type_name);
    mem_free(d->device);
    mem_free(d->endpoint);
    mem_free(d->target);
    mem_free(d->address);
    mem_free(d);
}

/* Copies string member k of o (at most max bytes, printable) into *dst. required: absent is an
 * error; else absent or null gives "". */
static int get_str(const json_t *o, const char *k, size_t max, int required, char **dst, char *err,
                   size_t errcap)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(err, errcap, "\"%s\" is missing", k);
            return -EINVAL;
        }
        *dst = mem_strdup("");
        return *dst ? 0 : -ENOMEM;
    }
    if (!json_is_string(v)) {
        snprintf(err, errcap, "\"%s\" must be a string", k);
        return -EINVAL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > max || strlen(s) != n) {
        snprintf(err, errcap, "\"%s\" is longer than %zu bytes or holds a NUL", k, max);
        return -EINVAL;
    }
    *dst = mem_strdup(s);
    return *dst ? 0 : -ENOMEM;
}

static int get_int(const json_t *o, const char *k, int64_t lo, int64_t hi, int required,
                   int64_t *dst, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(err, errcap, "\"%s\" is missing", k);
            return -EINVAL;
        }
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errcap, "\"%s\" must be an integer from %" PRId64 " to %" PRId64, k, lo,
                 hi);
        return -EINVAL;
    }
    *dst = json_integer_value(v);
    return 0;
}

int probe_def_from_json(const json_t *o, probe_def **out, char *err, size_t errcap)
{
    int rc;
    int64_t port = 0;
    *out = NULL;
    if (!json_is_object(o)) {
        snprintf(err, errcap, "a probe must be a JSON object");
        return -EINVAL;
    }
    probe_def *d = mem_calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->refs = 1;
    d->timeout_ms = 10000;
    d->interval_ms = 30000;
    if ((rc = get_int(o, "probe", 1, INT64_MAX, 1, &d->id, err, errcap)) ||
        (rc = get_int(o, "schedule", 0, INT64_MAX, 0, &d->schedule, err, errcap)) ||
        (rc = get_str(o, "type", 32, 1, &d->type_name, err, errcap)) ||
        (rc = get_str(o, "name", PROBE_NAME_MAX, 1, &d->name, err, errcap)) ||
        (rc = get_str(o, "device", PROBE_NAME_MAX, 0, &d->device, err, errcap)) ||
        (rc = get_str(o, "endpoint", PROBE_NAME_MAX, 0, &d->endpoint, err, errcap)) ||
        (rc = get_str(o, "target", PROBE_TARGET_MAX, 1, &d->target, err, errcap)) ||
        (rc = get_str(o, "address", PROBE_NAME_MAX, 0, &d->address, err, errcap)) ||
        (rc = get_int(o, "port", 0, 65535, 0, &port, err, errcap)) ||
        (rc = get_int(o, "interval_ms", 100, 86400000, 0, &d->interval_ms, err, errcap)) ||
        (rc = get_int(o, "timeout_ms", 10, 3600000, 0, &d->timeout_ms, err, errcap)) ||
        (rc = get_int(o, "jitter_ms", 0, 3600000, 0, &d->jitter_ms, err, errcap)))
        goto fail;
    d->port = (int)port;
    if (!(d->type = probe_type_find(d->type_name))) {
        snprintf(err, errcap, "unknown probe type \"%.32s\"", d->type_name);
        rc = -EINVAL;
        goto fail;
    }
    if (d->timeout_ms > d->interval_ms)
        d->timeout_ms = d->interval_ms; /* a run never overlaps the next */
    json_t *st = json_object_get(o, "settings");
    if (st && !json_is_object(st) && !json_is_null(st)) {
        snprintf(err, errcap, "\"settings\" must be an object");
        rc = -EINVAL;
        goto fail;
    }
    d->settings = st && json_is_object(st) ? json_deep_copy(st) : json_object();
    if (!d->settings) {
        rc = -ENOMEM;
        goto fail;
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = -ENOMEM;
        goto fail;
    }
    d->hash = XXH3_64bits(text, strlen(text));
    free(text);
    char why[256] = "";
    if (d->type->prepare && (rc = d->type->prepare(d, &d->prep, why, sizeof why))) {
        if (rc != -ENOMEM)
            snprintf(err, errcap, "%s probe \"%.100s\": %s", d->type_name, d->name,
                     why[0] ? why : "invalid settings");
        goto fail;
    }
    *out = d;
    return 0;
fail:
    probe_def_unref(d);
    return rc;
}

/* ---- helpers the types share -------------------------------------------------------------- */

int probe_setting_bool(const json_t *st, const char *k, int dflt, int *out, char *err,
                       size_t errcap)
{
    json_t *v = json_object_get(st, k);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v)) {
        snprintf(err, errcap, "\"%s\" must be true or false", k);
        return -EINVAL;
    }
    *out = json_is_true(v);
    return 0;
}

void *probe_pcre2_alloc(size_t n, void *ud)
{
    (void)ud;
    return mem_alloc(n);
}

void probe_pcre2_free(void *p, void *ud)
{
    (void)ud;
    mem_free(p);
}

/* ---- environment ------------------------------------------------------------------------- */

int probe_env_init(probe_env *env, uv_loop_t *loop, const probe_opts *opts)
{
    memset(env, 0, sizeof *env);
    env->loop = loop;
    env->opts = *opts;
    env->shared = mem_calloc(NTYPES + 1, sizeof *env->shared);
    env->shared_made = mem_calloc(NTYPES + 1, sizeof *env->shared_made);
    if (!env->shared || !env->shared_made) {
        mem_free(env->shared);
        mem_free(env->shared_made);
        return -ENOMEM;
    }
    return 0;
}

void probe_env_close(probe_env *env)
{
    for (size_t i = 0; env->shared && i <= NTYPES; i++) {
        const probe_type *t = i < NTYPES ? types[i] : extra;
        if (env->shared_made[i] == 1 && t && t->shared_free)
            t->shared_free(env->shared[i]);
    }
    mem_free(env->shared);
    mem_free(env->shared_made);
    curlmux_close(env->curl);
    resolver_close(env->res);
    memset(env, 0, sizeof *env);
}

/* ---- runs -------------------------------------------------------------------------------- */

typedef struct rsample {
    size_t metric; /* offsets into the arena */
    size_t first;  /* index of the first label pair (offsets) in r->lbl */
    uint32_t n;    /* label pairs */
    double v;
    int64_t t;
} rsample;

struct probe_run {
    probe_env *env;
    probe_def *def;
    probe_run_end_fn end;
    void *end_ctx;
    void *state;
    int64_t due_ms, start_ms;
    uint64_t start_ns;
    int running, ended;
    buf arena;
    size_t *lbl; /* name and value offsets, two per pair */
    size_t nlbl, caplbl;
    rsample *s;
    size_t ns, caps;
    int add_err; /* the first error of an add, kept for the message */
};

const probe_def *probe_run_def(const probe_run *r) { return r->def; }
uv_loop_t *probe_run_loop(const probe_run *r) { return r->env->loop; }
const probe_opts *probe_run_opts(const probe_run *r) { return &r->env->opts; }
int64_t probe_run_start_ms(const probe_run *r) { return r->start_ms; }
void probe_run_set_state(probe_run *r, void *state) { r->state = state; }
void *probe_run_state(const probe_run *r) { return r->state; }

void *probe_run_shared(const probe_run *r)
{
    size_t i = type_index(r->def->type);
    probe_env *env = r->env;
    if (!r->def->type->shared_init)
        return NULL;
    if (env->shared_made[i] == 0)
        env->shared_made[i] = r->def->type->shared_init(env->loop, &env->shared[i]) ? -1 : 1;
    return env->shared_made[i] == 1 ? env->shared[i] : NULL;
}

curlmux *probe_run_curl(probe_run *r)
{
    if (!r->env->curl && curlmux_new(&r->env->curl, r->env->loop))
        r->env->curl = NULL;
    return r->env->curl;
}

resolver *probe_run_resolver(probe_run *r)
{
    if (!r->env->res && resolver_new(&r->env->res, r->env->loop))
        r->env->res = NULL;
    return r->env->res;
}

int64_t probe_run_remaining_ms(const probe_run *r)
{
    int64_t spent = (int64_t)((uv_hrtime() - r->start_ns) / 1000000);
    int64_t left = r->def->timeout_ms - spent;
    return left > 0 ? left : 1;
}

static int arena_str(probe_run *r, const char *s, size_t *off)
{
    *off = r->arena.len;
    return buf_append(&r->arena, s, strlen(s) + 1);
}

int probe_run_add_at(probe_run *r, int64_t t_ms, const char *metric, const char *const *labels,
                     double v)
{
    int rc;
    if (r->ns >= PROBE_MAX_SAMPLES)
        return -E2BIG;
    if (!labels_valid_metric_name(metric))
        return -EINVAL;
    size_t n = 0;
    for (; labels && labels[2 * n]; n++) {
        if (n >= PROBE_MAX_LABELS || !labels[2 * n + 1] || !labels_valid_name(labels[2 * n]) ||
            !strcmp(labels[2 * n], "__name__") || strlen(labels[2 * n + 1]) > LABELS_MAX_VALUE)
            return -EINVAL;
        for (size_t j = 0; j < n; j++)
            if (!strcmp(labels[2 * j], labels[2 * n]))
                return -EINVAL;
    }
    if ((rc = mem_grow((void **)&r->s, &r->caps, r->ns, sizeof *r->s, 16)) ||
        (rc = mem_grow((void **)&r->lbl, &r->caplbl, r->nlbl + 2 * n, sizeof *r->lbl, 64)))
        return rc;
    size_t arena_len = r->arena.len, first = r->nlbl;
    rsample *s = &r->s[r->ns];
    rc = arena_str(r, metric, &s->metric);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = arena_str(r, labels[2 * i], &r->lbl[first + 2 * i]);
        if (!rc)
            rc = arena_str(r, labels[2 * i + 1], &r->lbl[first + 2 * i + 1]);
    }
    if (rc) {
        r->arena.len = arena_len;
        r->arena.err = 0;
        return rc;
    }
    s->first = first;
    s->n = (uint32_t)n;
    s->v = v;
    s->t = t_ms;
    r->nlbl += 2 * n;
    r->ns++;
    return 0;
}

int probe_run_add(probe_run *r, const char *metric, const char *const *labels, double v)
{
    return probe_run_add_at(r, r->start_ms, metric, labels, v);
}

int probe_run_new(probe_run **out, probe_env *env, probe_def *def, int64_t due_ms,
                  probe_run_end_fn end, void *ctx)
{
    probe_run *r = mem_calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->env = env;
    r->def = probe_def_ref(def);
    r->end = end;
    r->end_ctx = ctx;
    r->due_ms = due_ms;
    buf_init(&r->arena, 256u << 20);
    *out = r;
    return 0;
}

void probe_run_free(probe_run *r)
{
    if (!r)
        return;
    probe_def_unref(r->def);
    buf_free(&r->arena);
    mem_free(r->lbl);
    mem_free(r->s);
    mem_free(r);
}

/* Builds the result (samples with the common labels, probe_success, probe_duration_seconds)
 * and hands it to the end callback. */
static void finish(probe_run *r, int success, int timed_out, const char *msg)
{
    const probe_def *d = r->def;
    double dur = (double)(uv_hrtime() - r->start_ns) / 1e9;
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%" PRId64, d->id);
    const char *common[NCOMMON][2] = {
        {"instance", d->device[0] ? d->device : d->target},
        {"job", d->type_name},
        {"probe", d->name},
        {"probe_id", idbuf},
        {"target", d->target},
        {"device", d->device},
        {"endpoint", d->endpoint},
        {"vantage", r->env->opts.vantage ? r->env->opts.vantage : ""},
    };
    r->ended = 1;
    r->running = 0;
    /* The verdict and duration go last, like blackbox_exporter's. */
    if (probe_run_add(r, "probe_success", NULL, success ? 1 : 0) ||
        probe_run_add(r, "probe_duration_seconds", NULL, dur)) {
        /* Out of room: report at least the verdict by dropping what the type added. */
        r->ns = 0;
        r->nlbl = 0;
        buf_reset(&r->arena);
        success = 0;
        msg = "out of memory while recording the result";
        if (probe_run_add(r, "probe_success", NULL, 0))
            r->ns = 0;
    }
    /* One block of label pointers for all samples: each its own pairs, the common ones, NULL. */
    size_t nptr = 1;
    for (size_t i = 0; i < r->ns; i++)
        nptr += 2 * (size_t)r->s[i].n + NCOMMON * 2 + 1;
    probe_sample *out = mem_alloc((r->ns ? r->ns : 1) * sizeof *out);
    const char **lv = mem_alloc(nptr * sizeof *lv);
    probe_result res = {.def = d,
                        .success = success,
                        .timed_out = timed_out,
                        .start_ms = r->start_ms,
                        .duration_s = dur,
                        .late_ms = r->start_ms > r->due_ms ? r->start_ms - r->due_ms : 0,
                        .message = msg ? msg : ""};
    if (out && lv) {
        const char *a = r->arena.data;
        const char **next = lv;
        for (size_t i = 0; i < r->ns; i++) {
            const rsample *s = &r->s[i];
            const char **l = next;
            size_t k = 0;
            for (uint32_t j = 0; j < s->n; j++) {
                l[k++] = a + r->lbl[s->first + 2 * j];
                l[k++] = a + r->lbl[s->first + 2 * j + 1];
            }
            for (size_t c = 0; c < NCOMMON; c++) {
                int have = 0;
                for (uint32_t j = 0; j < s->n && !have; j++)
                    have = !strcmp(a + r->lbl[s->first + 2 * j], common[c][0]);
                if (!have) {
                    l[k++] = common[c][0];
                    l[k++] = common[c][1];
                }
            }
            l[k] = NULL;
            next = l + k + 1;
            out[i] = (probe_sample){a + s->metric, l, s->v, s->t};
        }
        res.samples = out;
        res.nsamples = r->ns;
    } else {
        res.success = 0;
        res.message = "out of memory while recording the result";
    }
    r->end(r->end_ctx, r, &res);
    mem_free(out);
    mem_free(lv);
}

void probe_run_done(probe_run *r, int success, const char *fmt, ...)
{
    char msg[PROBE_MSG_MAX] = "";
    if (r->ended)
        return;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* One line: the rest would not fit a ticket title or a log line. */
        msg[strcspn(msg, "\r\n")] = '\0';
    }
    finish(r, success, 0, msg);
}

void probe_run_start(probe_run *r)
{
    r->start_ms = timeutil_now_ms();
    r->start_ns = uv_hrtime();
    r->running = 1;
    r->def->type->start(r);
}

void probe_run_cancel(probe_run *r, const char *why)
{
    if (r->ended)
        return;
    if (r->running && r->def->type->cancel)
        r->def->type->cancel(r);
    r->state = NULL;
    finish(r, 0, 1, why);
}

/* ---- results as JSON ---------------------------------------------------------------------- */

static json_t *number(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "+Inf" : "-Inf");
    return json_real(v);
}

json_t *probe_result_json(const probe_result *res)
{
    json_t *samples = json_array();
    for (size_t i = 0; samples && i < res->nsamples; i++) {
        const probe_sample *s = &res->samples[i];
        json_t *l = json_object();
        for (size_t k = 0; l && s->labels[k]; k += 2)
            json_object_set_new(l, s->labels[k], json_string(s->labels[k + 1]));
        if (!l || json_array_append_new(samples, json_pack("{ss so so}", "metric", s->metric,
                                                           "labels", l, "value", number(s->v)))) {
            json_decref(samples);
            return NULL;
        }
    }
    return samples ? json_pack("{sb sb sf ss so}", "success", res->success, "timed_out",
                               res->timed_out, "duration_seconds", res->duration_s, "message",
                               res->message ? res->message : "", "samples", samples)
                   : NULL;
}
