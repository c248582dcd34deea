/* scrape: the scrape probe — fetch a Prometheus exporter's /metrics over HTTP(S) (libcurl multi
 * on the loop), parse it (wire/expfmt: text 0.0.4 or OpenMetrics, by Content-Type) and record
 * every sample with its own labels, plus up, scrape_duration_seconds, scrape_samples_scraped,
 * scrape_samples_post_metric_relabeling and scrape_series_added as Prometheus writes them.
 *
 * All or nothing. Prometheus keeps no sample of a scrape that fails (a parse error, too many
 * samples); the run has no way to take samples back, so the body is parsed twice: a first pass
 * checks it all (syntax, the `metrics` filter, sample_limit, label counts, renamed label names)
 * and only counts; the second adds. Parsing runs at 10-25 million simple lines a second, so the
 * second pass costs less than buffering a million samples twice, and memory stays at the body
 * (at most 64 MiB) plus what the run records.
 *
 * Labels. Scraped labels with empty values are dropped (an empty value means "no label" in
 * Prometheus). A scraped label named like a common label (instance, job, probe, ...) is renamed
 * exported_<name> (exported_exported_<name> if that is taken too, shortest names first, as
 * Prometheus's resolveConflictingExposedLabels) unless honor_labels is set, when the scraped
 * value is passed on and the engine keeps it instead of the common one.
 *
 * scrape_series_added is the number of samples kept by this run: the agent keeps no series
 * cache, so "new since the last scrape" is not known here (Prometheus counts series new to its
 * head). */
#include "probe.h"

#include "../../lib/buf.h"
#include "../../lib/labels.h"
#include "../../lib/log.h"
#include "../../lib/mem.h"
#include "../../wire/expfmt.h"
#include "curlmux.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SCRAPE_MAX_BODY (64u << 20) /* decoded bytes */
#define SCRAPE_DEFAULT_LIMIT 100000
#define SCRAPE_ACCEPT                                                                              \
    "Accept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,"     \
    "*/*;q=0.1"
/* Samples the run adds besides the scraped ones: up and the four scrape_* here, probe_success
 * and probe_duration_seconds in the engine. The engine refuses more than PROBE_MAX_SAMPLES. */
#define SCRAPE_OWN_SAMPLES 7
#define SCRAPE_MAX_KEPT (PROBE_MAX_SAMPLES - SCRAPE_OWN_SAMPLES)
#define NCOMMON_MAX 16 /* conflicts per sample: at most the number of common labels */

typedef struct scrape_prep {
    char *url;
    int honor_labels;
    int tls_verify;
    size_t sample_limit; /* 0: none (the engine's cap still holds) */
    pcre2_general_context *gc;
    pcre2_code **re;
    size_t nre;
} scrape_prep;

typedef struct scrape_run {
    probe_run *r;
    const scrape_prep *pp;
    curlmux *mux;
    CURL *easy;
    struct curl_slist *hdrs;
    buf body;
    int body_err; /* buf error that stopped the transfer (-E2BIG: over SCRAPE_MAX_BODY) */
    uint64_t t0;
    char curl_err[CURL_ERROR_SIZE];
} scrape_run;

/* One pass over the body. */
typedef struct pass {
    probe_run *r;
    const scrape_prep *pp;
    int add;        /* 0: check and count; 1: add the samples */
    size_t limit;   /* effective sample limit */
    size_t scraped; /* samples in the body */
    size_t kept;    /* samples the metrics filter kept */
    pcre2_match_data *md;
    char last[LABELS_MAX_NAME + 1]; /* the last name the filter saw, and its verdict */
    int last_keep, have_last;
    int64_t start_ms;
    size_t line;
    char why[256]; /* the probe's own reason to stop (the parser's is in its error) */
    const char *lbl[2 * PROBE_MAX_LABELS + 1];
    char ren[NCOMMON_MAX][LABELS_MAX_NAME + 1];
} pass;

/* ---- settings ------------------------------------------------------------------------------ */

static void scrape_release(void *prep)
{
    scrape_prep *pp = prep;
    if (!pp)
        return;
    for (size_t i = 0; i < pp->nre; i++)
        pcre2_code_free(pp->re[i]);
    mem_free(pp->re);
    pcre2_general_context_free(pp->gc);
    mem_free(pp->url);
    mem_free(pp);
}

/* The URL to scrape: the target if it is one, else scheme://address[:port]path from the
 * settings (as the server builds targets), for `dashdot probe scrape HOST:PORT`. */
static int build_url(const probe_def *d, const json_t *st, char **out, char *err, size_t errcap)
{
    const char *t = d->target;
    if (strstr(t, "://")) {
        if (strncasecmp(t, "http://", 7) && strncasecmp(t, "https://", 8)) {
            snprintf(err, errcap, "the target must be an http:// or https:// URL");
            return -EINVAL;
        }
        *out = mem_strdup(t);
        return *out ? 0 : -ENOMEM;
    }
    const json_t *js = json_object_get(st, "scheme"), *jp = json_object_get(st, "path");
    const char *scheme = json_is_string(js) ? json_string_value(js) : "http";
    const char *path = json_is_string(jp) ? json_string_value(jp) : "/metrics";
    if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
        snprintf(err, errcap, "\"scheme\" must be http or https");
        return -EINVAL;
    }
    if (path[0] != '/' || strpbrk(path, " \t\r\n")) {
        snprintf(err, errcap, "\"path\" must start with / and hold no white space");
        return -EINVAL;
    }
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address");
        return -EINVAL;
    }
    int v6 = strchr(d->address, ':') != NULL;
    char port[16] = "";
    if (d->port)
        snprintf(port, sizeof port, ":%d", d->port);
    size_t n = strlen(scheme) + strlen(d->address) + strlen(path) + 24;
    if (!(*out = mem_alloc(n)))
        return -ENOMEM;
    snprintf(*out, n, "%s://%s%s%s%s%s", scheme, v6 ? "[" : "", d->address, v6 ? "]" : "", port,
             path);
    return 0;
}

static int scrape_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    int rc;
    const json_t *st = d->settings;
    scrape_prep *pp = mem_calloc(1, sizeof *pp);
    if (!pp)
        return -ENOMEM;
    if ((rc = build_url(d, st, &pp->url, err, errcap)) ||
        (rc = probe_setting_bool(st, "honor_labels", 0, &pp->honor_labels, err, errcap)) ||
        (rc = probe_setting_bool(st, "tls_verify", 1, &pp->tls_verify, err, errcap)))
        goto fail;
    json_t *lim = json_object_get(st, "sample_limit");
    pp->sample_limit = SCRAPE_DEFAULT_LIMIT;
    if (lim && !json_is_null(lim)) {
        if (!json_is_integer(lim) || json_integer_value(lim) < 0 ||
            json_integer_value(lim) > 1000000000) {
            snprintf(err, errcap, "\"sample_limit\" must be an integer from 0 to 1000000000");
            rc = -EINVAL;
            goto fail;
        }
        pp->sample_limit = (size_t)json_integer_value(lim);
    }
    json_t *m = json_object_get(st, "metrics");
    if (m && !json_is_null(m) && !json_is_array(m)) {
        snprintf(err, errcap, "\"metrics\" must be a list of regular expressions");
        rc = -EINVAL;
        goto fail;
    }
    size_t nm = json_is_array(m) ? json_array_size(m) : 0;
    if (nm) {
        if (!(pp->gc = pcre2_general_context_create(probe_pcre2_alloc, probe_pcre2_free, NULL)) ||
            !(pp->re = mem_calloc(nm, sizeof *pp->re))) {
            rc = -ENOMEM;
            goto fail;
        }
        pcre2_compile_context *cc = pcre2_compile_context_create(pp->gc);
        if (!cc) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < nm; i++) {
            json_t *e = json_array_get(m, i);
            int ec;
            PCRE2_SIZE eo;
            if (!json_is_string(e)) {
                snprintf(err, errcap, "\"metrics\" must be a list of regular expressions");
                rc = -EINVAL;
                break;
            }
            /* Anchored at both ends, '.' matching any character: Prometheus's relabel regex
             * ^(?s:...)$ — "keep" on __name__. */
            pp->re[i] = pcre2_compile((PCRE2_SPTR)json_string_value(e), json_string_length(e),
                                      PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_UTF,
                                      &ec, &eo, cc);
            if (!pp->re[i]) {
                PCRE2_UCHAR msg[160];
                if (ec == PCRE2_ERROR_NOMEMORY) {
                    rc = -ENOMEM;
                    break;
                }
                pcre2_get_error_message(ec, msg, sizeof msg);
                snprintf(err, errcap,
                         "metrics: invalid regular expression \"%.60s\": %s at "
                         "offset %zu",
                         json_string_value(e), (const char *)msg, (size_t)eo);
                rc = -EINVAL;
                break;
            }
            pp->nre++;
            pcre2_jit_compile(pp->re[i], PCRE2_JIT_COMPLETE); /* a speed-up where available */
        }
        pcre2_compile_context_free(cc);
        if (rc)
            goto fail;
    }
    *prep = pp;
    return 0;
fail:
    scrape_release(pp);
    return rc;
}

/* ---- the samples --------------------------------------------------------------------------- */

/* True if the metrics filter keeps metric `name` (always without a filter). */
static int keep_name(pass *ps, const char *name)
{
    if (ps->have_last && !strcmp(ps->last, name))
        return ps->last_keep;
    size_t n = strlen(name);
    int keep = 0;
    for (size_t i = 0; i < ps->pp->nre && !keep; i++)
        keep = pcre2_match(ps->pp->re[i], (PCRE2_SPTR)name, n, 0, 0, ps->md, NULL) >= 0;
    memcpy(ps->last, name, n + 1);
    ps->have_last = 1;
    ps->last_keep = keep;
    return keep;
}

static int taken(const pass *ps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ps->lbl[2 * i], name))
            return 1;
    return 0;
}

/* Builds ps->lbl from the sample's labels: empty values dropped, collisions with the common
 * labels renamed (or kept with honor_labels). Returns 0, or -EINVAL with the reason in ps->why. */
static int build_labels(pass *ps, const expfmt_sample *s)
{
    const char *conf[NCOMMON_MAX][2];
    size_t n = 0, nconf = 0, total = 0;
    for (size_t i = 0; i < s->nlabels; i++) {
        const char *name = s->labels[2 * i], *value = s->labels[2 * i + 1];
        if (!value[0])
            continue;
        total++;
        if (total > PROBE_MAX_LABELS)
            continue; /* counted for the message below */
        if (!ps->pp->honor_labels && nconf < NCOMMON_MAX && probe_is_common_label(name)) {
            conf[nconf][0] = name;
            conf[nconf++][1] = value;
            continue;
        }
        ps->lbl[2 * n] = name;
        ps->lbl[2 * n + 1] = value;
        n++;
    }
    if (total > PROBE_MAX_LABELS) {
        snprintf(ps->why, sizeof ps->why,
                 "series \"%.100s\" has %zu labels, more than the %d a probe sample may carry",
                 s->name, total, PROBE_MAX_LABELS);
        return -EINVAL;
    }
    /* Shortest names first, each renamed until the name is free (Prometheus's order). */
    for (size_t i = 1; i < nconf; i++)
        for (size_t j = i; j > 0 && strlen(conf[j][0]) < strlen(conf[j - 1][0]); j--) {
            const char *t0 = conf[j][0], *t1 = conf[j][1];
            conf[j][0] = conf[j - 1][0];
            conf[j][1] = conf[j - 1][1];
            conf[j - 1][0] = t0;
            conf[j - 1][1] = t1;
        }
    for (size_t i = 0; i < nconf; i++) {
        char *dst = ps->ren[i];
        size_t len = strlen(conf[i][0]);
        memcpy(dst, conf[i][0], len + 1);
        do {
            if (len + 9 > LABELS_MAX_NAME) {
                snprintf(ps->why, sizeof ps->why,
                         "label \"%.60s\" of \"%.100s\" cannot be renamed: exported_ names "
                         "longer than %d bytes",
                         conf[i][0], s->name, LABELS_MAX_NAME);
                return -EINVAL;
            }
            memmove(dst + 9, dst, len + 1);
            memcpy(dst, "exported_", 9);
            len += 9;
        } while (taken(ps, n, dst));
        ps->lbl[2 * n] = dst;
        ps->lbl[2 * n + 1] = conf[i][1];
        n++;
    }
    ps->lbl[2 * n] = NULL;
    return 0;
}

static int on_sample(void *ctx, const expfmt_sample *s)
{
    pass *ps = ctx;
    int rc;
    ps->scraped++;
    ps->line = s->line;
    if (ps->pp->nre && !keep_name(ps, s->name))
        return 0;
    ps->kept++;
    if (!ps->add)
        /* Past the limit only the count matters: the scrape fails anyway. */
        return ps->kept > ps->limit ? 0 : build_labels(ps, s);
    if ((rc = build_labels(ps, s)))
        return rc;
    rc = probe_run_add_at(ps->r, s->has_ts ? s->ts_ms : ps->start_ms, s->name, ps->lbl, s->v);
    if (rc)
        snprintf(ps->why, sizeof ps->why, "%s while recording \"%.100s\"",
                 rc == -ENOMEM ? "out of memory" : "refused by the probe engine", s->name);
    return rc;
}

/* ---- the run ------------------------------------------------------------------------------- */

static void release(scrape_run *t)
{
    if (t->easy) {
        curlmux_remove(t->mux, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->hdrs);
    buf_free(&t->body);
    mem_free(t);
}

/* Adds Prometheus's report samples, frees the run's state and ends the run. */
static void finish(scrape_run *t, int up, size_t scraped, size_t post, size_t added,
                   const char *msg)
{
    probe_run *r = t->r;
    double dur = (double)(uv_hrtime() - t->t0) / 1e9;
    probe_run_add(r, "up", NULL, up ? 1 : 0);
    probe_run_add(r, "scrape_duration_seconds", NULL, dur);
    probe_run_add(r, "scrape_samples_scraped", NULL, (double)scraped);
    probe_run_add(r, "scrape_samples_post_metric_relabeling", NULL, (double)post);
    probe_run_add(r, "scrape_series_added", NULL, (double)added);
    release(t);
    if (msg && msg[0])
        probe_run_done(r, up, "%s", msg);
    else
        probe_run_done(r, up, NULL);
}

/* CPU seconds used by this thread (for the debug log: wall times lie on a busy machine). */
static double thread_cpu(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses the body (two passes, see the top) and ends the run. */
static void parse_body(scrape_run *t, expfmt_format fmt)
{
    const scrape_prep *pp = t->pp;
    char msg[PROBE_MSG_MAX] = "";
    expfmt_error err;
    pass *ps = mem_calloc(1, sizeof *ps);
    uint64_t p0 = uv_hrtime(), p1 = 0;
    double c0 = thread_cpu();
    if (!ps || (pp->nre && !(ps->md = pcre2_match_data_create(1, pp->gc)))) {
        if (ps)
            mem_free(ps);
        finish(t, 0, 0, 0, 0, "out of memory");
        return;
    }
    ps->r = t->r;
    ps->pp = pp;
    ps->start_ms = probe_run_start_ms(t->r);
    size_t cap = SCRAPE_MAX_KEPT;
    ps->limit = pp->sample_limit && pp->sample_limit < cap ? pp->sample_limit : cap;
    int rc = expfmt_parse(t->body.data, t->body.len, fmt, on_sample, NULL, ps, &err);
    size_t scraped = ps->scraped, kept = ps->kept, added = 0;
    int up = 0;
    if (rc == -ENOMEM) {
        snprintf(msg, sizeof msg, "out of memory");
    } else if (rc) {
        if (ps->why[0])
            snprintf(msg, sizeof msg, "line %zu: %s", ps->line, ps->why);
        else
            snprintf(msg, sizeof msg, "line %zu: %s", err.line, err.msg);
    } else if (kept > ps->limit) {
        snprintf(msg, sizeof msg, "sample limit exceeded (%zu > %zu%s)", kept, ps->limit,
                 ps->limit == cap && (!pp->sample_limit || pp->sample_limit > cap)
                     ? ", the most one probe run may record"
                     : "");
    } else {
        /* Valid and within the limit: the second pass records. */
        p1 = uv_hrtime();
        ps->add = 1;
        ps->scraped = ps->kept = 0;
        ps->have_last = 0;
        rc = expfmt_parse(t->body.data, t->body.len, fmt, on_sample, NULL, ps, &err);
        added = ps->kept;
        if (rc) {
            /* Only out of memory can stop it now: what was added stays, the run fails. */
            snprintf(msg, sizeof msg, "%s", ps->why[0] ? ps->why : "out of memory");
            added = ps->kept - 1;
        } else {
            up = 1;
        }
    }
    uint64_t p2 = uv_hrtime();
    log_debug("scrape %s: %zu bytes, %zu samples, %zu kept; checked in %.3f s, recorded in %.3f s "
              "(%.3f s of CPU)",
              pp->url, t->body.len, scraped, kept, (double)((p1 ? p1 : p2) - p0) / 1e9,
              p1 ? (double)(p2 - p1) / 1e9 : 0.0, thread_cpu() - c0);
    pcre2_match_data_free(ps->md);
    mem_free(ps);
    finish(t, up, scraped, kept, added, msg);
}

static void on_done(void *ctx, CURL *easy, CURLcode res)
{
    scrape_run *t = ctx;
    char msg[PROBE_MSG_MAX] = "";
    long code = 0;
    char *ct = NULL, ctype[256] = "";
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(ctype, sizeof ctype, "%s", ct);
    /* The transfer is over: let its connection go back to the pool before the parse. */
    curl_easy_cleanup(easy);
    t->easy = NULL;
    if (res != CURLE_OK) {
        if (t->body_err == -E2BIG)
            snprintf(msg, sizeof msg, "body larger than %u MiB (decoded)", SCRAPE_MAX_BODY >> 20);
        else if (t->body_err)
            snprintf(msg, sizeof msg, "out of memory reading the body");
        else
            snprintf(msg, sizeof msg, "%s", t->curl_err[0] ? t->curl_err : curl_easy_strerror(res));
    } else if (code != 200) {
        snprintf(msg, sizeof msg, "server returned HTTP status %ld", code);
    } else if (expfmt_is_protobuf(ctype)) {
        snprintf(msg, sizeof msg, "unsupported Content-Type \"%.100s\"", ctype);
    }
    if (msg[0]) {
        finish(t, 0, 0, 0, 0, msg);
        return;
    }
    parse_body(t, expfmt_format_from_content_type(ctype));
}

static size_t on_write(char *data, size_t size, size_t n, void *ctx)
{
    scrape_run *t = ctx;
    int rc = buf_append(&t->body, data, size * n);
    if (rc) {
        t->body_err = rc;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    return size * n;
}

static void scrape_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    const scrape_prep *pp = d->prep;
    scrape_run *t = mem_calloc(1, sizeof *t);
    curlmux *mux = probe_run_curl(r);
    char hdr[96];
    if (!t || !mux) {
        mem_free(t);
        probe_run_done(r, 0, "out of memory");
        return;
    }
    t->r = r;
    t->pp = pp;
    t->mux = mux;
    t->t0 = uv_hrtime();
    buf_init(&t->body, SCRAPE_MAX_BODY);
    int64_t left = probe_run_remaining_ms(r);
    /* curl gives up a little before the run's timeout, so up 0 is still reported. */
    int64_t curl_ms = left > 500 ? left - 100 : left;
    snprintf(hdr, sizeof hdr, "X-Prometheus-Scrape-Timeout-Seconds: %g",
             (double)d->timeout_ms / 1000.0);
    struct curl_slist *h1 = curl_slist_append(NULL, SCRAPE_ACCEPT), *h2 = NULL;
    if (h1)
        h2 = curl_slist_append(h1, hdr);
    t->hdrs = h2 ? h2 : h1;
    if (!(t->easy = curl_easy_init()) || !h2) {
        release(t);
        probe_run_done(r, 0, "out of memory");
        return;
    }
    CURL *e = t->easy;
    CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (c == CURLE_OK)                                                                             \
    c = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, pp->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, 10L);
    SET(CURLOPT_HTTPHEADER, t->hdrs);
    SET(CURLOPT_USERAGENT, "dashdot/" DD_VERSION);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_ERRORBUFFER, t->curl_err);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)curl_ms);
    SET(CURLOPT_SSL_VERIFYPEER, pp->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, pp->tls_verify ? 2L : 0L);
#undef SET
    if (c != CURLE_OK) {
        release(t);
        probe_run_done(r, 0, "curl: %s", curl_easy_strerror(c));
        return;
    }
    probe_run_set_state(r, t);
    if (curlmux_add(mux, e, on_done, t)) {
        probe_run_set_state(r, NULL);
        release(t);
        probe_run_done(r, 0, "out of memory");
    }
}

static void scrape_cancel(probe_run *r)
{
    scrape_run *t = probe_run_state(r);
    if (t)
        release(t);
}

const probe_type probe_scrape_type = {
    .name = "scrape",
    .prepare = scrape_prepare,
    .release = scrape_release,
    .start = scrape_start,
    .cancel = scrape_cancel,
};
