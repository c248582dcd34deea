/* engines: container names, images and labels from Docker's and podman's HTTP APIs over unix
 * sockets, fetched with libcurl multi one non-blocking step per collection round.
 *
 * Both engines answer GET /v1.41/containers/json (podman through its Docker-compatible API)
 * with an array of {"Id", "Names", "Image", "Labels", ...}. The map is kept sorted by id for
 * the collector's per-round lookups. */
#include "engines.h"

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ENGINES_REFRESH_MS 10000
#define ENGINES_URL "http://localhost/v1.41/containers/json"
#define ENGINES_N 2
#define ENGINES_SYNC_WAIT_MS 1500 /* engines_fetch_sync's longest wait */

typedef struct xfer {
    const char *what; /* "docker", "podman" */
    char *sock;       /* NULL: disabled */
    CURL *easy;
    buf body;
    int active; /* added to the multi handle */
    int ok;     /* answered and parsed in this refresh */
    int failed; /* failed in this refresh */
    int warned; /* a failure was logged since the last success */
} xfer;

struct engines {
    CURLM *multi;
    xfer x[ENGINES_N];
    char *label_allow;
    long timeout_ms;
    int pending; /* transfers under way */
    int started; /* a refresh was ever started */
    int64_t last_start;
    engines_list cur;  /* the map, sorted by id */
    engines_list next; /* being built by the refresh under way */
};

static void info_clear(engines_info *in)
{
    mem_free(in->name);
    mem_free(in->image);
    for (size_t i = 0; i < in->nlabels * 2; i++)
        mem_free(in->labels[i]);
    memset(in, 0, sizeof *in);
}

void engines_list_clear(engines_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        info_clear(&l->v[i]);
    mem_free(l->v);
    memset(l, 0, sizeof *l);
}

static int is_hex64(const char *s)
{
    for (size_t i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return s[64] == '\0';
}

/* Returns 1 if key is one of the comma-separated names in allow. */
static int allowed(const char *allow, const char *key)
{
    size_t kl = strlen(key);
    if (!allow)
        return 0;
    for (const char *p = allow; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n == kl && memcmp(p, key, n) == 0)
            return 1;
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

static int list_has(const engines_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].id, id) == 0)
            return 1;
    }
    return 0;
}

#define PERR(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        rc = -EINVAL;                                                                              \
        goto out;                                                                                  \
    } while (0)

/* Copies a JSON string of at most ENGINES_MAX_STR bytes without NUL bytes. */
static int str_dup(json_t *v, char **out)
{
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n > ENGINES_MAX_STR)
        return -E2BIG;
    if (memchr(s, '\0', n))
        return -EINVAL;
    *out = mem_strndup(s, n);
    return *out ? 0 : -ENOMEM;
}

static int parse_one(json_t *c, size_t idx, const char *label_allow, engines_info *in, char *err,
                     size_t errlen)
{
    int rc = 0;
    json_t *id = json_object_get(c, "Id"), *names = json_object_get(c, "Names");
    json_t *image = json_object_get(c, "Image"), *labels = json_object_get(c, "Labels");
    if (!json_is_string(id) || json_string_length(id) != 64 || !is_hex64(json_string_value(id)))
        PERR("container %zu: \"Id\" is not 64 hex digits", idx);
    memcpy(in->id, json_string_value(id), 65);
    if (names && !json_is_null(names)) {
        if (!json_is_array(names))
            PERR("container %zu: \"Names\" is not an array", idx);
        for (size_t i = 0; i < json_array_size(names); i++) {
            if (!json_is_string(json_array_get(names, i)))
                PERR("container %zu: \"Names\" holds a non-string", idx);
        }
        if (json_array_size(names) > 0) {
            if ((rc = str_dup(json_array_get(names, 0), &in->name)))
                goto bad_str;
            if (in->name[0] == '/')
                memmove(in->name, in->name + 1, strlen(in->name));
        }
    }
    if (image && !json_is_null(image)) {
        if (!json_is_string(image))
            PERR("container %zu: \"Image\" is not a string", idx);
        if ((rc = str_dup(image, &in->image)))
            goto bad_str;
    }
    if (labels && !json_is_null(labels)) {
        const char *k;
        json_t *v;
        if (!json_is_object(labels))
            PERR("container %zu: \"Labels\" is not an object", idx);
        json_object_foreach(labels, k, v)
        {
            if (!json_is_string(v))
                PERR("container %zu: label \"%.64s\" is not a string", idx, k);
            if (!allowed(label_allow, k))
                continue;
            if (in->nlabels == ENGINES_MAX_LABELS) {
                rc = -E2BIG;
                goto bad_str;
            }
            char *key = mem_strdup(k), *val = NULL;
            if (!key) {
                rc = -ENOMEM;
                goto out;
            }
            if ((rc = str_dup(v, &val))) {
                mem_free(key);
                goto bad_str;
            }
            in->labels[2 * in->nlabels] = key;
            in->labels[2 * in->nlabels + 1] = val;
            in->nlabels++;
        }
    }
    goto out;
bad_str:
    if (rc == -E2BIG)
        snprintf(err, errlen, "container %zu: a string or the label set is too long", idx);
    else if (rc == -EINVAL)
        snprintf(err, errlen, "container %zu: a string holds a NUL byte", idx);
    else
        snprintf(err, errlen, "out of memory");
out:
    return rc;
}

int engines_parse(const char *body, size_t len, const char *label_allow, engines_list *out,
                  char *err, size_t errlen)
{
    int rc = 0;
    json_error_t je;
    engines_info in;
    memset(&in, 0, sizeof in);
    err[0] = '\0';
    if (len > ENGINES_BODY_MAX) {
        snprintf(err, errlen, "answer longer than %u bytes", ENGINES_BODY_MAX);
        return -E2BIG;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        PERR("invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    if (!json_is_array(root))
        PERR("the answer is not an array");
    if (json_array_size(root) > ENGINES_MAX_CONTAINERS) {
        snprintf(err, errlen, "more than %d containers", ENGINES_MAX_CONTAINERS);
        rc = -E2BIG;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        json_t *c = json_array_get(root, i);
        if (!json_is_object(c))
            PERR("container %zu is not an object", i);
        if ((rc = parse_one(c, i, label_allow, &in, err, errlen)))
            goto out;
        if (list_has(out, in.id)) {
            info_clear(&in);
            continue;
        }
        if (mem_grow((void **)&out->v, &out->cap, out->n, sizeof *out->v, 16)) {
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
            goto out;
        }
        out->v[out->n++] = in;
        memset(&in, 0, sizeof in);
    }
out:
    info_clear(&in);
    json_decref(root);
    return rc;
}

static int info_cmp(const void *a, const void *b)
{
    return strcmp(((const engines_info *)a)->id, ((const engines_info *)b)->id);
}

const engines_info *engines_lookup(const engines *e, const char *id)
{
    engines_info key;
    if (!e || !e->cur.n || strlen(id) != 64)
        return NULL;
    memcpy(key.id, id, 65);
    return bsearch(&key, e->cur.v, e->cur.n, sizeof key, info_cmp);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer *x = userdata;
    /* A failing append (over the cap, out of memory) aborts the transfer. */
    return buf_append(&x->body, ptr, size * nmemb) ? 0 : size * nmemb;
}

int engines_new(engines **out, const engines_opts *o)
{
    static const engines_opts defaults = {NULL, NULL, NULL, 0};
    int rc = 0;
    engines *e = mem_calloc(1, sizeof *e);
    *out = NULL;
    if (!e)
        return -ENOMEM;
    if (!o)
        o = &defaults;
    const char *socks[ENGINES_N] = {o->docker_sock ? o->docker_sock : "/run/docker.sock",
                                    o->podman_sock ? o->podman_sock : "/run/podman/podman.sock"};
    static const char *const what[ENGINES_N] = {"docker", "podman"};
    /* The agent advances transfers once a round (a second apart): curl's timeout must span a
     * few rounds, or an answer that arrived would be refused as late. */
    e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    for (int i = 0; i < ENGINES_N; i++) {
        e->x[i].what = what[i];
        buf_init(&e->x[i].body, ENGINES_BODY_MAX);
        if (*socks[i] && !(e->x[i].sock = mem_strdup(socks[i]))) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (o->label_allow && *o->label_allow) {
        size_t n = 1;
        for (const char *p = o->label_allow; *p; p++)
            n += *p == ',';
        if (n > ENGINES_MAX_LABELS || strstr(o->label_allow, ",,") || o->label_allow[0] == ',' ||
            o->label_allow[strlen(o->label_allow) - 1] == ',') {
            rc = -EINVAL;
            goto out;
        }
        if (!(e->label_allow = mem_strdup(o->label_allow))) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    if (rc)
        engines_free(e);
    else
        *out = e;
    return rc;
}

void engines_free(engines *e)
{
    if (!e)
        return;
    for (int i = 0; i < ENGINES_N; i++) {
        xfer *x = &e->x[i];
        if (x->easy) {
            if (x->active)
                curl_multi_remove_handle(e->multi, x->easy);
            curl_easy_cleanup(x->easy);
        }
        buf_free(&x->body);
        mem_free(x->sock);
    }
    if (e->multi)
        curl_multi_cleanup(e->multi);
    engines_list_clear(&e->cur);
    engines_list_clear(&e->next);
    mem_free(e->label_allow);
    mem_free(e);
}

static int is_socket(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Starts a refresh: one request per engine whose socket exists. */
static int start(engines *e, int64_t now_ms)
{
    e->started = 1;
    e->last_start = now_ms;
    engines_list_clear(&e->next);
    for (int i = 0; i < ENGINES_N; i++) {
        xfer *x = &e->x[i];
        x->ok = x->failed = 0;
        if (!x->sock || !is_socket(x->sock))
            continue;
        if (!e->multi && !(e->multi = curl_multi_init()))
            return -ENOMEM;
        if (!x->easy) {
            if (!(x->easy = curl_easy_init()))
                return -ENOMEM;
            curl_easy_setopt(x->easy, CURLOPT_URL, ENGINES_URL);
            curl_easy_setopt(x->easy, CURLOPT_UNIX_SOCKET_PATH, x->sock);
            curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http");
            curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, e->timeout_ms);
            curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
            curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
        }
        buf_reset(&x->body);
        if (curl_multi_add_handle(e->multi, x->easy) != CURLM_OK)
            return -ENOMEM;
        x->active = 1;
        e->pending++;
    }
    return 0;
}

static void fail(xfer *x, const char *why)
{
    x->failed = 1;
    if (!x->warned)
        log_warn("engines: cannot list %s containers from %s: %s (further failures are not "
                 "logged until it answers)",
                 x->what, x->sock, why);
    x->warned = 1;
}

/* A transfer ended: check and parse its answer into e->next. */
static int finish(engines *e, xfer *x, CURLcode res)
{
    char err[256];
    long status = 0;
    curl_multi_remove_handle(e->multi, x->easy);
    x->active = 0;
    e->pending--;
    if (res != CURLE_OK) {
        fail(x, curl_easy_strerror(res));
        return 0;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(err, sizeof err, "HTTP status %ld", status);
        fail(x, err);
        return 0;
    }
    int rc = engines_parse(x->body.data ? x->body.data : "", x->body.len, e->label_allow, &e->next,
                           err, sizeof err);
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        fail(x, err);
        return 0;
    }
    if (x->warned)
        log_info("engines: %s answers again", x->what);
    x->warned = 0;
    x->ok = 1;
    return 0;
}

/* Copies an entry of the old map (for an engine that failed this time). */
static int info_copy(const engines_info *s, engines_info *d)
{
    memset(d, 0, sizeof *d);
    memcpy(d->id, s->id, sizeof d->id);
    if ((s->name && !(d->name = mem_strdup(s->name))) ||
        (s->image && !(d->image = mem_strdup(s->image))))
        goto nomem;
    for (size_t i = 0; i < s->nlabels; i++) {
        char *k = mem_strdup(s->labels[2 * i]), *v = mem_strdup(s->labels[2 * i + 1]);
        if (!k || !v) {
            mem_free(k);
            mem_free(v);
            goto nomem;
        }
        d->labels[2 * i] = k;
        d->labels[2 * i + 1] = v;
        d->nlabels++;
    }
    return 0;
nomem:
    info_clear(d);
    return -ENOMEM;
}

/* Every transfer ended: install the new map. Entries of engines that failed this time are
 * kept from the old map, so one engine being down does not unname the other's containers. */
static int install(engines *e)
{
    int any_failed = 0, any_ok = 0;
    for (int i = 0; i < ENGINES_N; i++) {
        any_failed |= e->x[i].failed;
        any_ok |= e->x[i].ok;
    }
    if (!any_ok && any_failed) {
        engines_list_clear(&e->next);
        return 0;
    }
    if (any_failed) {
        for (size_t i = 0; i < e->cur.n; i++) {
            if (list_has(&e->next, e->cur.v[i].id))
                continue;
            if (mem_grow((void **)&e->next.v, &e->next.cap, e->next.n, sizeof *e->next.v, 16) ||
                info_copy(&e->cur.v[i], &e->next.v[e->next.n])) {
                engines_list_clear(&e->next);
                return -ENOMEM;
            }
            e->next.n++;
        }
    }
    if (e->next.n)
        qsort(e->next.v, e->next.n, sizeof *e->next.v, info_cmp);
    engines_list_clear(&e->cur);
    e->cur = e->next;
    memset(&e->next, 0, sizeof e->next);
    return 0;
}

static int step(engines *e)
{
    int running = 0, left = 0, rc = 0;
    CURLMsg *m;
    if (!e->pending)
        return 0;
    if (curl_multi_perform(e->multi, &running) != CURLM_OK)
        return -ENOMEM;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        for (int i = 0; i < ENGINES_N; i++) {
            if (e->x[i].easy == m->easy_handle && e->x[i].active) {
                int r = finish(e, &e->x[i], m->data.result);
                if (r && !rc)
                    rc = r;
                break;
            }
        }
    }
    if (!e->pending && !rc)
        rc = install(e);
    return rc;
}

int engines_poll(engines *e, int64_t now_ms, int want)
{
    int rc;
    if (!e->pending && (!e->started || want || now_ms - e->last_start >= ENGINES_REFRESH_MS ||
                        now_ms < e->last_start)) {
        if ((rc = start(e, now_ms)))
            return rc;
    }
    return step(e);
}

int engines_fetch_sync(engines *e, int64_t now_ms)
{
    struct timespec t0, t1;
    int rc = 0;
    if (!e->pending && (rc = start(e, now_ms)))
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (e->pending) {
        if ((rc = step(e)) || !e->pending)
            break;
        curl_multi_poll(e->multi, NULL, 0, 50, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* A one-shot run does not wait for a slow engine longer than this (the transfer stays
         * under way for a later poll). */
        if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >
            ENGINES_SYNC_WAIT_MS)
            break;
    }
    return rc;
}
