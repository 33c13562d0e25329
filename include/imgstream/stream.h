/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.h - the stream classifier: a micro-batch engine that takes new
 * objects from a bucket in arrival order, classifies them, writes one row
 * per image to its sinks and keeps a Spark-style checkpoint so that every
 * image reaches each file sink exactly once across crashes and restarts.
 *
 * Pieces (each its own object):
 *   ims_stream_io  file-system hooks (open/write/fsync/rename/ftruncate/
 *                  close/unlink) used for the checkpoint and the file
 *                  sinks, so tests inject ENOSPC/EIO where SQLite uses
 *                  aSyscall[]
 *   ims_sink       where rows go: console table, JSON lines, CSV, a
 *                  dead-letter file of the images that failed, or the
 *                  caller's own callback (ims_sink_custom)
 *   ims_stream     the engine: bucket + classifier + sinks + checkpoint
 *
 * Exactly-once protocol (checkpoint DIR, like Spark's checkpointLocation):
 *   1. offsets/<id>: the batch's keys, written durably (tmp, fsync, rename,
 *      fsync dir) BEFORE any sink gets a row of the batch (the write runs
 *      on a helper thread while the batch is classified)
 *   2. every sink writes the batch's rows and fsyncs them
 *   3. commits/<id> written durably (on the helper thread, while the next
 *      batch is taken and classified; offsets/<id+1> is written after it)
 * On start, keys of committed batches are never taken again; a batch with
 * offsets but no commit is replayed with the same id and keys, and each
 * file sink first drops the rows of batches >= id it already holds.
 * Every compact_interval committed batches the keys of all committed
 * batches are written to one snapshot, offsets/compact-<id>, and only
 * then are the per-batch files it covers deleted (docs/STREAM.md).
 *
 * Lifecycle: sinks: ims_sink_open -> (given to one engine) -> ims_sink_close
 * after the engine is destroyed. Engine: ims_stream_create -> ims_stream_run
 * (returns when stopped, idle or out of batches; may be called again) ->
 * ims_stream_destroy.
 *
 * Threading: an engine and its sinks belong to the thread that calls
 * ims_stream_run; only ims_stream_stop may be called from elsewhere
 * (another thread or a signal handler).
 */
#ifndef IMGSTREAM_STREAM_H
#define IMGSTREAM_STREAM_H

#include "imgstream/bucket.h"
#include "imgstream/classifier.h"
#include "imgstream/head.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- file-system hooks ---- */

/* Each hook behaves like the POSIX call of the same name: -1 (or a short
 * count for write) with errno set on failure. `ctx` is the table's ctx.
 * The checkpoint calls the hooks from two helper threads of its own
 * (its writes and its compactions), at the same time as the engine's
 * thread calls them for the sinks: a table must be thread-safe.
 * `unlink` was added last (checkpoint compaction): NULL there means the
 * POSIX unlink(), so tables written before it keep working. */
typedef struct ims_stream_io {
  void *ctx; /* input: passed to every hook; BORROWED */
  int (*open)(void *ctx, const char *path, int flags, int mode);
  long (*write)(void *ctx, int fd, const void *buf, size_t n);
  int (*fsync)(void *ctx, int fd);
  int (*rename)(void *ctx, const char *from, const char *to);
  int (*ftruncate)(void *ctx, int fd, int64_t length);
  int (*close)(void *ctx, int fd);
  int (*unlink)(void *ctx, const char *path); /* NULL = POSIX unlink */
} ims_stream_io;

/// The default hooks: the POSIX calls themselves. Static, never NULL.
IMS_API const ims_stream_io *ims_stream_io_posix(void);

/* ---- rows and sinks ---- */

/* One output row: one image of one batch. */
typedef struct ims_stream_row {
  int64_t batch;              /* input: batch id */
  const char *path;           /* input: object key "category/file" */
  const char *label;          /* input: the category folder ("" if none) */
  const char *class_id;       /* input: top-1 WordNet id; NULL on error */
  const char *desc;           /* input: top-1 name; NULL on error */
  float score;                /* input: top-1 probability */
  const char *error;          /* input: NULL, or why the image failed */
  int64_t event_time_ms;      /* input: when the object landed (epoch ms) */
  int64_t processing_time_ms; /* input: when it was classified (epoch ms) */
  const char *learned_label;  /* input: with a learned head (options.head),
                                 its prediction, made before this row's
                                 own label was learned; NULL: no head, an
                                 error row, or the head knew no class */
  float learned_score;        /* input: its probability */
} ims_stream_row;

typedef struct ims_sink ims_sink;

/* ims_sink_open flags. */
/// Replay-safe file sinks: before writing batch N, drop the rows of
/// batches >= N the file already holds (set when a checkpoint is used;
/// without it, file sinks only append).
#define IMS_SINK_TRUNCATE_REPLAY 0x1u
/// The stream learns (ims_stream_options.head): the console gets a
/// `learned` column, CSV `learned_label,learned_score` (last columns).
/// JSON lines get "learned" whenever a row has a learned prediction.
#define IMS_SINK_LEARNED 0x2u

/// Open a sink.
/// @param spec  "console" (table on stdout), "jsonl:FILE", "csv:FILE" or
///              "dead-letter:FILE" (JSON lines of the failed images only).
///              COPIED.
/// @param io    file hooks, BORROWED (must outlive the sink); NULL = POSIX.
/// On open a file sink repairs its file: a torn last line (no '\n') is
/// cut off. A new CSV file gets its header.
/// @retval IMS_ERR_INVALID_ARG  unknown spec
/// @retval IMS_ERR_IO           message names the file
IMS_API ims_status ims_sink_open(const char *spec, uint32_t flags,
                                 const ims_stream_io *io, ims_sink **out,
                                 ims_error *err);

/// Close a sink. NULL is a no-op.
IMS_API void ims_sink_close(ims_sink *sink);

/// The sink's spec as given to ims_sink_open. BORROWED.
IMS_API const char *ims_sink_name(const ims_sink *sink);

/// Write one batch's rows (all with rows[i].batch == batch) and make them
/// durable (fsync for files, a flush for the console). n may be 0.
/// @retval IMS_ERR_IO  nothing of this batch is durable; the message names
///                     the sink and file (e.g. "No space left on device")
IMS_API ims_status ims_sink_write(ims_sink *sink, int64_t batch,
                                  const ims_stream_row *rows, size_t n,
                                  ims_error *err);

/// A sink of the caller's own (ims_sink_custom): write one batch's rows.
/// Called on the thread running ims_stream_run (through ims_sink_write),
/// never inside ims_sink_custom. `rows` and their strings are BORROWED
/// for the call. Return 0 once the rows are durable (or delivered): the
/// engine commits the batch only after every sink returned 0. Return
/// non-zero to fail the batch: ims_stream_run stops with IMS_ERR_IO, the
/// batch is not committed and is replayed, with the same id and rows, by
/// the next engine on the same checkpoint. A sink that must hold each row
/// once therefore ignores (or replaces) a batch id it already holds.
typedef int (*ims_sink_write_fn)(void *ctx, int64_t batch,
                                 const ims_stream_row *rows, size_t n);
/// Called once by ims_sink_close (or by ims_sink_custom when it fails),
/// to free ctx. May be NULL.
typedef void (*ims_sink_close_fn)(void *ctx);

/// A sink that hands each batch's rows to `write` (see ims_sink_write_fn).
/// @param name   for messages and ims_sink_name ("my-db"). COPIED.
/// @param ctx    passed to both callbacks; TRANSFERRED to the sink if
///               close_fn is given (freed by it, also on failure here).
/// @retval IMS_ERR_INVALID_ARG  name or write_fn NULL
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_sink_custom(const char *name,
                                   ims_sink_write_fn write_fn,
                                   ims_sink_close_fn close_fn, void *ctx,
                                   ims_sink **out, ims_error *err);

/* ---- the engine ---- */

typedef struct ims_stream ims_stream;

/// Called after each committed batch, on the thread running
/// ims_stream_run, never inside ims_stream_create. `json` is one progress
/// record (like Spark's StreamingQueryProgress), BORROWED for the call.
typedef void (*ims_stream_progress_fn)(void *ctx, const char *json);

/* Options of ims_stream_create. Zero fields take the defaults. */
typedef struct ims_stream_options {
  uint32_t max_files_per_trigger; /* input: images per batch; 0 = 1 */
  uint32_t trigger_interval_ms;   /* input: 0 = a batch as soon as data is
                                     there; else Spark's ProcessingTime:
                                     batches start on interval
                                     boundaries */
  const char *checkpoint_dir;     /* input: NULL = no checkpoint (no
                                     replay, no exactly-once). COPIED */
  const ims_stream_io *io;        /* input: checkpoint file hooks; NULL =
                                     POSIX. BORROWED */
  uint64_t max_batches;           /* input: stop after this many batches
                                     in one run; 0 = no limit */
  uint32_t until_idle_ms;         /* input: stop when nothing new came for
                                     this long; 0 = never */
  uint32_t poll_interval_ms;      /* input: re-list the bucket at least
                                     this often when idle; 0 = 1000 */
  ims_stream_progress_fn on_progress; /* input: NULL = none */
  void *progress_ctx;             /* input: passed to on_progress */
  uint32_t compact_interval;      /* input: snapshot the checkpoint every
                                     this many committed batches (at
                                     least; see docs/STREAM.md); 0 = 100,
                                     UINT32_MAX = never */
  ims_head *head;                 /* input: learn the rows' labels
                                     (test-then-train: each row gets the
                                     head's prediction, then its label is
                                     learned); NULL = no learning.
                                     BORROWED; with a checkpoint its state
                                     is replaced by the checkpoint's (see
                                     docs/LEARNING.md) */
  struct ims_nats *learn_nats;    /* input: with head and a nats://
                                     source, the JetStream stream the
                                     workers share their learned samples
                                     through (required then; see
                                     docs/LEARNING.md). BORROWED */
  struct ims_metrics *metrics;    /* input: counted into after each batch
                                     (imgstream/metrics.h), or NULL.
                                     BORROWED; may be read by another
                                     thread (an ims_http_server) */
  const char *head_path;          /* input: with head, the file the head
                                     is saved to (atomically) when the
                                     checkpoint is compacted, every 100
                                     batches without a checkpoint, and
                                     when the run ends; NULL = never.
                                     COPIED */
} ims_stream_options;

/// Create an engine. Reads the checkpoint (if any): the newest valid
/// snapshot, then the per-batch files after it: committed keys, the batch
/// to replay and the next batch id. Finishes the deletions of a
/// compaction a crash interrupted. Cost: O(committed keys) time and
/// memory, O(files) opens (bounded by compaction).
/// @param bucket      BORROWED: must outlive the engine. Open it with
///                    IMS_BUCKET_WATCH for early wake-ups.
/// @param classifier  BORROWED; its max_batch must be at least
///                    max_files_per_trigger.
/// @param sinks       `nsinks` sinks, BORROWED (the array is COPIED).
/// @param options     COPIED; NULL = defaults.
/// @retval IMS_ERR_INVALID_ARG  max_batch too small, nsinks == 0
/// @retval IMS_ERR_IO           checkpoint unreadable or inconsistent (a
///                              damaged snapshot whose batch files are
///                              gone is reported, never skipped)
IMS_API ims_status ims_stream_create(ims_bucket *bucket,
                                     ims_classifier *classifier,
                                     ims_sink *const *sinks, size_t nsinks,
                                     const ims_stream_options *options,
                                     ims_stream **out, ims_error *err);

/// Run micro-batches until ims_stream_stop (the batch in flight is
/// finished and committed first), max_batches, or until_idle_ms.
/// @retval IMS_OK     stopped cleanly; everything taken is committed
/// @retval IMS_ERR_IO a sink, the checkpoint or the bucket failed; the
///                    message names it. The failed batch is not committed
///                    and is replayed by the next engine on this checkpoint.
///                    A failed compaction ("checkpoint compaction: ...")
///                    comes after its batch's commit: nothing is replayed,
///                    the next engine finishes or redoes the compaction.
/// @retval IMS_ERR_BACKEND  inference failed (batch not committed)
/// @retval IMS_ERR_NO_MEMORY out of memory, also while decoding one image
///                    (batch not committed: an image that met out of
///                    memory is not bad, an error row would lose it)
IMS_API ims_status ims_stream_run(ims_stream *s, ims_error *err);

/// Ask a running engine to stop after the batch in flight. Async-signal-
/// safe (it only sets a flag); may be called from any thread.
IMS_API void ims_stream_stop(ims_stream *s);

/// Batches committed by this engine so far, and rows they held.
IMS_API uint64_t ims_stream_batches_done(const ims_stream *s);
IMS_API uint64_t ims_stream_rows_done(const ims_stream *s);

/// Free the engine (not the bucket, classifier or sinks). NULL is a no-op.
IMS_API void ims_stream_destroy(ims_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_STREAM_H */
