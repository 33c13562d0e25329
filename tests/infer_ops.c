/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_ops.c - every operator/type path of the executor that the two
 * shared MobileNetV2 files do not reach, on small models built at test time
 * with tests/support/tflite_writer.c, against answers computed here by
 * plain loops.
 *
 * The known answers come only from the naive reference kernels in section
 * 2 (double precision, written from the TFLite op definitions: TensorFlow
 * SAME/VALID padding, averages over the valid pixels only, real = scale *
 * (q - zero_point), round to nearest); never from the engine's own output.
 *
 * Every model takes a 1xHxWx3 image (the engine's only input form) and runs
 * as a batch of two different images on two threads, so each case also
 * exercises batched setup. Float inputs use mean = std = 0.5 (x = p/127.5 -
 * 1), uint8 inputs take the pixel bytes, int8 inputs the pixel - 128.
 *
 * Tolerances: float results within 1e-4 relative (of max(1, |want|));
 * quantized results within 1 output LSB of the float reference rounded to
 * nearest.
 *
 * Sections (keep this order):
 *   1. fixtures: images, tensors, building and running a model, comparing
 *   2. reference kernels
 *   3. float32 operators
 *   4. quantized operators
 *   5. operator/type combinations the engine must refuse
 *
 * Threading: single-threaded test (the engine uses two workers).
 */
#include "imgstream/imgstream.h"
#include "test.h"
#include "support/rng.h"
#include "support/tflite_writer.h"

#define BATCH 2
#define MAX_ELEMS 4096 /* per image, any tensor of these tests */

/* ---- 1. fixtures ------------------------------------------------------ */

static test_rng seq = {0x9E3779B97F4A7C15ull};

static uint32_t rng(void) { return test_rng_next(&seq); }

/* Uniform in [-amp, amp]. */
static float frand(float amp) {
  return amp * ((float)(rng() % 20001u) / 10000.0f - 1.0f);
}

static void fill(float *v, size_t n, float amp) {
  for (size_t i = 0; i < n; i++) v[i] = frand(amp);
}

/* BATCH random h x w RGB images, with a 0 and a 255 byte in each. */
static uint8_t *make_images(int h, int w) {
  size_t n = (size_t)h * w * 3;
  uint8_t *rgb = malloc(BATCH * n);
  ASSERT(rgb != NULL);
  for (size_t i = 0; i < BATCH * n; i++) rgb[i] = (uint8_t)rng();
  for (int b = 0; b < BATCH; b++) {
    rgb[b * n] = 0;
    rgb[b * n + n - 1] = 255;
  }
  return rgb;
}

/* The engine's float input for one image: (p/255 - 0.5) / 0.5. */
static void float_pixels(const uint8_t *rgb, size_t n, double *x) {
  for (size_t i = 0; i < n; i++) x[i] = (rgb[i] / 255.0 - 0.5) / 0.5;
}

static int32_t act4(tfw *w, int8_t type, int h, int wd, int c) {
  int32_t shape[4] = {1, h, wd, c};
  return tfw_tensor(w, type, 4, shape, NULL, 0, NULL, NULL);
}

static int32_t act4_q(tfw *w, int8_t type, int h, int wd, int c,
                      float scale, int zp) {
  int32_t shape[4] = {1, h, wd, c};
  return tfw_tensor_q(w, type, 4, shape, NULL, 0, scale, zp);
}

static int32_t const_f32(tfw *w, uint32_t rank, const int32_t *shape,
                         const float *data, size_t n) {
  return tfw_tensor(w, TFW_FLOAT32, rank, shape, data, n * sizeof *data,
                    NULL, NULL);
}

static int32_t const_i32(tfw *w, uint32_t rank, const int32_t *shape,
                         const int32_t *data, size_t n) {
  return tfw_tensor(w, TFW_INT32, rank, shape, data, n * sizeof *data, NULL,
                    NULL);
}

static void op1(tfw *w, int32_t code, int32_t in, int32_t out,
                const tfw_options *opt) {
  tfw_operator(w, code, 1, &in, out, opt);
}

/* Serialize `w` (destroyed here) and load it. */
static ims_model *load_model(tfw *w) {
  size_t size = 0;
  uint8_t *bytes = tfw_finish(w, &size);
  tfw_destroy(w);
  ASSERT(bytes != NULL);
  ims_model *m = NULL;
  ims_error err = {0};
  ims_status st = ims_model_load_memory(bytes, size, &m, &err);
  free(bytes);
  ASSERT_OK(st, &err);
  return m;
}

/* IMS_ENGINE_FLAG_* for the engines made below (backend choice). */
static uint32_t engine_flags;

static ims_status make_engine(const ims_model *m, ims_engine **e,
                              ims_error *err) {
  ims_engine_options opt = {.threads = 2, .max_batch = BATCH,
                            .flags = engine_flags,
                            .mean = {0.5f, 0.5f, 0.5f},
                            .std = {0.5f, 0.5f, 0.5f}};
  return ims_engine_create(m, &opt, e, err);
}

/* Run the model in `w` on BATCH images; returns malloc()ed scores,
 * `out_count` per image (checked against the model's own count). With
 * IMS_ENGINE_FLAG_FORCE_ONEDNN, NULL if oneDNN cannot run here. */
static float *run_model(tfw *w, const uint8_t *rgb, size_t out_count) {
  ims_model *m = load_model(w);
  ims_model_info info;
  ims_model_get_info(m, &info);
  ASSERT_EQ(info.output_count, out_count);
  ims_engine *e = NULL;
  ims_error err = {0};
  ims_status st = make_engine(m, &e, &err);
  if ((st == IMS_ERR_BACKEND || st == IMS_ERR_UNSUPPORTED) &&
      engine_flags == IMS_ENGINE_FLAG_FORCE_ONEDNN) {
    fprintf(stderr, "note: no oneDNN here (%s)\n", err.message);
    ims_model_destroy(m);
    return NULL;
  }
  ASSERT_OK(st, &err);
  float *out = malloc(BATCH * out_count * sizeof *out);
  ASSERT(out != NULL);
  ASSERT_OK(ims_engine_run(e, rgb, BATCH, out, &err), &err);
  ims_engine_destroy(e);
  ims_model_destroy(m);
  return out;
}

/* |got - want| <= tol * max(1, |want|) for every element. */
static void expect_close(const float *got, const double *want, size_t n,
                         double tol) {
  for (size_t i = 0; i < n; i++) {
    double d = fabs(got[i] - want[i]);
    double lim = tol * (fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0);
    if (!(d <= lim))
      TEST__FAIL("element %zu: engine %.7g, reference %.7g (tolerance %g)",
                 i, (double)got[i], want[i], lim);
  }
}

#define FLOAT_TOL 1e-4

/* A fused activation must have had something to do: the reference holds
 * clipped values (0, and 6 for RELU6), so the case cannot pass vacuously. */
static void expect_clipping(const double *want, size_t n, int8_t act) {
  size_t zeros = 0, sixes = 0;
  for (size_t i = 0; i < n; i++) {
    zeros += want[i] == 0.0;
    sixes += want[i] == 6.0;
  }
  if (act == TFW_ACT_RELU || act == TFW_ACT_RELU6) ASSERT(zeros > 0);
  if (act == TFW_ACT_RELU6) ASSERT(sixes > 0);
}

/* ---- 2. reference kernels -------------------------------------------- */

/* Geometry of a convolution or pooling window, TensorFlow padding. */
typedef struct geom {
  int ih, iw, ic;  /* input */
  int kh, kw;      /* window */
  int sh, sw;      /* strides */
  int oh, ow;      /* output size */
  int pt, pl;      /* padding before (top, left) */
} geom;

static void geom_init(geom *g, int8_t pad) {
  if (pad == TFW_VALID) {
    g->oh = (g->ih - g->kh) / g->sh + 1;
    g->ow = (g->iw - g->kw) / g->sw + 1;
    g->pt = g->pl = 0;
    return;
  }
  g->oh = (g->ih + g->sh - 1) / g->sh;
  g->ow = (g->iw + g->sw - 1) / g->sw;
  int th = (g->oh - 1) * g->sh + g->kh - g->ih;
  int tw = (g->ow - 1) * g->sw + g->kw - g->iw;
  g->pt = th > 0 ? th / 2 : 0;
  g->pl = tw > 0 ? tw / 2 : 0;
}

static double activate(double v, int8_t act) {
  if (act == TFW_ACT_RELU || act == TFW_ACT_RELU6) v = v > 0 ? v : 0;
  if (act == TFW_ACT_RELU6) v = v < 6 ? v : 6;
  return v;
}

/* Weight for output channel o at (y, x) reading input channel i; returns
 * false if o does not read i. CONV_2D: OHWI; depthwise: {1,KH,KW,C*M},
 * output channel o reads input channel o / M. */
static bool weight(const geom *g, const float *w, int oc, int mult, int o,
                   int y, int x, int i, double *out) {
  if (mult == 0) {
    *out = w[(((size_t)o * g->kh + y) * g->kw + x) * g->ic + i];
    return true;
  }
  if (o / mult != i) return false;
  *out = w[((size_t)y * g->kw + x) * oc + o];
  return true;
}

/* Convolution (mult == 0) or depthwise convolution (multiplier mult) of
 * one image. */
static void ref_conv(const geom *g, const double *in, const float *w,
                     const float *bias, int oc, int mult, int8_t act,
                     double *out) {
  for (int oy = 0; oy < g->oh; oy++)
    for (int ox = 0; ox < g->ow; ox++)
      for (int o = 0; o < oc; o++) {
        double acc = bias != NULL ? bias[o] : 0.0;
        for (int y = 0; y < g->kh; y++)
          for (int x = 0; x < g->kw; x++)
            for (int i = 0; i < g->ic; i++) {
              int iy = oy * g->sh - g->pt + y, ix = ox * g->sw - g->pl + x;
              double wv;
              if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) continue;
              if (!weight(g, w, oc, mult, o, y, x, i, &wv)) continue;
              acc += wv * in[((size_t)iy * g->iw + ix) * g->ic + i];
            }
        out[((size_t)oy * g->ow + ox) * oc + o] = activate(acc, act);
      }
}

/* Average pooling of one image over the window's valid pixels. */
static void ref_avg_pool(const geom *g, const double *in, double *out) {
  for (int oy = 0; oy < g->oh; oy++)
    for (int ox = 0; ox < g->ow; ox++)
      for (int c = 0; c < g->ic; c++) {
        double sum = 0;
        int count = 0;
        for (int y = 0; y < g->kh; y++)
          for (int x = 0; x < g->kw; x++) {
            int iy = oy * g->sh - g->pt + y, ix = ox * g->sw - g->pl + x;
            if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) continue;
            sum += in[((size_t)iy * g->iw + ix) * g->ic + c];
            count++;
          }
        out[((size_t)oy * g->ow + ox) * g->ic + c] = sum / count;
      }
}

/* rows x out_c = (rows x in_c) . (out_c x in_c)^T + bias. */
static void ref_fc(const double *in, size_t rows, int in_c, const double *w,
                   const double *bias, int out_c, int8_t act, double *out) {
  for (size_t r = 0; r < rows; r++)
    for (int o = 0; o < out_c; o++) {
      double acc = bias != NULL ? bias[o] : 0.0;
      for (int i = 0; i < in_c; i++)
        acc += in[r * in_c + i] * w[(size_t)o * in_c + i];
      out[r * out_c + o] = activate(acc, act);
    }
}

static void ref_softmax(const double *in, size_t rows, int c, double beta,
                        double *out) {
  for (size_t r = 0; r < rows; r++) {
    double max = in[r * c], sum = 0;
    for (int i = 1; i < c; i++) max = in[r * c + i] > max ? in[r * c + i] : max;
    for (int i = 0; i < c; i++) {
      out[r * c + i] = exp(beta * (in[r * c + i] - max));
      sum += out[r * c + i];
    }
    for (int i = 0; i < c; i++) out[r * c + i] /= sum;
  }
}

/* Constant padding of one h x w x c image. */
static void ref_pad(const double *in, int h, int w, int c, int top, int bottom,
                    int left, int right, double value, double *out) {
  int ow = w + left + right;
  for (int y = 0; y < h + top + bottom; y++)
    for (int x = 0; x < ow; x++)
      for (int k = 0; k < c; k++) {
        int iy = y - top, ix = x - left;
        bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
        out[((size_t)y * ow + x) * c + k] =
            inside ? in[((size_t)iy * w + ix) * c + k] : value;
      }
}

/* Real value a quantized tensor stores for `real`: round to nearest,
 * clamp to the type's range, dequantize again. */
static double requant(double real, double scale, int zp, int lo, int hi) {
  double q = round(real / scale) + zp;
  q = q < lo ? lo : (q > hi ? hi : q);
  return scale * (q - zp);
}

/* Compare quantized outputs: within `lsb` (one step) of the reference. */
static void expect_within_lsb(const float *got, const double *want,
                              size_t n, double lsb) {
  for (size_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= lsb * 1.001))
      TEST__FAIL("element %zu: engine %.7g, reference %.7g (1 LSB = %g)",
                 i, (double)got[i], want[i], lsb);
}

/* ---- 3. float32 operators --------------------------------------------- */

/* Input image batch and its float values, for an h x w model. */
typedef struct input {
  int h, w;            /* image size */
  uint8_t *rgb;        /* BATCH images, malloc()ed */
  double *x;           /* BATCH float images, malloc()ed */
} input;

static input make_input(int h, int w) {
  input in = {h, w, make_images(h, w), NULL};
  size_t n = (size_t)BATCH * h * w * 3;
  in.x = malloc(n * sizeof *in.x);
  ASSERT(in.x != NULL);
  float_pixels(in.rgb, n, in.x);
  return in;
}

static void free_input(input *in) {
  free(in->rgb);
  free(in->x);
}

static const double *image_x(const input *in, int b) {
  return in->x + (size_t)b * in->h * in->w * 3;
}

/* One convolution case: CONV_2D (mult 0) or DEPTHWISE (mult >= 1). */
typedef struct conv_case {
  int h, w;             /* input size (3 channels) */
  int k_h, k_w;         /* kernel */
  int out_c;            /* CONV_2D output channels (depthwise: 3*mult) */
  int mult;             /* 0 = CONV_2D, else depthwise multiplier */
  int stride;           /* both directions */
  int8_t pad;           /* TFW_SAME / TFW_VALID */
  int8_t act;           /* fused activation */
  float amp;            /* weight amplitude */
} conv_case;

static int32_t conv_weights(tfw *w, const conv_case *c, float *wt,
                            size_t *n_out) {
  int oc = c->mult ? 3 * c->mult : c->out_c;
  int32_t shape[4] = {c->mult ? 1 : oc, c->k_h, c->k_w, c->mult ? oc : 3};
  size_t n = (size_t)oc * c->k_h * c->k_w * (c->mult ? 1 : 3);
  ASSERT(n <= MAX_ELEMS);
  fill(wt, n, c->amp);
  *n_out = n;
  return const_f32(w, 4, shape, wt, n);
}

static void check_conv_f32(const conv_case *c) {
  static float wt[MAX_ELEMS], bias[64];
  static double want[BATCH * MAX_ELEMS];
  int oc = c->mult ? 3 * c->mult : c->out_c;
  geom g = {c->h, c->w, 3, c->k_h, c->k_w, c->stride, c->stride, 0, 0, 0, 0};
  geom_init(&g, c->pad);
  size_t per = (size_t)g.oh * g.ow * oc, nw = 0;
  ASSERT(per <= MAX_ELEMS && oc <= 64);
  input in = make_input(c->h, c->w);
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, c->h, c->w, 3);
  int32_t k = conv_weights(w, c, wt, &nw);
  fill(bias, (size_t)oc, 0.5f);
  int32_t b = const_f32(w, 1, &oc, bias, (size_t)oc);
  int32_t y = act4(w, TFW_FLOAT32, g.oh, g.ow, oc);
  tfw_options o =
      c->mult ? tfw_opt_depthwise(c->pad, c->stride, c->stride, c->mult,
                                  c->act)
              : tfw_opt_conv(c->pad, c->stride, c->stride, c->act);
  int32_t ins[3] = {x, k, b};
  tfw_operator(w, c->mult ? TFW_OP_DEPTHWISE_CONV_2D : TFW_OP_CONV_2D, 3,
               ins, y, &o);
  tfw_set_io(w, x, y);
  float *got = run_model(w, in.rgb, per);
  for (int i = 0; i < BATCH; i++)
    ref_conv(&g, image_x(&in, i), wt, bias, oc, c->mult, c->act,
             want + i * per);
  expect_close(got, want, BATCH * per, FLOAT_TOL);
  expect_clipping(want, BATCH * per, c->act);
  free(got);
  free_input(&in);
}

TEST(ops_conv_f32) {
  /* 7x6: SAME with stride 2 pads 1/1 rows and 0/1 columns. */
  static const conv_case cases[] = {
      {7, 6, 3, 3, 4, 0, 1, TFW_SAME, TFW_ACT_NONE, 1.0f},
      {7, 6, 3, 3, 5, 0, 2, TFW_SAME, TFW_ACT_RELU6, 2.0f},
      {7, 6, 3, 3, 4, 0, 1, TFW_VALID, TFW_ACT_RELU, 1.0f},
      {7, 6, 3, 2, 6, 0, 2, TFW_VALID, TFW_ACT_NONE, 1.0f},
      {5, 5, 1, 1, 8, 0, 1, TFW_VALID, TFW_ACT_RELU6, 6.0f},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_conv_f32(&cases[i]);
}

TEST(ops_depthwise_f32) {
  static const conv_case cases[] = {
      {6, 7, 3, 3, 0, 1, 1, TFW_SAME, TFW_ACT_RELU, 1.0f},
      {6, 7, 3, 3, 0, 2, 1, TFW_SAME, TFW_ACT_RELU6, 3.0f},
      {6, 8, 3, 3, 0, 1, 2, TFW_SAME, TFW_ACT_NONE, 1.0f},
      {7, 6, 3, 3, 0, 2, 2, TFW_VALID, TFW_ACT_NONE, 1.0f},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_conv_f32(&cases[i]);
}

/* ADD: input + constant of the same shape, input + a broadcast {3}
 * constant, and input + CONV(input) with a fused RELU. */
static float *run_add(const input *in, int case_id, float *c, float *kw) {
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, in->h, in->w, 3);
  int32_t full[4] = {1, in->h, in->w, 3}, three = 3, kshape[4] = {3, 1, 1, 3};
  size_t n = (size_t)in->h * in->w * 3;
  int32_t other;
  if (case_id == 0) {
    other = const_f32(w, 4, full, c, n);
  } else if (case_id == 1) {
    other = const_f32(w, 1, &three, c, 3);
  } else {
    int32_t k = const_f32(w, 4, kshape, kw, 9);
    other = act4(w, TFW_FLOAT32, in->h, in->w, 3);
    int32_t ins[2] = {x, k};
    tfw_options o = tfw_opt_conv(TFW_VALID, 1, 1, TFW_ACT_NONE);
    tfw_operator(w, TFW_OP_CONV_2D, 2, ins, other, &o);
  }
  int32_t y = act4(w, TFW_FLOAT32, in->h, in->w, 3);
  int32_t ins[2] = {x, other};
  tfw_options o = tfw_opt_add(case_id == 2 ? TFW_ACT_RELU : TFW_ACT_NONE);
  tfw_operator(w, TFW_OP_ADD, 2, ins, y, &o);
  tfw_set_io(w, x, y);
  return run_model(w, in->rgb, n);
}

TEST(ops_add_f32) {
  static float c[4 * 5 * 3], kw[9];
  static double want[BATCH * 4 * 5 * 3];
  input in = make_input(4, 5);
  size_t n = 4 * 5 * 3;
  fill(c, n, 1.0f);
  fill(kw, 9, 1.0f);
  for (int id = 0; id < 3; id++) {
    float *got = run_add(&in, id, c, kw);
    for (size_t i = 0; i < BATCH * n; i++) {
      size_t p = i / 3, ch = i % 3;
      double v = in.x[i];
      if (id == 0) v += c[i % n];
      if (id == 1) v += c[ch];
      if (id == 2) {
        for (int k = 0; k < 3; k++) v += kw[ch * 3 + k] * in.x[p * 3 + k];
        v = activate(v, TFW_ACT_RELU);
      }
      want[i] = v;
    }
    expect_close(got, want, BATCH * n, FLOAT_TOL);
    free(got);
  }
  free_input(&in);
}

/* AVERAGE_POOL_2D with window fh x fw, stride s, padding pad. */
static void check_avg_pool_f32(int h, int wd, int fh, int fw, int s,
                               int8_t pad) {
  static double want[BATCH * MAX_ELEMS];
  geom g = {h, wd, 3, fh, fw, s, s, 0, 0, 0, 0};
  geom_init(&g, pad);
  size_t per = (size_t)g.oh * g.ow * 3;
  input in = make_input(h, wd);
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, h, wd, 3);
  int32_t y = act4(w, TFW_FLOAT32, g.oh, g.ow, 3);
  tfw_options o = tfw_opt_pool(pad, s, s, fw, fh, TFW_ACT_NONE);
  op1(w, TFW_OP_AVERAGE_POOL_2D, x, y, &o);
  tfw_set_io(w, x, y);
  float *got = run_model(w, in.rgb, per);
  for (int b = 0; b < BATCH; b++)
    ref_avg_pool(&g, image_x(&in, b), want + b * per);
  expect_close(got, want, BATCH * per, FLOAT_TOL);
  free(got);
  free_input(&in);
}

TEST(ops_avg_pool_f32) {
  check_avg_pool_f32(5, 4, 5, 4, 1, TFW_VALID); /* global */
  check_avg_pool_f32(6, 4, 2, 2, 2, TFW_VALID);
  check_avg_pool_f32(5, 5, 3, 3, 2, TFW_SAME);  /* edges average fewer */
}

/* MEAN over {1,2}, keep_dims on and off; then SQUEEZE + SOFTMAX. */
static void check_mean_f32(int keep, int squeeze) {
  static double want[BATCH * 3];
  input in = make_input(4, 3);
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, 4, 3, 3);
  int32_t two = 2, axes_v[2] = {1, 2}, flat[2] = {1, 3};
  int32_t axes = const_i32(w, 1, &two, axes_v, 2);
  int32_t y = keep ? act4(w, TFW_FLOAT32, 1, 1, 3)
                   : tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
  int32_t ins[2] = {x, axes};
  tfw_options o = tfw_opt_reducer(keep);
  tfw_operator(w, TFW_OP_MEAN, 2, ins, y, &o);
  int32_t out = y;
  if (squeeze) {
    int32_t sq = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
    o = tfw_opt_squeeze(2, axes_v);
    op1(w, TFW_OP_SQUEEZE, y, sq, &o);
    out = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
    o = tfw_opt_softmax(1.0f);
    op1(w, TFW_OP_SOFTMAX, sq, out, &o);
  }
  tfw_set_io(w, x, out);
  float *got = run_model(w, in.rgb, 3);
  geom g = {4, 3, 3, 4, 3, 1, 1, 0, 0, 0, 0};
  geom_init(&g, TFW_VALID);
  for (int b = 0; b < BATCH; b++) {
    ref_avg_pool(&g, image_x(&in, b), want + 3 * b);
    if (squeeze) ref_softmax(want + 3 * b, 1, 3, 1.0, want + 3 * b);
  }
  expect_close(got, want, BATCH * 3, FLOAT_TOL);
  free(got);
  free_input(&in);
}

TEST(ops_mean_squeeze_f32) {
  check_mean_f32(1, 0);
  check_mean_f32(0, 0);
  check_mean_f32(1, 1);
}

/* FULLY_CONNECTED {5,12} on a whole 2x2x3 image (output {1,5}), and
 * {4,3} on each pixel (keep_num_dims: output {1,2,2,4}). */
static void check_fc_f32(int per_pixel, int8_t act) {
  static float wt[64], bias[8];
  static double wd[64], bd[8], want[BATCH * 16];
  int in_c = per_pixel ? 3 : 12, out_c = per_pixel ? 4 : 5;
  size_t rows = per_pixel ? 4 : 1, per = rows * out_c;
  input in = make_input(2, 2);
  fill(wt, (size_t)in_c * out_c, 1.0f);
  fill(bias, (size_t)out_c, 0.5f);
  for (int i = 0; i < in_c * out_c; i++) wd[i] = wt[i];
  for (int i = 0; i < out_c; i++) bd[i] = bias[i];
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, 2, 2, 3);
  int32_t ws[2] = {out_c, in_c}, os[2] = {1, out_c};
  int32_t k = const_f32(w, 2, ws, wt, (size_t)in_c * out_c);
  int32_t b = const_f32(w, 1, &out_c, bias, (size_t)out_c);
  int32_t rows_shape[2] = {4, out_c};
  int32_t y = per_pixel == 1 ? act4(w, TFW_FLOAT32, 2, 2, out_c)
              : tfw_tensor(w, TFW_FLOAT32, 2, per_pixel ? rows_shape : os,
                           NULL, 0, NULL, NULL);
  int32_t ins[3] = {x, k, b};
  tfw_options o = tfw_opt_fc(act, per_pixel == 1);
  tfw_operator(w, TFW_OP_FULLY_CONNECTED, 3, ins, y, &o);
  tfw_set_io(w, x, y);
  float *got = run_model(w, in.rgb, per);
  for (int i = 0; i < BATCH; i++)
    ref_fc(image_x(&in, i), rows, in_c, wd, bd, out_c, act, want + i * per);
  expect_close(got, want, BATCH * per, FLOAT_TOL);
  free(got);
  free_input(&in);
}

TEST(ops_fully_connected_f32) {
  check_fc_f32(0, TFW_ACT_NONE);
  check_fc_f32(0, TFW_ACT_RELU);
  check_fc_f32(1, TFW_ACT_RELU6);
  check_fc_f32(2, TFW_ACT_NONE); /* rows out: {4,4}, as TFLite writes it */
}

/* RESHAPE {1,2,3,3} -> {1,18} (with its shape tensor), then SOFTMAX over
 * the 18; and SOFTMAX straight on the 4-D input (over channels). */
TEST(ops_reshape_softmax_f32) {
  static double want[BATCH * 18];
  input in = make_input(2, 3);
  for (int reshape = 0; reshape < 2; reshape++) {
    tfw *w = tfw_create();
    int32_t x = act4(w, TFW_FLOAT32, 2, 3, 3);
    int32_t two = 2, flat[2] = {1, 18};
    int32_t sm_in = x, out;
    if (reshape) {
      int32_t shape_t = const_i32(w, 1, &two, flat, 2);
      sm_in = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
      int32_t ins[2] = {x, shape_t};
      tfw_options o = tfw_opt_reshape(2, flat);
      tfw_operator(w, TFW_OP_RESHAPE, 2, ins, sm_in, &o);
      out = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
    } else {
      out = act4(w, TFW_FLOAT32, 2, 3, 3);
    }
    tfw_options o = tfw_opt_softmax(1.0f);
    op1(w, TFW_OP_SOFTMAX, sm_in, out, &o);
    tfw_set_io(w, x, out);
    float *got = run_model(w, in.rgb, 18);
    for (int b = 0; b < BATCH; b++)
      ref_softmax(image_x(&in, b), reshape ? 1 : 6, reshape ? 18 : 3, 1.0,
                  want + b * 18);
    expect_close(got, want, BATCH * 18, FLOAT_TOL);
    free(got);
  }
  free_input(&in);
}

/* PAD {0,0},{1,2},{2,0},{0,0} with zeros, then a VALID 3x3 conv over it
 * (the pattern converters emit for explicit padding). */
TEST(ops_pad_f32) {
  static float wt[4 * 27];
  static double padded[BATCH * 6 * 6 * 3], want[BATCH * 4 * 4 * 4];
  input in = make_input(3, 4);
  fill(wt, 4 * 27, 1.0f);
  for (int with_conv = 0; with_conv < 2; with_conv++) {
    tfw *w = tfw_create();
    int32_t x = act4(w, TFW_FLOAT32, 3, 4, 3);
    int32_t ps[2] = {4, 2}, pv[8] = {0, 0, 1, 2, 2, 0, 0, 0};
    int32_t ks[4] = {4, 3, 3, 3};
    int32_t pads = const_i32(w, 2, ps, pv, 8);
    int32_t p = act4(w, TFW_FLOAT32, 6, 6, 3);
    int32_t ins[2] = {x, pads};
    tfw_options o = tfw_opt_pad();
    tfw_operator(w, TFW_OP_PAD, 2, ins, p, &o);
    int32_t out = p;
    if (with_conv) {
      int32_t k = const_f32(w, 4, ks, wt, 4 * 27);
      out = act4(w, TFW_FLOAT32, 4, 4, 4);
      int32_t cin[3] = {p, k, -1};
      o = tfw_opt_conv(TFW_VALID, 1, 1, TFW_ACT_NONE);
      tfw_operator(w, TFW_OP_CONV_2D, 3, cin, out, &o);
    }
    tfw_set_io(w, x, out);
    size_t per = with_conv ? 4 * 4 * 4 : 6 * 6 * 3;
    float *got = run_model(w, in.rgb, per);
    geom g = {6, 6, 3, 3, 3, 1, 1, 0, 0, 0, 0};
    geom_init(&g, TFW_VALID);
    for (int b = 0; b < BATCH; b++) {
      ref_pad(image_x(&in, b), 3, 4, 3, 1, 2, 2, 0, 0.0, padded + b * 108);
      if (with_conv)
        ref_conv(&g, padded + b * 108, wt, NULL, 4, 0, TFW_ACT_NONE,
                 want + b * per);
    }
    expect_close(got, with_conv ? want : padded, BATCH * per, FLOAT_TOL);
    free(got);
  }
  free_input(&in);
}

/* ---- 4. quantized operators ------------------------------------------- */

/* Real value of the engine's quantized input for pixel p. */
static double u8_input(uint8_t p, double scale, int zp) {
  return scale * ((int)p - zp);
}

static double i8_input(uint8_t p, double scale, int zp) {
  return scale * (((int)p - 128) - zp);
}

/* PAD uint8 pads with the input's zero point, i.e. real 0. */
TEST(ops_pad_u8) {
  static double x[BATCH * 3 * 4 * 3], want[BATCH * 6 * 6 * 3];
  const double scale = 0.02;
  const int zp = 100;
  input in = make_input(3, 4);
  tfw *w = tfw_create();
  int32_t xi = act4_q(w, TFW_UINT8, 3, 4, 3, (float)scale, zp);
  int32_t ps[2] = {4, 2}, pv[8] = {0, 0, 1, 2, 2, 0, 0, 0};
  int32_t pads = const_i32(w, 2, ps, pv, 8);
  int32_t y = act4_q(w, TFW_UINT8, 6, 6, 3, (float)scale, zp);
  int32_t ins[2] = {xi, pads};
  tfw_options o = tfw_opt_pad();
  tfw_operator(w, TFW_OP_PAD, 2, ins, y, &o);
  tfw_set_io(w, xi, y);
  float *got = run_model(w, in.rgb, 108);
  for (size_t i = 0; i < BATCH * 36; i++) x[i] = u8_input(in.rgb[i], scale, zp);
  for (int b = 0; b < BATCH; b++)
    ref_pad(x + b * 36, 3, 4, 3, 1, 2, 2, 0, 0.0, want + b * 108);
  for (size_t i = 0; i < BATCH * 108; i++)
    want[i] = requant(want[i], scale, zp, 0, 255);
  expect_within_lsb(got, want, BATCH * 108, 1e-6); /* exact */
  free(got);
  free_input(&in);
}

/* A quantized FULLY_CONNECTED {5,12} over a 2x2x3 image. */
typedef struct fc_q {
  int8_t type;          /* TFW_UINT8 or TFW_INT8 (per-channel weights) */
  int8_t act;           /* fused activation */
  float in_scale;       /* input quantization */
  int in_zp;
  float w_scale[5];     /* per output channel (uint8: [0] only) */
  int w_zp;             /* uint8 weights only */
  float out_scale;      /* output quantization */
  int out_zp;
} fc_q;

static int32_t fc_q_weights(tfw *w, const fc_q *c, const int8_t *wq) {
  int32_t ws[2] = {5, 12};
  if (c->type == TFW_UINT8)
    return tfw_tensor_q(w, TFW_UINT8, 2, ws, wq, 60, c->w_scale[0], c->w_zp);
  int64_t zps[5] = {0, 0, 0, 0, 0};
  tfw_quant q = {5, c->w_scale, zps, 0};
  return tfw_tensor(w, TFW_INT8, 2, ws, wq, 60, &q, NULL);
}

static double fc_w_real(const fc_q *c, const int8_t *wq, int o, int i) {
  if (c->type == TFW_UINT8)
    return c->w_scale[0] * ((int)(uint8_t)wq[o * 12 + i] - c->w_zp);
  return c->w_scale[o] * wq[o * 12 + i];
}

static void check_fc_q(const fc_q *c) {
  static int8_t wq[60];
  static int32_t bq[5];
  static double x[12], wr[60], br[5], want[BATCH * 5];
  bool u8 = c->type == TFW_UINT8;
  input in = make_input(2, 2);
  for (int i = 0; i < 60; i++) wq[i] = (int8_t)rng();
  for (int o = 0; o < 5; o++) bq[o] = (int32_t)(rng() % 2001) - 1000;
  tfw *w = tfw_create();
  int32_t xi = act4_q(w, c->type, 2, 2, 3, c->in_scale, c->in_zp);
  int32_t k = fc_q_weights(w, c, wq);
  int32_t five = 5, os[2] = {1, 5};
  float bs[5];
  int64_t bz[5] = {0, 0, 0, 0, 0};
  for (int o = 0; o < 5; o++) bs[o] = c->in_scale * c->w_scale[u8 ? 0 : o];
  tfw_quant bqnt = {u8 ? 1 : 5, bs, bz, 0};
  int32_t b = tfw_tensor(w, TFW_INT32, 1, &five, bq, sizeof bq, &bqnt, NULL);
  int32_t y = tfw_tensor_q(w, c->type, 2, os, NULL, 0, c->out_scale,
                           c->out_zp);
  int32_t ins[3] = {xi, k, b};
  tfw_options o = tfw_opt_fc(c->act, 0);
  tfw_operator(w, TFW_OP_FULLY_CONNECTED, 3, ins, y, &o);
  tfw_set_io(w, xi, y);
  float *got = run_model(w, in.rgb, 5);
  if (got == NULL) {
    free_input(&in);
    return;
  }
  for (int oc = 0; oc < 5; oc++) {
    br[oc] = bq[oc] * (double)bs[oc];
    for (int i = 0; i < 12; i++) wr[oc * 12 + i] = fc_w_real(c, wq, oc, i);
  }
  for (int bi = 0; bi < BATCH; bi++) {
    const uint8_t *p = in.rgb + bi * 12;
    for (int i = 0; i < 12; i++)
      x[i] = u8 ? u8_input(p[i], c->in_scale, c->in_zp)
                : i8_input(p[i], c->in_scale, c->in_zp);
    ref_fc(x, 1, 12, wr, br, 5, c->act, want + bi * 5);
    for (int oc = 0; oc < 5; oc++)
      want[bi * 5 + oc] = requant(want[bi * 5 + oc], c->out_scale, c->out_zp,
                                  u8 ? 0 : -128, u8 ? 255 : 127);
  }
  expect_within_lsb(got, want, BATCH * 5, c->out_scale);
  free(got);
  free_input(&in);
}

/* Quantized FC layers may run on XNNPACK or oneDNN: check each backend
 * (the default picks per layer; the FORCE flags pin one). */
static const uint32_t backends[] = {0, IMS_ENGINE_FLAG_FORCE_XNNPACK,
                                    IMS_ENGINE_FLAG_FORCE_ONEDNN};

static void check_fc_q_backends(const fc_q *c) {
  for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
    engine_flags = backends[b];
    check_fc_q(c);
  }
  engine_flags = 0;
}

TEST(ops_fully_connected_u8) {
  fc_q c = {TFW_UINT8, TFW_ACT_NONE, 1.0f / 128, 128,
            {0.01f}, 120, 0.05f, 128};
  check_fc_q_backends(&c);
  c.act = TFW_ACT_RELU6; /* clamp at zero point and 6/scale */
  c.out_scale = 0.04f;
  c.out_zp = 60;
  check_fc_q_backends(&c);
}

TEST(ops_fully_connected_i8) {
  fc_q c = {TFW_INT8, TFW_ACT_NONE, 1.0f / 128, 0,
            {0.004f, 0.006f, 0.008f, 0.003f, 0.01f}, 0, 0.03f, -3};
  check_fc_q_backends(&c);
  c.act = TFW_ACT_RELU;
  c.in_zp = -5;
  check_fc_q_backends(&c);
}

/* QUANTIZE float -> uint8 (values beyond the range clamp to 255), and
 * DEQUANTIZE uint8 -> float. */
TEST(ops_quantize_dequantize) {
  static double want[BATCH * 4 * 4 * 3];
  const size_t n = 4 * 4 * 3;
  input in = make_input(4, 4);
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, 4, 4, 3);
  int32_t y = act4_q(w, TFW_UINT8, 4, 4, 3, 0.006f, 100);
  op1(w, TFW_OP_QUANTIZE, x, y, NULL);
  tfw_set_io(w, x, y);
  float *got = run_model(w, in.rgb, n);
  for (size_t i = 0; i < BATCH * n; i++)
    want[i] = requant(in.x[i], 0.006f, 100, 0, 255);
  expect_within_lsb(got, want, BATCH * n, 0.006f);
  free(got);

  w = tfw_create();
  x = act4_q(w, TFW_UINT8, 4, 4, 3, 0.05f, 7);
  y = act4(w, TFW_FLOAT32, 4, 4, 3);
  op1(w, TFW_OP_DEQUANTIZE, x, y, NULL);
  tfw_set_io(w, x, y);
  got = run_model(w, in.rgb, n);
  for (size_t i = 0; i < BATCH * n; i++)
    want[i] = u8_input(in.rgb[i], 0.05f, 7);
  expect_close(got, want, BATCH * n, FLOAT_TOL);
  free(got);
  free_input(&in);
}

/* Non-global uint8 AVERAGE_POOL_2D, requantized to another scale and
 * zero point. */
static void check_avg_pool_u8(int h, int wd, int f, int s, int8_t pad) {
  static double x[BATCH * MAX_ELEMS], want[BATCH * MAX_ELEMS];
  geom g = {h, wd, 3, f, f, s, s, 0, 0, 0, 0};
  geom_init(&g, pad);
  size_t n_in = (size_t)h * wd * 3, per = (size_t)g.oh * g.ow * 3;
  input in = make_input(h, wd);
  tfw *w = tfw_create();
  int32_t xi = act4_q(w, TFW_UINT8, h, wd, 3, 0.02f, 100);
  int32_t y = act4_q(w, TFW_UINT8, g.oh, g.ow, 3, 0.03f, 90);
  tfw_options o = tfw_opt_pool(pad, s, s, f, f, TFW_ACT_NONE);
  op1(w, TFW_OP_AVERAGE_POOL_2D, xi, y, &o);
  tfw_set_io(w, xi, y);
  float *got = run_model(w, in.rgb, per);
  for (size_t i = 0; i < BATCH * n_in; i++)
    x[i] = u8_input(in.rgb[i], 0.02f, 100);
  for (int b = 0; b < BATCH; b++)
    ref_avg_pool(&g, x + b * n_in, want + b * per);
  for (size_t i = 0; i < BATCH * per; i++)
    want[i] = requant(want[i], 0.03f, 90, 0, 255);
  expect_within_lsb(got, want, BATCH * per, 0.03f);
  free(got);
  free_input(&in);
}

TEST(ops_avg_pool_u8) {
  check_avg_pool_u8(6, 4, 2, 2, TFW_VALID);
  check_avg_pool_u8(6, 4, 2, 2, TFW_SAME); /* SAME, but no padding */
}

/* int8 SOFTMAX over channels (6 rows of 3 per image), beta 1 and 0.7,
 * output scale 1/256, zero point -128 (TFLite's int8 softmax convention). */
static void check_softmax_i8(float beta) {
  static double x[BATCH * 18], want[BATCH * 18];
  input in = make_input(2, 3);
  tfw *w = tfw_create();
  int32_t xi = act4_q(w, TFW_INT8, 2, 3, 3, 0.05f, 10);
  int32_t y = act4_q(w, TFW_INT8, 2, 3, 3, 1.0f / 256, -128);
  tfw_options o = tfw_opt_softmax(beta);
  op1(w, TFW_OP_SOFTMAX, xi, y, &o);
  tfw_set_io(w, xi, y);
  float *got = run_model(w, in.rgb, 18);
  for (size_t i = 0; i < BATCH * 18; i++) x[i] = i8_input(in.rgb[i], 0.05f, 10);
  ref_softmax(x, BATCH * 6, 3, beta, want);
  for (size_t i = 0; i < BATCH * 18; i++)
    want[i] = requant(want[i], 1.0 / 256, -128, -128, 127);
  expect_within_lsb(got, want, BATCH * 18, 1.0 / 256);
  free(got);
  free_input(&in);
}

TEST(ops_softmax_i8) {
  check_softmax_i8(1.0f);
  check_softmax_i8(0.7f);
}

/* ---- 5. refused combinations ----------------------------------------- */

/* Load the model in `w`; engine creation must fail with `want` and a
 * message containing `needle`. */
static void expect_refused(tfw *w, ims_status want, const char *needle) {
  ims_model *m = load_model(w);
  ims_engine *e = NULL;
  ims_error err = {0};
  ASSERT_EQ(make_engine(m, &e, &err), want);
  ASSERT(e == NULL);
  ASSERT_CONTAINS(err.message, needle);
  ims_model_destroy(m);
}

/* uint8 input, int8 weights: operator 1 (after a PAD). */
TEST(ops_refuse_u8_conv_i8_weights) {
  static int8_t wq[4 * 3];
  tfw *w = tfw_create();
  int32_t x = act4_q(w, TFW_UINT8, 4, 4, 3, 0.02f, 100);
  int32_t ps[2] = {4, 2}, pv[8] = {0, 0, 1, 1, 1, 1, 0, 0};
  int32_t pads = const_i32(w, 2, ps, pv, 8);
  int32_t p = act4_q(w, TFW_UINT8, 6, 6, 3, 0.02f, 100);
  int32_t ins[2] = {x, pads};
  tfw_options o = tfw_opt_pad();
  tfw_operator(w, TFW_OP_PAD, 2, ins, p, &o);
  int32_t ks[4] = {4, 1, 1, 3};
  int32_t k = tfw_tensor_q(w, TFW_INT8, 4, ks, wq, sizeof wq, 0.01f, 0);
  int32_t y = act4_q(w, TFW_UINT8, 6, 6, 4, 0.05f, 128);
  int32_t cin[2] = {p, k};
  o = tfw_opt_conv(TFW_VALID, 1, 1, TFW_ACT_NONE);
  tfw_operator(w, TFW_OP_CONV_2D, 2, cin, y, &o);
  tfw_set_io(w, x, y);
  expect_refused(w, IMS_ERR_UNSUPPORTED, "CONV_2D (operator 1)");
}

/* Float SOFTMAX with beta 2: operator 1 (after a RESHAPE). */
TEST(ops_refuse_f32_softmax_beta) {
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, 2, 2, 3);
  int32_t flat[2] = {1, 12};
  int32_t r = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
  tfw_options o = tfw_opt_reshape(2, flat);
  op1(w, TFW_OP_RESHAPE, x, r, &o);
  int32_t y = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, NULL);
  o = tfw_opt_softmax(2.0f);
  op1(w, TFW_OP_SOFTMAX, r, y, &o);
  tfw_set_io(w, x, y);
  expect_refused(w, IMS_ERR_UNSUPPORTED, "SOFTMAX (operator 1)");
}

/* Non-global int8 average pooling: operator 0. */
TEST(ops_refuse_i8_avg_pool) {
  tfw *w = tfw_create();
  int32_t x = act4_q(w, TFW_INT8, 4, 4, 3, 0.02f, 0);
  int32_t y = act4_q(w, TFW_INT8, 2, 2, 3, 0.02f, 0);
  tfw_options o = tfw_opt_pool(TFW_VALID, 2, 2, 2, 2, TFW_ACT_NONE);
  op1(w, TFW_OP_AVERAGE_POOL_2D, x, y, &o);
  tfw_set_io(w, x, y);
  expect_refused(w, IMS_ERR_UNSUPPORTED, "AVERAGE_POOL_2D (operator 0)");
}

/* uint8 AVERAGE_POOL_2D whose SAME padding is not zero: XNNPACK would
 * count the padded pixels in the average (4/9 of the real value at a 3x3
 * corner), TFLite does not. */
TEST(ops_refuse_u8_avg_pool_padded) {
  tfw *w = tfw_create();
  int32_t x = act4_q(w, TFW_UINT8, 5, 5, 3, 0.02f, 100);
  int32_t y = act4_q(w, TFW_UINT8, 3, 3, 3, 0.02f, 100);
  tfw_options o = tfw_opt_pool(TFW_SAME, 2, 2, 3, 3, TFW_ACT_NONE);
  op1(w, TFW_OP_AVERAGE_POOL_2D, x, y, &o);
  tfw_set_io(w, x, y);
  expect_refused(w, IMS_ERR_UNSUPPORTED, "AVERAGE_POOL_2D (operator 0)");
}

/* Mixed-type ADD (uint8 + float): operator 0. */
TEST(ops_refuse_mixed_add) {
  static float c[12];
  tfw *w = tfw_create();
  int32_t x = act4_q(w, TFW_UINT8, 2, 2, 3, 0.02f, 100);
  int32_t cs[4] = {1, 2, 2, 3};
  int32_t k = const_f32(w, 4, cs, c, 12);
  int32_t y = act4_q(w, TFW_UINT8, 2, 2, 3, 0.02f, 100);
  int32_t ins[2] = {x, k};
  tfw_options o = tfw_opt_add(TFW_ACT_NONE);
  tfw_operator(w, TFW_OP_ADD, 2, ins, y, &o);
  tfw_set_io(w, x, y);
  expect_refused(w, IMS_ERR_UNSUPPORTED, "ADD (operator 0)");
}

/* The loader, not the engine, refuses a fused TANH and names it. */
TEST(ops_refuse_tanh_at_load) {
  static float wt[12];
  tfw *w = tfw_create();
  int32_t x = act4(w, TFW_FLOAT32, 2, 2, 3);
  int32_t ks[4] = {4, 1, 1, 3};
  int32_t k = const_f32(w, 4, ks, wt, 12);
  int32_t y = act4(w, TFW_FLOAT32, 2, 2, 4);
  int32_t ins[2] = {x, k};
  tfw_options o = tfw_opt_conv(TFW_VALID, 1, 1, TFW_ACT_TANH);
  tfw_operator(w, TFW_OP_CONV_2D, 2, ins, y, &o);
  tfw_set_io(w, x, y);
  size_t size = 0;
  uint8_t *bytes = tfw_finish(w, &size);
  tfw_destroy(w);
  ASSERT(bytes != NULL);
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_EQ(ims_model_load_memory(bytes, size, &m, &err),
            IMS_ERR_UNSUPPORTED);
  ASSERT_CONTAINS(err.message, "operator 0 (CONV_2D)");
  ASSERT_CONTAINS(err.message, "TANH");
  free(bytes);
}

TEST_MAIN(ops_conv_f32, ops_depthwise_f32, ops_add_f32,
          ops_avg_pool_f32, ops_mean_squeeze_f32,
          ops_fully_connected_f32, ops_reshape_softmax_f32, ops_pad_f32,
          ops_pad_u8, ops_fully_connected_u8, ops_fully_connected_i8,
          ops_quantize_dequantize, ops_avg_pool_u8, ops_softmax_i8,
          ops_refuse_u8_conv_i8_weights, ops_refuse_f32_softmax_beta,
          ops_refuse_i8_avg_pool, ops_refuse_u8_avg_pool_padded,
          ops_refuse_mixed_add,
          ops_refuse_tanh_at_load)
