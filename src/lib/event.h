/* event: one event from a sensor (a syslog message, a webhook notification, an SNMP trap),
 * as the wire parsers produce it and the event store keeps it. Like lib/sample.h for samples,
 * this is the record every stage of the event flow shares: wire/ parsers fill it, events/
 * matches, stores and counts it, api/ answers with it.
 *
 * Strings are borrowed (NUL-terminated, owned by whoever filled the record) and never NULL for
 * the text members: "" when absent. They may hold any bytes a sender sent; the event store
 * makes them valid UTF-8 (invalid sequences become U+FFFD) and caps their lengths
 * (EVENT_*_MAX) when it stores them, so parsers need not. */
#ifndef DD_EVENT_H
#define DD_EVENT_H

#include <stdint.h>
#include <string.h>

/* Severities on syslog's scale (RFC 5424 section 6.2.1): lower is worse. */
typedef enum event_severity {
    EVENT_EMERGENCY = 0,
    EVENT_ALERT = 1,
    EVENT_CRITICAL = 2,
    EVENT_ERROR = 3,
    EVENT_WARNING = 4,
    EVENT_NOTICE = 5,
    EVENT_INFO = 6,
    EVENT_DEBUG = 7,
} event_severity;
#define EVENT_SEVERITY_N 8

/* For alert-carrying events (Alertmanager, Nagios/Icinga notifications): whether the alert
 * fires or is resolved. Everything else is EVENT_STATUS_NONE. */
typedef enum event_status {
    EVENT_STATUS_NONE = 0,
    EVENT_STATUS_FIRING = 1,
    EVENT_STATUS_RESOLVED = 2,
} event_status;

/* Kinds (the "kind" member), one per family of source. */
#define EVENT_KIND_SYSLOG "syslog"
#define EVENT_KIND_ALERT "alert"               /* Alertmanager */
#define EVENT_KIND_NOTIFICATION "notification" /* Nagios, Icinga 1, Icinga 2 */
#define EVENT_KIND_GENERIC "generic"           /* CI, deploys, anything JSON */
#define EVENT_KIND_TRAP "trap"
#define EVENT_KIND_CHANGE "change"             /* inventory and service-map changes */

/* Length caps applied by the store (bytes, after UTF-8 repair; longer values are cut at a
 * character boundary). */
#define EVENT_SHORT_MAX 255     /* kind, host, app, source, fingerprint */
#define EVENT_TITLE_MAX 1024
#define EVENT_TEXT_MAX 65536
#define EVENT_FIELDS_MAX 65536

typedef struct event {
    int64_t t_ms;          /* when it happened (the sender's clock when it says), ms since epoch */
    int64_t recv_ms;       /* when dashdot received it; 0: the store sets it */
    int64_t sensor_id;     /* catalog sensor that received it; 0 for none (e.g. changes) */
    int64_t device_id;     /* catalog device; 0 for "unknown" (the store's matcher decides) */
    int severity;          /* event_severity */
    int facility;          /* syslog facility 0..23, or -1 */
    int status;            /* event_status */
    const char *kind;      /* EVENT_KIND_* */
    const char *host;      /* the name the sender gave for the host it speaks of ("" if none) */
    const char *app;       /* application / service / check / trap name ("" if none) */
    const char *title;     /* one line */
    const char *text;      /* full message; may be multi-line */
    const char *fields;    /* a JSON object as text with structured data, or "" */
    const char *source;    /* where it came from: "10.0.0.5" (sender address), "" if none */
    const char *fingerprint; /* alert identity (stable across firing/resolved), or "" */
} event;

static const char *const event_severity_names[EVENT_SEVERITY_N] = {
    "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"};

/* The name of a severity ("info" for out-of-range values). */
static inline const char *event_severity_name(int sev)
{
    return sev >= 0 && sev < EVENT_SEVERITY_N ? event_severity_names[sev] : "info";
}

/* Parses a severity name: the names above plus the usual aliases ("emerg", "crit", "err",
 * "warn", "informational", "information") and a single digit 0-7. Returns the severity or -1. */
static inline int event_severity_parse(const char *s)
{
    static const struct {
        const char *name;
        int sev;
    } alias[] = {{"emerg", 0}, {"panic", 0}, {"crit", 2},          {"err", 3},
                 {"warn", 4},  {"informational", 6}, {"information", 6}};
    if (!s)
        return -1;
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    for (int i = 0; i < EVENT_SEVERITY_N; i++)
        if (strcmp(s, event_severity_names[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(s, alias[i].name) == 0)
            return alias[i].sev;
    return -1;
}

/* Fills the text members with "" and the numbers with their neutral values (severity info,
 * facility -1), so a parser sets only what it knows. */
static inline void event_init(event *e)
{
    memset(e, 0, sizeof *e);
    e->severity = EVENT_INFO;
    e->facility = -1;
    e->kind = e->host = e->app = e->title = e->text = e->fields = e->source = e->fingerprint = "";
}

#endif
