/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/onnx_writer.c - the test-only ONNX writer of onnx_writer.h.
 *
 * Field numbers (onnx.proto): ModelProto 1 ir_version, 7 graph,
 * 8 opset_import {1 domain, 2 version}; GraphProto 1 node, 2 name,
 * 5 initializer, 11 input, 12 output; NodeProto 1 input, 2 output, 3 name,
 * 4 op_type, 5 attribute; AttributeProto 1 name, 2 f, 3 i, 4 s, 5 t,
 * 8 ints, 20 type; TensorProto 1 dims, 2 data_type, 4 float_data,
 * 7 int64_data, 8 name, 9 raw_data, 13 external_data, 14 data_location;
 * ValueInfoProto 1 name, 2 type {1 tensor_type {1 elem_type, 2 shape
 * {1 dim {1 dim_value, 2 dim_param}}}}.
 *
 * Repeated scalars are written packed (float_data, int64_data, ints) and
 * dims unpacked, so the reader's two forms are both exercised.
 *
 * Threading: a writer belongs to one thread.
 */
#include "support/onnx_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(ow_buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n) cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL) abort();
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

void ow_varint(ow_buf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) tmp[n] |= 0x80;
    n++;
  } while (v);
  put(b, tmp, n);
}

void ow_key(ow_buf *b, uint32_t field, uint32_t wire) {
  ow_varint(b, ((uint64_t)field << 3) | wire);
}

void ow_int(ow_buf *b, uint32_t field, int64_t v) {
  ow_key(b, field, 0);
  ow_varint(b, (uint64_t)v);
}

void ow_float(ow_buf *b, uint32_t field, float v) {
  ow_key(b, field, 5);
  put(b, &v, 4);
}

void ow_bytes(ow_buf *b, uint32_t field, const void *data, size_t n) {
  ow_key(b, field, 2);
  ow_varint(b, n);
  put(b, data, n);
}

void ow_str(ow_buf *b, uint32_t field, const char *s) {
  ow_bytes(b, field, s, strlen(s));
}

void ow_msg(ow_buf *b, uint32_t field, ow_buf *sub) {
  ow_bytes(b, field, sub->p, sub->n);
  ow_free(sub);
}

void ow_free(ow_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ---- attributes ---- */

static ow_buf attr(const char *name, int type) {
  ow_buf a = {0};
  ow_str(&a, 1, name);
  ow_int(&a, 20, type);
  return a;
}

ow_buf ow_attr_int(const char *name, int64_t v) {
  ow_buf a = attr(name, 2);
  ow_int(&a, 3, v);
  return a;
}

ow_buf ow_attr_float(const char *name, float v) {
  ow_buf a = attr(name, 1);
  ow_float(&a, 2, v);
  return a;
}

ow_buf ow_attr_ints(const char *name, const int64_t *v, int n) {
  ow_buf a = attr(name, 7), packed = {0};
  for (int i = 0; i < n; i++) ow_varint(&packed, (uint64_t)v[i]);
  ow_msg(&a, 8, &packed);
  return a;
}

ow_buf ow_attr_str(const char *name, const char *s) {
  ow_buf a = attr(name, 3);
  ow_str(&a, 4, s);
  return a;
}

static ow_buf tensor(const char *name, int dtype, int rank,
                     const int64_t *dims) {
  ow_buf t = {0};
  for (int i = 0; i < rank; i++) ow_int(&t, 1, dims[i]);
  ow_int(&t, 2, dtype);
  ow_str(&t, 8, name);
  return t;
}

static size_t count(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

static void float_data(ow_buf *t, const float *data, size_t n, int enc) {
  if (enc == OW_RAW) {
    ow_bytes(t, 9, data, n * 4);
  } else {
    ow_bytes(t, 4, data, n * 4); /* packed float_data */
  }
}

ow_buf ow_attr_tensor(const char *name, int rank, const int64_t *dims,
                      const float *data) {
  ow_buf a = attr(name, 4), t = tensor("", 1, rank, dims);
  float_data(&t, data, count(rank, dims), OW_RAW);
  ow_msg(&a, 5, &t);
  return a;
}

/* ---- the graph ---- */

void ow_init(onnx_w *w, int64_t opset) {
  memset(w, 0, sizeof *w);
  w->opset = opset;
  ow_str(&w->graph, 2, "test");
}

void ow_input(onnx_w *w, const char *name, int rank, const int64_t *dims) {
  ow_buf shape = {0}, tt = {0}, type = {0}, vi = {0};
  for (int i = 0; i < rank; i++) {
    ow_buf d = {0};
    if (dims[i] < 0)
      ow_str(&d, 2, "N");
    else
      ow_int(&d, 1, dims[i]);
    ow_msg(&shape, 1, &d);
  }
  ow_int(&tt, 1, 1);
  ow_msg(&tt, 2, &shape);
  ow_msg(&type, 1, &tt);
  ow_str(&vi, 1, name);
  ow_msg(&vi, 2, &type);
  ow_msg(&w->graph, 11, &vi);
}

void ow_output(onnx_w *w, const char *name) {
  ow_buf vi = {0};
  ow_str(&vi, 1, name);
  ow_msg(&w->graph, 12, &vi);
}

void ow_init_f32(onnx_w *w, const char *name, int rank, const int64_t *dims,
                 const float *data, int encoding) {
  ow_buf t = tensor(name, 1, rank, dims);
  float_data(&t, data, count(rank, dims), encoding);
  ow_msg(&w->graph, 5, &t);
}

void ow_init_i64(onnx_w *w, const char *name, int rank, const int64_t *dims,
                 const int64_t *data, int encoding) {
  ow_buf t = tensor(name, 7, rank, dims);
  size_t n = count(rank, dims);
  if (encoding == OW_RAW) {
    ow_bytes(&t, 9, data, n * 8);
  } else {
    ow_buf packed = {0};
    for (size_t i = 0; i < n; i++) ow_varint(&packed, (uint64_t)data[i]);
    ow_msg(&t, 7, &packed);
  }
  ow_msg(&w->graph, 5, &t);
}

static void entry(ow_buf *t, const char *key, const char *value) {
  ow_buf e = {0};
  ow_str(&e, 1, key);
  ow_str(&e, 2, value);
  ow_msg(t, 13, &e);
}

void ow_init_external(onnx_w *w, const char *name, int rank,
                      const int64_t *dims, const char *location,
                      int64_t offset, int64_t length) {
  ow_buf t = tensor(name, 1, rank, dims);
  char num[32];
  entry(&t, "location", location);
  snprintf(num, sizeof num, "%lld", (long long)offset);
  entry(&t, "offset", num);
  snprintf(num, sizeof num, "%lld", (long long)length);
  entry(&t, "length", num);
  ow_int(&t, 14, 1);
  ow_msg(&w->graph, 5, &t);
}

void ow_node(onnx_w *w, const char *op, const char *name,
             const char *const *ins, const char *const *outs, ow_buf *attrs,
             int n_attr) {
  ow_buf n = {0};
  for (int i = 0; ins != NULL && ins[i] != NULL; i++) ow_str(&n, 1, ins[i]);
  for (int i = 0; outs != NULL && outs[i] != NULL; i++)
    ow_str(&n, 2, outs[i]);
  ow_str(&n, 3, name);
  ow_str(&n, 4, op);
  for (int i = 0; i < n_attr; i++) ow_msg(&n, 5, &attrs[i]);
  ow_msg(&w->graph, 1, &n);
}

uint8_t *ow_finish(onnx_w *w, size_t *size_out) {
  ow_buf m = {0}, opset = {0};
  ow_int(&m, 1, 8); /* ir_version */
  ow_str(&m, 2, "imgstream-tests");
  ow_msg(&m, 7, &w->graph);
  ow_str(&opset, 1, "");
  ow_int(&opset, 2, w->opset);
  ow_msg(&m, 8, &opset);
  *size_out = m.n;
  return m.p;
}
