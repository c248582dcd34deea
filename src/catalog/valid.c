/* valid: field rules and object validation for the catalog. */
#include "valid.h"

#include "../lib/timeutil.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRING_MAX 200
#define TEXT_MAX 10000
#define TAGS_MAX 100
#define TAG_LEN_MAX 100
#define REFS_MAX 1000
#define OBJECT_MAX_BYTES 65536

/* ---------------------------------------------------------------- rules */

static int is_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return 0;
    /* RFC 1123 2.1: a name never has the dotted-decimal form, so the last label (the top-level
     * domain) is not all digits: "999.999.999.999" is neither an address nor a name. */
    const char *last = strrchr(s, '.');
    last = last ? last + 1 : s;
    if (*last && strspn(last, "0123456789") == strlen(last))
        return 0;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-') || (label == 0 && c == '-'))
            return 0;
        label++;
    }
    return 1;
}

static int is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static int is_port(const char *s)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return 0;
    long p = strtol(s, &end, 10);
    return !errno && !*end && p >= 1 && p <= 65535;
}

static int check_cidr(const char *s, char *msg, size_t len)
{
    const char *slash = strchr(s, '/');
    char addr[64];
    if (!slash || (size_t)(slash - s) >= sizeof addr) {
        snprintf(msg, len, "not a CIDR range (expected address/prefix, e.g. 10.0.0.0/24)");
        return -EINVAL;
    }
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    unsigned char b[16];
    int bits = inet_pton(AF_INET, addr, b) == 1 ? 32 : inet_pton(AF_INET6, addr, b) == 1 ? 128 : 0;
    char *end;
    errno = 0;
    long p = isdigit((unsigned char)slash[1]) ? strtol(slash + 1, &end, 10) : -1;
    if (!bits || p < 0 || errno || *end || p > bits) {
        snprintf(msg, len, "not a CIDR range (expected address/prefix, e.g. 10.0.0.0/24)");
        return -EINVAL;
    }
    return 0;
}

/* URLs are parsed by libcurl's URL API (the same parser that later fetches them). */
static int check_url(const char *s, char *msg, size_t len)
{
    int ok = 0;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (!u)
        return -ENOMEM;
    if (strlen(s) <= 2048 && !strpbrk(s, " \t\r\n") &&
        curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host)
        ok = !strcmp(scheme, "http") || !strcmp(scheme, "https");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok) {
        snprintf(msg, len, "not a valid http(s) URL");
        return -EINVAL;
    }
    return 0;
}

static int check_email(const char *s, char *msg, size_t len)
{
    const char *at = strrchr(s, '@');
    size_t local = at ? (size_t)(at - s) : 0;
    int ok = at && local >= 1 && local <= 64 && strchr(at + 1, '.') && is_hostname(at + 1);
    for (size_t i = 0; ok && i < local; i++)
        ok = isalnum((unsigned char)s[i]) || strchr(".!#$%&'*+/=?^_`{|}~-", s[i]);
    if (!ok) {
        snprintf(msg, len, "not a valid e-mail address");
        return -EINVAL;
    }
    return 0;
}

static int check_ident(const char *s, char *msg, size_t len)
{
    int ok = isalnum((unsigned char)s[0]);
    for (const char *p = s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr("._-@", *p);
    if (!ok) {
        snprintf(msg, len, "only letters, digits and . _ - @ (starting with a letter or digit)");
        return -EINVAL;
    }
    return 0;
}

static int check_regex(const char *pattern, const char *s, int whole, char *msg, size_t len)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   whole ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0, &err, &off,
                                   NULL);
    if (!re) {
        char why[128];
        pcre2_get_error_message(err, (PCRE2_UCHAR *)why, sizeof why);
        snprintf(msg, len, "invalid regular expression at position %zu: %s", (size_t)off, why);
        return -EINVAL;
    }
    int rc = 0;
    if (whole) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        int m = md ? pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) : -1;
        pcre2_match_data_free(md);
        if (m < 0) {
            snprintf(msg, len, "must match %s", pattern);
            rc = -EINVAL;
        }
    }
    pcre2_code_free(re);
    return rc;
}

static int check_hostport(const char *s, char *msg, size_t len)
{
    char host[256];
    const char *colon;
    int ok = 0;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close && close[1] == ':' && (size_t)(close - s - 1) < sizeof host) {
            memcpy(host, s + 1, (size_t)(close - s - 1));
            host[close - s - 1] = '\0';
            unsigned char b[16];
            ok = inet_pton(AF_INET6, host, b) == 1 && is_port(close + 2);
        }
    } else if ((colon = strrchr(s, ':')) && (size_t)(colon - s) < sizeof host) {
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        ok = (!*host || is_ip(host) || is_hostname(host)) && !strchr(host, ':') &&
             is_port(colon + 1);
    }
    if (!ok) {
        snprintf(msg, len, "expected HOST:PORT, e.g. 0.0.0.0:514 or [::]:514");
        return -EINVAL;
    }
    return 0;
}

int cat_valid_rule(cat_rule rule, const char *pattern, const char *s, char *msg, size_t len)
{
    switch (rule) {
    case CAT_RULE_NONE: return 0;
    case CAT_RULE_HOSTNAME:
        if (is_hostname(s))
            return 0;
        snprintf(msg, len, "not a valid host name");
        return -EINVAL;
    case CAT_RULE_ADDRESS:
        if (is_ip(s) || is_hostname(s))
            return 0;
        snprintf(msg, len, "not an IP address or host name");
        return -EINVAL;
    case CAT_RULE_CIDR: return check_cidr(s, msg, len);
    case CAT_RULE_URL: return check_url(s, msg, len);
    case CAT_RULE_EMAIL: return check_email(s, msg, len);
    case CAT_RULE_IDENT: return check_ident(s, msg, len);
    case CAT_RULE_REGEX: return check_regex(pattern ? pattern : "", s, 1, msg, len);
    case CAT_RULE_IS_REGEX: return check_regex(s, s, 0, msg, len);
    case CAT_RULE_HOSTPORT: return check_hostport(s, msg, len);
    }
    return 0;
}

/* ---------------------------------------------------------------- values */

static void fmt_bound(const cat_field *f, double v, char *dst, size_t cap)
{
    if (f->type == CAT_DURATION)
        timeutil_format_duration((int64_t)v, dst, cap);
    else
        snprintf(dst, cap, "%.15g", v);
}

/* Range check of a number (or duration in ms) against the field's bounds. */
static int check_range(const cat_field *f, double v, char *msg, size_t len)
{
    char b[48];
    if ((f->flags & CAT_F_MIN) && v < f->lo) {
        fmt_bound(f, f->lo, b, sizeof b);
        snprintf(msg, len, "must be at least %s", b);
        return -EINVAL;
    }
    if ((f->flags & CAT_F_MAX) && v > f->hi) {
        fmt_bound(f, f->hi, b, sizeof b);
        snprintf(msg, len, "must be at most %s", b);
        return -EINVAL;
    }
    return 0;
}

static int check_string(const cat_field *f, const char *s, size_t n, int one_line, char *msg,
                        size_t len)
{
    size_t max = (f->flags & CAT_F_MAX) ? (size_t)f->hi
                 : f->type == CAT_TEXT  ? TEXT_MAX
                                        : STRING_MAX;
    size_t min = (f->flags & CAT_F_MIN) ? (size_t)f->lo : 0;
    if (strlen(s) != n) {
        snprintf(msg, len, "must not contain NUL characters");
        return -EINVAL;
    }
    if (n > max) {
        snprintf(msg, len, "at most %zu characters", max);
        return -EINVAL;
    }
    if (n < min) {
        snprintf(msg, len, "at least %zu characters", min);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && (one_line || (c != '\n' && c != '\t' && c != '\r'))) {
            snprintf(msg, len, one_line ? "must be one line without control characters"
                                        : "must not contain control characters");
            return -EINVAL;
        }
    }
    return 0;
}

static int valid_string_like(const cat_field *f, const json_t *in, json_t **out, char *msg,
                             size_t len)
{
    if (!json_is_string(in)) {
        snprintf(msg, len, "must be a string");
        return -EINVAL;
    }
    const char *s = json_string_value(in);
    size_t n = json_string_length(in);
    int rc = check_string(f, s, n, f->type != CAT_TEXT, msg, len);
    if (!rc && f->rule != CAT_RULE_NONE)
        rc = cat_valid_rule(f->rule, f->pattern, s, msg, len);
    if (rc)
        return rc;
    *out = json_stringn(s, n);
    return *out ? 0 : -ENOMEM;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int valid_refs(const cat_field *f, const json_t *in, json_t **out, char *msg, size_t len)
{
    (void)f;
    if (!json_is_array(in)) {
        snprintf(msg, len, "must be an array of ids");
        return -EINVAL;
    }
    size_t n = json_array_size(in);
    if (n > REFS_MAX) {
        snprintf(msg, len, "at most %d entries", REFS_MAX);
        return -EINVAL;
    }
    long long ids[REFS_MAX];
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(in, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            snprintf(msg, len, "entry %zu is not an id", i + 1);
            return -EINVAL;
        }
        ids[i] = json_integer_value(v);
    }
    qsort(ids, n, sizeof ids[0], cmp_ll);
    json_t *a = json_array();
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || ids[i] != ids[i - 1]) && json_array_append_new(a, json_integer(ids[i]))) {
            json_decref(a);
            return -ENOMEM;
        }
    *out = a;
    return 0;
}

static int valid_tags(const cat_field *f, const json_t *in, json_t **out, char *msg, size_t len)
{
    if (!json_is_array(in)) {
        snprintf(msg, len, "must be an array of strings");
        return -EINVAL;
    }
    size_t n = json_array_size(in);
    if (n > TAGS_MAX) {
        snprintf(msg, len, "at most %d entries", TAGS_MAX);
        return -EINVAL;
    }
    json_t *a = json_array();
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(in, i);
        const char *s = json_string_value(v);
        char why[200];
        size_t sl = json_string_length(v);
        if (!s || sl == 0 || sl > TAG_LEN_MAX || strlen(s) != sl) {
            snprintf(msg, len, "entry %zu: must be a string of 1 to %d characters", i + 1,
                     TAG_LEN_MAX);
            goto bad;
        }
        for (size_t k = 0; k < sl; k++)
            if ((unsigned char)s[k] < 0x20) {
                snprintf(msg, len, "entry %zu: must not contain control characters", i + 1);
                goto bad;
            }
        if (f->rule != CAT_RULE_NONE && cat_valid_rule(f->rule, f->pattern, s, why, sizeof why)) {
            snprintf(msg, len, "entry %zu: %s", i + 1, why);
            goto bad;
        }
        int dup = 0;
        for (size_t k = 0; k < json_array_size(a) && !dup; k++)
            dup = !strcmp(json_string_value(json_array_get(a, k)), s);
        if (!dup && json_array_append_new(a, json_string(s))) {
            json_decref(a);
            return -ENOMEM;
        }
    }
    *out = a;
    return 0;
bad:
    json_decref(a);
    return -EINVAL;
}

int cat_valid_value(const cat_field *f, const json_t *in, json_t **out, char *msg, size_t len)
{
    *out = NULL;
    switch (f->type) {
    case CAT_STRING:
    case CAT_TEXT:
    case CAT_PASSWORD: return valid_string_like(f, in, out, msg, len);
    case CAT_INT:
        if (!json_is_integer(in)) {
            snprintf(msg, len, "must be an integer");
            return -EINVAL;
        }
        if (check_range(f, (double)json_integer_value(in), msg, len))
            return -EINVAL;
        *out = json_integer(json_integer_value(in));
        break;
    case CAT_NUMBER:
        if (!json_is_number(in)) {
            snprintf(msg, len, "must be a number");
            return -EINVAL;
        }
        if (check_range(f, json_number_value(in), msg, len))
            return -EINVAL;
        *out = json_real(json_number_value(in));
        break;
    case CAT_BOOL:
        if (!json_is_boolean(in)) {
            snprintf(msg, len, "must be true or false");
            return -EINVAL;
        }
        *out = json_boolean(json_is_true(in));
        break;
    case CAT_ENUM: {
        const char *s = json_string_value(in);
        for (const char *const *v = f->values; s && *v; v++)
            if (!strcmp(*v, s) && strlen(s) == json_string_length(in)) {
                *out = json_string(s);
                return *out ? 0 : -ENOMEM;
            }
        size_t n = (size_t)snprintf(msg, len, "must be one of:");
        for (const char *const *v = f->values; *v && n < len; v++)
            n += (size_t)snprintf(msg + n, len - n, "%s %s", v == f->values ? "" : ",", *v);
        return -EINVAL;
    }
    case CAT_REF:
        if (!json_is_integer(in) || json_integer_value(in) <= 0) {
            snprintf(msg, len, "must be the id of a %s", f->ref);
            return -EINVAL;
        }
        *out = json_integer(json_integer_value(in));
        break;
    case CAT_REFS: return valid_refs(f, in, out, msg, len);
    case CAT_TAGS: return valid_tags(f, in, out, msg, len);
    case CAT_OBJECT: {
        if (!json_is_object(in)) {
            snprintf(msg, len, "must be an object");
            return -EINVAL;
        }
        char *text = json_dumps(in, JSON_COMPACT);
        size_t n = text ? strlen(text) : 0;
        free(text);
        if (!text)
            return -ENOMEM;
        if (n > OBJECT_MAX_BYTES) {
            snprintf(msg, len, "at most %d bytes of JSON", OBJECT_MAX_BYTES);
            return -EINVAL;
        }
        *out = json_deep_copy(in);
        break;
    }
    case CAT_TIME: {
        int64_t ms;
        const char *s = json_string_value(in);
        if (!s || timeutil_parse_time(s, &ms)) {
            snprintf(msg, len, "must be an RFC 3339 time, e.g. 2026-11-24T08:00:00Z");
            return -EINVAL;
        }
        *out = json_integer(ms);
        break;
    }
    case CAT_DURATION: {
        int64_t ms;
        const char *s = json_string_value(in);
        if (!s || timeutil_parse_duration(s, &ms)) {
            snprintf(msg, len, "must be a duration such as 30s, 5m or 1h30m");
            return -EINVAL;
        }
        if (check_range(f, (double)ms, msg, len))
            return -EINVAL;
        *out = json_integer(ms);
        break;
    }
    }
    return *out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- objects */

static int is_system(const char *k)
{
    return !strcmp(k, "id") || !strcmp(k, "version") || !strcmp(k, "created_at") ||
           !strcmp(k, "updated_at");
}

static int add_error(json_t *errors, const char *key, const char *msg)
{
    if (json_object_get(errors, key))
        return 0; /* the first problem of a field is the one reported */
    return json_object_set_new(errors, key, json_string(msg)) ? -ENOMEM : 0;
}

json_t *cat_valid_default(const cat_field *f)
{
    json_error_t je;
    json_t *lit = json_loads(f->dflt, JSON_DECODE_ANY, &je), *out = NULL;
    char msg[128];
    if (lit && cat_valid_value(f, lit, &out, msg, sizeof msg))
        out = NULL; /* a broken default in the table: test_catalog checks every one */
    json_decref(lit);
    return out;
}

static int is_empty_string(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) == 0;
}

/* Validates a settings object against one variant's fields: unknown keys and missing
 * required settings are errors named "<field>.<setting>". */
static int valid_settings(const cat_field *obj, const cat_variant *var, const json_t *in,
                          json_t **out, json_t *errors)
{
    char key[160], msg[256];
    int rc = 0;
    json_t *res = json_object();
    if (!res)
        return -ENOMEM;
    if (in && !json_is_null(in) && !json_is_object(in)) {
        add_error(errors, obj->name, "must be an object");
        json_decref(res);
        return -EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < var->nfields && !known; i++)
            known = !strcmp(var->fields[i].name, k);
        if (!known) {
            snprintf(key, sizeof key, "%s.%.100s", obj->name, k);
            snprintf(msg, sizeof msg, "unknown setting for type %s", var->value);
            if (add_error(errors, key, msg))
                goto oom;
            rc = -EINVAL;
        }
    }
    for (size_t i = 0; i < var->nfields; i++) {
        const cat_field *f = &var->fields[i];
        json_t *val = in ? json_object_get(in, f->name) : NULL, *sv = NULL;
        snprintf(key, sizeof key, "%s.%s", obj->name, f->name);
        if (!val || json_is_null(val) || (is_empty_string(val) && f->type != CAT_BOOL)) {
            if (f->dflt) {
                if (!(sv = cat_valid_default(f)) || json_object_set_new(res, f->name, sv))
                    goto oom;
            } else if (f->flags & CAT_F_REQUIRED) {
                if (add_error(errors, key, "required"))
                    goto oom;
                rc = -EINVAL;
            }
            continue;
        }
        int vr = cat_valid_value(f, val, &sv, msg, sizeof msg);
        if (vr == -ENOMEM)
            goto oom;
        if (vr) {
            if (add_error(errors, key, msg))
                goto oom;
            rc = -EINVAL;
            continue;
        }
        if (json_object_set_new(res, f->name, sv))
            goto oom;
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
oom:
    json_decref(res);
    return -ENOMEM;
}

int cat_valid_object(const cat_model *m, const json_t *in, const json_t *stored, json_t **out,
                     json_t *errors)
{
    char msg[256];
    int rc = 0;
    json_t *res = NULL;
    *out = NULL;
    if (!json_is_object(in)) {
        add_error(errors, "_", "the body must be a JSON object");
        return -EINVAL;
    }
    res = stored ? json_deep_copy(stored) : json_object();
    if (!res)
        return -ENOMEM;
    json_object_del(res, "id");
    json_object_del(res, "version");
    json_object_del(res, "created_at");
    json_object_del(res, "updated_at");

    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        const cat_field *f = cat_field_find(m, k);
        if (is_system(k) || (f && (f->flags & CAT_F_READONLY) && !(f->flags & CAT_F_HIDDEN)))
            continue;
        if (!f || (f->flags & CAT_F_HIDDEN)) {
            if (add_error(errors, strlen(k) < 100 ? k : "_", "unknown field"))
                goto oom;
            rc = -EINVAL;
        }
    }

    for (size_t i = 0; i < m->nfields; i++) {
        const cat_field *f = &m->fields[i];
        if (f->flags & (CAT_F_HIDDEN | CAT_F_READONLY))
            continue;
        json_t *val = json_object_get(in, f->name), *sv = NULL;
        if (f->type == CAT_OBJECT && f->variants)
            continue; /* after its `by` field, below */
        if (f->type == CAT_PASSWORD) {
            /* Write only: absent or empty on update means unchanged. */
            json_object_del(res, f->name);
            if (!val || json_is_null(val) || is_empty_string(val)) {
                if (!stored && (f->flags & CAT_F_REQUIRED)) {
                    if (add_error(errors, f->name, "required"))
                        goto oom;
                    rc = -EINVAL;
                }
                continue;
            }
        } else if (!val) {
            if (stored)
                continue; /* unchanged */
            if (f->dflt) {
                if (!(sv = cat_valid_default(f)) || json_object_set_new(res, f->name, sv))
                    goto oom;
                continue;
            }
            if (f->flags & CAT_F_REQUIRED) {
                if (add_error(errors, f->name, "required"))
                    goto oom;
                rc = -EINVAL;
                continue;
            }
            if (json_object_set_new(res, f->name,
                                    f->type == CAT_REFS || f->type == CAT_TAGS ? json_array()
                                                                              : json_null()))
                goto oom;
            continue;
        } else if (json_is_null(val) || (is_empty_string(val) && f->type != CAT_BOOL)) {
            if (f->flags & CAT_F_REQUIRED) {
                if (add_error(errors, f->name, "required"))
                    goto oom;
                rc = -EINVAL;
                continue;
            }
            if (json_object_set_new(res, f->name,
                                    f->type == CAT_REFS || f->type == CAT_TAGS ? json_array()
                                                                              : json_null()))
                goto oom;
            continue;
        }
        int vr = cat_valid_value(f, val, &sv, msg, sizeof msg);
        if (vr == -ENOMEM)
            goto oom;
        if (vr) {
            if (add_error(errors, f->name, msg))
                goto oom;
            rc = -EINVAL;
            continue;
        }
        if (json_object_set_new(res, f->name, sv))
            goto oom;
    }

    /* Settings validated against the fields of the (possibly new) type. */
    for (size_t i = 0; i < m->nfields; i++) {
        const cat_field *f = &m->fields[i];
        if (f->type != CAT_OBJECT || !f->variants)
            continue;
        const char *by = json_string_value(json_object_get(res, f->variants->by));
        if (!by || json_object_get(errors, f->variants->by))
            continue; /* the type itself is missing or wrong: reported there */
        json_t *val = json_object_get(in, f->name);
        const char *old_by =
            stored ? json_string_value(json_object_get(stored, f->variants->by)) : NULL;
        int type_changed = stored && (!old_by || strcmp(by, old_by));
        if (!val && stored && !type_changed)
            continue; /* unchanged settings of an unchanged type */
        const cat_variant *var = cat_variant_find(f, by);
        json_t *sv = NULL;
        if (!var)
            continue;
        int vr = valid_settings(f, var, val, &sv, errors);
        if (vr == -ENOMEM)
            goto oom;
        if (vr) {
            rc = -EINVAL;
            continue;
        }
        if (json_object_set_new(res, f->name, sv))
            goto oom;
    }
    if (!rc && m->check) {
        m->check(res, errors);
        if (json_object_size(errors))
            rc = -EINVAL;
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
oom:
    json_decref(res);
    return -ENOMEM;
}

json_t *cat_valid_output(const cat_field *f, const json_t *stored)
{
    char b[48];
    if (!stored || json_is_null(stored))
        return f->type == CAT_REFS || f->type == CAT_TAGS ? json_array() : json_null();
    switch (f->type) {
    case CAT_TIME:
        timeutil_format_rfc3339((int64_t)json_integer_value(stored), b, sizeof b);
        return json_string(b);
    case CAT_DURATION:
        timeutil_format_duration((int64_t)json_integer_value(stored), b, sizeof b);
        return json_string(b);
    default: return json_deep_copy(stored);
    }
}
