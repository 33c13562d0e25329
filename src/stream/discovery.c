/* SPDX-License-Identifier: Apache-2.0 */
/*
 * discovery.c - finding new objects in a bucket, in arrival order: the
 * listing half of the bucket source (source_bucket.c).
 *
 * Discovery keeps `seen`: every key it queued, handed out, or was told
 * is committed. A refresh lists the bucket (the bucket already hides
 * temporary names) and queues each object not seen yet; the queue is kept
 * sorted by (event time, key), which is arrival order.
 *
 * Cost: a listing is O(objects in the bucket) (dir:// stat()s only the
 * files not seen yet: ims__bucket_list_new), so it is never done per
 * batch: the bucket source refreshes only when the queue runs dry, or
 * when a bucket wait was woken by a change (inotify), or when the last
 * listing is older than the relist interval (files missed by inotify:
 * network file systems, arrivals while the watch was being set up).
 * Woken by a change, it takes the objects the change named instead
 * (ims__bucket_list_changes: O(new objects)), and lists only when the
 * bucket cannot say or the last listing is older than the interval.
 *
 * Not here: what a batch is, the checkpoint, reading objects
 * (source_bucket.c).
 *
 * Sections: 1. queue  2. refresh  3. calls
 *
 * Threading: the engine's thread only.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"
#include "stream/stream_int.h"

struct ims__discovery {
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
static int reserve(ims__discovery *d, size_t more) {
  if (d->head > 0) {
    memmove(d->queue, d->queue + d->head,
            (d->count - d->head) * sizeof *d->queue);
    d->count -= d->head;
    d->head = 0;
  }
  if (d->count + more <= d->cap) return 0;
  size_t cap = d->cap ? d->cap : 256;
  while (cap < d->count + more) cap *= 2;
  ims_object *grown = realloc(d->queue, cap * sizeof *grown);
  if (grown == NULL) return -1;
  d->queue = grown;
  d->cap = cap;
  return 0;
}

/* ---- 2. refresh ---- */

/* Queue the unseen objects of a listing (keys TRANSFERRED from objs; the
 * ones already seen stay in objs for the caller to free). */
static ims_status enqueue(ims__discovery *d, ims_object *objs, size_t n,
                          ims_error *err) {
  if (reserve(d, n) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  size_t before = d->count;
  for (size_t i = 0; i < n; i++) {
    int added = ims__keyset_add(d->seen, objs[i].key);
    if (added < 0) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    if (added == 0) continue;
    d->queue[d->count++] = objs[i];
    objs[i].key = NULL;
  }
  if (d->count > before)
    qsort(d->queue, d->count, sizeof *d->queue, ims__object_by_time_key);
  return IMS_OK;
}

/* ims__bucket_skip_fn over `seen`. */
static bool seen_key(void *seen, const char *key) {
  return ims__keyset_has(seen, key);
}

/* Queue what the bucket's change notification named since the last
 * listing, when it can say (*known); the caller lists otherwise. */
static ims_status take_changes(ims__discovery *d, bool *known,
                               ims_error *err) {
  ims_object *objs = NULL;
  size_t n = 0;
  uint64_t t0 = ims__now_mono_ns();
  ims_status st = ims__bucket_list_changes(d->bucket, seen_key, d->seen,
                                           &objs, &n, known, err);
  if (st == IMS_OK && *known) st = enqueue(d, objs, n, err);
  ims_bucket_list_free(objs, n);
  d->list_ns += ims__now_mono_ns() - t0;
  return st;
}

ims_status ims__discovery_refresh(ims__discovery *d, int wait_ms,
                                  int relist_ms, ims_error *err) {
  if (wait_ms > 0 && d->listed_ns != 0) {
    uint64_t t0 = ims__now_mono_ns();
    ims_status st = ims_bucket_wait(d->bucket, wait_ms, err);
    if (st != IMS_OK) return st;
    bool woken = ims__now_mono_ns() - t0 + 1000000u <
                 (uint64_t)wait_ms * 1000000u;
    /* Taken even when the wait timed out: its last poll may have read
     * events, which the next wait will not see again. */
    bool fresh = ims__discovery_listing_age_ms(d) < relist_ms;
    bool known = false;
    if (fresh) st = take_changes(d, &known, err);
    if (st != IMS_OK || known || (!woken && fresh)) return st;
  }
  ims_object *objs = NULL;
  size_t n = 0;
  uint64_t t0 = ims__now_mono_ns();
  ims_status st = ims__bucket_list_new(d->bucket, seen_key, d->seen, &objs,
                                       &n, err);
  if (st != IMS_OK) return st;
  d->listed_ns = ims__now_mono_ns();
  st = enqueue(d, objs, n, err);
  ims_bucket_list_free(objs, n);
  d->list_ns += ims__now_mono_ns() - t0;
  return st;
}

/* ---- 3. calls ---- */

ims_status ims__discovery_create(ims_bucket *bucket, ims__discovery **out,
                                 ims_error *err) {
  ims__discovery *d = calloc(1, sizeof *d);
  if (d == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  d->bucket = bucket;
  ims_status st = ims__keyset_create(&d->seen, err);
  if (st != IMS_OK) {
    free(d);
    return st;
  }
  *out = d;
  return IMS_OK;
}

void ims__discovery_destroy(ims__discovery *d) {
  if (d == NULL) return;
  for (size_t i = d->head; i < d->count; i++) free(d->queue[i].key);
  free(d->queue);
  ims__keyset_destroy(d->seen);
  free(d);
}

int ims__discovery_mark(ims__discovery *d, const char *key) {
  return ims__keyset_add(d->seen, key) < 0 ? -1 : 0;
}

ims__keyset *ims__discovery_seen(ims__discovery *d) { return d->seen; }

uint64_t ims__discovery_list_ns(const ims__discovery *d) {
  return d->list_ns;
}

size_t ims__discovery_pending(const ims__discovery *d) {
  return d->count - d->head;
}

int64_t ims__discovery_listing_age_ms(const ims__discovery *d) {
  if (d->listed_ns == 0) return INT64_MAX;
  return (int64_t)((ims__now_mono_ns() - d->listed_ns) / 1000000u);
}

long ims__discovery_take(ims__discovery *d, size_t max,
                         ims__batch_input *b) {
  size_t n = ims__discovery_pending(d);
  if (n > max) n = max;
  b->objects = calloc(n ? n : 1, sizeof *b->objects);
  if (b->objects == NULL) return -1;
  memcpy(b->objects, d->queue + d->head, n * sizeof *b->objects);
  d->head += n;
  b->count = n;
  return (long)n;
}
