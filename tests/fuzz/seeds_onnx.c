/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seeds_onnx.c - the ONNX part of the fuzz_seeds tool: small ONNX models
 * (a few hundred bytes to a few KB each) written with the test-only
 * tests/support/onnx_writer.c, one per group of operators the loader lowers, so
 * the fuzzer mutates structure rather than weights:
 *   tiny_raw / tiny_typed  Conv, BatchNormalization, Relu,
 *                          GlobalAveragePool, Flatten, Gemm (the
 *                          model_onnx tests' model)
 *   shape_chain            Shape -> Gather -> Unsqueeze -> Concat ->
 *                          Reshape (folded at load), Gemm, Softmax
 *   concat_matmul          Conv x2, Concat, MatMul + Add, Dropout, Div
 *   se_block               Sigmoid, Mul, Sub, HardSwish, HardSigmoid
 *   pools_clip             MaxPool, AveragePool, grouped Conv, Clip,
 *                          ReduceMean, Squeeze, Unsqueeze, Reshape
 * Each must load (ims_model_load_memory); the tool fails otherwise, so a
 * seed never silently stops covering what it was written for.
 *
 * Threading: single-threaded tool.
 */
#include <stdio.h>
#include <stdlib.h>

#include "imgstream/model.h"
#include "support/model_onnx_common.h"
#include "support/onnx_writer.h"

int fuzz_seeds_onnx(const char *dir);

#define IN(...) ((const char *[]){__VA_ARGS__, NULL})

static void weights(float *p, size_t n, int seed) {
  for (size_t k = 0; k < n; k++)
    p[k] = (float)((int)((k * 37 + (size_t)seed * 11) % 17) - 8) / 16.0f;
}

static void start(onnx_w *w, int opset) {
  int64_t dims[4] = {-1, 3, 8, 8};
  ow_init(w, opset);
  ow_input(w, "x", 4, dims);
}

static void shape_chain(onnx_w *w) {
  float wt[108], gw[5 * 64], gb[5];
  weights(wt, 108, 1), weights(gw, 5 * 64, 2), weights(gb, 5, 3);
  int64_t wd[4] = {4, 3, 3, 3}, gd[2] = {5, 64}, bd[1] = {5},
          pads[4] = {1, 1, 1, 1}, st[2] = {2, 2}, one = 1, zero = 0, m1 = -1;
  start(w, 13);
  ow_init_f32(w, "w", 4, wd, wt, OW_RAW);
  ow_init_f32(w, "gw", 2, gd, gw, OW_RAW);
  ow_init_f32(w, "gb", 1, bd, gb, OW_TYPED);
  ow_init_i64(w, "zero", 0, &one, &zero, OW_TYPED);
  ow_init_i64(w, "axes", 1, &one, &zero, OW_RAW);
  ow_init_i64(w, "m1", 1, &one, &m1, OW_TYPED);
  ow_buf at[2] = {ow_attr_ints("pads", pads, 4),
                  ow_attr_ints("strides", st, 2)};
  ow_node(w, "Conv", "c", IN("x", "w"), IN("y"), at, 2);
  ow_node(w, "Shape", "sh", IN("y"), IN("s"), NULL, 0);
  ow_node(w, "Gather", "ga", IN("s", "zero"), IN("n"), NULL, 0);
  ow_node(w, "Unsqueeze", "un", IN("n", "axes"), IN("n1"), NULL, 0);
  ow_buf ax = ow_attr_int("axis", 0);
  ow_node(w, "Concat", "cat", IN("n1", "m1"), IN("shape"), &ax, 1);
  ow_node(w, "Reshape", "rs", IN("y", "shape"), IN("f"), NULL, 0);
  ow_buf ag[3] = {ow_attr_int("transB", 1), ow_attr_float("alpha", 2.0f),
                  ow_attr_float("beta", 0.5f)};
  ow_node(w, "Gemm", "fc", IN("f", "gw", "gb"), IN("l"), ag, 3);
  ow_node(w, "Softmax", "sm", IN("l"), IN("p"), NULL, 0);
  ow_output(w, "p");
}

static void concat_matmul(onnx_w *w) {
  float w1[6], w2[9], mw[20], mb[4], four = 4;
  weights(w1, 6, 4), weights(w2, 9, 5), weights(mw, 20, 6);
  weights(mb, 4, 7);
  int64_t d1[4] = {2, 3, 1, 1}, d2[4] = {3, 3, 1, 1}, md[2] = {5, 4},
          bd[1] = {4}, none = 0;
  start(w, 13);
  ow_init_f32(w, "w1", 4, d1, w1, OW_RAW);
  ow_init_f32(w, "w2", 4, d2, w2, OW_RAW);
  ow_init_f32(w, "mw", 2, md, mw, OW_TYPED);
  ow_init_f32(w, "mb", 1, bd, mb, OW_RAW);
  ow_init_f32(w, "four", 0, &none, &four, OW_RAW);
  ow_node(w, "Conv", "c1", IN("x", "w1"), IN("a"), NULL, 0);
  ow_node(w, "Conv", "c2", IN("x", "w2"), IN("b"), NULL, 0);
  ow_buf ax = ow_attr_int("axis", 1);
  ow_node(w, "Concat", "cat", IN("a", "b"), IN("c"), &ax, 1);
  ow_node(w, "GlobalAveragePool", "gap", IN("c"), IN("g"), NULL, 0);
  ow_node(w, "Flatten", "fl", IN("g"), IN("f"), NULL, 0);
  ow_node(w, "MatMul", "mm", IN("f", "mw"), IN("m"), NULL, 0);
  ow_node(w, "Add", "add", IN("m", "mb"), IN("s"), NULL, 0);
  ow_node(w, "Dropout", "drop", IN("s"), IN("sd"), NULL, 0);
  ow_node(w, "Div", "div", IN("sd", "four"), IN("y"), NULL, 0);
  ow_output(w, "y");
}

static void se_block(onnx_w *w) {
  float w1[9], b1[3], eight = 8;
  weights(w1, 9, 8), weights(b1, 3, 9);
  int64_t wd[4] = {3, 3, 1, 1}, bd[1] = {3}, none = 0;
  start(w, 14);
  ow_init_f32(w, "w1", 4, wd, w1, OW_RAW);
  ow_init_f32(w, "b1", 1, bd, b1, OW_RAW);
  ow_init_f32(w, "eight", 0, &none, &eight, OW_RAW);
  ow_node(w, "GlobalAveragePool", "gap", IN("x"), IN("g"), NULL, 0);
  ow_node(w, "Conv", "fc", IN("g", "w1", "b1"), IN("f"), NULL, 0);
  ow_node(w, "Sigmoid", "sig", IN("f"), IN("s"), NULL, 0);
  ow_node(w, "Mul", "mul", IN("x", "s"), IN("m"), NULL, 0);
  ow_node(w, "Sub", "sub", IN("m", "eight"), IN("d"), NULL, 0);
  ow_node(w, "HardSwish", "hs", IN("d"), IN("h"), NULL, 0);
  ow_buf ah[2] = {ow_attr_float("alpha", 0.25f), ow_attr_float("beta", 0.125f)};
  ow_node(w, "HardSigmoid", "hsig", IN("h"), IN("y"), ah, 2);
  ow_output(w, "y");
}

static void pools_clip(onnx_w *w) {
  float wd3[3 * 9], lo = 0, hi = 6;
  weights(wd3, 27, 10);
  int64_t dd[4] = {3, 1, 3, 3}, none = 0, k2[2] = {2, 2}, k3[2] = {3, 3},
          p1[4] = {1, 1, 1, 1}, hw[2] = {2, 3}, two = 2, shp[2] = {0, -1};
  start(w, 13);
  ow_init_f32(w, "dw", 4, dd, wd3, OW_RAW);
  ow_init_f32(w, "lo", 0, &none, &lo, OW_RAW);
  ow_init_f32(w, "hi", 0, &none, &hi, OW_TYPED);
  ow_init_i64(w, "hw", 1, &two, hw, OW_RAW);
  ow_init_i64(w, "shp", 1, &two, shp, OW_TYPED);
  ow_buf am[2] = {ow_attr_ints("kernel_shape", k2, 2),
                  ow_attr_ints("strides", k2, 2)};
  ow_node(w, "MaxPool", "mp", IN("x"), IN("a"), am, 2);
  ow_buf aa[2] = {ow_attr_ints("kernel_shape", k3, 2),
                  ow_attr_ints("pads", p1, 4)};
  ow_node(w, "AveragePool", "ap", IN("a"), IN("b"), aa, 2);
  ow_buf ag[2] = {ow_attr_int("group", 3), ow_attr_ints("pads", p1, 4)};
  ow_node(w, "Conv", "dwc", IN("b", "dw"), IN("c"), ag, 2);
  ow_node(w, "Clip", "clip", IN("c", "lo", "hi"), IN("d"), NULL, 0);
  ow_node(w, "ReduceMean", "rm", IN("d", "hw"), IN("r"), NULL, 0);
  ow_node(w, "Squeeze", "sq", IN("r", "hw"), IN("q"), NULL, 0);
  ow_node(w, "Unsqueeze", "us", IN("q", "hw"), IN("u"), NULL, 0);
  ow_node(w, "Reshape", "rs", IN("u", "shp"), IN("y"), NULL, 0);
  ow_output(w, "y");
}

static int emit(const char *dir, const char *name, uint8_t *bytes,
                size_t size) {
  char path[4096];
  ims_model *m = NULL;
  ims_error err = {0};
  ims_status st = ims_model_load_memory(bytes, size, &m, &err);
  ims_model_destroy(m);
  snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
  FILE *f = fopen(path, "wb");
  int bad = f == NULL || fwrite(bytes, 1, size, f) != size;
  if (f != NULL && fclose(f) != 0) bad = 1;
  free(bytes);
  if (bad) fprintf(stderr, "%s: cannot write\n", path);
  if (st != IMS_OK)
    fprintf(stderr, "%s: loader refuses the seed: %s\n", name, err.message);
  return bad || st != IMS_OK;
}

/* Write OUTDIR/onnx/<name>.onnx; 0 if every seed was written and loads. */
int fuzz_seeds_onnx(const char *outdir) {
  static void (*const builders[])(onnx_w *) = {shape_chain, concat_matmul,
                                               se_block, pools_clip};
  static const char *const names[] = {"shape_chain", "concat_matmul",
                                      "se_block", "pools_clip"};
  char dir[4096];
  size_t n;
  int bad = 0;
  snprintf(dir, sizeof dir, "%s/onnx", outdir);
  uint8_t *bytes = tiny_model(TINY_RAW, NULL, &n);
  bad |= emit(dir, "tiny_raw", bytes, n);
  bytes = tiny_model(TINY_TYPED, NULL, &n);
  bad |= emit(dir, "tiny_typed", bytes, n);
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    onnx_w w;
    builders[k](&w);
    bytes = ow_finish(&w, &n);
    bad |= emit(dir, names[k], bytes, n);
  }
  return bad;
}
