/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernels.c - the small portable kinds of step, for work too small or too
 * type-specific for XNNPACK, or that this XNNPACK lacks:
 *   view          RESHAPE: the output aliases the input (plan.c), nothing
 *                 to run;
 *   lut8          8-bit QUANTIZE (requantization): a 256-entry table;
 *   dequant8      DEQUANTIZE, 8-bit to float: a 256-entry table;
 *   softmax_q8    8-bit SOFTMAX, computed in float;
 *   hard_sigmoid  float HARD_SIGMOID: clamp(alpha * x + beta, 0, 1);
 *   concat        float CONCATENATE along channels: rows copied.
 * step.c's ims__step_choose sends nodes here; float QUANTIZE and SOFTMAX
 * go to XNNPACK (xnn_ops.c).
 *
 * These kernels are O(elements) with no reuse, and on MobileNetV2 they
 * touch ~1 % of the bytes the convolutions do, so they run on the
 * calling thread. They need no setup: every run reads the batch size.
 *
 * Sections: 1. creation (tables) 2. kernels (run) 3. the ops tables.
 *
 * Threading: per engine; see infer_int.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error_int.h"
#include "infer/infer_int.h"

/* ---- 1. creation ----------------------------------------------------- */

static const ims__tensor *tin(const ims_model *m, const ims__step *s, int k) {
  return &m->tensors[s->node->inputs[k]];
}

static const ims__tensor *tout(const ims_model *m, const ims__step *s) {
  return &m->tensors[s->node->output];
}

/* Real value of raw byte b of a quantized tensor. */
static float q8_real(const ims__tensor *t, unsigned b) {
  int32_t q = t->type == IMS_TENSOR_U8 ? (int32_t)b : (int32_t)(int8_t)b;
  return t->scale * (float)(q - t->zero_point);
}

static uint8_t q8_quantize(const ims__tensor *t, float real) {
  long q = lrintf(real / t->scale) + t->zero_point;
  long lo = t->type == IMS_TENSOR_U8 ? 0 : -128;
  long hi = t->type == IMS_TENSOR_U8 ? 255 : 127;
  q = q < lo ? lo : (q > hi ? hi : q);
  return (uint8_t)(int8_t)q;
}

static ims_status view_create(const ims__step_env *env, ims__step *s,
                              ims_error *err) {
  s->ops = &ims__step_view;
  return IMS_OK;
}

/* 8-bit to 8-bit QUANTIZE (step.c checks the types). */
static ims_status lut8_create(const ims__step_env *env, ims__step *s,
                              ims_error *err) {
  const ims__tensor *in = tin(env->model, s, 0), *o = tout(env->model, s);
  for (unsigned b = 0; b < 256; b++)
    s->lut[b] = q8_quantize(o, q8_real(in, b));
  s->ops = &ims__step_lut8;
  return IMS_OK;
}

static ims_status dequant8_create(const ims__step_env *env, ims__step *s,
                                  ims_error *err) {
  const ims__tensor *in = tin(env->model, s, 0), *o = tout(env->model, s);
  if (!ims__is_q8(in->type) || o->type != IMS_TENSOR_F32)
    return ims__step_unsupported(s, "DEQUANTIZE between these types", err);
  for (unsigned b = 0; b < 256; b++) s->flut[b] = q8_real(in, b);
  s->ops = &ims__step_dequant8;
  return IMS_OK;
}

/* 8-bit SOFTMAX (step.c checks the types). Small (one row of ~1000 per
 * image): exp in float is exact enough and cheaper than it looks;
 * XNNPACK has no int8 softmax here. */
static ims_status softmax_q8_create(const ims__step_env *env, ims__step *s,
                                    ims_error *err) {
  const ims__tensor *in = tin(env->model, s, 0), *o = tout(env->model, s);
  s->channels = in->shape[in->rank - 1];
  s->rows = s->in_per_image / s->channels;
  for (unsigned b = 0; b < 256; b++)
    s->flut[b] = q8_real(in, b) * s->node->beta;
  s->out_scale = o->scale;
  s->out_zero_point = o->zero_point;
  s->out_u8 = o->type == IMS_TENSOR_U8;
  s->ops = &ims__step_softmax_q8;
  return IMS_OK;
}

static ims_status hard_sigmoid_create(const ims__step_env *env,
                                      ims__step *s, ims_error *err) {
  const ims__tensor *in = tin(env->model, s, 0), *o = tout(env->model, s);
  if (in->type != IMS_TENSOR_F32 || o->type != IMS_TENSOR_F32)
    return ims__step_unsupported(s, "non-float input", err);
  s->channels = in->rank > 0 ? in->shape[in->rank - 1] : 1;
  s->rows = s->in_per_image / s->channels;
  s->ops = &ims__step_hard_sigmoid;
  return IMS_OK;
}

/* Concatenation along the last dimension: rows copied. */
static ims_status concat_create(const ims__step_env *env, ims__step *s,
                                ims_error *err) {
  const ims__tensor *o = tout(env->model, s);
  s->channels = o->shape[o->rank - 1];
  s->rows = s->out_per_image / s->channels;
  size_t sum = 0;
  for (uint32_t k = 0; k < s->node->input_count; k++) {
    const ims__tensor *t = tin(env->model, s, (int)k);
    if (t->type != IMS_TENSOR_F32 || t->data != NULL)
      return ims__step_unsupported(s, "non-float or constant input", err);
    s->parts[k] = t->shape[t->rank - 1];
    sum += s->parts[k];
  }
  if (sum != s->channels)
    return ims__step_unsupported(
        s, "input channels do not add up to the output", err);
  s->ops = &ims__step_concat;
  return IMS_OK;
}

/* ---- 2. kernels (run) ------------------------------------------------ */

static ims_status view_run(ims__step *s, size_t batch, const ims__par *par,
                           float *scratch, ims_error *err) {
  return IMS_OK; /* the output is the input */
}

static ims_status lut8_run(ims__step *s, size_t batch, const ims__par *par,
                           float *scratch, ims_error *err) {
  const uint8_t *in = s->in;
  uint8_t *out = s->out;
  size_t n = batch * s->in_per_image;
  for (size_t i = 0; i < n; i++) out[i] = s->lut[in[i]];
  return IMS_OK;
}

static ims_status dequant8_run(ims__step *s, size_t batch,
                               const ims__par *par, float *scratch,
                               ims_error *err) {
  const uint8_t *in = s->in;
  float *out = s->out;
  size_t n = batch * s->in_per_image;
  for (size_t i = 0; i < n; i++) out[i] = s->flut[in[i]];
  return IMS_OK;
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
static ims_status softmax_q8_run(ims__step *s, size_t batch,
                                 const ims__par *par, float *scratch,
                                 ims_error *err) {
  const uint8_t *in = s->in;
  uint8_t *out = s->out;
  for (size_t r = 0; r < batch * s->rows; r++)
    softmax_row(s, in + r * s->channels, out + r * s->channels, scratch);
  return IMS_OK;
}

static ims_status hard_sigmoid_run(ims__step *s, size_t batch,
                                   const ims__par *par, float *scratch,
                                   ims_error *err) {
  const float *in = s->in;
  float *out = s->out;
  float a = s->node->alpha, b = s->node->beta;
  size_t n = batch * s->in_per_image;
  for (size_t i = 0; i < n; i++) {
    float v = a * in[i] + b;
    out[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
  return IMS_OK;
}

/* Rows of the output are the inputs' rows side by side. */
static ims_status concat_run(ims__step *s, size_t batch, const ims__par *par,
                             float *scratch, ims_error *err) {
  float *out = s->out;
  size_t rows = batch * s->rows;
  for (size_t r = 0; r < rows; r++) {
    for (uint32_t k = 0; k < s->node->input_count; k++) {
      const float *in = (const float *)s->ins[k] + r * s->parts[k];
      memcpy(out, in, s->parts[k] * sizeof *out);
      out += s->parts[k];
    }
  }
  return IMS_OK;
}

/* ---- 3. the ops tables ----------------------------------------------- */

/* No setup (every run reads the batch size), nothing to destroy. */
const ims__step_ops ims__step_view = {"view", view_create, NULL, view_run,
                                      NULL};
const ims__step_ops ims__step_lut8 = {"lut8", lut8_create, NULL, lut8_run,
                                      NULL};
const ims__step_ops ims__step_dequant8 = {"dequant8", dequant8_create, NULL,
                                          dequant8_run, NULL};
const ims__step_ops ims__step_softmax_q8 = {
    "softmax_q8", softmax_q8_create, NULL, softmax_q8_run, NULL};
const ims__step_ops ims__step_hard_sigmoid = {
    "hard_sigmoid", hard_sigmoid_create, NULL, hard_sigmoid_run, NULL};
const ims__step_ops ims__step_concat = {"concat", concat_create, NULL,
                                        concat_run, NULL};
