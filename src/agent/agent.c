/* agent: the collection loop and the delivery state machine.
 *
 * Every batch gets a sequence number when it is collected. A batch is posted straight from
 * memory only when nothing older is waiting; otherwise it goes to the spool, which is drained
 * oldest first. A failed direct post is written to the spool under its own (older) number, so
 * delivery order always equals collection order. Retries back off from 250 ms to 30 s.
 *
 * Authentication. With a base URL the agent talks to a dashdot server: at start it uses the
 * per-agent token of its state directory, or, without one, enrolls with the token it was given
 * (POST /api/v1/agent/enroll) and stores the token the server issues. Until enrollment
 * decides, deliveries wait and batches go to the spool, as in an outage. A server without the
 * enrollment endpoint (404, 405, 501: any remote-write receiver) gets the given token as is. A
 * delivery refused with 401 or 403 is never parked (the batch is not at fault): it stays in
 * the spool while the agent enrolls again (a revoked per-agent token, when it has the original
 * token) or retries every 60 s (an operator may fix the token on the server).
 *
 * Inventory. Every --inventory-interval the agent collects the host inventory (inventory.h)
 * and PUTs it to /api/v1/agent/inventory when its hash differs from the last one the server
 * accepted. It has its own connection, so it never holds up the samples. */
#include "agent.h"

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "batch.h"
#include "collectors/collector.h"
#include "collectors/containers.h"
#include "engines.h"
#include "collectors/libvirt.h"
#include "enroll.h"
#include "inventory.h"
#include "probecfg.h"
#include "probes/sched.h"
#include "sender.h"
#include "spool.h"

#include <curl/curl.h>
#include <libssh2.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define MAX_COLLECTORS 32
#define AUTH_RETRY_MS 60000 /* after a refused token: an operator has to act */
#define INV_BACKOFF_MIN_MS 1000
#define INV_BACKOFF_MAX_MS 300000
/* How often (in rounds) the containers and VMs the collectors see are compared with the last
 * inventory, so that a new or vanished one reaches the catalog within seconds. */
#define CHILDREN_CHECK_ROUNDS 10
/* Probe results go in requests of at most this many samples (the server takes 256 MiB decoded
 * per request; a big scrape spans several). */
#define PROBE_BATCH_MAX 100000

typedef enum auth_mode {
    AUTH_PLAIN, /* the given token as is: --no-enroll, a full write URL, or no enrollment
                 * endpoint on the server */
    AUTH_AGENT, /* the per-agent token from enrollment (stored or just issued) */
} auth_mode;

typedef struct agent {
    agent_opts o;
    uv_loop_t loop;
    uv_timer_t tick, retry;
    uv_signal_t sigint, sigterm;
    coll_env env;
    const char *enabled[MAX_COLLECTORS + 1];
    char *collectors_copy;
    batch *b;
    spool *sp;
    sender *snd;
    buf encoded;    /* the current round, encoded */
    buf inflight;   /* body of the post in flight */
    uint64_t inflight_seq;
    int inflight_from_spool;
    uint64_t next_seq;
    int64_t backoff_ms;
    int waiting_retry;
    int stopping;
    /* Enrollment and inventory (base URL only). */
    char *base; /* server base URL without a trailing '/'; NULL: a full write URL */
    char *enroll_url, *inv_url;
    sender *enr, *inv;
    uv_timer_t enroll_timer, inv_timer;
    enroll_state st;
    auth_mode mode;
    int auth_ready; /* deliveries may go (0 while enrollment decides) */
    int64_t enroll_backoff_ms;
    unsigned enroll_failures;          /* consecutive, for sparse logging */
    unsigned auth_refusals;            /* consecutive deliveries refused with 401/403 */
    int token_fresh;                   /* the token was just issued and no delivery succeeded yet */
    unsigned token_gen, inv_token_gen; /* token changes; the one the inventory PUT used */
    buf enroll_body;
    inventory_opts inv_opts;
    buf inv_doc;
    uint64_t inv_accepted_hash, inv_inflight_hash;
    uint64_t children_hash; /* the containers and VMs of the last inventory collected */
    int inv_have_accepted;
    int inv_disabled; /* the server has no inventory endpoint */
    int64_t inv_backoff_ms;
    unsigned inv_failures;
    /* Probes: the scheduler, its config client, and the results since the last round. */
    probe_sched *ps;
    probecfg *pc;
    batch *pb;
    /* Self-monitoring, reported as dashdot_agent_* samples in every batch. */
    uint64_t batches_sent, samples_sent, send_failures, batches_parked;
    uint64_t last_collect_us;
    int64_t last_stats_log;
    int64_t last_stamp;
    uint64_t rounds_skipped; /* interval boundaries passed without a round (a starved loop) */
} agent;

static void pump(agent *a);
static int check_collectors(const char *list);
static void on_retry(uv_timer_t *t);
static void start_enroll(agent *a, uint64_t delay_ms);
static void on_inv_timer(uv_timer_t *t);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dashdot agent --server URL [--token TOKEN | --token-file FILE] [options]\n"
            "\n"
            "  --server URL          server base URL (http://127.0.0.1:8080) or a remote-write\n"
            "                        URL with a path (any Prometheus remote-write receiver)\n"
            "  --token TOKEN         bearer token (or env DASHDOT_TOKEN; prefer --token-file)\n"
            "  --token-file FILE     read the token from FILE\n"
            "  --interval DUR        collection interval (default 1s)\n"
            "  --spool DIR           on-disk queue for undelivered batches (default ./spool)\n"
            "  --spool-max-bytes N   spool size cap; oldest batches dropped beyond (default 256MiB)\n"
            "  --instance NAME       instance label (default: host name)\n"
            "  --collectors LIST     comma-separated collectors (default: all)\n"
            "  --libvirt-uri URI     libvirt connection for VM metrics (default\n"
            "                        qemu:///system; \"none\" disables)\n"
            "  --procs-group exe|user|cgroup  how the procs collector groups processes into\n"
            "                        applications (default exe)\n"
            "  --procs-top N         top consumers per resource, 1..100 (default 10)\n"
            "  --container-labels LIST  container labels exported as container_label_<key>\n"
            "                        (comma-separated keys; default none)\n"
            "  --docker-socket PATH  Docker API socket (default /run/docker.sock; \"\" skips)\n"
            "  --podman-socket PATH  podman API socket (default /run/podman/podman.sock)\n"
            "  --once                print one round in the text format and exit\n"
            "  --log-level LEVEL     debug, info, warn, error (default info)\n"
            "\n"
            "With a base URL the agent enrolls: it sends the given token once to\n"
            "POST /api/v1/agent/enroll and from then on uses the per-agent token the server\n"
            "issues, kept in the state directory; it also sends the host inventory.\n"
            "  --state DIR           enrollment state: agent.token, agent.json\n"
            "                        (default ./agent-state)\n"
            "  --no-enroll           never enroll; use the given token as is\n"
            "  --inventory-interval DUR  how often the inventory is collected and sent when\n"
            "                        it changed (default 5m)\n"
            "  --inventory           print the host inventory (JSON) and exit\n"
            "\n"
            "An enrolled agent runs the probes its server assigns to it (docs/probes.md).\n"
            "  --no-probes           never ask the server for probes\n"
            "  --probe-concurrency N probe runs at once (default 512)\n"
            "  --plugin-dirs LIST    directories Nagios plugins may run from, colon-separated\n"
            "                        (default /usr/lib/nagios/plugins:/usr/lib/monitoring-plugins)\n");
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -EINVAL;
    uint64_t mul = 1;
    if (*end) {
        if (!strcmp(end, "KiB") || !strcmp(end, "K") || !strcmp(end, "k"))
            mul = 1ULL << 10;
        else if (!strcmp(end, "MiB") || !strcmp(end, "M"))
            mul = 1ULL << 20;
        else if (!strcmp(end, "GiB") || !strcmp(end, "G"))
            mul = 1ULL << 30;
        else
            return -EINVAL;
    }
    if (v > UINT64_MAX / mul)
        return -EINVAL;
    *out = v * mul;
    return 0;
}

int agent_parse_args(int argc, char **argv, agent_opts *o)
{
    static char token_buf[512];
    static const struct option longopts[] = {
        {"server", required_argument, 0, 's'},   {"token", required_argument, 0, 't'},
        {"token-file", required_argument, 0, 'T'}, {"interval", required_argument, 0, 'i'},
        {"spool", required_argument, 0, 'p'},    {"spool-max-bytes", required_argument, 0, 'm'},
        {"instance", required_argument, 0, 'n'}, {"collectors", required_argument, 0, 'c'},
        {"once", no_argument, 0, 'o'},           {"log-level", required_argument, 0, 'l'},
        {"proc-root", required_argument, 0, 'P'}, {"sys-root", required_argument, 0, 'S'},
        {"state", required_argument, 0, 'D'},    {"no-enroll", no_argument, 0, 'N'},
        {"inventory-interval", required_argument, 0, 'I'},
        {"inventory", no_argument, 0, 'V'},      {"help", no_argument, 0, 'h'},
        {"container-labels", required_argument, 0, 1001},
        {"docker-socket", required_argument, 0, 1002},
        {"podman-socket", required_argument, 0, 1003},
        {"procs-group", required_argument, 0, 0x100}, {"procs-top", required_argument, 0, 0x101},
        {"libvirt-uri", required_argument, 0, 'U'},
        {"no-probes", no_argument, 0, 0x200},
        {"probe-concurrency", required_argument, 0, 0x201},
        {"plugin-dirs", required_argument, 0, 0x202},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->interval_ms = 1000;
    o->spool_dir = "spool";
    o->spool_max_bytes = 256ULL << 20;
    o->proc_root = "/proc";
    o->sys_root = "/sys";
    o->rootfs = "";
    o->state_dir = "agent-state";
    o->inventory_interval_ms = 300000;
    o->procs = (procs_opts){PROCS_GROUP_EXE, PROCS_TOP_DEFAULT};
    o->token = getenv("DASHDOT_TOKEN");
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->server = optarg; break;
        case 't': o->token = optarg; break;
        case 'T': {
            FILE *f = fopen(optarg, "r");
            if (!f || !fgets(token_buf, sizeof token_buf, f)) {
                fprintf(stderr, "dashdot agent: cannot read token file %s: %s\n", optarg,
                        strerror(errno));
                if (f)
                    fclose(f);
                return -EINVAL;
            }
            fclose(f);
            token_buf[strcspn(token_buf, "\r\n")] = '\0';
            o->token = token_buf;
            break;
        }
        case 'i':
            if (timeutil_parse_duration(optarg, &o->interval_ms) || o->interval_ms < 100 ||
                o->interval_ms > 3600000) {
                fprintf(stderr, "dashdot agent: invalid --interval \"%s\" (a duration from 100ms "
                                "to 1h, e.g. 1s)\n", optarg);
                return -EINVAL;
            }
            break;
        case 'p': o->spool_dir = optarg; break;
        case 'm':
            if (parse_size(optarg, &o->spool_max_bytes) || o->spool_max_bytes < (1 << 20)) {
                fprintf(stderr, "dashdot agent: invalid --spool-max-bytes \"%s\" (at least 1MiB;"
                                " suffixes KiB, MiB, GiB)\n", optarg);
                return -EINVAL;
            }
            break;
        case 'n': o->instance = optarg; break;
        case 'c':
            if (check_collectors(optarg))
                return -EINVAL;
            o->collectors = optarg;
            break;
        case 'o': o->once = 1; break;
        case 'l': {
            enum log_level lvl;
            if (log_parse_level(optarg, &lvl)) {
                fprintf(stderr, "dashdot agent: invalid --log-level \"%s\"\n", optarg);
                return -EINVAL;
            }
            log_set_level(lvl);
            break;
        }
        case 'P': o->proc_root = optarg; break;
        case 'S': o->sys_root = optarg; break;
        case 'D':
            if (!*optarg) {
                fprintf(stderr, "dashdot agent: --state needs a directory\n");
                return -EINVAL;
            }
            o->state_dir = optarg;
            break;
        case 'N': o->no_enroll = 1; break;
        case 'I':
            if (timeutil_parse_duration(optarg, &o->inventory_interval_ms) ||
                o->inventory_interval_ms < 1000 || o->inventory_interval_ms > 86400000) {
                fprintf(stderr, "dashdot agent: invalid --inventory-interval \"%s\" (a duration "
                                "from 1s to 24h, e.g. 5m)\n", optarg);
                return -EINVAL;
            }
            break;
        case 'V': o->inventory = 1; break;
        case 1001: {
            engines *e = NULL;
            engines_opts eo = {"", "", optarg, 0};
            int erc = engines_new(&e, &eo);
            engines_free(e);
            if (erc == -EINVAL) {
                fprintf(stderr, "dashdot agent: invalid --container-labels \"%s\" (at most %d "
                                "comma-separated label keys)\n", optarg, ENGINES_MAX_LABELS);
                return -EINVAL;
            }
            o->container_labels = optarg;
            break;
        }
        case 1002: o->docker_socket = optarg; break;
        case 1003: o->podman_socket = optarg; break;
        case 0x100:
            if (procs_parse_group(optarg, &o->procs.group)) {
                fprintf(stderr, "dashdot agent: invalid --procs-group \"%s\" (exe, user or "
                                "cgroup)\n", optarg);
                return -EINVAL;
            }
            break;
        case 0x101: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > PROCS_TOP_MAX) {
                fprintf(stderr, "dashdot agent: invalid --procs-top \"%s\" (1 to %d)\n", optarg,
                        PROCS_TOP_MAX);
                return -EINVAL;
            }
            o->procs.top = (unsigned)v;
            break;
        }
        case 'U':
            if (!*optarg) {
                fprintf(stderr, "dashdot agent: --libvirt-uri needs a URI (or \"none\")\n");
                return -EINVAL;
            }
            o->libvirt_uri = optarg;
            break;
        case 0x200: o->no_probes = 1; break;
        case 0x201: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > 100000) {
                fprintf(stderr, "dashdot agent: invalid --probe-concurrency \"%s\" (1 to "
                                "100000)\n", optarg);
                return -EINVAL;
            }
            o->probe_concurrency = (unsigned)v;
            break;
        }
        case 0x202:
            if (!*optarg || optarg[0] != '/') {
                fprintf(stderr, "dashdot agent: --plugin-dirs needs absolute directories\n");
                return -EINVAL;
            }
            o->plugin_dirs = optarg;
            break;
        case 'h': usage(stdout); return 1;
        default:
            fprintf(stderr, "dashdot agent: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1]);
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dashdot agent: unexpected argument \"%s\"\n", argv[optind]);
        return -EINVAL;
    }
    if (o->token && strlen(o->token) > 1000) {
        fprintf(stderr, "dashdot agent: the token is longer than 1000 bytes\n");
        return -EINVAL;
    }
    if (!o->once && !o->inventory && !o->server) {
        fprintf(stderr, "dashdot agent: --server is required\n");
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

/* Checks a --collectors list against the table; prints the known names on a mismatch. */
static int check_collectors(const char *list)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int known = 0;
        for (const coll_def *d = coll_table; d->name && !known; d++)
            known = strlen(d->name) == n && strncmp(d->name, p, n) == 0;
        if (!known) {
            fprintf(stderr, "dashdot agent: unknown collector \"%.*s\"; known:", (int)n, p);
            for (const coll_def *d = coll_table; d->name; d++)
                fprintf(stderr, " %s", d->name);
            fprintf(stderr, "\n");
            return -EINVAL;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Returns base + suffix in a fresh string (NULL when out of memory). */
static char *join_url(const char *base, const char *suffix)
{
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *u = mem_alloc(n);
    if (u)
        snprintf(u, n, "%s%s", base, suffix);
    return u;
}

/* Splits --server: a bare base URL (no path, or "/") is a dashdot server: *base gets it without
 * the trailing '/' and *write gets base + /api/v1/write. A URL with a path is any remote-write
 * receiver: *write is the URL as is and *base NULL. Returns 0 or -ENOMEM. */
static int server_urls(const char *server, char **write, char **base)
{
    const char *p = strstr(server, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t n = strlen(server);
    *base = NULL;
    if (p && strcmp(p, "/") != 0) {
        *write = mem_strdup(server);
        return *write ? 0 : -ENOMEM;
    }
    *base = mem_strndup(server, p ? n - 1 : n);
    *write = *base ? join_url(*base, "/api/v1/write") : NULL;
    if (!*write) {
        mem_free(*base);
        *base = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void add_self_metrics(agent *a)
{
    batch_add(a->b, "dashdot_agent_spool_batches", NULL, (double)spool_count(a->sp));
    batch_add(a->b, "dashdot_agent_spool_bytes", NULL, (double)spool_bytes(a->sp));
    batch_add(a->b, "dashdot_agent_spool_dropped_batches_total", NULL,
              (double)spool_dropped(a->sp));
    batch_add(a->b, "dashdot_agent_batches_sent_total", NULL, (double)a->batches_sent);
    batch_add(a->b, "dashdot_agent_batches_parked_total", NULL, (double)a->batches_parked);
    batch_add(a->b, "dashdot_agent_send_failures_total", NULL, (double)a->send_failures);
    batch_add(a->b, "dashdot_agent_collect_duration_seconds", NULL,
              (double)a->last_collect_us / 1e6);
    batch_add(a->b, "dashdot_agent_rounds_skipped_total", NULL, (double)a->rounds_skipped);
    if (a->ps) {
        probe_sched_stats st;
        probe_sched_get_stats(a->ps, &st);
        batch_add(a->b, "dashdot_agent_probes", NULL, (double)st.scheduled);
        batch_add(a->b, "dashdot_agent_probes_inflight", NULL, (double)st.inflight);
        batch_add(a->b, "dashdot_agent_probes_queued", NULL, (double)st.queued);
        if (a->pc)
            batch_add(a->b, "dashdot_agent_probes_refused", NULL,
                      (double)probecfg_rejected(a->pc));
    }
}

/* A finished probe run: its samples, and the probe's counters as the agent's own metrics, go
 * into the probe batch sent with the next round. */
static void deliver(agent *a);

/* Sends the probe batch now (when it fills up between rounds). */
static void flush_probes(agent *a)
{
    buf_reset(&a->encoded);
    int rc = batch_encode(a->pb, &a->encoded);
    if (rc)
        log_error("agent: cannot encode the probe results: %s", strerror(-rc));
    else {
        a->samples_sent += batch_count(a->pb);
        deliver(a);
    }
    batch_reset(a->pb, a->last_stamp);
}

/* A sample into the probe batch; a full batch is sent first (a big scrape spans several
 * requests). Returns batch_add_at's code. */
static int add_probe_sample(agent *a, const probe_sample *s)
{
    int rc = batch_add_at(a->pb, s->t, s->metric, s->labels, s->v);
    if (rc && rc != -EINVAL && batch_count(a->pb)) {
        flush_probes(a);
        rc = batch_add_at(a->pb, s->t, s->metric, s->labels, s->v);
    }
    if (!rc && batch_count(a->pb) >= PROBE_BATCH_MAX)
        flush_probes(a);
    return rc;
}

static void on_probe_result(void *ctx, const probe_result *res)
{
    agent *a = ctx;
    unsigned failed = 0;
    for (size_t i = 0; i < res->nsamples; i++)
        failed += add_probe_sample(a, &res->samples[i]) != 0;
    if (failed)
        log_warn("agent: %u samples of probe \"%s\" dropped (bad names or too many labels)",
                 failed, res->def->name);
    if (!res->counters)
        return;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)res->def->id);
    const char *l[] = {"probe", res->def->name, "probe_id", id, NULL};
    const probe_counters *c = res->counters;
    batch_add_at(a->pb, res->start_ms, "dashdot_agent_probe_runs_total", l, (double)c->runs);
    batch_add_at(a->pb, res->start_ms, "dashdot_agent_probe_failures_total", l,
                 (double)c->failures);
    batch_add_at(a->pb, res->start_ms, "dashdot_agent_probe_timeouts_total", l,
                 (double)c->timeouts);
    batch_add_at(a->pb, res->start_ms, "dashdot_agent_probe_skipped_total", l,
                 (double)c->skipped);
    batch_add_at(a->pb, res->start_ms, "dashdot_agent_probe_late_total", l, (double)c->late);
}

/* ---- enrollment ---------------------------------------------------------------------------
 * Runs on the loop thread like everything else: the request goes through its own sender
 * (libcurl multi on the loop), so collection and spooling go on while it is under way. */

/* True if the agent may (re-)enroll: a dashdot base URL, a given token, and no --no-enroll. */
static int can_enroll(const agent *a)
{
    return a->base && a->o.token && *a->o.token && !a->o.no_enroll;
}

/* Switches deliveries (and the inventory) to token and lets them go. */
static void use_token(agent *a, const char *token, auth_mode mode)
{
    a->mode = mode;
    if (sender_set_token(a->snd, token) || (a->inv && sender_set_token(a->inv, token)) ||
        (a->pc && mode == AUTH_AGENT && probecfg_set_token(a->pc, token)))
        log_error("agent: cannot set the token (out of memory?)");
    a->auth_ready = 1;
    a->token_gen++;
    a->token_fresh = 0;
    a->enroll_failures = 0;
    a->enroll_backoff_ms = 0;
    if (a->waiting_retry && a->auth_refusals) {
        /* The wait was for a refused token, which has just been replaced. */
        uv_timer_stop(&a->retry);
        a->waiting_retry = 0;
    }
    a->auth_refusals = 0;
    if (a->inv && !a->inv_disabled && !sender_busy(a->inv))
        uv_timer_start(&a->inv_timer, on_inv_timer, 0, 0);
    pump(a);
}

/* Logs the first failure of a series and then every tenth, so that a long outage or a token
 * refused for hours is reported without flooding the log. */
static int log_this_failure(unsigned n)
{
    return n == 1 || n % 10 == 0;
}

static void on_enrolled(void *ctx, sender_result r, long status, const char *msg)
{
    agent *a = ctx;
    size_t len;
    int truncated;
    const char *body = sender_response(a->enr, &len, &truncated);
    char why[300];
    if (a->stopping)
        return;
    a->enroll_failures++;
    if (r == SENDER_OK) {
        enroll_state st = a->st;
        int rc = truncated ? -EINVAL : enroll_parse_answer(body, len, &st, why, sizeof why);
        if (truncated)
            snprintf(why, sizeof why, "answer longer than %u bytes", ENROLL_ANSWER_MAX);
        if (rc == 0) {
            snprintf(st.server, sizeof st.server, "%s", a->base);
            a->st = st;
            if ((rc = enroll_state_save(a->o.state_dir, &a->st)))
                log_error("agent: cannot store the agent token in %s: %s (it is used, but the "
                          "next start enrolls again)",
                          a->o.state_dir, strerror(-rc));
            log_info("agent: enrolled with %s as agent %lld (device %lld); agent token stored in "
                     "%s/agent.token",
                     a->base, (long long)a->st.agent_id, (long long)a->st.device_id,
                     a->o.state_dir);
            use_token(a, a->st.token, AUTH_AGENT);
            a->token_fresh = 1;
            return;
        }
        log_error("agent: malformed enrollment answer from %s (HTTP %ld): %s; retrying in %d s",
                  a->enroll_url, status, why, AUTH_RETRY_MS / 1000);
        start_enroll(a, AUTH_RETRY_MS);
        return;
    }
    enroll_error_text(body, len, why, sizeof why);
    if (status == 404 || status == 405 || status == 501) {
        log_warn("agent: %s has no enrollment endpoint (HTTP %ld): a plain remote-write "
                 "receiver; using the given token as is, without inventory",
                 a->base, status);
        a->inv_disabled = 1;
        use_token(a, a->o.token, AUTH_PLAIN);
        return;
    }
    if (status == 401 || status == 403) {
        if (log_this_failure(a->enroll_failures))
            log_error("agent: the server refused enrollment (HTTP %ld: %s); the token given with "
                      "--token needs the role enroll, agent or admin and must not be revoked or "
                      "expired; retrying every %d s, %zu batches wait in the spool",
                      status, why, AUTH_RETRY_MS / 1000, spool_count(a->sp));
        start_enroll(a, AUTH_RETRY_MS);
        return;
    }
    if (r == SENDER_RETRY) {
        a->enroll_backoff_ms = a->enroll_backoff_ms ? a->enroll_backoff_ms * 2 : BACKOFF_MIN_MS;
        if (a->enroll_backoff_ms > BACKOFF_MAX_MS)
            a->enroll_backoff_ms = BACKOFF_MAX_MS;
        if (log_this_failure(a->enroll_failures))
            log_warn("agent: enrollment with %s failed (%s); retrying in %lld ms, %zu batches "
                     "wait in the spool",
                     a->base, status ? why : msg, (long long)a->enroll_backoff_ms,
                     spool_count(a->sp));
        start_enroll(a, (uint64_t)a->enroll_backoff_ms);
        return;
    }
    /* Another 4xx (400, 413, 422): the server does not like the request; it will not change
     * by itself soon, but an upgrade might fix it. */
    if (log_this_failure(a->enroll_failures))
        log_error("agent: the server rejected the enrollment request (HTTP %ld: %s); retrying "
                  "every %d s",
                  status, why, AUTH_RETRY_MS / 1000);
    start_enroll(a, AUTH_RETRY_MS);
}

static void on_enroll_timer(uv_timer_t *t)
{
    agent *a = t->data;
    char host[256], machine_id[40], uuid[40];
    if (a->stopping)
        return;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    /* One agent record per machine and instance: several agents may run on one host. */
    enroll_identity id = {host, NULL, DD_VERSION, NULL, a->o.instance};
    if (inventory_machine_id(&a->inv_opts, machine_id, sizeof machine_id) == 0)
        id.machine_id = machine_id;
    if (inventory_dmi_uuid(&a->inv_opts, uuid, sizeof uuid) == 0)
        id.dmi_uuid = uuid;
    buf_reset(&a->enroll_body);
    int rc = enroll_request_body(&id, &a->enroll_body);
    if (rc == -EINVAL) {
        log_error("agent: cannot enroll: the host name \"%s\" is not printable ASCII; using the "
                  "given token as is",
                  host);
        use_token(a, a->o.token, AUTH_PLAIN);
        return;
    }
    if (rc == 0)
        rc = sender_post(a->enr, a->enroll_body.data, a->enroll_body.len, on_enrolled, a);
    if (rc) {
        log_error("agent: cannot start enrolling: %s; retrying in %d s", strerror(-rc),
                  BACKOFF_MAX_MS / 1000);
        uv_timer_start(&a->enroll_timer, on_enroll_timer, BACKOFF_MAX_MS, 0);
    }
}

/* Holds deliveries back and enrolls after delay_ms. */
static void start_enroll(agent *a, uint64_t delay_ms)
{
    a->auth_ready = 0;
    if (!sender_busy(a->enr))
        uv_timer_start(&a->enroll_timer, on_enroll_timer, delay_ms, 0);
}

/* A delivery was refused with 401/403: the token, not the batch, is at fault. */
static void on_auth_refused(agent *a, long status)
{
    size_t len;
    int truncated;
    const char *body = sender_response(a->snd, &len, &truncated);
    char why[300], msg[320];
    enroll_error_text(body, len, why, sizeof why);
    snprintf(msg, sizeof msg, "HTTP %ld: %s", status, why);
    a->auth_refusals++;
    if (a->mode == AUTH_AGENT && can_enroll(a)) {
        log_error("agent: the server refused the agent token of %s/agent.token (%s): it was "
                  "revoked or has expired; enrolling again with the token given with --token; "
                  "%zu batches wait in the spool",
                  a->o.state_dir, msg, spool_count(a->sp));
        /* A token refused right after it was issued would otherwise loop fast. */
        start_enroll(a, a->token_fresh ? AUTH_RETRY_MS : 0);
        return;
    }
    if (log_this_failure(a->auth_refusals))
        log_error("agent: the server refused the token (%s)%s; %zu batches wait in the spool, "
                  "retrying every %d s",
                  msg,
                  a->mode == AUTH_AGENT ? ": the agent token was revoked or has expired and "
                                          "there is no --token to enroll again with"
                                        : "",
                  spool_count(a->sp), AUTH_RETRY_MS / 1000);
    a->waiting_retry = 1;
    uv_timer_start(&a->retry, on_retry, AUTH_RETRY_MS, 0);
}

/* ---- inventory ------------------------------------------------------------------------- */

static void inv_schedule(agent *a, int64_t ms)
{
    if (!a->stopping && !a->inv_disabled)
        uv_timer_start(&a->inv_timer, on_inv_timer, (uint64_t)ms, 0);
}

static void on_inv_done(void *ctx, sender_result r, long status, const char *msg)
{
    agent *a = ctx;
    size_t len;
    int truncated;
    const char *body = sender_response(a->inv, &len, &truncated);
    char why[300];
    if (a->stopping)
        return;
    if (r == SENDER_OK) {
        if (!a->inv_have_accepted)
            log_info("agent: inventory sent (%zu bytes)", a->inv_doc.len);
        else
            log_info("agent: the inventory changed; sent (%zu bytes)", a->inv_doc.len);
        a->inv_accepted_hash = a->inv_inflight_hash;
        a->inv_have_accepted = 1;
        a->inv_backoff_ms = 0;
        a->inv_failures = 0;
        inv_schedule(a, a->o.inventory_interval_ms);
        return;
    }
    if ((status == 401 || status == 403) && a->inv_token_gen != a->token_gen) {
        /* Sent with a token replaced meanwhile (re-enrollment): try the new one now. */
        inv_schedule(a, 0);
        return;
    }
    if ((status == 401 || status == 403) && !a->auth_ready)
        return; /* enrolling again: use_token starts the next round with the new token */
    a->inv_failures++;
    enroll_error_text(body, len, why, sizeof why);
    if (status == 404 || status == 405 || status == 501) {
        log_warn("agent: %s has no inventory endpoint (HTTP %ld); not sending the inventory",
                 a->inv_url, status);
        a->inv_disabled = 1;
        return;
    }
    if (r == SENDER_RETRY) {
        a->inv_backoff_ms = a->inv_backoff_ms ? a->inv_backoff_ms * 2 : INV_BACKOFF_MIN_MS;
        if (a->inv_backoff_ms > INV_BACKOFF_MAX_MS)
            a->inv_backoff_ms = INV_BACKOFF_MAX_MS;
        if (log_this_failure(a->inv_failures))
            log_warn("agent: sending the inventory failed (%s); retrying in %lld ms",
                     status ? why : msg, (long long)a->inv_backoff_ms);
        inv_schedule(a, a->inv_backoff_ms);
        return;
    }
    /* 401/403 (the token; deliveries notice and re-enroll) or another 4xx: try again at the
     * next round. */
    if (log_this_failure(a->inv_failures))
        log_error("agent: the server refused the inventory (HTTP %ld: %s); trying again in %lld s",
                  status, why, (long long)(a->o.inventory_interval_ms / 1000));
    inv_schedule(a, a->o.inventory_interval_ms);
}

/* The containers and VMs the collectors know (as an object with "containers" and/or "vms"),
 * serialised into out when given and hashed into *hash. Returns 0 or -errno. */
static int children_json(agent *a, char **out, uint64_t *hash)
{
    json_t *ch = json_object();
    if (!ch)
        return -ENOMEM;
    int rc = coll_children(a->env.cache, ch);
    char *text = rc ? NULL : json_dumps(ch, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ch);
    if (rc)
        return rc;
    if (!text)
        return -ENOMEM;
    *hash = inventory_hash(text, strlen(text));
    if (out)
        *out = text;
    else
        free(text);
    return 0;
}

/* Appends the children's members to the inventory document in doc (a JSON object). */
static int add_children(agent *a, buf *doc, uint64_t *hash)
{
    char *text = NULL;
    int rc = children_json(a, &text, hash);
    if (rc)
        return rc;
    /* Splice: "{...host...}" + "{...children...}" -> "{...host...,...children...}". */
    size_t tl = strlen(text);
    if (tl > 2 && doc->len >= 2 && doc->data[doc->len - 1] == '}') {
        doc->data[--doc->len] = '\0';
        if (doc->len > 1 && buf_putc(doc, ','))
            rc = -ENOMEM;
        else if (buf_append(doc, text + 1, tl - 1))
            rc = -ENOMEM;
    }
    free(text);
    return rc;
}

/* Every CHILDREN_CHECK_ROUNDS rounds: a container or VM came or went → inventory now. */
static void check_children(agent *a)
{
    uint64_t h;
    if (a->env.round % CHILDREN_CHECK_ROUNDS || a->inv_disabled || !a->auth_ready ||
        !a->inv || sender_busy(a->inv) || children_json(a, NULL, &h))
        return;
    if (h != a->children_hash) {
        a->children_hash = h;
        inv_schedule(a, 0);
    }
}

static void on_inv_timer(uv_timer_t *t)
{
    agent *a = t->data;
    if (a->stopping || a->inv_disabled || sender_busy(a->inv))
        return;
    if (!a->auth_ready)
        return; /* use_token starts a round once enrollment decided */
    buf_reset(&a->inv_doc);
    int rc = inventory_collect(&a->inv_opts, &a->inv_doc);
    if (rc) {
        log_error("agent: cannot collect the inventory: %s", strerror(-rc));
        inv_schedule(a, a->o.inventory_interval_ms);
        return;
    }
    if ((rc = add_children(a, &a->inv_doc, &a->children_hash))) {
        log_error("agent: cannot add containers and VMs to the inventory: %s", strerror(-rc));
        inv_schedule(a, a->o.inventory_interval_ms);
        return;
    }
    uint64_t h = inventory_hash(a->inv_doc.data, a->inv_doc.len);
    if (a->inv_have_accepted && h == a->inv_accepted_hash) {
        inv_schedule(a, a->o.inventory_interval_ms);
        return;
    }
    a->inv_inflight_hash = h;
    a->inv_token_gen = a->token_gen;
    if ((rc = sender_post(a->inv, a->inv_doc.data, a->inv_doc.len, on_inv_done, a))) {
        log_error("agent: cannot start sending the inventory: %s", strerror(-rc));
        inv_schedule(a, INV_BACKOFF_MAX_MS);
    }
}

/* ---- delivery ---------------------------------------------------------------------------- */

static void on_sent(void *ctx, sender_result r, long status, const char *msg)
{
    agent *a = ctx;
    if (r == SENDER_REFUSED && (status == 401 || status == 403)) {
        if (!a->inflight_from_spool) {
            int rc = spool_push(a->sp, a->inflight_seq, a->inflight.data, a->inflight.len);
            if (rc)
                log_error("agent: cannot spool batch %llu: %s (it is lost)",
                          (unsigned long long)a->inflight_seq, strerror(-rc));
        }
        on_auth_refused(a, status);
        return;
    }
    if (r == SENDER_OK) {
        if (a->auth_refusals)
            log_info("agent: the server accepts the token again");
        a->auth_refusals = 0;
        a->token_fresh = 0;
        a->batches_sent++;
        a->backoff_ms = 0;
        if (a->inflight_from_spool)
            spool_remove(a->sp, a->inflight_seq);
        pump(a);
        return;
    }
    if (r == SENDER_REFUSED) {
        a->batches_parked++;
        log_error("agent: server refused batch %llu for good (%s); parked in %s/parked",
                  (unsigned long long)a->inflight_seq, msg, a->o.spool_dir);
        if (a->inflight_from_spool)
            spool_park(a->sp, a->inflight_seq);
        else
            spool_park_data(a->sp, a->inflight_seq, a->inflight.data, a->inflight.len);
        pump(a);
        return;
    }
    a->send_failures++;
    if (!a->inflight_from_spool) {
        int rc = spool_push(a->sp, a->inflight_seq, a->inflight.data, a->inflight.len);
        if (rc)
            log_error("agent: cannot spool batch %llu: %s (it is lost)",
                      (unsigned long long)a->inflight_seq, strerror(-rc));
    }
    a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (a->backoff_ms > BACKOFF_MAX_MS)
        a->backoff_ms = BACKOFF_MAX_MS;
    /* Log the first failure and then sparsely, not once per second of an outage. */
    if (a->send_failures == 1 || a->backoff_ms >= BACKOFF_MAX_MS || a->backoff_ms == 2000)
        log_warn("agent: delivery failed (%s); %zu batches spooled, retrying in %lld ms", msg,
                 spool_count(a->sp), (long long)a->backoff_ms);
    a->waiting_retry = 1;
    uv_timer_start(&a->retry, on_retry, (uint64_t)a->backoff_ms, 0);
}

static void on_retry(uv_timer_t *t)
{
    agent *a = t->data;
    a->waiting_retry = 0;
    pump(a);
}

/* Starts the next post if none is in flight: the oldest spooled batch. */
static void pump(agent *a)
{
    if (a->stopping || !a->auth_ready || sender_busy(a->snd) || a->waiting_retry)
        return;
    while (spool_count(a->sp)) {
        uint64_t seq;
        int rc = spool_peek(a->sp, &a->inflight, &seq);
        if (rc)
            continue; /* unreadable file dropped; try the next */
        a->inflight_seq = seq;
        a->inflight_from_spool = 1;
        if (sender_post(a->snd, a->inflight.data, a->inflight.len, on_sent, a) == 0)
            return;
        log_error("agent: cannot start a post (out of memory?)");
        return;
    }
}

/* Gives a->encoded a sequence number and posts it at once when nothing older waits, else
 * spools it. */
static void deliver(agent *a)
{
    int rc;
    uint64_t seq = ++a->next_seq;
    if (a->auth_ready && !sender_busy(a->snd) && !a->waiting_retry && spool_count(a->sp) == 0) {
        buf_reset(&a->inflight);
        buf_append(&a->inflight, a->encoded.data, a->encoded.len);
        a->inflight_seq = seq;
        a->inflight_from_spool = 0;
        if (sender_post(a->snd, a->inflight.data, a->inflight.len, on_sent, a))
            spool_push(a->sp, seq, a->encoded.data, a->encoded.len);
    } else if ((rc = spool_push(a->sp, seq, a->encoded.data, a->encoded.len))) {
        log_error("agent: cannot spool batch %llu: %s (it is lost)", (unsigned long long)seq,
                  strerror(-rc));
    }
}

/* One collection round. */
static void on_tick(uv_timer_t *t)
{
    agent *a = t->data;
    int64_t now = timeutil_now_ms();
    /* Stamp the round with its interval boundary so series are evenly spaced (and cheap to
     * compress); a late tick never reuses the previous stamp. */
    int64_t stamp = now / a->o.interval_ms * a->o.interval_ms;
    if (stamp <= a->last_stamp)
        stamp = a->last_stamp + a->o.interval_ms;
    /* A round that comes more than an interval late (the host starved the agent) leaves the
     * boundaries in between without samples: say so rather than leave a silent gap. */
    if (a->last_stamp && stamp > a->last_stamp + a->o.interval_ms)
        a->rounds_skipped += (uint64_t)((stamp - a->last_stamp) / a->o.interval_ms - 1);
    a->last_stamp = stamp;
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    batch_reset(a->b, stamp);
    a->env.now_ms = stamp;
    coll_run_all(&a->env, a->o.collectors ? a->enabled : NULL, a->b);
    check_children(a);
    a->env.round++;
    add_self_metrics(a);
    buf_reset(&a->encoded);
    int rc = batch_encode(a->b, &a->encoded);
    clock_gettime(CLOCK_MONOTONIC, &c1);
    a->last_collect_us = (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000 +
                                    (c1.tv_nsec - c0.tv_nsec) / 1000);
    if (rc) {
        log_error("agent: cannot encode the batch: %s", strerror(-rc));
    } else {
        a->samples_sent += batch_count(a->b);
        deliver(a);
    }
    /* Probe results since the last round go as a batch of their own, right after it. */
    if (a->pb && batch_count(a->pb))
        flush_probes(a);
    if (now - a->last_stats_log >= 600000) {
        a->last_stats_log = now;
        log_info("agent: %zu samples per round, %llu batches delivered, %zu spooled",
                 batch_count(a->b), (unsigned long long)a->batches_sent, spool_count(a->sp));
    }
    /* Next tick just after the next interval boundary. libuv measures timer delays from its
     * cached loop time, which is as old as this round: refresh it, or a slow round makes the
     * next one fire early. */
    uv_update_time(&a->loop);
    int64_t after = timeutil_now_ms();
    int64_t next = (after / a->o.interval_ms + 1) * a->o.interval_ms + 2;
    uv_timer_start(&a->tick, on_tick, (uint64_t)(next - after), 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    agent *a = h->data;
    log_info("agent: signal %d, stopping (%zu batches stay in the spool)", signum,
             spool_count(a->sp));
    a->stopping = 1;
    uv_timer_stop(&a->tick);
    uv_timer_stop(&a->retry);
    /* An in-flight direct batch would be lost: keep it in the spool. */
    if (sender_busy(a->snd) && !a->inflight_from_spool)
        spool_push(a->sp, a->inflight_seq, a->inflight.data, a->inflight.len);
    sender_close(a->snd);
    a->snd = NULL;
    sender_close(a->enr);
    a->enr = NULL;
    sender_close(a->inv);
    a->inv = NULL;
    /* The scheduler first: it cancels runs without results, so no test result reaches the
     * config client after it is gone. Results not yet sent with a round are lost here. */
    probe_sched_close(a->ps);
    a->ps = NULL;
    probecfg_close(a->pc);
    a->pc = NULL;
    uv_timer_stop(&a->enroll_timer);
    uv_timer_stop(&a->inv_timer);
    uv_close((uv_handle_t *)&a->enroll_timer, NULL);
    uv_close((uv_handle_t *)&a->inv_timer, NULL);
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_close((uv_handle_t *)&a->retry, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
}

static int split_collectors(agent *a)
{
    if (!a->o.collectors)
        return 0;
    a->collectors_copy = mem_strdup(a->o.collectors);
    if (!a->collectors_copy)
        return -ENOMEM;
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(a->collectors_copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n >= MAX_COLLECTORS) {
            fprintf(stderr, "dashdot agent: more than %d collectors listed\n", MAX_COLLECTORS);
            return -EINVAL;
        }
        a->enabled[n++] = tok;
    }
    a->enabled[n] = NULL;
    return 0;
}

/* Decides at start which token deliveries use (see the top of the file). */
static void choose_auth(agent *a)
{
    char err[PATH_MAX + 200];
    int rc = -ENOENT;
    if (a->base && !a->o.no_enroll) {
        rc = enroll_state_load(a->o.state_dir, &a->st, err, sizeof err);
        if (rc == 0 && err[0])
            log_warn("agent: %s", err);
        else if (rc && rc != -ENOENT)
            log_warn("agent: ignoring the state in %s: %s", a->o.state_dir, err);
    }
    if (rc == 0 && a->st.server[0] && strcmp(a->st.server, a->base) != 0 && can_enroll(a)) {
        log_info("agent: the agent token in %s/agent.token was issued by %s, not %s: enrolling "
                 "again",
                 a->o.state_dir, a->st.server, a->base);
        rc = -ENOENT;
    }
    if (rc == 0) {
        log_info("agent: using the agent token of %s/agent.token (agent %lld, device %lld)",
                 a->o.state_dir, (long long)a->st.agent_id, (long long)a->st.device_id);
        use_token(a, a->st.token, AUTH_AGENT);
        return;
    }
    memset(&a->st, 0, sizeof a->st);
    if (can_enroll(a)) {
        log_info("agent: enrolling with %s (state in %s); deliveries wait until it answers",
                 a->base, a->o.state_dir);
        start_enroll(a, 0);
        return;
    }
    if (a->base && !a->o.no_enroll && !(a->o.token && *a->o.token))
        log_warn("agent: no token given and none in %s/agent.token: sending without one",
                 a->o.state_dir);
    use_token(a, a->o.token, AUTH_PLAIN);
}

int agent_run(const agent_opts *opts)
{
    agent *a = mem_calloc(1, sizeof *a);
    char *url = NULL;
    char host[256];
    int rc = 0;
    if (!a)
        return -ENOMEM;
    a->o = *opts;
    coll_libvirt_set_uri(opts->libvirt_uri);
    buf_init(&a->encoded, 64u << 20);
    buf_init(&a->inflight, 64u << 20);
    buf_init(&a->enroll_body, 4096);
    buf_init(&a->inv_doc, INVENTORY_MAX_BYTES);
    a->inv_opts = (inventory_opts){opts->proc_root, opts->sys_root, opts->rootfs, 1};
    if (a->o.inventory) {
        rc = inventory_collect(&a->inv_opts, &a->inv_doc);
        if (rc == 0) {
            fwrite(a->inv_doc.data, 1, a->inv_doc.len, stdout);
            fputc('\n', stdout);
        } else {
            fprintf(stderr, "dashdot agent: cannot collect the inventory: %s\n", strerror(-rc));
        }
        goto out;
    }
    engines_opts eo = {opts->docker_socket, opts->podman_socket, opts->container_labels, 0};
    coll_containers_configure(&eo);
    a->env.proc = opts->proc_root;
    a->env.sys = opts->sys_root;
    a->env.root = opts->rootfs;
    coll_procs_configure(&opts->procs);
    /* Every round allocates and frees the same few hundred KiB. Keeping freed memory in the
     * heap (instead of trimming it back to the kernel) spares the page faults of mapping it
     * in again each second. */
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    if ((rc = split_collectors(a)))
        goto out;
    if (!opts->once && (rc = coll_cache_new(&a->env.cache)))
        goto out;
    if (!a->o.instance) {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        a->o.instance = host;
    }
    if ((rc = batch_new(&a->b, a->o.instance, "dashdot")))
        goto out;
    if (a->o.once) {
        buf text;
        buf_init(&text, 0);
        batch_reset(a->b, timeutil_now_ms());
        a->env.now_ms = timeutil_now_ms();
        int failed = coll_run_all(&a->env, a->o.collectors ? a->enabled : NULL, a->b);
        batch_format(a->b, &text);
        fwrite(text.data ? text.data : "", 1, text.len, stdout);
        buf_free(&text);
        rc = failed ? -EIO : 0;
        goto out;
    }
    if ((rc = spool_open(&a->sp, a->o.spool_dir, a->o.spool_max_bytes))) {
        fprintf(stderr, "dashdot agent: cannot open spool %s: %s\n", a->o.spool_dir,
                strerror(-rc));
        goto out;
    }
    /* Sequence numbers start from the clock so a restarted agent never reuses one (parked
     * batches of an earlier run keep their names), and continue after any spooled batch. */
    a->next_seq = (uint64_t)timeutil_now_ms() * 1000;
    if (spool_max_seq(a->sp) > a->next_seq)
        a->next_seq = spool_max_seq(a->sp);
    if ((rc = server_urls(a->o.server, &url, &a->base)))
        goto out;
    if (a->base && (!(a->enroll_url = join_url(a->base, "/api/v1/agent/enroll")) ||
                    !(a->inv_url = join_url(a->base, "/api/v1/agent/inventory")))) {
        rc = -ENOMEM;
        goto out;
    }
    /* Debian's libcurl initialises libssh2, and with it OpenSSL's whole crypto library (about
     * 1.5 MiB of memory), although the agent only ever speaks HTTP(S), whose TLS is GnuTLS.
     * libssh2 initialises its crypto only on its first libssh2_init call: making that call
     * ourselves with NO_CRYPTO keeps the agent's footprint down (it runs on every host). */
    libssh2_init(LIBSSH2_INIT_NO_CRYPTO);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        rc = -EIO;
        goto out;
    }
    uv_loop_init(&a->loop);
    if ((rc = sender_new(&a->snd, &a->loop, url, a->o.token))) {
        fprintf(stderr, "dashdot agent: invalid --server \"%s\" (want http:// or https://)\n",
                a->o.server);
        goto out_loop;
    }
    if (a->base) {
        /* The enrollment answer is parsed whole; the inventory answer is only for messages. */
        sender_opts eo = {"POST", "application/json", ENROLL_ANSWER_MAX};
        sender_opts io = {"PUT", "application/json", 4096};
        if ((rc = sender_new_opts(&a->enr, &a->loop, a->enroll_url, a->o.token, &eo)) ||
            (rc = sender_new_opts(&a->inv, &a->loop, a->inv_url, a->o.token, &io))) {
            fprintf(stderr, "dashdot agent: cannot set up the agent API client: %s\n",
                    strerror(-rc));
            goto out_loop;
        }
    }
    if (a->base && !a->o.no_probes) {
        probe_sched_opts so = {.probe = {.vantage = a->o.instance, .plugin_dirs = a->o.plugin_dirs},
                               .max_inflight = a->o.probe_concurrency,
                               .sink = on_probe_result,
                               .sink_ctx = a};
        probecfg_opts po = {.base = a->base, .state_dir = a->o.state_dir};
        if ((rc = batch_new(&a->pb, a->o.instance, "dashdot")) ||
            (rc = probe_sched_new(&a->ps, &a->loop, &so)) ||
            ((po.sched = a->ps), (rc = probecfg_new(&a->pc, &a->loop, &po)))) {
            fprintf(stderr, "dashdot agent: cannot set up probes: %s\n", strerror(-rc));
            goto out_loop;
        }
    }
    uv_timer_init(&a->loop, &a->tick);
    uv_timer_init(&a->loop, &a->retry);
    uv_timer_init(&a->loop, &a->enroll_timer);
    uv_timer_init(&a->loop, &a->inv_timer);
    a->tick.data = a->retry.data = a->enroll_timer.data = a->inv_timer.data = a;
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    log_info("agent: instance \"%s\", collecting every %lld ms, sending to %s, spool %s",
             a->o.instance, (long long)a->o.interval_ms, url, a->o.spool_dir);
    uv_timer_start(&a->tick, on_tick, 0, 0);
    choose_auth(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
out_loop:
    if (a->snd || a->enr || a->inv || a->ps || a->pc) {
        sender_close(a->snd);
        sender_close(a->enr);
        sender_close(a->inv);
        probe_sched_close(a->ps);
        probecfg_close(a->pc);
        uv_run(&a->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&a->loop);
    curl_global_cleanup();
    libssh2_exit();
out:
    mem_free(url);
    mem_free(a->base);
    mem_free(a->enroll_url);
    mem_free(a->inv_url);
    buf_free(&a->enroll_body);
    buf_free(&a->inv_doc);
    spool_close(a->sp);
    batch_free(a->b);
    batch_free(a->pb);
    buf_free(&a->encoded);
    buf_free(&a->inflight);
    mem_free(a->collectors_copy);
    coll_cache_free(a->env.cache);
    mem_free(a);
    return rc;
}
