/* access: who may do what. Resolves API tokens and session ids into principals, logs users
 * in (argon2id password check, brute-force throttling), manages sessions, creates the first
 * admin user and resets passwords. Any thread. */
#ifndef DD_CAT_ACCESS_H
#define DD_CAT_ACCESS_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* The credential kinds a token may carry, beyond the catalog roles. */
typedef enum cat_cred {
    CAT_CRED_NONE = 0,
    CAT_CRED_ENROLL,
    CAT_CRED_AGENT,
    CAT_CRED_VIEWER,
    CAT_CRED_EDITOR,
    CAT_CRED_ADMIN,
} cat_cred;

typedef struct cat_principal {
    cat_cred cred;
    int64_t user_id;  /* > 0 for sessions and tokens bound to a user */
    int64_t token_id;
    int64_t agent_id;
    char name[96];    /* audit name */
    char csrf[64];    /* sessions only */
} cat_principal;

#define CAT_SESSION_LEN 43 /* base64url of 32 random bytes */
#define CAT_SESSION_MAX_AGE_S (7 * 86400)

/* Resolves an API token. Returns 0, -ENOENT (unknown, revoked, expired, or its user is
 * disabled) or -EIO. Marks last use at most once a minute (and the agent's last_seen). */
int cat_access_token(cat_store *s, const char *secret, cat_principal *out);
/* Resolves a session id from the cookie. Returns 0, -ENOENT (unknown or expired, or the user
 * disabled) or -EIO. */
int cat_access_session(cat_store *s, const char *sid, cat_principal *out);

/* Checks a user name and password. client is the caller's address (for throttling). On
 * success creates a session: sid (CAT_SESSION_LEN + 1 bytes) and the principal (with its CSRF
 * token). Returns 0; -EACCES for a wrong name or password (or a disabled user);
 * -EAGAIN when too many recent failures (*retry_after_s set); -EIO / -ENOMEM. */
int cat_access_login(cat_store *s, const char *user, const char *password, const char *client,
                     char *sid, cat_principal *out, int *retry_after_s);
/* Ends a session. */
int cat_access_logout(cat_store *s, const char *sid);
/* Changes a user's own password after checking the old one. Returns 0, -EACCES (old password
 * wrong), -EINVAL (new one too short/long: message in r) or -EIO. */
int cat_access_change_password(cat_store *s, int64_t user_id, const char *old_pw,
                               const char *new_pw, cat_result *r);

/* First run: when no user exists, creates "admin" (role admin) with a random password written
 * to pw (at least 24 bytes). Returns 1 when created, 0 when users exist, or -errno. */
int cat_access_first_admin(cat_store *s, char *pw, size_t cap);
/* Sets a user's password (creating an admin user of that name if absent when create is set).
 * pw NULL: generates one into gen (at least 24 bytes). Audited as actor. Returns 0, -ENOENT,
 * -EINVAL (message in r) or -EIO. */
int cat_access_set_password(cat_store *s, const char *user, const char *pw, char *gen,
                            size_t cap, const char *actor, cat_result *r);

#endif
