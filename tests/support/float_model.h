/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/float_model.h - turn a loaded quantized model (graph_int.h
 * form) into a float32 TFLite file with the same operators: every weight
 * dequantized (real = scale * (q - zero_point), per channel where the
 * tensor is),
 * int32 biases scaled by input_scale * weight_scale, activations float32,
 * QUANTIZE / DEQUANTIZE dropped (their output aliases their input).
 *
 * Used by the infer_float_model test and the make_float_model tool (a
 * float MobileNetV2 for benchmarks). Test-only: written with
 * support/tflite_writer.c.
 *
 * Threading: no shared state.
 */
#ifndef IMS_TESTS_FLOAT_MODEL_H
#define IMS_TESTS_FLOAT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "imgstream/model.h"

/* Write the float32 twin of `model` (BORROWED). Returns malloc()ed file
 * bytes (caller frees) and their size, or NULL with a reason in `why`
 * (why_len bytes). */
uint8_t *fm_float_model(const ims_model *model, size_t *size_out, char *why,
                        size_t why_len);

#endif /* IMS_TESTS_FLOAT_MODEL_H */
