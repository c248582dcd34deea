/* hooks: webhook bodies (Alertmanager, Nagios/Icinga 1, Icinga 2, generic JSON) into events.
 *
 * How each format becomes events (one per alert, per array element, or one per body):
 *
 * Alertmanager (payload version "4", as 0.25 sends it): kind "alert", one event per alert.
 *   status     the alert's "status" (firing/resolved; required).
 *   fingerprint the alert's "fingerprint"; when absent or "", computed as Alertmanager does
 *              (prometheus/common's labelSetToFingerprint): FNV-1a 64 over the labels sorted
 *              by name, each name and value followed by a 0xff byte, as 16 lower-case hex
 *              digits. So a sender that omits it still gets Alertmanager's identity.
 *   severity   labels.severity, any case: critical/page -> critical, error, warning, info,
 *              none -> notice, else any event_severity_parse name; absent or unknown ->
 *              warning. A resolved alert is notice (a recovery is news, not trouble; the
 *              original level stays in fields.labels.severity), as a Nagios RECOVERY.
 *   host       labels.instance without its port ("[::1]:9100" -> "::1"; the host of a URL
 *              for blackbox targets), else labels host, hostname, node (not device:
 *              node_exporter uses it for disks).
 *   app        labels.alertname.
 *   title      annotations.summary, else "<alertname> on <instance>" (or "<alertname>").
 *   text       annotations.description, else annotations.message.
 *   t_ms       startsAt when firing, endsAt when resolved (the other one, then now_ms, when
 *              unset); Go's zero time "0001-01-01T00:00:00Z" means unset.
 *   fields     {"labels", "annotations", "startsAt", "endsAt", "generatorURL", "receiver",
 *              "groupKey", "externalURL", "status", "truncatedAlerts" (when > 0)}.
 *   Strict about types: alerts an array of objects, labels/annotations (and the group's
 *   groupLabels, commonLabels, commonAnnotations) objects of strings, times RFC 3339. Unknown
 *   members are ignored (later versions may add some); null counts as absent.
 *
 * Nagios / Icinga 1 (and Icinga 2's notification scripts): kind "notification", one event.
 *   Macros by name, any case, with or without NAGIOS_/ICINGA_, or the short names:
 *   host HOSTNAME|host; service SERVICEDESC|SERVICENAME|service (none: a host notification);
 *   type NOTIFICATIONTYPE|notification_type|type; state SERVICESTATE or HOSTSTATE (for
 *   service or host notifications) |state, a name (OK WARNING CRITICAL UNKNOWN UP DOWN
 *   UNREACHABLE, any case) or a number (0-3 for services, 0-2 for hosts); output
 *   SERVICEOUTPUT or HOSTOUTPUT|output, plus LONGSERVICEOUTPUT/LONGHOSTOUTPUT; author
 *   NOTIFICATIONAUTHOR|NOTIFICATIONAUTHORNAME|author; comment NOTIFICATIONCOMMENT|comment;
 *   TIMET (Unix seconds) or LONGDATETIME in Icinga 2's "2024-03-01 12:00:00 +0100" form
 *   (Nagios's form names its zone by abbreviation, which is ambiguous: ignored).
 *   A host name is required. JSON macro values may be strings or numbers (other members may
 *   hold anything); an empty value counts as absent, since Nagios passes every macro.
 *   status     firing for PROBLEM (resolved if the state is OK/UP), resolved for RECOVERY,
 *              none for the other types; with no type, firing or resolved by the state.
 *   severity   CRITICAL/DOWN/UNREACHABLE critical, WARNING warning, UNKNOWN error, OK/UP
 *              notice; info without a state.
 *   fingerprint "nagios:<host>/<service>" ("icinga:" for Icinga 2), the same for the
 *              problem and its recovery. app is the service.
 *   title      "<host>/<service> is <STATE>" ("<host> is DOWN"), prefixed by "<TYPE>: " for
 *              types other than PROBLEM and RECOVERY.
 *   text       the output, the long output on the next line, then "Comment by <author>:
 *              <comment>" when there is a comment.
 *   fields     every field received, under its name as sent (first of a repeated form name;
 *              invalid UTF-8 in form names and values becomes U+FFFD).
 *
 * Icinga 2 event stream (type CheckResult, StateChange, Notification, Flapping,
 * AcknowledgementSet/Cleared, CommentAdded/Removed, DowntimeAdded/Removed/Started/Triggered,
 * ObjectCreated/Modified/Deleted): kind "notification"; states 0 OK 1 WARNING 2 CRITICAL
 * 3 UNKNOWN for services, 0 UP 1 DOWN for hosts ("state" of StateChange and friends; a
 * host's check_result.state is a service state: 0-1 UP, 2-3 DOWN, as Icinga computes it).
 *   status     Notification: by notification_type as for Nagios; StateChange: firing or
 *              resolved by the state when hard (state_type 1 or absent), none when soft;
 *              the others none.
 *   t_ms       "timestamp" (Unix seconds, fractional), else now_ms.
 *   fingerprint "icinga:<host>/<service>" (host and service of the comment or downtime for
 *              those; none for Object* events). fields: the whole event object.
 *   title      Notification and StateChange as for Nagios ("... is WARNING (soft)"); the
 *              others "<host>/<service> acknowledged by alice", "... downtime started",
 *              "<host> started flapping", "Service h!s modified" and so on.
 *   severity   by the state for Notification, StateChange and CheckResult (info without
 *              one); notice for acknowledgements and flapping; info for comments, downtimes
 *              and objects.
 *
 * Generic: kind "generic" (or "change" when "kind" says so), one event per object; members
 * title (required, non-empty), text, severity (a name or 0-7; default info), device (or
 * host) -> host, app, time (Unix seconds or RFC 3339; default now_ms), tags (an array of
 * strings or an object of scalars), fields (an object): fields = {"tags": ..., ...fields}
 * ("tags" and "truncated" are reserved inside fields). Any other member is an error (a
 * misspelt "severty" should not pass silently).
 *
 * Strings holding "\u0000" are refused wherever they are (a C string cannot hold one, and
 * JSON readers refuse it in fields), before the shape is looked at.
 *
 * Each fields object is written member by member into a buffer capped below
 * EVENT_FIELDS_MAX; a member that does not fit is rolled back and skipped (for labels,
 * annotations and generic fields, member by member inside them) and "truncated": true closes
 * the object. The group-level strings Alertmanager repeats in every alert's fields (receiver,
 * groupKey, externalURL) are dropped the same way beyond 1 KiB each, so 1000 alerts repeat at
 * most 3 MiB of them, and a body of 1 MiB never yields more than about 7 MiB of events (its
 * own bytes at most three times over: fields, title, text). */
#include "hooks.h"

#include "http/form.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/timeutil.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_SIZE 16384
#define FIELDS_ROOM (EVENT_FIELDS_MAX - 32) /* room for closing braces and "truncated" */
#define SHARED_MAX 1024 /* real receivers, group keys and URLs are far shorter */
#define TIME_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

struct hooks_chunk {
    struct hooks_chunk *next;
    size_t used, cap;
    char data[];
};

typedef struct hctx {
    hooks_result *out;
    int64_t now_ms;
    char path[HOOKS_PATH_MAX];
    size_t plen;
    buf fb; /* the fields object being written */
    int fdepth, ftrunc;
    unsigned char ffirst[3];
    buf sb;       /* scratch for titles and texts */
    size_t count; /* events allocated */
} hctx;

/* ---- string storage ---- */

/* Copies n bytes of s, NUL-terminated, into the result's chunks. NULL when out of memory. */
static const char *keep(hctx *c, const char *s, size_t n)
{
    if (n == 0)
        return "";
    hooks_result *r = c->out;
    struct hooks_chunk *k = r->chunks_;
    if (!k || k->cap - k->used < n + 1) {
        /* Big strings get a chunk of their own behind the current one, so the room left in it
         * is not wasted. */
        size_t cap = n + 1 > CHUNK_SIZE / 4 ? n + 1 : CHUNK_SIZE;
        struct hooks_chunk *nk = mem_alloc(sizeof *nk + cap);
        if (!nk)
            return NULL;
        nk->used = 0;
        nk->cap = cap;
        if (k && cap != CHUNK_SIZE) {
            nk->next = k->next;
            k->next = nk;
        } else {
            nk->next = k;
            r->chunks_ = nk;
        }
        k = nk;
    }
    char *d = k->data + k->used;
    memcpy(d, s, n);
    d[n] = '\0';
    k->used += n + 1;
    return d;
}

/* Keeps the scratch buffer's content. */
static int keep_sb(hctx *c, const char **dst)
{
    if (c->sb.err)
        return -ENOMEM;
    *dst = keep(c, c->sb.data ? c->sb.data : "", c->sb.len);
    return *dst ? 0 : -ENOMEM;
}

/* ---- UTF-8, paths, errors ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t k = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (!k || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    unsigned cp = k == 2 ? (c & 0x1f) << 6 | (s[1] & 0x3f)
                  : k == 3
                      ? (c & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f)
                      : (c & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

/* Appends s[0..n) to dst (capacity cap, NUL-terminated, *len used) as one line of valid
 * UTF-8: control characters and invalid bytes become '?'; cut at a character boundary.
 * Returns how many bytes of s it took. */
static size_t put_clean(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_len(u + i, n - i);
        if (*len + (k ? k : 1) >= cap) {
            dst[*len] = '\0';
            return i;
        }
        if (k == 1 && (u[i] < 0x20 || u[i] == 0x7f))
            dst[(*len)++] = '?';
        else if (k) {
            memcpy(dst + *len, u + i, k);
            *len += k;
        } else {
            dst[(*len)++] = '?';
        }
        i += k ? k : 1;
    }
    dst[*len] = '\0';
    return i;
}

/* s itself when it is valid UTF-8, else a copy with U+FFFD for each invalid byte (so two
 * form names that differ only in invalid bytes are one name, as they are in fields). */
static const char *repaired(hctx *c, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, k;
    while (i < n && (k = utf8_len(u + i, n - i)))
        i += k;
    if (i == n)
        return s;
    const char *d;
    buf_reset(&c->sb);
    for (i = 0; i < n; i += k ? k : 1) {
        k = utf8_len(u + i, n - i);
        buf_append(&c->sb, k ? s + i : "\xef\xbf\xbd", k ? k : 3);
    }
    return keep_sb(c, &d) ? NULL : d;
}

/* A short printable rendering of a value for error messages (at most 40 bytes). */
static const char *show(char dst[48], const char *s, size_t n)
{
    size_t len = 0;
    if (put_clean(dst, 41, &len, s, n) < n)
        memcpy(dst + len, "...", 4);
    return dst;
}

static size_t path_key(hctx *c, const char *k)
{
    size_t old = c->plen;
    if (c->plen && c->plen + 1 < sizeof c->path) {
        c->path[c->plen++] = '.';
        c->path[c->plen] = '\0';
    }
    put_clean(c->path, sizeof c->path, &c->plen, k, strlen(k));
    return old;
}

static size_t path_index(hctx *c, size_t i)
{
    size_t old = c->plen;
    char t[32];
    int n = snprintf(t, sizeof t, "[%zu]", i);
    put_clean(c->path, sizeof c->path, &c->plen, t, (size_t)n);
    return old;
}

static void path_pop(hctx *c, size_t len)
{
    c->plen = len;
    c->path[len] = '\0';
}

/* Reports a wrong shape at the current path (plus key, when not NULL): returns -EPROTO. */
__attribute__((format(printf, 3, 4))) static int fail(hctx *c, const char *key, const char *fmt,
                                                      ...)
{
    if (key)
        path_key(c, key);
    memcpy(c->out->path, c->path, sizeof c->path);
    char msg[HOOKS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    put_clean(c->out->err, sizeof c->out->err, &len, msg, strlen(msg));
    return -EPROTO;
}

static const char *type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- typed access to JSON members ---- */

/* Refuses "\u0000" in any string of the tree (keys cannot hold one: jansson refuses those),
 * so every string is a C string and fields never carry a NUL, which JSON readers such as
 * jansson refuse by default. Recursion is bounded by jansson's depth limit (2048). */
static int no_nul(hctx *c, json_t *v)
{
    int rc = 0;
    if (json_is_string(v)) {
        if (memchr(json_string_value(v), '\0', json_string_length(v)))
            return fail(c, NULL, "a NUL byte (\\u0000) in a string");
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            size_t mark = path_key(c, k);
            if ((rc = no_nul(c, m)))
                return rc;
            path_pop(c, mark);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            size_t mark = path_index(c, i);
            if ((rc = no_nul(c, m)))
                return rc;
            path_pop(c, mark);
        }
    }
    return 0;
}

/* A string value (v at key, or at the current path when key is NULL). */
static int str_val(hctx *c, json_t *v, const char *key, const char **s, size_t *n)
{
    *s = NULL;
    if (!json_is_string(v))
        return fail(c, key, "expected a string, not %s", type_name(v));
    *s = json_string_value(v);
    if (n)
        *n = json_string_length(v);
    return 0;
}

/* An optional string member: *s NULL (and *n 0) when absent or null. */
static int opt_str(hctx *c, json_t *o, const char *key, const char **s, size_t *n)
{
    json_t *v = json_object_get(o, key);
    *s = NULL;
    if (n)
        *n = 0;
    if (!v || json_is_null(v))
        return 0;
    return str_val(c, v, key, s, n);
}

/* A whole number: integers, and reals with an integral value (Icinga 2 writes 2.0). */
static int int_val(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740992.0) {
            *out = (long long)d;
            return 0;
        }
    }
    return -1;
}

/* An optional whole number in [lo, hi]: *present 0 when absent or null. */
static int opt_int(hctx *c, json_t *o, const char *key, long long lo, long long hi, long long *out,
                   int *present)
{
    json_t *v = json_object_get(o, key);
    *present = 0;
    if (!v || json_is_null(v))
        return 0;
    if (int_val(v, out) || *out < lo || *out > hi)
        return fail(c, key, "expected a whole number from %lld to %lld", lo, hi);
    *present = 1;
    return 0;
}

/* An optional object member whose values are all strings (labels, annotations). */
static int opt_strobj(hctx *c, json_t *o, const char *key, json_t **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return fail(c, key, "expected an object of strings, not %s", type_name(v));
    size_t mark = path_key(c, key);
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m)
    {
        const char *s;
        int rc = str_val(c, m, k, &s, NULL);
        if (rc)
            return rc;
    }
    path_pop(c, mark);
    *out = v;
    return 0;
}

/* Unix seconds into ms within 1970..9999. */
static int secs_to_ms(double s, int64_t *ms)
{
    if (!isfinite(s) || s < 0 || s * 1000.0 > (double)TIME_MAX_MS)
        return -1;
    *ms = (int64_t)llround(s * 1000.0);
    return 0;
}

/* A time given as Unix seconds (number) or as text (Unix seconds or RFC 3339). */
static int time_val(hctx *c, json_t *v, const char *key, int64_t *ms)
{
    if (json_is_number(v)) {
        if (secs_to_ms(json_number_value(v), ms))
            return fail(c, key, "time out of range (Unix seconds from 1970 to 9999)");
        return 0;
    }
    const char *s;
    int rc = str_val(c, v, key, &s, NULL);
    if (rc)
        return rc;
    if (timeutil_parse_time(s, ms) || *ms < 0 || *ms > TIME_MAX_MS)
        return fail(c, key, "expected Unix seconds or an RFC 3339 time from 1970 to 9999");
    return 0;
}

/* ---- the fields writer ---- */

/* Appends s[0..n) as a JSON string of valid UTF-8 (invalid bytes become U+FFFD). */
static void put_jstr(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(u + i, n - i);
        if (k > 1 || (k == 1 && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\' && u[i] != 0x7f)) {
            i += k;
            continue;
        }
        buf_append(b, s + start, i - start);
        if (!k) {
            buf_puts(b, "\\ufffd");
        } else if (u[i] == '"' || u[i] == '\\') {
            char e[2] = {'\\', (char)u[i]};
            buf_append(b, e, 2);
        } else if (u[i] == '\n') {
            buf_puts(b, "\\n");
        } else if (u[i] == '\t') {
            buf_puts(b, "\\t");
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[u[i] >> 4], hex[u[i] & 15]};
            buf_append(b, e, 6);
        }
        i++;
        start = i;
    }
    buf_append(b, s + start, n - start);
    buf_putc(b, '"');
}

static void fw_begin(hctx *c)
{
    buf_reset(&c->fb);
    buf_putc(&c->fb, '{');
    c->fdepth = 0;
    c->ffirst[0] = 1;
    c->ftrunc = 0;
}

/* Starts member key: returns the length to roll back to if it does not fit. */
static size_t fw_key(hctx *c, const char *key, size_t kn)
{
    size_t mark = c->fb.len;
    if (!c->ffirst[c->fdepth])
        buf_putc(&c->fb, ',');
    put_jstr(&c->fb, key, kn);
    buf_putc(&c->fb, ':');
    return mark;
}

/* Ends a member started at mark: kept when it fit, else rolled back and noted. */
static int fw_done(hctx *c, size_t mark, size_t limit)
{
    if (c->fb.err == -ENOMEM)
        return -ENOMEM;
    if (c->fb.err || c->fb.len > limit) {
        c->fb.len = mark;
        c->fb.data[mark] = '\0';
        c->fb.err = 0;
        c->ftrunc = 1;
        return 0;
    }
    c->ffirst[c->fdepth] = 0;
    return 0;
}

static int dump_cb(const char *s, size_t n, void *data)
{
    return buf_append(data, s, n) ? -1 : 0;
}

static void fw_json(hctx *c, const json_t *v)
{
    /* jansson fails without a buffer error only when its own allocation fails. */
    if (json_dump_callback(v, dump_cb, &c->fb, JSON_COMPACT | JSON_ENCODE_ANY) && !c->fb.err)
        c->fb.err = -ENOMEM;
}

/* Member key: a JSON value (NULL: skipped). */
static int fw_member_json(hctx *c, const char *key, const json_t *v, size_t limit)
{
    if (!v)
        return 0;
    size_t mark = fw_key(c, key, strlen(key));
    fw_json(c, v);
    return fw_done(c, mark, limit);
}

/* Member key: a string of n bytes (s NULL: skipped). */
static int fw_member_str(hctx *c, const char *key, size_t kn, const char *s, size_t n, size_t limit)
{
    if (!s)
        return 0;
    size_t mark = fw_key(c, key, kn);
    put_jstr(&c->fb, s, n);
    return fw_done(c, mark, limit);
}

/* Member key: an object written member by member, so one huge member drops alone. */
static int fw_member_obj(hctx *c, const char *key, const json_t *o)
{
    if (!o)
        return 0;
    size_t mark = fw_key(c, key, strlen(key));
    buf_putc(&c->fb, '{');
    if (c->fb.err) /* the members' roll-backs would clear the error and keep half a key */
        return fw_done(c, mark, FIELDS_ROOM);
    c->ffirst[++c->fdepth] = 1;
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)o, k, v)
    {
        if ((rc = fw_member_json(c, k, v, FIELDS_ROOM)))
            break;
    }
    c->fdepth--;
    if (rc)
        return rc;
    buf_putc(&c->fb, '}');
    return fw_done(c, mark, FIELDS_ROOM);
}

/* Closes the object and keeps it as e->fields ("" when nothing was written). */
static int fw_end(hctx *c, event *e)
{
    if (c->ftrunc)
        buf_puts(&c->fb, c->ffirst[0] ? "\"truncated\":true" : ",\"truncated\":true");
    else if (c->ffirst[0])
        return 0;
    buf_putc(&c->fb, '}');
    if (c->fb.err)
        return -ENOMEM;
    e->fields = keep(c, c->fb.data, c->fb.len);
    return e->fields ? 0 : -ENOMEM;
}

/* ---- states and notification types (Nagios, Icinga) ---- */

enum { ST_OK, ST_WARNING, ST_CRITICAL, ST_UNKNOWN, ST_UP, ST_DOWN, ST_UNREACHABLE, ST_N };
static const struct {
    const char *name;
    int severity, good;
} states[ST_N] = {
    {"OK", EVENT_NOTICE, 1},
    {"WARNING", EVENT_WARNING, 0},
    {"CRITICAL", EVENT_CRITICAL, 0},
    {"UNKNOWN", EVENT_ERROR, 0},
    {"UP", EVENT_NOTICE, 1},
    {"DOWN", EVENT_CRITICAL, 0},
    {"UNREACHABLE", EVENT_CRITICAL, 0},
};

/* A state name in any case, or a number: 0-3 for a service, 0-2 for a host. -1 if neither. */
static int state_parse(const char *s, int service)
{
    for (int i = 0; i < ST_N; i++)
        if (strcasecmp(s, states[i].name) == 0)
            return i;
    if (s[0] >= '0' && s[0] <= '3' && !s[1])
        return service ? s[0] - '0' : s[0] == '3' ? -1 : ST_UP + (s[0] - '0');
    return -1;
}

enum { NT_PROBLEM, NT_RECOVERY }; /* the rest of ntypes[] carry no status */
static const char *const ntypes[] = {
    "PROBLEM",      "RECOVERY",          "ACKNOWLEDGEMENT",  "FLAPPINGSTART",
    "FLAPPINGSTOP", "FLAPPINGEND",       "FLAPPINGDISABLED", "DOWNTIMESTART",
    "DOWNTIMEEND",  "DOWNTIMECANCELLED", "DOWNTIMEREMOVED",  "CUSTOM",
};
#define NTYPES_N (sizeof ntypes / sizeof ntypes[0])

static int ntype_parse(const char *s)
{
    for (size_t i = 0; i < NTYPES_N; i++)
        if (strcasecmp(s, ntypes[i]) == 0)
            return (int)i;
    return -1;
}

/* Status, severity, title and fingerprint of a notification about host/service: nt a
 * notification type or -1, st a state or -1; soft: an Icinga 2 soft state (no status yet). */
static int notif_fill(hctx *c, event *e, int nt, int st, const char *host, const char *service,
                      const char *prefix, int soft)
{
    if (!soft && (nt == NT_PROBLEM || (nt < 0 && st >= 0)))
        e->status = st >= 0 && states[st].good ? EVENT_STATUS_RESOLVED : EVENT_STATUS_FIRING;
    else if (!soft && nt == NT_RECOVERY)
        e->status = EVENT_STATUS_RESOLVED;
    e->severity = st >= 0 ? states[st].severity : EVENT_INFO;
    buf_reset(&c->sb);
    if (nt > NT_RECOVERY)
        buf_printf(&c->sb, "%s: ", ntypes[nt]);
    buf_printf(&c->sb, "%s%s%s", host, *service ? "/" : "", service);
    if (st >= 0)
        buf_printf(&c->sb, " is %s%s", states[st].name, soft ? " (soft)" : "");
    int rc = keep_sb(c, &e->title);
    if (rc)
        return rc;
    buf_reset(&c->sb);
    buf_printf(&c->sb, "%s:%s/%s", prefix, host, service);
    return keep_sb(c, &e->fingerprint);
}

/* ---- Nagios / Icinga macros ---- */

enum {
    M_HOST,
    M_SERVICE,
    M_TYPE,
    M_HOSTSTATE,
    M_SVCSTATE,
    M_STATE,
    M_HOSTOUT,
    M_SVCOUT,
    M_OUT,
    M_LONGHOST,
    M_LONGSVC,
    M_AUTHOR,
    M_COMMENT,
    M_TIMET,
    M_LONGDATETIME,
    M_N,
    M_NONE = -1,
};
#define MK_LONG 1    /* a macro name: marks a Nagios body */
#define MK_ICINGA2 2 /* sent by Icinga 2's scripts only */
#define MK_SHORT 4   /* a short name */
static const struct {
    const char *name;
    int slot, mark;
} macros[] = {
    /* Earlier names win when several give the same slot. */
    {"HOSTNAME", M_HOST, MK_LONG},
    {"SERVICEDESC", M_SERVICE, MK_LONG},
    {"SERVICENAME", M_SERVICE, MK_LONG | MK_ICINGA2},
    {"NOTIFICATIONTYPE", M_TYPE, MK_LONG},
    {"HOSTSTATE", M_HOSTSTATE, MK_LONG},
    {"SERVICESTATE", M_SVCSTATE, MK_LONG},
    {"HOSTOUTPUT", M_HOSTOUT, MK_LONG},
    {"SERVICEOUTPUT", M_SVCOUT, MK_LONG},
    {"LONGHOSTOUTPUT", M_LONGHOST, MK_LONG},
    {"LONGSERVICEOUTPUT", M_LONGSVC, MK_LONG},
    {"NOTIFICATIONAUTHOR", M_AUTHOR, MK_LONG},
    {"NOTIFICATIONAUTHORNAME", M_AUTHOR, MK_LONG | MK_ICINGA2},
    {"NOTIFICATIONCOMMENT", M_COMMENT, MK_LONG},
    {"TIMET", M_TIMET, MK_LONG},
    {"LONGDATETIME", M_LONGDATETIME, MK_LONG},
    {"HOSTALIAS", M_NONE, MK_LONG},
    {"HOSTADDRESS", M_NONE, MK_LONG},
    {"HOSTDISPLAYNAME", M_NONE, MK_LONG},
    {"SERVICEDISPLAYNAME", M_NONE, MK_LONG},
    {"HOST", M_HOST, MK_SHORT},
    {"SERVICE", M_SERVICE, MK_SHORT},
    {"NOTIFICATION_TYPE", M_TYPE, MK_SHORT},
    {"TYPE", M_TYPE, MK_SHORT},
    {"STATE", M_STATE, MK_SHORT},
    {"OUTPUT", M_OUT, MK_SHORT},
    {"AUTHOR", M_AUTHOR, MK_SHORT},
    {"COMMENT", M_COMMENT, MK_SHORT},
    {"ADDRESS", M_NONE, MK_SHORT},
};
#define MACROS_N (sizeof macros / sizeof macros[0])

/* The macro a key names (any case, NAGIOS_/ICINGA_ prefix allowed), or -1. */
static int macro_find(const char *key)
{
    char up[32];
    size_t n = strlen(key);
    if (n >= 7 && (!strncasecmp(key, "NAGIOS_", 7) || !strncasecmp(key, "ICINGA_", 7)))
        key += 7, n -= 7;
    if (n >= sizeof up)
        return -1;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
    for (size_t i = 0; i < MACROS_N; i++)
        if (strcmp(up, macros[i].name) == 0)
            return (int)i;
    return -1;
}

/* One received field: its name as sent and its text (NULL for a JSON null). */
typedef struct mitem {
    const char *key, *val;
    size_t vlen;
    const json_t *raw; /* the JSON value, or NULL for form fields */
} mitem;

/* Which macros a body's keys name, for detection. */
typedef struct mdetect {
    int marks, shorts;
} mdetect;

static void mdetect_add(mdetect *d, const char *key)
{
    int m = macro_find(key);
    if (m < 0)
        return;
    d->marks |= macros[m].mark;
    if (macros[m].mark & MK_SHORT)
        d->shorts |= 1 << macros[m].slot;
}

/* HOOKS_ICINGA2 or HOOKS_NAGIOS for a body of macros, HOOKS_AUTO otherwise. A form is never
 * generic, so any macro or short name makes it one; a JSON object needs a macro name, or the
 * host and one more short name without a title. */
static hooks_format mdetect_result(const mdetect *d, int form, int has_title)
{
    int others = 1 << M_SERVICE | 1 << M_STATE | 1 << M_OUT | 1 << M_TYPE;
    if (d->marks & MK_ICINGA2)
        return HOOKS_ICINGA2;
    if ((d->marks & MK_LONG) || (form && d->marks) ||
        (!has_title && (d->shorts & 1 << M_HOST) && (d->shorts & others)))
        return HOOKS_NAGIOS;
    return HOOKS_AUTO;
}

/* Reads Icinga 2's "$icinga.long_date_time$" form, "2024-03-01 12:00:00 +0100". */
static int longdatetime(const char *s, int64_t *ms)
{
    char t[32];
    if (strlen(s) != 25 || s[10] != ' ' || s[19] != ' ' || (s[20] != '+' && s[20] != '-'))
        return -1;
    memcpy(t, s, 10);
    t[10] = 'T';
    memcpy(t + 11, s + 11, 8);
    memcpy(t + 19, s + 20, 3);
    t[22] = ':';
    memcpy(t + 23, s + 23, 2);
    t[25] = '\0';
    return timeutil_parse_time(t, ms) || *ms < 0 || *ms > TIME_MAX_MS ? -1 : 0;
}

static int macros_parse(hctx *c, const mitem *it, size_t n, hooks_format f, event *e)
{
    int slot[M_N], prio[M_N];
    for (int i = 0; i < M_N; i++)
        slot[i] = -1, prio[i] = (int)MACROS_N;
    for (size_t i = 0; i < n; i++) {
        int m = macro_find(it[i].key);
        /* Nagios passes every macro, empty ones too (SERVICESTATE= in a host notification):
         * empty is absent, but for the host, whose absence is reported under its name. */
        if (m < 0 || macros[m].slot < 0 || !it[i].val || m >= prio[macros[m].slot] ||
            (!it[i].val[0] && macros[m].slot != M_HOST))
            continue;
        slot[macros[m].slot] = (int)i;
        prio[macros[m].slot] = m;
    }
#define MV(s) (slot[s] >= 0 ? it[slot[s]].val : NULL)
#define MK(s) (it[slot[s]].key)
    const char *host = MV(M_HOST), *service = MV(M_SERVICE);
    if (!host || !*host)
        return fail(c, slot[M_HOST] >= 0 ? MK(M_HOST) : "HOSTNAME",
                    "missing the host name (HOSTNAME or host)");
    if (!service)
        service = "";
    int nt = -1, st = -1, rc;
    if (MV(M_TYPE) && (nt = ntype_parse(MV(M_TYPE))) < 0) {
        char v[48];
        return fail(c, MK(M_TYPE),
                    "unknown notification type \"%s\" (expected PROBLEM, "
                    "RECOVERY, ACKNOWLEDGEMENT, ...)",
                    show(v, MV(M_TYPE), it[slot[M_TYPE]].vlen));
    }
    int sslot = *service ? M_SVCSTATE : M_HOSTSTATE;
    if (!MV(sslot))
        sslot = M_STATE;
    if (MV(sslot) && (st = state_parse(MV(sslot), *service != '\0')) < 0) {
        char v[48];
        return fail(c, MK(sslot),
                    "unknown state \"%s\" (expected OK, WARNING, CRITICAL, "
                    "UNKNOWN, UP, DOWN or UNREACHABLE)",
                    show(v, MV(sslot), it[slot[sslot]].vlen));
    }
    e->kind = EVENT_KIND_NOTIFICATION;
    e->t_ms = c->now_ms;
    if (MV(M_TIMET)) {
        if (timeutil_parse_time(MV(M_TIMET), &e->t_ms) || e->t_ms < 0 || e->t_ms > TIME_MAX_MS)
            return fail(c, MK(M_TIMET), "expected Unix seconds");
    } else if (MV(M_LONGDATETIME) && longdatetime(MV(M_LONGDATETIME), &e->t_ms)) {
        e->t_ms = c->now_ms;
    }
    if ((rc = notif_fill(c, e, nt, st, host, service, f == HOOKS_ICINGA2 ? "icinga" : "nagios", 0)))
        return rc;
    if (!(e->host = keep(c, host, strlen(host))) || !(e->app = keep(c, service, strlen(service))))
        return -ENOMEM;
    const char *out = MV(*service ? M_SVCOUT : M_HOSTOUT),
               *lng = MV(*service ? M_LONGSVC : M_LONGHOST);
    if (!out)
        out = MV(M_OUT);
    buf_reset(&c->sb);
    if (out && *out)
        buf_puts(&c->sb, out);
    if (lng && *lng)
        buf_printf(&c->sb, "%s%s", c->sb.len ? "\n" : "", lng);
    if (MV(M_COMMENT))
        buf_printf(&c->sb, "%sComment%s%s: %s", c->sb.len ? "\n" : "", MV(M_AUTHOR) ? " by " : "",
                   MV(M_AUTHOR) ? MV(M_AUTHOR) : "", MV(M_COMMENT));
    if ((rc = keep_sb(c, &e->text)))
        return rc;
#undef MV
#undef MK
    fw_begin(c);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t kn = strlen(it[i].key), j = 0;
        /* A form may repeat a name (the first is kept; at most FORM_MAX_PARAMS fields, so the
         * scan stays small; names are repaired already); JSON keys are unique already. */
        for (; !it[i].raw && j < i; j++)
            if (strcmp(it[j].key, it[i].key) == 0)
                break;
        if ((!it[i].raw && j < i) || !kn)
            continue;
        if (it[i].raw)
            rc = fw_member_json(c, it[i].key, it[i].raw, FIELDS_ROOM);
        else
            rc = fw_member_str(c, it[i].key, kn, it[i].val, it[i].vlen, FIELDS_ROOM);
    }
    return rc ? rc : fw_end(c, e);
}

/* Macros from a JSON object: their values strings or numbers (null: absent). */
static int macros_json(hctx *c, json_t *o, hooks_format f, event *e)
{
    size_t n = json_object_size(o), i = 0;
    mitem *it = mem_calloc(n ? n : 1, sizeof *it);
    if (!it)
        return -ENOMEM;
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, k, v)
    {
        it[i].key = k;
        it[i].raw = v;
        if (json_is_string(v)) {
            rc = str_val(c, v, k, &it[i].val, &it[i].vlen);
        } else if (json_is_number(v)) {
            char t[40];
            long long ll;
            int len = int_val(v, &ll) == 0 ? snprintf(t, sizeof t, "%lld", ll)
                                           : snprintf(t, sizeof t, "%.17g", json_number_value(v));
            it[i].vlen = (size_t)len;
            if (!(it[i].val = keep(c, t, it[i].vlen)))
                rc = -ENOMEM;
        } else if (!json_is_null(v) && macro_find(k) >= 0) {
            /* Members that are no macro may hold anything: they only go to fields. */
            rc = fail(c, k, "expected a string, not %s", type_name(v));
        }
        if (rc)
            break;
        i++;
    }
    if (!rc)
        rc = macros_parse(c, it, n, f, e);
    mem_free(it);
    return rc;
}

/* ---- Icinga 2 event stream ---- */

enum {
    IT_CHECKRESULT,
    IT_STATECHANGE,
    IT_NOTIFICATION,
    IT_FLAPPING,
    IT_ACKSET,
    IT_ACKCLEARED,
    IT_COMMENTADDED,
    IT_COMMENTREMOVED,
    IT_DTADDED,
    IT_DTREMOVED,
    IT_DTSTARTED,
    IT_DTTRIGGERED,
    IT_OBJCREATED,
    IT_OBJMODIFIED,
    IT_OBJDELETED,
    IT_N,
};
static const char *const itypes[IT_N] = {
    "CheckResult",     "StateChange",        "Notification",
    "Flapping",        "AcknowledgementSet", "AcknowledgementCleared",
    "CommentAdded",    "CommentRemoved",     "DowntimeAdded",
    "DowntimeRemoved", "DowntimeStarted",    "DowntimeTriggered",
    "ObjectCreated",   "ObjectModified",     "ObjectDeleted",
};

static int itype_of(json_t *o)
{
    const char *t = json_string_value(json_object_get(o, "type"));
    for (int i = 0; t && i < IT_N; i++)
        if (strcmp(t, itypes[i]) == 0)
            return i;
    return -1;
}

/* The state an Icinga 2 number means: service states 0-3, host states 0-1 (from_cr: a host's
 * check result, which holds a service state). */
static int istate(long long v, int service, int from_cr)
{
    if (service)
        return (int)v;
    if (from_cr)
        return v <= 1 ? ST_UP : ST_DOWN;
    return ST_UP + (int)v;
}

static int icinga_event(hctx *c, json_t *o, int type, event *e)
{
    const char *host = NULL, *service = NULL, *output = NULL, *author = NULL, *comment = NULL;
    const char *otype = NULL, *oname = NULL;
    size_t hn = 0, sn = 0, on = 0;
    long long state = -1, stype = 1, v;
    int have, rc, from_cr = 0;
    json_t *sub = NULL, *cr = json_object_get(o, "check_result"), *ts;
    e->kind = EVENT_KIND_NOTIFICATION;
    e->t_ms = c->now_ms;
    if ((ts = json_object_get(o, "timestamp")) && !json_is_null(ts)) {
        if (!json_is_number(ts))
            return fail(c, "timestamp", "expected Unix seconds, not %s", type_name(ts));
        if ((rc = time_val(c, ts, "timestamp", &e->t_ms)))
            return rc;
    }
    if (type >= IT_COMMENTADDED && type <= IT_DTTRIGGERED) {
        const char *what = type <= IT_COMMENTREMOVED ? "comment" : "downtime";
        sub = json_object_get(o, what);
        if (!json_is_object(sub))
            return fail(c, what, "expected an object, not %s", type_name(sub));
        size_t mark = path_key(c, what);
        if ((rc = opt_str(c, sub, "host_name", &host, &hn)) ||
            (rc = opt_str(c, sub, "service_name", &service, &sn)) ||
            (rc = opt_str(c, sub, "author", &author, NULL)) ||
            (rc = opt_str(c, sub, type <= IT_COMMENTREMOVED ? "text" : "comment", &comment, NULL)))
            return rc;
        path_pop(c, mark);
    } else if (type >= IT_OBJCREATED) {
        if ((rc = opt_str(c, o, "object_type", &otype, NULL)) ||
            (rc = opt_str(c, o, "object_name", &oname, NULL)))
            return rc;
        if (!otype || !oname)
            return fail(c, otype ? "object_name" : "object_type", "missing");
    } else {
        if ((rc = opt_str(c, o, "host", &host, &hn)) ||
            (rc = opt_str(c, o, "service", &service, &sn)))
            return rc;
        if (!host || !*host)
            return fail(c, "host", "missing the host name");
        if ((rc = opt_str(c, o, "author", &author, NULL)) ||
            (rc = opt_str(c, o, type == IT_NOTIFICATION ? "text" : "comment", &comment, NULL)))
            return rc;
    }
    int svc = service && *service;
    if (cr && !json_is_null(cr)) {
        if (!json_is_object(cr))
            return fail(c, "check_result", "expected an object, not %s", type_name(cr));
        size_t mark = path_key(c, "check_result");
        if ((rc = opt_str(c, cr, "output", &output, &on)) ||
            (rc = opt_int(c, cr, "state", 0, 3, &v, &have)))
            return rc;
        path_pop(c, mark);
        if (have)
            state = v, from_cr = 1;
    } else if (type == IT_CHECKRESULT) {
        return fail(c, "check_result", "missing");
    }
    if (type == IT_STATECHANGE || type == IT_FLAPPING || type == IT_ACKSET ||
        type == IT_ACKCLEARED) {
        if ((rc = opt_int(c, o, "state", 0, svc ? 3 : 1, &v, &have)))
            return rc;
        if (have)
            state = v, from_cr = 0;
        else if (type == IT_STATECHANGE)
            return fail(c, "state", "missing");
        if ((rc = opt_int(c, o, "state_type", 0, 1, &stype, &have)))
            return rc;
    }
    int nt = -1, st = state >= 0 ? istate(state, svc, from_cr) : -1;
    if (type == IT_NOTIFICATION) {
        const char *t;
        size_t tn;
        if ((rc = opt_str(c, o, "notification_type", &t, &tn)))
            return rc;
        if (!t)
            return fail(c, "notification_type", "missing");
        if ((nt = ntype_parse(t)) < 0) {
            char sh[48];
            return fail(c, "notification_type", "unknown notification type \"%s\"",
                        show(sh, t, tn));
        }
        json_t *users = json_object_get(o, "users");
        if (users && !json_is_null(users)) {
            if (!json_is_array(users))
                return fail(c, "users", "expected an array of strings, not %s", type_name(users));
            size_t i, mark = path_key(c, "users");
            json_t *u;
            json_array_foreach(users, i, u)
            {
                size_t m2 = path_index(c, i);
                const char *s;
                if ((rc = str_val(c, u, NULL, &s, NULL)))
                    return rc;
                path_pop(c, m2);
            }
            path_pop(c, mark);
        }
    }
    if (!host)
        host = "";
    if (!service)
        service = "";
    if (type == IT_NOTIFICATION || type == IT_STATECHANGE) {
        /* A soft state change is neither firing nor resolved yet. */
        if ((rc = notif_fill(c, e, nt, st, host, service, "icinga",
                             type == IT_STATECHANGE && stype == 0)))
            return rc;
    } else {
        static const char *const verbs[IT_N] = {
            [IT_CHECKRESULT] = "check result",  [IT_FLAPPING] = "",
            [IT_ACKSET] = "acknowledged",        [IT_ACKCLEARED] = "acknowledgement cleared",
            [IT_COMMENTADDED] = "comment added", [IT_COMMENTREMOVED] = "comment removed",
            [IT_DTADDED] = "downtime added",     [IT_DTREMOVED] = "downtime removed",
            [IT_DTSTARTED] = "downtime started", [IT_DTTRIGGERED] = "downtime triggered",
            [IT_OBJCREATED] = "created",         [IT_OBJMODIFIED] = "modified",
            [IT_OBJDELETED] = "deleted",
        };
        if (type == IT_CHECKRESULT)
            e->severity = st >= 0 ? states[st].severity : EVENT_INFO;
        else
            e->severity = type >= IT_COMMENTADDED ? EVENT_INFO : EVENT_NOTICE;
        buf_reset(&c->sb);
        if (type >= IT_OBJCREATED) {
            buf_printf(&c->sb, "%s %s %s", otype, oname, verbs[type]);
            if (strcmp(otype, "Host") == 0 || strcmp(otype, "Service") == 0) {
                host = oname;
                hn = strcspn(oname, "!");
            }
        } else {
            buf_printf(&c->sb, "%s%s%s ", host, svc ? "/" : "", service);
            if (type == IT_FLAPPING)
                buf_puts(&c->sb, json_is_true(json_object_get(o, "is_flapping"))
                                     ? "started flapping"
                                     : "stopped flapping");
            else
                buf_puts(&c->sb, verbs[type]);
            if (type == IT_CHECKRESULT && st >= 0)
                buf_printf(&c->sb, " %s", states[st].name);
            if (type == IT_ACKSET && author && *author)
                buf_printf(&c->sb, " by %s", author);
        }
        if ((rc = keep_sb(c, &e->title)))
            return rc;
        if (*host && type < IT_OBJCREATED) {
            buf_reset(&c->sb);
            buf_printf(&c->sb, "icinga:%s/%s", host, service);
            if ((rc = keep_sb(c, &e->fingerprint)))
                return rc;
        }
    }
    if (!(e->host = keep(c, host, hn)) || !(e->app = keep(c, service, sn)))
        return -ENOMEM;
    buf_reset(&c->sb);
    if (output)
        buf_append(&c->sb, output, on);
    if (comment && *comment)
        buf_printf(&c->sb, "%sComment%s%s: %s", c->sb.len ? "\n" : "",
                   author && *author ? " by " : "", author && *author ? author : "", comment);
    if ((rc = keep_sb(c, &e->text)))
        return rc;
    fw_begin(c);
    const char *k;
    json_t *m;
    json_object_foreach(o, k, m)
    {
        if ((rc = fw_member_json(c, k, m, FIELDS_ROOM)))
            return rc;
    }
    return fw_end(c, e);
}

/* ---- Alertmanager ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Alertmanager's fingerprint of a label set (see the essay at the top). */
static int am_fingerprint(json_t *labels, char out[17])
{
    size_t n = json_object_size(labels), i = 0;
    const char **keys = mem_calloc(n ? n : 1, sizeof *keys);
    if (!keys)
        return -ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    uint64_t h = 14695981039346656037ULL;
    for (i = 0; i < n; i++) {
        json_t *val = json_object_get(labels, keys[i]);
        const unsigned char *parts[2] = {(const unsigned char *)keys[i],
                                         (const unsigned char *)json_string_value(val)};
        size_t lens[2] = {strlen(keys[i]), json_string_length(val)};
        for (int p = 0; p < 2; p++) {
            for (size_t j = 0; j < lens[p]; j++)
                h = (h ^ parts[p][j]) * 1099511628211ULL;
            h = (h ^ 0xff) * 1099511628211ULL;
        }
    }
    mem_free(keys);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

/* The host an instance label names: "web1:9100" -> "web1", "[::1]:9100" -> "::1",
 * "https://user@example.com:8443/x" -> "example.com"; anything else ("fe80::1") as it is. */
static void instance_host(const char *s, size_t n, const char **h, size_t *hn)
{
    const char *p = s, *end = s + n, *sch = strstr(s, "://");
    if (sch) {
        p = sch + 3;
        end = p + strcspn(p, "/?#");
        for (const char *q = p; q < end; q++)
            if (*q == '@')
                p = q + 1;
    }
    if (p < end && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb && rb > p + 1) {
            *h = p + 1;
            *hn = (size_t)(rb - p - 1);
            return;
        }
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
        int port = colon + 1 < end;
        for (const char *q = colon + 1; q < end; q++)
            if (*q < '0' || *q > '9')
                port = 0;
        if (port)
            end = colon;
    }
    if (end <= p) {
        *h = s;
        *hn = n;
        return;
    }
    *h = p;
    *hn = (size_t)(end - p);
}

/* labels.severity into a severity (see the essay at the top). */
static int am_severity(const char *s)
{
    char low[16];
    size_t n = s ? strlen(s) : 0;
    if (!s || n >= sizeof low)
        return EVENT_WARNING;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    if (!strcmp(low, "critical") || !strcmp(low, "page"))
        return EVENT_CRITICAL;
    if (!strcmp(low, "none"))
        return EVENT_NOTICE;
    int sev = event_severity_parse(low);
    return sev >= 0 ? sev : EVENT_WARNING;
}

/* An alert time member: *ms INT64_MIN when absent, null or Go's zero time. */
static int am_time(hctx *c, json_t *a, const char *key, int64_t *ms)
{
    const char *s;
    int rc = opt_str(c, a, key, &s, NULL);
    *ms = INT64_MIN;
    if (rc || !s || strncmp(s, "0001-01-01T00:00:00", 19) == 0)
        return rc;
    if (timeutil_parse_time(s, ms) || *ms < 0 || *ms > TIME_MAX_MS) {
        *ms = INT64_MIN;
        return fail(c, key, "expected an RFC 3339 time from 1970 to 9999");
    }
    return 0;
}

typedef struct am_group {
    const char *receiver, *group_key, *external_url;
    size_t rn, gn, en;
    long long truncated;
} am_group;

static const char *label(json_t *o, const char *k, size_t *n)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    if (n)
        *n = v ? json_string_length(v) : 0;
    return v ? json_string_value(v) : NULL;
}

static int am_alert(hctx *c, json_t *a, const am_group *g, event *e)
{
    const char *status, *fp;
    size_t fpn;
    json_t *labels, *ann;
    int64_t starts, ends;
    int rc;
    if (!json_is_object(a))
        return fail(c, NULL, "expected an alert object, not %s", type_name(a));
    if ((rc = opt_str(c, a, "status", &status, NULL)))
        return rc;
    if (!status || (strcmp(status, "firing") && strcmp(status, "resolved")))
        return fail(c, "status",
                    status ? "expected \"firing\" or \"resolved\""
                           : "missing (\"firing\" or \"resolved\")");
    json_t *lv = json_object_get(a, "labels");
    if (!lv || json_is_null(lv))
        return fail(c, "labels", lv ? "expected an object of strings, not null" : "missing");
    if ((rc = opt_strobj(c, a, "labels", &labels)) || (rc = opt_strobj(c, a, "annotations", &ann)))
        return rc;
    const char *gen;
    if ((rc = am_time(c, a, "startsAt", &starts)) || (rc = am_time(c, a, "endsAt", &ends)) ||
        (rc = opt_str(c, a, "generatorURL", &gen, NULL)) ||
        (rc = opt_str(c, a, "fingerprint", &fp, &fpn)))
        return rc;
    int resolved = status[0] == 'r';
    e->kind = EVENT_KIND_ALERT;
    e->status = resolved ? EVENT_STATUS_RESOLVED : EVENT_STATUS_FIRING;
    e->severity = resolved ? EVENT_NOTICE : am_severity(label(labels, "severity", NULL));
    int64_t first = resolved ? ends : starts, second = resolved ? starts : ends;
    e->t_ms = first != INT64_MIN ? first : second != INT64_MIN ? second : c->now_ms;
    char hash[17];
    if (!fp || !*fp) {
        if ((rc = am_fingerprint(labels, hash)))
            return rc;
        fp = hash;
        fpn = 16;
    }
    if (!(e->fingerprint = keep(c, fp, fpn)))
        return -ENOMEM;
    size_t in = 0, hn = 0, an = 0;
    const char *inst = label(labels, "instance", &in), *host = NULL;
    if (inst && in)
        instance_host(inst, in, &host, &hn);
    static const char *const host_labels[] = {"host", "hostname", "node"};
    for (size_t i = 0; (!host || !hn) && i < sizeof host_labels / sizeof host_labels[0]; i++)
        host = label(labels, host_labels[i], &hn);
    const char *alertname = label(labels, "alertname", &an);
    if ((host && !(e->host = keep(c, host, hn))) ||
        (alertname && !(e->app = keep(c, alertname, an))))
        return -ENOMEM;
    size_t tn;
    const char *t = label(ann, "summary", &tn);
    if (t && tn) {
        if (!(e->title = keep(c, t, tn)))
            return -ENOMEM;
    } else {
        buf_reset(&c->sb);
        buf_puts(&c->sb, alertname && an ? alertname : "alert");
        if (inst && in)
            buf_printf(&c->sb, " on %s", inst);
        else if (*e->host)
            buf_printf(&c->sb, " on %s", e->host);
        if ((rc = keep_sb(c, &e->title)))
            return rc;
    }
    if (!(t = label(ann, "description", &tn)) || !tn)
        t = label(ann, "message", &tn);
    if (t && !(e->text = keep(c, t, tn)))
        return -ENOMEM;
    fw_begin(c);
    if ((rc = fw_member_obj(c, "labels", labels)) || (rc = fw_member_obj(c, "annotations", ann)) ||
        (rc = fw_member_json(c, "startsAt", json_object_get(a, "startsAt"), FIELDS_ROOM)) ||
        (rc = fw_member_json(c, "endsAt", json_object_get(a, "endsAt"), FIELDS_ROOM)) ||
        (rc = fw_member_str(c, "generatorURL", 12, gen, gen ? strlen(gen) : 0, FIELDS_ROOM)))
        return rc;
    const char *shared[3] = {g->receiver, g->group_key, g->external_url};
    const size_t sharedn[3] = {g->rn, g->gn, g->en};
    static const char *const sharedk[3] = {"receiver", "groupKey", "externalURL"};
    for (int i = 0; i < 3; i++) {
        if (sharedn[i] > SHARED_MAX)
            c->ftrunc = 1;
        else if ((rc = fw_member_str(c, sharedk[i], strlen(sharedk[i]), shared[i], sharedn[i],
                                     FIELDS_ROOM)))
            return rc;
    }
    if ((rc = fw_member_str(c, "status", 6, status, strlen(status), FIELDS_ROOM)))
        return rc;
    if (g->truncated > 0) {
        size_t mark = fw_key(c, "truncatedAlerts", 15);
        buf_printf(&c->fb, "%lld", g->truncated);
        if ((rc = fw_done(c, mark, FIELDS_ROOM)))
            return rc;
    }
    return fw_end(c, e);
}

static int alloc_events(hctx *c, size_t n)
{
    if (!n)
        return 0;
    if (!(c->out->ev = mem_calloc(n, sizeof *c->out->ev)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        event_init(&c->out->ev[i]);
    c->count = n;
    return 0;
}

static int too_many(hctx *c, const char *key, size_t n)
{
    if (key)
        path_key(c, key);
    memcpy(c->out->path, c->path, sizeof c->path);
    snprintf(c->out->err, sizeof c->out->err, "%zu events, at most %d per request", n,
             HOOKS_MAX_EVENTS);
    return -E2BIG;
}

static int am_parse(hctx *c, json_t *root)
{
    am_group g = {0};
    const char *ver, *status;
    json_t *obj;
    int rc, have;
    json_t *v = json_object_get(root, "version");
    if (!v)
        return fail(c, "version", "missing: an Alertmanager webhook has \"version\": \"4\"");
    if ((rc = str_val(c, v, "version", &ver, NULL)))
        return rc;
    if (strcmp(ver, "4") != 0) {
        char sh[48];
        return fail(c, "version", "unsupported version \"%s\" (expected \"4\")",
                    show(sh, ver, strlen(ver)));
    }
    if ((rc = opt_str(c, root, "receiver", &g.receiver, &g.rn)) ||
        (rc = opt_str(c, root, "groupKey", &g.group_key, &g.gn)) ||
        (rc = opt_str(c, root, "externalURL", &g.external_url, &g.en)) ||
        (rc = opt_str(c, root, "status", &status, NULL)) ||
        (rc = opt_int(c, root, "truncatedAlerts", 0, INT64_MAX, &g.truncated, &have)) ||
        (rc = opt_strobj(c, root, "groupLabels", &obj)) ||
        (rc = opt_strobj(c, root, "commonLabels", &obj)) ||
        (rc = opt_strobj(c, root, "commonAnnotations", &obj)))
        return rc;
    if (status && strcmp(status, "firing") && strcmp(status, "resolved"))
        return fail(c, "status", "expected \"firing\" or \"resolved\"");
    json_t *alerts = json_object_get(root, "alerts");
    if (!alerts)
        return fail(c, "alerts", "missing");
    if (!json_is_array(alerts))
        return fail(c, "alerts", "expected an array of alerts, not %s", type_name(alerts));
    size_t n = json_array_size(alerts);
    if (n > HOOKS_MAX_EVENTS)
        return too_many(c, "alerts", n);
    if ((rc = alloc_events(c, n)))
        return rc;
    size_t mark = path_key(c, "alerts");
    for (size_t i = 0; i < n; i++) {
        size_t m2 = path_index(c, i);
        if ((rc = am_alert(c, json_array_get(alerts, i), &g, &c->out->ev[i])))
            return rc;
        path_pop(c, m2);
    }
    path_pop(c, mark);
    return 0;
}

/* ---- generic ---- */

static int generic_obj(hctx *c, json_t *o, event *e)
{
    static const char *const known[] = {"title", "text", "severity", "device", "host",
                                        "app",   "kind", "time",     "tags",   "fields"};
    const char *k, *title, *text, *device, *host, *app, *kind;
    size_t tn, xn, dn, hn, an;
    json_t *v;
    int rc;
    if (!json_object_get(o, "title"))
        return fail(c, "title",
                    "missing: expected a generic event with a title, an "
                    "Alertmanager webhook (version, alerts), an Icinga 2 event (type) or "
                    "Nagios/Icinga macros (HOSTNAME, SERVICESTATE, ...)");
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]))
            i++;
        if (i == sizeof known / sizeof known[0])
            return fail(c, k,
                        "unknown member (a generic event has title, text, severity, "
                        "device, app, kind, time, tags and fields)");
    }
    if ((rc = opt_str(c, o, "title", &title, &tn)) || (rc = opt_str(c, o, "text", &text, &xn)) ||
        (rc = opt_str(c, o, "device", &device, &dn)) || (rc = opt_str(c, o, "host", &host, &hn)) ||
        (rc = opt_str(c, o, "app", &app, &an)) || (rc = opt_str(c, o, "kind", &kind, NULL)))
        return rc;
    if (!title || !tn)
        return fail(c, "title", "expected a non-empty string");
    if (device && host)
        return fail(c, "host", "give device or host, not both");
    if (host)
        device = host, dn = hn;
    e->kind = EVENT_KIND_GENERIC;
    if (kind && !strcmp(kind, EVENT_KIND_CHANGE))
        e->kind = EVENT_KIND_CHANGE;
    else if (kind && strcmp(kind, EVENT_KIND_GENERIC))
        return fail(c, "kind", "expected \"generic\" or \"change\"");
    e->severity = EVENT_INFO;
    if ((v = json_object_get(o, "severity")) && !json_is_null(v)) {
        long long sv;
        char low[16], sh[48];
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            size_t n = json_string_length(v);
            int sev = -1;
            if (n < sizeof low) {
                for (size_t i = 0; i <= n; i++)
                    low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
                sev = memchr(s, '\0', n) ? -1 : event_severity_parse(low);
            }
            if (sev < 0)
                return fail(c, "severity",
                            "unknown severity \"%s\" (expected emergency, alert, "
                            "critical, error, warning, notice, info or debug)",
                            show(sh, s, n));
            e->severity = sev;
        } else if (!int_val(v, &sv) && sv >= 0 && sv <= 7) {
            e->severity = (int)sv;
        } else {
            return fail(c, "severity", "expected a severity name or a number from 0 to 7");
        }
    }
    e->t_ms = c->now_ms;
    if ((v = json_object_get(o, "time")) && !json_is_null(v) &&
        (rc = time_val(c, v, "time", &e->t_ms)))
        return rc;
    json_t *tags = json_object_get(o, "tags"), *fields = json_object_get(o, "fields");
    if (json_is_null(tags))
        tags = NULL;
    if (json_is_null(fields))
        fields = NULL;
    if (tags && !json_is_array(tags) && !json_is_object(tags))
        return fail(c, "tags", "expected an array of strings or an object, not %s",
                    type_name(tags));
    if (tags) {
        size_t mark = path_key(c, "tags"), i;
        json_t *t;
        if (json_is_array(tags)) {
            json_array_foreach(tags, i, t)
            {
                if (!json_is_string(t)) {
                    path_index(c, i);
                    return fail(c, NULL, "expected a string, not %s", type_name(t));
                }
            }
        } else {
            json_object_foreach(tags, k, t)
            {
                if (json_is_object(t) || json_is_array(t))
                    return fail(c, k, "expected a string, number, boolean or null");
            }
        }
        path_pop(c, mark);
    }
    if (fields && !json_is_object(fields))
        return fail(c, "fields", "expected an object, not %s", type_name(fields));
    if (json_object_get(fields, "tags") || json_object_get(fields, "truncated")) {
        path_key(c, "fields");
        return fail(c, json_object_get(fields, "tags") ? "tags" : "truncated",
                    "reserved name (give tags at the top level)");
    }
    if (!(e->title = keep(c, title, tn)) || (text && !(e->text = keep(c, text, xn))) ||
        (device && !(e->host = keep(c, device, dn))) || (app && !(e->app = keep(c, app, an))))
        return -ENOMEM;
    fw_begin(c);
    if ((rc = fw_member_json(c, "tags", tags, FIELDS_ROOM)))
        return rc;
    json_object_foreach(fields, k, v)
    {
        if ((rc = fw_member_json(c, k, v, FIELDS_ROOM)))
            return rc;
    }
    return fw_end(c, e);
}

/* ---- detection and entry ---- */

static hooks_format detect_obj(json_t *o)
{
    if (json_object_get(o, "alerts") && json_object_get(o, "version"))
        return HOOKS_ALERTMANAGER;
    if (itype_of(o) >= 0)
        return HOOKS_ICINGA2;
    mdetect d = {0};
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) mdetect_add(&d, k);
    hooks_format f = mdetect_result(&d, 0, json_object_get(o, "title") != NULL);
    return f ? f : HOOKS_GENERIC;
}

static int parse_one(hctx *c, hooks_format f, json_t *o, event *e)
{
    if (f == HOOKS_ICINGA2) {
        int t = itype_of(o);
        return t >= 0 ? icinga_event(c, o, t, e) : macros_json(c, o, f, e);
    }
    if (f == HOOKS_NAGIOS)
        return macros_json(c, o, f, e);
    return generic_obj(c, o, e);
}

static int parse_json(hctx *c, json_t *root, hooks_format fmt)
{
    int rc;
    if (json_is_object(root)) {
        hooks_format f = fmt ? fmt : detect_obj(root);
        c->out->format = f;
        if (f == HOOKS_ALERTMANAGER)
            return am_parse(c, root);
        if (!fmt && !json_object_get(root, "title") && json_object_get(root, "alerts"))
            return fail(c, "version", "missing: an Alertmanager webhook has \"version\": \"4\"");
        if ((rc = alloc_events(c, 1)))
            return rc;
        return parse_one(c, f, root, &c->out->ev[0]);
    }
    if (!json_is_array(root))
        return fail(c, NULL, "expected a JSON object or array, not %s", type_name(root));
    size_t n = json_array_size(root);
    if (n > HOOKS_MAX_EVENTS)
        return too_many(c, NULL, n);
    json_t *first = json_array_get(root, 0);
    hooks_format f = fmt ? fmt : json_is_object(first) ? detect_obj(first) : HOOKS_GENERIC;
    c->out->format = f;
    if (f == HOOKS_ALERTMANAGER)
        return fail(c, NULL, "expected one Alertmanager webhook object, not an array");
    if ((rc = alloc_events(c, n)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(root, i);
        size_t mark = path_index(c, i);
        if (!json_is_object(o))
            return fail(c, NULL, "expected an object, not %s", type_name(o));
        if ((rc = parse_one(c, f, o, &c->out->ev[i])))
            return rc;
        path_pop(c, mark);
    }
    return 0;
}

__attribute__((format(printf, 2, 3))) static int bad_body(hctx *c, const char *fmt, ...)
{
    char msg[HOOKS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    put_clean(c->out->err, sizeof c->out->err, &len, msg, strlen(msg));
    return -EINVAL;
}

static int parse_form(hctx *c, const char *p, size_t n, hooks_format fmt)
{
    http_form f;
    mitem *it = NULL;
    http_form_init(&f);
    int rc = http_form_parse(&f, p, n);
    if (rc == -EINVAL) {
        rc = bad_body(c, "invalid form encoding (a bad %%-escape or a NUL byte)");
        goto out;
    }
    if (rc == -E2BIG) {
        snprintf(c->out->err, sizeof c->out->err, "more than %d form fields", FORM_MAX_PARAMS);
        goto out;
    }
    if (rc)
        goto out;
    if (!(it = mem_calloc(f.n ? f.n : 1, sizeof *it))) {
        rc = -ENOMEM;
        goto out;
    }
    mdetect d = {0};
    for (size_t i = 0; i < f.n; i++) {
        if (!(it[i].key = repaired(c, f.v[i].key))) {
            rc = -ENOMEM;
            goto out;
        }
        it[i].val = f.v[i].value;
        it[i].vlen = strlen(f.v[i].value);
        mdetect_add(&d, it[i].key);
    }
    c->out->format = fmt ? fmt : mdetect_result(&d, 1, 0);
    if (fmt == HOOKS_ALERTMANAGER || fmt == HOOKS_GENERIC) {
        rc = fail(c, NULL, "%s payloads are JSON; a form holds Nagios or Icinga macros",
                  hooks_format_name(fmt));
    } else if (!c->out->format) {
        rc = fail(c, NULL,
                  "expected Nagios or Icinga macros (HOSTNAME, SERVICEDESC, "
                  "SERVICESTATE, NOTIFICATIONTYPE, ...) or host, service, state, output");
    } else if (!(rc = alloc_events(c, 1))) {
        rc = macros_parse(c, it, f.n, c->out->format, &c->out->ev[0]);
    }
out:
    mem_free(it);
    http_form_free(&f);
    return rc;
}

enum { CT_OTHER, CT_JSON, CT_FORM };

static int ctype_kind(const char *ct)
{
    if (!ct)
        return CT_OTHER;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if ((n == 16 && !strncasecmp(ct, "application/json", n)) ||
        (n == 9 && !strncasecmp(ct, "text/json", n)) ||
        (n > 5 && !strncasecmp(ct + n - 5, "+json", 5)))
        return CT_JSON;
    if (n == 33 && !strncasecmp(ct, "application/x-www-form-urlencoded", n))
        return CT_FORM;
    return CT_OTHER;
}

/* Whether every '&'-separated part has a key and an '=' (a form, not plain text). */
static int looks_like_form(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && p[end] != '&')
            end++;
        const char *eq = memchr(p + i, '=', end - i);
        if (end > i && (!eq || eq == p + i))
            return 0;
        i = end + 1;
    }
    return 1;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int hooks_parse(const char *content_type, const char *body, size_t len, int64_t now_ms,
                hooks_format fmt, hooks_result *out)
{
    hctx c;
    memset(out, 0, sizeof *out);
    memset(&c, 0, sizeof c);
    c.out = out;
    c.now_ms = now_ms;
    buf_init(&c.fb, EVENT_FIELDS_MAX);
    buf_init(&c.sb, 0);
    const char *p = body ? body : "";
    size_t n = body ? len : 0;
    int rc;
    if ((unsigned)fmt >= HOOKS_FORMAT_N) {
        rc = bad_body(&c, "unknown format %d", (int)fmt);
        goto out;
    }
    out->format = fmt;
    if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        p += 3, n -= 3;
    while (n && is_space(*p))
        p++, n--;
    while (n && is_space(p[n - 1]))
        n--;
    if (!n) {
        rc = bad_body(&c, "empty body");
        goto out;
    }
    int kind = ctype_kind(content_type);
    if (kind == CT_JSON || *p == '{' || *p == '[') {
        json_error_t je;
        json_t *root =
            json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!root) {
            /* jansson leaves the text empty when its very first allocation fails. */
            rc = json_error_code(&je) == json_error_out_of_memory || !je.text[0]
                     ? -ENOMEM
                     : bad_body(&c, "invalid JSON at line %d column %d: %s", je.line, je.column,
                                je.text);
            goto out;
        }
        if (!(rc = no_nul(&c, root)))
            rc = parse_json(&c, root, fmt);
        json_decref(root);
    } else if (kind == CT_FORM || looks_like_form(p, n)) {
        rc = parse_form(&c, p, n, fmt);
    } else {
        rc = bad_body(&c, "neither JSON nor form fields");
    }
out:
    buf_free(&c.fb);
    buf_free(&c.sb);
    if (rc) {
        char path[HOOKS_PATH_MAX], err[HOOKS_ERR_MAX];
        hooks_format f = out->format;
        memcpy(path, out->path, sizeof path);
        memcpy(err, out->err, sizeof err);
        hooks_result_free(out);
        memcpy(out->path, path, sizeof path);
        memcpy(out->err, err, sizeof err);
        out->format = f;
        if (rc == -ENOMEM && !out->err[0])
            snprintf(out->err, sizeof out->err, "out of memory");
    } else {
        out->n = c.count;
    }
    return rc;
}

void hooks_result_free(hooks_result *r)
{
    if (!r)
        return;
    for (struct hooks_chunk *k = r->chunks_, *next; k; k = next) {
        next = k->next;
        mem_free(k);
    }
    mem_free(r->ev);
    memset(r, 0, sizeof *r);
}

static const char *const format_names[HOOKS_FORMAT_N] = {"auto", "alertmanager", "icinga2",
                                                         "nagios", "generic"};

const char *hooks_format_name(hooks_format f)
{
    return (unsigned)f < HOOKS_FORMAT_N ? format_names[f] : "auto";
}

int hooks_format_parse(const char *name)
{
    if (!name || !*name)
        return HOOKS_AUTO;
    for (int i = 0; i < HOOKS_FORMAT_N; i++)
        if (strcmp(name, format_names[i]) == 0)
            return i;
    return -1;
}
