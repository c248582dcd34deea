/* test_enroll: token syntax, the enrollment request body, the strict parser of the server's
 * answer (a table of good and hostile answers), error texts, and the state directory (round
 * trip, file modes, damaged and hostile files, allocation failures). State tests work in their
 * own mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/enroll.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOK "ddt_AbCdEf0123456789-_.~+/xyz"

static void token_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *tok;
        int valid;
    } cases[] = {
        {"ddt_abcd", 1},
        {TOK, 1},
        {"ddt_abcd==", 1},
        {"ddt_QUJD+/==", 1},
        {"", 0},
        {"ddt_", 0},
        {"ddt_abc", 0},    /* shorter than 8 */
        {"ddt_====", 0},   /* padding only */
        {"ddt_ab=cd", 0},  /* padding in the middle */
        {"ddt_ab cd", 0},  /* space */
        {"ddt_abcd\n", 0}, /* newline */
        {"ddt_abcd\t", 0},
        {"ddt_ab\"cd", 0},
        {"ddt_ab\xc3\xa9"
         "cd",
         0}, /* non-ASCII */
        {"DDT_abcd", 0},
        {"xyz_abcdefgh", 0},
        {"Bearer ddt_abcd", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (enroll_token_valid(cases[i].tok) != cases[i].valid)
            fail_msg("case %zu \"%s\": want %d", i, cases[i].tok, cases[i].valid);
    }
    assert_false(enroll_token_valid(NULL));
    char longest[ENROLL_TOKEN_MAX + 2];
    memcpy(longest, "ddt_", 4);
    memset(longest + 4, 'a', ENROLL_TOKEN_MAX - 4);
    longest[ENROLL_TOKEN_MAX] = '\0';
    assert_true(enroll_token_valid(longest));
    longest[ENROLL_TOKEN_MAX] = 'a';
    longest[ENROLL_TOKEN_MAX + 1] = '\0';
    assert_false(enroll_token_valid(longest));
}

static json_t *parse(const buf *b)
{
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("not JSON: %s: %s", je.text, b->data);
    return j;
}

static void request_body(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    enroll_identity id = {"web-1", "0f3c5e7a9b1d4f6e8a0c2e4f6a8b0c2d", "0.1.0",
                          "ec2e1916-9099-7caa-fd21-012345678902", NULL};
    assert_int_equal(enroll_request_body(&id, &b), 0);
    json_t *j = parse(&b);
    json_t *want = json_pack("{s:s,s:s,s:s,s:s}", "hostname", "web-1", "machine_id",
                             "0f3c5e7a9b1d4f6e8a0c2e4f6a8b0c2d", "version", "0.1.0", "dmi_uuid",
                             "ec2e1916-9099-7caa-fd21-012345678902");
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);

    /* An --instance is sent. */
    enroll_identity named = {"web-1", NULL, "0.1.0", NULL, "web-1-canary"};
    buf_reset(&b);
    assert_int_equal(enroll_request_body(&named, &b), 0);
    j = parse(&b);
    assert_string_equal(json_string_value(json_object_get(j, "instance")), "web-1-canary");
    json_decref(j);

    /* Unknown machine id and UUID are left out, not sent empty. */
    enroll_identity bare = {"db-1.example.com", NULL, "0.1.0", "", ""};
    buf_reset(&b);
    assert_int_equal(enroll_request_body(&bare, &b), 0);
    j = parse(&b);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(j, "hostname")), "db-1.example.com");
    json_decref(j);

    static const enroll_identity bad[] = {
        {NULL, NULL, "0.1.0", NULL, NULL},
        {"", NULL, "0.1.0", NULL, NULL},
        {"a host", NULL, "0.1.0", NULL, NULL},
        {"host\n", NULL, "0.1.0", NULL, NULL},
        {"h\xc3\xa9", NULL, "0.1.0", NULL, NULL},
        {"web-1", NULL, NULL, NULL, NULL},
        {"web-1", NULL, "", NULL, NULL},
        {"web-1", "0F3C5E7A9B1D4F6E8A0C2E4F6A8B0C2D", "0.1.0", NULL, NULL}, /* uppercase */
        {"web-1", "0f3c", "0.1.0", NULL, NULL},
        {"web-1", NULL, "0.1.0", "not-a-uuid", NULL},
        {"web-1", NULL, "0.1.0", "ec2e1916-9099-7caa-fd21-01234567890", NULL},
        {"web-1", NULL, "0.1.0", NULL, "two\nlines"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_reset(&b);
        if (enroll_request_body(&bad[i], &b) != -EINVAL)
            fail_msg("bad identity %zu accepted", i);
    }
    char longhost[300];
    memset(longhost, 'h', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    enroll_identity toolong = {longhost, NULL, "0.1.0", NULL, NULL};
    buf_reset(&b);
    assert_int_equal(enroll_request_body(&toolong, &b), -EINVAL);
    buf_free(&b);

    /* The output cap and allocation failures are the buffer's errors. */
    buf_init(&b, 20);
    assert_int_equal(enroll_request_body(&id, &b), -E2BIG);
    buf_free(&b);
    for (long n = 0; n < 4; n++) {
        buf_init(&b, 0);
        mem_fail_after(n);
        int rc = enroll_request_body(&id, &b);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        buf_free(&b);
    }
}

/* One answer: the body, 0 or -EINVAL, and a word the error must contain. */
typedef struct answer_case {
    const char *body;
    int rc;
    const char *why;
} answer_case;

static const answer_case answers[] = {
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"" TOK "\"}}", 0, NULL},
    /* Extra members are fine (the server may add some). */
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"" TOK "\","
     "\"expires_at\":null,\"name\":\"web-1\"},\"warnings\":[]}",
     0, NULL},
    {"  \n{\"data\":{\"token\":\"" TOK "\",\"device\":7,\"agent\":3},\"status\":\"success\"}\n", 0,
     NULL},
    /* Not JSON, or not the right JSON. */
    {"", -EINVAL, "empty"},
    {"Not Found", -EINVAL, "not JSON"},
    {"<html><body>502 Bad Gateway</body></html>", -EINVAL, "not JSON"},
    {"{\"status\":\"success\"", -EINVAL, "not JSON"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"" TOK "\"}} x",
     -EINVAL, "not JSON"},
    {"[1,2,3]", -EINVAL, "not a JSON object"},
    {"\"ddt_abcdefgh\"", -EINVAL, "not JSON"}, /* a bare string is not a JSON text for jansson */
    {"{\"status\":\"error\",\"errorType\":\"unauthorized\",\"error\":\"token revoked\"}", -EINVAL,
     "status"},
    {"{\"data\":{\"agent\":3,\"device\":7,\"token\":\"" TOK "\"}}", -EINVAL, "status"},
    {"{\"status\":true,\"data\":{\"agent\":3,\"device\":7,\"token\":\"" TOK "\"}}", -EINVAL,
     "status"},
    {"{\"status\":\"success\"}", -EINVAL, "data"},
    {"{\"status\":\"success\",\"data\":[3,7,\"" TOK "\"]}", -EINVAL, "data"},
    {"{\"status\":\"success\",\"data\":null}", -EINVAL, "data"},
    /* Ids: present, integers, positive. */
    {"{\"status\":\"success\",\"data\":{\"device\":7,\"token\":\"" TOK "\"}}", -EINVAL, "agent"},
    {"{\"status\":\"success\",\"data\":{\"agent\":\"3\",\"device\":7,\"token\":\"" TOK "\"}}",
     -EINVAL, "agent"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3.5,\"device\":7,\"token\":\"" TOK "\"}}",
     -EINVAL, "agent"},
    {"{\"status\":\"success\",\"data\":{\"agent\":0,\"device\":7,\"token\":\"" TOK "\"}}", -EINVAL,
     "agent"},
    {"{\"status\":\"success\",\"data\":{\"agent\":-3,\"device\":7,\"token\":\"" TOK "\"}}", -EINVAL,
     "agent"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"token\":\"" TOK "\"}}", -EINVAL, "device"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":null,\"token\":\"" TOK "\"}}",
     -EINVAL, "device"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":true,\"token\":\"" TOK "\"}}",
     -EINVAL, "device"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":99999999999999999999999,"
     "\"token\":\"" TOK "\"}}",
     -EINVAL, "not JSON"}, /* jansson: too big an integer */
    /* The token: present, a string, the right syntax, no NUL inside. */
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7}}", -EINVAL, "token"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":null}}", -EINVAL,
     "token"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":12345678}}", -EINVAL,
     "token"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":[\"" TOK "\"]}}",
     -EINVAL, "token"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"\"}}", -EINVAL,
     "token"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"ddt_with space\"}}",
     -EINVAL, "token"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"ddt_abcd\\n\"}}",
     -EINVAL, "token"},
    /* jansson refuses \u0000 in strings unless asked to allow it. */
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"ddt_abcd\\u0000x\"}}",
     -EINVAL, "not JSON"},
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"secret-no-prefix\"}}",
     -EINVAL, "token"},
    /* Duplicate members are ambiguous: refused. */
    {"{\"status\":\"success\",\"data\":{\"agent\":3,\"device\":7,\"token\":\"" TOK "\","
     "\"token\":\"ddt_other123\"}}",
     -EINVAL, "duplicate"},
};

static void answers_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        const answer_case *c = &answers[i];
        enroll_state st;
        char err[300] = "";
        memset(&st, 0, sizeof st);
        snprintf(st.server, sizeof st.server, "http://keep");
        int rc = enroll_parse_answer(c->body, strlen(c->body), &st, err, sizeof err);
        if (rc != c->rc)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, c->rc, err);
        if (rc == 0) {
            assert_string_equal(st.token, TOK);
            assert_int_equal(st.agent_id, 3);
            assert_int_equal(st.device_id, 7);
        } else {
            if (!strstr(err, c->why))
                fail_msg("case %zu: error \"%s\" does not mention \"%s\"", i, err, c->why);
            /* Nothing of a refused answer is kept. */
            assert_string_equal(st.token, "");
            assert_int_equal(st.agent_id, 0);
            assert_int_equal(st.device_id, 0);
        }
        assert_string_equal(st.server, "http://keep");
    }
}

static void answer_limits(void **state)
{
    (void)state;
    enroll_state st;
    char err[300];
    memset(&st, 0, sizeof st);
    /* A token one byte too long. */
    char body[1024], tok[ENROLL_TOKEN_MAX + 2];
    memcpy(tok, "ddt_", 4);
    memset(tok + 4, 'a', ENROLL_TOKEN_MAX - 3);
    tok[ENROLL_TOKEN_MAX + 1] = '\0';
    snprintf(body, sizeof body,
             "{\"status\":\"success\",\"data\":{\"agent\":1,\"device\":2,\"token\":\"%s\"}}", tok);
    assert_int_equal(enroll_parse_answer(body, strlen(body), &st, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "token"));
    tok[ENROLL_TOKEN_MAX] = '\0'; /* the longest accepted */
    snprintf(body, sizeof body,
             "{\"status\":\"success\",\"data\":{\"agent\":1,\"device\":2,\"token\":\"%s\"}}", tok);
    assert_int_equal(enroll_parse_answer(body, strlen(body), &st, err, sizeof err), 0);
    assert_string_equal(st.token, tok);
    /* An answer larger than any enrollment answer, even if valid JSON. */
    size_t n = ENROLL_ANSWER_MAX + 10;
    char *huge = malloc(n);
    assert_non_null(huge);
    memset(huge, ' ', n);
    memcpy(huge, body, strlen(body));
    memset(&st, 0, sizeof st);
    assert_int_equal(enroll_parse_answer(huge, n, &st, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "bytes"));
    assert_string_equal(st.token, "");
    /* Not NUL-terminated: only len bytes are read. */
    memcpy(huge, body, strlen(body));
    memset(huge + strlen(body), 'x', 10);
    assert_int_equal(enroll_parse_answer(huge, strlen(body), &st, err, sizeof err), 0);
    free(huge);
    /* A NULL error buffer is allowed. */
    assert_int_equal(enroll_parse_answer("nope", 4, &st, NULL, 0), -EINVAL);
}

static void error_texts(void **state)
{
    (void)state;
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"status\":\"error\",\"errorType\":\"unauthorized\",\"error\":\"token revoked\"}",
         "token revoked"},
        {"{\"status\":\"error\",\"error\":\"line1\\nline2\\u0001\"}", "line1 line2?"},
        {"404 page not found\n", "404 page not found"},
        {"{\"error\":42}", "{\"error\":42}"},
        {"\x01\x02\xff ok", "??? ok"},
        {"", "(empty answer)"},
        {"\n\n", "(empty answer)"},
    };
    char dst[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enroll_error_text(cases[i].body, strlen(cases[i].body), dst, sizeof dst);
        if (strcmp(dst, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, dst, cases[i].want);
    }
    char small[8];
    enroll_error_text("a very long message", 19, small, sizeof small);
    assert_string_equal(small, "a very");
    enroll_error_text(NULL, 0, small, sizeof small);
    assert_string_equal(small, "(empty ");
}

/* ---- state directory ---------------------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    char state[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/dd-enroll-test-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->state, sizeof f->state, "%s/a/b/state", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void put_file(const char *dir, const char *name, const char *data, size_t len, mode_t mode)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(dir, 0700);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    fchmod(fd, mode);
    close(fd);
}

static mode_t mode_of(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void state_round_trip(void **state)
{
    fixture *f = *state;
    enroll_state st, back;
    char err[512];
    assert_int_equal(enroll_state_load(f->state, &back, err, sizeof err), -ENOENT);
    memset(&st, 0, sizeof st);
    snprintf(st.token, sizeof st.token, "%s", TOK);
    st.agent_id = 3;
    st.device_id = 7;
    snprintf(st.server, sizeof st.server, "http://127.0.0.1:8080");
    assert_int_equal(enroll_state_save(f->state, &st), 0);
    assert_int_equal(mode_of(f->state, "agent.token"), 0600);
    assert_int_equal(mode_of(f->state, "agent.json"), 0600);
    assert_int_equal(mode_of(f->state, "."), 0700);
    assert_int_equal(enroll_state_load(f->state, &back, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(back.token, TOK);
    assert_int_equal(back.agent_id, 3);
    assert_int_equal(back.device_id, 7);
    assert_string_equal(back.server, "http://127.0.0.1:8080");
    /* The token file is one line: the token and a newline; no temporary files are left. */
    char path[PATH_MAX];
    buf b;
    buf_init(&b, 0);
    snprintf(path, sizeof path, "%s/agent.token", f->state);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[512];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, TOK "\n");
    assert_null(fgets(line, sizeof line, fp));
    fclose(fp);
    snprintf(path, sizeof path, "%s/agent.token.tmp", f->state);
    assert_int_equal(access(path, F_OK), -1);
    buf_free(&b);
    /* A second save (re-enrollment) replaces both files. */
    snprintf(st.token, sizeof st.token, "ddt_second99");
    st.agent_id = 4;
    assert_int_equal(enroll_state_save(f->state, &st), 0);
    assert_int_equal(enroll_state_load(f->state, &back, err, sizeof err), 0);
    assert_string_equal(back.token, "ddt_second99");
    assert_int_equal(back.agent_id, 4);
    /* An invalid token is never saved. */
    snprintf(st.token, sizeof st.token, "bad token");
    assert_int_equal(enroll_state_save(f->state, &st), -EINVAL);
    st.token[0] = '\0';
    assert_int_equal(enroll_state_save(f->state, &st), -EINVAL);
    /* A file where the directory should be. */
    put_file(f->dir, "file", "x", 1, 0600);
    snprintf(path, sizeof path, "%s/file", f->dir);
    snprintf(st.token, sizeof st.token, "%s", TOK);
    assert_true(enroll_state_save(path, &st) < 0);
    assert_int_equal(enroll_state_load(path, &back, err, sizeof err), -ENOENT);
}

static void damaged_token_files(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *data;
        size_t len;
        int rc;
    } cases[] = {
        {TOK, sizeof TOK - 1, 0},        /* no newline */
        {TOK "\r\n", sizeof TOK + 1, 0}, /* CRLF */
        {"", 0, -EINVAL},
        {"\n", 1, -EINVAL},
        {TOK "\n" TOK "\n", 2 * sizeof TOK, -EINVAL}, /* two lines */
        {TOK " \n", sizeof TOK + 1, -EINVAL},
        {"ddt_ab\0cdefgh\n", 14, -EINVAL}, /* NUL inside */
        {"not a token\n", 12, -EINVAL},
        {"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\n", 9, -EINVAL},
    };
    enroll_state st;
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(f->dir, "agent.token", cases[i].data, cases[i].len, 0600);
        int rc = enroll_state_load(f->dir, &st, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d want %d (%s)", i, rc, cases[i].rc, err);
        if (rc == 0)
            assert_string_equal(st.token, TOK);
        else
            assert_string_equal(st.token, "");
    }
    /* Huge: refused without reading it all. */
    size_t n = 1 << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big, "ddt_", 4);
    put_file(f->dir, "agent.token", big, n, 0600);
    free(big);
    assert_int_equal(enroll_state_load(f->dir, &st, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "larger"));
    /* Readable by others: used, with a warning. */
    put_file(f->dir, "agent.token", TOK "\n", sizeof TOK, 0644);
    assert_int_equal(enroll_state_load(f->dir, &st, err, sizeof err), 0);
    assert_non_null(strstr(err, "0600"));
    /* Unreadable (a directory in the way). */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/agent.token", f->dir);
    unlink(path);
    mkdir(path, 0700);
    assert_true(enroll_state_load(f->dir, &st, err, sizeof err) < 0);
    assert_string_equal(st.token, "");
}

static void damaged_agent_json(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *json;
        int64_t agent, device;
        const char *server;
    } cases[] = {
        {"{\"agent\":3,\"device\":7,\"server\":\"http://s\"}", 3, 7, "http://s"},
        {"not json", 0, 0, ""},
        {"[]", 0, 0, ""},
        {"{\"agent\":\"3\",\"device\":-7,\"server\":5}", 0, 0, ""},
        {"{\"agent\":3,\"agent\":4}", 0, 0, ""}, /* duplicates: the file is not trusted */
        {"{\"server\":\"http://a\\u0000b\"}", 0, 0, ""},
        {"{}", 0, 0, ""},
    };
    enroll_state st;
    char err[512];
    put_file(f->dir, "agent.token", TOK "\n", sizeof TOK, 0600);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(f->dir, "agent.json", cases[i].json, strlen(cases[i].json), 0600);
        assert_int_equal(enroll_state_load(f->dir, &st, err, sizeof err), 0);
        assert_string_equal(st.token, TOK);
        assert_int_equal(st.agent_id, cases[i].agent);
        assert_int_equal(st.device_id, cases[i].device);
        assert_string_equal(st.server, cases[i].server);
    }
    /* Missing agent.json: the token alone is enough. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/agent.json", f->dir);
    unlink(path);
    assert_int_equal(enroll_state_load(f->dir, &st, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(st.agent_id, 0);
}

static void state_under_allocation_failure(void **state)
{
    fixture *f = *state;
    enroll_state st, back;
    char err[512];
    memset(&st, 0, sizeof st);
    snprintf(st.token, sizeof st.token, "%s", TOK);
    st.agent_id = 1;
    st.device_id = 2;
    int ok_save = 0, ok_load = 0;
    for (long n = 0; n < 20; n++) {
        mem_fail_after(n);
        int rc = enroll_state_save(f->state, &st);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        ok_save |= rc == 0;
        mem_fail_after(n);
        rc = enroll_state_load(f->state, &back, err, sizeof err);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM || rc == -ENOENT);
        if (rc == 0) {
            assert_string_equal(back.token, TOK);
            ok_load = 1;
        }
    }
    assert_true(ok_save && ok_load);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_syntax),
        cmocka_unit_test(request_body),
        cmocka_unit_test(answers_table),
        cmocka_unit_test(answer_limits),
        cmocka_unit_test(error_texts),
        T(state_round_trip),
        T(damaged_token_files),
        T(damaged_agent_json),
        T(state_under_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
