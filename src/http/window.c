/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.c - what the live page reads: the recent rows (a ring of the
 * last IMS__RECENT_ROWS, numbered from 1), thumbnails of the last
 * IMS__RECENT_THUMBS images, and the last IMS__HISTORY progress records,
 * each formatted as JSON for /api/rows, /api/history and /api/progress
 * or as Server-Sent Events for /events.
 *
 * Rows are copied in (the engine's strings live only for its batch);
 * a thumbnail is the model's input image shrunk by an integer factor
 * (a box filter) to at most IMS__THUMB_MAX pixels a side, so the page
 * shows what the model saw and nothing is decoded twice. All of it sits
 * in buffers allocated once, at create.
 *
 * Threading: any thread; the registry's mutex guards it all.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io_int.h"
#include "core/json_int.h"
#include "http/registry_int.h"

/* ---- 1. keeping rows and thumbnails ---- */

static void copy_cut(char *dst, size_t cap, const char *s) {
  snprintf(dst, cap, "%s", s ? s : "");
}

/* rows[i] += p[i]. In blocks of a constant 32, which GCC's -O2 cost
 * model vectorizes (a loop of n alone it leaves scalar: 2% of a stream's
 * time with --http went here). */
static void add_row(uint16_t *restrict rows, const uint8_t *restrict p,
                    size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (size_t j = 0; j < 32; j++)
      rows[i + j] = (uint16_t)(rows[i + j] + p[i + j]);
  for (; i < n; i++) rows[i] = (uint16_t)(rows[i] + p[i]);
}

/* One thumbnail row from `rows` (its f image rows summed): each pixel
 * the rounded mean of f summed pixels. A power-of-two area (a 224x224
 * input: f = 2) divides by a shift: a division per channel was most of
 * the time. */
static void shrink_columns(const uint16_t *rows, uint32_t f, uint32_t area,
                           uint32_t width, uint8_t *q) {
  uint32_t shift = 0;
  while ((1u << shift) < area) shift++;
  bool pow2 = (1u << shift) == area;
  for (uint32_t x = 0; x < width; x++, q += 3) {
    uint32_t sum[3] = {0, 0, 0};
    for (uint32_t dx = 0; dx < f; dx++, rows += 3)
      sum[0] += rows[0], sum[1] += rows[1], sum[2] += rows[2];
    for (int c = 0; c < 3; c++)
      q[c] = (uint8_t)(pow2 ? (sum[c] + area / 2) >> shift
                            : (sum[c] + area / 2) / area);
  }
}

/* The image shrunk by the smallest integer factor f that fits it in
 * IMS__THUMB_MAX, each pixel the mean of its f x f box. The f rows of a
 * box are summed first, whole rows at a time in 16 bits (f <= 16, so
 * 16 x 255 fits; keep_row checks the size), then each box's columns. */
static void shrink(const ims__row_image *im, ims__thumb *t) {
  uint32_t big = im->height > im->width ? im->height : im->width;
  uint32_t f = (big + IMS__THUMB_MAX - 1) / IMS__THUMB_MAX;
  if (f == 0) f = 1;
  t->height = im->height / f;
  t->width = im->width / f;
  uint32_t area = f * f;
  uint16_t rows[IMS__THUMB_MAX * 16 * 3];
  size_t n = (size_t)t->width * f * 3;
  for (uint32_t y = 0; y < t->height; y++) {
    const uint8_t *p = im->pixels + (size_t)(y * f) * im->width * 3;
    memset(rows, 0, n * sizeof *rows);
    for (uint32_t dy = 0; dy < f; dy++, p += (size_t)im->width * 3)
      add_row(rows, p, n);
    shrink_columns(rows, f, area, t->width, t->px + (size_t)y * t->width * 3);
  }
}

static void keep_row(ims_metrics *m, const ims_stream_row *r,
                     const ims__row_image *im) {
  ims__recent_row *k = &m->recent[m->rows_seen % IMS__RECENT_ROWS];
  k->id = ++m->rows_seen;
  k->batch = r->batch;
  k->event_ms = r->event_time_ms;
  k->processing_ms = r->processing_time_ms;
  k->has_prediction = r->error == NULL && r->class_id != NULL;
  k->score = r->score;
  k->has_learned = r->learned_label != NULL;
  k->learned_score = r->learned_score;
  copy_cut(k->path, sizeof k->path, r->path);
  copy_cut(k->label, sizeof k->label, r->label);
  copy_cut(k->class_id, sizeof k->class_id, r->class_id);
  copy_cut(k->desc, sizeof k->desc, r->desc);
  copy_cut(k->learned, sizeof k->learned, r->learned_label);
  copy_cut(k->error, sizeof k->error, r->error);
  k->has_image = im != NULL && im->pixels != NULL && im->height > 0 &&
                 im->width > 0 &&
                 im->height <= IMS__THUMB_MAX * 16 &&
                 im->width <= IMS__THUMB_MAX * 16;
  if (!k->has_image) return;
  ims__thumb *t = &m->thumbs[(k->id - 1) % IMS__RECENT_THUMBS];
  t->id = k->id;
  shrink(im, t);
}

void ims__metrics_rows(ims_metrics *m, const ims_stream_row *rows, size_t n,
                       const ims__row_image *images) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < n; i++)
    keep_row(m, &rows[i], images != NULL ? &images[i] : NULL);
  if (m->listener != NULL) m->listener(m->listener_ctx);
  pthread_mutex_unlock(&m->lock);
}

bool ims__metrics_thumb(ims_metrics *m, uint64_t id, uint8_t *px,
                        uint32_t *height, uint32_t *width) {
  pthread_mutex_lock(&m->lock);
  const ims__thumb *t = &m->thumbs[(id - 1) % IMS__RECENT_THUMBS];
  bool have = id > 0 && t->id == id;
  if (have) {
    *height = t->height;
    *width = t->width;
    memcpy(px, t->px, (size_t)t->height * t->width * 3);
  }
  pthread_mutex_unlock(&m->lock);
  return have;
}

void ims__metrics_positions(ims_metrics *m, uint64_t *rows,
                            uint64_t *records) {
  pthread_mutex_lock(&m->lock);
  *rows = m->rows_seen;
  *records = m->records;
  pthread_mutex_unlock(&m->lock);
}

/* ---- 2. rows as JSON and as events ---- */

/* Is `name` the row's label? (Only asked when it has one.) */
static json_t *correct(const ims__recent_row *k, const char *name,
                       const char *alt) {
  return json_boolean(strcmp(name, k->label) == 0 ||
                      (alt != NULL && strcmp(alt, k->label) == 0));
}

static json_t *prediction_json(const ims__recent_row *k) {
  json_t *p = json_pack("{s:o, s:o, s:f}", "class",
                        ims__json_str_lossy(k->class_id), "desc",
                        ims__json_str_lossy(k->desc), "score",
                        (double)k->score);
  if (p != NULL && k->label[0] != '\0')
    json_object_set_new(p, "correct", correct(k, k->desc, k->class_id));
  return p;
}

static json_t *learned_json(const ims__recent_row *k) {
  json_t *p = json_pack("{s:o, s:f}", "label",
                        ims__json_str_lossy(k->learned), "score",
                        (double)k->learned_score);
  if (p != NULL && k->label[0] != '\0')
    json_object_set_new(p, "correct", correct(k, k->learned, NULL));
  return p;
}

static bool has_thumb(const ims_metrics *m, const ims__recent_row *k) {
  const ims__thumb *t = &m->thumbs[(k->id - 1) % IMS__RECENT_THUMBS];
  return k->has_image && t->id == k->id;
}

/* The row as JSON; "thumb" says whether /thumb/ID has its image. */
static json_t *row_json(const ims_metrics *m, const ims__recent_row *k) {
  json_t *o = json_pack("{s:I, s:I, s:o, s:o, s:I, s:I, s:b}", "id",
                        (json_int_t)k->id, "batch", (json_int_t)k->batch,
                        "path", ims__json_str_lossy(k->path), "label",
                        ims__json_str_lossy(k->label), "event_time_ms",
                        (json_int_t)k->event_ms, "processing_time_ms",
                        (json_int_t)k->processing_ms, "thumb",
                        has_thumb(m, k));
  if (o == NULL) return NULL;
  if (k->has_prediction)
    json_object_set_new(o, "prediction", prediction_json(k));
  if (k->error[0] != '\0')
    json_object_set_new(o, "error", ims__json_str_lossy(k->error));
  if (k->has_learned) json_object_set_new(o, "learned", learned_json(k));
  return o;
}

/* Ids of the window after `after`, at most `limit`: [*first, *last]. */
static void row_range(const ims_metrics *m, uint64_t after, size_t limit,
                      uint64_t *first, uint64_t *last) {
  *last = m->rows_seen;
  *first = *last > IMS__RECENT_ROWS ? *last - IMS__RECENT_ROWS + 1 : 1;
  if (after + 1 > *first) *first = after + 1;
  if (*last >= *first && *last - *first >= limit) *last = *first + limit - 1;
}

static char *dump(json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))
                 : NULL;
  json_decref(o);
  return text;
}

/* Row `id`'s JSON, rendered once and kept (the lock held). NULL out of
 * memory. Only the rows new since the last request are rendered, so
 * the lock is held for a few microseconds a row, once. */
static const char *row_text(ims_metrics *m, uint64_t id) {
  ims__recent_row *k = &m->recent[(id - 1) % IMS__RECENT_ROWS];
  bool thumb = has_thumb(m, k);
  if (k->json == NULL || k->json_id != k->id || k->json_thumb != thumb) {
    free(k->json);
    k->json = dump(row_json(m, k));
    k->json_id = k->id;
    k->json_thumb = thumb;
  }
  return k->json;
}

char *ims__metrics_rows_json(ims_metrics *m, uint64_t after, size_t limit) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  uint64_t first, last;
  bool failed = ims__buf_append(&buf, &len, &cap, "{\"rows\":[", 9) != 0;
  pthread_mutex_lock(&m->lock);
  row_range(m, after, limit, &first, &last);
  for (uint64_t id = first; !failed && id <= last; id++) {
    const char *text = row_text(m, id);
    failed = text == NULL ||
             (id > first && ims__buf_append(&buf, &len, &cap, ",", 1)) ||
             ims__buf_append(&buf, &len, &cap, text, strlen(text));
  }
  uint64_t newest = m->rows_seen;
  pthread_mutex_unlock(&m->lock);
  char tail[48];
  int n = snprintf(tail, sizeof tail, "],\"last\":%" PRIu64 "}",
                   last >= first ? last : newest);
  if (failed || ims__buf_append(&buf, &len, &cap, tail, (size_t)n) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* Append one event ("event: NAME", optional "id: N", "data: TEXT");
 * TEXT holds no newline (compact JSON). Returns 0 or -1. */
static int put_event(char **buf, size_t *len, size_t *cap, const char *name,
                     uint64_t id, const char *text) {
  char head[64];
  int n = id ? snprintf(head, sizeof head, "event: %s\nid: %" PRIu64
                        "\ndata: ", name, id)
             : snprintf(head, sizeof head, "event: %s\ndata: ", name);
  if (text == NULL ||
      ims__buf_append(buf, len, cap, head, (size_t)n) != 0 ||
      ims__buf_append(buf, len, cap, text, strlen(text)) != 0 ||
      ims__buf_append(buf, len, cap, "\n\n", 2) != 0)
    return -1;
  return 0;
}

char *ims__metrics_rows_sse(ims_metrics *m, uint64_t after, size_t limit,
                            uint64_t *next_out) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  uint64_t first, last, id;
  bool failed = false;
  pthread_mutex_lock(&m->lock);
  row_range(m, after, limit, &first, &last);
  for (id = first; !failed && id <= last; id++)
    failed = put_event(&buf, &len, &cap, "row", id, row_text(m, id)) != 0;
  pthread_mutex_unlock(&m->lock);
  if (failed || buf == NULL) {
    free(buf);
    *next_out = after;
    return NULL;
  }
  *next_out = last;
  return buf;
}

/* ---- 3. progress records ---- */

void ims__metrics_progress(ims_metrics *m, const char *json) {
  if (m == NULL) return;
  char *copy = strdup(json);
  pthread_mutex_lock(&m->lock);
  if (copy != NULL) { /* out of memory: the record is skipped */
    char **slot = &m->history[m->records % IMS__HISTORY];
    free(*slot);
    *slot = copy;
    m->records++;
  }
  if (m->listener != NULL) m->listener(m->listener_ctx);
  pthread_mutex_unlock(&m->lock);
}

char *ims__metrics_progress_copy(ims_metrics *m) {
  pthread_mutex_lock(&m->lock);
  char *copy = m->records
                   ? strdup(m->history[(m->records - 1) % IMS__HISTORY])
                   : NULL;
  pthread_mutex_unlock(&m->lock);
  return copy;
}

char *ims__metrics_history(ims_metrics *m, uint64_t after, bool sse,
                           uint64_t *next_out) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  bool failed = sse ? false
                    : ims__buf_append(&buf, &len, &cap, "{\"batches\":[",
                                      12) != 0;
  pthread_mutex_lock(&m->lock);
  uint64_t last = m->records;
  uint64_t first = last > IMS__HISTORY ? last - IMS__HISTORY + 1 : 1;
  if (after + 1 > first) first = after + 1;
  for (uint64_t k = first; !failed && k <= last; k++) {
    const char *rec = m->history[(k - 1) % IMS__HISTORY];
    if (sse)
      failed = put_event(&buf, &len, &cap, "batch", 0, rec) != 0;
    else
      failed = (k > first && ims__buf_append(&buf, &len, &cap, ",", 1)) ||
               ims__buf_append(&buf, &len, &cap, rec, strlen(rec)) != 0;
  }
  pthread_mutex_unlock(&m->lock);
  if (!sse && !failed) failed = ims__buf_append(&buf, &len, &cap, "]}", 2);
  if (failed || buf == NULL) {
    free(buf);
    *next_out = after;
    return NULL;
  }
  *next_out = last;
  return buf;
}
