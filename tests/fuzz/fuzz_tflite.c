/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tflite.c - fuzz harness for the model loader: the input is a model
 * file, loaded with ims_model_load_memory (format sniffed from content, so
 * this reaches the TFLite reader - flatbuf.c, tflite.c - and any other
 * format model.c recognizes).
 *
 * Invariants checked besides memory safety: a failed load says why (a
 * non-empty message, the status echoed in the error record) and leaves
 * model_out alone; a model that loads can describe itself
 * (ims_model_get_info reads its input and output tensors).
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
  ims_model_destroy(model);
  return 0;
}
