/* live: SSE hub. Locking: the hub lock guards the subscriber list; each subscriber's lock
 * guards its queue and suspended flag. The order is always hub, then subscriber. A reader
 * suspends its connection while holding its own lock, and a writer resumes it under the same
 * lock, so a wake-up can never slip between "queue empty" and "suspended". */
#include "live.h"

#include "../lib/log.h"
#include "../lib/mem.h"
#include "../promql/parse.h"
#include "api_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define LIVE_QUEUE_MAX (8u << 20)
#define LIVE_KEEPALIVE_S 15
#define LIVE_MAX_SUBSCRIBERS 256

typedef struct live_sub {
    api_live *hub;
    struct MHD_Connection *conn;
    api_selectors sel;      /* sample streams */
    api_event_filter *evf;  /* event streams (owned), NULL for sample streams */
    pthread_mutex_t lock;
    buf queue;
    size_t sent;
    int suspended;
    int ended; /* overflowed or shutting down: end the stream */
    struct live_sub *prev, *next;
} live_sub;

struct api_live {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    live_sub *head;
    size_t nsubs;
    int stopping;
    pthread_t keepalive;
    int thread_started;
};

/* Queues text for a subscriber and wakes it (caller holds sub->lock). */
static void sub_push(live_sub *s, const char *data, size_t len)
{
    if (s->ended)
        return;
    if (buf_append(&s->queue, data, len)) {
        /* A client that cannot keep up is cut off; EventSource reconnects and reloads. */
        log_warn("live: a subscriber fell %zu bytes behind; ending its stream", s->queue.len);
        s->ended = 1;
    }
    if (s->suspended) {
        s->suspended = 0;
        http_stream_resume(s->conn);
    }
}

static int sub_wants(const live_sub *s, const labels *ls)
{
    for (size_t i = 0; i < s->sel.n; i++) {
        const promql_expr *e = s->sel.v[i];
        size_t k = 0;
        while (k < e->nmatchers &&
               tsdb_matcher_matches(&e->matchers[k], labels_get(ls, e->matchers[k].name)))
            k++;
        if (k == e->nmatchers)
            return 1;
    }
    return 0;
}

static void on_commit(void *ctx, const tsdb_series_in *series, size_t n)
{
    api_live *hub = ctx;
    buf ev;
    buf_init(&ev, LIVE_QUEUE_MAX);
    pthread_mutex_lock(&hub->lock);
    for (live_sub *s = hub->head; s; s = s->next) {
        if (s->evf)
            continue;
        buf_reset(&ev);
        jsonw w;
        jsonw_init(&w, &ev);
        size_t matched = 0;
        for (size_t i = 0; i < n; i++) {
            if (!series[i].nsamples || !sub_wants(s, &series[i].ls))
                continue;
            if (!matched++) {
                buf_puts(&ev, "event: samples\ndata: ");
                jsonw_obj_open(&w);
                jsonw_key(&w, "series");
                jsonw_arr_open(&w);
            }
            jsonw_obj_open(&w);
            jsonw_key(&w, "metric");
            api_write_labels(&w, &series[i].ls);
            jsonw_key(&w, "values");
            jsonw_arr_open(&w);
            for (size_t k = 0; k < series[i].nsamples; k++) {
                jsonw_arr_open(&w);
                jsonw_prom_time(&w, series[i].samples[k].t);
                jsonw_prom_value(&w, series[i].samples[k].v);
                jsonw_arr_close(&w);
            }
            jsonw_arr_close(&w);
            jsonw_obj_close(&w);
        }
        if (!matched)
            continue;
        jsonw_arr_close(&w);
        jsonw_obj_close(&w);
        buf_puts(&ev, "\n\n");
        pthread_mutex_lock(&s->lock);
        if (ev.err) {
            s->ended = 1;
            if (s->suspended) {
                s->suspended = 0;
                http_stream_resume(s->conn);
            }
        } else {
            sub_push(s, ev.data, ev.len);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&hub->lock);
    buf_free(&ev);
}

static ssize_t sub_read(void *ctx, char *dst, size_t max)
{
    live_sub *s = ctx;
    ssize_t n;
    pthread_mutex_lock(&s->lock);
    size_t avail = s->queue.len - s->sent;
    if (avail) {
        size_t k = avail < max ? avail : max;
        memcpy(dst, s->queue.data + s->sent, k);
        s->sent += k;
        if (s->sent == s->queue.len) {
            buf_reset(&s->queue);
            s->sent = 0;
        }
        n = (ssize_t)k;
    } else if (s->ended) {
        n = HTTP_STREAM_END;
    } else {
        s->suspended = 1;
        http_stream_suspend(s->conn);
        n = HTTP_STREAM_WAIT;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void sub_close(void *ctx)
{
    live_sub *s = ctx;
    api_live *hub = s->hub;
    pthread_mutex_lock(&hub->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        hub->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    hub->nsubs--;
    pthread_cond_broadcast(&hub->cond);
    pthread_mutex_unlock(&hub->lock);
    api_selectors_free(&s->sel);
    api_event_filter_free(s->evf);
    buf_free(&s->queue);
    pthread_mutex_destroy(&s->lock);
    mem_free(s);
}

/* Adds s to the hub and makes res its stream; on refusal answers 503 and frees s. */
static void sub_start(api_live *hub, live_sub *s, http_request *req, http_response *res)
{
    s->hub = hub;
    s->conn = req->conn;
    pthread_mutex_init(&s->lock, NULL);
    buf_init(&s->queue, LIVE_QUEUE_MAX);
    buf_puts(&s->queue, "retry: 2000\n: connected\n\n");
    pthread_mutex_lock(&hub->lock);
    if (hub->stopping || hub->nsubs >= LIVE_MAX_SUBSCRIBERS) {
        int stopping = hub->stopping;
        pthread_mutex_unlock(&hub->lock);
        api_selectors_free(&s->sel);
        api_event_filter_free(s->evf);
        buf_free(&s->queue);
        pthread_mutex_destroy(&s->lock);
        mem_free(s);
        api_error(res, 503, "unavailable", "%s",
                  stopping ? "server is shutting down" : "too many live streams");
        return;
    }
    s->next = hub->head;
    if (hub->head)
        hub->head->prev = s;
    hub->head = s;
    hub->nsubs++;
    pthread_mutex_unlock(&hub->lock);
    res->status = 200;
    res->content_type = "text/event-stream";
    http_response_header(res, "Cache-Control", "no-cache");
    http_response_header(res, "X-Accel-Buffering", "no");
    res->stream.read = sub_read;
    res->stream.close = sub_close;
    res->stream.ctx = s;
}

void api_live_events_subscribe(api_live *hub, api_event_filter *f, http_request *req,
                               http_response *res)
{
    live_sub *s = mem_calloc(1, sizeof *s);
    if (!s) {
        api_event_filter_free(f);
        api_error(res, 503, "internal", "out of memory");
        return;
    }
    s->evf = f;
    sub_start(hub, s, req, res);
}

void api_live_events(api_live *hub, const evingest_item *items, size_t n)
{
    buf ev;
    buf_init(&ev, LIVE_QUEUE_MAX);
    /* Each event is formatted once, then queued for every subscriber whose filter takes it. */
    size_t *start = mem_alloc((n + 1) * sizeof *start);
    if (!start)
        goto out;
    for (size_t i = 0; i < n; i++) {
        start[i] = ev.len;
        jsonw w;
        jsonw_init(&w, &ev);
        buf_puts(&ev, "event: event\ndata: ");
        api_event_json(&w, &items[i]);
        buf_puts(&ev, "\n\n");
    }
    start[n] = ev.len;
    if (ev.err)
        goto out;
    pthread_mutex_lock(&hub->lock);
    for (live_sub *s = hub->head; s; s = s->next) {
        if (!s->evf)
            continue;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < n; i++)
            if (api_event_filter_accepts(s->evf, items[i].ev))
                sub_push(s, ev.data + start[i], start[i + 1] - start[i]);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&hub->lock);
out:
    mem_free(start);
    buf_free(&ev);
}

static void handle_live(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    api_live *hub = ctx->live;
    live_sub *s = mem_calloc(1, sizeof *s);
    if (!s) {
        api_error(res, 503, "internal", "out of memory");
        return;
    }
    if (api_parse_selectors(req, res, &s->sel)) {
        mem_free(s);
        return;
    }
    if (s->sel.n == 0) {
        api_error(res, 400, "bad_data", "no match[] parameter provided");
        mem_free(s);
        return;
    }
    sub_start(hub, s, req, res);
}

static void *keepalive_main(void *arg)
{
    api_live *hub = arg;
    pthread_mutex_lock(&hub->lock);
    while (!hub->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += LIVE_KEEPALIVE_S;
        while (!hub->stopping && pthread_cond_timedwait(&hub->cond, &hub->lock, &ts) == 0)
            ;
        if (hub->stopping)
            break;
        for (live_sub *s = hub->head; s; s = s->next) {
            pthread_mutex_lock(&s->lock);
            sub_push(s, ": keepalive\n\n", 13);
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_unlock(&hub->lock);
    return NULL;
}

int api_live_register(http_server *srv, api_ctx *ctx)
{
    api_live *hub = mem_calloc(1, sizeof *hub);
    if (!hub)
        return -ENOMEM;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_cond_init(&hub->cond, NULL);
    if (pthread_create(&hub->keepalive, NULL, keepalive_main, hub) != 0) {
        api_live_free(hub);
        return -EAGAIN;
    }
    hub->thread_started = 1;
    ctx->live = hub;
    tsdb_set_observer(ctx->db, on_commit, hub);
    return http_route_add(srv, "GET", "/api/v1/live", HTTP_NEED_READ, 0, handle_live, ctx);
}

void api_live_stop(api_live *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    hub->stopping = 1;
    for (live_sub *s = hub->head; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        s->ended = 1;
        if (s->suspended) {
            s->suspended = 0;
            http_stream_resume(s->conn);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_cond_broadcast(&hub->cond);
    pthread_mutex_unlock(&hub->lock);
    if (hub->thread_started) {
        pthread_join(hub->keepalive, NULL);
        hub->thread_started = 0;
    }
}

void api_live_free(api_live *hub)
{
    if (!hub)
        return;
    api_live_stop(hub);
    pthread_cond_destroy(&hub->cond);
    pthread_mutex_destroy(&hub->lock);
    mem_free(hub);
}
