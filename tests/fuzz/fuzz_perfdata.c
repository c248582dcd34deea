/* libFuzzer target: a Nagios plugin's output (wire/perfdata.h) must be read without crashing,
 * leaking, hanging or reading out of bounds, whatever the plugin prints. The first byte picks
 * the entry point and the message buffer's size:
 *   bit 0 clear: perfdata_parse_output on the rest (message + first-line and long-output
 *                performance data);
 *   bit 0 set:   perfdata_parse on the rest, then perfdata_range on every ';'-separated piece.
 * Invariants checked on what is accepted: at most PERFDATA_MAX_ITEMS items, non-empty
 * NUL-free labels within PERFDATA_LABEL_MAX, finite values and thresholds, units within
 * PERFDATA_UOM_MAX, unique labels, a message that fits its buffer and holds no control
 * character. */
#include "wire/perfdata.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const perfdata *pd)
{
    if (pd->n > PERFDATA_MAX_ITEMS || pd->n > pd->cap)
        abort();
    if (pd->errors && !pd->err[0])
        abort();
    for (size_t i = 0; i < pd->n; i++) {
        const perfdata_item *it = &pd->items[i];
        size_t ln = strlen(it->label);
        if (!ln || ln > PERFDATA_LABEL_MAX || strlen(it->uom) > PERFDATA_UOM_MAX)
            abort();
        for (size_t k = 0; k < ln; k++)
            if ((unsigned char)it->label[k] < 0x20 || it->label[k] == 0x7f)
                abort();
        if (!isfinite(it->value) || ((it->has & PERFDATA_HAS_WARN) && !isfinite(it->warn)) ||
            ((it->has & PERFDATA_HAS_CRIT) && !isfinite(it->crit)) ||
            ((it->has & PERFDATA_HAS_MIN) && !isfinite(it->min)) ||
            ((it->has & PERFDATA_HAS_MAX) && !isfinite(it->max)))
            abort();
        if (pd->n < 64) /* quadratic: only on small sets */
            for (size_t j = 0; j < i; j++)
                if (!strcmp(pd->items[j].label, it->label))
                    abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    perfdata pd;
    perfdata_init(&pd);
    if (!(data[0] & 1)) {
        size_t cap = (size_t)(data[0] >> 1) + 1; /* 1 to 128 bytes */
        char *msg = malloc(cap + 1);
        if (!msg)
            return 0;
        msg[cap] = 'Z'; /* a guard the writer must not touch */
        if (perfdata_parse_output(&pd, in, len, msg, cap))
            abort(); /* no allocation failures here */
        if (msg[cap] != 'Z' || strlen(msg) >= cap)
            abort();
        for (const char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort();
        free(msg);
        check_set(&pd);
        char line[64];
        perfdata_first_line(in, len, line, sizeof line);
        if (strlen(line) >= sizeof line)
            abort();
    } else {
        if (perfdata_parse(&pd, in, len))
            abort();
        check_set(&pd);
        for (size_t i = 0; i < len;) {
            const char *semi = memchr(in + i, ';', len - i);
            size_t e = semi ? (size_t)(semi - in) : len;
            double v = 0;
            int given = 0;
            if (e > i && perfdata_range(in + i, e - i, &v, &given) == 0 && given && !isfinite(v))
                abort();
            i = e + 1;
        }
    }
    perfdata_free(&pd);
    return 0;
}
