/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tflite.c - the TFLite entry of the format table (format_int.h): read a
 * TFLite FlatBuffer (schema version 3) into the graph form of graph_int.h:
 * subgraph 0's tensors, its operators in file order, its single input and
 * output.
 *
 * Not here: executing anything (src/infer/), walking the format table and
 * the model object's lifetime (model.c), the FlatBuffers wire format
 * (flatbuf.c: every offset this file follows is bounds-checked there),
 * operator code names (tflite_names.c).
 *
 * Format: TFLite's schema.fbs. Field ids used below are the schema's field
 * order (a union takes two ids: its type byte, then its value). Constant
 * data stays in the model's copy of the file (Buffer.data, or for files
 * over 2 GB Buffer.offset/size relative to the file start); a buffer that
 * is not aligned to its element size is copied into the model's arena.
 *
 * Supported: CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, MEAN over
 * {1,2}, FULLY_CONNECTED, RESHAPE, SQUEEZE, SOFTMAX, QUANTIZE, DEQUANTIZE,
 * PAD (H/W only); fused NONE/RELU/RELU6; FLOAT32, UINT8, INT8, INT32.
 * Anything else fails with IMS_ERR_UNSUPPORTED naming it.
 *
 * Sections (keep this order):
 *   1. schema constants and the loader state
 *   2. tensors: shape, type, quantization, constant data
 *   3. operator inputs/outputs and options helpers
 *   4. one function per supported operator
 *   5. operators: opcode lookup and dispatch
 *   6. loading, the format table entry (ims__model_tflite)
 *
 * Threading: no shared state.
 */
#include "model/tflite_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "model/flatbuf_int.h"
#include "model/format_int.h"

/* ---- 1. schema constants and state ------------------------------------ */

/* Field ids (schema order). */
enum {
  MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2,
  MODEL_BUFFERS = 4,
  OPCODE_DEPRECATED = 0, OPCODE_CUSTOM = 1, OPCODE_BUILTIN = 3,
  SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3,
  TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3,
  TENSOR_QUANT = 4, TENSOR_SPARSITY = 6,
  QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4,
  QUANT_DIM = 6,
  BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2,
  OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3,
  OP_OPTIONS = 4
};

/* BuiltinOperator codes this loader maps. */
enum {
  TFL_ADD = 0, TFL_AVERAGE_POOL_2D = 1, TFL_CONV_2D = 3,
  TFL_DEPTHWISE_CONV_2D = 4, TFL_DEQUANTIZE = 6, TFL_FULLY_CONNECTED = 9,
  TFL_RESHAPE = 22, TFL_SOFTMAX = 25, TFL_CUSTOM = 32, TFL_PAD = 34,
  TFL_MEAN = 40, TFL_SQUEEZE = 43, TFL_QUANTIZE = 114
};

/* BuiltinOptions union type ids. */
enum {
  OPT_CONV = 1, OPT_DEPTHWISE = 2, OPT_POOL = 5, OPT_FC = 8,
  OPT_SOFTMAX = 9, OPT_ADD = 11, OPT_RESHAPE = 17, OPT_PAD = 22,
  OPT_REDUCER = 27, OPT_SQUEEZE = 30
};

/* TensorType values. */
enum {
  TT_FLOAT32 = 0, TT_INT32 = 2, TT_UINT8 = 3, TT_INT8 = 9
};

/* Limits that keep sizes sane for adversarial files. */
#define MAX_TENSORS 1000000u
#define MAX_OPERATORS 1000000u
#define MAX_ELEMENTS (1ull << 30)

typedef struct tfl {
  ims__fb fb;          /* the reader over model->file */
  ims_model *m;        /* model being filled */
  ims_error *err;      /* caller's error record */
  ims__fb_vec opcodes; /* Model.operator_codes */
  ims__fb_vec buffers; /* Model.buffers */
  ims__fb_vec tensors; /* SubGraph.tensors */
  ims__fb_vec ops;     /* SubGraph.operators */
  uint8_t *ready;      /* per tensor: readable by the next node */
  uint32_t op_index;   /* operator being read (for messages) */
  const char *op_name; /* its builtin name */
} tfl;

/* Fail for operator L->op_index with status st:
 * "operator 12 (CONV_2D): <message>". */
static ims_status op_fail(tfl *L, ims_status st, const char *fmt, ...)
    IMS__PRINTF(3, 4);

static ims_status op_fail(tfl *L, ims_status st, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ims__fail(L->err, st, "operator %u (%s): %s", L->op_index,
                   L->op_name, msg);
}

/* ---- 2. tensors -------------------------------------------------------- */

static ims_status tensor_type(tfl *L, uint32_t i, ims__fb_table t,
                              ims__tensor *out) {
  int8_t tt = ims__fb_i8(&L->fb, t, TENSOR_TYPE, 0, "type");
  switch (tt) {
    case TT_FLOAT32: out->type = IMS_TENSOR_F32; return IMS_OK;
    case TT_INT32: out->type = IMS_TENSOR_I32; return IMS_OK;
    case TT_UINT8: out->type = IMS_TENSOR_U8; return IMS_OK;
    case TT_INT8: out->type = IMS_TENSOR_I8; return IMS_OK;
    default: break;
  }
  return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                   "tensor %u (\"%s\"): unsupported tensor type %d "
                   "(supported: FLOAT32, UINT8, INT8, INT32)",
                   i, out->name, tt);
}

static ims_status tensor_shape(tfl *L, uint32_t i, ims__fb_table t,
                               ims__tensor *out) {
  ims__fb_vec shape = ims__fb_vector(&L->fb, t, TENSOR_SHAPE, 4, "shape");
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (shape.len > IMS__MAX_RANK)
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "tensor %u (\"%s\"): rank %u exceeds %d", i, out->name,
                     shape.len, IMS__MAX_RANK);
  uint64_t elements = 1;
  out->rank = shape.len;
  for (uint32_t d = 0; d < shape.len; d++) {
    int32_t dim = ims__fb_vec_i32(&L->fb, shape, d);
    if (dim <= 0)
      return ims__fb_fail(&L->fb, "dimension %u is %d (must be positive)",
                          d, dim);
    elements *= (uint64_t)dim;
    if (elements > MAX_ELEMENTS)
      return ims__fb_fail(&L->fb, "shape has more than %llu elements",
                          (unsigned long long)MAX_ELEMENTS);
    out->shape[d] = (uint32_t)dim;
  }
  return L->fb.status;
}

/* Per-channel scales along quant_dim; every zero point must be equal. */
static ims_status tensor_channels(tfl *L, uint32_t i, ims__tensor *out,
                                  ims__fb_vec scale, ims__fb_vec zp,
                                  int32_t dim) {
  if (dim < 0 || (uint32_t)dim >= out->rank ||
      out->shape[dim] != scale.len)
    return ims__fb_fail(&L->fb,
                        "%u per-channel scales do not match dimension %d "
                        "of a rank-%u tensor",
                        scale.len, dim, out->rank);
  float *scales = ims__model_alloc(L->m, (size_t)scale.len * sizeof *scales);
  if (scales == NULL)
    return ims__fail(L->err, IMS_ERR_NO_MEMORY, "out of memory");
  for (uint32_t c = 0; c < scale.len; c++) {
    scales[c] = ims__fb_vec_f32(&L->fb, scale, c);
    if (!(isfinite(scales[c]) && scales[c] > 0.0f))
      return ims__fb_fail(&L->fb, "channel %u scale %g is not positive", c,
                          (double)scales[c]);
    int64_t z = zp.len != 0 ? ims__fb_vec_i64(&L->fb, zp, c) : 0;
    if (z != out->zero_point)
      return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                       "tensor %u (\"%s\"): per-channel zero points differ "
                       "(channel %u has %lld)",
                       i, out->name, c, (long long)z);
  }
  out->scale = 0.0f;
  out->channel_scales = scales;
  out->channel_count = scale.len;
  out->quant_dim = (uint32_t)dim;
  return L->fb.status;
}

static ims_status zero_point_range(tfl *L, const ims__tensor *t, int64_t z) {
  int64_t lo = INT32_MIN, hi = INT32_MAX;
  if (t->type == IMS_TENSOR_U8) {
    lo = 0;
    hi = 255;
  } else if (t->type == IMS_TENSOR_I8) {
    lo = -128;
    hi = 127;
  }
  if (z < lo || z > hi)
    return ims__fb_fail(&L->fb, "zero point %lld out of range for %s",
                        (long long)z, ims__type_name(t->type));
  return IMS_OK;
}

static ims_status tensor_quant(tfl *L, uint32_t i, ims__fb_table t,
                               ims__tensor *out) {
  ims__fb *fb = &L->fb;
  ims__fb_table q = ims__fb_table_field(fb, t, TENSOR_QUANT, "quantization");
  ims__fb_vec scale = ims__fb_vector(fb, q, QUANT_SCALE, 4, "scale");
  ims__fb_vec zp = ims__fb_vector(fb, q, QUANT_ZERO_POINT, 8, "zero_point");
  uint8_t details = ims__fb_u8(fb, q, QUANT_DETAILS_TYPE, 0, "details");
  int32_t dim = ims__fb_i32(fb, q, QUANT_DIM, 0, "quantized_dimension");
  out->scale = 1.0f;
  out->zero_point = 0;
  if (ims__fb_failed(fb)) return fb->status;
  if (details != 0)
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "tensor %u (\"%s\"): custom quantization unsupported",
                     i, out->name);
  bool needs = out->type == IMS_TENSOR_U8 || out->type == IMS_TENSOR_I8;
  if (scale.len == 0 || out->type == IMS_TENSOR_F32) {
    if (needs)
      return ims__fb_fail(fb, "%s tensor has no quantization scale",
                          ims__type_name(out->type));
    return IMS_OK;
  }
  if (zp.len != 0 && zp.len != scale.len)
    return ims__fb_fail(fb, "%u scales but %u zero points", scale.len,
                        zp.len);
  out->zero_point = (int32_t)(zp.len != 0 ? ims__fb_vec_i64(fb, zp, 0) : 0);
  if (zero_point_range(L, out, zp.len != 0 ? ims__fb_vec_i64(fb, zp, 0) : 0)
      != IMS_OK)
    return fb->status;
  if (scale.len > 1) return tensor_channels(L, i, out, scale, zp, dim);
  out->scale = ims__fb_vec_f32(fb, scale, 0);
  if (!(isfinite(out->scale) && out->scale > 0.0f))
    return ims__fb_fail(fb, "scale %g is not positive", (double)out->scale);
  return fb->status;
}

/* Locate a Buffer's bytes: inline data, or offset/size into the file. */
static ims_status buffer_bytes(tfl *L, uint32_t b, const uint8_t **data_out,
                               size_t *size_out) {
  ims__fb *fb = &L->fb;
  if (b >= L->buffers.len)
    return ims__fb_fail(fb, "buffer index %u out of range (%u buffers)", b,
                        L->buffers.len);
  ims__fb_table bt = ims__fb_vec_table(fb, L->buffers, b, "buffer");
  ims__fb_vec data = ims__fb_vector(fb, bt, BUFFER_DATA, 1, "buffer data");
  uint64_t off = ims__fb_u64(fb, bt, BUFFER_OFFSET, 0, "buffer offset");
  uint64_t size = ims__fb_u64(fb, bt, BUFFER_SIZE, 0, "buffer size");
  if (ims__fb_failed(fb)) return fb->status;
  *data_out = NULL;
  *size_out = 0;
  if (off > 1) { /* the schema: offset is only valid if > 1 */
    if (off > fb->size || size > fb->size - off)
      return ims__fb_fail(fb,
                          "buffer %u offset 0x%llx size %llu out of bounds "
                          "(file is %zu bytes)",
                          b, (unsigned long long)off,
                          (unsigned long long)size, fb->size);
    *data_out = fb->data + off;
    *size_out = (size_t)size;
  } else if (data.len > 0) {
    *data_out = ims__fb_vec_bytes(fb, data);
    *size_out = data.len;
  }
  return IMS_OK;
}

static ims_status tensor_data(tfl *L, ims__fb_table t, ims__tensor *out) {
  uint32_t b = ims__fb_u32(&L->fb, t, TENSOR_BUFFER, 0, "buffer");
  const uint8_t *data = NULL;
  size_t size = 0;
  ims_status st = buffer_bytes(L, b, &data, &size);
  if (st != IMS_OK || data == NULL) return st;
  size_t want = ims__tensor_elements(out) * ims__type_size(out->type);
  if (size != want)
    return ims__fb_fail(&L->fb,
                        "buffer %u holds %zu bytes, shape and type need %zu",
                        b, size, want);
  size_t align = ims__type_size(out->type);
  if ((uintptr_t)data % align != 0) { /* weights are read in place */
    void *copy = ims__model_alloc(L->m, size);
    if (copy == NULL)
      return ims__fail(L->err, IMS_ERR_NO_MEMORY, "out of memory");
    memcpy(copy, data, size);
    data = copy;
  }
  out->data = data;
  out->data_size = size;
  return IMS_OK;
}

static ims_status load_tensor(tfl *L, uint32_t i) {
  ims__fb *fb = &L->fb;
  ims__tensor *out = &L->m->tensors[i];
  ims__fb_context(fb, "tensor %u", i);
  ims__fb_table t = ims__fb_vec_table(fb, L->tensors, i, "table");
  out->name = ims__fb_string(fb, t, TENSOR_NAME, "name");
  if (ims__fb_failed(fb)) return fb->status;
  if (ims__fb_has(fb, t, TENSOR_SPARSITY))
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "tensor %u (\"%s\"): sparse tensors unsupported", i,
                     out->name);
  ims_status st = tensor_type(L, i, t, out);
  if (st == IMS_OK) st = tensor_shape(L, i, t, out);
  if (st == IMS_OK) st = tensor_quant(L, i, t, out);
  if (st == IMS_OK) st = tensor_data(L, t, out);
  if (st == IMS_OK && out->data != NULL) L->ready[i] = 1;
  return st;
}

/* ---- 3. operator inputs/outputs and options --------------------------- */

/* Tensor id of input k of the operator; optional inputs may be -1, which
 * yields UINT32_MAX. Inputs must already be readable. */
static ims_status op_input(tfl *L, ims__fb_vec in, uint32_t k, bool optional,
                           uint32_t *id_out) {
  if (k >= in.len) {
    if (optional) {
      *id_out = UINT32_MAX;
      return IMS_OK;
    }
    return op_fail(L, IMS_ERR_BAD_MODEL, "has %u inputs, needs %u", in.len,
                   k + 1);
  }
  int32_t id = ims__fb_vec_i32(&L->fb, in, k);
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (id == -1 && optional) {
    *id_out = UINT32_MAX;
    return IMS_OK;
  }
  if (id < 0 || (uint32_t)id >= L->m->tensor_count)
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "input %u is tensor %d, out of range (%u tensors)", k, id,
                   L->m->tensor_count);
  if (!L->ready[id])
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "input %u (tensor %d) is used before any operator "
                   "produces it",
                   k, id);
  *id_out = (uint32_t)id;
  return IMS_OK;
}

/* Read inputs [0, n) (the last `optional` of them may be absent) into the
 * node; input_count counts the present ones. */
static ims_status op_inputs(tfl *L, ims__fb_vec in, uint32_t n,
                            uint32_t optional, ims__node *node) {
  node->input_count = 0;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t id = UINT32_MAX;
    ims_status st = op_input(L, in, k, k >= n - optional, &id);
    if (st != IMS_OK) return st;
    if (id != UINT32_MAX) node->inputs[node->input_count++] = id;
  }
  return IMS_OK;
}

static const ims__tensor *tensor(const tfl *L, uint32_t id) {
  return &L->m->tensors[id];
}

static ims_status need_const(tfl *L, const ims__node *node, uint32_t k,
                             const char *what) {
  if (k < node->input_count && tensor(L, node->inputs[k])->data != NULL)
    return IMS_OK;
  return op_fail(L, IMS_ERR_UNSUPPORTED, "%s (input %u) is not constant",
                 what, k);
}

static ims_status need_rank(tfl *L, uint32_t id, uint32_t rank,
                            const char *what) {
  if (tensor(L, id)->rank == rank) return IMS_OK;
  return op_fail(L, IMS_ERR_BAD_MODEL, "%s (tensor %u) has rank %u, not %u",
                 what, id, tensor(L, id)->rank, rank);
}

/* The options table if its union type is `want` (or absent: defaults). */
static ims_status op_options(tfl *L, ims__fb_table op, uint8_t want,
                             ims__fb_table *out) {
  uint8_t type = ims__fb_u8(&L->fb, op, OP_OPTIONS_TYPE, 0, "options type");
  *out = ims__fb_table_field(&L->fb, op, OP_OPTIONS, "options");
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (type != 0 && type != want)
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "options of union type %u, expected type %u", type, want);
  if (type == 0) memset(out, 0, sizeof *out); /* absent: all defaults */
  return IMS_OK;
}

static ims_status fused_act(tfl *L, int8_t act, ims__node *node) {
  switch (act) {
    case 0: node->activation = IMS__ACT_NONE; return IMS_OK;
    case 1: node->activation = IMS__ACT_RELU; return IMS_OK;
    case 3: node->activation = IMS__ACT_RELU6; return IMS_OK;
    default: break;
  }
  static const char *const names[] = {"NONE", "RELU", "RELU_N1_TO_1",
                                      "RELU6", "TANH", "SIGN_BIT"};
  const char *name = (act >= 0 && act < 6) ? names[act] : "UNKNOWN";
  return op_fail(L, IMS_ERR_UNSUPPORTED,
                 "fused activation %s (%d) unsupported", name, act);
}

static ims_status padding_kind(tfl *L, int8_t pad, ims__node *node) {
  if (pad == 0) {
    node->padding = IMS__PAD_SAME;
    return IMS_OK;
  }
  if (pad == 1) {
    node->padding = IMS__PAD_VALID;
    return IMS_OK;
  }
  return op_fail(L, IMS_ERR_BAD_MODEL, "unknown padding %d", pad);
}

static ims_status positive(tfl *L, int32_t v, const char *what,
                           uint32_t *out) {
  if (v >= 1) {
    *out = (uint32_t)v;
    return IMS_OK;
  }
  return op_fail(L, IMS_ERR_BAD_MODEL, "%s is %d (must be >= 1)", what, v);
}

/* ---- 4. supported operators ------------------------------------------- */

typedef ims_status (*op_fn)(tfl *L, ims__fb_table op, ims__fb_vec in,
                            ims__node *node);

/* Optional bias (input 2): constant, rank 1, `channels` entries. */
static ims_status check_bias(tfl *L, const ims__node *node,
                             uint32_t channels) {
  if (node->input_count < 3) return IMS_OK;
  ims_status st = need_const(L, node, 2, "bias");
  if (st != IMS_OK) return st;
  const ims__tensor *b = tensor(L, node->inputs[2]);
  if (b->rank != 1 || b->shape[0] != channels)
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "bias (tensor %u) has rank %u / %u entries, needs %u",
                   node->inputs[2], b->rank, b->rank ? b->shape[0] : 0,
                   channels);
  return IMS_OK;
}

/* Data input rank 4, constant rank-4 weights, output rank 4, bias. */
static ims_status check_conv_io(tfl *L, ims__node *node) {
  ims_status st = need_rank(L, node->inputs[0], 4, "input");
  if (st == IMS_OK) st = need_const(L, node, 1, "weights");
  if (st == IMS_OK) st = need_rank(L, node->inputs[1], 4, "weights");
  if (st == IMS_OK) st = need_rank(L, node->output, 4, "output");
  if (st != IMS_OK) return st;
  const ims__tensor *w = tensor(L, node->inputs[1]);
  const ims__tensor *out = tensor(L, node->output);
  if (out->shape[3] != w->shape[node->op == IMS__OP_CONV_2D ? 0 : 3])
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "output has %u channels, weights give %u", out->shape[3],
                   w->shape[node->op == IMS__OP_CONV_2D ? 0 : 3]);
  return check_bias(L, node, out->shape[3]);
}

/* Read and check the options Conv2DOptions and DepthwiseConv2DOptions share
 * (their field ids differ by one after stride_h: depthwise has
 * depth_multiplier at 3), then the inputs and output shapes. */
static ims_status conv_common(tfl *L, ims__fb_table op, ims__fb_vec in,
                              int kind, ims__node *node) {
  ims__fb *fb = &L->fb;
  ims__fb_table o;
  ims_status st = op_options(L, op, kind, &o);
  if (st != IMS_OK) return st;
  int shift = kind == OPT_DEPTHWISE ? 1 : 0;
  int8_t pad = ims__fb_i8(fb, o, 0, 0, "padding");
  int32_t sw = ims__fb_i32(fb, o, 1, 0, "stride_w");
  int32_t sh = ims__fb_i32(fb, o, 2, 0, "stride_h");
  int8_t act = ims__fb_i8(fb, o, 3 + shift, 0, "fused_activation_function");
  int32_t dw = ims__fb_i32(fb, o, 4 + shift, 1, "dilation_w_factor");
  int32_t dh = ims__fb_i32(fb, o, 5 + shift, 1, "dilation_h_factor");
  if (ims__fb_failed(fb)) return fb->status;
  st = padding_kind(L, pad, node);
  if (st == IMS_OK) st = positive(L, sw, "stride_w", &node->stride_w);
  if (st == IMS_OK) st = positive(L, sh, "stride_h", &node->stride_h);
  if (st == IMS_OK) st = positive(L, dw, "dilation_w", &node->dilation_w);
  if (st == IMS_OK) st = positive(L, dh, "dilation_h", &node->dilation_h);
  if (st == IMS_OK) st = fused_act(L, act, node);
  if (st == IMS_OK) st = op_inputs(L, in, 3, 1, node);
  if (st == IMS_OK) st = check_conv_io(L, node);
  return st;
}

static ims_status op_conv(tfl *L, ims__fb_table op, ims__fb_vec in,
                          ims__node *node) {
  ims_status st = conv_common(L, op, in, OPT_CONV, node);
  if (st != IMS_OK) return st;
  const ims__tensor *x = tensor(L, node->inputs[0]);
  const ims__tensor *w = tensor(L, node->inputs[1]);
  if (w->shape[3] != x->shape[3])
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "weights take %u input channels, input has %u",
                   w->shape[3], x->shape[3]);
  return IMS_OK;
}

static ims_status op_depthwise(tfl *L, ims__fb_table op, ims__fb_vec in,
                               ims__node *node) {
  ims_status st = conv_common(L, op, in, OPT_DEPTHWISE, node);
  if (st != IMS_OK) return st;
  /* The options' depth_multiplier is redundant (TFLite ignores it in
   * newer versions); the shapes are authoritative. */
  const ims__tensor *x = tensor(L, node->inputs[0]);
  const ims__tensor *w = tensor(L, node->inputs[1]);
  if (w->shape[0] != 1 || w->shape[3] % x->shape[3] != 0)
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "weights {%u,%u,%u,%u} do not fit %u input channels",
                   w->shape[0], w->shape[1], w->shape[2], w->shape[3],
                   x->shape[3]);
  node->depth_multiplier = w->shape[3] / x->shape[3];
  return IMS_OK;
}

static ims_status op_pool(tfl *L, ims__fb_table op, ims__fb_vec in,
                          ims__node *node) {
  ims__fb *fb = &L->fb;
  ims__fb_table o;
  ims_status st = op_options(L, op, OPT_POOL, &o);
  if (st != IMS_OK) return st;
  int8_t pad = ims__fb_i8(fb, o, 0, 0, "padding");
  int32_t sw = ims__fb_i32(fb, o, 1, 0, "stride_w");
  int32_t sh = ims__fb_i32(fb, o, 2, 0, "stride_h");
  int32_t fw = ims__fb_i32(fb, o, 3, 0, "filter_width");
  int32_t fh = ims__fb_i32(fb, o, 4, 0, "filter_height");
  int8_t act = ims__fb_i8(fb, o, 5, 0, "fused_activation_function");
  if (ims__fb_failed(fb)) return fb->status;
  st = padding_kind(L, pad, node);
  if (st == IMS_OK) st = positive(L, sw, "stride_w", &node->stride_w);
  if (st == IMS_OK) st = positive(L, sh, "stride_h", &node->stride_h);
  if (st == IMS_OK) st = positive(L, fw, "filter_width", &node->filter_w);
  if (st == IMS_OK) st = positive(L, fh, "filter_height", &node->filter_h);
  if (st == IMS_OK) st = fused_act(L, act, node);
  if (st == IMS_OK) st = op_inputs(L, in, 1, 0, node);
  if (st == IMS_OK) st = need_rank(L, node->inputs[0], 4, "input");
  if (st == IMS_OK) st = need_rank(L, node->output, 4, "output");
  return st;
}

static ims_status op_add(tfl *L, ims__fb_table op, ims__fb_vec in,
                         ims__node *node) {
  ims__fb_table o;
  ims_status st = op_options(L, op, OPT_ADD, &o);
  if (st != IMS_OK) return st;
  int8_t act = ims__fb_i8(&L->fb, o, 0, 0, "fused_activation_function");
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  st = fused_act(L, act, node);
  if (st == IMS_OK) st = op_inputs(L, in, 2, 0, node);
  return st;
}

/* MEAN: only over H and W (axes {1,2} in either order) of a 4-D input. */
static ims_status op_mean(tfl *L, ims__fb_table op, ims__fb_vec in,
                          ims__node *node) {
  ims__fb_table o;
  ims_status st = op_options(L, op, OPT_REDUCER, &o);
  if (st != IMS_OK) return st;
  bool keep = ims__fb_u8(&L->fb, o, 0, 0, "keep_dims") != 0;
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  st = op_inputs(L, in, 2, 0, node);
  if (st == IMS_OK) st = need_const(L, node, 1, "axes");
  if (st == IMS_OK) st = need_rank(L, node->inputs[0], 4, "input");
  if (st == IMS_OK) st = need_rank(L, node->output, keep ? 4 : 2, "output");
  if (st != IMS_OK) return st;
  const ims__tensor *axes = tensor(L, node->inputs[1]);
  int32_t a[2] = {0, 0};
  if (axes->type == IMS_TENSOR_I32 && axes->data_size == sizeof a)
    memcpy(a, axes->data, sizeof a);
  if (!((a[0] == 1 && a[1] == 2) || (a[0] == 2 && a[1] == 1)))
    return op_fail(L, IMS_ERR_UNSUPPORTED,
                   "MEAN only over axes {1,2} (tensor %u is not)",
                   node->inputs[1]);
  node->input_count = 1;
  return IMS_OK;
}

static ims_status op_fc(tfl *L, ims__fb_table op, ims__fb_vec in,
                        ims__node *node) {
  ims__fb_table o;
  ims_status st = op_options(L, op, OPT_FC, &o);
  if (st != IMS_OK) return st;
  int8_t act = ims__fb_i8(&L->fb, o, 0, 0, "fused_activation_function");
  int8_t format = ims__fb_i8(&L->fb, o, 1, 0, "weights_format");
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (format != 0)
    return op_fail(L, IMS_ERR_UNSUPPORTED,
                   "weights_format %d unsupported (only DEFAULT)", format);
  st = fused_act(L, act, node);
  if (st == IMS_OK) st = op_inputs(L, in, 3, 1, node);
  if (st == IMS_OK) st = need_const(L, node, 1, "weights");
  if (st == IMS_OK) st = need_rank(L, node->inputs[1], 2, "weights");
  if (st != IMS_OK) return st;
  const ims__tensor *w = tensor(L, node->inputs[1]);
  size_t in_elems = ims__tensor_elements(tensor(L, node->inputs[0]));
  size_t out_elems = ims__tensor_elements(tensor(L, node->output));
  if (in_elems % w->shape[1] != 0 ||
      out_elems != in_elems / w->shape[1] * w->shape[0])
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "weights {%u,%u} do not fit %zu inputs, %zu outputs",
                   w->shape[0], w->shape[1], in_elems, out_elems);
  return check_bias(L, node, w->shape[0]);
}

/* RESHAPE and SQUEEZE: a view; the shape input (if any) is not needed,
 * the output tensor's shape is the result. */
static ims_status op_reshape(tfl *L, ims__fb_table op, ims__fb_vec in,
                             ims__node *node) {
  ims_status st = op_inputs(L, in, 1, 0, node);
  if (st != IMS_OK) return st;
  size_t a = ims__tensor_elements(tensor(L, node->inputs[0]));
  size_t b = ims__tensor_elements(tensor(L, node->output));
  if (a != b)
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "reshapes %zu elements into %zu", a, b);
  return IMS_OK;
}

static ims_status op_softmax(tfl *L, ims__fb_table op, ims__fb_vec in,
                             ims__node *node) {
  ims__fb_table o;
  ims_status st = op_options(L, op, OPT_SOFTMAX, &o);
  if (st != IMS_OK) return st;
  node->beta = ims__fb_f32(&L->fb, o, 0, 0.0f, "beta");
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (!(isfinite(node->beta) && node->beta > 0.0f))
    return op_fail(L, IMS_ERR_UNSUPPORTED, "beta %g unsupported",
                   (double)node->beta);
  return op_inputs(L, in, 1, 0, node);
}

static ims_status op_unary(tfl *L, ims__fb_table op, ims__fb_vec in,
                           ims__node *node) {
  return op_inputs(L, in, 1, 0, node);
}

/* PAD: paddings is a constant int32 {4,2}; only H and W may be padded. */
static ims_status op_pad(tfl *L, ims__fb_table op, ims__fb_vec in,
                         ims__node *node) {
  ims_status st = op_inputs(L, in, 2, 0, node);
  if (st == IMS_OK) st = need_const(L, node, 1, "paddings");
  if (st == IMS_OK) st = need_rank(L, node->inputs[0], 4, "input");
  if (st != IMS_OK) return st;
  const ims__tensor *p = tensor(L, node->inputs[1]);
  int32_t v[8];
  if (p->type != IMS_TENSOR_I32 || p->rank != 2 || p->shape[0] != 4 ||
      p->shape[1] != 2)
    return op_fail(L, IMS_ERR_UNSUPPORTED,
                   "paddings (tensor %u) is not an int32 {4,2} tensor",
                   node->inputs[1]);
  memcpy(v, p->data, sizeof v);
  for (int k = 0; k < 8; k++) {
    if (v[k] < 0 || ((k < 2 || k >= 6) && v[k] != 0))
      return op_fail(L, IMS_ERR_UNSUPPORTED,
                     "padding %d of dimension %d unsupported (only H and "
                     "W, non-negative)",
                     v[k], k / 2);
  }
  node->pad_top = (uint32_t)v[2];
  node->pad_bottom = (uint32_t)v[3];
  node->pad_left = (uint32_t)v[4];
  node->pad_right = (uint32_t)v[5];
  return IMS_OK;
}

/* ---- 5. operators ------------------------------------------------------ */

static const struct op_entry {
  int32_t code; /* TFLite builtin code */
  ims__op op;   /* graph op */
  op_fn fn;     /* reads inputs and options */
} op_table[] = {
    {TFL_ADD, IMS__OP_ADD, op_add},
    {TFL_AVERAGE_POOL_2D, IMS__OP_AVERAGE_POOL_2D, op_pool},
    {TFL_CONV_2D, IMS__OP_CONV_2D, op_conv},
    {TFL_DEPTHWISE_CONV_2D, IMS__OP_DEPTHWISE_CONV_2D, op_depthwise},
    {TFL_DEQUANTIZE, IMS__OP_DEQUANTIZE, op_unary},
    {TFL_FULLY_CONNECTED, IMS__OP_FULLY_CONNECTED, op_fc},
    {TFL_RESHAPE, IMS__OP_RESHAPE, op_reshape},
    {TFL_SOFTMAX, IMS__OP_SOFTMAX, op_softmax},
    {TFL_PAD, IMS__OP_PAD, op_pad},
    {TFL_MEAN, IMS__OP_MEAN, op_mean},
    {TFL_SQUEEZE, IMS__OP_RESHAPE, op_reshape},
    {TFL_QUANTIZE, IMS__OP_QUANTIZE, op_unary},
};

/* Builtin code of operator_codes[index]. Older files have only the int8
 * deprecated_builtin_code; newer ones put codes >= 127 in builtin_code and
 * 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) in the deprecated field, and codes
 * below 127 in both. The larger of the two is the real code either way. */
static ims_status op_code(tfl *L, uint32_t index, int32_t *code_out,
                          const char **custom_out) {
  ims__fb *fb = &L->fb;
  if (index >= L->opcodes.len)
    return ims__fb_fail(fb, "opcode index %u out of range (%u operator "
                        "codes)", index, L->opcodes.len);
  ims__fb_table c = ims__fb_vec_table(fb, L->opcodes, index, "opcode");
  int8_t dep = ims__fb_i8(fb, c, OPCODE_DEPRECATED, 0, "opcode");
  int32_t code = ims__fb_i32(fb, c, OPCODE_BUILTIN, 0, "opcode");
  *custom_out = ims__fb_string(fb, c, OPCODE_CUSTOM, "custom_code");
  *code_out = code > dep ? code : dep;
  return fb->status;
}

/* The single output: in range, not constant, not written before. */
static ims_status op_output(tfl *L, ims__fb_vec out, ims__node *node) {
  if (out.len != 1)
    return op_fail(L, IMS_ERR_UNSUPPORTED, "has %u outputs (supported: 1)",
                   out.len);
  int32_t id = ims__fb_vec_i32(&L->fb, out, 0);
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (id < 0 || (uint32_t)id >= L->m->tensor_count)
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "output is tensor %d, out of range (%u tensors)", id,
                   L->m->tensor_count);
  if (L->ready[id])
    return op_fail(L, IMS_ERR_BAD_MODEL,
                   "output tensor %d is a constant, the graph input, or "
                   "written by an earlier operator",
                   id);
  node->output = (uint32_t)id;
  return IMS_OK;
}

/* Make the output's dimension 0 the batch (1), as graph_int.h requires:
 * TFLite writes some outputs rows first (FULLY_CONNECTED without
 * keep_num_dims gives {rows, units}; a RESHAPE may give {4, 5}). The
 * executor sizes activations per image as elements / shape[0], so {4, 5}
 * would get a quarter of its bytes; {1, 4, 5} holds the same bytes and
 * sizes right. */
static ims_status batch_first(tfl *L, uint32_t id) {
  ims__tensor *t = &L->m->tensors[id];
  if (t->rank == 0 || t->shape[0] == 1) return IMS_OK;
  if (t->rank == IMS__MAX_RANK)
    return op_fail(L, IMS_ERR_UNSUPPORTED,
                   "output tensor %u has leading dimension %u (not the "
                   "batch) and no room for one at rank %u",
                   id, t->shape[0], t->rank);
  memmove(t->shape + 1, t->shape, t->rank * sizeof t->shape[0]);
  t->shape[0] = 1;
  t->rank++;
  if (t->channel_scales != NULL) t->quant_dim++;
  return IMS_OK;
}

static ims_status unsupported_op(tfl *L, int32_t code, const char *custom) {
  if (code == TFL_CUSTOM && custom[0] != '\0')
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "unsupported operator CUSTOM \"%s\" (builtin code 32) "
                     "at operator index %u",
                     custom, L->op_index);
  return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                   "unsupported operator %s (builtin code %d) at operator "
                   "index %u",
                   ims__tflite_op_name(code), code, L->op_index);
}

static ims_status load_op(tfl *L, uint32_t i) {
  ims__fb *fb = &L->fb;
  ims__node *node = &L->m->nodes[i];
  ims__fb_context(fb, "operator %u", i);
  L->op_index = i;
  ims__fb_table op = ims__fb_vec_table(fb, L->ops, i, "table");
  uint32_t index = ims__fb_u32(fb, op, OP_OPCODE, 0, "opcode_index");
  ims__fb_vec in = ims__fb_vector(fb, op, OP_INPUTS, 4, "inputs");
  ims__fb_vec out = ims__fb_vector(fb, op, OP_OUTPUTS, 4, "outputs");
  int32_t code = 0;
  const char *custom = "";
  if (ims__fb_failed(fb) || op_code(L, index, &code, &custom) != IMS_OK)
    return fb->status;
  const struct op_entry *e = NULL;
  for (size_t k = 0; k < sizeof op_table / sizeof op_table[0]; k++) {
    if (op_table[k].code == code) e = &op_table[k];
  }
  if (e == NULL) return unsupported_op(L, code, custom);
  L->op_name = ims__tflite_op_name(code);
  node->op = e->op;
  node->source_index = i;
  node->source_name = L->op_name;
  node->dilation_h = node->dilation_w = 1;
  ims_status st = op_output(L, out, node);
  if (st == IMS_OK) st = e->fn(L, op, in, node);
  if (st == IMS_OK) st = batch_first(L, node->output);
  if (st == IMS_OK) L->ready[node->output] = 1;
  return st;
}

/* ---- 6. loading, the format table entry ------------------------------- */

/* The single entry of a subgraph's inputs or outputs vector. */
static ims_status graph_io(tfl *L, ims__fb_vec v, const char *what,
                           uint32_t *id_out) {
  if (v.len != 1)
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "model has %u %ss (supported: exactly 1)", v.len, what);
  int32_t id = ims__fb_vec_i32(&L->fb, v, 0);
  if (ims__fb_failed(&L->fb)) return L->fb.status;
  if (id < 0 || (uint32_t)id >= L->m->tensor_count)
    return ims__fb_fail(&L->fb, "graph %s is tensor %d, out of range (%u "
                        "tensors)", what, id, L->m->tensor_count);
  *id_out = (uint32_t)id;
  return IMS_OK;
}

/* The input must be an NHWC image tensor fed at run time. */
static ims_status check_input(tfl *L) {
  const ims__tensor *t = tensor(L, L->m->input);
  if (t->data != NULL)
    return ims__fail(L->err, IMS_ERR_BAD_MODEL,
                     "graph input (tensor %u) is a constant", L->m->input);
  if (t->rank != 4 || t->shape[3] != 3 || t->type == IMS_TENSOR_I32)
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "graph input (tensor %u \"%s\") is %s rank %u with %u "
                     "channels; need a 4-D NHWC image with 3 channels",
                     L->m->input, t->name, ims__type_name(t->type), t->rank,
                     t->rank == 4 ? t->shape[3] : 0);
  L->ready[L->m->input] = 1;
  return IMS_OK;
}

/* Root, version, top-level vectors, subgraph 0; allocates the arrays. */
static ims_status read_model(tfl *L) {
  ims__fb *fb = &L->fb;
  ims__fb_context(fb, "model");
  ims__fb_table root = ims__fb_root(fb);
  uint32_t version = ims__fb_u32(fb, root, MODEL_VERSION, 0, "version");
  L->opcodes = ims__fb_vector(fb, root, MODEL_OPCODES, 4, "operator_codes");
  L->buffers = ims__fb_vector(fb, root, MODEL_BUFFERS, 4, "buffers");
  ims__fb_vec sgs = ims__fb_vector(fb, root, MODEL_SUBGRAPHS, 4, "subgraphs");
  if (ims__fb_failed(fb)) return fb->status;
  if (version != 3)
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "TFLite schema version %u (supported: 3)", version);
  if (sgs.len == 0) return ims__fb_fail(fb, "no subgraphs");
  ims__fb_context(fb, "subgraph 0");
  ims__fb_table sg = ims__fb_vec_table(fb, sgs, 0, "table");
  L->tensors = ims__fb_vector(fb, sg, SG_TENSORS, 4, "tensors");
  L->ops = ims__fb_vector(fb, sg, SG_OPERATORS, 4, "operators");
  if (ims__fb_failed(fb)) return fb->status;
  if (L->tensors.len > MAX_TENSORS || L->ops.len > MAX_OPERATORS)
    return ims__fail(L->err, IMS_ERR_UNSUPPORTED,
                     "%u tensors / %u operators exceed the limits (%u / %u)",
                     L->tensors.len, L->ops.len, MAX_TENSORS, MAX_OPERATORS);
  if (L->ops.len == 0) return ims__fb_fail(fb, "no operators");
  L->m->tensor_count = L->tensors.len;
  L->m->node_count = L->ops.len;
  L->m->tensors = calloc(L->tensors.len + 1u, sizeof *L->m->tensors);
  L->m->nodes = calloc(L->ops.len, sizeof *L->m->nodes);
  L->ready = calloc(L->tensors.len + 1u, 1);
  if (L->m->tensors == NULL || L->m->nodes == NULL || L->ready == NULL)
    return ims__fail(L->err, IMS_ERR_NO_MEMORY, "out of memory");
  ims_status st = graph_io(L, ims__fb_vector(fb, sg, SG_INPUTS, 4, "inputs"),
                           "input", &L->m->input);
  if (st == IMS_OK)
    st = graph_io(L, ims__fb_vector(fb, sg, SG_OUTPUTS, 4, "outputs"),
                  "output", &L->m->output);
  return st;
}

/* ims__model_format.load: `dir` is unused (TFLite keeps every buffer in
 * the one file).
 * @retval IMS_ERR_BAD_MODEL    malformed; message names the byte offset
 * @retval IMS_ERR_UNSUPPORTED  operator, type or option outside the set
 * @retval IMS_ERR_NO_MEMORY */
static ims_status tflite_load(ims_model *m, const char *dir,
                              ims_error *err) {
  tfl L;
  memset(&L, 0, sizeof L);
  L.m = m;
  L.err = err;
  L.op_name = "?";
  ims_status st = ims__fb_init(&L.fb, m->file, m->file_size, "TFL3", err);
  if (st == IMS_OK) st = read_model(&L);
  for (uint32_t i = 0; st == IMS_OK && i < m->tensor_count; i++)
    st = load_tensor(&L, i);
  if (st == IMS_OK) st = check_input(&L);
  for (uint32_t i = 0; st == IMS_OK && i < m->node_count; i++)
    st = load_op(&L, i);
  if (st == IMS_OK && !L.ready[m->output])
    st = ims__fail(err, IMS_ERR_BAD_MODEL,
                   "graph output (tensor %u) is never produced", m->output);
  free(L.ready);
  return st;
}

/* The FlatBuffers file identifier "TFL3" at bytes 4..7. */
static bool tflite_sniff(const void *data, size_t size) {
  return size >= 8 && memcmp((const char *)data + 4, "TFL3", 4) == 0;
}

const ims__model_format ims__model_tflite = {
    .name = "tflite",
    .not_this = "a TFLite model (no TFL3 identifier)",
    .sniff = tflite_sniff,
    .load = tflite_load,
};
