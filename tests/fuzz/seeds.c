/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seeds.c - the fuzz_seeds tool: writes the seed inputs that need the
 * project's C writers, as files of a few KB:
 *   OUTDIR/tflite/  small TFLite models the loader accepts, one per
 *                   supported operator pattern (mutating a 3.6 MB
 *                   MobileNet wastes most runs on weights; these keep
 *                   every byte structural), written with the test-only
 *                   tests/support/tflite_writer.c and loaded back (the
 *                   tool fails if the loader refuses one);
 *   OUTDIR/onnx/    small ONNX models (seeds_onnx.c,
 *                   tests/support/onnx_writer.c);
 *   OUTDIR/head/    small learned-head files, feature_count 4..16
 *                   (seeds_head.c, through imgstream/head.h);
 *   OUTDIR/image/   small JPEGs (baseline, progressive, gray, CMYK, YCCK,
 *                   each EXIF orientation) and PNGs (every colour type
 *                   and bit depth) from tests/support/image_fixtures.c.
 * tests/fuzz/make_seeds.py runs it and adds the seeds it can write in
 * Python.
 *
 * Usage: fuzz_seeds OUTDIR   (OUTDIR/tflite, OUTDIR/onnx, OUTDIR/image
 *                          and OUTDIR/head must exist)
 *
 * Threading: single-threaded tool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgstream/model.h"
#include "support/image_fixtures.h"
#include "support/tflite_writer.h"

static int32_t act4(tfw *w, int8_t type, int h, int wd, int c) {
  int32_t shape[4] = {1, h, wd, c};
  if (type == TFW_FLOAT32)
    return tfw_tensor(w, type, 4, shape, NULL, 0, NULL, "act");
  return tfw_tensor_q(w, type, 4, shape, NULL, 0, 0.05f,
                      type == TFW_UINT8 ? 128 : 0);
}

/* conv 3x3 (or depthwise) -> mean -> softmax, float or uint8. */
static void conv_model(tfw *w, int8_t type, int depthwise) {
  static float wf[4 * 27];
  static uint8_t wq[4 * 27];
  static int32_t bias[4];
  int32_t ks[4] = {depthwise ? 1 : 4, 3, 3, depthwise ? 3 : 4};
  int oc = depthwise ? 3 : 4;
  if (!depthwise) ks[3] = 3;
  for (int i = 0; i < 4 * 27; i++) {
    wf[i] = (float)(i % 7) / 7.0f;
    wq[i] = (uint8_t)(i * 13);
  }
  int32_t x = act4(w, type, 8, 8, 3);
  int32_t k, b;
  size_t nk = (size_t)ks[0] * ks[1] * ks[2] * ks[3];
  if (type == TFW_FLOAT32) {
    k = tfw_tensor(w, type, 4, ks, wf, nk * 4, NULL, "k");
    b = tfw_tensor(w, type, 1, &oc, wf, (size_t)oc * 4, NULL, "b");
  } else {
    k = tfw_tensor_q(w, type, 4, ks, wq, nk, 0.02f, 128);
    b = tfw_tensor_q(w, TFW_INT32, 1, &oc, bias, (size_t)oc * 4, 0.001f, 0);
  }
  int32_t y = act4(w, type, 4, 4, oc);
  tfw_options o = depthwise
                      ? tfw_opt_depthwise(TFW_SAME, 2, 2, 1, TFW_ACT_RELU6)
                      : tfw_opt_conv(TFW_SAME, 2, 2, TFW_ACT_RELU);
  int32_t ins[3] = {x, k, b};
  tfw_operator(w, depthwise ? TFW_OP_DEPTHWISE_CONV_2D : TFW_OP_CONV_2D, 3,
               ins, y, &o);
  int32_t two = 2, axes_v[2] = {1, 2}, flat[2] = {1, oc};
  int32_t axes = tfw_tensor(w, TFW_INT32, 1, &two, axes_v, 8, NULL, "axes");
  int32_t m = type == TFW_FLOAT32
                  ? tfw_tensor(w, type, 2, flat, NULL, 0, NULL, "m")
                  : tfw_tensor_q(w, type, 2, flat, NULL, 0, 0.05f, 128);
  int32_t mi[2] = {y, axes};
  o = tfw_opt_reducer(0);
  tfw_operator(w, TFW_OP_MEAN, 2, mi, m, &o);
  int32_t out = type == TFW_FLOAT32
                    ? tfw_tensor(w, type, 2, flat, NULL, 0, NULL, "out")
                    : tfw_tensor_q(w, type, 2, flat, NULL, 0, 1.0f / 256, 0);
  o = tfw_opt_softmax(1.0f);
  tfw_operator(w, TFW_OP_SOFTMAX, 1, &m, out, &o);
  tfw_set_io(w, x, out);
}

/* pad -> average pool -> reshape -> fully connected -> softmax (float). */
static void pool_fc_model(tfw *w) {
  static float wf[5 * 12];
  int32_t x = act4(w, TFW_FLOAT32, 4, 4, 3);
  int32_t ps[2] = {4, 2}, pv[8] = {0, 0, 1, 1, 1, 1, 0, 0};
  int32_t pads = tfw_tensor(w, TFW_INT32, 2, ps, pv, 32, NULL, "pads");
  int32_t p = act4(w, TFW_FLOAT32, 6, 6, 3);
  int32_t pi[2] = {x, pads};
  tfw_options o = tfw_opt_pad();
  tfw_operator(w, TFW_OP_PAD, 2, pi, p, &o);
  int32_t q = act4(w, TFW_FLOAT32, 2, 2, 3);
  o = tfw_opt_pool(TFW_VALID, 3, 3, 3, 3, TFW_ACT_NONE);
  tfw_operator(w, TFW_OP_AVERAGE_POOL_2D, 1, &p, q, &o);
  int32_t two = 2, flat[2] = {1, 12}, ws[2] = {5, 12}, os[2] = {1, 5};
  int32_t st = tfw_tensor(w, TFW_INT32, 1, &two, flat, 8, NULL, "shape");
  int32_t r = tfw_tensor(w, TFW_FLOAT32, 2, flat, NULL, 0, NULL, "r");
  int32_t ri[2] = {q, st};
  o = tfw_opt_reshape(2, flat);
  tfw_operator(w, TFW_OP_RESHAPE, 2, ri, r, &o);
  for (int i = 0; i < 60; i++) wf[i] = (float)i / 60.0f;
  int32_t k = tfw_tensor(w, TFW_FLOAT32, 2, ws, wf, sizeof wf, NULL, "w");
  int32_t f = tfw_tensor(w, TFW_FLOAT32, 2, os, NULL, 0, NULL, "fc");
  int32_t fi[3] = {r, k, -1};
  o = tfw_opt_fc(TFW_ACT_NONE, 0);
  tfw_operator(w, TFW_OP_FULLY_CONNECTED, 3, fi, f, &o);
  int32_t out = tfw_tensor(w, TFW_FLOAT32, 2, os, NULL, 0, NULL, "out");
  o = tfw_opt_softmax(1.0f);
  tfw_operator(w, TFW_OP_SOFTMAX, 1, &f, out, &o);
  tfw_set_io(w, x, out);
}

/* quantize -> add (int8) -> dequantize (float in and out). */
static void quant_add_model(tfw *w) {
  int32_t x = act4(w, TFW_FLOAT32, 2, 2, 3);
  int32_t q = act4(w, TFW_INT8, 2, 2, 3);
  tfw_operator(w, TFW_OP_QUANTIZE, 1, &x, q, NULL);
  int32_t a = act4(w, TFW_INT8, 2, 2, 3);
  int32_t ai[2] = {q, q};
  tfw_options o = tfw_opt_add(TFW_ACT_NONE);
  tfw_operator(w, TFW_OP_ADD, 2, ai, a, &o);
  int32_t out = act4(w, TFW_FLOAT32, 2, 2, 3);
  tfw_operator(w, TFW_OP_DEQUANTIZE, 1, &a, out, NULL);
  tfw_set_io(w, x, out);
}

static int write_file(const char *dir, const char *name, const uint8_t *p,
                      size_t n) {
  char path[4096];
  int len = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= sizeof path) {
    fprintf(stderr, "%s/%s: path too long\n", dir, name);
    return 1;
  }
  FILE *f = fopen(path, "wb");
  int bad = f == NULL || fwrite(p, 1, n, f) != n;
  if (f != NULL && fclose(f) != 0) bad = 1;
  if (bad) fprintf(stderr, "%s: cannot write\n", path);
  return bad;
}

/* JPEGs: every colour layout, progressive, every orientation; PNGs:
 * every colour type and depth. 24 x 16 pixels each. */
static int emit_images(const char *dir) {
  enum { W = 24, H = 16 };
  static uint8_t px[W * H * 8]; /* up to 16-bit RGBA */
  static const int png_types[][2] = {{0, 1}, {0, 8}, {0, 16}, {2, 8},
                                     {2, 16}, {3, 4}, {4, 8}, {6, 16}};
  uint8_t palette[16 * 3], trns[16];
  int bad = 0;
  fx_random(px, sizeof px, 7);
  fx_quadrants(px, W, H);
  for (int i = 0; i < 16 * 3; i++) palette[i] = (uint8_t)(i * 5);
  for (int i = 0; i < 16; i++) trns[i] = (uint8_t)(i * 16);
  for (int v = 0; v < 14; v++) {
    fx_jpeg_opts o = {.components = 3, .quality = 75};
    if (v == 1) o.progressive = 1;
    if (v == 2) o.components = 1;
    if (v == 3) o.components = 4;
    if (v == 4) o.components = 4, o.ycck = 1;
    if (v >= 5) o.orientation = v - 4, o.big_endian = v & 1;
    if (v == 13) o.progressive = 1, o.quality = 30;
    uint8_t *out = NULL;
    size_t n = 0;
    char name[64];
    snprintf(name, sizeof name, "jpeg_%02d.jpg", v);
    if (fx_jpeg_encode(px, W, H, &o, &out, &n) != 0) return 1;
    bad |= write_file(dir, name, out, n);
    free(out);
  }
  for (size_t t = 0; t < sizeof png_types / sizeof png_types[0]; t++) {
    uint8_t *out = NULL;
    size_t n = 0;
    char name[64];
    int ct = png_types[t][0], depth = png_types[t][1];
    snprintf(name, sizeof name, "png_%d_%d.png", ct, depth);
    if (fx_png_encode(px, W, H, ct, depth, ct == 3 ? palette : NULL,
                      ct == 3 ? 16 : 0, ct == 3 ? trns : NULL, &out,
                      &n) != 0)
      return 1;
    bad |= write_file(dir, name, out, n);
    free(out);
  }
  return bad;
}

static int emit(const char *dir, const char *name, tfw *w) {
  size_t size = 0;
  uint8_t *bytes = tfw_finish(w, &size);
  tfw_destroy(w);
  if (bytes == NULL) {
    fprintf(stderr, "%s: writer failed\n", name);
    return 1;
  }
  ims_model *m = NULL;
  ims_error err = {0};
  ims_status st = ims_model_load_memory(bytes, size, &m, &err);
  ims_model_destroy(m);
  char file[256];
  snprintf(file, sizeof file, "%s.tflite", name);
  int bad = write_file(dir, file, bytes, size);
  free(bytes);
  if (bad) return 1;
  if (st != IMS_OK) {
    fprintf(stderr, "%s: loader refuses the seed: %s\n", name, err.message);
    return 1;
  }
  return 0;
}

/* seeds_onnx.c, seeds_head.c */
int fuzz_seeds_onnx(const char *outdir);
int fuzz_seeds_head(const char *outdir);

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
    return 2;
  }
  char models[4096], images[4096];
  snprintf(models, sizeof models, "%s/tflite", argv[1]);
  snprintf(images, sizeof images, "%s/image", argv[1]);
  int bad = emit_images(images);
  tfw *w = tfw_create();
  conv_model(w, TFW_FLOAT32, 0);
  bad |= emit(models, "conv_f32", w);
  w = tfw_create();
  conv_model(w, TFW_UINT8, 0);
  bad |= emit(models, "conv_u8", w);
  w = tfw_create();
  conv_model(w, TFW_UINT8, 1);
  bad |= emit(models, "depthwise_u8", w);
  w = tfw_create();
  conv_model(w, TFW_FLOAT32, 1);
  bad |= emit(models, "depthwise_f32", w);
  w = tfw_create();
  pool_fc_model(w);
  bad |= emit(models, "pad_pool_fc_f32", w);
  w = tfw_create();
  quant_add_model(w);
  bad |= emit(models, "quant_add_i8", w);
  bad |= fuzz_seeds_onnx(argv[1]);
  bad |= fuzz_seeds_head(argv[1]);
  return bad;
}
