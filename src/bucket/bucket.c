/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bucket.c - ims_bucket: parse "scheme://location" and dispatch to the
 * backend's vtable (see bucket_int.h). Key validation lives here
 * so every backend refuses the same keys.
 *
 * Threading: one thread at a time per bucket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"

struct ims_bucket {
  const ims__bucket_ops *ops; /* backend */
  void *state;                /* backend's, owned */
};

static const ims__bucket_ops *const backends[] = {&ims__bucket_dir_ops,
                                                  &ims__bucket_s3_ops};

int ims__object_by_time_key(const void *a, const void *b) {
  const ims_object *x = a, *y = b;
  if (x->event_time_ms != y->event_time_ms)
    return x->event_time_ms < y->event_time_ms ? -1 : 1;
  return strcmp(x->key, y->key);
}

bool ims__bucket_key_ok(const char *key) {
  if (key == NULL || key[0] == '\0' || key[0] == '/') return false;
  const char *part = key;
  for (;;) {
    const char *slash = strchr(part, '/');
    size_t len = slash ? (size_t)(slash - part) : strlen(part);
    if (len == 0 || part[0] == '.') return false; /* "", ".", "..", .tmp */
    if (slash == NULL) return true;
    part = slash + 1;
  }
}

ims_status ims_bucket_open(const char *url, uint32_t flags,
                           ims_bucket **bucket_out, ims_error *err) {
  const char *sep = url ? strstr(url, "://") : NULL;
  if (sep == NULL || sep[3] == '\0')
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "bucket URL '%s' is not scheme://location (e.g. "
                     "dir:///data/bucket)", url ? url : "(null)");
  size_t scheme_len = (size_t)(sep - url);
  for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
    const ims__bucket_ops *ops = backends[i];
    if (strlen(ops->scheme) != scheme_len ||
        strncmp(ops->scheme, url, scheme_len) != 0)
      continue;
    ims_bucket *b = calloc(1, sizeof *b);
    if (b == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    b->ops = ops;
    ims_status st = ops->open(sep + 3, flags, &b->state, err);
    if (st != IMS_OK) {
      free(b);
      return st;
    }
    *bucket_out = b;
    return IMS_OK;
  }
  char known[64] = "";
  for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
    size_t n = strlen(known);
    snprintf(known + n, sizeof known - n, "%s%s://", i ? ", " : "",
             backends[i]->scheme);
  }
  return ims__fail(err, IMS_ERR_INVALID_ARG,
                   "bucket URL '%s': unknown scheme (supported: %s)", url,
                   known);
}

ims_status ims_bucket_open_s3(const char *url, const ims_s3_options *options,
                              uint32_t flags, ims_bucket **bucket_out,
                              ims_error *err) {
  if (url == NULL || strncmp(url, "s3://", 5) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "bucket URL '%s' is not s3://BUCKET[/PREFIX]",
                     url ? url : "(null)");
  ims_bucket *b = calloc(1, sizeof *b);
  if (b == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  b->ops = &ims__bucket_s3_ops;
  ims_status st = ims__bucket_s3_open(url + 5, options, flags, &b->state, err);
  if (st != IMS_OK) {
    free(b);
    return st;
  }
  *bucket_out = b;
  return IMS_OK;
}

void ims_bucket_close(ims_bucket *b) {
  if (b == NULL) return;
  b->ops->close(b->state);
  free(b);
}

ims_status ims_bucket_put(ims_bucket *b, const char *key, const void *data,
                          size_t size, ims_error *err) {
  if (!ims__bucket_key_ok(key))
    return ims__fail(err, IMS_ERR_INVALID_ARG, "invalid object key '%s'",
                     key ? key : "(null)");
  return b->ops->put(b->state, key, data, size, err);
}

ims_status ims_bucket_list(ims_bucket *b, ims_object **objects_out,
                           size_t *count_out, ims_error *err) {
  return b->ops->list(b->state, objects_out, count_out, err);
}

ims_status ims__bucket_list_new(ims_bucket *b, ims__bucket_skip_fn skip,
                                void *ctx, ims_object **objects_out,
                                size_t *count_out, ims_error *err) {
  if (b->ops->list_new == NULL)
    return b->ops->list(b->state, objects_out, count_out, err);
  return b->ops->list_new(b->state, skip, ctx, objects_out, count_out, err);
}

ims_status ims__bucket_list_changes(ims_bucket *b, ims__bucket_skip_fn skip,
                                    void *ctx, ims_object **objects_out,
                                    size_t *count_out, bool *known,
                                    ims_error *err) {
  *objects_out = NULL;
  *count_out = 0;
  *known = false;
  if (b->ops->list_changes == NULL) return IMS_OK;
  return b->ops->list_changes(b->state, skip, ctx, objects_out, count_out,
                              known, err);
}

void ims_bucket_list_free(ims_object *objects, size_t count) {
  for (size_t i = 0; objects != NULL && i < count; i++) free(objects[i].key);
  free(objects);
}

ims_status ims_bucket_read(ims_bucket *b, const char *key, void **data_out,
                           size_t *size_out, ims_error *err) {
  if (!ims__bucket_key_ok(key))
    return ims__fail(err, IMS_ERR_INVALID_ARG, "invalid object key '%s'",
                     key ? key : "(null)");
  return b->ops->read(b->state, key, data_out, size_out, err);
}

ims_status ims_bucket_local_path(ims_bucket *b, const char *key, char *buf,
                                 size_t cap, ims_error *err) {
  if (!ims__bucket_key_ok(key))
    return ims__fail(err, IMS_ERR_INVALID_ARG, "invalid object key '%s'",
                     key ? key : "(null)");
  if (b->ops->local_path == NULL)
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "%s:// buckets have no local paths", b->ops->scheme);
  return b->ops->local_path(b->state, key, buf, cap, err);
}

void ims__bucket_buf_clear(ims__bucket_buf *buf) {
  free(buf->data);
  memset(buf, 0, sizeof *buf);
}

ims_status ims__bucket_read_into(ims_bucket *b, const char *key,
                                 ims__bucket_buf *buf, ims_error *err) {
  if (!ims__bucket_key_ok(key))
    return ims__fail(err, IMS_ERR_INVALID_ARG, "invalid object key '%s'",
                     key ? key : "(null)");
  if (b->ops->read_into != NULL)
    return b->ops->read_into(b->state, key, buf, err);
  void *data = NULL;
  size_t size = 0;
  ims_status st = b->ops->read(b->state, key, &data, &size, err);
  if (st != IMS_OK) return st;
  free(buf->data); /* (backends without read_into: no reuse to gain) */
  buf->data = data;
  buf->size = buf->cap = size;
  return IMS_OK;
}

ims_status ims__bucket_read_many(ims_bucket *b, size_t n,
                                 const char *const *keys,
                                 ims__bucket_buf *bufs, bool *missing,
                                 ims_error *err) {
  for (size_t i = 0; i < n; i++) {
    missing[i] = false;
    if (!ims__bucket_key_ok(keys[i]))
      return ims__fail(err, IMS_ERR_INVALID_ARG, "invalid object key '%s'",
                       keys[i] ? keys[i] : "(null)");
  }
  if (b->ops->read_many != NULL)
    return b->ops->read_many(b->state, n, keys, bufs, missing, err);
  for (size_t i = 0; i < n; i++) {
    ims_status st = ims__bucket_read_into(b, keys[i], &bufs[i], err);
    missing[i] = st == IMS_ERR_NOT_FOUND;
    if (missing[i]) bufs[i].size = 0;
    if (st != IMS_OK && !missing[i]) return st;
  }
  return IMS_OK;
}

void ims__bucket_set_cancel(ims_bucket *b,
                            const volatile sig_atomic_t *flag) {
  if (b->ops->set_cancel != NULL) b->ops->set_cancel(b->state, flag);
}

bool ims__bucket_has_local_paths(const ims_bucket *b) {
  return b->ops->local_path != NULL;
}

ims_status ims_bucket_wait(ims_bucket *b, int timeout_ms, ims_error *err) {
  return b->ops->wait(b->state, timeout_ms, err);
}
