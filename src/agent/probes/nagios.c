/* nagios: the nagios probe. (Placeholder while the type is being written: refuses every definition, so
 * nothing pretends to run.) */
#include "probe.h"

#include <errno.h>
#include <stdio.h>

static int nagios_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    (void)d;
    (void)prep;
    snprintf(err, errcap, "the nagios probe is not available in this build yet");
    return -EINVAL;
}

static void nagios_start(probe_run *r)
{
    probe_run_done(r, 0, "not available");
}

const probe_type probe_nagios_type = {
    .name = "nagios",
    .prepare = nagios_prepare,
    .start = nagios_start,
};
