/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_int.h - the engine's side of the metrics registry (public:
 * imgstream/metrics.h): what the stream engine (src/stream/stream.c)
 * records after each batch, and the latest progress record and
 * readiness the server hands out. metrics.c holds the registry and its
 * exposition; server.c the HTTP server over it.
 *
 * Threading: every function may be called from any thread (the
 * registry's mutex).
 */
#ifndef IMS_HTTP_HTTP_INT_H
#define IMS_HTTP_HTTP_INT_H

#include <stdbool.h>

#include "imgstream/metrics.h"
#include "imgstream/stream.h"

/* One committed batch, as the engine saw it. */
typedef struct ims__batch_metrics {
  int64_t id;                 /* batch id */
  size_t rows;                /* images in it */
  size_t errors;              /* error rows */
  bool replay;                /* a checkpoint's uncommitted batch, redone */
  double seconds;             /* the whole batch */
  double decode_seconds;      /* read + decode + preprocess, all images */
  double inference_seconds;   /* engine run + top-K, all images */
  const int64_t *latency_ms;  /* rows: landing to row, per image */
  bool learning;              /* a learned head runs */
  double learned_accuracy;    /* its accuracy_last_100 */
  uint64_t learned_seen;      /* samples it has learned */
  long backlog;               /* images seen and not yet taken; -1 unknown */
} ims__batch_metrics;

/* Count a batch into the registry (NULL m: nothing). */
void ims__metrics_batch(ims_metrics *m, const ims__batch_metrics *b);

/* Keep copies of a batch's rows in the recent-rows window (the last
 * IMS__RECENT_ROWS), numbered on from 1 (NULL m: nothing). */
#define IMS__RECENT_ROWS 256
void ims__metrics_rows(ims_metrics *m, const ims_stream_row *rows, size_t n);

/* The rows of the window numbered after `after`, oldest first, as JSON
 * {"rows":[...],"last":N} (malloc()ed, TRANSFERRED; NULL out of
 * memory). */
char *ims__metrics_rows_json(ims_metrics *m, uint64_t after);

/* Keep a copy of the latest progress record (JSON) for /api/progress. */
void ims__metrics_progress(ims_metrics *m, const char *json);

/* The latest progress record (malloc()ed copy, TRANSFERRED; NULL if none
 * yet or out of memory). */
char *ims__metrics_progress_copy(ims_metrics *m);

/* Ready? If not, *why_out gets a malloc()ed reason (TRANSFERRED). */
bool ims__metrics_is_ready(ims_metrics *m, char **why_out);

#endif /* IMS_HTTP_HTTP_INT_H */
