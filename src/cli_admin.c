/* cli_admin: `dashdot admin passwd USER` resets a password in the catalog. */
#include "cli_admin.h"

#include "catalog/access.h"
#include "catalog/store.h"
#include "lib/fsutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: dashdot admin passwd USER [--data DIR] [--stdin]\n"
               "\n"
               "  passwd USER   set a new password for USER: a random one, printed, or with\n"
               "                --stdin the first line of standard input (at least 10\n"
               "                characters); the user's sessions end\n"
               "  --data DIR    the server's data directory (default ./data)\n");
}

static int passwd(const char *data, const char *user, int from_stdin)
{
    char path[4200], err[512], line[512], gen[64];
    cat_store *s = NULL;
    cat_result r = {0};
    const char *pw = NULL;
    if (from_stdin) {
        if (!fgets(line, sizeof line, stdin)) {
            fprintf(stderr, "dashdot admin: no password on standard input\n");
            return 1;
        }
        line[strcspn(line, "\r\n")] = '\0';
        pw = line;
    }
    snprintf(path, sizeof path, "%s/catalog.db", data);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "dashdot admin: no catalog at %s (start the server once, or pass --data)\n",
                path);
        return 1;
    }
    if (cat_store_open(&s, path, err, sizeof err)) {
        fprintf(stderr, "dashdot admin: %s\n", err);
        return 1;
    }
    int rc = cat_access_set_password(s, user, pw, gen, sizeof gen, "dashdot admin", &r);
    if (rc)
        fprintf(stderr, "dashdot admin: %s\n", r.msg[0] ? r.msg : strerror(-rc));
    else if (!pw)
        printf("new password for %s: %s\n", user, gen);
    else
        printf("password of %s changed\n", user);
    memset(line, 0, sizeof line);
    memset(gen, 0, sizeof gen);
    cat_result_clear(&r);
    cat_store_close(s);
    return rc ? 1 : 0;
}

int cli_admin_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"data", required_argument, 0, 'd'},
                                             {"stdin", no_argument, 0, 's'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *data = "data";
    int from_stdin = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 's': from_stdin = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "dashdot admin: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind + 2 == argc && !strcmp(argv[optind], "passwd"))
        return passwd(data, argv[optind + 1], from_stdin);
    usage(stderr);
    return 2;
}
