/* server: dashdot's HTTP server over libmicrohttpd (internal thread pool, epoll).
 *
 * Routes map a method and a path (exact, or a prefix ending in '/') to a handler. The server
 * reads the request body up to a per-route limit (413 beyond it), authenticates the token,
 * enforces the route's role (401 without credentials, 403 with too weak ones) and calls the
 * handler on one of its pool threads. A handler fills an http_response: a status, a content
 * type and a body, or a stream (server-sent events) whose reader the server calls as the
 * client drains it. */
#ifndef DD_HTTP_SERVER_H
#define DD_HTTP_SERVER_H

#include "../lib/buf.h"
#include "auth.h"
#include "form.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct http_server http_server;
struct MHD_Connection;

typedef struct http_request {
    const char *method;
    const char *path;            /* without the query string */
    const char *body;            /* NUL-terminated; body_len bytes */
    size_t body_len;
    http_form params;            /* query string, plus a url-encoded POST body */
    http_role role;              /* who.role */
    http_principal who;
    struct MHD_Connection *conn; /* for headers (http_request_header) and streams */
    /* The handler's own state across a deferred answer (http_defer): NULL on the first call,
     * kept as the handler leaves it; state_free (if set) frees it when the request ends. */
    void *state;
    void (*state_free)(void *state);
    int deferred; /* set by http_defer */
} http_request;

/* A streaming body: the server calls read() whenever the client can take more data. It
 * returns bytes written into dst (> 0), HTTP_STREAM_WAIT after suspending the connection
 * (see http_stream_suspend), or HTTP_STREAM_END. close() runs once when the response ends. */
#define HTTP_STREAM_WAIT 0
#define HTTP_STREAM_END (-1)
typedef struct http_stream {
    ssize_t (*read)(void *ctx, char *dst, size_t max);
    void (*close)(void *ctx);
    void *ctx;
} http_stream;

#define HTTP_MAX_HEADERS 8

typedef struct http_response {
    int status;
    const char *content_type;
    buf body;
    http_stream stream; /* set read to stream instead of sending body */
    const void *static_body; /* if set: sent instead of body, without a copy (must live forever) */
    size_t static_len;
    const char *headers[HTTP_MAX_HEADERS][2];
    size_t nheaders;
    char *owned[HTTP_MAX_HEADERS]; /* header values copied by http_response_header_copy */
} http_response;

/* Adds a response header; name and value must outlive the request (static strings). */
void http_response_header(http_response *res, const char *name, const char *value);
/* Adds a response header whose value is copied (name must be static). Returns 0 or -ENOMEM
 * (-E2BIG when the response has HTTP_MAX_HEADERS already). */
int http_response_header_copy(http_response *res, const char *name, const char *value);
/* The client's address as text ("127.0.0.1", "::1"), or "" when unknown. */
void http_request_client(const http_request *req, char *dst, size_t cap);
/* A cookie sent with the request, or NULL. */
const char *http_request_cookie(const http_request *req, const char *name);

typedef void (*http_handler)(http_request *req, http_response *res, void *ctx);

enum {
    HTTP_PREFIX = 1 << 0,     /* path is a prefix */
    HTTP_NEED_WRITE = 1 << 1, /* write samples: agent, editor or admin */
    HTTP_NEED_ADMIN = 1 << 2, /* admin */
    HTTP_FORM_BODY = 1 << 3,  /* parse an x-www-form-urlencoded body into params */
    HTTP_NEED_USER = 1 << 4,  /* viewer, editor or admin (a person or an API token) */
    HTTP_NEED_ENROLL = 1 << 5, /* enroll, agent or admin */
    HTTP_NEED_AGENT = 1 << 6, /* an enrolled agent's own token */
    HTTP_NEED_READ = 1 << 7,  /* metric reads: viewer or better, unless anonymous reads */
};

typedef struct http_config {
    const char *listen;  /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080"; port 0 = any */
    size_t threads;      /* 0: number of CPUs, at least 2 */
    size_t max_body;     /* default body limit (routes may set their own); 0: 1 MiB */
    const auth_tokens *tokens;
    http_auth_fn auth;   /* optional: catalog tokens and sessions */
    void *auth_ctx;
    const char *session_cookie; /* name of the session cookie (default "dd_session") */
    int anonymous_read;  /* HTTP_NEED_READ routes are open to anyone */
} http_config;

/* Creates a server (not yet listening). Returns 0 or -ENOMEM / -EINVAL (bad listen address,
 * reason in err). */
int http_server_new(http_server **out, const http_config *cfg, char *err, size_t errlen);
/* Registers a route before http_server_start. method NULL matches GET and POST. max_body 0
 * uses the server's default. Returns 0 or -ENOMEM. */
int http_route_add(http_server *s, const char *method, const char *path, int flags,
                   size_t max_body, http_handler fn, void *ctx);
/* Starts listening. Returns 0 or -errno with the reason in err. */
int http_server_start(http_server *s, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
int http_server_port(const http_server *s);
/* Stops the daemon (call stream owners' shutdown first so suspended streams end) and frees
 * everything. Accepts NULL. */
void http_server_free(http_server *s);

/* A request header's value, or NULL. */
const char *http_request_header(const http_request *req, const char *name);

/* Deferred answers (long-polls). A handler that cannot answer yet calls http_defer and
 * returns without filling res: the connection is suspended at once (so another thread may
 * resume it even before the handler returns). Once someone calls
 * http_stream_resume(req->conn) (any thread, exactly once per defer) the handler is called
 * again for the same request, with req->state as it left it. Every deferred connection must be
 * resumed before the server stops. */
void http_defer(http_request *req);

/* For stream readers: suspend the connection until http_stream_resume. Only from within the
 * stream's read callback, which then returns HTTP_STREAM_WAIT. */
void http_stream_suspend(struct MHD_Connection *conn);
/* Wakes a suspended stream (any thread). */
void http_stream_resume(struct MHD_Connection *conn);

#endif
