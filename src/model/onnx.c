/* SPDX-License-Identifier: Apache-2.0 */
/*
 * onnx.c - the ONNX entry of the format table (format_int.h): reading an
 * ONNX ModelProto (onnx.proto, IR version 3 and up) into the loader state
 * of onnx_int.h, then lowering it node by node (onnx_ops.c, onnx_fold.c)
 * into the graph form of graph_int.h. Entry: ims__model_onnx, at the end.
 *
 * Messages and fields read (onnx.proto numbers):
 *   ModelProto      7 graph, 8 opset_import {1 domain, 2 version}
 *   GraphProto      1 node, 5 initializer, 11 input, 12 output
 *   NodeProto       1 input, 2 output, 3 name, 4 op_type, 5 attribute,
 *                   7 domain
 *   AttributeProto  1 name, 2 f, 3 i, 4 s, 5 t, 7 floats, 8 ints, 20 type
 *   TensorProto     1 dims, 2 data_type, 3 segment (refused), 4 float_data,
 *                   5 int32_data, 7 int64_data, 8 name, 9 raw_data,
 *                   13 external_data {1 key, 2 value}, 14 data_location
 *   ValueInfoProto  1 name, 2 type {1 tensor_type {1 elem_type, 2 shape
 *                   {1 dim {1 dim_value, 2 dim_param}}}}
 * Everything else (doc strings, metadata, value_info, training info) is
 * skipped. Sub-graphs (If, Loop) are not supported.
 *
 * External data: a tensor with data_location EXTERNAL names a file by a
 * path relative to the model's folder; absolute paths, ".." components and
 * symlinks resolving outside that folder are refused.
 *
 * Sections (keep this order):
 *   1. errors, strings, the value table
 *   2. attributes
 *   3. tensors (inline and external data)
 *   4. nodes and the graph
 *   5. sniffing, loading, the format table entry (ims__model_onnx)
 *
 * Threading: no shared state; one call loads one model.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/onnx_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "model/format_int.h"

/* Most elements one constant may have (4 GiB of floats). */
#define MAX_CONST_ELEMENTS ((size_t)1 << 30)

/* ---- 1. errors, strings, the value table ------------------------------ */

ims_status ims__onnx_node_fail(ims__onnx *x, const ims__onnx_node *n,
                               ims_status st, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Keep the first node failure: a lowering that went on reading
   * attributes after one returned the first status with the second
   * message (found by fuzz_onnx). A node message may still replace a
   * protobuf-level one (more precise), with its own status. */
  if (x->node_failed) return x->pb.status;
  x->node_failed = true;
  x->pb.status = st;
  return ims__fail(x->err, st, "node %u '%s' (%s): %s", n->index, n->name,
                   n->op, msg);
}

/* A NUL-terminated arena copy of a LEN field's bytes. */
static const char *copy_string(ims__onnx *x, const ims__pb_field *f,
                               const char *what) {
  if (!ims__pb_want(&x->pb, f, IMS__PB_LEN, what)) return NULL;
  char *s = ims__model_alloc(x->m, f->len + 1);
  if (s == NULL) {
    ims__pb_fail(&x->pb, "out of memory");
    x->pb.status = IMS_ERR_NO_MEMORY;
    return NULL;
  }
  memcpy(s, ims__pb_bytes(&x->pb, f), f->len);
  return s;
}

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s != '\0'; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

ims__onnx_value *ims__onnx_find(ims__onnx *x, const char *name) {
  uint32_t mask = x->hash_cap - 1;
  for (uint32_t h = hash_name(name) & mask;; h = (h + 1) & mask) {
    uint32_t k = x->hash[h];
    if (k == 0) return NULL;
    if (strcmp(x->values[k - 1].name, name) == 0) return &x->values[k - 1];
  }
}

ims__onnx_value *ims__onnx_add(ims__onnx *x, const char *name) {
  if (ims__onnx_find(x, name) != NULL) {
    ims__pb_fail(&x->pb, "value '%s' is defined twice", name);
    return NULL;
  }
  if (x->value_count == x->value_cap) {
    ims__pb_fail(&x->pb, "too many values");
    return NULL;
  }
  uint32_t mask = x->hash_cap - 1, h = hash_name(name) & mask;
  while (x->hash[h] != 0) h = (h + 1) & mask;
  ims__onnx_value *v = &x->values[x->value_count++];
  memset(v, 0, sizeof *v);
  v->name = name;
  v->producer = -1;
  x->hash[h] = x->value_count;
  return v;
}

size_t ims__onnx_elements(const int64_t *dims, uint32_t rank) {
  const size_t limit = (size_t)1 << 40;
  size_t n = 1;
  for (uint32_t d = 0; d < rank; d++) {
    if (dims[d] < 0 || (uint64_t)dims[d] > limit) return SIZE_MAX;
    if (dims[d] != 0 && n > limit / (size_t)dims[d]) return SIZE_MAX;
    n *= (size_t)dims[d]; /* checked above: no wrap */
  }
  return n;
}

ims_status ims__onnx_const_alloc(ims__onnx *x, ims__onnx_value *v,
                                 bool is_int, size_t count) {
  void *p = ims__model_alloc(x->m, (count ? count : 1) * 8);
  if (p == NULL)
    return ims__fail(x->err, IMS_ERR_NO_MEMORY,
                     "out of memory for constant '%s'", v->name);
  v->kind = IMS__OV_CONST;
  v->is_int = is_int;
  v->count = count;
  v->f = is_int ? NULL : p;
  v->i = is_int ? p : NULL;
  return IMS_OK;
}

/* ---- 2. attributes ---------------------------------------------------- */

const ims__onnx_attr *ims__onnx_attr_find(const ims__onnx_node *n,
                                     const char *name) {
  for (uint32_t i = 0; i < n->n_attr; i++)
    if (strcmp(n->attr[i].name, name) == 0) return &n->attr[i];
  return NULL;
}

/* The first field `number` of attribute a; false if none. */
static bool attr_field(ims__onnx *x, const ims__onnx_attr *a,
                       uint32_t number, ims__pb_field *f) {
  ims__pb_msg m = a->msg;
  while (ims__pb_next(&x->pb, &m, f))
    if (f->number == number) return true;
  return false;
}

static void attr_missing(ims__onnx *x, const ims__onnx_node *n,
                         const char *name, const char *type) {
  ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                      "attribute '%s' has no %s value", name, type);
}

int64_t ims__onnx_attr_int(ims__onnx *x, const ims__onnx_node *n,
                           const char *name, int64_t def) {
  const ims__onnx_attr *a = ims__onnx_attr_find(n, name);
  ims__pb_field f;
  if (a == NULL) return def;
  if (!attr_field(x, a, 3, &f)) {
    attr_missing(x, n, name, "integer");
    return def;
  }
  return ims__pb_int(&x->pb, &f, name);
}

float ims__onnx_attr_float(ims__onnx *x, const ims__onnx_node *n,
                           const char *name, float def) {
  const ims__onnx_attr *a = ims__onnx_attr_find(n, name);
  ims__pb_field f;
  if (a == NULL) return def;
  if (!attr_field(x, a, 2, &f)) {
    attr_missing(x, n, name, "float");
    return def;
  }
  return ims__pb_float(&x->pb, &f, name);
}

void ims__onnx_attr_string(ims__onnx *x, const ims__onnx_node *n,
                           const char *name, const char *def, char *buf,
                           size_t cap) {
  const ims__onnx_attr *a = ims__onnx_attr_find(n, name);
  ims__pb_field f;
  snprintf(buf, cap, "%s", def);
  if (a == NULL) return;
  if (!attr_field(x, a, 4, &f) || !ims__pb_want(&x->pb, &f, IMS__PB_LEN,
                                                name)) {
    attr_missing(x, n, name, "string");
    return;
  }
  size_t len = f.len < cap - 1 ? f.len : cap - 1;
  memcpy(buf, ims__pb_bytes(&x->pb, &f), len);
  buf[len] = '\0';
}

int ims__onnx_attr_ints(ims__onnx *x, const ims__onnx_node *n,
                        const char *name, int64_t *out, int cap) {
  const ims__onnx_attr *a = ims__onnx_attr_find(n, name);
  if (a == NULL) return -1;
  size_t count =
      ims__pb_int_list(&x->pb, a->msg, 8, out, (size_t)cap, name);
  if (x->pb.status != IMS_OK) return -2;
  if (count > (size_t)cap) {
    ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                        "attribute '%s' has %zu values (at most %d)", name,
                        count, cap);
    return -2;
  }
  return (int)count;
}

/* ---- 3. tensors ------------------------------------------------------- */

typedef struct tensor_fields {
  int64_t dtype;            /* data_type */
  bool external;            /* data_location == EXTERNAL */
  bool has_raw;             /* raw_data present */
  ims__pb_field raw;        /* raw_data */
  const char *location;     /* external: file, relative */
  int64_t offset, length;   /* external: byte range (length -1 = all) */
} tensor_fields;

static void external_entry(ims__onnx *x, ims__pb_msg m, tensor_fields *t,
                           const char *what) {
  ims__pb_field f;
  const char *key = "", *value = "";
  while (ims__pb_next(&x->pb, &m, &f)) {
    if (f.number == 1) key = copy_string(x, &f, "external_data key");
    if (f.number == 2) value = copy_string(x, &f, "external_data value");
  }
  if (key == NULL || value == NULL) return;
  if (strcmp(key, "location") == 0) t->location = value;
  if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
    char *end = NULL;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || n < 0)
      ims__pb_fail(&x->pb, "%s: bad external data %s '%s'", what, key,
                   value);
    else if (key[0] == 'o')
      t->offset = n;
    else
      t->length = n;
  }
}

/* First pass over a TensorProto: the scalar fields and where data is. */
static void tensor_scan(ims__onnx *x, ims__pb_msg msg, ims__onnx_value *v,
                        tensor_fields *t, const char *what) {
  ims__pb_field f;
  memset(t, 0, sizeof *t);
  t->length = -1;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number == 2) t->dtype = ims__pb_int(&x->pb, &f, "data_type");
    if (f.number == 3)
      ims__pb_fail(&x->pb, "%s: segmented tensors are not supported", what);
    if (f.number == 9 && ims__pb_want(&x->pb, &f, IMS__PB_LEN, "raw_data")) {
      t->has_raw = true;
      t->raw = f;
    }
    if (f.number == 13)
      external_entry(x, ims__pb_sub(&x->pb, &f, "external_data"), t, what);
    if (f.number == 14)
      t->external = ims__pb_int(&x->pb, &f, "data_location") == 1;
  }
  (void)v;
}

/* Is `rel` a plain relative path without ".." components? */
static bool path_is_tame(const char *rel) {
  if (rel[0] == '\0' || rel[0] == '/') return false;
  for (const char *p = rel; *p != '\0';) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') return false;
    p += len + (slash != NULL);
  }
  return true;
}

/* Open dir/rel for reading, refusing anything outside dir (symlinks
 * included: both are resolved with realpath). */
static ims_status open_external(ims__onnx *x, const char *rel, FILE **out,
                                const char *what) {
  char path[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
  if (x->dir == NULL)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "%s: external data '%s' needs a model file (loaded "
                     "from memory)", what, rel);
  if (!path_is_tame(rel))
    return ims__fail(x->err, IMS_ERR_BAD_MODEL,
                     "%s: external data path '%s' escapes the model's "
                     "folder", what, rel);
  snprintf(path, sizeof path, "%s/%s", x->dir, rel);
  if (realpath(x->dir, real_dir) == NULL || realpath(path, real_file) == NULL)
    return ims__fail(x->err, IMS_ERR_NOT_FOUND,
                     "%s: external data file %s: %s", what, path,
                     strerror(errno));
  size_t dl = strlen(real_dir);
  if (strncmp(real_file, real_dir, dl) != 0 || real_file[dl] != '/')
    return ims__fail(x->err, IMS_ERR_BAD_MODEL,
                     "%s: external data path '%s' escapes the model's "
                     "folder", what, rel);
  *out = fopen(real_file, "rb");
  if (*out == NULL)
    return ims__fail(x->err, IMS_ERR_IO, "%s: cannot open %s: %s", what,
                     path, strerror(errno));
  return IMS_OK;
}

/* Read `bytes` bytes of external data into buf. */
static ims_status read_external(ims__onnx *x, const tensor_fields *t,
                                void *buf, size_t bytes, const char *what) {
  FILE *fp = NULL;
  if (t->location == NULL)
    return ims__fail(x->err, IMS_ERR_BAD_MODEL,
                     "%s: external data without a location", what);
  if (t->length >= 0 && (uint64_t)t->length != bytes)
    return ims__fail(x->err, IMS_ERR_BAD_MODEL,
                     "%s: external data length %lld, the shape needs %zu "
                     "bytes", what, (long long)t->length, bytes);
  ims_status st = open_external(x, t->location, &fp, what);
  if (st != IMS_OK) return st;
  if (fseeko(fp, (off_t)t->offset, SEEK_SET) != 0 ||
      fread(buf, 1, bytes, fp) != bytes)
    st = ims__fail(x->err, IMS_ERR_BAD_MODEL,
                   "%s: external data file '%s' has no %zu bytes at "
                   "offset %lld", what, t->location, bytes,
                   (long long)t->offset);
  fclose(fp);
  return st;
}

static size_t dtype_size(int64_t dtype) {
  switch (dtype) {
    case IMS__ONNX_FLOAT: return 4;
    case IMS__ONNX_INT32: return 4;
    case IMS__ONNX_INT64: return 8;
    default: return 0;
  }
}

/* Convert `count` little-endian elements of dtype at src into v. */
static void convert_raw(ims__onnx_value *v, int64_t dtype, const void *src) {
  const uint8_t *p = src;
  for (size_t k = 0; k < v->count; k++) {
    if (dtype == IMS__ONNX_FLOAT) {
      memcpy(&v->f[k], p + 4 * k, 4);
    } else if (dtype == IMS__ONNX_INT32) {
      int32_t w;
      memcpy(&w, p + 4 * k, 4);
      v->i[k] = w;
    } else {
      memcpy(&v->i[k], p + 8 * k, 8);
    }
  }
}

/* Typed fields: float_data (4), int32_data (5), int64_data (7). */
static ims_status typed_data(ims__onnx *x, ims__pb_msg msg, int64_t dtype,
                             ims__onnx_value *v, const char *what) {
  size_t got;
  if (dtype == IMS__ONNX_FLOAT)
    got = ims__pb_float_list(&x->pb, msg, 4, v->f, v->count, "float_data");
  else
    got = ims__pb_int_list(&x->pb, msg, dtype == IMS__ONNX_INT32 ? 5 : 7,
                           v->i, v->count, "int_data");
  if (x->pb.status != IMS_OK) return x->pb.status;
  if (dtype == IMS__ONNX_INT32)
    for (size_t k = 0; k < v->count && k < got; k++)
      v->i[k] = (int32_t)v->i[k];
  if (got != v->count)
    return ims__pb_fail(&x->pb, "%s: %zu data values for %zu elements",
                        what, got, v->count);
  return IMS_OK;
}

static ims_status tensor_data(ims__onnx *x, ims__pb_msg msg,
                              const tensor_fields *t, ims__onnx_value *v,
                              const char *what) {
  size_t bytes = v->count * dtype_size(t->dtype);
  if (t->external) {
    void *tmp = malloc(bytes ? bytes : 1);
    if (tmp == NULL)
      return ims__fail(x->err, IMS_ERR_NO_MEMORY, "%s: out of memory", what);
    ims_status st = read_external(x, t, tmp, bytes, what);
    if (st == IMS_OK) convert_raw(v, t->dtype, tmp);
    free(tmp);
    return st;
  }
  if (t->has_raw) {
    if (t->raw.len != bytes)
      return ims__pb_fail(&x->pb, "%s: raw_data of %zu bytes at byte %zu, "
                          "the shape needs %zu", what, t->raw.len,
                          t->raw.pos, bytes);
    convert_raw(v, t->dtype, ims__pb_bytes(&x->pb, &t->raw));
    return IMS_OK;
  }
  return typed_data(x, msg, t->dtype, v, what);
}

/* Are `count` elements backed by bytes of the file (raw_data, at least a
 * byte per typed value) or of the external data file? Checked before
 * allocating: a 532-byte model declaring 2^30 elements made an 8 GB
 * calloc (found by fuzz_onnx). */
static ims_status data_backs(ims__onnx *x, ims__pb_msg msg,
                             const tensor_fields *t, size_t count,
                             const char *what) {
  size_t bytes = count * dtype_size(t->dtype);
  if (t->external) {
    FILE *fp = NULL;
    if (t->location == NULL) /* before allocating too (fuzz_onnx) */
      return ims__fail(x->err, IMS_ERR_BAD_MODEL,
                       "%s: external data without a location", what);
    ims_status st = open_external(x, t->location, &fp, what);
    if (st != IMS_OK) return st;
    off_t end = fseeko(fp, 0, SEEK_END) == 0 ? ftello(fp) : -1;
    fclose(fp);
    if (end >= 0 && t->offset >= 0 && (uint64_t)t->offset <= (uint64_t)end &&
        bytes <= (uint64_t)end - (uint64_t)t->offset)
      return IMS_OK;
    return ims__fail(x->err, IMS_ERR_BAD_MODEL,
                     "%s: external data file '%s' has no %zu bytes at "
                     "offset %lld",
                     what, t->location, bytes, (long long)t->offset);
  }
  size_t have = t->has_raw ? t->raw.len : msg.end - msg.pos;
  if (t->has_raw ? have == bytes : count <= have) return IMS_OK;
  if (t->has_raw)
    return ims__pb_fail(&x->pb,
                        "%s: raw_data of %zu bytes at byte %zu, "
                        "the shape needs %zu",
                        what, t->raw.len, t->raw.pos, bytes);
  return ims__pb_fail(&x->pb,
                      "%s: the shape has %zu elements, the tensor "
                      "only %zu bytes of data",
                      what, count, have);
}

ims_status ims__onnx_tensor(ims__onnx *x, ims__pb_msg msg,
                            ims__onnx_value *v, const char *what) {
  tensor_fields t;
  int64_t dims[IMS__ONNX_MAX_RANK];
  tensor_scan(x, msg, v, &t, what);
  size_t rank = ims__pb_int_list(&x->pb, msg, 1, dims, IMS__ONNX_MAX_RANK,
                                 "dims");
  if (x->pb.status != IMS_OK) return x->pb.status;
  if (rank > IMS__ONNX_MAX_RANK)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "%s: rank %zu (at most %d)", what, rank,
                     IMS__ONNX_MAX_RANK);
  size_t count = ims__onnx_elements(dims, (uint32_t)rank);
  if (count == SIZE_MAX || count > MAX_CONST_ELEMENTS)
    return ims__pb_fail(&x->pb, "%s: bad or huge dims (%zu-D, %lld x ...)",
                        what, rank, rank ? (long long)dims[0] : 0LL);
  if (dtype_size(t.dtype) == 0)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "%s: data type %lld (float, int32 and int64 are "
                     "supported)", what, (long long)t.dtype);
  ims_status st = data_backs(x, msg, &t, count, what);
  if (st != IMS_OK) return st;
  v->rank = (uint32_t)rank;
  memcpy(v->dims, dims, rank * sizeof *dims);
  st = ims__onnx_const_alloc(x, v, t.dtype != IMS__ONNX_FLOAT, count);
  if (st != IMS_OK) return st;
  return tensor_data(x, msg, &t, v, what);
}

/* ---- 4. nodes and the graph ------------------------------------------- */

/* Count fields `a` and `b` of msg. */
static void count_fields(ims__onnx *x, ims__pb_msg msg, uint32_t a,
                         uint32_t b, uint32_t *na, uint32_t *nb) {
  ims__pb_field f;
  *na = *nb = 0;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    *na += f.number == a;
    *nb += f.number == b;
  }
}

static void *arena_array(ims__onnx *x, size_t n, size_t size) {
  void *p = ims__model_alloc(x->m, (n ? n : 1) * size);
  if (p == NULL) {
    ims__pb_fail(&x->pb, "out of memory");
    x->pb.status = IMS_ERR_NO_MEMORY;
  }
  return p;
}

static const char *attr_name(ims__onnx *x, ims__pb_msg msg) {
  ims__pb_field f;
  while (ims__pb_next(&x->pb, &msg, &f))
    if (f.number == 1) return copy_string(x, &f, "attribute name");
  ims__pb_fail(&x->pb, "attribute without a name");
  return NULL;
}

static void node_field(ims__onnx *x, ims__onnx_node *n,
                       const ims__pb_field *f) {
  switch (f->number) {
    case 1: n->in[n->n_in++] = copy_string(x, f, "input"); break;
    case 2: n->out[n->n_out++] = copy_string(x, f, "output"); break;
    case 3: n->name = copy_string(x, f, "name"); break;
    case 4: n->op = copy_string(x, f, "op_type"); break;
    case 5: {
      ims__onnx_attr *a = &n->attr[n->n_attr++];
      a->msg = ims__pb_sub(&x->pb, f, "attribute");
      a->name = attr_name(x, a->msg);
      break;
    }
    case 7: n->domain = copy_string(x, f, "domain"); break;
    default: break;
  }
}

static ims_status parse_node(ims__onnx *x, ims__pb_msg msg, uint32_t index,
                             ims__onnx_node *n) {
  uint32_t n_in, n_out, n_attr, unused;
  ims__pb_context(&x->pb, "node %u", index);
  count_fields(x, msg, 1, 2, &n_in, &n_out);
  count_fields(x, msg, 5, 5, &n_attr, &unused);
  n->index = index;
  n->name = n->op = n->domain = "";
  n->in = arena_array(x, n_in, sizeof *n->in);
  n->out = arena_array(x, n_out, sizeof *n->out);
  n->attr = arena_array(x, n_attr, sizeof *n->attr);
  if (x->pb.status != IMS_OK) return x->pb.status;
  ims__pb_field f;
  while (ims__pb_next(&x->pb, &msg, &f)) node_field(x, n, &f);
  if (x->pb.status != IMS_OK) return x->pb.status;
  if (n->op[0] == '\0')
    return ims__pb_fail(&x->pb, "node '%s' has no op_type", n->name);
  return IMS_OK;
}

/* Graph counts: nodes, initializers, inputs, outputs, node outputs. */
typedef struct graph_counts {
  uint32_t nodes, inits, inputs, outputs;
} graph_counts;

static ims_status parse_nodes(ims__onnx *x, const graph_counts *c) {
  x->nodes = calloc(c->nodes ? c->nodes : 1, sizeof *x->nodes);
  if (x->nodes == NULL)
    return ims__fail(x->err, IMS_ERR_NO_MEMORY, "out of memory");
  ims__pb_msg msg = x->graph;
  ims__pb_field f;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number != 1) continue;
    ims__pb_msg nm = ims__pb_sub(&x->pb, &f, "node");
    ims_status st = parse_node(x, nm, x->node_count, &x->nodes[x->node_count]);
    if (st != IMS_OK) return st;
    x->node_count++;
  }
  ims__pb_context(&x->pb, "graph");
  return x->pb.status;
}

static ims_status make_table(ims__onnx *x, const graph_counts *c) {
  size_t cap = (size_t)c->inits + c->inputs + 16;
  for (uint32_t i = 0; i < x->node_count; i++) cap += x->nodes[i].n_out;
  if (cap > UINT32_MAX / 4)
    return ims__fail(x->err, IMS_ERR_BAD_MODEL, "too many values");
  x->value_cap = (uint32_t)cap;
  x->hash_cap = 16;
  while (x->hash_cap < 2 * x->value_cap) x->hash_cap *= 2;
  x->values = calloc(x->value_cap, sizeof *x->values);
  x->hash = calloc(x->hash_cap, sizeof *x->hash);
  if (x->values == NULL || x->hash == NULL)
    return ims__fail(x->err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

static ims_status parse_initializer(ims__onnx *x, ims__pb_msg msg,
                                    uint32_t index) {
  ims__pb_field f;
  const char *name = NULL;
  ims__pb_msg m = msg;
  ims__pb_context(&x->pb, "initializer %u", index);
  while (ims__pb_next(&x->pb, &m, &f))
    if (f.number == 8) name = copy_string(x, &f, "name");
  if (x->pb.status != IMS_OK) return x->pb.status;
  if (name == NULL || name[0] == '\0')
    return ims__pb_fail(&x->pb, "initializer without a name");
  char what[96];
  snprintf(what, sizeof what, "initializer %u '%s'", index, name);
  ims__onnx_value *v = ims__onnx_add(x, name);
  if (v == NULL) return x->pb.status;
  return ims__onnx_tensor(x, msg, v, what);
}

/* The name of a ValueInfoProto. */
static const char *value_info_name(ims__onnx *x, ims__pb_msg msg) {
  ims__pb_field f;
  while (ims__pb_next(&x->pb, &msg, &f))
    if (f.number == 1) return copy_string(x, &f, "value name");
  return "";
}

/* Initializers, then the graph inputs and outputs (fields 11, 12). Old
 * exporters list initializers among the inputs: those are skipped. */
static ims_status parse_values(ims__onnx *x) {
  ims__pb_msg msg = x->graph;
  ims__pb_field f;
  uint32_t inits = 0;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number != 5) continue;
    ims_status st =
        parse_initializer(x, ims__pb_sub(&x->pb, &f, "initializer"), inits++);
    if (st != IMS_OK) return st;
  }
  ims__pb_context(&x->pb, "graph");
  msg = x->graph;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number != 11 && f.number != 12) continue;
    const char *name = value_info_name(x, ims__pb_sub(&x->pb, &f, "io"));
    if (name == NULL) break;
    if (f.number == 11 && ims__onnx_find(x, name) != NULL) continue;
    const char **slot = f.number == 11 ? &x->input_name : &x->output_name;
    if (*slot != NULL)
      return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                       "graph has more than one %s ('%s', '%s'); a "
                       "classifier has one", f.number == 11 ? "input"
                                                            : "output",
                       *slot, name);
    *slot = name;
  }
  if (x->pb.status != IMS_OK) return x->pb.status;
  if (x->input_name == NULL || x->output_name == NULL)
    return ims__fail(x->err, IMS_ERR_BAD_MODEL, "graph has no %s",
                     x->input_name == NULL ? "input" : "output");
  return IMS_OK;
}

/* ---- 5. sniffing, loading, the format table entry --------------------- */

/* ims__model_format.sniff: does this look like an ONNX ModelProto? It
 * starts with ir_version (key byte 0x08), or its top-level fields parse
 * and include a graph (field 7). Cheap: reads the top level only. */
static bool onnx_sniff(const void *data, size_t size) {
  /* Writers put ir_version (field 1, varint: key byte 0x08) first; such a
   * file gets the ONNX loader's precise errors even when broken. */
  if (size >= 2 && ((const uint8_t *)data)[0] == 0x08) return true;
  ims__pb pb;
  ims__pb_init(&pb, data, size, NULL);
  ims__pb_msg msg = ims__pb_root(&pb);
  ims__pb_field f;
  bool graph = false;
  while (ims__pb_next(&pb, &msg, &f))
    graph |= f.number == 7 && f.wire == IMS__PB_LEN;
  return graph && !ims__pb_failed(&pb);
}

static void parse_opset(ims__onnx *x, ims__pb_msg msg) {
  ims__pb_field f;
  bool default_domain = true;
  int64_t version = 0;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number == 1) default_domain = f.wire == IMS__PB_LEN && f.len == 0;
    if (f.number == 2) version = ims__pb_int(&x->pb, &f, "opset version");
  }
  if (default_domain) x->opset = version;
}

static ims_status parse_model(ims__onnx *x) {
  ims__pb_msg msg = ims__pb_root(&x->pb);
  ims__pb_field f;
  bool graph = false;
  ims__pb_context(&x->pb, "model");
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number == 7) {
      x->graph = ims__pb_sub(&x->pb, &f, "graph");
      graph = true;
    }
    if (f.number == 8) parse_opset(x, ims__pb_sub(&x->pb, &f, "opset"));
  }
  if (x->pb.status != IMS_OK) return x->pb.status;
  if (!graph) return ims__pb_fail(&x->pb, "no graph (not an ONNX model)");
  if (x->opset == 0) x->opset = 1;
  if (x->opset > 21)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED,
                     "opset %lld is newer than this loader knows (21)",
                     (long long)x->opset);
  return IMS_OK;
}

/* Register every node output as pending (a name written twice fails),
 * then count readers. An input naming no value is an error. */
static ims_status register_outputs(ims__onnx *x) {
  for (uint32_t i = 0; i < x->node_count; i++) {
    const ims__onnx_node *n = &x->nodes[i];
    for (uint32_t k = 0; k < n->n_out; k++) {
      if (n->out[k][0] == '\0') continue;
      if (ims__onnx_add(x, n->out[k]) == NULL)
        return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                   "output '%s' is already defined",
                                   n->out[k]);
    }
  }
  for (uint32_t i = 0; i < x->node_count; i++) {
    const ims__onnx_node *n = &x->nodes[i];
    for (uint32_t k = 0; k < n->n_in; k++) {
      if (n->in[k][0] == '\0') continue;
      ims__onnx_value *v = ims__onnx_find(x, n->in[k]);
      if (v == NULL)
        return ims__onnx_node_fail(x, n, IMS_ERR_BAD_MODEL,
                                   "input '%s' is not defined anywhere",
                                   n->in[k]);
      v->uses++;
    }
  }
  return IMS_OK;
}

static ims_status check_inputs_ready(ims__onnx *x, const ims__onnx_node *n) {
  for (uint32_t k = 0; k < n->n_in; k++) {
    if (n->in[k][0] == '\0') continue;
    if (ims__onnx_find(x, n->in[k])->kind == IMS__OV_PENDING)
      return ims__onnx_node_fail(
          x, n, IMS_ERR_BAD_MODEL,
          "input '%s' is not produced by an earlier node (the graph is "
          "cyclic or not topologically sorted)", n->in[k]);
  }
  return IMS_OK;
}

static ims_status lower_all(ims__onnx *x) {
  for (uint32_t i = 0; i < x->node_count; i++) {
    const ims__onnx_node *n = &x->nodes[i];
    bool folded = false;
    if (n->domain[0] != '\0' && strcmp(n->domain, "ai.onnx") != 0)
      return ims__onnx_node_fail(x, n, IMS_ERR_UNSUPPORTED,
                                 "operator domain '%s' is not supported",
                                 n->domain);
    ims_status st = check_inputs_ready(x, n);
    if (st == IMS_OK) st = ims__onnx_fold(x, n, &folded);
    if (st == IMS_OK && !folded) st = ims__onnx_lower(x, n);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* TensorShapeProto.Dimension: dim_value, or -1 for dim_param/unset. */
static int64_t parse_dim(ims__onnx *x, ims__pb_msg msg) {
  ims__pb_field f;
  int64_t d = -1;
  while (ims__pb_next(&x->pb, &msg, &f))
    if (f.number == 1) d = ims__pb_int(&x->pb, &f, "dim_value");
  return d;
}

/* TypeProto.tensor_type: elem_type and shape. */
static void parse_tensor_type(ims__onnx *x, ims__pb_msg msg, int64_t *elem,
                              uint32_t *rank, int64_t *dims) {
  ims__pb_field f, g;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number == 1) *elem = ims__pb_int(&x->pb, &f, "elem_type");
    if (f.number != 2) continue;
    ims__pb_msg shape = ims__pb_sub(&x->pb, &f, "shape");
    while (ims__pb_next(&x->pb, &shape, &g)) {
      if (g.number != 1) continue;
      int64_t d = parse_dim(x, ims__pb_sub(&x->pb, &g, "dim"));
      if (*rank < IMS__ONNX_MAX_RANK) dims[*rank] = d;
      (*rank)++;
    }
  }
}

/* Find the graph input's ValueInfoProto and read its type. */
static ims_status input_type(ims__onnx *x, int64_t *elem, uint32_t *rank,
                             int64_t *dims) {
  ims__pb_msg msg = x->graph;
  ims__pb_field f, g;
  *elem = 0;
  *rank = 0;
  while (ims__pb_next(&x->pb, &msg, &f)) {
    if (f.number != 11) continue;
    ims__pb_msg vi = ims__pb_sub(&x->pb, &f, "input");
    const char *name = value_info_name(x, vi);
    if (name == NULL || strcmp(name, x->input_name) != 0) continue;
    while (ims__pb_next(&x->pb, &vi, &g)) {
      if (g.number != 2) continue;
      ims__pb_msg type = ims__pb_sub(&x->pb, &g, "type");
      ims__pb_field h;
      while (ims__pb_next(&x->pb, &type, &h))
        if (h.number == 1)
          parse_tensor_type(x, ims__pb_sub(&x->pb, &h, "tensor_type"), elem,
                            rank, dims);
    }
    break;
  }
  if (*rank > IMS__ONNX_MAX_RANK)
    return ims__fail(x->err, IMS_ERR_UNSUPPORTED, "input '%s' of rank %u",
                     x->input_name, *rank);
  return x->pb.status;
}

static ims_status load_graph(ims__onnx *x) {
  graph_counts c = {0, 0, 0, 0};
  count_fields(x, x->graph, 1, 5, &c.nodes, &c.inits);
  count_fields(x, x->graph, 11, 12, &c.inputs, &c.outputs);
  ims_status st = parse_nodes(x, &c);
  if (st == IMS_OK) st = make_table(x, &c);
  if (st == IMS_OK) st = parse_values(x);
  if (st != IMS_OK) return st;
  ims__onnx_value *in = ims__onnx_add(x, x->input_name);
  if (in == NULL) return x->pb.status;
  int64_t elem, dims[IMS__ONNX_MAX_RANK];
  uint32_t rank;
  st = input_type(x, &elem, &rank, dims);
  if (st == IMS_OK) st = register_outputs(x);
  if (st == IMS_OK) st = ims__onnx_bind_input(x, in, elem, rank, dims);
  if (st == IMS_OK) st = lower_all(x);
  if (st != IMS_OK) return st;
  return ims__onnx_bind_output(x, ims__onnx_find(x, x->output_name));
}

/* ims__model_format.load. `dir`: external data files are read from it;
 * NULL (loading from memory) refuses external data.
 * @retval IMS_ERR_BAD_MODEL    malformed; message names the node, tensor
 *                              or byte offset
 * @retval IMS_ERR_UNSUPPORTED  operator, type or attribute outside the set;
 *                              message names the node and its op type
 * @retval IMS_ERR_NOT_FOUND, IMS_ERR_IO  an external data file
 * @retval IMS_ERR_NO_MEMORY */
static ims_status onnx_load(ims_model *model, const char *dir,
                            ims_error *err) {
  ims__onnx x;
  memset(&x, 0, sizeof x);
  x.m = model;
  x.err = err;
  x.dir = dir;
  ims__pb_init(&x.pb, model->file, model->file_size, err);
  ims_status st = parse_model(&x);
  if (st == IMS_OK) st = load_graph(&x);
  if (st == IMS_OK && x.pb.status != IMS_OK) st = x.pb.status;
  free(x.nodes);
  free(x.values);
  free(x.hash);
  return st;
}

const ims__model_format ims__model_onnx = {
    .name = "onnx",
    .not_this = "an ONNX model (no protobuf ModelProto with a graph)",
    .sniff = onnx_sniff,
    .load = onnx_load,
};
