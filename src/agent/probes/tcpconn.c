/* tcpconn: the connection under the tcp and munin probes (tcpconn.h).
 *
 * TLS. The socket is a libuv stream; GnuTLS never touches it. Its push function queues every
 * record GnuTLS writes as a libuv write (so a push never blocks and never says "again"), and
 * its pull function hands out ciphertext that libuv's read callback put into a bounded buffer,
 * or says "again" when that is empty. The handshake and record reads are simply retried
 * whenever more ciphertext arrives. Plaintext goes into the input buffer the owner reads; when
 * that is full, decryption pauses, the ciphertext buffer fills, and reading from the socket
 * stops, so a fast peer cannot make us hold more than about 160 KiB.
 *
 * Lifetime. The libuv handle is made when the connection is, so tcpconn_close can always end
 * with uv_close: the struct lives until libuv's close callback, which runs after every write
 * or connect callback of the handle (they see UV_ECANCELED). So after calling an owner's
 * callback the code need only check c->closed before touching c again. */
#include "tcpconn.h"

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

#define READ_CHUNK 65536
#define RAW_MAX (96 * 1024) /* TLS: ciphertext received and not yet decrypted */
#define MAX_PEER_CERTS 16   /* certificates of the peer's chain looked at */

struct tcpconn {
    uv_tcp_t sock;
    uv_connect_t creq;
    uv_loop_t *loop;
    tcpconn_fn cb;
    void *ctx;
    char *host;
    int port;
    resolve_family family;
    resolve_req *rq;
    size_t in_max;
    buf in;            /* plaintext received, not consumed */
    int fresh;         /* bytes added to in since the last DATA event */
    int closed;        /* tcpconn_close ran: no more events, nothing more done */
    int failed;        /* ERROR delivered */
    int ready;         /* READY delivered: writes allowed */
    int reading;       /* uv_read_start in effect */
    int sock_eof;      /* the socket read EOF */
    int eof, eof_sent; /* the peer's data ended (plaintext level); EOF delivered */
    int full_sent;     /* FULL delivered for the current fill */
    size_t writes;     /* libuv writes in flight (the owner's and TLS's own) */
    int want_sent;     /* the owner wrote since the last SENT */
    /* TLS */
    int use_tls, tls_verify, handshaking, host_is_name;
    gnutls_certificate_credentials_t cred;
    gnutls_session_t tls;
    buf raw; /* ciphertext received; raw_off bytes of it already pulled */
    size_t raw_off;
    int64_t max_not_before; /* latest activation time of the peer's certificates */
    int64_t min_not_after;
    int single_self_signed; /* the peer sent one certificate, issued by itself */
    uint64_t t0, t_resolved, t_connected;
    tcpconn_info info;
    char version[16];
    char err[256];
};

typedef struct wreq {
    uv_write_t req;
    tcpconn *c;
    size_t len;
    char data[];
} wreq;

/* ---- plumbing ------------------------------------------------------------------------------ */

/* Delivers ev; returns nonzero if the owner closed the connection meanwhile. */
static int emit(tcpconn *c, tcpconn_event ev)
{
    c->cb(c->ctx, c, ev);
    return c->closed;
}

static void update_reading(tcpconn *c);

static void fail(tcpconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(tcpconn *c, const char *fmt, ...)
{
    va_list ap;
    if (c->closed || c->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err[strcspn(c->err, "\r\n")] = '\0';
    c->failed = 1;
    update_reading(c);
    emit(c, TCPCONN_ERROR);
}

static void on_closed(uv_handle_t *h)
{
    tcpconn *c = h->data;
    buf_free(&c->in);
    buf_free(&c->raw);
    mem_free(c->host);
    mem_free(c);
}

void tcpconn_close(tcpconn *c)
{
    if (!c || c->closed)
        return;
    c->closed = 1;
    resolve_cancel(c->rq);
    c->rq = NULL;
    if (c->tls) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
    uv_close((uv_handle_t *)&c->sock, on_closed);
}

const char *tcpconn_error(const tcpconn *c)
{
    return c->err;
}

const tcpconn_info *tcpconn_get_info(const tcpconn *c)
{
    return &c->info;
}

const char *tcpconn_data(const tcpconn *c, size_t *len)
{
    *len = c->in.len;
    return c->in.data ? c->in.data : "";
}

void tcpconn_consume(tcpconn *c, size_t n)
{
    if (n > c->in.len)
        n = c->in.len;
    if (!n)
        return;
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
    c->in.data[c->in.len] = '\0';
    c->full_sent = 0;
}

static void compact_raw(tcpconn *c)
{
    if (!c->raw_off)
        return;
    memmove(c->raw.data, c->raw.data + c->raw_off, c->raw.len - c->raw_off);
    c->raw.len -= c->raw_off;
    c->raw_off = 0;
    c->raw.data[c->raw.len] = '\0';
}

/* ---- writing -------------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    wreq *w = req->data;
    tcpconn *c = w->c;
    mem_free(w);
    if (status == UV_ECANCELED || c->closed)
        return;
    c->writes--;
    if (status) {
        fail(c, "send: %s", uv_strerror(status));
        return;
    }
    if (!c->writes && c->want_sent && !c->failed) {
        c->want_sent = 0;
        emit(c, TCPCONN_SENT);
    }
}

/* Queues the bytes of iov as one libuv write. Returns 0, -ENOMEM or -EPIPE. */
static int queue_write(tcpconn *c, const giovec_t *iov, int iovcnt)
{
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    wreq *w = mem_alloc(sizeof *w + (n ? n : 1));
    if (!w)
        return -ENOMEM;
    w->c = c;
    w->len = n;
    w->req.data = w;
    size_t off = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(w->data + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->sock, &b, 1, on_written)) {
        mem_free(w);
        return -EPIPE;
    }
    c->writes++;
    return 0;
}

int tcpconn_write(tcpconn *c, const void *p, size_t n)
{
    if (c->closed || c->failed || !c->ready)
        return -ENOTCONN;
    if (!n)
        return 0;
    c->want_sent = 1;
    if (!c->use_tls) {
        giovec_t v = {.iov_base = (void *)(uintptr_t)p, .iov_len = n};
        return queue_write(c, &v, 1);
    }
    size_t off = 0;
    int tries = 0;
    while (off < n) {
        ssize_t k = gnutls_record_send(c->tls, (const char *)p + off, n - off);
        if (k > 0) {
            off += (size_t)k;
            tries = 0;
        } else if ((k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) && ++tries < 100) {
            continue; /* our push never says "again": only an interrupted call gets here */
        } else {
            return k == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EIO;
        }
    }
    return 0;
}

/* GnuTLS's push: every record becomes a libuv write at once. */
static ssize_t tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    tcpconn *c = ptr;
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    int rc = c->closed ? -EPIPE : queue_write(c, iov, iovcnt);
    if (rc) {
        gnutls_transport_set_errno(c->tls, rc == -ENOMEM ? ENOMEM : EPIPE);
        return -1;
    }
    return (ssize_t)n;
}

/* GnuTLS's pull: ciphertext from the read buffer, "again" when it is empty, 0 after EOF. */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    tcpconn *c = ptr;
    size_t have = c->raw.len - c->raw_off;
    if (!have) {
        if (c->sock_eof)
            return 0;
        gnutls_transport_set_errno(c->tls, EAGAIN);
        return -1;
    }
    if (len > have)
        len = have;
    memcpy(data, c->raw.data + c->raw_off, len);
    c->raw_off += len;
    if (c->raw_off == c->raw.len) {
        c->raw_off = 0;
        c->raw.len = 0;
    }
    return (ssize_t)len;
}

/* Non-blocking: whether ciphertext (or EOF) is waiting, never a wait. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    tcpconn *c = ptr;
    (void)ms;
    return c->raw.len > c->raw_off || c->sock_eof ? 1 : 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    tcpconn *c = h->data;
    (void)suggested;
    buf *t = c->use_tls ? &c->raw : &c->in;
    size_t max = c->use_tls ? RAW_MAX : c->in_max;
    if (c->use_tls)
        compact_raw(c);
    size_t room = max > t->len ? max - t->len : 0;
    /* Read into what the buffer has (4 KiB at first), so a thousand probes of short answers
     * hold 4 KiB each, not 64; a long answer doubles it up to its cap. */
    size_t have = t->cap > t->len + 1 ? t->cap - t->len - 1 : 0;
    if (have < 4096)
        have = 4096;
    if (room > have)
        room = have;
    if (room > READ_CHUNK)
        room = READ_CHUNK;
    if (!room || buf_reserve(t, room)) {
        t->err = 0;
        *b = uv_buf_init(NULL, 0); /* libuv answers UV_ENOBUFS */
        return;
    }
    *b = uv_buf_init(t->data + t->len, (unsigned)room);
}

static void deliver(tcpconn *c);
static void handshake_step(tcpconn *c);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    tcpconn *c = s->data;
    (void)b;
    if (c->closed || c->failed || n == 0)
        return;
    if (n == UV_EOF) {
        c->sock_eof = 1;
        if (!c->use_tls)
            c->eof = 1;
    } else if (n == UV_ENOBUFS) {
        fail(c, "out of memory");
        return;
    } else if (n < 0) {
        if (c->handshaking)
            fail(c, "TLS: %s during the handshake", uv_strerror((int)n));
        else
            fail(c, "receive: %s", uv_strerror((int)n));
        return;
    } else {
        buf *t = c->use_tls ? &c->raw : &c->in;
        t->len += (size_t)n;
        t->data[t->len] = '\0';
        if (!c->use_tls)
            c->fresh = 1;
    }
    if (c->use_tls && c->handshaking)
        handshake_step(c);
    else
        deliver(c);
}

/* Reads from the socket exactly while there is room and something may still come. */
static void update_reading(tcpconn *c)
{
    if (c->closed)
        return;
    int want = !c->failed && !c->sock_eof && (c->use_tls || c->in.len < c->in_max) &&
               (!c->use_tls || c->raw.len - c->raw_off < RAW_MAX);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->sock, on_alloc, on_read) == 0)
            c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->sock);
        c->reading = 0;
    }
}

/* Decrypts what can be into the input. Returns nonzero if the connection failed. */
static int tls_drain(tcpconn *c)
{
    int spins = 0;
    while (!c->eof && c->in.len < c->in_max) {
        if (buf_reserve(&c->in, c->in_max - c->in.len)) {
            c->in.err = 0;
            fail(c, "out of memory");
            return -1;
        }
        ssize_t n = gnutls_record_recv(c->tls, c->in.data + c->in.len, c->in_max - c->in.len);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->in.data[c->in.len] = '\0';
            c->fresh = 1;
        } else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
            c->eof = 1; /* close_notify, or a plain close as many servers do */
        } else if (n == GNUTLS_E_AGAIN) {
            /* Also said after a post-handshake message (a TLS 1.3 session ticket) although
             * more records may wait in our buffer or GnuTLS's: go on while there are any. */
            if ((c->raw.len > c->raw_off || gnutls_record_check_pending(c->tls)) && ++spins < 1000)
                continue;
            break;
        } else if (!gnutls_error_is_fatal((int)n) && ++spins < 1000) {
            continue; /* interrupted, a warning alert, a renegotiation request (ignored) */
        } else {
            fail(c, "TLS: %s", gnutls_strerror((int)n));
            return -1;
        }
    }
    return 0;
}

/* Hands what arrived to the owner: DATA while the input grows, FULL when it is at its cap,
 * EOF once the peer's data ended and all of it was delivered. */
static void deliver(tcpconn *c)
{
    for (;;) {
        if (c->closed || c->failed)
            return;
        if (c->use_tls && tls_drain(c))
            return;
        if (c->fresh) {
            c->fresh = 0;
            if (emit(c, TCPCONN_DATA))
                return;
            continue; /* the owner may have consumed: there may be room for more */
        }
        if (c->in.len >= c->in_max) {
            if (!c->full_sent) {
                c->full_sent = 1;
                if (emit(c, TCPCONN_FULL))
                    return;
                if (c->in.len < c->in_max)
                    continue;
            }
            break;
        }
        c->full_sent = 0;
        if (c->eof && !c->eof_sent) {
            c->eof_sent = 1;
            if (emit(c, TCPCONN_EOF))
                return;
        }
        break;
    }
    update_reading(c);
}

/* ---- TLS ---------------------------------------------------------------------------------- */

static const char *version_name(gnutls_protocol_t v)
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
        return "unknown";
    }
}

/* Records the handshake's time and version and the expiries of the peer's certificates. */
static void tls_info(tcpconn *c)
{
    gnutls_x509_crt_t crt[MAX_PEER_CERTS];
    int64_t exp[MAX_PEER_CERTS];
    unsigned n = 0, k = 0;
    c->info.tls_done = 1;
    c->info.tls_s = (double)(uv_hrtime() - c->t_connected) / 1e9;
    snprintf(c->version, sizeof c->version, "%s",
             version_name(gnutls_protocol_get_version(c->tls)));
    c->info.tls_version = c->version;
    const gnutls_datum_t *der = gnutls_certificate_get_peers(c->tls, &n);
    if (!der || gnutls_certificate_type_get(c->tls) != GNUTLS_CRT_X509)
        n = 0;
    for (unsigned i = 0; i < n && k < MAX_PEER_CERTS; i++) {
        if (gnutls_x509_crt_init(&crt[k]) < 0)
            break;
        if (gnutls_x509_crt_import(crt[k], &der[i], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crt[k]);
            break; /* the chain is read in order: stop at what we cannot read */
        }
        exp[k] = (int64_t)gnutls_x509_crt_get_expiration_time(crt[k]);
        int64_t act = (int64_t)gnutls_x509_crt_get_activation_time(crt[k]);
        if (!k || exp[k] < c->min_not_after)
            c->min_not_after = exp[k];
        if (!k || act > c->max_not_before)
            c->max_not_before = act;
        k++;
    }
    if (!k)
        return;
    c->info.have_certs = 1;
    c->info.earliest_expiry = c->min_not_after;
    c->single_self_signed = k == 1 && gnutls_x509_crt_check_issuer(crt[0], crt[0]);
    /* The chain: from the peer's certificate, each next one its issuer among those sent, then
     * the trust anchor that issued the last, if the trust store has it. */
    unsigned used = 1u, cur = 0;
    int64_t chain = exp[0];
    for (;;) {
        unsigned next = k;
        for (unsigned j = 0; j < k && next == k; j++)
            if (!(used & (1u << j)) && gnutls_x509_crt_check_issuer(crt[cur], crt[j]))
                next = j;
        if (next == k)
            break;
        used |= 1u << next;
        cur = next;
        if (exp[cur] < chain)
            chain = exp[cur];
    }
    gnutls_x509_crt_t anchor = NULL;
    if (!gnutls_x509_crt_check_issuer(crt[cur], crt[cur]) &&
        gnutls_certificate_get_issuer(c->cred, crt[cur], &anchor, GNUTLS_TL_GET_COPY) == 0 &&
        anchor) {
        int64_t e = (int64_t)gnutls_x509_crt_get_expiration_time(anchor);
        if (e < chain)
            chain = e;
        gnutls_x509_crt_deinit(anchor);
    }
    c->info.last_chain_expiry = chain;
    for (unsigned i = 0; i < k; i++)
        gnutls_x509_crt_deinit(crt[i]);
}

/* Verifies the peer's chain against the credentials' trust store and the host name (or IP
 * address). Returns 0, or fails the connection with a one-line reason and returns -1. */
static int tls_verify(tcpconn *c)
{
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers3(c->tls, c->host, &status);
    if (rc < 0) {
        fail(c, "TLS: cannot verify the certificate: %s", gnutls_strerror(rc));
        return -1;
    }
    if (!status)
        return 0;
    int64_t now = (int64_t)time(NULL);
    if (!c->info.have_certs) {
        fail(c, "TLS: the peer sent no certificate");
    } else if (c->min_not_after < now) {
        fail(c, "TLS: certificate has expired");
    } else if (c->max_not_before > now) {
        fail(c, "TLS: certificate is not yet valid");
    } else if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        fail(c, "TLS: %s",
             c->single_self_signed ? "self-signed certificate"
                                   : "certificate signed by an unknown authority");
    } else if (status & GNUTLS_CERT_REVOKED) {
        fail(c, "TLS: certificate has been revoked");
    } else if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
        fail(c, "TLS: certificate uses an insecure algorithm");
    } else if (status & GNUTLS_CERT_SIGNATURE_FAILURE) {
        fail(c, "TLS: certificate signature is invalid");
    } else if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
        fail(c, "TLS: certificate is not valid for %s", c->host);
    } else {
        gnutls_datum_t out = {NULL, 0};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0)
            fail(c, "TLS: %s", (const char *)out.data);
        else
            fail(c, "TLS: certificate verification failed");
        gnutls_free(out.data);
    }
    return -1;
}

static void handshake_step(tcpconn *c)
{
    int rc, spins = 0;
    do
        rc = gnutls_handshake(c->tls);
    while (rc < 0 && rc != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(rc) && ++spins < 1000);
    if (rc == GNUTLS_E_AGAIN) {
        update_reading(c);
        return;
    }
    if (rc < 0) {
        if (c->sock_eof &&
            (rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_UNEXPECTED_PACKET_LENGTH))
            fail(c, "TLS: connection closed during the handshake");
        else if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
            fail(c, "TLS: handshake failed: the peer sent the alert \"%s\"",
                 gnutls_alert_get_name(gnutls_alert_get(c->tls)));
        else
            fail(c, "TLS: %s", gnutls_strerror(rc));
        return;
    }
    c->handshaking = 0;
    tls_info(c);
    if (c->tls_verify && tls_verify(c))
        return;
    c->ready = 1;
    if (emit(c, TCPCONN_READY))
        return;
    deliver(c); /* application data may have come with the last handshake flight */
}

static int tls_setup(tcpconn *c)
{
    int rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
    if (rc < 0) {
        c->tls = NULL;
        return -ENOMEM;
    }
    if (gnutls_set_default_priority(c->tls) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred) < 0 ||
        (c->host_is_name &&
         gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, c->host, strlen(c->host)) < 0)) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
        return -ENOMEM;
    }
    gnutls_handshake_set_timeout(c->tls, 0); /* the run's timeout rules */
    gnutls_transport_set_ptr(c->tls, c);
    gnutls_transport_set_vec_push_function(c->tls, tls_push);
    gnutls_transport_set_pull_function(c->tls, tls_pull);
    gnutls_transport_set_pull_timeout_function(c->tls, tls_pull_timeout);
    return 0;
}

/* ---- connecting ----------------------------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status)
{
    tcpconn *c = req->data;
    if (status == UV_ECANCELED || c->closed)
        return;
    c->t_connected = uv_hrtime();
    c->info.connect_ended = 1;
    c->info.connect_s = (double)(c->t_connected - c->t_resolved) / 1e9;
    if (status) {
        fail(c, "connect: %s", uv_strerror(status));
        return;
    }
    if (emit(c, TCPCONN_CONNECTED))
        return;
    update_reading(c);
    if (c->use_tls) {
        c->handshaking = 1;
        handshake_step(c);
        return;
    }
    c->ready = 1;
    if (emit(c, TCPCONN_READY))
        return;
    deliver(c);
}

static void on_resolved(void *ctx, int rc, const struct sockaddr *sa, socklen_t len,
                        const char *err)
{
    tcpconn *c = ctx;
    (void)len;
    c->rq = NULL;
    if (c->closed)
        return;
    c->t_resolved = uv_hrtime();
    c->info.resolved = 1;
    c->info.dns_s = (double)(c->t_resolved - c->t0) / 1e9;
    if (rc) {
        fail(c, "resolve %s: %s", c->host, err);
        return;
    }
    c->info.family = sa->sa_family == AF_INET6 ? 6 : 4;
    if (emit(c, TCPCONN_RESOLVED))
        return;
    c->creq.data = c;
    int e = uv_tcp_connect(&c->creq, &c->sock, sa, on_connect);
    if (e) {
        c->info.connect_ended = 1;
        fail(c, "connect: %s", uv_strerror(e));
    }
}

static int is_numeric(const char *host)
{
    unsigned char a[16];
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int tcpconn_open(tcpconn **out, uv_loop_t *loop, resolver *res, const tcpconn_opts *o,
                 tcpconn_fn cb, void *ctx)
{
    *out = NULL;
    if (!o || !o->host || !o->host[0] || o->port < 1 || o->port > 65535 || !o->in_max || !cb)
        return -EINVAL;
    tcpconn *c = mem_calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->cb = cb;
    c->ctx = ctx;
    c->port = o->port;
    c->family = o->family;
    c->in_max = o->in_max;
    buf_init(&c->in, o->in_max);
    buf_init(&c->raw, RAW_MAX);
    c->host = mem_strdup(o->host);
    c->host_is_name = !is_numeric(o->host);
    if (!c->host) {
        mem_free(c);
        return -ENOMEM;
    }
    if (o->tls) {
        c->use_tls = 1;
        c->cred = o->tls;
        c->tls_verify = o->tls_verify;
        if (tls_setup(c)) {
            mem_free(c->host);
            mem_free(c);
            return -ENOMEM;
        }
    }
    uv_tcp_init(loop, &c->sock); /* cannot fail without flags: it allocates nothing */
    c->sock.data = c;
    *out = c;
    c->t0 = uv_hrtime();
    if (!res && c->host_is_name) {
        c->info.resolved = 1;
        fail(c, "resolve %s: no resolver (out of memory or no resolv.conf)", c->host);
        return 0;
    }
    if (resolve_start(res, c->host, c->port, c->family, on_resolved, c, &c->rq)) {
        *out = NULL;
        tcpconn_close(c);
        return -ENOMEM;
    }
    return 0;
}
