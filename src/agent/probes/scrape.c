/* scrape: the scrape probe. (Placeholder while the type is being written: refuses every definition, so
 * nothing pretends to run.) */
#include "probe.h"

#include <errno.h>
#include <stdio.h>

static int scrape_prepare(const probe_def *d, void **prep, char *err, size_t errcap)
{
    (void)d;
    (void)prep;
    snprintf(err, errcap, "the scrape probe is not available in this build yet");
    return -EINVAL;
}

static void scrape_start(probe_run *r)
{
    probe_run_done(r, 0, "not available");
}

const probe_type probe_scrape_type = {
    .name = "scrape",
    .prepare = scrape_prepare,
    .start = scrape_start,
};
