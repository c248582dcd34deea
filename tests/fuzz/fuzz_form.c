/* libFuzzer target: URL-encoded form parsing, and time/duration parameters. */
#include "http/form.h"
#include "lib/timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_form f;
    http_form_init(&f);
    http_form_parse(&f, (const char *)data, size);
    for (size_t i = 0; i < f.n; i++) {
        int64_t ms;
        timeutil_parse_time(f.v[i].value, &ms);
        timeutil_parse_step(f.v[i].value, &ms);
        timeutil_parse_duration(f.v[i].value, &ms);
    }
    http_form_free(&f);
    return 0;
}
