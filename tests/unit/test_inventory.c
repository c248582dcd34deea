/* test_inventory: the inventory document on fixture trees (tests/fixtures/inventory/<case>/:
 * an EC2 KVM guest, a bare-metal KVM host, a docker container on a Hetzner ARM VM, a hostile
 * tree of garbage, and no tree at all), checked field by field after parsing it back with
 * jansson; hash stability and sensitivity; a source larger than the read cap; an output cap;
 * allocation failures at every step; and one run on the live host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/inventory.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FX FIXTURES "/inventory"

/* Fixture options for a case: roots inside tests/fixtures/inventory/<name>, no host calls. */
typedef struct fx_opts {
    char proc[PATH_MAX + 8], sys[PATH_MAX + 8], root[PATH_MAX];
    inventory_opts o;
} fx_opts;

static void fx(fx_opts *f, const char *base, const char *name)
{
    assert_true((size_t)snprintf(f->root, sizeof f->root, "%s/%s", base, name) < sizeof f->root);
    snprintf(f->proc, sizeof f->proc, "%s/proc", f->root);
    snprintf(f->sys, sizeof f->sys, "%s/sys", f->root);
    f->o = (inventory_opts){f->proc, f->sys, f->root, 0};
}

/* Collects the document of a case into out (reset first) and returns it parsed. */
static json_t *collect(const inventory_opts *o, buf *out)
{
    json_error_t je;
    buf_reset(out);
    assert_int_equal(inventory_collect(o, out), 0);
    json_t *doc = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        fail_msg("document does not parse: %s at %d:%d\n%.2000s", je.text, je.line, je.column,
                 out->data);
    assert_true(json_is_object(doc));
    return doc;
}

/* Resolves a path such as "disks[1].serial" or "cpu.threads" in doc; NULL if absent. */
static json_t *at(json_t *doc, const char *path)
{
    json_t *cur = doc;
    const char *p = path;
    while (cur && *p) {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            assert_true(*end == ']');
            cur = json_array_get(cur, (size_t)i);
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        char key[128];
        assert_true(n < sizeof key);
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p += n;
    }
    return cur;
}

/* One expectation: the value at path in the document of a case, as JSON text; NULL: the path
 * must be absent. */
typedef struct field_case {
    const char *fixture, *path, *want;
} field_case;

static const field_case fields[] = {
    /* An EC2 (Nitro, KVM) guest: 2 NVMe disks, 2 interfaces + lo + a veth, docker host. */
    {"aws_kvm", "hostname", "\"ip-10-0-1-23\""},
    {"aws_kvm", "machine_id", "\"ec2a8f0e6b2d4c1f9e8d7c6b5a493827\""},
    {"aws_kvm", "boot_time", "\"2026-11-23T20:06:58Z\""},
    {"aws_kvm", "os",
     "{\"name\":\"Debian GNU/Linux\",\"id\":\"debian\",\"version\":\"12 (bookworm)\","
     "\"version_id\":\"12\",\"pretty\":\"Debian GNU/Linux 12 (bookworm)\"}"},
    {"aws_kvm", "kernel.release", "\"6.1.0-26-cloud-amd64\""},
    {"aws_kvm", "kernel.version", "\"#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)\""},
    {"aws_kvm", "arch", "\"x86_64\""},
    {"aws_kvm", "cpu",
     "{\"model\":\"Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz\","
     "\"vendor\":\"GenuineIntel\",\"sockets\":1,\"cores\":1,\"threads\":2,"
     "\"mhz\":2500}"},
    {"aws_kvm", "memory", "{\"total_bytes\":8198524928,\"swap_bytes\":0}"},
    {"aws_kvm", "disks[0]",
     "{\"name\":\"nvme0n1\",\"kind\":\"disk\",\"model\":\"Amazon Elastic "
     "Block Store\",\"serial\":\"vol0123456789abcdef0\",\"size_bytes\":"
     "8589934592,\"rotational\":false,\"removable\":false}"},
    {"aws_kvm", "disks[1].name", "\"nvme1n1\""},
    {"aws_kvm", "disks[1].serial", "\"AWS1234567890ABCDEF\""},
    {"aws_kvm", "disks[1].size_bytes", "107374182400"},
    {"aws_kvm", "disks[2]", NULL}, /* loop0 is not a disk */
    {"aws_kvm", "filesystems[0].mountpoint", "\"/\""},
    {"aws_kvm", "filesystems[0].device", "\"/dev/nvme0n1p1\""},
    {"aws_kvm", "filesystems[0].type", "\"ext4\""},
    {"aws_kvm", "filesystems[1].mountpoint", "\"/boot/efi\""},
    {"aws_kvm", "filesystems[1].type", "\"vfat\""},
    {"aws_kvm", "filesystems[2].mountpoint", "\"/data\""},
    {"aws_kvm", "filesystems[3]", NULL}, /* /proc, /sys, tmpfs, overlay are left out */
    {"aws_kvm", "interfaces[0]",
     "{\"name\":\"ens5\",\"mac\":\"0a:1b:2c:3d:4e:5f\",\"mtu\":9001,"
     "\"virtual\":false,\"addresses\":[\"2001:db8:0:1::17/64\"]}"},
    {"aws_kvm", "interfaces[1]",
     "{\"name\":\"ens6\",\"mac\":\"0a:1b:2c:3d:4e:60\",\"mtu\":1500,"
     "\"speed_mbps\":25000,\"virtual\":false,\"addresses\":[]}"},
    {"aws_kvm", "interfaces[2]", NULL}, /* lo and the veth are left out */
    {"aws_kvm", "virtualization", "{\"role\":\"guest\",\"type\":\"kvm\"}"},
    {"aws_kvm", "container", "{\"inside\":false,\"runtimes\":[\"containerd\",\"docker\"]}"},
    {"aws_kvm", "cloud",
     "{\"provider\":\"aws\",\"instance_id\":\"i-0123456789abcdef0\","
     "\"instance_type\":\"m5.large\"}"},
    {"aws_kvm", "dmi",
     "{\"sys_vendor\":\"Amazon EC2\",\"product_name\":\"m5.large\","
     "\"product_uuid\":\"EC2E1916-9099-7CAA-FD21-012345678902\","
     "\"board_vendor\":\"Amazon EC2\",\"board_asset_tag\":\"i-0123456789abcdef0\","
     "\"chassis_vendor\":\"Amazon EC2\",\"chassis_asset_tag\":\"Amazon EC2\","
     "\"bios_vendor\":\"Amazon EC2\",\"bios_version\":\"1.0\"}"},

    /* Bare metal: 2 sockets x 2 cores x 2 threads, /dev/kvm, SATA + dm + md disks. */
    {"baremetal", "hostname", "\"db-1\""},
    {"baremetal", "boot_time", "\"2026-09-21T14:13:20Z\""},
    {"baremetal", "os.name", "\"Rocky Linux\""},
    {"baremetal", "os.id", "\"rocky\""},
    {"baremetal", "os.version", "\"9.3 (Blue Onyx)\""},
    {"baremetal", "os.version_id", "\"9.3\""},                             /* single quotes */
    {"baremetal", "os.pretty", "\"Rocky Linux 9.3 (Blue \\\"Onyx\\\")\""}, /* escapes */
    {"baremetal", "cpu",
     "{\"model\":\"Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\","
     "\"vendor\":\"GenuineIntel\",\"sockets\":2,\"cores\":4,\"threads\":8,"
     "\"mhz\":3900}"}, /* cpufreq's maximum, not cpu MHz */
    {"baremetal", "memory", "{\"total_bytes\":405444808704,\"swap_bytes\":8589930496}"},
    {"baremetal", "disks[0]",
     "{\"name\":\"dm-0\",\"kind\":\"dm\",\"dm_name\":\"vg0-root\","
     "\"size_bytes\":53687091200,\"rotational\":false}"},
    {"baremetal", "disks[1]",
     "{\"name\":\"md0\",\"kind\":\"md\",\"size_bytes\":2000263577600,"
     "\"rotational\":true}"},
    {"baremetal", "disks[2]",
     "{\"name\":\"sda\",\"kind\":\"disk\",\"vendor\":\"ATA\","
     "\"model\":\"SAMSUNG MZ7LH960\",\"serial\":\"naa.5002538e00000001\","
     "\"size_bytes\":960197124096,\"rotational\":false,"
     "\"removable\":false}"},
    {"baremetal", "disks[3].name", "\"sdb\""},
    {"baremetal", "disks[3].serial", NULL},
    {"baremetal", "disks[3].rotational", "true"},
    {"baremetal", "disks[4]", NULL}, /* sr0 (size 0), zram0 */
    {"baremetal", "filesystems[0].mountpoint", "\"/\""},
    {"baremetal", "filesystems[0].device", "\"/dev/mapper/vg0-root\""},
    {"baremetal", "filesystems[1].mountpoint", "\"/boot\""},
    {"baremetal", "filesystems[2].mountpoint", "\"/mnt/my disk\""}, /* \040 decoded */
    {"baremetal", "filesystems[2].size_bytes", NULL},               /* no such directory */
    {"baremetal", "filesystems[3]", NULL}, /* /srv and /backup hidden by tmpfs and nfs4 */
    {"baremetal", "interfaces[0]",
     "{\"name\":\"br0\",\"mac\":\"00:0c:29:12:34:56\",\"mtu\":1500,"
     "\"virtual\":true,\"addresses\":[]}"},
    {"baremetal", "interfaces[1]",
     "{\"name\":\"eno1\",\"mac\":\"00:0c:29:12:34:56\",\"mtu\":1500,"
     "\"speed_mbps\":1000,\"virtual\":false,"
     "\"addresses\":[\"2001:db8::10/64\"]}"},
    {"baremetal", "interfaces[2].name", "\"eno2\""},
    {"baremetal", "interfaces[2].speed_mbps", NULL},
    {"baremetal", "interfaces[3]", NULL}, /* vnet3, a VM's tap */
    {"baremetal", "virtualization", "{\"role\":\"host\",\"type\":\"kvm\"}"},
    {"baremetal", "container", "{\"inside\":false,\"runtimes\":[\"podman\"]}"},
    {"baremetal", "cloud", "{\"provider\":\"none\"}"},
    {"baremetal", "dmi.sys_vendor", "\"Dell Inc.\""},
    {"baremetal", "dmi.product_name", "\"PowerEdge R640\""},
    {"baremetal", "dmi.chassis_asset_tag", NULL}, /* blanks only */
    {"baremetal", "dmi.product_uuid", NULL},      /* root only */

    /* A docker container on an ARM Hetzner cloud VM. */
    {"container", "hostname", "\"3f2a1b9c8d7e\""},
    {"container", "machine_id", NULL},
    {"container", "os",
     "{\"name\":\"Alpine Linux\",\"id\":\"alpine\",\"version_id\":\"3.19.1\","
     "\"pretty\":\"Alpine Linux v3.19\"}"}, /* /usr/lib/os-release */
    {"container", "arch", NULL},            /* no /proc/sys/kernel/arch and no host calls */
    {"container", "cpu", "{\"vendor\":\"ARM\",\"sockets\":1,\"cores\":4,\"threads\":4}"},
    {"container", "disks", "[]"},
    {"container", "filesystems[0].mountpoint", "\"/data\""},
    {"container", "filesystems[1].mountpoint", "\"/etc/hosts\""},
    {"container", "filesystems[2]", NULL},
    {"container", "interfaces",
     "[{\"name\":\"eth0\",\"mac\":\"02:42:ac:11:00:02\",\"mtu\":1500,"
     "\"speed_mbps\":10000,\"virtual\":true,\"addresses\":[]}]"},
    {"container", "virtualization", "{\"role\":\"guest\",\"type\":\"kvm\"}"},
    {"container", "container", "{\"inside\":true,\"type\":\"docker\",\"runtimes\":[]}"},
    {"container", "cloud", "{\"provider\":\"hetzner\"}"},

    /* Garbage: whatever cannot be read or parsed is left out. */
    {"hostile", "hostname", "\"evil\\nhost\\u0001\xc3\xbf\""},
    {"hostile", "machine_id", NULL},
    {"hostile", "boot_time", NULL},
    {"hostile", "os", "{}"},
    {"hostile", "kernel.release", NULL}, /* longer than an attribute may be */
    {"hostile", "kernel.version", "\"?( bad utf8 ?? \xf0\x9f\x98\x80 ok\""},
    {"hostile", "cpu.threads", "2"},
    {"hostile", "cpu.cores", "1"},
    {"hostile", "cpu.sockets", "1"},
    {"hostile", "cpu.vendor", NULL},
    {"hostile", "cpu.mhz", NULL},
    {"hostile", "memory", "{}"},
    {"hostile", "disks",
     "[{\"name\":\"sdd\",\"kind\":\"disk\",\"model\":\"\\u0001\\u0002model\x7f\","
     "\"size_bytes\":51200}]"},
    {"hostile", "filesystems[0].device", "\"/dev/w\""},
    {"hostile", "filesystems[1]", NULL},
    {"hostile", "interfaces", "[{\"name\":\"eth0\",\"virtual\":true,\"addresses\":[]}]"},
    {"hostile", "virtualization", "{\"role\":\"none\"}"}, /* "hypervisorx" is not the flag */
    {"hostile", "container", "{\"inside\":true,\"type\":\"we_rd_\",\"runtimes\":[]}"},
    {"hostile", "cloud", "{\"provider\":\"none\"}"},
    {"hostile", "dmi", "{\"sys_vendor\":\"Amazon?? EC2\",\"product_uuid\":\"not-a-uuid\"}"},

    /* No tree at all. */
    {"missing", "hostname", NULL},
    {"missing", "os", "{}"},
    {"missing", "kernel", "{}"},
    {"missing", "cpu", "{}"},
    {"missing", "memory", "{}"},
    {"missing", "disks", "[]"},
    {"missing", "filesystems", "[]"},
    {"missing", "interfaces", "[]"},
    {"missing", "virtualization", "{\"role\":\"none\"}"},
    {"missing", "container", "{\"inside\":false,\"runtimes\":[]}"},
    {"missing", "cloud", "{\"provider\":\"none\"}"},
    {"missing", "dmi", "{}"},
};

static void fields_of_every_fixture(void **state)
{
    (void)state;
    buf out;
    buf_init(&out, 0);
    const char *loaded = NULL;
    json_t *doc = NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const field_case *c = &fields[i];
        if (!loaded || strcmp(loaded, c->fixture) != 0) {
            fx_opts f;
            fx(&f, FX, c->fixture);
            json_decref(doc);
            doc = collect(&f.o, &out);
            loaded = c->fixture;
        }
        json_t *got = at(doc, c->path);
        if (!c->want) {
            if (got) {
                char *s = json_dumps(got, JSON_ENCODE_ANY);
                fail_msg("%s %s: want absent, got %s", c->fixture, c->path, s);
            }
            continue;
        }
        json_error_t je;
        json_t *want = json_loads(c->want, JSON_DECODE_ANY, &je);
        if (!want)
            fail_msg("case %zu: bad expectation %s: %s", i, c->want, je.text);
        if (!got || !json_equal(got, want)) {
            char *s = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
            fail_msg("%s %s: want %s, got %s", c->fixture, c->path, c->want, s ? s : "(absent)");
        }
        json_decref(want);
    }
    json_decref(doc);
    buf_free(&out);
}

/* statvfs sizes depend on the file system the fixtures live on: compare with statvfs itself. */
static void filesystem_sizes_come_from_statvfs(void **state)
{
    (void)state;
    static const struct {
        const char *fixture, *path, *dir;
    } cases[] = {{"aws_kvm", "filesystems[0].size_bytes", "/"},
                 {"aws_kvm", "filesystems[1].size_bytes", "/boot/efi"},
                 {"aws_kvm", "filesystems[2].size_bytes", "/data"},
                 {"baremetal", "filesystems[1].size_bytes", "/boot"},
                 {"container", "filesystems[0].size_bytes", "/data"}};
    buf out;
    buf_init(&out, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_opts f;
        char dir[PATH_MAX + 16];
        struct statvfs st;
        fx(&f, FX, cases[i].fixture);
        snprintf(dir, sizeof dir, "%s%s", f.root, cases[i].dir);
        assert_int_equal(statvfs(dir, &st), 0);
        json_t *doc = collect(&f.o, &out);
        json_t *v = at(doc, cases[i].path);
        assert_non_null(v);
        assert_true(json_is_integer(v));
        assert_int_equal(json_integer_value(v), (json_int_t)(st.f_blocks * st.f_frsize));
        json_decref(doc);
    }
    buf_free(&out);
}

static void hash_is_stable_and_tells_fixtures_apart(void **state)
{
    (void)state;
    static const char *const names[] = {"aws_kvm", "baremetal", "container", "hostile", "missing"};
    uint64_t h[5];
    buf a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    for (size_t i = 0; i < 5; i++) {
        fx_opts f;
        fx(&f, FX, names[i]);
        buf_reset(&a);
        buf_reset(&b);
        assert_int_equal(inventory_collect(&f.o, &a), 0);
        assert_int_equal(inventory_collect(&f.o, &b), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        h[i] = inventory_hash(a.data, a.len);
        assert_true(h[i] == inventory_hash(b.data, b.len));
        for (size_t k = 0; k < i; k++)
            assert_true(h[k] != h[i]);
    }
    buf_free(&a);
    buf_free(&b);
}

/* ---- temporary trees ------------------------------------------------------------------- */

typedef struct tmp_tree {
    char dir[64];
} tmp_tree;

static void write_file(const char *root, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void write_str(const char *root, const char *rel, const char *s)
{
    write_file(root, rel, s, strlen(s));
}

static void rm_tree(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void make_tree(tmp_tree *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/dd-inventory-test-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
}

static void hash_follows_a_change_and_its_undoing(void **state)
{
    (void)state;
    tmp_tree t;
    fx_opts f;
    buf out;
    buf_init(&out, 0);
    make_tree(&t);
    fx(&f, "/tmp", t.dir + 5);
    write_str(t.dir, "proc/sys/kernel/hostname", "web-1\n");
    write_str(t.dir, "sys/class/net/eth0/address", "52:54:00:12:34:56\n");
    write_str(t.dir, "sys/class/net/eth0/mtu", "1500\n");
    write_str(t.dir, "sys/class/net/eth0/device/vendor", "0x1af4\n");
    assert_int_equal(inventory_collect(&f.o, &out), 0);
    uint64_t h1 = inventory_hash(out.data, out.len);

    static const struct {
        const char *rel, *changed, *orig;
    } edits[] = {
        {"sys/class/net/eth0/mtu", "9000\n", "1500\n"},
        {"proc/sys/kernel/hostname", "web-2\n", "web-1\n"},
        {"sys/block/vda/size", "2048\n", NULL},
        {"dev/kvm", "", NULL},
        {"etc/machine-id", "0123456789abcdef0123456789abcdef\n", NULL},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        write_str(t.dir, edits[i].rel, edits[i].changed);
        buf_reset(&out);
        assert_int_equal(inventory_collect(&f.o, &out), 0);
        if (inventory_hash(out.data, out.len) == h1)
            fail_msg("changing %s did not change the hash", edits[i].rel);
        if (edits[i].orig) {
            write_str(t.dir, edits[i].rel, edits[i].orig);
        } else {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", t.dir, edits[i].rel);
            assert_int_equal(unlink(path), 0);
        }
        buf_reset(&out);
        assert_int_equal(inventory_collect(&f.o, &out), 0);
        assert_true(inventory_hash(out.data, out.len) == h1);
    }
    /* What the document leaves out does not count: free memory and the current frequency. */
    write_str(t.dir, "proc/meminfo", "MemTotal: 1000 kB\nMemFree: 10 kB\n");
    write_str(t.dir, "proc/cpuinfo", "processor\t: 0\ncpu MHz\t: 1200.000\n");
    write_str(t.dir, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3000000\n");
    buf_reset(&out);
    assert_int_equal(inventory_collect(&f.o, &out), 0);
    uint64_t h2 = inventory_hash(out.data, out.len);
    write_str(t.dir, "proc/meminfo", "MemTotal: 1000 kB\nMemFree: 990 kB\n");
    write_str(t.dir, "proc/cpuinfo", "processor\t: 0\ncpu MHz\t: 3412.117\n");
    buf_reset(&out);
    assert_int_equal(inventory_collect(&f.o, &out), 0);
    assert_true(inventory_hash(out.data, out.len) == h2);
    rm_tree(t.dir);
    buf_free(&out);
}

/* A source larger than the 4 MiB read cap is left out whole, never parsed truncated. */
static void oversized_source_is_left_out(void **state)
{
    (void)state;
    tmp_tree t;
    fx_opts f;
    buf out;
    buf_init(&out, 0);
    make_tree(&t);
    fx(&f, "/tmp", t.dir + 5);
    size_t n = (4u << 20) + 100;
    char *big = malloc(n);
    assert_non_null(big);
    const char rec[] = "processor\t: 0\nmodel name\t: X\n\n";
    for (size_t i = 0; i < n; i++)
        big[i] = rec[i % (sizeof rec - 1)];
    write_file(t.dir, "proc/cpuinfo", big, n);
    free(big);
    write_str(t.dir, "proc/meminfo", "MemTotal: 1000 kB\nSwapTotal: 0 kB\n");
    json_t *doc = collect(&f.o, &out);
    assert_null(at(doc, "cpu.threads"));
    assert_null(at(doc, "cpu.model"));
    assert_int_equal(json_integer_value(at(doc, "memory.total_bytes")), 1024000);
    json_decref(doc);
    rm_tree(t.dir);
    buf_free(&out);
}

/* Many items: the lists stay sorted and capped. */
static void lists_are_sorted_and_capped(void **state)
{
    (void)state;
    tmp_tree t;
    fx_opts f;
    buf out;
    buf_init(&out, 0);
    make_tree(&t);
    fx(&f, "/tmp", t.dir + 5);
    for (int i = INVENTORY_MAX_ITEMS + 20; i > 0; i--) {
        char rel[64];
        snprintf(rel, sizeof rel, "sys/block/sd%04d/size", i);
        write_str(t.dir, rel, "8\n");
    }
    json_t *doc = collect(&f.o, &out);
    json_t *disks = at(doc, "disks");
    assert_int_equal(json_array_size(disks), INVENTORY_MAX_ITEMS);
    for (size_t i = 0; i < INVENTORY_MAX_ITEMS; i++) {
        char want[16];
        snprintf(want, sizeof want, "sd%04zu", i + 1);
        assert_string_equal(json_string_value(at(json_array_get(disks, i), "name")), want);
        assert_int_equal(json_integer_value(at(json_array_get(disks, i), "size_bytes")), 4096);
    }
    json_decref(doc);
    rm_tree(t.dir);
    buf_free(&out);
}

static void output_cap_is_an_error(void **state)
{
    (void)state;
    fx_opts f;
    buf out;
    fx(&f, FX, "aws_kvm");
    buf_init(&out, 200);
    assert_int_equal(inventory_collect(&f.o, &out), -E2BIG);
    buf_free(&out);
}

static void allocation_failures_give_enomem_or_the_same_document(void **state)
{
    (void)state;
    static const char *const names[] = {"aws_kvm", "baremetal", "hostile"};
    for (size_t c = 0; c < 3; c++) {
        fx_opts f;
        buf ref, out;
        fx(&f, FX, names[c]);
        buf_init(&ref, 0);
        assert_int_equal(inventory_collect(&f.o, &ref), 0);
        int ok = 0;
        for (long n = 0; n < 2000 && !ok; n++) {
            buf_init(&out, 0);
            mem_fail_after(n);
            int rc = inventory_collect(&f.o, &out);
            mem_fail_after(-1);
            if (rc != 0 && rc != -ENOMEM)
                fail_msg("%s, failing after %ld allocations: rc %d", names[c], n, rc);
            if (rc == 0) {
                assert_int_equal(out.len, ref.len);
                assert_memory_equal(out.data, ref.data, ref.len);
                ok = 1;
            }
            buf_free(&out);
        }
        assert_true(ok);
        buf_free(&ref);
    }
}

static void machine_id_and_dmi_uuid(void **state)
{
    (void)state;
    fx_opts f;
    char v[64];
    fx(&f, FX, "aws_kvm");
    assert_int_equal(inventory_machine_id(&f.o, v, sizeof v), 0);
    assert_string_equal(v, "ec2a8f0e6b2d4c1f9e8d7c6b5a493827");
    assert_int_equal(inventory_dmi_uuid(&f.o, v, sizeof v), 0);
    assert_string_equal(v, "ec2e1916-9099-7caa-fd21-012345678902"); /* lowercased */
    assert_int_equal(inventory_machine_id(&f.o, v, 32), -EINVAL);
    assert_int_equal(inventory_dmi_uuid(&f.o, v, 36), -EINVAL);
    fx(&f, FX, "baremetal");
    assert_int_equal(inventory_dmi_uuid(&f.o, v, sizeof v), -ENOENT);
    fx(&f, FX, "hostile");
    assert_int_equal(inventory_machine_id(&f.o, v, sizeof v), -ENOENT);
    assert_int_equal(inventory_dmi_uuid(&f.o, v, sizeof v), -ENOENT);
    fx(&f, FX, "missing");
    assert_int_equal(inventory_machine_id(&f.o, v, sizeof v), -ENOENT);
    /* The dbus copy is the fallback. */
    tmp_tree t;
    make_tree(&t);
    fx(&f, "/tmp", t.dir + 5);
    write_str(t.dir, "var/lib/dbus/machine-id", "00112233445566778899aabbccddeeff\n");
    assert_int_equal(inventory_machine_id(&f.o, v, sizeof v), 0);
    assert_string_equal(v, "00112233445566778899aabbccddeeff");
    /* systemd writes lowercase: an uppercase /etc/machine-id is malformed, the dbus copy wins. */
    write_str(t.dir, "etc/machine-id", "FFEEDDCCBBAA99887766554433221100\n");
    assert_int_equal(inventory_machine_id(&f.o, v, sizeof v), 0);
    assert_string_equal(v, "00112233445566778899aabbccddeeff");
    write_str(t.dir, "etc/machine-id", "ffeeddccbbaa99887766554433221100\n");
    assert_int_equal(inventory_machine_id(&f.o, v, sizeof v), 0);
    assert_string_equal(v, "ffeeddccbbaa99887766554433221100");
    rm_tree(t.dir);
}

/* The running host: a valid document with what every Linux host has. */
static void live_host(void **state)
{
    (void)state;
    inventory_opts o;
    buf out;
    buf_init(&out, 0);
    inventory_opts_live(&o);
    json_t *doc = collect(&o, &out);
    assert_true(json_is_string(at(doc, "hostname")));
    assert_true(json_is_string(at(doc, "kernel.release")));
    assert_true(json_is_string(at(doc, "arch")));
    assert_true(json_integer_value(at(doc, "cpu.threads")) >= 1);
    assert_true(json_integer_value(at(doc, "memory.total_bytes")) > 0);
    assert_true(json_is_array(at(doc, "interfaces")));
    assert_true(json_is_string(at(doc, "virtualization.role")));
    json_decref(doc);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_of_every_fixture),
        cmocka_unit_test(filesystem_sizes_come_from_statvfs),
        cmocka_unit_test(hash_is_stable_and_tells_fixtures_apart),
        cmocka_unit_test(hash_follows_a_change_and_its_undoing),
        cmocka_unit_test(oversized_source_is_left_out),
        cmocka_unit_test(lists_are_sorted_and_capped),
        cmocka_unit_test(output_cap_is_an_error),
        cmocka_unit_test(allocation_failures_give_enomem_or_the_same_document),
        cmocka_unit_test(machine_id_and_dmi_uuid),
        cmocka_unit_test(live_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
