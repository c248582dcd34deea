/* server: wiring of store, HTTP server and API; the main thread waits for signals and runs
 * periodic maintenance (the store's own thread does cuts, compaction and retention too). */
#include "server.h"

#include "api/api.h"
#include "catalog/access.h"
#include "catalog/store.h"
#include "http/server.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "events/devmatch.h"
#include "events/evingest.h"
#include "events/evstore.h"
#include "events/sensord.h"
#include "events/usagelog.h"
#include "server_probes.h"
#include "tsdb/tsdb.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
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
            "  --listen HOST:PORT         address to serve on (default 127.0.0.1:8080; port 0\n"
            "                             picks a free port)\n"
            "  --data DIR                 data directory: tokens, WAL and blocks (default ./data)\n"
            "  --retention.raw DUR        keep raw samples this long (default 15d; alias\n"
            "                             --retention)\n"
            "  --retention.1m DUR         keep 1-minute aggregates this long (default 365d)\n"
            "  --retention.1h DUR         keep 1-hour aggregates this long (default: forever)\n"
            "  --retention.raw-size SIZE  at most this many bytes of raw blocks (e.g. 50GB;\n"
            "                             default: no limit); also .1m-size and .1h-size\n"
            "  --wal.fsync DUR            fdatasync the WAL this often (default 1s; 0: after\n"
            "                             every write)\n"
            "  --config FILE              ini file with [server] and [storage] sections (keys as\n"
            "                             the options above, without the dashes)\n"
            "  --threads N                HTTP worker threads (default: number of CPUs)\n"
            "  --catalog.archive-after DUR  archive containers and VMs agents stopped reporting\n"
            "                             after this long (default 1h)\n"
            "  --auth.anonymous-read WHEN metric reads (query API, live stream, /metrics)\n"
            "                             without login or token: auto (only when listening\n"
            "                             on loopback; the default), yes, no\n"
            "  --events.retention DUR     keep events and usage events this long (default 30d)\n"
            "  --events.retention-size SIZE  at most this many bytes of events, and of usage\n"
            "                             events (default: no limit)\n"
            "  --log-level LEVEL          debug, info, warn, error (default info)\n",
            cmd);
}

/* Parses a byte size: a number with an optional unit (B, KB, MB, GB, TB: powers of 1000;
 * KiB, MiB, GiB, TiB: powers of 1024). Returns 0 or -EINVAL. */
static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !(v < 1e19))
        return -EINVAL;
    static const struct {
        const char *u;
        double m;
    } units[] = {{"", 1},       {"B", 1},         {"KB", 1e3},      {"MB", 1e6},
                 {"GB", 1e9},   {"TB", 1e12},     {"KiB", 1024.0},  {"MiB", 1048576.0},
                 {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].u)) {
            double b = v * units[i].m;
            if (!(b < 1.8e19))
                return -EINVAL;
            *out = (uint64_t)b;
            return 0;
        }
    return -EINVAL;
}

/* Applies one option by its long name (from the command line or the config file). Returns 0,
 * or -EINVAL after printing the reason. */
static int set_option(server_opts *o, const char *cmd, const char *name, const char *val)
{
    tsdb_options *t = &o->store;
    int64_t *dur = NULL;
    uint64_t *size = NULL;
    if (!strcmp(name, "listen")) {
        o->listen = val;
        return 0;
    }
    if (!strcmp(name, "data")) {
        o->data = val;
        return 0;
    }
    if (!strcmp(name, "retention") || !strcmp(name, "retention.raw"))
        dur = &t->retention_ms;
    else if (!strcmp(name, "retention.1m"))
        dur = &t->retention_1m_ms;
    else if (!strcmp(name, "retention.1h"))
        dur = &t->retention_1h_ms;
    else if (!strcmp(name, "retention.raw-size"))
        size = &t->retention_bytes[0];
    else if (!strcmp(name, "retention.1m-size"))
        size = &t->retention_bytes[1];
    else if (!strcmp(name, "retention.1h-size"))
        size = &t->retention_bytes[2];
    else if (!strcmp(name, "events.retention"))
        dur = &o->events_retention_ms;
    else if (!strcmp(name, "events.retention-size"))
        size = &o->events_retention_bytes;
    if (dur) {
        if (!strcmp(name, "retention.1h") && !strcmp(val, "forever")) {
            *dur = INT64_MAX;
            return 0;
        }
        if (timeutil_parse_duration(val, dur) || *dur < 60000) {
            fprintf(stderr, "dashdot %s: invalid --%s \"%s\" (a duration of at least 1m, e.g. "
                            "15d)\n", cmd, name, val);
            return -EINVAL;
        }
        return 0;
    }
    if (size) {
        if (parse_bytes(val, size)) {
            fprintf(stderr, "dashdot %s: invalid --%s \"%s\" (a size such as 500MB or 2GiB)\n",
                    cmd, name, val);
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(name, "wal.fsync")) {
        int64_t ms;
        if (timeutil_parse_duration(val, &ms) && strcmp(val, "0")) {
            fprintf(stderr, "dashdot %s: invalid --wal.fsync \"%s\" (a duration, or 0)\n", cmd,
                    val);
            return -EINVAL;
        }
        t->wal_fsync_ms = strcmp(val, "0") ? ms : -1;
        return 0;
    }
    if (!strcmp(name, "catalog.archive-after")) {
        if (timeutil_parse_duration(val, &o->archive_after_ms) || o->archive_after_ms < 1000) {
            fprintf(stderr, "dashdot %s: invalid --catalog.archive-after \"%s\" (a duration of at "
                            "least 1s, e.g. 1h)\n", cmd, val);
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(name, "auth.anonymous-read")) {
        if (!strcmp(val, "auto"))
            o->anonymous_read = -1;
        else if (!strcmp(val, "yes") || !strcmp(val, "true"))
            o->anonymous_read = 1;
        else if (!strcmp(val, "no") || !strcmp(val, "false"))
            o->anonymous_read = 0;
        else {
            fprintf(stderr, "dashdot %s: invalid --auth.anonymous-read \"%s\" (auto, yes or no)\n",
                    cmd, val);
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(name, "threads")) {
        char *end;
        errno = 0;
        long n = strtol(val, &end, 10);
        if (errno || *end || n < 1 || n > 256) {
            fprintf(stderr, "dashdot %s: invalid --threads \"%s\" (1 to 256)\n", cmd, val);
            return -EINVAL;
        }
        o->threads = (size_t)n;
        return 0;
    }
    if (!strcmp(name, "log-level")) {
        enum log_level lvl;
        if (log_parse_level(val, &lvl)) {
            fprintf(stderr, "dashdot %s: invalid --log-level \"%s\"\n", cmd, val);
            return -EINVAL;
        }
        log_set_level(lvl);
        return 0;
    }
    fprintf(stderr, "dashdot %s: unknown option \"%s\"\n", cmd, name);
    return -EINVAL;
}

typedef struct ini_ctx {
    server_opts *o;
    const char *cmd, *file;
    int rc;
    char *kept[64]; /* values the options point into */
    size_t nkept;
} ini_ctx;

static int ini_entry(void *vctx, const char *section, const char *name, const char *value)
{
    ini_ctx *c = vctx;
    if (strcmp(section, "server") && strcmp(section, "storage")) {
        fprintf(stderr, "dashdot %s: %s: unknown section [%s]\n", c->cmd, c->file, section);
        c->rc = -EINVAL;
        return 0;
    }
    if (c->nkept == sizeof c->kept / sizeof c->kept[0]) {
        c->rc = -EINVAL;
        return 0;
    }
    char *v = mem_strdup(value);
    if (!v) {
        c->rc = -ENOMEM;
        return 0;
    }
    c->kept[c->nkept++] = v;
    if (set_option(c->o, c->cmd, name, v)) {
        fprintf(stderr, "dashdot %s: in %s\n", c->cmd, c->file);
        c->rc = -EINVAL;
        return 0;
    }
    return 1;
}

int server_parse_args(int argc, char **argv, server_opts *o)
{
    enum { OPT_BASE = 256 };
    static const char *names[] = {"listen",           "data",          "retention",
                                  "retention.raw",    "retention.1m",  "retention.1h",
                                  "retention.raw-size", "retention.1m-size",
                                  "retention.1h-size", "wal.fsync",     "threads",
                                  "log-level",        "config",        "auth.anonymous-read",
                                  "catalog.archive-after", "events.retention",
                                  "events.retention-size"};
    enum { NOPTS = sizeof names / sizeof names[0] };
    struct option longopts[NOPTS + 2];
    for (int i = 0; i < NOPTS; i++)
        longopts[i] = (struct option){names[i], required_argument, 0, OPT_BASE + i};
    longopts[NOPTS] = (struct option){"help", no_argument, 0, 'h'};
    longopts[NOPTS + 1] = (struct option){0, 0, 0, 0};
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->data = "data";
    o->store.background = 1;
    o->anonymous_read = -1;
    o->archive_after_ms = 3600000;
    /* The config file first, so that the command line wins. */
    for (int i = 1; i < argc; i++) {
        const char *file = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
        if (!file)
            continue;
        static ini_ctx c; /* values stay referenced by o for the life of the process */
        c = (ini_ctx){.o = o, .cmd = argv[0], .file = file};
        int line = ini_parse(file, ini_entry, &c);
        if (line < 0) {
            fprintf(stderr, "dashdot %s: cannot read config file %s\n", argv[0], file);
            return -EINVAL;
        }
        if (line > 0 || c.rc) {
            if (line > 0)
                fprintf(stderr, "dashdot %s: %s:%d: syntax error\n", argv[0], file, line);
            return -EINVAL;
        }
    }
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout, argv[0]);
            return 1;
        }
        if (c >= OPT_BASE && c < OPT_BASE + NOPTS) {
            if (!strcmp(names[c - OPT_BASE], "config"))
                continue;
            if (set_option(o, argv[0], names[c - OPT_BASE], optarg))
                return -EINVAL;
            continue;
        }
        fprintf(stderr, "dashdot %s: unknown or incomplete option \"%s\"\n", argv[0],
                argv[optind - 1]);
        usage(stderr, argv[0]);
        return -EINVAL;
    }
    if (optind < argc) {
        fprintf(stderr, "dashdot %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* Is the listen address a loopback one (127.0.0.0/8, ::1, localhost)? */
static int listen_is_loopback(const char *listen)
{
    return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]:", 6) ||
           !strncmp(listen, "localhost:", 10);
}

int server_run(const server_opts *o, server_ready_fn on_ready, void *ctx)
{
    auth_tokens tokens;
    tsdb *db = NULL;
    cat_store *cat = NULL;
    char admin_pw[64] = "";
    http_server *srv = NULL;
    server_probes *probes = NULL;
    evstore *events = NULL;
    usagelog *usage = NULL;
    devmatch *devices = NULL;
    evingest *ingest = NULL;
    sensord *sensors = NULL;
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
    char catpath[4200];
    snprintf(catpath, sizeof catpath, "%s/catalog.db", o->data);
    if ((rc = cat_store_open(&cat, catpath, err, sizeof err))) {
        log_error("%s", err);
        return rc;
    }
    cat_store_set_archive_after(cat, o->archive_after_ms);
    if ((rc = cat_access_first_admin(cat, admin_pw, sizeof admin_pw)) < 0) {
        cat_store_close(cat);
        return rc;
    }
    tsdb_options topt = o->store;
    topt.dir = o->data;
    if ((rc = tsdb_open(&db, &topt))) {
        log_error("cannot open the store in %s: %s", o->data, strerror(-rc));
        cat_store_close(cat);
        return rc;
    }
    char evdir[4200];
    snprintf(evdir, sizeof evdir, "%s/events", o->data);
    evstore_opts eo = {.retention_ms = o->events_retention_ms,
                       .max_bytes = o->events_retention_bytes};
    if ((rc = evstore_open(&events, evdir, &eo, err, sizeof err))) {
        log_error("cannot open the event store: %s", err);
        goto out;
    }
    snprintf(evdir, sizeof evdir, "%s/usage", o->data);
    usagelog_opts uo = {.max_age_ms = o->events_retention_ms ? o->events_retention_ms
                                                          : EVSTORE_RETENTION_DEFAULT,
                        .max_bytes = o->events_retention_bytes};
    if ((rc = usagelog_open(&usage, evdir, &uo, err, sizeof err))) {
        log_error("cannot open the usage-event log: %s", err);
        goto out;
    }
    if ((rc = devmatch_new(&devices, cat)) ||
        (rc = evingest_new(&ingest, events, usage, devices, db))) {
        log_error("cannot set up event ingest: %s", strerror(-rc));
        goto out;
    }
    api.events = events;
    api.ingest = ingest;
    api.devices = devices;
    api.cat = cat;
    int anon = o->anonymous_read >= 0 ? o->anonymous_read : listen_is_loopback(o->listen);
    http_config hc = {.listen = o->listen,
                      .anonymous_read = anon,
                      .threads = o->threads,
                      .tokens = &tokens,
                      .auth = api_authenticate,
                      .auth_ctx = &api};
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
    if ((rc = server_probes_start(&probes, cat, db, &api))) {
        log_error("cannot start the server's probe runner: %s", strerror(-rc));
        goto out;
    }
    if ((rc = sensord_start(&sensors, cat, ingest))) {
        log_error("cannot start the sensors: %s", strerror(-rc));
        goto out;
    }
    api.sensors = sensors;
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
    if (admin_pw[0])
        printf("first run: created the user admin (shown once; change it under Settings or with "
               "`dashdot admin passwd admin`)\n"
               "  admin password: %s\n",
               admin_pw);
    memset(admin_pw, 0, sizeof admin_pw);
    printf("metric reads: %s\n", anon ? "open without login (--auth.anonymous-read)"
                                        : "need a login or a token");
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
        if (!tsdb_has_background(db)) /* else the store's thread does it */
            tsdb_maintain(db, timeutil_now_ms());
        evingest_maintain(ingest, timeutil_now_ms());
    }
    rc = 0;
out:
    server_probes_stop(probes, &api);
    if (api.live)
        api_shutdown(&api);
    http_server_free(srv);
    sensord_stop(sensors); /* hands its last batches to the ingest */
    api_free(&api);
    evingest_free(ingest); /* writes the event counters a last time */
    devmatch_free(devices);
    usagelog_close(usage);
    evstore_close(events);
    tsdb_close(db);
    cat_store_close(cat);
    return rc;
}
