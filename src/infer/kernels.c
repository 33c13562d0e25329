/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernels.c - running a step: XNNPACK operators, and the few portable
 * kernels for work too small or too type-specific for XNNPACK (8-bit
 * requantization and dequantization by table, 8-bit softmax), or that
 * this XNNPACK lacks (float hard sigmoid, channel concatenation).
 *
 * These kernels are O(elements) with no reuse, and on MobileNetV2 they
 * touch ~1 % of the bytes the convolutions do, so they run on the
 * calling thread.
 *
 * Threading: per-engine; see infer.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error_int.h"
#include "infer/infer_int.h"

static void run_lut8(const ims__step *s, size_t n) {
  const uint8_t *in = s->in;
  uint8_t *out = s->out;
  for (size_t i = 0; i < n; i++) out[i] = s->lut[in[i]];
}

static void run_dequant8(const ims__step *s, size_t n) {
  const uint8_t *in = s->in;
  float *out = s->out;
  for (size_t i = 0; i < n; i++) out[i] = s->flut[in[i]];
}

/* Softmax of one row of 8-bit logits into 8-bit probabilities. */
static void softmax_row(const ims__step *s, const uint8_t *in, uint8_t *out,
                        float *scratch) {
  size_t c = s->channels;
  float max = -INFINITY, sum = 0.0f;
  for (size_t i = 0; i < c; i++)
    if (s->flut[in[i]] > max) max = s->flut[in[i]];
  for (size_t i = 0; i < c; i++) {
    scratch[i] = expf(s->flut[in[i]] - max);
    sum += scratch[i];
  }
  long lo = s->out_u8 ? 0 : -128, hi = s->out_u8 ? 255 : 127;
  float inv = 1.0f / (sum * s->out_scale);
  for (size_t i = 0; i < c; i++) {
    long q = lrintf(scratch[i] * inv) + s->out_zero_point;
    q = q < lo ? lo : (q > hi ? hi : q);
    out[i] = (uint8_t)(int8_t)q;
  }
}

/* `scratch` holds one row of floats; the output buffer of this step has
 * room only for bytes, so the engine lends its float scratch. */
static void run_softmax_q8(const ims__step *s, size_t batch, float *scratch) {
  const uint8_t *in = s->in;
  uint8_t *out = s->out;
  for (size_t r = 0; r < batch * s->rows; r++)
    softmax_row(s, in + r * s->channels, out + r * s->channels, scratch);
}

static void run_hard_sigmoid(const ims__step *s, size_t n) {
  const float *in = s->in;
  float *out = s->out;
  float a = s->node->alpha, b = s->node->beta;
  for (size_t i = 0; i < n; i++) {
    float v = a * in[i] + b;
    out[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
}

/* Rows of the output are the inputs' rows side by side. */
static void run_concat(const ims__step *s, size_t batch) {
  float *out = s->out;
  size_t rows = batch * s->rows;
  for (size_t r = 0; r < rows; r++) {
    for (uint32_t k = 0; k < s->node->input_count; k++) {
      const float *in = (const float *)s->ins[k] + r * s->parts[k];
      memcpy(out, in, s->parts[k] * sizeof *out);
      out += s->parts[k];
    }
  }
}

ims_status ims__step_run(ims__step *s, size_t batch, pthreadpool_t pool,
                         float *scratch, ims_error *err) {
  switch (s->kind) {
    case IMS__STEP_XNN:
      return ims__xnn_result(xnn_run_operator(s->op, pool), s, "run", err);
    case IMS__STEP_DNNL: return ims__dnnl_step_run(s, pool, err);
    case IMS__STEP_DW:
      ims__dw_layer_run(s->dw, s->in, s->out, batch, pool);
      return IMS_OK;
    case IMS__STEP_VIEW: return IMS_OK;
    case IMS__STEP_LUT8: run_lut8(s, batch * s->in_per_image); return IMS_OK;
    case IMS__STEP_DEQUANT8:
      run_dequant8(s, batch * s->in_per_image);
      return IMS_OK;
    case IMS__STEP_SOFTMAX_Q8: run_softmax_q8(s, batch, scratch); return IMS_OK;
    case IMS__STEP_HARD_SIGMOID:
      run_hard_sigmoid(s, batch * s->in_per_image);
      return IMS_OK;
    case IMS__STEP_CONCAT: run_concat(s, batch); return IMS_OK;
  }
  return IMS_OK;
}
