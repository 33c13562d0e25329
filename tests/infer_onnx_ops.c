/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_onnx_ops.c - the ONNX operators, end to end (loader + executor),
 * on small graphs built at test time with tests/support/onnx_writer.c, against
 * answers computed here by plain NCHW loops in double precision, written
 * from the ONNX operator definitions (never from the engine's output).
 *
 * Every graph takes a [N,3,5,7] float image. The engine is told mean 0 and
 * std 1/255, so the network sees the pixel bytes themselves (0..24 here);
 * each case runs a batch of two different images on two threads. Spatial
 * outputs come back NHWC (docs/ONNX.md) and are compared as such.
 *
 * Tolerance: 1e-4 relative to max(1, |want|).
 *
 * Sections: 1. fixtures  2. reference kernels  3. cases
 *
 * Threading: single-threaded test (the engine uses two workers).
 */
#include "imgstream/imgstream.h"
#include "support/onnx_writer.h"
#include "test.h"

#define H 5
#define W 7

/* ---- 1. fixtures ---- */

/* A feature map in NCHW, double. */
typedef struct fmap {
  int c, h, w;
  double v[2][64 * 64 * 8]; /* per image */
} fmap;

static uint8_t images[2][H * W * 3];

static void make_images(void) {
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < H * W * 3; k++)
      images[i][k] = (uint8_t)((k * 7 + i * 13 + k / 3) % 25);
}

static void input_map(fmap *x) {
  make_images();
  x->c = 3, x->h = H, x->w = W;
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 3; c++)
      for (int p = 0; p < H * W; p++)
        x->v[i][c * H * W + p] = images[i][p * 3 + c];
}

static void start(onnx_w *w, int opset) {
  int64_t dims[4] = {-1, 3, H, W};
  ow_init(w, opset);
  ow_input(w, "x", 4, dims);
}

/* Deterministic small weights. */
static void fill(float *p, size_t n, int seed) {
  for (size_t k = 0; k < n; k++)
    p[k] = (float)((int)((k * 37 + (size_t)seed * 11) % 17) - 8) / 16.0f;
}

/* Load the model, run both images, compare with ref (NCHW) as NHWC. */
static void check(onnx_w *w, const char *out, const fmap *ref) {
  ow_output(w, out);
  size_t size;
  uint8_t *bytes = ow_finish(w, &size);
  ims_model *m = NULL;
  ims_engine *e = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_memory(bytes, size, &m, &err), &err);
  free(bytes);
  ims_engine_options eo = {0};
  eo.threads = 2;
  eo.max_batch = 2;
  for (int c = 0; c < 3; c++) eo.std[c] = 1.0f / 255.0f;
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  size_t per = (size_t)ref->c * ref->h * ref->w;
  float *got = calloc(2 * per, sizeof *got);
  ASSERT_OK(ims_engine_run(e, &images[0][0], 2, got, &err), &err);
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < ref->c; c++)
      for (int p = 0; p < ref->h * ref->w; p++) {
        double want = ref->v[i][c * ref->h * ref->w + p];
        double have = got[i * per + (size_t)p * ref->c + c];
        double tol = 1e-4 * (fabs(want) > 1 ? fabs(want) : 1);
        if (fabs(have - want) > tol)
          TEST__FAIL("image %d channel %d pixel %d: %g, want %g", i, c, p,
                     have, want);
      }
  free(got);
  ims_engine_destroy(e);
  ims_model_destroy(m);
}

/* ---- 2. reference kernels ---- */

typedef struct conv_p {
  int o, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_p;

static void ref_conv(const fmap *x, const float *wt, const float *b,
                     const conv_p *p, fmap *y) {
  int ig = x->c / p->group, og = p->o / p->group;
  y->c = p->o;
  y->h = (x->h + p->pt + p->pb - ((p->kh - 1) * p->dh + 1)) / p->sh + 1;
  y->w = (x->w + p->pl + p->pr - ((p->kw - 1) * p->dw + 1)) / p->sw + 1;
  for (int i = 0; i < 2; i++)
    for (int o = 0; o < p->o; o++)
      for (int oy = 0; oy < y->h; oy++)
        for (int ox = 0; ox < y->w; ox++) {
          double s = b ? b[o] : 0;
          int g = o / og;
          for (int ci = 0; ci < ig; ci++)
            for (int ky = 0; ky < p->kh; ky++)
              for (int kx = 0; kx < p->kw; kx++) {
                int iy = oy * p->sh - p->pt + ky * p->dh;
                int ix = ox * p->sw - p->pl + kx * p->dw;
                if (iy < 0 || ix < 0 || iy >= x->h || ix >= x->w) continue;
                s += wt[((o * ig + ci) * p->kh + ky) * p->kw + kx] *
                     x->v[i][((g * ig + ci) * x->h + iy) * x->w + ix];
              }
          y->v[i][(o * y->h + oy) * y->w + ox] = s;
        }
}

static void ref_map(fmap *y, double (*f)(double)) {
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < y->c * y->h * y->w; k++) y->v[i][k] = f(y->v[i][k]);
}

static double relu(double v) { return v > 0 ? v : 0; }
static double relu6(double v) { return v < 0 ? 0 : (v > 6 ? 6 : v); }
static double sigm(double v) { return 1 / (1 + exp(-v)); }
static double hswish(double v) { return v * relu6(v + 3) / 6; }
static double hsigm(double v) {
  double t = 0.25 * v + 0.125;
  return t < 0 ? 0 : (t > 1 ? 1 : t);
}

static void ref_pool(const fmap *x, int k, int s, int pad, bool max,
                     bool count_pad, fmap *y) {
  y->c = x->c;
  y->h = (x->h + 2 * pad - k) / s + 1;
  y->w = (x->w + 2 * pad - k) / s + 1;
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < x->c; c++)
      for (int oy = 0; oy < y->h; oy++)
        for (int ox = 0; ox < y->w; ox++) {
          double acc = max ? -INFINITY : 0;
          int n = 0;
          for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
              int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
              if (iy < 0 || ix < 0 || iy >= x->h || ix >= x->w) continue;
              double v = x->v[i][(c * x->h + iy) * x->w + ix];
              acc = max ? (v > acc ? v : acc) : acc + v;
              n++;
            }
          if (!max) acc /= count_pad ? k * k : n;
          y->v[i][(c * y->h + oy) * y->w + ox] = acc;
        }
}

static void ref_gap(const fmap *x, fmap *y) {
  y->c = x->c, y->h = y->w = 1;
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < x->c; c++) {
      double s = 0;
      for (int p = 0; p < x->h * x->w; p++) s += x->v[i][c * x->h * x->w + p];
      y->v[i][c] = s / (x->h * x->w);
    }
}

/* ---- 3. cases ---- */

static const conv_p conv3 = {4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1};

/* Conv (3x3 stride 2 pad 1, bias) + Relu fused. */
TEST(onnx_conv_relu) {
  onnx_w w;
  float wt[4 * 3 * 9], b[4];
  fill(wt, 108, 1), fill(b, 4, 2);
  fmap *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
  input_map(x);
  ref_conv(x, wt, b, &conv3, y);
  ref_map(y, relu);
  start(&w, 13);
  int64_t wd[4] = {4, 3, 3, 3}, bd[1] = {4}, pads[4] = {1, 1, 1, 1},
          st[2] = {2, 2};
  ow_init_f32(&w, "w", 4, wd, wt, OW_RAW);
  ow_init_f32(&w, "b", 1, bd, b, OW_TYPED);
  ow_buf at[2] = {ow_attr_ints("pads", pads, 4),
                  ow_attr_ints("strides", st, 2)};
  ow_node(&w, "Conv", "c", (const char *[]){"x", "w", "b", NULL},
          (const char *[]){"y", NULL}, at, 2);
  ow_node(&w, "Relu", "r", (const char *[]){"y", NULL},
          (const char *[]){"z", NULL}, NULL, 0);
  check(&w, "z", y);
  free(x), free(y);
}

/* Conv 3->6, then a grouped conv (group 2, 6->4, dilation 2, SAME_UPPER
 * padding) and a depthwise conv (multiplier 2) with Clip(0, 6) as inputs
 * (opset 13) and as attributes (opset 10). */
static void grouped_depthwise(int opset) {
  onnx_w w;
  float w1[6 * 3], w2[4 * 3 * 9], w3[8 * 1 * 9], b3[8];
  fill(w1, 18, 3), fill(w2, 108, 4), fill(w3, 72, 5), fill(b3, 8, 6);
  fmap *x = calloc(1, sizeof *x), *a = calloc(1, sizeof *a),
       *b = calloc(1, sizeof *b), *c = calloc(1, sizeof *c);
  input_map(x);
  conv_p p1 = {6, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
  conv_p p2 = {4, 3, 3, 2, 1, 1, 2, 2, 2, 2, 2, 2};
  conv_p p3 = {8, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1};
  ref_conv(x, w1, NULL, &p1, a);
  ref_conv(a, w2, NULL, &p2, b);
  ref_conv(b, w3, b3, &p3, c);
  ref_map(c, relu6);
  start(&w, opset);
  int64_t d1[4] = {6, 3, 1, 1}, d2[4] = {4, 3, 3, 3}, d3[4] = {8, 1, 3, 3},
          db[1] = {8}, dil[2] = {2, 2}, pads[4] = {1, 1, 1, 1}, none = 0;
  ow_init_f32(&w, "w1", 4, d1, w1, OW_TYPED);
  ow_init_f32(&w, "w2", 4, d2, w2, OW_RAW);
  ow_init_f32(&w, "w3", 4, d3, w3, OW_RAW);
  ow_init_f32(&w, "b3", 1, db, b3, OW_RAW);
  ow_node(&w, "Conv", "c1", (const char *[]){"x", "w1", NULL},
          (const char *[]){"a", NULL}, NULL, 0);
  ow_buf a2[3] = {ow_attr_int("group", 2), ow_attr_ints("dilations", dil, 2),
                  ow_attr_str("auto_pad", "SAME_UPPER")};
  ow_node(&w, "Conv", "c2", (const char *[]){"a", "w2", NULL},
          (const char *[]){"b", NULL}, a2, 3);
  ow_buf a3[2] = {ow_attr_int("group", 4), ow_attr_ints("pads", pads, 4)};
  ow_node(&w, "Conv", "c3", (const char *[]){"b", "w3", "b3", NULL},
          (const char *[]){"c", NULL}, a3, 2);
  if (opset >= 11) {
    float lo = 0, hi = 6;
    ow_init_f32(&w, "lo", 0, &none, &lo, OW_RAW);
    ow_init_f32(&w, "hi", 0, &none, &hi, OW_TYPED);
    ow_node(&w, "Clip", "clip", (const char *[]){"c", "lo", "hi", NULL},
            (const char *[]){"y", NULL}, NULL, 0);
  } else {
    ow_buf ac[2] = {ow_attr_float("min", 0), ow_attr_float("max", 6)};
    ow_node(&w, "Clip", "clip", (const char *[]){"c", NULL},
            (const char *[]){"y", NULL}, ac, 2);
  }
  check(&w, "y", c);
  free(x), free(a), free(b), free(c);
}

TEST(onnx_grouped_depthwise_clip_inputs) { grouped_depthwise(13); }
TEST(onnx_grouped_depthwise_clip_attributes) { grouped_depthwise(10); }

/* BatchNormalization folded into a conv, and standalone on the input. */
TEST(onnx_batch_norm) {
  onnx_w w;
  float wt[108], sc[4], bi[4], mu[4], var[4], s3[3], b3[3], m3[3], v3[3];
  fill(wt, 108, 7), fill(sc, 4, 8), fill(bi, 4, 9), fill(mu, 4, 10);
  for (int c = 0; c < 4; c++) var[c] = 0.5f + c;
  for (int c = 0; c < 3; c++)
    s3[c] = 1.5f - c * 0.25f, b3[c] = c, m3[c] = 3, v3[c] = 4.0f + c;
  fmap *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
  input_map(x);
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 3; c++)
      for (int p = 0; p < H * W; p++) {
        double *v = &x->v[i][c * H * W + p];
        *v = (*v - m3[c]) / sqrt(v3[c] + 1e-3) * s3[c] + b3[c];
      }
  ref_conv(x, wt, NULL, &conv3, y);
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 4; c++)
      for (int p = 0; p < y->h * y->w; p++) {
        double *v = &y->v[i][c * y->h * y->w + p];
        *v = (*v - mu[c]) / sqrt(var[c] + 1e-5) * sc[c] + bi[c];
      }
  start(&w, 11);
  int64_t wd[4] = {4, 3, 3, 3}, d4[1] = {4}, d3[1] = {3},
          pads[4] = {1, 1, 1, 1}, st[2] = {2, 2};
  ow_init_f32(&w, "w", 4, wd, wt, OW_RAW);
  const char *n4[4] = {"sc", "bi", "mu", "var"},
             *n3[4] = {"s3", "b3", "m3", "v3"};
  float *p4[4] = {sc, bi, mu, var}, *p3[4] = {s3, b3, m3, v3};
  for (int k = 0; k < 4; k++) {
    ow_init_f32(&w, n4[k], 1, d4, p4[k], OW_RAW);
    ow_init_f32(&w, n3[k], 1, d3, p3[k], OW_TYPED);
  }
  ow_buf ae = ow_attr_float("epsilon", 1e-3f);
  ow_node(&w, "BatchNormalization", "bn0",
          (const char *[]){"x", "s3", "b3", "m3", "v3", NULL},
          (const char *[]){"xn", NULL}, &ae, 1);
  ow_buf at[2] = {ow_attr_ints("pads", pads, 4),
                  ow_attr_ints("strides", st, 2)};
  ow_node(&w, "Conv", "c", (const char *[]){"xn", "w", NULL},
          (const char *[]){"y", NULL}, at, 2);
  ow_node(&w, "BatchNormalization", "bn",
          (const char *[]){"y", "sc", "bi", "mu", "var", NULL},
          (const char *[]){"z", NULL}, NULL, 0);
  check(&w, "z", y);
  free(x), free(y);
}

static void pool_case(const char *op, int k, int s, int pad, bool count_pad) {
  onnx_w w;
  fmap *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
  input_map(x);
  bool max = strcmp(op, "MaxPool") == 0;
  ref_pool(x, k, s, pad, max, count_pad, y);
  start(&w, 13);
  int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {pad, pad, pad, pad};
  ow_buf at[4] = {ow_attr_ints("kernel_shape", ks, 2),
                  ow_attr_ints("strides", st, 2), ow_attr_ints("pads", pads, 4),
                  ow_attr_int("count_include_pad", count_pad)};
  ow_node(&w, op, "p", (const char *[]){"x", NULL},
          (const char *[]){"y", NULL}, at, max ? 3 : 4);
  if (max) ow_free(&at[3]); /* MaxPool has no count_include_pad */
  check(&w, "y", y);
  free(x), free(y);
}

TEST(onnx_max_pool) { pool_case("MaxPool", 3, 2, 1, false); }
TEST(onnx_average_pool_exclude_pad) {
  pool_case("AveragePool", 3, 2, 1, false);
}
TEST(onnx_average_pool_count_pad) { pool_case("AveragePool", 3, 1, 1, true); }

/* Squeeze-excitation: GlobalAveragePool -> 1x1 conv -> Sigmoid -> Mul
 * broadcasting [N,C,1,1] over [N,C,H,W]; then HardSwish, HardSigmoid. */
TEST(onnx_squeeze_excitation_hard_activations) {
  onnx_w w;
  float w1[9], b1[3];
  fill(w1, 9, 11), fill(b1, 3, 12);
  fmap *x = calloc(1, sizeof *x), *g = calloc(1, sizeof *g),
       *s = calloc(1, sizeof *s);
  input_map(x);
  ref_gap(x, g);
  conv_p p = {3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
  ref_conv(g, w1, b1, &p, s);
  ref_map(s, sigm);
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 3; c++)
      for (int q = 0; q < H * W; q++) {
        double *v = &x->v[i][c * H * W + q];
        *v = hsigm(hswish(*v * s->v[i][c] - 8));
      }
  start(&w, 14);
  int64_t wd[4] = {3, 3, 1, 1}, bd[1] = {3}, none = 0;
  float eight = 8;
  ow_init_f32(&w, "w1", 4, wd, w1, OW_RAW);
  ow_init_f32(&w, "b1", 1, bd, b1, OW_RAW);
  ow_init_f32(&w, "eight", 0, &none, &eight, OW_RAW);
  ow_node(&w, "GlobalAveragePool", "gap", (const char *[]){"x", NULL},
          (const char *[]){"g", NULL}, NULL, 0);
  ow_node(&w, "Conv", "fc", (const char *[]){"g", "w1", "b1", NULL},
          (const char *[]){"f", NULL}, NULL, 0);
  ow_node(&w, "Sigmoid", "sig", (const char *[]){"f", NULL},
          (const char *[]){"s", NULL}, NULL, 0);
  ow_node(&w, "Mul", "mul", (const char *[]){"x", "s", NULL},
          (const char *[]){"m", NULL}, NULL, 0);
  ow_node(&w, "Sub", "sub", (const char *[]){"m", "eight", NULL},
          (const char *[]){"d", NULL}, NULL, 0);
  ow_node(&w, "HardSwish", "hs", (const char *[]){"d", NULL},
          (const char *[]){"h", NULL}, NULL, 0);
  ow_buf ah[2] = {ow_attr_float("alpha", 0.25f), ow_attr_float("beta", 0.125f)};
  ow_node(&w, "HardSigmoid", "hsig", (const char *[]){"h", NULL},
          (const char *[]){"y", NULL}, ah, 2);
  check(&w, "y", x);
  free(x), free(g), free(s);
}

/* Conv -> Flatten of the spatial map -> Gemm (transB, alpha, beta): the
 * Gemm weights must be permuted to the NHWC feature order. Then Softmax.
 * Also a reshape by the Shape/Gather/Unsqueeze/Concat chain. */
static void flatten_gemm(bool shape_chain) {
  onnx_w w;
  enum { K = 4 * 3 * 4, M = 5 };
  float wt[108], gw[M * K], gb[M];
  fill(wt, 108, 13), fill(gw, M * K, 14), fill(gb, M, 15);
  fmap *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y),
       *z = calloc(1, sizeof *z);
  input_map(x);
  ref_conv(x, wt, NULL, &conv3, y);
  z->c = M, z->h = z->w = 1;
  for (int i = 0; i < 2; i++) {
    double mx = -INFINITY, sum = 0;
    for (int o = 0; o < M; o++) {
      double s = 0.5 * gb[o];
      for (int k = 0; k < K; k++) s += 2.0 * gw[o * K + k] * y->v[i][k];
      z->v[i][o] = s;
      mx = s > mx ? s : mx;
    }
    for (int o = 0; o < M; o++) sum += exp(z->v[i][o] - mx);
    for (int o = 0; o < M; o++) z->v[i][o] = exp(z->v[i][o] - mx) / sum;
  }
  start(&w, 13);
  int64_t wd[4] = {4, 3, 3, 3}, gd[2] = {M, K}, bd[1] = {M},
          pads[4] = {1, 1, 1, 1}, st[2] = {2, 2}, one = 1, idx0 = 0,
          minus1[1] = {-1};
  ow_init_f32(&w, "w", 4, wd, wt, OW_RAW);
  ow_init_f32(&w, "gw", 2, gd, gw, OW_RAW);
  ow_init_f32(&w, "gb", 1, bd, gb, OW_RAW);
  ow_buf at[2] = {ow_attr_ints("pads", pads, 4),
                  ow_attr_ints("strides", st, 2)};
  ow_node(&w, "Conv", "c", (const char *[]){"x", "w", NULL},
          (const char *[]){"y", NULL}, at, 2);
  if (shape_chain) {
    ow_init_i64(&w, "zero", 0, &one, &idx0, OW_TYPED);
    ow_init_i64(&w, "axes", 1, &one, &idx0, OW_RAW);
    ow_init_i64(&w, "m1", 1, &one, minus1, OW_TYPED);
    ow_node(&w, "Shape", "sh", (const char *[]){"y", NULL},
            (const char *[]){"s", NULL}, NULL, 0);
    ow_node(&w, "Gather", "ga", (const char *[]){"s", "zero", NULL},
            (const char *[]){"n", NULL}, NULL, 0);
    ow_node(&w, "Unsqueeze", "un", (const char *[]){"n", "axes", NULL},
            (const char *[]){"n1", NULL}, NULL, 0);
    ow_buf ax = ow_attr_int("axis", 0);
    ow_node(&w, "Concat", "cat", (const char *[]){"n1", "m1", NULL},
            (const char *[]){"shape", NULL}, &ax, 1);
    ow_node(&w, "Reshape", "rs", (const char *[]){"y", "shape", NULL},
            (const char *[]){"f", NULL}, NULL, 0);
  } else {
    ow_node(&w, "Flatten", "fl", (const char *[]){"y", NULL},
            (const char *[]){"f", NULL}, NULL, 0);
  }
  ow_buf ag[3] = {ow_attr_int("transB", 1), ow_attr_float("alpha", 2.0f),
                  ow_attr_float("beta", 0.5f)};
  ow_node(&w, "Gemm", "fc", (const char *[]){"f", "gw", "gb", NULL},
          (const char *[]){"l", NULL}, ag, 3);
  ow_node(&w, "Softmax", "sm", (const char *[]){"l", NULL},
          (const char *[]){"p", NULL}, NULL, 0);
  check(&w, "p", z);
  free(x), free(y), free(z);
}

TEST(onnx_flatten_gemm_softmax) { flatten_gemm(false); }
TEST(onnx_shape_chain_reshape_gemm) { flatten_gemm(true); }

/* Concat of two convolutions along channels, GAP, MatMul + Add (folded
 * into the bias), Div by a constant. */
TEST(onnx_concat_matmul_add) {
  onnx_w w;
  float w1[2 * 3], w2[3 * 3], mw[5 * 4], mb[4];
  fill(w1, 6, 16), fill(w2, 9, 17), fill(mw, 20, 18), fill(mb, 4, 19);
  fmap *x = calloc(1, sizeof *x), *a = calloc(1, sizeof *a),
       *b = calloc(1, sizeof *b), *c = calloc(1, sizeof *c),
       *z = calloc(1, sizeof *z);
  input_map(x);
  conv_p p1 = {2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, p2 = p1;
  p2.o = 3;
  ref_conv(x, w1, NULL, &p1, a);
  ref_conv(x, w2, NULL, &p2, b);
  c->c = 5, c->h = H, c->w = W;
  for (int i = 0; i < 2; i++) {
    memcpy(c->v[i], a->v[i], sizeof(double) * 2 * H * W);
    memcpy(c->v[i] + 2 * H * W, b->v[i], sizeof(double) * 3 * H * W);
  }
  fmap *g = calloc(1, sizeof *g);
  ref_gap(c, g);
  z->c = 4, z->h = z->w = 1;
  for (int i = 0; i < 2; i++)
    for (int o = 0; o < 4; o++) {
      double s = mb[o];
      for (int k = 0; k < 5; k++) s += g->v[i][k] * mw[k * 4 + o];
      z->v[i][o] = s / 4;
    }
  start(&w, 13);
  int64_t d1[4] = {2, 3, 1, 1}, d2[4] = {3, 3, 1, 1}, md[2] = {5, 4},
          bd[1] = {4}, none = 0;
  float four = 4;
  ow_init_f32(&w, "w1", 4, d1, w1, OW_RAW);
  ow_init_f32(&w, "w2", 4, d2, w2, OW_RAW);
  ow_init_f32(&w, "mw", 2, md, mw, OW_TYPED);
  ow_init_f32(&w, "mb", 1, bd, mb, OW_RAW);
  ow_init_f32(&w, "four", 0, &none, &four, OW_RAW);
  ow_node(&w, "Conv", "c1", (const char *[]){"x", "w1", NULL},
          (const char *[]){"a", NULL}, NULL, 0);
  ow_node(&w, "Conv", "c2", (const char *[]){"x", "w2", NULL},
          (const char *[]){"b", NULL}, NULL, 0);
  ow_buf ax = ow_attr_int("axis", 1);
  ow_node(&w, "Concat", "cat", (const char *[]){"a", "b", NULL},
          (const char *[]){"c", NULL}, &ax, 1);
  ow_node(&w, "GlobalAveragePool", "gap", (const char *[]){"c", NULL},
          (const char *[]){"g", NULL}, NULL, 0);
  ow_node(&w, "Flatten", "fl", (const char *[]){"g", NULL},
          (const char *[]){"f", NULL}, NULL, 0);
  ow_node(&w, "MatMul", "mm", (const char *[]){"f", "mw", NULL},
          (const char *[]){"m", NULL}, NULL, 0);
  ow_node(&w, "Add", "add", (const char *[]){"m", "mb", NULL},
          (const char *[]){"s", NULL}, NULL, 0);
  ow_node(&w, "Dropout", "drop", (const char *[]){"s", NULL},
          (const char *[]){"sd", NULL}, NULL, 0);
  ow_node(&w, "Div", "div", (const char *[]){"sd", "four", NULL},
          (const char *[]){"y", NULL}, NULL, 0);
  check(&w, "y", z);
  free(x), free(a), free(b), free(c), free(g), free(z);
}

TEST_MAIN(onnx_conv_relu, onnx_grouped_depthwise_clip_inputs,
          onnx_grouped_depthwise_clip_attributes, onnx_batch_norm,
          onnx_max_pool, onnx_average_pool_exclude_pad,
          onnx_average_pool_count_pad,
          onnx_squeeze_excitation_hard_activations, onnx_flatten_gemm_softmax,
          onnx_shape_chain_reshape_gemm, onnx_concat_matmul_add)
