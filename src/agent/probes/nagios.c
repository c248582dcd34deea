/* nagios: the nagios probe — runs a Nagios / monitoring-plugins plugin and turns its exit code
 * and output into samples (docs/probes.md "nagios"; the output's grammar is wire/perfdata.h).
 *
 * Only plugins inside the allowed directories run (probe_opts.plugin_dirs, default
 * /usr/lib/nagios/plugins:/usr/lib/monitoring-plugins): the command is resolved with realpath,
 * so a symlink pointing out of them is refused, and it must be a regular executable file.
 * prepare() checks what it can without the agent's options (an absolute path to an existing
 * regular executable file); every run checks again, the directories included, just before it
 * starts the plugin, and starts the resolved path (argv[0] stays the command as configured:
 * plugins such as check_host look at it).
 *
 * The plugin runs through uv_spawn — no shell — with argv = command, args (macros substituted
 * once per definition), an environment of PATH and LANG=C only (nothing of the agent's: no
 * tokens) and none of the agent's file descriptors, stdin from /dev/null, cwd "/", and in a
 * session (so a process group) of its own. stdout and stderr are read on the loop into buffers
 * capped at 64 KiB together.
 *
 * Samples and verdict: nagios_state is the exit code 0..3 (any other code, a signal, a
 * refused plugin, the timeout, output over the cap: 3, UNKNOWN — the plugin gave no verdict);
 * probe_success is state == 0. Each performance-data item becomes nagios_perfdata{label,uom}
 * in base units, with nagios_perfdata_warning, _critical, _min and _max where given (an
 * empty uom, a plain count, leaves the label out, as Prometheus drops empty labels);
 * nagios_perfdata_errors counts the items skipped as malformed. The message is the first line
 * of stdout up to '|' (else stderr's first line), prefixed with the exit status or the signal
 * when they are not a Nagios state.
 *
 * The life of a run, and why it ends the way it does:
 *   - the run is reported once the plugin has exited AND both pipes have reached EOF (a plugin
 *     may exit before its output has been read);
 *   - when the plugin exits, what it left behind in its process group (background children) is
 *     killed at once with SIGKILL: nothing outlives its check, and the pipes those children
 *     hold reach EOF;
 *   - at the timeout (cancel) and when the output passes 64 KiB, the whole group is killed with
 *     SIGKILL, the pipes are closed and the run ends at once; the process handle stays open
 *     until libuv has reaped the child (closing it earlier would leave a zombie: libuv only
 *     reaps children whose handles are open), and the last close callback frees the state.
 * A plugin that leaves its process group (setsid) escapes the group kill; its pipes then reach
 * EOF only when it exits, so the run ends at the timeout, killing what it can. */
#include "probe.h"

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/mem.h"
#include "../../wire/perfdata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAGIOS_DEFAULT_DIRS "/usr/lib/nagios/plugins:/usr/lib/monitoring-plugins"
#define NAGIOS_OUTPUT_MAX (64 * 1024) /* stdout and stderr together */
#define NAGIOS_FIRST_READ 1023        /* bytes: with the NUL, a 1 KiB buffer */
#define NAGIOS_MAX_ARGS 256
#define NAGIOS_ARG_MAX 8192     /* bytes of one argument after macro substitution */
#define NAGIOS_ARGS_TOTAL 65536 /* bytes of all arguments together */

/* What prepare() keeps of the settings. */
typedef struct nagios_prep {
    char *command; /* as configured: argv[0] */
    char **argv;   /* command, args with macros substituted, NULL */
    size_t argc;
} nagios_prep;

struct nagios_run;

typedef struct nagios_stream {
    uv_pipe_t pipe;
    buf b;
    int reading; /* EOF not reached, pipe not closed */
    struct nagios_run *t;
} nagios_stream;

typedef struct nagios_run {
    probe_run *r; /* NULL once the run is over (reported, abandoned or cancelled) */
    uv_process_t proc;
    nagios_stream s[2]; /* stdout, stderr */
    int handles;        /* handles whose close callback has not run yet */
    int spawned;        /* the child exists: pid is valid */
    int exited;         /* libuv has reaped it */
    int64_t status;
    int sig;
    int pid;
    size_t total; /* bytes read from both pipes */
} nagios_run;

/* ---- settings ---------------------------------------------------------------------------- */

static void prep_free(nagios_prep *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->argv && i < p->argc; i++)
        mem_free(p->argv[i]);
    mem_free(p->argv);
    mem_free(p->command);
    mem_free(p);
}

static void nagios_release(void *prep)
{
    prep_free(prep);
}

/* Substitutes the macros of arg ($HOSTADDRESS$, $HOSTNAME$, $PORT$; others stay as written)
 * into out. Returns 0, -E2BIG or -ENOMEM. */
static int substitute(const char *arg, const probe_def *d, buf *out)
{
    char port[16] = "";
    if (d->port > 0)
        snprintf(port, sizeof port, "%d", d->port);
    const struct {
        const char *name, *value;
    } macros[] = {{"$HOSTADDRESS$", d->address}, {"$HOSTNAME$", d->device}, {"$PORT$", port}};
    for (const char *p = arg; *p;) {
        size_t k = 0, nm = sizeof macros / sizeof macros[0];
        if (*p == '$')
            for (; k < nm; k++)
                if (!strncmp(p, macros[k].name, strlen(macros[k].name)))
                    break;
        if (*p == '$' && k < nm) {
            buf_puts(out, macros[k].value);
            p += strlen(macros[k].name);
        } else {
            buf_putc(out, *p++);
        }
    }
    return out->err;
}

/* Resolves command and checks it is a regular executable file and, when dirs is not NULL,
 * that it lies inside one of the colon-separated directories dirs (each resolved too, so
 * symlinks can neither lead out of them nor fake a way in). On success the resolved path is in
 * resolved (PATH_MAX bytes). Returns 0, or -EACCES / -ENOENT with the reason in err. */
static int check_plugin(const char *command, const char *dirs, char *resolved, char *err,
                        size_t errcap)
{
    struct stat st;
    if (!realpath(command, resolved)) {
        int e = errno;
        snprintf(err, errcap, "plugin %s: %s", command, strerror(e));
        return e == ENOENT ? -ENOENT : -EACCES;
    }
    if (dirs) {
        int inside = 0;
        for (const char *p = dirs; *p && !inside;) {
            size_t n = strcspn(p, ":");
            char dir[PATH_MAX], rdir[PATH_MAX];
            if (n && n < sizeof dir && p[0] == '/') {
                memcpy(dir, p, n);
                dir[n] = '\0';
                if (realpath(dir, rdir)) {
                    size_t rn = strlen(rdir);
                    inside = (rn == 1 && rdir[0] == '/') ||
                             (!strncmp(resolved, rdir, rn) && resolved[rn] == '/');
                }
            }
            p += n;
            if (*p == ':')
                p++;
        }
        if (!inside) {
            if (strcmp(command, resolved))
                snprintf(err, errcap,
                         "plugin %s resolves to %s, outside the allowed plugin directories (%s)",
                         command, resolved, dirs);
            else
                snprintf(err, errcap, "plugin %s is outside the allowed plugin directories (%s)",
                         command, dirs);
            return -EACCES;
        }
    }
    if (stat(resolved, &st)) {
        snprintf(err, errcap, "plugin %s: %s", command, strerror(errno));
        return -EACCES;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "plugin %s is not a regular file", command);
        return -EACCES;
    }
    if (access(resolved, X_OK) || !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        snprintf(err, errcap, "plugin %s is not executable", command);
        return -EACCES;
    }
    return 0;
}

static int nagios_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    int rc = -EINVAL;
    nagios_prep *p = NULL;
    buf a;
    buf_init(&a, NAGIOS_ARG_MAX);
    json_t *cmd = json_object_get(d->settings, "command");
    json_t *args = json_object_get(d->settings, "args");
    size_t nargs = 0, total = 0;
    char resolved[PATH_MAX];
    if (!json_is_string(cmd) || !json_string_length(cmd)) {
        snprintf(err, errcap, "\"command\" (the plugin's absolute path) is missing");
        goto out;
    }
    const char *c = json_string_value(cmd);
    if (strlen(c) != json_string_length(cmd) || c[0] != '/' || strlen(c) >= PATH_MAX) {
        snprintf(err, errcap, "\"command\" must be an absolute path (shorter than %d bytes)",
                 PATH_MAX);
        goto out;
    }
    if (args && !json_is_null(args)) {
        if (!json_is_array(args) || json_array_size(args) > NAGIOS_MAX_ARGS) {
            snprintf(err, errcap, "\"args\" must be a list of at most %d strings", NAGIOS_MAX_ARGS);
            goto out;
        }
        nargs = json_array_size(args);
        for (size_t i = 0; i < nargs; i++) {
            json_t *v = json_array_get(args, i);
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
                snprintf(err, errcap, "\"args\" entry %zu is not a string (or holds a NUL)", i + 1);
                goto out;
            }
        }
    }
    if ((rc = check_plugin(c, NULL, resolved, err, errcap))) {
        rc = -EINVAL;
        goto out;
    }
    rc = -ENOMEM;
    if (!(p = mem_calloc(1, sizeof *p)) || !(p->command = mem_strdup(c)) ||
        !(p->argv = mem_calloc(nargs + 2, sizeof *p->argv)) || !(p->argv[0] = mem_strdup(c)))
        goto out;
    p->argc = 1;
    for (size_t i = 0; i < nargs; i++) {
        buf_reset(&a);
        int e = substitute(json_string_value(json_array_get(args, i)), d, &a);
        total += a.len + 1;
        if (e == -E2BIG || total > NAGIOS_ARGS_TOTAL) {
            snprintf(err, errcap, "\"args\" are too long (%d bytes each, %d in all)",
                     NAGIOS_ARG_MAX, NAGIOS_ARGS_TOTAL);
            rc = -EINVAL;
            goto out;
        }
        if (e || !(p->argv[p->argc] = mem_strndup(a.data ? a.data : "", a.len)))
            goto out;
        p->argc++;
    }
    *prep = p;
    p = NULL;
    rc = 0;
out:
    prep_free(p);
    buf_free(&a);
    return rc;
}

/* ---- runs -------------------------------------------------------------------------------- */

static void maybe_free(nagios_run *t)
{
    if (t->r || t->handles)
        return;
    buf_free(&t->s[0].b);
    buf_free(&t->s[1].b);
    mem_free(t);
}

static void on_proc_closed(uv_handle_t *h)
{
    nagios_run *t = h->data;
    t->handles--;
    maybe_free(t);
}

static void on_pipe_closed(uv_handle_t *h)
{
    nagios_stream *s = h->data;
    s->t->handles--;
    maybe_free(s->t);
}

static void close_proc(nagios_run *t)
{
    if (!uv_is_closing((uv_handle_t *)&t->proc))
        uv_close((uv_handle_t *)&t->proc, on_proc_closed);
}

static void close_stream(nagios_stream *s)
{
    s->reading = 0;
    if (!uv_is_closing((uv_handle_t *)&s->pipe))
        uv_close((uv_handle_t *)&s->pipe, on_pipe_closed);
}

/* Kills the plugin's whole process group, while libuv has not reaped the plugin (its pid, the
 * group's id, cannot have been reused then). */
static void kill_group(nagios_run *t)
{
    if (t->spawned && !t->exited)
        kill(-t->pid, SIGKILL);
}

/* Ends the run early (output over the cap, read errors): kills the group, closes the pipes and
 * reports UNKNOWN with why. The process handle closes when libuv reaps the child. */
static void abandon(nagios_run *t, const char *why)
{
    probe_run *r = t->r;
    t->r = NULL;
    kill_group(t);
    close_stream(&t->s[0]);
    close_stream(&t->s[1]);
    probe_run_set_state(r, NULL);
    probe_run_add(r, "nagios_state", NULL, 3);
    probe_run_done(r, 0, "%s", why);
    maybe_free(t);
}

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

/* The plugin exited and its output is complete: reports its verdict and samples. */
static void report(nagios_run *t)
{
    probe_run *r = t->r;
    const probe_def *d = probe_run_def(r);
    char line[PROBE_MSG_MAX] = "";
    perfdata pd;
    perfdata_init(&pd);
    t->r = NULL;
    probe_run_set_state(r, NULL);
    int state = t->sig ? 3 : t->status >= 0 && t->status <= 3 ? (int)t->status : 3;
    int rc = perfdata_parse_output(&pd, t->s[0].b.data ? t->s[0].b.data : "", t->s[0].b.len, line,
                                   sizeof line);
    if (!line[0])
        perfdata_first_line(t->s[1].b.data ? t->s[1].b.data : "", t->s[1].b.len, line, sizeof line);
    if (!line[0])
        snprintf(line, sizeof line, "(no output, %s)", state_names[state]);
    probe_run_add(r, "nagios_state", NULL, state);
    for (size_t i = 0; i < pd.n; i++) {
        const perfdata_item *it = &pd.items[i];
        const char *lb[] = {"label", it->label, "uom", it->uom, NULL};
        probe_run_add(r, "nagios_perfdata", lb, it->value);
        if (it->has & PERFDATA_HAS_WARN)
            probe_run_add(r, "nagios_perfdata_warning", lb, it->warn);
        if (it->has & PERFDATA_HAS_CRIT)
            probe_run_add(r, "nagios_perfdata_critical", lb, it->crit);
        if (it->has & PERFDATA_HAS_MIN)
            probe_run_add(r, "nagios_perfdata_min", lb, it->min);
        if (it->has & PERFDATA_HAS_MAX)
            probe_run_add(r, "nagios_perfdata_max", lb, it->max);
    }
    probe_run_add(r, "nagios_perfdata_errors", NULL, (double)pd.errors);
    if (pd.errors)
        log_debug("nagios probe \"%s\": %zu malformed performance data item(s), first: %s", d->name,
                  pd.errors, pd.err);
    perfdata_free(&pd);
    if (rc)
        probe_run_done(r, 0, "out of memory reading the plugin's performance data");
    else if (t->sig)
        probe_run_done(r, 0, "plugin killed by signal %d (%s): %s", t->sig, strsignal(t->sig),
                       line);
    else if (t->status < 0 || t->status > 3)
        probe_run_done(r, 0, "plugin exited with status %lld (UNKNOWN): %s", (long long)t->status,
                       line);
    else
        probe_run_done(r, state == 0, "%s", line);
    maybe_free(t);
}

static void maybe_finish(nagios_run *t)
{
    if (t->r && t->exited && !t->s[0].reading && !t->s[1].reading)
        report(t);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ub)
{
    (void)suggested;
    nagios_stream *s = h->data;
    nagios_run *t = s->t;
    /* One byte past the cap tells "over" from "exactly 64 KiB". Reads fill the room the
     * buffer has, and double it when it is full, so the usual few hundred bytes of a plugin
     * cost 1 KiB, not a 64 KiB read buffer per stream. */
    size_t room = NAGIOS_OUTPUT_MAX + 1 - t->total;
    size_t want = s->b.cap > s->b.len + 1 ? s->b.cap - s->b.len - 1 : 0;
    if (want < 512)
        want = s->b.len > NAGIOS_FIRST_READ ? s->b.len + 1 : NAGIOS_FIRST_READ;
    if (want > room)
        want = room;
    if (buf_reserve(&s->b, want)) {
        *ub = uv_buf_init(NULL, 0); /* libuv answers UV_ENOBUFS */
        return;
    }
    *ub = uv_buf_init(s->b.data + s->b.len, (unsigned)want);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *ub)
{
    (void)ub;
    nagios_stream *s = st->data;
    nagios_run *t = s->t;
    if (!t->r || !s->reading)
        return;
    if (n > 0) {
        s->b.len += (size_t)n;
        s->b.data[s->b.len] = '\0';
        t->total += (size_t)n;
        if (t->total > NAGIOS_OUTPUT_MAX)
            abandon(t, "output over 64 KiB");
        return;
    }
    if (n == UV_ENOBUFS) {
        abandon(t, "out of memory reading the plugin's output");
        return;
    }
    if (n < 0) { /* EOF, or a read error: the stream is over either way */
        close_stream(s);
        maybe_finish(t);
    }
}

static void on_plugin_exit(uv_process_t *p, int64_t status, int sig)
{
    nagios_run *t = p->data;
    /* Whatever the plugin left running in its group goes with it. The pid was just reaped;
     * while any member of the group lives, the id cannot be taken by another process. */
    kill(-t->pid, SIGKILL);
    t->exited = 1;
    t->status = status;
    t->sig = sig;
    close_proc(t);
    maybe_finish(t);
}

/* Marks every descriptor above stderr close-on-exec, so the plugin inherits none of the
 * agent's (its connection to the server, spool files, sockets libraries opened without
 * O_CLOEXEC). uv_spawn has no pre-exec hook to close them in the child; the flag is per
 * descriptor of this process, harmless to the agent itself (it execs nothing but plugins, and
 * the stdio a child is given explicitly is dup2'ed, which clears the flag). One close_range()
 * call on Linux >= 5.11; older kernels take the slower walk of /proc/self/fd. */
static void seal_fds(void)
{
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    int self = dirfd(dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd < 3 || fd == self)
            continue;
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
    }
    closedir(dir);
}

static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
static char env_lang[] = "LANG=C";

static void nagios_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    const nagios_prep *p = d->prep;
    const char *dirs = probe_run_opts(r)->plugin_dirs;
    char resolved[PATH_MAX], err[PATH_MAX + 256];
    char *env[] = {env_path, env_lang, NULL};
    nagios_run *t = NULL;
    int e;
    if (!dirs || !dirs[0])
        dirs = NAGIOS_DEFAULT_DIRS;
    if (check_plugin(p->command, dirs, resolved, err, sizeof err)) {
        probe_run_add(r, "nagios_state", NULL, 3);
        probe_run_done(r, 0, "%s", err);
        return;
    }
    if (!(t = mem_calloc(1, sizeof *t))) {
        probe_run_done(r, 0, "out of memory");
        return;
    }
    uv_loop_t *loop = probe_run_loop(r);
    for (int i = 0; i < 2; i++) {
        t->s[i].t = t;
        t->s[i].reading = 1;
        buf_init(&t->s[i].b, NAGIOS_OUTPUT_MAX + 1);
        uv_pipe_init(loop, &t->s[i].pipe, 0);
        t->s[i].pipe.data = &t->s[i];
    }
    t->proc.data = t;
    t->handles = 3; /* two pipes, and the process once uv_spawn has initialised it */
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&t->s[0].pipe},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&t->s[1].pipe},
    };
    uv_process_options_t o = {
        .exit_cb = on_plugin_exit,
        .file = resolved,
        .args = p->argv,
        .env = env,
        .cwd = "/",
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    seal_fds();
    if ((e = uv_spawn(loop, &t->proc, &o))) {
        /* Nothing runs (libuv has reaped a child whose exec failed): close all three. */
        close_stream(&t->s[0]);
        close_stream(&t->s[1]);
        close_proc(t);
        probe_run_add(r, "nagios_state", NULL, 3);
        probe_run_done(r, 0, "cannot run %s: %s%s", p->command, uv_strerror(e),
                       e == UV_ENOENT ? " (or its interpreter)" : "");
        maybe_free(t);
        return;
    }
    t->r = r;
    t->spawned = 1;
    t->pid = t->proc.pid;
    probe_run_set_state(r, t);
    for (int i = 0; i < 2; i++)
        if ((e = uv_read_start((uv_stream_t *)&t->s[i].pipe, on_alloc, on_read))) {
            char why[128];
            snprintf(why, sizeof why, "cannot read the plugin's output: %s", uv_strerror(e));
            abandon(t, why);
            return;
        }
}

static void nagios_cancel(probe_run *r)
{
    nagios_run *t = probe_run_state(r);
    if (!t)
        return;
    t->r = NULL;
    kill_group(t);
    close_stream(&t->s[0]);
    close_stream(&t->s[1]);
    /* The plugin gave no verdict: UNKNOWN, like a plugin's own timeout. */
    probe_run_add(r, "nagios_state", NULL, 3);
    maybe_free(t);
}

const probe_type probe_nagios_type = {
    .name = "nagios",
    .prepare = nagios_prepare,
    .release = nagios_release,
    .start = nagios_start,
    .cancel = nagios_cancel,
};
