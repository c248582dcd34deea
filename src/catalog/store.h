/* store: the catalog's SQLite file and generic CRUD over every model of the table.
 *
 * One connection guarded by one mutex; every write is one IMMEDIATE transaction that also
 * appends the audit log. Objects go in as API JSON (validated by valid.c) and come out as API
 * JSON ({"id","version","created_at","updated_at", fields...}; hidden and password fields
 * never appear). Any thread.
 *
 * Errors: 0, or a negative errno with details in cat_result:
 *   -EACCES  the actor's role may not do this (403)
 *   -ENOENT  no such object, or not visible to the actor (404)
 *   -EINVAL  bad input: with r->errors (a field → message object) a validation failure (422),
 *            without it a bad list parameter (400); r->msg says what
 *   -ESTALE  the object changed since the version the caller sent (409)
 *   -EBUSY   delete refused: still referenced (409)
 *   -ENOMEM, -EIO (SQLite failure; r->msg has SQLite's message) */
#ifndef DD_CAT_STORE_H
#define DD_CAT_STORE_H

#include "model.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cat_store cat_store;

/* Who is asking: the effective catalog role, the user (0 for file tokens and agents) whose
 * groups limit visibility, and the name recorded in the audit log. */
typedef struct cat_actor {
    cat_role role;
    int64_t user_id;
    const char *name;
} cat_actor;

typedef struct cat_result {
    char msg[512];
    json_t *errors; /* owned; freed by cat_result_clear */
} cat_result;

void cat_result_clear(cat_result *r);

/* Opens (creating if needed) the catalog file at path and applies every pending migration.
 * Returns 0 or -errno with the reason in err. */
int cat_store_open(cat_store **out, const char *path, char *err, size_t errlen);
/* Closes. Accepts NULL. */
void cat_store_close(cat_store *s);
/* The schema version of the open file. */
int cat_store_version(cat_store *s);
/* Child devices (containers, VMs) an agent stopped reporting are archived after this long
 * (default 1 hour). */
void cat_store_set_archive_after(cat_store *s, int64_t ms);

/* A list request: filters as name=value pairs (field names of the model, or id), an
 * optional substring search over string fields, sort ("name" or "-name"), paging. */
typedef struct cat_query {
    const char *const *keys;
    const char *const *vals;
    size_t n;
    const char *q;
    const char *sort;
    int64_t limit; /* 0: 100; at most 1000 */
    int64_t offset;
} cat_query;

/* Lists visible objects: *rows is a new JSON array, *total the count without paging. */
int cat_list(cat_store *s, const cat_model *m, const cat_actor *a, const cat_query *q,
             json_t **rows, int64_t *total, cat_result *r);
/* Gets one visible object (*obj a new reference). */
int cat_get(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id, json_t **obj,
            cat_result *r);
/* Creates an object from API JSON; *obj is the stored object as API JSON (with "secret" for
 * models with a secret field: shown this once). */
int cat_create(cat_store *s, const cat_model *m, const cat_actor *a, const json_t *in,
               json_t **obj, cat_result *r);
/* Updates the fields present in `in`. if_version > 0 demands that the stored version equal
 * it (optimistic concurrency). */
int cat_update(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id,
               const json_t *in, int64_t if_version, json_t **obj, cat_result *r);
/* Deletes an object (references with on_delete restrict refuse, cascade and set_null
 * follow). */
int cat_delete(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id,
               cat_result *r);

/* Audit log, newest first. Filters (each may be NULL/0): model, object id, actor name. */
int cat_audit_list(cat_store *s, const char *model, int64_t object, const char *actor,
                   int64_t limit, int64_t offset, json_t **rows, int64_t *total, cat_result *r);

#endif
