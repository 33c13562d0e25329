/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classifier.c - decode + preprocess + inference + top-K as one object
 * (see include/imgstream/classifier.h).
 *
 * Lanes: a run is cut into one contiguous share per thread; each lane
 * decodes and preprocesses its share into its slots of one pixel buffer,
 * moves the images that succeeded to the front of its slots (failed ones
 * are packed out), and runs its own single-threaded engine over them, all
 * lanes at once. Then each result gets its top-K with label strings
 * borrowed from the label list. With IMS_ENGINE_FLAG_FEATURES in the
 * engine flags, the engines also write each image's features into one
 * buffer packed as the scores are, and each result points into it.
 *
 * Why by image and not by layer: splitting each layer over both threads
 * (one engine with 2 threads) needs a barrier per layer; on 2 cores the
 * image split runs ~1.3x faster end to end (bench_classify: 311 -> 397
 * images/s), and a one-image run on one thread has a steadier latency tail
 * when something else wants a core (stream at 50 images/s with the
 * producer on the same machine: p99 28 -> 12 ms).
 *
 * A run of one image (a stream at one file per trigger) has one lane's
 * work only: it runs on the caller's thread, and its engine is lent the
 * classifier's team (core/team_int.h), which splits each layer over the
 * threads with no per-layer barrier on a helper that is not running:
 * where pthreadpool's barrier stalled every layer behind the producer,
 * the caller here just takes the helper's share of the tasks.
 *
 * Not here: where images come from (files, buckets) or how results are
 * printed.
 *
 * Sections: 1. create/destroy  2. runs  3. accessors
 *
 * Threading: one caller thread at a time (see the header).
 */
#define _POSIX_C_SOURCE 200809L
#include "imgstream/classifier.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <pthreadpool.h>

#include "core/error_int.h"
#include "imgstream/batch.h"
#include "core/clock_int.h"
#include "core/cpu_int.h"
#include "core/team_int.h"
#include "infer/infer_int.h"

/* One image-parallel worker: its own decoder pool of one and engine. */
typedef struct lane {
  ims_batch_prep *prep;  /* owned: one thread, runs inline */
  ims_engine *engine;    /* owned: one thread */
  ims_status status;     /* result of the lane's latest share */
  ims_error error;       /* its detail when status != IMS_OK */
  uint64_t decode_ns;    /* its decode time in the latest run */
  uint64_t infer_ns;     /* its inference time in the latest run */
} lane;

struct ims_classifier {
  ims_model *model;           /* owned: the network */
  ims_labels *labels;         /* owned: class names */
  ims_model_info info;        /* the model's input and output */
  size_t offset;              /* outputs before label 0 (background) */
  size_t max_batch;           /* most images per run */
  size_t top_k;               /* predictions per image */
  size_t image_bytes;         /* H*W*3 of one preprocessed image */
  uint8_t *pixels;            /* max_batch * image_bytes */
  float *scores;              /* max_batch * output_count */
  float *features;            /* owned: max_batch * feature_count, with
                                 IMS_ENGINE_FLAG_FEATURES; else NULL */
  size_t feature_count;       /* features per image; 0 = not asked */
  ims_model_feature_info feature_info; /* where they come from (count 0 =
                                          not asked) */
  ims_prediction *scratch;    /* top_k: ims_top_k output */
  ims_class_prediction *top;  /* max_batch * top_k predictions */
  ims_class_result *results;  /* max_batch results */
  ims_error *errors;          /* max_batch: decode errors */
  long *slot;                 /* max_batch: packed position or -1 */
  ims_classifier_stats stats; /* latest run */
  size_t lane_count;          /* lanes: one per thread */
  lane *lanes;                /* owned array of lane_count */
  pthreadpool_t pool;         /* owned: runs the lanes; NULL for one */
  ims__team *team;            /* owned: splits a one-image run's layers
                                 over the threads; NULL for one lane */
  size_t share;               /* images per lane in the current run */
  size_t run_count;           /* images in the current run */
  const char *const *paths;   /* inputs of the current run (files) */
  const void *const *data;    /* or memory inputs */
  const size_t *sizes;        /* sizes of memory inputs */
};

/* ---- 1. create/destroy ---- */

/* Load model and labels and check that they fit each other. */
static ims_status load(ims_classifier *c, const ims_classifier_options *o,
                       ims_error *err) {
  ims_error e = {0};
  ims_status st =
      ims_model_load_file_limits(o->model_path, o->limits, &c->model, &e);
  if (st != IMS_OK) {
    size_t n = strlen(o->model_path);
    const char *m = e.message;
    if (strncmp(m, o->model_path, n) == 0 && m[n] == ':') m += n + 1;
    return ims__fail(err, st, "cannot load model %s:%s%s", o->model_path,
                     m[0] == ' ' ? "" : " ", m);
  }
  ims_model_get_info(c->model, &c->info);
  st = ims_labels_load_file(o->labels_path, &c->labels, &e);
  if (st == IMS_OK)
    st = ims_labels_output_offset(c->labels, c->info.output_count,
                                  &c->offset, &e);
  if (st != IMS_OK)
    return ims__fail(err, st, "labels %s do not fit model %s: %s",
                     o->labels_path, o->model_path, e.message);
  return IMS_OK;
}

/* The preprocessing options: crop = the model's input, resize with
 * torchvision's 256/224 ratio unless given. */
static ims_status fill_preprocess(const ims_classifier *c,
                                  const ims_preprocess_options *in,
                                  ims_preprocess_options *pp,
                                  ims_error *err) {
  uint32_t w = c->info.input_width, h = c->info.input_height;
  if ((in->crop_width != 0 && in->crop_width != w) ||
      (in->crop_height != 0 && in->crop_height != h))
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "the model takes %" PRIu32 "x%" PRIu32
                     " images; a %" PRIu32 "x%" PRIu32 " crop does not fit",
                     w, h, in->crop_width, in->crop_height);
  uint32_t side = w > h ? w : h;
  uint32_t resize = in->resize != 0 ? in->resize : (side * 256u + 223u) / 224u;
  if (resize < side)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "resize %" PRIu32 " is smaller than the %" PRIu32
                     "x%" PRIu32 " crop", resize, w, h);
  memset(pp, 0, sizeof *pp);
  pp->resize = resize;
  pp->crop_width = w;
  pp->crop_height = h;
  return IMS_OK;
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
  return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* The batch's buffers within max_batch_bytes? Checked before any is made,
 * so --max-files-per-trigger 100000 is an error, not an OOM kill. */
static ims_status check_batch_bytes(const ims_classifier *c,
                                    const ims_limits *l, ims_error *err) {
  uint64_t px = (uint64_t)c->info.input_width * c->info.input_height *
                c->info.input_channels;
  uint64_t in = c->info.input_type == IMS_TENSOR_F32 ? 4 * px : px;
  uint64_t per_image = px + in + 2 * 4 * (uint64_t)c->info.output_count +
                       4 * (uint64_t)c->feature_info.count;
  uint64_t need = sat_mul(per_image, c->max_batch);
  if (need <= l->max_batch_bytes) return IMS_OK;
  return ims__fail(err, IMS_ERR_TOO_LARGE,
                   "a batch of %zu images needs %llu bytes (%llu per "
                   "image), more than the limit of %llu (max_batch_bytes)",
                   c->max_batch, (unsigned long long)need,
                   (unsigned long long)per_image,
                   (unsigned long long)l->max_batch_bytes);
}

static ims_status alloc_buffers(ims_classifier *c, ims_error *err) {
  size_t b = c->max_batch;
  c->image_bytes = ims_batch_prep_image_bytes(c->lanes[0].prep);
  c->pixels = malloc(b * c->image_bytes);
  c->scores = calloc(b * c->info.output_count, sizeof *c->scores);
  c->scratch = calloc(c->top_k, sizeof *c->scratch);
  c->top = calloc(b * c->top_k, sizeof *c->top);
  c->results = calloc(b, sizeof *c->results);
  c->errors = calloc(b, sizeof *c->errors);
  c->slot = calloc(b, sizeof *c->slot);
  if (c->pixels == NULL || c->scores == NULL || c->scratch == NULL ||
      c->top == NULL || c->results == NULL || c->errors == NULL ||
      c->slot == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  c->feature_count = ims_engine_feature_count(c->lanes[0].engine);
  if (c->feature_count == 0) return IMS_OK;
  c->features = calloc(b * c->feature_count, sizeof *c->features);
  if (c->features == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

/* One single-threaded decoder and engine per thread. */
static ims_status create_lanes(ims_classifier *c, size_t threads,
                               const ims_classifier_options *o,
                               const ims_preprocess_options *pp,
                               ims_error *err) {
  c->lanes = calloc(threads, sizeof *c->lanes);
  if (threads > 1) c->pool = pthreadpool_create(threads);
  if (c->lanes == NULL || (threads > 1 && c->pool == NULL))
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory for lanes");
  if (threads > 1) {
    ims_status st = ims__team_create(threads - 1, &c->team, err);
    if (st != IMS_OK) return st;
  }
  c->lane_count = threads;
  ims_engine_options eo = {0};
  eo.threads = 1;
  eo.flags = o->engine_flags;
  eo.feature_layer = o->feature_layer;
  memcpy(eo.mean, o->mean, sizeof eo.mean);
  memcpy(eo.std, o->std, sizeof eo.std);
  eo.max_batch = (uint32_t)((c->max_batch + threads - 1) / threads);
  for (size_t i = 0; i < threads; i++) {
    ims_status st = ims_engine_create(c->model, &eo, &c->lanes[i].engine,
                                      err);
    if (st == IMS_OK)
      st = ims_batch_prep_create(&o->decode, pp, 1, &c->lanes[i].prep, err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

ims_status ims_classifier_create(const ims_classifier_options *o,
                                 ims_classifier **out, ims_error *err) {
  if (o == NULL || o->model_path == NULL || o->labels_path == NULL ||
      out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "classifier: no model/labels");
  ims_classifier *c = calloc(1, sizeof *c);
  if (c == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ims_preprocess_options pp;
  ims_limits l;
  ims_limits_resolve(o->limits, &l);
  ims_classifier_options lo = *o; /* decode limits filled from l */
  if (lo.decode.max_pixels == 0) lo.decode.max_pixels = l.max_pixels;
  if (lo.decode.max_file_bytes == 0)
    lo.decode.max_file_bytes = l.max_file_bytes;
  o = &lo;
  ims_status st = load(c, o, err);
  if (st == IMS_OK) st = fill_preprocess(c, &o->preprocess, &pp, err);
  if (st != IMS_OK) goto fail;
  c->max_batch = o->max_batch != 0 ? o->max_batch : 1;
  if (o->engine_flags & IMS_ENGINE_FLAG_FEATURES)
    st = ims_model_feature_layer(c->model, o->feature_layer, &c->feature_info,
                                 err);
  if (st == IMS_OK) st = check_batch_bytes(c, &l, err);
  if (st != IMS_OK) goto fail;
  size_t nlabels = ims_labels_count(c->labels);
  c->top_k = o->top_k != 0 ? o->top_k : 1;
  if (c->top_k > nlabels) c->top_k = nlabels;
  st = create_lanes(c, o->threads ? o->threads : ims__cpu_online(), o, &pp,
                    err);
  if (st == IMS_OK) st = alloc_buffers(c, err);
  if (st != IMS_OK) goto fail;
  *out = c;
  return IMS_OK;
fail:
  ims_classifier_destroy(c);
  return st;
}

const ims_model *ims_classifier_model(const ims_classifier *c) {
  return c->model;
}

size_t ims_classifier_feature_count(const ims_classifier *c) {
  return c->feature_info.count;
}

const char *ims_classifier_feature_layer(const ims_classifier *c) {
  return c->feature_info.count ? c->feature_info.tensor_name : NULL;
}

void ims_classifier_destroy(ims_classifier *c) {
  if (c == NULL) return;
  for (size_t i = 0; c->lanes != NULL && i < c->lane_count; i++) {
    ims_engine_destroy(c->lanes[i].engine);
    ims_batch_prep_destroy(c->lanes[i].prep);
  }
  free(c->lanes);
  if (c->pool != NULL) pthreadpool_destroy(c->pool);
  ims__team_destroy(c->team);
  ims_labels_destroy(c->labels);
  ims_model_destroy(c->model);
  free(c->pixels);
  free(c->scores);
  free(c->features);
  free(c->scratch);
  free(c->top);
  free(c->results);
  free(c->errors);
  free(c->slot);
  free(c);
}

/* ---- 2. runs ---- */

/* Move the images of [start, end) that decoded to the front of that
 * range of c->pixels; slot[i] is image i's packed position (counted from
 * 0, not from start) or -1. Returns the packed count. */
static size_t pack(ims_classifier *c, size_t start, size_t end) {
  size_t used = 0;
  uint8_t *base = c->pixels + start * c->image_bytes;
  for (size_t i = start; i < end; i++) {
    c->slot[i] = -1;
    if (c->errors[i].status != IMS_OK) continue;
    if (used != i - start)
      memmove(base + used * c->image_bytes,
              base + (i - start) * c->image_bytes, c->image_bytes);
    c->slot[i] = (long)(start + used++);
  }
  return used;
}

/* Raw scores (logits) -> probabilities, in place. Subtracting the
 * largest score first keeps exp() in range. */
static void softmax(float *s, size_t n) {
  float max = -INFINITY, sum = 0.0f;
  for (size_t i = 0; i < n; i++)
    if (s[i] > max) max = s[i];
  for (size_t i = 0; i < n; i++) {
    s[i] = expf(s[i] - max);
    sum += s[i];
  }
  for (size_t i = 0; i < n; i++) s[i] /= sum;
}

/* Top-K of image i (packed at slot[i]) into its result. */
static void decode_top(ims_classifier *c, size_t i) {
  ims_class_result *r = &c->results[i];
  ims_class_prediction *top = c->top + i * c->top_k;
  memset(&r->error, 0, sizeof r->error);
  r->top = top;
  r->k = 0;
  r->features = NULL;
  r->feature_count = 0;
  r->pixels = NULL;
  if (c->slot[i] < 0) {
    r->error = c->errors[i];
    return;
  }
  r->pixels = c->pixels + (size_t)c->slot[i] * c->image_bytes;
  if (c->features != NULL) {
    r->features = c->features + (size_t)c->slot[i] * c->feature_count;
    r->feature_count = c->feature_count;
  }
  float *s = c->scores + (size_t)c->slot[i] * c->info.output_count;
  size_t n = c->info.output_count - c->offset;
  if (c->info.output_logits) softmax(s + c->offset, n);
  r->k = ims_top_k(s + c->offset, n, c->top_k, c->scratch);
  for (size_t j = 0; j < r->k; j++) {
    top[j].index = c->scratch[j].index;
    top[j].score = c->scratch[j].score;
    top[j].class_id = ims_labels_class(c->labels, top[j].index);
    top[j].desc = ims_labels_desc(c->labels, top[j].index);
  }
}

/* pthreadpool task: lane `l` decodes, packs and infers its share. */
static void run_lane(void *ctx, size_t l) {
  ims_classifier *c = ctx;
  lane *ln = &c->lanes[l];
  size_t start = l * c->share, end = start + c->share;
  if (end > c->run_count) end = c->run_count;
  ln->status = IMS_OK;
  ln->decode_ns = ln->infer_ns = 0;
  if (start >= end) return;
  uint64_t t0 = ims__now_mono_ns();
  uint8_t *px = c->pixels + start * c->image_bytes;
  if (c->paths != NULL)
    ims_batch_prep_files(ln->prep, end - start, c->paths + start, px,
                         c->errors + start);
  else
    ims_batch_prep_memory(ln->prep, end - start, c->data + start,
                          c->sizes + start, px, c->errors + start);
  size_t used = pack(c, start, end);
  uint64_t t1 = ims__now_mono_ns();
  float *scores = c->scores + start * c->info.output_count;
  if (used > 0 && c->features != NULL)
    ln->status = ims_engine_run_features(
        ln->engine, px, used, scores,
        c->features + start * c->feature_count, &ln->error);
  else if (used > 0)
    ln->status = ims_engine_run(ln->engine, px, used, scores, &ln->error);
  ln->decode_ns = t1 - t0;
  ln->infer_ns = ims__now_mono_ns() - t1;
}

/* A run, split by image over the lanes (see the file comment). Lanes
 * beyond the images of a small run have nothing to do. */
static ims_status run_lanes(ims_classifier *c, size_t n,
                            const ims_class_result **results_out,
                            ims_error *err) {
  c->run_count = n;
  c->share = (n + c->lane_count - 1) / c->lane_count;
  if (n == 1 && c->team != NULL) {
    /* the other lanes have nothing: no pool, the team on lane 0 */
    ims__engine_lend_team(c->lanes[0].engine, c->team);
    for (size_t l = 0; l < c->lane_count; l++) run_lane(c, l);
    ims__engine_lend_team(c->lanes[0].engine, NULL);
  } else {
    pthreadpool_parallelize_1d(c->pool, run_lane, c, c->lane_count,
                               PTHREADPOOL_FLAG_YIELD_WORKERS);
  }
  for (size_t l = 0; l < c->lane_count; l++) {
    if (c->lanes[l].status != IMS_OK) {
      if (err != NULL) *err = c->lanes[l].error;
      return c->lanes[l].status;
    }
  }
  /* Lanes run side by side: a stage takes as long as its slowest lane. */
  c->stats.decode_ns = c->stats.inference_ns = 0;
  for (size_t l = 0; l < c->lane_count; l++) {
    if (c->lanes[l].decode_ns > c->stats.decode_ns)
      c->stats.decode_ns = c->lanes[l].decode_ns;
    if (c->lanes[l].infer_ns > c->stats.inference_ns)
      c->stats.inference_ns = c->lanes[l].infer_ns;
  }
  for (size_t i = 0; i < n; i++) decode_top(c, i);
  *results_out = c->results;
  return IMS_OK;
}

static ims_status check_count(const ims_classifier *c, size_t count,
                              ims_error *err) {
  if (count == 0 || count > c->max_batch)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "classifier: %zu images, max_batch is %zu", count,
                     c->max_batch);
  return IMS_OK;
}

ims_status ims_classifier_run_files(ims_classifier *c, size_t count,
                                    const char *const *paths,
                                    const ims_class_result **results_out,
                                    ims_error *err) {
  ims_status st = check_count(c, count, err);
  if (st != IMS_OK) return st;
  c->paths = paths;
  c->data = NULL;
  return run_lanes(c, count, results_out, err);
}

ims_status ims_classifier_run_memory(ims_classifier *c, size_t count,
                                     const void *const *data,
                                     const size_t *sizes,
                                     const ims_class_result **results_out,
                                     ims_error *err) {
  ims_status st = check_count(c, count, err);
  if (st != IMS_OK) return st;
  c->paths = NULL;
  c->data = data;
  c->sizes = sizes;
  return run_lanes(c, count, results_out, err);
}

/* ---- 3. accessors ---- */

size_t ims_classifier_max_batch(const ims_classifier *c) {
  return c->max_batch;
}

const ims_labels *ims_classifier_labels(const ims_classifier *c) {
  return c->labels;
}

void ims_classifier_get_stats(const ims_classifier *c,
                              ims_classifier_stats *out) {
  *out = c->stats;
}
