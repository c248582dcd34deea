/* agent: the `dashdot agent` command: collect the host's metrics every interval, encode each
 * round as a remote-write batch, spool it on disk while the server is unreachable, deliver in
 * order with backoff. With a dashdot server it first enrolls (a per-agent token kept in the
 * state directory) and keeps the host's inventory up to date there. Runs a libuv loop on the
 * calling thread until SIGINT/SIGTERM. */
#ifndef DD_AGENT_H
#define DD_AGENT_H

#include "collectors/procs.h"

#include <stdint.h>

typedef struct agent_opts {
    const char *server;      /* base URL (…/api/v1/write is appended) or a full write URL */
    const char *token;
    const char *spool_dir;
    const char *instance;    /* default: the host name */
    const char *collectors;  /* comma-separated names, NULL: all */
    int64_t interval_ms;
    uint64_t spool_max_bytes;
    const char *proc_root, *sys_root, *rootfs; /* for tests: default /proc, /sys, "" */
    int once;                /* print one round in the exposition format and exit */
    const char *state_dir;   /* enrollment state (agent.token, agent.json); default agent-state */
    int64_t inventory_interval_ms; /* how often the inventory is collected (default 5 min) */
    int no_enroll;           /* never enroll: use token as is */
    int inventory;           /* print the inventory document and exit */
    /* containers collector: label allow-list (comma-separated container label keys) and the
     * engines' sockets (NULL: /run/docker.sock, /run/podman/podman.sock; "": not asked) */
    const char *container_labels, *docker_socket, *podman_socket;
    procs_opts procs;        /* --procs-group, --procs-top (default exe, 10) */
    const char *libvirt_uri; /* VMs: libvirt URI (NULL: qemu:///system; "none": off) */
    /* Probes (docs/probes.md): assigned by a dashdot server to an enrolled agent. */
    int no_probes;              /* never ask for probes */
    unsigned probe_concurrency; /* runs at once; 0: the scheduler's default */
    const char *plugin_dirs;    /* nagios plugins' directories (NULL: Debian's) */
} agent_opts;

/* Parses `dashdot agent` arguments (argv[0] is "agent"). Returns 0, 1 after printing help,
 * or -EINVAL after printing the reason. */
int agent_parse_args(int argc, char **argv, agent_opts *o);
/* Runs the agent until a signal asks it to stop. Returns 0 or -errno. */
int agent_run(const agent_opts *o);

#endif
