/* test_probe_http: the http probe's pure parts (accepted status codes, header settings, the
 * json_field path and its streaming JSON scanner with hostile documents, phase arithmetic over
 * redirects and failures, TLS failure reasons), the settings it refuses, and runs against an
 * in-process HTTP server on the loop: many at once, some cancelled at their timeout, every
 * handle closed and everything freed (run under ASan for the leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/http_int.h"
#include "agent/probes/probe.h"
#include "agent/probes/sched.h"
#include "lib/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- status codes ------------------------------------------------------------------------ */

static void status_specs(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        long yes, no; /* a code the set then has, one it has not (0: skip) */
    } cases[] = {
        {"200", 0, 200, 201},    {"204", 0, 204, 200},   {"3xx", 0, 301, 400},
        {"3XX", 0, 399, 299},    {"1xx", 0, 100, 200},   {"5xx", 0, 599, 499},
        {"599", 0, 599, 598},    {"100", 0, 100, 101},   {"600", -EINVAL, 0, 0},
        {"099", -EINVAL, 0, 0},  {"99", -EINVAL, 0, 0},  {"2x0", -EINVAL, 0, 0},
        {"x00", -EINVAL, 0, 0},  {"", -EINVAL, 0, 0},    {"2000", -EINVAL, 0, 0},
        {" 200", -EINVAL, 0, 0}, {"0xx", -EINVAL, 0, 0}, {"6xx", -EINVAL, 0, 0},
        {"2xX", 0, 250, 300},    {"20x", -EINVAL, 0, 0}, {"-20", -EINVAL, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_status_set set = {{0}}, zero = {{0}};
        char err[128] = "";
        int rc = http_status_set_add(&set, cases[i].in, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("\"%s\": rc %d, want %d", cases[i].in, rc, cases[i].rc);
        if (rc) {
            if (memcmp(&set, &zero, sizeof set))
                fail_msg("\"%s\": set changed on failure", cases[i].in);
            if (!strstr(err, "status code"))
                fail_msg("\"%s\": unhelpful error \"%s\"", cases[i].in, err);
            continue;
        }
        if (!http_status_set_has(&set, cases[i].yes) || http_status_set_has(&set, cases[i].no))
            fail_msg("\"%s\": membership of %ld/%ld wrong", cases[i].in, cases[i].yes,
                     cases[i].no);
    }
    http_status_set set = {{0}};
    http_status_set_add_code(&set, 42);
    http_status_set_add_code(&set, 600);
    http_status_set_add_code(&set, -1);
    assert_false(http_status_set_has(&set, 42));
    assert_false(http_status_set_has(&set, 600));
    assert_false(http_status_set_has(&set, -1));
    assert_false(http_status_set_has(&set, 100000));
}

/* ---- headers ----------------------------------------------------------------------------- */

static void header_settings(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out NULL: refused */
    } cases[] = {
        {"X-A: b", "X-A: b"},
        {"X-A:b", "X-A: b"},
        {"X-A:\tb c ", "X-A: b c"},
        {"X-A:", "X-A;"},
        {"X-A:   ", "X-A;"},
        {"Accept: */*", "Accept: */*"},
        {"X-A: tab\there", "X-A: tab\there"},
        {"X-Utf8: caf\xc3\xa9", "X-Utf8: caf\xc3\xa9"},
        {"!#$%&'*+-.^_`|~09azAZ: v", "!#$%&'*+-.^_`|~09azAZ: v"},
        {"X-A: a: b", "X-A: a: b"},
        {": b", NULL},
        {"X A: b", NULL},
        {"X-A b", NULL},
        {"X-A", NULL},
        {"", NULL},
        {"X-A: a\r\nInjected: 1", NULL},
        {"X-A: a\nb", NULL},
        {"X-A: \x7f", NULL},
        {"X(A): b", NULL},
        {"X-\xc3\xa9: b", NULL},
        {" X-A: b", NULL},
    };
    char out[HTTP_HEADER_MAX + 4], err[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        snprintf(out, sizeof out, "sentinel");
        int rc = http_header_setting(cases[i].in, out, sizeof out, err, sizeof err);
        if (cases[i].out && (rc || strcmp(out, cases[i].out)))
            fail_msg("\"%s\": rc %d \"%s\" (%s), want \"%s\"", cases[i].in, rc, out, err,
                     cases[i].out);
        if (!cases[i].out && (rc != -EINVAL || out[0] || !err[0]))
            fail_msg("\"%s\": rc %d out \"%s\", want a refusal with a reason", cases[i].in, rc,
                     out);
    }
    /* Too long, and too long for the output buffer. */
    char *big = mem_alloc(HTTP_HEADER_MAX + 16);
    memset(big, 'v', HTTP_HEADER_MAX + 15);
    memcpy(big, "X-Big: ", 7);
    big[HTTP_HEADER_MAX + 15] = '\0';
    assert_int_equal(http_header_setting(big, out, sizeof out, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "longer than"));
    assert_int_equal(http_header_setting("X-A: bcdef", out, 8, err, sizeof err), -EINVAL);
    mem_free(big);
}

static void header_values(void **state)
{
    (void)state;
    char v[32];
    const char *l = "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 1);
    assert_string_equal(v, "Wed, 21 Oct 2015 07:28:00 GMT");
    l = "last-modified:x \r\n";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 1);
    assert_string_equal(v, "x");
    l = "LAST-MODIFIED:\r\n";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 1);
    assert_string_equal(v, "");
    l = "Last-Modified-X: y\r\n";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 0);
    l = "Last-Modified";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 0);
    l = "Last-Modif";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 0);
    l = "Last-Modified: 0123456789012345678901234567890123456789\r\n";
    assert_int_equal(http_header_value(l, strlen(l), "last-modified", v, sizeof v), 1);
    assert_int_equal(strlen(v), sizeof v - 1);
    /* Not NUL-terminated: only len bytes are read. */
    char raw[] = {'l', 'a', 's', 't', '-', 'm', 'o', 'd', 'i', 'f', 'i', 'e', 'd', ':', 'Z'};
    assert_int_equal(http_header_value(raw, sizeof raw, "last-modified", v, sizeof v), 1);
    assert_string_equal(v, "Z");
}

/* ---- json_field -------------------------------------------------------------------------- */

static void json_field_specs(void **state)
{
    (void)state;
    static const struct {
        const char *in, *path, *want; /* path NULL: refused */
    } cases[] = {
        {"a=b", "a", "b"},
        {"data.0.state=up", "data.0.state", "up"},
        {"a.b=x=y", "a.b", "x=y"},
        {"a=", "a", ""},
        {"a b=c d", "a b", "c d"},
        {"=x", NULL, NULL},
        {"a..b=1", NULL, NULL},
        {".a=1", NULL, NULL},
        {"a.=1", NULL, NULL},
        {".=1", NULL, NULL},
        {"abc", NULL, NULL},
        {"", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = (char *)1, *w = (char *)1, err[160] = "";
        int rc = http_json_field_parse(cases[i].in, &p, &w, err, sizeof err);
        if (cases[i].path) {
            if (rc || strcmp(p, cases[i].path) || strcmp(w, cases[i].want))
                fail_msg("\"%s\": rc %d (%s)", cases[i].in, rc, err);
        } else if (rc != -EINVAL || p || w || !err[0]) {
            fail_msg("\"%s\": rc %d, want a refusal with a reason", cases[i].in, rc);
        }
        mem_free(p);
        mem_free(w);
    }
    char spec[HTTP_JSON_PATH_MAX + 16], *p, *w, err[160];
    memset(spec, 'a', sizeof spec);
    memcpy(spec + HTTP_JSON_PATH_MAX + 1, "=x", 3);
    assert_int_equal(http_json_field_parse(spec, &p, &w, err, sizeof err), -EINVAL);
    size_t n = 0;
    for (int i = 0; i <= HTTP_JSON_DEPTH_MAX; i++)
        n += (size_t)snprintf(spec + n, sizeof spec - n, "%sa", i ? "." : "");
    snprintf(spec + n, sizeof spec - n, "=1");
    assert_int_equal(http_json_field_parse(spec, &p, &w, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "segments"));
}

typedef struct jcase {
    const char *body; /* NUL-terminated unless len is given */
    size_t len;
    const char *path, *want;
    int rc;
    const char *msg; /* a part the message must hold (NULL: no check) */
} jcase;

static void run_json_table(const jcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char msg[256] = "";
        size_t len = c[i].len ? c[i].len : strlen(c[i].body);
        int rc = http_json_check(c[i].body, len, c[i].path, c[i].want, msg, sizeof msg);
        if (rc != c[i].rc)
            fail_msg("case %zu %.60s [%s=%s]: rc %d (%s), want %d", i, c[i].body, c[i].path,
                     c[i].want, rc, msg, c[i].rc);
        if (c[i].msg && !strstr(msg, c[i].msg))
            fail_msg("case %zu %.60s [%s=%s]: message \"%s\" lacks \"%s\"", i, c[i].body,
                     c[i].path, c[i].want, msg, c[i].msg);
        if (rc && (!msg[0] || strchr(msg, '\n')))
            fail_msg("case %zu: message \"%s\" is not one line", i, msg);
    }
}

static void json_check_values(void **state)
{
    (void)state;
    static const char doc[] = "{\"status\":\"ok\",\"data\":[{\"state\":\"up\"}],\"n\":1.5,"
                              "\"i\":42,\"b\":true,\"f\":false,\"z\":null,\"s\":\"a=b\","
                              "\"deep\":{\"a\":{\"b\":[0,[10,20]]}},\"0\":\"zero\"}";
    static const jcase cases[] = {
        {doc, 0, "status", "ok", 0, NULL},
        {doc, 0, "data.0.state", "up", 0, NULL},
        {doc, 0, "data.0.state", "down", 1, "data.0.state is \"up\", expected \"down\""},
        {doc, 0, "data.1.state", "up", 1, "data.1.state: not found"},
        {doc, 0, "data.x", "up", 1, "not found"},
        {doc, 0, "data.-1", "up", 1, "not found"},
        {doc, 0, "data.00", "up", 1, "not found"},
        {doc, 0, "data.+0.state", "up", 1, "not found"},
        {doc, 0, "data.0000000000000000000001", "up", 1, "not found"},
        {doc, 0, "data.99999999999999999999", "up", 1, "not found"},
        {doc, 0, "status.x", "1", 1, "not found (status is a string)"},
        {doc, 0, "missing", "1", 1, "missing: not found"},
        {doc, 0, "n", "1.5", 0, NULL},
        {doc, 0, "n", "1.50", 0, NULL},
        {doc, 0, "n", "15e-1", 0, NULL},
        {doc, 0, "n", "2", 1, "n is 1.5, expected \"2\""},
        {doc, 0, "n", "1.5x", 1, NULL},
        {doc, 0, "i", "42", 0, NULL},
        {doc, 0, "i", "42.0", 0, NULL},
        {doc, 0, "i", "042", 1, NULL},
        {doc, 0, "i", "+42", 1, NULL},
        {doc, 0, "b", "true", 0, NULL},
        {doc, 0, "b", "1", 1, "b is true"},
        {doc, 0, "f", "false", 0, NULL},
        {doc, 0, "z", "null", 0, NULL},
        {doc, 0, "z", "", 1, NULL},
        {doc, 0, "s", "a=b", 0, NULL},
        {doc, 0, "deep.a.b.1.1", "20", 0, NULL},
        {doc, 0, "deep.a.b.1", "[10,20]", 0, NULL},
        {doc, 0, "deep.a", "{\"b\":[0,[10,20]]}", 0, NULL},
        {doc, 0, "0", "zero", 0, NULL},
        {"{\"big\":9007199254740993}", 0, "big", "9007199254740993", 0, NULL},
        {"{\"big\":9007199254740993}", 0, "big", "9007199254740992", 1, NULL},
        {"{\"z\":-0}", 0, "z", "0", 0, NULL},
        {"{\"z\":0}", 0, "z", "-0.0", 0, NULL},
        {"{\"e\":1E+2}", 0, "e", "100", 0, NULL},
        {"{\"s\":\"a\\u00e9\\n\\\"\\\\\\/\"}", 0, "s", "a\xc3\xa9\n\"\\/", 0, NULL},
        {"{\"\\u0073\":\"x\"}", 0, "s", "x", 0, NULL},
        {"{\"e\":\"\\ud83d\\ude00\"}", 0, "e", "\xf0\x9f\x98\x80", 0, NULL},
        {"{\"e\":\"\xf0\x9f\x98\x80\"}", 0, "e", "\xf0\x9f\x98\x80", 0, NULL},
        {"{\"s\":\"a\\u0000b\"}", 0, "s", "a", 1, "is \"a?b\""},
        {"{\"s\":\"line\\nbreak\"}", 0, "s", "x", 1, "is \"line?break\""},
        {"{ \"o\" : { \"a\" : [ 1 , \"x y\" ] } }", 0, "o", "{\"a\":[1,\"x y\"]}", 0, NULL},
        {"[1,[2,3]]", 0, "1.0", "2", 0, NULL},
        {"[1,[2,3]]", 0, "1.2", "2", 1, "not found"},
        {"[]", 0, "0", "2", 1, "not found"},
        {"{}", 0, "a", "2", 1, "not found"},
        {"\"abc\"", 0, "x", "2", 1, "not found (the document is a string)"},
        {"{\"a\":1,\"a\":2}", 0, "a", "1", 0, NULL},
        {"{\"a\":{\"b\":1},\"a\":{\"b\":2}}", 0, "a.b", "1", 0, NULL},
        {" \r\n\t{\"a\":1}\n ", 0, "a", "1", 0, NULL},
        {"{\"a\":\"x\"}", 0, "a", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
         1, "..."},
    };
    run_json_table(cases, sizeof cases / sizeof cases[0]);
}

static void json_check_rejects_bad_documents(void **state)
{
    (void)state;
    static const jcase cases[] = {
        {"", 0, "a", "1", -EINVAL, "body is not JSON: value expected at byte 0"},
        {"   ", 0, "a", "1", -EINVAL, "value expected"},
        {"{", 0, "a", "1", -EINVAL, "member name expected"},
        {"{\"a\":1,}", 0, "a", "1", -EINVAL, "member name expected at byte 7"},
        {"{\"a\" 1}", 0, "a", "1", -EINVAL, "':' expected"},
        {"{\"a\":1 \"b\":2}", 0, "a", "1", -EINVAL, "',' or '}' expected"},
        {"[1 2]", 0, "0", "1", -EINVAL, "',' or ']' expected"},
        {"[1,]", 0, "0", "1", -EINVAL, "value expected"},
        {"{\"a\":01}", 0, "a", "1", -EINVAL, NULL},
        {"{\"a\":1.}", 0, "a", "1", -EINVAL, "digit expected"},
        {"{\"a\":1e}", 0, "a", "1", -EINVAL, "digit expected"},
        {"{\"a\":-}", 0, "a", "1", -EINVAL, "digit expected"},
        {"{\"a\":.5}", 0, "a", "1", -EINVAL, "value expected"},
        {"{\"a\":+1}", 0, "a", "1", -EINVAL, "value expected"},
        {"{\"a\":tru}", 0, "a", "1", -EINVAL, "value expected"},
        {"{\"a\":nulll}", 0, "a", "1", -EINVAL, NULL},
        {"{\"a\":NaN}", 0, "a", "1", -EINVAL, NULL},
        {"{\"a\":1} x", 0, "a", "1", -EINVAL, "garbage after the document"},
        {"{\"a\":1}{}", 0, "a", "1", -EINVAL, "garbage"},
        {"\"\\x\"", 0, "a", "1", -EINVAL, "invalid escape"},
        {"\"\\u12\"", 0, "a", "1", -EINVAL, "invalid \\u escape"},
        {"\"\\u12G4\"", 0, "a", "1", -EINVAL, "invalid \\u escape"},
        {"\"\\ud800\"", 0, "a", "1", -EINVAL, "lone high surrogate"},
        {"\"\\ud800\\u0041\"", 0, "a", "1", -EINVAL, "lone high surrogate"},
        {"\"\\udc00\"", 0, "a", "1", -EINVAL, "lone low surrogate"},
        {"\"a\x01\"", 0, "a", "1", -EINVAL, "control character"},
        {"\"\xff\"", 0, "a", "1", -EINVAL, "invalid UTF-8"},
        {"\"\xc0\xaf\"", 0, "a", "1", -EINVAL, "invalid UTF-8"},   /* overlong */
        {"\"\xed\xa0\x80\"", 0, "a", "1", -EINVAL, "invalid UTF-8"}, /* a surrogate */
        {"\"\xf4\x90\x80\x80\"", 0, "a", "1", -EINVAL, "invalid UTF-8"}, /* > U+10FFFF */
        {"\"\xe2\x82\"", 0, "a", "1", -EINVAL, "invalid UTF-8"},          /* cut short */
        {"\"abc", 0, "a", "1", -EINVAL, "unterminated string"},
        {"\"abc\\", 0, "a", "1", -EINVAL, "unterminated string"},
        {"{\"a\":1}\0", 8, "a", "1", -EINVAL, "garbage"},
        {"\0{\"a\":1}", 8, "a", "1", -EINVAL, NULL},
        /* Not the path's value, but still checked: the whole document must be JSON. */
        {"{\"a\":1,\"b\":[1,2,}", 0, "a", "1", -EINVAL, NULL},
    };
    run_json_table(cases, sizeof cases / sizeof cases[0]);
}

static void json_check_is_bounded(void **state)
{
    (void)state;
    char msg[256];
    /* Nesting deeper than the scanner follows: an error, not a stack overflow. */
    size_t n = 100000;
    char *deep = mem_alloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(http_json_check(deep, 2 * n, "0", "1", msg, sizeof msg), -EINVAL);
    assert_non_null(strstr(msg, "nested too deeply"));
    mem_free(deep);
    /* 10 MiB of small values: one pass, no tree (the allocation count stays flat). */
    size_t big = HTTP_BODY_MAX;
    char *doc = mem_alloc(big + 1);
    size_t k = 0;
    doc[k++] = '[';
    while (k + 4 < big) {
        memcpy(doc + k, "0,", 2);
        k += 2;
    }
    memcpy(doc + k, "7]", 2);
    k += 2;
    unsigned long before = mem_allocations();
    assert_int_equal(http_json_check(doc, k, "0", "0", msg, sizeof msg), 0);
    char idx[32];
    snprintf(idx, sizeof idx, "%zu", (k - 3) / 2);
    assert_int_equal(http_json_check(doc, k, idx, "7", msg, sizeof msg), 0);
    assert_true(mem_allocations() - before < 10);
    mem_free(doc);
}

static void json_check_out_of_memory(void **state)
{
    (void)state;
    char msg[128];
    const char *doc = "{\"a\":{\"b\":\"a long string value to copy\"}}";
    int saw_enomem = 0;
    for (long n = 0; n < 20; n++) {
        mem_fail_after(n);
        int rc = http_json_check(doc, strlen(doc), "a.b", "a long string value to copy", msg,
                                 sizeof msg);
        mem_fail_after(-1);
        if (rc == -ENOMEM)
            saw_enomem = 1;
        else
            assert_int_equal(rc, 0);
    }
    assert_true(saw_enomem);
}

/* ---- phases ------------------------------------------------------------------------------ */

static void expect_phases(const double *got, int64_t r, int64_t c, int64_t t, int64_t p,
                          int64_t x, int64_t total)
{
    int64_t want[HTTP_NPHASES] = {r, c, t, p, x}, sum = 0;
    for (int i = 0; i < HTTP_NPHASES; i++) {
        int64_t us = (int64_t)(got[i] * 1e6 + 0.5);
        sum += us;
        if (us != want[i])
            fail_msg("phase %s: %lld us, want %lld", http_phase_names[i], (long long)us,
                     (long long)want[i]);
    }
    if (sum != total)
        fail_msg("phases add up to %lld us, not the total %lld", (long long)sum,
                 (long long)total);
}

static void phases_single_requests(void **state)
{
    (void)state;
    double ph[HTTP_NPHASES];
    /* http: resolve 10, connect 20, processing 70, transfer 50. */
    http_phase_acc a = {0};
    http_times t = {10, 30, 0, 100};
    http_phase_status_line(&a, &t);
    http_phase_finish(&a, &t, 150, 0, 0, ph);
    expect_phases(ph, 10, 20, 0, 70, 50, 150);
    assert_int_equal(a.first_namelookup, 10);
    assert_false(http_phase_partial(&a, &t));
    /* https: the handshake between connect and appconnect. */
    a = (http_phase_acc){0};
    t = (http_times){10, 30, 80, 100};
    http_phase_status_line(&a, &t);
    http_phase_finish(&a, &t, 150, 0, 1, ph);
    expect_phases(ph, 10, 20, 50, 20, 50, 150);
    /* A second status line of the same request (after 100 Continue) moves nothing. */
    http_phase_status_line(&a, &t);
    assert_int_equal(a.hops, 1);
    http_phase_finish(&a, &t, 150, 0, 1, ph);
    expect_phases(ph, 10, 20, 50, 20, 50, 150);
}

static void phases_over_redirects(void **state)
{
    (void)state;
    double ph[HTTP_NPHASES];
    /* http (resolve 10, connect 20, processing 70, 20 of body: 120 in all), then https
     * (resolve 5, connect 10, TLS 45, processing 30, transfer 20: 110). curl adds each
     * request's timers: namelookup 15, connect 45, appconnect 60, starttransfer 190. The naive
     * appconnect - connect would give TLS 15; it was 45. */
    http_phase_acc a = {0};
    http_times t1 = {10, 30, 0, 100}, t2 = {15, 45, 60, 190};
    http_phase_status_line(&a, &t1);
    http_phase_status_line(&a, &t2);
    http_phase_finish(&a, &t2, 230, 120, 1, ph);
    expect_phases(ph, 15, 30, 45, 100, 40, 230);
    assert_int_equal(a.first_namelookup, 10);
    /* https (TLS 50), then http: the TLS of the first request stays counted. */
    a = (http_phase_acc){0};
    t1 = (http_times){10, 30, 80, 100};
    t2 = (http_times){15, 45, 80, 160};
    http_phase_status_line(&a, &t1);
    http_phase_status_line(&a, &t2);
    http_phase_finish(&a, &t2, 200, 110, 0, ph);
    /* second request: resolve 5, connect 10, processing 45, transfer 200-110-60 = 30 */
    expect_phases(ph, 15, 30, 50, 65, 40, 200);
}

static void phases_of_failures(void **state)
{
    (void)state;
    double ph[HTTP_NPHASES];
    http_phase_acc a = {0};
    /* The name did not resolve: all of it is resolve. */
    http_times t = {0, 0, 0, 0};
    assert_true(http_phase_partial(&a, &t));
    http_phase_finish(&a, &t, 300, 0, 0, ph);
    expect_phases(ph, 300, 0, 0, 0, 0, 300);
    /* Refused or timed out while connecting. */
    t = (http_times){10, 0, 0, 0};
    http_phase_finish(&a, &t, 500, 0, 0, ph);
    expect_phases(ph, 10, 490, 0, 0, 0, 500);
    /* An https handshake that never finished. */
    t = (http_times){10, 30, 0, 0};
    http_phase_finish(&a, &t, 1000, 0, 1, ph);
    expect_phases(ph, 10, 20, 970, 0, 0, 1000);
    /* Connected over http, no answer: processing. */
    http_phase_finish(&a, &t, 1000, 0, 0, ph);
    expect_phases(ph, 10, 20, 0, 970, 0, 1000);
    /* Handshake done, no answer. */
    t = (http_times){10, 30, 80, 0};
    http_phase_finish(&a, &t, 1000, 0, 1, ph);
    expect_phases(ph, 10, 20, 50, 920, 0, 1000);
    /* A first byte but no status line (garbage): processing, then transfer. */
    t = (http_times){10, 30, 0, 100};
    http_phase_finish(&a, &t, 1000, 0, 0, ph);
    expect_phases(ph, 10, 20, 0, 70, 900, 1000);
    /* Headers came, the body never finished: transfer. */
    a = (http_phase_acc){0};
    http_phase_status_line(&a, &t);
    http_phase_finish(&a, &t, 2000, 0, 0, ph);
    expect_phases(ph, 10, 20, 0, 70, 1900, 2000);
    /* Redirected (the first request took 120), the second could not connect. */
    http_times f = {15, 30, 0, 100};
    assert_true(http_phase_partial(&a, &f));
    http_phase_finish(&a, &f, 300, 120, 0, ph);
    expect_phases(ph, 15, 195, 0, 70, 20, 300);
    /* Timers never run backwards, but the arithmetic must not go negative if they did. */
    http_times odd = {50, 20, 10, 5};
    a = (http_phase_acc){0};
    http_phase_status_line(&a, &odd);
    http_phase_finish(&a, &odd, 3, 0, 1, ph);
    for (int i = 0; i < HTTP_NPHASES; i++)
        assert_true(ph[i] >= 0);
}

/* ---- TLS reasons ------------------------------------------------------------------------- */

static void tls_reasons(void **state)
{
    (void)state;
    char out[192] = "untouched";
    assert_int_equal(http_tls_reason(0, 0, "h", out, sizeof out), 0);
    assert_string_equal(out, "untouched");
    static const struct {
        unsigned status;
        int self;
        const char *want;
    } cases[] = {
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_EXPIRED, 0, "certificate has expired"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_EXPIRED | GNUTLS_CERT_SIGNER_NOT_FOUND, 1,
         "certificate has expired"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_NOT_ACTIVATED, 0, "certificate is not yet valid"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND, 1, "self-signed certificate"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND, 0, "certificate issuer is unknown"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_UNEXPECTED_OWNER, 0,
         "certificate is not valid for example.org"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_REVOKED, 0, "certificate has been revoked"},
        {GNUTLS_CERT_INVALID | GNUTLS_CERT_PURPOSE_MISMATCH, 0,
         "certificate is not for TLS servers"},
        {GNUTLS_CERT_INVALID, 0, "certificate is not trusted (status 0x2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(http_tls_reason(cases[i].status, cases[i].self, "example.org", out,
                                         sizeof out),
                         1);
        assert_string_equal(out, cases[i].want);
    }
}

/* ---- settings ---------------------------------------------------------------------------- */

/* Makes a definition of target with settings (JSON text). Returns probe_def_from_json's rc. */
static int make_def(const char *target, const char *settings, int64_t timeout_ms, probe_def **d,
                    char *err, size_t errcap)
{
    json_error_t je;
    json_t *st = json_loads(settings, 0, &je);
    assert_non_null(st);
    json_t *o = json_pack("{sI ss ss ss ss sI sI so}", "probe", (json_int_t)7, "type", "http",
                          "name", "t", "target", target, "address", "127.0.0.1", "timeout_ms",
                          (json_int_t)timeout_ms, "interval_ms", (json_int_t)60000, "settings",
                          st);
    assert_non_null(o);
    int rc = probe_def_from_json(o, d, err, errcap);
    json_decref(o);
    return rc;
}

static void settings_refused(void **state)
{
    (void)state;
    static const struct {
        const char *target, *settings, *why;
    } cases[] = {
        {"ftp://127.0.0.1/", "{}", "not an http:// or https:// URL"},
        {"127.0.0.1", "{}", "not an http:// or https:// URL"},
        {"http://", "{}", "not an http:// or https:// URL"},
        {"http://h/", "{\"method\":\"DELETE\"}", "\"method\""},
        {"http://h/", "{\"method\":7}", "\"method\" must be"},
        {"http://h/", "{\"body\":7}", "are strings"},
        {"http://h/", "{\"expect_status\":99}", "\"expect_status\""},
        {"http://h/", "{\"expect_status\":\"200\"}", "\"expect_status\""},
        {"http://h/", "{\"expect_status_codes\":[\"2x0\"]}", "\"expect_status_codes\""},
        {"http://h/", "{\"expect_status_codes\":\"200\"}", "list of strings"},
        {"http://h/", "{\"expect_status_codes\":[200]}", "list of strings"},
        {"http://h/", "{\"headers\":[\"bad header\"]}", "\"headers\""},
        {"http://h/", "{\"headers\":[\"X: a\\r\\nY: b\"]}", "control character"},
        {"http://h/", "{\"body_regex\":\"(\"}", "invalid regular expression at position 1"},
        {"http://h/", "{\"json_field\":\"nope\"}", "path=value"},
        {"http://h/", "{\"auth_password\":\"x\"}", "needs \"auth_user\""},
        {"http://h/", "{\"auth_user\":\"u\",\"bearer_token\":\"t\"}", "exclude each other"},
        {"http://h/", "{\"ip_protocol\":\"ipv5\"}", "\"ip_protocol\""},
        {"http://h/", "{\"tls_verify\":\"yes\"}", "\"tls_verify\" must be true or false"},
        {"http://h/", "{\"follow_redirects\":1}", "\"follow_redirects\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        probe_def *d = NULL;
        char err[512] = "";
        int rc = make_def(cases[i].target, cases[i].settings, 1000, &d, err, sizeof err);
        if (rc != -EINVAL || d || !strstr(err, cases[i].why))
            fail_msg("%s %s: rc %d \"%s\", want \"%s\"", cases[i].target, cases[i].settings, rc,
                     err, cases[i].why);
    }
    /* Everything at once, and the server's nulls and empty lists for absent settings. */
    static const char *const good[] = {
        "{\"method\":\"POST\",\"body\":\"x=1\",\"headers\":[\"X-A: b\",\"X-E:\"],"
        "\"auth_user\":\"u\",\"auth_password\":\"p\",\"expect_status\":201,"
        "\"expect_status_codes\":[\"204\",\"3xx\"],\"body_regex\":\"^ok\","
        "\"json_field\":\"a.0=b\",\"follow_redirects\":false,\"tls_verify\":false,"
        "\"ip_protocol\":\"ipv6\",\"url\":\"http://h/\",\"unknown\":1}",
        "{\"method\":\"GET\",\"body\":null,\"headers\":[],\"auth_user\":null,"
        "\"auth_password\":null,\"bearer_token\":\"\",\"expect_status\":200,"
        "\"expect_status_codes\":[],\"body_regex\":null,\"json_field\":null,"
        "\"follow_redirects\":true,\"tls_verify\":true,\"ip_protocol\":\"auto\"}",
        "{\"method\":\"HEAD\",\"body\":\"ignored\",\"bearer_token\":\"t\"}",
        "{}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        probe_def *d = NULL;
        char err[512] = "";
        if (make_def("https://h:8443/p?q=1", good[i], 1000, &d, err, sizeof err))
            fail_msg("%s: %s", good[i], err);
        probe_def_unref(d);
    }
}

static void settings_out_of_memory(void **state)
{
    (void)state;
    const char *st = "{\"method\":\"POST\",\"body\":\"x=1\",\"headers\":[\"X-A: b\"],"
                     "\"auth_user\":\"u\",\"body_regex\":\"^ok\",\"json_field\":\"a.0=b\"}";
    int saw_enomem = 0;
    for (long n = 0; n < 200; n++) {
        probe_def *d = NULL;
        char err[256];
        mem_fail_after(n);
        int rc = make_def("http://h/", st, 1000, &d, err, sizeof err);
        mem_fail_after(-1);
        if (rc == -ENOMEM)
            saw_enomem = 1;
        else
            assert_int_equal(rc, 0);
        probe_def_unref(d);
    }
    assert_true(saw_enomem);
}

/* ---- runs against an in-process server --------------------------------------------------- */

/* A tiny HTTP/1.1 server on the test's loop: /ok answers at once, /json a document, /hang
 * never answers (the probe's timeout must end those runs), anything else 404. */
typedef struct conn {
    uv_tcp_t tcp;
    char req[2048];
    size_t len;
    int answered;
    struct conn *next;
} conn;

typedef struct server {
    uv_tcp_t listener;
    int port;
    conn *conns;
    int accepted;
} server;

static server srv;

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data, **pp = &srv.conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    free(c);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    conn *c = w->data;
    free(w);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    conn *c = h->data;
    size_t room = sizeof c->req - c->len - 1;
    static char sink[4096];
    *b = room ? uv_buf_init(c->req + c->len, (unsigned)room) : uv_buf_init(sink, sizeof sink);
}

static void answer(conn *c)
{
    static char resp[512];
    const char *body = "not found", *code = "404 Not Found";
    if (!strncmp(c->req, "GET /ok ", 8))
        body = "ok", code = "200 OK";
    else if (!strncmp(c->req, "GET /json ", 10))
        body = "{\"status\":\"ok\",\"data\":[{\"state\":\"up\"}]}", code = "200 OK";
    else if (!strncmp(c->req, "GET /hang ", 10))
        return;
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %s\r\nContent-Length: %zu\r\nLast-Modified: Wed, 21 Oct 2015 "
                     "07:28:00 GMT\r\nConnection: close\r\n\r\n%s",
                     code, strlen(body), body);
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init(resp, (unsigned)n);
    w->data = c;
    c->answered = 1;
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    conn *c = s->data;
    if (n < 0) {
        if (!c->answered)
            uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    if (c->answered)
        return;
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (strstr(c->req, "\r\n\r\n"))
        answer(c);
}

static void on_accept(uv_stream_t *l, int status)
{
    if (status)
        return;
    conn *c = calloc(1, sizeof *c);
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    c->next = srv.conns;
    srv.conns = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0) {
        srv.accepted++;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    }
}

static void server_start(uv_loop_t *loop)
{
    struct sockaddr_in sa;
    struct sockaddr_storage got;
    int len = sizeof got;
    memset(&srv, 0, sizeof srv);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_init(loop, &srv.listener), 0);
    assert_int_equal(uv_tcp_bind(&srv.listener, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv.listener, 512, on_accept), 0);
    uv_tcp_getsockname(&srv.listener, (struct sockaddr *)&got, &len);
    srv.port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void server_stop(void)
{
    for (conn *c = srv.conns; c; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&srv.listener, NULL);
}

typedef struct outcome {
    int done, success, timed_out;
    char message[128];
    double status, redirects, body_len, last_modified, phases_sum, failed_regex;
    int nphases;
} outcome;

static void on_result(void *ctx, const probe_result *res)
{
    outcome *o = ctx;
    o->done = 1;
    o->success = res->success;
    o->timed_out = res->timed_out;
    snprintf(o->message, sizeof o->message, "%s", res->message);
    for (size_t i = 0; i < res->nsamples; i++) {
        const probe_sample *s = &res->samples[i];
        if (!strcmp(s->metric, "probe_http_status_code"))
            o->status = s->v;
        else if (!strcmp(s->metric, "probe_http_uncompressed_body_length"))
            o->body_len = s->v;
        else if (!strcmp(s->metric, "probe_http_last_modified_timestamp_seconds"))
            o->last_modified = s->v;
        else if (!strcmp(s->metric, "probe_failed_due_to_regex"))
            o->failed_regex = s->v;
        else if (!strcmp(s->metric, "probe_http_duration_seconds"))
            o->phases_sum += s->v, o->nphases++;
    }
}

#define NRUNS 60

static void runs_on_the_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    probe_sched *s = NULL;
    probe_def *defs[4] = {0};
    outcome out[NRUNS];
    char url[128], err[256];
    memset(out, 0, sizeof out);
    assert_int_equal(uv_loop_init(&loop), 0);
    server_start(&loop);
    static const char *const paths[] = {"/ok", "/json", "/hang", "/nope"};
    static const char *const settings[] = {"{}", "{\"json_field\":\"data.0.state=down\"}", "{}",
                                           "{\"expect_status_codes\":[\"4xx\"]}"};
    for (int i = 0; i < 4; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, paths[i]);
        assert_int_equal(make_def(url, settings[i], i == 2 ? 300 : 5000, &defs[i], err,
                                  sizeof err),
                         0);
    }
    probe_sched_opts so = {.probe = {.vantage = "test"}};
    assert_int_equal(probe_sched_new(&s, &loop, &so), 0);
    /* Many at once, of every kind, all in flight together. */
    for (int i = 0; i < NRUNS; i++)
        assert_int_equal(probe_sched_run_once(s, defs[i % 4], on_result, &out[i]), 0);
    int pending = NRUNS;
    while (pending && uv_run(&loop, UV_RUN_ONCE)) {
        pending = 0;
        for (int i = 0; i < NRUNS; i++)
            pending += !out[i].done;
    }
    assert_int_equal(pending, 0);
    for (int i = 0; i < NRUNS; i++) {
        outcome *o = &out[i];
        /* Every run that ended by itself reports its phases. */
        assert_int_equal(o->nphases, i % 4 == 2 ? 0 : HTTP_NPHASES);
        switch (i % 4) {
        case 0:
            if (!o->success || o->status != 200 || o->body_len != 2 ||
                o->last_modified != 1445412480)
                fail_msg("run %d /ok: success %d status %g len %g lm %g (%s)", i, o->success,
                         o->status, o->body_len, o->last_modified, o->message);
            break;
        case 1:
            assert_false(o->success);
            assert_int_equal(o->failed_regex, 1);
            assert_string_equal(o->message,
                                "json_field data.0.state is \"up\", expected \"down\"");
            break;
        case 2:
            /* Cancelled at its timeout: the scheduler's verdict, the probe's I/O stopped. */
            assert_false(o->success);
            assert_true(o->timed_out);
            assert_non_null(strstr(o->message, "timeout"));
            break;
        case 3:
            if (!o->success || o->status != 404)
                fail_msg("run %d /nope with 4xx accepted: %d %g (%s)", i, o->success, o->status,
                         o->message);
            break;
        }
    }
    assert_true(srv.accepted >= NRUNS);
    /* A run in flight when the scheduler closes is cancelled too. */
    outcome late = {0};
    assert_int_equal(probe_sched_run_once(s, defs[2], on_result, &late), 0);
    for (int i = 0; i < 20 && srv.accepted < NRUNS + 1; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    probe_sched_close(s);
    for (int i = 0; i < 4; i++)
        probe_def_unref(defs[i]);
    server_stop();
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_specs),
        cmocka_unit_test(header_settings),
        cmocka_unit_test(header_values),
        cmocka_unit_test(json_field_specs),
        cmocka_unit_test(json_check_values),
        cmocka_unit_test(json_check_rejects_bad_documents),
        cmocka_unit_test(json_check_is_bounded),
        cmocka_unit_test(json_check_out_of_memory),
        cmocka_unit_test(phases_single_requests),
        cmocka_unit_test(phases_over_redirects),
        cmocka_unit_test(phases_of_failures),
        cmocka_unit_test(tls_reasons),
        cmocka_unit_test(settings_refused),
        cmocka_unit_test(settings_out_of_memory),
        cmocka_unit_test(runs_on_the_loop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
