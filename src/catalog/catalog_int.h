/* catalog_int: internals shared by the catalog's files (store.c, access.c, inventory.c). */
#ifndef DD_CATALOG_INT_H
#define DD_CATALOG_INT_H

#include "store.h"

#include <pthread.h>
#include <sqlite3.h>

/* Failed-login counters by user name and by client address (an open-addressing table
 * that forgets the oldest entries when full). */
#define CAT_THROTTLE_SLOTS 4096
typedef struct cat_throttle_slot {
    char key[80];
    int fails;
    int64_t until_ms; /* refused before this time */
    int64_t last_ms;
} cat_throttle_slot;

struct cat_store {
    sqlite3 *db;
    pthread_mutex_t mu; /* one operation (and transaction) at a time */
    int version;
    int64_t archive_after_ms; /* child devices not reported for this long are archived */
    pthread_mutex_t thr_mu;
    cat_throttle_slot *throttle; /* CAT_THROTTLE_SLOTS, allocated on first failure */
    unsigned long long generation; /* committed changes (atomic) */
    void (*on_change)(void *ctx);  /* assign.h's listener, or NULL */
    void *on_change_ctx;
};

/* Transactions: lock + BEGIN IMMEDIATE / COMMIT or ROLLBACK + unlock. cat__begin returns 0
 * or -EIO (message in r). cat__end commits when rc == 0, else rolls back; returns rc, or
 * -EIO when the commit fails. */
int cat__begin(cat_store *s, cat_result *r);
int cat__end(cat_store *s, int rc, cat_result *r);
/* Runs one statement with optional int64 binds ('i') and text binds ('t') given by a format
 * string, e.g. cat__exec(s, r, "it", "UPDATE x SET a=? WHERE b=?", 5, "x"). For statements
 * without rows. Returns 0 or -EIO. Caller holds the lock. */
int cat__exec(cat_store *s, cat_result *r, const char *fmt, const char *sql, ...);
/* Prepares sql; returns 0 or -EIO with SQLite's message in r. */
int cat__prepare(cat_store *s, cat_result *r, const char *sql, sqlite3_stmt **st);
/* Sets r->msg from SQLite's last error and returns -EIO. */
int cat__sqlerr(cat_store *s, cat_result *r, const char *what);
/* Inserts an audit record (changes: a JSON object, borrowed). Caller holds the lock. */
int cat__audit(cat_store *s, cat_result *r, const char *actor, const char *model,
               int64_t object, const char *action, const json_t *changes);
/* Loads an object's stored form (hidden fields included) without visibility checks: *out a
 * new reference, or -ENOENT. Caller holds the lock. */
int cat__load(cat_store *s, const cat_model *m, int64_t id, json_t **out, cat_result *r);
/* Creates an object from stored-form fields without role checks (server-side creations such
 * as enrollment): validation as for cat_create. *id receives the new id. Caller holds the
 * lock and a transaction. */
int cat__insert(cat_store *s, const cat_model *m, const char *actor, const json_t *in,
                int64_t *id, char *secret, size_t secret_len, cat_result *r);
/* Updates fields of an object as the server (no role checks, audited as actor). Caller holds
 * the lock and a transaction. */
int cat__patch(cat_store *s, const cat_model *m, const char *actor, int64_t id,
               const json_t *in, cat_result *r);
/* Is object id of m visible to a (group scope)? 0 yes, -ENOENT no. Caller holds the lock. */
int cat__visible(cat_store *s, const cat_model *m, const cat_actor *a, int64_t id,
                 cat_result *r);
/* BLAKE2b-256 of a secret as 64 hex characters (out: 65 bytes). */
void cat__hash_secret(const char *secret, char *out);

#endif
