/* batch: the samples of one collection round, as collectors produce them.
 *
 * Collectors call batch_add() with a metric name, its labels and a value; the batch adds the
 * round's timestamp and the `instance` and `job` labels every sample carries, and encodes the
 * round as one remote write request. A batch is reused round after round (batch_reset), so a
 * steady agent allocates nothing per sample. Owned by one thread. */
#ifndef DD_BATCH_H
#define DD_BATCH_H

#include "../lib/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct batch batch;

/* Creates a batch whose samples carry instance=`instance` and job=`job` (both copied).
 * Returns 0 or -ENOMEM; the caller frees *out with batch_free. */
int batch_new(batch **out, const char *instance, const char *job);
void batch_free(batch *b);
/* Empties the batch and stamps the samples added next with t_ms (milliseconds since epoch). */
void batch_reset(batch *b, int64_t t_ms);
/* Adds one sample. `labels` is NULL or a NULL-terminated array "name", "value", "name",
 * "value", ..., NULL; strings are copied. Labels with an empty value are dropped, as Prometheus
 * does. Returns 0, -EINVAL (bad metric or label name, too many labels) or -ENOMEM. */
int batch_add(batch *b, const char *metric, const char *const *labels, double v);
/* batch_add with the sample's own time t_ms instead of the round's (probe results, scraped
 * samples with timestamps). Same returns. */
int batch_add_at(batch *b, int64_t t_ms, const char *metric, const char *const *labels, double v);
/* Number of samples added since the last reset. */
size_t batch_count(const batch *b);
int64_t batch_time(const batch *b);
/* Looks up a sample by metric name and an exact label set (the same form as batch_add, without
 * instance and job). Returns 1 and the value in *v if present, else 0. For tests and debugging. */
int batch_find(const batch *b, const char *metric, const char *const *labels, double *v);
/* Appends the batch as a snappy-compressed remote write request to out. Returns 0 or an error
 * from rw_encode. */
int batch_encode(const batch *b, buf *out);
/* Writes every sample in the Prometheus text exposition form (for `dashdot agent --once`). */
int batch_format(const batch *b, buf *out);

#endif
