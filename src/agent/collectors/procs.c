/* procs: placeholder, being written. */
#include "collector_int.h"

int coll_procs(const coll_env *env, batch *b)
{
    (void)env;
    (void)b;
    return 0;
}

void coll_procs_free(void *state)
{
    (void)state;
}
