/* devmatch: which catalog device an event speaks of — by the host name it gives (a device's
 * name or host name, compared without case, also by its first label: "web1" matches
 * "web1.example.com"), else by the sender's address (a device's endpoint addresses).
 *
 * A snapshot of devices and endpoints, rebuilt from the catalog whenever its generation moved
 * (at most once a second). Any thread (one lock). */
#ifndef DD_EV_DEVMATCH_H
#define DD_EV_DEVMATCH_H

#include "../catalog/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct devmatch devmatch;

/* Makes a matcher over the catalog (which must outlive it). Returns 0 or -ENOMEM. */
int devmatch_new(devmatch **out, cat_store *cat);
void devmatch_free(devmatch *m);
/* The device of an event naming host `host` ("" none) from address `source` ("" none: do
 * not match by address): its id, or 0 for unknown. Refreshes the snapshot when the catalog changed. */
int64_t devmatch_find(devmatch *m, const char *source, const char *host);
/* Copies the name of device id into dst ("" when unknown or gone). */
void devmatch_name(devmatch *m, int64_t id, char *dst, size_t cap);
/* The snapshot's generation: changes whenever devices or endpoints were reloaded. */
uint64_t devmatch_generation(devmatch *m);

#endif
