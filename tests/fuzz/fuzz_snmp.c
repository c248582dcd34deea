/* fuzz_snmp: libFuzzer target for what the snmp probe makes of an agent's answers and of its
 * settings (agent/probes/snmp_int.h): varbind lists as net-snmp hands them over (any type, any
 * OID, any value bytes) through the walk bookkeeping, the value reader and the IF-MIB table,
 * and settings JSON and OID text through their parsers.
 *
 * Kept here beside the integration test's fake agent until tests/fuzz/meson.build lists it
 * (fuzz_targets += ['snmp'] with this file moved to tests/fuzz/fuzz_snmp.c).
 *
 * Input: byte 0 picks the mode. Mode 0: the rest is settings JSON (and, as text, an OID).
 * Mode 1: the rest is varbind records: type (1 byte), OID length (1 byte, at most 140), that
 * many sub-identifiers (1 byte each, or 5 when the byte is 0xff: a full 32-bit value), value
 * length (1 byte), value bytes. */
#include "agent/probes/snmp_int.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VB 64

typedef struct fvb {
    netsnmp_variable_list v;
    oid name[160];
    union {
        long l;
        struct counter64 c64;
        float f;
        double d;
        unsigned char bytes[256];
        oid objid[32];
    } val;
} fvb;

static int sink(void *ctx, const char *metric, const char *const *labels, double v)
{
    size_t *n = ctx;
    (void)v;
    *n += strlen(metric);
    for (size_t i = 0; labels && labels[i]; i++)
        *n += strlen(labels[i]);
    return 0;
}

static int take(void *ctx, size_t which, const netsnmp_variable_list *v)
{
    snmpp_iftab *t = ctx;
    return snmpp_iftab_add(t, (int)(which * 5 % SNMPP_IF_NCOLS), v);
}

static void settings(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *st = json_loadb((const char *)data, size, 0, &je);
    snmpp_prep *p = NULL;
    char err[256];
    if (st && snmpp_prep_parse(st, &p, err, sizeof err) == 0)
        snmpp_prep_free(p);
    json_decref(st);
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    snmpp_oid o;
    if (snmpp_oid_parse(text, &o, err, sizeof err) == 0) {
        char buf[SNMPP_OID_MAX * 11 + 1];
        if (snmpp_oid_format(o.s, o.n, buf, sizeof buf) ||
            strcmp(buf, text[0] == '.' ? text + 1 : text))
            if (!strchr(text, '0')) /* leading zeros are accepted and not kept */
                abort();
    }
    free(text);
}

static void varbinds(const uint8_t *data, size_t size)
{
    static fvb vb[MAX_VB];
    size_t n = 0, pos = 0;
    while (n < MAX_VB && pos + 2 <= size) {
        fvb *x = &vb[n];
        memset(x, 0, sizeof *x);
        x->v.type = data[pos++];
        size_t len = data[pos++];
        if (len > 140)
            len = 140;
        for (size_t i = 0; i < len && pos < size; i++) {
            if (data[pos] == 0xff && pos + 5 <= size) {
                uint32_t s;
                memcpy(&s, data + pos + 1, 4);
                x->name[i] = s;
                pos += 5;
            } else {
                x->name[i] = data[pos++];
            }
            x->v.name_length = i + 1;
        }
        x->v.name = x->name;
        size_t vl = pos < size ? data[pos++] : 0;
        if (vl > size - pos)
            vl = size - pos;
        memcpy(x->val.bytes, data + pos, vl);
        pos += vl;
        /* As net-snmp does: the pointer matches the type, the length the bytes behind it. */
        x->v.val.string = x->val.bytes;
        x->v.val_len = vl;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        vb[i].v.next_variable = i + 1 < n ? &vb[i + 1].v : NULL;
    netsnmp_variable_list *list = n ? &vb[0].v : NULL;

    snmpp_walk walks[3], *batch[3];
    snmpp_iftab t = {0};
    for (size_t nb = 1; nb <= 3; nb++) {
        for (size_t k = 0; k < nb; k++) {
            snmpp_oid r;
            snmpp_ifcol_root((int)((k * 7 + nb) % SNMPP_IF_NCOLS), &r);
            snmpp_walk_init(&walks[k], r.s, r.n);
            batch[k] = &walks[k];
        }
        size_t progress;
        for (int round = 0; round < 3; round++)
            snmpp_walk_response(batch, nb, list, take, &t, &progress);
    }
    for (size_t i = 0; i < n; i++) {
        double v;
        char text[64];
        snmpp_var_value(&vb[i].v, &v, text, sizeof text);
        if (strlen(text) >= sizeof text)
            abort();
        snmpp_iftab_add(&t, (int)(i % SNMPP_IF_NCOLS), &vb[i].v);
        snmpp_oid o;
        if (snmpp_oid_from_net(vb[i].v.name, vb[i].v.name_length, &o) == 0) {
            snmpp_report_text(o.s, o.n);
            snmpp_report_not_in_time(o.s, o.n);
        }
    }
    size_t total = 0;
    snmpp_iftab_emit(&t, sink, &total);
    snmpp_iftab_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    if (data[0] & 1)
        varbinds(data + 1, size - 1);
    else
        settings(data + 1, size - 1);
    return 0;
}
