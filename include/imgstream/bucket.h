/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bucket.h - where images land: a bucket of objects named
 * "category/filename", opened from a URL. The producer puts objects into
 * it; the stream classifier lists, watches and reads them.
 *
 * Backends (picked by URL scheme, each in its own src/stream/bucket_*.c
 * behind a private vtable): dir://PATH, a local folder; s3://BUCKET[/PREFIX],
 * any store speaking the S3 REST API (AWS S3, Google Cloud Storage's XML
 * API with HMAC keys, MinIO, Ceph...; see ims_bucket_open_s3). An s3://
 * bucket's object "category/filename" is PREFIX/category/filename there.
 *
 * Guarantees: ims_bucket_put is atomic - a reader never sees part of an
 * object (dir: written to a temporary name, fsync()ed, renamed into
 * place; temporary names start with "." and are never listed; s3: one
 * PutObject, which the server checks against its Content-MD5).
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

/// Open a bucket by URL ("dir:///data/bucket", "dir://relative/path", or
/// "s3://bucket/prefix" configured from the environment as
/// ims_bucket_open_s3 with NULL options).
/// @retval IMS_ERR_INVALID_ARG  unknown scheme or malformed URL
/// @retval IMS_ERR_NOT_FOUND    bucket missing and no IMS_BUCKET_CREATE
///                              (s3: never created; always this)
/// @retval IMS_ERR_IO           (s3: access denied, server unreachable)
IMS_API ims_status ims_bucket_open(const char *url, uint32_t flags,
                                   ims_bucket **bucket_out, ims_error *err);

/* Called before each retry of a failed S3 request, with a one-line
 * message ("s3 GET bucket/key: HTTP 503 SlowDown; retry 2 in 380 ms").
 * Runs on the thread of the bucket call; the message is BORROWED for the
 * call. */
typedef void (*ims_s3_retry_fn)(void *ctx, const char *message);

/* Where an s3:// bucket is and who signs the requests. Every field is an
 * input; a NULL/0 field falls back to the environment as the AWS tools
 * read it. Strings are COPIED by ims_bucket_open_s3. */
typedef struct ims_s3_options {
  const char *endpoint;          /* "http(s)://host[:port]": requests go to
                                    endpoint/bucket/key (path-style). NULL =
                                    $AWS_ENDPOINT_URL, else AWS:
                                    https://bucket.s3.REGION.amazonaws.com */
  const char *region;            /* NULL = $AWS_REGION, $AWS_DEFAULT_REGION,
                                    else "us-east-1" */
  const char *access_key_id;     /* NULL = $AWS_ACCESS_KEY_ID (with the two
                                    below from the environment too); none at
                                    all = anonymous, unsigned requests */
  const char *secret_access_key; /* with access_key_id */
  const char *session_token;     /* NULL = $AWS_SESSION_TOKEN if the key came
                                    from the environment */
  uint32_t retry_ms;             /* keep retrying a request that failed in a
                                    way worth retrying (network, 5xx, 503
                                    SlowDown, 429) this long, with exponential
                                    backoff and jitter; 0 = 60000 */
  ims_s3_retry_fn on_retry;      /* NULL = retry silently */
  void *retry_ctx;               /* passed to on_retry */
} ims_s3_options;

/// Open an S3-protocol bucket: `url` is "s3://BUCKET" or
/// "s3://BUCKET/PREFIX". Checks at once that the bucket can be listed
/// with these credentials (one ListObjectsV2 request), so a wrong key, a
/// missing bucket or a dead endpoint fails here with one message naming
/// the bucket, the endpoint and where the credentials came from.
/// @param options  NULL = everything from the environment.
/// @param flags    IMS_BUCKET_* (CREATE and WATCH are ignored: buckets
///                 are not created, and changes are found by listing).
/// @retval IMS_ERR_INVALID_ARG  malformed URL or options
/// @retval IMS_ERR_NOT_FOUND    no such bucket (HTTP 404)
/// @retval IMS_ERR_IO           access denied (403), or the server could
///                              not be reached for options->retry_ms
IMS_API ims_status ims_bucket_open_s3(const char *url,
                                      const ims_s3_options *options,
                                      uint32_t flags, ims_bucket **bucket_out,
                                      ims_error *err);

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
/// @retval IMS_ERR_NOT_FOUND  no such object (any more)
/// @retval IMS_ERR_IO         (s3: after retrying for retry_ms)
IMS_API ims_status ims_bucket_read(ims_bucket *bucket, const char *key,
                                   void **data_out, size_t *size_out,
                                   ims_error *err);

/// Path of an object on the local filesystem, for backends that have one
/// (dir). Writes into buf (size `cap`); IMS_ERR_UNSUPPORTED otherwise
/// (s3).
IMS_API ims_status ims_bucket_local_path(ims_bucket *bucket, const char *key,
                                         char *buf, size_t cap,
                                         ims_error *err);

/// Wait until the bucket may have changed, or `timeout_ms` passed. Returns
/// IMS_OK either way (spurious wake-ups are allowed; callers re-list).
/// Without IMS_BUCKET_WATCH (and for s3://, which has no change
/// notification to watch) this just sleeps.
IMS_API ims_status ims_bucket_wait(ims_bucket *bucket, int timeout_ms,
                                   ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_BUCKET_H */
