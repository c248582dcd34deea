/* enroll: the agent's side of enrollment (POST /api/v1/agent/enroll, docs/catalog.md) and its
 * state directory.
 *
 * The state directory (agent --state DIR) keeps what enrollment gave the agent so that a
 * restarted agent is the same agent: `agent.token`, the per-agent token (one line, mode 0600),
 * and `agent.json`, {"agent":N,"device":N,"server":"<base URL>"}. Both are written atomically
 * (temporary file, fsync, rename). This module builds the request body, parses the server's
 * answer strictly, and loads and saves the state; the HTTP exchange itself is the agent's
 * (agent.c). Any one thread at a time; nothing is kept between calls. */
#ifndef DD_ENROLL_H
#define DD_ENROLL_H

#include "../lib/buf.h"

#include <stddef.h>
#include <stdint.h>

#define ENROLL_TOKEN_MAX 256    /* longest token accepted (bytes) */
#define ENROLL_SERVER_MAX 512   /* longest server URL remembered */
#define ENROLL_ANSWER_MAX 65536 /* longest answer parsed */

typedef struct enroll_state {
    char token[ENROLL_TOKEN_MAX + 1];   /* "" when the agent has none */
    int64_t agent_id, device_id;        /* 0 when unknown */
    char server[ENROLL_SERVER_MAX + 1]; /* base URL of the server that issued the token, or "" */
} enroll_state;

typedef struct enroll_identity {
    const char *hostname;   /* required: 1 to 253 printable ASCII characters */
    const char *machine_id; /* NULL or "": left out; else 32 lowercase hex digits */
    const char *version;    /* required: the agent's version, printable ASCII */
    const char *dmi_uuid;   /* NULL or "": left out; else a UUID */
    const char *instance;   /* NULL or "": left out (the host name); else --instance, printable */
} enroll_identity;

/* True if tok is a token the server issues on enrollment: "ddt_" and then 4 to
 * ENROLL_TOKEN_MAX - 4 characters of RFC 6750's b64token set (letters, digits, - . _ ~ + /,
 * then optional '=' padding). */
int enroll_token_valid(const char *tok);

/* Loads DIR/agent.token and DIR/agent.json into st (cleared first). Returns 0 when a valid
 * token was loaded, -ENOENT when the directory or the token file is absent, -EINVAL when the
 * token file holds no valid token (reason in err), or another -errno from reading. A missing
 * or malformed agent.json only leaves the ids and server unknown (noted in err, still 0). err
 * (errcap bytes, may be NULL) gets a human message for any non-zero return. */
int enroll_state_load(const char *dir, enroll_state *st, char *err, size_t errcap);

/* Creates DIR (mode 0700 for new directories) and writes st's token to DIR/agent.token and
 * ids and server to DIR/agent.json, both mode 0600, atomically. Returns 0, -EINVAL (st holds
 * no valid token) or -errno from the file system. */
int enroll_state_save(const char *dir, const enroll_state *st);

/* Appends the enrollment request body {"hostname","machine_id","version","dmi_uuid"} to out.
 * Returns 0, -EINVAL (a required field missing or a field malformed) or out's error
 * (-ENOMEM, -E2BIG). */
int enroll_request_body(const enroll_identity *id, buf *out);

/* Parses a 200 answer {"status":"success","data":{"agent":N,"device":N,"token":"ddt_..."}}
 * (body of len bytes, not NUL-terminated) into st's token and ids (server untouched). Unknown
 * extra members are allowed. Returns 0, -EINVAL with the reason in err (not JSON, wrong
 * types, missing members, ids not positive, invalid token, longer than ENROLL_ANSWER_MAX), or
 * -ENOMEM. st is left unchanged on error. */
int enroll_parse_answer(const char *body, size_t len, enroll_state *st, char *err, size_t errcap);

/* Writes a one-line description of an error answer into dst (cap bytes): the "error" member
 * of a {"status":"error",...} body, else the body's first bytes, with control characters and
 * non-ASCII bytes replaced, or "(empty answer)". */
void enroll_error_text(const char *body, size_t len, char *dst, size_t cap);

#endif
