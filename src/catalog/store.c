/* store: SQLite schema from the model table, migrations, and generic CRUD with audit.
 *
 * Tables: one STRICT table per model (id, version, created_at, updated_at, then one column per
 * field; REFS fields live in link tables "<model>_<field>"(a, b)); plus audit, session and
 * inventory. Migrations are derived from the `since` versions in the model table: version v
 * creates the models introduced in v and adds the fields introduced in v to older models.
 * PRAGMA user_version records the last applied version. */
#include "catalog_int.h"

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "valid.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define SQL_MAX (256 * 1024)

/* System tables, by the schema version that introduced them. */
static const struct {
    int version;
    const char *sql;
} system_sql[] = {
    {1, "CREATE TABLE audit (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
        " model TEXT NOT NULL, object INTEGER NOT NULL, action TEXT NOT NULL,"
        " changes TEXT NOT NULL) STRICT"},
    {1, "CREATE INDEX audit_object ON audit(model, object)"},
    {1, "CREATE TABLE session (hash TEXT PRIMARY KEY, user INTEGER NOT NULL"
        " REFERENCES \"user\"(id) ON DELETE CASCADE, csrf TEXT NOT NULL,"
        " created INTEGER NOT NULL, expires INTEGER NOT NULL, last_seen INTEGER NOT NULL)"
        " STRICT"},
    {1, "CREATE INDEX session_user ON session(user)"},
    {1, "CREATE TABLE inventory (id INTEGER PRIMARY KEY, device INTEGER NOT NULL"
        " REFERENCES device(id) ON DELETE CASCADE, agent INTEGER, ts INTEGER NOT NULL,"
        " hash TEXT NOT NULL, doc TEXT NOT NULL) STRICT"},
    {1, "CREATE INDEX inventory_device ON inventory(device, ts)"},
};

void cat_result_clear(cat_result *r)
{
    json_decref(r->errors);
    r->errors = NULL;
    r->msg[0] = '\0';
}

static void setmsg(cat_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setmsg(cat_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

int cat__sqlerr(cat_store *s, cat_result *r, const char *what)
{
    setmsg(r, "%s: %s", what, sqlite3_errmsg(s->db));
    log_error("catalog: %s", r->msg);
    return -EIO;
}

int cat__prepare(cat_store *s, cat_result *r, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return cat__sqlerr(s, r, "prepare");
    return 0;
}

static int bind_fmt(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 0; fmt && fmt[i]; i++) {
        int rc;
        if (fmt[i] == 'i')
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        else {
            const char *t = va_arg(ap, const char *);
            rc = t ? sqlite3_bind_text(st, i + 1, t, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

int cat__exec(cat_store *s, cat_result *r, const char *fmt, const char *sql, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = cat__prepare(s, r, sql, &st);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, sql);
    int brc = bind_fmt(st, fmt, ap);
    va_end(ap);
    int step = brc == SQLITE_OK ? sqlite3_step(st) : brc;
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = cat__sqlerr(s, r, "write");
    sqlite3_finalize(st);
    return rc;
}

int cat__begin(cat_store *s, cat_result *r)
{
    pthread_mutex_lock(&s->mu);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = cat__sqlerr(s, r, "begin");
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    return 0;
}

int cat__end(cat_store *s, int rc, cat_result *r)
{
    if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = cat__sqlerr(s, r, "commit");
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else
        __atomic_add_fetch(&s->generation, 1, __ATOMIC_SEQ_CST);
    void (*fn)(void *) = s->on_change;
    void *ctx = s->on_change_ctx;
    pthread_mutex_unlock(&s->mu);
    if (!rc && fn)
        fn(ctx);
    return rc;
}

void cat__hash_secret(const char *secret, char *out)
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, strlen(secret), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---------------------------------------------------------------- schema */

static const char *col_type(const cat_field *f)
{
    switch (f->type) {
    case CAT_INT:
    case CAT_BOOL:
    case CAT_REF:
    case CAT_TIME:
    case CAT_DURATION: return "INTEGER";
    case CAT_NUMBER: return "REAL";
    default: return "TEXT";
    }
}

static const char *on_delete_sql(cat_on_delete od)
{
    return od == CAT_CASCADE ? "CASCADE" : od == CAT_SET_NULL ? "SET NULL" : "RESTRICT";
}

static void col_decl(buf *b, const cat_field *f)
{
    buf_printf(b, ", \"%s\" %s", f->name, col_type(f));
    if (f->type == CAT_REF)
        buf_printf(b, " REFERENCES \"%s\"(id) ON DELETE %s", f->ref, on_delete_sql(f->on_delete));
}

static void index_sql(buf *b, const cat_model *m, const cat_field *f)
{
    if (f->type == CAT_REFS) {
        buf_printf(b,
                   "CREATE TABLE \"%s_%s\" (a INTEGER NOT NULL REFERENCES \"%s\"(id) ON DELETE "
                   "CASCADE, b INTEGER NOT NULL REFERENCES \"%s\"(id) ON DELETE %s, PRIMARY "
                   "KEY (a, b)) STRICT, WITHOUT ROWID;\n"
                   "CREATE INDEX \"%s_%s_b\" ON \"%s_%s\"(b);\n",
                   m->name, f->name, m->name, f->ref,
                   f->on_delete == CAT_RESTRICT ? "RESTRICT" : "CASCADE", m->name, f->name,
                   m->name, f->name);
        return;
    }
    if (f->flags & CAT_F_UNIQUE)
        buf_printf(b, "CREATE UNIQUE INDEX \"%s_%s_uq\" ON \"%s\"(\"%s\");\n", m->name, f->name,
                   m->name, f->name);
    else if (f->type == CAT_REF || (f->flags & CAT_F_INDEX))
        buf_printf(b, "CREATE INDEX \"%s_%s_ix\" ON \"%s\"(\"%s\");\n", m->name, f->name,
                   m->name, f->name);
}

/* The SQL of schema version v: new models, new fields of older models, system tables. */
static void migration_sql(buf *b, int v)
{
    size_t n;
    const cat_model *ms = cat_models(&n);
    for (size_t i = 0; i < n; i++) {
        const cat_model *m = &ms[i];
        if (m->since == v) {
            buf_printf(b,
                       "CREATE TABLE \"%s\" (id INTEGER PRIMARY KEY AUTOINCREMENT, version INTEGER NOT NULL "
                       "DEFAULT 1, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL",
                       m->name);
            for (size_t j = 0; j < m->nfields; j++)
                if (m->fields[j].type != CAT_REFS && cat_field_since(m, &m->fields[j]) <= v)
                    col_decl(b, &m->fields[j]);
            buf_puts(b, ") STRICT;\n");
            for (size_t j = 0; j < m->nfields; j++)
                if (cat_field_since(m, &m->fields[j]) <= v)
                    index_sql(b, m, &m->fields[j]);
        } else if (m->since < v) {
            for (size_t j = 0; j < m->nfields; j++) {
                const cat_field *f = &m->fields[j];
                if (f->since != v)
                    continue;
                if (f->type != CAT_REFS) {
                    /* col_decl writes ", name TYPE ..." for CREATE TABLE: drop the comma. */
                    buf_printf(b, "ALTER TABLE \"%s\" ADD COLUMN", m->name);
                    size_t at = b->len;
                    col_decl(b, f);
                    if (!b->err && b->len > at && b->data[at] == ',')
                        b->data[at] = ' ';
                    buf_puts(b, ";\n");
                }
                index_sql(b, m, f);
            }
        }
    }
    for (size_t i = 0; i < sizeof system_sql / sizeof system_sql[0]; i++)
        if (system_sql[i].version == v)
            buf_printf(b, "%s;\n", system_sql[i].sql);
}

static int migrate(cat_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int have = 0, want = cat_schema_version();
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (have > want) {
        snprintf(err, errlen,
                 "the catalog's schema version %d is newer than this dashdot's (%d): "
                 "upgrade dashdot or restore an older catalog",
                 have, want);
        return -EINVAL;
    }
    for (int v = have + 1; v <= want; v++) {
        buf b;
        buf_init(&b, SQL_MAX);
        buf_puts(&b, "BEGIN IMMEDIATE;\n");
        migration_sql(&b, v);
        buf_printf(&b, "PRAGMA user_version = %d;\nCOMMIT;\n", v);
        char *emsg = NULL;
        int rc = b.err ? SQLITE_NOMEM : sqlite3_exec(s->db, b.data, NULL, NULL, &emsg);
        buf_free(&b);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "catalog migration to version %d failed: %s", v,
                     emsg ? emsg : sqlite3_errstr(rc));
            sqlite3_free(emsg);
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
        log_info("catalog: schema migrated to version %d", v);
    }
    s->version = want;
    return 0;
}

int cat_store_open(cat_store **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    cat_store *s = mem_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->thr_mu, NULL);
    s->archive_after_ms = 3600000;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the catalog %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        cat_store_close(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char *emsg = NULL;
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
                     NULL, NULL, &emsg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up the catalog %s: %s", path,
                 emsg ? emsg : "unknown error");
        sqlite3_free(emsg);
        cat_store_close(s);
        return -EIO;
    }
    if ((rc = migrate(s, err, errlen))) {
        cat_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void cat_store_close(cat_store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->thr_mu);
    mem_free(s->throttle);
    mem_free(s);
}

int cat_store_version(cat_store *s)
{
    return s->version;
}

void cat_store_set_archive_after(cat_store *s, int64_t ms)
{
    s->archive_after_ms = ms;
}

/* ---------------------------------------------------------------- values <-> columns */

static int bind_value(sqlite3_stmt *st, int idx, const cat_field *f, const json_t *v)
{
    if (!v || json_is_null(v))
        return sqlite3_bind_null(st, idx);
    switch (f->type) {
    case CAT_INT:
    case CAT_REF:
    case CAT_TIME:
    case CAT_DURATION: return sqlite3_bind_int64(st, idx, json_integer_value(v));
    case CAT_BOOL: return sqlite3_bind_int(st, idx, json_is_true(v));
    case CAT_NUMBER: return sqlite3_bind_double(st, idx, json_number_value(v));
    case CAT_TAGS:
    case CAT_OBJECT: {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t)
            return SQLITE_NOMEM;
        return sqlite3_bind_text(st, idx, t, -1, free);
    }
    default:
        return sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_TRANSIENT);
    }
}

static json_t *column_value(sqlite3_stmt *st, int idx, const cat_field *f)
{
    if (sqlite3_column_type(st, idx) == SQLITE_NULL)
        return json_null();
    switch (f->type) {
    case CAT_INT:
    case CAT_REF:
    case CAT_TIME:
    case CAT_DURATION: return json_integer(sqlite3_column_int64(st, idx));
    case CAT_BOOL: return json_boolean(sqlite3_column_int(st, idx));
    case CAT_NUMBER: return json_real(sqlite3_column_double(st, idx));
    case CAT_TAGS:
    case CAT_OBJECT: {
        json_error_t je;
        json_t *v = json_loadb((const char *)sqlite3_column_text(st, idx),
                               (size_t)sqlite3_column_bytes(st, idx), 0, &je);
        return v ? v : json_null();
    }
    default:
        return json_stringn((const char *)sqlite3_column_text(st, idx),
                            (size_t)sqlite3_column_bytes(st, idx));
    }
}

int cat__load(cat_store *s, const cat_model *m, int64_t id, json_t **out, cat_result *r)
{
    buf sql;
    sqlite3_stmt *st = NULL;
    json_t *o = NULL;
    int rc = 0;
    buf_init(&sql, SQL_MAX);
    buf_puts(&sql, "SELECT id, version, created_at, updated_at");
    for (size_t j = 0; j < m->nfields; j++)
        if (m->fields[j].type != CAT_REFS)
            buf_printf(&sql, ", \"%s\"", m->fields[j].name);
    buf_printf(&sql, " FROM \"%s\" WHERE id = ?", m->name);
    if (sql.err) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = cat__prepare(s, r, sql.data, &st)))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        setmsg(r, "%s %lld does not exist", m->name, (long long)id);
        rc = -ENOENT;
        goto out;
    }
    if (step != SQLITE_ROW) {
        rc = cat__sqlerr(s, r, "read");
        goto out;
    }
    if (!(o = json_object())) {
        rc = -ENOMEM;
        goto out;
    }
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "version", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "created_at", json_integer(sqlite3_column_int64(st, 2)));
    json_object_set_new(o, "updated_at", json_integer(sqlite3_column_int64(st, 3)));
    int col = 4;
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        if (f->type == CAT_REFS)
            continue;
        json_object_set_new(o, f->name, column_value(st, col++, f));
    }
    sqlite3_finalize(st);
    st = NULL;
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        if (f->type != CAT_REFS)
            continue;
        char q[200];
        snprintf(q, sizeof q, "SELECT b FROM \"%s_%s\" WHERE a = ? ORDER BY b", m->name,
                 f->name);
        if ((rc = cat__prepare(s, r, q, &st)))
            goto out;
        sqlite3_bind_int64(st, 1, id);
        json_t *a = json_array();
        while (a && sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(a, json_integer(sqlite3_column_int64(st, 0)));
        sqlite3_finalize(st);
        st = NULL;
        json_object_set_new(o, f->name, a ? a : json_array());
    }
    *out = o;
    o = NULL;
out:
    sqlite3_finalize(st);
    json_decref(o);
    buf_free(&sql);
    return rc;
}

/* Leaves secrets (settings shown with the password widget: probe credentials, sensor
 * secrets) out of an object's settings for readers who may not change it: they need not see
 * them, and a viewer token must not leak what senders authenticate with. */
static void mask_secrets(const cat_field *f, const json_t *stored, json_t *out)
{
    json_t *set = json_object_get(out, f->name);
    const char *by = json_string_value(json_object_get(stored, f->variants->by));
    if (!json_is_object(set) || !by)
        return;
    for (size_t c = 0; c < f->variants->ncases; c++) {
        const cat_variant *v = &f->variants->cases[c];
        if (strcmp(v->value, by) != 0)
            continue;
        for (size_t k = 0; k < v->nfields; k++)
            if (v->fields[k].widget && !strcmp(v->fields[k].widget, "password"))
                json_object_del(set, v->fields[k].name);
    }
}

/* API JSON of a stored object: system fields formatted, hidden and password fields left out,
 * and secret settings too for an actor below the model's write role. */
static json_t *to_api(const cat_model *m, const cat_actor *a, const json_t *stored)
{
    json_t *o = json_object();
    char t[48];
    if (!o)
        return NULL;
    json_object_set(o, "id", json_object_get(stored, "id"));
    json_object_set(o, "version", json_object_get(stored, "version"));
    timeutil_format_rfc3339(json_integer_value(json_object_get(stored, "created_at")), t,
                            sizeof t);
    json_object_set_new(o, "created_at", json_string(t));
    timeutil_format_rfc3339(json_integer_value(json_object_get(stored, "updated_at")), t,
                            sizeof t);
    json_object_set_new(o, "updated_at", json_string(t));
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        if (f->flags & CAT_F_HIDDEN || f->type == CAT_PASSWORD)
            continue;
        json_object_set_new(o, f->name, cat_valid_output(f, json_object_get(stored, f->name)));
        if (f->type == CAT_OBJECT && f->variants && a && a->role < m->write)
            mask_secrets(f, stored, o);
    }
    return o;
}

/* ---------------------------------------------------------------- visibility */

/* The groups of a user (empty: no group restriction). */
static int user_groups(cat_store *s, int64_t user, buf *list, cat_result *r)
{
    sqlite3_stmt *st = NULL;
    int rc = cat__prepare(s, r, "SELECT b FROM \"user_groups\" WHERE a = ? ORDER BY b", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, user);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        buf_printf(list, "%s%lld", n++ ? "," : "", (long long)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return list->err ? -ENOMEM : 0;
}

/* Appends "<table>.id IN (...)" restricting m to objects visible to a member of `groups`
 * (a comma-separated id list). Returns 1 when a clause was written, 0 when m is not scoped. */
static int scope_clause(buf *b, const cat_model *m, const char *groups, int depth)
{
    if (!m->scope || depth > 8)
        return 0;
    const cat_field *f = cat_field_find(m, m->scope);
    if (!f)
        return 0;
    if (f->type == CAT_REFS) {
        buf_printf(b, "\"%s\".id IN (SELECT a FROM \"%s_%s\" WHERE b IN (%s))", m->name,
                   m->name, f->name, groups);
        return 1;
    }
    const cat_model *t = cat_model_find(f->ref);
    if (!t || !t->scope)
        return 0;
    buf_printf(b, "\"%s\".\"%s\" IN (SELECT id FROM \"%s\" WHERE ", m->name, f->name, t->name);
    scope_clause(b, t, groups, depth + 1);
    buf_puts(b, ")");
    return 1;
}

/* Builds the actor's visibility clause for m into b (empty when everything is visible). */
static int visibility(cat_store *s, const cat_model *m, const cat_actor *a, buf *b,
                      cat_result *r)
{
    if (!m->scope || a->role >= CAT_ROLE_ADMIN || a->user_id <= 0)
        return 0;
    buf groups;
    buf_init(&groups, 1 << 20);
    int rc = user_groups(s, a->user_id, &groups, r);
    if (!rc && groups.len)
        scope_clause(b, m, groups.data, 0);
    buf_free(&groups);
    return rc ? rc : b->err ? -ENOMEM : 0;
}

/* Is object id of m visible to a? 0 yes, -ENOENT no. Caller holds the lock. */
int cat__visible(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id,
                         cat_result *r)
{
    buf v, sql;
    buf_init(&v, SQL_MAX);
    buf_init(&sql, SQL_MAX);
    int rc = visibility(s, m, a, &v, r);
    if (!rc && v.len) {
        sqlite3_stmt *st = NULL;
        buf_printf(&sql, "SELECT 1 FROM \"%s\" WHERE id = ? AND %s", m->name, v.data);
        if (sql.err)
            rc = -ENOMEM;
        else if (!(rc = cat__prepare(s, r, sql.data, &st))) {
            sqlite3_bind_int64(st, 1, id);
            if (sqlite3_step(st) != SQLITE_ROW) {
                setmsg(r, "%s %lld does not exist", m->name, (long long)id);
                rc = -ENOENT;
            }
            sqlite3_finalize(st);
        }
    }
    buf_free(&v);
    buf_free(&sql);
    return rc;
}

/* ---------------------------------------------------------------- write helpers */

static int add_field_error(cat_result *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_field_error(cat_result *r, const char *field, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!r->errors && !(r->errors = json_object()))
        return -ENOMEM;
    if (!json_object_get(r->errors, field))
        json_object_set_new(r->errors, field, json_string(msg));
    return 0;
}

/* References must name existing (and, for scoped models, visible) objects; unique fields
 * must be unused. Adds field errors to r. */
static int check_refs_unique(cat_store *s, const cat_model *m, const cat_actor *a,
                             const json_t *obj, int64_t self, cat_result *r)
{
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        json_t *v = json_object_get(obj, f->name);
        if (!v || json_is_null(v))
            continue;
        if (f->type == CAT_REF || f->type == CAT_REFS) {
            const cat_model *t = cat_model_find(f->ref);
            size_t n = f->type == CAT_REF ? 1 : json_array_size(v);
            for (size_t k = 0; k < n; k++) {
                int64_t id = json_integer_value(f->type == CAT_REF ? v : json_array_get(v, k));
                json_t *tmp = NULL;
                cat_result r2 = {0};
                int rc = cat__load(s, t, id, &tmp, &r2);
                json_decref(tmp);
                if (!rc && a)
                    rc = cat__visible(s, t, a, id, &r2);
                cat_result_clear(&r2);
                if (rc == -ENOENT) {
                    if (add_field_error(r, f->name, "%s %lld does not exist", f->ref,
                                        (long long)id))
                        return -ENOMEM;
                    break;
                }
                if (rc)
                    return rc;
            }
        }
        if (f->flags & CAT_F_UNIQUE) {
            char q[256];
            sqlite3_stmt *st = NULL;
            snprintf(q, sizeof q, "SELECT id FROM \"%s\" WHERE \"%s\" = ? AND id != ?", m->name,
                     f->name);
            int rc = cat__prepare(s, r, q, &st);
            if (rc)
                return rc;
            bind_value(st, 1, f, v);
            sqlite3_bind_int64(st, 2, self);
            if (sqlite3_step(st) == SQLITE_ROW &&
                add_field_error(r, f->name, "already used by %s %lld", m->name,
                                (long long)sqlite3_column_int64(st, 0))) {
                sqlite3_finalize(st);
                return -ENOMEM;
            }
            sqlite3_finalize(st);
        }
    }
    return r->errors && json_object_size(r->errors) ? -EINVAL : 0;
}

/* Passwords become argon2id hashes. */
static int hash_passwords(const cat_model *m, json_t *obj, cat_result *r)
{
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        const char *pw = json_string_value(json_object_get(obj, f->name));
        if (f->type != CAT_PASSWORD || !pw)
            continue;
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
            setmsg(r, "out of memory hashing the password");
            return -ENOMEM;
        }
        json_object_set_new(obj, f->name, json_string(hash));
    }
    return 0;
}

static int write_links(cat_store *s, const cat_model *m, int64_t id, const json_t *obj,
                       int replace, cat_result *r)
{
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        json_t *v = json_object_get(obj, f->name);
        if (f->type != CAT_REFS || !v)
            continue;
        char q[200];
        int rc;
        if (replace) {
            snprintf(q, sizeof q, "DELETE FROM \"%s_%s\" WHERE a = ?", m->name, f->name);
            if ((rc = cat__exec(s, r, "i", q, id)))
                return rc;
        }
        snprintf(q, sizeof q, "INSERT OR IGNORE INTO \"%s_%s\"(a, b) VALUES (?, ?)", m->name,
                 f->name);
        for (size_t k = 0; k < json_array_size(v); k++)
            if ((rc = cat__exec(s, r, "ii", q, id,
                                (int64_t)json_integer_value(json_array_get(v, k)))))
                return rc;
    }
    return 0;
}

/* The audit form of a value: as the API shows it, passwords masked. */
static json_t *audit_value(const cat_field *f, const json_t *stored)
{
    if (f->type == CAT_PASSWORD)
        return json_string("***");
    return cat_valid_output(f, stored);
}

int cat__audit(cat_store *s, cat_result *r, const char *actor, const char *model,
               int64_t object, const char *action, const json_t *changes)
{
    char *t = json_dumps(changes, JSON_COMPACT | JSON_SORT_KEYS);
    if (!t)
        return -ENOMEM;
    int rc = cat__exec(s, r, "itsits",
                       "INSERT INTO audit(ts, actor, model, object, action, changes) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       timeutil_now_ms(), actor ? actor : "?", model, object, action, t);
    free(t);
    return rc;
}

/* Changes between two stored forms (either may be NULL): {field: [before, after]}. */
static json_t *diff_fields(const cat_model *m, const json_t *before, const json_t *after,
                           const json_t *input)
{
    json_t *ch = json_object();
    for (size_t j = 0; ch && j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        if (f->flags & CAT_F_HIDDEN)
            continue;
        json_t *b = before ? json_object_get(before, f->name) : NULL;
        json_t *a = after ? json_object_get(after, f->name) : NULL;
        if (f->type == CAT_PASSWORD) {
            /* Changed when given in the input (the hashes always differ). */
            if ((after && input && json_string_value(json_object_get(input, f->name)) &&
                 json_string_length(json_object_get(input, f->name))) ||
                (!after && b && !json_is_null(b)))
                json_object_set_new(ch, f->name,
                                    json_pack("[oo]", before ? audit_value(f, b) : json_null(),
                                              after ? audit_value(f, a) : json_null()));
            continue;
        }
        json_t *ob = b ? audit_value(f, b) : json_null(), *oa = a ? audit_value(f, a) : json_null();
        if (!before && (json_is_null(oa) || (json_is_array(oa) && !json_array_size(oa)))) {
            json_decref(ob);
            json_decref(oa);
            continue;
        }
        if (json_equal(ob, oa)) {
            json_decref(ob);
            json_decref(oa);
            continue;
        }
        json_object_set_new(ch, f->name, json_pack("[oo]", ob, oa));
    }
    return ch;
}

static void new_secret(char *out, size_t cap)
{
    unsigned char raw[32];
    char b64[64];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, cap, "ddt_%s", b64);
}

static int insert_locked(cat_store *s, const cat_model *m, const cat_actor *a,
                         const char *actor, const json_t *in, int64_t *id, char *secret,
                         size_t secret_len, cat_result *r)
{
    json_t *obj = NULL, *ch = NULL;
    sqlite3_stmt *st = NULL;
    buf sql;
    int rc;
    buf_init(&sql, SQL_MAX);
    if (!(r->errors = r->errors ? r->errors : json_object()))
        return -ENOMEM;
    if ((rc = cat_valid_object(m, in, NULL, &obj, r->errors)))
        goto out;
    if ((rc = check_refs_unique(s, m, a, obj, 0, r)))
        goto out;
    if ((rc = hash_passwords(m, obj, r)))
        goto out;
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        if (!(f->flags & CAT_F_SECRET))
            continue;
        char sec[80], hash[65];
        new_secret(sec, sizeof sec);
        cat__hash_secret(sec, hash);
        json_object_set_new(obj, f->name, json_string(hash));
        if (cat_field_find(m, "prefix"))
            json_object_set_new(obj, "prefix", json_stringn(sec, 8));
        if (secret)
            snprintf(secret, secret_len, "%s", sec);
    }
    int64_t now = timeutil_now_ms();
    buf_printf(&sql, "INSERT INTO \"%s\"(created_at, updated_at", m->name);
    for (size_t j = 0; j < m->nfields; j++)
        if (m->fields[j].type != CAT_REFS)
            buf_printf(&sql, ", \"%s\"", m->fields[j].name);
    buf_puts(&sql, ") VALUES (?, ?");
    for (size_t j = 0; j < m->nfields; j++)
        if (m->fields[j].type != CAT_REFS)
            buf_puts(&sql, ", ?");
    buf_puts(&sql, ")");
    if (sql.err) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = cat__prepare(s, r, sql.data, &st)))
        goto out;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, now);
    int idx = 3;
    for (size_t j = 0; j < m->nfields; j++)
        if (m->fields[j].type != CAT_REFS &&
            bind_value(st, idx++, &m->fields[j], json_object_get(obj, m->fields[j].name)) !=
                SQLITE_OK) {
            rc = cat__sqlerr(s, r, "bind");
            goto out;
        }
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = cat__sqlerr(s, r, "insert");
        goto out;
    }
    *id = sqlite3_last_insert_rowid(s->db);
    if ((rc = write_links(s, m, *id, obj, 0, r)))
        goto out;
    if (!(ch = diff_fields(m, NULL, obj, in))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = cat__audit(s, r, actor, m->name, *id, "create", ch);
out:
    if (!rc && r->errors && !json_object_size(r->errors)) {
        json_decref(r->errors);
        r->errors = NULL;
    }
    if (rc != -EINVAL && r->errors) {
        json_decref(r->errors);
        r->errors = NULL;
    }
    if (rc == -EINVAL && r->errors && !r->msg[0])
        setmsg(r, "%zu field%s invalid", json_object_size(r->errors),
               json_object_size(r->errors) == 1 ? " is" : "s are");
    sqlite3_finalize(st);
    json_decref(obj);
    json_decref(ch);
    buf_free(&sql);
    return rc;
}

int cat__insert(cat_store *s, const cat_model *m, const char *actor, const json_t *in,
                int64_t *id, char *secret, size_t secret_len, cat_result *r)
{
    return insert_locked(s, m, NULL, actor, in, id, secret, secret_len, r);
}

/* Updates object id to the stored form `obj` (complete), bumping version; links replaced for
 * REFS fields present in `in`. */
static int write_update(cat_store *s, const cat_model *m, int64_t id, const json_t *obj,
                        const json_t *in, cat_result *r)
{
    buf sql;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    buf_init(&sql, SQL_MAX);
    buf_printf(&sql, "UPDATE \"%s\" SET version = version + 1, updated_at = ?", m->name);
    for (size_t j = 0; j < m->nfields; j++)
        if (m->fields[j].type != CAT_REFS)
            buf_printf(&sql, ", \"%s\" = ?", m->fields[j].name);
    buf_puts(&sql, " WHERE id = ?");
    if (sql.err) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = cat__prepare(s, r, sql.data, &st)))
        goto out;
    sqlite3_bind_int64(st, 1, timeutil_now_ms());
    int idx = 2;
    for (size_t j = 0; j < m->nfields; j++)
        if (m->fields[j].type != CAT_REFS &&
            bind_value(st, idx++, &m->fields[j], json_object_get(obj, m->fields[j].name)) !=
                SQLITE_OK) {
            rc = cat__sqlerr(s, r, "bind");
            goto out;
        }
    sqlite3_bind_int64(st, idx, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = cat__sqlerr(s, r, "update");
        goto out;
    }
    json_t *links = json_object();
    for (size_t j = 0; links && j < m->nfields; j++)
        if (m->fields[j].type == CAT_REFS && json_object_get(in, m->fields[j].name))
            json_object_set(links, m->fields[j].name, json_object_get(obj, m->fields[j].name));
    rc = links ? write_links(s, m, id, links, 1, r) : -ENOMEM;
    json_decref(links);
out:
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

/* Validation, checks and the write of an update; the caller has loaded `old`. */
static int update_locked(cat_store *s, const cat_model *m, const cat_actor *a, const char *actor,
                         int64_t id, const json_t *old, const json_t *in, cat_result *r)
{
    json_t *obj = NULL, *ch = NULL;
    int rc;
    if (!(r->errors = json_object()))
        return -ENOMEM;
    /* Hidden fields (the token hash) keep their values: validation starts from `old`. */
    if ((rc = cat_valid_object(m, in, old, &obj, r->errors)))
        goto out;
    if ((rc = check_refs_unique(s, m, a, obj, id, r)))
        goto out;
    if ((rc = hash_passwords(m, obj, r)))
        goto out;
    for (size_t j = 0; j < m->nfields; j++) {
        const cat_field *f = &m->fields[j];
        if (f->type == CAT_PASSWORD && !json_object_get(obj, f->name))
            json_object_set(obj, f->name, json_object_get(old, f->name));
    }
    if ((rc = write_update(s, m, id, obj, in, r)))
        goto out;
    if (!(ch = diff_fields(m, old, obj, in))) {
        rc = -ENOMEM;
        goto out;
    }
    if (json_object_size(ch))
        rc = cat__audit(s, r, actor, m->name, id, "update", ch);
    /* A new password or a disabled user ends the user's sessions. */
    if (!rc && !strcmp(m->name, "user") &&
        (json_object_get(ch, "password") || json_is_true(json_object_get(obj, "disabled"))))
        rc = cat__exec(s, r, "i", "DELETE FROM session WHERE user = ?", id);
out:
    if (rc != -EINVAL || !json_object_size(r->errors)) {
        json_decref(r->errors);
        r->errors = NULL;
    } else if (!r->msg[0])
        setmsg(r, "%zu field%s invalid", json_object_size(r->errors),
               json_object_size(r->errors) == 1 ? " is" : "s are");
    json_decref(obj);
    json_decref(ch);
    return rc;
}

int cat__patch(cat_store *s, const cat_model *m, const char *actor, int64_t id,
               const json_t *in, cat_result *r)
{
    json_t *old = NULL;
    int rc = cat__load(s, m, id, &old, r);
    if (!rc) {
        /* Server-side patches may set read-only fields: write them directly. */
        json_t *ro = json_object(), *rest = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)in, k, v)
        {
            const cat_field *f = cat_field_find(m, k);
            json_object_set(f && (f->flags & CAT_F_READONLY) ? ro : rest, k, v);
        }
        rc = update_locked(s, m, NULL, actor, id, old, rest, r);
        json_object_foreach(ro, k, v)
        {
            const cat_field *f = cat_field_find(m, k);
            json_t *sv = NULL;
            char msg[200], q[200];
            if (rc)
                break;
            if (!json_is_null(v) && cat_valid_value(f, v, &sv, msg, sizeof msg)) {
                setmsg(r, "%s: %s", k, msg);
                rc = -EINVAL;
                break;
            }
            snprintf(q, sizeof q, "UPDATE \"%s\" SET \"%s\" = ? WHERE id = ?", m->name, k);
            sqlite3_stmt *st = NULL;
            if (!(rc = cat__prepare(s, r, q, &st))) {
                bind_value(st, 1, f, sv);
                sqlite3_bind_int64(st, 2, id);
                if (sqlite3_step(st) != SQLITE_DONE)
                    rc = cat__sqlerr(s, r, "update");
                sqlite3_finalize(st);
            }
            json_decref(sv);
        }
        json_decref(ro);
        json_decref(rest);
    }
    json_decref(old);
    return rc;
}

/* ---------------------------------------------------------------- public CRUD */

static int need_role(const cat_model *m, const cat_actor *a, cat_role need, const char *what,
                     cat_result *r)
{
    if (a->role >= need)
        return 0;
    setmsg(r, "your role (%s) may not %s %s objects (needs %s)", cat_role_name(a->role), what,
           m->name, cat_role_name(need));
    return -EACCES;
}

int cat_get(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id, json_t **obj,
            cat_result *r)
{
    json_t *st = NULL;
    *obj = NULL;
    int rc = need_role(m, a, m->read, "read", r);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = cat__load(s, m, id, &st, r);
    if (!rc)
        rc = cat__visible(s, m, a, id, r);
    pthread_mutex_unlock(&s->mu);
    if (!rc && !(*obj = to_api(m, a, st)))
        rc = -ENOMEM;
    json_decref(st);
    return rc;
}

int cat_create(cat_store *s, const cat_model *m, const cat_actor *a, const json_t *in,
               json_t **obj, cat_result *r)
{
    json_t *st = NULL;
    char secret[80] = "";
    int64_t id = 0;
    *obj = NULL;
    int rc = need_role(m, a, m->write, "create", r);
    if (rc)
        return rc;
    if (!json_is_object(in)) {
        add_field_error(r, "_", "the body must be a JSON object");
        setmsg(r, "the body must be a JSON object");
        return -EINVAL;
    }
    if ((rc = cat__begin(s, r)))
        return rc;
    rc = insert_locked(s, m, a, a->name, in, &id, secret, sizeof secret, r);
    if (!rc)
        rc = cat__load(s, m, id, &st, r);
    rc = cat__end(s, rc, r);
    if (!rc) {
        if (!(*obj = to_api(m, a, st)))
            rc = -ENOMEM;
        else if (secret[0])
            json_object_set_new(*obj, "secret", json_string(secret));
    }
    sodium_memzero(secret, sizeof secret);
    json_decref(st);
    return rc;
}

int cat_update(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id,
               const json_t *in, int64_t if_version, json_t **obj, cat_result *r)
{
    json_t *old = NULL, *st = NULL;
    *obj = NULL;
    int rc = need_role(m, a, m->write, "change", r);
    if (rc)
        return rc;
    if (!json_is_object(in)) {
        add_field_error(r, "_", "the body must be a JSON object");
        setmsg(r, "the body must be a JSON object");
        return -EINVAL;
    }
    json_t *bv = json_object_get(in, "version");
    if (!if_version && json_is_integer(bv))
        if_version = json_integer_value(bv);
    if ((rc = cat__begin(s, r)))
        return rc;
    rc = cat__load(s, m, id, &old, r);
    if (!rc)
        rc = cat__visible(s, m, a, id, r);
    if (!rc && if_version > 0 && json_integer_value(json_object_get(old, "version")) != if_version) {
        setmsg(r, "%s %lld was changed by someone else (version %lld, you sent %lld): reload it",
               m->name, (long long)id,
               (long long)json_integer_value(json_object_get(old, "version")),
               (long long)if_version);
        rc = -ESTALE;
    }
    if (!rc)
        rc = update_locked(s, m, a, a->name, id, old, in, r);
    if (!rc)
        rc = cat__load(s, m, id, &st, r);
    rc = cat__end(s, rc, r);
    if (!rc && !(*obj = to_api(m, a, st)))
        rc = -ENOMEM;
    json_decref(old);
    json_decref(st);
    return rc;
}

/* Refuses a delete while restrict references point at the object. */
static int check_restrict(cat_store *s, const cat_model *m, int64_t id, cat_result *r)
{
    size_t n;
    const cat_model *ms = cat_models(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ms[i].nfields; j++) {
            const cat_field *f = &ms[i].fields[j];
            if (!f->ref || strcmp(f->ref, m->name) || f->on_delete != CAT_RESTRICT)
                continue;
            char q[200];
            sqlite3_stmt *st = NULL;
            if (f->type == CAT_REFS)
                snprintf(q, sizeof q, "SELECT count(*) FROM \"%s_%s\" WHERE b = ?", ms[i].name,
                         f->name);
            else
                snprintf(q, sizeof q, "SELECT count(*) FROM \"%s\" WHERE \"%s\" = ?",
                         ms[i].name, f->name);
            int rc = cat__prepare(s, r, q, &st);
            if (rc)
                return rc;
            sqlite3_bind_int64(st, 1, id);
            long long c = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
            sqlite3_finalize(st);
            if (c > 0) {
                setmsg(r, "%s %lld is still referenced by %lld %s%s (%s): delete or change %s "
                          "first",
                       m->name, (long long)id, c, ms[i].name, c == 1 ? "" : "s", f->name,
                       c == 1 ? "it" : "them");
                return -EBUSY;
            }
        }
    return 0;
}

/* The ids in the first column of a query with one int64 bind; *n of them in a new array. */
static int ids_of(cat_store *s, cat_result *r, const char *sql, int64_t v, int64_t **out,
                  size_t *n)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__prepare(s, r, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, v);
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (mem_grow((void **)out, &cap, *n + 1, sizeof **out, 16))
            rc = -ENOMEM;
        else
            (*out)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc;
}

/* What SQLite's ON DELETE actions will do when object id of m goes, made visible: objects
 * deleted by cascade get their own "delete" audit entries (after their own dependents),
 * objects whose reference is set to null or whose reference list loses the id get a new
 * version and an "update" entry. Restrict references anywhere in the cascade refuse. */
static int delete_effects(cat_store *s, const cat_model *m, int64_t id, const char *actor,
                          int depth, cat_result *r)
{
    size_t nm;
    const cat_model *ms = cat_models(&nm);
    int rc = depth > 8 ? 0 : check_restrict(s, m, id, r);
    for (size_t i = 0; i < nm && !rc && depth <= 8; i++)
        for (size_t j = 0; j < ms[i].nfields && !rc; j++) {
            const cat_model *mm = &ms[i];
            const cat_field *f = &mm->fields[j];
            char q[256];
            int64_t *ids = NULL;
            size_t n = 0;
            if (!f->ref || strcmp(f->ref, m->name) || f->on_delete == CAT_RESTRICT)
                continue;
            if (f->type == CAT_REFS)
                snprintf(q, sizeof q, "SELECT a FROM \"%s_%s\" WHERE b = ? ORDER BY a", mm->name,
                         f->name);
            else
                snprintf(q, sizeof q, "SELECT id FROM \"%s\" WHERE \"%s\" = ? ORDER BY id",
                         mm->name, f->name);
            if ((rc = ids_of(s, r, q, id, &ids, &n)))
                break;
            snprintf(q, sizeof q,
                     "UPDATE \"%s\" SET version = version + 1, updated_at = ? WHERE id = ?",
                     mm->name);
            for (size_t k = 0; k < n && !rc; k++) {
                if (mm == m && ids[k] == id)
                    continue;
                if (f->type == CAT_REF && f->on_delete == CAT_CASCADE) {
                    json_t *old = NULL, *ch = NULL;
                    if (!(rc = delete_effects(s, mm, ids[k], actor, depth + 1, r)) &&
                        !(rc = cat__load(s, mm, ids[k], &old, r))) {
                        ch = diff_fields(mm, old, NULL, NULL);
                        rc = ch ? cat__audit(s, r, actor, mm->name, ids[k], "delete", ch)
                                : -ENOMEM;
                    }
                    json_decref(old);
                    json_decref(ch);
                    continue;
                }
                json_t *before, *after;
                if (f->type == CAT_REF) {
                    before = json_integer(id);
                    after = json_null();
                } else {
                    json_t *old = NULL;
                    if ((rc = cat__load(s, mm, ids[k], &old, r)))
                        break;
                    before = json_deep_copy(json_object_get(old, f->name));
                    after = json_array();
                    for (size_t x = 0; x < json_array_size(before); x++)
                        if (json_integer_value(json_array_get(before, x)) != id)
                            json_array_append(after, json_array_get(before, x));
                    json_decref(old);
                }
                json_t *ch = json_pack("{s[oo]}", f->name, before, after);
                rc = ch ? cat__audit(s, r, actor, mm->name, ids[k], "update", ch) : -ENOMEM;
                json_decref(ch);
                if (!rc)
                    rc = cat__exec(s, r, "ii", q, timeutil_now_ms(), ids[k]);
            }
            mem_free(ids);
        }
    return rc;
}

int cat_delete(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id, cat_result *r)
{
    json_t *old = NULL, *ch = NULL;
    int rc = need_role(m, a, m->write, "delete", r);
    if (rc)
        return rc;
    if ((rc = cat__begin(s, r)))
        return rc;
    rc = cat__load(s, m, id, &old, r);
    if (!rc)
        rc = cat__visible(s, m, a, id, r);
    if (!rc)
        rc = delete_effects(s, m, id, a->name, 0, r);
    if (!rc) {
        char q[200];
        snprintf(q, sizeof q, "DELETE FROM \"%s\" WHERE id = ?", m->name);
        rc = cat__exec(s, r, "i", q, id);
    }
    if (!rc && !(ch = diff_fields(m, old, NULL, NULL)))
        rc = -ENOMEM;
    if (!rc)
        rc = cat__audit(s, r, a->name, m->name, id, "delete", ch);
    rc = cat__end(s, rc, r);
    json_decref(old);
    json_decref(ch);
    return rc;
}

/* ---------------------------------------------------------------- list */

typedef struct bindv {
    int kind; /* 'i' int, 't' text, 'd' double */
    int64_t i;
    double d;
    const char *t;
} bindv;

#define MAX_BINDS 64

/* Parses one filter into a WHERE term. */
static int filter_term(const cat_model *m, const char *key, const char *val, buf *w, bindv *bv,
                       size_t *nb, cat_result *r)
{
    if (*nb >= MAX_BINDS - 2) {
        setmsg(r, "too many filters");
        return -EINVAL;
    }
    const cat_field *f = cat_field_find(m, key);
    if (!strcmp(key, "id")) {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            setmsg(r, "filter id: \"%.100s\" is not an id", val);
            return -EINVAL;
        }
        buf_printf(w, " AND \"%s\".id = ?", m->name);
        bv[(*nb)++] = (bindv){.kind = 'i', .i = v};
        return 0;
    }
    if (!f || (f->flags & CAT_F_HIDDEN) || f->type == CAT_PASSWORD || f->type == CAT_OBJECT) {
        setmsg(r, "cannot filter %s by \"%.100s\"%s", m->name, key,
               !f || (f->flags & CAT_F_HIDDEN) ? ": no such field"
               : f->type == CAT_OBJECT         ? " (an object field)"
                                               : " (a write-only field)");
        return -EINVAL;
    }
    int glob = strchr(val, '*') != NULL;
    switch (f->type) {
    case CAT_INT:
    case CAT_REF:
    case CAT_TIME:
    case CAT_DURATION: {
        if ((f->type == CAT_REF && !strcmp(val, "null")) || !*val) {
            buf_printf(w, " AND \"%s\".\"%s\" IS NULL", m->name, f->name);
            return 0;
        }
        int64_t v;
        char *end;
        errno = 0;
        long long x = strtoll(val, &end, 10);
        if (f->type == CAT_TIME && timeutil_parse_time(val, &v) == 0)
            ;
        else if (f->type == CAT_DURATION && timeutil_parse_duration(val, &v) == 0)
            ;
        else if (!errno && end != val && !*end)
            v = x;
        else {
            setmsg(r, "filter %s: \"%.100s\" is not a valid value", key, val);
            return -EINVAL;
        }
        buf_printf(w, " AND \"%s\".\"%s\" = ?", m->name, f->name);
        bv[(*nb)++] = (bindv){.kind = 'i', .i = v};
        return 0;
    }
    case CAT_BOOL: {
        int b = !strcmp(val, "true") || !strcmp(val, "1");
        if (!b && strcmp(val, "false") && strcmp(val, "0")) {
            setmsg(r, "filter %s: expected true or false", key);
            return -EINVAL;
        }
        /* Absent booleans read as false (fields added later are NULL in older rows). */
        buf_printf(w, " AND coalesce(\"%s\".\"%s\", 0) = ?", m->name, f->name);
        bv[(*nb)++] = (bindv){.kind = 'i', .i = b};
        return 0;
    }
    case CAT_NUMBER: {
        char *end;
        errno = 0;
        double d = strtod(val, &end);
        if (errno || end == val || *end) {
            setmsg(r, "filter %s: \"%.100s\" is not a number", key, val);
            return -EINVAL;
        }
        buf_printf(w, " AND \"%s\".\"%s\" = ?", m->name, f->name);
        bv[(*nb)++] = (bindv){.kind = 'd', .d = d};
        return 0;
    }
    case CAT_TAGS:
        buf_printf(w, " AND EXISTS (SELECT 1 FROM json_each(\"%s\".\"%s\") WHERE value %s ?)",
                   m->name, f->name, glob ? "GLOB" : "=");
        bv[(*nb)++] = (bindv){.kind = 't', .t = val};
        return 0;
    case CAT_REFS: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            setmsg(r, "filter %s: \"%.100s\" is not an id", key, val);
            return -EINVAL;
        }
        buf_printf(w, " AND EXISTS (SELECT 1 FROM \"%s_%s\" WHERE a = \"%s\".id AND b = ?)",
                   m->name, f->name, m->name);
        bv[(*nb)++] = (bindv){.kind = 'i', .i = v};
        return 0;
    }
    default:
        buf_printf(w, " AND \"%s\".\"%s\" %s ?", m->name, f->name, glob ? "GLOB" : "=");
        bv[(*nb)++] = (bindv){.kind = 't', .t = val};
        return 0;
    }
}

static void bind_all(sqlite3_stmt *st, const bindv *bv, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        if (bv[i].kind == 'i')
            sqlite3_bind_int64(st, (int)i + 1, bv[i].i);
        else if (bv[i].kind == 'd')
            sqlite3_bind_double(st, (int)i + 1, bv[i].d);
        else
            sqlite3_bind_text(st, (int)i + 1, bv[i].t, -1, SQLITE_TRANSIENT);
    }
}

int cat_list(cat_store *s, const cat_model *m, const cat_actor *a, const cat_query *q,
             json_t **rows, int64_t *total, cat_result *r)
{
    buf where, sql, vis;
    bindv bv[MAX_BINDS];
    size_t nb = 0;
    sqlite3_stmt *st = NULL;
    json_t *out = NULL;
    int rc = need_role(m, a, m->read, "read", r);
    *rows = NULL;
    *total = 0;
    if (rc)
        return rc;
    buf_init(&where, SQL_MAX);
    buf_init(&sql, SQL_MAX);
    buf_init(&vis, SQL_MAX);
    int64_t limit = q->limit > 0 ? q->limit : LIST_DEFAULT, offset = q->offset;
    if (limit > LIST_MAX || offset < 0) {
        setmsg(r, "limit must be 1 to %d and offset at least 0", LIST_MAX);
        rc = -EINVAL;
        goto out_nolock;
    }
    buf_puts(&where, "1");
    for (size_t i = 0; i < q->n; i++)
        if ((rc = filter_term(m, q->keys[i], q->vals[i], &where, bv, &nb, r)))
            goto out_nolock;
    if (q->q && *q->q) {
        int any = 0;
        buf_puts(&where, " AND (");
        for (size_t j = 0; j < m->nfields; j++) {
            const cat_field *f = &m->fields[j];
            if ((f->type != CAT_STRING && f->type != CAT_TEXT && f->type != CAT_ENUM &&
                 f->type != CAT_TAGS) ||
                (f->flags & CAT_F_HIDDEN) || nb >= MAX_BINDS)
                continue;
            buf_printf(&where, "%sinstr(lower(coalesce(\"%s\".\"%s\", '')), lower(?)) > 0",
                       any++ ? " OR " : "", m->name, f->name);
            bv[nb++] = (bindv){.kind = 't', .t = q->q};
        }
        buf_puts(&where, any ? ")" : "0)");
    }
    const char *sort = q->sort && *q->sort ? q->sort : "id";
    int desc = sort[0] == '-';
    if (desc)
        sort++;
    const cat_field *sf = cat_field_find(m, sort);
    if (strcmp(sort, "id") && strcmp(sort, "created_at") && strcmp(sort, "updated_at") &&
        (!sf || (sf->flags & CAT_F_HIDDEN) || sf->type == CAT_REFS || sf->type == CAT_PASSWORD ||
         sf->type == CAT_OBJECT)) {
        setmsg(r, "cannot sort %s by \"%.100s\"", m->name, sort);
        rc = -EINVAL;
        goto out_nolock;
    }

    pthread_mutex_lock(&s->mu);
    if ((rc = visibility(s, m, a, &vis, r)))
        goto out;
    if (vis.len)
        buf_printf(&where, " AND %s", vis.data);
    buf_printf(&sql, "SELECT count(*) FROM \"%s\" WHERE %s", m->name, where.data);
    if (sql.err || where.err) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = cat__prepare(s, r, sql.data, &st)))
        goto out;
    bind_all(st, bv, nb);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = cat__sqlerr(s, r, "count");
        goto out;
    }
    *total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    buf_reset(&sql);
    buf_printf(&sql, "SELECT id FROM \"%s\" WHERE %s ORDER BY \"%s\" %s, id %s LIMIT %lld OFFSET %lld",
               m->name, where.data, sort, desc ? "DESC" : "ASC", desc ? "DESC" : "ASC",
               (long long)limit, (long long)offset);
    if (sql.err) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = cat__prepare(s, r, sql.data, &st)))
        goto out;
    bind_all(st, bv, nb);
    if (!(out = json_array())) {
        rc = -ENOMEM;
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = NULL;
        if ((rc = cat__load(s, m, sqlite3_column_int64(st, 0), &o, r)))
            goto out;
        json_t *api = to_api(m, a, o);
        json_decref(o);
        if (!api || json_array_append_new(out, api)) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = cat__sqlerr(s, r, "list");
out:
    pthread_mutex_unlock(&s->mu);
out_nolock:
    sqlite3_finalize(st);
    if (!rc) {
        *rows = out;
        out = NULL;
    }
    json_decref(out);
    buf_free(&where);
    buf_free(&sql);
    buf_free(&vis);
    return rc;
}

int cat_audit_list(cat_store *s, const char *model, int64_t object, const char *actor,
                   int64_t limit, int64_t offset, json_t **rows, int64_t *total, cat_result *r)
{
    const char *where = "(?1 IS NULL OR model = ?1) AND (?2 = 0 OR object = ?2) AND "
                        "(?3 IS NULL OR actor = ?3)";
    char q[512];
    sqlite3_stmt *st = NULL;
    json_t *out = NULL;
    int rc = 0;
    *rows = NULL;
    if (limit <= 0)
        limit = LIST_DEFAULT;
    if (limit > LIST_MAX || offset < 0) {
        setmsg(r, "limit must be 1 to %d and offset at least 0", LIST_MAX);
        return -EINVAL;
    }
    pthread_mutex_lock(&s->mu);
    snprintf(q, sizeof q, "SELECT count(*) FROM audit WHERE %s", where);
    if ((rc = cat__prepare(s, r, q, &st)))
        goto out;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, object);
    sqlite3_bind_text(st, 3, actor, -1, SQLITE_TRANSIENT);
    *total = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    snprintf(q, sizeof q,
             "SELECT id, ts, actor, model, object, action, changes FROM audit WHERE %s "
             "ORDER BY id DESC LIMIT %lld OFFSET %lld",
             where, (long long)limit, (long long)offset);
    if ((rc = cat__prepare(s, r, q, &st)))
        goto out;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, object);
    sqlite3_bind_text(st, 3, actor, -1, SQLITE_TRANSIENT);
    out = json_array();
    while (out && sqlite3_step(st) == SQLITE_ROW) {
        char t[48];
        json_error_t je;
        timeutil_format_rfc3339(sqlite3_column_int64(st, 1), t, sizeof t);
        json_t *ch = json_loads((const char *)sqlite3_column_text(st, 6), 0, &je);
        json_t *o = json_pack("{sI ss ss ss sI ss so}", "id",
                              (json_int_t)sqlite3_column_int64(st, 0), "ts", t, "actor",
                              (const char *)sqlite3_column_text(st, 2), "model",
                              (const char *)sqlite3_column_text(st, 3), "object",
                              (json_int_t)sqlite3_column_int64(st, 4), "action",
                              (const char *)sqlite3_column_text(st, 5), "changes",
                              ch ? ch : json_object());
        if (!o || json_array_append_new(out, o)) {
            rc = -ENOMEM;
            break;
        }
    }
    if (!out)
        rc = -ENOMEM;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (!rc)
        *rows = out;
    else
        json_decref(out);
    return rc;
}
