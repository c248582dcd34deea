/* model: the one declaration of every catalog model, and /api/v1/schema.
 *
 * To add a model: declare its fields and add it to `models` below, after every model it
 * references, with `since` = the next schema version. To add a field to an existing model:
 * append it with `.since` = the next schema version; store.c turns that into an
 * ALTER TABLE migration. Never change or remove a released version's declarations. */
#include "model.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- enum values */

static const char *const roles_user[] = {"viewer", "editor", "admin", NULL};
static const char *const roles_token[] = {"viewer", "editor", "admin", "agent", "enroll", NULL};
static const char *const device_kinds[] = {
    "server", "vm", "container", "container-host", "cloud-instance", "switch", "router",
    "firewall", "access-point", "storage", "printer", "ups", "sensor", "other", NULL};
static const char *const endpoint_protocols[] = {"tcp", "udp", "http", "https", "icmp", "dns",
                                                 "snmp", "ssh", "other", NULL};
static const char *const probe_types[] = {"icmp",   "tcp",   "http",   "dns", "snmp",
                                          "scrape", "munin", "nagios", NULL};
static const char *const sensor_types[] = {"syslog", "webhook", "snmp-trap", "usage-events",
                                           NULL};
static const char *const collector_types[] = {"remote_write", "webhook", "email", NULL};
static const char *const http_methods[] = {"GET", "HEAD", "POST", "PUT", "OPTIONS", NULL};
static const char *const push_methods[] = {"POST", "PUT", NULL};
static const char *const dns_types[] = {"A",   "AAAA", "CNAME", "MX",  "NS",
                                        "TXT", "SRV",  "PTR",   "SOA", NULL};
static const char *const udp_tcp[] = {"udp", "tcp", NULL};
static const char *const snmp_versions[] = {"1", "2c", "3", NULL};
static const char *const snmp_auth[] = {"none", "MD5", "SHA", "SHA-256", "SHA-512", NULL};
static const char *const snmp_priv[] = {"none", "DES", "AES", NULL};
static const char *const http_schemes[] = {"http", "https", NULL};
static const char *const syslog_formats[] = {"auto", "rfc3164", "rfc5424", NULL};
static const char *const severities[] = {"info", "warning", "critical", NULL};
static const char *const ticket_states[] = {"open", "acknowledged", "resolved", NULL};
static const char *const ip_protocols[] = {"auto", "ipv4", "ipv6", NULL};

/* ---------------------------------------------------------------- field shorthands */

#define REQ CAT_F_REQUIRED
#define UNIQ CAT_F_UNIQUE
#define RO CAT_F_READONLY
#define LIST CAT_F_LIST
#define IDX CAT_F_INDEX
#define MINMAX (CAT_F_MIN | CAT_F_MAX)

/* ---------------------------------------------------------------- group, user */

static const cat_field group_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name",
     .help = "Group name, e.g. a team or a customer"},
    {.name = "description", .type = CAT_TEXT, .title = "Description"},
};

static const cat_field user_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST | MINMAX, .title = "User name",
     .help = "Login name: letters, digits, . _ - @", .rule = CAT_RULE_IDENT, .lo = 1, .hi = 64},
    {.name = "display_name", .type = CAT_STRING, .flags = LIST, .title = "Display name"},
    {.name = "email", .type = CAT_STRING, .flags = LIST, .title = "E-mail", .rule = CAT_RULE_EMAIL},
    {.name = "role", .type = CAT_ENUM, .flags = REQ | LIST, .title = "Role",
     .help = "viewer reads; editor also changes devices, endpoints, probes, sensors and "
             "schedules; admin does everything",
     .values = roles_user, .dflt = "\"viewer\""},
    {.name = "groups", .type = CAT_REFS, .title = "Groups", .ref = "group",
     .on_delete = CAT_CASCADE,
     .help = "A member of any group sees only the devices shared with its groups"},
    {.name = "password", .type = CAT_PASSWORD, .flags = REQ | MINMAX, .title = "Password",
     .help = "At least 10 characters; stored as an argon2id hash", .lo = 10, .hi = 200},
    {.name = "disabled", .type = CAT_BOOL, .flags = LIST, .title = "Disabled",
     .dflt = "false", .help = "A disabled user cannot log in; its sessions end"},
};

/* ---------------------------------------------------------------- device, endpoint, agent */

static const cat_field device_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name",
     .help = "Unique name; also the instance label of its metrics by default"},
    {.name = "kind", .type = CAT_ENUM, .flags = REQ | LIST | IDX, .title = "Kind",
     .values = device_kinds, .dflt = "\"server\""},
    {.name = "hostname", .type = CAT_STRING, .flags = LIST | IDX, .title = "Host name",
     .rule = CAT_RULE_HOSTNAME},
    {.name = "machine_id", .type = CAT_STRING, .flags = IDX, .title = "Machine ID",
     .help = "/etc/machine-id or the DMI UUID; links agents and VMs to this record"},
    {.name = "tags", .type = CAT_TAGS, .flags = LIST, .title = "Tags"},
    {.name = "location", .type = CAT_STRING, .flags = LIST, .title = "Location",
     .help = "Site, room, rack"},
    {.name = "owner", .type = CAT_STRING, .title = "Owner", .help = "Person or team responsible"},
    {.name = "notes", .type = CAT_TEXT, .title = "Notes"},
    {.name = "parent", .type = CAT_REF, .title = "Parent", .ref = "device",
     .on_delete = CAT_SET_NULL, .help = "The host of a VM or container"},
    {.name = "groups", .type = CAT_REFS, .title = "Visible to groups", .ref = "group",
     .on_delete = CAT_CASCADE},
    {.name = "archived", .type = CAT_BOOL, .title = "Archived", .dflt = "false"},
    /* Schema version 2: containers and VMs reported by agents become child devices. */
    {.name = "dmi_uuid", .type = CAT_STRING, .flags = IDX, .title = "DMI UUID",
     .help = "The hardware UUID; for a VM the hypervisor's domain UUID", .since = 2},
    {.name = "last_seen", .type = CAT_TIME, .flags = LIST | RO, .title = "Last seen",
     .help = "When an agent last reported this container or VM", .since = 2},
};

static const cat_field endpoint_fields[] = {
    {.name = "device", .type = CAT_REF, .flags = REQ | LIST, .title = "Device", .ref = "device",
     .on_delete = CAT_RESTRICT},
    {.name = "name", .type = CAT_STRING, .flags = LIST, .title = "Name",
     .help = "Optional label, e.g. \"management\" or \"public web\""},
    {.name = "address", .type = CAT_STRING, .flags = REQ | LIST | IDX, .title = "Address",
     .rule = CAT_RULE_ADDRESS, .help = "IP address or host name"},
    {.name = "port", .type = CAT_INT, .flags = LIST | MINMAX, .title = "Port", .lo = 1,
     .hi = 65535},
    {.name = "protocol", .type = CAT_ENUM, .flags = REQ | LIST, .title = "Protocol",
     .values = endpoint_protocols, .dflt = "\"tcp\""},
    {.name = "url", .type = CAT_STRING, .title = "URL", .rule = CAT_RULE_URL,
     .help = "For web endpoints: the full URL"},
};

static const cat_field agent_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name"},
    {.name = "hostname", .type = CAT_STRING, .flags = LIST | IDX, .title = "Host name",
     .rule = CAT_RULE_HOSTNAME},
    {.name = "machine_id", .type = CAT_STRING, .flags = IDX, .title = "Machine ID"},
    {.name = "agent_version", .type = CAT_STRING, .flags = LIST | RO, .title = "Version"},
    {.name = "device", .type = CAT_REF, .flags = LIST, .title = "Device", .ref = "device",
     .on_delete = CAT_SET_NULL},
    {.name = "last_seen", .type = CAT_TIME, .flags = LIST | RO, .title = "Last seen"},
    {.name = "enrolled_at", .type = CAT_TIME, .flags = RO, .title = "Enrolled"},
};

/* ---------------------------------------------------------------- probe and its settings */

static const cat_field probe_icmp[] = {
    {.name = "count", .type = CAT_INT, .flags = MINMAX, .title = "Packets per check", .lo = 1,
     .hi = 100, .dflt = "3"},
    {.name = "size", .type = CAT_INT, .flags = MINMAX, .title = "Payload bytes", .lo = 0,
     .hi = 65500, .dflt = "56"},
    {.name = "ip_protocol", .type = CAT_ENUM, .title = "IP version", .values = ip_protocols,
     .dflt = "\"auto\"", .help = "auto: IPv4 if the name has an IPv4 address, else IPv6"},
};
static const cat_field probe_tcp[] = {
    {.name = "send", .type = CAT_STRING, .title = "Send", .help = "Bytes to send after connecting"},
    {.name = "expect", .type = CAT_STRING, .title = "Expect",
     .rule = CAT_RULE_IS_REGEX, .help = "Regular expression the answer must match"},
    {.name = "tls", .type = CAT_BOOL, .title = "TLS", .dflt = "false"},
    {.name = "tls_verify", .type = CAT_BOOL, .title = "Verify TLS certificate", .dflt = "true"},
    {.name = "ip_protocol", .type = CAT_ENUM, .title = "IP version", .values = ip_protocols,
     .dflt = "\"auto\""},
};
static const cat_field probe_http[] = {
    {.name = "url", .type = CAT_STRING, .flags = REQ, .title = "URL", .rule = CAT_RULE_URL},
    {.name = "method", .type = CAT_ENUM, .title = "Method", .values = http_methods,
     .dflt = "\"GET\""},
    {.name = "expect_status", .type = CAT_INT, .flags = MINMAX, .title = "Expected status",
     .lo = 100, .hi = 599, .dflt = "200"},
    {.name = "body_regex", .type = CAT_STRING, .title = "Body must match",
     .rule = CAT_RULE_IS_REGEX},
    {.name = "follow_redirects", .type = CAT_BOOL, .title = "Follow redirects", .dflt = "true"},
    {.name = "tls_verify", .type = CAT_BOOL, .title = "Verify TLS certificate", .dflt = "true"},
    {.name = "body", .type = CAT_TEXT, .title = "Request body"},
    {.name = "expect_status_codes", .type = CAT_TAGS, .title = "Also accept status",
     .rule = CAT_RULE_REGEX, .pattern = "[1-5]([0-9]{2}|xx)",
     .help = "More accepted codes or classes, e.g. 204, 3xx"},
    {.name = "headers", .type = CAT_TAGS, .title = "Request headers",
     .rule = CAT_RULE_REGEX, .pattern = "[!#$%&'*+.^_`|~0-9A-Za-z-]+: ?[^\\r\\n]*",
     .help = "Name: value"},
    {.name = "auth_user", .type = CAT_STRING, .title = "Basic auth user"},
    {.name = "auth_password", .type = CAT_STRING, .title = "Basic auth password",
     .widget = "password"},
    {.name = "bearer_token", .type = CAT_STRING, .title = "Bearer token", .widget = "password"},
    {.name = "json_field", .type = CAT_STRING, .title = "JSON field must equal",
     .rule = CAT_RULE_REGEX, .pattern = "[^=]+=.*",
     .help = "path=value, e.g. status=ok or data.0.state=up"},
    {.name = "ip_protocol", .type = CAT_ENUM, .title = "IP version", .values = ip_protocols,
     .dflt = "\"auto\""},
};
static const cat_field probe_dns[] = {
    {.name = "query_name", .type = CAT_STRING, .flags = REQ, .title = "Name to resolve",
     .rule = CAT_RULE_HOSTNAME},
    {.name = "record_type", .type = CAT_ENUM, .title = "Record type", .values = dns_types,
     .dflt = "\"A\""},
    {.name = "expect", .type = CAT_STRING, .title = "Expected answer",
     .rule = CAT_RULE_IS_REGEX},
    {.name = "transport", .type = CAT_ENUM, .title = "Transport", .values = udp_tcp,
     .dflt = "\"udp\""},
    {.name = "valid_rcodes", .type = CAT_TAGS, .title = "Accepted response codes",
     .rule = CAT_RULE_REGEX, .pattern = "NOERROR|FORMERR|SERVFAIL|NXDOMAIN|NOTIMP|REFUSED",
     .help = "Empty: NOERROR"},
};
static const cat_field probe_snmp[] = {
    {.name = "version", .type = CAT_ENUM, .title = "SNMP version", .values = snmp_versions,
     .dflt = "\"2c\""},
    {.name = "community", .type = CAT_STRING, .title = "Community (v1/v2c)", .dflt = "\"public\""},
    {.name = "oids", .type = CAT_TAGS, .title = "More OIDs or subtrees",
     .rule = CAT_RULE_REGEX, .pattern = "\\.?[0-9]+(\\.[0-9]+)*"},
    {.name = "user", .type = CAT_STRING, .title = "User (v3)"},
    {.name = "auth_protocol", .type = CAT_ENUM, .title = "Auth protocol (v3)",
     .values = snmp_auth, .dflt = "\"none\""},
    {.name = "auth_password", .type = CAT_STRING, .title = "Auth password (v3)",
     .widget = "password"},
    {.name = "priv_protocol", .type = CAT_ENUM, .title = "Privacy protocol (v3)",
     .values = snmp_priv, .dflt = "\"none\""},
    {.name = "priv_password", .type = CAT_STRING, .title = "Privacy password (v3)",
     .widget = "password"},
    {.name = "interfaces", .type = CAT_BOOL, .title = "Interface counters (IF-MIB)",
     .dflt = "true", .help = "Walk ifTable/ifXTable with ifName and ifAlias labels"},
};
static const cat_field probe_scrape[] = {
    {.name = "path", .type = CAT_STRING, .title = "Path", .rule = CAT_RULE_REGEX,
     .pattern = "/[^\\s]*", .dflt = "\"/metrics\""},
    {.name = "scheme", .type = CAT_ENUM, .title = "Scheme", .values = http_schemes,
     .dflt = "\"http\""},
    {.name = "honor_labels", .type = CAT_BOOL, .title = "Honor labels", .dflt = "false"},
    {.name = "metrics", .type = CAT_TAGS, .title = "Keep only metrics matching",
     .rule = CAT_RULE_IS_REGEX},
    {.name = "sample_limit", .type = CAT_INT, .flags = MINMAX, .title = "Sample limit",
     .lo = 0, .hi = 1000000, .dflt = "100000",
     .help = "A scrape with more samples fails (0: no limit)"},
    {.name = "tls_verify", .type = CAT_BOOL, .title = "Verify TLS certificate", .dflt = "true"},
};
static const cat_field probe_munin[] = {
    {.name = "plugins", .type = CAT_TAGS, .title = "Plugins (empty: all)",
     .rule = CAT_RULE_IDENT},
};
static const cat_field probe_nagios[] = {
    {.name = "command", .type = CAT_STRING, .flags = REQ, .title = "Plugin path",
     .rule = CAT_RULE_REGEX, .pattern = "/[^\\s]+",
     .help = "Absolute path, e.g. /usr/lib/nagios/plugins/check_disk"},
    {.name = "args", .type = CAT_TAGS, .title = "Arguments",
     .help = "One per entry; $HOSTADDRESS$, $HOSTNAME$ and $PORT$ become the endpoint's"},
};
#define CASE(v, f) {v, f, N(f)}
static const cat_variant probe_cases[] = {
    CASE("icmp", probe_icmp),     CASE("tcp", probe_tcp),       CASE("http", probe_http),
    CASE("dns", probe_dns),       CASE("snmp", probe_snmp),     CASE("scrape", probe_scrape),
    CASE("munin", probe_munin),   CASE("nagios", probe_nagios),
};
static const cat_variants probe_variants = {"type", probe_cases, N(probe_cases)};

static const cat_field probe_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | LIST, .title = "Name"},
    {.name = "endpoint", .type = CAT_REF, .flags = REQ | LIST, .title = "Endpoint",
     .ref = "endpoint", .on_delete = CAT_RESTRICT},
    {.name = "type", .type = CAT_ENUM, .flags = REQ | LIST | IDX, .title = "Type",
     .values = probe_types},
    {.name = "settings", .type = CAT_OBJECT, .title = "Settings", .variants = &probe_variants},
    {.name = "enabled", .type = CAT_BOOL, .flags = LIST, .title = "Enabled", .dflt = "true"},
};

/* ---------------------------------------------------------------- sensor */

static const cat_field sensor_syslog[] = {
    {.name = "listen", .type = CAT_STRING, .flags = REQ, .title = "Listen on",
     .rule = CAT_RULE_HOSTPORT, .dflt = "\"0.0.0.0:514\""},
    {.name = "transport", .type = CAT_ENUM, .title = "Transport", .values = udp_tcp,
     .dflt = "\"udp\""},
    {.name = "format", .type = CAT_ENUM, .title = "Format", .values = syslog_formats,
     .dflt = "\"auto\"",
     .help = "Not used yet: the server detects RFC 5424 and RFC 3164 per message whatever this "
             "says"},
};
static const cat_field sensor_webhook[] = {
    {.name = "path", .type = CAT_STRING, .flags = REQ, .title = "Path suffix",
     .rule = CAT_RULE_IDENT,
     .help = "Events are posted to /api/v1/sensor/<id>/webhook or /api/v1/hooks/<path>"},
    {.name = "secret", .type = CAT_STRING, .title = "Shared secret", .widget = "password",
     .help = "Callers send it as a bearer token; without one only editor or admin tokens may "
             "post"},
};
static const cat_field sensor_trap[] = {
    {.name = "listen", .type = CAT_STRING, .flags = REQ, .title = "Listen on",
     .rule = CAT_RULE_HOSTPORT, .dflt = "\"0.0.0.0:162\""},
    {.name = "community", .type = CAT_STRING, .title = "Community", .dflt = "\"public\""},
};
static const cat_field sensor_usage[] = {
    {.name = "listen_udp", .type = CAT_STRING, .title = "UDP listen address",
     .rule = CAT_RULE_HOSTPORT, .help = "Also accept events over UDP (HTTP is always on)"},
    {.name = "secret", .type = CAT_STRING, .title = "Shared secret", .widget = "password",
     .help = "Senders to POST /api/v1/usage send it as a bearer token"},
};
static const cat_variant sensor_cases[] = {
    CASE("syslog", sensor_syslog),
    CASE("webhook", sensor_webhook),
    CASE("snmp-trap", sensor_trap),
    CASE("usage-events", sensor_usage),
};
static const cat_variants sensor_variants = {"type", sensor_cases, N(sensor_cases)};

static const cat_field sensor_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name"},
    {.name = "type", .type = CAT_ENUM, .flags = REQ | LIST, .title = "Type",
     .values = sensor_types},
    {.name = "agent", .type = CAT_REF, .flags = LIST, .title = "Runs on agent", .ref = "agent",
     .on_delete = CAT_SET_NULL, .help = "Empty: the server listens"},
    {.name = "settings", .type = CAT_OBJECT, .title = "Settings", .variants = &sensor_variants},
    {.name = "enabled", .type = CAT_BOOL, .flags = LIST, .title = "Enabled", .dflt = "true"},
};

/* ---------------------------------------------------------------- telemetry */

/* Checks see durations and times as integer milliseconds (the stored form). */
static int64_t ms_of(const json_t *o, const char *k, int *have)
{
    json_t *v = json_object_get(o, k);
    *have = json_is_integer(v);
    return *have ? (int64_t)json_integer_value(v) : 0;
}

static void telemetry_check(const json_t *o, json_t *errors)
{
    int hi, ht, hj;
    int64_t iv = ms_of(o, "interval", &hi), to = ms_of(o, "timeout", &ht);
    int64_t ji = ms_of(o, "jitter", &hj);
    if (hi && ht && to > iv)
        json_object_set_new(errors, "timeout", json_string("must not exceed the interval"));
    if (hi && hj && ji >= iv)
        json_object_set_new(errors, "jitter", json_string("must be less than the interval"));
}

static const cat_field telemetry_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = LIST, .title = "Name"},
    {.name = "probe", .type = CAT_REF, .flags = REQ | LIST, .title = "Probe", .ref = "probe",
     .on_delete = CAT_CASCADE},
    {.name = "agents", .type = CAT_REFS, .flags = LIST, .title = "Vantage points",
     .ref = "agent", .on_delete = CAT_CASCADE,
     .help = "Agents that run the probe; none: the server runs it"},
    {.name = "interval", .type = CAT_DURATION, .flags = REQ | LIST | MINMAX, .title = "Interval",
     .lo = 1000, .hi = 86400000, .dflt = "\"30s\""},
    {.name = "timeout", .type = CAT_DURATION, .flags = REQ | MINMAX, .title = "Timeout",
     .lo = 100, .hi = 3600000, .dflt = "\"10s\""},
    {.name = "jitter", .type = CAT_DURATION, .flags = MINMAX, .title = "Jitter", .lo = 0,
     .hi = 3600000, .dflt = "\"0s\"", .help = "Random delay spreading checks of many agents"},
    {.name = "enabled", .type = CAT_BOOL, .flags = LIST, .title = "Enabled", .dflt = "true"},
};

/* ---------------------------------------------------------------- collector */

static const cat_field coll_rw[] = {
    {.name = "url", .type = CAT_STRING, .flags = REQ, .title = "Remote-write URL",
     .rule = CAT_RULE_URL},
    {.name = "bearer_token", .type = CAT_STRING, .title = "Bearer token"},
    {.name = "basic_user", .type = CAT_STRING, .title = "Basic auth user"},
    {.name = "basic_password", .type = CAT_STRING, .title = "Basic auth password"},
    {.name = "match", .type = CAT_STRING, .title = "Series selector",
     .help = "Only series matching this PromQL selector, e.g. {job=\"node\"}"},
};
static const cat_field coll_webhook[] = {
    {.name = "url", .type = CAT_STRING, .flags = REQ, .title = "URL", .rule = CAT_RULE_URL},
    {.name = "method", .type = CAT_ENUM, .title = "Method", .values = push_methods,
     .dflt = "\"POST\""},
    {.name = "secret", .type = CAT_STRING, .title = "HMAC secret"},
};
static const cat_field coll_email[] = {
    {.name = "to", .type = CAT_TAGS, .flags = REQ, .title = "Recipients",
     .rule = CAT_RULE_EMAIL},
    {.name = "from", .type = CAT_STRING, .flags = REQ, .title = "Sender",
     .rule = CAT_RULE_EMAIL},
    {.name = "smtp_url", .type = CAT_STRING, .flags = REQ, .title = "SMTP server",
     .rule = CAT_RULE_REGEX, .pattern = "smtps?://[^\\s/]+(:[0-9]{1,5})?/?",
     .help = "smtp://host:25 or smtps://host:465"},
    {.name = "user", .type = CAT_STRING, .title = "SMTP user"},
    {.name = "password", .type = CAT_STRING, .title = "SMTP password"},
};
static const cat_variant coll_cases[] = {
    CASE("remote_write", coll_rw),
    CASE("webhook", coll_webhook),
    CASE("email", coll_email),
};
static const cat_variants coll_variants = {"type", coll_cases, N(coll_cases)};

static const cat_field collector_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name"},
    {.name = "type", .type = CAT_ENUM, .flags = REQ | LIST, .title = "Type",
     .values = collector_types},
    {.name = "settings", .type = CAT_OBJECT, .title = "Settings", .variants = &coll_variants},
    {.name = "enabled", .type = CAT_BOOL, .flags = LIST, .title = "Enabled", .dflt = "true"},
};

/* ---------------------------------------------------------------- token */

static const cat_field token_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | LIST, .title = "Name",
     .help = "What the token is for, e.g. \"grafana\" or \"enroll rack 3\""},
    {.name = "role", .type = CAT_ENUM, .flags = REQ | LIST, .title = "Role",
     .values = roles_token,
     .help = "agent: write samples and inventory; enroll: only enroll new agents"},
    {.name = "user", .type = CAT_REF, .flags = LIST, .title = "User", .ref = "user",
     .on_delete = CAT_CASCADE, .help = "Acts as this user (audit log, group visibility)"},
    {.name = "agent", .type = CAT_REF, .title = "Agent", .ref = "agent",
     .on_delete = CAT_CASCADE},
    {.name = "expires_at", .type = CAT_TIME, .flags = LIST, .title = "Expires"},
    {.name = "revoked", .type = CAT_BOOL, .flags = LIST, .title = "Revoked", .dflt = "false"},
    {.name = "last_used_at", .type = CAT_TIME, .flags = LIST | RO, .title = "Last used"},
    {.name = "prefix", .type = CAT_STRING, .flags = RO | LIST, .title = "Starts with"},
    {.name = "hash", .type = CAT_STRING, .flags = CAT_F_HIDDEN | CAT_F_SECRET | UNIQ},
};

/* ---------------------------------------------------------------- placeholders */

static const cat_field dashboard_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name"},
    {.name = "description", .type = CAT_TEXT, .title = "Description"},
    {.name = "spec", .type = CAT_OBJECT, .title = "Layout", .help = "Panels and queries"},
};
static const cat_field rule_fields[] = {
    {.name = "name", .type = CAT_STRING, .flags = REQ | UNIQ | LIST, .title = "Name"},
    {.name = "expr", .type = CAT_TEXT, .flags = REQ, .title = "PromQL expression"},
    {.name = "for", .type = CAT_DURATION, .flags = LIST | MINMAX, .title = "For", .lo = 0,
     .hi = 31536000000.0, .dflt = "\"0s\""},
    {.name = "severity", .type = CAT_ENUM, .flags = LIST, .title = "Severity",
     .values = severities, .dflt = "\"warning\""},
    {.name = "labels", .type = CAT_OBJECT, .title = "Labels"},
    {.name = "annotations", .type = CAT_OBJECT, .title = "Annotations"},
    {.name = "enabled", .type = CAT_BOOL, .flags = LIST, .title = "Enabled", .dflt = "true"},
};
static const cat_field ticket_fields[] = {
    {.name = "title", .type = CAT_STRING, .flags = REQ | LIST, .title = "Title"},
    {.name = "status", .type = CAT_ENUM, .flags = REQ | LIST | IDX, .title = "Status",
     .values = ticket_states, .dflt = "\"open\""},
    {.name = "severity", .type = CAT_ENUM, .flags = LIST, .title = "Severity",
     .values = severities, .dflt = "\"warning\""},
    {.name = "device", .type = CAT_REF, .flags = LIST, .title = "Device", .ref = "device",
     .on_delete = CAT_SET_NULL},
    {.name = "rule", .type = CAT_REF, .title = "Rule", .ref = "rule", .on_delete = CAT_SET_NULL},
    {.name = "assignee", .type = CAT_REF, .flags = LIST, .title = "Assignee", .ref = "user",
     .on_delete = CAT_SET_NULL},
    {.name = "notes", .type = CAT_TEXT, .title = "Notes"},
};
static const cat_field silence_fields[] = {
    {.name = "matchers", .type = CAT_STRING, .flags = REQ | LIST, .title = "Matchers",
     .help = "A PromQL selector, e.g. {instance=\"web-1\"}"},
    {.name = "starts_at", .type = CAT_TIME, .flags = REQ | LIST, .title = "Starts"},
    {.name = "ends_at", .type = CAT_TIME, .flags = REQ | LIST, .title = "Ends"},
    {.name = "comment", .type = CAT_TEXT, .title = "Comment"},
};

static void silence_check(const json_t *o, json_t *errors)
{
    int hs, he;
    int64_t st = ms_of(o, "starts_at", &hs), en = ms_of(o, "ends_at", &he);
    if (hs && he && en <= st)
        json_object_set_new(errors, "ends_at", json_string("must be after the start"));
}

/* ---------------------------------------------------------------- the table */

#define FIELDS(f) f, N(f)
static const cat_model models[] = {
    {"group", "Group", "Groups", "Users in a group see the devices shared with it", "name",
     FIELDS(group_fields), CAT_ROLE_VIEWER, CAT_ROLE_ADMIN, 1, NULL, NULL},
    {"user", "User", "Users", "People who log in", "name", FIELDS(user_fields), CAT_ROLE_ADMIN,
     CAT_ROLE_ADMIN, 1, NULL, NULL},
    {"device", "Device", "Devices",
     "A monitored entity: server, VM, container host, cloud instance, switch, printer...",
     "name", FIELDS(device_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, "groups", NULL},
    {"endpoint", "Endpoint", "Endpoints", "A network connection point of a device", "address",
     FIELDS(endpoint_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, "device", NULL},
    {"agent", "Agent", "Agents", "A running dashdot agent: a vantage point", "name",
     FIELDS(agent_fields), CAT_ROLE_VIEWER, CAT_ROLE_ADMIN, 1, NULL, NULL},
    {"probe", "Probe", "Probes", "A check that polls an endpoint", "name",
     FIELDS(probe_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, "endpoint", NULL},
    {"sensor", "Sensor", "Sensors", "A listener for third-party events", "name",
     FIELDS(sensor_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, NULL, NULL},
    {"telemetry", "Schedule", "Schedules",
     "Which agents run a probe, how often, with which timeout", "name",
     FIELDS(telemetry_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, "probe", telemetry_check},
    {"collector", "Collector", "Collectors", "An export target for events and data", "name",
     FIELDS(collector_fields), CAT_ROLE_VIEWER, CAT_ROLE_ADMIN, 1, NULL, NULL},
    {"token", "Token", "Tokens", "API and agent tokens (the secret is shown once)", "name",
     FIELDS(token_fields), CAT_ROLE_ADMIN, CAT_ROLE_ADMIN, 1, NULL, NULL},
    {"dashboard", "Dashboard", "Dashboards", "Saved dashboards", "name",
     FIELDS(dashboard_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, NULL, NULL},
    {"rule", "Alert rule", "Alert rules", "PromQL alerting rules", "name", FIELDS(rule_fields),
     CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, NULL, NULL},
    {"ticket", "Ticket", "Tickets", "Every imperfection opens a ticket", "title",
     FIELDS(ticket_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, NULL, NULL},
    {"silence", "Silence", "Silences", "Mute alerts matching a selector for a while", "matchers",
     FIELDS(silence_fields), CAT_ROLE_VIEWER, CAT_ROLE_EDITOR, 1, NULL, silence_check},
};

const cat_model *cat_models(size_t *n)
{
    *n = N(models);
    return models;
}

const cat_model *cat_model_find(const char *name)
{
    for (size_t i = 0; i < N(models); i++)
        if (!strcmp(models[i].name, name))
            return &models[i];
    return NULL;
}

const cat_field *cat_field_find(const cat_model *m, const char *name)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (!strcmp(m->fields[i].name, name))
            return &m->fields[i];
    return NULL;
}

int cat_field_since(const cat_model *m, const cat_field *f)
{
    return f->since ? f->since : m->since;
}

int cat_schema_version(void)
{
    int v = 1;
    for (size_t i = 0; i < N(models); i++) {
        if (models[i].since > v)
            v = models[i].since;
        for (size_t j = 0; j < models[i].nfields; j++)
            if (models[i].fields[j].since > v)
                v = models[i].fields[j].since;
    }
    return v;
}

const cat_variant *cat_variant_find(const cat_field *f, const char *value)
{
    if (!f->variants || !value)
        return NULL;
    for (size_t i = 0; i < f->variants->ncases; i++)
        if (!strcmp(f->variants->cases[i].value, value))
            return &f->variants->cases[i];
    return NULL;
}

const char *cat_role_name(cat_role r)
{
    switch (r) {
    case CAT_ROLE_VIEWER: return "viewer";
    case CAT_ROLE_EDITOR: return "editor";
    case CAT_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

int cat_role_parse(const char *s, cat_role *out)
{
    for (int r = CAT_ROLE_VIEWER; r <= CAT_ROLE_ADMIN; r++)
        if (s && !strcmp(s, cat_role_name((cat_role)r))) {
            *out = (cat_role)r;
            return 0;
        }
    return -EINVAL;
}

/* ---------------------------------------------------------------- schema JSON */

static const char *type_name(cat_type t)
{
    static const char *names[] = {"string", "text", "int",  "number", "bool",
                                  "enum",   "ref",  "refs", "tags",   "object",
                                  "time",   "duration", "password"};
    return names[t];
}

static const char *rule_name(cat_rule r)
{
    static const char *names[] = {NULL,   "hostname", "address", "cidr",  "url",
                                  "email", "ident",   "regex",   "is_regex", "hostport"};
    return names[r];
}

static const char *widget_of(const cat_field *f)
{
    if (f->widget)
        return f->widget;
    switch (f->type) {
    case CAT_TEXT: return "textarea";
    case CAT_INT:
    case CAT_NUMBER: return "number";
    case CAT_BOOL: return "checkbox";
    case CAT_ENUM: return "select";
    case CAT_REF: return "ref";
    case CAT_REFS: return "refs";
    case CAT_TAGS: return "tags";
    case CAT_OBJECT: return "json";
    case CAT_TIME: return "datetime";
    case CAT_DURATION: return "duration";
    case CAT_PASSWORD: return "password";
    default: return "text";
    }
}

static void write_fields(jsonw *w, const cat_field *fields, size_t n);

static void write_field(jsonw *w, const cat_field *f)
{
    jsonw_obj_open(w);
    jsonw_kv_str(w, "name", f->name);
    jsonw_kv_str(w, "type", type_name(f->type));
    jsonw_kv_str(w, "title", f->title ? f->title : f->name);
    if (f->help)
        jsonw_kv_str(w, "help", f->help);
    jsonw_key(w, "required");
    jsonw_bool(w, (f->flags & CAT_F_REQUIRED) != 0);
    if (f->flags & CAT_F_UNIQUE) {
        jsonw_key(w, "unique");
        jsonw_bool(w, 1);
    }
    if (f->flags & CAT_F_READONLY) {
        jsonw_key(w, "readonly");
        jsonw_bool(w, 1);
    }
    if (f->flags & CAT_F_LIST) {
        jsonw_key(w, "list");
        jsonw_bool(w, 1);
    }
    if (f->dflt) {
        /* Defaults are JSON literals: strings quoted, numbers and booleans bare. */
        jsonw_key(w, "default");
        if (f->dflt[0] == '"')
            jsonw_strn(w, f->dflt + 1, strlen(f->dflt) - 2);
        else if (!strcmp(f->dflt, "true") || !strcmp(f->dflt, "false"))
            jsonw_bool(w, f->dflt[0] == 't');
        else
            jsonw_num(w, strtod(f->dflt, NULL));
    }
    if (f->flags & CAT_F_MIN) {
        jsonw_key(w, "min");
        jsonw_num(w, f->lo);
    }
    if (f->flags & CAT_F_MAX) {
        jsonw_key(w, "max");
        jsonw_num(w, f->hi);
    }
    if (f->values) {
        jsonw_key(w, "values");
        jsonw_arr_open(w);
        for (const char *const *v = f->values; *v; v++)
            jsonw_str(w, *v);
        jsonw_arr_close(w);
    }
    if (f->rule != CAT_RULE_NONE)
        jsonw_kv_str(w, "rule", rule_name(f->rule));
    if (f->pattern)
        jsonw_kv_str(w, "pattern", f->pattern);
    if (f->ref) {
        static const char *od[] = {"restrict", "cascade", "set_null"};
        jsonw_kv_str(w, "ref", f->ref);
        jsonw_kv_str(w, "on_delete", od[f->on_delete]);
    }
    jsonw_kv_str(w, "widget", widget_of(f));
    if (f->variants) {
        jsonw_key(w, "variants");
        jsonw_obj_open(w);
        jsonw_kv_str(w, "by", f->variants->by);
        jsonw_key(w, "cases");
        jsonw_obj_open(w);
        for (size_t i = 0; i < f->variants->ncases; i++) {
            jsonw_key(w, f->variants->cases[i].value);
            write_fields(w, f->variants->cases[i].fields, f->variants->cases[i].nfields);
        }
        jsonw_obj_close(w);
        jsonw_obj_close(w);
    }
    jsonw_obj_close(w);
}

static void write_fields(jsonw *w, const cat_field *fields, size_t n)
{
    jsonw_arr_open(w);
    for (size_t i = 0; i < n; i++)
        if (!(fields[i].flags & CAT_F_HIDDEN))
            write_field(w, &fields[i]);
    jsonw_arr_close(w);
}

void cat_schema_json(jsonw *w)
{
    jsonw_obj_open(w);
    jsonw_kv_int(w, "version", cat_schema_version());
    jsonw_key(w, "models");
    jsonw_arr_open(w);
    for (size_t i = 0; i < N(models); i++) {
        const cat_model *m = &models[i];
        jsonw_obj_open(w);
        jsonw_kv_str(w, "name", m->name);
        jsonw_kv_str(w, "title", m->title);
        jsonw_kv_str(w, "plural", m->plural);
        jsonw_kv_str(w, "help", m->help);
        jsonw_kv_str(w, "display", m->display);
        jsonw_kv_str(w, "read", cat_role_name(m->read));
        jsonw_kv_str(w, "write", cat_role_name(m->write));
        if (m->scope)
            jsonw_kv_str(w, "scope", m->scope);
        jsonw_key(w, "fields");
        write_fields(w, m->fields, m->nfields);
        jsonw_obj_close(w);
    }
    jsonw_arr_close(w);
    jsonw_obj_close(w);
}
