/* fuzz_http: libFuzzer target for the http probe's parsers of outside input (http_int.h): the
 * json_field scanner over response bodies (checked against jansson: a document jansson accepts
 * must be JSON to the scanner too), response header values, request header settings, status
 * codes and classes, and the phase arithmetic (never negative).
 * Meant for tests/fuzz/fuzz_http.c with 'http' in tests/fuzz/meson.build's fuzz_targets.
 * Input: the first byte picks the part, the rest is its input; for json_field the first line
 * is the setting (path=value) and the remainder the body. */
#include "agent/probes/http_int.h"
#include "lib/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_json(const char *d, size_t n)
{
    const char *nl = memchr(d, '\n', n);
    char *spec = mem_strndup(d, nl ? (size_t)(nl - d) : 0), *path = NULL, *want = NULL, err[160];
    const char *body = nl ? nl + 1 : d;
    size_t blen = nl ? n - (size_t)(nl + 1 - d) : n;
    char msg[512];
    if (!spec)
        return;
    if (http_json_field_parse(spec, &path, &want, err, sizeof err)) {
        path = mem_strdup("a.0.b");
        want = mem_strdup("x");
    }
    if (path && want) {
        int rc = http_json_check(body, blen, path, want, msg, sizeof msg);
        if (rc != 0 && rc != 1 && rc != -EINVAL && rc != -ENOMEM)
            abort();
        if (rc && (!msg[0] || strchr(msg, '\n') || strlen(msg) >= sizeof msg))
            abort();
        json_error_t je;
        json_t *root = json_loadb(body, blen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        /* jansson takes deeper nesting (2048) than the scanner follows (512), and ends a
         * document at a NUL byte, which RFC 8259 does not allow outside strings. */
        if (root && rc == -EINVAL && !strstr(msg, "nested too deeply") && !memchr(body, 0, blen))
            abort();
        json_decref(root);
    }
    mem_free(spec);
    mem_free(path);
    mem_free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    char *s = mem_strndup(d, n); /* NUL-terminated copy (stops at an embedded NUL) */
    char out[HTTP_HEADER_MAX + 8], err[256];
    if (!s)
        return 0;
    switch (data[0] % 5) {
    case 0: fuzz_json(d, n); break;
    case 1:
        if (http_header_setting(s, out, sizeof out, err, sizeof err) == 0) {
            if (strpbrk(out, "\r\n") || !out[0] || (!strchr(out, ':') && !strchr(out, ';')))
                abort();
        } else if (out[0] || !err[0]) {
            abort();
        }
        break;
    case 2: {
        http_status_set set = {{0}};
        if (http_status_set_add(&set, s, err, sizeof err) == 0 && !strchr("12345", s[0]))
            abort();
        break;
    }
    case 3: {
        char v[128];
        if (http_header_value(d, n, "last-modified", v, sizeof v) && strlen(v) >= sizeof v)
            abort();
        break;
    }
    case 4: {
        int64_t x[12] = {0};
        memcpy(x, d, n < sizeof x ? n : sizeof x);
        http_phase_acc a = {0};
        http_times t1 = {x[0], x[1], x[2], x[3]}, t2 = {x[4], x[5], x[6], x[7]};
        http_times f = {x[8], x[9], x[10], x[11]};
        double ph[HTTP_NPHASES];
        for (int i = 0; i < 4; i++) /* small values: the arithmetic, not int64 overflow */
            ((int64_t *)&t1)[i] &= 0xFFFFFFFF, ((int64_t *)&t2)[i] &= 0xFFFFFFFF,
                ((int64_t *)&f)[i] &= 0xFFFFFFFF;
        http_phase_status_line(&a, &t1);
        http_phase_status_line(&a, &t2);
        http_phase_finish(&a, &f, x[0] & 0xFFFFFFFF, x[1] & 0xFFFFFFFF, (int)(x[2] & 1), ph);
        for (int i = 0; i < HTTP_NPHASES; i++)
            if (!(ph[i] >= 0))
                abort();
        break;
    }
    }
    mem_free(s);
    return 0;
}
