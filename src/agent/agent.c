/* agent: the collection loop and the delivery state machine.
 *
 * Every batch gets a sequence number when it is collected. A batch is posted straight from
 * memory only when nothing older is waiting; otherwise it goes to the spool, which is drained
 * oldest first. A failed direct post is written to the spool under its own (older) number, so
 * delivery order always equals collection order. Retries back off from 250 ms to 30 s. */
#include "agent.h"

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "batch.h"
#include "collectors/collector.h"
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
    /* Self-monitoring, reported as dashdot_agent_* samples in every batch. */
    uint64_t batches_sent, samples_sent, send_failures, batches_parked;
    uint64_t last_collect_us;
    int64_t last_stats_log;
    int64_t last_stamp;
} agent;

static void pump(agent *a);
static int check_collectors(const char *list);
static void on_retry(uv_timer_t *t);

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
            "  --once                print one round in the text format and exit\n"
            "  --log-level LEVEL     debug, info, warn, error (default info)\n");
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
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->interval_ms = 1000;
    o->spool_dir = "spool";
    o->spool_max_bytes = 256ULL << 20;
    o->proc_root = "/proc";
    o->sys_root = "/sys";
    o->rootfs = "";
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
    if (!o->once && !o->server) {
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

/* Builds the write URL: a bare base URL gets /api/v1/write appended. */
static char *write_url(const char *server)
{
    const char *p = strstr(server, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t n = strlen(server);
    if (p && strcmp(p, "/") != 0)
        return mem_strdup(server);
    char *u = mem_alloc(n + 16);
    if (u)
        snprintf(u, n + 16, "%.*s/api/v1/write", (int)(p ? n - 1 : n), server);
    return u;
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
}

static void on_sent(void *ctx, sender_result r, long status, const char *msg)
{
    agent *a = ctx;
    (void)status;
    if (r == SENDER_OK) {
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
    if (a->stopping || sender_busy(a->snd) || a->waiting_retry)
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
    a->last_stamp = stamp;
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    batch_reset(a->b, stamp);
    coll_run_all(&a->env, a->o.collectors ? a->enabled : NULL, a->b);
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
        uint64_t seq = ++a->next_seq;
        a->samples_sent += batch_count(a->b);
        if (!sender_busy(a->snd) && !a->waiting_retry && spool_count(a->sp) == 0) {
            buf_reset(&a->inflight);
            buf_append(&a->inflight, a->encoded.data, a->encoded.len);
            a->inflight_seq = seq;
            a->inflight_from_spool = 0;
            if (sender_post(a->snd, a->inflight.data, a->inflight.len, on_sent, a))
                spool_push(a->sp, seq, a->encoded.data, a->encoded.len);
        } else if ((rc = spool_push(a->sp, seq, a->encoded.data, a->encoded.len))) {
            log_error("agent: cannot spool batch %llu: %s (it is lost)",
                      (unsigned long long)seq, strerror(-rc));
        }
    }
    if (now - a->last_stats_log >= 600000) {
        a->last_stats_log = now;
        log_info("agent: %zu samples per round, %llu batches delivered, %zu spooled",
                 batch_count(a->b), (unsigned long long)a->batches_sent, spool_count(a->sp));
    }
    /* Next tick just after the next interval boundary. */
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

int agent_run(const agent_opts *opts)
{
    agent *a = mem_calloc(1, sizeof *a);
    char *url = NULL;
    char host[256];
    int rc = 0;
    if (!a)
        return -ENOMEM;
    a->o = *opts;
    buf_init(&a->encoded, 64u << 20);
    buf_init(&a->inflight, 64u << 20);
    a->env.proc = opts->proc_root;
    a->env.sys = opts->sys_root;
    a->env.root = opts->rootfs;
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
    if (!(url = write_url(a->o.server))) {
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
    uv_timer_init(&a->loop, &a->tick);
    uv_timer_init(&a->loop, &a->retry);
    a->tick.data = a->retry.data = a;
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    log_info("agent: instance \"%s\", collecting every %lld ms, sending to %s, spool %s",
             a->o.instance, (long long)a->o.interval_ms, url, a->o.spool_dir);
    uv_timer_start(&a->tick, on_tick, 0, 0);
    pump(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
out_loop:
    if (a->snd) {
        sender_close(a->snd);
        uv_run(&a->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&a->loop);
    curl_global_cleanup();
    libssh2_exit();
out:
    mem_free(url);
    spool_close(a->sp);
    batch_free(a->b);
    buf_free(&a->encoded);
    buf_free(&a->inflight);
    mem_free(a->collectors_copy);
    coll_cache_free(a->env.cache);
    mem_free(a);
    return rc;
}
