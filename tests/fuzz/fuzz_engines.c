/* libFuzzer target: a container engine's /containers/json answer (Docker's or podman's), as
 * the containers collector's name map reads it. */
#include "agent/engines.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    engines_list l;
    char err[256];
    memset(&l, 0, sizeof l);
    int rc = engines_parse((const char *)data, size, "team,com.example.app", &l, err, sizeof err);
    if (rc == 0) {
        /* Whatever is accepted has well-formed ids and only allow-listed labels. */
        for (size_t i = 0; i < l.n; i++) {
            assert(strlen(l.v[i].id) == 64);
            assert(l.v[i].nlabels <= ENGINES_MAX_LABELS);
            for (size_t k = 0; k < l.v[i].nlabels; k++)
                assert(strcmp(l.v[i].labels[2 * k], "team") == 0 ||
                       strcmp(l.v[i].labels[2 * k], "com.example.app") == 0);
        }
    } else {
        assert(err[0]);
    }
    engines_list_clear(&l);
    return 0;
}
