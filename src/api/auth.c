/* auth: login, logout, who-am-i and password changes for people, and the authenticator that
 * resolves catalog tokens and session cookies for the HTTP server. */
#include "api_int.h"

#include "../catalog/access.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define COOKIE "dd_session"

static http_role role_of(cat_cred c)
{
    switch (c) {
    case CAT_CRED_ENROLL: return HTTP_ROLE_ENROLL;
    case CAT_CRED_AGENT: return HTTP_ROLE_AGENT;
    case CAT_CRED_VIEWER: return HTTP_ROLE_VIEWER;
    case CAT_CRED_EDITOR: return HTTP_ROLE_EDITOR;
    case CAT_CRED_ADMIN: return HTTP_ROLE_ADMIN;
    default: return HTTP_ROLE_NONE;
    }
}

static void to_http(const cat_principal *p, http_principal *out)
{
    memset(out, 0, sizeof *out);
    out->role = role_of(p->cred);
    out->user_id = p->user_id;
    out->token_id = p->token_id;
    out->agent_id = p->agent_id;
    snprintf(out->name, sizeof out->name, "%s", p->name);
    snprintf(out->csrf, sizeof out->csrf, "%s", p->csrf);
}

int api_authenticate(void *vctx, const char *token, const char *session, http_principal *out)
{
    api_ctx *ctx = vctx;
    cat_principal p;
    int rc;
    if (!ctx->cat)
        return -ENOENT;
    rc = token ? cat_access_token(ctx->cat, token, &p) : cat_access_session(ctx->cat, session, &p);
    if (rc)
        return rc;
    to_http(&p, out);
    return out->role == HTTP_ROLE_NONE ? -ENOENT : 0;
}

static json_t *me_json(const http_principal *w)
{
    json_t *user = w->user_id > 0 ? json_pack("{sI ss ss}", "id", (json_int_t)w->user_id, "name",
                                              w->name, "role", http_role_name(w->role))
                                  : json_null();
    return json_pack("{so ss ss ss}", "user", user, "role", http_role_name(w->role), "name",
                     w->name, "via", w->csrf[0] ? "session" : "token");
}

static void handle_login(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    json_t *in = api_json_body(req, res);
    if (!in)
        return;
    const char *user = json_string_value(json_object_get(in, "username"));
    const char *pw = json_string_value(json_object_get(in, "password"));
    if (!user || !pw || !*user || strlen(user) > 200 || strlen(pw) > 1000) {
        json_decref(in);
        api_error(res, 400, "bad_data", "expected {\"username\": \"...\", \"password\": \"...\"}");
        return;
    }
    char client[64], sid[CAT_SESSION_LEN + 1];
    cat_principal p;
    int retry = 0;
    http_request_client(req, client, sizeof client);
    int rc = cat_access_login(ctx->cat, user, pw, client, sid, &p, &retry);
    json_decref(in);
    if (rc == -EAGAIN) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        http_response_header_copy(res, "Retry-After", ra);
        api_error(res, 429, "too_many_requests",
                  "too many failed logins: try again in %d s", retry);
        return;
    }
    if (rc == -EACCES) {
        api_error(res, 401, "unauthorized", "wrong username or password");
        return;
    }
    if (rc) {
        api_error(res, 500, "internal", "cannot log in: %s", strerror(-rc));
        return;
    }
    char cookie[160];
    snprintf(cookie, sizeof cookie, COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d",
             sid, CAT_SESSION_MAX_AGE_S);
    http_response_header_copy(res, "Set-Cookie", cookie);
    http_response_header(res, "Cache-Control", "no-store");
    http_principal w;
    to_http(&p, &w);
    json_t *data = me_json(&w);
    json_object_set_new(data, "csrf", json_string(p.csrf));
    api_json_ok(res, 200, data, NULL);
}

static void handle_logout(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    const char *sid = http_request_cookie(req, COOKIE);
    if (sid && req->who.csrf[0])
        cat_access_logout(ctx->cat, sid);
    http_response_header(res, "Set-Cookie",
                         COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    api_json_ok(res, 200, json_object(), NULL);
}

static void handle_me(http_request *req, http_response *res, void *vctx)
{
    (void)vctx;
    json_t *data = me_json(&req->who);
    if (data && req->who.csrf[0])
        json_object_set_new(data, "csrf", json_string(req->who.csrf));
    http_response_header(res, "Cache-Control", "no-store");
    api_json_ok(res, 200, data, NULL);
}

static void handle_password(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    cat_result r = {0};
    if (req->who.user_id <= 0) {
        api_error(res, 400, "bad_data", "only users have passwords (this is a token)");
        return;
    }
    json_t *in = api_json_body(req, res);
    if (!in)
        return;
    const char *old_pw = json_string_value(json_object_get(in, "old"));
    const char *new_pw = json_string_value(json_object_get(in, "new"));
    if (!old_pw || !new_pw) {
        json_decref(in);
        api_error(res, 400, "bad_data", "expected {\"old\": \"...\", \"new\": \"...\"}");
        return;
    }
    int rc = cat_access_change_password(ctx->cat, req->who.user_id, old_pw, new_pw, &r);
    json_decref(in);
    if (rc == -EACCES)
        api_error(res, 403, "forbidden", "%s", r.msg);
    else if (rc)
        api_cat_error(res, rc, &r);
    else
        api_json_ok(res, 200, json_object(), NULL);
    cat_result_clear(&r);
}

int api_auth_register(http_server *s, api_ctx *ctx)
{
    int rc = http_route_add(s, "POST", "/api/v1/auth/login", 0, 64 << 10, handle_login, ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/auth/logout", HTTP_NEED_USER, 0, handle_logout,
                            ctx);
    if (!rc)
        rc = http_route_add(s, "GET", "/api/v1/auth/me", HTTP_NEED_USER, 0, handle_me, ctx);
    if (!rc)
        rc = http_route_add(s, "POST", "/api/v1/auth/password", HTTP_NEED_USER, 64 << 10,
                            handle_password, ctx);
    return rc;
}
