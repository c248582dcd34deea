/* engines: container names, images and labels from the container engines' HTTP APIs over
 * their unix sockets (Docker Engine API, podman's compatible API), for the containers
 * collector's `name`, `image` and `container_label_*` labels.
 *
 * The answers are fetched with libcurl multi without blocking: engines_poll starts a refresh
 * when one is due and advances transfers under way by one non-blocking curl_multi_perform, so
 * the agent's loop never waits on an engine. A refresh replaces the whole map when every
 * engine asked has answered (an engine whose socket is absent is not asked). containerd/CRI
 * (gRPC) is not spoken: those containers are named after their cgroup only.
 * One thread owns an engines object (the agent's loop thread). */
#ifndef DD_ENGINES_H
#define DD_ENGINES_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds on what an engine may answer; more is an error for that answer. */
#define ENGINES_BODY_MAX (8u << 20)
#define ENGINES_MAX_CONTAINERS 10000
#define ENGINES_MAX_STR 1024  /* name, image, label value */
#define ENGINES_MAX_LABELS 16 /* allow-listed labels per container (a sample has 24 at most) */

typedef struct engines_opts {
    const char *docker_sock; /* NULL: /run/docker.sock; "" disables */
    const char *podman_sock; /* NULL: /run/podman/podman.sock; "" disables */
    /* Comma-separated container label keys exported as container_label_<key> (NULL or "":
     * none). */
    const char *label_allow;
    int timeout_ms; /* per transfer; 0: 5000 */
} engines_opts;

/* One container as an engine describes it. Strings are owned by the engines object (or the
 * engines_list) that holds the entry. */
typedef struct engines_info {
    char id[65]; /* 64 lowercase hex digits */
    char *name;  /* without Docker's leading '/' */
    char *image;
    size_t nlabels;
    char *labels[2 * ENGINES_MAX_LABELS]; /* key, value, ...: only allow-listed keys */
} engines_info;

typedef struct engines_list {
    engines_info *v;
    size_t n, cap;
} engines_list;

typedef struct engines engines;

/* Creates an engines object (copies what it needs from o, which may be NULL for defaults).
 * Returns 0, -EINVAL (a label key that is not a plain name) or -ENOMEM. */
int engines_new(engines **out, const engines_opts *o);
/* Aborts transfers under way and frees everything. Accepts NULL. */
void engines_free(engines *e);

/* Advances the engines' transfers without blocking. A refresh starts when none is under way
 * and `want` is set or the last one is at least 10 s older than now_ms. Returns 0 or -ENOMEM;
 * failed answers are logged (once per kind) and keep the previous map. */
int engines_poll(engines *e, int64_t now_ms, int want);
/* Like engines_poll with want set, then waits up to 1.5 s for the answers: for one-shot runs
 * (`dashdot agent --once`). */
int engines_fetch_sync(engines *e, int64_t now_ms);
/* Returns the engine's description of container `id` (64 hex digits), or NULL. The pointer is
 * valid until the next engines_poll/engines_fetch_sync. */
const engines_info *engines_lookup(const engines *e, const char *id);

/* Parses a /containers/json answer (Docker's or podman's) into out (appending; entries for
 * ids already in out are skipped), keeping only labels whose key is in the comma-separated
 * allow list (NULL: none). Strict: anything but an array of objects with a 64-hex "Id", a
 * "Names" array of strings, an "Image" string and a "Labels" object (or null) of strings is
 * -EINVAL with a reason in err. Returns 0, -EINVAL, -E2BIG (limits above) or -ENOMEM. */
int engines_parse(const char *body, size_t len, const char *label_allow, engines_list *out,
                  char *err, size_t errlen);
/* Frees the entries of l and empties it. Accepts NULL. */
void engines_list_clear(engines_list *l);

#endif
