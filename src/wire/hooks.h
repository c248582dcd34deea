/* hooks: webhook payloads into event records (lib/event.h), as pure functions (no I/O, no
 * clock, no globals). One call reads one request body of any of these senders:
 *
 * - Prometheus Alertmanager's webhook (payload version "4", every alert of the group).
 * - Nagios and Icinga 1 notifications: the standard macros (NOTIFICATIONTYPE, HOSTNAME,
 *   SERVICEDESC, SERVICESTATE, ...) or the short names curl scripts use (host, service, state,
 *   output, type, ...), as a JSON object or as form fields.
 * - Icinga 2: one event of its API event stream (or an array of them), or the environment
 *   of its notification scripts (HOSTNAME, SERVICENAME, ...) as JSON or form fields.
 * - A generic JSON event for CI and deploy workflows ({"title", ...}), or an array of them.
 *
 * Strict and total over arbitrary bytes: every body gives events, or an error code with a
 * reason and, for a valid payload of the wrong shape, the path of the bad value. Any thread;
 * one result per call. The mapping of each format onto event members is spelled out in
 * hooks.c's opening essay. */
#ifndef DD_HOOKS_H
#define DD_HOOKS_H

#include "lib/event.h"

#include <stddef.h>
#include <stdint.h>

/* At most this many events (alerts of one Alertmanager group, elements of an array) per body;
 * more is -E2BIG. */
#define HOOKS_MAX_EVENTS 1000
#define HOOKS_PATH_MAX 128
#define HOOKS_ERR_MAX 256

typedef enum hooks_format {
    HOOKS_AUTO = 0, /* detect from the shape (see hooks_parse) */
    HOOKS_ALERTMANAGER,
    HOOKS_ICINGA2,
    HOOKS_NAGIOS, /* Nagios and Icinga 1 */
    HOOKS_GENERIC,
} hooks_format;
#define HOOKS_FORMAT_N 5

struct hooks_chunk;

/* What hooks_parse gives. The caller owns the struct (on its stack, say); hooks_parse fills
 * every member without looking at what was there (free a previous result first), and
 * hooks_result_free releases what it holds. */
typedef struct hooks_result {
    event *ev;           /* n events in body order; NULL when n is 0 */
    size_t n;            /* their strings are owned by the result, valid until hooks_result_free */
    hooks_format format; /* the format read: fmt when forced, else the one detected (HOOKS_AUTO
                            when the body is not JSON or a form, or a form with no macros) */
    /* On -EPROTO: where the bad value is, as a JSON path ("alerts[2].labels", "title", "" for
     * the whole body, "[3].severity" in an array) or the form field's name as sent. Valid
     * UTF-8, control characters shown as '?', cut to fit. "" on success. */
    char path[HOOKS_PATH_MAX];
    /* On any error: the reason, one line of valid UTF-8 ("expected a string", "invalid JSON at
     * line 1 column 7: ..."). "" on success. */
    char err[HOOKS_ERR_MAX];
    struct hooks_chunk *chunks_; /* private: the strings of the events */
} hooks_result;

/* Parses one webhook body of len bytes (any bytes; body may be NULL when len is 0) into *out.
 *
 * content_type (the request's Content-Type, NULL or "" when absent; parameters such as
 * charset are ignored) chooses the syntax:
 *   application/json, text/json, anything ending in "+json": JSON only;
 *   application/x-www-form-urlencoded: JSON when the body starts with '{' or '[' (curl -d
 *     sends JSON with this type by default), form fields otherwise;
 *   anything else or none: JSON when the body starts with '{' or '[', else form fields when
 *     every '&'-separated part has an '='.
 * A leading UTF-8 BOM and surrounding white space (CR LF after a form) are skipped. JSON must
 * be UTF-8 without duplicate keys; a string holding "\u0000" is refused (-EPROTO, with its
 * path): it would cut a C string. Form fields take '+' as a space.
 *
 * fmt HOOKS_AUTO detects the format from the shape, in this order: an object with "alerts"
 * and "version" is Alertmanager; an object whose "type" is an Icinga 2 event stream type is
 * Icinga 2; an object or form with a Nagios macro name as key (NOTIFICATIONTYPE, HOSTNAME,
 * SERVICEDESC, ... in any case, with or without a NAGIOS_ or ICINGA_ prefix) is Nagios, or
 * Icinga 2 when it has a key only Icinga 2's scripts send (SERVICENAME,
 * NOTIFICATIONAUTHORNAME); an object without "title" that has "host" and one of "service",
 * "state", "output", "type", "notification_type" is Nagios too (short names); any other
 * object is generic. A form is never generic: any macro or short name makes it Nagios (or
 * Icinga 2, as above). A JSON array holds up to HOOKS_MAX_EVENTS generic events, Icinga 2
 * events or Nagios macro objects, of the format of its first element (an Alertmanager webhook
 * is one object). Another fmt skips detection and reads the body, or each element of an
 * array, as that format (-EPROTO where it does not fit).
 *
 * now_ms is the receipt time, the time of events whose payload gives none. Each event is
 * filled as event_init leaves it, then with what the payload says (hooks.c tells how);
 * source, sensor_id, device_id and recv_ms are left for the caller. Strings are NUL-terminated,
 * not capped (the store caps them); fields is a JSON object as text ("" when empty) of valid
 * UTF-8, at most EVENT_FIELDS_MAX bytes: members that do not fit are dropped and
 * "truncated": true is added.
 *
 * Returns 0 with out->n events (0 for an empty array or alert list);
 *   -EINVAL when the body is neither JSON nor a form (empty, broken JSON, a bad %-escape,
 *     invalid UTF-8 in JSON, integers beyond 64 bits, reals beyond double, nesting deeper
 *     than 2048), or fmt is out of range: answer 400;
 *   -EPROTO when it is valid JSON or a form of the wrong shape (a missing member, a wrong
 *     type, an unknown severity or state, a form without Nagios/Icinga macros, ...), with
 *     out->path and out->err: answer 422;
 *   -E2BIG over HOOKS_MAX_EVENTS events or FORM_MAX_PARAMS form fields: answer 413;
 *   -ENOMEM.
 * On every error out->n is 0 and out->ev NULL. Call hooks_result_free after every call. */
int hooks_parse(const char *content_type, const char *body, size_t len, int64_t now_ms,
                hooks_format fmt, hooks_result *out);

/* Frees what a result holds (its events and their strings) and leaves it empty; NULL and an
 * empty or already freed result are fine. The struct itself stays the caller's. */
void hooks_result_free(hooks_result *r);

/* The name of a format ("auto", "alertmanager", "icinga2", "nagios", "generic"); "auto" for
 * out-of-range values. */
const char *hooks_format_name(hooks_format f);

/* Parses a format name as hooks_format_name writes it (a sensor setting, say; "" is auto).
 * Returns the format, or -1 for an unknown name. */
int hooks_format_parse(const char *name);

#endif
