/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the metrics registry (imgstream/metrics.h): creation, what
 * describes the stream (model, source, readiness), and what the engine
 * records after each batch (ims__metrics_batch). The recent rows and
 * progress records live in window.c, the Prometheus text in
 * exposition.c; registry_int.h holds the struct they share.
 *
 * Every record takes the mutex for a few hundred nanoseconds and copies
 * plain numbers, so a scrape or a page never holds up a batch.
 *
 * Threading: all calls from any thread.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock_int.h"
#include "core/error_int.h"
#include "core/json_int.h"
#include "http/registry_int.h"
#include "imgstream/imgstream.h"

const double ims__latency_le[IMS__NLATENCY] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const double ims__duration_le[IMS__NDURATION] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

/* ---- 1. create/destroy and description ---- */

ims_status ims_metrics_create(ims_metrics **out, ims_error *err) {
  ims_metrics *m = calloc(1, sizeof *m);
  if (m == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "metrics: out of memory");
  }
  m->n.last_batch = -1;
  m->n.backlog = -1;
  m->started_ms = ims__now_epoch_ms();
  m->recent = calloc(IMS__RECENT_ROWS, sizeof *m->recent);
  m->thumbs = calloc(IMS__RECENT_THUMBS, sizeof *m->thumbs);
  m->history = calloc(IMS__HISTORY, sizeof *m->history);
  if (m->recent == NULL || m->thumbs == NULL || m->history == NULL) {
    ims_metrics_destroy(m);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "metrics: out of memory");
  }
  *out = m;
  return IMS_OK;
}

void ims_metrics_destroy(ims_metrics *m) {
  if (m == NULL) return;
  pthread_mutex_destroy(&m->lock);
  for (size_t i = 0; m->history != NULL && i < IMS__HISTORY; i++)
    free(m->history[i]);
  free(m->history);
  for (size_t i = 0; m->recent != NULL && i < IMS__RECENT_ROWS; i++)
    free(m->recent[i].json);
  free(m->recent);
  free(m->thumbs);
  free(m->model_path);
  free(m->model_format);
  free(m->model_fingerprint);
  free(m->mode);
  free(m->source);
  free(m->not_ready);
  free(m);
}

char *ims__dup_or_empty(const char *s) { return strdup(s ? s : ""); }

void ims_metrics_set_model(ims_metrics *m, const char *path,
                           const char *format, const char *fingerprint) {
  char *p = ims__dup_or_empty(path), *f = ims__dup_or_empty(format),
       *h = ims__dup_or_empty(fingerprint);
  pthread_mutex_lock(&m->lock);
  free(m->model_path);
  free(m->model_format);
  free(m->model_fingerprint);
  m->model_path = p;
  m->model_format = f;
  m->model_fingerprint = h;
  pthread_mutex_unlock(&m->lock);
}

void ims_metrics_set_source(ims_metrics *m, const char *mode,
                            const char *source) {
  char *k = ims__dup_or_empty(mode), *s = ims__dup_or_empty(source);
  pthread_mutex_lock(&m->lock);
  free(m->mode);
  free(m->source);
  m->mode = k;
  m->source = s;
  pthread_mutex_unlock(&m->lock);
}

void ims_metrics_set_ready(ims_metrics *m, bool ready, const char *why) {
  if (m == NULL) return;
  char *copy = ready ? NULL : ims__dup_or_empty(why);
  pthread_mutex_lock(&m->lock);
  m->ready = ready;
  free(m->not_ready);
  m->not_ready = copy;
  pthread_mutex_unlock(&m->lock);
}

bool ims__ready_locked(ims_metrics *m, char *why, size_t cap) {
  if (!m->ready) {
    snprintf(why, cap, "%s", m->not_ready ? m->not_ready : "starting");
    return false;
  }
  return m->probe == NULL || m->probe(m->probe_ctx, why, cap);
}

bool ims__metrics_is_ready(ims_metrics *m, char **why_out) {
  char why[600] = "";
  pthread_mutex_lock(&m->lock);
  bool ready = ims__ready_locked(m, why, sizeof why);
  pthread_mutex_unlock(&m->lock);
  *why_out = ready ? NULL : strdup(why);
  return ready;
}

void ims__metrics_set_probe(ims_metrics *m,
                            bool (*probe)(void *ctx, char *why, size_t cap),
                            void *ctx) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->lock);
  m->probe = probe;
  m->probe_ctx = ctx;
  pthread_mutex_unlock(&m->lock);
}

void ims__metrics_listen(ims_metrics *m, void (*fn)(void *ctx), void *ctx) {
  pthread_mutex_lock(&m->lock);
  m->listener = fn;
  m->listener_ctx = ctx;
  pthread_mutex_unlock(&m->lock);
}

void ims__metrics_notify(ims_metrics *m) {
  pthread_mutex_lock(&m->lock);
  if (m->listener != NULL) m->listener(m->listener_ctx);
  pthread_mutex_unlock(&m->lock);
}

/* ---- 2. recording ---- */

void ims__observe(ims__histogram *h, const double *le, size_t nle, double v,
                  uint64_t times) {
  size_t b = 0;
  while (b < nle && v > le[b]) b++;
  h->bucket[b] += times;
  h->count += times;
  h->sum += v * (double)times;
}

void ims__metrics_batch(ims_metrics *m, const ims__batch_metrics *b) {
  if (m == NULL) return;
  size_t ok = b->rows - b->errors;
  double per_decode = b->rows ? b->decode_seconds / (double)b->rows : 0;
  double per_infer = ok ? b->inference_seconds / (double)ok : 0;
  pthread_mutex_lock(&m->lock);
  ims__numbers *n = &m->n;
  n->batches++;
  n->images_ok += ok;
  n->images_error += b->errors;
  n->bytes_read += b->bytes;
  if (b->replay) n->images_replayed += b->rows;
  ims__observe(&n->batch, ims__duration_le, IMS__NDURATION, b->seconds, 1);
  /* per image: the batch's time shared out (the engine times batches) */
  if (b->rows)
    ims__observe(&n->decode, ims__duration_le, IMS__NDURATION, per_decode,
                 b->rows);
  if (ok)
    ims__observe(&n->inference, ims__duration_le, IMS__NDURATION, per_infer,
                 ok);
  for (size_t i = 0; b->latency_ms != NULL && i < b->rows; i++)
    ims__observe(&n->latency, ims__latency_le, IMS__NLATENCY,
                 (double)b->latency_ms[i] / 1000.0, 1);
  n->last_batch = b->id;
  n->backlog = b->backlog;
  n->learning = b->learning;
  n->learned_accuracy = b->learned_accuracy;
  n->learned_seen = b->learned_seen;
  pthread_mutex_unlock(&m->lock);
}

void ims_metrics_record_rows(ims_metrics *m, const ims_stream_row *rows,
                             size_t n) {
  if (m == NULL || n == 0) return;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < n; i++) {
    bool failed = rows[i].error != NULL || rows[i].class_id == NULL;
    if (failed) m->n.images_error++;
    else m->n.images_ok++;
    double latency =
        (double)(rows[i].processing_time_ms - rows[i].event_time_ms) / 1000.0;
    ims__observe(&m->n.latency, ims__latency_le, IMS__NLATENCY, latency, 1);
    if (rows[i].batch > m->n.last_batch) m->n.last_batch = rows[i].batch;
  }
  pthread_mutex_unlock(&m->lock);
  ims__metrics_rows(m, rows, n, NULL);
}

/* ---- 3. /api/info ---- */

/* The hex digest alone, as imgstream_model_info's sha256 label has it. */
static const char *bare_sha256(const char *fingerprint) {
  if (fingerprint == NULL) return "";
  return strncmp(fingerprint, "sha256:", 7) == 0 ? fingerprint + 7
                                                 : fingerprint;
}

char *ims__metrics_info_json(ims_metrics *m) {
  char why[600] = "";
  pthread_mutex_lock(&m->lock);
  bool ready = ims__ready_locked(m, why, sizeof why);
  const ims__numbers *n = &m->n;
  json_t *o = json_pack(
      "{s:s, s:s, s:o, s:{s:o, s:s, s:s}, s:b, s:I, s:I, "
      "s:{s:I, s:I, s:I, s:I, s:I}, s:b, s:o}",
      "mode", m->mode ? m->mode : "stream", "version", ims_version(),
      "source", ims__json_str_lossy(m->source ? m->source : ""), "model",
      "path", ims__json_str_lossy(m->model_path ? m->model_path : ""),
      "format",
      m->model_format ? m->model_format : "", "sha256",
      bare_sha256(m->model_fingerprint), "learn",
      n->learning, "started_ms", (json_int_t)m->started_ms, "now_ms",
      (json_int_t)ims__now_epoch_ms(), "totals", "images_ok",
      (json_int_t)n->images_ok, "images_error", (json_int_t)n->images_error,
      "images_replayed", (json_int_t)n->images_replayed, "batches",
      (json_int_t)n->batches, "bytes_read", (json_int_t)n->bytes_read,
      "ready", ready, "not_ready", ims__json_str_lossy(ready ? "" : why));
  pthread_mutex_unlock(&m->lock);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return text;
}
