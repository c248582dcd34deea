/* runner: a thread with a libuv loop and a probe scheduler. Other threads queue commands
 * (apply a config, run a test, stop) under a mutex and wake the loop with a uv_async. */
#include "runner.h"

#include "../../lib/log.h"
#include "../../lib/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef enum cmd_kind { CMD_APPLY, CMD_TEST } cmd_kind;

typedef struct cmd {
    cmd_kind kind;
    json_t *doc; /* the probes array, or the test entry */
    char id[64];
    probe_runner_test_fn cb;
    void *ctx;
    struct cmd *next;
} cmd;

typedef struct test_ctx {
    char id[64];
    probe_runner_test_fn cb;
    void *ctx;
} test_ctx;

struct probe_runner {
    probe_runner_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    cmd *head, *tail;
    int stopping;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t tick;
    probe_sched *sched;
    int ready; /* 1 started, -1 failed */
    pthread_cond_t ready_cond;
};

static void cmd_free(cmd *c)
{
    json_decref(c->doc);
    mem_free(c);
}

static void on_test_done(void *vctx, const probe_result *res)
{
    test_ctx *t = vctx;
    json_t *j = probe_result_json(res);
    t->cb(t->ctx, t->id, j);
    json_decref(j);
    mem_free(t);
}

static void run_cmd(probe_runner *r, cmd *c)
{
    char err[512];
    if (c->kind == CMD_APPLY) {
        size_t n = json_array_size(c->doc), used = 0, i;
        probe_def **defs = mem_calloc(n ? n : 1, sizeof *defs);
        json_t *o;
        if (!defs)
            return;
        json_array_foreach(c->doc, i, o)
        {
            if (json_object_get(o, "error"))
                continue;
            int rc = probe_def_from_json(o, &defs[used], err, sizeof err);
            if (rc)
                log_warn("probes: %s", rc == -ENOMEM ? "out of memory" : err);
            else
                used++;
        }
        if (probe_sched_apply(r->sched, defs, used))
            log_error("probes: out of memory applying the schedules");
        for (i = 0; i < used; i++)
            probe_def_unref(defs[i]);
        mem_free(defs);
        return;
    }
    probe_def *d = NULL;
    test_ctx *t = mem_calloc(1, sizeof *t);
    int rc = t ? probe_def_from_json(c->doc, &d, err, sizeof err) : -ENOMEM;
    if (!rc) {
        snprintf(t->id, sizeof t->id, "%s", c->id);
        t->cb = c->cb;
        t->ctx = c->ctx;
        rc = probe_sched_run_once(r->sched, d, on_test_done, t);
        if (rc)
            snprintf(err, sizeof err, "out of memory");
    }
    probe_def_unref(d);
    if (rc) {
        mem_free(t);
        probe_result res = {.success = 0, .message = rc == -ENOMEM ? "out of memory" : err};
        json_t *j = probe_result_json(&res);
        c->cb(c->ctx, c->id, j);
        json_decref(j);
    }
}

static void on_async(uv_async_t *a)
{
    probe_runner *r = a->data;
    pthread_mutex_lock(&r->mu);
    cmd *list = r->head;
    r->head = r->tail = NULL;
    int stopping = r->stopping;
    pthread_mutex_unlock(&r->mu);
    while (list) {
        cmd *c = list;
        list = c->next;
        if (!stopping)
            run_cmd(r, c);
        cmd_free(c);
    }
    if (stopping) {
        probe_sched_close(r->sched);
        r->sched = NULL;
        uv_timer_stop(&r->tick);
        uv_close((uv_handle_t *)&r->tick, NULL);
        uv_close((uv_handle_t *)&r->async, NULL);
    }
}

static void on_tick(uv_timer_t *t)
{
    probe_runner *r = t->data;
    if (r->o.tick)
        r->o.tick(r->o.tick_ctx, r);
}

static void *runner_main(void *vr)
{
    probe_runner *r = vr;
    int ok = uv_loop_init(&r->loop) == 0;
    if (ok && probe_sched_new(&r->sched, &r->loop, &r->o.sched)) {
        uv_loop_close(&r->loop);
        ok = 0;
    }
    if (ok) {
        uv_async_init(&r->loop, &r->async, on_async);
        r->async.data = r;
        uv_timer_init(&r->loop, &r->tick);
        r->tick.data = r;
        uv_timer_start(&r->tick, on_tick, 0, 1000);
    }
    pthread_mutex_lock(&r->mu);
    r->ready = ok ? 1 : -1;
    pthread_cond_signal(&r->ready_cond);
    pthread_mutex_unlock(&r->mu);
    if (!ok)
        return NULL;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&r->loop))
        log_warn("probes: handles left open on the runner's loop");
    return NULL;
}

int probe_runner_start(probe_runner **out, const probe_runner_opts *o)
{
    probe_runner *r = mem_calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->o = *o;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->ready_cond, NULL);
    if (pthread_create(&r->thread, NULL, runner_main, r)) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->ready_cond);
        mem_free(r);
        return -EAGAIN;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->ready)
        pthread_cond_wait(&r->ready_cond, &r->mu);
    int ok = r->ready == 1;
    pthread_mutex_unlock(&r->mu);
    if (!ok) {
        pthread_join(r->thread, NULL);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->ready_cond);
        mem_free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

static int push(probe_runner *r, cmd *c)
{
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        cmd_free(c);
        return -ESHUTDOWN;
    }
    if (r->tail)
        r->tail->next = c;
    else
        r->head = c;
    r->tail = c;
    uv_async_send(&r->async);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int probe_runner_apply(probe_runner *r, const json_t *probes)
{
    cmd *c = mem_calloc(1, sizeof *c);
    if (!c || !(c->doc = json_deep_copy(probes))) {
        mem_free(c);
        return -ENOMEM;
    }
    c->kind = CMD_APPLY;
    return push(r, c);
}

int probe_runner_test(probe_runner *r, const char *id, const json_t *entry,
                      probe_runner_test_fn cb, void *ctx)
{
    cmd *c = mem_calloc(1, sizeof *c);
    if (!c || !(c->doc = json_deep_copy(entry))) {
        mem_free(c);
        return -ENOMEM;
    }
    c->kind = CMD_TEST;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->cb = cb;
    c->ctx = ctx;
    return push(r, c);
}

void probe_runner_stop(probe_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    uv_async_send(&r->async);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->ready_cond);
    mem_free(r);
}
