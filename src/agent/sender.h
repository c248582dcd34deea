/* sender: posts remote-write bodies to the server with libcurl's multi interface driven by the
 * agent's libuv loop, so sending never blocks collection. One request in flight at a time
 * (batches must arrive in order). Loop thread only. */
#ifndef DD_SENDER_H
#define DD_SENDER_H

#include <stddef.h>
#include <uv.h>

typedef struct sender sender;

typedef enum sender_result {
    SENDER_OK,      /* 2xx: delivered */
    SENDER_RETRY,   /* network error, timeout, 5xx or 429: keep and retry later */
    SENDER_REFUSED, /* another 4xx: the server will never take it; park it */
} sender_result;

/* Called on the loop thread when a post ends. msg describes a failure (empty on success). */
typedef void (*sender_done_fn)(void *ctx, sender_result r, long status, const char *msg);

/* How a sender talks: the defaults (all zero) are a remote-write POST. */
typedef struct sender_opts {
    const char *method;       /* NULL: POST; else e.g. "PUT" (copied) */
    const char *content_type; /* NULL: remote write (protobuf, snappy, version header); else
                               * this Content-Type and no other body headers (copied) */
    size_t response_max;      /* answer bytes kept for sender_response; 0: 512 */
} sender_opts;

/* Creates a sender posting to url with the bearer token (may be NULL). Returns 0, -EINVAL
 * (bad URL) or -ENOMEM. */
int sender_new(sender **out, uv_loop_t *loop, const char *url, const char *token);
/* sender_new with options (o may be NULL: the defaults). Same returns. */
int sender_new_opts(sender **out, uv_loop_t *loop, const char *url, const char *token,
                    const sender_opts *o);
/* Replaces the bearer token (copied; NULL or "" sends none) from the next post on; a post in
 * flight keeps the old one. Returns 0, -EINVAL (longer than 1000 bytes) or -ENOMEM (the old
 * token stays). */
int sender_set_token(sender *s, const char *token);
/* The answer of the last finished post, for the done callback: its first bytes (at most
 * response_max, NUL-terminated), their count in *len, and in *truncated whether the answer
 * was longer. Valid until the next post. */
const char *sender_response(const sender *s, size_t *len, int *truncated);
/* Starts posting data (copied). Returns 0, -EBUSY if a post is in flight, or -ENOMEM. */
int sender_post(sender *s, const void *data, size_t len, sender_done_fn cb, void *ctx);
int sender_busy(const sender *s);
/* Cancels any post in flight (its callback is not called) and releases the sender's handles;
 * the sender is freed once libuv has closed them (run the loop until it ends). */
void sender_close(sender *s);

#endif
