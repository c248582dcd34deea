/* server: wiring of store, HTTP server and API; the main thread waits for signals and runs
 * periodic maintenance (retention). */
#include "server.h"

#include "api/api.h"
#include "http/server.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "tsdb/tsdb.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAINTENANCE_EVERY_S 30

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: dashdot %s [options]\n"
            "\n"
            "  --listen HOST:PORT    address to serve on (default 127.0.0.1:8080; port 0 picks\n"
            "                        a free port)\n"
            "  --data DIR            data directory: tokens and store (default ./data)\n"
            "  --retention DUR       how long samples are kept (default 6h; the in-memory store\n"
            "                        of this release holds them in RAM)\n"
            "  --threads N           HTTP worker threads (default: number of CPUs)\n"
            "  --log-level LEVEL     debug, info, warn, error (default info)\n",
            cmd);
}

int server_parse_args(int argc, char **argv, server_opts *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'},    {"data", required_argument, 0, 'd'},
        {"retention", required_argument, 0, 'r'}, {"threads", required_argument, 0, 't'},
        {"log-level", required_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->data = "data";
    o->retention_ms = 6LL * 3600 * 1000;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': o->listen = optarg; break;
        case 'd': o->data = optarg; break;
        case 'r':
            if (timeutil_parse_duration(optarg, &o->retention_ms) || o->retention_ms < 60000) {
                fprintf(stderr, "dashdot %s: invalid --retention \"%s\" (a duration of at least "
                                "1m, e.g. 6h)\n", argv[0], optarg);
                return -EINVAL;
            }
            break;
        case 't': {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || n < 1 || n > 256) {
                fprintf(stderr, "dashdot %s: invalid --threads \"%s\" (1 to 256)\n", argv[0],
                        optarg);
                return -EINVAL;
            }
            o->threads = (size_t)n;
            break;
        }
        case 'L': {
            enum log_level lvl;
            if (log_parse_level(optarg, &lvl)) {
                fprintf(stderr, "dashdot %s: invalid --log-level \"%s\"\n", argv[0], optarg);
                return -EINVAL;
            }
            log_set_level(lvl);
            break;
        }
        case 'h': usage(stdout, argv[0]); return 1;
        default:
            fprintf(stderr, "dashdot %s: unknown or incomplete option \"%s\"\n", argv[0],
                    argv[optind - 1]);
            usage(stderr, argv[0]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dashdot %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
        return -EINVAL;
    }
    return 0;
}

int server_run(const server_opts *o, server_ready_fn on_ready, void *ctx)
{
    auth_tokens tokens;
    tsdb *db = NULL;
    http_server *srv = NULL;
    api_ctx api = {0};
    char err[512];
    int rc;

    /* Signals are taken by this thread alone (sigtimedwait below); block them before any
     * thread starts so workers inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = fsutil_mkdirs(o->data))) {
        log_error("cannot create data directory %s: %s", o->data, strerror(-rc));
        return rc;
    }
    if ((rc = auth_load(&tokens, o->data, err, sizeof err))) {
        log_error("%s", err);
        return rc;
    }
    tsdb_options topt = {.dir = o->data, .retention_ms = o->retention_ms};
    if ((rc = tsdb_open(&db, &topt))) {
        log_error("cannot open the store in %s: %s", o->data, strerror(-rc));
        return rc;
    }
    http_config hc = {.listen = o->listen, .threads = o->threads, .tokens = &tokens};
    if ((rc = http_server_new(&srv, &hc, err, sizeof err))) {
        log_error("%s", err);
        goto out;
    }
    api.db = db;
    api.start_ms = timeutil_now_ms();
    if ((rc = api_register(srv, &api))) {
        log_error("cannot set up the API: %s", strerror(-rc));
        goto out;
    }
    if ((rc = http_server_start(srv, err, sizeof err))) {
        log_error("%s", err);
        goto out;
    }
    api.ready = 1;

    char url[300];
    const char *host = o->listen;
    const char *colon = strrchr(host, ':');
    int hostlen = (int)(colon - host);
    if (hostlen == 0 || (hostlen == 7 && strncmp(host, "0.0.0.0", 7) == 0))
        snprintf(url, sizeof url, "http://127.0.0.1:%d", http_server_port(srv));
    else
        snprintf(url, sizeof url, "http://%.*s:%d", hostlen, host, http_server_port(srv));
    printf("dashdot server listening on %s (data in %s)\n", url, o->data);
    if (tokens.created) {
        printf("first run: generated credentials (shown once; kept in %s/*.token, mode 0600)\n"
               "  admin token: %s\n"
               "  agent token: %s\n",
               o->data, tokens.admin, tokens.agent);
    } else {
        printf("tokens: %s/admin.token and %s/agent.token\n", o->data, o->data);
    }
    fflush(stdout);
    if (on_ready)
        on_ready(ctx, url, &tokens);

    for (;;) {
        struct timespec ts = {MAINTENANCE_EVERY_S, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("signal %d: shutting down", sig);
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (sig == SIGCHLD && on_ready)
            on_ready(ctx, NULL, NULL); /* demo: a child ended */
        tsdb_maintain(db, timeutil_now_ms());
    }
    rc = 0;
out:
    if (api.live)
        api_shutdown(&api);
    http_server_free(srv);
    api_free(&api);
    tsdb_close(db);
    return rc;
}
