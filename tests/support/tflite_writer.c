/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/tflite_writer.c - the test-only TFLite writer (see
 * tflite_writer.h for what it writes and its limits).
 *
 * FlatBuffers layout as written here (little-endian throughout):
 *  - bytes 0..3: u32 offset of the root table; bytes 4..7: "TFL3".
 *  - a table is an i32 soffset (table - vtable; negative here, because the
 *    vtable is written right after the table) followed by its inline
 *    fields, each aligned to its own size. The vtable is u16 vtable bytes,
 *    u16 table bytes, then one u16 per field id: the field's offset from
 *    the table start, 0 = absent.
 *  - a reference field holds a u32 offset from the field to its target,
 *    which must lie after it: the writer appends each table with zeroed
 *    reference slots, then appends the children and patches the slots.
 *  - a vector is a u32 length and its elements, the elements aligned to
 *    their size (16 for buffer data); a string is a byte vector plus NUL.
 *
 * Sections (keep this order):
 *   1. the model description (what tfw_* calls record)
 *   2. the byte sink: append, align, patch
 *   3. tables and vectors
 *   4. TFLite tables: buffers, tensors, operators, subgraph, model
 *   5. options builders
 *
 * Threading: a writer belongs to one thread.
 */
#include "support/tflite_writer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- 1. the model description ---------------------------------------- */

typedef struct tw_tensor {
  int8_t type;                 /* TensorType */
  uint32_t rank;               /* used entries of shape */
  int32_t shape[TFW_MAX_RANK]; /* dimensions */
  uint32_t buffer;             /* buffer index (0 = none) */
  char *name;                  /* owned */
  uint32_t qcount;             /* quantization entries; 0 = none */
  float *scales;               /* owned, qcount */
  int64_t *zero_points;        /* owned, qcount */
  int32_t qdim;                /* quantized_dimension */
} tw_tensor;

#define TW_MAX_INPUTS 4

typedef struct tw_op {
  uint32_t opcode;              /* index into operator_codes */
  uint32_t n_in;                /* used entries of in */
  int32_t in[TW_MAX_INPUTS];    /* input tensor ids (-1 = absent) */
  int32_t out;                  /* output tensor id */
  tfw_options opt;              /* builtin options */
} tw_op;

typedef struct tw_buffer {
  uint8_t *data;                /* owned; NULL for buffer 0 */
  size_t size;                  /* bytes at data */
} tw_buffer;

struct tfw {
  tw_tensor *tensors;           /* owned array */
  uint32_t n_tensors, cap_tensors;
  tw_op *ops;                   /* owned array, execution order */
  uint32_t n_ops, cap_ops;
  tw_buffer *buffers;           /* owned array; [0] is the empty buffer */
  uint32_t n_buffers, cap_buffers;
  int32_t *codes;               /* owned: builtin code per operator_code */
  uint32_t n_codes, cap_codes;
  int32_t input, output;        /* subgraph input / output tensor */
  bool failed;                  /* out of memory or a bad argument */
};

/* Make room for one more element of `elem` bytes in *arr. */
static bool grow(tfw *w, void **arr, uint32_t n, uint32_t *cap,
                 size_t elem) {
  if (n < *cap) return true;
  uint32_t want = *cap ? *cap * 2 : 8;
  void *p = realloc(*arr, want * elem);
  if (p == NULL) {
    w->failed = true;
    return false;
  }
  *arr = p;
  *cap = want;
  return true;
}

static void *dup_bytes(tfw *w, const void *src, size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    w->failed = true;
    return NULL;
  }
  if (n) memcpy(p, src, n);
  return p;
}

tfw *tfw_create(void) {
  tfw *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  if (!grow(w, (void **)&w->buffers, 0, &w->cap_buffers,
            sizeof *w->buffers)) {
    free(w);
    return NULL;
  }
  w->buffers[0] = (tw_buffer){NULL, 0};
  w->n_buffers = 1;
  return w;
}

void tfw_destroy(tfw *w) {
  if (w == NULL) return;
  for (uint32_t i = 0; i < w->n_tensors; i++) {
    free(w->tensors[i].name);
    free(w->tensors[i].scales);
    free(w->tensors[i].zero_points);
  }
  for (uint32_t i = 0; i < w->n_buffers; i++) free(w->buffers[i].data);
  free(w->tensors);
  free(w->ops);
  free(w->buffers);
  free(w->codes);
  free(w);
}

static uint32_t add_buffer(tfw *w, const void *data, size_t size) {
  if (!grow(w, (void **)&w->buffers, w->n_buffers, &w->cap_buffers,
            sizeof *w->buffers))
    return 0;
  uint8_t *copy = dup_bytes(w, data, size);
  if (copy == NULL) return 0;
  w->buffers[w->n_buffers] = (tw_buffer){copy, size};
  return w->n_buffers++;
}

static void copy_quant(tfw *w, tw_tensor *t, const tfw_quant *q) {
  if (q == NULL || q->count == 0) return;
  t->scales = dup_bytes(w, q->scales, q->count * sizeof *t->scales);
  t->zero_points =
      dup_bytes(w, q->zero_points, q->count * sizeof *t->zero_points);
  t->qcount = q->count;
  t->qdim = q->dim;
}

int32_t tfw_tensor(tfw *w, int8_t type, uint32_t rank, const int32_t *shape,
                   const void *data, size_t size, const tfw_quant *q,
                   const char *name) {
  if (rank > TFW_MAX_RANK) w->failed = true;
  if (w->failed || !grow(w, (void **)&w->tensors, w->n_tensors,
                         &w->cap_tensors, sizeof *w->tensors))
    return -1;
  tw_tensor *t = &w->tensors[w->n_tensors];
  memset(t, 0, sizeof *t);
  t->type = type;
  t->rank = rank;
  if (rank) memcpy(t->shape, shape, rank * sizeof *shape);
  if (data != NULL) t->buffer = add_buffer(w, data, size);
  name = name != NULL ? name : "";
  t->name = dup_bytes(w, name, strlen(name) + 1);
  copy_quant(w, t, q);
  return (int32_t)w->n_tensors++;
}

int32_t tfw_tensor_q(tfw *w, int8_t type, uint32_t rank,
                     const int32_t *shape, const void *data, size_t size,
                     float scale, int64_t zero_point) {
  tfw_quant q = {1, &scale, &zero_point, 0};
  return tfw_tensor(w, type, rank, shape, data, size, &q, NULL);
}

/* Index of builtin `code` in operator_codes, adding it if new. */
static uint32_t opcode_index(tfw *w, int32_t code) {
  for (uint32_t i = 0; i < w->n_codes; i++)
    if (w->codes[i] == code) return i;
  if (!grow(w, (void **)&w->codes, w->n_codes, &w->cap_codes,
            sizeof *w->codes))
    return 0;
  w->codes[w->n_codes] = code;
  return w->n_codes++;
}

void tfw_operator(tfw *w, int32_t code, uint32_t n_in, const int32_t *inputs,
                  int32_t output, const tfw_options *opt) {
  if (n_in > TW_MAX_INPUTS) w->failed = true;
  if (w->failed ||
      !grow(w, (void **)&w->ops, w->n_ops, &w->cap_ops, sizeof *w->ops))
    return;
  tw_op *op = &w->ops[w->n_ops++];
  memset(op, 0, sizeof *op);
  op->opcode = opcode_index(w, code);
  op->n_in = n_in;
  if (n_in) memcpy(op->in, inputs, n_in * sizeof *inputs);
  op->out = output;
  if (opt != NULL) op->opt = *opt;
}

void tfw_set_io(tfw *w, int32_t input, int32_t output) {
  w->input = input;
  w->output = output;
}

/* ---- 2. the byte sink ------------------------------------------------- */

typedef struct sink {
  uint8_t *b;                   /* owned until handed to the caller */
  size_t len, cap;              /* bytes written / allocated */
  bool failed;                  /* out of memory */
} sink;

static void put(sink *s, const void *p, size_t n) {
  if (s->failed) return;
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->len + n) cap *= 2;
    uint8_t *b = realloc(s->b, cap);
    if (b == NULL) {
      s->failed = true;
      return;
    }
    s->b = b;
    s->cap = cap;
  }
  if (p != NULL) memcpy(s->b + s->len, p, n);
  else memset(s->b + s->len, 0, n);
  s->len += n;
}

/* Little-endian integer of `size` bytes. */
static void put_le(sink *s, uint64_t v, unsigned size) {
  uint8_t b[8];
  for (unsigned i = 0; i < size; i++) b[i] = (uint8_t)(v >> (8 * i));
  put(s, b, size);
}

static void set_le(sink *s, size_t pos, uint64_t v, unsigned size) {
  if (s->failed) return;
  for (unsigned i = 0; i < size; i++) s->b[pos + i] = (uint8_t)(v >> (8 * i));
}

/* Zero bytes until len % align == want (align a power of two). */
static void align_to(sink *s, size_t align, size_t want) {
  while (!s->failed && s->len % align != want) put(s, NULL, 1);
}

/* Point the reference slot at `slot` to `target` (which follows it). */
static void patch(sink *s, size_t slot, size_t target) {
  set_le(s, slot, (uint32_t)(target - slot), 4);
}

/* ---- 3. tables and vectors -------------------------------------------- */

#define TW_MAX_FIELDS 16

typedef struct table {
  size_t pos;                     /* table start (its soffset) */
  uint16_t off[TW_MAX_FIELDS];    /* field offsets; 0 = absent */
  unsigned n;                     /* highest field id + 1 */
} table;

static void table_begin(sink *s, table *t) {
  memset(t, 0, sizeof *t);
  align_to(s, 4, 0);
  t->pos = s->len;
  put(s, NULL, 4); /* soffset, set by table_end */
}

static void field_at(sink *s, table *t, unsigned id, unsigned size) {
  align_to(s, size, 0);
  t->off[id] = (uint16_t)(s->len - t->pos);
  if (id + 1 > t->n) t->n = id + 1;
}

static void table_scalar(sink *s, table *t, unsigned id, uint64_t v,
                         unsigned size) {
  field_at(s, t, id, size);
  put_le(s, v, size);
}

/* A zeroed reference field; returns its position for patch(). */
static size_t table_ref(sink *s, table *t, unsigned id) {
  field_at(s, t, id, 4);
  size_t slot = s->len;
  put(s, NULL, 4);
  return slot;
}

/* Write the vtable after the table; returns the table position. */
static size_t table_end(sink *s, table *t) {
  size_t end = s->len;
  align_to(s, 2, 0);
  size_t vt = s->len;
  put_le(s, 4 + 2 * t->n, 2);
  put_le(s, end - t->pos, 2);
  for (unsigned i = 0; i < t->n; i++) put_le(s, t->off[i], 2);
  set_le(s, t->pos, (uint32_t)(int32_t)((int64_t)t->pos - (int64_t)vt), 4);
  return t->pos;
}

/* Vector header for `count` elements aligned to `align` (>= 4); returns
 * the position of the length word. */
static size_t vec_begin(sink *s, uint32_t count, size_t align) {
  align_to(s, align, align - 4);
  size_t pos = s->len;
  put_le(s, count, 4);
  return pos;
}

static size_t vec_i32(sink *s, const int32_t *v, uint32_t n) {
  size_t pos = vec_begin(s, n, 4);
  for (uint32_t i = 0; i < n; i++) put_le(s, (uint32_t)v[i], 4);
  return pos;
}

static size_t vec_f32(sink *s, const float *v, uint32_t n) {
  size_t pos = vec_begin(s, n, 4);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t bits;
    memcpy(&bits, &v[i], sizeof bits);
    put_le(s, bits, 4);
  }
  return pos;
}

static size_t vec_i64(sink *s, const int64_t *v, uint32_t n) {
  size_t pos = vec_begin(s, n, 8);
  for (uint32_t i = 0; i < n; i++) put_le(s, (uint64_t)v[i], 8);
  return pos;
}

static size_t vec_bytes(sink *s, const void *p, size_t n, size_t align) {
  size_t pos = vec_begin(s, (uint32_t)n, align);
  put(s, p, n);
  return pos;
}

static size_t string(sink *s, const char *str) {
  size_t pos = vec_bytes(s, str, strlen(str), 4);
  put(s, NULL, 1); /* NUL */
  return pos;
}

/* A vector of `n` zeroed table references; slot i is at pos + 4 + 4i. */
static size_t vec_slots(sink *s, uint32_t n) {
  size_t pos = vec_begin(s, n, 4);
  put(s, NULL, 4 * (size_t)n);
  return pos;
}

static size_t slot(size_t vec, uint32_t i) { return vec + 4 + 4 * (size_t)i; }

/* ---- 4. TFLite tables ------------------------------------------------- */

/* Field ids (schema order; a union takes two: type, then value). */
enum {
  MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2,
  MODEL_DESCRIPTION = 3, MODEL_BUFFERS = 4,
  OPCODE_DEPRECATED = 0, OPCODE_VERSION = 2, OPCODE_BUILTIN = 3,
  SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3,
  SG_NAME = 4,
  TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3,
  TENSOR_QUANT = 4,
  QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DIM = 6,
  BUFFER_DATA = 0,
  OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3,
  OP_OPTIONS = 4
};

static size_t write_buffer(sink *s, const tw_buffer *b) {
  table t;
  table_begin(s, &t);
  size_t data = b->data != NULL ? table_ref(s, &t, BUFFER_DATA) : 0;
  size_t pos = table_end(s, &t);
  if (data) patch(s, data, vec_bytes(s, b->data, b->size, 16));
  return pos;
}

static size_t write_quant(sink *s, const tw_tensor *x) {
  table t;
  table_begin(s, &t);
  size_t scale = table_ref(s, &t, QUANT_SCALE);
  size_t zp = table_ref(s, &t, QUANT_ZERO_POINT);
  table_scalar(s, &t, QUANT_DIM, (uint32_t)x->qdim, 4);
  size_t pos = table_end(s, &t);
  patch(s, scale, vec_f32(s, x->scales, x->qcount));
  patch(s, zp, vec_i64(s, x->zero_points, x->qcount));
  return pos;
}

static size_t write_tensor(sink *s, const tw_tensor *x) {
  table t;
  table_begin(s, &t);
  size_t shape = table_ref(s, &t, TENSOR_SHAPE);
  table_scalar(s, &t, TENSOR_TYPE, (uint8_t)x->type, 1);
  table_scalar(s, &t, TENSOR_BUFFER, x->buffer, 4);
  size_t name = table_ref(s, &t, TENSOR_NAME);
  size_t quant = x->qcount ? table_ref(s, &t, TENSOR_QUANT) : 0;
  size_t pos = table_end(s, &t);
  patch(s, shape, vec_i32(s, x->shape, x->rank));
  patch(s, name, string(s, x->name));
  if (quant) patch(s, quant, write_quant(s, x));
  return pos;
}

static size_t write_options(sink *s, const tfw_options *o) {
  table t;
  table_begin(s, &t);
  for (uint32_t i = 0; i < o->count; i++)
    table_scalar(s, &t, o->field[i].id, o->field[i].bits, o->field[i].size);
  size_t vec = o->vec_len ? table_ref(s, &t, o->vec_id) : 0;
  size_t pos = table_end(s, &t);
  if (vec) patch(s, vec, vec_i32(s, o->vec, o->vec_len));
  return pos;
}

static size_t write_op(sink *s, const tw_op *op) {
  table t;
  table_begin(s, &t);
  table_scalar(s, &t, OP_OPCODE, op->opcode, 4);
  size_t in = table_ref(s, &t, OP_INPUTS);
  size_t out = table_ref(s, &t, OP_OUTPUTS);
  size_t opt = 0;
  if (op->opt.type != 0) {
    table_scalar(s, &t, OP_OPTIONS_TYPE, op->opt.type, 1);
    opt = table_ref(s, &t, OP_OPTIONS);
  }
  size_t pos = table_end(s, &t);
  patch(s, in, vec_i32(s, op->in, op->n_in));
  patch(s, out, vec_i32(s, &op->out, 1));
  if (opt) patch(s, opt, write_options(s, &op->opt));
  return pos;
}

static size_t write_opcode(sink *s, int32_t code) {
  table t;
  table_begin(s, &t);
  table_scalar(s, &t, OPCODE_DEPRECATED, (uint8_t)(code < 127 ? code : 127),
               1);
  table_scalar(s, &t, OPCODE_VERSION, 1, 4);
  table_scalar(s, &t, OPCODE_BUILTIN, (uint32_t)code, 4);
  return table_end(s, &t);
}

static size_t write_subgraph(sink *s, const tfw *w) {
  table t;
  table_begin(s, &t);
  size_t tensors = table_ref(s, &t, SG_TENSORS);
  size_t in = table_ref(s, &t, SG_INPUTS);
  size_t out = table_ref(s, &t, SG_OUTPUTS);
  size_t ops = table_ref(s, &t, SG_OPERATORS);
  size_t name = table_ref(s, &t, SG_NAME);
  size_t pos = table_end(s, &t);
  size_t v = vec_slots(s, w->n_tensors);
  patch(s, tensors, v);
  for (uint32_t i = 0; i < w->n_tensors; i++)
    patch(s, slot(v, i), write_tensor(s, &w->tensors[i]));
  patch(s, in, vec_i32(s, &w->input, 1));
  patch(s, out, vec_i32(s, &w->output, 1));
  v = vec_slots(s, w->n_ops);
  patch(s, ops, v);
  for (uint32_t i = 0; i < w->n_ops; i++)
    patch(s, slot(v, i), write_op(s, &w->ops[i]));
  patch(s, name, string(s, "main"));
  return pos;
}

static void write_model(sink *s, const tfw *w) {
  put(s, NULL, 4);           /* root offset */
  put(s, "TFL3", 4);
  table t;
  table_begin(s, &t);
  table_scalar(s, &t, MODEL_VERSION, 3, 4);
  size_t codes = table_ref(s, &t, MODEL_OPCODES);
  size_t sgs = table_ref(s, &t, MODEL_SUBGRAPHS);
  size_t desc = table_ref(s, &t, MODEL_DESCRIPTION);
  size_t bufs = table_ref(s, &t, MODEL_BUFFERS);
  patch(s, 0, table_end(s, &t));
  size_t v = vec_slots(s, w->n_codes);
  patch(s, codes, v);
  for (uint32_t i = 0; i < w->n_codes; i++)
    patch(s, slot(v, i), write_opcode(s, w->codes[i]));
  v = vec_slots(s, 1);
  patch(s, sgs, v);
  patch(s, slot(v, 0), write_subgraph(s, w));
  patch(s, desc, string(s, "imgstream tests/tflite_writer"));
  v = vec_slots(s, w->n_buffers);
  patch(s, bufs, v);
  for (uint32_t i = 0; i < w->n_buffers; i++)
    patch(s, slot(v, i), write_buffer(s, &w->buffers[i]));
}

uint8_t *tfw_finish(tfw *w, size_t *size_out) {
  sink s = {NULL, 0, 0, false};
  if (w == NULL || w->failed) return NULL;
  write_model(&s, w);
  if (s.failed) {
    free(s.b);
    return NULL;
  }
  *size_out = s.len;
  return s.b;
}

/* ---- 5. options builders ---------------------------------------------- */

/* BuiltinOptions union type ids (schema.fbs). */
enum {
  OPT_CONV = 1, OPT_DEPTHWISE = 2, OPT_POOL = 5, OPT_FC = 8,
  OPT_SOFTMAX = 9, OPT_ADD = 11, OPT_RESHAPE = 17, OPT_PAD = 22,
  OPT_REDUCER = 27, OPT_SQUEEZE = 30
};

static void opt_field(tfw_options *o, uint8_t id, uint8_t size,
                      uint32_t bits) {
  if (o->count >= TFW_MAX_OPT_FIELDS) return;
  o->field[o->count].id = id;
  o->field[o->count].size = size;
  o->field[o->count].bits = bits;
  o->count++;
}

static tfw_options opt_new(uint8_t type) {
  tfw_options o;
  memset(&o, 0, sizeof o);
  o.type = type;
  return o;
}

/* Conv2DOptions: padding, stride_w, stride_h, fused_activation_function,
 * dilation_w_factor, dilation_h_factor. */
tfw_options tfw_opt_conv(int8_t padding, int32_t stride_w, int32_t stride_h,
                         int8_t act) {
  tfw_options o = opt_new(OPT_CONV);
  opt_field(&o, 0, 1, (uint8_t)padding);
  opt_field(&o, 1, 4, (uint32_t)stride_w);
  opt_field(&o, 2, 4, (uint32_t)stride_h);
  opt_field(&o, 3, 1, (uint8_t)act);
  opt_field(&o, 4, 4, 1);
  opt_field(&o, 5, 4, 1);
  return o;
}

/* DepthwiseConv2DOptions: padding, stride_w, stride_h, depth_multiplier,
 * fused_activation_function, dilation_w_factor, dilation_h_factor. */
tfw_options tfw_opt_depthwise(int8_t padding, int32_t stride_w,
                              int32_t stride_h, int32_t multiplier,
                              int8_t act) {
  tfw_options o = opt_new(OPT_DEPTHWISE);
  opt_field(&o, 0, 1, (uint8_t)padding);
  opt_field(&o, 1, 4, (uint32_t)stride_w);
  opt_field(&o, 2, 4, (uint32_t)stride_h);
  opt_field(&o, 3, 4, (uint32_t)multiplier);
  opt_field(&o, 4, 1, (uint8_t)act);
  opt_field(&o, 5, 4, 1);
  opt_field(&o, 6, 4, 1);
  return o;
}

/* Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height,
 * fused_activation_function. */
tfw_options tfw_opt_pool(int8_t padding, int32_t stride_w, int32_t stride_h,
                         int32_t filter_w, int32_t filter_h, int8_t act) {
  tfw_options o = opt_new(OPT_POOL);
  opt_field(&o, 0, 1, (uint8_t)padding);
  opt_field(&o, 1, 4, (uint32_t)stride_w);
  opt_field(&o, 2, 4, (uint32_t)stride_h);
  opt_field(&o, 3, 4, (uint32_t)filter_w);
  opt_field(&o, 4, 4, (uint32_t)filter_h);
  opt_field(&o, 5, 1, (uint8_t)act);
  return o;
}

/* FullyConnectedOptions: fused_activation_function, weights_format,
 * keep_num_dims. */
tfw_options tfw_opt_fc(int8_t act, int keep_num_dims) {
  tfw_options o = opt_new(OPT_FC);
  opt_field(&o, 0, 1, (uint8_t)act);
  opt_field(&o, 1, 1, 0); /* DEFAULT */
  opt_field(&o, 2, 1, keep_num_dims != 0);
  return o;
}

/* AddOptions: fused_activation_function. */
tfw_options tfw_opt_add(int8_t act) {
  tfw_options o = opt_new(OPT_ADD);
  opt_field(&o, 0, 1, (uint8_t)act);
  return o;
}

/* SoftmaxOptions: beta. */
tfw_options tfw_opt_softmax(float beta) {
  tfw_options o = opt_new(OPT_SOFTMAX);
  uint32_t bits;
  memcpy(&bits, &beta, sizeof bits);
  opt_field(&o, 0, 4, bits);
  return o;
}

/* ReducerOptions: keep_dims. */
tfw_options tfw_opt_reducer(int keep_dims) {
  tfw_options o = opt_new(OPT_REDUCER);
  opt_field(&o, 0, 1, keep_dims != 0);
  return o;
}

static void opt_vec(tfw_options *o, uint8_t id, uint32_t n,
                    const int32_t *v) {
  o->vec_id = id;
  o->vec_len = n < TFW_MAX_OPT_VEC ? n : TFW_MAX_OPT_VEC;
  if (o->vec_len) memcpy(o->vec, v, o->vec_len * sizeof *v);
}

/* ReshapeOptions: new_shape. */
tfw_options tfw_opt_reshape(uint32_t rank, const int32_t *new_shape) {
  tfw_options o = opt_new(OPT_RESHAPE);
  opt_vec(&o, 0, rank, new_shape);
  return o;
}

/* SqueezeOptions: squeeze_dims. */
tfw_options tfw_opt_squeeze(uint32_t count, const int32_t *dims) {
  tfw_options o = opt_new(OPT_SQUEEZE);
  opt_vec(&o, 0, count, dims);
  return o;
}

/* PadOptions: no fields. */
tfw_options tfw_opt_pad(void) { return opt_new(OPT_PAD); }
