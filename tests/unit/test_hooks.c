/* test_hooks: webhook bodies into events (wire/hooks). Real payloads under fixtures/hooks
 * (Alertmanager 0.25's firing and resolved group, Nagios forms as curl --data-urlencode sends
 * them, a NAGIOS_* environment as JSON, Icinga 2 stream events and script environment, generic
 * deploy events); Alertmanager's fingerprint against prometheus/common's own test vectors;
 * detection and content types; a hostile table (wrong types at every path, NUL bytes, invalid
 * UTF-8, huge numbers and times, deep nesting, 10,000 alerts, empty bodies); fields capping;
 * and allocation failure at every step of ours. Times are fixed instants, never
 * "now", and the process runs in a zone with a 12:45 offset to show that none leaks in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "wire/hooks.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1700000000123LL /* the receipt time handed to every parse */
#define CT_JSON "application/json"
#define CT_FORM "application/x-www-form-urlencoded"

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/hooks/%s", FIXTURES, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static char data[1 << 16];
    *len = fread(data, 1, sizeof data - 1, f);
    data[*len] = '\0';
    fclose(f);
    return data;
}

static int parse_fixture(const char *name, const char *ct, hooks_format fmt, hooks_result *r)
{
    size_t len;
    const char *body = slurp(name, &len);
    return hooks_parse(ct, body, len, NOW, fmt, r);
}

static int parse_str(const char *ct, const char *body, hooks_format fmt, hooks_result *r)
{
    return hooks_parse(ct, body, strlen(body), NOW, fmt, r);
}

/* The fields of an event as a JSON tree (the caller decrefs); fails on invalid JSON. */
static json_t *fields_of(const event *e)
{
    json_error_t je;
    json_t *f = json_loads(e->fields, 0, &je);
    if (!f || !json_is_object(f))
        fail_msg("fields are not a JSON object: %s (%s)", je.text, e->fields);
    assert_true(strlen(e->fields) <= EVENT_FIELDS_MAX);
    return f;
}

static const char *fstr(json_t *f, const char *path)
{
    json_t *v = f;
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        char k[64];
        snprintf(k, sizeof k, "%.*s", (int)n, p);
        v = json_object_get(v, k);
        p += n + (p[n] == '.');
    }
    if (!json_is_string(v))
        fail_msg("fields.%s is not a string", path);
    return json_string_value(v);
}

/* Every event of a successful parse keeps the record contract (lib/event.h). */
static void check_contract(const hooks_result *r)
{
    assert_true(r->n <= HOOKS_MAX_EVENTS);
    assert_true(r->n == 0 || r->ev != NULL);
    assert_string_equal(r->path, "");
    assert_string_equal(r->err, "");
    for (size_t i = 0; i < r->n; i++) {
        const event *e = &r->ev[i];
        assert_non_null(e->kind);
        assert_non_null(e->host);
        assert_non_null(e->app);
        assert_non_null(e->title);
        assert_non_null(e->text);
        assert_non_null(e->fields);
        assert_non_null(e->fingerprint);
        assert_string_equal(e->source, "");
        assert_true(e->severity >= 0 && e->severity < EVENT_SEVERITY_N);
        assert_int_equal(e->facility, -1);
        assert_int_equal(e->sensor_id, 0);
        assert_int_equal(e->recv_ms, 0);
        if (e->fields[0])
            json_decref(fields_of(e));
    }
}

/* ---- Alertmanager ---- */

static void am_firing_group(void **state)
{
    (void)state;
    hooks_result r;
    assert_int_equal(parse_fixture("alertmanager-firing.json", CT_JSON, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(r.format, HOOKS_ALERTMANAGER);
    assert_int_equal(r.n, 2);
    const event *a = &r.ev[0], *b = &r.ev[1];
    assert_string_equal(a->kind, EVENT_KIND_ALERT);
    assert_int_equal(a->status, EVENT_STATUS_FIRING);
    assert_string_equal(a->fingerprint, "c24e6b2d2b9aeb42");
    assert_string_equal(b->fingerprint, "9022bcf376111fa9");
    assert_int_equal(a->severity, EVENT_WARNING);
    assert_string_equal(a->host, "web-1.example.com");
    assert_string_equal(b->host, "2001:db8::7");
    assert_string_equal(a->app, "NodeFilesystemAlmostOutOfSpace");
    assert_string_equal(a->title, "Filesystem has less than 5% space left.");
    assert_string_equal(a->text, "Filesystem on /dev/sda1 at web-1.example.com:9100 has only "
                                 "4.21% available space left.");
    assert_int_equal(a->t_ms, 1709630091302LL);
    assert_int_equal(b->t_ms, 1709630121302LL); /* nanoseconds cut to ms */
    json_t *f = fields_of(a);
    assert_string_equal(fstr(f, "labels.instance"), "web-1.example.com:9100");
    assert_string_equal(fstr(f, "labels.mountpoint"), "/");
    assert_string_equal(fstr(f, "annotations.runbook_url"),
                        "https://runbooks.prometheus-operator.dev/runbooks/node/"
                        "nodefilesystemalmostoutofspace");
    assert_string_equal(fstr(f, "startsAt"), "2024-03-05T09:14:51.302Z");
    assert_string_equal(fstr(f, "endsAt"), "0001-01-01T00:00:00Z");
    assert_string_equal(fstr(f, "receiver"), "dashdot");
    assert_string_equal(fstr(f, "externalURL"), "http://alertmanager.example.com:9093");
    assert_string_equal(fstr(f, "status"), "firing");
    assert_string_equal(fstr(f, "groupKey"), "{}/{severity=~\"warning|critical\"}:"
                                             "{alertname=\"NodeFilesystemAlmostOutOfSpace\"}");
    /* Go escapes & < > as \u0026 \u003c \u003e: read back as the characters. */
    assert_non_null(strstr(fstr(f, "generatorURL"), "%3C+5%29&g0.tab=1"));
    assert_null(json_object_get(f, "truncated"));
    assert_null(json_object_get(f, "truncatedAlerts"));
    json_decref(f);
    hooks_result_free(&r);
    assert_null(r.ev);
    assert_int_equal(r.n, 0);
    hooks_result_free(&r); /* twice is fine */
    hooks_result_free(NULL);
}

static void am_resolved_group_keeps_identity(void **state)
{
    (void)state;
    hooks_result fire, res;
    assert_int_equal(parse_fixture("alertmanager-firing.json", CT_JSON, HOOKS_AUTO, &fire), 0);
    assert_int_equal(parse_fixture("alertmanager-resolved.json", CT_JSON, HOOKS_AUTO, &res), 0);
    check_contract(&res);
    assert_int_equal(res.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(res.ev[i].status, EVENT_STATUS_RESOLVED);
        assert_int_equal(res.ev[i].severity, EVENT_NOTICE);
        assert_string_equal(res.ev[i].fingerprint, fire.ev[i].fingerprint);
        assert_string_equal(res.ev[i].host, fire.ev[i].host);
    }
    assert_int_equal(res.ev[0].t_ms, 1709631066302LL); /* endsAt */
    assert_int_equal(res.ev[1].t_ms, 1709631096302LL);
    json_t *f = fields_of(&res.ev[0]);
    assert_string_equal(fstr(f, "labels.severity"), "warning"); /* the level it had */
    json_decref(f);
    hooks_result_free(&fire);
    hooks_result_free(&res);
}

/* Builds a one-alert Alertmanager body around an alert object's members. */
static void am_body(char *dst, size_t cap, const char *alert)
{
    snprintf(dst, cap,
             "{\"version\":\"4\",\"status\":\"firing\",\"receiver\":\"r\",\"alerts\":[{%s}]}",
             alert);
}

static void am_fingerprint_as_alertmanager(void **state)
{
    (void)state;
    static const struct {
        const char *labels, *fp;
    } cases[] = {
        /* prometheus/common model/signature_test.go: 5799056148416392346, 5146282821936882169,
         * 3195800080984914717, and the empty set's 14695981039346656037. */
        {"{\"name\":\"garland, briggs\",\"fear\":\"love is not enough\"}", "507a62d79ee76c9a"},
        {"{\"first-label\":\"first-label-value\"}", "476b44f5db3e21f9"},
        {"{\"second-label\":\"second-label-value\",\"first-label\":\"first-label-value\"}",
         "2c59c33dd8453b1d"},
        {"{}", "cbf29ce484222325"},
        /* The fixture's first alert, whose fingerprint Alertmanager would send. */
        {"{\"severity\":\"warning\",\"mountpoint\":\"/\",\"job\":\"node\",\"instance\":"
         "\"web-1.example.com:9100\",\"fstype\":\"ext4\",\"device\":\"/dev/sda1\",\"alertname\":"
         "\"NodeFilesystemAlmostOutOfSpace\"}",
         "c24e6b2d2b9aeb42"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char alert[512], body[1024];
        hooks_result r;
        for (int empty = 0; empty < 2; empty++) {
            snprintf(alert, sizeof alert, "\"status\":\"firing\",\"labels\":%s%s", cases[i].labels,
                     empty ? ",\"fingerprint\":\"\"" : "");
            am_body(body, sizeof body, alert);
            assert_int_equal(parse_str(CT_JSON, body, HOOKS_AUTO, &r), 0);
            if (strcmp(r.ev[0].fingerprint, cases[i].fp))
                fail_msg("labels %s: fingerprint %s, want %s", cases[i].labels, r.ev[0].fingerprint,
                         cases[i].fp);
            hooks_result_free(&r);
        }
    }
    /* A fingerprint that is sent is kept as it is. */
    char body[512];
    hooks_result r;
    am_body(body, sizeof body, "\"status\":\"firing\",\"labels\":{},\"fingerprint\":\"abc\"");
    assert_int_equal(parse_str(CT_JSON, body, HOOKS_AUTO, &r), 0);
    assert_string_equal(r.ev[0].fingerprint, "abc");
    hooks_result_free(&r);
}

static void am_host_title_severity(void **state)
{
    (void)state;
    static const struct {
        const char *labels, *annotations, *host, *title;
        int severity;
    } cases[] = {
        {"\"instance\":\"web1:9100\",\"alertname\":\"Down\"", "{}", "web1", "Down on web1:9100",
         EVENT_WARNING},
        {"\"instance\":\"[::1]:9100\"", "{}", "::1", "alert on [::1]:9100", EVENT_WARNING},
        {"\"instance\":\"fe80::1\"", "{}", "fe80::1", "alert on fe80::1", EVENT_WARNING},
        {"\"instance\":\"https://user@shop.example.com:8443/health?x=1\",\"alertname\":\"Probe\"",
         "{}", "shop.example.com", "Probe on https://user@shop.example.com:8443/health?x=1",
         EVENT_WARNING},
        {"\"instance\":\"http://example.com\"", "{}", "example.com", "alert on http://example.com",
         EVENT_WARNING},
        {"\"instance\":\"db:abc\"", "{}", "db:abc", "alert on db:abc", EVENT_WARNING},
        {"\"hostname\":\"h2\",\"alertname\":\"X\"", "{}", "h2", "X on h2", EVENT_WARNING},
        {"\"node\":\"k8s-3\",\"alertname\":\"X\"", "{\"summary\":\"\"}", "k8s-3", "X on k8s-3",
         EVENT_WARNING},
        {"\"device\":\"sw1\",\"severity\":\"critical\"", "{\"summary\":\"S\"}", "", "S",
         EVENT_CRITICAL},
        {"\"severity\":\"Page\"", "{}", "", "alert", EVENT_CRITICAL},
        {"\"severity\":\"error\"", "{}", "", "alert", EVENT_ERROR},
        {"\"severity\":\"info\"", "{}", "", "alert", EVENT_INFO},
        {"\"severity\":\"none\"", "{}", "", "alert", EVENT_NOTICE},
        {"\"severity\":\"WARN\"", "{}", "", "alert", EVENT_WARNING},
        {"\"severity\":\"debug\"", "{}", "", "alert", EVENT_DEBUG},
        {"\"severity\":\"major-ish\"", "{}", "", "alert", EVENT_WARNING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char alert[512], body[1024];
        hooks_result r;
        snprintf(alert, sizeof alert, "\"status\":\"firing\",\"labels\":{%s},\"annotations\":%s",
                 cases[i].labels, cases[i].annotations);
        am_body(body, sizeof body, alert);
        int rc = parse_str(NULL, body, HOOKS_AUTO, &r);
        if (rc)
            fail_msg("case %zu: rc %d (%s: %s)", i, rc, r.path, r.err);
        check_contract(&r);
        if (strcmp(r.ev[0].host, cases[i].host) || strcmp(r.ev[0].title, cases[i].title) ||
            r.ev[0].severity != cases[i].severity)
            fail_msg("case %zu: host \"%s\" title \"%s\" severity %d", i, r.ev[0].host,
                     r.ev[0].title, r.ev[0].severity);
        assert_int_equal(r.ev[0].t_ms, NOW); /* no startsAt */
        hooks_result_free(&r);
    }
    /* Text from message when there is no description; truncatedAlerts noted. */
    hooks_result r;
    assert_int_equal(parse_str(CT_JSON,
                               "{\"version\":\"4\",\"truncatedAlerts\":3,\"alerts\":[{\"status\":"
                               "\"resolved\",\"labels\":{},\"annotations\":{\"message\":\"m\"},"
                               "\"startsAt\":\"2024-03-05T10:14:51+01:00\",\"endsAt\":"
                               "\"0001-01-01T00:00:00Z\"}]}",
                               HOOKS_AUTO, &r),
                     0);
    assert_string_equal(r.ev[0].text, "m");
    assert_int_equal(r.ev[0].t_ms, 1709630091000LL); /* resolved without endsAt: startsAt */
    json_t *f = fields_of(&r.ev[0]);
    assert_int_equal(json_integer_value(json_object_get(f, "truncatedAlerts")), 3);
    json_decref(f);
    hooks_result_free(&r);
}

/* ---- Nagios, Icinga ---- */

static void nagios_forms_problem_and_recovery(void **state)
{
    (void)state;
    hooks_result p, rec;
    assert_int_equal(parse_fixture("nagios-service-problem.form", CT_FORM, HOOKS_AUTO, &p), 0);
    assert_int_equal(parse_fixture("nagios-service-recovery.form", CT_FORM, HOOKS_AUTO, &rec), 0);
    check_contract(&p);
    check_contract(&rec);
    assert_int_equal(p.format, HOOKS_NAGIOS);
    assert_int_equal(p.n, 1);
    const event *e = &p.ev[0];
    assert_string_equal(e->kind, EVENT_KIND_NOTIFICATION);
    assert_int_equal(e->status, EVENT_STATUS_FIRING);
    assert_int_equal(e->severity, EVENT_CRITICAL);
    assert_string_equal(e->host, "web-1");
    assert_string_equal(e->app, "HTTP");
    assert_string_equal(e->title, "web-1/HTTP is CRITICAL");
    assert_string_equal(e->text, "CRITICAL - Socket timeout after 10 seconds");
    assert_string_equal(e->fingerprint, "nagios:web-1/HTTP");
    assert_int_equal(e->t_ms, 1709626491000LL);
    json_t *f = fields_of(e);
    assert_int_equal(json_object_size(f), 10); /* every macro received */
    assert_string_equal(fstr(f, "HOSTADDRESS"), "192.0.2.10");
    assert_string_equal(fstr(f, "LONGDATETIME"), "Tue Mar 5 09:14:51 CET 2024");
    assert_string_equal(fstr(f, "LONGSERVICEOUTPUT"), "");
    json_decref(f);
    e = &rec.ev[0];
    assert_int_equal(e->status, EVENT_STATUS_RESOLVED);
    assert_int_equal(e->severity, EVENT_NOTICE);
    assert_string_equal(e->title, "web-1/HTTP is OK");
    assert_string_equal(e->fingerprint, p.ev[0].fingerprint);
    hooks_result_free(&p);
    hooks_result_free(&rec);
}

static void nagios_env_json_and_short_names(void **state)
{
    (void)state;
    hooks_result r;
    assert_int_equal(parse_fixture("nagios-host-down.json", CT_JSON, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(r.format, HOOKS_NAGIOS);
    const event *e = &r.ev[0];
    assert_string_equal(e->title, "db-2 is DOWN");
    assert_string_equal(e->fingerprint, "nagios:db-2/");
    assert_string_equal(e->app, "");
    assert_int_equal(e->status, EVENT_STATUS_FIRING);
    assert_int_equal(e->severity, EVENT_CRITICAL);
    assert_string_equal(e->text, "PING CRITICAL - Packet loss = 100%");
    assert_int_equal(e->t_ms, 1709629331000LL);
    json_t *f = fields_of(e);
    assert_string_equal(fstr(f, "NAGIOS_HOSTALIAS"), "db-2.example.com");
    json_decref(f);
    hooks_result_free(&r);

    /* The short names, sent without a content type by a careless script. */
    assert_int_equal(parse_fixture("short-names.form", NULL, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    e = &r.ev[0];
    assert_int_equal(r.format, HOOKS_NAGIOS);
    assert_string_equal(e->title, "web-1/disk is WARNING");
    assert_string_equal(e->text, "DISK WARNING - free space: /var 812 MB (8%)");
    assert_int_equal(e->status, EVENT_STATUS_FIRING);
    assert_int_equal(e->severity, EVENT_WARNING);
    assert_int_equal(e->t_ms, NOW);
    hooks_result_free(&r);

    /* Numbers for states and times, lower case names, a comment, no type. */
    static const struct {
        const char *body;
        int status, severity;
        const char *title, *text;
    } cases[] = {
        {"{\"hostname\":\"h\",\"servicedesc\":\"s\",\"servicestate\":2,\"timet\":1709626491}",
         EVENT_STATUS_FIRING, EVENT_CRITICAL, "h/s is CRITICAL", ""},
        {"{\"host\":\"h\",\"state\":\"0\",\"output\":\"fine\"}", EVENT_STATUS_RESOLVED,
         EVENT_NOTICE, "h is UP", "fine"},
        {"{\"host\":\"h\",\"state\":\"2\"}", EVENT_STATUS_FIRING, EVENT_CRITICAL,
         "h is UNREACHABLE", ""},
        {"{\"host\":\"h\",\"service\":\"s\",\"state\":\"unknown\",\"type\":\"Problem\"}",
         EVENT_STATUS_FIRING, EVENT_ERROR, "h/s is UNKNOWN", ""},
        {"{\"host\":\"h\",\"service\":\"s\",\"state\":\"OK\",\"type\":\"PROBLEM\"}",
         EVENT_STATUS_RESOLVED, EVENT_NOTICE, "h/s is OK", ""},
        {"{\"ICINGA_HOSTNAME\":\"h\",\"ICINGA_NOTIFICATIONTYPE\":\"DOWNTIMESTART\","
         "\"ICINGA_NOTIFICATIONAUTHOR\":\"bob\",\"ICINGA_NOTIFICATIONCOMMENT\":\"patching\","
         "\"ICINGA_HOSTSTATE\":\"UP\"}",
         EVENT_STATUS_NONE, EVENT_NOTICE, "DOWNTIMESTART: h is UP", "Comment by bob: patching"},
        {"{\"HOSTNAME\":\"h\",\"NOTIFICATIONTYPE\":\"CUSTOM\",\"HOSTOUTPUT\":\"o\","
         "\"LONGHOSTOUTPUT\":\"l1\\nl2\",\"NOTIFICATIONCOMMENT\":\"c\",\"extra\":[1,{}]}",
         EVENT_STATUS_NONE, EVENT_INFO, "CUSTOM: h", "o\nl1\nl2\nComment: c"},
        /* Nagios passes every macro, the empty ones too: empty is absent. */
        {"{\"HOSTNAME\":\"h\",\"NOTIFICATIONTYPE\":\"\",\"TIMET\":\"\",\"HOSTSTATE\":\"DOWN\","
         "\"SERVICEDESC\":\"\",\"SERVICESTATE\":\"\",\"NOTIFICATIONAUTHOR\":\"\","
         "\"NOTIFICATIONCOMMENT\":\"c\",\"HOSTOUTPUT\":\"\",\"output\":\"o\"}",
         EVENT_STATUS_FIRING, EVENT_CRITICAL, "h is DOWN", "o\nComment: c"},
        {"{\"HOSTNAME\":\"h\",\"SERVICEDESC\":\"s\",\"NOTIFICATIONTYPE\":\"RECOVERY\","
         "\"SERVICESTATE\":null}",
         EVENT_STATUS_RESOLVED, EVENT_INFO, "h/s", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_str(CT_JSON, cases[i].body, HOOKS_AUTO, &r);
        if (rc)
            fail_msg("case %zu: rc %d (%s: %s)", i, rc, r.path, r.err);
        check_contract(&r);
        e = &r.ev[0];
        if (e->status != cases[i].status || e->severity != cases[i].severity ||
            strcmp(e->title, cases[i].title) || strcmp(e->text, cases[i].text))
            fail_msg("case %zu: status %d severity %d title \"%s\" text \"%s\"", i, e->status,
                     e->severity, e->title, e->text);
        hooks_result_free(&r);
    }
}

static void icinga2_script_form(void **state)
{
    (void)state;
    hooks_result r;
    assert_int_equal(parse_fixture("icinga2-script.form", CT_FORM, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(r.format, HOOKS_ICINGA2);
    const event *e = &r.ev[0];
    assert_string_equal(e->kind, EVENT_KIND_NOTIFICATION);
    assert_int_equal(e->status, EVENT_STATUS_NONE);
    assert_int_equal(e->severity, EVENT_CRITICAL);
    assert_string_equal(e->host, "web-1.example.com");
    assert_string_equal(e->app, "http");
    assert_string_equal(e->fingerprint, "icinga:web-1.example.com/http");
    assert_string_equal(e->title, "ACKNOWLEDGEMENT: web-1.example.com/http is CRITICAL");
    assert_string_equal(e->text, "CRITICAL - Socket timeout after 10 seconds\n"
                                 "Comment by alice: Looking into it; load balancer drained.");
    assert_int_equal(e->t_ms, 1709626802000LL); /* LONGDATETIME 09:20:02 +0100 */
    json_t *f = fields_of(e);
    assert_string_equal(fstr(f, "USEREMAIL"), "ops@example.com");
    assert_string_equal(fstr(f, "HOSTADDRESS6"), "");
    json_decref(f);
    hooks_result_free(&r);
    /* Forced to Nagios, the same body keeps Nagios's fingerprint. */
    assert_int_equal(parse_fixture("icinga2-script.form", CT_FORM, HOOKS_NAGIOS, &r), 0);
    assert_string_equal(r.ev[0].fingerprint, "nagios:web-1.example.com/http");
    hooks_result_free(&r);
}

static void icinga2_stream_events(void **state)
{
    (void)state;
    hooks_result n, s;
    assert_int_equal(parse_fixture("icinga2-notification.json", CT_JSON, HOOKS_AUTO, &n), 0);
    assert_int_equal(parse_fixture("icinga2-statechange.json", CT_JSON, HOOKS_AUTO, &s), 0);
    check_contract(&n);
    check_contract(&s);
    assert_int_equal(n.format, HOOKS_ICINGA2);
    const event *e = &n.ev[0];
    assert_int_equal(e->status, EVENT_STATUS_FIRING);
    assert_int_equal(e->severity, EVENT_CRITICAL);
    assert_string_equal(e->title, "web-1.example.com/http is CRITICAL");
    assert_string_equal(e->text, "CRITICAL - Socket timeout after 10 seconds");
    assert_string_equal(e->fingerprint, "icinga:web-1.example.com/http");
    assert_int_equal(e->t_ms, 1709626491363LL);
    json_t *f = fields_of(e);
    assert_string_equal(fstr(f, "command"), "mail-service-notification");
    assert_int_equal(json_array_size(json_object_get(f, "users")), 2);
    json_decref(f);
    e = &s.ev[0];
    assert_int_equal(e->status, EVENT_STATUS_RESOLVED);
    assert_int_equal(e->severity, EVENT_NOTICE);
    assert_string_equal(e->title, "web-1.example.com/http is OK");
    assert_string_equal(e->fingerprint, n.ev[0].fingerprint);
    assert_int_equal(e->t_ms, 1709627466019LL);
    hooks_result_free(&n);
    hooks_result_free(&s);

    static const struct {
        const char *body;
        int status, severity;
        const char *host, *title, *fp;
    } cases[] = {
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"state\":1,\"state_type\":1}",
         EVENT_STATUS_FIRING, EVENT_CRITICAL, "h", "h is DOWN", "icinga:h/"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"service\":\"s\",\"state\":1.0,"
         "\"state_type\":0.0}",
         EVENT_STATUS_NONE, EVENT_WARNING, "h", "h/s is WARNING (soft)", "icinga:h/s"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Recovery\","
         "\"check_result\":{\"state\":1.0,\"output\":\"up\"},\"users\":[]}",
         EVENT_STATUS_RESOLVED, EVENT_NOTICE, "h", "h is UP", "icinga:h/"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"PROBLEM\","
         "\"check_result\":{\"state\":2.0}}",
         EVENT_STATUS_FIRING, EVENT_CRITICAL, "h", "h is DOWN", "icinga:h/"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"service\":\"s\",\"notification_type\":"
         "\"FlappingEnd\",\"check_result\":null}",
         EVENT_STATUS_NONE, EVENT_INFO, "h", "FLAPPINGEND: h/s", "icinga:h/s"},
        {"{\"type\":\"CheckResult\",\"host\":\"h\",\"service\":\"s\",\"check_result\":"
         "{\"state\":3,\"output\":\"?\"}}",
         EVENT_STATUS_NONE, EVENT_ERROR, "h", "h/s check result UNKNOWN", "icinga:h/s"},
        {"{\"type\":\"CheckResult\",\"host\":\"h\",\"check_result\":{}}", EVENT_STATUS_NONE,
         EVENT_INFO, "h", "h check result", "icinga:h/"},
        {"{\"type\":\"AcknowledgementSet\",\"host\":\"h\",\"service\":\"s\",\"state\":2,"
         "\"author\":\"alice\",\"comment\":\"mine\"}",
         EVENT_STATUS_NONE, EVENT_NOTICE, "h", "h/s acknowledged by alice", "icinga:h/s"},
        {"{\"type\":\"Flapping\",\"host\":\"h\",\"is_flapping\":true,\"state\":0}",
         EVENT_STATUS_NONE, EVENT_NOTICE, "h", "h started flapping", "icinga:h/"},
        {"{\"type\":\"DowntimeStarted\",\"downtime\":{\"host_name\":\"h\",\"service_name\":\"s\","
         "\"author\":\"bob\",\"comment\":\"patch\"}}",
         EVENT_STATUS_NONE, EVENT_INFO, "h", "h/s downtime started", "icinga:h/s"},
        {"{\"type\":\"CommentAdded\",\"comment\":{\"host_name\":\"h\",\"text\":\"t\"}}",
         EVENT_STATUS_NONE, EVENT_INFO, "h", "h comment added", "icinga:h/"},
        {"{\"type\":\"ObjectModified\",\"object_type\":\"Service\",\"object_name\":\"h!s\"}",
         EVENT_STATUS_NONE, EVENT_INFO, "h", "Service h!s modified", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_str(CT_JSON, cases[i].body, HOOKS_AUTO, &n);
        if (rc)
            fail_msg("case %zu: rc %d (%s: %s)", i, rc, n.path, n.err);
        check_contract(&n);
        assert_int_equal(n.format, HOOKS_ICINGA2);
        e = &n.ev[0];
        if (e->status != cases[i].status || e->severity != cases[i].severity ||
            strcmp(e->host, cases[i].host) || strcmp(e->title, cases[i].title) ||
            strcmp(e->fingerprint, cases[i].fp))
            fail_msg("case %zu: status %d severity %d host \"%s\" title \"%s\" fp \"%s\"", i,
                     e->status, e->severity, e->host, e->title, e->fingerprint);
        assert_int_equal(e->t_ms, NOW);
        hooks_result_free(&n);
    }
    /* An array of stream events. */
    assert_int_equal(parse_str(CT_JSON,
                               "[{\"type\":\"StateChange\",\"host\":\"a\",\"state\":0},"
                               "{\"type\":\"StateChange\",\"host\":\"b\",\"state\":1}]",
                               HOOKS_AUTO, &n),
                     0);
    assert_int_equal(n.n, 2);
    assert_string_equal(n.ev[1].title, "b is DOWN");
    hooks_result_free(&n);
}

/* ---- generic ---- */

static void generic_events(void **state)
{
    (void)state;
    hooks_result r;
    assert_int_equal(parse_fixture("generic-deploy.json", CT_JSON, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(r.format, HOOKS_GENERIC);
    const event *e = &r.ev[0];
    assert_string_equal(e->kind, EVENT_KIND_CHANGE);
    assert_string_equal(e->title, "Deployed api v2.14.0 to production");
    assert_string_equal(e->text, "Pipeline 4711 by alice: 3 services restarted.");
    assert_int_equal(e->severity, EVENT_NOTICE);
    assert_string_equal(e->host, "api-1");
    assert_string_equal(e->app, "api");
    assert_string_equal(e->fingerprint, "");
    assert_int_equal(e->status, EVENT_STATUS_NONE);
    assert_int_equal(e->t_ms, 1709630400000LL);
    assert_string_equal(e->fields, "{\"tags\":[\"deploy\",\"production\"],\"commit\":\"3f9a1c2\","
                                   "\"pipeline\":4711,\"url\":\"https://ci.example.com/p/4711\"}");
    hooks_result_free(&r);

    /* An array, posted by curl -d with its default form content type. */
    assert_int_equal(parse_fixture("generic-array.json", CT_FORM, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ev[0].kind, EVENT_KIND_GENERIC);
    assert_int_equal(r.ev[0].severity, EVENT_ERROR);
    assert_int_equal(r.ev[0].t_ms, 1709626491500LL);
    assert_string_equal(r.ev[0].fields, "{\"tags\":{\"branch\":\"main\",\"attempt\":2}}");
    assert_int_equal(r.ev[1].severity, EVENT_INFO);
    assert_int_equal(r.ev[1].t_ms, 1709627000000LL);
    assert_string_equal(r.ev[1].fields, "");
    hooks_result_free(&r);

    static const struct {
        const char *body;
        int severity;
        int64_t t_ms;
    } cases[] = {
        {"{\"title\":\"t\",\"severity\":\"CRIT\"}", EVENT_CRITICAL, NOW},
        {"{\"title\":\"t\",\"severity\":0}", EVENT_EMERGENCY, NOW},
        {"{\"title\":\"t\",\"severity\":7.0}", EVENT_DEBUG, NOW},
        {"{\"title\":\"t\",\"severity\":\"3\"}", EVENT_ERROR, NOW},
        {"{\"title\":\"t\",\"severity\":null,\"time\":null}", EVENT_INFO, NOW},
        {"{\"title\":\"t\",\"time\":\"1709627000.25\"}", EVENT_INFO, 1709627000250LL},
        {"{\"title\":\"t\",\"time\":\"2024-03-05T10:20:00.5+01:00\"}", EVENT_INFO, 1709630400500LL},
        {"{\"title\":\"t\",\"time\":0}", EVENT_INFO, 0},
        {"[]", -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_str(CT_JSON, cases[i].body, HOOKS_AUTO, &r);
        if (rc)
            fail_msg("case %zu: rc %d (%s: %s)", i, rc, r.path, r.err);
        check_contract(&r);
        if (cases[i].severity < 0) {
            assert_int_equal(r.n, 0);
            assert_null(r.ev);
        } else if (r.ev[0].severity != cases[i].severity || r.ev[0].t_ms != cases[i].t_ms) {
            fail_msg("case %zu: severity %d t_ms %lld", i, r.ev[0].severity,
                     (long long)r.ev[0].t_ms);
        }
        hooks_result_free(&r);
    }
}

/* ---- detection, content types ---- */

static void content_types_and_detection(void **state)
{
    (void)state;
    static const struct {
        const char *ct, *body;
        hooks_format fmt;
        int rc;
        hooks_format detected;
    } cases[] = {
        {"application/json; charset=utf-8", "{\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {"Application/JSON", " \r\n{\"title\":\"t\"}\n", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {"application/vnd.foo+json", "{\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {"text/plain", "{\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {CT_FORM, "{\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {NULL, "\xef\xbb\xbf{\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {"", "host=h&state=DOWN\r\n", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {"text/plain", "HOSTNAME=h", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {CT_FORM, "host=h+1&state=DOWN", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {CT_FORM, "hostname=h&servicename=s", HOOKS_AUTO, 0, HOOKS_ICINGA2},
        {CT_FORM, "host=h", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {CT_FORM, "HOSTNAME=h", HOOKS_ICINGA2, 0, HOOKS_ICINGA2},
        {CT_JSON, "{\"HOSTNAME\":\"h\"}", HOOKS_ICINGA2, 0, HOOKS_ICINGA2},
        {CT_JSON, "{\"host\":\"h\",\"state\":\"UP\"}", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {CT_JSON, "{\"hostname\":\"h\",\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {CT_JSON, "{\"host\":\"h\",\"title\":\"t\"}", HOOKS_AUTO, 0, HOOKS_GENERIC},
        {CT_JSON, "{\"host\":\"h\",\"title\":\"t\",\"state\":\"UP\"}", HOOKS_AUTO, -EPROTO,
         HOOKS_GENERIC},
        {CT_JSON, "{\"type\":\"StateChange\",\"host\":\"h\",\"state\":0}", HOOKS_AUTO, 0,
         HOOKS_ICINGA2},
        {CT_JSON, "{\"type\":\"PROBLEM\",\"host\":\"h\"}", HOOKS_AUTO, 0, HOOKS_NAGIOS},
        {CT_JSON, "{\"version\":\"4\",\"alerts\":[]}", HOOKS_AUTO, 0, HOOKS_ALERTMANAGER},
        /* Not a body at all: 400. */
        {CT_JSON, "host=h&state=DOWN", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {NULL, "hello world", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {"text/plain", "a=1&b", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_FORM, "{broken", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_FORM, "host=h&output=100%", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_FORM, "host=h&output=a%00b", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_JSON, "", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_FORM, " \r\n\t", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_JSON, "{\"title\":\"t\"} x", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_JSON, "{\"title\":\"t\",\"title\":\"u\"}", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_JSON, "{\"title\":\"\xff\"}", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_JSON, "{\"title\":\"t\",\"x\":123456789012345678901234567890}", HOOKS_AUTO, -EINVAL,
         HOOKS_AUTO},
        {CT_JSON, "{\"title\":\"t\",\"x\":1e400}", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        {CT_JSON, "{\"a\\u0000\":1}", HOOKS_AUTO, -EINVAL, HOOKS_AUTO},
        /* Valid, wrong shape: 422. */
        {CT_FORM, "foo=bar", HOOKS_AUTO, -EPROTO, HOOKS_AUTO},
        {CT_FORM, "HOSTNAME=h", HOOKS_GENERIC, -EPROTO, HOOKS_GENERIC},
        {CT_FORM, "HOSTNAME=h", HOOKS_ALERTMANAGER, -EPROTO, HOOKS_ALERTMANAGER},
        {CT_JSON, "{\"title\":\"t\"}", HOOKS_ALERTMANAGER, -EPROTO, HOOKS_ALERTMANAGER},
        {CT_JSON, "{\"version\":\"4\",\"alertz\":[]}", HOOKS_ALERTMANAGER, -EPROTO,
         HOOKS_ALERTMANAGER},
        {CT_JSON, "{\"type\":\"StateChange\"}", HOOKS_GENERIC, -EPROTO, HOOKS_GENERIC},
        {CT_JSON, "[1]", HOOKS_NAGIOS, -EPROTO, HOOKS_NAGIOS},
        {CT_JSON, "[{\"version\":\"4\",\"alerts\":[]}]", HOOKS_AUTO, -EPROTO, HOOKS_ALERTMANAGER},
        {CT_JSON, "42", HOOKS_AUTO, -EPROTO, HOOKS_AUTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hooks_result r;
        int rc = parse_str(cases[i].ct, cases[i].body, cases[i].fmt, &r);
        if (rc != cases[i].rc || r.format != cases[i].detected)
            fail_msg("case %zu (%s): rc %d format %s, want %d %s (%s: %s)", i, cases[i].body, rc,
                     hooks_format_name(r.format), cases[i].rc, hooks_format_name(cases[i].detected),
                     r.path, r.err);
        if (rc) {
            assert_int_equal(r.n, 0);
            assert_null(r.ev);
            assert_true(r.err[0] != '\0');
        } else {
            check_contract(&r);
        }
        hooks_result_free(&r);
    }
}

/* ---- hostile input ---- */

static void wrong_shapes_name_the_path(void **state)
{
    (void)state;
#define AM(x) "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{}}," x "]}"
    static const struct {
        const char *body;
        const char *path, *err;
    } cases[] = {
        /* Alertmanager: every member of the group and of an alert. */
        {"{\"version\":4,\"alerts\":[]}", "version", "expected a string, not a number"},
        {"{\"version\":\"3\",\"alerts\":[]}", "version", "unsupported version \"3\""},
        {"{\"alerts\":[]}", "version", "missing"},
        {"{\"version\":\"4\",\"alerts\":{}}", "alerts",
         "expected an array of alerts, not an object"},
        {"{\"version\":\"4\",\"alerts\":null}", "alerts", "not null"},
        {"{\"version\":\"4\",\"alerts\":[],\"receiver\":[]}", "receiver", "expected a string"},
        {"{\"version\":\"4\",\"alerts\":[],\"groupKey\":1}", "groupKey", "expected a string"},
        {"{\"version\":\"4\",\"alerts\":[],\"externalURL\":true}", "externalURL", "a boolean"},
        {"{\"version\":\"4\",\"alerts\":[],\"status\":\"open\"}", "status", "firing"},
        {"{\"version\":\"4\",\"alerts\":[],\"truncatedAlerts\":-1}", "truncatedAlerts",
         "whole number"},
        {"{\"version\":\"4\",\"alerts\":[],\"truncatedAlerts\":1.5}", "truncatedAlerts",
         "whole number"},
        {"{\"version\":\"4\",\"alerts\":[],\"groupLabels\":[]}", "groupLabels",
         "object of strings"},
        {"{\"version\":\"4\",\"alerts\":[],\"commonLabels\":{\"a\":1}}", "commonLabels.a",
         "expected a string"},
        {"{\"version\":\"4\",\"alerts\":[],\"commonAnnotations\":{\"a\":{}}}",
         "commonAnnotations.a", "not an object"},
        {AM("7"), "alerts[1]", "expected an alert object, not a number"},
        {AM("{\"labels\":{}}"), "alerts[1].status", "missing"},
        {AM("{\"status\":\"pending\",\"labels\":{}}"), "alerts[1].status", "firing"},
        {AM("{\"status\":\"firing\"}"), "alerts[1].labels", "missing"},
        {AM("{\"status\":\"firing\",\"labels\":[\"a\"]}"), "alerts[1].labels", "object"},
        {AM("{\"status\":\"firing\",\"labels\":null}"), "alerts[1].labels", "not null"},
        {AM("{\"status\":\"firing\",\"labels\":{\"a\":\"x\",\"b\":null}}"), "alerts[1].labels.b",
         "not null"},
        {AM("{\"status\":\"firing\",\"labels\":{\"a\":\"x\\u0000y\"}}"), "alerts[1].labels.a",
         "NUL byte"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"annotations\":\"x\"}"), "alerts[1].annotations",
         "object of strings"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"annotations\":{\"summary\":1}}"),
         "alerts[1].annotations.summary", "expected a string"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"yesterday\"}"),
         "alerts[1].startsAt", "RFC 3339"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"startsAt\":1709630091}"), "alerts[1].startsAt",
         "expected a string"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"endsAt\":\"10000-01-01T00:00:00Z\"}"),
         "alerts[1].endsAt", "RFC 3339"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"generatorURL\":{}}"), "alerts[1].generatorURL",
         "expected a string"},
        {AM("{\"status\":\"firing\",\"labels\":{},\"fingerprint\":0}"), "alerts[1].fingerprint",
         "expected a string"},
        {"{\"alerts\":[],\"receiver\":\"r\"}", "version", "missing"},
        {"{\"type\":\"DowntimeAdded\"}", "downtime", "expected an object, not nothing"},
        /* Icinga 2. */
        {"{\"type\":\"StateChange\",\"state\":0}", "host", "missing"},
        {"{\"type\":\"StateChange\",\"host\":\"h\"}", "state", "missing"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"state\":2}", "state", "from 0 to 1"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"service\":\"s\",\"state\":4}", "state",
         "from 0 to 3"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"state\":\"0\"}", "state", "whole number"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"state\":0,\"state_type\":2}", "state_type",
         "from 0 to 1"},
        {"{\"type\":\"StateChange\",\"host\":[],\"state\":0}", "host", "expected a string"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"service\":5,\"state\":0}", "service",
         "expected a string"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"state\":0,\"timestamp\":\"now\"}", "timestamp",
         "Unix seconds"},
        {"{\"type\":\"StateChange\",\"host\":\"h\",\"state\":0,\"timestamp\":1e300}", "timestamp",
         "out of range"},
        {"{\"type\":\"Notification\",\"host\":\"h\"}", "notification_type", "missing"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Boom\"}",
         "notification_type", "unknown notification type \"Boom\""},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Problem\","
         "\"check_result\":[]}",
         "check_result", "expected an object"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Problem\","
         "\"check_result\":{\"output\":5}}",
         "check_result.output", "expected a string"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Problem\","
         "\"check_result\":{\"state\":9}}",
         "check_result.state", "from 0 to 3"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Problem\","
         "\"users\":[\"a\",3]}",
         "users[1]", "expected a string"},
        {"{\"type\":\"Notification\",\"host\":\"h\",\"notification_type\":\"Problem\","
         "\"users\":\"a\"}",
         "users", "array of strings"},
        {"{\"type\":\"CheckResult\",\"host\":\"h\"}", "check_result", "missing"},
        {"{\"type\":\"DowntimeAdded\",\"downtime\":5}", "downtime", "expected an object"},
        {"{\"type\":\"CommentAdded\",\"comment\":{\"host_name\":1}}", "comment.host_name",
         "expected a string"},
        {"{\"type\":\"ObjectCreated\",\"object_type\":\"Host\"}", "object_name", "missing"},
        {"{\"type\":\"AcknowledgementSet\",\"host\":\"h\",\"author\":7}", "author",
         "expected a string"},
        /* Nagios. */
        {"{\"HOSTSTATE\":\"DOWN\"}", "HOSTNAME", "missing the host name"},
        {"{\"NAGIOS_HOSTNAME\":\"\",\"NAGIOS_HOSTSTATE\":\"DOWN\"}", "NAGIOS_HOSTNAME",
         "missing the host name"},
        {"{\"HOSTNAME\":\"h\",\"HOSTSTATE\":\"SIDEWAYS\"}", "HOSTSTATE", "unknown state"},
        {"{\"HOSTNAME\":\"h\",\"hoststate\":\"4\"}", "hoststate", "unknown state"},
        {"{\"host\":\"h\",\"service\":\"s\",\"state\":\"5\"}", "state", "unknown state"},
        {"{\"HOSTNAME\":\"h\",\"NOTIFICATIONTYPE\":\"SOMETHING\"}", "NOTIFICATIONTYPE",
         "unknown notification type \"SOMETHING\""},
        {"{\"HOSTNAME\":\"h\",\"TIMET\":\"noon\"}", "TIMET", "Unix seconds"},
        {"{\"HOSTNAME\":\"h\",\"TIMET\":1e300}", "TIMET", "Unix seconds"},
        {"{\"HOSTNAME\":\"h\",\"SERVICEOUTPUT\":[\"x\"]}", "SERVICEOUTPUT", "expected a string"},
        {"{\"HOSTNAME\":{\"a\":1}}", "HOSTNAME", "expected a string, not an object"},
        {"{\"HOSTNAME\":true}", "HOSTNAME", "a boolean"},
        {"{\"HOSTNAME\":\"h\\u0000x\"}", "HOSTNAME", "NUL byte"},
        {"{\"HOSTNAME\":\"h\",\"HOSTSTATE\":\"\\u00ff\\u0001\"}", "HOSTSTATE",
         "unknown state \"\xc3\xbf?\""},
        /* Generic. */
        {"{}", "title", "missing: expected a generic event with a title, an Alertmanager"},
        {"{\"foo\":1}", "title", "Nagios/Icinga macros"},
        {"{\"title\":1}", "title", "expected a string, not a number"},
        {"{\"title\":\"\"}", "title", "non-empty"},
        {"{\"title\":null}", "title", "non-empty"},
        {"{\"title\":\"t\",\"severty\":\"info\"}", "severty", "unknown member"},
        {"{\"title\":\"t\",\"severity\":\"meh\"}", "severity", "unknown severity \"meh\""},
        {"{\"title\":\"t\",\"severity\":8}", "severity", "from 0 to 7"},
        {"{\"title\":\"t\",\"severity\":[]}", "severity", "from 0 to 7"},
        {"{\"title\":\"t\",\"text\":5}", "text", "expected a string"},
        {"{\"title\":\"t\",\"device\":{}}", "device", "expected a string"},
        {"{\"title\":\"t\",\"device\":\"a\",\"host\":\"b\"}", "host", "not both"},
        {"{\"title\":\"t\",\"app\":false}", "app", "expected a string"},
        {"{\"title\":\"t\",\"kind\":\"alert\"}", "kind", "\"generic\" or \"change\""},
        {"{\"title\":\"t\",\"time\":\"tomorrow\"}", "time", "RFC 3339"},
        {"{\"title\":\"t\",\"time\":-1}", "time", "out of range"},
        {"{\"title\":\"t\",\"time\":1e300}", "time", "out of range"},
        {"{\"title\":\"t\",\"time\":253402300800}", "time", "out of range"},
        {"{\"title\":\"t\",\"time\":true}", "time", "expected a string"},
        {"{\"title\":\"t\",\"tags\":\"a,b\"}", "tags", "an array of strings or an object"},
        {"{\"title\":\"t\",\"tags\":[\"a\",1]}", "tags[1]", "expected a string"},
        {"{\"title\":\"t\",\"tags\":{\"a\":[]}}", "tags.a", "string, number, boolean or null"},
        {"{\"title\":\"t\",\"fields\":[]}", "fields", "expected an object"},
        {"{\"title\":\"t\",\"fields\":{\"tags\":1}}", "fields.tags", "reserved"},
        {"{\"title\":\"t\",\"fields\":{\"truncated\":1}}", "fields.truncated", "reserved"},
        {"{\"title\":\"a\\u0000b\"}", "title", "NUL byte"},
        {"{\"title\":\"t\",\"fields\":{\"n\":[1,{\"x\":\"\\u0000\"}]}}", "fields.n[1].x",
         "NUL byte"},
        {"{\"HOSTNAME\":\"h\",\"extra\":[\"\\u0000\"]}", "extra[0]", "NUL byte"},
        {"[{\"title\":\"t\"},{\"title\":\"u\",\"time\":\"x\"}]", "[1].time", "RFC 3339"},
        {"[{\"title\":\"t\"},5]", "[1]", "expected an object, not a number"},
        {"[5]", "[0]", "expected an object"},
        {"\"text\"", "", "expected a JSON object or array, not a string"},
        {"null", "", "not null"},
        /* Keys are shown printable, as valid UTF-8. */
        {"{\"title\":\"t\",\"a\\nb\\u00e9\":1}", "a?b\xc3\xa9", "unknown member"},
    };
#undef AM
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hooks_result r;
        int rc = parse_str(CT_JSON, cases[i].body, HOOKS_AUTO, &r);
        if (rc != -EPROTO || strcmp(r.path, cases[i].path) || !strstr(r.err, cases[i].err))
            fail_msg("case %zu %s: rc %d path \"%s\" err \"%s\", want path \"%s\" err ~\"%s\"", i,
                     cases[i].body, rc, r.path, r.err, cases[i].path, cases[i].err);
        assert_int_equal(r.n, 0);
        assert_null(r.ev);
        assert_null(strchr(r.err, '\n'));
        hooks_result_free(&r);
    }
    /* Forms name the field as it was sent. */
    hooks_result r;
    assert_int_equal(parse_str(CT_FORM,
                               "nagios_hostname=h&nagios_servicedesc=s&Nagios_ServiceState=BAD",
                               HOOKS_AUTO, &r),
                     -EPROTO);
    assert_string_equal(r.path, "Nagios_ServiceState");
    hooks_result_free(&r);
}

/* A body of n alerts, each with its own instance. */
static char *many_alerts(size_t n, size_t *len)
{
    buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"version\":\"4\",\"alerts\":[");
    for (size_t i = 0; i < n; i++)
        buf_printf(&b,
                   "%s{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"instance\":"
                   "\"h%zu:1\"}}",
                   i ? "," : "", i);
    buf_puts(&b, "]}");
    assert_int_equal(b.err, 0);
    return buf_steal(&b, len);
}

static void limits_alerts_nesting_sizes(void **state)
{
    (void)state;
    hooks_result r;
    size_t len;
    char *body = many_alerts(HOOKS_MAX_EVENTS, &len);
    assert_int_equal(hooks_parse(CT_JSON, body, len, NOW, HOOKS_AUTO, &r), 0);
    assert_int_equal(r.n, HOOKS_MAX_EVENTS);
    check_contract(&r);
    assert_string_equal(r.ev[999].host, "h999");
    hooks_result_free(&r);
    mem_free(body);

    body = many_alerts(10000, &len);
    assert_int_equal(hooks_parse(CT_JSON, body, len, NOW, HOOKS_AUTO, &r), -E2BIG);
    assert_string_equal(r.path, "alerts");
    assert_string_equal(r.err, "10000 events, at most 1000 per request");
    assert_null(r.ev);
    hooks_result_free(&r);
    mem_free(body);

    /* 1001 generic events in an array. */
    buf b;
    buf_init(&b, 0);
    buf_putc(&b, '[');
    for (int i = 0; i <= HOOKS_MAX_EVENTS; i++)
        buf_printf(&b, "%s{\"title\":\"t\"}", i ? "," : "");
    buf_putc(&b, ']');
    assert_int_equal(hooks_parse(CT_JSON, b.data, b.len, NOW, HOOKS_AUTO, &r), -E2BIG);
    hooks_result_free(&r);

    /* Nesting: deeper than jansson's 2048 is not JSON to us; 1000 deep inside fields is kept. */
    buf_reset(&b);
    for (int i = 0; i < 5000; i++)
        buf_putc(&b, '[');
    assert_int_equal(hooks_parse(CT_JSON, b.data, b.len, NOW, HOOKS_AUTO, &r), -EINVAL);
    assert_non_null(strstr(r.err, "invalid JSON"));
    hooks_result_free(&r);
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"deep\",\"fields\":{\"x\":");
    for (int i = 0; i < 1000; i++)
        buf_putc(&b, '[');
    for (int i = 0; i < 1000; i++)
        buf_putc(&b, ']');
    buf_puts(&b, "}}");
    assert_int_equal(hooks_parse(CT_JSON, b.data, b.len, NOW, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(strlen(r.ev[0].fields), 2006); /* {"x":[[...]]} */
    hooks_result_free(&r);

    /* 1025 form fields. */
    buf_reset(&b);
    buf_puts(&b, "HOSTNAME=h");
    for (int i = 0; i < 1024; i++)
        buf_printf(&b, "&f%d=v", i);
    assert_int_equal(hooks_parse(CT_FORM, b.data, b.len, NOW, HOOKS_AUTO, &r), -E2BIG);
    assert_non_null(strstr(r.err, "form fields"));
    hooks_result_free(&r);
    buf_free(&b);
}

static void fields_are_capped(void **state)
{
    (void)state;
    hooks_result r;
    buf b;
    buf_init(&b, 0);
    /* A 70 KB description: dropped from fields (the text keeps it), the rest stays. */
    buf_puts(&b, "{\"version\":\"4\",\"groupKey\":\"");
    for (int i = 0; i < 5000; i++)
        buf_putc(&b, 'g');
    buf_puts(&b, "\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},"
                 "\"annotations\":{\"summary\":\"s\",\"description\":\"");
    for (int i = 0; i < 70000; i++)
        buf_putc(&b, 'd');
    buf_puts(&b, "\"}}]}");
    assert_int_equal(hooks_parse(CT_JSON, b.data, b.len, NOW, HOOKS_AUTO, &r), 0);
    check_contract(&r);
    assert_int_equal(strlen(r.ev[0].text), 70000);
    json_t *f = fields_of(&r.ev[0]);
    assert_true(json_is_true(json_object_get(f, "truncated")));
    assert_string_equal(fstr(f, "labels.alertname"), "A");
    assert_string_equal(fstr(f, "annotations.summary"), "s");
    assert_null(json_object_get(json_object_get(f, "annotations"), "description"));
    assert_null(json_object_get(f, "groupKey")); /* over 1 KiB: not repeated per alert */
    assert_string_equal(fstr(f, "status"), "firing");
    json_decref(f);
    hooks_result_free(&r);

    /* Generic fields of 100 members of 1000 bytes: as many as fit, then "truncated". */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"t\",\"fields\":{");
    for (int i = 0; i < 100; i++) {
        buf_printf(&b, "%s\"k%d\":\"", i ? "," : "", i);
        for (int j = 0; j < 1000; j++)
            buf_putc(&b, 'v');
        buf_putc(&b, '"');
    }
    buf_puts(&b, "}}");
    assert_int_equal(hooks_parse(CT_JSON, b.data, b.len, NOW, HOOKS_AUTO, &r), 0);
    size_t flen = strlen(r.ev[0].fields);
    assert_true(flen <= EVENT_FIELDS_MAX && flen > EVENT_FIELDS_MAX - 2000);
    f = fields_of(&r.ev[0]);
    assert_true(json_is_true(json_object_get(f, "truncated")));
    assert_non_null(json_object_get(f, "k0"));
    assert_int_equal(json_object_size(f), 1 + (EVENT_FIELDS_MAX - 32 - 1) / 1009);
    json_decref(f);
    hooks_result_free(&r);

    /* A member that fits the buffer but would leave no room to close it ({"a":"<65520>"} is
     * 65527 bytes) is dropped like one that does not fit. */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"t\",\"fields\":{\"a\":\"");
    for (int i = 0; i < 65520; i++)
        buf_putc(&b, 'a');
    buf_puts(&b, "\",\"b\":1}}");
    assert_int_equal(hooks_parse(CT_JSON, b.data, b.len, NOW, HOOKS_AUTO, &r), 0);
    assert_string_equal(r.ev[0].fields, "{\"b\":1,\"truncated\":true}");
    hooks_result_free(&r);

    /* Form values with invalid UTF-8 and control bytes: fields stay valid JSON of valid
     * UTF-8; the event members keep the bytes (the store repairs them). */
    assert_int_equal(
        parse_str(CT_FORM, "HOSTNAME=h%FF%C3&SERVICEOUTPUT=a%01b%0A%22%5C&x%FE=1", HOOKS_AUTO, &r),
        0);
    check_contract(&r);
    assert_string_equal(r.ev[0].host, "h\xff\xc3");
    assert_string_equal(r.ev[0].fields, "{\"HOSTNAME\":\"h\\ufffd\\ufffd\",\"SERVICEOUTPUT\":"
                                        "\"a\\u0001b\\n\\\"\\\\\",\"x\xef\xbf\xbd\":\"1\"}");
    hooks_result_free(&r);
    /* Names that differ only in invalid bytes are one name once repaired: the first is kept. */
    assert_int_equal(parse_str(CT_FORM, "HOSTNAME=h&a%FF=1&a%FE=2&a%EF%BF%BD=3", HOOKS_AUTO, &r),
                     0);
    assert_string_equal(r.ev[0].fields, "{\"HOSTNAME\":\"h\",\"a\xef\xbf\xbd\":\"1\"}");
    hooks_result_free(&r);
    buf_free(&b);
}

/* ---- allocation failure ---- */

/* Failure is injected into every allocation of ours (lib/mem). Not into jansson's: Debian's
 * jansson 2.14 aborts on some of its own (load.c lex_unget_unsave asserts after a failed
 * strbuffer append), so its allocator stays malloc, as in the server. */
static void out_of_memory_everywhere(void **state)
{
    (void)state;
    static const struct {
        const char *file, *ct;
    } bodies[] = {
        {"alertmanager-firing.json", CT_JSON},    {"alertmanager-resolved.json", NULL},
        {"nagios-service-problem.form", CT_FORM}, {"nagios-host-down.json", CT_JSON},
        {"icinga2-script.form", CT_FORM},         {"icinga2-notification.json", CT_JSON},
        {"icinga2-statechange.json", CT_JSON},    {"generic-deploy.json", CT_JSON},
        {"generic-array.json", CT_FORM},          {"short-names.form", NULL},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        hooks_result want;
        assert_int_equal(parse_fixture(bodies[i].file, bodies[i].ct, HOOKS_AUTO, &want), 0);
        int failures = 0;
        for (long k = 0;; k++) {
            hooks_result r;
            mem_fail_after(k);
            int rc = parse_fixture(bodies[i].file, bodies[i].ct, HOOKS_AUTO, &r);
            mem_fail_after(-1);
            if (rc == -ENOMEM) {
                assert_int_equal(r.n, 0);
                assert_null(r.ev);
                assert_null(r.chunks_);
                hooks_result_free(&r);
                failures++;
                continue;
            }
            if (rc)
                fail_msg("%s with %ld allocations: rc %d (%s: %s)", bodies[i].file, k, rc, r.path,
                         r.err);
            assert_int_equal(r.n, want.n);
            for (size_t j = 0; j < r.n; j++) {
                assert_string_equal(r.ev[j].title, want.ev[j].title);
                assert_string_equal(r.ev[j].fields, want.ev[j].fields);
                assert_string_equal(r.ev[j].fingerprint, want.ev[j].fingerprint);
            }
            hooks_result_free(&r);
            break;
        }
        assert_true(failures >= 2); /* events, strings, fields at least */
        hooks_result_free(&want);
    }
}

static void format_names(void **state)
{
    (void)state;
    for (int f = 0; f < HOOKS_FORMAT_N; f++)
        assert_int_equal(hooks_format_parse(hooks_format_name((hooks_format)f)), f);
    assert_int_equal(hooks_format_parse(""), HOOKS_AUTO);
    assert_int_equal(hooks_format_parse(NULL), HOOKS_AUTO);
    assert_int_equal(hooks_format_parse("prometheus"), -1);
    assert_string_equal(hooks_format_name((hooks_format)99), "auto");
    hooks_result r;
    assert_int_equal(parse_str(CT_JSON, "{\"title\":\"t\"}", (hooks_format)99, &r), -EINVAL);
    hooks_result_free(&r);
    assert_int_equal(hooks_parse(CT_JSON, NULL, 0, NOW, HOOKS_AUTO, &r), -EINVAL);
    assert_string_equal(r.err, "empty body");
    hooks_result_free(&r);
}

int main(void)
{
    setenv("TZ", "Pacific/Chatham", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(am_firing_group),
        cmocka_unit_test(am_resolved_group_keeps_identity),
        cmocka_unit_test(am_fingerprint_as_alertmanager),
        cmocka_unit_test(am_host_title_severity),
        cmocka_unit_test(nagios_forms_problem_and_recovery),
        cmocka_unit_test(nagios_env_json_and_short_names),
        cmocka_unit_test(icinga2_script_form),
        cmocka_unit_test(icinga2_stream_events),
        cmocka_unit_test(generic_events),
        cmocka_unit_test(content_types_and_detection),
        cmocka_unit_test(wrong_shapes_name_the_path),
        cmocka_unit_test(limits_alerts_nesting_sizes),
        cmocka_unit_test(fields_are_capped),
        cmocka_unit_test(out_of_memory_everywhere),
        cmocka_unit_test(format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
