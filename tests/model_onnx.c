/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_onnx.c - the ONNX loader on well-formed files: detection by
 * content (whatever the file name), the graph it builds (BatchNorm folded
 * into the conv, Relu fused, one node per remaining layer), initializers
 * in raw_data, typed fields and external files giving the same results,
 * the model info (input size from the graph input, raw-score output).
 * Known answers are computed here (a plain loop over the tiny model), not
 * taken from imgstream's output.
 *
 * Threading: single-threaded test.
 */
#include "imgstream/imgstream.h"
#include "model/graph_int.h"
#include "support/model_onnx_common.h"
#include "test.h"

/* The tiny model's scores for an all-`v` image (every input pixel v):
 * conv over a constant image, BN, Relu, mean, Gemm - in double. */
static void tiny_answer(double v, double out[3]) {
  float cw[108], gw[12];
  tiny_weights(cw, 108);
  tiny_weights(gw, 12);
  double bn[4] = {1, 0.5, 2, 1}, g[4];
  for (int o = 0; o < 4; o++) {
    double sum = 0;
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        double s = 0;
        for (int i = 0; i < 3; i++)
          for (int k = 0; k < 9; k++) {
            int iy = y + k / 3 - 1, ix = x + k % 3 - 1;
            if (iy >= 0 && ix >= 0 && iy < 8 && ix < 8)
              s += cw[(o * 3 + i) * 9 + k] * v;
          }
        s = (s - bn[o]) / sqrt(bn[o] + 1e-5) * bn[o] + bn[o];
        sum += s > 0 ? s : 0;
      }
    g[o] = sum / 64;
  }
  double gb[3] = {1, 2, 3};
  for (int j = 0; j < 3; j++) {
    out[j] = gb[j];
    for (int o = 0; o < 4; o++) out[j] += gw[j * 4 + o] * g[o];
  }
}

/* Run a loaded tiny model on an all-100 image (mean 0, std 1/255). */
static void check_scores(const ims_model *m) {
  ims_engine *e = NULL;
  ims_error err = {0};
  ims_engine_options eo = {0};
  eo.threads = 1;
  for (int c = 0; c < 3; c++) eo.std[c] = 1.0f / 255.0f;
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  uint8_t img[8 * 8 * 3];
  memset(img, 100, sizeof img);
  float got[3];
  double want[3];
  ASSERT_OK(ims_engine_run(e, img, 1, got, &err), &err);
  tiny_answer(100, want);
  for (int j = 0; j < 3; j++) ASSERT_LE(fabs(got[j] - want[j]), 1e-3);
  ims_engine_destroy(e);
}

TEST(onnx_tiny_graph_and_info) {
  size_t size;
  uint8_t *b = tiny_model(TINY_RAW, NULL, &size);
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_memory(b, size, &m, &err), &err);
  ims_model_info info;
  ims_model_get_info(m, &info);
  ASSERT_STR_EQ(info.format, "onnx");
  ASSERT_EQ(info.input_height, 8);
  ASSERT_EQ(info.input_width, 8);
  ASSERT_EQ(info.input_channels, 3);
  ASSERT_EQ(info.input_type, IMS_TENSOR_F32);
  ASSERT_EQ(info.output_count, 3);
  ASSERT_EQ(info.output_logits, 1);
  /* conv (+BN folded, +Relu fused), mean, reshape, fully connected */
  ASSERT_EQ(m->node_count, 4);
  ASSERT_EQ(m->nodes[0].op, IMS__OP_CONV_2D);
  ASSERT_EQ(m->nodes[0].activation, IMS__ACT_RELU);
  ASSERT_EQ(m->nodes[0].input_count, 3);
  ASSERT_STR_EQ(m->nodes[0].source_name, "Conv");
  ASSERT_EQ(m->nodes[1].op, IMS__OP_MEAN);
  ASSERT_EQ(m->nodes[3].op, IMS__OP_FULLY_CONNECTED);
  check_scores(m);
  ims_model_destroy(m);
  free(b);
}

TEST(onnx_typed_fields_equal_raw) {
  size_t size;
  uint8_t *b = tiny_model(TINY_TYPED, NULL, &size);
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_memory(b, size, &m, &err), &err);
  check_scores(m);
  ims_model_destroy(m);
  free(b);
}

/* External weights next to the model; the file is named .tflite to show
 * detection is by content. */
TEST(onnx_external_data_and_detection) {
  float cw[108];
  tiny_weights(cw, 108);
  uint8_t blob[16 + sizeof cw];
  memset(blob, 0xEE, 16);
  memcpy(blob + 16, cw, sizeof cw);
  ASSERT_EQ(test_write_file(tmp_path("onnx_weights.bin"), blob, sizeof blob),
            0);
  size_t size;
  uint8_t *b = tiny_model(TINY_EXTERNAL, "onnx_weights.bin", &size);
  ASSERT_EQ(test_write_file(tmp_path("onnx_ext.tflite"), b, size), 0);
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_file(tmp_path("onnx_ext.tflite"), &m, &err), &err);
  check_scores(m);
  ims_model_destroy(m);
  /* From memory there is no folder to read it from. */
  ASSERT_EQ(ims_model_load_memory(b, size, &m, &err), IMS_ERR_UNSUPPORTED);
  ASSERT_CONTAINS(err.message, "onnx_weights.bin");
  free(b);
}

TEST_MAIN(onnx_tiny_graph_and_info, onnx_typed_fields_equal_raw,
          onnx_external_data_and_detection)
