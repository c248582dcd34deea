/* inventory: enrollment of agents, inventory history and its diff. */
#include "inventory.h"

#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "catalog_int.h"
#include "valid.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 1000
#define DIFF_MAX_CHANGES 10000

/* ---------------------------------------------------------------- diff */

static const char *array_key(const json_t *arr)
{
    static const char *keys[] = {"name", "mountpoint"};
    if (!json_array_size(arr))
        return NULL;
    for (size_t k = 0; k < 2; k++) {
        int all = 1;
        for (size_t i = 0; i < json_array_size(arr) && all; i++)
            all = json_is_string(json_object_get(json_array_get(arr, i), keys[k]));
        if (all)
            return keys[k];
    }
    return NULL;
}

static json_t *find_by(const json_t *arr, const char *key, const char *val)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        const char *v = json_string_value(json_object_get(e, key));
        if (v && !strcmp(v, val))
            return e;
    }
    return NULL;
}

static int add_change(json_t *changes, const char *path, const json_t *a, const json_t *b)
{
    if (json_array_size(changes) >= DIFF_MAX_CHANGES)
        return 0;
    json_t *c = json_pack("{ss sO sO}", "path", path, "before", a ? (json_t *)a : json_null(),
                          "after", b ? (json_t *)b : json_null());
    return c && !json_array_append_new(changes, c) ? 0 : -ENOMEM;
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int diff_at(const json_t *a, const json_t *b, char *path, size_t len, size_t cap,
                   json_t *changes)
{
    int rc = 0;
    if (a && b && json_equal(a, b))
        return 0;
    if (json_is_object(a) && json_is_object(b)) {
        /* Keys in sorted order so the result is stable. */
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            json_array_append_new(keys, json_string(k));
        }
        json_object_foreach((json_t *)b, k, v)
        {
            if (!json_object_get(a, k))
                json_array_append_new(keys, json_string(k));
        }
        size_t n = json_array_size(keys);
        const char **sorted = mem_calloc(n ? n : 1, sizeof *sorted);
        for (size_t i = 0; sorted && i < n; i++)
            sorted[i] = json_string_value(json_array_get(keys, i));
        if (sorted)
            qsort(sorted, n, sizeof *sorted, strcmp_ptr);
        for (size_t i = 0; sorted && i < n && !rc; i++) {
            size_t l = (size_t)snprintf(path + len, cap - len, "%s%s", len ? "." : "", sorted[i]);
            rc = diff_at(json_object_get(a, sorted[i]), json_object_get(b, sorted[i]), path,
                         len + l < cap ? len + l : cap - 1, cap, changes);
            path[len] = '\0';
        }
        if (!sorted)
            rc = -ENOMEM;
        mem_free(sorted);
        json_decref(keys);
        return rc;
    }
    if (json_is_array(a) && json_is_array(b)) {
        /* Keyed when both sides are (an empty side takes the other's key). */
        const char *ka = array_key(a), *kb = array_key(b);
        const char *key = ka && (kb == ka || !json_array_size(b))   ? ka
                          : kb && (ka == kb || !json_array_size(a)) ? kb
                                                                    : NULL;
        if (key) {
            for (size_t i = 0; i < json_array_size(a) && !rc; i++) {
                const char *id = json_string_value(json_object_get(json_array_get(a, i), key));
                size_t l = (size_t)snprintf(path + len, cap - len, "[%s]", id);
                rc = diff_at(json_array_get(a, i), find_by(b, key, id), path,
                             len + l < cap ? len + l : cap - 1, cap, changes);
                path[len] = '\0';
            }
            for (size_t i = 0; i < json_array_size(b) && !rc; i++) {
                const char *id = json_string_value(json_object_get(json_array_get(b, i), key));
                if (find_by(a, key, id))
                    continue;
                size_t l = (size_t)snprintf(path + len, cap - len, "[%s]", id);
                (void)l;
                rc = add_change(changes, path, NULL, json_array_get(b, i));
                path[len] = '\0';
            }
            return rc;
        }
        size_t n = json_array_size(a) > json_array_size(b) ? json_array_size(a)
                                                            : json_array_size(b);
        for (size_t i = 0; i < n && !rc; i++) {
            size_t l = (size_t)snprintf(path + len, cap - len, "[%zu]", i);
            rc = diff_at(json_array_get(a, i), json_array_get(b, i), path,
                         len + l < cap ? len + l : cap - 1, cap, changes);
            path[len] = '\0';
        }
        return rc;
    }
    return add_change(changes, len ? path : "$", a, b);
}

int cat_json_diff(const json_t *a, const json_t *b, json_t *changes)
{
    char path[1024] = "";
    return diff_at(a, b, path, 0, sizeof path, changes);
}

/* ---------------------------------------------------------------- enrollment */

static int find_id(cat_store *s, cat_result *r, const char *sql, const char *v, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    *id = 0;
    if (!v || !*v)
        return 0;
    int rc = cat__prepare(s, r, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int field_err(cat_result *r, const char *field, const char *msg)
{
    if (!r->errors && !(r->errors = json_object()))
        return -ENOMEM;
    json_object_set_new(r->errors, field, json_string(msg));
    snprintf(r->msg, sizeof r->msg, "%s: %s", field, msg);
    return -EINVAL;
}

static int plain(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
            return 0;
    return 1;
}

int cat_enroll(cat_store *s, const json_t *req, const char *actor, cat_enrollment *out,
               cat_result *r)
{
    char msg[200];
    memset(out, 0, sizeof *out);
    if (!json_is_object(req))
        return field_err(r, "_", "the body must be a JSON object");
    const char *host = json_string_value(json_object_get(req, "hostname"));
    const char *mid = json_string_value(json_object_get(req, "machine_id"));
    const char *ver = json_string_value(json_object_get(req, "version"));
    const char *dmi = json_string_value(json_object_get(req, "dmi_uuid"));
    json_t *instv = json_object_get(req, "instance");
    const char *inst = json_string_value(instv);
    if (!host || cat_valid_rule(CAT_RULE_HOSTNAME, NULL, host, msg, sizeof msg))
        return field_err(r, "hostname", host ? msg : "required");
    if (mid && *mid && !plain(mid, 64, "-"))
        return field_err(r, "machine_id", "at most 64 letters, digits and dashes");
    if (dmi && *dmi && !plain(dmi, 64, "-"))
        return field_err(r, "dmi_uuid", "at most 64 letters, digits and dashes");
    if (ver && !plain(ver, 64, ".-+_~"))
        return field_err(r, "version", "at most 64 letters, digits and . - + _ ~");
    if (instv && !json_is_null(instv) &&
        (!inst || !*inst || strlen(inst) > 200 || strpbrk(inst, "\t\r\n")))
        return field_err(r, "instance", "1 to 200 characters on one line");
    if (inst && (!*inst || !strcmp(inst, host)))
        inst = NULL; /* the default instance is the host name */
    if (mid && !*mid)
        mid = NULL;
    if (dmi && !*dmi)
        dmi = NULL;
    /* Hypervisors and DMI disagree on the case of UUIDs: compare them in lower case. */
    char dmi_lc[80];
    if (dmi) {
        size_t i = 0;
        for (; dmi[i] && i + 1 < sizeof dmi_lc; i++)
            dmi_lc[i] = (char)tolower((unsigned char)dmi[i]);
        dmi_lc[i] = '\0';
        dmi = dmi_lc;
    }

    const cat_model *dm = cat_model_find("device"), *am = cat_model_find("agent"),
                    *tm = cat_model_find("token");
    int64_t dev = 0, ag = 0, now = timeutil_now_ms();
    int rc = cat__begin(s, r);
    if (rc)
        return rc;
    /* The agent: one per machine and instance name (several agents may run on one machine
     * with different --instance names); its record is named after the instance, with the
     * machine id's start appended when another machine took the name first. */
    const char *key = inst ? inst : host;
    if (mid) {
        sqlite3_stmt *st = NULL;
        if (!(rc = cat__prepare(s, r,
                                "SELECT id FROM agent WHERE machine_id = ?1 AND "
                                "(name = ?2 OR name = ?2 || '-' || substr(?1, 1, 8)) ORDER BY id",
                                &st))) {
            sqlite3_bind_text(st, 1, mid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) == SQLITE_ROW)
                ag = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    } else
        rc = find_id(s, r, "SELECT id FROM agent WHERE name = ? AND coalesce(machine_id, '') = ''",
                     key, &ag);
    /* The device: by machine id or DMI UUID, then by host name, then by name. */
    if (!rc && !(rc = find_id(s, r, "SELECT id FROM device WHERE machine_id = ?", mid, &dev)) &&
        !dev)
        rc = find_id(s, r,
                     "SELECT id FROM device WHERE dmi_uuid = ?1 OR machine_id = ?1 ORDER BY id",
                     dmi, &dev);
    if (!rc && !dev)
        rc = find_id(s, r, "SELECT id FROM device WHERE hostname = ? ORDER BY id", host, &dev);
    if (!rc && !dev)
        rc = find_id(s, r, "SELECT id FROM device WHERE name = ?", host, &dev);
    if (!rc && !dev) {
        json_t *d = json_pack("{ss ss ss}", "name", host, "kind", "server", "hostname", host);
        if (d && (mid || dmi))
            json_object_set_new(d, "machine_id", json_string(mid ? mid : dmi));
        if (d && dmi)
            json_object_set_new(d, "dmi_uuid", json_string(dmi));
        rc = d ? cat__insert(s, dm, actor, d, &dev, NULL, 0, r) : -ENOMEM;
        json_decref(d);
    }
    /* Remember the hardware UUID, so that a hypervisor reporting this machine as its VM
     * finds this record. */
    if (!rc && dmi)
        rc = cat__exec(s, r, "si",
                       "UPDATE device SET dmi_uuid = ? WHERE id = ? AND coalesce(dmi_uuid, '') = ''",
                       dmi, dev);
    if (!rc && !ag) {
        /* Agent names are unique; a second machine with the same host name gets a suffix. */
        char name[260];
        int64_t taken = 0;
        snprintf(name, sizeof name, "%s", key);
        if (!(rc = find_id(s, r, "SELECT id FROM agent WHERE name = ?", name, &taken)) && taken)
            snprintf(name, sizeof name, "%s-%.8s", key, mid ? mid : dmi ? dmi : "2");
        json_t *a = json_pack("{ss ss sI}", "name", name, "hostname", host, "device",
                              (json_int_t)dev);
        if (a && mid)
            json_object_set_new(a, "machine_id", json_string(mid));
        rc = rc ? rc : a ? cat__insert(s, am, actor, a, &ag, NULL, 0, r) : -ENOMEM;
        json_decref(a);
    }
    if (!rc) {
        char when[48];
        timeutil_format_rfc3339(now, when, sizeof when);
        json_t *p = json_pack("{sI ss ss ss}", "device", (json_int_t)dev, "hostname", host,
                              "enrolled_at", when, "last_seen", when);
        if (p && ver)
            json_object_set_new(p, "agent_version", json_string(ver));
        rc = p ? cat__patch(s, am, actor, ag, p, r) : -ENOMEM;
        json_decref(p);
    }
    /* Earlier tokens of this agent stop working: the agent stores the new one. */
    if (!rc)
        rc = cat__exec(s, r, "i", "UPDATE token SET revoked = 1 WHERE agent = ?", ag);
    if (!rc) {
        char tname[200];
        int64_t tid;
        snprintf(tname, sizeof tname, "agent %s", host);
        json_t *t = json_pack("{ss ss sI}", "name", tname, "role", "agent", "agent",
                              (json_int_t)ag);
        rc = t ? cat__insert(s, tm, actor, t, &tid, out->token, sizeof out->token, r)
               : -ENOMEM;
        json_decref(t);
    }
    rc = cat__end(s, rc, r);
    if (!rc) {
        out->agent = ag;
        out->device = dev;
        log_info("enrolled agent %lld (device %lld, host %s)", (long long)ag, (long long)dev,
                 host);
    }
    return rc;
}

/* ---------------------------------------------------------------- inventory */

/* ---------------------------------------------------------------- child devices */

#define CHILDREN_MAX 4096

/* A container id or VM UUID: 1 to 128 letters, digits and . _ : -, compared in lower case. */
static int child_key(const char *in, char *out, size_t cap)
{
    size_t n = in ? strlen(in) : 0;
    if (n == 0 || n > 128 || n >= cap)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)in[i]) && !strchr("._:-", in[i]))
            return -EINVAL;
        out[i] = (char)tolower((unsigned char)in[i]);
    }
    out[n] = '\0';
    return 0;
}

/* Writes the device name of a child: "<host>/<name>" with control characters dropped. */
static void child_name(const char *host, const char *name, const char *key, char *out,
                       size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%.80s/", host);
    const char *src = name && *name ? name : key;
    if (*src == '/')
        src++; /* Docker reports names as "/web" */
    for (; *src && n + 1 < cap && n < 190; src++)
        if ((unsigned char)*src >= 0x20)
            out[n++] = *src;
    out[n] = '\0';
}

/* Upserts the containers (kind container, keyed by id in machine_id) or VMs (kind vm, keyed
 * by UUID in dmi_uuid, so the agent inside the VM finds the same record) an agent reports as
 * children of its device, refreshes their last_seen, and archives the children of that kind
 * not reported for the store's archive_after. Caller holds the lock and a transaction. */
static int children_sync(cat_store *s, int64_t host, const char *actor, const json_t *list,
                         const char *kind, const char *keyname, int64_t now, cat_result *r)
{
    const cat_model *dm = cat_model_find("device");
    const int vm = !strcmp(kind, "vm");
    char hostname[100] = "host";
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (!json_is_array(list) || json_array_size(list) > CHILDREN_MAX)
        return field_err(r, vm ? "vms" : "containers", "must be an array of at most 4096 objects");
    if (!(rc = cat__prepare(s, r, "SELECT name FROM device WHERE id = ?", &st))) {
        sqlite3_bind_int64(st, 1, host);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(hostname, sizeof hostname, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        st = NULL;
    }
    for (size_t i = 0; i < json_array_size(list) && !rc; i++) {
        json_t *item = json_array_get(list, i);
        char key[160], name[200];
        if (child_key(json_string_value(json_object_get(item, keyname)), key, sizeof key)) {
            char f[40];
            snprintf(f, sizeof f, "%s[%zu].%s", vm ? "vms" : "containers", i, keyname);
            return field_err(r, f, "1 to 128 letters, digits and . _ : -");
        }
        int64_t id = 0, parent = 0;
        int archived = 0, renamed = 0;
        const char *cname = json_string_value(json_object_get(item, "name"));
        if ((rc = cat__prepare(s, r,
                               "SELECT id, coalesce(parent, 0), coalesce(archived, 0), name "
                               "FROM device WHERE machine_id = ?1 OR dmi_uuid = ?1 ORDER BY id "
                               "LIMIT 1",
                               &st)))
            break;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            id = sqlite3_column_int64(st, 0);
            parent = sqlite3_column_int64(st, 1);
            archived = sqlite3_column_int(st, 2);
            /* Named after its id because the engine had not answered yet: the real name
             * replaces it (a name someone gave it by hand stays). */
            char byid[200];
            child_name(hostname, NULL, key, byid, sizeof byid);
            renamed = cname && *cname &&
                      !strncmp((const char *)sqlite3_column_text(st, 3), byid, strlen(byid));
        }
        sqlite3_finalize(st);
        st = NULL;
        if (id && renamed) {
            int64_t taken = 0;
            child_name(hostname, cname, key, name, sizeof name);
            if (!(rc = find_id(s, r, "SELECT id FROM device WHERE name = ?", name, &taken)) &&
                !taken) {
                json_t *p = json_pack("{ss}", "name", name);
                rc = p ? cat__patch(s, dm, actor, id, p, r) : -ENOMEM;
                json_decref(p);
            }
            if (rc)
                break;
        }
        if (!id) {
            int64_t taken = 0;
            child_name(hostname, cname, key, name, sizeof name);
            if ((rc = find_id(s, r, "SELECT id FROM device WHERE name = ?", name, &taken)))
                break;
            if (taken) {
                size_t l = strlen(name);
                snprintf(name + l, sizeof name - l, "-%.8s", key);
            }
            json_t *d = json_pack("{ss ss sI ss}", "name", name, "kind", kind, "parent",
                                  (json_int_t)host, vm ? "dmi_uuid" : "machine_id", key);
            rc = d ? cat__insert(s, dm, actor, d, &id, NULL, 0, r) : -ENOMEM;
            json_decref(d);
        } else if (parent != host || archived) {
            /* Back again, or moved to another host (a migrated VM). */
            json_t *p = json_pack("{sI sb}", "parent", (json_int_t)host, "archived", 0);
            rc = p ? cat__patch(s, dm, actor, id, p, r) : -ENOMEM;
            json_decref(p);
        }
        /* last_seen is runtime information: no new version, no audit entry each time. */
        if (!rc)
            rc = cat__exec(s, r, "ii", "UPDATE device SET last_seen = ? WHERE id = ?", now, id);
    }
    int64_t *gone = NULL;
    size_t ngone = 0, cap = 0;
    if (!rc && !(rc = cat__prepare(s, r,
                                   "SELECT id FROM device WHERE parent = ? AND kind = ? AND "
                                   "coalesce(archived, 0) = 0 AND coalesce(last_seen, 0) < ?",
                                   &st))) {
        sqlite3_bind_int64(st, 1, host);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now - s->archive_after_ms);
        while (!rc && sqlite3_step(st) == SQLITE_ROW)
            if (mem_grow((void **)&gone, &cap, ngone + 1, sizeof *gone, 16))
                rc = -ENOMEM;
            else
                gone[ngone++] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < ngone && !rc; i++) {
        json_t *p = json_pack("{sb}", "archived", 1);
        rc = p ? cat__patch(s, dm, actor, gone[i], p, r) : -ENOMEM;
        json_decref(p);
    }
    mem_free(gone);
    return rc;
}

int cat_inventory_put(cat_store *s, int64_t agent, const json_t *in, int *stored,
                      cat_result *r)
{
    sqlite3_stmt *st = NULL;
    char *text = NULL, hash[65], actor[120] = "agent";
    int64_t dev = 0;
    json_t *doc = NULL;
    *stored = 0;
    if (!json_is_object(in))
        return field_err(r, "_", "the inventory must be a JSON object");
    /* Containers and VMs become child devices; the history keeps the host's own inventory. */
    json_t *containers = json_object_get(in, "containers"), *vms = json_object_get(in, "vms");
    if (!(doc = json_copy((json_t *)in)))
        return -ENOMEM;
    json_object_del(doc, "containers");
    json_object_del(doc, "vms");
    if (!(text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS))) {
        json_decref(doc);
        return -ENOMEM;
    }
    cat__hash_secret(text, hash);
    int rc = cat__begin(s, r);
    if (rc) {
        free(text);
        return rc;
    }
    if (!(rc = cat__prepare(s, r, "SELECT device, name FROM agent WHERE id = ?", &st))) {
        sqlite3_bind_int64(st, 1, agent);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            dev = sqlite3_column_int64(st, 0);
            snprintf(actor, sizeof actor, "agent:%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
        st = NULL;
        if (!dev) {
            snprintf(r->msg, sizeof r->msg, "agent %lld has no device: enroll it again",
                     (long long)agent);
            rc = -ENOENT;
        }
    }
    int same = 0;
    if (!rc && !(rc = cat__prepare(s, r,
                                   "SELECT hash FROM inventory WHERE device = ? "
                                   "ORDER BY ts DESC, id DESC LIMIT 1",
                                   &st))) {
        sqlite3_bind_int64(st, 1, dev);
        same = sqlite3_step(st) == SQLITE_ROW &&
               !strcmp((const char *)sqlite3_column_text(st, 0), hash);
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!rc && !same) {
        /* The host's own kind is learned from the document (containers/vms left out). */
        rc = cat__exec(s, r, "iiiss",
                       "INSERT INTO inventory(device, agent, ts, hash, doc) VALUES (?, ?, ?, ?, ?)",
                       dev, agent, timeutil_now_ms(), hash, text);
        *stored = !rc;
        /* A device created by enrollment learns what it is from its first inventory. */
        const char *role =
            json_string_value(json_object_get(json_object_get(doc, "virtualization"), "role"));
        int inside = json_is_true(json_object_get(json_object_get(doc, "container"), "inside"));
        const char *kind = inside ? "container" : role && !strcmp(role, "guest") ? "vm" : NULL;
        if (!rc && kind)
            rc = cat__exec(s, r, "si",
                           "UPDATE device SET kind = ? WHERE id = ? AND kind = 'server'", kind,
                           dev);
    }
    int64_t now = timeutil_now_ms();
    if (!rc && containers)
        rc = children_sync(s, dev, actor, containers, "container", "id", now, r);
    if (!rc && vms)
        rc = children_sync(s, dev, actor, vms, "vm", "uuid", now, r);
    rc = cat__end(s, rc, r);
    free(text);
    json_decref(doc);
    return rc;
}

static json_t *record_json(sqlite3_stmt *st, int with_doc)
{
    char t[48];
    timeutil_format_rfc3339(sqlite3_column_int64(st, 1), t, sizeof t);
    json_t *o = json_pack("{sI ss}", "id", (json_int_t)sqlite3_column_int64(st, 0), "ts", t);
    if (o && with_doc) {
        json_error_t je;
        json_t *doc = json_loads((const char *)sqlite3_column_text(st, 2), 0, &je);
        json_object_set_new(o, "doc", doc ? doc : json_object());
        json_object_set_new(o, "agent", sqlite3_column_type(st, 3) == SQLITE_NULL
                                            ? json_null()
                                            : json_integer(sqlite3_column_int64(st, 3)));
    }
    return o;
}

/* The record in force at time t (the newest with ts <= t), or NULL. */
static int record_at(cat_store *s, int64_t device, int64_t t, json_t **out, cat_result *r)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    int rc = cat__prepare(s, r,
                          "SELECT id, ts, doc, agent FROM inventory WHERE device = ? AND ts <= ? "
                          "ORDER BY ts DESC, id DESC LIMIT 1",
                          &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, device);
    sqlite3_bind_int64(st, 2, t);
    if (sqlite3_step(st) == SQLITE_ROW && !(*out = record_json(st, 1)))
        rc = -ENOMEM;
    sqlite3_finalize(st);
    return rc;
}

static int device_visible(cat_store *s, const cat_actor *a, int64_t device, cat_result *r)
{
    json_t *o = NULL;
    const cat_model *dm = cat_model_find("device");
    if (a->role < dm->read) {
        snprintf(r->msg, sizeof r->msg, "your role may not read devices");
        return -EACCES;
    }
    int rc = cat__load(s, dm, device, &o, r);
    json_decref(o);
    return rc ? rc : cat__visible(s, dm, a, device, r);
}

int cat_inventory_latest(cat_store *s, const cat_actor *a, int64_t device, json_t **out,
                         cat_result *r)
{
    pthread_mutex_lock(&s->mu);
    int rc = device_visible(s, a, device, r);
    if (!rc && !(rc = record_at(s, device, INT64_MAX, out, r)) && !*out) {
        snprintf(r->msg, sizeof r->msg, "device %lld has no inventory yet", (long long)device);
        rc = -ENOENT;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int cat_inventory_history(cat_store *s, const cat_actor *a, int64_t device, json_t **out,
                          cat_result *r)
{
    sqlite3_stmt *st = NULL;
    json_t *arr = NULL;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = device_visible(s, a, device, r);
    if (!rc)
        rc = cat__prepare(s, r,
                          "SELECT id, ts FROM inventory WHERE device = ? ORDER BY ts DESC, id "
                          "DESC LIMIT 1000",
                          &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, device);
        arr = json_array();
        while (arr && sqlite3_step(st) == SQLITE_ROW)
            if (json_array_append_new(arr, record_json(st, 0)))
                rc = -ENOMEM;
        if (!arr)
            rc = -ENOMEM;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (!rc)
        *out = arr;
    else
        json_decref(arr);
    return rc;
}

int cat_inventory_diff(cat_store *s, const cat_actor *a, int64_t device, int64_t from,
                       int64_t to, json_t **out, cat_result *r)
{
    json_t *ra = NULL, *rb = NULL, *changes = NULL;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = device_visible(s, a, device, r);
    if (!rc)
        rc = record_at(s, device, from, &ra, r);
    if (!rc)
        rc = record_at(s, device, to, &rb, r);
    pthread_mutex_unlock(&s->mu);
    if (!rc && !(changes = json_array()))
        rc = -ENOMEM;
    /* A side without a document compares as an empty one: changes per top-level key. */
    json_t *empty = json_object();
    if (!rc && !empty)
        rc = -ENOMEM;
    if (!rc)
        rc = cat_json_diff(ra ? json_object_get(ra, "doc") : empty,
                           rb ? json_object_get(rb, "doc") : empty, changes);
    json_decref(empty);
    if (!rc) {
        json_object_del(ra, "doc");
        json_object_del(rb, "doc");
        *out = json_pack("{sO sO sO}", "from", ra ? ra : json_null(), "to", rb ? rb : json_null(),
                         "changes", changes);
        if (!*out)
            rc = -ENOMEM;
    }
    json_decref(ra);
    json_decref(rb);
    json_decref(changes);
    return rc;
}
