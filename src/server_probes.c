/* server_probes: the runner's sink appends each result to the store as one batch; its tick
 * re-reads the catalog's assignments for "no agent" whenever the catalog changed. */
#include "server_probes.h"

#include "agent/probes/runner.h"
#include "catalog/assign.h"
#include "lib/labels.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#define VANTAGE "server"

struct server_probes {
    cat_store *cat;
    tsdb *db;
    probe_runner *runner;
    uint64_t gen; /* catalog generation last applied (+1: 0 means never) */
    uint64_t dropped;
};

/* Appends one run's samples. On the runner's thread. */
static void on_result(void *vsp, const probe_result *res)
{
    server_probes *sp = vsp;
    size_t n = res->nsamples, refused = 0;
    tsdb_series_in *in = mem_calloc(n ? n : 1, sizeof *in);
    label *lv = mem_calloc(n ? n * (LABELS_MAX + 1) : 1, sizeof *lv);
    sample *smp = mem_calloc(n ? n : 1, sizeof *smp);
    tsdb_appender *app = NULL;
    char err[128];
    if (!in || !lv || !smp || tsdb_appender_begin(sp->db, &app)) {
        sp->dropped += n;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const probe_sample *s = &res->samples[i];
        label *v = lv + i * (LABELS_MAX + 1);
        size_t k = 0;
        v[k++] = (label){LABELS_NAME, s->metric};
        for (size_t j = 0; s->labels[j] && k < LABELS_MAX; j += 2)
            if (*s->labels[j + 1])
                v[k++] = (label){s->labels[j], s->labels[j + 1]};
        in[i].ls = (labels){v, k};
        labels_sort(&in[i].ls);
        if (labels_validate(&in[i].ls, err, sizeof err)) {
            refused++;
            continue;
        }
        smp[i] = (sample){s->t, s->v};
        in[i].samples = &smp[i];
        in[i].nsamples = 1;
        if (tsdb_appender_add(app, &in[i])) {
            tsdb_appender_rollback(app);
            app = NULL;
            sp->dropped += n;
            goto out;
        }
    }
    int rc = tsdb_appender_commit(app, NULL);
    app = NULL;
    if (rc)
        log_warn("probes: cannot store the result of %s: %s", res->def->name, strerror(-rc));
    if (refused)
        log_warn("probes: %zu samples of %s refused (invalid labels)", refused, res->def->name);
out:
    mem_free(in);
    mem_free(lv);
    mem_free(smp);
}

static void on_tick(void *vsp, probe_runner *r)
{
    server_probes *sp = vsp;
    uint64_t g = cat_store_generation(sp->cat) + 1;
    if (g == sp->gen)
        return;
    cat_result cr = {0};
    json_t *probes = NULL;
    if (cat_assignments(sp->cat, 0, &probes, &cr)) {
        log_warn("probes: cannot read the schedules: %s", cr.msg);
        cat_result_clear(&cr);
        return;
    }
    if (probe_runner_apply(r, probes) == 0)
        sp->gen = g;
    json_decref(probes);
}

typedef struct done_ctx {
    api_test_done_fn done;
    void *ctx;
} done_ctx;

static void on_test(void *vd, const char *id, json_t *result)
{
    done_ctx *d = vd;
    d->done(d->ctx, id, result);
    mem_free(d);
}

static int run_test(void *vsp, const char *id, const json_t *entry, api_test_done_fn done,
                    void *done_ctx_)
{
    server_probes *sp = vsp;
    done_ctx *d = mem_calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->done = done;
    d->ctx = done_ctx_;
    int rc = probe_runner_test(sp->runner, id, entry, on_test, d);
    if (rc)
        mem_free(d);
    return rc;
}

int server_probes_start(server_probes **out, cat_store *cat, tsdb *db, api_ctx *api)
{
    server_probes *sp = mem_calloc(1, sizeof *sp);
    if (!sp)
        return -ENOMEM;
    sp->cat = cat;
    sp->db = db;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    probe_runner_opts o = {.sched = {.probe = {.vantage = VANTAGE},
                                     .sink = on_result,
                                     .sink_ctx = sp},
                           .tick = on_tick,
                           .tick_ctx = sp};
    int rc = probe_runner_start(&sp->runner, &o);
    if (rc) {
        mem_free(sp);
        return rc;
    }
    api->run_test = run_test;
    api->run_test_ctx = sp;
    *out = sp;
    return 0;
}

void server_probes_stop(server_probes *sp, api_ctx *api)
{
    if (!sp)
        return;
    api->run_test = NULL;
    probe_runner_stop(sp->runner);
    curl_global_cleanup();
    mem_free(sp);
}
