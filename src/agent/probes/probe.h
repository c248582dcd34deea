/* probe: what a probe is to the agent, and the contract between the scheduler and the probe
 * types (icmp, tcp, http, dns, snmp, scrape, munin, nagios).
 *
 * A probe definition (probe_def) comes from the server's agent config (GET
 * /api/v1/agent/config, docs/probes.md): which check, against which target, how often, with
 * which resolved settings. The scheduler (sched.h) starts a run (probe_run) of it every
 * interval on the agent's libuv loop; the probe type does its I/O asynchronously on that loop
 * and reports samples and its verdict through the probe_run_* calls below. Every sample of a
 * run carries the common labels (instance = the device, job = the probe type, probe, probe_id,
 * target, device, endpoint, vantage) and the run ends with probe_success and
 * probe_duration_seconds, as Prometheus's blackbox_exporter names them.
 *
 * Writing a probe type:
 *   - prepare() parses and checks the resolved settings once per definition (not per run) and
 *     keeps what it needs in *prep; release() frees it.
 *   - start() begins one run. It must not block: sockets, timers, child processes and curl
 *     handles all go on probe_run_loop(r). It ends the run by calling probe_run_done()
 *     exactly once (possibly before start returns, e.g. on an immediate error), after adding
 *     its samples with probe_run_add(). It frees its own per-run state before or inside that
 *     call; the run pointer is invalid afterwards.
 *   - cancel() is called instead if the run's timeout passes first (or the scheduler stops):
 *     the type stops all I/O at once and frees its state (libuv handles may finish closing
 *     later, but their callbacks must not touch the run). It may first add the samples of what
 *     it learnt so far (probe_run_add); probe_run_done is not called then.
 *   - shared_init()/shared_free() (optional) make state shared by all runs of the type on one
 *     loop (one ICMP socket for all ICMP probes, a c-ares channel...), made on first use.
 * Everything here runs on the loop thread. */
#ifndef DD_PROBE_H
#define DD_PROBE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define PROBE_NAME_MAX 256        /* longest probe, device, endpoint name (bytes) */
#define PROBE_TARGET_MAX 2048     /* longest target (URLs) */
#define PROBE_MAX_LABELS 32       /* type-specific labels per sample (pairs) */
#define PROBE_MAX_SAMPLES (1000000 + 64) /* the samples of one run: a million scraped ones and
                                           * the run's own */
#define PROBE_MSG_MAX 512         /* a run's message (the first line kept for tickets) */

typedef struct probe_type probe_type;
typedef struct probe_run probe_run;
typedef struct curlmux curlmux;
typedef struct resolver resolver;

/* One probe as scheduled on this agent: reference counted, immutable once made, so a run in
 * flight keeps the definition it started with while a newer one replaces it. */
typedef struct probe_def {
    int refs;
    int64_t id;           /* the catalog probe's id */
    int64_t schedule;     /* the schedule (telemetry) id; 0 for a one-off test */
    char *name;           /* label probe */
    char *type_name;      /* "icmp", "http", ...; also label job */
    char *device;         /* label device and instance: the device the endpoint belongs to */
    char *endpoint;       /* label endpoint: the endpoint's name, else address[:port] */
    char *target;         /* label target: what is checked (address, host:port, URL) */
    char *address;        /* the endpoint's address (IP or host name) */
    int port;             /* the endpoint's port; 0: none given (the type's default) */
    int64_t interval_ms, timeout_ms, jitter_ms;
    json_t *settings;     /* resolved settings (defaults filled in by the server) */
    const probe_type *type;
    void *prep;           /* the type's prepared settings */
    uint64_t hash;        /* of the whole definition: equal hashes, same probe */
} probe_def;

/* Options the scheduler's owner sets for every run (may be read by types). */
typedef struct probe_opts {
    const char *vantage;     /* label vantage: the agent's instance name */
    const char *plugin_dirs; /* nagios: colon-separated directories plugins may live in
                              * (NULL: /usr/lib/nagios/plugins:/usr/lib/monitoring-plugins) */
} probe_opts;

struct probe_type {
    const char *name;
    int (*prepare)(const probe_def *d, void **prep, char *err, size_t errcap);
    void (*release)(void *prep);
    void (*start)(probe_run *r);
    void (*cancel)(probe_run *r);
    int (*shared_init)(uv_loop_t *loop, void **shared); /* optional */
    void (*shared_free)(void *shared);                  /* optional */
};

/* The types, by name. Returns NULL for an unknown name. */
const probe_type *probe_type_find(const char *name);
/* Every type's name, NULL-terminated (for messages). */
extern const char *const probe_type_names[];

/* Makes a definition from one entry of the agent config's "probes" (or a test's "probe")
 * object (docs/probes.md), and prepares its settings with the type. Returns 0 with *out (refs
 * 1), -EINVAL with the reason in err (missing or malformed member, unknown type, settings the
 * type refuses), or -ENOMEM. */
int probe_def_from_json(const json_t *o, probe_def **out, char *err, size_t errcap);
probe_def *probe_def_ref(probe_def *d);
/* Drops a reference; the last one frees the definition. Accepts NULL. */
void probe_def_unref(probe_def *d);

/* ---- for probe types: the run in progress ------------------------------------------------ */

const probe_def *probe_run_def(const probe_run *r);
uv_loop_t *probe_run_loop(const probe_run *r);
const probe_opts *probe_run_opts(const probe_run *r);
/* The type's shared state on this loop (shared_init's), or NULL if the type has none. */
void *probe_run_shared(const probe_run *r);
/* The loop's libcurl multi handle (made on first use), or NULL when out of memory. */
curlmux *probe_run_curl(probe_run *r);
/* The loop's host name resolver (resolve.h; made on first use), or NULL when it cannot be
 * made (out of memory, unreadable resolv.conf). */
resolver *probe_run_resolver(probe_run *r);
/* Milliseconds left until the run's timeout (at least 1). */
int64_t probe_run_remaining_ms(const probe_run *r);
/* The run's start (wall clock, ms): the time stamp of its samples. */
int64_t probe_run_start_ms(const probe_run *r);
/* Per-run state of the type (set it in start, read it in callbacks and cancel). */
void probe_run_set_state(probe_run *r, void *state);
void *probe_run_state(const probe_run *r);

/* Adds a sample stamped with the run's start. labels: NULL or "name", "value", ...,
 * NULL pairs (at most PROBE_MAX_LABELS; copied); the common labels are added to them, except a
 * common name the type sets itself (scrape with honor_labels). Returns 0, -EINVAL (bad metric or
 * label name, too many labels) or -ENOMEM; -E2BIG past PROBE_MAX_SAMPLES. */
int probe_run_add(probe_run *r, const char *metric, const char *const *labels, double v);
/* probe_run_add with the sample's own time (scraped samples with timestamps). */
int probe_run_add_at(probe_run *r, int64_t t_ms, const char *metric, const char *const *labels,
                     double v);
/* Ends the run: success 1 or 0, and a one-line message (printf format; may be NULL), e.g.
 * "HTTP 503, expected 200". The type must not touch r afterwards. */
void probe_run_done(probe_run *r, int success, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- helpers the types share -------------------------------------------------------------- */

/* A boolean setting k of st: absent or null gives dflt. Returns 0, or -EINVAL with
 * "\"k\" must be true or false" in err. */
int probe_setting_bool(const json_t *st, const char *k, int dflt, int *out, char *err,
                       size_t errcap);
/* PCRE2's memory hooks through lib/mem (tests count and fail allocations):
 * pcre2_general_context_create(probe_pcre2_alloc, probe_pcre2_free, NULL). */
void *probe_pcre2_alloc(size_t n, void *ud);
void probe_pcre2_free(void *p, void *ud);

/* True for the names of the labels every probe sample gets. */
int probe_is_common_label(const char *name);

/* ---- results, for the scheduler's owner ---------------------------------------------------- */

typedef struct probe_sample {
    const char *metric;
    const char *const *labels; /* NULL-terminated pairs: the common labels included */
    double v;
    int64_t t;
} probe_sample;

/* What the scheduler counted for one scheduled probe since the agent started. */
typedef struct probe_counters {
    uint64_t runs;     /* runs that ended (successful or not) */
    uint64_t failures; /* runs that ended with probe_success 0 (timeouts included) */
    uint64_t timeouts; /* runs cancelled at their timeout */
    uint64_t skipped;  /* due runs not started: the previous run still going, or no free slot
                        * for a whole interval */
    uint64_t late;     /* runs started more than a second after their due time */
} probe_counters;

typedef struct probe_result {
    const probe_def *def;
    const probe_counters *counters; /* set when they are due to be reported: a change in
                                     * failures, timeouts, skipped or late, or a minute since
                                     * they last were; NULL otherwise and for one-off runs */
    int success;
    int timed_out;       /* cancelled at the timeout */
    int64_t start_ms;    /* wall clock */
    double duration_s;
    int64_t late_ms;     /* how long after its due time the run started */
    const char *message; /* "" when none */
    const probe_sample *samples; /* probe_success and probe_duration_seconds included */
    size_t nsamples;
} probe_result;

/* The result as the test API answers it: {"success","timed_out","duration_seconds","message",
 * "samples":[{"metric","labels":{...},"value"}]} (values that JSON cannot hold, NaN and
 * infinities, as the strings "NaN", "+Inf", "-Inf"). A new object, or NULL out of memory. */
json_t *probe_result_json(const probe_result *res);

/* Receives every finished run; the result is valid during the call only. */
typedef void (*probe_sink_fn)(void *ctx, const probe_result *res);

#endif
