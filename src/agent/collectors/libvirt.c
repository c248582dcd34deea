/* libvirt: VMs through libvirt — each domain's state, CPU time, memory, disk and interface
 * counters under prometheus-libvirt-exporter's metric names, and the domain list the agent's
 * inventory reports as "vms" — or, when libvirt does not answer, running qemu VMs' state and
 * CPU time from their cgroups.
 *
 * One read-only connection is kept in the collector's state and asked once per round with
 * virConnectGetAllDomainStats (one RPC for all domains, NOWAIT so a domain busy in a job
 * never holds up the agent's loop). Most hosts have no libvirt: for a local system URI the
 * collector first looks for the daemon's read-only socket and, when there is none, adds
 * nothing and looks again only every COLL_LIBVIRT_RETRY_MS. A failed connection is retried
 * on the same schedule and reported as libvirt_up 0; a connection that breaks is dropped and
 * reopened after COLL_LIBVIRT_RECONNECT_MS. Meanwhile the qemu scopes under machine.slice
 * are read instead. Each change of situation is logged once, and libvirt's own error printing
 * is silenced (its messages go into ours). */
#include "libvirt.h"

#include "collector_int.h"

#include "../../lib/log.h"
#include "../../lib/mem.h"

#include <libvirt/virterror.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlfcn.h>

/* libvirt is loaded with dlopen on first use, not linked: linking it maps libvirt, glib, ICU
 * and libxml2 into every agent (about 5 MB of RSS) although most hosts run no hypervisor.
 * Every libvirt function this file calls is listed here; the macros below route the calls
 * through the loaded table. */
#define LV_API(X)                                                                                 \
    X(virInitialize)                                                                               \
    X(virSetErrorFunc)                                                                             \
    X(virGetLastErrorMessage)                                                                      \
    X(virResetLastError)                                                                           \
    X(virConnectOpenReadOnly)                                                                      \
    X(virConnectClose)                                                                             \
    X(virConnectIsAlive)                                                                           \
    X(virConnectGetAllDomainStats)                                                                 \
    X(virConnectListAllDomains)                                                                    \
    X(virDomainStatsRecordListFree)                                                                \
    X(virDomainGetInfo)                                                                            \
    X(virDomainGetName)                                                                            \
    X(virDomainGetUUIDString)                                                                      \
    X(virDomainFree)

static struct lv_api {
#define LV_FIELD(f) __typeof__(f) *f;
    LV_API(LV_FIELD)
#undef LV_FIELD
} lv_api;

/* Loads libvirt.so.0 once. Returns 0, or -ENOENT with the reason in why (not installed). */
static int lv_load(char *why, size_t cap)
{
    static int state; /* 0: not tried, 1: loaded, -1: failed (for good) */
    static char reason[200];
    if (state == 0) {
        void *h = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
        state = -1;
        if (!h)
            snprintf(reason, sizeof reason, "libvirt is not installed (%s)", dlerror());
        else {
            state = 1;
#define LV_SYM(f)                                                                                  \
    if (state == 1 && !(lv_api.f = (__typeof__(lv_api.f))dlsym(h, #f))) {                          \
        snprintf(reason, sizeof reason, "libvirt.so.0 lacks %s", #f);                              \
        state = -1;                                                                                \
    }
            LV_API(LV_SYM)
#undef LV_SYM
            if (state < 0)
                dlclose(h);
        }
    }
    if (state > 0)
        return 0;
    snprintf(why, cap, "%s", reason);
    return -ENOENT;
}

#define LV_CALL(f) (*lv_api.f)
#define virInitialize LV_CALL(virInitialize)
#define virSetErrorFunc LV_CALL(virSetErrorFunc)
#define virGetLastErrorMessage LV_CALL(virGetLastErrorMessage)
#define virResetLastError LV_CALL(virResetLastError)
#define virConnectOpenReadOnly LV_CALL(virConnectOpenReadOnly)
#define virConnectClose LV_CALL(virConnectClose)
#define virConnectIsAlive LV_CALL(virConnectIsAlive)
#define virConnectGetAllDomainStats LV_CALL(virConnectGetAllDomainStats)
#define virConnectListAllDomains LV_CALL(virConnectListAllDomains)
#define virDomainStatsRecordListFree LV_CALL(virDomainStatsRecordListFree)
#define virDomainGetInfo LV_CALL(virDomainGetInfo)
#define virDomainGetName LV_CALL(virDomainGetName)
#define virDomainGetUUIDString LV_CALL(virDomainGetUUIDString)
#define virDomainFree LV_CALL(virDomainFree)

/* The inventory lists at most this many domains (as inventory.h caps its lists). */
#define LV_MAX_INVENTORY 512
/* Bounds on block.count and net.count, so a garbled record cannot make a round spin. */
#define LV_MAX_DEVICES 4096

enum lv_mode {
    LV_NEW,    /* never tried */
    LV_ABSENT, /* no libvirt socket: nothing is reported */
    LV_DOWN,   /* libvirt is there but the connection failed or broke: libvirt_up 0 */
    LV_UP,     /* connected */
};

/* One domain of the last round, for the inventory. vcpus and memory_bytes are -1 when unknown. */
typedef struct lv_dom {
    char uuid[VIR_UUID_STRING_BUFLEN];
    char *name;
    int state;
    long long vcpus;
    long long memory_bytes;
} lv_dom;

/* A qemu process's cgroup (systemd scope) and the domain it runs, for the fallback. */
typedef struct lv_scope {
    char *dir; /* "machine-qemu\x2d1\x2dweb.scope" */
    char *name;
    char uuid[VIR_UUID_STRING_BUFLEN]; /* "" when unknown */
    uint64_t seen;
} lv_scope;

typedef struct lv_state {
    const char *uri; /* the configured URI this state belongs to (not owned) */
    virConnectPtr conn;
    enum lv_mode mode;
    int64_t next_try_ms;
    int call_error_logged; /* a failing stats call on a live connection was logged */
    lv_dom *doms;          /* cap entries, all initialised (name NULL when unused) */
    size_t ndoms, cap;
    int have_list; /* doms holds the complete list of the last round */
    coll_libvirt_counts counts;
    lv_scope *scopes; /* qemu scopes seen without libvirt, with their names and UUIDs */
    size_t nscopes, scap;
    uint64_t scan; /* cgroup scans made; lv_scope.seen */
} lv_state;

/* A summary of one record, as the inventory keeps it. */
typedef struct lv_summary {
    int state;
    long long vcpus, memory_bytes;
} lv_summary;

/* The process's configuration (set once before the loop). */
static const char *lv_uri = COLL_LIBVIRT_DEFAULT_URI;

void coll_libvirt_set_uri(const char *uri)
{
    lv_uri = uri ? uri : COLL_LIBVIRT_DEFAULT_URI;
}

static int lv_disabled(void)
{
    return strcmp(lv_uri, "none") == 0;
}

static void lv_silent(void *userdata, virErrorPtr err)
{
    (void)userdata;
    (void)err;
}

/* Initialises libvirt and replaces its default error handler (which prints every error on
 * stderr) with a silent one; errors are read with virGetLastErrorMessage instead. */
static int lv_init(void)
{
    static int done;
    if (done)
        return 0;
    if (virInitialize() < 0)
        return -EIO;
    virSetErrorFunc(NULL, lv_silent);
    done = 1;
    return 0;
}

/* The last libvirt error of this thread as text (copied into dst), then cleared. */
static const char *lv_error(char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", virGetLastErrorMessage());
    virResetLastError();
    return dst;
}

/* If uri names the local system daemon of a driver ("qemu:///system"), copies the driver name
 * into drv and returns 1. Other URIs (test:///..., remote transports, session daemons) are
 * not checked for a socket. */
static int lv_local_system(const char *uri, char *drv, size_t cap)
{
    const char *sep = strstr(uri, ":///system");
    size_t n = sep ? (size_t)(sep - uri) : 0;
    if (!sep || n == 0 || n >= cap || sep[sizeof ":///system" - 1] != '\0')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((uri[i] >= 'a' && uri[i] <= 'z') || (uri[i] >= '0' && uri[i] <= '9')))
            return 0;
    }
    memcpy(drv, uri, n);
    drv[n] = '\0';
    return 1;
}

/* Returns 1 if a read-only socket of the monolithic daemon (libvirtd), the driver's modular
 * daemon (virtqemud) or the proxy daemon exists. */
static int lv_socket_present(const char *drv)
{
    char path[128];
    if (access("/run/libvirt/libvirt-sock-ro", F_OK) == 0 ||
        access("/run/libvirt/virtproxyd-sock-ro", F_OK) == 0)
        return 1;
    snprintf(path, sizeof path, "/run/libvirt/virt%sd-sock-ro", drv);
    return access(path, F_OK) == 0;
}

/* Opens a read-only connection to uri. Returns it, or NULL with *absent set when a local
 * system daemon has no socket (no attempt made) or clear when the attempt failed (the reason
 * in why). */
static virConnectPtr lv_open(const char *uri, coll_libvirt_counts *counts, int *absent, char *why,
                             size_t cap)
{
    char drv[32];
    *absent = 0;
    if (lv_local_system(uri, drv, sizeof drv) && !lv_socket_present(drv)) {
        *absent = 1;
        counts->absent++;
        return NULL;
    }
    if (lv_load(why, cap))
        return NULL;
    snprintf(why, cap, "cannot initialise libvirt");
    if (lv_init())
        return NULL;
    counts->connects++;
    virConnectPtr conn = virConnectOpenReadOnly(uri);
    if (!conn)
        lv_error(why, cap);
    return conn;
}

static void lv_disconnect(lv_state *st)
{
    if (st->conn) {
        virConnectClose(st->conn);
        st->conn = NULL;
        st->counts.connected = 0;
    }
    st->have_list = 0;
}

/* One connection attempt (or socket check); logs only when the situation changes. */
static void lv_connect(lv_state *st, int64_t now_ms)
{
    char why[512];
    int absent;
    enum lv_mode before = st->mode;
    st->next_try_ms = now_ms + COLL_LIBVIRT_RETRY_MS;
    st->conn = lv_open(st->uri, &st->counts, &absent, why, sizeof why);
    if (st->conn) {
        st->mode = LV_UP;
        st->counts.connected = 1;
        st->call_error_logged = 0;
        if (before == LV_NEW)
            log_debug("libvirt: connected to %s (read-only)", st->uri);
        else
            log_info("libvirt: connected to %s again", st->uri);
    } else if (absent) {
        /* Most hosts have no libvirt: say so at debug level, unless it went away. */
        st->mode = LV_ABSENT;
        if (before == LV_NEW)
            log_debug("libvirt: no libvirt socket in /run/libvirt (looking again every %d s); "
                      "qemu VMs are read from their cgroups",
                      COLL_LIBVIRT_RETRY_MS / 1000);
        else if (before != LV_ABSENT)
            log_info("libvirt: the libvirt socket is gone (looking again every %d s); qemu VMs "
                     "are read from their cgroups",
                     COLL_LIBVIRT_RETRY_MS / 1000);
    } else {
        st->mode = LV_DOWN;
        if (before != LV_DOWN)
            log_warn("libvirt: cannot connect to %s: %s (retrying every %d s; meanwhile qemu "
                     "VMs are read from their cgroups)",
                     st->uri, why, COLL_LIBVIRT_RETRY_MS / 1000);
    }
}

/* ---- one record ------------------------------------------------------------------------ */

static const virTypedParameter *lv_param(virTypedParameterPtr p, int n, const char *key)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(p[i].field, key) == 0)
            return &p[i];
    }
    return NULL;
}

/* Finds the number key (of any numeric type). Returns 1 and *v, or 0. */
static int lv_num(virTypedParameterPtr p, int n, const char *key, double *v)
{
    const virTypedParameter *q = lv_param(p, n, key);
    if (!q)
        return 0;
    switch (q->type) {
    case VIR_TYPED_PARAM_INT:
        *v = q->value.i;
        return 1;
    case VIR_TYPED_PARAM_UINT:
        *v = q->value.ui;
        return 1;
    case VIR_TYPED_PARAM_LLONG:
        *v = (double)q->value.l;
        return 1;
    case VIR_TYPED_PARAM_ULLONG:
        *v = (double)q->value.ul;
        return 1;
    case VIR_TYPED_PARAM_DOUBLE:
        *v = q->value.d;
        return 1;
    default:
        return 0;
    }
}

static const char *lv_str(virTypedParameterPtr p, int n, const char *key)
{
    const virTypedParameter *q = lv_param(p, n, key);
    return q && q->type == VIR_TYPED_PARAM_STRING ? q->value.s : NULL;
}

/* A domain-level number: from the record's key when present, else from info (have_info). */
static int lv_dom_metric(batch *b, const char *metric, const char *const *labels,
                         virTypedParameterPtr p, int n, const char *key, double scale,
                         int have_info, double info_value, double *out)
{
    double v;
    if (lv_num(p, n, key, &v))
        v *= scale;
    else if (have_info)
        v = info_value;
    else
        return 0;
    if (out)
        *out = v;
    return batch_add(b, metric, labels, v);
}

typedef struct lv_counter {
    const char *key; /* after "block.N." or "net.N." */
    const char *metric;
} lv_counter;

static const lv_counter lv_block[] = {
    {"rd.bytes", "libvirt_domain_block_stats_read_bytes_total"},
    {"wr.bytes", "libvirt_domain_block_stats_write_bytes_total"},
    {"rd.reqs", "libvirt_domain_block_stats_read_requests_total"},
    {"wr.reqs", "libvirt_domain_block_stats_write_requests_total"},
};

static const lv_counter lv_net[] = {
    {"rx.bytes", "libvirt_domain_interface_stats_receive_bytes_total"},
    {"tx.bytes", "libvirt_domain_interface_stats_transmit_bytes_total"},
    {"rx.pkts", "libvirt_domain_interface_stats_receive_packets_total"},
    {"tx.pkts", "libvirt_domain_interface_stats_transmit_packets_total"},
    {"rx.errs", "libvirt_domain_interface_stats_receive_errors_total"},
    {"tx.errs", "libvirt_domain_interface_stats_transmit_errors_total"},
    {"rx.drop", "libvirt_domain_interface_stats_receive_drops_total"},
    {"tx.drop", "libvirt_domain_interface_stats_transmit_drops_total"},
};

/* The per-device counters of group ("block" or "net"), labelled with the device's name. */
static int lv_devices(batch *b, const char *name, const char *uuid, virTypedParameterPtr p, int n,
                      const char *group, const lv_counter *cs, size_t ncs)
{
    char key[VIR_TYPED_PARAM_FIELD_LENGTH];
    double count;
    snprintf(key, sizeof key, "%s.count", group);
    if (!lv_num(p, n, key, &count) || count < 0)
        return 0;
    if (count > LV_MAX_DEVICES)
        count = LV_MAX_DEVICES;
    for (unsigned i = 0; i < (unsigned)count; i++) {
        snprintf(key, sizeof key, "%s.%u.name", group, i);
        const char *dev = lv_str(p, n, key);
        if (!dev)
            continue;
        const char *const labels[] = {"domain", name, "uuid", uuid, "target_device", dev, NULL};
        for (size_t c = 0; c < ncs; c++) {
            double v;
            snprintf(key, sizeof key, "%s.%u.%s", group, i, cs[c].key);
            if (!lv_num(p, n, key, &v))
                continue;
            int rc = batch_add(b, cs[c].metric, labels, v);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Adds a record's samples and fills sum (state -1, vcpus and memory -1 when unknown). */
static int lv_emit(const char *name, const char *uuid, virTypedParameterPtr p, int n,
                   const virDomainInfo *info, batch *b, lv_summary *sum)
{
    const char *const labels[] = {"domain", name, "uuid", uuid, NULL};
    int hi = info != NULL;
    double v = -1;
    int rc;
    sum->state = -1;
    sum->vcpus = -1;
    sum->memory_bytes = -1;
    if ((rc = lv_dom_metric(b, "libvirt_domain_info_state", labels, p, n, "state.state", 1, hi,
                            hi ? info->state : 0, &v)))
        return rc;
    sum->state = (int)v;
    v = -1;
    if ((rc = lv_dom_metric(b, "libvirt_domain_info_vcpus", labels, p, n, "vcpu.current", 1, hi,
                            hi ? info->nrVirtCpu : 0, &v)))
        return rc;
    sum->vcpus = (long long)v;
    if ((rc = lv_dom_metric(b, "libvirt_domain_info_cpu_time_seconds_total", labels, p, n,
                            "cpu.time", 1e-9, hi, hi ? (double)info->cpuTime * 1e-9 : 0, NULL)))
        return rc;
    /* Balloon figures are KiB. */
    if ((rc = lv_dom_metric(b, "libvirt_domain_info_memory_usage_bytes", labels, p, n,
                            "balloon.current", 1024, hi, hi ? (double)info->memory * 1024 : 0,
                            NULL)))
        return rc;
    v = -1;
    if ((rc = lv_dom_metric(b, "libvirt_domain_info_maximum_memory_bytes", labels, p, n,
                            "balloon.maximum", 1024, hi, hi ? (double)info->maxMem * 1024 : 0, &v)))
        return rc;
    sum->memory_bytes = (long long)v;
    if ((rc = lv_dom_metric(b, "libvirt_domain_memory_stats_rss_bytes", labels, p, n, "balloon.rss",
                            1024, 0, 0, NULL)) ||
        (rc = lv_dom_metric(b, "libvirt_domain_memory_stats_available_bytes", labels, p, n,
                            "balloon.available", 1024, 0, 0, NULL)) ||
        (rc = lv_dom_metric(b, "libvirt_domain_memory_stats_unused_bytes", labels, p, n,
                            "balloon.unused", 1024, 0, 0, NULL)))
        return rc;
    if ((rc = lv_devices(b, name, uuid, p, n, "block", lv_block,
                         sizeof lv_block / sizeof lv_block[0])))
        return rc;
    return lv_devices(b, name, uuid, p, n, "net", lv_net, sizeof lv_net / sizeof lv_net[0]);
}

int coll_libvirt_emit(const char *name, const char *uuid, virTypedParameterPtr params, int nparams,
                      const virDomainInfo *info, batch *b)
{
    lv_summary sum;
    return lv_emit(name, uuid, params, nparams, info, b, &sum);
}

/* ---- without libvirt: qemu's cgroups -----------------------------------------------------
 * libvirt starts each qemu process in a systemd scope under machine.slice
 * ("machine-qemu\x2d<id>\x2d<name>.scope"). When libvirt does not answer, the scopes still
 * give each running VM's CPU time. The domain's exact name and UUID come from the qemu
 * command line (-name guest=<name>, -uuid <uuid>) of the scope's emulator process, read once
 * per scope; without it the name is decoded from the scope's. */

/* cgroup v2, then v1 (cpuacct mounted alone or with cpu). */
static const struct {
    const char *dir;
    const char *file;
    double scale; /* to seconds */
} lv_layouts[] = {
    {"/fs/cgroup/machine.slice", "cpu.stat", 1e-6},
    {"/fs/cgroup/cpuacct/machine.slice", "cpuacct.usage", 1e-9},
    {"/fs/cgroup/cpu,cpuacct/machine.slice", "cpuacct.usage", 1e-9},
};

static int lv_hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes systemd's \xNN escapes of a unit name into dst. */
static void lv_unescape(const char *s, char *dst, size_t cap)
{
    size_t n = 0;
    while (*s && n + 1 < cap) {
        int hi = s[0] == '\\' && s[1] == 'x' ? lv_hex(s[2]) : -1;
        int lo = hi >= 0 ? lv_hex(s[3]) : -1;
        if (lo >= 0 && (hi || lo)) {
            dst[n++] = (char)(hi * 16 + lo);
            s += 4;
        } else {
            dst[n++] = *s++;
        }
    }
    dst[n] = '\0';
}

/* If dir is a qemu scope, writes the domain name its unit name carries (after
 * "machine-qemu-" and the "<id>-" of libvirt ≥ 3.x) into name and returns 1. */
static int lv_scope_name(const char *dir, char *name, size_t cap)
{
    char buf[512];
    static const char prefix[] = "machine-qemu-";
    size_t len = strlen(dir);
    if (len <= 6 || strcmp(dir + len - 6, ".scope") != 0)
        return 0;
    lv_unescape(dir, buf, sizeof buf);
    len = strlen(buf);
    if (len <= 6 || strncmp(buf, prefix, sizeof prefix - 1) != 0)
        return 0;
    buf[len - 6] = '\0';
    const char *p = buf + sizeof prefix - 1, *q = p;
    while (*q >= '0' && *q <= '9')
        q++;
    if (q > p && *q == '-' && q[1])
        p = q + 1;
    if (!*p)
        return 0;
    snprintf(name, cap, "%s", p);
    return 1;
}

static int lv_is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return s[36] == '\0';
}

/* Reads the name (-name guest=NAME,... or -name NAME; ",," is a comma) and UUID from a qemu
 * command line of len bytes (NUL-separated arguments). Leaves what it does not find. */
static void lv_cmdline(const char *cmd, size_t len, char *name, size_t cap, char *uuid)
{
    const char *end = cmd + len;
    for (const char *a = cmd; a < end; a += strlen(a) + 1) {
        const char *v = a + strlen(a) + 1;
        if (v >= end)
            break;
        if (strcmp(a, "-uuid") == 0 && lv_is_uuid(v)) {
            for (int i = 0; i < 36; i++)
                uuid[i] = (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] - 'A' + 'a' : v[i]);
            uuid[36] = '\0';
        } else if (strcmp(a, "-name") == 0) {
            if (strncmp(v, "guest=", 6) == 0)
                v += 6;
            size_t n = 0;
            for (; *v && n + 1 < cap; v++) {
                if (*v == ',' && v[1] != ',')
                    break;
                if (*v == ',')
                    v++;
                name[n++] = *v;
            }
            if (n > 0)
                name[n] = '\0';
        }
    }
}

/* The domain of a newly seen scope: name and UUID from its emulator's command line. */
static void lv_scope_identity(const coll_env *env, const char *layout, const char *dir, char *name,
                              size_t cap, char *uuid)
{
    static const char *const procs[] = {"/libvirt/emulator/cgroup.procs", "/emulator/cgroup.procs",
                                        "/cgroup.procs"};
    char rel[COLL_PATH_MAX], buf[COLL_BUF_SMALL], cmd[COLL_BUF_LARGE];
    size_t len;
    uint64_t pid = 0;
    coll_env once = *env;
    once.cache = NULL; /* read once per scope: keep no descriptor */
    uuid[0] = '\0';
    for (size_t i = 0; i < sizeof procs / sizeof procs[0] && !pid; i++) {
        if (snprintf(rel, sizeof rel, "%s/%s%s", layout, dir, procs[i]) >= (int)sizeof rel)
            return;
        if (coll_read_one(&once, env->sys, rel, buf, sizeof buf, &len) != 0)
            continue;
        char *cur = buf, *line = coll_line(&cur);
        if (!line || coll_u64(coll_trim(line), &pid) != 0)
            pid = 0;
    }
    if (!pid)
        return;
    snprintf(rel, sizeof rel, "/%llu/cmdline", (unsigned long long)pid);
    if (coll_read(&once, env->proc, rel, cmd, sizeof cmd, &len) == 0)
        lv_cmdline(cmd, len, name, cap, uuid);
}

/* Finds (or resolves and adds) the scope dir of layout. Returns it, or NULL with -ENOMEM. */
static lv_scope *lv_scope_get(const coll_env *env, lv_state *st, const char *layout,
                              const char *dir, const char *decoded)
{
    for (size_t i = 0; i < st->nscopes; i++) {
        if (strcmp(st->scopes[i].dir, dir) == 0)
            return &st->scopes[i];
    }
    char name[1024];
    char uuid[VIR_UUID_STRING_BUFLEN];
    snprintf(name, sizeof name, "%s", decoded);
    lv_scope_identity(env, layout, dir, name, sizeof name, uuid);
    void *p = st->scopes;
    if (mem_grow(&p, &st->scap, st->nscopes, sizeof *st->scopes, 4))
        return NULL;
    st->scopes = p;
    lv_scope *sc = &st->scopes[st->nscopes];
    sc->dir = mem_strdup(dir);
    sc->name = mem_strdup(name);
    if (!sc->dir || !sc->name) {
        mem_free(sc->dir);
        mem_free(sc->name);
        return NULL;
    }
    snprintf(sc->uuid, sizeof sc->uuid, "%s", uuid);
    sc->seen = 0;
    st->nscopes++;
    return sc;
}

static void lv_scopes_free(lv_state *st)
{
    for (size_t i = 0; i < st->nscopes; i++) {
        mem_free(st->scopes[i].dir);
        mem_free(st->scopes[i].name);
    }
    mem_free(st->scopes);
    st->scopes = NULL;
    st->nscopes = st->scap = 0;
}

/* Adds libvirt_domain_info_state 1 and the CPU time of every qemu scope. Returns 0 (also
 * without machine.slice), -ENOMEM, or an error from the batch. */
static int lv_cgroups(const coll_env *env, lv_state *st, batch *b)
{
    char path[COLL_PATH_MAX], rel[COLL_PATH_MAX], buf[COLL_BUF_SMALL], name[1024];
    DIR *d = NULL;
    size_t l;
    int rc = 0;
    for (l = 0; l < sizeof lv_layouts / sizeof lv_layouts[0]; l++) {
        if (coll_path(path, sizeof path, env->sys, lv_layouts[l].dir) == 0 && (d = opendir(path)))
            break;
    }
    if (!d)
        return 0;
    st->scan++;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        size_t len;
        double v;
        if (!lv_scope_name(de->d_name, name, sizeof name))
            continue;
        if (snprintf(rel, sizeof rel, "%s/%s/%s", lv_layouts[l].dir, de->d_name,
                     lv_layouts[l].file) >= (int)sizeof rel ||
            coll_read_one(env, env->sys, rel, buf, sizeof buf, &len) != 0)
            continue; /* the VM stopped meanwhile */
        if (strcmp(lv_layouts[l].file, "cpu.stat") == 0) {
            /* "usage_usec N" among other lines. */
            char *cur = buf, *line;
            int found = 0;
            while (!found && (line = coll_line(&cur))) {
                char *key = coll_field(&line), *val = coll_field(&line);
                uint64_t u;
                if (key && val && strcmp(key, "usage_usec") == 0 && coll_u64(val, &u) == 0) {
                    v = (double)u;
                    found = 1;
                }
            }
            if (!found)
                continue;
        } else {
            uint64_t u;
            if (coll_u64(coll_trim(buf), &u) != 0)
                continue;
            v = (double)u;
        }
        lv_scope *sc = lv_scope_get(env, st, lv_layouts[l].dir, de->d_name, name);
        if (!sc) {
            rc = -ENOMEM;
            break;
        }
        sc->seen = st->scan;
        const char *const labels[] = {"domain", sc->name, "uuid", sc->uuid, NULL};
        rc = batch_add(b, "libvirt_domain_info_state", labels, VIR_DOMAIN_RUNNING);
        if (rc == 0)
            rc = batch_add(b, "libvirt_domain_info_cpu_time_seconds_total", labels,
                           v * lv_layouts[l].scale);
    }
    closedir(d);
    if (rc)
        return rc;
    /* Forget the scopes of stopped VMs. */
    for (size_t i = 0; i < st->nscopes;) {
        if (st->scopes[i].seen != st->scan) {
            mem_free(st->scopes[i].dir);
            mem_free(st->scopes[i].name);
            st->scopes[i] = st->scopes[--st->nscopes];
        } else {
            i++;
        }
    }
    return 0;
}

/* ---- a round --------------------------------------------------------------------------- */

/* Stores domain i of this round (reusing the name copy when the domain is the same). */
static int lv_keep(lv_state *st, size_t i, const char *name, const char *uuid,
                   const lv_summary *sum)
{
    if (i >= st->cap) {
        size_t old = st->cap;
        void *p = st->doms;
        if (mem_grow(&p, &st->cap, i, sizeof *st->doms, 8))
            return -ENOMEM;
        st->doms = p;
        memset(st->doms + old, 0, (st->cap - old) * sizeof *st->doms);
    }
    lv_dom *d = &st->doms[i];
    if (!d->name || strcmp(d->name, name) != 0) {
        mem_free(d->name);
        d->name = mem_strdup(name);
        if (!d->name)
            return -ENOMEM;
    }
    snprintf(d->uuid, sizeof d->uuid, "%s", uuid);
    d->state = sum->state;
    d->vcpus = sum->vcpus;
    d->memory_bytes = sum->memory_bytes;
    return 0;
}

/* Asks for every domain's statistics and adds them. Returns 0, -EIO when libvirt failed
 * (nothing added; the message in why), -ENOMEM from the batch or the list, or -EINVAL after
 * a complete round in which the batch refused a domain (that domain skipped). */
static int lv_round(lv_state *st, batch *b, char *why, size_t cap)
{
    virDomainStatsRecordPtr *recs = NULL;
    unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                     VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE |
                     VIR_DOMAIN_STATS_BLOCK;
    /* flags without ACTIVE/INACTIVE: every domain, so shut-off ones report their state. */
    int n = virConnectGetAllDomainStats(st->conn, stats, &recs,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) {
        lv_error(why, cap);
        return -EIO;
    }
    st->have_list = 0;
    size_t kept = 0;
    int bad = 0;
    int rc = batch_add(b, "libvirt_up", NULL, 1);
    for (int i = 0; rc == 0 && i < n; i++) {
        virDomainStatsRecordPtr r = recs[i];
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        const char *name = virDomainGetName(r->dom);
        if (!name || virDomainGetUUIDString(r->dom, uuid) < 0) {
            virResetLastError();
            continue;
        }
        /* Drivers without the vcpu and balloon groups (libvirt's test driver) still answer
         * virDomainGetInfo; qemu has both groups, so this costs no extra call there. */
        virDomainInfo info;
        const virDomainInfo *pi = NULL;
        if (!lv_param(r->params, r->nparams, "vcpu.current") &&
            !lv_param(r->params, r->nparams, "balloon.maximum")) {
            if (virDomainGetInfo(r->dom, &info) == 0)
                pi = &info;
            else
                virResetLastError();
        }
        lv_summary sum;
        rc = lv_emit(name, uuid, r->params, r->nparams, pi, b, &sum);
        if (rc == -EINVAL) {
            /* A name the batch refuses (over LABELS_MAX_VALUE bytes) must not hide the other
             * domains: skip this one, report the error after the round. */
            bad = rc;
            rc = 0;
            continue;
        }
        if (rc == 0 && (rc = lv_keep(st, kept, name, uuid, &sum)) == 0)
            kept++;
    }
    virDomainStatsRecordListFree(recs);
    if (rc) {
        /* Entries up to kept hold names now; free_state finds them through cap either way. */
        if (kept > st->ndoms)
            st->ndoms = kept;
        return rc;
    }
    /* Names of domains gone since the last round. */
    for (size_t i = kept; i < st->ndoms; i++) {
        mem_free(st->doms[i].name);
        st->doms[i].name = NULL;
    }
    st->ndoms = kept;
    st->have_list = 1;
    return bad;
}

/* A round with the state in *slot (created there on the first round). */
static int lv_collect(const coll_env *env, void **slot, batch *b)
{
    char why[512];
    lv_state *st = *slot;
    if (!st) {
        st = mem_calloc(1, sizeof *st);
        if (!st)
            return -ENOMEM;
        st->uri = lv_uri;
        *slot = st;
    }
    if (strcmp(st->uri, lv_uri) != 0) {
        lv_disconnect(st);
        st->uri = lv_uri;
        st->mode = LV_NEW;
    }
    if (!st->conn && (st->mode == LV_NEW || env->now_ms >= st->next_try_ms))
        lv_connect(st, env->now_ms);
    if (!st->conn) {
        int rc = st->mode == LV_DOWN ? batch_add(b, "libvirt_up", NULL, 0) : 0;
        return rc ? rc : lv_cgroups(env, st, b);
    }
    if (st->nscopes)
        lv_scopes_free(st); /* libvirt answers again */
    int rc = lv_round(st, b, why, sizeof why);
    if (rc != -EIO)
        return rc;
    if (virConnectIsAlive(st->conn) == 1) {
        /* The daemon is there but refuses the call (an old driver without the API, say):
         * keep the connection, report it up, log once. */
        virResetLastError();
        if (!st->call_error_logged)
            log_warn("libvirt: cannot read domain statistics from %s: %s", st->uri, why);
        st->call_error_logged = 1;
        return batch_add(b, "libvirt_up", NULL, 1);
    }
    virResetLastError();
    log_warn("libvirt: lost the connection to %s (%s); reconnecting in %d s", st->uri, why,
             COLL_LIBVIRT_RECONNECT_MS / 1000);
    lv_disconnect(st);
    st->mode = LV_DOWN;
    st->next_try_ms = env->now_ms + COLL_LIBVIRT_RECONNECT_MS;
    return batch_add(b, "libvirt_up", NULL, 0);
}

int coll_libvirt(const coll_env *env, batch *b)
{
    if (lv_disabled())
        return 0;
    if (env->state)
        return lv_collect(env, env->state, b);
    /* Called without a place for state (a direct call, as in tests): a state for this call. */
    void *scratch = NULL;
    int rc = lv_collect(env, &scratch, b);
    coll_libvirt_free(scratch);
    return rc;
}

void coll_libvirt_free(void *state)
{
    lv_state *st = state;
    if (!st)
        return;
    lv_disconnect(st);
    for (size_t i = 0; i < st->cap; i++)
        mem_free(st->doms[i].name);
    mem_free(st->doms);
    lv_scopes_free(st);
    mem_free(st);
}

coll_libvirt_counts coll_libvirt_counters(const void *state)
{
    const lv_state *st = state;
    coll_libvirt_counts none = {0, 0, 0};
    return st ? st->counts : none;
}

/* ---- inventory ------------------------------------------------------------------------- */

static const char *lv_state_name(int s)
{
    static const char *const names[] = {"nostate",  "running", "blocked", "paused",
                                        "shutdown", "shutoff", "crashed", "pmsuspended"};
    return s >= 0 && s < (int)(sizeof names / sizeof names[0]) ? names[s] : "unknown";
}

static int lv_dom_cmp(const void *a, const void *b)
{
    const lv_dom *x = *(const lv_dom *const *)a, *y = *(const lv_dom *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->uuid, y->uuid);
}

/* A JSON string of s; bytes that are not valid UTF-8 become '?' (as in the inventory). */
static json_t *lv_jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = mem_strdup(s);
    if (!copy)
        return NULL;
    for (char *c = copy; *c; c++) {
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    }
    j = json_string(copy);
    mem_free(copy);
    return j;
}

static int lv_set(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

/* The inventory array of n domains (sorted, capped), or NULL when memory is exhausted. */
static json_t *lv_json(const lv_dom *doms, size_t n)
{
    json_t *arr = json_array();
    const lv_dom **order = mem_alloc((n ? n : 1) * sizeof *order);
    if (!arr || !order)
        goto fail;
    for (size_t i = 0; i < n; i++)
        order[i] = &doms[i];
    qsort(order, n, sizeof *order, lv_dom_cmp);
    for (size_t i = 0; i < n && i < LV_MAX_INVENTORY; i++) {
        const lv_dom *d = order[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o))
            goto fail;
        if (lv_set(o, "uuid", json_string(d->uuid)) || lv_set(o, "name", lv_jstr(d->name)) ||
            lv_set(o, "state", json_string(lv_state_name(d->state))))
            goto fail;
        if (d->vcpus >= 0 && lv_set(o, "vcpus", json_integer(d->vcpus)))
            goto fail;
        if (d->memory_bytes >= 0 && lv_set(o, "memory_bytes", json_integer(d->memory_bytes)))
            goto fail;
    }
    mem_free(order);
    return arr;
fail:
    mem_free(order);
    json_decref(arr);
    return NULL;
}

/* The list through a connection of its own, closed before returning. */
static json_t *lv_inventory_once(void)
{
    char why[512];
    int absent;
    coll_libvirt_counts counts = {0, 0, 0};
    virDomainPtr *list = NULL;
    lv_dom *doms = NULL;
    json_t *out = NULL;
    int k = 0;
    size_t n = 0;
    virConnectPtr conn = lv_open(lv_uri, &counts, &absent, why, sizeof why);
    if (!conn) {
        if (!absent)
            log_debug("libvirt: inventory: cannot connect to %s: %s", lv_uri, why);
        goto out;
    }
    k = virConnectListAllDomains(conn, &list, 0);
    if (k < 0) {
        log_debug("libvirt: inventory: cannot list the domains of %s: %s", lv_uri,
                  lv_error(why, sizeof why));
        goto out;
    }
    doms = mem_calloc(k ? (size_t)k : 1, sizeof *doms);
    if (!doms)
        goto out;
    for (int i = 0; i < k; i++) {
        virDomainInfo info;
        lv_dom *d = &doms[n];
        const char *name = virDomainGetName(list[i]);
        if (!name || virDomainGetUUIDString(list[i], d->uuid) < 0) {
            virResetLastError();
            continue;
        }
        d->state = -1;
        d->vcpus = -1;
        d->memory_bytes = -1;
        if (virDomainGetInfo(list[i], &info) == 0) {
            d->state = info.state;
            d->vcpus = info.nrVirtCpu;
            d->memory_bytes = (long long)info.maxMem * 1024;
        } else {
            virResetLastError();
        }
        if (!(d->name = mem_strdup(name)))
            goto out;
        n++;
    }
    out = lv_json(doms, n);
out:
    for (size_t i = 0; doms && i < (size_t)k; i++)
        mem_free(doms[i].name);
    mem_free(doms);
    for (int i = 0; list && i < k; i++)
        virDomainFree(list[i]);
    free(list); /* allocated by libvirt */
    if (conn)
        virConnectClose(conn);
    return out;
}

json_t *coll_libvirt_inventory(const coll_env *env)
{
    if (lv_disabled())
        return NULL;
    const lv_state *st = env && env->state ? *env->state : NULL;
    if (!st)
        return lv_inventory_once();
    if (!st->conn || !st->have_list || strcmp(st->uri, lv_uri) != 0)
        return NULL;
    return lv_json(st->doms, st->ndoms);
}

int coll_libvirt_children(void *state, json_t *inv)
{
    /* Only from the last round's list: no connection is opened here. Without a list (libvirt
     * unreachable) nothing is added, so the catalog keeps the VMs it knows. */
    void *st = state;
    coll_env e = {0};
    e.state = &st;
    json_t *vms = coll_libvirt_inventory(&e);
    if (!vms)
        return 0;
    return json_object_set_new(inv, "vms", vms) ? -ENOMEM : 0;
}
