/* rwgen: writes remote-write request bodies to stdout for the integration tests, valid and
 * hostile ones, encoded with the same wire module the server decodes with.
 *
 *   rwgen sample METRIC VALUE TS_MS [label=value ...]   a valid one-sample body
 *   rwgen series N                                       N valid series, one sample each (now)
 *   rwgen bomb                                           snappy header claiming 4 GiB
 *   rwgen garbage                                        valid snappy of non-protobuf bytes
 *   rwgen badname                                        valid protobuf, invalid label name
 *   rwgen noname                                         valid protobuf, no __name__ */
#include "lib/buf.h"
#include "lib/labels.h"
#include "lib/timeutil.h"
#include "wire/rw.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int emit(const buf *b)
{
    return fwrite(b->data, 1, b->len, stdout) == b->len ? 0 : 1;
}

static int encode_one(const char *metric, const char *const *extra, size_t nextra, double v,
                      int64_t t)
{
    label lv[LABELS_MAX];
    size_t n = 0;
    if (metric)
        lv[n++] = (label){LABELS_NAME, metric};
    char *copies[LABELS_MAX] = {0};
    for (size_t i = 0; i < nextra && n < LABELS_MAX; i++) {
        copies[i] = strdup(extra[i]);
        char *eq = strchr(copies[i], '=');
        if (!eq) {
            fprintf(stderr, "rwgen: label must be name=value: %s\n", extra[i]);
            return 2;
        }
        *eq = '\0';
        lv[n++] = (label){copies[i], eq + 1};
    }
    rw_series s = {.ls = {lv, n}, .nsamples = 1};
    sample smp = {t, v};
    s.samples = &smp;
    labels_sort(&s.ls);
    buf b;
    buf_init(&b, 0);
    int rc = rw_encode(&s, 1, &b) || emit(&b);
    buf_free(&b);
    for (size_t i = 0; i < nextra; i++)
        free(copies[i]);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        goto usage;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "sample") && argc >= 5) {
        char *end;
        double v = strtod(argv[3], &end);
        long long t = strtoll(argv[4], &end, 10);
        return encode_one(argv[2], (const char *const *)argv + 5, (size_t)(argc - 5), v, t);
    }
    if (!strcmp(cmd, "series") && argc == 3) {
        long n = strtol(argv[2], NULL, 10);
        rw_series *s = calloc((size_t)n, sizeof *s);
        label *lv = calloc((size_t)n * 3, sizeof *lv);
        char(*vals)[32] = calloc((size_t)n, 32);
        sample smp = {timeutil_now_ms(), 1};
        for (long i = 0; i < n; i++) {
            snprintf(vals[i], 32, "%ld", i);
            lv[i * 3] = (label){LABELS_NAME, "rwgen_metric"};
            lv[i * 3 + 1] = (label){"i", vals[i]};
            lv[i * 3 + 2] = (label){"job", "rwgen"};
            s[i].ls = (labels){lv + i * 3, 3};
            s[i].samples = &smp;
            s[i].nsamples = 1;
        }
        buf b;
        buf_init(&b, 0);
        int rc = rw_encode(s, (size_t)n, &b) || emit(&b);
        buf_free(&b);
        free(s);
        free(lv);
        free(vals);
        return rc;
    }
    if (!strcmp(cmd, "bomb")) {
        /* Varint 0xFFFFFFFF as the uncompressed length, then a literal of 4 bytes. */
        static const unsigned char bomb[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x0c, 'a', 'b', 'c', 'd'};
        return fwrite(bomb, 1, sizeof bomb, stdout) == sizeof bomb ? 0 : 1;
    }
    if (!strcmp(cmd, "garbage")) {
        const char raw[] = "\xff\xff\xff\xff this is not a protobuf message \x01\x02";
        size_t clen = snappy_max_compressed_length(sizeof raw);
        char *out = malloc(clen);
        snappy_compress(raw, sizeof raw, out, &clen);
        int rc = fwrite(out, 1, clen, stdout) == clen ? 0 : 1;
        free(out);
        return rc;
    }
    if (!strcmp(cmd, "badname")) {
        const char *extra[] = {"bad-label=x"};
        return encode_one("ok_metric", extra, 1, 1, timeutil_now_ms());
    }
    if (!strcmp(cmd, "noname")) {
        const char *extra[] = {"job=x"};
        return encode_one(NULL, extra, 1, 1, timeutil_now_ms());
    }
usage:
    fprintf(stderr, "usage: rwgen sample METRIC VALUE TS_MS [l=v...] | series N | bomb | garbage "
                    "| badname | noname\n");
    return 2;
}
