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
  uint64_t bytes;             /* encoded image bytes read */
} ims__batch_metrics;

/* Count a batch into the registry (NULL m: nothing). */
void ims__metrics_batch(ims_metrics *m, const ims__batch_metrics *b);

/* An image as the model saw it: RGB, height x width x 3. */
typedef struct ims__row_image {
  const uint8_t *pixels; /* NULL: none (an error row) */
  uint32_t height, width;
} ims__row_image;

/* Keep copies of a batch's rows in the recent-rows window (the last
 * IMS__RECENT_ROWS), numbered on from 1, with a thumbnail of each image
 * (images NULL: none) for the last IMS__RECENT_THUMBS (NULL m:
 * nothing). */
#define IMS__RECENT_ROWS 256
#define IMS__RECENT_THUMBS 64
#define IMS__THUMB_MAX 112 /* longest side, pixels */
void ims__metrics_rows(ims_metrics *m, const ims_stream_row *rows, size_t n,
                       const ims__row_image *images);

/* The rows of the window numbered after `after`, oldest first, at most
 * `limit`, as JSON {"rows":[...],"last":N} (malloc()ed, TRANSFERRED;
 * NULL out of memory). */
char *ims__metrics_rows_json(ims_metrics *m, uint64_t after, size_t limit);

/* The same rows as Server-Sent Events ("event: row", "id: N", "data:
 * ROW"); *next_out = the id to ask after next time. NULL: nothing new or
 * out of memory (then *next_out = after). */
char *ims__metrics_rows_sse(ims_metrics *m, uint64_t after, size_t limit,
                            uint64_t *next_out);

/* The last row id and progress record number so far. */
void ims__metrics_positions(ims_metrics *m, uint64_t *rows,
                            uint64_t *records);

/* Row `id`'s thumbnail, copied into px (IMS__THUMB_MAX^2 * 3 bytes):
 * false if the row left the thumbnail window or has no image. */
bool ims__metrics_thumb(ims_metrics *m, uint64_t id, uint8_t *px,
                        uint32_t *height, uint32_t *width);

/* A thumbnail's RGB pixels as a JPEG (malloc()ed, TRANSFERRED; NULL
 * on failure). thumb.c. */
char *ims__thumb_jpeg(const uint8_t *rgb, uint32_t height, uint32_t width,
                      size_t *len_out);

/* Keep a copy of the latest progress record (JSON) for /api/progress,
 * in the history window of the last IMS__HISTORY records. */
#define IMS__HISTORY 600
void ims__metrics_progress(ims_metrics *m, const char *json);

/* The latest progress record (malloc()ed copy, TRANSFERRED; NULL if none
 * yet or out of memory). */
char *ims__metrics_progress_copy(ims_metrics *m);

/* The history window's records numbered after `after` (1 = the first
 * record), oldest first: as {"batches":[...]} when `sse` is false, as
 * "event: batch" events when true; *next_out as for rows. NULL: none
 * (SSE) or out of memory. */
char *ims__metrics_history(ims_metrics *m, uint64_t after, bool sse,
                           uint64_t *next_out);

/* /api/info: the source, model, start time and totals (malloc()ed JSON,
 * TRANSFERRED; NULL out of memory). */
char *ims__metrics_info_json(ims_metrics *m);

/* Called (from the thread that recorded it, outside the registry's
 * lock) after each batch or rows recorded: the server wakes its event
 * streams. NULL fn: none. */
void ims__metrics_listen(ims_metrics *m, void (*fn)(void *ctx), void *ctx);

/* Ready? If not, *why_out gets a malloc()ed reason (TRANSFERRED). Ready
 * means set ready and, if a probe is set, the probe says so too. */
bool ims__metrics_is_ready(ims_metrics *m, char **why_out);

/* While set, /readyz (and /api/info) also ask probe(ctx, why, cap): true
 * if ready, else false with why filled in. Called on the server's
 * thread under the registry's lock; setting NULL returns only when no
 * call runs, so ctx may go after it. NULL m: nothing. */
void ims__metrics_set_probe(ims_metrics *m,
                            bool (*probe)(void *ctx, char *why, size_t cap),
                            void *ctx);

#endif /* IMS_HTTP_HTTP_INT_H */
