/* test_probe_tcp: the tcp probe's pieces and the connection under it (probes/tcp.h):
 * escape decoding of "send", the "expect" regular expression and its incremental scan
 * (line anchors, partial matches across reads, linear cost, a pathological expression),
 * settings the probe refuses, and tcpconn on a real loop against servers in a thread on
 * 127.0.0.1 — plain (echo, bounded input with FULL and consume, refused, wrong family, closing
 * inside every event) and TLS with certificates made here (a trusted chain with the expiry of
 * its anchor, host name mismatch, expired, self-signed, unknown authority, a peer that hangs
 * up mid-handshake, bulk data through a small input) — and one probe run cancelled at its
 * timeout that still reports what it learnt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes/probe.h"
#include "agent/probes/sched.h"
#include "agent/probes/tcp.h"
#include "lib/buf.h"
#include "lib/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- send escapes ------------------------------------------------------------------------------
 */

static void unescape_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *out;
        size_t outlen;
        const char *err;
    } cases[] = {
        {"HELO x\\r\\n", 0, "HELO x\r\n", 8, NULL},
        {"a\\tb\\\\c\\n", 0, "a\tb\\c\n", 6, NULL},
        {"plain", 0, "plain", 5, NULL},
        {"", 0, "", 0, NULL},
        {"\\\\n", 0, "\\n", 2, NULL},
        {"\\\\\\\\", 0, "\\\\", 2, NULL},
        {"tab\tkept", 0, "tab\tkept", 8, NULL},
        {"a\\x41", -EINVAL, NULL, 0, "unknown escape \\x at byte 1"},
        {"\\0", -EINVAL, NULL, 0, "unknown escape \\0 at byte 0"},
        {"ends\\", -EINVAL, NULL, 0, "a lone backslash at the end"},
        {"\\\"", -EINVAL, NULL, 0, "unknown escape \\\" at byte 0"},
        {"\\\x01", -EINVAL, NULL, 0, "unknown escape at byte 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64], err[128] = "";
        size_t outlen = 999;
        int rc = tcp_unescape(cases[i].in, out, &outlen, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("unescape(\"%s\"): rc %d, want %d", cases[i].in, rc, cases[i].rc);
        if (rc == 0 && (outlen != cases[i].outlen || memcmp(out, cases[i].out, outlen)))
            fail_msg("unescape(\"%s\"): wrong output (%zu bytes)", cases[i].in, outlen);
        if (rc != 0 && outlen != 999)
            fail_msg("unescape(\"%s\"): length written on failure", cases[i].in);
        if (rc != 0 && !strstr(err, cases[i].err))
            fail_msg("unescape(\"%s\"): reason \"%s\", want \"%s\"", cases[i].in, err,
                     cases[i].err);
    }
}

/* ---- expect -----------------------------------------------------------------------------------
 */

static void expect_compile_errors(void **state)
{
    (void)state;
    tcp_expect *e = (tcp_expect *)1;
    char err[200] = "";
    assert_int_equal(tcp_expect_new(&e, "220 (ready", err, sizeof err), -EINVAL);
    assert_null(e);
    assert_non_null(strstr(err, "missing closing parenthesis at offset 10"));
    assert_int_equal(tcp_expect_new(&e, "a{2,1}", err, sizeof err), -EINVAL);
    assert_int_equal(tcp_expect_new(&e, "^SSH-2\\.0-", err, sizeof err), 0);
    tcp_expect_free(e);
    tcp_expect_free(NULL);
}

/* Feeds answer in chunks of `step` bytes; returns the offset after which the scan matched,
 * or -1 if it never did, or the scan's error. */
static long scan_in_steps(const char *re, const char *answer, size_t step)
{
    tcp_expect *e = NULL;
    tcp_scan s;
    char err[200];
    long at = -1;
    assert_int_equal(tcp_expect_new(&e, re, err, sizeof err), 0);
    assert_int_equal(tcp_scan_init(&s, e), 0);
    size_t n = strlen(answer);
    for (size_t len = step < n ? step : n;; len = len + step < n ? len + step : n) {
        int rc = tcp_scan_step(&s, e, answer, len);
        if (rc < 0) {
            at = rc;
            break;
        }
        if (rc == 1) {
            at = (long)len;
            break;
        }
        if (len == n)
            break;
    }
    tcp_scan_free(&s);
    tcp_expect_free(e);
    return at;
}

static void expect_scan_table(void **state)
{
    (void)state;
    static const struct {
        const char *re, *answer;
        long at1, at_all; /* fed a byte at a time; fed whole */
    } cases[] = {
        {"220", "220 ready\r\n", 3, 11},
        {"^250 ok$", "220 ready\r\n250 ok\r\n", 17, 19},
        {"^ready", "220 ready\r\n", -1, -1}, /* ^ is a line start, not any position */
        {"ready$", "220 ready\r\nx", 9, 12}, /* $ before CR LF, and at the end so far */
        {"^x$", "220\rx\r", 5, 6},           /* a lone CR ends a line too */
        {"a.b", "a\nb a\rb axb", 11, 11},    /* . does not match line ends */
        {"(?s)a.b", "a\nb", 3, 3},
        {"ready\\s*", "220 ready", 9, 9}, /* a match at the end is a match */
        {"SSH-2\\.0-\\S+", "SSH-2.0-OpenSSH_9.2p1 Debian\r\n", 9, 30},
        {"bbb", "abababbbx", 8, 9},
        {"[0-9]{3} ok", "25 ok 250 ok", 12, 12},
        {"", "anything", 1, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long a1 = scan_in_steps(cases[i].re, cases[i].answer, 1);
        long aa = scan_in_steps(cases[i].re, cases[i].answer, strlen(cases[i].answer));
        if (a1 != cases[i].at1 || aa != cases[i].at_all)
            fail_msg("/%s/ on \"%s\": matched at %ld and %ld, want %ld and %ld", cases[i].re,
                     cases[i].answer, a1, aa, cases[i].at1, cases[i].at_all);
    }
}

static void expect_scan_is_linear(void **state)
{
    (void)state;
    /* 64 KiB arriving a byte at a time: every step scans only what could still start a match,
     * so the scan start never falls behind by more than a partial match's length. */
    tcp_expect *e = NULL;
    tcp_scan s;
    char err[200];
    size_t n = 65536;
    char *ans = mem_alloc(n + 1);
    assert_non_null(ans);
    for (size_t i = 0; i < n; i++)
        ans[i] = i % 40 == 39 ? '\n' : "250 not yet "[i % 12];
    ans[n] = '\0';
    assert_int_equal(tcp_expect_new(&e, "^250 ok$", err, sizeof err), 0);
    assert_int_equal(tcp_scan_init(&s, e), 0);
    for (size_t len = 1; len <= n; len++) {
        assert_int_equal(tcp_scan_step(&s, e, ans, len), 0);
        assert_true(len - s.from <= 8);
    }
    tcp_scan_free(&s);
    tcp_expect_free(e);
    mem_free(ans);
}

static void expect_pathological_gives_up(void **state)
{
    (void)state;
    char ans[64];
    memset(ans, 'a', 40);
    ans[40] = '!';
    ans[41] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(scan_in_steps("^(a+)+$", ans, 41), -E2BIG);
    assert_int_equal(scan_in_steps("^(\\w+\\s?)*$", ans, 41), -E2BIG);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
}

/* ---- settings the probes refuse ------------------------------------------------------------- */

static void settings_refused(void **state)
{
    (void)state;
    static const struct {
        const char *type, *settings;
        int port;
        const char *why;
    } cases[] = {
        {"tcp", "{}", 0, "the endpoint has no port"},
        {"tcp", "{\"send\":\"a\\\\q\"}", 1, "\"send\": unknown escape \\q at byte 1"},
        {"tcp", "{\"send\":5}", 1, "\"send\" must be a string"},
        {"tcp", "{\"expect\":\"(\"}", 1, "\"expect\" is not a valid regular expression"},
        {"tcp", "{\"tls\":\"yes\"}", 1, "\"tls\" must be true or false"},
        {"tcp", "{\"tls_verify\":1}", 1, "\"tls_verify\" must be true or false"},
        {"tcp", "{\"ip_protocol\":\"ipv5\"}", 1, "\"ip_protocol\" must be auto, ipv4 or ipv6"},
        {"munin", "{\"plugins\":\"load\"}", 0, "\"plugins\" must be a list"},
        {"munin", "{\"plugins\":[\"load\",\"a b\"]}", 0, "\"plugins\" entry 2 is not"},
        {"munin", "{\"plugins\":[7]}", 0, "\"plugins\" entry 1 is not"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], err[512] = "";
        snprintf(text, sizeof text,
                 "{\"probe\":1,\"type\":\"%s\",\"name\":\"n\",\"target\":\"t\","
                 "\"address\":\"127.0.0.1\",\"port\":%d,\"settings\":%s}",
                 cases[i].type, cases[i].port, cases[i].settings);
        json_t *o = json_loads(text, 0, NULL);
        assert_non_null(o);
        probe_def *d = NULL;
        int rc = probe_def_from_json(o, &d, err, sizeof err);
        json_decref(o);
        if (rc != -EINVAL || !strstr(err, cases[i].why))
            fail_msg("%s %s: rc %d \"%s\", want \"%s\"", cases[i].type, cases[i].settings, rc, err,
                     cases[i].why);
        probe_def_unref(d);
    }
    /* What the catalog fills in is fine. */
    const char *ok = "{\"probe\":1,\"type\":\"tcp\",\"name\":\"n\",\"target\":\"t\",\"address\":"
                     "\"db\",\"port\":5432,\"settings\":{\"send\":\"\",\"expect\":\"\","
                     "\"tls\":false,\"tls_verify\":true,\"ip_protocol\":\"auto\"}}";
    json_t *o = json_loads(ok, 0, NULL);
    probe_def *d = NULL;
    char err[256];
    assert_int_equal(probe_def_from_json(o, &d, err, sizeof err), 0);
    json_decref(o);
    probe_def_unref(d);
}

/* ---- certificates ------------------------------------------------------------------------------
 */

typedef struct pki {
    gnutls_x509_privkey_t ca_key, key, self_key;
    gnutls_x509_crt_t ca, leaf, mismatch, expired, self;
    time_t ca_exp, leaf_exp, expired_exp;
} pki;

static pki P;
static gnutls_datum_t ticket_key; /* the servers' session ticket key */

static gnutls_x509_crt_t make_cert(const char *cn, gnutls_x509_privkey_t key, int is_ca,
                                   time_t from, time_t to, const char *dns, const char *ip,
                                   gnutls_x509_crt_t issuer, gnutls_x509_privkey_t ikey)
{
    static unsigned char serial = 1;
    gnutls_x509_crt_t c;
    unsigned char id[64], sn[2] = {0x10, serial++};
    size_t idlen = sizeof id;
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    assert_int_equal(gnutls_x509_crt_set_version(c, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(c, sn, sizeof sn), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(c, from), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(c, to), 0);
    assert_int_equal(
        gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)),
        0);
    assert_int_equal(gnutls_x509_crt_set_key(c, key), 0);
    assert_int_equal(gnutls_x509_crt_set_basic_constraints(c, is_ca, -1), 0);
    assert_int_equal(
        gnutls_x509_crt_set_key_usage(c, is_ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                                               : GNUTLS_KEY_DIGITAL_SIGNATURE),
        0);
    if (!is_ca)
        assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_TLS_WWW_SERVER, 0), 0);
    if (dns)
        assert_int_equal(gnutls_x509_crt_set_subject_alt_name(
                             c, GNUTLS_SAN_DNSNAME, dns, (unsigned)strlen(dns), GNUTLS_FSAN_APPEND),
                         0);
    if (ip) {
        unsigned char a[4];
        assert_int_equal(inet_pton(AF_INET, ip, a), 1);
        assert_int_equal(
            gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, a, 4, GNUTLS_FSAN_APPEND),
            0);
    }
    assert_int_equal(gnutls_x509_crt_get_key_id(c, 0, id, &idlen), 0);
    assert_int_equal(gnutls_x509_crt_set_subject_key_id(c, id, idlen), 0);
    if (issuer) {
        idlen = sizeof id;
        assert_int_equal(gnutls_x509_crt_get_subject_key_id(issuer, id, &idlen, NULL), 0);
        assert_int_equal(gnutls_x509_crt_set_authority_key_id(c, id, idlen), 0);
    }
    assert_int_equal(
        gnutls_x509_crt_sign2(c, issuer ? issuer : c, issuer ? ikey : key, GNUTLS_DIG_SHA256, 0),
        0);
    return c;
}

static gnutls_x509_privkey_t make_key(void)
{
    gnutls_x509_privkey_t k;
    assert_int_equal(gnutls_x509_privkey_init(&k), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    return k;
}

static int pki_setup(void **state)
{
    (void)state;
    time_t now = time(NULL), day = 86400;
    assert_int_equal(gnutls_session_ticket_key_generate(&ticket_key), 0);
    P.ca_key = make_key();
    P.key = make_key();
    P.self_key = make_key();
    /* The anchor expires before the leaf, so the chain's expiry is the anchor's. */
    P.ca_exp = now + 20 * day;
    P.leaf_exp = now + 30 * day;
    P.expired_exp = now - 10 * day;
    P.ca = make_cert("dashdot test CA", P.ca_key, 1, now - day, P.ca_exp, NULL, NULL, NULL, NULL);
    P.leaf = make_cert("localhost", P.key, 0, now - day, P.leaf_exp, "localhost", "127.0.0.1", P.ca,
                       P.ca_key);
    P.mismatch =
        make_cert("other", P.key, 0, now - day, P.leaf_exp, "other.example", NULL, P.ca, P.ca_key);
    P.expired = make_cert("localhost", P.key, 0, now - 20 * day, P.expired_exp, "localhost",
                          "127.0.0.1", P.ca, P.ca_key);
    P.self = make_cert("localhost", P.self_key, 0, now - day, P.leaf_exp, "localhost", "127.0.0.1",
                       NULL, NULL);
    return 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    gnutls_x509_crt_t crts[] = {P.ca, P.leaf, P.mismatch, P.expired, P.self};
    for (size_t i = 0; i < sizeof crts / sizeof crts[0]; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_x509_privkey_deinit(P.ca_key);
    gnutls_x509_privkey_deinit(P.key);
    gnutls_x509_privkey_deinit(P.self_key);
    gnutls_free(ticket_key.data);
    return 0;
}

/* Client credentials trusting the test CA (or nothing). */
static gnutls_certificate_credentials_t client_cred(int trust_ca)
{
    gnutls_certificate_credentials_t c;
    assert_int_equal(gnutls_certificate_allocate_credentials(&c), 0);
    if (trust_ca)
        assert_int_equal(gnutls_certificate_set_x509_trust(c, &P.ca, 1), 1);
    return c;
}

/* ---- a server in a thread ------------------------------------------------------------------- */

typedef struct server {
    int lfd, port;
    pthread_t th;
    gnutls_certificate_credentials_t cred; /* TLS with these, or plain */
    const char *hello;                     /* sent first */
    size_t bulk;                           /* then this many bytes of a pattern */
    int echo;                              /* then echo until "bye\n" */
    int hold;                              /* then wait for the client to close */
    int hangup; /* 1: accept and close at once; 2: read something first */
} server;

static ssize_t srv_send(gnutls_session_t s, int fd, const void *p, size_t n)
{
    return s ? gnutls_record_send(s, p, n) : send(fd, p, n, MSG_NOSIGNAL);
}

static ssize_t srv_recv(gnutls_session_t s, int fd, void *p, size_t n)
{
    ssize_t k;
    do
        k = s ? gnutls_record_recv(s, p, n) : recv(fd, p, n, 0);
    while (s && (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED));
    return k;
}

static void *server_main(void *arg)
{
    server *sv = arg;
    gnutls_session_t s = NULL;
    struct pollfd pfd = {.fd = sv->lfd, .events = POLLIN};
    if (poll(&pfd, 1, 10000) != 1)
        return NULL;
    int fd = accept(sv->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (sv->hangup == 2) {
        char b[4096];
        if (recv(fd, b, sizeof b, 0) < 0)
            goto done;
    }
    if (sv->hangup)
        goto done;
    if (sv->cred) {
        int rc;
        gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
        gnutls_set_default_priority(s);
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, sv->cred);
        gnutls_transport_set_int(s, fd);
        /* Session tickets: TLS 1.3 sends them after the handshake, right before our hello. */
        gnutls_session_ticket_enable_server(s, &ticket_key);
        do
            rc = gnutls_handshake(s);
        while (rc < 0 && !gnutls_error_is_fatal(rc));
        if (rc < 0)
            goto done;
    }
    if (sv->hello)
        srv_send(s, fd, sv->hello, strlen(sv->hello));
    for (size_t sent = 0; sent < sv->bulk;) {
        char chunk[8192];
        size_t n = sv->bulk - sent < sizeof chunk ? sv->bulk - sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (char)('a' + (sent + i) % 26);
        ssize_t k = srv_send(s, fd, chunk, n);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    if (sv->echo) {
        char b[4096], seen[8] = "";
        for (;;) {
            ssize_t k = srv_recv(s, fd, b, sizeof b);
            if (k <= 0)
                break;
            srv_send(s, fd, b, (size_t)k);
            for (ssize_t i = 0; i < k; i++) { /* the last 4 bytes seen */
                memmove(seen, seen + 1, 3);
                seen[3] = b[i];
            }
            if (!memcmp(seen, "bye\n", 4))
                break;
        }
    }
    if (sv->hold) {
        char b[256];
        while (srv_recv(s, fd, b, sizeof b) > 0)
            ;
    }
    if (s)
        gnutls_bye(s, GNUTLS_SHUT_WR);
done:
    if (s)
        gnutls_deinit(s);
    close(fd);
    return NULL;
}

static void server_start(server *sv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sv->lfd >= 0);
    assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(sv->lfd, 4), 0);
    assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &len), 0);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

/* Waits for the server's end. A server still waiting for its client (the client gave up
 * before connecting) is woken by a connection that closes at once. */
static void server_join(server *sv)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)sv->port)};
    int poke = socket(AF_INET, SOCK_STREAM, 0);
    if (poke >= 0) {
        if (connect(poke, (struct sockaddr *)&a, sizeof a)) {
            /* nothing listens any more: fine */
        }
        close(poke);
    }
    pthread_join(sv->th, NULL);
    close(sv->lfd);
}

/* ---- a client on a loop ------------------------------------------------------------------- */

typedef struct client {
    uv_loop_t loop;
    uv_timer_t guard;
    tcpconn *c;
    char events[256]; /* one letter per event: r c y d f s e x (the first 255) */
    size_t nev;
    char last; /* the last event's letter */
    buf got;
    const char *say; /* written at READY */
    int close_at;    /* an event letter: close there */
    int consume_on_full_only;
    char err[256];
    tcpconn_info info;
    char version[16]; /* info.tls_version, kept past the connection */
    int done;
} client;

static const char letters[] = "rcydfsex";

static void client_end(client *k)
{
    if (k->done)
        return;
    k->done = 1;
    k->info = *tcpconn_get_info(k->c);
    snprintf(k->version, sizeof k->version, "%s", k->info.tls_version ? k->info.tls_version : "");
    k->info.tls_version = k->version;
    snprintf(k->err, sizeof k->err, "%s", tcpconn_error(k->c));
    tcpconn_close(k->c);
    uv_timer_stop(&k->guard);
    uv_close((uv_handle_t *)&k->guard, NULL);
}

static void take(client *k)
{
    size_t len;
    const char *d = tcpconn_data(k->c, &len);
    buf_append(&k->got, d, len);
    tcpconn_consume(k->c, len);
}

static void on_client_event(void *ctx, tcpconn *c, tcpconn_event ev)
{
    client *k = ctx;
    k->c = c;
    assert_false(k->done); /* nothing after close */
    if (k->nev + 1 < sizeof k->events)
        k->events[k->nev++] = letters[ev];
    k->last = letters[ev];
    if (letters[ev] == k->close_at) {
        client_end(k);
        return;
    }
    switch (ev) {
    case TCPCONN_READY:
        if (k->say)
            assert_int_equal(tcpconn_write(c, k->say, strlen(k->say)), 0);
        break;
    case TCPCONN_DATA:
        if (!k->consume_on_full_only)
            take(k);
        break;
    case TCPCONN_FULL:
        take(k);
        break;
    case TCPCONN_EOF:
        take(k); /* what is left in the input */
        client_end(k);
        break;
    case TCPCONN_ERROR:
        client_end(k);
        break;
    default:
        break;
    }
}

static void on_guard(uv_timer_t *t)
{
    client *k = t->data;
    snprintf(k->events + k->nev, sizeof k->events - k->nev, "T");
    client_end(k);
}

/* Connects to host:port with opts, runs the loop until the connection ends. */
static void client_run(client *k, const char *host, int port, resolve_family fam, size_t in_max,
                       gnutls_certificate_credentials_t cred, int verify)
{
    uv_loop_init(&k->loop);
    buf_init(&k->got, 0);
    uv_timer_init(&k->loop, &k->guard);
    k->guard.data = k;
    uv_timer_start(&k->guard, on_guard, 10000, 0);
    tcpconn_opts o = {.host = host,
                      .port = port,
                      .family = fam,
                      .in_max = in_max,
                      .tls = cred,
                      .tls_verify = verify};
    tcpconn *c = NULL;
    assert_int_equal(tcpconn_open(&c, &k->loop, NULL, &o, on_client_event, k), 0);
    k->c = c;
    uv_run(&k->loop, UV_RUN_DEFAULT);
    k->events[k->nev] = '\0';
    assert_int_equal(uv_loop_close(&k->loop), 0);
}

static void client_free(client *k)
{
    buf_free(&k->got);
}

static void plain_echo(void **state)
{
    (void)state;
    server sv = {.hello = "hello\n", .echo = 1};
    client k = {.say = "ping\nbye\n"};
    server_start(&sv);
    client_run(&k, "127.0.0.1", sv.port, RESOLVE_ANY, 1024, NULL, 0);
    server_join(&sv);
    assert_string_equal(k.got.data, "hello\nping\nbye\n");
    assert_non_null(strchr(k.events, 's'));
    assert_int_equal(k.events[0], 'r');
    assert_int_equal(k.events[1], 'c');
    assert_int_equal(k.events[2], 'y');
    assert_int_equal(k.last, 'e');
    assert_string_equal(k.err, "");
    assert_int_equal(k.info.family, 4);
    assert_true(k.info.resolved && k.info.connect_ended && !k.info.tls_done);
    client_free(&k);
}

static void plain_bounded_input(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        server sv = {.bulk = 300000};
        client k = {.consume_on_full_only = mode};
        server_start(&sv);
        client_run(&k, "127.0.0.1", sv.port, RESOLVE_ANY, 1000, NULL, 0);
        server_join(&sv);
        assert_int_equal(k.got.len, 300000);
        for (size_t i = 0; i < k.got.len; i++)
            if (k.got.data[i] != (char)('a' + i % 26))
                fail_msg("byte %zu is wrong", i);
        if (mode)
            assert_non_null(strchr(k.events, 'f'));
        assert_int_equal(k.last, 'e');
        client_free(&k);
    }
}

static void plain_refused_and_wrong_family(void **state)
{
    (void)state;
    server sv = {.hangup = 1};
    server_start(&sv);
    int port = sv.port;
    /* Let the server go, then its port is closed. */
    client k0 = {0};
    client_run(&k0, "127.0.0.1", port, RESOLVE_ANY, 16, NULL, 0);
    server_join(&sv);
    client_free(&k0);
    client k = {0};
    client_run(&k, "127.0.0.1", port, RESOLVE_ANY, 16, NULL, 0);
    assert_string_equal(k.err, "connect: connection refused");
    assert_string_equal(k.events, "rx");
    assert_true(k.info.connect_ended);
    client_free(&k);
    /* The address is not of the wanted family: an error before tcpconn_open returns. */
    client k2 = {0};
    client_run(&k2, "127.0.0.1", port, RESOLVE_IPV6, 16, NULL, 0);
    assert_string_equal(k2.events, "x");
    assert_non_null(strstr(k2.err, "resolve 127.0.0.1: the address is not of the wanted"));
    client_free(&k2);
    /* A name without a resolver. */
    client k3 = {0};
    client_run(&k3, "db.example", port, RESOLVE_ANY, 16, NULL, 0);
    assert_non_null(strstr(k3.err, "no resolver"));
    client_free(&k3);
}

static void close_inside_every_event(void **state)
{
    (void)state;
    gnutls_certificate_credentials_t cc = client_cred(1), sc;
    assert_int_equal(gnutls_certificate_allocate_credentials(&sc), 0);
    assert_int_equal(gnutls_certificate_set_x509_key(sc, &P.leaf, 1, P.key), 0);
    const char *at = "rcyds";
    for (int tls = 0; tls < 2; tls++) {
        for (const char *e = at; *e; e++) {
            server sv = {.hello = "hi\n", .echo = 1, .cred = tls ? sc : NULL};
            client k = {.close_at = *e, .say = "x\n"};
            server_start(&sv);
            client_run(&k, "127.0.0.1", sv.port, RESOLVE_ANY, 64, tls ? cc : NULL, 1);
            server_join(&sv);
            if (k.last != *e)
                fail_msg("tls %d: closed at %c but saw \"%s\"", tls, *e, k.events);
            client_free(&k);
        }
    }
    gnutls_certificate_free_credentials(sc);
    gnutls_certificate_free_credentials(cc);
}

/* ---- TLS ---------------------------------------------------------------------------------- */

typedef struct tls_case {
    gnutls_x509_crt_t *chain;
    int trust;
    int verify;
    const char *err; /* "" for success */
} tls_case;

static void tls_run(const tls_case *t, client *k, const char *hello, size_t bulk, size_t in_max)
{
    gnutls_certificate_credentials_t sc, cc = client_cred(t->trust);
    assert_int_equal(gnutls_certificate_allocate_credentials(&sc), 0);
    gnutls_x509_privkey_t key = *t->chain == P.self ? P.self_key : P.key;
    assert_int_equal(gnutls_certificate_set_x509_key(sc, t->chain, 1, key), 0);
    server sv = {.cred = sc, .hello = hello, .bulk = bulk};
    server_start(&sv);
    client_run(k, "127.0.0.1", sv.port, RESOLVE_ANY, in_max, cc, t->verify);
    server_join(&sv);
    gnutls_certificate_free_credentials(sc);
    gnutls_certificate_free_credentials(cc);
}

static void tls_verified_chain(void **state)
{
    (void)state;
    tls_case t = {&P.leaf, 1, 1, ""};
    client k = {0};
    tls_run(&t, &k, "220 ready\r\n", 0, 1024);
    assert_string_equal(k.err, "");
    assert_string_equal(k.got.data, "220 ready\r\n");
    assert_true(k.info.tls_done);
    assert_string_equal(k.info.tls_version, "TLS 1.3");
    assert_true(k.info.have_certs);
    assert_int_equal(k.info.earliest_expiry, (int64_t)P.leaf_exp);
    assert_int_equal(k.info.last_chain_expiry, (int64_t)P.ca_exp); /* the anchor's */
    client_free(&k);
}

static void tls_verification_failures(void **state)
{
    (void)state;
    const tls_case cases[] = {
        {&P.mismatch, 1, 1, "TLS: certificate is not valid for 127.0.0.1"},
        {&P.expired, 1, 1, "TLS: certificate has expired"},
        {&P.self, 0, 1, "TLS: self-signed certificate"},
        {&P.leaf, 0, 1, "TLS: certificate signed by an unknown authority"},
        {&P.expired, 0, 1, "TLS: certificate has expired"}, /* untrusted and expired */
        /* Without verification all of them are fine. */
        {&P.mismatch, 0, 0, ""},
        {&P.expired, 0, 0, ""},
        {&P.self, 0, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        client k = {0};
        tls_run(&cases[i], &k, "hi\n", 0, 64);
        if (strcmp(k.err, cases[i].err))
            fail_msg("case %zu: \"%s\", want \"%s\"", i, k.err, cases[i].err);
        assert_true(k.info.have_certs);
        assert_true(k.info.tls_done);
        if (*cases[i].chain == P.expired)
            assert_int_equal(k.info.earliest_expiry, (int64_t)P.expired_exp);
        if (!cases[i].err[0])
            assert_string_equal(k.got.data, "hi\n");
        else
            assert_null(strchr(k.events, 'y')); /* never ready */
        client_free(&k);
    }
}

static void tls_bulk_through_small_input(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        tls_case t = {&P.leaf, 1, 1, ""};
        client k = {.consume_on_full_only = mode};
        tls_run(&t, &k, NULL, 300000, 4096);
        assert_string_equal(k.err, "");
        if (k.got.len != 300000)
            fail_msg("mode %d: %zu bytes, events %s", mode, k.got.len, k.events);
        assert_int_equal(k.got.len, 300000);
        for (size_t i = 0; i < k.got.len; i++)
            if (k.got.data[i] != (char)('a' + i % 26))
                fail_msg("byte %zu is wrong", i);
        assert_int_equal(k.last, 'e');
        client_free(&k);
    }
}

static void tls_peer_not_speaking_tls(void **state)
{
    (void)state;
    gnutls_certificate_credentials_t cc = client_cred(1);
    /* Hangs up after reading the client's hello (a FIN), or at once (a reset, mostly). */
    server sv = {.hangup = 2};
    client k = {0};
    server_start(&sv);
    client_run(&k, "127.0.0.1", sv.port, RESOLVE_ANY, 64, cc, 1);
    server_join(&sv);
    assert_string_equal(k.err, "TLS: connection closed during the handshake");
    client_free(&k);
    server sv1 = {.hangup = 1};
    client k1 = {0};
    server_start(&sv1);
    client_run(&k1, "127.0.0.1", sv1.port, RESOLVE_ANY, 64, cc, 1);
    server_join(&sv1);
    if (strcmp(k1.err, "TLS: connection closed during the handshake") &&
        strcmp(k1.err, "TLS: connection reset by peer during the handshake"))
        fail_msg("%s", k1.err);
    client_free(&k1);
    /* Answers in plain text. */
    server sv2 = {.hello = "220 plain smtp here\r\n", .hold = 1};
    client k2 = {0};
    server_start(&sv2);
    client_run(&k2, "127.0.0.1", sv2.port, RESOLVE_ANY, 64, cc, 1);
    server_join(&sv2);
    assert_true(!strncmp(k2.err, "TLS: ", 5));
    assert_false(k2.info.tls_done);
    client_free(&k2);
    gnutls_certificate_free_credentials(cc);
}

/* ---- a probe run cancelled at its timeout ------------------------------------------------ */

typedef struct outcome {
    int done, success, timed_out;
    buf text;
} outcome;

static void on_result(void *ctx, const probe_result *res)
{
    outcome *o = ctx;
    o->done = 1;
    o->success = res->success;
    o->timed_out = res->timed_out;
    buf_printf(&o->text, "# %s\n", res->message);
    for (size_t i = 0; i < res->nsamples; i++)
        buf_printf(&o->text, "%s %g\n", res->samples[i].metric, res->samples[i].v);
}

static void run_probe(const char *settings, int port, int timeout_ms, outcome *o)
{
    char text[1024], err[256];
    snprintf(text, sizeof text,
             "{\"probe\":1,\"type\":\"tcp\",\"name\":\"n\",\"target\":\"t\",\"address\":"
             "\"127.0.0.1\",\"port\":%d,\"timeout_ms\":%d,\"interval_ms\":60000,\"settings\":%s}",
             port, timeout_ms, settings);
    json_t *j = json_loads(text, 0, NULL);
    probe_def *d = NULL;
    assert_int_equal(probe_def_from_json(j, &d, err, sizeof err), 0);
    json_decref(j);
    uv_loop_t loop;
    uv_loop_init(&loop);
    probe_sched_opts so = {.probe = {.vantage = "test"}};
    probe_sched *s = NULL;
    buf_init(&o->text, 0);
    assert_int_equal(probe_sched_new(&s, &loop, &so), 0);
    assert_int_equal(probe_sched_run_once(s, d, on_result, o), 0);
    while (!o->done && uv_run(&loop, UV_RUN_ONCE))
        ;
    probe_sched_close(s);
    probe_def_unref(d);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void probe_timeout_keeps_what_it_learnt(void **state)
{
    (void)state;
    server sv = {.hello = "220 not what you expect\r\n", .hold = 1};
    outcome o = {0};
    server_start(&sv);
    run_probe("{\"expect\":\"^250\"}", sv.port, 300, &o);
    server_join(&sv);
    assert_true(o.done && !o.success && o.timed_out);
    assert_non_null(strstr(o.text.data, "# timeout after 0.3 s\n"));
    assert_non_null(strstr(o.text.data, "probe_ip_protocol 4\n"));
    assert_non_null(strstr(o.text.data, "probe_tcp_connect_duration_seconds "));
    assert_non_null(strstr(o.text.data, "probe_failed_due_to_regex 0\n"));
    assert_non_null(strstr(o.text.data, "probe_success 0\n"));
    buf_free(&o.text);
}

static void probe_send_expect(void **state)
{
    (void)state;
    server sv = {.hello = "220 ready\r\n", .echo = 1};
    outcome o = {0};
    server_start(&sv);
    run_probe("{\"send\":\"250 ok\\\\r\\\\nbye\\\\n\",\"expect\":\"^250 ok$\"}", sv.port, 5000, &o);
    server_join(&sv);
    if (!o.success)
        fail_msg("%s", o.text.data);
    assert_non_null(strstr(o.text.data, "probe_failed_due_to_regex 0\n"));
    buf_free(&o.text);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the agent: a write to a closed peer is an error, not death */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unescape_table),
        cmocka_unit_test(expect_compile_errors),
        cmocka_unit_test(expect_scan_table),
        cmocka_unit_test(expect_scan_is_linear),
        cmocka_unit_test(expect_pathological_gives_up),
        cmocka_unit_test(settings_refused),
        cmocka_unit_test(plain_echo),
        cmocka_unit_test(plain_bounded_input),
        cmocka_unit_test(plain_refused_and_wrong_family),
        cmocka_unit_test(close_inside_every_event),
        cmocka_unit_test(tls_verified_chain),
        cmocka_unit_test(tls_verification_failures),
        cmocka_unit_test(tls_bulk_through_small_input),
        cmocka_unit_test(tls_peer_not_speaking_tls),
        cmocka_unit_test(probe_timeout_keeps_what_it_learnt),
        cmocka_unit_test(probe_send_expect),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
