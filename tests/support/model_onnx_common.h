/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/model_onnx_common.h - the small ONNX classifier the
 * model_onnx* tests (and faults.c, fuzz/seeds_onnx.c) start from:
 * [N,3,8,8] -> Conv 3x3 (4 channels) -> BatchNormalization -> Relu ->
 * GlobalAveragePool -> Flatten -> Gemm (3 scores), written with
 * onnx_writer.c. `weights` chooses where the conv weights live: inline
 * raw_data, typed float_data, or an external file (location, offset 16).
 * Built once into ims_test_support (model_onnx_common.c).
 *
 * Threading: test-only, single-threaded.
 */
#ifndef IMS_TESTS_MODEL_ONNX_COMMON_H
#define IMS_TESTS_MODEL_ONNX_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "support/onnx_writer.h"

enum { TINY_RAW, TINY_TYPED, TINY_EXTERNAL };

/* n weights cycling through -3/8 .. 3/8 (the values the model uses). */
void tiny_weights(float *w, size_t n);

/* The writer for the tiny model up to (not including) its output. */
void tiny_graph(onnx_w *w, int weights, const char *location);

/* The whole model as bytes (malloc()ed, *size long; caller frees). */
uint8_t *tiny_model(int weights, const char *location, size_t *size);

#endif /* IMS_TESTS_MODEL_ONNX_COMMON_H */
