/* munin: the munin probe (docs/probes.md "munin"). One session with a munin-node over tcpconn
 * (tcp.h): read the banner, "cap multigraph", "list", then for each wanted plugin "config P"
 * and "fetch P", and "quit". Commands go one at a time, as munin's own master sends them;
 * each answer is read with the strict reader of wire/munin.h, and a plugin's samples are added
 * as soon as its fetch answer is complete, so a run cut short by its timeout (a node whose
 * plugin hangs) still reports the plugins read before. */
#include "probe.h"

#include "../../lib/mem.h"
#include "../../wire/munin.h"
#include "tcp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct munin_prep {
    char **plugins; /* the plugins setting; none: all the node lists */
    size_t n;
} munin_prep;

typedef enum state { ST_BANNER, ST_CAP, ST_LIST, ST_CONFIG, ST_FETCH, ST_QUIT } state;

typedef struct munin_run {
    probe_run *r;
    const munin_prep *p;
    tcpconn *c;
    state st;
    size_t total;      /* bytes of answers read */
    munin_list list;   /* what the node listed */
    char *const *want; /* the plugins to read: the setting's, or list's */
    size_t nwant, idx;
    munin_plugin *cur; /* the plugin being read */
    size_t nfailed;
    char first_err[MUNIN_ERR_MAX + MUNIN_NAME_MAX + 8];
    char node[MUNIN_NAME_MAX + 1];
} munin_run;

static void munin_release(void *prep)
{
    munin_prep *p = prep;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        mem_free(p->plugins[i]);
    mem_free(p->plugins);
    mem_free(p);
}

static int munin_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    int rc = 0;
    size_t cap = 0;
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address");
        return -EINVAL;
    }
    munin_prep *p = mem_calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    json_t *pl = json_object_get(d->settings, "plugins");
    if (pl && !json_is_null(pl) && !json_is_array(pl)) {
        snprintf(err, errcap, "\"plugins\" must be a list of plugin names");
        rc = -EINVAL;
        goto out;
    }
    for (size_t i = 0; pl && i < json_array_size(pl); i++) {
        json_t *v = json_array_get(pl, i);
        const char *s = json_string_value(v);
        if (!s || !munin_valid_plugin_name(s, json_string_length(v)) ||
            strlen(s) != json_string_length(v)) {
            snprintf(err, errcap, "\"plugins\" entry %zu is not a plugin name", i + 1);
            rc = -EINVAL;
            goto out;
        }
        int dup = 0;
        for (size_t j = 0; j < p->n && !dup; j++)
            dup = !strcmp(p->plugins[j], s);
        if (dup)
            continue;
        if (p->n >= MUNIN_PLUGINS_MAX) {
            snprintf(err, errcap, "\"plugins\" names more than %d plugins", MUNIN_PLUGINS_MAX);
            rc = -EINVAL;
            goto out;
        }
        if ((rc = mem_grow((void **)&p->plugins, &cap, p->n, sizeof *p->plugins, 8)))
            goto out;
        if (!(p->plugins[p->n] = mem_strdup(s))) {
            rc = -ENOMEM;
            goto out;
        }
        p->n++;
    }
out:
    if (rc) {
        munin_release(p);
        return rc;
    }
    *prep = p;
    return 0;
}

static void free_run(munin_run *m)
{
    tcpconn_close(m->c);
    munin_plugin_free(m->cur);
    munin_list_free(&m->list);
    mem_free(m);
}

/* Ends the run (m is gone afterwards). A session that got through adds munin_plugins and
 * munin_fetch_errors. */
static void finish(munin_run *m, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(munin_run *m, int ok, const char *fmt, ...)
{
    char msg[PROBE_MSG_MAX] = "";
    probe_run *r = m->r;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (ok) {
        probe_run_add(r, "munin_plugins", NULL, (double)m->nwant);
        probe_run_add(r, "munin_fetch_errors", NULL, (double)m->nfailed);
    }
    probe_run_set_state(r, NULL);
    free_run(m);
    probe_run_done(r, ok, "%s", msg);
}

/* The session got through: plugins that failed are counted, and named in the message. */
static void succeed(munin_run *m)
{
    if (m->nfailed)
        finish(m, 1, "%zu of %zu plugins failed; first %s", m->nfailed, m->nwant, m->first_err);
    else
        finish(m, 1, NULL);
}

/* Sends one command line. Returns 0, or ends the run and returns -1. */
static int send_cmd(munin_run *m, const char *cmd, const char *arg)
{
    char line[MUNIN_NAME_MAX + 32];
    int n = snprintf(line, sizeof line, "%s%s%s\n", cmd, arg ? " " : "", arg ? arg : "");
    if (n < 0 || (size_t)n >= sizeof line || tcpconn_write(m->c, line, (size_t)n)) {
        finish(m, 0, "cannot send \"%s\" to the node", cmd);
        return -1;
    }
    return 0;
}

static int add_sample(void *ctx, const char *metric, const char *const *labels, double v,
                      int64_t t_s)
{
    munin_run *m = ctx;
    int64_t t = t_s ? t_s * 1000 : probe_run_start_ms(m->r);
    int rc = probe_run_add_at(m->r, t, metric, labels, v);
    return rc == -EINVAL ? 0 : rc; /* a sample the run cannot hold is left out */
}

/* Starts the next plugin's config, or says quit after the last. Returns 0 or -1 (run over). */
static int next_plugin(munin_run *m)
{
    if (m->idx >= m->nwant) {
        m->st = ST_QUIT;
        return send_cmd(m, "quit", NULL);
    }
    const char *name = m->want[m->idx];
    if (munin_plugin_new(&m->cur, name)) {
        finish(m, 0, "out of memory");
        return -1;
    }
    munin_plugin_begin(m->cur, MUNIN_CONFIG);
    m->st = ST_CONFIG;
    return send_cmd(m, "config", name);
}

/* The plugin's answers are complete: its samples, or its failure. Returns 0 or -1. */
static int plugin_done(munin_run *m)
{
    munin_plugin *p = m->cur;
    if (p->failed) {
        if (!m->nfailed++)
            snprintf(m->first_err, sizeof m->first_err, "%s: %s", p->name, p->err);
    } else {
        int rc = munin_plugin_samples(p, add_sample, m);
        if (rc) {
            finish(m, 0, "%s", rc == -E2BIG ? "too many samples" : "out of memory");
            return -1;
        }
    }
    munin_plugin_free(p);
    m->cur = NULL;
    m->idx++;
    return next_plugin(m);
}

/* Handles one line of the node's. Returns 0, or -1 when the run ended. */
static int handle_line(munin_run *m, const char *line, size_t len)
{
    char err[MUNIN_ERR_MAX];
    unsigned caps;
    int rc;
    switch (m->st) {
    case ST_BANNER:
        if (munin_parse_banner(line, len, m->node, sizeof m->node, err, sizeof err)) {
            finish(m, 0, "%s", err);
            return -1;
        }
        m->st = ST_CAP;
        return send_cmd(m, "cap", "multigraph");
    case ST_CAP:
        if (munin_parse_cap(line, len, &caps, err, sizeof err)) {
            finish(m, 0, "%s", err);
            return -1;
        }
        m->st = ST_LIST;
        return send_cmd(m, "list", NULL);
    case ST_LIST:
        if ((rc = munin_parse_list(line, len, &m->list, err, sizeof err))) {
            finish(m, 0, "%s", rc == -ENOMEM ? "out of memory" : err);
            return -1;
        }
        m->want = m->p->n ? m->p->plugins : m->list.names;
        m->nwant = m->p->n ? m->p->n : m->list.n;
        m->idx = 0;
        return next_plugin(m);
    case ST_CONFIG:
    case ST_FETCH:
        rc = munin_plugin_line(m->cur, line, len);
        if (rc < 0) {
            finish(m, 0, "out of memory");
            return -1;
        }
        if (rc == 0)
            return 0;
        if (m->st == ST_FETCH || m->cur->failed)
            return plugin_done(m);
        munin_plugin_begin(m->cur, MUNIN_FETCH);
        m->st = ST_FETCH;
        return send_cmd(m, "fetch", m->cur->name);
    case ST_QUIT:
        return 0; /* whatever it says after quit */
    }
    return 0;
}

static const char *waiting_for(const munin_run *m)
{
    switch (m->st) {
    case ST_BANNER:
        return "the banner";
    case ST_CAP:
        return "the answer to cap";
    case ST_LIST:
        return "the plugin list";
    case ST_CONFIG:
        return "a config answer";
    case ST_FETCH:
        return "a fetch answer";
    default:
        return "nothing";
    }
}

/* Reads every complete line in the input, then drops them at once. */
static void read_lines(munin_run *m)
{
    size_t len, off = 0, ll, used;
    const char *data = tcpconn_data(m->c, &len);
    for (;;) {
        int rc = munin_line(data + off, len - off, &ll, &used);
        if (rc == 0)
            break;
        if (rc < 0) {
            finish(m, 0, "the node sent a line longer than %d bytes while we waited for %s",
                   MUNIN_LINE_MAX, waiting_for(m));
            return;
        }
        m->total += used;
        if (m->total > MUNIN_ANSWER_MAX) {
            finish(m, 0, "the node's answers exceed %u bytes", MUNIN_ANSWER_MAX);
            return;
        }
        /* Writing (the next command) does not move the input, so data stays valid. */
        if (handle_line(m, data + off, ll))
            return;
        off += used;
    }
    tcpconn_consume(m->c, off);
}

static void on_event(void *ctx, tcpconn *c, tcpconn_event ev)
{
    munin_run *m = ctx;
    size_t len;
    switch (ev) {
    case TCPCONN_RESOLVED:
    case TCPCONN_CONNECTED:
    case TCPCONN_READY:
        return;
    case TCPCONN_DATA:
        read_lines(m);
        return;
    case TCPCONN_FULL: /* read_lines has seen the overlong line already; for completeness */
        finish(m, 0, "the node sent a line longer than %d bytes", MUNIN_LINE_MAX);
        return;
    case TCPCONN_SENT:
        if (m->st == ST_QUIT)
            succeed(m);
        return;
    case TCPCONN_EOF:
        if (m->st == ST_QUIT) {
            succeed(m);
            return;
        }
        tcpconn_data(c, &len);
        finish(m, 0, "the node closed the connection while we waited for %s%s", waiting_for(m),
               len ? " (in the middle of a line)" : "");
        return;
    case TCPCONN_ERROR:
        if (m->st == ST_QUIT)
            succeed(m);
        else
            finish(m, 0, "%s", tcpconn_error(c));
        return;
    }
}

static void munin_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    munin_run *m = mem_calloc(1, sizeof *m);
    if (!m) {
        probe_run_done(r, 0, "out of memory");
        return;
    }
    m->r = r;
    m->p = d->prep;
    m->st = ST_BANNER;
    probe_run_set_state(r, m);
    tcpconn_opts o = {.host = d->address,
                      .port = d->port ? d->port : MUNIN_PORT,
                      .family = RESOLVE_ANY,
                      .in_max = MUNIN_LINE_MAX};
    /* Events may come (and end the run) before tcpconn_open returns. */
    int rc = tcpconn_open(&m->c, probe_run_loop(r), probe_run_resolver(r), &o, on_event, m);
    if (rc) {
        probe_run_set_state(r, NULL);
        free_run(m);
        probe_run_done(r, 0, "%s", rc == -ENOMEM ? "out of memory" : "bad address or port");
    }
}

static void munin_cancel(probe_run *r)
{
    munin_run *m = probe_run_state(r);
    if (!m)
        return;
    probe_run_set_state(r, NULL);
    free_run(m);
}

const probe_type probe_munin_type = {
    .name = "munin",
    .prepare = munin_prepare,
    .release = munin_release,
    .start = munin_start,
    .cancel = munin_cancel,
};
