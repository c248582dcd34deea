/* containers: the configuration of the containers collector (coll_containers, declared in
 * collector_int.h), set once by the agent before its first round. */
#ifndef DD_CONTAINERS_H
#define DD_CONTAINERS_H

#include "../engines.h"

#include <jansson.h>

/* Sets the engine sockets and the container label allow-list the containers collector uses
 * from its next (re)start. o is copied by pointer: its strings must outlive the collector's
 * state (the agent passes its argv). NULL restores the defaults. Call from the thread that runs
 * the collectors, before the first round. */
void coll_containers_configure(const engines_opts *o);

/* Decides whether the cgroup directory `name`, a child of the directory `parent`, is a
 * container's (docker-<id>.scope, docker/<id>, libpod-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope, a bare 64-hex <id>, lxc.payload.<name>, lxc/<name>). Returns 1 and the id
 * (the 64 hex digits, or the LXC container's name) in id, else 0. */
int coll_containers_match(const char *name, const char *parent, char id[65]);

/* The collector's children callback (coll_def.children): adds "containers":[{"id", "cgroup",
 * "name", "image"}] for the containers of the last walk to the inventory object inv (nothing
 * before the first round). Returns 0 or -ENOMEM. Loop thread. */
int coll_containers_children(void *state, json_t *inv);

#endif
