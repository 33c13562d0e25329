/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - ims_engine: runs a loaded model on XNNPACK, with quantized
 * convolutions on oneDNN where that is faster and quantized 3x3 depthwise
 * ones on our own kernel (dw_ops.c) (see model.h for the contract and the
 * IMS_ENGINE_FLAG_* backend choice, infer_int.h for how a graph becomes
 * steps).
 *
 * Create: initialize XNNPACK (and oneDNN unless forced off), make the
 * thread pool, plan the activation arena for one image, turn every node
 * into a step of the kind step.c chooses (XNNPACK and oneDNN pack the
 * weights here, once), and for a threaded engine that takes batches, one
 * one-thread helper engine per extra thread. The engine knows steps only
 * through their ops tables (ims__step_setup / run / destroy).
 * Run: image by image, convert the RGB bytes into the model's input, run
 * the steps in order, dequantize the output into floats. One image on
 * threads: each step split over the pool, or, on a one-thread engine lent
 * a team (ims__engine_lend_team: the classifier's runs of one image),
 * our own kernels' steps split over the team (core/team_int.h). A batch
 * on threads: one share of the images per thread, each on its own engine
 * (the helpers), so no thread waits for another between layers: float
 * MobileNetV2, batch 16, 2 threads went from 175 to 214 images/s (1
 * thread: 111).
 * Nothing on the run path allocates.
 *
 * Features (IMS_ENGINE_FLAG_FEATURES): the layer is found at create
 * (model/features.c); a run splits each image's steps after the node
 * writing it and copies the values out then, dequantized, since the
 * arena slot is reused by later layers. Without the flag the loop is the
 * same steps with no copy.
 *
 * Adaptive threading: pthreadpool ends every layer by waiting until each
 * worker has checked in, so when other processes hold the cores, every
 * layer waits for a descheduled worker's next time slice: on a loaded
 * 2-core machine, 2-thread inference fell to 2 images/s where one thread
 * did 40-60. So an engine with threads times each run (per image,
 * moving averages, the cold first run left out: counted, it kept a
 * 2-thread engine on one thread for ~160 runs while two were 1.3x
 * faster) and runs on the calling thread alone while that is clearly
 * faster, trying the other way every PROBE_EVERY runs.
 *
 * Sections: 1. input/output conversion 2. create/destroy 3. run.
 *
 * Threading: one thread at a time per engine; XNNPACK spreads each
 * operator over the engine's pthreadpool, and so do dnnl_ops.c and
 * dw_ops.c.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock_int.h"
#include "core/cpu_int.h"
#include "core/error_int.h"
#include "infer/infer_int.h"

struct ims_engine {
  const ims_model *model;   /* BORROWED: outlives the engine */
  size_t max_batch;         /* largest batch ims_engine_run takes */
  pthreadpool_t pool;       /* owned; NULL when running on one thread */
  ims__team *team;          /* BORROWED: splits one-image runs of a
                               one-thread engine (ims__engine_lend_team);
                               NULL: none */
  ims_engine **helpers;     /* owned: threads - 1 one-thread engines that
                               take a share of each batch; NULL when the
                               engine has one thread or max_batch is 1 */
  size_t helper_count;
  ims_status *share_status; /* owned: per share of a batch run */
  ims_error *share_err;     /* owned: per share of a batch run */
  bool xnn_ready;           /* xnn_initialize succeeded (needs deinit) */
  uint32_t flags;           /* IMS_ENGINE_FLAG_* from the options */
  ims__dnnl_ctx *dnnl;      /* owned; NULL when oneDNN is not used */
  ims__layout layout;       /* arena offsets per tensor */
  uint8_t *arena;           /* owned activation memory */
  ims__step *steps;         /* owned, one per node, in order */
  float *scratch;           /* owned: one softmax row */
  size_t in_pixels;         /* H * W of the input */
  float in_mul[3];          /* float input: x * in_mul + in_add */
  float in_add[3];
  size_t out_count;         /* outputs per image */
  bool solo;                /* adaptive: runs skip the pool for now */
  uint32_t until_probe;     /* adaptive: runs left before trying the
                               other way once */
  double ns_pool, ns_solo;  /* adaptive: ns per image, moving averages;
                               0 = not measured yet */
  bool last_solo;           /* the last run skipped the pool */
  bool warm;                /* adaptive: a first (cold) run is done */
  float out_lut[256];       /* 8-bit output byte -> real value */
  bool features;            /* IMS_ENGINE_FLAG_FEATURES was given */
  ims__feature_layer feat;  /* with features: where they are */
  float feat_lut[256];      /* 8-bit feature byte -> real value */
};

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

/* ---- 1. input/output conversion -------------------------------------- */

static void *tensor_ptr(const ims_engine *e, uint32_t t) {
  const ims__tensor *tensor = &e->model->tensors[t];
  if (tensor->data != NULL) return (void *)(uintptr_t)tensor->data;
  return e->arena + e->layout.offset[t];
}

/* RGB bytes -> (x/255 - mean)/std per channel, n bytes, HWC order. */
static void normalize(const ims_engine *e, const uint8_t *rgb, size_t n,
                      float *dst) {
  for (size_t i = 0; i < n; i += 3)
    for (int c = 0; c < 3; c++)
      dst[i + c] = (float)rgb[i + c] * e->in_mul[c] + e->in_add[c];
}

/* uint8 inputs take the pixel as it is, int8 inputs the pixel - 128: the
 * convention of TFLite image classifiers (their input quantization maps
 * those bytes onto the real range the network was trained on). */
static void convert_input(const ims_engine *e, const uint8_t *rgb,
                          size_t batch) {
  const ims__tensor *t = &e->model->tensors[e->model->input];
  size_t n = batch * e->in_pixels * 3;
  if (t->type == IMS_TENSOR_U8) {
    memcpy(tensor_ptr(e, e->model->input), rgb, n);
  } else if (t->type == IMS_TENSOR_I8) {
    uint8_t *dst = tensor_ptr(e, e->model->input);
    for (size_t i = 0; i < n; i++) dst[i] = rgb[i] ^ 0x80;
  } else {
    normalize(e, rgb, n, tensor_ptr(e, e->model->input));
  }
}

static void convert_output(const ims_engine *e, size_t batch, float *out) {
  const ims__tensor *t = &e->model->tensors[e->model->output];
  size_t n = batch * e->out_count;
  if (t->type == IMS_TENSOR_F32) {
    memcpy(out, tensor_ptr(e, e->model->output), n * sizeof *out);
    return;
  }
  const uint8_t *q = tensor_ptr(e, e->model->output);
  for (size_t i = 0; i < n; i++) out[i] = e->out_lut[q[i]];
}

/* Image k's features, dequantized, right after feat.producer has run:
 * later layers may reuse their arena slot. */
static void copy_features(const ims_engine *e, float *dst) {
  const ims__tensor *t = &e->model->tensors[e->feat.tensor];
  const void *src = tensor_ptr(e, e->feat.tensor);
  if (t->type == IMS_TENSOR_F32) {
    memcpy(dst, src, e->feat.count * sizeof *dst);
    return;
  }
  const uint8_t *q = src;
  for (size_t i = 0; i < e->feat.count; i++) dst[i] = e->feat_lut[q[i]];
}

static void set_normalization(ims_engine *e, const ims_engine_options *o) {
  bool given = false;
  for (int c = 0; c < 3; c++) given |= o != NULL && o->std[c] != 0.0f;
  for (int c = 0; c < 3; c++) {
    float mean = given ? o->mean[c] : imagenet_mean[c];
    float std = given ? o->std[c] : imagenet_std[c];
    e->in_mul[c] = 1.0f / (255.0f * std);
    e->in_add[c] = -mean / std;
  }
}

/* ---- 2. create/destroy ----------------------------------------------- */

static ims_status check_io(const ims_model *m, ims_error *err) {
  const ims__tensor *in = &m->tensors[m->input];
  const ims__tensor *out = &m->tensors[m->output];
  if (in->rank != 4 || in->shape[0] != 1 || in->shape[3] != 3)
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "model input must be one NHWC image with 3 channels");
  if (out->type == IMS_TENSOR_I32)
    return ims__fail(err, IMS_ERR_UNSUPPORTED, "int32 model output");
  return IMS_OK;
}

/* lut[b] = the real value of byte b of 8-bit tensor t. */
static void fill_lut(const ims__tensor *t, float *lut) {
  for (unsigned b = 0; b < 256; b++) {
    int32_t q = t->type == IMS_TENSOR_I8 ? (int8_t)b : (int32_t)b;
    lut[b] = t->scale * (float)(q - t->zero_point);
  }
}

static void set_output_table(ims_engine *e) {
  fill_lut(&e->model->tensors[e->model->output], e->out_lut);
}

/* With IMS_ENGINE_FLAG_FEATURES: find the feature tensor. */
static ims_status set_features(ims_engine *e, const ims_engine_options *o,
                               ims_error *err) {
  if (!(e->flags & IMS_ENGINE_FLAG_FEATURES)) return IMS_OK;
  ims_status st = ims__feature_find(e->model, o->feature_layer, &e->feat,
                                    err);
  if (st != IMS_OK) return st;
  e->features = true;
  fill_lut(&e->model->tensors[e->feat.tensor], e->feat_lut);
  return IMS_OK;
}

static bool is_binary(ims__op op) {
  return op == IMS__OP_ADD || op == IMS__OP_MUL || op == IMS__OP_SUB ||
         op == IMS__OP_DIV;
}

/* Resolve each node's buffers and build its step. */
static ims_status build_steps(ims_engine *e, ims_error *err) {
  const ims_model *m = e->model;
  ims__step_env env = {m, e->dnnl, e->flags,
                       e->features ? e->feat.tensor : UINT32_MAX};
  size_t longest_row = 1;
  e->steps = calloc(m->node_count ? m->node_count : 1, sizeof *e->steps);
  if (e->steps == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  for (uint32_t i = 0; i < m->node_count; i++) {
    ims__step *s = &e->steps[i];
    s->node = &m->nodes[i];
    s->in = tensor_ptr(e, s->node->inputs[0]);
    for (uint32_t k = 0; k < s->node->input_count; k++)
      s->ins[k] = tensor_ptr(e, s->node->inputs[k]);
    if (s->node->input_count > 1 && is_binary(s->node->op))
      s->in2 = s->ins[1];
    s->out = tensor_ptr(e, s->node->output);
    s->in_per_image = ims__tensor_elements(&m->tensors[s->node->inputs[0]]) /
                      m->tensors[s->node->inputs[0]].shape[0];
    s->out_per_image = ims__tensor_elements(&m->tensors[s->node->output]) /
                       m->tensors[s->node->output].shape[0];
  }
  /* Kinds, once every step's buffers are known: a fused step takes the
   * next node too (step.c). */
  for (uint32_t i = 0; i < m->node_count; i++) {
    ims__step *s = &e->steps[i];
    ims__step *next = i + 1 < m->node_count ? s + 1 : NULL;
    ims_status st = ims__step_choose(&env, s, next, err);
    if (st != IMS_OK) return st;
    if (s->ops == &ims__step_fused) next->ops = &ims__step_fused_away, i++;
    if (s->channels > longest_row) longest_row = s->channels;
  }
  e->scratch = malloc(longest_row * sizeof *e->scratch);
  if (e->scratch == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

static ims_status start_backend(ims_engine *e, const ims_engine_options *o,
                                ims_error *err) {
  enum xnn_status xs = xnn_initialize(NULL);
  if (xs != xnn_status_success)
    return ims__fail(err, IMS_ERR_BACKEND, "XNNPACK initialization: %s",
                     ims__xnn_status_str(xs));
  e->xnn_ready = true;
  size_t threads = (o != NULL && o->threads) ? o->threads : ims__cpu_online();
  if (threads > 1) {
    e->pool = pthreadpool_create(threads);
    if (e->pool == NULL)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "cannot start %zu threads",
                       threads);
  }
  if (e->flags & IMS_ENGINE_FLAG_FORCE_XNNPACK) return IMS_OK;
  ims_status st = ims__dnnl_ctx_create(threads, &e->dnnl, err);
  /* The default only prefers oneDNN: where it cannot start, run on
   * XNNPACK; but out of memory is the caller's to know, not a reason to
   * change backends. */
  if (st != IMS_OK && st != IMS_ERR_NO_MEMORY &&
      !(e->flags & IMS_ENGINE_FLAG_FORCE_ONEDNN))
    st = IMS_OK;
  return st;
}

/* Set every step up for one image, once: steps always run one image at
 * a time (ims_engine_run), so nothing is set up again on the run path. */
static ims_status setup_steps(ims_engine *e, ims_error *err) {
  for (uint32_t i = 0; i < e->model->node_count; i++) {
    ims_status st = ims__step_setup(e->model, &e->steps[i], 1, e->pool, err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* A threaded engine that takes batches gets one-thread helper engines:
 * a batch is split into one share per thread, each run image by image on
 * its own engine. (Their weights are packed again: XNNPACK operators own
 * theirs.) */
static ims_status start_helpers(ims_engine *e, const ims_engine_options *o,
                                ims_error *err) {
  if (e->pool == NULL || e->max_batch == 1) return IMS_OK;
  size_t threads = pthreadpool_get_threads_count(e->pool);
  e->helpers = calloc(threads - 1, sizeof *e->helpers);
  e->share_status = calloc(threads, sizeof *e->share_status);
  e->share_err = calloc(threads, sizeof *e->share_err);
  if (!e->helpers || !e->share_status || !e->share_err)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ims_engine_options one = {0};
  if (o != NULL) one = *o;
  one.threads = 1;
  one.max_batch = (uint32_t)((e->max_batch + threads - 1) / threads);
  for (; e->helper_count < threads - 1; e->helper_count++) {
    ims_status st =
        ims_engine_create(e->model, &one, &e->helpers[e->helper_count], err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

ims_status ims_engine_create(const ims_model *model,
                             const ims_engine_options *options,
                             ims_engine **engine_out, ims_error *err) {
  if (model == NULL || engine_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL model or engine_out");
  uint32_t flags = options != NULL ? options->flags : 0;
  uint32_t both = IMS_ENGINE_FLAG_FORCE_XNNPACK | IMS_ENGINE_FLAG_FORCE_ONEDNN;
  if ((flags & both) == both)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "both FORCE_XNNPACK and FORCE_ONEDNN");
  ims_status st = check_io(model, err);
  if (st != IMS_OK) return st;
  ims_engine *e = calloc(1, sizeof *e);
  if (e == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  e->model = model;
  e->flags = flags;
  e->max_batch = (options != NULL && options->max_batch) ? options->max_batch
                                                          : 1;
  e->until_probe = 1; /* the second run tries the calling thread alone */
  const ims__tensor *in = &model->tensors[model->input];
  e->in_pixels = (size_t)in->shape[1] * in->shape[2];
  e->out_count = ims__bytes_per_image(&model->tensors[model->output]) /
                 ims__type_size(model->tensors[model->output].type);
  set_normalization(e, options);
  set_output_table(e);
  st = set_features(e, options, err);
  if (st == IMS_OK) st = start_backend(e, options, err);
  if (st != IMS_OK) goto fail;
  /* Steps run one image at a time (see ims_engine_run): the arena holds
   * one image's activations. */
  st = ims__layout_plan(model, 1, &e->layout, err);
  if (st != IMS_OK) goto fail;
  e->arena = aligned_alloc(64, e->layout.arena_size);
  if (e->arena == NULL) {
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "cannot allocate %zu bytes",
                   e->layout.arena_size);
    goto fail;
  }
  /* Zeroed once: XNNPACK's kernels read up to XNN_EXTRA_BYTES past a
   * tensor (the slack plan.c adds) and mix those bytes into vector lanes
   * they then discard; never-written slack made memcheck report the
   * final softmax's input as uninitialised. Results never depended on
   * it (bit-exact with the reference); now nothing read is undefined. */
  memset(e->arena, 0, e->layout.arena_size);
  st = build_steps(e, err);
  if (st == IMS_OK) st = setup_steps(e, err);
  if (st == IMS_OK) st = start_helpers(e, options, err);
  if (st != IMS_OK) goto fail;
  *engine_out = e;
  return IMS_OK;
fail:
  ims_engine_destroy(e);
  return st;
}

void ims_engine_destroy(ims_engine *e) {
  if (e == NULL) return;
  for (size_t i = 0; i < e->helper_count; i++)
    ims_engine_destroy(e->helpers[i]);
  free(e->helpers);
  free(e->share_status);
  free(e->share_err);
  for (uint32_t i = 0; e->steps != NULL && i < e->model->node_count; i++)
    ims__step_destroy(&e->steps[i]);
  ims__dnnl_ctx_destroy(e->dnnl);
  free(e->steps);
  free(e->scratch);
  free(e->arena);
  ims__layout_free(&e->layout);
  if (e->pool != NULL) pthreadpool_destroy(e->pool);
  if (e->xnn_ready) xnn_deinitialize();
  free(e);
}

/* ---- 3. run ---------------------------------------------------------- */

static void no_op(void *arg, size_t i) {
  (void)arg;
  (void)i;
}

/* Put the pool's workers to sleep now instead of letting them spin-wait
 * for the next operator: between runs the caller usually decodes images
 * on threads of its own, and on a 2-core machine a spinning worker halves
 * their speed (end to end, 2 threads: 216 -> 330 images/s with the decode
 * pool yielding too, 388 with both). Costs one futex wake-up at the start
 * of the next run; not measurable at batch 1 or 16. */
static void park_workers(pthreadpool_t pool) {
  if (pool == NULL) return;
  pthreadpool_parallelize_1d(pool, no_op, NULL,
                             pthreadpool_get_threads_count(pool),
                             PTHREADPOOL_FLAG_YIELD_WORKERS);
}

#define PROBE_EVERY 32

/* Whether this run skips the pool: the faster way so far, except one run
 * in PROBE_EVERY, which tries the other way to keep its figure fresh. */
static bool run_solo(ims_engine *e) {
  if (e->pool == NULL && e->team == NULL) return true;
  if (e->flags & IMS_ENGINE_FLAG_FIXED_THREADS) return false;
  if (e->until_probe == 0) {
    e->until_probe = PROBE_EVERY;
    return !e->solo;
  }
  e->until_probe--;
  return e->solo;
}

/* Fold one run's ns per image into its way's average; go solo when that
 * is 10% faster than the pool, back when the pool is faster at all. A
 * run counts at most twice the average: single runs stalled by another
 * process (a stream's image every 20 ms: team runs of 5 ms, one of 20)
 * sent a faster team to solo for 100 of 430 runs; a lasting slowdown
 * still doubles the average in three runs. */
static void record_run(ims_engine *e, bool solo, double ns_per_image) {
  double *avg = solo ? &e->ns_solo : &e->ns_pool;
  if (*avg != 0 && ns_per_image > 2 * *avg) ns_per_image = 2 * *avg;
  *avg = *avg == 0 ? ns_per_image : 0.75 * *avg + 0.25 * ns_per_image;
  if (e->ns_solo == 0 || e->ns_pool == 0) return;
  e->solo = e->solo ? e->ns_solo <= e->ns_pool
                    : e->ns_solo < 0.9 * e->ns_pool;
}

uint32_t ims_engine_threads_in_use(const ims_engine *e) {
  if (e == NULL || e->last_solo) return 1;
  if (e->pool == NULL)
    return e->team != NULL ? (uint32_t)ims__team_threads(e->team) : 1;
  return (uint32_t)pthreadpool_get_threads_count(e->pool);
}

void ims__engine_lend_team(ims_engine *e, ims__team *team) {
  if (e->pool == NULL) e->team = team;
}

/* Steps [from, to) over the image in the arena. */
static ims_status run_steps(ims_engine *e, uint32_t from, uint32_t to,
                            const ims__par *par, ims_error *err) {
  for (uint32_t i = from; i < to; i++) {
    ims_status st = ims__step_run(&e->steps[i], 1, par, e->scratch, err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* `batch` images through every step, one at a time: between two layers an
 * image's activations stay in the CPU's caches, where a whole batch's
 * would not (float MobileNetV2: 4.8 MB per image at the widest layer).
 * With `feats` (NULL: none), each image's features are copied there as
 * soon as their layer has run. */
static ims_status run_images(ims_engine *e, const uint8_t *images,
                             size_t batch, float *scores_out, float *feats,
                             const ims__par *par, ims_error *err) {
  uint32_t split = feats != NULL ? e->feat.producer + 1 : 0;
  for (size_t k = 0; k < batch; k++) {
    convert_input(e, images + k * e->in_pixels * 3, 1);
    ims_status st = run_steps(e, 0, split, par, err);
    if (st != IMS_OK) return st;
    if (feats != NULL) copy_features(e, feats + k * e->feat.count);
    st = run_steps(e, split, e->model->node_count, par, err);
    if (st != IMS_OK) return st;
    convert_output(e, 1, scores_out + k * e->out_count);
  }
  return IMS_OK;
}

/* Profiling (infer_int.h): one image through every step on this thread,
 * each step's wall time added to ns[i]. Not the run path: the engine's
 * own runs are never timed per step. */
ims_status ims__engine_time_steps(ims_engine *e, const uint8_t *image,
                                  double *ns, ims_error *err) {
  convert_input(e, image, 1);
  for (uint32_t i = 0; i < e->model->node_count; i++) {
    uint64_t t0 = ims__now_mono_ns();
    ims_status st = ims__step_run(&e->steps[i], 1, NULL, e->scratch, err);
    if (st != IMS_OK) return st;
    ns[i] += (double)(ims__now_mono_ns() - t0);
  }
  return IMS_OK;
}

const char *ims__engine_step_kind(const ims_engine *e, uint32_t i) {
  return e->steps[i].ops->name;
}

typedef struct batch_run {
  ims_engine *e;           /* the engine; share i > 0 on helper i - 1 */
  const uint8_t *images;   /* the whole batch */
  float *scores;           /* its scores */
  float *feats;            /* its features, or NULL */
  size_t batch, shares;
} batch_run;

/* pthreadpool task: share i of the batch, images [i*b/s, (i+1)*b/s). */
static void run_share(void *arg, size_t i) {
  const batch_run *r = arg;
  ims_engine *e = i == 0 ? r->e : r->e->helpers[i - 1];
  size_t first = i * r->batch / r->shares;
  size_t end = (i + 1) * r->batch / r->shares;
  float *feats = r->feats != NULL ? r->feats + first * e->feat.count : NULL;
  r->e->share_status[i] = run_images(
      e, r->images + first * e->in_pixels * 3, end - first,
      r->scores + first * e->out_count, feats, NULL, &r->e->share_err[i]);
}

/* The batch split over the engine and its helpers, one thread each. */
static ims_status run_shares(ims_engine *e, const uint8_t *images,
                             size_t batch, float *scores_out, float *feats,
                             ims_error *err) {
  size_t shares = e->helper_count + 1 < batch ? e->helper_count + 1 : batch;
  batch_run r = {e, images, scores_out, feats, batch, shares};
  pthreadpool_parallelize_1d(e->pool, run_share, &r, shares, 0);
  for (size_t i = 0; i < shares; i++)
    if (e->share_status[i] != IMS_OK) {
      if (err != NULL) *err = e->share_err[i];
      return e->share_status[i];
    }
  return IMS_OK;
}

/* Steps always run one image at a time (run_images). On threads, one
 * image has each layer split over the pool; a batch is split into shares,
 * one per thread, each running whole images on its own engine: no thread
 * waits for another between layers. */
static ims_status run(ims_engine *e, const uint8_t *images, size_t batch,
                      float *scores_out, float *feats, ims_error *err) {
  if (batch == 0 || batch > e->max_batch)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "batch of %zu images; this engine takes 1 to %zu",
                     batch, e->max_batch);
  bool solo = run_solo(e);
  double start = (double)ims__now_mono_ns();
  ims__par par = {e->pool, e->team}; /* a team only without a pool */
  ims_status st;
  if (!solo && batch > 1 && e->helper_count > 0)
    st = run_shares(e, images, batch, scores_out, feats, err);
  else
    st = run_images(e, images, batch, scores_out, feats, solo ? NULL : &par,
                    err);
  if (!solo) park_workers(e->pool);
  if (!solo && par.team != NULL) ims__team_rest(par.team);
  if (st != IMS_OK) return st;
  /* The first run pays for first touches (arena pages, JIT code) and
   * would count against the pool for many probes: not recorded. */
  if ((par.pool != NULL || par.team != NULL) && e->warm)
    record_run(e, solo, ((double)ims__now_mono_ns() - start) / batch);
  e->warm = true;
  e->last_solo = solo;
  return IMS_OK;
}

ims_status ims_engine_run(ims_engine *e, const uint8_t *images, size_t batch,
                          float *scores_out, ims_error *err) {
  if (e == NULL || images == NULL || scores_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL argument");
  return run(e, images, batch, scores_out, NULL, err);
}

size_t ims_engine_feature_count(const ims_engine *e) {
  return e != NULL && e->features ? e->feat.count : 0;
}

ims_status ims_engine_run_features(ims_engine *e, const uint8_t *images,
                                   size_t batch, float *scores_out,
                                   float *features_out, ims_error *err) {
  if (e == NULL || images == NULL || scores_out == NULL ||
      features_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL argument");
  if (!e->features)
    return ims__fail(err, IMS_ERR_INVALID_STATE,
                     "features asked of an engine created without "
                     "IMS_ENGINE_FLAG_FEATURES");
  return run(e, images, batch, scores_out, features_out, err);
}

ims_status ims_engine_input_f32(const ims_engine *e, const uint8_t *images,
                                size_t batch, float *tensor_out,
                                ims_error *err) {
  if (e == NULL || images == NULL || tensor_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL argument");
  if (e->model->tensors[e->model->input].type != IMS_TENSOR_F32)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "the model's input is quantized, not float32: no "
                     "normalized tensor");
  if (batch == 0 || batch > e->max_batch)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "batch of %zu images; this engine takes 1 to %zu", batch,
                     e->max_batch);
  normalize(e, images, batch * e->in_pixels * 3, tensor_out);
  return IMS_OK;
}
