/* metrics: GET /metrics, the server's own metrics in the Prometheus text format (store, WAL,
 * tiers, ingest), so dashdot can monitor itself; and POST /api/v1/admin/tsdb/flush (admin
 * token), which writes the head to blocks now (backups, benchmarks). */
#include "api_int.h"

#include "../lib/jsonw.h"

#include <string.h>

static void metric(buf *b, const char *name, const char *type, const char *help, double v)
{
    char num[64];
    jsonw_format_value(v, num, sizeof num);
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, num);
}

/* One metric with a `tier` label, three values. */
static void tier_metric(buf *b, const char *name, const char *type, const char *help,
                        const double v[TSDB_TIERS])
{
    static const char *tiers[TSDB_TIERS] = {"raw", "1m", "1h"};
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int t = 0; t < TSDB_TIERS; t++) {
        char num[64];
        jsonw_format_value(v[t], num, sizeof num);
        buf_printf(b, "%s{tier=\"%s\"} %s\n", name, tiers[t], num);
    }
}

static void handle_metrics(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    api_ctx *ctx = vctx;
    tsdb_stats st;
    tsdb_get_stats(ctx->db, &st);
    buf *b = &res->body;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_printf(b, "# HELP dashdot_build_info Build information.\n# TYPE dashdot_build_info "
                  "gauge\ndashdot_build_info{version=\"%s\"} 1\n",
               DD_VERSION);
    metric(b, "dashdot_start_time_seconds", "gauge", "Start time of the server.",
           (double)ctx->start_ms / 1000.0);
    metric(b, "dashdot_tsdb_series", "gauge", "Series in the store's index.", (double)st.series);
    metric(b, "dashdot_tsdb_head_series", "gauge", "Series with samples in the head.",
           (double)st.head_series);
    metric(b, "dashdot_tsdb_head_samples", "gauge", "Samples held in the head.",
           (double)st.samples);
    metric(b, "dashdot_tsdb_head_chunk_bytes", "gauge", "Bytes of compressed head chunks.",
           (double)st.head_bytes);
    metric(b, "dashdot_tsdb_head_min_valid_time_seconds", "gauge",
           "Samples older than this are refused as too old.",
           st.head_min_valid == INT64_MIN ? 0 : (double)st.head_min_valid / 1000.0);
    metric(b, "dashdot_tsdb_samples_appended_total", "counter", "Samples appended.",
           (double)st.samples_appended);
    metric(b, "dashdot_tsdb_samples_read_total", "counter", "Samples read by queries.",
           (double)st.samples_read);
    metric(b, "dashdot_tsdb_out_of_order_samples_total", "counter",
           "Samples refused: older than their series' newest sample and over the per-series "
           "out-of-order buffer.",
           (double)st.out_of_order);
    metric(b, "dashdot_tsdb_out_of_order_accepted_total", "counter",
           "Samples older than their series' newest sample, stored.",
           (double)st.ooo_accepted);
    metric(b, "dashdot_tsdb_duplicate_samples_total", "counter",
           "Samples dropped as duplicates of an existing timestamp.", (double)st.duplicates);
    metric(b, "dashdot_tsdb_too_old_samples_total", "counter",
           "Samples refused as older than the head's window or the raw retention.",
           (double)st.too_old);
    metric(b, "dashdot_tsdb_wal_bytes", "gauge", "Bytes in WAL segments.", (double)st.wal_bytes);
    metric(b, "dashdot_tsdb_wal_segments", "gauge", "WAL segment files.",
           (double)st.wal_segments);
    metric(b, "dashdot_tsdb_wal_replayed_records", "gauge", "WAL records replayed at start.",
           (double)st.wal_replayed);
    metric(b, "dashdot_tsdb_wal_dropped_bytes", "gauge",
           "Damaged WAL bytes dropped at start.", (double)st.wal_dropped_bytes);
    metric(b, "dashdot_tsdb_head_cuts_total", "counter", "Head ranges written to blocks.",
           (double)st.cuts);
    metric(b, "dashdot_tsdb_head_cut_seconds_total", "counter", "Time spent cutting the head.",
           st.cut_seconds);
    metric(b, "dashdot_tsdb_compactions_total", "counter", "Block compactions.",
           (double)st.compactions);
    metric(b, "dashdot_tsdb_compaction_seconds_total", "counter", "Time spent compacting.",
           st.compaction_seconds);
    metric(b, "dashdot_tsdb_retention_removed_blocks_total", "counter",
           "Blocks removed by retention.", (double)st.retention_drops);
    metric(b, "dashdot_tsdb_frame_cache_hits_total", "counter",
           "Block frames served from the decompressed-frame cache.", (double)st.cache_hits);
    metric(b, "dashdot_tsdb_frame_cache_misses_total", "counter",
           "Block frames decompressed by queries.", (double)st.cache_misses);
    metric(b, "dashdot_tsdb_frame_cache_bytes", "gauge", "Bytes in the frame cache.",
           (double)st.cache_bytes);
    double blocks[TSDB_TIERS], bytes[TSDB_TIERS], samples[TSDB_TIERS], bps[TSDB_TIERS];
    for (int t = 0; t < TSDB_TIERS; t++) {
        blocks[t] = (double)st.tier[t].blocks;
        bytes[t] = (double)st.tier[t].bytes;
        samples[t] = (double)st.tier[t].samples;
        bps[t] = st.tier[t].samples ? bytes[t] / samples[t] : 0;
    }
    tier_metric(b, "dashdot_tsdb_blocks", "gauge", "Block files per tier.", blocks);
    tier_metric(b, "dashdot_tsdb_block_bytes", "gauge", "Bytes of block files per tier.", bytes);
    tier_metric(b, "dashdot_tsdb_block_samples", "gauge",
                "Points held in blocks per tier (tiers: one point per interval and series).",
                samples);
    tier_metric(b, "dashdot_tsdb_bytes_per_sample", "gauge",
                "Block bytes per point held, per tier (index included).", bps);
    metric(b, "dashdot_remote_write_requests_total", "counter", "Remote write requests received.",
           (double)__atomic_load_n(&ctx->write_requests, __ATOMIC_RELAXED));
    metric(b, "dashdot_remote_write_rejected_total", "counter",
           "Remote write requests rejected as malformed or too large.",
           (double)__atomic_load_n(&ctx->write_rejected, __ATOMIC_RELAXED));
    metric(b, "dashdot_remote_write_samples_total", "counter",
           "Samples stored from remote write.",
           (double)__atomic_load_n(&ctx->samples_received, __ATOMIC_RELAXED));
}

static void handle_flush(http_request *req, http_response *res, void *vctx)
{
    (void)req;
    api_ctx *ctx = vctx;
    int rc = tsdb_flush(ctx->db);
    if (rc) {
        api_error(res, 500, "internal", "flush failed: %s", strerror(-rc));
        return;
    }
    res->status = 204;
}

void api_metrics_register(http_server *s, api_ctx *ctx)
{
    http_route_add(s, "GET", "/metrics", HTTP_NEED_READ, 0, handle_metrics, ctx);
    http_route_add(s, "POST", "/api/v1/admin/tsdb/flush", HTTP_NEED_ADMIN, 0, handle_flush, ctx);
}
