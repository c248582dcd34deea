/* tcp: the tcp probe — resolve, connect. (Reference type: TLS, send/expect to come.)
 * Samples as blackbox_exporter's tcp prober: probe_dns_lookup_time_seconds,
 * probe_ip_protocol, plus probe_tcp_connect_duration_seconds. */
#include "probe.h"

#include "../../lib/mem.h"
#include "resolve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct tcp_run {
    probe_run *r;
    resolve_req *rq;
    uv_tcp_t sock;
    uv_connect_t conn;
    int sock_open;
    uint64_t t0, t_resolved;
} tcp_run;

static int tcp_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    (void)prep;
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address");
        return -EINVAL;
    }
    if (!d->port) {
        snprintf(err, errcap, "the endpoint has no port");
        return -EINVAL;
    }
    return 0;
}

static void on_sock_closed(uv_handle_t *h)
{
    mem_free(h->data);
}

/* Frees the run's state: at once, or once libuv has closed the socket. */
static void release(tcp_run *t)
{
    resolve_cancel(t->rq);
    t->rq = NULL;
    if (t->sock_open)
        uv_close((uv_handle_t *)&t->sock, on_sock_closed);
    else
        mem_free(t);
}

static void on_connect(uv_connect_t *c, int status)
{
    tcp_run *t = c->data;
    probe_run *r = t->r;
    if (status == UV_ECANCELED || !r)
        return; /* cancelled: release() already ran */
    double secs = (double)(uv_hrtime() - t->t_resolved) / 1e9;
    probe_run_add(r, "probe_tcp_connect_duration_seconds", NULL, secs);
    t->r = NULL;
    release(t);
    if (status)
        probe_run_done(r, 0, "connect: %s", uv_strerror(status));
    else
        probe_run_done(r, 1, NULL);
}

static void on_resolved(void *ctx, int rc, const struct sockaddr *sa, socklen_t len,
                        const char *err)
{
    (void)len;
    tcp_run *t = ctx;
    probe_run *r = t->r;
    t->rq = NULL;
    t->t_resolved = uv_hrtime();
    probe_run_add(r, "probe_dns_lookup_time_seconds", NULL,
                  (double)(t->t_resolved - t->t0) / 1e9);
    if (rc) {
        t->r = NULL;
        release(t);
        probe_run_done(r, 0, "resolve %s: %s", probe_run_def(r)->address, err);
        return;
    }
    probe_run_add(r, "probe_ip_protocol", NULL, sa->sa_family == AF_INET6 ? 6 : 4);
    int e = uv_tcp_init(probe_run_loop(r), &t->sock);
    if (!e) {
        t->sock_open = 1;
        t->sock.data = t;
        t->conn.data = t;
        e = uv_tcp_connect(&t->conn, &t->sock, sa, on_connect);
    }
    if (e) {
        t->r = NULL;
        release(t);
        probe_run_done(r, 0, "connect: %s", uv_strerror(e));
    }
}

static void tcp_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    resolver *res = probe_run_resolver(r);
    tcp_run *t = mem_calloc(1, sizeof *t);
    if (!t || !res) {
        mem_free(t);
        probe_run_done(r, 0, "out of memory or no resolver");
        return;
    }
    t->r = r;
    t->t0 = uv_hrtime();
    probe_run_set_state(r, t);
    if (resolve_start(res, d->address, d->port, RESOLVE_ANY, on_resolved, t, &t->rq)) {
        t->r = NULL;
        release(t);
        probe_run_done(r, 0, "out of memory");
    }
}

static void tcp_cancel(probe_run *r)
{
    tcp_run *t = probe_run_state(r);
    if (!t)
        return;
    t->r = NULL;
    release(t);
}

const probe_type probe_tcp_type = {
    .name = "tcp",
    .prepare = tcp_prepare,
    .start = tcp_start,
    .cancel = tcp_cancel,
};
