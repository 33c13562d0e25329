/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source.c - discovering new objects in a bucket, in arrival order.
 *
 * The source keeps `seen`: every key it queued, handed out, or was told
 * is committed. A refresh lists the bucket (the bucket already hides
 * temporary names) and queues each object not seen yet; the queue is kept
 * sorted by (event time, key), which is arrival order.
 *
 * Cost: a listing is O(objects in the bucket), so it is never done per
 * batch: the engine refreshes only when the queue runs dry, or when a
 * bucket wait was woken by a change (inotify), or when the last listing is
 * older than the relist interval (files missed by inotify: network file
 * systems, arrivals while the watch was being set up).
 *
 * Not here: what a batch is (engine.c) or the checkpoint.
 *
 * Sections: 1. queue  2. refresh  3. public calls
 *
 * Threading: the engine's thread only.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"
#include "stream/stream_int.h"

struct ims__source {
  ims_bucket *bucket;    /* BORROWED */
  ims__keyset *seen;     /* owned: keys queued, taken or committed */
  ims_object *queue;     /* owned: objects; [head, count) are pending */
  size_t head;           /* first pending entry */
  size_t count;          /* entries used */
  size_t cap;            /* entries allocated */
  uint64_t listed_ns;    /* monotonic time of the last listing, 0 = never */
  uint64_t list_ns;      /* total time spent listing */
};

/* ---- 1. queue ---- */

/* Make room for `more` entries, dropping the taken prefix first. */
static int reserve(ims__source *src, size_t more) {
  if (src->head > 0) {
    memmove(src->queue, src->queue + src->head,
            (src->count - src->head) * sizeof *src->queue);
    src->count -= src->head;
    src->head = 0;
  }
  if (src->count + more <= src->cap) return 0;
  size_t cap = src->cap ? src->cap : 256;
  while (cap < src->count + more) cap *= 2;
  ims_object *grown = realloc(src->queue, cap * sizeof *grown);
  if (grown == NULL) return -1;
  src->queue = grown;
  src->cap = cap;
  return 0;
}

/* ---- 2. refresh ---- */

/* Queue the unseen objects of a listing (keys TRANSFERRED from objs; the
 * ones already seen stay in objs for the caller to free). */
static ims_status enqueue(ims__source *src, ims_object *objs, size_t n,
                          ims_error *err) {
  if (reserve(src, n) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  size_t before = src->count;
  for (size_t i = 0; i < n; i++) {
    int added = ims__keyset_add(src->seen, objs[i].key);
    if (added < 0) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    if (added == 0) continue;
    src->queue[src->count++] = objs[i];
    objs[i].key = NULL;
  }
  if (src->count > before)
    qsort(src->queue, src->count, sizeof *src->queue, ims__object_by_time_key);
  return IMS_OK;
}

ims_status ims__source_refresh(ims__source *src, int wait_ms, int relist_ms,
                               ims_error *err) {
  if (wait_ms > 0 && src->listed_ns != 0) {
    uint64_t t0 = ims__now_mono_ns();
    ims_status st = ims_bucket_wait(src->bucket, wait_ms, err);
    if (st != IMS_OK) return st;
    bool woken = ims__now_mono_ns() - t0 + 1000000u < (uint64_t)wait_ms *
                                                          1000000u;
    if (!woken && ims__source_listing_age_ms(src) < relist_ms) return IMS_OK;
  }
  ims_object *objs = NULL;
  size_t n = 0;
  uint64_t t0 = ims__now_mono_ns();
  ims_status st = ims_bucket_list(src->bucket, &objs, &n, err);
  if (st != IMS_OK) return st;
  src->listed_ns = ims__now_mono_ns();
  st = enqueue(src, objs, n, err);
  ims_bucket_list_free(objs, n);
  src->list_ns += ims__now_mono_ns() - t0;
  return st;
}

/* ---- 3. public calls ---- */

ims_status ims__source_create(ims_bucket *bucket, ims__source **out,
                              ims_error *err) {
  ims__source *src = calloc(1, sizeof *src);
  if (src == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  src->bucket = bucket;
  ims_status st = ims__keyset_create(&src->seen, err);
  if (st != IMS_OK) {
    free(src);
    return st;
  }
  *out = src;
  return IMS_OK;
}

void ims__source_destroy(ims__source *src) {
  if (src == NULL) return;
  for (size_t i = src->head; i < src->count; i++) free(src->queue[i].key);
  free(src->queue);
  ims__keyset_destroy(src->seen);
  free(src);
}

int ims__source_mark(ims__source *src, const char *key) {
  return ims__keyset_add(src->seen, key) < 0 ? -1 : 0;
}

ims__keyset *ims__source_seen(ims__source *src) { return src->seen; }

uint64_t ims__source_list_ns(const ims__source *src) { return src->list_ns; }

size_t ims__source_pending(const ims__source *src) {
  return src->count - src->head;
}

int64_t ims__source_listing_age_ms(const ims__source *src) {
  if (src->listed_ns == 0) return INT64_MAX;
  return (int64_t)((ims__now_mono_ns() - src->listed_ns) / 1000000u);
}

long ims__source_take(ims__source *src, size_t max, ims__batch_input *b) {
  size_t n = ims__source_pending(src);
  if (n > max) n = max;
  b->objects = calloc(n ? n : 1, sizeof *b->objects);
  if (b->objects == NULL) return -1;
  memcpy(b->objects, src->queue + src->head, n * sizeof *b->objects);
  src->head += n;
  b->count = n;
  return (long)n;
}
