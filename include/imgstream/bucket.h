/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bucket.h - where images land: a bucket of objects named
 * "category/filename", opened from a URL. The producer puts objects into
 * it; the stream classifier lists, watches and reads them.
 *
 * Backends (picked by URL scheme, each in its own src/stream/bucket_*.c
 * behind a private vtable): dir://PATH, a local folder. (s3:// and gs://
 * come later behind the same calls.)
 *
 * Guarantees: ims_bucket_put is atomic - a reader never sees part of an
 * object (dir: written to a temporary name, fsync()ed, renamed into
 * place; temporary names start with "." and are never listed).
 *
 * Lifecycle: open -> put/list/read/wait (repeatable) -> close.
 * Threading: one thread at a time per bucket object; open one per thread.
 */
#ifndef IMGSTREAM_BUCKET_H
#define IMGSTREAM_BUCKET_H

#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_bucket ims_bucket;

/* One object of a listing. */
typedef struct ims_object {
  char *key;              /* output: "category/filename", owned by the
                             listing (freed by ims_bucket_list_free) */
  uint64_t size;          /* output: bytes */
  int64_t event_time_ms;  /* output: when it landed (ms since the epoch;
                             dir: the later of mtime and ctime, i.e. when
                             it was renamed into place) */
} ims_object;

/* ims_bucket_open flags. */
#define IMS_BUCKET_CREATE 0x1u /* create the bucket if it does not exist */
#define IMS_BUCKET_WATCH 0x2u  /* HINT: set up change notification (dir:
                                  inotify) so ims_bucket_wait wakes early */

/// Open a bucket by URL ("dir:///data/bucket" or "dir://relative/path").
/// @retval IMS_ERR_INVALID_ARG  unknown scheme or malformed URL
/// @retval IMS_ERR_NOT_FOUND    bucket missing and no IMS_BUCKET_CREATE
/// @retval IMS_ERR_IO
IMS_API ims_status ims_bucket_open(const char *url, uint32_t flags,
                                   ims_bucket **bucket_out, ims_error *err);

/// Close a bucket. NULL is a no-op.
IMS_API void ims_bucket_close(ims_bucket *bucket);

/// Store `size` bytes under `key` atomically (see above). Keys are
/// relative, '/'-separated, without "." or ".." components or a leading
/// '.' in any component. Overwrites an existing object.
/// @retval IMS_ERR_INVALID_ARG  bad key
/// @retval IMS_ERR_IO           with the path and errno text (ENOSPC ...)
IMS_API ims_status ims_bucket_put(ims_bucket *bucket, const char *key,
                                  const void *data, size_t size,
                                  ims_error *err);

/// List every object (all categories), sorted by (event_time_ms, key).
/// @param objects_out  TRANSFERRED: free with ims_bucket_list_free().
IMS_API ims_status ims_bucket_list(ims_bucket *bucket,
                                   ims_object **objects_out,
                                   size_t *count_out, ims_error *err);

/// Free a listing. NULL is a no-op.
IMS_API void ims_bucket_list_free(ims_object *objects, size_t count);

/// Read an object. `*data_out` is TRANSFERRED (free with free()).
IMS_API ims_status ims_bucket_read(ims_bucket *bucket, const char *key,
                                   void **data_out, size_t *size_out,
                                   ims_error *err);

/// Path of an object on the local filesystem, for backends that have one
/// (dir). Writes into buf (size `cap`); IMS_ERR_UNSUPPORTED otherwise.
IMS_API ims_status ims_bucket_local_path(ims_bucket *bucket, const char *key,
                                         char *buf, size_t cap,
                                         ims_error *err);

/// Wait until the bucket may have changed, or `timeout_ms` passed. Returns
/// IMS_OK either way (spurious wake-ups are allowed; callers re-list).
/// Without IMS_BUCKET_WATCH this just sleeps.
IMS_API ims_status ims_bucket_wait(ims_bucket *bucket, int timeout_ms,
                                   ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_BUCKET_H */
