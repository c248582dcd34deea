/* enroll: the enrollment request body, the strict parser of the server's answer, and the
 * agent's state directory (agent.token + agent.json). */
#include "enroll.h"

#include "../lib/fsutil.h"
#include "../lib/jsonw.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_FILE_MAX 4096 /* agent.token and agent.json are far smaller */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int b64token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int enroll_token_valid(const char *tok)
{
    size_t n = tok ? strlen(tok) : 0, i = 4;
    if (n < 8 || n > ENROLL_TOKEN_MAX || strncmp(tok, "ddt_", 4) != 0)
        return 0;
    while (i < n && b64token_char(tok[i]))
        i++;
    if (i == 4)
        return 0;
    while (i < n && tok[i] == '=')
        i++;
    return i == n;
}

static int printable_ascii(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    }
    return 1;
}

static int hex_lower(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

static int uuid_like(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return 0;
    }
    return 1;
}

int enroll_request_body(const enroll_identity *id, buf *out)
{
    if (!printable_ascii(id->hostname, 253) || !printable_ascii(id->version, 64))
        return -EINVAL;
    if (id->machine_id && *id->machine_id && !hex_lower(id->machine_id, 32))
        return -EINVAL;
    if (id->dmi_uuid && *id->dmi_uuid && !uuid_like(id->dmi_uuid))
        return -EINVAL;
    if (id->instance && *id->instance && !printable_ascii(id->instance, 200))
        return -EINVAL;
    jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_open(&w);
    jsonw_kv_str(&w, "hostname", id->hostname);
    if (id->machine_id && *id->machine_id)
        jsonw_kv_str(&w, "machine_id", id->machine_id);
    jsonw_kv_str(&w, "version", id->version);
    if (id->dmi_uuid && *id->dmi_uuid)
        jsonw_kv_str(&w, "dmi_uuid", id->dmi_uuid);
    if (id->instance && *id->instance)
        jsonw_kv_str(&w, "instance", id->instance);
    jsonw_obj_close(&w);
    return out->err;
}

/* A positive integer member of obj, or 0 with the reason in err. */
static int64_t positive_id(json_t *obj, const char *key, char *err, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        set_err(err, cap, "answer has no \"data.%s\"", key);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        set_err(err, cap, "\"data.%s\" is not a positive integer", key);
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

int enroll_parse_answer(const char *body, size_t len, enroll_state *st, char *err, size_t errcap)
{
    json_error_t je;
    json_t *root = NULL;
    int rc = -EINVAL;
    if (len > ENROLL_ANSWER_MAX) {
        set_err(err, errcap, "answer is %zu bytes, more than the %u an enrollment answer may have",
                len, ENROLL_ANSWER_MAX);
        return -EINVAL;
    }
    if (!body || len == 0) {
        set_err(err, errcap, "answer is empty");
        return -EINVAL;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory) {
            set_err(err, errcap, "out of memory parsing the answer");
            return -ENOMEM;
        }
        set_err(err, errcap, "answer is not JSON: %s at line %d column %d", je.text, je.line,
                je.column);
        return -EINVAL;
    }
    if (!json_is_object(root)) {
        set_err(err, errcap, "answer is not a JSON object");
        goto out;
    }
    json_t *status = json_object_get(root, "status");
    if (!json_is_string(status) || strcmp(json_string_value(status), "success") != 0) {
        set_err(err, errcap, "answer's \"status\" is not \"success\"");
        goto out;
    }
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(data)) {
        set_err(err, errcap, "answer has no \"data\" object");
        goto out;
    }
    int64_t agent = positive_id(data, "agent", err, errcap);
    if (!agent)
        goto out;
    int64_t device = positive_id(data, "device", err, errcap);
    if (!device)
        goto out;
    json_t *tok = json_object_get(data, "token");
    if (!json_is_string(tok)) {
        set_err(err, errcap, "answer has no \"data.token\" string");
        goto out;
    }
    const char *t = json_string_value(tok);
    size_t tlen = json_string_length(tok);
    if (tlen != strlen(t) || !enroll_token_valid(t)) {
        set_err(err, errcap,
                "\"data.token\" is not a valid token (want \"ddt_\" and up to %d characters of "
                "letters, digits, - . _ ~ + /, got %zu bytes)",
                ENROLL_TOKEN_MAX - 4, tlen);
        goto out;
    }
    memcpy(st->token, t, tlen + 1);
    st->agent_id = agent;
    st->device_id = device;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void enroll_error_text(const char *body, size_t len, char *dst, size_t cap)
{
    const char *src = body;
    size_t n = len;
    json_t *root = NULL;
    if (cap == 0)
        return;
    if (body && len > 0 && len <= ENROLL_ANSWER_MAX) {
        root = json_loadb(body, len, 0, NULL);
        json_t *e = json_is_object(root) ? json_object_get(root, "error") : NULL;
        if (json_is_string(e)) {
            src = json_string_value(e);
            n = json_string_length(e);
        }
    }
    size_t o = 0;
    for (size_t i = 0; src && i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : c == '\n' || c == '\t' ? ' ' : '?';
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
    if (o == 0)
        snprintf(dst, cap, "(empty answer)");
    json_decref(root);
}

static int state_path(char *dst, size_t cap, const char *dir, const char *name)
{
    return (size_t)snprintf(dst, cap, "%s/%s", dir, name) >= cap ? -ENAMETOOLONG : 0;
}

/* Reads agent.json's ids and server into st; a problem only leaves them unknown. */
static void load_json(const char *path, enroll_state *st, char *err, size_t errcap)
{
    buf b;
    json_t *root = NULL;
    buf_init(&b, STATE_FILE_MAX);
    int rc = fsutil_read_file(path, &b, STATE_FILE_MAX);
    if (rc) {
        if (rc != -ENOENT)
            set_err(err, errcap, "cannot read %s: %s", path, strerror(-rc));
        goto out;
    }
    json_error_t je;
    root = b.data ? json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(root)) {
        set_err(err, errcap, "%s is not a JSON object; agent and device ids unknown", path);
        goto out;
    }
    json_t *a = json_object_get(root, "agent"), *d = json_object_get(root, "device");
    json_t *s = json_object_get(root, "server");
    if (json_is_integer(a) && json_integer_value(a) > 0)
        st->agent_id = (int64_t)json_integer_value(a);
    if (json_is_integer(d) && json_integer_value(d) > 0)
        st->device_id = (int64_t)json_integer_value(d);
    if (json_is_string(s) && json_string_length(s) <= ENROLL_SERVER_MAX &&
        json_string_length(s) == strlen(json_string_value(s)))
        memcpy(st->server, json_string_value(s), json_string_length(s) + 1);
out:
    json_decref(root);
    buf_free(&b);
}

int enroll_state_load(const char *dir, enroll_state *st, char *err, size_t errcap)
{
    char path[PATH_MAX];
    buf b;
    int rc;
    memset(st, 0, sizeof *st);
    if (err && errcap)
        err[0] = '\0';
    buf_init(&b, STATE_FILE_MAX);
    if ((rc = state_path(path, sizeof path, dir, "agent.token"))) {
        set_err(err, errcap, "state directory name too long");
        goto out;
    }
    rc = fsutil_read_file(path, &b, STATE_FILE_MAX);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        rc = -ENOENT;
        set_err(err, errcap, "no %s", path);
        goto out;
    }
    if (rc) {
        set_err(err, errcap, "cannot read %s: %s", path,
                rc == -EFBIG ? "larger than a token file" : strerror(-rc));
        if (rc == -EFBIG)
            rc = -EINVAL;
        goto out;
    }
    /* One line: the token and a newline (a missing newline is accepted). */
    size_t n = b.len;
    if (n > 0 && b.data[n - 1] == '\n')
        n--;
    if (n > 0 && b.data[n - 1] == '\r')
        n--;
    if (n > ENROLL_TOKEN_MAX || memchr(b.data ? b.data : "", '\0', n) ||
        memchr(b.data ? b.data : "", '\n', n)) {
        set_err(err, errcap, "%s does not hold one token line", path);
        rc = -EINVAL;
        goto out;
    }
    if (n)
        memcpy(st->token, b.data, n);
    st->token[n] = '\0';
    if (!enroll_token_valid(st->token)) {
        set_err(err, errcap, "%s does not hold a valid token", path);
        st->token[0] = '\0';
        rc = -EINVAL;
        goto out;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 077))
        set_err(err, errcap, "%s is readable by others (mode %03o); it should be 0600", path,
                (unsigned)(sb.st_mode & 0777));
    if (state_path(path, sizeof path, dir, "agent.json") == 0)
        load_json(path, st, err && !err[0] ? err : NULL, errcap);
    rc = 0;
out:
    buf_free(&b);
    return rc;
}

int enroll_state_save(const char *dir, const enroll_state *st)
{
    char path[PATH_MAX], line[ENROLL_TOKEN_MAX + 2];
    buf b;
    int rc;
    if (!enroll_token_valid(st->token))
        return -EINVAL;
    if ((rc = fsutil_mkdirs(dir)))
        return rc;
    size_t n = strlen(st->token);
    memcpy(line, st->token, n);
    line[n] = '\n';
    if ((rc = state_path(path, sizeof path, dir, "agent.token")) ||
        (rc = fsutil_write_atomic(path, line, n + 1, 0600)))
        return rc;
    buf_init(&b, STATE_FILE_MAX);
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj_open(&w);
    jsonw_kv_int(&w, "agent", (long long)st->agent_id);
    jsonw_kv_int(&w, "device", (long long)st->device_id);
    jsonw_kv_str(&w, "server", st->server);
    jsonw_obj_close(&w);
    buf_putc(&b, '\n');
    rc = b.err;
    if (!rc && !(rc = state_path(path, sizeof path, dir, "agent.json")))
        rc = fsutil_write_atomic(path, b.data, b.len, 0600);
    buf_free(&b);
    return rc;
}
