/* hmap: a hash map from byte-string keys to pointers (open addressing, linear probing).
 *
 * Keys are copied into the map; values are the caller's. Iteration order is unspecified.
 * Not thread-safe: the owner's lock protects it. */
#ifndef DD_HMAP_H
#define DD_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hmap_entry {
    char *key;
    size_t klen;
    uint64_t hash;
    void *value;
} hmap_entry;

typedef struct hmap {
    hmap_entry *slots;
    size_t cap; /* power of two */
    size_t len;
} hmap;

void hmap_init(hmap *m);
/* Frees the map's memory and keys (not the values). */
void hmap_free(hmap *m);
uint64_t hmap_hash(const void *key, size_t klen);
/* Returns the value stored under key, or NULL. */
void *hmap_get(const hmap *m, const void *key, size_t klen);
/* Stores value under key, replacing an existing value. Returns 0 or -ENOMEM. */
int hmap_put(hmap *m, const void *key, size_t klen, void *value);
/* Removes key; returns its value or NULL. */
void *hmap_del(hmap *m, const void *key, size_t klen);
/* Iterates: start with *pos = 0; returns the next entry or NULL at the end. */
hmap_entry *hmap_next(const hmap *m, size_t *pos);

#endif
