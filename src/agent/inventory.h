/* inventory: the host's inventory document (what the machine is, not how busy it is), as the
 * agent sends it to PUT /api/v1/agent/inventory (docs/catalog.md, "The inventory document").
 *
 * Everything is read from files under configurable roots (procfs, sysfs and a root file system
 * prefix for /etc, /dev, /run), so unit tests run on fixture trees and a containerised agent can
 * look at the host's. A missing, unreadable, oversized or garbled source never fails the
 * document: the fields it would have given are left out. Lists are sorted and values that move
 * every second (free memory, uptime, current CPU frequency) are left out, so the document, and
 * its hash, only change when the machine does. See docs/collectors.md ("Inventory") for every
 * source and rule. Any one thread at a time; no state is kept between calls. */
#ifndef DD_INVENTORY_H
#define DD_INVENTORY_H

#include "../lib/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Hard cap of a document (a host with a thousand disks and mounts stays far below). */
#define INVENTORY_MAX_BYTES (1u << 20)
/* At most this many disks, filesystems, interfaces (each list, after sorting). */
#define INVENTORY_MAX_ITEMS 512

typedef struct inventory_opts {
    const char *proc_root; /* "/proc" on a live host */
    const char *sys_root;  /* "/sys" */
    const char *rootfs;    /* "" on a live host: prefix of /etc, /dev, /run, /var/run, /.dockerenv
                            * and of mount points given to statvfs */
    int host_calls;        /* nonzero: also ask the running kernel (uname(2) when a /proc file
                            * is missing, gethostname, getifaddrs for IPv4 addresses); zero:
                            * the roots only (fixture tests) */
} inventory_opts;

/* The options of a live host: /proc, /sys, "", host_calls = 1. */
void inventory_opts_live(inventory_opts *o);

/* Appends the inventory document (one JSON object, UTF-8) to out. Returns 0, -ENOMEM, or
 * -E2BIG when the document exceeds out's cap or INVENTORY_MAX_BYTES; on error out may hold a
 * partial document (the caller discards it). out is the caller's. */
int inventory_collect(const inventory_opts *o, buf *out);

/* A stable 64-bit hash (XXH3) of a document, so the agent sends it only when it changed. */
uint64_t inventory_hash(const void *doc, size_t len);

/* Copies the machine id (<rootfs>/etc/machine-id, else <rootfs>/var/lib/dbus/machine-id: 32
 * lowercase hex digits) into dst (at least 33 bytes). Returns 0, -ENOENT when absent or
 * malformed, -EINVAL when cap is too small. */
int inventory_machine_id(const inventory_opts *o, char *dst, size_t cap);

/* Copies the DMI product UUID (<sys>/class/dmi/id/product_uuid, lowercased; readable only by
 * root) into dst (at least 37 bytes). Returns 0, -ENOENT when absent, unreadable or not a UUID,
 * -EINVAL when cap is too small. */
int inventory_dmi_uuid(const inventory_opts *o, char *dst, size_t cap);

#endif
