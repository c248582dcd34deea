/* libFuzzer target: a munin-node session as the munin probe reads it (wire/munin.h). The input
 * is what a node says: its lines go to the banner, cap and list readers, then alternately to
 * a plugin's config and fetch readers; every plugin read without failure hands out its
 * samples, which must be storable: valid metric and label names, label values of valid UTF-8
 * within their bounds, finite values. A failed plugin must say why. */
#include "lib/labels.h"
#include "wire/munin.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

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

static int check_sample(void *ctx, const char *metric, const char *const *labels, double v,
                        int64_t t_s)
{
    size_t *n = ctx;
    assert(labels_valid_metric_name(metric));
    assert(strlen(metric) <= 6 + 2 * MUNIN_NAME_MAX + 1);
    for (size_t i = 0; labels[i]; i += 2) {
        assert(labels_valid_name(labels[i]));
        assert(strlen(labels[i + 1]) <= MUNIN_TEXT_MAX);
        assert(valid_utf8((const unsigned char *)labels[i + 1]));
    }
    assert(isfinite(v));
    assert(t_s >= 0 && t_s <= 9999999999LL);
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    size_t off = 0, ll, used, samples = 0;
    int stage = 0, fetching = 0;
    char node[64], err[MUNIN_ERR_MAX];
    unsigned caps;
    munin_plugin *p = NULL;
    while (off < size) {
        int rc = munin_line(d + off, size - off, &ll, &used);
        if (rc < 0)
            assert(size - off >= MUNIN_LINE_MAX);
        if (rc <= 0)
            break;
        assert(ll < used && used <= MUNIN_LINE_MAX);
        const char *line = d + off;
        off += used;
        err[0] = '\0';
        if (stage == 0) {
            if (munin_parse_banner(line, ll, node, sizeof node, err, sizeof err))
                assert(err[0] && strlen(err) < sizeof err);
            else
                assert(strlen(node) < sizeof node);
            stage = 1;
        } else if (stage == 1) {
            if (munin_parse_cap(line, ll, &caps, err, sizeof err))
                assert(err[0]);
            else
                assert(caps <= (MUNIN_CAP_MULTIGRAPH | MUNIN_CAP_DIRTYCONFIG));
            stage = 2;
        } else if (stage == 2) {
            munin_list l;
            if (munin_parse_list(line, ll, &l, err, sizeof err) == 0) {
                assert(l.n <= MUNIN_PLUGINS_MAX);
                for (size_t i = 0; i < l.n; i++) {
                    assert(munin_valid_plugin_name(l.names[i], strlen(l.names[i])));
                    for (size_t j = 0; j < i; j++)
                        assert(strcmp(l.names[i], l.names[j]));
                }
                munin_list_free(&l);
            } else {
                assert(err[0] && l.n == 0);
            }
            stage = 3;
        } else {
            if (!p) {
                if (munin_plugin_new(&p, "fuzz"))
                    return 0;
                munin_plugin_begin(p, MUNIN_CONFIG);
                fetching = 0;
            }
            rc = munin_plugin_line(p, line, ll);
            if (rc < 0)
                break; /* out of memory: nothing to check */
            if (rc == 1 && !fetching && !p->failed) {
                munin_plugin_begin(p, MUNIN_FETCH);
                fetching = 1;
            } else if (rc == 1) {
                assert(!p->failed == !p->err[0]);
                assert(p->nfields <= MUNIN_FIELDS_MAX && p->ngraphs <= MUNIN_GRAPHS_MAX);
                if (!p->failed)
                    munin_plugin_samples(p, check_sample, &samples);
                munin_plugin_free(p);
                p = NULL;
            }
        }
    }
    if (p && !p->failed)
        munin_plugin_samples(p, check_sample, &samples);
    munin_plugin_free(p);
    return 0;
}
