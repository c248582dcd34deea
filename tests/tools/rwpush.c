/* rwpush: reads samples as text lines from stdin and pushes them to a Prometheus remote-write
 * receiver (dashdot, Prometheus with --web.enable-remote-write-receiver, ...), encoded with the
 * same wire module the server decodes with.
 *
 *   rwpush URL [--token T | --token-file FILE] [--batch N] < samples.txt
 *
 * Each input line is `metric{label="value",...} VALUE TIMESTAMP_MS` (labels optional; VALUE a
 * float, NaN, +Inf, -Inf or `stale` for a staleness marker). Lines should be sorted by time:
 * consecutive lines are batched, up to N samples per request (default 10000), grouped by series
 * inside a batch. Empty lines and lines starting with # are skipped. Every request must be
 * answered 2xx, otherwise rwpush prints the answer and exits 1. Prints a summary on stderr. */
#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/sample.h"
#include "wire/rw.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pseries {
    char *key;     /* the label text as read, identity inside a batch */
    char *strings; /* parsed names and values, NUL-separated */
    label lv[LABELS_MAX];
    size_t nl;
    sample *samples;
    size_t n, cap;
} pseries;

typedef struct batch {
    pseries *s;
    size_t n, cap;
    size_t *slots; /* open-addressing table of index+1, 0 = empty */
    size_t nslots;
    size_t nsamples;
} batch;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void die(const char *msg)
{
    fprintf(stderr, "rwpush: %s\n", msg);
    exit(1);
}

/* Parses `name{a="b",...}` at the start of line into s (names/values copied). Returns the
 * position after the label part, or NULL. */
static const char *parse_labels(const char *line, pseries *s)
{
    size_t len = strlen(line);
    s->strings = malloc(len + 2);
    if (!s->strings)
        die("out of memory");
    char *out = s->strings;
    const char *p = line;
    s->nl = 0;
    const char *start = p;
    while (*p && *p != '{' && *p != ' ' && *p != '\t')
        p++;
    if (p > start) {
        memcpy(out, start, (size_t)(p - start));
        out[p - start] = '\0';
        s->lv[s->nl++] = (label){LABELS_NAME, out};
        out += p - start + 1;
    }
    if (*p == '{') {
        p++;
        for (;;) {
            while (*p == ' ' || *p == ',')
                p++;
            if (*p == '}') {
                p++;
                break;
            }
            if (!*p || s->nl >= LABELS_MAX)
                return NULL;
            const char *ns = p;
            while (*p && *p != '=' && *p != ' ')
                p++;
            if (*p != '=' || p == ns)
                return NULL;
            char *name = out;
            memcpy(out, ns, (size_t)(p - ns));
            out[p - ns] = '\0';
            out += p - ns + 1;
            p++;
            if (*p != '"')
                return NULL;
            p++;
            char *val = out;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) {
                    p++;
                    *out++ = *p == 'n' ? '\n' : *p;
                } else {
                    *out++ = *p;
                }
                p++;
            }
            if (*p != '"')
                return NULL;
            p++;
            *out++ = '\0';
            if (*val) /* an empty value means "no such label" */
                s->lv[s->nl++] = (label){name, val};
        }
    }
    labels ls = {s->lv, s->nl};
    labels_sort(&ls);
    return p;
}

static pseries *batch_series(batch *b, const char *line, size_t keylen)
{
    char *key = strndup(line, keylen);
    if (!key)
        die("out of memory");
    if (b->nslots == 0 || (b->n + 1) * 2 > b->nslots) {
        size_t ns = b->nslots ? b->nslots * 2 : 1024;
        size_t *slots = calloc(ns, sizeof *slots);
        if (!slots)
            die("out of memory");
        for (size_t i = 0; i < b->n; i++) {
            size_t h = hash_str(b->s[i].key) & (ns - 1);
            while (slots[h])
                h = (h + 1) & (ns - 1);
            slots[h] = i + 1;
        }
        free(b->slots);
        b->slots = slots;
        b->nslots = ns;
    }
    size_t h = hash_str(key) & (b->nslots - 1);
    while (b->slots[h]) {
        pseries *s = &b->s[b->slots[h] - 1];
        if (!strcmp(s->key, key)) {
            free(key);
            return s;
        }
        h = (h + 1) & (b->nslots - 1);
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->s = realloc(b->s, b->cap * sizeof *b->s);
        if (!b->s)
            die("out of memory");
    }
    pseries *s = &b->s[b->n];
    memset(s, 0, sizeof *s);
    s->key = key;
    if (!parse_labels(key, s)) {
        fprintf(stderr, "rwpush: bad labels: %s\n", key);
        exit(2);
    }
    b->slots[h] = ++b->n;
    return s;
}

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->s[i].key);
        free(b->s[i].strings);
        free(b->s[i].samples);
    }
    b->n = 0;
    b->nsamples = 0;
    if (b->slots)
        memset(b->slots, 0, b->nslots * sizeof *b->slots);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *resp = ud;
    buf_append(resp, ptr, size * nmemb);
    return size * nmemb;
}

static void post(CURL *c, const char *url, struct curl_slist *hdrs, batch *b, size_t *requests)
{
    if (b->n == 0)
        return;
    rw_series *rs = calloc(b->n, sizeof *rs);
    if (!rs)
        die("out of memory");
    for (size_t i = 0; i < b->n; i++) {
        rs[i].ls = (labels){b->s[i].lv, b->s[i].nl};
        rs[i].samples = b->s[i].samples;
        rs[i].nsamples = b->s[i].n;
    }
    buf body;
    buf_init(&body, 0);
    if (rw_encode(rs, b->n, &body))
        die("encoding failed");
    free(rs);
    buf resp;
    buf_init(&resp, 1 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        fprintf(stderr, "rwpush: POST %s: %s\n", url, curl_easy_strerror(rc));
        exit(1);
    }
    if (code < 200 || code > 299) {
        fprintf(stderr, "rwpush: POST %s: HTTP %ld: %.*s\n", url, code, (int)resp.len,
                resp.data ? resp.data : "");
        exit(1);
    }
    buf_free(&resp);
    buf_free(&body);
    (*requests)++;
    batch_clear(b);
}

/* Returns the next blank-separated field of *p (NUL-terminated in place) or NULL. */
static char *next_field(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    if (*e)
        *e++ = 0;
    *p = e;
    return s;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *token = NULL, *token_file = NULL;
    long batch_max = 10000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
            token_file = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch_max = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !url)
            url = argv[i];
        else
            goto usage;
    }
    if (!url || batch_max <= 0)
        goto usage;
    char tokbuf[512];
    if (token_file) {
        FILE *f = fopen(token_file, "r");
        if (!f || !fgets(tokbuf, sizeof tokbuf, f)) {
            fprintf(stderr, "rwpush: cannot read %s\n", token_file);
            return 2;
        }
        fclose(f);
        tokbuf[strcspn(tokbuf, "\r\n")] = '\0';
        token = tokbuf;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    if (!c)
        die("curl_easy_init failed");
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/x-protobuf");
    hdrs = curl_slist_append(hdrs, "Content-Encoding: snappy");
    hdrs = curl_slist_append(hdrs, "X-Prometheus-Remote-Write-Version: 0.1.0");
    hdrs = curl_slist_append(hdrs, "Expect:");
    char auth[600];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }

    batch b = {0};
    size_t total = 0, requests = 0, lineno = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    while ((len = getline(&line, &linecap, stdin)) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        /* The label part ends at the first blank outside quotes. */
        size_t k = 0;
        int inq = 0;
        for (; line[k]; k++) {
            if (inq && line[k] == '\\' && line[k + 1]) {
                k++;
                continue;
            }
            if (line[k] == '"')
                inq = !inq;
            else if (!inq && (line[k] == ' ' || line[k] == '\t'))
                break;
        }
        char *rest = line + k;
        char *vtok = next_field(&rest);
        char *ttok = next_field(&rest);
        if (!vtok || !ttok) {
            fprintf(stderr, "rwpush: line %zu: expected `series value timestamp_ms`\n", lineno);
            return 2;
        }
        double v;
        if (!strcmp(vtok, "stale"))
            v = sample_stale_value();
        else if (!strcasecmp(vtok, "nan"))
            v = NAN;
        else if (!strcasecmp(vtok, "+inf") || !strcasecmp(vtok, "inf"))
            v = INFINITY;
        else if (!strcasecmp(vtok, "-inf"))
            v = -INFINITY;
        else {
            char *end;
            v = strtod(vtok, &end);
            if (*end) {
                fprintf(stderr, "rwpush: line %zu: bad value %s\n", lineno, vtok);
                return 2;
            }
        }
        char *end;
        long long t = strtoll(ttok, &end, 10);
        if (*end) {
            fprintf(stderr, "rwpush: line %zu: bad timestamp %s\n", lineno, ttok);
            return 2;
        }
        pseries *s = batch_series(&b, line, k);
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 8;
            s->samples = realloc(s->samples, s->cap * sizeof *s->samples);
            if (!s->samples)
                die("out of memory");
        }
        s->samples[s->n++] = (sample){(int64_t)t, v};
        b.nsamples++;
        total++;
        if ((long)b.nsamples >= batch_max)
            post(c, url, hdrs, &b, &requests);
    }
    post(c, url, hdrs, &b, &requests);
    free(line);
    free(b.s);
    free(b.slots);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    fprintf(stderr, "rwpush: %zu samples in %zu requests\n", total, requests);
    return 0;
usage:
    fprintf(stderr, "usage: rwpush URL [--token T | --token-file FILE] [--batch N] < samples\n");
    return 2;
}
