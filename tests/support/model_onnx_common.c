/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/model_onnx_common.c - see model_onnx_common.h.
 *
 * Threading: no shared state.
 */
#include "support/model_onnx_common.h"

void tiny_weights(float *w, size_t n) {
  for (size_t k = 0; k < n; k++) w[k] = (float)((int)(k % 7) - 3) / 8.0f;
}

void tiny_graph(onnx_w *w, int weights, const char *location) {
  float cw[4 * 3 * 9], bn[4] = {1, 0.5f, 2, 1}, gw[3 * 4], gb[3] = {1, 2, 3};
  tiny_weights(cw, 108);
  tiny_weights(gw, 12);
  int64_t in[4] = {-1, 3, 8, 8}, cd[4] = {4, 3, 3, 3}, d4[1] = {4},
          gd[2] = {3, 4}, gbd[1] = {3}, pads[4] = {1, 1, 1, 1};
  ow_init(w, 13);
  ow_input(w, "image", 4, in);
  if (weights == TINY_EXTERNAL)
    ow_init_external(w, "cw", 4, cd, location, 16, 108 * 4);
  else
    ow_init_f32(w, "cw", 4, cd, cw, weights == TINY_RAW ? OW_RAW : OW_TYPED);
  ow_init_f32(w, "scale", 1, d4, bn, OW_RAW);
  ow_init_f32(w, "bias", 1, d4, bn, OW_TYPED);
  ow_init_f32(w, "mean", 1, d4, bn, OW_RAW);
  ow_init_f32(w, "var", 1, d4, bn, OW_RAW);
  ow_init_f32(w, "gw", 2, gd, gw, OW_RAW);
  ow_init_f32(w, "gb", 1, gbd, gb, OW_RAW);
  ow_buf pa = ow_attr_ints("pads", pads, 4);
  ow_node(w, "Conv", "conv", (const char *[]){"image", "cw", NULL},
          (const char *[]){"c", NULL}, &pa, 1);
  ow_node(w, "BatchNormalization", "bn",
          (const char *[]){"c", "scale", "bias", "mean", "var", NULL},
          (const char *[]){"b", NULL}, NULL, 0);
  ow_node(w, "Relu", "relu", (const char *[]){"b", NULL},
          (const char *[]){"r", NULL}, NULL, 0);
  ow_node(w, "GlobalAveragePool", "gap", (const char *[]){"r", NULL},
          (const char *[]){"g", NULL}, NULL, 0);
  ow_node(w, "Flatten", "flat", (const char *[]){"g", NULL},
          (const char *[]){"f", NULL}, NULL, 0);
  ow_buf tb = ow_attr_int("transB", 1);
  ow_node(w, "Gemm", "fc", (const char *[]){"f", "gw", "gb", NULL},
          (const char *[]){"logits", NULL}, &tb, 1);
}

uint8_t *tiny_model(int weights, const char *location, size_t *size) {
  onnx_w w;
  tiny_graph(&w, weights, location);
  ow_output(&w, "logits");
  return ow_finish(&w, size);
}

