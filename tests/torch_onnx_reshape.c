/* SPDX-License-Identifier: Apache-2.0 */
/*
 * torch_onnx_reshape.c - the ONNX loader's Reshape lowering on the shape
 * lists PyTorch exporters emit and on hostile ones. Models are written
 * by tests/support/onnx_writer.c: x [1, 3, 2, 2] -> GlobalAveragePool ->
 * Reshape (constant shape) -> y; no PyTorch needed.
 *
 *   torch_onnx_reshape_forms    [1, -1], [0, -1], [-1, 3], [1, 3] (what
 *                               x.view(x.size(0), -1) and x.flatten(1)
 *                               become at opsets 11-17) load, run, and
 *                               give the pooled values
 *   torch_onnx_reshape_hostile  dims whose product overflows int64 (it
 *                               used to wrap to 0 and divide by it:
 *                               SIGFPE), two -1s, -2, a 0 past the
 *                               input's rank, an empty shape, rank 9, a
 *                               wrong element count: IMS_ERR_BAD_MODEL or
 *                               IMS_ERR_UNSUPPORTED naming the node, never
 *                               a crash
 *
 * Threading: single-threaded.
 */
#include <stdint.h>

#include "imgstream/imgstream.h"
#include "support/onnx_writer.h"
#include "test.h"

/* The test model with Reshape shape `shape` (n values); ONNX bytes. */
static uint8_t *reshape_model(const int64_t *shape, int n, size_t *size) {
  onnx_w w;
  ow_init(&w, 13);
  const int64_t in_dims[4] = {1, 3, 2, 2};
  const int64_t shape_dims[1] = {n};
  ow_input(&w, "x", 4, in_dims);
  ow_init_i64(&w, "shape", 1, shape_dims, shape, OW_RAW);
  ow_node(&w, "GlobalAveragePool", "gap", (const char *[]){"x", NULL},
          (const char *[]){"g", NULL}, NULL, 0);
  ow_node(&w, "Reshape", "the_reshape", (const char *[]){"g", "shape", NULL},
          (const char *[]){"y", NULL}, NULL, 0);
  ow_output(&w, "y");
  return ow_finish(&w, size);
}

/* Load; returns the status, the model in *m when IMS_OK. */
static ims_status load(const int64_t *shape, int n, ims_model **m,
                       ims_error *err) {
  size_t size = 0;
  uint8_t *bytes = reshape_model(shape, n, &size);
  ims_status st = ims_model_load_memory(bytes, size, m, err);
  free(bytes);
  return st;
}

TEST(torch_onnx_reshape_forms) {
  static const int64_t forms[][2] = {{1, -1}, {0, -1}, {-1, 3}, {1, 3}};
  /* One image, channel c = 10 * c + pixel: the pooled value is the
   * channel's mean (the engine's input is uint8 RGB, normalized with
   * mean 0 and std 1/255, so the float input is the byte itself). */
  uint8_t rgb[2 * 2 * 3];
  for (int p = 0; p < 4; p++)
    for (int c = 0; c < 3; c++) rgb[p * 3 + c] = (uint8_t)(10 * c + p);
  for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
    ims_error err = {0};
    ims_model *m = NULL;
    ASSERT_OK(load(forms[f], 2, &m, &err), &err);
    ims_model_info info;
    ims_model_get_info(m, &info);
    ASSERT_EQ(info.output_count, 3);
    ims_engine_options eo;
    memset(&eo, 0, sizeof eo);
    eo.threads = 1;
    for (int c = 0; c < 3; c++) eo.std[c] = 1.0f / 255;
    ims_engine *e = NULL;
    ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
    float out[3];
    ASSERT_OK(ims_engine_run(e, rgb, 1, out, &err), &err);
    for (int c = 0; c < 3; c++) ASSERT_LE(fabs(out[c] - (10 * c + 1.5)), 1e-4);
    ims_engine_destroy(e);
    ims_model_destroy(m);
  }
}

/* A shape the loader must refuse with `want` in the message. */
static void refused(const int64_t *shape, int n, const char *want) {
  ims_error err = {0};
  ims_model *m = NULL;
  ims_status st = load(shape, n, &m, &err);
  if (st == IMS_OK) {
    ims_model_destroy(m);
    TEST__FAIL("shape of %d values (first %lld) loaded", n,
               (long long)shape[0]);
  }
  ASSERT(st == IMS_ERR_BAD_MODEL || st == IMS_ERR_UNSUPPORTED);
  ASSERT_CONTAINS(err.message, "the_reshape");
  ASSERT_CONTAINS(err.message, want);
  fprintf(stderr, "  refused: %s\n", err.message);
}

TEST(torch_onnx_reshape_hostile) {
  const int64_t big = (int64_t)1 << 32;
  refused((const int64_t[]){1, big, big, -1}, 4, "dimension 1 = 4294967296");
  refused((const int64_t[]){1, big, big, 3}, 4, "element count");
  refused((const int64_t[]){1, INT64_MAX, 2, -1}, 4, "element count");
  refused((const int64_t[]){1, INT64_MAX, INT64_MAX, INT64_MAX}, 4,
          "element count");
  refused((const int64_t[]){-1, -1}, 2, "more than one dimension is -1");
  refused((const int64_t[]){1, -2}, 2, "bad target dimension -2");
  refused((const int64_t[]){1, 3, 1, 1, 0}, 5, "bad target dimension 0");
  refused((const int64_t[]){0}, 0, "element count");
  refused((const int64_t[]){1, 3, 1, 1, 1, 1, 1, 1, 1}, 9,
          "target shape of 9 dimensions (at most 8)");
  refused((const int64_t[]){1, 4}, 2, "element count");
  refused((const int64_t[]){1, 5, -1}, 3, "dimension 1 = 5");
}

TEST_MAIN(torch_onnx_reshape_forms, torch_onnx_reshape_hostile)
