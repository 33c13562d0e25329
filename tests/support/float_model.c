/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/float_model.c - the float32 twin of a quantized model (see
 * float_model.h). Reads the graph form the project's loader produced and
 * writes TFLite operators back with support/tflite_writer.c; the loader's
 * dropped inputs are restored (MEAN's axes {1,2}, RESHAPE's shape, PAD's
 * paddings) so the result is an ordinary TFLite file.
 *
 * Sections: 1. tensors (activations, dequantized constants, biases)
 * 2. one writer per operator kind 3. fm_float_model.
 *
 * Threading: no shared state.
 */
#include "support/float_model.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/graph_int.h"
#include "support/tflite_writer.h"

typedef struct fm {
  const ims_model *m;   /* BORROWED: the quantized model */
  tfw *w;               /* the float model being written */
  int32_t *map;         /* per graph tensor: writer tensor, or -1 */
  char *why;            /* caller's message buffer */
  size_t why_len;       /* its size */
} fm;

static bool fail(fm *f, const char *msg, const ims__node *n) {
  snprintf(f->why, f->why_len, "operator %u (%s): %s",
           n != NULL ? n->source_index : 0,
           n != NULL ? n->source_name : "-", msg);
  return false;
}

/* ---- 1. tensors ------------------------------------------------------- */

static void shape_of(const ims__tensor *t, int32_t *shape) {
  for (uint32_t d = 0; d < t->rank; d++) shape[d] = (int32_t)t->shape[d];
}

/* Scale of element i of a quantized tensor (per tensor or per channel). */
static float scale_at(const ims__tensor *t, size_t i) {
  if (t->channel_scales == NULL) return t->scale;
  size_t inner = 1;
  for (uint32_t d = t->quant_dim + 1; d < t->rank; d++) inner *= t->shape[d];
  return t->channel_scales[(i / inner) % t->shape[t->quant_dim]];
}

static float real_at(const ims__tensor *t, size_t i) {
  const uint8_t *b = t->data;
  switch (t->type) {
    case IMS_TENSOR_F32: return ((const float *)t->data)[i];
    case IMS_TENSOR_U8: return scale_at(t, i) * ((int)b[i] - t->zero_point);
    case IMS_TENSOR_I8:
      return scale_at(t, i) * ((int)(int8_t)b[i] - t->zero_point);
    case IMS_TENSOR_I32:
      return scale_at(t, i) * (float)((const int32_t *)t->data)[i];
  }
  return 0.0f;
}

/* Writer tensor for graph tensor id: float32 activation, or a constant
 * dequantized element by element. */
static int32_t tensor(fm *f, uint32_t id) {
  if (f->map[id] >= 0) return f->map[id];
  const ims__tensor *t = &f->m->tensors[id];
  int32_t shape[IMS__MAX_RANK];
  shape_of(t, shape);
  float *data = NULL;
  size_t n = ims__tensor_elements(t);
  if (t->data != NULL) {
    data = malloc(n * sizeof *data);
    if (data == NULL) return -1;
    for (size_t i = 0; i < n; i++) data[i] = real_at(t, i);
  }
  f->map[id] = tfw_tensor(f->w, TFW_FLOAT32, t->rank, shape, data,
                          data != NULL ? n * sizeof *data : 0, NULL, t->name);
  free(data);
  return f->map[id];
}

/* A quantized op's int32 bias as float: q * input_scale * weight_scale
 * (the weight scale of its output channel). */
static int32_t bias(fm *f, const ims__node *n) {
  const ims__tensor *b = &f->m->tensors[n->inputs[2]];
  const ims__tensor *in = &f->m->tensors[n->inputs[0]];
  const ims__tensor *w = &f->m->tensors[n->inputs[1]];
  if (b->type != IMS_TENSOR_I32) return tensor(f, n->inputs[2]);
  int32_t count = (int32_t)b->shape[0];
  float *data = malloc((size_t)count * sizeof *data);
  if (data == NULL) return -1;
  for (int32_t c = 0; c < count; c++) {
    float ws = w->channel_scales != NULL ? w->channel_scales[c] : w->scale;
    data[c] = (float)((const int32_t *)b->data)[c] * in->scale * ws;
  }
  int32_t id = tfw_tensor(f->w, TFW_FLOAT32, 1, &count, data,
                          (size_t)count * sizeof *data, NULL, b->name);
  free(data);
  return id;
}

static int32_t const_i32(fm *f, uint32_t rank, const int32_t *shape,
                         const int32_t *v, size_t n) {
  return tfw_tensor(f->w, TFW_INT32, rank, shape, v, n * sizeof *v, NULL,
                    NULL);
}

/* ---- 2. operators ----------------------------------------------------- */

static int8_t act(const ims__node *n) {
  return n->activation == IMS__ACT_RELU    ? TFW_ACT_RELU
         : n->activation == IMS__ACT_RELU6 ? TFW_ACT_RELU6
                                           : TFW_ACT_NONE;
}

static int8_t padding(const ims__node *n) {
  return n->padding == IMS__PAD_VALID ? TFW_VALID : TFW_SAME;
}

static bool write_conv(fm *f, const ims__node *n, int32_t out) {
  int32_t in[3] = {tensor(f, n->inputs[0]), tensor(f, n->inputs[1]), -1};
  if (n->input_count > 2) in[2] = bias(f, n);
  tfw_options o;
  if (n->op == IMS__OP_CONV_2D) {
    o = tfw_opt_conv(padding(n), (int32_t)n->stride_w,
                     (int32_t)n->stride_h, act(n));
    o.field[4].bits = n->dilation_w;
    o.field[5].bits = n->dilation_h;
  } else {
    o = tfw_opt_depthwise(padding(n), (int32_t)n->stride_w,
                          (int32_t)n->stride_h,
                          (int32_t)n->depth_multiplier, act(n));
    o.field[5].bits = n->dilation_w;
    o.field[6].bits = n->dilation_h;
  }
  int32_t code = n->op == IMS__OP_CONV_2D ? TFW_OP_CONV_2D
                                          : TFW_OP_DEPTHWISE_CONV_2D;
  tfw_operator(f->w, code, 3, in, out, &o);
  return n->padding != IMS__PAD_EXPLICIT || fail(f, "explicit padding", n);
}

static bool write_fc(fm *f, const ims__node *n, int32_t out) {
  int32_t in[3] = {tensor(f, n->inputs[0]), tensor(f, n->inputs[1]), -1};
  if (n->input_count > 2) in[2] = bias(f, n);
  tfw_options o = tfw_opt_fc(act(n), f->m->tensors[n->output].rank > 2);
  tfw_operator(f->w, TFW_OP_FULLY_CONNECTED, 3, in, out, &o);
  return true;
}

static bool write_pool(fm *f, const ims__node *n, int32_t out) {
  tfw_options o = tfw_opt_pool(padding(n), (int32_t)n->stride_w,
                               (int32_t)n->stride_h, (int32_t)n->filter_w,
                               (int32_t)n->filter_h, act(n));
  int32_t in = tensor(f, n->inputs[0]);
  tfw_operator(f->w, TFW_OP_AVERAGE_POOL_2D, 1, &in, out, &o);
  return true;
}

static bool write_mean(fm *f, const ims__node *n, int32_t out) {
  int32_t two = 2, axes[2] = {1, 2};
  int32_t in[2] = {tensor(f, n->inputs[0]), const_i32(f, 1, &two, axes, 2)};
  tfw_options o = tfw_opt_reducer(f->m->tensors[n->output].rank == 4);
  tfw_operator(f->w, TFW_OP_MEAN, 2, in, out, &o);
  return true;
}

static bool write_reshape(fm *f, const ims__node *n, int32_t out) {
  const ims__tensor *t = &f->m->tensors[n->output];
  int32_t shape[IMS__MAX_RANK], rank = (int32_t)t->rank;
  shape_of(t, shape);
  int32_t in[2] = {tensor(f, n->inputs[0]),
                   const_i32(f, 1, &rank, shape, t->rank)};
  tfw_options o = tfw_opt_reshape(t->rank, shape);
  tfw_operator(f->w, TFW_OP_RESHAPE, 2, in, out, &o);
  return true;
}

static bool write_pad(fm *f, const ims__node *n, int32_t out) {
  int32_t ps[2] = {4, 2};
  int32_t pv[8] = {0, 0, (int32_t)n->pad_top, (int32_t)n->pad_bottom,
                   (int32_t)n->pad_left, (int32_t)n->pad_right, 0, 0};
  int32_t in[2] = {tensor(f, n->inputs[0]), const_i32(f, 2, ps, pv, 8)};
  tfw_options o = tfw_opt_pad();
  tfw_operator(f->w, TFW_OP_PAD, 2, in, out, &o);
  return true;
}

static bool write_node(fm *f, const ims__node *n) {
  if (n->op == IMS__OP_QUANTIZE || n->op == IMS__OP_DEQUANTIZE) {
    f->map[n->output] = tensor(f, n->inputs[0]); /* identity in float */
    return true;
  }
  int32_t out = tensor(f, n->output);
  int32_t in[2];
  tfw_options o;
  switch (n->op) {
    case IMS__OP_CONV_2D:
    case IMS__OP_DEPTHWISE_CONV_2D: return write_conv(f, n, out);
    case IMS__OP_FULLY_CONNECTED: return write_fc(f, n, out);
    case IMS__OP_AVERAGE_POOL_2D: return write_pool(f, n, out);
    case IMS__OP_MEAN: return write_mean(f, n, out);
    case IMS__OP_RESHAPE: return write_reshape(f, n, out);
    case IMS__OP_PAD: return write_pad(f, n, out);
    case IMS__OP_ADD:
      in[0] = tensor(f, n->inputs[0]);
      in[1] = tensor(f, n->inputs[1]);
      o = tfw_opt_add(act(n));
      tfw_operator(f->w, TFW_OP_ADD, 2, in, out, &o);
      return true;
    case IMS__OP_SOFTMAX:
      in[0] = tensor(f, n->inputs[0]);
      o = tfw_opt_softmax(n->beta);
      tfw_operator(f->w, TFW_OP_SOFTMAX, 1, in, out, &o);
      return true;
    default: break;
  }
  return fail(f, "no float equivalent written", n);
}

/* ---- 3. fm_float_model ------------------------------------------------ */

uint8_t *fm_float_model(const ims_model *model, size_t *size_out, char *why,
                        size_t why_len) {
  fm f = {model, tfw_create(), NULL, why, why_len};
  uint8_t *bytes = NULL;
  f.map = malloc((model->tensor_count + 1u) * sizeof *f.map);
  if (f.w == NULL || f.map == NULL) {
    fail(&f, "out of memory", NULL);
    goto done;
  }
  for (uint32_t i = 0; i < model->tensor_count; i++) f.map[i] = -1;
  int32_t input = tensor(&f, model->input);
  for (uint32_t i = 0; i < model->node_count; i++)
    if (!write_node(&f, &model->nodes[i])) goto done;
  tfw_set_io(f.w, input, tensor(&f, model->output));
  bytes = tfw_finish(f.w, size_out);
  if (bytes == NULL) fail(&f, "writer failed (out of memory?)", NULL);
done:
  tfw_destroy(f.w);
  free(f.map);
  return bytes;
}
