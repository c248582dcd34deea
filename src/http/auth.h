/* auth: API tokens. The first start writes DIR/admin.token and DIR/agent.token (mode 0600,
 * 256 random bits each); later starts read them. A request presents a token as
 * "Authorization: Bearer <token>" or as the password of HTTP basic auth. The agent token may
 * only write samples; the admin token may do everything. Read-only after auth_load; any
 * thread. */
#ifndef DD_AUTH_H
#define DD_AUTH_H

#include <stddef.h>

typedef enum http_role {
    HTTP_ROLE_NONE = 0,   /* no credentials, or wrong ones */
    HTTP_ROLE_AGENT = 1,  /* may write samples */
    HTTP_ROLE_ADMIN = 2,  /* may do everything */
} http_role;

#define AUTH_TOKEN_LEN 43 /* base64url of 32 bytes, no padding */

typedef struct auth_tokens {
    char admin[AUTH_TOKEN_LEN + 1];
    char agent[AUTH_TOKEN_LEN + 1];
    int created; /* 1 if this start generated them (print once) */
} auth_tokens;

/* Loads the tokens from dir, creating them if absent. Returns 0, -EINVAL (a token file that
 * is malformed, with the reason in err) or -errno. */
int auth_load(auth_tokens *t, const char *dir, char *err, size_t errlen);
/* Returns the role a presented token grants (constant time in the token). */
http_role auth_role(const auth_tokens *t, const char *token);
/* Generates a fresh random token into out (AUTH_TOKEN_LEN + 1 bytes). Returns 0 or -errno. */
int auth_generate(char *out);

#endif
