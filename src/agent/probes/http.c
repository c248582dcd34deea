/* http: the http probe — one HTTP(S) request through libcurl on the loop's shared multi handle
 * (curlmux), checked for status, body regex and a JSON field, with blackbox_exporter's samples:
 * per-phase durations, status, lengths, redirects, HTTP and TLS versions, certificate expiry.
 *
 * Each run makes its own easy handle on a fresh connection (FRESH_CONNECT, FORBID_REUSE, no TLS
 * session resumption) with a fresh name lookup (no DNS cache), so every run measures what a new
 * client sees instead of a pooled connection. curl resolves (its threaded resolver; QUICK_EXIT
 * so that cancelling a run mid-lookup never waits for the lookup thread) and follows at most 10
 * redirects, to http and https only. No proxy from the environment.
 *
 * Phases: curl's timers are cumulative over redirects (each request's time since that request
 * started is added), so the differences of the totals give the totals of the differences,
 * except TLS, which only https requests have. The header callback therefore reads the timers at
 * every response's status line and books each request's phases (http_phase_status_line); the
 * end books the rest (http_phase_finish). The five phases add up to curl's total time.
 *
 * Certificates: libcurl-gnutls 7.88 reads its whole CA store (the /etc/ssl/certs directory) at
 * every handshake, verifying or not: 75-190 ms of the loop's CPU per https run. So curl verifies
 * nothing and loads no store; the probe checks each TLS connection itself in the pre-request
 * callback (CURLOPT_PREREQFUNCTION: the connection is up, nothing of the request is sent yet)
 * with the live GnuTLS session (CURLINFO_TLS_SSL_PTR) against one trust list per loop, read on
 * first need and hourly: the chain, the host name and the serverAuth purpose
 * (gnutls_x509_trust_list_verify_crt2), the protocol version, the chain's earliest notAfter and
 * that of the verified path up to its anchor. A refused certificate aborts the request before it
 * is sent, with GnuTLS's precise reason ("certificate has expired"), and the expiry samples are
 * still reported. The store is the system's, or, as OpenSSL reads them, SSL_CERT_FILE and
 * SSL_CERT_DIR when set (libcurl-gnutls itself honours neither).
 *
 * Bodies: read up to HTTP_BODY_MAX uncompressed bytes (beyond: the run fails; the write
 * callback stops the transfer), kept in memory only when body_regex or json_field need them.
 * json_field is checked by a streaming scanner (no tree), so a 10 MiB document costs no more
 * than its own bytes. probe_failed_due_to_regex is 1 when body_regex or json_field failed. */
#include "probe.h"

#include "../../lib/buf.h"
#include "../../lib/mem.h"
#include "curlmux.h"
#include "http_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define HTTP_MAX_HEADERS 64    /* request header settings */
#define HTTP_MAX_CHAIN 16      /* peer certificates looked at */

/* ==== settings ============================================================================== */

enum { M_GET, M_HEAD, M_POST, M_PUT, M_OPTIONS };
static const char *const method_names[] = {"GET", "HEAD", "POST", "PUT", "OPTIONS"};

typedef struct http_prep {
    int method;
    char *body;
    size_t body_len;
    struct curl_slist *headers; /* read-only once made: shared by every run of the definition */
    int user_sets_expect;
    char *user, *password, *bearer;
    http_status_set ok;
    char expect_text[64]; /* "200", "200, 204 or 3xx": for messages */
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
    pcre2_code *re;
    char *json_path, *json_want;
    int follow, verify;
    int https; /* the target is https: the trust store is made ready before the transfer */
    long ipresolve;
} http_prep;

static void http_release(void *prep)
{
    http_prep *p = prep;
    if (!p)
        return;
    mem_free(p->body);
    curl_slist_free_all(p->headers);
    mem_free(p->user);
    mem_free(p->password);
    mem_free(p->bearer);
    pcre2_code_free(p->re);
    pcre2_match_context_free(p->mctx);
    pcre2_general_context_free(p->gctx);
    mem_free(p->json_path);
    mem_free(p->json_want);
    mem_free(p);
}

/* String setting k: NULL when absent, null or ""; *bad when present but not a string. */
static const char *setting_str(const json_t *st, const char *k, int *bad)
{
    json_t *v = json_object_get(st, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v)[0] ? json_string_value(v) : NULL;
}

/* List setting k: NULL when absent or null; -EINVAL unless an array of strings. */
static int setting_list(const json_t *st, const char *k, const json_t **out, char *err,
                        size_t errcap)
{
    json_t *v = json_object_get(st, k), *e;
    size_t i;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    int good = json_is_array(v);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
            good = 0;
    }
    if (!good) {
        snprintf(err, errcap, "\"%s\" must be a list of strings", k);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Dups s into *dst unless NULL. Returns 0 or -ENOMEM. */
static int dup_opt(const char *s, char **dst)
{
    if (!s)
        return 0;
    *dst = mem_strdup(s);
    return *dst ? 0 : -ENOMEM;
}

static int prepare_status(http_prep *p, const json_t *st, char *err, size_t errcap)
{
    json_t *v = json_object_get(st, "expect_status");
    const json_t *codes;
    json_int_t code = 200;
    int rc;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599) {
            snprintf(err, errcap, "\"expect_status\" must be an integer from 100 to 599");
            return -EINVAL;
        }
        code = json_integer_value(v);
    }
    http_status_set_add_code(&p->ok, (long)code);
    if ((rc = setting_list(st, "expect_status_codes", &codes, err, errcap)))
        return rc;
    size_t i, n = json_array_size(codes);
    int k = snprintf(p->expect_text, sizeof p->expect_text, "%d", (int)code);
    for (i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(codes, i));
        char why[128];
        if (http_status_set_add(&p->ok, s, why, sizeof why)) {
            snprintf(err, errcap, "\"expect_status_codes\": %s", why);
            return -EINVAL;
        }
        if (k > 0 && (size_t)k < sizeof p->expect_text)
            k += snprintf(p->expect_text + k, sizeof p->expect_text - (size_t)k, "%s%s",
                          i + 1 == n ? " or " : ", ", s);
    }
    if ((size_t)k >= sizeof p->expect_text)
        snprintf(p->expect_text + sizeof p->expect_text - 5, 5, "...");
    return 0;
}

static int prepare_headers(http_prep *p, const json_t *st, char *err, size_t errcap)
{
    const json_t *hs;
    int rc;
    char line[HTTP_HEADER_MAX + 4];
    if ((rc = setting_list(st, "headers", &hs, err, errcap)))
        return rc;
    if (json_array_size(hs) > HTTP_MAX_HEADERS) {
        snprintf(err, errcap, "more than %d headers", HTTP_MAX_HEADERS);
        return -EINVAL;
    }
    for (size_t i = 0; i < json_array_size(hs); i++) {
        char why[160];
        if (http_header_setting(json_string_value(json_array_get(hs, i)), line, sizeof line, why,
                                sizeof why)) {
            snprintf(err, errcap, "\"headers\": %s", why);
            return -EINVAL;
        }
        if (!strncasecmp(line, "expect:", 7) || !strncasecmp(line, "expect;", 7))
            p->user_sets_expect = 1;
        struct curl_slist *n = curl_slist_append(p->headers, line);
        if (!n)
            return -ENOMEM;
        p->headers = n;
    }
    /* No "Expect: 100-continue" round trip before large bodies: a probe sends what it sends. */
    if (!p->user_sets_expect && p->body) {
        struct curl_slist *n = curl_slist_append(p->headers, "Expect:");
        if (!n)
            return -ENOMEM;
        p->headers = n;
    }
    return 0;
}

static int prepare_regex(http_prep *p, const char *rx, char *err, size_t errcap)
{
    int code;
    PCRE2_SIZE off;
    if (!(p->gctx = pcre2_general_context_create(probe_pcre2_alloc, probe_pcre2_free, NULL)) ||
        !(p->mctx = pcre2_match_context_create(p->gctx)))
        return -ENOMEM;
    /* A pathological pattern gives up instead of holding the loop. */
    pcre2_set_match_limit(p->mctx, 1000000);
    pcre2_set_depth_limit(p->mctx, 100000);
    pcre2_set_heap_limit(p->mctx, 20000); /* KiB */
    pcre2_compile_context *cctx = pcre2_compile_context_create(p->gctx);
    if (!cctx)
        return -ENOMEM;
    p->re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, 0, &code, &off, cctx);
    pcre2_compile_context_free(cctx);
    if (!p->re && code == PCRE2_ERROR_HEAP_FAILED)
        return -ENOMEM;
    if (!p->re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errcap, "\"body_regex\": invalid regular expression at position %zu: %s",
                 (size_t)off, (const char *)msg);
        return -EINVAL;
    }
    /* JIT scans a 10 MiB body 3 to 10 times faster; without it (no memory, no JIT on this
     * platform) the interpreter does. */
    pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
    return 0;
}

static int http_prepare(const probe_def *d, void **prepp, char *err, size_t errcap)
{
    int rc = -EINVAL, bad = 0;
    const json_t *st = d->settings;
    http_prep *p = mem_calloc(1, sizeof *p);
    CURLU *u = curl_url();
    char *scheme = NULL;
    if (!p || !u) {
        rc = -ENOMEM;
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, d->target, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
        snprintf(err, errcap, "the target \"%.100s\" is not an http:// or https:// URL", d->target);
        goto out;
    }
    p->https = !strcasecmp(scheme, "https");
    const char *m = setting_str(st, "method", &bad);
    p->method = -1;
    for (int i = 0; i < 5 && m; i++)
        if (!strcmp(m, method_names[i]))
            p->method = i;
    if (!m)
        p->method = M_GET;
    if (bad || p->method < 0) {
        snprintf(err, errcap, "\"method\" must be GET, HEAD, POST, PUT or OPTIONS");
        goto out;
    }
    const char *body = setting_str(st, "body", &bad), *user = setting_str(st, "auth_user", &bad),
               *pass = setting_str(st, "auth_password", &bad),
               *bearer = setting_str(st, "bearer_token", &bad),
               *rx = setting_str(st, "body_regex", &bad), *jf = setting_str(st, "json_field", &bad),
               *ipp = setting_str(st, "ip_protocol", &bad);
    if (bad) {
        snprintf(err, errcap,
                 "\"body\", \"auth_user\", \"auth_password\", \"bearer_token\", "
                 "\"body_regex\", \"json_field\" and \"ip_protocol\" are strings");
        goto out;
    }
    if (pass && !user) {
        snprintf(err, errcap, "\"auth_password\" needs \"auth_user\"");
        goto out;
    }
    if (user && bearer) {
        snprintf(err, errcap, "basic auth (\"auth_user\") and \"bearer_token\" exclude each other");
        goto out;
    }
    if (ipp && strcmp(ipp, "auto") && strcmp(ipp, "ipv4") && strcmp(ipp, "ipv6")) {
        snprintf(err, errcap, "\"ip_protocol\" must be auto, ipv4 or ipv6");
        goto out;
    }
    p->ipresolve = !ipp || !strcmp(ipp, "auto") ? CURL_IPRESOLVE_WHATEVER
                   : !strcmp(ipp, "ipv4")       ? CURL_IPRESOLVE_V4
                                                : CURL_IPRESOLVE_V6;
    if (body && p->method != M_HEAD) {
        p->body_len = strlen(body);
        if (!(p->body = mem_strdup(body))) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if ((rc = dup_opt(user, &p->user)) ||
        (rc = dup_opt(user ? (pass ? pass : "") : NULL, &p->password)) ||
        (rc = dup_opt(bearer, &p->bearer)))
        goto out;
    if ((rc = probe_setting_bool(st, "follow_redirects", 1, &p->follow, err, errcap)) ||
        (rc = probe_setting_bool(st, "tls_verify", 1, &p->verify, err, errcap)) ||
        (rc = prepare_status(p, st, err, errcap)) || (rc = prepare_headers(p, st, err, errcap)))
        goto out;
    if (rx && (rc = prepare_regex(p, rx, err, errcap)))
        goto out;
    if (jf && (rc = http_json_field_parse(jf, &p->json_path, &p->json_want, err, errcap)))
        goto out;
    rc = 0;
out:
    curl_free(scheme);
    curl_url_cleanup(u);
    if (rc) {
        http_release(p);
        p = NULL;
    }
    *prepp = p;
    return rc;
}

/* ==== TLS: the trust store and the checks of each handshake ================================= */

#define HTTP_TRUST_RELOAD_MS (3600 * 1000) /* the system store is reread hourly */

/* Shared by every http run on a loop: the trust list, loaded once instead of at every
 * handshake (which is what libcurl-gnutls would do: 75-190 ms of the loop's CPU per run). */
typedef struct http_shared {
    uv_loop_t *loop;
    gnutls_x509_trust_list_t tl; /* NULL when it could not be made */
    uint64_t loaded_ms;          /* uv_now at the load */
} http_shared;

/* Makes the trust list: the system store, or, as OpenSSL reads them, the CA file and
 * directory named by SSL_CERT_FILE and SSL_CERT_DIR instead when either is set. Returns 0 or
 * -ENOMEM. A missing store is no error: verification then finds no issuer. */
static int trust_load(gnutls_x509_trust_list_t *out)
{
    gnutls_x509_trust_list_t tl;
    const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
    const unsigned fl = GNUTLS_TL_NO_DUPLICATES;
    if (gnutls_x509_trust_list_init(&tl, 0) < 0)
        return -ENOMEM;
    if (file && file[0])
        gnutls_x509_trust_list_add_trust_file(tl, file, NULL, GNUTLS_X509_FMT_PEM, fl, 0);
    if (dir && dir[0])
        gnutls_x509_trust_list_add_trust_dir(tl, dir, NULL, GNUTLS_X509_FMT_PEM, fl, 0);
    if (!(file && file[0]) && !(dir && dir[0]))
        gnutls_x509_trust_list_add_system_trust(tl, fl, 0);
    *out = tl;
    return 0;
}

/* The list is made on first need (trust_refresh), so agents probing only http:// never read
 * the store. */
static int http_shared_init(uv_loop_t *loop, void **out)
{
    http_shared *sh = mem_calloc(1, sizeof *sh);
    if (!sh)
        return -ENOMEM;
    sh->loop = loop;
    *out = sh;
    return 0;
}

static void http_shared_free(void *shared)
{
    http_shared *sh = shared;
    if (!sh)
        return;
    if (sh->tl)
        gnutls_x509_trust_list_deinit(sh->tl, 1);
    mem_free(sh);
}

/* Reads the store if it was not, or if it is an hour old (lists are only used inside one
 * callback, so swapping between runs is safe). Keeps the old list if a new one cannot be made.
 * Blocks the loop while it reads (about 25 ms for Debian's store). */
static void trust_refresh(http_shared *sh)
{
    gnutls_x509_trust_list_t tl;
    uint64_t now = uv_now(sh->loop);
    if (sh->tl && now - sh->loaded_ms < HTTP_TRUST_RELOAD_MS)
        return;
    sh->loaded_ms = now;
    if (trust_load(&tl))
        return;
    if (sh->tl)
        gnutls_x509_trust_list_deinit(sh->tl, 1);
    sh->tl = tl;
}

int http_tls_reason(unsigned status, int self_signed, const char *host, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *why;
    } reasons[] = {
        {GNUTLS_CERT_EXPIRED, "certificate has expired"},
        {GNUTLS_CERT_NOT_ACTIVATED, "certificate is not yet valid"},
        {GNUTLS_CERT_REVOKED, "certificate has been revoked"},
        {GNUTLS_CERT_SIGNER_NOT_FOUND, NULL}, /* self-signed or unknown issuer, below */
        {GNUTLS_CERT_SIGNER_NOT_CA, "certificate issuer is not a CA"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "certificate signature is invalid"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "certificate uses an insecure algorithm"},
        {GNUTLS_CERT_UNEXPECTED_OWNER, NULL}, /* the host name, below */
        {GNUTLS_CERT_PURPOSE_MISMATCH, "certificate is not for TLS servers"},
        {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "certificate issuer's constraints fail"},
    };
    if (!status)
        return 0;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (!(status & reasons[i].bit))
            continue;
        if (reasons[i].why)
            snprintf(out, cap, "%s", reasons[i].why);
        else if (reasons[i].bit == GNUTLS_CERT_SIGNER_NOT_FOUND)
            snprintf(out, cap, "%s",
                     self_signed ? "self-signed certificate" : "certificate issuer is unknown");
        else
            snprintf(out, cap, "certificate is not valid for %.200s", host);
        return 1;
    }
    snprintf(out, cap, "certificate is not trusted (status 0x%x)", status);
    return 1;
}

/* ==== a run ================================================================================= */

typedef struct http_tls {
    int have;           /* this request went over TLS and we saw its handshake */
    int version;        /* gnutls_protocol_t */
    int64_t earliest;   /* earliest notAfter of the peer chain; 0: none read */
    int64_t last_chain; /* earliest notAfter on the verified path, anchor included; 0: none */
} http_tls;

typedef struct http_run {
    probe_run *r;
    const http_prep *p;
    http_shared *sh;
    CURL *easy;
    curlmux *mux;
    buf body;          /* the body when a check needs it */
    uint64_t body_len; /* uncompressed body bytes received */
    int too_big;
    http_phase_acc acc;
    int prereqs;           /* requests that got a connection (the pre-request callback ran) */
    http_tls tls;          /* of the last such request */
    char tls_fail[192];    /* why the last handshake's certificate was refused */
    int64_t last_modified; /* of the last response; -1 none */
    char errbuf[CURL_ERROR_SIZE];
} http_run;

static void run_free(http_run *h)
{
    if (!h)
        return;
    if (h->easy) {
        curlmux_remove(h->mux, h->easy);
        curl_easy_cleanup(h->easy);
    }
    buf_free(&h->body);
    mem_free(h);
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    http_run *h = ud;
    size_t len = size * n;
    if (len > HTTP_BODY_MAX - h->body_len) {
        h->too_big = 1;
        return 0; /* stops the transfer: CURLE_WRITE_ERROR */
    }
    h->body_len += len;
    if (h->p->re || h->p->json_path)
        if (buf_append(&h->body, data, len))
            return 0;
    return len;
}

static int64_t crt_expiry(gnutls_x509_crt_t c)
{
    time_t t = gnutls_x509_crt_get_expiration_time(c);
    return t == (time_t)-1 ? 0 : (int64_t)t;
}

static void min_expiry(int64_t *m, int64_t t)
{
    if (t > 0 && (*m == 0 || t < *m))
        *m = t;
}

/* The host the current request is for (the certificate must name it), from the effective
 * URL: IDN in punycode, IPv6 without brackets. Returns 0 or -1. */
static int request_host(CURL *e, char *out, size_t cap)
{
    char *url = NULL, *host = NULL;
    CURLU *u = curl_url();
    int rc = -1;
    if (u && curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
        curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, CURLU_PUNYCODE) == CURLUE_OK) {
        size_t n = strlen(host);
        const char *h = host;
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
            h++, n -= 2;
        if (n < cap) {
            memcpy(out, h, n);
            out[n] = '\0';
            rc = 0;
        }
    }
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* Checks the certificate chain of the handshake just made (session s) and records its TLS
 * data. Returns 0, or -1 with the reason in h->tls_fail when verification refuses it. */
static int tls_check(http_run *h, gnutls_session_t s)
{
    gnutls_x509_crt_t crt[HTTP_MAX_CHAIN];
    unsigned n = 0, k = 0, status = 0;
    char host[256];
    int rc = 0;
    const gnutls_datum_t *raw = gnutls_certificate_get_peers(s, &n);
    h->tls = (http_tls){.have = 1, .version = (int)gnutls_protocol_get_version(s)};
    for (unsigned i = 0; raw && i < n && k < HTTP_MAX_CHAIN; i++) {
        if (gnutls_x509_crt_init(&crt[k]) < 0)
            break;
        if (gnutls_x509_crt_import(crt[k], &raw[i], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crt[k]);
            continue;
        }
        min_expiry(&h->tls.earliest, crt_expiry(crt[k]));
        k++;
    }
    if (!h->p->verify)
        goto out;
    if (!k) {
        snprintf(h->tls_fail, sizeof h->tls_fail, "the server sent no usable certificate");
        rc = -1;
        goto out;
    }
    if (h->sh && !h->sh->tl)
        trust_refresh(h->sh); /* an http:// target redirected to https:// */
    if (!h->sh || !h->sh->tl) {
        snprintf(h->tls_fail, sizeof h->tls_fail, "no trust store (out of memory)");
        rc = -1;
        goto out;
    }
    if (request_host(h->easy, host, sizeof host)) {
        snprintf(h->tls_fail, sizeof h->tls_fail, "cannot tell the request's host name");
        rc = -1;
        goto out;
    }
    gnutls_typed_vdata_st vd[2] = {
        {.type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)host},
        {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER},
    };
    int vr = gnutls_x509_trust_list_verify_crt2(h->sh->tl, crt, k, vd, 2, 0, &status, NULL);
    if (vr < 0) {
        snprintf(h->tls_fail, sizeof h->tls_fail, "verification failed: %s", gnutls_strerror(vr));
        rc = -1;
        goto out;
    }
    if (http_tls_reason(status, k == 1 && gnutls_x509_crt_check_issuer(crt[0], crt[0]), host,
                        h->tls_fail, sizeof h->tls_fail)) {
        rc = -1;
        goto out;
    }
    /* The verified path: from the leaf through the issuers it names, then the anchor. */
    int used[HTTP_MAX_CHAIN] = {1};
    unsigned cur = 0;
    int64_t m = crt_expiry(crt[0]);
    while (!gnutls_x509_crt_check_issuer(crt[cur], crt[cur])) {
        unsigned next = k;
        for (unsigned i = 0; i < k && next == k; i++)
            if (!used[i] && gnutls_x509_crt_check_issuer(crt[cur], crt[i]))
                next = i;
        if (next == k) {
            gnutls_x509_crt_t anchor = NULL; /* owned by the list */
            if (gnutls_x509_trust_list_get_issuer(h->sh->tl, crt[cur], &anchor, 0) == 0)
                min_expiry(&m, crt_expiry(anchor));
            break;
        }
        used[next] = 1;
        min_expiry(&m, crt_expiry(crt[next]));
        cur = next;
    }
    h->tls.last_chain = m;
out:
    for (unsigned i = 0; i < k; i++)
        gnutls_x509_crt_deinit(crt[i]);
    return rc;
}

/* Runs once a request has its connection, before anything of it is sent: the place to refuse
 * a certificate (curl itself verifies nothing; see the top of the file). */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port)
{
    (void)ip, (void)local_ip, (void)port, (void)local_port;
    http_run *h = ud;
    struct curl_tlssessioninfo *ti = NULL;
    h->prereqs++;
    h->tls = (http_tls){0};
    if (curl_easy_getinfo(h->easy, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti || !ti->internals)
        return CURL_PREREQFUNC_OK; /* plain http */
    if (ti->backend != CURLSSLBACKEND_GNUTLS) {
        snprintf(h->tls_fail, sizeof h->tls_fail, "libcurl is not built with GnuTLS");
        return h->p->verify ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
    }
    return tls_check(h, (gnutls_session_t)ti->internals) ? CURL_PREREQFUNC_ABORT
                                                         : CURL_PREREQFUNC_OK;
}

static http_times read_times(CURL *e)
{
    curl_off_t nl = 0, co = 0, ac = 0, st = 0;
    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &nl);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &co);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &ac);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &st);
    return (http_times){nl, co, ac, st};
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    http_run *h = ud;
    size_t len = size * n;
    char val[128];
    if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
        /* A response begins: book its request's phases. */
        http_times now = read_times(h->easy);
        http_phase_status_line(&h->acc, &now);
        h->last_modified = -1;
    } else if (http_header_value(line, len, "last-modified", val, sizeof val)) {
        time_t t = curl_getdate(val, NULL);
        h->last_modified = t > 0 ? (int64_t)t : -1;
    }
    return len;
}

static const char *tls_version_name(int v)
{
    switch (v) {
    case GNUTLS_SSL3:
        return "SSL 3.0";
    case GNUTLS_TLS1_0:
        return "TLS 1.0";
    case GNUTLS_TLS1_1:
        return "TLS 1.1";
    case GNUTLS_TLS1_2:
        return "TLS 1.2";
    case GNUTLS_TLS1_3:
        return "TLS 1.3";
    default:
        return NULL;
    }
}

/* The run's verdict on a transfer that failed: one line in msg. */
static void curl_failure(http_run *h, CURLcode res, char *msg, size_t cap)
{
    const probe_def *d = probe_run_def(h->r);
    const char *e = h->errbuf[0] ? h->errbuf : curl_easy_strerror(res);
    char sys[128] = "";
    long oserr = 0;
    switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(msg, cap, "resolve: %s", e);
        break;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(h->easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr)
            snprintf(msg, cap, "connect: %s", strerror_r((int)oserr, sys, sizeof sys));
        else
            snprintf(msg, cap, "connect: %s", e);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, cap, "timeout after %.3g s", (double)d->timeout_ms / 1000);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        if (h->tls_fail[0]) {
            snprintf(msg, cap, "TLS: %s", h->tls_fail);
            break;
        }
        /* fall through */
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CIPHER:
        snprintf(msg, cap, "TLS: %s", e);
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(msg, cap, "more than %d redirects", HTTP_MAX_REDIRECTS);
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(msg, cap, "redirect refused: %s", e);
        break;
    case CURLE_WRITE_ERROR:
        if (h->too_big) {
            snprintf(msg, cap, "body larger than %u MiB", HTTP_BODY_MAX >> 20);
            break;
        }
        /* fall through */
    default:
        snprintf(msg, cap, "%s", e);
        break;
    }
}

/* Checks the body against body_regex. Returns 0 match, 1 no match (msg set). */
static int check_regex(http_run *h, char *msg, size_t cap)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(h->p->re, h->p->gctx);
    if (!md) {
        snprintf(msg, cap, "out of memory");
        return 1;
    }
    PCRE2_SPTR subject = (PCRE2_SPTR)(h->body.data ? h->body.data : "");
    int m = pcre2_match(h->p->re, subject, h->body.len, 0, 0, md, h->p->mctx);
    if (m == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its stack on the heap */
        m = pcre2_match(h->p->re, subject, h->body.len, 0, PCRE2_NO_JIT, md, h->p->mctx);
    pcre2_match_data_free(md);
    if (m >= 0)
        return 0;
    if (m == PCRE2_ERROR_NOMEMORY)
        snprintf(msg, cap, "out of memory matching body_regex");
    else if (m == PCRE2_ERROR_NOMATCH)
        snprintf(msg, cap, "body does not match regex");
    else if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT ||
             m == PCRE2_ERROR_HEAPLIMIT)
        snprintf(msg, cap, "body_regex gave up: too much backtracking");
    else
        snprintf(msg, cap, "body_regex: match error %d", m);
    return 1;
}

static void add(probe_run *r, const char *metric, double v)
{
    probe_run_add(r, metric, NULL, v);
}

static double http_version_number(long v)
{
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return 1.0;
    case CURL_HTTP_VERSION_1_1:
        return 1.1;
    case CURL_HTTP_VERSION_2_0:
        return 2;
    case CURL_HTTP_VERSION_3:
        return 3;
    default:
        return 0;
    }
}

/* The verdict: the transfer's error, else the status, else the body checks. Returns 1 for
 * success; msg says why not, *content_failed is set when a body check failed. */
static int verdict(http_run *h, CURLcode res, long status, char *msg, size_t cap,
                   int *content_failed)
{
    const http_prep *p = h->p;
    *content_failed = 0;
    if (res != CURLE_OK) {
        curl_failure(h, res, msg, cap);
        return 0;
    }
    if (!http_status_set_has(&p->ok, status)) {
        snprintf(msg, cap, "HTTP %ld, expected %s", status, p->expect_text);
        return 0;
    }
    if (h->body.err) {
        snprintf(msg, cap, "out of memory reading the body");
        return 0;
    }
    if (p->re && check_regex(h, msg, cap)) {
        *content_failed = 1;
        return 0;
    }
    if (p->json_path) {
        int jr = http_json_check(h->body.data ? h->body.data : "", h->body.len, p->json_path,
                                 p->json_want, msg, cap);
        if (jr == -ENOMEM)
            snprintf(msg, cap, "out of memory checking json_field");
        *content_failed = jr && jr != -ENOMEM;
        return jr == 0;
    }
    return 1;
}

static void on_done(void *ctx, CURL *easy, CURLcode res)
{
    http_run *h = ctx;
    probe_run *r = h->r;
    char msg[PROBE_MSG_MAX] = "";
    long status = 0, redirects = 0, ver = 0;
    curl_off_t clen = -1, total = 0, redirect_t = 0;
    char *scheme = NULL, *ip = NULL;
    double ph[HTTP_NPHASES];
    int content_failed;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_TIME_T, &redirect_t);
    curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme);
    curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip);
    int https = scheme && !strcasecmp(scheme, "https");
    http_times fin = read_times(easy);
    http_phase_finish(&h->acc, &fin, total, redirect_t, https, ph);
    int partial = http_phase_partial(&h->acc, &fin);
    if (partial)
        h->last_modified = -1; /* the header callback saw an earlier request's response */
    if (h->prereqs != h->acc.hops + partial)
        h->tls = (http_tls){0}; /* the last request got no connection: not its TLS data */
    int ok = verdict(h, res, status, msg, sizeof msg, &content_failed);

    for (int i = 0; i < HTTP_NPHASES; i++) {
        const char *lbl[] = {"phase", http_phase_names[i], NULL};
        probe_run_add(r, "probe_http_duration_seconds", lbl, ph[i]);
    }
    add(r, "probe_dns_lookup_time_seconds",
        (double)(h->acc.hops ? h->acc.first_namelookup : fin.namelookup) / 1e6);
    if (ip && ip[0])
        add(r, "probe_ip_protocol", strchr(ip, ':') ? 6 : 4);
    add(r, "probe_http_status_code", (double)status);
    add(r, "probe_http_content_length", status ? (double)clen : -1);
    add(r, "probe_http_uncompressed_body_length", (double)h->body_len);
    add(r, "probe_http_redirects", (double)redirects);
    add(r, "probe_http_ssl", https);
    add(r, "probe_http_version", http_version_number(ver));
    add(r, "probe_failed_due_to_regex", content_failed);
    if (h->last_modified > 0 && status)
        add(r, "probe_http_last_modified_timestamp_seconds", (double)h->last_modified);
    if (h->tls.have && h->tls.earliest > 0)
        add(r, "probe_ssl_earliest_cert_expiry", (double)h->tls.earliest);
    if (h->tls.have && h->tls.last_chain > 0)
        add(r, "probe_ssl_last_chain_expiry_timestamp_seconds", (double)h->tls.last_chain);
    const char *tv = h->tls.have ? tls_version_name(h->tls.version) : NULL;
    if (tv) {
        const char *lbl[] = {"version", tv, NULL};
        probe_run_add(r, "probe_tls_version_info", lbl, 1);
    }
    probe_run_set_state(r, NULL);
    run_free(h);
    if (msg[0])
        probe_run_done(r, ok, "%s", msg);
    else
        probe_run_done(r, ok, NULL);
}

static void set_method(CURL *e, const http_prep *p)
{
    switch (p->method) {
    case M_HEAD:
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    case M_POST:
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        break;
    case M_GET:
        if (!p->body)
            return;
        /* A GET with a body, as blackbox_exporter sends it. */
        /* fall through */
    default:
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_names[p->method]);
        if (p->method == M_OPTIONS && !p->body)
            return;
        break;
    }
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->body ? p->body : "");
}

/* Sets up the easy handle. Returns CURLE_OK or the code of an option curl refused. */
static CURLcode setup(http_run *h, const probe_def *d)
{
    const http_prep *p = h->p;
    CURL *e = h->easy;
    CURLcode rc;
#define OPT(o, v)                                                                                  \
    do {                                                                                           \
        if ((rc = curl_easy_setopt(e, o, v)) != CURLE_OK)                                          \
            return rc;                                                                             \
    } while (0)
    OPT(CURLOPT_URL, d->target);
    OPT(CURLOPT_PROTOCOLS_STR, "http,https");
    OPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    OPT(CURLOPT_FOLLOWLOCATION, (long)p->follow);
    OPT(CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
    OPT(CURLOPT_TIMEOUT_MS, (long)probe_run_remaining_ms(h->r));
    OPT(CURLOPT_USERAGENT, "dashdot-probe/" DD_VERSION);
    OPT(CURLOPT_ACCEPT_ENCODING, "");
    OPT(CURLOPT_IPRESOLVE, p->ipresolve);
    OPT(CURLOPT_FRESH_CONNECT, 1L);
    OPT(CURLOPT_FORBID_REUSE, 1L);
    OPT(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    OPT(CURLOPT_QUICK_EXIT, 1L);
    OPT(CURLOPT_PROXY, ""); /* never the environment's proxy: the probe checks the target */
    /* Certificates are checked in on_prereq against the loop's trust list; curl must neither
     * verify nor load a CA store of its own (it would at every handshake), nor resume a TLS
     * session (every request shows its full handshake and chain). */
    OPT(CURLOPT_SSL_VERIFYPEER, 0L);
    OPT(CURLOPT_SSL_VERIFYHOST, 0L);
    OPT(CURLOPT_CAINFO, NULL);
    OPT(CURLOPT_CAPATH, NULL);
    OPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    OPT(CURLOPT_PREREQFUNCTION, on_prereq);
    OPT(CURLOPT_PREREQDATA, h);
    OPT(CURLOPT_ERRORBUFFER, h->errbuf);
    OPT(CURLOPT_WRITEFUNCTION, on_write);
    OPT(CURLOPT_WRITEDATA, h);
    OPT(CURLOPT_HEADERFUNCTION, on_header);
    OPT(CURLOPT_HEADERDATA, h);
    if (p->headers)
        OPT(CURLOPT_HTTPHEADER, p->headers);
    if (p->user) {
        OPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        OPT(CURLOPT_USERNAME, p->user);
        OPT(CURLOPT_PASSWORD, p->password);
    } else if (p->bearer) {
        OPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        OPT(CURLOPT_XOAUTH2_BEARER, p->bearer);
    }
#undef OPT
    set_method(e, p);
    return CURLE_OK;
}

static void http_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    http_run *h = mem_calloc(1, sizeof *h);
    CURLcode cc;
    if (!h) {
        probe_run_done(r, 0, "out of memory");
        return;
    }
    h->r = r;
    h->p = d->prep;
    h->last_modified = -1;
    buf_init(&h->body, HTTP_BODY_MAX);
    if ((h->sh = probe_run_shared(r)) && h->p->verify && h->p->https)
        trust_refresh(h->sh); /* before the transfer, so no phase pays for it */
    if (!(h->mux = probe_run_curl(r)) || !(h->easy = curl_easy_init())) {
        run_free(h);
        probe_run_done(r, 0, "out of memory");
        return;
    }
    if ((cc = setup(h, d)) != CURLE_OK) {
        run_free(h);
        probe_run_done(r, 0, "curl refused an option: %s", curl_easy_strerror(cc));
        return;
    }
    if (curlmux_add(h->mux, h->easy, on_done, h)) {
        run_free(h);
        probe_run_done(r, 0, "out of memory");
        return;
    }
    probe_run_set_state(r, h);
}

static void http_cancel(probe_run *r)
{
    http_run *h = probe_run_state(r);
    probe_run_set_state(r, NULL);
    run_free(h); /* removes the transfer: its sockets close, no callback follows */
}

const probe_type probe_http_type = {
    .name = "http",
    .prepare = http_prepare,
    .release = http_release,
    .start = http_start,
    .cancel = http_cancel,
    .shared_init = http_shared_init,
    .shared_free = http_shared_free,
};
