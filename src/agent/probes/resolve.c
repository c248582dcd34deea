/* resolve: c-ares driven by libuv. c-ares reports the sockets it wants watched through its
 * socket-state callback (one uv_poll per socket) and the time it next needs attention through
 * ares_timeout (one uv_timer); libuv hands readiness back with ares_process_fd. */
#include "resolve.h"

#include "../../lib/mem.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

typedef struct watch {
    uv_poll_t poll;
    ares_socket_t fd;
    resolver *r;
    struct watch *next;
} watch;

struct resolver {
    uv_loop_t *loop;
    ares_channel ch;
    uv_timer_t timer;
    watch *watches;
    int open_handles;
    int closing;
};

struct resolve_req {
    resolver *r;
    resolve_fn cb;
    void *ctx;
    int port;
    resolve_family fam;
    int cancelled;
    int *answered; /* set while resolve_start runs: the answer came at once */
};

static void maybe_free(resolver *r)
{
    if (r->closing && r->open_handles == 0)
        mem_free(r);
}

static void on_closed(uv_handle_t *h)
{
    resolver *r = h->data;
    r->open_handles--;
    maybe_free(r);
}

static void on_watch_closed(uv_handle_t *h)
{
    watch *w = h->data;
    resolver *r = w->r;
    mem_free(w);
    r->open_handles--;
    maybe_free(r);
}

static void on_timer(uv_timer_t *t);

static void rearm(resolver *r)
{
    struct timeval tv, *tp;
    if (r->closing)
        return;
    tp = ares_timeout(r->ch, NULL, &tv);
    if (!tp) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t ms = (uint64_t)tp->tv_sec * 1000 + (uint64_t)tp->tv_usec / 1000;
    uv_timer_start(&r->timer, on_timer, ms ? ms : 1, 0);
}

static void on_timer(uv_timer_t *t)
{
    resolver *r = t->data;
    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(r);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    watch *w = h->data;
    resolver *r = w->r;
    ares_socket_t rd = ARES_SOCKET_BAD, wr = ARES_SOCKET_BAD;
    if (status < 0 || (events & UV_READABLE))
        rd = w->fd;
    if (status < 0 || (events & UV_WRITABLE))
        wr = w->fd;
    ares_process_fd(r->ch, rd, wr);
    rearm(r);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    resolver *r = data;
    watch **p = &r->watches, *w;
    while ((w = *p) && w->fd != fd)
        p = &w->next;
    if (!readable && !writable) {
        if (w) {
            *p = w->next;
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, on_watch_closed);
        }
        return;
    }
    if (!w) {
        w = mem_calloc(1, sizeof *w);
        if (!w)
            return; /* the query times out instead */
        w->fd = fd;
        w->r = r;
        if (uv_poll_init_socket(r->loop, &w->poll, fd)) {
            mem_free(w);
            return;
        }
        w->poll.data = w;
        r->open_handles++;
        w->next = r->watches;
        r->watches = w;
    }
    uv_poll_start(&w->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

int resolver_new(resolver **out, uv_loop_t *loop)
{
    static int lib_ready;
    if (!lib_ready) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
            return -ENOMEM;
        lib_ready = 1;
    }
    resolver *r = mem_calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    struct ares_options o;
    memset(&o, 0, sizeof o);
    o.sock_state_cb = on_sock_state;
    o.sock_state_cb_data = r;
    o.timeout = 2000; /* per try; the probe's own timeout bounds the whole */
    o.tries = 2;
    int arc = ares_init_options(&r->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
                                               ARES_OPT_TRIES);
    if (arc != ARES_SUCCESS) {
        mem_free(r);
        return arc == ARES_ENOMEM ? -ENOMEM : -EIO;
    }
    r->loop = loop;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->open_handles = 1;
    *out = r;
    return 0;
}

/* Parses a numeric address (IPv6 optionally in brackets). Returns 1 and fills ss. */
static int numeric(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    char tmp[64];
    size_t n = strlen(host);
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 1;
    }
    if (n >= 2 && n - 2 < sizeof tmp && host[0] == '[' && host[n - 1] == ']') {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 1;
    }
    return 0;
}

static const struct ares_addrinfo_node *pick(const struct ares_addrinfo *ai, resolve_family fam)
{
    const struct ares_addrinfo_node *n, *v4 = NULL, *v6 = NULL;
    for (n = ai ? ai->nodes : NULL; n; n = n->ai_next) {
        if (n->ai_family == AF_INET && !v4)
            v4 = n;
        if (n->ai_family == AF_INET6 && !v6)
            v6 = n;
    }
    switch (fam) {
    case RESOLVE_IPV4: return v4;
    case RESOLVE_IPV6: return v6;
    case RESOLVE_IPV6_FIRST: return v6 ? v6 : v4;
    default: return v4 ? v4 : v6;
    }
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    (void)timeouts;
    resolve_req *q = arg;
    if (!q->cancelled && status != ARES_EDESTRUCTION) {
        const struct ares_addrinfo_node *n = status == ARES_SUCCESS ? pick(ai, q->fam) : NULL;
        if (n) {
            struct sockaddr_storage ss;
            socklen_t len = n->ai_addrlen <= sizeof ss ? n->ai_addrlen : sizeof ss;
            memcpy(&ss, n->ai_addr, len);
            if (ss.ss_family == AF_INET)
                ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)q->port);
            else
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)q->port);
            q->cb(q->ctx, 0, (struct sockaddr *)&ss, len, "");
        } else if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA) {
            q->cb(q->ctx, -ENOENT, NULL, 0,
                  status == ARES_SUCCESS ? "no address of the wanted family" : ares_strerror(status));
        } else {
            q->cb(q->ctx, status == ARES_ETIMEOUT ? -ETIMEDOUT : -EIO, NULL, 0,
                  ares_strerror(status));
        }
    }
    if (ai)
        ares_freeaddrinfo(ai);
    if (q->answered)
        *q->answered = 1;
    mem_free(q);
}

int resolve_start(resolver *r, const char *host, int port, resolve_family fam, resolve_fn cb,
                  void *ctx, resolve_req **req)
{
    struct sockaddr_storage ss;
    socklen_t len;
    *req = NULL;
    if (numeric(host, port, &ss, &len)) {
        if ((fam == RESOLVE_IPV4 && ss.ss_family != AF_INET) ||
            (fam == RESOLVE_IPV6 && ss.ss_family != AF_INET6))
            cb(ctx, -ENOENT, NULL, 0, "the address is not of the wanted family");
        else
            cb(ctx, 0, (struct sockaddr *)&ss, len, "");
        return 0;
    }
    resolve_req *q = mem_calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->r = r;
    q->cb = cb;
    q->ctx = ctx;
    q->port = port;
    q->fam = fam;
    struct ares_addrinfo_hints h;
    memset(&h, 0, sizeof h);
    h.ai_family = fam == RESOLVE_IPV4 ? AF_INET : fam == RESOLVE_IPV6 ? AF_INET6 : AF_UNSPEC;
    h.ai_socktype = SOCK_STREAM;
    /* The answer may come before ares_getaddrinfo returns (/etc/hosts, a bad name): then q is
     * gone and the caller gets no handle. */
    int answered = 0;
    q->answered = &answered;
    ares_getaddrinfo(r->ch, host, NULL, &h, on_answer, q);
    if (!answered) {
        q->answered = NULL;
        *req = q;
    }
    rearm(r);
    return 0;
}

void resolve_cancel(resolve_req *req)
{
    if (req)
        req->cancelled = 1;
}

void resolver_close(resolver *r)
{
    if (!r)
        return;
    r->closing = 1;
    ares_destroy(r->ch); /* pending answers come back as ARES_EDESTRUCTION: freed, no calls */
    while (r->watches) {
        watch *w = r->watches;
        r->watches = w->next;
        uv_poll_stop(&w->poll);
        uv_close((uv_handle_t *)&w->poll, on_watch_closed);
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_closed);
}
