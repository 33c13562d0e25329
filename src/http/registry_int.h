/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_int.h - the inside of an ims_metrics, shared by the three
 * files that work on it: metrics.c records into it (the engine's side),
 * window.c keeps and formats the recent rows, thumbnails and progress
 * records (the page's side), exposition.c renders the numbers for
 * Prometheus. Everything here is guarded by ims_metrics.lock.
 */
#ifndef IMS_HTTP_REGISTRY_INT_H
#define IMS_HTTP_REGISTRY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http_int.h"

/* Upper bounds (seconds) of the histograms' buckets; +Inf is implied. */
#define IMS__NLATENCY 13
#define IMS__NDURATION 12
extern const double ims__latency_le[IMS__NLATENCY];
extern const double ims__duration_le[IMS__NDURATION];

typedef struct ims__histogram {
  uint64_t bucket[IMS__NLATENCY + 1]; /* not cumulative; last is +Inf */
  uint64_t count;
  double sum;
} ims__histogram;

/* Everything a render prints, copied in one go. */
typedef struct ims__numbers {
  uint64_t images_ok, images_error, images_replayed, batches, bytes_read;
  ims__histogram latency, batch, decode, inference;
  int64_t last_batch; /* -1 none */
  long backlog;       /* -1 unknown */
  bool learning;
  double learned_accuracy;
  uint64_t learned_seen;
} ims__numbers;

/* One row of the recent window, copied (the engine's strings live only
 * for its batch). Long strings are cut. */
typedef struct ims__recent_row {
  uint64_t id;
  int64_t batch, event_ms, processing_ms;
  float score, learned_score;
  bool has_prediction, has_learned, has_image;
  char path[256], label[128], class_id[64], desc[128], learned[128];
  char error[256];
  /* Its JSON, rendered by the first request that wants it (the server's
   * thread) and kept: a full /api/rows is then a copy, not 256 renders.
   * Valid while json_id == id and json_thumb says what "thumb" said. */
  char *json;         /* owned; NULL: none yet */
  uint64_t json_id;
  bool json_thumb;
} ims__recent_row;

/* A thumbnail of a recent row's image, kept for the last
 * IMS__RECENT_THUMBS rows. */
typedef struct ims__thumb {
  uint64_t id; /* its row; 0 = empty */
  uint32_t height, width;
  uint8_t px[IMS__THUMB_MAX * IMS__THUMB_MAX * 3];
} ims__thumb;

struct ims_metrics {
  pthread_mutex_t lock;
  ims__recent_row *recent; /* owned: IMS__RECENT_ROWS, a ring */
  uint64_t rows_seen;      /* rows numbered so far (the last id) */
  ims__thumb *thumbs;      /* owned: IMS__RECENT_THUMBS, a ring */
  char **history;          /* owned: IMS__HISTORY progress records */
  uint64_t records;        /* progress records so far (the last number) */
  ims__numbers n;
  char *model_path, *model_format, *model_fingerprint; /* owned */
  char *mode, *source;     /* owned: "stream"/"results", the source */
  int64_t started_ms;      /* epoch ms at create */
  bool ready;
  char *not_ready;         /* owned: why not */
  void (*listener)(void *ctx); /* ims__metrics_listen */
  void *listener_ctx;
  bool (*probe)(void *ctx, char *why, size_t cap); /* set_probe */
  void *probe_ctx;
};

/* "" for NULL; malloc()ed. */
char *ims__dup_or_empty(const char *s);

/* Ready, asking the probe too; if not, why in why[cap]. Under the
 * lock. */
bool ims__ready_locked(ims_metrics *m, char *why, size_t cap);

/* Count one observation `times` times. */
void ims__observe(ims__histogram *h, const double *le, size_t nle, double v,
                  uint64_t times);

/* Call the listener, if any, under the lock (so ims__metrics_listen(m,
 * NULL, NULL) returns only when no call is running: the server may then
 * go). Lock order: the registry's, then the server's. */
void ims__metrics_notify(ims_metrics *m);

#endif /* IMS_HTTP_REGISTRY_INT_H */
