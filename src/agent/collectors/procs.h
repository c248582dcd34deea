/* procs: options of the per-process collector ("procs": application groups and top consumers).
 *
 * The collector itself is coll_procs in collector_int.h; this header only carries what the
 * agent's command line sets: how processes are grouped into applications and how many top
 * consumers are reported per resource. */
#ifndef DD_PROCS_H
#define DD_PROCS_H

typedef enum procs_group {
    PROCS_GROUP_EXE = 0, /* by process name (the kernel's comm, the executable's basename) */
    PROCS_GROUP_USER,    /* by effective user (name from <root>/etc/passwd, else the uid) */
    PROCS_GROUP_CGROUP,  /* by the first two levels of the process's cgroup path */
} procs_group;

#define PROCS_TOP_DEFAULT 10
#define PROCS_TOP_MAX 100

typedef struct procs_opts {
    procs_group group;
    unsigned top; /* top-N per resource, 1..PROCS_TOP_MAX */
} procs_opts;

/* Parses "exe", "user" or "cgroup". Returns 0 or -EINVAL. */
int procs_parse_group(const char *s, procs_group *out);

/* Sets the options the procs collector uses for state it creates from now on (process-wide
 * configuration: call before the first round, from the thread that runs the collectors).
 * o is copied; top is clamped to 1..PROCS_TOP_MAX. NULL restores the defaults. */
void coll_procs_configure(const procs_opts *o);

#endif
