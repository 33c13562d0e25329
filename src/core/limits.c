/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.c - the defaults of ims_limits (include/imgstream/limits.h).
 * The limits themselves are checked where the input is read: decoder.c
 * (file bytes, pixels), model.c (model bytes, tensors, operators),
 * classifier.c (batch memory).
 *
 * Threading: no shared state.
 */
#include "imgstream/limits.h"

#include <string.h>

#include "imgstream/image.h"

void ims_limits_default(ims_limits *out) {
  memset(out, 0, sizeof *out);
  out->max_file_bytes = IMS_DEFAULT_MAX_FILE_BYTES;
  out->max_pixels = IMS_DEFAULT_MAX_PIXELS;
  out->max_model_bytes = IMS_DEFAULT_MAX_MODEL_BYTES;
  out->max_tensors = IMS_DEFAULT_MAX_TENSORS;
  out->max_operators = IMS_DEFAULT_MAX_OPERATORS;
  out->max_batch_bytes = IMS_DEFAULT_MAX_BATCH_BYTES;
}

void ims_limits_resolve(const ims_limits *in, ims_limits *out) {
  ims_limits d;
  ims_limits_default(&d);
  if (in == NULL) {
    *out = d;
    return;
  }
  *out = *in;
  if (out->max_file_bytes == 0) out->max_file_bytes = d.max_file_bytes;
  if (out->max_pixels == 0) out->max_pixels = d.max_pixels;
  if (out->max_model_bytes == 0) out->max_model_bytes = d.max_model_bytes;
  if (out->max_tensors == 0) out->max_tensors = d.max_tensors;
  if (out->max_operators == 0) out->max_operators = d.max_operators;
  if (out->max_batch_bytes == 0) out->max_batch_bytes = d.max_batch_bytes;
}
