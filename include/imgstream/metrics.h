/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h - what a running stream reports to its operators: counters,
 * histograms and gauges in Prometheus' naming (imgstream_ prefix, base
 * units, _total, _seconds), rendered in the Prometheus text exposition
 * format (version 0.0.4) with the standard process_* metrics; and the
 * small HTTP server that serves them (/metrics, /healthz, /readyz,
 * /api/progress) on its own thread. docs/METRICS.md lists every metric
 * with its Spark and Triton counterpart.
 *
 * The stream engine updates an ims_metrics it is given
 * (ims_stream_options.metrics) once per batch under a mutex held for a
 * few hundred nanoseconds; the server copies a snapshot under the same
 * mutex and formats it outside it, so a scrape never holds up a batch.
 *
 * Lifecycle: ims_metrics_create -> (the stream updates it; ims_http_start
 * serves it) -> ims_http_stop -> ims_metrics_destroy.
 *
 * Threading: every function may be called from any thread.
 */
#ifndef IMGSTREAM_METRICS_H
#define IMGSTREAM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgstream/status.h"
#include "imgstream/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_metrics ims_metrics;

/// An empty registry (every counter 0; the process start time taken
/// now).
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_metrics_create(ims_metrics **out, ims_error *err);

/// Free it. NULL is a no-op. No stream or server may use it any more.
IMS_API void ims_metrics_destroy(ims_metrics *m);

/// Describe the model for imgstream_model_info{...} 1. All COPIED; NULL
/// = "".
IMS_API void ims_metrics_set_model(ims_metrics *m, const char *path,
                                   const char *format,
                                   const char *fingerprint);

/// What the page's /api/info says the server watches: `mode` "stream"
/// (a stream's batches) or "results" (imgstream results --follow), and
/// its source (a folder, a bucket or NATS URL). COPIED; NULL = "".
IMS_API void ims_metrics_set_source(ims_metrics *m, const char *mode,
                                    const char *source);

/// Count rows that come from elsewhere (imgstream results --follow: the
/// rows stream workers published) and keep them in the recent window:
/// images by outcome, latency, the last batch id. A stream's own rows
/// are counted by the stream (ims_stream_options.metrics); do not pass
/// them here too. `rows` BORROWED for the call. NULL m is a no-op.
IMS_API void ims_metrics_record_rows(ims_metrics *m,
                                     const ims_stream_row *rows, size_t n);

/// The same for one row as JSON, in the jsonl: sink's format (what
/// stream workers publish to a results stream). `json` BORROWED.
/// @return false if it is not a JSON object (nothing counted)
IMS_API bool ims_metrics_record_result(ims_metrics *m, const char *json,
                                       size_t len);

/// What /readyz says: ready (200), or not and why (503; `why` COPIED).
/// A new registry is not ready ("starting"); a stream sets it ready when
/// it runs and not ready when it stops. NULL m is a no-op.
IMS_API void ims_metrics_set_ready(ims_metrics *m, bool ready,
                                   const char *why);

/// The whole exposition (text, version 0.0.4), in a new malloc()ed,
/// NUL-terminated buffer (TRANSFERRED: free()).
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_metrics_render(ims_metrics *m, char **text_out,
                                      size_t *len_out, ims_error *err);

typedef struct ims_http_server ims_http_server;

/// Serve `m` over HTTP/1.1 on its own thread (libmicrohttpd):
/// GET /metrics, /healthz, /readyz, /api/progress, /api/rows?after=ID
/// (the last 256 rows), /api/history, /api/info, /thumb/ID, /events
/// (Server-Sent Events) and the live page at /; anything else 404,
/// other methods 405 (docs/METRICS.md).
/// @param bind  "PORT" (on 127.0.0.1) or "HOST:PORT"; HOST a numeric
///              IPv4 address; 0.0.0.0 serves every interface and must be
///              asked for. PORT 0 = a free port (ims_http_port).
/// @retval IMS_ERR_INVALID_ARG  malformed bind
/// @retval IMS_ERR_IO           the port cannot be bound (message says
///                              why: in use, permission)
IMS_API ims_status ims_http_start(const char *bind, ims_metrics *m,
                                  ims_http_server **out, ims_error *err);

/// The port it listens on.
IMS_API uint16_t ims_http_port(const ims_http_server *s);

/// Stop serving (connections in flight are closed). NULL is a no-op.
IMS_API void ims_http_stop(ims_http_server *s);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_METRICS_H */
