/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bucket_int.h - the private vtable behind ims_bucket (public: bucket.h in
 * include/imgstream). bucket.c parses the URL and dispatches; each backend
 * (dir.c, s3.c) fills one ims__bucket_ops.
 */
#ifndef IMS_BUCKET_BUCKET_INT_H
#define IMS_BUCKET_BUCKET_INT_H

#include <signal.h>
#include <stdbool.h>

#include "imgstream/bucket.h"

/* A buffer an object is read into, reused from read to read (grown, never
 * shrunk): the stream engine keeps one per batch slot so that reading
 * objects into memory does not allocate per image. */
typedef struct ims__bucket_buf {
  void *data;  /* owned (free()), NULL until the first read */
  size_t size; /* bytes of the last object read */
  size_t cap;  /* bytes allocated */
  int refused; /* s3: why the body was refused mid-transfer: 0, ENOMEM
                  (out of memory) or EFBIG (over the size limit) */
} ims__bucket_buf;

/* Whether a listing may leave `key` out (the caller knows it already). */
typedef bool (*ims__bucket_skip_fn)(void *ctx, const char *key);

typedef struct ims__bucket_ops {
  const char *scheme; /* "dir", "s3" */
  ims_status (*open)(const char *location, uint32_t flags, void **state,
                     ims_error *err);
  void (*close)(void *state);
  ims_status (*put)(void *state, const char *key, const void *data,
                    size_t size, ims_error *err);
  ims_status (*list)(void *state, ims_object **objects, size_t *count,
                     ims_error *err);
  ims_status (*read)(void *state, const char *key, void **data,
                     size_t *size, ims_error *err);
  ims_status (*local_path)(void *state, const char *key, char *buf,
                           size_t cap, ims_error *err);
  ims_status (*wait)(void *state, int timeout_ms, ims_error *err);
  /* Read into buf (grown as needed). NULL = read, then copy. */
  ims_status (*read_into)(void *state, const char *key, ims__bucket_buf *buf,
                          ims_error *err);
  /* Read n objects, several at a time. NULL = read_into one by one. */
  ims_status (*read_many)(void *state, size_t n, const char *const *keys,
                          ims__bucket_buf *bufs, bool *missing,
                          ims_error *err);
  /* Give up retrying when *flag becomes nonzero. NULL = no retries. */
  void (*set_cancel)(void *state, const volatile sig_atomic_t *flag);
  /* As list, leaving out files skip() names before looking at them. NULL
   * = list (the caller filters). */
  ims_status (*list_new)(void *state, ims__bucket_skip_fn skip, void *ctx,
                         ims_object **objects, size_t *count,
                         ims_error *err);
  /* The objects landed since the last listing, as change notification
   * named them; *known false (nothing returned) when it cannot say. NULL
   * = never known. */
  ims_status (*list_changes)(void *state, ims__bucket_skip_fn skip,
                             void *ctx, ims_object **objects, size_t *count,
                             bool *known, ims_error *err);
} ims__bucket_ops;

extern const ims__bucket_ops ims__bucket_dir_ops;
extern const ims__bucket_ops ims__bucket_s3_ops;

/* The s3 backend's open with options (ims_bucket_open_s3); its ops->open
 * is this with NULL options. */
ims_status ims__bucket_s3_open(const char *location,
                               const ims_s3_options *options, uint32_t flags,
                               void **state, ims_error *err);

/* Read object `key` into buf (see ims__bucket_buf); errors as
 * ims_bucket_read. */
ims_status ims__bucket_read_into(ims_bucket *b, const char *key,
                                 ims__bucket_buf *buf, ims_error *err);

/* Read objects keys[0..n) into bufs[0..n) - in parallel where the backend
 * can (s3: several downloads in flight). An object that does not exist
 * (any more) is not an error: missing[i] is set and bufs[i] is empty; any
 * other failure (after the backend's retries) fails the call. */
ims_status ims__bucket_read_many(ims_bucket *b, size_t n,
                                 const char *const *keys,
                                 ims__bucket_buf *bufs, bool *missing,
                                 ims_error *err);

/* As ims_bucket_list, but the backend may leave out the objects whose
 * keys skip(ctx, key) is true for, without the work of describing them
 * (dir://: no stat() per file the stream has already seen, which was
 * most of a listing's time at a steady rate). It may also return them:
 * the caller still drops what it knows. */
ims_status ims__bucket_list_new(ims_bucket *b, ims__bucket_skip_fn skip,
                                void *ctx, ims_object **objects_out,
                                size_t *count_out, ims_error *err);

/* The objects that landed since the last listing (list or list_new), as
 * the bucket's change notification named them (dir:// with
 * IMS_BUCKET_WATCH: its inotify events; O(objects landed), where a
 * listing is O(objects in the bucket)), leaving out those skip() names.
 * When the backend cannot say (no notification, or events lost: a queue
 * overflow, a new folder), *known is false and nothing is returned: list
 * instead. Objects that landed before the first listing are not named. */
ims_status ims__bucket_list_changes(ims_bucket *b, ims__bucket_skip_fn skip,
                                    void *ctx, ims_object **objects_out,
                                    size_t *count_out, bool *known,
                                    ims_error *err);

/* Free buf's memory; it is then empty. */
void ims__bucket_buf_clear(ims__bucket_buf *buf);

/* While *flag (BORROWED; NULL = none) is nonzero, a backend that retries
 * failing requests (s3) gives up at the next retry with an error instead
 * of retrying on: the stream passes its stop flag, so that SIGTERM during
 * an outage stops it promptly (the batch stays uncommitted). */
void ims__bucket_set_cancel(ims_bucket *b,
                            const volatile sig_atomic_t *flag);

/* True if the bucket's objects are files (ims_bucket_local_path works). */
bool ims__bucket_has_local_paths(const ims_bucket *b);

/* qsort comparison of two ims_object: by event time, then key - arrival
 * order, the order of listings and of the stream's queue. */
int ims__object_by_time_key(const void *a, const void *b);

/* True if `key` is a valid object key (see ims_bucket_put). */
bool ims__bucket_key_ok(const char *key);

#endif /* IMS_BUCKET_BUCKET_INT_H */
