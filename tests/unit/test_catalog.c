/* test_catalog: the model table's consistency (references, defaults, variants, reserved
 * names), every validation rule on good and bad values (data-driven), object validation
 * (defaults, unknown fields, settings per type, cross-field checks, updates), the SQLite store
 * (CRUD of every model, unique fields, references with restrict/cascade/set_null, optimistic
 * concurrency, list filters/sort/paging/search, group visibility, audit log, migrations and a
 * file from a newer version), and the inventory JSON diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "catalog/catalog_int.h"
#include "catalog/inventory.h"
#include "catalog/model.h"
#include "catalog/store.h"
#include "catalog/valid.h"
#include "lib/jsonw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cat_actor ADMIN = {CAT_ROLE_ADMIN, 0, "test"};

/* ---------------------------------------------------------------- the model table */

static void test_model_table(void **state)
{
    (void)state;
    size_t n;
    const cat_model *ms = cat_models(&n);
    assert_true(n >= 14);
    for (size_t i = 0; i < n; i++) {
        const cat_model *m = &ms[i];
        assert_ptr_equal(cat_model_find(m->name), m);
        assert_non_null(cat_field_find(m, m->display));
        assert_true(m->read >= CAT_ROLE_VIEWER && m->write >= m->read);
        assert_true(m->since >= 1 && m->since <= cat_schema_version());
        if (m->scope) {
            const cat_field *sf = cat_field_find(m, m->scope);
            assert_non_null(sf);
            assert_true(sf->type == CAT_REF || sf->type == CAT_REFS);
        }
        for (size_t j = 0; j < m->nfields; j++) {
            const cat_field *f = &m->fields[j];
            /* System columns are reserved. */
            assert_true(strcmp(f->name, "id") && strcmp(f->name, "version") &&
                        strcmp(f->name, "created_at") && strcmp(f->name, "updated_at"));
            for (size_t k = 0; k < j; k++)
                assert_string_not_equal(m->fields[k].name, f->name);
            if (f->type == CAT_REF || f->type == CAT_REFS) {
                /* References point to earlier models (or the model itself). */
                const cat_model *t = cat_model_find(f->ref);
                assert_non_null(t);
                assert_true(t <= m);
            }
            if (f->type == CAT_ENUM)
                assert_non_null(f->values);
            if (f->dflt) {
                json_error_t je;
                json_t *lit = json_loads(f->dflt, JSON_DECODE_ANY, &je), *out = NULL;
                char msg[200];
                assert_non_null(lit);
                if (cat_valid_value(f, lit, &out, msg, sizeof msg))
                    fail_msg("%s.%s: default %s is invalid: %s", m->name, f->name, f->dflt, msg);
                json_decref(lit);
                json_decref(out);
            }
            if (f->variants) {
                const cat_field *by = cat_field_find(m, f->variants->by);
                assert_non_null(by);
                assert_int_equal(by->type, CAT_ENUM);
                for (const char *const *v = by->values; *v; v++)
                    assert_non_null(cat_variant_find(f, *v)); /* every type has its settings */
                for (size_t c = 0; c < f->variants->ncases; c++)
                    for (size_t k = 0; k < f->variants->cases[c].nfields; k++) {
                        const cat_field *sf = &f->variants->cases[c].fields[k];
                        if (!sf->dflt)
                            continue;
                        json_error_t je;
                        json_t *lit = json_loads(sf->dflt, JSON_DECODE_ANY, &je), *out = NULL;
                        char msg[200];
                        if (!lit || cat_valid_value(sf, lit, &out, msg, sizeof msg))
                            fail_msg("%s settings %s.%s: bad default", m->name,
                                     f->variants->cases[c].value, sf->name);
                        json_decref(lit);
                        json_decref(out);
                    }
            }
        }
    }
    assert_null(cat_model_find("nope"));
    cat_role r;
    assert_int_equal(cat_role_parse("editor", &r), 0);
    assert_int_equal(r, CAT_ROLE_EDITOR);
    assert_int_equal(cat_role_parse("root", &r), -EINVAL);
}

static void test_schema_json(void **state)
{
    (void)state;
    buf b;
    jsonw w;
    buf_init(&b, 0);
    jsonw_init(&w, &b);
    cat_schema_json(&w);
    assert_int_equal(b.err, 0);
    json_error_t je;
    json_t *s = json_loadb(b.data, b.len, 0, &je);
    assert_non_null(s);
    json_t *models = json_object_get(s, "models");
    size_t n;
    cat_models(&n);
    assert_int_equal(json_array_size(models), n);
    /* No hidden field leaks into the schema (token.hash). */
    assert_null(strstr(b.data, "\"hash\""));
    assert_non_null(strstr(b.data, "\"variants\""));
    json_decref(s);
    buf_free(&b);
}

/* ---------------------------------------------------------------- rules */

static const struct {
    cat_rule rule;
    const char *pattern;
    const char *value;
    int ok;
} rule_cases[] = {
    {CAT_RULE_HOSTNAME, NULL, "web-1.example.com", 1},
    {CAT_RULE_HOSTNAME, NULL, "localhost", 1},
    {CAT_RULE_HOSTNAME, NULL, "bad_host", 0},
    {CAT_RULE_HOSTNAME, NULL, "-lead.example", 0},
    {CAT_RULE_HOSTNAME, NULL, "trail-.example", 0},
    {CAT_RULE_HOSTNAME, NULL, "a..b", 0},
    {CAT_RULE_HOSTNAME, NULL, "", 0},
    {CAT_RULE_HOSTNAME, NULL, "999.999.999.999", 0},
    {CAT_RULE_HOSTNAME, NULL, "1.2.3", 0},
    {CAT_RULE_HOSTNAME, NULL, "3com.example", 1},
    {CAT_RULE_HOSTNAME, NULL, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x", 0},
    {CAT_RULE_ADDRESS, NULL, "10.0.0.5", 1},
    {CAT_RULE_ADDRESS, NULL, "fe80::1", 1},
    {CAT_RULE_ADDRESS, NULL, "db.internal", 1},
    {CAT_RULE_ADDRESS, NULL, "10.0.0.5:80", 0},
    {CAT_RULE_ADDRESS, NULL, "10.0.0.256", 0},
    {CAT_RULE_ADDRESS, NULL, "a b", 0},
    {CAT_RULE_CIDR, NULL, "10.0.0.0/24", 1},
    {CAT_RULE_CIDR, NULL, "2001:db8::/32", 1},
    {CAT_RULE_CIDR, NULL, "10.0.0.0/33", 0},
    {CAT_RULE_CIDR, NULL, "10.0.0.0", 0},
    {CAT_RULE_CIDR, NULL, "10.0.0.0/-1", 0},
    {CAT_RULE_CIDR, NULL, "x/8", 0},
    {CAT_RULE_URL, NULL, "https://web-1.example.com/health?x=1", 1},
    {CAT_RULE_URL, NULL, "http://10.0.0.5:8080/", 1},
    {CAT_RULE_URL, NULL, "http://[::1]:9100/metrics", 1},
    {CAT_RULE_URL, NULL, "not a url", 0},
    {CAT_RULE_URL, NULL, "ftp://host/", 0},
    {CAT_RULE_URL, NULL, "http://", 0},
    {CAT_RULE_URL, NULL, "http://a b/", 0},
    {CAT_RULE_URL, NULL, "javascript:alert(1)", 0},
    {CAT_RULE_EMAIL, NULL, "joe@example.com", 1},
    {CAT_RULE_EMAIL, NULL, "a.b+c@mail.example.org", 1},
    {CAT_RULE_EMAIL, NULL, "joe@localhost", 0},
    {CAT_RULE_EMAIL, NULL, "@example.com", 0},
    {CAT_RULE_EMAIL, NULL, "joe example@x.com", 0},
    {CAT_RULE_IDENT, NULL, "joe.smith@corp", 1},
    {CAT_RULE_IDENT, NULL, "_joe", 0},
    {CAT_RULE_IDENT, NULL, "jo e", 0},
    {CAT_RULE_REGEX, "/[^\\s]+", "/usr/lib/nagios/plugins/check_disk", 1},
    {CAT_RULE_REGEX, "/[^\\s]+", "check_disk", 0},
    {CAT_RULE_REGEX, "/[^\\s]+", "/bin/x y", 0},
    {CAT_RULE_IS_REGEX, NULL, "^OK.*$", 1},
    {CAT_RULE_IS_REGEX, NULL, "(unclosed", 0},
    {CAT_RULE_HOSTPORT, NULL, "0.0.0.0:514", 1},
    {CAT_RULE_HOSTPORT, NULL, "[::]:162", 1},
    {CAT_RULE_HOSTPORT, NULL, ":514", 1},
    {CAT_RULE_HOSTPORT, NULL, "syslog.example:6514", 1},
    {CAT_RULE_HOSTPORT, NULL, "0.0.0.0:70000", 0},
    {CAT_RULE_HOSTPORT, NULL, "0.0.0.0", 0},
    {CAT_RULE_HOSTPORT, NULL, "::1:514", 0},
};

static void test_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        char msg[256] = "";
        int rc = cat_valid_rule(rule_cases[i].rule, rule_cases[i].pattern, rule_cases[i].value,
                                msg, sizeof msg);
        if ((rc == 0) != rule_cases[i].ok)
            fail_msg("rule %d on \"%s\": got %d (%s)", rule_cases[i].rule, rule_cases[i].value,
                     rc, msg);
        if (rc)
            assert_true(strlen(msg) > 5); /* a refusal says why */
    }
}

/* ---------------------------------------------------------------- objects */

/* Validates body (JSON text) for model as a create; returns the errors as compact JSON ("{}"
 * when valid) in a static buffer. */
static const char *check(const char *model, const char *body)
{
    static char out[2048];
    json_error_t je;
    json_t *in = json_loads(body, 0, &je), *obj = NULL, *errors = json_object();
    assert_non_null(in);
    int rc = cat_valid_object(cat_model_find(model), in, NULL, &obj, errors);
    char *t = json_dumps(errors, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, sizeof out, "%s", t);
    free(t);
    assert_int_equal(rc == 0, json_object_size(errors) == 0);
    json_decref(in);
    json_decref(obj);
    json_decref(errors);
    return out;
}

static const struct {
    const char *model, *body, *errors;
} object_cases[] = {
    {"device", "{\"name\":\"web-1\"}", "{}"},
    {"device", "{}", "{\"name\":\"required\"}"},
    {"device", "{\"name\":\"\"}", "{\"name\":\"required\"}"},
    {"device", "{\"name\":\"a\\nb\"}", "{\"name\":\"must be one line without control characters\"}"},
    {"device", "{\"name\":\"x\",\"kind\":\"toaster\"}",
     "{\"kind\":\"must be one of: server, vm, container, container-host, cloud-instance, switch, "
     "router, firewall, access-point, storage, printer, ups, sensor, other\"}"},
    {"device", "{\"name\":\"x\",\"bogus\":1}", "{\"bogus\":\"unknown field\"}"},
    {"device", "{\"name\":\"x\",\"id\":5,\"version\":3,\"created_at\":\"x\"}", "{}"},
    {"device", "{\"name\":\"x\",\"tags\":\"prod\"}", "{\"tags\":\"must be an array of strings\"}"},
    {"device", "{\"name\":\"x\",\"tags\":[\"\"]}",
     "{\"tags\":\"entry 1: must be a string of 1 to 100 characters\"}"},
    {"device", "{\"name\":\"x\",\"groups\":[1,\"2\"]}", "{\"groups\":\"entry 2 is not an id\"}"},
    {"device", "{\"name\":\"x\",\"parent\":0}", "{\"parent\":\"must be the id of a device\"}"},
    {"device", "{\"name\":\"x\",\"archived\":\"yes\"}", "{\"archived\":\"must be true or false\"}"},
    {"device", "{\"name\":\"x\",\"hostname\":\"\"}", "{}"},
    {"endpoint", "{\"device\":1,\"address\":\"10.0.0.1\",\"port\":0}",
     "{\"port\":\"must be at least 1\"}"},
    {"endpoint", "{\"device\":1,\"address\":\"10.0.0.1\",\"port\":65536}",
     "{\"port\":\"must be at most 65535\"}"},
    {"endpoint", "{\"device\":1,\"address\":\"10.0.0.1\",\"port\":80.5}",
     "{\"port\":\"must be an integer\"}"},
    {"endpoint", "{\"address\":\"no way\"}",
     "{\"address\":\"not an IP address or host name\",\"device\":\"required\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"http\",\"settings\":{\"url\":\"not a url\"}}",
     "{\"settings.url\":\"not a valid http(s) URL\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"http\"}", "{\"settings.url\":\"required\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"icmp\",\"settings\":{\"count\":0,\"x\":1}}",
     "{\"settings.count\":\"must be at least 1\",\"settings.x\":\"unknown setting for type icmp\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"icmp\",\"settings\":[]}",
     "{\"settings\":\"must be an object\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"nagios\",\"settings\":{\"command\":\"check\"}}",
     "{\"settings.command\":\"must match /[^\\\\s]+\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"snmp\",\"settings\":{\"oids\":[\"1.3.6\",\"x\"]}}",
     "{\"settings.oids\":\"entry 2: must match \\\\.?[0-9]+(\\\\.[0-9]+)*\"}"},
    {"probe", "{\"name\":\"p\",\"endpoint\":1,\"type\":\"dns\",\"settings\":{\"query_name\":\"example.com\",\"expect\":\"(\"}}",
     "{\"settings.expect\":\"invalid regular expression at position 1: missing closing parenthesis\"}"},
    {"telemetry", "{\"probe\":1,\"interval\":\"30s\",\"timeout\":\"1m\"}",
     "{\"timeout\":\"must not exceed the interval\"}"},
    {"telemetry", "{\"probe\":1,\"interval\":\"500ms\"}", "{\"interval\":\"must be at least 1s\"}"},
    {"telemetry", "{\"probe\":1,\"interval\":\"2d\"}", "{\"interval\":\"must be at most 1d\"}"},
    {"telemetry", "{\"probe\":1,\"interval\":\"soon\"}",
     "{\"interval\":\"must be a duration such as 30s, 5m or 1h30m\"}"},
    {"telemetry", "{\"probe\":1,\"interval\":\"10s\",\"timeout\":\"5s\",\"jitter\":\"10s\"}",
     "{\"jitter\":\"must be less than the interval\"}"},
    {"silence", "{\"matchers\":\"{a=\\\"b\\\"}\",\"starts_at\":\"2026-01-02T00:00:00Z\",\"ends_at\":\"2026-01-01T00:00:00Z\"}",
     "{\"ends_at\":\"must be after the start\"}"},
    {"silence", "{\"matchers\":\"x\",\"starts_at\":\"yesterday\",\"ends_at\":\"2026-01-01T00:00:00Z\"}",
     "{\"starts_at\":\"must be an RFC 3339 time, e.g. 2026-11-24T08:00:00Z\"}"},
    {"user", "{\"name\":\"joe\",\"password\":\"short\"}", "{\"password\":\"at least 10 characters\"}"},
    {"user", "{\"name\":\"joe\"}", "{\"password\":\"required\"}"},
    {"user", "{\"name\":\"joe\",\"password\":\"0123456789\",\"email\":\"nope\"}",
     "{\"email\":\"not a valid e-mail address\"}"},
    {"collector", "{\"name\":\"c\",\"type\":\"email\",\"settings\":{\"to\":[\"a@b.example\",\"bad\"],\"from\":\"x@y.example\",\"smtp_url\":\"smtp://mail:25\"}}",
     "{\"settings.to\":\"entry 2: not a valid e-mail address\"}"},
    {"token", "{\"name\":\"t\",\"role\":\"agent\",\"hash\":\"x\"}", "{\"hash\":\"unknown field\"}"},
    {"rule", "{\"name\":\"r\",\"expr\":\"up == 0\",\"labels\":{\"team\":\"ops\"}}", "{}"},
    /* A required setting with a default takes the default. */
    {"sensor", "{\"name\":\"s\",\"type\":\"syslog\"}", "{}"},
    {"sensor", "{\"name\":\"s\",\"type\":\"webhook\",\"settings\":{}}", "{\"settings.path\":\"required\"}"},
};

static void test_objects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof object_cases / sizeof object_cases[0]; i++) {
        const char *got = check(object_cases[i].model, object_cases[i].body);
        if (strcmp(got, object_cases[i].errors))
            fail_msg("%s %s:\n  want %s\n  got  %s", object_cases[i].model, object_cases[i].body,
                     object_cases[i].errors, got);
    }
}

static void test_defaults_and_update(void **state)
{
    (void)state;
    const cat_model *m = cat_model_find("probe");
    json_error_t je;
    json_t *in = json_loads("{\"name\":\"p\",\"endpoint\":3,\"type\":\"http\","
                            "\"settings\":{\"url\":\"http://a/\"}}",
                            0, &je);
    json_t *obj = NULL, *errors = json_object();
    assert_int_equal(cat_valid_object(m, in, NULL, &obj, errors), 0);
    /* Defaults: enabled, and the http settings' own defaults. */
    assert_true(json_is_true(json_object_get(obj, "enabled")));
    json_t *st = json_object_get(obj, "settings");
    assert_string_equal(json_string_value(json_object_get(st, "method")), "GET");
    assert_int_equal(json_integer_value(json_object_get(st, "expect_status")), 200);
    /* An update of another field keeps the settings; a new type needs new settings. */
    json_t *up = json_loads("{\"name\":\"q\"}", 0, &je), *obj2 = NULL;
    assert_int_equal(cat_valid_object(m, up, obj, &obj2, errors), 0);
    assert_string_equal(json_string_value(json_object_get(obj2, "name")), "q");
    assert_true(json_equal(json_object_get(obj2, "settings"), st));
    json_decref(up);
    json_decref(obj2);
    up = json_loads("{\"type\":\"dns\"}", 0, &je);
    obj2 = NULL;
    assert_int_equal(cat_valid_object(m, up, obj, &obj2, errors), -EINVAL);
    assert_string_equal(json_string_value(json_object_get(errors, "settings.query_name")),
                        "required");
    json_decref(up);
    json_decref(in);
    json_decref(obj);
    json_decref(errors);

    /* Durations and times: stored as ms, written back in API form. */
    const cat_field *f = cat_field_find(cat_model_find("telemetry"), "interval");
    json_t *v = json_string("1h30m"), *sv = NULL;
    char msg[128];
    assert_int_equal(cat_valid_value(f, v, &sv, msg, sizeof msg), 0);
    assert_int_equal(json_integer_value(sv), 5400000);
    json_t *o = cat_valid_output(f, sv);
    assert_string_equal(json_string_value(o), "1h30m");
    json_decref(v);
    json_decref(sv);
    json_decref(o);
    f = cat_field_find(cat_model_find("token"), "expires_at");
    v = json_string("2026-11-24T08:00:00.5+01:00");
    assert_int_equal(cat_valid_value(f, v, &sv, msg, sizeof msg), 0);
    o = cat_valid_output(f, sv);
    assert_string_equal(json_string_value(o), "2026-11-24T07:00:00.500Z");
    json_decref(v);
    json_decref(sv);
    json_decref(o);
    /* The body must be an object. */
    errors = json_object();
    v = json_array();
    assert_int_equal(cat_valid_object(m, v, NULL, &obj, errors), -EINVAL);
    assert_non_null(json_object_get(errors, "_"));
    json_decref(v);
    json_decref(errors);
}

/* ---------------------------------------------------------------- the store */

typedef struct ctx {
    char dir[64], path[96];
    cat_store *s;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    char err[256];
    snprintf(c->dir, sizeof c->dir, "/tmp/dd-cat-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->path, sizeof c->path, "%s/catalog.db", c->dir);
    assert_int_equal(cat_store_open(&c->s, c->path, err, sizeof err), 0);
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

/* Creates an object from JSON text; returns its id (fails the test on error). */
static int64_t create(cat_store *s, const cat_actor *a, const char *model, const char *body)
{
    json_error_t je;
    json_t *in = json_loads(body, 0, &je), *obj = NULL;
    cat_result r = {0};
    assert_non_null(in);
    int rc = cat_create(s, cat_model_find(model), a, in, &obj, &r);
    if (rc) {
        char *e = r.errors ? json_dumps(r.errors, 0) : NULL;
        fail_msg("create %s %s: %d %s %s", model, body, rc, r.msg, e ? e : "");
    }
    int64_t id = json_integer_value(json_object_get(obj, "id"));
    json_decref(in);
    json_decref(obj);
    cat_result_clear(&r);
    return id;
}

/* Tries a create expected to fail; returns rc and the errors as JSON text. */
static int create_fail(cat_store *s, const cat_actor *a, const char *model, const char *body,
                       char *errs, size_t cap)
{
    json_error_t je;
    json_t *in = json_loads(body, 0, &je), *obj = NULL;
    cat_result r = {0};
    int rc = cat_create(s, cat_model_find(model), a, in, &obj, &r);
    char *t = r.errors ? json_dumps(r.errors, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(errs, cap, "%s", t ? t : r.msg);
    free(t);
    json_decref(in);
    json_decref(obj);
    cat_result_clear(&r);
    return rc;
}

static int update(cat_store *s, const cat_actor *a, const char *model, int64_t id,
                  const char *body, int64_t ver, json_t **obj)
{
    json_error_t je;
    json_t *in = json_loads(body, 0, &je), *o = NULL;
    cat_result r = {0};
    int rc = cat_update(s, cat_model_find(model), a, id, in, ver, &o, &r);
    if (obj)
        *obj = o;
    else
        json_decref(o);
    json_decref(in);
    cat_result_clear(&r);
    return rc;
}

static int64_t list(cat_store *s, const cat_actor *a, const char *model, const char *k,
                    const char *v, const char *sort, const char *q, json_t **rows)
{
    const char *keys[1] = {k}, *vals[1] = {v};
    cat_query qq = {.keys = keys, .vals = vals, .n = k ? 1 : 0, .sort = sort, .q = q};
    cat_result r = {0};
    int64_t total = -1;
    json_t *out = NULL;
    int rc = cat_list(s, cat_model_find(model), a, &qq, &out, &total, &r);
    if (rc)
        fail_msg("list %s: %d %s", model, rc, r.msg);
    if (rows)
        *rows = out;
    else
        json_decref(out);
    cat_result_clear(&r);
    return total;
}

static void test_crud(void **state)
{
    ctx *c = *state;
    char errs[1024];
    int64_t d1 = create(c->s, &ADMIN, "device",
                        "{\"name\":\"web-1\",\"hostname\":\"web-1.example.com\",\"tags\":[\"prod\",\"web\"]}");
    int64_t d2 = create(c->s, &ADMIN, "device", "{\"name\":\"db-1\",\"kind\":\"vm\",\"parent\":1}");
    assert_true(d1 > 0 && d2 > d1);
    /* Unique names. */
    assert_int_equal(create_fail(c->s, &ADMIN, "device", "{\"name\":\"web-1\"}", errs, sizeof errs),
                     -EINVAL);
    assert_string_equal(errs, "{\"name\":\"already used by device 1\"}");
    /* References must exist. */
    assert_int_equal(create_fail(c->s, &ADMIN, "endpoint",
                                 "{\"device\":99,\"address\":\"10.0.0.1\"}", errs, sizeof errs),
                     -EINVAL);
    assert_string_equal(errs, "{\"device\":\"device 99 does not exist\"}");
    int64_t e1 = create(c->s, &ADMIN, "endpoint",
                        "{\"device\":1,\"address\":\"10.0.0.1\",\"port\":443,\"protocol\":\"https\"}");
    int64_t p1 = create(c->s, &ADMIN, "probe",
                        "{\"name\":\"web\",\"endpoint\":1,\"type\":\"http\",\"settings\":{\"url\":\"https://web-1.example.com/\"}}");
    int64_t a1 = create(c->s, &ADMIN, "agent", "{\"name\":\"agent-1\"}");
    int64_t t1 = create(c->s, &ADMIN, "telemetry",
                        "{\"probe\":1,\"agents\":[1],\"interval\":\"1m\"}");
    (void)e1;
    (void)a1;

    /* Get, with API forms. */
    json_t *o = NULL;
    cat_result r = {0};
    assert_int_equal(cat_get(c->s, cat_model_find("telemetry"), &ADMIN, t1, &o, &r), 0);
    assert_string_equal(json_string_value(json_object_get(o, "interval")), "1m");
    assert_string_equal(json_string_value(json_object_get(o, "timeout")), "10s");
    assert_int_equal(json_array_size(json_object_get(o, "agents")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
    json_decref(o);
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &ADMIN, 42, &o, &r), -ENOENT);
    assert_string_equal(r.msg, "device 42 does not exist");
    cat_result_clear(&r);

    /* Optimistic concurrency. */
    assert_int_equal(update(c->s, &ADMIN, "device", d1, "{\"location\":\"rack 1\"}", 1, &o), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 2);
    json_decref(o);
    assert_int_equal(update(c->s, &ADMIN, "device", d1, "{\"location\":\"rack 2\"}", 1, NULL),
                     -ESTALE);
    assert_int_equal(update(c->s, &ADMIN, "device", d1, "{\"location\":\"rack 2\",\"version\":1}", 0,
                            NULL),
                     -ESTALE);
    assert_int_equal(update(c->s, &ADMIN, "device", d1, "{\"location\":\"rack 2\"}", 0, NULL), 0);
    assert_int_equal(update(c->s, &ADMIN, "device", d1, "{\"name\":\"db-1\"}", 0, NULL), -EINVAL);
    assert_int_equal(update(c->s, &ADMIN, "device", 77, "{\"name\":\"z\"}", 0, NULL), -ENOENT);
    /* Links replaced on update. */
    assert_int_equal(update(c->s, &ADMIN, "telemetry", t1, "{\"agents\":[]}", 0, &o), 0);
    assert_int_equal(json_array_size(json_object_get(o, "agents")), 0);
    json_decref(o);

    /* Restrict: the device has an endpoint; the endpoint has a probe. */
    assert_int_equal(cat_delete(c->s, cat_model_find("device"), &ADMIN, d1, &r), -EBUSY);
    assert_non_null(strstr(r.msg, "still referenced by 1 endpoint"));
    cat_result_clear(&r);
    assert_int_equal(cat_delete(c->s, cat_model_find("endpoint"), &ADMIN, e1, &r), -EBUSY);
    cat_result_clear(&r);
    /* Cascade: deleting the probe deletes its schedule. */
    assert_int_equal(cat_delete(c->s, cat_model_find("probe"), &ADMIN, p1, &r), 0);
    assert_int_equal(cat_get(c->s, cat_model_find("telemetry"), &ADMIN, t1, &o, &r), -ENOENT);
    cat_result_clear(&r);
    assert_int_equal(cat_delete(c->s, cat_model_find("endpoint"), &ADMIN, e1, &r), 0);
    /* Set null: db-1's parent goes when web-1 goes, as a new version in the audit log. */
    assert_int_equal(cat_delete(c->s, cat_model_find("device"), &ADMIN, d1, &r), 0);
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &ADMIN, d2, &o, &r), 0);
    assert_true(json_is_null(json_object_get(o, "parent")));
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 2);
    json_decref(o);
    json_t *au = NULL;
    int64_t nau = 0;
    assert_int_equal(cat_audit_list(c->s, "device", d2, NULL, 0, 0, &au, &nau, &r), 0);
    assert_int_equal(nau, 2);
    json_t *pch = json_object_get(json_object_get(json_array_get(au, 0), "changes"), "parent");
    assert_int_equal(json_integer_value(json_array_get(pch, 0)), d1);
    assert_true(json_is_null(json_array_get(pch, 1)));
    json_decref(au);
    /* The cascade-deleted schedule has its own delete entry. */
    assert_int_equal(cat_audit_list(c->s, "telemetry", t1, NULL, 0, 0, &au, &nau, &r), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(au, 0), "action")),
                        "delete");
    json_decref(au);
    /* Ids are never reused. */
    int64_t d3 = create(c->s, &ADMIN, "device", "{\"name\":\"web-1\"}");
    assert_true(d3 > d2);
    assert_int_equal(cat_delete(c->s, cat_model_find("device"), &ADMIN, d1, &r), -ENOENT);
    cat_result_clear(&r);

    /* Audit: create, updates and delete of web-1 with before/after. */
    json_t *rows = NULL;
    int64_t total = 0;
    assert_int_equal(cat_audit_list(c->s, "device", d1, NULL, 0, 0, &rows, &total, &r), 0);
    assert_int_equal(total, 4);
    json_t *del = json_array_get(rows, 0), *upd = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(del, "action")), "delete");
    assert_string_equal(json_string_value(json_object_get(del, "actor")), "test");
    json_t *loc = json_object_get(json_object_get(upd, "changes"), "location");
    assert_string_equal(json_string_value(json_array_get(loc, 0)), "rack 1");
    assert_string_equal(json_string_value(json_array_get(loc, 1)), "rack 2");
    json_decref(rows);
}

static void test_roles_and_secrets(void **state)
{
    ctx *c = *state;
    cat_actor viewer = {CAT_ROLE_VIEWER, 0, "v"}, editor = {CAT_ROLE_EDITOR, 0, "e"};
    char errs[512];
    cat_result r = {0};
    json_t *o = NULL;
    assert_int_equal(create_fail(c->s, &viewer, "device", "{\"name\":\"x\"}", errs, sizeof errs),
                     -EACCES);
    assert_non_null(strstr(errs, "may not create device"));
    create(c->s, &editor, "device", "{\"name\":\"x\"}");
    assert_int_equal(create_fail(c->s, &editor, "user",
                                 "{\"name\":\"joe\",\"password\":\"0123456789\"}", errs,
                                 sizeof errs),
                     -EACCES);
    const cat_model *um = cat_model_find("user");
    assert_int_equal(cat_get(c->s, um, &editor, 1, &o, &r), -EACCES);
    cat_result_clear(&r);
    /* Passwords never come out; the audit log masks them. */
    int64_t u = create(c->s, &ADMIN, "user", "{\"name\":\"joe\",\"password\":\"0123456789\"}");
    assert_int_equal(cat_get(c->s, um, &ADMIN, u, &o, &r), 0);
    assert_null(json_object_get(o, "password"));
    json_decref(o);
    json_t *rows = NULL;
    int64_t total;
    assert_int_equal(cat_audit_list(c->s, "user", u, NULL, 0, 0, &rows, &total, &r), 0);
    char *t = json_dumps(rows, 0);
    assert_null(strstr(t, "0123456789"));
    assert_non_null(strstr(t, "***"));
    free(t);
    json_decref(rows);
    /* Token secrets: shown on create only, stored as a hash with a prefix. */
    json_error_t je;
    json_t *in = json_loads("{\"name\":\"ci\",\"role\":\"viewer\"}", 0, &je);
    assert_int_equal(cat_create(c->s, cat_model_find("token"), &ADMIN, in, &o, &r), 0);
    char secret[80];
    assert_non_null(json_string_value(json_object_get(o, "secret")));
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(o, "secret")));
    assert_int_equal(strncmp(secret, "ddt_", 4), 0);
    assert_int_equal(strlen(secret), 47);
    assert_int_equal(strncmp(json_string_value(json_object_get(o, "prefix")), secret, 8), 0);
    int64_t tid = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    json_decref(in);
    assert_int_equal(cat_get(c->s, cat_model_find("token"), &ADMIN, tid, &o, &r), 0);
    assert_null(json_object_get(o, "secret"));
    assert_null(json_object_get(o, "hash"));
    json_decref(o);
    /* An update of a token keeps its hash (the hidden column). */
    assert_int_equal(update(c->s, &ADMIN, "token", tid, "{\"name\":\"ci2\"}", 0, NULL), 0);
    json_t *st = NULL;
    pthread_mutex_lock(&c->s->mu);
    assert_int_equal(cat__load(c->s, cat_model_find("token"), tid, &st, &r), 0);
    pthread_mutex_unlock(&c->s->mu);
    char hash[65];
    cat__hash_secret(secret, hash);
    assert_string_equal(json_string_value(json_object_get(st, "hash")), hash);
    json_decref(st);
    cat_result_clear(&r);
}

static void test_list(void **state)
{
    ctx *c = *state;
    char body[256];
    for (int i = 0; i < 25; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"host-%02d\",\"kind\":\"%s\",\"tags\":[\"%s\"],\"location\":\"%s\"}", i,
                 i % 5 ? "server" : "vm", i % 2 ? "odd" : "even", i < 3 ? "Rack Seven" : "hall");
        create(c->s, &ADMIN, "device", body);
    }
    json_t *rows = NULL;
    assert_int_equal(list(c->s, &ADMIN, "device", NULL, NULL, NULL, NULL, NULL), 25);
    assert_int_equal(list(c->s, &ADMIN, "device", "kind", "vm", NULL, NULL, NULL), 5);
    assert_int_equal(list(c->s, &ADMIN, "device", "tags", "odd", NULL, NULL, NULL), 12);
    assert_int_equal(list(c->s, &ADMIN, "device", "name", "host-1*", NULL, NULL, NULL), 10);
    assert_int_equal(list(c->s, &ADMIN, "device", NULL, NULL, NULL, "rack sev", NULL), 3);
    assert_int_equal(list(c->s, &ADMIN, "device", "archived", "false", NULL, NULL, NULL), 25);
    assert_int_equal(list(c->s, &ADMIN, "device", "parent", "null", NULL, NULL, NULL), 25);
    list(c->s, &ADMIN, "device", NULL, NULL, "-name", NULL, &rows);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
                        "host-24");
    json_decref(rows);
    /* Paging. */
    const char *keys[1], *vals[1];
    cat_query q = {.keys = keys, .vals = vals, .limit = 10, .offset = 20, .sort = "name"};
    cat_result r = {0};
    int64_t total;
    assert_int_equal(cat_list(c->s, cat_model_find("device"), &ADMIN, &q, &rows, &total, &r), 0);
    assert_int_equal(total, 25);
    assert_int_equal(json_array_size(rows), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
                        "host-20");
    json_decref(rows);
    /* Bad parameters. */
    static const struct {
        const char *k, *v, *sort;
        int64_t limit;
    } bad[] = {{"nope", "1", NULL, 0},     {"settings", "x", NULL, 0}, {"archived", "maybe", NULL, 0},
               {"id", "x", NULL, 0},       {NULL, NULL, "nope", 0},    {NULL, NULL, "groups", 0},
               {NULL, NULL, NULL, 5000},   {"parent", "abc", NULL, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const cat_model *m = cat_model_find(strcmp(bad[i].k ? bad[i].k : "", "settings") ? "device"
                                                                                        : "probe");
        keys[0] = bad[i].k;
        vals[0] = bad[i].v;
        cat_query bq = {.keys = keys, .vals = vals, .n = bad[i].k ? 1 : 0, .sort = bad[i].sort,
                        .limit = bad[i].limit};
        rows = NULL;
        assert_int_equal(cat_list(c->s, m, &ADMIN, &bq, &rows, &total, &r), -EINVAL);
        assert_null(r.errors);
        assert_true(strlen(r.msg) > 10);
        assert_null(rows);
        cat_result_clear(&r);
    }
}

static void test_visibility(void **state)
{
    ctx *c = *state;
    int64_t g1 = create(c->s, &ADMIN, "group", "{\"name\":\"team-a\"}");
    int64_t g2 = create(c->s, &ADMIN, "group", "{\"name\":\"team-b\"}");
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\":\"alice\",\"role\":\"editor\",\"password\":\"0123456789\",\"groups\":[%lld]}",
             (long long)g1);
    int64_t alice = create(c->s, &ADMIN, "user", body);
    int64_t bob = create(c->s, &ADMIN, "user",
                         "{\"name\":\"bob\",\"role\":\"viewer\",\"password\":\"0123456789\"}");
    snprintf(body, sizeof body, "{\"name\":\"a-dev\",\"groups\":[%lld]}", (long long)g1);
    int64_t da = create(c->s, &ADMIN, "device", body);
    snprintf(body, sizeof body, "{\"name\":\"b-dev\",\"groups\":[%lld]}", (long long)g2);
    int64_t db = create(c->s, &ADMIN, "device", body);
    create(c->s, &ADMIN, "device", "{\"name\":\"no-group\"}");
    snprintf(body, sizeof body, "{\"device\":%lld,\"address\":\"10.0.0.1\"}", (long long)da);
    int64_t ea = create(c->s, &ADMIN, "endpoint", body);
    snprintf(body, sizeof body, "{\"device\":%lld,\"address\":\"10.0.0.2\"}", (long long)db);
    int64_t eb = create(c->s, &ADMIN, "endpoint", body);
    snprintf(body, sizeof body,
             "{\"name\":\"pa\",\"endpoint\":%lld,\"type\":\"icmp\"}", (long long)ea);
    create(c->s, &ADMIN, "probe", body);
    snprintf(body, sizeof body,
             "{\"name\":\"pb\",\"endpoint\":%lld,\"type\":\"icmp\"}", (long long)eb);
    int64_t pb = create(c->s, &ADMIN, "probe", body);

    cat_actor a = {CAT_ROLE_EDITOR, alice, "alice"}, b = {CAT_ROLE_VIEWER, bob, "bob"};
    json_t *rows = NULL, *o = NULL;
    cat_result r = {0};
    assert_int_equal(list(c->s, &a, "device", NULL, NULL, NULL, NULL, &rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
                        "a-dev");
    json_decref(rows);
    assert_int_equal(list(c->s, &a, "endpoint", NULL, NULL, NULL, NULL, NULL), 1);
    assert_int_equal(list(c->s, &a, "probe", NULL, NULL, NULL, NULL, NULL), 1);
    assert_int_equal(list(c->s, &b, "device", NULL, NULL, NULL, NULL, NULL), 3);
    assert_int_equal(list(c->s, &ADMIN, "device", NULL, NULL, NULL, NULL, NULL), 3);
    assert_int_equal(cat_get(c->s, cat_model_find("device"), &a, db, &o, &r), -ENOENT);
    assert_int_equal(cat_get(c->s, cat_model_find("probe"), &a, pb, &o, &r), -ENOENT);
    assert_int_equal(update(c->s, &a, "device", db, "{\"notes\":\"x\"}", 0, NULL), -ENOENT);
    assert_int_equal(cat_delete(c->s, cat_model_find("device"), &a, db, &r), -ENOENT);
    cat_result_clear(&r);
    /* Alice cannot attach an endpoint to a device she cannot see. */
    char errs[256];
    snprintf(body, sizeof body, "{\"device\":%lld,\"address\":\"10.0.0.3\"}", (long long)db);
    assert_int_equal(create_fail(c->s, &a, "endpoint", body, errs, sizeof errs), -EINVAL);
    assert_non_null(strstr(errs, "does not exist"));
    snprintf(body, sizeof body, "{\"device\":%lld,\"address\":\"10.0.0.3\"}", (long long)da);
    create(c->s, &a, "endpoint", body);
}

static void test_migrations(void **state)
{
    ctx *c = *state;
    char err[256];
    assert_int_equal(cat_store_version(c->s), cat_schema_version());
    create(c->s, &ADMIN, "device", "{\"name\":\"keep-me\"}");
    cat_store_close(c->s);
    /* Reopening applies nothing and keeps the data. */
    assert_int_equal(cat_store_open(&c->s, c->path, err, sizeof err), 0);
    assert_int_equal(list(c->s, &ADMIN, "device", "name", "keep-me", NULL, NULL, NULL), 1);
    /* A version 1 file (before device.dmi_uuid and device.last_seen) is migrated in place. */
    char *emsg0 = NULL;
    assert_int_equal(sqlite3_exec(c->s->db,
                                  "DROP INDEX \"device_dmi_uuid_ix\";"
                                  "ALTER TABLE device DROP COLUMN dmi_uuid;"
                                  "ALTER TABLE device DROP COLUMN last_seen;"
                                  "PRAGMA user_version = 1",
                                  NULL, NULL, &emsg0),
                     SQLITE_OK);
    cat_store_close(c->s);
    assert_int_equal(cat_store_open(&c->s, c->path, err, sizeof err), 0);
    assert_int_equal(cat_store_version(c->s), 2);
    assert_int_equal(list(c->s, &ADMIN, "device", "name", "keep-me", NULL, NULL, NULL), 1);
    create(c->s, &ADMIN, "device", "{\"name\":\"after-v2\",\"dmi_uuid\":\"abc\"}");
    assert_int_equal(list(c->s, &ADMIN, "device", "dmi_uuid", "abc", NULL, NULL, NULL), 1);
    /* A file from a newer dashdot is refused with a clear message. */
    char *emsg = NULL;
    assert_int_equal(sqlite3_exec(c->s->db, "PRAGMA user_version = 999", NULL, NULL, &emsg),
                     SQLITE_OK);
    cat_store_close(c->s);
    c->s = NULL;
    assert_int_equal(cat_store_open(&c->s, c->path, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "newer than this dashdot"));
    /* Not a database at all. */
    FILE *f = fopen(c->path, "w");
    fputs("this is not sqlite, not even close; it is just some text that goes on for a while\n", f);
    fclose(f);
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", c->path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", c->path);
    unlink(wal);
    assert_int_not_equal(cat_store_open(&c->s, c->path, err, sizeof err), 0);
    assert_null(c->s);
    assert_true(strlen(err) > 10);
}

/* ---------------------------------------------------------------- diff */

static void test_diff(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"{}", "{}", "[]"},
        {"{\"a\":1}", "{\"a\":2}", "[{\"after\":2,\"before\":1,\"path\":\"a\"}]"},
        {"{\"os\":{\"v\":\"11\"}}", "{\"os\":{\"v\":\"12\"}}",
         "[{\"after\":\"12\",\"before\":\"11\",\"path\":\"os.v\"}]"},
        {"{\"disks\":[{\"name\":\"sda\",\"size\":1},{\"name\":\"sdb\",\"size\":2}]}",
         "{\"disks\":[{\"name\":\"sdb\",\"size\":2},{\"name\":\"sda\",\"size\":3},{\"name\":\"sdc\",\"size\":4}]}",
         "[{\"after\":3,\"before\":1,\"path\":\"disks[sda].size\"},"
         "{\"after\":{\"name\":\"sdc\",\"size\":4},\"before\":null,\"path\":\"disks[sdc]\"}]"},
        {"{\"fs\":[{\"mountpoint\":\"/\",\"size\":1}]}", "{\"fs\":[]}",
         "[{\"after\":null,\"before\":{\"mountpoint\":\"/\",\"size\":1},\"path\":\"fs[/]\"}]"},
        {"{\"x\":[1,2]}", "{\"x\":[1,3,4]}",
         "[{\"after\":3,\"before\":2,\"path\":\"x[1]\"},{\"after\":4,\"before\":null,\"path\":\"x[2]\"}]"},
        {"{\"b\":1,\"a\":1}", "{\"c\":1,\"a\":1}",
         "[{\"after\":null,\"before\":1,\"path\":\"b\"},{\"after\":1,\"before\":null,\"path\":\"c\"}]"},
        {"{\"a\":{\"x\":1}}", "{\"a\":\"flat\"}",
         "[{\"after\":\"flat\",\"before\":{\"x\":1},\"path\":\"a\"}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *a = json_loads(cases[i].a, 0, &je), *b = json_loads(cases[i].b, 0, &je);
        json_t *ch = json_array();
        assert_int_equal(cat_json_diff(a, b, ch), 0);
        char *got = json_dumps(ch, JSON_COMPACT | JSON_SORT_KEYS);
        if (strcmp(got, cases[i].want))
            fail_msg("diff %s -> %s:\n  want %s\n  got  %s", cases[i].a, cases[i].b, cases[i].want,
                     got);
        free(got);
        json_decref(a);
        json_decref(b);
        json_decref(ch);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_table),
        cmocka_unit_test(test_schema_json),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_defaults_and_update),
        cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles_and_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test(test_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
