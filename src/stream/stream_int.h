/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_int.h - private pieces of the stream engine (public: stream.h,
 * and nats.h's ims_stream_create_nats / ims_sink_open_nats). stream.c is
 * the micro-batch engine; everything it stands on is here, by file:
 *
 *   1. core/io.c       durable file helpers over an ims_stream_io table
 *   2. keyset.c        a hash set of object keys
 *   3. checkpoint.c    offsets/ and commits/ under the checkpoint folder,
 *      snapshot.c      and the snapshot format compaction writes
 *   4. discovery.c     new bucket objects in arrival order
 *   5. sources         the ims__source_ops table: where a batch comes
 *                      from and how it is settled -
 *      source_bucket.c   a bucket (discovery + checkpoint + replay)
 *      source_nats.c     a JetStream work queue (src/nats/queue.c)
 *   6. sinks           the ims__sink_ops table behind ims_sink -
 *      sink.c            the ims_sink object, console and file sinks
 *                        (formats: sink_jsonl.c, sink_csv.c;
 *                        the console table: sink_console.c)
 *      sink_nats.c       results to a JetStream stream
 *      sink_custom.c     the caller's own write callback (public
 *                        ims_sink_custom)
 *
 * Clocks and timestamps: core/clock_int.h.
 *
 * Threading: everything here belongs to the engine's thread; the
 * checkpoint runs its queued writes and compactions on two helper
 * threads of its own (checkpoint.c).
 */
#ifndef IMS_STREAM_STREAM_INT_H
#define IMS_STREAM_STREAM_INT_H

#include <jansson.h>
#include <signal.h>

#include "imgstream/nats.h"
#include "imgstream/stream.h"
#include "core/clock_int.h"
#include "core/io_int.h"

/* ---- 1. io.c: core/io_int.h (durable writes through ims_stream_io) ---- */

/* ---- 2. keyset.c ---- */

typedef struct ims__keyset ims__keyset;

ims_status ims__keyset_create(ims__keyset **out, ims_error *err);
void ims__keyset_destroy(ims__keyset *set);
/* Add a copy of key. Returns 1 if added, 0 if present, -1 out of memory.
 * O(1) on average. */
int ims__keyset_add(ims__keyset *set, const char *key);
bool ims__keyset_has(const ims__keyset *set, const char *key);
size_t ims__keyset_count(const ims__keyset *set);

/* ---- 3. checkpoint.c ---- */

/* One batch's input: its id and objects (keys and event times owned). */
typedef struct ims__batch_input {
  int64_t id;          /* batch id */
  size_t count;        /* objects */
  ims_object *objects; /* owned: keys and event times (size unused) */
} ims__batch_input;

void ims__batch_input_clear(ims__batch_input *b);

typedef struct ims__checkpoint ims__checkpoint;

#define IMS__COMPACT_DEFAULT 100 /* batches between snapshots (at least) */
/* The interval grows to (keys in the last snapshot / this) batches, so
 * rewriting the snapshot costs at most about this many keys per batch,
 * amortized, however long the stream runs (see checkpoint.c). */
#define IMS__COMPACT_KEYS_PER_BATCH 1000

/* Open (creating offsets/ and commits/ if needed) the checkpoint in dir,
 * and start its writer thread. io: BORROWED, must outlive it; NULL =
 * POSIX; its hooks are also called from the writer thread.
 * compact_interval: as ims_stream_options (0 = IMS__COMPACT_DEFAULT,
 * UINT32_MAX = never). */
ims_status ims__checkpoint_open(const char *dir, const ims_stream_io *io,
                                uint32_t compact_interval,
                                ims__checkpoint **out, ims_error *err);
/* Write what is still queued (unless a write failed), stop the writer
 * thread, free. NULL does nothing. */
void ims__checkpoint_close(ims__checkpoint *cp);

/* Read the checkpoint: the newest valid snapshot, then the per-batch files
 * after it. Every key of a committed batch goes into `committed`;
 * *pending_out gets the uncommitted last batch (count 0 if none;
 * TRANSFERRED, clear with ims__batch_input_clear); *next_id_out the id of
 * the next new batch. Then finishes the deletions of an interrupted
 * compaction. O(total keys) time; O(files) opens.
 * IMS_ERR_IO when a file is unreadable, the history has a hole, or a
 * damaged snapshot covers batches whose files are gone. */
ims_status ims__checkpoint_recover(ims__checkpoint *cp,
                                   ims__keyset *committed,
                                   ims__batch_input *pending_out,
                                   int64_t *next_id_out, ims_error *err);

/* Queue offsets/<id> to the checkpoint's writer thread (checkpoint.c's
 * header: I1-I5): it becomes durable after everything queued before it.
 * Fails at once with an earlier queued write's failure. */
ims_status ims__checkpoint_queue_offsets(ims__checkpoint *cp,
                                         const ims__batch_input *b,
                                         ims_error *err);

/* Queue commits/<id> (after every sink has the batch durably):
 * {"batchId":N} or, with `extra` (JSON members, e.g. "learned":[...]),
 * {"batchId":N,EXTRA} - one file, so what extra records commits with the
 * batch, atomically. Then, if a compaction is due: the compaction hook
 * (here, once the commit is durable), then ims__checkpoint_compact,
 * queued to the compactor's thread (it starts once the commit is
 * durable). A compaction failure is IMS_ERR_IO "checkpoint compaction:
 * ...", reported by a later wait or flush; the commit itself stands. */
ims_status ims__checkpoint_queue_commit(ims__checkpoint *cp, int64_t id,
                                        const char *extra, ims_error *err);

/* Block until every queued offsets and commit write is durable; a
 * compaction still running is not waited for, but one that failed is
 * reported. IMS_ERR_IO (or the status of the first that failed), with
 * its message: the step and the file ("fsync DIR/commits/7: Input/output
 * error", "checkpoint compaction: ..."). */
ims_status ims__checkpoint_wait(ims__checkpoint *cp, ims_error *err);

/* ims__checkpoint_wait, and wait for the compaction in flight too. */
ims_status ims__checkpoint_flush(ims__checkpoint *cp, ims_error *err);

/* Queue, then wait: offsets/<id> durable when this returns IMS_OK. */
ims_status ims__checkpoint_write_offsets(ims__checkpoint *cp,
                                         const ims__batch_input *b,
                                         ims_error *err);

/* Queue, then flush: commits/<id> durable (and compaction done if due). */
ims_status ims__checkpoint_commit(ims__checkpoint *cp, int64_t id,
                                  const char *extra, ims_error *err);

/* commits/<id> parsed (TRANSFERRED: json_decref). IMS_ERR_IO names the
 * file. */
ims_status ims__checkpoint_read_commit(const ims__checkpoint *cp, int64_t id,
                                       json_t **out, ims_error *err);

/* Called before a compaction deletes the commits up to `upto`: whoever
 * keeps state in the commits saves it first. A failure fails the
 * compaction (nothing is deleted). */
typedef ims_status (*ims__compact_hook)(void *ctx, int64_t upto,
                                        ims_error *err);
void ims__checkpoint_set_compact_hook(ims__checkpoint *cp,
                                      ims__compact_hook hook, void *ctx);

/* DIR as given to ims__checkpoint_open. */
const char *ims__checkpoint_dir(const ims__checkpoint *cp);

/* 1 + the id of the last committed batch (after recover; 0 if none);
 * counts a queued commit. */
int64_t ims__checkpoint_committed_end(const ims__checkpoint *cp);

/* Compact now: write offsets/compact-<upto> (the previous snapshot's keys
 * plus those of offsets/<snapshot+1..upto>), durably; only then delete
 * offsets/ and commits/ files <= upto and older snapshots. Batch `upto`
 * and all before it must be committed. Cost: O(keys committed) bytes
 * read and written. */
ims_status ims__checkpoint_compact(ims__checkpoint *cp, int64_t upto,
                                   ims_error *err);

/* Id of the snapshot in use, -1 none. Call when no compaction is in
 * flight (after ims__checkpoint_flush). */
int64_t ims__checkpoint_snapshot_id(const ims__checkpoint *cp);

/* -- snapshot.c: format of offsets/compact-<id> (header of snapshot.c) -- */

#define IMS__SNAPSHOT_VERSION 1

/* A verified snapshot file in memory. */
typedef struct ims__snapshot {
  char *data;      /* owned: the whole file, NUL-terminated */
  size_t size;     /* bytes of the file */
  int64_t id;      /* last batch it covers */
  size_t count;    /* entries (keys) */
  size_t body_off; /* offset of the first entry line in data */
  size_t body_len; /* bytes of the entry lines */
} ims__snapshot;

/* Encoding into a growing buffer (ims__buf_append's): begin (resets *len
 * to 0 and writes the header), add one entry per key, finish (trailer
 * with `count` and the hash of everything before it). 0 or -1 (memory). */
int ims__snapshot_begin(char **buf, size_t *len, size_t *cap, int64_t id);
int ims__snapshot_add(char **buf, size_t *len, size_t *cap, const char *key,
                      int64_t event_time_ms);
int ims__snapshot_finish(char **buf, size_t *len, size_t *cap,
                         size_t count);

/* Read `path` and verify it whole (header, version, id == want_id,
 * trailer, hash, every entry) before *out is set. IMS_ERR_IO naming the
 * file and what is wrong ("checksum mismatch", "truncated (no trailer)");
 * IMS_ERR_NO_MEMORY if the file does not fit in memory. Cost: one read
 * of the file, two passes over it. */
ims_status ims__snapshot_load(const char *path, int64_t want_id,
                              ims__snapshot *out, ims_error *err);
void ims__snapshot_clear(ims__snapshot *s);

/* fn(ctx, key, event time) for each entry in file order; key is BORROWED
 * for the call. Stops at and returns fn's first nonzero result; else 0. */
int ims__snapshot_each(const ims__snapshot *s,
                       int (*fn)(void *ctx, const char *key,
                                 int64_t event_time_ms),
                       void *ctx);

/* ---- 4. discovery.c ---- */

typedef struct ims__discovery ims__discovery;

/* bucket: BORROWED. Discovery keeps the set of keys it has handed out
 * or queued; keys never come out twice. */
ims_status ims__discovery_create(ims_bucket *bucket, ims__discovery **out,
                                 ims_error *err);
void ims__discovery_destroy(ims__discovery *d);

/* Mark a key as taken (committed or replayed). -1 out of memory. */
int ims__discovery_mark(ims__discovery *d, const char *key);

/* The set of keys seen (for the checkpoint to fill). BORROWED. */
ims__keyset *ims__discovery_seen(ims__discovery *d);

/* Total time spent listing the bucket so far, ns. */
uint64_t ims__discovery_list_ns(const ims__discovery *d);

/* Look for new objects: if `wait_ms` > 0, first wait that long for a
 * bucket change (inotify) - the listing is then skipped when nothing woke
 * the wait and the last listing is younger than `relist_ms`. Appends new
 * objects to the queue in (event time, key) order. Cost: one bucket
 * listing, O(objects). */
ims_status ims__discovery_refresh(ims__discovery *d, int wait_ms,
                                  int relist_ms, ims_error *err);

/* Objects queued and not yet taken. */
size_t ims__discovery_pending(const ims__discovery *d);

/* Milliseconds since the last listing (monotonic). */
int64_t ims__discovery_listing_age_ms(const ims__discovery *d);

/* Move up to max queued objects into b->objects (keys TRANSFERRED).
 * Returns the number taken, or -1 out of memory. */
long ims__discovery_take(ims__discovery *d, size_t max,
                         ims__batch_input *b);

/* ---- 5. sources ----
 *
 * A source hands the engine its batches and settles them; the engine
 * (stream.c) runs the same steps whatever the source:
 *
 *   replay  once per run, before anything new: the batch to redo
 *   take    wait for the next batch
 *   begin   before processing it (bucket: queue offsets/<id>)
 *   bodies  where the classifier finds its images
 *   keepalive  after classifying (NATS: restart the ack wait)
 *   ready   before any sink gets a row of it (bucket: wait until
 *           offsets/<id> is durable)
 *   settle  after every sink has its rows (bucket: queue commits/<id>;
 *           NATS: ack, or term the failed images)
 *   flush   when the run ends (bucket: wait until the last commit is
 *           durable)
 *
 * A batch is BORROWED from its source until the source's next replay or
 * take call (or its destroy); its arrays have room for `cap` images, the
 * cap given to the source's create. */

/* When the engine wants its next batch (ims__source_ops.take). */
typedef struct ims__take_plan {
  size_t max;             /* most images in the batch */
  uint64_t not_before_ns; /* monotonic: no batch starts earlier (the
                             trigger interval); 0 = at once */
  uint64_t idle_since_ns; /* monotonic: when the last batch ended, or the
                             run started */
  uint32_t until_idle_ms; /* the run ends after this long without
                             images; 0 = never */
} ims__take_plan;

/* One batch as its source hands it out. */
typedef struct ims__source_batch {
  ims__batch_input in;  /* id, keys and event times */
  bool replay;          /* the uncommitted batch of a checkpoint, redone */
  uint64_t trigger_ns;  /* monotonic: when the batch counts as started;
                           the next may start at this + the interval */
} ims__source_batch;

/* Where the classifier finds a batch's images: files (paths) or encoded
 * images in memory (data, sizes). Arrays of the batch's count, BORROWED
 * from the source until its next call. */
typedef struct ims__bodies {
  const char *const *paths; /* files, or NULL: the images are in data */
  const void *const *data;  /* encoded images (when paths is NULL) */
  const size_t *sizes;      /* their bytes */
  const char *const *names; /* what a decoder's message starts with
                               ("NAME: ..."): cut from error rows */
  const bool *gone;         /* deleted before it could be read: an error
                               row, not a failed batch */
} ims__bodies;

typedef struct ims__source_ops {
  const char *name; /* "bucket", "nats" */
  /* The batch to redo before anything new (*out NULL: none). The same
   * batch again until it is settled. */
  ims_status (*replay)(void *state, const ims__source_batch **out,
                       ims_error *err);
  /* Wait for the next batch as `plan` says, at most about one wait
   * slice (so the engine sees a stop request); *out NULL: none yet. */
  ims_status (*take)(void *state, const ims__take_plan *plan,
                     const ims__source_batch **out, ims_error *err);
  /* Before the batch is processed. May return before what it records is
   * durable (bucket: the offsets file is queued): `ready` waits. */
  ims_status (*begin)(void *state, const ims__source_batch *b,
                      ims_error *err);
  /* Before the first sink gets a row of the batch: what begin (and the
   * settles before it) recorded is durable. A failure fails the batch
   * with no row written (timed as "offsets"). */
  ims_status (*ready)(void *state, const ims__source_batch *b,
                      ims_error *err);
  /* The batch's images for the classifier, into *out. A failure fails
   * the batch (it is not settled). */
  ims_status (*bodies)(void *state, const ims__source_batch *b,
                       ims__bodies *out, ims_error *err);
  /* Between classifying and the sinks. Best effort. */
  void (*keepalive)(void *state);
  /* After every sink has the batch's rows; failed[i]: image i gave an
   * error row; extra: JSON members the commit records with the batch
   * (the learned samples), or NULL (timed as "commit"). May return
   * before the settlement is durable (bucket: the commit file is
   * queued); the next batch's `ready`, or `flush`, waits for it. */
  ims_status (*settle)(void *state, const ims__source_batch *b,
                       const bool *failed, const char *extra,
                       ims_error *err);
  /* The run ends: every settlement so far is durable. */
  ims_status (*flush)(void *state, ims_error *err);
  /* The checkpoint the source commits to, or NULL (none, or NATS). */
  ims__checkpoint *(*checkpoint)(void *state);
  /* Images seen and not yet taken (the metrics' backlog), -1 unknown. */
  long (*backlog)(const void *state);
  /* Can the source deliver now? If not (NATS: the connection is down
   * and reconnecting) false, and why in why[cap]. For /readyz: called
   * on the HTTP server's thread while the stream runs, so it reads only
   * what does not change during a run and thread-safe library calls. */
  bool (*can_deliver)(const void *state, char *why, size_t cap);
  /* Time spent discovering (listing, fetching) so far, ns. */
  uint64_t (*discovery_ns)(const void *state);
  void (*destroy)(void *state);
} ims__source_ops;

/* A source: its table and its state (freed by ops->destroy). */
typedef struct ims__source {
  const ims__source_ops *ops; /* NULL until created */
  void *state;                /* owned */
} ims__source;

/* The bucket source (source_bucket.c): new objects of `bucket` (BORROWED)
 * in arrival order; with opt->checkpoint_dir, offsets before and a commit
 * after each batch, and the uncommitted batch of the checkpoint as the
 * replay (read here: O(committed keys)). opt: COPIED (checkpoint_dir,
 * io, compact_interval, poll_interval_ms are used). cap: images per
 * batch at most. stop: BORROWED, the engine's stop flag; the bucket
 * gives up retrying when it is set. */
ims_status ims__source_bucket_create(ims_bucket *bucket,
                                     const ims_stream_options *opt,
                                     size_t cap,
                                     const volatile sig_atomic_t *stop,
                                     ims__source *out, ims_error *err);

/* The JetStream source (source_nats.c): batches fetched from the durable
 * consumer `o` on the stream of n (BORROWED), acked or terminated on
 * settle; no replay (JetStream redelivers). cap: images per fetch at
 * most. stop: BORROWED; the wait for a trigger ends when it is set. */
ims_status ims__source_nats_create(ims_nats *n,
                                   const ims_nats_consumer_options *o,
                                   size_t cap,
                                   const volatile sig_atomic_t *stop,
                                   ims__source *out, ims_error *err);

/* ---- 6. sinks ---- */

/* One kind of sink. `state` is the implementation's. */
typedef struct ims__sink_ops {
  const char *kind; /* "console", "file", "nats", "custom" */
  /* ims_sink_write: the batch's rows, durable when this returns IMS_OK.
   * `name`: the sink's name for messages (BORROWED). */
  ims_status (*write)(void *state, const char *name, int64_t batch,
                      const ims_stream_row *rows, size_t n,
                      ims_error *err);
  void (*close)(void *state);
} ims__sink_ops;

/* A sink named `name` (COPIED) over ops and state (TRANSFERRED: freed by
 * ops->close, also when this fails). */
ims_status ims__sink_new(const char *name, const ims__sink_ops *ops,
                         void *state, ims_sink **out, ims_error *err);

/* A file format: rows to bytes, and a line back to its batch id. */
typedef struct ims__sink_format {
  const char *prefix; /* "jsonl:" */
  const char *header; /* first line of a new file, or NULL */
  const char *header_learned; /* the same with IMS_SINK_LEARNED */
  /* Append the lines of rows[0..n) to *buf (realloc'd; *len, *cap);
   * flags: the sink's IMS_SINK_*. Returns 0 or -1 out of memory. */
  int (*format)(const ims_stream_row *rows, size_t n, uint32_t flags,
                char **buf, size_t *len, size_t *cap);
  /* Batch id of one complete line (without '\n'), -1 if none (header). */
  int64_t (*line_batch)(const char *line, size_t len);
} ims__sink_format;

extern const ims__sink_format ims__sink_jsonl;
extern const ims__sink_format ims__sink_dead_letter;
extern const ims__sink_format ims__sink_csv;

/* The console table (sink_console.c): rows of one batch to *buf. */
int ims__console_format(int64_t batch, const ims_stream_row *rows, size_t n,
                        uint32_t flags, char **buf, size_t *len,
                        size_t *cap);

/* ---- 7. learning.c: the learned head in the stream ---- */

typedef struct ims__learner ims__learner;

/* Learn with `head` (BORROWED). With cp (BORROWED; must outlive the
 * learner), first restore the head's state from the checkpoint (its
 * snapshot in DIR/learn/ plus the samples of the commits after it) and
 * hook the snapshots to compaction; a checkpoint with no head yet gets
 * the given head as its start. With `shared` (NATS workers; BORROWED),
 * learn from that stream of samples instead (learning.c's header).
 * head_path: COPIED, NULL = never saved.
 * cap: rows per batch at most. Errors: IMS_ERR_IO (damaged or missing
 * files, named), IMS_ERR_BAD_HEAD / IMS_ERR_TOO_LARGE (the checkpoint's
 * head is another model's or over the class limit). */
ims_status ims__learner_create(ims_head *head, const char *head_path,
                               ims__checkpoint *cp, ims_nats *shared,
                               const ims_stream_io *io, size_t cap,
                               ims__learner **out, ims_error *err);
void ims__learner_destroy(ims__learner *l);

/* Predict, then learn, the n rows of a batch (res: the classifier's
 * results, with features): fills each row's learned_label/score; a row
 * whose label the head refuses (over max_classes, malformed) becomes an
 * error row (failed[i] set, *nerr counted). Builds the commit's members
 * (ims__learner_commit_extra). */
ims_status ims__learner_step(ims__learner *l, ims_stream_row *rows,
                             const ims_class_result *res, bool *failed,
                             size_t n, size_t *nerr, ims_error *err);

/* NATS: publish the batch's samples to the shared stream (after the
 * sinks, before the images are acked). IMS_ERR_IO fails the batch. */
ims_status ims__learner_commit(ims__learner *l, ims_error *err);

/* The members the batch's commit must record ("learned":[...]), or NULL
 * without a checkpoint. BORROWED until the next step. */
const char *ims__learner_commit_extra(const ims__learner *l);

/* After a batch is settled (saves HEAD every 100 batches without a
 * checkpoint). */
ims_status ims__learner_batch_done(ims__learner *l, ims_error *err);

/* The run ended cleanly: save HEAD. */
ims_status ims__learner_finish(ims__learner *l, ims_error *err);

/* The progress record's "learned" object (TRANSFERRED), NULL out of
 * memory. */
json_t *ims__learner_progress(const ims__learner *l);

/* accuracy_last_100 and the samples learned, for the metrics. */
void ims__learner_stats(const ims__learner *l, double *accuracy_last_100,
                        uint64_t *seen);

#endif /* IMS_STREAM_STREAM_INT_H */
