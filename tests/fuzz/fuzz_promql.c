/* libFuzzer target: the PromQL parser on arbitrary bytes (NUL-terminated copy). */
#include "lib/mem.h"
#include "promql/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    promql_expr *e = NULL;
    char err[512];
    if (promql_parse(q, &e, err, sizeof err) == 0)
        promql_expr_free(e);
    else if (!err[0])
        abort(); /* every refusal must say why */
    free(q);
    return 0;
}
