/* libvirt: the VM collector's public face — its one setting (the libvirt URI), the domain list
 * for the agent's inventory ("vms"), and hooks the unit tests use.
 *
 * The collector itself (coll_libvirt, coll_libvirt_free) is declared in collector_int.h and
 * described in docs/collectors.md ("VMs (libvirt)"). Everything here runs on the agent's loop
 * thread, or any one thread at a time. */
#ifndef DD_COLL_LIBVIRT_H
#define DD_COLL_LIBVIRT_H

#include "collector.h"

#include <jansson.h>
#include <libvirt/libvirt.h>

/* The URI used when none is set. */
#define COLL_LIBVIRT_DEFAULT_URI "qemu:///system"
/* How long the collector waits before trying again after a failed connection or after
 * finding no libvirt socket. */
#define COLL_LIBVIRT_RETRY_MS 60000
/* How long it waits before reconnecting after an open connection failed. */
#define COLL_LIBVIRT_RECONNECT_MS 5000

/* Sets the URI the collector and coll_libvirt_inventory connect to (read-only). NULL selects
 * COLL_LIBVIRT_DEFAULT_URI; "none" disables both (no samples, no connection). The string is
 * not copied: it must outlive the collector (argv or a literal). A collector state already
 * connected elsewhere reconnects on its next round. Call before the loop starts. */
void coll_libvirt_set_uri(const char *uri);

/* The domains libvirt reports, as the agent's inventory lists them under "vms": a new JSON
 * array of {"uuid","name","state","vcpus","memory_bytes"} (state one of "running", "blocked",
 * "paused", "shutdown", "shutoff", "crashed", "pmsuspended", "nostate"; vcpus and
 * memory_bytes — the maximum memory — left out when unknown), sorted by name then uuid and
 * capped at 512 entries. When env->state points at this collector's state (as the collector
 * sees it during a round) the list of its last successful round is used; otherwise a
 * short-lived read-only connection is opened (subject to the same socket check as the
 * collector). Returns NULL when there is nothing to report — disabled, no libvirt on this
 * host, libvirt unreachable — or memory is exhausted; the caller owns (json_decref) the array.
 * An empty array means libvirt answered and has no domains. */
json_t *coll_libvirt_inventory(const coll_env *env);

/* ---- for tests -------------------------------------------------------------------------- */

/* What a collector state has done so far: socket checks that found no socket, connection
 * attempts made (successful or not), connections currently open (0 or 1). */
typedef struct coll_libvirt_counts {
    unsigned absent;
    unsigned connects;
    int connected;
} coll_libvirt_counts;

/* Copies the counters of a state made by coll_libvirt (NULL: all zero). */
coll_libvirt_counts coll_libvirt_counters(const void *state);

/* Adds the samples of one domain stats record (the typed parameters of
 * virConnectGetAllDomainStats: state.*, cpu.time, balloon.*, vcpu.*, block.*, net.*) for the
 * domain `name` with `uuid`. `info` (NULL if unavailable) fills in vcpus, memory and CPU time
 * that the record lacks. Returns 0, -ENOMEM or -EINVAL from the batch. */
int coll_libvirt_emit(const char *name, const char *uuid, virTypedParameterPtr params, int nparams,
                      const virDomainInfo *info, batch *b);

#endif
