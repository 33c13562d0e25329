/* SPDX-License-Identifier: Apache-2.0 */
/*
 * onnx_fold.c - constant folding at load time: nodes whose inputs are all
 * constants are evaluated here and never reach the graph. This is how the
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains exporters emit
 * for `x.view(x.size(0), -1)` become a constant shape (Shape of an
 * activation is known: its batch dimension is 1, see onnx_int.h).
 *
 * Folded ops: Constant, Shape (of anything), Identity, Dropout, Cast (to
 * float / int32 / int64), Gather, Unsqueeze, Squeeze, Reshape, Flatten,
 * Concat, and Add / Sub / Mul / Div with numpy broadcasting. Constants
 * are float32 or int64 (int32 is widened); values live in the model arena.
 *
 * Sections: 1. helpers  2. folds  3. dispatch
 *
 * Threading: one load is one thread; no shared state.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/error_int.h"
#include "model/onnx_int.h"

/* ---- 1. helpers -------------------------------------------------------- */

static ims__onnx_value *out0(ims__onnx *x, const ims__onnx_node *n) {
  return n->n_out > 0 && n->out[0][0] ? ims__onnx_find(x, n->out[0]) : NULL;
}

static double get(const ims__onnx_value *v, size_t k) {
  return v->is_int ? (double)v->i[k] : (double)v->f[k];
}

/* Clamped: a double at or past 2^63 (INT64_MAX itself rounds up to it),
 * a NaN, or one past FLT_MAX does not convert (UBSan: fuzz_onnx). */
static void put(ims__onnx_value *v, size_t k, double d) {
  if (!v->is_int)
    v->f[k] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
  else if (d != d)
    v->i[k] = 0;
  else if (d >= 9223372036854775808.0)
    v->i[k] = INT64_MAX;
  else if (d < -9223372036854775808.0)
    v->i[k] = INT64_MIN;
  else
    v->i[k] = (int64_t)d;
}

/* y = a new constant of the given shape. */
static ims_status make_const(ims__onnx *x, const ims__onnx_node *n,
                             ims__onnx_value *y, bool is_int, uint32_t rank,
                             const int64_t *dims) {
  size_t count = ims__onnx_elements(dims, rank);
  if (rank > IMS__ONNX_MAX_RANK || count == SIZE_MAX || count > (1u << 28))
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "constant result too large");
  y->rank = rank;
  memcpy(y->dims, dims, rank * sizeof *dims);
  return ims__onnx_const_alloc(x, y, is_int, count);
}

static ims_status copy_as(ims__onnx *x, const ims__onnx_node *n,
                          ims__onnx_value *y, const ims__onnx_value *a,
                          uint32_t rank, const int64_t *dims) {
  if (ims__onnx_elements(dims, rank) != a->count)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                               "reshape changes the element count");
  ims_status st = make_const(x, n, y, a->is_int, rank, dims);
  if (st != IMS_OK) return st;
  /* same type: copied exactly (int64 through a double loses bits) */
  if (a->is_int)
    memcpy(y->i, a->i, a->count * sizeof *y->i);
  else
    memcpy(y->f, a->f, a->count * sizeof *y->f);
  return IMS_OK;
}

static int64_t norm_axis(int64_t axis, uint32_t rank) {
  return axis < 0 ? axis + rank : axis;
}

/* ---- 2. folds ---------------------------------------------------------- */

static ims_status fold_constant(ims__onnx *x, const ims__onnx_node *n,
                                ims__onnx_value *y) {
  const ims__onnx_attr *a = n->n_attr == 1 ? &n->attr[0] : NULL;
  ims__pb_field f;
  ims__pb_msg m = a != NULL ? a->msg : (ims__pb_msg){0, 0};
  if (a != NULL && strcmp(a->name, "value") == 0) {
    while (ims__pb_next(&x->pb, &m, &f))
      if (f.number == 5)
        return ims__onnx_tensor(x, ims__pb_sub(&x->pb, &f, "value"), y,
                                n->name);
  }
  bool ints = a != NULL && strncmp(a->name, "value_int", 9) == 0;
  bool list = a != NULL && (strcmp(a->name, "value_ints") == 0 ||
                            strcmp(a->name, "value_floats") == 0);
  bool flt = a != NULL && strncmp(a->name, "value_float", 11) == 0;
  if (!ints && !flt)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "Constant needs one value/value_float(s)/"
                               "value_int(s) attribute");
  uint32_t num = list ? (ints ? 8 : 7) : (ints ? 3 : 2);
  size_t count = ints ? ims__pb_int_list(&x->pb, a->msg, num, NULL, 0, "v")
                      : ims__pb_float_list(&x->pb, a->msg, num, NULL, 0, "v");
  int64_t dims[1] = {(int64_t)count};
  ims_status st = make_const(x, n, y, ints, list ? 1 : 0, dims);
  if (st != IMS_OK) return st;
  if (ints)
    ims__pb_int_list(&x->pb, a->msg, num, y->i, count, "value_ints");
  else
    ims__pb_float_list(&x->pb, a->msg, num, y->f, count, "value_floats");
  return x->pb.status;
}

static ims_status fold_shape(ims__onnx *x, const ims__onnx_node *n,
                             const ims__onnx_value *a, ims__onnx_value *y) {
  int64_t r = a->rank;
  int64_t start = norm_axis(ims__onnx_attr_int(x, n, "start", 0), a->rank);
  int64_t end = ims__onnx_attr_find(n, "end") != NULL
                    ? norm_axis(ims__onnx_attr_int(x, n, "end", r), a->rank)
                    : r;
  if (start < 0) start = 0;
  if (end > r) end = r;
  if (end < start) end = start;
  int64_t dims[1] = {end - start};
  ims_status st = make_const(x, n, y, true, 1, dims);
  for (int64_t k = start; st == IMS_OK && k < end; k++)
    y->i[k - start] = a->dims[k];
  return st;
}

static ims_status fold_cast(ims__onnx *x, const ims__onnx_node *n,
                            const ims__onnx_value *a, ims__onnx_value *y) {
  int64_t to = ims__onnx_attr_int(x, n, "to", 0);
  if (to != IMS__ONNX_FLOAT && to != IMS__ONNX_INT64 && to != IMS__ONNX_INT32)
    return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                               "Cast to type %lld", (long long)to);
  ims_status st = make_const(x, n, y, to != IMS__ONNX_FLOAT, a->rank,
                             a->dims);
  for (size_t k = 0; st == IMS_OK && k < a->count; k++) put(y, k, get(a, k));
  return st;
}

static ims_status fold_gather(ims__onnx *x, const ims__onnx_node *n,
                              const ims__onnx_value *a,
                              const ims__onnx_value *idx,
                              ims__onnx_value *y) {
  int64_t axis = norm_axis(ims__onnx_attr_int(x, n, "axis", 0), a->rank);
  if (axis < 0 || axis >= (int64_t)a->rank || !idx->is_int ||
      a->rank + idx->rank - 1 > IMS__ONNX_MAX_RANK)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "bad Gather");
  int64_t dims[IMS__ONNX_MAX_RANK];
  uint32_t r = 0;
  size_t outer = 1, inner = 1, len = (size_t)a->dims[axis];
  for (int64_t d = 0; d < axis; d++) outer *= (size_t)(dims[r++] = a->dims[d]);
  for (uint32_t d = 0; d < idx->rank; d++) dims[r++] = idx->dims[d];
  for (uint32_t d = (uint32_t)axis + 1; d < a->rank; d++)
    inner *= (size_t)(dims[r++] = a->dims[d]);
  ims_status st = make_const(x, n, y, a->is_int, r, dims);
  size_t at = 0;
  for (size_t o = 0; st == IMS_OK && o < outer; o++)
    for (size_t j = 0; j < idx->count; j++) {
      int64_t i = idx->i[j] < 0 ? idx->i[j] + (int64_t)len : idx->i[j];
      if (i < 0 || (size_t)i >= len)
        return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                   "index %lld out of range (%zu)",
                                   (long long)idx->i[j], len);
      for (size_t k = 0; k < inner; k++)
        put(y, at++, get(a, (o * len + (size_t)i) * inner + k));
    }
  return st;
}

/* Squeeze / Unsqueeze / Reshape / Flatten of a constant. */
static ims_status fold_reshape(ims__onnx *x, const ims__onnx_node *n,
                               const ims__onnx_value *a, ims__onnx_value *y) {
  int64_t dims[IMS__ONNX_MAX_RANK], axes[IMS__ONNX_MAX_RANK];
  uint32_t r = 0;
  ims__onnx_value *s = ims__onnx_in(x, n, 1);
  int na = x->opset < 13 ? ims__onnx_attr_ints(x, n, "axes", axes, 8) : -1;
  if (na == -1 && s != NULL && s->is_int && s->count <= IMS__ONNX_MAX_RANK) {
    na = (int)s->count;
    memcpy(axes, s->i, s->count * sizeof *axes);
  }
  if (strcmp(n->op, "Reshape") == 0) {
    size_t known = 1;
    int infer = -1;
    for (int k = 0; k < na; k++) {
      dims[r] = axes[k] == 0 && (uint32_t)k < a->rank ? a->dims[k] : axes[k];
      if (dims[r] == -1) infer = (int)r;
      else if (dims[r] > 0) known *= (size_t)dims[r];
      r++;
    }
    if (infer >= 0 && known > 0) dims[infer] = (int64_t)(a->count / known);
  } else if (strcmp(n->op, "Flatten") == 0) {
    int64_t axis = norm_axis(ims__onnx_attr_int(x, n, "axis", 1), a->rank);
    dims[0] = dims[1] = 1;
    for (uint32_t d = 0; d < a->rank; d++) dims[d < axis ? 0 : 1] *= a->dims[d];
    r = 2;
  } else if (strcmp(n->op, "Squeeze") == 0) {
    for (uint32_t d = 0; d < a->rank; d++) {
      bool drop = na < 0 && a->dims[d] == 1;
      for (int k = 0; k < na; k++) drop |= norm_axis(axes[k], a->rank) == d;
      if (!drop) dims[r++] = a->dims[d];
    }
  } else { /* Unsqueeze */
    uint32_t rank = a->rank + (na > 0 ? (uint32_t)na : 0), src = 0;
    for (uint32_t d = 0; d < rank && rank <= IMS__ONNX_MAX_RANK; d++) {
      bool add = false;
      for (int k = 0; k < na; k++) add |= norm_axis(axes[k], rank) == d;
      dims[r++] = add ? 1 : (src < a->rank ? a->dims[src++] : -1);
    }
  }
  if (x->pb.status != IMS_OK) return x->pb.status;
  return copy_as(x, n, y, a, r, dims);
}

static ims_status fold_concat(ims__onnx *x, const ims__onnx_node *n,
                              ims__onnx_value *y) {
  const ims__onnx_value *a = ims__onnx_in(x, n, 0);
  int64_t axis = norm_axis(ims__onnx_attr_int(x, n, "axis", 0), a->rank);
  if (axis < 0 || axis >= (int64_t)a->rank)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "bad axis");
  int64_t dims[IMS__ONNX_MAX_RANK];
  memcpy(dims, a->dims, sizeof dims);
  dims[axis] = 0;
  size_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; d++) outer *= (size_t)a->dims[d];
  for (uint32_t d = (uint32_t)axis + 1; d < a->rank; d++)
    inner *= (size_t)a->dims[d];
  for (uint32_t k = 0; k < n->n_in; k++) {
    const ims__onnx_value *v = ims__onnx_in(x, n, k);
    if (v == NULL || v->rank != a->rank || v->is_int != a->is_int)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "inputs differ in rank or type");
    dims[axis] += v->dims[axis];
  }
  ims_status st = make_const(x, n, y, a->is_int, a->rank, dims);
  size_t at = 0;
  for (size_t o = 0; st == IMS_OK && o < outer; o++)
    for (uint32_t k = 0; k < n->n_in; k++) {
      const ims__onnx_value *v = ims__onnx_in(x, n, k);
      size_t len = (size_t)v->dims[axis] * inner;
      for (size_t j = 0; j < len && o * len + j < v->count; j++)
        put(y, at++, get(v, o * len + j));
    }
  return st;
}

/* Index into a broadcast operand for output element k. */
static size_t bcast_index(const ims__onnx_value *v, const int64_t *dims,
                          uint32_t rank, size_t k) {
  size_t idx = 0, stride = 1;
  for (uint32_t d = rank; d-- > 0;) {
    size_t coord = k % (size_t)dims[d];
    k /= (size_t)dims[d];
    if (d + v->rank < rank) continue;
    size_t vd = (size_t)v->dims[d + v->rank - rank];
    idx += (vd == 1 ? 0 : coord) * stride;
    stride *= vd;
  }
  return idx;
}

static ims_status fold_arith(ims__onnx *x, const ims__onnx_node *n,
                             const ims__onnx_value *a,
                             const ims__onnx_value *b, ims__onnx_value *y) {
  uint32_t r = a->rank > b->rank ? a->rank : b->rank;
  int64_t dims[IMS__ONNX_MAX_RANK];
  for (uint32_t d = 0; d < r; d++) {
    int64_t da = d + a->rank >= r ? a->dims[d + a->rank - r] : 1;
    int64_t db = d + b->rank >= r ? b->dims[d + b->rank - r] : 1;
    if (da != db && da != 1 && db != 1)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                 "shapes do not broadcast");
    dims[d] = da > db ? da : db;
  }
  char op = n->op[0];
  ims_status st = make_const(x, n, y, a->is_int && b->is_int, r, dims);
  for (size_t k = 0; st == IMS_OK && k < y->count; k++) {
    double p = get(a, bcast_index(a, dims, r, k));
    double q = get(b, bcast_index(b, dims, r, k));
    if (op == 'D' && y->is_int && q == 0)
      return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "division by 0");
    double v = op == 'A' ? p + q : op == 'S' ? p - q : op == 'M' ? p * q
                                                                   : p / q;
    put(y, k, v);
  }
  return st;
}

/* ---- 3. dispatch ------------------------------------------------------- */

static bool all_const(ims__onnx *x, const ims__onnx_node *n) {
  for (uint32_t k = 0; k < n->n_in; k++) {
    ims__onnx_value *v = ims__onnx_in(x, n, k);
    if (v != NULL && v->kind != IMS__OV_CONST) return false;
  }
  return true;
}

static ims_status fold_node(ims__onnx *x, const ims__onnx_node *n,
                            ims__onnx_value *y) {
  const char *op = n->op;
  ims__onnx_value *a = ims__onnx_in(x, n, 0), *b = ims__onnx_in(x, n, 1);
  if (strcmp(op, "Constant") == 0) return fold_constant(x, n, y);
  if (a == NULL)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "no input");
  if (strcmp(op, "Shape") == 0) return fold_shape(x, n, a, y);
  if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0)
    return copy_as(x, n, y, a, a->rank, a->dims);
  if (strcmp(op, "Cast") == 0) return fold_cast(x, n, a, y);
  if (strcmp(op, "Gather") == 0 && b != NULL)
    return fold_gather(x, n, a, b, y);
  if (strcmp(op, "Concat") == 0) return fold_concat(x, n, y);
  if (b != NULL && (strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 ||
                    strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0))
    return fold_arith(x, n, a, b, y);
  return fold_reshape(x, n, a, y);
}

ims_status ims__onnx_fold(ims__onnx *x, const ims__onnx_node *n,
                          bool *folded_out) {
  static const char *const foldable[] = {
      "Add", "Cast", "Concat", "Constant", "Div", "Dropout", "Flatten",
      "Gather", "Identity", "Mul", "Reshape", "Shape", "Squeeze", "Sub",
      "Unsqueeze"};
  *folded_out = false;
  bool known = false;
  for (size_t k = 0; k < sizeof foldable / sizeof foldable[0]; k++)
    known |= strcmp(foldable[k], n->op) == 0;
  bool shape = strcmp(n->op, "Shape") == 0;
  if (!known || (!shape && !all_const(x, n))) return IMS_OK;
  ims__onnx_value *y = out0(x, n);
  if (y == NULL)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "no output");
  if (shape && ims__onnx_in(x, n, 0) == NULL)
    return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL, "no input");
  ims_status st = fold_node(x, n, y);
  if (st == IMS_OK && x->pb.status != IMS_OK) st = x->pb.status;
  *folded_out = st == IMS_OK;
  return st;
}
