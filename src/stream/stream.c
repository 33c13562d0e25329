/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.c - the micro-batch engine behind ims_stream (see stream.h and
 * nats.h): one loop over a source (stream_int.h's ims__source_ops - the
 * bucket source, source_bucket.c, or the JetStream source,
 * source_nats.c), a classifier, and sinks (ims__sink_ops).
 *
 * One batch, in order (the exactly-once protocol):
 *   1. take up to max_files_per_trigger new objects from the source
 *      (bucket: from discovery's queue; NATS: one fetch from the shared
 *      pull consumer)
 *   2. begin: bucket + checkpoint: queue offsets/<id> to the
 *      checkpoint's writer thread, which makes it durable while step 3
 *      runs; not for a replay; NATS: nothing (the fetch leased the
 *      images)
 *   3. classify them (one classifier run: decode on all cores, one engine
 *      run), from the files or the bodies in memory the source gives
 *      (s3: read into per-slot buffers reused from batch to batch; a read
 *      that fails after the backend's retries fails the batch). A bad
 *      image becomes an error row, never a failure, but an image that met
 *      out of memory fails the batch: that is the machine's state, not
 *      the image's, and a row would lose it. Then the source's keepalive
 *      (NATS: restart the ack wait of a slow batch). With a learned head
 *      (learning.c), each row is predicted by it, then its label learned;
 *      the samples learned go into the batch's commit
 *   4. ready: wait until what begin queued is durable (timed as
 *      "offsets": only what step 3 did not hide); then every sink
 *      writes and syncs the rows
 *   5. settle: bucket + checkpoint: queue commits/<id>, made durable
 *      while the next batch is taken and classified (its offsets queue
 *      behind it, so its step 4 waits for both) - and, every
 *      compact_interval batches, wait for it and compact (that time
 *      counts as "commit"); NATS: ack each image, terminate the failed
 *      ones - then the progress record
 * When the run ends (stop, idle, max_batches, or an error), the source
 * flushes: the last commit is durable before ims_stream_run returns.
 * So no fsync of the checkpoint sits between an image's landing and its
 * row, yet no sink ever holds a row of a batch whose offsets are not
 * durable, nor of a batch after one whose commit is not (checkpoint.c:
 * I1-I5).
 * A failure in 2-5 stops the run with an error naming what failed; the
 * batch is not settled: the bucket's stays uncommitted and the next
 * engine on the checkpoint replays it (before anything new: the source's
 * replay step), NATS's is redelivered by JetStream after its ack wait.
 * A queued checkpoint write that fails is reported by the next step 4
 * (or the flush): that batch writes no row.
 *
 * Scheduling: with trigger_interval_ms 0 a batch starts as soon as objects
 * are there; else at most one per interval, counted from when the
 * previous one started (its trigger_ns). While nothing is due the source
 * waits in slices (bucket: on inotify, at most 100 ms, re-listing on a
 * wake-up or every poll_interval_ms; NATS: sleeps of 50 ms, then a fetch
 * waiting at most 200 ms), so a stop request is seen quickly.
 *
 * Stop: ims_stream_stop sets a sig_atomic_t flag, checked between batches,
 * so the batch in flight is always finished and settled first - unless
 * the bucket is retrying an outage (s3): it sees the same flag and gives
 * up at its next retry, failing the batch, which stays uncommitted.
 *
 * Sections: 1. state  2. progress  3. one batch  4. the loop
 *           5. create/destroy
 *
 * Threading: ims_stream_run on one thread; ims_stream_stop from anywhere.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "http/http_int.h"
#include "stream/stream_int.h"

/* ---- 1. state ---- */

#define LATENCY_WINDOW 1000 /* rows in the latency percentiles */
#define LABEL_CAP 256       /* bytes per label */

/* Durations of one batch, ns. */
typedef struct batch_times {
  uint64_t discovery, offsets, decode, inference, learn, sink, commit, total;
} batch_times;

struct ims_stream {
  ims__source src;             /* owned: where batches come from */
  ims_classifier *clf;         /* BORROWED */
  ims_sink **sinks;            /* owned array of BORROWED sinks */
  size_t nsinks;               /* entries in sinks */
  ims_stream_options opt;      /* copy; checkpoint_dir not kept (the
                                  source has opened it) */
  volatile sig_atomic_t stop;  /* set by ims_stream_stop */
  uint64_t batches, rows;      /* settled by this engine */
  char *labels;                /* owned: cap * LABEL_CAP */
  bool *failed;                /* owned: cap "gave an error row" */
  ims_stream_row *out;         /* owned: cap rows */
  size_t cap;                  /* images per batch at most */
  int64_t lat[LATENCY_WINDOW]; /* recent latencies, ms (ring) */
  size_t lat_count, lat_pos;   /* entries used / next slot */
  uint64_t prev_start_ns;      /* start of the previous batch, 0 none */
  uint64_t list_ns_seen;       /* source discovery time already reported */
  ims__learner *learner;       /* owned, NULL without options.head */
  int64_t *row_latency;        /* owned: cap, the batch's latencies (ms) */
  ims__row_image *row_images;  /* owned: cap, the batch's model inputs
                                  (options.metrics: thumbnails) */
  uint64_t batch_bytes;        /* encoded bytes the batch read */
};

/* ---- 2. progress ---- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* p50/p99 of the latency window (nearest rank). */
static void percentiles(const ims_stream *s, int64_t *p50, int64_t *p99) {
  int64_t sorted[LATENCY_WINDOW];
  size_t n = s->lat_count;
  *p50 = *p99 = 0;
  if (n == 0) return;
  memcpy(sorted, s->lat, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp_i64);
  *p50 = sorted[(n * 50 + 99) / 100 - 1];
  *p99 = sorted[(n * 99 + 99) / 100 - 1];
}

static double ms(uint64_t ns) { return (double)(ns / 1000) / 1000.0; }

static void report_progress(ims_stream *s, int64_t id, size_t n,
                            size_t nerr, const batch_times *t,
                            uint64_t since_prev_ns, bool replay) {
  if (s->opt.on_progress == NULL && s->opt.metrics == NULL) return;
  int64_t p50, p99;
  percentiles(s, &p50, &p99);
  char ts[40];
  ims__iso8601_ms(ims__now_epoch_ms(), ts, sizeof ts);
  json_t *d = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "discovery",
                        ms(t->discovery), "offsets", ms(t->offsets),
                        "decode", ms(t->decode), "inference",
                        ms(t->inference), "sink", ms(t->sink), "commit",
                        ms(t->commit), "total", ms(t->total));
  if (d != NULL && s->learner != NULL)
    json_object_set_new(d, "learn", json_real(ms(t->learn)));
  json_t *o = json_pack(
      "{s:I, s:s, s:I, s:I, s:b, s:f, s:f, s:o, s:{s:I, s:I, s:I}}",
      "batchId", (json_int_t)id, "timestamp", ts, "numInputRows",
      (json_int_t)n, "numErrorRows", (json_int_t)nerr, "replay", replay,
      "inputRowsPerSecond",
      since_prev_ns ? (double)n * 1e9 / (double)since_prev_ns : 0.0,
      "processedRowsPerSecond",
      t->total ? (double)n * 1e9 / (double)t->total : 0.0, "durationMs", d,
      "latencyMs", "p50", (json_int_t)p50, "p99", (json_int_t)p99, "window",
      (json_int_t)s->lat_count);
  if (o != NULL && s->learner != NULL)
    json_object_set_new(o, "learned", ims__learner_progress(s->learner));
  char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))
                         : NULL;
  if (text != NULL && s->opt.on_progress != NULL)
    s->opt.on_progress(s->opt.progress_ctx, text);
  if (text != NULL) ims__metrics_progress(s->opt.metrics, text);
  free(text);
  json_decref(o);
}

/* ---- 3. one batch ---- */

/* Classify the images of `in`; results_out as ims_classifier_run_*. */
static ims_status classify(ims_stream *s, size_t n, const ims__bodies *in,
                           const ims_class_result **results_out,
                           ims_error *err) {
  if (in->paths != NULL)
    return ims_classifier_run_files(s->clf, n, in->paths, results_out, err);
  return ims_classifier_run_memory(s->clf, n, in->data, in->sizes,
                                   results_out, err);
}

/* The message without the "NAME: " prefix the decoder puts first. */
static const char *strip_path(const char *msg, const char *path) {
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
    return msg + n + 2;
  return msg;
}

/* Fill s->out and s->failed from the results; returns the number of
 * error rows. */
static size_t make_rows(ims_stream *s, const ims__batch_input *b,
                        const ims__bodies *in, const ims_class_result *res) {
  int64_t now = ims__now_epoch_ms();
  size_t nerr = 0;
  for (size_t i = 0; i < b->count; i++) {
    ims_stream_row *r = &s->out[i];
    const char *key = b->objects[i].key;
    char *label = s->labels + i * LABEL_CAP;
    const char *slash = strchr(key, '/');
    snprintf(label, LABEL_CAP, "%.*s", slash ? (int)(slash - key) : 0, key);
    memset(r, 0, sizeof *r);
    r->batch = b->id;
    r->path = key;
    r->label = label;
    r->event_time_ms = b->objects[i].event_time_ms;
    r->processing_time_ms = now;
    if (in->gone[i]) {
      r->error = "object deleted from the bucket before it could be read";
      nerr++;
    } else if (res[i].error.status != IMS_OK) {
      r->error = strip_path(res[i].error.message, in->names[i]);
      nerr++;
    } else {
      r->class_id = res[i].top[0].class_id;
      r->desc = res[i].top[0].desc;
      r->score = res[i].top[0].score;
    }
    s->failed[i] = res[i].error.status != IMS_OK;
    s->lat[s->lat_pos] = now - r->event_time_ms;
    s->lat_pos = (s->lat_pos + 1) % LATENCY_WINDOW;
    if (s->lat_count < LATENCY_WINDOW) s->lat_count++;
  }
  return nerr;
}

/* What record_metrics needs of the batch after its buffers are reused:
 * the bytes read, and where each image's model input is (valid until
 * the next classifier run). */
static void keep_for_metrics(ims_stream *s, const ims__batch_input *b,
                             const ims__bodies *in,
                             const ims_class_result *res) {
  if (s->opt.metrics == NULL) return;
  ims_model_info info;
  ims_model_get_info(ims_classifier_model(s->clf), &info);
  s->batch_bytes = 0;
  for (size_t i = 0; i < b->count; i++) {
    s->batch_bytes += in->sizes != NULL ? in->sizes[i] : b->objects[i].size;
    s->row_images[i] = (ims__row_image){res[i].pixels, info.input_height,
                                        info.input_width};
  }
}

static ims_status write_sinks(ims_stream *s, const ims__batch_input *b,
                              ims_error *err) {
  for (size_t i = 0; i < s->nsinks; i++) {
    ims_status st = ims_sink_write(s->sinks[i], b->id, s->out, b->count, err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* The first image whose decode ran out of memory fails the batch. */
static ims_status machine_failure(const ims__batch_input *b,
                                  const ims__bodies *in,
                                  const ims_class_result *res,
                                  ims_error *err) {
  for (size_t i = 0; i < b->count; i++) {
    if (res[i].error.status != IMS_ERR_NO_MEMORY) continue;
    return ims__fail(err, IMS_ERR_NO_MEMORY,
                     "batch %lld: %s: %s (not committed: replayed by the "
                     "next run)",
                     (long long)b->id, b->objects[i].key,
                     strip_path(res[i].error.message, in->names[i]));
  }
  return IMS_OK;
}

/* Steps 2-3 of the header: begin, then classify. */
static ims_status begin_and_classify(ims_stream *s,
                                     const ims__source_batch *b,
                                     ims__bodies *in,
                                     const ims_class_result **res,
                                     batch_times *t, ims_error *err) {
  const ims__source_ops *ops = s->src.ops;
  uint64_t t0 = ims__now_mono_ns();
  ims_status st = ops->begin(s->src.state, b, err);
  if (st != IMS_OK) return st;
  t->offsets = ims__now_mono_ns() - t0;
  st = ops->bodies(s->src.state, b, in, err);
  if (st == IMS_OK) st = classify(s, b->in.count, in, res, err);
  if (st == IMS_OK) st = machine_failure(&b->in, in, *res, err);
  if (st != IMS_OK) return st;
  ims_classifier_stats cs;
  ims_classifier_get_stats(s->clf, &cs);
  t->decode = cs.decode_ns;
  t->inference = cs.inference_ns;
  return IMS_OK;
}

/* Run one batch through steps 2-5 of the header. */
static ims_status run_batch(ims_stream *s, const ims__source_batch *b,
                            batch_times *t, size_t *nerr_out,
                            ims_error *err) {
  const ims__source_ops *ops = s->src.ops;
  const ims_class_result *res = NULL;
  ims__bodies in;
  memset(&in, 0, sizeof in);
  ims_status st = begin_and_classify(s, b, &in, &res, t, err);
  if (st != IMS_OK) return st;
  ops->keepalive(s->src.state);
  *nerr_out = make_rows(s, &b->in, &in, res);
  keep_for_metrics(s, &b->in, &in, res);
  const char *extra = NULL;
  if (s->learner != NULL) {
    uint64_t t0 = ims__now_mono_ns();
    st = ims__learner_step(s->learner, s->out, res, s->failed, b->in.count,
                           nerr_out, err);
    if (st != IMS_OK) return st;
    extra = ims__learner_commit_extra(s->learner);
    t->learn = ims__now_mono_ns() - t0;
  }
  uint64_t t0 = ims__now_mono_ns();
  st = ops->ready(s->src.state, b, err);
  if (st != IMS_OK) return st;
  t->offsets += ims__now_mono_ns() - t0;
  t0 = ims__now_mono_ns();
  st = write_sinks(s, &b->in, err);
  if (st != IMS_OK) return st;
  uint64_t t1 = ims__now_mono_ns();
  t->sink = t1 - t0;
  if (s->learner != NULL)
    st = ims__learner_commit(s->learner, err);
  if (st != IMS_OK)
    return st;
  st = ops->settle(s->src.state, b, s->failed, extra, err);
  if (st == IMS_OK && s->learner != NULL)
    st = ims__learner_batch_done(s->learner, err);
  if (st != IMS_OK) return st;
  t->commit = ims__now_mono_ns() - t1;
  s->batches++;
  s->rows += b->in.count;
  return IMS_OK;
}

/* Count the batch into options.metrics. */
static void record_metrics(ims_stream *s, const ims__source_batch *b,
                           size_t nerr, const batch_times *t) {
  if (s->opt.metrics == NULL) return;
  for (size_t i = 0; i < b->in.count; i++)
    s->row_latency[i] = s->out[i].processing_time_ms - s->out[i].event_time_ms;
  ims__batch_metrics bm = {
      .id = b->in.id,
      .rows = b->in.count,
      .errors = nerr,
      .replay = b->replay,
      .seconds = (double)t->total / 1e9,
      .decode_seconds = (double)t->decode / 1e9,
      .inference_seconds = (double)t->inference / 1e9,
      .latency_ms = s->row_latency,
      .learning = s->learner != NULL,
      .backlog = s->src.ops->backlog(s->src.state),
      .bytes = s->batch_bytes,
  };
  if (s->learner != NULL)
    ims__learner_stats(s->learner, &bm.learned_accuracy, &bm.learned_seen);
  ims__metrics_batch(s->opt.metrics, &bm);
  ims__metrics_rows(s->opt.metrics, s->out, b->in.count, s->row_images);
}

/* One batch with its timing and progress record. */
static ims_status do_batch(ims_stream *s, const ims__source_batch *b,
                           ims_error *err) {
  batch_times t;
  memset(&t, 0, sizeof t);
  uint64_t start = ims__now_mono_ns();
  uint64_t listed = s->src.ops->discovery_ns(s->src.state);
  t.discovery = listed - s->list_ns_seen;
  s->list_ns_seen = listed;
  size_t nerr = 0;
  ims_status st = run_batch(s, b, &t, &nerr, err);
  if (st != IMS_OK) return st;
  t.total = ims__now_mono_ns() - start + t.discovery;
  uint64_t since = s->prev_start_ns ? start - s->prev_start_ns : 0;
  s->prev_start_ns = start;
  record_metrics(s, b, nerr, &t);
  report_progress(s, b->in.id, b->in.count, nerr, &t, since, b->replay);
  return IMS_OK;
}

/* ---- 4. the loop ---- */

static bool idle_expired(const ims_stream *s, uint64_t idle_since) {
  return s->opt.until_idle_ms > 0 &&
         ims__now_mono_ns() - idle_since >=
             (uint64_t)s->opt.until_idle_ms * 1000000u;
}

/* /readyz asks the source, on the server's thread, while the stream
 * runs (ims__metrics_set_probe). */
static bool source_probe(void *ctx, char *why, size_t cap) {
  const ims_stream *s = ctx;
  return s->src.ops->can_deliver(s->src.state, why, cap);
}

/* Redo the batch the source has to replay, if any (bucket: the
 * checkpoint's uncommitted batch), before anything new. */
static ims_status replay(ims_stream *s, uint64_t *done, ims_error *err) {
  const ims__source_batch *b = NULL;
  ims_status st = s->src.ops->replay(s->src.state, &b, err);
  if (st != IMS_OK || b == NULL) return st;
  st = do_batch(s, b, err);
  if (st == IMS_OK) (*done)++;
  return st;
}

ims_status ims_stream_run(ims_stream *s, ims_error *err) {
  uint64_t done = 0, next_trigger = 0;
  uint64_t idle_since = ims__now_mono_ns();
  uint64_t interval = (uint64_t)s->opt.trigger_interval_ms * 1000000u;
  ims_metrics_set_ready(s->opt.metrics, true, NULL);
  ims__metrics_set_probe(s->opt.metrics, source_probe, s);
  ims_status st = replay(s, &done, err);
  while (st == IMS_OK && !s->stop &&
         (s->opt.max_batches == 0 || done < s->opt.max_batches)) {
    ims__take_plan plan = {.max = s->opt.max_files_per_trigger,
                           .not_before_ns = next_trigger,
                           .idle_since_ns = idle_since,
                           .until_idle_ms = s->opt.until_idle_ms};
    const ims__source_batch *b = NULL;
    st = s->src.ops->take(s->src.state, &plan, &b, err);
    if (st != IMS_OK) break;
    if (b == NULL) {
      if (idle_expired(s, idle_since)) break;
      continue;
    }
    next_trigger = interval ? b->trigger_ns + interval : 0;
    st = do_batch(s, b, err);
    idle_since = ims__now_mono_ns();
    done++;
  }
  /* The last commits are durable when run returns; after a failure the
   * first error is the one reported. */
  ims_error flushed = {0};
  ims_status fst = s->src.ops->flush(s->src.state, &flushed);
  if (st == IMS_OK && fst != IMS_OK)
    st = ims__fail(err, fst, "%s", flushed.message);
  /* Only a clean end saves HEAD: after a failure the head holds the
   * failed batch, which is not committed. */
  if (st == IMS_OK && s->learner != NULL)
    st = ims__learner_finish(s->learner, err);
  ims__metrics_set_probe(s->opt.metrics, NULL, NULL);
  ims_metrics_set_ready(s->opt.metrics, false,
                     st == IMS_OK ? "stopped" : "the stream stopped on an error");
  return st;
}

void ims_stream_stop(ims_stream *s) { s->stop = 1; }

uint64_t ims_stream_batches_done(const ims_stream *s) { return s->batches; }

uint64_t ims_stream_rows_done(const ims_stream *s) { return s->rows; }

/* ---- 5. create/destroy ---- */

static ims_status check_head(ims_classifier *clf, const ims_head *head,
                             ims_error *err) {
  size_t have = ims_classifier_feature_count(clf);
  if (have == 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "stream: learning needs a classifier made with "
                     "IMS_ENGINE_FLAG_FEATURES");
  if (have != ims_head_feature_count(head))
    return ims__fail(err, IMS_ERR_BAD_HEAD,
                     "stream: the learned head takes %u features; the model "
                     "gives %zu",
                     ims_head_feature_count(head), have);
  return IMS_OK;
}

static ims_status check_args(ims_classifier *clf, size_t nsinks,
                             const ims_stream_options *o, ims_error *err) {
  if (nsinks == 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "stream: no sinks");
  if (o->head != NULL) {
    ims_status st = check_head(clf, o->head, err);
    if (st != IMS_OK) return st;
  }
  if (ims_classifier_max_batch(clf) < o->max_files_per_trigger)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "stream: the classifier takes %zu images per run, "
                     "max_files_per_trigger is %u",
                     ims_classifier_max_batch(clf), o->max_files_per_trigger);
  return IMS_OK;
}

static ims_status alloc_state(ims_stream *s, ims_sink *const *sinks,
                              ims_error *err) {
  size_t n = s->opt.max_files_per_trigger;
  size_t m = ims_classifier_max_batch(s->clf);
  if (m > n) n = m; /* a replayed batch may be larger than the trigger */
  s->cap = n;
  s->sinks = calloc(s->nsinks, sizeof *s->sinks);
  s->labels = malloc(n * LABEL_CAP);
  s->out = calloc(n, sizeof *s->out);
  s->failed = calloc(n, sizeof *s->failed);
  s->row_latency = calloc(n, sizeof *s->row_latency);
  s->row_images = calloc(n, sizeof *s->row_images);
  if (s->sinks == NULL || s->labels == NULL || s->out == NULL ||
      s->failed == NULL || s->row_latency == NULL || s->row_images == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  memcpy(s->sinks, sinks, s->nsinks * sizeof *sinks);
  return IMS_OK;
}

/* The engine without its source: options and buffers. *out is set
 * whenever the engine was allocated (for ims_stream_destroy). */
static ims_status new_engine(ims_classifier *clf, ims_sink *const *sinks,
                             size_t nsinks, const ims_stream_options *options,
                             ims_stream **out, ims_error *err) {
  ims_stream_options o;
  memset(&o, 0, sizeof o);
  if (options != NULL) o = *options;
  if (o.max_files_per_trigger == 0) o.max_files_per_trigger = 1;
  if (o.poll_interval_ms == 0) o.poll_interval_ms = 1000;
  if (o.io == NULL) o.io = ims_stream_io_posix();
  ims_status st = check_args(clf, nsinks, &o, err);
  if (st != IMS_OK) return st;
  ims_stream *s = calloc(1, sizeof *s);
  if (s == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  s->clf = clf;
  s->nsinks = nsinks;
  s->opt = o;
  *out = s;
  return alloc_state(s, sinks, err);
}

/* The learner, once the source (and its checkpoint) is open; `shared`:
 * the samples stream of NATS workers, else NULL. */
static ims_status start_learning(ims_stream *s, ims_nats *shared,
                                 ims_error *err) {
  if (s->opt.head == NULL) return IMS_OK;
  ims_status st = ims__learner_create(
      s->opt.head, s->opt.head_path, s->src.ops->checkpoint(s->src.state),
      shared, s->opt.io, s->cap, &s->learner, err);
  s->opt.head_path = NULL; /* copied by the learner */
  return st;
}

ims_status ims_stream_create(ims_bucket *bucket, ims_classifier *clf,
                             ims_sink *const *sinks, size_t nsinks,
                             const ims_stream_options *options,
                             ims_stream **out, ims_error *err) {
  ims_stream *s = NULL;
  ims_status st = new_engine(clf, sinks, nsinks, options, &s, err);
  if (st == IMS_OK)
    st = ims__source_bucket_create(bucket, &s->opt, s->cap, &s->stop,
                                   &s->src, err);
  if (st == IMS_OK) st = start_learning(s, NULL, err);
  if (st == IMS_OK) s->opt.checkpoint_dir = NULL; /* not ours to keep */
  if (st != IMS_OK) {
    ims_stream_destroy(s);
    return st;
  }
  *out = s;
  return IMS_OK;
}

ims_status ims_stream_create_nats(ims_nats *source,
                                  const ims_nats_consumer_options *consumer,
                                  ims_classifier *clf, ims_sink *const *sinks,
                                  size_t nsinks,
                                  const ims_stream_options *options,
                                  ims_stream **out, ims_error *err) {
  if (options != NULL && options->checkpoint_dir != NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "stream: no checkpoint with a JetStream source (its "
                     "acks are the checkpoint)");
  ims_stream *s = NULL;
  ims_status st = new_engine(clf, sinks, nsinks, options, &s, err);
  if (st == IMS_OK)
    st = ims__source_nats_create(source, consumer,
                                 s->opt.max_files_per_trigger, &s->stop,
                                 &s->src, err);
  if (st == IMS_OK && s->opt.head != NULL && s->opt.learn_nats == NULL)
    st = ims__fail(err, IMS_ERR_INVALID_ARG,
                   "stream: learning with a JetStream source needs the "
                   "stream of learned samples (learn_nats)");
  if (st == IMS_OK) st = start_learning(s, s->opt.learn_nats, err);
  if (st != IMS_OK) {
    ims_stream_destroy(s);
    return st;
  }
  *out = s;
  return IMS_OK;
}

void ims_stream_destroy(ims_stream *s) {
  if (s == NULL) return;
  ims__learner_destroy(s->learner); /* before the checkpoint it hooks */
  if (s->src.ops != NULL) s->src.ops->destroy(s->src.state);
  free(s->sinks);
  free(s->labels);
  free(s->out);
  free(s->failed);
  free(s->row_latency);
  free(s->row_images);
  free(s);
}
