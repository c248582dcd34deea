/* demo: starts the server; once it listens, forks `dashdot agent` (same binary) pointed at it
 * with the agent token, and stops the agent when the server stops. */
#include "demo.h"

#include "lib/log.h"
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct demo {
    const char *data;
    pid_t agent;
    char url[300];
    char token[AUTH_TOKEN_LEN + 1];
    int restarts;
} demo;

static void start_agent(demo *d)
{
    char spool[PATH_MAX], state[PATH_MAX];
    snprintf(spool, sizeof spool, "%s/agent-spool", d->data);
    snprintf(state, sizeof state, "%s/agent-state", d->data);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("demo: cannot fork the agent: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* The agent dies with the server, even if the server is killed hard. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setenv("DASHDOT_TOKEN", d->token, 1);
        execl("/proc/self/exe", "dashdot", "agent", "--server", d->url, "--spool", spool,
              "--state", state, "--interval", "1s", (char *)NULL);
        fprintf(stderr, "demo: cannot start the agent: %s\n", strerror(errno));
        _exit(127);
    }
    d->agent = pid;
    log_info("demo: agent started (pid %d), sending to %s", (int)pid, d->url);
}

static void on_ready(void *ctx, const char *url, const auth_tokens *t)
{
    demo *d = ctx;
    if (url) {
        snprintf(d->url, sizeof d->url, "%s", url);
        snprintf(d->token, sizeof d->token, "%s", t->agent);
        printf("\nOpen %s in a browser to see this machine's live charts. Ctrl-C stops.\n\n",
               url);
        fflush(stdout);
        start_agent(d);
        return;
    }
    /* SIGCHLD: reap; restart an agent that died on its own (a few times). */
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != d->agent)
            continue;
        d->agent = 0;
        log_warn("demo: the agent exited (status %d)", status);
        if (d->restarts++ < 5)
            start_agent(d);
    }
}

int demo_main(int argc, char **argv)
{
    server_opts o;
    int rc = server_parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : 2;
    demo d = {.data = o.data};
    rc = server_run(&o, on_ready, &d);
    if (d.agent > 0) {
        kill(d.agent, SIGTERM);
        waitpid(d.agent, NULL, 0);
    }
    return rc ? 1 : 0;
}
