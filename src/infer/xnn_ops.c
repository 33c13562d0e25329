/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xnn_ops.c - the step kind "xnnpack" (ims__step_xnn): graph nodes as
 * XNNPACK operators, created once with their weights, set up for a batch
 * size, run, deleted.
 *
 * Type dispatch, per node:
 *   uint8 activations, uint8 per-tensor weights   -> XNNPACK *_qu8
 *   int8 activations, int8 per-channel or
 *   per-tensor weights                           -> XNNPACK *_qc8 (conv,
 *                                                   and FC as 1x1 conv),
 *                                                   *_qs8 (add, pooling)
 *   float32                                      -> XNNPACK *_f32
 *   float QUANTIZE                               -> XNNPACK convert
 *   float SOFTMAX, MUL/SUB/DIV, SIGMOID,
 *   HARD_SWISH, CLAMP, MAX_POOL_2D               -> XNNPACK *_f32
 * Not here: what step.c's ims__step_choose gives other kinds - 8-bit
 * QUANTIZE and SOFTMAX, DEQUANTIZE, RESHAPE, float HARD_SIGMOID and
 * CONCATENATE (kernels.c; XNNPACK here has no hard sigmoid or concat),
 * and the convolutions oneDNN or our depthwise kernel take. Anything else
 * fails at engine creation with IMS_ERR_UNSUPPORTED, naming the operator
 * and its index in the model file.
 *
 * Sections: 1. helpers (ranges, padding, errors) 2. create, per op
 * 3. setup, per op 4. run, destroy, the ops table.
 *
 * Threading: operators are owned by one engine; see infer_int.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "infer/infer_int.h"

/* ---- 1. helpers ------------------------------------------------------ */

const char *ims__xnn_status_str(enum xnn_status s) {
  switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "XNNPACK not initialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown XNNPACK status";
}

static const ims__tensor *tin(const ims_model *m, const ims__step *s, int k) {
  return &m->tensors[s->node->inputs[k]];
}

static const ims__tensor *tout(const ims_model *m, const ims__step *s) {
  return &m->tensors[s->node->output];
}

/* IMS_OK for xnn_status_success; otherwise fails `err` with "<node>
 * (operator N): XNNPACK <what> failed: <status>", as IMS_ERR_NO_MEMORY,
 * IMS_ERR_UNSUPPORTED or IMS_ERR_BACKEND after the status. */
static ims_status xnn_result(enum xnn_status xs, const ims__step *s,
                             const char *what, ims_error *err) {
  if (xs == xnn_status_success) return IMS_OK;
  ims_status st = (xs == xnn_status_out_of_memory) ? IMS_ERR_NO_MEMORY
                  : (xs == xnn_status_unsupported_parameter)
                      ? IMS_ERR_UNSUPPORTED
                      : IMS_ERR_BACKEND;
  return ims__fail(err, st, "%s (operator %u): XNNPACK %s failed: %s",
                   s->node->source_name, s->node->source_index, what,
                   ims__xnn_status_str(xs));
}

static void f32_range(ims__activation act, float *lo, float *hi) {
  *lo = act == IMS__ACT_NONE ? -INFINITY : 0.0f;
  *hi = act == IMS__ACT_RELU6 ? 6.0f : INFINITY;
}

/* TensorFlow padding of one spatial dimension, as explicit before/after. */
static void same_padding(uint32_t in, uint32_t k, uint32_t stride,
                         uint32_t dil, uint32_t *before, uint32_t *after) {
  uint32_t out = (in + stride - 1) / stride;
  uint32_t eff = (k - 1) * dil + 1;
  int64_t total = (int64_t)(out - 1) * stride + eff - in;
  if (total < 0) total = 0;
  *before = (uint32_t)(total / 2);
  *after = (uint32_t)(total - total / 2);
}

typedef struct pads { uint32_t top, right, bottom, left; } pads;

static pads node_pads(const ims__node *n, const ims__tensor *in, uint32_t kh,
                      uint32_t kw) {
  pads p = {0, 0, 0, 0};
  if (n->padding == IMS__PAD_SAME) {
    same_padding(in->shape[1], kh, n->stride_h, n->dilation_h, &p.top,
                 &p.bottom);
    same_padding(in->shape[2], kw, n->stride_w, n->dilation_w, &p.left,
                 &p.right);
  } else if (n->padding == IMS__PAD_EXPLICIT) {
    p = (pads){n->pad_top, n->pad_right, n->pad_bottom, n->pad_left};
  }
  return p;
}

/* ---- 2. create ------------------------------------------------------- */

/* Which xnn_setup_* call a step needs. */
enum variant {
  V_CONV_QU8, V_CONV_QC8, V_CONV_F32, V_FC_QU8, V_FC_F32, V_ADD_QU8,
  V_ADD_QS8, V_ADD_F32, V_GAP_QU8, V_GAP_QS8, V_GAP_F32, V_AVG_QU8,
  V_AVG_F32, V_PAD_X8, V_PAD_X32, V_TO_QU8, V_TO_QS8, V_SOFTMAX_F32,
  V_MUL_F32, V_SUB_F32, V_DIV_F32, V_SIGMOID_F32, V_HSWISH_F32,
  V_CLAMP_F32, V_MAX_F32
};

/* Geometry of a convolution as XNNPACK wants it. */
typedef struct conv_geom {
  pads pad;              /* explicit padding */
  uint32_t kh, kw;       /* kernel size */
  uint32_t sh, sw;       /* strides */
  uint32_t dh, dw;       /* dilations */
  uint32_t groups;       /* 1, or channels for depthwise */
  size_t gic, goc;       /* per-group input / output channels */
  uint32_t flags;        /* XNN_FLAG_DEPTHWISE_CONVOLUTION or 0 */
} conv_geom;

static ims_status conv_geometry(const ims_model *m, const ims__step *s,
                                conv_geom *g, ims_error *err) {
  const ims__node *n = s->node;
  const ims__tensor *in = tin(m, s, 0), *w = tin(m, s, 1);
  uint32_t in_c = in->shape[3];
  memset(g, 0, sizeof *g);
  g->kh = w->shape[1];
  g->kw = w->shape[2];
  g->sh = n->stride_h ? n->stride_h : 1;
  g->sw = n->stride_w ? n->stride_w : 1;
  g->dh = n->dilation_h ? n->dilation_h : 1;
  g->dw = n->dilation_w ? n->dilation_w : 1;
  if (n->op == IMS__OP_DEPTHWISE_CONV_2D) {
    g->groups = in_c;
    g->gic = 1;
    g->goc = w->shape[3] / in_c;
    g->flags = XNN_FLAG_DEPTHWISE_CONVOLUTION;
  } else {
    if (w->shape[3] == 0 || in_c % w->shape[3] != 0)
      return ims__step_unsupported(s, "input channels do not match the weights",
                                   err);
    g->groups = in_c / w->shape[3];
    g->gic = w->shape[3];
    g->goc = w->shape[0] / g->groups;
  }
  g->pad = node_pads(n, in, g->kh, g->kw);
  return IMS_OK;
}

static ims_status conv_create_qu8(const ims_model *m, ims__step *s,
                                  const conv_geom *g, ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *w = tin(m, s, 1), *o = tout(m, s);
  const int32_t *bias = s->node->input_count > 2 ? tin(m, s, 2)->data : NULL;
  int32_t lo, hi;
  ims__q8_range(o, s->node->activation, &lo, &hi);
  if (w->channel_scales != NULL)
    return ims__step_unsupported(s, "per-channel uint8 weights", err);
  s->variant = V_CONV_QU8;
  enum xnn_status xs = xnn_create_convolution2d_nhwc_qu8(
      g->pad.top, g->pad.right, g->pad.bottom, g->pad.left, g->kh, g->kw,
      g->sh, g->sw, g->dh, g->dw, g->groups, g->gic, g->goc,
      g->groups * g->gic, g->groups * g->goc, (uint8_t)in->zero_point,
      in->scale, (uint8_t)w->zero_point, w->scale, w->data, bias,
      (uint8_t)o->zero_point, o->scale, (uint8_t)lo, (uint8_t)hi, g->flags,
      &s->op);
  return xnn_result(xs, s, "convolution (qu8) creation", err);
}

/* Per-channel scales of an int8 weight tensor, replicated if per-tensor.
 * Returns a malloc()ed array of `count` floats, or NULL. */
static float *weight_scales(const ims__tensor *w, size_t count) {
  float *scales = malloc(count * sizeof *scales);
  if (scales == NULL) return NULL;
  for (size_t i = 0; i < count; i++)
    scales[i] = w->channel_scales != NULL ? w->channel_scales[i] : w->scale;
  return scales;
}

static ims_status conv_create_qc8(const ims_model *m, ims__step *s,
                                  const conv_geom *g, ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *w = tin(m, s, 1), *o = tout(m, s);
  const int32_t *bias = s->node->input_count > 2 ? tin(m, s, 2)->data : NULL;
  size_t out_c = g->groups * g->goc;
  if (w->channel_scales != NULL && w->channel_count != out_c)
    return ims__step_unsupported(s, "weight scales are not per output channel",
                                 err);
  if (w->zero_point != 0)
    return ims__step_unsupported(s, "int8 weights with a non-zero zero point",
                                 err);
  float *scales = weight_scales(w, out_c);
  s->variant = V_CONV_QC8;
  if (scales == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "no memory");
  int32_t lo, hi;
  ims__q8_range(o, s->node->activation, &lo, &hi);
  enum xnn_status xs = xnn_create_convolution2d_nhwc_qc8(
      g->pad.top, g->pad.right, g->pad.bottom, g->pad.left, g->kh, g->kw,
      g->sh, g->sw, g->dh, g->dw, g->groups, g->gic, g->goc,
      g->groups * g->gic, out_c, (int8_t)in->zero_point, in->scale, scales,
      w->data, bias, (int8_t)o->zero_point, o->scale, (int8_t)lo,
      (int8_t)hi, g->flags, &s->op);
  free(scales); /* XNNPACK folds the scales into its packed weights */
  return xnn_result(xs, s, "convolution (qc8) creation", err);
}

static ims_status conv_create_f32(const ims_model *m, ims__step *s,
                                  const conv_geom *g, ims_error *err) {
  const ims__tensor *w = tin(m, s, 1);
  const float *bias = s->node->input_count > 2 ? tin(m, s, 2)->data : NULL;
  float lo, hi;
  f32_range(s->node->activation, &lo, &hi);
  s->variant = V_CONV_F32;
  enum xnn_status xs = xnn_create_convolution2d_nhwc_f32(
      g->pad.top, g->pad.right, g->pad.bottom, g->pad.left, g->kh, g->kw,
      g->sh, g->sw, g->dh, g->dw, g->groups, g->gic, g->goc,
      g->groups * g->gic, g->groups * g->goc, w->data, bias, lo, hi,
      g->flags, &s->op);
  return xnn_result(xs, s, "convolution (f32) creation", err);
}

static ims_status conv_create(const ims_model *m, ims__step *s,
                              ims_error *err) {
  conv_geom g;
  ims_status st = conv_geometry(m, s, &g, err);
  if (st != IMS_OK) return st;
  ims_tensor_type it = tin(m, s, 0)->type, wt = tin(m, s, 1)->type;
  if (it == IMS_TENSOR_U8 && wt == IMS_TENSOR_U8)
    return conv_create_qu8(m, s, &g, err);
  if (it == IMS_TENSOR_I8 && wt == IMS_TENSOR_I8)
    return conv_create_qc8(m, s, &g, err);
  if (it == IMS_TENSOR_F32 && wt == IMS_TENSOR_F32)
    return conv_create_f32(m, s, &g, err);
  return ims__step_unsupported(s, "this input/weight type combination", err);
}


static ims_status fc_create_q8(const ims_model *m, ims__step *s,
                               ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *w = tin(m, s, 1), *o = tout(m, s);
  const int32_t *bias = s->node->input_count > 2 ? tin(m, s, 2)->data : NULL;
  if (in->type == IMS_TENSOR_I8) {
    /* XNNPACK has no per-channel fully connected: a 1x1 convolution over
     * one-pixel images is the same computation and has qc8 kernels. */
    conv_geom g = {{0, 0, 0, 0}, 1, 1, 1, 1, 1, 1, 1, w->shape[1],
                   w->shape[0], 0};
    s->variant = V_CONV_QC8;
    return conv_create_qc8(m, s, &g, err);
  }
  if (w->channel_scales != NULL)
    return ims__step_unsupported(s, "per-channel uint8 weights", err);
  int32_t lo, hi;
  ims__q8_range(o, s->node->activation, &lo, &hi);
  s->variant = V_FC_QU8;
  enum xnn_status xs = xnn_create_fully_connected_nc_qu8(
      w->shape[1], w->shape[0], w->shape[1], w->shape[0],
      (uint8_t)in->zero_point, in->scale, (uint8_t)w->zero_point, w->scale,
      w->data, bias, (uint8_t)o->zero_point, o->scale, (uint8_t)lo,
      (uint8_t)hi, 0, &s->op);
  return xnn_result(xs, s, "fully connected (qu8) creation", err);
}

static ims_status fc_create(const ims_model *m, ims__step *s,
                            ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *w = tin(m, s, 1);
  if (w->rank != 2 || s->in_per_image % w->shape[1] != 0)
    return ims__step_unsupported(s, "weights are not {outputs, inputs}", err);
  if (ims__is_q8(in->type) && in->type == w->type)
    return fc_create_q8(m, s, err);
  if (in->type != IMS_TENSOR_F32 || w->type != IMS_TENSOR_F32)
    return ims__step_unsupported(s, "this input/weight type combination", err);
  const float *bias = s->node->input_count > 2 ? tin(m, s, 2)->data : NULL;
  float lo, hi;
  f32_range(s->node->activation, &lo, &hi);
  s->variant = V_FC_F32;
  enum xnn_status xs = xnn_create_fully_connected_nc_f32(
      w->shape[1], w->shape[0], w->shape[1], w->shape[0], w->data, bias, lo,
      hi, 0, &s->op);
  return xnn_result(xs, s, "fully connected (f32) creation", err);
}

/* Float MUL, SUB, DIV (ADD: add_create). */
static ims_status binary_create(const ims_model *m, ims__step *s,
                                ims_error *err) {
  const ims__tensor *a = tin(m, s, 0), *b = tin(m, s, 1), *o = tout(m, s);
  enum xnn_status xs;
  float lo, hi;
  if (a->type != IMS_TENSOR_F32 || b->type != IMS_TENSOR_F32 ||
      o->type != IMS_TENSOR_F32)
    return ims__step_unsupported(s, "non-float arithmetic", err);
  f32_range(s->node->activation, &lo, &hi);
  if (s->node->op == IMS__OP_MUL) {
    s->variant = V_MUL_F32;
    xs = xnn_create_multiply_nd_f32(lo, hi, 0, &s->op);
  } else if (s->node->op == IMS__OP_SUB) {
    s->variant = V_SUB_F32;
    xs = xnn_create_subtract_nd_f32(lo, hi, 0, &s->op);
  } else {
    s->variant = V_DIV_F32;
    xs = xnn_create_divide_nd_f32(lo, hi, 0, &s->op);
  }
  return xnn_result(xs, s, "binary operator creation", err);
}

/* Float element-wise SIGMOID / HARD_SWISH / CLAMP over rows of the last
 * dimension. */
static ims_status unary_create(const ims_model *m, ims__step *s,
                               ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *o = tout(m, s);
  size_t c = in->rank > 0 ? in->shape[in->rank - 1] : 1;
  enum xnn_status xs;
  if (in->type != IMS_TENSOR_F32 || o->type != IMS_TENSOR_F32)
    return ims__step_unsupported(s, "non-float input", err);
  s->channels = c;
  s->rows = s->in_per_image / c;
  if (s->node->op == IMS__OP_SIGMOID) {
    s->variant = V_SIGMOID_F32;
    xs = xnn_create_sigmoid_nc_f32(c, c, c, 0, &s->op);
  } else if (s->node->op == IMS__OP_HARD_SWISH) {
    s->variant = V_HSWISH_F32;
    xs = xnn_create_hardswish_nc_f32(c, c, c, 0, &s->op);
  } else {
    s->variant = V_CLAMP_F32;
    xs = xnn_create_clamp_nc_f32(c, c, c, s->node->act_min,
                                 s->node->act_max, 0, &s->op);
  }
  return xnn_result(xs, s, "element-wise operator creation", err);
}

static ims_status max_pool_create(const ims_model *m, ims__step *s,
                                  ims_error *err) {
  const ims__tensor *in = tin(m, s, 0);
  const ims__node *n = s->node;
  if (in->type != IMS_TENSOR_F32 || in->rank != 4)
    return ims__step_unsupported(
        s, "max pooling of a non-float or non-4-D tensor", err);
  pads p = node_pads(n, in, n->filter_h, n->filter_w);
  size_t c = in->shape[3];
  float lo, hi;
  f32_range(n->activation, &lo, &hi);
  s->variant = V_MAX_F32;
  enum xnn_status xs = xnn_create_max_pooling2d_nhwc_f32(
      p.top, p.right, p.bottom, p.left, n->filter_h, n->filter_w,
      n->stride_h, n->stride_w, n->dilation_h ? n->dilation_h : 1,
      n->dilation_w ? n->dilation_w : 1, c, c, c, lo, hi, 0, &s->op);
  return xnn_result(xs, s, "max pooling creation", err);
}

static ims_status add_create(const ims_model *m, ims__step *s,
                             ims_error *err) {
  const ims__tensor *a = tin(m, s, 0), *b = tin(m, s, 1), *o = tout(m, s);
  enum xnn_status xs;
  int32_t lo, hi;
  if (a->type != b->type || a->type != o->type)
    return ims__step_unsupported(s, "mixed input types", err);
  ims__q8_range(o, s->node->activation, &lo, &hi);
  if (a->type == IMS_TENSOR_U8) {
    s->variant = V_ADD_QU8;
    xs = xnn_create_add_nd_qu8(
        (uint8_t)a->zero_point, a->scale, (uint8_t)b->zero_point, b->scale,
        (uint8_t)o->zero_point, o->scale, (uint8_t)lo, (uint8_t)hi, 0, &s->op);
  } else if (a->type == IMS_TENSOR_I8) {
    s->variant = V_ADD_QS8;
    xs = xnn_create_add_nd_qs8(
        (int8_t)a->zero_point, a->scale, (int8_t)b->zero_point, b->scale,
        (int8_t)o->zero_point, o->scale, (int8_t)lo, (int8_t)hi, 0, &s->op);
  } else {
    float flo, fhi;
    f32_range(s->node->activation, &flo, &fhi);
    s->variant = V_ADD_F32;
    xs = xnn_create_add_nd_f32(flo, fhi, 0, &s->op);
  }
  return xnn_result(xs, s, "add creation", err);
}

/* Average over all of H x W: MEAN over {1,2}, or a pool window covering
 * the whole input with no padding. */
static ims_status gap_create(const ims_model *m, ims__step *s,
                             ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *o = tout(m, s);
  size_t c = in->shape[in->rank - 1];
  enum xnn_status xs;
  int32_t lo, hi;
  ims__q8_range(o, s->node->activation, &lo, &hi);
  if (in->type == IMS_TENSOR_U8 && o->type == IMS_TENSOR_U8) {
    s->variant = V_GAP_QU8;
    xs = xnn_create_global_average_pooling_nwc_qu8(
        c, c, c, (uint8_t)in->zero_point, in->scale, (uint8_t)o->zero_point,
        o->scale, (uint8_t)lo, (uint8_t)hi, 0, &s->op);
  } else if (in->type == IMS_TENSOR_I8 && o->type == IMS_TENSOR_I8) {
    s->variant = V_GAP_QS8;
    xs = xnn_create_global_average_pooling_nwc_qs8(
        c, c, c, (int8_t)in->zero_point, in->scale, (int8_t)o->zero_point,
        o->scale, (int8_t)lo, (int8_t)hi, 0, &s->op);
  } else if (in->type == IMS_TENSOR_F32 && o->type == IMS_TENSOR_F32) {
    float flo, fhi;
    f32_range(s->node->activation, &flo, &fhi);
    s->variant = V_GAP_F32;
    xs = xnn_create_global_average_pooling_nwc_f32(c, c, c, flo, fhi, 0,
                                                   &s->op);
  } else {
    return ims__step_unsupported(s, "mixed input/output types", err);
  }
  return xnn_result(xs, s, "global average pooling creation", err);
}

static bool pool_is_global(const ims_model *m, const ims__step *s) {
  const ims__tensor *in = tin(m, s, 0), *o = tout(m, s);
  return ims__tensor_elements(o) / o->shape[0] == in->shape[3] &&
         s->node->filter_h == in->shape[1] &&
         s->node->filter_w == in->shape[2];
}

static ims_status avg_pool_create(const ims_model *m, ims__step *s,
                                  ims_error *err) {
  if (pool_is_global(m, s)) return gap_create(m, s, err);
  const ims__tensor *in = tin(m, s, 0), *o = tout(m, s);
  const ims__node *n = s->node;
  pads p = node_pads(n, in, n->filter_h, n->filter_w);
  size_t c = in->shape[3];
  enum xnn_status xs;
  if (in->type == IMS_TENSOR_U8 && o->type == IMS_TENSOR_U8) {
    /* XNNPACK's qu8 kernel divides by the whole window, counting padded
     * pixels as zeros; TFLite averages the valid pixels only, so border
     * outputs would be wrong. Refuse instead (tests/infer_ops.c). */
    if (p.top || p.right || p.bottom || p.left)
      return ims__step_unsupported(s, "uint8 average pooling with padding",
                                   err);
    int32_t lo, hi;
    ims__q8_range(o, n->activation, &lo, &hi);
    s->variant = V_AVG_QU8;
    xs = xnn_create_average_pooling2d_nhwc_qu8(
        p.top, p.right, p.bottom, p.left, n->filter_h, n->filter_w,
        n->stride_h, n->stride_w, c, c, c, (uint8_t)in->zero_point,
        in->scale, (uint8_t)o->zero_point, o->scale, (uint8_t)lo,
        (uint8_t)hi, 0, &s->op);
  } else if (in->type == IMS_TENSOR_F32 && o->type == IMS_TENSOR_F32) {
    float lo, hi;
    f32_range(n->activation, &lo, &hi);
    s->variant = V_AVG_F32;
    xs = xnn_create_average_pooling2d_nhwc_f32(
        p.top, p.right, p.bottom, p.left, n->filter_h, n->filter_w,
        n->stride_h, n->stride_w, c, c, c, lo, hi, 0, &s->op);
  } else {
    return ims__step_unsupported(s, "non-global int8 average pooling", err);
  }
  return xnn_result(xs, s, "average pooling creation", err);
}

static ims_status pad_create(const ims_model *m, ims__step *s,
                             ims_error *err) {
  const ims__tensor *in = tin(m, s, 0);
  enum xnn_status xs;
  if (in->rank != 4)
    return ims__step_unsupported(s, "padding of a non-4-D tensor", err);
  if (ims__is_q8(in->type)) {
    uint8_t value = (uint8_t)in->zero_point;
    s->variant = V_PAD_X8;
    xs = xnn_create_constant_pad_nd_x8(&value, 0, &s->op);
  } else {
    float value = 0.0f;
    s->variant = V_PAD_X32;
    xs = xnn_create_constant_pad_nd_x32(&value, 0, &s->op);
  }
  return xnn_result(xs, s, "constant pad creation", err);
}

static ims_status quantize_create(const ims_model *m, ims__step *s,
                                  ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *o = tout(m, s);
  if (in->type != IMS_TENSOR_F32 || !ims__is_q8(o->type))
    return ims__step_unsupported(s, "QUANTIZE between these types", err);
  enum xnn_status xs;
  size_t c = s->in_per_image;
  if (o->type == IMS_TENSOR_U8) {
    s->variant = V_TO_QU8;
    xs = xnn_create_convert_nc_f32_qu8(c, c, c, o->scale,
                                       (uint8_t)o->zero_point, 0, 255, 0,
                                       &s->op);
  } else {
    s->variant = V_TO_QS8;
    xs = xnn_create_convert_nc_f32_qs8(c, c, c, o->scale,
                                       (int8_t)o->zero_point, -128, 127, 0,
                                       &s->op);
  }
  return xnn_result(xs, s, "float to 8-bit conversion creation", err);
}

static ims_status softmax_create(const ims_model *m, ims__step *s,
                                 ims_error *err) {
  const ims__tensor *in = tin(m, s, 0), *o = tout(m, s);
  s->channels = in->shape[in->rank - 1];
  s->rows = s->in_per_image / s->channels;
  if (in->type != IMS_TENSOR_F32 || o->type != IMS_TENSOR_F32)
    return ims__step_unsupported(s, "SOFTMAX between these types", err);
  if (s->node->beta != 1.0f)
    return ims__step_unsupported(s, "float SOFTMAX with beta != 1", err);
  s->variant = V_SOFTMAX_F32;
  enum xnn_status xs = xnn_create_softmax_nc_f32(s->channels, s->channels,
                                                 s->channels, 0, &s->op);
  return xnn_result(xs, s, "softmax creation", err);
}

/* The operator for node s->node. */
static ims_status create_op(const ims_model *m, ims__step *s,
                            ims_error *err) {
  switch (s->node->op) {
    case IMS__OP_CONV_2D:
    case IMS__OP_DEPTHWISE_CONV_2D: return conv_create(m, s, err);
    case IMS__OP_FULLY_CONNECTED: return fc_create(m, s, err);
    case IMS__OP_ADD: return add_create(m, s, err);
    case IMS__OP_MEAN: return gap_create(m, s, err);
    case IMS__OP_AVERAGE_POOL_2D: return avg_pool_create(m, s, err);
    case IMS__OP_PAD: return pad_create(m, s, err);
    case IMS__OP_QUANTIZE: return quantize_create(m, s, err);
    case IMS__OP_SOFTMAX: return softmax_create(m, s, err);
    case IMS__OP_MUL:
    case IMS__OP_SUB:
    case IMS__OP_DIV: return binary_create(m, s, err);
    case IMS__OP_SIGMOID:
    case IMS__OP_HARD_SWISH:
    case IMS__OP_CLAMP: return unary_create(m, s, err);
    case IMS__OP_MAX_POOL_2D: return max_pool_create(m, s, err);
    case IMS__OP_RESHAPE:
    case IMS__OP_DEQUANTIZE:
    case IMS__OP_HARD_SIGMOID:
    case IMS__OP_CONCATENATE: /* kernels.c's kinds */
    case IMS__OP_COUNT: break;
  }
  return ims__step_unsupported(s, "unknown graph operation", err);
}

/* ---- 3. setup -------------------------------------------------------- */

/* Shape of tensor t for `batch` images, as size_t dims. Constants keep
 * their own shape (they broadcast). */
static size_t batched_dims(const ims__tensor *t, size_t batch, size_t *dims) {
  for (uint32_t i = 0; i < t->rank; i++) dims[i] = t->shape[i];
  if (t->data == NULL && t->rank > 0) dims[0] *= batch;
  return t->rank;
}

static enum xnn_status setup_add(const ims_model *m, ims__step *s,
                                 size_t batch, pthreadpool_t pool) {
  size_t da[IMS__MAX_RANK], db[IMS__MAX_RANK];
  size_t na = batched_dims(tin(m, s, 0), batch, da);
  size_t nb = batched_dims(tin(m, s, 1), batch, db);
  switch (s->variant) {
    case V_ADD_QU8:
      return xnn_setup_add_nd_qu8(s->op, na, da, nb, db, s->in, s->in2,
                                  s->out, pool);
    case V_ADD_QS8:
      return xnn_setup_add_nd_qs8(s->op, na, da, nb, db, s->in, s->in2,
                                  s->out, pool);
    case V_MUL_F32:
      return xnn_setup_multiply_nd_f32(s->op, na, da, nb, db, s->in, s->in2,
                                       s->out, pool);
    case V_SUB_F32:
      return xnn_setup_subtract_nd_f32(s->op, na, da, nb, db, s->in, s->in2,
                                       s->out, pool);
    case V_DIV_F32:
      return xnn_setup_divide_nd_f32(s->op, na, da, nb, db, s->in, s->in2,
                                     s->out, pool);
    default:
      return xnn_setup_add_nd_f32(s->op, na, da, nb, db, s->in, s->in2,
                                  s->out, pool);
  }
}

static enum xnn_status setup_pad(const ims_model *m, ims__step *s,
                                 size_t batch, pthreadpool_t pool) {
  const ims__node *n = s->node;
  size_t dims[IMS__MAX_RANK];
  size_t nd = batched_dims(tin(m, s, 0), batch, dims);
  size_t pre[4] = {0, n->pad_top, n->pad_left, 0};
  size_t post[4] = {0, n->pad_bottom, n->pad_right, 0};
  if (s->variant == V_PAD_X8)
    return xnn_setup_constant_pad_nd_x8(s->op, nd, dims, pre, post, s->in,
                                        s->out, pool);
  return xnn_setup_constant_pad_nd_x32(s->op, nd, dims, pre, post, s->in,
                                       s->out, pool);
}

/* Convolutions and pooling: NHWC with H, W from the input tensor. Fully
 * connected layers run as convolutions over 1x1 images, one per row. */
static enum xnn_status setup_spatial(const ims_model *m, ims__step *s,
                                     size_t batch, pthreadpool_t pool) {
  const ims__tensor *in = tin(m, s, 0);
  size_t n = batch, h = 1, w = 1;
  if (s->node->op == IMS__OP_FULLY_CONNECTED)
    n = batch * (s->in_per_image / tin(m, s, 1)->shape[1]);
  else
    n = batch * in->shape[0], h = in->shape[1], w = in->shape[2];
  switch (s->variant) {
    case V_CONV_QU8:
      return xnn_setup_convolution2d_nhwc_qu8(s->op, n, h, w, s->in, s->out,
                                              pool);
    case V_CONV_QC8:
      return xnn_setup_convolution2d_nhwc_qc8(s->op, n, h, w, s->in, s->out,
                                              pool);
    case V_CONV_F32:
      return xnn_setup_convolution2d_nhwc_f32(s->op, n, h, w, s->in, s->out,
                                              pool);
    case V_AVG_QU8:
      return xnn_setup_average_pooling2d_nhwc_qu8(s->op, n, h, w, s->in,
                                                  s->out, pool);
    case V_MAX_F32:
      return xnn_setup_max_pooling2d_nhwc_f32(s->op, n, h, w, s->in, s->out,
                                              pool);
    default:
      return xnn_setup_average_pooling2d_nhwc_f32(s->op, n, h, w, s->in,
                                                  s->out, pool);
  }
}

/* Row-wise operators: `rows` rows per image. */
static enum xnn_status setup_rows(const ims_model *m, ims__step *s,
                                  size_t batch, pthreadpool_t pool) {
  const ims__tensor *in = tin(m, s, 0);
  size_t c = in->shape[in->rank - 1];
  size_t width = s->in_per_image / c; /* GAP: pixels per image */
  switch (s->variant) {
    case V_FC_QU8:
      return xnn_setup_fully_connected_nc_qu8(
          s->op, batch * (s->in_per_image / tin(m, s, 1)->shape[1]), s->in,
          s->out, pool);
    case V_FC_F32:
      return xnn_setup_fully_connected_nc_f32(
          s->op, batch * (s->in_per_image / tin(m, s, 1)->shape[1]), s->in,
          s->out, pool);
    case V_GAP_QU8:
      return xnn_setup_global_average_pooling_nwc_qu8(s->op, batch, width,
                                                      s->in, s->out, pool);
    case V_GAP_QS8:
      return xnn_setup_global_average_pooling_nwc_qs8(s->op, batch, width,
                                                      s->in, s->out, pool);
    case V_GAP_F32:
      return xnn_setup_global_average_pooling_nwc_f32(s->op, batch, width,
                                                      s->in, s->out, pool);
    case V_TO_QU8:
      return xnn_setup_convert_nc_f32_qu8(s->op, batch, s->in, s->out, pool);
    case V_TO_QS8:
      return xnn_setup_convert_nc_f32_qs8(s->op, batch, s->in, s->out, pool);
    case V_SIGMOID_F32:
      return xnn_setup_sigmoid_nc_f32(s->op, batch * s->rows, s->in, s->out,
                                      pool);
    case V_HSWISH_F32:
      return xnn_setup_hardswish_nc_f32(s->op, batch * s->rows, s->in,
                                        s->out, pool);
    case V_CLAMP_F32:
      return xnn_setup_clamp_nc_f32(s->op, batch * s->rows, s->in, s->out,
                                    pool);
    default:
      return xnn_setup_softmax_nc_f32(s->op, batch * s->rows, s->in, s->out,
                                      pool);
  }
}

static ims_status xnn_setup(const ims_model *m, ims__step *s, size_t batch,
                            pthreadpool_t pool, ims_error *err) {
  enum xnn_status xs;
  switch (s->variant) {
    case V_ADD_QU8: case V_ADD_QS8: case V_ADD_F32: case V_MUL_F32:
    case V_SUB_F32: case V_DIV_F32:
      xs = setup_add(m, s, batch, pool);
      break;
    case V_PAD_X8: case V_PAD_X32:
      xs = setup_pad(m, s, batch, pool);
      break;
    case V_CONV_QU8: case V_CONV_QC8: case V_CONV_F32: case V_AVG_QU8:
    case V_AVG_F32: case V_MAX_F32:
      xs = setup_spatial(m, s, batch, pool);
      break;
    default:
      xs = setup_rows(m, s, batch, pool);
      break;
  }
  return xnn_result(xs, s, "setup", err);
}

/* ---- 4. run, destroy, the ops table ---------------------------------- */

static ims_status xnn_create(const ims__step_env *env, ims__step *s,
                             ims_error *err) {
  ims_status st = create_op(env->model, s, err);
  if (st == IMS_OK) s->ops = &ims__step_xnn;
  return st;
}

static ims_status xnn_run(ims__step *s, size_t batch, const ims__par *par,
                          float *scratch, ims_error *err) {
  return xnn_result(xnn_run_operator(s->op, ims__par_pool(par)), s, "run",
                    err);
}

static void xnn_destroy(ims__step *s) {
  if (s->op != NULL) xnn_delete_operator(s->op);
  s->op = NULL;
}

const ims__step_ops ims__step_xnn = {"xnnpack", xnn_create, xnn_setup,
                                     xnn_run, xnn_destroy};
