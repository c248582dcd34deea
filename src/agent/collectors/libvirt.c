/* libvirt: placeholder, being written. */
#include "collector_int.h"

int coll_libvirt(const coll_env *env, batch *b)
{
    (void)env;
    (void)b;
    return 0;
}

void coll_libvirt_free(void *state)
{
    (void)state;
}
