/* curlmux: libcurl multi on libuv. curl says which sockets to watch and when to time out
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION); libuv says when they are ready
 * (curl_multi_socket_action). Each transfer carries a small node (CURLOPT_PRIVATE) with its
 * callback, linked into the mux so that closing can stop what is left. */
#include "curlmux.h"

#include "../../lib/mem.h"

#include <errno.h>

typedef struct xfer {
    CURL *easy;
    curlmux_done_fn cb;
    void *ctx;
    struct xfer *prev, *next;
} xfer;

struct curlmux {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    xfer *xfers;
    int running;
    int closing;
    int open_handles;
};

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    curlmux *m;
} sock_ctx;

static void maybe_free(curlmux *m)
{
    if (m->closing && m->open_handles == 0)
        mem_free(m);
}

static void on_timer_closed(uv_handle_t *h)
{
    curlmux *m = h->data;
    m->open_handles--;
    maybe_free(m);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_ctx *sc = h->data;
    curlmux *m = sc->m;
    mem_free(sc);
    m->open_handles--;
    maybe_free(m);
}

static void unlink_xfer(curlmux *m, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        m->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    m->running--;
}

static void check_done(curlmux *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        xfer *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(m->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        if (!x)
            continue;
        unlink_xfer(m, x);
        curlmux_done_fn cb = x->cb;
        void *ctx = x->ctx;
        mem_free(x);
        /* The callback may add or remove transfers: msg is not used after it. */
        cb(ctx, easy, res);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_ctx *sc = h->data;
    curlmux *m = sc->m;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(m->multi, sc->fd, flags, &running);
    check_done(m);
}

static void on_timeout(uv_timer_t *t)
{
    curlmux *m = t->data;
    int running;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    curlmux *m = userp;
    if (m->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&m->timer);
    else
        uv_timer_start(&m->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    (void)easy;
    curlmux *m = userp;
    sock_ctx *sc = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            curl_multi_assign(m->multi, fd, NULL);
            uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
        }
        return 0;
    }
    if (!sc) {
        sc = mem_calloc(1, sizeof *sc);
        if (!sc)
            return -1;
        sc->fd = fd;
        sc->m = m;
        if (uv_poll_init_socket(m->loop, &sc->poll, fd) != 0) {
            mem_free(sc);
            return -1;
        }
        sc->poll.data = sc;
        m->open_handles++;
        curl_multi_assign(m->multi, fd, sc);
    }
    int ev = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

int curlmux_new(curlmux **out, uv_loop_t *loop)
{
    curlmux *m = mem_calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->multi = curl_multi_init();
    if (!m->multi) {
        mem_free(m);
        return -ENOMEM;
    }
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    /* Probes of one host share connections; a whole fleet of targets does not. */
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, 256L);
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    m->open_handles = 1;
    *out = m;
    return 0;
}

int curlmux_add(curlmux *m, CURL *easy, curlmux_done_fn cb, void *ctx)
{
    xfer *x = mem_calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->easy = easy;
    x->cb = cb;
    x->ctx = ctx;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (curl_multi_add_handle(m->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        mem_free(x);
        return -ENOMEM;
    }
    x->next = m->xfers;
    if (m->xfers)
        m->xfers->prev = x;
    m->xfers = x;
    m->running++;
    return 0;
}

void curlmux_remove(curlmux *m, CURL *easy)
{
    xfer *x = NULL;
    if (!m || !easy)
        return;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x)
        return;
    /* Removing the handle makes curl close its sockets through on_curl_socket. */
    curl_multi_remove_handle(m->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    unlink_xfer(m, x);
    mem_free(x);
}

int curlmux_running(const curlmux *m)
{
    return m->running;
}

void curlmux_close(curlmux *m)
{
    if (!m)
        return;
    while (m->xfers)
        curlmux_remove(m, m->xfers->easy);
    m->closing = 1;
    curl_multi_cleanup(m->multi);
    m->multi = NULL;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}
