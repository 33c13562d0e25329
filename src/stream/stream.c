/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - the micro-batch engine behind ims_stream (see stream.h).
 *
 * One batch, in order (the exactly-once protocol):
 *   1. take up to max_files_per_trigger new objects from the source
 *   2. checkpoint offsets/<id> (durable)      - skipped for a replay
 *   3. classify them (one classifier run: decode on all cores, one engine
 *      run); a bad image becomes an error row, never a failure, but an
 *      image that met out of memory fails the batch: that is the
 *      machine's state, not the image's, and a row would lose it. Objects
 *      of buckets without local files (s3://) are first read into
 *      per-slot buffers reused from batch to batch; a read that fails
 *      after the backend's retries fails the batch (it is replayed)
 *   4. every sink writes and syncs the rows
 *   5. checkpoint commits/<id> (durable) - and, every compact_interval
 *      batches, the checkpoint's compaction (its time counts as
 *      "commit") - then the progress record
 * A failure in 2-5 stops the run with an error naming what failed; the
 * batch stays uncommitted and the next engine on the checkpoint replays it.
 *
 * Scheduling: with trigger_interval_ms 0 a batch starts as soon as objects
 * are queued; when the queue is empty the engine waits on the bucket
 * (inotify) in slices of at most 100 ms (so a stop request is seen
 * quickly) and re-lists on a wake-up or every poll_interval_ms.
 *
 * A JetStream source (ims_stream_create_nats, nats_queue.c) replaces
 * steps 1, 2 and 5: a batch is one fetch from the shared pull consumer,
 * and after the sinks each image is acked (a failed one terminated)
 * instead of a commit; there is no replay, JetStream redelivers.
 *
 * Stop: ims_stream_stop sets a sig_atomic_t flag, checked between batches,
 * so the batch in flight is always finished and committed first - unless
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
#include "bucket/bucket_int.h"
#include "stream/stream_int.h"
#include "nats/nats_int.h"

/* ---- 1. state ---- */

#define LATENCY_WINDOW 1000 /* rows in the latency percentiles */
#define WAIT_SLICE_MS 100   /* longest bucket wait between stop checks */
#define PATH_CAP 4096       /* bytes per local path */
#define LABEL_CAP 256       /* bytes per label */

/* Durations of one batch, ns. */
typedef struct batch_times {
  uint64_t discovery, offsets, decode, inference, sink, commit, total;
} batch_times;

struct ims_stream {
  ims_bucket *bucket;          /* BORROWED */
  ims_classifier *clf;         /* BORROWED */
  ims_sink **sinks;            /* owned array of BORROWED sinks */
  size_t nsinks;               /* entries in sinks */
  ims_stream_options opt;      /* copy; checkpoint_dir points to ckpt_dir */
  char *ckpt_dir;              /* owned copy, NULL = no checkpoint */
  ims__checkpoint *cp;         /* owned, NULL without a checkpoint */
  ims__source *src;            /* owned; NULL with a queue */
  ims__queue *queue;           /* owned: JetStream consumer, or NULL */
  const void *const *qdata;    /* bodies of the queue's batch (BORROWED) */
  const size_t *qsizes;        /* their sizes (BORROWED) */
  bool *failed;                /* owned: max_files flags for settling */
  ims__batch_input replay;     /* owned: uncommitted batch to redo */
  int64_t next_id;             /* id of the next new batch */
  volatile sig_atomic_t stop;  /* set by ims_stream_stop */
  uint64_t batches, rows;      /* committed by this engine */
  char *paths;                 /* owned: max_files * PATH_CAP */
  const char **pathv;          /* owned: max_files pointers into paths */
  char *labels;                /* owned: max_files * LABEL_CAP */
  ims__bucket_buf *bufs;       /* owned: max_files object bodies, reused
                                  (buckets without local paths: s3) */
  const void **datav;          /* owned: max_files pointers into bufs */
  size_t *sizev;               /* owned: max_files sizes */
  bool *gone;                  /* owned: max_files "listed, then 404" */
  size_t nbufs;                /* entries of bufs, datav, sizev, gone */
  ims_stream_row *out;         /* owned: max_files rows */
  int64_t lat[LATENCY_WINDOW]; /* recent latencies, ms (ring) */
  size_t lat_count, lat_pos;   /* entries used / next slot */
  uint64_t prev_start_ns;      /* start of the previous batch, 0 none */
  uint64_t list_ns_seen;       /* source listing time already reported */
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
  if (s->opt.on_progress == NULL) return;
  int64_t p50, p99;
  percentiles(s, &p50, &p99);
  char ts[40];
  ims__iso8601_ms(ims__now_epoch_ms(), ts, sizeof ts);
  json_t *d = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "discovery",
                        ms(t->discovery), "offsets", ms(t->offsets),
                        "decode", ms(t->decode), "inference",
                        ms(t->inference), "sink", ms(t->sink), "commit",
                        ms(t->commit), "total", ms(t->total));
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
  char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))
                         : NULL;
  if (text != NULL) s->opt.on_progress(s->opt.progress_ctx, text);
  free(text);
  json_decref(o);
}

/* ---- 3. one batch ---- */

/* Read b's objects into s->bufs (reused from batch to batch; s3: several
 * downloads at once) and classify them from memory. An object deleted
 * since it was listed becomes an error row (s->gone); any other read
 * failure - after the backend's retries - fails the batch, which stays
 * uncommitted and is read again on the next run. */
static ims_status classify_fetched(ims_stream *s, const ims__batch_input *b,
                                   const ims_class_result **results_out,
                                   ims_error *err) {
  for (size_t i = 0; i < b->count; i++) {
    s->pathv[i] = b->objects[i].key;
    snprintf(s->paths + i * PATH_CAP, PATH_CAP, "%s", s->pathv[i]);
  }
  ims_status st = ims__bucket_read_many(s->bucket, b->count, s->pathv,
                                        s->bufs, s->gone, err);
  if (st != IMS_OK) return st;
  for (size_t i = 0; i < b->count; i++) {
    s->datav[i] = s->gone[i] ? "" : s->bufs[i].data;
    s->sizev[i] = s->gone[i] ? 0 : s->bufs[i].size;
  }
  return ims_classifier_run_memory(s->clf, b->count, s->datav, s->sizev,
                                   results_out, err);
}

/* Classify b's objects; results_out as ims_classifier_run_*. Objects of
 * buckets without local paths are read into memory first; a queue's are
 * in memory already. */
static ims_status classify(ims_stream *s, const ims__batch_input *b,
                           const ims_class_result **results_out,
                           ims_error *err) {
  const char **paths = s->pathv;
  memset(s->gone, 0, b->count * sizeof *s->gone);
  if (s->queue == NULL && !ims__bucket_has_local_paths(s->bucket))
    return classify_fetched(s, b, results_out, err);
  if (s->queue != NULL) {
    for (size_t i = 0; i < b->count; i++) /* for strip_path */
      snprintf(s->paths + i * PATH_CAP, PATH_CAP, "%s", b->objects[i].key);
    return ims_classifier_run_memory(s->clf, b->count, s->qdata, s->qsizes,
                                     results_out, err);
  }
  for (size_t i = 0; i < b->count; i++) {
    char *p = s->paths + i * PATH_CAP;
    ims_status st = ims_bucket_local_path(s->bucket, b->objects[i].key, p,
                                          PATH_CAP, err);
    if (st != IMS_OK) return st;
    paths[i] = p;
  }
  return ims_classifier_run_files(s->clf, b->count, paths, results_out, err);
}

/* The message without the "PATH: " prefix the decoder puts first. */
static const char *strip_path(const char *msg, const char *path) {
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
    return msg + n + 2;
  return msg;
}

/* Fill s->out from the results; returns the number of error rows. */
static size_t make_rows(ims_stream *s, const ims__batch_input *b,
                        const ims_class_result *res) {
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
    if (s->gone[i]) {
      r->error = "object deleted from the bucket before it could be read";
      nerr++;
    } else if (res[i].error.status != IMS_OK) {
      r->error = strip_path(res[i].error.message, s->paths + i * PATH_CAP);
      nerr++;
    } else {
      r->class_id = res[i].top[0].class_id;
      r->desc = res[i].top[0].desc;
      r->score = res[i].top[0].score;
    }
    s->lat[s->lat_pos] = now - r->event_time_ms;
    s->lat_pos = (s->lat_pos + 1) % LATENCY_WINDOW;
    if (s->lat_count < LATENCY_WINDOW) s->lat_count++;
  }
  return nerr;
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
static ims_status machine_failure(ims_stream *s, const ims__batch_input *b,
                                  const ims_class_result *res,
                                  ims_error *err) {
  for (size_t i = 0; i < b->count; i++) {
    if (res[i].error.status != IMS_ERR_NO_MEMORY) continue;
    return ims__fail(err, IMS_ERR_NO_MEMORY,
                     "batch %lld: %s: %s (not committed: replayed by the "
                     "next run)",
                     (long long)b->id, b->objects[i].key,
                     strip_path(res[i].error.message,
                                s->paths + i * PATH_CAP));
  }
  return IMS_OK;
}

/* Run one batch through steps 2-5 of the header. */
static ims_status run_batch(ims_stream *s, const ims__batch_input *b,
                            bool replay, batch_times *t, size_t *nerr_out,
                            ims_error *err) {
  uint64_t t0 = ims__now_mono_ns(), t1;
  ims_status st = IMS_OK;
  if (s->cp != NULL && !replay)
    st = ims__checkpoint_write_offsets(s->cp, b, err);
  if (st != IMS_OK) return st;
  t1 = ims__now_mono_ns();
  t->offsets = t1 - t0;
  const ims_class_result *res = NULL;
  st = classify(s, b, &res, err);
  if (st == IMS_OK) st = machine_failure(s, b, res, err);
  if (st != IMS_OK) return st;
  ims_classifier_stats cs;
  ims_classifier_get_stats(s->clf, &cs);
  t->decode = cs.decode_ns;
  t->inference = cs.inference_ns;
  if (s->queue != NULL) ims__queue_keepalive(s->queue);
  *nerr_out = make_rows(s, b, res);
  for (size_t i = 0; s->queue != NULL && i < b->count; i++)
    s->failed[i] = res[i].error.status != IMS_OK;
  t0 = ims__now_mono_ns();
  st = write_sinks(s, b, err);
  if (st != IMS_OK) return st;
  t1 = ims__now_mono_ns();
  t->sink = t1 - t0;
  if (s->cp != NULL) st = ims__checkpoint_commit(s->cp, b->id, err);
  if (s->queue != NULL) ims__queue_settle(s->queue, s->failed);
  if (st != IMS_OK) return st;
  t->commit = ims__now_mono_ns() - t1;
  s->batches++;
  s->rows += b->count;
  return IMS_OK;
}

/* One batch with its timing and progress record. */
static ims_status do_batch(ims_stream *s, const ims__batch_input *b,
                           bool replay, ims_error *err) {
  batch_times t;
  memset(&t, 0, sizeof t);
  uint64_t start = ims__now_mono_ns();
  uint64_t listed = s->queue != NULL ? ims__queue_fetch_ns(s->queue)
                                      : ims__source_list_ns(s->src);
  t.discovery = listed - s->list_ns_seen;
  s->list_ns_seen = listed;
  size_t nerr = 0;
  ims_status st = run_batch(s, b, replay, &t, &nerr, err);
  if (st != IMS_OK) return st;
  t.total = ims__now_mono_ns() - start + t.discovery;
  uint64_t since = s->prev_start_ns ? start - s->prev_start_ns : 0;
  s->prev_start_ns = start;
  report_progress(s, b->id, b->count, nerr, &t, since, replay);
  return IMS_OK;
}

/* ---- 4. the loop ---- */

/* Look for new objects, waiting at most one slice (less near the idle
 * deadline or the next trigger). */
static ims_status discover(ims_stream *s, uint64_t idle_since,
                           uint64_t next_trigger, ims_error *err) {
  uint64_t now = ims__now_mono_ns();
  int relist = (int)s->opt.poll_interval_ms;
  size_t pending = ims__source_pending(s->src);
  if (pending > 0 && now >= next_trigger) {
    if (ims__source_listing_age_ms(s->src) < relist) return IMS_OK;
    return ims__source_refresh(s->src, 0, relist, err);
  }
  int64_t wait = WAIT_SLICE_MS;
  if (next_trigger > now && (int64_t)((next_trigger - now) / 1000000u) < wait)
    wait = (int64_t)((next_trigger - now) / 1000000u);
  if (s->opt.until_idle_ms > 0 && pending == 0) {
    int64_t left = (int64_t)s->opt.until_idle_ms -
                   (int64_t)((now - idle_since) / 1000000u);
    if (left < wait) wait = left;
  }
  return ims__source_refresh(s->src, wait > 0 ? (int)wait : 1, relist, err);
}

static bool idle_expired(const ims_stream *s, uint64_t idle_since) {
  return s->opt.until_idle_ms > 0 &&
         ims__now_mono_ns() - idle_since >=
             (uint64_t)s->opt.until_idle_ms * 1000000u;
}

/* Replay the uncommitted batch of the checkpoint, if any. */
static ims_status replay(ims_stream *s, uint64_t *done, ims_error *err) {
  if (s->replay.count == 0) return IMS_OK;
  ims_status st = do_batch(s, &s->replay, true, err);
  if (st != IMS_OK) return st;
  ims__batch_input_clear(&s->replay);
  (*done)++;
  return IMS_OK;
}

/* The loop with a JetStream consumer for source: no listing, no
 * checkpoint (acks are), no replay (JetStream redelivers). */
static ims_status run_queue(ims_stream *s, ims_error *err) {
  uint64_t done = 0, idle_since = ims__now_mono_ns(), next_trigger = 0;
  uint64_t interval = (uint64_t)s->opt.trigger_interval_ms * 1000000u;
  ims_status st = IMS_OK;
  while (st == IMS_OK && !s->stop &&
         (s->opt.max_batches == 0 || done < s->opt.max_batches)) {
    uint64_t now = ims__now_mono_ns();
    if (now < next_trigger) {
      /* at most 50 ms: a stop request from another thread is seen */
      ims__sleep_until_ns(next_trigger < now + 50000000u ? next_trigger
                                                         : now + 50000000u);
      continue;
    }
    ims__batch_input b = {0};
    st = ims__queue_fetch(s->queue, s->opt.max_files_per_trigger,
                          WAIT_SLICE_MS * 2, &b, &s->qdata, &s->qsizes, err);
    if (st == IMS_OK && b.count == 0) {
      ims__batch_input_clear(&b);
      if (idle_expired(s, idle_since)) break;
      continue;
    }
    b.id = s->next_id++;
    next_trigger = interval ? now + interval : 0;
    if (st == IMS_OK) st = do_batch(s, &b, false, err);
    ims__batch_input_clear(&b);
    idle_since = ims__now_mono_ns();
    done++;
  }
  return st;
}

ims_status ims_stream_run(ims_stream *s, ims_error *err) {
  if (s->queue != NULL) return run_queue(s, err);
  uint64_t done = 0, next_trigger = 0;
  uint64_t idle_since = ims__now_mono_ns();
  uint64_t interval = (uint64_t)s->opt.trigger_interval_ms * 1000000u;
  ims_status st = replay(s, &done, err);
  while (st == IMS_OK && !s->stop &&
         (s->opt.max_batches == 0 || done < s->opt.max_batches)) {
    st = discover(s, idle_since, next_trigger, err);
    if (st != IMS_OK) break;
    uint64_t now = ims__now_mono_ns();
    if (ims__source_pending(s->src) == 0 || now < next_trigger) {
      if (idle_expired(s, idle_since)) break;
      continue;
    }
    ims__batch_input b = {0};
    if (ims__source_take(s->src, s->opt.max_files_per_trigger, &b) < 0) {
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
      break;
    }
    b.id = s->next_id++;
    next_trigger = interval ? now + interval : 0;
    st = do_batch(s, &b, false, err);
    ims__batch_input_clear(&b);
    idle_since = ims__now_mono_ns();
    done++;
  }
  return st;
}

void ims_stream_stop(ims_stream *s) { s->stop = 1; }

uint64_t ims_stream_batches_done(const ims_stream *s) { return s->batches; }

uint64_t ims_stream_rows_done(const ims_stream *s) { return s->rows; }

/* ---- 5. create/destroy ---- */

static ims_status check_args(ims_classifier *clf, size_t nsinks,
                             const ims_stream_options *o, ims_error *err) {
  if (nsinks == 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "stream: no sinks");
  if (ims_classifier_max_batch(clf) < o->max_files_per_trigger)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "stream: the classifier takes %zu images per run, "
                     "max_files_per_trigger is %u",
                     ims_classifier_max_batch(clf), o->max_files_per_trigger);
  return IMS_OK;
}

/* Read the checkpoint into the source's set and s->replay. */
static ims_status open_checkpoint(ims_stream *s, ims_error *err) {
  ims_status st = ims__checkpoint_open(s->ckpt_dir, s->opt.io,
                                       s->opt.compact_interval, &s->cp, err);
  if (st == IMS_OK)
    st = ims__checkpoint_recover(s->cp, ims__source_seen(s->src), &s->replay,
                                 &s->next_id, err);
  for (size_t i = 0; st == IMS_OK && i < s->replay.count; i++) {
    if (ims__source_mark(s->src, s->replay.objects[i].key) != 0)
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  if (st == IMS_OK && s->replay.count > s->opt.max_files_per_trigger &&
      s->replay.count > ims_classifier_max_batch(s->clf))
    st = ims__fail(err, IMS_ERR_INVALID_ARG,
                   "stream: batch %lld to replay has %zu files; use "
                   "--max-files-per-trigger %zu or more",
                   (long long)s->replay.id, s->replay.count,
                   s->replay.count);
  return st;
}

static ims_status alloc_state(ims_stream *s, ims_sink *const *sinks,
                              ims_error *err) {
  size_t n = s->opt.max_files_per_trigger;
  size_t m = ims_classifier_max_batch(s->clf);
  if (m > n) n = m; /* a replayed batch may be larger than the trigger */
  s->sinks = calloc(s->nsinks, sizeof *s->sinks);
  s->paths = malloc(n * PATH_CAP);
  s->pathv = calloc(n, sizeof *s->pathv);
  s->labels = malloc(n * LABEL_CAP);
  s->out = calloc(n, sizeof *s->out);
  s->failed = calloc(n, sizeof *s->failed);
  s->gone = calloc(n, sizeof *s->gone);
  s->bufs = calloc(n, sizeof *s->bufs);
  s->datav = calloc(n, sizeof *s->datav);
  s->sizev = calloc(n, sizeof *s->sizev);
  s->nbufs = n;
  if (s->sinks == NULL || s->paths == NULL || s->pathv == NULL ||
      s->labels == NULL || s->out == NULL || s->failed == NULL ||
      s->gone == NULL || s->bufs == NULL || s->datav == NULL ||
      s->sizev == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  memcpy(s->sinks, sinks, s->nsinks * sizeof *sinks);
  if (s->bucket == NULL) return IMS_OK; /* a queue is the source */
  ims__bucket_set_cancel(s->bucket, &s->stop); /* undone by destroy */
  return ims__source_create(s->bucket, &s->src, err);
}

/* The engine without its source: options, buffers, and (bucket != NULL)
 * the bucket's source. */
static ims_status new_engine(ims_bucket *bucket, ims_classifier *clf,
                             ims_sink *const *sinks, size_t nsinks,
                             const ims_stream_options *options,
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
  s->bucket = bucket;
  s->clf = clf;
  s->nsinks = nsinks;
  s->opt = o;
  *out = s;
  if (o.checkpoint_dir != NULL) {
    /* Without its copy the stream must not run: it would run without
     * a checkpoint, and so without exactly-once. */
    s->ckpt_dir = strdup(o.checkpoint_dir);
    if (s->ckpt_dir == NULL)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  s->opt.checkpoint_dir = s->ckpt_dir;
  return alloc_state(s, sinks, err);
}

ims_status ims_stream_create(ims_bucket *bucket, ims_classifier *clf,
                             ims_sink *const *sinks, size_t nsinks,
                             const ims_stream_options *options,
                             ims_stream **out, ims_error *err) {
  ims_stream *s = NULL;
  ims_status st = new_engine(bucket, clf, sinks, nsinks, options, &s, err);
  if (st == IMS_OK && s->ckpt_dir != NULL) st = open_checkpoint(s, err);
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
  ims_status st = new_engine(NULL, clf, sinks, nsinks, options, &s, err);
  if (st == IMS_OK)
    st = ims__queue_create(source, consumer, s->opt.max_files_per_trigger,
                           &s->queue, err);
  if (st != IMS_OK) {
    ims_stream_destroy(s);
    return st;
  }
  *out = s;
  return IMS_OK;
}

void ims_stream_destroy(ims_stream *s) {
  if (s == NULL) return;
  if (s->bucket != NULL) ims__bucket_set_cancel(s->bucket, NULL);
  ims__checkpoint_close(s->cp);
  ims__source_destroy(s->src);
  ims__queue_destroy(s->queue);
  ims__batch_input_clear(&s->replay);
  free(s->ckpt_dir);
  free(s->sinks);
  free(s->paths);
  free(s->pathv);
  free(s->labels);
  free(s->out);
  free(s->failed);
  free(s->gone);
  for (size_t i = 0; s->bufs != NULL && i < s->nbufs; i++)
    ims__bucket_buf_clear(&s->bufs[i]);
  free(s->bufs);
  free(s->datav);
  free(s->sizev);
  free(s);
}
