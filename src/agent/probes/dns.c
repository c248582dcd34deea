/* dns: the dns probe — one query to one DNS server over UDP or TCP, its answer parsed in full
 * and judged by its response code and an expected answer record, as blackbox_exporter's dns
 * prober does. The message codec is dns_msg.c (dns_int.h); this is the probe on the loop.
 *
 * Transport. c-ares sends the query and gets the answer back, on the agent's libuv loop (its
 * sockets watched by uv_poll handles, its retransmission timer by a uv_timer, as in resolve.c).
 * Each run has its own c-ares channel, pointed at the one server under test, so cancelling a
 * run (ares_destroy) touches no other run. The channel is made with every setting given, so
 * c-ares reads no resolv.conf: no search domains, ARES_FLAG_NOCHECKRESP so SERVFAIL and REFUSED
 * come back as answers instead of being retried, ARES_FLAG_USEVC for TCP. UDP gets one
 * retransmission (timeouts of a third and two thirds of 90% of the time left), so a lost
 * datagram does not fail the check and the probe still reports its own "no answer" before the
 * scheduler's timeout. An answer with the TC bit makes c-ares repeat the query over TCP, as dig
 * does.
 *
 * Answers. c-ares hands over the raw answer once its id and question match the query (it
 * silently drops others); our parser then reads every byte of it: a malformed answer fails the
 * run with the parser's reason. Datagrams c-ares drops never reach us, so on UDP we peek at
 * each one first (MSG_PEEK) and remember why it was not an answer: a run that times out after
 * garbage says so instead of a bare "no answer".
 *
 * Re-entrancy. c-ares calls our answer callback from inside ares_send and ares_process_fd,
 * where the channel must not be destroyed; the callback only ends the run (probe_run_done) and
 * marks the job finished, and the caller of c-ares tears the job down once c-ares returns.
 * ares_destroy (teardown, cancel) calls the callback once more with ARES_EDESTRUCTION, which
 * is ignored. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "dns_int.h"

#include "../../lib/log.h"
#include "../../lib/mem.h"
#include "probe.h"
#include "resolve.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
/* ---- the probe: settings ------------------------------------------------------------------ */

#define DNS_MAX_RCODES 16
#define DNS_TEXT_CAP (4 * DNS_MSG_MAX + DNS_NAME_TEXT_MAX) /* the longest record's text */

typedef struct dns_prep {
    uint8_t query[DNS_QUERY_MAX];
    size_t qlen;
    uint16_t qtype;
    char qtext[DNS_NAME_TEXT_MAX]; /* the question in presentation form, for matching */
    int tcp;
    pcre2_general_context *gctx;
    pcre2_code *re;
    pcre2_match_context *mctx;
    char *expect;
    int rcodes[DNS_MAX_RCODES];
    size_t nrcodes;
} dns_prep;

static void dns_release(void *prep)
{
    dns_prep *p = prep;
    if (!p)
        return;
    pcre2_match_context_free(p->mctx);
    pcre2_code_free(p->re);
    pcre2_general_context_free(p->gctx);
    mem_free(p->expect);
    mem_free(p);
}

/* The reverse-lookup name of an IP address ("1.2.0.192.in-addr.arpa."), for PTR queries given
 * an address. Returns 1 if s is an address. */
static int reverse_name(const char *s, char *dst, size_t cap)
{
    uint8_t a[16];
    size_t o = 0;
    if (inet_pton(AF_INET, s, a) == 1) {
        snprintf(dst, cap, "%u.%u.%u.%u.in-addr.arpa.", a[3], a[2], a[1], a[0]);
        return 1;
    }
    if (inet_pton(AF_INET6, s, a) != 1)
        return 0;
    for (int i = 15; i >= 0 && o + 4 < cap; i--)
        o += (size_t)snprintf(dst + o, cap - o, "%x.%x.", a[i] & 0xF, a[i] >> 4);
    snprintf(dst + o, cap - o, "ip6.arpa.");
    return 1;
}

/* Reads string setting k: NULL when absent or null; *bad set when present but not a string. */
static const char *setting_str(const json_t *st, const char *k, int *bad)
{
    json_t *v = json_object_get(st, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static int dns_prepare(const probe_def *d, void **prepp, char *err, size_t errcap)
{
    int rc = -EINVAL, bad = 0;
    char rev[DNS_NAME_TEXT_MAX], why[160];
    dns_prep *p = NULL;
    const json_t *st = d->settings;
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address (the DNS server to ask)");
        return -EINVAL;
    }
    if (!(p = mem_calloc(1, sizeof *p)))
        return -ENOMEM;
    const char *qname = setting_str(st, "query_name", &bad);
    if (bad || !qname || !qname[0]) {
        snprintf(err, errcap, "\"query_name\" must be a host name");
        goto out;
    }
    const char *ty = setting_str(st, "record_type", &bad);
    if (bad || dns_type_parse(ty ? ty : "A", &p->qtype) || p->qtype == DNS_T_OPT ||
        p->qtype == 251 || p->qtype == 252) {
        snprintf(err, errcap, "\"record_type\" must be a record type such as A, AAAA, MX, TXT");
        goto out;
    }
    if (p->qtype == DNS_T_PTR && reverse_name(qname, rev, sizeof rev))
        qname = rev;
    if (dns_query_build(qname, p->qtype, 0, 1, p->query, &p->qlen, why, sizeof why)) {
        snprintf(err, errcap, "\"query_name\": %s", why);
        goto out;
    }
    dns_name_text(p->query, p->qlen, DNS_HEADER_LEN, p->qtext, sizeof p->qtext, NULL, NULL, 0);
    const char *tr = setting_str(st, "transport", &bad);
    if (bad || (tr && strcasecmp(tr, "udp") && strcasecmp(tr, "tcp"))) {
        snprintf(err, errcap, "\"transport\" must be udp or tcp");
        goto out;
    }
    p->tcp = tr && !strcasecmp(tr, "tcp");
    const char *ex = setting_str(st, "expect", &bad);
    if (bad) {
        snprintf(err, errcap, "\"expect\" must be a string (a regular expression)");
        goto out;
    }
    if (ex && ex[0]) {
        int code;
        PCRE2_SIZE off;
        if (!(p->gctx = pcre2_general_context_create(probe_pcre2_alloc, probe_pcre2_free, NULL)) ||
            !(p->mctx = pcre2_match_context_create(p->gctx)) || !(p->expect = mem_strdup(ex))) {
            rc = -ENOMEM;
            goto out;
        }
        /* A pathological pattern gives up (no match) instead of holding the loop. */
        pcre2_set_match_limit(p->mctx, 1000000);
        pcre2_compile_context *cctx = pcre2_compile_context_create(p->gctx);
        if (!cctx) {
            rc = -ENOMEM;
            goto out;
        }
        p->re = pcre2_compile((PCRE2_SPTR)ex, PCRE2_ZERO_TERMINATED, 0, &code, &off, cctx);
        pcre2_compile_context_free(cctx);
        if (!p->re && code == PCRE2_ERROR_HEAP_FAILED) {
            rc = -ENOMEM;
            goto out;
        }
        if (!p->re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(code, msg, sizeof msg);
            snprintf(err, errcap, "\"expect\": invalid regular expression at position %zu: %s",
                     (size_t)off, (const char *)msg);
            goto out;
        }
    }
    json_t *vr = json_object_get(st, "valid_rcodes");
    if (vr && !json_is_null(vr) && !json_is_array(vr)) {
        snprintf(err, errcap, "\"valid_rcodes\" must be a list of response codes");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(vr, i, v)
    {
        int code = json_is_string(v) ? dns_rcode_parse(json_string_value(v)) : -1;
        if (code < 0) {
            snprintf(err, errcap,
                     "\"valid_rcodes\": entry %zu is not a response code such as NOERROR, "
                     "NXDOMAIN",
                     i + 1);
            goto out;
        }
        if (p->nrcodes >= DNS_MAX_RCODES) {
            snprintf(err, errcap, "\"valid_rcodes\": more than %d entries", DNS_MAX_RCODES);
            goto out;
        }
        p->rcodes[p->nrcodes++] = code;
    }
    if (!p->nrcodes)
        p->rcodes[p->nrcodes++] = 0; /* NOERROR */
    *prepp = p;
    p = NULL;
    rc = 0;
out:
    dns_release(p);
    return rc;
}

/* ---- the probe: a run on the loop --------------------------------------------------------- */

typedef struct dns_job dns_job;

typedef struct dns_watch {
    uv_poll_t poll;
    ares_socket_t fd;
    int udp;
    dns_job *t;
    struct dns_watch *next;
} dns_watch;

struct dns_job {
    probe_run *r; /* NULL once the run ended or was cancelled */
    const dns_prep *p;
    uv_loop_t *loop;
    resolve_req *rq;
    ares_channel ch;
    int ch_made, timer_made;
    uv_timer_t timer;
    dns_watch *watches;
    int handles;  /* libuv handles not yet closed */
    int busy;     /* inside a c-ares call: teardown waits until it returns */
    int finished; /* the answer callback ended the run: tear down once c-ares returns */
    int closing;
    int tries;
    char server[INET6_ADDRSTRLEN + 8];
    uint64_t t_sent;
    uint64_t t_start; /* the run began: lookup time of the server name */
    int64_t budget_ms;
    unsigned opened;    /* sockets c-ares opened */
    int tcp_sent;       /* a TCP connection was made and the query written */
    unsigned seen;      /* datagrams that came (peeked) */
    char last_why[200]; /* why the last one would not be the answer */
};

static void maybe_free(dns_job *t)
{
    if (t->closing && t->handles == 0)
        mem_free(t);
}

static void on_timer_closed(uv_handle_t *h)
{
    dns_job *t = h->data;
    t->handles--;
    maybe_free(t);
}

static void on_watch_closed(uv_handle_t *h)
{
    dns_watch *w = h->data;
    dns_job *t = w->t;
    mem_free(w);
    t->handles--;
    maybe_free(t);
}

/* Stops everything at once: the lookup, the channel (its sockets close now), the timer; the
 * job is freed when libuv has closed the handles. Inside a c-ares call it only marks the job
 * finished: the caller completes the teardown when c-ares returns. */
static void teardown(dns_job *t)
{
    t->r = NULL;
    if (t->busy) {
        t->finished = 1;
        return;
    }
    t->closing = 1;
    resolve_cancel(t->rq);
    t->rq = NULL;
    if (t->ch_made) {
        t->ch_made = 0;
        ares_destroy(t->ch); /* closes the sockets (watches go), EDESTRUCTION to on_answer */
    }
    while (t->watches) {
        dns_watch *w = t->watches;
        t->watches = w->next;
        uv_poll_stop(&w->poll);
        uv_close((uv_handle_t *)&w->poll, on_watch_closed);
    }
    if (t->timer_made) {
        t->timer_made = 0;
        uv_timer_stop(&t->timer);
        uv_close((uv_handle_t *)&t->timer, on_timer_closed);
    }
    maybe_free(t);
}

/* Ends the run early (before or without an answer) and frees the job. */
static void end_run(dns_job *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void end_run(dns_job *t, const char *fmt, ...)
{
    char msg[PROBE_MSG_MAX];
    va_list ap;
    probe_run *r = t->r;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    probe_run_add(r, "probe_dns_query_succeeded", NULL, 0);
    teardown(t);
    probe_run_done(r, 0, "%s", msg);
}

static void on_timer(uv_timer_t *h);

/* After every call into c-ares: tear down if the answer came, else set the timer to c-ares's
 * next deadline. */
static void after_ares(dns_job *t)
{
    struct timeval tv, *tp;
    if (t->finished) {
        teardown(t);
        return;
    }
    if (!(tp = ares_timeout(t->ch, NULL, &tv))) {
        uv_timer_stop(&t->timer);
        return;
    }
    uint64_t ms = (uint64_t)tp->tv_sec * 1000 + ((uint64_t)tp->tv_usec + 999) / 1000;
    uv_timer_start(&t->timer, on_timer, ms ? ms : 1, 0);
}

static void on_timer(uv_timer_t *h)
{
    dns_job *t = h->data;
    t->busy++;
    ares_process_fd(t->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    t->busy--;
    after_ares(t);
}

/* Looks at the datagram waiting on a UDP socket before c-ares reads it, and remembers why it
 * will not be taken as the answer (c-ares drops such datagrams without a word). */
static void peek_datagram(dns_job *t, ares_socket_t fd)
{
    uint8_t b[4097]; /* what c-ares 1.18 reads of a datagram */
    char why[160] = "", q[DNS_NAME_TEXT_MAX];
    dns_msg m;
    int queued = 0;
    /* Only with a datagram queued: a peek would also consume a pending socket error (an ICMP
     * port unreachable) that c-ares must see. */
    if (ioctl(fd, FIONREAD, &queued) || queued <= 0)
        return;
    ssize_t n = recv(fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0)
        return;
    if ((size_t)n > sizeof b) {
        snprintf(why, sizeof why, "a datagram of %zd bytes, more than c-ares reads", n);
    } else if (dns_msg_parse(b, (size_t)n, &m, why, sizeof why) == 0) {
        if (m.qdcount != 1 || m.qtype != t->p->qtype || m.qclass != DNS_CLASS_IN ||
            dns_name_text(m.p, m.len, m.qname, q, sizeof q, NULL, NULL, 0) ||
            strcasecmp(q, t->p->qtext))
            snprintf(why, sizeof why, "its question is not the one asked");
        else
            snprintf(why, sizeof why, "an answer with another query id");
        dns_msg_free(&m);
    }
    t->seen++;
    snprintf(t->last_why, sizeof t->last_why, "%s", why);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    dns_watch *w = h->data;
    dns_job *t = w->t;
    ares_socket_t rd = ARES_SOCKET_BAD, wr = ARES_SOCKET_BAD;
    if (status < 0 || (events & UV_READABLE))
        rd = w->fd;
    if (status < 0 || (events & UV_WRITABLE))
        wr = w->fd;
    if (w->udp && status == 0 && (events & UV_READABLE))
        peek_datagram(t, w->fd);
    t->busy++;
    ares_process_fd(t->ch, rd, wr); /* may close w (uv_close: freed later) */
    t->busy--;
    after_ares(t);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_job *t = data;
    dns_watch **pp = &t->watches, *w;
    while ((w = *pp) && w->fd != fd)
        pp = &w->next;
    if (!readable && !writable) {
        if (w) {
            *pp = w->next;
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, on_watch_closed);
        }
        return;
    }
    if (!w) {
        int type = 0;
        socklen_t tl = sizeof type;
        if (t->closing || t->finished || !(w = mem_calloc(1, sizeof *w)))
            return; /* out of memory: the query times out */
        w->fd = fd;
        w->t = t;
        w->udp = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM;
        if (uv_poll_init_socket(t->loop, &w->poll, fd)) {
            mem_free(w);
            return;
        }
        w->poll.data = w;
        t->handles++;
        t->opened++;
        w->next = t->watches;
        t->watches = w;
    } else if (!w->udp && !writable) {
        t->tcp_sent = 1; /* c-ares wants no more writing: connected, query sent */
    }
    uv_poll_start(&w->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

/* Judges a well-formed answer: samples, verdict. */
static void judge(probe_run *r, const dns_prep *p, const dns_msg *m, double secs,
                  const char *server)
{
    char tmp[16], want[DNS_MAX_RCODES * 12] = "";
    const char *rname = dns_rcode_name(m->rcode, tmp);
    const char *lbl[] = {"rcode", rname, NULL};
    int rcode_ok = 0, matched = 0, re_error = 0;
    size_t o = 0;
    /* As blackbox_exporter: the query's time is the request phase; the lookup time is the
     * resolution of the server's name (on_resolved). */
    const char *phase[] = {"phase", "request", NULL};
    probe_run_add(r, "probe_dns_duration_seconds", phase, secs);
    probe_run_add(r, "probe_dns_rcode", lbl, 1);
    probe_run_add(r, "probe_dns_answer_rrs", NULL, m->ancount);
    probe_run_add(r, "probe_dns_authority_rrs", NULL, m->nscount);
    probe_run_add(r, "probe_dns_additional_rrs", NULL, m->arcount);
    for (size_t i = 0; i < p->nrcodes; i++) {
        rcode_ok |= p->rcodes[i] == m->rcode;
        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", i ? "," : "",
                              dns_rcode_name(p->rcodes[i], tmp));
        if (o >= sizeof want)
            o = sizeof want - 1;
    }
    /* The answer records in presentation form: matched against expect, and the first few
     * logged at debug level (what a pattern is written against). */
    buf text;
    pcre2_match_data *md = p->re ? pcre2_match_data_create_from_pattern(p->re, p->gctx) : NULL;
    buf_init(&text, DNS_TEXT_CAP);
    for (size_t i = 0; i < m->ancount && (i < 8 || (p->re && !matched)); i++) {
        buf_reset(&text);
        if (dns_rr_text(m, &m->rr[i], &text))
            continue;
        if (i < 8)
            log_debug("dns %s: answer %zu: %s", probe_run_def(r)->name, i + 1, text.data);
        if (md && !matched) {
            int mrc = pcre2_match(p->re, (PCRE2_SPTR)text.data, text.len, 0, 0, md, p->mctx);
            matched = mrc >= 0;
            re_error |= mrc < PCRE2_ERROR_NOMATCH;
        }
    }
    re_error |= p->re && !md;
    pcre2_match_data_free(md);
    buf_free(&text);
    probe_run_add(r, "probe_failed_due_to_regex", NULL, p->re && !matched);
    /* As blackbox_exporter: the query succeeded when a well-formed answer came, whatever its
     * rcode; probe_success also needs an accepted rcode and the expected record. */
    probe_run_add(r, "probe_dns_query_succeeded", NULL, 1);
    if (!rcode_ok)
        probe_run_done(r, 0, "%s answered %s, expected %s", server, rname, want);
    else if (p->re && !matched)
        probe_run_done(r, 0, "no answer record matches \"%.200s\" (%u answer records%s)", p->expect,
                       (unsigned)m->ancount, re_error ? "; the match gave up: too complex" : "");
    else
        probe_run_done(r, 1, NULL);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    dns_job *t = arg;
    probe_run *r = t->r;
    (void)timeouts;
    if (!r || status == ARES_EDESTRUCTION)
        return; /* cancelled, or the teardown's destroy */
    double secs = (double)(uv_hrtime() - t->t_sent) / 1e9;
    if (status != ARES_SUCCESS || !abuf || alen < 0) {
        const char *tr = t->p->tcp ? "tcp" : "udp";
        if (status == ARES_ETIMEOUT && t->seen)
            end_run(t,
                    "no answer from %s within %.3f s (%s): datagrams came but none was the "
                    "answer; the last: %s",
                    t->server, secs, tr, t->last_why);
        else if (status == ARES_ETIMEOUT)
            end_run(t, "no answer from %s within %.3f s (%s, %s)", t->server, secs, tr,
                    t->p->tcp       ? (t->tcp_sent ? "connected, query sent" : "no connection")
                    : t->tries == 1 ? "1 try"
                                    : "2 tries");
        else if (status == ARES_ECONNREFUSED && !t->opened && !t->p->tcp)
            /* c-ares says "refused" for a socket it could not open or connect too */
            end_run(t,
                    "%s: no UDP socket could be opened and connected (no route, or out of "
                    "file descriptors?)",
                    t->server);
        else if (status == ARES_ECONNREFUSED && !t->opened)
            end_run(t, "%s refused the connection (tcp), or no socket could be opened", t->server);
        else if (status == ARES_ECONNREFUSED && t->p->tcp)
            end_run(t, "%s refused or closed the connection (tcp)", t->server);
        else if (status == ARES_ECONNREFUSED)
            end_run(t, "%s: port unreachable (udp)", t->server);
        else
            end_run(t, "query to %s failed: %s", t->server, ares_strerror(status));
        return;
    }
    dns_msg m;
    char why[256];
    int rc = dns_msg_parse(abuf, (size_t)alen, &m, why, sizeof why);
    teardown(t); /* busy: only marks the job finished; the caller of c-ares completes it */
    if (rc == -ENOMEM) {
        probe_run_add(r, "probe_dns_query_succeeded", NULL, 0);
        probe_run_done(r, 0, "out of memory");
    } else if (rc) {
        probe_run_add(r, "probe_dns_query_succeeded", NULL, 0);
        probe_run_done(r, 0, "malformed answer from %s: %s", t->server, why);
    } else {
        judge(r, t->p, &m, secs, t->server);
        dns_msg_free(&m);
    }
}

/* Parses a numeric address (IPv6 with or without brackets) into *ss with port. */
static int numeric(const char *host, int port, struct sockaddr_storage *ss)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 1;
    }
    if (n >= 2 && n - 2 < sizeof tmp && host[0] == '[' && host[n - 1] == ']') {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 1;
    }
    return 0;
}

/* Sends the query to the server at sa. */
static void query(dns_job *t, const struct sockaddr *sa)
{
    probe_run *r = t->r;
    const dns_prep *p = t->p;
    struct ares_options o;
    struct ares_addr_port_node srv;
    char ip[INET6_ADDRSTRLEN];
    int port, arc;
    memset(&srv, 0, sizeof srv);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        srv.family = AF_INET6;
        memcpy(&srv.addr.addr6, &s6->sin6_addr, 16);
        port = ntohs(s6->sin6_port);
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(t->server, sizeof t->server, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        srv.family = AF_INET;
        memcpy(&srv.addr.addr4, &s4->sin_addr, 4);
        port = ntohs(s4->sin_port);
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(t->server, sizeof t->server, "%s:%d", ip, port);
    }
    srv.udp_port = srv.tcp_port = port;
    probe_run_add(r, "probe_ip_protocol", NULL, sa->sa_family == AF_INET6 ? 6 : 4);

    /* Every option set, so c-ares reads no resolv.conf; see the top of the file. */
    int64_t left = probe_run_remaining_ms(r);
    t->budget_ms = left - left / 10;
    t->tries = p->tcp ? 1 : 2;
    memset(&o, 0, sizeof o);
    o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | (p->tcp ? ARES_FLAG_USEVC : 0);
    o.timeout = (int)(p->tcp ? t->budget_ms : t->budget_ms / 3);
    if (o.timeout < 1)
        o.timeout = 1;
    o.tries = t->tries;
    o.ndots = 1;
    o.lookups = (char *)"b";
    o.sock_state_cb = on_sock_state;
    o.sock_state_cb_data = t;
    arc = ares_init_options(&t->ch, &o,
                            ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS |
                                ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_SERVERS |
                                ARES_OPT_SORTLIST | ARES_OPT_SOCK_STATE_CB);
    if (arc != ARES_SUCCESS) {
        end_run(t, "c-ares: %s", ares_strerror(arc));
        return;
    }
    t->ch_made = 1;
    if ((arc = ares_set_servers_ports(t->ch, &srv)) != ARES_SUCCESS) {
        end_run(t, "c-ares: %s", ares_strerror(arc));
        return;
    }
    uv_timer_init(t->loop, &t->timer);
    t->timer.data = t;
    t->timer_made = 1;
    t->handles++;
    t->t_sent = uv_hrtime();
    t->busy++;
    ares_send(t->ch, p->query, (int)p->qlen, on_answer, t);
    t->busy--;
    after_ares(t);
}

static void on_resolved(void *ctx, int rc, const struct sockaddr *sa, socklen_t len,
                        const char *err)
{
    dns_job *t = ctx;
    (void)len;
    t->rq = NULL;
    probe_run_add(t->r, "probe_dns_lookup_time_seconds", NULL,
                  (double)(uv_hrtime() - t->t_start) / 1e9);
    if (rc)
        end_run(t, "resolve %s: %s", probe_run_def(t->r)->address, err);
    else
        query(t, sa);
}

static void dns_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    int port = d->port ? d->port : 53;
    struct sockaddr_storage ss;
    static int lib_ready;
    dns_job *t = mem_calloc(1, sizeof *t);
    if (!t) {
        probe_run_done(r, 0, "out of memory");
        return;
    }
    t->r = r;
    t->p = d->prep;
    t->loop = probe_run_loop(r);
    t->t_start = uv_hrtime();
    probe_run_set_state(r, t);
    if (!lib_ready) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
            end_run(t, "c-ares cannot start");
            return;
        }
        lib_ready = 1;
    }
    if (numeric(d->address, port, &ss)) {
        probe_run_add(r, "probe_dns_lookup_time_seconds", NULL, 0);
        query(t, (struct sockaddr *)&ss);
        return;
    }
    resolver *res = probe_run_resolver(r);
    if (!res) {
        end_run(t, "no resolver for %s (out of memory or unreadable resolv.conf)", d->address);
        return;
    }
    /* The answer may come before resolve_start returns and end the run: t is not touched
     * afterwards. */
    if (resolve_start(res, d->address, port, RESOLVE_ANY, on_resolved, t, &t->rq))
        end_run(t, "out of memory");
}

static void dns_cancel(probe_run *r)
{
    dns_job *t = probe_run_state(r);
    if (t && t->r)
        teardown(t);
}

const probe_type probe_dns_type = {
    .name = "dns",
    .prepare = dns_prepare,
    .release = dns_release,
    .start = dns_start,
    .cancel = dns_cancel,
};
