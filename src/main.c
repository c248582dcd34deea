/* main: the dashdot binary's subcommands. */
#include "agent/agent.h"
#include "cli_admin.h"
#include "cli_probe.h"
#include "cli_query.h"
#include "demo.h"
#include "server.h"

#include <stdio.h>
#include <string.h>

#ifndef DD_VERSION
#define DD_VERSION "dev"
#endif

static void usage(FILE *f)
{
    fprintf(f, "dashdot %s — real-time infrastructure monitoring\n"
               "\n"
               "usage: dashdot <command> [options]   (dashdot <command> --help for options)\n"
               "\n"
               "  server    store, query API and web UI\n"
               "  agent     collect this host's metrics and send them to a server\n"
               "  demo      a server and a local agent together (what `make run` starts)\n"
               "  query     run a PromQL query against a running server\n"
               "  probe     run one check (icmp, tcp, http, dns, snmp, scrape, munin, nagios)\n"
               "  admin     maintenance: admin passwd USER resets a password\n"
               "  version   print the version\n",
            DD_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "server") == 0) {
        server_opts o;
        int rc = server_parse_args(argc - 1, argv + 1, &o);
        if (rc)
            return rc > 0 ? 0 : 2;
        return server_run(&o, NULL, NULL) ? 1 : 0;
    }
    if (strcmp(cmd, "agent") == 0) {
        agent_opts o;
        int rc = agent_parse_args(argc - 1, argv + 1, &o);
        if (rc)
            return rc > 0 ? 0 : 2;
        return agent_run(&o) ? 1 : 0;
    }
    if (strcmp(cmd, "demo") == 0)
        return demo_main(argc - 1, argv + 1);
    if (strcmp(cmd, "query") == 0)
        return cli_query_main(argc - 1, argv + 1);
    if (strcmp(cmd, "probe") == 0)
        return cli_probe_main(argc - 1, argv + 1);
    if (strcmp(cmd, "admin") == 0)
        return cli_admin_main(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("dashdot %s\n", DD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "dashdot: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
