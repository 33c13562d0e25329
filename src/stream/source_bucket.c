/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_bucket.c - the bucket source of the stream engine (the
 * ims__source_ops of stream_int.h): batches of new bucket objects in
 * arrival order, made exactly-once by the checkpoint.
 *
 * Its part of the exactly-once protocol (stream.c's header has the
 * whole):
 *   replay  the checkpoint's uncommitted batch, read at create: redone
 *           first, with its id and keys, until it is committed
 *   take    discovery (discovery.c) lists or waits on the bucket; up to
 *           `max` queued objects become the next batch, numbered after
 *           the checkpoint's last
 *   begin   queue offsets/<id> (not for a replay: it has them) to the
 *           checkpoint's writer thread, which makes it durable while the
 *           batch is read and classified
 *   ready   wait until it is durable (before any sink gets a row)
 *   settle  queue commits/<id> (compaction, when due, waits and runs
 *           here); the next batch's offsets queue behind it
 *   flush   wait until the last commit is durable (end of a run)
 * Without a checkpoint these do nothing: no replay, no exactly-once.
 * checkpoint.c's header states the invariant (I1-I5) this keeps.
 *
 * Bodies: a bucket whose objects are files (dir://) gives the classifier
 * their paths; any other (s3://) is read into per-slot buffers reused
 * from batch to batch, several downloads at once. An object deleted
 * since it was listed becomes an error row (gone); any other read
 * failure, after the backend's retries, fails the batch, which is then
 * not committed and is replayed by the next run.
 *
 * Waiting: when no batch is due, take waits on the bucket (inotify) in
 * slices of at most 100 ms, shorter near the trigger or the idle
 * deadline, and re-lists on a wake-up or every poll_interval_ms.
 *
 * Not here: the listing itself (discovery.c), the checkpoint's files
 * (checkpoint.c), what is done with a batch (stream.c).
 *
 * Sections: 1. state  2. take and replay  3. bodies  4. begin and settle
 *           5. create/destroy
 *
 * Threading: the engine's thread (the checkpoint's writes run on its
 * own helper thread).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"
#include "stream/stream_int.h"

/* ---- 1. state ---- */

#define WAIT_SLICE_MS 100 /* longest bucket wait between stop checks */
#define PATH_CAP 4096     /* bytes per local path */

typedef struct bucket_source {
  ims_bucket *bucket;       /* BORROWED */
  ims__discovery *disc;     /* owned: the queue of new objects */
  ims__checkpoint *cp;      /* owned, NULL without a checkpoint */
  int relist_ms;            /* poll_interval_ms */
  int64_t next_id;          /* id of the next new batch */
  ims__source_batch replay; /* owned: the checkpoint's uncommitted batch,
                               count 0 once committed (or none) */
  ims__source_batch cur;    /* owned: the batch handed out last */
  size_t cap;               /* images per batch at most: slots below */
  bool local;               /* the bucket's objects are files */
  char *paths;              /* owned: cap * PATH_CAP local paths */
  const char **pathv;       /* owned: cap pointers, paths or keys */
  ims__bucket_buf *bufs;    /* owned: cap bodies, reused (not local) */
  const void **datav;       /* owned: cap pointers into bufs */
  size_t *sizev;            /* owned: cap sizes */
  bool *gone;               /* owned: cap "listed, then deleted" */
} bucket_source;

/* ---- 2. take and replay ---- */

/* Look for new objects, waiting at most one slice (less near the idle
 * deadline or the next trigger). */
static ims_status discover(bucket_source *bs, const ims__take_plan *plan,
                           ims_error *err) {
  uint64_t now = ims__now_mono_ns();
  uint64_t next_trigger = plan->not_before_ns;
  size_t pending = ims__discovery_pending(bs->disc);
  if (pending > 0 && now >= next_trigger) {
    if (ims__discovery_listing_age_ms(bs->disc) < bs->relist_ms)
      return IMS_OK;
    return ims__discovery_refresh(bs->disc, 0, bs->relist_ms, err);
  }
  int64_t wait = WAIT_SLICE_MS;
  if (next_trigger > now && (int64_t)((next_trigger - now) / 1000000u) < wait)
    wait = (int64_t)((next_trigger - now) / 1000000u);
  if (plan->until_idle_ms > 0 && pending == 0) {
    int64_t left = (int64_t)plan->until_idle_ms -
                   (int64_t)((now - plan->idle_since_ns) / 1000000u);
    if (left < wait) wait = left;
  }
  return ims__discovery_refresh(bs->disc, wait > 0 ? (int)wait : 1,
                                bs->relist_ms, err);
}

static ims_status bucket_take(void *state, const ims__take_plan *plan,
                              const ims__source_batch **out,
                              ims_error *err) {
  bucket_source *bs = state;
  *out = NULL;
  ims_status st = discover(bs, plan, err);
  if (st != IMS_OK) return st;
  uint64_t now = ims__now_mono_ns();
  if (ims__discovery_pending(bs->disc) == 0 || now < plan->not_before_ns)
    return IMS_OK;
  ims__batch_input_clear(&bs->cur.in);
  if (ims__discovery_take(bs->disc, plan->max, &bs->cur.in) < 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  bs->cur.in.id = bs->next_id++;
  bs->cur.replay = false;
  bs->cur.trigger_ns = now;
  *out = &bs->cur;
  return IMS_OK;
}

static ims_status bucket_replay(void *state, const ims__source_batch **out,
                                ims_error *err) {
  bucket_source *bs = state;
  *out = bs->replay.in.count > 0 ? &bs->replay : NULL;
  return IMS_OK;
}

/* ---- 3. bodies ---- */

/* Read b's objects into bs->bufs (s3: several downloads at once). */
static ims_status read_bodies(bucket_source *bs, const ims__batch_input *b,
                              ims__bodies *out, ims_error *err) {
  for (size_t i = 0; i < b->count; i++) bs->pathv[i] = b->objects[i].key;
  ims_status st = ims__bucket_read_many(bs->bucket, b->count, bs->pathv,
                                        bs->bufs, bs->gone, err);
  if (st != IMS_OK) return st;
  for (size_t i = 0; i < b->count; i++) {
    bs->datav[i] = bs->gone[i] ? "" : bs->bufs[i].data;
    bs->sizev[i] = bs->gone[i] ? 0 : bs->bufs[i].size;
  }
  out->paths = NULL;
  out->data = bs->datav;
  out->sizes = bs->sizev;
  return IMS_OK;
}

static ims_status bucket_bodies(void *state, const ims__source_batch *sb,
                                ims__bodies *out, ims_error *err) {
  bucket_source *bs = state;
  const ims__batch_input *b = &sb->in;
  memset(bs->gone, 0, b->count * sizeof *bs->gone);
  out->names = bs->pathv;
  out->gone = bs->gone;
  if (!bs->local) return read_bodies(bs, b, out, err);
  for (size_t i = 0; i < b->count; i++) {
    char *p = bs->paths + i * PATH_CAP;
    ims_status st = ims_bucket_local_path(bs->bucket, b->objects[i].key, p,
                                          PATH_CAP, err);
    if (st != IMS_OK) return st;
    bs->pathv[i] = p;
  }
  out->paths = bs->pathv;
  out->data = NULL;
  out->sizes = NULL;
  return IMS_OK;
}

/* ---- 4. begin and settle ---- */

/* A queued checkpoint write failed (the checkpoint's message names the
 * step and the file): say where the batch was left. */
static ims_status write_failed(ims_status st, const ims_error *why,
                               const char *what, int64_t id,
                               ims_error *err) {
  bool named = strncmp(why->message, "checkpoint", 10) == 0;
  return ims__fail(err, st,
                   "%s%.300s (%s batch %lld; what is not committed is "
                   "replayed by the next run)",
                   named ? "" : "checkpoint: ", why->message, what,
                   (long long)id);
}

static ims_status bucket_begin(void *state, const ims__source_batch *b,
                               ims_error *err) {
  bucket_source *bs = state;
  if (bs->cp == NULL || b->replay) return IMS_OK;
  ims_error e = {0};
  ims_status st = ims__checkpoint_queue_offsets(bs->cp, &b->in, &e);
  if (st != IMS_OK)
    return write_failed(st, &e, "stopped before", b->in.id, err);
  return IMS_OK;
}

/* I1 of checkpoint.c: no row of batch id before offsets/<id> is durable
 * (and, queued before it, the previous batch's commit). */
static ims_status bucket_ready(void *state, const ims__source_batch *b,
                               ims_error *err) {
  bucket_source *bs = state;
  if (bs->cp == NULL) return IMS_OK;
  ims_error e = {0};
  ims_status st = ims__checkpoint_wait(bs->cp, &e);
  if (st != IMS_OK)
    return write_failed(st, &e, "no row written of", b->in.id, err);
  return IMS_OK;
}

/* A listed object holds no lease: nothing to keep alive. */
static void bucket_keepalive(void *state) {}

static ims_status bucket_settle(void *state, const ims__source_batch *b,
                                const bool *failed, const char *extra,
                                ims_error *err) {
  bucket_source *bs = state;
  ims_status st = IMS_OK;
  if (bs->cp != NULL)
    st = ims__checkpoint_queue_commit(bs->cp, b->in.id, extra, err);
  if (st == IMS_OK && b == &bs->replay)
    ims__batch_input_clear(&bs->replay.in); /* redone: not again */
  return st;
}

static ims_status bucket_flush(void *state, ims_error *err) {
  bucket_source *bs = state;
  if (bs->cp == NULL) return IMS_OK;
  ims_error e = {0};
  ims_status st = ims__checkpoint_flush(bs->cp, &e);
  if (st != IMS_OK)
    return write_failed(st, &e, "at the end of the run, after",
                        ims__checkpoint_committed_end(bs->cp) - 1, err);
  return IMS_OK;
}

static ims__checkpoint *bucket_checkpoint(void *state) {
  bucket_source *bs = state;
  return bs->cp;
}

static long bucket_backlog(const void *state) {
  const bucket_source *bs = state;
  return (long)ims__discovery_pending(bs->disc);
}

/* A bucket that cannot be listed or read ends the stream (after the
 * client's own retries): while it runs, it is reachable. */
static bool bucket_can_deliver(const void *state, char *why, size_t cap) {
  return true;
}

static uint64_t bucket_discovery_ns(const void *state) {
  const bucket_source *bs = state;
  return ims__discovery_list_ns(bs->disc);
}

/* ---- 5. create/destroy ---- */

static void bucket_destroy(void *state) {
  bucket_source *bs = state;
  if (bs == NULL) return;
  ims__bucket_set_cancel(bs->bucket, NULL);
  ims__checkpoint_close(bs->cp);
  ims__discovery_destroy(bs->disc);
  ims__batch_input_clear(&bs->replay.in);
  ims__batch_input_clear(&bs->cur.in);
  free(bs->paths);
  free(bs->pathv);
  for (size_t i = 0; bs->bufs != NULL && i < bs->cap; i++)
    ims__bucket_buf_clear(&bs->bufs[i]);
  free(bs->bufs);
  free(bs->datav);
  free(bs->sizev);
  free(bs->gone);
  free(bs);
}

static const ims__source_ops bucket_ops = {
    .name = "bucket",
    .replay = bucket_replay,
    .take = bucket_take,
    .begin = bucket_begin,
    .ready = bucket_ready,
    .bodies = bucket_bodies,
    .keepalive = bucket_keepalive,
    .settle = bucket_settle,
    .flush = bucket_flush,
    .checkpoint = bucket_checkpoint,
    .backlog = bucket_backlog,
    .can_deliver = bucket_can_deliver,
    .discovery_ns = bucket_discovery_ns,
    .destroy = bucket_destroy,
};

static ims_status alloc_slots(bucket_source *bs, size_t cap,
                              ims_error *err) {
  bs->cap = cap;
  bs->paths = malloc(cap * PATH_CAP);
  bs->pathv = calloc(cap, sizeof *bs->pathv);
  bs->bufs = calloc(cap, sizeof *bs->bufs);
  bs->datav = calloc(cap, sizeof *bs->datav);
  bs->sizev = calloc(cap, sizeof *bs->sizev);
  bs->gone = calloc(cap, sizeof *bs->gone);
  if (bs->paths == NULL || bs->pathv == NULL || bs->bufs == NULL ||
      bs->datav == NULL || bs->sizev == NULL || bs->gone == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

/* Read the checkpoint into discovery's set and bs->replay. */
static ims_status open_checkpoint(bucket_source *bs,
                                  const ims_stream_options *opt,
                                  ims_error *err) {
  ims__batch_input *r = &bs->replay.in;
  ims_status st = ims__checkpoint_open(opt->checkpoint_dir, opt->io,
                                       opt->compact_interval, &bs->cp, err);
  if (st == IMS_OK)
    st = ims__checkpoint_recover(bs->cp, ims__discovery_seen(bs->disc), r,
                                 &bs->next_id, err);
  for (size_t i = 0; st == IMS_OK && i < r->count; i++) {
    if (ims__discovery_mark(bs->disc, r->objects[i].key) != 0)
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  if (st == IMS_OK && r->count > bs->cap)
    st = ims__fail(err, IMS_ERR_INVALID_ARG,
                   "stream: batch %lld to replay has %zu files; use "
                   "--max-files-per-trigger %zu or more",
                   (long long)r->id, r->count, r->count);
  bs->replay.replay = true;
  return st;
}

ims_status ims__source_bucket_create(ims_bucket *bucket,
                                     const ims_stream_options *opt,
                                     size_t cap,
                                     const volatile sig_atomic_t *stop,
                                     ims__source *out, ims_error *err) {
  bucket_source *bs = calloc(1, sizeof *bs);
  if (bs == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  bs->bucket = bucket;
  bs->relist_ms = (int)opt->poll_interval_ms;
  bs->local = ims__bucket_has_local_paths(bucket);
  ims_status st = alloc_slots(bs, cap, err);
  if (st == IMS_OK) {
    ims__bucket_set_cancel(bucket, stop); /* undone by bucket_destroy */
    st = ims__discovery_create(bucket, &bs->disc, err);
  }
  if (st == IMS_OK && opt->checkpoint_dir != NULL)
    st = open_checkpoint(bs, opt, err);
  if (st != IMS_OK) {
    bucket_destroy(bs);
    return st;
  }
  out->ops = &bucket_ops;
  out->state = bs;
  return IMS_OK;
}
