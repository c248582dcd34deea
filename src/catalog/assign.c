/* assign: builds assignments with one join over telemetry, probe, endpoint and device, and
 * resolves each probe's target by type (docs/probes.md). */
#include "assign.h"

#include "catalog_int.h"
#include "valid.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ROW_COLS                                                                                \
    " t.id, t.\"interval\", t.timeout, coalesce(t.jitter, 0), p.id, p.name, p.type, p.settings," \
    " e.name, e.address, e.port, e.url, d.name"
#define ROW_FROM                                                                                \
    " FROM telemetry t JOIN probe p ON p.id = t.probe JOIN endpoint e ON e.id = p.endpoint"     \
    " JOIN device d ON d.id = e.device"

uint64_t cat_store_generation(cat_store *s)
{
    return __atomic_load_n(&s->generation, __ATOMIC_SEQ_CST);
}

void cat_store_on_change(cat_store *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->on_change = fn;
    s->on_change_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* host[:port], with IPv6 addresses in brackets. */
static void hostport(char *dst, size_t cap, const char *addr, int64_t port)
{
    int v6 = strchr(addr, ':') != NULL;
    if (port)
        snprintf(dst, cap, v6 ? "[%s]:%" PRId64 : "%s:%" PRId64, addr, port);
    else
        snprintf(dst, cap, v6 ? "[%s]" : "%s", addr);
}

/* The settings of a probe of type `type` with every default filled in (a new reference). */
static json_t *resolved_settings(const char *type, const char *stored)
{
    const cat_model *m = cat_model_find("probe");
    const cat_field *f = cat_field_find(m, "settings");
    const cat_variant *v = cat_variant_find(f, type);
    json_error_t je;
    json_t *st = stored && *stored ? json_loads(stored, 0, &je) : NULL;
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    for (size_t i = 0; st && v && i < v->nfields; i++) {
        const cat_field *sf = &v->fields[i];
        json_t *cur = json_object_get(st, sf->name);
        if (sf->dflt && (!cur || json_is_null(cur))) {
            json_t *d = cat_valid_default(sf);
            if (d)
                json_object_set_new(st, sf->name, d);
        }
    }
    return st;
}

/* Builds one assignment from a row of ROW_COLS. Returns a new object or NULL (out of memory). */
static json_t *row_to_assignment(sqlite3_stmt *st)
{
    const char *type = col_text(st, 6), *addr = col_text(st, 9), *ename = col_text(st, 8);
    const char *eurl = col_text(st, 11);
    int64_t port = sqlite3_column_int64(st, 10);
    json_t *set = resolved_settings(type, col_text(st, 7));
    if (!set)
        return NULL;
    char target[2304] = "", hp[320], endpoint[320];
    const char *error = NULL;
    hostport(hp, sizeof hp, addr, port);
    snprintf(endpoint, sizeof endpoint, "%s", *ename ? ename : hp);
    if (!strcmp(type, "http")) {
        const char *u = json_string_value(json_object_get(set, "url"));
        snprintf(target, sizeof target, "%s", u ? u : *eurl ? eurl : "");
        if (!target[0])
            error = "no URL";
    } else if (!strcmp(type, "scrape")) {
        const char *scheme = json_string_value(json_object_get(set, "scheme"));
        const char *path = json_string_value(json_object_get(set, "path"));
        char h[320];
        hostport(h, sizeof h, addr, port);
        snprintf(target, sizeof target, "%s://%s%s", scheme ? scheme : "http", h,
                 path ? path : "/metrics");
    } else if (!strcmp(type, "tcp")) {
        snprintf(target, sizeof target, "%s", hp);
        if (!port)
            error = "the endpoint has no port";
    } else if (!strcmp(type, "dns") || !strcmp(type, "snmp") || !strcmp(type, "munin")) {
        int64_t dflt = !strcmp(type, "dns") ? 53 : !strcmp(type, "snmp") ? 161 : 4949;
        hostport(target, sizeof target, addr, port ? port : dflt);
    } else {
        snprintf(target, sizeof target, "%s", addr);
    }
    json_t *o = json_pack("{sI sI ss ss ss ss ss ss sI sI sI sI so}", "probe",
                          (json_int_t)sqlite3_column_int64(st, 4), "schedule",
                          (json_int_t)sqlite3_column_int64(st, 0), "name", col_text(st, 5),
                          "type", type, "device", col_text(st, 12), "endpoint", endpoint,
                          "target", target, "address", addr, "port", (json_int_t)port,
                          "interval_ms", (json_int_t)sqlite3_column_int64(st, 1), "timeout_ms",
                          (json_int_t)sqlite3_column_int64(st, 2), "jitter_ms",
                          (json_int_t)sqlite3_column_int64(st, 3), "settings", set);
    if (o && error)
        json_object_set_new(o, "error", json_string(error));
    return o;
}

static int collect(cat_store *s, const char *sql, int64_t bind, json_t **out, cat_result *r)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    json_t *arr = json_array(), *byprobe = json_object();
    *out = NULL;
    if (!arr || !byprobe) {
        rc = -ENOMEM;
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    if ((rc = cat__prepare(s, r, sql, &st))) {
        pthread_mutex_unlock(&s->mu);
        goto out;
    }
    if (bind)
        sqlite3_bind_int64(st, 1, bind);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        /* One entry per probe: the shortest interval wins (then the lowest schedule id, by the
         * ORDER BY). */
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)sqlite3_column_int64(st, 4));
        if (json_object_get(byprobe, key))
            continue;
        json_t *o = row_to_assignment(st);
        if (!o || json_object_set_new(byprobe, key, json_true()) || json_array_append_new(arr, o)) {
            rc = -ENOMEM;
            break;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = cat__sqlerr(s, r, "assignments");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (!rc) {
        *out = arr;
        arr = NULL;
    }
out:
    json_decref(arr);
    json_decref(byprobe);
    return rc;
}

int cat_assignments(cat_store *s, int64_t agent_id, json_t **out, cat_result *r)
{
    const char *sql =
        agent_id
            ? "SELECT" ROW_COLS ROW_FROM
              " WHERE coalesce(t.enabled, 1) AND coalesce(p.enabled, 1)"
              " AND NOT coalesce(d.archived, 0)"
              " AND EXISTS (SELECT 1 FROM telemetry_agents ta WHERE ta.a = t.id AND ta.b = ?)"
              " ORDER BY p.id, t.\"interval\", t.id"
            : "SELECT" ROW_COLS ROW_FROM
              " WHERE coalesce(t.enabled, 1) AND coalesce(p.enabled, 1)"
              " AND NOT coalesce(d.archived, 0)"
              " AND NOT EXISTS (SELECT 1 FROM telemetry_agents ta WHERE ta.a = t.id)"
              " ORDER BY p.id, t.\"interval\", t.id";
    return collect(s, sql, agent_id, out, r);
}

int cat_assignment_of(cat_store *s, const cat_actor *a, int64_t probe_id, json_t **out,
                      cat_result *r)
{
    json_t *arr = NULL;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = cat__visible(s, cat_model_find("probe"), a, probe_id, r);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return rc;
    /* With a schedule: its timing. Without: the defaults. */
    rc = collect(s, "SELECT" ROW_COLS ROW_FROM " WHERE p.id = ? ORDER BY t.\"interval\", t.id",
                 probe_id, &arr, r);
    if (!rc && json_array_size(arr) == 0) {
        json_decref(arr);
        arr = NULL;
        rc = collect(s,
                     "SELECT 0, 30000, 10000, 0, p.id, p.name, p.type, p.settings, e.name,"
                     " e.address, e.port, e.url, d.name FROM probe p"
                     " JOIN endpoint e ON e.id = p.endpoint JOIN device d ON d.id = e.device"
                     " WHERE p.id = ?",
                     probe_id, &arr, r);
    }
    if (rc)
        return rc;
    json_t *first = json_array_get(arr, 0);
    if (!first) {
        json_decref(arr);
        snprintf(r->msg, sizeof r->msg, "probe %lld does not exist", (long long)probe_id);
        return -ENOENT;
    }
    *out = json_incref(first);
    json_decref(arr);
    return 0;
}
