/* softnet: per-CPU packet processing counters from /proc/net/softnet_stat
 * (node_softnet_processed_total, node_softnet_dropped_total, node_softnet_times_squeezed_total
 * and, on kernels that print it, node_softnet_backlog_len), label cpu. */
#include "collector_int.h"

#include <errno.h>
#include <string.h>

/* Columns, all %08x: processed, dropped, time_squeeze, five unused, cpu_collision,
 * received_rps, flow_limit_count (9 to 11 columns since 2.6), then backlog length and the CPU
 * id (Linux 5.10+), then input and process queue lengths (6.x). node_exporter requires 9. */
#define SOFTNET_MIN 9
#define SOFTNET_MAX 32
#define SOFTNET_BACKLOG 11
#define SOFTNET_CPU 12

/* Parses s as an unsigned hexadecimal number of 1 to 16 digits without prefix. */
static int softnet_hex(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            return -EINVAL;
        if (n == 16)
            return -EINVAL;
        v = v << 4 | d;
    }
    if (n == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Writes v in decimal into dst (at least 21 bytes) and returns dst. */
static char *softnet_dec(char *dst, uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    dst[n] = '\0';
    return dst;
}

static int softnet_line(char *line, uint64_t row, batch *b)
{
    uint64_t v[SOFTNET_MAX];
    size_t n = 0;
    char *cur = line, *f;
    char cpu[21];
    /* Columns a future kernel appends past SOFTNET_MAX are checked but not kept. */
    while ((f = coll_field(&cur))) {
        uint64_t x;
        if (softnet_hex(f, &x))
            return -EINVAL;
        if (n < SOFTNET_MAX)
            v[n] = x;
        n++;
    }
    if (n < SOFTNET_MIN)
        return -EINVAL;
    /* Rows are only printed for online CPUs, so the row index is the CPU number only where
     * none is offline; newer kernels print the real id. */
    const char *const *lbl = (const char *const[]){
        "cpu", softnet_dec(cpu, n > SOFTNET_CPU ? v[SOFTNET_CPU] : row), NULL};
    int rc = batch_add(b, "node_softnet_processed_total", lbl, (double)v[0]);
    if (!rc)
        rc = batch_add(b, "node_softnet_dropped_total", lbl, (double)v[1]);
    if (!rc)
        rc = batch_add(b, "node_softnet_times_squeezed_total", lbl, (double)v[2]);
    if (!rc && n > SOFTNET_BACKLOG)
        rc = batch_add(b, "node_softnet_backlog_len", lbl, (double)v[SOFTNET_BACKLOG]);
    return rc;
}

int coll_softnet(const coll_env *env, batch *b)
{
    char buf[COLL_BUF_LARGE];
    size_t len;
    /* One seq_file record per CPU: read to the end. */
    int rc = coll_read(env, env->proc, "/net/softnet_stat", buf, sizeof buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    char *cur = buf, *line;
    uint64_t row = 0;
    while ((line = coll_line(&cur))) {
        if (!*line)
            continue;
        rc = softnet_line(line, row++, b);
        if (rc)
            return rc;
    }
    return 0;
}
