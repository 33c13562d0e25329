/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bucket.h - the private vtable behind ims_bucket (public: bucket.h in
 * include/imgstream). bucket.c parses the URL and dispatches; each backend
 * (bucket_dir.c, later S3) fills one ims__bucket_ops.
 */
#ifndef IMS_STREAM_BUCKET_H
#define IMS_STREAM_BUCKET_H

#include "imgstream/bucket.h"

typedef struct ims__bucket_ops {
  const char *scheme; /* "dir" */
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
} ims__bucket_ops;

extern const ims__bucket_ops ims__bucket_dir_ops;

/* True if `key` is a valid object key (see ims_bucket_put). */
bool ims__bucket_key_ok(const char *key);

#endif /* IMS_STREAM_BUCKET_H */
