/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_pw.c - the 8-bit 1x1 convolution kernel of src/infer/pw_ops.c
 * gives exactly XNNPACK's bytes.
 *
 *  1. Random layers (both types, zero points, scales, clamps, channel
 *     counts with and without a tail of the 16-channel blocks, pixel
 *     counts with every tail of the 4-pixel tiles), with three kinds of
 *     weights: full-range random ones (most pairs outside what vpmaddubsw
 *     takes: the 16-bit rest), narrow ones around the zero point (the
 *     vpmaddubsw part with a few rests) and pairs on both sides of the
 *     limit (|w1| + |w2| = 128 and 129, -128): XNNPACK's operator and
 *     every kernel path this CPU has (C, AVX2), on a random input and on
 *     the extreme inputs (every byte 0, every byte 255, where a
 *     saturating pair sum would show), on one thread and on a pool of 3:
 *     output bytes must be identical.
 *     Layers with other kernels (3x3 and odd ones, strides 1 and 2, SAME
 *     and VALID), their taps gathered into rows, the same way.
 *  2. Every layer pw_ops.c takes in both shared models (35 1x1
 *     convolutions and the first 3x3 one) with its real weights, on one
 *     image, the same way.
 *  3. Both models end to end on the 24 reference inputs: the default
 *     engine (our kernel where the CPU has AVX2 and no VNNI) against one
 *     forced onto XNNPACK, one with IMS_ENGINE_FLAG_NO_PW_KERNEL and one
 *     with IMS_ENGINE_FLAG_FUSE (expansions fused with their depthwise
 *     layers), on 1 and 2 threads, batches and single images (each layer,
 *     and each fused step's bands, split over the threads): scores
 *     bit-identical.
 *
 * Sections (keep this order): 1. fixtures 2. layer cases 3. model cases.
 *
 * Threading: single-threaded test; engines and layers use pools.
 */

#include "imgstream/imgstream.h"
#include "infer/infer_int.h"
#include "test.h"
#include "support/par_ways.h"
#include "support/rng.h"
#include "support/reference.h"

#define IMG_BYTES (224 * 224 * 3)
#define OUTS 1001

/* ---- 1. fixtures ------------------------------------------------------ */

static test_rng seq = {0x9E3779B97F4A7C15ull};

static uint32_t rng(void) { return test_rng_next(&seq); }

/* Uniform in [lo, hi). */
static float frange(float lo, float hi) {
  return test_rng_range(&seq, lo, hi);
}

/* Output rows / columns of one image of a kh > 0 layer. */
static size_t out_rows(const ims__pw_params *p) {
  return (p->h + p->pad_top + p->pad_bottom - p->kh) / p->stride + 1;
}
static size_t out_cols(const ims__pw_params *p) {
  return (p->w + p->pad_left + p->pad_right - p->kw) / p->stride + 1;
}

/* Input bytes of `pixels` output rows of layer p. */
static size_t in_bytes_of(const ims__pw_params *p, size_t pixels) {
  if (p->kh == 0) return pixels * p->k;
  return pixels / (out_rows(p) * out_cols(p)) * p->h * p->w * p->c;
}

static const ims__pw_path paths[] = {IMS__PW_PATH_C, IMS__PW_PATH_AVX2};
static const char *const path_names[] = {"auto", "C", "AVX2"};

/* Run layer p over `pixels` rows of `in` on every available path, on 1
 * thread, on a 3-thread pool and on a 3-thread team; each output must
 * equal `want`. Returns the paths run. */
static int check_paths(const ims__pw_params *p, const uint8_t *in,
                       size_t pixels, const uint8_t *want,
                       pthreadpool_t pool, const char *what) {
  size_t out_bytes = pixels * p->n;
  uint8_t *got = malloc(out_bytes);
  int ran = 0;
  ASSERT(got != NULL);
  for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
    if (!ims__pw_path_supported(paths[k])) continue;
    ims_error err = {0};
    ims__pw_layer *l = NULL;
    ASSERT_OK(ims__pw_layer_create(p, paths[k], &l, &err), &err);
    for (int way = 0; way < PAR_WAYS; way++) {
      ims__par par;
      memset(got, 0xA5, out_bytes);
      ims__pw_layer_run(l, in, got, pixels, par_way(way, pool, &par));
      for (size_t i = 0; i < out_bytes; i++)
        if (got[i] != want[i])
          TEST__FAIL("%s, %s path, %s: byte %zu (pixel %zu, channel %zu) "
                     "is %d, XNNPACK %d", what, path_names[paths[k]],
                     par_way_names[way], i, i / p->n,
                     i % p->n, p->s8 ? (int8_t)got[i] : got[i],
                     p->s8 ? (int8_t)want[i] : want[i]);
    }
    ims__pw_layer_destroy(l);
    ran++;
  }
  free(got);
  return ran;
}

/* XNNPACK's output for layer p on `pixels` output rows of `in` (for
 * kh > 0: pixels / (oh * ow) images). */
static void xnn_reference(const ims__pw_params *p, const uint8_t *in,
                          size_t pixels, uint8_t *out) {
  xnn_operator_t op = NULL;
  enum xnn_status xs;
  bool one = p->kh == 0;
  size_t c = one ? p->k : p->c, kh = one ? 1 : p->kh, kw = one ? 1 : p->kw;
  size_t s = one ? 1 : p->stride, h = one ? pixels : p->h, w = one ? 1 : p->w;
  size_t images = one ? 1 : pixels / (out_rows(p) * out_cols(p));
  uint32_t pt = (uint32_t)p->pad_top, pr = (uint32_t)p->pad_right;
  uint32_t pb = (uint32_t)p->pad_bottom, pl = (uint32_t)p->pad_left;
  if (p->s8) {
    float *scales = malloc(p->n * sizeof *scales);
    ASSERT(scales != NULL);
    for (size_t i = 0; i < p->n; i++)
      scales[i] = p->w_scales ? p->w_scales[i] : p->w_scale;
    xs = xnn_create_convolution2d_nhwc_qc8(
        pt, pr, pb, pl, (uint32_t)kh, (uint32_t)kw, (uint32_t)s, (uint32_t)s,
        1, 1, 1, c, p->n, c, p->n, (int8_t)p->in_zero_point, p->in_scale,
        scales, p->weights, p->bias, (int8_t)p->out_zero_point,
        p->out_scale, (int8_t)p->out_min, (int8_t)p->out_max, 0, &op);
    free(scales);
    ASSERT_EQ(xs, xnn_status_success);
    xs = xnn_setup_convolution2d_nhwc_qc8(op, images, h, w,
                                          (const int8_t *)in, (int8_t *)out,
                                          NULL);
  } else {
    xs = xnn_create_convolution2d_nhwc_qu8(
        pt, pr, pb, pl, (uint32_t)kh, (uint32_t)kw, (uint32_t)s, (uint32_t)s,
        1, 1, 1, c, p->n, c, p->n, (uint8_t)p->in_zero_point, p->in_scale,
        (uint8_t)p->w_zero_point, p->w_scale, p->weights, p->bias,
        (uint8_t)p->out_zero_point, p->out_scale, (uint8_t)p->out_min,
        (uint8_t)p->out_max, 0, &op);
    ASSERT_EQ(xs, xnn_status_success);
    xs = xnn_setup_convolution2d_nhwc_qu8(op, images, h, w, in, out, NULL);
  }
  ASSERT_EQ(xs, xnn_status_success);
  ASSERT_EQ(xnn_run_operator(op, NULL), xnn_status_success);
  xnn_delete_operator(op);
}

/* Compare XNNPACK and every path on layer p: a random input, then every
 * byte 0 and every byte 255. */
static void layer_case(const ims__pw_params *p, size_t pixels,
                       pthreadpool_t pool, const char *what) {
  size_t in_bytes = in_bytes_of(p, pixels);
  uint8_t *in = malloc(in_bytes + XNN_EXTRA_BYTES);
  uint8_t *want = malloc(pixels * p->n);
  ASSERT(in != NULL && want != NULL);
  for (int fill = 0; fill < 3; fill++) {
    for (size_t i = 0; i < in_bytes + XNN_EXTRA_BYTES; i++)
      in[i] = fill == 0 ? (uint8_t)rng() : fill == 1 ? 0 : 255;
    xnn_reference(p, in, pixels, want);
    char full[200];
    snprintf(full, sizeof full, "%s, %s input", what,
             fill == 0 ? "random" : fill == 1 ? "all-0" : "all-255");
    ASSERT(check_paths(p, in, pixels, want, pool, full) >= 1);
  }
  free(want);
  free(in);
}

/* ---- 2. layer cases --------------------------------------------------- */

typedef struct shape { size_t pixels, k, n; } shape;

/* MobileNetV2's shapes (one image), then tails: 16-channel blocks with
 * 1..15 channels left, 4-pixel tiles with 1..3 pixels left, 1 pixel. */
static const shape shapes[] = {
    {12544, 32, 16}, {3136, 96, 24}, {784, 144, 32},  {196, 384, 64},
    {49, 960, 320},  {1, 1280, 1001}, {37, 4, 1},     {6, 8, 17},
    {5, 12, 31},     {3, 20, 24},     {2, 64, 40},    {1, 16, 16},
    {7, 100, 9},     {9, 36, 47}};

enum weights { W_FULL, W_NARROW, W_EDGE, W_KINDS };

/* Weight bytes of kind `kind` for a layer of type s8 with zero point zw. */
static uint8_t weight(enum weights kind, bool s8, int32_t zw, size_t i) {
  int32_t d;
  switch (kind) {
    case W_FULL: d = (int32_t)(rng() % 255u) - 127; break;
    case W_NARROW: d = (int32_t)(rng() % 61u) - 30; break;
    default: { /* pairs at the limit: 64/64, 64/65, -128/0, 127/-1 */
      static const int32_t edge[][2] = {{64, 64}, {64, 65},  {-128, 0},
                                        {127, -1}, {-64, -64}, {-65, 64}};
      d = edge[(i / 2 + rng() % 2) % 6][i % 2];
    }
  }
  if (s8) return (uint8_t)(int8_t)(d < -127 ? -127 : d); /* symmetric */
  int32_t q = zw + d;
  return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* Random quantization for shape s, weights of kind `kind`, into the
 * caller's buffers. */
static void random_params(const shape *s, bool s8, enum weights kind,
                          ims__pw_params *p, uint8_t *w, int32_t *bias,
                          float *scales) {
  memset(p, 0, sizeof *p);
  p->k = s->k, p->n = s->n, p->s8 = s8;
  p->in_zero_point = test_rng_zero_point(&seq, s8);
  p->w_zero_point = s8 ? 0 : 64 + (int32_t)(rng() % 128);
  p->out_zero_point = test_rng_zero_point(&seq, s8);
  p->in_scale = frange(0.005f, 0.05f);
  p->w_scale = frange(0.001f, 0.05f);
  for (size_t c = 0; c < s->n; c++) scales[c] = frange(0.001f, 0.05f);
  p->w_scales = s8 && rng() % 4 != 0 ? scales : NULL;
  /* acc * scale lands mostly within +-200 (clamping some) */
  float spread = kind == W_NARROW ? 0.02f : 0.002f;
  p->out_scale = p->in_scale * p->w_scale /
                 frange(spread / 10, spread) / (float)(s->k < 64 ? 1 : 4);
  for (size_t i = 0; i < s->k * s->n; i++)
    w[i] = weight(kind, s8, p->w_zero_point, i);
  for (size_t c = 0; c < s->n; c++)
    bias[c] = (int32_t)(rng() % 60001u) - 30000;
  p->weights = w;
  p->bias = rng() % 5 != 0 ? bias : NULL;
  test_rng_clamp(&seq, s8, p->out_zero_point, &p->out_min, &p->out_max);
}

TEST(infer_pw_random_layers) {
  ASSERT_EQ(xnn_initialize(NULL), xnn_status_success);
  pthreadpool_t pool = pthreadpool_create(3);
  ASSERT(pool != NULL);
  uint8_t *w = malloc(1280 * 1001);
  int32_t *bias = malloc(1001 * sizeof *bias);
  float *scales = malloc(1001 * sizeof *scales);
  ASSERT(w && bias && scales);
  for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
    fprintf(stderr, "%s path: %s\n", path_names[paths[k]],
            ims__pw_path_supported(paths[k]) ? "tested" : "not on this CPU");
  static const char *const kinds[] = {"full-range", "narrow", "edge"};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    for (int round = 0; round < 2 * W_KINDS; round++) {
      ims__pw_params p;
      bool s8 = round % 2 != 0;
      enum weights kind = (enum weights)(round / 2);
      random_params(&shapes[i], s8, kind, &p, w, bias, scales);
      ims__pw_layer *l = NULL;
      ims_error err = {0};
      ASSERT_OK(ims__pw_layer_create(&p, IMS__PW_PATH_AUTO, &l, &err), &err);
      char what[160];
      snprintf(what, sizeof what, "%zu px, %zu -> %zu %s, %s weights "
               "(%.0f%% 16-bit)", shapes[i].pixels, p.k, p.n,
               s8 ? "int8" : "uint8", kinds[kind],
               100 * ims__pw_layer_rest_share(l));
      ims__pw_layer_destroy(l);
      layer_case(&p, shapes[i].pixels, pool, what);
    }
  free(w);
  free(bias);
  free(scales);
  pthreadpool_destroy(pool);
  xnn_deinitialize();
}

/* Kernels other than 1x1: each output pixel's taps gathered into a row. */
typedef struct gshape { size_t h, w, c, kh, kw, stride; } gshape;

static const gshape gshapes[] = {
    {224, 224, 3, 3, 3, 2}, {17, 13, 3, 3, 3, 1}, {9, 8, 1, 5, 5, 2},
    {6, 7, 4, 1, 1, 2},     {5, 5, 7, 2, 3, 1},   {3, 4, 2, 3, 3, 2},
    {1, 1, 16, 3, 3, 1},    {12, 10, 6, 3, 3, 2}};

TEST(infer_pw_random_gathered) {
  ASSERT_EQ(xnn_initialize(NULL), xnn_status_success);
  pthreadpool_t pool = pthreadpool_create(3);
  ASSERT(pool != NULL);
  static uint8_t w[160 * 64];
  int32_t bias[64];
  float scales[64];
  for (size_t i = 0; i < sizeof gshapes / sizeof gshapes[0]; i++)
    for (int round = 0; round < 4; round++) {
      const gshape *g = &gshapes[i];
      size_t k = g->kh * g->kw * g->c, n = 8 + rng() % 40;
      shape s = {0, k, n};
      ims__pw_params p;
      random_params(&s, round % 2 != 0, round < 2 ? W_FULL : W_NARROW, &p, w,
                    bias, scales);
      p.kh = g->kh, p.kw = g->kw, p.h = g->h, p.w = g->w, p.c = g->c;
      p.stride = g->stride;
      if (round % 3 != 2) { /* SAME, else VALID */
        size_t oh = (g->h + g->stride - 1) / g->stride;
        size_t ow = (g->w + g->stride - 1) / g->stride;
        size_t th = (oh - 1) * g->stride + g->kh, tw = (ow - 1) * g->stride + g->kw;
        th = th > g->h ? th - g->h : 0, tw = tw > g->w ? tw - g->w : 0;
        p.pad_top = th / 2, p.pad_bottom = th - th / 2;
        p.pad_left = tw / 2, p.pad_right = tw - tw / 2;
      }
      if (g->h + p.pad_top + p.pad_bottom < g->kh ||
          g->w + p.pad_left + p.pad_right < g->kw)
        continue; /* VALID with a kernel larger than the image */
      char what[160];
      snprintf(what, sizeof what, "%zux%zux%zu, %zux%zu kernel stride %zu "
               "%s, -> %zu %s", g->h, g->w, g->c, g->kh, g->kw, g->stride,
               round % 3 != 2 ? "SAME" : "VALID", n,
               p.s8 ? "int8" : "uint8");
      layer_case(&p, 2 * out_rows(&p) * out_cols(&p), pool, what);
    }
  pthreadpool_destroy(pool);
  xnn_deinitialize();
}

/* Bad shapes are refused with a message, not run. */
TEST(infer_pw_bad_shapes) {
  ims__pw_params p = {.k = 6, .n = 8, .in_scale = 1, .w_scale = 1,
                      .out_scale = 1, .out_max = 255};
  uint8_t w[48] = {0};
  p.weights = w;
  ims__pw_layer *l = NULL;
  ims_error err = {0};
  ASSERT_EQ(ims__pw_layer_create(&p, IMS__PW_PATH_C, &l, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT(strstr(err.message, "bad shape") != NULL);
  p.k = 8, p.n = 0;
  ASSERT_EQ(ims__pw_layer_create(&p, IMS__PW_PATH_C, &l, &err),
            IMS_ERR_INVALID_ARG);
  /* Gathered: taps that do not multiply out, a kernel past the image. */
  p.n = 8, p.k = 27, p.kh = 3, p.kw = 3, p.c = 2, p.h = p.w = 5;
  p.stride = 1;
  ASSERT_EQ(ims__pw_layer_create(&p, IMS__PW_PATH_C, &l, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT(strstr(err.message, "bad shape") != NULL);
  p.c = 3, p.h = 2;
  ASSERT_EQ(ims__pw_layer_create(&p, IMS__PW_PATH_C, &l, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT(l == NULL);
}

/* A gathered layer whose output tensor disagrees with the size its
 * padding gives (a model the loader passed but pw_ops.c cannot run as
 * given) is refused with the operator named, and the step owns nothing:
 * the quant model's first convolution with one output row too few. */
TEST(infer_pw_output_shape_mismatch) {
  ims_error err = {0};
  ims_model *m = ref_load_model("models/mobilenet_v2_1.0_224_quant.tflite");
  const ims__node *n = &m->nodes[0];
  ASSERT(n->op == IMS__OP_CONV_2D && ims__pw_eligible(m, n));
  m->tensors[n->output].shape[1]--;
  ims__step s = {.node = n};
  ims__step_env env = {.model = m, .keep_tensor = UINT32_MAX};
  ASSERT_EQ(ims__step_pw.create(&env, &s, &err), IMS_ERR_UNSUPPORTED);
  ASSERT(strstr(err.message, "output shape does not match padding"));
  ASSERT(strstr(err.message, "(operator 0)"));
  ASSERT(s.pw == NULL && s.ops == NULL);
  ims_model_destroy(m);
}

/* Every 1x1 convolution of a shared model, with its real weights, on one
 * image's pixels. */
static void model_layers(const char *file, int want_layers) {
  ims_error err = {0};
  ims_model *m = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(file), &m, &err), &err);
  ASSERT_EQ(xnn_initialize(NULL), xnn_status_success);
  pthreadpool_t pool = pthreadpool_create(3);
  ASSERT(pool != NULL);
  int layers = 0;
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (!ims__pw_eligible(m, n)) continue;
    const ims__tensor *o = &m->tensors[n->output];
    ims__pw_params p;
    ims__pw_node_params(m, n, &p);
    char what[160];
    snprintf(what, sizeof what, "%s operator %u", file, n->source_index);
    layer_case(&p, (size_t)o->shape[1] * o->shape[2], pool, what);
    layers++;
  }
  ASSERT_EQ(layers, want_layers);
  pthreadpool_destroy(pool);
  xnn_deinitialize();
  ims_model_destroy(m);
}

TEST(infer_pw_model_layers_quant) {
  model_layers("models/mobilenet_v2_1.0_224_quant.tflite", 36);
}

TEST(infer_pw_model_layers_tf2_ptq) {
  model_layers("models/tf2_mobilenet_v2_1.0_224_ptq.tflite", 36);
}

/* ---- 3. model cases --------------------------------------------------- */

static void model_identical(const char *file) {
  ims_error err = {0};
  ims_model *model = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(file), &model, &err), &err);
  unsigned char *rgb = malloc(REF_MAX_INPUTS * IMG_BYTES);
  ASSERT(rgb != NULL);
  size_t n = ref_load_inputs(rgb);
  ASSERT(n >= 24);
  float *xnn = ref_run_all(model, IMS_ENGINE_FLAG_FORCE_XNNPACK, 1, rgb, n, 1);
  float *ours = ref_run_all(model, 0, 2, rgb, n, n);
  float *nopw = ref_run_all(model, IMS_ENGINE_FLAG_NO_PW_KERNEL, 2, rgb, n, 5);
  float *ours1 = ref_run_all(model, 0, 1, rgb, n, 1);
  /* one image at a time on 2 threads: each layer (or fused band) split */
  float *split = ref_run_all(model, 0, 2, rgb, n, 1);
  float *fused = ref_run_all(model, IMS_ENGINE_FLAG_FUSE, 2, rgb, n, 1);
  float *fused_batch = ref_run_all(model, IMS_ENGINE_FLAG_FUSE, 1, rgb, n, n);
  ASSERT(memcmp(ours, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(nopw, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(ours1, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(split, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(fused, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(fused_batch, xnn, n * OUTS * sizeof *ours) == 0);
  free(split);
  free(fused);
  free(fused_batch);
  free(xnn);
  free(ours);
  free(nopw);
  free(ours1);
  free(rgb);
  ims_model_destroy(model);
}

TEST(infer_pw_model_identical_quant) {
  model_identical("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_pw_model_identical_tf2_ptq) {
  model_identical("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

TEST_MAIN(infer_pw_random_layers, infer_pw_random_gathered,
          infer_pw_bad_shapes, infer_pw_output_shape_mismatch,
          infer_pw_model_layers_quant, infer_pw_model_layers_tf2_ptq,
          infer_pw_model_identical_quant, infer_pw_model_identical_tf2_ptq)
