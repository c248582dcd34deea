/* snmp: the snmp probe — an SNMP v1, v2c or v3 (USM) poll of one agent under snmp_exporter's
 * names: sysUpTime, snmp_sys_info{sysName,sysDescr,sysObjectID}, the IF-MIB counters per
 * interface (labels ifIndex, ifName, ifAlias, ifDescr), each configured OID as snmp_oid{oid}
 * (numbers) or snmp_oid_info{oid,value} (strings), snmp_scrape_walk_duration_seconds and
 * snmp_scrape_pdus_returned.
 *
 * net-snmp is loaded with dlopen on the first run (as collectors/libvirt.c loads libvirt), so
 * agents that poll no SNMP device do not map it; init_snmp runs once, reading no configuration,
 * MIB or persistent file (their directories point below /dev/null), with the library's log
 * routed to ours at debug level.
 *
 * A run never blocks the loop. It resolves the address with the loop's resolver, opens its own
 * net-snmp single session on the numeric address (so net-snmp never looks a name up), watches
 * the session's socket with uv_poll and net-snmp's retransmission deadline with a uv_timer, and
 * sends one request at a time with snmp_sess_async_send: a GET of sysDescr, sysObjectID,
 * sysUpTime and sysName; then the walks — the IF-MIB columns and each configured OID as a
 * subtree — several at once per request (GETBULK for v2c and v3, GETNEXT for v1), each walk
 * ending at its subtree's end, at an exception or, with an error, when the agent goes
 * backwards; last, a GET of each configured OID whose walk found nothing (a scalar instance
 * such as 1.3.6.1.2.1.25.1.1.0). net-snmp's callback only records what arrived; the run
 * decides and sends after the library call returns, so the session is never closed under
 * net-snmp's feet. Per-request timeout and retries are set from what is left of the run's
 * timeout, so an agent that never answers (wrong community, wrong address) ends the run just
 * before the timeout with a message saying so.
 *
 * SNMPv3: net-snmp discovers an engine ID with a blocking request inside its send path (and
 * snmp_sess_open clears SNMP_FLAGS_DONT_PROBE), so the run sets the flag again on the open
 * session and discovers the engine ID itself, as snmp_exporter does on every scrape: an
 * unauthenticated empty GET, answered by a report with the agent's engine ID, boots and time.
 * (Caching engine IDs would save that round trip, but an agent that comes back with a new
 * engine ID answers requests for the old one with silence, not a report.) The user's keys
 * (Ku) are made with generate_Ku once per definition; net-snmp localises them for the engine.
 * net-snmp keeps one USM user per (engine ID, user name) for the whole process, so each run
 * replaces that entry with its own keys before use: a changed password takes effect at once
 * (but two probes of one agent with one user name and different passwords, running at the
 * same moment, would disturb each other; they cannot both be right anyway).
 *
 * What an agent can send is bounded: at most SNMPP_MAX_VARBINDS varbinds per run, string
 * values cut to SNMPP_TEXT_MAX bytes, every answer must move a walk forward. net-snmp keeps
 * global state (its USM users, engine times): all SNMP runs of a process must run on one
 * thread; a run on another thread fails with a message. */
#include "../../lib/log.h" /* before net-snmp: <syslog.h> defines LOG_DEBUG and LOG_INFO */
#include "snmp_int.h"

#include "../../lib/mem.h"
#include "probe.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <net-snmp/library/callback.h>
#include <net-snmp/library/default_store.h>
#include <net-snmp/library/keytools.h>
#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/library/snmp_api.h>
#include <net-snmp/library/snmp_logging.h>
#include <net-snmp/library/snmp_transport.h>
#include <net-snmp/library/snmpusm.h>
#include <net-snmp/session_api.h>

/* <syslog.h> names clash with log.h's levels: keep syslog's debug priority under another
 * name and give the names back to log.h. */
enum { SN_SYSLOG_DEBUG = LOG_DEBUG };
#undef LOG_DEBUG
#undef LOG_INFO

/* ==== net-snmp, loaded on first use ======================================================== */

/* Every net-snmp function this file calls; the macros below route the calls through the table
 * filled by dlsym, so the agent does not link libnetsnmp (nor OpenSSL with it). */
#define SN_API(X)                                                                                  \
    X(init_snmp)                                                                                   \
    X(netsnmp_ds_set_boolean)                                                                      \
    X(netsnmp_ds_set_string)                                                                       \
    X(netsnmp_register_loghandler)                                                                 \
    X(snmp_register_callback)                                                                      \
    X(snmp_sess_init)                                                                              \
    X(snmp_sess_open)                                                                              \
    X(snmp_sess_session)                                                                           \
    X(snmp_sess_transport)                                                                         \
    X(snmp_sess_close)                                                                             \
    X(snmp_sess_async_send)                                                                        \
    X(snmp_sess_select_info2_flags)                                                                \
    X(snmp_sess_read2)                                                                             \
    X(snmp_sess_timeout)                                                                           \
    X(snmp_sess_error)                                                                             \
    X(snmp_api_errstring)                                                                          \
    X(snmp_pdu_create)                                                                             \
    X(snmp_add_null_var)                                                                           \
    X(snmp_free_pdu)                                                                               \
    X(generate_Ku)                                                                                 \
    X(usm_get_user)                                                                                \
    X(usm_remove_user)                                                                             \
    X(usm_free_user)                                                                               \
    X(usm_create_user_from_session)                                                                \
    X(netsnmp_large_fd_set_init)                                                                   \
    X(netsnmp_large_fd_setfd)                                                                      \
    X(netsnmp_large_fd_set_cleanup)

static struct sn_api {
#define SN_FIELD(f) __typeof__(f) *f;
    SN_API(SN_FIELD)
#undef SN_FIELD
} sn;

#define SN_LIB "libnetsnmp.so.40"

static int sn_state; /* 0: not tried, 1: ready, -1: failed for good */
static char sn_reason[240];
static pthread_t sn_thread;

/* net-snmp's log lines, at our debug level. */
static int sn_log(int major, int minor, void *server, void *client)
{
    (void)major;
    (void)minor;
    (void)client;
    const struct snmp_log_message *m = server;
    if (m && m->msg) {
        size_t n = strlen(m->msg);
        while (n && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
            n--;
        log_debug("net-snmp: %.*s", (int)n, m->msg);
    }
    return 0;
}

/* Loads and initialises net-snmp once. Returns 0, or -ENOENT with the reason in why (not
 * installed, or called from another thread than the first). */
static int sn_load(char *why, size_t cap)
{
    if (sn_state == 0) {
        void *h = dlopen(SN_LIB, RTLD_NOW | RTLD_LOCAL);
        sn_state = -1;
        if (!h) {
            snprintf(sn_reason, sizeof sn_reason,
                     "net-snmp is not installed (%s; Debian package libsnmp40)", dlerror());
        } else {
            sn_state = 1;
#define SN_SYM(f)                                                                                  \
    if (sn_state == 1 && !(sn.f = (__typeof__(sn.f))dlsym(h, #f))) {                               \
        snprintf(sn_reason, sizeof sn_reason, SN_LIB " lacks %s", #f);                             \
        sn_state = -1;                                                                             \
    }
            SN_API(SN_SYM)
#undef SN_SYM
            if (sn_state < 0)
                dlclose(h);
        }
        if (sn_state > 0) {
            /* No configuration, host, MIB or persistent file: reading them could block, and
             * persistence would write. The directories point below /dev/null, where nothing
             * can be created. No SIGALRM either: timeouts are the loop's. */
            static const int flags[] = {
                NETSNMP_DS_LIB_DONT_READ_CONFIGS,       NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES,
                NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE,
                NETSNMP_DS_LIB_DONT_PERSIST_STATE,      NETSNMP_DS_LIB_ALARM_DONT_USE_SIG,
                NETSNMP_DS_LIB_NO_TOKEN_WARNINGS};
            for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
                sn.netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, flags[i], 1);
            sn.netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS,
                                     "/dev/null/dashdot-no-mibs");
            sn.netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR,
                                     "/dev/null/dashdot-no-persistence");
            sn.snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, sn_log, NULL);
            sn.netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, SN_SYSLOG_DEBUG);
            /* init_snmp sets the locale from the environment: put the process's back. */
            char locale[256];
            const char *cur = setlocale(LC_ALL, NULL);
            snprintf(locale, sizeof locale, "%s", cur ? cur : "C");
            sn.init_snmp("dashdot");
            setlocale(LC_ALL, locale);
            sn_thread = pthread_self();
            log_debug("snmp: %s loaded", SN_LIB);
        }
    }
    if (sn_state > 0 && !pthread_equal(sn_thread, pthread_self())) {
        snprintf(why, cap, "net-snmp is in use by another thread (SNMP probes run on one loop)");
        return -ENOENT;
    }
    if (sn_state > 0)
        return 0;
    snprintf(why, cap, "%s", sn_reason);
    return -ENOENT;
}

#define SN_CALL(f) (*sn.f)
#define snmp_sess_init SN_CALL(snmp_sess_init)
#define snmp_sess_open SN_CALL(snmp_sess_open)
#define snmp_sess_session SN_CALL(snmp_sess_session)
#define snmp_sess_transport SN_CALL(snmp_sess_transport)
#define snmp_sess_close SN_CALL(snmp_sess_close)
#define snmp_sess_async_send SN_CALL(snmp_sess_async_send)
#define snmp_sess_select_info2_flags SN_CALL(snmp_sess_select_info2_flags)
#define snmp_sess_read2 SN_CALL(snmp_sess_read2)
#define snmp_sess_timeout SN_CALL(snmp_sess_timeout)
#define snmp_sess_error SN_CALL(snmp_sess_error)
#define snmp_api_errstring SN_CALL(snmp_api_errstring)
#define snmp_pdu_create SN_CALL(snmp_pdu_create)
#define snmp_add_null_var SN_CALL(snmp_add_null_var)
#define snmp_free_pdu SN_CALL(snmp_free_pdu)
#define generate_Ku SN_CALL(generate_Ku)
#define usm_get_user SN_CALL(usm_get_user)
#define usm_remove_user SN_CALL(usm_remove_user)
#define usm_free_user SN_CALL(usm_free_user)
#define usm_create_user_from_session SN_CALL(usm_create_user_from_session)
#define netsnmp_large_fd_set_init SN_CALL(netsnmp_large_fd_set_init)
#define netsnmp_large_fd_setfd SN_CALL(netsnmp_large_fd_setfd)
#define netsnmp_large_fd_set_cleanup SN_CALL(netsnmp_large_fd_set_cleanup)

/* The USM protocol OIDs (snmpAuthProtocols, snmpPrivProtocols: RFC 3414, 3826, 7860); net-snmp
 * compares them by value. */
static const oid auth_md5[] = {1, 3, 6, 1, 6, 3, 10, 1, 1, 2};
static const oid auth_sha[] = {1, 3, 6, 1, 6, 3, 10, 1, 1, 3};
static const oid auth_sha256[] = {1, 3, 6, 1, 6, 3, 10, 1, 1, 5}; /* usmHMAC192SHA256 */
static const oid auth_sha512[] = {1, 3, 6, 1, 6, 3, 10, 1, 1, 7}; /* usmHMAC384SHA512 */
static const oid priv_des[] = {1, 3, 6, 1, 6, 3, 10, 1, 2, 2};
static const oid priv_aes[] = {1, 3, 6, 1, 6, 3, 10, 1, 2, 4}; /* usmAesCfb128Protocol */
#define PROTO_LEN 10

static const oid *auth_proto(int auth)
{
    switch (auth) {
    case SNMPP_AUTH_MD5:
        return auth_md5;
    case SNMPP_AUTH_SHA:
        return auth_sha;
    case SNMPP_AUTH_SHA256:
        return auth_sha256;
    case SNMPP_AUTH_SHA512:
        return auth_sha512;
    default:
        return NULL;
    }
}

/* Makes the definition's keys from its passwords once (1 MB of hashing each, RFC 3414). */
static int make_keys(snmpp_prep *p, char *why, size_t cap)
{
    const oid *ap = auth_proto(p->auth);
    if (p->keys_made || p->version != 3 || !ap)
        return 0;
    p->auth_ku_len = sizeof p->auth_ku;
    if (generate_Ku(ap, PROTO_LEN, (const u_char *)p->auth_password, strlen(p->auth_password),
                    p->auth_ku, &p->auth_ku_len) != SNMPERR_SUCCESS) {
        snprintf(why, cap, "cannot make the authentication key");
        return -EINVAL;
    }
    if (p->priv != SNMPP_PRIV_NONE) {
        p->priv_ku_len = sizeof p->priv_ku;
        if (generate_Ku(ap, PROTO_LEN, (const u_char *)p->priv_password, strlen(p->priv_password),
                        p->priv_ku, &p->priv_ku_len) != SNMPERR_SUCCESS) {
            snprintf(why, cap, "cannot make the privacy key");
            return -EINVAL;
        }
    }
    p->keys_made = 1;
    return 0;
}

/* ==== one run ============================================================================== */

#define SN_BATCH_MAX 32      /* varbinds per GET/GETNEXT request, walks per GETBULK request */
#define SN_BULK_VARBINDS 100 /* varbinds a GETBULK answer should hold (repetitions x walks) */
#define SN_MAX_REPS 25       /* snmp_exporter's default max_repetitions */

enum phase { PH_RESOLVE, PH_DISCOVER, PH_SYS, PH_WALK, PH_GET };
enum event { EV_NONE, EV_RESPONSE, EV_REPORT, EV_TIMEOUT, EV_SENDFAIL };
enum { SN_SYS_DESCR, SN_SYS_OBJECT_ID, SN_SYS_UPTIME, SN_SYS_NAME, SN_SYS_N };

/* One OID to GET: the system scalars, then configured OIDs whose walk found nothing. */
typedef struct sn_get {
    snmpp_oid oid;
    int tag;  /* SYS_* or SN_SYS_N + index into the configured OIDs */
    int done; /* answered, or known absent */
} sn_get;

/* One configured OID's value. */
typedef struct sn_result {
    snmpp_subid *oid;
    size_t n;
    int is_num;
    double num;
    char *text;
} sn_result;

typedef struct sn_run sn_run;

struct sn_run {
    probe_run *r;
    snmpp_prep *p;
    resolve_req *rq;
    void *sess;
    int fd;
    uv_poll_t poll; /* the session's socket */
    uv_timer_t timer;
    int poll_on, timer_on;
    int handles; /* libuv handles not yet closed */
    int released;
    int closing;    /* snmp_sess_close in progress: net-snmp's callbacks are ignored */
    char peer[72];  /* net-snmp's transport string: udp:192.0.2.1:161, udp6:[2001:db8::1]:161 */
    char where[72]; /* the same for messages: 192.0.2.1:161 */
    int phase;
    long reqid;
    int ev;
    long errstat, errindex;
    int take_rc;
    size_t progress;
    snmpp_oid report;
    unsigned char engine[SNMPP_ENGINE_ID_MAX];
    size_t engine_len;
    size_t batch[SN_BATCH_MAX], nbatch;
    size_t batch_cap, bulk_varbinds;
    sn_get *gets;
    size_t ngets;
    snmpp_walk *walks; /* the IF-MIB columns (when interfaces), then the configured OIDs */
    size_t nwalks, nifwalks;
    snmpp_iftab ift;
    sn_result *res;
    size_t nres, capres;
    char *sys_text[SN_SYS_N];
    double uptime;
    int have_uptime;
    size_t varbinds;
    uint64_t t_open;
    char msg[PROBE_MSG_MAX];
};

static void release(sn_run *t);
static void advance(sn_run *t);
static void on_timer(uv_timer_t *h);

static void maybe_free(sn_run *t)
{
    if (t->released && t->handles == 0)
        mem_free(t);
}

static void on_handle_closed(uv_handle_t *h)
{
    sn_run *t = h->data;
    t->handles--;
    maybe_free(t);
}

/* Stops watching the socket, then closes the session (which closes the socket and calls back
 * for its pending request: ignored). */
static void close_session(sn_run *t)
{
    if (t->poll_on) {
        t->poll_on = 0;
        uv_close((uv_handle_t *)&t->poll, on_handle_closed);
    }
    if (t->sess) {
        t->closing = 1;
        snmp_sess_close(t->sess);
        t->sess = NULL;
        t->closing = 0;
    }
    t->reqid = 0;
    t->ev = EV_NONE;
}

static void free_data(sn_run *t)
{
    mem_free(t->gets);
    t->gets = NULL;
    mem_free(t->walks);
    t->walks = NULL;
    snmpp_iftab_free(&t->ift);
    for (size_t i = 0; i < t->nres; i++) {
        mem_free(t->res[i].oid);
        mem_free(t->res[i].text);
    }
    mem_free(t->res);
    t->res = NULL;
    t->nres = 0;
    for (int i = 0; i < SN_SYS_N; i++) {
        mem_free(t->sys_text[i]);
        t->sys_text[i] = NULL;
    }
}

/* Stops all I/O at once and frees the run's state (the struct itself once libuv has closed
 * its handles). */
static void release(sn_run *t)
{
    if (t->released)
        return;
    t->released = 1;
    resolve_cancel(t->rq);
    t->rq = NULL;
    close_session(t);
    if (t->timer_on) {
        t->timer_on = 0;
        uv_close((uv_handle_t *)&t->timer, on_handle_closed);
    }
    free_data(t);
    maybe_free(t);
}

static int emit_sample(void *ctx, const char *metric, const char *const *labels, double v)
{
    return probe_run_add(ctx, metric, labels, v);
}

static int res_cmp(const void *a, const void *b)
{
    const sn_result *x = a, *y = b;
    return snmpp_oid_cmp(x->oid, x->n, y->oid, y->n);
}

/* Adds the samples of a complete poll. Returns 0 or probe_run_add's error. */
static int emit_all(sn_run *t)
{
    probe_run *r = t->r;
    int rc = 0;
    if (t->have_uptime)
        rc = probe_run_add(r, "sysUpTime", NULL, t->uptime);
    if (!rc &&
        (t->sys_text[SN_SYS_NAME] || t->sys_text[SN_SYS_DESCR] || t->sys_text[SN_SYS_OBJECT_ID])) {
        const char *const lbl[] = {
            "sysName",     t->sys_text[SN_SYS_NAME] ? t->sys_text[SN_SYS_NAME] : "",
            "sysDescr",    t->sys_text[SN_SYS_DESCR] ? t->sys_text[SN_SYS_DESCR] : "",
            "sysObjectID", t->sys_text[SN_SYS_OBJECT_ID] ? t->sys_text[SN_SYS_OBJECT_ID] : "",
            NULL};
        rc = probe_run_add(r, "snmp_sys_info", lbl, 1);
    }
    if (!rc)
        rc = snmpp_iftab_emit(&t->ift, emit_sample, r);
    if (t->nres)
        qsort(t->res, t->nres, sizeof *t->res, res_cmp);
    for (size_t i = 0; !rc && i < t->nres; i++) {
        const sn_result *e = &t->res[i];
        char o[SNMPP_OID_MAX * 11 + 1];
        if (i && !res_cmp(e, e - 1))
            continue; /* overlapping subtrees, or a subtree and a scalar in it */
        snmpp_oid_format(e->oid, e->n, o, sizeof o);
        if (e->is_num) {
            const char *const lbl[] = {"oid", o, NULL};
            rc = probe_run_add(r, "snmp_oid", lbl, e->num);
        } else {
            const char *const lbl[] = {"oid", o, "value", e->text, NULL};
            rc = probe_run_add(r, "snmp_oid_info", lbl, 1);
        }
    }
    return rc;
}

/* Ends the run: samples (all of them on success, the scrape figures otherwise), then the
 * verdict. msg: printf format or NULL. */
static void finish(sn_run *t, int success, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(sn_run *t, int success, const char *fmt, ...)
{
    probe_run *r = t->r;
    char msg[PROBE_MSG_MAX] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (t->t_open) {
        double walk_s = (double)(uv_hrtime() - t->t_open) / 1e9;
        int rc = success ? emit_all(t) : 0;
        if (rc) {
            success = 0;
            snprintf(msg, sizeof msg, "%s", rc == -E2BIG ? "too many samples" : "out of memory");
        }
        probe_run_add(r, "snmp_scrape_walk_duration_seconds", NULL, walk_s);
        probe_run_add(r, "snmp_scrape_pdus_returned", NULL, (double)t->varbinds);
    }
    t->r = NULL;
    release(t);
    probe_run_done(r, success, "%s", msg);
}

/* ---- the session ---------------------------------------------------------------------------- */

/* Arms the timer for net-snmp's next retransmission or timeout. */
static void rearm(sn_run *t)
{
    netsnmp_large_fd_set fds;
    struct timeval tv = {0, 0};
    int n = 0, block = 1;
    if (!t->sess)
        return;
    netsnmp_large_fd_set_init(&fds, t->fd + 1);
    snmp_sess_select_info2_flags(t->sess, &n, &fds, &tv, &block, NETSNMP_SELECT_NOALARMS);
    netsnmp_large_fd_set_cleanup(&fds);
    if (block) {
        uv_timer_stop(&t->timer);
        return;
    }
    uint64_t ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
    uv_timer_start(&t->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *h)
{
    sn_run *t = h->data;
    if (t->released || !t->sess)
        return;
    snmp_sess_timeout(t->sess);
    advance(t);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sn_run *t = h->data;
    netsnmp_large_fd_set fds;
    (void)events;
    if (t->released || !t->sess)
        return;
    netsnmp_large_fd_set_init(&fds, t->fd + 1);
    netsnmp_large_fd_setfd(t->fd, &fds);
    snmp_sess_read2(t->sess, &fds); /* one datagram; a bad one is dropped by net-snmp */
    netsnmp_large_fd_set_cleanup(&fds);
    if (status < 0) /* libuv stopped the handle on a socket error (ICMP unreachable): the read
                     * above consumed it, watch again */
        uv_poll_start(h, UV_READABLE, on_poll);
    advance(t);
}

/* Records the value of one GET answer varbind. */
static int keep_result(sn_run *t, const netsnmp_variable_list *v)
{
    char text[SNMPP_TEXT_MAX];
    double num;
    int kind = snmpp_var_value(v, &num, text, sizeof text);
    snmpp_oid o;
    if (kind == SNMPP_VAL_NONE || snmpp_oid_from_net(v->name, v->name_length, &o))
        return 0;
    if (mem_grow((void **)&t->res, &t->capres, t->nres, sizeof *t->res, 16))
        return -ENOMEM;
    sn_result *e = &t->res[t->nres];
    memset(e, 0, sizeof *e);
    if (!(e->oid = mem_alloc(o.n * sizeof *o.s)))
        return -ENOMEM;
    memcpy(e->oid, o.s, o.n * sizeof *o.s);
    e->n = o.n;
    e->is_num = kind == SNMPP_VAL_NUMBER;
    e->num = num;
    if (!e->is_num && !(e->text = mem_strdup(text))) {
        mem_free(e->oid);
        return -ENOMEM;
    }
    t->nres++;
    return 0;
}

static int count_varbind(sn_run *t)
{
    return ++t->varbinds > SNMPP_MAX_VARBINDS ? -E2BIG : 0;
}

/* take() of the walks: an IF-MIB cell or a configured OID's value. */
static int take_walk(void *ctx, size_t which, const netsnmp_variable_list *v)
{
    sn_run *t = ctx;
    size_t w = t->batch[which];
    int rc = count_varbind(t);
    if (rc)
        return rc;
    if (w < t->nifwalks)
        return snmpp_iftab_add(&t->ift, (int)w, v);
    return keep_result(t, v);
}

/* The varbinds of a GET answer, matched to the batch's requests by position and OID. */
static int take_gets(sn_run *t, const netsnmp_variable_list *vars)
{
    size_t i = 0;
    for (const netsnmp_variable_list *v = vars; v && i < t->nbatch; v = v->next_variable, i++) {
        sn_get *g = &t->gets[t->batch[i]];
        char text[SNMPP_TEXT_MAX];
        double num;
        snmpp_oid o;
        if (snmpp_oid_from_net(v->name, v->name_length, &o) ||
            snmpp_oid_cmp(o.s, o.n, g->oid.s, g->oid.n))
            continue;
        int kind = snmpp_var_value(v, &num, text, sizeof text);
        if (kind == SNMPP_VAL_NONE)
            continue;
        int rc = count_varbind(t);
        if (rc)
            return rc;
        if (g->tag == SN_SYS_UPTIME && kind == SNMPP_VAL_NUMBER) {
            t->uptime = num;
            t->have_uptime = 1;
        } else if (g->tag < SN_SYS_N && g->tag != SN_SYS_UPTIME && kind == SNMPP_VAL_TEXT) {
            mem_free(t->sys_text[g->tag]);
            if (!(t->sys_text[g->tag] = mem_strdup(text)))
                return -ENOMEM;
        } else if (g->tag >= SN_SYS_N && (rc = keep_result(t, v))) {
            return rc;
        }
    }
    return 0;
}

/* net-snmp's callback: records what happened for advance(), which runs once the library call
 * (read, timeout) has returned. The PDU is valid during the call only. */
static int on_snmp(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *magic)
{
    sn_run *t = magic;
    (void)s;
    /* One request is outstanding at a time. A report about a message the agent could not
     * authenticate or decrypt comes with request-id 0 (net-snmp matched it by msgID). */
    int ours =
        t->reqid && (reqid == t->reqid || (reqid == 0 && pdu && pdu->command == SNMP_MSG_REPORT));
    if (t->closing || t->released || !ours || t->ev != EV_NONE)
        return 1;
    switch (op) {
    case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
        if (!pdu)
            break;
        if (pdu->command == SNMP_MSG_REPORT) {
            t->report.n = 0;
            if (pdu->variables)
                snmpp_oid_from_net(pdu->variables->name, pdu->variables->name_length, &t->report);
            /* notInTimeWindow (the agent rebooted, or our clock of it is stale): net-snmp
             * takes the agent's time from it and sends the request again itself. */
            if (snmpp_report_not_in_time(t->report.s, t->report.n))
                break;
            t->ev = EV_REPORT;
            t->engine_len = 0;
            if (pdu->securityEngineIDLen && pdu->securityEngineIDLen <= SNMPP_ENGINE_ID_MAX &&
                pdu->securityEngineID) {
                memcpy(t->engine, pdu->securityEngineID, pdu->securityEngineIDLen);
                t->engine_len = pdu->securityEngineIDLen;
            }
            break;
        }
        if (pdu->command != SNMP_MSG_RESPONSE)
            break;
        t->ev = EV_RESPONSE;
        t->errstat = pdu->errstat;
        t->errindex = pdu->errindex;
        t->take_rc = 0;
        t->progress = 0;
        if (pdu->errstat)
            break;
        if (t->phase == PH_WALK) {
            snmpp_walk *batch[SN_BATCH_MAX];
            for (size_t i = 0; i < t->nbatch; i++)
                batch[i] = &t->walks[t->batch[i]];
            t->take_rc =
                snmpp_walk_response(batch, t->nbatch, pdu->variables, take_walk, t, &t->progress);
        } else if (t->phase == PH_SYS || t->phase == PH_GET) {
            t->take_rc = take_gets(t, pdu->variables);
        }
        break;
    case NETSNMP_CALLBACK_OP_TIMED_OUT:
        t->ev = EV_TIMEOUT;
        break;
    case NETSNMP_CALLBACK_OP_SEND_FAILED:
        t->ev = EV_SENDFAIL;
        break;
    default:
        break; /* SEC_ERROR precedes the message it is about; RESEND: a retransmission */
    }
    return 1;
}

/* net-snmp's last error on the session, into t->msg. */
static const char *sess_error(sn_run *t)
{
    char *s = NULL;
    int e = 0, se = 0;
    snmp_sess_error(t->sess, &e, &se, &s);
    snprintf(t->msg, sizeof t->msg, "%s", s ? s : "unknown error");
    free(s); /* net-snmp's allocation */
    return t->msg;
}

/* Sets the session's per-request timeout and retries from what is left of the run, so that
 * net-snmp gives up just before the run's timeout. */
static void set_timing(sn_run *t)
{
    netsnmp_session *ss = snmp_sess_session(t->sess);
    int64_t left = probe_run_remaining_ms(t->r);
    int64_t margin = left / 10 < 5 ? 5 : left / 10 > 250 ? 250 : left / 10;
    left -= margin;
    if (left < 1)
        left = 1;
    int64_t per = left / 3;
    per = per < 50 ? (left < 50 ? left : 50) : per > 1000 ? 1000 : per;
    int64_t retries = left / per - 1;
    if (!ss)
        return;
    ss->timeout = (long)per * 1000;
    ss->retries = (int)(retries < 0 ? 0 : retries > 30 ? 30 : retries);
}

/* Sends one request for n OIDs (GETBULK: reps repetitions). Returns 0, or -EIO with the
 * reason in t->msg. */
static int send_pdu(sn_run *t, int command, const snmpp_oid *const *oids, size_t n, int reps)
{
    netsnmp_pdu *pdu = snmp_pdu_create(command);
    oid tmp[SNMPP_OID_MAX];
    if (!pdu) {
        snprintf(t->msg, sizeof t->msg, "out of memory");
        return -EIO;
    }
    if (command == SNMP_MSG_GETBULK) {
        pdu->non_repeaters = 0;
        pdu->max_repetitions = reps;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < oids[i]->n; k++)
            tmp[k] = oids[i]->s[k];
        if (!snmp_add_null_var(pdu, tmp, oids[i]->n)) {
            snmp_free_pdu(pdu);
            snprintf(t->msg, sizeof t->msg, "out of memory");
            return -EIO;
        }
    }
    if (t->phase == PH_DISCOVER) {
        /* RFC 3414 discovery: unauthenticated, empty user, empty engine ID. net-snmp frees
         * the PDU's strings with free(). */
        pdu->version = SNMP_VERSION_3;
        pdu->securityModel = SNMP_SEC_MODEL_USM;
        pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
        pdu->securityName = strdup("");
        pdu->securityNameLen = 0;
        if (!pdu->securityName) {
            snmp_free_pdu(pdu);
            snprintf(t->msg, sizeof t->msg, "out of memory");
            return -EIO;
        }
    }
    set_timing(t);
    t->ev = EV_NONE;
    int id = snmp_sess_async_send(t->sess, pdu, on_snmp, t);
    if (!id) {
        sess_error(t);
        snmp_free_pdu(pdu);
        return -EIO;
    }
    t->reqid = id;
    rearm(t);
    return 0;
}

/* Opens the session on t->peer (v3: without an engine ID, to be discovered) and watches its
 * socket. Returns 0, or -EIO with the reason in t->msg. */
static int open_session(sn_run *t)
{
    const snmpp_prep *p = t->p;
    netsnmp_session s;
    snmp_sess_init(&s);
    s.peername = t->peer;
    s.version = p->version == 1   ? SNMP_VERSION_1
                : p->version == 2 ? SNMP_VERSION_2c
                                  : SNMP_VERSION_3;
    s.retries = 0;
    s.timeout = 1000000;
    if (p->version < 3) {
        s.community = (u_char *)p->community;
        s.community_len = strlen(p->community);
    } else {
        s.flags |= SNMP_FLAGS_DONT_PROBE;
        s.securityModel = SNMP_SEC_MODEL_USM;
        s.securityName = p->user;
        s.securityNameLen = strlen(p->user);
        s.securityLevel = p->auth == SNMPP_AUTH_NONE   ? SNMP_SEC_LEVEL_NOAUTH
                          : p->priv == SNMPP_PRIV_NONE ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                                       : SNMP_SEC_LEVEL_AUTHPRIV;
        if (p->auth != SNMPP_AUTH_NONE) {
            s.securityAuthProto = (oid *)auth_proto(p->auth);
            s.securityAuthProtoLen = PROTO_LEN;
            memcpy(s.securityAuthKey, p->auth_ku, p->auth_ku_len);
            s.securityAuthKeyLen = p->auth_ku_len;
        }
        if (p->priv != SNMPP_PRIV_NONE) {
            s.securityPrivProto = (oid *)(p->priv == SNMPP_PRIV_DES ? priv_des : priv_aes);
            s.securityPrivProtoLen = PROTO_LEN;
            memcpy(s.securityPrivKey, p->priv_ku, p->priv_ku_len);
            s.securityPrivKeyLen = p->priv_ku_len;
        }
    }
    t->sess = snmp_sess_open(&s);
    if (!t->sess) {
        snprintf(t->msg, sizeof t->msg, "cannot open an SNMP session to %s: %s", t->where,
                 snmp_api_errstring(s.s_snmp_errno));
        return -EIO;
    }
    /* snmp_sess_open clears SNMP_FLAGS_DONT_PROBE once it has opened; without it the first
     * send would discover the engine ID with a blocking request. */
    netsnmp_session *ss = snmp_sess_session(t->sess);
    if (ss && p->version == 3)
        ss->flags |= SNMP_FLAGS_DONT_PROBE;
    netsnmp_transport *tr = snmp_sess_transport(t->sess);
    if (!tr || tr->sock < 0) {
        snprintf(t->msg, sizeof t->msg, "net-snmp opened no socket for %s", t->where);
        return -EIO;
    }
    t->fd = tr->sock;
    /* Never block in a read (a datagram with a bad checksum wakes poll but reads nothing). */
    int fl = fcntl(t->fd, F_GETFL);
    if (fl >= 0)
        fcntl(t->fd, F_SETFL, fl | O_NONBLOCK);
    if (uv_poll_init_socket(probe_run_loop(t->r), &t->poll, t->fd)) {
        snprintf(t->msg, sizeof t->msg, "cannot watch the SNMP socket");
        return -EIO;
    }
    t->poll.data = t;
    t->poll_on = 1;
    t->handles++;
    uv_poll_start(&t->poll, UV_READABLE, on_poll);
    return 0;
}

/* Sets up the walks once the system scalars are in. */
static int start_walks(sn_run *t)
{
    const snmpp_prep *p = t->p;
    t->nifwalks = p->interfaces ? SNMPP_IF_NCOLS : 0;
    t->nwalks = t->nifwalks + p->noids;
    if (!t->nwalks)
        return 0;
    if (!(t->walks = mem_calloc(t->nwalks, sizeof *t->walks)))
        return -ENOMEM;
    for (size_t i = 0; i < t->nifwalks; i++) {
        snmpp_oid root;
        snmpp_ifcol_root((int)i, &root);
        snmpp_walk_init(&t->walks[i], root.s, root.n);
    }
    for (size_t i = 0; i < p->noids; i++)
        snmpp_walk_init(&t->walks[t->nifwalks + i], p->oids[i].s, p->oids[i].n);
    return 0;
}

/* GETs each configured OID whose walk found nothing: it may be a scalar instance. */
static int start_gets(sn_run *t)
{
    size_t n = 0;
    mem_free(t->gets);
    t->gets = NULL;
    t->ngets = 0;
    for (size_t i = t->nifwalks; i < t->nwalks; i++)
        n += !t->walks[i].taken && !t->walks[i].backwards;
    if (!n)
        return 0;
    if (!(t->gets = mem_calloc(n, sizeof *t->gets)))
        return -ENOMEM;
    for (size_t i = t->nifwalks; i < t->nwalks; i++)
        if (!t->walks[i].taken && !t->walks[i].backwards) {
            t->gets[t->ngets].oid = t->walks[i].root;
            t->gets[t->ngets++].tag = SN_SYS_N + (int)(i - t->nifwalks);
        }
    return 0;
}

/* Sends the next request of the run, moving through the phases; finishes the run when there
 * is nothing left to ask. */
static void next_request(sn_run *t)
{
    const snmpp_oid *oids[SN_BATCH_MAX];
    for (;;) {
        if (t->phase == PH_SYS || t->phase == PH_GET) {
            t->nbatch = 0;
            for (size_t i = 0; i < t->ngets && t->nbatch < t->batch_cap; i++)
                if (!t->gets[i].done) {
                    oids[t->nbatch] = &t->gets[i].oid;
                    t->batch[t->nbatch++] = i;
                }
            if (t->nbatch) {
                if (send_pdu(t, SNMP_MSG_GET, oids, t->nbatch, 0))
                    finish(t, 0, "%s", t->msg);
                return;
            }
            if (t->phase == PH_GET) {
                finish(t, 1, NULL);
                return;
            }
            t->phase = PH_WALK;
            if (start_walks(t)) {
                finish(t, 0, "out of memory");
                return;
            }
        }
        if (t->phase == PH_WALK) {
            t->nbatch = 0;
            for (size_t i = 0; i < t->nwalks && t->nbatch < t->batch_cap; i++)
                if (!t->walks[i].done) {
                    oids[t->nbatch] = &t->walks[i].last;
                    t->batch[t->nbatch++] = i;
                }
            if (t->nbatch) {
                int bulk = t->p->version != 1;
                size_t reps = t->bulk_varbinds / t->nbatch;
                reps = reps < 1 ? 1 : reps > SN_MAX_REPS ? SN_MAX_REPS : reps;
                if (send_pdu(t, bulk ? SNMP_MSG_GETBULK : SNMP_MSG_GETNEXT, oids, t->nbatch,
                             (int)reps))
                    finish(t, 0, "%s", t->msg);
                return;
            }
            t->phase = PH_GET;
            if (start_gets(t)) {
                finish(t, 0, "out of memory");
                return;
            }
        }
    }
}

/* Makes requests smaller after a tooBig answer. Returns 0, or -E2BIG when they cannot be. */
static int shrink(sn_run *t)
{
    if (t->phase == PH_WALK && t->p->version != 1 && t->bulk_varbinds > t->nbatch) {
        t->bulk_varbinds = t->bulk_varbinds / 2 > 1 ? t->bulk_varbinds / 2 : 1;
        return 0;
    }
    if (t->nbatch > 1) {
        t->batch_cap = t->nbatch / 2;
        return 0;
    }
    return -E2BIG;
}

static void on_response(sn_run *t)
{
    char buf[32];
    if (t->phase == PH_DISCOVER) {
        finish(t, 0, "%s answered the engine ID discovery without a report", t->where);
        return;
    }
    if (t->errstat == SNMP_ERR_TOOBIG) {
        if (shrink(t))
            finish(t, 0, "%s: answer too big even for one OID", t->where);
        else
            next_request(t);
        return;
    }
    if (t->errstat == SNMP_ERR_NOSUCHNAME && t->errindex >= 1 && (size_t)t->errindex <= t->nbatch) {
        /* v1: a GET of something absent, or a GETNEXT past the end of the MIB. */
        size_t i = t->batch[t->errindex - 1];
        if (t->phase == PH_WALK)
            t->walks[i].done = 1;
        else
            t->gets[i].done = 1;
        next_request(t);
        return;
    }
    if (t->errstat) {
        finish(t, 0, "%s answered %s (%ld) for varbind %ld", t->where,
               snmpp_errstat_name(t->errstat, buf, sizeof buf), t->errstat, t->errindex);
        return;
    }
    if (t->take_rc == -E2BIG) {
        finish(t, 0, "%s returned more than %d varbinds", t->where, SNMPP_MAX_VARBINDS);
        return;
    }
    if (t->take_rc == -ENOMEM) {
        finish(t, 0, "out of memory");
        return;
    }
    if (t->phase == PH_WALK) {
        for (size_t i = 0; i < t->nbatch; i++) {
            const snmpp_walk *w = &t->walks[t->batch[i]];
            if (w->backwards) {
                char root[SNMPP_OID_MAX * 11 + 1];
                snmpp_oid_format(w->root.s, w->root.n, root, sizeof root);
                finish(t, 0, "%s: OID not increasing in the walk of %s", t->where, root);
                return;
            }
        }
        if (t->take_rc || !t->progress) {
            finish(t, 0, "%s: an answer that moved no walk forward", t->where);
            return;
        }
    } else {
        for (size_t i = 0; i < t->nbatch; i++)
            t->gets[t->batch[i]].done = 1;
        if (t->take_rc) {
            finish(t, 0, "%s: malformed answer", t->where);
            return;
        }
    }
    next_request(t);
}

/* A v3 report: the engine ID discovery's answer, or an error. */
static void on_report(sn_run *t)
{
    if (t->phase == PH_DISCOVER) {
        netsnmp_session *ss = snmp_sess_session(t->sess);
        if (!t->engine_len || !ss) {
            finish(t, 0, "%s sent no engine ID", t->where);
            return;
        }
        /* net-snmp took the engine ID into the session from the report; make the user's
         * localised keys for it, replacing what the process had for (engine, user). The
         * open set SNMP_FLAGS_USER_CREATED although it had no engine to create a user for. */
        struct usmUser *u = usm_get_user(t->engine, t->engine_len, t->p->user);
        if (u) {
            usm_remove_user(u);
            usm_free_user(u);
        }
        ss->flags &= ~(unsigned long)SNMP_FLAGS_USER_CREATED;
        if (ss->securityEngineIDLen != t->engine_len ||
            memcmp(ss->securityEngineID, t->engine, t->engine_len) ||
            usm_create_user_from_session(ss) != SNMPERR_SUCCESS) {
            finish(t, 0, "cannot set up the SNMPv3 user for %s", t->where);
            return;
        }
        t->phase = PH_SYS;
        next_request(t);
        return;
    }
    finish(t, 0, "%s: %s", t->where, snmpp_report_text(t->report.s, t->report.n));
}

/* Acts on what net-snmp's callback recorded, once the library call has returned. */
static void advance(sn_run *t)
{
    int ev = t->ev;
    if (t->released)
        return;
    if (ev == EV_NONE) {
        rearm(t);
        return;
    }
    t->ev = EV_NONE;
    t->reqid = 0;
    switch (ev) {
    case EV_TIMEOUT:
        finish(t, 0, "no answer from %s%s", t->where,
               t->p->version == 3 ? " (wrong address or privacy password?)"
                                  : " (wrong community or address?)");
        return;
    case EV_SENDFAIL:
        finish(t, 0, "cannot send to %s", t->where);
        return;
    case EV_REPORT:
        on_report(t);
        return;
    default:
        on_response(t);
        return;
    }
}

static void on_resolved(void *ctx, int rc, const struct sockaddr *sa, socklen_t len,
                        const char *err)
{
    sn_run *t = ctx;
    const probe_def *d = probe_run_def(t->r);
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
    int port;
    (void)len;
    t->rq = NULL;
    if (rc) {
        finish(t, 0, "resolve %s: %s", d->address, err);
        return;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        char ifn[IF_NAMESIZE] = "";
        inet_ntop(AF_INET6, &s6->sin6_addr, host, INET6_ADDRSTRLEN);
        if (s6->sin6_scope_id && if_indextoname(s6->sin6_scope_id, ifn)) {
            size_t l = strlen(host);
            snprintf(host + l, sizeof host - l, "%%%s", ifn);
        }
        port = ntohs(s6->sin6_port);
        snprintf(t->peer, sizeof t->peer, "udp6:[%s]:%d", host, port);
        snprintf(t->where, sizeof t->where, "[%s]:%d", host, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
        snprintf(t->peer, sizeof t->peer, "udp:%s:%d", host, port);
        snprintf(t->where, sizeof t->where, "%s:%d", host, port);
    }
    t->phase = t->p->version == 3 ? PH_DISCOVER : PH_SYS;
    t->t_open = uv_hrtime();
    if (open_session(t)) {
        finish(t, 0, "%s", t->msg);
        return;
    }
    if (t->phase == PH_DISCOVER) {
        if (send_pdu(t, SNMP_MSG_GET, NULL, 0, 0))
            finish(t, 0, "%s", t->msg);
        return;
    }
    next_request(t);
}

/* ==== the type ============================================================================= */

static int snmp_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    snmpp_prep *p = NULL;
    if (!d->address[0]) {
        snprintf(err, errcap, "the endpoint has no address");
        return -EINVAL;
    }
    int rc = snmpp_prep_parse(d->settings, &p, err, errcap);
    if (rc == -ENOMEM)
        snprintf(err, errcap, "out of memory");
    *prep = p;
    return rc;
}

static void snmp_release(void *prep)
{
    snmpp_prep_free(prep);
}

static void snmp_start(probe_run *r)
{
    const probe_def *d = probe_run_def(r);
    char why[PROBE_MSG_MAX];
    if (sn_load(why, sizeof why) || make_keys(d->prep, why, sizeof why)) {
        probe_run_done(r, 0, "%s", why);
        return;
    }
    resolver *res = probe_run_resolver(r);
    sn_run *t = mem_calloc(1, sizeof *t);
    if (!t || !res || uv_timer_init(probe_run_loop(r), &t->timer)) {
        mem_free(t);
        probe_run_done(r, 0, "out of memory or no resolver");
        return;
    }
    static const snmpp_subid sys_oids[SN_SYS_N][9] = {
        [SN_SYS_DESCR] = {1, 3, 6, 1, 2, 1, 1, 1, 0},
        [SN_SYS_OBJECT_ID] = {1, 3, 6, 1, 2, 1, 1, 2, 0},
        [SN_SYS_UPTIME] = {1, 3, 6, 1, 2, 1, 1, 3, 0},
        [SN_SYS_NAME] = {1, 3, 6, 1, 2, 1, 1, 5, 0},
    };
    t->timer.data = t;
    t->timer_on = 1;
    t->handles = 1;
    t->r = r;
    t->p = d->prep;
    t->fd = -1;
    t->batch_cap = SN_BATCH_MAX;
    t->bulk_varbinds = SN_BULK_VARBINDS;
    probe_run_set_state(r, t);
    if (!(t->gets = mem_calloc(SN_SYS_N, sizeof *t->gets))) {
        finish(t, 0, "out of memory");
        return;
    }
    for (int i = 0; i < SN_SYS_N; i++) {
        t->gets[i].oid.n = 9;
        memcpy(t->gets[i].oid.s, sys_oids[i], sizeof sys_oids[i]);
        t->gets[i].tag = i;
    }
    t->ngets = SN_SYS_N;
    int port = d->port ? d->port : 161;
    if (resolve_start(res, d->address, port, RESOLVE_ANY, on_resolved, t, &t->rq))
        finish(t, 0, "out of memory");
}

static void snmp_cancel(probe_run *r)
{
    sn_run *t = probe_run_state(r);
    if (!t)
        return;
    t->r = NULL;
    release(t);
}

const probe_type probe_snmp_type = {
    .name = "snmp",
    .prepare = snmp_prepare,
    .release = snmp_release,
    .start = snmp_start,
    .cancel = snmp_cancel,
};
