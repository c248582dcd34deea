/* static: serves the embedded web UI. Hashed assets are cached forever; index.html is
 * revalidated; unknown UI paths fall back to index.html so client-side routes work. */
#include "api_int.h"
#include "web_assets.h"

#include <string.h>

static void handle_static(http_request *req, http_response *res, void *vctx)
{
    (void)vctx;
    if (strncmp(req->path, "/api/", 5) == 0) {
        api_error(res, 404, "not_found", "no such endpoint");
        return;
    }
    const char *path = strcmp(req->path, "/") == 0 ? "/index.html" : req->path;
    const web_asset *a = web_asset_find(path);
    if (!a && !strchr(strrchr(path, '/'), '.'))
        a = web_asset_find("/index.html");
    if (!a) {
        res->status = 404;
        res->content_type = "text/plain; charset=utf-8";
        buf_puts(&res->body, "not found\n");
        return;
    }
    res->status = 200;
    res->content_type = a->content_type;
    http_response_header(res, "Cache-Control",
                         a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    /* Embedded assets live as long as the process: no copy per request. */
    res->static_body = a->data;
    res->static_len = a->len;
}

void api_static_register(http_server *s, api_ctx *ctx)
{
    http_route_add(s, "GET", "/", HTTP_PREFIX, 0, handle_static, ctx);
    http_route_add(s, "HEAD", "/", HTTP_PREFIX, 0, handle_static, ctx);
}
