/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graph_int.h - the internal graph form every model loader produces and
 * the executor (src/infer/) runs, and the helpers graph.c keeps for it.
 * Format-neutral: each loader of the format table (format_int.h) builds an
 * ims_model out of these structs (the ONNX loader turns NCHW graphs into
 * this NHWC form at load time, see onnx_int.h).
 *
 * Conventions (loaders must normalize to these):
 *  - Activations are NHWC. A 4-D activation's shape is {N, H, W, C}; N in
 *    the graph is the model's own batch (1); the executor scales it.
 *  - CONV_2D weights are OHWI {O, KH, KW, I}; DEPTHWISE_CONV_2D weights are
 *    {1, KH, KW, C*M} (TFLite's layout); FULLY_CONNECTED weights are
 *    {O, I}. Biases are 1-D {O}: int32 for quantized ops, float32 for float.
 *  - Quantization is affine: real = scale * (q - zero_point). Per-channel
 *    tensors (int8 weights, int32 biases) carry `channel_scales` along
 *    `quant_dim`, and then `scale` is 0 (never use it: XNNPACK rejects a 0
 *    scale, so a mix-up fails loudly) and `zero_point` is the one zero point
 *    every channel shares (TFLite: 0). Per-tensor ones use `scale` /
 *    `zero_point` only and have channel_scales == NULL. Unquantized tensors
 *    (float32, int32 shapes) have scale 1, zero_point 0.
 *  - Constant tensors point into memory owned by the model (the file
 *    buffer or model->arena), aligned to their element size; activations
 *    have data == NULL.
 *  - Node inputs are what the executor needs, in this order: CONV_2D /
 *    DEPTHWISE_CONV_2D / FULLY_CONNECTED: data, weights, bias (bias absent
 *    -> input_count 2); ADD, MUL, SUB, DIV: a, b (numpy broadcasting over
 *    the NHWC shapes; a constant operand keeps its own shape, an
 *    activation's first dimension scales with the batch); CONCATENATE: 2 or
 *    3 inputs joined along the last (channel) dimension; PAD: data,
 *    paddings (already decoded into pad_*); every other op: data only
 *    (RESHAPE/SQUEEZE's shape tensor and MEAN's axes are checked by the
 *    loader and dropped; the output tensor's shape says the result: MEAN's
 *    output is {N,1,1,C} with keep_dims or {N,C} without).
 *  - Nodes are in execution order: every node input is a constant, the
 *    graph input, or the output of an earlier node; no tensor is written
 *    twice.
 *
 * Sections: the graph structs; the helpers of graph.c (names and sizes,
 * the arena, appending tensors and nodes, freeing); the feature layer
 * (features.c).
 *
 * Threading: immutable after loading; shared read-only by engines.
 */
#ifndef IMS_MODEL_GRAPH_INT_H
#define IMS_MODEL_GRAPH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "imgstream/model.h"

#define IMS__MAX_RANK 6
#define IMS__MAX_NODE_INPUTS 3

typedef enum ims__op {
  IMS__OP_CONV_2D,
  IMS__OP_DEPTHWISE_CONV_2D,
  IMS__OP_ADD,
  IMS__OP_AVERAGE_POOL_2D,
  IMS__OP_MEAN,            /* over H and W only (axes {1,2}) */
  IMS__OP_FULLY_CONNECTED,
  IMS__OP_RESHAPE,         /* also SQUEEZE: a view, same bytes */
  IMS__OP_SOFTMAX,         /* over the last dimension */
  IMS__OP_QUANTIZE,        /* f32->q8, or q8->q8 requantization */
  IMS__OP_DEQUANTIZE,      /* q8->f32 */
  IMS__OP_PAD,             /* constant padding (zero point for q8) */
  /* Float32 only, added for ONNX (append new ops here, before COUNT): */
  IMS__OP_MUL,             /* a * b, broadcasting */
  IMS__OP_SUB,             /* a - b, broadcasting */
  IMS__OP_DIV,             /* a / b, broadcasting */
  IMS__OP_SIGMOID,         /* 1 / (1 + exp(-x)) */
  IMS__OP_HARD_SIGMOID,    /* clamp(alpha * x + beta, 0, 1) */
  IMS__OP_HARD_SWISH,      /* x * clamp(x + 3, 0, 6) / 6 */
  IMS__OP_CLAMP,           /* clamp(x, act_min, act_max) */
  IMS__OP_MAX_POOL_2D,     /* NHWC, pad_* explicit, filter_*, stride_* */
  IMS__OP_CONCATENATE,     /* along the last dimension */
  IMS__OP_COUNT
} ims__op;

typedef enum ims__activation {
  IMS__ACT_NONE,
  IMS__ACT_RELU,
  IMS__ACT_RELU6
} ims__activation;

typedef enum ims__padding {
  IMS__PAD_VALID,   /* no padding */
  IMS__PAD_SAME,    /* TensorFlow SAME: out = ceil(in/stride), extra on the
                       bottom/right */
  IMS__PAD_EXPLICIT /* node->pad_{top,left,bottom,right} */
} ims__padding;

typedef struct ims__tensor {
  const char *name;         /* borrowed from the model; may be "" */
  ims_tensor_type type;     /* element type */
  uint32_t rank;            /* number of dimensions, <= IMS__MAX_RANK */
  uint32_t shape[IMS__MAX_RANK]; /* dimensions, outermost first */
  const void *data;         /* constant contents, or NULL for activations */
  size_t data_size;         /* bytes at data (checked against shape) */
  float scale;              /* per-tensor scale (1 if not quantized) */
  int32_t zero_point;       /* per-tensor zero point */
  const float *channel_scales; /* per-channel scales, or NULL */
  uint32_t channel_count;   /* entries in channel_scales */
  uint32_t quant_dim;       /* dimension channel_scales run along */
} ims__tensor;

typedef struct ims__node {
  ims__op op;               /* what to compute */
  uint32_t source_index;    /* operator index in the model file */
  const char *source_name;  /* operator name in the file ("CONV_2D") */
  uint32_t input_count;     /* used entries of inputs[] */
  uint32_t inputs[IMS__MAX_NODE_INPUTS]; /* tensor ids: data, weights, bias;
                                            PAD: data, paddings */
  uint32_t output;          /* tensor id */
  ims__activation activation; /* fused activation on the output */
  ims__padding padding;     /* CONV/DEPTHWISE/POOL */
  uint32_t pad_top, pad_left, pad_bottom, pad_right; /* PAD_EXPLICIT, and
                                                        PAD (H and W only) */
  uint32_t stride_h, stride_w;     /* CONV/DEPTHWISE/POOL */
  uint32_t dilation_h, dilation_w; /* CONV/DEPTHWISE, 1 if none */
  uint32_t filter_h, filter_w;     /* POOL window */
  uint32_t depth_multiplier;       /* DEPTHWISE */
  float beta;                      /* SOFTMAX: exp(beta * x);
                                      HARD_SIGMOID: the offset */
  float alpha;                     /* HARD_SIGMOID: the slope */
  float act_min, act_max;          /* CLAMP bounds */
} ims__node;

struct ims_model {
  const char *format;       /* its ims__model_format's name ("tflite",
                               "onnx"; static strings) */
  void *file;               /* owned copy of the file bytes */
  size_t file_size;         /* bytes at file */
  void *arena;              /* owned loader allocations (scales, realigned
                               weights): a chain of blocks made by
                               ims__model_alloc(); freed with the model */
  ims__tensor *tensors;     /* owned array of tensor_count */
  uint32_t tensor_count;
  ims__node *nodes;         /* owned array, in execution order */
  uint32_t node_count;
  uint32_t input;           /* tensor id of the single image input */
  uint32_t output;          /* tensor id of the single output */
  int output_logits;        /* 1: the output is raw scores (no softmax
                               at the end), as ONNX classifiers give */
};

/* ---- graph.c: names and sizes ---- */

/* Name of an op kind for messages ("CONV_2D"). */
const char *ims__op_name(ims__op op);

/* Name of a tensor type for messages ("FLOAT32", TFLite's spelling);
 * "?" for a value outside the enum. */
const char *ims__type_name(ims_tensor_type type);

/* Elements in a tensor (product of its shape; 1 for rank 0). */
size_t ims__tensor_elements(const ims__tensor *t);

/* Bytes per element of a type. */
size_t ims__type_size(ims_tensor_type type);

/* ---- graph.c: building and freeing ---- */

/* Zeroed, 16-byte aligned memory owned by `model` (freed by
 * ims_model_destroy); NULL if out of memory. For loaders. */
void *ims__model_alloc(ims_model *model, size_t size);

/* Append a zeroed tensor / node to model->tensors / model->nodes, for
 * loaders that do not know the count up front. *cap is the array's
 * allocated length, kept by the caller (0 for none yet): the array
 * doubles, from 64 entries, when full. The new entry's id / index goes
 * to the last argument and the count grows by one.
 * @retval IMS_ERR_NO_MEMORY  "out of memory"; the graph is unchanged */
ims_status ims__graph_tensor_add(ims_model *model, uint32_t *cap,
                                 ims_error *err, uint32_t *id_out);
ims_status ims__graph_node_add(ims_model *model, uint32_t *cap,
                               ims_error *err, uint32_t *index_out);

/* Free the graph form: the arena, tensors and nodes (not model->file, not
 * the model itself); leaves them NULL / 0. */
void ims__graph_free(ims_model *model);

/* ---- features.c: the penultimate features ---- */

/* Where a classifier's features are (see ims_model_feature_layer). */
typedef struct ims__feature_layer {
  uint32_t tensor;   /* tensor id holding them (an activation) */
  uint32_t producer; /* index of the node writing it: the values are
                        final once that node has run */
  size_t count;      /* values per image */
} ims__feature_layer;

/* The tensor named `name` (NULL: the data input of the final classifier
 * layer, found by walking back from the output through softmax, reshape
 * and (de)quantize nodes to a CONV_2D or FULLY_CONNECTED).
 * @retval IMS_ERR_NOT_FOUND    no tensor of that name / no classifier
 *                              layer; the message names it
 * @retval IMS_ERR_INVALID_ARG  the name is a constant or the input
 * @retval IMS_ERR_UNSUPPORTED  int32 values, or no node writes it */
ims_status ims__feature_find(const ims_model *m, const char *name,
                             ims__feature_layer *out, ims_error *err);

#endif /* IMS_MODEL_GRAPH_INT_H */
