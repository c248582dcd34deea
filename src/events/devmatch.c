/* devmatch: a snapshot of the catalog's devices and endpoint addresses, for matching events to
 * devices. Rebuilt through the catalog's generic list API (as an admin, every page) when the
 * catalog's generation moved, at most once a second so a burst of catalog writes does not make
 * every event rebuild it. Archived devices still match: their events are theirs. */
#include "devmatch.h"

#include "../catalog/assign.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define DEVMATCH_KEY_MAX 256

struct devmatch {
    cat_store *cat;
    pthread_mutex_t lock;
    uint64_t cat_gen;   /* catalog generation of the snapshot (+1: 0 never built) */
    int64_t checked_ms; /* last time the generation was looked at */
    uint64_t gen;       /* our own: bumped at each rebuild */
    hmap by_addr;       /* lower-case address → id */
    hmap by_host;       /* lower-case name, host name and their first labels → id */
    hmap names;         /* 8-byte id → mem_strdup'd name */
};

/* Lower-cases s into dst; returns the length or 0 when empty or too long. */
static size_t lower(const char *s, char *dst, size_t cap)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (n + 1 >= cap)
            return 0;
        dst[n] = (char)tolower((unsigned char)s[n]);
    }
    dst[n] = '\0';
    return n;
}

static void put_id(hmap *m, const char *key, int64_t id)
{
    char k[DEVMATCH_KEY_MAX];
    size_t n = lower(key, k, sizeof k);
    /* The first device to claim a key keeps it (lists come in id order). */
    if (n && !hmap_get(m, k, n) && hmap_put(m, k, n, (void *)(intptr_t)id))
        log_warn("events: out of memory building the device matcher");
}

static int64_t get_id(const hmap *m, const char *key)
{
    char k[DEVMATCH_KEY_MAX];
    size_t n = lower(key, k, sizeof k);
    return n ? (int64_t)(intptr_t)hmap_get(m, k, n) : 0;
}

/* The first label of a dotted host name ("web1" of "web1.example.com") into dst
 * (DEVMATCH_KEY_MAX bytes). Returns 1, or 0 when the name has no dot or is too long. */
static int first_label(const char *host, char *dst)
{
    const char *dot = strchr(host, '.');
    if (!dot || dot == host || (size_t)(dot - host) >= DEVMATCH_KEY_MAX)
        return 0;
    memcpy(dst, host, (size_t)(dot - host));
    dst[dot - host] = '\0';
    return 1;
}

/* Adds a host name and its first label. */
static void put_host(devmatch *m, const char *host, int64_t id)
{
    char first[DEVMATCH_KEY_MAX];
    if (!host || !*host)
        return;
    put_id(&m->by_host, host, id);
    if (first_label(host, first))
        put_id(&m->by_host, first, id);
}

static void clear_maps(devmatch *m)
{
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(&m->names, &pos)))
        mem_free(e->value);
    hmap_free(&m->names);
    hmap_free(&m->by_addr);
    hmap_free(&m->by_host);
    hmap_init(&m->names);
    hmap_init(&m->by_addr);
    hmap_init(&m->by_host);
}

static int64_t ref_id(const json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_object(v))
        return (int64_t)json_integer_value(json_object_get(v, "id"));
    return 0;
}

/* Calls fn for every object of model `name`, all pages. Returns 0 or -errno. */
static int each_object(cat_store *cat, const char *name, void (*fn)(devmatch *, json_t *),
                       devmatch *m)
{
    const cat_model *model = cat_model_find(name);
    cat_actor admin = {.role = CAT_ROLE_ADMIN, .user_id = 0, .name = "events"};
    if (!model)
        return -ENOENT;
    for (int64_t off = 0;; off += 1000) {
        cat_query q = {.limit = 1000, .offset = off, .sort = "id"};
        json_t *rows = NULL;
        int64_t total = 0;
        cat_result r = {0};
        int rc = cat_list(cat, model, &admin, &q, &rows, &total, &r);
        if (rc) {
            log_warn("events: cannot list %ss for device matching: %s", name, r.msg);
            cat_result_clear(&r);
            return rc;
        }
        size_t i;
        json_t *o;
        json_array_foreach(rows, i, o) fn(m, o);
        size_t n = json_array_size(rows);
        json_decref(rows);
        if (n < 1000 || off + (int64_t)n >= total)
            return 0;
    }
}

static void add_device(devmatch *m, json_t *o)
{
    int64_t id = (int64_t)json_integer_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    if (id <= 0 || !name)
        return;
    char *copy = mem_strdup(name);
    if (!copy || hmap_put(&m->names, &id, sizeof id, copy)) {
        mem_free(copy);
        return;
    }
    put_host(m, name, id);
    put_host(m, json_string_value(json_object_get(o, "hostname")), id);
}

static void add_endpoint(devmatch *m, json_t *o)
{
    int64_t id = ref_id(json_object_get(o, "device"));
    const char *addr = json_string_value(json_object_get(o, "address"));
    if (id > 0 && addr && *addr) {
        put_id(&m->by_addr, addr, id);
        /* An endpoint given by name matches senders that call themselves so. */
        put_host(m, addr, id);
    }
}

/* Rebuilds the snapshot when the catalog changed (caller holds the lock): at most once a
 * second, unless force (a lookup missed: the device may have just been made). */
static void refresh(devmatch *m, int force)
{
    uint64_t g = cat_store_generation(m->cat) + 1;
    if (g == m->cat_gen)
        return;
    int64_t now = timeutil_now_ms();
    if (m->cat_gen && !force && now - m->checked_ms < 1000)
        return;
    m->checked_ms = now;
    clear_maps(m);
    if (each_object(m->cat, "device", add_device, m) == 0 &&
        each_object(m->cat, "endpoint", add_endpoint, m) == 0)
        m->cat_gen = g;
    m->gen++;
}

int devmatch_new(devmatch **out, cat_store *cat)
{
    devmatch *m = mem_calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->cat = cat;
    pthread_mutex_init(&m->lock, NULL);
    hmap_init(&m->by_addr);
    hmap_init(&m->by_host);
    hmap_init(&m->names);
    *out = m;
    return 0;
}

void devmatch_free(devmatch *m)
{
    if (!m)
        return;
    clear_maps(m);
    hmap_free(&m->names);
    hmap_free(&m->by_addr);
    hmap_free(&m->by_host);
    pthread_mutex_destroy(&m->lock);
    mem_free(m);
}

static int64_t lookup(devmatch *m, const char *source, const char *host);

int64_t devmatch_find(devmatch *m, const char *source, const char *host)
{
    int64_t id = 0;
    pthread_mutex_lock(&m->lock);
    refresh(m, 0);
    for (int pass = 0; pass < 2 && !id; pass++) {
        if (pass)
            refresh(m, 1);
        id = lookup(m, source, host);
    }
    pthread_mutex_unlock(&m->lock);
    return id;
}

/* The id for source or host in the snapshot, or 0 (caller holds the lock). */
static int64_t lookup(devmatch *m, const char *source, const char *host)
{
    int64_t id = 0;
    /* The host name an event gives first: a relay (rsyslog forwarding for others) keeps the
     * origin's name; then the sender's address. */
    if (host && *host) {
        char first[DEVMATCH_KEY_MAX];
        id = get_id(&m->by_host, host);
        if (!id && first_label(host, first))
            id = get_id(&m->by_host, first);
    }
    if (!id && source && *source)
        id = get_id(&m->by_addr, source);
    return id;
}

void devmatch_name(devmatch *m, int64_t id, char *dst, size_t cap)
{
    pthread_mutex_lock(&m->lock);
    refresh(m, 0);
    const char *n = id > 0 ? hmap_get(&m->names, &id, sizeof id) : NULL;
    if (!n && id > 0) {
        refresh(m, 1);
        n = hmap_get(&m->names, &id, sizeof id);
    }
    snprintf(dst, cap, "%s", n ? n : "");
    pthread_mutex_unlock(&m->lock);
}

uint64_t devmatch_generation(devmatch *m)
{
    pthread_mutex_lock(&m->lock);
    refresh(m, 0);
    uint64_t g = m->gen;
    pthread_mutex_unlock(&m->lock);
    return g;
}
