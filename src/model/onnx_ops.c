/* SPDX-License-Identifier: Apache-2.0 */
/*
 * onnx_ops.c - lowering ONNX nodes to graph_int.h nodes: the dispatch
 * table, the graph input and output, activations, element-wise arithmetic,
 * reshapes, concatenation, softmax; and the helpers every lowering uses
 * to make graph tensors and nodes (on graph.c's ims__graph_tensor_add /
 * ims__graph_node_add; layers with weights: onnx_layers.c).
 *
 * Layout rules (see onnx_int.h): a 4-D activation's graph tensor is NHWC.
 *  - Element-wise ops broadcast the NHWC shapes; a constant operand is
 *    expanded to the activation's rank and transposed to NHWC at load.
 *  - A reshape is a free view when it keeps the bytes in order: anything
 *    whose spatial size is 1 (or channel count 1), rank <= 3 values, and
 *    flattening a spatial NCHW tensor to [1, C*H*W], which is marked `hwc`
 *    (features in h, w, c order) for the Gemm that reads it.
 *  - Relu and Clip(0, 6) fuse into the node that wrote their input when
 *    nothing else reads it (conv, fully connected, add, mul, pooling).
 *
 * Sections (keep this order):
 *   1. helpers: inputs, graph tensors and nodes, activations
 *   2. input and output
 *   3. activations and unary ops
 *   4. element-wise binary ops
 *   5. reshapes, concatenation, softmax
 *   6. the dispatch table
 *
 * Threading: one load is one thread; no shared state.
 */
#include <math.h>
#include <string.h>

#include "core/error_int.h"
#include "model/onnx_int.h"

/* ---- 1. helpers -------------------------------------------------------- */

ims__onnx_value *ims__onnx_in(ims__onnx *x, const ims__onnx_node *n,
                              uint32_t k) {
  if (k >= n->n_in || n->in[k][0] == '\0') return NULL;
  return ims__onnx_find(x, n->in[k]);
}

static ims__onnx_value *out0(ims__onnx *x, const ims__onnx_node *n) {
  return n->n_out > 0 && n->out[0][0] != '\0'
             ? ims__onnx_find(x, n->out[0])
             : NULL;
}

ims_status ims__onnx_tensor_new(ims__onnx *x, const char *name,
                                uint32_t rank, const uint32_t *shape,
                                const float *data, uint32_t *id_out) {
  uint32_t id;
  ims_status st = ims__graph_tensor_add(x->m, &x->tensor_cap, x->err, &id);
  if (st != IMS_OK) return st;
  ims__tensor *t = &x->m->tensors[id];
  t->name = name;
  t->type = IMS_TENSOR_F32;
  t->rank = rank;
  memcpy(t->shape, shape, rank * sizeof *shape);
  t->scale = 1.0f;
  t->data = data;
  if (data != NULL) t->data_size = ims__tensor_elements(t) * sizeof(float);
  *id_out = id;
  return IMS_OK;
}

ims_status ims__onnx_node_new(ims__onnx *x, const ims__onnx_node *n,
                              ims__op op, uint32_t *index_out) {
  uint32_t at;
  ims_status st = ims__graph_node_add(x->m, &x->node_cap, x->err, &at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  g->op = op;
  g->source_index = n->index;
  g->source_name = n->op;
  g->dilation_h = g->dilation_w = 1;
  g->stride_h = g->stride_w = 1;
  g->depth_multiplier = 1;
  g->beta = 1.0f;
  *index_out = at;
  return IMS_OK;
}

/* Graph shape of ONNX dims: NCHW -> NHWC for rank 4. */
static void graph_shape(uint32_t rank, const int64_t *dims, uint32_t *shape) {
  for (uint32_t d = 0; d < rank; d++) shape[d] = (uint32_t)dims[d];
  if (rank == 4) {
    shape[1] = (uint32_t)dims[2];
    shape[2] = (uint32_t)dims[3];
    shape[3] = (uint32_t)dims[1];
  }
}

ims_status ims__onnx_make_act(ims__onnx *x, const ims__onnx_node *n,
                              ims__onnx_value *v, uint32_t rank,
                              const int64_t *dims, int32_t producer) {
  uint32_t shape[IMS__MAX_RANK];
  if (rank == 0 || rank > IMS__MAX_RANK || dims[0] != 1)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "output '%s' of rank %u does not start with "
                               "the batch dimension 1", v->name, rank);
  for (uint32_t d = 0; d < rank; d++)
    if (dims[d] <= 0 || dims[d] > (1 << 24))
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "output '%s' has dimension %lld", v->name,
                                 (long long)dims[d]);
  graph_shape(rank, dims, shape);
  v->kind = IMS__OV_ACT;
  v->rank = rank;
  memcpy(v->dims, dims, rank * sizeof *dims);
  v->hwc = false;
  v->producer = producer;
  return ims__onnx_tensor_new(x, v->name, rank, shape, NULL, &v->tensor);
}

void ims__onnx_alias(ims__onnx_value *v, const ims__onnx_value *src) {
  const char *name = v->name;
  uint32_t uses = v->uses;
  *v = *src;
  v->name = name;
  v->uses = uses;
}

ims_status ims__onnx_want_act(ims__onnx *x, const ims__onnx_node *n,
                              uint32_t k, uint32_t rank,
                              ims__onnx_value **out) {
  ims__onnx_value *v = ims__onnx_in(x, n, k);
  /* Written on every path: a failure's status comes from
   * ims__onnx_node_fail in another file, which the compiler cannot see
   * is never IMS_OK, so a caller's `a` would otherwise look unset. */
  *out = NULL;
  if (v == NULL || v->kind != IMS__OV_ACT)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "input %u must be an activation (computed "
                               "from the image)", k);
  if (rank != 0 && v->rank != rank)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "input '%s' has rank %u, expected %u",
                               v->name, v->rank, rank);
  *out = v;
  return IMS_OK;
}

ims_status ims__onnx_want_const(ims__onnx *x, const ims__onnx_node *n,
                                uint32_t k, bool optional,
                                ims__onnx_value **out) {
  ims__onnx_value *v = ims__onnx_in(x, n, k);
  *out = NULL;
  if (v == NULL && optional) return IMS_OK;
  if (v == NULL || v->kind != IMS__OV_CONST || v->is_int)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "input %u must be a float constant", k);
  *out = v;
  return IMS_OK;
}

/* Node producing activation a may take a fused activation function:
 * nothing else reads a, and the node has none yet. */
static ims__node *fusable_producer(ims__onnx *x, const ims__onnx_value *a) {
  if (a->producer < 0 || a->uses != 1) return NULL;
  ims__node *g = &x->m->nodes[a->producer];
  if (g->output != a->tensor || g->activation != IMS__ACT_NONE) return NULL;
  switch (g->op) {
    case IMS__OP_CONV_2D: case IMS__OP_DEPTHWISE_CONV_2D:
    case IMS__OP_FULLY_CONNECTED: case IMS__OP_ADD: case IMS__OP_MUL:
    case IMS__OP_SUB: case IMS__OP_DIV: case IMS__OP_AVERAGE_POOL_2D:
    case IMS__OP_MEAN: case IMS__OP_MAX_POOL_2D:
      return g;
    default: return NULL;
  }
}

/* A one-input node writing a new activation shaped like its input. */
static ims_status unary_node(ims__onnx *x, const ims__onnx_node *n,
                             ims__op op, uint32_t *index_out) {
  ims__onnx_value *a, *y = out0(x, n);
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st == IMS_OK && y == NULL)
    st = ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "no output");
  if (st == IMS_OK) st = ims__onnx_node_new(x, n, op, index_out);
  if (st != IMS_OK) return st;
  uint32_t at = *index_out;
  st = ims__onnx_make_act(x, n, y, a->rank, a->dims, (int32_t)at);
  if (st != IMS_OK) return st;
  y->hwc = a->hwc;
  y->fh = a->fh, y->fw = a->fw, y->fc = a->fc;
  ims__node *g = &x->m->nodes[at];
  g->input_count = 1;
  g->inputs[0] = a->tensor;
  g->output = y->tensor;
  return IMS_OK;
}

/* ---- 2. input and output ---------------------------------------------- */

ims_status ims__onnx_bind_input(ims__onnx *x, ims__onnx_value *v,
                                int64_t elem_type, uint32_t rank,
                                const int64_t *dims) {
  int64_t d[4];
  if (elem_type != IMS__ONNX_FLOAT || rank != 4)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "input '%s' must be a float32 [N,3,H,W] tensor "
                     "(element type %lld, rank %u)", v->name,
                     (long long)elem_type, rank);
  memcpy(d, dims, sizeof d);
  if (d[0] == -1) d[0] = 1; /* dynamic batch: the executor scales it */
  if (d[0] != 1 || d[1] != 3 || d[2] <= 0 || d[3] <= 0 ||
      d[2] > 16384 || d[3] > 16384)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "input '%s' has shape [%lld,%lld,%lld,%lld]; expected "
                     "[N,3,H,W] with a fixed H and W (batch 1 or dynamic)",
                     v->name, (long long)dims[0], (long long)dims[1],
                     (long long)dims[2], (long long)dims[3]);
  uint32_t shape[4];
  graph_shape(4, d, shape);
  v->kind = IMS__OV_ACT;
  v->rank = 4;
  memcpy(v->dims, d, sizeof d);
  ims_status st = ims__onnx_tensor_new(x, v->name, 4, shape, NULL,
                                       &v->tensor);
  x->m->input = v->tensor;
  return st;
}

/* A spatial output (a feature map, not a classifier's scores) is allowed
 * and comes back in the graph's NHWC order (docs/ONNX.md). */
ims_status ims__onnx_bind_output(ims__onnx *x, ims__onnx_value *v) {
  if (v == NULL || v->kind != IMS__OV_ACT)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "graph output '%s' is not computed from the input",
                     x->output_name);
  x->m->output = v->tensor;
  x->m->output_logits = 1;
  if (v->producer >= 0 &&
      x->m->nodes[v->producer].op == IMS__OP_SOFTMAX)
    x->m->output_logits = 0;
  if (x->m->node_count == 0)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED, "graph has no operators");
  return IMS_OK;
}

/* ---- 3. activations and unary ops ------------------------------------- */

/* clamp(x, lo, hi): fused into the producer as RELU / RELU6 when it can
 * be, else a CLAMP node. */
static ims_status lower_clamp(ims__onnx *x, const ims__onnx_node *n,
                              float lo, float hi) {
  ims__onnx_value *a, *y = out0(x, n);
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  ims__activation act = IMS__ACT_NONE;
  if (lo == 0.0f && hi == INFINITY) act = IMS__ACT_RELU;
  if (lo == 0.0f && hi == 6.0f) act = IMS__ACT_RELU6;
  ims__node *g = fusable_producer(x, a);
  if (act != IMS__ACT_NONE && g != NULL && y != NULL) {
    g->activation = act;
    ims__onnx_alias(y, a);
    return IMS_OK;
  }
  uint32_t at;
  st = unary_node(x, n, IMS__OP_CLAMP, &at);
  if (st != IMS_OK) return st;
  x->m->nodes[at].act_min = lo;
  x->m->nodes[at].act_max = hi;
  return IMS_OK;
}

static ims_status lower_relu(ims__onnx *x, const ims__onnx_node *n) {
  return lower_clamp(x, n, 0.0f, INFINITY);
}

/* A scalar bound of Clip: an input (opset 11+) or attribute. */
static ims_status clip_bound(ims__onnx *x, const ims__onnx_node *n,
                             uint32_t k, const char *attr, float def,
                             float *out) {
  *out = def;
  if (x->opset < 11) {
    *out = ims__onnx_attr_float(x, n, attr, def);
    return x->pb.status;
  }
  ims__onnx_value *c = ims__onnx_in(x, n, k);
  if (c == NULL) return IMS_OK;
  if (c->kind != IMS__OV_CONST || c->count != 1)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "%s must be a constant scalar", attr);
  *out = c->is_int ? (float)c->i[0] : c->f[0];
  return IMS_OK;
}

static ims_status lower_clip(ims__onnx *x, const ims__onnx_node *n) {
  float lo, hi;
  ims_status st = clip_bound(x, n, 1, "min", -INFINITY, &lo);
  if (st == IMS_OK) st = clip_bound(x, n, 2, "max", INFINITY, &hi);
  if (st != IMS_OK) return st;
  if (!(lo <= hi))
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "min %g is above max %g", lo, hi);
  if (lo <= -3.4e38f) lo = -INFINITY;
  if (hi >= 3.4e38f) hi = INFINITY;
  return lower_clamp(x, n, lo, hi);
}

static ims_status lower_sigmoid(ims__onnx *x, const ims__onnx_node *n) {
  uint32_t at;
  return unary_node(x, n, IMS__OP_SIGMOID, &at);
}

static ims_status lower_hard_swish(ims__onnx *x, const ims__onnx_node *n) {
  uint32_t at;
  return unary_node(x, n, IMS__OP_HARD_SWISH, &at);
}

static ims_status lower_hard_sigmoid(ims__onnx *x, const ims__onnx_node *n) {
  float alpha = ims__onnx_attr_float(x, n, "alpha", 0.2f);
  float beta = ims__onnx_attr_float(x, n, "beta", 0.5f);
  uint32_t at;
  ims_status st = x->pb.status;
  if (st == IMS_OK) st = unary_node(x, n, IMS__OP_HARD_SIGMOID, &at);
  if (st != IMS_OK) return st;
  x->m->nodes[at].alpha = alpha;
  x->m->nodes[at].beta = beta;
  return IMS_OK;
}

/* Identity, and Dropout in inference (its mask output must be unused). */
static ims_status lower_identity(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a, *y = out0(x, n);
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  for (uint32_t k = 1; k < n->n_out; k++) {
    ims__onnx_value *o = n->out[k][0] ? ims__onnx_find(x, n->out[k]) : NULL;
    if (o != NULL && o->uses > 0)
      return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                                 "output %u ('%s') is used", k, o->name);
  }
  if (y != NULL) ims__onnx_alias(y, a);
  return IMS_OK;
}

/* ---- 4. element-wise binary ops --------------------------------------- */

/* Numpy broadcast of two ONNX shapes (right-aligned). */
static bool broadcast(const ims__onnx_value *a, const ims__onnx_value *b,
                      uint32_t *rank, int64_t *dims) {
  uint32_t r = a->rank > b->rank ? a->rank : b->rank;
  for (uint32_t d = 0; d < r; d++) {
    int64_t da = d + a->rank >= r ? a->dims[d + a->rank - r] : 1;
    int64_t db = d + b->rank >= r ? b->dims[d + b->rank - r] : 1;
    if (da != db && da != 1 && db != 1) return false;
    dims[d] = da > db ? da : db;
  }
  *rank = r;
  return true;
}

/* Constant c as a graph tensor broadcastable against an activation of
 * rank r: leading 1s added, NCHW data moved to NHWC for rank 4. */
static ims_status const_operand(ims__onnx *x, const ims__onnx_node *n,
                                const ims__onnx_value *c, uint32_t r,
                                uint32_t *id_out) {
  int64_t d[IMS__ONNX_MAX_RANK];
  if (c->is_int || c->rank > r || r > IMS__MAX_RANK)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "constant '%s' cannot be broadcast here",
                               c->name);
  for (uint32_t k = 0; k < r; k++)
    d[k] = k + c->rank >= r ? c->dims[k + c->rank - r] : 1;
  float *data = ims__model_alloc(x->m, (c->count ? c->count : 1) * 4);
  if (data == NULL)
    return ims__fail(x->err, IMS_ERR_NO_MEMORY, "out of memory");
  if (r != 4) {
    memcpy(data, c->f, c->count * 4);
  } else {
    size_t N = (size_t)d[0], C = (size_t)d[1], H = (size_t)d[2],
           W = (size_t)d[3];
    for (size_t a = 0; a < N * C * H * W; a++) {
      size_t w = a % W, h = a / W % H, ch = a / (W * H) % C,
             b = a / (W * H * C);
      data[((b * H + h) * W + w) * C + ch] = c->f[a];
    }
  }
  uint32_t shape[IMS__MAX_RANK];
  graph_shape(r, d, shape);
  return ims__onnx_tensor_new(x, c->name, r, shape, data, id_out);
}

/* Graph tensor of operand v of an op whose activation has rank r. */
static ims_status operand(ims__onnx *x, const ims__onnx_node *n,
                          const ims__onnx_value *v, const ims__onnx_value *act,
                          uint32_t *id_out) {
  if (v->kind == IMS__OV_ACT) {
    if (v->rank != act->rank || v->hwc != act->hwc ||
        (v->hwc && (v->fh != act->fh || v->fw != act->fw)))
      return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                                 "operands '%s' and '%s' differ in rank or "
                                 "layout", v->name, act->name);
    *id_out = v->tensor;
    return IMS_OK;
  }
  if (act->hwc && v->count != 1)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "constant '%s' over flattened feature maps",
                               v->name);
  if (v->rank >= 2 && v->rank == act->rank && v->dims[0] != 1)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "constant '%s' spans the batch dimension",
                               v->name);
  return const_operand(x, n, v, act->rank, id_out);
}

static ims_status lower_binary(ims__onnx *x, const ims__onnx_node *n,
                               ims__op op) {
  ims__onnx_value *a = ims__onnx_in(x, n, 0), *b = ims__onnx_in(x, n, 1);
  ims__onnx_value *y = out0(x, n);
  if (a == NULL || b == NULL || y == NULL)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "needs two inputs and an output");
  ims__onnx_value *act = a->kind == IMS__OV_ACT ? a : b;
  bool done = false;
  ims_status st = IMS_OK;
  if (op == IMS__OP_ADD && b->kind == IMS__OV_CONST)
    st = ims__onnx_fold_bias(x, a, b, &done);
  if (st != IMS_OK || done) {
    if (done) ims__onnx_alias(y, a);
    return st;
  }
  uint32_t rank, ta, tb, at;
  int64_t dims[IMS__ONNX_MAX_RANK];
  if (!broadcast(a, b, &rank, dims))
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "shapes of '%s' and '%s' do not broadcast",
                               a->name, b->name);
  st = operand(x, n, a, act, &ta);
  if (st == IMS_OK) st = operand(x, n, b, act, &tb);
  if (st == IMS_OK) st = ims__onnx_node_new(x, n, op, &at);
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, rank, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  y->hwc = act->hwc;
  y->fh = act->fh, y->fw = act->fw, y->fc = act->fc;
  ims__node *g = &x->m->nodes[at];
  g->input_count = 2;
  g->inputs[0] = ta;
  g->inputs[1] = tb;
  g->output = y->tensor;
  return IMS_OK;
}

static ims_status lower_add(ims__onnx *x, const ims__onnx_node *n) {
  return lower_binary(x, n, IMS__OP_ADD);
}
static ims_status lower_mul(ims__onnx *x, const ims__onnx_node *n) {
  return lower_binary(x, n, IMS__OP_MUL);
}
static ims_status lower_sub(ims__onnx *x, const ims__onnx_node *n) {
  return lower_binary(x, n, IMS__OP_SUB);
}
static ims_status lower_div(ims__onnx *x, const ims__onnx_node *n) {
  return lower_binary(x, n, IMS__OP_DIV);
}

/* ---- 5. reshapes, concatenation, softmax ------------------------------ */

/* Are an activation's NHWC bytes in ONNX (NCHW) order? */
static bool in_onnx_order(const ims__onnx_value *v) {
  if (v->hwc) return v->fh * v->fw == 1 || v->fc == 1;
  if (v->rank != 4) return true;
  return v->dims[2] * v->dims[3] == 1 || v->dims[1] == 1;
}

/* Activation a viewed as ONNX shape (rank, dims): a RESHAPE node (free). */
static ims_status reshape_act(ims__onnx *x, const ims__onnx_node *n,
                              ims__onnx_value *a, uint32_t rank,
                              const int64_t *dims) {
  ims__onnx_value *y = out0(x, n);
  if (y == NULL) return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                            "no output");
  if (ims__onnx_elements(dims, rank) != ims__onnx_elements(a->dims, a->rank))
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "reshape changes the element count");
  bool out_ordered = rank != 4 || dims[2] * dims[3] == 1 || dims[1] == 1;
  bool flatten = !in_onnx_order(a) && a->rank == 4 && rank == 2;
  bool same = a->hwc && rank == 2;
  if (!flatten && !same && !(in_onnx_order(a) && out_ordered))
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "this reshape of '%s' would reorder NHWC "
                               "data", a->name);
  uint32_t at;
  ims_status st = ims__onnx_node_new(x, n, IMS__OP_RESHAPE, &at);
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, rank, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  if (flatten) {
    y->hwc = true;
    y->fc = (uint32_t)a->dims[1];
    y->fh = (uint32_t)a->dims[2];
    y->fw = (uint32_t)a->dims[3];
  } else if (same) {
    y->hwc = true;
    y->fh = a->fh, y->fw = a->fw, y->fc = a->fc;
  }
  ims__node *g = &x->m->nodes[at];
  g->input_count = 1;
  g->inputs[0] = a->tensor;
  g->output = y->tensor;
  return IMS_OK;
}

static ims_status lower_flatten(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a;
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  int64_t axis = ims__onnx_attr_int(x, n, "axis", 1);
  if (axis < 0) axis += a->rank;
  if (axis < 0 || axis > (int64_t)a->rank)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "axis %lld",
                               (long long)axis);
  int64_t dims[2] = {1, 1};
  for (uint32_t d = 0; d < a->rank; d++) dims[d < axis ? 0 : 1] *= a->dims[d];
  return reshape_act(x, n, a, 2, dims);
}

/* Reshape: the shape input must be constant (folded at load). */
static ims_status lower_reshape(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a, *s = ims__onnx_in(x, n, 1);
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  if (s == NULL || s->kind != IMS__OV_CONST || !s->is_int)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "the shape must be a constant int64 list");
  if (s->count > IMS__ONNX_MAX_RANK)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "target shape of %zu dimensions (at most %d)",
                               s->count, IMS__ONNX_MAX_RANK);
  int64_t dims[IMS__ONNX_MAX_RANK];
  size_t total = ims__onnx_elements(a->dims, a->rank), known = 1;
  int infer = -1;
  for (uint32_t d = 0; d < s->count; d++) {
    dims[d] = s->i[d];
    if (dims[d] == 0 && d < a->rank) dims[d] = a->dims[d];
    if (dims[d] == -1 && infer < 0) {
      infer = (int)d;
      continue;
    }
    if (dims[d] == -1)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "more than one dimension is -1 (inferred)");
    if (dims[d] <= 0)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "bad target dimension %lld",
                                 (long long)s->i[d]);
    /* Checked before multiplying: a product past the input's element
     * count is wrong anyway, and huge dims used to wrap `known` to 0
     * (then a division by zero). */
    if ((uint64_t)dims[d] > total / known)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "reshape changes the element count (%zu "
                                 "of '%s' into dimension %u = %lld)",
                                 total, a->name, d, (long long)dims[d]);
    known *= (size_t)dims[d];
  }
  if (infer >= 0) dims[infer] = (int64_t)(total / known);
  return reshape_act(x, n, a, (uint32_t)s->count, dims);
}

/* Squeeze/Unsqueeze axes: attribute before opset 13, input 1 after. */
static int axes_of(ims__onnx *x, const ims__onnx_node *n, int64_t *axes) {
  if (x->opset < 13)
    return ims__onnx_attr_ints(x, n, "axes", axes, IMS__ONNX_MAX_RANK);
  ims__onnx_value *c = ims__onnx_in(x, n, 1);
  if (c == NULL) return -1;
  if (c->kind != IMS__OV_CONST || !c->is_int ||
      c->count > IMS__ONNX_MAX_RANK) {
    ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                        "axes must be a constant int64 list");
    return -2;
  }
  memcpy(axes, c->i, c->count * sizeof *axes);
  return (int)c->count;
}

static ims_status lower_squeeze(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a;
  int64_t axes[IMS__ONNX_MAX_RANK], dims[IMS__ONNX_MAX_RANK];
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  int na = axes_of(x, n, axes);
  if (na == -2) return x->pb.status;
  uint32_t rank = 0;
  for (uint32_t d = 0; d < a->rank; d++) {
    bool drop = na < 0 && a->dims[d] == 1 && d > 0;
    for (int k = 0; k < na; k++)
      drop |= (axes[k] < 0 ? axes[k] + a->rank : axes[k]) == d;
    if (!drop) dims[rank++] = a->dims[d];
  }
  return reshape_act(x, n, a, rank, dims);
}

static ims_status lower_unsqueeze(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a;
  int64_t axes[IMS__ONNX_MAX_RANK], dims[IMS__ONNX_MAX_RANK];
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  int na = axes_of(x, n, axes);
  if (na < 0 || a->rank + (uint32_t)na > IMS__ONNX_MAX_RANK)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED, "bad axes");
  uint32_t rank = a->rank + (uint32_t)na, src = 0;
  for (uint32_t d = 0; d < rank; d++) {
    bool add = false;
    for (int k = 0; k < na; k++)
      add |= (axes[k] < 0 ? axes[k] + rank : axes[k]) == d;
    dims[d] = add ? 1 : a->dims[src++];
  }
  if (src != a->rank)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "bad axes");
  return reshape_act(x, n, a, rank, dims);
}

/* One CONCATENATE node over `count` (2 or 3) graph tensors. */
static ims_status concat_node(ims__onnx *x, const ims__onnx_node *n,
                              const uint32_t *ids, uint32_t count,
                              uint32_t out_tensor, int32_t *producer) {
  uint32_t at;
  ims_status st = ims__onnx_node_new(x, n, IMS__OP_CONCATENATE, &at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  g->input_count = count;
  memcpy(g->inputs, ids, count * sizeof *ids);
  g->output = out_tensor;
  *producer = (int32_t)at;
  return IMS_OK;
}

/* Concat along channels: chained 3-input nodes for longer lists. */
static ims_status lower_concat(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *y = out0(x, n), *a;
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK || y == NULL) return st;
  int64_t axis = ims__onnx_attr_int(x, n, "axis", 1);
  if (axis < 0) axis += a->rank;
  if (axis != 1 || (a->rank != 2 && a->rank != 4) || a->hwc || n->n_in < 2)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "only channel concatenation (axis 1) of "
                               "2-D or 4-D activations");
  int64_t dims[IMS__ONNX_MAX_RANK];
  memcpy(dims, a->dims, sizeof dims);
  dims[1] = 0;
  uint32_t ids[IMS__MAX_NODE_INPUTS], used = 0, t = 0;
  int32_t producer = -1;
  for (uint32_t k = 0; k < n->n_in; k++) {
    ims__onnx_value *v;
    st = ims__onnx_want_act(x, n, k, a->rank, &v);
    if (st != IMS_OK) return st;
    if (v->hwc || (a->rank == 4 && (v->dims[2] != a->dims[2] ||
                                    v->dims[3] != a->dims[3])))
      return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                                 "input '%s' has another spatial shape",
                                 v->name);
    dims[1] += v->dims[1];
  }
  for (uint32_t k = 0; k < n->n_in; k++) {
    ids[used++] = ims__onnx_in(x, n, k)->tensor;
    if (used < IMS__MAX_NODE_INPUTS && k + 1 < n->n_in) continue;
    if (used == 1) break; /* never: n_in >= 2 */
    int64_t part[IMS__ONNX_MAX_RANK];
    memcpy(part, dims, sizeof part);
    bool last = k + 1 == n->n_in;
    if (!last) {
      part[1] = 0;
      for (uint32_t j = 0; j <= k; j++)
        part[1] += ims__onnx_in(x, n, j)->dims[1];
    }
    st = ims__onnx_make_act(x, n, y, a->rank, part, -1);
    if (st == IMS_OK) st = concat_node(x, n, ids, used, y->tensor, &producer);
    if (st != IMS_OK) return st;
    t = y->tensor;
    ids[0] = t;
    used = 1;
  }
  y->producer = producer;
  return IMS_OK;
}

static ims_status lower_softmax(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a;
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  if (st != IMS_OK) return st;
  int64_t axis = ims__onnx_attr_int(x, n, "axis", x->opset < 13 ? 1 : -1);
  if (axis < 0) axis += a->rank;
  bool spatial1 = a->rank == 4 && a->dims[2] * a->dims[3] == 1;
  bool ok = (a->rank == 2 && axis == 1) || (spatial1 && axis == 1);
  if (!ok || a->hwc)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "softmax only over the channels of [N,C] or "
                               "[N,C,1,1] (axis %lld of rank %u)",
                               (long long)axis, a->rank);
  uint32_t at;
  return unary_node(x, n, IMS__OP_SOFTMAX, &at);
}

/* ---- 6. the dispatch table --------------------------------------------- */

typedef ims_status (*lower_fn)(ims__onnx *, const ims__onnx_node *);

static const struct {
  const char *op;  /* ONNX op_type */
  lower_fn fn;     /* its lowering */
} lowerings[] = {
    {"Add", lower_add},
    {"AveragePool", ims__onnx_pool},
    {"BatchNormalization", ims__onnx_batch_norm},
    {"Clip", lower_clip},
    {"Concat", lower_concat},
    {"Conv", ims__onnx_conv},
    {"Div", lower_div},
    {"Dropout", lower_identity},
    {"Flatten", lower_flatten},
    {"Gemm", ims__onnx_gemm},
    {"GlobalAveragePool", ims__onnx_global_pool},
    {"GlobalMaxPool", ims__onnx_global_pool},
    {"HardSigmoid", lower_hard_sigmoid},
    {"HardSwish", lower_hard_swish},
    {"Identity", lower_identity},
    {"MatMul", ims__onnx_gemm},
    {"MaxPool", ims__onnx_pool},
    {"Mul", lower_mul},
    {"ReduceMean", ims__onnx_reduce_mean},
    {"Relu", lower_relu},
    {"Reshape", lower_reshape},
    {"Sigmoid", lower_sigmoid},
    {"Softmax", lower_softmax},
    {"Squeeze", lower_squeeze},
    {"Sub", lower_sub},
    {"Unsqueeze", lower_unsqueeze},
};

ims_status ims__onnx_lower(ims__onnx *x, const ims__onnx_node *n) {
  for (size_t k = 0; k < sizeof lowerings / sizeof lowerings[0]; k++) {
    if (strcmp(lowerings[k].op, n->op) != 0) continue;
    ims__onnx_value *y = out0(x, n);
    if (y == NULL)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "no output");
    ims_status st = lowerings[k].fn(x, n);
    if (st == IMS_OK && x->pb.status != IMS_OK) st = x->pb.status;
    if (st == IMS_OK && y->kind == IMS__OV_PENDING)
      st = ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "output '%s' was not produced", y->name);
    return st;
  }
  return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                             "unsupported operator %s", n->op);
}
