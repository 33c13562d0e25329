/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats.h - scale-out over NATS JetStream (docs/NATS.md): the producer
 * publishes images to a stream, any number of stream workers share them
 * through one durable pull consumer, and results go to a results stream
 * where JetStream's Nats-Msg-Id de-duplication keeps one result per image.
 * Membership, redelivery, replication and de-duplication are JetStream's;
 * this is a thin layer over the nats.c client.
 *
 * Pieces:
 *   ims_nats        a connection to one JetStream stream, from a URL
 *                   "nats://HOST:PORT[,HOST:PORT...]/STREAM"
 *   publishing      ims_nats_publish_image (the producer's side)
 *   a worker        ims_stream_create_nats: the micro-batch engine of
 *                   stream.h with a pull consumer instead of a bucket and
 *                   acks instead of a checkpoint
 *   results         ims_sink_open_nats (a sink publishing rows) and
 *                   ims_nats_read_results (reading them back)
 *
 * Reconnection: once connected, nats.c reconnects for ever; every call
 * here retries what failed while the connection was away until its own
 * deadline, so a server restart costs time, never data.
 *
 * Lifecycle: ims_nats_connect -> (calls; sinks and engines borrow it) ->
 * ims_nats_close after them. ims_nats_library_close once at exit frees
 * nats.c's process-wide state.
 *
 * Threading: one thread at a time per ims_nats (nats.c runs its own I/O
 * threads inside).
 */
#ifndef IMGSTREAM_NATS_H
#define IMGSTREAM_NATS_H

#include <signal.h>
#include <stdbool.h>

#include "imgstream/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_nats ims_nats;

/* How to connect. Zero fields take the defaults; strings are COPIED. */
typedef struct ims_nats_options {
  const char *creds_file;    /* input: NATS .creds file (JWT + nkey) */
  const char *user;          /* input: user name (with password) */
  const char *password;      /* input */
  const char *token;         /* input: authentication token */
  bool tls;                  /* input: require TLS */
  const char *tls_ca;        /* input: CA certificates file (PEM) */
  const char *tls_cert;      /* input: client certificate chain (PEM) */
  const char *tls_key;       /* input: client private key (PEM) */
  uint32_t timeout_ms;       /* input: connect and request timeout;
                                0 = 5000 */
  uint32_t retry_ms;         /* input: how long a publish/ack keeps
                                retrying while the server is away;
                                0 = 120000 */
  const char *name;          /* input: connection name shown by the
                                server; NULL = "imgstream" */
} ims_nats_options;

/* A stream to create if absent (ims_nats_ensure_stream). */
typedef struct ims_nats_stream_config {
  uint32_t replicas;           /* input: 0 = 1 */
  int64_t max_msg_size;        /* input: bytes; 0 = the server's max
                                  payload */
  int64_t duplicate_window_ms; /* input: Nats-Msg-Id window; 0 = 600000 */
  int64_t max_age_ms;          /* input: messages older than this are
                                  deleted; 0 = kept for ever */
  int64_t max_bytes;           /* input: the oldest messages are deleted
                                  beyond this size; 0 = no limit */
} ims_nats_stream_config;

/// Connect to the stream of `url` ("nats://h:p[,h:p...]/STREAM"; tls://
/// for TLS; user:pass@ as nats.c accepts). The stream need not exist yet.
/// @retval IMS_ERR_INVALID_ARG  malformed URL or stream name
/// @retval IMS_ERR_IO           no server reachable: message names the URL
IMS_API ims_status ims_nats_connect(const char *url,
                                    const ims_nats_options *options,
                                    ims_nats **out, ims_error *err);

/// Close the connection (after every sink/engine using it). NULL: no-op.
IMS_API void ims_nats_close(ims_nats *n);

/// Free nats.c's process-wide state; call once, after every ims_nats_close.
IMS_API void ims_nats_library_close(void);

/// The stream name of the URL. BORROWED.
IMS_API const char *ims_nats_stream_name(const ims_nats *n);

/// Largest message the server takes (bytes).
IMS_API int64_t ims_nats_max_payload(const ims_nats *n);

/// Create the stream (subjects "STREAM.>", file storage, limits
/// retention) if it does not exist; an existing one is used as it is.
/// @retval IMS_ERR_IO  JetStream unavailable or refused (message says why)
IMS_API ims_status ims_nats_ensure_stream(ims_nats *n,
                                          const ims_nats_stream_config *cfg,
                                          ims_error *err);

/* ---- the producer's side ---- */

/* One image message (docs/NATS.md lists the headers). All BORROWED. */
typedef struct ims_nats_image {
  const char *id;           /* input: Nats-Msg-Id (stable across retries) */
  const char *key;          /* input: "category/file" */
  const char *label;        /* input: the category */
  const char *content_type; /* input: "image/jpeg", ... or NULL */
  int64_t upload_time_ms;   /* input: epoch ms */
  const void *data;         /* input: the encoded image */
  size_t size;              /* input: bytes of data */
} ims_nats_image;

/* What JetStream answered. */
typedef struct ims_nats_ack {
  uint64_t seq;   /* output: stream sequence */
  bool duplicate; /* output: the id was already stored (not stored again) */
} ims_nats_ack;

/// Publish an image to subject "STREAM.<category>" and wait for
/// JetStream's acknowledgement, retrying (same id, so never twice) while
/// the server is away, up to options.retry_ms.
/// @retval IMS_ERR_INVALID_ARG  larger than the max payload: the message
///                              names the key, its size and the limit
/// @retval IMS_ERR_IO           not acknowledged in time
IMS_API ims_status ims_nats_publish_image(ims_nats *n,
                                          const ims_nats_image *image,
                                          ims_nats_ack *ack_out,
                                          ims_error *err);

/* ---- workers ---- */

/* The shared durable pull consumer. Zero fields take the defaults. */
typedef struct ims_nats_consumer_options {
  const char *name;     /* input: durable name; NULL = "imgstream". COPIED */
  uint32_t ack_wait_ms; /* input: redelivery after; 0 = 30000 */
  uint32_t max_deliver; /* input: deliveries per image; 0 = 5 */
} ims_nats_consumer_options;

/// A stream engine (stream.h) whose images come from the durable pull
/// consumer `consumer` on the stream of `source`: fetch up to
/// max_files_per_trigger images, classify them from memory, write the
/// rows to the sinks, then ack each image (an image that failed to decode
/// is terminated instead: never redelivered). checkpoint_dir must be NULL:
/// JetStream's acks are the checkpoint. Run, stop, destroy as any engine.
/// @param source  BORROWED; the stream must exist (the producer creates
///                it) or IMS_ERR_NOT_FOUND.
IMS_API ims_status ims_stream_create_nats(
    ims_nats *source, const ims_nats_consumer_options *consumer,
    ims_classifier *classifier, ims_sink *const *sinks, size_t nsinks,
    const ims_stream_options *options, ims_stream **out, ims_error *err);

/* ---- results ---- */

/// A sink publishing each row (the JSON object of a jsonl: line) to
/// subject "STREAM.<category>" of the stream of `results` with
/// Nats-Msg-Id = the row's path, waiting for every acknowledgement
/// (retrying while the server is away). Ensure the stream first.
/// @param results  BORROWED; must outlive the sink.
IMS_API ims_status ims_sink_open_nats(ims_nats *results, ims_sink **out,
                                      ims_error *err);

/// Called with each result: one JSON row (not NUL-terminated, BORROWED
/// for the call). A nonzero return stops the reading.
typedef int (*ims_nats_result_fn)(void *ctx, const char *json, size_t len);

/// Read the results stream from its first message: every result it holds
/// when the call starts, then (follow) new ones until *stop becomes
/// nonzero (checked at least every 250 ms; stop may be NULL without
/// follow).
/// @retval IMS_ERR_NOT_FOUND  no such stream
IMS_API ims_status ims_nats_read_results(ims_nats *results, bool follow,
                                         const volatile sig_atomic_t *stop,
                                         ims_nats_result_fn fn, void *ctx,
                                         ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_NATS_H */
