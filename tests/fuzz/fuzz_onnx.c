/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_onnx.c - fuzz harness for the ONNX loader: the input is an ONNX
 * file (a protobuf ModelProto), loaded with ims_model_load_memory. That
 * reaches the protobuf reader (protobuf.c), the ModelProto/GraphProto
 * walk (onnx.c), constant folding of shape chains (onnx_fold.c) and the
 * lowering of every supported operator to the NHWC graph (onnx_ops.c,
 * onnx_layers.c) - the whole import runs at load time.
 *
 * Inputs that do not look like ONNX go to the TFLite reader or are
 * refused at once; the dictionary (onnx.dict: field keys, operator and
 * attribute names) and the seeds (small models from
 * tests/support/onnx_writer.c, written by fuzz_seeds) keep most runs
 * inside the ONNX reader.
 *
 * Invariants, as fuzz_tflite.c: a failed load says why (non-empty
 * message, status recorded) and leaves model_out alone; a model that
 * loads describes itself, with an NHWC input of non-zero dimensions and
 * at least one output value.
 *
 * Not here: building an engine for a fuzzed model (activation buffers of
 * up to 2^30 elements would make every run an out-of-memory report).
 *
 * Threading: single-threaded.
 */
#include <string.h>

#include "fuzz.h"
#include "imgstream/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ims_model *model = NULL;
  ims_error err;
  memset(&err, 0, sizeof err);
  ims_status st = ims_model_load_memory(data, size, &model, &err);
  if (st != IMS_OK) {
    if (err.message[0] == '\0') fuzz_fail("load failed silently", NULL);
    if (err.status != st) fuzz_fail("status not recorded", err.message);
    if (model != NULL) fuzz_fail("model_out set on failure", err.message);
    return 0;
  }
  ims_model_info info;
  ims_model_get_info(model, &info);
  if (info.format == NULL) fuzz_fail("model has no format name", NULL);
  if (info.input_height == 0 || info.input_width == 0 ||
      info.input_channels == 0)
    fuzz_fail("model input has a zero dimension", info.format);
  if (info.output_count == 0) fuzz_fail("model has no outputs", info.format);
  ims_model_destroy(model);
  return 0;
}
