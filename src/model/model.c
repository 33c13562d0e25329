/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model.c - the ims_model object: loading (format detection, then the
 * format's backend), the model-owned arena, ims_model_get_info, and the
 * small graph helpers of graph.h.
 *
 * Format detection is by content: "TFL3" at bytes 4..7 is TFLite; a
 * protobuf message with a graph field (ModelProto field 7) is ONNX. The
 * file name is only used to find ONNX external data (its folder).
 *
 * Not here: parsing (tflite.c, onnx*.c), running (src/infer/).
 *
 * Memory: a model owns one copy of the file (malloc()ed, so 16-byte
 * aligned on the platforms we build for: constant tensors point into it
 * and XNNPACK reads them in place), its tensor and node arrays, and an
 * arena: a chain of blocks, each a 16-byte aligned header + payload, for
 * whatever else a loader needs (per-channel scales, realigned weights).
 *
 * Sections (keep this order):
 *   1. graph helpers (op names, element counts, type sizes)
 *   2. the arena
 *   3. load / destroy / get_info
 *
 * Threading: a loaded model is immutable; every function here is
 * thread-safe on distinct or read-only models.
 */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "model/graph_int.h"
#include "model/onnx_int.h"
#include "model/tflite_int.h"

/* ---- 1. graph helpers ------------------------------------------------- */

const char *ims__op_name(ims__op op) {
  switch (op) {
    case IMS__OP_CONV_2D: return "CONV_2D";
    case IMS__OP_DEPTHWISE_CONV_2D: return "DEPTHWISE_CONV_2D";
    case IMS__OP_ADD: return "ADD";
    case IMS__OP_AVERAGE_POOL_2D: return "AVERAGE_POOL_2D";
    case IMS__OP_MEAN: return "MEAN";
    case IMS__OP_FULLY_CONNECTED: return "FULLY_CONNECTED";
    case IMS__OP_RESHAPE: return "RESHAPE";
    case IMS__OP_SOFTMAX: return "SOFTMAX";
    case IMS__OP_QUANTIZE: return "QUANTIZE";
    case IMS__OP_DEQUANTIZE: return "DEQUANTIZE";
    case IMS__OP_PAD: return "PAD";
    case IMS__OP_MUL: return "MUL";
    case IMS__OP_SUB: return "SUB";
    case IMS__OP_DIV: return "DIV";
    case IMS__OP_SIGMOID: return "SIGMOID";
    case IMS__OP_HARD_SIGMOID: return "HARD_SIGMOID";
    case IMS__OP_HARD_SWISH: return "HARD_SWISH";
    case IMS__OP_CLAMP: return "CLAMP";
    case IMS__OP_MAX_POOL_2D: return "MAX_POOL_2D";
    case IMS__OP_CONCATENATE: return "CONCATENATE";
    case IMS__OP_COUNT: break;
  }
  return "UNKNOWN";
}

size_t ims__tensor_elements(const ims__tensor *t) {
  size_t n = 1;
  for (uint32_t d = 0; d < t->rank; d++) n *= t->shape[d];
  return n;
}

size_t ims__type_size(ims_tensor_type type) {
  switch (type) {
    case IMS_TENSOR_F32: return 4;
    case IMS_TENSOR_U8: return 1;
    case IMS_TENSOR_I8: return 1;
    case IMS_TENSOR_I32: return 4;
  }
  return 0;
}

/* ---- 2. the arena ----------------------------------------------------- */

typedef struct arena_block {
  alignas(16) struct arena_block *next; /* older block, or NULL */
} arena_block;

void *ims__model_alloc(ims_model *model, size_t size) {
  if (size > SIZE_MAX - sizeof(arena_block)) return NULL;
  arena_block *b = calloc(1, sizeof *b + size);
  if (b == NULL) return NULL;
  b->next = model->arena;
  model->arena = b;
  return b + 1;
}

static void arena_free(void *arena) {
  arena_block *b = arena;
  while (b != NULL) {
    arena_block *next = b->next;
    free(b);
    b = next;
  }
}

/* ---- 3. load / destroy / get_info ------------------------------------- */

void ims_model_destroy(ims_model *model) {
  if (model == NULL) return;
  arena_free(model->arena);
  free(model->tensors);
  free(model->nodes);
  free(model->file);
  free(model);
}

/* The parsed graph within the tensor and operator limits? */
static ims_status check_graph(const ims_model *m, const ims_limits *l,
                              ims_error *err) {
  if (m->tensor_count > l->max_tensors)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%s model has %u tensors, more than the limit of %u "
                     "(max_tensors)",
                     m->format, m->tensor_count, l->max_tensors);
  if (m->node_count > l->max_operators)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%s model has %u operators, more than the limit of %u "
                     "(max_operators)",
                     m->format, m->node_count, l->max_operators);
  return IMS_OK;
}

/* Take ownership of `file` (malloc()ed) and parse it; `dir` is the
 * file's folder (ONNX external data) or NULL. On failure frees
 * everything, `file` included. The graph limits are checked after the
 * parse: what a parse allocates is bounded by the file's size, which
 * max_model_bytes bounds. */
static ims_status load_owned(void *file, size_t size, const char *dir,
                             const ims_limits *limits, ims_model **model_out,
                             ims_error *err) {
  ims_status st;
  ims_model *m = calloc(1, sizeof *m);
  if (m == NULL) {
    free(file);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  m->file = file;
  m->file_size = size;
  if (size >= 8 && memcmp((const char *)file + 4, "TFL3", 4) == 0) {
    m->format = "tflite";
    st = ims__tflite_load(m, err);
  } else if (ims__onnx_sniff(file, size)) {
    m->format = "onnx";
    st = ims__onnx_load(m, dir, err);
  } else {
    st = ims__fail(err, IMS_ERR_BAD_MODEL,
                   "not a TFLite model (no TFL3 identifier) nor an ONNX "
                   "model (no protobuf ModelProto with a graph)");
  }
  if (st == IMS_OK) st = check_graph(m, limits, err);
  if (st != IMS_OK) goto fail;
  *model_out = m;
  return IMS_OK;
fail:
  ims_model_destroy(m);
  return st;
}

ims_status ims_model_load_file_limits(const char *path,
                                      const ims_limits *limits,
                                      ims_model **model_out, ims_error *err) {
  void *data = NULL;
  size_t size = 0;
  ims_limits l;
  if (path == NULL || model_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL path or model_out");
  ims_limits_resolve(limits, &l);
  size_t max = l.max_model_bytes > SIZE_MAX / 2 ? SIZE_MAX / 2
                                                : (size_t)l.max_model_bytes;
  ims_status st = ims__file_read(path, max, &data, &size, err);
  if (st == IMS_ERR_TOO_LARGE && err != NULL) {
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    ims__fail(err, st, "%.480s (max_model_bytes)", msg);
  }
  if (st != IMS_OK) return st;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + (slash == path)),
             path);
  st = load_owned(data, size, dir, &l, model_out, err);
  if (st != IMS_OK && err != NULL) {
    /* Prefix the path so CLI messages say which file. */
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    ims__fail(err, st, "%s: %s", path, msg);
  }
  return st;
}

ims_status ims_model_load_file(const char *path, ims_model **model_out,
                               ims_error *err) {
  return ims_model_load_file_limits(path, NULL, model_out, err);
}

ims_status ims_model_load_memory_limits(const void *data, size_t size,
                                        const ims_limits *limits,
                                        ims_model **model_out, ims_error *err) {
  ims_limits l;
  if ((data == NULL && size != 0) || model_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL data or model_out");
  ims_limits_resolve(limits, &l);
  if (size > l.max_model_bytes)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "model of %zu bytes, larger than the limit of %llu "
                     "bytes (max_model_bytes)",
                     size, (unsigned long long)l.max_model_bytes);
  void *copy = malloc(size > 0 ? size : 1);
  if (copy == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory (%zu bytes)",
                     size);
  if (size > 0) memcpy(copy, data, size);
  return load_owned(copy, size, NULL, &l, model_out, err);
}

ims_status ims_model_load_memory(const void *data, size_t size,
                                 ims_model **model_out, ims_error *err) {
  return ims_model_load_memory_limits(data, size, NULL, model_out, err);
}

void ims_model_get_info(const ims_model *model, ims_model_info *out) {
  const ims__tensor *in = &model->tensors[model->input];
  const ims__tensor *o = &model->tensors[model->output];
  memset(out, 0, sizeof *out);
  out->format = model->format;
  out->input_height = in->shape[1];
  out->input_width = in->shape[2];
  out->input_channels = in->shape[3];
  out->input_type = in->type;
  out->input_scale = in->scale;
  out->input_zero_point = in->zero_point;
  size_t batch = o->rank >= 2 ? o->shape[0] : 1;
  out->output_count = (uint32_t)(ims__tensor_elements(o) / batch);
  out->output_type = o->type;
  out->operator_count = model->node_count;
  out->output_logits = model->output_logits ? 1 : 0;
}
