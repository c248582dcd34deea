/* curlmux: one libcurl multi handle driven by a libuv loop (the socket-action pattern), shared
 * by every transfer the probes make on that loop (http, scrape), so a thousand HTTP probes
 * share one event loop, one DNS cache and one connection pool instead of a thread each.
 * Loop thread only. */
#ifndef DD_CURLMUX_H
#define DD_CURLMUX_H

#include <curl/curl.h>
#include <uv.h>

typedef struct curlmux curlmux;

/* Called on the loop thread when a transfer ends (result CURLE_OK or the error). The easy
 * handle is already removed from the multi handle; the callee owns it again. */
typedef void (*curlmux_done_fn)(void *ctx, CURL *easy, CURLcode result);

/* Creates a multi handle on loop. Returns 0 or -ENOMEM. */
int curlmux_new(curlmux **out, uv_loop_t *loop);
/* Starts the transfer set up on easy (the caller keeps owning it; it must not set
 * CURLOPT_PRIVATE, which curlmux uses). cb runs once when it ends, unless curlmux_remove is
 * called first. Returns 0 or -ENOMEM. */
int curlmux_add(curlmux *m, CURL *easy, curlmux_done_fn cb, void *ctx);
/* Stops a transfer in progress (its callback is not called). Accepts a handle not added. */
void curlmux_remove(curlmux *m, CURL *easy);
/* Transfers in progress. */
int curlmux_running(const curlmux *m);
/* Stops every transfer (no callbacks) and frees the multi handle once libuv has closed its
 * handles (run the loop until it ends). Accepts NULL. */
void curlmux_close(curlmux *m);

#endif
