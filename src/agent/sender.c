/* sender: one easy handle at a time on its own libcurl multi handle driven by the loop
 * (probes/curlmux.h), so posting never blocks collection. */
#include "sender.h"

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "probes/curlmux.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef DD_VERSION
#define DD_VERSION "dev"
#endif

struct sender {
    uv_loop_t *loop;
    curlmux *mux;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *token;        /* bearer token, NULL: none */
    char *method;       /* NULL: POST */
    char *content_type; /* NULL: remote write */
    int headers_dirty;  /* token changed: rebuild headers before the next post */
    buf body;           /* the request body being posted */
    buf response;       /* first bytes of the answer, for error messages and callers */
    size_t response_max;
    int truncated; /* the answer was longer than response_max */
    int busy;
    sender_done_fn cb;
    void *cb_ctx;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sender *s = userdata;
    size_t n = size * nmemb, room = s->response_max - s->response.len;
    if (n > room)
        s->truncated = 1;
    if (room)
        buf_append(&s->response, ptr, n < room ? n : room);
    return n;
}

static void on_done(void *ctx, CURL *easy, CURLcode res)
{
    sender *s = ctx;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    s->busy = 0;
    char msg[600] = "";
    sender_result r;
    if (res != CURLE_OK) {
        r = SENDER_RETRY;
        snprintf(msg, sizeof msg, "%s", curl_easy_strerror(res));
    } else if (status >= 200 && status < 300) {
        r = SENDER_OK;
    } else if (status == 429 || status >= 500 || status < 200) {
        r = SENDER_RETRY;
        snprintf(msg, sizeof msg, "HTTP %ld: %.500s", status,
                 s->response.data ? s->response.data : "");
    } else {
        r = SENDER_REFUSED;
        snprintf(msg, sizeof msg, "HTTP %ld: %.500s", status,
                 s->response.data ? s->response.data : "");
    }
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (s->cb)
        s->cb(s->cb_ctx, r, status, msg);
}

#define TOKEN_MAX 1000

/* Appends line to *h; on failure frees the whole list and sets *h to NULL. */
static void append_header(struct curl_slist **h, const char *line, int *failed)
{
    struct curl_slist *n = *failed ? NULL : curl_slist_append(*h, line);
    if (!n && !*failed) {
        curl_slist_free_all(*h);
        *h = NULL;
        *failed = 1;
    }
    if (n)
        *h = n;
}

/* Builds the request headers from the token and content type. Returns NULL when out of
 * memory (curl_slist_append allocates). */
static struct curl_slist *build_headers(const sender *s)
{
    struct curl_slist *h = NULL;
    char line[TOKEN_MAX + 64];
    int failed = 0;
    if (s->token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", s->token);
        append_header(&h, line, &failed);
    }
    if (s->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", s->content_type);
        append_header(&h, line, &failed);
    } else {
        append_header(&h, "Content-Type: application/x-protobuf", &failed);
        append_header(&h, "Content-Encoding: snappy", &failed);
        append_header(&h, "X-Prometheus-Remote-Write-Version: 0.1.0", &failed);
    }
    append_header(&h, "Expect:", &failed); /* no 100-continue round trip */
    return failed ? NULL : h;
}

int sender_set_token(sender *s, const char *token)
{
    char *copy = NULL;
    if (token && strlen(token) > TOKEN_MAX)
        return -EINVAL;
    if (token && *token && !(copy = mem_strdup(token)))
        return -ENOMEM;
    mem_free(s->token);
    s->token = copy;
    s->headers_dirty = 1;
    return 0;
}

const char *sender_response(const sender *s, size_t *len, int *truncated)
{
    *len = s->response.len;
    *truncated = s->truncated;
    return s->response.data ? s->response.data : "";
}

int sender_new(sender **out, uv_loop_t *loop, const char *url, const char *token)
{
    return sender_new_opts(out, loop, url, token, NULL);
}

int sender_new_opts(sender **out, uv_loop_t *loop, const char *url, const char *token,
                    const sender_opts *o)
{
    static const sender_opts defaults = {0};
    if (!o)
        o = &defaults;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return -EINVAL;
    if (token && strlen(token) > TOKEN_MAX)
        return -EINVAL;
    sender *s = mem_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->response_max = o->response_max ? o->response_max : 512;
    buf_init(&s->body, 0);
    buf_init(&s->response, s->response_max);
    s->url = mem_strdup(url);
    s->easy = curl_easy_init();
    if (!s->url || !s->easy || curlmux_new(&s->mux, loop))
        goto fail;
    if ((token && *token && !(s->token = mem_strdup(token))) ||
        (o->method && !(s->method = mem_strdup(o->method))) ||
        (o->content_type && !(s->content_type = mem_strdup(o->content_type))))
        goto fail;
    if (!(s->headers = build_headers(s)))
        goto fail;
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    if (s->method)
        curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, s->method);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "dashdot-agent/" DD_VERSION);
    curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Answers are a status line and a short error at most: a small receive buffer will do. */
    curl_easy_setopt(s->easy, CURLOPT_BUFFERSIZE, 4096L);
    *out = s;
    return 0;
fail:
    curl_slist_free_all(s->headers);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curlmux_close(s->mux);
    buf_free(&s->body);
    buf_free(&s->response);
    mem_free(s->url);
    mem_free(s->token);
    mem_free(s->method);
    mem_free(s->content_type);
    mem_free(s);
    return -ENOMEM;
}

int sender_post(sender *s, const void *data, size_t len, sender_done_fn cb, void *ctx)
{
    if (s->busy)
        return -EBUSY;
    if (s->headers_dirty) {
        struct curl_slist *h = build_headers(s);
        if (!h)
            return -ENOMEM;
        curl_slist_free_all(s->headers);
        s->headers = h;
        s->headers_dirty = 0;
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    }
    buf_reset(&s->body);
    buf_reset(&s->response);
    s->truncated = 0;
    int rc = buf_append(&s->body, data, len);
    if (rc)
        return rc;
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    s->cb = cb;
    s->cb_ctx = ctx;
    if (curlmux_add(s->mux, s->easy, on_done, s))
        return -ENOMEM;
    s->busy = 1;
    return 0;
}

int sender_busy(const sender *s)
{
    return s->busy;
}

void sender_close(sender *s)
{
    if (!s)
        return;
    s->cb = NULL;
    /* Removing the handle makes curl close its sockets; the mux frees itself once libuv has
     * closed its handles, and calls nothing back meanwhile. */
    curlmux_remove(s->mux, s->easy);
    curl_easy_cleanup(s->easy);
    curlmux_close(s->mux);
    curl_slist_free_all(s->headers);
    buf_free(&s->body);
    buf_free(&s->response);
    mem_free(s->url);
    mem_free(s->token);
    mem_free(s->method);
    mem_free(s->content_type);
    mem_free(s);
}
