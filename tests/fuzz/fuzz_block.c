/* libFuzzer target: the block reader must accept or refuse any file image without crashing,
 * hanging or reading outside it. Accepted images are walked completely: every chunk of every
 * series is fetched through a cursor and decoded (a damaged frame or chunk is an error, never
 * a crash). */
#include "lib/mem.h"
#include "tsdb/block.h"
#include "tsdb/chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int series_cb(void *ctx, const labels *ls, uint32_t *gid)
{
    uint32_t *next = ctx;
    for (size_t i = 0; i < ls->n; i++)
        if (!ls->v[i].name || !ls->v[i].value)
            abort();
    *gid = (*next)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    block b;
    memset(&b, 0, sizeof b);
    b.map = data;
    b.size = size;
    uint32_t next = 0;
    char err[256];
    if (block_parse(&b, data, size, series_cb, &next, err, sizeof err) != 0)
        return 0;
    if (b.nentries != next)
        abort();
    block_cursor cur;
    memset(&cur, 0, sizeof cur);
    for (size_t i = 0; i < b.nentries; i++) {
        if (block_find(&b, b.entries[i].gid) == NULL)
            abort();
        for (int c = 0; c < b.ncols; c++) {
            const uint8_t *p;
            size_t len;
            if (block_chunk(&cur, &b, &b.entries[i], c, &p, &len) != 0 || !len)
                continue;
            chunk_it it;
            if (chunk_it_init(&it, p, len) != 0)
                continue;
            int64_t t;
            double v;
            while (chunk_it_next(&it, &t, &v) == 1)
                ;
        }
    }
    block_cursor_free(&cur);
    block_parse_free(&b);
    return 0;
}
