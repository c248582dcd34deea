/* access: tokens, sessions, logins with throttling, first admin, password resets. */
#include "access.h"

#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timeutil.h"
#include "catalog_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define USED_EVERY_MS 60000
#define THROTTLE_FREE 5          /* failures before throttling starts */
#define THROTTLE_MAX_S 900
#define THROTTLE_FORGET_MS 3600000
#define THROTTLE_PROBE 16

static cat_cred cred_of(const char *role)
{
    static const struct {
        const char *n;
        cat_cred c;
    } t[] = {{"enroll", CAT_CRED_ENROLL}, {"agent", CAT_CRED_AGENT}, {"viewer", CAT_CRED_VIEWER},
             {"editor", CAT_CRED_EDITOR}, {"admin", CAT_CRED_ADMIN}};
    for (size_t i = 0; role && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(role, t[i].n))
            return t[i].c;
    return CAT_CRED_NONE;
}

static void random_text(char *out, size_t cap, size_t nbytes)
{
    unsigned char raw[48];
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    randombytes_buf(raw, nbytes);
    sodium_bin2base64(out, cap, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---------------------------------------------------------------- tokens */

int cat_access_token(cat_store *s, const char *secret, cat_principal *out)
{
    char hash[65];
    cat_result r = {0};
    sqlite3_stmt *st = NULL;
    int rc = -ENOENT;
    memset(out, 0, sizeof *out);
    if (strncmp(secret, "ddt_", 4) || strlen(secret) > 100)
        return -ENOENT;
    cat__hash_secret(secret, hash);
    int64_t now = timeutil_now_ms();
    pthread_mutex_lock(&s->mu);
    if (cat__prepare(s, &r,
                     "SELECT t.id, t.role, t.user, t.agent, t.expires_at, coalesce(t.revoked, 0),"
                     " t.name, u.name, u.role, coalesce(u.disabled, 0), a.name,"
                     " coalesce(t.last_used_at, 0), coalesce(a.last_seen, 0)"
                     " FROM token t LEFT JOIN \"user\" u ON u.id = t.user"
                     " LEFT JOIN agent a ON a.id = t.agent WHERE t.hash = ?",
                     &st)) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    int64_t id = sqlite3_column_int64(st, 0);
    cat_cred cred = cred_of((const char *)sqlite3_column_text(st, 1));
    int has_user = sqlite3_column_type(st, 2) != SQLITE_NULL;
    int has_exp = sqlite3_column_type(st, 4) != SQLITE_NULL;
    if (sqlite3_column_int(st, 5) || (has_exp && sqlite3_column_int64(st, 4) <= now))
        goto out; /* revoked or expired */
    if (has_user) {
        if (sqlite3_column_int(st, 9))
            goto out; /* the user is disabled */
        /* A token acts as its user: never more than the user's role. */
        cat_cred ucred = cred_of((const char *)sqlite3_column_text(st, 8));
        if (cred >= CAT_CRED_VIEWER && ucred < cred)
            cred = ucred;
        out->user_id = sqlite3_column_int64(st, 2);
        snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(st, 7));
    } else if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
        out->agent_id = sqlite3_column_int64(st, 3);
        snprintf(out->name, sizeof out->name, "agent:%s",
                 (const char *)sqlite3_column_text(st, 10));
    } else
        snprintf(out->name, sizeof out->name, "token:%s", (const char *)sqlite3_column_text(st, 6));
    out->cred = cred;
    out->token_id = id;
    int stale_token = now - sqlite3_column_int64(st, 11) >= USED_EVERY_MS;
    int stale_agent = out->agent_id && now - sqlite3_column_int64(st, 12) >= USED_EVERY_MS / 4;
    sqlite3_finalize(st);
    st = NULL;
    rc = 0;
    /* Usage marks are best effort: a failure to record them does not refuse the request. */
    if (stale_token)
        cat__exec(s, &r, "ii", "UPDATE token SET last_used_at = ? WHERE id = ?", now, id);
    if (stale_agent)
        cat__exec(s, &r, "ii", "UPDATE agent SET last_seen = ? WHERE id = ?", now,
                  out->agent_id);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    cat_result_clear(&r);
    return rc;
}

/* ---------------------------------------------------------------- sessions */

int cat_access_session(cat_store *s, const char *sid, cat_principal *out)
{
    char hash[65];
    cat_result r = {0};
    sqlite3_stmt *st = NULL;
    int rc = -ENOENT;
    memset(out, 0, sizeof *out);
    if (strlen(sid) != CAT_SESSION_LEN)
        return -ENOENT;
    cat__hash_secret(sid, hash);
    int64_t now = timeutil_now_ms();
    pthread_mutex_lock(&s->mu);
    if (cat__prepare(s, &r,
                     "SELECT s.user, s.csrf, s.expires, s.last_seen, u.name, u.role,"
                     " coalesce(u.disabled, 0) FROM session s JOIN \"user\" u ON u.id = s.user"
                     " WHERE s.hash = ?",
                     &st)) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    if (sqlite3_column_int64(st, 2) <= now || sqlite3_column_int(st, 6))
        goto out;
    out->user_id = sqlite3_column_int64(st, 0);
    snprintf(out->csrf, sizeof out->csrf, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(st, 4));
    out->cred = cred_of((const char *)sqlite3_column_text(st, 5));
    int stale = now - sqlite3_column_int64(st, 3) >= USED_EVERY_MS;
    sqlite3_finalize(st);
    st = NULL;
    rc = out->cred >= CAT_CRED_VIEWER ? 0 : -ENOENT;
    if (!rc && stale)
        cat__exec(s, &r, "is", "UPDATE session SET last_seen = ? WHERE hash = ?", now, hash);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    cat_result_clear(&r);
    return rc;
}

/* ---------------------------------------------------------------- throttling */

static cat_throttle_slot *throttle_slot(cat_store *s, const char *key, int create, int64_t now)
{
    if (!s->throttle) {
        if (!create || !(s->throttle = mem_calloc(CAT_THROTTLE_SLOTS, sizeof *s->throttle)))
            return NULL;
    }
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    cat_throttle_slot *victim = NULL;
    for (int i = 0; i < THROTTLE_PROBE; i++) {
        cat_throttle_slot *sl = &s->throttle[(h + (uint64_t)i) % CAT_THROTTLE_SLOTS];
        if (sl->key[0] && !strcmp(sl->key, key)) {
            if (now - sl->last_ms > THROTTLE_FORGET_MS)
                sl->fails = 0, sl->until_ms = 0;
            return sl;
        }
        if (victim && !victim->key[0])
            continue; /* keep the first free slot */
        if (!victim || !sl->key[0] || sl->last_ms < victim->last_ms)
            victim = sl;
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    return victim;
}

/* Seconds until key may try again (0: now). */
static int throttle_wait(cat_store *s, const char *key, int64_t now)
{
    pthread_mutex_lock(&s->thr_mu);
    cat_throttle_slot *sl = throttle_slot(s, key, 0, now);
    int wait = sl && sl->until_ms > now ? (int)((sl->until_ms - now + 999) / 1000) : 0;
    pthread_mutex_unlock(&s->thr_mu);
    return wait;
}

static void throttle_fail(cat_store *s, const char *key, int64_t now)
{
    pthread_mutex_lock(&s->thr_mu);
    cat_throttle_slot *sl = throttle_slot(s, key, 1, now);
    if (sl) {
        sl->fails++;
        sl->last_ms = now;
        if (sl->fails >= THROTTLE_FREE) {
            int shift = sl->fails - THROTTLE_FREE;
            int64_t wait = shift >= 10 ? THROTTLE_MAX_S : (int64_t)1 << shift;
            if (wait > THROTTLE_MAX_S)
                wait = THROTTLE_MAX_S;
            sl->until_ms = now + wait * 1000;
        }
    }
    pthread_mutex_unlock(&s->thr_mu);
}

static void throttle_reset(cat_store *s, const char *key)
{
    pthread_mutex_lock(&s->thr_mu);
    cat_throttle_slot *sl = throttle_slot(s, key, 0, timeutil_now_ms());
    if (sl)
        memset(sl, 0, sizeof *sl);
    pthread_mutex_unlock(&s->thr_mu);
}

/* ---------------------------------------------------------------- login */

/* A verify against a fixed hash so that unknown user names cost as much as wrong passwords. */
static void burn_verify(const char *pw)
{
    static const char dummy[crypto_pwhash_STRBYTES] =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
        "7PExkhzN9Vr2nC2cxW2GQ8ZK2kvPjR6Ot5x3K0u7Rzk";
    if (crypto_pwhash_str_verify(dummy, pw, strlen(pw)) == 0)
        log_warn("login: the dummy hash matched (impossible)");
}

int cat_access_login(cat_store *s, const char *user, const char *password, const char *client,
                     char *sid, cat_principal *out, int *retry_after_s)
{
    char ukey[80], akey[80], hash[crypto_pwhash_STRBYTES] = "", role[16] = "", name[80] = "";
    cat_result r = {0};
    sqlite3_stmt *st = NULL;
    int64_t uid = 0, now = timeutil_now_ms();
    int disabled = 0, rc;
    memset(out, 0, sizeof *out);
    *retry_after_s = 0;
    snprintf(ukey, sizeof ukey, "u:%.70s", user);
    snprintf(akey, sizeof akey, "a:%.70s", client ? client : "");
    int w1 = throttle_wait(s, ukey, now), w2 = throttle_wait(s, akey, now);
    if (w1 || w2) {
        *retry_after_s = w1 > w2 ? w1 : w2;
        return -EAGAIN;
    }
    pthread_mutex_lock(&s->mu);
    rc = cat__prepare(s, &r,
                      "SELECT id, password, role, coalesce(disabled, 0), name FROM \"user\" "
                      "WHERE name = ?",
                      &st);
    if (!rc) {
        sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            uid = sqlite3_column_int64(st, 0);
            snprintf(hash, sizeof hash, "%s",
                     sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
            snprintf(role, sizeof role, "%s", (const char *)sqlite3_column_text(st, 2));
            disabled = sqlite3_column_int(st, 3);
            snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 4));
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    cat_result_clear(&r);
    if (rc)
        return -EIO;
    /* The expensive check runs without the catalog lock. */
    int ok = 0;
    if (uid && hash[0])
        ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    else
        burn_verify(password);
    if (!ok || disabled) {
        throttle_fail(s, ukey, now);
        throttle_fail(s, akey, now);
        log_info("login failed for user \"%.64s\" from %s", user, client ? client : "?");
        return -EACCES;
    }
    throttle_reset(s, ukey);
    throttle_reset(s, akey);

    char shash[65];
    random_text(sid, CAT_SESSION_LEN + 1, 32);
    random_text(out->csrf, sizeof out->csrf, 24);
    cat__hash_secret(sid, shash);
    if ((rc = cat__begin(s, &r)))
        return rc;
    rc = cat__exec(s, &r, "sisiii",
                   "INSERT INTO session(hash, user, csrf, created, expires, last_seen) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   shash, uid, out->csrf, now, now + CAT_SESSION_MAX_AGE_S * 1000LL, now);
    /* Expired sessions go away with each login. */
    if (!rc)
        rc = cat__exec(s, &r, "i", "DELETE FROM session WHERE expires <= ?", now);
    rc = cat__end(s, rc, &r);
    cat_result_clear(&r);
    if (rc)
        return rc;
    out->cred = cred_of(role);
    out->user_id = uid;
    snprintf(out->name, sizeof out->name, "%s", name);
    log_info("user \"%s\" logged in from %s", name, client ? client : "?");
    return 0;
}

int cat_access_logout(cat_store *s, const char *sid)
{
    char hash[65];
    cat_result r = {0};
    cat__hash_secret(sid, hash);
    pthread_mutex_lock(&s->mu);
    int rc = cat__exec(s, &r, "s", "DELETE FROM session WHERE hash = ?", hash);
    pthread_mutex_unlock(&s->mu);
    cat_result_clear(&r);
    return rc;
}

/* ---------------------------------------------------------------- passwords */

static int patch_password(cat_store *s, int64_t uid, const char *pw, const char *actor,
                          cat_result *r)
{
    json_t *in = json_pack("{ss}", "password", pw);
    if (!in)
        return -ENOMEM;
    int rc = cat__begin(s, r);
    if (!rc)
        rc = cat__end(s, cat__patch(s, cat_model_find("user"), actor, uid, in, r), r);
    json_decref(in);
    return rc;
}

int cat_access_change_password(cat_store *s, int64_t user_id, const char *old_pw,
                               const char *new_pw, cat_result *r)
{
    char hash[crypto_pwhash_STRBYTES] = "", name[80] = "";
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = cat__prepare(s, r, "SELECT password, name FROM \"user\" WHERE id = ?", &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, user_id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
            snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 1));
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return rc;
    if (!hash[0] || crypto_pwhash_str_verify(hash, old_pw, strlen(old_pw)) != 0) {
        snprintf(r->msg, sizeof r->msg, "the current password is wrong");
        return -EACCES;
    }
    return patch_password(s, user_id, new_pw, name, r);
}

int cat_access_first_admin(cat_store *s, char *pw, size_t cap)
{
    cat_result r = {0};
    sqlite3_stmt *st = NULL;
    int rc = cat__begin(s, &r);
    if (rc)
        return rc;
    long long n = -1;
    if (!(rc = cat__prepare(s, &r, "SELECT count(*) FROM \"user\"", &st)) &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (!rc && n == 0) {
        random_text(pw, cap, 18);
        json_t *in = json_pack("{ss ss ss ss}", "name", "admin", "display_name",
                               "Administrator", "role", "admin", "password", pw);
        int64_t id;
        rc = in ? cat__insert(s, cat_model_find("user"), "system", in, &id, NULL, 0, &r)
                : -ENOMEM;
        json_decref(in);
    }
    rc = cat__end(s, rc, &r);
    if (rc)
        log_error("catalog: cannot create the first admin user: %s", r.msg);
    cat_result_clear(&r);
    return rc ? rc : n == 0;
}

int cat_access_set_password(cat_store *s, const char *user, const char *pw, char *gen,
                            size_t cap, const char *actor, cat_result *r)
{
    sqlite3_stmt *st = NULL;
    int64_t uid = 0;
    pthread_mutex_lock(&s->mu);
    int rc = cat__prepare(s, r, "SELECT id FROM \"user\" WHERE name = ?", &st);
    if (!rc) {
        sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            uid = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return rc;
    if (!uid) {
        snprintf(r->msg, sizeof r->msg, "no user named \"%.100s\"", user);
        return -ENOENT;
    }
    if (!pw) {
        random_text(gen, cap, 18);
        pw = gen;
    }
    rc = patch_password(s, uid, pw, actor, r);
    if (rc == -EINVAL && r->errors) {
        const char *why = json_string_value(json_object_get(r->errors, "password"));
        snprintf(r->msg, sizeof r->msg, "password: %s", why ? why : "invalid");
    }
    if (!rc) {
        char key[80];
        snprintf(key, sizeof key, "u:%.70s", user);
        throttle_reset(s, key);
    }
    return rc;
}
