/* probecfg: a long-poll loop over libcurl on the agent's loop.
 *
 * One GET is in flight at a time: GET …/agent/config?wait=30s with If-None-Match. A 200 is
 * stored (probes.json, atomically) and applied; a 304 means nothing changed; either way the
 * next poll starts at once. Network errors and 5xx back off from 1 s to 30 s; 401/403 wait a
 * minute (or a new token); 404/405 mean the server has no config endpoint (a plain remote-write
 * receiver): polling stops. Test runs in the config run once each (their ids are remembered
 * while the server still lists them) and their results are posted back. */
#include "probecfg.h"

#include "../lib/buf.h"
#include "../lib/fsutil.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "probes/curlmux.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#ifndef DD_VERSION
#define DD_VERSION "dev"
#endif

#define CONFIG_MAX (16u << 20) /* largest config answer */
#define WAIT "30s"
#define POLL_TIMEOUT_MS 45000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define AUTH_RETRY_MS 60000

typedef struct post {
    probecfg *c;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    struct post *next, *prev;
} post;

typedef struct test_ctx {
    probecfg *c;
    char id[64];
} test_ctx;

struct probecfg {
    uv_loop_t *loop;
    probe_sched *sched;
    char *base, *state_dir, *state_path, *url_cfg, *url_res, *token;
    curlmux *mux;
    CURL *poll;
    struct curl_slist *poll_hdrs;
    buf body;
    char etag[80], new_etag[80];
    uv_timer_t timer;
    int in_flight, closing, stopped;
    int64_t backoff_ms;
    unsigned failures;
    hmap seen; /* test ids already run */
    uint64_t last_hash; /* of the last applied probes: rejections are logged once per change */
    size_t rejected;
    post *posts;
};

static void schedule_poll(probecfg *c, int64_t delay_ms);

/* ---- applying ------------------------------------------------------------------------------ */

static void test_done(void *vctx, const probe_result *res);

/* Applies a config document's data: probes to the scheduler, new tests run once. */
static void apply(probecfg *c, json_t *data, int from_disk)
{
    json_t *probes = json_object_get(data, "probes");
    size_t n = json_array_size(probes), i, used = 0, rejected = 0;
    probe_def **defs = mem_calloc(n ? n : 1, sizeof *defs);
    char *text = json_dumps(probes, JSON_COMPACT);
    uint64_t h = text ? XXH3_64bits(text, strlen(text)) : 0;
    int log_now = h != c->last_hash;
    free(text);
    if (!defs) {
        log_error("agent: out of memory applying the probe config");
        return;
    }
    json_t *o;
    json_array_foreach(probes, i, o)
    {
        char err[512];
        const char *why = json_string_value(json_object_get(o, "error"));
        if (why) {
            rejected++;
            if (log_now)
                log_warn("agent: probe %lld \"%.100s\" not run: %s",
                         (long long)json_integer_value(json_object_get(o, "probe")),
                         json_string_value(json_object_get(o, "name")), why);
            continue;
        }
        int rc = probe_def_from_json(o, &defs[used], err, sizeof err);
        if (rc) {
            rejected++;
            if (log_now)
                log_warn("agent: probe %lld not run: %s",
                         (long long)json_integer_value(json_object_get(o, "probe")),
                         rc == -ENOMEM ? "out of memory" : err);
            continue;
        }
        used++;
    }
    if (probe_sched_apply(c->sched, defs, used))
        log_error("agent: out of memory applying the probe config (the previous one runs on)");
    else if (log_now)
        log_info("agent: %zu probes scheduled%s%s", used, rejected ? ", some refused" : "",
                 from_disk ? " (from the stored config: the server is not answering yet)" : "");
    for (size_t k = 0; k < used; k++)
        probe_def_unref(defs[k]);
    mem_free(defs);
    c->last_hash = h;
    c->rejected = rejected;
    if (from_disk)
        return; /* stored tests are stale: their requester has given up */

    /* Tests: run each new one once; forget ids the server no longer lists. */
    json_t *tests = json_object_get(data, "tests");
    hmap keep;
    hmap_init(&keep);
    json_array_foreach(tests, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        if (!id || strlen(id) >= sizeof ((test_ctx *)0)->id)
            continue;
        hmap_put(&keep, id, strlen(id), (void *)1);
        if (hmap_get(&c->seen, id, strlen(id)))
            continue;
        hmap_put(&c->seen, id, strlen(id), (void *)1);
        char err[512];
        probe_def *d = NULL;
        test_ctx *tc = mem_calloc(1, sizeof *tc);
        int rc = tc ? probe_def_from_json(json_object_get(o, "probe"), &d, err, sizeof err)
                    : -ENOMEM;
        if (!rc) {
            tc->c = c;
            snprintf(tc->id, sizeof tc->id, "%s", id);
            rc = probe_sched_run_once(c->sched, d, test_done, tc);
            if (rc)
                snprintf(err, sizeof err, "out of memory");
        }
        probe_def_unref(d);
        if (rc) {
            /* Answer at once so the user sees why instead of a timeout. */
            probe_result res = {.success = 0, .message = rc == -ENOMEM ? "out of memory" : err};
            if (tc) {
                tc->c = c;
                snprintf(tc->id, sizeof tc->id, "%s", id);
                test_done(tc, &res);
            }
        }
    }
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(&c->seen, &pos)))
        if (!hmap_get(&keep, e->key, e->klen)) {
            hmap_del(&c->seen, e->key, e->klen);
            pos = 0; /* the table changed under the iteration */
        }
    hmap_free(&keep);
}

/* ---- posting test results ------------------------------------------------------------------ */

static void post_free(post *p)
{
    curl_slist_free_all(p->hdrs);
    if (p->easy)
        curl_easy_cleanup(p->easy);
    free(p->body);
    mem_free(p);
}

static void on_posted(void *vp, CURL *easy, CURLcode result)
{
    post *p = vp;
    probecfg *c = p->c;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (result != CURLE_OK || status >= 300)
        log_warn("agent: could not deliver a test result: %s",
                 result != CURLE_OK ? curl_easy_strerror(result) : "the server refused it");
    if (p->prev)
        p->prev->next = p->next;
    else
        c->posts = p->next;
    if (p->next)
        p->next->prev = p->prev;
    post_free(p);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void test_done(void *vctx, const probe_result *res)
{
    test_ctx *tc = vctx;
    probecfg *c = tc->c;
    json_t *doc = probe_result_json(res);
    if (doc)
        json_object_set_new(doc, "id", json_string(tc->id));
    mem_free(tc);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    post *p = body ? mem_calloc(1, sizeof *p) : NULL;
    char auth[1100];
    if (!p || c->closing || !c->token) {
        free(body);
        mem_free(p);
        return;
    }
    p->c = c;
    p->body = body;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    p->hdrs = curl_slist_append(NULL, auth);
    struct curl_slist *h2 = p->hdrs ? curl_slist_append(p->hdrs, "Content-Type: application/json")
                                    : NULL;
    p->easy = curl_easy_init();
    if (!h2 || !p->easy) {
        post_free(p);
        return;
    }
    p->hdrs = h2;
    curl_easy_setopt(p->easy, CURLOPT_URL, c->url_res);
    curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(p->body));
    curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "dashdot-agent/" DD_VERSION);
    if (curlmux_add(c->mux, p->easy, on_posted, p)) {
        post_free(p);
        return;
    }
    p->next = c->posts;
    if (c->posts)
        c->posts->prev = p;
    c->posts = p;
}

/* ---- polling ----------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    probecfg *c = ud;
    size_t n = size * nmemb;
    return buf_append(&c->body, ptr, n) ? 0 : n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    probecfg *c = ud;
    size_t n = size * nmemb;
    if (n > 5 && strncasecmp(ptr, "ETag:", 5) == 0) {
        const char *v = ptr + 5;
        size_t len = n - 5;
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len < sizeof c->new_etag)
            snprintf(c->new_etag, sizeof c->new_etag, "%.*s", (int)len, v);
    }
    return n;
}

static void fail_later(probecfg *c, const char *why)
{
    c->failures++;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    if (c->failures == 1 || c->failures % 20 == 0)
        log_warn("agent: cannot get the probe config (%s); retrying in %lld ms", why,
                 (long long)c->backoff_ms);
    schedule_poll(c, c->backoff_ms);
}

static void on_polled(void *vc, CURL *easy, CURLcode result)
{
    probecfg *c = vc;
    long status = 0;
    c->in_flight = 0;
    if (c->closing)
        return;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (result != CURLE_OK) {
        fail_later(c, curl_easy_strerror(result));
        return;
    }
    if (status == 304) {
        c->backoff_ms = 0;
        c->failures = 0;
        schedule_poll(c, 0);
        return;
    }
    if (status == 404 || status == 405 || status == 501) {
        log_info("agent: the server has no probe config endpoint (HTTP %ld): no probes", status);
        c->stopped = 1;
        return;
    }
    if (status == 401 || status == 403) {
        log_warn("agent: the server refused the token for the probe config (HTTP %ld)", status);
        schedule_poll(c, AUTH_RETRY_MS);
        return;
    }
    if (status != 200) {
        char why[64];
        snprintf(why, sizeof why, "HTTP %ld", status);
        fail_later(c, why);
        return;
    }
    json_error_t je;
    json_t *doc = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, &je);
    json_t *data = json_object_get(doc, "data");
    if (!json_is_object(data) || !json_is_array(json_object_get(data, "probes"))) {
        json_decref(doc);
        fail_later(c, "the answer is not a probe config");
        return;
    }
    c->backoff_ms = 0;
    c->failures = 0;
    snprintf(c->etag, sizeof c->etag, "%s", c->new_etag);
    char *text = json_dumps(data, JSON_COMPACT);
    if (text) {
        int rc = fsutil_mkdirs(c->state_dir);
        if (!rc)
            rc = fsutil_write_atomic(c->state_path, text, strlen(text), 0600);
        if (rc)
            log_warn("agent: cannot store the probe config in %s: %s", c->state_path,
                     strerror(-rc));
        free(text);
    }
    apply(c, data, 0);
    json_decref(doc);
    schedule_poll(c, 0);
}

static void start_poll(probecfg *c)
{
    char url[PATH_MAX + 64], hdr[1200];
    if (c->in_flight || c->closing || c->stopped || !c->token)
        return;
    curl_slist_free_all(c->poll_hdrs);
    c->poll_hdrs = NULL;
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", c->token);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    if (h && c->etag[0]) {
        snprintf(hdr, sizeof hdr, "If-None-Match: %s", c->etag);
        struct curl_slist *h2 = curl_slist_append(h, hdr);
        if (!h2) {
            curl_slist_free_all(h);
            h = NULL;
        }
    }
    if (!h) {
        fail_later(c, "out of memory");
        return;
    }
    c->poll_hdrs = h;
    buf_reset(&c->body);
    c->new_etag[0] = '\0';
    snprintf(url, sizeof url, "%s?wait=" WAIT, c->url_cfg);
    curl_easy_setopt(c->poll, CURLOPT_URL, url);
    curl_easy_setopt(c->poll, CURLOPT_HTTPHEADER, c->poll_hdrs);
    if (curlmux_add(c->mux, c->poll, on_polled, c)) {
        fail_later(c, "out of memory");
        return;
    }
    c->in_flight = 1;
}

static void on_timer(uv_timer_t *t)
{
    start_poll(t->data);
}

static void schedule_poll(probecfg *c, int64_t delay_ms)
{
    if (c->closing)
        return;
    uv_timer_start(&c->timer, on_timer, (uint64_t)delay_ms, 0);
}

/* ---- life ----------------------------------------------------------------------------- */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = mem_alloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

int probecfg_new(probecfg **out, uv_loop_t *loop, const probecfg_opts *o)
{
    probecfg *c = mem_calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->sched = o->sched;
    hmap_init(&c->seen);
    buf_init(&c->body, CONFIG_MAX);
    c->base = mem_strdup(o->base);
    c->url_cfg = join(o->base, "/api/v1/agent/config");
    c->url_res = join(o->base, "/api/v1/agent/test-result");
    c->state_path = join(o->state_dir, "/probes.json");
    c->state_dir = mem_strdup(o->state_dir);
    c->poll = curl_easy_init();
    if (!c->base || !c->url_cfg || !c->url_res || !c->state_path || !c->state_dir || !c->poll ||
        curlmux_new(&c->mux, loop)) {
        if (c->poll)
            curl_easy_cleanup(c->poll);
        mem_free(c->base);
        mem_free(c->url_cfg);
        mem_free(c->url_res);
        mem_free(c->state_path);
        mem_free(c->state_dir);
        buf_free(&c->body);
        mem_free(c);
        return -ENOMEM;
    }
    curl_easy_setopt(c->poll, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->poll, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->poll, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->poll, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->poll, CURLOPT_TIMEOUT_MS, (long)POLL_TIMEOUT_MS);
    curl_easy_setopt(c->poll, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c->poll, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->poll, CURLOPT_USERAGENT, "dashdot-agent/" DD_VERSION);
    curl_easy_setopt(c->poll, CURLOPT_TCP_KEEPALIVE, 1L);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    /* The stored config first: probes run even if the server never answers. */
    buf stored;
    buf_init(&stored, CONFIG_MAX);
    if (fsutil_read_file(c->state_path, &stored, CONFIG_MAX) == 0 && stored.len) {
        json_error_t je;
        json_t *data = json_loadb(stored.data, stored.len, 0, &je);
        if (json_is_object(data))
            apply(c, data, 1);
        else
            log_warn("agent: ignoring %s: not a probe config (%s)", c->state_path, je.text);
        json_decref(data);
    }
    buf_free(&stored);
    *out = c;
    return 0;
}

int probecfg_set_token(probecfg *c, const char *token)
{
    char *t = token && *token ? mem_strdup(token) : NULL;
    if (token && *token && !t)
        return -ENOMEM;
    mem_free(c->token);
    c->token = t;
    c->stopped = 0;
    if (c->in_flight) {
        curlmux_remove(c->mux, c->poll);
        c->in_flight = 0;
    }
    schedule_poll(c, 0);
    return 0;
}

size_t probecfg_rejected(const probecfg *c)
{
    return c->rejected;
}

static void on_timer_closed(uv_handle_t *h)
{
    probecfg *c = h->data;
    mem_free(c);
}

void probecfg_close(probecfg *c)
{
    if (!c)
        return;
    c->closing = 1;
    if (c->in_flight)
        curlmux_remove(c->mux, c->poll);
    while (c->posts) {
        post *p = c->posts;
        c->posts = p->next;
        curlmux_remove(c->mux, p->easy);
        post_free(p);
    }
    curlmux_close(c->mux);
    curl_easy_cleanup(c->poll);
    curl_slist_free_all(c->poll_hdrs);
    hmap_free(&c->seen);
    buf_free(&c->body);
    mem_free(c->base);
    mem_free(c->url_cfg);
    mem_free(c->url_res);
    mem_free(c->state_path);
    mem_free(c->state_dir);
    mem_free(c->token);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
