/* libFuzzer target: SNMP notifications (wire/snmptrap.h). The first byte chooses the expected
 * community (odd: "public", even: any) and the sender address (bit 1); the rest is the
 * datagram.
 *
 * Checked: a decode succeeds or says why not, with no other error within the documented buffer
 * sizes (scratch SNMPTRAP_SCRATCH_NEED(len), response len bytes); a refusal leaves the record
 * untouched and the response empty, and a malformed datagram names a byte within it; a record
 * is sound (kind, severity, one-line title, valid UTF-8 everywhere, fields a JSON object whose
 * varbinds match the text line for line);
 * decoding is deterministic; only an inform gets a response, and that response, with its PDU
 * tag turned back into an InformRequest, decodes to the same record. */
#include "lib/buf.h"
#include "wire/snmptrap.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #x, __FILE__, __LINE__);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW_MS 1781524800000LL

static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, k = c < 0x80         ? 1
                             : (c >> 5) == 6  ? 2
                             : (c >> 4) == 14 ? 3
                             : (c >> 3) == 30 ? 4
                                              : 0;
        if (!k)
            return 0;
        for (unsigned i = 1; i < k; i++)
            if ((s[i] & 0xc0) != 0x80)
                return 0;
        s += k;
    }
    return 1;
}

static void check_record(const event *ev, const char *source)
{
    CHECK(!strcmp(ev->kind, EVENT_KIND_TRAP));
    CHECK(ev->severity == EVENT_WARNING || ev->severity == EVENT_NOTICE ||
          ev->severity == EVENT_INFO);
    CHECK(ev->facility == -1 && ev->status == EVENT_STATUS_NONE);
    CHECK(ev->t_ms == NOW_MS && !ev->recv_ms && !ev->sensor_id && !ev->device_id);
    CHECK(ev->host && ev->app && ev->title && ev->text && ev->fields && ev->source);
    CHECK(!strcmp(ev->source, source) && !ev->fingerprint[0]);
    CHECK(ev->app[0] && !strchr(ev->title, '\n') && !strchr(ev->title, '\r'));
    CHECK(!strchr(ev->host, '\n') && !strchr(ev->app, '\n'));
    const char *s[] = {ev->host, ev->app, ev->title, ev->text, ev->fields};
    for (int i = 0; i < 5; i++)
        CHECK(valid_utf8((const unsigned char *)s[i]));
    json_error_t je;
    json_t *j = json_loads(ev->fields, 0, &je);
    if (!j)
        fprintf(stderr, "fields: %s\n%s\n", je.text, ev->fields);
    CHECK(j && json_is_object(j));
    json_t *vbs = json_object_get(j, "varbinds");
    CHECK(json_is_array(vbs));
    CHECK(json_is_string(json_object_get(j, "trap_oid")));
    size_t lines = 0;
    for (const char *p = ev->text; *p; p++)
        lines += *p == '\n';
    CHECK(json_array_size(vbs) == (ev->text[0] ? lines + 1 : 0));
    for (size_t i = 0; i < json_array_size(vbs); i++) {
        json_t *v = json_array_get(vbs, i);
        CHECK(json_is_string(json_object_get(v, "oid")) &&
              json_is_string(json_object_get(v, "name")) &&
              json_is_string(json_object_get(v, "type")) &&
              json_is_string(json_object_get(v, "value")));
    }
    json_decref(j);
}

static int same_record(const event *a, const event *b)
{
    return a->severity == b->severity && !strcmp(a->host, b->host) && !strcmp(a->app, b->app) &&
           !strcmp(a->title, b->title) && !strcmp(a->text, b->text) &&
           !strcmp(a->fields, b->fields) && !strcmp(a->source, b->source);
}

/* The offset after the TLV header at p (short or long length form), or 0. */
static size_t skip_tl(const unsigned char *d, size_t len, size_t p, size_t *clen)
{
    if (p + 2 > len)
        return 0;
    unsigned l0 = d[p + 1];
    if (l0 < 0x80) {
        *clen = l0;
        return p + 2;
    }
    unsigned n = l0 & 0x7f;
    if (n == 0 || n > 4 || p + 2 + n > len)
        return 0;
    size_t l = 0;
    for (unsigned i = 0; i < n; i++)
        l = l << 8 | d[p + 2 + i];
    *clen = l;
    return p + 2 + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *community = data[0] & 1 ? "public" : "";
    const char *source = data[0] & 2 ? "192.0.2.1" : "";
    const unsigned char *in = data + 1;
    size_t len = size - 1;

    buf scratch, resp;
    buf_init(&scratch, SNMPTRAP_SCRATCH_NEED(len));
    buf_init(&resp, len ? len : 1);
    event ev, sentinel;
    memset(&ev, 0x5a, sizeof ev);
    memcpy(&sentinel, &ev, sizeof ev);
    char err[256] = "";
    buf_putc(&resp, 'x');
    int rc =
        snmptrap_decode(in, len, community, source, NOW_MS, &scratch, &ev, &resp, err, sizeof err);
    CHECK(rc == 0 || rc == -EINVAL || rc == -EACCES || rc == -EPROTONOSUPPORT);
    CHECK(rc != -EACCES || community[0]);
    if (rc) {
        CHECK(err[0] && !strchr(err, '\n'));
        CHECK(!memcmp(&ev, &sentinel, sizeof ev));
        CHECK(resp.len == 0);
        if (rc == -EINVAL) {
            CHECK(!strncmp(err, "byte ", 5));
            CHECK(strtoul(err + 5, NULL, 10) <= len);
        }
        if (rc == -EACCES)
            CHECK(!strcmp(err, "wrong community"));
        goto out;
    }
    check_record(&ev, source);

    /* Deterministic, and the same without a response buffer. */
    buf scratch2;
    buf_init(&scratch2, SNMPTRAP_SCRATCH_NEED(len));
    event ev2;
    CHECK(snmptrap_decode(in, len, community, source, NOW_MS, &scratch2, &ev2, NULL, NULL, 0) == 0);
    CHECK(same_record(&ev, &ev2));

    int inform = strstr(ev.fields, "\"pdu\":\"inform\"") != NULL;
    CHECK(inform == (resp.len > 0));
    if (inform) {
        CHECK(resp.len <= len);
        /* Turn the Response-PDU back into an InformRequest: the same record comes out. */
        const unsigned char *r = (const unsigned char *)resp.data;
        size_t clen, p = skip_tl(r, resp.len, 0, &clen);
        CHECK(p && r[0] == 0x30 && p + clen == resp.len);
        CHECK((p = skip_tl(r, resp.len, p, &clen)) && (p += clen) < resp.len); /* version */
        CHECK((p = skip_tl(r, resp.len, p, &clen)) && (p += clen) < resp.len); /* community */
        CHECK(r[p] == 0xa2);
        resp.data[p] = (char)0xa6;
        CHECK(snmptrap_decode(r, resp.len, community, source, NOW_MS, &scratch2, &ev2, NULL, NULL,
                              0) == 0);
        /* Only the error fields differ (the response zeroes them), and they are not in the
         * record. */
        CHECK(same_record(&ev, &ev2));
    }
    buf_free(&scratch2);
out:
    buf_free(&scratch);
    buf_free(&resp);
    return 0;
}
