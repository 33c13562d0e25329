/* SPDX-License-Identifier: Apache-2.0 */
/*
 * learning.c - the stream's learned head (ims_stream_options.head): each
 * batch's rows are predicted by the head, then their labels are learned
 * (test-then-train, src/learn/head.c), and the head's state is made
 * exactly-once with the checkpoint.
 *
 * One commit, not two: the samples a batch teaches (label + features,
 * base64 float32) go into that batch's commit file, commits/<id>, as
 * "learned":[[label, features], ...]. The head's state is therefore
 * committed with the batch or not at all. The head itself is saved as a
 * snapshot, DIR/learn/head-<id> = the state after batches 0..id-1,
 * before each compaction deletes the commits it covers (the checkpoint's
 * compaction hook), and when learning starts on a checkpoint.
 *
 * Recovery: the newest DIR/learn/head-<k> with k <= the committed end,
 * then the "learned" samples of commits k.. in order - the same calls in
 * the same order as the uninterrupted run made, so the same bits (the
 * head's refits depend on its sample count, never on batches). The
 * replayed uncommitted batch is then predicted by exactly the state the
 * first attempt saw.
 *
 * NATS workers (a nats:// source) have no checkpoint; they share one
 * head through a JetStream stream of samples (`shared`, "STREAM_LEARN"):
 * each batch's labeled samples are published there, Nats-Msg-Id = the
 * image's key (a redelivered image's sample is dropped as a duplicate),
 * before its images are acked; rows are only predicted locally. Every
 * worker folds the whole stream, in stream order, into its head before
 * each batch (and to the stream's end when it stops), so all workers
 * learn the same samples in the same order. The head records the last
 * sequence folded (source_seq), so a worker restarted with its HEAD goes
 * on from there.
 *
 * The user's HEAD file (head_path) is a copy for `classify --head` and the
 * next fresh start: saved at each snapshot, every SAVE_EVERY batches
 * without a checkpoint, and when the run ends cleanly. With a checkpoint
 * that already holds a head, the checkpoint's wins over the file.
 *
 * Sections: 1. state  2. a batch  3. snapshots and recovery
 *           4. create/destroy
 *
 * Threading: the engine's thread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base64_int.h"
#include "core/error_int.h"
#include "learn/learn_int.h"
#include "nats/nats_int.h"
#include "stream/stream_int.h"

/* ---- 1. state ---- */

#define SAVE_EVERY 100 /* batches between HEAD saves without a checkpoint */
#define RECENT 100     /* rows in accuracy_last_100 */
#define MESSAGE_CAP 320

struct ims__learner {
  ims_head *head;           /* BORROWED */
  char *head_path;          /* owned, NULL = never saved */
  ims__checkpoint *cp;      /* BORROWED, NULL without a checkpoint */
  const ims_stream_io *io;  /* BORROWED */
  char dir[4200];           /* DIR/learn (with a checkpoint) */
  size_t cap;               /* rows per batch at most */
  const float **features;   /* cap: the samples of one step */
  const char **labels;      /* cap */
  size_t *row_of;           /* cap: the row of each sample */
  ims_head_result *results; /* cap */
  char *messages;           /* cap * MESSAGE_CAP: error rows' texts */
  char *b64;                /* one sample in base64 */
  float *sample;            /* one sample decoded (recovery) */
  char *extra;              /* owned: the commit's members, or NULL */
  ims_nats *shared;         /* BORROWED: the samples stream of NATS
                               workers, or NULL */
  ims__samples *reader;     /* owned: reads `shared` in order */
  ims__nats_result *outbox; /* cap: the batch's samples to publish */
  char *bodies;             /* cap * body_cap: their bodies */
  size_t body_cap;          /* label, NUL, d float32 */
  size_t outbox_n;          /* entries in outbox */
  uint64_t batches;         /* since the last HEAD save */
  uint64_t scored, correct; /* labeled rows of this run, right ones */
  bool recent[RECENT];      /* ring: right or wrong */
  size_t recent_n, recent_pos;
};

/* ---- 2. a batch ---- */

static void remember(ims__learner *l, bool right) {
  l->scored++;
  l->correct += right;
  l->recent[l->recent_pos] = right;
  l->recent_pos = (l->recent_pos + 1) % RECENT;
  if (l->recent_n < RECENT)
    l->recent_n++;
}

/* Row i becomes an error row: the head refused its label (`why`). */
static size_t refuse(ims__learner *l, ims_stream_row *r, bool *failed,
                     size_t i, ims_status why) {
  char *m = l->messages + i * MESSAGE_CAP;
  if (why == IMS_ERR_TOO_LARGE)
    snprintf(m, MESSAGE_CAP,
             "learned head: label \"%.200s\" would be class %zu, over the "
             "limit of %u (--max-classes)",
             r->label, ims_head_class_count(l->head) + 1, l->head->max_classes);
  else
    snprintf(m, MESSAGE_CAP,
             "learned head: label \"%.200s\" is longer than %u bytes or "
             "holds a control character",
             r->label, IMS_HEAD_LABEL_MAX);
  r->error = m;
  r->class_id = r->desc = NULL;
  r->score = 0;
  failed[i] = true;
  return 1;
}

/* The commit's members: "learned":[[label, base64 features], ...]. */
static ims_status encode_extra(ims__learner *l, size_t k, ims_error *err) {
  free(l->extra);
  l->extra = NULL;
  json_t *arr = json_array();
  size_t bytes = (size_t)ims_head_feature_count(l->head) * sizeof(float);
  for (size_t j = 0; arr != NULL && j < k; j++) {
    if (l->labels[j][0] == '\0' || l->results[j].status != IMS_OK)
      continue;
    ims__base64_encode(l->features[j], bytes, l->b64);
    if (json_array_append_new(arr, json_pack("[s, s#]", l->labels[j], l->b64,
                                             ims__base64_size(bytes))) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  char *text = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  if (text != NULL && asprintf(&l->extra, "\"learned\":%s", text) < 0)
    l->extra = NULL;
  free(text);
  if (l->extra == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "learned head: out of memory");
  return IMS_OK;
}

/* NATS: queue row r's sample (label, NUL, features) for publishing. */
static void to_outbox(ims__learner *l, const ims_stream_row *r,
                      const float *features) {
  char *body = l->bodies + l->outbox_n * l->body_cap;
  size_t n = strlen(r->label) + 1;
  size_t bytes = l->body_cap - IMS_HEAD_LABEL_MAX - 1;
  memcpy(body, r->label, n);
  memcpy(body + n, features, bytes);
  ims__nats_result *o = &l->outbox[l->outbox_n++];
  o->id = r->path;
  o->category = r->label;
  o->data = body;
  o->size = n + bytes;
}

/* NATS: fold the samples stream into the head, waiting at most wait_ms
 * for the first message; a malformed one is skipped (by every worker
 * alike). */
static ims_status fold_shared(ims__learner *l, int wait_ms, ims_error *err) {
  size_t bytes = (size_t)ims_head_feature_count(l->head) * sizeof(float);
  for (;;) {
    const void *data;
    size_t size;
    uint64_t seq;
    bool got;
    ims_status st =
        ims__samples_next(l->reader, wait_ms, &data, &size, &seq, &got, err);
    if (st != IMS_OK || !got)
      return st;
    wait_ms = 0;
    const char *label = data;
    const char *nul = memchr(data, '\0', size);
    if (nul != NULL && size - (size_t)(nul + 1 - label) == bytes) {
      memcpy(l->sample, nul + 1, bytes); /* aligned for the head */
      const float *f = l->sample;
      ims_head_result r;
      st = ims_head_step(l->head, 1, &f, &label, &r, err);
      if (st != IMS_OK)
        return st;
    }
    l->head->source_seq = seq;
  }
}

ims_status ims__learner_step(ims__learner *l, ims_stream_row *rows,
                             const ims_class_result *res, bool *failed,
                             size_t n, size_t *nerr, ims_error *err) {
  if (l->shared != NULL) {
    ims_status st = fold_shared(l, 0, err);
    if (st != IMS_OK)
      return st;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (failed[i] || rows[i].error != NULL || res[i].features == NULL)
      continue;
    l->features[k] = res[i].features;
    l->labels[k] = rows[i].label != NULL ? rows[i].label : "";
    l->row_of[k++] = i;
  }
  /* NATS workers only predict here: they learn from the shared stream */
  ims_status st = ims_head_step(l->head, k, l->features,
                                l->shared ? NULL : l->labels, l->results,
                                err);
  if (st != IMS_OK)
    return st;
  l->outbox_n = 0;
  for (size_t j = 0; j < k; j++) {
    ims_stream_row *r = &rows[l->row_of[j]];
    const ims_head_result *h = &l->results[j];
    r->learned_label = h->label;
    r->learned_score = h->score;
    if (l->labels[j][0] == '\0')
      continue;
    ims_status verdict = l->shared
                             ? ims__head_check_label(l->head, l->labels[j])
                             : h->status;
    if (verdict != IMS_OK) {
      *nerr += refuse(l, r, failed, l->row_of[j], verdict);
      continue;
    }
    remember(l, h->label != NULL && strcmp(h->label, r->label) == 0);
    if (l->shared)
      to_outbox(l, r, l->features[j]);
  }
  return l->cp != NULL ? encode_extra(l, k, err) : IMS_OK;
}

ims_status ims__learner_commit(ims__learner *l, ims_error *err) {
  if (l->shared == NULL || l->outbox_n == 0)
    return IMS_OK;
  ims_status st =
      ims__nats_publish_results(l->shared, l->outbox, l->outbox_n, err);
  l->outbox_n = 0;
  return st;
}

const char *ims__learner_commit_extra(const ims__learner *l) {
  return l->cp != NULL ? l->extra : NULL;
}

void ims__learner_stats(const ims__learner *l, double *accuracy_last_100,
                        uint64_t *seen) {
  size_t right = 0;
  for (size_t i = 0; i < l->recent_n; i++)
    right += l->recent[i];
  *accuracy_last_100 = l->recent_n ? (double)right / (double)l->recent_n : 0;
  *seen = ims_head_seen(l->head);
}

json_t *ims__learner_progress(const ims__learner *l) {
  size_t right = 0;
  for (size_t i = 0; i < l->recent_n; i++)
    right += l->recent[i];
  return json_pack("{s:I, s:I, s:f, s:f}", "classes",
                   (json_int_t)ims_head_class_count(l->head), "seen",
                   (json_int_t)ims_head_seen(l->head), "accuracy",
                   l->scored ? (double)l->correct / (double)l->scored : 0.0,
                   "accuracy_last_100",
                   l->recent_n ? (double)right / (double)l->recent_n : 0.0);
}

/* ---- 3. snapshots and recovery ---- */

static ims_status save_head_file(ims__learner *l, ims_error *err) {
  if (l->head_path == NULL)
    return IMS_OK;
  return ims_head_save(l->head, l->head_path, err);
}

static ims_status write_snapshot(ims__learner *l, int64_t end, ims_error *err) {
  void *data;
  size_t size;
  char name[48];
  snprintf(name, sizeof name, "head-%lld", (long long)end);
  ims_status st = ims_head_encode(l->head, &data, &size, err);
  if (st != IMS_OK)
    return st;
  st = ims__io_write_durable(l->io, l->dir, name, data, size, err);
  free(data);
  return st;
}

/* The ids k of DIR/learn/head-<k>, via fn(ctx, k). */
static ims_status each_snapshot(const ims__learner *l,
                                void (*fn)(void *ctx, int64_t k), void *ctx,
                                ims_error *err) {
  DIR *d = opendir(l->dir);
  if (d == NULL)
    return ims__fail(err, IMS_ERR_IO, "checkpoint: %s: %s", l->dir,
                     strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end = NULL;
    if (strncmp(e->d_name, "head-", 5) != 0 || e->d_name[5] < '0' ||
        e->d_name[5] > '9')
      continue;
    long long k = strtoll(e->d_name + 5, &end, 10);
    if (*end == '\0')
      fn(ctx, k);
  }
  closedir(d);
  return IMS_OK;
}

typedef struct unlink_ctx {
  ims__learner *l;
  int64_t below;
} unlink_ctx;

static void unlink_old(void *ctx, int64_t k) {
  unlink_ctx *u = ctx;
  if (k >= u->below)
    return;
  char path[4300];
  snprintf(path, sizeof path, "%s/head-%lld", u->l->dir, (long long)k);
  ims__io_unlink(u->l->io, path); /* a leftover is harmless */
}

/* The compaction hook: the commits up to `upto` are about to go. */
static ims_status before_compaction(void *ctx, int64_t upto, ims_error *err) {
  ims__learner *l = ctx;
  ims_status st = write_snapshot(l, upto + 1, err);
  if (st != IMS_OK)
    return st;
  unlink_ctx u = {l, upto + 1};
  st = each_snapshot(l, unlink_old, &u, err);
  if (st == IMS_OK)
    st = save_head_file(l, err);
  l->batches = 0;
  return st;
}

typedef struct newest_ctx {
  int64_t end, best, later;
} newest_ctx;

static void pick_newest(void *ctx, int64_t k) {
  newest_ctx *c = ctx;
  if (k <= c->end && k > c->best)
    c->best = k;
  if (k > c->end)
    c->later = k;
}

/* Learn the "learned" samples of one decoded commit. */
static ims_status replay_commit(ims__learner *l, int64_t id, json_t *commit,
                                ims_error *err) {
  json_t *arr = json_object_get(commit, "learned");
  size_t d = ims_head_feature_count(l->head), bytes = d * sizeof(float);
  float *f = l->sample;
  size_t i;
  json_t *item;
  json_array_foreach(arr, i, item) {
    const char *label = json_string_value(json_array_get(item, 0));
    const char *b64 = json_string_value(json_array_get(item, 1));
    size_t len = b64 ? json_string_length(json_array_get(item, 1)) : 0;
    if (label == NULL || b64 == NULL || len != ims__base64_size(bytes) ||
        ims__base64_decode(b64, len, f) != (long)bytes)
      return ims__fail(err, IMS_ERR_IO,
                       "checkpoint: commits/%lld: learned sample %zu is "
                       "damaged",
                       (long long)id, i);
    const float *fv = f;
    ims_head_result r;
    ims_status st = ims_head_step(l->head, 1, &fv, &label, &r, err);
    if (st != IMS_OK)
      return st;
  }
  return IMS_OK;
}

/* Load DIR/learn/head-<k> into the caller's head (identity checked). */
static ims_status load_snapshot(ims__learner *l, int64_t k, ims_error *err) {
  char path[4300];
  snprintf(path, sizeof path, "%s/head-%lld", l->dir, (long long)k);
  ims_head_options expect = {
      .model_id = l->head->model_id,
      .feature_layer = l->head->feature_layer,
      .feature_count = l->head->d,
      .max_classes = l->head->max_classes,
  };
  ims_head *saved = NULL;
  ims_status st = ims_head_load(path, &expect, &saved, err);
  if (st != IMS_OK)
    return st;
  ims__head_swap(l->head, saved);
  ims_head_destroy(saved);
  return IMS_OK;
}

static ims_status recover(ims__learner *l, ims_error *err) {
  int64_t end = ims__checkpoint_committed_end(l->cp);
  newest_ctx c = {end, -1, -1};
  ims_status st = each_snapshot(l, pick_newest, &c, err);
  if (st != IMS_OK)
    return st;
  if (c.best < 0 && c.later >= 0)
    return ims__fail(err, IMS_ERR_IO,
                     "checkpoint: %s/head-%lld is newer than the last "
                     "committed batch %lld: the checkpoint is damaged",
                     l->dir, (long long)c.later, (long long)end - 1);
  if (c.best < 0)
    return write_snapshot(l, end, err); /* learning starts */
  st = load_snapshot(l, c.best, err);
  for (int64_t id = c.best; st == IMS_OK && id < end; id++) {
    json_t *commit = NULL;
    st = ims__checkpoint_read_commit(l->cp, id, &commit, err);
    if (st == IMS_OK)
      st = replay_commit(l, id, commit, err);
    json_decref(commit);
  }
  return st;
}

ims_status ims__learner_batch_done(ims__learner *l, ims_error *err) {
  if (l->cp != NULL || ++l->batches < SAVE_EVERY)
    return IMS_OK;
  l->batches = 0;
  return save_head_file(l, err);
}

/* NATS: fold the samples stream up to its last message now (so every
 * worker that stops after the stream drained holds the same head). */
static ims_status fold_to_end(ims__learner *l, ims_error *err) {
  uint64_t last = 0;
  ims_status st = ims__nats_last_seq(l->shared, &last, err);
  uint64_t deadline = ims__now_mono_ns() +
                      (uint64_t)ims__nats_retry_ms(l->shared) * 1000000u;
  while (st == IMS_OK && l->head->source_seq < last) {
    if (ims__now_mono_ns() > deadline)
      return ims__fail(err, IMS_ERR_IO,
                       "learned samples: stream %s stopped at %llu of %llu",
                       ims_nats_stream_name(l->shared),
                       (unsigned long long)l->head->source_seq,
                       (unsigned long long)last);
    st = fold_shared(l, 250, err);
  }
  return st;
}

ims_status ims__learner_finish(ims__learner *l, ims_error *err) {
  if (l->shared != NULL) {
    ims_status st = fold_to_end(l, err);
    if (st != IMS_OK)
      return st;
  }
  return save_head_file(l, err);
}

/* ---- 4. create/destroy ---- */

static ims_status alloc_learner(ims__learner *l, size_t cap, ims_error *err) {
  size_t d = ims_head_feature_count(l->head);
  l->cap = cap;
  l->features = calloc(cap, sizeof *l->features);
  l->labels = calloc(cap, sizeof *l->labels);
  l->row_of = calloc(cap, sizeof *l->row_of);
  l->results = calloc(cap, sizeof *l->results);
  l->messages = calloc(cap, MESSAGE_CAP);
  l->b64 = malloc(ims__base64_size(d * sizeof(float)) + 1);
  l->sample = malloc(d * sizeof(float));
  l->body_cap = IMS_HEAD_LABEL_MAX + 1 + d * sizeof(float);
  l->outbox = calloc(cap, sizeof *l->outbox);
  l->bodies = malloc(cap * l->body_cap);
  if (!l->features || !l->labels || !l->row_of || !l->results ||
      !l->messages || !l->b64 || !l->sample || !l->outbox || !l->bodies)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

/* NATS: the samples stream (created if absent) read after the last
 * sequence the head has folded. */
static ims_status open_shared(ims__learner *l, ims_error *err) {
  ims_nats_stream_config cfg = {0};
  uint64_t last = 0;
  ims_status st = ims_nats_ensure_stream(l->shared, &cfg, err);
  if (st == IMS_OK)
    st = ims__nats_last_seq(l->shared, &last, err);
  if (st == IMS_OK && l->head->source_seq > last)
    return ims__fail(err, IMS_ERR_BAD_HEAD,
                     "learned head has folded sample %llu of stream %s, "
                     "which holds %llu: a head of another stream",
                     (unsigned long long)l->head->source_seq,
                     ims_nats_stream_name(l->shared),
                     (unsigned long long)last);
  if (st == IMS_OK)
    st = ims__samples_open(l->shared, l->head->source_seq, &l->reader, err);
  return st;
}

ims_status ims__learner_create(ims_head *head, const char *head_path,
                               ims__checkpoint *cp, ims_nats *shared,
                               const ims_stream_io *io, size_t cap,
                               ims__learner **out, ims_error *err) {
  ims__learner *l = calloc(1, sizeof *l);
  if (l == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  l->head = head;
  l->cp = cp;
  l->shared = shared;
  l->io = io;
  l->head_path = head_path ? strdup(head_path) : NULL;
  ims_status st = alloc_learner(l, cap, err);
  if (st == IMS_OK && head_path != NULL && l->head_path == NULL)
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  if (st == IMS_OK && cp != NULL) {
    snprintf(l->dir, sizeof l->dir, "%s/learn", ims__checkpoint_dir(cp));
    if (mkdir(l->dir, 0755) != 0 && errno != EEXIST)
      st = ims__fail(err, IMS_ERR_IO, "checkpoint: mkdir %s: %s", l->dir,
                     strerror(errno));
    if (st == IMS_OK)
      st = recover(l, err);
    if (st == IMS_OK)
      ims__checkpoint_set_compact_hook(cp, before_compaction, l);
  }
  if (st == IMS_OK && shared != NULL)
    st = open_shared(l, err);
  if (st != IMS_OK) {
    ims__learner_destroy(l);
    return st;
  }
  *out = l;
  return IMS_OK;
}

void ims__learner_destroy(ims__learner *l) {
  if (l == NULL)
    return;
  if (l->cp != NULL)
    ims__checkpoint_set_compact_hook(l->cp, NULL, NULL);
  free(l->head_path);
  free(l->features);
  free(l->labels);
  free(l->row_of);
  free(l->results);
  free(l->messages);
  free(l->b64);
  free(l->sample);
  ims__samples_close(l->reader);
  free(l->outbox);
  free(l->bodies);
  free(l->extra);
  free(l);
}
