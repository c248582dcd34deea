/* inventory: the host inventory document — identity, OS, hardware, storage, network, and where
 * the host runs (virtualization, container, cloud) — read from procfs, sysfs and /etc.
 *
 * Every source is outside input (a hostile or broken kernel module, a container image's odd
 * /etc): files are read whole with a cap, parsed strictly line by line, and a value that does
 * not parse is left out rather than guessed. Strings are made valid UTF-8 ('?' for a bad byte)
 * before they reach the JSON writer, so the document always parses. Lists are sorted, so two
 * collections of an unchanged host give the same bytes and the same hash.
 *
 * The small-file helpers of the host collectors (collectors/collector_int.h) are reused: they
 * read root + path without stdio and parse in place. */
#include "inventory.h"

#include "../lib/fsutil.h"
#include "../lib/jsonw.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "collectors/collector_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <xxhash.h>

#define INV_FILE_MAX (4u << 20) /* a whole file: cpuinfo, stat, mounts, if_inet6, environ */
#define INV_ATTR_MAX 256        /* one sysfs attribute, DMI string, os-release value */
#define INV_DIR_MAX 4096        /* entries read from one directory */
#define INV_ADDR_MAX 4096       /* addresses on the host */
#define INV_ADDRS_PER_IF 64
#define INV_TEXT_MAX 4096 /* longest string written (a mount point) */
#define INV_CPU_MAX 65536 /* processors counted */

typedef struct dmi_info {
    char sys_vendor[INV_ATTR_MAX], product_name[INV_ATTR_MAX], product_version[INV_ATTR_MAX];
    char product_uuid[INV_ATTR_MAX], board_vendor[INV_ATTR_MAX], board_name[INV_ATTR_MAX];
    char board_asset_tag[INV_ATTR_MAX], chassis_vendor[INV_ATTR_MAX];
    char chassis_asset_tag[INV_ATTR_MAX], bios_vendor[INV_ATTR_MAX], bios_version[INV_ATTR_MAX];
} dmi_info;

/* The DMI attributes read, in the order they are written. */
static const struct {
    const char *name;
    size_t off;
} dmi_fields[] = {
    {"sys_vendor", offsetof(dmi_info, sys_vendor)},
    {"product_name", offsetof(dmi_info, product_name)},
    {"product_version", offsetof(dmi_info, product_version)},
    {"product_uuid", offsetof(dmi_info, product_uuid)},
    {"board_vendor", offsetof(dmi_info, board_vendor)},
    {"board_name", offsetof(dmi_info, board_name)},
    {"board_asset_tag", offsetof(dmi_info, board_asset_tag)},
    {"chassis_vendor", offsetof(dmi_info, chassis_vendor)},
    {"chassis_asset_tag", offsetof(dmi_info, chassis_asset_tag)},
    {"bios_vendor", offsetof(dmi_info, bios_vendor)},
    {"bios_version", offsetof(dmi_info, bios_version)},
};

/* One address of an interface, as written ("10.0.0.5/24"). */
typedef struct inv_addr {
    char ifname[IF_NAMESIZE + 1];
    char text[INET6_ADDRSTRLEN + 5];
} inv_addr;

typedef struct inv {
    const inventory_opts *o;
    coll_env env; /* the roots for the collectors' file helpers; no descriptor cache */
    jsonw w;
    buf file; /* the whole file being parsed */
    int rc;   /* first -ENOMEM met (a missing source is not an error) */
    dmi_info dmi;
    int hypervisor_flag; /* "hypervisor" among the cpuinfo flags */
    inv_addr *addrs;
    size_t naddrs, addrs_cap;
} inv;

void inventory_opts_live(inventory_opts *o)
{
    o->proc_root = "/proc";
    o->sys_root = "/sys";
    o->rootfs = "";
    o->host_calls = 1;
}

uint64_t inventory_hash(const void *doc, size_t len)
{
    return (uint64_t)XXH3_64bits(doc, len);
}

/* ---- strings ---------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

/* Writes s as a JSON string made valid UTF-8 (each bad byte becomes '?'), at most
 * INV_TEXT_MAX bytes, cut at a character boundary. */
static void put_text(jsonw *w, const char *s)
{
    char tmp[INV_TEXT_MAX];
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        const char *src = k ? s + i : "?";
        size_t m = k ? k : 1;
        if (o + m > sizeof tmp)
            break;
        memcpy(tmp + o, src, m);
        o += m;
        i += m;
    }
    jsonw_strn(w, tmp, o);
}

/* "key": "value" when value is known (not NULL or empty). */
static void kv_text(jsonw *w, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    jsonw_key(w, k);
    put_text(w, v);
}

/* "key": v for an unsigned count that fits a JSON integer as jansson reads it. */
static void kv_u64(jsonw *w, const char *k, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX)
        return;
    jsonw_kv_int(w, k, (long long)v);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Strips leading and trailing white space in place; returns the start. */
static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Bounded copy (always NUL-terminated). */
static void copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* True if s is prefix followed by one or more decimal digits and nothing else. */
static int prefix_digits(const char *s, const char *prefix)
{
    if (!has_prefix(s, prefix))
        return 0;
    s += strlen(prefix);
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Reads the small file root + rel into dst (cap bytes), white space trimmed. Returns 0 or
 * -errno (absent, unreadable, -EFBIG when longer than cap - 1 bytes); dst is "" on error. */
static int read_attr(const inv *in, const char *root, const char *rel, char *dst, size_t cap)
{
    size_t len;
    int rc = coll_read_one(&in->env, root, rel, dst, cap, &len);
    if (rc) {
        dst[0] = '\0';
        return rc;
    }
    char *t = trim(dst);
    if (t != dst)
        memmove(dst, t, strlen(t) + 1);
    return 0;
}

/* Reads root + rel whole into in->file (at most INV_FILE_MAX bytes). Returns 0 or -errno;
 * -ENOMEM is also remembered in in->rc. */
static int read_big(inv *in, const char *root, const char *rel)
{
    char path[COLL_PATH_MAX];
    buf_reset(&in->file);
    int rc = coll_path(path, sizeof path, root, rel);
    if (!rc)
        rc = fsutil_read_file(path, &in->file, INV_FILE_MAX);
    if (!rc && !in->file.data)
        rc = -ENOENT; /* nothing was read and nothing allocated: an empty file */
    if (rc == -ENOMEM && !in->rc)
        in->rc = rc;
    if (rc)
        buf_reset(&in->file);
    return rc;
}

/* True if root + rel exists (any kind of file; symbolic links followed). */
static int exists(const char *root, const char *rel)
{
    char path[COLL_PATH_MAX];
    struct stat st;
    return coll_path(path, sizeof path, root, rel) == 0 && stat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mem_free(names[i]);
    mem_free(names);
}

/* Lists the entries of root + rel (without names starting with '.'), sorted, at most
 * INV_DIR_MAX. Returns 0 (an absent directory gives no entries) or -ENOMEM; the caller frees
 * with free_names. */
static int list_dir(inv *in, const char *root, const char *rel, char ***out, size_t *n)
{
    char path[COLL_PATH_MAX];
    char **names = NULL;
    size_t cap = 0, count = 0;
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (coll_path(path, sizeof path, root, rel))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOMEM ? (in->rc = -ENOMEM) : 0;
    struct dirent *de;
    while ((de = readdir(d)) && count < INV_DIR_MAX) {
        if (de->d_name[0] == '.')
            continue;
        if ((rc = mem_grow((void **)&names, &cap, count, sizeof *names, 32)))
            goto out;
        if (!(names[count] = mem_strdup(de->d_name))) {
            rc = -ENOMEM;
            goto out;
        }
        count++;
    }
    if (count > 1)
        qsort(names, count, sizeof *names, cmp_str);
out:
    closedir(d);
    if (rc) {
        free_names(names, count);
        in->rc = rc;
        return rc;
    }
    *out = names;
    *n = count;
    return 0;
}

/* ---- identity and OS -------------------------------------------------------------------- */

static int is_hex_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

int inventory_machine_id(const inventory_opts *o, char *dst, size_t cap)
{
    static const char *const files[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
    inv in = {.o = o, .env = {o->proc_root, o->sys_root, o->rootfs, 0, NULL, NULL, 0}};
    char v[64];
    if (cap < 33)
        return -EINVAL;
    for (size_t i = 0; i < 2; i++) {
        if (read_attr(&in, o->rootfs, files[i], v, sizeof v) == 0 && strlen(v) == 32 &&
            is_hex_lower(v, 32)) {
            memcpy(dst, v, 33);
            return 0;
        }
    }
    dst[0] = '\0';
    return -ENOENT;
}

/* True if s is a UUID in the 8-4-4-4-12 form (either case). */
static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

int inventory_dmi_uuid(const inventory_opts *o, char *dst, size_t cap)
{
    inv in = {.o = o, .env = {o->proc_root, o->sys_root, o->rootfs, 0, NULL, NULL, 0}};
    char v[64];
    if (cap < 37)
        return -EINVAL;
    if (read_attr(&in, o->sys_root, "/class/dmi/id/product_uuid", v, sizeof v) || !is_uuid(v)) {
        dst[0] = '\0';
        return -ENOENT;
    }
    for (size_t i = 0; i < 37; i++)
        dst[i] = (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] - 'A' + 'a' : v[i]);
    return 0;
}

static void put_hostname(inv *in)
{
    char v[INV_ATTR_MAX];
    if (read_attr(in, in->o->proc_root, "/sys/kernel/hostname", v, sizeof v) && in->o->host_calls) {
        if (gethostname(v, sizeof v) != 0)
            v[0] = '\0';
        v[sizeof v - 1] = '\0';
    }
    kv_text(&in->w, "hostname", v);
}

/* boot_time: the btime line of <proc>/stat, as RFC 3339 UTC. */
static void put_boot_time(inv *in)
{
    if (read_big(in, in->o->proc_root, "/stat"))
        return;
    char *cur = in->file.data, *line;
    while ((line = coll_line(&cur))) {
        char *f = coll_field(&line);
        if (!f || strcmp(f, "btime") != 0)
            continue;
        char *v = coll_field(&line);
        uint64_t t;
        /* Up to the year 9999: anything later is not a boot time. */
        if (!v || coll_field(&line) || coll_u64(v, &t) || t == 0 || t > 253402300799ULL)
            return;
        char ts[40];
        timeutil_format_rfc3339((int64_t)t * 1000, ts, sizeof ts);
        kv_text(&in->w, "boot_time", ts);
        return;
    }
}

/* Characters os-release(5) allows in a value without quotes. */
static int os_release_bare(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("._:/+@%,=-", c) != NULL;
}

/* Parses the value of an os-release assignment (after '=') into dst: "double quoted" with
 * backslash escapes, 'single quoted', or bare (letters, digits and ._:/+@%,=- only). Returns 0
 * or -EINVAL (unterminated quote, text after the closing quote, a bare special character). */
static int os_release_value(char *s, char *dst, size_t cap)
{
    size_t n = 0;
    char q = (*s == '"' || *s == '\'') ? *s++ : 0;
    s = q ? s : trim(s);
    for (; *s && *s != q; s++) {
        if (!q && !os_release_bare(*s))
            return -EINVAL;
        char c = *s;
        if (q == '"' && c == '\\' && s[1]) {
            /* POSIX shell rules inside double quotes: only these are escapes. */
            if (strchr("\\\"$`", s[1]))
                c = *++s;
        }
        if (n + 1 < cap)
            dst[n++] = c;
    }
    dst[n] = '\0';
    if (q && *s != q)
        return -EINVAL;
    if (q && *trim(s + 1) != '\0')
        return -EINVAL;
    return 0;
}

static void put_os(inv *in)
{
    static const struct {
        const char *var, *key;
    } keys[] = {{"NAME", "name"},
                {"ID", "id"},
                {"VERSION", "version"},
                {"VERSION_ID", "version_id"},
                {"PRETTY_NAME", "pretty"}};
    char vals[5][INV_ATTR_MAX] = {{0}};
    if (read_big(in, in->o->rootfs, "/etc/os-release"))
        read_big(in, in->o->rootfs, "/usr/lib/os-release");
    char *cur = in->file.len ? in->file.data : NULL, *line;
    while (cur && (line = coll_line(&cur))) {
        line = trim(line);
        char *eq = strchr(line, '=');
        if (*line == '#' || !eq)
            continue;
        *eq = '\0';
        for (size_t i = 0; i < 5; i++) {
            char v[INV_ATTR_MAX];
            /* The last assignment wins, as in a shell; a malformed one is skipped. */
            if (strcmp(line, keys[i].var) == 0 && os_release_value(eq + 1, v, sizeof v) == 0)
                memcpy(vals[i], v, sizeof v);
        }
    }
    jsonw_key(&in->w, "os");
    jsonw_obj_open(&in->w);
    for (size_t i = 0; i < 5; i++)
        kv_text(&in->w, keys[i].key, vals[i]);
    jsonw_obj_close(&in->w);
}

static void put_kernel_arch(inv *in)
{
    char rel[INV_ATTR_MAX], ver[INV_ATTR_MAX], arch[INV_ATTR_MAX];
    struct utsname u;
    int have_u = in->o->host_calls && uname(&u) == 0;
    if (read_attr(in, in->o->proc_root, "/sys/kernel/osrelease", rel, sizeof rel) && have_u)
        copy_str(rel, sizeof rel, u.release);
    if (read_attr(in, in->o->proc_root, "/sys/kernel/version", ver, sizeof ver) && have_u)
        copy_str(ver, sizeof ver, u.version);
    /* /proc/sys/kernel/arch exists since Linux 6.1; before that only uname(2) knows. */
    if (read_attr(in, in->o->proc_root, "/sys/kernel/arch", arch, sizeof arch) && have_u)
        copy_str(arch, sizeof arch, u.machine);
    jsonw_key(&in->w, "kernel");
    jsonw_obj_open(&in->w);
    kv_text(&in->w, "release", rel);
    kv_text(&in->w, "version", ver);
    jsonw_obj_close(&in->w);
    kv_text(&in->w, "arch", arch);
}

/* ---- cpu and memory --------------------------------------------------------------------- */

typedef struct cpu_info {
    char model[INV_ATTR_MAX], alt_model[INV_ATTR_MAX], vendor[INV_ATTR_MAX];
    uint64_t threads, sockets, cores, mhz;
    double cpuinfo_mhz;
    uint64_t *pairs; /* (physical id << 32 | core id) per processor */
    size_t npairs, cap;
} cpu_info;

/* Splits "key<blanks>: value" at the first ':' into a trimmed key and value. */
static int split_kv(char *line, char **k, char **v)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return -EINVAL;
    *colon = '\0';
    *k = trim(line);
    *v = trim(colon + 1);
    return **k ? 0 : -EINVAL;
}

/* Parses a topology number: decimal, below 2^31 ("-1", the "unknown" of some ARM kernels,
 * counts as 0). Returns 0 or -EINVAL. */
static int topo_number(const char *s, uint64_t *out)
{
    if (strcmp(s, "-1") == 0) {
        *out = 0;
        return 0;
    }
    return coll_u64(s, out) || *out >= (1u << 31) ? -EINVAL : 0;
}

static int add_pair(inv *in, cpu_info *c, uint64_t phys, uint64_t core)
{
    if (c->npairs >= INV_CPU_MAX)
        return 0;
    if (mem_grow((void **)&c->pairs, &c->cap, c->npairs, sizeof *c->pairs, 16)) {
        in->rc = -ENOMEM;
        return -ENOMEM;
    }
    c->pairs[c->npairs++] = phys << 32 | core;
    return 0;
}

/* ARM's "CPU implementer" codes of the common vendors. */
static const char *arm_implementer(const char *code)
{
    static const struct {
        const char *code, *name;
    } t[] = {{"0x41", "ARM"},       {"0x42", "Broadcom"}, {"0x43", "Cavium"}, {"0x46", "Fujitsu"},
             {"0x48", "HiSilicon"}, {"0x4e", "NVIDIA"},   {"0x50", "APM"},    {"0x51", "Qualcomm"},
             {"0x61", "Apple"},     {"0x69", "Intel"},    {"0xc0", "Ampere"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(code, t[i].code) == 0)
            return t[i].name;
    }
    return NULL;
}

/* True if the blank-separated list has the word. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n) {
        if ((p == list || is_space(p[-1])) && (p[n] == '\0' || is_space(p[n])))
            return 1;
    }
    return 0;
}

static void parse_cpuinfo(inv *in, cpu_info *c)
{
    uint64_t phys = 0, core = 0;
    int have_phys = 0, have_core = 0, in_rec = 0;
    if (read_big(in, in->o->proc_root, "/cpuinfo"))
        return;
    char *cur = in->file.data, *line;
    while ((line = coll_line(&cur))) {
        char *k, *v;
        uint64_t x;
        if (split_kv(line, &k, &v))
            continue;
        if (strcmp(k, "processor") == 0) {
            if (coll_u64(v, &x))
                continue; /* old ARM kernels: "Processor : ARMv7 ..." is the model */
            if (in_rec && have_phys && have_core && add_pair(in, c, phys, core))
                return;
            in_rec = 1;
            have_phys = have_core = 0;
            c->threads++;
        } else if (strcmp(k, "physical id") == 0) {
            have_phys = topo_number(v, &phys) == 0;
        } else if (strcmp(k, "core id") == 0) {
            have_core = topo_number(v, &core) == 0;
        } else if (strcmp(k, "model name") == 0) {
            if (!c->model[0])
                copy_str(c->model, sizeof c->model, v);
        } else if (strcmp(k, "Processor") == 0 || strcmp(k, "cpu model") == 0 ||
                   strcmp(k, "cpu") == 0 || strcmp(k, "uarch") == 0) {
            if (!c->alt_model[0])
                copy_str(c->alt_model, sizeof c->alt_model, v);
        } else if (strcmp(k, "vendor_id") == 0 || strcmp(k, "vendor") == 0) {
            if (!c->vendor[0])
                copy_str(c->vendor, sizeof c->vendor, v);
        } else if (strcmp(k, "CPU implementer") == 0) {
            const char *name = arm_implementer(v);
            if (!c->vendor[0] && name)
                copy_str(c->vendor, sizeof c->vendor, name);
        } else if (strcmp(k, "flags") == 0) {
            in->hypervisor_flag |= has_word(v, "hypervisor");
        } else if (strcmp(k, "cpu MHz") == 0) {
            double mhz;
            if (c->cpuinfo_mhz == 0 && coll_f64(v, &mhz) == 0 && mhz > 0 && mhz < 1e6)
                c->cpuinfo_mhz = mhz;
        }
    }
    if (in_rec && have_phys && have_core)
        add_pair(in, c, phys, core);
}

/* Fills the topology from <sys>/devices/system/cpu/cpuN/topology when cpuinfo has none
 * (most non-x86 kernels). */
static void cpu_topology_sysfs(inv *in, cpu_info *c)
{
    char **names;
    size_t n;
    uint64_t counted = 0;
    if (list_dir(in, in->o->sys_root, "/devices/system/cpu", &names, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        char rel[COLL_PATH_MAX], v[64];
        uint64_t phys, core;
        if (!prefix_digits(names[i], "cpu"))
            continue;
        snprintf(rel, sizeof rel, "/devices/system/cpu/%s/topology/physical_package_id", names[i]);
        if (read_attr(in, in->o->sys_root, rel, v, sizeof v) || topo_number(v, &phys))
            continue;
        snprintf(rel, sizeof rel, "/devices/system/cpu/%s/topology/core_id", names[i]);
        if (read_attr(in, in->o->sys_root, rel, v, sizeof v) || topo_number(v, &core))
            continue;
        counted++;
        if (add_pair(in, c, phys, core))
            break;
    }
    if (c->threads == 0)
        c->threads = counted;
    free_names(names, n);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void put_cpu(inv *in)
{
    cpu_info *c = mem_calloc(1, sizeof *c);
    char v[64];
    uint64_t khz;
    if (!c) {
        in->rc = -ENOMEM;
        return;
    }
    parse_cpuinfo(in, c);
    if (c->npairs == 0)
        cpu_topology_sysfs(in, c);
    if (c->npairs) {
        qsort(c->pairs, c->npairs, sizeof *c->pairs, cmp_u64);
        for (size_t i = 0; i < c->npairs; i++) {
            if (i == 0 || c->pairs[i] != c->pairs[i - 1])
                c->cores++;
            if (i == 0 || c->pairs[i] >> 32 != c->pairs[i - 1] >> 32)
                c->sockets++;
        }
    }
    /* The maximum frequency, not the current one: "cpu MHz" moves with every power state
     * change and would make each collection a new document. */
    if (read_attr(in, in->o->sys_root, "/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", v,
                  sizeof v) == 0 &&
        coll_u64(v, &khz) == 0 && khz > 0 && khz < 1000000000ULL)
        c->mhz = (khz + 500) / 1000;
    else if (c->cpuinfo_mhz > 0)
        c->mhz = (uint64_t)llround(c->cpuinfo_mhz);
    jsonw_key(&in->w, "cpu");
    jsonw_obj_open(&in->w);
    kv_text(&in->w, "model", c->model[0] ? c->model : c->alt_model);
    kv_text(&in->w, "vendor", c->vendor);
    if (c->sockets)
        kv_u64(&in->w, "sockets", c->sockets);
    if (c->cores)
        kv_u64(&in->w, "cores", c->cores);
    if (c->threads)
        kv_u64(&in->w, "threads", c->threads);
    if (c->mhz)
        kv_u64(&in->w, "mhz", c->mhz);
    jsonw_obj_close(&in->w);
    mem_free(c->pairs);
    mem_free(c);
}

static void put_memory(inv *in)
{
    uint64_t total = 0, swap = 0;
    int have_total = 0, have_swap = 0;
    if (read_big(in, in->o->proc_root, "/meminfo") == 0) {
        char *cur = in->file.data, *line;
        while ((line = coll_line(&cur))) {
            char *k, *v;
            uint64_t x;
            if (split_kv(line, &k, &v))
                continue;
            int is_total = strcmp(k, "MemTotal") == 0, is_swap = strcmp(k, "SwapTotal") == 0;
            if (!is_total && !is_swap)
                continue;
            char *num = coll_field(&v), *unit = coll_field(&v);
            if (!num || coll_field(&v) || coll_u64(num, &x) || !unit || strcmp(unit, "kB") ||
                x > UINT64_MAX / 1024)
                continue;
            if (is_total) {
                total = x * 1024;
                have_total = 1;
            } else {
                swap = x * 1024;
                have_swap = 1;
            }
        }
    }
    jsonw_key(&in->w, "memory");
    jsonw_obj_open(&in->w);
    if (have_total)
        kv_u64(&in->w, "total_bytes", total);
    if (have_swap)
        kv_u64(&in->w, "swap_bytes", swap);
    jsonw_obj_close(&in->w);
}

/* ---- disks ------------------------------------------------------------------------------- */

/* Block devices that are not disks: loop devices, RAM disks, compressed swap, floppies. */
static int disk_skipped(const char *name)
{
    return prefix_digits(name, "loop") || prefix_digits(name, "ram") ||
           prefix_digits(name, "zram") || prefix_digits(name, "fd");
}

/* Reads <sys>/block/<disk>/<attr> into dst; 0 or -errno. */
static int disk_attr(inv *in, const char *disk, const char *attr, char *dst, size_t cap)
{
    char rel[COLL_PATH_MAX];
    if ((size_t)snprintf(rel, sizeof rel, "/block/%s/%s", disk, attr) >= sizeof rel) {
        dst[0] = '\0';
        return -ENAMETOOLONG;
    }
    return read_attr(in, in->o->sys_root, rel, dst, cap);
}

static void put_disks(inv *in)
{
    char **names;
    size_t n, written = 0;
    list_dir(in, in->o->sys_root, "/block", &names, &n);
    jsonw_key(&in->w, "disks");
    jsonw_arr_open(&in->w);
    for (size_t i = 0; i < n && written < INVENTORY_MAX_ITEMS; i++) {
        const char *d = names[i];
        char v[INV_ATTR_MAX];
        uint64_t sectors, rot;
        /* An empty optical drive or an unattached network block device has size 0. */
        if (disk_skipped(d) || disk_attr(in, d, "size", v, sizeof v) || coll_u64(v, &sectors) ||
            sectors == 0 || sectors > UINT64_MAX / 512)
            continue;
        written++;
        jsonw_obj_open(&in->w);
        kv_text(&in->w, "name", d);
        const char *kind = prefix_digits(d, "dm-") ? "dm" : prefix_digits(d, "md") ? "md" : "disk";
        jsonw_kv_str(&in->w, "kind", kind);
        if (strcmp(kind, "dm") == 0 && disk_attr(in, d, "dm/name", v, sizeof v) == 0)
            kv_text(&in->w, "dm_name", v);
        if (disk_attr(in, d, "device/vendor", v, sizeof v) == 0)
            kv_text(&in->w, "vendor", v);
        if (disk_attr(in, d, "device/model", v, sizeof v) == 0)
            kv_text(&in->w, "model", v);
        /* NVMe and some SCSI drivers expose the serial number; virtio-blk has it on the disk
         * itself; otherwise the world-wide id identifies the drive as well. */
        if (disk_attr(in, d, "device/serial", v, sizeof v) == 0 && v[0])
            kv_text(&in->w, "serial", v);
        else if (disk_attr(in, d, "serial", v, sizeof v) == 0 && v[0])
            kv_text(&in->w, "serial", v);
        else if (disk_attr(in, d, "device/wwid", v, sizeof v) == 0 && v[0])
            kv_text(&in->w, "serial", v);
        else if (disk_attr(in, d, "wwid", v, sizeof v) == 0 && v[0])
            kv_text(&in->w, "serial", v);
        kv_u64(&in->w, "size_bytes", sectors * 512);
        if (disk_attr(in, d, "queue/rotational", v, sizeof v) == 0 && coll_u64(v, &rot) == 0 &&
            rot <= 1) {
            jsonw_key(&in->w, "rotational");
            jsonw_bool(&in->w, (int)rot);
        }
        if (disk_attr(in, d, "removable", v, sizeof v) == 0 && coll_u64(v, &rot) == 0 && rot <= 1) {
            jsonw_key(&in->w, "removable");
            jsonw_bool(&in->w, (int)rot);
        }
        jsonw_obj_close(&in->w);
    }
    jsonw_arr_close(&in->w);
    free_names(names, n);
}

/* ---- filesystems ------------------------------------------------------------------------ */

typedef struct mount_ent {
    const char *dev, *mp, *type;
    size_t line; /* position in the file: a later mount hides an earlier one */
} mount_ent;

static int cmp_mount(const void *a, const void *b)
{
    const mount_ent *x = a, *y = b;
    int c = strcmp(x->mp, y->mp);
    return c ? c : (x->line < y->line ? -1 : x->line > y->line);
}

/* Virtual and per-session filesystems that are not storage: on top of the filesystem
 * collector's excludes (pseudo and network filesystems), memory-backed ones and FUSE mounts of
 * desktop sessions, which come and go with logins. */
static int fs_type_skipped(const char *type)
{
    static const char *const extra[] = {"tmpfs", "ramfs", "efivarfs", "rootfs", "nfsd", "fuse"};
    if (coll_fs_type_excluded(type) || has_prefix(type, "fuse."))
        return 1;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        if (strcmp(type, extra[i]) == 0)
            return 1;
    }
    return 0;
}

static void put_filesystems(inv *in)
{
    mount_ent *m = NULL;
    size_t n = 0, cap = 0, written = 0;
    /* Our own mount namespace: the one statvfs below looks into. */
    if (read_big(in, in->o->proc_root, "/self/mounts"))
        read_big(in, in->o->proc_root, "/mounts");
    char *cur = in->file.len ? in->file.data : NULL, *line;
    while (cur && (line = coll_line(&cur))) {
        char *dev = coll_field(&line), *mp = coll_field(&line), *type = coll_field(&line);
        char *opts = coll_field(&line), *dump = coll_field(&line), *pass = coll_field(&line);
        uint64_t x;
        /* Anything but the six fields of a mount line is skipped. */
        if (!pass || coll_field(&line) || coll_u64(dump, &x) || coll_u64(pass, &x) ||
            mp[0] != '/' || !opts[0])
            continue;
        if (n >= INV_DIR_MAX * 4)
            break;
        if (mem_grow((void **)&m, &cap, n, sizeof *m, 32)) {
            in->rc = -ENOMEM;
            goto out;
        }
        m[n] = (mount_ent){coll_unescape_octal(dev), coll_unescape_octal(mp), type, n};
        n++;
    }
    if (n > 1)
        qsort(m, n, sizeof *m, cmp_mount);
    jsonw_key(&in->w, "filesystems");
    jsonw_arr_open(&in->w);
    for (size_t i = 0; i < n && written < INVENTORY_MAX_ITEMS; i++) {
        /* Only the last mount of a mount point is visible (and reached by statvfs); the
         * excludes apply to that one, as in the filesystem collector. */
        if (i + 1 < n && strcmp(m[i].mp, m[i + 1].mp) == 0)
            continue;
        if (coll_fs_mountpoint_excluded(m[i].mp) || fs_type_skipped(m[i].type))
            continue;
        written++;
        jsonw_obj_open(&in->w);
        kv_text(&in->w, "mountpoint", m[i].mp);
        kv_text(&in->w, "device", m[i].dev);
        kv_text(&in->w, "type", m[i].type);
        char path[COLL_PATH_MAX];
        struct statvfs st;
        if (coll_path(path, sizeof path, in->o->rootfs, m[i].mp) == 0 && statvfs(path, &st) == 0 &&
            (st.f_frsize == 0 || st.f_blocks <= UINT64_MAX / st.f_frsize))
            kv_u64(&in->w, "size_bytes", (uint64_t)st.f_blocks * st.f_frsize);
        jsonw_obj_close(&in->w);
    }
    jsonw_arr_close(&in->w);
out:
    mem_free(m);
}

/* ---- interfaces ------------------------------------------------------------------------- */

static int add_addr(inv *in, const char *ifname, const char *text)
{
    if (in->naddrs >= INV_ADDR_MAX || strlen(ifname) > IF_NAMESIZE)
        return 0;
    if (mem_grow((void **)&in->addrs, &in->addrs_cap, in->naddrs, sizeof *in->addrs, 16)) {
        in->rc = -ENOMEM;
        return -ENOMEM;
    }
    inv_addr *a = &in->addrs[in->naddrs++];
    copy_str(a->ifname, sizeof a->ifname, ifname);
    copy_str(a->text, sizeof a->text, text);
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses a field of exactly `digits` lowercase hex digits (1 to 8 of them). */
static int hex_field(const char *s, size_t digits, unsigned *out)
{
    unsigned v = 0;
    if (!s || strlen(s) != digits || digits > 8)
        return -EINVAL;
    for (size_t i = 0; i < digits; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -EINVAL;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* IPv6 addresses from <proc>/net/if_inet6 ("<32 hex> <ifindex> <plen> <scope> <flags> <name>",
 * the hex fields 2 digits long, the index up to 8). Link-local and host-scope addresses are
 * left out, and so are temporary (privacy), deprecated, tentative and failed ones, which
 * change on their own. */
static void addrs_ipv6(inv *in)
{
    if (read_big(in, in->o->proc_root, "/net/if_inet6"))
        return;
    char *cur = in->file.data, *line;
    while ((line = coll_line(&cur))) {
        char *hex = coll_field(&line), *idx = coll_field(&line), *plen = coll_field(&line);
        char *scope = coll_field(&line), *flags = coll_field(&line), *name = coll_field(&line);
        unsigned pl, sc, fl, ix;
        unsigned char a[16];
        char text[INET6_ADDRSTRLEN], full[INET6_ADDRSTRLEN + 5];
        if (!name || coll_field(&line) || strlen(hex) != 32 || !idx[0] || strlen(idx) > 8 ||
            hex_field(idx, strlen(idx), &ix) || hex_field(plen, 2, &pl) || pl > 128 ||
            hex_field(scope, 2, &sc) || hex_field(flags, 2, &fl) || strlen(name) > IF_NAMESIZE)
            continue;
        int ok = 1;
        for (size_t i = 0; i < 16 && ok; i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            a[i] = ok ? (unsigned char)(hi << 4 | lo) : 0;
        }
        if (!ok || (sc & 0x30) || (fl & (0x01 | 0x08 | 0x20 | 0x40)))
            continue;
        if (!inet_ntop(AF_INET6, a, text, sizeof text))
            continue;
        snprintf(full, sizeof full, "%s/%u", text, pl);
        if (add_addr(in, name, full))
            return;
    }
}

/* IPv4 addresses of the running host (there is no /proc file listing them). */
static void addrs_ipv4(inv *in)
{
    struct ifaddrs *list = NULL;
    if (!in->o->host_calls || getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *p = list; p; p = p->ifa_next) {
        if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET || !p->ifa_name)
            continue;
        char text[INET_ADDRSTRLEN], full[INET_ADDRSTRLEN + 4];
        const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)p->ifa_addr;
        unsigned plen = 0;
        if (p->ifa_netmask) {
            const struct sockaddr_in *nm = (const struct sockaddr_in *)(const void *)p->ifa_netmask;
            plen = (unsigned)__builtin_popcount(ntohl(nm->sin_addr.s_addr));
        }
        if (!inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text))
            continue;
        snprintf(full, sizeof full, "%s/%u", text, plen);
        if (add_addr(in, p->ifa_name, full))
            break;
    }
    freeifaddrs(list);
}

/* Virtual interfaces created per container or VM (veth pairs, taps, Calico, Cilium, Proxmox
 * firewall bridges): listing them would make every container start a new inventory. */
static int if_skipped(const char *name, int virtual)
{
    static const char *const churn[] = {"veth", "cali", "tap",  "vnet",
                                        "lxc",  "fwbr", "fwln", "fwpr"};
    if (strcmp(name, "lo") == 0)
        return 1;
    for (size_t i = 0; virtual && i < sizeof churn / sizeof churn[0]; i++) {
        if (has_prefix(name, churn[i]))
            return 1;
    }
    return 0;
}

/* True if s looks like a link-layer address: hex pairs separated by ':'. */
static int is_mac(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || (n + 1) % 3)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 2 ? s[i] != ':' : hexval(s[i]) < 0)
            return 0;
    }
    return 1;
}

/* Signed decimal (the speed file says -1 when unknown). */
static int parse_i64(const char *s, int64_t *out)
{
    uint64_t u;
    int neg = *s == '-';
    if (coll_u64(s + neg, &u) || u > (uint64_t)INT64_MAX)
        return -EINVAL;
    *out = neg ? -(int64_t)u : (int64_t)u;
    return 0;
}

static int cmp_addr(const void *a, const void *b)
{
    const inv_addr *x = a, *y = b;
    int c = strcmp(x->ifname, y->ifname);
    return c ? c : strcmp(x->text, y->text);
}

static void put_interfaces(inv *in)
{
    char **names;
    size_t n, written = 0;
    addrs_ipv4(in);
    addrs_ipv6(in);
    if (in->naddrs > 1)
        qsort(in->addrs, in->naddrs, sizeof *in->addrs, cmp_addr);
    list_dir(in, in->o->sys_root, "/class/net", &names, &n);
    jsonw_key(&in->w, "interfaces");
    jsonw_arr_open(&in->w);
    for (size_t i = 0; i < n && written < INVENTORY_MAX_ITEMS; i++) {
        const char *d = names[i];
        char rel[COLL_PATH_MAX], v[INV_ATTR_MAX];
        uint64_t mtu;
        int64_t speed;
        if (strlen(d) > IF_NAMESIZE)
            continue;
        snprintf(rel, sizeof rel, "/class/net/%s/device", d);
        /* Physical interfaces have a device behind them. */
        int virtual = !exists(in->o->sys_root, rel);
        snprintf(rel, sizeof rel, "/class/net/%s/address", d);
        if (if_skipped(d, virtual) || !exists(in->o->sys_root, rel))
            continue;
        written++;
        jsonw_obj_open(&in->w);
        kv_text(&in->w, "name", d);
        if (read_attr(in, in->o->sys_root, rel, v, sizeof v) == 0 && is_mac(v))
            kv_text(&in->w, "mac", v);
        snprintf(rel, sizeof rel, "/class/net/%s/mtu", d);
        if (read_attr(in, in->o->sys_root, rel, v, sizeof v) == 0 && coll_u64(v, &mtu) == 0 &&
            mtu <= 1u << 20)
            kv_u64(&in->w, "mtu", mtu);
        /* Reading speed fails (EINVAL) while the link is down; -1 means unknown. */
        snprintf(rel, sizeof rel, "/class/net/%s/speed", d);
        if (read_attr(in, in->o->sys_root, rel, v, sizeof v) == 0 && parse_i64(v, &speed) == 0 &&
            speed > 0 && speed < 100000000)
            jsonw_kv_int(&in->w, "speed_mbps", speed);
        jsonw_key(&in->w, "virtual");
        jsonw_bool(&in->w, virtual);
        jsonw_key(&in->w, "addresses");
        jsonw_arr_open(&in->w);
        size_t na = 0;
        for (size_t k = 0; k < in->naddrs && na < INV_ADDRS_PER_IF; k++) {
            if (strcmp(in->addrs[k].ifname, d) != 0)
                continue;
            if (k > 0 && cmp_addr(&in->addrs[k], &in->addrs[k - 1]) == 0)
                continue;
            put_text(&in->w, in->addrs[k].text);
            na++;
        }
        jsonw_arr_close(&in->w);
        jsonw_obj_close(&in->w);
    }
    jsonw_arr_close(&in->w);
    free_names(names, n);
}

/* ---- where the host runs ---------------------------------------------------------------- */

static void read_dmi(inv *in)
{
    for (size_t i = 0; i < sizeof dmi_fields / sizeof dmi_fields[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "/class/dmi/id/%s", dmi_fields[i].name);
        read_attr(in, in->o->sys_root, rel, (char *)&in->dmi + dmi_fields[i].off, INV_ATTR_MAX);
    }
}

/* The hypervisor a DMI table names, or NULL: the table systemd-detect-virt uses, plus cloud
 * vendors whose product strings give no hypervisor name (their VMs run on KVM). */
static const char *dmi_hypervisor(const dmi_info *d)
{
    static const struct {
        const char *prefix, *type;
    } t[] = {{"KVM", "kvm"},
             {"OpenStack", "kvm"},
             {"KubeVirt", "kvm"},
             {"QEMU", "qemu"},
             {"VMware", "vmware"},
             {"VMW", "vmware"},
             {"innotek GmbH", "virtualbox"},
             {"VirtualBox", "virtualbox"},
             {"Xen", "xen"},
             {"HVM domU", "xen"},
             {"Bochs", "bochs"},
             {"Parallels", "parallels"},
             {"BHYVE", "bhyve"},
             {"Hyper-V", "hyperv"},
             {"Google Compute Engine", "kvm"},
             {"DigitalOcean", "kvm"},
             {"Hetzner", "kvm"},
             {"Alibaba Cloud", "kvm"},
             {"oVirt", "kvm"},
             {"RHEV Hypervisor", "kvm"},
             {"Nutanix AHV", "kvm"},
             {"Scaleway", "kvm"},
             {"Apple Virtualization", "apple"}};
    const char *fields[] = {d->product_name, d->sys_vendor, d->board_vendor, d->bios_vendor,
                            d->product_version};
    /* Microsoft and Amazon also make (or rent out) bare metal: only their VM products count. */
    if (strcmp(d->sys_vendor, "Microsoft Corporation") == 0 &&
        strcmp(d->product_name, "Virtual Machine") == 0)
        return "hyperv";
    if (strcmp(d->sys_vendor, "Amazon EC2") == 0) {
        size_t n = strlen(d->product_name);
        return n > 6 && strcmp(d->product_name + n - 6, ".metal") == 0 ? NULL : "kvm";
    }
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            if (fields[f][0] && has_prefix(fields[f], t[i].prefix))
                return t[i].type;
        }
    }
    return NULL;
}

static void put_virtualization(inv *in)
{
    const char *type = dmi_hypervisor(&in->dmi), *role = "none";
    if (type || in->hypervisor_flag) {
        role = "guest";
        if (!type)
            type = "unknown";
    } else if (exists(in->o->rootfs, "/dev/kvm") || exists(in->o->sys_root, "/module/kvm")) {
        role = "host";
        type = "kvm";
    }
    jsonw_key(&in->w, "virtualization");
    jsonw_obj_open(&in->w);
    jsonw_kv_str(&in->w, "role", role);
    if (type)
        jsonw_kv_str(&in->w, "type", type);
    jsonw_obj_close(&in->w);
}

/* The value of container= in PID 1's environment (NUL-separated), as set by systemd-nspawn,
 * LXC, podman and others; "" if absent or unreadable (only root may read it). */
static void container_env(inv *in, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (read_big(in, in->o->proc_root, "/1/environ"))
        return;
    for (size_t i = 0; i < in->file.len;) {
        const char *e = in->file.data + i;
        size_t n = strnlen(e, in->file.len - i);
        if (n > 10 && strncmp(e, "container=", 10) == 0) {
            size_t m = n - 10 < cap - 1 ? n - 10 : cap - 1;
            memcpy(dst, e + 10, m);
            dst[m] = '\0';
            /* A name, not free text: letters, digits, '-', '_', '.'. */
            for (size_t k = 0; k < m; k++) {
                char c = dst[k];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.'))
                    dst[k] = '_';
            }
            return;
        }
        i += n + 1;
    }
}

/* The container manager PID 1's cgroup path names (cgroup v1, or v2 without a namespace). */
static const char *container_cgroup(inv *in)
{
    static const struct {
        const char *word, *type;
    } t[] = {
        {"kubepods", "kubernetes"}, {"docker", "docker"}, {"libpod", "podman"}, {"lxc", "lxc"}};
    if (read_big(in, in->o->proc_root, "/1/cgroup"))
        return NULL;
    char *cur = in->file.data, *line;
    while ((line = coll_line(&cur))) {
        /* "hierarchy:controllers:path" */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            if (strstr(c2 + 1, t[i].word))
                return t[i].type;
        }
    }
    return NULL;
}

static void put_container(inv *in)
{
    static const struct {
        const char *path, *name;
    } sockets[] = {{"/run/containerd/containerd.sock", "containerd"},
                   {"/var/run/crio/crio.sock", "crio"},
                   {"/run/docker.sock", "docker"},
                   {"/run/podman/podman.sock", "podman"}};
    char env[64];
    const char *type = NULL;
    container_env(in, env, sizeof env);
    if (env[0])
        type = env;
    else if (exists(in->o->rootfs, "/.dockerenv"))
        type = "docker";
    else if (exists(in->o->rootfs, "/run/.containerenv"))
        type = "podman";
    else
        type = container_cgroup(in);
    jsonw_key(&in->w, "container");
    jsonw_obj_open(&in->w);
    jsonw_key(&in->w, "inside");
    jsonw_bool(&in->w, type != NULL);
    if (type)
        jsonw_kv_str(&in->w, "type", type);
    jsonw_key(&in->w, "runtimes");
    jsonw_arr_open(&in->w);
    for (size_t i = 0; i < sizeof sockets / sizeof sockets[0]; i++) {
        if (exists(in->o->rootfs, sockets[i].path))
            jsonw_str(&in->w, sockets[i].name);
    }
    jsonw_arr_close(&in->w);
    jsonw_obj_close(&in->w);
}

/* An EC2 instance id as Nitro instances show it in board_asset_tag: "i-" and 8 or 17 hex. */
static int is_ec2_instance_id(const char *s)
{
    size_t n = strlen(s);
    return has_prefix(s, "i-") && (n == 10 || n == 19) && is_hex_lower(s + 2, n - 2);
}

/* An EC2 instance type: "<family>.<size>" in lowercase letters, digits and '-'. */
static int is_instance_type(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || !dot[1] || strchr(dot + 1, '.') || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    }
    return 1;
}

static int ci_has_prefix(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

static void put_cloud(inv *in)
{
    const dmi_info *d = &in->dmi;
    const char *provider = "none";
    jsonw_key(&in->w, "cloud");
    jsonw_obj_open(&in->w);
    if (strcmp(d->sys_vendor, "Amazon EC2") == 0 || strcasestr(d->bios_version, "amazon") ||
        ci_has_prefix(d->product_uuid, "ec2") || ci_has_prefix(d->product_version, "ec2")) {
        jsonw_kv_str(&in->w, "provider", "aws");
        if (is_ec2_instance_id(d->board_asset_tag))
            kv_text(&in->w, "instance_id", d->board_asset_tag);
        if (strcmp(d->sys_vendor, "Amazon EC2") == 0 && is_instance_type(d->product_name))
            kv_text(&in->w, "instance_type", d->product_name);
        jsonw_obj_close(&in->w);
        return;
    }
    if (strcmp(d->product_name, "Google Compute Engine") == 0 ||
        (strcmp(d->sys_vendor, "Google") == 0 && strcmp(d->bios_vendor, "Google") == 0))
        provider = "gcp";
    else if (strcmp(d->sys_vendor, "Microsoft Corporation") == 0 &&
             strcmp(d->chassis_asset_tag, "7783-7084-3265-9085-8269-3286-77") == 0)
        provider = "azure";
    else if (strcmp(d->sys_vendor, "DigitalOcean") == 0)
        provider = "digitalocean";
    else if (strcmp(d->sys_vendor, "Hetzner") == 0)
        provider = "hetzner";
    else if (strcmp(d->chassis_asset_tag, "OracleCloud.com") == 0)
        provider = "oracle";
    else if (strcmp(d->sys_vendor, "Alibaba Cloud") == 0 ||
             strcmp(d->product_name, "Alibaba Cloud ECS") == 0)
        provider = "alibaba";
    else if (has_prefix(d->sys_vendor, "OpenStack") || has_prefix(d->product_name, "OpenStack"))
        provider = "openstack";
    jsonw_kv_str(&in->w, "provider", provider);
    jsonw_obj_close(&in->w);
}

static void put_dmi(inv *in)
{
    jsonw_key(&in->w, "dmi");
    jsonw_obj_open(&in->w);
    for (size_t i = 0; i < sizeof dmi_fields / sizeof dmi_fields[0]; i++)
        kv_text(&in->w, dmi_fields[i].name, (const char *)&in->dmi + dmi_fields[i].off);
    jsonw_obj_close(&in->w);
}

/* ---- the document ----------------------------------------------------------------------- */

int inventory_collect(const inventory_opts *o, buf *out)
{
    inv *in = mem_calloc(1, sizeof *in);
    char id[40];
    size_t start = out->len;
    int rc;
    if (!in)
        return -ENOMEM;
    in->o = o;
    in->env = (coll_env){o->proc_root, o->sys_root, o->rootfs, 0, NULL, NULL, 0};
    buf_init(&in->file, INV_FILE_MAX);
    jsonw_init(&in->w, out);
    read_dmi(in);
    jsonw_obj_open(&in->w);
    put_hostname(in);
    if (inventory_machine_id(o, id, sizeof id) == 0)
        jsonw_kv_str(&in->w, "machine_id", id);
    put_boot_time(in);
    put_os(in);
    put_kernel_arch(in);
    put_cpu(in); /* before virtualization: it finds the hypervisor flag */
    put_memory(in);
    put_disks(in);
    put_filesystems(in);
    put_interfaces(in);
    put_virtualization(in);
    put_container(in);
    put_cloud(in);
    put_dmi(in);
    jsonw_obj_close(&in->w);
    rc = in->rc ? in->rc : out->err;
    if (!rc && out->len - start > INVENTORY_MAX_BYTES)
        rc = -E2BIG;
    buf_free(&in->file);
    mem_free(in->addrs);
    mem_free(in);
    return rc;
}
