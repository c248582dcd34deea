/* sensord: listening sensors on one libuv loop.
 *
 * Lifetimes: a listener owns its socket handle and its TCP connections; closing a listener
 * closes them all and frees it once the last handle's close callback ran (refs). Only the loop
 * thread touches listeners' sockets and batches; the sensor table (status) is shared with API
 * threads under sd->mu.
 *
 * A datagram or a framed TCP message is parsed at once (wire/syslog) into the listener's
 * batch: the event's strings are copied into the batch's arena, so the parser's scratch buffer
 * is free for the next message. A batch goes to the ingest when it holds SENSORD_BATCH events
 * or when the 100 ms flush timer fires; the ingest stores it (one transaction) and counts it. */
#include "sensord.h"

#include "../catalog/assign.h"
#include "../lib/buf.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "../wire/snmptrap.h"
#include "../wire/syslog.h"
#include "../wire/usage.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define SD_FLUSH_MS 100
#define SD_RATES_MAX 10000
#define SD_NAME_MAX 128

enum { L_SYSLOG = 1, L_USAGE = 2, L_TRAP = 3 };

typedef struct sensord sensord;
typedef struct listener listener;

/* A batch of parsed events whose strings live in arena (offsets until the flush). */
#define EV_NSTR 9
typedef struct batch {
    event *ev;
    size_t (*off)[EV_NSTR];
    size_t n, cap;
    buf arena;
} batch;

typedef struct bucket {
    double tokens;
    int64_t at_ms;
} bucket;

typedef struct tconn {
    uv_tcp_t h;
    listener *l;
    syslog_framer fr;
    char source[INET6_ADDRSTRLEN];
    char rbuf[16384];
    int dead;
    struct tconn *prev, *next;
} tconn;

/* The status of one catalog sensor (the table shared with the API). */
typedef struct sstat {
    int64_t id;
    char name[SD_NAME_MAX];
    char type[24];
    char state[16];
    char address[128];
    char error[256];
    uint64_t received, dropped, rejected, stored;
    uint64_t wdropped; /* batches the store refused or the queue had no room for */
    int64_t last_ms;
    int seen; /* in the last catalog read */
} sstat;

struct listener {
    sensord *sd;
    int64_t id;
    char name[SD_NAME_MAX];
    int kind;      /* L_SYSLOG, L_USAGE, L_TRAP */
    char community[128]; /* L_TRAP: the community traps must carry ("" any) */
    buf resp;      /* L_TRAP: the answer to an inform */
    int tcp;       /* syslog over TCP */
    char *config;  /* the settings this listener was made from (JSON text), for change checks */
    char address[128];
    union {
        uv_udp_t udp;
        uv_tcp_t tcp;
        uv_handle_t any;
    } h;
    int refs;      /* the socket handle + open connections */
    int closing;
    int paused;    /* TCP: reading stopped until the writer's queue has room again */
    tconn *conns;
    size_t nconns;
    batch b;
    buf scratch;
    hmap rates;
    size_t nrates;
    uint64_t received, dropped, rejected;
    int64_t last_ms;
    char rxbuf[SENSORD_MSG_MAX + 1];
    listener *next;
};

struct sensord {
    cat_store *cat;
    evingest *ingest;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick, flush;
    int stopping;
    uint64_t gen; /* catalog generation applied (+1) */
    listener *ls;
    pthread_mutex_t mu; /* stats table */
    sstat *stats;
    size_t nstats;
    int started; /* 1 running, -1 failed */
    pthread_cond_t started_cond;
    /* The writer: batches go from the loop to the store through this queue, so receiving
     * never waits for a commit. Guarded by wmu. */
    pthread_t writer;
    pthread_mutex_t wmu;
    pthread_cond_t wcond;
    struct wjob *whead, *wtail;
    size_t wevents; /* events queued */
    int wstop;
};

/* A batch on its way to the store. */
typedef struct wjob {
    batch b;
    int64_t id;
    char name[SD_NAME_MAX];
    struct wjob *next;
} wjob;

/* ---- batches ---------------------------------------------------------------------------- */

static void batch_free(batch *b)
{
    mem_free(b->ev);
    mem_free(b->off);
    buf_free(&b->arena);
}

/* Copies ev (and its strings) into the batch. Returns 0 or -ENOMEM / -E2BIG. */
static int batch_add(batch *b, const event *ev)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        event *e = mem_realloc(b->ev, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        b->ev = e;
        size_t(*o)[EV_NSTR] = mem_realloc(b->off, cap * sizeof *o);
        if (!o)
            return -ENOMEM;
        b->off = o;
        b->cap = cap;
    }
    const char *s[EV_NSTR] = {ev->kind, ev->host,   ev->app,    ev->title,      ev->text,
                              ev->fields, ev->source, ev->fingerprint, ""};
    size_t before = b->arena.len;
    for (int i = 0; i < EV_NSTR; i++) {
        b->off[b->n][i] = b->arena.len;
        if (buf_append(&b->arena, s[i], strlen(s[i]) + 1)) {
            b->arena.len = before;
            b->arena.err = 0;
            return -E2BIG;
        }
    }
    b->ev[b->n++] = *ev;
    return 0;
}

/* Turns offsets into pointers (the arena no longer moves). */
static void batch_fix(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const char *a = b->arena.data;
        size_t *o = b->off[i];
        event *e = &b->ev[i];
        e->kind = a + o[0];
        e->host = a + o[1];
        e->app = a + o[2];
        e->title = a + o[3];
        e->text = a + o[4];
        e->fields = a + o[5];
        e->source = a + o[6];
        e->fingerprint = a + o[7];
    }
}

/* ---- status table ----------------------------------------------------------------------- */

static sstat *stat_find(sensord *sd, int64_t id)
{
    for (size_t i = 0; i < sd->nstats; i++)
        if (sd->stats[i].id == id)
            return &sd->stats[i];
    return NULL;
}

/* Copies a listener's counters into its status row (loop thread). */
static void stat_sync(listener *l)
{
    sensord *sd = l->sd;
    pthread_mutex_lock(&sd->mu);
    sstat *s = stat_find(sd, l->id);
    if (s) {
        s->received = l->received;
        s->dropped = l->dropped;
        s->rejected = l->rejected;
        if (l->last_ms > s->last_ms)
            s->last_ms = l->last_ms;
    }
    pthread_mutex_unlock(&sd->mu);
}

/* Stops or restarts reading every connection of a TCP listener. */
static void conns_read(listener *l, int on);

/* Hands the listener's batch to the writer (loop thread). When the queue already holds
 * SENSORD_QUEUE_MAX events (the store cannot keep up), a TCP listener keeps its batch and
 * stops reading its connections — TCP's flow control then slows the senders down, and nothing
 * is lost — until a later flush (the 100 ms timer) finds room; a UDP listener, whose senders
 * cannot be slowed, drops the batch and counts it. closing: the listener goes away, so a batch
 * that finds no room is dropped (and counted) in any case. */
static void batch_flush_ex(listener *l, int closing)
{
    sensord *sd = l->sd;
    if (!l->b.n)
        return;
    wjob *j = mem_calloc(1, sizeof *j);
    pthread_mutex_lock(&sd->wmu);
    int room = j && sd->wevents + l->b.n <= SENSORD_QUEUE_MAX;
    if (room) {
        j->b = l->b;
        j->id = l->id;
        snprintf(j->name, sizeof j->name, "%s", l->name);
        if (sd->wtail)
            sd->wtail->next = j;
        else
            sd->whead = j;
        sd->wtail = j;
        sd->wevents += l->b.n;
        pthread_cond_signal(&sd->wcond);
    }
    pthread_mutex_unlock(&sd->wmu);
    if (room) {
        memset(&l->b, 0, sizeof l->b);
        buf_init(&l->b.arena, 64u << 20);
        if (l->paused) {
            l->paused = 0;
            conns_read(l, 1);
        }
    } else {
        mem_free(j);
        if (l->tcp && !closing) {
            if (!l->paused) {
                l->paused = 1;
                conns_read(l, 0);
            }
            return;
        }
        l->dropped += l->b.n;
        l->b.n = 0;
        buf_reset(&l->b.arena);
    }
    stat_sync(l);
}

static void batch_flush(listener *l)
{
    batch_flush_ex(l, 0);
}

/* Stores a chain of batches of one sensor (linked by next) in one call — one transaction per
 * day — and counts the outcome in the sensor's row (writer thread). Under load the queue holds
 * many small batches; storing them together amortises the commit. */
static void write_jobs(sensord *sd, wjob *j)
{
    size_t n = 0, k = 0;
    for (wjob *x = j; x; x = x->next)
        n += x->b.n;
    event *all = j->next ? mem_alloc(n * sizeof *all) : NULL;
    int rc;
    if (j->next && !all) {
        rc = -ENOMEM;
    } else {
        for (wjob *x = j; x; x = x->next) {
            batch_fix(&x->b);
            if (all) {
                memcpy(all + k, x->b.ev, x->b.n * sizeof *all);
                k += x->b.n;
            }
        }
        rc = evingest_events(sd->ingest, j->id, j->name, all ? all : j->b.ev, n, NULL);
    }
    if (rc)
        log_warn("sensor %s: %zu events not stored: %s", j->name, n, strerror(-rc));
    pthread_mutex_lock(&sd->mu);
    sstat *s = stat_find(sd, j->id);
    if (s && rc)
        s->wdropped += n;
    else if (s)
        s->stored += n;
    pthread_mutex_unlock(&sd->mu);
    mem_free(all);
    while (j) {
        wjob *next = j->next;
        batch_free(&j->b);
        mem_free(j);
        j = next;
    }
}

static void *writer_main(void *arg)
{
    sensord *sd = arg;
    pthread_mutex_lock(&sd->wmu);
    for (;;) {
        while (!sd->whead && !sd->wstop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&sd->wcond, &sd->wmu, &ts);
            if (!sd->whead) {
                /* Idle: the event counters go to the metric store when due. */
                pthread_mutex_unlock(&sd->wmu);
                evingest_tick(sd->ingest, timeutil_now_ms());
                pthread_mutex_lock(&sd->wmu);
            }
        }
        wjob *j = sd->whead;
        if (!j)
            break; /* stopping, and everything written */
        /* The first batch and those of the same sensor right behind it, up to
         * SENSORD_WRITE_MAX events. */
        wjob *last = j;
        size_t n = j->b.n;
        while (last->next && last->next->id == j->id && n + last->next->b.n <= SENSORD_WRITE_MAX) {
            last = last->next;
            n += last->b.n;
        }
        sd->whead = last->next;
        if (!sd->whead)
            sd->wtail = NULL;
        last->next = NULL;
        sd->wevents -= n;
        pthread_mutex_unlock(&sd->wmu);
        write_jobs(sd, j);
        evingest_tick(sd->ingest, timeutil_now_ms());
        pthread_mutex_lock(&sd->wmu);
    }
    pthread_mutex_unlock(&sd->wmu);
    return NULL;
}

/* ---- rate limits ------------------------------------------------------------------------ */

/* Takes one token of source's bucket. Returns 1 when the message may pass. */
static int rate_take(listener *l, const char *source, int64_t now_ms)
{
    size_t klen = strlen(source);
    bucket *b = hmap_get(&l->rates, source, klen);
    if (!b) {
        if (l->nrates >= SD_RATES_MAX) {
            /* Too many senders to remember: start over (a bucket refills in 2 s anyway). */
            size_t pos = 0;
            hmap_entry *e;
            while ((e = hmap_next(&l->rates, &pos)))
                mem_free(e->value);
            hmap_free(&l->rates);
            hmap_init(&l->rates);
            l->nrates = 0;
        }
        b = mem_alloc(sizeof *b);
        if (!b)
            return 1;
        *b = (bucket){2.0 * SENSORD_RATE, now_ms};
        if (hmap_put(&l->rates, source, klen, b)) {
            mem_free(b);
            return 1;
        }
        l->nrates++;
    }
    double add = (double)(now_ms - b->at_ms) * SENSORD_RATE / 1000.0;
    b->at_ms = now_ms;
    b->tokens += add;
    if (b->tokens > 2.0 * SENSORD_RATE)
        b->tokens = 2.0 * SENSORD_RATE;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* ---- messages --------------------------------------------------------------------------- */

static void addr_text(const struct sockaddr *sa, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)sa, dst, cap);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        /* An IPv4 sender on a dual-stack socket is written as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            struct sockaddr_in s4 = {.sin_family = AF_INET};
            memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
            uv_ip4_name(&s4, dst, cap);
        } else {
            uv_ip6_name(s6, dst, cap);
        }
    }
}

/* One syslog message from source: parsed into the batch. */
static void syslog_message(listener *l, const char *msg, size_t len, const char *source)
{
    int64_t now = timeutil_now_ms();
    l->received++;
    l->last_ms = now;
    /* UDP senders are held to their rate; a TCP sender is slowed by the connection itself
     * when the store falls behind (batch_flush stops reading), so nothing it sent is lost. */
    if (!l->tcp && !rate_take(l, source, now)) {
        l->dropped++;
        return;
    }
    event ev;
    char err[160];
    event_init(&ev);
    if (syslog_parse(msg, len, now, 0, &l->scratch, &ev, err, sizeof err)) {
        l->rejected++;
        return;
    }
    ev.source = source;
    ev.recv_ms = now;
    ev.sensor_id = l->id;
    if (batch_add(&l->b, &ev)) {
        l->dropped++;
        return;
    }
    if (l->b.n >= SENSORD_BATCH)
        batch_flush(l);
}

static void usage_datagram(listener *l, const char *data, size_t len, const char *source)
{
    int64_t now = timeutil_now_ms();
    usage_report rep;
    size_t dups = 0;
    l->last_ms = now;
    if (!rate_take(l, source, now)) {
        l->received++;
        l->dropped++;
        return;
    }
    int rc = evingest_usage_body(l->sd->ingest, l->name, data, len, 0, now, &rep, &dups);
    l->received += rep.accepted + rep.rejected;
    l->rejected += rep.rejected;
    if (rc && rc != -EINVAL)
        l->dropped += rep.accepted;
    stat_sync(l);
    if (!rc)
        sensord_count(l->sd, l->id, 0, rep.accepted - dups, 0, 0);
}

/* One trap (or inform: answered at once, before it is stored, as agents expect). */
static void trap_datagram(listener *l, const char *data, size_t len, const char *source,
                          const struct sockaddr *sa)
{
    int64_t now = timeutil_now_ms();
    event ev;
    char err[160];
    l->received++;
    l->last_ms = now;
    if (!rate_take(l, source, now)) {
        l->dropped++;
        return;
    }
    event_init(&ev);
    buf_reset(&l->resp);
    int rc = snmptrap_decode((const unsigned char *)data, len, l->community, source, now,
                             &l->scratch, &ev, &l->resp, err, sizeof err);
    if (rc) {
        /* A wrong community is an unauthenticated sender: counted, not logged per datagram. */
        if (rc != -EACCES)
            log_debug("sensor %s: trap from %s refused: %s", l->name, source, err);
        l->rejected++;
        return;
    }
    if (l->resp.len) {
        uv_buf_t b = uv_buf_init(l->resp.data, (unsigned)l->resp.len);
        uv_udp_try_send(&l->h.udp, &b, 1, sa);
    }
    ev.source = source;
    ev.recv_ms = now;
    ev.sensor_id = l->id;
    if (batch_add(&l->b, &ev)) {
        l->dropped++;
        return;
    }
    if (l->b.n >= SENSORD_BATCH)
        batch_flush(l);
}

/* ---- UDP -------------------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    listener *l = h->data;
    *b = uv_buf_init(l->rxbuf, SENSORD_MSG_MAX);
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *sa,
                     unsigned flags)
{
    listener *l = h->data;
    if (n <= 0 || !sa || l->closing)
        return;
    char source[INET6_ADDRSTRLEN];
    addr_text(sa, source, sizeof source);
    if (flags & UV_UDP_PARTIAL)
        l->rejected++; /* cut by the buffer: still kept, as far as it goes */
    if (l->kind == L_SYSLOG)
        syslog_message(l, b->base, (size_t)n, source);
    else if (l->kind == L_TRAP)
        trap_datagram(l, b->base, (size_t)n, source, sa);
    else
        usage_datagram(l, b->base, (size_t)n, source);
}

/* ---- TCP -------------------------------------------------------------------------------- */

static void listener_unref(listener *l);

static void conn_closed(uv_handle_t *h)
{
    tconn *c = h->data;
    listener *l = c->l;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    syslog_framer_free(&c->fr);
    mem_free(c);
    listener_unref(l);
}

static void conn_close(tconn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    uv_close((uv_handle_t *)&c->h, conn_closed);
}

static int tcp_frame(void *ctx, const char *msg, size_t len)
{
    tconn *c = ctx;
    syslog_message(c->l, msg, len, c->source);
    return 0;
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    tconn *c = h->data;
    *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    tconn *c = s->data;
    char err[160];
    if (n == UV_EOF) {
        syslog_framer_finish(&c->fr, tcp_frame, c);
        conn_close(c);
        return;
    }
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (syslog_framer_feed(&c->fr, b->base, (size_t)n, tcp_frame, c, err, sizeof err)) {
        log_info("sensor %s: closing the connection of %s: %s", c->l->name, c->source, err);
        c->l->rejected++;
        conn_close(c);
    }
}

static void tcp_accept(uv_stream_t *server, int status)
{
    listener *l = server->data;
    if (status < 0 || l->closing)
        return;
    tconn *c = mem_calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(&l->sd->loop, &c->h);
    c->h.data = c;
    c->l = l;
    l->refs++;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    syslog_framer_init(&c->fr, SENSORD_MSG_MAX);
    if (uv_accept(server, (uv_stream_t *)&c->h)) {
        conn_close(c);
        return;
    }
    if (l->nconns > SENSORD_TCP_MAX) {
        l->dropped++;
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &sl) == 0)
        addr_text((struct sockaddr *)&ss, c->source, sizeof c->source);
    if (!l->paused && uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read))
        conn_close(c);
}

static void conns_read(listener *l, int on)
{
    for (tconn *c = l->conns; c; c = c->next) {
        if (c->dead)
            continue;
        if (!on)
            uv_read_stop((uv_stream_t *)&c->h);
        else if (uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read) &&
                 !uv_is_active((uv_handle_t *)&c->h))
            conn_close(c);
    }
}

/* ---- listeners -------------------------------------------------------------------------- */

static void listener_free(listener *l)
{
    size_t pos = 0;
    hmap_entry *e;
    while ((e = hmap_next(&l->rates, &pos)))
        mem_free(e->value);
    hmap_free(&l->rates);
    batch_free(&l->b);
    buf_free(&l->scratch);
    buf_free(&l->resp);
    free(l->config); /* json_dumps: malloc */
    mem_free(l);
}

static void listener_unref(listener *l)
{
    if (--l->refs == 0)
        listener_free(l);
}

static void handle_closed(uv_handle_t *h)
{
    listener_unref(h->data);
}

/* Stops a listener: flushes its batch, closes its socket and connections. */
static void listener_close(listener *l)
{
    if (l->closing)
        return;
    batch_flush_ex(l, 1);
    l->closing = 1;
    for (tconn *c = l->conns; c; c = c->next)
        conn_close(c);
    uv_close(&l->h.any, handle_closed);
}

/* Parses "host:port" / "[v6]:port" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t cap)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) {
        snprintf(err, cap, "listen address \"%s\" is not host:port", s);
        return -EINVAL;
    }
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(err, cap, "listen address too long");
        return -EINVAL;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 0 || port > 65535) {
        snprintf(err, cap, "bad port in \"%s\"", s);
        return -EINVAL;
    }
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    snprintf(err, cap, "\"%s\" is not a numeric address (use an IP address, e.g. 0.0.0.0)", host);
    return -EINVAL;
}

/* Opens a listener; on failure returns -errno with the reason in err (nothing left open). */
static int listener_open(listener *l, const char *addr, char *err, size_t cap)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = parse_listen(addr, &ss, err, cap);
    if (rc)
        return rc;
    snprintf(l->address, sizeof l->address, "%s", addr);
    l->h.any.data = l;
    if (l->tcp) {
        uv_tcp_init(&l->sd->loop, &l->h.tcp);
        l->refs = 1;
        if ((rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0)) == 0)
            rc = uv_listen((uv_stream_t *)&l->h.tcp, 128, tcp_accept);
    } else {
        uv_udp_init(&l->sd->loop, &l->h.udp);
        l->refs = 1;
        if ((rc = uv_udp_bind(&l->h.udp, (struct sockaddr *)&ss, UV_UDP_REUSEADDR)) == 0) {
            int size = 8 << 20;
            uv_recv_buffer_size((uv_handle_t *)&l->h.udp, &size);
            rc = uv_udp_recv_start(&l->h.udp, udp_alloc, udp_recv);
        }
    }
    if (rc) {
        snprintf(err, cap, "cannot listen on %s (%s): %s", addr, l->tcp ? "tcp" : "udp",
                 uv_strerror(rc));
        return rc;
    }
    return 0;
}

/* ---- following the catalog -------------------------------------------------------------- */

static listener *listener_find(sensord *sd, int64_t id)
{
    for (listener *l = sd->ls; l; l = l->next)
        if (l->id == id)
            return l;
    return NULL;
}

static void listener_drop(sensord *sd, listener *l)
{
    listener **pp = &sd->ls;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
    listener_close(l);
}

/* Sets the status row of a sensor (caller holds sd->mu). */
static sstat *stat_put(sensord *sd, int64_t id, const char *name, const char *type)
{
    sstat *s = stat_find(sd, id);
    if (!s) {
        sstat *v = mem_realloc(sd->stats, (sd->nstats + 1) * sizeof *v);
        if (!v)
            return NULL;
        sd->stats = v;
        s = &sd->stats[sd->nstats++];
        memset(s, 0, sizeof *s);
        s->id = id;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->type, sizeof s->type, "%s", type);
    s->seen = 1;
    s->error[0] = '\0';
    s->address[0] = '\0';
    return s;
}

static void set_state(sensord *sd, int64_t id, const char *state, const char *addr,
                      const char *error)
{
    pthread_mutex_lock(&sd->mu);
    sstat *s = stat_find(sd, id);
    if (s) {
        snprintf(s->state, sizeof s->state, "%s", state);
        snprintf(s->address, sizeof s->address, "%s", addr ? addr : "");
        snprintf(s->error, sizeof s->error, "%s", error ? error : "");
    }
    pthread_mutex_unlock(&sd->mu);
}

/* Makes the listener of one sensor match its catalog object (or go). */
static void apply_sensor(sensord *sd, json_t *o)
{
    int64_t id = (int64_t)json_integer_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *set = json_object_get(o, "settings");
    json_t *agent = json_object_get(o, "agent");
    int enabled = !json_is_false(json_object_get(o, "enabled"));
    if (id <= 0 || !name || !type)
        return;
    pthread_mutex_lock(&sd->mu);
    sstat *st = stat_put(sd, id, name, type);
    pthread_mutex_unlock(&sd->mu);
    if (!st)
        return;

    int kind = 0, tcp = 0;
    const char *addr = NULL;
    if (!strcmp(type, "syslog")) {
        kind = L_SYSLOG;
        addr = json_string_value(json_object_get(set, "listen"));
        if (!addr)
            addr = "0.0.0.0:514";
        const char *tr = json_string_value(json_object_get(set, "transport"));
        tcp = tr && !strcmp(tr, "tcp");
    } else if (!strcmp(type, "usage-events")) {
        addr = json_string_value(json_object_get(set, "listen_udp"));
        kind = addr && *addr ? L_USAGE : 0;
    } else if (!strcmp(type, "snmp-trap")) {
        kind = L_TRAP;
        addr = json_string_value(json_object_get(set, "listen"));
        if (!addr)
            addr = "0.0.0.0:162";
    }
    char *config = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    listener *l = listener_find(sd, id);
    if (l && (!config || strcmp(l->config, config) != 0 || !enabled || !kind ||
              (agent && !json_is_null(agent)))) {
        listener_drop(sd, l);
        l = NULL;
    }
    if (!enabled) {
        set_state(sd, id, "disabled", addr, NULL);
    } else if (agent && !json_is_null(agent)) {
        set_state(sd, id, "remote", addr,
                  "this sensor names an agent; agents do not run sensors yet, so nothing "
                  "listens for it (clear the agent to have the server listen)");
    } else if (!kind) {
        set_state(sd, id, "intake", NULL, NULL); /* HTTP only: webhook, usage without UDP */
    } else if (l) {
        /* Unchanged and listening. */
    } else {
        char err[256];
        l = mem_calloc(1, sizeof *l);
        if (!l || !config) {
            mem_free(l);
            set_state(sd, id, "error", addr, "out of memory");
        } else {
            l->sd = sd;
            l->id = id;
            snprintf(l->name, sizeof l->name, "%s", name);
            l->kind = kind;
            l->tcp = tcp;
            const char *comm = json_string_value(json_object_get(set, "community"));
            snprintf(l->community, sizeof l->community, "%s", comm ? comm : "public");
            buf_init(&l->resp, 65536);
            l->config = config;
            config = NULL;
            buf_init(&l->b.arena, 64u << 20);
            buf_init(&l->scratch, 1u << 20);
            hmap_init(&l->rates);
            int rc = listener_open(l, addr, err, sizeof err);
            if (rc) {
                log_warn("sensor %s: %s", name, err);
                set_state(sd, id, "error", addr, err);
                if (l->refs)
                    listener_close(l);
                else
                    listener_free(l);
            } else {
                log_info("sensor %s: listening on %s (%s)", name, addr, tcp ? "tcp" : "udp");
                set_state(sd, id, "listening", addr, NULL);
                l->next = sd->ls;
                sd->ls = l;
            }
        }
    }
    free(config);
}

static void reload(sensord *sd)
{
    uint64_t g = cat_store_generation(sd->cat) + 1;
    if (g == sd->gen)
        return;
    const cat_model *m = cat_model_find("sensor");
    cat_actor admin = {.role = CAT_ROLE_ADMIN, .user_id = 0, .name = "sensors"};
    json_t *all = json_array();
    for (int64_t off = 0; all; off += 1000) {
        cat_query q = {.limit = 1000, .offset = off, .sort = "id"};
        json_t *rows = NULL;
        int64_t total = 0;
        cat_result r = {0};
        if (cat_list(sd->cat, m, &admin, &q, &rows, &total, &r)) {
            log_warn("sensors: cannot read the catalog: %s", r.msg);
            cat_result_clear(&r);
            json_decref(all);
            return;
        }
        json_array_extend(all, rows);
        size_t n = json_array_size(rows);
        json_decref(rows);
        if (n < 1000 || off + (int64_t)n >= total)
            break;
    }
    if (!all)
        return;
    pthread_mutex_lock(&sd->mu);
    for (size_t i = 0; i < sd->nstats; i++)
        sd->stats[i].seen = 0;
    pthread_mutex_unlock(&sd->mu);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) apply_sensor(sd, o);
    /* Sensors gone from the catalog: close their listeners, forget their rows. */
    for (listener *l = sd->ls, *next; l; l = next) {
        next = l->next;
        pthread_mutex_lock(&sd->mu);
        sstat *s = stat_find(sd, l->id);
        int gone = !s || !s->seen;
        pthread_mutex_unlock(&sd->mu);
        if (gone)
            listener_drop(sd, l);
    }
    pthread_mutex_lock(&sd->mu);
    size_t k = 0;
    for (size_t j = 0; j < sd->nstats; j++)
        if (sd->stats[j].seen)
            sd->stats[k++] = sd->stats[j];
    sd->nstats = k;
    pthread_mutex_unlock(&sd->mu);
    json_decref(all);
    sd->gen = g;
}

/* ---- the thread ------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    sensord *sd = t->data;
    reload(sd);
}

static void on_flush(uv_timer_t *t)
{
    sensord *sd = t->data;
    for (listener *l = sd->ls; l; l = l->next) {
        batch_flush(l);
        stat_sync(l); /* counts of messages that made no batch (refused, rate-limited) */
    }
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_wake(uv_async_t *a)
{
    sensord *sd = a->data;
    if (!sd->stopping)
        return;
    while (sd->ls) {
        listener *l = sd->ls;
        sd->ls = l->next;
        listener_close(l);
    }
    uv_close((uv_handle_t *)&sd->tick, NULL);
    uv_close((uv_handle_t *)&sd->flush, NULL);
    uv_close((uv_handle_t *)&sd->wake, NULL);
}

static void *run(void *arg)
{
    sensord *sd = arg;
    int rc = uv_loop_init(&sd->loop);
    if (!rc) {
        uv_async_init(&sd->loop, &sd->wake, on_wake);
        uv_timer_init(&sd->loop, &sd->tick);
        uv_timer_init(&sd->loop, &sd->flush);
        sd->wake.data = sd->tick.data = sd->flush.data = sd;
        uv_timer_start(&sd->tick, on_tick, 0, 1000);
        uv_timer_start(&sd->flush, on_flush, SD_FLUSH_MS, SD_FLUSH_MS);
    }
    pthread_mutex_lock(&sd->mu);
    sd->started = rc ? -1 : 1;
    pthread_cond_signal(&sd->started_cond);
    pthread_mutex_unlock(&sd->mu);
    if (rc)
        return NULL;
    uv_run(&sd->loop, UV_RUN_DEFAULT);
    uv_walk(&sd->loop, close_walk, NULL);
    uv_run(&sd->loop, UV_RUN_DEFAULT);
    uv_loop_close(&sd->loop);
    return NULL;
}

/* Lets the writer store what is queued, then ends it. */
static void writer_stop(sensord *sd)
{
    pthread_mutex_lock(&sd->wmu);
    sd->wstop = 1;
    pthread_cond_signal(&sd->wcond);
    pthread_mutex_unlock(&sd->wmu);
    pthread_join(sd->writer, NULL);
    pthread_mutex_destroy(&sd->wmu);
    pthread_cond_destroy(&sd->wcond);
}

int sensord_start(sensord **out, cat_store *cat, evingest *ingest)
{
    sensord *sd = mem_calloc(1, sizeof *sd);
    if (!sd)
        return -ENOMEM;
    sd->cat = cat;
    sd->ingest = ingest;
    pthread_mutex_init(&sd->mu, NULL);
    pthread_cond_init(&sd->started_cond, NULL);
    pthread_mutex_init(&sd->wmu, NULL);
    pthread_cond_init(&sd->wcond, NULL);
    if (pthread_create(&sd->writer, NULL, writer_main, sd)) {
        pthread_mutex_destroy(&sd->mu);
        pthread_cond_destroy(&sd->started_cond);
        pthread_mutex_destroy(&sd->wmu);
        pthread_cond_destroy(&sd->wcond);
        mem_free(sd);
        return -EAGAIN;
    }
    if (pthread_create(&sd->thread, NULL, run, sd)) {
        writer_stop(sd);
        pthread_mutex_destroy(&sd->mu);
        pthread_cond_destroy(&sd->started_cond);
        mem_free(sd);
        return -EAGAIN;
    }
    pthread_mutex_lock(&sd->mu);
    while (!sd->started)
        pthread_cond_wait(&sd->started_cond, &sd->mu);
    int ok = sd->started > 0;
    pthread_mutex_unlock(&sd->mu);
    if (!ok) {
        pthread_join(sd->thread, NULL);
        writer_stop(sd);
        pthread_mutex_destroy(&sd->mu);
        pthread_cond_destroy(&sd->started_cond);
        mem_free(sd);
        return -EAGAIN;
    }
    *out = sd;
    return 0;
}

void sensord_stop(sensord *sd)
{
    if (!sd)
        return;
    sd->stopping = 1;
    uv_async_send(&sd->wake);
    pthread_join(sd->thread, NULL); /* its listeners handed their last batches over */
    writer_stop(sd);
    pthread_mutex_destroy(&sd->mu);
    pthread_cond_destroy(&sd->started_cond);
    mem_free(sd->stats);
    mem_free(sd);
}

json_t *sensord_status(sensord *sd, int64_t id)
{
    pthread_mutex_lock(&sd->mu);
    sstat *s = stat_find(sd, id);
    json_t *o;
    if (!s) {
        o = json_pack("{ss ss* ss* sI sI sI sI so}", "state", "unknown", "address", NULL,
                      "error", NULL, "received", (json_int_t)0, "stored", (json_int_t)0,
                      "dropped", (json_int_t)0, "rejected", (json_int_t)0, "last_event",
                      json_null());
    } else {
        o = json_pack("{ss ss* ss* sI sI sI sI so}", "state",
                      s->state[0] ? s->state : "unknown", "address",
                      s->address[0] ? s->address : NULL, "error", s->error[0] ? s->error : NULL,
                      "received", (json_int_t)s->received, "stored", (json_int_t)s->stored,
                      "dropped", (json_int_t)(s->dropped + s->wdropped), "rejected", (json_int_t)s->rejected,
                      "last_event",
                      s->last_ms ? json_integer((json_int_t)s->last_ms) : json_null());
    }
    pthread_mutex_unlock(&sd->mu);
    return o;
}

void sensord_count(sensord *sd, int64_t id, uint64_t received, uint64_t stored,
                   uint64_t rejected, int64_t last_ms)
{
    pthread_mutex_lock(&sd->mu);
    sstat *s = stat_find(sd, id);
    if (!s) {
        /* An intake used before the loop's next catalog read: the row is made now and named
         * then (a row of a sensor not in the catalog goes at that read). */
        sstat *v = mem_realloc(sd->stats, (sd->nstats + 1) * sizeof *v);
        if (v) {
            sd->stats = v;
            s = &sd->stats[sd->nstats++];
            memset(s, 0, sizeof *s);
            s->id = id;
            s->seen = 1;
        }
    }
    if (s) {
        s->received += received;
        s->stored += stored;
        s->rejected += rejected;
        if (last_ms > s->last_ms)
            s->last_ms = last_ms;
    }
    pthread_mutex_unlock(&sd->mu);
}

void sensord_name(sensord *sd, int64_t id, char *dst, size_t cap)
{
    pthread_mutex_lock(&sd->mu);
    sstat *s = stat_find(sd, id);
    snprintf(dst, cap, "%s", s ? s->name : "");
    pthread_mutex_unlock(&sd->mu);
}
