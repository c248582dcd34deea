/* auth: roles, principals and the file tokens. The first start writes DIR/admin.token and
 * DIR/agent.token (mode 0600, 256 random bits each); later starts read them. A request
 * presents a token as "Authorization: Bearer <token>" or as the password of HTTP basic auth,
 * or a session cookie. The file agent token may write samples and enroll agents; the admin
 * token may do everything. Other tokens and sessions are resolved by the server's
 * authenticator (the catalog). Read-only after auth_load; any thread. */
#ifndef DD_AUTH_H
#define DD_AUTH_H

#include <stddef.h>

typedef enum http_role {
    HTTP_ROLE_NONE = 0,   /* no credentials, or wrong ones */
    HTTP_ROLE_ENROLL,     /* may only enroll agents */
    HTTP_ROLE_AGENT,      /* may write samples, enroll and send inventory */
    HTTP_ROLE_VIEWER,     /* may read the catalog */
    HTTP_ROLE_EDITOR,     /* may also change devices, endpoints, probes, ... and write samples */
    HTTP_ROLE_ADMIN,      /* may do everything */
} http_role;

/* Who sent a request. */
typedef struct http_principal {
    http_role role;
    long long user_id;  /* > 0: a user (session, or a token acting as that user) */
    long long token_id; /* > 0: a catalog token */
    long long agent_id; /* > 0: an enrolled agent's token */
    char name[96];      /* for the audit log: "admin", "token:grafana", "agent:web-1" */
    char csrf[64];      /* set for session logins: writes must send it as X-CSRF-Token */
} http_principal;

/* Resolves a presented bearer token (session NULL) or a session cookie value (token NULL)
 * into out. Returns 0 when recognised, -ENOENT when not (unknown, revoked, expired),
 * another -errno on failure. Called on any HTTP thread. */
typedef int (*http_auth_fn)(void *ctx, const char *token, const char *session,
                            http_principal *out);

/* The role's name ("admin", "agent", ...). */
const char *http_role_name(http_role r);

#define AUTH_TOKEN_LEN 43 /* base64url of 32 bytes, no padding */

typedef struct auth_tokens {
    char admin[AUTH_TOKEN_LEN + 1];
    char agent[AUTH_TOKEN_LEN + 1];
    int created; /* 1 if this start generated them (print once) */
} auth_tokens;

/* Loads the tokens from dir, creating them if absent. Returns 0, -EINVAL (a token file that
 * is malformed, with the reason in err) or -errno. */
int auth_load(auth_tokens *t, const char *dir, char *err, size_t errlen);
/* Returns the role a presented file token grants (constant time in the token). */
http_role auth_role(const auth_tokens *t, const char *token);
/* Compares a presented secret a with the expected b without an early exit, so timing does not
 * reveal how much of it matched. Returns 1 when equal. */
int auth_equal(const char *a, const char *b);
/* Generates a fresh random token into out (AUTH_TOKEN_LEN + 1 bytes). Returns 0 or -errno. */
int auth_generate(char *out);

#endif
