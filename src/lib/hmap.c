/* hmap: open-addressing hash map with linear probing and backward-shift deletion (no
 * tombstones, so lookups stay short however many keys come and go). */
#include "hmap.h"

#include "mem.h"

#include <errno.h>
#include <string.h>

void hmap_init(hmap *m)
{
    memset(m, 0, sizeof *m);
}

void hmap_free(hmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        mem_free(m->slots[i].key);
    mem_free(m->slots);
    memset(m, 0, sizeof *m);
}

uint64_t hmap_hash(const void *key, size_t klen)
{
    /* FNV-1a then a final mix so linear probing sees well-spread low bits. */
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static hmap_entry *find(const hmap *m, const void *key, size_t klen, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        hmap_entry *e = &m->slots[i];
        if (!e->key)
            return NULL;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    }
}

void *hmap_get(const hmap *m, const void *key, size_t klen)
{
    hmap_entry *e = find(m, key, klen, hmap_hash(key, klen));
    return e ? e->value : NULL;
}

static void insert_slot(hmap_entry *slots, size_t cap, hmap_entry e)
{
    size_t mask = cap - 1;
    size_t i = e.hash & mask;
    while (slots[i].key)
        i = (i + 1) & mask;
    slots[i] = e;
}

static int grow(hmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    hmap_entry *ns = mem_calloc(ncap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            insert_slot(ns, ncap, m->slots[i]);
    mem_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int hmap_put(hmap *m, const void *key, size_t klen, void *value)
{
    uint64_t h = hmap_hash(key, klen);
    hmap_entry *e = find(m, key, klen, h);
    if (e) {
        e->value = value;
        return 0;
    }
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m))
        return -ENOMEM;
    char *k = mem_alloc(klen + 1);
    if (!k)
        return -ENOMEM;
    memcpy(k, key, klen);
    k[klen] = '\0';
    insert_slot(m->slots, m->cap, (hmap_entry){k, klen, h, value});
    m->len++;
    return 0;
}

void *hmap_del(hmap *m, const void *key, size_t klen)
{
    hmap_entry *e = find(m, key, klen, hmap_hash(key, klen));
    if (!e)
        return NULL;
    void *v = e->value;
    mem_free(e->key);
    size_t mask = m->cap - 1;
    size_t i = (size_t)(e - m->slots);
    /* Backward-shift: move later entries of the probe run into the hole when that brings them
     * closer to their home slot. */
    size_t j = i;
    for (;;) {
        m->slots[i].key = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->slots[j].key)
                goto done;
            size_t home = m->slots[j].hash & mask;
            /* Can the entry at j move to i? Only if home is not cyclically in (i, j]. */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        m->slots[i] = m->slots[j];
        i = j;
    }
done:
    m->len--;
    return v;
}

hmap_entry *hmap_next(const hmap *m, size_t *pos)
{
    while (*pos < m->cap) {
        hmap_entry *e = &m->slots[(*pos)++];
        if (e->key)
            return e;
    }
    return NULL;
}
