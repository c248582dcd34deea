/* test_access: API tokens (valid, revoked, expired, bound to a disabled user, capped at the
 * user's role, last use recorded), sessions (login, CSRF token, logout, expiry, disabled
 * users, password changes ending them), login throttling, the first admin, password resets,
 * agent enrollment (new machine, same machine again, host name match, hostile requests) and
 * inventory records (stored on change only, device kind learned, diff between times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "catalog/access.h"
#include "catalog/catalog_int.h"
#include "catalog/inventory.h"
#include "catalog/store.h"
#include "lib/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cat_actor ADMIN = {CAT_ROLE_ADMIN, 0, "test"};

typedef struct ctx {
    char dir[64];
    cat_store *s;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    char path[128], err[256];
    snprintf(c->dir, sizeof c->dir, "/tmp/dd-acc-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(path, sizeof path, "%s/catalog.db", c->dir);
    assert_int_equal(cat_store_open(&c->s, path, err, sizeof err), 0);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    char cmd[128];
    cat_store_close(c->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    assert_int_equal(system(cmd), 0);
    free(c);
    return 0;
}

/* Creates an object; returns it (caller decrefs). */
static json_t *create(cat_store *s, const char *model, const char *body)
{
    json_error_t je;
    json_t *in = json_loads(body, 0, &je), *obj = NULL;
    cat_result r = {0};
    assert_non_null(in);
    if (cat_create(s, cat_model_find(model), &ADMIN, in, &obj, &r))
        fail_msg("create %s %s: %s", model, body, r.msg);
    json_decref(in);
    cat_result_clear(&r);
    return obj;
}

static int64_t id_of(json_t *o)
{
    return json_integer_value(json_object_get(o, "id"));
}

static void patch(cat_store *s, const char *model, int64_t id, const char *body)
{
    json_error_t je;
    json_t *in = json_loads(body, 0, &je), *obj = NULL;
    cat_result r = {0};
    if (cat_update(s, cat_model_find(model), &ADMIN, id, in, 0, &obj, &r))
        fail_msg("update %s %lld %s: %s", model, (long long)id, body, r.msg);
    json_decref(in);
    json_decref(obj);
    cat_result_clear(&r);
}

static void test_tokens(void **state)
{
    ctx *c = *state;
    cat_principal p;
    char secret[80];
    json_t *u = create(c->s, "user", "{\"name\":\"val\",\"role\":\"viewer\",\"password\":\"0123456789\"}");
    char body[256];
    /* An admin token bound to a viewer acts as a viewer, named after the user. */
    snprintf(body, sizeof body, "{\"name\":\"t1\",\"role\":\"admin\",\"user\":%lld}",
             (long long)id_of(u));
    json_t *t1 = create(c->s, "token", body);
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(t1, "secret")));
    assert_int_equal(cat_access_token(c->s, secret, &p), 0);
    assert_int_equal(p.cred, CAT_CRED_VIEWER);
    assert_int_equal(p.user_id, id_of(u));
    assert_string_equal(p.name, "val");
    /* Last use recorded. */
    json_t *o = NULL;
    cat_result r = {0};
    assert_int_equal(cat_get(c->s, cat_model_find("token"), &ADMIN, id_of(t1), &o, &r), 0);
    assert_true(json_is_string(json_object_get(o, "last_used_at")));
    json_decref(o);
    /* Unknown, malformed, truncated. */
    assert_int_equal(cat_access_token(c->s, "ddt_nope", &p), -ENOENT);
    assert_int_equal(cat_access_token(c->s, "", &p), -ENOENT);
    secret[20] = '\0';
    assert_int_equal(cat_access_token(c->s, secret, &p), -ENOENT);
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(t1, "secret")));
    /* Disabled user: its tokens stop working. */
    patch(c->s, "user", id_of(u), "{\"disabled\":true}");
    assert_int_equal(cat_access_token(c->s, secret, &p), -ENOENT);
    patch(c->s, "user", id_of(u), "{\"disabled\":false}");
    assert_int_equal(cat_access_token(c->s, secret, &p), 0);
    /* Revoked. */
    patch(c->s, "token", id_of(t1), "{\"revoked\":true}");
    assert_int_equal(cat_access_token(c->s, secret, &p), -ENOENT);
    /* Expired, and not yet expired. */
    char when[48], b2[256];
    timeutil_format_rfc3339(timeutil_now_ms() - 1000, when, sizeof when);
    snprintf(b2, sizeof b2, "{\"name\":\"old\",\"role\":\"editor\",\"expires_at\":\"%s\"}", when);
    json_t *t2 = create(c->s, "token", b2);
    assert_int_equal(cat_access_token(c->s, json_string_value(json_object_get(t2, "secret")), &p),
                     -ENOENT);
    timeutil_format_rfc3339(timeutil_now_ms() + 3600000, when, sizeof when);
    snprintf(b2, sizeof b2, "{\"name\":\"new\",\"role\":\"editor\",\"expires_at\":\"%s\"}", when);
    json_t *t3 = create(c->s, "token", b2);
    assert_int_equal(cat_access_token(c->s, json_string_value(json_object_get(t3, "secret")), &p),
                     0);
    assert_int_equal(p.cred, CAT_CRED_EDITOR);
    assert_string_equal(p.name, "token:new");
    assert_int_equal(p.user_id, 0);
    json_decref(u);
    json_decref(t1);
    json_decref(t2);
    json_decref(t3);
}

static void test_sessions(void **state)
{
    ctx *c = *state;
    char pw[64], sid[CAT_SESSION_LEN + 1];
    cat_principal p, q;
    int retry;
    assert_int_equal(cat_access_first_admin(c->s, pw, sizeof pw), 1);
    assert_true(strlen(pw) >= 20);
    char again[64];
    assert_int_equal(cat_access_first_admin(c->s, again, sizeof again), 0);
    assert_int_equal(cat_access_login(c->s, "admin", "wrong-password", "10.0.0.1", sid, &p, &retry),
                     -EACCES);
    assert_int_equal(cat_access_login(c->s, "nobody", pw, "10.0.0.1", sid, &p, &retry), -EACCES);
    assert_int_equal(cat_access_login(c->s, "admin", pw, "10.0.0.1", sid, &p, &retry), 0);
    assert_int_equal(strlen(sid), CAT_SESSION_LEN);
    assert_int_equal(p.cred, CAT_CRED_ADMIN);
    assert_true(strlen(p.csrf) >= 24);
    assert_int_equal(cat_access_session(c->s, sid, &q), 0);
    assert_int_equal(q.user_id, p.user_id);
    assert_string_equal(q.csrf, p.csrf);
    assert_string_equal(q.name, "admin");
    assert_int_equal(cat_access_session(c->s, "short", &q), -ENOENT);
    char other[CAT_SESSION_LEN + 1];
    memset(other, 'A', CAT_SESSION_LEN);
    other[CAT_SESSION_LEN] = '\0';
    assert_int_equal(cat_access_session(c->s, other, &q), -ENOENT);
    /* Logout ends it. */
    assert_int_equal(cat_access_logout(c->s, sid), 0);
    assert_int_equal(cat_access_session(c->s, sid, &q), -ENOENT);
    /* Expired sessions are refused. */
    assert_int_equal(cat_access_login(c->s, "admin", pw, "10.0.0.1", sid, &p, &retry), 0);
    cat_result r = {0};
    pthread_mutex_lock(&c->s->mu);
    assert_int_equal(cat__exec(c->s, &r, "i", "UPDATE session SET expires = ?", (int64_t)1), 0);
    pthread_mutex_unlock(&c->s->mu);
    assert_int_equal(cat_access_session(c->s, sid, &q), -ENOENT);
    /* A password change ends the user's sessions and the new one works. */
    assert_int_equal(cat_access_login(c->s, "admin", pw, "10.0.0.1", sid, &p, &retry), 0);
    assert_int_equal(cat_access_change_password(c->s, p.user_id, "not-it", "new-password-1", &r),
                     -EACCES);
    cat_result_clear(&r);
    assert_int_equal(cat_access_change_password(c->s, p.user_id, pw, "short", &r), -EINVAL);
    cat_result_clear(&r);
    assert_int_equal(cat_access_change_password(c->s, p.user_id, pw, "new-password-1", &r), 0);
    assert_int_equal(cat_access_session(c->s, sid, &q), -ENOENT);
    assert_int_equal(cat_access_login(c->s, "admin", pw, "10.0.0.1", sid, &p, &retry), -EACCES);
    assert_int_equal(cat_access_login(c->s, "admin", "new-password-1", "10.0.0.1", sid, &p, &retry),
                     0);
    /* Reset by name (the CLI), generated and given. */
    char gen[64];
    assert_int_equal(cat_access_set_password(c->s, "admin", NULL, gen, sizeof gen, "cli", &r), 0);
    assert_int_equal(cat_access_login(c->s, "admin", gen, "10.0.0.1", sid, &p, &retry), 0);
    assert_int_equal(cat_access_set_password(c->s, "ghost", NULL, gen, sizeof gen, "cli", &r),
                     -ENOENT);
    assert_non_null(strstr(r.msg, "ghost"));
    cat_result_clear(&r);
    assert_int_equal(cat_access_set_password(c->s, "admin", "tiny", gen, sizeof gen, "cli", &r),
                     -EINVAL);
    assert_non_null(strstr(r.msg, "password"));
    cat_result_clear(&r);
    /* Disabled users cannot log in. */
    json_t *u = create(c->s, "user", "{\"name\":\"eve\",\"password\":\"0123456789\",\"disabled\":true}");
    assert_int_equal(cat_access_login(c->s, "eve", "0123456789", "10.0.0.9", sid, &p, &retry),
                     -EACCES);
    json_decref(u);
}

static void test_throttle(void **state)
{
    ctx *c = *state;
    char sid[CAT_SESSION_LEN + 1];
    cat_principal p;
    int retry = 0;
    json_t *u = create(c->s, "user", "{\"name\":\"joe\",\"password\":\"0123456789\"}");
    for (int i = 0; i < 5; i++)
        assert_int_equal(cat_access_login(c->s, "joe", "guess", "10.1.1.1", sid, &p, &retry),
                         -EACCES);
    /* The sixth try is refused even with the right password, from any address. */
    assert_int_equal(cat_access_login(c->s, "joe", "0123456789", "10.1.1.2", sid, &p, &retry),
                     -EAGAIN);
    assert_int_equal(retry, 1);
    /* Another user from the same address: the address is throttled too. */
    json_t *u2 = create(c->s, "user", "{\"name\":\"amy\",\"password\":\"0123456789\"}");
    assert_int_equal(cat_access_login(c->s, "amy", "0123456789", "10.1.1.1", sid, &p, &retry),
                     -EAGAIN);
    /* From elsewhere amy is fine. */
    assert_int_equal(cat_access_login(c->s, "amy", "0123456789", "10.9.9.9", sid, &p, &retry), 0);
    usleep(1100 * 1000);
    /* After the wait a further failure doubles the wait. */
    assert_int_equal(cat_access_login(c->s, "joe", "guess", "10.1.1.3", sid, &p, &retry), -EACCES);
    assert_int_equal(cat_access_login(c->s, "joe", "0123456789", "10.1.1.3", sid, &p, &retry),
                     -EAGAIN);
    assert_int_equal(retry, 2);
    usleep(2100 * 1000);
    assert_int_equal(cat_access_login(c->s, "joe", "0123456789", "10.1.1.3", sid, &p, &retry), 0);
    json_decref(u);
    json_decref(u2);
}

static int enroll(cat_store *s, const char *body, cat_enrollment *e, cat_result *r)
{
    json_error_t je;
    json_t *in = json_loads(body, 0, &je);
    int rc = cat_enroll(s, in, "test", e, r);
    json_decref(in);
    return rc;
}

static void test_enroll(void **state)
{
    ctx *c = *state;
    cat_enrollment e1, e2, e3;
    cat_result r = {0};
    cat_principal p;
    assert_int_equal(enroll(c->s, "{\"hostname\":\"web-1\",\"machine_id\":\"abcd\",\"version\":\"0.1.0\"}",
                            &e1, &r),
                     0);
    assert_int_equal(cat_access_token(c->s, e1.token, &p), 0);
    assert_int_equal(p.cred, CAT_CRED_AGENT);
    assert_int_equal(p.agent_id, e1.agent);
    assert_string_equal(p.name, "agent:web-1");
    /* The same machine again: same agent and device, the old token revoked. */
    assert_int_equal(enroll(c->s, "{\"hostname\":\"web-1\",\"machine_id\":\"abcd\",\"version\":\"0.2.0\"}",
                            &e2, &r),
                     0);
    assert_int_equal(e2.agent, e1.agent);
    assert_int_equal(e2.device, e1.device);
    assert_int_equal(cat_access_token(c->s, e1.token, &p), -ENOENT);
    assert_int_equal(cat_access_token(c->s, e2.token, &p), 0);
    json_t *a = NULL;
    assert_int_equal(cat_get(c->s, cat_model_find("agent"), &ADMIN, e1.agent, &a, &r), 0);
    assert_string_equal(json_string_value(json_object_get(a, "agent_version")), "0.2.0");
    json_decref(a);
    /* A device created by hand is found by host name; a different machine with the same host
     * name is a second agent. */
    json_t *d = create(c->s, "device", "{\"name\":\"db server\",\"hostname\":\"db-1\"}");
    assert_int_equal(enroll(c->s, "{\"hostname\":\"db-1\",\"machine_id\":\"ffff\"}", &e3, &r), 0);
    assert_int_equal(e3.device, id_of(d));
    cat_enrollment e4;
    assert_int_equal(enroll(c->s, "{\"hostname\":\"web-1\",\"machine_id\":\"eeee\"}", &e4, &r), 0);
    assert_int_not_equal(e4.agent, e1.agent);
    json_decref(d);
    /* Two agents on one machine with different --instance names: two agent records on the
     * same device, and neither revokes the other's token; each re-enrolls onto its own. */
    cat_enrollment i1, i2, i1b;
    assert_int_equal(enroll(c->s, "{\"hostname\":\"web-1\",\"machine_id\":\"abcd\",\"instance\":\"canary\"}",
                            &i1, &r),
                     0);
    assert_int_equal(enroll(c->s, "{\"hostname\":\"web-1\",\"machine_id\":\"abcd\",\"instance\":\"bench\"}",
                            &i2, &r),
                     0);
    assert_int_not_equal(i1.agent, i2.agent);
    assert_int_not_equal(i1.agent, e1.agent);
    assert_int_equal(i1.device, e1.device);
    assert_int_equal(i2.device, e1.device);
    assert_int_equal(cat_access_token(c->s, i1.token, &p), 0);
    assert_int_equal(cat_access_token(c->s, i2.token, &p), 0);
    assert_int_equal(cat_access_token(c->s, e2.token, &p), 0);
    assert_int_equal(enroll(c->s, "{\"hostname\":\"web-1\",\"machine_id\":\"abcd\",\"instance\":\"canary\"}",
                            &i1b, &r),
                     0);
    assert_int_equal(i1b.agent, i1.agent);
    assert_int_equal(cat_access_token(c->s, i2.token, &p), 0);
    /* Hostile requests. */
    static const char *bad[] = {
        "{\"hostname\":\"ok\",\"instance\":\"\"}",
        "{\"hostname\":\"ok\",\"instance\":5}",
        "{}", "{\"hostname\":\"bad host\"}", "{\"hostname\":7}", "[]",
        "{\"hostname\":\"ok\",\"machine_id\":\"../../etc\"}",
        "{\"hostname\":\"ok\",\"version\":\"1.0; rm -rf\"}",
        "{\"hostname\":\"ok\",\"machine_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *in = json_loads(bad[i], 0, &je);
        assert_int_equal(cat_enroll(c->s, in, "test", &e4, &r), -EINVAL);
        assert_non_null(r.errors);
        cat_result_clear(&r);
        json_decref(in);
    }
}

static void test_inventory(void **state)
{
    ctx *c = *state;
    cat_enrollment e;
    cat_result r = {0};
    json_error_t je;
    int stored;
    assert_int_equal(enroll(c->s, "{\"hostname\":\"vm-1\",\"machine_id\":\"1234\"}", &e, &r), 0);
    json_t *d1 = json_loads("{\"os\":{\"id\":\"debian\",\"version\":\"12\"},"
                            "\"virtualization\":{\"role\":\"guest\",\"type\":\"kvm\"},"
                            "\"disks\":[{\"name\":\"vda\",\"size_bytes\":100}]}",
                            0, &je);
    json_t *d2 = json_loads("{\"os\":{\"id\":\"debian\",\"version\":\"13\"},"
                            "\"virtualization\":{\"role\":\"guest\",\"type\":\"kvm\"},"
                            "\"disks\":[{\"name\":\"vda\",\"size_bytes\":200},"
                            "{\"name\":\"vdb\",\"size_bytes\":5}]}",
                            0, &je);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d1, &stored, &r), 0);
    assert_int_equal(stored, 1);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d1, &stored, &r), 0);
    assert_int_equal(stored, 0); /* unchanged: no new record */
    int64_t t_mid = timeutil_now_ms();
    usleep(5000);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d2, &stored, &r), 0);
    assert_int_equal(stored, 1);
    /* The device learned it is a VM. */
    json_t *dev = NULL;
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &ADMIN, e.device, &dev, &r), 0);
    assert_string_equal(json_string_value(json_object_get(dev, "kind")), "vm");
    json_decref(dev);
    json_t *out = NULL;
    assert_int_equal(cat_inventory_latest(c->s, &ADMIN, e.device, &out, &r), 0);
    assert_true(json_equal(json_object_get(out, "doc"), d2));
    json_decref(out);
    assert_int_equal(cat_inventory_history(c->s, &ADMIN, e.device, &out, &r), 0);
    assert_int_equal(json_array_size(out), 2);
    json_decref(out);
    assert_int_equal(cat_inventory_diff(c->s, &ADMIN, e.device, t_mid, timeutil_now_ms(), &out, &r),
                     0);
    char *t = json_dumps(json_object_get(out, "changes"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(t, "[{\"after\":200,\"before\":100,\"path\":\"disks[vda].size_bytes\"},"
                           "{\"after\":{\"name\":\"vdb\",\"size_bytes\":5},\"before\":null,"
                           "\"path\":\"disks[vdb]\"},"
                           "{\"after\":\"13\",\"before\":\"12\",\"path\":\"os.version\"}]");
    free(t);
    json_decref(out);
    /* Not an object; an unknown agent; a device without inventory; a viewer in another group. */
    json_t *arr = json_array();
    assert_int_equal(cat_inventory_put(c->s, e.agent, arr, &stored, &r), -EINVAL);
    cat_result_clear(&r);
    assert_int_equal(cat_inventory_put(c->s, 999, d1, &stored, &r), -ENOENT);
    cat_result_clear(&r);
    json_t *other = create(c->s, "device", "{\"name\":\"bare\"}");
    assert_int_equal(cat_inventory_latest(c->s, &ADMIN, id_of(other), &out, &r), -ENOENT);
    assert_non_null(strstr(r.msg, "no inventory"));
    cat_result_clear(&r);
    json_t *g = create(c->s, "group", "{\"name\":\"g\"}");
    char body[200];
    snprintf(body, sizeof body,
             "{\"name\":\"gv\",\"role\":\"viewer\",\"password\":\"0123456789\",\"groups\":[%lld]}",
             (long long)id_of(g));
    json_t *u = create(c->s, "user", body);
    cat_actor gv = {CAT_ROLE_VIEWER, id_of(u), "gv"};
    assert_int_equal(cat_inventory_latest(c->s, &gv, e.device, &out, &r), -ENOENT);
    cat_result_clear(&r);
    json_decref(arr);
    json_decref(other);
    json_decref(g);
    json_decref(u);
    json_decref(d1);
    json_decref(d2);
}

/* Devices with this name. */
static int64_t list(cat_store *s, const char *name)
{
    const char *keys[1] = {"name"}, *vals[1] = {name};
    cat_query q = {.keys = keys, .vals = vals, .n = 1};
    cat_result r = {0};
    json_t *rows = NULL;
    int64_t total = -1;
    assert_int_equal(cat_list(s, cat_model_find("device"), &ADMIN, &q, &rows, &total, &r), 0);
    json_decref(rows);
    return total;
}

static void test_children(void **state)
{
    ctx *c = *state;
    cat_enrollment e, ev;
    cat_result r = {0};
    json_error_t je;
    int stored;
    assert_int_equal(enroll(c->s, "{\"hostname\":\"hv-1\",\"machine_id\":\"aaaa\"}", &e, &r), 0);
    json_t *d1 = json_loads(
        "{\"os\":{\"id\":\"debian\"},"
        "\"containers\":[{\"id\":\"c1c1c1\",\"name\":\"/web\"},{\"id\":\"c2c2c2\",\"name\":\"db\"}],"
        "\"vms\":[{\"uuid\":\"0F0E0D0C-0000-4000-8000-000000000001\",\"name\":\"vm-a\"}]}",
        0, &je);
    assert_non_null(d1);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d1, &stored, &r), 0);
    json_t *rows = NULL;
    char host[24];
    snprintf(host, sizeof host, "%lld", (long long)e.device);
    const char *keys[1] = {"parent"}, *vals[1] = {host};
    cat_query q = {.keys = keys, .vals = vals, .n = 1, .sort = "name"};
    int64_t total;
    assert_int_equal(cat_list(c->s, cat_model_find("device"), &ADMIN, &q, &rows, &total, &r), 0);
    assert_int_equal(total, 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
                        "hv-1/db");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "name")),
                        "hv-1/vm-a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "kind")), "vm");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "name")),
                        "hv-1/web");
    assert_true(json_is_string(json_object_get(json_array_get(rows, 2), "last_seen")));
    int64_t web = json_integer_value(json_object_get(json_array_get(rows, 2), "id"));
    int64_t vm = json_integer_value(json_object_get(json_array_get(rows, 1), "id"));
    json_decref(rows);
    /* The host's history does not carry the children. */
    json_t *latest = NULL;
    assert_int_equal(cat_inventory_latest(c->s, &ADMIN, e.device, &latest, &r), 0);
    assert_null(json_object_get(json_object_get(latest, "doc"), "containers"));
    json_decref(latest);
    /* Reported again: no new devices. web disappears: archived once archive_after passed. */
    cat_store_set_archive_after(c->s, 0);
    json_t *d2 = json_loads("{\"os\":{\"id\":\"debian\"},"
                            "\"containers\":[{\"id\":\"c2c2c2\",\"name\":\"db\"}]}",
                            0, &je);
    usleep(2000);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d2, &stored, &r), 0);
    json_t *o = NULL;
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &ADMIN, web, &o, &r), 0);
    assert_true(json_is_true(json_object_get(o, "archived")));
    json_decref(o);
    /* The VM list was absent in this report: VMs are left alone. */
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &ADMIN, vm, &o, &r), 0);
    assert_false(json_is_true(json_object_get(o, "archived")));
    json_decref(o);
    /* Back again: unarchived, same record. */
    assert_int_equal(cat_inventory_put(c->s, e.agent, d1, &stored, &r), 0);
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &ADMIN, web, &o, &r), 0);
    assert_false(json_is_true(json_object_get(o, "archived")));
    json_decref(o);
    /* An agent inside the VM (DMI UUID in its own case) enrolls onto the same record. */
    assert_int_equal(enroll(c->s,
                            "{\"hostname\":\"vm-a\",\"machine_id\":\"bbbb\","
                            "\"dmi_uuid\":\"0f0e0d0c-0000-4000-8000-000000000001\"}",
                            &ev, &r),
                     0);
    assert_int_equal(ev.device, vm);
    /* A container first reported without a name (the engine had not answered) is named
     * after its id, then renamed when the name arrives. */
    json_t *d3 = json_loads("{\"containers\":[{\"id\":\"c3c3c3\"}]}", 0, &je);
    json_t *d4 = json_loads("{\"containers\":[{\"id\":\"c3c3c3\",\"name\":\"/cache\"}]}", 0, &je);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d3, &stored, &r), 0);
    assert_int_equal(list(c->s, "hv-1/c3c3c3"), 1);
    assert_int_equal(cat_inventory_put(c->s, e.agent, d4, &stored, &r), 0);
    assert_int_equal(list(c->s, "hv-1/c3c3c3"), 0);
    assert_int_equal(list(c->s, "hv-1/cache"), 1);
    json_decref(d3);
    json_decref(d4);
    /* Hostile child lists. */
    static const char *bad[] = {
        "{\"containers\":{}}",
        "{\"containers\":[{\"id\":\"../x\"}]}",
        "{\"containers\":[{\"name\":\"no id\"}]}",
        "{\"vms\":[{\"uuid\":7}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *in = json_loads(bad[i], 0, &je);
        assert_int_equal(cat_inventory_put(c->s, e.agent, in, &stored, &r), -EINVAL);
        assert_non_null(r.errors);
        cat_result_clear(&r);
        json_decref(in);
    }
    json_decref(d1);
    json_decref(d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
