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

/* Creates a sender posting to url with the bearer token (may be NULL). Returns 0, -EINVAL
 * (bad URL) or -ENOMEM. */
int sender_new(sender **out, uv_loop_t *loop, const char *url, const char *token);
/* Starts posting data (copied). Returns 0, -EBUSY if a post is in flight, or -ENOMEM. */
int sender_post(sender *s, const void *data, size_t len, sender_done_fn cb, void *ctx);
int sender_busy(const sender *s);
/* Cancels any post in flight (its callback is not called) and releases the sender's handles;
 * the sender is freed once libuv has closed them (run the loop until it ends). */
void sender_close(sender *s);

#endif
