/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_dw.c - the 3x3 depthwise kernel of src/infer/dw_ops.c gives
 * exactly XNNPACK's bytes.
 *
 *  1. Random layers (both types, zero points, scales, clamps, strides 1
 *     and 2, SAME and VALID padding, odd sizes and channel counts) and
 *     every depthwise layer of both shared models with its real weights:
 *     the XNNPACK operator and our kernel on the same random input, every
 *     kernel path this CPU has (C, AVX2, AVX-512), batch 2, on one thread
 *     and on a pool of 3: output bytes must be identical.
 *  2. Both models end to end on the 24 reference inputs: the default
 *     engine (our kernel) against one forced onto XNNPACK and one with
 *     IMS_ENGINE_FLAG_NO_DW_KERNEL: scores bit-identical.
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
#define BATCH 2

/* ---- 1. fixtures ------------------------------------------------------ */

static test_rng seq = {0x2545F4914F6CDD1Dull};

static uint32_t rng(void) { return test_rng_next(&seq); }

/* Uniform in [lo, hi). */
static float frange(float lo, float hi) {
  return test_rng_range(&seq, lo, hi);
}

static uint8_t *random_bytes(size_t n) {
  uint8_t *b = malloc(n + XNN_EXTRA_BYTES);
  ASSERT(b != NULL);
  for (size_t i = 0; i < n + XNN_EXTRA_BYTES; i++) b[i] = (uint8_t)rng();
  return b;
}

static const ims__dw_path paths[] = {IMS__DW_PATH_C, IMS__DW_PATH_AVX2,
                                     IMS__DW_PATH_AVX512};
static const char *const path_names[] = {"auto", "C", "AVX2", "AVX-512"};

/* Run layer p on every available path, batch BATCH, on 1 thread, on a
 * 3-thread pool and on a 3-thread team;
 * each output must equal `want` (out_bytes of them). Returns the paths
 * run. */
static int check_paths(const ims__dw_params *p, const uint8_t *in,
                       const uint8_t *want, size_t out_bytes,
                       pthreadpool_t pool, const char *what) {
  uint8_t *got = malloc(out_bytes);
  int ran = 0;
  ASSERT(got != NULL);
  for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
    if (!ims__dw_path_supported(paths[k])) continue;
    ims_error err = {0};
    ims__dw_layer *l = NULL;
    ASSERT_OK(ims__dw_layer_create(p, paths[k], &l, &err), &err);
    for (int way = 0; way < PAR_WAYS; way++) {
      ims__par par;
      memset(got, 0xA5, out_bytes);
      ims__dw_layer_run(l, in, got, BATCH, par_way(way, pool, &par));
      for (size_t i = 0; i < out_bytes; i++)
        if (got[i] != want[i])
          TEST__FAIL("%s, %s path, %s: byte %zu (channel %zu) is %d, "
                     "XNNPACK %d", what, path_names[paths[k]],
                     par_way_names[way], i, i % p->c,
                     p->s8 ? (int8_t)got[i] : got[i],
                     p->s8 ? (int8_t)want[i] : want[i]);
    }
    ims__dw_layer_destroy(l);
    ran++;
  }
  free(got);
  return ran;
}

/* XNNPACK's output for layer p on `in` (BATCH images). */
static void xnn_reference(const ims__dw_params *p, const uint8_t *in,
                          uint8_t *out, size_t oh, size_t ow) {
  xnn_operator_t op = NULL;
  enum xnn_status xs;
  if (p->s8) {
    float *scales = malloc(p->c * sizeof *scales);
    ASSERT(scales != NULL);
    for (size_t c = 0; c < p->c; c++)
      scales[c] = p->w_scales ? p->w_scales[c] : p->w_scale;
    xs = xnn_create_convolution2d_nhwc_qc8(
        (uint32_t)p->pad_top, (uint32_t)p->pad_right,
        (uint32_t)p->pad_bottom, (uint32_t)p->pad_left, 3, 3,
        (uint32_t)p->stride, (uint32_t)p->stride, 1, 1, (uint32_t)p->c, 1,
        1, p->c, p->c, (int8_t)p->in_zero_point, p->in_scale, scales,
        p->weights, p->bias, (int8_t)p->out_zero_point, p->out_scale,
        (int8_t)p->out_min, (int8_t)p->out_max,
        XNN_FLAG_DEPTHWISE_CONVOLUTION, &op);
    free(scales);
    ASSERT_EQ(xs, xnn_status_success);
    xs = xnn_setup_convolution2d_nhwc_qc8(op, BATCH, p->h, p->w,
                                          (const int8_t *)in, (int8_t *)out,
                                          NULL);
  } else {
    xs = xnn_create_convolution2d_nhwc_qu8(
        (uint32_t)p->pad_top, (uint32_t)p->pad_right,
        (uint32_t)p->pad_bottom, (uint32_t)p->pad_left, 3, 3,
        (uint32_t)p->stride, (uint32_t)p->stride, 1, 1, (uint32_t)p->c, 1,
        1, p->c, p->c, (uint8_t)p->in_zero_point, p->in_scale,
        (uint8_t)p->w_zero_point, p->w_scale, p->weights, p->bias,
        (uint8_t)p->out_zero_point, p->out_scale, (uint8_t)p->out_min,
        (uint8_t)p->out_max, XNN_FLAG_DEPTHWISE_CONVOLUTION, &op);
    ASSERT_EQ(xs, xnn_status_success);
    xs = xnn_setup_convolution2d_nhwc_qu8(op, BATCH, p->h, p->w, in, out,
                                          NULL);
  }
  ASSERT_EQ(xs, xnn_status_success);
  ASSERT_EQ(xnn_run_operator(op, NULL), xnn_status_success);
  xnn_delete_operator(op);
  (void)oh;
  (void)ow;
}

/* Compare XNNPACK and every path on layer p with a random input. */
static void layer_case(const ims__dw_params *p, pthreadpool_t pool,
                       const char *what) {
  size_t oh = (p->h + p->pad_top + p->pad_bottom - 3) / p->stride + 1;
  size_t ow = (p->w + p->pad_left + p->pad_right - 3) / p->stride + 1;
  size_t out_bytes = BATCH * oh * ow * p->c;
  uint8_t *in = random_bytes(BATCH * p->h * p->w * p->c);
  uint8_t *want = malloc(out_bytes);
  ASSERT(want != NULL);
  xnn_reference(p, in, want, oh, ow);
  ASSERT(check_paths(p, in, want, out_bytes, pool, what) >= 1);
  free(want);
  free(in);
}

/* ---- 2. layer cases --------------------------------------------------- */

typedef struct shape { size_t h, w, c, stride; } shape;

/* MobileNetV2's 17 layers' shapes, then odd ones (channel tails of every
 * block width, 1-pixel and odd-sized images with stride 2). */
static const shape shapes[] = {
    {112, 112, 32, 1}, {112, 112, 96, 2}, {56, 56, 144, 1}, {56, 56, 144, 2},
    {28, 28, 192, 1}, {28, 28, 192, 2}, {14, 14, 384, 1}, {14, 14, 576, 1},
    {14, 14, 576, 2}, {7, 7, 960, 1}, {5, 7, 17, 2}, {9, 6, 40, 1},
    {1, 1, 3, 1}, {1, 2, 1, 2}, {3, 3, 33, 2}, {8, 5, 63, 1}, {6, 11, 48, 2},
    {4, 4, 200, 1}};

/* Random quantization for shape s of type s8; weights/bias/scales into
 * the caller's buffers. */
static void random_params(const shape *s, bool s8, bool same,
                          ims__dw_params *p, uint8_t *w, int32_t *bias,
                          float *scales) {
  memset(p, 0, sizeof *p);
  p->h = s->h, p->w = s->w, p->c = s->c, p->stride = s->stride;
  if (same) {
    size_t oh = (s->h + s->stride - 1) / s->stride;
    size_t ow = (s->w + s->stride - 1) / s->stride;
    size_t th = (oh - 1) * s->stride + 3 - s->h;
    size_t tw = (ow - 1) * s->stride + 3 - s->w;
    p->pad_top = th / 2, p->pad_bottom = th - th / 2;
    p->pad_left = tw / 2, p->pad_right = tw - tw / 2;
  }
  p->s8 = s8;
  p->in_zero_point = test_rng_zero_point(&seq, s8);
  p->w_zero_point = s8 ? 0 : (int32_t)(rng() % 256);
  p->out_zero_point = test_rng_zero_point(&seq, s8);
  p->in_scale = frange(0.005f, 0.05f);
  p->w_scale = frange(0.001f, 0.05f);
  for (size_t c = 0; c < s->c; c++) scales[c] = frange(0.001f, 0.05f);
  p->w_scales = s8 && rng() % 4 != 0 ? scales : NULL;
  /* acc * scale lands mostly within +-200 (clamping some) */
  p->out_scale = p->in_scale * p->w_scale / frange(0.001f, 0.02f);
  for (size_t i = 0; i < 9 * s->c; i++) w[i] = (uint8_t)rng();
  if (s8)
    for (size_t i = 0; i < 9 * s->c; i++)
      if (w[i] == 0x80) w[i] = 0x81; /* symmetric: -127..127 */
  for (size_t c = 0; c < s->c; c++)
    bias[c] = (int32_t)(rng() % 60001u) - 30000;
  p->weights = w;
  p->bias = rng() % 5 != 0 ? bias : NULL;
  test_rng_clamp(&seq, s8, p->out_zero_point, &p->out_min, &p->out_max);
}

TEST(infer_dw_random_layers) {
  ASSERT_EQ(xnn_initialize(NULL), xnn_status_success);
  pthreadpool_t pool = pthreadpool_create(3);
  ASSERT(pool != NULL);
  uint8_t *w = malloc(9 * 960);
  int32_t *bias = malloc(960 * sizeof *bias);
  float *scales = malloc(960 * sizeof *scales);
  ASSERT(w && bias && scales);
  for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
    fprintf(stderr, "%s path: %s\n", path_names[paths[k]],
            ims__dw_path_supported(paths[k]) ? "tested" : "not on this CPU");
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    for (int round = 0; round < 4; round++) {
      ims__dw_params p;
      bool s8 = round % 2 != 0, same = round < 2 || shapes[i].h < 3 ||
                                        shapes[i].w < 3;
      random_params(&shapes[i], s8, same, &p, w, bias, scales);
      char what[128];
      snprintf(what, sizeof what, "%zux%zux%zu stride %zu %s %s", p.h, p.w,
               p.c, p.stride, s8 ? "int8" : "uint8", same ? "SAME" : "VALID");
      layer_case(&p, pool, what);
    }
  free(w);
  free(bias);
  free(scales);
  pthreadpool_destroy(pool);
  xnn_deinitialize();
}

/* Every depthwise node of a shared model, with its real weights. */
static void model_layers(const char *file) {
  ims_error err = {0};
  ims_model *m = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(file), &m, &err), &err);
  ASSERT_EQ(xnn_initialize(NULL), xnn_status_success);
  pthreadpool_t pool = pthreadpool_create(3);
  ASSERT(pool != NULL);
  uint8_t *w = malloc(9 * 960);
  int32_t *bias = malloc(960 * sizeof *bias);
  float *scales = malloc(960 * sizeof *scales);
  ASSERT(w && bias && scales);
  int layers = 0;
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (n->op != IMS__OP_DEPTHWISE_CONV_2D) continue;
    ASSERT(ims__dw_eligible(m, n));
    /* The step's parameters, through the engine's own node mapping. */
    ims__step s = {.node = n};
    ASSERT_OK(ims__dw_step_create(m, &s, IMS__DW_PATH_C, &err), &err);
    ims__dw_layer_destroy(s.dw);
    const ims__tensor *in = &m->tensors[n->inputs[0]];
    const ims__tensor *wt = &m->tensors[n->inputs[1]];
    const ims__tensor *o = &m->tensors[n->output];
    shape sh = {in->shape[1], in->shape[2], in->shape[3], n->stride_h};
    ims__dw_params p;
    random_params(&sh, in->type == IMS_TENSOR_I8, true, &p, w, bias,
                  scales);
    p.in_zero_point = in->zero_point, p.in_scale = in->scale;
    p.w_zero_point = wt->zero_point, p.w_scale = wt->scale;
    p.w_scales = wt->channel_scales;
    p.out_zero_point = o->zero_point, p.out_scale = o->scale;
    p.weights = wt->data;
    p.bias = n->input_count > 2 ? m->tensors[n->inputs[2]].data : NULL;
    ims__q8_range(o, n->activation, &p.out_min, &p.out_max);
    char what[160];
    snprintf(what, sizeof what, "%s operator %u", file, n->source_index);
    layer_case(&p, pool, what);
    layers++;
  }
  ASSERT_EQ(layers, 17);
  free(w);
  free(bias);
  free(scales);
  pthreadpool_destroy(pool);
  xnn_deinitialize();
  ims_model_destroy(m);
}

TEST(infer_dw_model_layers_quant) {
  model_layers("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_dw_model_layers_tf2_ptq) {
  model_layers("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

/* A layer whose output tensor disagrees with the size its padding gives
 * is refused with the operator named, and the step owns nothing: the
 * quant model's first depthwise layer with one output column too many. */
TEST(infer_dw_output_shape_mismatch) {
  ims_error err = {0};
  ims_model *m = ref_load_model("models/mobilenet_v2_1.0_224_quant.tflite");
  const ims__node *n = NULL;
  for (uint32_t i = 0; i < m->node_count && n == NULL; i++)
    if (ims__dw_eligible(m, &m->nodes[i])) n = &m->nodes[i];
  ASSERT(n != NULL);
  m->tensors[n->output].shape[2]++;
  ims__step s = {.node = n};
  ASSERT_EQ(ims__dw_step_create(m, &s, IMS__DW_PATH_AUTO, &err),
            IMS_ERR_UNSUPPORTED);
  ASSERT(strstr(err.message, "output shape does not match padding"));
  ASSERT(strstr(err.message, "DEPTHWISE_CONV_2D (operator"));
  ASSERT(s.dw == NULL && s.ops == NULL);
  ims_model_destroy(m);
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
  float *nodw = ref_run_all(model, IMS_ENGINE_FLAG_NO_DW_KERNEL, 2, rgb, n, 5);
  float *ours1 = ref_run_all(model, 0, 1, rgb, n, 1);
  ASSERT(memcmp(ours, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(nodw, xnn, n * OUTS * sizeof *ours) == 0);
  ASSERT(memcmp(ours1, xnn, n * OUTS * sizeof *ours) == 0);
  free(xnn);
  free(ours);
  free(nodw);
  free(ours1);
  free(rgb);
  ims_model_destroy(model);
}

TEST(infer_dw_model_identical_quant) {
  model_identical("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_dw_model_identical_tf2_ptq) {
  model_identical("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

TEST_MAIN(infer_dw_random_layers, infer_dw_output_shape_mismatch,
          infer_dw_model_layers_quant,
          infer_dw_model_layers_tf2_ptq, infer_dw_model_identical_quant,
          infer_dw_model_identical_tf2_ptq)
