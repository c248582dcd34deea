/* libFuzzer target: the enrollment answer (the body of a 200 from POST /api/v1/agent/enroll)
 * and the error text the agent logs from any answer. */
#include "agent/enroll.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enroll_state st;
    char err[300], text[300];
    memset(&st, 0, sizeof st);
    if (enroll_parse_answer((const char *)data, size, &st, err, sizeof err) == 0) {
        /* Whatever is accepted is a token the agent can store and load again. */
        assert(enroll_token_valid(st.token));
        assert(st.agent_id > 0 && st.device_id > 0);
    }
    enroll_error_text((const char *)data, size, text, sizeof text);
    assert(strlen(text) < sizeof text);
    return 0;
}
