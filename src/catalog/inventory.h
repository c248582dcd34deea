/* inventory: agent enrollment and the inventory history of devices (documents stored only
 * when they change; "what changed" as a list of path/before/after). Any thread. */
#ifndef DD_CAT_INVENTORY_H
#define DD_CAT_INVENTORY_H

#include "store.h"

#include <jansson.h>
#include <stdint.h>

typedef struct cat_enrollment {
    int64_t agent, device;
    char token[80]; /* the new agent token, shown once */
} cat_enrollment;

/* Enrolls an agent from the enroll request body {"hostname","machine_id","version",
 * "dmi_uuid"}: finds or creates its device (by machine id, then host name) and agent record,
 * revokes the agent's earlier tokens and issues a new agent token. actor names the enrolling
 * credential for the audit log. Returns 0, -EINVAL (errors in r) or -EIO. */
int cat_enroll(cat_store *s, const json_t *req, const char *actor, cat_enrollment *out,
               cat_result *r);

/* Stores an agent's inventory document for its device when it differs from the last one.
 * *stored is 1 when a new record was written. May also set the device's kind (vm, container)
 * and machine id from the document when they are unset or the default. Returns 0, -ENOENT
 * (no such agent, or it has no device: message in r), -EINVAL or -EIO. */
int cat_inventory_put(cat_store *s, int64_t agent, const json_t *doc, int *stored,
                      cat_result *r);
/* The latest document of a device visible to a: {"id","ts","agent","doc"}; -ENOENT when the
 * device is not visible or has no inventory yet. */
int cat_inventory_latest(cat_store *s, const cat_actor *a, int64_t device, json_t **out,
                         cat_result *r);
/* The device's inventory records, newest first: [{"id","ts"}...] (at most 1000). */
int cat_inventory_history(cat_store *s, const cat_actor *a, int64_t device, json_t **out,
                          cat_result *r);
/* Changes between the documents in force at times from and to (ms):
 * {"from":{"id","ts"}|null,"to":{...}|null,"changes":[{"path","before","after"}...]}. */
int cat_inventory_diff(cat_store *s, const cat_actor *a, int64_t device, int64_t from,
                       int64_t to, json_t **out, cat_result *r);

/* The changes from document a to b (either may be NULL): appends {"path","before","after"}
 * objects to changes. Arrays of objects that all carry "name" (or "mountpoint") are matched
 * by it ("disks[sda].size_bytes"), other arrays by index. Returns 0 or -ENOMEM. */
int cat_json_diff(const json_t *a, const json_t *b, json_t *changes);

#endif
