/* server: routing, body collection with limits, authentication and responses over
 * libmicrohttpd. Each connection's request state lives in MHD's per-request pointer; the
 * handler runs once the whole body has arrived. */
#include "server.h"

#include "../lib/log.h"
#include "../lib/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct route {
    char *method;
    char *path;
    size_t path_len;
    int flags;
    size_t max_body;
    http_handler fn;
    void *ctx;
} route;

struct http_server {
    struct MHD_Daemon *daemon;
    http_config cfg;
    char *listen;
    struct sockaddr_storage addr;
    route *routes;
    size_t nroutes;
};

typedef struct conn_state {
    const route *rt;
    buf body;
    int too_big;
    http_principal who;
    void *hstate; /* the handler's state across deferred calls */
    void (*hstate_free)(void *);
} conn_state;

void http_response_header(http_response *res, const char *name, const char *value)
{
    if (res->nheaders < HTTP_MAX_HEADERS) {
        res->headers[res->nheaders][0] = name;
        res->headers[res->nheaders][1] = value;
        res->nheaders++;
    }
}

int http_response_header_copy(http_response *res, const char *name, const char *value)
{
    if (res->nheaders >= HTTP_MAX_HEADERS)
        return -E2BIG;
    char *v = mem_strdup(value);
    if (!v)
        return -ENOMEM;
    res->owned[res->nheaders] = v;
    http_response_header(res, name, v);
    return 0;
}

void http_request_client(const http_request *req, char *dst, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    dst[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, dst, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, dst, (socklen_t)cap);
}

const char *http_request_cookie(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

/* Parses "host:port" / "[v6]:port" / ":port" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon;
    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        goto bad;
    if (!*host)
        snprintf(host, sizeof host, "0.0.0.0");
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    if (strcmp(host, "localhost") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return 0;
    }
bad:
    snprintf(err, errlen,
             "invalid listen address \"%s\": expected HOST:PORT with a numeric IP, e.g. "
             "127.0.0.1:8080 or [::1]:8080",
             s);
    return -EINVAL;
}

int http_server_new(http_server **out, const http_config *cfg, char *err, size_t errlen)
{
    http_server *s = mem_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->listen = mem_strdup(cfg->listen ? cfg->listen : "127.0.0.1:8080");
    if (!s->listen) {
        mem_free(s);
        return -ENOMEM;
    }
    if (!s->cfg.max_body)
        s->cfg.max_body = 1 << 20;
    if (!s->cfg.session_cookie)
        s->cfg.session_cookie = "dd_session";
    if (!s->cfg.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->cfg.threads = n < 2 ? 2 : n > 16 ? 16 : (size_t)n;
    }
    int rc = parse_listen(s->listen, &s->addr, err, errlen);
    if (rc) {
        http_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int http_route_add(http_server *s, const char *method, const char *path, int flags,
                   size_t max_body, http_handler fn, void *ctx)
{
    route *v = mem_realloc(s->routes, (s->nroutes + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    s->routes = v;
    route *r = &v[s->nroutes];
    memset(r, 0, sizeof *r);
    r->method = method ? mem_strdup(method) : NULL;
    r->path = mem_strdup(path);
    if ((method && !r->method) || !r->path) {
        mem_free(r->method);
        mem_free(r->path);
        return -ENOMEM;
    }
    r->path_len = strlen(path);
    r->flags = flags;
    r->max_body = max_body ? max_body : s->cfg.max_body;
    r->fn = fn;
    r->ctx = ctx;
    s->nroutes++;
    return 0;
}

/* The best route: exact matches beat prefixes, longer prefixes beat shorter ones. Sets
 * *method_ok to 0 when the path exists but not for this method. */
static const route *find_route(const http_server *s, const char *method, const char *path,
                               int *method_ok)
{
    const route *best = NULL;
    size_t best_len = 0;
    int exact_path = 0; /* an exact route has this path, perhaps for another method */
    for (size_t i = 0; i < s->nroutes; i++) {
        const route *r = &s->routes[i];
        int prefix = (r->flags & HTTP_PREFIX) != 0;
        int match = prefix ? strncmp(path, r->path, r->path_len) == 0 : strcmp(path, r->path) == 0;
        if (!match)
            continue;
        exact_path |= !prefix;
        int mok = r->method ? strcmp(r->method, method) == 0
                            : (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
                               strcmp(method, "HEAD") == 0);
        if (!mok)
            continue;
        size_t len = prefix ? r->path_len : SIZE_MAX;
        if (!best || len > best_len) {
            best = r;
            best_len = len;
        }
    }
    /* An endpoint asked with the wrong method is a 405, not a fall-through to the UI. */
    if (exact_path && (!best || (best->flags & HTTP_PREFIX))) {
        *method_ok = 0;
        return NULL;
    }
    *method_ok = 1;
    return best;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                  const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"dashdot\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A JSON error in Prometheus's shape, used for failures before a handler runs. */
static enum MHD_Result queue_error(struct MHD_Connection *c, unsigned status, const char *type,
                                   const char *msg)
{
    char body[512];
    snprintf(body, sizeof body, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":\"%s\"}",
             type, msg);
    return queue_text(c, status, "application/json", body);
}

/* Resolves a token: the file tokens first, then the authenticator. */
static void resolve_token(const http_server *s, const char *t, http_principal *who)
{
    http_role r = auth_role(s->cfg.tokens, t);
    if (r != HTTP_ROLE_NONE) {
        who->role = r;
        snprintf(who->name, sizeof who->name, "%s.token", r == HTTP_ROLE_ADMIN ? "admin" : "agent");
        return;
    }
    if (s->cfg.auth && *t && s->cfg.auth(s->cfg.auth_ctx, t, NULL, who) != 0)
        memset(who, 0, sizeof *who);
}

/* Who sent the request: bearer token, else basic-auth password, else the session cookie.
 * *presented tells whether any credentials came with it. */
static void authenticate(const http_server *s, struct MHD_Connection *c, http_principal *who,
                         int *presented)
{
    memset(who, 0, sizeof *who);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    *presented = h != NULL;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ')
            t++;
        resolve_token(s, t, who);
        return;
    }
    if (h && strncasecmp(h, "Basic ", 6) == 0) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        if (pass)
            resolve_token(s, pass, who);
        if (user)
            MHD_free(user);
        if (pass)
            MHD_free(pass);
        return;
    }
    if (h)
        return;
    const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, s->cfg.session_cookie);
    if (sid && *sid && s->cfg.auth) {
        *presented = 1;
        if (s->cfg.auth(s->cfg.auth_ctx, NULL, sid, who) != 0)
            memset(who, 0, sizeof *who);
    }
}

/* Does the principal satisfy the route's requirement? */
static int role_allows(const http_principal *who, int flags)
{
    http_role r = who->role;
    if ((flags & HTTP_NEED_ADMIN) && r != HTTP_ROLE_ADMIN)
        return 0;
    if ((flags & HTTP_NEED_WRITE) &&
        !(r == HTTP_ROLE_AGENT || r == HTTP_ROLE_EDITOR || r == HTTP_ROLE_ADMIN))
        return 0;
    if ((flags & (HTTP_NEED_USER | HTTP_NEED_READ)) && r < HTTP_ROLE_VIEWER)
        return 0;
    if ((flags & HTTP_NEED_ENROLL) &&
        !(r == HTTP_ROLE_ENROLL || r == HTTP_ROLE_AGENT || r == HTTP_ROLE_ADMIN))
        return 0;
    if ((flags & HTTP_NEED_AGENT) && !(r == HTTP_ROLE_AGENT && who->agent_id > 0))
        return 0;
    return 1;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    http_form *f = cls;
    return http_form_add(f, key, value) == 0 ? MHD_YES : MHD_NO;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf_, size_t max)
{
    (void)pos;
    http_stream *st = cls;
    ssize_t n = st->read(st->ctx, buf_, max);
    if (n == HTTP_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n;
}

static void stream_free(void *cls)
{
    http_stream *st = cls;
    if (st->close)
        st->close(st->ctx);
    mem_free(st);
}

static enum MHD_Result send_response(struct MHD_Connection *c, http_response *res)
{
    struct MHD_Response *r;
    if (res->stream.read) {
        http_stream *st = mem_alloc(sizeof *st);
        if (!st) {
            if (res->stream.close)
                res->stream.close(res->stream.ctx);
            return queue_error(c, 500, "internal", "out of memory");
        }
        *st = res->stream;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, st,
                                              stream_free);
        if (!r) {
            stream_free(st);
            return MHD_NO;
        }
    } else if (res->static_body) {
        r = MHD_create_response_from_buffer(res->static_len, (void *)res->static_body,
                                            MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
    } else {
        size_t len;
        char *data = buf_steal(&res->body, &len);
        r = MHD_create_response_from_buffer_with_free_callback(len, data ? data : mem_strdup(""),
                                                               mem_free);
        if (!r) {
            mem_free(data);
            return MHD_NO;
        }
    }
    if (res->content_type)
        MHD_add_response_header(r, "Content-Type", res->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < res->nheaders; i++)
        MHD_add_response_header(r, res->headers[i][0], res->headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result run_handler(struct MHD_Connection *c, conn_state *st, const char *method,
                                   const char *url)
{
    http_request req = {0};
    http_response res = {0};
    req.method = method;
    req.path = url;
    req.conn = c;
    req.body = st->body.data ? st->body.data : "";
    req.body_len = st->body.len;
    req.who = st->who;
    req.role = st->who.role;
    http_form_init(&req.params);
    buf_init(&res.body, 0);
    res.status = 200;
    enum MHD_Result ret;
    if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &req.params) < 0 ||
        req.params.n >= FORM_MAX_PARAMS) {
        ret = queue_error(c, 400, "bad_data", "too many query parameters");
        goto out;
    }
    if (st->rt->flags & HTTP_FORM_BODY && st->body.len) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
            http_form_parse(&req.params, st->body.data, st->body.len)) {
            ret = queue_error(c, 400, "bad_data", "malformed form body");
            goto out;
        }
    }
    req.state = st->hstate;
    req.state_free = st->hstate_free;
    st->rt->fn(&req, &res, st->rt->ctx);
    st->hstate = req.state;
    st->hstate_free = req.state_free;
    if (req.deferred) {
        ret = MHD_YES; /* suspended by http_defer */
        goto out;
    }
    ret = send_response(c, &res);
out:
    for (size_t i = 0; i < HTTP_MAX_HEADERS; i++)
        mem_free(res.owned[i]);
    http_form_free(&req.params);
    buf_free(&res.body);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    http_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        /* First call: headers only. Route, check credentials and size before any body. */
        int method_ok;
        const route *rt = find_route(s, method, url, &method_ok);
        if (!rt) {
            if (!method_ok)
                return queue_error(c, 405, "bad_data", "method not allowed");
            return queue_error(c, 404, "not_found", "no such endpoint");
        }
        http_principal who;
        int presented;
        authenticate(s, c, &who, &presented);
        int need = rt->flags & (HTTP_NEED_WRITE | HTTP_NEED_ADMIN | HTTP_NEED_USER |
                                HTTP_NEED_ENROLL | HTTP_NEED_AGENT | HTTP_NEED_READ);
        if (s->cfg.anonymous_read)
            need &= ~HTTP_NEED_READ;
        if (need && !role_allows(&who, need)) {
            if (!presented)
                return queue_error(c, 401, "unauthorized",
                                   "this endpoint needs a token (Authorization: Bearer) or a "
                                   "login");
            if (who.role == HTTP_ROLE_NONE)
                return queue_error(c, 401, "unauthorized",
                                   "invalid, revoked or expired token, or the session ended");
            return queue_error(c, 403, "forbidden", "your role may not do that");
        }
        /* A browser session writes only with the CSRF token it received at login: another
         * site can make the browser send the cookie, but cannot read the token. */
        if ((need & ~HTTP_NEED_READ) && who.csrf[0] && strcmp(method, "GET") &&
            strcmp(method, "HEAD")) {
            const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
            if (!x || !auth_equal(x, who.csrf))
                return queue_error(c, 403, "forbidden",
                                   "missing or wrong X-CSRF-Token header for a session write");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || *end)
                return queue_error(c, 400, "bad_data", "invalid Content-Length");
            if (n > rt->max_body) {
                char msg[128];
                snprintf(msg, sizeof msg, "request body of %llu bytes exceeds the limit of %zu",
                         n, rt->max_body);
                return queue_error(c, 413, "bad_data", msg);
            }
        }
        st = mem_calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->rt = rt;
        st->who = who;
        buf_init(&st->body, rt->max_body);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!st->too_big && buf_append(&st->body, upload_data, *upload_data_size))
            st->too_big = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", st->rt->max_body);
        return queue_error(c, 413, "bad_data", msg);
    }
    return run_handler(c, st, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_state *st = *con_cls;
    if (!st)
        return;
    if (st->hstate && st->hstate_free)
        st->hstate_free(st->hstate);
    buf_free(&st->body);
    mem_free(st);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_debug("http: %s", msg);
}

int http_server_start(http_server *s, char *err, size_t errlen)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (s->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    int port = s->addr.ss_family == AF_INET6
                   ? ntohs(((struct sockaddr_in6 *)&s->addr)->sin6_port)
                   : ntohs(((struct sockaddr_in *)&s->addr)->sin_port);
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &s->addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.threads, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not available?)",
                 s->listen);
        return -EADDRINUSE;
    }
    return 0;
}

int http_server_port(const http_server *s)
{
    if (!s->daemon)
        return 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_server_free(http_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    for (size_t i = 0; i < s->nroutes; i++) {
        mem_free(s->routes[i].method);
        mem_free(s->routes[i].path);
    }
    mem_free(s->routes);
    mem_free(s->listen);
    mem_free(s);
}

const char *http_request_header(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void http_defer(http_request *req)
{
    req->deferred = 1;
    MHD_suspend_connection(req->conn);
}

void http_stream_suspend(struct MHD_Connection *conn)
{
    MHD_suspend_connection(conn);
}

void http_stream_resume(struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
}
