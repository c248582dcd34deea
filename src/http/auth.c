/* auth: token files and token checks. */
#include "auth.h"

#include "../lib/buf.h"
#include "../lib/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

int auth_generate(char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33];
    size_t got = 0;
    while (got < 32) {
        ssize_t r = getrandom(raw + got, 32 - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    raw[32] = 0;
    size_t n = 0;
    for (size_t i = 0; i < 33; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 |
                     (i + 2 < 33 ? raw[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], b64[v >> 6 & 63], b64[v & 63]};
        for (int k = 0; k < 4 && n < AUTH_TOKEN_LEN; k++)
            out[n++] = q[k];
    }
    out[AUTH_TOKEN_LEN] = '\0';
    return 0;
}

static int load_one(const char *dir, const char *name, char *tok, int *created, char *err,
                    size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    buf b;
    buf_init(&b, 4096);
    int rc = fsutil_read_file(path, &b, 4096);
    if (rc == -ENOENT) {
        buf_free(&b);
        if ((rc = auth_generate(tok)))
            return rc;
        char line[AUTH_TOKEN_LEN + 2];
        snprintf(line, sizeof line, "%s\n", tok);
        *created = 1;
        rc = fsutil_write_atomic(path, line, strlen(line), 0600);
        if (rc)
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        buf_free(&b);
        return rc;
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
                     b.data[b.len - 1] == ' '))
        b.data[--b.len] = '\0';
    if (b.len < 16 || b.len > AUTH_TOKEN_LEN || strpbrk(b.data, " \t\r\n:")) {
        snprintf(err, errlen, "%s: a token must be 16 to %d characters without spaces or ':'",
                 path, AUTH_TOKEN_LEN);
        buf_free(&b);
        return -EINVAL;
    }
    memcpy(tok, b.data, b.len + 1);
    buf_free(&b);
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "warning: %s is readable by others (mode %o); chmod 600 it\n", path,
                st.st_mode & 0777);
    return 0;
}

int auth_load(auth_tokens *t, const char *dir, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int rc = fsutil_mkdirs(dir);
    if (rc) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return rc;
    }
    if ((rc = load_one(dir, "admin.token", t->admin, &t->created, err, errlen)))
        return rc;
    if ((rc = load_one(dir, "agent.token", t->agent, &t->created, err, errlen)))
        return rc;
    if (strcmp(t->admin, t->agent) == 0) {
        snprintf(err, errlen, "admin.token and agent.token must differ");
        return -EINVAL;
    }
    return 0;
}

int auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++)
        d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return d == 0;
}

http_role auth_role(const auth_tokens *t, const char *token)
{
    if (!token || !*token)
        return HTTP_ROLE_NONE;
    int admin = auth_equal(token, t->admin);
    int agent = auth_equal(token, t->agent);
    return admin ? HTTP_ROLE_ADMIN : agent ? HTTP_ROLE_AGENT : HTTP_ROLE_NONE;
}

const char *http_role_name(http_role r)
{
    static const char *names[] = {"none", "enroll", "agent", "viewer", "editor", "admin"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "none";
}
