/* sender: libcurl multi on libuv (the socket-action pattern): curl tells us which sockets to
 * watch and when to time out; libuv tells curl when those sockets are ready. */
#include "sender.h"

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef DD_VERSION
#define DD_VERSION "dev"
#endif

struct sender {
    uv_loop_t *loop;
    CURLM *multi;
    CURL *easy;
    uv_timer_t timer;
    struct curl_slist *headers;
    char *url;
    buf body;     /* the request body being posted */
    buf response; /* first bytes of the answer, for error messages */
    int busy;
    int closing;
    int open_handles;
    sender_done_fn cb;
    void *cb_ctx;
};

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    sender *s;
} sock_ctx;

static void maybe_free(sender *s)
{
    if (!s->closing || s->open_handles > 0)
        return;
    buf_free(&s->body);
    buf_free(&s->response);
    mem_free(s->url);
    mem_free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    sender *s = h->data;
    s->open_handles--;
    maybe_free(s);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_ctx *sc = h->data;
    sender *s = sc->s;
    mem_free(sc);
    s->open_handles--;
    maybe_free(s);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sender *s = userdata;
    size_t n = size * nmemb;
    if (s->response.len < 512)
        buf_append(&s->response, ptr, n < 512 - s->response.len ? n : 512 - s->response.len);
    return n;
}

static void check_done(sender *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        CURLcode res = m->data.result;
        curl_multi_remove_handle(s->multi, m->easy_handle);
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
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_ctx *sc = h->data;
    sender *s = sc->s;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(s->multi, sc->fd, flags, &running);
    check_done(s);
}

static void on_timeout(uv_timer_t *t)
{
    sender *s = t->data;
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(s);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    sender *s = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&s->timer);
    else
        uv_timer_start(&s->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    (void)easy;
    sender *s = userp;
    sock_ctx *sc = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            curl_multi_assign(s->multi, fd, NULL);
            uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
        }
        return 0;
    }
    if (!sc) {
        sc = mem_calloc(1, sizeof *sc);
        if (!sc)
            return -1;
        sc->fd = fd;
        sc->s = s;
        if (uv_poll_init_socket(s->loop, &sc->poll, fd) != 0) {
            mem_free(sc);
            return -1;
        }
        sc->poll.data = sc;
        s->open_handles++;
        curl_multi_assign(s->multi, fd, sc);
    }
    int ev = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

int sender_new(sender **out, uv_loop_t *loop, const char *url, const char *token)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return -EINVAL;
    sender *s = mem_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    buf_init(&s->body, 0);
    buf_init(&s->response, 4096);
    s->url = mem_strdup(url);
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    if (!s->url || !s->multi || !s->easy)
        goto fail;
    char auth[512];
    if (token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        s->headers = curl_slist_append(s->headers, auth);
    }
    s->headers = curl_slist_append(s->headers, "Content-Type: application/x-protobuf");
    s->headers = curl_slist_append(s->headers, "Content-Encoding: snappy");
    s->headers = curl_slist_append(s->headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
    s->headers = curl_slist_append(s->headers, "Expect:"); /* no 100-continue round trip */
    if (!s->headers)
        goto fail;
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
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
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->open_handles = 1;
    *out = s;
    return 0;
fail:
    curl_slist_free_all(s->headers);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    buf_free(&s->body);
    buf_free(&s->response);
    mem_free(s->url);
    mem_free(s);
    return -ENOMEM;
}

int sender_post(sender *s, const void *data, size_t len, sender_done_fn cb, void *ctx)
{
    if (s->busy)
        return -EBUSY;
    buf_reset(&s->body);
    buf_reset(&s->response);
    int rc = buf_append(&s->body, data, len);
    if (rc)
        return rc;
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    s->cb = cb;
    s->cb_ctx = ctx;
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
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
    s->closing = 1;
    s->cb = NULL;
    if (s->busy) {
        /* Removing the handle makes curl close its sockets through on_curl_socket. */
        curl_multi_remove_handle(s->multi, s->easy);
        s->busy = 0;
    }
    curl_easy_cleanup(s->easy);
    curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->headers);
    s->easy = NULL;
    s->multi = NULL;
    s->headers = NULL;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}
