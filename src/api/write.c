/* write: the Prometheus remote-write 1.0 receiver (POST /api/v1/write). A request is answered
 * 204 only after its samples are committed to the store; malformed bodies get 400 with the
 * decoder's reason, oversized ones 413. */
#include "api_int.h"

#include "../lib/log.h"
#include "../lib/mem.h"
#include "../wire/rw.h"

#include <errno.h>
#include <string.h>

static void handle_write(http_request *req, http_response *res, void *vctx)
{
    api_ctx *ctx = vctx;
    rw_request *wr = NULL;
    tsdb_series_in *in = NULL;
    tsdb_appender *app = NULL;
    char err[512];

    __atomic_add_fetch(&ctx->write_requests, 1, __ATOMIC_RELAXED);
    const char *enc = http_request_header(req, "Content-Encoding");
    if (enc && strcasecmp(enc, "snappy") != 0) {
        api_error(res, 415, "bad_data", "unsupported Content-Encoding \"%.40s\" (want snappy)",
                  enc);
        goto rejected;
    }
    int rc = rw_decode(req->body, req->body_len, ctx->max_write_decoded, &wr, err, sizeof err);
    if (rc == -E2BIG) {
        api_error(res, 413, "bad_data", "%s", err);
        goto rejected;
    }
    if (rc == -ENOMEM) {
        api_error(res, 503, "internal", "out of memory decoding the request; retry later");
        goto out;
    }
    if (rc) {
        api_error(res, 400, "bad_data", "%s", err);
        goto rejected;
    }
    in = mem_alloc((wr->nseries + 1) * sizeof *in);
    if (!in || tsdb_appender_begin(ctx->db, &app)) {
        api_error(res, 503, "internal", "out of memory; retry later");
        goto out;
    }
    for (size_t i = 0; i < wr->nseries; i++) {
        in[i].ls = wr->series[i].ls;
        in[i].samples = wr->series[i].samples;
        in[i].nsamples = wr->series[i].nsamples;
        if (tsdb_appender_add(app, &in[i])) {
            api_error(res, 503, "internal", "out of memory; retry later");
            goto out;
        }
    }
    tsdb_append_stats st;
    rc = tsdb_appender_commit(app, &st);
    app = NULL;
    if (rc) {
        api_error(res, 503, "internal", "storage error (%s); retry later", strerror(-rc));
        goto out;
    }
    __atomic_add_fetch(&ctx->samples_received, st.accepted, __ATOMIC_RELAXED);
    size_t refused = st.out_of_order + st.too_old + st.series_limit;
    if (refused) {
        /* Like Prometheus: the rest of the batch is stored, the sender is told with a 400 so it
         * does not retry samples that can never be accepted. */
        log_debug("write: %zu samples refused (%zu out of order, %zu too old, %zu over the "
                  "series limit)",
                  refused, st.out_of_order, st.too_old, st.series_limit);
        api_error(res, 400, "bad_data",
                  "%zu of %zu samples refused: %zu out of order, %zu too old (already in blocks or past "
                  "retention), %zu "
                  "over the series limit",
                  refused, wr->nsamples, st.out_of_order, st.too_old, st.series_limit);
        goto out;
    }
    res->status = 204;
    goto out;
rejected:
    __atomic_add_fetch(&ctx->write_rejected, 1, __ATOMIC_RELAXED);
out:
    tsdb_appender_rollback(app);
    mem_free(in);
    rw_request_free(wr);
}

void api_write_register(http_server *s, api_ctx *ctx)
{
    http_route_add(s, "POST", "/api/v1/write", HTTP_NEED_WRITE, ctx->max_write_body, handle_write,
                   ctx);
}
