/* SPDX-License-Identifier: Apache-2.0 */
/*
 * onnx_layers.c - lowering the ONNX layers that carry weights or windows:
 * Conv (plain, grouped, depthwise), BatchNormalization, MaxPool,
 * AveragePool, GlobalAveragePool/GlobalMaxPool, ReduceMean over H and W,
 * Gemm and MatMul (the rest of the ops: onnx_ops.c).
 *
 * Weights are converted once, here, into model-arena copies the graph
 * nodes own alone (so folding may change them in place):
 *   Conv      OIHW -> OHWI {O, KH, KW, I/group}
 *   depthwise (group == C_in, one input channel per group)
 *             OIHW -> {1, KH, KW, C*M} (output channel g*M + m last)
 *   Gemm      B (or B^T) -> {O, I}; when the input is a flattened NCHW
 *             feature map (value->hwc), columns are permuted from
 *             (c, h, w) to (h, w, c) order, so the NHWC data needs no
 *             transpose
 * BatchNormalization folds into the conv / fully connected layer before
 * it when nothing else reads that layer's output (scale the output
 * channel's weights by gamma / sqrt(var + eps), shift its bias); alone, it
 * becomes a 1x1 depthwise convolution. A constant Add after a layer folds
 * into its bias the same way.
 *
 * Windows: padding is always made explicit (auto_pad SAME_UPPER /
 * SAME_LOWER / VALID resolved here); ceil_mode pooling gets extra
 * bottom/right padding, which XNNPACK's max pooling ignores like PyTorch.
 *
 * Sections: 1. windows  2. Conv  3. BatchNormalization and bias folding
 * 4. pooling  5. Gemm / MatMul
 *
 * Threading: one load is one thread; no shared state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "model/onnx_int.h"

/* ---- 1. windows -------------------------------------------------------- */

typedef struct window {
  uint32_t kh, kw;          /* kernel / pooling window */
  uint32_t sh, sw;          /* strides */
  uint32_t dh, dw;          /* dilations */
  uint32_t pt, pl, pb, pr;  /* explicit padding */
  int64_t oh, ow;           /* output size */
} window;

/* A 2-entry int list attribute (default `def` for both), each in
 * [lo, 65536]. */
static ims_status pair_attr(ims__onnx *x, const ims__onnx_node *n,
                            const char *name, int64_t def, int64_t lo,
                            uint32_t *a, uint32_t *b) {
  int64_t v[2] = {def, def};
  int got = ims__onnx_attr_ints(x, n, name, v, 2);
  if (got == -2) return x->pb.status;
  if (got != -1 && got != 2)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "'%s' has %d values (2-D only)", name, got);
  if (v[0] < lo || v[1] < lo || v[0] > 65536 || v[1] > 65536)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "'%s' is [%lld, %lld]", name,
                               (long long)v[0], (long long)v[1]);
  *a = (uint32_t)v[0];
  *b = (uint32_t)v[1];
  return IMS_OK;
}

/* Padding of one dimension for auto_pad SAME_*: out = ceil(in / s). */
static void same_pad(int64_t in, uint32_t eff, uint32_t s, bool upper,
                     uint32_t *before, uint32_t *after) {
  int64_t out = (in + s - 1) / s;
  int64_t total = (out - 1) * s + eff - in;
  if (total < 0) total = 0;
  uint32_t small = (uint32_t)(total / 2), big = (uint32_t)(total - total / 2);
  *before = upper ? small : big;
  *after = upper ? big : small;
}

static int64_t out_size(int64_t in, uint32_t before, uint32_t after,
                        uint32_t eff, uint32_t s, bool ceil_mode) {
  int64_t span = in + before + after - eff;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  /* PyTorch: the last window must start inside the input or the leading
   * padding. */
  if (ceil_mode && (out - 1) * s >= in + before) out--;
  return out;
}

static ims_status explicit_pads(ims__onnx *x, const ims__onnx_node *n,
                                window *w) {
  int64_t p[4] = {0, 0, 0, 0};
  int got = ims__onnx_attr_ints(x, n, "pads", p, 4);
  if (got == -2) return x->pb.status;
  if (got != -1 && got != 4)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "'pads' has %d values (2-D only)", got);
  for (int k = 0; k < 4; k++)
    if (p[k] < 0 || p[k] > 65536)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "pad %lld",
                                 (long long)p[k]);
  w->pt = (uint32_t)p[0], w->pl = (uint32_t)p[1];
  w->pb = (uint32_t)p[2], w->pr = (uint32_t)p[3];
  return IMS_OK;
}

/* Strides, dilations, padding and output size of a window of kh x kw over
 * h x w. `ceil_mode` allowed only for pooling. */
static ims_status window_attrs(ims__onnx *x, const ims__onnx_node *n,
                               int64_t h, int64_t wd, bool pool,
                               window *w) {
  char pad[32];
  ims_status st = pair_attr(x, n, "strides", 1, 1, &w->sh, &w->sw);
  if (st == IMS_OK) st = pair_attr(x, n, "dilations", 1, 1, &w->dh, &w->dw);
  if (st == IMS_OK) st = explicit_pads(x, n, w);
  if (st != IMS_OK) return st;
  ims__onnx_attr_string(x, n, "auto_pad", "NOTSET", pad, sizeof pad);
  bool ceil_mode = pool && ims__onnx_attr_int(x, n, "ceil_mode", 0) != 0;
  uint32_t eh = (w->kh - 1) * w->dh + 1, ew = (w->kw - 1) * w->dw + 1;
  if (strcmp(pad, "SAME_UPPER") == 0 || strcmp(pad, "SAME_LOWER") == 0) {
    bool upper = pad[5] == 'U';
    same_pad(h, eh, w->sh, upper, &w->pt, &w->pb);
    same_pad(wd, ew, w->sw, upper, &w->pl, &w->pr);
  } else if (strcmp(pad, "VALID") == 0) {
    w->pt = w->pl = w->pb = w->pr = 0;
  } else if (strcmp(pad, "NOTSET") != 0) {
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "auto_pad '%s'",
                               pad);
  }
  w->oh = out_size(h, w->pt, w->pb, eh, w->sh, ceil_mode);
  w->ow = out_size(wd, w->pl, w->pr, ew, w->sw, ceil_mode);
  if (w->oh < 1 || w->ow < 1)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "window %ux%u does not fit the %lldx%lld "
                               "input", w->kh, w->kw, (long long)h,
                               (long long)wd);
  /* ceil_mode: pad the far side so XNNPACK's floor gives the same size. */
  int64_t need_h = (w->oh - 1) * w->sh + eh - (h + w->pt + w->pb);
  int64_t need_w = (w->ow - 1) * w->sw + ew - (wd + w->pl + w->pr);
  if (need_h > 0) w->pb += (uint32_t)need_h;
  if (need_w > 0) w->pr += (uint32_t)need_w;
  return x->pb.status;
}

static void set_window(ims__node *g, const window *w) {
  g->padding = IMS__PAD_EXPLICIT;
  g->pad_top = w->pt, g->pad_left = w->pl;
  g->pad_bottom = w->pb, g->pad_right = w->pr;
  g->stride_h = w->sh, g->stride_w = w->sw;
  g->dilation_h = w->dh, g->dilation_w = w->dw;
  g->filter_h = w->kh, g->filter_w = w->kw;
}

/* ---- 2. Conv ----------------------------------------------------------- */

static float *arena_floats(ims__onnx *x, size_t count) {
  float *p = ims__model_alloc(x->m, (count ? count : 1) * sizeof *p);
  if (p == NULL) ims__fail(x->err, IMS_ERR_NO_MEMORY, "out of memory");
  return p;
}

/* OIHW -> OHWI, or -> {1, KH, KW, O} for depthwise. */
static void convert_weights(const float *src, float *dst, size_t O,
                            size_t I, size_t KH, size_t KW, bool depthwise) {
  for (size_t o = 0; o < O; o++)
    for (size_t i = 0; i < I; i++)
      for (size_t k = 0; k < KH * KW; k++) {
        float v = src[(o * I + i) * KH * KW + k];
        if (depthwise)
          dst[k * O + o] = v;
        else
          dst[(o * KH * KW + k) * I + i] = v;
      }
}

/* The conv's weights and bias as graph tensors. */
static ims_status conv_tensors(ims__onnx *x, const ims__onnx_node *n,
                               const ims__onnx_value *wv,
                               const ims__onnx_value *bv, bool depthwise,
                               uint32_t *w_id, uint32_t *b_id) {
  size_t O = (size_t)wv->dims[0], I = (size_t)wv->dims[1];
  size_t KH = (size_t)wv->dims[2], KW = (size_t)wv->dims[3];
  float *w = arena_floats(x, wv->count);
  if (w == NULL) return IMS_ERR_NO_MEMORY;
  convert_weights(wv->f, w, O, I, KH, KW, depthwise);
  uint32_t ohwi[4] = {(uint32_t)O, (uint32_t)KH, (uint32_t)KW, (uint32_t)I};
  uint32_t dw[4] = {1, (uint32_t)KH, (uint32_t)KW, (uint32_t)O};
  ims_status st = ims__onnx_tensor_new(x, wv->name, 4,
                                       depthwise ? dw : ohwi, w, w_id);
  if (st != IMS_OK || bv == NULL) return st;
  if (bv->count != O)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "bias '%s' has %zu values for %zu outputs",
                               bv->name, bv->count, O);
  float *b = arena_floats(x, O);
  if (b == NULL) return IMS_ERR_NO_MEMORY;
  memcpy(b, bv->f, O * sizeof *b);
  uint32_t bshape[1] = {(uint32_t)O};
  return ims__onnx_tensor_new(x, bv->name, 1, bshape, b, b_id);
}

/* Check the conv's shapes; fills the window (kernel from the weights). */
static ims_status conv_check(ims__onnx *x, const ims__onnx_node *n,
                             const ims__onnx_value *a,
                             const ims__onnx_value *wv, int64_t group,
                             window *w) {
  if (wv->rank != 4)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "weights of rank %u (2-D convolution only)",
                               wv->rank);
  if (group < 1 || a->dims[1] != wv->dims[1] * group ||
      wv->dims[0] % group != 0 || wv->dims[0] == 0)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "weights [%lld,%lld,...] with group %lld do "
                               "not fit %lld input channels",
                               (long long)wv->dims[0], (long long)wv->dims[1],
                               (long long)group, (long long)a->dims[1]);
  if (wv->dims[2] < 1 || wv->dims[3] < 1 || wv->dims[2] > 1024 ||
      wv->dims[3] > 1024)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "kernel %lldx%lld",
                               (long long)wv->dims[2], (long long)wv->dims[3]);
  w->kh = (uint32_t)wv->dims[2];
  w->kw = (uint32_t)wv->dims[3];
  return window_attrs(x, n, a->dims[2], a->dims[3], false, w);
}

ims_status ims__onnx_conv(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a, *wv, *bv, *y = ims__onnx_find(x, n->out[0]);
  window w;
  ims_status st = ims__onnx_want_act(x, n, 0, 4, &a);
  if (st == IMS_OK) st = ims__onnx_want_const(x, n, 1, false, &wv);
  if (st == IMS_OK) st = ims__onnx_want_const(x, n, 2, true, &bv);
  int64_t group = ims__onnx_attr_int(x, n, "group", 1);
  if (st == IMS_OK) st = conv_check(x, n, a, wv, group, &w);
  if (st != IMS_OK) return st;
  bool depthwise = group > 1 && group == a->dims[1] && wv->dims[1] == 1;
  uint32_t w_id, b_id = 0, at;
  st = conv_tensors(x, n, wv, bv, depthwise, &w_id, &b_id);
  if (st == IMS_OK)
    st = ims__onnx_node_new(
        x, n, depthwise ? IMS__OP_DEPTHWISE_CONV_2D : IMS__OP_CONV_2D, &at);
  int64_t dims[4] = {1, wv->dims[0], w.oh, w.ow};
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, 4, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  set_window(g, &w);
  g->filter_h = g->filter_w = 0;
  g->depth_multiplier =
      depthwise ? (uint32_t)(wv->dims[0] / a->dims[1]) : 1;
  g->input_count = bv != NULL ? 3 : 2;
  g->inputs[0] = a->tensor;
  g->inputs[1] = w_id;
  g->inputs[2] = b_id;
  g->output = y->tensor;
  return IMS_OK;
}

/* ---- 3. BatchNormalization and bias folding ---------------------------- */

/* The conv / fully connected node that wrote a, if a may be changed in
 * place: nothing else reads a, no activation fused yet. */
static ims__node *foldable_layer(ims__onnx *x, const ims__onnx_value *a) {
  if (a->producer < 0 || a->uses != 1) return NULL;
  ims__node *g = &x->m->nodes[a->producer];
  if (g->output != a->tensor || g->activation != IMS__ACT_NONE) return NULL;
  if (g->op != IMS__OP_CONV_2D && g->op != IMS__OP_DEPTHWISE_CONV_2D &&
      g->op != IMS__OP_FULLY_CONNECTED)
    return NULL;
  return g;
}

/* The layer's bias, made (zeros) if it has none. NULL if out of memory. */
static float *layer_bias(ims__onnx *x, uint32_t node, size_t channels) {
  ims__node *g = &x->m->nodes[node];
  if (g->input_count > 2)
    return (float *)(uintptr_t)x->m->tensors[g->inputs[2]].data;
  float *b = arena_floats(x, channels);
  uint32_t id, shape[1] = {(uint32_t)channels};
  if (b == NULL || ims__onnx_tensor_new(x, "", 1, shape, b, &id) != IMS_OK)
    return NULL;
  g = &x->m->nodes[node];
  g->inputs[2] = id;
  g->input_count = 3;
  return b;
}

/* Scale output channel o of layer g's weights by s[o]. */
static void scale_weights(ims__onnx *x, const ims__node *g, const float *s,
                          size_t channels) {
  ims__tensor *t = &x->m->tensors[g->inputs[1]];
  float *w = (float *)(uintptr_t)t->data;
  size_t per = ims__tensor_elements(t) / channels;
  for (size_t k = 0; k < per * channels; k++) {
    size_t o = g->op == IMS__OP_DEPTHWISE_CONV_2D ? k % channels : k / per;
    w[k] *= s[o];
  }
}

/* Standalone BatchNormalization: a 1x1 depthwise convolution. */
static ims_status bn_depthwise(ims__onnx *x, const ims__onnx_node *n,
                               const ims__onnx_value *a, float *s,
                               float *t) {
  ims__onnx_value *y = ims__onnx_find(x, n->out[0]);
  size_t C = (size_t)a->dims[1];
  uint32_t w_id, b_id, at;
  uint32_t wshape[4] = {1, 1, 1, (uint32_t)C}, bshape[1] = {(uint32_t)C};
  ims_status st = ims__onnx_tensor_new(x, "", 4, wshape, s, &w_id);
  if (st == IMS_OK) st = ims__onnx_tensor_new(x, "", 1, bshape, t, &b_id);
  if (st == IMS_OK)
    st = ims__onnx_node_new(x, n, IMS__OP_DEPTHWISE_CONV_2D, &at);
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, 4, a->dims, (int32_t)at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  g->padding = IMS__PAD_VALID;
  g->input_count = 3;
  g->inputs[0] = a->tensor;
  g->inputs[1] = w_id;
  g->inputs[2] = b_id;
  g->output = y->tensor;
  return IMS_OK;
}

ims_status ims__onnx_batch_norm(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a, *p[4], *y = ims__onnx_find(x, n->out[0]);
  ims_status st = ims__onnx_want_act(x, n, 0, 0, &a);
  for (uint32_t k = 0; k < 4 && st == IMS_OK; k++)
    st = ims__onnx_want_const(x, n, k + 1, false, &p[k]);
  if (st != IMS_OK) return st;
  size_t C = a->rank >= 2 ? (size_t)a->dims[1] : 0;
  for (uint32_t k = 0; k < 4; k++)
    if (p[k]->count != C || C == 0)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "'%s' has %zu values for %zu channels",
                                 p[k]->name, p[k]->count, C);
  float eps = ims__onnx_attr_float(x, n, "epsilon", 1e-5f);
  float *s = arena_floats(x, C), *t = arena_floats(x, C);
  if (s == NULL || t == NULL) return IMS_ERR_NO_MEMORY;
  for (size_t c = 0; c < C; c++) {
    s[c] = p[0]->f[c] / sqrtf(p[3]->f[c] + eps);
    t[c] = p[1]->f[c] - p[2]->f[c] * s[c];
  }
  ims__node *g = foldable_layer(x, a);
  if (g == NULL && a->rank == 4) return bn_depthwise(x, n, a, s, t);
  if (g == NULL || a->hwc)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "BatchNormalization not after a conv or "
                               "linear layer, on a rank-%u tensor", a->rank);
  float *bias = layer_bias(x, (uint32_t)a->producer, C);
  if (bias == NULL) return IMS_ERR_NO_MEMORY;
  scale_weights(x, &x->m->nodes[a->producer], s, C);
  for (size_t c = 0; c < C; c++) bias[c] = bias[c] * s[c] + t[c];
  ims__onnx_alias(y, a);
  return IMS_OK;
}

/* Does constant c vary along the channel axis (ONNX dim 1) only? */
static bool channel_only(const ims__onnx_value *c, const ims__onnx_value *a,
                         size_t C) {
  if (c->count == 1) return true;
  if (c->count != C || c->rank > a->rank) return false;
  for (uint32_t d = 0; d < c->rank; d++) {
    uint32_t ad = d + a->rank - c->rank; /* right-aligned */
    if (c->dims[d] != (ad == 1 ? (int64_t)C : 1)) return false;
  }
  return true;
}

ims_status ims__onnx_fold_bias(ims__onnx *x, const ims__onnx_value *a,
                               const ims__onnx_value *c, bool *done_out) {
  *done_out = false;
  if (a->kind != IMS__OV_ACT || c->is_int || a->rank < 2 || a->hwc)
    return IMS_OK;
  ims__node *g = foldable_layer(x, a);
  size_t C = (size_t)a->dims[1];
  if (g == NULL || !channel_only(c, a, C)) return IMS_OK;
  float *bias = layer_bias(x, (uint32_t)a->producer, C);
  if (bias == NULL) return IMS_ERR_NO_MEMORY;
  for (size_t k = 0; k < C; k++) bias[k] += c->f[c->count == 1 ? 0 : k];
  *done_out = true;
  return IMS_OK;
}

/* ---- 4. pooling -------------------------------------------------------- */

/* A PAD node in front of a pool that counts padding (count_include_pad):
 * zeros made real, so the pool then has no padding to exclude. */
static ims_status pad_first(ims__onnx *x, const ims__onnx_node *n,
                            const ims__onnx_value *a, window *w,
                            uint32_t *tensor_out) {
  uint32_t at, shape[4] = {1, (uint32_t)a->dims[2] + w->pt + w->pb,
                           (uint32_t)a->dims[3] + w->pl + w->pr,
                           (uint32_t)a->dims[1]};
  ims_status st = ims__onnx_tensor_new(x, "", 4, shape, NULL, tensor_out);
  if (st == IMS_OK) st = ims__onnx_node_new(x, n, IMS__OP_PAD, &at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  g->input_count = 1;
  g->inputs[0] = a->tensor;
  g->output = *tensor_out;
  g->pad_top = w->pt, g->pad_left = w->pl;
  g->pad_bottom = w->pb, g->pad_right = w->pr;
  w->pt = w->pl = w->pb = w->pr = 0;
  return IMS_OK;
}

static ims_status pool_window(ims__onnx *x, const ims__onnx_node *n,
                              const ims__onnx_value *a, bool max,
                              window *w) {
  if (ims__onnx_attr_find(n, "kernel_shape") == NULL)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "no kernel_shape");
  ims_status st = pair_attr(x, n, "kernel_shape", 1, 1, &w->kh, &w->kw);
  if (st == IMS_OK)
    st = window_attrs(x, n, a->dims[2], a->dims[3], true, w);
  if (st != IMS_OK) return st;
  if (!max && (w->dh != 1 || w->dw != 1))
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "dilated average pooling");
  if (max && ims__onnx_attr_int(x, n, "storage_order", 0) != 0)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "storage_order 1");
  for (uint32_t k = 1; k < n->n_out; k++) {
    ims__onnx_value *o = n->out[k][0] ? ims__onnx_find(x, n->out[k]) : NULL;
    if (o != NULL && o->uses > 0)
      return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                                 "the Indices output is used");
  }
  return IMS_OK;
}

/* AveragePool's divisor: PyTorch counts padding unless told not to
 * (count_include_pad); ceil_mode windows past the edge are not
 * supported for averages. */
static ims_status avg_padding(ims__onnx *x, const ims__onnx_node *n,
                              const ims__onnx_value *a, window *w,
                              uint32_t *in_tensor) {
  int64_t base_h = out_size(a->dims[2], w->pt, w->pb, w->kh, w->sh, false);
  int64_t base_w = out_size(a->dims[3], w->pl, w->pr, w->kw, w->sw, false);
  if (ims__onnx_attr_int(x, n, "ceil_mode", 0) != 0 &&
      (base_h != w->oh || base_w != w->ow || (w->oh - 1) * w->sh + w->kh >
                                                 a->dims[2] + w->pt + w->pb))
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "ceil_mode average pooling past the edge");
  bool padded = w->pt || w->pl || w->pb || w->pr;
  if (ims__onnx_attr_int(x, n, "count_include_pad", 0) != 0 && padded)
    return pad_first(x, n, a, w, in_tensor);
  return IMS_OK;
}

ims_status ims__onnx_pool(ims__onnx *x, const ims__onnx_node *n) {
  /* a and w start zeroed: when an input check fails, `in` and `dims`
   * below still read them (an uninitialized `a` was dereferenced: found
   * by fuzz_onnx) */
  ims__onnx_value *a = NULL, *y = ims__onnx_find(x, n->out[0]);
  bool max = strcmp(n->op, "MaxPool") == 0;
  window w;
  memset(&w, 0, sizeof w);
  ims_status st = ims__onnx_want_act(x, n, 0, 4, &a);
  if (st == IMS_OK) st = pool_window(x, n, a, max, &w);
  uint32_t in = a != NULL ? a->tensor : 0, at;
  if (st == IMS_OK && !max) st = avg_padding(x, n, a, &w, &in);
  if (st == IMS_OK)
    st = ims__onnx_node_new(
        x, n, max ? IMS__OP_MAX_POOL_2D : IMS__OP_AVERAGE_POOL_2D, &at);
  int64_t dims[4] = {1, a != NULL ? a->dims[1] : 0, w.oh, w.ow};
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, 4, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  set_window(g, &w);
  g->input_count = 1;
  g->inputs[0] = in;
  g->output = y->tensor;
  return IMS_OK;
}

/* MEAN over H and W (keep_dims: output [1,C,1,1], else [1,C]). */
static ims_status mean_node(ims__onnx *x, const ims__onnx_node *n,
                            const ims__onnx_value *a, bool keep) {
  ims__onnx_value *y = ims__onnx_find(x, n->out[0]);
  int64_t dims[4] = {1, a->dims[1], 1, 1};
  uint32_t at;
  ims_status st = ims__onnx_node_new(x, n, IMS__OP_MEAN, &at);
  if (st == IMS_OK)
    st = ims__onnx_make_act(x, n, y, keep ? 4 : 2, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  g->input_count = 1;
  g->inputs[0] = a->tensor;
  g->output = y->tensor;
  return IMS_OK;
}

ims_status ims__onnx_global_pool(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a;
  ims_status st = ims__onnx_want_act(x, n, 0, 4, &a);
  if (st != IMS_OK) return st;
  if (strcmp(n->op, "GlobalAveragePool") == 0) return mean_node(x, n, a, true);
  ims__onnx_value *y = ims__onnx_find(x, n->out[0]);
  if (a->dims[2] * a->dims[3] == 1) {
    ims__onnx_alias(y, a);
    return IMS_OK;
  }
  window w = {(uint32_t)a->dims[2], (uint32_t)a->dims[3], 1, 1, 1, 1,
              0, 0, 0, 0, 1, 1};
  uint32_t at;
  int64_t dims[4] = {1, a->dims[1], 1, 1};
  st = ims__onnx_node_new(x, n, IMS__OP_MAX_POOL_2D, &at);
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, 4, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  set_window(g, &w);
  g->input_count = 1;
  g->inputs[0] = a->tensor;
  g->output = y->tensor;
  return IMS_OK;
}

ims_status ims__onnx_reduce_mean(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a;
  int64_t axes[IMS__ONNX_MAX_RANK];
  ims_status st = ims__onnx_want_act(x, n, 0, 4, &a);
  if (st != IMS_OK) return st;
  int na = ims__onnx_attr_ints(x, n, "axes", axes, IMS__ONNX_MAX_RANK);
  ims__onnx_value *c = ims__onnx_in(x, n, 1);
  if (na == -1 && c != NULL && c->kind == IMS__OV_CONST && c->is_int &&
      c->count <= IMS__ONNX_MAX_RANK) {
    memcpy(axes, c->i, c->count * sizeof *axes);
    na = (int)c->count;
  }
  if (na == -2) return x->pb.status;
  bool h = false, w = false;
  for (int k = 0; k < na; k++) {
    int64_t ax = axes[k] < 0 ? axes[k] + 4 : axes[k];
    h |= ax == 2;
    w |= ax == 3;
  }
  if (na != 2 || !h || !w)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "ReduceMean only over H and W (axes 2, 3)");
  return mean_node(x, n, a, ims__onnx_attr_int(x, n, "keepdims", 1) != 0);
}

/* ---- 5. Gemm / MatMul -------------------------------------------------- */

/* Graph feature index (h, w, c order when a->hwc) of ONNX column k. */
static size_t feature_index(const ims__onnx_value *a, size_t k) {
  if (!a->hwc) return k;
  size_t hw = (size_t)a->fh * a->fw;
  size_t c = k / hw, pix = k % hw;
  return pix * a->fc + c;
}

/* Weights {M, K} from B ([K, M], or [M, K] when trans_b), times alpha,
 * columns in the input's feature order. */
static float *fc_weights(ims__onnx *x, const ims__onnx_value *a,
                         const ims__onnx_value *b, bool trans_b,
                         float alpha, size_t M, size_t K) {
  float *w = arena_floats(x, M * K);
  if (w == NULL) return NULL;
  for (size_t o = 0; o < M; o++)
    for (size_t k = 0; k < K; k++) {
      float v = trans_b ? b->f[o * K + k] : b->f[k * M + o];
      w[o * K + feature_index(a, k)] = alpha * v;
    }
  return w;
}

/* Bias of M values from Gemm's C (scalar, [M] or [1, M]) times beta. */
static ims_status fc_bias(ims__onnx *x, const ims__onnx_node *n,
                          const ims__onnx_value *c, float beta, size_t M,
                          float **out) {
  *out = NULL;
  if (c == NULL) return IMS_OK;
  bool ok = c->count == 1 || (c->count == M && c->dims[c->rank - 1] ==
                                                   (int64_t)M);
  if (!ok)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "C '%s' is not a bias of %zu values", c->name,
                               M);
  *out = arena_floats(x, M);
  if (*out == NULL) return IMS_ERR_NO_MEMORY;
  for (size_t o = 0; o < M; o++)
    (*out)[o] = beta * c->f[c->count == 1 ? 0 : o];
  return IMS_OK;
}

static ims_status fc_node(ims__onnx *x, const ims__onnx_node *n,
                          const ims__onnx_value *a, float *w, float *bias,
                          size_t M, size_t K) {
  ims__onnx_value *y = ims__onnx_find(x, n->out[0]);
  uint32_t w_id, b_id = 0, at;
  uint32_t wshape[2] = {(uint32_t)M, (uint32_t)K}, bshape[1] = {(uint32_t)M};
  ims_status st = ims__onnx_tensor_new(x, "", 2, wshape, w, &w_id);
  if (st == IMS_OK && bias != NULL)
    st = ims__onnx_tensor_new(x, "", 1, bshape, bias, &b_id);
  if (st == IMS_OK)
    st = ims__onnx_node_new(x, n, IMS__OP_FULLY_CONNECTED, &at);
  int64_t dims[2] = {1, (int64_t)M};
  if (st == IMS_OK) st = ims__onnx_make_act(x, n, y, 2, dims, (int32_t)at);
  if (st != IMS_OK) return st;
  ims__node *g = &x->m->nodes[at];
  g->input_count = bias != NULL ? 3 : 2;
  g->inputs[0] = a->tensor;
  g->inputs[1] = w_id;
  g->inputs[2] = b_id;
  g->output = y->tensor;
  return IMS_OK;
}

ims_status ims__onnx_gemm(ims__onnx *x, const ims__onnx_node *n) {
  ims__onnx_value *a, *b, *c = NULL;
  bool gemm = strcmp(n->op, "Gemm") == 0;
  ims_status st = ims__onnx_want_act(x, n, 0, 2, &a);
  if (st == IMS_OK) st = ims__onnx_want_const(x, n, 1, false, &b);
  if (st == IMS_OK && gemm) st = ims__onnx_want_const(x, n, 2, true, &c);
  if (st != IMS_OK) return st;
  bool trans_b = gemm && ims__onnx_attr_int(x, n, "transB", 0) != 0;
  float alpha = gemm ? ims__onnx_attr_float(x, n, "alpha", 1.0f) : 1.0f;
  float beta = gemm ? ims__onnx_attr_float(x, n, "beta", 1.0f) : 1.0f;
  if (gemm && ims__onnx_attr_int(x, n, "transA", 0) != 0)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED, "transA");
  size_t K = (size_t)a->dims[1];
  if (b->rank != 2 || (size_t)b->dims[trans_b ? 1 : 0] != K)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "B '%s' does not fit %zu input features",
                               b->name, K);
  size_t M = (size_t)b->dims[trans_b ? 0 : 1];
  float *bias, *w = fc_weights(x, a, b, trans_b, alpha, M, K);
  if (w == NULL) return IMS_ERR_NO_MEMORY;
  st = fc_bias(x, n, c, beta, M, &bias);
  if (st != IMS_OK) return st;
  return fc_node(x, n, a, w, bias, M, K);
}
