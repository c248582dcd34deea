/* cli_probe: `dashdot probe TYPE TARGET`, one run of a probe from this machine, printed in the
 * Prometheus text format — to try settings before scheduling them, and for the tests of every
 * probe type against its real peer. */
#include "cli_probe.h"

#include "agent/batch.h"
#include "agent/probes/probe.h"
#include "agent/probes/sched.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dashdot probe TYPE TARGET [options]\n"
            "\n"
            "Runs one check now and prints its samples (Prometheus text format) and verdict.\n"
            "TYPE is one of icmp, tcp, http, dns, snmp, scrape, munin, nagios. TARGET is an\n"
            "address with an optional port (192.0.2.1, db.example.com:5432, [2001:db8::1]:53)\n"
            "or, for http and scrape, a URL.\n"
            "\n"
            "  --settings JSON      the probe's settings as in the catalog, e.g.\n"
            "                       '{\"expect_status\":204}' (defaults as the server fills them)\n"
            "  --timeout DUR        give up after DUR (default 10s)\n"
            "  --name NAME          the probe label (default: TYPE)\n"
            "  --device NAME        the device and instance labels (default: the address)\n"
            "  --plugin-dirs LIST   nagios: directories plugins may run from (colon-separated)\n"
            "  --log-level LEVEL    debug, info, warn, error (default warn)\n"
            "\n"
            "Exit status: 0 the probe succeeded, 1 it failed, 2 bad arguments.\n");
}

/* Splits TARGET into address and port (URLs: their host and port). Returns 0 or -EINVAL. */
static int split_target(const char *t, char *addr, size_t cap, int *port)
{
    *port = 0;
    if (strstr(t, "://")) {
        CURLU *u = curl_url();
        char *host = NULL, *p = NULL;
        int rc = -EINVAL;
        if (u && curl_url_set(u, CURLUPART_URL, t, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
            if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK)
                *port = (int)strtol(p, NULL, 10);
            snprintf(addr, cap, "%s", host);
            rc = 0;
        }
        curl_free(host);
        curl_free(p);
        curl_url_cleanup(u);
        return rc;
    }
    const char *colon = strrchr(t, ':');
    size_t n = strlen(t);
    if (t[0] == '[') { /* [v6] or [v6]:port */
        const char *close = strchr(t, ']');
        if (!close)
            return -EINVAL;
        n = (size_t)(close - t - 1);
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1])
            return -EINVAL;
        else
            colon = NULL;
        t++;
    } else if (colon && strchr(t, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
    } else if (colon) {
        n = (size_t)(colon - t);
    }
    if (colon) {
        char *end;
        errno = 0;
        long v = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || v < 1 || v > 65535)
            return -EINVAL;
        *port = (int)v;
    }
    if (!n || n >= cap)
        return -EINVAL;
    memcpy(addr, t, n);
    addr[n] = '\0';
    return 0;
}

typedef struct outcome {
    int done, success;
} outcome;

static void on_result(void *ctx, const probe_result *res)
{
    outcome *o = ctx;
    batch *b = NULL;
    buf text;
    buf_init(&text, 0);
    o->done = 1;
    o->success = res->success;
    if (batch_new(&b, "", "") == 0) {
        /* In chunks: a batch holds 64 MiB of strings, a big scrape more. */
        for (size_t i = 0; i < res->nsamples; i++) {
            const probe_sample *s = &res->samples[i];
            if (batch_count(b) >= 10000 ||
                (batch_add_at(b, s->t, s->metric, s->labels, s->v) && batch_count(b))) {
                batch_format(b, &text);
                fwrite(text.data ? text.data : "", 1, text.len, stdout);
                buf_reset(&text);
                batch_reset(b, 0);
                if (batch_add_at(b, s->t, s->metric, s->labels, s->v))
                    fprintf(stderr, "dashdot probe: cannot print a sample of %s\n", s->metric);
            }
        }
        batch_format(b, &text);
        fwrite(text.data ? text.data : "", 1, text.len, stdout);
    }
    printf("# %s %s in %.3f s%s%s\n", res->def->type_name, res->success ? "succeeded" : "failed",
           res->duration_s, res->message[0] ? ": " : "", res->message);
    batch_free(b);
    buf_free(&text);
}

int cli_probe_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"settings", required_argument, 0, 's'}, {"timeout", required_argument, 0, 't'},
        {"name", required_argument, 0, 'n'},     {"device", required_argument, 0, 'd'},
        {"plugin-dirs", required_argument, 0, 'P'}, {"log-level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *settings = NULL, *name = NULL, *device = NULL, *plugin_dirs = NULL;
    int64_t timeout_ms = 10000;
    int c, rc = 2;
    log_set_level(LOG_WARN);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': settings = optarg; break;
        case 't':
            if (timeutil_parse_duration(optarg, &timeout_ms) || timeout_ms < 10 ||
                timeout_ms > 3600000) {
                fprintf(stderr, "dashdot probe: invalid --timeout \"%s\" (10ms to 1h)\n", optarg);
                return 2;
            }
            break;
        case 'n': name = optarg; break;
        case 'd': device = optarg; break;
        case 'P': plugin_dirs = optarg; break;
        case 'l': {
            enum log_level lvl;
            if (log_parse_level(optarg, &lvl)) {
                fprintf(stderr, "dashdot probe: invalid --log-level \"%s\"\n", optarg);
                return 2;
            }
            log_set_level(lvl);
            break;
        }
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "dashdot probe: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    const char *type = argv[optind], *target = argv[optind + 1];
    if (!probe_type_find(type)) {
        fprintf(stderr, "dashdot probe: unknown type \"%s\"\n", type);
        return 2;
    }
    char addr[256];
    int port;
    if (split_target(target, addr, sizeof addr, &port)) {
        fprintf(stderr, "dashdot probe: invalid target \"%s\" (ADDRESS[:PORT] or a URL)\n",
                target);
        return 2;
    }
    json_error_t je;
    json_t *st = settings ? json_loads(settings, JSON_REJECT_DUPLICATES, &je) : json_object();
    if (!st || !json_is_object(st)) {
        fprintf(stderr, "dashdot probe: --settings is not a JSON object%s%s\n", st ? "" : ": ",
                st ? "" : je.text);
        json_decref(st);
        return 2;
    }
    if (!strcmp(type, "http") && !json_object_get(st, "url"))
        json_object_set_new(st, "url", json_string(target));
    json_t *o = json_pack("{sI sI ss ss ss ss ss ss sI sI so}", "probe", (json_int_t)1,
                          "schedule", (json_int_t)0, "type", type, "name", name ? name : type,
                          "device", device ? device : addr, "endpoint", target, "target", target,
                          "address", addr, "port", (json_int_t)port, "timeout_ms",
                          (json_int_t)timeout_ms, "settings", st);
    json_object_set_new(o, "interval_ms", json_integer(timeout_ms));
    char err[512];
    probe_def *d = NULL;
    int drc = probe_def_from_json(o, &d, err, sizeof err);
    json_decref(o);
    if (drc) {
        fprintf(stderr, "dashdot probe: %s\n", drc == -ENOMEM ? "out of memory" : err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char host[256];
    if (gethostname(host, sizeof host))
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    probe_sched_opts so = {.probe = {.vantage = host, .plugin_dirs = plugin_dirs}};
    probe_sched *s = NULL;
    outcome out = {0};
    if (probe_sched_new(&s, &loop, &so) || probe_sched_run_once(s, d, on_result, &out)) {
        fprintf(stderr, "dashdot probe: out of memory\n");
        rc = 1;
    } else {
        while (!out.done && uv_run(&loop, UV_RUN_ONCE))
            ;
        rc = out.success ? 0 : 1;
    }
    probe_sched_close(s);
    probe_def_unref(d);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop))
        log_warn("probe: handles left open on the loop");
    curl_global_cleanup();
    return rc;
}
