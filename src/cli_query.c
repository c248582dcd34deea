/* cli_query: `dashdot query 'expr' [--time T | --start S --end E [--step D]] [--url URL]
 * [--token-file F]` sends the query to a running server's Prometheus API over HTTP (libcurl)
 * and prints the result readably: one line per series with its labels and value @ time. */
#include "cli_query.h"

#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/jsonw.h"
#include "lib/timeutil.h"

#include <curl/curl.h>
#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESPONSE (256u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: dashdot query EXPR [options]\n"
               "\n"
               "  --time T            evaluation time of an instant query (default now)\n"
               "  --start S --end E   a range query from S to E ...\n"
               "  --step D            ... every D (default: (E - S) / 250, at least 1s)\n"
               "  --url URL           server (default http://127.0.0.1:8080)\n"
               "  --token-file F      bearer token (default ./data/admin.token if readable)\n"
               "\n"
               "Times are Unix seconds, RFC 3339, \"now\" or \"now-1h\". Prints one line per\n"
               "series: labels, value @ time. Exit status 1 with the server's message on error.\n");
}

/* Resolves "now", "now-1h" and "-1h" locally; other forms go to the server as given. */
static int resolve_time(const char *in, char *out, size_t cap)
{
    int64_t now = timeutil_now_ms(), ms = 0;
    const char *rel = NULL;
    if (strcmp(in, "now") == 0)
        rel = "";
    else if (strncmp(in, "now-", 4) == 0)
        rel = in + 4;
    else if (in[0] == '-')
        rel = in + 1;
    if (!rel) {
        int64_t t;
        if (timeutil_parse_time(in, &t))
            return -EINVAL;
        snprintf(out, cap, "%s", in);
        return 0;
    }
    if (*rel && timeutil_parse_duration(rel, &ms))
        return -EINVAL;
    snprintf(out, cap, "%.3f", (double)(now - ms) / 1000.0);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    buf *b = ctx;
    return buf_append(b, p, size * n) ? 0 : size * n;
}

static void print_labels(json_t *metric)
{
    json_t *name = json_object_get(metric, "__name__");
    if (json_is_string(name))
        fputs(json_string_value(name), stdout);
    putchar('{');
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(metric, k, v)
    {
        if (strcmp(k, "__name__") == 0)
            continue;
        printf("%s%s=\"%s\"", first ? "" : ", ", k, json_string_value(v));
        first = 0;
    }
    putchar('}');
}

static void print_point(json_t *p)
{
    json_t *t = json_array_get(p, 0), *v = json_array_get(p, 1);
    printf("%s @ %.3f", json_string_value(v) ? json_string_value(v) : "?", json_number_value(t));
}

static void print_result(json_t *data)
{
    const char *type = json_string_value(json_object_get(data, "resultType"));
    json_t *res = json_object_get(data, "result");
    if (!type)
        return;
    if (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0) {
        print_point(res);
        putchar('\n');
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(res, i, s)
    {
        print_labels(json_object_get(s, "metric"));
        json_t *value = json_object_get(s, "value");
        if (value) {
            fputs("  ", stdout);
            print_point(value);
        } else {
            size_t k;
            json_t *p;
            json_array_foreach(json_object_get(s, "values"), k, p)
            {
                fputs(k ? ", " : "  ", stdout);
                print_point(p);
            }
        }
        putchar('\n');
    }
    if (json_array_size(res) == 0)
        printf("(no data)\n");
}

int cli_query_main(int argc, char **argv)
{
    const char *expr = NULL, *time_s = NULL, *start_s = NULL, *end_s = NULL, *step_s = NULL;
    const char *url = "http://127.0.0.1:8080", *token_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--time") == 0)
            dst = &time_s;
        else if (strcmp(a, "--start") == 0)
            dst = &start_s;
        else if (strcmp(a, "--end") == 0)
            dst = &end_s;
        else if (strcmp(a, "--step") == 0)
            dst = &step_s;
        else if (strcmp(a, "--url") == 0)
            dst = &url;
        else if (strcmp(a, "--token-file") == 0)
            dst = &token_file;
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "dashdot query: %s needs a value\n", a);
                return 2;
            }
            *dst = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "dashdot query: unknown option %s\n\n", a);
            usage(stderr);
            return 2;
        }
        if (expr) {
            fprintf(stderr, "dashdot query: one expression only (quote it)\n");
            return 2;
        }
        expr = a;
    }
    if (!expr) {
        usage(stderr);
        return 2;
    }
    int range = start_s || end_s || step_s;
    if (range && (!start_s || !end_s || time_s)) {
        fprintf(stderr, "dashdot query: a range query needs --start and --end (and no --time)\n");
        return 2;
    }
    char t1[64] = "", t2[64] = "", st[64] = "";
    if (time_s && resolve_time(time_s, t1, sizeof t1)) {
        fprintf(stderr, "dashdot query: invalid --time \"%s\"\n", time_s);
        return 2;
    }
    if (range) {
        if (resolve_time(start_s, t1, sizeof t1) || resolve_time(end_s, t2, sizeof t2)) {
            fprintf(stderr, "dashdot query: invalid --start or --end\n");
            return 2;
        }
        if (step_s) {
            int64_t ms;
            if (timeutil_parse_step(step_s, &ms) || ms <= 0) {
                fprintf(stderr, "dashdot query: invalid --step \"%s\"\n", step_s);
                return 2;
            }
            snprintf(st, sizeof st, "%s", step_s);
        } else {
            int64_t a, b;
            if (timeutil_parse_time(t1, &a) || timeutil_parse_time(t2, &b)) {
                fprintf(stderr, "dashdot query: give --step with these times\n");
                return 2;
            }
            int64_t ms = (b - a) / 250;
            snprintf(st, sizeof st, "%.3f", (double)(ms < 1000 ? 1000 : ms) / 1000.0);
        }
    }
    /* The token: --token-file, or ./data/admin.token when readable (reads are open anyway). */
    char token[512] = "";
    {
        buf tb;
        buf_init(&tb, 4096);
        const char *tf = token_file ? token_file : "data/admin.token";
        int rc = fsutil_read_file(tf, &tb, 4096);
        if (rc && token_file) {
            fprintf(stderr, "dashdot query: cannot read %s: %s\n", tf, strerror(-rc));
            buf_free(&tb);
            return 1;
        }
        if (!rc && tb.len) {
            size_t n = tb.len;
            while (n && (tb.data[n - 1] == '\n' || tb.data[n - 1] == '\r' || tb.data[n - 1] == ' '))
                n--;
            if (n < sizeof token) {
                memcpy(token, tb.data, n);
                token[n] = '\0';
            }
        }
        buf_free(&tb);
    }
    int status = 1;
    CURL *c = NULL;
    struct curl_slist *hdr = NULL;
    buf body, form;
    buf_init(&body, MAX_RESPONSE);
    buf_init(&form, 1 << 20);
    json_t *root = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(c = curl_easy_init())) {
        fprintf(stderr, "dashdot query: cannot initialise libcurl\n");
        goto out;
    }
    char *eq = curl_easy_escape(c, expr, 0);
    if (!eq) {
        fprintf(stderr, "dashdot query: out of memory\n");
        goto out;
    }
    buf_printf(&form, "query=%s", eq);
    curl_free(eq);
    if (range)
        buf_printf(&form, "&start=%s&end=%s&step=%s", t1, t2, st);
    else if (t1[0])
        buf_printf(&form, "&time=%s", t1);
    buf_putc(&form, '\0');
    char full[2048];
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/')
        ul--;
    snprintf(full, sizeof full, "%.*s/api/v1/%s", (int)ul, url, range ? "query_range" : "query");
    if (token[0]) {
        char h[600];
        snprintf(h, sizeof h, "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, h);
    }
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.data);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dashdot-query/" DD_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 180000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "dashdot query: %s: %s\n", full, curl_easy_strerror(cc));
        goto out;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    json_error_t jerr;
    root = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
    if (!root) {
        fprintf(stderr, "dashdot query: HTTP %ld with a body that is not JSON\n", code);
        goto out;
    }
    const char *st_s = json_string_value(json_object_get(root, "status"));
    if (!st_s || strcmp(st_s, "success") != 0) {
        const char *et = json_string_value(json_object_get(root, "errorType"));
        const char *em = json_string_value(json_object_get(root, "error"));
        fprintf(stderr, "dashdot query: %s: %s\n", et ? et : "error", em ? em : "(no message)");
        goto out;
    }
    print_result(json_object_get(root, "data"));
    const char *kinds[] = {"warnings", "infos"};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(root, kinds[k]), i, v)
            fprintf(stderr, "%s\n", json_string_value(v));
    }
    status = 0;
out:
    json_decref(root);
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    curl_global_cleanup();
    buf_free(&body);
    buf_free(&form);
    return status;
}
