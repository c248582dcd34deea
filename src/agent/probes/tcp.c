/* tcp: the tcp probe (resolve, connect, optional TLS, send, expect) on a tcpconn
 * (tcpconn.h).
 *
 * The tcp probe's samples follow blackbox_exporter's tcp prober: probe_dns_lookup_time_seconds,
 * probe_ip_protocol, probe_tcp_connect_duration_seconds, probe_failed_due_to_regex (with
 * expect), and with TLS probe_ssl_earliest_cert_expiry,
 * probe_ssl_last_chain_expiry_timestamp_seconds, probe_tls_version_info{version},
 * probe_tls_handshake_duration_seconds. They are added when the run ends, also when it is
 * cancelled at its timeout (what was learnt until then). */
#include "tcp.h"

#include "../../lib/log.h"
#include "../../lib/mem.h"
#include "probe.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/x509.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../lib/buf.h"

#define TCP_ANSWER_MAX 65536 /* the tcp probe reads at most this much for expect */
#define TCP_SEND_MAX 65536   /* longest "send" setting */

/* ---- the tcp probe's pieces ------------------------------------------------------------- */

int tcp_unescape(const char *s, char *out, size_t *outlen, char *err, size_t errcap)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        switch (s[i + 1]) {
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case '\\':
            out[o++] = '\\';
            break;
        case '\0':
            snprintf(err, errcap, "a lone backslash at the end (write \\\\ for one)");
            return -EINVAL;
        default:
            if ((unsigned char)s[i + 1] >= 0x20 && (unsigned char)s[i + 1] < 0x7f)
                snprintf(err, errcap,
                         "unknown escape \\%c at byte %zu (\\n \\r \\t \\\\ are known)", s[i + 1],
                         i);
            else
                snprintf(err, errcap, "unknown escape at byte %zu (\\n \\r \\t \\\\ are known)", i);
            return -EINVAL;
        }
        i++;
    }
    *outlen = o;
    return 0;
}

struct tcp_expect {
    pcre2_general_context *gc;
    pcre2_code *re;
    pcre2_match_context *mc;
};

void tcp_expect_free(tcp_expect *e)
{
    if (!e)
        return;
    pcre2_match_context_free(e->mc);
    pcre2_code_free(e->re);
    pcre2_general_context_free(e->gc);
    mem_free(e);
}

int tcp_expect_new(tcp_expect **out, const char *re, char *err, size_t errcap)
{
    int rc = -ENOMEM, ec;
    PCRE2_SIZE eo;
    pcre2_compile_context *cc = NULL;
    tcp_expect *e = mem_calloc(1, sizeof *e);
    *out = NULL;
    if (!e || !(e->gc = pcre2_general_context_create(probe_pcre2_alloc, probe_pcre2_free, NULL)) ||
        !(cc = pcre2_compile_context_create(e->gc)) || !(e->mc = pcre2_match_context_create(e->gc)))
        goto out;
    pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
    e->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &ec, &eo, cc);
    if (!e->re) {
        PCRE2_UCHAR msg[160];
        if (ec == PCRE2_ERROR_NOMEMORY)
            goto out;
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errcap, "%s at offset %zu", (const char *)msg, (size_t)eo);
        rc = -EINVAL;
        goto out;
    }
    /* JIT where the platform has it; the interpreter otherwise. The limits keep a
     * pathological expression from holding the agent's loop. */
    pcre2_jit_compile(e->re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_SOFT);
    pcre2_set_match_limit(e->mc, 1000000);
    pcre2_set_depth_limit(e->mc, 10000);
    pcre2_set_heap_limit(e->mc, 20000); /* KiB */
    *out = e;
    e = NULL;
    rc = 0;
out:
    pcre2_compile_context_free(cc);
    tcp_expect_free(e);
    return rc;
}

int tcp_scan_init(tcp_scan *s, const tcp_expect *e)
{
    s->from = 0;
    s->md = pcre2_match_data_create_from_pattern(e->re, e->gc);
    return s->md ? 0 : -ENOMEM;
}

void tcp_scan_free(tcp_scan *s)
{
    pcre2_match_data_free(s->md);
    s->md = NULL;
}

int tcp_scan_step(tcp_scan *s, const tcp_expect *e, const char *data, size_t len)
{
    if (s->from > len)
        s->from = len;
    int rc = pcre2_match(e->re, (PCRE2_SPTR)data, len, s->from, PCRE2_PARTIAL_SOFT, s->md, e->mc);
    if (rc >= 0)
        return 1;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        /* Every start so far failed before reaching the end: more bytes cannot change that. */
        s->from = len;
        return 0;
    case PCRE2_ERROR_PARTIAL:
        s->from = pcre2_get_ovector_pointer(s->md)[0];
        return 0;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return -E2BIG;
    default:
        return -EIO;
    }
}

/* ---- the tcp probe ------------------------------------------------------------------------ */

typedef struct tcp_prep {
    char *send;
    size_t send_len;
    char *expect_src;
    tcp_expect *expect;
    int tls, tls_verify;
    resolve_family family;
} tcp_prep;

typedef struct tcp_run {
    probe_run *r;
    const tcp_prep *p;
    tcpconn *c;
    tcp_scan scan;
    int regex_failed;
} tcp_run;

static void tcp_release(void *prep)
{
    tcp_prep *p = prep;
    if (!p)
        return;
    mem_free(p->send);
    mem_free(p->expect_src);
    tcp_expect_free(p->expect);
    mem_free(p);
}

/* A string setting: absent, null or "" give NULL. Returns 0 or -EINVAL. */
static int get_string(const json_t *st, const char *k, const char **out, char *err, size_t errcap)
{
    json_t *v = json_object_get(st, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(err, errcap, "\"%s\" must be a string without NUL bytes", k);
        return -EINVAL;
    }
    if (json_string_length(v))
        *out = json_string_value(v);
    return 0;
}

static int tcp_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    const char *send = NULL, *expect = NULL, *ipp = NULL;
    char why[200] = "";
    int rc;
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address");
        return -EINVAL;
    }
    if (!d->port) {
        snprintf(err, errcap, "the endpoint has no port");
        return -EINVAL;
    }
    tcp_prep *p = mem_calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    if ((rc = get_string(d->settings, "send", &send, err, errcap)) ||
        (rc = get_string(d->settings, "expect", &expect, err, errcap)) ||
        (rc = get_string(d->settings, "ip_protocol", &ipp, err, errcap)) ||
        (rc = probe_setting_bool(d->settings, "tls", 0, &p->tls, err, errcap)) ||
        (rc = probe_setting_bool(d->settings, "tls_verify", 1, &p->tls_verify, err, errcap)))
        goto fail;
    if (!ipp || !strcmp(ipp, "auto")) {
        p->family = RESOLVE_ANY;
    } else if (!strcmp(ipp, "ipv4")) {
        p->family = RESOLVE_IPV4;
    } else if (!strcmp(ipp, "ipv6")) {
        p->family = RESOLVE_IPV6;
    } else {
        snprintf(err, errcap, "\"ip_protocol\" must be auto, ipv4 or ipv6");
        rc = -EINVAL;
        goto fail;
    }
    if (send) {
        if (strlen(send) > TCP_SEND_MAX) {
            snprintf(err, errcap, "\"send\" is longer than %d bytes", TCP_SEND_MAX);
            rc = -EINVAL;
            goto fail;
        }
        if (!(p->send = mem_alloc(strlen(send) + 1))) {
            rc = -ENOMEM;
            goto fail;
        }
        if ((rc = tcp_unescape(send, p->send, &p->send_len, why, sizeof why))) {
            snprintf(err, errcap, "\"send\": %s", why);
            goto fail;
        }
    }
    if (expect) {
        if (!(p->expect_src = mem_strdup(expect))) {
            rc = -ENOMEM;
            goto fail;
        }
        if ((rc = tcp_expect_new(&p->expect, expect, why, sizeof why))) {
            if (rc == -EINVAL)
                snprintf(err, errcap, "\"expect\" is not a valid regular expression: %s", why);
            goto fail;
        }
    }
    *prep = p;
    return 0;
fail:
    tcp_release(p);
    return rc;
}

/* The samples of what the connection learnt; at the end of a run, also a cancelled one. */
static void add_samples(tcp_run *t)
{
    probe_run *r = t->r;
    const tcp_prep *p = t->p;
    const tcpconn_info *i = t->c ? tcpconn_get_info(t->c) : NULL;
    if (i && i->resolved)
        probe_run_add(r, "probe_dns_lookup_time_seconds", NULL, i->dns_s);
    if (i && i->family)
        probe_run_add(r, "probe_ip_protocol", NULL, i->family);
    if (i && i->connect_ended)
        probe_run_add(r, "probe_tcp_connect_duration_seconds", NULL, i->connect_s);
    if (i && p->tls && i->have_certs) {
        probe_run_add(r, "probe_ssl_earliest_cert_expiry", NULL, (double)i->earliest_expiry);
        probe_run_add(r, "probe_ssl_last_chain_expiry_timestamp_seconds", NULL,
                      (double)i->last_chain_expiry);
    }
    if (i && p->tls && i->tls_done) {
        const char *l[] = {"version", i->tls_version, NULL};
        probe_run_add(r, "probe_tls_version_info", l, 1);
        probe_run_add(r, "probe_tls_handshake_duration_seconds", NULL, i->tls_s);
    }
    if (p->expect)
        probe_run_add(r, "probe_failed_due_to_regex", NULL, t->regex_failed);
}

static void free_run(tcp_run *t)
{
    tcpconn_close(t->c);
    tcp_scan_free(&t->scan);
    mem_free(t);
}

static void finish(tcp_run *t, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(tcp_run *t, int ok, const char *fmt, ...)
{
    char msg[PROBE_MSG_MAX] = "";
    probe_run *r = t->r;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    add_samples(t);
    probe_run_set_state(r, NULL);
    free_run(t);
    probe_run_done(r, ok, "%s", msg);
}

static void regex_failed(tcp_run *t, const char *why)
{
    t->regex_failed = 1;
    finish(t, 0, "answer does not match /%.200s/ (%s)", t->p->expect_src, why);
}

static void on_event(void *ctx, tcpconn *c, tcpconn_event ev)
{
    tcp_run *t = ctx;
    const tcp_prep *p = t->p;
    size_t len;
    const char *data;
    switch (ev) {
    case TCPCONN_RESOLVED:
    case TCPCONN_CONNECTED:
        return;
    case TCPCONN_READY:
        if (p->send_len) {
            int rc = tcpconn_write(c, p->send, p->send_len);
            if (rc)
                finish(t, 0, "send: %s", rc == -ENOMEM ? "out of memory" : "refused by TLS");
        } else if (!p->expect) {
            finish(t, 1, NULL);
        }
        return;
    case TCPCONN_SENT:
        if (!p->expect)
            finish(t, 1, NULL);
        return;
    case TCPCONN_DATA:
        if (!p->expect)
            return;
        data = tcpconn_data(c, &len);
        switch (tcp_scan_step(&t->scan, p->expect, data, len)) {
        case 1:
            finish(t, 1, NULL);
            return;
        case 0:
            return;
        case -E2BIG:
            finish(t, 0, "expect: the regular expression gave up (backtracking limit)");
            return;
        default:
            finish(t, 0, "expect: the regular expression failed");
            return;
        }
    case TCPCONN_FULL:
        if (p->expect)
            regex_failed(t, "not in the first 64 KiB");
        return;
    case TCPCONN_EOF:
        if (p->expect) {
            char why[64];
            tcpconn_data(c, &len);
            snprintf(why, sizeof why, "the peer closed after %zu bytes", len);
            regex_failed(t, why);
        }
        return;
    case TCPCONN_ERROR:
        finish(t, 0, "%s", tcpconn_error(c));
        return;
    }
}

static void tcp_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    const tcp_prep *p = d->prep;
    tcp_run *t = mem_calloc(1, sizeof *t);
    gnutls_certificate_credentials_t cred = NULL;
    if (!t || (p->expect && tcp_scan_init(&t->scan, p->expect))) {
        if (t)
            tcp_scan_free(&t->scan);
        mem_free(t);
        probe_run_done(r, 0, "out of memory");
        return;
    }
    if (p->tls && !(cred = probe_run_shared(r))) {
        tcp_scan_free(&t->scan);
        mem_free(t);
        probe_run_done(r, 0, "TLS: cannot make credentials (out of memory)");
        return;
    }
    t->r = r;
    t->p = p;
    probe_run_set_state(r, t);
    tcpconn_opts o = {.host = d->address,
                      .port = d->port,
                      .family = p->family,
                      .in_max = TCP_ANSWER_MAX,
                      .tls = cred,
                      .tls_verify = p->tls_verify};
    /* Events may come (and end the run) before tcpconn_open returns. */
    int rc = tcpconn_open(&t->c, probe_run_loop(r), probe_run_resolver(r), &o, on_event, t);
    if (rc) {
        probe_run_set_state(r, NULL);
        free_run(t);
        probe_run_done(r, 0, "%s", rc == -ENOMEM ? "out of memory" : "bad address or port");
    }
}

static void tcp_cancel(probe_run *r)
{
    tcp_run *t = probe_run_state(r);
    if (!t)
        return;
    add_samples(t); /* what was learnt before the timeout */
    probe_run_set_state(r, NULL);
    free_run(t);
}

static int tcp_shared_init(uv_loop_t *loop, void **shared)
{
    gnutls_certificate_credentials_t cred;
    (void)loop;
    if (gnutls_certificate_allocate_credentials(&cred) < 0)
        return -ENOMEM;
    int n = gnutls_certificate_set_x509_system_trust(cred);
    if (n <= 0)
        log_warn("tcp probe: no trusted certificates from the system's store (%s): TLS "
                 "verification will fail",
                 n < 0 ? gnutls_strerror(n) : "it is empty");
    *shared = cred;
    return 0;
}

static void tcp_shared_free(void *shared)
{
    gnutls_certificate_free_credentials(shared);
}

const probe_type probe_tcp_type = {
    .name = "tcp",
    .prepare = tcp_prepare,
    .release = tcp_release,
    .start = tcp_start,
    .cancel = tcp_cancel,
    .shared_init = tcp_shared_init,
    .shared_free = tcp_shared_free,
};
