/* SPDX-License-Identifier: Apache-2.0 */
/*
 * onnx_int.h - the internals the ONNX loader's four files share (its
 * entry, ims__model_onnx, is in format_int.h):
 *   onnx.c       reads the ModelProto (protobuf.c) into the loader state
 *                below: nodes, initializers (raw_data, typed fields or
 *                external files), the graph input and output; sniffing,
 *                loading and the format table entry
 *   onnx_ops.c   lowers each ONNX node to graph_int.h nodes: the dispatch
 *                table, element-wise ops, activations (fused into their
 *                producer where possible), reshapes, concatenation, and
 *                the graph tensors and nodes every lowering makes (on
 *                graph.c's appending helpers)
 *   onnx_layers.c  the layers with weights or windows: Conv (weights
 *                converted), BatchNormalization (folded), pooling,
 *                Gemm/MatMul
 *   onnx_fold.c  evaluates nodes whose inputs are all constant (the
 *                Shape/Gather/Unsqueeze/Concat chains exporters emit)
 *
 * Layout: ONNX activations are NCHW; the graph form is NHWC. A 4-D value
 * keeps its ONNX dims here (for shape logic and messages) while its
 * graph tensor is {N, H, W, C}. Weights are converted once at load:
 * Conv OIHW -> OHWI, depthwise -> {1, KH, KW, C*M}. Flattening a spatial
 * NCHW tensor is free in NHWC memory but leaves its features in (h, w, c)
 * order; such a value is marked `hwc` and the Gemm/MatMul that reads it
 * permutes its weight columns to match, so no transpose ever runs.
 *
 * Batch: the graph's batch is 1 (the executor scales it); a dynamic batch
 * dimension of the input is taken as 1, and Shape of an activation gives
 * 1 for it.
 *
 * Threading: one load is one thread; no shared state.
 */
#ifndef IMS_MODEL_ONNX_INT_H
#define IMS_MODEL_ONNX_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/graph_int.h"
#include "model/protobuf_int.h"

/* ---- loader internals (onnx*.c only) --------------------------------- */

#define IMS__ONNX_MAX_RANK 8

/* TensorProto.DataType values used here. */
enum {
  IMS__ONNX_FLOAT = 1,
  IMS__ONNX_INT32 = 6,
  IMS__ONNX_INT64 = 7,
  IMS__ONNX_DOUBLE = 11
};

typedef struct ims__onnx_attr {
  const char *name;         /* arena copy */
  ims__pb_msg msg;          /* the AttributeProto */
} ims__onnx_attr;

typedef struct ims__onnx_node {
  uint32_t index;           /* position in GraphProto.node */
  const char *name;         /* arena copies; name may be "" */
  const char *op;
  const char *domain;
  uint32_t n_in, n_out, n_attr;
  const char **in;          /* arena arrays of names ("" = absent) */
  const char **out;
  ims__onnx_attr *attr;
} ims__onnx_node;

typedef enum ims__onnx_kind {
  IMS__OV_PENDING,          /* a node output not produced yet */
  IMS__OV_CONST,            /* constant: f or i holds `count` values */
  IMS__OV_ACT               /* activation: graph tensor `tensor` */
} ims__onnx_kind;

typedef struct ims__onnx_value {
  const char *name;         /* arena copy */
  ims__onnx_kind kind;      /* what it is now */
  uint32_t rank;            /* ONNX rank */
  int64_t dims[IMS__ONNX_MAX_RANK]; /* ONNX dims (batch 1 for acts) */
  bool is_int;              /* CONST: int64 data in i, else float in f */
  size_t count;             /* CONST: elements */
  float *f;                 /* CONST float data (arena) */
  int64_t *i;               /* CONST int64 data (arena) */
  uint32_t tensor;          /* ACT: graph tensor id */
  bool hwc;                 /* ACT, rank 2: features in (h,w,c) order */
  uint32_t fh, fw, fc;      /* ACT with hwc: the spatial shape flattened */
  uint32_t uses;            /* node inputs (+ graph output) reading it */
  int32_t producer;         /* ACT: graph node that wrote it, or -1 */
} ims__onnx_value;

typedef struct ims__onnx {
  ims_model *m;             /* the model being filled */
  ims__pb pb;               /* reader over m->file */
  ims_error *err;           /* where errors go */
  bool node_failed;         /* a node error is recorded: later ones
                               keep it (ims__onnx_node_fail) */
  const char *dir;          /* external data folder, or NULL */
  int64_t opset;            /* default-domain opset version */
  ims__pb_msg graph;        /* the GraphProto */
  ims__onnx_node *nodes;    /* owned (free) array of node_count */
  uint32_t node_count;
  ims__onnx_value *values;  /* owned (free) array, value_cap entries */
  uint32_t value_count, value_cap;
  uint32_t *hash;           /* owned: value index + 1 by name, 0 = empty */
  uint32_t hash_cap;        /* power of two >= 2 * value_cap */
  uint32_t tensor_cap;      /* allocated entries of m->tensors */
  uint32_t node_cap;        /* allocated entries of m->nodes */
  const char *input_name;   /* the graph input */
  const char *output_name;  /* the graph output */
} ims__onnx;

/* Values by name. find: NULL if unknown. add: NULL (error set) when the
 * name is taken or the table is full. */
ims__onnx_value *ims__onnx_find(ims__onnx *x, const char *name);
ims__onnx_value *ims__onnx_add(ims__onnx *x, const char *name);

/* Attribute lookup: false if the node has no attribute `name`. Typed
 * readers fail (IMS_ERR_BAD_MODEL) on a wrong type. */
const ims__onnx_attr *ims__onnx_attr_find(const ims__onnx_node *n,
                                     const char *name);
int64_t ims__onnx_attr_int(ims__onnx *x, const ims__onnx_node *n,
                           const char *name, int64_t def);
float ims__onnx_attr_float(ims__onnx *x, const ims__onnx_node *n,
                           const char *name, float def);
/* Copies the attribute's string into buf (cap bytes, NUL-terminated);
 * `def` if absent. */
void ims__onnx_attr_string(ims__onnx *x, const ims__onnx_node *n,
                           const char *name, const char *def, char *buf,
                           size_t cap);
/* Integer list: count stored (<= cap), or -1 if absent; too long a list is
 * IMS_ERR_UNSUPPORTED (returns -2, error set). */
int ims__onnx_attr_ints(ims__onnx *x, const ims__onnx_node *n,
                        const char *name, int64_t *out, int cap);

/* Decode a TensorProto (initializer or attribute) into constant value v.
 * `what` names it in messages. */
ims_status ims__onnx_tensor(ims__onnx *x, ims__pb_msg msg,
                            ims__onnx_value *v, const char *what);

/* Errors about node n: "node 12 'conv1' (Conv): ..." */
ims_status ims__onnx_node_fail(ims__onnx *x, const ims__onnx_node *n,
                               ims_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Lower node n (onnx_ops.c). Inputs are produced (not PENDING). */
ims_status ims__onnx_lower(ims__onnx *x, const ims__onnx_node *n);

/* The graph input (ONNX dims, -1 = dynamic) and output (onnx_ops.c). */
ims_status ims__onnx_bind_input(ims__onnx *x, ims__onnx_value *v,
                                int64_t elem_type, uint32_t rank,
                                const int64_t *dims);
ims_status ims__onnx_bind_output(ims__onnx *x, ims__onnx_value *v);

/* ---- shared by the lowerings (onnx_ops.c) ----
 * Input k of n as a value, NULL if absent ("" or beyond n_in). */
ims__onnx_value *ims__onnx_in(ims__onnx *x, const ims__onnx_node *n,
                              uint32_t k);
/* A graph tensor: float32, NHWC shape given, constant data or NULL. */
ims_status ims__onnx_tensor_new(ims__onnx *x, const char *name,
                                uint32_t rank, const uint32_t *shape,
                                const float *data, uint32_t *id_out);
/* Append a graph node for n (op set, dilations 1, no inputs yet); its
 * index in m->nodes goes to *index_out. */
ims_status ims__onnx_node_new(ims__onnx *x, const ims__onnx_node *n,
                              ims__op op, uint32_t *index_out);
/* Make v an activation of ONNX shape (rank, dims) with a new graph
 * tensor, written by graph node `producer`. */
ims_status ims__onnx_make_act(ims__onnx *x, const ims__onnx_node *n,
                              ims__onnx_value *v, uint32_t rank,
                              const int64_t *dims, int32_t producer);
/* v becomes the same activation as src (a free view). */
void ims__onnx_alias(ims__onnx_value *v, const ims__onnx_value *src);
/* Require input k to be an activation / a float constant. Both always
 * write *out: the value, or NULL when it is not one (then the status is
 * the node's error) or, for an optional constant, absent. */
ims_status ims__onnx_want_act(ims__onnx *x, const ims__onnx_node *n,
                              uint32_t k, uint32_t rank,
                              ims__onnx_value **out);
ims_status ims__onnx_want_const(ims__onnx *x, const ims__onnx_node *n,
                                uint32_t k, bool optional,
                                ims__onnx_value **out);

/* ---- layers (onnx_layers.c) ---- */
ims_status ims__onnx_conv(ims__onnx *x, const ims__onnx_node *n);
ims_status ims__onnx_batch_norm(ims__onnx *x, const ims__onnx_node *n);
ims_status ims__onnx_pool(ims__onnx *x, const ims__onnx_node *n);
ims_status ims__onnx_global_pool(ims__onnx *x, const ims__onnx_node *n);
ims_status ims__onnx_reduce_mean(ims__onnx *x, const ims__onnx_node *n);
ims_status ims__onnx_gemm(ims__onnx *x, const ims__onnx_node *n);
/* Try to add constant c (broadcast along channels only) to the bias of
 * the conv / fully connected node that wrote activation a, which nothing
 * else reads; *done_out says whether it did. */
ims_status ims__onnx_fold_bias(ims__onnx *x, const ims__onnx_value *a,
                               const ims__onnx_value *c, bool *done_out);

/* Evaluate node n if every input is constant (onnx_fold.c).
 * *folded_out says whether it did; IMS_OK with false = not foldable. */
ims_status ims__onnx_fold(ims__onnx *x, const ims__onnx_node *n,
                          bool *folded_out);

/* A new constant value's storage: count elements (float or int64) in the
 * model arena, zeroed. Sets v->kind, count, f/i. */
ims_status ims__onnx_const_alloc(ims__onnx *x, ims__onnx_value *v,
                                 bool is_int, size_t count);

/* Elements of a dims list; SIZE_MAX on overflow past 2^40 or negative. */
size_t ims__onnx_elements(const int64_t *dims, uint32_t rank);

#endif /* IMS_MODEL_ONNX_INT_H */
