/* agentapi: what agents call besides remote write: enrollment (an enroll, agent or admin
 * token buys a per-agent token) and inventory reports (the agent's own token). */
#include "api_int.h"

#include "../catalog/inventory.h"

#include <errno.h>
#include <string.h>

#define INVENTORY_MAX_BODY (1 << 20)

static void handle_enroll(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    cat_result r = {0};
    cat_enrollment e;
    json_t *in = api_json_body(req, res);
    if (!in)
        return;
    int rc = cat_enroll(ctx->cat, in, req->who.name[0] ? req->who.name : "enroll", &e, &r);
    json_decref(in);
    if (rc)
        api_cat_error(res, rc, &r);
    else {
        http_response_header(res, "Cache-Control", "no-store");
        api_json_ok(res, 200,
                    json_pack("{sI sI ss}", "agent", (json_int_t)e.agent, "device",
                              (json_int_t)e.device, "token", e.token),
                    NULL);
    }
    memset(e.token, 0, sizeof e.token);
    cat_result_clear(&r);
}

static void handle_inventory(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    cat_result r = {0};
    int stored;
    json_t *in = api_json_body(req, res);
    if (!in)
        return;
    int rc = cat_inventory_put(ctx->cat, req->who.agent_id, in, &stored, &r);
    json_decref(in);
    if (rc == -ENOENT) {
        api_error(res, 409, "conflict", "%s", r.msg);
    } else if (rc)
        api_cat_error(res, rc, &r);
    else {
        res->status = 204;
        res->content_type = NULL;
    }
    cat_result_clear(&r);
}

int api_agent_register(http_server *s, api_ctx *ctx)
{
    int rc = http_route_add(s, "POST", "/api/v1/agent/enroll", HTTP_NEED_ENROLL, 64 << 10,
                            handle_enroll, ctx);
    if (!rc)
        rc = http_route_add(s, "PUT", "/api/v1/agent/inventory", HTTP_NEED_AGENT,
                            INVENTORY_MAX_BODY, handle_inventory, ctx);
    return rc;
}
