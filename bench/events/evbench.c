/* evbench: the event store's benchmark (bench/events/README.md says how to run it).
 *
 *   evbench ingest DIR N [BATCH [DAYS]]  append N syslog-like events in batches (default 1000)
 *                                        spread over DAYS days (default 10) from 2026-01-01
 *   evbench seal DIR                     seal every day (maintain at the last day + 3 days)
 *   evbench search DIR WORD...           newest 100 matching each search (median of 5 runs)
 *   evbench filter DIR                   filter-only queries (device + time, sensor, severity)
 *   evbench stats DIR                    events, bytes, bytes per event
 *   evbench vocab RANK...                the vocabulary word at each Zipf rank (1: commonest)
 *   evbench rsyslog N [DAYS]             bytes of the same N events as rsyslog lines, and gzipped
 *   evbench threads DIR N THREADS BATCH  N events appended by THREADS threads at once
 *
 * Events are generated deterministically (splitmix64, fixed seed): 50 hosts, 20 apps, 5% from
 * unknown senders, messages of 60-200 bytes drawn from a 50,000-word vocabulary with Zipf
 * (s = 1) frequencies plus pids, ports and addresses, like syslog. Times are fixed (2026-01-01
 * onwards), never the wall clock, so runs compare. */
#include "events/evstore.h"
#include "lib/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define VOCAB 50000
#define HOSTS 50
#define APPS 20
#define DAY_MS 86400000LL
#define START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static const char *const common_words[] = {
    "for",        "from",        "the",        "to",
    "session",    "user",        "port",       "connection",
    "closed",     "opened",      "by",         "of",
    "on",         "in",          "with",       "failed",
    "accepted",   "password",    "invalid",    "root",
    "request",    "error",       "started",    "stopped",
    "received",   "disconnect",  "status",     "timeout",
    "service",    "unit",        "job",        "finished",
    "starting",   "reset",       "link",       "up",
    "down",       "is",          "not",        "no",
    "address",    "client",      "server",     "message",
    "queue",      "deferred",    "sent",       "delivered",
    "relay",      "host",        "key",        "authentication",
    "pam_unix",   "cron",        "command",    "run",
    "exited",     "code",        "signal",     "process",
    "memory",     "disk",        "device",     "mounted",
    "filesystem", "warning",     "critical",   "retry",
    "backend",    "upstream",    "response",   "GET",
    "POST",       "HTTP",        "query",      "slow",
    "lock",       "wait",        "checkpoint", "replication",
    "lag",        "container",   "pod",        "image",
    "pulled",     "volume",      "network",    "interface",
    "dhcp",       "lease",       "renew",      "bound",
    "ntp",        "sync",        "clock",      "offset",
    "audit",      "denied",      "allowed",    "policy",
    "rule",       "firewall",    "drop",       "accept",
    "packet",     "kernel",      "oom",        "killed",
    "task",       "scheduler",   "worker",     "thread",
    "pool",       "cache",       "hit",        "miss",
    "evicted",    "certificate", "expired",    "handshake",
    "tls",        "ssl",         "peer"};
#define NCOMMON (sizeof common_words / sizeof common_words[0])

static const char *const apps[APPS] = {
    "sshd",         "kernel",  "systemd", "CRON",       "nginx",    "postfix/smtpd", "sudo",
    "dhclient",     "dockerd", "kubelet", "containerd", "rsyslogd", "haproxy",       "mysqld",
    "redis-server", "ntpd",    "auditd",  "snmpd",      "named",    "smartd"};

static char vocab[VOCAB][16];
static double zipf_cdf[VOCAB];
static char hosts[HOSTS][16];

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static void vocab_init(void)
{
    static const char *const syl[] = {"ka",  "ro",  "mi", "ten", "sa", "lo",  "ver", "dex", "ni",
                                      "por", "tal", "ex", "an",  "ci", "mon", "bu",  "re",  "zo",
                                      "li",  "fa",  "qu", "ge",  "wa", "st",  "in",  "or",  "el"};
    uint64_t seed = 42;
    for (int i = 0; i < VOCAB; i++) {
        if ((size_t)i < NCOMMON) {
            snprintf(vocab[i], sizeof vocab[i], "%s", common_words[i]);
            continue;
        }
        /* Synthetic words: 2-4 syllables, unique by construction (the rank is folded in). */
        char w[32] = "";
        size_t len = 0;
        int n = 2 + (int)(splitmix(&seed) % 3);
        for (int k = 0; k < n; k++)
            len += (size_t)snprintf(w + len, sizeof w - len, "%s",
                                    syl[splitmix(&seed) % (sizeof syl / sizeof syl[0])]);
        snprintf(vocab[i], sizeof vocab[i], "%.9s%x", w, (unsigned)i);
    }
    double h = 0;
    for (int i = 0; i < VOCAB; i++)
        h += 1.0 / (i + 1);
    double acc = 0;
    for (int i = 0; i < VOCAB; i++) {
        acc += 1.0 / (i + 1) / h;
        zipf_cdf[i] = acc;
    }
    for (int i = 0; i < HOSTS; i++) {
        static const char *const role[] = {"web", "db", "cache", "lb", "app", "mq", "k8s"};
        snprintf(hosts[i], sizeof hosts[i], "%s-%02d", role[i % 7], i / 7 + 1);
    }
}

static const char *zipf_word(uint64_t *s)
{
    double u = unif(s);
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return vocab[lo];
}

typedef struct genev {
    event ev;
    char msg[256];
    char source[24];
    int app, host, pid;
} genev;

/* Event i of n spread over days. */
static void gen_event(genev *g, uint64_t *seed, uint64_t i, uint64_t n, double days)
{
    event_init(&g->ev);
    g->host = (int)(splitmix(seed) % HOSTS);
    g->app = (int)(splitmix(seed) % APPS);
    g->pid = 100 + (int)(splitmix(seed) % 60000);
    size_t target = 60 + splitmix(seed) % 141, len = 0;
    while (len < target) {
        uint64_t r = splitmix(seed) % 20;
        int w;
        if (r == 0)
            w = snprintf(g->msg + len, sizeof g->msg - len, "%s%u", len ? " " : "",
                         (unsigned)(splitmix(seed) % 100000));
        else if (r == 1)
            w = snprintf(g->msg + len, sizeof g->msg - len, "%s10.%u.%u.%u", len ? " " : "",
                         (unsigned)(splitmix(seed) % 4), (unsigned)(splitmix(seed) % 256),
                         (unsigned)(splitmix(seed) % 256));
        else
            w = snprintf(g->msg + len, sizeof g->msg - len, "%s%s", len ? " " : "",
                         zipf_word(seed));
        if (w < 0 || (size_t)w >= sizeof g->msg - len)
            break;
        len += (size_t)w;
    }
    snprintf(g->source, sizeof g->source, "10.9.%d.%d", g->host / 200, g->host % 200 + 1);
    double u = unif(seed);
    g->ev.severity = u < 0.70 ? 6 : u < 0.85 ? 5 : u < 0.93 ? 4 : u < 0.98 ? 3 : u < 0.995 ? 2 : 7;
    g->ev.facility = (int)(splitmix(seed) % 24);
    g->ev.t_ms = START_MS + (int64_t)((double)i * (days * DAY_MS / (double)n));
    g->ev.recv_ms = g->ev.t_ms + (int64_t)(splitmix(seed) % 500);
    g->ev.sensor_id = 1 + g->app % 4;
    g->ev.device_id = unif(seed) < 0.05 ? 0 : g->host + 1;
    g->ev.kind = EVENT_KIND_SYSLOG;
    g->ev.host = hosts[g->host];
    g->ev.app = apps[g->app];
    g->ev.title = g->msg;
    g->ev.text = g->msg;
    g->ev.source = g->source;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static evstore *open_store(const char *dir)
{
    char err[256];
    evstore *s;
    /* A long retention so that maintenance at fixed 2026 times never drops the data. */
    evstore_opts o = {.retention_ms = 3650 * DAY_MS, .max_bytes = 1ULL << 40};
    int rc = evstore_open(&s, dir, &o, err, sizeof err);
    if (rc) {
        fprintf(stderr, "evbench: %s\n", err);
        exit(1);
    }
    return s;
}

static void print_stats(evstore *s, const char *what)
{
    evstore_stats st;
    evstore_stats_get(s, &st);
    printf("%s: %" PRIu64 " events, %" PRIu64 " bytes, %.1f bytes/event, %" PRIu64 " days (%" PRIu64
           " sealed)\n",
           what, st.events, st.bytes, st.events ? (double)st.bytes / (double)st.events : 0.0,
           st.segments, st.sealed);
}

static double parse_double(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v > 0)) {
        fprintf(stderr, "evbench: not a positive number: %s\n", s);
        exit(2);
    }
    return v;
}

static uint64_t parse_u64(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) {
        fprintf(stderr, "evbench: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

static int cmd_ingest(const char *dir, uint64_t n, size_t batch, double days)
{
    evstore *s = open_store(dir);
    genev *g = calloc(batch, sizeof *g);
    event *ev = calloc(batch, sizeof *ev);
    if (!g || !ev)
        return 1;
    uint64_t seed = 7;
    double wall = 0, cpu = 0;
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < batch && i < n; k++, i++) {
            gen_event(&g[k], &seed, i, n, days);
            ev[k] = g[k].ev;
        }
        double w0 = now_s(), c0 = cpu_s();
        int rc = evstore_append(s, ev, k, NULL);
        wall += now_s() - w0;
        cpu += cpu_s() - c0;
        if (rc) {
            fprintf(stderr, "evbench: append: %s\n", strerror(-rc));
            return 1;
        }
    }
    printf("ingest: %" PRIu64 " events in batches of %zu: %.0f events/s (wall %.2f s), %.0f "
           "events/s of CPU (%.2f s)\n",
           n, batch, (double)n / wall, wall, (double)n / cpu, cpu);
    print_stats(s, "open");
    evstore_close(s);
    free(g);
    free(ev);
    return 0;
}

static int last_t(void *ctx, int64_t id, const event *e)
{
    (void)id;
    *(int64_t *)ctx = e->t_ms;
    return 0;
}

static int cmd_seal(const char *dir)
{
    evstore *s = open_store(dir);
    print_stats(s, "before sealing");
    /* Maintenance three days after the newest day seals everything. */
    int64_t newest = START_MS;
    evstore_filter q = {.max_severity = -1, .limit = 1};
    int64_t next;
    char err[256];
    evstore_query(s, &q, last_t, &newest, &next, err, sizeof err);
    double w0 = now_s(), c0 = cpu_s();
    evstore_maintain(s, newest + 3 * DAY_MS);
    printf("seal: %.2f s (CPU %.2f s)\n", now_s() - w0, cpu_s() - c0);
    print_stats(s, "sealed");
    evstore_close(s);
    return 0;
}

static int count_row(void *ctx, int64_t id, const event *e)
{
    (void)id, (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs q 5 times (after one cold run) and prints the median. */
static void timed(evstore *s, const char *what, evstore_filter *q)
{
    double t[6];
    size_t rows = 0;
    char err[256];
    int64_t next = 0;
    for (int i = 0; i < 6; i++) {
        rows = 0;
        double w0 = now_s();
        int rc = evstore_query(s, q, count_row, &rows, &next, err, sizeof err);
        t[i] = (now_s() - w0) * 1000;
        if (rc) {
            printf("%-44s error %s\n", what, err);
            return;
        }
    }
    double cold = t[0];
    qsort(t + 1, 5, sizeof t[0], cmp_double);
    printf("%-44s %5zu rows  %8.2f ms median  (first run %.2f ms)%s\n", what, rows, t[3], cold,
           next ? "" : "  [all]");
}

static int cmd_search(const char *dir, int argc, char **argv)
{
    evstore *s = open_store(dir);
    for (int i = 0; i < argc; i++) {
        evstore_filter q = {.max_severity = -1, .limit = 100, .q = argv[i]};
        char what[128];
        snprintf(what, sizeof what, "search \"%s\"", argv[i]);
        timed(s, what, &q);
    }
    evstore_close(s);
    return 0;
}

static int cmd_filter(const char *dir, int days)
{
    evstore *s = open_store(dir);
    int64_t dev = 3, dev0 = 0, sensor = 2;
    int64_t end = START_MS + (int64_t)days * DAY_MS;
    evstore_filter q = {.max_severity = -1, .limit = 100};
    timed(s, "newest 100, no filter", &q);
    q.devices = &dev, q.ndevices = 1, q.devices_set = 1;
    timed(s, "device 3, newest 100", &q);
    q.from_ms = end - 6 * 3600000LL, q.to_ms = end - 3 * 3600000LL;
    timed(s, "device 3, 3 h range 3 h ago, newest 100", &q);
    q.from_ms = START_MS + DAY_MS, q.to_ms = START_MS + DAY_MS + 3600000;
    timed(s, "device 3, 1 h range on day 2, newest 100", &q);
    q.from_ms = q.to_ms = 0;
    q.devices = &dev0;
    timed(s, "unknown device (0), newest 100", &q);
    q.devices_set = 0, q.ndevices = 0;
    q.sensors = &sensor, q.nsensors = 1;
    timed(s, "sensor 2, newest 100", &q);
    q.nsensors = 0;
    q.max_severity = 2;
    timed(s, "severity <= critical, newest 100", &q);
    q.devices = &dev, q.ndevices = 1, q.devices_set = 1;
    timed(s, "device 3 + severity <= critical", &q);
    q.devices_set = 0, q.ndevices = 0;
    q.max_severity = 1;
    timed(s, "severity <= alert (none stored)", &q);
    q.max_severity = -1;
    static const int64_t three[] = {3, 17, 40};
    q.devices = three, q.ndevices = 3, q.devices_set = 1;
    timed(s, "devices 3, 17, 40, newest 100", &q);
    q.kind = EVENT_KIND_ALERT;
    q.devices_set = 0, q.ndevices = 0;
    timed(s, "kind alert (none stored)", &q);
    q.kind = NULL;
    q.devices = &dev, q.ndevices = 1, q.devices_set = 1;
    q.max_severity = -1;
    q.q = "failed";
    timed(s, "device 3 + search \"failed\"", &q);
    q.devices_set = 0, q.ndevices = 0;
    q.q = "connection closed";
    timed(s, "search connection closed (2 words)", &q);
    q.q = "\"connection closed\"";
    timed(s, "search \"connection closed\" (phrase)", &q);
    q.q = "conn*";
    timed(s, "search conn* (prefix)", &q);
    q.q = "fa*";
    timed(s, "search fa* (short prefix)", &q);
    evstore_close(s);
    return 0;
}

static void rsyslog_line(const genev *g, char *line, size_t cap, size_t *len)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(g->ev.t_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int w = snprintf(line, cap, "%s %2d %02d:%02d:%02d %s %s[%d]: %s\n", mon[tm.tm_mon], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, g->ev.host, g->ev.app, g->pid, g->msg);
    *len = w > 0 ? (size_t)w : 0;
}

static int cmd_rsyslog(uint64_t n, double days)
{
    uint64_t seed = 7, bytes = 0, gz = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    static unsigned char out[1 << 16];
    genev g;
    char line[512];
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        gen_event(&g, &seed, i, n, days);
        rsyslog_line(&g, line, sizeof line, &len);
        bytes += len;
        z.next_in = (unsigned char *)line;
        z.avail_in = (unsigned)len;
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            deflate(&z, i + 1 == n ? Z_FINISH : Z_NO_FLUSH);
            gz += sizeof out - z.avail_out;
        } while (z.avail_out == 0);
    }
    for (int fin = (n == 0); fin;) {
        z.next_out = out;
        z.avail_out = sizeof out;
        fin = deflate(&z, Z_FINISH) != Z_STREAM_END;
        gz += sizeof out - z.avail_out;
    }
    deflateEnd(&z);
    printf("rsyslog: %" PRIu64 " lines, %" PRIu64 " bytes, %.1f bytes/event; gzip -6 (logrotate)"
           " %.1f bytes/event\n",
           n, bytes, (double)bytes / (double)n, (double)gz / (double)n);
    return 0;
}

typedef struct thr {
    evstore *s;
    uint64_t from, count, n;
    size_t batch;
    double days;
    int rc;
} thr;

static void *thread_main(void *arg)
{
    thr *t = arg;
    genev *g = calloc(t->batch, sizeof *g);
    event *ev = calloc(t->batch, sizeof *ev);
    uint64_t seed = 7 + t->from;
    for (uint64_t i = t->from; i < t->from + t->count && !t->rc;) {
        size_t k = 0;
        for (; k < t->batch && i < t->from + t->count; k++, i++) {
            gen_event(&g[k], &seed, i, t->n, t->days);
            ev[k] = g[k].ev;
        }
        t->rc = evstore_append(t->s, ev, k, NULL);
    }
    free(g);
    free(ev);
    return NULL;
}

static int cmd_threads(const char *dir, uint64_t n, int nthreads, size_t batch)
{
    evstore *s = open_store(dir);
    thr t[16];
    pthread_t th[16];
    if (nthreads < 1 || nthreads > 16)
        return 2;
    double w0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        t[i] =
            (thr){s, n / (uint64_t)nthreads * (uint64_t)i, n / (uint64_t)nthreads, n, batch, 1, 0};
        pthread_create(&th[i], NULL, thread_main, &t[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double wall = now_s() - w0;
    printf("threads: %d x %" PRIu64 " events in batches of %zu: %.0f events/s (wall %.2f s)\n",
           nthreads, n / (uint64_t)nthreads, batch, (double)n / wall, wall);
    evstore_close(s);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: evbench ingest DIR N [BATCH [DAYS]] | seal DIR | search DIR WORD... |"
                    " filter DIR [DAYS] | stats DIR | vocab RANK... | rsyslog N [DAYS] |"
                    " threads DIR N THREADS BATCH\n");
    exit(2);
}

int main(int argc, char **argv)
{
    vocab_init();
    if (argc < 3)
        usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "ingest") == 0 && argc >= 4)
        return cmd_ingest(argv[2], parse_u64(argv[3]), argc > 4 ? parse_u64(argv[4]) : 1000,
                          argc > 5 ? parse_double(argv[5]) : 10);
    if (strcmp(cmd, "seal") == 0)
        return cmd_seal(argv[2]);
    if (strcmp(cmd, "search") == 0)
        return cmd_search(argv[2], argc - 3, argv + 3);
    if (strcmp(cmd, "filter") == 0)
        return cmd_filter(argv[2], argc > 3 ? (int)parse_u64(argv[3]) : 10);
    if (strcmp(cmd, "stats") == 0) {
        evstore *s = open_store(argv[2]);
        print_stats(s, "store");
        evstore_close(s);
        return 0;
    }
    if (strcmp(cmd, "vocab") == 0) {
        for (int i = 2; i < argc; i++) {
            uint64_t r = parse_u64(argv[i]);
            if (r < 1 || r > VOCAB)
                usage();
            printf("%s\n", vocab[r - 1]);
        }
        return 0;
    }
    if (strcmp(cmd, "rsyslog") == 0)
        return cmd_rsyslog(parse_u64(argv[2]), argc > 3 ? parse_double(argv[3]) : 10);
    if (strcmp(cmd, "threads") == 0 && argc == 6)
        return cmd_threads(argv[2], parse_u64(argv[3]), (int)parse_u64(argv[4]),
                           parse_u64(argv[5]));
    usage();
    return 2;
}
